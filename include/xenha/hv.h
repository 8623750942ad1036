/*
 * Hypervisor driver ops table.  One const instance per backend ("sim",
 * "xen"), chosen by name with hv_find().  The daemon's executor and
 * domain monitor go through this table only.
 *
 * Threading: a driver that needs to wait for events exposes a file
 * descriptor (get_fd) that the daemon adds to its qb_loop; when it is
 * readable the daemon calls dispatch(), which reports ended domains
 * through the callback given at open().  open, close, get_fd, dispatch,
 * host_memory, destroy and list are called from the daemon's main loop.
 * migrate_send, migrate_recv and
 * resume block and are called from worker threads; a driver serialises
 * them against the main-loop ops with its own lock (the sim driver: one
 * mutex over its domain table: the migration ops hold it only to look up
 * and update entries, never while they wait on the stream; dispatch()
 * releases it around the end callback).  start and shutdown are called
 * from worker threads too (xenhad's hvjob.c; at most one per domain at a
 * time): a driver must not hold its lock over their long waits, or list()
 * in the main loop waits with them (the xen driver: libxl's create, the
 * wait for the guest to run, the wait for a clean shutdown; the sim
 * driver holds its lock over its waits, which take milliseconds: its
 * domains are processes that exit on SIGTERM).  close() must not be
 * called while any of these runs.
 */
#ifndef XENHA_HV_H
#define XENHA_HV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "xenha/state.h"

struct hv;         /* opaque driver instance */
struct xh_config;  /* include/xenha/config.h */

/* A domain as the hypervisor sees it. */
struct hv_domain_info {
	char name[XH_NAME_MAX];
	uint64_t generation;          /* placement generation it was started with */
	bool running;                 /* false: exists but paused/dying */
	uint32_t memory_mb;
	pid_t pid;                    /* sim: the domain process; xen: 0 */
	uint32_t domid;               /* xen: domid; sim: 0 */
};

/* Why a domain ended. */
enum hv_end_reason {
	HV_END_CRASH = 1,     /* killed by a signal / crashed */
	HV_END_SHUTDOWN = 2,  /* guest shut itself down cleanly */
	HV_END_STOPPED = 3,   /* we stopped or destroyed it */
};

typedef void (*hv_end_cb)(void *arg, const char *name, uint64_t generation,
			  int reason /* enum hv_end_reason */, const char *detail);

/* What to start: the state's definition plus the placement generation. */
struct hv_start_req {
	const char *name;
	const char *xlcfg;            /* may be NULL (sim) */
	uint32_t memory_mb;
	uint64_t generation;
	uint32_t nodeid;              /* starting host, for the incarnation id */
};

/*
 * Live migration over a connected stream socket `fd` (the transport, e.g.
 * TLS between two xenhad, is not the driver's business).  The driver never
 * closes `fd`: the caller closes it after the call returns (the peer sees
 * the end of the stream only then).  On failure the driver may shut the
 * stream down so the peer learns it at once.
 *
 * The switch-over protocol (never two running copies):
 *   source: pre-copy rounds while the domain runs; then PAUSE (no more
 *     guest activity), the last pages and the domain state; wait for the
 *     target's VERIFIED (every page and the memory digest checked); send
 *     COMMIT; wait for RUNNING.
 *   target: runs the domain only after a whole, checked COMMIT; on any
 *     error or stream break before that it exits and nothing runs.
 *   - failure before any byte of COMMIT left the source: the source
 *     resumes, outcome HV_MIG_ABORTED;
 *   - COMMIT (partly) sent, no RUNNING: the source stays PAUSED and never
 *     resumes by itself, outcome HV_MIG_IN_DOUBT: the caller finds out
 *     whether the target runs it and then calls resume() or destroy();
 *   - RUNNING received: the source ends, outcome HV_MIG_DONE.
 */
