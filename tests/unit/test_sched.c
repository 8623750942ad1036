/*
 * Unit tests for the scheduler (src/lib/sched.c), driven through the real
 * state machine: every plan is applied with xh_state_apply.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xenha/sched.h"
#include "xenha/state.h"

static uint64_t now_ms = 1000;

static int apply(struct xh_state *s, struct xh_cmd *c)
{
	struct xh_apply_result r;

	c->time_ms = now_ms++;
	return xh_state_apply(s, c, &r);
}

/* Host with total memory and dom0 reservation; overhead 8 MiB per domain. */
static void hello(struct xh_state *s, uint32_t id, uint64_t total, uint32_t reserved)
{
	struct xh_cmd c;

	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_HELLO;
	c.sender = id;
	c.u.hello.nodeid = id;
	snprintf(c.u.hello.name, sizeof(c.u.hello.name), "h%u", id);
	c.u.hello.mem_total_mb = total;
	c.u.hello.mem_reserved_mb = reserved;
	c.u.hello.dom_overhead_mb = 8;
	assert_int_equal(apply(s, &c), 0);
}

static void members(struct xh_state *s, uint32_t n, const uint32_t *ids)
{
	struct xh_cmd c;

	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_MEMBERSHIP;
	c.u.members.n = n;
	memcpy(c.u.members.nodeids, ids, n * sizeof(*ids));
	assert_int_equal(apply(s, &c), 0);
}

/* n hosts h1..hn, all members. */
static void cluster(struct xh_state *s, uint32_t n, uint64_t total, uint32_t reserved)
{
	uint32_t ids[XH_MAX_HOSTS], i;

	assert_int_equal(xh_state_init(s, 0), 0);
	for (i = 0; i < n; i++) {
		hello(s, i + 1, total, reserved);
		ids[i] = i + 1;
	}
	members(s, n, ids);
	assert_true(s->quorate);
}

static void add_def(struct xh_state *s, const struct xh_domain_def *def)
{
	struct xh_cmd c;

	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_DOMAIN_ADD;
	c.u.dom.def = *def;
	assert_int_equal(apply(s, &c), 0);
}

static void add(struct xh_state *s, const char *name, uint32_t mem, int32_t prio,
		const char *group)
{
	struct xh_domain_def def;

	xh_domain_def_init(&def, name);
	def.memory_mb = mem;
	def.priority = prio;
	snprintf(def.group, sizeof(def.group), "%s", group != NULL ? group : "");
	add_def(s, &def);
}

static int report(struct xh_state *s, uint8_t type, const char *name, uint32_t node,
		  uint8_t crashed)
{
	const struct xh_domain *d = xh_state_domain(s, name);
	struct xh_cmd c;

	assert_non_null(d);
	memset(&c, 0, sizeof(c));
	c.type = type;
	snprintf(c.u.place.name, sizeof(c.u.place.name), "%s", name);
	c.sender = node;  /* reports come from the host they name */
	c.u.place.nodeid = node;
	c.u.place.generation = d->generation;
	c.u.place.crashed = crashed;
	return apply(s, &c);
}

static void compute(const struct xh_state *s, const struct sched_input *in,
		    struct sched_plan *p)
{
	struct sched_input none;

	if (in == NULL) {
		memset(&none, 0, sizeof(none));
		none.now_ms = now_ms;
		in = &none;
	}
	assert_int_equal(sched_compute(s, in, p), 0);
}

/*
 * Turn every action into its command and apply it: all must be accepted.
 * With `start`, each placed domain is then reported running, each stopped
 * one reported stopped (the executor's part).  Returns the number of
 * actions.
 */
static uint32_t apply_plan(struct xh_state *s, const struct sched_plan *p, bool start)
{
	char (*names)[XH_NAME_MAX];
	uint32_t i;

	/* actions name domains by index: copy names before the state changes */
	names = calloc(p->n + 1, sizeof(*names));
	assert_non_null(names);
	for (i = 0; i < p->n; i++)
		strcpy(names[i], s->domains[p->actions[i].domain].name);
	for (i = 0; i < p->n; i++) {
		const struct sched_action *a = &p->actions[i];
		struct xh_cmd c;

		memset(&c, 0, sizeof(c));
		c.type = a->type == SCHED_PLACE ? XH_CMD_PLACE : XH_CMD_STOP;
		strcpy(c.u.place.name, names[i]);
		c.u.place.nodeid = a->nodeid;
		c.u.place.generation = a->generation;
		if (apply(s, &c) != 0)
			fail_msg("action %u (%s %s on %u) rejected", i,
				 a->type == SCHED_PLACE ? "place" : "stop", names[i],
				 a->nodeid);
		if (start)
			assert_int_equal(report(s, a->type == SCHED_PLACE ?
						XH_CMD_STARTED : XH_CMD_STOPPED,
						names[i], a->nodeid, 0), 0);
	}
	free(names);
	return p->n;
}

/* Compute and apply (with start) once; returns the action count. */
static uint32_t round_trip(struct xh_state *s)
{
	struct sched_plan p;
	uint32_t n;

	sched_plan_init(&p);
	compute(s, NULL, &p);
	n = apply_plan(s, &p, true);
	sched_plan_free(&p);
	return n;
}

