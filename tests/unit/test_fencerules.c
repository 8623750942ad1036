/*
 * Unit tests for the fencing rules (src/lib/fencerules.c).
 *
 * Tables cover every branch at its boundaries (one ms before and at each
 * deadline).  The tie-break test enumerates small timelines of heartbeat
 * writes and reads on one shared disk, derives both nodes' inputs from
 * the same timeline, and checks that the two nodes never both pet on a
 * disk win at the same instant; it also checks that the enumeration
 * does reach wins on both sides and does reach the case the claim delay
 * exists for, so it cannot pass by never exercising anything.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "xenha/fencerules.h"

static struct fr_timing defaults(void)
{
	struct fr_timing t;

	fr_timing_defaults(&t);
	return t;
}

/* ---- defaults and names ---- */

static void test_defaults(void **state)
{
	struct fr_timing t = defaults();

	(void)state;
	assert_int_equal(t.tick_ms, 250);
	assert_int_equal(t.lease_ms, 1500);
	assert_int_equal(t.watchdog_ms, 5000);
	assert_int_equal(t.margin_ms, 500);
	assert_int_equal(t.token_ms, 1000);
	assert_int_equal(t.consensus_ms, 1200);
	assert_int_equal(t.msgwait_ms, 10000);
	assert_int_equal(t.disk_interval_ms, 1000);
	assert_int_equal(t.disk_timeout_ms, 2000);
	assert_int_equal(t.xenhad_timeout_ms, 10000);
	assert_int_equal(fr_extra_ms(&t), 1250);
	assert_int_equal(fr_wait_ms(&t), 1250 + 1500 + 5000 + 500);
	assert_int_equal(fr_stale_ms(&t), 1500 + 1000 + 3 * 2000 + 250);
	assert_int_equal(fr_claim_delay_ms(&t), 1000 + 2 * 2000);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(fr_pet_reason_str(FR_PET_LEASE), "lease");
	assert_string_equal(fr_pet_reason_str(FR_PET_DISK_WIN), "disk-win");
	assert_string_equal(fr_pet_reason_str(FR_NOPET_NOT_ARMED), "not-armed");
	assert_string_equal(fr_pet_reason_str(FR_NOPET_PILL), "poison-pill");
	assert_string_equal(fr_pet_reason_str(FR_NOPET_XENHAD), "xenhad-silent");
	assert_string_equal(fr_pet_reason_str(FR_NOPET_NO_LEASE), "no-lease");
	assert_string_equal(fr_pet_reason_str(FR_NOPET_SHUTDOWN), "self-fence");
	assert_string_equal(fr_pet_reason_str((enum fr_pet_reason)99), "unknown");
	assert_string_equal(fr_confirm_str(FR_CONFIRM_NO), "no");
	assert_string_equal(fr_confirm_str(FR_CONFIRM_TIMEOUT), "timeout");
	assert_string_equal(fr_confirm_str(FR_CONFIRM_AGENT), "agent");
	assert_string_equal(fr_confirm_str(FR_CONFIRM_PILL), "poison-pill");
	assert_string_equal(fr_confirm_str((enum fr_confirm)99), "unknown");
}

static void test_saturation(void **state)
{
	struct fr_timing t = defaults();

	(void)state;
	t.token_ms = UINT32_MAX;
	assert_int_equal(fr_extra_ms(&t), UINT32_MAX);
	assert_int_equal(fr_wait_ms(&t), UINT32_MAX);
	t = defaults();
	t.disk_timeout_ms = UINT32_MAX / 2;
	assert_int_equal(fr_stale_ms(&t), UINT32_MAX);
	assert_int_equal(fr_claim_delay_ms(&t), UINT32_MAX);
}

/* ---- fr_should_pet ---- */

#define NOW 100000u

/* Armed, fresh lease (sent 100 ms ago), xenhad answered 100 ms ago. */
static struct fr_self base_self(void)
{
	struct fr_self s;

	memset(&s, 0, sizeof(s));
	s.now_ms = NOW;
	s.armed = true;
	s.have_lease_tick = true;
	s.lease_tick_sent_ms = NOW - 100;
	s.xenhad_seen = true;
	s.xenhad_ok_ms = NOW - 100;
	return s;
}

enum mod {
	M_NONE, M_UNARMED, M_SELF_FENCE, M_PILL, M_XENHAD_AGE, M_XENHAD_UNSEEN,
	M_XENHAD_FUTURE, M_LEASE_AGE, M_NO_TICK, M_LEASE_FUTURE, M_TIE_WIN, M_WIN_FUTURE,
};

struct pet_row {
	const char *name;
	enum mod m1, m2, m3, m4;
	uint64_t v;                  /* age for *_AGE, held time for M_TIE_WIN */
	bool pet;
	enum fr_pet_reason reason;
};

static void apply_mod(const struct fr_timing *t, struct fr_self *s, enum mod m, uint64_t v)
{
	switch (m) {
	case M_NONE: break;
	case M_UNARMED: s->armed = false; break;
	case M_SELF_FENCE: s->self_fence = true; break;
	case M_PILL: s->pill = true; break;
	case M_XENHAD_AGE: s->xenhad_ok_ms = s->now_ms - v; break;
	case M_XENHAD_UNSEEN: s->xenhad_seen = false; s->xenhad_ok_ms = 0; break;
	case M_XENHAD_FUTURE: s->xenhad_ok_ms = s->now_ms + 1; break;
	case M_LEASE_AGE: s->lease_tick_sent_ms = s->now_ms - v; break;
	case M_NO_TICK: s->have_lease_tick = false; break;
	case M_LEASE_FUTURE: s->lease_tick_sent_ms = s->now_ms + 1; break;
	case M_TIE_WIN:
		s->tie = true;
		s->disk_win = true;
		s->disk_win_since_ms = s->now_ms - v;
		break;
	case M_WIN_FUTURE:
		s->tie = true;
		s->disk_win = true;
		s->disk_win_since_ms = s->now_ms + 1;
		break;
	}
	(void)t;
}

