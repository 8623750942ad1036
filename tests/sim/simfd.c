/*
 * xenha-fenced's glue, mirrored for the simulator: the tick stream and
 * the lease (src/fenced/cluster.c), the decision loop (src/fenced/decide.c:
 * tiebreak, watchdog_step, survivor_step, pill_step, check_mailbox), the
 * xenhad link (src/fenced/xlink.c), and the heartbeat-disk worker
 * (src/drivers/hbworker.c) on an in-memory sector array through the real
 * codec (include/xenha/hbdisk.h).  The decisions are the pure rules of
 * include/xenha/fencerules.h.
 *
 * Not mirrored: fence agents (none configured in the simulator), the
 * watchdog driver's kinds (the simulated watchdog is the test kind: a
 * fire resets the host at once; an expiry resets it W after the last
 * pet), the IPC for hactl.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xenha/hbworker.h"
#include "xenha/ipcproto.h"
#include "xhsim.h"

#define DECIDE_MS 50              /* decide.c */
#define CONFIRM_RETRY_MS 3000     /* decide.c */
#define XL_PERIOD_MS 250          /* xlink.c */
#define SLOT_SCAN_EVERY 3         /* hbworker.c */
#define TICK_LEN 40               /* cluster.c */
#define TICK_ARMED 1u
#define TICK_LEAVING 2u
#define FD_MAX_NODE HB_MAX_NODEID
#define SLOTS 255

/* fenced.h struct fd_peer (the fields the simulator needs) */
struct fpeer {
	bool known;
	char name[XH_NAME_MAX];
	bool member, armed, left_cleanly;
	uint64_t last_tick_ms;
	bool pending, begun;
	uint64_t pending_since_ms;
	bool pill_sent, pill_noslot_logged;
	int64_t pill_seq;
	bool pill_written;
	uint64_t pill_written_ms;
	bool confirm_sent;
	uint64_t confirm_sent_ms;
	bool unfenceable_logged;
};

/* fenced.h struct fd_xenhad */
struct fxl {
	bool ok, seen;
	uint64_t ok_ms;
	uint32_t n_hosts;
	struct {
		uint32_t nodeid;
		char name[XH_NAME_MAX];
		bool member, pending, confirmed;
	} hosts[SIM_MAX_NODES];
	bool synced, quorate;
};

struct freq {
	uint8_t op;
	char name[XH_NAME_MAX];
	char by[XH_NAME_MAX];
};

/* hbworker.c struct hbw, the parts the cycle uses */
struct hbw_sim {
	struct hbw_report rep;
	struct { bool in_use; char name[HB_NAME_MAX]; enum hb_msg_type mbox; } slots[SLOTS];
	bool slots_known;
	struct { bool queued; struct hb_msg msg; } pending[SLOTS];
	bool any_pending, clear_own, start_msg_unseen;
	uint64_t counter, next_seq, cycle;
	struct hbw_view view;
	uint64_t next_cycle_ms;
};

struct sfd {
	struct sim_node *n;
	uint32_t nodeid;
	uint64_t ring_seq;
	uint32_t ring_members;
	bool vq_quorate;
	uint32_t expected_votes;
	uint64_t liveset;
	uint64_t tick_seq;
	bool have_lease_tick;
	uint64_t lease_tick_sent_ms;
	struct fr_timing t;
	struct fpeer peers[FD_MAX_NODE + 1];
	uint64_t start_ms;
	bool armed;
	enum fr_pet_reason pet_reason;
	bool petting, self_fence;
	bool has_disk;
	struct hbw_sim w;
	bool disk_alerted;
	bool tie, disk_win;
	uint64_t win_since_ms, run_since_ms;
	struct fxl xl;
	struct freq q[2 * SIM_MAX_NODES];
	uint32_t n_q;
	bool xenhad_alerted;
	uint64_t next_tick, next_decide, next_xl;
};

/* ---- the disk: an array of sectors ---- */

static uint8_t *sec_ptr(uint32_t sector)
{
	return S.disk_img + (size_t)sector * S.sector;
}

