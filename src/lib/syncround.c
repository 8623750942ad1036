/*
 * Sync round bookkeeping; the rule is stated in include/xenha/syncround.h.
 * Our implementation keeps the round in a fixed-size struct (at most
 * XH_MAX_HOSTS members) and decides as soon as the last member's offer is
 * recorded, so every node decides at the same delivered message.
 */
#include <errno.h>
#include <string.h>

#include "xenha/syncround.h"

void sync_sort(uint32_t *ids, uint32_t n)
{
	/* insertion sort: n <= XH_MAX_HOSTS */
	for (uint32_t i = 1; i < n; i++) {
		uint32_t v = ids[i], j = i;
		while (j > 0 && ids[j - 1] > v) {
			ids[j] = ids[j - 1];
			j--;
		}
		ids[j] = v;
	}
}

bool sync_members_equal(const uint32_t *a, uint32_t na, const uint32_t *b, uint32_t nb)
{
	return na == nb && (na == 0 || memcmp(a, b, na * sizeof(*a)) == 0);
}

void sync_round_start(struct sync_round *r, const uint32_t *members, uint32_t n)
{
	memset(r, 0, sizeof(*r));
	if (n > XH_MAX_HOSTS)
		n = XH_MAX_HOSTS;
	memcpy(r->members, members, n * sizeof(*members));
	r->n_members = n;
	sync_sort(r->members, n);
	r->open = true;
}

static bool better(const struct sync_offer *a, const struct sync_offer *b)
{
	if (a->qseq != b->qseq)
		return a->qseq > b->qseq;
	if (a->seq != b->seq)
		return a->seq > b->seq;
	return a->nodeid < b->nodeid;
}

struct sync_offer sync_pick_winner(const struct sync_offer *o, uint32_t n)
{
	struct sync_offer w = o[0];

	for (uint32_t i = 1; i < n; i++)
		if (better(&o[i], &w))
			w = o[i];
	return w;
}

int sync_round_offer(struct sync_round *r, const struct sync_offer *o,
		     const uint32_t *members, uint32_t n)
{
	uint32_t sorted[XH_MAX_HOSTS];
	bool member = false;

	if (!r->open || r->decided || n > XH_MAX_HOSTS)
		return -ESTALE;
	memcpy(sorted, members, n * sizeof(*members));
	sync_sort(sorted, n);
	if (!sync_members_equal(sorted, n, r->members, r->n_members))
		return -ESTALE;
	for (uint32_t i = 0; i < r->n_members; i++)
		if (r->members[i] == o->nodeid)
			member = true;
	if (!member)
		return -EINVAL;
	for (uint32_t i = 0; i < r->n_offers; i++)
		if (r->offers[i].nodeid == o->nodeid)
			return -EEXIST;
	r->offers[r->n_offers++] = *o;
	if (r->n_offers < r->n_members)
		return 0;
	r->winner = sync_pick_winner(r->offers, r->n_offers);
	r->decided = true;
	return 1;
}
