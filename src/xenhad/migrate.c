/*
 * Live migration between xenhads: the listener, the stream threads, and
 * what the executor knows of its own migrations (struct rec_mig, the
 * input of rec_compute_mig).  Nothing here decides: the executor starts a
 * send or a receive when src/lib/reconcile.c says so, and reports the
 * outcome it is told.
 *
 * Threads.  The main loop owns struct xd.  One listener thread accepts
 * connections; each accepted connection and each send runs in a thread of
 * its own (the hypervisor's migration ops block).  They share only struct
 * xd_migr, under its lock, and wake the main loop through a pipe.
 *
 * A stream: the source connects to the target's ring0 address at
 * [migration] port, authenticates with the cluster key (xport.h: TLS 1.3
 * PSK), and sends a hello naming the attempt: (name, mig_id, generation,
 * source, target).  The target answers 0 only if its executor expects
 * that exact attempt (it saw MIGRATE_BEGIN; a hello may arrive first, so
 * it waits up to MIG_EXPECT_WAIT_MS) and nobody else took it; then both
 * hand the plain fd to the hypervisor driver (migrate_send / migrate_recv).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <corosync/cmap.h>
#include <qb/qblog.h>

#include <json-c/json.h>

#include "xenha/reconcile.h"
#include "xenha/xport.h"
#include "xenhad.h"
#include "../common/daemon.h"

#define MIG_MAGIC "XHMG"
#define MIG_ACK "XHMA"
#define MIG_VERSION 1
#define MIG_HELLO_LEN (4 + 4 + 4 + 4 + 8 + 8 + XH_NAME_MAX)
#define MIG_ACK_LEN 8
#define MIG_CONNECT_MS 5000
#define MIG_HANDSHAKE_MS 10000
#define MIG_HELLO_MS 10000
#define MIG_EXPECT_WAIT_MS 5000     /* a hello may beat the target's MIGRATE_BEGIN */
#define MIG_EXPECT_MS 30000         /* a receive nobody connects to fails after this */
#define MIG_PROGRESS_MS 1000        /* progress multicast at most this often */
#define MIG_GRACE_MS 60000          /* past timeout_ms: the stream is broken */

struct mjob {
	struct mjob *next;
	struct xd_migr *m;
	uint8_t role;                   /* REC_MIG_SOURCE / REC_MIG_TARGET */
	char name[XH_NAME_MAX];
	uint64_t mig_id;
	uint64_t generation;            /* source: G; target: G + 1 (the copy's) */
	uint32_t peer;                  /* the other host */
	char addr[64];                  /* source: the target's address */
	char *xlcfg;                    /* target: the definition to start */
	uint32_t memory_mb;
	uint64_t begun_ms;              /* monotonic */
	/* under m->lock */
	bool thread;                    /* a thread runs for it (join when finished) */
	pthread_t th;
	bool claimed;                   /* target: a connection took it */
	bool finished;                  /* outcome final; the main loop reaps it */
	struct xport_stream *xs;        /* to abort at exit or timeout */
	bool aborted;                   /* xport_abort() called */
	uint8_t outcome;                /* enum rec_mig_outcome */
	uint32_t downtime_ms;
	char why[XH_REASON_MAX];
	bool progress_new;
	struct hv_migrate_progress prog;
	uint64_t prog_ms;               /* monotonic: last progress handed on */
};

struct mconn {                          /* an accepted connection's thread */
	struct mconn *next;
	struct xd_migr *m;
	int tcp;
	pthread_t th;
	bool done;
	struct xport_stream *xs;
};

