/*
 * Local executor, domain monitor and coordinator loop.
 *
 * After every batch of applied commands (and once a second) the daemon
 * asks src/lib/reconcile.c what this host must do and src/lib/sched.c
 * (coordinator only) what the cluster must do, and carries it out:
 * hypervisor calls for the local actions, commands for everything the
 * cluster must agree on.  Nothing here decides.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <qb/qblog.h>

#include "xenha/reconcile.h"
#include "xenha/sched.h"
#include "xenhad.h"

#define XD_MARK_MS 3000  /* resend a report or proposal after this long */

struct xd_mark {
	char *key;
	uint8_t kind;
	uint64_t gen;
	uint8_t state;
	uint64_t at_ms;
	uint32_t tries;   /* identical marks set in a row */
};

static qb_map_t *marks_new(void)
{
	return qb_hashtable_create(1024);
}

static void marks_free(qb_map_t *m)
{
	qb_map_iter_t *it;
	void *v;

	if (!m)
		return;
	it = qb_map_iter_create(m);
	while (qb_map_iter_next(it, &v)) {
		struct xd_mark *k = v;

		free(k->key);
		free(k);
	}
	qb_map_iter_free(it);
	qb_map_destroy(m);
}

/* true if an identical mark was set less than XD_MARK_MS ago */
static bool mark_fresh(qb_map_t *m, const char *name, uint8_t kind, uint64_t gen,
		       uint8_t state, uint64_t now)
{
	struct xd_mark *k = qb_map_get(m, name);

	return k && k->kind == kind && k->gen == gen && k->state == state &&
	       now - k->at_ms < XD_MARK_MS;
}

/*
 * A proposal is made again once XD_MARK_MS passed, except a drain's
 * migration at the same generation (its last attempt aborted): after a
 * back-off that doubles with each try (sched_mig_retry_ms).
 */
static bool proposal_fresh(qb_map_t *m, const char *name, uint8_t type, uint64_t gen,
			   uint8_t state, uint64_t now)
{
	struct xd_mark *k = qb_map_get(m, name);

	if (!k || k->kind != type || k->gen != gen || k->state != state)
		return false;
	return now - k->at_ms < (type == SCHED_MIGRATE ? sched_mig_retry_ms(k->tries) : XD_MARK_MS);
}

static void mark_set(qb_map_t *m, const char *name, uint8_t kind, uint64_t gen,
		     uint8_t state, uint64_t now)
{
	struct xd_mark *k = qb_map_get(m, name);

	if (!k) {
		k = calloc(1, sizeof(*k));
		if (!k)
			return;
		k->key = strdup(name);
		if (!k->key) {
			free(k);
			return;
		}
		qb_map_put(m, k->key, k);
	}
	k->tries = k->tries > 0 && k->kind == kind && k->gen == gen && k->state == state ?
		   k->tries + 1 : 1;
	k->kind = kind;
	k->gen = gen;
	k->state = state;
	k->at_ms = now;
}

void xd_exec_forget(struct xd *d)
{
	marks_free(d->reported);
	marks_free(d->proposed);
	d->reported = marks_new();
	d->proposed = marks_new();
}

static void send_report(struct xd *d, uint8_t type, const char *name, uint64_t gen,
			uint8_t crashed, const char *reason)
{
	struct xh_cmd c;

	memset(&c, 0, sizeof(c));
	c.type = type;
	snprintf(c.u.place.name, sizeof(c.u.place.name), "%s", name);
	c.u.place.nodeid = d->nodeid;
	c.u.place.generation = gen;
	c.u.place.crashed = crashed;
	snprintf(c.u.place.reason, sizeof(c.u.place.reason), "%s", reason ? reason : "");
	xd_send_cmd(d, &c, 0);
}

