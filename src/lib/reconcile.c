/*
 * Local executor decisions; the rules are stated in
 * include/xenha/reconcile.h.  Our implementation walks the local list once
 * (binary search into the state's sorted domain array) and the state's
 * domains once; for each domain this host owns it scans the local list,
 * which is short (one host runs tens to a few hundred domains).
 */
#include <errno.h>
#include <string.h>

#include "xenha/reconcile.h"

static const char *const rec_names[] = {
	[REC_START] = "start",
	[REC_SHUTDOWN] = "shutdown",
	[REC_DESTROY] = "destroy",
	[REC_REPORT_STARTED] = "report-started",
	[REC_REPORT_EXITED] = "report-exited",
	[REC_REPORT_STOPPED] = "report-stopped",
	[REC_UNKNOWN] = "unknown",
	[REC_MIGRATE_SEND] = "migrate-send",
	[REC_MIGRATE_RECV] = "migrate-recv",
	[REC_RESUME] = "resume",
	[REC_REPORT_MIG_DONE] = "report-migrate-done",
	[REC_REPORT_MIG_ABORTED] = "report-migrate-aborted",
};

const char *rec_action_str(uint8_t t)
{
	if (t < sizeof(rec_names) / sizeof(rec_names[0]) && rec_names[t])
		return rec_names[t];
	return "?";
}

struct out {
	struct rec_action *a;
	uint32_t cap, n;
	int rc;
};

static void emit(struct out *o, uint8_t type, const char *name, uint64_t gen,
		 const char *why)
{
	struct rec_action *a;

	if (o->n >= o->cap) {
		o->rc = -ENOSPC;
		return;
	}
	a = &o->a[o->n++];
	a->type = type;
	strncpy(a->name, name, sizeof(a->name) - 1);
	a->name[sizeof(a->name) - 1] = '\0';
	a->generation = gen;
	a->why = why;
	a->mig_id = 0;
	a->peer = 0;
	a->downtime_ms = 0;
}

static void emit_mig(struct out *o, uint8_t type, const struct xh_domain *d,
		     uint64_t gen, uint32_t peer, uint32_t downtime_ms, const char *why)
{
	uint32_t before = o->n;

	emit(o, type, d->name, gen, why);
	if (o->n == before)
		return;
	o->a[o->n - 1].mig_id = d->mig_id;
	o->a[o->n - 1].peer = peer;
	o->a[o->n - 1].downtime_ms = downtime_ms;
}

/* Migration facts of one rec_compute_mig call. */
struct mctx {
	const struct rec_mig *mig;
	uint32_t n_mig;
	bool maint;                   /* this host is in maintenance */
	bool member;                  /* this host is a member */
};

static const struct rec_local *find_local(const struct rec_input *in, const char *name)
{
	for (uint32_t i = 0; i < in->n_local; i++)
		if (strcmp(in->local[i].name, name) == 0)
			return &in->local[i];
	return NULL;
}

/* This host's migration of name in role, for mig_id (0: any id). */
static const struct rec_mig *find_mig(const struct mctx *m, const char *name,
				      uint64_t mig_id, uint8_t role)
{
	for (uint32_t i = 0; i < m->n_mig; i++) {
		const struct rec_mig *e = &m->mig[i];

		if (e->role == role && (mig_id == 0 || e->mig_id == mig_id) &&
		    strcmp(e->name, name) == 0)
			return e;
	}
	return NULL;
}

static bool in_progress(const struct rec_mig *e)
{
	return e != NULL && e->outcome == REC_MIG_IN_PROGRESS;
}

/* The migration target is confirmed fenced (or unknown): it runs nothing. */
static bool target_fenced(const struct xh_state *s, const struct xh_domain *d)
{
	const struct xh_host *h = xh_state_host(s, d->mig_target);

	return h == NULL || h->fence == XH_FENCE_CONFIRMED;
}