struct xd_migr {
	struct xd *d;                   /* only ever read: cfg, hv, hvh, nodeid */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct mjob *jobs;
	struct mconn *conns;
	struct xport_key *key;          /* NULL: migration disabled (why in key_err) */
	char key_err[256];
	char cluster_name[XH_NAME_MAX];
	int lfd;
	int wake[2];                    /* threads -> main loop */
	int stop[2];                    /* main -> listener */
	pthread_t listener;
	bool listening;
	bool stopping;
	/* what the executor knows (main loop only) */
	struct rec_mig *tab;
	char (*why)[XH_REASON_MAX];     /* per entry of tab: the outcome in words */
	uint32_t n_tab, cap_tab;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void wake_main(struct xd_migr *m)
{
	char c = 1;

	/* non-blocking: a full pipe already wakes the loop */
	if (write(m->wake[1], &c, 1) < 0 && errno != EAGAIN)
		qb_log(LOG_DEBUG, "migration wake pipe: %s", strerror(errno));
}

/* ---- byte order helpers for the hello ---- */

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* All of buf within timeout_ms (0 or -errno; -ETIMEDOUT, -ECONNRESET on EOF). */
static int io_full(int fd, void *buf, size_t len, bool wr, uint32_t timeout_ms)
{
	uint8_t *p = buf;
	uint64_t deadline = mono_ms() + timeout_ms;

	while (len > 0) {
		struct pollfd pfd = { .fd = fd, .events = wr ? POLLOUT : POLLIN };
		uint64_t now = mono_ms();
		ssize_t n;
		int r;

		if (now >= deadline)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		n = wr ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- progress from the driver (worker threads) ---- */

static void on_progress(void *arg, const struct hv_migrate_progress *p)
{
	struct mjob *j = arg;
	struct xd_migr *m = j->m;
	uint64_t now = mono_ms(), sent;
	bool wake = false;

	pthread_mutex_lock(&m->lock);
	/* bytes: the driver's count or the transport's (reap), the larger */
	sent = j->prog.bytes_sent;
	j->prog = *p;
	if (j->prog.bytes_sent < sent)
		j->prog.bytes_sent = sent;
	if (p->final && p->downtime_ms)
		j->downtime_ms = p->downtime_ms;
	if (j->role == REC_MIG_SOURCE && (p->final || now - j->prog_ms >= MIG_PROGRESS_MS)) {
		j->prog_ms = now;
		j->progress_new = true;
		wake = true;
	}
	pthread_mutex_unlock(&m->lock);
	if (wake)
		wake_main(m);
}

static void job_finish(struct mjob *j, uint8_t outcome, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void job_finish(struct mjob *j, uint8_t outcome, const char *fmt, ...)
{
	struct xd_migr *m = j->m;
	va_list ap;

	pthread_mutex_lock(&m->lock);
	j->outcome = outcome;
	va_start(ap, fmt);
	vsnprintf(j->why, sizeof(j->why), fmt, ap);
	va_end(ap);
	j->finished = true;
	pthread_mutex_unlock(&m->lock);
	wake_main(m);
}

/* ---- source ---- */

static void *send_thread(void *arg)
{
	struct mjob *j = arg;
	struct xd_migr *m = j->m;
	struct xd *d = m->d;
	struct hv_migrate_opts o = {
		.max_rounds = d->cfg.mig_max_rounds,
		.downtime_ms = d->cfg.mig_downtime_ms,
		.timeout_ms = d->cfg.mig_timeout_ms,
	};
	struct xport_stream *xs = NULL;
	struct xport_stats st;
	uint8_t hello[MIG_HELLO_LEN], ack[MIG_ACK_LEN];
	char err[256] = "";
	int tcp = -1, fd = -1, rc, outcome = HV_MIG_ABORTED;

	rc = xport_connect(j->addr, d->cfg.mig_port, MIG_CONNECT_MS, &tcp);
	if (rc < 0) {
		job_finish(j, REC_MIG_ABORTED, "cannot connect to %s port %u: %s", j->addr,
			   d->cfg.mig_port, strerror(-rc));
		return NULL;
	}
	rc = xport_start(tcp, false, m->key, m->cluster_name, MIG_HANDSHAKE_MS, &xs, &fd,
			 err, sizeof(err));
	if (rc < 0) {
		job_finish(j, REC_MIG_ABORTED, "transport to %s: %s", j->addr, err);
		return NULL;
	}
	pthread_mutex_lock(&m->lock);
	j->xs = xs;
	if (m->stopping)      /* xd_mig_fini may have looked before we got here */
		xport_abort(xs);
	pthread_mutex_unlock(&m->lock);

	memset(hello, 0, sizeof(hello));
	memcpy(hello, MIG_MAGIC, 4);
	put32(hello + 4, MIG_VERSION);
	put32(hello + 8, d->nodeid);
	put32(hello + 12, j->peer);
	put64(hello + 16, j->mig_id);
	put64(hello + 24, j->generation);
	memcpy(hello + 32, j->name, strnlen(j->name, XH_NAME_MAX - 1));
	rc = io_full(fd, hello, sizeof(hello), true, MIG_HELLO_MS);
	if (rc == 0)
		rc = io_full(fd, ack, sizeof(ack), false, MIG_HELLO_MS);
	if (rc == 0 && memcmp(ack, MIG_ACK, 4) != 0)
		rc = -EPROTO;
	if (rc == 0 && get32(ack + 4) != 0) {
		uint32_t e = get32(ack + 4);

		job_finish(j, REC_MIG_ABORTED, "the target refused the stream: %s",
			   e < 4096 ? strerror((int)e) : "unknown error");
		goto out;
	}
	if (rc < 0) {
		job_finish(j, REC_MIG_ABORTED, "no answer from the target: %s", strerror(-rc));
		goto out;
	}
	rc = d->hv->migrate_send(d->hvh, j->name, fd, &o, on_progress, j, &outcome);
	if (rc < 0) {
		job_finish(j, REC_MIG_ABORTED, "could not start: %s", strerror(-rc));
		goto out;
	}
	switch (outcome) {
	case HV_MIG_DONE:
		job_finish(j, REC_MIG_DONE, "the target runs it");
		break;
	case HV_MIG_IN_DOUBT:
		job_finish(j, REC_MIG_IN_DOUBT, "no confirmation after COMMIT: paused here");
		break;
	default:
		job_finish(j, REC_MIG_ABORTED, "stream broke before the switch-over");
		break;
	}
out:
	close(fd);
	pthread_mutex_lock(&m->lock);
	j->xs = NULL;
	pthread_mutex_unlock(&m->lock);
	xport_finish(xs, &st);
	pthread_mutex_lock(&m->lock);
	if (j->prog.bytes_sent < st.sent)
		j->prog.bytes_sent = st.sent;
	pthread_mutex_unlock(&m->lock);
	if (st.error)
		qb_log(LOG_INFO, "domain %s: migration stream to %s ended: %s", j->name, j->addr,
		       st.why);
	return NULL;
}

/* ---- target ---- */

static struct mjob *find_expected(struct xd_migr *m, const char *name, uint64_t mig_id,
				  uint32_t source)
{
	for (struct mjob *j = m->jobs; j; j = j->next)
		if (j->role == REC_MIG_TARGET && j->mig_id == mig_id && j->peer == source &&
		    strcmp(j->name, name) == 0)
			return j;
	return NULL;
}

/* The job's stream is about to be freed: the main loop must not abort it. */
static void clear_xs(struct mjob *j)
{
	pthread_mutex_lock(&j->m->lock);
	j->xs = NULL;
	pthread_mutex_unlock(&j->m->lock);
}

static void *conn_thread(void *arg)
{
	struct mconn *c = arg;
	struct xd_migr *m = c->m;
	struct xd *d = m->d;
	struct xport_stream *xs = NULL;
	struct xport_stats st;
	struct mjob *j = NULL;
	struct hv_start_req req;
	uint8_t hello[MIG_HELLO_LEN], ack[MIG_ACK_LEN];
	char err[256] = "", name[XH_NAME_MAX] = "";
	uint32_t source = 0, target, status = 0;
	uint64_t mig_id, gen;
	int fd = -1, rc;

	rc = xport_start(c->tcp, true, m->key, m->cluster_name, MIG_HANDSHAKE_MS, &xs, &fd,
			 err, sizeof(err));
	if (rc < 0) {
		qb_log(LOG_WARNING, "migration: refused a connection: %s", err);
		goto done;
	}
	pthread_mutex_lock(&m->lock);
	c->xs = xs;
	if (m->stopping)
		xport_abort(xs);
	pthread_mutex_unlock(&m->lock);
	rc = io_full(fd, hello, sizeof(hello), false, MIG_HELLO_MS);
	if (rc < 0 || memcmp(hello, MIG_MAGIC, 4) != 0 || get32(hello + 4) != MIG_VERSION ||
	    memchr(hello + 32, '\0', XH_NAME_MAX) == NULL) {
		qb_log(LOG_WARNING, "migration: bad hello from an authenticated peer: %s",
		       rc < 0 ? strerror(-rc) : "malformed");
		goto done;
	}
	source = get32(hello + 8);
	target = get32(hello + 12);
	mig_id = get64(hello + 16);
	gen = get64(hello + 24);
	memcpy(name, hello + 32, XH_NAME_MAX);

	pthread_mutex_lock(&m->lock);
	if (target != d->nodeid) {
		status = EINVAL;
	} else {
		uint64_t deadline = mono_ms() + MIG_EXPECT_WAIT_MS;

		while (!(j = find_expected(m, name, mig_id, source)) && !m->stopping &&
		       mono_ms() < deadline) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 100 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&m->cond, &m->lock, &ts);
		}
		if (!j)
			status = ENOENT;
		else if (j->claimed || j->finished)
			status = EALREADY;
		else if (j->generation != gen + 1)
			status = ESTALE;
		else {
			j->claimed = true;
			j->xs = xs;   /* the main loop may break it (source fenced) */
		}
	}
	pthread_mutex_unlock(&m->lock);
	memcpy(ack, MIG_ACK, 4);
	put32(ack + 4, status);
	rc = io_full(fd, ack, sizeof(ack), true, MIG_HELLO_MS);
	if (status) {
		qb_log(LOG_WARNING, "migration: refused the stream of %s mig_id=%llu from node=%u: %s",
		       name, (unsigned long long)mig_id, source, strerror((int)status));
		goto done;
	}
	if (rc < 0) {
		clear_xs(j);
		job_finish(j, REC_MIG_FAILED, "stream broke before it began: %s", strerror(-rc));
		goto done;
	}
	req = (struct hv_start_req){ .name = j->name, .xlcfg = j->xlcfg,
		.memory_mb = j->memory_mb, .generation = j->generation, .nodeid = d->nodeid };
	qb_log(LOG_INFO, "domain %s: receiving from node=%u mig_id=%llu gen=%llu", j->name,
	       source, (unsigned long long)mig_id, (unsigned long long)j->generation);
	rc = d->hv->migrate_recv(d->hvh, &req, fd, on_progress, j);
	clear_xs(j);
	if (rc == 0)
		job_finish(j, REC_MIG_DONE, "runs here");
	else
		job_finish(j, REC_MIG_FAILED, "receive failed: %s", strerror(-rc));
done:
	if (fd >= 0)
		close(fd);
	if (xs) {
		pthread_mutex_lock(&m->lock);
		c->xs = NULL;
		pthread_mutex_unlock(&m->lock);
		xport_finish(xs, &st);
		if (st.error)
			qb_log(LOG_INFO, "migration: stream from node=%u (%s) ended: %s "
			       "(sent %llu, received %llu bytes)", source, name[0] ? name : "?", st.why,
			       (unsigned long long)st.sent, (unsigned long long)st.received);
	}
	pthread_mutex_lock(&m->lock);
	c->done = true;
	pthread_mutex_unlock(&m->lock);
	wake_main(m);
	return NULL;
}

static void *listen_thread(void *arg)
{
	struct xd_migr *m = arg;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = m->lfd, .events = POLLIN },
			{ .fd = m->stop[0], .events = POLLIN },
		};
		struct mconn *c;
		int fd;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			qb_log(LOG_ERR, "migration listener: poll: %s", strerror(errno));
			return NULL;
		}
		if (p[1].revents)
			return NULL;
		fd = accept4(m->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
				usleep(100000);   /* EMFILE and friends: do not spin */
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->m = m;
		c->tcp = fd;
		pthread_mutex_lock(&m->lock);
		if (m->stopping || pthread_create(&c->th, NULL, conn_thread, c) != 0) {
			pthread_mutex_unlock(&m->lock);
			close(fd);
			free(c);
			continue;
		}
		c->next = m->conns;
		m->conns = c;
		pthread_mutex_unlock(&m->lock);
	}
}

