/*
 * xenha-fenced's corosync glue: the tick stream on its own CPG group
 * ("xenha-fenced", agreed order), the totem ring id (CPG model v1), and
 * votequorum.
 *
 * A tick is 40 bytes: "XHT1", node id u32, seq u64, send time u64 (the
 * sender's CLOCK_MONOTONIC ms), ring seq u64 (the totem ring it was sent
 * in), flags u32 (1 armed, 2 leaving), all big-endian.  Explicit
 * encoding; a frame of any other length or magic is dropped.
 *
 * The lease (fencerules.h): our own tick counts only when it is
 * delivered in the ring it was sent in, that ring holds a majority of
 * the expected votes, and votequorum says quorate at delivery (asked
 * synchronously, so a late quorum notification cannot let a minority
 * ring extend the lease).  Ticks delivered during a ring change were
 * sent in the old ring: their send time bounds what they can give, and
 * the survivors' wait counts the token timeout for exactly those.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <corosync/cmap.h>
#include <qb/qblog.h>

#include "fenced.h"
#include "../common/daemon.h"

#define FD_GROUP "xenha-fenced"
#define TICK_LEN 40
#define TICK_ARMED 1u
#define TICK_LEAVING 2u

static struct cpg_name group_name = { .length = sizeof(FD_GROUP) - 1, .value = FD_GROUP };

struct tick {
	uint32_t nodeid;
	uint64_t seq, sent_ms, ring;
	uint32_t flags;
};

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static void tick_encode(const struct tick *t, uint8_t out[TICK_LEN])
{
	memcpy(out, "XHT1", 4);
	put32(out + 4, t->nodeid);
	put64(out + 8, t->seq);
	put64(out + 16, t->sent_ms);
	put64(out + 24, t->ring);
	put32(out + 32, t->flags);
	put32(out + 36, 0);
}

static int tick_decode(const uint8_t *p, size_t len, struct tick *t)
{
	if (len != TICK_LEN || memcmp(p, "XHT1", 4) != 0 || get32(p + 36) != 0)
		return -EBADMSG;
	t->nodeid = get32(p + 4);
	t->seq = get64(p + 8);
	t->sent_ms = get64(p + 16);
	t->ring = get64(p + 24);
	t->flags = get32(p + 32);
	if (t->nodeid == 0 || t->nodeid > FD_MAX_NODE || (t->flags & ~3u) != 0)
		return -EBADMSG;
	return 0;
}

void fd_send_tick(struct fd *d, bool leaving)
{
	struct tick t = {
		.nodeid = d->nodeid, .seq = ++d->tick_seq, .sent_ms = fd_mono_ms(),
		.ring = d->ring_seq,
		.flags = (d->armed ? TICK_ARMED : 0) | (leaving ? TICK_LEAVING : 0),
	};
	uint8_t buf[TICK_LEN];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	cs_error_t err;

	tick_encode(&t, buf);
	err = cpg_mcast_joined(d->cpg, CPG_TYPE_AGREED, &iov, 1);
	if (err != CS_OK && err != CS_ERR_TRY_AGAIN)
		qb_log(LOG_WARNING, "tick not sent: cpg_mcast_joined err=%d", err);
}

/*
 * The survivors' "d" (fr_peer.last_tick_ms) must not be older than the
 * last moment a peer could have renewed a lease in a ring we were not
 * watching it in.  The proof of the timeout rule assumes the victim's
 * ticks reached us up to the break; the spin model (tests/model) found two
 * ways that fails if d moves only on delivered ticks: a peer's fencing
 * daemon stalls while it stays a member (d ages), resumes, renews its
 * lease with a tick only it delivers, then is cut off; or we regain quorum
 * after a partition during which the peer held a lease elsewhere.  So d is
 * also set to now whenever a peer leaves or joins our membership, and for
 * every peer when we regain quorum.
 */
static void touch_all_peers(struct fd *d)
{
	uint64_t now = fd_mono_ms();

	for (uint32_t i = 1; i <= FD_MAX_NODE; i++)
		if (d->peers[i].known)
			d->peers[i].last_tick_ms = now;
}

static void set_quorate(struct fd *d, bool q)
{
	if (q && !d->vq_quorate)
		touch_all_peers(d);
	d->vq_quorate = q;
}

static bool vq_quorate_now(struct fd *d)
{
	struct votequorum_info info;

	if (votequorum_getinfo(d->vq, 0, &info) != CS_OK)
		return false;
	d->expected_votes = info.node_expected_votes;
	set_quorate(d, (info.flags & VOTEQUORUM_INFO_QUORATE) != 0);
	return d->vq_quorate;
}

