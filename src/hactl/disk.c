/*
 * hactl disk: make, show and message a heartbeat disk directly on the
 * device, without xenhad or xenha-fenced (see hactl(8), DISK COMMANDS,
 * and docs/hbdisk-format.md).
 *
 *   hactl disk init DEV [options]    write a new sbd v2 + xenha image
 *   hactl disk dump DEV [--json]     header, region, slots, heartbeats
 *   hactl disk message DEV HOST clear|test|reset|off [--from NAME]
 *
 * All I/O goes through hbio (O_DIRECT, one aligned sector per call), the
 * same code xenha-fenced uses, so what this tool reads is what the
 * daemon reads.  The formats are the pure codec's (hbdisk.h); nothing
 * here knows a byte offset except the magic check before init.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/fs.h>
#include <json-c/json.h>

#include "xenha/hbdisk.h"
#include "xenha/hbworker.h"
#include "hactl.h"

int hactl_disk(int argc, char **argv, bool json);

static const char disk_usage[] =
"Usage: hactl disk init DEV [--slots N] [--sector-size 512|4096] [--watchdog S]\n"
"                  [--msgwait S] [--loop S] [--allocate S] [--lease-sectors N]\n"
"                  [--yes]\n"
"       hactl disk dump DEV [--json]\n"
"       hactl disk message DEV HOST clear|test|reset|off [--from NAME]\n"
"\n"
"Works directly on the heartbeat disk DEV (a block device or a file); no\n"
"daemon is needed.  See hactl(8), DISK COMMANDS.\n";


__attribute__((format(printf, 1, 2)))
static int usage(const char *fmt, ...)
{
	va_list ap;
	int st;

	va_start(ap, fmt);
	st = hactl_vsay(HACTL_EXIT_USAGE, "\nTry 'hactl disk --help'.\n", fmt, ap);
	va_end(ap);
	return st;
}

static bool parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	unsigned long long x;
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || x < lo || x > hi)
		return false;
	*out = (uint32_t)x;
	return true;
}

static void uuid_str(const uint8_t *u, char out[37])
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (int i = 0; i < HB_UUID_LEN; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[u[i] >> 4];
		out[o++] = hex[u[i] & 15];
	}
	out[o] = '\0';
}

/* Map a hbio_read_meta error to an exit status and a message. */
static int meta_fail(const char *dev, int rc)
{
	switch (rc) {
	case -ENODATA:
		return hactl_say(HACTL_EXIT_NOENT, "disk %s: not a xenha disk (a plain sbd "
			    "disk: no xenha region; see hactl disk init)", dev);
	case -EBADMSG:
	case -EPROTO:
	case -EOPNOTSUPP:
		return hactl_say(HACTL_EXIT_NOENT, "disk %s: not a xenha disk (no valid "
			    "sbd header: %s)", dev, strerror(-rc));
	case -ESTALE:
		return hactl_say(HACTL_EXIT_NOENT, "disk %s: not a xenha disk (the xenha "
			    "region does not belong to the sbd header: was sbd create "
			    "run over it?)", dev);
	case -EILSEQ:
		return hactl_say(HACTL_EXIT_NOENT, "disk %s: not a xenha disk (region "
			    "descriptor: %s)", dev, strerror(-rc));
	default:
		return hactl_say(HACTL_EXIT_REFUSED, "disk %s: cannot read: %s", dev,
			    strerror(-rc));
	}
}

static int open_dev(struct hbio *io, const char *dev)
{
	bool direct;
	int rc = hbio_open(io, dev, NULL, &direct);

	if (rc < 0)
		return hactl_say(HACTL_EXIT_REFUSED, "disk %s: cannot open: %s", dev,
			    strerror(-rc));
	return 0;
}

/* ---- init ---- */

enum {
	OPT_SLOTS = 256, OPT_SECTOR_SIZE, OPT_WATCHDOG, OPT_MSGWAIT, OPT_LOOP,
	OPT_ALLOCATE, OPT_LEASE, OPT_YES, OPT_FROM,
};

/* The device's logical sector size (BLKSSZGET) and size in bytes; a
 * regular file: 0 (none imposed) and its length. */
