/*
 * libFuzzer target: command sequences through the wire codec into the
 * replicated state machine (xh_state_apply, include/xenha/state.h), with
 * scheduler rounds in between (sched_compute, include/xenha/sched.h).
 *
 * xh_state_apply() asserts the state invariants after every command and
 * aborts on a violation, so any abort here is a real bug.
 *
 * Input: a sequence of records, each starting with a kind byte:
 *   kind % 4 == 0, 1  a structured command: the next bytes pick the type
 *                     and the fields from a small world (hosts h1..h4 with
 *                     node ids 1..4, domains d0..d5), usually with the
 *                     values a real sender would use (the domain's owner
 *                     and generation) and sometimes not.  It is encoded
 *                     with wire_encode_cmd and decoded back with
 *                     wire_decode_cmd, which must accept it unchanged.
 *   kind % 4 == 2     a raw frame: u16 length, then that many bytes; the
 *                     frame's length and crc32 are fixed up (as in
 *                     fuzz_wire) and it is applied if wire_decode_cmd
 *                     accepts it.
 *   kind % 4 == 3     a scheduler round: sched_compute on the current
 *                     state, then every action applied as its PLACE or
 *                     STOP command: a fresh plan must be accepted whole
 *                     (the property test_sched checks on its fixed
 *                     states); with kind & 4 the executor's reports
 *                     (STARTED / STOPPED) follow each action.
 * At most MAX_STEPS records per input.
 *
 * Checks (abort on failure): apply never aborts; rejections are -errno
 * with a reason; xh_state_check passes after every step; a fresh plan
 * is accepted whole; at the end the state round-trips through
 * wire_encode_snapshot / wire_decode_snapshot byte-identically, and so
 * does its deep copy (xh_state_copy).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "xenha/sched.h"
#include "xenha/state.h"
#include "xenha/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_STEPS 256
#define N_HOSTS 4
#define N_DOMS 6

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_apply: check failed: %s (%s:%d)\n", \
				#cond, __FILE__, __LINE__);                  \
			abort();                                             \
		}                                                            \
	} while (0)

struct in {
	const uint8_t *p;
	size_t len, off;
};

/* Bytes past the end read as 0, so every record is complete. */
static uint8_t rd(struct in *in)
{
	return in->off < in->len ? in->p[in->off++] : 0;
}

static bool at_end(const struct in *in)
{
	return in->off >= in->len;
}

static const char *const xl_texts[] = {
	"name = \"d\"\nmemory = 256\n",
	"builder = \"hvm\"\n",
	"",
};

static void host_name(char *dst, uint32_t nodeid)
{
	snprintf(dst, XH_NAME_MAX, "h%u", (unsigned)nodeid);
}

static void dom_name(char *dst, uint8_t b)
{
	snprintf(dst, XH_NAME_MAX, "d%u", (unsigned)(b % N_DOMS));
}

static uint32_t pick_node(struct in *in)
{
	return 1 + rd(in) % N_HOSTS;
}

/* The lowest member: the coordinator, who sends scheduler commands. */
static uint32_t coordinator(const struct xh_state *s)
{
	for (uint32_t i = 0; i < s->n_hosts; i++)
		if (s->hosts[i].member)
			return s->hosts[i].nodeid;
	return 1;
}

static void fill_list(struct in *in, char list[][XH_NAME_MAX], uint8_t *n)
{
	*n = rd(in) % 3;
	for (uint8_t i = 0; i < *n; i++)
		host_name(list[i], pick_node(in));
}

static void fill_def(struct in *in, struct xh_domain_def *d)
{
	char name[XH_NAME_MAX];
	uint8_t b;

	dom_name(name, rd(in));
	xh_domain_def_init(d, name);
	b = rd(in);
	d->xlcfg = (b & 3) == 3 ? NULL : xl_texts[b % 3];
	d->memory_mb = (1u + rd(in) % 16) * 256;
	d->priority = (int8_t)rd(in);
	d->restart = rd(in) % 3;
	d->max_restarts = rd(in) % 4;
	d->max_relocations = rd(in) % 4;
	fill_list(in, d->preferred, &d->n_preferred);
	fill_list(in, d->avoided, &d->n_avoided);
	b = rd(in);
	if (b % 3)
		snprintf(d->group, sizeof(d->group), "g%u", (unsigned)(b % 3));
	d->start = rd(in) & 1;
}