static void send_mig_report(struct xd *d, const struct rec_action *a)
{
	struct xh_cmd c;

	memset(&c, 0, sizeof(c));
	c.type = a->type == REC_REPORT_MIG_DONE ? XH_CMD_MIGRATE_DONE : XH_CMD_MIGRATE_ABORTED;
	snprintf(c.u.mig.name, sizeof(c.u.mig.name), "%s", a->name);
	c.u.mig.mig_id = a->mig_id;
	if (c.type == XH_CMD_MIGRATE_DONE) {
		c.u.mig.target = d->nodeid;
		c.u.mig.downtime_ms = a->downtime_ms;
	} else {
		const char *ours = xd_mig_why(d, a->name, a->mig_id, REC_MIG_SOURCE);

		c.u.mig.source = d->nodeid;
		/* what our own send found beats the generic rule text */
		snprintf(c.u.mig.reason, sizeof(c.u.mig.reason), "%s",
			 ours ? ours : a->why ? a->why : "");
	}
	qb_log(LOG_INFO, "domain %s: reporting %s mig_id=%llu (%s)", a->name,
	       xh_cmd_type_str(c.type), (unsigned long long)a->mig_id, a->why ? a->why : "");
	xd_send_cmd(d, &c, 0);
}

/* ---- domain monitor ---- */

static void hv_end(void *arg, const char *name, uint64_t generation, int reason,
		   const char *detail)
{
	struct xd *d = arg;
	const struct xh_domain *dom = xh_state_domain(&d->st, name);
	uint64_t now = xd_now_ms();

	qb_log(LOG_NOTICE, "domain %s: ended on this host gen=%llu reason=%s detail=\"%s\"",
	       name, (unsigned long long)generation,
	       reason == HV_END_CRASH ? "crash" : reason == HV_END_SHUTDOWN ? "shutdown" : "stopped",
	       detail ? detail : "");
	if (!dom || dom->owner != d->nodeid || dom->generation != generation)
		return;
	if (dom->state == XH_DS_STOPPING) {
		send_report(d, XH_CMD_STOPPED, name, generation, 0, detail);
		mark_set(d->reported, name, XH_CMD_STOPPED, generation, dom->state, now);
	} else if (dom->state == XH_DS_STARTING || dom->state == XH_DS_RUNNING ||
		   dom->state == XH_DS_LOST) {
		send_report(d, XH_CMD_EXITED, name, generation, reason != HV_END_SHUTDOWN, detail);
		mark_set(d->reported, name, XH_CMD_EXITED, generation, dom->state, now);
	}
	xd_kick(d);
}

static int32_t hv_fd_cb(int32_t fd, int32_t revents, void *arg)
{
	struct xd *d = arg;

	d->hv->dispatch(d->hvh);
	return 0;
}

/* ---- executor ---- */

static void do_start(struct xd *d, const struct rec_action *a)
{
	const struct xh_domain *dom = xh_state_domain(&d->st, a->name);
	struct hv_start_req req;
	int rc;

	if (!dom)
		return;
	/* the state that gives us this domain is on disk before it runs */
	if (d->dirty)
		xd_persist_save(d);
	req = (struct hv_start_req){ .name = dom->name, .xlcfg = dom->xlcfg,
		.memory_mb = dom->memory_mb, .generation = dom->generation, .nodeid = d->nodeid };
	qb_log(LOG_INFO, "domain %s: starting gen=%llu", dom->name,
	       (unsigned long long)dom->generation);
	rc = xd_hvjob_start(d, &req);     /* xd_exec_start_done() when it ends */
	if (rc < 0)
		xd_exec_start_done(d, a->name, a->generation, rc);
}

void xd_exec_start_done(struct xd *d, const char *name, uint64_t generation, int rc)
{
	if (rc == 0 || rc == -EEXIST) {
		send_report(d, XH_CMD_STARTED, name, generation, 0, NULL);
	} else {
		char why[XH_REASON_MAX];

		snprintf(why, sizeof(why), "start failed: %s", strerror(-rc));
		qb_log(LOG_ERR, "domain %s: %s", name, why);
		send_report(d, XH_CMD_START_FAILED, name, generation, 0, why);
	}
}