/* hactl disk init: sbd header with the timeouts in seconds, empty slots */
int sfd_disk_init(void)
{
	struct hb_header h;
	const char *why = NULL;
	int rc;

	memset(&h, 0, sizeof(h));
	h.minor_version = 1;
	h.slots = SLOTS;
	h.sector_size = 512;
	h.timeout_watchdog = S.t.watchdog_ms / 1000;
	h.timeout_allocate = 2;
	h.timeout_loop = S.t.disk_interval_ms / 1000;
	h.timeout_msgwait = S.t.msgwait_ms / 1000;
	for (int i = 0; i < HB_UUID_LEN; i++)
		h.uuid[i] = (uint8_t)(0x5a + i);
	if (S.t.watchdog_ms % 1000 || S.t.disk_interval_ms % 1000 || S.t.msgwait_ms % 1000) {
		fprintf(stderr, "xhsim: with a heartbeat disk, wd, msgwait and disk-interval "
			"are whole seconds (the sbd header keeps seconds)\n");
		return -EINVAL;
	}
	if (hb_timeouts_check(&h, &why) < 0) {
		fprintf(stderr, "xhsim: disk timeouts refused: %s\n", why);
		return -EINVAL;
	}
	rc = hb_disk_image_len(&h, 0, &S.disk_len);
	if (rc < 0)
		return rc;
	S.disk_img = calloc(1, S.disk_len);
	if (!S.disk_img)
		return -ENOMEM;
	S.sector = 512;
	return hb_disk_init_image(&h, 0, S.disk_img, S.disk_len);
}

/* ---- the disk worker (hbworker.c), one cycle per interval ---- */

static bool w_io_ok(struct sfd *d, const char *what)
{
	struct hbw_sim *w = &d->w;

	if (d->n->disk_mode == 2) {
		w->rep.last_err = -EIO;
		snprintf(w->rep.last_err_text, sizeof(w->rep.last_err_text), "%s: %s", what,
			 strerror(EIO));
		return false;
	}
	return true;
}

static void map_peers(struct hbw_sim *w)
{
	for (unsigned n = 1; n <= HB_MAX_NODEID; n++) {
		struct hbw_peer *p = &w->rep.peers[n];

		p->slot = -1;
		p->mbox = HB_MSG_CLEAR;
		if (!p->seen || !w->slots_known)
			continue;
		for (unsigned i = 0; i < SLOTS; i++) {
			if (w->slots[i].in_use && strcasecmp(w->slots[i].name, p->beat.name) == 0) {
				p->slot = (int)i;
				p->mbox = w->slots[i].mbox;
				break;
			}
		}
	}
}

static bool scan_slots(struct sfd *d)
{
	struct hbw_sim *w = &d->w;
	const struct hb_layout *l = &w->rep.layout;

	for (unsigned i = 0; i < SLOTS; i++) {
		struct hb_slot s;
		struct hb_msg m;
		uint32_t sector;

		memset(&w->slots[i], 0, sizeof(w->slots[i]));
		if (!w_io_ok(d, "read slot"))
			return false;
		hb_layout_slot(l, i, &sector);
		if (hb_slot_decode(sec_ptr(sector), S.sector, &s) < 0 || !s.in_use)
			continue;
		w->slots[i].in_use = true;
		memcpy(w->slots[i].name, s.name, sizeof(s.name));
		hb_layout_mbox(l, i, &sector);
		if (hb_msg_decode(sec_ptr(sector), S.sector, &m) == 0)
			w->slots[i].mbox = m.type;
	}
	w->slots_known = true;
	map_peers(w);
	return true;
}

static void write_messages(struct sfd *d)
{
	struct hbw_sim *w = &d->w;
	const struct hb_layout *l = &w->rep.layout;
	int first_err = 0;
	uint32_t sector;

	if (w->clear_own) {
		struct hb_msg m = { .type = HB_MSG_CLEAR };

		w->clear_own = false;
		if (w_io_ok(d, "clear own mailbox") &&
		    hb_layout_mbox(l, (unsigned)w->rep.own_slot, &sector) == 0)
			hb_msg_encode(&m, sec_ptr(sector), S.sector);
	}
	if (!w->any_pending)
		return;
	w->any_pending = false;
	for (unsigned i = 0; i < SLOTS; i++) {
		if (!w->pending[i].queued)
			continue;
		w->pending[i].queued = false;
		if (!w_io_ok(d, "write mailbox")) {
			if (first_err == 0)
				first_err = -EIO;
			continue;
		}
		hb_layout_mbox(l, i, &sector);
		hb_msg_encode(&w->pending[i].msg, sec_ptr(sector), S.sector);
		w->slots[i].mbox = w->pending[i].msg.type;
		map_peers(w);
	}
	w->rep.pill_rc = first_err;
	w->rep.pill_done_ms = S.now;
}