/* A placement command about domain `name`, by default as its owner or
 * the scheduler would send it. */
static void fill_place(struct in *in, const struct xh_state *s, struct xh_cmd *c)
{
	const struct xh_domain *d;
	uint8_t how = rd(in);

	dom_name(c->u.place.name, rd(in));
	d = xh_state_domain(s, c->u.place.name);
	c->u.place.nodeid = d && d->owner && !(how & 1) ? d->owner : pick_node(in);
	c->u.place.generation = d ? d->generation : 0;
	if (how & 2)
		c->u.place.generation += how >> 6;
	c->u.place.crashed = (how >> 2) & 1;
	if (how & 8)
		snprintf(c->u.place.reason, sizeof(c->u.place.reason), "fuzz %u", how);
	if (c->type == XH_CMD_PLACE || c->type == XH_CMD_STOP)
		c->sender = (how & 16) ? pick_node(in) : coordinator(s);
	else
		c->sender = (how & 16) ? pick_node(in) : c->u.place.nodeid;
}

static void make_cmd(struct in *in, const struct xh_state *s, uint64_t now,
		     struct xh_cmd *c)
{
	uint8_t b;

	memset(c, 0, sizeof(*c));
	c->type = 1 + rd(in) % (XH_CMD__COUNT - 1);
	c->time_ms = now;
	switch (c->type) {
	case XH_CMD_HELLO:
		c->u.hello.nodeid = pick_node(in);
		host_name(c->u.hello.name, c->u.hello.nodeid);
		c->u.hello.mem_total_mb = (1u + rd(in) % 16) * 1024;
		c->u.hello.mem_reserved_mb = (rd(in) & 1) ? 512 : 0;
		c->u.hello.dom_overhead_mb = rd(in) % 16;
		c->u.hello.expected_votes = rd(in) % (N_HOSTS + 2);
		c->sender = (rd(in) & 7) == 7 ? pick_node(in) : c->u.hello.nodeid;
		break;
	case XH_CMD_MEMBERSHIP:
		b = rd(in);
		for (uint32_t id = 1; id <= N_HOSTS; id++)
			if (b & (1u << (id - 1)))
				c->u.members.nodeids[c->u.members.n++] = id;
		break;
	case XH_CMD_DOMAIN_ADD:
	case XH_CMD_DOMAIN_SET:
		fill_def(in, &c->u.dom.def);
		if (c->type == XH_CMD_DOMAIN_SET)
			c->u.dom.mask = (rd(in) | (uint32_t)rd(in) << 8) &
					((XH_DSET_GROUP << 1) - 1);
		c->sender = coordinator(s);
		break;
	case XH_CMD_DOMAIN_REMOVE:
	case XH_CMD_DOMAIN_START:
	case XH_CMD_DOMAIN_STOP:
		dom_name(c->u.name.name, rd(in));
		c->sender = coordinator(s);
		break;
	case XH_CMD_FENCE_CONFIRM:
		c->u.fence.nodeid = pick_node(in);
		snprintf(c->u.fence.by, sizeof(c->u.fence.by), "fuzz");
		c->sender = coordinator(s);
		break;
	case XH_CMD_HOST_FLAGS:
		c->u.flags.nodeid = pick_node(in);
		b = rd(in);
		c->u.flags.standby = b & 1;
		c->u.flags.maintenance = (b >> 1) & 1;
		c->sender = coordinator(s);
		break;
	default:
		fill_place(in, s, c);
		break;
	}
}

/* FUZZ_APPLY_TRACE=1 in the environment: print every command applied
 * (for reading a finding; off while fuzzing). */
static int trace = -1;