/* An action that calls the driver for a domain (not a report). */
static bool hv_action(uint8_t type)
{
	return type == REC_START || type == REC_SHUTDOWN || type == REC_DESTROY ||
	       type == REC_RESUME || type == REC_MIGRATE_SEND || type == REC_MIGRATE_RECV;
}

static void run_executor(struct xd *d, uint64_t now)
{
	struct hv_domain_info *info = NULL;
	struct rec_local *local = NULL;
	struct rec_action *acts = NULL;
	struct rec_input in;
	const struct rec_mig *mig = NULL;
	uint32_t n_info = 0, n_acts = 0, n_mig = 0, cap;
	bool skip_next = false;
	int rc;

	rc = d->hv->list(d->hvh, &info, &n_info);
	if (rc < 0) {
		qb_log(LOG_ERR, "hypervisor list failed: %s", strerror(-rc));
		return;
	}
	local = calloc(n_info ? n_info : 1, sizeof(*local));
	cap = 2 * (n_info + d->st.n_domains) + 1;
	acts = calloc(cap, sizeof(*acts));
	if (!local || !acts)
		goto out;
	for (uint32_t i = 0; i < n_info; i++) {
		snprintf(local[i].name, sizeof(local[i].name), "%s", info[i].name);
		local[i].generation = info[i].generation;
		local[i].running = info[i].running;
	}
	in.me = d->nodeid;
	in.synced = d->synced;
	in.quorate = d->vq_quorate;
	in.local = local;
	in.n_local = n_info;
	xd_mig_table(d, local, n_info, &mig, &n_mig);
	rc = rec_compute_mig(&d->st, &in, mig, n_mig, acts, cap, &n_acts);
	if (rc < 0)
		qb_log(LOG_ERR, "reconcile: %s", strerror(-rc));

	for (uint32_t i = 0; i < n_acts; i++) {
		const struct rec_action *a = &acts[i];
		const struct xh_domain *dom = xh_state_domain(&d->st, a->name);
		uint8_t st = dom ? dom->state : 0;

		if (skip_next) {
			/* the report that follows a RESUME that failed */
			skip_next = false;
			continue;
		}
		if (hv_action(a->type) && xd_hvjob_busy(d, a->name)) {
			/* a start or shutdown of it still runs: its end kicks us */
			skip_next = a->type == REC_RESUME;
			continue;
		}
		switch (a->type) {
		case REC_MIGRATE_SEND:
		case REC_MIGRATE_RECV:
			xd_mig_start(d, a);
			break;
		case REC_RESUME:
			qb_log(LOG_WARNING, "domain %s: resuming the paused copy (%s)", a->name, a->why);
			rc = d->hv->resume(d->hvh, a->name);
			if (rc < 0) {
				qb_log(LOG_ERR, "domain %s: resume failed: %s", a->name, strerror(-rc));
				skip_next = true;
			}
			break;
		case REC_REPORT_MIG_DONE:
		case REC_REPORT_MIG_ABORTED:
			if (mark_fresh(d->reported, a->name, 0x80 | a->type, a->mig_id, st, now))
				break;
			mark_set(d->reported, a->name, 0x80 | a->type, a->mig_id, st, now);
			send_mig_report(d, a);
			break;
		case REC_START:
			do_start(d, a);
			break;
		case REC_SHUTDOWN:
			if (mark_fresh(d->reported, a->name, 0x80 | REC_SHUTDOWN, a->generation, st, now))
				break;
			mark_set(d->reported, a->name, 0x80 | REC_SHUTDOWN, a->generation, st, now);
			qb_log(LOG_INFO, "domain %s: shutting down (%s)", a->name, a->why);
			rc = xd_hvjob_shutdown(d, a->name, d->cfg.stop_timeout_ms);
			if (rc < 0)
				qb_log(LOG_ERR, "domain %s: shutdown failed: %s", a->name, strerror(-rc));
			break;
		case REC_DESTROY:
			qb_log(LOG_WARNING, "domain %s: destroying a copy on this host: %s",
			       a->name, a->why);
			rc = d->hv->destroy(d->hvh, a->name);
			if (rc < 0 && rc != -ENOENT)
				qb_log(LOG_CRIT, "domain %s: destroy failed: %s", a->name, strerror(-rc));
			break;
		case REC_REPORT_STARTED:
		case REC_REPORT_EXITED:
		case REC_REPORT_STOPPED: {
			uint8_t type = a->type == REC_REPORT_STARTED ? XH_CMD_STARTED :
				       a->type == REC_REPORT_EXITED ? XH_CMD_EXITED : XH_CMD_STOPPED;

			if (mark_fresh(d->reported, a->name, type, a->generation, st, now))
				break;
			mark_set(d->reported, a->name, type, a->generation, st, now);
			qb_log(LOG_INFO, "domain %s: reporting %s (%s)", a->name,
			       xh_cmd_type_str(type), a->why);
			send_report(d, type, a->name, a->generation,
				    type == XH_CMD_EXITED, a->why);
			break;
		}
		case REC_UNKNOWN:
			if (mark_fresh(d->reported, a->name, 0x80 | REC_UNKNOWN, 0, 0, now))
				break;
			mark_set(d->reported, a->name, 0x80 | REC_UNKNOWN, 0, 0, now);
			qb_log(LOG_WARNING, "domain %s: %s; leaving it alone", a->name, a->why);
			break;
		default:
			break;
		}
	}
out:
	free(info);
	free(local);
	free(acts);
}

