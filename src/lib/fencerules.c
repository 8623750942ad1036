/*
 * Fencing decision rules (pure): see include/xenha/fencerules.h for the
 * contract and docs/fencing.md for the same rules with worked numbers.
 *
 * The one property every rule here serves: never two running copies of
 * a domain.  Survivors restart a lost host's domains only after
 * fr_may_confirm says the host is fenced; every rule below is there so
 * that "confirmed" implies "that host is no longer running anything".
 *
 * What the proofs assume, stated once:
 *  - the watchdog works: a host that stops petting is reset at most
 *    watchdog_ms (W) after its last pet, and a reset stops its domains;
 *  - monotonic clocks of all hosts run at the same rate (offsets do not
 *    matter, every rule compares durations measured on one clock); the
 *    margin_ms added by survivors covers rate differences and scheduling
 *    delay between a decision and its effect;
 *  - corosync bounds lone delivery: a host cut off from the others can
 *    deliver its own messages in its old configuration only until its
 *    token timeout (token_ms) fires;
 *  - the heartbeat worker issues a read of all slots every
 *    disk_interval_ms and gives up on any I/O after disk_timeout_ms; a
 *    read started after a write completed returns that write.
 * Arithmetic is done in 64 bits; durations that could exceed 32 bits
 * saturate at UINT32_MAX rather than wrap.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "xenha/fencerules.h"

/* ---- small helpers ---- */

static uint32_t sat32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/*
 * Age of an event at `at` seen from `now`.  An event in the future is
 * an impossible input (all times come from one monotonic clock); the
 * callers decide which way is safe, so it is reported separately.
 */
static bool age_of(uint64_t now, uint64_t at, uint64_t *age)
{
	if (at > now)
		return false;
	*age = now - at;
	return true;
}

/* ---- defaults ---- */

void fr_timing_defaults(struct fr_timing *t)
{
	memset(t, 0, sizeof(*t));
	t->tick_ms = 250;
	t->lease_ms = 1500;
	t->watchdog_ms = 5000;
	t->margin_ms = 500;
	t->token_ms = 1000;
	t->consensus_ms = 1200;
	t->msgwait_ms = 10000;          /* 2 x W, sbd's rule */
	t->disk_interval_ms = 1000;     /* sbd's loop timeout default (1 s) */
	t->disk_timeout_ms = 2000;      /* [fencing] disk_timeout_ms default */
	t->xenhad_timeout_ms = 10000;   /* [fencing] xenhad_timeout_ms default */
	t->pill_grace_ms = 5000;        /* the campaign saw a restarted xenhad answer after 5 s under load */
}

bool fr_survivor_may_act(bool we_may_act, bool acting, bool xenhad_synced, bool xenhad_quorate)
{
	return we_may_act && acting && xenhad_synced && xenhad_quorate;
}

bool fr_pill_now(const struct fr_timing *t, bool peer_ticking, uint64_t pending_since_ms,
		 uint64_t now_ms)
{
	if (!peer_ticking)
		return true;
	return now_ms >= pending_since_ms && now_ms - pending_since_ms >= t->pill_grace_ms;
}

const char *fr_pet_reason_str(enum fr_pet_reason r)
{
	switch (r) {
	case FR_PET_LEASE: return "lease";
	case FR_PET_DISK_WIN: return "disk-win";
	case FR_NOPET_NOT_ARMED: return "not-armed";
	case FR_NOPET_PILL: return "poison-pill";
	case FR_NOPET_XENHAD: return "xenhad-silent";
	case FR_NOPET_NO_LEASE: return "no-lease";
	case FR_NOPET_SHUTDOWN: return "self-fence";
	}
	return "unknown";
}

const char *fr_confirm_str(enum fr_confirm c)
{
	switch (c) {
	case FR_CONFIRM_NO: return "no";
	case FR_CONFIRM_TIMEOUT: return "timeout";
	case FR_CONFIRM_AGENT: return "agent";
	case FR_CONFIRM_PILL: return "poison-pill";
	}
	return "unknown";
}

/* ---- self: petting ---- */

