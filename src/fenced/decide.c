/*
 * The decision loop of xenha-fenced, run every DECIDE_MS on the main
 * loop: gather the inputs (our lease, the disk worker's report, xenhad's
 * answer), ask the pure rules (include/xenha/fencerules.h) whether to pet
 * the watchdog and whether a lost host may be treated as fenced, and act.
 * Nothing here blocks: disk and xenhad I/O happen in their threads.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>
#include <qb/qblog.h>

#include "config.h"
#include "fenced.h"
#include "xenha/ipcproto.h"

#define DECIDE_MS 50
#define CONFIRM_RETRY_MS 3000

static bool is_pill(enum hb_msg_type t)
{
	return t == HB_MSG_RESET || t == HB_MSG_OFF || t == HB_MSG_CRASHDUMP;
}

/* The lowest node id in our fenced group acts for the survivors (sends
 * begin/confirm, writes pills); the others only watch.  Every survivor
 * would decide the same; one sender keeps the history short. */
static bool acting(const struct fd *d)
{
	uint64_t below = d->nodeid > 1 ? d->liveset & ((1ull << (d->nodeid - 1)) - 1) : 0;

	return below == 0;
}

static void check_mailbox(struct fd *d)
{
	const struct hb_msg *m = &d->rep.own_msg;

	if (!d->hbw || m->type == HB_MSG_CLEAR)
		return;
	if (is_pill(m->type)) {
		if (!d->self_fence) {
			qb_log(LOG_CRIT, "poison pill '%s' from '%s' in our mailbox: self-fencing now",
			       hb_msg_type_str(m->type), m->from);
			d->self_fence = true;
			/* Not armed yet (we are starting, e.g. a pill written for
			 * the incident that just reset us reaches the disk after
			 * our restart): open the watchdog just to obey it.  Never
			 * arming instead would leave a member no one can fence. */
			if (!d->wd) {
				uint32_t actual = 0;
				int rc = wd_open(d->cfg.fence_watchdog, d->t.watchdog_ms, NULL,
						 &d->wd, &actual);

				if (rc < 0)
					qb_log(LOG_CRIT, "cannot open watchdog %s to obey the pill: %s",
					       d->cfg.fence_watchdog, strerror(-rc));
				else
					d->armed = true;
			}
			if (d->wd) {
				int rc = wd_fire(d->wd, d->cfg.fence_sysrq);

				if (rc < 0)
					qb_log(LOG_ERR, "watchdog fire: %s (the watchdog still "
					       "resets us within its timeout)", strerror(-rc));
			}
		}
		return;
	}
	qb_log(LOG_NOTICE, "message '%s' from '%s' in our mailbox: acknowledged and cleared",
	       hb_msg_type_str(m->type), m->from);
	hbw_clear_own(d->hbw);
}

static void check_disk_health(struct fd *d, uint64_t now)
{
	uint64_t limit = (uint64_t)d->t.disk_interval_ms + d->t.disk_timeout_ms;
	uint64_t age;

	if (!d->hbw)
		return;
	age = d->rep.write_ok_ms ? now - d->rep.write_ok_ms : now - d->start_ms;
	if (age > limit && !d->disk_alerted) {
		d->disk_alerted = true;
		qb_log(LOG_ALERT, "alert: heartbeat disk %s not written for %" PRIu64 " ms "
		       "(io_busy=%d last_error=\"%s\"); %s", d->cfg.fence_device, age,
		       d->rep.io_busy, d->rep.last_err_text,
		       d->have_lease_tick ? "quorate: no fencing, still petting on the lease"
					  : "no lease either");
	} else if (age <= limit && d->disk_alerted) {
		d->disk_alerted = false;
		qb_log(LOG_NOTICE, "heartbeat disk %s written again", d->cfg.fence_device);
	}
}

