/*
 * xhsim: the scenario simulator's world and its scenario language.
 *
 *   xhsim [-v] SCENARIO.scn     prints the log on stdout
 *
 * Exit: 0 the scenario passed (every expect held, and the safety property
 * held, or was violated exactly where the scenario says `expect
 * violation`); 1 an expect failed; 2 the safety property was violated
 * unexpectedly (the trace is printed on stderr); 3 a usage or scenario
 * error.
 *
 * The world: a virtual clock that advances in steps (default 10 ms); a
 * network of partitions (labels); corosync per node: its view of the
 * totem ring, ring formation after a loss (token + consensus) or a merge,
 * agreed-order delivery to the connected members of the sender's ring,
 * delivery of a node's own messages until its token times out after a
 * break, messages held while no ring can order them; CPG groups per
 * daemon with configuration changes; votequorum (a ring holding a
 * majority of the expected votes); domains as records per host; the
 * watchdog as hardware that runs while the host is frozen.  The daemons'
 * glue is in simxd.c and simfd.c.  docs/simulator.md has the details.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenha/hv.h"
#include "xenha/ipcproto.h"
#include "xenha/reconcile.h"
#include "xhsim.h"

struct sim S;

/* ---- the log ---- */

static char **log_lines;
static size_t n_log, cap_log;

static void log_line(const char *text)
{
	char buf[600];

	snprintf(buf, sizeof(buf), "%7" PRIu64 " %s", S.now, text);
	printf("%s\n", buf);
	if (n_log == cap_log) {
		cap_log = cap_log ? 2 * cap_log : 1024;
		log_lines = realloc(log_lines, cap_log * sizeof(*log_lines));
		if (!log_lines)
			abort();
	}
	log_lines[n_log] = strdup(buf);
	if (!log_lines[n_log])
		abort();
	n_log++;
}

void sim_log(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_line(buf);
}

void sim_nlog(const struct sim_node *n, const char *fmt, ...)
{
	char buf[480], out[560];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	snprintf(out, sizeof(out), "%.64s %s", n->name, buf);
	log_line(out);
}

bool sim_log_frame_once(uint64_t msgid, uint32_t frame)
{
	if (msgid >= S.logged_cap) {
		uint64_t nc = S.logged_cap ? S.logged_cap : 4096;

		while (nc <= msgid)
			nc *= 2;
		S.logged = realloc(S.logged, nc * sizeof(*S.logged));
		if (!S.logged)
			abort();
		memset(S.logged + S.logged_cap, 0, (nc - S.logged_cap) * sizeof(*S.logged));
		S.logged_cap = nc;
	}
	if (frame < S.logged[msgid])
		return false;
	S.logged[msgid] = frame + 1;
	return true;
}

bool sim_log_membership_once(uint64_t ring, const uint32_t *ids, uint32_t n)
{
	uint64_t key = ring << 20;

	for (uint32_t i = 0; i < n; i++)
		key ^= 1ull << (ids[i] - 1);
	for (uint32_t i = 0; i < S.n_mlog; i++)
		if (S.mlog[i] == key)
			return false;
	S.mlog[S.n_mlog++ % 256] = key;
	if (S.n_mlog > 256)
		S.n_mlog = 256;
	return true;
}

/* ---- nodes and corosync ---- */

struct sim_node *sim_node_by_name(const char *name)
{
	for (uint32_t i = 1; i <= S.n; i++)
		if (strcmp(S.node[i].name, name) == 0)
			return &S.node[i];
	return NULL;
}

bool sim_cs_alive(const struct sim_node *n)
{
	return n->powered && !n->frozen;
}

bool sim_vq_quorate(const struct sim_node *n)
{
	return sim_cs_alive(n) && 2 * n->ring_n > S.expected;
}

static bool connected(uint32_t a, uint32_t b)
{
	return sim_cs_alive(&S.node[a]) && sim_cs_alive(&S.node[b]) && S.label[a] == S.label[b];
}

static bool in_list(const uint32_t *l, uint32_t n, uint32_t id)
{
	for (uint32_t i = 0; i < n; i++)
		if (l[i] == id)
			return true;
	return false;
}

static void item_free(struct sim_item *it)
{
	free(it->data);
	free(it);
}

static void proc_clear(struct sim_proc *p)
{
	while (p->in_head) {
		struct sim_item *it = p->in_head;

		p->in_head = it->next;
		item_free(it);
	}
	p->in_tail = NULL;
	while (p->held_head) {
		struct sim_item *it = p->held_head;

		p->held_head = it->next;
		item_free(it);
	}
	p->held_tail = NULL;
	free(p->out);
	p->out = NULL;
	p->out_len = p->out_cap = 0;
}

static void enqueue(struct sim_node *n, int g, struct sim_item *it)
{
	struct sim_proc *p = &n->proc[g];

	if (!p->running) {
		item_free(it);
		return;
	}
	if (it->kind == IT_CONFCHG) {
		for (uint32_t i = 0; i < p->n_view; i++)
			if (!in_list(it->members, it->n_members, p->view[i]))
				it->left[it->n_left++] = p->view[i];
		for (uint32_t i = 0; i < it->n_members; i++)
			if (!in_list(p->view, p->n_view, it->members[i]))
				it->joined[it->n_joined++] = it->members[i];
		p->n_view = it->n_members;
		memcpy(p->view, it->members, sizeof(p->view));
	}
	it->next = NULL;
	if (p->in_tail)
		p->in_tail->next = it;
	else
		p->in_head = it;
	p->in_tail = it;
}

static struct sim_item *item_new(uint8_t kind)
{
	struct sim_item *it = calloc(1, sizeof(*it));

	if (!it)
		abort();
	it->kind = kind;
	return it;
}

static void flight_add(struct sim_node *n, int g, uint8_t kind, uint8_t *data, size_t len);
static bool can_order(const struct sim_node *n);

/* xenhad's frames of one turn leave as one CPG message (cluster.c
 * outq_job); a tick is a message of its own (fenced cluster.c
 * fd_send_tick), held by corosync while no ring can order it. */
void sim_send(struct sim_node *n, int grp, const uint8_t *p, size_t len)
{
	struct sim_proc *pr = &n->proc[grp];

	if (grp == GRP_FD) {
		struct sim_item *it = item_new(IT_MSG);

		it->data = malloc(len);
		if (!it->data)
			abort();
		memcpy(it->data, p, len);
		it->len = len;
		if (pr->held_tail)
			pr->held_tail->next = it;
		else
			pr->held_head = it;
		pr->held_tail = it;
		return;
	}

	if (pr->out_len + len > pr->out_cap) {
		size_t nc = pr->out_cap ? pr->out_cap : 4096;

		while (nc < pr->out_len + len)
			nc *= 2;
		pr->out = realloc(pr->out, nc);
		if (!pr->out)
			abort();
		pr->out_cap = nc;
	}
	memcpy(pr->out + pr->out_len, p, len);
	pr->out_len += len;
}

/* A message ordered in a ring, on its way to the ring's members. */
struct flight {
	struct flight *next;
	int grp;
	uint8_t kind;                    /* IT_MSG or IT_CONFCHG */
	uint32_t sender;
	uint64_t ring, sent_ms, msgid;
	uint32_t n_targets, targets[SIM_MAX_NODES];
	uint8_t *data;
	size_t len;
};

static struct flight *fl_head, *fl_tail;

static bool can_order(const struct sim_node *n)
{
	return sim_cs_alive(n) && (n->brk_ms == 0 || S.now < n->brk_ms + S.t.token_ms);
}

