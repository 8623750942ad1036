/*
 * State synchronisation after a membership change (pure).
 *
 * The rule, in plain words:
 *  - A round starts on every node at the same point of the agreed stream:
 *    the CPG configuration change (when someone joined, or a round was
 *    still open).  From that point every node holds back (buffers) the
 *    commands it delivers, so each node's state is frozen at the round's
 *    start.
 *  - Every member multicasts one offer describing its frozen state:
 *    (qseq, seq, digest) and the membership it is answering.
 *  - When the offers of all members are delivered (the same point on
 *    every node), the winner is the highest qseq (commands applied while
 *    quorate), then the highest seq, then the lowest node id.  A state
 *    that saw more of the quorate history wins; a minority that lost
 *    quorum cannot win against the majority that kept it.
 *  - The winner multicasts its frozen state as a snapshot; every node
 *    whose digest differs installs it; then every node applies the
 *    buffered commands in order.  All members end with the same state.
 *  - A new configuration change during a round: each node applies what it
 *    buffered to its own state and a new round starts.
 */
#ifndef XENHA_SYNCROUND_H
#define XENHA_SYNCROUND_H

#include <stdbool.h>
#include <stdint.h>
#include "xenha/state.h"

struct sync_offer {
	uint32_t nodeid;
	uint64_t qseq, seq;
	uint32_t digest;
};

struct sync_round {
	bool open;                       /* a round is in progress */
	uint32_t n_members;
	uint32_t members[XH_MAX_HOSTS];  /* sorted */
	uint32_t n_offers;
	struct sync_offer offers[XH_MAX_HOSTS];
	bool decided;
	struct sync_offer winner;
};

/* Start a round for the given membership (any order; stored sorted). */
void sync_round_start(struct sync_round *r, const uint32_t *members, uint32_t n);

/* Record an offer made for membership (members, n).  Returns:
 *  1 the round is now decided (r->winner set),
 *  0 recorded, more offers awaited,
 *  -ESTALE offer for another membership or no round open (ignore it),
 *  -EEXIST duplicate offer from that node (ignore),
 *  -EINVAL offer from a node that is not a member. */
int sync_round_offer(struct sync_round *r, const struct sync_offer *o,
		     const uint32_t *members, uint32_t n);

/* Do the two membership lists (sorted by sync_sort) match? */
bool sync_members_equal(const uint32_t *a, uint32_t na, const uint32_t *b, uint32_t nb);
void sync_sort(uint32_t *ids, uint32_t n);

/* Pick the winner of a set of offers (the rule above). n > 0. */
struct sync_offer sync_pick_winner(const struct sync_offer *o, uint32_t n);

#endif
