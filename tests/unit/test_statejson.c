/*
 * statejson: the four JSON views of the state.  Every view is serialised
 * and parsed back with json-c (what hactl and scripts see), then checked
 * key by key: the exact key set of every object, and the values.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "xenha/state.h"
#include "xenha/statejson.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const domain_keys[] = {
	"name", "state", "target", "host", "nodeid", "last_host", "generation",
	"memory_mb", "priority", "restart", "max_restarts", "max_relocations",
	"restarts", "relocations", "group", "preferred", "avoided", "since_ms",
	"reason", "migration_target", "migration_id",
};
static const char *const node_keys[] = {
	"name", "nodeid", "member", "fence", "standby", "maintenance",
	"mem_total_mb", "mem_reserved_mb", "mem_free_mb", "domains", "running",
};
static const char *const cluster_keys[] = {
	"quorate", "members", "expected_votes", "coordinator", "seq", "qseq",
	"disarmed_until_ms",
};
static const char *const local_keys[] = {
	"name", "nodeid", "synced", "quorate", "hypervisor",
};
static const char *const count_keys[] = {
	"total", "running", "starting", "stopping", "stopped", "failed", "lost",
	"migrating",
};
static const char *const event_keys[] = {
	"seq", "time_ms", "type", "host", "nodeid", "domain", "text",
};

/* ---- helpers ---- */

/* Serialise, free, parse back: the tests look at JSON text, not objects. */
static struct json_object *reparse(struct json_object *o)
{
	struct json_object *p;

	assert_non_null(o);
	p = json_tokener_parse(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	assert_non_null(p);
	return p;
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("key \"%s\" missing in %s", key, json_object_to_json_string(o));
	return v;
}

/* o has exactly these keys. */
static void assert_keys(struct json_object *o, const char *const *keys, size_t n)
{
	assert_true(json_object_is_type(o, json_type_object));
	for (size_t i = 0; i < n; i++)
		(void)get(o, keys[i]);
	if ((size_t)json_object_object_length(o) != n)
		fail_msg("object has %d keys, expected %zu: %s",
			 json_object_object_length(o), n, json_object_to_json_string(o));
}

static void assert_str(struct json_object *o, const char *key, const char *want)
{
	struct json_object *v = get(o, key);

	if (want == NULL) {
		if (v != NULL)
			fail_msg("%s: expected null, got %s", key, json_object_to_json_string(v));
		return;
	}
	if (!json_object_is_type(v, json_type_string))
		fail_msg("%s: expected string \"%s\", got %s", key, want,
			 json_object_to_json_string(v));
	assert_string_equal(json_object_get_string(v), want);
}

static void assert_int(struct json_object *o, const char *key, int64_t want)
{
	struct json_object *v = get(o, key);

	if (!json_object_is_type(v, json_type_int))
		fail_msg("%s: expected integer, got %s", key, json_object_to_json_string(v));
	assert_int_equal(json_object_get_int64(v), want);
}

static void assert_bool(struct json_object *o, const char *key, bool want)
{
	struct json_object *v = get(o, key);

	assert_true(json_object_is_type(v, json_type_boolean));
	assert_int_equal(json_object_get_boolean(v), want);
}

static struct json_object *array(struct json_object *o, const char *key, size_t n)
{
	struct json_object *a = get(o, key);

	assert_true(json_object_is_type(a, json_type_array));
	assert_int_equal(json_object_array_length(a), n);
	return a;
}

static struct json_object *find(struct json_object *a, const char *name)
{
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *e = json_object_array_get_idx(a, i);
		struct json_object *v;

		if (json_object_object_get_ex(e, "name", &v) &&
		    json_object_is_type(v, json_type_string) &&
		    strcmp(json_object_get_string(v), name) == 0)
			return e;
	}
	fail_msg("no element named %s", name);
	return NULL;
}

/* ---- the test state ---- */