static void test_should_pet_table(void **state)
{
	struct fr_timing t = defaults();
	const uint64_t L = 1500, X = 10000, C = 5000; /* lease, xenhad timeout, claim delay */
	const struct pet_row rows[] = {
		{ "fresh lease", M_NONE, M_NONE, M_NONE, M_NONE, 0, true, FR_PET_LEASE },
		/* order of reasons: each row adds the earlier reasons' causes */
		{ "not armed beats all", M_UNARMED, M_SELF_FENCE, M_PILL, M_XENHAD_AGE, X, false,
		  FR_NOPET_NOT_ARMED },
		{ "self-fence beats pill", M_SELF_FENCE, M_PILL, M_XENHAD_AGE, M_NONE, X, false,
		  FR_NOPET_SHUTDOWN },
		{ "pill beats xenhad", M_PILL, M_XENHAD_AGE, M_NONE, M_NONE, X, false, FR_NOPET_PILL },
		{ "pill beats lease+win", M_PILL, M_TIE_WIN, M_NONE, M_NONE, C, false, FR_NOPET_PILL },
		{ "xenhad beats lease", M_XENHAD_AGE, M_NONE, M_NONE, M_NONE, X, false,
		  FR_NOPET_XENHAD },
		{ "xenhad 1 ms before", M_XENHAD_AGE, M_NONE, M_NONE, M_NONE, X - 1, true,
		  FR_PET_LEASE },
		{ "xenhad future", M_XENHAD_FUTURE, M_NONE, M_NONE, M_NONE, 0, false,
		  FR_NOPET_XENHAD },
		{ "xenhad never seen", M_XENHAD_UNSEEN, M_NONE, M_NONE, M_NONE, 0, true,
		  FR_PET_LEASE },
		{ "lease 1 ms before end", M_LEASE_AGE, M_NONE, M_NONE, M_NONE, L - 1, true,
		  FR_PET_LEASE },
		{ "lease at end", M_LEASE_AGE, M_NONE, M_NONE, M_NONE, L, false, FR_NOPET_NO_LEASE },
		{ "no lease tick", M_NO_TICK, M_NONE, M_NONE, M_NONE, 0, false, FR_NOPET_NO_LEASE },
		{ "lease from future", M_LEASE_FUTURE, M_NONE, M_NONE, M_NONE, 0, false,
		  FR_NOPET_NO_LEASE },
		{ "lease beats win", M_TIE_WIN, M_NONE, M_NONE, M_NONE, C, true, FR_PET_LEASE },
		{ "win held delay", M_NO_TICK, M_TIE_WIN, M_NONE, M_NONE, C, true,
		  FR_PET_DISK_WIN },
		{ "win 1 ms short", M_NO_TICK, M_TIE_WIN, M_NONE, M_NONE, C - 1, false,
		  FR_NOPET_NO_LEASE },
		{ "win from future", M_NO_TICK, M_WIN_FUTURE, M_NONE, M_NONE, 0, false,
		  FR_NOPET_NO_LEASE },
		{ "win after lease end", M_LEASE_AGE, M_TIE_WIN, M_NONE, M_NONE, C, true,
		  FR_PET_DISK_WIN },
		{ "xenhad beats win", M_NO_TICK, M_TIE_WIN, M_XENHAD_AGE, M_NONE, X, false,
		  FR_NOPET_XENHAD },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct pet_row *r = &rows[i];
		struct fr_self s = base_self();
		enum fr_pet_reason why = (enum fr_pet_reason)-1;
		bool pet;

		/* one value for every modifier of a row (ages or time held) */
		apply_mod(&t, &s, r->m1, r->v);
		apply_mod(&t, &s, r->m2, r->v);
		apply_mod(&t, &s, r->m3, r->v);
		apply_mod(&t, &s, r->m4, r->v);
		pet = fr_should_pet(&t, &s, &why);
		if (pet != r->pet || why != r->reason)
			fail_msg("row '%s': pet=%d reason=%s, want pet=%d reason=%s", r->name, pet,
				 fr_pet_reason_str(why), r->pet, fr_pet_reason_str(r->reason));
	}
}

/* The tie flags matter: a disk win outside a tie, or a tie without a win, is not a pet. */
static void test_should_pet_tie_flags(void **state)
{
	struct fr_timing t = defaults();
	struct fr_self s = base_self();
	enum fr_pet_reason why;

	(void)state;
	s.have_lease_tick = false;
	s.disk_win = true;
	s.disk_win_since_ms = 0;
	assert_false(fr_should_pet(&t, &s, &why));
	assert_int_equal(why, FR_NOPET_NO_LEASE);
	s.disk_win = false;
	s.tie = true;
	assert_false(fr_should_pet(&t, &s, &why));
	assert_int_equal(why, FR_NOPET_NO_LEASE);
	s.disk_win = true;
	assert_true(fr_should_pet(&t, &s, &why));
	assert_int_equal(why, FR_PET_DISK_WIN);
}

/* A quorate host keeps petting through a storage outage: nothing disk-related is consulted. */
static void test_should_pet_storage_outage(void **state)
{
	struct fr_timing t = defaults();
	struct fr_self s = base_self();
	enum fr_pet_reason why;
	uint64_t now;

	(void)state;
	/* ticks every 250 ms for 60 s, disk dead all along (no win, not a tie) */
	for (now = NOW; now < NOW + 60000; now += 250) {
		s.now_ms = now;
		s.lease_tick_sent_ms = now - 250;
		s.xenhad_ok_ms = now - 50;
		assert_true(fr_should_pet(&t, &s, &why));
		assert_int_equal(why, FR_PET_LEASE);
	}
}

/*
 * A host frozen for a minute thaws and delivers the ticks queued for it:
 * their send times are old, so they give no lease, whatever their
 * delivery time.  A tick sent after the thaw does.
 */
