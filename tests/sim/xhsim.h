/*
 * xhsim: the scenario simulator.  N xenha nodes in one process: the real
 * src/lib core (state machine, sync rule, scheduler, reconcile, fencing
 * rules, heartbeat-disk codec) behind a simulated world (virtual clock,
 * CPG with agreed order and configuration changes, votequorum, a shared
 * heartbeat disk as an array of sectors, watchdogs, domains as records).
 *
 * Files: xhsim.c (scenario language, the world: clock, network, CPG,
 * votequorum, domains, the safety check, the log), simxd.c (xenhad's glue
 * mirrored), simfd.c (xenha-fenced's glue, its disk worker and the
 * watchdog mirrored).  docs/simulator.md says what mirrors what.
 */
#ifndef XHSIM_H
#define XHSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xenha/fencerules.h"
#include "xenha/hbdisk.h"
#include "xenha/state.h"
#include "xenha/syncround.h"
#include "xenha/wire.h"

#define SIM_MAX_NODES 16
#define SIM_MAX_DOMS  64
#define SIM_MAX_MARKS 128

enum { GRP_XD = 0, GRP_FD = 1, GRP_N = 2 };  /* CPG groups: "xenha", "xenha-fenced" */

/* What corosync hands a process (queued while the process is frozen). */
enum sim_item_kind { IT_MSG = 1, IT_CONFCHG, IT_TOTEM, IT_VQ };

struct sim_item {
	struct sim_item *next;
	uint8_t kind;
	uint32_t sender;                 /* IT_MSG */
	uint64_t msgid;                  /* IT_MSG: global message number (log once) */
	size_t len;
	uint8_t *data;                   /* IT_MSG payload (owned) */
	uint32_t n_members, members[SIM_MAX_NODES];  /* IT_CONFCHG, IT_TOTEM */
	uint32_t n_left, left[SIM_MAX_NODES];
	uint32_t n_joined, joined[SIM_MAX_NODES];
	uint64_t ring;                   /* IT_TOTEM */
};

struct sim_proc {                        /* one daemon's CPG connection */
	bool running, frozen, joined;
	struct sim_item *in_head, *in_tail;
	struct sim_item *held_head, *held_tail; /* ticks not yet ordered */
	uint8_t *out;                    /* frames queued in this turn: one CPG message */
	size_t out_len, out_cap;
	bool join_pending, leave_pending;
	uint32_t n_view, view[SIM_MAX_NODES]; /* the group as last told to the process */
};

struct sim_dom {                         /* a domain record on one host */
	char name[XH_NAME_MAX];
	uint64_t generation;
	bool paused;                     /* a migration's source after COMMIT: not running */
};

/*
 * A live migration stream between two hosts (the world's model of
 * src/xenhad/migrate.c plus the driver's switch-over, hv.h): it connects
 * once the target's xenhad expects it (within 5 s), streams for
 * S.mig_ms of unhindered progress, then switches over: the source copy
 * pauses, the target runs the copy at gen, the source copy ends (or, with
 * `option mig-hang`, the target's RUNNING never reaches the source: the
 * source stays paused, in doubt).  A stream whose xenhad on either side
 * dies breaks at once (the relay is in xenhad); one that cannot progress
 * (a frozen side, a partition, a powered-off peer) breaks after
 * SIM_MIG_STALL_MS (TCP's timeouts); either side breaks it at once when
 * the other is confirmed fenced.  Before the switch-over a break leaves
 * the source copy running (ABORTED) and nothing on the target (FAILED).
 */
#define SIM_MAX_MIGS 16
#define SIM_MIG_CONNECT_MS 5000
#define SIM_MIG_STALL_MS 30000
struct sim_mig {
	bool used, connected;
	char name[XH_NAME_MAX];
	uint64_t mig_id, gen;            /* gen: the target's copy (G + 1) */
	uint32_t src, dst;
	uint64_t begun, progress_ms, stalled_ms;
};

struct sim_hvev {                        /* a domain end the driver reports */
	char name[XH_NAME_MAX];
	uint64_t generation;
	int reason;                      /* HV_END_* */
};

struct sxd;
struct sfd;

