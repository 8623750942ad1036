/*
 * xenhad's glue, mirrored for the simulator.  Every decision comes from
 * src/lib (xh_state_apply, the sync rule, sched_compute, rec_compute);
 * what is re-implemented here is only the wiring the daemon keeps in
 * src/xenhad/: the CPG callbacks and the sync round (cluster.c), the
 * executor and coordinator passes with their report/proposal marks
 * (executor.c), the state file (persist.c) and the IPC write requests
 * (ipc.c).  Each function names the daemon function it mirrors.
 *
 * Differences from the daemon, on purpose: CPG flow control (TRY_AGAIN)
 * does not exist here; the clock is the simulator's (wall and monotonic
 * are the same virtual ms); the hypervisor is a record per domain.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenha/hv.h"
#include "xenha/ipcproto.h"
#include "xenha/reconcile.h"
#include "xenha/sched.h"
#include "xhsim.h"

#define XD_CHUNK (256u * 1024u)   /* cluster.c */
#define XD_MARK_MS 3000           /* executor.c */
#define XD_WORK_GAP_MS 20         /* executor.c */
#define XD_TICK_MS 1000           /* executor.c tick() */
#define XD_PERSIST_MS 100         /* persist.c xd_persist_mark() */
#define XD_MEM_RESERVED 1024      /* config.h defaults */
#define XD_DOM_OVERHEAD 8

struct buffered {
	struct buffered *next;
	uint32_t nodeid;
	uint64_t msgid;
	uint32_t frame;
	size_t len;
	uint8_t data[];
};

struct mark {
	char name[XH_NAME_MAX];
	uint8_t kind;
	uint64_t gen;
	uint8_t state;
	uint64_t at_ms;
	uint32_t tries;
	bool used;
};

struct sxd {
	struct sim_node *n;
	uint32_t nodeid;
	uint32_t expected_votes;
	bool vq_quorate;
	uint32_t n_members;
	uint32_t members[XH_MAX_HOSTS];
	struct xh_state st;
	bool synced, hello_sent;
	struct sync_round round;
	struct buffered *buf_head, *buf_tail;
	uint32_t buf_len;
	struct wire_buf snap;
	uint32_t snap_next;
	bool dirty;
	uint64_t persist_due;            /* 0: no save timer */
	bool work_queued;
	uint64_t work_due, work_last_ms, tick_next;
	struct mark reported[SIM_MAX_MARKS], proposed[SIM_MAX_MARKS];
	/* migrate.c: what the executor knows of its own migrations */
	struct rec_mig mig[SIM_MAX_MIGS];
	char mig_why[SIM_MAX_MIGS][XH_REASON_MAX];
	uint64_t mig_at[SIM_MAX_MIGS];       /* when it was started (expect timeout) */
	bool mig_claimed[SIM_MAX_MIGS];
	uint32_t n_mig;
	/* the message being delivered (for log-once keys) */
	uint64_t cur_msgid;
	uint32_t cur_frame;
};

static void xd_kick(struct sxd *d);

/* ---- marks (executor.c mark_fresh / mark_set) ---- */

static struct mark *mark_get(struct mark *m, const char *name, bool create)
{
	struct mark *free_slot = NULL, *oldest = NULL;

	for (int i = 0; i < SIM_MAX_MARKS; i++) {
		if (m[i].used && strcmp(m[i].name, name) == 0)
			return &m[i];
		if (!m[i].used && !free_slot)
			free_slot = &m[i];
		if (m[i].used && (!oldest || m[i].at_ms < oldest->at_ms))
			oldest = &m[i];
	}
	if (!create)
		return NULL;
	if (!free_slot)
		free_slot = oldest;
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->used = true;
	snprintf(free_slot->name, sizeof(free_slot->name), "%s", name);
	return free_slot;
}

static bool mark_fresh(struct mark *m, const char *name, uint8_t kind, uint64_t gen,
		       uint8_t state, uint64_t now)
{
	struct mark *k = mark_get(m, name, false);

	return k && k->kind == kind && k->gen == gen && k->state == state &&
	       now - k->at_ms < XD_MARK_MS;
}

/* executor.c proposal_fresh */
static bool proposal_fresh(struct mark *m, const char *name, uint8_t type, uint64_t gen,
			   uint8_t state, uint64_t now)
{
	struct mark *k = mark_get(m, name, false);

	if (!k || k->kind != type || k->gen != gen || k->state != state)
		return false;
	return now - k->at_ms < (type == SCHED_MIGRATE ? sched_mig_retry_ms(k->tries) : XD_MARK_MS);
}

static void mark_set(struct mark *m, const char *name, uint8_t kind, uint64_t gen,
		     uint8_t state, uint64_t now)
{
	struct mark *k = mark_get(m, name, true);

	k->tries = k->tries > 0 && k->kind == kind && k->gen == gen && k->state == state ?
		   k->tries + 1 : 1;
	k->kind = kind;
	k->gen = gen;
	k->state = state;
	k->at_ms = now;
}

/* executor.c xd_exec_forget */
static void exec_forget(struct sxd *d)
{
	memset(d->reported, 0, sizeof(d->reported));
	memset(d->proposed, 0, sizeof(d->proposed));
}

/* ---- persistence (persist.c) ---- */