/* ---- the main loop's side ---- */

static struct rec_mig *tab_find(struct xd_migr *m, const char *name, uint64_t mig_id,
				uint8_t role)
{
	for (uint32_t i = 0; i < m->n_tab; i++)
		if (m->tab[i].mig_id == mig_id && m->tab[i].role == role &&
		    strcmp(m->tab[i].name, name) == 0)
			return &m->tab[i];
	return NULL;
}

static struct rec_mig *tab_add(struct xd_migr *m, const char *name, uint64_t mig_id,
			       uint8_t role)
{
	struct rec_mig *e = tab_find(m, name, mig_id, role);

	if (e)
		return e;
	if (m->n_tab == m->cap_tab) {
		uint32_t cap = m->cap_tab ? 2 * m->cap_tab : 16;
		struct rec_mig *t = realloc(m->tab, cap * sizeof(*t));
		char (*w)[XH_REASON_MAX];

		if (!t)
			return NULL;
		m->tab = t;
		w = realloc(m->why, cap * sizeof(*w));
		if (!w)
			return NULL;
		m->why = w;
		m->cap_tab = cap;
	}
	m->why[m->n_tab][0] = '\0';
	e = &m->tab[m->n_tab++];
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->mig_id = mig_id;
	e->role = role;
	e->outcome = REC_MIG_IN_PROGRESS;
	return e;
}

