/*
 * hbdisk_tool: run the heartbeat-disk codec on a file or block device,
 * for tests/unit/test_hbdisk_sbd.sh (the sbd compatibility test).  Not
 * installed.
 *
 *   hbdisk_tool init FILE SECTOR_SIZE SLOTS WATCHDOG ALLOCATE LOOP MSGWAIT [NAME...]
 *       write a new image made by hb_disk_init_image to FILE; slot i gets
 *       NAME i (as `sbd allocate` would), and node id i+1 a heartbeat
 *   hbdisk_tool header DEV SECTOR_SIZE
 *   hbdisk_tool slot   DEV SECTOR_SIZE SLOT
 *   hbdisk_tool msg    DEV SECTOR_SIZE SLOT
 *   hbdisk_tool region DEV SECTOR_SIZE
 *   hbdisk_tool beat   DEV SECTOR_SIZE NODEID
 *       decode one sector and print it as key=value on one line
 *
 * The reading commands find the sector from the header on DEV, as
 * xenha-fenced will.  Exit 0 on success, 1 when the codec refuses
 * (prints error=... rc=...), 2 on usage or I/O errors.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xenha/hbdisk.h"

/* "xenha-hbdisk-tst" */
static const uint8_t tool_uuid[HB_UUID_LEN] = {
	0x78, 0x65, 0x6e, 0x68, 0x61, 0x2d, 0x48, 0x62,
	0x84, 0x69, 0x73, 0x6b, 0x2d, 0x74, 0x73, 0x74,
};

static int usage(void)
{
	fprintf(stderr,
		"usage: hbdisk_tool init FILE SECTOR_SIZE SLOTS WATCHDOG ALLOCATE LOOP MSGWAIT [NAME...]\n"
		"       hbdisk_tool header|region DEV SECTOR_SIZE\n"
		"       hbdisk_tool slot|msg DEV SECTOR_SIZE SLOT\n"
		"       hbdisk_tool beat DEV SECTOR_SIZE NODEID\n");
	return 2;
}

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static void print_uuid(const uint8_t *u)
{
	int i;

	for (i = 0; i < HB_UUID_LEN; i++)
		printf("%s%02x", (i == 4 || i == 6 || i == 8 || i == 10) ? "-" : "", u[i]);
}

static int refused(const char *what, int rc)
{
	printf("error=%s rc=%d (%s)\n", what, rc, strerror(-rc));
	return 1;
}

/* ---- init ---- */

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int cmd_init(int argc, char **argv)
{
	struct hb_header h;
	struct hb_layout l;
	uint32_t v[6], sec;
	uint8_t *img;
	size_t len;
	int i, fd, rc;

	if (argc < 9)
		return usage();
	for (i = 0; i < 6; i++)
		if (parse_u32(argv[3 + i], &v[i]) < 0)
			return usage();
	memset(&h, 0, sizeof(h));
	h.minor_version = HB_SBD_MINOR;
	h.sector_size = v[0];
	h.slots = v[1] <= HB_MAX_SLOTS ? (uint8_t)v[1] : 0;
	h.timeout_watchdog = v[2];
	h.timeout_allocate = v[3];
	h.timeout_loop = v[4];
	h.timeout_msgwait = v[5];
	memcpy(h.uuid, tool_uuid, HB_UUID_LEN);
	if (argc - 9 > h.slots || argc - 9 > HB_MAX_NODEID) {
		fprintf(stderr, "hbdisk_tool: more names than slots\n");
		return 2;
	}
	rc = hb_disk_image_len(&h, 0, &len);
	if (rc < 0)
		return refused("image_len", rc);
	img = malloc(len);
	if (img == NULL)
		return 2;
	rc = hb_disk_init_image(&h, 0, img, len);
	if (rc < 0) {
		free(img);
		return refused("init_image", rc);
	}
	(void)hb_layout(h.slots, h.sector_size, &l);
	for (i = 9; i < argc; i++) {
		unsigned idx = (unsigned)(i - 9);
		struct hb_slot s;
		struct hb_beat b;

		memset(&s, 0, sizeof(s));
		s.in_use = true;
		snprintf(s.name, sizeof(s.name), "%s", argv[i]);
		if (strlen(argv[i]) >= sizeof(s.name) ||
		    hb_layout_slot(&l, idx, &sec) < 0 ||
		    (rc = hb_slot_encode(&s, img + (size_t)sec * h.sector_size,
					 h.sector_size)) < 0) {
			free(img);
			return refused("slot_encode", rc < 0 ? rc : -EINVAL);
		}
		memset(&b, 0, sizeof(b));
		b.nodeid = idx + 1;
		memcpy(b.name, s.name, sizeof(b.name));
		b.counter = 1000 + idx;
		b.mono_ms = 5000;
		b.wall_ms = 1700000000000ull;
		b.liveset = (argc - 9 >= 64) ? UINT64_MAX : (1ull << (argc - 9)) - 1;
		b.quorate = true;
		b.ring_id = 42;
		b.paths_total = 2;
		b.paths_up = 2;
		(void)hb_layout_beat(&l, b.nodeid, &sec);
		rc = hb_beat_encode(&b, img + (size_t)sec * h.sector_size, h.sector_size);
		if (rc < 0) {
			free(img);
			return refused("beat_encode", rc);
		}
	}
	fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, img, len) < 0 || fsync(fd) < 0) {
		perror(argv[2]);
		if (fd >= 0)
			close(fd);
		free(img);
		return 2;
	}
	close(fd);
	free(img);
	printf("image bytes=%zu sectors=%zu sbd_sectors=%u region=%u beat_first=%u lease_first=%u\n",
	       len, len / h.sector_size, l.sbd_sectors, l.region, l.beat_first, l.lease_first);
	return 0;
}