static void write_beat(struct sfd *d)
{
	struct hbw_sim *w = &d->w;
	struct hb_beat b;
	uint32_t sector;

	memset(&b, 0, sizeof(b));
	b.nodeid = d->nodeid;
	snprintf(b.name, sizeof(b.name), "%s", d->n->name);
	b.counter = w->counter + 1;
	b.mono_ms = S.now;
	b.wall_ms = S.now;
	b.liveset = w->view.liveset;
	b.quorate = w->view.quorate;
	b.ring_id = w->view.ring_id;
	if (!w_io_ok(d, "write beat") || hb_layout_beat(&w->rep.layout, d->nodeid, &sector) < 0)
		return;
	if (hb_beat_encode(&b, sec_ptr(sector), S.sector) < 0)
		return;
	w->counter = b.counter;
	w->rep.write_ok_ms = S.now;
}

static void read_own_mailbox(struct sfd *d)
{
	struct hbw_sim *w = &d->w;
	struct hb_msg m;
	uint32_t sector;

	if (hb_layout_mbox(&w->rep.layout, (unsigned)w->rep.own_slot, &sector) < 0 ||
	    !w_io_ok(d, "read own mailbox"))
		return;
	if (hb_msg_decode(sec_ptr(sector), S.sector, &m) < 0)
		return;
	if (m.type == HB_MSG_CLEAR) {
		if (!w->start_msg_unseen) {
			memset(&w->rep.own_msg, 0, sizeof(w->rep.own_msg));
			w->rep.own_msg_ms = 0;
		}
	} else if (m.type != w->rep.own_msg.type || strcmp(m.from, w->rep.own_msg.from) != 0 ||
		   w->rep.own_msg_ms == 0) {
		w->rep.own_msg = m;
		w->rep.own_msg_ms = S.now;
		w->start_msg_unseen = false;
	}
}

static void read_beats(struct sfd *d)
{
	struct hbw_sim *w = &d->w;
	bool all_ok = true;

	for (uint32_t n = 1; n <= HB_MAX_NODEID; n++) {
		struct hb_beat b;
		uint32_t sector;
		int rc;

		if (!w_io_ok(d, "read beat") || hb_layout_beat(&w->rep.layout, n, &sector) < 0) {
			all_ok = false;
			continue;
		}
		rc = hb_beat_decode(sec_ptr(sector), S.sector, &b);
		if (rc == 0 && b.nodeid != n)
			rc = -EBADMSG;
		if (rc == -ENODATA) {
			w->rep.peers[n].seen = false;
			continue;
		}
		if (rc < 0)
			continue;
		if (!w->rep.peers[n].seen || w->rep.peers[n].beat.counter != b.counter)
			w->rep.peers[n].changed_ms = S.now;
		w->rep.peers[n].seen = true;
		w->rep.peers[n].beat = b;
	}
	if (w->cycle % SLOT_SCAN_EVERY == 0) {
		if (!scan_slots(d))
			all_ok = false;
	} else {
		map_peers(w);
	}
	if (all_ok)
		w->rep.read_ok_ms = S.now;
}

/* hbworker.c worker_main, one cycle; a stalled path completes nothing */
static void disk_cycle(struct sfd *d)
{
	struct hbw_sim *w = &d->w;

	if (d->n->disk_mode == 1) {
		if (!w->rep.io_busy) {
			w->rep.io_busy = true;
			w->rep.io_since_ms = S.now;
		}
		return;
	}
	w->rep.io_busy = false;
	w->rep.last_err = 0;
	write_messages(d);
	write_beat(d);
	read_own_mailbox(d);
	read_beats(d);
	w->rep.cycles++;
	w->rep.cycle_done_ms = S.now;
	w->cycle++;
}

