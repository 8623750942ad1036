/*
 * hactl's door: a libqb IPC service.  Only root and members of group
 * haclient may connect.  Reads are answered from the local replica at
 * once; writes become commands and are answered when the command has been
 * delivered and applied (or rejected) in cluster order.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <json-c/json.h>
#include <qb/qbipc_common.h>
#include <qb/qblog.h>

#include "xenha/ipcproto.h"
#include "xenha/sched.h"
#include "xenha/statejson.h"
#include "xenhad.h"

#define XD_PENDING_MS 15000

struct xd_pending {
	struct xd_pending *next;
	uint64_t req_id;
	qb_ipcs_connection_t *conn;
	uint64_t deadline_ms;
};

static struct xd *the_d;  /* libqb's poll handler hooks carry no context */

/* ---- replies ---- */

static void reply(qb_ipcs_connection_t *c, int rc, const char *error, struct json_object *data)
{
	struct json_object *o = json_object_new_object();
	struct qb_ipc_response_header h;
	struct iovec iov[2];
	const char *txt;
	size_t len;
	ssize_t w;

	json_object_object_add(o, "rc", json_object_new_int(rc));
	if (rc != 0)
		json_object_object_add(o, "error", json_object_new_string(error && *error ? error : strerror(-rc)));
	if (data)
		json_object_object_add(o, "data", data);
	txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	len = strlen(txt);
	if (sizeof(h) + len > XH_IPC_MAX_MSG && rc == 0) {
		/* never leave the client waiting for an answer that cannot be sent */
		qb_log(LOG_WARNING, "ipc answer too large bytes=%zu max=%u", len, XH_IPC_MAX_MSG);
		json_object_put(o);
		reply(c, -EMSGSIZE, "the answer is larger than the IPC limit; ask for less "
		      "(e.g. hactl domains NAME, hactl history -n N)", NULL);
		return;
	}
	memset(&h, 0, sizeof(h));
	h.id = XH_IPC_RESPONSE;
	h.size = (int32_t)(sizeof(h) + len);
	h.error = rc;
	iov[0].iov_base = &h;
	iov[0].iov_len = sizeof(h);
	iov[1].iov_base = (void *)txt;
	iov[1].iov_len = len;
	w = qb_ipcs_response_sendv(c, iov, 2);
	if (w < 0)
		qb_log(LOG_WARNING, "cannot answer ipc client: %s", strerror((int)-w));
	json_object_put(o);
}

void xd_ipc_applied(struct xd *d, uint64_t req_id, int rc, const char *reason, uint64_t seq)
{
	struct xd_pending **pp = &d->pending;

	while (*pp) {
		struct xd_pending *p = *pp;

		if (p->req_id != req_id) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		if (rc == 0) {
			struct json_object *data = json_object_new_object();

			json_object_object_add(data, "applied", json_object_new_boolean(1));
			json_object_object_add(data, "seq", json_object_new_int64((int64_t)seq));
			reply(p->conn, 0, NULL, data);
		} else {
			reply(p->conn, rc, reason, NULL);
		}
		qb_ipcs_connection_unref(p->conn);
		free(p);
		return;
	}
}

static void pending_timer(void *arg)
{
	struct xd *d = arg;
	uint64_t now = xd_now_ms();
	struct xd_pending **pp = &d->pending;

	while (*pp) {
		struct xd_pending *p = *pp;

		if (now < p->deadline_ms) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		reply(p->conn, -ETIMEDOUT, "the command was sent but not applied in time", NULL);
		qb_ipcs_connection_unref(p->conn);
		free(p);
	}
	if (!d->stopping)
		qb_loop_timer_add(d->loop, QB_LOOP_LOW, 500 * QB_TIME_NS_IN_MSEC, d, pending_timer,
				  &d->pending_timer);
}

/* ---- requests ---- */