static void persist_save(struct sxd *d)
{
	struct wire_buf b;

	wire_buf_init(&b);
	if (wire_encode_snapshot(&b, &d->st) == 0) {
		free(d->n->saved);
		d->n->saved = b.data;
		d->n->saved_len = b.len;
		d->dirty = false;
	} else {
		wire_buf_free(&b);
	}
}

static void persist_mark(struct sxd *d)
{
	d->dirty = true;
	if (!d->persist_due)
		d->persist_due = S.now + XD_PERSIST_MS;
}

/* persist.c xd_persist_load: the saved state or an empty one */
static void persist_load(struct sxd *d)
{
	if (d->n->saved && wire_decode_snapshot(d->n->saved, d->n->saved_len, &d->st) == 0) {
		sim_nlog(d->n, "xenhad: loaded state seq=%" PRIu64 " domains=%u", d->st.seq,
			 d->st.n_domains);
		return;
	}
	if (xh_state_init(&d->st, 0) < 0)
		abort();
}

/* ---- sending (cluster.c send_frame / xd_send_cmd) ---- */

static void send_frame(struct sxd *d, const uint8_t *p, size_t len)
{
	sim_send(d->n, GRP_XD, p, len);
}

static int send_cmd(struct sxd *d, struct xh_cmd *c, uint64_t req_id)
{
	struct wire_cmd wc;
	struct wire_buf b;
	int rc;

	c->sender = d->nodeid;
	if (!c->time_ms)
		c->time_ms = S.now;
	memset(&wc, 0, sizeof(wc));
	wc.req_id = req_id;
	wc.cmd = *c;
	wire_buf_init(&b);
	rc = wire_encode_cmd(&b, &wc);
	if (rc == 0)
		send_frame(d, b.data, b.len);
	wire_buf_free(&b);
	return rc;
}

/* ---- applying (cluster.c log_new_events / apply_cmd / apply_frame) ---- */

static void log_new_events(struct sxd *d, uint64_t from_seq)
{
	uint32_t first = d->st.ev_count;

	while (first > 0 && xh_state_event(&d->st, first - 1)->seq >= from_seq)
		first--;
	for (uint32_t i = first; i < d->st.ev_count; i++) {
		const struct xh_event *e = xh_state_event(&d->st, i);

		if (e->type == XH_EV_DOMAIN_STATE)
			sim_log("  domain %s: %s", e->domain, e->text);
		else
			sim_log("  %s: %s", xh_event_type_str(e->type), e->text);
	}
}

static const char *cmd_detail(const struct xh_cmd *c, char *buf, size_t len)
{
	switch (c->type) {
	case XH_CMD_PLACE: case XH_CMD_STOP: case XH_CMD_STARTED: case XH_CMD_START_FAILED:
	case XH_CMD_STOPPED: case XH_CMD_EXITED:
		snprintf(buf, len, " %s node=%u gen=%" PRIu64, c->u.place.name, c->u.place.nodeid,
			 c->u.place.generation);
		break;
	case XH_CMD_DOMAIN_ADD: case XH_CMD_DOMAIN_SET:
		snprintf(buf, len, " %s", c->u.dom.def.name);
		break;
	case XH_CMD_DOMAIN_REMOVE: case XH_CMD_DOMAIN_START: case XH_CMD_DOMAIN_STOP:
		snprintf(buf, len, " %s", c->u.name.name);
		break;
	case XH_CMD_FENCE_CONFIRM: case XH_CMD_FENCE_BEGIN:
		snprintf(buf, len, " node=%u by=\"%s\"", c->u.fence.nodeid, c->u.fence.by);
		break;
	case XH_CMD_HOST_FLAGS:
		snprintf(buf, len, " node=%u standby=%u maintenance=%u", c->u.flags.nodeid,
			 c->u.flags.standby, c->u.flags.maintenance);
		break;
	case XH_CMD_HELLO:
		snprintf(buf, len, " node=%u", c->u.hello.nodeid);
		break;
	default:
		buf[0] = '\0';
	}
	return buf;
}

static void apply_cmd(struct sxd *d, const struct wire_cmd *wc, bool log)
{
	struct xh_apply_result res = { 0 };
	uint64_t ev0 = d->st.ev_next_seq;
	char why[200], det[200];
	int rc = xh_state_apply(&d->st, &wc->cmd, &res);

	if (xh_state_check(&d->st, why, sizeof(why)) < 0) {
		sim_nlog(d->n, "xenhad: state invariant broken: %s", why);
		abort();
	}
	if (log) {
		if (rc < 0)
			sim_log("cmd %s%s from h%u rejected: %s", xh_cmd_type_str(wc->cmd.type),
				cmd_detail(&wc->cmd, det, sizeof(det)), wc->cmd.sender, res.reason);
		else if (wc->cmd.type != XH_CMD_FENCE_BEGIN || S.verbose)
			sim_log("cmd %s%s from h%u", xh_cmd_type_str(wc->cmd.type),
				cmd_detail(&wc->cmd, det, sizeof(det)), wc->cmd.sender);
		log_new_events(d, ev0);
	}
	persist_mark(d);
	xd_kick(d);
}