static void tiebreak(struct fd *d, uint64_t now)
{
	struct fr_disk_node nodes[FD_MAX_NODE];
	size_t n = 0;
	bool win;

	/* the current unbroken run of our own fresh heartbeat writes (writes
	 * less than a lease apart): the claim delay of the tie-break counts
	 * from its start (see below) */
	if (d->hbw && d->rep.write_ok_ms && now - d->rep.write_ok_ms < d->t.lease_ms) {
		if (d->run_since_ms == 0)
			d->run_since_ms = d->rep.write_ok_ms;
	} else {
		d->run_since_ms = 0;
	}
	d->tie = fr_is_tie(d->expected_votes, d->ring_members, d->vq_quorate);
	if (!d->tie || !d->hbw) {
		d->disk_win = false;
		return;
	}
	for (uint32_t id = 1; id <= FD_MAX_NODE; id++) {
		if (id == d->nodeid || !d->rep.peers[id].seen)
			continue;
		nodes[n].nodeid = id;
		nodes[n].seen = true;
		nodes[n].changed_ms = d->rep.peers[id].changed_ms;
		n++;
	}
	win = fr_tiebreak_win(&d->t, d->nodeid, now, d->rep.write_ok_ms, d->rep.read_ok_ms,
			      nodes, n);
	if (win && !d->disk_win)
		d->win_since_ms = now;
	if (win != d->disk_win)
		qb_log(LOG_NOTICE, "two-node tie: we %s on the heartbeat disk",
		       win ? "win" : "do not win");
	d->disk_win = win;
}

static void watchdog_step(struct fd *d, uint64_t now, const struct fd_xenhad *x)
{
	struct fr_self s = {
		.now_ms = now, .armed = d->armed, .have_lease_tick = d->have_lease_tick,
		/* d->self_fence is only ever set by a pill in our mailbox */
		.lease_tick_sent_ms = d->lease_tick_sent_ms, .pill = d->self_fence,
		.xenhad_seen = x->seen, .xenhad_ok_ms = x->ok_ms, .tie = d->tie,
		.disk_win = d->disk_win, .self_fence = false,
		/*
		 * The claim delay of fencerules.c exists so that, at a claim,
		 * a write of our current unbroken run of fresh writes finished
		 * at least fr_claim_delay_ms before (its proof uses nothing
		 * else).  So it counts from the start of that run, not from
		 * the start of the tie: a host whose writes never lapsed may
		 * claim the tie at once, which is what keeps the lower node
		 * of a two-node cluster alive when the link is cut.
		 */
		.disk_win_since_ms = d->run_since_ms,
	};
	enum fr_pet_reason why;
	bool pet;

	if (!d->armed) {
		uint32_t actual = 0;
		int rc;

		if (d->self_fence || !fr_may_arm(&d->t, &s) || now < d->next_wd_try_ms)
			return;
		rc = wd_open(d->cfg.fence_watchdog, d->t.watchdog_ms, NULL, &d->wd, &actual);
		if (rc < 0) {
			qb_log(LOG_CRIT, "cannot arm watchdog %s: %s; this host cannot be fenced "
			       "automatically (peers will wait for an operator); retrying",
			       d->cfg.fence_watchdog, strerror(-rc));
			d->next_wd_try_ms = now + 5000;
			return;
		}
		if (actual != d->t.watchdog_ms)
			qb_log(LOG_WARNING, "watchdog %s took timeout %u ms (asked %u)",
			       d->cfg.fence_watchdog, actual, d->t.watchdog_ms);
		d->armed = true;
		d->petting = true;
		d->last_pet_ms = now;
		qb_log(LOG_NOTICE, "watchdog %s armed (%s, timeout %u ms)", d->cfg.fence_watchdog,
		       wd_kind(d->wd), actual);
		s.armed = true;
		fd_send_tick(d, false); /* tell the peers at once */
	}
	pet = fr_should_pet(&d->t, &s, &why);
	if (pet) {
		int rc = wd_pet(d->wd);

		if (rc < 0)
			qb_log(LOG_ERR, "watchdog pet failed: %s", strerror(-rc));
		else
			d->last_pet_ms = now;
	}
	if (pet != d->petting || (!pet && why != d->pet_reason)) {
		if (pet)
			qb_log(LOG_NOTICE, "petting the watchdog again (%s)", fr_pet_reason_str(why));
		else
			qb_log(LOG_CRIT, "stopped petting the watchdog: %s; this host resets "
			       "within %u ms unless that changes", fr_pet_reason_str(why),
			       d->t.watchdog_ms);
	}
	d->petting = pet;
	d->pet_reason = why;
}

