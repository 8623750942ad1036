/*
 * Local executor decisions (pure): compare what the replicated state says
 * this host should run with what its hypervisor actually runs, and return
 * the actions that make them agree.
 *
 * The rules, in plain words:
 *  - Start a domain only if the state says this host owns it in STARTING
 *    at generation G, this host is synchronised and quorate (both the
 *    state's membership count and votequorum), and it does not already run
 *    here.  Nothing else ever starts a domain.
 *  - A domain this host owns (STARTING, or LOST after a rejoin) that runs
 *    here: report STARTED (this is how a host that rejoins reclaims domains
 *    that kept running, without restarting them).
 *  - A domain this host owns in RUNNING or LOST that does not run here:
 *    report EXITED (crashed) so the cluster may restart it.
 *  - A domain this host owns in STOPPING: shut it down, or report STOPPED
 *    when it no longer runs.
 *  - A domain that runs here although the state gives it to another host
 *    or to none: destroy it (a second copy must never survive).  Domains
 *    the state does not know are only reported, never touched.
 *  - In maintenance the host starts, stops and destroys nothing; it still
 *    reports what it sees.
 *
 * Live migration (state.h "Live migration", docs/migration.md).  The
 * executor says what it knows of its own migrations in a list of struct
 * rec_mig (rec_compute_mig); a domain paused by an in-doubt switch-over is
 * listed by hv list() with running == false, in `local`.
 *  Source (the state: MIGRATING, owner me):
 *  - a send for this mig_id in progress: wait;
 *  - a send that ended ABORTED (or could not start): REPORT_MIG_ABORTED;
 *  - the target is confirmed fenced and no send is in progress:
 *    RESUME the paused copy if one is here, and REPORT_MIG_ABORTED
 *    ("target fenced"); after a DONE outcome or with no copy here the
 *    domain then is RUNNING here without running: REPORT_EXITED follows;
 *  - no send known for this mig_id and the domain runs here: MIGRATE_SEND
 *    (the executor starts it once per mig_id);
 *  - otherwise (IN_DOUBT or DONE outcome, a paused copy, no copy; the
 *    target not confirmed fenced): wait for the target's DONE or fencing.
 *  Target (the state: MIGRATING or LOST, mig_target me):
 *  - MIGRATING, no receive known for this mig_id: MIGRATE_RECV at
 *    generation + 1 (only where a start would be allowed);
 *  - a copy runs here at generation + 1, or the receive for this mig_id
 *    returned 0: REPORT_MIG_DONE.  Such a copy is never destroyed by the
 *    "not ours" rule while the state is MIGRATING or LOST with me as
 *    target at that generation.
 *  LOST owned by me with migration fields (the target after the source was
 *  fenced, or a source that came back): a receive in progress: wait; the
 *  source side with a paused copy or no copy waits until the target is
 *  confirmed fenced, then RESUMEs and reports STARTED, or reports EXITED.
 *  A paused in-doubt copy (an IN_DOUBT entry) of a domain the state gives
 *  to another host: DESTROY.
 *  Maintenance: no SEND, RECV, RESUME or DESTROY; reports only.
 */
#ifndef XENHA_RECONCILE_H
#define XENHA_RECONCILE_H

#include <stdbool.h>
#include <stdint.h>
#include "xenha/state.h"

struct rec_local {
	char name[XH_NAME_MAX];
	uint64_t generation;
	bool running;
};

enum rec_action_type {
	REC_START = 1,        /* hv start name at generation */
	REC_SHUTDOWN,         /* hv clean shutdown */
	REC_DESTROY,          /* hv destroy: runs here but is not ours */
	REC_REPORT_STARTED,   /* send STARTED(name, me, generation) */
	REC_REPORT_EXITED,    /* send EXITED(name, me, generation, crashed=1) */
	REC_REPORT_STOPPED,   /* send STOPPED(name, me, generation) */
	REC_UNKNOWN,          /* runs here, not in the state: log only */
	REC_MIGRATE_SEND,     /* hv migrate_send name to peer (mig_id): once per mig_id */
	REC_MIGRATE_RECV,     /* accept the stream for mig_id from peer; hv migrate_recv
				 at `generation` (= the state's G + 1) */
	REC_RESUME,           /* hv resume the paused in-doubt copy */
	REC_REPORT_MIG_DONE,  /* send MIGRATE_DONE(name, target me, mig_id, downtime_ms) */
	REC_REPORT_MIG_ABORTED, /* send MIGRATE_ABORTED(name, source me, mig_id, why) */
};

struct rec_action {
	uint8_t type;
	char name[XH_NAME_MAX];
	uint64_t generation;
	const char *why;      /* static string (MIG_ABORTED: the reason to send) */
	/* migration actions only, else 0 */
	uint64_t mig_id;
	uint32_t peer;        /* SEND: target node; RECV: source node */
	uint32_t downtime_ms; /* MIG_DONE: from the receive, 0 if unknown */
};

/* What the executor knows about one of its own migrations. */
enum rec_mig_role {
	REC_MIG_SOURCE = 1,   /* migrate_send */
	REC_MIG_TARGET = 2,   /* migrate_recv */
};
enum rec_mig_outcome {
	REC_MIG_IN_PROGRESS = 1, /* the worker still runs */
	REC_MIG_DONE,         /* source: HV_MIG_DONE; target: migrate_recv returned 0 */
	REC_MIG_ABORTED,      /* source: HV_MIG_ABORTED, or migrate_send failed to start
				 (-errno): the domain runs here as before */
	REC_MIG_IN_DOUBT,     /* source: HV_MIG_IN_DOUBT: paused here, target may run it */
	REC_MIG_FAILED,       /* target: migrate_recv returned -errno: nothing runs here */
};
struct rec_mig {
	char name[XH_NAME_MAX];
	uint64_t mig_id;      /* the state's mig_id the executor acted on */
	uint8_t role;         /* enum rec_mig_role */
	uint8_t outcome;      /* enum rec_mig_outcome */
	uint32_t downtime_ms; /* target DONE: measured downtime */
};

struct rec_input {
	uint32_t me;
	bool synced;
	bool quorate;         /* votequorum's view; the state's is s->quorate */
	const struct rec_local *local;
	uint32_t n_local;
};

/* Fill out (capacity cap) with actions; *n gets the count.  -ENOSPC if cap
 * is too small (out then holds the first cap actions).  Nothing at all is
 * decided while !in->synced.  rec_compute is rec_compute_mig with no
 * migration known locally (mig NULL, n_mig 0); an executor that does
 * migrations must use rec_compute_mig, keep one entry per (name, mig_id,
 * role) until the state no longer names that mig_id (an IN_DOUBT source
 * entry: also while its paused copy is still here, so that the copy is
 * destroyed once the domain is another host's), and size out for
 * 2 * (n_local + n_domains) + 1 actions. */
int rec_compute(const struct xh_state *s, const struct rec_input *in,
		struct rec_action *out, uint32_t cap, uint32_t *n);
int rec_compute_mig(const struct xh_state *s, const struct rec_input *in,
		    const struct rec_mig *mig, uint32_t n_mig,
		    struct rec_action *out, uint32_t cap, uint32_t *n);

const char *rec_action_str(uint8_t t);

#endif