static void add_host(struct xh_state *s, uint32_t id, const char *name,
		     bool member, uint8_t fence, bool standby, bool maint)
{
	struct xh_host *h = &s->hosts[s->n_hosts++];

	memset(h, 0, sizeof(*h));
	h->nodeid = id;
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->mem_total_mb = 8192;
	h->mem_reserved_mb = 512;
	h->dom_overhead_mb = 8;
	h->member = member;
	h->fence = fence;
	h->standby = standby;
	h->maintenance = maint;
}

static struct xh_domain *add_domain(struct xh_state *s, const char *name,
				    uint8_t state, uint32_t owner, uint32_t last,
				    uint32_t mem)
{
	struct xh_domain *d = &s->domains[s->n_domains++];

	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->state = state;
	d->owner = owner;
	d->last_owner = last;
	d->memory_mb = mem;
	d->target = XH_TARGET_STARTED;
	d->restart = XH_RESTART_ALWAYS;
	d->max_restarts = 3;
	d->max_relocations = 3;
	return d;
}

static void add_event(struct xh_state *s, uint8_t type, uint32_t nodeid,
		      const char *dom, const char *text)
{
	struct xh_event *e;

	if (s->ev_count == s->ev_cap) {
		s->ev_head = (s->ev_head + 1) % s->ev_cap;
		s->ev_count--;
	}
	e = &s->events[(s->ev_head + s->ev_count) % s->ev_cap];
	s->ev_count++;
	memset(e, 0, sizeof(*e));
	e->seq = s->ev_next_seq++;
	e->time_ms = 1700000000000ull + e->seq * 1000;
	e->type = type;
	e->nodeid = nodeid;
	snprintf(e->domain, sizeof(e->domain), "%s", dom);
	snprintf(e->text, sizeof(e->text), "%s", text);
}

/* Three hosts, five domains (sorted by name), a history ring of 4 that
 * has wrapped (6 events logged). */
static int setup(void **state)
{
	struct xh_state *s = calloc(1, sizeof(*s));
	struct xh_domain *d;

	if (s == NULL || xh_state_init(s, 4) != 0)
		return -1;
	s->seq = 120;
	s->qseq = 118;
	s->quorate = true;
	s->expected_votes = 3;
	add_host(s, 1, "h1", true, XH_FENCE_NONE, false, false);
	add_host(s, 2, "h2", true, XH_FENCE_NONE, true, false);
	add_host(s, 3, "h3", false, XH_FENCE_PENDING, false, true);

	s->cap_domains = 8;
	s->domains = calloc(s->cap_domains, sizeof(*s->domains));
	if (s->domains == NULL)
		return -1;
	d = add_domain(s, "db", XH_DS_RUNNING, 1, 1, 1024);
	d->generation = 3;
	d->priority = 10;
	d->restarts = 1;
	d->relocations = 2;
	d->n_preferred = 2;
	strcpy(d->preferred[0], "h1");
	strcpy(d->preferred[1], "h2");
	d->n_avoided = 1;
	strcpy(d->avoided[0], "h3");
	strcpy(d->group, "g1");
	d->since_ms = 5000;
	d->xlcfg = strdup("memory = 1024\n");
	d = add_domain(s, "mail", XH_DS_LOST, 3, 3, 256);
	d->generation = 7;
	strcpy(d->reason, "host h3 left the membership");
	d = add_domain(s, "web1", XH_DS_STOPPED, 0, 2, 512);
	d->target = XH_TARGET_STOPPED;
	d->restart = XH_RESTART_ON_CRASH;
	d->priority = -5;
	strcpy(d->reason, "stopped by operator");
	d = add_domain(s, "web2", XH_DS_STARTING, 1, 0, 512);
	d->restart = XH_RESTART_NEVER;
	d = add_domain(s, "x", XH_DS_FAILED, 0, 99, 128); /* last host unknown */
	d->max_restarts = 0;
	d->max_relocations = 0;

	add_event(s, XH_EV_HOST_JOINED, 1, "", "h1 joined");
	add_event(s, XH_EV_HOST_JOINED, 2, "", "h2 joined");
	add_event(s, XH_EV_DOMAIN_ADDED, 0, "db", "added");
	add_event(s, XH_EV_DOMAIN_STATE, 1, "db", "starting => running");
	add_event(s, XH_EV_HOST_LEFT, 3, "", "h3 left");
	add_event(s, XH_EV_FENCE_PENDING, 77, "mail", "unknown host id");
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	xh_state_free(*state);
	free(*state);
	return 0;
}