static void reset_incident(struct fd_peer *p)
{
	p->pending = false;
	p->begun = false;
	p->pill_sent = false;
	p->pill_noslot_logged = false;
	p->pill_written = false;
	p->confirm_sent = false;
	p->agent_off = false;
	p->agent_failed = false;
	p->unfenceable_logged = false;
	p->operator_fence = false;
}

static void pill_step(struct fd *d, uint32_t id, struct fd_peer *p)
{
	int64_t seq;

	if (!d->hbw || !d->rep.meta_ok)
		return;
	if (!p->pill_sent) {
		seq = hbw_send_msg(d->hbw, p->name, HB_MSG_RESET, d->name);
		if (seq == -ENOENT) {
			/* its slot is not known yet (slots are re-read every few
			 * cycles): try again on a later pass */
			if (!p->pill_noslot_logged)
				qb_log(LOG_INFO, "no sbd slot known for %s yet; the poison pill "
				       "waits for the next slot scan", p->name);
			p->pill_noslot_logged = true;
			return;
		}
		if (seq < 0) {
			qb_log(LOG_WARNING, "cannot send a poison pill to %s: %s", p->name,
			       strerror((int)-seq));
			p->pill_sent = true; /* do not retry every pass */
			p->pill_seq = -1;
			return;
		}
		p->pill_sent = true;
		p->pill_seq = seq;
		qb_log(LOG_NOTICE, "poison pill (reset) queued for %s (node %u)", p->name, id);
		return;
	}
	if (!p->pill_written && p->pill_seq > 0 && d->rep.pill_seq == (uint64_t)p->pill_seq &&
	    d->rep.pill_rc <= 0) {
		if (d->rep.pill_rc == 0) {
			p->pill_written = true;
			p->pill_written_ms = d->rep.pill_done_ms;
			qb_log(LOG_NOTICE, "poison pill written to %s's mailbox", p->name);
		} else {
			qb_log(LOG_WARNING, "poison pill for %s not written: %s", p->name,
			       strerror(-d->rep.pill_rc));
			p->pill_seq = -1;
		}
	}
}