/*
 * The lease.  A host holds a lease while the newest of its own ticks
 * that it delivered in a quorate regular configuration was SENT less
 * than lease_ms (L) ago.  The caller picks that tick (same ring id at
 * send and delivery, quorate at delivery; transitional configurations
 * never count); here we only age it.
 *
 * Why send time: a process frozen for a minute thaws and delivers the
 * ticks queued for it.  Their send times are a minute old, so they give
 * no lease, and the host does not pet a watchdog it should have let
 * fire.  Measured from delivery they would look fresh.
 *
 * Why a lease keeps "never two copies": survivors restart a host's
 * domains only once the host's lease has surely run out and its
 * watchdog has surely fired (fr_may_confirm, rule (a)); the lease is
 * the only way a host without a disk win keeps petting, so it is the
 * bound that proof uses.  A lease needs quorum, and quorum is held by
 * at most one side of a partition, so two sides never both renew.
 * The disk is not consulted while there is a lease: a quorate host
 * rides out a storage outage (a multipath failover longer than W does
 * not reset a whole cluster) and the proof of (a) never needed the disk.
 */
static bool lease_fresh(const struct fr_timing *t, const struct fr_self *s)
{
	uint64_t age;

	if (!s->have_lease_tick || !age_of(s->now_ms, s->lease_tick_sent_ms, &age))
		return false;
	return age < t->lease_ms;
}

/*
 * The disk win as a reason to pet: a tie (fr_is_tie), fr_tiebreak_win
 * said yes, and has said so without a break for fr_claim_delay_ms.
 * The delay is what makes "both sides of a tie never pet on a win at the
 * same moment" hold when a host's heartbeat writes stop and start again:
 * without it, a host whose writes come back would claim at once, while
 * the peer, which saw it stale and won meanwhile, has not read the new
 * write yet.  With it, by the time the returning host claims, the peer
 * has read the write (its win turned to no) or its own reads went stale
 * (its win turned to no as well).  See fr_tiebreak_win for the rest.
 */
static bool disk_claim(const struct fr_timing *t, const struct fr_self *s)
{
	uint64_t held;

	if (!s->tie || !s->disk_win)
		return false;
	if (!age_of(s->now_ms, s->disk_win_since_ms, &held))
		return false;
	return held >= fr_claim_delay_ms(t);
}

/*
 * Rule: pet only for a fresh lease or a held disk win, and never when
 * something says this host must go: not armed yet (nothing to pet),
 * asked to self-fence, a poison pill in our mailbox, xenhad silent for
 * xenhad_timeout_ms.  The "must go" reasons come first so that a lease
 * never overrides a pill or a dead xenhad: a pill is how a survivor asks
 * a host it cannot reach over the network to go, and a host whose
 * xenhad is dead cannot stop its domains when told to, so it must not
 * keep them running under a live watchdog.
 *
 * Safety: pets happen only on a lease or a disk win; the bounds on both
 * are what fr_may_confirm waits out (proofs there and at
 * fr_tiebreak_win).  The other reasons only remove pets, which can cost
 * availability (a reset) but never safety.
 */
bool fr_should_pet(const struct fr_timing *t, const struct fr_self *s,
		   enum fr_pet_reason *reason)
{
	uint64_t age;

	if (!s->armed) {
		*reason = FR_NOPET_NOT_ARMED;
		return false;
	}
	if (s->self_fence) {
		*reason = FR_NOPET_SHUTDOWN;
		return false;
	}
	if (s->pill) {
		*reason = FR_NOPET_PILL;
		return false;
	}
	/* A future answer time is impossible; treat it as silence. */
	if (s->xenhad_seen &&
	    (!age_of(s->now_ms, s->xenhad_ok_ms, &age) || age >= t->xenhad_timeout_ms)) {
		*reason = FR_NOPET_XENHAD;
		return false;
	}
	if (lease_fresh(t, s)) {
		*reason = FR_PET_LEASE;
		return true;
	}
	if (disk_claim(t, s)) {
		*reason = FR_PET_DISK_WIN;
		return true;
	}
	*reason = FR_NOPET_NO_LEASE;
	return false;
}

