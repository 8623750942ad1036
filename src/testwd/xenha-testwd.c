/*
 * xenha-testwd - the namespace-test watchdog supervisor.
 *
 * THIS IS A TEST DOUBLE for a hardware watchdog, used by the namespace
 * cluster tests and the demo only.  One runs per test host, OUTSIDE the
 * host's network namespace, and listens on a path-based unix stream socket
 * (reachable from any netns).  xenha-fenced's "test" watchdog driver
 * connects and speaks the line protocol of include/xenha/watchdog.h:
 *
 *   "arm MS"  arm (or re-arm) with a timeout of MS ms (1..600000)
 *   "pet"     restart the countdown
 *   "disarm"  disarm (the magic close)
 *   "fire"    expire now (a poison pill)
 *
 * A client that closes or dies without "disarm" leaves it armed: the
 * countdown continues, like /dev/watchdog closed without the magic 'V'.
 * On expiry we "power the host off" by running the command given after
 * "--" once (bounded), then disarm and keep listening: the harness may
 * power the host on again and a new client arms again.
 *
 * Why the shape below: one poll() loop over the listening socket, the one
 * client, a signalfd and a timerfd holding the absolute deadline on the
 * monotonic clock (expiry within a few ms of the deadline, no busy wait).
 * Every fd is close-on-exec so the power-off command inherits none of them.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TESTWD_TIMEOUT_MAX   600000u  /* ms: largest "arm" accepted */
#define TESTWD_LINE_MAX      64       /* one protocol line incl. newline */
#define TESTWD_POWEROFF_MS   30000    /* bound on the power-off command */
#define TESTWD_READS_MAX     16       /* reads per client event, then poll again */
#define TESTWD_ACCEPTS_MAX   16       /* accepts per listen event */

struct testwd_opts {
	const char *socket_path;
	const char *pidfile;
	const char *log_path;
	const char *host;
	char **poweroff;          /* argv, NULL-terminated */
};

struct testwd {
	struct testwd_opts o;
	int listen_fd;
	int client_fd;            /* -1: no client */
	pid_t client_pid;         /* from SO_PEERCRED, 0 if unknown */
	int signal_fd;
	int timer_fd;
	bool armed;
	uint32_t timeout_ms;
	uint64_t armed_at_ms;     /* monotonic */
	uint64_t last_pet_ms;     /* monotonic; the arm counts as a pet */
	char line[TESTWD_LINE_MAX];
	size_t line_len;
	bool line_overflow;       /* discarding up to the next newline */
	unsigned fires;
};

static int g_log_fd = STDERR_FILENO;

static void testwd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void testwd_log(const char *fmt, ...)
{
	char buf[512];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	size_t len;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03ld xenha-testwd[%ld]: ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		     tm.tm_sec, ts.tv_nsec / 1000000, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(buf))
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	/* one write per line: the log file is shared with the power-off command */
	len = strnlen(buf, sizeof(buf) - 2);
	buf[len++] = '\n';
	if (write(g_log_fd, buf, len) < 0) {
		/* nowhere left to report it */
	}
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xenha-testwd --socket PATH --pidfile FILE [--log FILE] [--host NAME]\n"
		"                    -- POWEROFF-COMMAND [ARGS...]\n"
		"The namespace-test watchdog supervisor: a test double for a hardware\n"
		"watchdog (tests and demo only).  Runs POWEROFF-COMMAND when not petted.\n");
}

/* 0 to run, 1 for --help (exit 0), -EINVAL for bad usage (exit 2). */
static int parse_opts(int argc, char **argv, struct testwd_opts *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "log", required_argument, NULL, 'l' },
		{ "host", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sockaddr_un sun;
	int c;

	memset(o, 0, sizeof(*o));
	/* "+": stop at the first non-option, so the command's own options stay its own */
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->socket_path = optarg;
			break;
		case 'p':
			o->pidfile = optarg;
			break;
		case 'l':
			o->log_path = optarg;
			break;
		case 'H':
			o->host = optarg;
			break;
		case 'h':
			return 1;
		default:
			return -EINVAL;
		}
	}
	if (o->socket_path == NULL || o->pidfile == NULL) {
		fprintf(stderr, "xenha-testwd: --socket and --pidfile are required\n");
		return -EINVAL;
	}
	if (o->socket_path[0] == '\0' || strlen(o->socket_path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "xenha-testwd: socket path empty or too long (max %zu)\n",
			sizeof(sun.sun_path) - 1);
		return -EINVAL;
	}
	if (optind >= argc || strcmp(argv[optind - 1], "--") != 0) {
		fprintf(stderr, "xenha-testwd: the power-off command goes after --\n");
		return -EINVAL;
	}
	o->poweroff = &argv[optind];
	if (o->host == NULL)
		o->host = o->socket_path;
	return 0;
}