/* ---- reading ---- */

struct dev {
	int fd;
	uint32_t ss;
	uint8_t *buf;   /* one sector, aligned for O_DIRECT */
};

/* O_DIRECT so we see what sbd wrote with O_DIRECT, not a stale page
 * cache; files on filesystems without it are read normally. */
static int dev_open(struct dev *d, const char *path, uint32_t ss)
{
	void *p = NULL;

	if (!hb_sector_size_ok(ss))
		return -EINVAL;
	d->ss = ss;
	d->fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (d->fd < 0 && errno == EINVAL)
		d->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (d->fd < 0)
		return -errno;
	if (posix_memalign(&p, 4096, ss) != 0) {
		close(d->fd);
		return -ENOMEM;
	}
	d->buf = p;
	return 0;
}

static void dev_close(struct dev *d)
{
	close(d->fd);
	free(d->buf);
}

static int dev_read(struct dev *d, uint32_t sector)
{
	ssize_t n = pread(d->fd, d->buf, d->ss, (off_t)sector * d->ss);

	if (n < 0)
		return -errno;
	return n == (ssize_t)d->ss ? 0 : -EIO;
}

static int cmd_read(int argc, char **argv)
{
	const char *cmd = argv[1];
	struct hb_header h;
	struct hb_layout l;
	struct dev d;
	uint32_t ss, arg = 0, sec;
	int rc, ret = 0;

	if (argc != 4 && argc != 5)
		return usage();
	if (parse_u32(argv[3], &ss) < 0 || (argc == 5 && parse_u32(argv[4], &arg) < 0))
		return usage();
	rc = dev_open(&d, argv[2], ss);
	if (rc < 0) {
		fprintf(stderr, "hbdisk_tool: %s: %s\n", argv[2], strerror(-rc));
		return 2;
	}
	if ((rc = dev_read(&d, 0)) < 0) {
		fprintf(stderr, "hbdisk_tool: read: %s\n", strerror(-rc));
		dev_close(&d);
		return 2;
	}
	rc = hb_header_decode(d.buf, ss, &h);
	if (rc < 0) {
		dev_close(&d);
		return refused("header", rc);
	}
	(void)hb_layout(h.slots, h.sector_size, &l);

	if (strcmp(cmd, "header") == 0 && argc == 4) {
		const char *why;

		printf("version=%d.%u slots=%u sector_size=%" PRIu32 " watchdog=%" PRIu32
		       " allocate=%" PRIu32 " loop=%" PRIu32 " msgwait=%" PRIu32 " uuid=",
		       HB_SBD_VERSION, h.minor_version, h.slots, h.sector_size,
		       h.timeout_watchdog, h.timeout_allocate, h.timeout_loop,
		       h.timeout_msgwait);
		print_uuid(h.uuid);
		rc = hb_timeouts_check(&h, &why);
		printf(" timeouts=%s\n", rc == 0 ? "ok" : why);
		goto out;
	}
	if (strcmp(cmd, "slot") == 0 && argc == 5) {
		struct hb_slot s;

		if ((rc = hb_layout_slot(&l, arg, &sec)) < 0 || (rc = dev_read(&d, sec)) < 0 ||
		    (rc = hb_slot_decode(d.buf, ss, &s)) < 0) {
			ret = refused("slot", rc);
			goto out;
		}
		printf("slot=%" PRIu32 " sector=%" PRIu32 " in_use=%d name=%s\n",
		       arg, sec, s.in_use, s.name);
		goto out;
	}
	if (strcmp(cmd, "msg") == 0 && argc == 5) {
		struct hb_msg m;

		if ((rc = hb_layout_mbox(&l, arg, &sec)) < 0 || (rc = dev_read(&d, sec)) < 0 ||
		    (rc = hb_msg_decode(d.buf, ss, &m)) < 0) {
			ret = refused("msg", rc);
			goto out;
		}
		printf("slot=%" PRIu32 " sector=%" PRIu32 " type=%s from=%s\n",
		       arg, sec, hb_msg_type_str(m.type), m.from);
		goto out;
	}
	if (strcmp(cmd, "region") == 0 && argc == 4) {
		struct hb_region r;

		if ((rc = dev_read(&d, l.region)) < 0 ||
		    (rc = hb_region_decode(d.buf, ss, &r)) < 0 ||
		    (rc = hb_region_check(&h, &r)) < 0) {
			ret = refused("region", rc);
			goto out;
		}
		printf("region=%" PRIu32 " beat_first=%" PRIu32 " beat_count=%" PRIu32
		       " lease_first=%" PRIu32 " lease_count=%" PRIu32 "\n",
		       l.region, r.beat_first, r.beat_count, r.lease_first, r.lease_count);
		goto out;
	}
	if (strcmp(cmd, "beat") == 0 && argc == 5) {
		struct hb_beat b;

		if ((rc = hb_layout_beat(&l, arg, &sec)) < 0 || (rc = dev_read(&d, sec)) < 0 ||
		    (rc = hb_beat_decode(d.buf, ss, &b)) < 0) {
			ret = refused("beat", rc);
			goto out;
		}
		printf("nodeid=%" PRIu32 " name=%s counter=%" PRIu64 " liveset=0x%" PRIx64
		       " quorate=%d paths=%u/%u\n", b.nodeid, b.name, b.counter,
		       b.liveset, b.quorate, b.paths_up, b.paths_total);
		goto out;
	}
	ret = usage();
out:
	dev_close(&d);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "init") == 0)
		return cmd_init(argc, argv);
	return cmd_read(argc, argv);
}
