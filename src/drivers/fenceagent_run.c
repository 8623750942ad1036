/*
 * Fence agents, the exec part: run one agent with a timeout (fa_run) and
 * fence a host level by level (fa_fence_host).  Contracts in
 * include/xenha/fenceagent.h; the rules themselves (order, judge) are in
 * src/lib/fenceagent.c.
 *
 * Why it is built this way:
 *
 *  - Own process group.  Agents are often scripts that start helpers
 *    (ipmitool, ssh, snmpget).  Killing only the script would leave a
 *    helper holding the power controller's session; we signal the group.
 *
 *  - stdin is a socketpair, not a pipe.  An agent may exit before reading
 *    its input; writing to a pipe then raises SIGPIPE, which would kill
 *    xenha-fenced unless we changed a process-wide signal disposition.
 *    send(MSG_NOSIGNAL) on a socket gets EPIPE instead.  Agents read it
 *    like any stdin.
 *
 *  - Exec failure is reported through a close-on-exec pipe: the child
 *    writes errno there if execv() returns; a successful exec closes it,
 *    so the parent reads either 0 bytes (started) or the errno.
 *
 *  - The child only calls async-signal-safe functions between fork and
 *    exec (we may be one thread of several).  Everything it needs (argv,
 *    the stdin text) is prepared before fork.
 *
 *  - The output pipe is drained all the time, also past what we keep, so
 *    a chatty agent never blocks on a full pipe and then "hangs".
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "xenha/fenceagent.h"

/* How often we look at the child while it runs (ms): bounds the lateness
 * of the timeout and of noticing an exit while output is quiet. */
#define FA_POLL_SLICE_MS 20

/* stdin text: action, plug, up to 16 args of < 128 bytes */
#define FA_STDIN_MAX (64 + XH_NAME_MAX + CFG_FENCE_ARGS_MAX * CFG_FENCE_ARG_MAX)

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = {
		.tv_sec = (time_t)(ms / 1000),
		.tv_nsec = (long)(ms % 1000) * 1000000L,
	};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/*
 * In the child, after fork: wire stdin/stdout/stderr, leave nothing else
 * open across exec, default signals, exec.  Never returns.
 */
static void __attribute__((noreturn))
child(const char *agent, int in_fd, int out_fd, int err_fd)
{
	char *const argv[] = { (char *)agent, NULL };
	struct sigaction sa;
	sigset_t none;
	int e, sig;

	setpgid(0, 0);
	/*
	 * A daemon may run with 0, 1 or 2 closed, so our descriptors can be
	 * among them; move them above 2 before wiring 0..2.
	 */
	in_fd = fcntl(in_fd, F_DUPFD, 3);
	out_fd = fcntl(out_fd, F_DUPFD, 3);
	err_fd = fcntl(err_fd, F_DUPFD_CLOEXEC, 3);
	if (in_fd < 0 || out_fd < 0)
		goto fail;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);     /* SIGKILL, SIGSTOP: EINVAL, fine */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
		goto fail;
	/* everything from 3 up closes at exec, err_fd included */
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */) != 0)
#endif
	{
		long fd, max = sysconf(_SC_OPEN_MAX);

		if (max < 0 || max > 65536)
			max = 65536;
		for (fd = 3; fd < max; fd++)
			fcntl((int)fd, F_SETFD, FD_CLOEXEC);
	}
	execv(agent, argv);
fail:
	e = errno;
	if (write(err_fd, &e, sizeof(e)) < 0) {
		/* nothing left to tell anyone */
	}
	_exit(127);
}

/* Keep what fits of n bytes read into the result. */
static void keep_output(struct fa_result *r, const char *b, size_t n)
{
	size_t room = FA_OUTPUT_MAX - r->output_len;

	if (n > room)
		n = room;
	memcpy(r->output + r->output_len, b, n);
	r->output_len += n;
	r->output[r->output_len] = '\0';
}

