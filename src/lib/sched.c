/*
 * xenha scheduler (see include/xenha/sched.h for the contract).  Pure: the
 * state and the input in, a plan out.  No I/O, no clock, no globals.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenha/sched.h"

#define NO_GROUP UINT32_MAX
#define NO_HOST UINT32_MAX

/* ---- plan buffers ---- */

void sched_plan_init(struct sched_plan *p)
{
	memset(p, 0, sizeof(*p));
}

void sched_plan_free(struct sched_plan *p)
{
	if (p == NULL)
		return;
	free(p->actions);
	free(p->unplaced);
	memset(p, 0, sizeof(*p));
}

static int grow(void **buf, uint32_t *cap, uint32_t need, size_t elem)
{
	uint32_t ncap;
	void *nb;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 16;
	while (ncap < need)
		ncap *= 2;
	nb = realloc(*buf, (size_t)ncap * elem);
	if (nb == NULL)
		return -ENOMEM;
	*buf = nb;
	*cap = ncap;
	return 0;
}

static int plan_action(struct sched_plan *p, uint8_t type, uint32_t dom,
		       uint32_t nodeid, uint64_t generation)
{
	void *buf = p->actions;
	int rc = grow(&buf, &p->cap, p->n + 1, sizeof(*p->actions));

	p->actions = buf;
	if (rc < 0)
		return rc;
	p->actions[p->n++] = (struct sched_action){
		.type = type, .domain = dom, .nodeid = nodeid, .generation = generation,
	};
	return 0;
}

static int __attribute__((format(printf, 3, 4)))
plan_unplaced(struct sched_plan *p, uint32_t dom, const char *fmt, ...)
{
	void *buf = p->unplaced;
	int rc = grow(&buf, &p->cap_unplaced, p->n_unplaced + 1, sizeof(*p->unplaced));
	struct sched_unplaced *u;
	va_list ap;

	p->unplaced = buf;
	if (rc < 0)
		return rc;
	u = &p->unplaced[p->n_unplaced++];
	memset(u, 0, sizeof(*u));
	u->domain = dom;
	va_start(ap, fmt);
	vsnprintf(u->why, sizeof(u->why), fmt, ap);
	va_end(ap);
	return 0;
}

/* ---- free memory ---- */

static int64_t host_base_free(const struct xh_host *h)
{
	return (int64_t)h->mem_total_mb - (int64_t)h->mem_reserved_mb;
}

int64_t sched_host_free_mb(const struct xh_state *s, const struct xh_host *h)
{
	int64_t free_mb = host_base_free(h);
	uint32_t i;

	for (i = 0; i < s->n_domains; i++) {
		const struct xh_domain *d = &s->domains[i];

		if (xh_dom_uses_host(d, h->nodeid))
			free_mb -= (int64_t)d->memory_mb + h->dom_overhead_mb;
	}
	return free_mb;
}

/* ---- scheduler ---- */

