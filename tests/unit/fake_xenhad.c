/*
 * A stand-in for xenhad's IPC service, for testing hactl end to end
 * (tests/unit/test_hactl.sh).  It serves the real JSON views (statejson)
 * of a fixed state, answers writes with canned outcomes, and appends each
 * request's JSON to a log so the test can check what hactl sent.  It is
 * not a daemon and decides nothing; run it only inside a private network
 * namespace (the IPC name is xenhad's own, an abstract socket).
 *
 * Canned outcomes, by name:
 *   unknown domain / host      -ENOENT
 *   domain "noquorum"          -EAGAIN
 *   domain "slow"              answers after 3 s
 *   domain "bad"               a response that is not JSON
 *   fence-confirm of a member  -EBUSY
 *   anything else              {"applied":true,"seq":N}
 *
 * Usage: fake_xenhad --ready FILE --log FILE [--deny] [--lifetime SEC]
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <json-c/json.h>
#include <qb/qbipc_common.h>
#include <qb/qbipcs.h>
#include <qb/qbloop.h>

#include "xenha/ipcproto.h"
#include "xenha/state.h"
#include "xenha/statejson.h"

struct fake {
	qb_loop_t *loop;
	struct xh_state st;
	const char *log;
	bool deny;
	uint64_t seq;
};

static struct fake *the_fake; /* libqb's callbacks carry no context */

/* ---- the state served ---- */

static void host(struct xh_state *s, uint32_t id, const char *name, bool member,
		 uint8_t fence, bool standby, bool maint)
{
	struct xh_host *h = &s->hosts[s->n_hosts++];

	h->nodeid = id;
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->mem_total_mb = 4096;
	h->mem_reserved_mb = 512;
	h->dom_overhead_mb = 8;
	h->member = member;
	h->fence = fence;
	h->standby = standby;
	h->maintenance = maint;
}

static struct xh_domain *dom(struct xh_state *s, const char *name, uint8_t st,
			     uint32_t owner, uint32_t mem, int32_t prio)
{
	struct xh_domain *d = &s->domains[s->n_domains++];

	snprintf(d->name, sizeof(d->name), "%s", name);
	d->state = st;
	d->owner = owner;
	d->last_owner = owner;
	d->memory_mb = mem;
	d->priority = prio;
	d->target = XH_TARGET_STARTED;
	d->max_restarts = 3;
	d->max_relocations = 3;
	d->generation = owner ? 1 : 0;
	return d;
}

static void event(struct xh_state *s, uint64_t t, uint8_t type, uint32_t node,
		  const char *domain, const char *text)
{
	struct xh_event *e = &s->events[s->ev_count++];

	e->seq = s->ev_next_seq++;
	e->time_ms = t;
	e->type = type;
	e->nodeid = node;
	snprintf(e->domain, sizeof(e->domain), "%s", domain);
	snprintf(e->text, sizeof(e->text), "%s", text);
}

static int build_state(struct xh_state *s)
{
	struct xh_domain *d;

	if (xh_state_init(s, 16) < 0)
		return -ENOMEM;
	s->seq = 41;
	s->qseq = 40;
	s->quorate = true;
	s->expected_votes = 3;
	host(s, 1, "h1", true, XH_FENCE_NONE, false, false);
	host(s, 2, "h2", true, XH_FENCE_NONE, true, false);
	host(s, 3, "h3", false, XH_FENCE_PENDING, false, false);
	s->cap_domains = 8;
	s->domains = calloc(s->cap_domains, sizeof(*s->domains));
	if (s->domains == NULL)
		return -ENOMEM;
	/* sorted by name, as the state keeps them */
	d = dom(s, "bad", XH_DS_STOPPED, 0, 128, 0);
	d->target = XH_TARGET_STOPPED;
	dom(s, "db", XH_DS_RUNNING, 1, 1024, 10);
	d = dom(s, "mail", XH_DS_LOST, 3, 512, 0);
	snprintf(d->reason, sizeof(d->reason), "host h3 left; awaiting fencing");
	dom(s, "noquorum", XH_DS_RUNNING, 2, 256, 0);
	dom(s, "slow", XH_DS_STARTING, 1, 256, -3);
	d = dom(s, "web1", XH_DS_FAILED, 0, 256, 5);
	d->last_owner = 2;
	d->restarts = 3;
	snprintf(d->reason, sizeof(d->reason), "crashed\x1b[31m");
	event(s, 1700000000000, XH_EV_HOST_JOINED, 1, "", "h1 joined");
	event(s, 1700000001000, XH_EV_DOMAIN_ADDED, 0, "db", "added");
	event(s, 1700000002000, XH_EV_DOMAIN_STATE, 1, "db", "starting => running");
	event(s, 1700000003000, XH_EV_HOST_LEFT, 3, "", "h3 left the membership");
	return 0;
}