static void flight_add(struct sim_node *n, int g, uint8_t kind, uint8_t *data, size_t len)
{
	struct flight *f = calloc(1, sizeof(*f));

	if (!f)
		abort();
	f->grp = g;
	f->kind = kind;
	f->sender = n->id;
	f->ring = n->ring;
	f->sent_ms = S.now;
	f->msgid = ++S.msg_counter;
	f->data = data;
	f->len = len;
	for (uint32_t i = 0; i < n->ring_n; i++) {
		uint32_t m = n->ring_members[i];

		if (S.node[m].proc[g].joined)
			f->targets[f->n_targets++] = m;
	}
	if (fl_tail)
		fl_tail->next = f;
	else
		fl_head = f;
	fl_tail = f;
}

/* corosync: order what the processes sent in this step (one CPG message
 * per process and turn, as xenhad's outq_job batches them) */
static void order_outboxes(void)
{
	for (uint32_t i = 1; i <= S.n; i++) {
		struct sim_node *n = &S.node[i];

		if (!can_order(n))
			continue;
		for (int g = 0; g < GRP_N; g++) {
			struct sim_proc *p = &n->proc[g];

			if (p->leave_pending || p->join_pending) {
				p->leave_pending = p->join_pending = false;
				flight_add(n, g, IT_CONFCHG, NULL, 0);
			}
			while (p->held_head && p->running) {
				struct sim_item *it = p->held_head;

				p->held_head = it->next;
				if (!p->held_head)
					p->held_tail = NULL;
				flight_add(n, g, IT_MSG, it->data, it->len);
				free(it);
			}
			if (p->out_len > 0 && p->running) {
				flight_add(n, g, IT_MSG, p->out, p->out_len);
				p->out = NULL;
				p->out_len = p->out_cap = 0;
			}
		}
	}
}

static void deliver_flights(void)
{
	while (fl_head) {
		struct flight *f = fl_head;
		uint32_t members[SIM_MAX_NODES], nm = 0;

		if (f->sent_ms + S.lat_ms > S.now)
			break;
		fl_head = f->next;
		if (!fl_head)
			fl_tail = NULL;
		if (f->kind == IT_CONFCHG) {
			for (uint32_t k = 0; k < f->n_targets; k++)
				if (S.node[f->targets[k]].proc[f->grp].joined &&
				    S.node[f->targets[k]].ring == f->ring)
					members[nm++] = f->targets[k];
		}
		for (uint32_t k = 0; k < f->n_targets; k++) {
			struct sim_node *r = &S.node[f->targets[k]];
			struct sim_item *it;

			if (!sim_cs_alive(r) || r->ring != f->ring)
				continue;
			if (r->id != f->sender && !connected(f->sender, r->id))
				continue;
			if (r->brk_ms && f->sent_ms >= r->brk_ms + S.t.token_ms)
				continue;
			if (f->grp == GRP_FD && r->id != f->sender &&
			    S.now < S.node[f->sender].lose_ticks_until)
				continue;
			it = item_new(f->kind);
			if (f->kind == IT_MSG) {
				it->sender = f->sender;
				it->msgid = f->msgid;
				it->len = f->len;
				it->data = malloc(f->len);
				if (!it->data)
					abort();
				memcpy(it->data, f->data, f->len);
			} else {
				if (!r->proc[f->grp].joined) {
					item_free(it);
					continue;
				}
				it->n_members = nm;
				memcpy(it->members, members, sizeof(members));
			}
			enqueue(r, f->grp, it);
		}
		free(f->data);
		free(f);
	}
}

static const char *idlist(const uint32_t *ids, uint32_t n, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < n && o + 8 < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%u", i ? "," : "", ids[i]);
	return buf;
}

static void form_ring(const uint32_t *c, uint32_t nc)
{
	uint64_t id = ++S.ring_counter;
	char buf[100];

	sim_log("ring %" PRIu64 " formed members=%s quorum=%s", id, idlist(c, nc, buf, sizeof(buf)),
		2 * nc > S.expected ? "yes" : "no");
	for (uint32_t i = 0; i < nc; i++) {
		struct sim_node *n = &S.node[c[i]];

		n->ring = id;
		n->ring_n = nc;
		memcpy(n->ring_members, c, nc * sizeof(uint32_t));
		n->brk_ms = n->join_ms = 0;
		for (int g = 0; g < GRP_N; g++)
			n->proc[g].join_pending = n->proc[g].leave_pending = false;
	}
	for (uint32_t i = 0; i < nc; i++) {
		struct sim_node *n = &S.node[c[i]];
		struct sim_item *it;

		it = item_new(IT_TOTEM);
		it->ring = id;
		it->n_members = nc;
		memcpy(it->members, c, nc * sizeof(uint32_t));
		enqueue(n, GRP_FD, it);
		for (int g = 0; g < GRP_N; g++) {
			enqueue(n, g, item_new(IT_VQ));
			if (!n->proc[g].joined)
				continue;
			it = item_new(IT_CONFCHG);
			for (uint32_t k = 0; k < nc; k++)
				if (S.node[c[k]].proc[g].joined)
					it->members[it->n_members++] = c[k];
			enqueue(n, g, it);
		}
	}
}

/* corosync membership: notice losses and merges, form rings when due */
static void membership(void)
{
	bool done[SIM_MAX_NODES + 1] = { false };

	for (uint32_t i = 1; i <= S.n; i++) {
		uint32_t c[SIM_MAX_NODES], nc = 0;
		bool consistent = true;
		uint64_t due = 0;

		if (done[i] || !sim_cs_alive(&S.node[i]))
			continue;
		for (uint32_t j = 1; j <= S.n; j++)
			if (j == i || connected(i, j))
				c[nc++] = j;
		for (uint32_t k = 0; k < nc; k++) {
			struct sim_node *x = &S.node[c[k]];

			done[c[k]] = true;
			if (x->ring != S.node[i].ring || x->brk_ms || x->ring_n != nc)
				consistent = false;
			for (uint32_t m = 0; m < x->ring_n; m++)
				if (!in_list(c, nc, x->ring_members[m]))
					consistent = false;
		}
		if (consistent)
			continue;
		for (uint32_t k = 0; k < nc; k++) {
			struct sim_node *x = &S.node[c[k]];
			bool lost = false;
			uint64_t d;

			for (uint32_t m = 0; m < x->ring_n; m++) {
				uint32_t id = x->ring_members[m];

				if (!in_list(c, nc, id) || S.node[id].ring != x->ring)
					lost = true;
			}
			if (lost && !x->brk_ms)
				x->brk_ms = S.now;
			if (!lost && !x->brk_ms && !x->join_ms)
				x->join_ms = S.now;
			if (x->brk_ms) {
				d = x->brk_ms + S.t.token_ms;
				if (x->wake_ms > d)
					d = x->wake_ms;
				d += S.t.consensus_ms;
			} else {
				d = x->join_ms + S.join_delay_ms;
			}
			if (d > due)
				due = d;
		}
		if (S.now >= due)
			form_ring(c, nc);
	}
}

/* ---- processes ---- */

static void proc_start(struct sim_node *n, int g)
{
	struct sim_proc *p = &n->proc[g];

	proc_clear(p);
	p->running = true;
	p->frozen = false;
	p->joined = true;
	p->join_pending = true;
	p->leave_pending = false;
	p->n_view = 0;
	if (g == GRP_XD) {
		sxd_start(n);
	} else {
		struct sim_item *it = item_new(IT_TOTEM);

		sfd_start(n);
		it->ring = n->ring;
		it->n_members = n->ring_n;
		memcpy(it->members, n->ring_members, sizeof(it->members));
		enqueue(n, GRP_FD, it);
	}
}