struct sim_node {
	uint32_t id;
	char name[XH_NAME_MAX];
	uint64_t mem_mb;
	bool powered, frozen;            /* host: on; whole host frozen */
	uint64_t frozen_at;
	/* corosync: this node's view of the totem ring */
	uint64_t ring;
	uint32_t ring_n, ring_members[SIM_MAX_NODES];
	uint64_t brk_ms;                 /* the ring broke (loss seen) at; 0 intact */
	uint64_t join_ms;                /* a merge seen at; 0 none */
	uint64_t wake_ms;                /* thawed at */
	struct sim_proc proc[GRP_N];
	struct sxd *xd;
	struct sfd *fd;
	/* hypervisor */
	uint32_t n_dom;
	struct sim_dom dom[SIM_MAX_DOMS];
	uint32_t n_hvev;
	struct sim_hvev hvev[SIM_MAX_DOMS];
	bool fail_start;
	/* storage paths to the heartbeat disk */
	int disk_mode;                   /* 0 ok, 1 stall, 2 eio */
	/* the state file (survives power-off) */
	uint8_t *saved;
	size_t saved_len;
	/* watchdog (hardware: runs while the host is frozen) */
	bool wd_armed;
	uint64_t wd_last_pet;
	/* tick loss (one-way-ish): its ticks reach nobody else until */
	uint64_t lose_ticks_until;
};

struct sim {
	uint64_t now;
	uint64_t step_ms, lat_ms, join_delay_ms, end_ms;
	uint32_t n;                      /* nodes 1..n */
	uint32_t expected;               /* votequorum expected votes */
	struct sim_node node[SIM_MAX_NODES + 1];
	struct fr_timing t;              /* the fencing timing every node uses */
	uint32_t xenhad_timeout_ms;
	bool disk;                       /* a shared heartbeat disk */
	bool unsafe_skip_confirm;        /* deliberately broken: survivors do not wait */
	uint8_t *disk_img;
	size_t disk_len;
	uint32_t sector;
	int label[SIM_MAX_NODES + 1];    /* partition label per node */
	uint64_t ring_counter, msg_counter;
	uint32_t *logged;                /* frames of message i already logged */
	uint64_t logged_cap;
	uint64_t mlog[256];              /* membership changes already logged */
	uint32_t n_mlog;
	struct sim_mig mig[SIM_MAX_MIGS];
	uint64_t mig_ms;                 /* a stream's length (option mig-ms=N, default 2000) */
	bool mig_hang;                   /* option mig-hang: RUNNING never reaches the source */
	bool mig_refuse;                 /* option mig-refuse: every target refuses the stream */
	bool violation;
	bool verbose;
	uint64_t seed;
};

extern struct sim S;

/* xhsim.c: the world */
void sim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sim_nlog(const struct sim_node *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sim_send(struct sim_node *n, int grp, const uint8_t *p, size_t len);
bool sim_cs_alive(const struct sim_node *n);
bool sim_vq_quorate(const struct sim_node *n);
bool sim_log_frame_once(uint64_t msgid, uint32_t frame);
bool sim_log_membership_once(uint64_t ring, const uint32_t *ids, uint32_t n);
void sim_safety_check(void);
struct sim_node *sim_node_by_name(const char *name);

/* hypervisor records (xhsim.c) */
int sim_hv_start(struct sim_node *n, const char *name, uint64_t gen);
int sim_hv_stop(struct sim_node *n, const char *name, int reason, bool report);
struct sim_dom *sim_hv_find(struct sim_node *n, const char *name);
/* migration streams (xhsim.c): the source's xenhad starts a send */
void sim_mig_send(struct sim_node *src, const char *name, uint64_t mig_id, uint32_t dst,
		  uint64_t gen);
void sim_mig_step(void);

/* simxd.c: xenhad */
void sxd_start(struct sim_node *n);
void sxd_stop(struct sim_node *n, bool clean);
void sxd_deliver(struct sim_node *n, struct sim_item *it);
void sxd_timers(struct sim_node *n);
const struct xh_state *sxd_state(const struct sim_node *n);
bool sxd_synced(const struct sim_node *n);
bool sxd_is_coordinator(const struct sim_node *n);
/* An IPC write request as hactl or xenha-fenced would send it: 0 or -errno
 * (the command is sent; its result shows when it is applied). */
struct ipc_req;
int sxd_ipc_write(struct sim_node *n, const struct ipc_req *r, char *err, size_t errlen);
/* migrations: does n's xenhad expect (and now take) this receive; an outcome
 * (enum rec_mig_role / rec_mig_outcome) for n's xenhad, if it still runs */
bool sxd_mig_take(struct sim_node *n, const char *name, uint64_t mig_id, uint32_t src);
void sxd_mig_result(struct sim_node *n, const char *name, uint64_t mig_id, uint8_t role,
		    uint8_t outcome, const char *why);

/* simfd.c: xenha-fenced, its disk worker, the watchdog */
int sfd_disk_init(void);
void sfd_start(struct sim_node *n);
void sfd_stop(struct sim_node *n);
void sfd_deliver(struct sim_node *n, struct sim_item *it);
void sfd_timers(struct sim_node *n);
void sfd_disk_cycle_due(struct sim_node *n);
bool sfd_petting(const struct sim_node *n);
void sfd_watchdog_check(struct sim_node *n);

/* power */
void sim_power_off(struct sim_node *n, const char *why);

#endif
