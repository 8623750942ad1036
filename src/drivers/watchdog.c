/*
 * Watchdog drivers: a Linux watchdog device, the namespace-test supervisor
 * (xenha-testwd) and "none".  The contract is include/xenha/watchdog.h;
 * the reasons are here.
 *
 * Every system call goes through the struct wd_sys the caller gave (or
 * wd_sys_real), so the unit tests run the whole driver against a fake
 * that records the calls and injects failures.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/watchdog.h>

#include "xenha/watchdog.h"

#define WD_DEV_PREFIX    "/dev/"
#define WD_TEST_PREFIX   "test:"
#define WD_SYSRQ_PATH    "/proc/sysrq-trigger"
#define WD_TEST_MAX_MS   600000u  /* the supervisor accepts 1..600000 */
#define WD_EINTR_TRIES   8        /* retries of an interrupted write */

enum wd_kind {
	WD_KIND_NONE,
	WD_KIND_DEV,
	WD_KIND_TEST,
};

struct wd {
	const struct wd_sys *sys;
	enum wd_kind kind;
	int fd;                   /* -1 for "none" */
	bool no_keepalive_ioctl;  /* the device said ENOTTY once: pet by write */
	bool fired;               /* wd_fire ran: never pet or disarm again */
};

/* ---- the real system calls, -errno convention ---- */

static int real_open(const char *path, int flags)
{
	int fd = open(path, flags);

	return fd < 0 ? -errno : fd;
}

static int real_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

/*
 * The test kind writes to a socket whose peer (the supervisor) may be
 * gone; write(2) would raise SIGPIPE and kill the daemon.  send() with
 * MSG_NOSIGNAL avoids that; a device is not a socket (ENOTSOCK) and gets
 * a plain write.
 */
static ssize_t real_write(int fd, const void *buf, size_t len)
{
	ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

	if (n < 0 && errno == ENOTSOCK)
		n = write(fd, buf, len);
	return n < 0 ? -errno : n;
}

static int real_close(int fd)
{
	/* Linux closes the fd even when close() reports EINTR: never retry */
	return close(fd) < 0 ? -errno : 0;
}

/*
 * Connected, then non-blocking: a supervisor that stops reading makes a
 * pet fail with -EAGAIN rather than block the decision loop.
 */
