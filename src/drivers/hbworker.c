/*
 * The heartbeat-disk worker (include/xenha/hbworker.h): one thread per
 * fenced that does all the disk I/O, so the decision loop that pets the
 * watchdog never waits on the disk.  It is sbd's servant idea with the
 * results handed over in a snapshot instead of an exit status.
 *
 * Concurrency: everything the caller can see or ask for lives in struct
 * hbw under w->mu: the report, the view to write, the queued messages and
 * the stop flag.  The thread holds the mutex only to copy values in and
 * out, never across a disk call; before each call it marks io_busy and
 * io_since_ms so the caller can see a hung call while hbw_snapshot still
 * returns at once.  The I/O state itself (the hbio, the sector buffers,
 * the beat counter) belongs to the thread alone.
 *
 * Timing: cycles start at absolute deadlines on CLOCK_MONOTONIC, so they
 * do not drift by the length of each cycle.  The wait is a condition
 * variable on a CLOCK_MONOTONIC clock rather than clock_nanosleep: the
 * same absolute deadline, but hbw_stop can wake it at once.  A cycle that
 * overran its deadline is followed by one more at once; if that one is
 * late too the schedule restarts from now, so a slow disk never produces
 * a burst of back-to-back cycles.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "xenha/hbdisk.h"
#include "xenha/hbworker.h"

#define SECTOR_MAX 4096u
#define SLOT_SCAN_EVERY 3       /* cycles between re-reads of the sbd slots (a new host's slot must be known soon: pills go to it) */
#define STOP_JOIN_MS 1000

struct hbw_slotinfo {
	bool in_use;
	char name[HB_NAME_MAX];
	enum hb_msg_type mbox;
};

struct hbw_pending {
	bool queued;
	struct hb_msg msg;
};

struct hbw {
	/* fixed after start */
	char *device;
	char name[HB_NAME_MAX];
	uint32_t nodeid;
	uint32_t interval_ms;
	uint64_t (*now_ms)(void);
	uint64_t (*wall_ms)(void);
	int efd;
	pthread_t thread;

	/* the thread's alone */
	struct hbio io;
	uint64_t counter;
	uint8_t sec[SECTOR_MAX];
	struct hbw_slotinfo scan[HB_MAX_SLOTS];  /* filled by a scan, published under mu */
	struct hbw_pending batch[HB_MAX_SLOTS];
	bool cycle_failed;                       /* a call failed in this cycle */
	bool cycle_decode_err;                   /* a sector did not decode */

	/* under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	struct hbw_report rep;
	struct hbw_view view;
	struct hbw_slotinfo slots[HB_MAX_SLOTS]; /* the last slot scan */
	bool slots_known;
	struct hbw_pending pending[HB_MAX_SLOTS];/* index: target slot */
	bool any_pending;
	bool clear_own;
	uint64_t next_seq;
	bool start_msg_unseen;                   /* own_msg from hbw_start not yet snapshotted */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- one disk call, visible to the caller while it runs ---- */

static void busy(struct hbw *w, bool on)
{
	uint64_t now = w->now_ms();

	pthread_mutex_lock(&w->mu);
	w->rep.io_busy = on;
	w->rep.io_since_ms = on ? now : 0;
	pthread_mutex_unlock(&w->mu);
}

__attribute__((format(printf, 3, 4)))
static void note_err(struct hbw *w, int rc, const char *fmt, ...)
{
	char what[96];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&w->mu);
	w->rep.last_err = rc;
	snprintf(w->rep.last_err_text, sizeof(w->rep.last_err_text), "%s: %s",
		 what, strerror(-rc));
	pthread_mutex_unlock(&w->mu);
}

/* One sector of I/O on w->sec; a failure marks the cycle and is reported
 * as "WHAT" or "WHAT ARG" (arg >= 0). */
static int w_io(struct hbw *w, bool write, uint32_t sector, const char *what, int arg)
{
	int rc;

	busy(w, true);
	rc = write ? hbio_write(&w->io, sector, w->sec) : hbio_read(&w->io, sector, w->sec);
	busy(w, false);
	if (rc < 0) {
		w->cycle_failed = true;
		if (arg >= 0)
			note_err(w, rc, "%s %d", what, arg);
		else
			note_err(w, rc, "%s", what);
	}
	return rc;
}

static int w_read(struct hbw *w, uint32_t sector, const char *what, int arg)
{
	return w_io(w, false, sector, what, arg);
}

static int w_write(struct hbw *w, uint32_t sector, const char *what, int arg)
{
	return w_io(w, true, sector, what, arg);
}

