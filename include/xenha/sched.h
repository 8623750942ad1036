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

#include <stdbool.h>
#include <stdint.h>
#include "xenha/state.h"

enum sched_action_type {
	SCHED_PLACE = 1, /* start domain on nodeid (restart in place or relocation) */
	SCHED_STOP = 2,  /* stop domain on its owner */
	SCHED_MIGRATE = 3, /* live-migrate domain from source to nodeid: send
			      MIGRATE_BEGIN(name, source, nodeid, generation).
			      Only when sched_input.migrate is set. */
};

struct sched_action {
	uint8_t type;                 /* enum sched_action_type */
	uint32_t domain;              /* index into s->domains */
	uint32_t nodeid;              /* PLACE, MIGRATE: target host; STOP: owner */
	uint64_t generation;          /* domain's generation when planned (CAS) */
	uint32_t source;              /* MIGRATE: the owner it leaves; else 0 */
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
	/* Drain standby hosts by live migration (SCHED_MIGRATE).  false: no
	 * SCHED_MIGRATE is ever planned (a caller that predates migration
	 * must not see a type it would mistake for another). */
	bool migrate;
	/* Migrations in flight per standby source (MIGRATING domains it owns,
	 * counting those planned now); 0 = default 2. */
	uint32_t max_concurrent;
	/* Wall-clock ms (the clock of xh_cmd.time_ms) for the DISARM window:
	 * while wall_ms < s->disarmed_until_ms nothing at all is planned.  0
	 * (unknown) with a disarm recorded counts as disarmed: the safe side. */
	uint64_t wall_ms;
};

void sched_plan_init(struct sched_plan *p);
void sched_plan_free(struct sched_plan *p);

/*
 * Compute actions for s.  Returns 0 or -ENOMEM.  Produces nothing while
 * !s->quorate or while disarmed (see sched_input.wall_ms).  Never places a domain that has an owner (enum
 * xh_dom_state), i.e. whose last host is neither confirmed fenced nor
 * confirmed to have stopped it.
 * out must have been set up with sched_plan_init(); its previous contents
 * are discarded (buffers are reused).  STOP actions come first, then PLACE
 * actions in placement order (priority, memory, name), then MIGRATE
 * actions (drain; same order); unplaced domains are listed with the
 * reason (a drained domain with nowhere to go: "drain: no target: ...").  in may be NULL (no what-if).  The rules are
 * stated above sched_compute in sched.c and in docs/scheduler.md.
 */
int sched_compute(const struct xh_state *s, const struct sched_input *in,
		  struct sched_plan *out);

/* Free memory (MiB) for guests on host h given current placements (a
 * migrating domain counts on its source and on its target). */
int64_t sched_host_free_mb(const struct xh_state *s, const struct xh_host *h);

/*
 * The best target for live-migrating the RUNNING domain `name` off its
 * owner now (hactl migrate D without HOST): the placement rules of
 * sched_compute (member, not fenced, not standby or maintenance, not the
 * owner, not avoided, room, anti-affinity, preferred hosts first, else the
 * most free memory).  0 and *nodeid, or -ENOENT no such domain, -EINVAL not
 * RUNNING, -ENOSPC no host qualifies, -ENOMEM.  Ignores the disarm window
 * (an operator's explicit request).
 */
int sched_pick_migration_target(const struct xh_state *s, const char *name,
				uint32_t *nodeid);

/*
 * How long the coordinator waits before it proposes a drain's migration of
 * a domain again at the same generation (the last attempt aborted: a
 * target without the key, a stream that broke), after `tries` proposals:
 * SCHED_MIG_RETRY_MS, doubling, at most SCHED_MIG_RETRY_MAX_MS.
 */
#define SCHED_MIG_RETRY_MS 3000u
#define SCHED_MIG_RETRY_MAX_MS 60000u
uint32_t sched_mig_retry_ms(uint32_t tries);

#endif
