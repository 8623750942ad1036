/*
 * The "xen" hypervisor driver: real Xen guests through libxenlight
 * (create, shutdown, destroy, live migration), libxenctrl (cheap state
 * reads), libxenstore (the @releaseDomain watch and our marker) and
 * libxlutil (xl.cfg parsing).  See docs/xen.md.
 *
 * xl.cfg parsing is in hv_xen_cfg.c.
 *
 * Which domains are ours: every domain this driver creates carries a marker
 * in xenstore, written by libxl in the same transaction that creates the
 * domain (libxl_domain_create_info.xsdata, under /local/domain/DOMID):
 *   xenha/generation   placement generation it was started with
 *   xenha/memory_mb    memory it was started with
 *   xenha/incarnation  "NODEID-GENERATION-UUID"
 * The nodes inherit the domain directory's permissions: the guest reads
 * them but cannot write them.  list() and open() adopt every domain that
 * has a marker, so a restarted daemon finds its domains again.
 *
 * Identity: a table entry is (domid, Xen handle = the uuid we generated).
 * A domid that reappears with another handle is another domain (domid
 * reuse): the old entry has ended and is reported once.
 *
 * Events: a watch on @releaseDomain makes the xenstore fd readable when any
 * domain dies or shuts down; dispatch() drains the watch events (a failed
 * read is logged and changes nothing: the re-scan runs anyway) and
 * re-scans with xc_domain_getinfolist.  An entry is reported once and
 * removed: gone, dying or shut down (reason from the shutdown code); a
 * domain shut down for suspend (migration, save) is not an end.  Xen does
 * not clean up a shut-down domain by itself (xl's per-domain daemon does
 * that; xenha has none): the re-scan destroys the remains.
 *
 * Threading (include/xenha/hv.h): h->mu guards the table.  Main-loop ops
 * hold it for their whole run; the migration ops hold it only to look up
 * and update entries, never while libxl streams or while they wait for the
 * peer; dispatch() releases it around the end callback.  libxl contexts
 * are thread safe.  libxl forks hotplug scripts and device models and
 * reaps them in its own SIGCHLD handler (libxl_sigchld_owner_libxl),
 * which waits for its own children only.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <libxl.h>
#include <libxl_utils.h>
#include <xenctrl.h>
#include <xenstore.h>
#include <qb/qblog.h>
#include <zlib.h>

#include "xenha/config.h"
#include "xenha/hv.h"
#include "xenha/hv_xen.h"
#include "hv_xen_cfg.h"

#define XEN_SCAN_MAX        1024     /* domains read per scan */
#define XEN_WATCH_TOKEN     "xenha-release"
#define XEN_STEP_MS         100      /* state re-read interval while an op waits */
#define XEN_DESTROY_WAIT_MS 10000u
#define XEN_DETAIL_MAX      160
#define XEN_MIG_TIMEOUT_MS  600000u
#define XEN_KIB_PER_PAGE    4u

struct xen_dom {
	struct xen_dom *next;
	char name[XH_NAME_MAX];
	uint32_t domid;
	uint8_t uuid[16];
	uint64_t generation;
	uint32_t memory_mb;
	bool incoming;     /* migrate_recv: created paused, not committed yet */
	bool starting;     /* start: being created, not running yet */
	bool stopping;     /* we shut it down or destroyed it */
	bool migrating;    /* migrate_send in progress */
	bool migrated;     /* migrated away: its end is HV_END_STOPPED */
	bool in_doubt;     /* in-doubt migration: suspended until resume/destroy */
	uint64_t suspended_ms; /* migrating: when a scan first saw it suspended (0: not yet) */
};

struct xen_logger {
	xentoollog_logger vtable;   /* first: libxl and libxc see only this */
};

struct hv {
	struct xen_logger lg;
	libxl_ctx *ctx;
	xc_interface *xc;
	struct xs_handle *xs;
	hv_end_cb cb;
	void *cb_arg;
	uint32_t start_timeout_ms;
	struct xen_dom *doms;
	pthread_mutex_t mu;          /* guards doms and the entries */
	uint64_t watch_errors;       /* main loop only */
	uint64_t watch_err_logged_ms;
};

/* ---- small helpers ---- */

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(uint32_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- logging: libxl's and libxc's messages go to qb_log ---- */

static int xenlog_prio(xentoollog_level level)
{
	switch (level) {
	case XTL_CRITICAL: return LOG_CRIT;
	case XTL_ERROR:    return LOG_ERR;
	case XTL_WARN:     return LOG_WARNING;
	case XTL_NOTICE:   return LOG_NOTICE;
	case XTL_INFO:
	case XTL_PROGRESS: return LOG_INFO;
	default:           return LOG_DEBUG;
	}
}

static void __attribute__((format(printf, 5, 0)))
xenlog_vmessage(xentoollog_logger *lg, xentoollog_level level, int errnoval,
	     const char *context, const char *format, va_list al)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), format, al);
	if (errnoval >= 0)
		qb_log(xenlog_prio(level), "xen %s: %s: %s", context ? context : "libxl", msg,
		       strerror(errnoval));
	else
		qb_log(xenlog_prio(level), "xen %s: %s", context ? context : "libxl", msg);
}

static void xenlog_progress(xentoollog_logger *lg, const char *context, const char *doing_what,
			 int percent, unsigned long done, unsigned long total)
{
	qb_log(LOG_DEBUG, "xen %s: %s %d%% (%lu/%lu)", context ? context : "libxl",
	       doing_what ? doing_what : "", percent, done, total);
}

static void xenlog_destroy(xentoollog_logger *lg)
{
	/* embedded in struct hv: nothing to free */
}

/* ---- domain state ---- */

static bool info_is(const xc_domaininfo_t *i, const struct xen_dom *d)
{
	return i->domain == d->domid && memcmp(i->handle, d->uuid, sizeof(d->uuid)) == 0;
}

/* The domain's current info: 0, or -ENOENT when it is gone (or its domid
 * now belongs to another domain), -EIO when Xen cannot be asked. */
static int dom_info(struct hv *h, const struct xen_dom *d, xc_domaininfo_t *out)
{
	int n = xc_domain_getinfolist(h->xc, d->domid, 1, out);

	if (n < 0)
		return -EIO;
	if (n == 0 || !info_is(out, d))
		return -ENOENT;
	return 0;
}

