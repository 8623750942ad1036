/*
 * Unit tests for the replicated state machine (src/lib/state.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "xenha/state.h"

/* ---- helpers: one function per command, returning apply's rc ---- */

static uint64_t now_ms = 1000;

static int apply(struct xh_state *s, struct xh_cmd *c, struct xh_apply_result *r)
{
	struct xh_apply_result local;
	int rc;

	c->time_ms = now_ms++;
	rc = xh_state_apply(s, c, r != NULL ? r : &local);
	assert_int_equal(rc, (r != NULL ? r : &local)->rc);
	return rc;
}

static int hello(struct xh_state *s, uint32_t id, const char *name, uint64_t mem)
{
	struct xh_cmd c;

	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_HELLO;
	c.sender = id;
	c.u.hello.nodeid = id;
	snprintf(c.u.hello.name, sizeof(c.u.hello.name), "%s", name);
	c.u.hello.mem_total_mb = mem;
	c.u.hello.mem_reserved_mb = 1024;
	c.u.hello.dom_overhead_mb = 8;
	c.u.hello.expected_votes = 0;
	return apply(s, &c, NULL);
}

static int members(struct xh_state *s, uint32_t n, ...)
{
	struct xh_cmd c;
	va_list ap;
	uint32_t i;

	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_MEMBERSHIP;
	c.u.members.n = n;
	va_start(ap, n);
	for (i = 0; i < n; i++)
		c.u.members.nodeids[i] = va_arg(ap, uint32_t);
	va_end(ap);
	return apply(s, &c, NULL);
}

static int add_def(struct xh_state *s, const struct xh_domain_def *def,
		   struct xh_apply_result *r)
{
	struct xh_cmd c;

	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_DOMAIN_ADD;
	c.u.dom.def = *def;
	return apply(s, &c, r);
}

static int add(struct xh_state *s, const char *name, uint32_t mem)
{
	struct xh_domain_def def;

	xh_domain_def_init(&def, name);
	def.memory_mb = mem;
	def.xlcfg = "name = \"x\"\nmemory = 256\n";
	return add_def(s, &def, NULL);
}

static int by_name(struct xh_state *s, uint8_t type, const char *name,
		   struct xh_apply_result *r)
{
	struct xh_cmd c;

	memset(&c, 0, sizeof(c));
	c.type = type;
	snprintf(c.u.name.name, sizeof(c.u.name.name), "%s", name);
	return apply(s, &c, r);
}

static int placement(struct xh_state *s, uint8_t type, const char *name,
		     uint32_t node, uint64_t gen, uint8_t crashed,
		     struct xh_apply_result *r)
{
	struct xh_cmd c;

	memset(&c, 0, sizeof(c));
	c.type = type;
	snprintf(c.u.place.name, sizeof(c.u.place.name), "%s", name);
	c.sender = node;  /* reports come from the host they name */
	c.u.place.nodeid = node;
	c.u.place.generation = gen;
	c.u.place.crashed = crashed;
	return apply(s, &c, r);
}

static int fence_cmd(struct xh_state *s, uint8_t type, uint32_t node, const char *by,
		     struct xh_apply_result *r)
{
	struct xh_cmd c;

	memset(&c, 0, sizeof(c));
	c.type = type;
	c.u.fence.nodeid = node;
	snprintf(c.u.fence.by, sizeof(c.u.fence.by), "%s", by);
	return apply(s, &c, r);
}

static int fence_confirm(struct xh_state *s, uint32_t node, const char *by,
			 struct xh_apply_result *r)
{
	return fence_cmd(s, XH_CMD_FENCE_CONFIRM, node, by, r);
}

static int host_flags(struct xh_state *s, uint32_t node, uint8_t standby, uint8_t maint)
{
	struct xh_cmd c;

	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_HOST_FLAGS;
	c.u.flags.nodeid = node;
	c.u.flags.standby = standby;
	c.u.flags.maintenance = maint;
	return apply(s, &c, NULL);
}

static const struct xh_domain *dom(const struct xh_state *s, const char *name)
{
	const struct xh_domain *d = xh_state_domain(s, name);

	assert_non_null(d);
	return d;
}

static const struct xh_event *last_event(const struct xh_state *s)
{
	assert_true(s->ev_count > 0);
	return xh_state_event(s, s->ev_count - 1);
}

/* Is there an event of this type whose text contains needle? */
static bool has_event(const struct xh_state *s, uint8_t type, const char *needle)
{
	uint32_t i;

	for (i = 0; i < s->ev_count; i++) {
		const struct xh_event *e = xh_state_event(s, i);

		if (e->type == type && strstr(e->text, needle) != NULL)
			return true;
	}
	return false;
}

/* A quorate cluster h1..h3 (ids 1..3), 16 GiB each, all members. */
static void cluster3(struct xh_state *s)
{
	assert_int_equal(xh_state_init(s, 0), 0);
	assert_int_equal(hello(s, 1, "h1", 16384), 0);
	assert_int_equal(hello(s, 2, "h2", 16384), 0);
	assert_int_equal(hello(s, 3, "h3", 16384), 0);
	assert_int_equal(members(s, 3, 1u, 2u, 3u), 0);
	assert_true(s->quorate);
}

/* Add a domain and bring it to RUNNING on node; returns its generation. */
static uint64_t run_on(struct xh_state *s, const char *name, uint32_t node)
{
	uint64_t g;

	if (xh_state_domain(s, name) == NULL)
		assert_int_equal(add(s, name, 1024), 0);
	g = dom(s, name)->generation;
	assert_int_equal(placement(s, XH_CMD_PLACE, name, node, g, 0, NULL), 0);
	assert_int_equal(placement(s, XH_CMD_STARTED, name, node, g + 1, 0, NULL), 0);
	assert_int_equal(dom(s, name)->state, XH_DS_RUNNING);
	return g + 1;
}

static void assert_check_ok(const struct xh_state *s)
{
	char why[128];

	assert_int_equal(xh_state_check(s, why, sizeof(why)), 0);
}

static void assert_check_fails(const struct xh_state *s, const char *needle)
{
	char why[128] = "";

	assert_int_equal(xh_state_check(s, why, sizeof(why)), -EPROTO);
	if (strstr(why, needle) == NULL)
		fail_msg("check reason \"%s\" lacks \"%s\"", why, needle);
}

/* ---- tests ---- */

static void test_init_and_strings(void **st)
{
	struct xh_state s;
	uint8_t r = 99;

	(void)st;
	assert_int_equal(xh_state_init(&s, 0), 0);
	assert_int_equal(s.ev_cap, XH_HISTORY_DEFAULT);
	assert_int_equal(s.n_hosts, 0);
	assert_int_equal(s.n_domains, 0);
	assert_false(s.quorate);
	assert_null(xh_state_event(&s, 0));
	assert_null(xh_state_domain(&s, "x"));
	assert_null(xh_state_host(&s, 1));
	assert_null(xh_state_host_by_name(&s, "h1"));
	assert_check_ok(&s);
	xh_state_free(&s);

	assert_string_equal(xh_dom_state_str(XH_DS_STOPPED), "stopped");
	assert_string_equal(xh_dom_state_str(XH_DS_STARTING), "starting");
	assert_string_equal(xh_dom_state_str(XH_DS_RUNNING), "running");
	assert_string_equal(xh_dom_state_str(XH_DS_STOPPING), "stopping");
	assert_string_equal(xh_dom_state_str(XH_DS_FAILED), "failed");
	assert_string_equal(xh_dom_state_str(XH_DS_LOST), "lost");
	assert_string_equal(xh_dom_state_str(XH_DS__COUNT), "unknown");
	assert_string_equal(xh_fence_str(XH_FENCE_NONE), "none");
	assert_string_equal(xh_fence_str(XH_FENCE_PENDING), "pending");
	assert_string_equal(xh_fence_str(XH_FENCE_CONFIRMED), "confirmed");
	assert_string_equal(xh_fence_str(7), "unknown");
	assert_string_equal(xh_restart_str(XH_RESTART_ON_CRASH), "on-crash");
	assert_string_equal(xh_restart_str(9), "unknown");
	assert_int_equal(xh_restart_parse("never", &r), 0);
	assert_int_equal(r, XH_RESTART_NEVER);
	assert_int_equal(xh_restart_parse("always", &r), 0);
	assert_int_equal(r, XH_RESTART_ALWAYS);
	assert_int_equal(xh_restart_parse("on-crash", &r), 0);
	assert_int_equal(r, XH_RESTART_ON_CRASH);
	assert_int_equal(xh_restart_parse("sometimes", &r), -EINVAL);
	assert_int_equal(xh_restart_parse(NULL, &r), -EINVAL);
	assert_string_equal(xh_cmd_type_str(XH_CMD_FENCE_CONFIRM), "fence-confirm");
	assert_string_equal(xh_cmd_type_str(XH_CMD_FENCE_BEGIN), "fence-begin");
	assert_string_equal(xh_event_type_str(XH_EV_FENCE_STARTED), "fence-started");
	assert_string_equal(xh_cmd_type_str(XH_CMD_HELLO), "hello");
	assert_string_equal(xh_cmd_type_str(0), "unknown");
	assert_string_equal(xh_cmd_type_str(XH_CMD__COUNT), "unknown");
	assert_string_equal(xh_event_type_str(XH_EV_DOMAIN_STATE), "domain-state");
	assert_string_equal(xh_event_type_str(0), "unknown");
	assert_true(xh_dom_state_has_owner(XH_DS_LOST));
	assert_true(xh_dom_state_has_owner(XH_DS_STARTING));
	assert_true(xh_dom_state_has_owner(XH_DS_RUNNING));
	assert_true(xh_dom_state_has_owner(XH_DS_STOPPING));
	assert_false(xh_dom_state_has_owner(XH_DS_STOPPED));
	assert_false(xh_dom_state_has_owner(XH_DS_FAILED));
}