static void send_progress(struct xd *d, const struct mjob *j, const struct hv_migrate_progress *p)
{
	struct wire_progress w;

	memset(&w, 0, sizeof(w));
	w.nodeid = d->nodeid;
	snprintf(w.name, sizeof(w.name), "%s", j->name);
	w.mig_id = j->mig_id;
	w.target = j->peer;
	w.round = p->round;
	w.bytes_sent = p->bytes_sent;
	w.pages_total = p->pages_total;
	w.pages_left = p->pages_left;
	w.dirty_kib_s = p->dirty_kib_s;
	w.elapsed_ms = (uint32_t)(mono_ms() - j->begun_ms);
	xd_send_progress(d, &w);
}

static bool peer_fenced(struct xd *d, uint32_t nodeid)
{
	const struct xh_host *h = xh_state_host(&d->st, nodeid);

	return h && h->fence == XH_FENCE_CONFIRMED;
}

static void job_free(struct mjob *j)
{
	free(j->xlcfg);
	free(j);
}

/* Reap finished jobs and connections, hand on progress, time out what hangs. */
static void reap(struct xd *d)
{
	struct xd_migr *m = d->mig;
	struct mjob **pp, *done = NULL;
	struct mconn **cp, *cdone = NULL;
	uint64_t now = mono_ms();
	bool changed = false;

	pthread_mutex_lock(&m->lock);
	for (pp = &m->jobs; *pp;) {
		struct mjob *j = *pp;

		/* between the driver's reports (the xen driver has none until
		 * the end), the bytes the transport has sent */
		if (j->role == REC_MIG_SOURCE && !j->finished && j->xs &&
		    now - j->prog_ms >= MIG_PROGRESS_MS) {
			uint64_t sent = xport_sent(j->xs);

			if (sent > j->prog.bytes_sent) {
				j->prog.bytes_sent = sent;
				j->prog_ms = now;
				j->progress_new = true;
			}
		}
		if (j->progress_new) {
			struct hv_migrate_progress p = j->prog;

			j->progress_new = false;
			pthread_mutex_unlock(&m->lock);
			send_progress(d, j, &p);
			pthread_mutex_lock(&m->lock);
		}
		if (!j->finished && j->role == REC_MIG_TARGET && !j->claimed &&
		    now - j->begun_ms > MIG_EXPECT_MS) {
			j->finished = true;
			j->outcome = REC_MIG_FAILED;
			snprintf(j->why, sizeof(j->why), "no stream from the source within %u s",
				 MIG_EXPECT_MS / 1000);
		}
		if (!j->finished && j->xs && peer_fenced(d, j->peer) && !j->aborted) {
			/* a fenced peer can neither send, take nor confirm
			 * anything: do not wait for TCP to notice.  The driver's
			 * rules stand (a source that sent COMMIT is in doubt; a
			 * target without a whole COMMIT runs nothing). */
			qb_log(LOG_WARNING, "domain %s: migration %s node=%u is confirmed "
			       "fenced; breaking the stream", j->name,
			       j->role == REC_MIG_SOURCE ? "target" : "source", j->peer);
			xport_abort(j->xs);
			j->aborted = true;
		}
		if (!j->finished && j->xs && !j->aborted &&
		    now - j->begun_ms > (uint64_t)d->cfg.mig_timeout_ms + MIG_GRACE_MS) {
			qb_log(LOG_ERR, "domain %s: migration mig_id=%llu hangs past its timeout; "
			       "breaking the stream", j->name, (unsigned long long)j->mig_id);
			xport_abort(j->xs);
			j->aborted = true;
		}
		if (j->finished) {
			*pp = j->next;
			j->next = done;
			done = j;
		} else {
			pp = &j->next;
		}
	}
	for (cp = &m->conns; *cp;) {
		struct mconn *c = *cp;

		if (c->done) {
			*cp = c->next;
			c->next = cdone;
			cdone = c;
		} else {
			cp = &c->next;
		}
	}
	pthread_mutex_unlock(&m->lock);

	while (cdone) {
		struct mconn *c = cdone;

		cdone = c->next;
		pthread_join(c->th, NULL);
		free(c);
	}
	while (done) {
		struct mjob *j = done;
		struct rec_mig *e;

		done = j->next;
		if (j->thread)
			pthread_join(j->th, NULL);
		e = tab_find(m, j->name, j->mig_id, j->role);
		if (e) {
			e->outcome = j->outcome;
			e->downtime_ms = j->downtime_ms;
			snprintf(m->why[e - m->tab], XH_REASON_MAX, "%s", j->why);
		}
		qb_log(j->outcome == REC_MIG_DONE ? LOG_NOTICE : LOG_WARNING,
		       "domain %s: migration mig_id=%llu as %s with node=%u: %s%s%s "
		       "(rounds=%u bytes=%llu seconds=%.3f)",
		       j->name, (unsigned long long)j->mig_id,
		       j->role == REC_MIG_SOURCE ? "source" : "target", j->peer,
		       j->outcome == REC_MIG_DONE ? "done" :
		       j->outcome == REC_MIG_ABORTED ? "aborted" :
		       j->outcome == REC_MIG_IN_DOUBT ? "in doubt" : "failed",
		       j->why[0] ? ": " : "", j->why, j->prog.round,
		       (unsigned long long)j->prog.bytes_sent, (now - j->begun_ms) / 1000.0);
		job_free(j);
		changed = true;
	}
	if (changed)
		xd_kick(d);
}