/* Source side of a MIGRATING domain this host owns (rules in reconcile.h). */
static void source_rules(struct out *o, const struct xh_state *s, const struct mctx *m,
			 const struct xh_domain *d, const struct rec_local *l)
{
	const struct rec_mig *e = find_mig(m, d->name, d->mig_id, REC_MIG_SOURCE);
	bool running = l != NULL && l->running, paused = l != NULL && !l->running;

	if (in_progress(e))
		return;
	if (e != NULL && e->outcome == REC_MIG_ABORTED) {
		emit_mig(o, REC_REPORT_MIG_ABORTED, d, d->generation, d->mig_target, 0,
			 "migration aborted; the domain runs on its source again");
		return;
	}
	if (target_fenced(s, d)) {
		/* the target is dead: whatever it received runs nowhere */
		if (paused) {
			if (m->maint)
				return;
			emit_mig(o, REC_RESUME, d, d->generation, d->mig_target, 0,
				 "migration in doubt and its target is fenced");
		}
		emit_mig(o, REC_REPORT_MIG_ABORTED, d, d->generation, d->mig_target, 0,
			 "target fenced");
		return;
	}
	if (e == NULL && running && !m->maint && m->member)
		emit_mig(o, REC_MIGRATE_SEND, d, d->generation, d->mig_target, 0,
			 "migration begun");
	/* else: in doubt, done, paused or gone, and the target may run it:
	 * its MIGRATE_DONE or its fencing decides */
}

/* Target side: the state names this host as mig_target, another owns it. */
static void target_rules(struct out *o, const struct mctx *m, const struct xh_domain *d,
			 const struct rec_local *l, bool may_start)
{
	const struct rec_mig *e = find_mig(m, d->name, d->mig_id, REC_MIG_TARGET);
	bool here = l != NULL && l->running && l->generation == d->generation + 1;

	if (here || (e != NULL && e->outcome == REC_MIG_DONE)) {
		emit_mig(o, REC_REPORT_MIG_DONE, d, d->generation + 1, d->owner,
			 e != NULL ? e->downtime_ms : 0, "migration received; runs here");
		return;
	}
	if (d->state == XH_DS_MIGRATING && e == NULL && may_start)
		emit_mig(o, REC_MIGRATE_RECV, d, d->generation + 1, d->owner, 0,
			 "migration to this host begun");
}

/* LOST, owned by this host, with migration fields (rules in reconcile.h). */
static void lost_mig_rules(struct out *o, const struct xh_state *s, const struct mctx *m,
			   const struct xh_domain *d, const struct rec_local *l, bool member)
{
	bool here = l != NULL && l->running, paused = l != NULL && !l->running;

	if (d->mig_target == d->owner) {
		/* the target, after the source's fencing, at generation G+1 */
		if (here) {
			emit(o, REC_REPORT_STARTED, d->name, d->generation,
			     "received by migration; its source was fenced");
			return;
		}
		if (in_progress(find_mig(m, d->name, d->mig_id, REC_MIG_TARGET)))
			return; /* the stream may still complete: never report it gone */
		if (member)
			emit(o, REC_REPORT_EXITED, d->name, d->generation,
			     "migration target does not run it; its source was fenced");
		return;
	}
	/* the source, back in the membership before its fencing */
	if (here) {
		emit(o, REC_REPORT_STARTED, d->name, d->generation,
		     "still running here after rejoin");
		return;
	}
	if (in_progress(find_mig(m, d->name, d->mig_id, REC_MIG_SOURCE)) ||
	    !target_fenced(s, d) || !member)
		return; /* the target may run it */
	if (paused) {
		if (m->maint)
			return;
		emit(o, REC_RESUME, d->name, d->generation,
		     "migration in doubt and its target is fenced");
		emit(o, REC_REPORT_STARTED, d->name, d->generation,
		     "resumed after an in-doubt migration");
		return;
	}
	emit(o, REC_REPORT_EXITED, d->name, d->generation, "not running here after rejoin");
}

int rec_compute(const struct xh_state *s, const struct rec_input *in,
		struct rec_action *out, uint32_t cap, uint32_t *n)
{
	return rec_compute_mig(s, in, NULL, 0, out, cap, n);
}

