/*
 * xenhad internals: one daemon context, wired together in main.c.
 * Decisions live in src/lib (state machine, scheduler, sync rule,
 * reconcile); the files here only connect them to corosync, libqb, the
 * hypervisor driver and the disk.
 */
#ifndef XENHAD_H
#define XENHAD_H

#include <stdbool.h>
#include <stdint.h>

#include <qb/qbloop.h>
#include <qb/qbipcs.h>
#include <qb/qbmap.h>
#include <corosync/cpg.h>
#include <corosync/votequorum.h>

#include "xenha/config.h"
#include "xenha/hv.h"
#include "xenha/state.h"
#include "xenha/syncround.h"
#include "xenha/wire.h"

struct xd_buffered;   /* a command held back during a sync round */
struct xd_pending;    /* an IPC request waiting for its command to be applied */
struct xd_outq;       /* messages waiting for CPG flow control */
struct xd_migr;       /* migrate.c: listener, stream threads, known migrations */
struct xd_hvjobs;     /* hvjob.c: starts and shutdowns in worker threads */
struct rec_action;
struct rec_mig;
struct json_object;

struct xd {
	struct xh_config cfg;
	const char *cfg_path;
	qb_loop_t *loop;
	bool stopping;

	/* corosync */
	cpg_handle_t cpg;
	votequorum_handle_t vq;
	uint32_t nodeid;
	char name[XH_NAME_MAX];
	uint32_t expected_votes;         /* votequorum highest_expected */
	bool vq_quorate;
	uint32_t n_members;
	uint32_t members[XH_MAX_HOSTS];  /* sorted CPG members (node ids) */
	struct xd_outq *outq_head, *outq_tail;
	uint32_t outq_len;
	qb_loop_timer_handle outq_timer;
	bool outq_flush_queued;

	/* replicated state */
	struct xh_state st;
	bool synced;                     /* state agrees with the membership */
	bool hello_sent;
	struct sync_round round;
	struct xd_buffered *buf_head, *buf_tail;
	uint32_t buf_len;
	struct wire_buf snap;            /* snapshot being reassembled */
	uint32_t snap_next;              /* next chunk index expected */
	uint64_t rounds;                 /* rounds completed (stats) */

	/* persistence */
	char state_path[CFG_PATH_MAX + 32];
	bool dirty;
	qb_loop_timer_handle persist_timer;
	bool persist_timer_armed;

	/* hypervisor */
	const struct hv_ops *hv;
	struct hv *hvh;
	struct xd_hvjobs *hvjobs;

	/* executor / coordinator */
	bool work_queued;
	uint64_t work_last_ms;            /* monotonic ms of the last pass */
	qb_loop_timer_handle work_timer;
	qb_loop_timer_handle tick_timer;
	uint32_t ticks;                 /* tick() calls, for the safety re-scan */
	qb_map_t *reported;              /* name -> struct xd_mark (executor reports) */
	qb_map_t *proposed;              /* name -> struct xd_mark (coordinator proposals) */

	/* live migration */
	struct xd_migr *mig;
	qb_map_t *migview;               /* name -> what we know of its migrations */

	/* IPC */
	qb_ipcs_service_t *ipcs;
	gid_t haclient_gid;
	bool have_haclient;
	uint64_t next_req_id;
	struct xd_pending *pending;
	qb_loop_timer_handle pending_timer;
};

/* log.c */

/* persist.c */
int xd_persist_load(struct xd *d);
int xd_persist_save(struct xd *d);          /* write, fsync, rename, fsync dir */
void xd_persist_mark(struct xd *d);         /* debounced save */
void xd_persist_fini(struct xd *d);         /* drop the pending save timer */

/* cluster.c */
int xd_cluster_init(struct xd *d);
void xd_cluster_fini(struct xd *d);
/* Multicast a command (agreed order).  req_id 0 = no waiting client. */
int xd_send_cmd(struct xd *d, struct xh_cmd *c, uint64_t req_id);
bool xd_is_coordinator(const struct xd *d);
uint32_t xd_coordinator(const struct xd *d);
uint64_t xd_now_ms(void);                   /* wall clock, ms */

/* executor.c: called after every batch of applied commands */
int xd_exec_init(struct xd *d);
void xd_exec_fini(struct xd *d);
void xd_kick(struct xd *d);                 /* schedule executor + coordinator work */
void xd_exec_forget(struct xd *d);          /* drop report/proposal marks (after a sync) */

/* A start run by hvjob.c ended (main loop): report STARTED or START_FAILED. */
void xd_exec_start_done(struct xd *d, const char *name, uint64_t generation, int rc);

/* hvjob.c: start and shutdown in worker threads, one at a time per domain */
int xd_hvjob_init(struct xd *d);            /* after the driver opened */
void xd_hvjob_fini(struct xd *d);           /* joins them; before the driver closes */
bool xd_hvjob_busy(struct xd *d, const char *name);
int xd_hvjob_start(struct xd *d, const struct hv_start_req *req);
int xd_hvjob_shutdown(struct xd *d, const char *name, uint32_t timeout_ms);

/* Multicast an ephemeral migration progress frame (not a command). */
void xd_send_progress(struct xd *d, const struct wire_progress *p);

/* migrate.c */
int xd_mig_init(struct xd *d);              /* after xd_exec_init */
void xd_mig_fini(struct xd *d);             /* before xd_exec_fini: joins the threads */
void xd_mig_start(struct xd *d, const struct rec_action *a);  /* SEND or RECV */
struct rec_local;
void xd_mig_table(struct xd *d, const struct rec_local *local, uint32_t n_local,
		  const struct rec_mig **tab, uint32_t *n);
void xd_mig_tick(struct xd *d);
bool xd_mig_enabled(const struct xd *d, char *why, size_t len);
/* Why our own attempt was aborted or failed, in words (NULL: it was not,
 * or nothing known). */
const char *xd_mig_why(struct xd *d, const char *name, uint64_t mig_id, uint8_t role);
void xd_mig_view_progress(struct xd *d, const struct wire_progress *p);
void xd_mig_view_applied(struct xd *d, const struct xh_cmd *c, uint64_t seq);
struct json_object *xd_mig_view_json(struct xd *d, const char *name);
void xd_mig_view_free(struct xd *d);

/* ipc.c */
int xd_ipc_init(struct xd *d);
void xd_ipc_fini(struct xd *d);
/* A command of ours with req_id was applied (rc, reason): answer the client. */
void xd_ipc_applied(struct xd *d, uint64_t req_id, int rc, const char *reason, uint64_t seq);

#endif
