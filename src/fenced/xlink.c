/*
 * The link to xenhad, in a thread of its own: every 250 ms it asks
 * xenhad for its node list (fence state of every host, domains running
 * here) and sends the queued fence-begin / fence-confirm requests.  The
 * decision loop only reads the snapshot and its age, so a frozen or dead
 * xenhad shows up as an old answer, never as a stalled loop.
 *
 * This thread does not log (libqb logging belongs to the main thread); it
 * leaves error texts in the snapshot.
 */
#define _GNU_SOURCE 1 /* pthread_timedjoin_np */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include <json-c/json.h>
#include <qb/qbipcc.h>

#include "fenced.h"
#include "xenha/ipcproto.h"

#define XL_PERIOD_MS 250
#define XL_TIMEOUT_MS 1000

struct xl_conn {
	qb_ipcc_connection_t *c;
	char *buf;
};

/* One request; 0 with *out (the response JSON, owned by the caller) or
 * -errno for a transport failure. */
static int xl_call(struct xl_conn *k, const struct ipc_req *req, struct ipc_resp *out)
{
	struct qb_ipc_request_header hdr;
	struct qb_ipc_response_header rh;
	struct iovec iov[2];
	char *json = NULL;
	ssize_t n;
	int rc;

	rc = ipc_req_encode(req, &json);
	if (rc < 0)
		return rc;
	memset(&hdr, 0, sizeof(hdr));
	hdr.id = XH_IPC_REQUEST;
	hdr.size = (int32_t)(sizeof(hdr) + strlen(json));
	iov[0].iov_base = &hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = json;
	iov[1].iov_len = strlen(json);
	n = qb_ipcc_sendv_recv(k->c, iov, 2, k->buf, XH_IPC_MAX_MSG, XL_TIMEOUT_MS);
	free(json);
	if (n < 0)
		return (int)n;
	if ((size_t)n <= sizeof(rh))
		return -EBADMSG;
	memcpy(&rh, k->buf, sizeof(rh));
	if (rh.id != XH_IPC_RESPONSE || rh.size != n)
		return -EBADMSG;
	return ipc_resp_decode(k->buf + sizeof(rh), (size_t)n - sizeof(rh), out, NULL, 0);
}

static bool jbool(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) && json_object_get_boolean(v);
}

static int64_t jint(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "";
}