static void cpg_deliver(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid,
			uint32_t pid, void *msg, size_t len)
{
	struct fd *d = NULL;
	struct fd_peer *p;
	struct tick t;

	(void)g;
	(void)pid;
	cpg_context_get(h, (void **)&d);
	if (tick_decode(msg, len, &t) < 0 || t.nodeid != nodeid) {
		qb_log(LOG_WARNING, "dropped a malformed tick from node %u (%zu bytes)",
		       nodeid, len);
		return;
	}
	if (nodeid == d->nodeid) {
		/* the lease: same ring at send and delivery, a majority ring,
		 * quorate now; measured from the send time */
		if (t.ring == d->ring_seq && d->ring_members * 2 > d->expected_votes &&
		    vq_quorate_now(d) && (!d->have_lease_tick || t.sent_ms > d->lease_tick_sent_ms)) {
			d->have_lease_tick = true;
			d->lease_tick_sent_ms = t.sent_ms;
		}
		return;
	}
	p = &d->peers[nodeid];
	p->known = true;
	p->last_tick_ms = fd_mono_ms();
	p->last_seq = t.seq;
	p->armed = (t.flags & TICK_ARMED) != 0;
	if ((t.flags & TICK_LEAVING) && !p->left_cleanly)
		qb_log(LOG_NOTICE, "node %u announced a clean stop of its fencing daemon: it will "
		       "not be fenced automatically until it ticks again", nodeid);
	p->left_cleanly = (t.flags & TICK_LEAVING) != 0;
}

static void cpg_confchg(cpg_handle_t h, const struct cpg_name *g,
			const struct cpg_address *mem, size_t n_mem,
			const struct cpg_address *left, size_t n_left,
			const struct cpg_address *joined, size_t n_joined)
{
	struct fd *d = NULL;
	uint64_t live = 0;

	(void)g;
	cpg_context_get(h, (void **)&d);
	for (uint32_t i = 1; i <= FD_MAX_NODE; i++)
		d->peers[i].member = false;
	for (size_t i = 0; i < n_mem; i++) {
		uint32_t id = mem[i].nodeid;

		if (id == 0 || id > FD_MAX_NODE)
			continue;
		live |= 1ull << (id - 1);
		d->peers[id].member = true;
		if (!d->peers[id].known) {
			d->peers[id].known = true;
			/* never delivered a tick of it: count from now (it
			 * cannot have delivered one of ours' ring before) */
			d->peers[id].last_tick_ms = fd_mono_ms();
		}
	}
	/* d of a peer that leaves or joins: now (see touch_all_peers) */
	for (size_t i = 0; i < n_left; i++) {
		qb_log(LOG_NOTICE, "fencing daemon of node %u left (reason=%u)",
		       left[i].nodeid, left[i].reason);
		if (left[i].nodeid >= 1 && left[i].nodeid <= FD_MAX_NODE) {
			d->peers[left[i].nodeid].known = true;
			d->peers[left[i].nodeid].last_tick_ms = fd_mono_ms();
		}
	}
	for (size_t i = 0; i < n_joined; i++) {
		if (joined[i].nodeid == d->nodeid)
			continue;
		qb_log(LOG_INFO, "fencing daemon of node %u joined", joined[i].nodeid);
		if (joined[i].nodeid >= 1 && joined[i].nodeid <= FD_MAX_NODE)
			d->peers[joined[i].nodeid].last_tick_ms = fd_mono_ms();
	}
	d->liveset = live;
	d->group_members = (uint32_t)n_mem;
}

static void cpg_totem(cpg_handle_t h, struct cpg_ring_id ring, uint32_t n,
		      const uint32_t *members)
{
	struct fd *d = NULL;

	(void)members;
	cpg_context_get(h, (void **)&d);
	if (ring.seq != d->ring_seq)
		qb_log(LOG_INFO, "totem ring seq=%llu members=%u",
		       (unsigned long long)ring.seq, n);
	d->ring_seq = ring.seq;
	d->ring_members = n;
	vq_quorate_now(d);
}

static cpg_model_v1_data_t cpg_model = {
	.model = CPG_MODEL_V1,
	.cpg_deliver_fn = cpg_deliver,
	.cpg_confchg_fn = cpg_confchg,
	.cpg_totem_confchg_fn = cpg_totem,
	.flags = CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF,
};

static void vq_notify(votequorum_handle_t h, uint64_t ctx, uint32_t quorate,
		      uint32_t n, votequorum_node_t nodes[])
{
	struct fd *d = (struct fd *)(uintptr_t)ctx;

	(void)h;
	(void)nodes;
	if ((quorate != 0) != d->vq_quorate)
		qb_log(LOG_NOTICE, "quorum %s (votequorum) nodes=%u",
		       quorate ? "gained" : "lost", n);
	set_quorate(d, quorate != 0);
	vq_quorate_now(d);
}