/*
 * Rule: open the watchdog only when the host could pet it right away
 * (a fresh lease, or a held disk win) and xenhad has answered recently.
 * Opening it earlier would reset a host that is still starting (corosync
 * forming its first ring, xenhad loading its state).  Not arming is safe
 * for the property: a host that never held a lease or a disk win was
 * never quorate and so never started a domain; survivors' rule (a) does
 * not depend on it.  Pills and self-fence requests do not block arming:
 * an armed host that then refuses to pet is reset, which is what they
 * ask for.
 */
bool fr_may_arm(const struct fr_timing *t, const struct fr_self *s)
{
	uint64_t age;

	if (!s->xenhad_seen || !age_of(s->now_ms, s->xenhad_ok_ms, &age) ||
	    age >= t->xenhad_timeout_ms)
		return false;
	return lease_fresh(t, s) || disk_claim(t, s);
}

/* ---- survivors: confirmation ---- */

uint32_t fr_extra_ms(const struct fr_timing *t)
{
	return sat32((uint64_t)t->token_ms + t->tick_ms);
}

uint32_t fr_wait_ms(const struct fr_timing *t)
{
	return sat32((uint64_t)fr_extra_ms(t) + t->lease_ms + t->watchdog_ms + t->margin_ms);
}

/*
 * Time left until the lease path (a) is due, including the disk-win
 * wait when we act only on a disk win.  0 when due.
 */
static uint64_t timeout_remaining(const struct fr_timing *t, const struct fr_survivor *s,
				  const struct fr_peer *p)
{
	uint64_t age, left = 0, need;

	if (!age_of(s->now_ms, p->last_tick_ms, &age))
		age = 0;             /* a future delivery: wait the whole time */
	need = fr_wait_ms(t);
	if (age < need)
		left = need - age;
	if (s->by_disk_win) {
		need = (uint64_t)t->watchdog_ms + t->margin_ms;
		if (!age_of(s->now_ms, s->disk_win_since_ms, &age))
			age = 0;
		if (age < need && need - age > left)
			left = need - age;
	}
	return left;
}

/* (c) without the timeout part: pill written, waited, slot silent, reads fresh. */
static bool pill_silent(const struct fr_timing *t, const struct fr_survivor *s,
			const struct fr_peer *p)
{
	uint64_t age;

	if (!p->pill_written || !p->slot_seen)
		return false;
	if (!age_of(s->now_ms, p->pill_written_ms, &age) || age < t->msgwait_ms)
		return false;
	if (p->slot_changed_ms >= p->pill_written_ms)
		return false;
	return p->disk_read_ok_ms >= p->pill_written_ms + t->msgwait_ms;
}

/*
 * Rule (the survivors' side).  Never for a member (it is alive and
 * talking to us), never for a host that announced a clean stop (its
 * domains were stopped or moved by commands; treating a later silence
 * as a failure would be guessing), never unless we may act (a lease or a
 * disk win: at most one side of a partition has either, so two sides
 * never both confirm and restart).  Then:
 *
 * (b) a fence agent said off and a status read-back said off: the power
 *     is off, nothing runs there.  Assumes the agent is honest about the
 *     host it names; the read-back guards against agents that report
 *     success for a command the device ignored.
 *
 * (a) now - last_tick_ms >= extra + L + W + margin, extra = token + tick.
 *     Proof sketch.  Let d be the local time at which we last delivered
 *     a tick of the victim.  The victim may have delivered ticks of its
 *     own after that which never reached us (agreed order lets a sender
 *     deliver its own message before the ring confirms it, and the ring
 *     may break right after), but only until its token timeout fires: so
 *     the newest tick it delivered quorate was sent no later than
 *     d + token + tick (a tick stamped just before that instant counts).
 *     Its lease, measured from that send time, ends at most L later: its
 *     last pet on a lease is before d + extra + L.  Its watchdog fires at
 *     most W after its last pet.  margin covers clock-rate differences
 *     and scheduling.  A victim that is not quorate cannot renew its
 *     lease, because we are (only one side of a split can be quorate).  The other way a
 *     host pets is a disk win, only in a two-node tie: when we act only
 *     because of our own disk win, the two sides never win at the same
 *     time (fr_tiebreak_win), so the victim's last pet on a win came
 *     before our win began, and we also wait W + margin from the start
 *     of our unbroken win.  When we act on a lease the victim is not in
 *     a tie: with more than two votes there is no tie-break, and in a
 *     two-node cluster a lease needs both votes, so the victim would be a
 *     member (our lease from before the split ends, by the same argument
 *     as the victim's, before d + extra + L, earlier than (a) is due).
 *     This assumes votequorum's two_node option is off: with it, a lone
 *     node is quorate on both sides of a split and no rule here holds.
 *
 * (c) a poison pill: written to the victim's mailbox at P, msgwait has
 *     passed, the victim's slot has not changed since P and our reads
 *     since P + msgwait are complete.  In sbd, where a host that cannot
 *     read its disk resets itself, that alone proves the host gone.  Not
 *     here: a quorate host keeps petting on its lease through a storage
 *     outage, so a victim that lost its storage just before the
 *     partition never reads the pill and its slot is silent while it
 *     runs.  So (c) also waits for the (a) bound; it differs from (a) only
 *     in naming the case where the disk agrees with the timeout.  The
 *     pill still does its real work: a victim that can read its disk
 *     stops petting as soon as it reads it (fr_should_pet), long before.
 */