/*
 * Bind the socket.  A socket file left by a dead supervisor is removed; a
 * live one (a connect succeeds) is refused, so two supervisors never share
 * one host.
 */
static int listen_on(const char *path)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);

	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			testwd_log("refusing socket=%s: exists and is not a socket", path);
			return -EEXIST;
		}
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
		close(fd);
		if (rc == 0) {
			testwd_log("refusing socket=%s: another supervisor answers on it", path);
			return -EADDRINUSE;
		}
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
		testwd_log("removed stale socket=%s", path);
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 8) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/* Written whole, then renamed: a reader never sees a partial pid. */
static int write_pidfile(const char *path)
{
	char tmp[PATH_MAX], buf[32];
	int fd, n, rc = 0;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)n) != n)
		rc = -EIO;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc != 0)
		unlink(tmp);
	return rc;
}

static int timer_set(struct testwd *t, uint64_t deadline_ms)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	/* it_value zero disarms the timerfd; a deadline of 0 never happens */
	its.it_value.tv_sec = (time_t)(deadline_ms / 1000u);
	its.it_value.tv_nsec = (long)(deadline_ms % 1000u) * 1000000L;
	if (timerfd_settime(t->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		return -errno;
	return 0;
}

static void disarm(struct testwd *t)
{
	t->armed = false;
	if (timer_set(t, 0) < 0)
		testwd_log("timerfd_settime failed errno=%d", errno);
}

static void drop_client(struct testwd *t, const char *why)
{
	if (t->client_fd < 0)
		return;
	testwd_log("client closed pid=%ld reason=%s armed=%d", (long)t->client_pid, why,
		   t->armed ? 1 : 0);
	close(t->client_fd);
	t->client_fd = -1;
	t->client_pid = 0;
	t->line_len = 0;
	t->line_overflow = false;
}

/*
 * The host's power switch: run the command once, wait for it bounded by
 * TESTWD_POWEROFF_MS (then kill its process group), log its status.
 * Signals stay blocked meanwhile; a SIGTERM is noted and honoured after.
 */
static void run_poweroff(struct testwd *t, bool *term)
{
	sigset_t mask;
	pid_t pid;
	int status = 0;
	uint64_t start = mono_ms(), deadline = start + TESTWD_POWEROFF_MS;
	bool done = false, killed = false;

	pid = fork();
	if (pid < 0) {
		testwd_log("poweroff fork failed errno=%d host=%s", errno, t->o.host);
		return;
	}
	if (pid == 0) {
		sigemptyset(&mask);
		sigprocmask(SIG_SETMASK, &mask, NULL);
		setpgid(0, 0);
		if (g_log_fd != STDERR_FILENO) {
			dup2(g_log_fd, STDOUT_FILENO);
			dup2(g_log_fd, STDERR_FILENO);
		}
		setenv("XENHA_TESTWD_HOST", t->o.host, 1);
		execvp(t->o.poweroff[0], t->o.poweroff);
		testwd_log("poweroff exec failed cmd=%s errno=%d", t->o.poweroff[0], errno);
		_exit(127);
	}
	setpgid(pid, pid);  /* both sides: no race with the kill below */
	testwd_log("poweroff started host=%s pid=%ld cmd=%s", t->o.host, (long)pid,
		   t->o.poweroff[0]);

	/* bounded: every pass waits for a signal or the deadline */
	for (unsigned pass = 0; pass < 100000 && !done; pass++) {
		struct pollfd pfd = { .fd = t->signal_fd, .events = POLLIN };
		struct signalfd_siginfo si;
		uint64_t now = mono_ms();
		pid_t r;

		r = waitpid(pid, &status, WNOHANG);
		if (r == pid) {
			done = true;
			break;
		}
		if (r < 0 && errno != EINTR) {
			testwd_log("poweroff waitpid failed errno=%d", errno);
			return;
		}
		if (now >= deadline) {
			if (killed) {
				/* SIGKILL sent 1 s ago and still not reaped: give up */
				testwd_log("poweroff pid=%ld did not die after SIGKILL", (long)pid);
				return;
			}
			testwd_log("poweroff timed out pid=%ld after_ms=%u: killing its group",
				   (long)pid, TESTWD_POWEROFF_MS);
			kill(-pid, SIGKILL);
			killed = true;
			deadline = now + 1000;
			continue;
		}
		if (poll(&pfd, 1, (int)(deadline - now)) > 0 &&
		    read(t->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si) &&
		    (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)) {
			testwd_log("signal=%u during poweroff: exiting after it", si.ssi_signo);
			*term = true;
		}
	}
	if (!done)
		return;
	if (WIFEXITED(status))
		testwd_log("poweroff done host=%s exit=%d ms=%" PRIu64, t->o.host,
			   WEXITSTATUS(status), mono_ms() - start);
	else if (WIFSIGNALED(status))
		testwd_log("poweroff done host=%s signal=%d ms=%" PRIu64, t->o.host,
			   WTERMSIG(status), mono_ms() - start);
}

/* The watchdog went off (deadline passed, or "fire"). */
static void expire(struct testwd *t, const char *reason, bool *term)
{
	uint64_t now = mono_ms();

	t->fires++;
	if (t->armed)
		testwd_log("expired host=%s after_ms=%u last_pet_ms_ago=%" PRIu64
			   " armed_ms_ago=%" PRIu64 " reason=%s", t->o.host, t->timeout_ms,
			   now - t->last_pet_ms, now - t->armed_at_ms, reason);
	else
		testwd_log("expired host=%s after_ms=0 last_pet_ms_ago=0 reason=%s (not armed)",
			   t->o.host, reason);
	disarm(t);
	/* a powered-off host keeps no connection to its watchdog */
	drop_client(t, "host powered off");
	run_poweroff(t, term);
	testwd_log("disarmed host=%s fires=%u: listening", t->o.host, t->fires);
}

static void handle_line(struct testwd *t, const char *line, bool *term)
{
	uint64_t now = mono_ms();
	uint32_t ms;

	if (strncmp(line, "arm ", 4) == 0) {
		if (parse_u32(line + 4, 1, TESTWD_TIMEOUT_MAX, &ms) < 0) {
			testwd_log("bad arm line=\"%s\" from pid=%ld: ignored", line,
				   (long)t->client_pid);
			return;
		}
		if (timer_set(t, now + ms) < 0) {
			testwd_log("timerfd_settime failed errno=%d", errno);
			return;
		}
		testwd_log("%s host=%s timeout_ms=%u pid=%ld", t->armed ? "re-armed" : "armed",
			   t->o.host, ms, (long)t->client_pid);
		t->armed = true;
		t->timeout_ms = ms;
		t->armed_at_ms = now;
		t->last_pet_ms = now;
	} else if (strcmp(line, "pet") == 0) {
		if (!t->armed)
			return;  /* e.g. right after an expiry: the host is off */
		if (timer_set(t, now + t->timeout_ms) < 0) {
			testwd_log("timerfd_settime failed errno=%d", errno);
			return;
		}
		t->last_pet_ms = now;
	} else if (strcmp(line, "disarm") == 0) {
		testwd_log("disarmed host=%s by pid=%ld was_armed=%d", t->o.host,
			   (long)t->client_pid, t->armed ? 1 : 0);
		disarm(t);
	} else if (strcmp(line, "fire") == 0) {
		expire(t, "fire", term);
	} else {
		testwd_log("unknown line=\"%s\" from pid=%ld: ignored", line, (long)t->client_pid);
	}
}

static void client_readable(struct testwd *t, bool *term)
{
	char buf[256];

	for (unsigned i = 0; i < TESTWD_READS_MAX && t->client_fd >= 0; i++) {
		ssize_t n = read(t->client_fd, buf, sizeof(buf));

		if (n == 0) {
			drop_client(t, "eof");
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				drop_client(t, "read error");
			return;
		}
		for (ssize_t k = 0; k < n && t->client_fd >= 0; k++) {
			char c = buf[k];

			if (c != '\n') {
				if (t->line_len + 1 >= sizeof(t->line))
					t->line_overflow = true;
				else
					t->line[t->line_len++] = c;
				continue;
			}
			t->line[t->line_len] = '\0';
			if (t->line_overflow)
				testwd_log("overlong line from pid=%ld: ignored",
					   (long)t->client_pid);
			else
				handle_line(t, t->line, term);
			t->line_len = 0;
			t->line_overflow = false;
		}
	}
}

static void accept_clients(struct testwd *t)
{
	for (unsigned i = 0; i < TESTWD_ACCEPTS_MAX; i++) {
		struct ucred cred;
		socklen_t len = sizeof(cred);
		int fd = accept4(t->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				testwd_log("accept failed errno=%d", errno);
			return;
		}
		if (t->client_fd >= 0) {
			testwd_log("new client replaces the old one old_pid=%ld armed=%d",
				   (long)t->client_pid, t->armed ? 1 : 0);
			drop_client(t, "replaced");
		}
		t->client_fd = fd;
		t->client_pid = 0;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
			t->client_pid = cred.pid;
		testwd_log("client connected pid=%ld armed=%d", (long)t->client_pid,
			   t->armed ? 1 : 0);
	}
}

static int run(struct testwd *t)
{
	bool term = false;

	while (!term) {
		struct pollfd pfd[4] = {
			{ .fd = t->signal_fd, .events = POLLIN },
			{ .fd = t->timer_fd, .events = POLLIN },
			{ .fd = t->listen_fd, .events = POLLIN },
			{ .fd = t->client_fd, .events = POLLIN },
		};
		int n = poll(pfd, t->client_fd >= 0 ? 4 : 3, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			testwd_log("poll failed errno=%d", errno);
			return 1;
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(t->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si) &&
			    (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)) {
				testwd_log("signal=%u: exiting armed=%d (not firing)", si.ssi_signo,
					   t->armed ? 1 : 0);
				return 0;
			}
		}
		if (pfd[1].revents & POLLIN) {
			uint64_t ticks;

			/* EAGAIN if a pet moved the deadline after the timer went off */
			if (read(t->timer_fd, &ticks, sizeof(ticks)) == (ssize_t)sizeof(ticks) &&
			    t->armed)
				expire(t, "timeout", &term);
		}
		/* a client's lines before a new connection: it may be replaced */
		if (t->client_fd >= 0 && pfd[3].fd == t->client_fd &&
		    (pfd[3].revents & (POLLIN | POLLHUP | POLLERR)))
			client_readable(t, &term);
		if (pfd[2].revents & POLLIN)
			accept_clients(t);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct testwd t;
	sigset_t mask;
	int rc, ret = 1;

	memset(&t, 0, sizeof(t));
	t.listen_fd = t.client_fd = t.signal_fd = t.timer_fd = -1;
	rc = parse_opts(argc, argv, &t.o);
	if (rc == 1) {
		usage(stdout);
		return 0;
	}
	if (rc < 0) {
		usage(stderr);
		return 2;
	}
	if (t.o.log_path != NULL) {
		g_log_fd = open(t.o.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (g_log_fd < 0) {
			fprintf(stderr, "xenha-testwd: cannot open log %s: %s\n", t.o.log_path,
				strerror(errno));
			return 1;
		}
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
		testwd_log("sigprocmask failed errno=%d", errno);
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	t.signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	t.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (t.signal_fd < 0 || t.timer_fd < 0) {
		testwd_log("signalfd/timerfd failed errno=%d", errno);
		goto out;
	}
	rc = listen_on(t.o.socket_path);
	if (rc < 0) {
		testwd_log("cannot listen socket=%s errno=%d", t.o.socket_path, -rc);
		goto out;
	}
	t.listen_fd = rc;
	rc = write_pidfile(t.o.pidfile);
	if (rc < 0) {
		testwd_log("cannot write pidfile=%s errno=%d", t.o.pidfile, -rc);
		unlink(t.o.socket_path);
		goto out;
	}
	testwd_log("listening host=%s socket=%s poweroff=%s (test double: tests and demo only)",
		   t.o.host, t.o.socket_path, t.o.poweroff[0]);

	ret = run(&t);
	drop_client(&t, "supervisor exiting");
	unlink(t.o.socket_path);
	unlink(t.o.pidfile);
out:
	if (t.listen_fd >= 0)
		close(t.listen_fd);
	if (t.timer_fd >= 0)
		close(t.timer_fd);
	if (t.signal_fd >= 0)
		close(t.signal_fd);
	if (g_log_fd != STDERR_FILENO)
		close(g_log_fd);
	return ret;
}
