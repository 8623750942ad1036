/*
 * The "sim" hypervisor driver: a TEST DOUBLE for a Xen host, for the test
 * suites and the demo only.  Its domains are real processes
 * (xenha-simdom), one per domain, that append records to image files on a
 * shared directory; see docs/sim.md.
 *
 * Files:
 *   run_dir/NAME.pid   "pid starttime generation incarnation memory_mb\n",
 *                      written atomically (tmp + rename).  starttime is
 *                      field 22 of /proc/PID/stat and guards against PID
 *                      reuse.  run_dir is private to the host.
 *   run_dir/NAME.log   the domain's stderr (appended).
 *   image_dir/NAME.img the domain's records (shared by all hosts).
 *
 * Events: each watched domain has a pidfd in the driver's epoll set; a
 * pidfd becomes readable when its process exits (and stays readable after
 * it is reaped), so dispatch() reports every end exactly once, including
 * ends of domains that shutdown()/destroy() already reaped.
 *
 * Reaping uses waitid(P_PIDFD): it collects the status if the process is
 * our child (we started it, or the daemon process started it through an
 * earlier driver instance) and fails with ECHILD otherwise (adopted after a
 * daemon restart: the status is unknown and the image's last record tells a
 * clean end from a crash).  The daemon must therefore not reap children
 * with waitpid(-1) nor set SIGCHLD to SIG_IGN.
 *
 * Domains outlive the daemon: they run in their own session, close() does
 * not stop them, and list() adopts them again after a restart.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "xenha/config.h"
#include "xenha/hv.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define SIM_PROGRAM_NAME   "xenha-simdom"
#define SIM_INC_MAX        64       /* incarnation id incl. NUL */
#define SIM_PATH_MAX       (CFG_PATH_MAX + XH_NAME_MAX + 16)
#define SIM_KILL_WAIT_MS   10000u   /* how long a SIGKILLed process may take to go */
#define SIM_READY_FD       3        /* the ready pipe's fd in the domain */
#define SIM_IMAGE_TAIL     65536    /* bytes of an image read to find the last record */
#define SIM_DETAIL_MAX     128

struct sim_dom {
	struct sim_dom *next;
	uint64_t id;                 /* epoll key; never reused by an instance */
	char name[XH_NAME_MAX];
	char inc[SIM_INC_MAX];
	uint64_t generation;
	uint32_t memory_mb;
	pid_t pid;
	unsigned long long starttime;
	int pidfd;
	bool stopping;               /* we asked it to stop, or destroyed it */
	bool incoming;               /* migrate_recv: not running yet (pidfd may be -1) */
	bool migrating;              /* migrate_send in progress */
	bool migrated;               /* migrated away: ended as HV_END_STOPPED */
	bool paused;                 /* in-doubt migration: paused */
	bool reaped;                 /* status collected, or known uncollectable */
	bool status_known;
	int exit_code;               /* si_code: CLD_EXITED / CLD_KILLED / CLD_DUMPED */
	int exit_status;             /* si_status: exit status or signal */
};

struct hv {
	char run_dir[CFG_PATH_MAX];
	char image_dir[CFG_PATH_MAX];
	char program[CFG_PATH_MAX];
	uint64_t memory_mb;
	uint32_t hold_max_mb;
	uint32_t dirty_kib_s;
	uint32_t record_ms;
	uint32_t start_timeout_ms;
	hv_end_cb cb;
	void *cb_arg;
	int epfd;
	struct sim_dom *doms;
	uint64_t next_id;
	pthread_mutex_t mu;          /* guards doms, next_id and the entries */
};

