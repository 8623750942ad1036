/*
 * Unit tests of the sim hypervisor driver (src/drivers/hv_sim.c) with real
 * xenha-simdom processes in a private temporary directory.
 *
 * Every domain process a test sees is tracked by a pidfd and SIGKILLed in
 * the teardown, whether the test passed or not; the helper process of the
 * "foreign daemon" tests likewise.  Each test ends by checking that no
 * zombie is left.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "xenha/config.h"
#include "xenha/hv.h"

#ifndef SIMDOM_PATH
#error "SIMDOM_PATH must name the built xenha-simdom"
#endif

#define MAX_EVENTS 16
#define MAX_TRACK  32
#define WAIT_MS    10000u   /* generous: ASan builds start slowly */

struct event {
	char name[XH_NAME_MAX];
	uint64_t gen;
	int reason;
	char detail[160];
};

struct fx {
	char dir[PATH_MAX];
	char run[PATH_MAX];
	char img[PATH_MAX];
	struct xh_config cfg;
	struct hv *h;
	struct event ev[MAX_EVENTS];
	int nev;
	pid_t pid[MAX_TRACK];
	int pidfd[MAX_TRACK];
	int ntrack;
	pid_t helper;       /* foreign "daemon" process, or 0 */
};

static const struct hv_ops *ops = &hv_sim_ops;

/* snprintf into an array, failing the test on truncation */
#define SETF(dst, ...) \
	assert_true((size_t)snprintf((dst), sizeof(dst), __VA_ARGS__) < sizeof(dst))

/* ---- helpers ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void on_end(void *arg, const char *name, uint64_t gen, int reason, const char *detail)
{
	struct fx *f = arg;

	assert_true(f->nev < MAX_EVENTS);
	struct event *e = &f->ev[f->nev++];
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->gen = gen;
	e->reason = reason;
	snprintf(e->detail, sizeof(e->detail), "%s", detail ? detail : "");
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

/* The domain's pid from list(); tracks it for the teardown. */
static pid_t dom_pid(struct fx *f, struct hv *h, const char *name)
{
	struct hv_domain_info *v;
	uint32_t n;
	pid_t pid = 0;

	assert_int_equal(ops->list(h, &v, &n), 0);
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			pid = v[i].pid;
	free(v);
	if (pid > 0)
		track(f, pid);
	return pid;
}

static int start(struct fx *f, struct hv *h, const char *name, uint64_t gen, uint32_t mem)
{
	struct hv_start_req req = {
		.name = name, .xlcfg = NULL, .memory_mb = mem, .generation = gen, .nodeid = 3,
	};
	int rc = ops->start(h, &req);

	if (rc == 0)
		assert_true(dom_pid(f, h, name) > 0);
	return rc;
}

static void wait_events(struct fx *f, struct hv *h, int want)
{
	uint64_t deadline = now_ms() + WAIT_MS;

	while (f->nev < want) {
		uint64_t now = now_ms();
		if (now >= deadline)
			break;
		struct pollfd p = { .fd = ops->get_fd(h), .events = POLLIN };
		poll(&p, 1, (int)(deadline - now));
		assert_int_equal(ops->dispatch(h), 0);
	}
	assert_int_equal(f->nev, want);
}

static const struct event *find_event(struct fx *f, const char *name, uint64_t gen)
{
	for (int i = 0; i < f->nev; i++)
		if (strcmp(f->ev[i].name, name) == 0 && f->ev[i].gen == gen)
			return &f->ev[i];
	fail_msg("no end event for domain=%s gen=%" PRIu64, name, gen);
	return NULL;
}

static void path_of(char *buf, size_t len, const char *dir, const char *name, const char *sfx)
{
	assert_true((size_t)snprintf(buf, len, "%s/%s%s", dir, name, sfx) < len);
}

static bool exists(const char *dir, const char *name, const char *sfx)
{
	char p[PATH_MAX];

	path_of(p, sizeof(p), dir, name, sfx);
	return access(p, F_OK) == 0;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
}