static uint32_t owner_of(const struct xh_state *s, const char *name)
{
	const struct xh_domain *d = xh_state_domain(s, name);

	assert_non_null(d);
	return d->owner;
}

static const struct sched_unplaced *unplaced_of(const struct sched_plan *p,
						const struct xh_state *s,
						const char *name)
{
	uint32_t i;

	for (i = 0; i < p->n_unplaced; i++)
		if (strcmp(s->domains[p->unplaced[i].domain].name, name) == 0)
			return &p->unplaced[i];
	return NULL;
}

/* Target node of the plan's action for a domain; fails the test if none. */
static uint32_t planned_node(const struct sched_plan *p, const struct xh_state *s,
			     const char *name)
{
	uint32_t i;

	for (i = 0; i < p->n; i++)
		if (strcmp(s->domains[p->actions[i].domain].name, name) == 0)
			return p->actions[i].nodeid;
	fail_msg("no action for domain %s", name);
	return 0;
}

/* Every domain placed at most once and no host over its memory. */
static void assert_sane(const struct xh_state *s)
{
	char why[128];
	uint32_t i;

	assert_int_equal(xh_state_check(s, why, sizeof(why)), 0);
	for (i = 0; i < s->n_hosts; i++)
		assert_true(sched_host_free_mb(s, &s->hosts[i]) >= 0);
}

/* ---- tests ---- */

static void test_no_quorum(void **st)
{
	struct xh_state s;
	struct sched_plan p;
	const uint32_t one[] = { 1 };

	(void)st;
	cluster(&s, 3, 8192, 512);
	add(&s, "a", 256, 0, NULL);
	members(&s, 1, one);
	assert_false(s.quorate);
	sched_plan_init(&p);
	compute(&s, NULL, &p);
	assert_int_equal(p.n, 0);
	assert_int_equal(p.n_unplaced, 0);
	sched_plan_free(&p);
	xh_state_free(&s);
}

static void test_free_memory(void **st)
{
	struct xh_state s;

	(void)st;
	cluster(&s, 2, 4096, 512);
	assert_int_equal(sched_host_free_mb(&s, &s.hosts[0]), 3584);
	add(&s, "a", 1000, 0, NULL);
	add(&s, "b", 500, 0, NULL);
	assert_int_equal(round_trip(&s), 2);
	/* both on different hosts (most free after placing) */
	assert_int_not_equal(owner_of(&s, "a"), owner_of(&s, "b"));
	assert_int_equal(sched_host_free_mb(&s, xh_state_host(&s, owner_of(&s, "a"))),
			 3584 - 1008);
	assert_int_equal(sched_host_free_mb(&s, xh_state_host(&s, owner_of(&s, "b"))),
			 3584 - 508);
	xh_state_free(&s);
}

static void test_memory_fit(void **st)
{
	struct xh_state s;
	struct sched_plan p;
	const struct sched_unplaced *u;

	(void)st;
	/* 2 hosts with 3584 MiB for guests each */
	cluster(&s, 2, 4096, 512);
	add(&s, "a", 3000, 0, NULL);
	add(&s, "b", 3000, 0, NULL);
	add(&s, "c", 3000, 0, NULL);   /* no room left anywhere */
	add(&s, "d", 500, 0, NULL);    /* fits beside a or b */
	add(&s, "e", 3577, 0, NULL);   /* 3577 + 8 > 3584 on an empty host */
	sched_plan_init(&p);
	compute(&s, NULL, &p);
	assert_int_equal(p.n, 3);
	assert_int_not_equal(planned_node(&p, &s, "a"), planned_node(&p, &s, "b"));
	assert_int_not_equal(planned_node(&p, &s, "d"), 0);
	assert_int_equal(p.n_unplaced, 2);
	u = unplaced_of(&p, &s, "c");
	assert_non_null(u);
	assert_non_null(strstr(u->why, "3000 MiB free"));
	assert_non_null(unplaced_of(&p, &s, "e"));
	apply_plan(&s, &p, true);
	assert_sane(&s);
	sched_plan_free(&p);
	xh_state_free(&s);
}

