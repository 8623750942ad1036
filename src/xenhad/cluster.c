/*
 * Corosync glue: CPG (agreed order) for commands, sync offers and
 * snapshots; votequorum for the local quorum view; cmap for our name.
 *
 * Every command is applied in delivery order.  A configuration change is
 * applied as a MEMBERSHIP command at the point CPG delivers it, which is
 * the same point of the stream on every node that sees it (virtual
 * synchrony).  The sync rule (include/xenha/syncround.h) makes joiners and
 * merged partitions agree on one state.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include <corosync/cmap.h>
#include <qb/qblog.h>

#include "xenhad.h"
#include "../common/daemon.h"

#define XD_GROUP "xenha"
#define XD_CHUNK (256u * 1024u)
#define XD_BATCH_FRAMES 64
#define XD_BATCH_BYTES (64u * 1024u)

struct xd_buffered {
	struct xd_buffered *next;
	uint32_t nodeid;
	size_t len;
	uint8_t data[];
};

struct xd_outq {
	struct xd_outq *next;
	size_t len;
	uint8_t data[];
};

static struct cpg_name group_name = { .length = sizeof(XD_GROUP) - 1, .value = XD_GROUP };

uint64_t xd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint32_t xd_coordinator(const struct xd *d)
{
	if (!d->st.quorate || d->n_members == 0)
		return 0;
	return d->members[0];
}

bool xd_is_coordinator(const struct xd *d)
{
	return d->synced && d->vq_quorate && d->st.quorate && xd_coordinator(d) == d->nodeid;
}

/* ---- sending, with CPG flow control ---- */

static void outq_timer_cb(void *arg);

static int outq_flush(struct xd *d)
{
	while (d->outq_head) {
		struct iovec iov[XD_BATCH_FRAMES];
		struct xd_outq *q = d->outq_head;
		size_t bytes = 0;
		unsigned n = 0;
		cs_error_t err;

		/* several queued frames go out as one CPG message (receivers
		 * split them again), up to XD_BATCH_BYTES */
		while (q && n < XD_BATCH_FRAMES && (n == 0 || bytes + q->len <= XD_BATCH_BYTES)) {
			iov[n].iov_base = q->data;
			iov[n].iov_len = q->len;
			bytes += q->len;
			n++;
			q = q->next;
		}
		err = cpg_mcast_joined(d->cpg, CPG_TYPE_AGREED, iov, n);
		if (err == CS_ERR_TRY_AGAIN) {
			qb_loop_timer_add(d->loop, QB_LOOP_HIGH, 5 * QB_TIME_NS_IN_MSEC, d,
					  outq_timer_cb, &d->outq_timer);
			return -EAGAIN;
		}
		if (err != CS_OK)
			qb_log(LOG_ERR, "cpg_mcast_joined failed err=%d frames=%u bytes=%zu; dropped",
			       err, n, bytes);
		while (n-- > 0) {
			q = d->outq_head;
			d->outq_head = q->next;
			d->outq_len--;
			free(q);
		}
		if (!d->outq_head)
			d->outq_tail = NULL;
	}
	return 0;
}

static void outq_timer_cb(void *arg)
{
	outq_flush(arg);
}

/* Sends are flushed at the end of the current loop iteration, so the
 * commands produced while handling one event leave as one message. */
static void outq_job(void *arg)
{
	struct xd *d = arg;

	d->outq_flush_queued = false;
	outq_flush(d);
}

static int send_frame(struct xd *d, const uint8_t *p, size_t len)
{
	struct xd_outq *q = malloc(sizeof(*q) + len);

	if (!q)
		return -ENOMEM;
	q->next = NULL;
	q->len = len;
	memcpy(q->data, p, len);
	if (d->outq_tail)
		d->outq_tail->next = q;
	else
		d->outq_head = q;
	d->outq_tail = q;
	d->outq_len++;
	if (!d->outq_flush_queued &&
	    qb_loop_job_add(d->loop, QB_LOOP_HIGH, d, outq_job) == 0)
		d->outq_flush_queued = true;
	return 0;
}

int xd_send_cmd(struct xd *d, struct xh_cmd *c, uint64_t req_id)
{
	struct wire_cmd wc;
	struct wire_buf b;
	int rc;

	c->sender = d->nodeid;
	if (!c->time_ms)
		c->time_ms = xd_now_ms();
	memset(&wc, 0, sizeof(wc));
	wc.req_id = req_id;
	wc.cmd = *c;
	wire_buf_init(&b);
	rc = wire_encode_cmd(&b, &wc);
	if (rc == 0)
		rc = send_frame(d, b.data, b.len);
	wire_buf_free(&b);
	if (rc < 0)
		qb_log(LOG_ERR, "cannot send cmd=%s: %s", xh_cmd_type_str(c->type), strerror(-rc));
	return rc;
}