static void decode_err(struct hbw *w, int rc, const char *what, int arg)
{
	w->cycle_decode_err = true;
	/* The text explains last_err while a call has failed this cycle. */
	if (w->cycle_failed)
		return;
	pthread_mutex_lock(&w->mu);
	snprintf(w->rep.last_err_text, sizeof(w->rep.last_err_text),
		 "decode %s %d: %s", what, arg, strerror(-rc));
	pthread_mutex_unlock(&w->mu);
}

/* ---- the sbd slots ---- */

/* Map every seen peer to its slot by name (sbd compares names without
 * case).  Under mu. */
static void map_peers(struct hbw *w)
{
	for (unsigned n = 1; n <= HB_MAX_NODEID; n++) {
		struct hbw_peer *p = &w->rep.peers[n];

		p->slot = -1;
		p->mbox = HB_MSG_CLEAR;
		if (!p->seen || !w->slots_known)
			continue;
		for (unsigned i = 0; i < w->rep.layout.slots; i++) {
			if (w->slots[i].in_use &&
			    strcasecmp(w->slots[i].name, p->beat.name) == 0) {
				p->slot = (int)i;
				p->mbox = w->slots[i].mbox;
				break;
			}
		}
	}
}

/*
 * Read every slot and the mailbox of every used one.  A slot that does
 * not decode counts as unknown; a mailbox that does not decode (an
 * unknown message value) is shown as clear and reported.  Publishes the
 * table only when every read succeeded.
 */