static void assert_no_zombies(void)
{
	int st;

	/* all our domain children ended and were reaped by the driver */
	assert_int_equal(waitpid(-1, &st, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

struct image_check {
	int lines;
	int incs;
	char last_ev[16];       /* of the incarnation checked */
	char inc[64];
};

/*
 * Every line of the image well-formed; seq consecutive from 0 and mono_ns
 * non-decreasing per incarnation; first record of each incarnation
 * ev=start; nothing after an end record.  Fills *ic for incarnation
 * `want_gen` (the last one with that generation).
 */
static void check_image(struct fx *f, const char *name, uint64_t want_gen, struct image_check *ic)
{
	char path[PATH_MAX], line[512];
	char cur_inc[64] = "";
	uint64_t cur_seq = 0, cur_mono = 0;
	bool ended = false;
	FILE *fp;

	memset(ic, 0, sizeof(*ic));
	path_of(path, sizeof(path), f->img, name, ".img");
	fp = fopen(path, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL) {
		char inc[64], ev[16];
		uint64_t seq, mono, wall, gen;
		uint32_t node;
		int used = 0;
		size_t len = strlen(line);

		assert_true(len < 256);
		assert_true(len > 0 && line[len - 1] == '\n');
		assert_int_equal(sscanf(line, "inc=%63s seq=%" SCNu64 " mono_ns=%" SCNu64
					" wall_ns=%" SCNu64 " node=%" SCNu32 " gen=%" SCNu64
					" ev=%15s%n", inc, &seq, &mono, &wall, &node, &gen, ev, &used), 7);
		assert_int_equal((size_t)used, len - 1);
		assert_int_equal(node, 3);
		assert_true(wall > 1577836800ull * 1000000000ull);   /* after 2020 */
		if (strcmp(inc, cur_inc) != 0) {
			/* a new incarnation: the previous one must have ended
			 * (sequential starts in these tests) or been killed */
			assert_string_equal(ev, "start");
			assert_int_equal(seq, 0);
			snprintf(cur_inc, sizeof(cur_inc), "%s", inc);
			ic->incs++;
			ended = false;
		} else {
			assert_false(ended);
			assert_int_equal(seq, cur_seq + 1);
			assert_true(mono >= cur_mono);
			assert_true(strcmp(ev, "tick") == 0 || strcmp(ev, "stop") == 0 ||
				    strcmp(ev, "shutdown") == 0);
		}
		ended = strcmp(ev, "stop") == 0 || strcmp(ev, "shutdown") == 0;
		cur_seq = seq;
		cur_mono = mono;
		ic->lines++;
		if (gen == want_gen) {
			snprintf(ic->last_ev, sizeof(ic->last_ev), "%s", ev);
			snprintf(ic->inc, sizeof(ic->inc), "%s", inc);
		}
	}
	fclose(fp);
}

/* ---- fixture ---- */

static int rm_entry(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st; (void)type; (void)ftw;
	remove(p);
	return 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	SETF(f->dir, "/tmp/xenha-test-hv-sim.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	SETF(f->run, "%s/run/xenha/sim", f->dir);   /* created by open */
	SETF(f->img, "%s/images", f->dir);
	if (mkdir(f->img, 0755) < 0)
		return -1;
	snprintf(f->cfg.hypervisor, sizeof(f->cfg.hypervisor), "sim");
	SETF(f->cfg.sim_run_dir, "%s", f->run);
	SETF(f->cfg.sim_image_dir, "%s", f->img);
	SETF(f->cfg.sim_simdom, "%s", SIMDOM_PATH);
	f->cfg.sim_memory_mb = 2048;
	f->cfg.sim_hold_max_mb = 2;
	f->cfg.sim_dirty_kib_s = 512;
	f->cfg.sim_record_ms = 20;
	f->cfg.start_timeout_ms = WAIT_MS;
	f->cfg.stop_timeout_ms = 5000;
	if (ops->open(&f->cfg, on_end, f, &f->h) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->h != NULL)
		ops->close(f->h);
	for (int i = 0; i < f->ntrack; i++) {
		/* by pidfd: never signals a recycled pid */
		syscall(SYS_pidfd_send_signal, f->pidfd[i], SIGKILL, NULL, 0);
		struct pollfd p = { .fd = f->pidfd[i], .events = POLLIN };
		poll(&p, 1, (int)WAIT_MS);
		waitpid(f->pid[i], NULL, WNOHANG);   /* if it was our child */
		close(f->pidfd[i]);
	}
	if (f->helper > 0) {
		kill(f->helper, SIGKILL);
		waitpid(f->helper, NULL, 0);
	}
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* ---- tests ---- */

static void test_registry(void **state)
{
	(void)state;
	assert_ptr_equal(hv_find("sim"), &hv_sim_ops);
	assert_string_equal(hv_sim_ops.name, "sim");
#ifdef HAVE_XEN
	assert_ptr_equal(hv_find("xen"), &hv_xen_ops);
#else
	assert_null(hv_find("xen"));
#endif
	assert_null(hv_find(""));
	assert_null(hv_find(NULL));
}

static void test_open_errors(void **state)
{
	struct fx *f = *state;
	struct xh_config c = f->cfg;
	struct hv *h = NULL;

	SETF(c.sim_simdom, "%s/no-such-program", f->dir);
	assert_int_equal(ops->open(&c, on_end, f, &h), -ENOENT);
	assert_null(h);
	c = f->cfg;
	c.sim_run_dir[0] = '\0';
	assert_int_equal(ops->open(&c, on_end, f, &h), -EINVAL);
	c = f->cfg;
	c.sim_record_ms = 0;
	assert_int_equal(ops->open(&c, on_end, f, &h), -EINVAL);
	/* open created the run dir, -p style */
	struct stat st;
	assert_int_equal(stat(f->run, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
}

static void test_start_list_exists(void **state)
{
	struct fx *f = *state;
	struct hv_domain_info *v;
	uint32_t n;
	uint64_t mem;
	char path[PATH_MAX], buf[256], inc[64];
	long pid;
	unsigned long long st;
	uint64_t gen;
	unsigned mb;

	assert_int_equal(ops->host_memory(f->h, &mem), 0);
	assert_int_equal(mem, 2048);
	assert_int_equal(ops->dispatch(f->h), 0);   /* nothing pending */
	assert_int_equal(f->nev, 0);

	assert_int_equal(start(f, f->h, "web1", 7, 64), 0);
	assert_int_equal(start(f, f->h, "db1", 9, 1), 0);
	assert_int_equal(start(f, f->h, "web1", 8, 64), -EEXIST);
	assert_int_equal(start(f, f->h, "../evil", 1, 1), -EINVAL);
	assert_int_equal(start(f, f->h, "", 1, 1), -EINVAL);

	assert_int_equal(ops->list(f->h, &v, &n), 0);
	assert_int_equal(n, 2);
	for (uint32_t i = 0; i < n; i++) {
		assert_true(v[i].running);
		assert_true(v[i].pid > 0);
		assert_int_equal(v[i].domid, 0);
		if (strcmp(v[i].name, "web1") == 0) {
			assert_int_equal(v[i].generation, 7);
			assert_int_equal(v[i].memory_mb, 64);
		} else {
			assert_string_equal(v[i].name, "db1");
			assert_int_equal(v[i].generation, 9);
			assert_int_equal(v[i].memory_mb, 1);
		}
		/* a real process, named, in its own session */
		snprintf(path, sizeof(path), "/proc/%ld/comm", (long)v[i].pid);
		FILE *fp = fopen(path, "r");
		assert_non_null(fp);
		assert_non_null(fgets(buf, sizeof(buf), fp));
		fclose(fp);
		assert_string_equal(buf, "xenha-simdom\n");
		assert_int_equal(getsid(v[i].pid), v[i].pid);
		/* the pid file: "pid starttime generation incarnation memory" */
		path_of(path, sizeof(path), f->run, v[i].name, ".pid");
		fp = fopen(path, "r");
		assert_non_null(fp);
		assert_int_equal(fscanf(fp, "%ld %llu %" SCNu64 " %63s %u", &pid, &st, &gen, inc, &mb), 5);
		fclose(fp);
		assert_int_equal(pid, v[i].pid);
		assert_int_equal(gen, v[i].generation);
		assert_int_equal(mb, v[i].memory_mb);
		snprintf(buf, sizeof(buf), "3-%" PRIu64 "-", gen);
		assert_memory_equal(inc, buf, strlen(buf));
		assert_int_equal(strlen(inc), strlen(buf) + 16);   /* 8 random bytes, hex */
		/* held memory is capped by sim_hold_max_mb */
		snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)v[i].pid);
		fp = fopen(path, "r");
		assert_non_null(fp);
		size_t len = fread(buf, 1, sizeof(buf) - 1, fp);
		fclose(fp);
		buf[len] = '\0';
		bool found = false;
		for (size_t o = 0; o < len; o += strlen(buf + o) + 1)
			if (strcmp(buf + o, "--hold-mb") == 0) {
				o += strlen(buf + o) + 1;
				assert_string_equal(buf + o, v[i].memory_mb >= 2 ? "2" : "1");
				found = true;
				break;
			}
		assert_true(found);
	}
	free(v);
	assert_int_equal(f->nev, 0);

	sleep_ms(150);
	struct image_check ic;
	check_image(f, "web1", 7, &ic);
	assert_int_equal(ic.incs, 1);
	assert_true(ic.lines >= 3);
	assert_string_equal(ic.last_ev, "tick");

	assert_int_equal(ops->destroy(f->h, "web1"), 0);
	assert_int_equal(ops->destroy(f->h, "db1"), 0);
	assert_int_equal(ops->destroy(f->h, "nosuch"), -ENOENT);
	assert_int_equal(ops->shutdown(f->h, "nosuch", 100), -ENOENT);
	assert_false(exists(f->run, "web1", ".pid"));
	wait_events(f, f->h, 2);
	assert_int_equal(find_event(f, "web1", 7)->reason, HV_END_STOPPED);
	assert_int_equal(find_event(f, "db1", 9)->reason, HV_END_STOPPED);
	assert_non_null(strstr(find_event(f, "db1", 9)->detail, "killed by signal 9"));
	assert_int_equal(ops->list(f->h, &v, &n), 0);
	assert_int_equal(n, 0);
	assert_null(v);
	assert_no_zombies();
}

static void test_crash(void **state)
{
	struct fx *f = *state;
	struct image_check ic;

	assert_int_equal(start(f, f->h, "web1", 5, 8), 0);
	assert_int_equal(start(f, f->h, "web2", 6, 8), 0);
	pid_t pid = dom_pid(f, f->h, "web1");
	sleep_ms(60);
	assert_int_equal(kill(pid, SIGKILL), 0);
	wait_events(f, f->h, 1);
	assert_string_equal(f->ev[0].name, "web1");
	assert_int_equal(f->ev[0].gen, 5);
	assert_int_equal(f->ev[0].reason, HV_END_CRASH);
	assert_non_null(strstr(f->ev[0].detail, "killed by signal 9"));
	assert_false(exists(f->run, "web1", ".pid"));
	check_image(f, "web1", 5, &ic);
	assert_string_equal(ic.last_ev, "tick");   /* a crash writes no end record */

	/* web2 is still watched and unaffected */
	assert_true(dom_pid(f, f->h, "web2") > 0);
	assert_int_equal(f->nev, 1);
	assert_int_equal(ops->destroy(f->h, "web2"), 0);
	wait_events(f, f->h, 2);
	assert_int_equal(find_event(f, "web2", 6)->reason, HV_END_STOPPED);

	/* a domain that exits with an error status is a crash too (a stand-in
	 * program that reports ready on fd 3, then fails) */
	char prog[PATH_MAX];
	struct xh_config c = f->cfg;
	struct hv *h;
	SETF(prog, "%s/fail3.sh", f->dir);
	write_file(prog, "#!/bin/sh\nprintf r >&3\nexec 3>&-\nsleep 0.1\nexit 3\n", 0755);
	SETF(c.sim_simdom, "%s", prog);
	assert_int_equal(ops->open(&c, on_end, f, &h), 0);
	assert_int_equal(start(f, h, "web3", 7, 1), 0);
	wait_events(f, h, 3);
	ops->close(h);
	assert_int_equal(f->ev[2].gen, 7);
	assert_int_equal(f->ev[2].reason, HV_END_CRASH);
	assert_non_null(strstr(f->ev[2].detail, "exited status 3"));
	assert_false(exists(f->run, "web3", ".pid"));
	assert_no_zombies();
}

static void test_shutdown_stopped(void **state)
{
	struct fx *f = *state;
	struct image_check ic;

	assert_int_equal(start(f, f->h, "web1", 1, 8), 0);
	sleep_ms(60);
	assert_int_equal(ops->shutdown(f->h, "web1", 5000), 0);
	/* gone at once, though the end is reported by the next dispatch */
	assert_false(exists(f->run, "web1", ".pid"));
	check_image(f, "web1", 1, &ic);
	assert_string_equal(ic.last_ev, "stop");
	/* a new incarnation may start before that dispatch */
	assert_int_equal(start(f, f->h, "web1", 2, 8), 0);
	wait_events(f, f->h, 1);
	assert_int_equal(f->ev[0].gen, 1);
	assert_int_equal(f->ev[0].reason, HV_END_STOPPED);
	assert_non_null(strstr(f->ev[0].detail, "exited status 0"));
	assert_non_null(strstr(f->ev[0].detail, "ev=stop"));
	/* the pid file of the new incarnation survived the old one's end */
	assert_true(exists(f->run, "web1", ".pid"));
	assert_true(dom_pid(f, f->h, "web1") > 0);

	/* a domain frozen by SIGSTOP ignores SIGTERM: shutdown escalates */
	pid_t pid = dom_pid(f, f->h, "web1");
	sleep_ms(40);
	assert_int_equal(kill(pid, SIGSTOP), 0);
	uint64_t t0 = now_ms();
	assert_int_equal(ops->shutdown(f->h, "web1", 200), 0);
	assert_true(now_ms() - t0 >= 150);
	wait_events(f, f->h, 2);
	assert_int_equal(f->ev[1].gen, 2);
	assert_int_equal(f->ev[1].reason, HV_END_STOPPED);
	assert_non_null(strstr(f->ev[1].detail, "killed by signal 9"));
	check_image(f, "web1", 2, &ic);
	assert_int_equal(ic.incs, 2);
	assert_string_equal(ic.last_ev, "tick");
	assert_no_zombies();
}

static void test_guest_shutdown(void **state)
{
	struct fx *f = *state;
	struct image_check ic;

	assert_int_equal(start(f, f->h, "web1", 4, 8), 0);
	assert_int_equal(start(f, f->h, "web2", 5, 8), 0);
	sleep_ms(40);
	/* the guest shuts itself down */
	assert_int_equal(kill(dom_pid(f, f->h, "web1"), SIGUSR1), 0);
	wait_events(f, f->h, 1);
	assert_string_equal(f->ev[0].name, "web1");
	assert_int_equal(f->ev[0].gen, 4);
	assert_int_equal(f->ev[0].reason, HV_END_SHUTDOWN);
	assert_non_null(strstr(f->ev[0].detail, "exited status 0"));
	assert_non_null(strstr(f->ev[0].detail, "ev=shutdown"));
	check_image(f, "web1", 4, &ic);
	assert_string_equal(ic.last_ev, "shutdown");
	/* SIGTERM from someone else than the driver: a clean end, not ours */
	assert_int_equal(kill(dom_pid(f, f->h, "web2"), SIGTERM), 0);
	wait_events(f, f->h, 2);
	assert_int_equal(f->ev[1].reason, HV_END_SHUTDOWN);
	assert_non_null(strstr(f->ev[1].detail, "ev=stop"));
	assert_no_zombies();
}

/* A daemon restart inside one process: the second instance adopts. */
static void test_adopt_new_instance(void **state)
{
	struct fx *f = *state;
	struct hv_domain_info *v;
	uint32_t n;
	struct hv *h2;

	assert_int_equal(start(f, f->h, "web1", 12, 8), 0);
	assert_int_equal(start(f, f->h, "web2", 13, 8), 0);
	pid_t p1 = dom_pid(f, f->h, "web1");
	ops->close(f->h);        /* does not stop the domains */
	f->h = NULL;
	sleep_ms(40);
	assert_true(alive(p1));

	assert_int_equal(ops->open(&f->cfg, on_end, f, &h2), 0);
	f->h = h2;
	assert_int_equal(start(f, h2, "web1", 14, 8), -EEXIST);   /* not adopted yet */
	assert_int_equal(ops->list(h2, &v, &n), 0);
	assert_int_equal(n, 2);
	for (uint32_t i = 0; i < n; i++) {
		if (strcmp(v[i].name, "web1") == 0) {
			assert_int_equal(v[i].pid, p1);
			assert_int_equal(v[i].generation, 12);
		} else {
			assert_int_equal(v[i].generation, 13);
		}
	}
	free(v);
	/* listing again does not adopt twice */
	assert_int_equal(ops->list(h2, &v, &n), 0);
	assert_int_equal(n, 2);
	free(v);

	/* its later death is seen; it is still our child, so the status is known */
	assert_int_equal(kill(p1, SIGKILL), 0);
	wait_events(f, h2, 1);
	assert_int_equal(f->ev[0].gen, 12);
	assert_int_equal(f->ev[0].reason, HV_END_CRASH);
	assert_non_null(strstr(f->ev[0].detail, "killed by signal 9"));
	assert_false(exists(f->run, "web1", ".pid"));
	/* shutdown of a domain the new instance never listed adopts it first */
	ops->close(h2);
	assert_int_equal(ops->open(&f->cfg, on_end, f, &h2), 0);
	f->h = h2;
	assert_int_equal(ops->shutdown(h2, "web2", 5000), 0);
	wait_events(f, h2, 2);
	assert_int_equal(f->ev[1].gen, 13);
	assert_int_equal(f->ev[1].reason, HV_END_STOPPED);
	assert_no_zombies();
}

/*
 * A real daemon restart: the domains were started by another process (the
 * helper plays the dead daemon; it stays only to reap them), so their exit
 * status is unknown here and the image's last record decides.
 */
static void test_adopt_foreign(void **state)
{
	struct fx *f = *state;
	int pfd[2];
	char b;
	struct hv_domain_info *v;
	uint32_t n;

	assert_int_equal(pipe(pfd), 0);
	f->helper = fork();
	assert_true(f->helper >= 0);
	if (f->helper == 0) {
		static const char *const names[] = { "y1", "y2", "y3" };
		struct hv *h;
		int rc = 0;

		close(pfd[0]);
		alarm(60);   /* bounded even if the parent dies */
		if (ops->open(&f->cfg, NULL, NULL, &h) != 0)
			_exit(3);
		for (int i = 0; i < 3 && rc == 0; i++) {
			struct hv_start_req req = { .name = names[i], .memory_mb = 4,
				.generation = 20 + (uint64_t)i, .nodeid = 3 };
			rc = ops->start(h, &req);
		}
		ops->close(h);
		if (rc != 0)
			_exit(4);
		if (write(pfd[1], "s", 1) != 1)
			_exit(5);
		close(pfd[1]);
		while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
			;
		_exit(0);
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &b, 1), 1);
	close(pfd[0]);

	assert_int_equal(ops->list(f->h, &v, &n), 0);
	assert_int_equal(n, 3);
	for (uint32_t i = 0; i < n; i++)
		track(f, v[i].pid);
	free(v);
	sleep_ms(60);

	/* clean stop by someone else: status unknown, last record ev=stop */
	assert_int_equal(kill(dom_pid(f, f->h, "y1"), SIGTERM), 0);
	wait_events(f, f->h, 1);
	assert_string_equal(f->ev[0].name, "y1");
	assert_int_equal(f->ev[0].gen, 20);
	assert_int_equal(f->ev[0].reason, HV_END_SHUTDOWN);
	assert_non_null(strstr(f->ev[0].detail, "exit status unknown"));
	assert_non_null(strstr(f->ev[0].detail, "ev=stop"));
	/* a crash: no end record */
	assert_int_equal(kill(dom_pid(f, f->h, "y2"), SIGKILL), 0);
	wait_events(f, f->h, 2);
	assert_int_equal(f->ev[1].gen, 21);
	assert_int_equal(f->ev[1].reason, HV_END_CRASH);
	assert_non_null(strstr(f->ev[1].detail, "process gone"));
	/* destroy works on an adopted domain it cannot reap */
	assert_int_equal(ops->destroy(f->h, "y3"), 0);
	wait_events(f, f->h, 3);
	assert_int_equal(f->ev[2].gen, 22);
	assert_int_equal(f->ev[2].reason, HV_END_STOPPED);
	assert_false(exists(f->run, "y3", ".pid"));

	/* the helper reaped all three and left */
	int st;
	assert_int_equal(waitpid(f->helper, &st, 0), f->helper);
	f->helper = 0;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_no_zombies();
}

static void test_stale_pidfiles(void **state)
{
	struct fx *f = *state;
	struct hv_domain_info *v;
	uint32_t n;
	char path[PATH_MAX], text[128], buf[1024];
	unsigned long long st = 0;

	/* a pid that does not exist */
	path_of(path, sizeof(path), f->run, "ghost", ".pid");
	write_file(path, "2147483000 1 1 3-1-0011223344556677 1\n", 0644);
	/* a live process that is not a sim domain: this test program itself,
	 * with its true start time */
	FILE *fp = fopen("/proc/self/stat", "r");
	assert_non_null(fp);
	assert_non_null(fgets(buf, sizeof(buf), fp));
	fclose(fp);
	char *p = strrchr(buf, ')') + 2;
	for (int i = 3; i < 22; i++)
		p = strchr(p, ' ') + 1;
	st = strtoull(p, NULL, 10);
	snprintf(text, sizeof(text), "%ld %llu 1 3-1-0011223344556677 1\n", (long)getpid(), st);
	path_of(path, sizeof(path), f->run, "me", ".pid");
	write_file(path, text, 0644);
	/* garbage */
	path_of(path, sizeof(path), f->run, "junk", ".pid");
	write_file(path, "hello\n", 0644);
	/* a stale file for a name about to be started */
	path_of(path, sizeof(path), f->run, "web1", ".pid");
	write_file(path, "2147483000 1 1 3-1-0011223344556677 1\n", 0644);

	assert_int_equal(start(f, f->h, "web1", 30, 4), 0);
	assert_int_equal(ops->list(f->h, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].name, "web1");
	assert_int_equal(v[0].generation, 30);
	free(v);
	assert_false(exists(f->run, "ghost", ".pid"));
	assert_false(exists(f->run, "me", ".pid"));
	assert_false(exists(f->run, "junk", ".pid"));
	assert_true(exists(f->run, "web1", ".pid"));
	assert_int_equal(ops->destroy(f->h, "web1"), 0);
	wait_events(f, f->h, 1);
	assert_no_zombies();
}

static void test_start_failures(void **state)
{
	struct fx *f = *state;
	struct xh_config c = f->cfg;
	char prog[PATH_MAX];
	struct hv *h;

	/* a program that exits before it is ready */
	snprintf(c.sim_simdom, sizeof(c.sim_simdom), "/bin/false");
	assert_int_equal(ops->open(&c, on_end, f, &h), 0);
	assert_int_equal(start(f, h, "web1", 1, 1), -EIO);
	assert_false(exists(f->run, "web1", ".pid"));
	ops->close(h);

	/* a program that never becomes ready: killed after the timeout */
	SETF(prog, "%s/hang.sh", f->dir);
	write_file(prog, "#!/bin/sh\nexec sleep 30\n", 0755);
	c = f->cfg;
	SETF(c.sim_simdom, "%s", prog);
	c.start_timeout_ms = 300;
	assert_int_equal(ops->open(&c, on_end, f, &h), 0);
	uint64_t t0 = now_ms();
	assert_int_equal(start(f, h, "web1", 1, 1), -ETIMEDOUT);
	assert_true(now_ms() - t0 >= 250);
	assert_false(exists(f->run, "web1", ".pid"));
	ops->close(h);

	/* the shared image directory is missing */
	c = f->cfg;
	SETF(c.sim_image_dir, "%s/no-such-dir", f->dir);
	assert_int_equal(ops->open(&c, on_end, f, &h), 0);
	assert_int_equal(start(f, h, "web1", 1, 1), -ENOENT);
	ops->close(h);

	/* no end events for domains that never started */
	assert_int_equal(f->nev, 0);
	assert_no_zombies();
}

/* Records over a longer run: the dirtying and record loop keeps time. */
static void test_records(void **state)
{
	struct fx *f = *state;
	struct image_check ic;

	assert_int_equal(start(f, f->h, "web1", 40, 8), 0);
	sleep_ms(400);
	assert_int_equal(ops->shutdown(f->h, "web1", 5000), 0);
	wait_events(f, f->h, 1);
	check_image(f, "web1", 40, &ic);
	assert_int_equal(ic.incs, 1);
	assert_string_equal(ic.last_ev, "stop");
	/* 400 ms at one record per 20 ms: about 20, allow a slow machine */
	assert_true(ic.lines >= 8);
	assert_true(ic.lines <= 25);
	/* the domain's log went to run_dir/NAME.log */
	char path[PATH_MAX], buf[1024];
	path_of(path, sizeof(path), f->run, "web1", ".log");
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	size_t len = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[len] = '\0';
	assert_non_null(strstr(buf, "sim domain web1: started inc="));
	assert_non_null(strstr(buf, "sim domain web1: stopped by host"));
	assert_no_zombies();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_list_exists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_stopped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt_new_instance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt_foreign, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_pidfiles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_records, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
