/*
 * Watchdog drivers (side effects; src/drivers/watchdog.c).
 *
 * Two kinds behind one ops table:
 *  - "dev": a Linux watchdog device (/dev/watchdog: hardware, softdog or
 *    Xen's xen_wdt).  Open arms it; WDIOC_SETTIMEOUT sets the timeout
 *    (whole seconds, rounded up; the driver may pick another value,
 *    which is read back); WDIOC_KEEPALIVE pets; a clean disarm writes
 *    the magic 'V' before close; any other close leaves it armed (the
 *    host resets).  "fire" (reset now, for a poison pill) stops petting
 *    and, when allowed, writes 'b' to /proc/sysrq-trigger.
 *  - "test": the namespace-test watchdog: a stream connection to the
 *    xenha-testwd supervisor's unix socket (it runs outside the host's
 *    namespace and "powers the host off" when not petted in time).
 *    Lines: "arm MS\n", "pet\n", "disarm\n" (the magic close), "fire\n".
 *    A closed connection without "disarm" stays armed, like the device.
 *
 * All system calls go through struct wd_sys so unit tests can wrap them.
 * Each member returns what the system call returns on success and -errno
 * on failure (never -1 with errno).  wd_sys_real.write never raises
 * SIGPIPE (a socket is written with MSG_NOSIGNAL), and its
 * socket_connect returns a non-blocking socket, so a stuck supervisor
 * makes a pet fail (-EAGAIN) instead of blocking the caller.
 */
#ifndef XENHA_WATCHDOG_H
#define XENHA_WATCHDOG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct wd_sys {
	int (*open)(const char *path, int flags);
	int (*ioctl)(int fd, unsigned long req, void *arg);
	ssize_t (*write)(int fd, const void *buf, size_t len);
	int (*close)(int fd);
	int (*socket_connect)(const char *path);  /* a connected AF_UNIX stream fd, or -errno */
};

/* The real calls. */
extern const struct wd_sys wd_sys_real;

struct wd;

/*
 * Open and arm the watchdog named by spec:
 *   "/dev/..."         a watchdog device
 *   "test:/path/sock"  the test supervisor's socket
 *   "none"             no watchdog (refused by fenced unless allowed
 *                      explicitly; for development only)
 * timeout_ms is W; *actual_ms gets what the device accepted (a device
 * works in whole seconds).  sys NULL means wd_sys_real.
 * 0 or -errno (-EINVAL bad spec).
 */
int wd_open(const char *spec, uint32_t timeout_ms, const struct wd_sys *sys,
	    struct wd **out, uint32_t *actual_ms);

/* Pet.  0 or -errno (-ECANCELED after wd_fire: a fired watchdog is
 * never petted again). */
int wd_pet(struct wd *w);

/* Clean stop: magic close (device) / "disarm" (test), then free.
 * 0 or -errno; w is freed in every case.  After wd_fire it does not
 * disarm: it closes like wd_abandon and returns -ECANCELED. */
int wd_disarm_close(struct wd *w);

/* Reset the host now (poison pill).  allow_sysrq: for the device, also
 * write 'b' to /proc/sysrq-trigger.  The watchdog stays armed and
 * un-petted either way.  0 or -errno. */
int wd_fire(struct wd *w, bool allow_sysrq);

/* Close without disarming (the host will reset after W); frees w. */
void wd_abandon(struct wd *w);

/* "dev", "test" or "none". */
const char *wd_kind(const struct wd *w);

#endif /* XENHA_WATCHDOG_H */
