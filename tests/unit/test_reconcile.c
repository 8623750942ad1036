/* Unit tests for the local executor rules (src/lib/reconcile.c), on states
 * built through the real state machine. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "xenha/reconcile.h"
#include "xenha/state.h"

static void apply_ok(struct xh_state *s, struct xh_cmd *c)
{
	struct xh_apply_result r;

	c->time_ms = 1000 + s->seq;
	memset(&r, 0, sizeof(r));
	if (xh_state_apply(s, c, &r) != 0)
		fail_msg("apply %s failed: %s", xh_cmd_type_str(c->type), r.reason);
}

static void hello(struct xh_state *s, uint32_t id)
{
	struct xh_cmd c;

	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_HELLO;
	c.sender = id;
	c.u.hello.nodeid = id;
	snprintf(c.u.hello.name, sizeof(c.u.hello.name), "h%u", id);
	c.u.hello.mem_total_mb = 8192;
	c.u.hello.expected_votes = 3;
	apply_ok(s, &c);
}

static void members(struct xh_state *s, uint32_t n, const uint32_t *ids)
{
	struct xh_cmd c;

	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_MEMBERSHIP;
	c.u.members.n = n;
	memcpy(c.u.members.nodeids, ids, n * sizeof(*ids));
	apply_ok(s, &c);
}

static void add(struct xh_state *s, const char *name)
{
	struct xh_cmd c;

	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_DOMAIN_ADD;
	xh_domain_def_init(&c.u.dom.def, name);
	apply_ok(s, &c);
}

static void place_cmd(struct xh_state *s, uint8_t type, const char *name, uint32_t node)
{
	struct xh_cmd c;
	const struct xh_domain *d = xh_state_domain(s, name);

	memset(&c, 0, sizeof(c));
	c.type = type;
	snprintf(c.u.place.name, sizeof(c.u.place.name), "%s", name);
	c.sender = node;
	c.u.place.nodeid = node;
	c.u.place.generation = d->generation;
	apply_ok(s, &c);
}

/* 3 hosts, all members, quorate; domains a (placed on 1), b (running on 1),
 * c (running on 2), s (stopping on 1) */
static void setup3(struct xh_state *s)
{
	uint32_t m[] = { 1, 2, 3 };

	assert_int_equal(xh_state_init(s, 0), 0);
	members(s, 3, m);
	hello(s, 1);
	hello(s, 2);
	hello(s, 3);
	add(s, "a");
	add(s, "b");
	add(s, "c");
	add(s, "s");
	place_cmd(s, XH_CMD_PLACE, "a", 1);
	place_cmd(s, XH_CMD_PLACE, "b", 1);
	place_cmd(s, XH_CMD_STARTED, "b", 1);
	place_cmd(s, XH_CMD_PLACE, "c", 2);
	place_cmd(s, XH_CMD_STARTED, "c", 2);
	place_cmd(s, XH_CMD_PLACE, "s", 1);
	place_cmd(s, XH_CMD_STARTED, "s", 1);
	place_cmd(s, XH_CMD_STOP, "s", 1);
}

static const struct rec_action *find(const struct rec_action *a, uint32_t n, const char *name)
{
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(a[i].name, name) == 0)
			return &a[i];
	return NULL;
}

/* like find(), but a missing action fails the test (never returns NULL) */
static const struct rec_action *must_find(const struct rec_action *a, uint32_t n, const char *name)
{
	static const struct rec_action none;
	const struct rec_action *x = find(a, n, name);

	if (!x) {
		fail_msg("no action for %s", name);
		return &none;
	}
	return x;
}

static void local(struct rec_local *l, const char *name, uint64_t gen)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->generation = gen;
	l->running = true;
}

static void test_nothing_unsynced(void **st)
{
	struct xh_state s;
	struct rec_action a[16];
	struct rec_input in = { .me = 1, .synced = false, .quorate = true };
	uint32_t n = 99;

	(void)st;
	setup3(&s);
	assert_int_equal(rec_compute(&s, &in, a, 16, &n), 0);
	assert_int_equal(n, 0);
	xh_state_free(&s);
}