static void test_def_check(void **st)
{
	struct xh_domain_def d;
	char why[XH_REASON_MAX];
	char *big;

	(void)st;
	xh_domain_def_init(&d, "web1");
	assert_int_equal(d.memory_mb, 256);
	assert_int_equal(d.priority, 0);
	assert_int_equal(d.restart, XH_RESTART_ALWAYS);
	assert_int_equal(d.max_restarts, 3);
	assert_int_equal(d.max_relocations, 3);
	assert_int_equal(d.start, 1);
	assert_int_equal(xh_domain_def_check(&d, why, sizeof(why)), 0);

	xh_domain_def_init(&d, "");
	assert_int_equal(xh_domain_def_check(&d, why, sizeof(why)), -EINVAL);
	xh_domain_def_init(&d, "-web");
	assert_int_equal(xh_domain_def_check(&d, why, sizeof(why)), -EINVAL);
	xh_domain_def_init(&d, "web 1");
	assert_int_equal(xh_domain_def_check(&d, why, sizeof(why)), -EINVAL);
	xh_domain_def_init(&d, "web/1");
	assert_int_equal(xh_domain_def_check(&d, NULL, 0), -EINVAL);
	xh_domain_def_init(&d, "web1");
	memset(d.name, 'a', sizeof(d.name)); /* unterminated */
	assert_int_equal(xh_domain_def_check(&d, why, sizeof(why)), -EINVAL);

	xh_domain_def_init(&d, "web1");
	d.memory_mb = 0;
	assert_int_equal(xh_domain_def_check(&d, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "memory"));

	xh_domain_def_init(&d, "web1");
	d.restart = 3;
	assert_int_equal(xh_domain_def_check(&d, why, sizeof(why)), -EINVAL);

	xh_domain_def_init(&d, "web1");
	d.n_preferred = XH_MAX_PREF + 1;
	assert_int_equal(xh_domain_def_check(&d, why, sizeof(why)), -EINVAL);

	xh_domain_def_init(&d, "web1");
	d.n_preferred = 2;
	strcpy(d.preferred[0], "h1");
	strcpy(d.preferred[1], "h1");
	assert_int_equal(xh_domain_def_check(&d, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "twice"));

	xh_domain_def_init(&d, "web1");
	d.n_preferred = 1;
	strcpy(d.preferred[0], "h1");
	d.n_avoided = 1;
	strcpy(d.avoided[0], "h1");
	assert_int_equal(xh_domain_def_check(&d, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "both preferred and avoided"));

	xh_domain_def_init(&d, "web1");
	d.n_avoided = 1;
	strcpy(d.avoided[0], "h 1");
	assert_int_equal(xh_domain_def_check(&d, why, sizeof(why)), -EINVAL);

	xh_domain_def_init(&d, "web1");
	strcpy(d.group, "g 1");
	assert_int_equal(xh_domain_def_check(&d, why, sizeof(why)), -EINVAL);
	strcpy(d.group, "db-group_1.x");
	assert_int_equal(xh_domain_def_check(&d, why, sizeof(why)), 0);

	xh_domain_def_init(&d, "web1");
	d.start = 2;
	assert_int_equal(xh_domain_def_check(&d, why, sizeof(why)), -EINVAL);

	big = malloc(XH_XLCFG_MAX + 2);
	assert_non_null(big);
	memset(big, 'x', XH_XLCFG_MAX);
	big[XH_XLCFG_MAX] = '\0';
	xh_domain_def_init(&d, "web1");
	d.xlcfg = big;
	assert_int_equal(xh_domain_def_check(&d, why, sizeof(why)), 0);
	big[XH_XLCFG_MAX] = 'x';
	big[XH_XLCFG_MAX + 1] = '\0';
	assert_int_equal(xh_domain_def_check(&d, why, sizeof(why)), -EINVAL);
	free(big);
}

static void test_seq_qseq(void **st)
{
	struct xh_state s;

	(void)st;
	assert_int_equal(xh_state_init(&s, 0), 0);
	assert_int_equal(hello(&s, 1, "h1", 8192), 0);
	assert_int_equal(s.seq, 1);
	assert_int_equal(s.qseq, 0);
	/* rejected, not quorate: seq advances, qseq does not */
	assert_int_equal(hello(&s, 0, "bad", 8192), -EINVAL);
	assert_int_equal(s.seq, 2);
	assert_int_equal(s.qseq, 0);
	/* the membership that makes us quorate: quorate was false before it */
	assert_int_equal(members(&s, 1, 1u), 0);
	assert_true(s.quorate);
	assert_int_equal(s.seq, 3);
	assert_int_equal(s.qseq, 0);
	/* rejected while quorate: both advance */
	assert_int_equal(by_name(&s, XH_CMD_DOMAIN_START, "nope", NULL), -ENOENT);
	assert_int_equal(s.seq, 4);
	assert_int_equal(s.qseq, 1);
	assert_int_equal(add(&s, "a", 256), 0);
	assert_int_equal(s.seq, 5);
	assert_int_equal(s.qseq, 2);
	/* losing quorum: the membership itself counts as quorate */
	assert_int_equal(members(&s, 0), 0);
	assert_false(s.quorate);
	assert_int_equal(s.seq, 6);
	assert_int_equal(s.qseq, 3);
	assert_int_equal(by_name(&s, XH_CMD_DOMAIN_STOP, "a", NULL), 0);
	assert_int_equal(s.seq, 7);
	assert_int_equal(s.qseq, 3);
	/* an unknown command type is rejected and counted */
	{
		struct xh_cmd c;
		struct xh_apply_result r;

		memset(&c, 0, sizeof(c));
		c.type = XH_CMD__COUNT;
		assert_int_equal(apply(&s, &c, &r), -EINVAL);
		assert_non_null(strstr(r.reason, "unknown command"));
		assert_int_equal(s.seq, 8);
	}
	xh_state_free(&s);
}

static void test_hello(void **st)
{
	struct xh_state s;
	struct xh_cmd c;
	struct xh_apply_result r;
	uint32_t i;

	(void)st;
	assert_int_equal(xh_state_init(&s, 0), 0);
	assert_int_equal(hello(&s, 5, "h5", 8192), 0);
	assert_int_equal(hello(&s, 2, "h2", 4096), 0);
	assert_int_equal(s.n_hosts, 2);
	assert_int_equal(s.hosts[0].nodeid, 2); /* sorted by node id */
	assert_int_equal(s.hosts[1].nodeid, 5);
	assert_int_equal(s.expected_votes, 2);
	assert_string_equal(last_event(&s)->text, "host h2 registered");
	assert_int_equal(last_event(&s)->type, XH_EV_HOST_JOINED);
	assert_int_equal(xh_state_host_by_name(&s, "h5")->nodeid, 5);

	/* update: same id, new memory; no new event */
	i = s.ev_count;
	assert_int_equal(hello(&s, 2, "h2", 6000), 0);
	assert_int_equal(xh_state_host(&s, 2)->mem_total_mb, 6000);
	assert_int_equal(xh_state_host(&s, 2)->mem_reserved_mb, 1024);
	assert_int_equal(xh_state_host(&s, 2)->dom_overhead_mb, 8);
	assert_int_equal(s.ev_count, i);

	/* a node announces only itself */
	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_HELLO;
	c.sender = 2;
	c.u.hello.nodeid = 7;
	strcpy(c.u.hello.name, "h7");
	assert_int_equal(apply(&s, &c, &r), -EPERM);
	assert_null(xh_state_host(&s, 7));

	/* a name taken by another node */
	c.sender = 7;
	strcpy(c.u.hello.name, "h5");
	assert_int_equal(apply(&s, &c, &r), -EEXIST);
	assert_non_null(strstr(r.reason, "h5"));
	assert_int_equal(s.n_hosts, 2);
	strcpy(c.u.hello.name, "bad name");
	assert_int_equal(apply(&s, &c, &r), -EINVAL);
	/* expected votes from the hello */
	strcpy(c.u.hello.name, "h7");
	c.u.hello.expected_votes = 5;
	assert_int_equal(apply(&s, &c, &r), 0);
	assert_int_equal(s.expected_votes, 5);
	c.u.hello.expected_votes = 1; /* never lowered */
	assert_int_equal(apply(&s, &c, &r), 0);
	assert_int_equal(s.expected_votes, 5);

	/* table full */
	for (i = 100; s.n_hosts < XH_MAX_HOSTS; i++) {
		char n[16];

		snprintf(n, sizeof(n), "x%u", i);
		assert_int_equal(hello(&s, i, n, 1024), 0);
	}
	assert_int_equal(s.expected_votes, XH_MAX_HOSTS);
	assert_int_equal(hello(&s, 999, "extra", 1024), -ENOSPC);
	assert_int_equal(hello(&s, 100, "x100", 2048), 0); /* update still fine */
	assert_check_ok(&s);
	xh_state_free(&s);
}

static void test_membership(void **st)
{
	struct xh_state s;

	(void)st;
	assert_int_equal(xh_state_init(&s, 0), 0);
	assert_int_equal(hello(&s, 1, "h1", 8192), 0);
	/* unknown nodes get placeholders; a later HELLO renames them */
	assert_int_equal(members(&s, 3, 1u, 3u, 2u), 0);
	assert_int_equal(s.n_hosts, 3);
	assert_string_equal(xh_state_host(&s, 2)->name, "node2");
	assert_string_equal(xh_state_host(&s, 3)->name, "node3");
	assert_true(xh_state_host(&s, 3)->member);
	assert_int_equal(s.expected_votes, 3);
	assert_true(s.quorate);
	assert_true(has_event(&s, XH_EV_QUORUM, "quorum gained"));
	assert_true(has_event(&s, XH_EV_HOST_JOINED, "host node3 joined"));
	assert_int_equal(hello(&s, 3, "h3", 8192), 0);
	assert_string_equal(xh_state_host(&s, 3)->name, "h3");
	assert_true(has_event(&s, XH_EV_HOST_JOINED, "host h3 registered (was node3)"));

	/* a placeholder never duplicates a real host's name */
	assert_int_equal(hello(&s, 9, "node8", 8192), 0);
	assert_int_equal(members(&s, 4, 1u, 2u, 3u, 8u), 0);
	assert_string_equal(xh_state_host(&s, 8)->name, "node8-1");
	assert_check_ok(&s);

	/* 2 of 5 expected: quorum lost; one that left is pending fencing */
	assert_int_equal(members(&s, 2, 1u, 2u), 0);
	assert_false(s.quorate);
	assert_true(has_event(&s, XH_EV_QUORUM, "quorum lost"));
	assert_true(has_event(&s, XH_EV_HOST_LEFT, "host h3 left"));
	assert_int_equal(xh_state_host(&s, 3)->fence, XH_FENCE_PENDING);
	assert_int_equal(xh_state_host(&s, 3)->fence_since_ms, now_ms - 1);
	assert_true(has_event(&s, XH_EV_FENCE_PENDING, "h3"));
	/* node 9 was never a member: it did not "leave" */
	assert_int_equal(xh_state_host(&s, 9)->fence, XH_FENCE_NONE);

	/* malformed memberships */
	assert_int_equal(members(&s, 2, 1u, 1u), -EINVAL);
	assert_int_equal(members(&s, 2, 1u, 0u), -EINVAL);
	{
		struct xh_cmd c;

		memset(&c, 0, sizeof(c));
		c.type = XH_CMD_MEMBERSHIP;
		c.u.members.n = XH_MAX_HOSTS + 1;
		assert_int_equal(apply(&s, &c, NULL), -EINVAL);
	}
	/* back: fence state cleared, quorum regained */
	assert_int_equal(members(&s, 3, 1u, 2u, 3u), 0);
	assert_true(s.quorate);
	assert_int_equal(xh_state_host(&s, 3)->fence, XH_FENCE_NONE);
	assert_check_ok(&s);
	xh_state_free(&s);
}

