/*
 * Unit tests for the watchdog drivers (src/drivers/watchdog.c) against a
 * fake struct wd_sys that records every call as text and injects errors
 * (EBADF, ENOTTY, short writes, ...).  A few cases at the end use
 * wd_sys_real on /dev/null, a pipe and a socket of our own.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/watchdog.h>
#include <cmocka.h>

#include "xenha/watchdog.h"

/* ---- the fake ---- */

#define FAKE_WRITES_MAX 16

static struct fake {
	char log[2048];           /* "call; call; ..." */
	int next_fd;
	int open_rc[2];           /* per open call (0: succeed) */
	unsigned opens;
	int open_flags;           /* flags of the last open */
	int settimeout_rc;
	int settimeout_reply;     /* written back; 0: echo the request */
	int keepalive_rc;
	unsigned keepalive_calls;
	int connect_rc;
	int close_rc;
	/* per write call: 0 succeed, <0 error, >0 that many bytes (short) */
	ssize_t write_rc[FAKE_WRITES_MAX];
	unsigned writes;
} F;

static void fake_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fake_log(const char *fmt, ...)
{
	size_t len = strlen(F.log);
	va_list ap;

	if (len != 0 && len + 2 < sizeof(F.log)) {
		memcpy(F.log + len, "; ", 3);
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(F.log + len, sizeof(F.log) - len, fmt, ap);
	va_end(ap);
}

static int fake_open(const char *path, int flags)
{
	unsigned i = F.opens++;

	fake_log("open %s", path);
	F.open_flags = flags;
	if (i < 2 && F.open_rc[i] < 0)
		return F.open_rc[i];
	return F.next_fd++;
}

static int fake_ioctl(int fd, unsigned long req, void *arg)
{
	int *v = arg;

	if (req == WDIOC_SETTIMEOUT) {
		fake_log("ioctl %d settimeout %d", fd, *v);
		if (F.settimeout_rc < 0)
			return F.settimeout_rc;
		if (F.settimeout_reply != 0)
			*v = F.settimeout_reply;
		return 0;
	}
	if (req == WDIOC_KEEPALIVE) {
		fake_log("ioctl %d keepalive", fd);
		F.keepalive_calls++;
		return F.keepalive_rc;
	}
	fake_log("ioctl %d unknown %lu", fd, req);
	return -ENOTTY;
}

static ssize_t fake_write(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	char text[64];
	size_t t = 0;
	unsigned i = F.writes++;
	ssize_t rc = i < FAKE_WRITES_MAX ? F.write_rc[i] : 0;

	for (size_t k = 0; k < len && t + 3 < sizeof(text); k++) {
		if (p[k] == '\n') {
			text[t++] = '\\';
			text[t++] = 'n';
		} else if (p[k] == '\0') {
			text[t++] = '\\';
			text[t++] = '0';
		} else {
			text[t++] = (char)p[k];
		}
	}
	text[t] = '\0';
	fake_log("write %d '%s'%s", fd, text, rc < 0 ? " (error)" : rc > 0 ? " (short)" : "");
	if (rc < 0)
		return rc;
	if (rc > 0)
		return rc < (ssize_t)len ? rc : (ssize_t)len - 1;
	return (ssize_t)len;
}

static int fake_close(int fd)
{
	fake_log("close %d", fd);
	return F.close_rc;
}

static int fake_socket_connect(const char *path)
{
	fake_log("connect %s", path);
	if (F.connect_rc < 0)
		return F.connect_rc;
	return F.next_fd++;
}

static const struct wd_sys fake_sys = {
	.open = fake_open,
	.ioctl = fake_ioctl,
	.write = fake_write,
	.close = fake_close,
	.socket_connect = fake_socket_connect,
};

static int setup(void **state)
{
	(void)state;
	memset(&F, 0, sizeof(F));
	F.next_fd = 3;
	return 0;
}

/* after a set-up step: the log and the write counter start afresh */
static void clear_log(void)
{
	F.log[0] = '\0';
	F.writes = 0;
}

/* open a device with default behaviour; the log is cleared afterwards */
static struct wd *open_dev(uint32_t ms)
{
	struct wd *w = NULL;
	uint32_t actual = 0;

	assert_int_equal(wd_open("/dev/watchdog", ms, &fake_sys, &w, &actual), 0);
	assert_non_null(w);
	clear_log();
	return w;
}

static struct wd *open_test(uint32_t ms)
{
	struct wd *w = NULL;
	uint32_t actual = 0;

	assert_int_equal(wd_open("test:/run/wd.sock", ms, &fake_sys, &w, &actual), 0);
	assert_non_null(w);
	assert_int_equal(actual, ms);
	clear_log();
	return w;
}

/* ---- device ---- */

static void dev_open_arms_and_rounds_up(void **state)
{
	static const struct { uint32_t ms; int secs; } cases[] = {
		{ 1, 1 }, { 999, 1 }, { 1000, 1 }, { 1001, 2 }, { 2500, 3 },
		{ 3000, 3 }, { 59999, 60 }, { 4294967000u, 4294967 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wd *w = NULL;
		uint32_t actual = 0;
		char want[128];

		setup(state);
		assert_int_equal(wd_open("/dev/watchdog", cases[i].ms, &fake_sys, &w, &actual),
				 0);
		snprintf(want, sizeof(want), "open /dev/watchdog; ioctl 3 settimeout %d",
			 cases[i].secs);
		assert_string_equal(F.log, want);
		assert_int_equal(F.open_flags, O_WRONLY | O_CLOEXEC);
		assert_int_equal(actual, (uint32_t)cases[i].secs * 1000u);
		assert_string_equal(wd_kind(w), "dev");
		wd_abandon(w);
	}
}

static void dev_open_reads_back_the_timeout(void **state)
{
	struct wd *w = NULL;
	uint32_t actual = 0;

	(void)state;
	F.settimeout_reply = 10;  /* the driver clamps to its own step */
	assert_int_equal(wd_open("/dev/watchdog0", 2500, &fake_sys, &w, &actual), 0);
	assert_int_equal(actual, 10000);
	wd_abandon(w);
}

static void dev_open_bad_readback_disarms(void **state)
{
	struct wd *w = NULL;
	uint32_t actual = 7;

	(void)state;
	F.settimeout_reply = -1;
	assert_int_equal(wd_open("/dev/watchdog", 5000, &fake_sys, &w, &actual), -EIO);
	assert_null(w);
	assert_int_equal(actual, 7);
	assert_string_equal(F.log,
		"open /dev/watchdog; ioctl 3 settimeout 5; write 3 'V'; close 3");

	/* a read-back that does not fit in actual_ms */
	setup(state);
	F.settimeout_reply = 4294968;
	assert_int_equal(wd_open("/dev/watchdog", 5000, &fake_sys, &w, &actual), -EIO);
	assert_null(w);
	setup(state);
	assert_int_equal(wd_open("/dev/watchdog", 4294967295u, &fake_sys, &w, &actual), -EIO);
	assert_string_equal(F.log,
		"open /dev/watchdog; ioctl 3 settimeout 4294968; write 3 'V'; close 3");
}

static void dev_open_settimeout_fails_disarms(void **state)
{
	struct wd *w = NULL;
	uint32_t actual = 0;

	(void)state;
	F.settimeout_rc = -ENOTTY;
	assert_int_equal(wd_open("/dev/watchdog", 5000, &fake_sys, &w, &actual), -ENOTTY);
	assert_null(w);
	/* armed by the open: closed with the magic 'V', not abandoned */
	assert_string_equal(F.log,
		"open /dev/watchdog; ioctl 3 settimeout 5; write 3 'V'; close 3");
}

static void dev_open_fails(void **state)
{
	struct wd *w = NULL;
	uint32_t actual = 0;

	(void)state;
	F.open_rc[0] = -EBUSY;  /* another process holds it */
	assert_int_equal(wd_open("/dev/watchdog", 5000, &fake_sys, &w, &actual), -EBUSY);
	assert_null(w);
	assert_string_equal(F.log, "open /dev/watchdog");
}

static void dev_pet_keepalive(void **state)
{
	struct wd *w = open_dev(5000);

	(void)state;
	assert_int_equal(wd_pet(w), 0);
	assert_int_equal(wd_pet(w), 0);
	assert_string_equal(F.log, "ioctl 3 keepalive; ioctl 3 keepalive");
	wd_abandon(w);
}

static void dev_pet_fallback_on_enotty(void **state)
{
	struct wd *w = open_dev(5000);

	(void)state;
	F.keepalive_rc = -ENOTTY;
	assert_int_equal(wd_pet(w), 0);
	assert_string_equal(F.log, "ioctl 3 keepalive; write 3 '\\0'");
	/* the ioctl is not tried again */
	clear_log();
	assert_int_equal(wd_pet(w), 0);
	assert_string_equal(F.log, "write 3 '\\0'");
	assert_int_equal(F.keepalive_calls, 1);
	wd_abandon(w);
}

static void dev_pet_fallback_short_write(void **state)
{
	struct wd *w = open_dev(5000);

	(void)state;
	F.keepalive_rc = -ENOTTY;
	/* marked short: the fake returns len-1 = 0 bytes of the 1-byte write */
	F.write_rc[0] = 1;
	assert_int_equal(wd_pet(w), -EIO);
	F.write_rc[1] = -EBADF;
	assert_int_equal(wd_pet(w), -EBADF);
	wd_abandon(w);
}

static void dev_pet_error_no_fallback(void **state)
{
	struct wd *w = open_dev(5000);

	(void)state;
	F.keepalive_rc = -EBADF;
	assert_int_equal(wd_pet(w), -EBADF);
	/* only ENOTTY means "no such ioctl": no write on other errors */
	assert_string_equal(F.log, "ioctl 3 keepalive");
	F.keepalive_rc = 0;
	assert_int_equal(wd_pet(w), 0);
	wd_abandon(w);
}

static void dev_magic_close_only_on_disarm(void **state)
{
	struct wd *w = open_dev(5000);

	(void)state;
	F.keepalive_rc = -ENOTTY;
	for (int i = 0; i < 3; i++)
		assert_int_equal(wd_pet(w), 0);
	assert_null(strchr(F.log, 'V'));
	clear_log();
	assert_int_equal(wd_disarm_close(w), 0);
	assert_string_equal(F.log, "write 3 'V'; close 3");
}

static void dev_disarm_write_fails_still_closes(void **state)
{
	struct wd *w = open_dev(5000);

	(void)state;
	F.write_rc[0] = -EBADF;
	assert_int_equal(wd_disarm_close(w), -EBADF);
	assert_string_equal(F.log, "write 3 'V' (error); close 3");
}

static void dev_disarm_close_error(void **state)
{
	struct wd *w = open_dev(5000);

	(void)state;
	F.close_rc = -EIO;
	assert_int_equal(wd_disarm_close(w), -EIO);
	assert_string_equal(F.log, "write 3 'V'; close 3");
}

static void dev_abandon_without_magic(void **state)
{
	struct wd *w = open_dev(5000);

	(void)state;
	assert_int_equal(wd_pet(w), 0);
	clear_log();
	wd_abandon(w);
	assert_string_equal(F.log, "close 3");
}

static void dev_fire_without_sysrq(void **state)
{
	struct wd *w = open_dev(5000);

	(void)state;
	assert_int_equal(wd_fire(w, false), 0);
	assert_string_equal(F.log, "");
	/* stays armed and un-petted */
	assert_int_equal(wd_pet(w), -ECANCELED);
	assert_string_equal(F.log, "");
	/* no magic close after a fire */
	assert_int_equal(wd_disarm_close(w), -ECANCELED);
	assert_string_equal(F.log, "close 3");
}

static void dev_fire_with_sysrq(void **state)
{
	struct wd *w = open_dev(5000);

	(void)state;
	assert_int_equal(wd_fire(w, true), 0);
	assert_string_equal(F.log, "open /proc/sysrq-trigger; write 4 'b'; close 4");
	assert_int_equal(F.open_flags, O_WRONLY | O_CLOEXEC);
	clear_log();
	assert_int_equal(wd_pet(w), -ECANCELED);
	wd_abandon(w);
	assert_string_equal(F.log, "close 3");
}

static void dev_fire_sysrq_errors(void **state)
{
	struct wd *w = open_dev(5000);

	(void)state;
	F.open_rc[1] = -EACCES;
	assert_int_equal(wd_fire(w, true), -EACCES);
	assert_string_equal(F.log, "open /proc/sysrq-trigger");
	assert_int_equal(wd_pet(w), -ECANCELED);
	wd_abandon(w);

	setup(state);
	w = open_dev(5000);
	F.write_rc[0] = 1;  /* short: nothing written */
	assert_int_equal(wd_fire(w, true), -EIO);
	assert_string_equal(F.log, "open /proc/sysrq-trigger; write 4 'b' (short); close 4");
	assert_int_equal(wd_pet(w), -ECANCELED);
	wd_abandon(w);
}

static void write_retries_eintr(void **state)
{
	struct wd *w = open_dev(5000);

	(void)state;
	F.write_rc[0] = -EINTR;
	assert_int_equal(wd_disarm_close(w), 0);
	assert_string_equal(F.log, "write 3 'V' (error); write 3 'V'; close 3");
}

/* ---- test supervisor ---- */

static void test_open_arms(void **state)
{
	struct wd *w = NULL;
	uint32_t actual = 0;

	(void)state;
	assert_int_equal(wd_open("test:/run/wd.sock", 2500, &fake_sys, &w, &actual), 0);
	assert_string_equal(F.log, "connect /run/wd.sock; write 3 'arm 2500\\n'");
	assert_int_equal(actual, 2500);
	assert_string_equal(wd_kind(w), "test");
	wd_abandon(w);
}

static void test_pet_disarm(void **state)
{
	struct wd *w = open_test(1000);

	(void)state;
	assert_int_equal(wd_pet(w), 0);
	assert_int_equal(wd_pet(w), 0);
	assert_int_equal(wd_disarm_close(w), 0);
	assert_string_equal(F.log, "write 3 'pet\\n'; write 3 'pet\\n'; write 3 'disarm\\n'; close 3");
}

static void test_abandon(void **state)
{
	struct wd *w = open_test(1000);

	(void)state;
	wd_abandon(w);
	assert_string_equal(F.log, "close 3");
}

static void test_fire_never_sysrq(void **state)
{
	struct wd *w = open_test(1000);

	(void)state;
	assert_int_equal(wd_fire(w, true), 0);
	/* no /proc/sysrq-trigger: that would reboot the machine running the tests */
	assert_string_equal(F.log, "write 3 'fire\\n'");
	clear_log();
	assert_int_equal(wd_pet(w), -ECANCELED);
	assert_int_equal(wd_disarm_close(w), -ECANCELED);
	assert_string_equal(F.log, "close 3");
}

static void test_errors(void **state)
{
	struct wd *w = NULL;
	uint32_t actual = 0;

	(void)state;
	F.connect_rc = -ECONNREFUSED;
	assert_int_equal(wd_open("test:/run/wd.sock", 1000, &fake_sys, &w, &actual),
			 -ECONNREFUSED);
	assert_null(w);
	assert_string_equal(F.log, "connect /run/wd.sock");

	setup(state);
	F.write_rc[0] = 3;  /* short arm line */
	assert_int_equal(wd_open("test:/run/wd.sock", 1000, &fake_sys, &w, &actual), -EIO);
	assert_null(w);
	assert_string_equal(F.log, "connect /run/wd.sock; write 3 'arm 1000\\n' (short); close 3");

	setup(state);
	assert_int_equal(wd_open("test:/run/wd.sock", 600001, &fake_sys, &w, &actual), -EINVAL);
	assert_string_equal(F.log, "");
	assert_int_equal(wd_open("test:/run/wd.sock", 600000, &fake_sys, &w, &actual), 0);
	wd_abandon(w);

	setup(state);
	w = open_test(1000);
	F.write_rc[0] = -EPIPE;  /* supervisor gone */
	assert_int_equal(wd_pet(w), -EPIPE);
	F.write_rc[1] = 2;
	assert_int_equal(wd_pet(w), -EIO);
	F.write_rc[2] = -EBADF;
	assert_int_equal(wd_disarm_close(w), -EBADF);
	assert_string_equal(F.log, "write 3 'pet\\n' (error); write 3 'pet\\n' (short); "
			    "write 3 'disarm\\n' (error); close 3");
}

/* ---- none ---- */

static void none_does_nothing(void **state)
{
	struct wd *w = NULL;
	uint32_t actual = 0;

	(void)state;
	assert_int_equal(wd_open("none", 4321, &fake_sys, &w, &actual), 0);
	assert_int_equal(actual, 4321);
	assert_string_equal(wd_kind(w), "none");
	assert_int_equal(wd_pet(w), 0);
	assert_int_equal(wd_disarm_close(w), 0);
	assert_int_equal(wd_open("none", 1000, &fake_sys, &w, &actual), 0);
	assert_int_equal(wd_fire(w, true), 0);
	wd_abandon(w);
	assert_string_equal(F.log, "");
}

static void bad_specs(void **state)
{
	static const char *const specs[] = {
		"", "/dev/", "dev/watchdog", "/tmp/watchdog", "watchdog", "test:", "test:wd.sock",
		"test", "None", "none ", "/proc/sysrq-trigger",
	};
	struct wd *w = NULL;
	uint32_t actual = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		assert_int_equal(wd_open(specs[i], 1000, &fake_sys, &w, &actual), -EINVAL);
		assert_null(w);
	}
	assert_int_equal(wd_open(NULL, 1000, &fake_sys, &w, &actual), -EINVAL);
	assert_int_equal(wd_open("/dev/watchdog", 0, &fake_sys, &w, &actual), -EINVAL);
	assert_int_equal(wd_open("test:/run/wd.sock", 0, &fake_sys, &w, &actual), -EINVAL);
	assert_int_equal(wd_open("none", 0, &fake_sys, &w, &actual), -EINVAL);
	assert_null(w);
	assert_string_equal(F.log, "");
	assert_string_equal(wd_kind(NULL), "none");
}

/* ---- the real system calls ---- */

/* /dev/null is not a watchdog: SETTIMEOUT fails ENOTTY and it is closed */
static void real_dev_null(void **state)
{
	struct wd *w = NULL;
	uint32_t actual = 0;

	(void)state;
	assert_int_equal(wd_open("/dev/null", 1000, NULL, &w, &actual), -ENOTTY);
	assert_null(w);
	assert_int_equal(wd_open("/dev/xenha-no-such-watchdog", 1000, NULL, &w, &actual),
			 -ENOENT);
}

static void real_write_no_sigpipe(void **state)
{
	int sv[2], pfd[2];
	char c = 0;

	(void)state;
	/* a pipe: not a socket, written with write(2) */
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(wd_sys_real.write(pfd[1], "x", 1), 1);
	assert_int_equal(read(pfd[0], &c, 1), 1);
	assert_int_equal(c, 'x');
	close(pfd[0]);
	close(pfd[1]);
	/* a socket whose peer is gone: -EPIPE, and we are still alive */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	assert_int_equal(wd_sys_real.write(sv[0], "pet\n", 4), -EPIPE);
	assert_int_equal(wd_sys_real.close(sv[0]), 0);
	assert_int_equal(wd_sys_real.close(sv[0]), -EBADF);
}

static void real_test_kind(void **state)
{
	char dir[] = "/tmp/xenha-test-wd.XXXXXX";
	char path[108], spec[128], buf[64];
	struct sockaddr_un sun;
	struct wd *w = NULL;
	uint32_t actual = 0;
	size_t got = 0;
	int lfd, cfd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/wd.sock", dir);
	snprintf(spec, sizeof(spec), "test:%s", path);

	assert_int_equal(wd_open(spec, 1500, NULL, &w, &actual), -ENOENT);
	assert_int_equal(wd_sys_real.socket_connect(""), -ENAMETOOLONG);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(lfd, 1), 0);

	assert_int_equal(wd_open(spec, 1500, NULL, &w, &actual), 0);
	assert_int_equal(actual, 1500);
	assert_int_equal(wd_pet(w), 0);
	assert_int_equal(wd_disarm_close(w), 0);
	cfd = accept(lfd, NULL, NULL);
	assert_true(cfd >= 0);
	for (int i = 0; i < 10 && got < sizeof(buf) - 1; i++) {
		ssize_t n = read(cfd, buf + got, sizeof(buf) - 1 - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	assert_string_equal(buf, "arm 1500\npet\ndisarm\n");
	close(cfd);
	close(lfd);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(dev_open_arms_and_rounds_up, setup),
		cmocka_unit_test_setup(dev_open_reads_back_the_timeout, setup),
		cmocka_unit_test_setup(dev_open_bad_readback_disarms, setup),
		cmocka_unit_test_setup(dev_open_settimeout_fails_disarms, setup),
		cmocka_unit_test_setup(dev_open_fails, setup),
		cmocka_unit_test_setup(dev_pet_keepalive, setup),
		cmocka_unit_test_setup(dev_pet_fallback_on_enotty, setup),
		cmocka_unit_test_setup(dev_pet_fallback_short_write, setup),
		cmocka_unit_test_setup(dev_pet_error_no_fallback, setup),
		cmocka_unit_test_setup(dev_magic_close_only_on_disarm, setup),
		cmocka_unit_test_setup(dev_disarm_write_fails_still_closes, setup),
		cmocka_unit_test_setup(dev_disarm_close_error, setup),
		cmocka_unit_test_setup(dev_abandon_without_magic, setup),
		cmocka_unit_test_setup(dev_fire_without_sysrq, setup),
		cmocka_unit_test_setup(dev_fire_with_sysrq, setup),
		cmocka_unit_test_setup(dev_fire_sysrq_errors, setup),
		cmocka_unit_test_setup(write_retries_eintr, setup),
		cmocka_unit_test_setup(test_open_arms, setup),
		cmocka_unit_test_setup(test_pet_disarm, setup),
		cmocka_unit_test_setup(test_abandon, setup),
		cmocka_unit_test_setup(test_fire_never_sysrq, setup),
		cmocka_unit_test_setup(test_errors, setup),
		cmocka_unit_test_setup(none_does_nothing, setup),
		cmocka_unit_test_setup(bad_specs, setup),
		cmocka_unit_test(real_dev_null),
		cmocka_unit_test(real_write_no_sigpipe),
		cmocka_unit_test(real_test_kind),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