static void survivor_step(struct fd *d, uint64_t now, const struct fd_xenhad *x)
{
	struct fr_survivor sv = {
		.now_ms = now,
		.quorate = d->petting && (d->pet_reason == FR_PET_LEASE ||
					  d->pet_reason == FR_PET_DISK_WIN),
		.by_disk_win = d->petting && d->pet_reason == FR_PET_DISK_WIN,
		.disk_win_since_ms = d->win_since_ms,
	};

	for (uint32_t i = 0; i < x->n_hosts; i++) {
		uint32_t id = x->hosts[i].nodeid;
		struct fd_peer *p = &d->peers[id];
		struct fr_peer fp;
		enum fr_confirm c;
		uint64_t remaining = 0;
		char by[XH_NAME_MAX];
		bool agents;

		if (id == d->nodeid)
			continue;
		snprintf(p->name, sizeof(p->name), "%s", x->hosts[i].name);
		if (!x->hosts[i].pending) {
			if (p->pending) {
				qb_log(LOG_INFO, "host %s no longer awaits fencing", p->name);
				reset_incident(p);
			}
			if (p->operator_fence)
				pill_step(d, id, p);
			/* a job of a finished incident: collect it, forget its result */
			if (p->agent && fd_agent_poll(d, p)) {
				p->agent_off = false;
				p->agent_failed = false;
			}
			continue;
		}
		if (!fr_survivor_may_act(sv.quorate, acting(d), x->synced, x->quorate))
			continue;
		if (!p->pending) {
			p->pending = true;
			p->pending_since_ms = now;
			qb_log(LOG_NOTICE, "host %s (node %u) awaits fencing; last tick %" PRIu64
			       " ms ago, its watchdog %s", p->name, id, now - p->last_tick_ms,
			       p->armed ? "armed" : "not known armed");
		}
		agents = fd_agent_configured(d, p->name);
		if (p->agent)
			fd_agent_poll(d, p);
		if ((!p->armed || p->left_cleanly) && !agents) {
			if (!p->unfenceable_logged)
				qb_log(LOG_WARNING, "host %s cannot be fenced automatically: %s; "
				       "an operator must power it off and run `hactl fence confirm %s`",
				       p->name, p->left_cleanly ? "its fencing daemon stopped cleanly"
				       : "its watchdog was never seen armed", p->name);
			p->unfenceable_logged = true;
			continue;
		}
		if (!p->begun) {
			snprintf(by, sizeof(by), "fenced %.20s: %s%s%s", d->name,
				 p->armed && !p->left_cleanly ? "timeout" : "",
				 d->hbw ? ", poison-pill" : "", agents ? ", agent" : "");
			fd_xlink_queue(d, IPC_OP_FENCE_BEGIN, p->name, by);
			p->begun = true;
			qb_log(LOG_NOTICE, "fencing %s: waiting for its lease and watchdog "
			       "(%u ms after its last tick)%s", p->name, fr_wait_ms(&d->t),
			       d->hbw ? " and writing a poison pill" : "");
		}
		if (fr_pill_now(&d->t, p->member, p->pending_since_ms, now))
			pill_step(d, id, p);
		if (agents && !p->agent && !p->agent_off && !p->agent_failed &&
		    fd_agent_start(d, p) < 0)
			p->agent_failed = true;

		memset(&fp, 0, sizeof(fp));
		fp.nodeid = id;
		fp.member = p->member || x->hosts[i].member;
		fp.left_cleanly = false;
		fp.last_tick_ms = p->last_tick_ms;
		fp.agent_off = p->agent_off;
		fp.pill_written = p->pill_written;
		fp.pill_written_ms = p->pill_written_ms;
		if (d->hbw && d->rep.peers[id].seen) {
			fp.slot_seen = true;
			fp.slot_changed_ms = d->rep.peers[id].changed_ms;
		}
		fp.disk_read_ok_ms = d->rep.read_ok_ms;
		if (p->armed && !p->left_cleanly)
			c = fr_may_confirm(&d->t, &sv, &fp, &remaining);
		else	/* its watchdog is not known to work: only an agent's
			 * verified "off" can confirm it */
			c = p->agent_off && !fp.member && sv.quorate ? FR_CONFIRM_AGENT
								     : FR_CONFIRM_NO;
#ifdef XENHA_UNSAFE_SKIP_FENCE_WAIT
		/* the deliberately broken build: no waiting at all */
		if (c == FR_CONFIRM_NO && !fp.member && sv.quorate)
			c = FR_CONFIRM_TIMEOUT;
#endif
		if (c == FR_CONFIRM_NO)
			continue;
		if (p->confirm_sent && now - p->confirm_sent_ms < CONFIRM_RETRY_MS)
			continue;
		snprintf(by, sizeof(by), "fenced %.20s: %s", d->name, fr_confirm_str(c));
		fd_xlink_queue(d, IPC_OP_FENCE_CONFIRM, p->name, by);
		qb_log(LOG_NOTICE, "host %s confirmed fenced (%s): last tick %" PRIu64 " ms ago, "
		       "awaiting fencing for %" PRIu64 " ms", p->name, fr_confirm_str(c),
		       now - p->last_tick_ms, now - p->pending_since_ms);
		p->confirm_sent = true;
		p->confirm_sent_ms = now;
	}
}