/* the process ends; its memory is freed by reap() once no callback of it runs */
static void proc_kill(struct sim_node *n, int g, bool leave)
{
	struct sim_proc *p = &n->proc[g];

	if (!p->running)
		return;
	proc_clear(p);
	p->running = false;
	p->frozen = false;
	p->joined = false;
	p->join_pending = false;
	p->leave_pending = leave;
	p->n_view = 0;
}

static void reap(struct sim_node *n)
{
	if (!n->proc[GRP_XD].running && n->xd)
		sxd_stop(n, false);
	if (!n->proc[GRP_FD].running && n->fd)
		sfd_stop(n);
}

void sim_power_off(struct sim_node *n, const char *why)
{
	if (!n->powered)
		return;
	sim_nlog(n, "host down: %s (domains on it: %u)", why, n->n_dom);
	n->powered = false;
	n->frozen = false;
	proc_kill(n, GRP_XD, false);
	proc_kill(n, GRP_FD, false);
	n->n_dom = 0;
	n->n_hvev = 0;
	n->wd_armed = false;
}

static void power_on(struct sim_node *n)
{
	char buf[16];

	if (n->powered)
		return;
	reap(n);
	n->powered = true;
	n->frozen = false;
	n->ring = ++S.ring_counter;
	n->ring_n = 1;
	n->ring_members[0] = n->id;
	n->brk_ms = n->join_ms = 0;
	n->wake_ms = S.now;
	n->wd_armed = false;
	n->disk_mode = 0;
	sim_log("%s powered on (ring %" PRIu64 " members=%s)", n->name, n->ring,
		idlist(n->ring_members, 1, buf, sizeof(buf)));
	proc_start(n, GRP_XD);
	proc_start(n, GRP_FD);
}

static void node_turn(struct sim_node *n)
{
	if (!sim_cs_alive(n))
		return;
	for (int g = 0; g < GRP_N; g++) {
		struct sim_proc *p = &n->proc[g];

		if (!p->running || p->frozen)
			continue;
		while (p->in_head && n->powered && p->running) {
			struct sim_item *it = p->in_head;

			p->in_head = it->next;
			if (!p->in_head)
				p->in_tail = NULL;
			if (g == GRP_XD)
				sxd_deliver(n, it);
			else
				sfd_deliver(n, it);
			item_free(it);
		}
		if (!n->powered || !p->running)
			continue;
		if (g == GRP_XD)
			sxd_timers(n);
		else
			sfd_timers(n);
	}
	reap(n);
}

/* ---- hypervisor records ---- */

struct sim_dom *sim_hv_find(struct sim_node *n, const char *name)
{
	for (uint32_t i = 0; i < n->n_dom; i++)
		if (strcmp(n->dom[i].name, name) == 0)
			return &n->dom[i];
	return NULL;
}

int sim_hv_start(struct sim_node *n, const char *name, uint64_t gen)
{
	if (sim_hv_find(n, name))
		return -EEXIST;
	if (n->fail_start) {
		sim_nlog(n, "hv: start %s gen=%" PRIu64 " failed (injected)", name, gen);
		return -EIO;
	}
	if (n->n_dom >= SIM_MAX_DOMS)
		return -ENOMEM;
	snprintf(n->dom[n->n_dom].name, XH_NAME_MAX, "%s", name);
	n->dom[n->n_dom].generation = gen;
	n->dom[n->n_dom].paused = false;
	n->n_dom++;
	sim_nlog(n, "hv: started %s gen=%" PRIu64, name, gen);
	sim_safety_check();
	return 0;
}

int sim_hv_stop(struct sim_node *n, const char *name, int reason, bool report)
{
	struct sim_dom *d = sim_hv_find(n, name);
	uint64_t gen;

	if (!d)
		return -ENOENT;
	gen = d->generation;
	*d = n->dom[--n->n_dom];
	sim_nlog(n, "hv: %s %s gen=%" PRIu64, name,
		 reason == HV_END_CRASH ? "crashed" : reason == HV_END_SHUTDOWN ? "shut itself down" :
		 "stopped", gen);
	if (report && n->proc[GRP_XD].running && n->n_hvev < SIM_MAX_DOMS) {
		snprintf(n->hvev[n->n_hvev].name, XH_NAME_MAX, "%s", name);
		n->hvev[n->n_hvev].generation = gen;
		n->hvev[n->n_hvev].reason = reason;
		n->n_hvev++;
	}
	return 0;
}

/* ---- live migration streams (xhsim.h struct sim_mig) ---- */

static void mig_free(struct sim_mig *m, const char *why)
{
	sim_log("migration %s id=%" PRIu64 " %s -> %s: %s", m->name, m->mig_id,
		S.node[m->src].name, S.node[m->dst].name, why);
	m->used = false;
}

void sim_mig_send(struct sim_node *src, const char *name, uint64_t mig_id, uint32_t dst,
		  uint64_t gen)
{
	struct sim_dom *d = sim_hv_find(src, name);
	struct sim_mig *m = NULL;

	for (uint32_t i = 0; i < SIM_MAX_MIGS && !m; i++)
		if (!S.mig[i].used)
			m = &S.mig[i];
	if (!d || d->paused || !m || dst < 1 || dst > S.n) {
		/* migrate_send could not start: the domain runs here as before */
		sxd_mig_result(src, name, mig_id, REC_MIG_SOURCE, REC_MIG_ABORTED,
			       !d ? "could not start: not here" : "could not start");
		return;
	}
	memset(m, 0, sizeof(*m));
	m->used = true;
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->mig_id = mig_id;
	m->gen = gen;
	m->src = src->id;
	m->dst = dst;
	m->begun = S.now;
	sim_log("migration %s id=%" PRIu64 " %s -> %s: stream opened", name, mig_id, src->name,
		S.node[dst].name);
}

/* a side that cannot move the stream on (its host or its xenhad stopped) */
static bool mig_side_stuck(const struct sim_node *n)
{
	return !n->powered || n->frozen || n->proc[GRP_XD].frozen;
}

static void mig_break(struct sim_mig *m, const char *why)
{
	struct sim_node *src = &S.node[m->src], *dst = &S.node[m->dst];
	char w[XH_REASON_MAX];

	snprintf(w, sizeof(w), "stream broke before the switch-over (%s)", why);
	sxd_mig_result(src, m->name, m->mig_id, REC_MIG_SOURCE, REC_MIG_ABORTED, w);
	sxd_mig_result(dst, m->name, m->mig_id, REC_MIG_TARGET, REC_MIG_FAILED, w);
	mig_free(m, w);
}

