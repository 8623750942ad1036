/*
 * xenha-simdom - one domain of the "sim" hypervisor.
 *
 * THIS IS A TEST DOUBLE for a Xen guest, used by the test suites and the
 * demo only.  A sim domain is a real process: it holds some memory, keeps
 * dirtying it at a set rate, and appends one timestamped record per tick to
 * its image file on the shared image directory.  Two incarnations of one
 * domain writing in overlapping time is a split-brain, which xenha-oracle
 * detects from the image files.  See docs/sim.md.
 *
 * Record (one write(2) per line, O_APPEND, always < 256 bytes so the append
 * is atomic with respect to other writers of the same file):
 *   inc=ID seq=N mono_ns=T wall_ns=T node=NODEID gen=G ev=start|tick|stop|shutdown
 *
 * Signals: SIGTERM (and SIGINT) = the host asks for a clean stop: write
 * ev=stop, exit 0.  SIGUSR1 = the guest shuts itself down: write
 * ev=shutdown, exit 0.  SIGKILL is a crash and writes nothing.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SIMDOM_NAME_MAX   64    /* = XH_NAME_MAX: domain names incl. NUL */
#define SIMDOM_INC_MAX    64    /* incarnation id incl. NUL */
#define SIMDOM_LINE_MAX   256   /* one record, incl. newline */
#define SIMDOM_HOLD_MAX   (1024u * 1024u)  /* MiB: sanity bound on --hold-mb */
#define SIMDOM_DIRTY_STEP_MS 10 /* dirty pages at least this often within a tick */

enum simdom_ev {
	SIMDOM_EV_START,
	SIMDOM_EV_TICK,
	SIMDOM_EV_STOP,
	SIMDOM_EV_SHUTDOWN,
	SIMDOM_EV_PAUSE,
	SIMDOM_EV_RESUME,
	SIMDOM_EV_MIGRATE_IN,
};

static const char *simdom_ev_str(enum simdom_ev ev)
{
	switch (ev) {
	case SIMDOM_EV_START: return "start";
	case SIMDOM_EV_TICK: return "tick";
	case SIMDOM_EV_STOP: return "stop";
	case SIMDOM_EV_SHUTDOWN: return "shutdown";
	case SIMDOM_EV_PAUSE: return "pause";
	case SIMDOM_EV_RESUME: return "resume";
	case SIMDOM_EV_MIGRATE_IN: return "migrate-in";
	}
	return "unknown";
}

struct simdom_opts {
	const char *name;
	const char *image;
	const char *incarnation;
	uint32_t hold_mb;
	uint32_t dirty_kib_s;
	uint32_t record_ms;
	int ready_fd;
	uint32_t node;
	uint64_t generation;
	const char *ctl;          /* control socket path, or NULL */
	int incoming_fd;          /* migration stream to receive from, or -1 */
	int progress_fd;          /* incoming: progress lines for the driver, or -1 */
	uint32_t incoming_timeout_ms;  /* incoming: longest silence of the stream */
};

/*
 * The guest's memory.  Every page holds a self-checking pattern: 16-byte
 * units (page number, stamp) repeated over the whole page, little-endian.
 * A dirtied page is rewritten with a new stamp (a counter over all pages)
 * and its bit set in `dirty`.  The pre-copy migration sends the pages whose
 * bit is set and clears the bits it sent; a receiver can check every page
 * on its own (all units equal, page number as announced), so a flipped or
 * misplaced byte is caught.
 */
struct simdom_mem {
	unsigned char *base;
	size_t page_size;
	size_t npages;
	uint64_t *dirty;          /* bitmap, npages bits */
	size_t ndirty;            /* bits set */
	size_t cursor;            /* next page to dirty */
	size_t stride;            /* odd step through the pages: spreads writes */
	uint64_t version;         /* stamp of the newest dirtied page */
	uint64_t budget_bytes;    /* bytes owed to the dirty rate, carried over */
	uint64_t budget_frac;     /* remainder, in bytes * 1e9 */
	uint64_t pages_dirtied;   /* total, for the exit log line */
};

/* Source side of a live migration; see "Live migration" below. */
enum mig_state {
	MIG_IDLE,
	MIG_PRECOPY,              /* rounds while the domain runs */
	MIG_WAIT_ACK,             /* round written, END_ROUND queued: until the
				   * target has read it all, still running */
	MIG_STOPCOPY,             /* paused: the last dirty pages, then STATE */
	MIG_WAIT_VERIFIED,
	MIG_WAIT_RUNNING,         /* COMMIT queued (sent once a byte of it left) */
};

#define MIG_HDR          16
#define MIG_CTL_MAX      512          /* payload bound of non-page frames */

struct mig {
	enum mig_state state;
	int fd;                   /* the stream, or -1 */
	int ctl;                  /* index of the ctl connection to report to, or -1 */
	uint32_t max_rounds;
	uint32_t downtime_ms;
	uint64_t start_ns, deadline_ns;
	uint32_t round;
	size_t cursor;            /* next page of this round */
	uint64_t bytes_sent;
	uint64_t round_bytes, round_start_ns, round_dirtied0;
	uint64_t tput;            /* bytes/s measured over the last round */
	uint64_t dirty_kib_s;     /* measured over the last round */
	uint64_t pause_ns;
	uint64_t final_pages;     /* dirty pages at the pause */
	uint64_t digest;          /* of all memory at the pause */
	unsigned char *out;
	size_t out_cap, out_len, out_off;
	size_t commit_start;      /* offset of COMMIT in out */
	bool commit_queued;
	bool commit_sent;         /* at least one byte of COMMIT left us */
	unsigned char in[MIG_HDR + MIG_CTL_MAX];
	size_t in_len;
};

#define SIMDOM_CTL_CONNS 4

struct simdom {
	struct simdom_opts o;
	struct simdom_mem mem;
	int image_fd;
	uint64_t seq;
	unsigned write_errors;
	int sigfd;
	int listen_fd;            /* control socket, or -1 */
	int ctl[SIMDOM_CTL_CONNS];
	bool paused;              /* no ticks, no dirtying */
	bool in_doubt;            /* paused after COMMIT without RUNNING */
	uint64_t next_rec, last_dirty;
	struct mig mig;
};

static const char *g_name = "?";  /* for log lines only */

static void simdom_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void simdom_log(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	n = snprintf(buf, sizeof(buf), "sim domain %s: ", g_name);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	/* one write per line so lines from several domains do not interleave */
	size_t len = strnlen(buf, sizeof(buf) - 2);
	buf[len++] = '\n';
	if (write(STDERR_FILENO, buf, len) < 0) {
		/* nowhere left to report it */
	}
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s == '\0' || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Incarnation ids end up in records; keep them a single printable token. */
static bool token_ok(const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	if (n == 0 || n >= max)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c >= 0x7f || c == '=')
			return false;
	}
	return true;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xenha-simdom --name NAME --image FILE --incarnation ID --hold-mb M\n"
		"                    --dirty-kib-s R --record-ms I [--ready-fd FD]\n"
		"                    [--node NODEID --generation G] [--ctl SOCKET]\n"
		"                    [--incoming FD [--progress-fd FD] [--incoming-timeout-ms T]]\n"
		"A sim domain: a test double for a Xen guest (tests and demo only).\n");
}