int rec_compute_mig(const struct xh_state *s, const struct rec_input *in,
		    const struct rec_mig *mig, uint32_t n_mig,
		    struct rec_action *out, uint32_t cap, uint32_t *n)
{
	struct out o = { .a = out, .cap = cap, .n = 0, .rc = 0 };
	const struct xh_host *me = xh_state_host(s, in->me);
	bool maint = me && me->maintenance;
	bool may_start = s->quorate && in->quorate && me && me->member &&
			 me->fence == XH_FENCE_NONE && !maint;
	struct mctx m = {
		.mig = mig, .n_mig = mig != NULL ? n_mig : 0, .maint = maint,
		.member = me && me->member,
	};

	*n = 0;
	if (!in->synced)
		return 0;

	/* what runs here */
	for (uint32_t i = 0; i < in->n_local; i++) {
		const struct rec_local *l = &in->local[i];
		const struct rec_mig *e;
		const struct xh_domain *d;

		d = xh_state_domain(s, l->name);
		if (!l->running) {
			/* a paused copy left by an in-doubt switch-over, of a
			 * domain the cluster gives to another host (or to none):
			 * it must never be resumed */
			e = find_mig(&m, l->name, 0, REC_MIG_SOURCE);
			if (d && d->owner != in->me && e && e->outcome == REC_MIG_IN_DOUBT &&
			    !maint)
				emit(&o, REC_DESTROY, l->name, l->generation,
				     "paused in-doubt copy; the cluster gives the domain "
				     "to another host");
			continue;
		}
		if (!d) {
			emit(&o, REC_UNKNOWN, l->name, l->generation,
			     "runs here but is not defined in the cluster");
			continue;
		}
		if (d->owner == in->me)
			continue;
		/* received by migration, not yet reported: target_rules */
		if (d->mig_target == in->me && l->generation == d->generation + 1 &&
		    (d->state == XH_DS_MIGRATING || d->state == XH_DS_LOST))
			continue;
		if (!maint)
			emit(&o, REC_DESTROY, l->name, l->generation,
			     d->owner ? "runs here but the cluster placed it on another host"
				      : "runs here but the cluster has it stopped");
	}

	/* what this host owns, or receives by migration */
	for (uint32_t i = 0; i < s->n_domains; i++) {
		const struct xh_domain *d = &s->domains[i];
		const struct rec_local *l;
		bool here;

		if (d->owner != in->me) {
			if (d->mig_target == in->me &&
			    (d->state == XH_DS_MIGRATING || d->state == XH_DS_LOST))
				target_rules(&o, &m, d, find_local(in, d->name), may_start);
			continue;
		}
		l = find_local(in, d->name);
		here = l && l->running;
		switch (d->state) {
		case XH_DS_STARTING:
			if (here)
				emit(&o, REC_REPORT_STARTED, d->name, d->generation,
				     "running here");
			else if (may_start)
				emit(&o, REC_START, d->name, d->generation,
				     "placed here");
			break;
		case XH_DS_LOST:
			if (d->mig_target != 0)
				lost_mig_rules(&o, s, &m, d, l, me && me->member);
			else if (here)
				emit(&o, REC_REPORT_STARTED, d->name, d->generation,
				     "still running here after rejoin");
			else if (me && me->member)
				emit(&o, REC_REPORT_EXITED, d->name, d->generation,
				     "not running here after rejoin");
			break;
		case XH_DS_MIGRATING:
			source_rules(&o, s, &m, d, l);
			break;
		case XH_DS_RUNNING:
			if (!here)
				emit(&o, REC_REPORT_EXITED, d->name, d->generation,
				     "not running here");
			break;
		case XH_DS_STOPPING:
			if (here) {
				if (!maint)
					emit(&o, REC_SHUTDOWN, d->name, d->generation,
					     "stop requested");
			} else {
				emit(&o, REC_REPORT_STOPPED, d->name, d->generation,
				     "no longer running");
			}
			break;
		default:
			break;
		}
	}
	*n = o.n;
	return o.rc;
}