static void apply_frame(struct sxd *d, uint32_t nodeid, const uint8_t *p, size_t len,
			uint64_t msgid, uint32_t frame)
{
	struct wire_cmd wc;
	int rc = wire_decode_cmd(p, len, &wc);

	if (rc < 0) {
		sim_nlog(d->n, "xenhad: dropped malformed command from node=%u", nodeid);
		return;
	}
	wc.cmd.sender = nodeid;
	if (wc.cmd.type == XH_CMD_MEMBERSHIP)
		sim_nlog(d->n, "xenhad: dropped membership command sent by node=%u", nodeid);
	else
		apply_cmd(d, &wc, sim_log_frame_once(msgid, frame));
	wire_cmd_free(&wc);
}

static void buffer_frame(struct sxd *d, uint32_t nodeid, const uint8_t *p, size_t len)
{
	struct buffered *b = malloc(sizeof(*b) + len);

	if (!b)
		abort();
	b->next = NULL;
	b->nodeid = nodeid;
	b->msgid = d->cur_msgid;
	b->frame = d->cur_frame;
	b->len = len;
	memcpy(b->data, p, len);
	if (d->buf_tail)
		d->buf_tail->next = b;
	else
		d->buf_head = b;
	d->buf_tail = b;
	d->buf_len++;
}

static void apply_buffered(struct sxd *d)
{
	while (d->buf_head) {
		struct buffered *b = d->buf_head;

		d->buf_head = b->next;
		apply_frame(d, b->nodeid, b->data, b->len, b->msgid, b->frame);
		free(b);
	}
	d->buf_tail = NULL;
	d->buf_len = 0;
}

/* ---- sync rounds (cluster.c) ---- */

static int state_digest(const struct xh_state *s, uint32_t *digest, struct wire_buf *keep)
{
	struct wire_buf b;
	int rc;

	wire_buf_init(&b);
	rc = wire_encode_snapshot(&b, s);
	if (rc == 0)
		*digest = wire_crc32(b.data, b.len);
	if (rc == 0 && keep)
		*keep = b;
	else
		wire_buf_free(&b);
	return rc;
}

/* cluster.c send_hello_if_needed */
static void send_hello_if_needed(struct sxd *d)
{
	const struct xh_host *h = xh_state_host(&d->st, d->nodeid);
	uint64_t total = d->n->mem_mb;
	struct xh_cmd c;

	if (h && d->hello_sent && strcmp(h->name, d->n->name) == 0 && h->mem_total_mb == total &&
	    d->st.expected_votes >= d->expected_votes)
		return;
	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_HELLO;
	c.u.hello.nodeid = d->nodeid;
	snprintf(c.u.hello.name, sizeof(c.u.hello.name), "%s", d->n->name);
	c.u.hello.mem_total_mb = total;
	c.u.hello.mem_reserved_mb = XD_MEM_RESERVED;
	c.u.hello.dom_overhead_mb = XD_DOM_OVERHEAD;
	c.u.hello.expected_votes = d->expected_votes;
	if (send_cmd(d, &c, 0) == 0)
		d->hello_sent = true;
}

/* cluster.c finish_round */
static void finish_round(struct sxd *d, const char *how)
{
	d->round.open = false;
	d->synced = true;
	wire_buf_free(&d->snap);
	wire_buf_init(&d->snap);
	if (S.verbose)
		sim_nlog(d->n, "xenhad: state synchronised (%s) winner=h%u seq=%" PRIu64, how,
			 d->round.winner.nodeid, d->st.seq);
	apply_buffered(d);
	exec_forget(d);
	send_hello_if_needed(d);
	persist_mark(d);
	xd_kick(d);
}

/* cluster.c round_decided */
static void round_decided(struct sxd *d)
{
	const struct sync_offer *w = &d->round.winner;
	uint32_t mine = 0;
	bool all_same = true;

	for (uint32_t i = 0; i < d->round.n_offers; i++) {
		if (d->round.offers[i].digest != w->digest)
			all_same = false;
		if (d->round.offers[i].nodeid == d->nodeid)
			mine = d->round.offers[i].digest;
	}
	if (all_same) {
		finish_round(d, "all equal");
		return;
	}
	if (w->nodeid == d->nodeid) {
		struct wire_buf snap;
		uint32_t digest, count;

		if (state_digest(&d->st, &digest, &snap) < 0)
			abort();
		count = (uint32_t)((snap.len + XD_CHUNK - 1) / XD_CHUNK);
		for (uint32_t i = 0; i < count; i++) {
			struct wire_chunk ch = {
				.nodeid = d->nodeid, .round = w->seq, .index = i, .count = count,
				.total_len = (uint32_t)snap.len,
				.len = (uint32_t)((i + 1 == count) ? snap.len - (size_t)i * XD_CHUNK : XD_CHUNK),
				.data = snap.data + (size_t)i * XD_CHUNK,
			};
			struct wire_buf b;

			wire_buf_init(&b);
			if (wire_encode_chunk(&b, &ch) == 0)
				send_frame(d, b.data, b.len);
			wire_buf_free(&b);
		}
		sim_nlog(d->n, "xenhad: sync winner, sent snapshot seq=%" PRIu64 " qseq=%" PRIu64,
			 d->st.seq, d->st.qseq);
		wire_buf_free(&snap);
		finish_round(d, "we won");
		return;
	}
	if (mine == w->digest) {
		finish_round(d, "same as winner");
		return;
	}
	wire_buf_free(&d->snap);
	wire_buf_init(&d->snap);
	d->snap_next = 0;
}