static void trace_cmd(const struct xh_cmd *c, int rc, const char *reason)
{
	if (trace < 0)
		trace = getenv("FUZZ_APPLY_TRACE") != NULL;
	if (!trace)
		return;
	fprintf(stderr, "apply %s sender=%u", xh_cmd_type_str(c->type), (unsigned)c->sender);
	if (c->type >= XH_CMD_PLACE && c->type <= XH_CMD_EXITED)
		fprintf(stderr, " %s node=%u gen=%llu", c->u.place.name,
			(unsigned)c->u.place.nodeid,
			(unsigned long long)c->u.place.generation);
	else if (c->type == XH_CMD_DOMAIN_ADD || c->type == XH_CMD_DOMAIN_SET)
		fprintf(stderr, " %s mask=%#x", c->u.dom.def.name, c->u.dom.mask);
	else if (c->type >= XH_CMD_DOMAIN_REMOVE && c->type <= XH_CMD_DOMAIN_STOP)
		fprintf(stderr, " %s", c->u.name.name);
	fprintf(stderr, " -> rc=%d %s\n", rc, reason);
}

static void apply_checked(struct xh_state *s, const struct xh_cmd *c)
{
	struct xh_apply_result res;
	char why[256];
	uint64_t seq = s->seq;
	int rc;

	memset(&res, 0, sizeof(res));
	rc = xh_state_apply(s, c, &res);
	trace_cmd(c, rc, res.reason);
	CHECK(rc <= 0);
	CHECK(rc == res.rc);
	CHECK(memchr(res.reason, '\0', sizeof(res.reason)) != NULL);
	/* a rejected command is still delivered: seq advances either way */
	CHECK(s->seq == seq + 1);
	if (xh_state_check(s, why, sizeof(why)) != 0) {
		fprintf(stderr, "fuzz_apply: state check after %s: %s\n",
			xh_cmd_type_str(c->type), why);
		abort();
	}
}

/* Encode, decode, compare bytes, apply. */
static void apply_via_wire(struct xh_state *s, const struct xh_cmd *c)
{
	struct wire_cmd wc, back;
	struct wire_buf b1, b2;
	int rc;

	memset(&wc, 0, sizeof(wc));
	wc.req_id = s->seq;
	wc.cmd = *c;
	wire_buf_init(&b1);
	rc = wire_encode_cmd(&b1, &wc);
	CHECK(rc == 0);
	CHECK(wire_decode_cmd(b1.data, b1.len, &back) == 0);
	wire_buf_init(&b2);
	CHECK(wire_encode_cmd(&b2, &back) == 0);
	CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
	apply_checked(s, &back.cmd);
	wire_cmd_free(&back);
	wire_buf_free(&b2);
	wire_buf_free(&b1);
}

static void apply_raw(struct xh_state *s, struct in *in)
{
	size_t n = rd(in) | (size_t)rd(in) << 8;
	struct wire_cmd wc;
	uint8_t *f;
	uLong crc;

	if (n > in->len - in->off)
		n = in->len - in->off;
	f = malloc(n ? n : 1);
	if (f == NULL)
		abort();
	memcpy(f, in->p + in->off, n);
	in->off += n;
	if (n >= WIRE_HDR_LEN) {
		uint32_t plen = (uint32_t)(n - WIRE_HDR_LEN);

		for (int i = 0; i < 4; i++)
			f[8 + i] = (uint8_t)(plen >> (8 * i));
		crc = crc32(0L, Z_NULL, 0);
		crc = crc32(crc, f, 12);
		crc = crc32(crc, f + WIRE_HDR_LEN, (uInt)plen);
		for (int i = 0; i < 4; i++)
			f[12 + i] = (uint8_t)(crc >> (8 * i));
	}
	if (wire_decode_cmd(f, n, &wc) == 0) {
		apply_checked(s, &wc.cmd);
		wire_cmd_free(&wc);
	}
	free(f);
}