static void parse_nodes(struct fd *d, struct json_object *data, struct fd_xenhad *x)
{
	struct json_object *arr;
	size_t n;

	x->n_hosts = 0;
	x->local_running = 0;
	/* the node list of a xenhad that is not synchronised (just
	 * started, alone) or not quorate is its own stale view: fence
	 * decisions must not follow it */
	{
		struct json_object *local = NULL, *cluster = NULL;

		json_object_object_get_ex(data, "local", &local);
		json_object_object_get_ex(data, "cluster", &cluster);
		x->synced = local && jbool(local, "synced");
		x->quorate = local && jbool(local, "quorate") && cluster && jbool(cluster, "quorate");
	}
	if (!json_object_object_get_ex(data, "nodes", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return;
	n = json_object_array_length(arr);
	for (size_t i = 0; i < n && x->n_hosts < FD_MAX_NODE; i++) {
		struct json_object *h = json_object_array_get_idx(arr, i);
		int64_t id = jint(h, "nodeid");
		const char *fence = jstr(h, "fence");

		if (id <= 0 || id > FD_MAX_NODE)
			continue;
		x->hosts[x->n_hosts].nodeid = (uint32_t)id;
		snprintf(x->hosts[x->n_hosts].name, XH_NAME_MAX, "%s", jstr(h, "name"));
		x->hosts[x->n_hosts].member = jbool(h, "member");
		x->hosts[x->n_hosts].pending = strcmp(fence, "pending") == 0;
		x->hosts[x->n_hosts].confirmed = strcmp(fence, "confirmed") == 0;
		if ((uint32_t)id == d->nodeid)
			x->local_running = (uint32_t)jint(h, "running");
		x->n_hosts++;
	}
}

static void *xl_main(void *arg)
{
	struct fd *d = arg;
	struct xl_conn k = { .c = NULL, .buf = malloc(XH_IPC_MAX_MSG) };
	struct fd_xenhad x;

	memset(&x, 0, sizeof(x));
	pthread_mutex_lock(&d->xl_mu);
	while (!d->xl_stop && k.buf) {
		struct fd_req *q;
		struct ipc_req req;
		struct ipc_resp resp;
		struct timespec ts;
		int rc = 0;

		q = d->xl_q;
		d->xl_q = NULL;
		pthread_mutex_unlock(&d->xl_mu);

		if (k.c == NULL) {
			k.c = qb_ipcc_connect(XH_IPC_NAME, XH_IPC_MAX_MSG);
			if (k.c == NULL)
				rc = -errno;
		}
		/* queued requests first (they are why the loop woke us) */
		while (q) {
			struct fd_req *next = q->next;

			if (rc == 0) {
				memset(&req, 0, sizeof(req));
				req.op = q->op;
				req.standby = req.maintenance = -1;
				snprintf(req.name, sizeof(req.name), "%s", q->name);
				snprintf(req.by, sizeof(req.by), "%s", q->by);
				memset(&resp, 0, sizeof(resp));
				rc = xl_call(&k, &req, &resp);
				ipc_resp_free(&resp);
			}
			free(q);
			q = next;
		}
		if (rc == 0) {
			memset(&req, 0, sizeof(req));
			/* status: the node list plus whether xenhad is synced
			 * and quorate */
			req.op = IPC_OP_STATUS;
			req.standby = req.maintenance = -1;
			memset(&resp, 0, sizeof(resp));
			rc = xl_call(&k, &req, &resp);
			if (rc == 0 && resp.rc == 0) {
				parse_nodes(d, resp.data, &x);
				x.ok = true;
				x.seen = true;
				x.ok_ms = fd_mono_ms();
				x.err[0] = '\0';
			} else if (rc == 0) {
				/* answered, but not ready: it is alive; keep the
				 * last node list, but act on none of it */
				x.ok = true;
				x.synced = false;
				x.seen = true;
				x.ok_ms = fd_mono_ms();
				snprintf(x.err, sizeof(x.err), "xenhad: %.150s", resp.error);
			}
			ipc_resp_free(&resp);
		}
		if (rc < 0) {
			x.ok = false;
			snprintf(x.err, sizeof(x.err), "xenhad: %s", strerror(-rc));
			if (k.c) {
				qb_ipcc_disconnect(k.c);
				k.c = NULL;
			}
		}

		pthread_mutex_lock(&d->xl_mu);
		d->xl = x;
		if (d->xl_stop)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += XL_PERIOD_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (d->xl_q == NULL)
			pthread_cond_timedwait(&d->xl_cv, &d->xl_mu, &ts);
	}
	pthread_mutex_unlock(&d->xl_mu);
	if (k.c)
		qb_ipcc_disconnect(k.c);
	free(k.buf);
	return NULL;
}

int fd_xlink_start(struct fd *d)
{
	int rc;

	pthread_mutex_init(&d->xl_mu, NULL);
	pthread_cond_init(&d->xl_cv, NULL);
	rc = pthread_create(&d->xl_thread, NULL, xl_main, d);
	if (rc != 0)
		return -rc;
	d->xl_started = true;
	return 0;
}

void fd_xlink_stop(struct fd *d)
{
	struct timespec ts;

	if (!d->xl_started)
		return;
	pthread_mutex_lock(&d->xl_mu);
	d->xl_stop = true;
	pthread_cond_signal(&d->xl_cv);
	pthread_mutex_unlock(&d->xl_mu);
	/* a call in progress is bounded by XL_TIMEOUT_MS; connect is not
	 * (libqb has no timeout for it): do not wait forever at exit */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 2;
	if (pthread_timedjoin_np(d->xl_thread, NULL, &ts) != 0)
		pthread_detach(d->xl_thread);
	d->xl_started = false;
}

void fd_xlink_snapshot(struct fd *d, struct fd_xenhad *out)
{
	pthread_mutex_lock(&d->xl_mu);
	*out = d->xl;
	pthread_mutex_unlock(&d->xl_mu);
}

void fd_xlink_queue(struct fd *d, uint8_t op, const char *name, const char *by)
{
	struct fd_req *q = calloc(1, sizeof(*q)), **pp;

	if (q == NULL)
		return;
	q->op = op;
	snprintf(q->name, sizeof(q->name), "%s", name);
	snprintf(q->by, sizeof(q->by), "%s", by);
	pthread_mutex_lock(&d->xl_mu);
	for (pp = &d->xl_q; *pp; pp = &(*pp)->next)
		;
	*pp = q;
	pthread_cond_signal(&d->xl_cv);
	pthread_mutex_unlock(&d->xl_mu);
}