static int dev_geometry(int fd, uint32_t *lss, uint64_t *bytes, bool *blk)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	*blk = S_ISBLK(st.st_mode);
	if (!*blk) {
		*lss = 0;
		*bytes = (uint64_t)st.st_size;
		return 0;
	}
	{
		int ss = 0;

		if (ioctl(fd, BLKSSZGET, &ss) < 0)
			return -errno;
		*lss = (uint32_t)ss;
	}
	if (ioctl(fd, BLKGETSIZE64, bytes) < 0)
		return -errno;
	return 0;
}

/* Write the image sector by sector, then read every sector back. */
static int write_image(struct hbio *io, const char *dev, const uint8_t *img, size_t len)
{
	uint32_t ss = io->sector_size, n = (uint32_t)(len / ss);
	uint8_t sec[4096];
	int rc;

	for (uint32_t i = 0; i < n; i++) {
		rc = hbio_write(io, i, img + (size_t)i * ss);
		if (rc < 0)
			return hactl_say(HACTL_EXIT_REFUSED, "disk %s: write sector %" PRIu32
				    ": %s", dev, i, strerror(-rc));
	}
	for (uint32_t i = 0; i < n; i++) {
		rc = hbio_read(io, i, sec);
		if (rc < 0)
			return hactl_say(HACTL_EXIT_REFUSED, "disk %s: read back sector %"
				    PRIu32 ": %s", dev, i, strerror(-rc));
		if (memcmp(sec, img + (size_t)i * ss, ss) != 0)
			return hactl_say(HACTL_EXIT_REFUSED, "disk %s: sector %" PRIu32
				    " reads back different from what was written", dev, i);
	}
	return 0;
}