enum fr_confirm fr_may_confirm(const struct fr_timing *t, const struct fr_survivor *s,
			       const struct fr_peer *p, uint64_t *remaining_ms)
{
	uint64_t left;

	left = timeout_remaining(t, s, p);
	if (remaining_ms != NULL)
		*remaining_ms = left;
	if (p->member || p->left_cleanly || !s->quorate)
		return FR_CONFIRM_NO;
	if (p->agent_off)
		return FR_CONFIRM_AGENT;
	if (left > 0)
		return FR_CONFIRM_NO;
	if (pill_silent(t, s, p))
		return FR_CONFIRM_PILL;
	return FR_CONFIRM_TIMEOUT;
}

/* ---- two-node tie-break ---- */

/*
 * Rule: a tie is a two-node cluster (expected_votes == 2) split so that
 * we are alone and not quorate.  Larger even splits are votequorum's:
 * neither half is quorate, neither half restarts anything, both stop
 * petting when their leases run out.  A two-node cluster has no such
 * answer (a lone survivor would always stop), so the disk decides.
 */
bool fr_is_tie(uint32_t expected_votes, uint32_t members, bool quorate)
{
	return !quorate && expected_votes == 2 && members == 1;
}

uint32_t fr_stale_ms(const struct fr_timing *t)
{
	return sat32((uint64_t)t->lease_ms + t->disk_interval_ms + 3ull * t->disk_timeout_ms +
		     t->tick_ms);
}

uint32_t fr_claim_delay_ms(const struct fr_timing *t)
{
	return sat32((uint64_t)t->disk_interval_ms + 2ull * t->disk_timeout_ms);
}

/*
 * Rule: we win when our own last heartbeat write is younger than L, our
 * reads of the other slots are fresh, and no fresh node has a lower id.
 * A peer is fresh while its counter changed less than fr_stale_ms ago.
 *
 * Proof sketch that the two sides of a tie never both pet on a win at
 * the same instant y (A the lower id, B the higher; only B's win can
 * conflict, because A never defers to B).  B wins at y only if B sees A
 * stale: no change of A's counter observed after y - stale.  A pets on a
 * win at y only if (1) its last write completed at w_last > y - L and
 * (2) its win has held since y - claim_delay, so a write of the current
 * unbroken run completed at or before y - claim_delay.  The caller asks
 * at least every tick_ms, so a lapse of A's own freshness shorter than a
 * tick may go unseen: writes of one run are less than L + tick apart.  B's reads are fresh at y: its last complete read
 * ended after y - I - T and so began after y - I - 2T >= y - claim_delay.
 * That read therefore began after some write of A's run had completed.
 * Take the newest write w_j of the run that completed before it began.
 * If w_j = w_last, B saw a change no earlier than w_last - T (a write may
 * reach the disk up to T before it reports success): y - change < L + T.
 * Else the next write completed after the read began, and run writes are
 * less than L + tick apart, so w_j > y - I - 2T - L - tick and
 * y - change < L + I + 3T + tick.  Either way y - change < stale =
 * L + I + 3T + tick: B sees A fresh and does not win.  The reasoning holds only for the
 * combination "win held for claim_delay"; fr_tiebreak_win alone can say
 * yes on both sides for up to claim_delay after a host's writes return,
 * which is why fr_should_pet, not the caller, applies the delay.
 * tests/unit/test_fencerules.c checks it by exhaustive enumeration of
 * small timelines.
 */