static void test_priority_order(void **st)
{
	struct xh_state s;
	struct sched_plan p;

	(void)st;
	/* one host, room for exactly one 2000 MiB domain */
	cluster(&s, 1, 3000, 500);
	add(&s, "a-low", 2000, 1, NULL);
	add(&s, "z-high", 2000, 5, NULL);
	add(&s, "m-low", 2000, 1, NULL);
	sched_plan_init(&p);
	compute(&s, NULL, &p);
	assert_int_equal(p.n, 1);
	assert_string_equal(s.domains[p.actions[0].domain].name, "z-high");
	assert_int_equal(p.n_unplaced, 2);
	/* unplaced are reported in placement order too */
	assert_string_equal(s.domains[p.unplaced[0].domain].name, "a-low");
	assert_string_equal(s.domains[p.unplaced[1].domain].name, "m-low");
	sched_plan_free(&p);
	xh_state_free(&s);

	/* same priority: larger memory first, then name */
	cluster(&s, 1, 3000, 500);
	add(&s, "a", 1000, 0, NULL);
	add(&s, "b", 2000, 0, NULL);
	add(&s, "c", 1480, 0, NULL);
	sched_plan_init(&p);
	compute(&s, NULL, &p);
	assert_int_equal(p.n, 1);
	assert_string_equal(s.domains[p.actions[0].domain].name, "b");
	sched_plan_free(&p);
	xh_state_free(&s);
	cluster(&s, 2, 3000, 500);
	add(&s, "a", 1000, 0, NULL);
	add(&s, "b", 1000, 0, NULL);
	add(&s, "c", 1000, 0, NULL);
	sched_plan_init(&p);
	compute(&s, NULL, &p);
	/* equal everything: name order, host with most free (ties: lowest id) */
	assert_int_equal(p.n, 3);
	assert_string_equal(s.domains[p.actions[0].domain].name, "a");
	assert_int_equal(p.actions[0].nodeid, 1);
	assert_string_equal(s.domains[p.actions[1].domain].name, "b");
	assert_int_equal(p.actions[1].nodeid, 2);
	assert_string_equal(s.domains[p.actions[2].domain].name, "c");
	assert_int_equal(p.actions[2].nodeid, 1);
	sched_plan_free(&p);
	xh_state_free(&s);
}

static void test_anti_affinity(void **st)
{
	struct xh_state s;
	struct sched_plan p;
	uint32_t i, h, g;
	char n[16], grp[16];

	(void)st;
	/* 20 domains in 5 groups of 4 on 4 hosts: one of each group per host */
	cluster(&s, 4, 65536, 1024);
	for (i = 0; i < 20; i++) {
		snprintf(n, sizeof(n), "d%02u", i);
		snprintf(grp, sizeof(grp), "g%u", i % 5);
		add(&s, n, 256 + 64 * i, (int32_t)(i % 3), grp);
	}
	assert_int_equal(round_trip(&s), 20);
	for (h = 1; h <= 4; h++) {
		for (g = 0; g < 5; g++) {
			uint32_t count = 0;

			for (i = 0; i < s.n_domains; i++) {
				snprintf(grp, sizeof(grp), "g%u", g);
				if (s.domains[i].owner == h &&
				    strcmp(s.domains[i].group, grp) == 0)
					count++;
			}
			assert_int_equal(count, 1);
		}
	}
	/* a fifth member of g0 has nowhere to go */
	add(&s, "extra", 256, 0, "g0");
	add(&s, "free", 256, 0, NULL);
	sched_plan_init(&p);
	compute(&s, NULL, &p);
	assert_int_equal(p.n, 1);
	assert_string_equal(s.domains[p.actions[0].domain].name, "free");
	assert_int_equal(p.n_unplaced, 1);
	assert_non_null(strstr(p.unplaced[0].why, "anti-affinity group g0"));
	sched_plan_free(&p);
	assert_sane(&s);
	xh_state_free(&s);
}

static void test_preferred_avoided(void **st)
{
	struct xh_state s;
	struct sched_plan p;
	struct xh_domain_def def;

	(void)st;
	cluster(&s, 4, 4096, 0);
	/* h3 preferred first, h1 second */
	xh_domain_def_init(&def, "p1");
	def.memory_mb = 3000;
	def.n_preferred = 2;
	strcpy(def.preferred[0], "h3");
	strcpy(def.preferred[1], "h1");
	add_def(&s, &def);
	/* h3 is full after p1: p2 goes to its second choice */
	strcpy(def.name, "p2");
	def.priority = -1;
	add_def(&s, &def);
	/* an unknown preferred host is skipped */
	xh_domain_def_init(&def, "p3");
	def.memory_mb = 100;
	def.n_preferred = 2;
	strcpy(def.preferred[0], "nohost");
	strcpy(def.preferred[1], "h4");
	def.priority = -2;
	add_def(&s, &def);
	/* avoided hosts are never used, even when emptiest */
	xh_domain_def_init(&def, "av");
	def.memory_mb = 100;
	def.priority = -3;
	def.n_avoided = 2;
	strcpy(def.avoided[0], "h2");
	strcpy(def.avoided[1], "h4");
	add_def(&s, &def);
	sched_plan_init(&p);
	compute(&s, NULL, &p);
	assert_int_equal(p.n, 4);
	assert_int_equal(planned_node(&p, &s, "p1"), 3);
	assert_int_equal(planned_node(&p, &s, "p2"), 1);
	assert_int_equal(planned_node(&p, &s, "p3"), 4);
	/* h2 (empty) and h4 avoided; h1 and h3 have 1096 free: lowest id */
	assert_int_equal(planned_node(&p, &s, "av"), 1);
	apply_plan(&s, &p, true);
	sched_plan_free(&p);

	/* every allowed host unavailable: unplaced, not placed on an avoided one */
	xh_domain_def_init(&def, "stuck");
	def.memory_mb = 2000;
	def.n_avoided = 2;
	strcpy(def.avoided[0], "h2");
	strcpy(def.avoided[1], "h4");
	add_def(&s, &def);
	sched_plan_init(&p);
	compute(&s, NULL, &p);
	assert_int_equal(p.n, 0);
	assert_non_null(unplaced_of(&p, &s, "stuck"));
	sched_plan_free(&p);
	xh_state_free(&s);
}