/* ---- answers ---- */

static void send_raw(qb_ipcs_connection_t *c, const char *body)
{
	struct qb_ipc_response_header h;
	struct iovec iov[2];
	size_t len = strlen(body);

	memset(&h, 0, sizeof(h));
	h.id = XH_IPC_RESPONSE;
	h.size = (int32_t)(sizeof(h) + len);
	iov[0].iov_base = &h;
	iov[0].iov_len = sizeof(h);
	iov[1].iov_base = (void *)body;
	iov[1].iov_len = len;
	if (qb_ipcs_response_sendv(c, iov, 2) < 0)
		fprintf(stderr, "fake_xenhad: cannot answer\n");
}

/* Answer and drop our reference to data. */
static void reply(qb_ipcs_connection_t *c, int rc, const char *error,
		  struct json_object *data)
{
	char *txt = NULL;

	if (ipc_resp_encode(rc, error, data, &txt) < 0) {
		fprintf(stderr, "fake_xenhad: cannot encode answer\n");
		abort();
	}
	send_raw(c, txt);
	free(txt);
	json_object_put(data);
}

static void applied(struct fake *f, qb_ipcs_connection_t *c)
{
	struct json_object *data = json_object_new_object();

	json_object_object_add(data, "applied", json_object_new_boolean(1));
	json_object_object_add(data, "seq", json_object_new_int64((int64_t)++f->seq));
	reply(c, 0, NULL, data);
}

static void handle(struct fake *f, qb_ipcs_connection_t *c, const struct ipc_req *r)
{
	struct sj_local l = {
		.nodeid = 1, .coordinator = 1, .synced = true, .quorate = true,
		.hypervisor = "sim",
	};
	const struct xh_host *h;
	struct json_object *data;
	char err[160];

	switch (r->op) {
	case IPC_OP_STATUS:
		reply(c, 0, NULL, sj_status(&f->st, &l));
		return;
	case IPC_OP_NODES:
		reply(c, 0, NULL, sj_nodes(&f->st));
		return;
	case IPC_OP_DOMAINS:
		data = sj_domains(&f->st, r->name[0] ? r->name : NULL);
		if (data == NULL) {
			snprintf(err, sizeof(err), "no such domain: %s", r->name);
			reply(c, -ENOENT, err, NULL);
		} else {
			reply(c, 0, NULL, data);
		}
		return;
	case IPC_OP_HISTORY:
		reply(c, 0, NULL, sj_history(&f->st, r->limit));
		return;
	case IPC_OP_DOMAIN_ADD:
		applied(f, c);
		return;
	case IPC_OP_FENCE_CONFIRM:
	case IPC_OP_NODE_FLAGS:
		h = xh_state_host_by_name(&f->st, r->name);
		if (h == NULL) {
			snprintf(err, sizeof(err), "no such host: %s", r->name);
			reply(c, -ENOENT, err, NULL);
		} else if (r->op == IPC_OP_FENCE_CONFIRM && h->member) {
			snprintf(err, sizeof(err), "host %s is a cluster member", r->name);
			reply(c, -EBUSY, err, NULL);
		} else {
			applied(f, c);
		}
		return;
	default:
		break;
	}
	/* domain set / remove / start / stop */
	if (xh_state_domain(&f->st, r->name) == NULL) {
		snprintf(err, sizeof(err), "no such domain: %s", r->name);
		reply(c, -ENOENT, err, NULL);
	} else if (strcmp(r->name, "noquorum") == 0) {
		reply(c, -EAGAIN, "cluster not ready: this partition has no quorum", NULL);
	} else if (strcmp(r->name, "bad") == 0) {
		send_raw(c, "{\"rc\":");
	} else {
		if (strcmp(r->name, "slow") == 0)
			sleep(3);
		applied(f, c);
	}
}

static int32_t on_accept(qb_ipcs_connection_t *c, uid_t uid, gid_t gid)
{
	(void)c;
	(void)uid;
	(void)gid;
	return the_fake->deny ? -EACCES : 0;
}

