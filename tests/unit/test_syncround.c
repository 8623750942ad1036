/* Unit tests for the sync-round rule (src/lib/syncround.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "xenha/syncround.h"

static struct sync_offer off(uint32_t id, uint64_t qseq, uint64_t seq, uint32_t dig)
{
	struct sync_offer o = { .nodeid = id, .qseq = qseq, .seq = seq, .digest = dig };
	return o;
}

static void test_sort_and_equal(void **st)
{
	uint32_t a[] = { 3, 1, 2 }, b[] = { 1, 2, 3 }, c[] = { 1, 2 };

	(void)st;
	sync_sort(a, 3);
	assert_memory_equal(a, b, sizeof(b));
	assert_true(sync_members_equal(a, 3, b, 3));
	assert_false(sync_members_equal(a, 3, c, 2));
	assert_true(sync_members_equal(NULL, 0, NULL, 0));
}

static void test_winner_rule(void **st)
{
	struct sync_offer o[3];

	(void)st;
	/* highest qseq wins even with a lower seq */
	o[0] = off(1, 10, 50, 1);
	o[1] = off(2, 12, 20, 2);
	o[2] = off(3, 11, 99, 3);
	assert_int_equal(sync_pick_winner(o, 3).nodeid, 2);
	/* equal qseq: highest seq */
	o[1] = off(2, 11, 20, 2);
	assert_int_equal(sync_pick_winner(o, 3).nodeid, 3);
	/* full tie: lowest node id */
	o[0] = off(3, 5, 5, 1);
	o[1] = off(1, 5, 5, 1);
	o[2] = off(2, 5, 5, 1);
	assert_int_equal(sync_pick_winner(o, 3).nodeid, 1);
}

static void test_round_collects_all_members(void **st)
{
	struct sync_round r;
	uint32_t m[] = { 2, 1, 3 };
	uint32_t sorted[] = { 1, 2, 3 };
	struct sync_offer o;

	(void)st;
	sync_round_start(&r, m, 3);
	assert_true(r.open);
	assert_memory_equal(r.members, sorted, sizeof(sorted));
	o = off(1, 1, 1, 7);
	assert_int_equal(sync_round_offer(&r, &o, m, 3), 0);
	/* duplicate */
	assert_int_equal(sync_round_offer(&r, &o, m, 3), -EEXIST);
	/* not a member */
	o = off(9, 1, 1, 7);
	assert_int_equal(sync_round_offer(&r, &o, m, 3), -EINVAL);
	/* for another membership: stale */
	o = off(2, 1, 1, 7);
	assert_int_equal(sync_round_offer(&r, &o, sorted, 2), -ESTALE);
	assert_int_equal(sync_round_offer(&r, &o, sorted, 3), 0);
	assert_false(r.decided);
	o = off(3, 4, 4, 8);
	assert_int_equal(sync_round_offer(&r, &o, m, 3), 1);
	assert_true(r.decided);
	assert_int_equal(r.winner.nodeid, 3);
	/* after the decision nothing more is taken */
	assert_int_equal(sync_round_offer(&r, &o, m, 3), -ESTALE);
}

static void test_no_round_open(void **st)
{
	struct sync_round r;
	uint32_t m[] = { 1 };
	struct sync_offer o = off(1, 0, 0, 0);

	(void)st;
	memset(&r, 0, sizeof(r));
	assert_int_equal(sync_round_offer(&r, &o, m, 1), -ESTALE);
	sync_round_start(&r, m, 1);
	assert_int_equal(sync_round_offer(&r, &o, m, 1), 1);
	assert_int_equal(r.winner.nodeid, 1);
}

/* A minority that applied more commands without quorum must lose to the
 * majority that kept quorum. */
static void test_minority_cannot_win(void **st)
{
	struct sync_offer o[3];

	(void)st;
	o[0] = off(1, 100, 100, 1);  /* majority: quorate history 100 */
	o[1] = off(2, 100, 100, 1);
	o[2] = off(3, 90, 400, 2);   /* minority: many non-quorate commands */
	assert_int_equal(sync_pick_winner(o, 3).nodeid, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sort_and_equal),
		cmocka_unit_test(test_winner_rule),
		cmocka_unit_test(test_round_collects_all_members),
		cmocka_unit_test(test_no_round_open),
		cmocka_unit_test(test_minority_cannot_win),
	};
	return cmocka_run_group_tests_name("syncround", tests, NULL, NULL);
}