bool fr_tiebreak_win(const struct fr_timing *t, uint32_t self_id, uint64_t now_ms,
		     uint64_t own_write_ok_ms, uint64_t last_read_ok_ms,
		     const struct fr_disk_node *peers, size_t n)
{
	uint64_t age, stale = fr_stale_ms(t);
	size_t i;

	if (!age_of(now_ms, own_write_ok_ms, &age) || age >= t->lease_ms)
		return false;
	if (!age_of(now_ms, last_read_ok_ms, &age) ||
	    age >= (uint64_t)t->disk_interval_ms + t->disk_timeout_ms)
		return false;
	for (i = 0; i < n; i++) {
		const struct fr_disk_node *p = &peers[i];

		if (p->nodeid == self_id || p->nodeid > self_id || !p->seen)
			continue;
		/* A change in the future: take it as fresh, the safe side. */
		if (!age_of(now_ms, p->changed_ms, &age) || age < stale)
			return false;
	}
	return true;
}

/* ---- the timeout chain ---- */

struct chk {
	struct fr_check_item *items;
	size_t max, n;
	int errors;
};

__attribute__((format(printf, 3, 4)))
static void add(struct chk *c, bool error, const char *fmt, ...)
{
	va_list ap;

	if (error)
		c->errors++;
	if (c->items == NULL || c->n >= c->max)
		return;
	c->items[c->n].error = error;
	va_start(ap, fmt);
	vsnprintf(c->items[c->n].text, sizeof(c->items[c->n].text), fmt, ap);
	va_end(ap);
	c->n++;
}

/* Storage failover time that a path outage can hold I/O for; 0 = unknown. */
static void check_storage(const struct fr_timing *t, const struct fr_chain *ch, struct chk *c)
{
	uint64_t mp;

	if (ch == NULL)
		return;
	if (ch->iscsi_replacement_ms > t->msgwait_ms)
		add(c, false, "iscsi replacement_timeout %u ms > msgwait %u ms: a pill written "
		    "during a path failover may reach the victim too late; confirmation then "
		    "rests on the timeout", ch->iscsi_replacement_ms, t->msgwait_ms);
	if (ch->iscsi_replacement_ms > t->lease_ms)
		add(c, false, "iscsi replacement_timeout %u ms > lease %u ms: a path failover "
		    "during a two-node tie stops the heartbeat writes long enough to lose the "
		    "tie-break", ch->iscsi_replacement_ms, t->lease_ms);
	mp = (uint64_t)ch->mpath_no_path_retry * ch->mpath_polling_ms;
	if (mp > t->msgwait_ms)
		add(c, false, "multipath no_path_retry %u x polling %u ms = %llu ms > msgwait %u ms: "
		    "a pill written while all paths are down may reach the victim too late; "
		    "confirmation then rests on the timeout", ch->mpath_no_path_retry,
		    ch->mpath_polling_ms, (unsigned long long)mp, t->msgwait_ms);
	if (mp > t->lease_ms)
		add(c, false, "multipath no_path_retry %u x polling %u ms = %llu ms > lease %u ms: "
		    "queued heartbeat i/o during a two-node tie loses the tie-break",
		    ch->mpath_no_path_retry, ch->mpath_polling_ms, (unsigned long long)mp,
		    t->lease_ms);
}

/*
 * Each check names what breaks.  Errors are the combinations under which
 * a proof above fails or the rules cannot work at all; warnings cost
 * availability or speed, not safety.
 */
int fr_check(const struct fr_timing *t, const struct fr_chain *ch,
	     struct fr_check_item *items, size_t max, size_t *n_out, uint32_t *worst_ms)
{
	struct chk c = { .items = items, .max = max };
	uint64_t detect = (uint64_t)t->token_ms + t->consensus_ms;
	uint32_t wait = fr_wait_ms(t);

