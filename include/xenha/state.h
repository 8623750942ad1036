/*
 * xenha replicated state machine (pure: no I/O, no clock reads, no logging).
 *
 * Every node holds one struct xh_state.  Every change is a struct xh_cmd,
 * delivered to all nodes in the same (CPG agreed) order and applied with
 * xh_state_apply().  Given the same start state and the same command
 * sequence, every node computes the same state: apply() may only read the
 * state and the command (time comes from the command, never a clock).
 *
 * Return convention: 0 or -errno; outputs through pointers.
 */
#ifndef XENHA_STATE_H
#define XENHA_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XH_NAME_MAX      64     /* bytes incl. NUL: domain, host, group names */
#define XH_REASON_MAX    128    /* bytes incl. NUL */
#define XH_XLCFG_MAX     65536  /* bytes of xl.cfg text, excl. NUL */
#define XH_MAX_PREF      8      /* preferred / avoided hosts per domain */
#define XH_MAX_HOSTS     64     /* hosts known to one cluster */
#define XH_MAX_DOMAINS   100000
#define XH_HISTORY_DEFAULT 1000 /* bounded event history */

/* A domain's target, set by the operator (domain start / stop). */
enum xh_target {
	XH_TARGET_STOPPED = 0,
	XH_TARGET_STARTED = 1,
};

/* Restart policy when a domain ends on a healthy host. */
enum xh_restart {
	XH_RESTART_ALWAYS = 0,   /* restart after a crash and after a guest shutdown */
	XH_RESTART_ON_CRASH = 1, /* restart only after a crash */
	XH_RESTART_NEVER = 2,
};

/*
 * Placement state of a domain.  owner != 0 exactly in STARTING, RUNNING,
 * STOPPING and LOST: then the domain may be running on host `owner` and on
 * no other host.  In STOPPED and FAILED the domain runs nowhere: either it
 * never ran, or its last owner reported it gone, or its last owner was
 * confirmed fenced.
 */
enum xh_dom_state {
	XH_DS_STOPPED = 0,  /* not running anywhere; last owner (if any) clear */
	XH_DS_STARTING = 1, /* owner told to start it (generation G) */
	XH_DS_RUNNING = 2,  /* owner reported it running at generation G */
	XH_DS_STOPPING = 3, /* owner told to stop it */
	XH_DS_FAILED = 4,   /* ended on its owner (crash/exit/start failure); owner clear */
	XH_DS_LOST = 5,     /* owner left the membership: awaiting fencing (see below
			       for a LOST domain that carries migration fields) */
	XH_DS_MIGRATING = 6, /* live migration from owner (the source, the only host
				allowed to run it) to mig_target; see "Live migration" */
	XH_DS__COUNT
};

/* Fencing state of a host. */
enum xh_fence {
	XH_FENCE_NONE = 0,      /* healthy or never seen */
	XH_FENCE_PENDING = 1,   /* left the quorate membership: must be fenced */
	XH_FENCE_CONFIRMED = 2, /* confirmed fenced (operator or fencing daemon) */
};

struct xh_host {
	uint32_t nodeid;              /* corosync node id, > 0 */
	char name[XH_NAME_MAX];
	uint64_t mem_total_mb;        /* memory the hypervisor offers guests */
	uint32_t mem_reserved_mb;     /* dom0 reservation, never given to guests */
	uint32_t dom_overhead_mb;     /* per-domain overhead (Xen page tables, ...) */
	bool member;                  /* in the current CPG membership */
	bool standby;                 /* host flag: take no domains */
	bool maintenance;             /* host flag: HA leaves its domains alone */
	uint8_t fence;                /* enum xh_fence */
	uint64_t fence_since_ms;      /* time of the last fence state change */
};

