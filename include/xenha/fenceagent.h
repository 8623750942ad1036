/*
 * Fence agents: programs in the conventions of the fence-agents package
 * that power a host off (fence_ipmilan, fence_apc, ...), configured as
 * [fence-device NAME] sections of xenha.conf(5).
 *
 * The conventions we rely on:
 *   - the agent is run without arguments and reads "key=value" lines on
 *     its standard input until end of file ("action=off", "plug=HOST",
 *     then the device's args);
 *   - it exits 0 when the action succeeded;
 *   - for action=status it exits 0 if the plug is on, 2 if it is off, and
 *     anything else on error.
 *
 * A host counts as fenced by agents only when every device of one level
 * returned 0 for "off" AND its status read-back then returned 2 (off).
 * An agent that says "done" but whose device still reports the host on
 * has not fenced it.
 *
 * Two parts:
 *   - pure (src/lib/fenceagent.c): the stdin text, the plan (which
 *     devices, in which order) and the judge of one level's results;
 *   - exec (src/drivers/fenceagent_run.c): running an agent with a
 *     timeout, and the whole "fence this host" procedure.
 */
#ifndef XENHA_FENCEAGENT_H
#define XENHA_FENCEAGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xenha/config.h"

#define FA_OUTPUT_MAX          4096  /* bytes of stdout+stderr kept per run */
#define FA_STATUS_TRIES        5     /* status read-backs after "off", at most */
#define FA_STATUS_INTERVAL_MS  1000  /* between two status read-backs */
#define FA_KILL_GRACE_MS       2000  /* SIGTERM -> SIGKILL on a timed-out agent */

/* fence-agents' exit codes for action=status */
#define FA_STATUS_ON   0
#define FA_STATUS_OFF  2

/* ---- pure part (src/lib/fenceagent.c) ---- */

/*
 * The agent's standard input for `action` on `plug`:
 *     "action=ACTION\nplug=PLUG\n" then each of dev->args[] and "\n".
 * action: 1..31 of [a-z-] ("off", "on", "status", "monitor", ...);
 * plug: 1..XH_NAME_MAX-1 printable non-blank ASCII bytes.  The device's
 * args are checked again (printable, non-blank, each with a '='), so a
 * hand-built device cannot inject lines either.
 * Writes a NUL-terminated text into buf (len bytes).  Returns 0,
 * -EINVAL (bad argument, buf unchanged) or -ENOSPC (does not fit; buf
 * holds "" if len > 0).
 */
int fa_stdin_text(const struct xh_fence_device *dev, const char *action,
		  const char *plug, char *buf, size_t len);

/*
 * The devices that can fence `host` (those listing it in hosts[]), as
 * indices into devs[0..n), ordered by level, then by their order in devs
 * (the file order).  Writes them to out[0..*n_out).  Returns the number
 * of distinct levels among them (0 if no device can fence host),
 * -EINVAL on a NULL argument or n > CFG_FENCE_DEVICES_MAX, or -ENOSPC if
 * more than `max` devices match (out is then undefined).
 */
int fa_plan(const struct xh_fence_device *devs, uint32_t n, const char *host,
	    uint32_t *out, uint32_t max, uint32_t *n_out);

/* What happened to one device while fencing a host. */
struct fa_dev_result {
	uint32_t dev;             /* index into the devices array */
	uint32_t level;           /* its level */
	int off_exit;             /* exit code of "off"; -1 = it did not exit
				     (timed out, killed by a signal, or could
				     not be started) */
	bool off_timed_out;
	int off_errno;            /* 0, or the errno fa_run() failed with */
	int status_exit;          /* exit code of the last status read-back;
				     -1 = none ran, or it did not exit */
	uint32_t status_tries;    /* status runs made (0..FA_STATUS_TRIES) */
	uint64_t elapsed_ms;      /* off + status, this device */
};

/*
 * The judge: did the level whose results are r[0..n) fence the host?
 * True only if n > 0 and every device's off_exit is 0 and its
 * status_exit is FA_STATUS_OFF.
 */
bool fa_level_fenced(const struct fa_dev_result *r, uint32_t n);

/* ---- exec part (src/drivers/fenceagent_run.c) ---- */

struct fa_result {
	int exit_code;            /* 0..255 if the agent exited, else -1 */
	int signal;               /* the signal that ended it, else 0 */
	bool timed_out;           /* we had to kill it (SIGTERM, maybe SIGKILL) */
	bool killed;              /* SIGTERM was not enough: SIGKILL sent */
	char output[FA_OUTPUT_MAX + 1]; /* first bytes of stdout+stderr, NUL-
					   terminated (may hold NULs itself) */
	size_t output_len;
	uint64_t elapsed_ms;      /* from fork to reaping it */
};

/*
 * Run dev->agent once, without arguments, in its own process group, with
 * fa_stdin_text(dev, action, plug) on its standard input (then closed)
 * and stdout and stderr captured together (the first FA_OUTPUT_MAX
 * bytes; the rest is read and dropped so the agent never blocks).  The
 * environment is ours; no other descriptor is inherited.  After
 * timeout_ms the process group gets SIGTERM, FA_KILL_GRACE_MS later
 * SIGKILL.  Blocks until the agent has been reaped (a descendant that
 * leaves the process group, or that is still running after a normal
 * exit of the agent, is not waited for).
 * Returns 0 with *r filled (whatever the agent's exit code), -EINVAL for
 * bad arguments (see fa_stdin_text), or -errno if the agent could not be
 * started (fork, pipe, or exec failure: -ENOENT, -EACCES, ...; r->
 * exit_code is then -1).
 * The caller must not reap children it did not start (a SIGCHLD handler
 * calling waitpid(-1) would take ours).  SIGPIPE is not raised: stdin is
 * a socket written with MSG_NOSIGNAL.
 */
int fa_run(const struct xh_fence_device *dev, const char *action,
	   const char *plug, uint32_t timeout_ms, struct fa_result *r);

/* Log callback: prio is a syslog priority (LOG_ERR, LOG_WARNING,
 * LOG_INFO, LOG_DEBUG); msg is one lower-case key=value line. */
typedef void (*fa_log_fn)(void *arg, int prio, const char *msg);

struct fa_outcome {
	bool success;             /* a level fenced the host */
	uint32_t level;           /* the level that did, 0 = none */
	uint32_t levels;          /* distinct levels that can fence the host */
	uint32_t levels_tried;
	struct fa_dev_result results[CFG_FENCE_DEVICES_MAX]; /* in run order */
	uint32_t n_results;
};

/*
 * Fence `host` with the devices devs[0..n) that list it, level by level
 * (fa_plan order).  In a level: "off" on every device; if all returned
 * 0, "status" on each until it reports off (FA_STATUS_OFF), at most
 * FA_STATUS_TRIES times, FA_STATUS_INTERVAL_MS apart, within the
 * device's timeout_ms counted from the first status run.  The level
 * succeeds if fa_level_fenced() says so; the first level that succeeds
 * wins and no later level runs.
 * Fills *o (zeroed first).  Returns 0 whether or not the host was fenced
 * (see o->success), -EINVAL for bad arguments, -ENOENT if no device can
 * fence host (o->levels == 0).
 * BLOCKING: it runs agents one after another and sleeps between status
 * read-backs, for up to the sum of the devices' timeouts and more.
 * xenha-fenced must run it in a child process or a worker thread, never
 * in its main loop (which pets the watchdog).  log may be NULL.
 */
int fa_fence_host(const struct xh_fence_device *devs, uint32_t n,
		  const char *host, struct fa_outcome *o, fa_log_fn log,
		  void *log_arg);

#endif