static int scan_slots(struct hbw *w)
{
	const struct hb_layout *l = &w->rep.layout;
	struct hb_slot s;
	struct hb_msg m;
	uint32_t sector;
	int rc;

	memset(w->scan, 0, sizeof(w->scan));
	for (unsigned i = 0; i < l->slots; i++) {
		if ((rc = hb_layout_slot(l, i, &sector)) < 0)
			return rc;
		if ((rc = w_read(w, sector, "read slot", (int)i)) < 0)
			return rc;
		rc = hb_slot_decode(w->sec, w->io.sector_size, &s);
		if (rc < 0) {
			decode_err(w, rc, "slot", (int)i);
			continue;
		}
		if (!s.in_use)
			continue;
		w->scan[i].in_use = true;
		memcpy(w->scan[i].name, s.name, sizeof(s.name));
		if ((rc = hb_layout_mbox(l, i, &sector)) < 0)
			return rc;
		if ((rc = w_read(w, sector, "read mailbox", (int)i)) < 0)
			return rc;
		rc = hb_msg_decode(w->sec, w->io.sector_size, &m);
		if (rc < 0) {
			decode_err(w, rc, "mailbox", (int)i);
			continue;
		}
		w->scan[i].mbox = m.type;
	}
	pthread_mutex_lock(&w->mu);
	memcpy(w->slots, w->scan, sizeof(w->slots));
	w->slots_known = true;
	map_peers(w);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

/* ---- the cycle ---- */

/* Step 1: the queued messages (and a clear of our own mailbox). */
static void write_messages(struct hbw *w)
{
	const struct hb_layout *l = &w->rep.layout;
	bool clear_own, any = false;
	uint64_t seq;
	uint32_t sector;
	int rc, first_err = 0;

	pthread_mutex_lock(&w->mu);
	memcpy(w->batch, w->pending, sizeof(w->batch));
	memset(w->pending, 0, sizeof(w->pending));
	any = w->any_pending;
	w->any_pending = false;
	clear_own = w->clear_own;
	w->clear_own = false;
	seq = w->rep.pill_seq;
	pthread_mutex_unlock(&w->mu);

	if (clear_own) {
		struct hb_msg m = { .type = HB_MSG_CLEAR };

		rc = hb_msg_encode(&m, w->sec, w->io.sector_size);
		if (rc == 0)
			rc = hb_layout_mbox(l, (unsigned)w->rep.own_slot, &sector);
		if (rc == 0)
			w_write(w, sector, "clear own mailbox", -1);
	}
	if (!any)
		return;
	for (unsigned i = 0; i < l->slots; i++) {
		if (!w->batch[i].queued)
			continue;
		rc = hb_msg_encode(&w->batch[i].msg, w->sec, w->io.sector_size);
		if (rc == 0)
			rc = hb_layout_mbox(l, i, &sector);
		if (rc == 0)
			rc = w_write(w, sector, "write mailbox", (int)i);
		else
			note_err(w, rc, "encode message for slot %u", i);
		if (rc < 0 && first_err == 0)
			first_err = rc;
		if (rc == 0) {
			pthread_mutex_lock(&w->mu);
			w->slots[i].mbox = w->batch[i].msg.type;
			map_peers(w);
			pthread_mutex_unlock(&w->mu);
		}
	}
	/* The report concerns the newest request; if another was queued
	 * while we wrote, it is still pending and its result comes next
	 * cycle. */
	pthread_mutex_lock(&w->mu);
	if (w->rep.pill_seq == seq) {
		w->rep.pill_rc = first_err;
		w->rep.pill_done_ms = w->now_ms();
	}
	pthread_mutex_unlock(&w->mu);
}

/* Step 2: our beat. */
static void write_beat(struct hbw *w)
{
	struct hb_beat b;
	uint32_t sector;
	int rc;

	memset(&b, 0, sizeof(b));
	b.nodeid = w->nodeid;
	memcpy(b.name, w->name, sizeof(b.name));
	b.counter = w->counter + 1;
	b.mono_ms = w->now_ms();
	b.wall_ms = w->wall_ms();
	pthread_mutex_lock(&w->mu);
	b.liveset = w->view.liveset;
	b.quorate = w->view.quorate;
	b.ring_id = w->view.ring_id;
	b.paths_total = w->view.paths_total;
	b.paths_up = w->view.paths_up;
	pthread_mutex_unlock(&w->mu);

	rc = hb_beat_encode(&b, w->sec, w->io.sector_size);
	if (rc < 0) {
		/* Only a view the caller set out of range (paths_up >
		 * paths_total) gets here. */
		w->cycle_failed = true;
		note_err(w, rc, "encode beat");
		return;
	}
	if ((rc = hb_layout_beat(&w->rep.layout, w->nodeid, &sector)) < 0)
		return;
	if (w_write(w, sector, "write beat", -1) < 0)
		return;
	/* A beat that failed is rewritten with the same counter: the peers
	 * never saw it, so the counter still counts writes they can see. */
	w->counter = b.counter;
	pthread_mutex_lock(&w->mu);
	w->rep.write_ok_ms = w->now_ms();
	pthread_mutex_unlock(&w->mu);
}

/* Step 3: our mailbox.  Reported, never cleared here. */
static void read_own_mailbox(struct hbw *w)
{
	struct hb_msg m;
	uint32_t sector;
	int rc;

	if (hb_layout_mbox(&w->rep.layout, (unsigned)w->rep.own_slot, &sector) < 0)
		return;
	if (w_read(w, sector, "read own mailbox", -1) < 0)
		return;
	rc = hb_msg_decode(w->sec, w->io.sector_size, &m);
	if (rc < 0) {
		decode_err(w, rc, "own mailbox", w->rep.own_slot);
		return;
	}
	pthread_mutex_lock(&w->mu);
	if (m.type == HB_MSG_CLEAR) {
		if (!w->start_msg_unseen) {
			memset(&w->rep.own_msg, 0, sizeof(w->rep.own_msg));
			w->rep.own_msg_ms = 0;
		}
	} else if (m.type != w->rep.own_msg.type ||
		   strcmp(m.from, w->rep.own_msg.from) != 0 ||
		   w->rep.own_msg_ms == 0) {
		w->rep.own_msg = m;
		w->rep.own_msg_ms = w->now_ms();
		w->start_msg_unseen = false;
	}
	pthread_mutex_unlock(&w->mu);
}

/* Step 4: every heartbeat sector; every SLOT_SCAN_EVERY cycles the slots. */
static void read_beats(struct hbw *w, uint64_t cycle)
{
	bool all_ok = true;
	struct hb_beat b;
	uint32_t sector;
	int rc;

	for (uint32_t n = 1; n <= HB_MAX_NODEID; n++) {
		if (hb_layout_beat(&w->rep.layout, n, &sector) < 0 ||
		    w_read(w, sector, "read beat", (int)n) < 0) {
			all_ok = false;
			continue;
		}
		rc = hb_beat_decode(w->sec, w->io.sector_size, &b);
		if (rc == 0 && b.nodeid != n)
			rc = -EBADMSG;  /* a beat in another node's sector */
		if (rc == -ENODATA) {
			pthread_mutex_lock(&w->mu);
			w->rep.peers[n].seen = false;
			memset(&w->rep.peers[n].beat, 0, sizeof(b));
			w->rep.peers[n].changed_ms = 0;
			pthread_mutex_unlock(&w->mu);
			continue;
		}
		if (rc < 0) {
			decode_err(w, rc, "beat", (int)n);
			continue;
		}
		pthread_mutex_lock(&w->mu);
		{
			struct hbw_peer *p = &w->rep.peers[n];

			if (!p->seen || p->beat.counter != b.counter)
				p->changed_ms = w->now_ms();
			p->seen = true;
			p->beat = b;
		}
		pthread_mutex_unlock(&w->mu);
	}
	if (cycle % SLOT_SCAN_EVERY == 0) {
		if (scan_slots(w) < 0)
			all_ok = false;
	} else {
		pthread_mutex_lock(&w->mu);
		map_peers(w);
		pthread_mutex_unlock(&w->mu);
	}
	if (all_ok) {
		pthread_mutex_lock(&w->mu);
		w->rep.read_ok_ms = w->now_ms();
		pthread_mutex_unlock(&w->mu);
	}
}

static bool stopping(struct hbw *w)
{
	bool s;

	pthread_mutex_lock(&w->mu);
	s = w->stop;
	pthread_mutex_unlock(&w->mu);
	return s;
}

static void ts_add_ms(struct timespec *ts, uint64_t ms)
{
	ts->tv_sec += (time_t)(ms / 1000u);
	ts->tv_nsec += (long)(ms % 1000u) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void *worker_main(void *arg)
{
	struct hbw *w = arg;
	struct timespec next, now;
	bool caught_up = true;
	uint64_t one = 1;

	clock_gettime(CLOCK_MONOTONIC, &next);
	for (uint64_t cycle = 0; !stopping(w); cycle++) {
		w->cycle_failed = false;
		w->cycle_decode_err = false;
		write_messages(w);
		if (stopping(w))
			break;
		write_beat(w);
		if (stopping(w))
			break;
		read_own_mailbox(w);
		if (stopping(w))
			break;
		read_beats(w, cycle);

		pthread_mutex_lock(&w->mu);
		w->rep.cycles++;
		w->rep.cycle_done_ms = w->now_ms();
		if (!w->cycle_failed) {
			w->rep.last_err = 0;
			if (!w->cycle_decode_err)
				w->rep.last_err_text[0] = '\0';
		}
		if (w->stop) {
			pthread_mutex_unlock(&w->mu);
			break;
		}
		pthread_mutex_unlock(&w->mu);
		if (write(w->efd, &one, sizeof(one)) < 0) {
			/* EAGAIN: the counter is full; the caller will
			 * read it and see the newest report anyway. */
		}

		ts_add_ms(&next, w->interval_ms);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!ts_before(&now, &next)) {
			/* Overran: one cycle at once, then back to the
			 * rhythm counted from now. */
			if (caught_up) {
				next = now;
				caught_up = false;
			} else {
				next = now;
				ts_add_ms(&next, w->interval_ms);
				caught_up = true;
			}
		} else {
			caught_up = true;
		}
		pthread_mutex_lock(&w->mu);
		while (!w->stop) {
			if (pthread_cond_timedwait(&w->cv, &w->mu, &next) == ETIMEDOUT)
				break;
		}
		pthread_mutex_unlock(&w->mu);
	}
	return NULL;
}

/* ---- the caller's side ---- */

static void hbw_free(struct hbw *w)
{
	if (w == NULL)
		return;
	if (w->io.buf != NULL)
		hbio_close(&w->io);
	if (w->efd >= 0)
		close(w->efd);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w->device);
	free(w);
}