/* ---- small helpers ---- */

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int sim_path(char *buf, size_t len, const char *dir, const char *prefix,
		    const char *name, const char *suffix)
{
	int n = snprintf(buf, len, "%s/%s%s%s", dir, prefix, name, suffix);

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[CFG_PATH_MAX];
	struct stat st;
	size_t n = strnlen(path, sizeof(buf));

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char saved = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		buf[i] = saved;
	}
	if (stat(path, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int sim_pidfd_open(pid_t pid)
{
	long fd = syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : (int)fd;
}

static int sim_pidfd_signal(int pidfd, int sig)
{
	if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
		return errno == ESRCH ? 0 : -errno;  /* already gone is fine */
	return 0;
}

/* Wait until fd is readable: 1 readable, 0 timed out, -errno. */
static int wait_readable(int fd, uint32_t timeout_ms)
{
	uint64_t deadline = mono_ms() + timeout_ms;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = mono_ms();
		int left = now >= deadline ? 0 : (int)(deadline - now);
		int r = poll(&p, 1, left);

		if (r > 0)
			return 1;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -errno;
		if (mono_ms() >= deadline)
			return 0;
	}
}

/*
 * /proc/PID/stat: field 3 (state) and field 22 (starttime).  The comm field
 * (2) may contain spaces and parentheses, so parse from the last ')'.
 */
static int proc_stat(pid_t pid, char *state, unsigned long long *starttime)
{
	char path[64], buf[1024];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -ESRCH;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ')
		return -EINVAL;
	p += 2;
	*state = *p;
	/* p is at field 3; starttime is field 22: skip 19 fields */
	for (int f = 3; f < 22; f++) {
		p = strchr(p, ' ');
		if (p == NULL)
			return -EINVAL;
		p++;
	}
	char *end;
	errno = 0;
	*starttime = strtoull(p, &end, 10);
	if (errno != 0 || end == p)
		return -EINVAL;
	return 0;
}

/* Alive (not a zombie) and started at `starttime`? */
static bool proc_is(pid_t pid, unsigned long long starttime)
{
	unsigned long long st = 0;
	char state = 0;

	if (pid <= 0 || proc_stat(pid, &state, &st) < 0)
		return false;
	return st == starttime && state != 'Z' && state != 'X' && state != 'x';
}

/* /proc/PID/cmdline is "xenha-simdom ... --name NAME ..."? */
static bool proc_is_simdom(pid_t pid, const char *name)
{
	char path[64], buf[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';  /* the last argument is NUL-terminated anyway */

	const char *end = buf + n;
	const char *arg0 = buf;
	const char *base = strrchr(arg0, '/');
	base = base ? base + 1 : arg0;
	if (strcmp(base, SIM_PROGRAM_NAME) != 0)
		return false;
	for (const char *a = arg0 + strlen(arg0) + 1; a < end; a += strlen(a) + 1) {
		if (strcmp(a, "--name") == 0) {
			const char *v = a + strlen(a) + 1;
			return v < end && strcmp(v, name) == 0;
		}
		if (strncmp(a, "--name=", 7) == 0)
			return strcmp(a + 7, name) == 0;
	}
	return false;
}

static bool pidfd_exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

/* Collect the exit status if it is ours to collect; never blocks. */
static void dom_try_reap(struct sim_dom *d)
{
	siginfo_t si;

	if (d->reaped)
		return;
	memset(&si, 0, sizeof(si));
	if (waitid((idtype_t)P_PIDFD, (id_t)d->pidfd, &si, WEXITED | WNOHANG) == 0) {
		if (si.si_pid == 0)
			return;  /* our child, still running */
		d->status_known = true;
		d->exit_code = si.si_code;
		d->exit_status = si.si_status;
		d->reaped = true;
		return;
	}
	/* ECHILD: not our child (adopted), or reaped elsewhere: unknown */
	if (pidfd_exited(d->pidfd))
		d->reaped = true;
}

/* ---- pid files ---- */

static int pidfile_write(const struct hv *h, const struct sim_dom *d)
{
	char path[SIM_PATH_MAX], tmp[SIM_PATH_MAX], line[256];
	int fd, n, rc;

	if ((rc = sim_path(path, sizeof(path), h->run_dir, "", d->name, ".pid")) < 0 ||
	    (rc = sim_path(tmp, sizeof(tmp), h->run_dir, ".", d->name, ".pid.tmp")) < 0)
		return rc;
	n = snprintf(line, sizeof(line), "%ld %llu %" PRIu64 " %s %" PRIu32 "\n",
		     (long)d->pid, d->starttime, d->generation, d->inc, d->memory_mb);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -EOVERFLOW;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, line, (size_t)n) != n) {
		rc = errno ? -errno : -EIO;
		goto fail;
	}
	if (fsync(fd) < 0) {
		rc = -errno;
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = -errno;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		rc = -errno;
		goto fail;
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}

struct pidfile {
	pid_t pid;
	unsigned long long starttime;
	uint64_t generation;
	char inc[SIM_INC_MAX];
	uint32_t memory_mb;
};

/* 0, -ENOENT (no file), -EINVAL (malformed), or -errno. */
static int pidfile_read(const struct hv *h, const char *name, struct pidfile *pf)
{
	char path[SIM_PATH_MAX], buf[256];
	ssize_t n;
	int fd, rc;
	long pid;
	unsigned long mem = 0;
	int fields;

	if ((rc = sim_path(path, sizeof(path), h->run_dir, "", name, ".pid")) < 0)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	memset(pf, 0, sizeof(*pf));
	/* the fifth field (memory) is optional for files by older versions */
	fields = sscanf(buf, "%ld %llu %" SCNu64 " %63s %lu", &pid, &pf->starttime,
			&pf->generation, pf->inc, &mem);
	if (fields < 4 || pid <= 0 || pid > INT_MAX || mem > UINT32_MAX)
		return -EINVAL;
	pf->pid = (pid_t)pid;
	pf->memory_mb = (uint32_t)mem;
	return 0;
}

/* Remove NAME.pid, but only while it still describes this process: a new
 * start of the same name may already have replaced it. */
static void pidfile_remove_if(const struct hv *h, const char *name, pid_t pid,
			      unsigned long long starttime)
{
	char path[SIM_PATH_MAX];
	struct pidfile pf;
	int rc = pidfile_read(h, name, &pf);

	if (rc == -ENOENT)
		return;
	if (rc == 0 && (pf.pid != pid || pf.starttime != starttime))
		return;
	if (sim_path(path, sizeof(path), h->run_dir, "", name, ".pid") == 0)
		unlink(path);
}

/* ---- domain table ---- */

static struct sim_dom *dom_find_id(struct hv *h, uint64_t id)
{
	for (struct sim_dom *d = h->doms; d; d = d->next)
		if (d->id == id)
			return d;
	return NULL;
}

/* The entry of a domain of that name whose process has not ended, if any. */
static struct sim_dom *dom_find_live(struct hv *h, const char *name)
{
	for (struct sim_dom *d = h->doms; d; d = d->next)
		if (!d->reaped && strcmp(d->name, name) == 0 &&
		    (d->pidfd < 0 || !pidfd_exited(d->pidfd)))
			return d;
	return NULL;
}

static struct sim_dom *dom_find_any(struct hv *h, const char *name)
{
	struct sim_dom *d = dom_find_live(h, name);

	if (d != NULL)
		return d;
	for (d = h->doms; d; d = d->next)
		if (strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

static int dom_epoll_add(struct hv *h, struct sim_dom *d)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = d->id };

	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, d->pidfd, &ev) < 0)
		return -errno;
	return 0;
}

static int dom_watch(struct hv *h, struct sim_dom *d)
{
	int rc = dom_epoll_add(h, d);

	if (rc < 0)
		return rc;
	d->next = h->doms;
	h->doms = d;
	return 0;
}

