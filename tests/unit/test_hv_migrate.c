/*
 * Live migration of the sim hypervisor driver (src/drivers/hv_sim.c,
 * src/sim/xenha-simdom.c): two driver instances (two run_dirs, one shared
 * image dir) in this process, a domain started on A, migrate_send on A and
 * migrate_recv on B in two threads over a socketpair, optionally through a
 * relay thread that breaks, corrupts, throttles or drops the stream.
 *
 * After each case: which host runs the domain (processes and list()), the
 * records in the image, and xenha-oracle's verdict.  Every domain process is
 * SIGKILLed by pidfd in the teardown.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "xenha/config.h"
#include "xenha/hv.h"

#if !defined(SIMDOM_PATH) || !defined(ORACLE_PATH)
#error "SIMDOM_PATH and ORACLE_PATH must name the built programs"
#endif

#define WAIT_MS   20000u
#define MAX_TRACK 16
#define MAX_PROG  256

static const struct hv_ops *ops = &hv_sim_ops;

#define SETF(dst, ...) \
	assert_true((size_t)snprintf((dst), sizeof(dst), __VA_ARGS__) < sizeof(dst))

struct host {
	char run[PATH_MAX];
	struct xh_config cfg;
	struct hv *h;
	int nev;
	int last_reason;
	char last_detail[160];
};

struct fx {
	char dir[PATH_MAX];
	char img[PATH_MAX];
	struct host a, b;
	pid_t pid[MAX_TRACK];
	int pidfd[MAX_TRACK];
	int ntrack;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void on_end(void *arg, const char *name, uint64_t gen, int reason, const char *detail)
{
	struct host *h = arg;

	(void)name;
	(void)gen;
	h->nev++;
	h->last_reason = reason;
	snprintf(h->last_detail, sizeof(h->last_detail), "%s", detail ? detail : "");
}

static void track(struct fx *f, pid_t pid)
{
	for (int i = 0; i < f->ntrack; i++)
		if (f->pid[i] == pid)
			return;
	assert_true(f->ntrack < MAX_TRACK);
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	assert_true(fd >= 0);
	f->pid[f->ntrack] = pid;
	f->pidfd[f->ntrack] = fd;
	f->ntrack++;
}

static bool alive(pid_t pid)
{
	char path[64], buf[512];
	FILE *fp;
	bool ok = false;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fp = fopen(path, "r");
	if (fp == NULL)
		return false;
	if (fgets(buf, sizeof(buf), fp) != NULL) {
		char *p = strrchr(buf, ')');
		ok = p != NULL && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
	}
	fclose(fp);
	return ok;
}

/* pid of `name` in list(), 0 if absent; *running its flag. */
static pid_t listed(struct fx *f, struct host *h, const char *name, bool *running)
{
	struct hv_domain_info *v;
	uint32_t n;
	pid_t pid = 0;

	assert_int_equal(ops->list(h->h, &v, &n), 0);
	for (uint32_t i = 0; i < n; i++) {
		if (strcmp(v[i].name, name) == 0) {
			pid = v[i].pid;
			if (running != NULL)
				*running = v[i].running;
		}
	}
	free(v);
	if (pid > 0)
		track(f, pid);
	return pid;
}

static void host_open(struct fx *f, struct host *h, const char *sub, uint32_t hold_mb, uint32_t dirty)
{
	SETF(h->run, "%s/%s", f->dir, sub);
	snprintf(h->cfg.hypervisor, sizeof(h->cfg.hypervisor), "sim");
	SETF(h->cfg.sim_run_dir, "%s", h->run);
	SETF(h->cfg.sim_image_dir, "%s", f->img);
	SETF(h->cfg.sim_simdom, "%s", SIMDOM_PATH);
	h->cfg.sim_memory_mb = 2048;
	h->cfg.sim_hold_max_mb = hold_mb;
	h->cfg.sim_dirty_kib_s = dirty;
	h->cfg.sim_record_ms = 10;
	h->cfg.start_timeout_ms = WAIT_MS;
	h->cfg.stop_timeout_ms = 5000;
	assert_int_equal(ops->open(&h->cfg, on_end, h, &h->h), 0);
}