/* The first, synchronous step: meta data, our slot, a stale message. */
static int start_io(struct hbw *w, const struct hbio_sys *sys)
{
	struct hb_region region;
	struct hb_msg m;
	uint32_t sector;
	unsigned slot;
	bool direct;
	int rc;

	rc = hbio_open(&w->io, w->device, sys, &direct);
	if (rc < 0)
		return rc;
	rc = hbio_read_meta(&w->io, &w->rep.hdr, &region, &w->rep.layout);
	if (rc < 0)
		return rc;
	w->rep.meta_ok = true;
	rc = hbio_slot_find(&w->io, &w->rep.layout, w->name, true, &slot);
	if (rc < 0)
		return rc;
	w->rep.own_slot = (int)slot;

	if ((rc = hb_layout_mbox(&w->rep.layout, slot, &sector)) < 0)
		return rc;
	if ((rc = hbio_read(&w->io, sector, w->sec)) < 0)
		return rc;
	rc = hb_msg_decode(w->sec, w->io.sector_size, &m);
	if (rc == 0 && m.type != HB_MSG_CLEAR) {
		w->rep.own_msg = m;
		w->rep.own_msg_ms = w->now_ms();
		w->start_msg_unseen = true;
	}
	if (rc < 0 || m.type != HB_MSG_CLEAR) {
		/* A message from before we started, or one sbd would not
		 * understand either: clear it as sbd's servant does. */
		memset(&m, 0, sizeof(m));
		if ((rc = hb_msg_encode(&m, w->sec, w->io.sector_size)) < 0)
			return rc;
		if ((rc = hbio_write(&w->io, sector, w->sec)) < 0)
			return rc;
	}
	return scan_slots(w);
}