static int host_id(struct xd *d, const char *name, uint32_t *id, char *err, size_t errlen)
{
	const struct xh_host *h = xh_state_host_by_name(&d->st, name);

	if (!h) {
		snprintf(err, errlen, "no such host: %s", name);
		return -ENOENT;
	}
	*id = h->nodeid;
	return 0;
}

static int build_write(struct xd *d, qb_ipcs_connection_t *c, const struct ipc_req *r,
		       struct xh_cmd *cmd, char *err, size_t errlen)
{
	const struct xh_host *h;
	uint32_t id;
	int rc;

	memset(cmd, 0, sizeof(*cmd));
	switch (r->op) {
	case IPC_OP_DOMAIN_ADD:
		cmd->type = XH_CMD_DOMAIN_ADD;
		cmd->u.dom.def = r->def;
		return 0;
	case IPC_OP_DOMAIN_SET:
		cmd->type = XH_CMD_DOMAIN_SET;
		cmd->u.dom.def = r->def;
		snprintf(cmd->u.dom.def.name, sizeof(cmd->u.dom.def.name), "%s", r->name);
		cmd->u.dom.mask = r->mask;
		break;
	case IPC_OP_DOMAIN_REMOVE:
		cmd->type = XH_CMD_DOMAIN_REMOVE;
		break;
	case IPC_OP_DOMAIN_START:
		cmd->type = XH_CMD_DOMAIN_START;
		break;
	case IPC_OP_DOMAIN_STOP:
		cmd->type = XH_CMD_DOMAIN_STOP;
		break;
	case IPC_OP_FENCE_CONFIRM: {
		struct qb_ipcs_connection_stats st;

		rc = host_id(d, r->name, &id, err, errlen);
		if (rc < 0)
			return rc;
		cmd->type = XH_CMD_FENCE_CONFIRM;
		cmd->u.fence.nodeid = id;
		memset(&st, 0, sizeof(st));
		qb_ipcs_connection_stats_get(c, &st, QB_FALSE);
		if (r->by[0] != '\0')
			snprintf(cmd->u.fence.by, sizeof(cmd->u.fence.by), "%s", r->by);
		else
			snprintf(cmd->u.fence.by, sizeof(cmd->u.fence.by),
				 "operator pid %d on %.40s", (int)st.client_pid, d->name);
		return 0;
	}
	case IPC_OP_FENCE_BEGIN:
		rc = host_id(d, r->name, &id, err, errlen);
		if (rc < 0)
			return rc;
		cmd->type = XH_CMD_FENCE_BEGIN;
		cmd->u.fence.nodeid = id;
		snprintf(cmd->u.fence.by, sizeof(cmd->u.fence.by), "%s", r->by);
		return 0;
	case IPC_OP_NODE_FLAGS:
		rc = host_id(d, r->name, &id, err, errlen);
		if (rc < 0)
			return rc;
		h = xh_state_host(&d->st, id);
		cmd->type = XH_CMD_HOST_FLAGS;
		cmd->u.flags.nodeid = id;
		cmd->u.flags.standby = r->standby < 0 ? h->standby : (uint8_t)r->standby;
		cmd->u.flags.maintenance = r->maintenance < 0 ? h->maintenance : (uint8_t)r->maintenance;
		return 0;
	case IPC_OP_DISARM:
		/* the window is in wall-clock ms, the clock of the command's
		 * time_ms (the scheduler compares with the same clock) */
		cmd->type = XH_CMD_DISARM;
		cmd->u.disarm.until_ms = r->for_ms ? xd_now_ms() + r->for_ms : 0;
		return 0;
	case IPC_OP_MIGRATE: {
		const struct xh_domain *dom = xh_state_domain(&d->st, r->name);

		if (!dom) {
			snprintf(err, errlen, "no such domain: %s", r->name);
			return -ENOENT;
		}
		if (r->host[0]) {
			rc = host_id(d, r->host, &id, err, errlen);
			if (rc < 0)
				return rc;
		} else {
			rc = sched_pick_migration_target(&d->st, r->name, &id);
			if (rc == -EINVAL) {
				snprintf(err, errlen, "%s is %s, not running: only a running "
					 "domain migrates", r->name, xh_dom_state_str(dom->state));
				return rc;
			}
			if (rc < 0) {
				snprintf(err, errlen, "no host can take %s now (%s)", r->name,
					 rc == -ENOSPC ? "none is a member with room that is not "
					 "standby, maintenance, avoided or in its anti-affinity group" :
					 strerror(-rc));
				return rc;
			}
		}
		cmd->type = XH_CMD_MIGRATE_BEGIN;
		snprintf(cmd->u.mig.name, sizeof(cmd->u.mig.name), "%s", r->name);
		cmd->u.mig.source = dom->owner;
		cmd->u.mig.target = id;
		cmd->u.mig.generation = dom->generation;
		return 0;
	}
	default:
		snprintf(err, errlen, "not a write operation");
		return -EINVAL;
	}
	/* the domain-name commands */
	if (!xh_state_domain(&d->st, r->name)) {
		snprintf(err, errlen, "no such domain: %s", r->name);
		return -ENOENT;
	}
	if (cmd->type != XH_CMD_DOMAIN_SET)
		snprintf(cmd->u.name.name, sizeof(cmd->u.name.name), "%s", r->name);
	return 0;
}

