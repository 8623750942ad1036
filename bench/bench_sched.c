/*
 * bench_sched: time the scheduler and the state machine at cluster scale.
 *
 *   bench/bench_sched [--reps N] [--json FILE]
 *
 * 1. place_5000_on_32: 32 hosts (64 GiB, 1 GiB dom0 reservation, 8 MiB
 *    per-domain overhead), 5,000 stopped domains (256..2048 MiB, weighted
 *    to the small end so that they fit; 50 anti-affinity groups of 20;
 *    priorities 0..9).  Times sched_compute for the initial placement, then
 *    applies the plan through xh_state_apply (every action must be
 *    accepted) and reports the domains running.
 * 2. recover_1000: the hosts with the most domains are put in the what-if
 *    fail list until at least 1,000 domains are affected, and the recovery
 *    plan is timed.  (A single 64 GiB host cannot hold 1,000 domains of at
 *    least 256 MiB, so "a host with 1,000 domains" becomes "failed hosts
 *    with 1,000 domains"; the scheduler's work is the same: 1,000
 *    candidates over the surviving hosts.)
 * 4. recover_host_1000: the literal case, on hosts of 512 GiB: the first
 *    1,000 domains prefer host01, so it runs them all; host01 fails and the
 *    recovery plan for its 1,000 domains over the 31 survivors is timed.
 * 3. apply_5000: 5,000 commands applied to the 5,000-domain state (a STOP
 *    and a STOPPED report for 2,500 running domains): the state machine's
 *    per-command cost including its invariant check.
 *
 * Each timing is repeated --reps times (default 50, at least 20); p50, p99
 * and max are printed in ms.  Clock reads live here, never in src/lib.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xenha/sched.h"
#include "xenha/state.h"

#define N_HOSTS 32
#define N_DOMAINS 5000
#define N_GROUPS 50
#define GROUP_SIZE 20
#define RECOVER_TARGET 1000

static uint64_t fake_time = 1;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *what, int rc, const char *why)
{
	fprintf(stderr, "bench_sched: %s: %s%s%s\n", what, strerror(rc < 0 ? -rc : rc),
		why != NULL && why[0] != '\0' ? ": " : "", why != NULL ? why : "");
	exit(1);
}

static void apply(struct xh_state *s, struct xh_cmd *c)
{
	struct xh_apply_result r;
	int rc;

	c->time_ms = fake_time++;
	rc = xh_state_apply(s, c, &r);
	if (rc < 0)
		die(xh_cmd_type_str(c->type), rc, r.reason);
}

/* host_mb: memory per host; pin: the first `pin` domains prefer host01 */
static void build_state(struct xh_state *s, uint64_t host_mb, uint32_t pin)
{
	struct xh_cmd c;
	uint32_t i;
	int rc;

	rc = xh_state_init(s, 0);
	if (rc < 0)
		die("init", rc, NULL);
	for (i = 1; i <= N_HOSTS; i++) {
		memset(&c, 0, sizeof(c));
		c.type = XH_CMD_HELLO;
		c.sender = i;
		c.u.hello.nodeid = i;
		snprintf(c.u.hello.name, sizeof(c.u.hello.name), "host%02" PRIu32, i);
		c.u.hello.mem_total_mb = host_mb;
		c.u.hello.mem_reserved_mb = 1024;
		c.u.hello.dom_overhead_mb = 8;
		apply(s, &c);
	}
	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_MEMBERSHIP;
	c.u.members.n = N_HOSTS;
	for (i = 0; i < N_HOSTS; i++)
		c.u.members.nodeids[i] = i + 1;
	apply(s, &c);

	for (i = 0; i < N_DOMAINS; i++) {
		/* deterministic mix: 75% 256, 17% 512, 6% 1024, 2% 2048 MiB */
		uint32_t r = (i * 7919u) % 100;
		uint32_t mem = r < 75 ? 256 : r < 92 ? 512 : r < 98 ? 1024 : 2048;

		memset(&c, 0, sizeof(c));
		c.type = XH_CMD_DOMAIN_ADD;
		xh_domain_def_init(&c.u.dom.def, NULL);
		snprintf(c.u.dom.def.name, sizeof(c.u.dom.def.name), "vm%05" PRIu32, i);
		c.u.dom.def.memory_mb = mem;
		c.u.dom.def.priority = (int32_t)((i * 31u) % 10);
		c.u.dom.def.xlcfg = "name = \"vm\"\nmemory = 256\nvcpus = 1\n";
		/* pinned: the first `pin` domains outside anti-affinity groups
		 * (every fifth domain is in a group, which one host cannot take
		 * twice) */
		if (i % 5 != 0 && i < pin / 4 * 5) {
			c.u.dom.def.n_preferred = 1;
			strcpy(c.u.dom.def.preferred[0], "host01");
		}
		if (i % 5 == 0 && i / 5 < N_GROUPS * GROUP_SIZE)
			snprintf(c.u.dom.def.group, sizeof(c.u.dom.def.group),
				 "grp%02" PRIu32, (i / 5) % N_GROUPS);
		apply(s, &c);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct stats {
	double p50, p99, max;
};

static struct stats summarize(double *v, unsigned n)
{
	struct stats st;
	unsigned i99 = (unsigned)((n * 99 + 99) / 100) - 1;

	qsort(v, n, sizeof(*v), cmp_double);
	st.p50 = v[n / 2];
	st.p99 = v[i99 < n ? i99 : n - 1];
	st.max = v[n - 1];
	return st;
}

/* Apply a plan's actions and the executor's reports; all must be accepted. */
static uint32_t apply_plan(struct xh_state *s, const struct sched_plan *p)
{
	char (*names)[XH_NAME_MAX] = calloc((size_t)p->n + 1, sizeof(*names));
	uint32_t i;

	if (names == NULL)
		die("calloc", -ENOMEM, NULL);
	for (i = 0; i < p->n; i++)
		memcpy(names[i], s->domains[p->actions[i].domain].name, XH_NAME_MAX);
	for (i = 0; i < p->n; i++) {
		struct xh_cmd c;

		memset(&c, 0, sizeof(c));
		c.type = p->actions[i].type == SCHED_PLACE ? XH_CMD_PLACE : XH_CMD_STOP;
		memcpy(c.u.place.name, names[i], XH_NAME_MAX);
		c.u.place.nodeid = p->actions[i].nodeid;
		c.u.place.generation = p->actions[i].generation;
		apply(s, &c);
		/* the executor's report, sent by the host it names: a PLACE
		 * advanced the generation */
		c.sender = c.u.place.nodeid;
		if (c.type == XH_CMD_PLACE) {
			c.type = XH_CMD_STARTED;
			c.u.place.generation++;
		} else {
			c.type = XH_CMD_STOPPED;
		}
		apply(s, &c);
	}
	free(names);
	return p->n;
}

int main(int argc, char **argv)
{
	const char *json = NULL;
	unsigned reps = 50, r, i;
	struct xh_state s;
	struct sched_plan plan;
	struct sched_input in;
	struct stats place_st, rec_st, apply_st, host_st;
	uint32_t host_domains, host_placed, host_unplaced;
	double *t, t0;
	uint32_t per_host[N_HOSTS + 1] = { 0 }, affected = 0, placed, running = 0;
	uint32_t rec_placed = 0, rec_unplaced = 0, init_unplaced;
	int rc;

	for (i = 1; i < (unsigned)argc; i++) {
		if (strcmp(argv[i], "--json") == 0 && i + 1 < (unsigned)argc) {
			json = argv[++i];
		} else if (strcmp(argv[i], "--reps") == 0 && i + 1 < (unsigned)argc) {
			reps = (unsigned)strtoul(argv[++i], NULL, 10);
			if (reps < 20)
				reps = 20;
		} else {
			fprintf(stderr, "usage: bench_sched [--reps N] [--json FILE]\n");
			return 2;
		}
	}
	t = calloc(reps, sizeof(*t));
	if (t == NULL)
		die("calloc", -ENOMEM, NULL);

	build_state(&s, 65536, 0);
	memset(&in, 0, sizeof(in));
	sched_plan_init(&plan);

	/* 1. initial placement */
	for (r = 0; r < reps; r++) {
		t0 = now_ms();
		rc = sched_compute(&s, &in, &plan);
		t[r] = now_ms() - t0;
		if (rc < 0)
			die("sched_compute", rc, NULL);
	}
	place_st = summarize(t, reps);
	init_unplaced = plan.n_unplaced;
	placed = apply_plan(&s, &plan);
	for (i = 0; i < s.n_domains; i++) {
		running += s.domains[i].state == XH_DS_RUNNING;
		per_host[s.domains[i].owner]++;
	}

	/* 2. recovery: fail the fullest hosts until >= 1000 domains are affected */
	while (affected < RECOVER_TARGET && in.n_fail < N_HOSTS - 1) {
		uint32_t best = 1, h;

		for (h = 2; h <= N_HOSTS; h++)
			if (per_host[h] > per_host[best])
				best = h;
		in.fail[in.n_fail++] = best;
		affected += per_host[best];
		per_host[best] = 0;
	}
	for (r = 0; r < reps; r++) {
		t0 = now_ms();
		rc = sched_compute(&s, &in, &plan);
		t[r] = now_ms() - t0;
		if (rc < 0)
			die("sched_compute", rc, NULL);
	}
	rec_st = summarize(t, reps);
	rec_placed = plan.n;
	rec_unplaced = plan.n_unplaced;

	/* 3. apply cost: STOP + STOPPED for 2,500 running domains, 5,000 commands,
	 * on a copy each repetition so every repetition does the same work */
	for (r = 0; r < reps; r++) {
		struct xh_state c;
		uint32_t n = 0;

		rc = xh_state_copy(&c, &s);
		if (rc < 0)
			die("copy", rc, NULL);
		t0 = now_ms();
		for (i = 0; i < c.n_domains && n < 5000; i++) {
			struct xh_cmd cmd;

			if (c.domains[i].state != XH_DS_RUNNING)
				continue;
			memset(&cmd, 0, sizeof(cmd));
			cmd.type = XH_CMD_STOP;
			memcpy(cmd.u.place.name, c.domains[i].name, XH_NAME_MAX);
			cmd.u.place.nodeid = c.domains[i].owner;
			cmd.u.place.generation = c.domains[i].generation;
			apply(&c, &cmd);
			cmd.type = XH_CMD_STOPPED;
			cmd.sender = cmd.u.place.nodeid;  /* the owner reports */
			apply(&c, &cmd);
			n += 2;
		}
		t[r] = now_ms() - t0;
		xh_state_free(&c);
		if (n != 5000)
			die("apply bench", -EINVAL, "fewer than 2500 running domains");
	}
	apply_st = summarize(t, reps);

	/* 4. recover_host_1000: the literal case, one failed host that ran
	 * 1,000 domains: hosts of 512 GiB, the first 1,000 domains prefer host01
	 * (so it gets all of them), then host01 fails; every one of its domains
	 * must find a place on the 31 survivors. */
	{
		struct xh_state s2;
		struct sched_input in2;
		uint32_t on1 = 0;

		build_state(&s2, 512u * 1024u, RECOVER_TARGET);
		memset(&in2, 0, sizeof(in2));
		rc = sched_compute(&s2, &in2, &plan);
		if (rc < 0)
			die("sched_compute", rc, NULL);
		apply_plan(&s2, &plan);
		for (i = 0; i < s2.n_domains; i++)
			on1 += s2.domains[i].owner == 1;
		in2.fail[in2.n_fail++] = 1;
		for (r = 0; r < reps; r++) {
			t0 = now_ms();
			rc = sched_compute(&s2, &in2, &plan);
			t[r] = now_ms() - t0;
			if (rc < 0)
				die("sched_compute", rc, NULL);
		}
		host_st = summarize(t, reps);
		host_domains = on1;
		host_placed = plan.n;
		host_unplaced = plan.n_unplaced;
		xh_state_free(&s2);
	}

	printf("sched bench: %d hosts, %d domains, %u repetitions\n", N_HOSTS,
	       N_DOMAINS, reps);
	printf("place_5000_on_32: p50 %.3f ms  p99 %.3f ms  max %.3f ms  "
	       "(placed %" PRIu32 ", unplaced %" PRIu32 ", running after apply %" PRIu32
	       ")\n", place_st.p50, place_st.p99, place_st.max, placed, init_unplaced,
	       running);
	printf("recover_1000:     p50 %.3f ms  p99 %.3f ms  max %.3f ms  "
	       "(failed hosts %" PRIu32 ", domains affected %" PRIu32 ", placed %"
	       PRIu32 ", unplaced %" PRIu32 ")\n", rec_st.p50, rec_st.p99, rec_st.max,
	       in.n_fail, affected, rec_placed, rec_unplaced);
	printf("recover_host_1000: p50 %.3f ms  p99 %.3f ms  max %.3f ms  "
	       "(512 GiB hosts; host01 ran %" PRIu32 " domains; placed %" PRIu32
	       ", unplaced %" PRIu32 ")\n", host_st.p50, host_st.p99, host_st.max,
	       host_domains, host_placed, host_unplaced);
	printf("apply_5000:       p50 %.3f ms  p99 %.3f ms  max %.3f ms  "
	       "(5000 commands on %d domains, invariant checks included)\n",
	       apply_st.p50, apply_st.p99, apply_st.max, N_DOMAINS);

	if (json != NULL) {
		FILE *f = fopen(json, "w");

		if (f == NULL) {
			fprintf(stderr, "bench_sched: %s: %s\n", json, strerror(errno));
			return 1;
		}
		fprintf(f, "{\"bench\":\"sched\",\"reps\":%u,"
			"\"place_5000_on_32\":{\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
			"\"placed\":%" PRIu32 ",\"unplaced\":%" PRIu32 "},"
			"\"recover_1000\":{\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
			"\"failed_hosts\":%" PRIu32 ",\"domains\":%" PRIu32 ",\"placed\":%"
			PRIu32 ",\"unplaced\":%" PRIu32 "},"
			"\"recover_host_1000\":{\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
			"\"domains\":%" PRIu32 ",\"placed\":%" PRIu32 ",\"unplaced\":%" PRIu32 "},"
			"\"apply_5000\":{\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}}\n",
			reps, place_st.p50, place_st.p99, place_st.max, placed, init_unplaced,
			rec_st.p50, rec_st.p99, rec_st.max, in.n_fail, affected, rec_placed,
			rec_unplaced, host_st.p50, host_st.p99, host_st.max, host_domains,
			host_placed, host_unplaced, apply_st.p50, apply_st.p99, apply_st.max);
		if (fclose(f) != 0) {
			fprintf(stderr, "bench_sched: %s: %s\n", json, strerror(errno));
			return 1;
		}
	}
	sched_plan_free(&plan);
	xh_state_free(&s);
	free(t);
	return 0;
}