static int real_socket_connect(const char *path)
{
	struct sockaddr_un sun;
	size_t len = strlen(path);
	int fd, flags, rc;

	if (len == 0 || len >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, len + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		goto fail;
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		goto fail;
	return fd;
fail:
	rc = -errno;
	close(fd);
	return rc;
}

const struct wd_sys wd_sys_real = {
	.open = real_open,
	.ioctl = real_ioctl,
	.write = real_write,
	.close = real_close,
	.socket_connect = real_socket_connect,
};

/* ---- helpers ---- */

/* The whole buffer in one write or an error: a short write is -EIO. */
static int write_all(const struct wd_sys *sys, int fd, const char *buf, size_t len)
{
	ssize_t n = -EINTR;

	for (unsigned i = 0; i < WD_EINTR_TRIES && n == -EINTR; i++)
		n = sys->write(fd, buf, len);
	if (n < 0)
		return (int)n;
	if ((size_t)n != len)
		return -EIO;
	return 0;
}

static int write_str(const struct wd *w, const char *s)
{
	return write_all(w->sys, w->fd, s, strlen(s));
}

/* The first error wins; close runs regardless. */
static int close_fd(struct wd *w, int rc)
{
	int crc = 0;

	if (w->fd >= 0)
		crc = w->sys->close(w->fd);
	w->fd = -1;
	return rc < 0 ? rc : crc;
}

/*
 * A device is armed from the moment it is opened.  Once we cannot
 * configure it we hand back no handle, so nobody would pet it: close it
 * with the magic 'V' so a configuration error does not reset the host.
 * (A driver built with nowayout ignores 'V'; nothing we can do then.)
 */
static int dev_open(struct wd *w, const char *path, uint32_t timeout_ms, uint32_t *actual_ms)
{
	uint32_t secs = timeout_ms / 1000u + (timeout_ms % 1000u != 0);
	int arg = (int)secs;
	int rc;

	rc = w->sys->open(path, O_WRONLY | O_CLOEXEC);
	if (rc < 0)
		return rc;
	w->fd = rc;
	rc = w->sys->ioctl(w->fd, WDIOC_SETTIMEOUT, &arg);
	if (rc < 0)
		goto fail;
	/* the driver writes back what it took; it may round or clamp */
	if (arg <= 0 || (uint64_t)arg * 1000u > UINT32_MAX) {
		rc = -EIO;
		goto fail;
	}
	*actual_ms = (uint32_t)arg * 1000u;
	return 0;
fail:
	(void)write_str(w, "V");
	return close_fd(w, rc);
}

static int test_open(struct wd *w, const char *path, uint32_t timeout_ms, uint32_t *actual_ms)
{
	char line[32];
	int rc;

	if (timeout_ms > WD_TEST_MAX_MS)
		return -EINVAL;
	rc = w->sys->socket_connect(path);
	if (rc < 0)
		return rc;
	w->fd = rc;
	snprintf(line, sizeof(line), "arm %u\n", (unsigned)timeout_ms);
	rc = write_str(w, line);
	if (rc < 0)
		return close_fd(w, rc);
	*actual_ms = timeout_ms;
	return 0;
}

/* ---- the interface ---- */

int wd_open(const char *spec, uint32_t timeout_ms, const struct wd_sys *sys,
	    struct wd **out, uint32_t *actual_ms)
{
	struct wd *w;
	uint32_t actual = 0;
	int rc;

	if (spec == NULL || out == NULL || timeout_ms == 0)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	w->sys = sys != NULL ? sys : &wd_sys_real;
	w->fd = -1;

	if (strcmp(spec, "none") == 0) {
		w->kind = WD_KIND_NONE;
		actual = timeout_ms;
		rc = 0;
	} else if (strncmp(spec, WD_DEV_PREFIX, strlen(WD_DEV_PREFIX)) == 0 &&
		   spec[strlen(WD_DEV_PREFIX)] != '\0') {
		w->kind = WD_KIND_DEV;
		rc = dev_open(w, spec, timeout_ms, &actual);
	} else if (strncmp(spec, WD_TEST_PREFIX, strlen(WD_TEST_PREFIX)) == 0 &&
		   spec[strlen(WD_TEST_PREFIX)] == '/') {
		w->kind = WD_KIND_TEST;
		rc = test_open(w, spec + strlen(WD_TEST_PREFIX), timeout_ms, &actual);
	} else {
		rc = -EINVAL;
	}
	if (rc < 0) {
		free(w);
		return rc;
	}
	*out = w;
	if (actual_ms != NULL)
		*actual_ms = actual;
	return 0;
}

int wd_pet(struct wd *w)
{
	int dummy = 0;
	int rc;

	if (w == NULL)
		return -EINVAL;
	if (w->fired)
		return -ECANCELED;
	switch (w->kind) {
	case WD_KIND_NONE:
		return 0;
	case WD_KIND_TEST:
		return write_str(w, "pet\n");
	case WD_KIND_DEV:
		if (!w->no_keepalive_ioctl) {
			rc = w->sys->ioctl(w->fd, WDIOC_KEEPALIVE, &dummy);
			if (rc != -ENOTTY)
				return rc;
			/* an old driver without the ioctl: any write pets it */
			w->no_keepalive_ioctl = true;
		}
		/* '\0', not 'V': a pet must never arm the magic close */
		return write_all(w->sys, w->fd, "", 1);
	}
	return -EINVAL;
}

int wd_disarm_close(struct wd *w)
{
	int rc = 0;

	if (w == NULL)
		return -EINVAL;
	if (w->fired) {
		/* a poison pill was taken: the reset must still happen */
		rc = close_fd(w, -ECANCELED);
	} else if (w->kind == WD_KIND_DEV) {
		rc = close_fd(w, write_str(w, "V"));
	} else if (w->kind == WD_KIND_TEST) {
		rc = close_fd(w, write_str(w, "disarm\n"));
	}
	free(w);
	return rc;
}

/*
 * The device: stop petting (w->fired) and, when allowed, ask the kernel
 * for an immediate reboot through sysrq 'b' -- faster than waiting W, and
 * if sysrq is disabled the watchdog still resets us within W.  Never for
 * the test kind: sysrq there would reboot the machine running the tests;
 * the supervisor's "fire" is the reset.
 */
static int sysrq_reboot(const struct wd_sys *sys)
{
	int fd, rc, crc;

	fd = sys->open(WD_SYSRQ_PATH, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return fd;
	rc = write_all(sys, fd, "b", 1);
	crc = sys->close(fd);
	return rc < 0 ? rc : crc;
}

int wd_fire(struct wd *w, bool allow_sysrq)
{
	if (w == NULL)
		return -EINVAL;
	w->fired = true;
	switch (w->kind) {
	case WD_KIND_NONE:
		return 0;
	case WD_KIND_TEST:
		return write_str(w, "fire\n");
	case WD_KIND_DEV:
		return allow_sysrq ? sysrq_reboot(w->sys) : 0;
	}
	return -EINVAL;
}

void wd_abandon(struct wd *w)
{
	if (w == NULL)
		return;
	(void)close_fd(w, 0);
	free(w);
}

const char *wd_kind(const struct wd *w)
{
	if (w == NULL)
		return "none";
	switch (w->kind) {
	case WD_KIND_NONE: return "none";
	case WD_KIND_DEV: return "dev";
	case WD_KIND_TEST: return "test";
	}
	return "none";
}
