/*
 * Fence agents for xenha-fenced: when a lost host has fence devices in
 * the configuration, the acting survivor runs them (fa_fence_host: levels
 * in order, "off" then a status read-back that must say off) in a thread
 * of its own, because agents take seconds and the decision loop must keep
 * petting the watchdog.  The thread does not log (libqb logging belongs to
 * the main thread): it keeps the agent runner's messages and the main loop
 * logs them when the job is collected.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qb/qblog.h>

#include "fenced.h"
#include "xenha/fenceagent.h"

#define JOB_LINES 24

struct fd_agent_job {
	pthread_t th;
	pthread_mutex_t mu;
	bool done;
	int rc;
	struct fa_outcome out;
	char lines[JOB_LINES][200];
	int prio[JOB_LINES];
	unsigned n_lines;
	const struct xh_fence_device *devs;
	uint32_t n_devs;
	char host[XH_NAME_MAX];
};

static void job_log(void *arg, int prio, const char *msg)
{
	struct fd_agent_job *j = arg;

	pthread_mutex_lock(&j->mu);
	if (j->n_lines < JOB_LINES) {
		snprintf(j->lines[j->n_lines], sizeof(j->lines[0]), "%s", msg);
		j->prio[j->n_lines] = prio;
		j->n_lines++;
	}
	pthread_mutex_unlock(&j->mu);
}

static void *job_main(void *arg)
{
	struct fd_agent_job *j = arg;
	struct fa_outcome out;
	int rc;

	memset(&out, 0, sizeof(out));
	rc = fa_fence_host(j->devs, j->n_devs, j->host, &out, job_log, j);
	pthread_mutex_lock(&j->mu);
	j->rc = rc;
	j->out = out;
	j->done = true;
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

bool fd_agent_configured(const struct fd *d, const char *host)
{
	uint32_t idx[CFG_FENCE_DEVICES_MAX], n = 0;

	return d->cfg.n_fence_devices > 0 &&
	       fa_plan(d->cfg.fence_devices, d->cfg.n_fence_devices, host, idx,
		       CFG_FENCE_DEVICES_MAX, &n) > 0 && n > 0;
}

int fd_agent_start(struct fd *d, struct fd_peer *p)
{
	struct fd_agent_job *j = calloc(1, sizeof(*j));
	int rc;

	if (j == NULL)
		return -ENOMEM;
	pthread_mutex_init(&j->mu, NULL);
	j->devs = d->cfg.fence_devices;
	j->n_devs = d->cfg.n_fence_devices;
	snprintf(j->host, sizeof(j->host), "%s", p->name);
	rc = pthread_create(&j->th, NULL, job_main, j);
	if (rc != 0) {
		pthread_mutex_destroy(&j->mu);
		free(j);
		return -rc;
	}
	p->agent = j;
	p->agent_running = true;
	qb_log(LOG_NOTICE, "fencing %s with its fence agents", p->name);
	return 0;
}

/* Collect a finished job: log what the runner said, set agent_off or
 * agent_failed.  Returns true when the job was collected. */
bool fd_agent_poll(struct fd *d, struct fd_peer *p)
{
	struct fd_agent_job *j = p->agent;
	bool done;

	(void)d;
	if (j == NULL)
		return false;
	pthread_mutex_lock(&j->mu);
	done = j->done;
	pthread_mutex_unlock(&j->mu);
	if (!done)
		return false;
	pthread_join(j->th, NULL);
	for (unsigned i = 0; i < j->n_lines; i++)
		qb_log(j->prio[i], "fence agent for %s: %s", j->host, j->lines[i]);
	if (j->rc == 0 && j->out.success) {
		p->agent_off = true;
		snprintf(p->agent_text, sizeof(p->agent_text), "level %u", j->out.level);
		qb_log(LOG_NOTICE, "fence agents: %s is off (level %u, status read back off)",
		       j->host, j->out.level);
	} else {
		p->agent_failed = true;
		qb_log(LOG_WARNING, "fence agents could not fence %s (%s; %u of %u levels tried); "
		       "the timeout rule still applies", j->host,
		       j->rc < 0 ? strerror(-j->rc) : "no level succeeded",
		       j->out.levels_tried, j->out.levels);
	}
	pthread_mutex_destroy(&j->mu);
	free(j);
	p->agent = NULL;
	p->agent_running = false;
	return true;
}

/* At exit: wait for running jobs (each bounded by its devices' timeouts),
 * or leave them if they take too long. */
void fd_agent_fini(struct fd *d)
{
	for (uint32_t id = 1; id <= FD_MAX_NODE; id++) {
		struct fd_agent_job *j = d->peers[id].agent;

		if (j == NULL)
			continue;
		pthread_detach(j->th); /* its memory is left to the exiting process */
		d->peers[id].agent = NULL;
	}
}