/* ---- domains ---- */

static void test_domains_all(void **state)
{
	struct xh_state *s = *state;
	struct json_object *root = reparse(sj_domains(s, NULL));
	struct json_object *a, *d, *l;

	assert_keys(root, (const char *const[]){ "domains" }, 1);
	a = array(root, "domains", 5);
	for (size_t i = 0; i < 5; i++)
		assert_keys(json_object_array_get_idx(a, i), domain_keys, N(domain_keys));
	/* state order: sorted by name */
	assert_str(json_object_array_get_idx(a, 0), "name", "db");
	assert_str(json_object_array_get_idx(a, 4), "name", "x");

	d = find(a, "db");
	assert_str(d, "state", "running");
	assert_str(d, "target", "started");
	assert_str(d, "host", "h1");
	assert_int(d, "nodeid", 1);
	assert_str(d, "last_host", "h1");
	assert_int(d, "generation", 3);
	assert_int(d, "memory_mb", 1024);
	assert_int(d, "priority", 10);
	assert_str(d, "restart", "always");
	assert_int(d, "max_restarts", 3);
	assert_int(d, "max_relocations", 3);
	assert_int(d, "restarts", 1);
	assert_int(d, "relocations", 2);
	assert_str(d, "group", "g1");
	l = array(d, "preferred", 2);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(l, 0)), "h1");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(l, 1)), "h2");
	l = array(d, "avoided", 1);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(l, 0)), "h3");
	assert_int(d, "since_ms", 5000);
	assert_str(d, "reason", "");

	d = find(a, "mail");
	assert_str(d, "state", "lost");
	assert_str(d, "host", "h3");
	assert_int(d, "nodeid", 3);
	assert_str(d, "reason", "host h3 left the membership");

	/* No owner: host null, nodeid 0; the last host is still named. */
	d = find(a, "web1");
	assert_str(d, "state", "stopped");
	assert_str(d, "target", "stopped");
	assert_str(d, "host", NULL);
	assert_int(d, "nodeid", 0);
	assert_str(d, "last_host", "h2");
	assert_str(d, "restart", "on-crash");
	assert_int(d, "priority", -5);
	assert_str(d, "group", "");
	array(d, "preferred", 0);
	array(d, "avoided", 0);

	d = find(a, "web2");
	assert_str(d, "state", "starting");
	assert_str(d, "last_host", NULL);
	assert_str(d, "restart", "never");

	/* A last owner the state does not know: null, not a made-up name. */
	d = find(a, "x");
	assert_str(d, "state", "failed");
	assert_str(d, "host", NULL);
	assert_str(d, "last_host", NULL);
	json_object_put(root);
}

static void test_domains_one(void **state)
{
	struct xh_state *s = *state;
	struct json_object *root = reparse(sj_domains(s, "web1"));
	struct json_object *a;

	a = array(root, "domains", 1);
	assert_keys(json_object_array_get_idx(a, 0), domain_keys, N(domain_keys));
	assert_str(json_object_array_get_idx(a, 0), "name", "web1");
	json_object_put(root);

	assert_null(sj_domains(s, "nope"));
	assert_null(sj_domains(s, ""));
}

