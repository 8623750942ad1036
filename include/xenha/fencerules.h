/*
 * Fencing decision rules (pure): when may a host pet its watchdog, when
 * may survivors treat a lost host as fenced, who wins a two-node tie,
 * and which timeout combinations are safe.  No I/O, no clock reads: the
 * caller passes "now" and every age in its own monotonic milliseconds.
 *
 * The rules and their proof sketch: docs/fencing.md, and in plain words
 * above each function in src/lib/fencerules.c.
 *
 * Vocabulary.
 *  - tick: a CPG message xenha-fenced multicasts every tick_ms, carrying
 *    its sender's monotonic send time and the ring id it was sent in.
 *  - lease: a host holds a lease while the newest of its OWN ticks that
 *    it delivered in a quorate regular configuration (same ring id at
 *    send and at delivery, quorate at delivery) was SENT less than
 *    lease_ms ago.  Send time, never delivery time: a process that was
 *    frozen and then reads stale ticks cannot extend its lease.
 *  - W: the watchdog timeout.  After the last pet the host resets at
 *    most watchdog_ms later.
 */
#ifndef XENHA_FENCERULES_H
#define XENHA_FENCERULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* All durations in milliseconds. */
struct fr_timing {
	uint32_t tick_ms;            /* I: tick interval (default 250) */
	uint32_t lease_ms;           /* L: lease length (default 1500) */
	uint32_t watchdog_ms;        /* W: watchdog timeout (default 5000; from the disk header) */
	uint32_t margin_ms;          /* safety margin added by survivors (default 500) */
	uint32_t token_ms;           /* corosync totem.token as running */
	uint32_t consensus_ms;       /* corosync totem.consensus as running */
	uint32_t msgwait_ms;         /* poison pill wait (disk header; >= 2 W) */
	uint32_t disk_interval_ms;   /* heartbeat-slot write interval (disk header loop timeout) */
	uint32_t disk_timeout_ms;    /* one heartbeat I/O may take at most this long */
	uint32_t xenhad_timeout_ms;  /* stop petting when xenhad has not answered this long */
	uint32_t pill_grace_ms;      /* pill held for a pending peer whose fenced still ticks (5000) */
};

/* Defaults above; token/consensus 1000/1200. */
void fr_timing_defaults(struct fr_timing *t);

/* ---- self: may this host pet its watchdog now? ---- */

enum fr_pet_reason {
	FR_PET_LEASE = 0,         /* pet: fresh quorate lease */
	FR_PET_DISK_WIN,          /* pet: no quorum, but a tie this host wins on the disk */
	FR_NOPET_NOT_ARMED,       /* not armed yet: no lease has ever been held (watchdog not opened) */
	FR_NOPET_PILL,            /* a poison pill (reset/off/crashdump) is in our mailbox */
	FR_NOPET_XENHAD,          /* xenhad has not answered for xenhad_timeout_ms */
	FR_NOPET_NO_LEASE,        /* no fresh lease and no disk win */
	FR_NOPET_SHUTDOWN,        /* asked to self-fence (e.g. fenced itself told to) */
};

struct fr_self {
	uint64_t now_ms;
	bool armed;                  /* the watchdog is open (a lease was held once) */
	bool have_lease_tick;        /* lease_tick_sent_ms is valid */
	uint64_t lease_tick_sent_ms; /* send time of the newest own tick delivered quorate */
	bool pill;                   /* poison pill seen in own mailbox */
	bool xenhad_seen;            /* xenhad answered at least once */
	uint64_t xenhad_ok_ms;       /* when xenhad last answered */
	bool tie;                    /* quorum cannot decide (fr_is_tie) */
	bool disk_win;               /* fr_tiebreak_win said yes */
	uint64_t disk_win_since_ms;  /* start of the current unbroken run of yes
	                              * answers from fr_tiebreak_win (added) */
	bool self_fence;             /* FR_NOPET_SHUTDOWN */
};

/* Name of a reason: "lease", "disk-win", "not-armed", "poison-pill",
 * "xenhad-silent", "no-lease", "self-fence". */
const char *fr_pet_reason_str(enum fr_pet_reason r);

/*
 * True to pet now; *reason (never NULL) says why or why not.  Order:
 * not armed; self_fence; pill; xenhad silent (only once xenhad_seen:
 * before that, not armed is the gate the caller uses); a fresh lease
 * (now - lease_tick_sent_ms < lease_ms); a tie won on the disk (tie and
 * disk_win, and the win has held for fr_claim_delay_ms: now -
 * disk_win_since_ms >= fr_claim_delay_ms); else no.  A send time or a
 * since time in the future never counts.
 * A quorate host whose disk fails keeps petting on its lease.
 */