static int32_t wake_cb(int32_t fd, int32_t revents, void *arg)
{
	struct xd *d = arg;
	char buf[256];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	reap(d);
	return 0;
}

void xd_mig_tick(struct xd *d)
{
	if (d->mig)
		reap(d);
}

static void read_cluster_name(struct xd_migr *m)
{
	cmap_handle_t cm;
	char *v = NULL;

	snprintf(m->cluster_name, sizeof(m->cluster_name), "xenha");
	if (cmap_initialize(&cm) != CS_OK)
		return;
	if (cmap_get_string(cm, "totem.cluster_name", &v) == CS_OK && v && v[0])
		snprintf(m->cluster_name, sizeof(m->cluster_name), "%s", v);
	free(v);
	cmap_finalize(cm);
}

int xd_mig_init(struct xd *d)
{
	struct xd_migr *m = calloc(1, sizeof(*m));
	char addr[64] = "";
	int rc;

	if (!m)
		return -ENOMEM;
	m->d = d;
	m->lfd = -1;
	m->wake[0] = m->wake[1] = m->stop[0] = m->stop[1] = -1;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	d->mig = m;
	if (pipe2(m->wake, O_CLOEXEC | O_NONBLOCK) < 0 || pipe2(m->stop, O_CLOEXEC) < 0)
		return -errno;
	qb_loop_poll_add(d->loop, QB_LOOP_MED, m->wake[0], POLLIN, d, wake_cb);
	read_cluster_name(m);

	rc = xport_key_load(d->cfg.mig_keyfile, &m->key, m->key_err, sizeof(m->key_err));
	if (rc < 0) {
		qb_log(LOG_WARNING, "live migration disabled: %s (hactl keygen makes a key; "
		       "copy it to every host)", m->key_err);
		return 0;
	}
	if (d->cfg.mig_address[0])
		snprintf(addr, sizeof(addr), "%s", d->cfg.mig_address);
	else if (xh_nodelist_string(d->nodeid, "ring0_addr", addr, sizeof(addr)) < 0)
		addr[0] = '\0';
	rc = xport_listen(addr[0] ? addr : NULL, (uint16_t)d->cfg.mig_port, &m->lfd);
	if (rc < 0) {
		snprintf(m->key_err, sizeof(m->key_err), "cannot listen on %s port %u: %s",
			 addr[0] ? addr : "any address", d->cfg.mig_port, strerror(-rc));
		qb_log(LOG_ERR, "live migration disabled: %s", m->key_err);
		xport_key_free(m->key);
		m->key = NULL;
		return 0;
	}
	if (pthread_create(&m->listener, NULL, listen_thread, m) != 0) {
		close(m->lfd);
		m->lfd = -1;
		return -EAGAIN;
	}
	m->listening = true;
	qb_log(LOG_INFO, "live migration: listening on %s port %u (cluster %s)",
	       addr[0] ? addr : "any address", d->cfg.mig_port, m->cluster_name);
	return 0;
}

