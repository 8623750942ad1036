/*
 * xenha-fenced: shared-disk heartbeat, poison pill, watchdog self-fencing,
 * fence agents, and fence confirmation for xenhad.  The decisions are the
 * pure rules of include/xenha/fencerules.h; this daemon gathers their
 * inputs (CPG ticks, votequorum, the disk worker's reports, xenhad's
 * answers) and acts on their outputs (pet or not, confirm or not).
 *
 * Threads: the main libqb loop decides; the disk worker (hbworker.h) and
 * the xenhad link (xlink.c) do blocking I/O and only publish snapshots,
 * so neither a hung disk nor a frozen xenhad can stall the watchdog
 * decision.
 */
#ifndef XENHA_FENCED_H
#define XENHA_FENCED_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <corosync/cpg.h>
#include <corosync/votequorum.h>
#include <qb/qbipcs.h>
#include <qb/qbloop.h>

#include "xenha/config.h"
#include "xenha/fencerules.h"
#include "xenha/hbworker.h"
#include "xenha/state.h"
#include "xenha/watchdog.h"

#define FD_IPC_NAME "xenha-fenced"
#define FD_MAX_NODE HB_MAX_NODEID

struct fd_agent_job;

/* What we know of one peer's fenced (index = node id). */
struct fd_peer {
	bool known;                  /* ever seen in our CPG group or xenhad's node list */
	char name[XH_NAME_MAX];
	bool member;                 /* in our CPG group now */
	bool armed;                  /* its last tick said its watchdog is armed */
	bool left_cleanly;           /* its last tick said it is stopping cleanly */
	uint64_t last_tick_ms;       /* our mono time of our last delivery of its tick */
	uint64_t last_seq;
	/* xenhad's view */
	bool pending;                /* xenhad: fence pending */
	bool begun;                  /* we sent fence-begin for this incident */
	uint64_t pending_since_ms;   /* our mono time we first saw it pending */
	bool pill_sent;
	bool pill_noslot_logged;
	int64_t pill_seq;
	bool pill_written;
	uint64_t pill_written_ms;
	uint64_t slot_changed_at_pill;  /* its heartbeat's changed_ms when the pill was written */
	bool confirm_sent;
	uint64_t confirm_sent_ms;
	bool agent_running, agent_off, agent_failed;
	struct fd_agent_job *agent;  /* running fence-agent job, or NULL */
	bool operator_fence;         /* hactl fence HOST asked for a pill */
	bool unfenceable_logged;
	char agent_text[160];
};

/* The xenhad link thread's snapshot. */
struct fd_xenhad {
	bool ok;                     /* the last request was answered */
	uint64_t ok_ms;              /* mono time of the last answer */
	bool seen;                   /* answered at least once */
	uint32_t n_hosts;
	struct {
		uint32_t nodeid;
		char name[XH_NAME_MAX];
		bool member;
		bool pending;
		bool confirmed;
	} hosts[FD_MAX_NODE];
	uint32_t local_running;      /* domains running on this host, per xenhad */
	bool synced;                 /* xenhad's state is synchronised with the cluster */
	bool quorate;                /* and its partition is quorate (votequorum and state) */
	char err[160];
};

struct fd_req {                      /* queued for the xenhad link */
	struct fd_req *next;
	uint8_t op;                  /* IPC_OP_FENCE_CONFIRM / IPC_OP_FENCE_BEGIN */
	char name[XH_NAME_MAX];
	char by[XH_NAME_MAX];
};

struct fd {
	struct xh_config cfg;
	const char *cfg_path;
	qb_loop_t *loop;
	bool stopping;
	int exit_code;

	/* corosync */
	cpg_handle_t cpg;
	votequorum_handle_t vq;
	uint32_t nodeid;
	char name[XH_NAME_MAX];
	uint64_t ring_seq;           /* current totem ring */
	uint32_t ring_members;       /* nodes in the current totem ring */
	bool vq_quorate;
	uint32_t expected_votes;
	uint32_t group_members;      /* fenced processes in our CPG group */
	uint64_t liveset;            /* node ids in our CPG group */
	uint64_t tick_seq;
	bool have_lease_tick;
	uint64_t lease_tick_sent_ms;
	qb_loop_timer_handle tick_timer, decide_timer;

	struct fr_timing t;
	struct fd_peer peers[FD_MAX_NODE + 1];
	uint64_t start_ms;

	/* watchdog */
	struct wd *wd;
	bool armed;
	uint64_t last_pet_ms;
	enum fr_pet_reason pet_reason;
	bool petting;
	uint64_t next_wd_try_ms;
	bool self_fence;             /* a pill or an order: never pet again */

	/* disk */
	struct hbw *hbw;
	struct hbw_report rep;
	bool disk_alerted;
	bool pill_logged;
	bool tie, disk_win;
	uint64_t win_since_ms;        /* start of the current run of tie-break wins */
	uint64_t run_since_ms;        /* start of the current run of fresh own heartbeat writes */

	/* xenhad link */
	pthread_t xl_thread;
	bool xl_started;
	pthread_mutex_t xl_mu;
	pthread_cond_t xl_cv;
	bool xl_stop;
	struct fd_xenhad xl;         /* under xl_mu */
	struct fd_req *xl_q;         /* under xl_mu */
	bool xenhad_alerted;

	/* ipc for hactl */
	qb_ipcs_service_t *ipcs;
};

uint64_t fd_mono_ms(void);

/* cluster.c */
int fd_cluster_init(struct fd *d);
bool fd_read_totem(struct fd *d);          /* totem values of the running corosync */
void fd_cluster_fini(struct fd *d);
void fd_send_tick(struct fd *d, bool leaving);

/* xlink.c */
int fd_xlink_start(struct fd *d);
void fd_xlink_stop(struct fd *d);
void fd_xlink_snapshot(struct fd *d, struct fd_xenhad *out);
void fd_xlink_queue(struct fd *d, uint8_t op, const char *name, const char *by);

/* decide.c */
int fd_decide_init(struct fd *d);
void fd_decide_fini(struct fd *d);
void fd_decide_now(struct fd *d);
int fd_fence_request(struct fd *d, const char *host, char *err, size_t errlen);
struct json_object *fd_status_json(struct fd *d);

/* agents.c */
bool fd_agent_configured(const struct fd *d, const char *host);
int fd_agent_start(struct fd *d, struct fd_peer *p);
bool fd_agent_poll(struct fd *d, struct fd_peer *p);
void fd_agent_fini(struct fd *d);

/* ipc.c */
int fd_ipc_init(struct fd *d);
void fd_ipc_fini(struct fd *d);

#endif