/*
 * A domain the scheduler cannot place says why in `hactl domains`.  The
 * scheduler is a pure function of the replicated state, so any node can
 * compute the same answer the coordinator logs; nothing is decided here.
 */
static void annotate_unplaced(struct xd *d, struct json_object *data)
{
	struct sched_plan plan;
	struct sched_input in;
	struct json_object *arr;

	if (!json_object_object_get_ex(data, "domains", &arr) || !d->st.quorate)
		return;
	memset(&in, 0, sizeof(in));
	in.now_ms = xd_now_ms();
	in.wall_ms = in.now_ms;
	in.migrate = true;      /* as the coordinator (executor.c) */
	in.max_concurrent = d->cfg.mig_max_concurrent;
	sched_plan_init(&plan);
	if (sched_compute(&d->st, &in, &plan) == 0) {
		for (uint32_t i = 0; i < plan.n_unplaced; i++) {
			const struct xh_domain *dom = &d->st.domains[plan.unplaced[i].domain];

			for (size_t k = 0; k < json_object_array_length(arr); k++) {
				struct json_object *o = json_object_array_get_idx(arr, k), *nm;
				char why[sizeof(plan.unplaced[i].why) + 32];

				if (!json_object_object_get_ex(o, "name", &nm) ||
				    strcmp(json_object_get_string(nm), dom->name) != 0)
					continue;
				snprintf(why, sizeof(why), "cannot be placed: %s", plan.unplaced[i].why);
				json_object_object_add(o, "reason", json_object_new_string(why));
				break;
			}
		}
	}
	sched_plan_free(&plan);
}

/* What this host knows of each listed domain's migrations (migrate.c). */
static void annotate_migration(struct xd *d, struct json_object *data)
{
	struct json_object *arr;

	if (!json_object_object_get_ex(data, "domains", &arr))
		return;
	for (size_t k = 0; k < json_object_array_length(arr); k++) {
		struct json_object *o = json_object_array_get_idx(arr, k), *nm, *m;

		if (!json_object_object_get_ex(o, "name", &nm))
			continue;
		m = xd_mig_view_json(d, json_object_get_string(nm));
		if (m)
			json_object_object_add(o, "migration", m);
	}
}

