/*
 * xenha scheduler (pure).  A function from the replicated state (which
 * carries host capacities, host flags and fencing facts) to a list of
 * actions.  The coordinator turns each action into a command (PLACE or
 * STOP) and broadcasts it; the state machine re-checks every precondition
 * when the command is applied, so a stale or duplicated action is
 * rejected there, never executed twice.
 */
#ifndef XENHA_SCHED_H
#define XENHA_SCHED_H

#include <stdint.h>
#include "xenha/state.h"

enum sched_action_type {
	SCHED_PLACE = 1, /* start domain on nodeid (restart in place or relocation) */
	SCHED_STOP = 2,  /* stop domain on its owner */
};

struct sched_action {
	uint8_t type;                 /* enum sched_action_type */
	uint32_t domain;              /* index into s->domains */
	uint32_t nodeid;              /* PLACE: target host; STOP: owner */
	uint64_t generation;          /* domain's generation when planned (CAS) */
};

/* Outcome for domains that need a place but get none this round. */
struct sched_unplaced {
	uint32_t domain;              /* index into s->domains */
	char why[96];                 /* e.g. "no host with 2048 MiB free" */
};

struct sched_plan {
	uint32_t n, cap;
	struct sched_action *actions;
	uint32_t n_unplaced, cap_unplaced;
	struct sched_unplaced *unplaced;
};

/* Inputs other than the state. */
struct sched_input {
	uint64_t now_ms;              /* time as an argument */
	/* what-if: hosts treated as failed-and-fenced (hactl plan --fail) */
	uint32_t n_fail;
	uint32_t fail[XH_MAX_HOSTS];
};

void sched_plan_init(struct sched_plan *p);
void sched_plan_free(struct sched_plan *p);

/*
 * Compute actions for s.  Returns 0 or -ENOMEM.  Produces nothing while
 * !s->quorate.  Never places a domain that has an owner (enum
 * xh_dom_state), i.e. whose last host is neither confirmed fenced nor
 * confirmed to have stopped it.
 * out must have been set up with sched_plan_init(); its previous contents
 * are discarded (buffers are reused).  STOP actions come first, then PLACE
 * actions in placement order (priority, memory, name); unplaced domains
 * are listed with the reason.  in may be NULL (no what-if).  The rules are
 * stated above sched_compute in sched.c and in docs/scheduler.md.
 */
int sched_compute(const struct xh_state *s, const struct sched_input *in,
		  struct sched_plan *out);

/* Free memory (MiB) for guests on host h given current placements. */
int64_t sched_host_free_mb(const struct xh_state *s, const struct xh_host *h);

#endif
