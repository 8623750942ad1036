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
#include <sys/prctl.h>
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
};

static const char *simdom_ev_str(enum simdom_ev ev)
{
	switch (ev) {
	case SIMDOM_EV_START: return "start";
	case SIMDOM_EV_TICK: return "tick";
	case SIMDOM_EV_STOP: return "stop";
	case SIMDOM_EV_SHUTDOWN: return "shutdown";
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
};

/*
 * The guest's memory.  Every page starts with a known pattern (so it is
 * resident and a later copy can be checked); a dirtied page gets a new
 * version number in its first 8 bytes and its bit set in `dirty`.  The
 * pre-copy migration (later) copies the pages whose bit is set and clears
 * the bits it sent; until then the bitmap only accumulates.
 */
struct simdom_mem {
	unsigned char *base;
	size_t page_size;
	size_t npages;
	uint64_t *dirty;          /* bitmap, npages bits */
	size_t ndirty;            /* bits set */
	size_t cursor;            /* next page to dirty */
	size_t stride;            /* odd step through the pages: spreads writes */
	uint64_t version;         /* incremented per dirtied page */
	uint64_t budget_bytes;    /* bytes owed to the dirty rate, carried over */
	uint64_t budget_frac;     /* remainder, in bytes * 1e9 */
	uint64_t pages_dirtied;   /* total, for the exit log line */
};

struct simdom {
	struct simdom_opts o;
	struct simdom_mem mem;
	int image_fd;
	uint64_t seq;
	unsigned write_errors;
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
		"                    [--node NODEID --generation G]\n"
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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool have_hold = false, have_dirty = false, have_record = false;
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	o->ready_fd = -1;
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

/* ---- memory ---- */

static size_t gcd(size_t a, size_t b)
{
	while (b != 0) {
		size_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

static int mem_init(struct simdom_mem *m, uint32_t hold_mb)
{
	long ps = sysconf(_SC_PAGESIZE);

	memset(m, 0, sizeof(*m));
	m->page_size = ps > 0 ? (size_t)ps : 4096;
	m->npages = ((size_t)hold_mb << 20) / m->page_size;
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
	/* The known pattern: byte i of page p is (p * 31 + i) & 0xff.  Writing
	 * every page makes the whole hold resident. */
	for (size_t p = 0; p < m->npages; p++) {
		unsigned char *pg = m->base + p * m->page_size;
		for (size_t i = 0; i < m->page_size; i++)
			pg[i] = (unsigned char)((p * 31 + i) & 0xff);
	}
	/* A stride co-prime with npages visits every page before repeating,
	 * but not sequentially, like a real working set. */
	m->stride = m->npages > 2 ? m->npages / 3 : 1;
	while (gcd(m->stride, m->npages) != 1)
		m->stride++;  /* ends at npages - 1 at the latest */
	return 0;
}

static void mem_free(struct simdom_mem *m)
{
	free(m->base);
	free(m->dirty);
	m->base = NULL;
	m->dirty = NULL;
}

static void mem_dirty_page(struct simdom_mem *m, size_t p)
{
	unsigned char *pg = m->base + p * m->page_size;
	uint64_t bit = UINT64_C(1) << (p % 64);

	m->version++;
	memcpy(pg, &m->version, sizeof(m->version));
	pg[m->page_size - 1] ^= 0xff;
	if (!(m->dirty[p / 64] & bit)) {
		m->dirty[p / 64] |= bit;
		m->ndirty++;
	}
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

static int put_record(struct simdom *d, enum simdom_ev ev)
{
	char line[SIMDOM_LINE_MAX];
	int n;
	ssize_t w;

	n = snprintf(line, sizeof(line),
		     "inc=%s seq=%" PRIu64 " mono_ns=%" PRIu64 " wall_ns=%" PRIu64
		     " node=%" PRIu32 " gen=%" PRIu64 " ev=%s\n",
		     d->o.incarnation, d->seq, clock_ns(CLOCK_MONOTONIC),
		     clock_ns(CLOCK_REALTIME), d->o.node, d->o.generation,
		     simdom_ev_str(ev));
	if (n < 0 || (size_t)n >= sizeof(line))
		return -EOVERFLOW;  /* cannot happen: fields are bounded */
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

/*
 * The main loop: wait for a signal or the next deadline (the next record,
 * or the next dirtying step inside the tick, whichever is first), with
 * sigtimedwait so there is no busy loop and no async signal handler.
 */
static int run(struct simdom *d, const sigset_t *sigs)
{
	const uint64_t rec_ns = (uint64_t)d->o.record_ms * 1000000u;
	uint64_t step_ns = (uint64_t)SIMDOM_DIRTY_STEP_MS * 1000000u;
	uint64_t now, next_rec, last_dirty;
	enum simdom_ev end_ev;

	/* no memory to dirty: wake only for records */
	if (step_ns > rec_ns || d->mem.npages == 0 || d->o.dirty_kib_s == 0)
		step_ns = rec_ns;
	now = clock_ns(CLOCK_MONOTONIC);
	last_dirty = now;
	next_rec = now + rec_ns;

	for (;;) {
		uint64_t next_step = last_dirty + step_ns;
		uint64_t deadline = next_step < next_rec ? next_step : next_rec;
		siginfo_t si;
		int sig;

		now = clock_ns(CLOCK_MONOTONIC);
		if (deadline > now) {
			struct timespec ts = ns_to_ts(deadline - now);
			sig = sigtimedwait(sigs, &si, &ts);
			if (sig < 0 && errno != EAGAIN && errno != EINTR) {
				simdom_log("sigtimedwait failed err=%s", strerror(errno));
				return 1;
			}
			if (sig == SIGTERM || sig == SIGINT) {
				end_ev = SIMDOM_EV_STOP;
				break;
			}
			if (sig == SIGUSR1) {
				end_ev = SIMDOM_EV_SHUTDOWN;
				break;
			}
			now = clock_ns(CLOCK_MONOTONIC);
		}
		mem_dirty(&d->mem, d->o.dirty_kib_s, now - last_dirty);
		last_dirty = now;
		if (now >= next_rec) {
			put_record(d, SIMDOM_EV_TICK);
			next_rec += rec_ns;
			/* after a long stall (SIGSTOP, overloaded host) do not
			 * write a burst of catch-up records */
			if (next_rec <= now)
				next_rec = now + rec_ns;
		}
	}
	put_record(d, end_ev);
	simdom_log("%s inc=%s records=%" PRIu64 " pages_dirtied=%" PRIu64 " dirty_pages=%zu",
		   end_ev == SIMDOM_EV_STOP ? "stopped by host" : "guest shut down",
		   d->o.incarnation, d->seq, d->mem.pages_dirtied, d->mem.ndirty);
	return 0;
}

int main(int argc, char **argv)
{
	struct simdom d;
	sigset_t sigs;
	int rc;

	memset(&d, 0, sizeof(d));
	d.image_fd = -1;
	if (parse_opts(argc, argv, &d.o) < 0)
		return 2;
	g_name = d.o.name;
	prctl(PR_SET_NAME, "xenha-simdom", 0, 0, 0);

	/* The starter may have left dispositions ignored; we take the signals
	 * synchronously with sigtimedwait, so block them before anything else. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGUSR1, SIG_DFL);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	sigprocmask(SIG_SETMASK, &sigs, NULL);

	if (d.o.ready_fd >= 0 && fcntl(d.o.ready_fd, F_GETFD) < 0) {
		simdom_log("bad ready fd fd=%d err=%s", d.o.ready_fd, strerror(errno));
		return 1;
	}
	if (d.o.ready_fd >= 0)
		fcntl(d.o.ready_fd, F_SETFD, FD_CLOEXEC);

	rc = mem_init(&d.mem, d.o.hold_mb);
	if (rc < 0) {
		simdom_log("cannot hold memory hold_mb=%" PRIu32 " err=%s", d.o.hold_mb,
			   strerror(-rc));
		return 1;
	}
	d.image_fd = open(d.o.image, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (d.image_fd < 0) {
		simdom_log("cannot open image image=%s err=%s", d.o.image, strerror(errno));
		mem_free(&d.mem);
		return 1;
	}
	if (put_record(&d, SIMDOM_EV_START) < 0) {
		close(d.image_fd);
		mem_free(&d.mem);
		return 1;
	}
	simdom_log("started inc=%s pid=%ld node=%" PRIu32 " gen=%" PRIu64
		   " hold_mb=%" PRIu32 " dirty_kib_s=%" PRIu32 " record_ms=%" PRIu32
		   " image=%s", d.o.incarnation, (long)getpid(), d.o.node,
		   d.o.generation, d.o.hold_mb, d.o.dirty_kib_s, d.o.record_ms,
		   d.o.image);
	signal_ready(&d.o.ready_fd);

	rc = run(&d, &sigs);
	close(d.image_fd);
	mem_free(&d.mem);
	return rc;
}