static void hosts_open(struct fx *f, uint32_t hold_mb, uint32_t dirty)
{
	host_open(f, &f->a, "runA", hold_mb, dirty);
	host_open(f, &f->b, "runB", hold_mb, dirty);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(p);
	return 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/xenha-test-hv-mig.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	if ((size_t)snprintf(f->img, sizeof(f->img), "%.200s/images", f->dir) >= sizeof(f->img))
		return -1;
	if (mkdir(f->img, 0755) < 0)
		return -1;
	*state = f;
	return 0;
}

/* Every process whose command line names this case's directory (sim
 * domains the case did not track, e.g. a target started by migrate_recv):
 * SIGKILL, then wait until it is gone.  By PID, after checking its command
 * line; the directory is unique to the case. */
static void kill_leftovers(const struct fx *f)
{
	DIR *proc = opendir("/proc");
	struct dirent *e;

	if (proc == NULL)
		return;
	while ((e = readdir(proc)) != NULL) {
		char path[64], cmd[4096];
		ssize_t n;
		pid_t pid;
		int fd;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		pid = (pid_t)atoi(e->d_name);
		if (pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, cmd, sizeof(cmd) - 1);
		close(fd);
		if (n <= 0)
			continue;
		for (ssize_t i = 0; i < n; i++)
			if (cmd[i] == '\0')
				cmd[i] = ' ';
		cmd[n] = '\0';
		if (strstr(cmd, f->dir) == NULL)
			continue;
		fd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (fd < 0)
			continue;
		if (syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) == 0) {
			struct pollfd p = { .fd = fd, .events = POLLIN };

			poll(&p, 1, (int)WAIT_MS);
			waitpid(pid, NULL, WNOHANG);
		}
		close(fd);
	}
	closedir(proc);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->a.h != NULL)
		ops->close(f->a.h);
	if (f->b.h != NULL)
		ops->close(f->b.h);
	for (int i = 0; i < f->ntrack; i++) {
		syscall(SYS_pidfd_send_signal, f->pidfd[i], SIGKILL, NULL, 0);
		struct pollfd p = { .fd = f->pidfd[i], .events = POLLIN };
		poll(&p, 1, (int)WAIT_MS);
		waitpid(f->pid[i], NULL, WNOHANG);
		close(f->pidfd[i]);
	}
	kill_leftovers(f);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* ---- the image ---- */

struct rec {
	char inc[64];
	char ev[16];
	char from[64];
	uint64_t mono;
};

/* All records of the image (at most max). */
static int read_recs(struct fx *f, const char *name, struct rec *r, int max)
{
	char path[PATH_MAX], line[512];
	int n = 0;
	FILE *fp;

	SETF(path, "%s/%s.img", f->img, name);
	fp = fopen(path, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL && n < max) {
		uint64_t seq, wall, gen;
		uint32_t node;
		int used = 0;

		assert_true(strlen(line) < 256);
		memset(&r[n], 0, sizeof(r[n]));
		assert_int_equal(sscanf(line, "inc=%63s seq=%" SCNu64 " mono_ns=%" SCNu64 " wall_ns=%" SCNu64
					" node=%" SCNu32 " gen=%" SCNu64 " ev=%15s%n", r[n].inc, &seq,
					&r[n].mono, &wall, &node, &gen, r[n].ev, &used), 7);
		if (strcmp(r[n].ev, "migrate-in") == 0)
			assert_int_equal(sscanf(line + used, " from=%63s", r[n].from), 1);
		else
			assert_string_equal(line + used, "\n");
		n++;
	}
	fclose(fp);
	return n;
}

#define MAX_RECS 20000

/* Index of the last record of `inc` with event `ev` (NULL: any), or -1. */
static int last_of(const struct rec *r, int n, const char *inc, const char *ev)
{
	for (int i = n - 1; i >= 0; i--)
		if (strcmp(r[i].inc, inc) == 0 && (ev == NULL || strcmp(r[i].ev, ev) == 0))
			return i;
	return -1;
}