static unsigned int shutdown_code(const xc_domaininfo_t *i)
{
	return (i->flags >> XEN_DOMINF_shutdownshift) & XEN_DOMINF_shutdownmask;
}

static const char *shutdown_str(unsigned int code)
{
	switch (code) {
	case SHUTDOWN_poweroff: return "poweroff";
	case SHUTDOWN_reboot:   return "reboot";
	case SHUTDOWN_suspend:  return "suspend";
	case SHUTDOWN_crash:    return "crash";
	case SHUTDOWN_watchdog: return "watchdog";
	default:                return "other";
	}
}

/* Ended (or ending) as far as xenha is concerned: dying, or shut down for
 * another reason than suspend. */
static bool info_ended(const xc_domaininfo_t *i)
{
	if (i->flags & XEN_DOMINF_dying)
		return true;
	return (i->flags & XEN_DOMINF_shutdown) && shutdown_code(i) != SHUTDOWN_suspend;
}

static bool info_running(const xc_domaininfo_t *i)
{
	return !(i->flags & (XEN_DOMINF_dying | XEN_DOMINF_shutdown | XEN_DOMINF_paused));
}

static struct xen_dom *dom_find(struct hv *h, const char *name)
{
	for (struct xen_dom *d = h->doms; d; d = d->next)
		if (strcmp(d->name, name) == 0 && !d->migrated)
			return d;
	return NULL;
}

static void dom_unlink(struct hv *h, struct xen_dom *d)
{
	for (struct xen_dom **pp = &h->doms; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			return;
		}
}

/* Destroy a domain and wait until Xen no longer lists it (or it is dying
 * with nothing left for us to do).  0, -EIO. */
static int dom_destroy_wait(struct hv *h, const struct xen_dom *d)
{
	xc_domaininfo_t info;
	uint64_t end = mono_ms() + XEN_DESTROY_WAIT_MS;
	int rc = libxl_domain_destroy(h->ctx, d->domid, NULL);

	if (rc != 0 && dom_info(h, d, &info) == 0 && !(info.flags & XEN_DOMINF_dying)) {
		qb_log(LOG_ERR, "xen domain %s: destroy failed domid=%" PRIu32 " rc=%d", d->name, d->domid, rc);
		return -EIO;
	}
	while (dom_info(h, d, &info) == 0 && !(info.flags & XEN_DOMINF_dying)) {
		if (mono_ms() >= end) {
			qb_log(LOG_ERR, "xen domain %s: still there after destroy domid=%" PRIu32,
			       d->name, d->domid);
			return -EIO;
		}
		sleep_ms(XEN_STEP_MS);
	}
	return 0;
}

static int xs_read_u64(struct hv *h, uint32_t domid, const char *key, uint64_t *out)
{
	char path[96], *v, *end;
	unsigned int len = 0;
	int rc = 0;

	snprintf(path, sizeof(path), "/local/domain/%" PRIu32 "/%s", domid, key);
	v = xs_read(h->xs, XBT_NULL, path, &len);
	if (v == NULL)
		return -ENOENT;
	errno = 0;
	*out = strtoull(v, &end, 10);
	if (len == 0 || errno != 0 || *end != '\0')
		rc = -EINVAL;
	free(v);
	return rc;
}

/* Add an entry for every marked domain Xen runs that the table lacks
 * (after a daemon restart).  Dying and ended ones are left alone: their end
 * happened while nobody watched. */
static int dom_adopt_all(struct hv *h)
{
	xc_domaininfo_t *infos = calloc(XEN_SCAN_MAX, sizeof(*infos));
	int n;

	if (infos == NULL)
		return -ENOMEM;
	n = xc_domain_getinfolist(h->xc, 1, XEN_SCAN_MAX, infos);
	if (n < 0) {
		free(infos);
		return -EIO;
	}
	for (int i = 0; i < n; i++) {
		struct xen_dom *d;
		uint64_t gen, mem = 0;
		char path[64], *name;
		unsigned int len = 0;
		bool known = false;

		if (info_ended(&infos[i]))
			continue;
		for (d = h->doms; d; d = d->next)
			if (info_is(&infos[i], d))
				known = true;
		if (known || xs_read_u64(h, infos[i].domain, "xenha/generation", &gen) < 0)
			continue;
		(void)xs_read_u64(h, infos[i].domain, "xenha/memory_mb", &mem);
		snprintf(path, sizeof(path), "/local/domain/%u/name", (unsigned)infos[i].domain);
		name = xs_read(h->xs, XBT_NULL, path, &len);
		if (name == NULL || !hv_name_ok(name) || dom_find(h, name) != NULL) {
			free(name);
			continue;
		}
		d = calloc(1, sizeof(*d));
		if (d == NULL) {
			free(name);
			free(infos);
			return -ENOMEM;
		}
		snprintf(d->name, sizeof(d->name), "%s", name);
		free(name);
		d->domid = infos[i].domain;
		memcpy(d->uuid, infos[i].handle, sizeof(d->uuid));
		d->generation = gen;
		d->memory_mb = mem > UINT32_MAX ? UINT32_MAX : (uint32_t)mem;
		/* suspended by an earlier daemon's migration: in doubt */
		d->in_doubt = (infos[i].flags & XEN_DOMINF_shutdown) != 0;
		d->next = h->doms;
		h->doms = d;
		qb_log(LOG_INFO, "xen domain %s: adopted domid=%" PRIu32 " gen=%" PRIu64 "%s", d->name,
		       d->domid, d->generation, d->in_doubt ? " (suspended: in doubt)" : "");
	}
	free(infos);
	return 0;
}

/* ---- ops ---- */

static void xen_close(struct hv *h);