/* Pages of the domain list: sorted by name, bounded, with total and seq. */
static void test_domains_page(void **state)
{
	struct xh_state *s = *state;
	struct json_object *root, *a, *v;

	root = reparse(sj_domains_page(s, 1, 2));
	a = array(root, "domains", 2);
	assert_str(json_object_array_get_idx(a, 0), "name", "mail");
	assert_str(json_object_array_get_idx(a, 1), "name", "web1");
	assert_true(json_object_object_get_ex(root, "total", &v));
	assert_int_equal(json_object_get_int64(v), 5);
	assert_true(json_object_object_get_ex(root, "offset", &v));
	assert_int_equal(json_object_get_int64(v), 1);
	assert_true(json_object_object_get_ex(root, "seq", &v));
	assert_int_equal(json_object_get_int64(v), 120);
	json_object_put(root);

	/* the last page is short; past the end is empty; limit 0 is all */
	root = reparse(sj_domains_page(s, 4, 2));
	a = array(root, "domains", 1);
	assert_str(json_object_array_get_idx(a, 0), "name", "x");
	json_object_put(root);
	root = reparse(sj_domains_page(s, 9, 2));
	array(root, "domains", 0);
	json_object_put(root);
	root = reparse(sj_domains_page(s, 0, 0));
	array(root, "domains", 5);
	json_object_put(root);
}

/* The domain's xl.cfg is configuration, not status: never in the view. */
static void test_domains_no_xlcfg(void **state)
{
	struct xh_state *s = *state;
	struct json_object *o = sj_domains(s, "db");

	assert_non_null(o);
	assert_null(strstr(json_object_to_json_string(o), "memory = 1024"));
	json_object_put(o);
}

/* ---- nodes ---- */

static void test_nodes(void **state)
{
	struct xh_state *s = *state;
	struct json_object *root = reparse(sj_nodes(s));
	struct json_object *a, *n;

	assert_keys(root, (const char *const[]){ "nodes" }, 1);
	a = array(root, "nodes", 3);
	for (size_t i = 0; i < 3; i++)
		assert_keys(json_object_array_get_idx(a, i), node_keys, N(node_keys));

	n = find(a, "h1");
	assert_int(n, "nodeid", 1);
	assert_bool(n, "member", true);
	assert_str(n, "fence", "none");
	assert_bool(n, "standby", false);
	assert_bool(n, "maintenance", false);
	assert_int(n, "mem_total_mb", 8192);
	assert_int(n, "mem_reserved_mb", 512);
	/* db (1024) and web2 (512), 8 MiB overhead each */
	assert_int(n, "mem_free_mb", 8192 - 512 - (1024 + 8) - (512 + 8));
	assert_int(n, "domains", 2);
	assert_int(n, "running", 1);

	n = find(a, "h2");
	assert_bool(n, "standby", true);
	assert_int(n, "mem_free_mb", 8192 - 512);
	assert_int(n, "domains", 0);
	assert_int(n, "running", 0);

	n = find(a, "h3");
	assert_bool(n, "member", false);
	assert_str(n, "fence", "pending");
	assert_bool(n, "maintenance", true);
	assert_int(n, "domains", 1); /* mail, lost: still owned */
	assert_int(n, "running", 0);
	json_object_put(root);
}

/* ---- status ---- */

static void test_status(void **state)
{
	struct xh_state *s = *state;
	struct sj_local l = {
		.nodeid = 2, .coordinator = 1, .synced = true, .quorate = true,
		.hypervisor = "sim",
	};
	struct json_object *root = reparse(sj_status(s, &l));
	struct json_object *c, *lo, *dc, *a;

	assert_keys(root, (const char *const[]){ "cluster", "local", "nodes", "domains" }, 4);
	c = get(root, "cluster");
	assert_keys(c, cluster_keys, N(cluster_keys));
	assert_bool(c, "quorate", true);
	assert_int(c, "members", 2);
	assert_int(c, "expected_votes", 3);
	assert_str(c, "coordinator", "h1");
	assert_int(c, "seq", 120);
	assert_int(c, "qseq", 118);

	lo = get(root, "local");
	assert_keys(lo, local_keys, N(local_keys));
	assert_str(lo, "name", "h2");
	assert_int(lo, "nodeid", 2);
	assert_bool(lo, "synced", true);
	assert_bool(lo, "quorate", true);
	assert_str(lo, "hypervisor", "sim");

	/* The same node objects as sj_nodes. */
	a = array(root, "nodes", 3);
	for (size_t i = 0; i < 3; i++)
		assert_keys(json_object_array_get_idx(a, i), node_keys, N(node_keys));
	{
		struct json_object *nodes = reparse(sj_nodes(s));

		assert_true(json_object_equal(a, get(nodes, "nodes")));
		json_object_put(nodes);
	}

	dc = get(root, "domains");
	assert_keys(dc, count_keys, N(count_keys));
	assert_int(dc, "total", 5);
	assert_int(dc, "running", 1);
	assert_int(dc, "starting", 1);
	assert_int(dc, "stopping", 0);
	assert_int(dc, "stopped", 1);
	assert_int(dc, "failed", 1);
	assert_int(dc, "lost", 1);
	json_object_put(root);
}