static void test_membership_table_full(void **st)
{
	struct xh_state s;
	struct xh_cmd c;
	uint32_t i;

	(void)st;
	assert_int_equal(xh_state_init(&s, 0), 0);
	assert_int_equal(hello(&s, 1000, "h1000", 8192), 0);
	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_MEMBERSHIP;
	c.u.members.n = XH_MAX_HOSTS;
	for (i = 0; i < XH_MAX_HOSTS; i++)
		c.u.members.nodeids[i] = i + 1;
	assert_int_equal(apply(&s, &c, NULL), -ENOSPC);
	assert_int_equal(s.n_hosts, 1);
	c.u.members.nodeids[XH_MAX_HOSTS - 1] = 1000;
	assert_int_equal(apply(&s, &c, NULL), 0);
	assert_int_equal(s.n_hosts, XH_MAX_HOSTS);
	assert_check_ok(&s);
	xh_state_free(&s);
}

static void test_domain_add_remove(void **st)
{
	static const char *names[] = { "m", "c", "x", "a", "q", "b", "z", "k" };
	struct xh_state s;
	struct xh_domain_def def;
	struct xh_apply_result r;
	uint32_t i;

	(void)st;
	cluster3(&s);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_int_equal(add(&s, names[i], 512), 0);
	assert_int_equal(s.n_domains, 8);
	for (i = 1; i < s.n_domains; i++)
		assert_true(strcmp(s.domains[i - 1].name, s.domains[i].name) < 0);
	assert_int_equal(dom(&s, "q")->target, XH_TARGET_STARTED);
	assert_int_equal(dom(&s, "q")->state, XH_DS_STOPPED);
	assert_int_equal(dom(&s, "q")->generation, 0);
	assert_string_equal(dom(&s, "q")->xlcfg, "name = \"x\"\nmemory = 256\n");
	assert_true(has_event(&s, XH_EV_DOMAIN_ADDED, "domain q added"));

	/* duplicate, invalid, stopped-at-add, NULL xlcfg */
	xh_domain_def_init(&def, "q");
	assert_int_equal(add_def(&s, &def, &r), -EEXIST);
	assert_non_null(strstr(r.reason, "already exists"));
	xh_domain_def_init(&def, "bad name");
	assert_int_equal(add_def(&s, &def, &r), -EINVAL);
	xh_domain_def_init(&def, "quiet");
	def.start = 0;
	assert_int_equal(add_def(&s, &def, &r), 0);
	assert_int_equal(dom(&s, "quiet")->target, XH_TARGET_STOPPED);
	assert_null(dom(&s, "quiet")->xlcfg);

	/* remove: unknown, busy, fine */
	assert_int_equal(by_name(&s, XH_CMD_DOMAIN_REMOVE, "nope", &r), -ENOENT);
	run_on(&s, "m", 2);
	assert_int_equal(by_name(&s, XH_CMD_DOMAIN_REMOVE, "m", &r), -EBUSY);
	assert_string_equal(r.reason, "domain m is running on h2; stop it first");
	assert_int_equal(by_name(&s, XH_CMD_DOMAIN_REMOVE, "a", &r), 0);
	assert_int_equal(by_name(&s, XH_CMD_DOMAIN_REMOVE, "z", &r), 0);
	assert_int_equal(by_name(&s, XH_CMD_DOMAIN_REMOVE, "k", &r), 0);
	assert_null(xh_state_domain(&s, "a"));
	assert_null(xh_state_domain(&s, "k"));
	assert_non_null(xh_state_domain(&s, "b"));
	assert_int_equal(s.n_domains, 6);
	assert_true(has_event(&s, XH_EV_DOMAIN_REMOVED, "domain k removed"));
	assert_check_ok(&s);
	xh_state_free(&s);
}

static void test_domain_add_many(void **st)
{
	struct xh_state s;
	char n[32];
	uint32_t i;

	(void)st;
	cluster3(&s);
	/* reverse order: every insert at the front, through several regrowths */
	for (i = 0; i < 300; i++) {
		snprintf(n, sizeof(n), "d%04u", 299 - i);
		assert_int_equal(add(&s, n, 256), 0);
	}
	assert_int_equal(s.n_domains, 300);
	assert_string_equal(s.domains[0].name, "d0000");
	assert_string_equal(s.domains[299].name, "d0299");
	assert_check_ok(&s);
	xh_state_free(&s);
}

static void test_domain_set(void **st)
{
	struct xh_state s;
	struct xh_cmd c;
	struct xh_apply_result r;
	const struct xh_domain *d;

	(void)st;
	cluster3(&s);
	run_on(&s, "web", 1);
	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_DOMAIN_SET;
	xh_domain_def_init(&c.u.dom.def, "web");
	c.u.dom.def.memory_mb = 4096;
	c.u.dom.def.priority = 7;       /* not in the mask: ignored */
	c.u.dom.def.xlcfg = "new";
	c.u.dom.mask = XH_DSET_MEMORY | XH_DSET_XLCFG;
	assert_int_equal(apply(&s, &c, &r), 0);
	d = dom(&s, "web");
	assert_int_equal(d->memory_mb, 4096);
	assert_int_equal(d->priority, 0);
	assert_string_equal(d->xlcfg, "new");
	assert_int_equal(d->state, XH_DS_RUNNING); /* running domains may change */
	assert_true(has_event(&s, XH_EV_DOMAIN_CHANGED, "memory"));

	c.u.dom.mask = XH_DSET_PRIORITY | XH_DSET_RESTART | XH_DSET_MAX_RESTARTS |
		       XH_DSET_MAX_RELOCATIONS | XH_DSET_GROUP | XH_DSET_PREFERRED |
		       XH_DSET_AVOIDED;
	c.u.dom.def.restart = XH_RESTART_NEVER;
	c.u.dom.def.max_restarts = 9;
	c.u.dom.def.max_relocations = 8;
	strcpy(c.u.dom.def.group, "g1");
	c.u.dom.def.n_preferred = 1;
	strcpy(c.u.dom.def.preferred[0], "h2");
	c.u.dom.def.n_avoided = 1;
	strcpy(c.u.dom.def.avoided[0], "h3");
	assert_int_equal(apply(&s, &c, &r), 0);
	d = dom(&s, "web");
	assert_int_equal(d->priority, 7);
	assert_int_equal(d->restart, XH_RESTART_NEVER);
	assert_int_equal(d->max_restarts, 9);
	assert_int_equal(d->max_relocations, 8);
	assert_string_equal(d->group, "g1");
	assert_int_equal(d->n_preferred, 1);
	assert_string_equal(d->preferred[0], "h2");
	assert_string_equal(d->avoided[0], "h3");
	assert_string_equal(d->xlcfg, "new");
	assert_int_equal(d->memory_mb, 4096);

	/* the combined result is validated: preferring an avoided host */
	c.u.dom.mask = XH_DSET_PREFERRED;
	strcpy(c.u.dom.def.preferred[0], "h3");
	assert_int_equal(apply(&s, &c, &r), -EINVAL);
	assert_string_equal(dom(&s, "web")->preferred[0], "h2");
	/* removing the xl.cfg */
	c.u.dom.mask = XH_DSET_XLCFG;
	c.u.dom.def.xlcfg = NULL;
	assert_int_equal(apply(&s, &c, &r), 0);
	assert_null(dom(&s, "web")->xlcfg);
	/* invalid value, empty and unknown masks, unknown domain */
	c.u.dom.mask = XH_DSET_MEMORY;
	c.u.dom.def.memory_mb = 0;
	assert_int_equal(apply(&s, &c, &r), -EINVAL);
	assert_int_equal(dom(&s, "web")->memory_mb, 4096);
	c.u.dom.mask = 0;
	assert_int_equal(apply(&s, &c, &r), -EINVAL);
	c.u.dom.mask = 1u << 20;
	assert_int_equal(apply(&s, &c, &r), -EINVAL);
	strcpy(c.u.dom.def.name, "nope");
	c.u.dom.mask = XH_DSET_PRIORITY;
	assert_int_equal(apply(&s, &c, &r), -ENOENT);
	assert_check_ok(&s);
	xh_state_free(&s);
}