bool fr_should_pet(const struct fr_timing *t, const struct fr_self *s,
		   enum fr_pet_reason *reason);

/* May the host arm its watchdog (first lease, or disk win, and xenhad
 * answered)?  Arming before that would reset a host that is still
 * starting. */
bool fr_may_arm(const struct fr_timing *t, const struct fr_self *s);

/* ---- survivors: may we treat a lost host as fenced? ---- */

/*
 * The extra time after the last tick of a victim that a survivor
 * delivered during which the victim may still have delivered ticks of
 * its own that never reached the survivor: token_ms + tick_ms (the
 * victim can deliver its own messages alone at most until its token
 * timeout; a tick stamped just before is counted too).
 */
uint32_t fr_extra_ms(const struct fr_timing *t);

/*
 * The timeout wait: extra + L + W + margin.  A survivor that last
 * delivered a tick of the victim at local time d may treat the victim
 * as reset at d + fr_wait_ms().
 */
uint32_t fr_wait_ms(const struct fr_timing *t);

enum fr_confirm {
	FR_CONFIRM_NO = 0,           /* not (yet) */
	FR_CONFIRM_TIMEOUT,          /* (a) lease + watchdog time elapsed */
	FR_CONFIRM_AGENT,            /* (b) fence agent success, read back off */
	FR_CONFIRM_PILL,             /* (c) pill written, slot silent for msgwait */
};

struct fr_peer {
	uint32_t nodeid;
	bool member;                 /* in our current corosync membership */
	bool left_cleanly;           /* it announced a clean stop: never auto-confirm */
	uint64_t last_tick_ms;       /* our local time of our last delivery of its tick, and
				      * never older than the last time it left or joined
				      * our membership or we regained quorum (the spin
				      * model, tests/model, shows why) */
	/* (b) */
	bool agent_off;              /* an agent said off and a status read-back said off */
	/* (c) */
	bool pill_written;           /* we wrote a pill to its mailbox ... */
	uint64_t pill_written_ms;    /* ... finished at this local time */
	bool slot_seen;              /* we have read its heartbeat sector at least once */
	uint64_t slot_changed_ms;    /* local time we last saw its heartbeat counter change */
	uint64_t disk_read_ok_ms;    /* local time of our last complete read of all slots */
};

struct fr_survivor {
	uint64_t now_ms;
	bool quorate;                /* we hold a lease or a disk win (we may act) */
	/* (added) when we may act only because of a disk win (no lease):
	 * the start of the current unbroken run of that win; confirmation
	 * (a)/(c) then also waits until now - disk_win_since_ms >= W + margin,
	 * because the loser may have petted on its own win until just before
	 * ours began. */
	bool by_disk_win;
	uint64_t disk_win_since_ms;
};

/*
 * May the acting survivor act on xenhad's list of pending hosts at all?
 * Only when we may act (a lease or a disk win), we are the acting survivor,
 * and the list comes from a xenhad that is synchronised and quorate: one
 * that just started alone sees every peer "leave" in its own state.
 */
bool fr_survivor_may_act(bool we_may_act, bool acting, bool xenhad_synced, bool xenhad_quorate);

/*
 * May the poison pill go to a pending peer now?  A peer whose fencing
 * daemon still ticks in our group lost only its xenhad (killed; systemd
 * restarts it): it gets pill_grace_ms from pending_since_ms to rejoin
 * before a pill resets it and every domain on it.  The pill only speeds
 * recovery up; confirmation does not depend on it.
 */
bool fr_pill_now(const struct fr_timing *t, bool peer_ticking, uint64_t pending_since_ms,
		 uint64_t now_ms);

/*
 * May survivor `s` treat peer `p` as fenced?  Never while p is a member,
 * never if it left cleanly, never unless we may act.  Then, first match:
 * (b) agent_off; (c) pill_written and now - pill_written_ms >= msgwait
 * and slot_seen and the slot did not change since the pill was written
 * (slot_changed_ms < pill_written_ms) and our disk reads are fresh
 * (disk_read_ok_ms >= pill_written_ms + msgwait), AND the (a) time has
 * passed too; (a) now - last_tick_ms >= fr_wait_ms.  If s->by_disk_win,
 * (a) and (c) also need now - s->disk_win_since_ms >= W + margin.
 * The pill cannot shorten the wait: a host with a lease keeps petting
 * through a storage outage, so it may never read its pill; (c) only
 * names the case where the disk agrees (see docs/fencing.md).
 * *remaining_ms (may be NULL) gets the time left for (a) (including the
 * disk-win wait), 0 if due.
 */
