/*
 * JSON views of the replicated state.  The key names are an interface:
 * hactl renders them, scripts and the cluster tests parse them, and
 * hactl(8) documents them.  Add keys if you must; never rename one.
 *
 * json-c represents JSON null as a NULL child, so an allocation failure
 * would silently turn a value into null.  Every builder below checks each
 * allocation instead and the views return NULL (out of memory) rather
 * than a document with holes.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "xenha/sched.h"
#include "xenha/state.h"
#include "xenha/statejson.h"

/* ---- checked builders: each returns false on allocation failure ---- */

static bool put(struct json_object *o, const char *key, struct json_object *v)
{
	if (v == NULL)
		return false;
	if (json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

static bool put_null(struct json_object *o, const char *key)
{
	return json_object_object_add(o, key, NULL) == 0;
}

/* s NULL gives JSON null. */
static bool put_str(struct json_object *o, const char *key, const char *s)
{
	if (s == NULL)
		return put_null(o, key);
	return put(o, key, json_object_new_string(s));
}

static bool put_i64(struct json_object *o, const char *key, int64_t x)
{
	return put(o, key, json_object_new_int64(x));
}

static bool put_u64(struct json_object *o, const char *key, uint64_t x)
{
	/* Small values as int64 so readers that only know signed integers
	 * (json-c's own get_int64, jq, Python) see the same number. */
	if (x <= INT64_MAX)
		return put(o, key, json_object_new_int64((int64_t)x));
	return put(o, key, json_object_new_uint64(x));
}

static bool put_bool(struct json_object *o, const char *key, bool b)
{
	return put(o, key, json_object_new_boolean(b));
}

static bool append(struct json_object *a, struct json_object *v)
{
	if (v == NULL)
		return false;
	if (json_object_array_add(a, v) < 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

/* Host name for a node id; NULL when 0 or unknown (rendered as null). */
static const char *host_name(const struct xh_state *s, uint32_t nodeid)
{
	const struct xh_host *h;

	if (nodeid == 0)
		return NULL;
	h = xh_state_host(s, nodeid);
	return h != NULL ? h->name : NULL;
}

static struct json_object *name_list(const char list[][XH_NAME_MAX], uint8_t n)
{
	struct json_object *a = json_object_new_array();

	if (a == NULL)
		return NULL;
	for (uint8_t i = 0; i < n && i < XH_MAX_PREF; i++) {
		if (!append(a, json_object_new_string(list[i]))) {
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

/* ---- domains ---- */

static struct json_object *domain_obj(const struct xh_state *s,
				      const struct xh_domain *d)
{
	struct json_object *o = json_object_new_object();
	bool ok;

	if (o == NULL)
		return NULL;
	ok = put_str(o, "name", d->name) &&
	     put_str(o, "state", xh_dom_state_str(d->state)) &&
	     put_str(o, "target", d->target == XH_TARGET_STARTED ?
		     "started" : "stopped") &&
	     put_str(o, "host", host_name(s, d->owner)) &&
	     put_u64(o, "nodeid", d->owner) &&
	     put_str(o, "last_host", host_name(s, d->last_owner)) &&
	     put_u64(o, "generation", d->generation) &&
	     put_u64(o, "memory_mb", d->memory_mb) &&
	     put_i64(o, "priority", d->priority) &&
	     put_str(o, "restart", xh_restart_str(d->restart)) &&
	     put_u64(o, "max_restarts", d->max_restarts) &&
	     put_u64(o, "max_relocations", d->max_relocations) &&
	     put_u64(o, "restarts", d->restarts) &&
	     put_u64(o, "relocations", d->relocations) &&
	     put_str(o, "group", d->group) &&
	     put(o, "preferred", name_list(d->preferred, d->n_preferred)) &&
	     put(o, "avoided", name_list(d->avoided, d->n_avoided)) &&
	     put_u64(o, "since_ms", d->since_ms) &&
	     put_str(o, "reason", d->reason) &&
	     put_str(o, "migration_target", host_name(s, d->mig_target)) &&
	     put_u64(o, "migration_id", d->mig_id);
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* {"domains":[ the domains with index in [from, to) ]} */
static struct json_object *domains_range(const struct xh_state *s, uint32_t from, uint32_t to)
{
	struct json_object *root, *a;

	root = json_object_new_object();
	if (root == NULL)
		return NULL;
	a = json_object_new_array();
	if (!put(root, "domains", a))
		goto fail;
	for (uint32_t i = from; i < to; i++)
		if (!append(a, domain_obj(s, &s->domains[i])))
			goto fail;
	return root;
fail:
	json_object_put(root);
	return NULL;
}

struct json_object *sj_domains(const struct xh_state *s, const char *name)
{
	const struct xh_domain *one;
	uint32_t i;

	if (name == NULL)
		return domains_range(s, 0, s->n_domains);
	one = xh_state_domain(s, name);
	if (one == NULL)
		return NULL;
	i = (uint32_t)(one - s->domains);
	return domains_range(s, i, i + 1);
}

struct json_object *sj_domains_page(const struct xh_state *s, uint32_t offset, uint32_t limit)
{
	struct json_object *root;
	uint32_t from = offset < s->n_domains ? offset : s->n_domains;
	uint32_t to = s->n_domains;

	if (limit != 0 && to - from > limit)
		to = from + limit;
	root = domains_range(s, from, to);
	if (root == NULL)
		return NULL;
	if (!put(root, "total", json_object_new_int64(s->n_domains)) ||
	    !put(root, "offset", json_object_new_int64(offset)) ||
	    !put(root, "seq", json_object_new_int64((int64_t)s->seq))) {
		json_object_put(root);
		return NULL;
	}
	return root;
}

/* ---- nodes ---- */

static struct json_object *node_obj(const struct xh_state *s,
				    const struct xh_host *h)
{
	struct json_object *o;
	uint64_t owned = 0, running = 0;
	bool ok;

	for (uint32_t i = 0; i < s->n_domains; i++) {
		const struct xh_domain *d = &s->domains[i];

		if (d->owner != h->nodeid)
			continue;
		owned++;
		if (d->state == XH_DS_RUNNING)
			running++;
	}
	o = json_object_new_object();
	if (o == NULL)
		return NULL;
	ok = put_str(o, "name", h->name) &&
	     put_u64(o, "nodeid", h->nodeid) &&
	     put_bool(o, "member", h->member) &&
	     put_str(o, "fence", xh_fence_str(h->fence)) &&
	     put_bool(o, "standby", h->standby) &&
	     put_bool(o, "maintenance", h->maintenance) &&
	     put_u64(o, "mem_total_mb", h->mem_total_mb) &&
	     put_u64(o, "mem_reserved_mb", h->mem_reserved_mb) &&
	     put_i64(o, "mem_free_mb", sched_host_free_mb(s, h)) &&
	     put_u64(o, "domains", owned) &&
	     put_u64(o, "running", running);
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *node_array(const struct xh_state *s)
{
	struct json_object *a = json_object_new_array();

	if (a == NULL)
		return NULL;
	for (uint32_t i = 0; i < s->n_hosts && i < XH_MAX_HOSTS; i++) {
		if (!append(a, node_obj(s, &s->hosts[i]))) {
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

struct json_object *sj_nodes(const struct xh_state *s)
{
	struct json_object *root = json_object_new_object();

	if (root == NULL)
		return NULL;
	if (!put(root, "nodes", node_array(s))) {
		json_object_put(root);
		return NULL;
	}
	return root;
}

/* ---- status ---- */

static struct json_object *cluster_obj(const struct xh_state *s,
				       const struct sj_local *l)
{
	struct json_object *o = json_object_new_object();
	uint64_t members = 0;
	bool ok;

	if (o == NULL)
		return NULL;
	for (uint32_t i = 0; i < s->n_hosts && i < XH_MAX_HOSTS; i++)
		if (s->hosts[i].member)
			members++;
	ok = put_bool(o, "quorate", s->quorate) &&
	     put_u64(o, "members", members) &&
	     put_u64(o, "expected_votes", s->expected_votes) &&
	     put_str(o, "coordinator", host_name(s, l->coordinator)) &&
	     put_u64(o, "seq", s->seq) &&
	     put_u64(o, "qseq", s->qseq) &&
	     put_u64(o, "disarmed_until_ms", s->disarmed_until_ms);
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *local_obj(const struct xh_state *s,
				     const struct sj_local *l)
{
	struct json_object *o = json_object_new_object();
	bool ok;

	if (o == NULL)
		return NULL;
	ok = put_str(o, "name", host_name(s, l->nodeid)) &&
	     put_u64(o, "nodeid", l->nodeid) &&
	     put_bool(o, "synced", l->synced) &&
	     put_bool(o, "quorate", l->quorate) &&
	     put_str(o, "hypervisor", l->hypervisor);
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *domain_counts(const struct xh_state *s)
{
	/* Keys in the order hactl prints them. */
	static const struct {
		const char *key;
		uint8_t st;
	} keys[] = {
		{ "running", XH_DS_RUNNING },
		{ "starting", XH_DS_STARTING },
		{ "stopping", XH_DS_STOPPING },
		{ "stopped", XH_DS_STOPPED },
		{ "failed", XH_DS_FAILED },
		{ "lost", XH_DS_LOST },
		{ "migrating", XH_DS_MIGRATING },
	};
	uint64_t n[XH_DS__COUNT] = { 0 };
	struct json_object *o = json_object_new_object();
	bool ok;

	if (o == NULL)
		return NULL;
	for (uint32_t i = 0; i < s->n_domains; i++)
		if (s->domains[i].state < XH_DS__COUNT)
			n[s->domains[i].state]++;
	ok = put_u64(o, "total", s->n_domains);
	for (size_t i = 0; ok && i < sizeof(keys) / sizeof(keys[0]); i++)
		ok = put_u64(o, keys[i].key, n[keys[i].st]);
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

struct json_object *sj_status(const struct xh_state *s, const struct sj_local *l)
{
	struct json_object *root = json_object_new_object();
	bool ok;

	if (root == NULL)
		return NULL;
	ok = put(root, "cluster", cluster_obj(s, l)) &&
	     put(root, "local", local_obj(s, l)) &&
	     put(root, "nodes", node_array(s)) &&
	     put(root, "domains", domain_counts(s));
	if (!ok) {
		json_object_put(root);
		return NULL;
	}
	return root;
}

/* ---- history ---- */

static struct json_object *event_obj(const struct xh_state *s,
				     const struct xh_event *e)
{
	struct json_object *o = json_object_new_object();
	bool ok;

	if (o == NULL)
		return NULL;
	ok = put_u64(o, "seq", e->seq) &&
	     put_u64(o, "time_ms", e->time_ms) &&
	     put_str(o, "type", xh_event_type_str(e->type)) &&
	     put_str(o, "host", host_name(s, e->nodeid)) &&
	     put_u64(o, "nodeid", e->nodeid) &&
	     put_str(o, "domain", e->domain[0] != '\0' ? e->domain : NULL) &&
	     put_str(o, "text", e->text);
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

struct json_object *sj_history(const struct xh_state *s, uint32_t limit)
{
	struct json_object *root, *a;
	uint32_t first = 0;

	if (limit != 0 && limit < s->ev_count)
		first = s->ev_count - limit;
	root = json_object_new_object();
	if (root == NULL)
		return NULL;
	a = json_object_new_array();
	if (!put(root, "events", a)) {
		json_object_put(root);
		return NULL;
	}
	for (uint32_t i = first; i < s->ev_count; i++) {
		const struct xh_event *e = xh_state_event(s, i);

		if (e == NULL)
			continue;
		if (!append(a, event_obj(s, e))) {
			json_object_put(root);
			return NULL;
		}
	}
	return root;
}
