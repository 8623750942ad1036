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
	};
	return cmocka_run_group_tests_name("reconcile", tests, NULL, NULL);
}
