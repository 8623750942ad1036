/*
 * Slow hypervisor operations off the main loop.
 *
 * A start (the xen driver: libxl create, then wait until the guest runs,
 * up to start_timeout) or a clean shutdown (up to stop_timeout, then
 * destroy) can take a minute.  Run in the main loop it would stall
 * corosync dispatch, IPC and the liveness that xenha-fenced watches, and
 * the host would fence itself (seen in the Xen lab, docs/testing.md run 7).
 * Each such operation runs in a thread of its own; the thread wakes the
 * loop through a pipe when it ends, and the loop reports the outcome.
 *
 * At most one operation per domain: the executor leaves a domain alone
 * (no start, shutdown, destroy or resume) while one runs, and its end
 * kicks the executor.  The drivers serialise the ops against list() and
 * dispatch() themselves (include/xenha/hv.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qb/qblog.h>

#include "xenhad.h"

enum { HVJ_START = 1, HVJ_SHUTDOWN };

struct hvjob {
	struct hvjob *next;
	struct xd_hvjobs *jobs;
	int kind;
	char name[XH_NAME_MAX];
	char *xlcfg;
	uint32_t memory_mb;
	uint32_t nodeid;
	uint64_t generation;
	uint32_t timeout_ms;
	pthread_t th;
	bool done;             /* under jobs->lock */
	int rc;
};

struct xd_hvjobs {
	const struct hv_ops *hv;
	struct hv *hvh;
	pthread_mutex_t lock;
	int wake[2];
	struct hvjob *head;
	qb_loop_t *loop;
};

static int run_op(struct xd_hvjobs *q, struct hvjob *j)
{
	const struct hv_start_req req = { .name = j->name, .xlcfg = j->xlcfg,
		.memory_mb = j->memory_mb, .generation = j->generation, .nodeid = j->nodeid };

	if (j->kind == HVJ_SHUTDOWN)
		return q->hv->shutdown(q->hvh, j->name, j->timeout_ms);
	return q->hv->start(q->hvh, &req);
}

static void *job_thread(void *arg)
{
	struct hvjob *j = arg;
	struct xd_hvjobs *q = j->jobs;
	int rc = run_op(q, j);
	char c = 1;

	pthread_mutex_lock(&q->lock);
	j->rc = rc;
	j->done = true;
	pthread_mutex_unlock(&q->lock);
	/* non-blocking: a full pipe already wakes the loop */
	if (write(q->wake[1], &c, 1) < 0 && errno != EAGAIN)
		qb_log(LOG_DEBUG, "hypervisor job wake pipe: %s", strerror(errno));
	return NULL;
}

static void job_free(struct hvjob *j)
{
	free(j->xlcfg);
	free(j);
}

static void job_ended(struct xd *d, const struct hvjob *j)
{
	if (j->kind == HVJ_START) {
		xd_exec_start_done(d, j->name, j->generation, j->rc);
	} else if (j->rc < 0 && j->rc != -ENOENT) {
		qb_log(LOG_ERR, "domain %s: shutdown failed: %s", j->name, strerror(-j->rc));
	}
}

/* Join the finished jobs and report them (main loop). */
static void reap(struct xd *d)
{
	struct xd_hvjobs *q = d->hvjobs;
	struct hvjob **pp, *done = NULL;

	pthread_mutex_lock(&q->lock);
	pp = &q->head;
	while (*pp) {
		struct hvjob *j = *pp;

		if (!j->done) {
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		j->next = done;
		done = j;
	}
	pthread_mutex_unlock(&q->lock);
	while (done) {
		struct hvjob *j = done;

		done = j->next;
		pthread_join(j->th, NULL);
		job_ended(d, j);
		job_free(j);
	}
	xd_kick(d);
}

static int32_t wake_cb(int32_t fd, int32_t revents, void *arg)
{
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	reap(arg);
	return 0;
}

static void submit(struct xd *d, struct hvjob *j)
{
	struct xd_hvjobs *q = d->hvjobs;
	int rc;

	j->jobs = q;
	pthread_mutex_lock(&q->lock);
	rc = pthread_create(&j->th, NULL, job_thread, j);
	if (rc == 0) {
		j->next = q->head;
		q->head = j;
	}
	pthread_mutex_unlock(&q->lock);
	if (rc == 0)
		return;
	/* no thread: do it here, blocking, rather than not at all */
	qb_log(LOG_WARNING, "domain %s: no thread for the hypervisor operation (%s): "
	       "running it in the main loop", j->name, strerror(rc));
	j->rc = run_op(q, j);
	job_ended(d, j);
	job_free(j);
	xd_kick(d);
}

bool xd_hvjob_busy(struct xd *d, const char *name)
{
	struct xd_hvjobs *q = d->hvjobs;
	bool busy = false;

	pthread_mutex_lock(&q->lock);
	for (struct hvjob *j = q->head; j && !busy; j = j->next)
		busy = strcmp(j->name, name) == 0;
	pthread_mutex_unlock(&q->lock);
	return busy;
}

int xd_hvjob_start(struct xd *d, const struct hv_start_req *req)
{
	struct hvjob *j = calloc(1, sizeof(*j));

	if (!j || (req->xlcfg && !(j->xlcfg = strdup(req->xlcfg)))) {
		free(j);
		return -ENOMEM;
	}
	j->kind = HVJ_START;
	snprintf(j->name, sizeof(j->name), "%s", req->name);
	j->memory_mb = req->memory_mb;
	j->nodeid = req->nodeid;
	j->generation = req->generation;
	submit(d, j);
	return 0;
}

int xd_hvjob_shutdown(struct xd *d, const char *name, uint32_t timeout_ms)
{
	struct hvjob *j = calloc(1, sizeof(*j));

	if (!j)
		return -ENOMEM;
	j->kind = HVJ_SHUTDOWN;
	snprintf(j->name, sizeof(j->name), "%s", name);
	j->timeout_ms = timeout_ms;
	submit(d, j);
	return 0;
}

int xd_hvjob_init(struct xd *d)
{
	struct xd_hvjobs *q = calloc(1, sizeof(*q));

	if (!q)
		return -ENOMEM;
	if (pipe2(q->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		int err = errno;

		free(q);
		return -err;
	}
	pthread_mutex_init(&q->lock, NULL);
	q->hv = d->hv;
	q->hvh = d->hvh;
	q->loop = d->loop;
	d->hvjobs = q;
	qb_loop_poll_add(d->loop, QB_LOOP_MED, q->wake[0], POLLIN, d, wake_cb);
	return 0;
}

/* Wait for the running operations (before the driver closes); their
 * outcomes are no longer reported: the state decides again after restart. */
void xd_hvjob_fini(struct xd *d)
{
	struct xd_hvjobs *q = d->hvjobs;
	struct hvjob *j;
	unsigned int n = 0;

	if (!q)
		return;
	for (j = q->head; j; j = j->next)
		n++;
	if (n)
		qb_log(LOG_NOTICE, "waiting for %u hypervisor operation(s) to end", n);
	while ((j = q->head) != NULL) {
		q->head = j->next;
		pthread_join(j->th, NULL);
		qb_log(LOG_INFO, "domain %s: %s ended at exit: %s", j->name,
		       j->kind == HVJ_START ? "start" : "shutdown",
		       j->rc < 0 ? strerror(-j->rc) : "ok");
		job_free(j);
	}
	if (q->loop)
		qb_loop_poll_del(q->loop, q->wake[0]);
	close(q->wake[0]);
	close(q->wake[1]);
	pthread_mutex_destroy(&q->lock);
	free(q);
	d->hvjobs = NULL;
}