/* hbio_slot_find with allocate (hbw_start), and the start-up clear */
static int disk_start(struct sfd *d)
{
	struct hbw_sim *w = &d->w;
	struct hb_header h;
	int free_slot = -1;

	memset(w, 0, sizeof(*w));
	w->rep.own_slot = -1;
	if (hb_header_decode(sec_ptr(0), S.sector, &h) < 0 ||
	    hb_layout(h.slots, h.sector_size, &w->rep.layout) < 0)
		return -EIO;
	w->rep.hdr = h;
	w->rep.meta_ok = true;
	for (unsigned i = 0; i < h.slots; i++) {
		struct hb_slot s;
		uint32_t sector;

		hb_layout_slot(&w->rep.layout, i, &sector);
		if (hb_slot_decode(sec_ptr(sector), S.sector, &s) < 0)
			continue;
		if (s.in_use && strcasecmp(s.name, d->n->name) == 0) {
			w->rep.own_slot = (int)i;
			break;
		}
		if (!s.in_use && free_slot < 0)
			free_slot = (int)i;
	}
	if (w->rep.own_slot < 0) {
		struct hb_slot s = { .in_use = true };
		uint32_t sector;

		if (free_slot < 0)
			return -ENOSPC;
		snprintf(s.name, sizeof(s.name), "%s", d->n->name);
		hb_layout_slot(&w->rep.layout, (unsigned)free_slot, &sector);
		hb_slot_encode(&s, sec_ptr(sector), S.sector);
		w->rep.own_slot = free_slot;
	}
	{
		/* a message left from before: reported once, then cleared */
		struct hb_msg m;
		uint32_t sector;

		hb_layout_mbox(&w->rep.layout, (unsigned)w->rep.own_slot, &sector);
		if (hb_msg_decode(sec_ptr(sector), S.sector, &m) == 0 && m.type != HB_MSG_CLEAR) {
			w->rep.own_msg = m;
			w->rep.own_msg_ms = S.now;
			w->start_msg_unseen = true;
			memset(&m, 0, sizeof(m));
			hb_msg_encode(&m, sec_ptr(sector), S.sector);
		}
	}
	w->next_cycle_ms = S.now;
	return 0;
}

/* hbworker.c hbw_send_msg */
static int64_t sim_hbw_send_msg(struct sfd *d, const char *target, enum hb_msg_type type,
			    const char *from)
{
	struct hbw_sim *w = &d->w;
	int slot = -1;

	for (unsigned i = 0; i < SLOTS && w->slots_known; i++) {
		if (w->slots[i].in_use && strcasecmp(w->slots[i].name, target) == 0) {
			slot = (int)i;
			break;
		}
	}
	if (slot < 0)
		return -ENOENT;
	memset(&w->pending[slot], 0, sizeof(w->pending[slot]));
	w->pending[slot].queued = true;
	w->pending[slot].msg.type = type;
	snprintf(w->pending[slot].msg.from, sizeof(w->pending[slot].msg.from), "%s", from);
	w->any_pending = true;
	w->rep.pill_seq = ++w->next_seq;
	w->rep.pill_rc = 1;
	w->rep.pill_done_ms = 0;
	return (int64_t)w->rep.pill_seq;
}

/* ---- ticks and the lease (cluster.c) ---- */

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

/* cluster.c fd_send_tick */
static void send_tick(struct sfd *d, bool leaving)
{
	uint8_t b[TICK_LEN];

	memcpy(b, "XHT1", 4);
	put32(b + 4, d->nodeid);
	put64(b + 8, ++d->tick_seq);
	put64(b + 16, S.now);
	put64(b + 24, d->ring_seq);
	put32(b + 32, (d->armed ? TICK_ARMED : 0) | (leaving ? TICK_LEAVING : 0));
	put32(b + 36, 0);
	sim_send(d->n, GRP_FD, b, sizeof(b));
}

/* cluster.c touch_all_peers / set_quorate / vq_quorate_now */
static void touch_all_peers(struct sfd *d)
{
	for (uint32_t i = 1; i <= FD_MAX_NODE; i++)
		if (d->peers[i].known)
			d->peers[i].last_tick_ms = S.now;
}

static void set_quorate(struct sfd *d, bool q)
{
	if (q && !d->vq_quorate)
		touch_all_peers(d);
	d->vq_quorate = q;
}

static bool vq_quorate_now(struct sfd *d)
{
	d->expected_votes = S.expected;
	set_quorate(d, sim_vq_quorate(d->n));
	return d->vq_quorate;
}

/* cluster.c cpg_deliver */
static void cpg_deliver(struct sfd *d, const struct sim_item *it)
{
	const uint8_t *p = it->data;
	struct fpeer *pe;
	uint32_t nodeid, flags;
	uint64_t sent, ring;

	if (it->len != TICK_LEN || memcmp(p, "XHT1", 4) != 0)
		return;
	nodeid = get32(p + 4);
	sent = get64(p + 16);
	ring = get64(p + 24);
	flags = get32(p + 32);
	if (nodeid != it->sender || nodeid == 0 || nodeid > FD_MAX_NODE)
		return;
	if (nodeid == d->nodeid) {
		if (ring == d->ring_seq && d->ring_members * 2 > d->expected_votes &&
		    vq_quorate_now(d) && (!d->have_lease_tick || sent > d->lease_tick_sent_ms)) {
			d->have_lease_tick = true;
			d->lease_tick_sent_ms = sent;
		}
		return;
	}
	pe = &d->peers[nodeid];
	pe->known = true;
	pe->last_tick_ms = S.now;
	pe->armed = (flags & TICK_ARMED) != 0;
	pe->left_cleanly = (flags & TICK_LEAVING) != 0;
}