static int xen_open(const struct xh_config *cfg, hv_end_cb cb, void *cb_arg, struct hv **out)
{
	struct hv *h;
	int rc;

	*out = NULL;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	pthread_mutex_init(&h->mu, NULL);
	h->lg.vtable.vmessage = xenlog_vmessage;
	h->lg.vtable.progress = xenlog_progress;
	h->lg.vtable.destroy = xenlog_destroy;
	h->cb = cb;
	h->cb_arg = cb_arg;
	h->start_timeout_ms = cfg && cfg->start_timeout_ms ? cfg->start_timeout_ms : 30000u;

	rc = libxl_ctx_alloc(&h->ctx, LIBXL_VERSION, 0, &h->lg.vtable);
	if (rc != 0 || h->ctx == NULL) {
		qb_log(LOG_ERR, "xen: cannot open libxl rc=%d (is this a Xen dom0?)", rc);
		h->ctx = NULL;
		rc = -ENODEV;
		goto fail;
	}
	h->xc = xc_interface_open(&h->lg.vtable, &h->lg.vtable, 0);
	if (h->xc == NULL) {
		rc = errno ? -errno : -ENODEV;
		qb_log(LOG_ERR, "xen: cannot open libxenctrl: %s", strerror(-rc));
		goto fail;
	}
	h->xs = xs_open(0);
	if (h->xs == NULL) {
		rc = errno ? -errno : -ENODEV;
		qb_log(LOG_ERR, "xen: cannot open xenstore: %s", strerror(-rc));
		goto fail;
	}
	if (!xs_watch(h->xs, "@releaseDomain", XEN_WATCH_TOKEN)) {
		rc = errno ? -errno : -EIO;
		qb_log(LOG_ERR, "xen: cannot watch @releaseDomain: %s", strerror(-rc));
		goto fail;
	}
	rc = dom_adopt_all(h);
	if (rc < 0) {
		qb_log(LOG_ERR, "xen: cannot list domains: %s", strerror(-rc));
		goto fail;
	}
	*out = h;
	return 0;
fail:
	xen_close(h);
	return rc;
}