/* Read what is there without blocking; close on EOF or error. */
static void drain(int *fd, struct fa_result *r)
{
	char b[4096];

	while (*fd >= 0) {
		ssize_t n = read(*fd, b, sizeof(b));

		if (n > 0) {
			keep_output(r, b, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		close_fd(fd);     /* EOF or a real error */
	}
}

/* Send the whole text on the agent's stdin, then EOF.  A short agent
 * that exits without reading is not our error: EPIPE is ignored. */
static void feed(int *fd, const char *text)
{
	size_t off = 0, n = strlen(text);

	while (off < n) {
		ssize_t w = send(*fd, text + off, n - off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close_fd(fd);
}

int fa_run(const struct xh_fence_device *dev, const char *action,
	   const char *plug, uint32_t timeout_ms, struct fa_result *r)
{
	int sv[2] = { -1, -1 }, out[2] = { -1, -1 }, ep[2] = { -1, -1 };
	int status = 0, e = 0, ret = 0;
	char text[FA_STDIN_MAX];
	uint64_t start, deadline;
	pid_t pid, w;
	ssize_t n;

	if (r == NULL)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->exit_code = -1;
	if (dev == NULL || dev->agent[0] != '/' ||
	    memchr(dev->agent, '\0', sizeof(dev->agent)) == NULL)
		return -EINVAL;
	ret = fa_stdin_text(dev, action, plug, text, sizeof(text));
	if (ret < 0)
		return ret;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 ||
	    pipe2(out, O_CLOEXEC) != 0 || pipe2(ep, O_CLOEXEC) != 0) {
		ret = -errno;
		goto out;
	}
	start = now_ms();
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		goto out;
	}
	if (pid == 0)
		child(dev->agent, sv[1], out[1], ep[1]);

	/* both sides set the group, so a signal never misses it */
	setpgid(pid, pid);
	close_fd(&sv[1]);
	close_fd(&out[1]);
	close_fd(&ep[1]);

	/* started?  (the pipe closes at exec, or carries exec's errno) */
	do
		n = read(ep[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(e)) {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		r->elapsed_ms = now_ms() - start;
		ret = e > 0 ? -e : -EIO;
		goto out;
	}

	feed(&sv[0], text);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	deadline = start + timeout_ms;
	for (;;) {
		struct pollfd p = { .fd = out[0], .events = POLLIN };
		uint64_t t;

		w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			/* someone else reaped it; we cannot know how it ended */
			ret = -ECHILD;
			goto out;
		}
		t = now_ms();
		if (t >= deadline) {
			if (!r->timed_out) {
				r->timed_out = true;
				kill(-pid, SIGTERM);
				deadline = t + FA_KILL_GRACE_MS;
			} else if (!r->killed) {
				r->killed = true;
				kill(-pid, SIGKILL);
				deadline = t + 60000;   /* only a stuck kernel */
			} else {
				/* a process SIGKILL cannot end: stop waiting */
				ret = -ETIMEDOUT;
				goto out;
			}
			continue;
		}
		if (out[0] >= 0) {
			uint64_t slice = deadline - t;

			if (slice > FA_POLL_SLICE_MS)
				slice = FA_POLL_SLICE_MS;
			if (poll(&p, 1, (int)slice) > 0)
				drain(&out[0], r);
		} else {
			sleep_ms(deadline - t < FA_POLL_SLICE_MS ?
				 deadline - t : FA_POLL_SLICE_MS);
		}
	}
	r->elapsed_ms = now_ms() - start;
	drain(&out[0], r);
	if (WIFEXITED(status)) {
		r->exit_code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		r->signal = WTERMSIG(status);
	}
	if (r->timed_out)
		kill(-pid, SIGKILL);   /* helpers of a killed agent, if any */
	ret = 0;
out:
	close_fd(&sv[0]);
	close_fd(&sv[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&ep[0]);
	close_fd(&ep[1]);
	return ret;
}

/* ---- fencing a host ---- */

static void __attribute__((format(printf, 4, 5)))
say(fa_log_fn log, void *arg, int prio, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log(arg, prio, msg);
}

/* The first line of an agent's output, printable, for a log line. */
static const char *first_line(const struct fa_result *r, char *buf, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < r->output_len && o + 1 < len; i++) {
		unsigned char c = (unsigned char)r->output[i];

		if (c == '\n') {
			if (o > 0)
				break;
			continue;
		}
		buf[o++] = (c < 0x20 || c >= 0x7f || c == '"') ? '?' : (char)c;
	}
	buf[o] = '\0';
	return buf;
}

/* Run one action; log it; return the exit code, -1 if it did not exit. */
static int run_logged(const struct xh_fence_device *d, const char *action,
		      const char *host, uint32_t timeout_ms, int *err,
		      bool *timed_out, uint64_t *elapsed, fa_log_fn log,
		      void *arg)
{
	struct fa_result res, *r = &res;   /* 4 KiB: workers have the stack */
	char line[160];
	int rc;

	rc = fa_run(d, action, host, timeout_ms, r);
	*elapsed += r->elapsed_ms;
	*err = rc < 0 ? -rc : 0;
	*timed_out = r->timed_out;
	if (rc < 0) {
		say(log, arg, LOG_ERR, "fence agent failed to run: device=%s "
		     "agent=%s action=%s plug=%s error=%s", d->name, d->agent,
		     action, host, strerror(-rc));
		return -1;
	}
	say(log, arg, r->exit_code == 0 || (r->exit_code == FA_STATUS_OFF &&
	     strcmp(action, "status") == 0) ? LOG_INFO : LOG_WARNING,
	     "fence agent: device=%s action=%s plug=%s exit=%d signal=%d "
	     "timed_out=%s elapsed_ms=%llu output=\"%s\"", d->name, action,
	     host, r->exit_code, r->signal, r->timed_out ? "yes" : "no",
	     (unsigned long long)r->elapsed_ms, first_line(r, line, sizeof(line)));
	return r->exit_code;
}

int fa_fence_host(const struct xh_fence_device *devs, uint32_t n,
		  const char *host, struct fa_outcome *o, fa_log_fn log,
		  void *log_arg)
{
	uint32_t plan[CFG_FENCE_DEVICES_MAX], n_plan = 0, i = 0;
	int levels;

	if (o == NULL)
		return -EINVAL;
	memset(o, 0, sizeof(*o));
	levels = fa_plan(devs, n, host, plan, CFG_FENCE_DEVICES_MAX, &n_plan);
	if (levels < 0)
		return levels;
	o->levels = (uint32_t)levels;
	if (levels == 0) {
		say(log, log_arg, LOG_ERR, "no fence device can fence host=%s", host);
		return -ENOENT;
	}

	while (i < n_plan) {
		uint32_t level = devs[plan[i]].level, first = o->n_results, j;
		struct fa_dev_result *lr = &o->results[first];
		uint32_t nl = 0;
		bool offs_ok = true;

		o->levels_tried++;
		say(log, log_arg, LOG_INFO, "fencing host=%s level=%u", host, level);
		/* "off" on every device of the level */
		for (; i < n_plan && devs[plan[i]].level == level; i++) {
			const struct xh_fence_device *d = &devs[plan[i]];
			struct fa_dev_result *dr = &lr[nl++];

			dr->dev = plan[i];
			dr->level = level;
			dr->status_exit = -1;
			dr->off_exit = run_logged(d, "off", host, d->timeout_ms,
						  &dr->off_errno, &dr->off_timed_out,
						  &dr->elapsed_ms, log, log_arg);
			if (dr->off_exit != 0)
				offs_ok = false;
		}
		o->n_results += nl;

		/* then read back, until each says off */
		for (j = 0; offs_ok && j < nl; j++) {
			struct fa_dev_result *dr = &lr[j];
			const struct xh_fence_device *d = &devs[dr->dev];
			uint64_t begin = now_ms(), spent;

			while (dr->status_tries < FA_STATUS_TRIES) {
				int err;
				bool to;

				spent = now_ms() - begin;
				if (spent >= d->timeout_ms)
					break;
				dr->status_tries++;
				dr->status_exit = run_logged(d, "status", host,
							     (uint32_t)(d->timeout_ms - spent),
							     &err, &to, &dr->elapsed_ms,
							     log, log_arg);
				if (dr->status_exit == FA_STATUS_OFF)
					break;
				if (dr->status_tries >= FA_STATUS_TRIES ||
				    now_ms() - begin + FA_STATUS_INTERVAL_MS >= d->timeout_ms)
					break;
				sleep_ms(FA_STATUS_INTERVAL_MS);
				dr->elapsed_ms += FA_STATUS_INTERVAL_MS;
			}
			if (dr->status_exit != FA_STATUS_OFF)
				break;   /* the level has failed already */
		}

		if (fa_level_fenced(lr, nl)) {
			o->success = true;
			o->level = level;
			say(log, log_arg, LOG_INFO, "host fenced: host=%s level=%u "
			     "devices=%u", host, level, nl);
			return 0;
		}
		say(log, log_arg, LOG_WARNING, "fencing level failed: host=%s "
		     "level=%u%s", host, level,
		     i < n_plan ? ", trying the next level" : ", no level left");
	}
	say(log, log_arg, LOG_ERR, "fencing failed: host=%s levels_tried=%u",
	     host, o->levels_tried);
	return 0;
}