static void test_stale_tick_after_freeze(void **state)
{
	struct fr_timing t = defaults();
	struct fr_self s = base_self();
	enum fr_pet_reason why;
	uint64_t sent;

	(void)state;
	s.now_ms = 200000;                 /* thawed now; froze at 140000 */
	s.xenhad_ok_ms = s.now_ms - 10;
	for (sent = 139000; sent <= 140000; sent += 250) {
		s.lease_tick_sent_ms = sent;  /* delivered just now, sent before the freeze */
		assert_false(fr_should_pet(&t, &s, &why));
		assert_int_equal(why, FR_NOPET_NO_LEASE);
		assert_false(fr_may_arm(&t, &s));
	}
	s.lease_tick_sent_ms = s.now_ms - 20;
	assert_true(fr_should_pet(&t, &s, &why));
	assert_int_equal(why, FR_PET_LEASE);
}

/* ---- fr_may_arm ---- */

static void test_may_arm(void **state)
{
	struct fr_timing t = defaults();
	struct fr_self s;

	(void)state;
	s = base_self();
	s.armed = false;
	assert_true(fr_may_arm(&t, &s));           /* lease + xenhad */
	s.xenhad_seen = false;
	assert_false(fr_may_arm(&t, &s));          /* xenhad never answered */
	s = base_self();
	s.xenhad_ok_ms = s.now_ms - 9999;
	assert_true(fr_may_arm(&t, &s));
	s.xenhad_ok_ms = s.now_ms - 10000;
	assert_false(fr_may_arm(&t, &s));          /* xenhad silent */
	s.xenhad_ok_ms = s.now_ms + 1;
	assert_false(fr_may_arm(&t, &s));          /* impossible answer time */
	s = base_self();
	s.lease_tick_sent_ms = s.now_ms - 1499;
	assert_true(fr_may_arm(&t, &s));
	s.lease_tick_sent_ms = s.now_ms - 1500;
	assert_false(fr_may_arm(&t, &s));          /* no lease, no win */
	s.tie = true;
	s.disk_win = true;
	s.disk_win_since_ms = s.now_ms - 4999;
	assert_false(fr_may_arm(&t, &s));          /* win not held long enough */
	s.disk_win_since_ms = s.now_ms - 5000;
	assert_true(fr_may_arm(&t, &s));           /* disk win */
	s.pill = true;
	s.self_fence = true;
	assert_true(fr_may_arm(&t, &s));           /* arming then refusing resets: intended */
}

/* ---- fr_may_confirm ---- */

#define D 50000u   /* our last delivery of the victim's tick */

static struct fr_peer base_peer(void)
{
	struct fr_peer p;

	memset(&p, 0, sizeof(p));
	p.nodeid = 2;
	p.last_tick_ms = D;
	return p;
}

static void test_may_confirm_gates(void **state)
{
	struct fr_timing t = defaults();
	struct fr_survivor s = { .now_ms = D + 100000, .quorate = true };
	struct fr_peer p = base_peer();
	uint64_t left = 1;

	(void)state;
	p.agent_off = true;
	assert_int_equal(fr_may_confirm(&t, &s, &p, &left), FR_CONFIRM_AGENT);
	p.member = true;
	assert_int_equal(fr_may_confirm(&t, &s, &p, &left), FR_CONFIRM_NO);
	p.member = false;
	p.left_cleanly = true;
	assert_int_equal(fr_may_confirm(&t, &s, &p, &left), FR_CONFIRM_NO);
	p.left_cleanly = false;
	s.quorate = false;
	assert_int_equal(fr_may_confirm(&t, &s, &p, &left), FR_CONFIRM_NO);
	s.quorate = true;
	p.agent_off = false;
	assert_int_equal(fr_may_confirm(&t, &s, &p, NULL), FR_CONFIRM_TIMEOUT);
	p.member = true;
	assert_int_equal(fr_may_confirm(&t, &s, &p, NULL), FR_CONFIRM_NO);
}

/* (a) one ms before and at the deadline; (b) at once; remaining_ms. */
static void test_may_confirm_timeout(void **state)
{
	struct fr_timing t = defaults();
	uint32_t w = fr_wait_ms(&t);
	struct fr_survivor s = { .quorate = true };
	struct fr_peer p = base_peer();
	uint64_t left;

	(void)state;
	s.now_ms = D;
	assert_int_equal(fr_may_confirm(&t, &s, &p, &left), FR_CONFIRM_NO);
	assert_int_equal(left, w);
	s.now_ms = D + w - 1;
	assert_int_equal(fr_may_confirm(&t, &s, &p, &left), FR_CONFIRM_NO);
	assert_int_equal(left, 1);
	s.now_ms = D + w;
	assert_int_equal(fr_may_confirm(&t, &s, &p, &left), FR_CONFIRM_TIMEOUT);
	assert_int_equal(left, 0);
	/* (b) needs no wait */
	s.now_ms = D;
	p.agent_off = true;
	assert_int_equal(fr_may_confirm(&t, &s, &p, &left), FR_CONFIRM_AGENT);
	/* a delivery time in the future: wait the whole time */
	p.agent_off = false;
	p.last_tick_ms = D + 10;
	assert_int_equal(fr_may_confirm(&t, &s, &p, &left), FR_CONFIRM_NO);
	assert_int_equal(left, w);
}

/* Acting only on a disk win: also W + margin from the start of the win. */
static void test_may_confirm_disk_win(void **state)
{
	struct fr_timing t = defaults();
	uint32_t w = fr_wait_ms(&t), hold = 5000 + 500;
	struct fr_survivor s = { .quorate = true, .by_disk_win = true };
	struct fr_peer p = base_peer();
	uint64_t left;

	(void)state;
	s.now_ms = D + w;
	s.disk_win_since_ms = s.now_ms - hold + 1;
	assert_int_equal(fr_may_confirm(&t, &s, &p, &left), FR_CONFIRM_NO);
	assert_int_equal(left, 1);
	s.disk_win_since_ms = s.now_ms - hold;
	assert_int_equal(fr_may_confirm(&t, &s, &p, &left), FR_CONFIRM_TIMEOUT);
	assert_int_equal(left, 0);
	/* the lease part still binds when the win is old */
	s.disk_win_since_ms = 0;
	s.now_ms = D + w - 1;
	assert_int_equal(fr_may_confirm(&t, &s, &p, &left), FR_CONFIRM_NO);
	assert_int_equal(left, 1);
	/* a win start in the future: the whole hold time */
	s.now_ms = D + w;
	s.disk_win_since_ms = s.now_ms + 5;
	assert_int_equal(fr_may_confirm(&t, &s, &p, &left), FR_CONFIRM_NO);
	assert_int_equal(left, hold);
	/* the agent path does not wait for it */
	p.agent_off = true;
	assert_int_equal(fr_may_confirm(&t, &s, &p, &left), FR_CONFIRM_AGENT);
}