/* No coordinator, a local node the state does not know yet, no quorum. */
static void test_status_unknowns(void **state)
{
	struct xh_state *s = *state;
	struct sj_local l = { .nodeid = 9, .coordinator = 0, .synced = false,
			      .quorate = false, .hypervisor = NULL };
	struct json_object *root = reparse(sj_status(s, &l));
	struct json_object *c = get(root, "cluster"), *lo = get(root, "local");

	assert_str(c, "coordinator", NULL);
	assert_str(lo, "name", NULL);
	assert_int(lo, "nodeid", 9);
	assert_bool(lo, "synced", false);
	assert_bool(lo, "quorate", false);
	assert_str(lo, "hypervisor", NULL);
	json_object_put(root);

	/* A coordinator id with no host record: null too. */
	l.coordinator = 42;
	root = reparse(sj_status(s, &l));
	assert_str(get(root, "cluster"), "coordinator", NULL);
	json_object_put(root);
}

/* ---- history ---- */

static void check_event_seqs(struct json_object *root, const uint64_t *seqs, size_t n)
{
	struct json_object *a = array(root, "events", n);

	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(a, i);

		assert_keys(e, event_keys, N(event_keys));
		assert_int(e, "seq", (int64_t)seqs[i]);
	}
}

static void test_history_wrapped(void **state)
{
	struct xh_state *s = *state;
	struct json_object *root, *a, *e;

	/* The ring of 4 holds events 3..6, its head in the middle. */
	assert_int_equal(s->ev_count, 4);
	assert_int_equal(s->ev_head, 2);

	root = reparse(sj_history(s, 0));
	assert_keys(root, (const char *const[]){ "events" }, 1);
	check_event_seqs(root, (const uint64_t[]){ 3, 4, 5, 6 }, 4);
	a = get(root, "events");

	e = json_object_array_get_idx(a, 0);
	assert_int(e, "time_ms", 1700000003000);
	assert_str(e, "type", "domain-added");
	assert_str(e, "host", NULL);   /* nodeid 0 */
	assert_int(e, "nodeid", 0);
	assert_str(e, "domain", "db");
	assert_str(e, "text", "added");

	e = json_object_array_get_idx(a, 1);
	assert_str(e, "type", "domain-state");
	assert_str(e, "host", "h1");
	assert_str(e, "text", "starting => running");

	e = json_object_array_get_idx(a, 2);
	assert_str(e, "type", "host-left");
	assert_str(e, "host", "h3");
	assert_int(e, "nodeid", 3);
	assert_str(e, "domain", NULL); /* "" */

	e = json_object_array_get_idx(a, 3);
	assert_str(e, "type", "fence-pending");
	assert_str(e, "host", NULL);   /* id 77 unknown */
	assert_int(e, "nodeid", 77);
	json_object_put(root);

	/* newest N, still oldest first */
	root = reparse(sj_history(s, 2));
	check_event_seqs(root, (const uint64_t[]){ 5, 6 }, 2);
	json_object_put(root);
	root = reparse(sj_history(s, 1));
	check_event_seqs(root, (const uint64_t[]){ 6 }, 1);
	json_object_put(root);
	root = reparse(sj_history(s, 4));
	check_event_seqs(root, (const uint64_t[]){ 3, 4, 5, 6 }, 4);
	json_object_put(root);
	root = reparse(sj_history(s, 1000));
	check_event_seqs(root, (const uint64_t[]){ 3, 4, 5, 6 }, 4);
	json_object_put(root);
}

/* ---- an empty state ---- */