/*
 * The rules, in plain words:
 *
 * 1. Without quorum the scheduler does nothing.
 * 2. A host can take domains when it is a member, not fenced or awaiting
 *    fencing, not in standby, not in maintenance, and not in the what-if
 *    fail list.  Its free memory is its total minus the dom0 reservation
 *    minus, for every domain it owns, the domain's memory plus the host's
 *    per-domain overhead, minus what this round already planned there.
 * 3. A domain needs a place when its target is started and it runs nowhere
 *    (stopped or failed), or when its owner is in the what-if fail list
 *    (treated as fenced).  A domain that failed (crashed, exited under
 *    restart policy always, or failed to start) is restarted on the host it
 *    failed on while that host can take it and restarts < max_restarts;
 *    after that it is relocated to another host, while relocations <
 *    max_relocations; after that it stays down until the operator starts
 *    it again.
 * 4. Domains are placed in order: priority (highest first), then memory
 *    (largest first), then name.  Each goes to its first preferred host
 *    that can take it, else to the host with the most free memory after
 *    placing it (lowest node id on ties).  Never to an avoided host, never
 *    where it does not fit, and never beside another domain of its
 *    anti-affinity group (counting running domains and this round's plans):
 *    if no host qualifies, it is reported unplaced with the reason.
 * 5. A domain whose target is stopped and which is starting or running on
 *    a member host is stopped.
 * 6. Drain (only when the caller handles migrations): a host in standby
 *    that is a member, not fenced and not in maintenance has its RUNNING
 *    domains (target started) live-migrated away, highest priority first,
 *    with at most max_concurrent migrations from it at a time (MIGRATING
 *    domains it owns count), each to the host rule 4 picks (never the
 *    source).  A domain with no such host stays and is reported.  Domains
 *    that are not running are restarted elsewhere by rules 3-4 as before
 *    (the standby host is not eligible).  Drains are planned after every
 *    restart: recovering a failed domain comes first.
 * 7. A migrating domain is never placed or stopped (it has an owner), and
 *    its memory and group count on its source and on its target.
 * 8. While disarmed (DISARM, until the time passes) nothing is planned.
 * 9. No action for a domain that is lost (its host left and is not yet
 *    confirmed fenced: it may still run there), for domains on a
 *    maintenance host, or for a failed domain whose last host is in
 *    maintenance (the operator is working there).  At most one action per
 *    domain, carrying the domain's current generation so that the state
 *    machine rejects it if anything changed meanwhile.
 *
 * Our implementation: one pass over the domains accounts memory and group
 * membership per host and collects the candidates; the candidates are
 * sorted (a total order, so the plan is deterministic); each candidate then
 * costs O(hosts).  Group names are interned to small integers so each host
 * holds its groups as a bitset: the anti-affinity test is one bit, not a
 * scan.  Host names resolve through a small hash of the host table.
 * Total O(D log D + D * H) for D domains and H hosts.
 */

enum cand_kind {
	CAND_ANY,      /* stopped (or owner failed in the what-if): any host */
	CAND_IN_PLACE, /* failed: restart on its last host if possible */
	CAND_RELOCATE, /* failed: anywhere but its last host */
};

struct cand {
	int32_t priority;
	uint32_t memory_mb;
	const char *name;
	uint32_t dom;
	uint32_t host;                /* last host index (IN_PLACE, RELOCATE) */
	uint8_t kind;
};

struct shost {
	bool eligible;
	bool failed;                  /* in the what-if fail list */
	int64_t free_mb;
};

#define NAME_SLOTS 128                /* > 2 * XH_MAX_HOSTS, power of two */

struct sctx {
	const struct xh_state *s;
	struct shost h[XH_MAX_HOSTS];
	uint8_t name_slot[NAME_SLOTS];   /* host index + 1, 0 = empty */
	uint32_t *gid;                   /* per domain: group id or NO_GROUP */
	uint32_t n_groups;
	size_t gwords;                   /* 64-bit words per host bitset */
	uint64_t *gbits;                 /* XH_MAX_HOSTS * gwords */
};

static uint32_t fnv1a(const char *p)
{
	uint32_t h = 2166136261u;

	for (; *p != '\0'; p++) {
		h ^= (uint8_t)*p;
		h *= 16777619u;
	}
	return h;
}

static void index_host_names(struct sctx *x)
{
	uint32_t i;

	memset(x->name_slot, 0, sizeof(x->name_slot));
	for (i = 0; i < x->s->n_hosts; i++) {
		uint32_t k = fnv1a(x->s->hosts[i].name) & (NAME_SLOTS - 1);

		while (x->name_slot[k] != 0)
			k = (k + 1) & (NAME_SLOTS - 1);
		x->name_slot[k] = (uint8_t)(i + 1);
	}
}

/* Host index by name, or NO_HOST. */
static uint32_t host_by_name(const struct sctx *x, const char *name)
{
	uint32_t k = fnv1a(name) & (NAME_SLOTS - 1), n;

	/* the table is at most half full, so an empty slot ends every probe */
	for (n = 0; n < NAME_SLOTS && x->name_slot[k] != 0; n++) {
		uint32_t i = x->name_slot[k] - 1u;

		if (strcmp(x->s->hosts[i].name, name) == 0)
			return i;
		k = (k + 1) & (NAME_SLOTS - 1);
	}
	return NO_HOST;
}

/* Host index of a node id, or NO_HOST. */
static uint32_t host_index(const struct xh_state *s, uint32_t nodeid)
{
	const struct xh_host *h = nodeid ? xh_state_host(s, nodeid) : NULL;

	return h != NULL ? (uint32_t)(h - s->hosts) : NO_HOST;
}