/* (c): each condition at its boundary; never before the (a) time. */
static void test_may_confirm_pill(void **state)
{
	struct fr_timing t = defaults();
	uint32_t w = fr_wait_ms(&t), mw = t.msgwait_ms;
	struct fr_survivor s = { .quorate = true };
	struct fr_peer p = base_peer();
	const uint64_t P = D + 3000;          /* pill written */

	(void)state;
	p.pill_written = true;
	p.pill_written_ms = P;
	p.slot_seen = true;
	p.slot_changed_ms = D - 1000;
	p.disk_read_ok_ms = P + mw;
	s.now_ms = P + mw;                    /* 13000 after D, past (a) (8250) */
	assert_true(s.now_ms >= D + w);
	assert_int_equal(fr_may_confirm(&t, &s, &p, NULL), FR_CONFIRM_PILL);
	s.now_ms = P + mw - 1;
	p.disk_read_ok_ms = P + mw - 1;
	assert_int_equal(fr_may_confirm(&t, &s, &p, NULL), FR_CONFIRM_TIMEOUT); /* msgwait short */
	s.now_ms = P + mw;
	assert_int_equal(fr_may_confirm(&t, &s, &p, NULL), FR_CONFIRM_TIMEOUT); /* reads stale */
	p.disk_read_ok_ms = P + mw;
	p.slot_changed_ms = P;
	assert_int_equal(fr_may_confirm(&t, &s, &p, NULL), FR_CONFIRM_TIMEOUT); /* slot moved */
	p.slot_changed_ms = P - 1;
	assert_int_equal(fr_may_confirm(&t, &s, &p, NULL), FR_CONFIRM_PILL);
	p.slot_seen = false;
	assert_int_equal(fr_may_confirm(&t, &s, &p, NULL), FR_CONFIRM_TIMEOUT); /* never read */
	p.slot_seen = true;
	p.pill_written = false;
	assert_int_equal(fr_may_confirm(&t, &s, &p, NULL), FR_CONFIRM_TIMEOUT);
	p.pill_written = true;
	p.pill_written_ms = s.now_ms + 1;     /* impossible: in the future */
	assert_int_equal(fr_may_confirm(&t, &s, &p, NULL), FR_CONFIRM_TIMEOUT);

	/*
	 * A pill written right after the last delivery, msgwait passed, slot
	 * silent, reads fresh: still no, while the victim may still hold a
	 * lease (the bench settings make msgwait shorter than the wait).
	 */
	t.tick_ms = 100;
	t.lease_ms = 800;
	t.watchdog_ms = 2000;
	t.margin_ms = 300;
	t.msgwait_ms = 4000;
	w = fr_wait_ms(&t);
	assert_int_equal(w, 4200);
	p.pill_written_ms = D;
	p.slot_changed_ms = D - 1;
	p.disk_read_ok_ms = D + 4000;
	s.now_ms = D + 4000;
	assert_int_equal(fr_may_confirm(&t, &s, &p, NULL), FR_CONFIRM_NO);
	s.now_ms = D + w - 1;
	p.disk_read_ok_ms = s.now_ms;
	assert_int_equal(fr_may_confirm(&t, &s, &p, NULL), FR_CONFIRM_NO);
	s.now_ms = D + w;
	assert_int_equal(fr_may_confirm(&t, &s, &p, NULL), FR_CONFIRM_PILL);
}

/* ---- fr_is_tie ---- */

static void test_is_tie(void **state)
{
	(void)state;
	assert_true(fr_is_tie(2, 1, false));
	assert_false(fr_is_tie(2, 1, true));
	assert_false(fr_is_tie(2, 2, false));
	assert_false(fr_is_tie(3, 1, false));
	assert_false(fr_is_tie(4, 2, false));
	assert_false(fr_is_tie(1, 1, false));
	assert_false(fr_is_tie(2, 0, false));
}

/* ---- fr_tiebreak_win: table ---- */

static void test_tiebreak_table(void **state)
{
	struct fr_timing t = defaults();
	const uint64_t now = 1000000, L = 1500, R = 1000 + 2000;
	uint64_t S = fr_stale_ms(&t);
	struct fr_disk_node pe[3];

	(void)state;
	memset(pe, 0, sizeof(pe));
	/* alone on the disk */
	assert_true(fr_tiebreak_win(&t, 2, now, now - (L - 1), now - (R - 1), NULL, 0));
	assert_false(fr_tiebreak_win(&t, 2, now, now - L, now - 10, NULL, 0));
	assert_false(fr_tiebreak_win(&t, 2, now, now - 10, now - R, NULL, 0));
	assert_false(fr_tiebreak_win(&t, 2, now, now + 1, now - 10, NULL, 0));
	assert_false(fr_tiebreak_win(&t, 2, now, now - 10, now + 1, NULL, 0));
	/* a lower id, fresh one ms before stale, stale at it */
	pe[0] = (struct fr_disk_node){ .nodeid = 1, .seen = true, .changed_ms = now - (S - 1) };
	assert_false(fr_tiebreak_win(&t, 2, now, now - 10, now - 10, pe, 1));
	pe[0].changed_ms = now - S;
	assert_true(fr_tiebreak_win(&t, 2, now, now - 10, now - 10, pe, 1));
	pe[0].changed_ms = now + 1;           /* future: fresh */
	assert_false(fr_tiebreak_win(&t, 2, now, now - 10, now - 10, pe, 1));
	pe[0].seen = false;                   /* never seen: not fresh */
	assert_true(fr_tiebreak_win(&t, 2, now, now - 10, now - 10, pe, 1));
	/* the lower id wins against a fresh higher id, and ignores itself */
	pe[0] = (struct fr_disk_node){ .nodeid = 2, .seen = true, .changed_ms = now };
	pe[1] = (struct fr_disk_node){ .nodeid = 1, .seen = true, .changed_ms = now };
	assert_true(fr_tiebreak_win(&t, 1, now, now - 10, now - 10, pe, 2));
	/* among three, a fresh lower one anywhere in the list decides */
	pe[2] = (struct fr_disk_node){ .nodeid = 3, .seen = true, .changed_ms = now };
	assert_false(fr_tiebreak_win(&t, 3, now, now - 10, now - 10, pe, 3));
	assert_false(fr_tiebreak_win(&t, 2, now, now - 10, now - 10, pe, 3));
}