static int cmd_init(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "slots", required_argument, NULL, OPT_SLOTS },
		{ "sector-size", required_argument, NULL, OPT_SECTOR_SIZE },
		{ "watchdog", required_argument, NULL, OPT_WATCHDOG },
		{ "msgwait", required_argument, NULL, OPT_MSGWAIT },
		{ "loop", required_argument, NULL, OPT_LOOP },
		{ "allocate", required_argument, NULL, OPT_ALLOCATE },
		{ "lease-sectors", required_argument, NULL, OPT_LEASE },
		{ "yes", no_argument, NULL, OPT_YES },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct hb_header h = {
		.minor_version = HB_SBD_MINOR,
		.slots = HB_MAX_SLOTS,
		.timeout_watchdog = 5,
		.timeout_allocate = 2,
		.timeout_loop = 1,
	};
	uint32_t x, lease = 0, ss = 0, lss = 0;
	bool yes = false, msgwait_set = false, blk = false;
	struct hb_header oh;
	struct hb_region r;
	struct hb_layout l;
	const char *dev, *why = NULL;
	uint8_t sec[4096], *img = NULL;
	uint64_t bytes;
	struct hbio io;
	char u[37];
	size_t len;
	int c, rc, st;

	optind = 0;
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case OPT_SLOTS:
			if (!parse_u32(optarg, 1, HB_MAX_SLOTS, &x))
				return usage("disk init --slots: expected 1..%d, got \"%s\"",
					     HB_MAX_SLOTS, optarg);
			h.slots = (uint8_t)x;
			break;
		case OPT_SECTOR_SIZE:
			if (!parse_u32(optarg, 512, 4096, &ss) || !hb_sector_size_ok(ss))
				return usage("disk init --sector-size: expected 512 or "
					     "4096, got \"%s\"", optarg);
			break;
		case OPT_WATCHDOG:
		case OPT_MSGWAIT:
		case OPT_LOOP:
		case OPT_ALLOCATE:
			if (!parse_u32(optarg, 0, UINT32_MAX, &x))
				return usage("disk init %s: expected seconds, got \"%s\"",
					     argv[optind - 1], optarg);
			if (c == OPT_WATCHDOG)
				h.timeout_watchdog = x;
			else if (c == OPT_MSGWAIT) {
				h.timeout_msgwait = x;
				msgwait_set = true;
			} else if (c == OPT_LOOP)
				h.timeout_loop = x;
			else
				h.timeout_allocate = x;
			break;
		case OPT_LEASE:
			if (!parse_u32(optarg, 0, HB_MAX_LEASE_SECTORS, &lease))
				return usage("disk init --lease-sectors: expected 0..%u, "
					     "got \"%s\"", HB_MAX_LEASE_SECTORS, optarg);
			break;
		case OPT_YES:
			yes = true;
			break;
		case 'h':
			fputs(disk_usage, stdout);
			return 0;
		case ':':
			return usage("disk init: option %s needs an argument",
				     argv[optind - 1]);
		default:
			return usage("disk init: unknown option %s", argv[optind - 1]);
		}
	}
	if (argc - optind < 1)
		return usage("disk init: missing DEV");
	if (argc - optind > 1)
		return usage("disk init: unexpected argument \"%s\"", argv[optind + 1]);
	dev = argv[optind];
	if (!msgwait_set)
		h.timeout_msgwait = h.timeout_watchdog <= UINT32_MAX / 2 ?
				    2 * h.timeout_watchdog : UINT32_MAX;
	if (hb_timeouts_check(&h, &why) < 0)
		return hactl_say(HACTL_EXIT_REFUSED, "disk init %s: refused: %s", dev,
			    why != NULL ? why : "bad timeouts");

	if ((st = open_dev(&io, dev)) != 0)
		return st;
	rc = dev_geometry(io.fd, &lss, &bytes, &blk);
	if (rc < 0) {
		st = hactl_say(HACTL_EXIT_REFUSED, "disk %s: cannot read its size: %s", dev,
			  strerror(-rc));
		goto out;
	}
	if (blk && !hb_sector_size_ok(lss)) {
		st = hactl_say(HACTL_EXIT_REFUSED, "disk %s: logical sector size %" PRIu32
			  " is not supported (512 or 4096)", dev, lss);
		goto out;
	}
	if (ss == 0)
		ss = blk ? lss : 512;
	if (blk && ss != lss) {
		/* sbd checks the header's sector size against BLKSSZGET */
		st = hactl_say(HACTL_EXIT_REFUSED, "disk %s: --sector-size %" PRIu32 " but "
			  "the device's logical sector size is %" PRIu32, dev, ss, lss);
		goto out;
	}
	h.sector_size = ss;
	io.sector_size = ss;

	/* An existing sbd header (any sector size): refuse unless --yes. */
	if (bytes >= ss) {
		rc = hbio_read(&io, 0, sec);
		if (rc < 0) {
			st = hactl_say(HACTL_EXIT_REFUSED, "disk %s: cannot read: %s", dev,
				  strerror(-rc));
			goto out;
		}
		if (memcmp(sec, HB_SBD_MAGIC, 8) == 0 && !yes) {
			st = hactl_say(HACTL_EXIT_REFUSED, "disk %s: already has an sbd "
				  "header; give --yes to overwrite it (every node "
				  "using it must be stopped)", dev);
			goto out;
		}
	}

	if (getrandom(h.uuid, sizeof(h.uuid), 0) != (ssize_t)sizeof(h.uuid)) {
		st = hactl_say(HACTL_EXIT_REFUSED, "disk %s: getrandom: %s", dev,
			  strerror(errno));
		goto out;
	}
	h.uuid[6] = (uint8_t)((h.uuid[6] & 0x0f) | 0x40);   /* RFC 4122 version 4 */
	h.uuid[8] = (uint8_t)((h.uuid[8] & 0x3f) | 0x80);   /* variant */

	rc = hb_disk_image_len(&h, lease, &len);
	if (rc < 0) {
		st = hactl_say(HACTL_EXIT_REFUSED, "disk init %s: refused: %s", dev,
			  strerror(-rc));
		goto out;
	}
	if (blk && bytes < len) {
		st = hactl_say(HACTL_EXIT_REFUSED, "disk %s: too small: %" PRIu64 " bytes, "
			  "the image needs %zu", dev, bytes, len);
		goto out;
	}
	img = malloc(len);
	if (img == NULL) {
		st = hactl_say(HACTL_EXIT_REFUSED, "out of memory");
		goto out;
	}
	rc = hb_disk_init_image(&h, lease, img, len);
	if (rc < 0) {
		st = hactl_say(HACTL_EXIT_REFUSED, "disk init %s: refused: %s", dev,
			  strerror(-rc));
		goto out;
	}
	if ((st = write_image(&io, dev, img, len)) != 0)
		goto out;
	/* And the check the daemon will make. */
	rc = hbio_read_meta(&io, &oh, &r, &l);
	if (rc < 0) {
		st = meta_fail(dev, rc);
		goto out;
	}
	uuid_str(h.uuid, u);
	printf("disk %s: initialized (%zu bytes written and verified)\n"
	       "  sbd header: %u slots, %" PRIu32 "-byte sectors, uuid %s\n"
	       "  timeouts: watchdog %" PRIu32 " s, allocate %" PRIu32 " s, "
	       "loop %" PRIu32 " s, msgwait %" PRIu32 " s\n"
	       "  xenha region: descriptor at sector %" PRIu32 ", heartbeats at "
	       "sectors %" PRIu32 "..%" PRIu32 ", lease area %" PRIu32
	       " sectors at %" PRIu32 "\n",
	       dev, len, (unsigned)oh.slots, oh.sector_size, u,
	       oh.timeout_watchdog, oh.timeout_allocate, oh.timeout_loop,
	       oh.timeout_msgwait, l.region, l.beat_first,
	       l.beat_first + l.beat_count - 1, r.lease_count, l.lease_first);
	st = 0;