void xd_send_progress(struct xd *d, const struct wire_progress *p)
{
	struct wire_buf b;

	wire_buf_init(&b);
	if (wire_encode_progress(&b, p) == 0)
		send_frame(d, b.data, b.len);
	wire_buf_free(&b);
}

/* ---- applying ---- */

static void log_new_events(struct xd *d, uint64_t from_seq)
{
	uint32_t first = d->st.ev_count;

	/* the ring is oldest first: walk back only over the new events */
	while (first > 0 && xh_state_event(&d->st, first - 1)->seq >= from_seq)
		first--;
	for (uint32_t i = first; i < d->st.ev_count; i++) {
		const struct xh_event *e = xh_state_event(&d->st, i);
		const struct xh_host *h;

		h = e->nodeid ? xh_state_host(&d->st, e->nodeid) : NULL;
		if (e->type == XH_EV_DOMAIN_STATE)
			qb_log(LOG_NOTICE, "domain %s: %s", e->domain, e->text);
		else
			qb_log(LOG_NOTICE, "%s: %s%s%s", xh_event_type_str(e->type), e->text,
			       h ? " host=" : "", h ? h->name : "");
	}
}

static void apply_cmd(struct xd *d, const struct wire_cmd *wc)
{
	struct xh_apply_result res = { 0 };
	uint64_t ev0 = d->st.ev_next_seq;
	int rc = xh_state_apply(&d->st, &wc->cmd, &res);

	if (rc < 0)
		qb_log(LOG_DEBUG, "rejected cmd=%s sender=%u seq=%llu reason=\"%s\"",
		       xh_cmd_type_str(wc->cmd.type), wc->cmd.sender,
		       (unsigned long long)d->st.seq, res.reason);
	else
		qb_log(LOG_TRACE, "applied cmd=%s sender=%u seq=%llu",
		       xh_cmd_type_str(wc->cmd.type), wc->cmd.sender,
		       (unsigned long long)d->st.seq);
	log_new_events(d, ev0);
	if (rc == 0)
		xd_mig_view_applied(d, &wc->cmd, d->st.seq);
	if (wc->cmd.sender == d->nodeid && wc->req_id)
		xd_ipc_applied(d, wc->req_id, rc, res.reason, d->st.seq);
	xd_persist_mark(d);
	xd_kick(d);
}

static void apply_frame(struct xd *d, uint32_t nodeid, const uint8_t *p, size_t len)
{
	struct wire_cmd wc;
	int rc = wire_decode_cmd(p, len, &wc);

	if (rc < 0) {
		qb_log(LOG_WARNING, "dropped malformed command from node=%u bytes=%zu: %s",
		       nodeid, len, strerror(-rc));
		return;
	}
	wc.cmd.sender = nodeid;  /* the transport, not the payload, says who sent it */
	if (wc.cmd.type == XH_CMD_MEMBERSHIP) {
		qb_log(LOG_WARNING, "dropped membership command sent by node=%u", nodeid);
	} else {
		apply_cmd(d, &wc);
	}
	wire_cmd_free(&wc);
}

static void buffer_frame(struct xd *d, uint32_t nodeid, const uint8_t *p, size_t len)
{
	struct xd_buffered *b = malloc(sizeof(*b) + len);

	if (!b) {
		qb_log(LOG_CRIT, "out of memory buffering a command during sync");
		abort();
	}
	b->next = NULL;
	b->nodeid = nodeid;
	b->len = len;
	memcpy(b->data, p, len);
	if (d->buf_tail)
		d->buf_tail->next = b;
	else
		d->buf_head = b;
	d->buf_tail = b;
	d->buf_len++;
}

static void apply_buffered(struct xd *d)
{
	uint32_t n = d->buf_len;

	while (d->buf_head) {
		struct xd_buffered *b = d->buf_head;

		d->buf_head = b->next;
		apply_frame(d, b->nodeid, b->data, b->len);
		free(b);
	}
	d->buf_tail = NULL;
	d->buf_len = 0;
	if (n)
		qb_log(LOG_DEBUG, "applied buffered commands=%u", n);
}

/* ---- sync rounds ---- */

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