static void test_place_rejects(void **st)
{
	struct xh_state s;
	struct xh_apply_result r;
	struct xh_domain_def def;

	(void)st;
	cluster3(&s);
	assert_int_equal(add(&s, "web", 512), 0);
	xh_domain_def_init(&def, "off");
	def.start = 0;
	assert_int_equal(add_def(&s, &def, NULL), 0);

	assert_int_equal(placement(&s, XH_CMD_PLACE, "nope", 1, 0, 0, &r), -ENOENT);
	assert_int_equal(placement(&s, XH_CMD_PLACE, "web", 1, 5, 0, &r), -ESTALE);
	assert_int_equal(placement(&s, XH_CMD_PLACE, "off", 1, 0, 0, &r), -EINVAL);
	assert_non_null(strstr(r.reason, "target is stopped"));
	assert_int_equal(placement(&s, XH_CMD_PLACE, "web", 9, 0, 0, &r), -ENOENT);
	assert_int_equal(host_flags(&s, 1, 1, 0), 0);
	assert_int_equal(placement(&s, XH_CMD_PLACE, "web", 1, 0, 0, &r), -EBUSY);
	assert_string_equal(r.reason, "host h1 is in standby");
	assert_int_equal(host_flags(&s, 1, 0, 1), 0);
	assert_int_equal(placement(&s, XH_CMD_PLACE, "web", 1, 0, 0, &r), -EBUSY);
	assert_string_equal(r.reason, "host h1 is in maintenance");
	assert_int_equal(host_flags(&s, 1, 0, 0), 0);
	/* a non-member (and pending fencing) */
	assert_int_equal(members(&s, 2, 1u, 2u), 0);
	assert_int_equal(placement(&s, XH_CMD_PLACE, "web", 3, 0, 0, &r), -EHOSTDOWN);
	/* a non-member never seen in a membership, fence none */
	assert_int_equal(hello(&s, 4, "h4", 8192), 0);
	assert_int_equal(placement(&s, XH_CMD_PLACE, "web", 4, 0, 0, &r), -EHOSTDOWN);
	/* no quorum */
	assert_int_equal(members(&s, 1, 1u), 0);
	assert_false(s.quorate);
	assert_int_equal(placement(&s, XH_CMD_PLACE, "web", 1, 0, 0, &r), -EAGAIN);
	assert_string_equal(r.reason, "no quorum");
	assert_int_equal(members(&s, 3, 1u, 2u, 3u), 0);
	assert_true(s.quorate);
	/* accepted; then a second placement (the safety rule) */
	assert_int_equal(placement(&s, XH_CMD_PLACE, "web", 1, 0, 0, &r), 0);
	assert_int_equal(dom(&s, "web")->state, XH_DS_STARTING);
	assert_int_equal(dom(&s, "web")->owner, 1);
	assert_int_equal(dom(&s, "web")->generation, 1);
	assert_true(has_event(&s, XH_EV_DOMAIN_STATE, "stopped => starting (host h1)"));
	assert_int_equal(placement(&s, XH_CMD_PLACE, "web", 2, 1, 0, &r), -EBUSY);
	assert_string_equal(r.reason, "domain web is already starting on h1");
	assert_int_equal(placement(&s, XH_CMD_PLACE, "web", 2, 0, 0, &r), -ESTALE);
	assert_int_equal(dom(&s, "web")->owner, 1);
	assert_check_ok(&s);
	xh_state_free(&s);
}

static void test_reports(void **st)
{
	struct xh_state s;
	struct xh_apply_result r;
	uint64_t g;

	(void)st;
	cluster3(&s);
	assert_int_equal(add(&s, "web", 512), 0);
	assert_int_equal(placement(&s, XH_CMD_PLACE, "web", 2, 0, 0, NULL), 0);
	g = 1;
	/* stale: wrong host, wrong generation, unknown domain */
	assert_int_equal(placement(&s, XH_CMD_STARTED, "web", 3, g, 0, &r), -ESTALE);
	assert_non_null(strstr(r.reason, "stale report"));
	assert_int_equal(placement(&s, XH_CMD_STARTED, "web", 2, g + 1, 0, &r), -ESTALE);
	assert_int_equal(placement(&s, XH_CMD_STARTED, "nope", 2, g, 0, &r), -ENOENT);
	/* STARTING: STOPPED needs a stop first? no: STOPPED is accepted from
	 * STARTING; test the others first */
	assert_int_equal(placement(&s, XH_CMD_STARTED, "web", 2, g, 0, &r), 0);
	assert_int_equal(dom(&s, "web")->state, XH_DS_RUNNING);
	assert_true(has_event(&s, XH_EV_DOMAIN_STATE, "starting => running (host h2)"));
	assert_int_equal(placement(&s, XH_CMD_STARTED, "web", 2, g, 0, &r), -EALREADY);
	assert_int_equal(placement(&s, XH_CMD_START_FAILED, "web", 2, g, 0, &r), -EINVAL);
	assert_int_equal(dom(&s, "web")->state, XH_DS_RUNNING);
	/* STOP: running -> stopping, twice -> EALREADY */
	assert_int_equal(placement(&s, XH_CMD_STOP, "web", 3, g, 0, &r), -ESTALE);
	assert_int_equal(placement(&s, XH_CMD_STOP, "web", 2, g, 0, &r), 0);
	assert_int_equal(dom(&s, "web")->state, XH_DS_STOPPING);
	assert_int_equal(placement(&s, XH_CMD_STOP, "web", 2, g, 0, &r), -EALREADY);
	assert_int_equal(placement(&s, XH_CMD_STARTED, "web", 2, g, 0, &r), -EINVAL);
	/* STOPPED: owner cleared, last owner kept */
	assert_int_equal(placement(&s, XH_CMD_STOPPED, "web", 2, g, 0, &r), 0);
	assert_int_equal(dom(&s, "web")->state, XH_DS_STOPPED);
	assert_int_equal(dom(&s, "web")->owner, 0);
	assert_int_equal(dom(&s, "web")->last_owner, 2);
	/* now nothing matches the old placement */
	assert_int_equal(placement(&s, XH_CMD_STOPPED, "web", 2, g, 0, &r), -ESTALE);
	assert_int_equal(placement(&s, XH_CMD_EXITED, "web", 2, g, 1, &r), -ESTALE);
	assert_int_equal(placement(&s, XH_CMD_STOP, "web", 2, g, 0, &r), -ESTALE);
	assert_int_equal(placement(&s, XH_CMD_STOP, "web", 0, g, 0, &r), -ESTALE);

	/* START_FAILED from STARTING; reason kept */
	assert_int_equal(placement(&s, XH_CMD_PLACE, "web", 3, g, 0, NULL), 0);
	g++;
	{
		struct xh_cmd c;

		memset(&c, 0, sizeof(c));
		c.type = XH_CMD_START_FAILED;
		strcpy(c.u.place.name, "web");
		c.sender = 3;
		c.u.place.nodeid = 3;
		c.u.place.generation = g;
		strcpy(c.u.place.reason, "xl create: out of memory");
		assert_int_equal(apply(&s, &c, &r), 0);
	}
	assert_int_equal(dom(&s, "web")->state, XH_DS_FAILED);
	assert_int_equal(dom(&s, "web")->owner, 0);
	assert_int_equal(dom(&s, "web")->last_owner, 3);
	assert_string_equal(dom(&s, "web")->reason, "xl create: out of memory");
	assert_true(has_event(&s, XH_EV_DOMAIN_STATE,
			      "starting => failed (host h3): xl create: out of memory"));

	/* STOPPED straight from STARTING (stopped before it came up) */
	assert_int_equal(placement(&s, XH_CMD_PLACE, "web", 3, g, 0, NULL), 0);
	g++;
	assert_int_equal(placement(&s, XH_CMD_STOPPED, "web", 3, g, 0, &r), 0);
	assert_int_equal(dom(&s, "web")->state, XH_DS_STOPPED);
	/* EXITED while STOPPING: stopped, target untouched */
	g = run_on(&s, "web", 1);
	assert_int_equal(placement(&s, XH_CMD_STOP, "web", 1, g, 0, &r), 0);
	assert_int_equal(placement(&s, XH_CMD_EXITED, "web", 1, g, 0, &r), 0);
	assert_int_equal(dom(&s, "web")->state, XH_DS_STOPPED);
	assert_int_equal(dom(&s, "web")->target, XH_TARGET_STARTED);
	assert_check_ok(&s);
	xh_state_free(&s);
}

static void test_domain_start_stop(void **st)
{
	struct xh_state s;
	struct xh_apply_result r;
	uint64_t g;

	(void)st;
	cluster3(&s);
	g = run_on(&s, "web", 1);
	assert_int_equal(placement(&s, XH_CMD_EXITED, "web", 1, g, 1, &r), 0);
	assert_int_equal(dom(&s, "web")->state, XH_DS_FAILED);
	assert_int_equal(placement(&s, XH_CMD_PLACE, "web", 2, g, 0, &r), 0);
	assert_int_equal(dom(&s, "web")->relocations, 1);
	g++;
	assert_int_equal(placement(&s, XH_CMD_START_FAILED, "web", 2, g, 0, &r), 0);
	assert_int_equal(dom(&s, "web")->state, XH_DS_FAILED);

	assert_int_equal(by_name(&s, XH_CMD_DOMAIN_STOP, "web", &r), 0);
	assert_int_equal(dom(&s, "web")->target, XH_TARGET_STOPPED);
	assert_int_equal(dom(&s, "web")->state, XH_DS_FAILED);
	assert_int_equal(by_name(&s, XH_CMD_DOMAIN_STOP, "nope", &r), -ENOENT);
	/* start: counters reset, FAILED -> STOPPED with the reason cleared */
	assert_int_equal(by_name(&s, XH_CMD_DOMAIN_START, "web", &r), 0);
	assert_int_equal(dom(&s, "web")->target, XH_TARGET_STARTED);
	assert_int_equal(dom(&s, "web")->state, XH_DS_STOPPED);
	assert_int_equal(dom(&s, "web")->relocations, 0);
	assert_int_equal(dom(&s, "web")->restarts, 0);
	assert_string_equal(dom(&s, "web")->reason, "");
	assert_int_equal(by_name(&s, XH_CMD_DOMAIN_START, "nope", &r), -ENOENT);
	/* stopping a running domain only changes the target */
	g = run_on(&s, "web", 1);
	assert_int_equal(by_name(&s, XH_CMD_DOMAIN_STOP, "web", &r), 0);
	assert_int_equal(dom(&s, "web")->state, XH_DS_RUNNING);
	assert_int_equal(dom(&s, "web")->generation, g);
	assert_check_ok(&s);
	xh_state_free(&s);
}

/* The core safety flow: a host leaves, its domains are LOST (never placed),
 * fencing cannot be confirmed while it is a member, confirmation frees them. */