/* ---- fr_tiebreak_win + fr_should_pet: exhaustive small timelines ---- */

#define H 56                      /* timeline length in units */
#define BASE 1000                 /* times start here, so 0 never looks fresh */
#define NEVER UINT32_MAX

/* One node's behaviour on the shared disk. */
struct node_tl {
	uint32_t wphase, wland, wdone;     /* writes issued at k*I + wphase */
	uint32_t rphase, rsnap, rdone;     /* reads issued at k*I + rphase */
	uint32_t out_from, out_to;         /* I/O issued in [from, to) fails */
	uint32_t eval_phase;               /* evaluates at eval_phase + k*tick */
};

struct sweep_stats {
	unsigned long evals, claims_a, claims_b, raw_both, handovers;
};

static bool in_outage(const struct node_tl *n, uint32_t issue)
{
	return issue >= n->out_from && issue < n->out_to;
}

/* Latest completion <= y of x's successful writes; false if none. */
static bool own_write(const struct fr_timing *t, const struct node_tl *x, uint32_t y, uint32_t *at)
{
	bool any = false;
	uint32_t is;

	for (is = x->wphase; is + x->wdone <= y; is += t->disk_interval_ms)
		if (!in_outage(x, is)) {
			*at = is + x->wdone;
			any = true;
		}
	return any;
}

/* Number of p's writes on the disk at time y. */
static uint32_t landed(const struct fr_timing *t, const struct node_tl *p, uint32_t y)
{
	uint32_t is, c = 0;

	for (is = p->wphase; is + p->wland <= y; is += t->disk_interval_ms)
		if (!in_outage(p, is))
			c++;
	return c;
}

/* x's view of p at y from x's completed reads: last read, seen, changed. */
static void view(const struct fr_timing *t, const struct node_tl *x, const struct node_tl *p,
		 uint32_t y, bool *read_any, uint32_t *read_at, struct fr_disk_node *d)
{
	uint32_t is, prev = 0;

	*read_any = false;
	d->seen = false;
	d->changed_ms = 0;
	for (is = x->rphase; is + x->rdone <= y; is += t->disk_interval_ms) {
		uint32_t v;

		if (in_outage(x, is))
			continue;
		v = landed(t, p, is + x->rsnap);
		*read_any = true;
		*read_at = is + x->rdone;
		if (v > 0 && (!d->seen || v != prev)) {
			d->seen = true;
			d->changed_ms = BASE + is + x->rdone;
		}
		prev = v;
	}
}

/* Raw win of x (id self) against p (id other) at y. */
static bool raw_win(const struct fr_timing *t, const struct node_tl *x, uint32_t self,
		    const struct node_tl *p, uint32_t other, uint32_t y)
{
	struct fr_disk_node d = { .nodeid = other };
	uint32_t w = 0, r = 0;
	bool rany;

	if (!own_write(t, x, y, &w))
		return false;
	view(t, x, p, y, &rany, &r, &d);
	if (!rany)
		return false;
	return fr_tiebreak_win(t, self, BASE + y, BASE + w, BASE + r, &d, 1);
}

static void run_timeline(const struct fr_timing *t, const struct node_tl *a,
			 const struct node_tl *b, struct sweep_stats *st)
{
	const struct node_tl *n[2] = { a, b };
	bool raw[2] = { false, false }, claim[2] = { false, false }, since_ok[2] = { false, false };
	uint32_t since[2] = { 0, 0 }, y;
	bool b_claimed_while_a_out = false;
	int i;

	for (y = 0; y < H; y++) {
		for (i = 0; i < 2; i++) {
			struct fr_self s;
			enum fr_pet_reason why;
			bool w;

			if (y < n[i]->eval_phase || (y - n[i]->eval_phase) % t->tick_ms != 0)
				continue;        /* not this node's sampling instant */
			w = raw_win(t, n[i], (uint32_t)i + 1, n[1 - i], (uint32_t)(2 - i), y);
			if (w && !since_ok[i]) {
				since[i] = y;
				since_ok[i] = true;
			} else if (!w) {
				since_ok[i] = false;
			}
			raw[i] = w;
			memset(&s, 0, sizeof(s));
			s.now_ms = BASE + y;
			s.armed = true;
			s.tie = true;
			s.disk_win = w;
			s.disk_win_since_ms = BASE + since[i];
			claim[i] = fr_should_pet(t, &s, &why);
			assert_true(claim[i] == (why == FR_PET_DISK_WIN));
			st->evals++;
		}
		if (claim[0] && claim[1])
			fail_msg("both claim at %u: A w%u/%u/%u r%u/%u/%u out[%u,%u) e%u, "
				 "B w%u/%u/%u r%u/%u/%u out[%u,%u) e%u; L=%u I=%u T=%u tick=%u",
				 y, a->wphase, a->wland, a->wdone, a->rphase, a->rsnap, a->rdone,
				 a->out_from, a->out_to, a->eval_phase, b->wphase, b->wland,
				 b->wdone, b->rphase, b->rsnap, b->rdone, b->out_from, b->out_to,
				 b->eval_phase, t->lease_ms, t->disk_interval_ms,
				 t->disk_timeout_ms, t->tick_ms);
		st->claims_a += claim[0];
		st->claims_b += claim[1];
		st->raw_both += raw[0] && raw[1];
		if (claim[1] && y >= a->out_from && y < a->out_to)
			b_claimed_while_a_out = true;
		if (b_claimed_while_a_out && claim[0])
			b_claimed_while_a_out = false, st->handovers++;
	}
}