static int parse_opts(int argc, char **argv, struct simdom_opts *o)
{
	static const struct option longopts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "image", required_argument, NULL, 'i' },
		{ "incarnation", required_argument, NULL, 'I' },
		{ "hold-mb", required_argument, NULL, 'm' },
		{ "dirty-kib-s", required_argument, NULL, 'd' },
		{ "record-ms", required_argument, NULL, 'r' },
		{ "ready-fd", required_argument, NULL, 'f' },
		{ "node", required_argument, NULL, 'N' },
		{ "generation", required_argument, NULL, 'g' },
		{ "ctl", required_argument, NULL, 'c' },
		{ "incoming", required_argument, NULL, 'M' },
		{ "progress-fd", required_argument, NULL, 'P' },
		{ "incoming-timeout-ms", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool have_hold = false, have_dirty = false, have_record = false;
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	o->ready_fd = -1;
	o->incoming_fd = -1;
	o->progress_fd = -1;
	o->incoming_timeout_ms = 30000;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			o->name = optarg;
			break;
		case 'i':
			o->image = optarg;
			break;
		case 'I':
			o->incarnation = optarg;
			break;
		case 'm':
			if (parse_u64(optarg, SIMDOM_HOLD_MAX, &v) < 0)
				goto bad;
			o->hold_mb = (uint32_t)v;
			have_hold = true;
			break;
		case 'd':
			if (parse_u64(optarg, UINT32_MAX, &v) < 0)
				goto bad;
			o->dirty_kib_s = (uint32_t)v;
			have_dirty = true;
			break;
		case 'r':
			if (parse_u64(optarg, 3600000, &v) < 0 || v == 0)
				goto bad;
			o->record_ms = (uint32_t)v;
			have_record = true;
			break;
		case 'f':
			if (parse_u64(optarg, INT_MAX, &v) < 0)
				goto bad;
			o->ready_fd = (int)v;
			break;
		case 'N':
			if (parse_u64(optarg, UINT32_MAX, &v) < 0)
				goto bad;
			o->node = (uint32_t)v;
			break;
		case 'g':
			if (parse_u64(optarg, UINT64_MAX, &v) < 0)
				goto bad;
			o->generation = v;
			break;
		case 'c':
			o->ctl = optarg;
			break;
		case 'M':
			if (parse_u64(optarg, INT_MAX, &v) < 0)
				goto bad;
			o->incoming_fd = (int)v;
			break;
		case 'P':
			if (parse_u64(optarg, INT_MAX, &v) < 0)
				goto bad;
			o->progress_fd = (int)v;
			break;
		case 'T':
			if (parse_u64(optarg, 3600000, &v) < 0 || v == 0)
				goto bad;
			o->incoming_timeout_ms = (uint32_t)v;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc || o->name == NULL || o->image == NULL ||
	    o->incarnation == NULL || !have_hold || !have_dirty || !have_record) {
		usage(stderr);
		return -EINVAL;
	}
	if (!token_ok(o->name, SIMDOM_NAME_MAX)) {
		fprintf(stderr, "xenha-simdom: bad --name (1..%d printable bytes, no spaces)\n",
			SIMDOM_NAME_MAX - 1);
		return -EINVAL;
	}
	if (!token_ok(o->incarnation, SIMDOM_INC_MAX)) {
		fprintf(stderr, "xenha-simdom: bad --incarnation (1..%d printable bytes, no spaces or '=')\n",
			SIMDOM_INC_MAX - 1);
		return -EINVAL;
	}
	return 0;
bad:
	fprintf(stderr, "xenha-simdom: bad number '%s' (expected a decimal in range)\n",
		optarg);
	return -EINVAL;
}

/* ---- little-endian fields and checks ---- */

static void put_le32(unsigned char *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = (unsigned char)(v >> (8 * i));
}

static void put_le64(unsigned char *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_le32(const unsigned char *b)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | b[i];
	return v;
}

static uint64_t get_le64(const unsigned char *b)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | b[i];
	return v;
}

static uint32_t fnv32(uint32_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	x ^= x >> 31;
	return x;
}

/* ---- memory ---- */

#define UNIT 16   /* (page number, stamp) */

static void page_fill(unsigned char *pg, size_t ps, uint64_t p, uint64_t stamp)
{
	unsigned char u[UNIT];

	put_le64(u, p);
	put_le64(u + 8, stamp);
	for (size_t i = 0; i < ps; i += UNIT)
		memcpy(pg + i, u, UNIT);
}

/* Page content is the pattern of page `p`: every unit (p, stamp). */
static bool page_check(const unsigned char *pg, size_t ps, uint64_t p, uint64_t *stamp)
{
	if (get_le64(pg) != p)
		return false;
	for (size_t i = UNIT; i < ps; i += UNIT)
		if (memcmp(pg + i, pg, UNIT) != 0)
			return false;
	*stamp = get_le64(pg + 8);
	return true;
}

/* Digest of all memory: order-independent sum over the pages of a hash of
 * the (number, stamp) read from each page.  Callers check every page's full
 * pattern separately (the receiver on arrival). */
static uint64_t mem_digest(const struct simdom_mem *m)
{
	uint64_t sum = 0;

	for (size_t p = 0; p < m->npages; p++) {
		const unsigned char *pg = m->base + p * m->page_size;
		sum += mix64(get_le64(pg) * UINT64_C(0x9e3779b97f4a7c15) ^ mix64(get_le64(pg + 8)));
	}
	return sum;
}

