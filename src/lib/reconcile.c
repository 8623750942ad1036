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
}

static const struct rec_local *find_local(const struct rec_input *in, const char *name)
{
	for (uint32_t i = 0; i < in->n_local; i++)
		if (strcmp(in->local[i].name, name) == 0)
			return &in->local[i];
	return NULL;
}

int rec_compute(const struct xh_state *s, const struct rec_input *in,
		struct rec_action *out, uint32_t cap, uint32_t *n)
{
	struct out o = { .a = out, .cap = cap, .n = 0, .rc = 0 };
	const struct xh_host *me = xh_state_host(s, in->me);
	bool maint = me && me->maintenance;
	bool may_start = s->quorate && in->quorate && me && me->member &&
			 me->fence == XH_FENCE_NONE && !maint;

	*n = 0;
	if (!in->synced)
		return 0;

	/* what runs here */
	for (uint32_t i = 0; i < in->n_local; i++) {
		const struct rec_local *l = &in->local[i];
		const struct xh_domain *d;

		if (!l->running)
			continue;
		d = xh_state_domain(s, l->name);
		if (!d) {
			emit(&o, REC_UNKNOWN, l->name, l->generation,
			     "runs here but is not defined in the cluster");
			continue;
		}
		if (d->owner == in->me)
			continue;
		if (!maint)
			emit(&o, REC_DESTROY, l->name, l->generation,
			     d->owner ? "runs here but the cluster placed it on another host"
				      : "runs here but the cluster has it stopped");
	}

	/* what this host owns */
	for (uint32_t i = 0; i < s->n_domains; i++) {
		const struct xh_domain *d = &s->domains[i];
		const struct rec_local *l;
		bool here;

		if (d->owner != in->me)
			continue;
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
			if (here)
				emit(&o, REC_REPORT_STARTED, d->name, d->generation,
				     "still running here after rejoin");
			else if (me && me->member)
				emit(&o, REC_REPORT_EXITED, d->name, d->generation,
				     "not running here after rejoin");
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
