/*
 * Fixtures for the wire codec tests (see wire_fixtures.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <cmocka.h>

#include "xenha/state.h"
#include "xenha/wire.h"
#include "wire_fixtures.h"

/* ---- helpers ---- */

void tw_set_str(char *dst, size_t len, const char *src)
{
	memset(dst, 0, len);
	assert_true(strlen(src) < len);
	memcpy(dst, src, strlen(src));
}

bool tw_all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] != 0)
			return false;
	return true;
}

uint8_t *tw_read_whole(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (f == NULL)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	assert_int_equal(fseek(f, 0, SEEK_SET), 0);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

void tw_write_whole(const char *path, const uint8_t *p, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL)
		fail_msg("cannot create %s", path);
	assert_int_equal(fwrite(p, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Recompute the length and crc of a hand-made or patched frame. */
void tw_reseal(uint8_t *f, size_t len)
{
	uint32_t plen = (uint32_t)(len - WIRE_HDR_LEN);
	uLong crc;
	int i;

	for (i = 0; i < 4; i++)
		f[8 + i] = (uint8_t)(plen >> (8 * i));
	crc = crc32(0L, f, 12);
	crc = crc32(crc, f + WIRE_HDR_LEN, plen);
	for (i = 0; i < 4; i++)
		f[12 + i] = (uint8_t)(crc >> (8 * i));
}

/* Deterministic PRNG (xorshift64*) so failures reproduce. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

uint32_t tw_rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

/* ---- value builders ---- */

const struct cmd_case tw_cmd_cases[] = {
	{ XH_CMD_HELLO, "wire_cmd_hello.bin" },
	{ XH_CMD_MEMBERSHIP, "wire_cmd_membership.bin" },
	{ XH_CMD_DOMAIN_ADD, "wire_cmd_domain_add.bin" },
	{ XH_CMD_DOMAIN_REMOVE, "wire_cmd_domain_remove.bin" },
	{ XH_CMD_DOMAIN_SET, "wire_cmd_domain_set.bin" },
	{ XH_CMD_DOMAIN_START, "wire_cmd_domain_start.bin" },
	{ XH_CMD_DOMAIN_STOP, "wire_cmd_domain_stop.bin" },
	{ XH_CMD_PLACE, "wire_cmd_place.bin" },
	{ XH_CMD_STOP, "wire_cmd_stop.bin" },
	{ XH_CMD_STARTED, "wire_cmd_started.bin" },
	{ XH_CMD_START_FAILED, "wire_cmd_start_failed.bin" },
	{ XH_CMD_STOPPED, "wire_cmd_stopped.bin" },
	{ XH_CMD_EXITED, "wire_cmd_exited.bin" },
	{ XH_CMD_FENCE_CONFIRM, "wire_cmd_fence_confirm.bin" },
	{ XH_CMD_HOST_FLAGS, "wire_cmd_host_flags.bin" },
	{ XH_CMD_FENCE_BEGIN, "wire_cmd_fence_begin.bin" },
};
const size_t tw_n_cmd_cases = sizeof(tw_cmd_cases) / sizeof(tw_cmd_cases[0]);

const char tw_xl_web1[] =
	"name = \"web1\"\nmemory = 1024\nvcpus = 2\n"
	"disk = [ 'phy:/dev/mapper/web1,xvda,w' ]\nvif = [ 'bridge=xenbr0' ]\n";
const char tw_xl_db1[] = "name = \"db1\"\nmemory = 4096\n";

/* Every field of the command's union member set to a non-default value. */
void tw_make_cmd(uint8_t type, struct wire_cmd *wc)
{
	struct xh_cmd *c = &wc->cmd;
	struct xh_domain_def *d = &c->u.dom.def;

	memset(wc, 0, sizeof(*wc));
	wc->req_id = 0x0102030405060708ull + type;
	c->type = type;
	c->sender = 0x00020003u;
	c->time_ms = 1700000000123ull + type;
	switch (type) {
	case XH_CMD_HELLO:
		c->u.hello.nodeid = 3;
		tw_set_str(c->u.hello.name, XH_NAME_MAX, "h3");
		c->u.hello.mem_total_mb = 0x100000000ull + 65536;
		c->u.hello.mem_reserved_mb = 2048;
		c->u.hello.dom_overhead_mb = 12;
		c->u.hello.expected_votes = 5;
		break;
	case XH_CMD_MEMBERSHIP:
		c->u.members.n = 3;
		c->u.members.nodeids[0] = 1;
		c->u.members.nodeids[1] = 2;
		c->u.members.nodeids[2] = 70000;
		break;
	case XH_CMD_DOMAIN_ADD:
		tw_set_str(d->name, XH_NAME_MAX, "web1");
		d->xlcfg = tw_xl_web1;
		d->memory_mb = 1024;
		d->priority = -7;
		d->restart = XH_RESTART_ON_CRASH;
		d->max_restarts = 5;
		d->max_relocations = 9;
		d->n_preferred = 2;
		tw_set_str(d->preferred[0], XH_NAME_MAX, "h2");
		tw_set_str(d->preferred[1], XH_NAME_MAX, "h3");
		d->n_avoided = 1;
		tw_set_str(d->avoided[0], XH_NAME_MAX, "h1");
		tw_set_str(d->group, XH_NAME_MAX, "front");
		d->start = 0;
		c->u.dom.mask = 0;
		break;
	case XH_CMD_DOMAIN_SET:
		tw_set_str(d->name, XH_NAME_MAX, "db1");
		d->xlcfg = tw_xl_db1;
		d->memory_mb = 4096;
		d->priority = 100;
		d->restart = XH_RESTART_NEVER;
		d->max_restarts = 0;
		d->max_relocations = 1;
		d->n_preferred = 1;
		tw_set_str(d->preferred[0], XH_NAME_MAX, "h1");
		d->n_avoided = 3;
		tw_set_str(d->avoided[0], XH_NAME_MAX, "h2");
		tw_set_str(d->avoided[1], XH_NAME_MAX, "h3");
		tw_set_str(d->avoided[2], XH_NAME_MAX, "h4");
		tw_set_str(d->group, XH_NAME_MAX, "databases");
		d->start = 1;
		c->u.dom.mask = XH_DSET_XLCFG | XH_DSET_MEMORY | XH_DSET_PRIORITY |
				XH_DSET_AVOIDED | XH_DSET_GROUP;
		break;
	case XH_CMD_DOMAIN_REMOVE:
		tw_set_str(c->u.name.name, XH_NAME_MAX, "old-vm.2");
		break;
	case XH_CMD_DOMAIN_START:
		tw_set_str(c->u.name.name, XH_NAME_MAX, "web1");
		break;
	case XH_CMD_DOMAIN_STOP:
		tw_set_str(c->u.name.name, XH_NAME_MAX, "db1");
		break;
	case XH_CMD_PLACE:
	case XH_CMD_STOP:
	case XH_CMD_STARTED:
	case XH_CMD_START_FAILED:
	case XH_CMD_STOPPED:
	case XH_CMD_EXITED:
		tw_set_str(c->u.place.name, XH_NAME_MAX, "web1");
		c->u.place.nodeid = 2;
		c->u.place.generation = 0x100000000ull + type;
		c->u.place.crashed = type == XH_CMD_EXITED;
		/* not xh_cmd_type_str(): the vectors must not follow its text */
		snprintf(c->u.place.reason, XH_REASON_MAX, "reason for type %u: h2 said so",
			 type);
		break;
	case XH_CMD_FENCE_CONFIRM:
		c->u.fence.nodeid = 2;
		tw_set_str(c->u.fence.by, XH_NAME_MAX, "operator root on h1");
		break;
	case XH_CMD_FENCE_BEGIN:
		c->u.fence.nodeid = 3;
		tw_set_str(c->u.fence.by, XH_NAME_MAX, "fenced h1: timeout, poison-pill");
		break;
	case XH_CMD_HOST_FLAGS:
		c->u.flags.nodeid = 3;
		c->u.flags.standby = 1;
		c->u.flags.maintenance = 1;
		break;
	default:
		fail_msg("no builder for command type %u", type);
	}
}

static void assert_str_eq(const char *a, const char *b)
{
	assert_string_equal(a, b);
}

static void assert_xlcfg_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL) {
		assert_null(a);
		assert_null(b);
		return;
	}
	assert_string_equal(a, b);
}

static void assert_def_eq(const struct xh_domain_def *a, const struct xh_domain_def *b)
{
	uint8_t i;

	assert_str_eq(a->name, b->name);
	assert_xlcfg_eq(a->xlcfg, b->xlcfg);
	assert_int_equal(a->memory_mb, b->memory_mb);
	assert_int_equal(a->priority, b->priority);
	assert_int_equal(a->restart, b->restart);
	assert_int_equal(a->max_restarts, b->max_restarts);
	assert_int_equal(a->max_relocations, b->max_relocations);
	assert_int_equal(a->n_preferred, b->n_preferred);
	for (i = 0; i < a->n_preferred; i++)
		assert_str_eq(a->preferred[i], b->preferred[i]);
	assert_int_equal(a->n_avoided, b->n_avoided);
	for (i = 0; i < a->n_avoided; i++)
		assert_str_eq(a->avoided[i], b->avoided[i]);
	assert_str_eq(a->group, b->group);
	assert_int_equal(a->start, b->start);
}

void tw_assert_cmd_eq(const struct wire_cmd *x, const struct wire_cmd *y)
{
	const struct xh_cmd *a = &x->cmd, *b = &y->cmd;
	uint32_t i;

	assert_int_equal(x->req_id, y->req_id);
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->sender, b->sender);
	assert_int_equal(a->time_ms, b->time_ms);
	switch (a->type) {
	case XH_CMD_HELLO:
		assert_int_equal(a->u.hello.nodeid, b->u.hello.nodeid);
		assert_str_eq(a->u.hello.name, b->u.hello.name);
		assert_int_equal(a->u.hello.mem_total_mb, b->u.hello.mem_total_mb);
		assert_int_equal(a->u.hello.mem_reserved_mb, b->u.hello.mem_reserved_mb);
		assert_int_equal(a->u.hello.dom_overhead_mb, b->u.hello.dom_overhead_mb);
		assert_int_equal(a->u.hello.expected_votes, b->u.hello.expected_votes);
		break;
	case XH_CMD_MEMBERSHIP:
		assert_int_equal(a->u.members.n, b->u.members.n);
		for (i = 0; i < a->u.members.n; i++)
			assert_int_equal(a->u.members.nodeids[i], b->u.members.nodeids[i]);
		break;
	case XH_CMD_DOMAIN_ADD:
	case XH_CMD_DOMAIN_SET:
		assert_def_eq(&a->u.dom.def, &b->u.dom.def);
		assert_int_equal(a->u.dom.mask, b->u.dom.mask);
		break;
	case XH_CMD_DOMAIN_REMOVE:
	case XH_CMD_DOMAIN_START:
	case XH_CMD_DOMAIN_STOP:
		assert_str_eq(a->u.name.name, b->u.name.name);
		break;
	case XH_CMD_FENCE_CONFIRM:
	case XH_CMD_FENCE_BEGIN:
		assert_int_equal(a->u.fence.nodeid, b->u.fence.nodeid);
		assert_str_eq(a->u.fence.by, b->u.fence.by);
		break;
	case XH_CMD_HOST_FLAGS:
		assert_int_equal(a->u.flags.nodeid, b->u.flags.nodeid);
		assert_int_equal(a->u.flags.standby, b->u.flags.standby);
		assert_int_equal(a->u.flags.maintenance, b->u.flags.maintenance);
		break;
	case XH_CMD_MIGRATE_BEGIN:
	case XH_CMD_MIGRATE_DONE:
	case XH_CMD_MIGRATE_ABORTED:
		assert_str_eq(a->u.mig.name, b->u.mig.name);
		assert_int_equal(a->u.mig.source, b->u.mig.source);
		assert_int_equal(a->u.mig.target, b->u.mig.target);
		assert_int_equal(a->u.mig.generation, b->u.mig.generation);
		assert_int_equal(a->u.mig.mig_id, b->u.mig.mig_id);
		assert_int_equal(a->u.mig.downtime_ms, b->u.mig.downtime_ms);
		assert_str_eq(a->u.mig.reason, b->u.mig.reason);
		break;
	case XH_CMD_DISARM:
		assert_int_equal(a->u.disarm.until_ms, b->u.disarm.until_ms);
		break;
	default:
		assert_str_eq(a->u.place.name, b->u.place.name);
		assert_int_equal(a->u.place.nodeid, b->u.place.nodeid);
		assert_int_equal(a->u.place.generation, b->u.place.generation);
		assert_int_equal(a->u.place.crashed, b->u.place.crashed);
		assert_str_eq(a->u.place.reason, b->u.place.reason);
		break;
	}
}