static void dom_forget(struct hv *h, struct sim_dom *d)
{
	for (struct sim_dom **pp = &h->doms; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
	if (d->pidfd >= 0) {
		epoll_ctl(h->epfd, EPOLL_CTL_DEL, d->pidfd, NULL);
		close(d->pidfd);
	}
	free(d);
}

/*
 * Adopt the domain described by run_dir/NAME.pid if its process still runs
 * (a domain started by an earlier daemon).  Stale pid files are removed.
 * 0 and *out set (or NULL if there was nothing to adopt), or -errno.
 */
static int dom_adopt(struct hv *h, const char *name, struct sim_dom **out)
{
	struct pidfile pf;
	struct sim_dom *d;
	int rc, pidfd;

	*out = NULL;
	rc = pidfile_read(h, name, &pf);
	if (rc == -ENOENT)
		return 0;
	if (rc == -EINVAL)
		goto stale;
	if (rc < 0)
		return rc;
	for (d = h->doms; d; d = d->next) {
		if (d->pid == pf.pid && d->starttime == pf.starttime) {
			*out = d->reaped || pidfd_exited(d->pidfd) ? NULL : d;
			return 0;   /* already watched */
		}
	}
	if (!proc_is(pf.pid, pf.starttime) || !proc_is_simdom(pf.pid, name))
		goto stale;
	pidfd = sim_pidfd_open(pf.pid);
	if (pidfd == -ESRCH)
		goto stale;
	if (pidfd < 0)
		return pidfd;
	/* the pid could have been reused between the check and the open */
	if (!proc_is(pf.pid, pf.starttime)) {
		close(pidfd);
		goto stale;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		close(pidfd);
		return -ENOMEM;
	}
	d->id = h->next_id++;
	snprintf(d->name, sizeof(d->name), "%s", name);
	snprintf(d->inc, sizeof(d->inc), "%s", pf.inc);
	d->generation = pf.generation;
	d->memory_mb = pf.memory_mb;
	d->pid = pf.pid;
	d->starttime = pf.starttime;
	d->pidfd = pidfd;
	rc = dom_watch(h, d);
	if (rc < 0) {
		close(pidfd);
		free(d);
		return rc;
	}
	*out = d;
	return 0;
stale:
	pidfile_remove_if(h, name, pf.pid, pf.starttime);
	return 0;
}

/* ---- image ---- */

/*
 * The ev= of the last complete record of incarnation `inc` in the image,
 * looking at the file's last SIM_IMAGE_TAIL bytes.  0 and ev set, or
 * -ENOENT.
 */
static int image_last_ev(const struct hv *h, const struct sim_dom *d, char *ev, size_t evlen)
{
	char path[SIM_PATH_MAX], key[SIM_INC_MAX + 8];
	struct stat st;
	char *buf;
	ssize_t n;
	off_t from;
	int fd, rc = -ENOENT;

	if (sim_path(path, sizeof(path), h->image_dir, "", d->name, ".img") < 0)
		return -ENAMETOOLONG;
	snprintf(key, sizeof(key), "inc=%s ", d->inc);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || (buf = malloc(SIM_IMAGE_TAIL + 1)) == NULL) {
		close(fd);
		return -EIO;
	}
	from = st.st_size > SIM_IMAGE_TAIL ? st.st_size - SIM_IMAGE_TAIL : 0;
	n = pread(fd, buf, SIM_IMAGE_TAIL, from);
	close(fd);
	if (n <= 0) {
		free(buf);
		return -ENOENT;
	}
	buf[n] = '\0';
	/* walk complete lines backwards; a torn last line has no '\n' */
	size_t end = (size_t)n;
	while (end > 0 && buf[end - 1] != '\n')
		end--;
	while (end > 0) {
		size_t start = end - 1;   /* buf[end - 1] is this line's '\n' */
		while (start > 0 && buf[start - 1] != '\n')
			start--;
		buf[end - 1] = '\0';
		const char *line = buf + start;
		if (strncmp(line, key, strlen(key)) == 0) {
			const char *e = strstr(line, " ev=");
			if (e != NULL) {
				e += 4;
				size_t len = strcspn(e, " ");
				if (len < evlen) {
					memcpy(ev, e, len);
					ev[len] = '\0';
					rc = 0;
				}
			}
			break;
		}
		if (start == 0 && from > 0)
			break;  /* first line of the tail may be partial */
		end = start;
	}
	free(buf);
	return rc;
}

/* ---- ops ---- */

static int sim_open(const struct xh_config *cfg, hv_end_cb cb, void *cb_arg, struct hv **out)
{
	struct hv *h;
	int rc;

	*out = NULL;
	if (cfg == NULL || cfg->sim_run_dir[0] == '\0' || cfg->sim_image_dir[0] == '\0' ||
	    cfg->sim_simdom[0] == '\0' || cfg->sim_record_ms == 0 || cfg->start_timeout_ms == 0)
		return -EINVAL;
	if (access(cfg->sim_simdom, X_OK) < 0)
		return -errno;
	rc = mkdir_p(cfg->sim_run_dir, 0755);
	if (rc < 0)
		return rc;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	snprintf(h->run_dir, sizeof(h->run_dir), "%s", cfg->sim_run_dir);
	snprintf(h->image_dir, sizeof(h->image_dir), "%s", cfg->sim_image_dir);
	snprintf(h->program, sizeof(h->program), "%s", cfg->sim_simdom);
	h->memory_mb = cfg->sim_memory_mb;
	h->hold_max_mb = cfg->sim_hold_max_mb;
	h->dirty_kib_s = cfg->sim_dirty_kib_s;
	h->record_ms = cfg->sim_record_ms;
	h->start_timeout_ms = cfg->start_timeout_ms;
	h->cb = cb;
	h->cb_arg = cb_arg;
	h->next_id = 1;
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (h->epfd < 0) {
		rc = -errno;
		free(h);
		return rc;
	}
	pthread_mutex_init(&h->mu, NULL);
	*out = h;
	return 0;
}