static void mig_switch_over(struct sim_mig *m)
{
	struct sim_node *src = &S.node[m->src], *dst = &S.node[m->dst];
	struct sim_dom *d = sim_hv_find(src, m->name);

	if (!d) {
		mig_break(m, "the source copy is gone");
		return;
	}
	d->paused = true;
	sim_nlog(src, "hv: %s paused for the switch-over, COMMIT sent", m->name);
	if (sim_hv_start(dst, m->name, m->gen) < 0) {
		/* the target never got a whole COMMIT: it runs nothing, the source waits */
		sxd_mig_result(src, m->name, m->mig_id, REC_MIG_SOURCE, REC_MIG_IN_DOUBT,
			       "no confirmation after COMMIT: paused here");
		sxd_mig_result(dst, m->name, m->mig_id, REC_MIG_TARGET, REC_MIG_FAILED,
			       "receive failed");
		mig_free(m, "the target could not run it; the source is paused in doubt");
		return;
	}
	sxd_mig_result(dst, m->name, m->mig_id, REC_MIG_TARGET, REC_MIG_DONE, "runs here");
	if (S.mig_hang) {
		sxd_mig_result(src, m->name, m->mig_id, REC_MIG_SOURCE, REC_MIG_IN_DOUBT,
			       "no confirmation after COMMIT: paused here");
		mig_free(m, "switched over; RUNNING lost, the source is paused in doubt");
		return;
	}
	*d = src->dom[--src->n_dom];
	sim_nlog(src, "hv: %s migrated away", m->name);
	sxd_mig_result(src, m->name, m->mig_id, REC_MIG_SOURCE, REC_MIG_DONE, "the target runs it");
	mig_free(m, "switched over");
}

void sim_mig_step(void)
{
	for (uint32_t i = 0; i < SIM_MAX_MIGS; i++) {
		struct sim_mig *m = &S.mig[i];
		struct sim_node *src = &S.node[m->src], *dst = &S.node[m->dst];
		const struct xh_state *st;
		const struct xh_host *h;

		if (!m->used)
			continue;
		/* the relay threads live in the xenhads: one that died broke it */
		if (src->powered && !src->proc[GRP_XD].running) {
			/* nobody left to tell on the source; its copy resumes by
			 * itself, the target's receive fails */
			sxd_mig_result(dst, m->name, m->mig_id, REC_MIG_TARGET, REC_MIG_FAILED,
				       "stream broke");
			mig_free(m, "the source's xenhad died; the source copy runs on");
			continue;
		}
		if (m->connected && (!dst->proc[GRP_XD].running || !dst->powered) &&
		    dst->powered) {
			mig_break(m, "the target's xenhad died");
			continue;
		}
		st = sxd_state(src);
		h = st ? xh_state_host(st, m->dst) : NULL;
		if (h && h->fence == XH_FENCE_CONFIRMED && !src->proc[GRP_XD].frozen) {
			mig_break(m, "the target is confirmed fenced");
			continue;
		}
		st = m->connected ? sxd_state(dst) : NULL;
		h = st ? xh_state_host(st, m->src) : NULL;
		if (h && h->fence == XH_FENCE_CONFIRMED && !dst->proc[GRP_XD].frozen) {
			mig_break(m, "the source is confirmed fenced");
			continue;
		}
		if (!m->connected) {
			bool up = dst->powered && !mig_side_stuck(dst);

			if (up && S.mig_refuse) {
				/* as a target without the cluster key: the handshake fails */
				sxd_mig_result(src, m->name, m->mig_id, REC_MIG_SOURCE, REC_MIG_ABORTED,
					       "the target refused the stream (handshake failed)");
				mig_free(m, "refused by the target");
			} else if (up && S.label[m->src] == S.label[m->dst] &&
				   sxd_mig_take(dst, m->name, m->mig_id, m->src)) {
				m->connected = true;
				sim_log("migration %s id=%" PRIu64 " %s -> %s: the target took the stream",
					m->name, m->mig_id, src->name, dst->name);
			} else if (S.now - m->begun >= SIM_MIG_CONNECT_MS) {
				sxd_mig_result(src, m->name, m->mig_id, REC_MIG_SOURCE, REC_MIG_ABORTED,
					       "the target refused the stream or did not answer");
				mig_free(m, "not taken by the target");
			}
			continue;
		}
		if (mig_side_stuck(src) || mig_side_stuck(dst) || S.label[m->src] != S.label[m->dst]) {
			m->stalled_ms += S.step_ms;
			if (m->stalled_ms >= SIM_MIG_STALL_MS)
				mig_break(m, "no progress for 30 s");
			continue;
		}
		m->stalled_ms = 0;
		m->progress_ms += S.step_ms;
		if (m->progress_ms >= S.mig_ms)
			mig_switch_over(m);
	}
}

/* ---- the safety property ---- */

static void print_trace(void)
{
	size_t from = n_log > 60 ? n_log - 60 : 0;

	fprintf(stderr, "xhsim: SAFETY VIOLATION; the last %zu events:\n", n_log - from);
	for (size_t i = from; i < n_log; i++)
		fprintf(stderr, "%s\n", log_lines[i]);
}

/* Never two running copies: count a copy on every powered host, frozen
 * or in a minority, until its watchdog or a pill really reset it.  A copy
 * paused by a migration's switch-over does not run. */
void sim_safety_check(void)
{
	for (uint32_t i = 1; i <= S.n; i++) {
		for (uint32_t k = 0; k < S.node[i].n_dom; k++) {
			const char *name = S.node[i].dom[k].name;
			struct sim_dom *o;

			if (S.node[i].dom[k].paused)
				continue;   /* a paused copy runs nothing */
			for (uint32_t j = i + 1; j <= S.n; j++) {
				if (!S.node[j].powered || !S.node[i].powered ||
				    !(o = sim_hv_find(&S.node[j], name)) || o->paused)
					continue;
				if (!S.violation)
					sim_log("VIOLATION: domain %s runs on %s and %s", name,
						S.node[i].name, S.node[j].name);
				S.violation = true;
			}
		}
	}
}

/* ---- the scenario ---- */

struct event {
	uint64_t at;
	int line;
	bool expect;
	char text[400];
};

static struct event *ev;
static size_t n_ev, cap_ev;
static int n_failed, n_expects;
static bool expect_violation;

static int split(char *s, char **argv, int max)
{
	int n = 0;

	for (char *tok = strtok(s, " \t"); tok && n < max; tok = strtok(NULL, " \t"))
		argv[n++] = tok;
	return n;
}

static struct sim_node *arg_node(const char *a)
{
	char *end;
	unsigned long v = strtoul(a[0] == 'h' ? a + 1 : a, &end, 10);

	if (*end || v < 1 || v > S.n)
		return NULL;
	return &S.node[v];
}

/* The node whose xenhad answers operator requests and expects about the
 * replicated state: the coordinator, else the lowest synced xenhad. */
static struct sim_node *observer(void)
{
	for (uint32_t i = 1; i <= S.n; i++)
		if (sim_cs_alive(&S.node[i]) && S.node[i].proc[GRP_XD].running &&
		    !S.node[i].proc[GRP_XD].frozen && sxd_is_coordinator(&S.node[i]))
			return &S.node[i];
	for (uint32_t i = 1; i <= S.n; i++)
		if (sim_cs_alive(&S.node[i]) && S.node[i].proc[GRP_XD].running &&
		    !S.node[i].proc[GRP_XD].frozen && sxd_synced(&S.node[i]))
			return &S.node[i];
	return NULL;
}