/* cluster.c got_chunk */
static void got_chunk(struct sxd *d, uint32_t nodeid, const uint8_t *p, size_t len)
{
	struct wire_chunk ch;
	struct xh_state ns;

	if (wire_decode_chunk(p, len, &ch) < 0)
		return;
	if (!d->round.open || !d->round.decided || ch.nodeid != nodeid ||
	    nodeid != d->round.winner.nodeid || ch.round != d->round.winner.seq)
		return;
	if (ch.index != d->snap_next || ch.count == 0 || ch.index >= ch.count)
		return;
	if (d->snap.len + ch.len > ch.total_len)
		return;
	if (d->snap.cap < ch.total_len) {
		uint8_t *nb = realloc(d->snap.data, ch.total_len);

		if (!nb)
			abort();
		d->snap.data = nb;
		d->snap.cap = ch.total_len;
	}
	memcpy(d->snap.data + d->snap.len, ch.data, ch.len);
	d->snap.len += ch.len;
	d->snap_next++;
	if (d->snap_next < ch.count)
		return;
	if (wire_decode_snapshot(d->snap.data, d->snap.len, &ns) < 0) {
		sim_nlog(d->n, "xenhad: snapshot from node=%u rejected", nodeid);
		return;
	}
	xh_state_free(&d->st);
	d->st = ns;
	if (S.verbose)
		sim_nlog(d->n, "xenhad: installed snapshot from h%u seq=%" PRIu64, nodeid, d->st.seq);
	finish_round(d, "installed snapshot");
}

/* cluster.c got_offer */
static void got_offer(struct sxd *d, uint32_t nodeid, const uint8_t *p, size_t len)
{
	struct wire_offer o;
	struct sync_offer so;
	int rc = wire_decode_offer(p, len, &o);

	if (rc < 0 || o.nodeid != nodeid)
		return;
	so.nodeid = o.nodeid;
	so.qseq = o.qseq;
	so.seq = o.seq;
	so.digest = o.digest;
	rc = sync_round_offer(&d->round, &so, o.members, o.n_members);
	if (rc == 1)
		round_decided(d);
}

/* cluster.c start_round */
static void start_round(struct sxd *d)
{
	struct wire_offer o;
	struct wire_buf b;

	d->synced = false;
	sync_round_start(&d->round, d->members, d->n_members);
	memset(&o, 0, sizeof(o));
	o.nodeid = d->nodeid;
	o.qseq = d->st.qseq;
	o.seq = d->st.seq;
	if (state_digest(&d->st, &o.digest, NULL) < 0)
		abort();
	o.n_members = d->n_members;
	memcpy(o.members, d->members, sizeof(o.members));
	wire_buf_init(&b);
	if (wire_encode_offer(&b, &o) == 0)
		send_frame(d, b.data, b.len);
	wire_buf_free(&b);
}

/* cluster.c deliver_frame */
static void deliver_frame(struct sxd *d, uint32_t nodeid, uint16_t type, const uint8_t *msg,
			  size_t len)
{
	switch (type) {
	case WIRE_CMD:
		if (d->round.open)
			buffer_frame(d, nodeid, msg, len);
		else
			apply_frame(d, nodeid, msg, len, d->cur_msgid, d->cur_frame);
		break;
	case WIRE_SYNC_OFFER:
		got_offer(d, nodeid, msg, len);
		break;
	case WIRE_SNAP_CHUNK:
		got_chunk(d, nodeid, msg, len);
		break;
	default:
		break;
	}
}

/* cluster.c cpg_deliver: whole wire frames back to back */
static void cpg_deliver(struct sxd *d, struct sim_item *it)
{
	const uint8_t *p = it->data;
	size_t len = it->len;
	uint16_t type;
	size_t total;

	d->cur_msgid = it->msgid;
	d->cur_frame = 0;
	while (len > 0) {
		if (wire_peek(p, len, &type, &total) < 0 || total > len)
			return;
		deliver_frame(d, it->sender, type, p, total);
		p += total;
		len -= total;
		d->cur_frame++;
	}
}

/* cluster.c cpg_confchg */
static void cpg_confchg(struct sxd *d, struct sim_item *it)
{
	struct wire_cmd wc;
	uint32_t n = 0;
	bool was_open, log;

	for (uint32_t i = 0; i < it->n_members && n < XH_MAX_HOSTS; i++)
		d->members[n++] = it->members[i];
	d->n_members = n;
	sync_sort(d->members, n);
	was_open = d->round.open;
	if (was_open) {
		apply_buffered(d);
		d->round.open = false;
	}
	memset(&wc, 0, sizeof(wc));
	wc.cmd.type = XH_CMD_MEMBERSHIP;
	wc.cmd.sender = d->nodeid;
	wc.cmd.time_ms = S.now;
	wc.cmd.u.members.n = n;
	memcpy(wc.cmd.u.members.nodeids, d->members, n * sizeof(uint32_t));
	log = sim_log_membership_once(d->n->ring, d->members, n);
	if (log) {
		char buf[200];
		size_t o = 0;

		buf[0] = '\0';
		for (uint32_t i = 0; i < n && o < sizeof(buf) - 8; i++)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%u", i ? "," : "", d->members[i]);
		sim_log("xenhad group members=%s", buf);
	}
	apply_cmd(d, &wc, log);
	if (it->n_joined > 0 || was_open || !d->synced)
		start_round(d);
}