static void send_hello_if_needed(struct xd *d)
{
	const struct xh_host *h = xh_state_host(&d->st, d->nodeid);
	uint64_t total = 0;
	struct xh_cmd c;

	if (d->hv->host_memory(d->hvh, &total) < 0)
		total = 0;
	if (h && d->hello_sent && strcmp(h->name, d->name) == 0 && h->mem_total_mb == total &&
	    d->st.expected_votes >= d->expected_votes)
		return;
	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_HELLO;
	c.u.hello.nodeid = d->nodeid;
	snprintf(c.u.hello.name, sizeof(c.u.hello.name), "%s", d->name);
	c.u.hello.mem_total_mb = total;
	c.u.hello.mem_reserved_mb = d->cfg.mem_reserved_mb;
	c.u.hello.dom_overhead_mb = d->cfg.dom_overhead_mb;
	c.u.hello.expected_votes = d->expected_votes;
	if (xd_send_cmd(d, &c, 0) == 0)
		d->hello_sent = true;
}

static void finish_round(struct xd *d, const char *how)
{
	d->round.open = false;
	d->synced = true;
	d->rounds++;
	wire_buf_free(&d->snap);
	wire_buf_init(&d->snap);
	qb_log(LOG_NOTICE, "state synchronised (%s) winner=%u seq=%llu qseq=%llu members=%u",
	       how, d->round.winner.nodeid, (unsigned long long)d->st.seq,
	       (unsigned long long)d->st.qseq, d->n_members);
	apply_buffered(d);
	xd_exec_forget(d);
	send_hello_if_needed(d);
	xd_persist_mark(d);
	xd_kick(d);
}

static void round_decided(struct xd *d)
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
		int rc = state_digest(&d->st, &digest, &snap);

		if (rc < 0) {
			qb_log(LOG_CRIT, "cannot encode snapshot: %s", strerror(-rc));
			abort();
		}
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
		qb_log(LOG_INFO, "sent snapshot bytes=%zu chunks=%u seq=%llu", snap.len, count,
		       (unsigned long long)d->st.seq);
		wire_buf_free(&snap);
		finish_round(d, "we won");
		return;
	}
	if (mine == w->digest) {
		finish_round(d, "same as winner");
		return;
	}
	qb_log(LOG_INFO, "waiting for snapshot from node=%u", w->nodeid);
	wire_buf_free(&d->snap);
	wire_buf_init(&d->snap);
	d->snap_next = 0;
}

static void got_chunk(struct xd *d, uint32_t nodeid, const uint8_t *p, size_t len)
{
	struct wire_chunk ch;
	struct xh_state ns;
	int rc = wire_decode_chunk(p, len, &ch);

	if (rc < 0) {
		qb_log(LOG_WARNING, "dropped malformed snapshot chunk from node=%u", nodeid);
		return;
	}
	if (!d->round.open || !d->round.decided || ch.nodeid != nodeid ||
	    nodeid != d->round.winner.nodeid || ch.round != d->round.winner.seq)
		return;  /* not the snapshot we wait for (or we did not need one) */
	if (ch.index != d->snap_next || ch.count == 0 || ch.index >= ch.count) {
		qb_log(LOG_ERR, "snapshot chunk out of order index=%u expected=%u", ch.index, d->snap_next);
		return;
	}
	if (d->snap.len + ch.len > ch.total_len) {
		qb_log(LOG_ERR, "snapshot chunk overflows total=%u", ch.total_len);
		return;
	}
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
	rc = wire_decode_snapshot(d->snap.data, d->snap.len, &ns);
	if (rc < 0) {
		qb_log(LOG_CRIT, "snapshot from node=%u rejected: %s", nodeid, strerror(-rc));
		return;
	}
	xh_state_free(&d->st);
	d->st = ns;
	qb_log(LOG_INFO, "installed snapshot from node=%u bytes=%zu seq=%llu domains=%u",
	       nodeid, d->snap.len, (unsigned long long)d->st.seq, d->st.n_domains);
	finish_round(d, "installed snapshot");
}

static void got_offer(struct xd *d, uint32_t nodeid, const uint8_t *p, size_t len)
{
	struct wire_offer o;
	struct sync_offer so;
	int rc = wire_decode_offer(p, len, &o);

	if (rc < 0 || o.nodeid != nodeid) {
		qb_log(LOG_WARNING, "dropped malformed sync offer from node=%u", nodeid);
		return;
	}
	so.nodeid = o.nodeid;
	so.qseq = o.qseq;
	so.seq = o.seq;
	so.digest = o.digest;
	rc = sync_round_offer(&d->round, &so, o.members, o.n_members);
	if (rc == 1)
		round_decided(d);
	else if (rc < 0)
		qb_log(LOG_DEBUG, "ignored sync offer from node=%u: %s", nodeid, strerror(-rc));
}