static int parse_def(struct ipc_req *r, int argc, char **argv, struct sim_node **via)
{
	for (int i = 0; i < argc; i++) {
		char *k = argv[i], *v = strchr(k, '=');

		if (strcmp(k, "stopped") == 0) {
			r->def.start = 0;
			continue;
		}
		if (strcmp(k, "via") == 0 && i + 1 < argc) {
			*via = arg_node(argv[++i]);
			if (!*via)
				return -EINVAL;
			continue;
		}
		if (!v)
			return -EINVAL;
		*v++ = '\0';
		if (strcmp(k, "mem") == 0) {
			r->def.memory_mb = (uint32_t)strtoul(v, NULL, 10);
			r->mask |= XH_DSET_MEMORY;
		} else if (strcmp(k, "prio") == 0) {
			r->def.priority = (int32_t)strtol(v, NULL, 10);
			r->mask |= XH_DSET_PRIORITY;
		} else if (strcmp(k, "restart") == 0) {
			if (xh_restart_parse(v, &r->def.restart) < 0)
				return -EINVAL;
			r->mask |= XH_DSET_RESTART;
		} else if (strcmp(k, "max-restarts") == 0) {
			r->def.max_restarts = (uint32_t)strtoul(v, NULL, 10);
			r->mask |= XH_DSET_MAX_RESTARTS;
		} else if (strcmp(k, "max-relocations") == 0) {
			r->def.max_relocations = (uint32_t)strtoul(v, NULL, 10);
			r->mask |= XH_DSET_MAX_RELOCATIONS;
		} else if (strcmp(k, "group") == 0) {
			snprintf(r->def.group, sizeof(r->def.group), "%s", v);
			r->mask |= XH_DSET_GROUP;
		} else if (strcmp(k, "prefer") == 0 || strcmp(k, "avoid") == 0) {
			bool pref = k[0] == 'p';
			uint8_t *cnt = pref ? &r->def.n_preferred : &r->def.n_avoided;
			char (*list)[XH_NAME_MAX] = pref ? r->def.preferred : r->def.avoided;

			for (char *t = strtok(v, ","); t && *cnt < XH_MAX_PREF; t = strtok(NULL, ","))
				snprintf(list[(*cnt)++], XH_NAME_MAX, "%s", t);
			r->mask |= pref ? XH_DSET_PREFERRED : XH_DSET_AVOIDED;
		} else {
			return -EINVAL;
		}
	}
	return 0;
}

static int set_partition(char *spec)
{
	int label = 1;

	for (uint32_t i = 1; i <= S.n; i++)
		S.label[i] = -(int)i;   /* unnamed nodes: alone */
	for (char *side = spec; side; label++) {
		char *bar = strchr(side, '|');

		if (bar)
			*bar++ = '\0';
		for (char *t = strtok(side, ","); t; t = strtok(NULL, ",")) {
			struct sim_node *n = arg_node(t);

			if (!n)
				return -EINVAL;
			S.label[n->id] = label;
		}
		side = bar;
	}
	return 0;
}

static int ipc_via(struct sim_node *via, struct ipc_req *r)
{
	char err[200];
	int rc;

	if (!via)
		via = observer();
	if (!via || !via->xd || !via->proc[GRP_XD].running || via->proc[GRP_XD].frozen) {
		sim_log("operator %s %s: no xenhad answers", ipc_op_str(r->op), r->name);
		return 0;
	}
	rc = sxd_ipc_write(via, r, err, sizeof(err));
	if (rc < 0)
		sim_log("operator %s %s via %s: refused: %s", ipc_op_str(r->op), r->name, via->name, err);
	return 0;
}

static int do_command(int argc, char **argv)
{
	const char *c = argv[0];
	struct sim_node *n = argc > 1 ? arg_node(argv[1]) : NULL;
	struct sim_node *via = NULL;
	struct ipc_req r;

	memset(&r, 0, sizeof(r));
	r.standby = r.maintenance = -1;
	if (strcmp(c, "domain-add") == 0 || strcmp(c, "domain-set") == 0) {
		if (argc < 2)
			return -EINVAL;
		r.op = c[7] == 'a' ? IPC_OP_DOMAIN_ADD : IPC_OP_DOMAIN_SET;
		xh_domain_def_init(&r.def, argv[1]);
		snprintf(r.name, sizeof(r.name), "%s", argv[1]);
		if (parse_def(&r, argc - 2, argv + 2, &via) < 0)
			return -EINVAL;
		sim_log("operator %s %s", c, argv[1]);
		return ipc_via(via, &r);
	}
	if (strcmp(c, "domain-start") == 0 || strcmp(c, "domain-stop") == 0 ||
	    strcmp(c, "domain-remove") == 0) {
		if (argc < 2)
			return -EINVAL;
		r.op = strcmp(c, "domain-start") == 0 ? IPC_OP_DOMAIN_START :
		       strcmp(c, "domain-stop") == 0 ? IPC_OP_DOMAIN_STOP : IPC_OP_DOMAIN_REMOVE;
		snprintf(r.name, sizeof(r.name), "%s", argv[1]);
		if (argc >= 4 && strcmp(argv[2], "via") == 0)
			via = arg_node(argv[3]);
		sim_log("operator %s %s", c, argv[1]);
		return ipc_via(via, &r);
	}
	if (strcmp(c, "standby") == 0 || strcmp(c, "online") == 0 || strcmp(c, "maintenance") == 0 ||
	    strcmp(c, "fence-confirm") == 0) {
		if (argc < 2)
			return -EINVAL;
		/* a host name the cluster may not know: xenhad says so */
		snprintf(r.name, sizeof(r.name), "%s", n ? n->name : argv[1]);
		if (argc >= 4 && strcmp(argv[2], "via") == 0)
			via = arg_node(argv[3]);
		if (c[0] == 'f') {
			r.op = IPC_OP_FENCE_CONFIRM;
		} else {
			r.op = IPC_OP_NODE_FLAGS;
			r.standby = c[0] == 's' ? 1 : 0;
			r.maintenance = c[0] == 'm' ? 1 : 0;
			if (c[0] == 'm')
				r.standby = -1;
		}
		sim_log("operator %s %s", c, r.name);
		return ipc_via(via, &r);
	}
	if (strcmp(c, "migrate") == 0) {
		int k = 2;

		if (argc < 2)
			return -EINVAL;
		r.op = IPC_OP_MIGRATE;
		snprintf(r.name, sizeof(r.name), "%s", argv[1]);
		if (argc > k && strcmp(argv[k], "via") != 0) {
			struct sim_node *t = arg_node(argv[k]);

			snprintf(r.host, sizeof(r.host), "%s", t ? t->name : argv[k]);
			k++;
		}
		if (argc >= k + 2 && strcmp(argv[k], "via") == 0)
			via = arg_node(argv[k + 1]);
		sim_log("operator migrate %s%s%s", argv[1], r.host[0] ? " to " : "", r.host);
		return ipc_via(via, &r);
	}
	if (strcmp(c, "crash") == 0 || strcmp(c, "guest-shutdown") == 0) {
		bool any = false;

		if (argc < 2)
			return -EINVAL;
		for (uint32_t i = 1; i <= S.n; i++) {
			if (!S.node[i].powered || !sim_hv_find(&S.node[i], argv[1]))
				continue;
			if (argc >= 4 && strcmp(argv[2], "on") == 0 && arg_node(argv[3]) != &S.node[i])
				continue;
			sim_hv_stop(&S.node[i], argv[1], c[0] == 'c' ? HV_END_CRASH : HV_END_SHUTDOWN, true);
			any = true;
		}
		if (!any)
			sim_log("%s %s: not running anywhere", c, argv[1]);
		return 0;
	}
	if (strcmp(c, "partition") == 0) {
		char spec[200];

		if (argc < 2)
			return -EINVAL;
		snprintf(spec, sizeof(spec), "%s", argv[1]);
		if (set_partition(argv[1]) < 0)
			return -EINVAL;
		sim_log("network: partition %s", spec);
		return 0;
	}
	if (strcmp(c, "heal") == 0) {
		for (uint32_t i = 1; i <= S.n; i++)
			S.label[i] = 0;
		sim_log("network: healed");
		return 0;
	}
	if (strcmp(c, "poweroff-all") == 0 || strcmp(c, "poweron-all") == 0) {
		for (uint32_t i = 1; i <= S.n; i++) {
			if (c[5] == 'f')
				sim_power_off(&S.node[i], "powered off");
			else
				power_on(&S.node[i]);
			reap(&S.node[i]);
		}
		return 0;
	}
	if (strcmp(c, "unsafe-skip-confirm") == 0) {
		S.unsafe_skip_confirm = true;
		sim_log("world: UNSAFE: survivors confirm fencing without waiting");
		return 0;
	}
	if (!n)
		return -EINVAL;
	if (strcmp(c, "poweroff") == 0) {
		sim_power_off(n, "powered off");
		reap(n);
	} else if (strcmp(c, "power-on") == 0) {
		power_on(n);
	} else if (strcmp(c, "isolate") == 0) {
		S.label[n->id] = 1000 + (int)n->id;
		sim_log("network: %s isolated", n->name);
	} else if (strcmp(c, "rejoin") == 0) {
		S.label[n->id] = 0;
		sim_log("network: %s reconnected", n->name);
	} else if (strcmp(c, "freeze") == 0) {
		if (!n->powered || n->frozen)
			return 0;
		n->frozen = true;
		n->frozen_at = S.now;
		if (!n->brk_ms)
			n->brk_ms = S.now;  /* its token is lost while it sleeps */
		sim_log("%s frozen (whole host)", n->name);
	} else if (strcmp(c, "thaw") == 0) {
		if (!n->powered || !n->frozen)
			return 0;
		n->frozen = false;
		n->wake_ms = S.now;
		sim_log("%s thawed after %" PRIu64 " ms", n->name, S.now - n->frozen_at);
	} else if (strcmp(c, "freeze-fenced") == 0 || strcmp(c, "freeze-xenhad") == 0 ||
		   strcmp(c, "thaw-fenced") == 0 || strcmp(c, "thaw-xenhad") == 0) {
		int g = strstr(c, "fenced") ? GRP_FD : GRP_XD;

		n->proc[g].frozen = c[0] == 'f';
		sim_log("%s %s %s", n->name, g == GRP_FD ? "xenha-fenced" : "xenhad",
			c[0] == 'f' ? "frozen (SIGSTOP)" : "thawed (SIGCONT)");
	} else if (strcmp(c, "kill-xenhad") == 0 || strcmp(c, "kill-fenced") == 0) {
		int g = strstr(c, "fenced") ? GRP_FD : GRP_XD;

		sim_log("%s %s killed", n->name, g == GRP_FD ? "xenha-fenced" : "xenhad");
		proc_kill(n, g, true);
		reap(n);
	} else if (strcmp(c, "start-xenhad") == 0 || strcmp(c, "start-fenced") == 0) {
		int g = strstr(c, "fenced") ? GRP_FD : GRP_XD;

		if (!n->powered || n->proc[g].running)
			return 0;
		sim_log("%s %s started", n->name, g == GRP_FD ? "xenha-fenced" : "xenhad");
		proc_start(n, g);
	} else if (strcmp(c, "disk-stall") == 0 || strcmp(c, "disk-eio") == 0 ||
		   strcmp(c, "disk-ok") == 0) {
		n->disk_mode = c[5] == 's' ? 1 : c[5] == 'e' ? 2 : 0;
		sim_log("%s heartbeat disk paths: %s", n->name, c + 5);
	} else if (strcmp(c, "lose-ticks") == 0) {
		if (argc < 3)
			return -EINVAL;
		n->lose_ticks_until = S.now + strtoull(argv[2], NULL, 10);
		sim_log("network: ticks of %s reach nobody else for %s ms", n->name, argv[2]);
	} else if (strcmp(c, "fail-start") == 0) {
		n->fail_start = argc < 3 || strcmp(argv[2], "off") != 0;
		sim_log("%s hv: starts %s", n->name, n->fail_start ? "fail" : "work");
	} else {
		return -EINVAL;
	}
	return 0;
}