/* Domains keep running: they outlive the daemon and are adopted again. */
static void xen_close(struct hv *h)
{
	if (h == NULL)
		return;
	while (h->doms) {
		struct xen_dom *d = h->doms;
		h->doms = d->next;
		free(d);
	}
	if (h->xs) {
		xs_unwatch(h->xs, "@releaseDomain", XEN_WATCH_TOKEN);
		xs_close(h->xs);
	}
	if (h->xc)
		xc_interface_close(h->xc);
	if (h->ctx)
		libxl_ctx_free(h->ctx);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

static int xen_get_fd(struct hv *h)
{
	return xs_fileno(h->xs);
}

static int xen_host_memory(struct hv *h, uint64_t *total_mb)
{
	libxl_physinfo pi;
	int rc;

	libxl_physinfo_init(&pi);
	rc = libxl_get_physinfo(h->ctx, &pi);
	if (rc == 0)
		*total_mb = pi.total_pages * XEN_KIB_PER_PAGE / 1024u;
	libxl_physinfo_dispose(&pi);
	return rc == 0 ? 0 : -EIO;
}

struct xen_end {
	struct xen_end *next;
	char name[XH_NAME_MAX];
	uint64_t generation;
	int reason;
	char detail[XEN_DETAIL_MAX];
};

/* Entry d's info in a scan's list, or NULL: gone, or its domid reused by
 * another domain. */
static const xc_domaininfo_t *info_find(const xc_domaininfo_t *infos, int n,
					const struct xen_dom *d)
{
	for (int k = 0; k < n; k++)
		if (infos[k].domain == d->domid)
			return info_is(&infos[k], d) ? &infos[k] : NULL;
	return NULL;
}

/* Has entry d ended?  Fills e (reason, detail) when it has.  Destroys the
 * remains of a domain that shut down. */
static bool dom_check_end(struct hv *h, struct xen_dom *d, const xc_domaininfo_t *infos, int n,
			  struct xen_end *e)
{
	const xc_domaininfo_t *i = info_find(infos, n, d);
	const char *how;

	if (i != NULL && !info_ended(i))
		return false;

	if (d->migrated) {
		e->reason = HV_END_STOPPED;
		how = "migrated away";
	} else if (d->stopping) {
		e->reason = HV_END_STOPPED;
		how = "stopped by host";
	} else if (i == NULL || (i->flags & XEN_DOMINF_dying)) {
		e->reason = HV_END_CRASH;
		how = "domain vanished (destroyed outside xenha)";
	} else {
		unsigned int code = shutdown_code(i);

		e->reason = code == SHUTDOWN_poweroff ? HV_END_SHUTDOWN : HV_END_CRASH;
		how = "guest shut down";
	}
	if (i != NULL && (i->flags & XEN_DOMINF_shutdown))
		snprintf(e->detail, sizeof(e->detail), "%s: domid=%" PRIu32 " reason=%s", how,
			 d->domid, shutdown_str(shutdown_code(i)));
	else
		snprintf(e->detail, sizeof(e->detail), "%s: domid=%" PRIu32, how, d->domid);
	if (i != NULL && !(i->flags & XEN_DOMINF_dying) && dom_destroy_wait(h, d) < 0)
		snprintf(e->detail + strlen(e->detail), sizeof(e->detail) - strlen(e->detail),
			 ", cleanup destroy failed");
	snprintf(e->name, sizeof(e->name), "%s", d->name);
	e->generation = d->generation;
	return true;
}

/* A migrating source: libxl suspends the guest inside libxl_domain_suspend,
 * at the end of the live phase, and only returns after the last pages and
 * its own records went out; the guest's downtime starts at the suspend.
 * xenstored fires @releaseDomain when a domain suspends, so a scan sees it
 * then (at the latest at the safety re-scan). */
static void dom_note_suspend(struct xen_dom *d, const xc_domaininfo_t *infos, int n)
{
	const xc_domaininfo_t *i = info_find(infos, n, d);

	if (i != NULL && (i->flags & XEN_DOMINF_shutdown) && shutdown_code(i) == SHUTDOWN_suspend)
		d->suspended_ms = mono_ms();
}

/* Every ended entry, unlinked, in a list for reporting. */
static int xen_scan_locked(struct hv *h, struct xen_end **ends)
{
	xc_domaininfo_t *infos = calloc(XEN_SCAN_MAX, sizeof(*infos));
	struct xen_dom **pp;
	int n;

	*ends = NULL;
	if (infos == NULL)
		return -ENOMEM;
	n = xc_domain_getinfolist(h->xc, 1, XEN_SCAN_MAX, infos);
	if (n < 0) {
		qb_log(LOG_ERR, "xen: cannot list domains errno=%d", errno);
		free(infos);
		return -EIO;
	}
	pp = &h->doms;
	while (*pp) {
		struct xen_dom *d = *pp;
		struct xen_end *e;

		/* not ours to judge while a migration owns them: an incoming
		 * copy ends through migrate_recv; a migrating source is
		 * suspended, not ended - when, is its downtime's start */
		if (d->migrating && d->suspended_ms == 0)
			dom_note_suspend(d, infos, n);
		if (d->incoming || d->starting || d->migrating) {
			pp = &d->next;
			continue;
		}
		e = calloc(1, sizeof(*e));
		if (e == NULL)
			break;
		if (!dom_check_end(h, d, infos, n, e)) {
			free(e);
			pp = &d->next;
			continue;
		}
		*pp = d->next;
		free(d);
		e->next = *ends;
		*ends = e;
	}
	free(infos);
	return 0;
}

/* The end callback may start, stop, destroy or list domains, but must not
 * close the driver instance it is called from. */
static int xen_dispatch(struct hv *h)
{
	struct xen_end *ends;
	char **w;
	int rc;

	/* drain the watch events: their content does not matter, the scan
	 * below looks at every domain */
	while ((w = xs_check_watch(h->xs)) != NULL)
		free(w);
	if (errno != EAGAIN) {
		/* a broken xenstore connection may leave the fd readable: then
		 * every loop turn lands here; say so at most every 10 s */
		int err = errno;
		uint64_t now = mono_ms();

		h->watch_errors++;
		if (h->watch_err_logged_ms == 0 || now - h->watch_err_logged_ms >= 10000u) {
			qb_log(LOG_WARNING, "xen: xenstore watch read failed: %s errors=%" PRIu64
			       " (re-scanning all domains)", strerror(err), h->watch_errors);
			h->watch_err_logged_ms = now;
		}
	}

	pthread_mutex_lock(&h->mu);
	rc = xen_scan_locked(h, &ends);
	pthread_mutex_unlock(&h->mu);
	while (ends) {
		struct xen_end *e = ends;

		ends = e->next;
		qb_log(e->reason == HV_END_CRASH ? LOG_WARNING : LOG_INFO,
		       "xen domain %s: ended gen=%" PRIu64 " reason=%s %s", e->name, e->generation,
		       e->reason == HV_END_CRASH ? "crash" : e->reason == HV_END_SHUTDOWN ? "shutdown" : "stopped",
		       e->detail);
		if (h->cb != NULL)
			h->cb(h->cb_arg, e->name, e->generation, e->reason, e->detail);
		free(e);
	}
	return rc;
}

/* Is a domain of that name running (ours or not)? */
static bool name_taken(struct hv *h, const char *name)
{
	struct xen_dom *d = dom_find(h, name);
	xc_domaininfo_t info;
	uint32_t domid;

	if (d != NULL && (d->incoming || d->starting || dom_info(h, d, &info) == 0))
		return true;
	return libxl_name_to_domid(h->ctx, name, &domid) == 0;
}

static struct xen_dom *dom_new(const struct hv_start_req *req, uint32_t domid,
			       const libxl_domain_config *dc)
{
	struct xen_dom *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	snprintf(d->name, sizeof(d->name), "%s", req->name);
	d->domid = domid;
	memcpy(d->uuid, libxl_uuid_bytearray_const(&dc->c_info.uuid), sizeof(d->uuid));
	d->generation = req->generation;
	d->memory_mb = (uint32_t)(dc->b_info.target_memkb / 1024u);
	return d;
}

/* Destroy what a failed create or restore may have left: only if domid
 * still names the domain we tried to make (uuid), never a domain that got
 * the domid after libxl cleaned up by itself. */
static void create_cleanup(struct hv *h, const char *name, uint32_t domid, const uint8_t *uuid)
{
	struct xen_dom probe = { .domid = domid };
	xc_domaininfo_t info;

	if (domid == (uint32_t)INVALID_DOMID || domid == 0)
		return;
	memcpy(probe.uuid, uuid, sizeof(probe.uuid));
	if (dom_info(h, &probe, &info) < 0)
		return;
	if (libxl_domain_destroy(h->ctx, domid, NULL) != 0)
		qb_log(LOG_ERR, "xen domain %s: cannot destroy the failed domain domid=%" PRIu32,
		       name, domid);
}

/* Wait until the new domain runs (or has ended: an error). */
static int wait_running(struct hv *h, const struct xen_dom *d, uint32_t timeout_ms)
{
	uint64_t end = mono_ms() + timeout_ms;
	xc_domaininfo_t info;

	for (;;) {
		int rc = dom_info(h, d, &info);

		if (rc < 0)
			return rc;
		if (info_ended(&info))
			return -ECHILD;
		if (info_running(&info))
			return 0;
		if (mono_ms() >= end)
			return -ETIMEDOUT;
		sleep_ms(XEN_STEP_MS);
	}
}

/*
 * Build dc from the request's xl.cfg and reserve the name with an entry
 * flagged starting (start) or incoming (migrate_recv): name_taken() then
 * refuses a second one, and the scan, list() and the stop ops pass it by.
 * 0, or -EINVAL (the xl.cfg, logged), -ENOMEM, -EEXIST.
 */
static int dom_reserve(struct hv *h, const struct hv_start_req *req, libxl_domain_config *dc,
		       bool incoming, struct xen_dom **out)
{
	char err[HV_XEN_ERR_MAX];
	struct xen_dom *d;
	int rc;

	rc = hv_xen_cfg_build(req->name, req->xlcfg, req->memory_mb, req->generation, req->nodeid, dc,
			      err, sizeof(err));
	if (rc < 0) {
		qb_log(LOG_ERR, "xen domain %s: refused%s: %s", req->name,
		       incoming ? " incoming migration" : "", err);
		return rc;
	}
	d = dom_new(req, (uint32_t)INVALID_DOMID, dc);
	if (d == NULL)
		return -ENOMEM;
	d->incoming = incoming;
	d->starting = !incoming;
	pthread_mutex_lock(&h->mu);
	if (name_taken(h, req->name)) {
		pthread_mutex_unlock(&h->mu);
		free(d);
		return -EEXIST;
	}
	d->next = h->doms;
	h->doms = d;
	pthread_mutex_unlock(&h->mu);
	*out = d;
	return 0;
}

/*
 * Called from a worker thread (include/xenha/hv.h): the lock is held only
 * to reserve the name and to publish the entry, never over libxl's create
 * or the wait for the guest to run, so list() and dispatch() in the main
 * loop go on meanwhile.  The "starting" entry keeps the name (name_taken)
 * and keeps the scan, list() and the stop ops away from it.
 */
static int xen_start(struct hv *h, const struct hv_start_req *req)
{
	libxl_domain_config dc;
	uint32_t domid = (uint32_t)INVALID_DOMID;
	struct xen_dom *d = NULL;
	int rc;

	if (req == NULL || !hv_name_ok(req->name))
		return -EINVAL;
	libxl_domain_config_init(&dc);
	rc = dom_reserve(h, req, &dc, false, &d);
	if (rc < 0)
		goto out;

	rc = libxl_domain_create_new(h->ctx, &dc, &domid, NULL, NULL);
	if (rc != 0) {
		qb_log(LOG_ERR, "xen domain %s: create failed rc=%d", req->name, rc);
		rc = -EIO;
		goto drop;
	}
	pthread_mutex_lock(&h->mu);
	d->domid = domid;
	d->memory_mb = (uint32_t)(dc.b_info.target_memkb / 1024u);
	pthread_mutex_unlock(&h->mu);
	rc = libxl_domain_unpause(h->ctx, domid, NULL);
	if (rc != 0) {
		qb_log(LOG_ERR, "xen domain %s: unpause failed domid=%" PRIu32 " rc=%d", req->name, domid, rc);
		rc = -EIO;
		goto drop;
	}
	rc = wait_running(h, d, h->start_timeout_ms);
	if (rc < 0) {
		qb_log(LOG_ERR, "xen domain %s: did not start domid=%" PRIu32 ": %s", req->name,
		       domid, rc == -ECHILD ? "ended at once" : strerror(-rc));
		goto drop;
	}
	pthread_mutex_lock(&h->mu);
	d->starting = false;
	pthread_mutex_unlock(&h->mu);
	qb_log(LOG_INFO, "xen domain %s: running domid=%" PRIu32 " gen=%" PRIu64, req->name, domid,
	       req->generation);
	goto out;
drop:
	create_cleanup(h, req->name, domid, libxl_uuid_bytearray_const(&dc.c_info.uuid));
	pthread_mutex_lock(&h->mu);
	dom_unlink(h, d);
	pthread_mutex_unlock(&h->mu);
	free(d);
out:
	libxl_domain_config_dispose(&dc);
	return rc;
}

/* A live entry that main-loop ops may stop.  -ENOENT, -EBUSY (migrating). */
static int dom_for_stop(struct hv *h, const char *name, struct xen_dom **out)
{
	struct xen_dom *d = name ? dom_find(h, name) : NULL;
	xc_domaininfo_t info;

	if (d == NULL || d->incoming || d->starting || dom_info(h, d, &info) < 0)
		return -ENOENT;
	if (d->migrating)
		return -EBUSY;
	*out = d;
	return 0;
}

static int xen_destroy_locked(struct hv *h, const char *name)
{
	struct xen_dom *d;
	int rc = dom_for_stop(h, name, &d);

	if (rc < 0)
		return rc;
	d->stopping = true;
	d->in_doubt = false;
	rc = dom_destroy_wait(h, d);
	if (rc == 0)
		qb_log(LOG_INFO, "xen domain %s: destroyed domid=%" PRIu32, d->name, d->domid);
	return rc;
}

/*
 * Called from a worker thread: the lock is held to find the entry and to
 * mark it stopping, not over the wait.  The entry may go meanwhile
 * (dispatch reports the end and frees it): the wait and the destroy go by
 * a copy of its domid and uuid, which name that domain and no other.
 */
static int xen_shutdown(struct hv *h, const char *name, uint32_t timeout_ms)
{
	struct xen_dom *d, probe;
	xc_domaininfo_t info;
	uint64_t end;
	int rc;

	pthread_mutex_lock(&h->mu);
	rc = dom_for_stop(h, name, &d);
	if (rc == 0 && d->in_doubt) {
		/* suspended: it cannot hear a shutdown request */
		rc = xen_destroy_locked(h, name);
		pthread_mutex_unlock(&h->mu);
		return rc;
	}
	if (rc == 0) {
		d->stopping = true;
		probe = *d;
		probe.next = NULL;
	}
	pthread_mutex_unlock(&h->mu);
	if (rc < 0)
		return rc;

	rc = libxl_domain_shutdown(h->ctx, probe.domid, NULL);
	if (rc != 0) {
		if (dom_info(h, &probe, &info) < 0)
			return 0;
		qb_log(LOG_WARNING, "xen domain %s: shutdown request failed rc=%d (no PV drivers?), destroying",
		       probe.name, rc);
	} else {
		end = mono_ms() + timeout_ms;
		while (dom_info(h, &probe, &info) == 0 && !info_ended(&info)) {
			if (mono_ms() >= end) {
				qb_log(LOG_WARNING, "xen domain %s: no shutdown within timeout_ms=%" PRIu32
				       ", destroying", probe.name, timeout_ms);
				break;
			}
			sleep_ms(XEN_STEP_MS);
		}
	}
	/* shut down (the remains) or still running: destroy either way */
	rc = dom_info(h, &probe, &info) < 0 ? 0 : dom_destroy_wait(h, &probe);
	if (rc == 0)
		qb_log(LOG_INFO, "xen domain %s: stopped domid=%" PRIu32, probe.name, probe.domid);
	return rc;
}

static int xen_destroy(struct hv *h, const char *name)
{
	int rc;

	pthread_mutex_lock(&h->mu);
	rc = xen_destroy_locked(h, name);
	pthread_mutex_unlock(&h->mu);
	return rc;
}

static int xen_list_locked(struct hv *h, struct hv_domain_info **out, uint32_t *n)
{
	struct hv_domain_info *arr;
	uint32_t cap = 0, k = 0;
	int rc = dom_adopt_all(h);

	if (rc < 0)
		return rc;
	for (struct xen_dom *d = h->doms; d; d = d->next)
		cap++;
	arr = calloc(cap ? cap : 1, sizeof(*arr));
	if (arr == NULL)
		return -ENOMEM;
	for (struct xen_dom *d = h->doms; d; d = d->next) {
		xc_domaininfo_t info;

		if (d->incoming || d->starting || d->migrated || dom_info(h, d, &info) < 0 ||
		    info_ended(&info))
			continue;
		snprintf(arr[k].name, sizeof(arr[k].name), "%s", d->name);
		arr[k].generation = d->generation;
		arr[k].running = info_running(&info);
		arr[k].memory_mb = d->memory_mb;
		arr[k].pid = 0;
		arr[k].domid = d->domid;
		k++;
	}
	*out = arr;
	*n = k;
	return 0;
}

static int xen_list(struct hv *h, struct hv_domain_info **out, uint32_t *n)
{
	int rc;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&h->mu);
	rc = xen_list_locked(h, out, n);
	pthread_mutex_unlock(&h->mu);
	return rc;
}