static size_t gcd(size_t a, size_t b)
{
	while (b != 0) {
		size_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* Allocate npages pages of page_size; fill them with stamp 0 if `fill`
 * (an incoming domain receives its content instead). */
static int mem_alloc(struct simdom_mem *m, size_t page_size, size_t npages, bool fill)
{
	memset(m, 0, sizeof(*m));
	m->page_size = page_size;
	m->npages = npages;
	if (m->npages == 0)
		return 0;
	m->base = malloc(m->npages * m->page_size);
	m->dirty = calloc((m->npages + 63) / 64, sizeof(uint64_t));
	if (m->base == NULL || m->dirty == NULL) {
		free(m->base);
		free(m->dirty);
		m->base = NULL;
		m->dirty = NULL;
		return -ENOMEM;
	}
	/* Writing every page makes the whole hold resident. */
	if (fill)
		for (size_t p = 0; p < m->npages; p++)
			page_fill(m->base + p * m->page_size, m->page_size, p, 0);
	/* A stride co-prime with npages visits every page before repeating,
	 * but not sequentially, like a real working set. */
	m->stride = m->npages > 2 ? m->npages / 3 : 1;
	while (gcd(m->stride, m->npages) != 1)
		m->stride++;  /* ends at npages - 1 at the latest */
	return 0;
}

static int mem_init(struct simdom_mem *m, uint32_t hold_mb)
{
	long ps = sysconf(_SC_PAGESIZE);
	size_t page_size = ps > 0 && ps % UNIT == 0 ? (size_t)ps : 4096;

	return mem_alloc(m, page_size, ((size_t)hold_mb << 20) / page_size, true);
}

static void mem_free(struct simdom_mem *m)
{
	free(m->base);
	free(m->dirty);
	m->base = NULL;
	m->dirty = NULL;
}

static bool bit_test(const uint64_t *bm, size_t p)
{
	return (bm[p / 64] >> (p % 64)) & 1u;
}

static void mem_set_dirty(struct simdom_mem *m, size_t p)
{
	uint64_t bit = UINT64_C(1) << (p % 64);

	if (!(m->dirty[p / 64] & bit)) {
		m->dirty[p / 64] |= bit;
		m->ndirty++;
	}
}

static void mem_clear_dirty(struct simdom_mem *m, size_t p)
{
	uint64_t bit = UINT64_C(1) << (p % 64);

	if (m->dirty[p / 64] & bit) {
		m->dirty[p / 64] &= ~bit;
		m->ndirty--;
	}
}

static void mem_dirty_page(struct simdom_mem *m, size_t p)
{
	m->version++;
	page_fill(m->base + p * m->page_size, m->page_size, p, m->version);
	mem_set_dirty(m, p);
	m->pages_dirtied++;
}

/* Dirty the pages owed for `elapsed_ns` at `kib_s` KiB/s.  The fractional
 * remainder is carried so the long-run rate is exact. */
static void mem_dirty(struct simdom_mem *m, uint32_t kib_s, uint64_t elapsed_ns)
{
	if (m->npages == 0 || kib_s == 0)
		return;
	/* bytes * 1e9 owed; elapsed_ns is bounded by the loop (<= 1 h) */
	unsigned __int128 owed = (unsigned __int128)kib_s * 1024u * elapsed_ns + m->budget_frac;
	m->budget_bytes += (uint64_t)(owed / 1000000000u);
	m->budget_frac = (uint64_t)(owed % 1000000000u);
	/* never more than every page in one step: the rest is forgiven */
	size_t n = 0;
	while (m->budget_bytes >= m->page_size && n < m->npages) {
		mem_dirty_page(m, m->cursor);
		m->cursor = (m->cursor + m->stride) % m->npages;
		m->budget_bytes -= m->page_size;
		n++;
	}
	if (m->budget_bytes >= m->page_size)
		m->budget_bytes %= m->page_size;
}

/* ---- records ---- */

/* Append one record; *mono_out (if not NULL) gets its mono_ns.  `from` is
 * the previous incarnation of an ev=migrate-in record, else NULL. */
static int put_record(struct simdom *d, enum simdom_ev ev, const char *from, uint64_t *mono_out)
{
	char line[SIMDOM_LINE_MAX];
	uint64_t mono = clock_ns(CLOCK_MONOTONIC);
	int n;
	ssize_t w;

	if (mono_out != NULL)
		*mono_out = mono;
	n = snprintf(line, sizeof(line),
		     "inc=%s seq=%" PRIu64 " mono_ns=%" PRIu64 " wall_ns=%" PRIu64
		     " node=%" PRIu32 " gen=%" PRIu64 " ev=%s%s%s\n",
		     d->o.incarnation, d->seq, mono,
		     clock_ns(CLOCK_REALTIME), d->o.node, d->o.generation,
		     simdom_ev_str(ev), from ? " from=" : "", from ? from : "");
	if (n < 0 || (size_t)n >= sizeof(line))
		return -EOVERFLOW;  /* checked before: fields are bounded */
	d->seq++;
	/* One write per line: with O_APPEND the kernel places it atomically at
	 * the end, so records of concurrent writers never interleave. */
	do {
		w = write(d->image_fd, line, (size_t)n);
	} while (w < 0 && errno == EINTR);
	if (w == n)
		return 0;
	/* A real guest with broken storage would stall or error; we log (rate
	 * limited) and carry on writing. */
	if (d->write_errors++ < 5 || d->write_errors % 1000 == 0)
		simdom_log("image write failed image=%s err=%s written=%zd of=%d count=%u",
			   d->o.image, w < 0 ? strerror(errno) : "short write", w, n,
			   d->write_errors);
	return w < 0 ? -errno : -EIO;
}

/* The longest record is ev=migrate-in with both incarnation ids: bound
 * them so it fits in SIMDOM_LINE_MAX with every number at its widest. */
#define SIMDOM_RECORD_FIXED 149
static bool record_fits(const char *inc, const char *from)
{
	return strlen(inc) + strlen(from) + SIMDOM_RECORD_FIXED < SIMDOM_LINE_MAX;
}

static void signal_ready(int *fd)
{
	const char b = 'r';
	ssize_t w;

	if (*fd < 0)
		return;
	do {
		w = write(*fd, &b, 1);
	} while (w < 0 && errno == EINTR);
	if (w != 1)
		simdom_log("ready byte not delivered fd=%d err=%s", *fd,
			   w < 0 ? strerror(errno) : "short write");
	close(*fd);
	*fd = -1;
}

static struct timespec ns_to_ts(uint64_t ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(ns / 1000000000u),
		.tv_nsec = (long)(ns % 1000000000u),
	};
	return ts;
}

/* ---- Live migration: the stream (see docs/sim.md, "Live migration") ----
 *
 * Frames, both directions: a 16-byte header then `len` payload bytes.
 *   0..3  magic "XSM1"     4  type     5..7  zero
 *   8..11 len (LE)         12..15 check: FNV-1a 32 over header bytes 4..11
 *         and the payload (a PAGE frame: only its first 24 payload bytes,
 *         because the page checks itself)
 * Source -> target: HELLO, then per round ROUND + PAGE... + END_ROUND, after
 * the pause the last ROUND + PAGE... and STATE; after VERIFIED, COMMIT.
 * Target -> source: ROUND_ACK (on reading END_ROUND), VERIFIED (after
 * checking every page and the digest), RUNNING (after COMMIT, once its first
 * record is written), or REFUSE.
 *
 * The source decides whether to pause only on ROUND_ACK: until then the
 * round's pages may still sit in socket buffers and relays along the way
 * (megabytes over TLS), and a pause before they drain would add their
 * transfer time to the downtime the prediction promised.
 */
enum mig_type {
	MT_HELLO = 1,     /* u32 version, u32 page_size, u64 npages, u8 n + name, u8 n + inc */
	MT_ROUND = 2,     /* u32 round, u64 pages queued in it */
	MT_PAGE = 3,      /* u64 page number, page_size bytes */
	MT_STATE = 4,     /* u64 seq, u64 version, u64 npages, u64 digest, u64 pause mono_ns */
	MT_COMMIT = 5,    /* u64 digest */
	MT_END_ROUND = 6, /* u32 round: its pages are all sent */
	MT_VERIFIED = 16, /* u64 digest */
	MT_RUNNING = 17,  /* u64 first record mono_ns, u8 n + new inc */
	MT_REFUSE = 18,   /* text */
	MT_ROUND_ACK = 19, /* u32 round: END_ROUND read, so all its pages */
};

#define MIG_VERSION        2
#define MIG_BATCH_PAGES    64       /* pages queued per refill */
#define MIG_PUMP_BYTES     (4u << 20) /* per loop turn, so ticks stay on time */
#define MIG_DEF_ROUNDS     30
#define MIG_DEF_DOWNTIME   100
#define MIG_DEF_TIMEOUT    600000u

static bool mig_type_known(unsigned t)
{
	return (t >= MT_HELLO && t <= MT_END_ROUND) || (t >= MT_VERIFIED && t <= MT_ROUND_ACK);
}

static uint32_t frame_sum(const unsigned char *hdr, const unsigned char *payload, size_t len)
{
	uint32_t h = fnv32(2166136261u, hdr + 4, 8);
	unsigned type = hdr[4];

	return fnv32(h, payload, type == MT_PAGE && len > 24 ? 24 : len);
}

/* Header for `len` payload bytes already in place after it. */
static void frame_seal(unsigned char *hdr, unsigned type, size_t len)
{
	memcpy(hdr, "XSM1", 4);
	hdr[4] = (unsigned char)type;
	hdr[5] = hdr[6] = hdr[7] = 0;
	put_le32(hdr + 8, (uint32_t)len);
	put_le32(hdr + 12, frame_sum(hdr, hdr + MIG_HDR, len));
}

/* Header check: 0 and type/len, or -EBADMSG.  page_size bounds PAGE frames. */
static int frame_open(const unsigned char *hdr, size_t page_size, unsigned *type, uint32_t *len)
{
	if (memcmp(hdr, "XSM1", 4) != 0 || hdr[5] || hdr[6] || hdr[7] || !mig_type_known(hdr[4]))
		return -EBADMSG;
	*type = hdr[4];
	*len = get_le32(hdr + 8);
	if (*type == MT_PAGE ? *len != 8 + page_size : *len > MIG_CTL_MAX)
		return -EBADMSG;
	return 0;
}

static bool frame_sum_ok(const unsigned char *hdr, const unsigned char *payload, size_t len)
{
	return get_le32(hdr + 12) == frame_sum(hdr, payload, len);
}

/* ---- control socket ---- */

static int ctl_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* a stale socket of an earlier process of this domain on this host:
	 * the driver never runs two of one name in one run_dir */
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

static void ctl_close(struct simdom *d, int i)
{
	if (d->ctl[i] >= 0)
		close(d->ctl[i]);
	d->ctl[i] = -1;
	if (d->mig.ctl == i)
		d->mig.ctl = -1;
}

static void ctl_say(struct simdom *d, int i, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void ctl_say(struct simdom *d, int i, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	if (i < 0 || d->ctl[i] < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return;
	/* the driver reads promptly; a full socket means it is gone or stuck:
	 * the domain never waits for it */
	if (send(d->ctl[i], buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n)
		ctl_close(d, i);
}

static void ctl_accept(struct simdom *d)
{
	int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	for (int i = 0; i < SIMDOM_CTL_CONNS; i++) {
		if (d->ctl[i] < 0) {
			d->ctl[i] = fd;
			return;
		}
	}
	close(fd);  /* too many: the driver retries */
}

/* ---- source side ---- */

static void mig_progress(struct simdom *d, bool final, uint64_t downtime_ms)
{
	struct mig *g = &d->mig;
	char extra[48] = "";

	if (final)
		snprintf(extra, sizeof(extra), " downtime_ms=%" PRIu64, downtime_ms);
	ctl_say(d, g->ctl, "%s round=%" PRIu32 " bytes=%" PRIu64 " total=%zu left=%zu dirty_kib_s=%" PRIu64 "%s",
		final ? "final" : "progress", g->round, g->bytes_sent, d->mem.npages,
		final ? (size_t)0 : d->mem.ndirty, g->dirty_kib_s, extra);
}

static int mig_reserve(struct mig *g, size_t more)
{
	if (g->out_len + more <= g->out_cap)
		return 0;
	size_t cap = g->out_cap ? g->out_cap : 65536;
	while (cap < g->out_len + more)
		cap *= 2;
	unsigned char *p = realloc(g->out, cap);
	if (p == NULL)
		return -ENOMEM;
	g->out = p;
	g->out_cap = cap;
	return 0;
}

/* Queue a frame; payload written by the caller into the returned space
 * before frame_seal. */
static unsigned char *mig_queue(struct mig *g, size_t len)
{
	if (mig_reserve(g, MIG_HDR + len) < 0)
		return NULL;
	unsigned char *hdr = g->out + g->out_len;
	g->out_len += MIG_HDR + len;
	return hdr;
}

static int mig_queue_ctl(struct mig *g, unsigned type, const unsigned char *payload, size_t len)
{
	unsigned char *hdr = mig_queue(g, len);

	if (hdr == NULL)
		return -ENOMEM;
	memcpy(hdr + MIG_HDR, payload, len);
	frame_seal(hdr, type, len);
	return 0;
}

static int mig_round_start(struct simdom *d, uint64_t now)
{
	struct mig *g = &d->mig;
	unsigned char b[12];

	g->round++;
	g->cursor = 0;
	g->round_start_ns = now;
	g->round_bytes = 0;
	g->round_dirtied0 = d->mem.pages_dirtied;
	put_le32(b, g->round);
	put_le64(b + 4, d->mem.ndirty);
	return mig_queue_ctl(g, MT_ROUND, b, sizeof(b));
}

/* Queue up to MIG_BATCH_PAGES dirty pages from the round's cursor, clearing
 * their bits: a page dirtied again after this is sent in a later round. */
static int mig_queue_pages(struct simdom *d)
{
	struct mig *g = &d->mig;
	struct simdom_mem *m = &d->mem;
	int n = 0;

	while (g->cursor < m->npages && n < MIG_BATCH_PAGES) {
		size_t p = g->cursor++;
		if (!bit_test(m->dirty, p))
			continue;
		unsigned char *hdr = mig_queue(g, 8 + m->page_size);
		if (hdr == NULL)
			return -ENOMEM;
		put_le64(hdr + MIG_HDR, p);
		memcpy(hdr + MIG_HDR + 8, m->base + p * m->page_size, m->page_size);
		frame_seal(hdr, MT_PAGE, 8 + m->page_size);
		mem_clear_dirty(m, p);
		n++;
	}
	return 0;
}

static void mig_release(struct simdom *d)
{
	struct mig *g = &d->mig;
	int ctl = g->ctl;

	if (g->fd >= 0)
		close(g->fd);
	free(g->out);
	memset(g, 0, sizeof(*g));
	g->fd = -1;
	g->ctl = ctl;
}

static void resume_running(struct simdom *d, uint64_t now)
{
	d->paused = false;
	d->in_doubt = false;
	d->last_dirty = now;
	d->next_rec = now + (uint64_t)d->o.record_ms * 1000000u;
}

/*
 * The migration failed.  Before any byte of COMMIT left us the target cannot
 * run the domain (it acts on a whole, checked COMMIT only): resume here.
 * After that, it may run there: stay paused and let the host decide.
 */
static void mig_fail(struct simdom *d, const char *why)
{
	struct mig *g = &d->mig;
	int ctl = g->ctl;
	uint64_t now;

	if (g->commit_sent) {
		d->in_doubt = true;
		simdom_log("migration in doubt inc=%s round=%" PRIu32 " reason=%s: paused, the host decides",
			   d->o.incarnation, g->round, why);
		mig_release(d);
		ctl_say(d, ctl, "outcome in-doubt reason=%s", why);
		d->mig.ctl = -1;
		return;
	}
	bool was_paused = d->paused;
	mig_release(d);
	now = clock_ns(CLOCK_MONOTONIC);
	if (was_paused) {
		put_record(d, SIMDOM_EV_RESUME, NULL, NULL);
		resume_running(d, now);
	}
	simdom_log("migration aborted inc=%s reason=%s%s", d->o.incarnation, why,
		   was_paused ? ", resumed" : ", still running");
	ctl_say(d, ctl, "outcome aborted reason=%s", why);
	d->mig.ctl = -1;
}

static void mig_begin(struct simdom *d, int ci, int fd, uint32_t rounds, uint32_t downtime,
		      uint32_t timeout)
{
	struct mig *g = &d->mig;
	unsigned char b[8 + 8 + 2 + 2 * SIMDOM_INC_MAX];
	size_t nl = strlen(d->o.name), il = strlen(d->o.incarnation);
	uint64_t now = clock_ns(CLOCK_MONOTONIC);

	mig_release(d);
	g->fd = fd;
	g->ctl = ci;
	g->max_rounds = rounds ? rounds : MIG_DEF_ROUNDS;
	g->downtime_ms = downtime ? downtime : MIG_DEF_DOWNTIME;
	g->start_ns = now;
	g->deadline_ns = now + (uint64_t)(timeout ? timeout : MIG_DEF_TIMEOUT) * 1000000u;
	g->state = MIG_PRECOPY;
	put_le32(b, MIG_VERSION);
	put_le32(b + 4, (uint32_t)d->mem.page_size);
	put_le64(b + 8, d->mem.npages);
	b[16] = (unsigned char)nl;
	memcpy(b + 17, d->o.name, nl);
	b[17 + nl] = (unsigned char)il;
	memcpy(b + 18 + nl, d->o.incarnation, il);
	/* round 1 sends every page */
	for (size_t p = 0; p < d->mem.npages; p++)
		mem_set_dirty(&d->mem, p);
	simdom_log("migration started inc=%s pages=%zu max_rounds=%" PRIu32 " downtime_ms=%" PRIu32,
		   d->o.incarnation, d->mem.npages, g->max_rounds, g->downtime_ms);
	if (mig_queue_ctl(g, MT_HELLO, b, 18 + nl + il) < 0 || mig_round_start(d, now) < 0)
		mig_fail(d, "out-of-memory");
}

/* Round over (the target has read all its pages): pause, or another round.
 * The throughput is measured end to end, from the round's start to the
 * target's acknowledgement. */
static int mig_round_end(struct simdom *d, uint64_t now)
{
	struct mig *g = &d->mig;
	uint64_t el = now > g->round_start_ns ? now - g->round_start_ns : 1;
	uint64_t left_bytes = (uint64_t)d->mem.ndirty * (MIG_HDR + 8 + d->mem.page_size);
	uint64_t predicted_ms;

	g->tput = (uint64_t)((unsigned __int128)g->round_bytes * 1000000000u / el);
	g->dirty_kib_s = (uint64_t)((unsigned __int128)(d->mem.pages_dirtied - g->round_dirtied0) *
				    d->mem.page_size * 1000000000u / el / 1024u);
	predicted_ms = g->tput ? (uint64_t)((unsigned __int128)left_bytes * 1000u / g->tput) : UINT64_MAX;
	mig_progress(d, false, 0);
	if (predicted_ms > g->downtime_ms && g->round < g->max_rounds) {
		g->state = MIG_PRECOPY;
		return mig_round_start(d, now);
	}
	/* stop and copy */
	put_record(d, SIMDOM_EV_PAUSE, NULL, &g->pause_ns);
	d->paused = true;
	g->final_pages = d->mem.ndirty;
	g->digest = mem_digest(&d->mem);
	g->state = MIG_STOPCOPY;
	simdom_log("migration paused inc=%s round=%" PRIu32 " pages_left=%zu predicted_ms=%" PRIu64,
		   d->o.incarnation, g->round, d->mem.ndirty, predicted_ms);
	return mig_round_start(d, now);
}

static int mig_queue_state(struct simdom *d)
{
	struct mig *g = &d->mig;
	unsigned char b[40];

	put_le64(b, d->seq);
	put_le64(b + 8, d->mem.version);
	put_le64(b + 16, d->mem.npages);
	put_le64(b + 24, g->digest);
	put_le64(b + 32, g->pause_ns);
	return mig_queue_ctl(g, MT_STATE, b, sizeof(b));
}

static void mig_done(struct simdom *d, const unsigned char *p, size_t len)
{
	struct mig *g = &d->mig;
	char inc[SIMDOM_INC_MAX] = "?";
	uint64_t first = len >= 8 ? get_le64(p) : 0;
	uint64_t down = first > g->pause_ns ? (first - g->pause_ns) / 1000000u : 0;

	if (len >= 9 && p[8] < sizeof(inc) && (size_t)9 + p[8] <= len) {
		memcpy(inc, p + 9, p[8]);
		inc[p[8]] = '\0';
	}
	simdom_log("migrated away inc=%s to=%s rounds=%" PRIu32 " bytes=%" PRIu64 " downtime_ms=%" PRIu64,
		   d->o.incarnation, inc, g->round, g->bytes_sent, down);
	mig_progress(d, true, down);
	ctl_say(d, g->ctl, "outcome done to=%s", inc);
	/* the domain runs there now: this copy ends, writing nothing more */
	if (d->o.ctl != NULL)
		unlink(d->o.ctl);
	for (int i = 0; i < SIMDOM_CTL_CONNS; i++)
		ctl_close(d, i);
	mig_release(d);
	mem_free(&d->mem);
	exit(0);
}

/* One frame from the target. */
static void mig_frame(struct simdom *d, unsigned type, const unsigned char *p, size_t len)
{
	struct mig *g = &d->mig;

	switch (type) {
	case MT_ROUND_ACK:
		if (g->state != MIG_WAIT_ACK || len != 4 || get_le32(p) != g->round) {
			mig_fail(d, "unexpected-ack");
			return;
		}
		if (mig_round_end(d, clock_ns(CLOCK_MONOTONIC)) < 0)
			mig_fail(d, "out-of-memory");
		return;
	case MT_VERIFIED:
		if (g->state != MIG_WAIT_VERIFIED || len != 8 || get_le64(p) != g->digest) {
			mig_fail(d, "bad-verified");
			return;
		}
		unsigned char b[8];
		put_le64(b, g->digest);
		g->commit_start = g->out_len;
		if (mig_queue_ctl(g, MT_COMMIT, b, sizeof(b)) < 0) {
			mig_fail(d, "out-of-memory");
			return;
		}
		g->commit_queued = true;
		g->state = MIG_WAIT_RUNNING;
		return;
	case MT_RUNNING:
		if (g->state != MIG_WAIT_RUNNING || !g->commit_sent) {
			mig_fail(d, "unexpected-running");
			return;
		}
		mig_done(d, p, len);
		return;
	case MT_REFUSE: {
		char why[64];
		size_t n = len < sizeof(why) - 1 ? len : sizeof(why) - 1;
		memcpy(why, p, n);
		why[n] = '\0';
		for (size_t i = 0; i < n; i++)
			if (why[i] <= ' ' || why[i] >= 0x7f)
				why[i] = '_';
		simdom_log("migration refused by target inc=%s reason=%s", d->o.incarnation, why);
		mig_fail(d, "target-refused");
		return;
	}
	default:
		mig_fail(d, "unexpected-frame");
	}
}

static void mig_read(struct simdom *d)
{
	struct mig *g = &d->mig;

	while (g->state != MIG_IDLE) {
		ssize_t r = recv(g->fd, g->in + g->in_len, sizeof(g->in) - g->in_len, MSG_DONTWAIT);
		if (r == 0) {
			mig_fail(d, "stream-closed");
			return;
		}
		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			mig_fail(d, "stream-error");
			return;
		}
		g->in_len += (size_t)r;
		for (;;) {
			unsigned type;
			uint32_t len;
			if (g->in_len < MIG_HDR)
				break;
			if (frame_open(g->in, d->mem.page_size, &type, &len) < 0 || type == MT_PAGE) {
				mig_fail(d, "bad-frame");
				return;
			}
			if (g->in_len < MIG_HDR + len)
				break;
			if (!frame_sum_ok(g->in, g->in + MIG_HDR, len)) {
				mig_fail(d, "bad-frame");
				return;
			}
			unsigned char frame[MIG_CTL_MAX];
			memcpy(frame, g->in + MIG_HDR, len);
			g->in_len -= MIG_HDR + len;
			memmove(g->in, g->in + MIG_HDR + len, g->in_len);
			mig_frame(d, type, frame, len);
			if (g->state == MIG_IDLE)
				return;
		}
	}
}

/* Write what is queued and queue more, up to MIG_PUMP_BYTES per turn. */
static void mig_write(struct simdom *d, uint64_t now)
{
	struct mig *g = &d->mig;
	size_t budget = MIG_PUMP_BYTES;

	while (g->state != MIG_IDLE && budget > 0) {
		if (g->out_off < g->out_len) {
			ssize_t w = send(g->fd, g->out + g->out_off, g->out_len - g->out_off,
					 MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
					return;
				mig_fail(d, "stream-error");
				return;
			}
			g->out_off += (size_t)w;
			g->bytes_sent += (uint64_t)w;
			g->round_bytes += (uint64_t)w;
			budget = (size_t)w >= budget ? 0 : budget - (size_t)w;
			if (g->commit_queued && g->out_off > g->commit_start)
				g->commit_sent = true;
			continue;
		}
		g->out_off = g->out_len = 0;
		g->commit_start = 0;
		int rc = 0;
		if (g->state == MIG_PRECOPY || g->state == MIG_STOPCOPY) {
			if (g->cursor < d->mem.npages)
				rc = mig_queue_pages(d);
			else if (g->state == MIG_PRECOPY) {
				unsigned char b[4];
				put_le32(b, g->round);
				rc = mig_queue_ctl(g, MT_END_ROUND, b, sizeof(b));
				g->state = MIG_WAIT_ACK;
			} else {
				rc = mig_queue_state(d);
				g->state = MIG_WAIT_VERIFIED;
			}
		} else {
			return;  /* waiting for the target */
		}
		if (rc < 0) {
			mig_fail(d, "out-of-memory");
			return;
		}
	}
	(void)now;
}

static void mig_check_deadline(struct simdom *d, uint64_t now)
{
	if (d->mig.state != MIG_IDLE && now >= d->mig.deadline_ns)
		mig_fail(d, "timeout");
}

/* ---- control commands ---- */

/* One command from connection i: "migrate ..." with the stream fd
 * (SCM_RIGHTS), "resume", or "status". */
static void ctl_command(struct simdom *d, int i)
{
	char buf[256];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf.b, .msg_controllen = sizeof(cbuf.b),
	};
	int fd = -1;
	ssize_t n = recvmsg(d->ctl[i], &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		ctl_close(d, i);
		return;
	}
	buf[n] = '\0';
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)) && fd < 0)
			memcpy(&fd, CMSG_DATA(c), sizeof(int));
	}
	if (strncmp(buf, "migrate ", 8) == 0) {
		unsigned rounds = 0, down = 0, tmo = 0;
		if (sscanf(buf, "migrate max_rounds=%u downtime_ms=%u timeout_ms=%u",
			   &rounds, &down, &tmo) != 3 || fd < 0) {
			ctl_say(d, i, "outcome aborted reason=bad-request");
		} else if (d->mig.state != MIG_IDLE || d->paused) {
			ctl_say(d, i, "outcome aborted reason=%s",
				d->paused ? "domain-paused" : "migration-running");
		} else {
			mig_begin(d, i, fd, rounds, down, tmo);
			return;
		}
	} else if (strcmp(buf, "resume") == 0) {
		if (d->paused && d->in_doubt && d->mig.state == MIG_IDLE) {
			put_record(d, SIMDOM_EV_RESUME, NULL, NULL);
			resume_running(d, clock_ns(CLOCK_MONOTONIC));
			simdom_log("resumed by host inc=%s", d->o.incarnation);
			ctl_say(d, i, "ok resumed");
		} else {
			ctl_say(d, i, "error not-in-doubt");
		}
	} else if (strcmp(buf, "status") == 0) {
		ctl_say(d, i, "status paused=%d in_doubt=%d migrating=%d inc=%s",
			d->paused, d->in_doubt, d->mig.state != MIG_IDLE, d->o.incarnation);
	} else {
		ctl_say(d, i, "error unknown-command");
	}
	if (fd >= 0)
		close(fd);
}