/* cluster.c cpg_confchg */
static void cpg_confchg(struct sfd *d, const struct sim_item *it)
{
	uint64_t live = 0;

	for (uint32_t i = 1; i <= FD_MAX_NODE; i++)
		d->peers[i].member = false;
	for (uint32_t i = 0; i < it->n_members; i++) {
		uint32_t id = it->members[i];

		live |= 1ull << (id - 1);
		d->peers[id].member = true;
		if (!d->peers[id].known) {
			d->peers[id].known = true;
			d->peers[id].last_tick_ms = S.now;
		}
	}
	for (uint32_t i = 0; i < it->n_left; i++) {
		d->peers[it->left[i]].known = true;
		d->peers[it->left[i]].last_tick_ms = S.now;
	}
	for (uint32_t i = 0; i < it->n_joined; i++)
		if (it->joined[i] != d->nodeid)
			d->peers[it->joined[i]].last_tick_ms = S.now;
	d->liveset = live;
}

void sfd_deliver(struct sim_node *n, struct sim_item *it)
{
	struct sfd *d = n->fd;

	switch (it->kind) {
	case IT_MSG: cpg_deliver(d, it); break;
	case IT_CONFCHG: cpg_confchg(d, it); break;
	case IT_TOTEM:             /* cluster.c cpg_totem */
		d->ring_seq = it->ring;
		d->ring_members = it->n_members;
		vq_quorate_now(d);
		break;
	case IT_VQ:                /* cluster.c vq_notify */
		set_quorate(d, sim_vq_quorate(n));
		vq_quorate_now(d);
		break;
	default: break;
	}
}

/* ---- the xenhad link (xlink.c xl_main, one period) ---- */

static void xlink_period(struct sfd *d)
{
	struct sim_node *n = d->n;
	const struct xh_state *st;

	if (!n->proc[GRP_XD].running || n->proc[GRP_XD].frozen || !n->xd) {
		d->xl.ok = false;
		return;   /* queued requests wait for an answer */
	}
	for (uint32_t i = 0; i < d->n_q; i++) {
		struct ipc_req r;
		char err[200];

		memset(&r, 0, sizeof(r));
		r.op = d->q[i].op;
		r.standby = r.maintenance = -1;
		snprintf(r.name, sizeof(r.name), "%s", d->q[i].name);
		snprintf(r.by, sizeof(r.by), "%s", d->q[i].by);
		sxd_ipc_write(n, &r, err, sizeof(err));
	}
	d->n_q = 0;
	st = sxd_state(n);
	d->xl.n_hosts = 0;
	for (uint32_t i = 0; i < st->n_hosts && d->xl.n_hosts < SIM_MAX_NODES; i++) {
		const struct xh_host *h = &st->hosts[i];

		d->xl.hosts[d->xl.n_hosts].nodeid = h->nodeid;
		snprintf(d->xl.hosts[d->xl.n_hosts].name, XH_NAME_MAX, "%s", h->name);
		d->xl.hosts[d->xl.n_hosts].member = h->member;
		d->xl.hosts[d->xl.n_hosts].pending = h->fence == XH_FENCE_PENDING;
		d->xl.hosts[d->xl.n_hosts].confirmed = h->fence == XH_FENCE_CONFIRMED;
		d->xl.n_hosts++;
	}
	/* xlink.c parse_nodes: local.synced, local.quorate and cluster.quorate */
	d->xl.synced = sxd_synced(n);
	d->xl.quorate = sim_vq_quorate(n) && st->quorate;
	d->xl.ok = true;
	d->xl.seen = true;
	d->xl.ok_ms = S.now;
}

static void xl_queue(struct sfd *d, uint8_t op, const char *name, const char *by)
{
	if (d->n_q >= sizeof(d->q) / sizeof(d->q[0]))
		return;
	d->q[d->n_q].op = op;
	snprintf(d->q[d->n_q].name, XH_NAME_MAX, "%s", name);
	snprintf(d->q[d->n_q].by, XH_NAME_MAX, "%s", by);
	d->n_q++;
}

