/*
 * Spin model of xenha's lease / watchdog / fence-confirmation rule and
 * the restart decision (docs/fencing.md, "Model check").  Property:
 * never two running copies of the domain.
 *
 * The constants come from the C rules: run.sh compiles tests/model/consts.c
 * with src/lib/fencerules.c and writes fr_consts.h (fr_timing_defaults(),
 * fr_extra_ms(), fr_wait_ms() in units of UNIT_MS).  Time is discrete:
 * one loop iteration of `world` is one unit.
 *
 * Variants (spin -D...):
 *   NO_EXTRA    survivors wait lease + watchdog + margin: the token extra
 *               (fr_extra_ms) left out.  Must fail.
 *   NO_WDOG     survivors wait extra + lease + margin: the watchdog left
 *               out.  Must fail.
 *   NO_MEMBERSHIP_RESET  a survivor's d is only its last delivery of the
 *               peer's tick, as src/fenced/cluster.c computes it today (it
 *               also counts from the join, but only for a peer never seen
 *               before).  Must fail with 2 faults: see heal().
 *   NFAULTS=k   faults injected per run (a cut, a host freeze or a daemon
 *               stall; heals and thaws are free); default 2.
 *
 * Rounding, chosen so that the model never under-approximates danger
 * (real instants inside unit k are taken as k for sends and deliveries):
 *   - a lease counts while (now - stamp) <= LEASE units (real: < L ms);
 *   - a pet at unit t stands for a pet anywhere in [t, t+1): the copy is
 *     treated as running through unit t + WDOG and killed after it;
 *   - survivors restart once (now - d) >= WAIT units, at the start of the
 *     unit, before that unit's watchdog kills (a tie counts as a failure);
 *   - a node whose ring broke (it was cut off, or left without a
 *     majority) delivers its own ticks as quorate for TOKEN units more
 *     (its token timeout: corosync's bound, the one fr_extra_ms uses);
 *   - membership changes reach the survivors at the cut itself (really
 *     token + consensus later).
 */
#include "fr_consts.h"

#if TICK != 1
#error "the model sends a tick every unit: TICK must be 1 (UNIT_MS = tick_ms)"
#endif

#define N 3
#define NONE 255
#ifndef NFAULTS
#define NFAULTS 2
#endif

#if defined(NO_EXTRA)
#define WAIT_USED (WAIT - EXTRA)
#elif defined(NO_WDOG)
#define WAIT_USED (WAIT - WDOG)
#else
#define WAIT_USED WAIT
#endif

#define LCAP (LEASE + 1)   /* a lease age above LEASE is simply stale */
#define DCAP WAIT          /* survivors never need more than WAIT */

byte up[N];        /* host alive (not reset by its watchdog) */
bit frz[N];        /* frozen: xenha-fenced takes no action; its watchdog keeps counting */
bit hfrz[N];       /* ... and the whole host is frozen (corosync too), not a daemon stall */
bit iso[N];        /* cut off from every other node */
bit runs[N];       /* a copy of the domain runs here */
byte lease[N];     /* units since the send time of the newest own tick delivered quorate */
byte pet[N];       /* units since the last pet */
byte cage[N];      /* units since its ring broke (token window), capped at TOKEN + 1 */
byte dage[N * N];  /* dage[j*N+i]: at j, units since j delivered a tick of i */
byte pend[N * N];  /* pend[i*N+j]: stamp age of i's newest tick not yet delivered at j */
byte owner;        /* the replicated placement: where the domain was last started */
byte faults;       /* faults injected so far */

#define D(j, i) dage[(j) * N + (i)]
#define P(i, j) pend[(i) * N + (j)]
#define ACTIVE(j) (up[j] && !frz[j])
#define LINK(i, j) ((i) == (j) || (!iso[i] && !iso[j]))

/* counts for a lease: in a ring that holds a majority of the 3 votes, or
 * (cut off / left without a majority) inside the token window that
 * started when its ring broke. */
inline quorate_own(i, res) {
	res = 0;
	if
	:: !iso[i] ->
		res = (!iso[0] && up[0]) + (!iso[1] && up[1]) + (!iso[2] && up[2]);
		res = (res * 2 > N)
	:: else -> skip
	fi;
	res = res || cage[i] <= TOKEN
}