static void test_lost_fence_flow(void **st)
{
	struct xh_state s;
	struct xh_apply_result r;
	uint64_t g;

	(void)st;
	cluster3(&s);
	run_on(&s, "a", 3);
	g = run_on(&s, "b", 3);
	assert_int_equal(add(&s, "c", 256), 0);
	assert_int_equal(placement(&s, XH_CMD_PLACE, "c", 3, 0, 0, NULL), 0);
	assert_int_equal(placement(&s, XH_CMD_STOP, "c", 3, 1, 0, NULL), 0);
	run_on(&s, "d", 1);

	/* refused while h3 is a member */
	assert_int_equal(fence_confirm(&s, 3, "operator", &r), -EBUSY);
	assert_string_equal(r.reason, "host h3 is a member of the cluster; refusing "
			    "to confirm it fenced");
	assert_int_equal(xh_state_host(&s, 3)->fence, XH_FENCE_NONE);
	assert_int_equal(fence_confirm(&s, 42, "operator", &r), -ENOENT);

	assert_int_equal(members(&s, 2, 1u, 2u), 0);
	assert_true(s.quorate);
	assert_int_equal(xh_state_host(&s, 3)->fence, XH_FENCE_PENDING);
	assert_int_equal(dom(&s, "a")->state, XH_DS_LOST);
	assert_int_equal(dom(&s, "a")->owner, 3); /* kept */
	assert_int_equal(dom(&s, "b")->state, XH_DS_LOST);
	assert_int_equal(dom(&s, "c")->state, XH_DS_LOST);
	assert_int_equal(dom(&s, "d")->state, XH_DS_RUNNING);
	assert_string_equal(dom(&s, "b")->reason,
			    "host h3 left the membership; awaiting fencing");
	assert_true(has_event(&s, XH_EV_DOMAIN_STATE, "running => lost (host h3)"));

	/* fencing started: history only, and only while pending */
	assert_int_equal(fence_cmd(&s, XH_CMD_FENCE_BEGIN, 3, "fenced h1: timeout", &r), 0);
	assert_true(has_event(&s, XH_EV_FENCE_STARTED,
			      "fencing host h3 started by fenced h1: timeout"));
	assert_int_equal(dom(&s, "b")->state, XH_DS_LOST);
	assert_int_equal(fence_cmd(&s, XH_CMD_FENCE_BEGIN, 1, "fenced h2: timeout", &r),
			 -EALREADY);
	assert_string_equal(r.reason, "host h1 is not awaiting fencing");
	assert_int_equal(fence_cmd(&s, XH_CMD_FENCE_BEGIN, 42, "x", &r), -ENOENT);

	/* never placed while lost */
	assert_int_equal(placement(&s, XH_CMD_PLACE, "b", 1, g, 0, &r), -EBUSY);
	assert_non_null(strstr(r.reason, "not confirmed fenced"));
	assert_int_equal(dom(&s, "b")->owner, 3);

	assert_int_equal(fence_confirm(&s, 3, "operator root on h1", &r), 0);
	assert_int_equal(xh_state_host(&s, 3)->fence, XH_FENCE_CONFIRMED);
	assert_true(has_event(&s, XH_EV_FENCE_CONFIRMED, "confirmed by operator root on h1"));
	assert_int_equal(dom(&s, "b")->state, XH_DS_STOPPED);
	assert_int_equal(dom(&s, "b")->owner, 0);
	assert_int_equal(dom(&s, "b")->last_owner, 3);
	assert_int_equal(dom(&s, "b")->restarts, 0);
	assert_int_equal(dom(&s, "b")->relocations, 0);
	assert_string_equal(dom(&s, "b")->reason, "host h3 fenced (operator root on h1)");
	assert_int_equal(dom(&s, "c")->state, XH_DS_STOPPED);
	assert_int_equal(dom(&s, "d")->state, XH_DS_RUNNING);
	assert_int_equal(fence_confirm(&s, 3, "again", &r), -EALREADY);

	/* now it may run elsewhere, but not on the fenced host */
	assert_int_equal(placement(&s, XH_CMD_PLACE, "b", 3, g, 0, &r), -EHOSTDOWN);
	assert_int_equal(placement(&s, XH_CMD_PLACE, "b", 1, g, 0, &r), 0);
	assert_int_equal(dom(&s, "b")->relocations, 0); /* not the domain's fault */
	/* a late report from the fenced host is stale */
	assert_int_equal(placement(&s, XH_CMD_STARTED, "a", 3, 1, 0, &r), -ESTALE);

	/* h3 comes back: fence cleared, it may take domains again */
	assert_int_equal(members(&s, 3, 1u, 2u, 3u), 0);
	assert_int_equal(xh_state_host(&s, 3)->fence, XH_FENCE_NONE);
	assert_int_equal(placement(&s, XH_CMD_PLACE, "a", 3, 1, 0, &r), 0);
	assert_check_ok(&s);
	xh_state_free(&s);
}

static void test_lost_reclaim(void **st)
{
	struct xh_state s;
	struct xh_apply_result r;
	uint64_t ga, gb, gc;

	(void)st;
	cluster3(&s);
	ga = run_on(&s, "a", 3);
	gb = run_on(&s, "b", 3);
	gc = run_on(&s, "c", 3);
	assert_int_equal(members(&s, 2, 1u, 2u), 0);
	assert_int_equal(dom(&s, "a")->state, XH_DS_LOST);
	/* only h3 may say what became of its domains: a report about h3's
	 * domain sent by h1 is refused and the domain stays lost */
	{
		struct xh_cmd c;

		memset(&c, 0, sizeof(c));
		c.type = XH_CMD_EXITED;
		c.sender = 1;
		strcpy(c.u.place.name, "a");
		c.u.place.nodeid = 3;
		c.u.place.generation = ga;
		c.u.place.crashed = 1;
		assert_int_equal(apply(&s, &c, &r), -EPERM);
		assert_non_null(strstr(r.reason, "reports only its own domains"));
		assert_int_equal(dom(&s, "a")->state, XH_DS_LOST);
		assert_int_equal(dom(&s, "a")->owner, 3);
	}
	/* not a member: it cannot reclaim */
	assert_int_equal(placement(&s, XH_CMD_STARTED, "a", 3, ga, 0, &r), -EHOSTDOWN);
	assert_int_equal(dom(&s, "a")->state, XH_DS_LOST);
	/* a lost domain cannot be asked to stop or fail to start */
	assert_int_equal(placement(&s, XH_CMD_STOP, "a", 3, ga, 0, &r), -EINVAL);
	assert_int_equal(placement(&s, XH_CMD_START_FAILED, "a", 3, ga, 0, &r), -EINVAL);
	assert_string_equal(r.reason, "domain a is lost; start-failed does not apply");
	assert_int_equal(dom(&s, "a")->state, XH_DS_LOST);

	assert_int_equal(members(&s, 3, 1u, 2u, 3u), 0);
	assert_int_equal(xh_state_host(&s, 3)->fence, XH_FENCE_NONE);
	assert_int_equal(dom(&s, "a")->state, XH_DS_LOST); /* until reported */
	assert_int_equal(placement(&s, XH_CMD_STARTED, "a", 3, ga, 0, &r), 0);
	assert_int_equal(dom(&s, "a")->state, XH_DS_RUNNING);
	assert_int_equal(dom(&s, "a")->generation, ga); /* reclaimed, not restarted */
	assert_true(has_event(&s, XH_EV_DOMAIN_STATE, "lost => running (host h3)"));
	/* b died meanwhile: reported exited, restart policy applies */
	assert_int_equal(placement(&s, XH_CMD_EXITED, "b", 3, gb, 1, &r), 0);
	assert_int_equal(dom(&s, "b")->state, XH_DS_FAILED);
	assert_int_equal(dom(&s, "b")->last_owner, 3);
	/* c was stopped there */
	assert_int_equal(placement(&s, XH_CMD_STOPPED, "c", 3, gc, 0, &r), 0);
	assert_int_equal(dom(&s, "c")->state, XH_DS_STOPPED);
	assert_check_ok(&s);
	xh_state_free(&s);
}

static void test_restart_policy_table(void **st)
{
	static const struct {
		uint8_t policy, crashed, target_before;
		uint8_t state, target;
	} t[] = {
		{ XH_RESTART_ALWAYS, 1, XH_TARGET_STARTED, XH_DS_FAILED, XH_TARGET_STARTED },
		{ XH_RESTART_ALWAYS, 0, XH_TARGET_STARTED, XH_DS_FAILED, XH_TARGET_STARTED },
		{ XH_RESTART_ON_CRASH, 1, XH_TARGET_STARTED, XH_DS_FAILED, XH_TARGET_STARTED },
		{ XH_RESTART_ON_CRASH, 0, XH_TARGET_STARTED, XH_DS_STOPPED, XH_TARGET_STOPPED },
		{ XH_RESTART_NEVER, 1, XH_TARGET_STARTED, XH_DS_FAILED, XH_TARGET_STOPPED },
		{ XH_RESTART_NEVER, 0, XH_TARGET_STARTED, XH_DS_STOPPED, XH_TARGET_STOPPED },
		/* operator already asked for a stop: never restarted */
		{ XH_RESTART_ALWAYS, 0, XH_TARGET_STOPPED, XH_DS_STOPPED, XH_TARGET_STOPPED },
		{ XH_RESTART_ALWAYS, 1, XH_TARGET_STOPPED, XH_DS_FAILED, XH_TARGET_STOPPED },
	};
	size_t i;

	(void)st;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct xh_state s;
		struct xh_domain_def def;
		uint64_t g;

		cluster3(&s);
		xh_domain_def_init(&def, "web");
		def.restart = t[i].policy;
		assert_int_equal(add_def(&s, &def, NULL), 0);
		g = run_on(&s, "web", 2);
		if (t[i].target_before == XH_TARGET_STOPPED)
			assert_int_equal(by_name(&s, XH_CMD_DOMAIN_STOP, "web", NULL), 0);
		assert_int_equal(placement(&s, XH_CMD_EXITED, "web", 2, g, t[i].crashed,
					   NULL), 0);
		if (dom(&s, "web")->state != t[i].state ||
		    dom(&s, "web")->target != t[i].target)
			fail_msg("row %zu: got %s/%u", i,
				 xh_dom_state_str(dom(&s, "web")->state),
				 dom(&s, "web")->target);
		assert_int_equal(dom(&s, "web")->owner, 0);
		assert_int_equal(dom(&s, "web")->last_owner, 2);
		assert_string_equal(dom(&s, "web")->reason, t[i].crashed ?
				    "crashed on h2" : "shut down on h2");
		assert_check_ok(&s);
		xh_state_free(&s);
	}
}

static void test_failed_counters(void **st)
{
	struct xh_state s;
	uint64_t g;

	(void)st;
	cluster3(&s);
	g = run_on(&s, "web", 1);
	assert_int_equal(placement(&s, XH_CMD_EXITED, "web", 1, g, 1, NULL), 0);
	g = run_on(&s, "web", 1);
	assert_int_equal(dom(&s, "web")->restarts, 1);
	assert_int_equal(dom(&s, "web")->relocations, 0);
	assert_int_equal(placement(&s, XH_CMD_EXITED, "web", 1, g, 1, NULL), 0);
	g = run_on(&s, "web", 1);
	assert_int_equal(dom(&s, "web")->restarts, 2);
	assert_int_equal(placement(&s, XH_CMD_EXITED, "web", 1, g, 1, NULL), 0);
	g = run_on(&s, "web", 2);
	assert_int_equal(dom(&s, "web")->restarts, 0);
	assert_int_equal(dom(&s, "web")->relocations, 1);
	/* a clean shutdown under "always" counts like a crash */
	assert_int_equal(placement(&s, XH_CMD_EXITED, "web", 2, g, 0, NULL), 0);
	run_on(&s, "web", 2);
	assert_int_equal(dom(&s, "web")->restarts, 1);
	/* a start from STOPPED does not count */
	assert_int_equal(by_name(&s, XH_CMD_DOMAIN_STOP, "web", NULL), 0);
	g = dom(&s, "web")->generation;
	assert_int_equal(placement(&s, XH_CMD_STOP, "web", 2, g, 0, NULL), 0);
	assert_int_equal(placement(&s, XH_CMD_STOPPED, "web", 2, g, 0, NULL), 0);
	assert_int_equal(by_name(&s, XH_CMD_DOMAIN_START, "web", NULL), 0);
	run_on(&s, "web", 3);
	assert_int_equal(dom(&s, "web")->restarts, 0);
	assert_int_equal(dom(&s, "web")->relocations, 0);
	xh_state_free(&s);
}