/* ---- the decision loop (decide.c) ---- */

static bool acting(const struct sfd *d)
{
	uint64_t below = d->nodeid > 1 ? d->liveset & ((1ull << (d->nodeid - 1)) - 1) : 0;

	return below == 0;
}

static bool is_pill(enum hb_msg_type t)
{
	return t == HB_MSG_RESET || t == HB_MSG_OFF || t == HB_MSG_CRASHDUMP;
}

/* decide.c check_mailbox; wd_fire of the test watchdog resets at once */
static void check_mailbox(struct sfd *d)
{
	const struct hb_msg *m = &d->w.rep.own_msg;

	if (m->type == HB_MSG_CLEAR)
		return;
	if (is_pill(m->type)) {
		if (!d->self_fence) {
			sim_nlog(d->n, "fenced: poison pill '%s' from '%s' in our mailbox: "
				 "self-fencing now", hb_msg_type_str(m->type), m->from);
			d->self_fence = true;
			if (d->armed)
				sim_power_off(d->n, "watchdog fired (poison pill)");
		}
		return;
	}
	d->w.clear_own = true;
}

static void tiebreak(struct sfd *d)
{
	struct fr_disk_node nodes[FD_MAX_NODE];
	size_t k = 0;
	bool win;

	if (d->has_disk && d->w.rep.write_ok_ms && S.now - d->w.rep.write_ok_ms < d->t.lease_ms) {
		if (d->run_since_ms == 0)
			d->run_since_ms = d->w.rep.write_ok_ms;
	} else {
		d->run_since_ms = 0;
	}
	d->tie = fr_is_tie(d->expected_votes, d->ring_members, d->vq_quorate);
	if (!d->tie || !d->has_disk) {
		d->disk_win = false;
		return;
	}
	for (uint32_t id = 1; id <= FD_MAX_NODE; id++) {
		if (id == d->nodeid || !d->w.rep.peers[id].seen)
			continue;
		nodes[k].nodeid = id;
		nodes[k].seen = true;
		nodes[k].changed_ms = d->w.rep.peers[id].changed_ms;
		k++;
	}
	win = fr_tiebreak_win(&d->t, d->nodeid, S.now, d->w.rep.write_ok_ms, d->w.rep.read_ok_ms,
			      nodes, k);
	if (win && !d->disk_win)
		d->win_since_ms = S.now;
	if (win != d->disk_win)
		sim_nlog(d->n, "fenced: two-node tie: we %s on the heartbeat disk",
			 win ? "win" : "do not win");
	d->disk_win = win;
}

static void watchdog_step(struct sfd *d)
{
	struct fr_self s = {
		.now_ms = S.now, .armed = d->armed, .have_lease_tick = d->have_lease_tick,
		.lease_tick_sent_ms = d->lease_tick_sent_ms, .pill = d->self_fence,
		.xenhad_seen = d->xl.seen, .xenhad_ok_ms = d->xl.ok_ms, .tie = d->tie,
		.disk_win = d->disk_win, .self_fence = false,
		.disk_win_since_ms = d->run_since_ms,
	};
	enum fr_pet_reason why;
	bool pet;

	if (!d->armed) {
		if (d->self_fence || !fr_may_arm(&d->t, &s))
			return;
		d->armed = true;
		d->petting = true;
		d->n->wd_armed = true;
		d->n->wd_last_pet = S.now;
		if (S.verbose)
			sim_nlog(d->n, "fenced: watchdog armed (timeout %u ms)", d->t.watchdog_ms);
		s.armed = true;
		send_tick(d, false);
	}
	pet = fr_should_pet(&d->t, &s, &why);
	if (pet)
		d->n->wd_last_pet = S.now;
	if (pet != d->petting || (!pet && why != d->pet_reason)) {
		if (pet)
			sim_nlog(d->n, "fenced: petting the watchdog again (%s)", fr_pet_reason_str(why));
		else
			sim_nlog(d->n, "fenced: stopped petting the watchdog: %s",
				 fr_pet_reason_str(why));
	}
	d->petting = pet;
	d->pet_reason = why;
}

static void reset_incident(struct fpeer *p)
{
	p->pending = false;
	p->begun = false;
	p->pill_sent = false;
	p->pill_noslot_logged = false;
	p->pill_written = false;
	p->confirm_sent = false;
	p->unfenceable_logged = false;
}