out:
	free(img);
	hbio_close(&io);
	return st;
}

/* ---- dump ---- */

struct dump_slot {
	unsigned slot;
	char name[HB_NAME_MAX];
	int msg_rc;                 /* hb_msg_decode's */
	struct hb_msg msg;
};

static json_object *liveset_json(uint64_t set)
{
	json_object *a = json_object_new_array();

	for (unsigned n = 1; n <= HB_MAX_NODEID; n++)
		if (set & (UINT64_C(1) << (n - 1)))
			json_object_array_add(a, json_object_new_int((int)n));
	return a;
}

static void liveset_text(uint64_t set, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (unsigned n = 1; n <= HB_MAX_NODEID && o + 4 < len; n++) {
		if (!(set & (UINT64_C(1) << (n - 1))))
			continue;
		o += (size_t)snprintf(buf + o, len - o, "%s%u", o ? "," : "", n);
	}
	if (o == 0)
		snprintf(buf, len, "-");
}

static uint64_t wall_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int dump_json(const char *dev, const struct hb_header *h,
		     const struct hb_region *r, const struct hb_layout *l,
		     const struct dump_slot *slots, unsigned nslots,
		     const struct hb_beat *beats, const bool *seen, uint64_t now)
{
	json_object *o = json_object_new_object(), *hj = json_object_new_object();
	json_object *rj = json_object_new_object(), *sa = json_object_new_array();
	json_object *ba = json_object_new_array();
	const char *s;
	char u[37];
	int st = 0;

	uuid_str(h->uuid, u);
	json_object_object_add(o, "device", json_object_new_string(dev));
	json_object_object_add(hj, "minor_version", json_object_new_int(h->minor_version));
	json_object_object_add(hj, "slots", json_object_new_int(h->slots));
	json_object_object_add(hj, "sector_size", json_object_new_int64(h->sector_size));
	json_object_object_add(hj, "uuid", json_object_new_string(u));
	json_object_object_add(hj, "timeout_watchdog", json_object_new_int64(h->timeout_watchdog));
	json_object_object_add(hj, "timeout_allocate", json_object_new_int64(h->timeout_allocate));
	json_object_object_add(hj, "timeout_loop", json_object_new_int64(h->timeout_loop));
	json_object_object_add(hj, "timeout_msgwait", json_object_new_int64(h->timeout_msgwait));
	json_object_object_add(o, "header", hj);
	json_object_object_add(rj, "sector", json_object_new_int64(l->region));
	json_object_object_add(rj, "beat_first", json_object_new_int64(r->beat_first));
	json_object_object_add(rj, "beat_count", json_object_new_int64(r->beat_count));
	json_object_object_add(rj, "lease_first", json_object_new_int64(r->lease_first));
	json_object_object_add(rj, "lease_count", json_object_new_int64(r->lease_count));
	json_object_object_add(o, "region", rj);
	for (unsigned i = 0; i < nslots; i++) {
		json_object *e = json_object_new_object();

		json_object_object_add(e, "slot", json_object_new_int((int)slots[i].slot));
		json_object_object_add(e, "name", json_object_new_string(slots[i].name));
		if (slots[i].msg_rc == 0) {
			json_object_object_add(e, "message", json_object_new_string(
				hb_msg_type_str(slots[i].msg.type)));
			json_object_object_add(e, "from", json_object_new_string(
				slots[i].msg.from));
		} else {
			json_object_object_add(e, "message", json_object_new_string("invalid"));
			json_object_object_add(e, "error", json_object_new_string(
				strerror(-slots[i].msg_rc)));
		}
		json_object_array_add(sa, e);
	}
	json_object_object_add(o, "slots", sa);
	for (unsigned n = 1; n <= HB_MAX_NODEID; n++) {
		const struct hb_beat *b = &beats[n];
		json_object *e;

		if (!seen[n])
			continue;
		e = json_object_new_object();
		json_object_object_add(e, "nodeid", json_object_new_int64(b->nodeid));
		json_object_object_add(e, "name", json_object_new_string(b->name));
		json_object_object_add(e, "counter", json_object_new_int64((int64_t)b->counter));
		json_object_object_add(e, "wall_ms", json_object_new_int64((int64_t)b->wall_ms));
		json_object_object_add(e, "age_ms", json_object_new_int64(
			(int64_t)now - (int64_t)b->wall_ms));
		json_object_object_add(e, "liveset", liveset_json(b->liveset));
		json_object_object_add(e, "quorate", json_object_new_boolean(b->quorate));
		json_object_object_add(e, "ring_id", json_object_new_int64((int64_t)b->ring_id));
		json_object_object_add(e, "paths_up", json_object_new_int(b->paths_up));
		json_object_object_add(e, "paths_total", json_object_new_int(b->paths_total));
		json_object_array_add(ba, e);
	}
	json_object_object_add(o, "beats", ba);
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
					   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s == NULL)
		st = hactl_say(HACTL_EXIT_REFUSED, "out of memory");
	else
		puts(s);
	json_object_put(o);
	return st;
}