struct hv_migrate_opts {
	uint32_t max_rounds;      /* pre-copy rounds at most; 0 = default 30 */
	uint32_t downtime_ms;     /* target max downtime; 0 = default 100 */
	uint32_t timeout_ms;      /* whole migration bound; 0 = default 600000 */
};

struct hv_migrate_progress {
	uint32_t round;           /* current round (the stop-and-copy round is max_rounds + 1 at most) */
	uint64_t bytes_sent;      /* stream bytes so far (target: received) */
	uint64_t pages_total, pages_left;
	uint64_t dirty_kib_s;     /* measured over the last round (source) */
	bool final;
	uint32_t downtime_ms;     /* set when final: source pause to target's first record */
};

typedef void (*hv_migrate_cb)(void *arg, const struct hv_migrate_progress *p);

enum hv_migrate_outcome {
	HV_MIG_DONE = 0,      /* target runs it; source destroyed */
	HV_MIG_ABORTED,       /* source still runs (resumed); target runs nothing */
	HV_MIG_IN_DOUBT,      /* commit was sent but no confirmation: source PAUSED,
			         target may run it; the caller decides (resume/destroy) */
};

struct hv_ops {
	const char *name;             /* "sim", "xen" */
	/* Create a driver instance; cfg gives driver settings.  0 or -errno. */
	int (*open)(const struct xh_config *cfg, hv_end_cb cb, void *cb_arg,
		    struct hv **out);
	void (*close)(struct hv *h);
	/* fd to poll for readability (domain ends), or -1 if none. */
	int (*get_fd)(struct hv *h);
	/* Handle pending events: calls the end callback for each ended domain. */
	int (*dispatch)(struct hv *h);
	/* Memory the host offers guests, MiB. */
	int (*host_memory)(struct hv *h, uint64_t *total_mb);
	/* Start a domain; returns once it runs (or failed).  -EEXIST if a
	 * domain of that name already runs here. */
	int (*start)(struct hv *h, const struct hv_start_req *req);
	/* Clean shutdown: ask, wait up to timeout_ms, then destroy.  0 when gone. */
	int (*shutdown)(struct hv *h, const char *name, uint32_t timeout_ms);
	/* Immediate destroy.  0 when gone, -ENOENT if not here. */
	int (*destroy)(struct hv *h, const char *name);
	/* List domains managed by xenha on this host (also after a daemon
	 * restart).  *out malloc'd array, caller frees. */
	int (*list)(struct hv *h, struct hv_domain_info **out, uint32_t *n);

	/* --- live migration (blocking; worker threads; see above) --- */
	/* Send domain `name` over fd.  Returns 0 with *outcome set when the
	 * protocol ran (any outcome); -errno if it could not start (-ENOENT not
	 * here, -EBUSY already migrating or paused): then the domain runs here
	 * as before.  cb (may be NULL) gets progress, the last one final. */
	int (*migrate_send)(struct hv *h, const char *name, int fd, const struct hv_migrate_opts *o,
			    hv_migrate_cb cb, void *arg, int *outcome /* enum hv_migrate_outcome */);
	/* Receive req->name over fd.  0 once it runs here (watched like a
	 * started domain); -errno: nothing runs here (-EEXIST: runs already). */
	int (*migrate_recv)(struct hv *h, const struct hv_start_req *req, int fd,
			    hv_migrate_cb cb, void *arg);
	/* Resume a domain paused by an in-doubt migration.  0, -ENOENT, or
	 * -EINVAL if it is not paused in doubt. */
	int (*resume)(struct hv *h, const char *name);
};

/* A domain name every driver accepts: 1..XH_NAME_MAX-1 bytes of
 * [A-Za-z0-9._-], not starting with '.' or '-' (it becomes a file name
 * (sim) and a xenstore path component (xen)). */
bool hv_name_ok(const char *name);

/* Registry: all compiled-in drivers. */
const struct hv_ops *hv_find(const char *name);
extern const struct hv_ops hv_sim_ops;
extern const struct hv_ops hv_xen_ops;   /* only with --with-xen (HAVE_XEN) */

#endif