/* Give every distinct non-empty group name a small id (open addressing). */
static int intern_groups(struct sctx *x)
{
	const struct xh_state *s = x->s;
	uint32_t cap = 16, i, *slot;

	x->gid = malloc(((size_t)s->n_domains + 1) * sizeof(*x->gid));
	if (x->gid == NULL)
		return -ENOMEM;
	while (cap < 2 * s->n_domains)
		cap *= 2;
	/* slot holds the index + 1 of the first domain seen with that group */
	slot = calloc(cap, sizeof(*slot));
	if (slot == NULL)
		return -ENOMEM;
	x->n_groups = 0;
	for (i = 0; i < s->n_domains; i++) {
		const char *g = s->domains[i].group;
		uint32_t k;

		x->gid[i] = NO_GROUP;
		if (g[0] == '\0')
			continue;
		k = fnv1a(g) & (cap - 1);
		while (slot[k] != 0) {
			uint32_t j = slot[k] - 1;

			if (strcmp(s->domains[j].group, g) == 0) {
				x->gid[i] = x->gid[j];
				break;
			}
			k = (k + 1) & (cap - 1);
		}
		if (x->gid[i] == NO_GROUP) {
			slot[k] = i + 1;
			x->gid[i] = x->n_groups++;
		}
	}
	free(slot);
	x->gwords = (x->n_groups + 63) / 64;
	if (x->gwords == 0)
		x->gwords = 1;
	x->gbits = calloc((size_t)XH_MAX_HOSTS * x->gwords, sizeof(*x->gbits));
	return x->gbits != NULL ? 0 : -ENOMEM;
}

static bool group_on(const struct sctx *x, uint32_t host, uint32_t g)
{
	return g != NO_GROUP &&
	       (x->gbits[host * x->gwords + g / 64] >> (g % 64)) & 1u;
}

static void group_add(struct sctx *x, uint32_t host, uint32_t g)
{
	if (g != NO_GROUP)
		x->gbits[host * x->gwords + g / 64] |= UINT64_C(1) << (g % 64);
}

/* Memory a domain takes on a host, overhead included. */
static int64_t need_mb(const struct sctx *x, uint32_t host, const struct xh_domain *d)
{
	return (int64_t)d->memory_mb + x->s->hosts[host].dom_overhead_mb;
}

static int cand_cmp(const void *pa, const void *pb)
{
	const struct cand *a = pa, *b = pb;

	if (a->priority != b->priority)
		return a->priority > b->priority ? -1 : 1;
	if (a->memory_mb != b->memory_mb)
		return a->memory_mb > b->memory_mb ? -1 : 1;
	return strcmp(a->name, b->name);
}

/* Why the last pick failed, for the operator. */
struct pick_diag {
	uint32_t hosts;               /* eligible, not avoided, not excluded */
	uint32_t mem_ok;              /* ... and with room */
};

static bool host_ok(const struct sctx *x, uint32_t hi, const struct xh_domain *d,
		    uint32_t g, uint64_t avoid, uint32_t exclude, struct pick_diag *dg)
{
	if (!x->h[hi].eligible || hi == exclude || (avoid >> hi) & 1u)
		return false;
	if (dg != NULL)
		dg->hosts++;
	if (x->h[hi].free_mb - need_mb(x, hi, d) < 0)
		return false;
	if (dg != NULL)
		dg->mem_ok++;
	return !group_on(x, hi, g);
}

/* Choose a host for d (rule 4), or NO_HOST with *dg filled. */
static uint64_t avoid_mask(const struct sctx *x, const struct xh_domain *d)
{
	uint64_t avoid = 0;
	uint32_t i;

	for (i = 0; i < d->n_avoided; i++) {
		uint32_t hi = host_by_name(x, d->avoided[i]);

		if (hi != NO_HOST)
			avoid |= UINT64_C(1) << hi;
	}
	return avoid;
}