static void pill_step(struct sfd *d, uint32_t id, struct fpeer *p)
{
	int64_t seq;

	if (!d->has_disk || !d->w.rep.meta_ok)
		return;
	if (!p->pill_sent) {
		seq = sim_hbw_send_msg(d, p->name, HB_MSG_RESET, d->n->name);
		if (seq == -ENOENT) {
			p->pill_noslot_logged = true;
			return;
		}
		p->pill_sent = true;
		p->pill_seq = seq;
		if (S.verbose)
			sim_nlog(d->n, "fenced: poison pill (reset) queued for %s (node %u)", p->name, id);
		return;
	}
	if (!p->pill_written && p->pill_seq > 0 && d->w.rep.pill_seq == (uint64_t)p->pill_seq &&
	    d->w.rep.pill_rc <= 0) {
		if (d->w.rep.pill_rc == 0) {
			p->pill_written = true;
			p->pill_written_ms = d->w.rep.pill_done_ms;
			sim_nlog(d->n, "fenced: poison pill written to %s's mailbox", p->name);
		} else {
			sim_nlog(d->n, "fenced: poison pill for %s not written", p->name);
			p->pill_seq = -1;
		}
	}
}

static void survivor_step(struct sfd *d)
{
	struct fr_survivor sv = {
		.now_ms = S.now,
		.quorate = d->petting && (d->pet_reason == FR_PET_LEASE ||
					  d->pet_reason == FR_PET_DISK_WIN),
		.by_disk_win = d->petting && d->pet_reason == FR_PET_DISK_WIN,
		.disk_win_since_ms = d->win_since_ms,
	};

	for (uint32_t i = 0; i < d->xl.n_hosts; i++) {
		uint32_t id = d->xl.hosts[i].nodeid;
		struct fpeer *p = &d->peers[id];
		struct fr_peer fp;
		enum fr_confirm c;
		uint64_t remaining = 0;
		char by[XH_NAME_MAX];

		if (id == d->nodeid || id > FD_MAX_NODE)
			continue;
		memcpy(p->name, d->xl.hosts[i].name, sizeof(p->name));
		if (!d->xl.hosts[i].pending) {
			if (p->pending)
				reset_incident(p);
			continue;
		}
		if (!fr_survivor_may_act(sv.quorate, acting(d), d->xl.synced, d->xl.quorate))
			continue;
		if (!p->pending) {
			p->pending = true;
			p->pending_since_ms = S.now;
			sim_nlog(d->n, "fenced: host %s awaits fencing; last tick %" PRIu64
				 " ms ago, its watchdog %s", p->name, S.now - p->last_tick_ms,
				 p->armed ? "armed" : "not known armed");
		}
		if (!p->armed || p->left_cleanly) {
			if (!p->unfenceable_logged)
				sim_nlog(d->n, "fenced: host %s cannot be fenced automatically: %s",
					 p->name, p->left_cleanly ? "its fencing daemon stopped cleanly"
					 : "its watchdog was never seen armed");
			p->unfenceable_logged = true;
			continue;
		}
		if (!p->begun) {
			snprintf(by, sizeof(by), "fenced %.20s: timeout%s", d->n->name,
				 d->has_disk ? ", poison-pill" : "");
			xl_queue(d, IPC_OP_FENCE_BEGIN, p->name, by);
			p->begun = true;
		}
		if (fr_pill_now(&d->t, p->member, p->pending_since_ms, S.now))
			pill_step(d, id, p);

		memset(&fp, 0, sizeof(fp));
		fp.nodeid = id;
		fp.member = p->member || d->xl.hosts[i].member;
		fp.last_tick_ms = p->last_tick_ms;
		fp.pill_written = p->pill_written;
		fp.pill_written_ms = p->pill_written_ms;
		if (d->has_disk && d->w.rep.peers[id].seen) {
			fp.slot_seen = true;
			fp.slot_changed_ms = d->w.rep.peers[id].changed_ms;
		}
		fp.disk_read_ok_ms = d->w.rep.read_ok_ms;
		c = fr_may_confirm(&d->t, &sv, &fp, &remaining);
		if (S.unsafe_skip_confirm && !fp.member)
			c = FR_CONFIRM_TIMEOUT;    /* the deliberately broken world */
		if (c == FR_CONFIRM_NO)
			continue;
		if (p->confirm_sent && S.now - p->confirm_sent_ms < CONFIRM_RETRY_MS)
			continue;
		snprintf(by, sizeof(by), "fenced %.20s: %s", d->n->name, fr_confirm_str(c));
		xl_queue(d, IPC_OP_FENCE_CONFIRM, p->name, by);
		sim_nlog(d->n, "fenced: host %s confirmed fenced (%s): last tick %" PRIu64
			 " ms ago, awaiting fencing for %" PRIu64 " ms", p->name, fr_confirm_str(c),
			 S.now - p->last_tick_ms, S.now - p->pending_since_ms);
		p->confirm_sent = true;
		p->confirm_sent_ms = S.now;
	}
}

