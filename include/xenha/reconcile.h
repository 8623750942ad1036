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
};

struct rec_action {
	uint8_t type;
	char name[XH_NAME_MAX];
	uint64_t generation;
	const char *why;      /* static string */
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
 * decided while !in->synced. */
int rec_compute(const struct xh_state *s, const struct rec_input *in,
		struct rec_action *out, uint32_t cap, uint32_t *n);

const char *rec_action_str(uint8_t t);

#endif