void xd_mig_fini(struct xd *d)
{
	struct xd_migr *m = d->mig;
	char c = 1;

	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stopping = true;
	for (struct mjob *j = m->jobs; j; j = j->next)
		if (j->xs)
			xport_abort(j->xs);
	for (struct mconn *k = m->conns; k; k = k->next)
		if (k->xs)
			xport_abort(k->xs);
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	if (m->listening) {
		if (write(m->stop[1], &c, 1) < 0)
			qb_log(LOG_ERR, "migration listener stop: %s", strerror(errno));
		pthread_join(m->listener, NULL);
	}
	/* every thread ends once its stream is broken; the driver bounds the
	 * rest.  Connections first: a receiving one uses its job. */
	for (;;) {
		struct mconn *k;

		pthread_mutex_lock(&m->lock);
		k = m->conns;
		if (k) {
			m->conns = k->next;
			if (k->xs)
				xport_abort(k->xs);
		}
		pthread_mutex_unlock(&m->lock);
		if (!k)
			break;
		pthread_join(k->th, NULL);
		free(k);
	}
	for (;;) {
		struct mjob *j;

		pthread_mutex_lock(&m->lock);
		j = m->jobs;
		if (j) {
			m->jobs = j->next;
			if (j->xs)
				xport_abort(j->xs);
		}
		pthread_mutex_unlock(&m->lock);
		if (!j)
			break;
		if (j->thread)
			pthread_join(j->th, NULL);
		job_free(j);
	}
	if (d->loop && m->wake[0] >= 0)
		qb_loop_poll_del(d->loop, m->wake[0]);
	for (int i = 0; i < 2; i++) {
		if (m->wake[i] >= 0)
			close(m->wake[i]);
		if (m->stop[i] >= 0)
			close(m->stop[i]);
	}
	if (m->lfd >= 0)
		close(m->lfd);
	xport_key_free(m->key);
	free(m->tab);
	free(m->why);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
	free(m);
	d->mig = NULL;
}

/* Start a send (REC_MIGRATE_SEND) or expect a receive (REC_MIGRATE_RECV). */
void xd_mig_start(struct xd *d, const struct rec_action *a)
{
	struct xd_migr *m = d->mig;
	uint8_t role = a->type == REC_MIGRATE_SEND ? REC_MIG_SOURCE : REC_MIG_TARGET;
	const struct xh_domain *dom = xh_state_domain(&d->st, a->name);
	struct rec_mig *e;
	struct mjob *j;

	if (!m || !dom || tab_find(m, a->name, a->mig_id, role))
		return;
	e = tab_add(m, a->name, a->mig_id, role);
	j = calloc(1, sizeof(*j));
	if (!e || !j) {
		free(j);
		return;        /* tried again on the next pass */
	}
	j->m = m;
	j->role = role;
	snprintf(j->name, sizeof(j->name), "%s", a->name);
	j->mig_id = a->mig_id;
	j->generation = a->generation;
	j->peer = a->peer;
	j->begun_ms = mono_ms();
	j->memory_mb = dom->memory_mb;
	if (role == REC_MIG_TARGET && dom->xlcfg && !(j->xlcfg = strdup(dom->xlcfg))) {
		e->outcome = REC_MIG_FAILED;
		free(j);
		return;
	}
	if (!m->key) {
		j->finished = true;
		j->outcome = role == REC_MIG_SOURCE ? REC_MIG_ABORTED : REC_MIG_FAILED;
		snprintf(j->why, sizeof(j->why), "live migration disabled on node=%u: %.80s",
			 d->nodeid, m->key_err);
	} else if (role == REC_MIG_SOURCE &&
		   xh_nodelist_string(a->peer, "ring0_addr", j->addr, sizeof(j->addr)) < 0) {
		j->finished = true;
		j->outcome = REC_MIG_ABORTED;
		snprintf(j->why, sizeof(j->why), "no ring0_addr for node=%u in corosync's nodelist",
			 a->peer);
	}
	qb_log(LOG_INFO, "domain %s: migration mig_id=%llu %s node=%u%s%s", a->name,
	       (unsigned long long)a->mig_id, role == REC_MIG_SOURCE ? "sending to" :
	       "expecting from", a->peer, j->addr[0] ? " at " : "", j->addr);
	pthread_mutex_lock(&m->lock);
	if (!j->finished && role == REC_MIG_SOURCE) {
		if (pthread_create(&j->th, NULL, send_thread, j) == 0) {
			j->thread = true;
		} else {
			j->finished = true;
			j->outcome = REC_MIG_ABORTED;
			snprintf(j->why, sizeof(j->why), "cannot start a thread");
		}
	}
	j->next = m->jobs;
	m->jobs = j;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	if (j->finished)
		wake_main(m);
}