static void test_standby_maintenance(void **st)
{
	struct xh_state s;
	struct sched_plan p;
	struct xh_cmd c;
	uint32_t i;

	(void)st;
	cluster(&s, 3, 8192, 0);
	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_HOST_FLAGS;
	c.u.flags.nodeid = 1;
	c.u.flags.standby = 1;
	assert_int_equal(apply(&s, &c), 0);
	c.u.flags.nodeid = 2;
	c.u.flags.standby = 0;
	c.u.flags.maintenance = 1;
	assert_int_equal(apply(&s, &c), 0);
	add(&s, "a", 256, 0, NULL);
	add(&s, "b", 256, 0, NULL);
	assert_int_equal(round_trip(&s), 2);
	for (i = 0; i < s.n_domains; i++)
		assert_int_equal(s.domains[i].owner, 3);

	/* domains on a maintenance host are left alone: no stop, no restart */
	c.u.flags.nodeid = 3;
	c.u.flags.standby = 0;
	c.u.flags.maintenance = 1;
	assert_int_equal(apply(&s, &c), 0);
	c.u.flags.nodeid = 2;
	c.u.flags.maintenance = 0;
	assert_int_equal(apply(&s, &c), 0);
	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_DOMAIN_STOP;
	strcpy(c.u.name.name, "a");
	assert_int_equal(apply(&s, &c), 0);
	assert_int_equal(report(&s, XH_CMD_EXITED, "b", 3, 1), 0);
	assert_int_equal(xh_state_domain(&s, "b")->state, XH_DS_FAILED);
	sched_plan_init(&p);
	compute(&s, NULL, &p);
	assert_int_equal(p.n, 0);
	assert_int_equal(p.n_unplaced, 0);
	sched_plan_free(&p);
	xh_state_free(&s);
}

static void test_stop_actions(void **st)
{
	struct xh_state s;
	struct sched_plan p;
	struct xh_cmd c;

	(void)st;
	cluster(&s, 2, 8192, 0);
	add(&s, "a", 256, 0, NULL);
	add(&s, "b", 256, 0, NULL);
	assert_int_equal(round_trip(&s), 2);
	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_DOMAIN_STOP;
	strcpy(c.u.name.name, "a");
	assert_int_equal(apply(&s, &c), 0);
	sched_plan_init(&p);
	compute(&s, NULL, &p);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.actions[0].type, SCHED_STOP);
	assert_int_equal(p.actions[0].nodeid, owner_of(&s, "a"));
	assert_int_equal(p.actions[0].generation, xh_state_domain(&s, "a")->generation);
	apply_plan(&s, &p, false);
	assert_int_equal(xh_state_domain(&s, "a")->state, XH_DS_STOPPING);
	/* stopping: wait, no second stop */
	compute(&s, NULL, &p);
	assert_int_equal(p.n, 0);
	assert_int_equal(report(&s, XH_CMD_STOPPED, "a", owner_of(&s, "a"), 0), 0);
	compute(&s, NULL, &p);
	assert_int_equal(p.n, 0);
	assert_int_equal(p.n_unplaced, 0);
	sched_plan_free(&p);
	xh_state_free(&s);
}

static void test_restart_relocate_limits(void **st)
{
	struct xh_state s;
	struct sched_plan p;
	struct xh_domain_def def;
	const struct sched_unplaced *u;
	uint32_t first, k;

	(void)st;
	cluster(&s, 3, 8192, 0);
	xh_domain_def_init(&def, "web");
	def.max_restarts = 2;
	def.max_relocations = 1;
	add_def(&s, &def);
	assert_int_equal(round_trip(&s), 1);
	first = owner_of(&s, "web");
	/* two crashes: restarted in place each time */
	for (k = 1; k <= 2; k++) {
		assert_int_equal(report(&s, XH_CMD_EXITED, "web", first, 1), 0);
		assert_int_equal(round_trip(&s), 1);
		assert_int_equal(owner_of(&s, "web"), first);
		assert_int_equal(xh_state_domain(&s, "web")->restarts, k);
	}
	/* third: relocated */
	assert_int_equal(report(&s, XH_CMD_EXITED, "web", first, 1), 0);
	assert_int_equal(round_trip(&s), 1);
	assert_int_not_equal(owner_of(&s, "web"), first);
	assert_int_equal(xh_state_domain(&s, "web")->relocations, 1);
	assert_int_equal(xh_state_domain(&s, "web")->restarts, 0);
	/* on the new host it gets its in-place restarts again */
	first = owner_of(&s, "web");
	for (k = 1; k <= 2; k++) {
		assert_int_equal(report(&s, XH_CMD_EXITED, "web", first, 1), 0);
		assert_int_equal(round_trip(&s), 1);
		assert_int_equal(owner_of(&s, "web"), first);
	}
	/* then the relocation limit: unplaced with the operator hint */
	assert_int_equal(report(&s, XH_CMD_EXITED, "web", first, 1), 0);
	sched_plan_init(&p);
	compute(&s, NULL, &p);
	assert_int_equal(p.n, 0);
	u = unplaced_of(&p, &s, "web");
	assert_non_null(u);
	assert_string_equal(u->why, "restart and relocation limits reached (hactl "
			    "domain start web to retry)");
	sched_plan_free(&p);
	/* the operator retries: placed again */
	memset(&def, 0, sizeof(def));
	{
		struct xh_cmd c;

		memset(&c, 0, sizeof(c));
		c.type = XH_CMD_DOMAIN_START;
		strcpy(c.u.name.name, "web");
		assert_int_equal(apply(&s, &c), 0);
	}
	assert_int_equal(round_trip(&s), 1);
	assert_int_equal(xh_state_domain(&s, "web")->state, XH_DS_RUNNING);
	xh_state_free(&s);
}

