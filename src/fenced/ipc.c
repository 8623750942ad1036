/*
 * xenha-fenced's IPC for hactl (libqb, service "xenha-fenced"): the same
 * framing as xenhad's (qb_ipc_request_header + a JSON object; the answer
 * {"rc":..,"error":..,"data":..}).  Requests:
 *   {"op":"status"}               the fencing view of this host
 *   {"op":"fence","name":"h2"}    poison pill now (root / haclient only)
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <qb/qblog.h>

#include "fenced.h"
#include "xenha/ipcproto.h"

#define FD_IPC_MAX (64u * 1024u)

static struct fd *the_fd;

static int32_t conn_accept(qb_ipcs_connection_t *c, uid_t uid, gid_t gid)
{
	struct group *g;

	(void)c;
	if (uid == 0)
		return 0;
	g = getgrnam("haclient");
	if (g && gid == g->gr_gid)
		return 0;
	return -EACCES;
}

static void reply(qb_ipcs_connection_t *c, int rc, const char *err, struct json_object *data)
{
	struct qb_ipc_response_header rh;
	struct iovec iov[2];
	char *json = NULL;

	if (ipc_resp_encode(rc, err, data, &json) < 0)
		json = NULL;
	memset(&rh, 0, sizeof(rh));
	rh.id = XH_IPC_RESPONSE;
	rh.size = (int32_t)(sizeof(rh) + (json ? strlen(json) : 0));
	rh.error = rc;
	iov[0].iov_base = &rh;
	iov[0].iov_len = sizeof(rh);
	iov[1].iov_base = json;
	iov[1].iov_len = json ? strlen(json) : 0;
	qb_ipcs_response_sendv(c, iov, json ? 2 : 1);
	free(json);
}

static int32_t msg_process(qb_ipcs_connection_t *c, void *data, size_t size)
{
	struct qb_ipc_request_header hdr;
	struct json_object *req = NULL, *v;
	struct json_tokener *tok;
	const char *op = "", *name = "";
	char err[256] = "";
	int rc;

	if (size < sizeof(hdr) || size > FD_IPC_MAX) {
		reply(c, -EINVAL, "bad request size", NULL);
		return 0;
	}
	tok = json_tokener_new();
	if (tok) {
		req = json_tokener_parse_ex(tok, (const char *)data + sizeof(hdr),
					    (int)(size - sizeof(hdr)));
		json_tokener_free(tok);
	}
	if (req == NULL || !json_object_is_type(req, json_type_object)) {
		reply(c, -EINVAL, "request: expected a JSON object", NULL);
		json_object_put(req);
		return 0;
	}
	if (json_object_object_get_ex(req, "op", &v) && json_object_is_type(v, json_type_string))
		op = json_object_get_string(v);
	if (json_object_object_get_ex(req, "name", &v) && json_object_is_type(v, json_type_string))
		name = json_object_get_string(v);
	if (strcmp(op, "status") == 0) {
		struct json_object *st = fd_status_json(the_fd);

		reply(c, 0, NULL, st);
		json_object_put(st);
	} else if (strcmp(op, "fence") == 0) {
		if (name[0] == '\0' || strlen(name) >= XH_NAME_MAX) {
			reply(c, -EINVAL, "fence: \"name\" (a host) is required", NULL);
		} else {
			rc = fd_fence_request(the_fd, name, err, sizeof(err));
			reply(c, rc, err, NULL);
		}
	} else {
		snprintf(err, sizeof(err), "unknown op \"%s\" (status, fence)", op);
		reply(c, -EINVAL, err, NULL);
	}
	json_object_put(req);
	return 0;
}

static struct qb_ipcs_service_handlers handlers = {
	.connection_accept = conn_accept,
	.msg_process = msg_process,
};

/* the libqb loop adapters */
static int32_t job_add(enum qb_loop_priority p, void *data, qb_loop_job_dispatch_fn fn)
{
	return qb_loop_job_add(the_fd->loop, p, data, fn);
}

static int32_t poll_add(enum qb_loop_priority p, int32_t fd, int32_t ev, void *data,
			qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_add(the_fd->loop, p, fd, ev, data, fn);
}

static int32_t poll_mod(enum qb_loop_priority p, int32_t fd, int32_t ev, void *data,
			qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_mod(the_fd->loop, p, fd, ev, data, fn);
}

static int32_t poll_del(int32_t fd)
{
	return qb_loop_poll_del(the_fd->loop, fd);
}

static struct qb_ipcs_poll_handlers poll_handlers = {
	.job_add = job_add,
	.dispatch_add = poll_add,
	.dispatch_mod = poll_mod,
	.dispatch_del = poll_del,
};

int fd_ipc_init(struct fd *d)
{
	int rc;

	the_fd = d;
	d->ipcs = qb_ipcs_create(FD_IPC_NAME, 0, QB_IPC_SHM, &handlers);
	if (d->ipcs == NULL)
		return -errno;
	qb_ipcs_poll_handlers_set(d->ipcs, &poll_handlers);
	qb_ipcs_enforce_buffer_size(d->ipcs, FD_IPC_MAX);
	rc = qb_ipcs_run(d->ipcs);
	if (rc < 0) {
		qb_log(LOG_ERR, "cannot start ipc service %s: %s", FD_IPC_NAME, strerror(-rc));
		qb_ipcs_destroy(d->ipcs);
		d->ipcs = NULL;
		return rc;
	}
	return 0;
}

void fd_ipc_fini(struct fd *d)
{
	if (d->ipcs) {
		qb_ipcs_destroy(d->ipcs);
		d->ipcs = NULL;
	}
}