/* ---- live migration ---- */

/*
 * Our frames around libxl's stream (docs/xen.md):
 *   "XHXM" | version 1 | type | payload length (u16 BE) | payload | CRC-32 (u32 BE)
 * of header + payload.  Payload: printable "key=value" text, at most
 * XM_PAYLOAD_MAX bytes.
 *
 *   target → source  HELLO     name=NAME gen=G     ready to receive
 *   source → target  (libxl's migration stream, libxl_domain_suspend LIVE)
 *   target → source  VERIFIED  domid=D             restored, paused
 *   source → target  COMMIT    name=NAME suspended_ms=N   (guest suspended N ms ago)
 *   target → source  RUNNING   domid=D             unpaused
 *   either way       ABORT     why=TEXT            (best effort)
 */
#define XM_MAGIC        "XHXM"
#define XM_VERSION      2   /* 2: COMMIT carries suspended_ms */
#define XM_HDR          8
#define XM_PAYLOAD_MAX  192
#define XM_FRAME_MAX    (XM_HDR + XM_PAYLOAD_MAX + 4)

enum xm_type { XM_HELLO = 1, XM_VERIFIED, XM_COMMIT, XM_RUNNING, XM_ABORT };

static const char *xm_str(int t)
{
	switch (t) {
	case XM_HELLO:    return "HELLO";
	case XM_VERIFIED: return "VERIFIED";
	case XM_COMMIT:   return "COMMIT";
	case XM_RUNNING:  return "RUNNING";
	case XM_ABORT:    return "ABORT";
	default:          return "?";
	}
}