void tw_make_offer(struct wire_offer *o)
{
	memset(o, 0, sizeof(*o));
	o->nodeid = 2;
	o->qseq = 0x0000000100000007ull;
	o->seq = 0x0000000100000009ull;
	o->digest = 0xdeadbeefu;
	o->n_members = 3;
	o->members[0] = 1;
	o->members[1] = 2;
	o->members[2] = 3;
}

void tw_assert_offer_eq(const struct wire_offer *a, const struct wire_offer *b)
{
	uint32_t i;

	assert_int_equal(a->nodeid, b->nodeid);
	assert_int_equal(a->qseq, b->qseq);
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->digest, b->digest);
	assert_int_equal(a->n_members, b->n_members);
	for (i = 0; i < a->n_members; i++)
		assert_int_equal(a->members[i], b->members[i]);
}

static const uint8_t chunk_bytes[] = "0123456789abcdef\x00\xff\x7f";

void tw_make_chunk(struct wire_chunk *c)
{
	memset(c, 0, sizeof(*c));
	c->nodeid = 1;
	c->round = 0x0000000200000063ull;
	c->index = 2;
	c->count = 5;
	c->total_len = 4000;
	c->len = sizeof(chunk_bytes);
	c->data = chunk_bytes;
}

void tw_assert_chunk_eq(const struct wire_chunk *a, const struct wire_chunk *b)
{
	assert_int_equal(a->nodeid, b->nodeid);
	assert_int_equal(a->round, b->round);
	assert_int_equal(a->index, b->index);
	assert_int_equal(a->count, b->count);
	assert_int_equal(a->total_len, b->total_len);
	assert_int_equal(a->len, b->len);
	if (a->len > 0)
		assert_memory_equal(a->data, b->data, a->len);
}