static uint32_t pick_host(const struct sctx *x, uint32_t dom, uint64_t avoid,
			  uint32_t exclude, struct pick_diag *dg)
{
	const struct xh_domain *d = &x->s->domains[dom];
	uint32_t g = x->gid[dom], i, best = NO_HOST;
	int64_t best_left = 0;

	for (i = 0; i < d->n_preferred; i++) {
		uint32_t hi = host_by_name(x, d->preferred[i]);

		if (hi != NO_HOST && host_ok(x, hi, d, g, avoid, exclude, NULL))
			return hi;
	}
	memset(dg, 0, sizeof(*dg));
	for (i = 0; i < x->s->n_hosts; i++) {
		int64_t left;

		if (!host_ok(x, i, d, g, avoid, exclude, dg))
			continue;
		left = x->h[i].free_mb - need_mb(x, i, d);
		/* hosts are sorted by node id: strict > keeps the lowest on ties */
		if (best == NO_HOST || left > best_left) {
			best = i;
			best_left = left;
		}
	}
	return best;
}

static int place(struct sctx *x, struct sched_plan *out, uint32_t dom, uint32_t hi)
{
	const struct xh_domain *d = &x->s->domains[dom];

	x->h[hi].free_mb -= need_mb(x, hi, d);
	group_add(x, hi, x->gid[dom]);
	return plan_action(out, SCHED_PLACE, dom, x->s->hosts[hi].nodeid,
			   d->generation);
}

static int limits_reached(struct sched_plan *out, uint32_t dom, const struct xh_domain *d)
{
	return plan_unplaced(out, dom, "restart and relocation limits reached "
			     "(hactl domain start %s to retry)", d->name);
}

static int schedule_one(struct sctx *x, struct sched_plan *out, const struct cand *c)
{
	const struct xh_domain *d = &x->s->domains[c->dom];
	uint64_t avoid = avoid_mask(x, d);
	struct pick_diag dg;
	uint32_t hi, exclude = NO_HOST;

	if (c->kind == CAND_IN_PLACE) {
		if (host_ok(x, c->host, d, x->gid[c->dom], avoid, NO_HOST, NULL))
			return place(x, out, c->dom, c->host);
		/* no room left there this round: placing it elsewhere is a
		 * relocation, with the relocation limit */
		if (d->relocations >= d->max_relocations)
			return limits_reached(out, c->dom, d);
	}
	if (c->kind != CAND_ANY)
		exclude = c->host;
	hi = pick_host(x, c->dom, avoid, exclude, &dg);
	if (hi != NO_HOST)
		return place(x, out, c->dom, hi);
	if (dg.hosts == 0)
		return plan_unplaced(out, c->dom, "no eligible host (member, not fenced, "
				     "standby or maintenance, not avoided)");
	if (dg.mem_ok == 0)
		return plan_unplaced(out, c->dom, "no eligible host with %" PRIu32
				     " MiB free (plus overhead)", d->memory_mb);
	return plan_unplaced(out, c->dom, "anti-affinity group %s: every eligible "
			     "host with room already has a member", d->group);
}

/* Rules 3, 5 and 6 for one domain: a STOP action, a candidate, or nothing. */
static int classify(struct sctx *x, struct sched_plan *out, uint32_t dom,
		    struct cand *cands, uint32_t *n_cands)
{
	const struct xh_state *s = x->s;
	const struct xh_domain *d = &s->domains[dom];
	uint32_t oi = host_index(s, d->owner), li;
	bool owner_failed = oi != NO_HOST && x->h[oi].failed;
	struct cand c = {
		.priority = d->priority, .memory_mb = d->memory_mb, .name = d->name,
		.dom = dom, .host = NO_HOST, .kind = CAND_ANY,
	};

	if (d->owner != 0 && !owner_failed) {
		const struct xh_host *o;

		if (oi == NO_HOST)
			return 0; /* cannot happen: xh_state_check forbids it */
		o = &s->hosts[oi];
		if (d->target == XH_TARGET_STOPPED && o->member && !o->maintenance &&
		    (d->state == XH_DS_STARTING || d->state == XH_DS_RUNNING))
			return plan_action(out, SCHED_STOP, dom, o->nodeid,
					   d->generation);
		return 0; /* includes LOST: never any action */
	}
	if (d->target != XH_TARGET_STARTED)
		return 0;
	if (d->state == XH_DS_FAILED && !owner_failed) {
		li = host_index(s, d->last_owner);
		if (li != NO_HOST && s->hosts[li].maintenance && !x->h[li].failed)
			return 0;
		c.host = li;
		if (li != NO_HOST && x->h[li].eligible && d->restarts < d->max_restarts) {
			c.kind = CAND_IN_PLACE;
		} else {
			if (d->relocations >= d->max_relocations)
				return limits_reached(out, dom, d);
			c.kind = CAND_RELOCATE;
		}
	}
	cands[(*n_cands)++] = c;
	return 0;
}