int hbw_start(const struct hbw_config *cfg, struct hbw **out)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	struct hbw *w;
	int rc;

	*out = NULL;
	if (cfg == NULL || cfg->device == NULL || cfg->name == NULL ||
	    cfg->name[0] == '\0' || strlen(cfg->name) >= HB_NAME_MAX ||
	    cfg->nodeid < 1 || cfg->nodeid > HB_MAX_NODEID || cfg->interval_ms == 0)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	w->efd = -1;
	w->io.fd = -1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	w->device = strdup(cfg->device);
	if (w->device == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	memcpy(w->name, cfg->name, strlen(cfg->name) + 1);
	w->nodeid = cfg->nodeid;
	w->interval_ms = cfg->interval_ms;
	w->now_ms = cfg->now_ms != NULL ? cfg->now_ms : mono_ms;
	w->wall_ms = cfg->wall_ms != NULL ? cfg->wall_ms : real_ms;
	w->rep.own_slot = -1;
	for (unsigned n = 0; n <= HB_MAX_NODEID; n++)
		w->rep.peers[n].slot = -1;

	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->efd < 0) {
		rc = -errno;
		goto fail;
	}
	rc = start_io(w, cfg->sys);
	if (rc < 0)
		goto fail;
	/* Errors of the synchronous step are returned, not reported. */
	w->rep.last_err = 0;
	w->rep.last_err_text[0] = '\0';

	/* The thread takes no signals: the daemon's handlers stay on its
	 * main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0)
		goto fail;
	*out = w;
	return 0;
fail:
	hbw_free(w);
	return rc;
}

int hbw_notify_fd(struct hbw *w)
{
	return w->efd;
}

void hbw_set_view(struct hbw *w, const struct hbw_view *v)
{
	pthread_mutex_lock(&w->mu);
	w->view = *v;
	pthread_mutex_unlock(&w->mu);
}

void hbw_snapshot(struct hbw *w, struct hbw_report *out)
{
	pthread_mutex_lock(&w->mu);
	*out = w->rep;
	w->start_msg_unseen = false;
	pthread_mutex_unlock(&w->mu);
}

int64_t hbw_send_msg(struct hbw *w, const char *target, enum hb_msg_type type,
		     const char *from)
{
	const char *sender = from != NULL ? from : w->name;
	int64_t seq;
	int slot = -1;

	if (target == NULL || target[0] == '\0' ||
	    (int)type < 0 || (int)type > HB_MSG_TYPE_MAX ||
	    strlen(sender) >= HB_NAME_MAX)
		return -EINVAL;
	pthread_mutex_lock(&w->mu);
	for (unsigned i = 0; i < w->rep.layout.slots && w->slots_known; i++) {
		if (w->slots[i].in_use && strcasecmp(w->slots[i].name, target) == 0) {
			slot = (int)i;
			break;
		}
	}
	if (slot < 0) {
		pthread_mutex_unlock(&w->mu);
		return -ENOENT;
	}
	/* One pending message per mailbox: a newer one replaces it, as a
	 * second write to the same sector would. */
	memset(&w->pending[slot], 0, sizeof(w->pending[slot]));
	w->pending[slot].queued = true;
	w->pending[slot].msg.type = type;
	memcpy(w->pending[slot].msg.from, sender, strlen(sender) + 1);
	w->any_pending = true;
	seq = (int64_t)++w->next_seq;
	w->rep.pill_seq = (uint64_t)seq;
	w->rep.pill_rc = 1;
	w->rep.pill_done_ms = 0;
	pthread_mutex_unlock(&w->mu);
	return seq;
}

void hbw_clear_own(struct hbw *w)
{
	pthread_mutex_lock(&w->mu);
	w->clear_own = true;
	pthread_mutex_unlock(&w->mu);
}

void hbw_stop(struct hbw *w)
{
	struct timespec deadline;
	int rc;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);

	/* pthread_timedjoin_np takes a CLOCK_REALTIME deadline. */
	clock_gettime(CLOCK_REALTIME, &deadline);
	ts_add_ms(&deadline, STOP_JOIN_MS);
	rc = pthread_timedjoin_np(w->thread, NULL, &deadline);
	if (rc != 0) {
		/* Stuck in a disk call: leave it and its memory; the thread
		 * sees the stop flag if the call ever returns. */
		pthread_detach(w->thread);
		return;
	}
	hbw_free(w);
}