static bool paused_here(const struct rec_local *local, uint32_t n, const char *name)
{
	for (uint32_t i = 0; i < n; i++)
		if (!local[i].running && strcmp(local[i].name, name) == 0)
			return true;
	return false;
}

/*
 * The table for rec_compute_mig.  Entries the state no longer names (the
 * domain's mig_id moved on) and whose thread has ended are dropped first,
 * except an IN_DOUBT send while its paused copy is still here: reconcile
 * needs it to destroy that copy once the domain is another host's.  An
 * unclaimed expected receive the state no longer names fails.
 */
void xd_mig_table(struct xd *d, const struct rec_local *local, uint32_t n_local,
		  const struct rec_mig **tab, uint32_t *n)
{
	struct xd_migr *m = d->mig;
	uint32_t k = 0;
	bool dropped = false;

	*tab = NULL;
	*n = 0;
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	for (struct mjob *j = m->jobs; j; j = j->next) {
		const struct xh_domain *dom = xh_state_domain(&d->st, j->name);

		if (!j->finished && j->role == REC_MIG_TARGET && !j->claimed &&
		    (!dom || dom->mig_id != j->mig_id)) {
			j->finished = true;
			j->outcome = REC_MIG_FAILED;
			snprintf(j->why, sizeof(j->why), "no longer expected");
			dropped = true;
		}
	}
	pthread_mutex_unlock(&m->lock);
	if (dropped)
		wake_main(m);
	for (uint32_t i = 0; i < m->n_tab; i++) {
		const struct rec_mig *e = &m->tab[i];
		const struct xh_domain *dom = xh_state_domain(&d->st, e->name);

		if (e->outcome != REC_MIG_IN_PROGRESS && (!dom || dom->mig_id != e->mig_id) &&
		    !(e->outcome == REC_MIG_IN_DOUBT && paused_here(local, n_local, e->name)))
			continue;
		memmove(m->why[k], m->why[i], XH_REASON_MAX);
		m->tab[k++] = *e;
	}
	m->n_tab = k;
	*tab = m->tab;
	*n = m->n_tab;
}

const char *xd_mig_why(struct xd *d, const char *name, uint64_t mig_id, uint8_t role)
{
	struct rec_mig *e = d->mig ? tab_find(d->mig, name, mig_id, role) : NULL;

	if (!e || (e->outcome != REC_MIG_ABORTED && e->outcome != REC_MIG_FAILED))
		return NULL;
	return d->mig->why[e - d->mig->tab][0] ? d->mig->why[e - d->mig->tab] : NULL;
}

bool xd_mig_enabled(const struct xd *d, char *why, size_t len)
{
	if (d->mig && d->mig->key)
		return true;
	snprintf(why, len, "%s", d->mig ? d->mig->key_err : "not started");
	return false;
}

/* ---- what every host shows of migrations (hactl migrate, node standby) ---- */

struct migview {
	char *key;
	/* the attempt under way (mig_id 0: none known) */
	uint64_t mig_id;
	uint32_t source, target;
	bool have_prog;
	struct wire_progress prog;
	uint64_t prog_at;               /* monotonic ms the progress arrived */
	/* the last attempt that ended */
	uint64_t last_mig_id;
	bool last_done;
	uint32_t last_source, last_target, last_downtime_ms;
	char last_reason[XH_REASON_MAX];
};

static struct migview *view_get(struct xd *d, const char *name)
{
	struct migview *v;

	if (!d->migview)
		d->migview = qb_hashtable_create(256);
	if (!d->migview)
		return NULL;
	v = qb_map_get(d->migview, name);
	if (v)
		return v;
	v = calloc(1, sizeof(*v));
	if (!v || !(v->key = strdup(name))) {
		free(v);
		return NULL;
	}
	qb_map_put(d->migview, v->key, v);
	return v;
}