static void dump_text(const char *dev, const struct hb_header *h,
		      const struct hb_region *r, const struct hb_layout *l,
		      const struct dump_slot *slots, unsigned nslots,
		      const struct hb_beat *beats, const bool *seen, uint64_t now)
{
	unsigned nbeats = 0;
	char u[37], ls[200];

	uuid_str(h->uuid, u);
	printf("Disk:      %s (sbd v2 header, minor version %u, xenha region v%d)\n",
	       dev, (unsigned)h->minor_version, HB_REGION_VERSION);
	printf("UUID:      %s\n", u);
	printf("Slots:     %u, %" PRIu32 "-byte sectors\n", (unsigned)h->slots,
	       h->sector_size);
	printf("Timeouts:  watchdog %" PRIu32 " s, allocate %" PRIu32 " s, loop %"
	       PRIu32 " s, msgwait %" PRIu32 " s\n", h->timeout_watchdog,
	       h->timeout_allocate, h->timeout_loop, h->timeout_msgwait);
	printf("Region:    descriptor at sector %" PRIu32 ", heartbeats %" PRIu32
	       "..%" PRIu32 ", lease area %" PRIu32 " sectors at %" PRIu32 "\n",
	       l->region, r->beat_first, r->beat_first + r->beat_count - 1,
	       r->lease_count, r->lease_first);
	printf("\nSlot  Name                  Message    From\n");
	for (unsigned i = 0; i < nslots; i++) {
		const struct dump_slot *s = &slots[i];

		if (s->msg_rc == 0)
			printf("%-5u %-21s %-10s %s\n", s->slot, s->name,
			       hb_msg_type_str(s->msg.type),
			       s->msg.from[0] ? s->msg.from : "-");
		else
			printf("%-5u %-21s %-10s (%s)\n", s->slot, s->name, "invalid",
			       strerror(-s->msg_rc));
	}
	if (nslots == 0)
		printf("(no slot in use)\n");
	printf("\nNode  Name                  Counter      Age        Quorate  Ring"
	       "         Paths  Liveset\n");
	for (unsigned n = 1; n <= HB_MAX_NODEID; n++) {
		const struct hb_beat *b = &beats[n];
		char age[32], paths[16];
		int64_t a;

		if (!seen[n])
			continue;
		nbeats++;
		a = (int64_t)now - (int64_t)b->wall_ms;
		snprintf(age, sizeof(age), "%s%" PRId64 ".%01" PRId64 " s",
			 a < 0 ? "-" : "", (a < 0 ? -a : a) / 1000,
			 ((a < 0 ? -a : a) % 1000) / 100);
		snprintf(paths, sizeof(paths), "%u/%u", (unsigned)b->paths_up,
			 (unsigned)b->paths_total);
		liveset_text(b->liveset, ls, sizeof(ls));
		printf("%-5" PRIu32 " %-21s %-12" PRIu64 " %-10s %-8s %-12" PRIu64
		       " %-6s %s\n", b->nodeid, b->name, b->counter, age,
		       b->quorate ? "yes" : "no", b->ring_id, paths, ls);
	}
	if (nbeats == 0)
		printf("(no heartbeat written)\n");
}