void tw_add_host(struct xh_state *s, uint32_t nodeid, const char *name,
		     bool member, uint8_t fence)
{
	struct xh_host *h = &s->hosts[s->n_hosts++];

	memset(h, 0, sizeof(*h));
	h->nodeid = nodeid;
	tw_set_str(h->name, XH_NAME_MAX, name);
	h->mem_total_mb = 16384u * nodeid;
	h->mem_reserved_mb = 1024 + nodeid;
	h->dom_overhead_mb = 8 + nodeid;
	h->member = member;
	h->standby = nodeid == 2;
	h->maintenance = nodeid == 1;
	h->fence = fence;
	h->fence_since_ms = fence ? 1700000050000ull + nodeid : 0;
}

/* Add a domain at the end of the array (callers add in name order). */
struct xh_domain *tw_add_domain(struct xh_state *s, const char *name,
				    const char *xlcfg)
{
	struct xh_domain *d;

	if (s->n_domains == s->cap_domains) {
		uint32_t cap = s->cap_domains ? s->cap_domains * 2 : 8;
		struct xh_domain *nd = realloc(s->domains, cap * sizeof(*nd));

		assert_non_null(nd);
		s->domains = nd;
		s->cap_domains = cap;
	}
	d = &s->domains[s->n_domains++];
	memset(d, 0, sizeof(*d));
	tw_set_str(d->name, XH_NAME_MAX, name);
	if (xlcfg != NULL) {
		d->xlcfg = strdup(xlcfg);
		assert_non_null(d->xlcfg);
	}
	d->memory_mb = 512;
	d->max_restarts = 3;
	d->max_relocations = 3;
	return d;
}