static void sweep(const struct fr_timing *t, struct sweep_stats *st)
{
	const uint32_t I = t->disk_interval_ms, T = t->disk_timeout_ms, L = t->lease_ms;
	const uint32_t io[3][2] = { { 0, 0 }, { 0, T }, { T, T } };
	/* outages of node A (id 1, the one whose return matters) */
	const uint32_t outs[][2] = {
		{ NEVER, NEVER }, { 12, NEVER }, { 12, 12 + L - 1 }, { 12, 12 + L + 1 },
		{ 12, 12 + 2 * L }, { 10, 10 + 4 * L },
	};
	struct node_tl a, b;
	uint32_t wpa, wpb, rpa, rpb, ioa, iob, ria, rib, o, ob, ea, eb;

	for (wpa = 0; wpa < I; wpa++)
	for (wpb = 0; wpb < I; wpb++)
	for (rpa = 0; rpa < I; rpa++)
	for (rpb = 0; rpb < I; rpb++)
	for (ioa = 0; ioa < 3; ioa++)
	for (iob = 0; iob < 3; iob++)
	for (ria = 0; ria < 3; ria++)
	for (rib = 0; rib < 3; rib++)
	for (o = 0; o < sizeof(outs) / sizeof(outs[0]); o++)
	for (ob = 0; ob < 2; ob++)
	for (ea = 0; ea < t->tick_ms; ea++)
	for (eb = 0; eb < t->tick_ms; eb++) {
		a = (struct node_tl){ wpa, io[ioa][0], io[ioa][1], rpa, io[ria][0], io[ria][1],
				      outs[o][0], outs[o][1], ea };
		b = (struct node_tl){ wpb, io[iob][0], io[iob][1], rpb, io[rib][0], io[rib][1],
				      ob ? 30 : NEVER, ob ? 30 + L + 2 : NEVER, eb };
		run_timeline(t, &a, &b, st);
	}
}

static void test_tiebreak_never_both(void **state)
{
	/* lease, interval, timeout, tick: small units, every combination */
	const uint32_t sets[][4] = {
		{ 6, 2, 1, 1 }, { 5, 2, 0, 2 }, { 4, 1, 1, 1 }, { 8, 3, 1, 1 }, { 3, 2, 1, 1 },
	};
	struct sweep_stats st;
	size_t i;

	(void)state;
	memset(&st, 0, sizeof(st));
	for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		struct fr_timing t = defaults();

		t.lease_ms = sets[i][0];
		t.disk_interval_ms = sets[i][1];
		t.disk_timeout_ms = sets[i][2];
		t.tick_ms = sets[i][3];
		sweep(&t, &st);
	}
	print_message("tie sweep: %lu evaluations, claims a=%lu b=%lu, raw both=%lu, "
		      "handovers b->a=%lu\n", st.evals, st.claims_a, st.claims_b, st.raw_both,
		      st.handovers);
	/* the sweep exercised wins on both sides, and A taking over from B */
	assert_true(st.claims_a > 0);
	assert_true(st.claims_b > 0);
	assert_true(st.handovers > 0);
	/* and the case the claim delay exists for: raw answers both yes */
	assert_true(st.raw_both > 0);
}

/* ---- fr_check ---- */

static void check_lines(const struct fr_check_item *it, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		assert_true(strlen(it[i].text) > 0);
		assert_true(strlen(it[i].text) < sizeof(it[i].text) - 1); /* not truncated */
		for (j = 0; it[i].text[j] != '\0'; j++) {
			assert_false(isupper((unsigned char)it[i].text[j]));
			assert_true(it[i].text[j] != '\n');
		}
	}
}

static bool is_two_node(const struct fr_check_item *it)
{
	return strncmp(it->text, "two-node", 8) == 0;
}

/* Defaults: no error; one warning, the two-node survival one. */
static void test_check_defaults(void **state)
{
	struct fr_timing t = defaults();
	struct fr_check_item it[16];
	struct fr_chain ch = { 0 };
	size_t n = 99;
	uint32_t worst = 0;

	(void)state;
	assert_int_equal(fr_check(&t, &ch, it, 16, &n, &worst), 0);
	assert_int_equal(n, 1);
	assert_false(it[0].error);
	assert_string_equal(it[0].text, "two-node tie: the survivor pets on its disk win only "
			    "after 16750 ms > lease end + watchdog 7750 ms: in a two-node cluster "
			    "the survivor resets before it wins");
	check_lines(it, n);
	assert_int_equal(worst, 8250);
	assert_int_equal(fr_check(&t, NULL, NULL, 0, NULL, NULL), 0);
}