/* ---- coordinator ---- */

static void run_coordinator(struct xd *d, uint64_t now)
{
	struct sched_plan plan;
	struct sched_input in;
	int rc;

	memset(&in, 0, sizeof(in));
	in.now_ms = now;
	in.wall_ms = now;       /* xd_now_ms(): wall clock, as the disarm window */
	in.migrate = true;      /* drain standby hosts by live migration */
	in.max_concurrent = d->cfg.mig_max_concurrent;
	sched_plan_init(&plan);
	rc = sched_compute(&d->st, &in, &plan);
	if (rc < 0) {
		qb_log(LOG_ERR, "scheduler failed: %s", strerror(-rc));
		goto out;
	}
	for (uint32_t i = 0; i < plan.n; i++) {
		const struct sched_action *a = &plan.actions[i];
		const struct xh_domain *dom = &d->st.domains[a->domain];
		struct xh_cmd c;

		if (proposal_fresh(d->proposed, dom->name, a->type, a->generation, dom->state, now))
			continue;
		mark_set(d->proposed, dom->name, a->type, a->generation, dom->state, now);
		memset(&c, 0, sizeof(c));
		if (a->type == SCHED_MIGRATE) {
			c.type = XH_CMD_MIGRATE_BEGIN;
			snprintf(c.u.mig.name, sizeof(c.u.mig.name), "%s", dom->name);
			c.u.mig.source = a->source;
			c.u.mig.target = a->nodeid;
			c.u.mig.generation = a->generation;
			xd_send_cmd(d, &c, 0);
			continue;
		}
		c.type = a->type == SCHED_PLACE ? XH_CMD_PLACE : XH_CMD_STOP;
		snprintf(c.u.place.name, sizeof(c.u.place.name), "%s", dom->name);
		c.u.place.nodeid = a->nodeid;
		c.u.place.generation = a->generation;
		xd_send_cmd(d, &c, 0);
	}
	for (uint32_t i = 0; i < plan.n_unplaced; i++) {
		const struct xh_domain *dom = &d->st.domains[plan.unplaced[i].domain];

		if (mark_fresh(d->proposed, dom->name, 0xff, dom->generation, dom->state, now))
			continue;
		mark_set(d->proposed, dom->name, 0xff, dom->generation, dom->state, now);
		qb_log(LOG_WARNING, "domain %s: cannot be placed: %s", dom->name, plan.unplaced[i].why);
	}
out:
	sched_plan_free(&plan);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void work(void *arg)
{
	struct xd *d = arg;
	uint64_t now = xd_now_ms();

	d->work_queued = false;
	d->work_last_ms = mono_ms();
	if (d->stopping || !d->synced)
		return;
	run_executor(d, now);
	if (xd_is_coordinator(d))
		run_coordinator(d, now);
}

/*
 * Executor and coordinator passes are coalesced: at most one every
 * XD_WORK_GAP_MS, so a burst of thousands of commands costs a few passes,
 * not one per command, while a single event is still acted on at once.
 */
#define XD_WORK_GAP_MS 20

void xd_kick(struct xd *d)
{
	uint64_t now, due;

	/* nothing is queued once the daemon stops: work() would do nothing,
	 * and a job the loop never runs is leaked by libqb (valgrind saw one
	 * added by the last tick after SIGTERM) */
	if (d->work_queued || !d->loop || d->stopping)
		return;
	now = mono_ms();
	due = d->work_last_ms + XD_WORK_GAP_MS;
	if (now >= due) {
		if (qb_loop_job_add(d->loop, QB_LOOP_LOW, d, work) == 0)
			d->work_queued = true;
	} else if (qb_loop_timer_add(d->loop, QB_LOOP_LOW, (due - now) * QB_TIME_NS_IN_MSEC, d,
				     work, &d->work_timer) == 0) {
		d->work_queued = true;
	}
}

static void tick(void *arg)
{
	struct xd *d = arg;

	/* a safety re-scan every 10 s in case a domain's end raised no event
	 * (the xen driver re-scans all domains on every dispatch; for sim it
	 * is a no-op without events) */
	if (++d->ticks % 10 == 0 && d->hvh)
		d->hv->dispatch(d->hvh);
	xd_mig_tick(d);
	xd_kick(d);
	qb_loop_timer_add(d->loop, QB_LOOP_LOW, 1000 * QB_TIME_NS_IN_MSEC, d, tick, &d->tick_timer);
}

int xd_exec_init(struct xd *d)
{
	int rc, fd;

	d->hv = hv_find(d->cfg.hypervisor);
	if (!d->hv) {
		qb_log(LOG_ERR, "unknown hypervisor driver=%s", d->cfg.hypervisor);
		return -ENOENT;
	}
	rc = d->hv->open(&d->cfg, hv_end, d, &d->hvh);
	if (rc < 0) {
		qb_log(LOG_ERR, "cannot open hypervisor driver=%s: %s", d->hv->name, strerror(-rc));
		return rc;
	}
	if (strcmp(d->hv->name, "sim") == 0)
		qb_log(LOG_WARNING, "hypervisor driver=sim: domains are simulated processes "
		       "(tests and demo only)");
	fd = d->hv->get_fd(d->hvh);
	if (fd >= 0)
		qb_loop_poll_add(d->loop, QB_LOOP_HIGH, fd, POLLIN, d, hv_fd_cb);
	rc = xd_hvjob_init(d);
	if (rc < 0) {
		qb_log(LOG_ERR, "cannot set up hypervisor workers: %s", strerror(-rc));
		return rc;
	}
	d->reported = marks_new();
	d->proposed = marks_new();
	qb_loop_timer_add(d->loop, QB_LOOP_LOW, 1000 * QB_TIME_NS_IN_MSEC, d, tick, &d->tick_timer);
	return 0;
}

void xd_exec_fini(struct xd *d)
{
	/* a pass still queued at exit would be leaked by the loop */
	if (d->loop) {
		qb_loop_job_del(d->loop, QB_LOOP_LOW, d, work);
		qb_loop_timer_del(d->loop, d->work_timer);
		qb_loop_timer_del(d->loop, d->tick_timer);
		d->work_queued = false;
	}
	xd_hvjob_fini(d);
	if (d->hvh) {
		int fd = d->hv->get_fd(d->hvh);

		if (fd >= 0 && d->loop)
			qb_loop_poll_del(d->loop, fd);
		d->hv->close(d->hvh);
		d->hvh = NULL;
	}
	marks_free(d->reported);
	marks_free(d->proposed);
	d->reported = d->proposed = NULL;
}