static void test_empty(void **state)
{
	struct xh_state s;
	struct sj_local l = { .nodeid = 1, .hypervisor = "xen" };
	struct json_object *root, *dc;

	(void)state;
	assert_int_equal(xh_state_init(&s, 0), 0);

	root = reparse(sj_domains(&s, NULL));
	array(root, "domains", 0);
	json_object_put(root);
	root = reparse(sj_nodes(&s));
	array(root, "nodes", 0);
	json_object_put(root);
	root = reparse(sj_history(&s, 0));
	array(root, "events", 0);
	json_object_put(root);
	root = reparse(sj_history(&s, 5));
	array(root, "events", 0);
	json_object_put(root);

	root = reparse(sj_status(&s, &l));
	assert_bool(get(root, "cluster"), "quorate", false);
	assert_int(get(root, "cluster"), "members", 0);
	assert_str(get(root, "cluster"), "coordinator", NULL);
	assert_str(get(root, "local"), "name", NULL);
	array(root, "nodes", 0);
	dc = get(root, "domains");
	assert_keys(dc, count_keys, N(count_keys));
	for (size_t i = 0; i < N(count_keys); i++)
		assert_int(dc, count_keys[i], 0);
	json_object_put(root);
	xh_state_free(&s);
}

/* Large 64-bit values survive as numbers. */
static void test_big_numbers(void **state)
{
	struct xh_state *s = *state;
	struct json_object *root;
	struct json_object *v;
	uint64_t saved = s->seq;

	s->seq = UINT64_MAX;
	root = reparse(sj_status(s, &(struct sj_local){ .nodeid = 1 }));
	v = get(get(root, "cluster"), "seq");
	assert_true(json_object_is_type(v, json_type_int));
	assert_true(json_object_get_uint64(v) == UINT64_MAX);
	json_object_put(root);
	s->seq = saved;
}

/* A migrating domain: its target by name and id, its memory on both hosts,
 * the "migrating" count, and the disarm time. */
static void test_migrating(void **state)
{
	struct xh_state *s = *state;
	struct json_object *root, *d, *n;
	struct xh_domain *m;
	struct sj_local l = { .nodeid = 1, .coordinator = 1, .synced = true,
			      .quorate = true, .hypervisor = "sim" };

	m = add_domain(s, "zmig", XH_DS_MIGRATING, 1, 1, 1000);
	m->generation = 4;
	m->mig_target = 2;
	m->mig_id = 117;
	s->disarmed_until_ms = 1700000600000ll;

	root = reparse(sj_domains(s, "zmig"));
	d = json_object_array_get_idx(array(root, "domains", 1), 0);
	assert_keys(d, domain_keys, N(domain_keys));
	assert_str(d, "state", "migrating");
	assert_str(d, "host", "h1");
	assert_str(d, "migration_target", "h2");
	assert_int(d, "migration_id", 117);
	json_object_put(root);

	/* others have none */
	root = reparse(sj_domains(s, "db"));
	d = json_object_array_get_idx(array(root, "domains", 1), 0);
	assert_str(d, "migration_target", NULL);
	assert_int(d, "migration_id", 0);
	json_object_put(root);

	root = reparse(sj_nodes(s));
	n = find(array(root, "nodes", 3), "h2");
	assert_int(n, "mem_free_mb", 8192 - 512 - (1000 + 8));
	assert_int(n, "domains", 0);  /* owned: the source still owns it */
	n = find(array(root, "nodes", 3), "h1");
	assert_int(n, "mem_free_mb", 8192 - 512 - (1024 + 8) - (512 + 8) - (1000 + 8));
	json_object_put(root);

	root = reparse(sj_status(s, &l));
	assert_int(get(root, "domains"), "migrating", 1);
	assert_int(get(root, "cluster"), "disarmed_until_ms", 1700000600000ll);
	json_object_put(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_domains_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_domains_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_domains_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_domains_no_xlcfg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nodes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_unknowns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_wrapped, setup, teardown),
		cmocka_unit_test(test_empty),
		cmocka_unit_test_setup_teardown(test_big_numbers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrating, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