void xd_mig_view_progress(struct xd *d, const struct wire_progress *p)
{
	const struct xh_domain *dom = xh_state_domain(&d->st, p->name);
	struct migview *v;

	/* only for the attempt the state names: a late frame says nothing */
	if (!dom || dom->mig_id != p->mig_id || dom->owner != p->nodeid)
		return;
	v = view_get(d, p->name);
	if (!v)
		return;
	v->mig_id = p->mig_id;
	v->source = p->nodeid;
	v->target = p->target;
	v->prog = *p;
	v->have_prog = true;
	v->prog_at = mono_ms();
}

void xd_mig_view_applied(struct xd *d, const struct xh_cmd *c, uint64_t seq)
{
	struct migview *v;

	if (c->type != XH_CMD_MIGRATE_BEGIN && c->type != XH_CMD_MIGRATE_DONE &&
	    c->type != XH_CMD_MIGRATE_ABORTED)
		return;
	v = view_get(d, c->u.mig.name);
	if (!v)
		return;
	if (c->type == XH_CMD_MIGRATE_BEGIN) {
		const struct xh_domain *dom = xh_state_domain(&d->st, c->u.mig.name);

		v->mig_id = dom ? dom->mig_id : seq;
		v->source = c->u.mig.source;
		v->target = c->u.mig.target;
		v->have_prog = false;
		return;
	}
	v->last_mig_id = c->u.mig.mig_id;
	v->last_done = c->type == XH_CMD_MIGRATE_DONE;
	v->last_source = c->type == XH_CMD_MIGRATE_DONE ? v->source : c->u.mig.source;
	v->last_target = c->type == XH_CMD_MIGRATE_DONE ? c->u.mig.target : v->target;
	v->last_downtime_ms = c->u.mig.downtime_ms;
	snprintf(v->last_reason, sizeof(v->last_reason), "%s", c->u.mig.reason);
	v->mig_id = 0;
	v->have_prog = false;
}

static int jput(struct json_object *o, const char *k, struct json_object *v)
{
	if (!v)
		return -ENOMEM;
	json_object_object_add(o, k, v);
	return 0;
}

/* {"mig_id", "source", "target", "progress": {...} | absent,
 *  "last": {"mig_id", "outcome": "done"|"aborted", "downtime_ms", "reason"}}
 * or NULL when nothing is known of the domain's migrations. */
struct json_object *xd_mig_view_json(struct xd *d, const char *name)
{
	struct migview *v = d->migview ? qb_map_get(d->migview, name) : NULL;
	const struct xh_domain *dom = xh_state_domain(&d->st, name);
	struct json_object *o, *p;
	int rc = 0;

	if (!v)
		return NULL;
	o = json_object_new_object();
	if (!o)
		return NULL;
	if (dom && dom->mig_id && v->mig_id == dom->mig_id) {
		rc |= jput(o, "mig_id", json_object_new_int64((int64_t)v->mig_id));
		if (v->have_prog) {
			p = json_object_new_object();
			rc |= jput(o, "progress", p);
			if (p) {
				rc |= jput(p, "round", json_object_new_int64(v->prog.round));
				rc |= jput(p, "bytes_sent", json_object_new_int64((int64_t)v->prog.bytes_sent));
				rc |= jput(p, "pages_total", json_object_new_int64((int64_t)v->prog.pages_total));
				rc |= jput(p, "pages_left", json_object_new_int64((int64_t)v->prog.pages_left));
				rc |= jput(p, "dirty_kib_s", json_object_new_int64((int64_t)v->prog.dirty_kib_s));
				rc |= jput(p, "elapsed_ms", json_object_new_int64(v->prog.elapsed_ms));
				rc |= jput(p, "age_ms", json_object_new_int64((int64_t)(mono_ms() - v->prog_at)));
			}
		}
	}
	if (v->last_mig_id) {
		p = json_object_new_object();
		rc |= jput(o, "last", p);
		if (p) {
			rc |= jput(p, "mig_id", json_object_new_int64((int64_t)v->last_mig_id));
			rc |= jput(p, "outcome", json_object_new_string(v->last_done ? "done" : "aborted"));
			rc |= jput(p, "source", json_object_new_int64(v->last_source));
			rc |= jput(p, "target", json_object_new_int64(v->last_target));
			rc |= jput(p, "downtime_ms", json_object_new_int64(v->last_downtime_ms));
			rc |= jput(p, "reason", json_object_new_string(v->last_reason));
		}
	}
	if (rc) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

void xd_mig_view_free(struct xd *d)
{
	qb_map_iter_t *it;
	void *val;

	if (!d->migview)
		return;
	it = qb_map_iter_create(d->migview);
	while (qb_map_iter_next(it, &val)) {
		struct migview *v = val;

		free(v->key);
		free(v);
	}
	qb_map_iter_free(it);
	qb_map_destroy(d->migview);
	d->migview = NULL;
}