static void sched_round(struct xh_state *s, bool report, uint64_t now)
{
	struct sched_plan p;
	struct sched_input si;
	char (*names)[XH_NAME_MAX];
	struct xh_apply_result res;
	uint32_t coord = coordinator(s);

	memset(&si, 0, sizeof(si));
	si.now_ms = now;
	sched_plan_init(&p);
	CHECK(sched_compute(s, &si, &p) == 0);
	CHECK(s->quorate || p.n == 0);
	names = calloc(p.n + 1, sizeof(*names));
	if (names == NULL)
		abort();
	/* actions name domains by index: take the names before applying */
	for (uint32_t i = 0; i < p.n; i++) {
		CHECK(p.actions[i].domain < s->n_domains);
		memcpy(names[i], s->domains[p.actions[i].domain].name, XH_NAME_MAX);
	}
	for (uint32_t i = 0; i < p.n; i++) {
		const struct sched_action *a = &p.actions[i];
		struct xh_cmd c;

		memset(&c, 0, sizeof(c));
		c.type = a->type == SCHED_PLACE ? XH_CMD_PLACE : XH_CMD_STOP;
		c.sender = coord;
		c.time_ms = now;
		memcpy(c.u.place.name, names[i], XH_NAME_MAX);
		c.u.place.nodeid = a->nodeid;
		c.u.place.generation = a->generation;
		memset(&res, 0, sizeof(res));
		int rc = xh_state_apply(s, &c, &res);

		trace_cmd(&c, rc, res.reason);
		if (rc != 0) {
			fprintf(stderr, "fuzz_apply: plan action %u/%u (%s %s on %u gen %llu) "
				"rejected: rc=%d %s\n", i, p.n,
				a->type == SCHED_PLACE ? "place" : "stop", names[i],
				a->nodeid, (unsigned long long)a->generation, res.rc,
				res.reason);
			abort();
		}
		if (report) {
			const struct xh_domain *d = xh_state_domain(s, names[i]);

			CHECK(d != NULL);
			c.type = a->type == SCHED_PLACE ? XH_CMD_STARTED : XH_CMD_STOPPED;
			c.sender = a->nodeid;
			c.u.place.generation = d->generation;
			apply_checked(s, &c);
		}
	}
	free(names);
	sched_plan_free(&p);
}

static void check_snapshot(const struct xh_state *s)
{
	struct xh_state back, copy;
	struct wire_buf b1, b2;
	char why[256];

	wire_buf_init(&b1);
	CHECK(wire_encode_snapshot(&b1, s) == 0);
	if (wire_decode_snapshot(b1.data, b1.len, &back) != 0) {
		fprintf(stderr, "fuzz_apply: snapshot of a reachable state refused\n");
		abort();
	}
	CHECK(xh_state_check(&back, why, sizeof(why)) == 0);
	wire_buf_init(&b2);
	CHECK(wire_encode_snapshot(&b2, &back) == 0);
	CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
	wire_buf_free(&b2);

	CHECK(xh_state_copy(&copy, s) == 0);
	wire_buf_init(&b2);
	CHECK(wire_encode_snapshot(&b2, &copy) == 0);
	CHECK(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
	wire_buf_free(&b2);
	xh_state_free(&copy);
	xh_state_free(&back);
	wire_buf_free(&b1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { .p = data, .len = size, .off = 0 };
	struct xh_state s;
	struct xh_cmd c;
	uint64_t now = 1700000000000ull;
	unsigned steps = 0;

	/* a small ring, so the history wraps within one input */
	CHECK(xh_state_init(&s, 16) == 0);
	while (!at_end(&in) && steps++ < MAX_STEPS) {
		uint8_t kind = rd(&in);

		now += 1 + (kind >> 3) * 100u;
		switch (kind % 4) {
		case 0:
		case 1:
			make_cmd(&in, &s, now, &c);
			apply_via_wire(&s, &c);
			break;
		case 2:
			apply_raw(&s, &in);
			break;
		default:
			sched_round(&s, (kind & 4) != 0, now);
			break;
		}
	}
	check_snapshot(&s);
	xh_state_free(&s);
	return 0;
}