void tw_place(struct xh_domain *d, uint8_t st, uint32_t owner, uint32_t last,
		  uint64_t gen, const char *reason)
{
	d->state = st;
	d->owner = owner;
	d->last_owner = last;
	d->generation = gen;
	d->since_ms = 1700000000000ull + gen;
	tw_set_str(d->reason, XH_REASON_MAX, reason);
}

void tw_add_event(struct xh_state *s, uint8_t type, uint32_t nodeid,
		      const char *dom, const char *text)
{
	struct xh_event *e;
	uint32_t at;

	if (s->ev_count < s->ev_cap) {
		at = (s->ev_head + s->ev_count) % s->ev_cap;
		s->ev_count++;
	} else {
		at = s->ev_head;
		s->ev_head = (s->ev_head + 1) % s->ev_cap;
	}
	e = &s->events[at];
	memset(e, 0, sizeof(*e));
	e->seq = s->ev_next_seq++;
	e->time_ms = 1700000000000ull + 1000 * e->seq;
	e->type = type;
	e->nodeid = nodeid;
	tw_set_str(e->domain, XH_NAME_MAX, dom);
	tw_set_str(e->text, XH_REASON_MAX, text);
}

/*
 * The golden snapshot: 3 hosts (one confirmed fenced), 3 domains in
 * several states, and a history ring of 4 that has wrapped (head != 0).
 */