static void test_start_report_stop(void **st)
{
	struct xh_state s;
	struct rec_action a[16];
	struct rec_local l[2];
	struct rec_input in = { .me = 1, .synced = true, .quorate = true, .local = l };
	const struct rec_action *x;
	uint32_t n;

	(void)st;
	setup3(&s);
	/* here runs s only; b is gone */
	local(&l[0], "s", 3);
	in.n_local = 1;
	assert_int_equal(rec_compute(&s, &in, a, 16, &n), 0);
	x = must_find(a, n, "a");
	assert_int_equal(x->type, REC_START);
	assert_int_equal(x->generation, xh_state_domain(&s, "a")->generation);
	x = must_find(a, n, "b");
	assert_int_equal(x->type, REC_REPORT_EXITED);
	x = must_find(a, n, "s");
	assert_int_equal(x->type, REC_SHUTDOWN);
	assert_null(find(a, n, "c"));  /* not ours */
	xh_state_free(&s);
}

static void test_no_start_without_quorum(void **st)
{
	struct xh_state s;
	struct rec_action a[16];
	struct rec_input in = { .me = 1, .synced = true, .quorate = false };
	uint32_t n;

	(void)st;
	setup3(&s);
	assert_int_equal(rec_compute(&s, &in, a, 16, &n), 0);
	for (uint32_t i = 0; i < n; i++)
		assert_int_not_equal(a[i].type, REC_START);
	/* and when the state says no quorum (votequorum says yes) */
	{
		uint32_t m[] = { 1 };

		members(&s, 1, m);
		in.quorate = true;
		assert_int_equal(rec_compute(&s, &in, a, 16, &n), 0);
		for (uint32_t i = 0; i < n; i++)
			assert_int_not_equal(a[i].type, REC_START);
	}
	xh_state_free(&s);
}

static void test_destroy_foreign_copy(void **st)
{
	struct xh_state s;
	struct rec_action a[16];
	struct rec_local l[2];
	struct rec_input in = { .me = 3, .synced = true, .quorate = true, .local = l, .n_local = 2 };
	const struct rec_action *x;
	uint32_t n;

	(void)st;
	setup3(&s);
	local(&l[0], "c", 2);        /* placed on 2, runs on 3 too */
	local(&l[1], "nobody", 1);   /* unknown to the cluster */
	assert_int_equal(rec_compute(&s, &in, a, 16, &n), 0);
	x = must_find(a, n, "c");
	assert_int_equal(x->type, REC_DESTROY);
	x = must_find(a, n, "nobody");
	assert_int_equal(x->type, REC_UNKNOWN);
	xh_state_free(&s);
}

static void test_maintenance_touches_nothing(void **st)
{
	struct xh_state s;
	struct rec_action a[16];
	struct rec_local l[2];
	struct rec_input in = { .me = 1, .synced = true, .quorate = true, .local = l, .n_local = 2 };
	struct xh_cmd c;
	uint32_t n;

	(void)st;
	setup3(&s);
	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_HOST_FLAGS;
	c.u.flags.nodeid = 1;
	c.u.flags.maintenance = 1;
	apply_ok(&s, &c);
	local(&l[0], "s", 3);
	local(&l[1], "c", 1);
	assert_int_equal(rec_compute(&s, &in, a, 16, &n), 0);
	for (uint32_t i = 0; i < n; i++) {
		assert_int_not_equal(a[i].type, REC_START);
		assert_int_not_equal(a[i].type, REC_SHUTDOWN);
		assert_int_not_equal(a[i].type, REC_DESTROY);
	}
	xh_state_free(&s);
}

/* A host that left and came back reclaims the domain that kept running
 * and reports the one that did not. */