/* Domains keep running: they outlive the daemon and are adopted again. */
static void sim_close(struct hv *h)
{
	if (h == NULL)
		return;
	while (h->doms) {
		struct sim_dom *d = h->doms;
		h->doms = d->next;
		if (d->pidfd >= 0)
			close(d->pidfd);
		free(d);
	}
	close(h->epfd);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

static int sim_get_fd(struct hv *h)
{
	return h->epfd;
}

static int sim_host_memory(struct hv *h, uint64_t *total_mb)
{
	*total_mb = h->memory_mb;
	return 0;
}

/* Report one ended domain and forget it.  The callback may call back into
 * the driver (start, list, ...): nothing of `d` is used after it. */
static void dom_report_end(struct hv *h, struct sim_dom *d)
{
	char detail[SIM_DETAIL_MAX], status[64], ev[16], lastrec[48];
	char name[XH_NAME_MAX];
	uint64_t gen = d->generation;
	int reason;
	bool have_ev;

	dom_try_reap(d);
	have_ev = image_last_ev(h, d, ev, sizeof(ev)) == 0;
	if (have_ev)
		snprintf(lastrec, sizeof(lastrec), ", last record ev=%s", ev);
	else
		lastrec[0] = '\0';

	if (!d->status_known)
		snprintf(status, sizeof(status), "exit status unknown");
	else if (d->exit_code == CLD_EXITED)
		snprintf(status, sizeof(status), "exited status %d", d->exit_status);
	else
		snprintf(status, sizeof(status), "killed by signal %d%s", d->exit_status,
			 d->exit_code == CLD_DUMPED ? " (core dumped)" : "");

	if (d->migrated) {
		reason = HV_END_STOPPED;
		snprintf(detail, sizeof(detail), "migrated away: %s%s", status, lastrec);
	} else if (d->stopping) {
		reason = HV_END_STOPPED;
		snprintf(detail, sizeof(detail), "stopped by host: %s%s", status, lastrec);
	} else if (d->status_known) {
		reason = d->exit_code == CLD_EXITED && d->exit_status == 0 ?
			HV_END_SHUTDOWN : HV_END_CRASH;
		snprintf(detail, sizeof(detail), "%s%s", status, lastrec);
	} else if (have_ev && (strcmp(ev, "shutdown") == 0 || strcmp(ev, "stop") == 0)) {
		reason = HV_END_SHUTDOWN;
		snprintf(detail, sizeof(detail), "%s%s", status, lastrec);
	} else {
		reason = HV_END_CRASH;
		snprintf(detail, sizeof(detail), "process gone, %s%s", status, lastrec);
	}

	pidfile_remove_if(h, d->name, d->pid, d->starttime);
	snprintf(name, sizeof(name), "%s", d->name);
	dom_forget(h, d);
	/* called with h->mu held; the callback may call back into the driver */
	pthread_mutex_unlock(&h->mu);
	if (h->cb != NULL)
		h->cb(h->cb_arg, name, gen, reason, detail);
	pthread_mutex_lock(&h->mu);
}

/* The end callback may start, stop, destroy or list domains, but must not
 * close the driver instance it is called from. */
static int sim_dispatch(struct hv *h)
{
	struct epoll_event evs[32];
	int n;

	n = epoll_wait(h->epfd, evs, (int)(sizeof(evs) / sizeof(evs[0])), 0);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	pthread_mutex_lock(&h->mu);
	for (int i = 0; i < n; i++) {
		/* looked up by id each time: an earlier callback may have
		 * changed the table */
		struct sim_dom *d = dom_find_id(h, evs[i].data.u64);
		if (d == NULL)
			continue;
		if (!d->reaped && !pidfd_exited(d->pidfd))
			continue;
		dom_report_end(h, d);
	}
	pthread_mutex_unlock(&h->mu);
	return 0;
}

/* In the child between fork and exec: async-signal-safe calls only. */
static void __attribute__((noreturn))
child_exec(const char *prog, char *const argv[], int nullfd, int logfd, const int *fds, int nfds)
{
	sigset_t none;
	int a, b, c[3];

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* its own session: killing the daemon's process group or session
	 * must not kill the domains */
	if (setsid() < 0)
		_exit(126);
	/* move the three fds above 0..3 first so the dup2s cannot clobber them */
	/* fds[i] becomes SIM_READY_FD + i (the ready pipe, then for an
	 * incoming migration the progress pipe and the stream) */
	if (nfds < 1 || nfds > 3)
		_exit(126);
	a = fcntl(nullfd, F_DUPFD, 10);
	b = fcntl(logfd, F_DUPFD, 10);
	if (a < 0 || b < 0)
		_exit(126);
	for (int i = 0; i < nfds; i++)
		if ((c[i] = fcntl(fds[i], F_DUPFD, 10)) < 0)
			_exit(126);
	if (dup2(a, 0) < 0 || dup2(b, 1) < 0 || dup2(b, 2) < 0)
		_exit(126);
	for (int i = 0; i < nfds; i++)
		if (dup2(c[i], SIM_READY_FD + i) < 0)
			_exit(126);
	if (syscall(SYS_close_range, SIM_READY_FD + nfds, ~0U, 0) < 0) {
		for (int fd = SIM_READY_FD + nfds; fd < 65536; fd++)
			close(fd);
	}
	execv(prog, argv);
	_exit(127);
}

/* Kill a domain that failed to start and collect it. */
static void start_abort(struct hv *h, struct sim_dom *d, bool pidfile_written)
{
	sim_pidfd_signal(d->pidfd, SIGKILL);
	wait_readable(d->pidfd, SIM_KILL_WAIT_MS);
	dom_try_reap(d);
	if (pidfile_written)
		pidfile_remove_if(h, d->name, d->pid, d->starttime);
}

/* A sim domain's command line: the options every start shares, `extra`
 * (NULL-terminated) after --record-ms, then --node, --generation, --ctl. */
struct simdom_cmd {
	char hold[16], dirty[16], rec[16], node[16], gen[24];
	char *argv[40];
};

static void simdom_cmd_build(struct simdom_cmd *c, const struct hv *h, struct sim_dom *d,
			     const struct hv_start_req *req, char *image, char *ctl,
			     char *const *extra)
{
	size_t n = 0;

	snprintf(c->hold, sizeof(c->hold), "%" PRIu32,
		 req->memory_mb < h->hold_max_mb ? req->memory_mb : h->hold_max_mb);
	snprintf(c->dirty, sizeof(c->dirty), "%" PRIu32, h->dirty_kib_s);
	snprintf(c->rec, sizeof(c->rec), "%" PRIu32, h->record_ms);
	snprintf(c->node, sizeof(c->node), "%" PRIu32, req->nodeid);
	snprintf(c->gen, sizeof(c->gen), "%" PRIu64, req->generation);
	c->argv[n++] = (char *)SIM_PROGRAM_NAME;
	c->argv[n++] = (char *)"--name";
	c->argv[n++] = d->name;
	c->argv[n++] = (char *)"--image";
	c->argv[n++] = image;
	c->argv[n++] = (char *)"--incarnation";
	c->argv[n++] = d->inc;
	c->argv[n++] = (char *)"--hold-mb";
	c->argv[n++] = c->hold;
	c->argv[n++] = (char *)"--dirty-kib-s";
	c->argv[n++] = c->dirty;
	c->argv[n++] = (char *)"--record-ms";
	c->argv[n++] = c->rec;
	for (size_t i = 0; extra[i] != NULL && n < sizeof(c->argv) / sizeof(c->argv[0]) - 7; i++)
		c->argv[n++] = extra[i];
	c->argv[n++] = (char *)"--node";
	c->argv[n++] = c->node;
	c->argv[n++] = (char *)"--generation";
	c->argv[n++] = c->gen;
	c->argv[n++] = (char *)"--ctl";
	c->argv[n++] = ctl;
	c->argv[n] = NULL;
}

static int sim_start_locked(struct hv *h, const struct hv_start_req *req)
{
	char image[SIM_PATH_MAX], logp[SIM_PATH_MAX];
	struct simdom_cmd cmd;
	char s_fd[8];
	char ctl[SIM_PATH_MAX];
	unsigned char rnd[8];
	struct sim_dom *d = NULL;
	struct pidfile pf;
	int nullfd = -1, logfd = -1, pipefd[2] = { -1, -1 };
	pid_t pid;
	int rc, pidfd;
	char state;

	if (req == NULL || !hv_name_ok(req->name))
		return -EINVAL;
	if (dom_find_live(h, req->name) != NULL)
		return -EEXIST;
	/* a domain started by an earlier daemon that list() did not adopt yet */
	rc = pidfile_read(h, req->name, &pf);
	if (rc == 0 && proc_is(pf.pid, pf.starttime) && proc_is_simdom(pf.pid, req->name))
		return -EEXIST;
	if (rc != -ENOENT)
		pidfile_remove_if(h, req->name, rc == 0 ? pf.pid : 0, rc == 0 ? pf.starttime : 0);

	if ((rc = sim_path(image, sizeof(image), h->image_dir, "", req->name, ".img")) < 0 ||
	    (rc = sim_path(logp, sizeof(logp), h->run_dir, "", req->name, ".log")) < 0 ||
	    (rc = sim_path(ctl, sizeof(ctl), h->run_dir, "", req->name, ".ctl")) < 0)
		return rc;
	if (access(h->image_dir, W_OK | X_OK) < 0)
		return -errno;

	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	d->pidfd = -1;
	snprintf(d->name, sizeof(d->name), "%s", req->name);
	d->generation = req->generation;
	d->memory_mb = req->memory_mb;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		rc = errno ? -errno : -EIO;
		goto out;
	}
	snprintf(d->inc, sizeof(d->inc), "%" PRIu32 "-%" PRIu64 "-%02x%02x%02x%02x%02x%02x%02x%02x",
		 req->nodeid, req->generation, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
		 rnd[5], rnd[6], rnd[7]);

	snprintf(s_fd, sizeof(s_fd), "%d", SIM_READY_FD);
	char *const extra[] = { (char *)"--ready-fd", s_fd, NULL };
	simdom_cmd_build(&cmd, h, d, req, image, ctl, extra);

	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	logfd = open(logp, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (nullfd < 0 || logfd < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
		rc = -errno;
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		goto out;
	}
	if (pid == 0)
		child_exec(h->program, cmd.argv, nullfd, logfd, &pipefd[1], 1);

	close(pipefd[1]);
	pipefd[1] = -1;
	d->pid = pid;
	/* our unreaped child: its pid cannot be reused before we wait for it */
	pidfd = sim_pidfd_open(pid);
	if (pidfd < 0) {
		rc = pidfd;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		goto out;
	}
	d->pidfd = pidfd;
	rc = proc_stat(pid, &state, &d->starttime);
	if (rc < 0) {
		start_abort(h, d, false);
		goto out;
	}
	/* before waiting: a daemon that dies now still finds it on restart */
	rc = pidfile_write(h, d);
	if (rc < 0) {
		start_abort(h, d, false);
		goto out;
	}

	rc = wait_readable(pipefd[0], h->start_timeout_ms);
	if (rc == 1) {
		char b;
		ssize_t r;
		do {
			r = read(pipefd[0], &b, 1);
		} while (r < 0 && errno == EINTR);
		if (r == 1) {
			rc = 0;
		} else {
			/* EOF without the ready byte: it died (or exec failed) */
			start_abort(h, d, true);
			rc = d->status_known && d->exit_code == CLD_EXITED && d->exit_status == 127 ?
				-ENOEXEC : -EIO;
			goto out;
		}
	} else {
		start_abort(h, d, true);
		rc = rc == 0 ? -ETIMEDOUT : rc;
		goto out;
	}

	d->id = h->next_id++;
	rc = dom_watch(h, d);
	if (rc < 0) {
		start_abort(h, d, true);
		goto out;
	}
	d = NULL;  /* owned by the table now */
out:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (logfd >= 0)
		close(logfd);
	if (nullfd >= 0)
		close(nullfd);
	if (d != NULL) {
		if (d->pidfd >= 0)
			close(d->pidfd);
		free(d);
	}
	return rc;
}

static int sim_start(struct hv *h, const struct hv_start_req *req)
{
	pthread_mutex_lock(&h->mu);
	int rc = sim_start_locked(h, req);
	pthread_mutex_unlock(&h->mu);
	return rc;
}

/* Find the domain to stop: watched, or left running by an earlier daemon. */
static int dom_lookup_for_stop(struct hv *h, const char *name, struct sim_dom **out)
{
	int rc;

	*out = NULL;
	if (!hv_name_ok(name))
		return -EINVAL;
	*out = dom_find_live(h, name);
	if (*out != NULL)
		return 0;
	rc = dom_adopt(h, name, out);
	if (rc < 0)
		return rc;
	if (*out == NULL)
		*out = dom_find_any(h, name);  /* ended, not yet dispatched */
	return *out != NULL ? 0 : -ENOENT;
}

/* Wait for a signalled domain to go and reap it; 0 when gone. */
static int dom_wait_gone(struct hv *h, struct sim_dom *d, uint32_t timeout_ms)
{
	int rc;

	if (!d->reaped) {
		rc = wait_readable(d->pidfd, timeout_ms);
		if (rc <= 0)
			return rc == 0 ? -ETIMEDOUT : rc;
		dom_try_reap(d);
	}
	/* the entry stays until dispatch() reports the end (pidfd stays
	 * readable); the pid file goes now so start() and list() agree */
	pidfile_remove_if(h, d->name, d->pid, d->starttime);
	return 0;
}

static int sim_shutdown_locked(struct hv *h, const char *name, uint32_t timeout_ms)
{
	struct sim_dom *d;
	int rc;

	rc = dom_lookup_for_stop(h, name, &d);
	if (rc < 0)
		return rc;
	if (d->incoming)
		return -EBUSY;   /* migrate_recv owns it until it runs or fails */
	d->stopping = true;
	if (!d->reaped) {
		rc = sim_pidfd_signal(d->pidfd, SIGTERM);
		if (rc < 0)
			return rc;
	}
	rc = dom_wait_gone(h, d, timeout_ms);
	if (rc != -ETIMEDOUT)
		return rc;
	rc = sim_pidfd_signal(d->pidfd, SIGKILL);
	if (rc < 0)
		return rc;
	return dom_wait_gone(h, d, SIM_KILL_WAIT_MS);
}

static int sim_destroy_locked(struct hv *h, const char *name)
{
	struct sim_dom *d;
	int rc;

	rc = dom_lookup_for_stop(h, name, &d);
	if (rc < 0)
		return rc;
	if (d->incoming)
		return -EBUSY;
	d->stopping = true;
	if (!d->reaped) {
		rc = sim_pidfd_signal(d->pidfd, SIGKILL);
		if (rc < 0)
			return rc;
	}
	return dom_wait_gone(h, d, SIM_KILL_WAIT_MS);
}

static int sim_shutdown(struct hv *h, const char *name, uint32_t timeout_ms)
{
	pthread_mutex_lock(&h->mu);
	int rc = sim_shutdown_locked(h, name, timeout_ms);
	pthread_mutex_unlock(&h->mu);
	return rc;
}

static int sim_destroy(struct hv *h, const char *name)
{
	pthread_mutex_lock(&h->mu);
	int rc = sim_destroy_locked(h, name);
	pthread_mutex_unlock(&h->mu);
	return rc;
}

static int sim_list_locked(struct hv *h, struct hv_domain_info **out, uint32_t *n)
{
	struct hv_domain_info *v = NULL;
	struct dirent *de;
	uint32_t count = 0, i = 0;
	DIR *dir;
	int rc = 0;

	*out = NULL;
	*n = 0;
	dir = opendir(h->run_dir);
	if (dir == NULL)
		return -errno;
	while ((de = readdir(dir)) != NULL) {
		char name[XH_NAME_MAX];
		size_t len = strlen(de->d_name);
		struct sim_dom *d;

		if (len <= 4 || len - 4 >= sizeof(name) ||
		    strcmp(de->d_name + len - 4, ".pid") != 0)
			continue;
		memcpy(name, de->d_name, len - 4);
		name[len - 4] = '\0';
		if (!hv_name_ok(name))
			continue;
		rc = dom_adopt(h, name, &d);
		if (rc < 0)
			break;
	}
	closedir(dir);
	if (rc < 0)
		return rc;

	for (struct sim_dom *d = h->doms; d; d = d->next)
		if (!d->reaped && d->pidfd >= 0 && !pidfd_exited(d->pidfd))
			count++;
	if (count == 0)
		return 0;
	v = calloc(count, sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	for (struct sim_dom *d = h->doms; d && i < count; d = d->next) {
		if (d->reaped || d->pidfd < 0 || pidfd_exited(d->pidfd))
			continue;
		snprintf(v[i].name, sizeof(v[i].name), "%s", d->name);
		v[i].generation = d->generation;
		/* receiving a migration, or paused by an in-doubt one */
		v[i].running = !d->incoming && !d->paused;
		v[i].memory_mb = d->memory_mb;
		v[i].pid = d->pid;
		v[i].domid = 0;
		i++;
	}
	*out = v;
	*n = i;
	return 0;
}

static int sim_list(struct hv *h, struct hv_domain_info **out, uint32_t *n)
{
	pthread_mutex_lock(&h->mu);
	int rc = sim_list_locked(h, out, n);
	pthread_mutex_unlock(&h->mu);
	return rc;
}

/* ---- live migration ----
 *
 * The domain process does the work (src/sim/xenha-simdom.c): the driver
 * hands the source domain the stream over its control socket
 * run_dir/NAME.ctl (SOCK_SEQPACKET, SCM_RIGHTS) and relays its progress
 * lines; for the target it starts `xenha-simdom --incoming` with the
 * stream, a progress pipe and the ready pipe.  The control socket is a
 * named socket so a restarted daemon can still reach its domains.
 *
 * Locking: h->mu is taken only to look up and mark table entries; the
 * waits on the stream, the control socket and the processes run without
 * it, so dispatch() and list() go on meanwhile.
 */
#define SIM_MIG_SLACK_MS   10000u   /* beyond the migration's own bound */
#define SIM_CTL_REPLY_MS   5000u

static int ctl_connect(const struct hv *h, const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[SIM_PATH_MAX];
	int fd, rc;

	if ((rc = sim_path(path, sizeof(path), h->run_dir, "", name, ".ctl")) < 0)
		return rc;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

static int ctl_send(int cfd, const char *msg, int passfd)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = strlen(msg) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (passfd >= 0) {
		memset(&cbuf, 0, sizeof(cbuf));
		m.msg_control = cbuf.b;
		m.msg_controllen = sizeof(cbuf.b);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &passfd, sizeof(int));
	}
	if (sendmsg(cfd, &m, MSG_NOSIGNAL) != (ssize_t)iov.iov_len)
		return errno ? -errno : -EIO;
	return 0;
}

/* Value of " key=" in a progress line as u64; false if absent. */
static bool kv_u64(const char *line, const char *key, uint64_t *out)
{
	size_t kl = strlen(key);

	for (const char *p = line; (p = strstr(p, key)) != NULL; p += kl) {
		if ((p == line || p[-1] == ' ') && p[kl] == '=') {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(p + kl + 1, &end, 10);
			if (errno != 0 || end == p + kl + 1)
				return false;
			*out = v;
			return true;
		}
	}
	return false;
}

static void progress_report(const char *line, hv_migrate_cb cb, void *arg)
{
	struct hv_migrate_progress p;
	uint64_t v;

	if (cb == NULL)
		return;
	memset(&p, 0, sizeof(p));
	p.final = strncmp(line, "final ", 6) == 0;
	if (kv_u64(line, "round", &v))
		p.round = (uint32_t)v;
	if (kv_u64(line, "bytes", &v))
		p.bytes_sent = v;
	if (kv_u64(line, "total", &v))
		p.pages_total = v;
	if (kv_u64(line, "left", &v))
		p.pages_left = v;
	if (kv_u64(line, "dirty_kib_s", &v))
		p.dirty_kib_s = v;
	if (kv_u64(line, "downtime_ms", &v))
		p.downtime_ms = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
	cb(arg, &p);
}

/* The live entry of `name`, adopting one started by an earlier daemon. */
static struct sim_dom *dom_for_migrate(struct hv *h, const char *name, int *err)
{
	struct sim_dom *d = dom_find_live(h, name);

	*err = 0;
	if (d == NULL) {
		*err = dom_adopt(h, name, &d);
		if (*err < 0)
			return NULL;
	}
	if (d == NULL)
		*err = -ENOENT;
	return d;
}

static int sim_migrate_send(struct hv *h, const char *name, int fd, const struct hv_migrate_opts *o,
			    hv_migrate_cb cb, void *arg, int *outcome)
{
	struct hv_migrate_opts opts = { 0 };
	struct sim_dom *d;
	char msg[128], line[512];
	uint64_t id = 0, deadline;
	int pidfd = -1, cfd = -1, rc = 0;
	enum hv_migrate_outcome out = HV_MIG_ABORTED;
	bool have = false, gone = false;

	*outcome = HV_MIG_ABORTED;
	if (!hv_name_ok(name) || fd < 0)
		return -EINVAL;
	if (o != NULL)
		opts = *o;
	pthread_mutex_lock(&h->mu);
	d = dom_for_migrate(h, name, &rc);
	if (d != NULL && (d->incoming || d->migrating || d->paused || d->stopping))
		rc = -EBUSY;
	if (rc == 0) {
		d->migrating = true;
		id = d->id;
		pidfd = fcntl(d->pidfd, F_DUPFD_CLOEXEC, 0);
		if (pidfd < 0) {
			rc = -errno;
			d->migrating = false;
		}
	}
	pthread_mutex_unlock(&h->mu);
	if (rc < 0)
		return rc;

	cfd = ctl_connect(h, name);
	if (cfd < 0) {
		rc = cfd;
		goto unmark;
	}
	snprintf(msg, sizeof(msg), "migrate max_rounds=%" PRIu32 " downtime_ms=%" PRIu32 " timeout_ms=%" PRIu32,
		 opts.max_rounds, opts.downtime_ms, opts.timeout_ms);
	rc = ctl_send(cfd, msg, fd);
	if (rc < 0)
		goto unmark;

	/* the domain bounds the migration by timeout_ms; we bound our wait
	 * for its word a little beyond that */
	deadline = mono_ms() + (opts.timeout_ms ? opts.timeout_ms : 600000u) + SIM_MIG_SLACK_MS;
	while (!have) {
		struct pollfd pf[2] = {
			{ .fd = cfd, .events = POLLIN },
			{ .fd = pidfd, .events = POLLIN },
		};
		uint64_t now = mono_ms();
		if (now >= deadline)
			break;
		int r = poll(pf, 2, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = recv(cfd, line, sizeof(line) - 1, 0);
			if (n <= 0) {
				/* the domain closed it: it died; its pidfd says so */
				wait_readable(pidfd, SIM_KILL_WAIT_MS);
				gone = pidfd_exited(pidfd);
				break;
			}
			line[n] = '\0';
			if (strncmp(line, "progress ", 9) == 0 || strncmp(line, "final ", 6) == 0) {
				progress_report(line, cb, arg);
			} else if (strncmp(line, "outcome ", 8) == 0) {
				have = true;
				if (strncmp(line + 8, "done", 4) == 0)
					out = HV_MIG_DONE;
				else if (strncmp(line + 8, "in-doubt", 8) == 0)
					out = HV_MIG_IN_DOUBT;
				else
					out = HV_MIG_ABORTED;
			}
		} else if (pf[1].revents & POLLIN) {
			gone = true;
			break;
		}
	}
	if (!have) {
		/*
		 * No outcome: the domain died, or it is stuck past every
		 * bound.  COMMIT may have left it, so the target may run the
		 * domain: make sure this copy does not (SIGKILL writes
		 * nothing) and leave the decision to the caller.
		 */
		if (!gone)
			sim_pidfd_signal(pidfd, SIGKILL);
		wait_readable(pidfd, SIM_KILL_WAIT_MS);
		out = HV_MIG_IN_DOUBT;
		gone = true;
	}
	if (out == HV_MIG_DONE && !gone) {
		/* it exits after its last word; a paused, committed copy may
		 * be killed safely if it lingers */
		if (wait_readable(pidfd, SIM_KILL_WAIT_MS) != 1) {
			sim_pidfd_signal(pidfd, SIGKILL);
			wait_readable(pidfd, SIM_KILL_WAIT_MS);
		}
		gone = true;
	}
	*outcome = out;
	rc = 0;
unmark:
	if (rc < 0)
		shutdown(fd, SHUT_RDWR);   /* the peer learns it at once */
	pthread_mutex_lock(&h->mu);
	d = dom_find_id(h, id);
	if (d != NULL) {
		d->migrating = false;
		d->paused = rc == 0 && out == HV_MIG_IN_DOUBT && !gone;
		if (rc == 0 && gone) {
			d->stopping = true;
			d->migrated = out == HV_MIG_DONE;
			dom_try_reap(d);
			pidfile_remove_if(h, d->name, d->pid, d->starttime);
		}
	}
	pthread_mutex_unlock(&h->mu);
	if (cfd >= 0)
		close(cfd);
	close(pidfd);
	return rc;
}

static int sim_resume(struct hv *h, const char *name)
{
	struct sim_dom *d;
	char line[128];
	int cfd, rc;
	uint64_t id = 0;

	if (!hv_name_ok(name))
		return -EINVAL;
	pthread_mutex_lock(&h->mu);
	d = dom_for_migrate(h, name, &rc);
	if (d != NULL && d->incoming)
		rc = -EBUSY;
	if (d != NULL)
		id = d->id;
	pthread_mutex_unlock(&h->mu);
	if (rc < 0)
		return rc;
	cfd = ctl_connect(h, name);
	if (cfd < 0)
		return cfd;
	rc = ctl_send(cfd, "resume", -1);
	if (rc == 0) {
		rc = wait_readable(cfd, SIM_CTL_REPLY_MS);
		if (rc == 1) {
			ssize_t n = recv(cfd, line, sizeof(line) - 1, 0);
			line[n > 0 ? n : 0] = '\0';
			rc = strncmp(line, "ok", 2) == 0 ? 0 : -EINVAL;
		} else {
			rc = rc == 0 ? -ETIMEDOUT : rc;
		}
	}
	close(cfd);
	if (rc == 0) {
		pthread_mutex_lock(&h->mu);
		d = dom_find_id(h, id);
		if (d != NULL)
			d->paused = false;
		pthread_mutex_unlock(&h->mu);
	}
	return rc;
}

/* Remove a reservation / failed incoming entry (h->mu held). */
static void incoming_drop(struct hv *h, struct sim_dom *d, bool pidfile_written)
{
	if (d->pidfd >= 0) {
		sim_pidfd_signal(d->pidfd, SIGKILL);
		wait_readable(d->pidfd, SIM_KILL_WAIT_MS);
		dom_try_reap(d);
	}
	if (pidfile_written)
		pidfile_remove_if(h, d->name, d->pid, d->starttime);
	dom_forget(h, d);
}

static int sim_migrate_recv(struct hv *h, const struct hv_start_req *req, int fd,
			    hv_migrate_cb cb, void *arg)
{
	char image[SIM_PATH_MAX], logp[SIM_PATH_MAX], ctl[SIM_PATH_MAX];
	struct simdom_cmd cmd;
	char s_tmo[16];
	char line[512];
	unsigned char rnd[8];
	struct sim_dom *d;
	struct pidfile pidf;
	int nullfd = -1, logfd = -1, ready[2] = { -1, -1 }, prog[2] = { -1, -1 };
	size_t plen = 0;
	bool pidfile_done = false, ok = false;
	uint64_t id;
	pid_t pid;
	int rc;
	char state;

	if (req == NULL || !hv_name_ok(req->name) || fd < 0)
		return -EINVAL;
	if ((rc = sim_path(image, sizeof(image), h->image_dir, "", req->name, ".img")) < 0 ||
	    (rc = sim_path(logp, sizeof(logp), h->run_dir, "", req->name, ".log")) < 0 ||
	    (rc = sim_path(ctl, sizeof(ctl), h->run_dir, "", req->name, ".ctl")) < 0)
		return rc;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	d->pidfd = -1;
	d->incoming = true;
	snprintf(d->name, sizeof(d->name), "%s", req->name);
	d->generation = req->generation;
	d->memory_mb = req->memory_mb;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		free(d);
		return -EIO;
	}
	snprintf(d->inc, sizeof(d->inc), "%" PRIu32 "-%" PRIu64 "-%02x%02x%02x%02x%02x%02x%02x%02x",
		 req->nodeid, req->generation, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
		 rnd[5], rnd[6], rnd[7]);

	/* reserve the name: start() and another migrate_recv see it as live */
	pthread_mutex_lock(&h->mu);
	rc = 0;
	if (dom_find_live(h, req->name) != NULL) {
		rc = -EEXIST;
	} else {
		int r = pidfile_read(h, req->name, &pidf);
		if (r == 0 && proc_is(pidf.pid, pidf.starttime) && proc_is_simdom(pidf.pid, req->name))
			rc = -EEXIST;
	}
	if (rc == 0) {
		d->id = h->next_id++;
		d->next = h->doms;
		h->doms = d;
	}
	id = d->id;
	pthread_mutex_unlock(&h->mu);
	if (rc < 0) {
		free(d);
		return rc;
	}

	snprintf(s_tmo, sizeof(s_tmo), "%" PRIu32, h->start_timeout_ms);
	char *const extra[] = {
		(char *)"--ready-fd", (char *)"3",
		(char *)"--progress-fd", (char *)"4",
		(char *)"--incoming", (char *)"5",
		(char *)"--incoming-timeout-ms", s_tmo,
		NULL,
	};
	simdom_cmd_build(&cmd, h, d, req, image, ctl, extra);

	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	logfd = open(logp, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (nullfd < 0 || logfd < 0 || pipe2(ready, O_CLOEXEC) < 0 || pipe2(prog, O_CLOEXEC) < 0) {
		rc = -errno;
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		goto out;
	}
	if (pid == 0) {
		int fds[3] = { ready[1], prog[1], fd };
		child_exec(h->program, cmd.argv, nullfd, logfd, fds, 3);
	}
	close(ready[1]);
	close(prog[1]);
	ready[1] = prog[1] = -1;

	pthread_mutex_lock(&h->mu);
	d = dom_find_id(h, id);   /* ours: nothing else removes a reservation */
	if (d == NULL)
		abort();
	d->pid = pid;
	rc = sim_pidfd_open(pid);
	if (rc >= 0) {
		d->pidfd = rc;
		rc = proc_stat(pid, &state, &d->starttime);
	}
	/* before waiting: a daemon that dies now still finds the process
	 * (if it runs the domain after COMMIT, it is this host's) */
	if (rc >= 0)
		rc = pidfile_write(h, d);
	if (rc >= 0)
		pidfile_done = true;
	pthread_mutex_unlock(&h->mu);
	if (rc < 0) {
		if (d->pidfd < 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		goto out;
	}

	/* Progress lines, then the ready byte once it runs, or its exit.
	 * The process bounds every wait on the stream by
	 * --incoming-timeout-ms of silence; we bound ours by the progress we
	 * see. */
	uint64_t deadline = mono_ms() + h->start_timeout_ms + SIM_MIG_SLACK_MS;
	rc = -EIO;
	for (;;) {
		/* the ready pipe also ends (POLLHUP) when the process exits */
		struct pollfd pf[2] = {
			{ .fd = ready[0], .events = POLLIN },
			{ .fd = prog[0], .events = POLLIN },
		};
		uint64_t now = mono_ms();
		if (now >= deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		int r = poll(pf, prog[0] >= 0 ? 2 : 1, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r == 0 ? -ETIMEDOUT : -errno;
			break;
		}
		if (prog[0] >= 0 && (pf[1].revents & (POLLIN | POLLHUP))) {
			ssize_t n = read(prog[0], line + plen, sizeof(line) - 1 - plen);
			if (n <= 0) {
				close(prog[0]);
				prog[0] = -1;
			} else {
				plen += (size_t)n;
				char *nl;
				while ((nl = memchr(line, '\n', plen)) != NULL) {
					*nl = '\0';
					progress_report(line, cb, arg);
					plen -= (size_t)(nl + 1 - line);
					memmove(line, nl + 1, plen);
				}
				if (plen == sizeof(line) - 1)
					plen = 0;   /* an overlong line: drop it */
				deadline = mono_ms() + h->start_timeout_ms + SIM_MIG_SLACK_MS;
			}
			continue;
		}
		if (pf[0].revents & (POLLIN | POLLHUP)) {
			char b;
			ssize_t n = read(ready[0], &b, 1);
			if (n == 1)
				ok = true;
			rc = ok ? 0 : -ECONNABORTED;   /* exited before running */
			break;
		}
	}

	pthread_mutex_lock(&h->mu);
	d = dom_find_id(h, id);
	if (d == NULL)
		abort();
	if (ok) {
		rc = dom_epoll_add(h, d);
		if (rc == 0)
			d->incoming = false;
		else
			ok = false;
	}
	if (!ok) {
		/* nothing runs here: a process that did not say it runs is
		 * killed (if it got COMMIT, the source is in doubt and paused;
		 * no copy runs, which is safe) */
		incoming_drop(h, d, pidfile_done);
		shutdown(fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&h->mu);
	d = NULL;
out:
	if (d != NULL) {
		/* failed before the process existed: drop the reservation */
		pthread_mutex_lock(&h->mu);
		d = dom_find_id(h, id);
		if (d != NULL)
			incoming_drop(h, d, false);
		pthread_mutex_unlock(&h->mu);
		shutdown(fd, SHUT_RDWR);
	}
	for (int i = 0; i < 2; i++) {
		if (ready[i] >= 0)
			close(ready[i]);
		if (prog[i] >= 0)
			close(prog[i]);
	}
	if (logfd >= 0)
		close(logfd);
	if (nullfd >= 0)
		close(nullfd);
	return rc;
}

const struct hv_ops hv_sim_ops = {
	.name = "sim",
	.open = sim_open,
	.close = sim_close,
	.get_fd = sim_get_fd,
	.dispatch = sim_dispatch,
	.host_memory = sim_host_memory,
	.start = sim_start,
	.shutdown = sim_shutdown,
	.destroy = sim_destroy,
	.list = sim_list,
	.migrate_send = sim_migrate_send,
	.migrate_recv = sim_migrate_recv,
	.resume = sim_resume,
};