static void test_restart_in_place_blocked(void **st)
{
	struct xh_state s;
	struct xh_cmd c;
	uint32_t first;

	(void)st;
	/* the failed host went to standby: relocation at once (counted) */
	cluster(&s, 2, 8192, 0);
	add(&s, "web", 256, 0, NULL);
	assert_int_equal(round_trip(&s), 1);
	first = owner_of(&s, "web");
	assert_int_equal(report(&s, XH_CMD_EXITED, "web", first, 1), 0);
	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_HOST_FLAGS;
	c.u.flags.nodeid = first;
	c.u.flags.standby = 1;
	assert_int_equal(apply(&s, &c), 0);
	assert_int_equal(round_trip(&s), 1);
	assert_int_not_equal(owner_of(&s, "web"), first);
	assert_int_equal(xh_state_domain(&s, "web")->relocations, 1);
	xh_state_free(&s);
}

static void test_lost_never_placed(void **st)
{
	struct xh_state s;
	struct sched_plan p;
	struct xh_cmd c;
	const uint32_t two[] = { 1, 2 };
	uint32_t i, on3 = 0;
	char n[16];

	(void)st;
	cluster(&s, 3, 16384, 0);
	for (i = 0; i < 12; i++) {
		snprintf(n, sizeof(n), "d%02u", i);
		add(&s, n, 512, 0, NULL);
	}
	assert_int_equal(round_trip(&s), 12);
	for (i = 0; i < s.n_domains; i++)
		on3 += s.domains[i].owner == 3;
	assert_int_equal(on3, 4);

	members(&s, 2, two);
	sched_plan_init(&p);
	compute(&s, NULL, &p);
	assert_int_equal(p.n, 0);               /* lost: never any action */
	assert_int_equal(p.n_unplaced, 0);
	/* even with the target stopped: no stop for a lost domain */
	for (i = 0; i < s.n_domains; i++) {
		if (s.domains[i].state != XH_DS_LOST)
			continue;
		memset(&c, 0, sizeof(c));
		c.type = XH_CMD_DOMAIN_STOP;
		strcpy(c.u.name.name, s.domains[i].name);
		assert_int_equal(apply(&s, &c), 0);
		break;
	}
	compute(&s, NULL, &p);
	assert_int_equal(p.n, 0);

	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_FENCE_CONFIRM;
	c.u.fence.nodeid = 3;
	strcpy(c.u.fence.by, "test");
	assert_int_equal(apply(&s, &c), 0);
	compute(&s, NULL, &p);
	assert_int_equal(p.n, 3);               /* 4 minus the stopped one */
	for (i = 0; i < p.n; i++)
		assert_int_not_equal(p.actions[i].nodeid, 3);
	apply_plan(&s, &p, true);
	assert_sane(&s);
	sched_plan_free(&p);
	xh_state_free(&s);
}

static void test_what_if(void **st)
{
	struct xh_state s;
	struct sched_plan p;
	struct sched_input in;
	uint32_t i, on2 = 0;
	char n[16];

	(void)st;
	cluster(&s, 3, 4096, 0);
	for (i = 0; i < 9; i++) {
		snprintf(n, sizeof(n), "d%u", i);
		add(&s, n, 1000, 0, NULL);
	}
	assert_int_equal(round_trip(&s), 9);
	for (i = 0; i < s.n_domains; i++)
		on2 += s.domains[i].owner == 2;
	assert_int_equal(on2, 3);

	/* "what if h2 fails": its 3 domains need 3 x 1008 MiB; h1 and h3
	 * have 1072 each: two fit, one does not */
	memset(&in, 0, sizeof(in));
	in.n_fail = 1;
	in.fail[0] = 2;
	sched_plan_init(&p);
	compute(&s, &in, &p);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.n_unplaced, 1);
	for (i = 0; i < p.n; i++) {
		assert_int_equal(p.actions[i].type, SCHED_PLACE);
		assert_int_not_equal(p.actions[i].nodeid, 2);
		assert_int_equal(s.domains[p.actions[i].domain].owner, 2);
	}
	/* the state itself is untouched: nothing to do without the what-if */
	compute(&s, NULL, &p);
	assert_int_equal(p.n, 0);
	sched_plan_free(&p);
	xh_state_free(&s);
}