static void test_rejoin_reclaims(void **st)
{
	struct xh_state s;
	struct rec_action a[16];
	struct rec_local l[1];
	struct rec_input in = { .me = 2, .synced = true, .quorate = true, .local = l, .n_local = 1 };
	uint32_t m2[] = { 1, 3 }, m3[] = { 1, 2, 3 };
	const struct rec_action *x;
	uint32_t n;

	(void)st;
	setup3(&s);
	add(&s, "d");
	place_cmd(&s, XH_CMD_PLACE, "d", 2);
	place_cmd(&s, XH_CMD_STARTED, "d", 2);
	members(&s, 2, m2);
	assert_int_equal(xh_state_domain(&s, "c")->state, XH_DS_LOST);
	members(&s, 3, m3);
	assert_int_equal(xh_state_domain(&s, "c")->state, XH_DS_LOST);
	local(&l[0], "c", xh_state_domain(&s, "c")->generation);
	assert_int_equal(rec_compute(&s, &in, a, 16, &n), 0);
	x = must_find(a, n, "c");
	assert_int_equal(x->type, REC_REPORT_STARTED);
	x = must_find(a, n, "d");
	assert_int_equal(x->type, REC_REPORT_EXITED);
	xh_state_free(&s);
}

static void test_capacity(void **st)
{
	struct xh_state s;
	struct rec_action a[1];
	struct rec_local l[2];
	struct rec_input in = { .me = 1, .synced = true, .quorate = true, .local = l, .n_local = 1 };
	uint32_t n;

	(void)st;
	setup3(&s);
	local(&l[0], "s", 3);
	assert_int_equal(rec_compute(&s, &in, a, 1, &n), -ENOSPC);
	assert_int_equal(n, 1);
	xh_state_free(&s);
}

/* ---- live migration ---- */

static void begin_mig(struct xh_state *s, const char *name, uint32_t src, uint32_t tgt)
{
	struct xh_cmd c;

	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_MIGRATE_BEGIN;
	c.sender = 3;
	snprintf(c.u.mig.name, sizeof(c.u.mig.name), "%s", name);
	c.u.mig.source = src;
	c.u.mig.target = tgt;
	c.u.mig.generation = xh_state_domain(s, name)->generation;
	apply_ok(s, &c);
}

static void confirm(struct xh_state *s, uint32_t node)
{
	struct xh_cmd c;

	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_FENCE_CONFIRM;
	c.u.fence.nodeid = node;
	apply_ok(s, &c);
}

static void flags(struct xh_state *s, uint32_t node, uint8_t maint)
{
	struct xh_cmd c;

	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_HOST_FLAGS;
	c.u.flags.nodeid = node;
	c.u.flags.maintenance = maint;
	apply_ok(s, &c);
}

static void mig(struct rec_mig *e, const char *name, uint64_t id, uint8_t role,
		uint8_t outcome)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->mig_id = id;
	e->role = role;
	e->outcome = outcome;
}

/* "m" running on h1 and MIGRATING to h2; returns its generation G. */
static uint64_t setup_mig(struct xh_state *s)
{
	uint32_t m[] = { 1, 2, 3 };

	assert_int_equal(xh_state_init(s, 0), 0);
	members(s, 3, m);
	hello(s, 1);
	hello(s, 2);
	hello(s, 3);
	add(s, "m");
	place_cmd(s, XH_CMD_PLACE, "m", 1);
	place_cmd(s, XH_CMD_STARTED, "m", 1);
	begin_mig(s, "m", 1, 2);
	assert_int_equal(xh_state_domain(s, "m")->state, XH_DS_MIGRATING);
	return xh_state_domain(s, "m")->generation;
}

/* Run the rules; n actions into a. */
static uint32_t rec(const struct xh_state *s, uint32_t me, const struct rec_local *l,
		    uint32_t nl, const struct rec_mig *mg, uint32_t nm, struct rec_action *a)
{
	struct rec_input in = { .me = me, .synced = true, .quorate = true, .local = l,
				.n_local = nl };
	uint32_t n = 0;

	assert_int_equal(rec_compute_mig(s, &in, mg, nm, a, 16, &n), 0);
	return n;
}

static void assert_only(const struct rec_action *a, uint32_t n, uint8_t type)
{
	if (n != 1 || a[0].type != type)
		fail_msg("expected exactly %s, got %u actions (first %s)", rec_action_str(type),
			 n, n ? rec_action_str(a[0].type) : "-");
}