/* ---- expects ---- */

/* running copies (a copy paused by a migration does not count) */
static uint32_t copies(const char *name, struct sim_node **where)
{
	uint32_t k = 0;
	struct sim_dom *d;

	for (uint32_t i = 1; i <= S.n; i++) {
		if (S.node[i].powered && (d = sim_hv_find(&S.node[i], name)) && !d->paused) {
			k++;
			if (where)
				*where = &S.node[i];
		}
	}
	return k;
}

/* events of domain dom ("*": any) whose text contains text */
static unsigned long history_count(const struct xh_state *st, const char *dom, const char *text)
{
	unsigned long k = 0;

	for (uint32_t i = 0; i < st->ev_count; i++) {
		const struct xh_event *e = xh_state_event(st, i);

		k += (strcmp(dom, "*") == 0 || strcmp(e->domain, dom) == 0) && strstr(e->text, text);
	}
	return k;
}

static bool log_has(const char *text)
{
	for (size_t i = 0; i < n_log; i++)
		if (strstr(log_lines[i], text))
			return true;
	return false;
}

static void join_rest(char *out, size_t len, int argc, char **argv)
{
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; i < argc && o + 2 < len; i++)
		o += (size_t)snprintf(out + o, len - o, "%s%s", i ? " " : "", argv[i]);
}