/* cluster.c vq_refresh + vq_notify */
static void vq_notify(struct sxd *d)
{
	d->vq_quorate = sim_vq_quorate(d->n);
	d->expected_votes = S.expected;
	if (d->synced)
		send_hello_if_needed(d);
	xd_kick(d);
}

void sxd_deliver(struct sim_node *n, struct sim_item *it)
{
	struct sxd *d = n->xd;

	switch (it->kind) {
	case IT_MSG: cpg_deliver(d, it); break;
	case IT_CONFCHG: cpg_confchg(d, it); break;
	case IT_VQ: vq_notify(d); break;
	default: break;
	}
}

/* ---- the domain monitor (executor.c hv_end) ---- */

static void send_report(struct sxd *d, uint8_t type, const char *name, uint64_t gen,
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
	send_cmd(d, &c, 0);
}

static void hv_end(struct sxd *d, const char *name, uint64_t generation, int reason)
{
	const struct xh_domain *dom = xh_state_domain(&d->st, name);
	const char *detail = reason == HV_END_CRASH ? "crashed" :
			     reason == HV_END_SHUTDOWN ? "guest shut down" : "stopped";

	if (!dom || dom->owner != d->nodeid || dom->generation != generation)
		return;
	if (dom->state == XH_DS_STOPPING) {
		send_report(d, XH_CMD_STOPPED, name, generation, 0, detail);
		mark_set(d->reported, name, XH_CMD_STOPPED, generation, dom->state, S.now);
	} else if (dom->state == XH_DS_STARTING || dom->state == XH_DS_RUNNING ||
		   dom->state == XH_DS_LOST) {
		send_report(d, XH_CMD_EXITED, name, generation, reason != HV_END_SHUTDOWN, detail);
		mark_set(d->reported, name, XH_CMD_EXITED, generation, dom->state, S.now);
	}
	xd_kick(d);
}

/* ---- the executor (executor.c do_start / run_executor) ---- */

static void do_start(struct sxd *d, const struct rec_action *a)
{
	const struct xh_domain *dom = xh_state_domain(&d->st, a->name);
	int rc;

	if (!dom)
		return;
	if (d->dirty)
		persist_save(d);
	rc = sim_hv_start(d->n, dom->name, dom->generation);
	if (rc == 0 || rc == -EEXIST) {
		send_report(d, XH_CMD_STARTED, a->name, a->generation, 0, NULL);
	} else {
		char why[XH_REASON_MAX];

		snprintf(why, sizeof(why), "start failed: %s", strerror(-rc));
		send_report(d, XH_CMD_START_FAILED, a->name, a->generation, 0, why);
	}
}

/* ---- migrations (migrate.c: the table, xd_mig_start, xd_mig_table) ---- */

#define XD_MIG_EXPECT_MS 30000            /* migrate.c MIG_EXPECT_MS */