static int count_of(const struct rec *r, int n, const char *inc)
{
	int c = 0;

	for (int i = 0; i < n; i++)
		c += strcmp(r[i].inc, inc) == 0;
	return c;
}

/* Wait (bounded) until `inc` has a tick after its record `after`. */
static void wait_tick_after(struct fx *f, const char *name, const char *inc, int after)
{
	static struct rec r[MAX_RECS];
	uint64_t deadline = now_ms() + WAIT_MS;

	for (;;) {
		int n = read_recs(f, name, r, MAX_RECS);
		for (int i = after + 1; i < n; i++)
			if (strcmp(r[i].inc, inc) == 0 && strcmp(r[i].ev, "tick") == 0)
				return;
		assert_true(now_ms() < deadline);
		poll(NULL, 0, 10);
	}
}

static int oracle(struct fx *f)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(ORACLE_PATH, "xenha-oracle", f->img, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static bool log_has(struct host *h, const char *name, const char *what)
{
	char path[PATH_MAX], line[512];
	bool found = false;
	FILE *fp;

	SETF(path, "%s/%s.log", h->run, name);
	fp = fopen(path, "r");
	if (fp == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), fp) != NULL)
		found = strstr(line, what) != NULL;
	fclose(fp);
	return found;
}

/* Dispatch until host has `want` end events (bounded). */
static void wait_ends(struct host *h, int want)
{
	uint64_t deadline = now_ms() + WAIT_MS;

	while (h->nev < want && now_ms() < deadline) {
		struct pollfd p = { .fd = ops->get_fd(h->h), .events = POLLIN };
		poll(&p, 1, 100);
		assert_int_equal(ops->dispatch(h->h), 0);
	}
	assert_int_equal(h->nev, want);
}

/* ---- the relay ---- */

enum { F_ROUND = 2, F_PAGE = 3, F_STATE = 4, F_RUNNING = 17 };

struct relay {
	int a, b;                  /* A side, B side */
	uint64_t rate_bps;         /* A->B throttle, 0 = none */
	int close_at_round;        /* close when ROUND n is seen A->B */
	int close_at_page;         /* close at the n-th PAGE A->B */
	bool close_at_state;
	int flip_page;             /* flip a byte in the n-th PAGE A->B */
	bool drop_running;         /* drop RUNNING B->A and close */
	pthread_t t;
	int pages;
	uint64_t t0, sent;
	bool broke;                /* the relay broke the stream */
};

struct dir {
	int from, to;
	unsigned char buf[16 + 8 + 65536];
	size_t len;
};

/* Handle complete frames in d; false: stop relaying. */
static bool relay_frames(struct relay *r, struct dir *d, bool a2b)
{
	while (d->len >= 16) {
		size_t flen = 16 + ((size_t)d->buf[8] | (size_t)d->buf[9] << 8 |
				    (size_t)d->buf[10] << 16 | (size_t)d->buf[11] << 24);
		unsigned type = d->buf[4];
		if (flen > sizeof(d->buf))
			return false;
		if (d->len < flen)
			return true;
		if (a2b && type == F_PAGE) {
			r->pages++;
			if (r->close_at_page && r->pages == r->close_at_page)
				return false;
			if (r->flip_page && r->pages == r->flip_page)
				d->buf[16 + 8 + 100] ^= 0x01;
		}
		if (a2b && type == F_ROUND && r->close_at_round &&
		    (d->buf[16] | d->buf[17] << 8) == r->close_at_round)
			return false;
		if (a2b && type == F_STATE && r->close_at_state)
			return false;
		if (!a2b && type == F_RUNNING && r->drop_running)
			return false;
		size_t off = 0;
		while (off < flen) {
			ssize_t w = send(d->to, d->buf + off, flen - off, MSG_NOSIGNAL);
			if (w <= 0)
				return false;
			off += (size_t)w;
		}
		if (a2b && r->rate_bps) {
			/* pace: sent bytes may not run ahead of rate * time */
			if (r->t0 == 0)
				r->t0 = now_ms();
			r->sent += flen;
			uint64_t due = r->t0 + r->sent * 1000u / r->rate_bps, now = now_ms();
			if (due > now)
				poll(NULL, 0, (int)(due - now));
		}
		memmove(d->buf, d->buf + flen, d->len - flen);
		d->len -= flen;
	}
	return true;
}