static void test_mig_source(void **st)
{
	struct xh_state s;
	struct rec_action a[16];
	struct rec_local l[1];
	struct rec_mig e[1];
	struct rec_input in = { .me = 1, .synced = true, .quorate = true, .local = l,
				.n_local = 1 };
	uint64_t g, id;
	uint32_t n;

	(void)st;
	g = setup_mig(&s);
	id = xh_state_domain(&s, "m")->mig_id;
	local(&l[0], "m", g);

	/* unknown locally and running here: send, once per mig_id */
	n = rec(&s, 1, l, 1, NULL, 0, a);
	assert_only(a, n, REC_MIGRATE_SEND);
	assert_int_equal(a[0].peer, 2);
	assert_int_equal(a[0].mig_id, id);
	assert_int_equal(a[0].generation, g);
	assert_string_equal(rec_action_str(REC_MIGRATE_SEND), "migrate-send");
	/* rec_compute = no migration known */
	assert_int_equal(rec_compute(&s, &in, a, 16, &n), 0);
	assert_only(a, n, REC_MIGRATE_SEND);
	/* an older attempt's entry does not count */
	mig(&e[0], "m", id - 1, REC_MIG_SOURCE, REC_MIG_ABORTED);
	n = rec(&s, 1, l, 1, e, 1, a);
	assert_only(a, n, REC_MIGRATE_SEND);
	/* in progress: nothing */
	mig(&e[0], "m", id, REC_MIG_SOURCE, REC_MIG_IN_PROGRESS);
	assert_int_equal(rec(&s, 1, l, 1, e, 1, a), 0);
	/* aborted: report */
	mig(&e[0], "m", id, REC_MIG_SOURCE, REC_MIG_ABORTED);
	n = rec(&s, 1, l, 1, e, 1, a);
	assert_only(a, n, REC_REPORT_MIG_ABORTED);
	assert_int_equal(a[0].mig_id, id);
	/* in doubt (paused), target alive: wait; never "exited" */
	l[0].running = false;
	mig(&e[0], "m", id, REC_MIG_SOURCE, REC_MIG_IN_DOUBT);
	assert_int_equal(rec(&s, 1, l, 1, e, 1, a), 0);
	/* paused after a daemon restart (nothing known): wait */
	assert_int_equal(rec(&s, 1, l, 1, NULL, 0, a), 0);
	/* done, copy gone, target alive: wait */
	mig(&e[0], "m", id, REC_MIG_SOURCE, REC_MIG_DONE);
	assert_int_equal(rec(&s, 1, NULL, 0, e, 1, a), 0);
	assert_int_equal(rec(&s, 1, NULL, 0, NULL, 0, a), 0);
	/* maintenance: no send */
	l[0].running = true;
	flags(&s, 1, 1);
	assert_int_equal(rec(&s, 1, l, 1, NULL, 0, a), 0);
	/* another host: nothing about m */
	flags(&s, 1, 0);
	assert_int_equal(rec(&s, 3, NULL, 0, NULL, 0, a), 0);
	xh_state_free(&s);
}

static void test_mig_target(void **st)
{
	struct xh_state s;
	struct rec_action a[16];
	struct rec_local l[1];
	struct rec_mig e[1];
	struct rec_input in = { .me = 2, .synced = true, .quorate = false };
	uint64_t g, id;
	uint32_t n;

	(void)st;
	g = setup_mig(&s);
	id = xh_state_domain(&s, "m")->mig_id;

	n = rec(&s, 2, NULL, 0, NULL, 0, a);
	assert_only(a, n, REC_MIGRATE_RECV);
	assert_int_equal(a[0].generation, g + 1);
	assert_int_equal(a[0].peer, 1);
	assert_int_equal(a[0].mig_id, id);
	/* no receive without quorum (votequorum's view) */
	assert_int_equal(rec_compute_mig(&s, &in, NULL, 0, a, 16, &n), 0);
	assert_int_equal(n, 0);
	/* in progress or failed: nothing */
	mig(&e[0], "m", id, REC_MIG_TARGET, REC_MIG_IN_PROGRESS);
	assert_int_equal(rec(&s, 2, NULL, 0, e, 1, a), 0);
	mig(&e[0], "m", id, REC_MIG_TARGET, REC_MIG_FAILED);
	assert_int_equal(rec(&s, 2, NULL, 0, e, 1, a), 0);
	/* received: report done with the downtime */
	mig(&e[0], "m", id, REC_MIG_TARGET, REC_MIG_DONE);
	e[0].downtime_ms = 55;
	local(&l[0], "m", g + 1);
	n = rec(&s, 2, l, 1, e, 1, a);
	assert_only(a, n, REC_REPORT_MIG_DONE);
	assert_int_equal(a[0].downtime_ms, 55);
	assert_int_equal(a[0].generation, g + 1);
	/* a copy at G+1 after a restart (nothing known): done, not destroyed */
	n = rec(&s, 2, l, 1, NULL, 0, a);
	assert_only(a, n, REC_REPORT_MIG_DONE);
	/* a copy at another generation is a foreign copy */
	l[0].generation = g;
	n = rec(&s, 2, l, 1, NULL, 0, a);
	assert_true(find(a, n, "m") != NULL);
	assert_int_equal(a[0].type, REC_DESTROY);
	/* maintenance: no receive */
	flags(&s, 2, 1);
	assert_int_equal(rec(&s, 2, NULL, 0, NULL, 0, a), 0);
	xh_state_free(&s);
}