/* ---- the main loop ---- */

enum run_end { RUN_ON, RUN_STOP, RUN_SHUTDOWN, RUN_QUIET };

/* A signal: what it means depends on whether the domain is paused and
 * whether COMMIT may have reached a target. */
static enum run_end on_signal(struct simdom *d, int sig)
{
	bool committed = d->in_doubt || d->mig.commit_sent;

	if (sig == SIGUSR1 && d->paused) {
		simdom_log("guest shutdown ignored: domain paused inc=%s", d->o.incarnation);
		return RUN_ON;
	}
	if (committed) {
		/* it may run on the target: end without a record */
		simdom_log("stopped while paused after commit inc=%s: no record written",
			   d->o.incarnation);
		return RUN_QUIET;
	}
	if (d->mig.state != MIG_IDLE)
		mig_fail(d, sig == SIGUSR1 ? "guest-shutdown" : "stopped-by-host");
	return sig == SIGUSR1 ? RUN_SHUTDOWN : RUN_STOP;
}

static int run(struct simdom *d)
{
	const uint64_t rec_ns = (uint64_t)d->o.record_ms * 1000000u;
	uint64_t step_ns = (uint64_t)SIMDOM_DIRTY_STEP_MS * 1000000u;
	enum run_end end = RUN_ON;
	uint64_t now;

	/* no memory to dirty: wake only for records */
	if (step_ns > rec_ns || d->mem.npages == 0 || d->o.dirty_kib_s == 0)
		step_ns = rec_ns;
	now = clock_ns(CLOCK_MONOTONIC);
	d->last_dirty = now;
	d->next_rec = now + rec_ns;

	while (end == RUN_ON) {
		struct pollfd pf[3 + SIMDOM_CTL_CONNS];
		int np = 0, ipl = -1, ims = -1, ic[SIMDOM_CTL_CONNS];
		uint64_t deadline = UINT64_MAX;

		pf[np++] = (struct pollfd){ .fd = d->sigfd, .events = POLLIN };
		if (d->listen_fd >= 0) {
			ipl = np;
			pf[np++] = (struct pollfd){ .fd = d->listen_fd, .events = POLLIN };
		}
		for (int i = 0; i < SIMDOM_CTL_CONNS; i++) {
			ic[i] = -1;
			if (d->ctl[i] >= 0) {
				ic[i] = np;
				pf[np++] = (struct pollfd){ .fd = d->ctl[i], .events = POLLIN };
			}
		}
		if (d->mig.state != MIG_IDLE) {
			ims = np;
			pf[np++] = (struct pollfd){
				.fd = d->mig.fd,
				.events = POLLIN | (d->mig.out_off < d->mig.out_len ||
						   d->mig.state == MIG_PRECOPY ||
						   d->mig.state == MIG_STOPCOPY ? POLLOUT : 0),
			};
			deadline = d->mig.deadline_ns;
		}
		if (!d->paused) {
			uint64_t next_step = d->last_dirty + step_ns;
			uint64_t t = next_step < d->next_rec ? next_step : d->next_rec;
			if (t < deadline)
				deadline = t;
		}
		now = clock_ns(CLOCK_MONOTONIC);
		struct timespec ts = ns_to_ts(deadline > now ? deadline - now : 0);
		int r = ppoll(pf, (nfds_t)np, deadline == UINT64_MAX ? NULL : &ts, NULL);
		if (r < 0 && errno != EINTR) {
			simdom_log("poll failed err=%s", strerror(errno));
			return 1;
		}
		if (r > 0 && (pf[0].revents & POLLIN)) {
			struct signalfd_siginfo si;
			if (read(d->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				end = on_signal(d, (int)si.ssi_signo);
				if (end != RUN_ON)
					break;
			}
		}
		if (r > 0 && ipl >= 0 && (pf[ipl].revents & POLLIN))
			ctl_accept(d);
		for (int i = 0; r > 0 && i < SIMDOM_CTL_CONNS; i++)
			if (ic[i] >= 0 && d->ctl[i] >= 0 && (pf[ic[i]].revents & (POLLIN | POLLHUP | POLLERR)))
				ctl_command(d, i);
		now = clock_ns(CLOCK_MONOTONIC);
		if (!d->paused) {
			mem_dirty(&d->mem, d->o.dirty_kib_s, now - d->last_dirty);
			d->last_dirty = now;
			if (now >= d->next_rec) {
				put_record(d, SIMDOM_EV_TICK, NULL, NULL);
				d->next_rec += rec_ns;
				/* after a long stall (SIGSTOP, overloaded host) do
				 * not write a burst of catch-up records */
				if (d->next_rec <= now)
					d->next_rec = now + rec_ns;
			}
		}
		if (d->mig.state != MIG_IDLE) {
			/* a migration started this turn has no poll result yet */
			if (ims < 0 || (pf[ims].revents & (POLLIN | POLLHUP | POLLERR)))
				mig_read(d);
			mig_write(d, now);
			mig_check_deadline(d, clock_ns(CLOCK_MONOTONIC));
		}
	}
	if (end == RUN_QUIET)
		return 0;
	put_record(d, end == RUN_STOP ? SIMDOM_EV_STOP : SIMDOM_EV_SHUTDOWN, NULL, NULL);
	simdom_log("%s inc=%s records=%" PRIu64 " pages_dirtied=%" PRIu64 " dirty_pages=%zu",
		   end == RUN_STOP ? "stopped by host" : "guest shut down",
		   d->o.incarnation, d->seq, d->mem.pages_dirtied, d->mem.ndirty);
	return 0;
}

/* ---- target side: --incoming FD ----
 *
 * Receive the memory, check every page and the digest, answer VERIFIED,
 * and run only after a whole, checked COMMIT.  Any error, a stream break or
 * a silence longer than --incoming-timeout-ms before COMMIT: exit non-zero
 * having written nothing to the image.
 */
struct incoming {
	int fd;
	unsigned char *buf;       /* one frame's payload */
	size_t cap;
	uint64_t *got;            /* pages received at least once */
	uint64_t bytes;
	uint32_t round;
	char from[SIMDOM_INC_MAX];
	uint64_t pause_ns;
	const char *why;
};

static void progress_line(struct simdom *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void progress_line(struct simdom *d, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	if (d->o.progress_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf) - 1)
		return;
	buf[n++] = '\n';
	if (write(d->o.progress_fd, buf, (size_t)n) != n) {
		close(d->o.progress_fd);   /* the driver went away: carry on */
		d->o.progress_fd = -1;
	}
}

/* Read exactly n bytes: 0, or -ETIMEDOUT (silence), -EPIPE (closed),
 * -EINTR (a stop signal), -errno. */
static int in_read(struct simdom *d, struct incoming *in, unsigned char *b, size_t n)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd pf[2] = {
			{ .fd = in->fd, .events = POLLIN },
			{ .fd = d->sigfd, .events = POLLIN },
		};
		int r = poll(pf, 2, (int)d->o.incoming_timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		if (pf[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(d->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				return -EINTR;
		}
		if (!(pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		ssize_t k = recv(in->fd, b + got, n - got, MSG_DONTWAIT);
		if (k == 0)
			return -EPIPE;
		if (k < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)k;
		in->bytes += (uint64_t)k;
	}
	return 0;
}

static int in_send(struct incoming *in, unsigned type, const unsigned char *p, size_t len)
{
	unsigned char f[MIG_HDR + MIG_CTL_MAX];
	size_t off = 0, n = MIG_HDR + len;

	memcpy(f + MIG_HDR, p, len);
	frame_seal(f, type, len);
	while (off < n) {
		struct pollfd pf = { .fd = in->fd, .events = POLLOUT };
		if (poll(&pf, 1, 10000) <= 0)
			return -ETIMEDOUT;
		ssize_t w = send(in->fd, f + off, n - off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w < 0)
			return -errno;
		off += (size_t)w;
	}
	return 0;
}

/* Next frame into in->buf: 0 and type/len, or -errno; in->why says what. */
static int in_frame(struct simdom *d, struct incoming *in, unsigned *type, uint32_t *len)
{
	unsigned char hdr[MIG_HDR];
	int rc = in_read(d, in, hdr, sizeof(hdr));

	if (rc == 0)
		rc = frame_open(hdr, d->mem.page_size ? d->mem.page_size : 0, type, len);
	if (rc == -EBADMSG) {
		in->why = "bad-frame";
		return rc;
	}
	if (rc == 0 && *len > in->cap) {
		in->why = "bad-frame";
		return -EBADMSG;
	}
	if (rc == 0)
		rc = in_read(d, in, in->buf, *len);
	if (rc == 0 && !frame_sum_ok(hdr, in->buf, *len)) {
		in->why = "bad-frame-check";
		return -EBADMSG;
	}
	if (rc < 0 && in->why == NULL)
		in->why = rc == -ETIMEDOUT ? "timeout" : rc == -EPIPE ? "stream-closed" :
			rc == -EINTR ? "stopped-by-signal" : "stream-error";
	return rc;
}

static int in_hello(struct simdom *d, struct incoming *in)
{
	unsigned type;
	uint32_t len;
	unsigned char *p = in->buf;
	int rc = in_frame(d, in, &type, &len);

	if (rc < 0)
		return rc;
	in->why = "bad-hello";
	if (type != MT_HELLO || len < 18 || get_le32(p) != MIG_VERSION)
		return -EPROTO;
	uint32_t ps = get_le32(p + 4);
	uint64_t np = get_le64(p + 8);
	size_t nl = p[16];
	if (ps < 256 || ps > 65536 || ps % UNIT != 0 || np > ((uint64_t)SIMDOM_HOLD_MAX << 20) / ps ||
	    (size_t)18 + nl > len || (size_t)18 + nl + p[17 + nl] != len)
		return -EPROTO;
	size_t il = p[17 + nl];
	if (nl != strlen(d->o.name) || memcmp(p + 17, d->o.name, nl) != 0) {
		in->why = "wrong-domain";
		return -EPROTO;
	}
	if (il == 0 || il >= sizeof(in->from))
		return -EPROTO;
	memcpy(in->from, p + 18 + nl, il);
	in->from[il] = '\0';
	if (!token_ok(in->from, SIMDOM_INC_MAX) || !record_fits(d->o.incarnation, in->from)) {
		in->why = "incarnation-too-long";
		return -EPROTO;
	}
	rc = mem_alloc(&d->mem, ps, (size_t)np, false);
	if (rc < 0) {
		in->why = "out-of-memory";
		return rc;
	}
	in->got = calloc((d->mem.npages + 63) / 64 + 1, sizeof(uint64_t));
	unsigned char *nb = realloc(in->buf, 8 + ps > MIG_CTL_MAX ? 8 + ps : MIG_CTL_MAX);
	if (in->got == NULL || nb == NULL) {
		in->why = "out-of-memory";
		return -ENOMEM;
	}
	in->buf = nb;
	in->cap = 8 + ps > MIG_CTL_MAX ? 8 + ps : MIG_CTL_MAX;
	in->why = NULL;
	simdom_log("incoming migration from=%s pages=%zu page_size=%zu", in->from,
		   d->mem.npages, d->mem.page_size);
	return 0;
}

/* Pages until STATE, checked; then VERIFIED.  0 or -errno. */
static int in_pages(struct simdom *d, struct incoming *in)
{
	struct simdom_mem *m = &d->mem;
	uint64_t pages = 0;

	for (;;) {
		unsigned type;
		uint32_t len;
		int rc = in_frame(d, in, &type, &len);
		unsigned char *p = in->buf;

		if (rc < 0)
			return rc;
		if (type == MT_ROUND && len == 12) {
			if (in->round > 0)
				progress_line(d, "progress round=%" PRIu32 " bytes=%" PRIu64 " total=%zu left=%" PRIu64,
					      in->round, in->bytes, m->npages, get_le64(p + 4));
			in->round = get_le32(p);
			continue;
		}
		if (type == MT_END_ROUND && len == 4 && get_le32(p) == in->round) {
			rc = in_send(in, MT_ROUND_ACK, p, 4);
			if (rc < 0) {
				in->why = "stream-error";
				return rc;
			}
			continue;
		}
		if (type == MT_PAGE) {
			uint64_t pn = get_le64(p), stamp;
			if (pn >= m->npages || !page_check(p + 8, m->page_size, pn, &stamp)) {
				simdom_log("incoming page refused page=%" PRIu64 " round=%" PRIu32, pn, in->round);
				in->why = "bad-page";
				return -EBADMSG;
			}
			memcpy(m->base + pn * m->page_size, p + 8, m->page_size);
			in->got[pn / 64] |= UINT64_C(1) << (pn % 64);
			pages++;
			continue;
		}
		if (type != MT_STATE || len != 40) {
			in->why = "unexpected-frame";
			return -EPROTO;
		}
		uint64_t seq = get_le64(p), version = get_le64(p + 8), np = get_le64(p + 16);
		uint64_t digest = get_le64(p + 24);
		in->pause_ns = get_le64(p + 32);
		if (np != m->npages) {
			in->why = "bad-state";
			return -EPROTO;
		}
		for (size_t i = 0; i < m->npages; i++) {
			if (!bit_test(in->got, i)) {
				in->why = "page-missing";
				return -EPROTO;
			}
		}
		if (mem_digest(m) != digest) {
			in->why = "digest-mismatch";
			return -EBADMSG;
		}
		m->version = version;
		simdom_log("incoming memory verified from=%s pages=%" PRIu64 " rounds=%" PRIu32 " bytes=%" PRIu64
			   " source_seq=%" PRIu64, in->from, pages, in->round, in->bytes, seq);
		unsigned char b[8];
		put_le64(b, digest);
		rc = in_send(in, MT_VERIFIED, b, sizeof(b));
		if (rc < 0)
			in->why = "stream-error";
		return rc;
	}
}

/*
 * 0: committed and running (first record written, RUNNING sent if the
 * stream allows, ready byte given): the caller runs the domain.  Non-zero:
 * the exit status (nothing ran).
 */
static int incoming(struct simdom *d)
{
	struct incoming in;
	unsigned type;
	uint32_t len;
	uint64_t first;
	int rc;

	memset(&in, 0, sizeof(in));
	in.fd = d->o.incoming_fd;
	in.cap = MIG_CTL_MAX;
	in.buf = malloc(in.cap);
	if (in.buf == NULL)
		return 1;
	rc = in_hello(d, &in);
	if (rc == 0)
		rc = in_pages(d, &in);
	if (rc == 0) {
		rc = in_frame(d, &in, &type, &len);
		if (rc == 0 && (type != MT_COMMIT || len != 8)) {
			in.why = "expected-commit";
			rc = -EPROTO;
		}
	}
	if (rc < 0) {
		simdom_log("incoming migration refused from=%s reason=%s: not running",
			   in.from[0] ? in.from : "?", in.why ? in.why : "error");
		if (in.why != NULL && rc != -EPIPE)
			in_send(&in, MT_REFUSE, (const unsigned char *)in.why, strlen(in.why));
		free(in.buf);
		free(in.got);
		return 3;
	}
	/* COMMIT: from here on this is the domain */
	put_record(d, SIMDOM_EV_MIGRATE_IN, in.from, &first);
	unsigned char b[8 + 1 + SIMDOM_INC_MAX];
	size_t il = strlen(d->o.incarnation);
	put_le64(b, first);
	b[8] = (unsigned char)il;
	memcpy(b + 9, d->o.incarnation, il);
	if (in_send(&in, MT_RUNNING, b, 9 + il) < 0)
		simdom_log("running not delivered to source from=%s: it stays paused", in.from);
	uint64_t down = first > in.pause_ns ? (first - in.pause_ns) / 1000000u : 0;
	progress_line(d, "final round=%" PRIu32 " bytes=%" PRIu64 " total=%zu left=0 downtime_ms=%" PRIu64,
		      in.round, in.bytes, d->mem.npages, down);
	simdom_log("migrated in inc=%s from=%s downtime_ms=%" PRIu64, d->o.incarnation, in.from, down);
	close(in.fd);
	d->o.incoming_fd = -1;
	free(in.buf);
	free(in.got);
	return 0;
}

static int setup_signals(struct simdom *d)
{
	sigset_t sigs;

	/* The starter may have left dispositions ignored; we take the signals
	 * synchronously through a signalfd, so block them first. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGUSR1, SIG_DFL);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	sigprocmask(SIG_SETMASK, &sigs, NULL);
	d->sigfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	return d->sigfd < 0 ? -errno : 0;
}

static bool fd_ok(int fd)
{
	if (fd < 0)
		return true;
	if (fcntl(fd, F_GETFD) < 0)
		return false;
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return true;
}

int main(int argc, char **argv)
{
	struct simdom d;
	int rc;

	memset(&d, 0, sizeof(d));
	d.image_fd = -1;
	d.listen_fd = -1;
	d.sigfd = -1;
	d.mig.fd = -1;
	d.mig.ctl = -1;
	for (int i = 0; i < SIMDOM_CTL_CONNS; i++)
		d.ctl[i] = -1;
	if (parse_opts(argc, argv, &d.o) < 0)
		return 2;
	g_name = d.o.name;
	prctl(PR_SET_NAME, "xenha-simdom", 0, 0, 0);
	if (setup_signals(&d) < 0) {
		simdom_log("signalfd failed err=%s", strerror(errno));
		return 1;
	}
	if (!fd_ok(d.o.ready_fd) || !fd_ok(d.o.incoming_fd) || !fd_ok(d.o.progress_fd)) {
		simdom_log("bad fd argument err=%s", strerror(errno));
		return 1;
	}
	d.image_fd = open(d.o.image, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (d.image_fd < 0) {
		simdom_log("cannot open image image=%s err=%s", d.o.image, strerror(errno));
		return 1;
	}
	if (d.o.incoming_fd >= 0) {
		rc = incoming(&d);
		if (rc != 0) {
			close(d.image_fd);
			mem_free(&d.mem);
			return rc;
		}
	} else {
		rc = mem_init(&d.mem, d.o.hold_mb);
		if (rc < 0) {
			simdom_log("cannot hold memory hold_mb=%" PRIu32 " err=%s", d.o.hold_mb,
				   strerror(-rc));
			close(d.image_fd);
			return 1;
		}
		if (put_record(&d, SIMDOM_EV_START, NULL, NULL) < 0) {
			close(d.image_fd);
			mem_free(&d.mem);
			return 1;
		}
	}
	if (d.o.ctl != NULL) {
		d.listen_fd = ctl_listen(d.o.ctl);
		if (d.listen_fd < 0)
			/* it runs (a record is written): without control it
			 * cannot migrate, which is all that is lost */
			simdom_log("control socket failed path=%s err=%s", d.o.ctl,
				   strerror(-d.listen_fd));
	}
	simdom_log("%s inc=%s pid=%ld node=%" PRIu32 " gen=%" PRIu64
		   " pages=%zu dirty_kib_s=%" PRIu32 " record_ms=%" PRIu32 " image=%s",
		   d.o.incoming_fd >= 0 ? "running after migration" : "started",
		   d.o.incarnation, (long)getpid(), d.o.node, d.o.generation, d.mem.npages,
		   d.o.dirty_kib_s, d.o.record_ms, d.o.image);
	signal_ready(&d.o.ready_fd);
	if (d.o.progress_fd >= 0) {
		close(d.o.progress_fd);
		d.o.progress_fd = -1;
	}

	rc = run(&d);
	if (d.listen_fd >= 0 && d.o.ctl != NULL)
		unlink(d.o.ctl);
	close(d.image_fd);
	mem_free(&d.mem);
	return rc;
}