static void test_host_flags(void **st)
{
	struct xh_state s;
	struct xh_cmd c;

	(void)st;
	cluster3(&s);
	assert_int_equal(host_flags(&s, 2, 1, 0), 0);
	assert_true(xh_state_host(&s, 2)->standby);
	assert_false(xh_state_host(&s, 2)->maintenance);
	assert_string_equal(last_event(&s)->text, "host h2 standby=on maintenance=off");
	assert_int_equal(last_event(&s)->type, XH_EV_HOST_FLAGS);
	assert_int_equal(last_event(&s)->nodeid, 2);
	assert_int_equal(host_flags(&s, 9, 1, 0), -ENOENT);
	assert_int_equal(host_flags(&s, 2, 2, 0), -EINVAL);
	assert_int_equal(host_flags(&s, 2, 0, 1), 0);
	assert_false(xh_state_host(&s, 2)->standby);
	assert_true(xh_state_host(&s, 2)->maintenance);
	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_HOST_FLAGS;
	c.u.flags.nodeid = 0;
	assert_int_equal(apply(&s, &c, NULL), -ENOENT);
	xh_state_free(&s);
}

static void test_history_ring(void **st)
{
	struct xh_state s;
	uint32_t i;
	char n[16];

	(void)st;
	assert_int_equal(xh_state_init(&s, 4), 0);
	assert_int_equal(s.ev_cap, 4);
	assert_int_equal(hello(&s, 1, "h1", 8192), 0); /* event 1 */
	for (i = 0; i < 9; i++) {                      /* events 2..10 */
		snprintf(n, sizeof(n), "d%u", i);
		assert_int_equal(add(&s, n, 256), 0);
	}
	assert_int_equal(s.ev_count, 4);
	assert_int_equal(s.ev_next_seq, 11);
	for (i = 0; i < 4; i++) {
		const struct xh_event *e = xh_state_event(&s, i);

		assert_non_null(e);
		assert_int_equal(e->seq, 7 + i);
		snprintf(n, sizeof(n), "d%u", 5 + i);
		assert_string_equal(e->domain, n);
		assert_int_equal(e->type, XH_EV_DOMAIN_ADDED);
	}
	assert_null(xh_state_event(&s, 4));
	assert_check_ok(&s);
	xh_state_free(&s);
}

static void test_copy(void **st)
{
	struct xh_state s, c;

	(void)st;
	cluster3(&s);
	run_on(&s, "a", 1);
	assert_int_equal(add(&s, "b", 256), 0);
	assert_int_equal(xh_state_copy(&c, &s), 0);
	assert_int_equal(c.n_domains, 2);
	assert_int_equal(c.n_hosts, 3);
	assert_int_equal(c.ev_count, s.ev_count);
	assert_int_equal(c.seq, s.seq);
	assert_ptr_not_equal(c.domains, s.domains);
	assert_ptr_not_equal(c.events, s.events);
	assert_ptr_not_equal(c.domains[0].xlcfg, s.domains[0].xlcfg);
	assert_string_equal(c.domains[0].xlcfg, s.domains[0].xlcfg);
	assert_memory_equal(xh_state_event(&c, 0), xh_state_event(&s, 0),
			    sizeof(struct xh_event));
	/* diverge: the original is untouched */
	assert_int_equal(by_name(&c, XH_CMD_DOMAIN_REMOVE, "b", NULL), 0);
	c.domains[0].xlcfg[0] = 'X';
	assert_int_equal(s.n_domains, 2);
	assert_int_equal(s.domains[0].xlcfg[0], 'n');
	assert_check_ok(&s);
	assert_check_ok(&c);
	xh_state_free(&c);
	/* an empty state copies too */
	xh_state_free(&s);
	assert_int_equal(xh_state_init(&s, 3), 0);
	assert_int_equal(xh_state_copy(&c, &s), 0);
	assert_int_equal(c.ev_cap, 3);
	assert_null(c.domains);
	xh_state_free(&c);
	xh_state_free(&s);
}

static void test_check_catches_corruption(void **st)
{
	struct xh_state s;
	struct xh_domain saved;
	struct xh_host hsaved;

	(void)st;
	cluster3(&s);
	run_on(&s, "a", 1);
	assert_int_equal(add(&s, "b", 256), 0);
	assert_int_equal(add(&s, "c", 256), 0);
	assert_check_ok(&s);

	/* duplicate name: two placements of one domain become possible */
	saved = s.domains[1];
	strcpy(s.domains[1].name, "a");
	assert_check_fails(&s, "not strictly sorted");
	s.domains[1] = saved;
	/* out of order */
	strcpy(s.domains[1].name, "d");
	assert_check_fails(&s, "not strictly sorted");
	s.domains[1] = saved;
	/* owner in a state that has none */
	s.domains[1].owner = 2;
	assert_check_fails(&s, "state stopped with owner 2");
	s.domains[1] = saved;
	/* running with no owner */
	s.domains[0].owner = 0;
	assert_check_fails(&s, "state running with owner 0");
	s.domains[0].owner = 1;
	/* unknown owner / last owner */
	s.domains[0].owner = 77;
	assert_check_fails(&s, "not a known host");
	s.domains[0].owner = 1;
	s.domains[1].last_owner = 77;
	assert_check_fails(&s, "last owner 77");
	s.domains[1] = saved;
	/* enum out of range */
	s.domains[2].state = XH_DS__COUNT;
	assert_check_fails(&s, "out of range");
	s.domains[2].state = XH_DS_STOPPED;
	/* a confirmed-fenced host owning a domain */
	s.hosts[0].member = false;
	s.hosts[0].fence = XH_FENCE_CONFIRMED;
	assert_check_fails(&s, "confirmed fenced");
	/* a member with a fence state */
	s.hosts[0].member = true;
	assert_check_fails(&s, "is a member but fence");
	s.hosts[0].fence = XH_FENCE_NONE;
	assert_check_ok(&s);
	/* hosts: duplicate name, unsorted ids */
	hsaved = s.hosts[1];
	strcpy(s.hosts[1].name, "h1");
	assert_check_fails(&s, "host name h1");
	s.hosts[1] = hsaved;
	s.hosts[1].nodeid = 1;
	assert_check_fails(&s, "strictly sorted by node id");
	s.hosts[1] = hsaved;
	/* history ring */
	s.ev_count = s.ev_cap + 1;
	assert_check_fails(&s, "history ring");
	s.ev_count = 1;
	s.qseq = s.seq + 1;
	assert_check_fails(&s, "qseq");
	s.qseq = 0;
	assert_check_ok(&s);
	xh_state_free(&s);
}

/* apply() aborts (also in release builds) when the state it produced or
 * touched breaks an invariant.  Run in a child: abort is the point. */
static void test_apply_aborts_on_violation(void **st)
{
	pid_t pid;
	int status = 0;

	(void)st;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct xh_state s;

		/* keep the expected abort quiet in the test log */
		if (freopen("/dev/null", "w", stderr) == NULL)
			_exit(3);
		cluster3(&s);
		assert_int_equal(add(&s, "a", 256), 0);
		s.domains[0].owner = 2; /* STOPPED with an owner */
		by_name(&s, XH_CMD_DOMAIN_STOP, "a", NULL);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
}

/* ---- live migration ---- */

static int mig_cmd(struct xh_state *s, uint8_t type, uint32_t sender, const char *name,
		   uint32_t source, uint32_t target, uint64_t gen, uint64_t mig_id,
		   struct xh_apply_result *r)
{
	struct xh_cmd c;

	memset(&c, 0, sizeof(c));
	c.type = type;
	c.sender = sender;
	snprintf(c.u.mig.name, sizeof(c.u.mig.name), "%s", name);
	c.u.mig.source = source;
	c.u.mig.target = target;
	c.u.mig.generation = gen;
	c.u.mig.mig_id = mig_id;
	c.u.mig.downtime_ms = 42;
	return apply(s, &c, r);
}

static int begin(struct xh_state *s, const char *name, uint32_t src, uint32_t tgt,
		 uint64_t gen, struct xh_apply_result *r)
{
	return mig_cmd(s, XH_CMD_MIGRATE_BEGIN, 1, name, src, tgt, gen, 0, r);
}

static int mig_done(struct xh_state *s, const char *name, uint32_t tgt, uint64_t id,
		    struct xh_apply_result *r)
{
	return mig_cmd(s, XH_CMD_MIGRATE_DONE, tgt, name, 0, tgt, 0, id, r);
}

static int mig_aborted(struct xh_state *s, const char *name, uint32_t src, uint64_t id,
		       struct xh_apply_result *r)
{
	return mig_cmd(s, XH_CMD_MIGRATE_ABORTED, src, name, src, 0, 0, id, r);
}