/* Rule 8. */
static bool disarmed(const struct xh_state *s, const struct sched_input *in)
{
	uint64_t wall = in != NULL ? in->wall_ms : 0;

	return s->disarmed_until_ms != 0 && (wall == 0 || wall < s->disarmed_until_ms);
}

/* Can host hi be drained now (rule 6)? */
static bool draining(const struct sctx *x, uint32_t hi)
{
	const struct xh_host *h = &x->s->hosts[hi];

	return h->standby && h->member && h->fence == XH_FENCE_NONE &&
	       !h->maintenance && !x->h[hi].failed;
}

/* Rule 6; cands is scratch space for s->n_domains entries. */
static int drain(struct sctx *x, const struct sched_input *in, struct sched_plan *out,
		 struct cand *cands)
{
	const struct xh_state *s = x->s;
	uint32_t inflight[XH_MAX_HOSTS] = { 0 };
	uint32_t maxc = in->max_concurrent ? in->max_concurrent : 2;
	uint32_t i, n = 0;
	bool any = false;
	int rc;

	for (i = 0; i < s->n_hosts; i++)
		any = any || draining(x, i);
	if (!any)
		return 0;
	for (i = 0; i < s->n_domains; i++) {
		const struct xh_domain *d = &s->domains[i];
		uint32_t oi = host_index(s, d->owner);

		if (oi == NO_HOST || !draining(x, oi))
			continue;
		if (d->state == XH_DS_MIGRATING) {
			inflight[oi]++;
			continue;
		}
		if (d->state != XH_DS_RUNNING || d->target != XH_TARGET_STARTED)
			continue;
		cands[n++] = (struct cand){
			.priority = d->priority, .memory_mb = d->memory_mb, .name = d->name,
			.dom = i, .host = oi, .kind = CAND_RELOCATE,
		};
	}
	qsort(cands, n, sizeof(*cands), cand_cmp);
	for (i = 0; i < n; i++) {
		const struct cand *c = &cands[i];
		const struct xh_domain *d = &s->domains[c->dom];
		struct pick_diag dg;
		uint32_t hi;

		if (inflight[c->host] >= maxc)
			continue; /* waits for a slot */
		hi = pick_host(x, c->dom, avoid_mask(x, d), c->host, &dg);
		if (hi == NO_HOST) {
			rc = plan_unplaced(out, c->dom, "drain: no target: %s",
					   dg.hosts == 0 ? "no eligible host" :
					   dg.mem_ok == 0 ? "no eligible host with room" :
					   "anti-affinity group on every host with room");
			if (rc < 0)
				return rc;
			continue;
		}
		x->h[hi].free_mb -= need_mb(x, hi, d);
		group_add(x, hi, x->gid[c->dom]);
		rc = plan_action(out, SCHED_MIGRATE, c->dom, s->hosts[hi].nodeid,
				 d->generation);
		if (rc < 0)
			return rc;
		out->actions[out->n - 1].source = d->owner;
		inflight[c->host]++;
	}
	return 0;
}

static void sctx_free(struct sctx *x)
{
	free(x->gid);
	free(x->gbits);
}

int sched_compute(const struct xh_state *s, const struct sched_input *in,
		  struct sched_plan *out)
{
	struct sctx x;
	struct cand *cands = NULL;
	uint32_t i, n_cands = 0, n_fail;
	int rc;

	out->n = 0;
	out->n_unplaced = 0;
	if (!s->quorate || disarmed(s, in))
		return 0;

	memset(&x, 0, sizeof(x));
	x.s = s;
	n_fail = in != NULL ? in->n_fail : 0;
	if (n_fail > XH_MAX_HOSTS)
		n_fail = XH_MAX_HOSTS;
	for (i = 0; i < s->n_hosts; i++) {
		const struct xh_host *h = &s->hosts[i];
		uint32_t f;

		for (f = 0; f < n_fail; f++)
			if (in->fail[f] == h->nodeid)
				x.h[i].failed = true;
		x.h[i].eligible = h->member && h->fence == XH_FENCE_NONE &&
				  !h->standby && !h->maintenance && !x.h[i].failed;
		x.h[i].free_mb = host_base_free(h);
	}
	index_host_names(&x);
	rc = intern_groups(&x);
	if (rc < 0)
		goto out;