static size_t xm_encode(uint8_t *buf, int type, const char *payload)
{
	size_t len = strnlen(payload, XM_PAYLOAD_MAX);
	uint32_t crc;

	memcpy(buf, XM_MAGIC, 4);
	buf[4] = XM_VERSION;
	buf[5] = (uint8_t)type;
	buf[6] = (uint8_t)(len >> 8);
	buf[7] = (uint8_t)len;
	memcpy(buf + XM_HDR, payload, len);
	crc = (uint32_t)crc32(0L, buf, (uInt)(XM_HDR + len));
	buf[XM_HDR + len] = (uint8_t)(crc >> 24);
	buf[XM_HDR + len + 1] = (uint8_t)(crc >> 16);
	buf[XM_HDR + len + 2] = (uint8_t)(crc >> 8);
	buf[XM_HDR + len + 3] = (uint8_t)crc;
	return XM_HDR + len + 4;
}

static int wait_fd(int fd, short ev, uint64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = ev };
		uint64_t now = mono_ms();
		int n;

		if (now >= deadline)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, (int)(deadline - now > 1000u ? 1000u : deadline - now));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int read_exact(int fd, uint8_t *buf, size_t len, uint64_t deadline)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n;
		int rc = wait_fd(fd, POLLIN, deadline);

		if (rc < 0)
			return rc;
		n = read(fd, buf + got, len - got);
		if (n == 0)
			return -EPIPE;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	return 0;
}

/* Send one frame.  *sent: bytes that left (COMMIT: 0 means still safe). */
static int xm_send(int fd, int type, const char *payload, uint64_t deadline, size_t *sent)
{
	uint8_t buf[XM_FRAME_MAX];
	size_t len = xm_encode(buf, type, payload), off = 0;

	if (sent)
		*sent = 0;
	while (off < len) {
		ssize_t n;
		int rc = wait_fd(fd, POLLOUT, deadline);

		if (rc < 0)
			return rc;
		n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		off += (size_t)n;
		if (sent)
			*sent = off;
	}
	return 0;
}

/* Receive one whole, checked frame of type `want` (an ABORT is -ECONNABORTED). */
static int xm_recv(int fd, int want, char *payload, size_t plen, uint64_t deadline)
{
	uint8_t buf[XM_FRAME_MAX];
	size_t len;
	uint32_t crc;
	int rc = read_exact(fd, buf, XM_HDR, deadline);

	if (rc < 0)
		return rc;
	len = ((size_t)buf[6] << 8) | buf[7];
	if (memcmp(buf, XM_MAGIC, 4) != 0 || buf[4] != XM_VERSION || len > XM_PAYLOAD_MAX) {
		qb_log(LOG_ERR, "xen migration: bad frame header (magic, version or length=%zu)", len);
		return -EBADMSG;
	}
	rc = read_exact(fd, buf + XM_HDR, len + 4, deadline);
	if (rc < 0)
		return rc;
	crc = ((uint32_t)buf[XM_HDR + len] << 24) | ((uint32_t)buf[XM_HDR + len + 1] << 16) |
	      ((uint32_t)buf[XM_HDR + len + 2] << 8) | buf[XM_HDR + len + 3];
	if (crc != (uint32_t)crc32(0L, buf, (uInt)(XM_HDR + len))) {
		qb_log(LOG_ERR, "xen migration: frame checksum mismatch type=%s", xm_str(buf[5]));
		return -EBADMSG;
	}
	for (size_t i = 0; i < len; i++)
		if (buf[XM_HDR + i] < 0x20 || buf[XM_HDR + i] > 0x7e) {
			qb_log(LOG_ERR, "xen migration: frame payload not printable type=%s", xm_str(buf[5]));
			return -EBADMSG;
		}
	snprintf(payload, plen, "%.*s", (int)len, (const char *)buf + XM_HDR);
	if (buf[5] == XM_ABORT && want != XM_ABORT) {
		qb_log(LOG_WARNING, "xen migration: peer aborted: %s", payload);
		return -ECONNABORTED;
	}
	if (buf[5] != want) {
		qb_log(LOG_ERR, "xen migration: expected %s, got type=%u", xm_str(want), buf[5]);
		return -EBADMSG;
	}
	return 0;
}

static void progress(hv_migrate_cb cb, void *arg, bool final, uint32_t downtime_ms)
{
	struct hv_migrate_progress p = { .round = final ? 1 : 0, .final = final,
					 .downtime_ms = downtime_ms };

	if (cb != NULL)
		cb(arg, &p);
}

/* Source side, after a failure before any byte of COMMIT left: the domain
 * runs again here (suspend_cancel: it continues where it stopped). */