static void handle(struct xd *d, qb_ipcs_connection_t *c, const struct ipc_req *r)
{
	struct json_object *data = NULL;
	struct sj_local l;
	struct xh_cmd cmd;
	struct xd_pending *p;
	char err[256] = "";
	int rc;

	memset(&l, 0, sizeof(l));
	l.nodeid = d->nodeid;
	l.coordinator = xd_coordinator(d);
	l.synced = d->synced;
	l.quorate = d->vq_quorate;
	l.hypervisor = d->hv ? d->hv->name : "?";

	switch (r->op) {
	case IPC_OP_STATUS:
		reply(c, 0, NULL, sj_status(&d->st, &l));
		return;
	case IPC_OP_NODES:
		reply(c, 0, NULL, sj_nodes(&d->st));
		return;
	case IPC_OP_DOMAINS:
		data = r->name[0] ? sj_domains(&d->st, r->name)
				  : sj_domains_page(&d->st, r->offset, r->limit);
		if (!data) {
			snprintf(err, sizeof(err), "no such domain: %s", r->name);
			reply(c, -ENOENT, err, NULL);
		} else {
			annotate_unplaced(d, data);
			annotate_migration(d, data);
			reply(c, 0, NULL, data);
		}
		return;
	case IPC_OP_HISTORY:
		reply(c, 0, NULL, sj_history(&d->st, r->limit));
		return;
	default:
		break;
	}

	if (!d->synced) {
		reply(c, -EAGAIN, "cluster not ready: this node's state is not synchronised yet", NULL);
		return;
	}
	if (!d->vq_quorate || !d->st.quorate) {
		reply(c, -EAGAIN, "cluster not ready: this partition has no quorum", NULL);
		return;
	}
	rc = build_write(d, c, r, &cmd, err, sizeof(err));
	if (rc < 0) {
		reply(c, rc, err, NULL);
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		reply(c, -ENOMEM, NULL, NULL);
		return;
	}
	p->req_id = ++d->next_req_id;
	p->conn = c;
	p->deadline_ms = xd_now_ms() + XD_PENDING_MS;
	qb_ipcs_connection_ref(c);
	p->next = d->pending;
	d->pending = p;
	rc = xd_send_cmd(d, &cmd, p->req_id);
	if (rc < 0)
		xd_ipc_applied(d, p->req_id, rc, "cannot send the command to the cluster", 0);
	qb_log(LOG_INFO, "ipc request op=%s name=%s sent as cmd=%s req=%llu", ipc_op_str(r->op),
	       r->name, xh_cmd_type_str(cmd.type), (unsigned long long)p->req_id);
}

/* ---- libqb service callbacks ---- */

static bool user_in_group(uid_t uid, gid_t want)
{
	struct passwd *pw = getpwuid(uid);
	gid_t groups[256];
	int n = 256;

	if (!pw)
		return false;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++)
		if (groups[i] == want)
			return true;
	return false;
}

static int32_t ipc_accept(qb_ipcs_connection_t *c, uid_t uid, gid_t gid)
{
	struct xd *d = the_d;

	if (uid == 0 ||
	    (d->have_haclient && (gid == d->haclient_gid || user_in_group(uid, d->haclient_gid)))) {
		if (d->have_haclient)
			qb_ipcs_connection_auth_set(c, -1, d->haclient_gid, 0660);
		return 0;
	}
	qb_log(LOG_WARNING, "ipc connection refused uid=%u gid=%u (not root, not in group haclient)",
	       (unsigned)uid, (unsigned)gid);
	return -EACCES;
}