static void test_determinism_and_apply(void **st)
{
	struct xh_state s;
	struct sched_plan p1, p2;
	uint32_t i, rounds;
	char n[16], g[16];

	(void)st;
	cluster(&s, 8, 32768, 1024);
	for (i = 0; i < 300; i++) {
		snprintf(n, sizeof(n), "vm%03u", (i * 37) % 300);
		snprintf(g, sizeof(g), "g%u", i % 17);
		add(&s, n, 256 + (i * 131) % 1800, (int32_t)(i % 4),
		    i % 3 == 0 ? NULL : g);
	}
	sched_plan_init(&p1);
	sched_plan_init(&p2);
	compute(&s, NULL, &p1);
	compute(&s, NULL, &p2);
	assert_int_equal(p1.n, p2.n);
	assert_int_equal(p1.n_unplaced, p2.n_unplaced);
	assert_true(p1.n > 0);
	for (i = 0; i < p1.n; i++) {
		assert_int_equal(p1.actions[i].type, p2.actions[i].type);
		assert_int_equal(p1.actions[i].domain, p2.actions[i].domain);
		assert_int_equal(p1.actions[i].nodeid, p2.actions[i].nodeid);
		assert_int_equal(p1.actions[i].generation, p2.actions[i].generation);
	}
	/* at most one action per domain */
	for (i = 1; i < p1.n; i++)
		assert_int_not_equal(p1.actions[i - 1].domain, p1.actions[i].domain);
	/* every action accepted by the state machine */
	apply_plan(&s, &p1, true);
	assert_sane(&s);
	/* a second round has nothing new to place */
	for (rounds = 0; rounds < 3; rounds++)
		if (round_trip(&s) == 0)
			break;
	assert_int_equal(rounds, 0);
	sched_plan_free(&p1);
	sched_plan_free(&p2);
	xh_state_free(&s);
}

/* ---- live migration: drain, migrating memory, disarm, pick ---- */

static void run_here(struct xh_state *s, const char *name, uint32_t node)
{
	const struct xh_domain *d = xh_state_domain(s, name);
	struct xh_cmd c;

	assert_non_null(d);
	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_PLACE;
	snprintf(c.u.place.name, sizeof(c.u.place.name), "%s", name);
	c.u.place.nodeid = node;
	c.u.place.generation = d->generation;
	assert_int_equal(apply(s, &c), 0);
	assert_int_equal(report(s, XH_CMD_STARTED, name, node, 0), 0);
}

static void set_flags(struct xh_state *s, uint32_t node, uint8_t standby, uint8_t maint)
{
	struct xh_cmd c;

	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_HOST_FLAGS;
	c.u.flags.nodeid = node;
	c.u.flags.standby = standby;
	c.u.flags.maintenance = maint;
	assert_int_equal(apply(s, &c), 0);
}

/* Apply the plan's MIGRATE actions as MIGRATE_BEGIN; all must be accepted. */
static uint32_t apply_migrations(struct xh_state *s, const struct sched_plan *p)
{
	char names[16][XH_NAME_MAX];
	uint32_t i, n = 0;

	assert_true(p->n <= 16);
	for (i = 0; i < p->n; i++)
		strcpy(names[i], s->domains[p->actions[i].domain].name);
	for (i = 0; i < p->n; i++) {
		const struct sched_action *a = &p->actions[i];
		struct xh_cmd c;

		if (a->type != SCHED_MIGRATE)
			continue;
		memset(&c, 0, sizeof(c));
		c.type = XH_CMD_MIGRATE_BEGIN;
		c.sender = 1;
		strcpy(c.u.mig.name, names[i]);
		c.u.mig.source = a->source;
		c.u.mig.target = a->nodeid;
		c.u.mig.generation = a->generation;
		if (apply(s, &c) != 0)
			fail_msg("migrate %s %u -> %u rejected", names[i], a->source, a->nodeid);
		n++;
	}
	return n;
}

static int mig_done(struct xh_state *s, const char *name)
{
	const struct xh_domain *d = xh_state_domain(s, name);
	struct xh_cmd c;

	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_MIGRATE_DONE;
	c.sender = d->mig_target;
	strcpy(c.u.mig.name, name);
	c.u.mig.target = d->mig_target;
	c.u.mig.mig_id = d->mig_id;
	return apply(s, &c);
}

