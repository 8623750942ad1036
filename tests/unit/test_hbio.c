/*
 * Unit tests for the heartbeat-disk I/O (src/drivers/hbio.c) and the
 * worker thread (src/drivers/hbworker.c), on real temporary files made
 * with hb_disk_init_image, and the fault-injecting syscall table.
 *
 * Every wait is bounded (WAIT_MS); a worker that never does what we wait
 * for fails the test instead of hanging it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "xenha/hbdisk.h"
#include "xenha/hbworker.h"

#define WAIT_MS 5000
#define INTERVAL_MS 20

static char tmpdir[64];
static char fault_path[128];
static int image_seq;

/* A worker deliberately left stuck by test_stop_while_hung: kept
 * reachable so the leak the header promises is not reported as one. */
static struct hbw *volatile leaked_worker;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void set_fault(const char *word)
{
	FILE *f = fopen(fault_path, "w");

	assert_non_null(f);
	fputs(word, f);
	fputc('\n', f);
	assert_int_equal(fclose(f), 0);
}

static void clear_fault(void)
{
	unlink(fault_path);
}

/* A new disk image file: slots slots, sector size ss; returns its path
 * in path (static storage per call site is the caller's). */
static void make_image(char *path, size_t plen, unsigned slots, uint32_t ss)
{
	struct hb_header h = {
		.minor_version = HB_SBD_MINOR,
		.slots = (uint8_t)slots,
		.sector_size = ss,
		.timeout_watchdog = 5,
		.timeout_allocate = 2,
		.timeout_loop = 1,
		.timeout_msgwait = 10,
	};
	uint8_t *buf;
	size_t len;
	int fd;

	for (int i = 0; i < HB_UUID_LEN; i++)
		h.uuid[i] = (uint8_t)(0x40 + i + image_seq);
	assert_int_equal(hb_disk_image_len(&h, 0, &len), 0);
	buf = malloc(len);
	assert_non_null(buf);
	assert_int_equal(hb_disk_init_image(&h, 0, buf, len), 0);
	snprintf(path, plen, "%s/disk%d.img", tmpdir, image_seq++);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	free(buf);
}