static void start_round(struct xd *d)
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
	qb_log(LOG_INFO, "sync round started members=%u qseq=%llu seq=%llu digest=%08x",
	       d->n_members, (unsigned long long)o.qseq, (unsigned long long)o.seq, o.digest);
}

/* ---- CPG callbacks ---- */

static void deliver_frame(struct xd *d, uint32_t nodeid, uint16_t type,
			  const uint8_t *msg, size_t len);

/* One CPG message carries one or more whole wire frames, back to back. */
static void cpg_deliver(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid,
			uint32_t pid, void *msg, size_t len)
{
	struct xd *d = NULL;
	const uint8_t *p = msg;
	uint16_t type;
	size_t total;

	cpg_context_get(h, (void **)&d);
	while (len > 0) {
		if (wire_peek(p, len, &type, &total) < 0 || total > len) {
			qb_log(LOG_WARNING, "dropped malformed message from node=%u bytes=%zu",
			       nodeid, len);
			return;
		}
		deliver_frame(d, nodeid, type, p, total);
		p += total;
		len -= total;
	}
}

static void deliver_frame(struct xd *d, uint32_t nodeid, uint16_t type,
			  const uint8_t *msg, size_t len)
{
	switch (type) {
	case WIRE_CMD:
		if (d->round.open)
			buffer_frame(d, nodeid, msg, len);
		else
			apply_frame(d, nodeid, msg, len);
		break;
	case WIRE_SYNC_OFFER:
		got_offer(d, nodeid, msg, len);
		break;
	case WIRE_SNAP_CHUNK:
		got_chunk(d, nodeid, msg, len);
		break;
	case WIRE_MIG_PROGRESS: {
		struct wire_progress pr;

		if (wire_decode_progress(msg, len, &pr) == 0 && pr.nodeid == nodeid)
			xd_mig_view_progress(d, &pr);
		break;
	}
	default:
		qb_log(LOG_WARNING, "dropped message type=%u from node=%u", type, nodeid);
	}
}

static void cpg_confchg(cpg_handle_t h, const struct cpg_name *g,
			const struct cpg_address *mem, size_t n_mem,
			const struct cpg_address *left, size_t n_left,
			const struct cpg_address *joined, size_t n_joined)
{
	struct xd *d = NULL;
	struct wire_cmd wc;
	uint32_t n = 0;
	bool was_open;

	cpg_context_get(h, (void **)&d);
	for (size_t i = 0; i < n_mem && n < XH_MAX_HOSTS; i++) {
		bool dup = false;

		for (uint32_t j = 0; j < n; j++)
			dup |= d->members[j] == mem[i].nodeid;
		if (!dup)
			d->members[n++] = mem[i].nodeid;
	}
	d->n_members = n;
	sync_sort(d->members, n);
	for (size_t i = 0; i < n_left; i++)
		qb_log(LOG_NOTICE, "node=%u left the group reason=%u", left[i].nodeid, left[i].reason);
	for (size_t i = 0; i < n_joined; i++)
		qb_log(LOG_NOTICE, "node=%u joined the group", joined[i].nodeid);

	was_open = d->round.open;
	if (was_open) {
		/* a round was interrupted: keep what we delivered, start over */
		apply_buffered(d);
		d->round.open = false;
	}
	memset(&wc, 0, sizeof(wc));
	wc.cmd.type = XH_CMD_MEMBERSHIP;
	wc.cmd.sender = d->nodeid;
	wc.cmd.time_ms = xd_now_ms();
	wc.cmd.u.members.n = n;
	memcpy(wc.cmd.u.members.nodeids, d->members, n * sizeof(uint32_t));
	apply_cmd(d, &wc);

	if (n_joined > 0 || was_open || !d->synced)
		start_round(d);
}

static cpg_callbacks_t cpg_cbs = {
	.cpg_deliver_fn = cpg_deliver,
	.cpg_confchg_fn = cpg_confchg,
};

/* ---- votequorum ---- */

static void vq_refresh(struct xd *d)
{
	struct votequorum_info info;

	if (votequorum_getinfo(d->vq, 0, &info) == CS_OK) {
		d->expected_votes = info.highest_expected;
		d->vq_quorate = (info.flags & VOTEQUORUM_INFO_QUORATE) != 0;
	}
}

static void vq_notify(votequorum_handle_t h, uint64_t ctx, uint32_t quorate,
		      uint32_t n, votequorum_node_t nodes[])
{
	struct xd *d = (struct xd *)(uintptr_t)ctx;
	bool was = d->vq_quorate;

	d->vq_quorate = quorate != 0;
	vq_refresh(d);
	if (was != d->vq_quorate)
		qb_log(LOG_NOTICE, "quorum %s (votequorum) nodes=%u expected_votes=%u",
		       d->vq_quorate ? "gained" : "lost", n, d->expected_votes);
	if (d->synced)
		send_hello_if_needed(d);
	xd_kick(d);
}