static int mig_find(struct sxd *d, const char *name, uint64_t mig_id, uint8_t role)
{
	for (uint32_t i = 0; i < d->n_mig; i++)
		if (d->mig[i].mig_id == mig_id && d->mig[i].role == role &&
		    strcmp(d->mig[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void mig_start(struct sxd *d, const struct rec_action *a)
{
	uint8_t role = a->type == REC_MIGRATE_SEND ? REC_MIG_SOURCE : REC_MIG_TARGET;
	struct rec_mig *e;

	if (mig_find(d, a->name, a->mig_id, role) >= 0 || d->n_mig >= SIM_MAX_MIGS)
		return;
	e = &d->mig[d->n_mig];
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", a->name);
	e->mig_id = a->mig_id;
	e->role = role;
	e->outcome = REC_MIG_IN_PROGRESS;
	d->mig_why[d->n_mig][0] = '\0';
	d->mig_at[d->n_mig] = S.now;
	d->mig_claimed[d->n_mig] = false;
	d->n_mig++;
	sim_nlog(d->n, "xenhad: domain %s: migration id=%" PRIu64 " %s h%u", a->name, a->mig_id,
		 role == REC_MIG_SOURCE ? "sending to" : "expecting from", a->peer);
	if (role == REC_MIG_SOURCE)
		sim_mig_send(d->n, a->name, a->mig_id, a->peer, a->generation + 1);
}

/* xd_mig_table: drop what the state no longer names (and has ended),
 * but an IN_DOUBT send while its paused copy is here; an unclaimed
 * receive the state no longer names, or nobody connected to within
 * XD_MIG_EXPECT_MS, fails */
static void mig_table(struct sxd *d)
{
	uint32_t k = 0;
	struct sim_dom *sd;

	for (uint32_t i = 0; i < d->n_mig; i++) {
		struct rec_mig *e = &d->mig[i];
		const struct xh_domain *dom = xh_state_domain(&d->st, e->name);

		if (e->role == REC_MIG_TARGET && e->outcome == REC_MIG_IN_PROGRESS &&
		    !d->mig_claimed[i] &&
		    (!dom || dom->mig_id != e->mig_id || S.now - d->mig_at[i] > XD_MIG_EXPECT_MS))
			e->outcome = REC_MIG_FAILED;
		if (e->outcome != REC_MIG_IN_PROGRESS && (!dom || dom->mig_id != e->mig_id) &&
		    !(e->outcome == REC_MIG_IN_DOUBT && (sd = sim_hv_find(d->n, e->name)) &&
		      sd->paused))
			continue;
		d->mig[k] = *e;
		memmove(d->mig_why[k], d->mig_why[i], XH_REASON_MAX);
		d->mig_at[k] = d->mig_at[i];
		d->mig_claimed[k] = d->mig_claimed[i];
		k++;
	}
	d->n_mig = k;
}

bool sxd_mig_take(struct sim_node *n, const char *name, uint64_t mig_id, uint32_t src)
{
	struct sxd *d = n->xd;
	const struct xh_domain *dom;
	int i;

	if (!d || !n->proc[GRP_XD].running || (i = mig_find(d, name, mig_id, REC_MIG_TARGET)) < 0)
		return false;
	dom = xh_state_domain(&d->st, name);
	if (d->mig_claimed[i] || d->mig[i].outcome != REC_MIG_IN_PROGRESS || !dom ||
	    dom->owner != src)
		return false;
	d->mig_claimed[i] = true;
	return true;
}

void sxd_mig_result(struct sim_node *n, const char *name, uint64_t mig_id, uint8_t role,
		    uint8_t outcome, const char *why)
{
	struct sxd *d = n->xd;
	int i;

	if (!d || !n->proc[GRP_XD].running || (i = mig_find(d, name, mig_id, role)) < 0)
		return;
	d->mig[i].outcome = outcome;
	snprintf(d->mig_why[i], XH_REASON_MAX, "%s", why);
	sim_nlog(n, "xenhad: domain %s: migration id=%" PRIu64 " as %s: %s (%s)", name, mig_id,
		 role == REC_MIG_SOURCE ? "source" : "target",
		 outcome == REC_MIG_DONE ? "done" : outcome == REC_MIG_ABORTED ? "aborted" :
		 outcome == REC_MIG_IN_DOUBT ? "in doubt" : "failed", why);
	xd_kick(d);
}

/* executor.c send_mig_report */
static void send_mig_report(struct sxd *d, const struct rec_action *a)
{
	struct xh_cmd c;
	int i = mig_find(d, a->name, a->mig_id, REC_MIG_SOURCE);

	memset(&c, 0, sizeof(c));
	c.type = a->type == REC_REPORT_MIG_DONE ? XH_CMD_MIGRATE_DONE : XH_CMD_MIGRATE_ABORTED;
	snprintf(c.u.mig.name, sizeof(c.u.mig.name), "%s", a->name);
	c.u.mig.mig_id = a->mig_id;
	if (c.type == XH_CMD_MIGRATE_DONE) {
		c.u.mig.target = d->nodeid;
		c.u.mig.downtime_ms = a->downtime_ms;
	} else {
		bool ours = i >= 0 && d->mig_why[i][0] &&
			    (d->mig[i].outcome == REC_MIG_ABORTED || d->mig[i].outcome == REC_MIG_FAILED);

		c.u.mig.source = d->nodeid;
		snprintf(c.u.mig.reason, sizeof(c.u.mig.reason), "%s",
			 ours ? d->mig_why[i] : a->why ? a->why : "");
	}
	send_cmd(d, &c, 0);
}

static void run_executor(struct sxd *d, uint64_t now)
{
	struct rec_local local[SIM_MAX_DOMS];
	struct rec_action *acts;
	struct rec_input in;
	uint32_t n_acts = 0, cap = 2 * (d->n->n_dom + d->st.n_domains) + 1;
	bool skip_next = false;

	acts = calloc(cap, sizeof(*acts));
	if (!acts)
		abort();
	for (uint32_t i = 0; i < d->n->n_dom; i++) {
		snprintf(local[i].name, sizeof(local[i].name), "%s", d->n->dom[i].name);
		local[i].generation = d->n->dom[i].generation;
		local[i].running = !d->n->dom[i].paused;
	}
	in.me = d->nodeid;
	in.synced = d->synced;
	in.quorate = d->vq_quorate;
	in.local = local;
	in.n_local = d->n->n_dom;
	mig_table(d);
	if (rec_compute_mig(&d->st, &in, d->mig, d->n_mig, acts, cap, &n_acts) < 0)
		sim_nlog(d->n, "xenhad: reconcile failed");
	for (uint32_t i = 0; i < n_acts; i++) {
		const struct rec_action *a = &acts[i];
		const struct xh_domain *dom = xh_state_domain(&d->st, a->name);
		uint8_t st = dom ? dom->state : 0;
		struct sim_dom *sd;

		if (skip_next) {
			skip_next = false;
			continue;
		}
		switch (a->type) {
		case REC_MIGRATE_SEND:
		case REC_MIGRATE_RECV:
			mig_start(d, a);
			break;
		case REC_RESUME:
			sd = sim_hv_find(d->n, a->name);
			if (sd && sd->paused) {
				sd->paused = false;
				sim_nlog(d->n, "hv: %s resumed (%s)", a->name, a->why);
				sim_safety_check();
			} else {
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
			sim_nlog(d->n, "xenhad: domain %s: shutting down (%s)", a->name, a->why);
			sim_hv_stop(d->n, a->name, HV_END_STOPPED, true);
			break;
		case REC_DESTROY:
			sim_nlog(d->n, "xenhad: domain %s: destroying a copy on this host: %s",
				 a->name, a->why);
			sim_hv_stop(d->n, a->name, HV_END_STOPPED, true);
			break;
		case REC_REPORT_STARTED:
		case REC_REPORT_EXITED:
		case REC_REPORT_STOPPED: {
			uint8_t type = a->type == REC_REPORT_STARTED ? XH_CMD_STARTED :
				       a->type == REC_REPORT_EXITED ? XH_CMD_EXITED : XH_CMD_STOPPED;

			if (mark_fresh(d->reported, a->name, type, a->generation, st, now))
				break;
			mark_set(d->reported, a->name, type, a->generation, st, now);
			send_report(d, type, a->name, a->generation, type == XH_CMD_EXITED, a->why);
			break;
		}
		case REC_UNKNOWN:
			if (mark_fresh(d->reported, a->name, 0x80 | REC_UNKNOWN, 0, 0, now))
				break;
			mark_set(d->reported, a->name, 0x80 | REC_UNKNOWN, 0, 0, now);
			sim_nlog(d->n, "xenhad: domain %s: %s; leaving it alone", a->name, a->why);
			break;
		default:
			break;
		}
	}
	free(acts);
}

/* ---- the coordinator (executor.c run_coordinator) ---- */

static void run_coordinator(struct sxd *d, uint64_t now)
{
	struct sched_plan plan;
	struct sched_input in;

	memset(&in, 0, sizeof(in));
	in.now_ms = now;
	in.wall_ms = now;       /* the sim's one clock */
	in.migrate = true;
	in.max_concurrent = 2;  /* [migration] max_concurrent default */
	sched_plan_init(&plan);
	if (sched_compute(&d->st, &in, &plan) < 0)
		goto out;
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
			send_cmd(d, &c, 0);
			continue;
		}
		c.type = a->type == SCHED_PLACE ? XH_CMD_PLACE : XH_CMD_STOP;
		snprintf(c.u.place.name, sizeof(c.u.place.name), "%s", dom->name);
		c.u.place.nodeid = a->nodeid;
		c.u.place.generation = a->generation;
		send_cmd(d, &c, 0);
	}
	for (uint32_t i = 0; i < plan.n_unplaced; i++) {
		const struct xh_domain *dom = &d->st.domains[plan.unplaced[i].domain];

		if (mark_fresh(d->proposed, dom->name, 0xff, dom->generation, dom->state, now))
			continue;
		mark_set(d->proposed, dom->name, 0xff, dom->generation, dom->state, now);
		sim_nlog(d->n, "xenhad: domain %s: cannot be placed: %s", dom->name,
			 plan.unplaced[i].why);
	}
out:
	sched_plan_free(&plan);
}

/* cluster.c xd_coordinator / xd_is_coordinator */
static bool is_coordinator(const struct sxd *d)
{
	return d->synced && d->vq_quorate && d->st.quorate && d->n_members > 0 &&
	       d->members[0] == d->nodeid;
}

/* executor.c work */
static void work(struct sxd *d)
{
	d->work_queued = false;
	d->work_last_ms = S.now;
	if (!d->synced)
		return;
	run_executor(d, S.now);
	if (is_coordinator(d))
		run_coordinator(d, S.now);
}

/* executor.c xd_kick: at most one pass every XD_WORK_GAP_MS */
static void xd_kick(struct sxd *d)
{
	if (d->work_queued)
		return;
	d->work_due = d->work_last_ms + XD_WORK_GAP_MS;
	if (d->work_due < S.now)
		d->work_due = S.now;
	d->work_queued = true;
}

/*
 * The daemon's main loop, one turn: hypervisor events (hv_fd_cb), then the
 * timers: the persist timer, the 1 s tick, the coalesced work pass.
 */
void sxd_timers(struct sim_node *n)
{
	struct sxd *d = n->xd;

	while (n->n_hvev > 0) {
		struct sim_hvev e = n->hvev[0];

		memmove(&n->hvev[0], &n->hvev[1], (n->n_hvev - 1) * sizeof(n->hvev[0]));
		n->n_hvev--;
		hv_end(d, e.name, e.generation, e.reason);
	}
	if (d->persist_due && S.now >= d->persist_due) {
		d->persist_due = 0;
		if (d->dirty)
			persist_save(d);
	}
	if (S.now >= d->tick_next) {
		d->tick_next = S.now + XD_TICK_MS;
		xd_kick(d);
	}
	if (d->work_queued && S.now >= d->work_due)
		work(d);
}

/* main.c: load the state, open the driver, join the group */
void sxd_start(struct sim_node *n)
{
	struct sxd *d = calloc(1, sizeof(*d));

	if (!d)
		abort();
	d->n = n;
	d->nodeid = n->id;
	n->xd = d;
	wire_buf_init(&d->snap);
	persist_load(d);
	d->expected_votes = S.expected;
	d->vq_quorate = sim_vq_quorate(n);
	d->tick_next = S.now + XD_TICK_MS;
	n->n_hvev = 0;
}

/* main.c exit path: a clean stop saves the state; a kill does not */
void sxd_stop(struct sim_node *n, bool clean)
{
	struct sxd *d = n->xd;

	if (!d)
		return;
	if (clean && (d->st.domains || d->st.events))
		persist_save(d);
	while (d->buf_head) {
		struct buffered *b = d->buf_head;

		d->buf_head = b->next;
		free(b);
	}
	wire_buf_free(&d->snap);
	xh_state_free(&d->st);
	free(d);
	n->xd = NULL;
}

/* ipc.c build_write (the write operations) */
int sxd_ipc_write(struct sim_node *n, const struct ipc_req *r, char *err, size_t errlen)
{
	struct sxd *d = n->xd;
	const struct xh_host *h;
	struct xh_cmd cmd;

	memset(&cmd, 0, sizeof(cmd));
	err[0] = '\0';
	/* ipc.c handle_request: writes need a synchronised, quorate node */
	if (!sxd_synced(n)) {
		snprintf(err, errlen, "cluster not ready: this node's state is not synchronised yet");
		return -EAGAIN;
	}
	if (!sim_vq_quorate(n) || !d->st.quorate) {
		snprintf(err, errlen, "cluster not ready: this partition has no quorum");
		return -EAGAIN;
	}
	switch (r->op) {
	case IPC_OP_DOMAIN_ADD:
		cmd.type = XH_CMD_DOMAIN_ADD;
		cmd.u.dom.def = r->def;
		return send_cmd(d, &cmd, 1);
	case IPC_OP_DOMAIN_SET:
		cmd.type = XH_CMD_DOMAIN_SET;
		cmd.u.dom.def = r->def;
		snprintf(cmd.u.dom.def.name, sizeof(cmd.u.dom.def.name), "%s", r->name);
		cmd.u.dom.mask = r->mask;
		break;
	case IPC_OP_DOMAIN_REMOVE:
		cmd.type = XH_CMD_DOMAIN_REMOVE;
		break;
	case IPC_OP_DOMAIN_START:
		cmd.type = XH_CMD_DOMAIN_START;
		break;
	case IPC_OP_DOMAIN_STOP:
		cmd.type = XH_CMD_DOMAIN_STOP;
		break;
	case IPC_OP_FENCE_CONFIRM:
	case IPC_OP_FENCE_BEGIN:
	case IPC_OP_NODE_FLAGS:
		h = xh_state_host_by_name(&d->st, r->name);
		if (!h) {
			snprintf(err, errlen, "no such host: %s", r->name);
			return -ENOENT;
		}
		if (r->op == IPC_OP_NODE_FLAGS) {
			cmd.type = XH_CMD_HOST_FLAGS;
			cmd.u.flags.nodeid = h->nodeid;
			cmd.u.flags.standby = r->standby < 0 ? h->standby : (uint8_t)r->standby;
			cmd.u.flags.maintenance = r->maintenance < 0 ? h->maintenance :
					(uint8_t)r->maintenance;
		} else {
			cmd.type = r->op == IPC_OP_FENCE_CONFIRM ? XH_CMD_FENCE_CONFIRM :
				   XH_CMD_FENCE_BEGIN;
			cmd.u.fence.nodeid = h->nodeid;
			if (r->by[0])
				snprintf(cmd.u.fence.by, sizeof(cmd.u.fence.by), "%s", r->by);
			else
				snprintf(cmd.u.fence.by, sizeof(cmd.u.fence.by),
					 "operator on %.40s", d->n->name);
		}
		return send_cmd(d, &cmd, 1);
	case IPC_OP_MIGRATE: {
		const struct xh_domain *dom = xh_state_domain(&d->st, r->name);
		uint32_t id = 0;
		int rc;

		if (!dom) {
			snprintf(err, errlen, "no such domain: %s", r->name);
			return -ENOENT;
		}
		if (r->host[0]) {
			h = xh_state_host_by_name(&d->st, r->host);
			if (!h) {
				snprintf(err, errlen, "no such host: %s", r->host);
				return -ENOENT;
			}
			id = h->nodeid;
		} else if ((rc = sched_pick_migration_target(&d->st, r->name, &id)) < 0) {
			snprintf(err, errlen, "no host can take %s now (%s)", r->name, strerror(-rc));
			return rc;
		}
		cmd.type = XH_CMD_MIGRATE_BEGIN;
		snprintf(cmd.u.mig.name, sizeof(cmd.u.mig.name), "%s", r->name);
		cmd.u.mig.source = dom->owner;
		cmd.u.mig.target = id;
		cmd.u.mig.generation = dom->generation;
		return send_cmd(d, &cmd, 1);
	}
	default:
		snprintf(err, errlen, "not a write operation");
		return -EINVAL;
	}
	if (!xh_state_domain(&d->st, r->name)) {
		snprintf(err, errlen, "no such domain: %s", r->name);
		return -ENOENT;
	}
	if (cmd.type != XH_CMD_DOMAIN_SET)
		snprintf(cmd.u.name.name, sizeof(cmd.u.name.name), "%s", r->name);
	return send_cmd(d, &cmd, 1);
}

const struct xh_state *sxd_state(const struct sim_node *n)
{
	return n->xd ? &n->xd->st : NULL;
}

bool sxd_synced(const struct sim_node *n)
{
	return n->xd && n->xd->synced;
}

bool sxd_is_coordinator(const struct sim_node *n)
{
	return n->xd && is_coordinator(n->xd);
}