static int do_expect(int argc, char **argv, const char *text)
{
	struct sim_node *obs = observer();
	const struct xh_state *st = obs ? sxd_state(obs) : NULL;
	char got[200] = "";
	bool ok = false;
	const char *w = argc > 0 ? argv[0] : "";

	if (strcmp(w, "running") == 0 && argc >= 2) {
		struct sim_node *where = NULL;
		uint32_t k = copies(argv[1], &where);

		if (argc >= 4 && strcmp(argv[2], "on") == 0)
			ok = k == 1 && where == arg_node(argv[3]);
		else
			ok = k == 1;
		snprintf(got, sizeof(got), "copies=%u%s%s", k, where ? " on " : "",
			 where ? where->name : "");
	} else if (strcmp(w, "paused") == 0 && argc >= 4 && strcmp(argv[2], "on") == 0) {
		struct sim_node *n = arg_node(argv[3]);
		struct sim_dom *d = n && n->powered ? sim_hv_find(n, argv[1]) : NULL;

		ok = d && d->paused;
		snprintf(got, sizeof(got), "%s", d ? (d->paused ? "paused" : "running") : "absent");
	} else if (strcmp(w, "stopped") == 0 && argc >= 2) {
		uint32_t k = copies(argv[1], NULL);

		ok = k == 0;
		snprintf(got, sizeof(got), "copies=%u", k);
	} else if (strcmp(w, "count") == 0 && argc >= 3 && strcmp(argv[1], "running") == 0) {
		uint32_t k = 0;

		for (uint32_t i = 1; i <= S.n; i++)
			for (uint32_t j = 0; S.node[i].powered && j < S.node[i].n_dom; j++)
				k += !S.node[i].dom[j].paused;
		ok = k == strtoul(argv[2], NULL, 10);
		snprintf(got, sizeof(got), "count=%u", k);
	} else if (strcmp(w, "state") == 0 && argc >= 3) {
		const struct xh_domain *d = st ? xh_state_domain(st, argv[1]) : NULL;

		ok = d && strcmp(xh_dom_state_str(d->state), argv[2]) == 0;
		snprintf(got, sizeof(got), "state=%s", d ? xh_dom_state_str(d->state) : "none");
	} else if ((strcmp(w, "fenced") == 0 || strcmp(w, "fence") == 0) && argc >= 2) {
		struct sim_node *n = arg_node(argv[1]);
		const struct xh_host *h = st && n ? xh_state_host(st, n->id) : NULL;
		const char *want = w[5] == 'd' ? "confirmed" : argc >= 3 ? argv[2] : "?";

		ok = h && strcmp(xh_fence_str(h->fence), want) == 0;
		snprintf(got, sizeof(got), "fence=%s", h ? xh_fence_str(h->fence) : "unknown");
	} else if ((strcmp(w, "down") == 0 || strcmp(w, "up") == 0) && argc >= 2) {
		struct sim_node *n = arg_node(argv[1]);

		ok = n && n->powered == (w[0] == 'u');
		snprintf(got, sizeof(got), "powered=%s", n && n->powered ? "yes" : "no");
	} else if (strcmp(w, "petting") == 0 && argc >= 3) {
		struct sim_node *n = arg_node(argv[1]);
		bool p = n && sfd_petting(n);

		ok = p == (strcmp(argv[2], "yes") == 0);
		snprintf(got, sizeof(got), "petting=%s", p ? "yes" : "no");
	} else if (strcmp(w, "quorate") == 0 && argc >= 3) {
		struct sim_node *n = arg_node(argv[1]);
		bool q = n && sim_vq_quorate(n);

		ok = q == (strcmp(argv[2], "yes") == 0);
		snprintf(got, sizeof(got), "quorate=%s", q ? "yes" : "no");
	} else if (strcmp(w, "history") == 0 && argc >= 5 && strcmp(argv[2], "count") == 0) {
		char t[300];
		unsigned long k;

		join_rest(t, sizeof(t), argc - 4, argv + 4);
		k = st ? history_count(st, argv[1], t) : 0;
		ok = st && k == strtoul(argv[3], NULL, 10);
		snprintf(got, sizeof(got), "count=%lu", k);
	} else if (strcmp(w, "history") == 0 && argc >= 4 && strcmp(argv[2], "contains") == 0) {
		char t[300];

		join_rest(t, sizeof(t), argc - 3, argv + 3);
		ok = st && history_count(st, argv[1], t) > 0;
		snprintf(got, sizeof(got), "%s", st ? "not in the history" : "no observer");
	} else if ((strcmp(w, "log") == 0 || strcmp(w, "no-log") == 0) && argc >= 2) {
		char t[300];

		join_rest(t, sizeof(t), argc - 1, argv + 1);
		ok = log_has(t) == (w[0] == 'l');
		snprintf(got, sizeof(got), "%s", log_has(t) ? "present" : "absent");
		if (ok)
			got[0] = '\0';
	} else if (strcmp(w, "coordinator") == 0 && argc >= 2) {
		ok = obs && sxd_is_coordinator(obs) && obs == arg_node(argv[1]);
		snprintf(got, sizeof(got), "coordinator=%s", obs && sxd_is_coordinator(obs) ?
			 obs->name : "none");
	} else {
		return -EINVAL;
	}
	n_expects++;
	if (ok) {
		sim_log("expect %s: ok", text);
	} else {
		sim_log("expect %s: FAILED (%s)", text, got);
		n_failed++;
	}
	return 0;
}

/* ---- scenario file ---- */

static int die_line(const char *path, int line, const char *what)
{
	fprintf(stderr, "%s:%d: %s\n", path, line, what);
	return -EINVAL;
}

static void add_event(uint64_t at, int line, bool expect, const char *text)
{
	if (n_ev == cap_ev) {
		cap_ev = cap_ev ? 2 * cap_ev : 64;
		ev = realloc(ev, cap_ev * sizeof(*ev));
		if (!ev)
			abort();
	}
	ev[n_ev].at = at;
	ev[n_ev].line = line;
	ev[n_ev].expect = expect;
	snprintf(ev[n_ev].text, sizeof(ev[n_ev].text), "%s", text);
	n_ev++;
}

static int timing_kv(char *kv)
{
	char *v = strchr(kv, '=');
	uint32_t x;

	if (!v)
		return -EINVAL;
	*v++ = '\0';
	x = (uint32_t)strtoul(v, NULL, 10);
	if (strcmp(kv, "tick") == 0) S.t.tick_ms = x;
	else if (strcmp(kv, "lease") == 0) S.t.lease_ms = x;
	else if (strcmp(kv, "wd") == 0) S.t.watchdog_ms = x;
	else if (strcmp(kv, "margin") == 0) S.t.margin_ms = x;
	else if (strcmp(kv, "token") == 0) S.t.token_ms = x;
	else if (strcmp(kv, "consensus") == 0) S.t.consensus_ms = x;
	else if (strcmp(kv, "msgwait") == 0) S.t.msgwait_ms = x;
	else if (strcmp(kv, "disk-interval") == 0) S.t.disk_interval_ms = x;
	else if (strcmp(kv, "disk-timeout") == 0) S.t.disk_timeout_ms = x;
	else if (strcmp(kv, "xenhad-timeout") == 0) S.t.xenhad_timeout_ms = x;
	else if (strcmp(kv, "join") == 0) S.join_delay_ms = x;
	else if (strcmp(kv, "step") == 0) S.step_ms = x;
	else if (strcmp(kv, "latency") == 0) S.lat_ms = x;
	else return -EINVAL;
	return 0;
}