static int cmd_dump(int argc, char **argv, bool json)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct dump_slot *slots = NULL;
	struct hb_beat beats[HB_MAX_NODEID + 1];
	bool seen[HB_MAX_NODEID + 1];
	struct hb_header h;
	struct hb_region r;
	struct hb_layout l;
	uint8_t sec[4096];
	unsigned nslots = 0;
	const char *dev;
	uint32_t sector;
	struct hbio io;
	int c, rc, st = 0;

	optind = 0;
	while ((c = getopt_long(argc, argv, ":jh", lo, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(disk_usage, stdout);
			return 0;
		default:
			return usage("disk dump: unknown option %s", argv[optind - 1]);
		}
	}
	if (argc - optind < 1)
		return usage("disk dump: missing DEV");
	if (argc - optind > 1)
		return usage("disk dump: unexpected argument \"%s\"", argv[optind + 1]);
	dev = argv[optind];
	if ((st = open_dev(&io, dev)) != 0)
		return st;
	rc = hbio_read_meta(&io, &h, &r, &l);
	if (rc < 0) {
		st = meta_fail(dev, rc);
		goto out;
	}
	slots = calloc(h.slots, sizeof(*slots));
	if (slots == NULL) {
		st = hactl_say(HACTL_EXIT_REFUSED, "out of memory");
		goto out;
	}
	for (unsigned i = 0; i < h.slots; i++) {
		struct hb_slot s;

		if (hb_layout_slot(&l, i, &sector) < 0 ||
		    (rc = hbio_read(&io, sector, sec)) < 0) {
			st = hactl_say(HACTL_EXIT_REFUSED, "disk %s: read slot %u: %s", dev,
				  i, strerror(-rc));
			goto out;
		}
		if (hb_slot_decode(sec, io.sector_size, &s) < 0 || !s.in_use)
			continue;
		slots[nslots].slot = i;
		memcpy(slots[nslots].name, s.name, sizeof(s.name));
		if (hb_layout_mbox(&l, i, &sector) < 0 ||
		    (rc = hbio_read(&io, sector, sec)) < 0) {
			st = hactl_say(HACTL_EXIT_REFUSED, "disk %s: read mailbox %u: %s",
				  dev, i, strerror(-rc));
			goto out;
		}
		slots[nslots].msg_rc = hb_msg_decode(sec, io.sector_size,
						     &slots[nslots].msg);
		nslots++;
	}
	memset(seen, 0, sizeof(seen));
	memset(beats, 0, sizeof(beats));
	for (uint32_t n = 1; n <= HB_MAX_NODEID; n++) {
		if (hb_layout_beat(&l, n, &sector) < 0 ||
		    (rc = hbio_read(&io, sector, sec)) < 0) {
			st = hactl_say(HACTL_EXIT_REFUSED, "disk %s: read heartbeat %" PRIu32
				  ": %s", dev, n, strerror(-rc));
			goto out;
		}
		rc = hb_beat_decode(sec, io.sector_size, &beats[n]);
		if (rc == 0 && beats[n].nodeid == n)
			seen[n] = true;
		else if (rc != -ENODATA)
			fprintf(stderr, "hactl: disk %s: heartbeat of node %" PRIu32
				" does not decode: %s\n", dev, n,
				rc < 0 ? strerror(-rc) : "written by another node id");
	}
	if (json)
		st = dump_json(dev, &h, &r, &l, slots, nslots, beats, seen,
			       wall_now_ms());
	else
		dump_text(dev, &h, &r, &l, slots, nslots, beats, seen, wall_now_ms());
	if (st == 0 && fflush(stdout) != 0)
		st = hactl_say(HACTL_EXIT_REFUSED, "cannot write output: %s", strerror(errno));
out:
	free(slots);
	hbio_close(&io);
	return st;
}

/* ---- message ---- */