static void mig_resume_source(struct hv *h, struct xen_dom *d, uint32_t domid, const char *name)
{
	xc_domaininfo_t info;
	int rc = 0;

	if (dom_info(h, d, &info) == 0 && (info.flags & XEN_DOMINF_shutdown))
		rc = libxl_domain_resume(h->ctx, domid, 1, NULL);
	if (rc != 0)
		qb_log(LOG_ERR, "xen domain %s: resume after aborted migration failed rc=%d "
		       "(domain stays suspended; nothing runs elsewhere)", name, rc);
	else
		qb_log(LOG_INFO, "xen domain %s: migration aborted, runs here", name);
}

static int xen_migrate_send(struct hv *h, const char *name, int fd, const struct hv_migrate_opts *o,
			    hv_migrate_cb cb, void *arg, int *outcome)
{
	char pl[XM_PAYLOAD_MAX + 1], want[XM_PAYLOAD_MAX + 1];
	uint32_t timeout = o && o->timeout_ms ? o->timeout_ms : XEN_MIG_TIMEOUT_MS;
	uint64_t deadline = mono_ms() + timeout, t_susp, down;
	struct xen_dom *d;
	uint32_t domid;
	size_t sent = 0;
	int rc;

	*outcome = HV_MIG_ABORTED;
	pthread_mutex_lock(&h->mu);
	d = name ? dom_find(h, name) : NULL;
	if (d == NULL || d->incoming || d->starting || d->stopping) {
		pthread_mutex_unlock(&h->mu);
		return -ENOENT;
	}
	if (d->migrating || d->in_doubt) {
		pthread_mutex_unlock(&h->mu);
		return -EBUSY;
	}
	d->migrating = true;       /* the scan leaves it alone; dispatch does not free it */
	d->suspended_ms = 0;
	domid = d->domid;
	pthread_mutex_unlock(&h->mu);

	rc = xm_recv(fd, XM_HELLO, pl, sizeof(pl), deadline);
	snprintf(want, sizeof(want), "name=%s ", name);
	if (rc == 0 && strncmp(pl, want, strlen(want)) != 0) {
		qb_log(LOG_ERR, "xen domain %s: migration target expects another domain: %s", name, pl);
		rc = -EBADMSG;
	}
	if (rc < 0) {
		(void)xm_send(fd, XM_ABORT, "why=no-hello", mono_ms() + 1000u, NULL);
		shutdown(fd, SHUT_RDWR);
		pthread_mutex_lock(&h->mu);
		d->migrating = false;
		pthread_mutex_unlock(&h->mu);
		qb_log(LOG_ERR, "xen domain %s: migration target not ready: %s", name, strerror(-rc));
		progress(cb, arg, true, 0);
		return 0;              /* nothing was suspended: it runs here */
	}
	progress(cb, arg, false, 0);
	qb_log(LOG_INFO, "xen domain %s: migration stream start domid=%" PRIu32, name, domid);
	rc = libxl_domain_suspend(h->ctx, domid, fd, LIBXL_SUSPEND_LIVE, NULL);
	t_susp = mono_ms();
	pthread_mutex_lock(&h->mu);
	if (d->suspended_ms != 0 && d->suspended_ms < t_susp)
		t_susp = d->suspended_ms;
	pthread_mutex_unlock(&h->mu);
	if (rc != 0) {
		qb_log(LOG_ERR, "xen domain %s: libxl stream failed rc=%d", name, rc);
		shutdown(fd, SHUT_RDWR);
		goto abort_resume;
	}
	qb_log(LOG_INFO, "xen domain %s: libxl stream sent, guest suspended %" PRIu64 " ms before",
	       name, mono_ms() - t_susp);
	rc = xm_recv(fd, XM_VERIFIED, pl, sizeof(pl), deadline);
	if (rc < 0) {
		qb_log(LOG_ERR, "xen domain %s: no VERIFIED from target: %s", name, strerror(-rc));
		shutdown(fd, SHUT_RDWR);
		goto abort_resume;
	}
	/* how long the guest has stood still so far: the target adds its
	 * unpause to it and reports the whole as the downtime */
	snprintf(want, sizeof(want), "name=%s suspended_ms=%" PRIu64, name, mono_ms() - t_susp);
	rc = xm_send(fd, XM_COMMIT, want, deadline, &sent);
	if (rc < 0 && sent == 0) {
		qb_log(LOG_ERR, "xen domain %s: COMMIT not sent: %s", name, strerror(-rc));
		shutdown(fd, SHUT_RDWR);
		goto abort_resume;
	}
	if (rc == 0)
		rc = xm_recv(fd, XM_RUNNING, pl, sizeof(pl), deadline);
	pthread_mutex_lock(&h->mu);
	d->migrating = false;
	if (rc < 0) {
		d->in_doubt = true;
		pthread_mutex_unlock(&h->mu);
		*outcome = HV_MIG_IN_DOUBT;
		qb_log(LOG_ERR, "xen domain %s: migration IN DOUBT (COMMIT sent, no RUNNING: %s): "
		       "stays suspended here until resume or destroy", name, strerror(-rc));
		progress(cb, arg, true, 0);
		return 0;
	}
	/* the target runs it: our copy goes; dispatch reports "migrated away"
	 * once Xen no longer lists it */
	d->migrated = true;
	pthread_mutex_unlock(&h->mu);
	down = mono_ms() - t_susp;     /* suspend to RUNNING */
	rc = libxl_domain_destroy(h->ctx, domid, NULL);   /* 22 s in the Xen lab */
	if (rc != 0)
		qb_log(LOG_ERR, "xen domain %s: cannot destroy the migrated source copy domid=%" PRIu32
		       " rc=%d (it stays suspended)", name, domid, rc);
	*outcome = HV_MIG_DONE;
	qb_log(LOG_INFO, "xen domain %s: migrated, target %s downtime_ms=%" PRIu64, name, pl, down);
	progress(cb, arg, true, (uint32_t)down);
	return 0;

abort_resume:
	/* d stays valid without the lock while it is migrating: only the
	 * scan frees entries and it skips migrating ones */
	mig_resume_source(h, d, domid, name);
	pthread_mutex_lock(&h->mu);
	d->migrating = false;
	pthread_mutex_unlock(&h->mu);
	progress(cb, arg, true, 0);
	return 0;
}