static void *relay_main(void *arg)
{
	struct relay *r = arg;
	static struct dir dirs[2];
	uint64_t deadline = now_ms() + 120000;
	bool on = true;

	memset(dirs, 0, sizeof(dirs));
	dirs[0].from = r->a;
	dirs[0].to = r->b;
	dirs[1].from = r->b;
	dirs[1].to = r->a;
	while (on && now_ms() < deadline) {
		struct pollfd p[2] = { { .fd = r->a, .events = POLLIN }, { .fd = r->b, .events = POLLIN } };
		if (poll(p, 2, 100) <= 0)
			continue;
		for (int i = 0; i < 2 && on; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			struct dir *d = &dirs[i];
			ssize_t n = recv(d->from, d->buf + d->len, sizeof(d->buf) - d->len, MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN)) {
				on = false;
				break;
			}
			if (n > 0) {
				d->len += (size_t)n;
				if (!relay_frames(r, d, i == 0)) {
					r->broke = true;
					on = false;
				}
			}
		}
	}
	shutdown(r->a, SHUT_RDWR);
	shutdown(r->b, SHUT_RDWR);
	close(r->a);
	close(r->b);
	return NULL;
}

/* ---- one migration ---- */

struct prog {
	int n;
	struct hv_migrate_progress p[MAX_PROG];
	int nfinal;
	struct hv_migrate_progress final;
};

struct sender {
	struct fx *f;
	int fd;
	struct hv_migrate_opts o;
	int rc, outcome;
	struct prog prog;
};

struct receiver {
	struct fx *f;
	int fd;
	int rc;
	struct prog prog;
};

static void on_progress(void *arg, const struct hv_migrate_progress *p)
{
	struct prog *g = arg;

	if (p->final) {
		g->nfinal++;
		g->final = *p;
	} else if (g->n < MAX_PROG) {
		g->p[g->n++] = *p;
	}
}

static void *send_main(void *arg)
{
	struct sender *s = arg;

	s->rc = ops->migrate_send(s->f->a.h, "vm1", s->fd, &s->o, on_progress, &s->prog, &s->outcome);
	close(s->fd);   /* the caller closes the stream after the call */
	return NULL;
}

static void *recv_main(void *arg)
{
	struct receiver *r = arg;
	struct hv_start_req req = { .name = "vm1", .memory_mb = 64, .generation = 2, .nodeid = 2 };

	r->rc = ops->migrate_recv(r->f->b.h, &req, r->fd, on_progress, &r->prog);
	close(r->fd);
	return NULL;
}

struct run {
	struct sender s;
	struct receiver r;
	struct relay relay;
	pthread_t ts, tr;
	bool with_relay;
};

static void mig_start(struct fx *f, struct run *m, const struct hv_migrate_opts *o, const struct relay *rl)
{
	int sp[2], sp2[2];

	m->s.f = m->r.f = f;
	m->s.o = *o;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	m->s.fd = sp[0];
	if (rl != NULL) {
		m->with_relay = true;
		m->relay = *rl;
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp2), 0);
		if (rl->rate_bps) {
			/* small buffers: the throttle, not the socket, sets the pace */
			int sz = 16384;
			for (int i = 0; i < 2; i++) {
				setsockopt(sp[i], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
				setsockopt(sp[i], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
			}
		}
		m->relay.a = sp[1];
		m->relay.b = sp2[0];
		m->r.fd = sp2[1];
		assert_int_equal(pthread_create(&m->relay.t, NULL, relay_main, &m->relay), 0);
	} else {
		m->r.fd = sp[1];
	}
	assert_int_equal(pthread_create(&m->ts, NULL, send_main, &m->s), 0);
	assert_int_equal(pthread_create(&m->tr, NULL, recv_main, &m->r), 0);
}