static void decide(struct fd *d)
{
	uint64_t now;
	struct fd_xenhad x;
	struct hbw_view v;

	/* The clock is read after the snapshots: the xenhad link and the disk
	 * worker stamp their times in other threads, and a stamp taken after
	 * `now` would look like an event in the future (the rules treat that
	 * as xenhad silent; a disk age would wrap).  The lab saw both. */
	fd_xlink_snapshot(d, &x);
	if (d->hbw)
		hbw_snapshot(d->hbw, &d->rep);
	now = fd_mono_ms();
	if (d->hbw) {
		check_mailbox(d);
		check_disk_health(d, now);
		memset(&v, 0, sizeof(v));
		v.liveset = d->liveset;
		v.quorate = d->vq_quorate;
		v.ring_id = d->ring_seq;
		hbw_set_view(d->hbw, &v);
	}
	if (x.seen && !x.ok && now - x.ok_ms > 2000 && !d->xenhad_alerted) {
		d->xenhad_alerted = true;
		qb_log(LOG_WARNING, "xenhad has not answered for %" PRIu64 " ms (%s); the "
		       "watchdog stops being petted after %u ms", now - x.ok_ms, x.err,
		       d->t.xenhad_timeout_ms);
	} else if (x.ok && d->xenhad_alerted) {
		d->xenhad_alerted = false;
		qb_log(LOG_NOTICE, "xenhad answers again");
	}
	tiebreak(d, now);
	watchdog_step(d, now, &x);
	survivor_step(d, now, &x);
}

void fd_decide_now(struct fd *d)
{
	decide(d);
}

static void decide_timer_cb(void *arg)
{
	struct fd *d = arg;

	decide(d);
	if (!d->stopping)
		qb_loop_timer_add(d->loop, QB_LOOP_HIGH, DECIDE_MS * QB_TIME_NS_IN_MSEC, d,
				  decide_timer_cb, &d->decide_timer);
}

static void tick_timer_cb(void *arg)
{
	struct fd *d = arg;

	fd_send_tick(d, false);
	if (!d->stopping)
		qb_loop_timer_add(d->loop, QB_LOOP_HIGH, d->t.tick_ms * QB_TIME_NS_IN_MSEC, d,
				  tick_timer_cb, &d->tick_timer);
}

int fd_decide_init(struct fd *d)
{
	qb_loop_timer_add(d->loop, QB_LOOP_HIGH, d->t.tick_ms * QB_TIME_NS_IN_MSEC, d,
			  tick_timer_cb, &d->tick_timer);
	qb_loop_timer_add(d->loop, QB_LOOP_HIGH, DECIDE_MS * QB_TIME_NS_IN_MSEC, d,
			  decide_timer_cb, &d->decide_timer);
	return 0;
}

void fd_decide_fini(struct fd *d)
{
	qb_loop_timer_del(d->loop, d->tick_timer);
	qb_loop_timer_del(d->loop, d->decide_timer);
}

/* hactl fence HOST: a poison pill now (the host need not be lost yet:
 * it reads the pill and resets; then it is lost and the pill path or the
 * timeout confirms it). */