static votequorum_callbacks_t vq_cbs = {
	.votequorum_quorum_notify_fn = vq_notify,
};

static int32_t cpg_fd_cb(int32_t fd, int32_t revents, void *arg)
{
	struct fd *d = arg;

	(void)fd;
	(void)revents;
	if (cpg_dispatch(d->cpg, CS_DISPATCH_ALL) != CS_OK) {
		qb_log(LOG_CRIT, "lost connection to corosync (cpg); exiting");
		d->exit_code = 1;
		qb_loop_stop(d->loop);
		return -1;
	}
	return 0;
}

static int32_t vq_fd_cb(int32_t fd, int32_t revents, void *arg)
{
	struct fd *d = arg;

	(void)fd;
	(void)revents;
	if (votequorum_dispatch(d->vq, CS_DISPATCH_ALL) != CS_OK) {
		qb_log(LOG_CRIT, "lost connection to corosync (votequorum); exiting");
		d->exit_code = 1;
		qb_loop_stop(d->loop);
		return -1;
	}
	return 0;
}

/* totem.token and totem.consensus as corosync runs them (runtime keys).
 * false (values untouched) when corosync does not answer. */
bool fd_read_totem(struct fd *d)
{
	cmap_handle_t cm;
	uint32_t v;

	if (cmap_initialize(&cm) != CS_OK)
		return false;
	if (cmap_get_uint32(cm, "runtime.config.totem.token", &v) == CS_OK && v > 0)
		d->t.token_ms = v;
	if (cmap_get_uint32(cm, "runtime.config.totem.consensus", &v) == CS_OK && v > 0)
		d->t.consensus_ms = v;
	cmap_finalize(cm);
	return true;
}

int fd_cluster_init(struct fd *d)
{
	cs_error_t err;
	int fd;

	for (int tries = 0;; tries++) {
		err = cpg_model_initialize(&d->cpg, CPG_MODEL_V1,
					   (cpg_model_data_t *)&cpg_model, d);
		if (err == CS_OK)
			break;
		if (tries == 0)
			qb_log(LOG_NOTICE, "waiting for corosync (cpg err=%d)", err);
		if (tries >= 300 || d->stopping) {
			qb_log(LOG_ERR, "cannot connect to corosync cpg err=%d", err);
			return -ENOTCONN;
		}
		poll(NULL, 0, 100);
	}
	if (cpg_local_get(d->cpg, &d->nodeid) != CS_OK || d->nodeid == 0 ||
	    d->nodeid > FD_MAX_NODE) {
		qb_log(LOG_ERR, "cannot use our corosync node id %u (1..%u supported)",
		       d->nodeid, FD_MAX_NODE);
		cpg_finalize(d->cpg);
		return -ERANGE;
	}
	xh_node_name(&d->cfg, d->nodeid, d->name, sizeof(d->name));
	fd_read_totem(d);
	err = votequorum_initialize(&d->vq, &vq_cbs);
	if (err != CS_OK) {
		qb_log(LOG_ERR, "cannot connect to votequorum err=%d", err);
		cpg_finalize(d->cpg);
		return -ENOTCONN;
	}
	votequorum_trackstart(d->vq, (uint64_t)(uintptr_t)d, CS_TRACK_CHANGES);
	vq_quorate_now(d);
	votequorum_fd_get(d->vq, &fd);
	qb_loop_poll_add(d->loop, QB_LOOP_HIGH, fd, POLLIN, d, vq_fd_cb);
	cpg_fd_get(d->cpg, &fd);
	qb_loop_poll_add(d->loop, QB_LOOP_HIGH, fd, POLLIN, d, cpg_fd_cb);
	err = cpg_join(d->cpg, &group_name);
	if (err != CS_OK) {
		qb_log(LOG_ERR, "cannot join cpg group %s err=%d", FD_GROUP, err);
		fd_cluster_fini(d);
		return -ENOTCONN;
	}
	qb_log(LOG_NOTICE, "joined %s as node %u (%s) token=%u consensus=%u expected_votes=%u",
	       FD_GROUP, d->nodeid, d->name, d->t.token_ms, d->t.consensus_ms,
	       d->expected_votes);
	return 0;
}

void fd_cluster_fini(struct fd *d)
{
	int fd;

	if (d->cpg) {
		if (cpg_fd_get(d->cpg, &fd) == CS_OK)
			qb_loop_poll_del(d->loop, fd);
		cpg_leave(d->cpg, &group_name);
		cpg_finalize(d->cpg);
		d->cpg = 0;
	}
	if (d->vq) {
		if (votequorum_fd_get(d->vq, &fd) == CS_OK)
			qb_loop_poll_del(d->loop, fd);
		votequorum_finalize(d->vq);
		d->vq = 0;
	}
}