	/* errors */
	if (t->watchdog_ms < 1000)
		add(&c, true, "watchdog %u ms < 1000 ms: a busy dom0 can miss a pet and reset "
		    "a healthy host", t->watchdog_ms);
	if ((uint64_t)t->msgwait_ms < 2ull * t->watchdog_ms)
		add(&c, true, "msgwait %u ms < 2 x watchdog %u ms: a poisoned host may still be "
		    "running when survivors restart its domains", t->msgwait_ms, t->watchdog_ms);
	if (t->tick_ms == 0)
		add(&c, true, "tick 0 ms: hosts would never renew their lease");
	else if (2ull * t->tick_ms >= t->lease_ms)
		add(&c, true, "tick %u ms >= lease %u ms / 2: a single late tick would drop the "
		    "lease", t->tick_ms, t->lease_ms);
	if (t->lease_ms > detect)
		add(&c, true, "lease %u ms > token %u + consensus %u ms: a host could keep its "
		    "lease after the others formed a membership without it", t->lease_ms,
		    t->token_ms, t->consensus_ms);
	if (t->disk_interval_ms >= t->watchdog_ms)
		add(&c, true, "disk interval %u ms >= watchdog %u ms: a host reads its mailbox "
		    "less often than its watchdog fires", t->disk_interval_ms, t->watchdog_ms);
	if (t->disk_timeout_ms >= t->watchdog_ms)
		add(&c, true, "disk timeout %u ms >= watchdog %u ms: one slow heartbeat i/o "
		    "outlasts the watchdog", t->disk_timeout_ms, t->watchdog_ms);
	if (t->xenhad_timeout_ms < t->watchdog_ms)
		add(&c, true, "xenhad timeout %u ms < watchdog %u ms: a xenhad stall shorter "
		    "than the watchdog itself tolerates would reset the host",
		    t->xenhad_timeout_ms, t->watchdog_ms);

	/* warnings */
	if ((uint64_t)t->lease_ms <= (uint64_t)t->tick_ms + t->token_ms)
		add(&c, false, "lease %u ms <= tick %u + token %u ms: a token delay shorter than "
		    "the token timeout can drop every lease; hosts then ride on the watchdog",
		    t->lease_ms, t->tick_ms, t->token_ms);
	if (t->margin_ms < 200)
		add(&c, false, "margin %u ms < 200 ms: little room for clock-rate differences and "
		    "scheduling delay", t->margin_ms);
	check_storage(t, ch, &c);
	/*
	 * Two-node survival: when the peer dies, the survivor loses its lease
	 * (alone it is not quorate) at most extra + L after the death and its
	 * watchdog fires W later; it pets again only once it has seen the peer
	 * stale (up to I + T to read the peer's last write, then stale) and
	 * held the win for the claim delay.  If that comes later, a two-node
	 * cluster loses both hosts when one dies.  Availability, not safety.
	 */
	{
		uint64_t win = (uint64_t)t->disk_interval_ms + t->disk_timeout_ms +
			       fr_stale_ms(t) + fr_claim_delay_ms(t);
		uint64_t dies = (uint64_t)fr_extra_ms(t) + t->lease_ms + t->watchdog_ms;

		/* the scenario simulator's two_node_interval_ge_lease: a
		 * write every I >= L breaks the run of fresh writes the claim
		 * delay counts, so neither side of a cut ever wins */
		if (t->disk_interval_ms >= t->lease_ms)
			add(&c, false, "two-node tie: heartbeat interval %u ms >= lease %u ms: "
			    "neither side of a cut holds a win long enough; both reset",
			    t->disk_interval_ms, t->lease_ms);
		if (win >= dies)
			add(&c, false, "two-node tie: the survivor pets on its disk win only after "
			    "%llu ms > lease end + watchdog %llu ms: in a two-node cluster the "
			    "survivor resets before it wins", (unsigned long long)win,
			    (unsigned long long)dies);
	}

	if (n_out != NULL)
		*n_out = c.n;
	if (worst_ms != NULL)
		*worst_ms = sat32(detect > wait ? detect : wait);
	return c.errors;
}