static void mig_join(struct run *m)
{
	pthread_join(m->ts, NULL);
	pthread_join(m->tr, NULL);
	if (m->with_relay)
		pthread_join(m->relay.t, NULL);
}

static void start_a(struct fx *f, char *inc, size_t len)
{
	static struct rec r[MAX_RECS];
	struct hv_start_req req = { .name = "vm1", .memory_mb = 64, .generation = 1, .nodeid = 1 };

	assert_int_equal(ops->start(f->a.h, &req), 0);
	assert_true(listed(f, &f->a, "vm1", NULL) > 0);
	int n = read_recs(f, "vm1", r, MAX_RECS);
	assert_true(n >= 1);
	snprintf(inc, len, "%s", r[n - 1].inc);
}

/* ABORTED: the source runs again (a tick after the abort, and ev=resume if
 * it had paused), nothing runs on B, the oracle is clean. */
static void check_aborted(struct fx *f, struct run *m, const char *inc_a, pid_t pid_a, bool paused)
{
	static struct rec r[MAX_RECS];

	assert_int_equal(m->s.rc, 0);
	assert_int_equal(m->s.outcome, HV_MIG_ABORTED);
	assert_true(m->r.rc < 0);
	assert_true(alive(pid_a));
	bool running = false;
	assert_int_equal(listed(f, &f->a, "vm1", &running), pid_a);
	assert_true(running);
	assert_int_equal(listed(f, &f->b, "vm1", NULL), 0);
	int n = read_recs(f, "vm1", r, MAX_RECS);
	int res = last_of(r, n, inc_a, "resume");
	int pau = last_of(r, n, inc_a, "pause");
	if (paused) {
		assert_true(pau >= 0 && res > pau);
	} else {
		assert_int_equal(pau, -1);
		assert_int_equal(res, -1);
	}
	wait_tick_after(f, "vm1", inc_a, paused ? res : n - 1);
	/* only A's incarnation ever wrote */
	n = read_recs(f, "vm1", r, MAX_RECS);
	assert_int_equal(count_of(r, n, inc_a), n);
	assert_int_equal(oracle(f), 0);
	assert_int_equal(f->b.nev, 0);
}

/* ---- tests ---- */