static void decide(struct sfd *d)
{
	if (d->has_disk) {
		uint64_t limit = (uint64_t)d->t.disk_interval_ms + d->t.disk_timeout_ms;
		uint64_t age = d->w.rep.write_ok_ms ? S.now - d->w.rep.write_ok_ms : S.now - d->start_ms;

		check_mailbox(d);
		if (!d->n->powered)
			return;
		if (age > limit && !d->disk_alerted) {
			d->disk_alerted = true;
			sim_nlog(d->n, "fenced: alert: heartbeat disk not written for %" PRIu64
				 " ms; %s", age, d->have_lease_tick ? "still petting on the lease"
				 : "no lease either");
		} else if (age <= limit && d->disk_alerted) {
			d->disk_alerted = false;
			sim_nlog(d->n, "fenced: heartbeat disk written again");
		}
		d->w.view.liveset = d->liveset;
		d->w.view.quorate = d->vq_quorate;
		d->w.view.ring_id = d->ring_seq;
	}
	if (d->xl.seen && !d->xl.ok && S.now - d->xl.ok_ms > 2000 && !d->xenhad_alerted) {
		d->xenhad_alerted = true;
		sim_nlog(d->n, "fenced: xenhad has not answered for %" PRIu64 " ms",
			 S.now - d->xl.ok_ms);
	} else if (d->xl.ok && d->xenhad_alerted) {
		d->xenhad_alerted = false;
		sim_nlog(d->n, "fenced: xenhad answers again");
	}
	tiebreak(d);
	watchdog_step(d);
	survivor_step(d);
}

/* The daemon's timers: the disk worker's cycle (a thread of the same
 * process: it stops when the process is frozen), the tick, the decision,
 * the xenhad link. */
void sfd_timers(struct sim_node *n)
{
	struct sfd *d = n->fd;

	if (d->has_disk && S.now >= d->w.next_cycle_ms) {
		d->w.next_cycle_ms = S.now + d->t.disk_interval_ms;
		disk_cycle(d);
	}
	if (S.now >= d->next_xl) {
		d->next_xl = S.now + XL_PERIOD_MS;
		xlink_period(d);
	}
	if (S.now >= d->next_tick) {
		d->next_tick = S.now + d->t.tick_ms;
		send_tick(d, false);
	}
	if (S.now >= d->next_decide) {
		d->next_decide = S.now + DECIDE_MS;
		decide(d);
	}
}

/* main.c timing_from_config + the disk header; fd_decide_init */
void sfd_start(struct sim_node *n)
{
	struct sfd *d = calloc(1, sizeof(*d));

	if (!d)
		abort();
	d->n = n;
	d->nodeid = n->id;
	n->fd = d;
	d->t = S.t;
	d->start_ms = S.now;
	d->has_disk = S.disk;
	if (d->has_disk) {
		if (disk_start(d) < 0) {
			sim_nlog(n, "fenced: cannot start the heartbeat");
			d->has_disk = false;
		} else {
			d->t.watchdog_ms = d->w.rep.hdr.timeout_watchdog * 1000u;
			d->t.msgwait_ms = d->w.rep.hdr.timeout_msgwait * 1000u;
			d->t.disk_interval_ms = d->w.rep.hdr.timeout_loop * 1000u;
		}
	}
	d->expected_votes = S.expected;
	d->vq_quorate = sim_vq_quorate(n);
	d->next_tick = S.now + d->t.tick_ms;
	d->next_decide = S.now + DECIDE_MS;
	d->next_xl = S.now;
}

void sfd_stop(struct sim_node *n)
{
	free(n->fd);
	n->fd = NULL;
}

bool sfd_petting(const struct sim_node *n)
{
	return n->fd && n->fd->petting;
}

/* The watchdog hardware: resets the host W after the last pet. */
void sfd_watchdog_check(struct sim_node *n)
{
	if (n->powered && n->wd_armed && S.now - n->wd_last_pet >= S.t.watchdog_ms)
		sim_power_off(n, "watchdog expired");
}