/* the ring of every node left without a majority by a cut or a death
 * breaks now: its token window starts */
inline ring_broke() {
	q = (!iso[0] && up[0]) + (!iso[1] && up[1]) + (!iso[2] && up[2]);
	if
	:: q * 2 <= N ->
		for (j : 0 .. N - 1) {
			if
			:: up[j] && !iso[j] -> cage[j] = 0
			:: else -> skip
			fi
		}
	:: else -> skip
	fi;
	q = 0
}

inline deliver(i, j) {
	D(j, i) = 0;
	P(i, j) = NONE
}

/* v rejoins the others (a heal).  What each node counts its d from:
 *  - every node of the joined partition sees v join (a configuration
 *    change, delivered before any tick of the new ring) and counts its d
 *    of v from then;
 *  - a node that regains quorum by this join (v itself, or a node that
 *    was left without a majority) counts its d of every peer from then:
 *    while it had no quorum, a peer may have ticked in a quorate partition
 *    it could not see.
 * Without these (NO_MEMBERSHIP_RESET: src/fenced/cluster.c sets last_tick_ms
 * only for a peer it has never seen) the model finds two-copy runs: a
 * survivor's d of v is older than v's rejoin, and v's own ticks of the
 * new ring, delivered by v alone before the ring breaks again, give v a
 * lease the survivors' wait does not cover; or a node that was cut off
 * rejoins and at once confirms a peer on a d from before its own cut. */
inline heal(v) {
	d_step {
		q = (!iso[0] && up[0]) + (!iso[1] && up[1]) + (!iso[2] && up[2]);
		iso[v] = 0;
		printf("MSC: heal node %d\n", v);
#ifndef NO_MEMBERSHIP_RESET
		for (j : 0 .. N - 1) {
			if
			:: ACTIVE(j) && !iso[j] ->
				if
				:: j == v || (q * 2 <= N && (q + 1) * 2 > N) ->
					D(j, 0) = 0; D(j, 1) = 0; D(j, 2) = 0
				:: else -> D(j, v) = 0
				fi
			:: else -> skip
			fi
		};
#endif
		j = 0; q = 0
	}
}