/* The two-node warning one ms each side of its bound. */
static void test_check_two_node(void **state)
{
	struct fr_timing t = defaults();
	struct fr_check_item it[4];
	size_t n;

	(void)state;
	/* win = I + T + (L + I + 3T + tick) + (I + 2T) = 3I + 6T + L + tick;
	 * dies = token + tick + L + W */
	t.disk_interval_ms = 500;
	t.disk_timeout_ms = 916;
	/* win = 1500 + 5496 + 1500 + 250 = 8746; dies = 1250 + 1500 + 5000 = 7750 */
	t.watchdog_ms = 8746 - 1250 - 1500 + 1;
	t.msgwait_ms = 2 * t.watchdog_ms;
	assert_int_equal(fr_check(&t, NULL, it, 4, &n, NULL), 0);
	assert_int_equal(n, 0);
	t.watchdog_ms--;
	t.msgwait_ms = 2 * t.watchdog_ms;
	assert_int_equal(fr_check(&t, NULL, it, 4, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_true(is_two_node(&it[0]));
	/* docs/fencing.md: defaults with I = T = 500 survive (6250 < 7750) */
	t = defaults();
	t.disk_interval_ms = 500;
	t.disk_timeout_ms = 500;
	assert_int_equal(fr_stale_ms(&t) + fr_claim_delay_ms(&t) + 1000, 6250);
	assert_int_equal(fr_check(&t, NULL, it, 4, &n, NULL), 0);
	assert_int_equal(n, 0);
	/* a heartbeat interval not below the lease: no side ever wins
	 * (tests/sim two_node_interval_ge_lease); one ms each side */
	t.lease_ms = 1200;
	t.disk_interval_ms = t.lease_ms - 1;
	assert_int_equal(fr_check(&t, NULL, it, 4, &n, NULL), 0);
	for (size_t i = 0; i < n; i++)
		assert_null(strstr(it[i].text, "interval"));
	t.disk_interval_ms = t.lease_ms;
	assert_int_equal(fr_check(&t, NULL, it, 4, &n, NULL), 0);
	{
		bool seen = false;

		for (size_t i = 0; i < n; i++)
			if (is_two_node(&it[i]) &&
			    strstr(it[i].text, "heartbeat interval 1200 ms >= lease 1200 ms"))
				seen = true;
		assert_true(seen);
	}
}

/* The acting survivor's two gates (decide.c survivor_step). */
static void test_survivor_gates(void **state)
{
	struct fr_timing t = defaults();

	(void)state;
	assert_true(fr_survivor_may_act(true, true, true, true));
	assert_false(fr_survivor_may_act(false, true, true, true));
	assert_false(fr_survivor_may_act(true, false, true, true));
	assert_false(fr_survivor_may_act(true, true, false, true));
	assert_false(fr_survivor_may_act(true, true, true, false));
	/* a peer whose fenced is gone: at once; still ticking: after the grace */
	assert_true(fr_pill_now(&t, false, 1000, 1000));
	assert_false(fr_pill_now(&t, true, 1000, 1000 + t.pill_grace_ms - 1));
	assert_true(fr_pill_now(&t, true, 1000, 1000 + t.pill_grace_ms));
	assert_false(fr_pill_now(&t, true, 1000, 999)); /* a since in the future */
}

enum field { F_W, F_MSGWAIT, F_TICK, F_LEASE, F_INTERVAL, F_DTIMEOUT, F_XENHAD, F_TOKEN,
	     F_MARGIN, F_ISCSI, F_MPATH_RETRY };

struct check_row {
	enum field f;
	uint32_t v;
	int errors;
	size_t warnings;
	const char *text;          /* expected at the start of the first item */
};

static void set_field(struct fr_timing *t, struct fr_chain *c, enum field f, uint32_t v)
{
	switch (f) {
	case F_W: t->watchdog_ms = v; break;
	case F_MSGWAIT: t->msgwait_ms = v; break;
	case F_TICK: t->tick_ms = v; break;
	case F_LEASE: t->lease_ms = v; break;
	case F_INTERVAL: t->disk_interval_ms = v; break;
	case F_DTIMEOUT: t->disk_timeout_ms = v; break;
	case F_XENHAD: t->xenhad_timeout_ms = v; break;
	case F_TOKEN: t->token_ms = v; break;
	case F_MARGIN: t->margin_ms = v; break;
	case F_ISCSI: c->iscsi_replacement_ms = v; break;
	case F_MPATH_RETRY: c->mpath_no_path_retry = v; c->mpath_polling_ms = 5000; break;
	}
}

static void test_check_each_alone(void **state)
{
	const struct check_row rows[] = {
		/* errors, one bad value each; the value beside is one step to the safe side */
		{ F_MSGWAIT, 9999, 1, 0, "msgwait 9999 ms < 2 x watchdog 5000 ms: a poisoned" },
		{ F_MSGWAIT, 10000, 0, 0, NULL },
		{ F_TICK, 750, 1, 1, "tick 750 ms >= lease 1500 ms / 2: a single late tick" },
		{ F_TICK, 749, 0, 1, "lease 1500 ms <= tick 749 + token 1000 ms" },
		{ F_TICK, 0, 1, 0, "tick 0 ms: hosts would never renew" },
		{ F_LEASE, 2201, 1, 0, "lease 2201 ms > token 1000 + consensus 1200 ms" },
		{ F_LEASE, 2200, 0, 0, NULL },
		{ F_INTERVAL, 5000, 1, 0, "disk interval 5000 ms >= watchdog 5000 ms" },
		{ F_INTERVAL, 4999, 0, 0, NULL },
		{ F_DTIMEOUT, 5000, 1, 0, "disk timeout 5000 ms >= watchdog 5000 ms" },
		{ F_DTIMEOUT, 4999, 0, 0, NULL },
		{ F_XENHAD, 4999, 1, 0, "xenhad timeout 4999 ms < watchdog 5000 ms" },
		{ F_XENHAD, 5000, 0, 0, NULL },
		/* warnings */
		{ F_TOKEN, 1250, 0, 1, "lease 1500 ms <= tick 250 + token 1250 ms" },
		{ F_TOKEN, 1249, 0, 0, NULL },
		{ F_MARGIN, 199, 0, 1, "margin 199 ms < 200 ms" },
		{ F_MARGIN, 200, 0, 0, NULL },
		{ F_ISCSI, 1501, 0, 1, "iscsi replacement_timeout 1501 ms > lease 1500 ms" },
		{ F_ISCSI, 1500, 0, 0, NULL },
		{ F_ISCSI, 10001, 0, 2, "iscsi replacement_timeout 10001 ms > msgwait 10000 ms" },
		{ F_MPATH_RETRY, 3, 0, 2, "multipath no_path_retry 3 x polling 5000 ms = 15000 ms > "
					  "msgwait 10000 ms" },
		{ F_MPATH_RETRY, 1, 0, 1, "multipath no_path_retry 1 x polling 5000 ms = 5000 ms > "
					  "lease 1500 ms" },
		{ F_MPATH_RETRY, 0, 0, 0, NULL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct check_row *r = &rows[i];
		struct fr_timing t = defaults();
		struct fr_chain ch = { 0 };
		struct fr_check_item it[16];
		size_t n = 0, j, warn = 0;
		int e;

		memset(it, 0, sizeof(it));
		set_field(&t, &ch, r->f, r->v);
		e = fr_check(&t, &ch, it, 16, &n, NULL);
		check_lines(it, n);
		/* drop the two-node warning the defaults give (tested on its own) */
		for (j = 0; j < n; j++)
			if (is_two_node(&it[j])) {
				memmove(&it[j], &it[j + 1], (n - j - 1) * sizeof(it[0]));
				n--;
				j--;
			}
		for (j = 0; j < n; j++)
			warn += !it[j].error;
		if (e != r->errors || warn != r->warnings)
			fail_msg("row %zu: errors %d warnings %zu, want %d %zu (first: %s)", i, e,
				 warn, r->errors, r->warnings, n ? it[0].text : "-");
		assert_int_equal(n, (size_t)r->errors + warn);
		if (r->text != NULL) {
			if (strncmp(it[0].text, r->text, strlen(r->text)) != 0)
				fail_msg("row %zu: got '%s', want '%s...'", i, it[0].text, r->text);
			assert_true(it[0].error == (r->errors > 0));
		}
	}
}

/*
 * W < 1000 cannot be the only bad value from the defaults (the defaults'
 * disk interval and timeout are >= 1000 too), so it starts from the
 * defaults with a 500 ms interval and timeout, which give no error.
 */
static void test_check_watchdog_floor(void **state)
{
	struct fr_timing t = defaults();
	struct fr_check_item it[4];
	size_t n;

	(void)state;
	t.disk_interval_ms = 500;
	t.disk_timeout_ms = 500;
	assert_int_equal(fr_check(&t, NULL, it, 4, &n, NULL), 0);
	t.watchdog_ms = 1000;
	assert_int_equal(fr_check(&t, NULL, it, 4, &n, NULL), 0);
	t.watchdog_ms = 999;
	assert_int_equal(fr_check(&t, NULL, it, 4, &n, NULL), 1);
	assert_true(n >= 1);
	assert_true(it[0].error);
	assert_string_equal(it[0].text, "watchdog 999 ms < 1000 ms: a busy dom0 can miss a pet "
			    "and reset a healthy host");
}

static void test_check_brief_example_and_limits(void **state)
{
	struct fr_timing t = defaults();
	struct fr_check_item it[2];
	size_t n = 99;

	(void)state;
	t.disk_interval_ms = 500;
	t.disk_timeout_ms = 500;
	t.watchdog_ms = 2000;
	t.msgwait_ms = 3000;
	assert_int_equal(fr_check(&t, NULL, it, 2, &n, NULL), 1);
	assert_string_equal(it[0].text, "msgwait 3000 ms < 2 x watchdog 2000 ms: a poisoned host "
			    "may still be running when survivors restart its domains");
	/* three errors, room for one: all counted, one filled */
	t.tick_ms = 0;
	t.xenhad_timeout_ms = 100;
	assert_int_equal(fr_check(&t, NULL, it, 1, &n, NULL), 3);
	assert_int_equal(n, 1);
	assert_int_equal(fr_check(&t, NULL, NULL, 0, &n, NULL), 3);
	assert_int_equal(n, 0);
}

static void test_check_worst(void **state)
{
	struct fr_timing t = defaults();
	uint32_t worst = 0;
	size_t n;
	struct fr_check_item it[8];

	(void)state;
	/* the bench settings: wait 1100 + 800 + 2000 + 300 = 4200 > 2200 */
	t.tick_ms = 100;
	t.lease_ms = 800;
	t.watchdog_ms = 2000;
	t.margin_ms = 300;
	t.msgwait_ms = 4000;
	t.disk_interval_ms = 500;
	t.disk_timeout_ms = 500;
	assert_int_equal(fr_check(&t, NULL, it, 8, &n, &worst), 0);
	assert_int_equal(worst, 4200);
	assert_int_equal(n, 2);                /* lease 800 <= tick 100 + token 1000 */
	assert_false(it[0].error);
	assert_true(strncmp(it[0].text, "lease 800 ms <= tick 100 + token 1000 ms", 40) == 0);
	assert_true(is_two_node(&it[1]));      /* win 5400 >= dies 3900 */
	/* detection longer than the wait */
	t = defaults();
	t.consensus_ms = 20000;
	assert_int_equal(fr_check(&t, NULL, it, 8, &n, &worst), 0);
	assert_int_equal(worst, 21000);
	t.consensus_ms = 7249;                 /* 1000 + 7249 = 8249 < 8250 */
	fr_check(&t, NULL, it, 8, &n, &worst);
	assert_int_equal(worst, 8250);
	t.consensus_ms = 7251;
	fr_check(&t, NULL, it, 8, &n, &worst);
	assert_int_equal(worst, 8251);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_saturation),
		cmocka_unit_test(test_should_pet_table),
		cmocka_unit_test(test_should_pet_tie_flags),
		cmocka_unit_test(test_should_pet_storage_outage),
		cmocka_unit_test(test_stale_tick_after_freeze),
		cmocka_unit_test(test_may_arm),
		cmocka_unit_test(test_may_confirm_gates),
		cmocka_unit_test(test_may_confirm_timeout),
		cmocka_unit_test(test_may_confirm_disk_win),
		cmocka_unit_test(test_may_confirm_pill),
		cmocka_unit_test(test_is_tie),
		cmocka_unit_test(test_tiebreak_table),
		cmocka_unit_test(test_tiebreak_never_both),
		cmocka_unit_test(test_check_defaults),
		cmocka_unit_test(test_check_two_node),
		cmocka_unit_test(test_survivor_gates),
		cmocka_unit_test(test_check_each_alone),
		cmocka_unit_test(test_check_watchdog_floor),
		cmocka_unit_test(test_check_brief_example_and_limits),
		cmocka_unit_test(test_check_worst),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