static int32_t ipc_msg(qb_ipcs_connection_t *c, void *data, size_t size)
{
	struct xd *d = the_d;
	struct qb_ipc_request_header hdr;
	const struct qb_ipc_request_header *h = &hdr;
	struct ipc_req r;
	char err[256];
	int rc;

	/* copy the header out: libqb's shared-memory ring hands us 4-byte
	 * aligned messages, and a client that keeps its connection (as
	 * xenha-fenced does) gets one that is not 8-byte aligned (UBSan
	 * caught it in the fencing cases) */
	if (size >= sizeof(hdr))
		memcpy(&hdr, data, sizeof(hdr));
	if (size < sizeof(*h) || h->id != XH_IPC_REQUEST || (size_t)h->size != size) {
		qb_log(LOG_WARNING, "ipc message rejected: bad header size=%zu", size);
		reply(c, -EBADMSG, "bad request header", NULL);
		return 0;
	}
	rc = ipc_req_decode((const char *)data + sizeof(*h), size - sizeof(*h), &r, err, sizeof(err));
	if (rc < 0) {
		qb_log(LOG_WARNING, "ipc request rejected: %s", err);
		reply(c, rc, err, NULL);
		return 0;
	}
	handle(d, c, &r);
	ipc_req_free(&r);
	return 0;
}

static int32_t ipc_closed(qb_ipcs_connection_t *c)
{
	struct xd *d = the_d;
	struct xd_pending **pp = &d->pending;

	while (*pp) {
		struct xd_pending *p = *pp;

		if (p->conn != c) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		qb_ipcs_connection_unref(p->conn);
		free(p);
	}
	return 0;
}

static struct qb_ipcs_service_handlers ipc_handlers = {
	.connection_accept = ipc_accept,
	.msg_process = ipc_msg,
	.connection_closed = ipc_closed,
};

/* libqb's poll hooks, onto our loop */
static int32_t h_dispatch_add(enum qb_loop_priority p, int32_t fd, int32_t evts, void *data,
			      qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_add(the_d->loop, p, fd, evts, data, fn);
}

static int32_t h_dispatch_mod(enum qb_loop_priority p, int32_t fd, int32_t evts, void *data,
			      qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_mod(the_d->loop, p, fd, evts, data, fn);
}

static int32_t h_dispatch_del(int32_t fd)
{
	return qb_loop_poll_del(the_d->loop, fd);
}

static int32_t h_job_add(enum qb_loop_priority p, void *data, qb_loop_job_dispatch_fn fn)
{
	return qb_loop_job_add(the_d->loop, p, data, fn);
}

static struct qb_ipcs_poll_handlers poll_handlers = {
	.job_add = h_job_add,
	.dispatch_add = h_dispatch_add,
	.dispatch_mod = h_dispatch_mod,
	.dispatch_del = h_dispatch_del,
};

int xd_ipc_init(struct xd *d)
{
	struct group *g = getgrnam("haclient");
	int rc;

	the_d = d;
	if (g) {
		d->haclient_gid = g->gr_gid;
		d->have_haclient = true;
	} else {
		qb_log(LOG_WARNING, "group haclient does not exist; only root may use hactl");
	}
	d->ipcs = qb_ipcs_create(XH_IPC_NAME, 0, QB_IPC_SHM, &ipc_handlers);
	if (!d->ipcs)
		return -ENOMEM;
	qb_ipcs_poll_handlers_set(d->ipcs, &poll_handlers);
	qb_ipcs_enforce_buffer_size(d->ipcs, XH_IPC_MAX_MSG);
	rc = qb_ipcs_run(d->ipcs);
	if (rc < 0) {
		qb_log(LOG_ERR, "cannot start ipc service=%s: %s", XH_IPC_NAME, strerror(-rc));
		return rc;
	}
	qb_loop_timer_add(d->loop, QB_LOOP_LOW, 500 * QB_TIME_NS_IN_MSEC, d, pending_timer,
			  &d->pending_timer);
	return 0;
}

void xd_ipc_fini(struct xd *d)
{
	if (d->loop)
		qb_loop_timer_del(d->loop, d->pending_timer);
	while (d->pending) {
		struct xd_pending *p = d->pending;

		d->pending = p->next;
		reply(p->conn, -ESHUTDOWN, "xenhad is shutting down", NULL);
		qb_ipcs_connection_unref(p->conn);
		free(p);
	}
	if (d->ipcs) {
		qb_ipcs_destroy(d->ipcs);
		d->ipcs = NULL;
	}
}