void tw_make_small_state(struct xh_state *s)
{
	struct xh_domain *d;
	int i;

	assert_int_equal(xh_state_init(s, 4), 0);
	s->seq = 41;
	s->qseq = 37;
	s->quorate = true;
	s->expected_votes = 3;
	tw_add_host(s, 1, "h1", true, XH_FENCE_NONE);
	tw_add_host(s, 2, "h2", true, XH_FENCE_NONE);
	tw_add_host(s, 3, "h3", false, XH_FENCE_CONFIRMED);

	d = tw_add_domain(s, "db1", tw_xl_db1);
	d->priority = 50;
	d->restart = XH_RESTART_ON_CRASH;
	d->target = XH_TARGET_STARTED;
	d->n_preferred = 1;
	tw_set_str(d->preferred[0], XH_NAME_MAX, "h1");
	d->n_avoided = 1;
	tw_set_str(d->avoided[0], XH_NAME_MAX, "h2");
	tw_set_str(d->group, XH_NAME_MAX, "databases");
	tw_place(d, XH_DS_RUNNING, 1, 1, 3, "");

	d = tw_add_domain(s, "mail", NULL);
	d->priority = -1;
	d->restart = XH_RESTART_NEVER;
	tw_place(d, XH_DS_STOPPED, 0, 0, 0, "");

	d = tw_add_domain(s, "web1", tw_xl_web1);
	d->target = XH_TARGET_STARTED;
	d->restarts = 3;
	d->relocations = 1;
	tw_place(d, XH_DS_FAILED, 0, 3, 5, "host h3 confirmed fenced");

	for (i = 0; i < 6; i++)
		tw_add_event(s, (uint8_t)(XH_EV_DOMAIN_ADDED + i), (uint32_t)(i % 3),
			  i % 2 ? "web1" : "", "something happened");
	assert_int_equal(s->ev_count, 4);
	assert_int_not_equal(s->ev_head, 0);
}

/* 3 hosts + 20 domains (every placement state) + a wrapped ring of 8. */
void tw_make_medium_state(struct xh_state *s)
{
	static const uint8_t states[] = { XH_DS_STOPPED, XH_DS_STARTING, XH_DS_RUNNING,
					  XH_DS_STOPPING, XH_DS_FAILED, XH_DS_LOST };
	char name[XH_NAME_MAX], xl[128];
	struct xh_domain *d;
	uint32_t i;

	assert_int_equal(xh_state_init(s, 8), 0);
	s->seq = 1000;
	s->qseq = 990;
	s->quorate = true;
	s->expected_votes = 3;
	tw_add_host(s, 1, "alpha", true, XH_FENCE_NONE);
	tw_add_host(s, 2, "beta", true, XH_FENCE_NONE);
	tw_add_host(s, 7, "gamma", false, XH_FENCE_PENDING);
	for (i = 0; i < 20; i++) {
		uint8_t st = states[i % 6];
		uint32_t owner = 0;

		snprintf(name, sizeof(name), "dom%02u", i);
		snprintf(xl, sizeof(xl), "name = \"%s\"\nmemory = %u\n", name, 256 + i);
		d = tw_add_domain(s, name, i % 5 == 4 ? NULL : xl);
		d->memory_mb = 256 + i;
		d->priority = (int32_t)i - 10;
		d->restart = (uint8_t)(i % 3);
		d->target = (uint8_t)(i % 2);
		d->max_restarts = i;
		d->max_relocations = 20 - i;
		d->n_preferred = (uint8_t)(i % 3);
		if (d->n_preferred > 0)
			tw_set_str(d->preferred[0], XH_NAME_MAX, "alpha");
		if (d->n_preferred > 1)
			tw_set_str(d->preferred[1], XH_NAME_MAX, "beta");
		if (i % 4 == 0) {
			d->n_avoided = 1;
			tw_set_str(d->avoided[0], XH_NAME_MAX, "gamma");
		}
		if (i % 7 == 0)
			tw_set_str(d->group, XH_NAME_MAX, "g7");
		if (xh_dom_state_has_owner(st))
			owner = st == XH_DS_LOST ? 7 : 1 + i % 2;
		tw_place(d, st, owner, owner ? owner : (i % 4 == 0 ? 0 : 2), i * 3,
		      st == XH_DS_FAILED ? "start failed: exit status 1" : "");
		d->restarts = i % 4;
		d->relocations = i % 2;
	}
	for (i = 0; i < 19; i++)
		tw_add_event(s, (uint8_t)(XH_EV_DOMAIN_ADDED + i % 11), i % 4,
			  i % 2 ? "dom03" : "", "stopped => starting (host alpha)");
	assert_int_equal(s->ev_count, 8);
	assert_int_not_equal(s->ev_head, 0);
}