struct xh_domain {
	/* definition (set by domain add / set) */
	char name[XH_NAME_MAX];
	char *xlcfg;                  /* owned, NUL-terminated, may be NULL */
	uint32_t memory_mb;
	int32_t priority;             /* higher places first */
	uint8_t restart;              /* enum xh_restart */
	uint8_t target;               /* enum xh_target */
	uint32_t max_restarts;        /* in-place restarts before relocation */
	uint32_t max_relocations;     /* failure relocations before giving up */
	uint8_t n_preferred, n_avoided;
	char preferred[XH_MAX_PREF][XH_NAME_MAX]; /* host names, in order */
	char avoided[XH_MAX_PREF][XH_NAME_MAX];
	char group[XH_NAME_MAX];      /* anti-affinity group, "" for none */

	/* placement (changed only by placement commands) */
	uint8_t state;                /* enum xh_dom_state */
	uint32_t owner;               /* node id, 0 = none (see enum xh_dom_state) */
	uint32_t last_owner;          /* node id that last ran it, 0 = never ran */
	uint64_t generation;          /* +1 on every PLACE */
	uint32_t restarts;            /* in-place restarts since last reset */
	uint32_t relocations;         /* failure relocations since last reset */
	uint64_t since_ms;            /* time of the last placement state change */
	char reason[XH_REASON_MAX];   /* why it is in this state ("" if nothing to say) */

	/* live migration (docs/migration.md); both 0 unless state is MIGRATING
	 * or LOST-with-migration (see "Live migration" below) */
	uint32_t mig_target;          /* node id of the migration target */
	uint64_t mig_id;              /* state seq at MIGRATE_BEGIN: names the attempt */
};

/*
 * Live migration in the replicated state (docs/migration.md).
 *
 *  RUNNING(owner A, gen G) --MIGRATE_BEGIN(A->B, G)--> MIGRATING(owner A,
 *      mig_target B, mig_id = seq of the BEGIN).  Only A may run it; its
 *      memory counts on A and on B.
 *  MIGRATING --MIGRATE_DONE(from B, mig_id)--> RUNNING(owner B, gen G+1).
 *      The target starts its copy at generation G+1 (the executor passes
 *      G+1 to hv migrate_recv), so the placement matches it after DONE.
 *  MIGRATING --MIGRATE_ABORTED(from A, mig_id)--> RUNNING(owner A, gen G).
 *  MIGRATING, A leaves the membership --> LOST(owner A, mig fields kept):
 *      a MIGRATE_DONE from B may still claim it (LOST -> RUNNING on B).
 *  LOST(owner A, mig B), A confirmed fenced:
 *      B not confirmed fenced (a member, or pending) --> LOST(owner B,
 *          gen G+1, mig fields kept): awaiting the target's report
 *          (STARTED at G+1 if it runs there, EXITED if not, or DONE);
 *      B confirmed fenced --> STOPPED (restartable, as for any domain).
 *  MIGRATING, B leaves: nothing changes (A still owns it; A's executor
 *      resolves it with MIGRATE_ABORTED, after an in-doubt switch-over only
 *      once B is confirmed fenced).
 * While MIGRATING, STOP/STOPPED/EXITED/START_FAILED/STARTED are refused:
 * only the migration outcome (or membership and fencing) changes it.
 */

enum xh_event_type {
	XH_EV_DOMAIN_ADDED = 1,
	XH_EV_DOMAIN_REMOVED,
	XH_EV_DOMAIN_CHANGED,
	XH_EV_DOMAIN_STATE,   /* placement state change: text says from => to */
	XH_EV_HOST_JOINED,
	XH_EV_HOST_LEFT,
	XH_EV_HOST_FLAGS,
	XH_EV_FENCE_PENDING,
	XH_EV_FENCE_CONFIRMED,
	XH_EV_QUORUM,
	XH_EV_REJECTED,       /* reserved: the state machine does not log rejections */
	XH_EV_FENCE_STARTED,  /* xenha-fenced began fencing a pending host */
	XH_EV_MIGRATION,      /* live migration begun / done / aborted */
	XH_EV_DISARM,         /* HA actions disarmed / re-armed */
};
#define XH_EV_LAST XH_EV_DISARM /* the highest event type (codecs check against it) */
#define XH_EV_LAST_V1 XH_EV_FENCE_STARTED /* the highest before migration (wire v1) */