int fd_fence_request(struct fd *d, const char *host, char *err, size_t errlen)
{
	struct fd_xenhad x;

	fd_xlink_snapshot(d, &x);
	for (uint32_t i = 0; i < x.n_hosts; i++) {
		struct fd_peer *p = &d->peers[x.hosts[i].nodeid];

		if (strcmp(x.hosts[i].name, host) != 0)
			continue;
		if (x.hosts[i].nodeid == d->nodeid) {
			snprintf(err, errlen, "refusing to fence ourselves (%s)", host);
			return -EPERM;
		}
		if (x.hosts[i].confirmed) {
			snprintf(err, errlen, "host %s is already confirmed fenced", host);
			return -EALREADY;
		}
		if (!d->hbw) {
			snprintf(err, errlen, "no heartbeat disk configured: no poison pill; "
				 "power %s off and run `hactl fence confirm %s`", host, host);
			return -ENODEV;
		}
		snprintf(p->name, sizeof(p->name), "%s", host);
		p->operator_fence = true;
		p->pill_sent = false;
		p->pill_written = false;
		qb_log(LOG_NOTICE, "operator asked to fence %s: writing a poison pill", host);
		pill_step(d, x.hosts[i].nodeid, p);
		return 0;
	}
	snprintf(err, errlen, "no such host: %s", host);
	return -ENOENT;
}

static void put(struct json_object *o, const char *k, struct json_object *v)
{
	json_object_object_add(o, k, v);
}

struct json_object *fd_status_json(struct fd *d)
{
	uint64_t now;
	struct json_object *o = json_object_new_object(), *peers = json_object_new_array();
	struct fd_xenhad x;

	fd_xlink_snapshot(d, &x);
	now = fd_mono_ms();     /* after the snapshot: see decide() */
	put(o, "node", json_object_new_string(d->name));
	put(o, "nodeid", json_object_new_int64(d->nodeid));
	put(o, "armed", json_object_new_boolean(d->armed));
	put(o, "watchdog", json_object_new_string(d->cfg.fence_watchdog));
	put(o, "petting", json_object_new_boolean(d->petting));
	put(o, "reason", json_object_new_string(fr_pet_reason_str(d->pet_reason)));
	put(o, "self_fence", json_object_new_boolean(d->self_fence));
	put(o, "quorate", json_object_new_boolean(d->vq_quorate));
	put(o, "lease_age_ms", d->have_lease_tick ?
	    json_object_new_int64((int64_t)(now - d->lease_tick_sent_ms)) : NULL);
	put(o, "tie", json_object_new_boolean(d->tie));
	put(o, "disk_win", json_object_new_boolean(d->disk_win));
	put(o, "xenhad_age_ms", x.seen ? json_object_new_int64((int64_t)(now - x.ok_ms)) : NULL);
	put(o, "disk", json_object_new_string(d->cfg.fence_device));
	if (d->hbw) {
		put(o, "disk_write_age_ms", d->rep.write_ok_ms ?
		    json_object_new_int64((int64_t)(now - d->rep.write_ok_ms)) : NULL);
		put(o, "disk_error", json_object_new_string(d->rep.last_err_text));
	}
	put(o, "tick_ms", json_object_new_int64(d->t.tick_ms));
	put(o, "lease_ms", json_object_new_int64(d->t.lease_ms));
	put(o, "watchdog_ms", json_object_new_int64(d->t.watchdog_ms));
	put(o, "msgwait_ms", json_object_new_int64(d->t.msgwait_ms));
	put(o, "wait_ms", json_object_new_int64(fr_wait_ms(&d->t)));
	for (uint32_t id = 1; id <= FD_MAX_NODE; id++) {
		struct fd_peer *p = &d->peers[id];
		struct json_object *j;

		if (!p->known || id == d->nodeid)
			continue;
		j = json_object_new_object();
		put(j, "nodeid", json_object_new_int64(id));
		put(j, "name", json_object_new_string(p->name));
		put(j, "member", json_object_new_boolean(p->member));
		put(j, "armed", json_object_new_boolean(p->armed));
		put(j, "left_cleanly", json_object_new_boolean(p->left_cleanly));
		put(j, "last_tick_age_ms", json_object_new_int64((int64_t)(now - p->last_tick_ms)));
		put(j, "pending", json_object_new_boolean(p->pending));
		put(j, "pill_written", json_object_new_boolean(p->pill_written));
		put(j, "confirm_sent", json_object_new_boolean(p->confirm_sent));
		json_object_array_add(peers, j);
	}
	put(o, "peers", peers);
	return o;
}