	/* what runs where: memory and groups per host (a migrating domain
	 * on both its hosts, rule 7) */
	for (i = 0; i < s->n_domains; i++) {
		const struct xh_domain *d = &s->domains[i];
		uint32_t oi = host_index(s, d->owner);
		uint32_t mi = d->mig_target != d->owner ? host_index(s, d->mig_target) : NO_HOST;

		if (oi != NO_HOST && !x.h[oi].failed) {
			x.h[oi].free_mb -= need_mb(&x, oi, d);
			group_add(&x, oi, x.gid[i]);
		}
		if (mi != NO_HOST && !x.h[mi].failed) {
			x.h[mi].free_mb -= need_mb(&x, mi, d);
			group_add(&x, mi, x.gid[i]);
		}
	}

	cands = malloc(((size_t)s->n_domains + 1) * sizeof(*cands));
	if (cands == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < s->n_domains; i++) {
		rc = classify(&x, out, i, cands, &n_cands);
		if (rc < 0)
			goto out;
	}
	qsort(cands, n_cands, sizeof(*cands), cand_cmp);
	for (i = 0; i < n_cands; i++) {
		rc = schedule_one(&x, out, &cands[i]);
		if (rc < 0)
			goto out;
	}
	if (in != NULL && in->migrate) {
		rc = drain(&x, in, out, cands);
		if (rc < 0)
			goto out;
	}
	rc = 0;
out:
	free(cands);
	sctx_free(&x);
	if (rc < 0) {
		out->n = 0;
		out->n_unplaced = 0;
	}
	return rc;
}

int sched_pick_migration_target(const struct xh_state *s, const char *name,
				uint32_t *nodeid)
{
	const struct xh_domain *d = xh_state_domain(s, name);
	struct sctx x;
	struct pick_diag dg;
	uint32_t i, dom, oi, hi;
	int rc;

	if (d == NULL)
		return -ENOENT;
	if (d->state != XH_DS_RUNNING)
		return -EINVAL;
	dom = (uint32_t)(d - s->domains);
	oi = host_index(s, d->owner);
	memset(&x, 0, sizeof(x));
	x.s = s;
	for (i = 0; i < s->n_hosts; i++) {
		const struct xh_host *h = &s->hosts[i];

		x.h[i].eligible = h->member && h->fence == XH_FENCE_NONE &&
				  !h->standby && !h->maintenance;
		x.h[i].free_mb = host_base_free(h);
	}
	index_host_names(&x);
	rc = intern_groups(&x);
	if (rc < 0)
		goto out;
	for (i = 0; i < s->n_domains; i++) {
		const struct xh_domain *o = &s->domains[i];
		uint32_t a = host_index(s, o->owner);
		uint32_t b = o->mig_target != o->owner ? host_index(s, o->mig_target) : NO_HOST;

		/* the domain itself counts on its owner only, which is excluded */
		if (a != NO_HOST) {
			x.h[a].free_mb -= need_mb(&x, a, o);
			group_add(&x, a, x.gid[i]);
		}
		if (b != NO_HOST) {
			x.h[b].free_mb -= need_mb(&x, b, o);
			group_add(&x, b, x.gid[i]);
		}
	}
	hi = pick_host(&x, dom, avoid_mask(&x, d), oi, &dg);
	if (hi == NO_HOST) {
		rc = -ENOSPC;
		goto out;
	}
	*nodeid = s->hosts[hi].nodeid;
	rc = 0;
out:
	sctx_free(&x);
	return rc;
}

uint32_t sched_mig_retry_ms(uint32_t tries)
{
	uint32_t ms = SCHED_MIG_RETRY_MS;

	for (uint32_t i = 1; i < tries && ms < SCHED_MIG_RETRY_MAX_MS; i++)
		ms *= 2;
	return ms < SCHED_MIG_RETRY_MAX_MS ? ms : SCHED_MIG_RETRY_MAX_MS;
}