/* Raw access to one sector, bypassing hbio (to check what is on disk). */
static void raw_rw(const char *path, uint32_t sector, uint32_t ss, uint8_t *buf, bool wr)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	ssize_t n;

	assert_true(fd >= 0);
	if (wr)
		n = pwrite(fd, buf, ss, (off_t)sector * ss);
	else
		n = pread(fd, buf, ss, (off_t)sector * ss);
	assert_int_equal(n, (ssize_t)ss);
	close(fd);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_hbio.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(fault_path, sizeof(fault_path), "%s/fault", tmpdir);
	hbio_fault_file(fault_path);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	hbio_fault_file(NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static int test_teardown(void **state)
{
	(void)state;
	clear_fault();
	return 0;
}

/* ---- hbio ---- */

static void test_open_meta_512(void **state)
{
	struct hb_header h;
	struct hb_region r;
	struct hb_layout l;
	struct hbio io;
	char path[128];
	bool direct;
	unsigned slot, slot2;
	uint8_t sec[4096];

	(void)state;
	make_image(path, sizeof(path), 4, 512);
	assert_int_equal(hbio_open(&io, path, NULL, &direct), 0);
	assert_int_equal(hbio_read_meta(&io, &h, &r, &l), 0);
	assert_int_equal(io.sector_size, 512);
	assert_int_equal(h.slots, 4);
	assert_int_equal(h.timeout_msgwait, 10);
	assert_int_equal(l.region, 9);
	assert_int_equal(l.beat_first, 10);
	assert_int_equal(r.beat_first, 10);
	assert_true(((uintptr_t)io.buf % 4096) == 0);

	/* slots: absent, then allocated in the first free one, then found
	 * again without regard to case, as sbd does */
	assert_int_equal(hbio_slot_find(&io, &l, "h1", false, &slot), -ENOENT);
	assert_int_equal(hbio_slot_find(&io, &l, "h1", true, &slot), 0);
	assert_int_equal(slot, 0);
	assert_int_equal(hbio_slot_find(&io, &l, "h2", true, &slot2), 0);
	assert_int_equal(slot2, 1);
	assert_int_equal(hbio_slot_find(&io, &l, "H1", false, &slot), 0);
	assert_int_equal(slot, 0);
	assert_int_equal(hbio_slot_find(&io, &l, "", true, &slot), -EINVAL);
	assert_int_equal(hbio_slot_find(&io, &l, "h3", true, &slot), 0);
	assert_int_equal(hbio_slot_find(&io, &l, "h4", true, &slot), 0);
	assert_int_equal(slot, 3);
	assert_int_equal(hbio_slot_find(&io, &l, "h5", true, &slot), -ENOSPC);

	/* the slot on disk is sbd's: in_use 1, then the name */
	raw_rw(path, 3, 512, sec, false);
	assert_int_equal(sec[0], 1);
	assert_string_equal((char *)sec + 1, "h2");

	/* a write and a read of one sector round-trip */
	memset(sec, 0xa5, 512);
	assert_int_equal(hbio_write(&io, 600 / 512 + 70, sec), 0);
	memset(sec, 0, 512);
	assert_int_equal(hbio_read(&io, 600 / 512 + 70, sec), 0);
	assert_int_equal(sec[0], 0xa5);
	assert_int_equal(sec[511], 0xa5);
	/* past the end of the file: a short read is -EIO */
	assert_int_equal(hbio_read(&io, 100000, sec), -EIO);
	hbio_close(&io);
}

static void test_open_meta_4096(void **state)
{
	struct hb_header h;
	struct hb_region r;
	struct hb_layout l;
	struct hbio io;
	char path[128];
	bool direct;
	unsigned slot;

	(void)state;
	make_image(path, sizeof(path), 3, 4096);
	assert_int_equal(hbio_open(&io, path, NULL, &direct), 0);
	assert_int_equal(hbio_read_meta(&io, &h, &r, &l), 0);
	assert_int_equal(io.sector_size, 4096);
	assert_int_equal(h.sector_size, 4096);
	assert_int_equal(l.beat_first, 8);
	assert_int_equal(hbio_slot_find(&io, &l, "node-a", true, &slot), 0);
	assert_int_equal(slot, 0);
	hbio_close(&io);
}

static void test_meta_errors(void **state)
{
	struct hb_header h;
	struct hb_region r;
	struct hb_layout l;
	struct hbio io;
	char path[128];
	uint8_t sec[512];
	bool direct;

	(void)state;
	/* a plain sbd disk: no region descriptor */
	make_image(path, sizeof(path), 4, 512);
	memset(sec, 0, sizeof(sec));
	raw_rw(path, 9, 512, sec, true);
	assert_int_equal(hbio_open(&io, path, NULL, &direct), 0);
	assert_int_equal(hbio_read_meta(&io, &h, &r, &l), -ENODATA);
	assert_int_equal(h.slots, 4);   /* the header is still given */
	hbio_close(&io);

	/* not an sbd disk at all */
	raw_rw(path, 0, 512, sec, true);
	assert_int_equal(hbio_open(&io, path, NULL, &direct), 0);
	assert_int_equal(hbio_read_meta(&io, &h, &r, &l), -EBADMSG);
	hbio_close(&io);

	/* no such file */
	snprintf(path, sizeof(path), "%s/none", tmpdir);
	assert_int_equal(hbio_open(&io, path, NULL, &direct), -ENOENT);
}

static void test_faulty_table(void **state)
{
	struct hb_header h;
	struct hb_region r;
	struct hb_layout l;
	struct hbio io;
	char path[128];
	uint8_t sec[512], raw[512];
	bool direct;

	(void)state;
	make_image(path, sizeof(path), 4, 512);
	assert_int_equal(hbio_open(&io, path, &hbio_sys_faulty, &direct), 0);
	assert_int_equal(hbio_read_meta(&io, &h, &r, &l), 0);

	set_fault("eio");
	assert_int_equal(hbio_read(&io, 0, sec), -EIO);
	memset(sec, 0x11, sizeof(sec));
	assert_int_equal(hbio_write(&io, 20, sec), -EIO);

	/* "short": half the sector reaches the disk, and it is an error */
	set_fault("short");
	memset(sec, 0x22, sizeof(sec));
	assert_int_equal(hbio_write(&io, 20, sec), -EIO);
	raw_rw(path, 20, 512, raw, false);
	assert_int_equal(raw[0], 0x22);
	assert_int_equal(raw[255], 0x22);
	assert_int_equal(raw[256], 0);

	/* anything else: the real call */
	set_fault("none");
	assert_int_equal(hbio_write(&io, 20, sec), 0);
	raw_rw(path, 20, 512, raw, false);
	assert_int_equal(raw[511], 0x22);
	clear_fault();
	assert_int_equal(hbio_read(&io, 20, sec), 0);
	hbio_close(&io);

	set_fault("eio");
	assert_int_equal(hbio_open(&io, path, &hbio_sys_faulty, &direct), -EIO);
}

/* ---- the worker ---- */

static struct hbw *start_worker(const char *path, uint32_t nodeid, const char *name,
				const struct hbio_sys *sys)
{
	struct hbw_config cfg = {
		.device = path,
		.sys = sys,
		.nodeid = nodeid,
		.name = name,
		.interval_ms = INTERVAL_MS,
	};
	struct hbw *w = NULL;

	assert_int_equal(hbw_start(&cfg, &w), 0);
	assert_non_null(w);
	return w;
}

typedef bool (*pred_fn)(const struct hbw_report *r, const void *arg);

/* Poll snapshots until pred holds; false after WAIT_MS. */
static bool wait_for(struct hbw *w, pred_fn pred, const void *arg, struct hbw_report *r)
{
	uint64_t end = now_ms() + WAIT_MS;

	for (;;) {
		hbw_snapshot(w, r);
		if (pred(r, arg))
			return true;
		if (now_ms() > end)
			return false;
		sleep_ms(5);
	}
}

struct seen_arg {
	uint32_t nodeid;
	uint64_t counter_above;
};

static bool pred_sees(const struct hbw_report *r, const void *arg)
{
	const struct seen_arg *a = arg;

	return r->peers[a->nodeid].seen &&
	       r->peers[a->nodeid].beat.counter > a->counter_above;
}

static bool pred_cycles(const struct hbw_report *r, const void *arg)
{
	return r->cycles >= *(const uint64_t *)arg;
}

static void test_two_workers(void **state)
{
	static struct hbw_report r1, r2;
	struct hbw_view v = { .liveset = 0x3, .quorate = true, .ring_id = 77,
			      .paths_total = 2, .paths_up = 1 };
	struct seen_arg a;
	struct hbw *w1, *w2;
	char path[128];
	uint64_t c0, n;
	struct pollfd pfd;
	uint64_t ev;

	(void)state;
	make_image(path, sizeof(path), 4, 512);
	w1 = start_worker(path, 1, "h1", NULL);
	w2 = start_worker(path, 2, "h2", NULL);
	hbw_set_view(w1, &v);

	/* the notify fd fires after a cycle */
	pfd.fd = hbw_notify_fd(w1);
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
	assert_int_equal(read(pfd.fd, &ev, sizeof(ev)), (ssize_t)sizeof(ev));
	assert_true(ev >= 1);

	/* each sees the other's beat, and the counter moves */
	a.nodeid = 1;
	a.counter_above = 0;
	assert_true(wait_for(w2, pred_sees, &a, &r2));
	c0 = r2.peers[1].beat.counter;
	a.counter_above = c0 + 2;
	assert_true(wait_for(w2, pred_sees, &a, &r2));
	assert_true(r2.peers[1].changed_ms > 0);
	assert_string_equal(r2.peers[1].beat.name, "h1");
	a.nodeid = 2;
	a.counter_above = 3;
	assert_true(wait_for(w1, pred_sees, &a, &r1));
	assert_string_equal(r1.peers[2].beat.name, "h2");

	/* h1's view reaches h2 */
	a.nodeid = 1;
	a.counter_above = r2.peers[1].beat.counter + 1;
	assert_true(wait_for(w2, pred_sees, &a, &r2));
	assert_int_equal(r2.peers[1].beat.liveset, 0x3);
	assert_true(r2.peers[1].beat.quorate);
	assert_int_equal(r2.peers[1].beat.ring_id, 77);
	assert_int_equal(r2.peers[1].beat.paths_total, 2);
	assert_int_equal(r2.peers[1].beat.paths_up, 1);

	/* a node that never wrote is not seen */
	assert_false(r2.peers[3].seen);
	assert_true(r2.meta_ok);
	assert_int_equal(r2.own_slot, 1);
	assert_int_equal(r1.own_slot, 0);
	assert_true(r2.write_ok_ms > 0);
	assert_true(r2.read_ok_ms > 0);
	assert_int_equal(r2.last_err, 0);

	/* slots are learnt by name after a slot scan (every 10th cycle) */
	n = r2.cycles + 11;
	assert_true(wait_for(w2, pred_cycles, &n, &r2));
	assert_int_equal(r2.peers[1].slot, 0);
	assert_int_equal(r2.peers[2].slot, 1);
	assert_int_equal(r2.peers[1].mbox, HB_MSG_CLEAR);

	hbw_stop(w1);
	hbw_stop(w2);
}

struct msg_arg {
	enum hb_msg_type type;
	const char *from;
};

static bool pred_own_msg(const struct hbw_report *r, const void *arg)
{
	const struct msg_arg *a = arg;

	return r->own_msg.type == a->type &&
	       (a->from == NULL || strcmp(r->own_msg.from, a->from) == 0);
}

static bool pred_pill_done(const struct hbw_report *r, const void *arg)
{
	return r->pill_seq == *(const uint64_t *)arg && r->pill_rc != 1;
}

static bool pred_peer_mbox(const struct hbw_report *r, const void *arg)
{
	const struct msg_arg *a = arg;

	return r->peers[2].slot >= 0 && r->peers[2].mbox == a->type;
}

static void test_messages(void **state)
{
	static struct hbw_report r1, r2;
	struct msg_arg m;
	struct seen_arg a = { .nodeid = 2, .counter_above = 0 };
	struct hbw *w1, *w2;
	char path[128];
	int64_t seq;
	uint64_t useq;
	uint8_t sec[512];
	struct hb_msg disk;

	(void)state;
	make_image(path, sizeof(path), 4, 512);
	w1 = start_worker(path, 1, "h1", NULL);
	w2 = start_worker(path, 2, "h2", NULL);

	assert_int_equal(hbw_send_msg(w1, "nobody", HB_MSG_RESET, NULL), -ENOENT);
	assert_int_equal(hbw_send_msg(w1, "h2", (enum hb_msg_type)9, NULL), -EINVAL);
	assert_int_equal(hbw_send_msg(w1, NULL, HB_MSG_RESET, NULL), -EINVAL);

	/* h2's slot was allocated after h1 scanned; the next scan finds it */
	useq = 0;
	for (int i = 0; i < WAIT_MS / 10; i++) {
		seq = hbw_send_msg(w1, "h2", HB_MSG_TEST, NULL);
		if (seq > 0)
			break;
		assert_int_equal(seq, -ENOENT);
		sleep_ms(10);
	}
	assert_true(seq > 0);
	useq = (uint64_t)seq;
	assert_true(wait_for(w1, pred_pill_done, &useq, &r1));
	assert_int_equal(r1.pill_rc, 0);
	assert_true(r1.pill_done_ms > 0);

	m.type = HB_MSG_TEST;
	m.from = "h1";
	assert_true(wait_for(w2, pred_own_msg, &m, &r2));
	assert_true(r2.own_msg_ms > 0);

	/* the worker never clears it itself */
	useq = r2.cycles + 3;
	assert_true(wait_for(w2, pred_cycles, &useq, &r2));
	assert_int_equal(r2.own_msg.type, HB_MSG_TEST);

	/* h1 sees h2's mailbox content by slot */
	assert_true(wait_for(w1, pred_sees, &a, &r1));
	assert_true(wait_for(w1, pred_peer_mbox, &m, &r1));

	/* the caller clears it */
	hbw_clear_own(w2);
	m.type = HB_MSG_CLEAR;
	m.from = NULL;
	assert_true(wait_for(w2, pred_own_msg, &m, &r2));
	assert_int_equal(r2.own_msg_ms, 0);

	/* a reset with an explicit sender; on disk as sbd writes it */
	seq = hbw_send_msg(w1, "H2", HB_MSG_RESET, "fencer");
	assert_true(seq > 0);
	useq = (uint64_t)seq;
	assert_true(wait_for(w1, pred_pill_done, &useq, &r1));
	assert_int_equal(r1.pill_rc, 0);
	m.type = HB_MSG_RESET;
	m.from = "fencer";
	assert_true(wait_for(w2, pred_own_msg, &m, &r2));
	raw_rw(path, 4, 512, sec, false);     /* mailbox of slot 1 */
	assert_int_equal(hb_msg_decode(sec, 512, &disk), 0);
	assert_int_equal(disk.type, HB_MSG_RESET);
	assert_string_equal(disk.from, "fencer");

	hbw_stop(w1);
	hbw_stop(w2);
}

/* A message left in our mailbox from before: reported once with the
 * first snapshot, and cleared on disk by hbw_start. */
static void test_stale_message_at_start(void **state)
{
	static struct hbw_report r;
	struct hb_header h;
	struct hb_region rg;
	struct hb_layout l;
	struct hb_msg m = { .type = HB_MSG_OFF };
	struct hbio io;
	struct hbw *w;
	char path[128];
	uint8_t sec[512];
	unsigned slot;
	bool direct;
	uint64_t n;

	(void)state;
	make_image(path, sizeof(path), 4, 512);
	assert_int_equal(hbio_open(&io, path, NULL, &direct), 0);
	assert_int_equal(hbio_read_meta(&io, &h, &rg, &l), 0);
	assert_int_equal(hbio_slot_find(&io, &l, "h7", true, &slot), 0);
	memcpy(m.from, "old", 4);
	assert_int_equal(hb_msg_encode(&m, sec, 512), 0);
	assert_int_equal(hbio_write(&io, 2 + 2 * slot, sec), 0);
	hbio_close(&io);

	w = start_worker(path, 7, "h7", NULL);
	/* let cycles run first: the message must still be in the first
	 * snapshot */
	n = 3;
	sleep_ms(INTERVAL_MS * 4);
	hbw_snapshot(w, &r);
	assert_int_equal(r.own_msg.type, HB_MSG_OFF);
	assert_string_equal(r.own_msg.from, "old");
	assert_true(r.own_msg_ms > 0);
	raw_rw(path, 2 + 2 * slot, 512, sec, false);
	assert_int_equal(hb_msg_decode(sec, 512, &m), 0);
	assert_int_equal(m.type, HB_MSG_CLEAR);
	/* once reported, the next cycles show the mailbox as it is */
	n = r.cycles + 2;
	assert_true(wait_for(w, pred_cycles, &n, &r));
	assert_int_equal(r.own_msg.type, HB_MSG_CLEAR);
	hbw_stop(w);
}

static bool pred_err(const struct hbw_report *r, const void *arg)
{
	return r->last_err == *(const int *)arg;
}

static bool pred_write_after(const struct hbw_report *r, const void *arg)
{
	return r->write_ok_ms > *(const uint64_t *)arg && r->last_err == 0;
}

static void test_eio(void **state)
{
	static struct hbw_report r;
	struct hbw *w;
	char path[128];
	uint64_t ok_ms, cyc;
	int want = -EIO;

	(void)state;
	make_image(path, sizeof(path), 4, 512);
	w = start_worker(path, 3, "h3", &hbio_sys_faulty);
	cyc = 2;
	assert_true(wait_for(w, pred_cycles, &cyc, &r));
	assert_true(r.write_ok_ms > 0);
	assert_int_equal(r.last_err, 0);

	set_fault("eio");
	assert_true(wait_for(w, pred_err, &want, &r));
	assert_non_null(strstr(r.last_err_text, "Input/output error"));
	/* after a full failing cycle write_ok_ms no longer moves */
	cyc = r.cycles + 2;
	assert_true(wait_for(w, pred_cycles, &cyc, &r));
	ok_ms = r.write_ok_ms;
	cyc = r.cycles + 5;
	assert_true(wait_for(w, pred_cycles, &cyc, &r));
	assert_int_equal(r.write_ok_ms, ok_ms);
	assert_int_equal(r.last_err, -EIO);
	assert_non_null(strstr(r.last_err_text, ": Input/output error"));

	clear_fault();
	assert_true(wait_for(w, pred_write_after, &ok_ms, &r));
	assert_string_equal(r.last_err_text, "");
	hbw_stop(w);
}

static bool pred_beat_err(const struct hbw_report *r, const void *arg)
{
	(void)arg;
	return strcmp(r->last_err_text, "write beat: Input/output error") == 0;
}

static void test_short_write(void **state)
{
	static struct hbw_report r;
	struct hbw *w;
	char path[128];
	uint64_t cyc = 2, ok_ms;

	(void)state;
	make_image(path, sizeof(path), 4, 512);
	w = start_worker(path, 4, "h4", &hbio_sys_faulty);
	assert_true(wait_for(w, pred_cycles, &cyc, &r));
	set_fault("short");
	/* only writes are short; the beat write is the one to fail (the
	 * reads after it succeed and do not overwrite the text) */
	assert_true(wait_for(w, pred_beat_err, NULL, &r));
	assert_int_equal(r.last_err, -EIO);
	ok_ms = r.write_ok_ms;
	clear_fault();
	assert_true(wait_for(w, pred_write_after, &ok_ms, &r));
	hbw_stop(w);
}

/* Busy in one call for 200 ms: the hung one, not a call that was
 * already running when the fault was set. */
static bool pred_hung(const struct hbw_report *r, const void *arg)
{
	(void)arg;
	return r->io_busy && now_ms() - r->io_since_ms >= 200;
}

static bool pred_not_busy_cycles(const struct hbw_report *r, const void *arg)
{
	return !r->io_busy && r->cycles >= *(const uint64_t *)arg;
}

static void test_hang(void **state)
{
	static struct hbw_report r;
	struct hbw *w;
	char path[128];
	uint64_t cyc = 2, since, t0, dt, worst = 0, cycles_at;

	(void)state;
	make_image(path, sizeof(path), 4, 512);
	w = start_worker(path, 5, "h5", &hbio_sys_faulty);
	assert_true(wait_for(w, pred_cycles, &cyc, &r));

	set_fault("hang");
	assert_true(wait_for(w, pred_hung, NULL, &r));
	since = r.io_since_ms;
	cycles_at = r.cycles;
	assert_true(since > 0);
	/* the caller is never blocked, and the age of the call grows */
	for (int i = 0; i < 30; i++) {
		t0 = now_ms();
		hbw_snapshot(w, &r);
		dt = now_ms() - t0;
		if (dt > worst)
			worst = dt;
		assert_true(r.io_busy);
		assert_int_equal(r.io_since_ms, since);
		sleep_ms(10);
	}
	assert_true(worst < 50);
	assert_true(now_ms() - r.io_since_ms >= 450);
	assert_int_equal(r.cycles, cycles_at);

	clear_fault();
	cyc = cycles_at + 2;
	assert_true(wait_for(w, pred_not_busy_cycles, &cyc, &r));
	assert_int_equal(r.last_err, 0);
	hbw_stop(w);
}

/* hbw_stop returns within about a second even when the thread is stuck. */
static void test_stop_while_hung(void **state)
{
	static struct hbw_report r;
	struct hbw *w;
	char path[128];
	uint64_t cyc = 1, t0, dt;

	(void)state;
	make_image(path, sizeof(path), 4, 512);
	w = start_worker(path, 6, "h6", &hbio_sys_faulty);
	assert_true(wait_for(w, pred_cycles, &cyc, &r));
	set_fault("hang");
	assert_true(wait_for(w, pred_hung, NULL, &r));
	leaked_worker = w;
	t0 = now_ms();
	hbw_stop(w);
	dt = now_ms() - t0;
	assert_true(dt >= 900);
	assert_true(dt < 2000);
	/* let the detached thread run out (it sees the stop flag) */
	clear_fault();
	sleep_ms(300);
}

static void test_start_errors(void **state)
{
	struct hbw_config cfg = { .nodeid = 1, .name = "h1", .interval_ms = 10 };
	struct hbw *w = (struct hbw *)1;
	char path[128];
	uint8_t sec[512];

	(void)state;
	snprintf(path, sizeof(path), "%s/absent", tmpdir);
	cfg.device = path;
	assert_int_equal(hbw_start(&cfg, &w), -ENOENT);
	assert_null(w);

	make_image(path, sizeof(path), 1, 512);
	cfg.nodeid = 0;
	assert_int_equal(hbw_start(&cfg, &w), -EINVAL);
	cfg.nodeid = 65;
	assert_int_equal(hbw_start(&cfg, &w), -EINVAL);
	cfg.nodeid = 1;
	cfg.name = "";
	assert_int_equal(hbw_start(&cfg, &w), -EINVAL);

	/* one slot, taken by someone else: no room for us */
	cfg.name = "h1";
	assert_int_equal(hbw_start(&cfg, &w), 0);
	hbw_stop(w);
	cfg.name = "h2";
	assert_int_equal(hbw_start(&cfg, &w), -ENOSPC);

	/* a plain sbd disk is refused */
	memset(sec, 0, sizeof(sec));
	raw_rw(path, 3, 512, sec, true);
	cfg.name = "h1";
	assert_int_equal(hbw_start(&cfg, &w), -ENODATA);

	/* eio on the first step is returned */
	make_image(path, sizeof(path), 4, 512);
	cfg.sys = &hbio_sys_faulty;
	set_fault("eio");
	assert_int_equal(hbw_start(&cfg, &w), -EIO);
}

static void test_worker_4096(void **state)
{
	static struct hbw_report r;
	struct seen_arg a = { .nodeid = 9, .counter_above = 2 };
	struct hbw *w;
	char path[128];

	(void)state;
	make_image(path, sizeof(path), 8, 4096);
	w = start_worker(path, 9, "big", NULL);
	assert_true(wait_for(w, pred_sees, &a, &r));
	assert_int_equal(r.hdr.sector_size, 4096);
	assert_int_equal(r.layout.sector_size, 4096);
	assert_string_equal(r.peers[9].beat.name, "big");
	hbw_stop(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_open_meta_512, test_teardown),
		cmocka_unit_test_teardown(test_open_meta_4096, test_teardown),
		cmocka_unit_test_teardown(test_meta_errors, test_teardown),
		cmocka_unit_test_teardown(test_faulty_table, test_teardown),
		cmocka_unit_test_teardown(test_two_workers, test_teardown),
		cmocka_unit_test_teardown(test_messages, test_teardown),
		cmocka_unit_test_teardown(test_stale_message_at_start, test_teardown),
		cmocka_unit_test_teardown(test_eio, test_teardown),
		cmocka_unit_test_teardown(test_short_write, test_teardown),
		cmocka_unit_test_teardown(test_hang, test_teardown),
		cmocka_unit_test_teardown(test_start_errors, test_teardown),
		cmocka_unit_test_teardown(test_worker_4096, test_teardown),
		cmocka_unit_test_teardown(test_stop_while_hung, test_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