enum fr_confirm fr_may_confirm(const struct fr_timing *t, const struct fr_survivor *s,
			       const struct fr_peer *p, uint64_t *remaining_ms);

const char *fr_confirm_str(enum fr_confirm c); /* "no", "timeout", "agent", "poison-pill" */

/* ---- two-node tie-break on the disk ---- */

/*
 * A tie: we are not quorate, the cluster expects exactly 2 votes
 * (expected_votes == 2) and we are alone in our membership.  Larger
 * even splits are left to votequorum (no tie-break; both sides stop).
 */
bool fr_is_tie(uint32_t expected_votes, uint32_t members, bool quorate);

struct fr_disk_node {
	uint32_t nodeid;
	bool seen;                   /* its heartbeat was ever read */
	uint64_t changed_ms;         /* local time its counter last changed */
};

/*
 * The staleness bound of the tie-break: a peer is fresh while its
 * heartbeat counter changed less than lease_ms + disk_interval_ms +
 * 3 x disk_timeout_ms + tick_ms ago (one interval and timeout for our
 * read to follow its write, one timeout for the read's own duration, one
 * for a write that reached the disk before it reported success, one tick
 * because the peer samples its own win once per tick).
 */
uint32_t fr_stale_ms(const struct fr_timing *t);

/*
 * How long fr_tiebreak_win must have said yes without a break before a
 * host pets on it: disk_interval_ms + 2 x disk_timeout_ms, the time a
 * peer with fresh reads needs to see our first write of a new run.
 */
uint32_t fr_claim_delay_ms(const struct fr_timing *t);

/*
 * Do we win a two-node tie?  Only if our own last successful heartbeat
 * write is younger than own_fresh = lease_ms, and we are the lowest
 * node id among the fresh nodes (entries with nodeid == self_id are
 * ignored), where a peer is fresh if it was seen and its counter
 * changed within fr_stale_ms (a peer whose own write is older than lease_ms
 * stops claiming before we can see it stale).  Our disk reads must be
 * fresh too (now - last_read_ok_ms < disk_interval_ms + disk_timeout_ms).
 * Times in the future (> now_ms) count as "just now" for peers and as
 * not fresh for our own write and read.  The answer is only a vote: a
 * host pets on it through fr_should_pet, which adds fr_claim_delay_ms.
 * Call it at least every tick_ms (the proof counts on that).
 */
bool fr_tiebreak_win(const struct fr_timing *t, uint32_t self_id, uint64_t now_ms,
		     uint64_t own_write_ok_ms, uint64_t last_read_ok_ms,
		     const struct fr_disk_node *peers, size_t n);

/* ---- the timeout chain ---- */

struct fr_chain {
	/* storage below the heartbeat disk; 0 = unknown / not configured */
	uint32_t iscsi_replacement_ms;   /* open-iscsi node.session.timeo.replacement_timeout */
	uint32_t mpath_no_path_retry;    /* multipath no_path_retry (count), 0 = fail at once */
	uint32_t mpath_polling_ms;       /* multipath polling_interval */
};

struct fr_check_item {
	bool error;                  /* false: a warning */
	char text[200];              /* one line, lower case, with the numbers */
};

/*
 * Check the chain.  Errors (unsafe, refuse to start): W < 1000; msgwait
 * < 2 W; tick_ms >= lease_ms / 2 (a single late tick would drop the
 * lease); lease_ms <= tick_ms + token_ms is allowed but warned; lease_ms
 * > token_ms + consensus_ms (a host could keep its lease after the others
 * have already formed a membership without it — the lease must run out
 * no later than detection); disk_interval_ms >= W; disk_timeout_ms >= W;
 * xenhad_timeout_ms < W; tick_ms == 0.  Warnings: margin < 200; storage
 * failover (replacement or no_path_retry * polling) longer than msgwait
 * (pill path slower than the timeout path) or than lease_ms (tie-break
 * lost during a failover); two-node survival: the survivor's disk win
 * (I + T + fr_stale_ms + fr_claim_delay_ms) not earlier than its own
 * watchdog (fr_extra_ms + lease_ms + W) — the defaults trigger it;
 * two-node ties with disk_interval_ms >= lease_ms (no side ever wins).
 * Fills up to max items; *n_out is their count.  *worst_ms (may be NULL)
 * is the worst-case time from a host failure to its domains being
 * allowed to start elsewhere: token + consensus (detection) compared
 * with fr_wait_ms, the larger.  Returns the number of errors.
 */
int fr_check(const struct fr_timing *t, const struct fr_chain *c,
	     struct fr_check_item *items, size_t max, size_t *n_out, uint32_t *worst_ms);

#endif /* XENHA_FENCERULES_H */