static int32_t on_msg(qb_ipcs_connection_t *c, void *data, size_t size)
{
	struct fake *f = the_fake;
	struct qb_ipc_request_header h;
	struct ipc_req r;
	char err[256];
	FILE *log;
	int rc;

	if (size < sizeof(h)) {
		reply(c, -EBADMSG, "short request", NULL);
		return 0;
	}
	memcpy(&h, data, sizeof(h));
	if (h.id != XH_IPC_REQUEST || (size_t)h.size != size) {
		reply(c, -EBADMSG, "bad request header", NULL);
		return 0;
	}
	log = fopen(f->log, "a");
	if (log != NULL) {
		fwrite((char *)data + sizeof(h), 1, size - sizeof(h), log);
		fputc('\n', log);
		fclose(log);
	}
	rc = ipc_req_decode((char *)data + sizeof(h), size - sizeof(h), &r, err,
			    sizeof(err));
	if (rc < 0) {
		reply(c, rc, err, NULL);
		return 0;
	}
	handle(f, c, &r);
	ipc_req_free(&r);
	return 0;
}

/* ---- libqb plumbing ---- */

static int32_t h_dispatch_add(enum qb_loop_priority p, int32_t fd, int32_t evts,
			      void *data, qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_add(the_fake->loop, p, fd, evts, data, fn);
}

static int32_t h_dispatch_mod(enum qb_loop_priority p, int32_t fd, int32_t evts,
			      void *data, qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_mod(the_fake->loop, p, fd, evts, data, fn);
}

static int32_t h_dispatch_del(int32_t fd)
{
	return qb_loop_poll_del(the_fake->loop, fd);
}

static int32_t h_job_add(enum qb_loop_priority p, void *data,
			 qb_loop_job_dispatch_fn fn)
{
	return qb_loop_job_add(the_fake->loop, p, data, fn);
}

static int32_t on_signal(int32_t sig, void *data)
{
	(void)sig;
	qb_loop_stop(data);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "ready", required_argument, NULL, 'r' },
		{ "log", required_argument, NULL, 'l' },
		{ "deny", no_argument, NULL, 'd' },
		{ "lifetime", required_argument, NULL, 't' },
		{ 0 }
	};
	struct qb_ipcs_service_handlers sh = {
		.connection_accept = on_accept,
		.msg_process = on_msg,
	};
	struct qb_ipcs_poll_handlers ph = {
		.job_add = h_job_add,
		.dispatch_add = h_dispatch_add,
		.dispatch_mod = h_dispatch_mod,
		.dispatch_del = h_dispatch_del,
	};
	struct fake f = { 0 };
	qb_loop_signal_handle sh_term, sh_int;
	qb_ipcs_service_t *svc;
	const char *ready = NULL;
	unsigned lifetime = 60;
	FILE *rf;
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'r': ready = optarg; break;
		case 'l': f.log = optarg; break;
		case 'd': f.deny = true; break;
		case 't': lifetime = (unsigned)atoi(optarg); break;
		default: return 2;
		}
	}
	if (ready == NULL || f.log == NULL) {
		fprintf(stderr, "usage: fake_xenhad --ready FILE --log FILE [--deny] "
			"[--lifetime SEC]\n");
		return 2;
	}
	/* Never outlive a test that forgot us. */
	alarm(lifetime);

	the_fake = &f;
	if (build_state(&f.st) < 0)
		return 1;
	f.seq = f.st.seq;
	f.loop = qb_loop_create();
	if (f.loop == NULL)
		return 1;
	qb_loop_signal_add(f.loop, QB_LOOP_HIGH, SIGTERM, f.loop, on_signal, &sh_term);
	qb_loop_signal_add(f.loop, QB_LOOP_HIGH, SIGINT, f.loop, on_signal, &sh_int);
	svc = qb_ipcs_create(XH_IPC_NAME, 0, QB_IPC_SHM, &sh);
	if (svc == NULL)
		return 1;
	qb_ipcs_poll_handlers_set(svc, &ph);
	qb_ipcs_enforce_buffer_size(svc, XH_IPC_MAX_MSG);
	if (qb_ipcs_run(svc) < 0) {
		fprintf(stderr, "fake_xenhad: cannot start the ipc service\n");
		return 1;
	}
	rf = fopen(ready, "w");
	if (rf == NULL)
		return 1;
	fprintf(rf, "%d\n", (int)getpid());
	fclose(rf);

	qb_loop_run(f.loop);

	qb_ipcs_destroy(svc);
	qb_loop_destroy(f.loop);
	xh_state_free(&f.st);
	return 0;
}
