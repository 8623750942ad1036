/*
 * Heartbeat-disk I/O for xenha-fenced and hactl (side effects;
 * src/drivers/hbio.c and src/drivers/hbworker.c).
 *
 * hbio: O_DIRECT, sector-aligned, one-sector reads and writes through a
 * small syscall table, so tests can inject EIO, short writes and hangs.
 * hbw: a worker thread that runs the heartbeat cycle and never blocks
 * the caller: the caller (fenced's decision loop) only reads snapshots
 * and decides from the ages in them.
 */
#ifndef XENHA_HBWORKER_H
#define XENHA_HBWORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "xenha/hbdisk.h"

/* ---- hbio ---- */

struct hbio_sys {
	int (*open)(const char *path, int flags);
	ssize_t (*pread)(int fd, void *buf, size_t len, off_t off);
	ssize_t (*pwrite)(int fd, const void *buf, size_t len, off_t off);
	int (*close)(int fd);
};
extern const struct hbio_sys hbio_sys_real;

/*
 * The fault-injecting table for tests: before every call it reads the
 * small text file fault_file (set with hbio_fault_file(); read with
 * plain read(2), never through the table).  Its first word:
 *   "eio"    the call fails with EIO
 *   "short"  a write writes half the sector
 *   "hang"   the call sleeps (100 ms steps, at most 600 s) while the
 *            file still says "hang", then proceeds
 *   anything else, or no file: the real call.
 */
extern const struct hbio_sys hbio_sys_faulty;
void hbio_fault_file(const char *path);   /* process-wide; NULL: none */

struct hbio {
	const struct hbio_sys *sys;
	int fd;
	uint32_t sector_size;       /* from the header once read; 512 before */
	void *buf;                  /* one aligned sector (4096 bytes, 4096-aligned) */
};

/* Open a device or file with O_RDWR|O_DIRECT|O_SYNC (O_DIRECT is
 * dropped with a -EINVAL retry only for files on filesystems that refuse
 * it, e.g. tmpfs; *direct says which).  sys NULL: real. */
int hbio_open(struct hbio *io, const char *path, const struct hbio_sys *sys, bool *direct);
void hbio_close(struct hbio *io);
/* Read / write sector number `sector` (io->sector_size bytes).  A short
 * transfer is -EIO.  0 or -errno. */
int hbio_read(struct hbio *io, uint32_t sector, uint8_t *out);
int hbio_write(struct hbio *io, uint32_t sector, const uint8_t *in);
/* Read and decode the header (sets io->sector_size) and the xenha region
 * descriptor; check them against each other.  0 or -errno (-ENODATA: a
 * plain sbd disk without a xenha region). */
int hbio_read_meta(struct hbio *io, struct hb_header *h, struct hb_region *r, struct hb_layout *l);
/* Find the sbd slot named name; if absent and allocate, claim the
 * first free slot (in_use=1, name), as sbd does.  *slot: its index.
 * 0, -ENOENT (absent, not allocating), -ENOSPC (no free slot). */
int hbio_slot_find(struct hbio *io, const struct hb_layout *l, const char *name,
		   bool allocate, unsigned *slot);

/* ---- hbw: the worker ---- */

struct hbw_config {
	const char *device;
	const struct hbio_sys *sys;        /* NULL: real */
	uint32_t nodeid;                   /* 1..HB_MAX_NODEID */
	const char *name;                  /* our node name (the sbd slot name) */
	uint32_t interval_ms;              /* one cycle every interval_ms */
	uint64_t (*now_ms)(void);          /* monotonic clock (NULL: CLOCK_MONOTONIC) */
	uint64_t (*wall_ms)(void);         /* wall clock (NULL: CLOCK_REALTIME) */
};

/* What the caller wants written in our next heartbeat. */
struct hbw_view {
	uint64_t liveset;
	bool quorate;
	uint64_t ring_id;
	uint8_t paths_total, paths_up;
};

struct hbw_peer {
	bool seen;                         /* a valid beat was read for this node id */
	struct hb_beat beat;               /* the newest valid one */
	uint64_t changed_ms;               /* local mono time its counter last changed */
	int slot;                          /* its sbd slot by name, -1 if none */
	enum hb_msg_type mbox;             /* what its mailbox holds */
};

struct hbw_report {
	bool meta_ok;                      /* header + region read and valid */
	struct hb_header hdr;
	struct hb_layout layout;
	int own_slot;                      /* -1 until found/allocated */
	uint64_t cycles;                   /* completed cycles */
	uint64_t cycle_done_ms;            /* when the last cycle completed (0 never) */
	uint64_t write_ok_ms;              /* last successful write of our beat (0 never) */
	uint64_t read_ok_ms;               /* last complete read of all beats (0 never) */
	bool io_busy;                      /* a call is in progress ... */
	uint64_t io_since_ms;              /* ... since */
	int last_err;                      /* -errno of the last failed call, 0 if the last cycle was clean */
	char last_err_text[160];
	struct hb_msg own_msg;             /* our mailbox (HB_MSG_CLEAR when empty) */
	uint64_t own_msg_ms;               /* when a non-clear message was first seen */
	struct hbw_peer peers[HB_MAX_NODEID + 1]; /* index = node id; [0] unused */
	/* the last pill request */
	uint64_t pill_seq;                 /* hbw_send_pill's return value it concerns */
	int pill_rc;                       /* 1 pending, 0 written, -errno failed */
	uint64_t pill_done_ms;
};

struct hbw;

/* Open the device, read the meta data, find or allocate our slot,
 * clear a message left in our mailbox from before (logging it is the
 * caller's business: it is reported once in own_msg with the first
 * snapshot), and start the thread.  0 or -errno; the device errors of
 * this first step are returned, later ones only reported. */
int hbw_start(const struct hbw_config *cfg, struct hbw **out);
/* An eventfd that becomes readable after every completed cycle (read 8
 * bytes to clear it). */
int hbw_notify_fd(struct hbw *w);
void hbw_set_view(struct hbw *w, const struct hbw_view *v);
/* Copy the latest report (under the worker's mutex; never blocks on I/O). */
void hbw_snapshot(struct hbw *w, struct hbw_report *out);
/* Queue a message (reset/off/test/clear) for the slot named target; the
 * worker writes it at the start of its next cycle.  Returns a sequence
 * number > 0 to match pill_seq in reports; -ENOENT if the target has no
 * slot (from the last read), -EINVAL. */
int64_t hbw_send_msg(struct hbw *w, const char *target, enum hb_msg_type type, const char *from);
/* Clear our own mailbox (after acting on a "test" message, or at start). */
void hbw_clear_own(struct hbw *w);
/* Stop the thread.  If it is stuck in a call for more than 1 s it is
 * left detached (the process is exiting) and its memory leaked on
 * purpose. */
void hbw_stop(struct hbw *w);

#endif /* XENHA_HBWORKER_H */