static void test_migrate_begin_rejects(void **st)
{
	struct xh_state s;
	struct xh_apply_result r;
	struct xh_domain_def def;
	uint64_t g;

	(void)st;
	cluster3(&s);
	assert_int_equal(hello(&s, 4, "h4", 16384), 0);
	assert_int_equal(members(&s, 4, 1u, 2u, 3u, 4u), 0);
	g = run_on(&s, "a", 1);

	assert_int_equal(begin(&s, "zz", 1, 2, g, &r), -ENOENT);
	assert_int_equal(begin(&s, "a", 1, 2, g + 1, &r), -ESTALE);
	assert_int_equal(begin(&s, "a", 2, 3, g, &r), -ESTALE);
	assert_int_equal(begin(&s, "a", 1, 1, g, &r), -EINVAL);
	assert_int_equal(begin(&s, "a", 1, 9, g, &r), -ENOENT);
	/* target standby / maintenance */
	assert_int_equal(host_flags(&s, 2, 1, 0), 0);
	assert_int_equal(begin(&s, "a", 1, 2, g, &r), -EBUSY);
	assert_non_null(strstr(r.reason, "standby"));
	assert_int_equal(host_flags(&s, 2, 0, 1), 0);
	assert_int_equal(begin(&s, "a", 1, 2, g, &r), -EBUSY);
	assert_non_null(strstr(r.reason, "maintenance"));
	assert_int_equal(host_flags(&s, 2, 0, 0), 0);
	/* source in maintenance; source in standby is fine (drain) */
	assert_int_equal(host_flags(&s, 1, 0, 1), 0);
	assert_int_equal(begin(&s, "a", 1, 2, g, &r), -EBUSY);
	assert_non_null(strstr(r.reason, "source host h1 is in maintenance"));
	assert_int_equal(host_flags(&s, 1, 0, 0), 0);
	/* target not a member (pending) */
	assert_int_equal(members(&s, 3, 1u, 2u, 3u), 0);
	assert_int_equal(begin(&s, "a", 1, 4, g, &r), -EHOSTDOWN);
	/* target stopped */
	assert_int_equal(by_name(&s, XH_CMD_DOMAIN_STOP, "a", NULL), 0);
	assert_int_equal(begin(&s, "a", 1, 2, g, &r), -EINVAL);
	assert_int_equal(by_name(&s, XH_CMD_DOMAIN_START, "a", NULL), 0);
	/* avoided target */
	xh_domain_def_init(&def, "av");
	def.n_avoided = 1;
	snprintf(def.avoided[0], sizeof(def.avoided[0]), "h2");
	assert_int_equal(add_def(&s, &def, NULL), 0);
	{
		uint64_t ga = run_on(&s, "av", 1);

		assert_int_equal(begin(&s, "av", 1, 2, ga, &r), -EINVAL);
		assert_non_null(strstr(r.reason, "avoids host h2"));
		assert_int_equal(begin(&s, "av", 1, 3, ga, &r), 0);
	}
	/* no room: h2 has 16384 - 1024 = 15360 MiB; fill it */
	assert_int_equal(add(&s, "big", 15000), 0);
	assert_int_equal(placement(&s, XH_CMD_PLACE, "big", 2, 0, 0, NULL), 0);
	assert_int_equal(begin(&s, "a", 1, 2, g, &r), -ENOSPC);
	assert_non_null(strstr(r.reason, "no room"));
	/* anti-affinity: a domain of the group already on h3 */
	xh_domain_def_init(&def, "g1");
	snprintf(def.group, sizeof(def.group), "web");
	assert_int_equal(add_def(&s, &def, NULL), 0);
	xh_domain_def_init(&def, "g2");
	snprintf(def.group, sizeof(def.group), "web");
	assert_int_equal(add_def(&s, &def, NULL), 0);
	run_on(&s, "g1", 3);
	{
		uint64_t g2 = run_on(&s, "g2", 1);

		assert_int_equal(begin(&s, "g2", 1, 3, g2, &r), -EBUSY);
		assert_non_null(strstr(r.reason, "anti-affinity"));
	}
	/* accepted, then a second begin is refused */
	assert_int_equal(begin(&s, "a", 1, 3, g, &r), 0);
	assert_int_equal(begin(&s, "a", 1, 3, g, &r), -EBUSY);
	assert_non_null(strstr(r.reason, "already migrating"));
	/* no quorum */
	assert_int_equal(members(&s, 1, 1u), 0);
	assert_false(s.quorate);
	assert_int_equal(begin(&s, "g1", 3, 2, 1, &r), -EAGAIN);
	assert_check_ok(&s);
	xh_state_free(&s);
}

static void test_migrate_done(void **st)
{
	struct xh_state s;
	struct xh_apply_result r;
	uint64_t g, id;

	(void)st;
	cluster3(&s);
	g = run_on(&s, "a", 1);
	assert_int_equal(begin(&s, "a", 1, 2, g, &r), 0);
	id = s.seq;
	assert_int_equal(dom(&s, "a")->state, XH_DS_MIGRATING);
	assert_int_equal(dom(&s, "a")->owner, 1);
	assert_int_equal(dom(&s, "a")->mig_target, 2);
	assert_int_equal(dom(&s, "a")->mig_id, id);
	assert_true(has_event(&s, XH_EV_MIGRATION, "migration of a from h1 to h2 begun"));
	assert_true(has_event(&s, XH_EV_DOMAIN_STATE, "running => migrating (host h1)"));
	assert_string_equal(xh_dom_state_str(XH_DS_MIGRATING), "migrating");
	assert_true(xh_dom_state_has_owner(XH_DS_MIGRATING));
	assert_true(xh_dom_uses_host(dom(&s, "a"), 1));
	assert_true(xh_dom_uses_host(dom(&s, "a"), 2));
	assert_false(xh_dom_uses_host(dom(&s, "a"), 3));

	/* nothing but the outcome moves it */
	assert_int_equal(placement(&s, XH_CMD_EXITED, "a", 1, g, 1, &r), -EINVAL);
	assert_int_equal(placement(&s, XH_CMD_STOPPED, "a", 1, g, 0, &r), -EINVAL);
	assert_int_equal(placement(&s, XH_CMD_STOP, "a", 1, g, 0, &r), -EINVAL);
	assert_int_equal(placement(&s, XH_CMD_STARTED, "a", 1, g, 0, &r), -EINVAL);
	assert_int_equal(placement(&s, XH_CMD_PLACE, "a", 3, g, 0, &r), -EBUSY);
	assert_int_equal(by_name(&s, XH_CMD_DOMAIN_REMOVE, "a", &r), -EBUSY);

	/* DONE: only from the target, with the right id */
	assert_int_equal(mig_cmd(&s, XH_CMD_MIGRATE_DONE, 1, "a", 0, 2, 0, id, &r), -EPERM);
	assert_int_equal(mig_done(&s, "a", 3, id, &r), -ESTALE);
	assert_int_equal(mig_done(&s, "a", 2, id + 1, &r), -ESTALE);
	assert_int_equal(mig_done(&s, "zz", 2, id, &r), -ENOENT);
	assert_int_equal(mig_done(&s, "a", 2, id, &r), 0);
	assert_int_equal(dom(&s, "a")->state, XH_DS_RUNNING);
	assert_int_equal(dom(&s, "a")->owner, 2);
	assert_int_equal(dom(&s, "a")->last_owner, 2);
	assert_int_equal(dom(&s, "a")->generation, g + 1);
	assert_int_equal(dom(&s, "a")->mig_target, 0);
	assert_int_equal(dom(&s, "a")->mig_id, 0);
	assert_int_equal(dom(&s, "a")->restarts, 0);
	assert_int_equal(dom(&s, "a")->relocations, 0);
	assert_true(has_event(&s, XH_EV_MIGRATION, "a migrated from h1 to h2, downtime 42 ms"));
	/* repeated: stale */
	assert_int_equal(mig_done(&s, "a", 2, id, &r), -ESTALE);
	/* the old source's late reports are stale */
	assert_int_equal(placement(&s, XH_CMD_EXITED, "a", 1, g, 0, &r), -ESTALE);
	/* the new owner reports at G+1 */
	assert_int_equal(placement(&s, XH_CMD_STARTED, "a", 2, g + 1, 0, &r), -EALREADY);
	assert_check_ok(&s);
	xh_state_free(&s);
}

static void test_migrate_aborted(void **st)
{
	struct xh_state s;
	struct xh_apply_result r;
	uint64_t g, id;

	(void)st;
	cluster3(&s);
	g = run_on(&s, "a", 1);
	assert_int_equal(begin(&s, "a", 1, 2, g, &r), 0);
	id = s.seq;
	assert_int_equal(mig_cmd(&s, XH_CMD_MIGRATE_ABORTED, 2, "a", 1, 0, 0, id, &r), -EPERM);
	assert_int_equal(mig_aborted(&s, "a", 2, id, &r), -ESTALE); /* not the owner */
	assert_int_equal(mig_aborted(&s, "a", 1, id + 1, &r), -ESTALE);
	{
		struct xh_cmd c;

		memset(&c, 0, sizeof(c));
		c.type = XH_CMD_MIGRATE_ABORTED;
		c.sender = 1;
		snprintf(c.u.mig.name, sizeof(c.u.mig.name), "a");
		c.u.mig.source = 1;
		c.u.mig.mig_id = id;
		snprintf(c.u.mig.reason, sizeof(c.u.mig.reason), "stream cut");
		assert_int_equal(apply(&s, &c, &r), 0);
	}
	assert_int_equal(dom(&s, "a")->state, XH_DS_RUNNING);
	assert_int_equal(dom(&s, "a")->owner, 1);
	assert_int_equal(dom(&s, "a")->generation, g);
	assert_int_equal(dom(&s, "a")->mig_target, 0);
	assert_int_equal(dom(&s, "a")->mig_id, 0);
	assert_true(has_event(&s, XH_EV_MIGRATION,
			      "migration of a from h1 to h2 aborted: stream cut"));
	/* not MIGRATING any more */
	assert_int_equal(mig_aborted(&s, "a", 1, id, &r), -ESTALE);
	assert_int_equal(mig_done(&s, "a", 2, id, &r), -ESTALE);
	/* a new attempt gets a new id */
	assert_int_equal(begin(&s, "a", 1, 3, g, &r), 0);
	assert_true(dom(&s, "a")->mig_id > id);
	assert_check_ok(&s);
	xh_state_free(&s);
}