static int cmd_message(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "from", required_argument, NULL, OPT_FROM },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	char from[HB_NAME_MAX];
	struct hb_header h;
	struct hb_region r;
	struct hb_layout l;
	struct hb_msg m, back;
	uint8_t sec[4096];
	const char *dev, *host, *word;
	unsigned slot;
	uint32_t sector;
	struct hbio io;
	int c, rc, st;

	memset(from, 0, sizeof(from));
	if (gethostname(from, sizeof(from) - 1) < 0)
		from[0] = '\0';
	optind = 0;
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case OPT_FROM:
			if (strlen(optarg) >= HB_NAME_MAX)
				return usage("disk message --from: name longer than %d "
					     "characters", HB_NAME_MAX - 1);
			memset(from, 0, sizeof(from));
			memcpy(from, optarg, strlen(optarg));
			break;
		case 'h':
			fputs(disk_usage, stdout);
			return 0;
		case ':':
			return usage("disk message: option %s needs an argument",
				     argv[optind - 1]);
		default:
			return usage("disk message: unknown option %s", argv[optind - 1]);
		}
	}
	if (argc - optind < 3)
		return usage("disk message: expected DEV HOST clear|test|reset|off");
	if (argc - optind > 3)
		return usage("disk message: unexpected argument \"%s\"", argv[optind + 3]);
	dev = argv[optind];
	host = argv[optind + 1];
	word = argv[optind + 2];
	memset(&m, 0, sizeof(m));
	if (hb_msg_type_parse(word, &m.type) < 0 ||
	    !(m.type == HB_MSG_CLEAR || m.type == HB_MSG_TEST ||
	      m.type == HB_MSG_RESET || m.type == HB_MSG_OFF))
		return usage("disk message: expected clear, test, reset or off, "
			     "got \"%s\"", word);
	if (host[0] == '\0' || strlen(host) >= HB_NAME_MAX)
		return usage("disk message: bad host name \"%s\"", host);
	memcpy(m.from, from, sizeof(m.from));

	if ((st = open_dev(&io, dev)) != 0)
		return st;
	rc = hbio_read_meta(&io, &h, &r, &l);
	if (rc < 0) {
		st = meta_fail(dev, rc);
		goto out;
	}
	rc = hbio_slot_find(&io, &l, host, false, &slot);
	if (rc == -ENOENT) {
		st = hactl_say(HACTL_EXIT_NOENT, "disk %s: no slot for host %s", dev, host);
		goto out;
	}
	if (rc < 0) {
		st = hactl_say(HACTL_EXIT_REFUSED, "disk %s: reading slots: %s", dev,
			  strerror(-rc));
		goto out;
	}
	if ((rc = hb_msg_encode(&m, sec, io.sector_size)) < 0 ||
	    (rc = hb_layout_mbox(&l, slot, &sector)) < 0) {
		st = hactl_say(HACTL_EXIT_REFUSED, "disk %s: cannot encode message: %s",
			  dev, strerror(-rc));
		goto out;
	}
	if ((rc = hbio_write(&io, sector, sec)) < 0) {
		st = hactl_say(HACTL_EXIT_REFUSED, "disk %s: write mailbox %u: %s", dev,
			  slot, strerror(-rc));
		goto out;
	}
	/* Read it back (sbd means to, but its check never fires). */
	if ((rc = hbio_read(&io, sector, sec)) < 0 ||
	    (rc = hb_msg_decode(sec, io.sector_size, &back)) < 0 ||
	    back.type != m.type || strcmp(back.from, m.from) != 0) {
		st = hactl_say(HACTL_EXIT_REFUSED, "disk %s: mailbox %u does not read "
			  "back as written%s%s", dev, slot, rc < 0 ? ": " : "",
			  rc < 0 ? strerror(-rc) : "");
		goto out;
	}
	printf("disk %s: %s written to the mailbox of %s (slot %u, from %s)\n",
	       dev, hb_msg_type_str(m.type), host, slot, m.from[0] ? m.from : "-");
	st = fflush(stdout) == 0 ? 0 : HACTL_EXIT_REFUSED;
out:
	hbio_close(&io);
	return st;
}

int hactl_disk(int argc, char **argv, bool json)
{
	const char *sub;

	if (argc < 2)
		return usage("disk: missing subcommand (init, dump, message)");
	sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
		fputs(disk_usage, stdout);
		return 0;
	}
	if (strcmp(sub, "init") == 0)
		return cmd_init(argc - 1, argv + 1);
	if (strcmp(sub, "dump") == 0)
		return cmd_dump(argc - 1, argv + 1, json);
	if (strcmp(sub, "message") == 0)
		return cmd_message(argc - 1, argv + 1);
	return usage("disk: unknown subcommand \"%s\"", sub);
}