static void test_success(void **state)
{
	struct fx *f = *state;
	static struct rec r[MAX_RECS];
	struct hv_migrate_opts o = { .max_rounds = 0, .downtime_ms = 0, .timeout_ms = 60000 };
	struct run m;
	char inc_a[64];

	hosts_open(f, 8, 4096);   /* 8 MiB dirtied at 4 MiB/s */
	start_a(f, inc_a, sizeof(inc_a));
	pid_t pid_a = listed(f, &f->a, "vm1", NULL);
	memset(&m, 0, sizeof(m));
	mig_start(f, &m, &o, NULL);
	mig_join(&m);
	assert_int_equal(m.s.rc, 0);
	assert_int_equal(m.s.outcome, HV_MIG_DONE);
	assert_int_equal(m.r.rc, 0);
	/* progress: rounds and bytes, a final with the downtime */
	assert_true(m.s.prog.n >= 1);
	assert_int_equal(m.s.prog.p[0].round, 1);
	assert_true(m.s.prog.p[0].bytes_sent >= 8u << 20);
	assert_int_equal(m.s.prog.p[0].pages_total, (8u << 20) / (uint64_t)sysconf(_SC_PAGESIZE));
	assert_int_equal(m.s.prog.nfinal, 1);
	assert_true(m.s.prog.final.final);
	assert_true(m.s.prog.final.round >= 2);
	assert_true(m.s.prog.final.bytes_sent > m.s.prog.p[0].bytes_sent);
	assert_int_equal(m.r.prog.nfinal, 1);
	assert_int_equal(m.r.prog.final.downtime_ms, m.s.prog.final.downtime_ms);
	/* runs on B only; A's process is gone, reported as migrated */
	assert_false(alive(pid_a));
	wait_ends(&f->a, 1);
	assert_int_equal(f->a.last_reason, HV_END_STOPPED);
	assert_non_null(strstr(f->a.last_detail, "migrated away"));
	assert_non_null(strstr(f->a.last_detail, "exited status 0"));
	assert_int_equal(listed(f, &f->a, "vm1", NULL), 0);
	bool running = false;
	pid_t pid_b = listed(f, &f->b, "vm1", &running);
	assert_true(pid_b > 0 && running && alive(pid_b));
	assert_true(log_has(&f->b, "vm1", "incoming memory verified"));
	/* records: A ends with ev=pause, B starts with migrate-in from A */
	int n = read_recs(f, "vm1", r, MAX_RECS);
	int pau = last_of(r, n, inc_a, "pause");
	assert_int_equal(last_of(r, n, inc_a, NULL), pau);
	int mi = last_of(r, n, r[n - 1].inc, "migrate-in");
	assert_true(mi > pau);
	assert_string_equal(r[mi].from, inc_a);
	assert_true(r[mi].mono > r[pau].mono);
	assert_int_equal((r[mi].mono - r[pau].mono) / 1000000u, m.s.prog.final.downtime_ms);
	wait_tick_after(f, "vm1", r[mi].inc, mi);
	assert_int_equal(oracle(f), 0);
	/* and back again: B -> A works the same way (the ctl socket of a
	 * migrated-in domain) */
	assert_int_equal(ops->destroy(f->b.h, "vm1"), 0);
	wait_ends(&f->b, 1);
	assert_int_equal(oracle(f), 0);
}

static void test_break_first_round(void **state)
{
	struct fx *f = *state;
	struct hv_migrate_opts o = { .timeout_ms = 60000 };
	struct relay rl = { .close_at_page = 10 };
	struct run m;
	char inc_a[64];

	hosts_open(f, 2, 1024);
	start_a(f, inc_a, sizeof(inc_a));
	pid_t pid_a = listed(f, &f->a, "vm1", NULL);
	memset(&m, 0, sizeof(m));
	mig_start(f, &m, &o, &rl);
	mig_join(&m);
	assert_true(m.relay.broke);
	check_aborted(f, &m, inc_a, pid_a, false);
}

static void test_break_later_round(void **state)
{
	struct fx *f = *state;
	/* throttled below the dirty rate: more rounds than one */
	struct hv_migrate_opts o = { .max_rounds = 5, .downtime_ms = 1, .timeout_ms = 60000 };
	struct relay rl = { .rate_bps = 4u << 20, .close_at_round = 2 };
	struct run m;
	char inc_a[64];

	hosts_open(f, 1, 8192);
	start_a(f, inc_a, sizeof(inc_a));
	pid_t pid_a = listed(f, &f->a, "vm1", NULL);
	memset(&m, 0, sizeof(m));
	mig_start(f, &m, &o, &rl);
	mig_join(&m);
	assert_true(m.relay.broke);
	assert_int_equal(m.s.prog.n, 1);
	assert_true(m.s.prog.p[0].pages_left > 0);
	check_aborted(f, &m, inc_a, pid_a, false);
}

static void test_break_after_pause(void **state)
{
	struct fx *f = *state;
	struct hv_migrate_opts o = { .timeout_ms = 60000 };
	struct relay rl = { .close_at_state = true };
	struct run m;
	char inc_a[64];

	hosts_open(f, 2, 1024);
	start_a(f, inc_a, sizeof(inc_a));
	pid_t pid_a = listed(f, &f->a, "vm1", NULL);
	memset(&m, 0, sizeof(m));
	mig_start(f, &m, &o, &rl);
	mig_join(&m);
	assert_true(m.relay.broke);
	check_aborted(f, &m, inc_a, pid_a, true);
}