static void test_drain(void **st)
{
	struct xh_state s;
	struct sched_plan p;
	struct sched_input in;
	uint32_t i, n;

	(void)st;
	cluster(&s, 3, 16384, 1024);
	add(&s, "a", 1024, 5, NULL);
	add(&s, "b", 1024, 9, NULL);
	add(&s, "c", 1024, 1, NULL);
	add(&s, "d", 1024, 7, NULL);
	add(&s, "e", 1024, 3, NULL);
	for (i = 0; i < 5; i++)
		run_here(&s, s.domains[i].name, 1);
	set_flags(&s, 1, 1, 0);
	sched_plan_init(&p);

	/* a caller that does not handle migrations sees nothing */
	compute(&s, NULL, &p);
	assert_int_equal(p.n, 0);

	memset(&in, 0, sizeof(in));
	in.now_ms = now_ms;
	in.migrate = true;
	compute(&s, &in, &p);
	/* default concurrency 2, highest priority first */
	assert_int_equal(p.n, 2);
	assert_int_equal(p.actions[0].type, SCHED_MIGRATE);
	assert_string_equal(s.domains[p.actions[0].domain].name, "b");
	assert_string_equal(s.domains[p.actions[1].domain].name, "d");
	for (i = 0; i < p.n; i++) {
		assert_int_equal(p.actions[i].source, 1);
		assert_true(p.actions[i].nodeid == 2 || p.actions[i].nodeid == 3);
	}
	/* spread by free memory: the second goes to the other host */
	assert_true(p.actions[0].nodeid != p.actions[1].nodeid);
	assert_int_equal(apply_migrations(&s, &p), 2);
	assert_int_equal(xh_state_domain(&s, "b")->state, XH_DS_MIGRATING);

	/* both slots taken: nothing new */
	compute(&s, &in, &p);
	assert_int_equal(p.n, 0);
	/* one finishes: one more ("a", priority 5) */
	assert_int_equal(mig_done(&s, "b"), 0);
	compute(&s, &in, &p);
	assert_int_equal(p.n, 1);
	assert_string_equal(s.domains[p.actions[0].domain].name, "a");
	/* a larger limit */
	in.max_concurrent = 4;
	compute(&s, &in, &p);
	assert_int_equal(p.n, 3);
	n = apply_migrations(&s, &p);
	assert_int_equal(n, 3);
	compute(&s, &in, &p);
	assert_int_equal(p.n, 0);

	/* maintenance: HA leaves the host alone, no drain */
	for (i = 0; i < s.n_domains; i++)
		if (s.domains[i].state == XH_DS_MIGRATING)
			assert_int_equal(mig_done(&s, s.domains[i].name), 0);
	for (i = 0; i < s.n_domains; i++)
		assert_int_equal(s.domains[i].state, XH_DS_RUNNING);
	sched_plan_free(&p);
	xh_state_free(&s);
}

static void test_drain_maintenance_and_no_target(void **st)
{
	struct xh_state s;
	struct sched_plan p;
	struct sched_input in;

	(void)st;
	cluster(&s, 2, 8192, 1024);
	add(&s, "big", 6000, 0, NULL);
	add(&s, "small", 512, 0, NULL);
	add(&s, "fill", 2000, 0, NULL);
	run_here(&s, "big", 1);
	run_here(&s, "small", 1);
	run_here(&s, "fill", 2);
	memset(&in, 0, sizeof(in));
	in.now_ms = now_ms;
	in.migrate = true;
	sched_plan_init(&p);

	/* maintenance + standby: nothing */
	set_flags(&s, 1, 1, 1);
	compute(&s, &in, &p);
	assert_int_equal(p.n, 0);
	assert_int_equal(p.n_unplaced, 0);

	/* standby: "small" goes, "big" has no target and is reported */
	set_flags(&s, 1, 1, 0);
	compute(&s, &in, &p);
	assert_int_equal(p.n, 1);
	assert_string_equal(s.domains[p.actions[0].domain].name, "small");
	assert_int_equal(p.actions[0].nodeid, 2);
	assert_non_null(unplaced_of(&p, &s, "big"));
	assert_non_null(strstr(unplaced_of(&p, &s, "big")->why, "drain: no target"));
	assert_int_equal(owner_of(&s, "big"), 1); /* stays */
	sched_plan_free(&p);
	xh_state_free(&s);
}

/* A migrating domain counts on both hosts and is never placed. */
static void test_migrating_memory(void **st)
{
	struct xh_state s;
	struct sched_plan p;
	struct xh_cmd c;
	int64_t before;

	(void)st;
	cluster(&s, 2, 8192, 1024);
	add(&s, "m", 4000, 0, NULL);
	run_here(&s, "m", 1);
	before = sched_host_free_mb(&s, &s.hosts[1]);
	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_MIGRATE_BEGIN;
	strcpy(c.u.mig.name, "m");
	c.u.mig.source = 1;
	c.u.mig.target = 2;
	c.u.mig.generation = xh_state_domain(&s, "m")->generation;
	assert_int_equal(apply(&s, &c), 0);
	assert_int_equal(sched_host_free_mb(&s, &s.hosts[1]), before - 4008);
	assert_int_equal(sched_host_free_mb(&s, &s.hosts[0]), 8192 - 1024 - 4008);
	/* 3500 fits on neither host while "m" is on both */
	add(&s, "n", 3500, 0, NULL);
	sched_plan_init(&p);
	compute(&s, NULL, &p);
	assert_int_equal(p.n, 0);
	assert_non_null(unplaced_of(&p, &s, "n"));
	/* done: h1 is free again */
	assert_int_equal(mig_done(&s, "m"), 0);
	compute(&s, NULL, &p);
	assert_int_equal(p.n, 1);
	assert_int_equal(planned_node(&p, &s, "n"), 1);
	sched_plan_free(&p);
	xh_state_free(&s);
}

