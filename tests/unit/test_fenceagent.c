/*
 * Unit tests for fence agents: the pure part (src/lib/fenceagent.c) and
 * the runner (src/drivers/fenceagent_run.c) against a real agent program,
 * tests/unit/fake_fence_agent.sh (a shell script in fence-agents style,
 * its behaviour chosen by the device's args).  The script is copied into
 * a fresh temporary directory per test, with its mode set, so the test
 * does not depend on the exec bit surviving a tarball.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "xenha/fenceagent.h"

#ifndef FAKE_AGENT
#error "FAKE_AGENT must name tests/unit/fake_fence_agent.sh"
#endif

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- fixture: a temporary directory with the agent in it ---- */

struct fx {
	char dir[64];
	char agent[128];        /* DIR/agent */
	char state[128];        /* DIR/state: plug state files */
	char log[128];          /* DIR/calls: "ACTION PLUG" per run */
	char msgs[64][200];     /* log callback lines */
	unsigned n_msgs;
};

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	size_t n = strlen(text);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	assert_int_equal(close(fd), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	assert_int_equal(fseek(f, 0, SEEK_SET), 0);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char *script;

	assert_non_null(f);
	strcpy(f->dir, "/tmp/xh-fa-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->agent, sizeof(f->agent), "%s/agent", f->dir);
	snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
	snprintf(f->log, sizeof(f->log), "%s/calls", f->dir);
	assert_int_equal(mkdir(f->state, 0700), 0);
	script = read_all(FAKE_AGENT);
	assert_non_null(script);
	write_file(f->agent, script, 0755);
	free(script);
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void collect(void *arg, int prio, const char *msg)
{
	struct fx *f = arg;

	if (f->n_msgs < NELEM(f->msgs))
		snprintf(f->msgs[f->n_msgs++], sizeof(f->msgs[0]), "%d %s", prio, msg);
}

static bool logged(const struct fx *f, const char *needle)
{
	unsigned i;

	for (i = 0; i < f->n_msgs; i++)
		if (strstr(f->msgs[i], needle) != NULL)
			return true;
	return false;
}

/* A device: agent, hosts "h1 h2 ..." (space-separated), level, timeout,
 * and args given as a NULL-terminated list. */
static void mkdev(struct xh_fence_device *d, const char *name, const char *agent,
		  const char *hosts, uint32_t level, uint32_t timeout_ms, ...)
{
	char hs[256], *tok, *save = NULL;
	const char *a;
	va_list ap;

	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	snprintf(d->agent, sizeof(d->agent), "%s", agent);
	snprintf(hs, sizeof(hs), "%s", hosts);
	for (tok = strtok_r(hs, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		snprintf(d->hosts[d->n_hosts++], XH_NAME_MAX, "%s", tok);
	d->level = level;
	d->timeout_ms = timeout_ms;
	va_start(ap, timeout_ms);
	while ((a = va_arg(ap, const char *)) != NULL)
		snprintf(d->args[d->n_args++], CFG_FENCE_ARG_MAX, "%s", a);
	va_end(ap);
}

/* a fake-agent device with mode, the fixture's state dir and call log */
static void fakedev(struct fx *f, struct xh_fence_device *d, const char *name,
		    const char *hosts, uint32_t level, uint32_t timeout_ms,
		    const char *mode, const char *extra)
{
	char m[64], s[160], l[160];

	snprintf(m, sizeof(m), "mode=%s", mode);
	snprintf(s, sizeof(s), "state=%s", f->state);
	snprintf(l, sizeof(l), "log=%s", f->log);
	mkdev(d, name, f->agent, hosts, level, timeout_ms, m, s, l, extra, NULL);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Open descriptors of this process (fa_run must not leak any). */
static unsigned count_fds(void)
{
	unsigned n = 0;
	int fd;

	for (fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

/* ---- pure: stdin text ---- */

static void test_stdin_text(void **state)
{
	struct xh_fence_device d;
	char buf[512];
	size_t need;

	mkdev(&d, "ipmi", "/usr/sbin/fence_ipmilan", "h1 h2", 1, 30000,
	      "ip=198.18.0.101", "lanplus=1", "password_script=/etc/pw", NULL);
	assert_int_equal(fa_stdin_text(&d, "off", "h2", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "action=off\nplug=h2\nip=198.18.0.101\n"
			    "lanplus=1\npassword_script=/etc/pw\n");
	assert_int_equal(fa_stdin_text(&d, "status", "h1", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "action=status\nplug=h1\nip=198.18.0.101\n"
			    "lanplus=1\npassword_script=/etc/pw\n");

	/* exactly enough room, and one byte less */
	need = strlen(buf) + 1;
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(fa_stdin_text(&d, "status", "h1", buf, need), 0);
	assert_int_equal(strlen(buf), need - 1);
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(fa_stdin_text(&d, "status", "h1", buf, need - 1), -ENOSPC);
	assert_string_equal(buf, "");
	assert_int_equal(fa_stdin_text(&d, "status", "h1", buf, 5), -ENOSPC);
	assert_string_equal(buf, "");
	assert_int_equal(fa_stdin_text(&d, "status", "h1", buf, 0), -ENOSPC);

	/* no args */
	mkdev(&d, "x", "/bin/x", "h1", 1, 30000, NULL);
	assert_int_equal(fa_stdin_text(&d, "on", "h1", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "action=on\nplug=h1\n");
}

static void test_stdin_text_invalid(void **state)
{
	static const char *const bad_actions[] = {
		"", "OFF", "off\n", "off ", "of=f", "status\nplug=h9",
		"abcdefghijklmnopqrstuvwxyzabcdef",
	};
	static const char *const bad_plugs[] = {
		"", "h 2", "h2\n", "h2\naction=on", "h\t2", "h\x7f",
	};
	struct xh_fence_device d;
	char buf[512], plug[80];
	size_t i;

	mkdev(&d, "x", "/bin/x", "h1", 1, 30000, "ip=1", NULL);
	for (i = 0; i < NELEM(bad_actions); i++) {
		strcpy(buf, "unchanged");
		assert_int_equal(fa_stdin_text(&d, bad_actions[i], "h1", buf,
					       sizeof(buf)), -EINVAL);
		assert_string_equal(buf, "unchanged");
	}
	/* the longest action: 31 bytes */
	assert_int_equal(fa_stdin_text(&d, "abcdefghijklmnopqrstuvwxyzabcde", "h1",
				       buf, sizeof(buf)), 0);
	for (i = 0; i < NELEM(bad_plugs); i++)
		assert_int_equal(fa_stdin_text(&d, "off", bad_plugs[i], buf,
					       sizeof(buf)), -EINVAL);
	memset(plug, 'p', sizeof(plug));
	plug[63] = '\0';
	assert_int_equal(fa_stdin_text(&d, "off", plug, buf, sizeof(buf)), 0);
	plug[63] = 'p';
	plug[64] = '\0';
	assert_int_equal(fa_stdin_text(&d, "off", plug, buf, sizeof(buf)), -EINVAL);

	/* a hand-built device cannot inject lines either */
	mkdev(&d, "x", "/bin/x", "h1", 1, 30000, "ip=1\naction=on", NULL);
	assert_int_equal(fa_stdin_text(&d, "off", "h1", buf, sizeof(buf)), -EINVAL);
	mkdev(&d, "x", "/bin/x", "h1", 1, 30000, "noequals", NULL);
	assert_int_equal(fa_stdin_text(&d, "off", "h1", buf, sizeof(buf)), -EINVAL);
	mkdev(&d, "x", "/bin/x", "h1", 1, 30000, "=x", NULL);
	assert_int_equal(fa_stdin_text(&d, "off", "h1", buf, sizeof(buf)), -EINVAL);
	mkdev(&d, "x", "/bin/x", "h1", 1, 30000, "", NULL);
	assert_int_equal(fa_stdin_text(&d, "off", "h1", buf, sizeof(buf)), -EINVAL);
	mkdev(&d, "x", "/bin/x", "h1", 1, 30000, NULL);
	d.n_args = CFG_FENCE_ARGS_MAX + 1;
	assert_int_equal(fa_stdin_text(&d, "off", "h1", buf, sizeof(buf)), -EINVAL);
	/* unterminated arg */
	mkdev(&d, "x", "/bin/x", "h1", 1, 30000, "k=v", NULL);
	memset(d.args[0], 'a', sizeof(d.args[0]));
	d.args[0][1] = '=';
	assert_int_equal(fa_stdin_text(&d, "off", "h1", buf, sizeof(buf)), -EINVAL);

	mkdev(&d, "x", "/bin/x", "h1", 1, 30000, NULL);
	assert_int_equal(fa_stdin_text(NULL, "off", "h1", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(fa_stdin_text(&d, NULL, "h1", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(fa_stdin_text(&d, "off", NULL, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(fa_stdin_text(&d, "off", "h1", NULL, 10), -EINVAL);
}

/* ---- pure: plan ---- */

static void test_plan(void **state)
{
	struct xh_fence_device d[6];
	uint32_t out[CFG_FENCE_DEVICES_MAX], n = 99;

	mkdev(&d[0], "pdu-b", "/a", "h1 h2", 2, 30000, NULL);
	mkdev(&d[1], "ipmi-h1", "/a", "h1", 1, 30000, NULL);
	mkdev(&d[2], "ipmi-h2", "/a", "h2", 1, 30000, NULL);
	mkdev(&d[3], "pdu-a", "/a", "h2 h3", 2, 30000, NULL);
	mkdev(&d[4], "last", "/a", "h3 h2", 9, 30000, NULL);
	mkdev(&d[5], "ipmi2-h2", "/a", "h2", 1, 30000, NULL);

	/* level, then file order */
	assert_int_equal(fa_plan(d, 6, "h2", out, NELEM(out), &n), 3);
	assert_int_equal(n, 5);
	assert_int_equal(out[0], 2);
	assert_int_equal(out[1], 5);
	assert_int_equal(out[2], 0);
	assert_int_equal(out[3], 3);
	assert_int_equal(out[4], 4);

	assert_int_equal(fa_plan(d, 6, "h1", out, NELEM(out), &n), 2);
	assert_int_equal(n, 2);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 0);

	assert_int_equal(fa_plan(d, 6, "h3", out, NELEM(out), &n), 2);
	assert_int_equal(n, 2);
	assert_int_equal(out[0], 3);
	assert_int_equal(out[1], 4);

	/* only the first n devices count */
	assert_int_equal(fa_plan(d, 3, "h3", out, NELEM(out), &n), 0);
	assert_int_equal(n, 0);

	/* nobody fences an unknown host, a prefix, or "" */
	assert_int_equal(fa_plan(d, 6, "h4", out, NELEM(out), &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(fa_plan(d, 6, "h", out, NELEM(out), &n), 0);
	assert_int_equal(fa_plan(d, 6, "", out, NELEM(out), &n), 0);
	assert_int_equal(fa_plan(d, 0, "h2", out, NELEM(out), &n), 0);

	/* hosts beyond n_hosts do not count */
	d[1].n_hosts = 0;
	assert_int_equal(fa_plan(d, 6, "h1", out, NELEM(out), &n), 1);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 0);

	/* room */
	assert_int_equal(fa_plan(d, 6, "h2", out, 5, &n), 3);
	assert_int_equal(fa_plan(d, 6, "h2", out, 4, &n), -ENOSPC);
	assert_int_equal(fa_plan(d, 6, "h2", out, 0, &n), -ENOSPC);

	assert_int_equal(fa_plan(NULL, 6, "h2", out, 5, &n), -EINVAL);
	assert_int_equal(fa_plan(d, 6, NULL, out, 5, &n), -EINVAL);
	assert_int_equal(fa_plan(d, 6, "h2", NULL, 5, &n), -EINVAL);
	assert_int_equal(fa_plan(d, 6, "h2", out, 5, NULL), -EINVAL);
	assert_int_equal(fa_plan(d, CFG_FENCE_DEVICES_MAX + 1, "h2", out, 5, &n),
			 -EINVAL);
}

/* ---- pure: the judge ---- */

static void test_level_fenced(void **state)
{
	struct fa_dev_result r[3];

	memset(r, 0, sizeof(r));
	r[0].off_exit = 0;
	r[0].status_exit = FA_STATUS_OFF;
	r[1] = r[0];
	r[2] = r[0];
	assert_true(fa_level_fenced(r, 1));
	assert_true(fa_level_fenced(r, 3));
	assert_false(fa_level_fenced(r, 0));
	assert_false(fa_level_fenced(NULL, 3));

	/* status says on: the agent's "off" was only a claim */
	r[1].status_exit = FA_STATUS_ON;
	assert_false(fa_level_fenced(r, 3));
	assert_true(fa_level_fenced(r, 1));
	/* status error, or none ran */
	r[1].status_exit = 1;
	assert_false(fa_level_fenced(r, 3));
	r[1].status_exit = -1;
	assert_false(fa_level_fenced(r, 3));
	/* off failed, even if status then says off */
	r[1].status_exit = FA_STATUS_OFF;
	assert_true(fa_level_fenced(r, 3));
	r[2].off_exit = 1;
	assert_false(fa_level_fenced(r, 3));
	r[2].off_exit = -1;
	assert_false(fa_level_fenced(r, 3));
	r[2].off_exit = 2;
	assert_false(fa_level_fenced(r, 3));
}

/* ---- exec: fa_run ---- */

static struct fa_result res;   /* 4 KiB; the cmocka stack is fine, but one is enough */

static void test_run_stdin_exact(void **state)
{
	struct fx *f = *state;
	struct xh_fence_device d;
	char want[1024];

	fakedev(f, &d, "d", "h1", 1, 5000, "echo", "ssl_insecure=1");
	assert_int_equal(fa_stdin_text(&d, "off", "h1", want, sizeof(want)), 0);
	assert_int_equal(fa_run(&d, "off", "h1", 5000, &res), 0);
	assert_int_equal(res.exit_code, 0);
	assert_int_equal(res.signal, 0);
	assert_false(res.timed_out);
	assert_int_equal(res.output_len, strlen(want));
	assert_string_equal(res.output, want);
	assert_true(res.elapsed_ms < 5000);
}

static void test_run_ok_and_status(void **state)
{
	struct fx *f = *state;
	struct xh_fence_device d;
	char *calls;

	fakedev(f, &d, "d", "h1", 1, 5000, "ok", NULL);
	assert_int_equal(fa_run(&d, "status", "h1", 5000, &res), 0);
	assert_int_equal(res.exit_code, FA_STATUS_ON);
	assert_string_equal(res.output, "Status: ON\n");
	assert_int_equal(fa_run(&d, "off", "h1", 5000, &res), 0);
	assert_int_equal(res.exit_code, 0);
	assert_int_equal(fa_run(&d, "status", "h1", 5000, &res), 0);
	assert_int_equal(res.exit_code, FA_STATUS_OFF);
	assert_string_equal(res.output, "Status: OFF\n");
	calls = read_all(f->log);
	assert_non_null(calls);
	assert_string_equal(calls, "status h1\noff h1\nstatus h1\n");
	free(calls);
}

static void test_run_fail_output(void **state)
{
	struct fx *f = *state;
	struct xh_fence_device d;

	/* stderr is captured with stdout */
	fakedev(f, &d, "d", "h1", 1, 5000, "fail", NULL);
	assert_int_equal(fa_run(&d, "off", "h1", 5000, &res), 0);
	assert_int_equal(res.exit_code, 1);
	assert_false(res.timed_out);
	assert_string_equal(res.output, "fake agent: cannot reach the device\n");
}

static void test_run_hang_term(void **state)
{
	struct fx *f = *state;
	struct xh_fence_device d;
	uint64_t t0 = now_ms(), took;

	fakedev(f, &d, "d", "h1", 1, 300, "hang", NULL);
	assert_int_equal(fa_run(&d, "off", "h1", 300, &res), 0);
	took = now_ms() - t0;
	assert_true(res.timed_out);
	assert_false(res.killed);
	assert_int_equal(res.exit_code, -1);
	assert_int_equal(res.signal, SIGTERM);
	assert_true(res.elapsed_ms >= 300);
	assert_true(res.elapsed_ms < 1300);
	assert_true(took < 1300);
}

static void test_run_hang_kill(void **state)
{
	struct fx *f = *state;
	struct xh_fence_device d;
	uint64_t t0 = now_ms(), took;
	unsigned fds = count_fds();

	/* ignores SIGTERM: SIGKILL FA_KILL_GRACE_MS later */
	fakedev(f, &d, "d", "h1", 1, 300, "hang-hard", NULL);
	assert_int_equal(fa_run(&d, "off", "h1", 300, &res), 0);
	took = now_ms() - t0;
	assert_true(res.timed_out);
	assert_true(res.killed);
	assert_int_equal(res.exit_code, -1);
	assert_int_equal(res.signal, SIGKILL);
	assert_true(res.elapsed_ms >= 300 + FA_KILL_GRACE_MS);
	assert_true(res.elapsed_ms < 1300 + FA_KILL_GRACE_MS);
	assert_true(took < 1300 + FA_KILL_GRACE_MS);
	assert_int_equal(count_fds(), fds);
}

static void test_run_flood(void **state)
{
	struct fx *f = *state;
	struct xh_fence_device d;

	/* 100 KiB of output: kept 4 KiB, the rest drained, no deadlock */
	fakedev(f, &d, "d", "h1", 1, 10000, "flood", NULL);
	assert_int_equal(fa_run(&d, "off", "h1", 10000, &res), 0);
	assert_false(res.timed_out);
	assert_int_equal(res.exit_code, 0);
	assert_int_equal(res.output_len, FA_OUTPUT_MAX);
	assert_int_equal(strlen(res.output), FA_OUTPUT_MAX);
	assert_memory_equal(res.output, "0123456789", 10);
}

static void test_run_signal(void **state)
{
	struct fx *f = *state;
	struct xh_fence_device d;

	fakedev(f, &d, "d", "h1", 1, 5000, "crash", NULL);
	assert_int_equal(fa_run(&d, "off", "h1", 5000, &res), 0);
	assert_false(res.timed_out);
	assert_int_equal(res.exit_code, -1);
	assert_int_equal(res.signal, SIGKILL);
}

static void test_run_exec_errors(void **state)
{
	struct fx *f = *state;
	struct xh_fence_device d;
	char path[160];
	unsigned fds = count_fds();

	snprintf(path, sizeof(path), "%s/missing", f->dir);
	mkdev(&d, "d", path, "h1", 1, 5000, NULL);
	assert_int_equal(fa_run(&d, "off", "h1", 5000, &res), -ENOENT);
	assert_int_equal(res.exit_code, -1);

	snprintf(path, sizeof(path), "%s/noexec", f->dir);
	write_file(path, "#!/bin/sh\nexit 0\n", 0644);
	mkdev(&d, "d", path, "h1", 1, 5000, NULL);
	assert_int_equal(fa_run(&d, "off", "h1", 5000, &res), -EACCES);

	/* not absolute, bad action */
	mkdev(&d, "d", "agent", "h1", 1, 5000, NULL);
	assert_int_equal(fa_run(&d, "off", "h1", 5000, &res), -EINVAL);
	fakedev(f, &d, "d", "h1", 1, 5000, "ok", NULL);
	assert_int_equal(fa_run(&d, "off\n", "h1", 5000, &res), -EINVAL);
	assert_int_equal(fa_run(&d, "off", "h1", 5000, NULL), -EINVAL);
	assert_int_equal(fa_run(NULL, "off", "h1", 5000, &res), -EINVAL);
	assert_int_equal(count_fds(), fds);
}

/* An agent that exits without reading its input must not take us down
 * with SIGPIPE; nor may it inherit our descriptors. */
static void test_run_early_exit_and_fds(void **state)
{
	struct fx *f = *state;
	struct xh_fence_device d;
	char path[160];
	int i, fd = open("/dev/null", O_RDONLY);   /* no O_CLOEXEC on purpose */

	assert_true(fd >= 0);
	snprintf(path, sizeof(path), "%s/early", f->dir);
	write_file(path, "#!/bin/sh\nexit 0\n", 0755);
	mkdev(&d, "d", path, "h1", 1, 5000, "k=v", NULL);
	for (i = 0; i < 20; i++) {
		assert_int_equal(fa_run(&d, "off", "h1", 5000, &res), 0);
		assert_int_equal(res.exit_code, 0);
	}

	snprintf(path, sizeof(path), "%s/fds", f->dir);
	write_file(path, "#!/bin/sh\ncat >/dev/null\nexec ls /proc/self/fd\n", 0755);
	mkdev(&d, "d", path, "h1", 1, 5000, NULL);
	assert_int_equal(fa_run(&d, "off", "h1", 5000, &res), 0);
	assert_int_equal(res.exit_code, 0);
	/* ls itself may show the descriptor it reads /proc with: 0 1 2 (3) */
	if (strcmp(res.output, "0\n1\n2\n") != 0 &&
	    strcmp(res.output, "0\n1\n2\n3\n") != 0)
		fail_msg("agent inherited descriptors: %s", res.output);
	close(fd);
}

/* ---- exec: fa_fence_host ---- */

static struct fa_outcome oc;

static void test_fence_success(void **state)
{
	struct fx *f = *state;
	struct xh_fence_device d[3];
	char *calls, path[160], *st;

	fakedev(f, &d[0], "a", "h1 h2", 1, 5000, "ok", NULL);
	fakedev(f, &d[1], "b", "h2", 1, 5000, "ok", NULL);
	fakedev(f, &d[2], "later", "h2", 2, 5000, "ok", NULL);
	assert_int_equal(fa_fence_host(d, 3, "h2", &oc, collect, f), 0);
	assert_true(oc.success);
	assert_int_equal(oc.level, 1);
	assert_int_equal(oc.levels, 2);
	assert_int_equal(oc.levels_tried, 1);
	assert_int_equal(oc.n_results, 2);
	assert_int_equal(oc.results[0].dev, 0);
	assert_int_equal(oc.results[1].dev, 1);
	assert_int_equal(oc.results[0].off_exit, 0);
	assert_int_equal(oc.results[0].status_exit, FA_STATUS_OFF);
	assert_int_equal(oc.results[0].status_tries, 1);
	assert_int_equal(oc.results[1].status_exit, FA_STATUS_OFF);
	/* off on every device of the level, then status; level 2 never ran */
	calls = read_all(f->log);
	assert_string_equal(calls, "off h2\noff h2\nstatus h2\nstatus h2\n");
	free(calls);
	snprintf(path, sizeof(path), "%s/h2", f->state);
	st = read_all(path);
	assert_string_equal(st, "off\n");
	free(st);
	assert_true(logged(f, "host fenced: host=h2 level=1 devices=2"));
	assert_true(logged(f, "fence agent: device=b action=status plug=h2 exit=2 "
			   "signal=0 timed_out=no"));
	assert_true(logged(f, "output=\"Status: OFF\""));
}

static void test_fence_next_level(void **state)
{
	struct fx *f = *state;
	struct xh_fence_device d[3];
	char *calls;

	/* level 1 has one failing device among two: the level fails */
	fakedev(f, &d[0], "ipmi", "h2", 1, 5000, "ok", NULL);
	fakedev(f, &d[1], "ipmi-broken", "h2", 1, 5000, "fail", NULL);
	fakedev(f, &d[2], "pdu", "h1 h2", 2, 5000, "ok", NULL);
	assert_int_equal(fa_fence_host(d, 3, "h2", &oc, collect, f), 0);
	assert_true(oc.success);
	assert_int_equal(oc.level, 2);
	assert_int_equal(oc.levels_tried, 2);
	assert_int_equal(oc.n_results, 3);
	assert_int_equal(oc.results[0].off_exit, 0);
	assert_int_equal(oc.results[1].off_exit, 1);
	assert_int_equal(oc.results[1].status_exit, -1);
	assert_int_equal(oc.results[1].status_tries, 0);
	assert_int_equal(oc.results[2].dev, 2);
	assert_int_equal(oc.results[2].level, 2);
	assert_int_equal(oc.results[2].status_exit, FA_STATUS_OFF);
	calls = read_all(f->log);
	/* a failed off skips the level's read-backs */
	assert_string_equal(calls, "off h2\noff h2\noff h2\nstatus h2\n");
	free(calls);
	assert_true(logged(f, "fencing level failed: host=h2 level=1, trying the "
			   "next level"));
	assert_true(logged(f, "output=\"fake agent: cannot reach the device\""));
}

static void test_fence_status_lies(void **state)
{
	struct fx *f = *state;
	struct xh_fence_device d[1];
	uint64_t t0 = now_ms(), took;

	/* off says done, status keeps saying on: not fenced.  Read-backs
	   1 s apart within the 2.5 s timeout: at 0, 1 and 2 s. */
	fakedev(f, &d[0], "liar", "h2", 1, 2500, "lies-on-status", NULL);
	assert_int_equal(fa_fence_host(d, 1, "h2", &oc, collect, f), 0);
	took = now_ms() - t0;
	assert_false(oc.success);
	assert_int_equal(oc.level, 0);
	assert_int_equal(oc.levels_tried, 1);
	assert_int_equal(oc.results[0].off_exit, 0);
	assert_int_equal(oc.results[0].status_exit, FA_STATUS_ON);
	assert_int_equal(oc.results[0].status_tries, 3);
	assert_true(took >= 2000);
	assert_true(took < 2500 + 2000);
	assert_true(logged(f, "fencing failed: host=h2 levels_tried=1"));
}

static void test_fence_status_late(void **state)
{
	struct fx *f = *state;
	struct xh_fence_device d[1];

	/* status says on twice, then off: fenced after three read-backs */
	fakedev(f, &d[0], "slow", "h2", 1, 10000, "off-late", "count=2");
	assert_int_equal(fa_fence_host(d, 1, "h2", &oc, collect, f), 0);
	assert_true(oc.success);
	assert_int_equal(oc.results[0].status_tries, 3);
	assert_int_equal(oc.results[0].status_exit, FA_STATUS_OFF);

	/* at most FA_STATUS_TRIES read-backs, even with time left */
	fakedev(f, &d[0], "slower", "h3", 1, 30000, "off-late", "count=9");
	assert_int_equal(fa_fence_host(d, 1, "h3", &oc, collect, f), 0);
	assert_false(oc.success);
	assert_int_equal(oc.results[0].status_tries, FA_STATUS_TRIES);
}

static void test_fence_hang_then_next(void **state)
{
	struct fx *f = *state;
	struct xh_fence_device d[2];

	fakedev(f, &d[0], "hung", "h2", 3, 1000, "hang", NULL);
	fakedev(f, &d[1], "pdu", "h2", 5, 5000, "ok", NULL);
	assert_int_equal(fa_fence_host(d, 2, "h2", &oc, collect, f), 0);
	assert_true(oc.success);
	assert_int_equal(oc.level, 5);
	assert_int_equal(oc.results[0].off_exit, -1);
	assert_true(oc.results[0].off_timed_out);
	assert_true(oc.results[0].elapsed_ms >= 1000);
	assert_true(oc.results[0].elapsed_ms < 2000);
	assert_true(logged(f, "timed_out=yes"));
}

static void test_fence_edges(void **state)
{
	struct fx *f = *state;
	struct xh_fence_device d[2];
	char path[160];

	fakedev(f, &d[0], "a", "h1", 1, 5000, "ok", NULL);
	assert_int_equal(fa_fence_host(d, 1, "h9", &oc, collect, f), -ENOENT);
	assert_false(oc.success);
	assert_int_equal(oc.levels, 0);
	assert_true(logged(f, "no fence device can fence host=h9"));
	assert_int_equal(fa_fence_host(d, 1, "h1", NULL, NULL, NULL), -EINVAL);
	assert_int_equal(fa_fence_host(NULL, 1, "h1", &oc, NULL, NULL), -EINVAL);

	/* an agent that cannot be started fails its level; no log callback */
	snprintf(path, sizeof(path), "%s/missing", f->dir);
	mkdev(&d[0], "gone", path, "h1", 1, 5000, NULL);
	fakedev(f, &d[1], "b", "h1", 2, 5000, "ok", NULL);
	assert_int_equal(fa_fence_host(d, 2, "h1", &oc, NULL, NULL), 0);
	assert_true(oc.success);
	assert_int_equal(oc.level, 2);
	assert_int_equal(oc.results[0].off_exit, -1);
	assert_int_equal(oc.results[0].off_errno, ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stdin_text),
		cmocka_unit_test(test_stdin_text_invalid),
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_level_fenced),
		cmocka_unit_test_setup_teardown(test_run_stdin_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_ok_and_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_fail_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_hang_term, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_hang_kill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_flood, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_signal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_exec_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_early_exit_and_fds, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fence_success, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fence_next_level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fence_status_lies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fence_status_late, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fence_hang_then_next, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fence_edges, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