static votequorum_callbacks_t vq_cbs = {
	.votequorum_quorum_notify_fn = vq_notify,
};

/* ---- dispatch ---- */

static int32_t cpg_fd_cb(int32_t fd, int32_t revents, void *arg)
{
	struct xd *d = arg;
	cs_error_t err = cpg_dispatch(d->cpg, CS_DISPATCH_ALL);

	if (err != CS_OK && err != CS_ERR_TRY_AGAIN) {
		qb_log(LOG_CRIT, "lost connection to corosync (cpg err=%d); exiting", err);
		d->stopping = true;
		qb_loop_stop(d->loop);
		return -1;
	}
	return 0;
}

static int32_t vq_fd_cb(int32_t fd, int32_t revents, void *arg)
{
	struct xd *d = arg;
	cs_error_t err = votequorum_dispatch(d->vq, CS_DISPATCH_ALL);

	if (err != CS_OK && err != CS_ERR_TRY_AGAIN) {
		qb_log(LOG_CRIT, "lost connection to corosync (votequorum err=%d); exiting", err);
		d->stopping = true;
		qb_loop_stop(d->loop);
		return -1;
	}
	return 0;
}

static int lookup_name(struct xd *d)
{
	int rc = xh_node_name(&d->cfg, d->nodeid, d->name, sizeof(d->name));

	return rc == -ENOENT ? 0 : rc;
}

int xd_cluster_init(struct xd *d)
{
	cs_error_t err;
	int fd, tries;

	for (tries = 0; tries < 60; tries++) {
		err = cpg_initialize(&d->cpg, &cpg_cbs);
		if (err == CS_OK)
			break;
		if (tries == 0)
			qb_log(LOG_NOTICE, "waiting for corosync (cpg err=%d)", err);
		sleep(1);
	}
	if (err != CS_OK) {
		qb_log(LOG_ERR, "cannot connect to corosync cpg err=%d", err);
		return -ECONNREFUSED;
	}
	cpg_context_set(d->cpg, d);
	if (cpg_local_get(d->cpg, &d->nodeid) != CS_OK) {
		qb_log(LOG_ERR, "cannot get local node id from corosync");
		return -EIO;
	}
	if (lookup_name(d) < 0)
		return -EIO;
	err = votequorum_initialize(&d->vq, &vq_cbs);
	if (err != CS_OK) {
		qb_log(LOG_ERR, "cannot connect to votequorum err=%d", err);
		return -ECONNREFUSED;
	}
	votequorum_trackstart(d->vq, (uint64_t)(uintptr_t)d, CS_TRACK_CHANGES);
	vq_refresh(d);
	qb_log(LOG_NOTICE, "local node=%u name=%s expected_votes=%u quorate=%d",
	       d->nodeid, d->name, d->expected_votes, d->vq_quorate);

	votequorum_fd_get(d->vq, &fd);
	qb_loop_poll_add(d->loop, QB_LOOP_HIGH, fd, POLLIN, d, vq_fd_cb);
	cpg_fd_get(d->cpg, &fd);
	qb_loop_poll_add(d->loop, QB_LOOP_HIGH, fd, POLLIN, d, cpg_fd_cb);
	err = cpg_join(d->cpg, &group_name);
	if (err != CS_OK) {
		qb_log(LOG_ERR, "cannot join cpg group=%s err=%d", XD_GROUP, err);
		return -EIO;
	}
	return 0;
}

void xd_cluster_fini(struct xd *d)
{
	if (d->loop) {
		qb_loop_job_del(d->loop, QB_LOOP_HIGH, d, outq_job);
		qb_loop_timer_del(d->loop, d->outq_timer);
		d->outq_flush_queued = false;
	}
	if (d->cpg) {
		/* give queued messages a last chance, then leave */
		outq_flush(d);
		cpg_leave(d->cpg, &group_name);
		cpg_finalize(d->cpg);
		d->cpg = 0;
	}
	if (d->vq) {
		votequorum_finalize(d->vq);
		d->vq = 0;
	}
	while (d->outq_head) {
		struct xd_outq *q = d->outq_head;

		d->outq_head = q->next;
		free(q);
	}
	while (d->buf_head) {
		struct xd_buffered *b = d->buf_head;

		d->buf_head = b->next;
		free(b);
	}
	wire_buf_free(&d->snap);
}