static int xen_resume(struct hv *h, const char *name)
{
	struct xen_dom *d;
	int rc;

	pthread_mutex_lock(&h->mu);
	d = name ? dom_find(h, name) : NULL;
	if (d == NULL || d->incoming || d->starting) {
		rc = -ENOENT;
	} else if (!d->in_doubt) {
		rc = -EINVAL;
	} else if (libxl_domain_resume(h->ctx, d->domid, 1, NULL) != 0) {
		qb_log(LOG_ERR, "xen domain %s: resume failed domid=%" PRIu32, name, d->domid);
		rc = -EIO;
	} else {
		d->in_doubt = false;
		qb_log(LOG_INFO, "xen domain %s: resumed after in-doubt migration", name);
		rc = 0;
	}
	pthread_mutex_unlock(&h->mu);
	return rc;
}

/* COMMIT's payload: "name=NAME suspended_ms=N", N: how long the source's
 * copy has been suspended so far. */
static int parse_commit(const char *pl, const char *name, uint64_t *susp_ms)
{
	size_t n = strlen(name);
	char *end;

	*susp_ms = 0;
	if (strncmp(pl, "name=", 5) != 0 || strncmp(pl + 5, name, n) != 0)
		return -EBADMSG;
	pl += 5 + n;
	if (strncmp(pl, " suspended_ms=", 14) != 0 || !isdigit((unsigned char)pl[14]))
		return -EBADMSG;
	errno = 0;
	*susp_ms = strtoull(pl + 14, &end, 10);
	if (*end != '\0' || errno != 0 || *susp_ms > UINT32_MAX) {
		*susp_ms = 0;
		return -EBADMSG;
	}
	return 0;
}

/* Target side: drop the incoming entry and its paused copy. */
static void incoming_drop(struct hv *h, struct xen_dom *d, uint32_t domid)
{
	/* an incoming entry is ours alone (the scan skips it): no lock
	 * needed around the destroy */
	create_cleanup(h, d->name, domid, d->uuid);
	pthread_mutex_lock(&h->mu);
	dom_unlink(h, d);
	pthread_mutex_unlock(&h->mu);
	free(d);
}

static int xen_migrate_recv(struct hv *h, const struct hv_start_req *req, int fd,
			    hv_migrate_cb cb, void *arg)
{
	libxl_domain_config dc;
	libxl_domain_restore_params params;
	char pl[XM_PAYLOAD_MAX + 1];
	uint64_t deadline = mono_ms() + XEN_MIG_TIMEOUT_MS, t0, susp_ms = 0;
	uint32_t domid = (uint32_t)INVALID_DOMID;
	struct xen_dom *d;
	int rc;

	if (req == NULL || !hv_name_ok(req->name))
		return -EINVAL;
	libxl_domain_config_init(&dc);
	libxl_domain_restore_params_init(&params);
	rc = dom_reserve(h, req, &dc, true, &d);
	if (rc < 0)
		goto out;

	snprintf(pl, sizeof(pl), "name=%s gen=%" PRIu64, req->name, req->generation);
	rc = xm_send(fd, XM_HELLO, pl, deadline, NULL);
	if (rc < 0) {
		incoming_drop(h, d, domid);
		goto out;
	}
	params.checkpointed_stream = LIBXL_CHECKPOINTED_STREAM_NONE;
	params.stream_version = 2;
	rc = libxl_domain_create_restore(h->ctx, &dc, &domid, fd, -1, &params, NULL, NULL);
	if (rc != 0) {
		qb_log(LOG_ERR, "xen domain %s: restore from the migration stream failed rc=%d", req->name, rc);
		shutdown(fd, SHUT_RDWR);
		incoming_drop(h, d, domid);
		rc = -EIO;
		goto out;
	}
	qb_log(LOG_INFO, "xen domain %s: restored from the stream, paused domid=%" PRIu32,
	       req->name, domid);
	pthread_mutex_lock(&h->mu);
	d->domid = domid;
	pthread_mutex_unlock(&h->mu);
	snprintf(pl, sizeof(pl), "domid=%" PRIu32, domid);
	rc = xm_send(fd, XM_VERIFIED, pl, deadline, NULL);
	if (rc == 0)
		rc = xm_recv(fd, XM_COMMIT, pl, sizeof(pl), deadline);
	t0 = mono_ms();
	if (rc == 0 && parse_commit(pl, req->name, &susp_ms) < 0)
		rc = -EBADMSG;
	if (rc < 0) {
		/* no whole COMMIT: the source keeps (or resumes) its copy */
		qb_log(LOG_ERR, "xen domain %s: no COMMIT (%s): destroying the paused copy domid=%" PRIu32,
		       req->name, strerror(-rc), domid);
		shutdown(fd, SHUT_RDWR);
		incoming_drop(h, d, domid);
		goto out;
	}
	rc = libxl_domain_unpause(h->ctx, domid, NULL);
	if (rc != 0) {
		/* the source holds its suspended copy in doubt: none runs */
		qb_log(LOG_ERR, "xen domain %s: unpause after COMMIT failed rc=%d", req->name, rc);
		shutdown(fd, SHUT_RDWR);
		incoming_drop(h, d, domid);
		rc = -EIO;
		goto out;
	}
	pthread_mutex_lock(&h->mu);
	d->incoming = false;
	pthread_mutex_unlock(&h->mu);
	snprintf(pl, sizeof(pl), "domid=%" PRIu32, domid);
	if (xm_send(fd, XM_RUNNING, pl, deadline, NULL) < 0)
		qb_log(LOG_WARNING, "xen domain %s: runs here but RUNNING not sent (source in doubt)",
		       req->name);
	qb_log(LOG_INFO, "xen domain %s: migrated in, running domid=%" PRIu32 " gen=%" PRIu64,
	       req->name, domid, req->generation);
	progress(cb, arg, true, (uint32_t)(susp_ms + (mono_ms() - t0)));
	rc = 0;
out:
	libxl_domain_restore_params_dispose(&params);
	libxl_domain_config_dispose(&dc);
	return rc;
}

const struct hv_ops hv_xen_ops = {
	.name = "xen",
	.open = xen_open,
	.close = xen_close,
	.get_fd = xen_get_fd,
	.dispatch = xen_dispatch,
	.host_memory = xen_host_memory,
	.start = xen_start,
	.shutdown = xen_shutdown,
	.destroy = xen_destroy,
	.list = xen_list,
	.migrate_send = xen_migrate_send,
	.migrate_recv = xen_migrate_recv,
	.resume = xen_resume,
};