struct xh_event {
	uint64_t seq;                 /* event number, increasing from 1 */
	uint64_t time_ms;             /* wall-clock ms, from the command */
	uint8_t type;                 /* enum xh_event_type */
	uint32_t nodeid;              /* host concerned, 0 if none */
	char domain[XH_NAME_MAX];     /* domain concerned, "" if none */
	char text[XH_REASON_MAX];     /* e.g. "starting => running" */
};

struct xh_state {
	uint64_t seq;                 /* commands applied */
	uint64_t qseq;                /* commands applied while quorate */
	bool quorate;                 /* 2 * members > expected_votes */
	uint32_t expected_votes;      /* max over hosts' HELLO and number of hosts */

	uint32_t n_hosts;             /* sorted by nodeid */
	struct xh_host hosts[XH_MAX_HOSTS];

	uint32_t n_domains, cap_domains; /* sorted by name (strcmp) */
	struct xh_domain *domains;

	uint32_t ev_cap;              /* ring capacity (history bound) */
	uint32_t ev_count;            /* valid entries, <= ev_cap */
	uint32_t ev_head;             /* index of the oldest entry */
	uint64_t ev_next_seq;         /* seq of the next event */
	struct xh_event *events;

	/* DISARM: while the scheduler's wall clock is < this, it emits nothing
	 * (no restart, no placement, no drain); 0 = armed.  Wall-clock ms, the
	 * clock of xh_cmd.time_ms.  Re-arms by itself when the time passes (no
	 * command, no history event: the scheduler compares the times). */
	uint64_t disarmed_until_ms;
};

/* ---- commands ---- */

enum xh_cmd_type {
	XH_CMD_HELLO = 1,        /* host announces itself */
	XH_CMD_MEMBERSHIP,       /* CPG configuration change (applied locally, same point everywhere) */
	XH_CMD_DOMAIN_ADD,
	XH_CMD_DOMAIN_REMOVE,    /* only when not running anywhere */
	XH_CMD_DOMAIN_SET,       /* change definition fields (mask) */
	XH_CMD_DOMAIN_START,     /* target := started; resets restart counters */
	XH_CMD_DOMAIN_STOP,      /* target := stopped */
	XH_CMD_PLACE,            /* scheduler: start on node (generation CAS) */
	XH_CMD_STOP,             /* scheduler: stop on its owner */
	XH_CMD_STARTED,          /* executor: running at generation */
	XH_CMD_START_FAILED,     /* executor: could not start */
	XH_CMD_STOPPED,          /* executor: stopped on request */
	XH_CMD_EXITED,           /* monitor: ended by itself (crash or guest shutdown) */
	XH_CMD_FENCE_CONFIRM,    /* host confirmed fenced */
	XH_CMD_HOST_FLAGS,       /* standby / maintenance */
	XH_CMD_FENCE_BEGIN,      /* fencing of a pending host started (history only) */
	XH_CMD_MIGRATE_BEGIN,    /* coordinator / operator: live-migrate source -> target */
	XH_CMD_MIGRATE_DONE,     /* target: migrate_recv returned 0, it runs the domain */
	XH_CMD_MIGRATE_ABORTED,  /* source: the domain runs on the source again */
	XH_CMD_DISARM,           /* pause HA actions until until_ms (0 = re-arm now) */
	XH_CMD__COUNT
};

/* Field mask for XH_CMD_DOMAIN_SET. */
enum xh_dset_field {
	XH_DSET_XLCFG = 1u << 0,
	XH_DSET_MEMORY = 1u << 1,
	XH_DSET_PRIORITY = 1u << 2,
	XH_DSET_RESTART = 1u << 3,
	XH_DSET_MAX_RESTARTS = 1u << 4,
	XH_DSET_MAX_RELOCATIONS = 1u << 5,
	XH_DSET_PREFERRED = 1u << 6,
	XH_DSET_AVOIDED = 1u << 7,
	XH_DSET_GROUP = 1u << 8,
};