static void assert_host_eq(const struct xh_host *a, const struct xh_host *b)
{
	assert_int_equal(a->nodeid, b->nodeid);
	assert_str_eq(a->name, b->name);
	assert_int_equal(a->mem_total_mb, b->mem_total_mb);
	assert_int_equal(a->mem_reserved_mb, b->mem_reserved_mb);
	assert_int_equal(a->dom_overhead_mb, b->dom_overhead_mb);
	assert_int_equal(a->member, b->member);
	assert_int_equal(a->standby, b->standby);
	assert_int_equal(a->maintenance, b->maintenance);
	assert_int_equal(a->fence, b->fence);
	assert_int_equal(a->fence_since_ms, b->fence_since_ms);
}

static void assert_domain_eq(const struct xh_domain *a, const struct xh_domain *b)
{
	uint8_t i;

	assert_str_eq(a->name, b->name);
	assert_xlcfg_eq(a->xlcfg, b->xlcfg);
	assert_int_equal(a->memory_mb, b->memory_mb);
	assert_int_equal(a->priority, b->priority);
	assert_int_equal(a->restart, b->restart);
	assert_int_equal(a->target, b->target);
	assert_int_equal(a->max_restarts, b->max_restarts);
	assert_int_equal(a->max_relocations, b->max_relocations);
	assert_int_equal(a->n_preferred, b->n_preferred);
	for (i = 0; i < a->n_preferred; i++)
		assert_str_eq(a->preferred[i], b->preferred[i]);
	assert_int_equal(a->n_avoided, b->n_avoided);
	for (i = 0; i < a->n_avoided; i++)
		assert_str_eq(a->avoided[i], b->avoided[i]);
	assert_str_eq(a->group, b->group);
	assert_int_equal(a->state, b->state);
	assert_int_equal(a->owner, b->owner);
	assert_int_equal(a->last_owner, b->last_owner);
	assert_int_equal(a->generation, b->generation);
	assert_int_equal(a->restarts, b->restarts);
	assert_int_equal(a->relocations, b->relocations);
	assert_int_equal(a->since_ms, b->since_ms);
	assert_str_eq(a->reason, b->reason);
	assert_int_equal(a->mig_target, b->mig_target);
	assert_int_equal(a->mig_id, b->mig_id);
}

void tw_assert_state_eq(const struct xh_state *a, const struct xh_state *b)
{
	uint32_t i;

	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->qseq, b->qseq);
	assert_int_equal(a->quorate, b->quorate);
	assert_int_equal(a->expected_votes, b->expected_votes);
	assert_int_equal(a->disarmed_until_ms, b->disarmed_until_ms);
	assert_int_equal(a->n_hosts, b->n_hosts);
	for (i = 0; i < a->n_hosts; i++)
		assert_host_eq(&a->hosts[i], &b->hosts[i]);
	assert_int_equal(a->n_domains, b->n_domains);
	for (i = 0; i < a->n_domains; i++)
		assert_domain_eq(&a->domains[i], &b->domains[i]);
	assert_int_equal(a->ev_cap, b->ev_cap);
	assert_int_equal(a->ev_count, b->ev_count);
	assert_int_equal(a->ev_next_seq, b->ev_next_seq);
	for (i = 0; i < a->ev_count; i++) {
		const struct xh_event *x = xh_state_event(a, i);
		const struct xh_event *y = xh_state_event(b, i);

		assert_non_null(x);
		assert_non_null(y);
		assert_int_equal(x->seq, y->seq);
		assert_int_equal(x->time_ms, y->time_ms);
		assert_int_equal(x->type, y->type);
		assert_int_equal(x->nodeid, y->nodeid);
		assert_str_eq(x->domain, y->domain);
		assert_str_eq(x->text, y->text);
	}
}