/* The source leaves mid-migration: LOST with the fields; the target claims it. */
static void test_migrate_source_left(void **st)
{
	struct xh_state s;
	struct xh_apply_result r;
	uint64_t g, id;

	(void)st;
	cluster3(&s);
	g = run_on(&s, "a", 1);
	g = run_on(&s, "b", 1);
	assert_int_equal(begin(&s, "a", 1, 2, dom(&s, "a")->generation, &r), 0);
	id = dom(&s, "a")->mig_id;
	assert_int_equal(begin(&s, "b", 1, 3, g, &r), 0);
	assert_int_equal(members(&s, 2, 2u, 3u), 0);
	assert_int_equal(dom(&s, "a")->state, XH_DS_LOST);
	assert_int_equal(dom(&s, "a")->owner, 1);
	assert_int_equal(dom(&s, "a")->mig_target, 2);
	assert_int_equal(dom(&s, "a")->mig_id, id);
	assert_check_ok(&s);
	/* the source cannot abort from outside; the target claims "a" */
	assert_int_equal(mig_done(&s, "a", 2, id, &r), 0);
	assert_int_equal(dom(&s, "a")->state, XH_DS_RUNNING);
	assert_int_equal(dom(&s, "a")->owner, 2);
	assert_int_equal(dom(&s, "a")->generation, 2);

	/* "b": no DONE; h1 confirmed fenced while its target h3 is a member:
	 * LOST owned by h3 at G+1, awaiting h3's report */
	assert_int_equal(fence_confirm(&s, 1, "operator", &r), 0);
	assert_int_equal(dom(&s, "b")->state, XH_DS_LOST);
	assert_int_equal(dom(&s, "b")->owner, 3);
	assert_int_equal(dom(&s, "b")->last_owner, 1);
	assert_int_equal(dom(&s, "b")->generation, g + 1);
	assert_int_equal(dom(&s, "b")->mig_target, 3);
	assert_non_null(strstr(dom(&s, "b")->reason, "awaiting the migration target"));
	assert_check_ok(&s);
	/* never placed meanwhile */
	assert_int_equal(placement(&s, XH_CMD_PLACE, "b", 2, g + 1, 0, &r), -EBUSY);
	/* h3 reports it runs it (existing LOST rule, at G+1) */
	assert_int_equal(placement(&s, XH_CMD_STARTED, "b", 3, g + 1, 0, &r), 0);
	assert_int_equal(dom(&s, "b")->state, XH_DS_RUNNING);
	assert_int_equal(dom(&s, "b")->owner, 3);
	assert_int_equal(dom(&s, "b")->mig_target, 0);
	assert_check_ok(&s);
	xh_state_free(&s);
}

/* After the source's fencing: the target's DONE keeps G+1; its EXITED makes
 * it restartable; a target that is pending keeps it LOST; a fenced one lets
 * it go to STOPPED. */
static void test_migrate_source_fenced_variants(void **st)
{
	struct xh_state s;
	struct xh_apply_result r;
	uint64_t g, id;

	(void)st;
	/* DONE after the source's fencing */
	cluster3(&s);
	g = run_on(&s, "a", 1);
	assert_int_equal(begin(&s, "a", 1, 2, g, &r), 0);
	id = dom(&s, "a")->mig_id;
	assert_int_equal(members(&s, 2, 2u, 3u), 0);
	assert_int_equal(fence_confirm(&s, 1, "operator", &r), 0);
	assert_int_equal(dom(&s, "a")->owner, 2);
	assert_int_equal(mig_done(&s, "a", 2, id, &r), 0);
	assert_int_equal(dom(&s, "a")->generation, g + 1);
	assert_true(has_event(&s, XH_EV_MIGRATION, "a migrated from h1 to h2"));
	xh_state_free(&s);

	/* EXITED from the target: FAILED, restartable */
	cluster3(&s);
	g = run_on(&s, "a", 1);
	assert_int_equal(begin(&s, "a", 1, 2, g, &r), 0);
	assert_int_equal(members(&s, 2, 2u, 3u), 0);
	assert_int_equal(fence_confirm(&s, 1, "operator", &r), 0);
	assert_int_equal(placement(&s, XH_CMD_EXITED, "a", 2, g + 1, 1, &r), 0);
	assert_int_equal(dom(&s, "a")->state, XH_DS_FAILED);
	assert_int_equal(dom(&s, "a")->mig_target, 0);
	assert_check_ok(&s);
	xh_state_free(&s);

	/* both left; the target pending: LOST owned by the target */
	cluster3(&s);
	g = run_on(&s, "a", 1);
	assert_int_equal(begin(&s, "a", 1, 2, g, &r), 0);
	assert_int_equal(members(&s, 1, 3u), 0);
	assert_int_equal(hello(&s, 4, "h4", 16384), 0);
	assert_int_equal(hello(&s, 5, "h5", 16384), 0);
	assert_int_equal(members(&s, 3, 3u, 4u, 5u), 0);
	assert_true(s.quorate);
	assert_int_equal(fence_confirm(&s, 1, "operator", &r), 0);
	assert_int_equal(dom(&s, "a")->state, XH_DS_LOST);
	assert_int_equal(dom(&s, "a")->owner, 2);
	/* then the target is confirmed too: STOPPED */
	assert_int_equal(fence_confirm(&s, 2, "operator", &r), 0);
	assert_int_equal(dom(&s, "a")->state, XH_DS_STOPPED);
	assert_int_equal(dom(&s, "a")->mig_target, 0);
	assert_check_ok(&s);
	xh_state_free(&s);

	/* the target confirmed first, then the source: STOPPED at once */
	cluster3(&s);
	g = run_on(&s, "a", 1);
	assert_int_equal(begin(&s, "a", 1, 2, g, &r), 0);
	assert_int_equal(hello(&s, 4, "h4", 16384), 0);
	assert_int_equal(hello(&s, 5, "h5", 16384), 0);
	assert_int_equal(members(&s, 3, 3u, 4u, 5u), 0);
	assert_int_equal(fence_confirm(&s, 2, "operator", &r), 0);
	assert_int_equal(dom(&s, "a")->state, XH_DS_LOST);
	assert_int_equal(dom(&s, "a")->owner, 1);
	assert_int_equal(fence_confirm(&s, 1, "operator", &r), 0);
	assert_int_equal(dom(&s, "a")->state, XH_DS_STOPPED);
	assert_check_ok(&s);
	xh_state_free(&s);
}

/* The target leaves: nothing changes until the source's outcome. */
static void test_migrate_target_left(void **st)
{
	struct xh_state s;
	struct xh_apply_result r;
	uint64_t g, id;

	(void)st;
	cluster3(&s);
	g = run_on(&s, "a", 1);
	assert_int_equal(begin(&s, "a", 1, 2, g, &r), 0);
	id = dom(&s, "a")->mig_id;
	assert_int_equal(members(&s, 2, 1u, 3u), 0);
	assert_int_equal(dom(&s, "a")->state, XH_DS_MIGRATING);
	assert_int_equal(dom(&s, "a")->owner, 1);
	assert_int_equal(xh_state_host(&s, 2)->fence, XH_FENCE_PENDING);
	assert_int_equal(fence_confirm(&s, 2, "operator", &r), 0);
	assert_int_equal(dom(&s, "a")->state, XH_DS_MIGRATING);
	assert_int_equal(mig_aborted(&s, "a", 1, id, &r), 0);
	assert_int_equal(dom(&s, "a")->state, XH_DS_RUNNING);
	assert_int_equal(dom(&s, "a")->owner, 1);
	assert_check_ok(&s);
	xh_state_free(&s);
}

static void test_disarm(void **st)
{
	struct xh_state s;
	struct xh_apply_result r;
	struct xh_cmd c;

	(void)st;
	cluster3(&s);
	memset(&c, 0, sizeof(c));
	c.type = XH_CMD_DISARM;
	c.sender = 1;
	c.u.disarm.until_ms = 5; /* before now_ms */
	assert_int_equal(apply(&s, &c, &r), -EINVAL);
	assert_int_equal(s.disarmed_until_ms, 0);
	c.u.disarm.until_ms = now_ms + 600000;
	assert_int_equal(apply(&s, &c, &r), 0);
	assert_int_equal(s.disarmed_until_ms, c.u.disarm.until_ms);
	assert_true(has_event(&s, XH_EV_DISARM, "HA actions disarmed by h1 for 600 s"));
	c.u.disarm.until_ms = 0;
	assert_int_equal(apply(&s, &c, &r), 0);
	assert_int_equal(s.disarmed_until_ms, 0);
	assert_true(has_event(&s, XH_EV_DISARM, "HA actions re-armed by h1"));
	assert_string_equal(xh_cmd_type_str(XH_CMD_DISARM), "disarm");
	assert_string_equal(xh_cmd_type_str(XH_CMD_MIGRATE_BEGIN), "migrate-begin");
	assert_string_equal(xh_event_type_str(XH_EV_MIGRATION), "migration");
	assert_string_equal(xh_event_type_str(XH_EV_DISARM), "disarm");
	xh_state_free(&s);
}

static void test_check_migration_fields(void **st)
{
	struct xh_state s;
	struct xh_domain *d;

	(void)st;
	cluster3(&s);
	run_on(&s, "a", 1);
	d = (struct xh_domain *)dom(&s, "a");
	d->mig_target = 2;
	d->mig_id = 7;
	assert_check_fails(&s, "migration target");   /* RUNNING with mig fields */
	d->state = XH_DS_MIGRATING;
	assert_check_ok(&s);
	d->mig_id = 0;
	assert_check_fails(&s, "migration target");
	d->mig_id = 7;
	d->mig_target = 1;                            /* target == owner */
	assert_check_fails(&s, "migration target");
	d->mig_target = 99;
	assert_check_fails(&s, "not a known host");
	d->mig_target = 0;
	d->mig_id = 0;
	assert_check_fails(&s, "migration target");   /* MIGRATING without */
	d->state = XH_DS_RUNNING;
	assert_check_ok(&s);
	xh_state_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_and_strings),
		cmocka_unit_test(test_def_check),
		cmocka_unit_test(test_seq_qseq),
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_membership),
		cmocka_unit_test(test_membership_table_full),
		cmocka_unit_test(test_domain_add_remove),
		cmocka_unit_test(test_domain_add_many),
		cmocka_unit_test(test_domain_set),
		cmocka_unit_test(test_place_rejects),
		cmocka_unit_test(test_reports),
		cmocka_unit_test(test_domain_start_stop),
		cmocka_unit_test(test_lost_fence_flow),
		cmocka_unit_test(test_lost_reclaim),
		cmocka_unit_test(test_restart_policy_table),
		cmocka_unit_test(test_failed_counters),
		cmocka_unit_test(test_host_flags),
		cmocka_unit_test(test_history_ring),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_check_catches_corruption),
		cmocka_unit_test(test_apply_aborts_on_violation),
		cmocka_unit_test(test_migrate_begin_rejects),
		cmocka_unit_test(test_migrate_done),
		cmocka_unit_test(test_migrate_aborted),
		cmocka_unit_test(test_migrate_source_left),
		cmocka_unit_test(test_migrate_source_fenced_variants),
		cmocka_unit_test(test_migrate_target_left),
		cmocka_unit_test(test_disarm),
		cmocka_unit_test(test_check_migration_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