/* Definition part of a domain, as carried by DOMAIN_ADD / DOMAIN_SET. */
struct xh_domain_def {
	char name[XH_NAME_MAX];
	const char *xlcfg;            /* borrowed; may be NULL */
	uint32_t memory_mb;
	int32_t priority;
	uint8_t restart;
	uint32_t max_restarts;
	uint32_t max_relocations;
	uint8_t n_preferred, n_avoided;
	char preferred[XH_MAX_PREF][XH_NAME_MAX];
	char avoided[XH_MAX_PREF][XH_NAME_MAX];
	char group[XH_NAME_MAX];
	uint8_t start;                /* DOMAIN_ADD: 1 = target started (default), 0 = stopped */
};

struct xh_cmd {
	uint8_t type;                 /* enum xh_cmd_type */
	uint32_t sender;              /* node id of the sender (set by transport) */
	uint64_t time_ms;             /* sender's wall clock, ms */
	union {
		struct {              /* HELLO */
			uint32_t nodeid;
			char name[XH_NAME_MAX];
			uint64_t mem_total_mb;
			uint32_t mem_reserved_mb;
			uint32_t dom_overhead_mb;
			uint32_t expected_votes;
		} hello;
		struct {              /* MEMBERSHIP */
			uint32_t n;
			uint32_t nodeids[XH_MAX_HOSTS];
		} members;
		struct {              /* DOMAIN_ADD, DOMAIN_SET */
			struct xh_domain_def def;
			uint32_t mask;        /* DOMAIN_SET only: enum xh_dset_field bits */
		} dom;
		struct {              /* DOMAIN_REMOVE, DOMAIN_START, DOMAIN_STOP */
			char name[XH_NAME_MAX];
		} name;
		struct {              /* PLACE STOP STARTED START_FAILED STOPPED EXITED */
			char name[XH_NAME_MAX];
			uint32_t nodeid;      /* target (PLACE) or reporting host */
			uint64_t generation;  /* PLACE: current generation (CAS); others: placement gen */
			uint8_t crashed;      /* EXITED: 1 crash, 0 clean guest shutdown */
			char reason[XH_REASON_MAX];
		} place;
		struct {              /* FENCE_CONFIRM, FENCE_BEGIN */
			uint32_t nodeid;
			char by[XH_NAME_MAX]; /* who confirmed, e.g. "operator root on h1" */
		} fence;
		struct {              /* HOST_FLAGS */
			uint32_t nodeid;
			uint8_t standby;      /* 0/1 */
			uint8_t maintenance;  /* 0/1 */
		} flags;
		struct {              /* MIGRATE_BEGIN, MIGRATE_DONE, MIGRATE_ABORTED */
			char name[XH_NAME_MAX];
			uint32_t source;      /* BEGIN, ABORTED (= sender) */
			uint32_t target;      /* BEGIN, DONE (= sender) */
			uint64_t generation;  /* BEGIN: the RUNNING generation G (CAS) */
			uint64_t mig_id;      /* DONE, ABORTED: the attempt (0 in BEGIN) */
			uint32_t downtime_ms; /* DONE: measured switch-over downtime */
			char reason[XH_REASON_MAX]; /* ABORTED: why ("" = none given) */
		} mig;
		struct {              /* DISARM */
			uint64_t until_ms;    /* wall-clock ms; 0 = re-arm now */
		} disarm;
	} u;
};

/* Result of apply: on rejection, reason says why (for the operator). */
struct xh_apply_result {
	int rc;                       /* 0 applied, -errno rejected */
	char reason[XH_REASON_MAX];
};

/* Lifecycle.  history_cap 0 means XH_HISTORY_DEFAULT. */
int xh_state_init(struct xh_state *s, uint32_t history_cap);
void xh_state_free(struct xh_state *s);
/* Deep copy (dst must be uninitialised or freed). */
int xh_state_copy(struct xh_state *dst, const struct xh_state *src);

