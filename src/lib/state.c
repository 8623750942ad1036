/*
 * xenha replicated state machine (see include/xenha/state.h for the
 * contract).  Pure: no I/O, no clock reads, no logging, no globals.
 *
 * The one safety property ("never two running copies of a domain") is
 * enforced here: a domain is placed only from STOPPED or FAILED, i.e. when
 * it has no owner, and it loses its owner only when that owner reported it
 * gone or was confirmed fenced.  Every apply ends with an invariant check
 * that aborts the process on violation, in every build.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenha/state.h"

/* ---- small helpers ---- */

/* snprintf into a possibly-NULL buffer; reasons are truncated silently. */
static void __attribute__((format(printf, 3, 4)))
say(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (buf == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* Copy a NUL-terminated string into a fixed field (truncating). */
static void copy_name(char *dst, size_t dstlen, const char *src)
{
	size_t n = strnlen(src, dstlen - 1);

	memcpy(dst, src, n);
	memset(dst + n, 0, dstlen - n);
}

/* Is the fixed-size field a NUL-terminated string? */
static bool field_terminated(const char *f, size_t len)
{
	return memchr(f, '\0', len) != NULL;
}

/*
 * Names of domains, hosts and groups: 1..XH_NAME_MAX-1 bytes of
 * [A-Za-z0-9._-], starting with a letter or digit.  Restrictive on purpose:
 * names end up in log lines, file names and command lines.
 */
static bool name_valid(const char *n, size_t fieldlen)
{
	size_t i;

	if (!field_terminated(n, fieldlen) || n[0] == '\0')
		return false;
	for (i = 0; n[i] != '\0'; i++) {
		char c = n[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');

		if (alnum)
			continue;
		if (i > 0 && (c == '.' || c == '_' || c == '-'))
			continue;
		return false;
	}
	return true;
}

/* ---- enum names ---- */

static const char *const dom_state_names[XH_DS__COUNT] = {
	[XH_DS_STOPPED] = "stopped",
	[XH_DS_STARTING] = "starting",
	[XH_DS_RUNNING] = "running",
	[XH_DS_STOPPING] = "stopping",
	[XH_DS_FAILED] = "failed",
	[XH_DS_LOST] = "lost",
	[XH_DS_MIGRATING] = "migrating",
};

const char *xh_dom_state_str(uint8_t st)
{
	return st < XH_DS__COUNT ? dom_state_names[st] : "unknown";
}

const char *xh_fence_str(uint8_t f)
{
	switch (f) {
	case XH_FENCE_NONE: return "none";
	case XH_FENCE_PENDING: return "pending";
	case XH_FENCE_CONFIRMED: return "confirmed";
	default: return "unknown";
	}
}

static const char *const restart_names[] = {
	[XH_RESTART_ALWAYS] = "always",
	[XH_RESTART_ON_CRASH] = "on-crash",
	[XH_RESTART_NEVER] = "never",
};

const char *xh_restart_str(uint8_t r)
{
	return r <= XH_RESTART_NEVER ? restart_names[r] : "unknown";
}

int xh_restart_parse(const char *s, uint8_t *out)
{
	uint8_t r;

	if (s == NULL)
		return -EINVAL;
	for (r = 0; r <= XH_RESTART_NEVER; r++) {
		if (strcmp(s, restart_names[r]) == 0) {
			*out = r;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *const cmd_names[XH_CMD__COUNT] = {
	[XH_CMD_HELLO] = "hello",
	[XH_CMD_MEMBERSHIP] = "membership",
	[XH_CMD_DOMAIN_ADD] = "domain-add",
	[XH_CMD_DOMAIN_REMOVE] = "domain-remove",
	[XH_CMD_DOMAIN_SET] = "domain-set",
	[XH_CMD_DOMAIN_START] = "domain-start",
	[XH_CMD_DOMAIN_STOP] = "domain-stop",
	[XH_CMD_PLACE] = "place",
	[XH_CMD_STOP] = "stop",
	[XH_CMD_STARTED] = "started",
	[XH_CMD_START_FAILED] = "start-failed",
	[XH_CMD_STOPPED] = "stopped",
	[XH_CMD_EXITED] = "exited",
	[XH_CMD_FENCE_CONFIRM] = "fence-confirm",
	[XH_CMD_HOST_FLAGS] = "host-flags",
	[XH_CMD_FENCE_BEGIN] = "fence-begin",
	[XH_CMD_MIGRATE_BEGIN] = "migrate-begin",
	[XH_CMD_MIGRATE_DONE] = "migrate-done",
	[XH_CMD_MIGRATE_ABORTED] = "migrate-aborted",
	[XH_CMD_DISARM] = "disarm",
};

const char *xh_cmd_type_str(uint8_t t)
{
	return (t > 0 && t < XH_CMD__COUNT) ? cmd_names[t] : "unknown";
}

const char *xh_event_type_str(uint8_t t)
{
	switch (t) {
	case XH_EV_DOMAIN_ADDED: return "domain-added";
	case XH_EV_DOMAIN_REMOVED: return "domain-removed";
	case XH_EV_DOMAIN_CHANGED: return "domain-changed";
	case XH_EV_DOMAIN_STATE: return "domain-state";
	case XH_EV_HOST_JOINED: return "host-joined";
	case XH_EV_HOST_LEFT: return "host-left";
	case XH_EV_HOST_FLAGS: return "host-flags";
	case XH_EV_FENCE_PENDING: return "fence-pending";
	case XH_EV_FENCE_CONFIRMED: return "fence-confirmed";
	case XH_EV_QUORUM: return "quorum";
	case XH_EV_REJECTED: return "rejected";
	case XH_EV_FENCE_STARTED: return "fence-started";
	case XH_EV_MIGRATION: return "migration";
	case XH_EV_DISARM: return "disarm";
	default: return "unknown";
	}
}

bool xh_dom_state_has_owner(uint8_t st)
{
	return st == XH_DS_STARTING || st == XH_DS_RUNNING ||
	       st == XH_DS_STOPPING || st == XH_DS_LOST || st == XH_DS_MIGRATING;
}

bool xh_dom_uses_host(const struct xh_domain *d, uint32_t nodeid)
{
	if (nodeid == 0)
		return false;
	return d->owner == nodeid || d->mig_target == nodeid;
}

/* ---- lifecycle ---- */

int xh_state_init(struct xh_state *s, uint32_t history_cap)
{
	memset(s, 0, sizeof(*s));
	s->ev_cap = history_cap ? history_cap : XH_HISTORY_DEFAULT;
	s->events = calloc(s->ev_cap, sizeof(*s->events));
	if (s->events == NULL) {
		s->ev_cap = 0;
		return -ENOMEM;
	}
	s->ev_next_seq = 1;
	return 0;
}

void xh_state_free(struct xh_state *s)
{
	uint32_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n_domains; i++)
		free(s->domains[i].xlcfg);
	free(s->domains);
	free(s->events);
	memset(s, 0, sizeof(*s));
}

int xh_state_copy(struct xh_state *dst, const struct xh_state *src)
{
	uint32_t i;

	memcpy(dst, src, sizeof(*dst));
	dst->domains = NULL;
	dst->events = NULL;
	dst->cap_domains = 0;
	dst->n_domains = 0;

	if (src->ev_cap > 0) {
		dst->events = calloc(src->ev_cap, sizeof(*dst->events));
		if (dst->events == NULL)
			goto fail;
		if (src->events != NULL)
			memcpy(dst->events, src->events,
			       (size_t)src->ev_cap * sizeof(*dst->events));
	}
	if (src->n_domains > 0) {
		dst->domains = calloc(src->n_domains, sizeof(*dst->domains));
		if (dst->domains == NULL)
			goto fail;
		dst->cap_domains = src->n_domains;
		for (i = 0; i < src->n_domains; i++) {
			dst->domains[i] = src->domains[i];
			dst->domains[i].xlcfg = NULL;
			/* count before strdup so free() sees a consistent array */
			dst->n_domains = i + 1;
			if (src->domains[i].xlcfg != NULL) {
				dst->domains[i].xlcfg = strdup(src->domains[i].xlcfg);
				if (dst->domains[i].xlcfg == NULL)
					goto fail;
			}
		}
	}
	return 0;
fail:
	xh_state_free(dst);
	return -ENOMEM;
}

/* ---- lookups ---- */

/*
 * Binary search by name.  Returns true and the index if found, else false
 * and the insertion point that keeps the array sorted.
 */
static bool dom_find(const struct xh_state *s, const char *name, uint32_t *idx)
{
	uint32_t lo = 0, hi = s->n_domains;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->domains[mid].name, name);

		if (c == 0) {
			*idx = mid;
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*idx = lo;
	return false;
}

static bool host_find(const struct xh_state *s, uint32_t nodeid, uint32_t *idx)
{
	uint32_t lo = 0, hi = s->n_hosts;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (s->hosts[mid].nodeid == nodeid) {
			*idx = mid;
			return true;
		}
		if (s->hosts[mid].nodeid < nodeid)
			lo = mid + 1;
		else
			hi = mid;
	}
	*idx = lo;
	return false;
}

const struct xh_domain *xh_state_domain(const struct xh_state *s, const char *name)
{
	uint32_t i;

	if (name == NULL || !dom_find(s, name, &i))
		return NULL;
	return &s->domains[i];
}

const struct xh_host *xh_state_host(const struct xh_state *s, uint32_t nodeid)
{
	uint32_t i;

	if (nodeid == 0 || !host_find(s, nodeid, &i))
		return NULL;
	return &s->hosts[i];
}

const struct xh_host *xh_state_host_by_name(const struct xh_state *s, const char *name)
{
	uint32_t i;

	if (name == NULL)
		return NULL;
	/* at most XH_MAX_HOSTS entries: a scan is cheaper than an index */
	for (i = 0; i < s->n_hosts; i++)
		if (strcmp(s->hosts[i].name, name) == 0)
			return &s->hosts[i];
	return NULL;
}

const struct xh_event *xh_state_event(const struct xh_state *s, uint32_t i)
{
	if (i >= s->ev_count || s->ev_cap == 0)
		return NULL;
	return &s->events[(s->ev_head + i) % s->ev_cap];
}

/* ---- domain definitions ---- */

void xh_domain_def_init(struct xh_domain_def *d, const char *name)
{
	memset(d, 0, sizeof(*d));
	if (name != NULL)
		copy_name(d->name, sizeof(d->name), name);
	d->memory_mb = 256;
	d->priority = 0;
	d->restart = XH_RESTART_ALWAYS;
	d->max_restarts = 3;
	d->max_relocations = 3;
	d->start = 1;
}

/* Host-name lists: valid names, no duplicates. */
static int check_host_list(const char (*list)[XH_NAME_MAX], uint8_t n,
			   const char *what, char *why, size_t whylen)
{
	uint8_t i, j;

	if (n > XH_MAX_PREF) {
		say(why, whylen, "too many %s hosts (%u > %d)", what, n, XH_MAX_PREF);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		if (!name_valid(list[i], XH_NAME_MAX)) {
			say(why, whylen, "invalid %s host name at position %u", what,
			    i + 1);
			return -EINVAL;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(list[i], list[j]) == 0) {
				say(why, whylen, "%s host %s listed twice", what, list[i]);
				return -EINVAL;
			}
		}
	}
	return 0;
}

int xh_domain_def_check(const struct xh_domain_def *d, char *why, size_t whylen)
{
	uint8_t i, j;
	int rc;

	if (!name_valid(d->name, sizeof(d->name))) {
		say(why, whylen, "invalid domain name (1-%d characters of "
		    "A-Z a-z 0-9 . _ -, starting with a letter or digit)",
		    XH_NAME_MAX - 1);
		return -EINVAL;
	}
	if (d->xlcfg != NULL && strnlen(d->xlcfg, XH_XLCFG_MAX + 1) > XH_XLCFG_MAX) {
		say(why, whylen, "domain %s: xl.cfg longer than %d bytes", d->name,
		    XH_XLCFG_MAX);
		return -EINVAL;
	}
	if (d->memory_mb == 0) {
		say(why, whylen, "domain %s: memory must be at least 1 MiB", d->name);
		return -EINVAL;
	}
	if (d->restart > XH_RESTART_NEVER) {
		say(why, whylen, "domain %s: unknown restart policy %u", d->name,
		    d->restart);
		return -EINVAL;
	}
	if (d->start > 1) {
		say(why, whylen, "domain %s: start must be 0 or 1", d->name);
		return -EINVAL;
	}
	rc = check_host_list(d->preferred, d->n_preferred, "preferred", why, whylen);
	if (rc < 0)
		return rc;
	rc = check_host_list(d->avoided, d->n_avoided, "avoided", why, whylen);
	if (rc < 0)
		return rc;
	for (i = 0; i < d->n_preferred; i++) {
		for (j = 0; j < d->n_avoided; j++) {
			if (strcmp(d->preferred[i], d->avoided[j]) == 0) {
				say(why, whylen, "domain %s: host %s is both preferred "
				    "and avoided", d->name, d->preferred[i]);
				return -EINVAL;
			}
		}
	}
	if (!field_terminated(d->group, sizeof(d->group)) ||
	    (d->group[0] != '\0' && !name_valid(d->group, sizeof(d->group)))) {
		say(why, whylen, "domain %s: invalid group name", d->name);
		return -EINVAL;
	}
	return 0;
}

/* ---- history ---- */

/* Append one event to the ring, overwriting the oldest when full. */
static void __attribute__((format(printf, 6, 7)))
ev_add(struct xh_state *s, uint64_t time_ms, uint8_t type, uint32_t nodeid,
       const char *domain, const char *fmt, ...)
{
	struct xh_event *e;
	va_list ap;

	if (s->ev_cap == 0 || s->events == NULL)
		return;
	if (s->ev_count < s->ev_cap) {
		e = &s->events[(s->ev_head + s->ev_count) % s->ev_cap];
		s->ev_count++;
	} else {
		e = &s->events[s->ev_head];
		s->ev_head = (s->ev_head + 1) % s->ev_cap;
	}
	memset(e, 0, sizeof(*e));
	e->seq = s->ev_next_seq++;
	e->time_ms = time_ms;
	e->type = type;
	e->nodeid = nodeid;
	if (domain != NULL)
		copy_name(e->domain, sizeof(e->domain), domain);
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
	va_end(ap);
}

/* Name of a host for messages ("none" for 0; "?" cannot happen once checked). */
static const char *host_name(const struct xh_state *s, uint32_t nodeid)
{
	const struct xh_host *h;

	if (nodeid == 0)
		return "none";
	h = xh_state_host(s, nodeid);
	return h != NULL ? h->name : "?";
}

/*
 * The one place where a domain's placement state changes.  Logs
 * "from => to (host H)[: reason]"; H is the new owner, or the host that
 * just gave the domain up.
 */
static void dom_transition(struct xh_state *s, struct xh_domain *d, uint8_t to,
			   uint32_t owner, uint64_t now, const char *reason)
{
	uint8_t from = d->state;
	uint32_t concerned = owner != 0 ? owner : d->owner;

	if (owner == 0 && d->owner != 0)
		d->last_owner = d->owner;
	/* migration fields live only in MIGRATING and LOST (state.h) */
	if (to != XH_DS_MIGRATING && to != XH_DS_LOST) {
		d->mig_target = 0;
		d->mig_id = 0;
	}
	d->state = to;
	d->owner = owner;
	d->since_ms = now;
	copy_name(d->reason, sizeof(d->reason), reason != NULL ? reason : "");
	if (concerned == 0)
		concerned = d->last_owner;
	ev_add(s, now, XH_EV_DOMAIN_STATE, concerned, d->name, "%s => %s (host %s)%s%s",
	       xh_dom_state_str(from), xh_dom_state_str(to), host_name(s, concerned),
	       d->reason[0] != '\0' ? ": " : "", d->reason);
}

/* ---- invariants ---- */

/*
 * Cost model: apply() runs at every command, up to thousands per second
 * with thousands of domains, so it does not run the full O(n) check every
 * time.  Each command handler tells apply() what it may have touched:
 * nothing structural (counters only), one domain (that domain fully plus
 * its order against both neighbours: since the rest of the array did not
 * change, this keeps "strictly sorted" true by induction), the host table,
 * or everything.  xh_state_check() always checks everything.
 */
enum check_scope {
	CHECK_BASIC,  /* counters and ring bounds only */
	CHECK_DOMAIN, /* + one domain and its neighbours' order */
	CHECK_HOSTS,  /* + the host table */
	CHECK_ALL,    /* everything */
};

static int check_basic(const struct xh_state *s, char *why, size_t whylen)
{
	if (s->n_hosts > XH_MAX_HOSTS) {
		say(why, whylen, "n_hosts %" PRIu32 " > %d", s->n_hosts, XH_MAX_HOSTS);
		return -EPROTO;
	}
	if (s->n_domains > XH_MAX_DOMAINS || s->n_domains > s->cap_domains ||
	    (s->n_domains > 0 && s->domains == NULL)) {
		say(why, whylen, "n_domains %" PRIu32 " out of bounds (cap %" PRIu32 ")",
		    s->n_domains, s->cap_domains);
		return -EPROTO;
	}
	if (s->ev_cap == 0 || s->events == NULL || s->ev_count > s->ev_cap ||
	    s->ev_head >= s->ev_cap) {
		say(why, whylen, "history ring inconsistent (cap %" PRIu32 " count %"
		    PRIu32 " head %" PRIu32 ")", s->ev_cap, s->ev_count, s->ev_head);
		return -EPROTO;
	}
	if (s->qseq > s->seq) {
		say(why, whylen, "qseq %" PRIu64 " > seq %" PRIu64, s->qseq, s->seq);
		return -EPROTO;
	}
	return 0;
}

static int check_hosts(const struct xh_state *s, char *why, size_t whylen)
{
	uint32_t i, j;

	for (i = 0; i < s->n_hosts; i++) {
		const struct xh_host *h = &s->hosts[i];

		if (h->nodeid == 0 || (i > 0 && s->hosts[i - 1].nodeid >= h->nodeid)) {
			say(why, whylen, "hosts not strictly sorted by node id at index %"
			    PRIu32, i);
			return -EPROTO;
		}
		if (!name_valid(h->name, sizeof(h->name))) {
			say(why, whylen, "host %" PRIu32 " has an invalid name", h->nodeid);
			return -EPROTO;
		}
		if (h->fence > XH_FENCE_CONFIRMED) {
			say(why, whylen, "host %s: fence state %u out of range", h->name,
			    h->fence);
			return -EPROTO;
		}
		/* a member is talking to us: it cannot be pending or confirmed fenced */
		if (h->member && h->fence != XH_FENCE_NONE) {
			say(why, whylen, "host %s is a member but fence is %s", h->name,
			    xh_fence_str(h->fence));
			return -EPROTO;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(s->hosts[j].name, h->name) == 0) {
				say(why, whylen, "host name %s used by nodes %" PRIu32
				    " and %" PRIu32, h->name, s->hosts[j].nodeid,
				    h->nodeid);
				return -EPROTO;
			}
		}
	}
	return 0;
}

static int check_domain(const struct xh_state *s, uint32_t i, char *why, size_t whylen)
{
	const struct xh_domain *d = &s->domains[i];
	const struct xh_host *h;

	if (!field_terminated(d->name, sizeof(d->name)) || d->name[0] == '\0') {
		say(why, whylen, "domain at index %" PRIu32 " has an invalid name", i);
		return -EPROTO;
	}
	/* strictly sorted by name: unique, hence at most one placement each */
	if (i > 0 && strcmp(s->domains[i - 1].name, d->name) >= 0) {
		say(why, whylen, "domains not strictly sorted at %s (after %s)", d->name,
		    s->domains[i - 1].name);
		return -EPROTO;
	}
	if (d->state >= XH_DS__COUNT || d->target > XH_TARGET_STARTED ||
	    d->restart > XH_RESTART_NEVER || d->n_preferred > XH_MAX_PREF ||
	    d->n_avoided > XH_MAX_PREF) {
		say(why, whylen, "domain %s: enum or count field out of range", d->name);
		return -EPROTO;
	}
	if (!field_terminated(d->reason, sizeof(d->reason)) ||
	    !field_terminated(d->group, sizeof(d->group))) {
		say(why, whylen, "domain %s: unterminated string field", d->name);
		return -EPROTO;
	}
	if (xh_dom_state_has_owner(d->state) != (d->owner != 0)) {
		say(why, whylen, "domain %s: state %s with owner %" PRIu32, d->name,
		    xh_dom_state_str(d->state), d->owner);
		return -EPROTO;
	}
	if (d->owner != 0) {
		h = xh_state_host(s, d->owner);
		if (h == NULL) {
			say(why, whylen, "domain %s: owner %" PRIu32 " is not a known host",
			    d->name, d->owner);
			return -EPROTO;
		}
		/* a confirmed-fenced host runs nothing: its domains were released */
		if (h->fence == XH_FENCE_CONFIRMED) {
			say(why, whylen, "domain %s: owner %s is confirmed fenced", d->name,
			    h->name);
			return -EPROTO;
		}
	}
	if (d->last_owner != 0 && xh_state_host(s, d->last_owner) == NULL) {
		say(why, whylen, "domain %s: last owner %" PRIu32 " is not a known host",
		    d->name, d->last_owner);
		return -EPROTO;
	}
	if ((d->mig_target == 0) != (d->mig_id == 0) ||
	    (d->state == XH_DS_MIGRATING && (d->mig_target == 0 || d->mig_target == d->owner)) ||
	    (d->mig_target != 0 && d->state != XH_DS_MIGRATING && d->state != XH_DS_LOST)) {
		say(why, whylen, "domain %s: state %s with migration target %" PRIu32
		    " id %" PRIu64, d->name, xh_dom_state_str(d->state), d->mig_target,
		    d->mig_id);
		return -EPROTO;
	}
	if (d->mig_target != 0 && xh_state_host(s, d->mig_target) == NULL) {
		say(why, whylen, "domain %s: migration target %" PRIu32 " is not a known host",
		    d->name, d->mig_target);
		return -EPROTO;
	}
	return 0;
}

static int check_scoped(const struct xh_state *s, enum check_scope scope,
			uint32_t dom, char *why, size_t whylen)
{
	uint32_t i;
	int rc;

	rc = check_basic(s, why, whylen);
	if (rc < 0 || scope == CHECK_BASIC)
		return rc;
	if (scope == CHECK_DOMAIN) {
		if (dom >= s->n_domains)
			return 0;
		rc = check_domain(s, dom, why, whylen);
		if (rc == 0 && dom + 1 < s->n_domains)
			rc = check_domain(s, dom + 1, why, whylen);
		return rc;
	}
	rc = check_hosts(s, why, whylen);
	if (rc < 0 || scope == CHECK_HOSTS)
		return rc;
	for (i = 0; i < s->n_domains; i++) {
		rc = check_domain(s, i, why, whylen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int xh_state_check(const struct xh_state *s, char *why, size_t whylen)
{
	say(why, whylen, "ok");
	return check_scoped(s, CHECK_ALL, 0, why, whylen);
}

/* ---- command handlers ----
 *
 * Each handler validates everything first and returns -errno with a reason
 * before touching the state, or changes the state and returns 0.  *scope
 * and *dom tell apply() what to re-check.
 */

struct apply_ctx {
	struct xh_state *s;
	const struct xh_cmd *c;
	char *why;
	size_t whylen;
	enum check_scope scope;
	uint32_t dom;            /* CHECK_DOMAIN: index of the touched domain */
};

/* Insert a zeroed host with this id at its sorted position; caller checked room. */
static struct xh_host *host_insert(struct xh_state *s, uint32_t nodeid)
{
	uint32_t at;

	if (host_find(s, nodeid, &at))
		return &s->hosts[at];
	memmove(&s->hosts[at + 1], &s->hosts[at],
		(size_t)(s->n_hosts - at) * sizeof(s->hosts[0]));
	memset(&s->hosts[at], 0, sizeof(s->hosts[at]));
	s->hosts[at].nodeid = nodeid;
	s->n_hosts++;
	return &s->hosts[at];
}

static void raise_expected(struct xh_state *s, uint32_t v)
{
	if (v > s->expected_votes)
		s->expected_votes = v;
	if (s->n_hosts > s->expected_votes)
		s->expected_votes = s->n_hosts;
}

static int do_hello(struct apply_ctx *a)
{
	struct xh_state *s = a->s;
	const typeof(a->c->u.hello) *m = &a->c->u.hello;
	const struct xh_host *other;
	struct xh_host *h;
	char old[XH_NAME_MAX] = "";
	bool is_new;

	if (m->nodeid == 0) {
		say(a->why, a->whylen, "node id 0 is not valid");
		return -EINVAL;
	}
	if (a->c->sender != m->nodeid) {
		/* a host announces itself, never another */
		say(a->why, a->whylen, "hello for node %" PRIu32 " sent by node %" PRIu32,
		    m->nodeid, a->c->sender);
		return -EPERM;
	}
	if (!name_valid(m->name, sizeof(m->name))) {
		say(a->why, a->whylen, "node %" PRIu32 ": invalid host name", m->nodeid);
		return -EINVAL;
	}
	other = xh_state_host_by_name(s, m->name);
	if (other != NULL && other->nodeid != m->nodeid) {
		say(a->why, a->whylen, "host name %s is already used by node %" PRIu32,
		    m->name, other->nodeid);
		return -EEXIST;
	}
	is_new = xh_state_host(s, m->nodeid) == NULL;
	if (is_new && s->n_hosts >= XH_MAX_HOSTS) {
		say(a->why, a->whylen, "host table full (%d hosts)", XH_MAX_HOSTS);
		return -ENOSPC;
	}

	h = host_insert(s, m->nodeid);
	if (!is_new)
		copy_name(old, sizeof(old), h->name);
	copy_name(h->name, sizeof(h->name), m->name);
	h->mem_total_mb = m->mem_total_mb;
	h->mem_reserved_mb = m->mem_reserved_mb;
	h->dom_overhead_mb = m->dom_overhead_mb;
	raise_expected(s, m->expected_votes);
	if (is_new)
		ev_add(s, a->c->time_ms, XH_EV_HOST_JOINED, m->nodeid, NULL,
		       "host %s registered", m->name);
	else if (strcmp(old, m->name) != 0)
		ev_add(s, a->c->time_ms, XH_EV_HOST_JOINED, m->nodeid, NULL,
		       "host %s registered (was %s)", m->name, old);
	a->scope = CHECK_HOSTS;
	return 0;
}

/* A unique placeholder name for a node seen in a membership before its HELLO. */
static void placeholder_name(const struct xh_state *s, uint32_t nodeid,
			     char out[XH_NAME_MAX])
{
	unsigned k;

	snprintf(out, XH_NAME_MAX, "node%" PRIu32, nodeid);
	/* bounded: at most XH_MAX_HOSTS names can be taken */
	for (k = 1; k <= XH_MAX_HOSTS + 1 && xh_state_host_by_name(s, out) != NULL; k++)
		snprintf(out, XH_NAME_MAX, "node%" PRIu32 "-%u", nodeid, k);
}

static bool id_in(const uint32_t *ids, uint32_t n, uint32_t id)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

static int do_membership(struct apply_ctx *a)
{
	struct xh_state *s = a->s;
	const typeof(a->c->u.members) *m = &a->c->u.members;
	uint64_t now = a->c->time_ms;
	bool left[XH_MAX_HOSTS] = { false };
	bool any_left = false, was_quorate = s->quorate;
	uint32_t i, unknown = 0;

	if (m->n > XH_MAX_HOSTS) {
		say(a->why, a->whylen, "membership of %" PRIu32 " nodes exceeds %d",
		    m->n, XH_MAX_HOSTS);
		return -EINVAL;
	}
	for (i = 0; i < m->n; i++) {
		if (m->nodeids[i] == 0 || id_in(m->nodeids, i, m->nodeids[i])) {
			say(a->why, a->whylen, "membership lists node id %" PRIu32
			    " twice or as 0", m->nodeids[i]);
			return -EINVAL;
		}
		if (xh_state_host(s, m->nodeids[i]) == NULL)
			unknown++;
	}
	if (s->n_hosts + unknown > XH_MAX_HOSTS) {
		say(a->why, a->whylen, "host table full (%d hosts)", XH_MAX_HOSTS);
		return -ENOSPC;
	}

	for (i = 0; i < m->n; i++) {
		char name[XH_NAME_MAX];
		struct xh_host *h;

		if (xh_state_host(s, m->nodeids[i]) != NULL)
			continue;
		placeholder_name(s, m->nodeids[i], name);
		h = host_insert(s, m->nodeids[i]);
		copy_name(h->name, sizeof(h->name), name);
	}

	for (i = 0; i < s->n_hosts; i++) {
		struct xh_host *h = &s->hosts[i];
		bool now_member = id_in(m->nodeids, m->n, h->nodeid);

		if (h->member && !now_member) {
			h->member = false;
			left[i] = any_left = true;
			ev_add(s, now, XH_EV_HOST_LEFT, h->nodeid, NULL,
			       "host %s left the membership", h->name);
			if (h->fence == XH_FENCE_NONE) {
				h->fence = XH_FENCE_PENDING;
				h->fence_since_ms = now;
				ev_add(s, now, XH_EV_FENCE_PENDING, h->nodeid, NULL,
				       "host %s must be fenced", h->name);
			}
		} else if (!h->member && now_member) {
			h->member = true;
			ev_add(s, now, XH_EV_HOST_JOINED, h->nodeid, NULL,
			       "host %s joined the membership", h->name);
			/* it is back and talking: it needs no fencing any more;
			 * its LOST domains stay LOST until it reports them */
			if (h->fence != XH_FENCE_NONE) {
				h->fence = XH_FENCE_NONE;
				h->fence_since_ms = now;
			}
		}
	}

	if (any_left) {
		for (i = 0; i < s->n_domains; i++) {
			struct xh_domain *d = &s->domains[i];
			char reason[XH_REASON_MAX];
			uint32_t hi;

			/* a MIGRATING domain whose source left keeps its
			 * migration fields: the target may still claim it */
			if (d->state != XH_DS_STARTING && d->state != XH_DS_RUNNING &&
			    d->state != XH_DS_STOPPING && d->state != XH_DS_MIGRATING)
				continue;
			if (!host_find(s, d->owner, &hi) || !left[hi])
				continue;
			snprintf(reason, sizeof(reason),
				 "host %s left the membership; awaiting fencing",
				 s->hosts[hi].name);
			/* owner kept: it may still be running there */
			dom_transition(s, d, XH_DS_LOST, d->owner, now, reason);
		}
	}

	raise_expected(s, 0);
	s->quorate = 2 * (uint64_t)m->n > s->expected_votes;
	if (s->quorate != was_quorate)
		ev_add(s, now, XH_EV_QUORUM, 0, NULL, "%s (members %" PRIu32
		       " expected votes %" PRIu32 ")",
		       s->quorate ? "quorum gained" : "quorum lost", m->n,
		       s->expected_votes);
	a->scope = CHECK_ALL;
	return 0;
}

/* Copy a definition into a domain record (definition fields only). */
static int def_to_domain(struct xh_domain *d, const struct xh_domain_def *def)
{
	char *cfg = NULL;

	if (def->xlcfg != NULL) {
		cfg = strdup(def->xlcfg);
		if (cfg == NULL)
			return -ENOMEM;
	}
	free(d->xlcfg);
	d->xlcfg = cfg;
	copy_name(d->name, sizeof(d->name), def->name);
	d->memory_mb = def->memory_mb;
	d->priority = def->priority;
	d->restart = def->restart;
	d->max_restarts = def->max_restarts;
	d->max_relocations = def->max_relocations;
	d->n_preferred = def->n_preferred;
	d->n_avoided = def->n_avoided;
	memcpy(d->preferred, def->preferred, sizeof(d->preferred));
	memcpy(d->avoided, def->avoided, sizeof(d->avoided));
	copy_name(d->group, sizeof(d->group), def->group);
	return 0;
}

static int do_domain_add(struct apply_ctx *a)
{
	struct xh_state *s = a->s;
	const struct xh_domain_def *def = &a->c->u.dom.def;
	struct xh_domain nd;
	uint32_t at;
	int rc;

	rc = xh_domain_def_check(def, a->why, a->whylen);
	if (rc < 0)
		return rc;
	if (dom_find(s, def->name, &at)) {
		say(a->why, a->whylen, "domain %s already exists", def->name);
		return -EEXIST;
	}
	if (s->n_domains >= XH_MAX_DOMAINS) {
		say(a->why, a->whylen, "domain table full (%d domains)", XH_MAX_DOMAINS);
		return -ENOSPC;
	}
	if (s->n_domains == s->cap_domains) {
		uint32_t cap = s->cap_domains ? s->cap_domains * 2 : 64;
		struct xh_domain *p;

		if (cap > XH_MAX_DOMAINS)
			cap = XH_MAX_DOMAINS;
		p = realloc(s->domains, (size_t)cap * sizeof(*p));
		if (p == NULL) {
			say(a->why, a->whylen, "out of memory");
			return -ENOMEM;
		}
		s->domains = p;
		s->cap_domains = cap;
	}
	memset(&nd, 0, sizeof(nd));
	if (def_to_domain(&nd, def) < 0) {
		say(a->why, a->whylen, "out of memory");
		return -ENOMEM;
	}
	nd.target = def->start ? XH_TARGET_STARTED : XH_TARGET_STOPPED;
	nd.state = XH_DS_STOPPED;
	nd.since_ms = a->c->time_ms;

	/* O(n) move: adds are rare operator commands; lookups stay O(log n) */
	memmove(&s->domains[at + 1], &s->domains[at],
		(size_t)(s->n_domains - at) * sizeof(s->domains[0]));
	s->domains[at] = nd;
	s->n_domains++;
	ev_add(s, a->c->time_ms, XH_EV_DOMAIN_ADDED, 0, nd.name,
	       "domain %s added (memory %" PRIu32 " MiB, priority %" PRId32
	       ", target %s)", nd.name, nd.memory_mb, nd.priority,
	       nd.target == XH_TARGET_STARTED ? "started" : "stopped");
	a->scope = CHECK_DOMAIN;
	a->dom = at;
	return 0;
}

/* Find the domain a command names, or fail with -ENOENT. */
static int lookup_domain(struct apply_ctx *a, const char *name, struct xh_domain **out)
{
	uint32_t i;

	if (!field_terminated(name, XH_NAME_MAX) || !dom_find(a->s, name, &i)) {
		say(a->why, a->whylen, "no such domain %.*s", XH_NAME_MAX - 1, name);
		return -ENOENT;
	}
	*out = &a->s->domains[i];
	a->dom = i;
	return 0;
}

static int do_domain_remove(struct apply_ctx *a)
{
	struct xh_state *s = a->s;
	struct xh_domain *d;
	char name[XH_NAME_MAX];
	uint32_t at;
	int rc;

	rc = lookup_domain(a, a->c->u.name.name, &d);
	if (rc < 0)
		return rc;
	if (xh_dom_state_has_owner(d->state)) {
		say(a->why, a->whylen, "domain %s is %s on %s; stop it first", d->name,
		    xh_dom_state_str(d->state), host_name(s, d->owner));
		return -EBUSY;
	}
	at = a->dom;
	copy_name(name, sizeof(name), d->name);
	free(d->xlcfg);
	memmove(&s->domains[at], &s->domains[at + 1],
		(size_t)(s->n_domains - at - 1) * sizeof(s->domains[0]));
	s->n_domains--;
	ev_add(s, a->c->time_ms, XH_EV_DOMAIN_REMOVED, 0, name, "domain %s removed",
	       name);
	/* the neighbours of the gap are now adjacent: re-check from at - 1 */
	a->scope = CHECK_DOMAIN;
	a->dom = at > 0 ? at - 1 : 0;
	return 0;
}

static const struct {
	uint32_t bit;
	const char *name;
} dset_names[] = {
	{ XH_DSET_XLCFG, "xlcfg" },
	{ XH_DSET_MEMORY, "memory" },
	{ XH_DSET_PRIORITY, "priority" },
	{ XH_DSET_RESTART, "restart" },
	{ XH_DSET_MAX_RESTARTS, "max-restarts" },
	{ XH_DSET_MAX_RELOCATIONS, "max-relocations" },
	{ XH_DSET_PREFERRED, "preferred" },
	{ XH_DSET_AVOIDED, "avoided" },
	{ XH_DSET_GROUP, "group" },
};

static int do_domain_set(struct apply_ctx *a)
{
	const struct xh_domain_def *in = &a->c->u.dom.def;
	uint32_t mask = a->c->u.dom.mask, all = 0;
	struct xh_domain_def nd;
	struct xh_domain *d;
	char fields[XH_REASON_MAX] = "";
	size_t i, off = 0;
	int rc;

	rc = lookup_domain(a, in->name, &d);
	if (rc < 0)
		return rc;
	for (i = 0; i < sizeof(dset_names) / sizeof(dset_names[0]); i++)
		all |= dset_names[i].bit;
	if (mask == 0 || (mask & ~all) != 0) {
		say(a->why, a->whylen, "domain %s: %s", d->name,
		    mask == 0 ? "nothing to change" : "unknown field in change mask");
		return -EINVAL;
	}

	/* the definition as it would be after the change */
	xh_domain_def_init(&nd, d->name);
	nd.xlcfg = d->xlcfg;
	nd.memory_mb = d->memory_mb;
	nd.priority = d->priority;
	nd.restart = d->restart;
	nd.max_restarts = d->max_restarts;
	nd.max_relocations = d->max_relocations;
	nd.n_preferred = d->n_preferred;
	nd.n_avoided = d->n_avoided;
	memcpy(nd.preferred, d->preferred, sizeof(nd.preferred));
	memcpy(nd.avoided, d->avoided, sizeof(nd.avoided));
	memcpy(nd.group, d->group, sizeof(nd.group));
	if (mask & XH_DSET_XLCFG)
		nd.xlcfg = in->xlcfg;
	if (mask & XH_DSET_MEMORY)
		nd.memory_mb = in->memory_mb;
	if (mask & XH_DSET_PRIORITY)
		nd.priority = in->priority;
	if (mask & XH_DSET_RESTART)
		nd.restart = in->restart;
	if (mask & XH_DSET_MAX_RESTARTS)
		nd.max_restarts = in->max_restarts;
	if (mask & XH_DSET_MAX_RELOCATIONS)
		nd.max_relocations = in->max_relocations;
	if (mask & XH_DSET_PREFERRED) {
		nd.n_preferred = in->n_preferred;
		memcpy(nd.preferred, in->preferred, sizeof(nd.preferred));
	}
	if (mask & XH_DSET_AVOIDED) {
		nd.n_avoided = in->n_avoided;
		memcpy(nd.avoided, in->avoided, sizeof(nd.avoided));
	}
	if (mask & XH_DSET_GROUP)
		memcpy(nd.group, in->group, sizeof(nd.group));
	rc = xh_domain_def_check(&nd, a->why, a->whylen);
	if (rc < 0)
		return rc;
	/* def_to_domain frees the old xlcfg only after copying the new one,
	 * so nd.xlcfg may still point at it here */
	if (def_to_domain(d, &nd) < 0) {
		say(a->why, a->whylen, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < sizeof(dset_names) / sizeof(dset_names[0]); i++) {
		if (!(mask & dset_names[i].bit) || off >= sizeof(fields))
			continue;
		off += (size_t)snprintf(fields + off, sizeof(fields) - off, "%s%s",
					off ? ", " : "", dset_names[i].name);
	}
	ev_add(a->s, a->c->time_ms, XH_EV_DOMAIN_CHANGED, 0, d->name,
	       "definition changed: %s", fields);
	a->scope = CHECK_DOMAIN;
	return 0;
}

static int do_domain_start(struct apply_ctx *a)
{
	struct xh_domain *d;
	int rc;

	rc = lookup_domain(a, a->c->u.name.name, &d);
	if (rc < 0)
		return rc;
	d->target = XH_TARGET_STARTED;
	/* an operator start is a fresh chance: the failure counters restart */
	d->restarts = 0;
	d->relocations = 0;
	ev_add(a->s, a->c->time_ms, XH_EV_DOMAIN_CHANGED, 0, d->name,
	       "target started");
	if (d->state == XH_DS_FAILED)
		dom_transition(a->s, d, XH_DS_STOPPED, 0, a->c->time_ms, NULL);
	a->scope = CHECK_DOMAIN;
	return 0;
}

static int do_domain_stop(struct apply_ctx *a)
{
	struct xh_domain *d;
	int rc;

	rc = lookup_domain(a, a->c->u.name.name, &d);
	if (rc < 0)
		return rc;
	d->target = XH_TARGET_STOPPED;
	ev_add(a->s, a->c->time_ms, XH_EV_DOMAIN_CHANGED, 0, d->name,
	       "target stopped");
	a->scope = CHECK_DOMAIN;
	return 0;
}

/*
 * Common preconditions of the placement reports (STOP, STARTED,
 * START_FAILED, STOPPED, EXITED): the domain exists, the reporting host is
 * its owner and the generation is the current one.  Anything else is a
 * stale or misdirected message.
 */
static int lookup_placed(struct apply_ctx *a, struct xh_domain **out)
{
	const typeof(a->c->u.place) *p = &a->c->u.place;
	struct xh_domain *d;
	int rc;

	rc = lookup_domain(a, p->name, &d);
	if (rc < 0)
		return rc;
	/* Only a host speaks for itself: a report that a domain started,
	 * failed, stopped or ended must come from the host it names (the
	 * transport sets sender).  Otherwise one node's bug could clear a
	 * domain that still runs on another.  (STOP is the coordinator's
	 * order, not a report.) */
	if (a->c->type != XH_CMD_STOP && a->c->sender != p->nodeid) {
		say(a->why, a->whylen, "report for domain %s about %s sent by %s; a host "
		    "reports only its own domains", d->name, host_name(a->s, p->nodeid),
		    host_name(a->s, a->c->sender));
		return -EPERM;
	}
	if (d->owner == 0 || d->owner != p->nodeid || d->generation != p->generation) {
		say(a->why, a->whylen, "stale report for domain %s from %s generation %"
		    PRIu64 " (now %s on %s generation %" PRIu64 ")", d->name,
		    host_name(a->s, p->nodeid), p->generation,
		    xh_dom_state_str(d->state), host_name(a->s, d->owner),
		    d->generation);
		return -ESTALE;
	}
	*out = d;
	a->scope = CHECK_DOMAIN;
	return 0;
}

static int bad_transition(struct apply_ctx *a, const struct xh_domain *d)
{
	say(a->why, a->whylen, "domain %s is %s; %s does not apply", d->name,
	    xh_dom_state_str(d->state), xh_cmd_type_str(a->c->type));
	return -EINVAL;
}

/*
 * PLACE is the only way a domain gains an owner.  The safety rule lives
 * here: only a domain with no owner (STOPPED or FAILED) is placed.  A LOST
 * domain's host is neither confirmed fenced nor confirmed to have stopped
 * it, so it may still run there; it is never placed.
 */
static int do_place(struct apply_ctx *a)
{
	struct xh_state *s = a->s;
	const typeof(a->c->u.place) *p = &a->c->u.place;
	const struct xh_host *h;
	struct xh_domain *d;
	int rc;

	if (!s->quorate) {
		say(a->why, a->whylen, "no quorum");
		return -EAGAIN;
	}
	rc = lookup_domain(a, p->name, &d);
	if (rc < 0)
		return rc;
	if (p->generation != d->generation) {
		say(a->why, a->whylen, "domain %s: generation %" PRIu64 " is stale (now %"
		    PRIu64 ")", d->name, p->generation, d->generation);
		return -ESTALE;
	}
	if (d->target != XH_TARGET_STARTED) {
		say(a->why, a->whylen, "domain %s: target is stopped", d->name);
		return -EINVAL;
	}
	if (d->state == XH_DS_LOST) {
		say(a->why, a->whylen, "domain %s may still run on %s, which is not "
		    "confirmed fenced; refusing to place it", d->name,
		    host_name(s, d->owner));
		return -EBUSY;
	}
	if (xh_dom_state_has_owner(d->state)) {
		say(a->why, a->whylen, "domain %s is already %s on %s", d->name,
		    xh_dom_state_str(d->state), host_name(s, d->owner));
		return -EBUSY;
	}
	h = xh_state_host(s, p->nodeid);
	if (h == NULL) {
		say(a->why, a->whylen, "no such host (node id %" PRIu32 ")", p->nodeid);
		return -ENOENT;
	}
	if (!h->member || h->fence != XH_FENCE_NONE) {
		say(a->why, a->whylen, "host %s is not a member of the cluster", h->name);
		return -EHOSTDOWN;
	}
	if (h->standby || h->maintenance) {
		say(a->why, a->whylen, "host %s is in %s", h->name,
		    h->maintenance ? "maintenance" : "standby");
		return -EBUSY;
	}

	if (d->state == XH_DS_FAILED) {
		if (p->nodeid == d->last_owner) {
			d->restarts++;
		} else {
			d->relocations++;
			d->restarts = 0;
		}
	}
	d->generation++;
	dom_transition(s, d, XH_DS_STARTING, p->nodeid, a->c->time_ms, NULL);
	a->scope = CHECK_DOMAIN;
	return 0;
}

static int do_stop(struct apply_ctx *a)
{
	struct xh_domain *d;
	int rc;

	rc = lookup_placed(a, &d);
	if (rc < 0)
		return rc;
	if (d->state == XH_DS_STOPPING) {
		say(a->why, a->whylen, "domain %s is already stopping", d->name);
		return -EALREADY;
	}
	if (d->state != XH_DS_STARTING && d->state != XH_DS_RUNNING)
		return bad_transition(a, d);
	dom_transition(a->s, d, XH_DS_STOPPING, d->owner, a->c->time_ms, NULL);
	return 0;
}

static int do_started(struct apply_ctx *a)
{
	const struct xh_host *h;
	struct xh_domain *d;
	int rc;

	rc = lookup_placed(a, &d);
	if (rc < 0)
		return rc;
	if (d->state == XH_DS_RUNNING) {
		say(a->why, a->whylen, "domain %s is already running", d->name);
		return -EALREADY;
	}
	if (d->state == XH_DS_LOST) {
		/* its host came back and still runs it: the domain is reclaimed,
		 * not restarted (there was never a second copy) */
		h = xh_state_host(a->s, d->owner);
		if (h == NULL || !h->member) {
			say(a->why, a->whylen, "domain %s: host %s is not a member; it "
			    "cannot reclaim the domain", d->name,
			    host_name(a->s, d->owner));
			return -EHOSTDOWN;
		}
		dom_transition(a->s, d, XH_DS_RUNNING, d->owner, a->c->time_ms,
			       "reclaimed after rejoining");
		return 0;
	}
	if (d->state != XH_DS_STARTING)
		return bad_transition(a, d);
	dom_transition(a->s, d, XH_DS_RUNNING, d->owner, a->c->time_ms, NULL);
	return 0;
}

/* The reason a report carries, or a default. */
static const char *report_reason(const struct xh_cmd *c, char *buf, size_t len,
				 const char *dflt, const char *host)
{
	if (field_terminated(c->u.place.reason, sizeof(c->u.place.reason)) &&
	    c->u.place.reason[0] != '\0')
		return c->u.place.reason;
	snprintf(buf, len, "%s on %s", dflt, host);
	return buf;
}

static int do_start_failed(struct apply_ctx *a)
{
	char buf[XH_REASON_MAX];
	struct xh_domain *d;
	int rc;

	rc = lookup_placed(a, &d);
	if (rc < 0)
		return rc;
	if (d->state != XH_DS_STARTING)
		return bad_transition(a, d);
	dom_transition(a->s, d, XH_DS_FAILED, 0, a->c->time_ms,
		       report_reason(a->c, buf, sizeof(buf), "start failed",
				     host_name(a->s, d->owner)));
	return 0;
}

static int do_stopped(struct apply_ctx *a)
{
	struct xh_domain *d;
	int rc;

	rc = lookup_placed(a, &d);
	if (rc < 0)
		return rc;
	/* while MIGRATING only the migration outcome decides (state.h) */
	if (!xh_dom_state_has_owner(d->state) || d->state == XH_DS_MIGRATING)
		return bad_transition(a, d);
	dom_transition(a->s, d, XH_DS_STOPPED, 0, a->c->time_ms,
		       a->c->u.place.reason[0] != '\0' &&
		       field_terminated(a->c->u.place.reason, XH_REASON_MAX) ?
		       a->c->u.place.reason : NULL);
	return 0;
}

/*
 * The domain ended by itself on its owner.  Restart policy table (target
 * STARTED; with target STOPPED nothing is restarted):
 *   policy    crashed  clean shutdown
 *   always    FAILED   FAILED            (restarted; counts as a restart)
 *   on-crash  FAILED   STOPPED, target stopped
 *   never     FAILED, target stopped     STOPPED, target stopped
 * FAILED + target STARTED is what the scheduler restarts.  A crash with no
 * restart still shows FAILED so the operator sees it.
 */
static int do_exited(struct apply_ctx *a)
{
	char buf[XH_REASON_MAX];
	const char *reason;
	struct xh_domain *d;
	bool crashed = a->c->u.place.crashed != 0, restart;
	int rc;

	rc = lookup_placed(a, &d);
	if (rc < 0)
		return rc;
	/* while MIGRATING the target may already run it: an exit on the
	 * source must not make it restartable; the outcome decides */
	if (!xh_dom_state_has_owner(d->state) || d->state == XH_DS_MIGRATING)
		return bad_transition(a, d);
	reason = report_reason(a->c, buf, sizeof(buf),
			       crashed ? "crashed" : "shut down",
			       host_name(a->s, d->owner));
	if (d->state == XH_DS_STOPPING) {
		dom_transition(a->s, d, XH_DS_STOPPED, 0, a->c->time_ms, reason);
		return 0;
	}
	restart = d->target == XH_TARGET_STARTED &&
		  (d->restart == XH_RESTART_ALWAYS ||
		   (d->restart == XH_RESTART_ON_CRASH && crashed));
	if (!restart && d->target == XH_TARGET_STARTED) {
		d->target = XH_TARGET_STOPPED;
		ev_add(a->s, a->c->time_ms, XH_EV_DOMAIN_CHANGED, 0, d->name,
		       "target stopped (restart policy %s)", xh_restart_str(d->restart));
	}
	dom_transition(a->s, d, (restart || crashed) ? XH_DS_FAILED : XH_DS_STOPPED,
		       0, a->c->time_ms, reason);
	return 0;
}

static int do_fence_confirm(struct apply_ctx *a)
{
	struct xh_state *s = a->s;
	const typeof(a->c->u.fence) *f = &a->c->u.fence;
	const char *by = field_terminated(f->by, sizeof(f->by)) && f->by[0] != '\0' ?
			 f->by : "unknown";
	char reason[XH_REASON_MAX];
	struct xh_host *h;
	uint32_t hi, i;

	if (f->nodeid == 0 || !host_find(s, f->nodeid, &hi)) {
		say(a->why, a->whylen, "no such host (node id %" PRIu32 ")", f->nodeid);
		return -ENOENT;
	}
	h = &s->hosts[hi];
	if (h->member) {
		say(a->why, a->whylen, "host %s is a member of the cluster; refusing to "
		    "confirm it fenced", h->name);
		return -EBUSY;
	}
	if (h->fence == XH_FENCE_CONFIRMED) {
		say(a->why, a->whylen, "host %s is already confirmed fenced", h->name);
		return -EALREADY;
	}
	h->fence = XH_FENCE_CONFIRMED;
	h->fence_since_ms = a->c->time_ms;
	ev_add(s, a->c->time_ms, XH_EV_FENCE_CONFIRMED, h->nodeid, NULL,
	       "host %s confirmed by %s", h->name, by);
	snprintf(reason, sizeof(reason), "host %s fenced (%s)", h->name, by);
	for (i = 0; i < s->n_domains; i++) {
		struct xh_domain *d = &s->domains[i];

		const struct xh_host *t;

		if (d->owner != f->nodeid)
			continue;
		/* the source of a migration is gone for good; the target may have
		 * received the domain (a whole COMMIT): unless it is confirmed
		 * fenced too, it becomes the owner, at the generation it would
		 * run the domain with, and must report what it runs */
		t = d->mig_target != 0 && d->mig_target != d->owner ?
		    xh_state_host(s, d->mig_target) : NULL;
		if (d->state == XH_DS_LOST && t != NULL && t->fence != XH_FENCE_CONFIRMED) {
			char r2[XH_REASON_MAX];

			snprintf(r2, sizeof(r2), "host %s fenced during migration; awaiting "
				 "the migration target's report", h->name);
			d->last_owner = d->owner;
			d->generation++;
			dom_transition(s, d, XH_DS_LOST, t->nodeid, a->c->time_ms, r2);
			continue;
		}
		/* a host failure is not the domain's fault: counters unchanged */
		dom_transition(s, d, XH_DS_STOPPED, 0, a->c->time_ms, reason);
	}
	a->scope = CHECK_ALL;
	return 0;
}

/*
 * History only: xenha-fenced says it began fencing a pending host and how
 * (the text in `by`).  Changes no placement; refused unless the host is
 * pending, so a late or repeated begin does not clutter the history.
 */
static int do_fence_begin(struct apply_ctx *a)
{
	struct xh_state *s = a->s;
	const typeof(a->c->u.fence) *f = &a->c->u.fence;
	const char *by = field_terminated(f->by, sizeof(f->by)) && f->by[0] != '\0' ?
			 f->by : "unknown";
	uint32_t hi;

	if (f->nodeid == 0 || !host_find(s, f->nodeid, &hi)) {
		say(a->why, a->whylen, "no such host (node id %" PRIu32 ")", f->nodeid);
		return -ENOENT;
	}
	if (s->hosts[hi].fence != XH_FENCE_PENDING) {
		say(a->why, a->whylen, "host %s is not awaiting fencing", s->hosts[hi].name);
		return -EALREADY;
	}
	ev_add(s, a->c->time_ms, XH_EV_FENCE_STARTED, f->nodeid, NULL,
	       "fencing host %s started by %s", s->hosts[hi].name, by);
	return 0;
}

/* ---- live migration (state.h "Live migration", docs/migration.md) ---- */

/* Is the host named on d's avoided list? */
static bool dom_avoids(const struct xh_domain *d, const struct xh_host *h)
{
	uint8_t i;

	for (i = 0; i < d->n_avoided && i < XH_MAX_PREF; i++)
		if (strcmp(d->avoided[i], h->name) == 0)
			return true;
	return false;
}

/*
 * The fit rules of the scheduler (sched.c rule 2 and 4), for one domain on
 * one host: free memory counts every domain whose memory is on the host
 * (its owner, or the target of its migration), and no other member of the
 * domain's anti-affinity group may be there.  O(domains): MIGRATE_BEGIN
 * is an operator or drain command, not a hot path.
 */
static int host_fits(const struct xh_state *s, const struct xh_domain *d,
		     const struct xh_host *h, char *why, size_t whylen)
{
	int64_t free_mb = (int64_t)h->mem_total_mb - (int64_t)h->mem_reserved_mb;
	uint32_t i;

	for (i = 0; i < s->n_domains; i++) {
		const struct xh_domain *o = &s->domains[i];

		if (o == d || !xh_dom_uses_host(o, h->nodeid))
			continue;
		free_mb -= (int64_t)o->memory_mb + h->dom_overhead_mb;
		if (d->group[0] != '\0' && strcmp(o->group, d->group) == 0) {
			say(why, whylen, "domain %s: host %s already has %s of anti-affinity "
			    "group %s", d->name, h->name, o->name, d->group);
			return -EBUSY;
		}
	}
	if (free_mb - ((int64_t)d->memory_mb + h->dom_overhead_mb) < 0) {
		say(why, whylen, "domain %s: host %s has no room for %" PRIu32 " MiB "
		    "(%" PRId64 " MiB free)", d->name, h->name, d->memory_mb, free_mb);
		return -ENOSPC;
	}
	return 0;
}

static int do_migrate_begin(struct apply_ctx *a)
{
	struct xh_state *s = a->s;
	const typeof(a->c->u.mig) *m = &a->c->u.mig;
	const struct xh_host *src, *tgt;
	struct xh_domain *d;
	int rc;

	if (!s->quorate) {
		say(a->why, a->whylen, "no quorum");
		return -EAGAIN;
	}
	rc = lookup_domain(a, m->name, &d);
	if (rc < 0)
		return rc;
	if (d->state == XH_DS_MIGRATING) {
		say(a->why, a->whylen, "domain %s is already migrating from %s to %s",
		    d->name, host_name(s, d->owner), host_name(s, d->mig_target));
		return -EBUSY;
	}
	if (d->state != XH_DS_RUNNING || d->owner != m->source ||
	    d->generation != m->generation) {
		say(a->why, a->whylen, "domain %s is not running on %s at generation %"
		    PRIu64 " (now %s on %s generation %" PRIu64 ")", d->name,
		    host_name(s, m->source), m->generation, xh_dom_state_str(d->state),
		    host_name(s, d->owner), d->generation);
		return -ESTALE;
	}
	if (d->target != XH_TARGET_STARTED) {
		say(a->why, a->whylen, "domain %s: target is stopped", d->name);
		return -EINVAL;
	}
	if (m->target == m->source) {
		say(a->why, a->whylen, "domain %s: migration target is its source %s",
		    d->name, host_name(s, m->source));
		return -EINVAL;
	}
	src = xh_state_host(s, m->source);
	tgt = xh_state_host(s, m->target);
	if (tgt == NULL) {
		say(a->why, a->whylen, "no such host (node id %" PRIu32 ")", m->target);
		return -ENOENT;
	}
	/* src is the owner of a RUNNING domain: a known host */
	if (src == NULL || !src->member || src->fence != XH_FENCE_NONE) {
		say(a->why, a->whylen, "source host %s is not a member of the cluster",
		    host_name(s, m->source));
		return -EHOSTDOWN;
	}
	if (src->maintenance) {
		say(a->why, a->whylen, "source host %s is in maintenance", src->name);
		return -EBUSY;
	}
	if (!tgt->member || tgt->fence != XH_FENCE_NONE) {
		say(a->why, a->whylen, "host %s is not a member of the cluster", tgt->name);
		return -EHOSTDOWN;
	}
	if (tgt->standby || tgt->maintenance) {
		say(a->why, a->whylen, "host %s is in %s", tgt->name,
		    tgt->maintenance ? "maintenance" : "standby");
		return -EBUSY;
	}
	if (dom_avoids(d, tgt)) {
		say(a->why, a->whylen, "domain %s avoids host %s", d->name, tgt->name);
		return -EINVAL;
	}
	rc = host_fits(s, d, tgt, a->why, a->whylen);
	if (rc < 0)
		return rc;

	d->mig_target = tgt->nodeid;
	d->mig_id = s->seq; /* this command's number: unique, never 0 */
	dom_transition(s, d, XH_DS_MIGRATING, d->owner, a->c->time_ms, NULL);
	a->scope = CHECK_DOMAIN;
	ev_add(s, a->c->time_ms, XH_EV_MIGRATION, tgt->nodeid, d->name,
	       "migration of %s from %s to %s begun (id %" PRIu64 ")", d->name,
	       src->name, tgt->name, d->mig_id);
	return 0;
}

/* The reason a migration report carries, or dflt. */
static const char *mig_reason(const struct xh_cmd *c, const char *dflt)
{
	if (field_terminated(c->u.mig.reason, sizeof(c->u.mig.reason)) &&
	    c->u.mig.reason[0] != '\0')
		return c->u.mig.reason;
	return dflt;
}

static int do_migrate_done(struct apply_ctx *a)
{
	struct xh_state *s = a->s;
	const typeof(a->c->u.mig) *m = &a->c->u.mig;
	char src_name[XH_NAME_MAX];
	struct xh_domain *d;
	uint32_t src;
	int rc;

	rc = lookup_domain(a, m->name, &d);
	if (rc < 0)
		return rc;
	if (a->c->sender != m->target) {
		say(a->why, a->whylen, "migration report for domain %s about %s sent by %s; "
		    "only the target reports a completed migration", d->name,
		    host_name(s, m->target), host_name(s, a->c->sender));
		return -EPERM;
	}
	if ((d->state != XH_DS_MIGRATING && d->state != XH_DS_LOST) ||
	    d->mig_target == 0 || d->mig_target != m->target || d->mig_id != m->mig_id) {
		say(a->why, a->whylen, "stale migration report for domain %s from %s id %"
		    PRIu64 " (now %s on %s, migration id %" PRIu64 ")", d->name,
		    host_name(s, m->target), m->mig_id, xh_dom_state_str(d->state),
		    host_name(s, d->owner), d->mig_id);
		return -ESTALE;
	}
	/* the source: the owner, or (LOST after the source was confirmed
	 * fenced, owner = target already) the host that gave it up */
	src = d->owner != m->target ? d->owner : d->last_owner;
	copy_name(src_name, sizeof(src_name), host_name(s, src));
	/* the target runs the domain at G+1; after the source's fencing the
	 * placement already carries G+1 */
	if (d->owner != m->target)
		d->generation++;
	d->last_owner = m->target;
	dom_transition(s, d, XH_DS_RUNNING, m->target, a->c->time_ms, "migrated");
	a->scope = CHECK_DOMAIN;
	ev_add(s, a->c->time_ms, XH_EV_MIGRATION, m->target, d->name,
	       "%s migrated from %s to %s, downtime %" PRIu32 " ms", d->name, src_name,
	       host_name(s, m->target), m->downtime_ms);
	return 0;
}

static int do_migrate_aborted(struct apply_ctx *a)
{
	struct xh_state *s = a->s;
	const typeof(a->c->u.mig) *m = &a->c->u.mig;
	const char *reason = mig_reason(a->c, "migration aborted");
	char tgt_name[XH_NAME_MAX];
	struct xh_domain *d;
	int rc;

	rc = lookup_domain(a, m->name, &d);
	if (rc < 0)
		return rc;
	if (a->c->sender != m->source) {
		say(a->why, a->whylen, "migration report for domain %s about %s sent by %s; "
		    "only the source reports an aborted migration", d->name,
		    host_name(s, m->source), host_name(s, a->c->sender));
		return -EPERM;
	}
	if (d->state != XH_DS_MIGRATING || d->owner != m->source || d->mig_id != m->mig_id) {
		say(a->why, a->whylen, "stale migration report for domain %s from %s id %"
		    PRIu64 " (now %s on %s, migration id %" PRIu64 ")", d->name,
		    host_name(s, m->source), m->mig_id, xh_dom_state_str(d->state),
		    host_name(s, d->owner), d->mig_id);
		return -ESTALE;
	}
	copy_name(tgt_name, sizeof(tgt_name), host_name(s, d->mig_target));
	dom_transition(s, d, XH_DS_RUNNING, d->owner, a->c->time_ms, reason);
	a->scope = CHECK_DOMAIN;
	ev_add(s, a->c->time_ms, XH_EV_MIGRATION, m->source, d->name,
	       "migration of %s from %s to %s aborted: %s", d->name,
	       host_name(s, m->source), tgt_name, reason);
	return 0;
}

/*
 * DISARM: the scheduler does nothing until the time (state.h).  Accepted
 * without quorum: it only ever holds actions back.
 */
static int do_disarm(struct apply_ctx *a)
{
	struct xh_state *s = a->s;
	uint64_t until = a->c->u.disarm.until_ms;

	if (until != 0 && until <= a->c->time_ms) {
		say(a->why, a->whylen, "disarm until %" PRIu64 " is not in the future "
		    "(now %" PRIu64 "); use 0 to re-arm", until, a->c->time_ms);
		return -EINVAL;
	}
	s->disarmed_until_ms = until;
	if (until == 0)
		ev_add(s, a->c->time_ms, XH_EV_DISARM, a->c->sender, NULL,
		       "HA actions re-armed by %s", host_name(s, a->c->sender));
	else
		ev_add(s, a->c->time_ms, XH_EV_DISARM, a->c->sender, NULL,
		       "HA actions disarmed by %s for %" PRIu64 " s", host_name(s, a->c->sender),
		       (until - a->c->time_ms + 999) / 1000);
	return 0;
}

static int do_host_flags(struct apply_ctx *a)
{
	const typeof(a->c->u.flags) *f = &a->c->u.flags;
	struct xh_host *h;
	uint32_t hi;

	if (f->nodeid == 0 || !host_find(a->s, f->nodeid, &hi)) {
		say(a->why, a->whylen, "no such host (node id %" PRIu32 ")", f->nodeid);
		return -ENOENT;
	}
	if (f->standby > 1 || f->maintenance > 1) {
		say(a->why, a->whylen, "host flags must be 0 or 1");
		return -EINVAL;
	}
	h = &a->s->hosts[hi];
	h->standby = f->standby;
	h->maintenance = f->maintenance;
	ev_add(a->s, a->c->time_ms, XH_EV_HOST_FLAGS, h->nodeid, NULL,
	       "host %s standby=%s maintenance=%s", h->name,
	       h->standby ? "on" : "off", h->maintenance ? "on" : "off");
	a->scope = CHECK_HOSTS;
	return 0;
}

int xh_state_apply(struct xh_state *s, const struct xh_cmd *c,
		   struct xh_apply_result *res)
{
	char why[XH_REASON_MAX] = "";
	char bad[XH_REASON_MAX] = "";
	struct apply_ctx a = {
		.s = s, .c = c, .why = why, .whylen = sizeof(why),
		.scope = CHECK_BASIC, .dom = 0,
	};
	int rc;

	/* delivered means counted, applied or not: every node agrees on seq */
	if (s->quorate)
		s->qseq++;
	s->seq++;

	switch (c->type) {
	case XH_CMD_HELLO: rc = do_hello(&a); break;
	case XH_CMD_MEMBERSHIP: rc = do_membership(&a); break;
	case XH_CMD_DOMAIN_ADD: rc = do_domain_add(&a); break;
	case XH_CMD_DOMAIN_REMOVE: rc = do_domain_remove(&a); break;
	case XH_CMD_DOMAIN_SET: rc = do_domain_set(&a); break;
	case XH_CMD_DOMAIN_START: rc = do_domain_start(&a); break;
	case XH_CMD_DOMAIN_STOP: rc = do_domain_stop(&a); break;
	case XH_CMD_PLACE: rc = do_place(&a); break;
	case XH_CMD_STOP: rc = do_stop(&a); break;
	case XH_CMD_STARTED: rc = do_started(&a); break;
	case XH_CMD_START_FAILED: rc = do_start_failed(&a); break;
	case XH_CMD_STOPPED: rc = do_stopped(&a); break;
	case XH_CMD_EXITED: rc = do_exited(&a); break;
	case XH_CMD_FENCE_CONFIRM: rc = do_fence_confirm(&a); break;
	case XH_CMD_HOST_FLAGS: rc = do_host_flags(&a); break;
	case XH_CMD_FENCE_BEGIN: rc = do_fence_begin(&a); break;
	case XH_CMD_MIGRATE_BEGIN: rc = do_migrate_begin(&a); break;
	case XH_CMD_MIGRATE_DONE: rc = do_migrate_done(&a); break;
	case XH_CMD_MIGRATE_ABORTED: rc = do_migrate_aborted(&a); break;
	case XH_CMD_DISARM: rc = do_disarm(&a); break;
	default:
		say(why, sizeof(why), "unknown command type %u", c->type);
		rc = -EINVAL;
		break;
	}
	if (rc < 0)
		a.scope = CHECK_BASIC; /* nothing but the counters changed */
	else
		why[0] = '\0';

	/* always-on assertion, release builds included: a state that breaks an
	 * invariant must never be acted upon or replicated */
	if (check_scoped(s, a.scope, a.dom, bad, sizeof(bad)) < 0)
		abort();

	if (res != NULL) {
		res->rc = rc;
		copy_name(res->reason, sizeof(res->reason), why);
	}
	return rc;
}