active proctype world()
{
	byte i, j, q, v, w, dm;

	/* steady state: the domain runs on node 0, every lease fresh */
	d_step {
		for (i : 0 .. N - 1) {
			up[i] = 1; cage[i] = TOKEN + 1; P(i, 0) = NONE; P(i, 1) = NONE; P(i, 2) = NONE
		};
		runs[0] = 1; owner = 0
	};
end:
	do
	:: atomic {
		/* 1. faults: at most NFAULTS cuts or freezes; heals and thaws free */
		if
		:: skip
		:: faults < NFAULTS ->
			select(v : 0 .. N - 1);
			if
			:: up[v] && !iso[v] ->
				/* cut v off: the others' ticks to it are lost; its
				 * ticks in flight are lost or still arrive, the same
				 * for every survivor (virtual synchrony: the survivors
				 * move on together and deliver the same set), and
				 * cannot be lost once a survivor has delivered one */
				atomic {
					faults++; iso[v] = 1; cage[v] = 0;
					printf("MSC: cut node %d\n", v);
					ring_broke();
#ifndef NO_MEMBERSHIP_RESET
					/* each side sees the other leave its membership
					 * (really token + consensus later; now is earlier,
					 * so it gives the survivors less to wait) */
					for (j : 0 .. N - 1) {
						if
						:: j != v && ACTIVE(j) && !iso[j] -> D(j, v) = 0
						:: else -> skip
						fi
					};
					if
					:: ACTIVE(v) -> D(v, 0) = 0; D(v, 1) = 0; D(v, 2) = 0
					:: else -> skip
					fi;
#endif
					q = 1;
					for (j : 0 .. N - 1) {
						if
						:: j != v -> P(j, v) = NONE;
							if
							:: up[j] && !iso[j] && P(v, j) == NONE -> q = 0
							:: else -> skip
							fi
						:: else -> skip
						fi
					};
					if
					:: q -> for (j : 0 .. N - 1) { P(v, j) = NONE }
					:: true -> skip
					fi;
					q = 0
				}
			:: up[v] && !frz[v] -> faults++; frz[v] = 1; hfrz[v] = 1; printf("MSC: freeze host %d\n", v)
			:: up[v] && !frz[v] -> faults++; frz[v] = 1; printf("MSC: stall the daemon of node %d\n", v)
			:: else -> skip
			fi;
			v = 0
		:: iso[0] -> heal(0)
		:: iso[1] -> heal(1)
		:: iso[2] -> heal(2)
		:: frz[0] -> frz[0] = 0; v = 1; w = hfrz[0]; hfrz[0] = 0; printf("MSC: thaw node 0\n")
		:: frz[1] -> frz[1] = 0; v = 2; w = hfrz[1]; hfrz[1] = 0; printf("MSC: thaw node 1\n")
		:: frz[2] -> frz[2] = 0; v = 3; w = hfrz[2]; hfrz[2] = 0; printf("MSC: thaw node 2\n")
		fi;
		/* a host that thaws after its token timeout finds its ring gone:
		 * it is alone until it rejoins (a heal).  A stalled daemon's
		 * host stays in the ring (corosync kept running).  A node that
		 * stays in the ring handles the membership changes queued while
		 * it was frozen: peers cut off meanwhile left now, for it. */
		d_step {
			if
			:: v > 0 -> v--;
#ifndef NO_MEMBERSHIP_RESET
				for (j : 0 .. N - 1) {
					if
					:: iso[j] && j != v -> D(v, j) = 0
					:: else -> skip
					fi
				};
				j = 0;
#endif
				/* frozen longer than the token timeout (it could not pet
				 * while frozen, so the pet age bounds the freeze) */
				if
				:: w && pet[v] > TOKEN -> iso[v] = 1; cage[v] = TOKEN + 1
				:: else -> skip
				fi
			:: else -> skip
			fi;
			v = 0; w = 0
		};

		/* 2. sends (TICK = 1 unit: every node ticks every unit).  A tick
		 * still in flight to j is delivered first (agreed order); a
		 * frozen j gets them all at once when it thaws.  Own ticks are
		 * delivered at once (the most lease a sender can get). */
		d_step {
			for (i : 0 .. N - 1) {
				if
				:: ACTIVE(i) ->
					for (j : 0 .. N - 1) {
						if
						:: j != i && up[j] && LINK(i, j) ->
							if
							:: P(i, j) != NONE && !frz[j] -> deliver(i, j)
							:: else -> skip
							fi;
							P(i, j) = 0
						:: else -> skip
						fi
					};
					quorate_own(i, q);
					if
					:: q -> lease[i] = 0
					:: else -> skip
					fi
				:: else -> skip
				fi
			};
			q = 0
		};

		/* 3. deliveries.  A tick sent this unit reaches each receiver
		 * now or one unit later; older ticks in flight reach an active
		 * receiver now.  The delay pattern of a unit is one of: none;
		 * every tick of one sender late at both receivers (so a cut
		 * can lose it for all survivors); one (sender, receiver) pair
		 * late (so two survivors' d differ).  dm: 0 none, 1..3 sender
		 * dm-1, 4..9 pair dm-4. */
		if
		:: faults < NFAULTS -> select(dm : 0 .. 9)
		:: else -> skip	/* no cut can come to lose a late tick: a delay
				 * now only makes survivors wait longer */
		fi;
		d_step {
			for (i : 0 .. N - 1) {
				for (j : 0 .. N - 1) {
					if
					:: i != j && P(i, j) != NONE && ACTIVE(j) ->
						if
						:: P(i, j) == 0 &&
						   (dm == i + 1 ||
						    (dm >= 4 && (dm - 4) / 2 == i && (i + 1 + (dm - 4) % 2) % N == j)) ->
							skip
						:: else -> deliver(i, j)
						fi
					:: else -> skip
					fi
				}
			};
			dm = 0
		};

		/* 4. pets, 5. restart decision, 6. time passes and watchdogs fire */
		d_step {
			for (i : 0 .. N - 1) {
				if
				:: ACTIVE(i) && lease[i] <= LEASE -> pet[i] = 0
				:: else -> skip
				fi
			};
			/* the restart: a replicated command, so applied only in a
			 * partition holding a majority of the votes; by any of its
			 * nodes with a fresh lease (the daemon lets only the lowest
			 * id act), on that node's own d of the owner, once the owner
			 * is not a member (fr_may_confirm).  A frozen host counts as
			 * left at once (corosync needs token + consensus); a host
			 * whose daemon stalls stays a member */
			w = NONE;
			for (j : 0 .. N - 1) {
				if
				:: w == NONE && ACTIVE(j) && !iso[j] && j != owner && lease[j] <= LEASE &&
				   ((!iso[0] && up[0]) + (!iso[1] && up[1]) + (!iso[2] && up[2])) * 2 > N &&
				   !(up[owner] && !hfrz[owner] && !iso[owner]) &&
				   D(j, owner) >= WAIT_USED -> w = j
				:: else -> skip
				fi
			};
			if
			:: w != NONE ->
				printf("MSC: node %d restarts the domain of node %d (last tick %d units ago)\n",
				       w, owner, D(w, owner));
				runs[w] = 1; owner = w;
				assert(runs[0] + runs[1] + runs[2] <= 1)
			:: else -> skip
			fi;
			w = 0;
			for (i : 0 .. N - 1) {
				if
				:: lease[i] < LCAP -> lease[i]++
				:: else -> skip
				fi;
				if
				:: cage[i] <= TOKEN -> cage[i]++
				:: else -> skip
				fi;
				for (j : 0 .. N - 1) {
					if
					:: D(i, j) < DCAP -> D(i, j)++
					:: else -> skip
					fi;
					if
					:: P(i, j) != NONE && P(i, j) < LCAP -> P(i, j)++
					:: else -> skip
					fi
				};
				if
				:: up[i] ->
					pet[i]++;
					if
					:: pet[i] > WDOG ->
						printf("MSC: watchdog resets node %d\n", i);
						w = w || !iso[i];
						up[i] = 0; runs[i] = 0; frz[i] = 0; hfrz[i] = 0; iso[i] = 0;
						pet[i] = 0; lease[i] = 0; cage[i] = TOKEN + 1;
						P(0, i) = NONE; P(1, i) = NONE; P(2, i) = NONE;
						P(i, 0) = NONE; P(i, 1) = NONE; P(i, 2) = NONE
					:: else -> skip
					fi
				:: else -> skip
				fi
			};
			if
			:: w -> ring_broke()
			:: else -> skip
			fi;
			w = 0;
			/* ages that can no longer matter are pinned (fewer states):
			 * the dead deliver nothing; nobody waits for a dead node that
			 * does not own the domain (it never will); a cut-off node
			 * restarts nothing, and counts every d afresh when it
			 * rejoins (heal) */
			for (i : 0 .. N - 1) {
				if
				:: !up[i] -> D(i, 0) = DCAP; D(i, 1) = DCAP; D(i, 2) = DCAP;
					if
					:: i != owner -> D(0, i) = DCAP; D(1, i) = DCAP; D(2, i) = DCAP
					:: else -> skip
					fi
#ifndef NO_MEMBERSHIP_RESET
				:: up[i] && iso[i] -> D(i, 0) = 0; D(i, 1) = 0; D(i, 2) = 0
#endif
				:: else -> skip
				fi
			};
			/* a trace line per unit for `spin -t` (printing is not state) */
			printf("MSC: unit: up %d%d%d frz %d%d%d iso %d%d%d runs %d%d%d lease %d,%d,%d pet %d,%d,%d d(1,0) %d d(2,0) %d\n",
			       up[0], up[1], up[2], frz[0], frz[1], frz[2], iso[0], iso[1], iso[2],
			       runs[0], runs[1], runs[2], lease[0], lease[1], lease[2],
			       pet[0], pet[1], pet[2], D(1, 0), D(2, 0));
			i = 0; j = 0
		}
	   }
	od
}