/*
 * Apply one command.  Returns 0 and changes *s, or returns -errno, leaves
 * *s unchanged (except seq counters: a rejected command still counts as
 * delivered, seq and qseq advance either way so every node agrees) and
 * fills res->reason.  res may be NULL.
 * Always asserts the invariants (xh_state_check) after applying: a
 * violation aborts the process, it is never ignored.  (For commands that
 * touch one domain only that domain and its neighbours' order are
 * re-checked, which keeps apply O(log n); see state.c.)
 *
 * Rejections: -ENOENT unknown domain or host; -EEXIST name taken;
 * -EINVAL invalid definition, field or transition; -ENOSPC table full;
 * -EBUSY domain has an owner (PLACE, DOMAIN_REMOVE), host in standby or
 * maintenance (PLACE), fence confirm of a member; -EAGAIN no quorum
 * (PLACE); -ESTALE generation or reporting host does not match the
 * placement; -EHOSTDOWN target host not a member or fenced (PLACE), or a
 * non-member reclaiming a LOST domain; -EALREADY repeated report or fence
 * confirm; -ENOMEM out of memory.
 * MIGRATE_BEGIN: -EAGAIN no quorum; -ENOENT domain or host; -ESTALE not
 * RUNNING on source at that generation; -EBUSY already migrating,
 * anti-affinity conflict on the target, or source/target in standby or
 * maintenance (target) / maintenance (source); -EINVAL target == source,
 * target stopped, avoided target; -EHOSTDOWN source or target not a member
 * or fenced; -ENOSPC no room on the target.  MIGRATE_DONE / ABORTED:
 * -EPERM sender is not the target / source named; -ESTALE no such
 * migration (state, mig_id, target or owner differ).  DISARM: -EINVAL
 * until_ms in the past (use 0 to re-arm).
 */
int xh_state_apply(struct xh_state *s, const struct xh_cmd *c,
		   struct xh_apply_result *res);

/*
 * Check every invariant; returns 0 or -EPROTO with a message in why.
 * Invariants: hosts strictly sorted by node id (> 0), valid unique names,
 * fence in range, a member is never pending or confirmed fenced; domains
 * strictly sorted by name (so at most one placement per domain), enums and
 * counts in range, owner != 0 iff xh_dom_state_has_owner(state), owner and
 * last_owner known hosts or 0, an owner is never confirmed fenced;
 * MIGRATING has a known mig_target != owner and mig_id != 0; mig fields
 * are set only in MIGRATING or LOST, and mig_id != 0 iff mig_target != 0; history
 * ring bounds (ev_count <= ev_cap, ev_head < ev_cap, ev_cap > 0); qseq <=
 * seq.  O(n) in the number of domains.
 */
int xh_state_check(const struct xh_state *s, char *why, size_t whylen);

/* Lookups (NULL if absent). */
const struct xh_domain *xh_state_domain(const struct xh_state *s, const char *name);
const struct xh_host *xh_state_host(const struct xh_state *s, uint32_t nodeid);
const struct xh_host *xh_state_host_by_name(const struct xh_state *s, const char *name);

/* Iterate history oldest first: i in [0, ev_count). */
const struct xh_event *xh_state_event(const struct xh_state *s, uint32_t i);

/* Validate a definition (names, sizes, lists); 0 or -EINVAL with why. */
int xh_domain_def_check(const struct xh_domain_def *d, char *why, size_t whylen);
/* Fill a definition with defaults (memory 256, priority 0, restart always,
 * max_restarts 3, max_relocations 3, start 1). */
void xh_domain_def_init(struct xh_domain_def *d, const char *name);

/* Names for enums ("running", "awaiting-fence", ...). */
const char *xh_dom_state_str(uint8_t st);
const char *xh_fence_str(uint8_t f);
const char *xh_restart_str(uint8_t r);
int xh_restart_parse(const char *s, uint8_t *out);
const char *xh_cmd_type_str(uint8_t t);
const char *xh_event_type_str(uint8_t t);

/* Is the domain possibly running somewhere (owner != 0)? */
bool xh_dom_state_has_owner(uint8_t st);

/* Does d's memory count on host nodeid: its owner, or the target of its
 * migration (MIGRATING, or LOST with migration fields)? */
bool xh_dom_uses_host(const struct xh_domain *d, uint32_t nodeid);

#endif