/* In doubt on the source: resolved only by the target's fencing or DONE. */
static void test_mig_in_doubt(void **st)
{
	struct xh_state s;
	struct rec_action a[16];
	struct rec_local l[1];
	struct rec_mig e[1];
	uint32_t m13[] = { 1, 3 };
	uint64_t g, id;
	uint32_t n;

	(void)st;
	g = setup_mig(&s);
	id = xh_state_domain(&s, "m")->mig_id;
	local(&l[0], "m", g);
	l[0].running = false;
	mig(&e[0], "m", id, REC_MIG_SOURCE, REC_MIG_IN_DOUBT);
	members(&s, 2, m13);            /* the target left: pending */
	assert_int_equal(rec(&s, 1, l, 1, e, 1, a), 0);
	confirm(&s, 2);
	flags(&s, 1, 1);                /* maintenance: still nothing */
	assert_int_equal(rec(&s, 1, l, 1, e, 1, a), 0);
	flags(&s, 1, 0);
	n = rec(&s, 1, l, 1, e, 1, a);
	assert_int_equal(n, 2);
	assert_int_equal(a[0].type, REC_RESUME);   /* resume first, then report */
	assert_int_equal(a[1].type, REC_REPORT_MIG_ABORTED);
	assert_string_equal(a[1].why, "target fenced");
	assert_int_equal(a[1].mig_id, id);
	/* the target fenced after a DONE outcome (no copy here): abort, then
	 * the RUNNING rule reports it gone */
	mig(&e[0], "m", id, REC_MIG_SOURCE, REC_MIG_DONE);
	n = rec(&s, 1, NULL, 0, e, 1, a);
	assert_only(a, n, REC_REPORT_MIG_ABORTED);
	xh_state_free(&s);

	/* the target reported DONE: the paused copy is destroyed */
	g = setup_mig(&s);
	id = xh_state_domain(&s, "m")->mig_id;
	{
		struct xh_cmd c;

		memset(&c, 0, sizeof(c));
		c.type = XH_CMD_MIGRATE_DONE;
		c.sender = 2;
		snprintf(c.u.mig.name, sizeof(c.u.mig.name), "m");
		c.u.mig.target = 2;
		c.u.mig.mig_id = id;
		apply_ok(&s, &c);
	}
	local(&l[0], "m", g);
	l[0].running = false;
	mig(&e[0], "m", id, REC_MIG_SOURCE, REC_MIG_IN_DOUBT);
	n = rec(&s, 1, l, 1, e, 1, a);
	assert_only(a, n, REC_DESTROY);
	/* without the in-doubt entry a paused domain is left alone (as before) */
	assert_int_equal(rec(&s, 1, l, 1, NULL, 0, a), 0);
	flags(&s, 1, 1);
	assert_int_equal(rec(&s, 1, l, 1, e, 1, a), 0);
	xh_state_free(&s);
}