static int load(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];
	int ln = 0;

	if (!f) {
		perror(path);
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		char copy[512], *argv[64], *hash;
		int argc;

		ln++;
		if ((hash = strchr(line, '#')))
			*hash = '\0';
		line[strcspn(line, "\r\n")] = '\0';
		snprintf(copy, sizeof(copy), "%s", line);
		argc = split(copy, argv, 64);
		if (argc == 0)
			continue;
		if (strcmp(argv[0], "nodes") == 0 && argc >= 2) {
			S.n = (uint32_t)strtoul(argv[1], NULL, 10);
			if (S.n < 1 || S.n > SIM_MAX_NODES)
				return die_line(path, ln, "nodes: 1..16");
			for (uint32_t i = 1; i <= S.n; i++) {
				S.node[i].id = i;
				snprintf(S.node[i].name, XH_NAME_MAX, "h%u", i);
				S.node[i].mem_mb = 8192;
			}
			for (int i = 2; i < argc; i++)
				if (strncmp(argv[i], "mem=", 4) == 0)
					for (uint32_t k = 1; k <= S.n; k++)
						S.node[k].mem_mb = strtoull(argv[i] + 4, NULL, 10);
			S.expected = S.n;
		} else if (strcmp(argv[0], "node") == 0 && argc >= 3) {
			struct sim_node *n = arg_node(argv[1]);

			if (!n || strncmp(argv[2], "mem=", 4) != 0)
				return die_line(path, ln, "node N mem=MiB");
			n->mem_mb = strtoull(argv[2] + 4, NULL, 10);
		} else if (strcmp(argv[0], "timing") == 0) {
			for (int i = 1; i < argc; i++)
				if (timing_kv(argv[i]) < 0)
					return die_line(path, ln, "unknown timing key");
		} else if (strcmp(argv[0], "option") == 0 && argc >= 2) {
			if (strcmp(argv[1], "no-disk") == 0)
				S.disk = false;
			else if (strcmp(argv[1], "unsafe-skip-confirm") == 0)
				S.unsafe_skip_confirm = true;
			else if (strcmp(argv[1], "mig-hang") == 0)
				S.mig_hang = true;
			else if (strcmp(argv[1], "mig-refuse") == 0)
				S.mig_refuse = true;
			else if (strncmp(argv[1], "mig-ms=", 7) == 0)
				S.mig_ms = strtoull(argv[1] + 7, NULL, 10);
			else
				return die_line(path, ln, "unknown option");
		} else if (strcmp(argv[0], "end") == 0 && argc >= 2) {
			S.end_ms = strtoull(argv[1], NULL, 10);
		} else if (strcmp(argv[0], "expect") == 0 && argc >= 2 &&
			   strcmp(argv[1], "violation") == 0) {
			expect_violation = true;
		} else if (strcmp(argv[0], "expect") == 0) {
			char *rest = strstr(line, "expect") + 6;

			add_event(UINT64_MAX, ln, true, rest + strspn(rest, " \t"));
		} else if (strcmp(argv[0], "at") == 0 && argc >= 3) {
			uint64_t at = strtoull(argv[1], NULL, 10);
			char *rest = strstr(line, argv[2]);

			if (S.n == 0)
				return die_line(path, ln, "`nodes N` must come first");
			if (strcmp(argv[2], "expect") == 0) {
				rest += 6;
				add_event(at, ln, true, rest + strspn(rest, " \t"));
			} else if (strcmp(argv[2], "restart-all") == 0) {
				add_event(at, ln, false, "poweroff-all");
				add_event(at + 1000, ln, false, "poweron-all");
			} else {
				add_event(at, ln, false, rest);
			}
		} else {
			return die_line(path, ln, "unknown line");
		}
	}
	fclose(f);
	if (S.n == 0)
		return die_line(path, ln, "no `nodes N`");
	if (S.end_ms == 0)
		return die_line(path, ln, "no `end T`");
	if (n_expects == 0) {
		bool any = expect_violation;

		for (size_t i = 0; i < n_ev; i++)
			any |= ev[i].expect;
		if (!any)
			return die_line(path, ln, "a scenario needs at least one expect");
	}
	return 0;
}

static int cmp_event(const void *a, const void *b)
{
	const struct event *x = a, *y = b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return x->line - y->line;
}

static int run_events(bool expects, size_t *next)
{
	while (*next < n_ev && ev[*next].at <= S.now) {
		struct event *e = &ev[*next];
		char copy[400], *argv[64] = { NULL };
		int argc, rc;

		if (e->expect != expects)
			break;
		(*next)++;
		snprintf(copy, sizeof(copy), "%s", e->text);
		argc = split(copy, argv, 64);
		if (argc == 0)
			continue;
		rc = expects ? do_expect(argc, argv, e->text) : do_command(argc, argv);
		if (rc < 0) {
			fprintf(stderr, "line %d: cannot run `%s`\n", e->line, e->text);
			return rc;
		}
	}
	return 0;
}

/* free everything (the sanitizer build checks for leaks) */
static void cleanup(void)
{
	for (uint32_t i = 1; i <= S.n; i++) {
		struct sim_node *n = &S.node[i];

		n->powered = false;
		proc_kill(n, GRP_XD, false);
		proc_kill(n, GRP_FD, false);
		reap(n);
		free(n->saved);
	}
	while (fl_head) {
		struct flight *f = fl_head;

		fl_head = f->next;
		free(f->data);
		free(f);
	}
	fl_tail = NULL;
	for (size_t i = 0; i < n_log; i++)
		free(log_lines[i]);
	free(log_lines);
	free(ev);
	free(S.logged);
	free(S.disk_img);
}

static void fr_check_log(void)
{
	struct fr_check_item items[32];
	struct fr_chain chain;
	size_t n = 0;
	uint32_t worst = 0;
	int errors;

	memset(&chain, 0, sizeof(chain));
	errors = fr_check(&S.t, &chain, items, 32, &n, &worst);
	sim_log("timing tick=%u lease=%u wd=%u margin=%u token=%u consensus=%u msgwait=%u "
		"disk=%s wait=%u worst=%u errors=%d", S.t.tick_ms, S.t.lease_ms, S.t.watchdog_ms,
		S.t.margin_ms, S.t.token_ms, S.t.consensus_ms, S.t.msgwait_ms,
		S.disk ? "yes" : "no", fr_wait_ms(&S.t), worst, errors);
	for (size_t i = 0; i < n; i++)
		if (items[i].error)
			sim_log("timeout chain error: %s", items[i].text);
}

int main(int argc, char **argv)
{
	const char *path;
	size_t next = 0;
	int rc;

	memset(&S, 0, sizeof(S));
	fr_timing_defaults(&S.t);
	S.step_ms = 10;
	S.mig_ms = 2000;
	S.lat_ms = 10;
	S.join_delay_ms = 300;
	S.disk = true;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && strcmp(argv[1], "-v") == 0) {
		S.verbose = true;
		path = argv[2];
	} else if (argc == 2) {
		path = argv[1];
	} else {
		fprintf(stderr, "usage: xhsim [-v] SCENARIO.scn\n");
		return 3;
	}
	if (load(path) < 0)
		return 3;
	if (S.disk && sfd_disk_init() < 0)
		return 3;
	S.xenhad_timeout_ms = S.t.xenhad_timeout_ms;
	qsort(ev, n_ev, sizeof(*ev), cmp_event);
	/* expects at time T run after the commands of time T (same step) */
	fr_check_log();
	for (uint32_t i = 1; i <= S.n; i++)
		power_on(&S.node[i]);
	for (S.now = 0; S.now <= S.end_ms && !S.violation; S.now += S.step_ms) {
		/* commands first, then the world moves, then expects of this step */
		while (next < n_ev && ev[next].at <= S.now && !ev[next].expect)
			if (run_events(false, &next) < 0)
				return 3;
		deliver_flights();
		membership();
		for (uint32_t i = 1; i <= S.n && !S.violation; i++)
			node_turn(&S.node[i]);
		sim_mig_step();
		order_outboxes();
		for (uint32_t i = 1; i <= S.n; i++) {
			sfd_watchdog_check(&S.node[i]);
			reap(&S.node[i]);
		}
		sim_safety_check();
		while (next < n_ev && ev[next].at <= S.now && ev[next].expect && !S.violation)
			if (run_events(true, &next) < 0)
				return 3;
		/* a command and an expect at the same time: keep the file order */
		while (next < n_ev && ev[next].at <= S.now && !S.violation) {
			rc = run_events(ev[next].expect, &next);
			if (rc < 0)
				return 3;
		}
	}
	if (S.now > S.end_ms)
		S.now = S.end_ms;
	/* expects without a time: at the end */
	while (next < n_ev && !S.violation) {
		if (ev[next].at != UINT64_MAX) {
			next++;
			continue;
		}
		if (run_events(true, &next) < 0)
			return 3;
	}
	if (S.violation) {
		if (expect_violation) {
			sim_log("expect violation: ok (the safety check caught two copies)");
			rc = n_failed ? 1 : 0;
		} else {
			print_trace();
			rc = 2;
		}
	} else if (expect_violation) {
		sim_log("expect violation: FAILED (no two copies were seen)");
		rc = 1;
	} else {
		rc = n_failed ? 1 : 0;
	}
	sim_log("end: expects=%d failed=%d violation=%s", n_expects, n_failed,
		S.violation ? "yes" : "no");
	cleanup();
	return rc;
}