static void test_corrupt_byte(void **state)
{
	struct fx *f = *state;
	struct hv_migrate_opts o = { .timeout_ms = 60000 };
	struct relay rl = { .flip_page = 77 };
	struct run m;
	char inc_a[64];

	hosts_open(f, 2, 1024);
	start_a(f, inc_a, sizeof(inc_a));
	pid_t pid_a = listed(f, &f->a, "vm1", NULL);
	memset(&m, 0, sizeof(m));
	mig_start(f, &m, &o, &rl);
	mig_join(&m);
	assert_true(log_has(&f->b, "vm1", "reason=bad-page"));
	check_aborted(f, &m, inc_a, pid_a, false);
	/* and a clean retry then succeeds */
	memset(&m, 0, sizeof(m));
	mig_start(f, &m, &o, NULL);
	mig_join(&m);
	assert_int_equal(m.s.outcome, HV_MIG_DONE);
	assert_int_equal(m.r.rc, 0);
	assert_int_equal(oracle(f), 0);
}

/* RUNNING lost after COMMIT: IN_DOUBT, A paused writing nothing, B runs. */
static void in_doubt(struct fx *f, struct run *m, char *inc_a, size_t len, pid_t *pid_a, pid_t *pid_b)
{
	static struct rec r[MAX_RECS];
	struct hv_migrate_opts o = { .timeout_ms = 60000 };
	struct relay rl = { .drop_running = true };

	hosts_open(f, 2, 1024);
	start_a(f, inc_a, len);
	*pid_a = listed(f, &f->a, "vm1", NULL);
	memset(m, 0, sizeof(*m));
	mig_start(f, m, &o, &rl);
	mig_join(m);
	assert_true(m->relay.broke);
	assert_int_equal(m->s.rc, 0);
	assert_int_equal(m->s.outcome, HV_MIG_IN_DOUBT);
	assert_int_equal(m->r.rc, 0);
	bool running = true;
	assert_int_equal(listed(f, &f->a, "vm1", &running), *pid_a);
	assert_false(running);
	assert_true(alive(*pid_a));
	*pid_b = listed(f, &f->b, "vm1", &running);
	assert_true(*pid_b > 0 && running);
	int n = read_recs(f, "vm1", r, MAX_RECS);
	int pau = last_of(r, n, inc_a, "pause");
	assert_true(pau >= 0);
	assert_int_equal(last_of(r, n, inc_a, NULL), pau);
	/* B ticks on while A stays silent */
	int mi = last_of(r, n, r[n - 1].inc, "migrate-in");
	assert_true(mi > pau);
	char inc_b[64];
	snprintf(inc_b, sizeof(inc_b), "%s", r[mi].inc);
	for (int k = 0; k < 5; k++)
		wait_tick_after(f, "vm1", inc_b, last_of(r, read_recs(f, "vm1", r, MAX_RECS), inc_b, NULL));
	n = read_recs(f, "vm1", r, MAX_RECS);
	assert_int_equal(last_of(r, n, inc_a, NULL), pau);
	assert_int_equal(oracle(f), 0);
	/* a new migration of the paused domain is refused */
	int out = -1;
	assert_int_equal(ops->migrate_send(f->a.h, "vm1", 0, &o, NULL, NULL, &out), -EBUSY);
}

static void test_in_doubt_destroy(void **state)
{
	struct fx *f = *state;
	struct run m;
	char inc_a[64];
	pid_t pid_a, pid_b;

	in_doubt(f, &m, inc_a, sizeof(inc_a), &pid_a, &pid_b);
	assert_int_equal(ops->destroy(f->a.h, "vm1"), 0);
	assert_false(alive(pid_a));
	wait_ends(&f->a, 1);
	assert_int_equal(f->a.last_reason, HV_END_STOPPED);
	assert_true(alive(pid_b));
	assert_int_equal(oracle(f), 0);
}