static void test_disarm_window(void **st)
{
	struct xh_state s;
	struct sched_plan p;
	struct sched_input in;
	struct xh_cmd c;
	uint64_t until;

	(void)st;
	cluster(&s, 2, 8192, 1024);
	add(&s, "a", 512, 0, NULL);
	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_DISARM;
	c.sender = 1;
	until = now_ms + 60000;
	c.u.disarm.until_ms = until;
	assert_int_equal(apply(&s, &c), 0);
	memset(&in, 0, sizeof(in));
	sched_plan_init(&p);
	/* wall clock unknown: disarmed (the safe side) */
	compute(&s, &in, &p);
	assert_int_equal(p.n, 0);
	in.wall_ms = until - 1;
	compute(&s, &in, &p);
	assert_int_equal(p.n, 0);
	assert_int_equal(p.n_unplaced, 0);
	/* re-arms by itself when the time comes */
	in.wall_ms = until;
	compute(&s, &in, &p);
	assert_int_equal(p.n, 1);
	/* explicit re-arm */
	in.wall_ms = 0;
	c.u.disarm.until_ms = 0;
	assert_int_equal(apply(&s, &c), 0);
	compute(&s, &in, &p);
	assert_int_equal(p.n, 1);
	sched_plan_free(&p);
	xh_state_free(&s);
}

/* a drain's retries of an aborted migration back off: 3 s doubling to 60 s */
static void test_mig_retry_backoff(void **state)
{
	(void)state;
	assert_int_equal(sched_mig_retry_ms(0), 3000);
	assert_int_equal(sched_mig_retry_ms(1), 3000);
	assert_int_equal(sched_mig_retry_ms(2), 6000);
	assert_int_equal(sched_mig_retry_ms(3), 12000);
	assert_int_equal(sched_mig_retry_ms(5), 48000);
	assert_int_equal(sched_mig_retry_ms(6), 60000);
	assert_int_equal(sched_mig_retry_ms(UINT32_MAX), 60000);
}

static void test_pick_migration_target(void **st)
{
	struct xh_state s;
	struct xh_domain_def def;
	uint32_t node = 0;

	(void)st;
	cluster(&s, 3, 8192, 1024);
	add(&s, "a", 1024, 0, NULL);
	add(&s, "fill", 2048, 0, NULL);
	add(&s, "b", 7000, 0, NULL);
	assert_int_equal(sched_pick_migration_target(&s, "zz", &node), -ENOENT);
	assert_int_equal(sched_pick_migration_target(&s, "a", &node), -EINVAL);
	run_here(&s, "a", 1);
	run_here(&s, "fill", 2);
	/* most free memory: h3 */
	assert_int_equal(sched_pick_migration_target(&s, "a", &node), 0);
	assert_int_equal(node, 3);
	/* standby and maintenance hosts are not targets */
	set_flags(&s, 3, 1, 0);
	assert_int_equal(sched_pick_migration_target(&s, "a", &node), 0);
	assert_int_equal(node, 2);
	set_flags(&s, 2, 0, 1);
	assert_int_equal(sched_pick_migration_target(&s, "a", &node), -ENOSPC);
	set_flags(&s, 2, 0, 0);
	set_flags(&s, 3, 0, 0);
	/* no room anywhere but its own host */
	run_here(&s, "b", 3);
	xh_domain_def_init(&def, "c");
	def.memory_mb = 6000;
	add_def(&s, &def);
	run_here(&s, "c", 1);
	assert_int_equal(sched_pick_migration_target(&s, "c", &node), -ENOSPC);
	/* avoided host skipped; preferred host first */
	xh_domain_def_init(&def, "p");
	def.memory_mb = 100;
	def.n_preferred = 1;
	snprintf(def.preferred[0], sizeof(def.preferred[0]), "h3");
	add_def(&s, &def);
	run_here(&s, "p", 2);
	assert_int_equal(sched_pick_migration_target(&s, "p", &node), 0);
	assert_int_equal(node, 3);
	xh_state_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_quorum),
		cmocka_unit_test(test_free_memory),
		cmocka_unit_test(test_memory_fit),
		cmocka_unit_test(test_priority_order),
		cmocka_unit_test(test_anti_affinity),
		cmocka_unit_test(test_preferred_avoided),
		cmocka_unit_test(test_standby_maintenance),
		cmocka_unit_test(test_stop_actions),
		cmocka_unit_test(test_restart_relocate_limits),
		cmocka_unit_test(test_restart_in_place_blocked),
		cmocka_unit_test(test_lost_never_placed),
		cmocka_unit_test(test_what_if),
		cmocka_unit_test(test_determinism_and_apply),
		cmocka_unit_test(test_drain),
		cmocka_unit_test(test_drain_maintenance_and_no_target),
		cmocka_unit_test(test_migrating_memory),
		cmocka_unit_test(test_disarm_window),
		cmocka_unit_test(test_pick_migration_target),
		cmocka_unit_test(test_mig_retry_backoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