/* The source left mid-migration. */
static void test_mig_source_left(void **st)
{
	struct xh_state s;
	struct rec_action a[16];
	struct rec_local l[1];
	struct rec_mig e[1];
	uint32_t m23[] = { 2, 3 };
	uint64_t g, id;
	uint32_t n;

	(void)st;
	g = setup_mig(&s);
	id = xh_state_domain(&s, "m")->mig_id;
	members(&s, 2, m23);
	assert_int_equal(xh_state_domain(&s, "m")->state, XH_DS_LOST);
	/* the target runs it at G+1: report done, never destroy */
	local(&l[0], "m", g + 1);
	n = rec(&s, 2, l, 1, NULL, 0, a);
	assert_only(a, n, REC_REPORT_MIG_DONE);
	/* no receive is started for a LOST domain */
	assert_int_equal(rec(&s, 2, NULL, 0, NULL, 0, a), 0);

	/* the source confirmed: LOST owned by the target at G+1 */
	confirm(&s, 1);
	assert_int_equal(xh_state_domain(&s, "m")->owner, 2);
	assert_int_equal(xh_state_domain(&s, "m")->generation, g + 1);
	/* a receive still in progress: never report it gone */
	mig(&e[0], "m", id, REC_MIG_TARGET, REC_MIG_IN_PROGRESS);
	assert_int_equal(rec(&s, 2, NULL, 0, e, 1, a), 0);
	/* runs here: started at G+1 */
	n = rec(&s, 2, l, 1, e, 1, a);
	assert_only(a, n, REC_REPORT_STARTED);
	assert_int_equal(a[0].generation, g + 1);
	/* not here, nothing in progress: exited (restartable) */
	mig(&e[0], "m", id, REC_MIG_TARGET, REC_MIG_FAILED);
	n = rec(&s, 2, NULL, 0, e, 1, a);
	assert_only(a, n, REC_REPORT_EXITED);
	assert_int_equal(a[0].generation, g + 1);
	xh_state_free(&s);
}

/* The source left and came back before its fencing. */
static void test_mig_source_rejoined(void **st)
{
	struct xh_state s;
	struct rec_action a[16];
	struct rec_local l[1];
	uint32_t m23[] = { 2, 3 }, m123[] = { 1, 2, 3 }, m13[] = { 1, 3 };
	uint64_t g;
	uint32_t n;

	(void)st;
	g = setup_mig(&s);
	members(&s, 2, m23);
	members(&s, 3, m123);
	assert_int_equal(xh_state_domain(&s, "m")->state, XH_DS_LOST);
	local(&l[0], "m", g);
	/* running here: it was never switched over; reclaim */
	n = rec(&s, 1, l, 1, NULL, 0, a);
	assert_only(a, n, REC_REPORT_STARTED);
	/* paused or gone while the target may run it: wait */
	l[0].running = false;
	assert_int_equal(rec(&s, 1, l, 1, NULL, 0, a), 0);
	assert_int_equal(rec(&s, 1, NULL, 0, NULL, 0, a), 0);
	/* the target fenced: resume and reclaim, or report it gone */
	members(&s, 2, m13);
	confirm(&s, 2);
	n = rec(&s, 1, l, 1, NULL, 0, a);
	assert_int_equal(n, 2);
	assert_int_equal(a[0].type, REC_RESUME);
	assert_int_equal(a[1].type, REC_REPORT_STARTED);
	n = rec(&s, 1, NULL, 0, NULL, 0, a);
	assert_only(a, n, REC_REPORT_EXITED);
	xh_state_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_unsynced),
		cmocka_unit_test(test_start_report_stop),
		cmocka_unit_test(test_no_start_without_quorum),
		cmocka_unit_test(test_destroy_foreign_copy),
		cmocka_unit_test(test_maintenance_touches_nothing),
		cmocka_unit_test(test_rejoin_reclaims),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_mig_source),
		cmocka_unit_test(test_mig_target),
		cmocka_unit_test(test_mig_in_doubt),
		cmocka_unit_test(test_mig_source_left),
		cmocka_unit_test(test_mig_source_rejoined),
	};
	return cmocka_run_group_tests_name("reconcile", tests, NULL, NULL);
}