static void test_in_doubt_resume(void **state)
{
	struct fx *f = *state;
	static struct rec r[MAX_RECS];
	struct run m;
	char inc_a[64];
	pid_t pid_a, pid_b;

	in_doubt(f, &m, inc_a, sizeof(inc_a), &pid_a, &pid_b);
	/* the wrong decision (B runs it): the oracle must catch it */
	assert_int_equal(ops->resume(f->a.h, "vm1"), 0);
	assert_int_equal(ops->resume(f->a.h, "vm1"), -EINVAL);   /* not paused now */
	int n = read_recs(f, "vm1", r, MAX_RECS);
	int res = last_of(r, n, inc_a, "resume");
	assert_true(res >= 0);
	wait_tick_after(f, "vm1", inc_a, res);
	bool running = false;
	assert_int_equal(listed(f, &f->a, "vm1", &running), pid_a);
	assert_true(running);
	assert_int_equal(oracle(f), 1);
}

static void test_target_killed(void **state)
{
	struct fx *f = *state;
	struct hv_migrate_opts o = { .timeout_ms = 60000 };
	struct relay rl = { .rate_bps = 1u << 20 };   /* 2 MiB: about 2 s */
	struct run m;
	char inc_a[64];
	pid_t pid_b = 0;
	bool running = true;

	hosts_open(f, 2, 256);
	start_a(f, inc_a, sizeof(inc_a));
	pid_t pid_a = listed(f, &f->a, "vm1", NULL);
	memset(&m, 0, sizeof(m));
	mig_start(f, &m, &o, &rl);
	uint64_t deadline = now_ms() + WAIT_MS;
	while (pid_b == 0 && now_ms() < deadline) {
		pid_b = listed(f, &f->b, "vm1", &running);
		if (pid_b == 0)
			poll(NULL, 0, 5);
	}
	assert_true(pid_b > 0);
	assert_false(running);   /* incoming: not running yet */
	assert_int_equal(kill(pid_b, SIGKILL), 0);
	mig_join(&m);
	assert_int_equal(m.r.rc, -ECONNABORTED);
	check_aborted(f, &m, inc_a, pid_a, false);
}

static void test_max_rounds(void **state)
{
	struct fx *f = *state;
	static struct rec r[MAX_RECS];
	/* 1 MiB dirtied at 8 MiB/s over a 2 MiB/s stream: never converges */
	struct hv_migrate_opts o = { .max_rounds = 3, .downtime_ms = 50, .timeout_ms = 60000 };
	struct relay rl = { .rate_bps = 2u << 20 };
	struct run m;
	char inc_a[64];

	hosts_open(f, 1, 8192);
	start_a(f, inc_a, sizeof(inc_a));
	memset(&m, 0, sizeof(m));
	mig_start(f, &m, &o, &rl);
	mig_join(&m);
	assert_int_equal(m.s.outcome, HV_MIG_DONE);
	assert_int_equal(m.r.rc, 0);
	assert_int_equal(m.s.prog.n, 3);
	for (int i = 0; i < 3; i++)
		assert_true(m.s.prog.p[i].pages_left > m.s.prog.p[i].pages_total / 2);
	assert_int_equal(m.s.prog.final.round, 4);
	/* the stop-and-copy moved most of 1 MiB at 2 MiB/s: honest downtime */
	assert_true(m.s.prog.final.downtime_ms >= 200);
	int n = read_recs(f, "vm1", r, MAX_RECS);
	int pau = last_of(r, n, inc_a, "pause");
	int mi = last_of(r, n, r[n - 1].inc, "migrate-in");
	assert_int_equal((r[mi].mono - r[pau].mono) / 1000000u, m.s.prog.final.downtime_ms);
	assert_int_equal(oracle(f), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_success, setup, teardown),
		cmocka_unit_test_setup_teardown(test_break_first_round, setup, teardown),
		cmocka_unit_test_setup_teardown(test_break_later_round, setup, teardown),
		cmocka_unit_test_setup_teardown(test_break_after_pause, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_doubt_destroy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_doubt_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_target_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_rounds, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
