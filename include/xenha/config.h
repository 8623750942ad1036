/*
 * Node-local configuration, /etc/xenha/xenha.conf (pure parser).
 *
 * INI syntax (parsed with libinih); sections and keys are documented in
 * xenha.conf(5).  The caller reads the file; cfg_parse() works on text so
 * it is testable and does no I/O.
 */
#ifndef XENHA_CONFIG_H
#define XENHA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "xenha/state.h"

#define CFG_PATH_MAX 256

#define CFG_FENCE_DEVICES_MAX 16          /* [fence-device NAME] sections */
#define CFG_FENCE_HOSTS_MAX   16          /* hosts one device can fence */
#define CFG_FENCE_ARGS_MAX    16          /* args one device passes */
#define CFG_FENCE_ARG_MAX     128         /* bytes incl. NUL of one "key=value" */

/*
 * One [fence-device NAME] section: a fence-agents style program
 * (key=value lines on its stdin) that can power off the listed hosts.
 * Strings are NUL-terminated; only the first n_hosts / n_args entries are
 * meaningful (the rest are zero).
 */
struct xh_fence_device {
	char name[64];                    /* NAME: 1..63 of [A-Za-z0-9._-] */
	char agent[CFG_PATH_MAX];         /* absolute path of the agent program */
	char hosts[CFG_FENCE_HOSTS_MAX][XH_NAME_MAX]; /* distinct host names */
	uint32_t n_hosts;                 /* 1..CFG_FENCE_HOSTS_MAX */
	uint32_t level;                   /* 1..9 (default 1); lower levels first */
	uint32_t timeout_ms;              /* per agent run (default 30000) */
	char args[CFG_FENCE_ARGS_MAX][CFG_FENCE_ARG_MAX]; /* "key=value", keys
					     distinct, [a-z0-9_]+, none of
					     action, option, plug, port,
					     nodename; values non-empty,
					     printable, no spaces */
	uint32_t n_args;                  /* 0..CFG_FENCE_ARGS_MAX */
};

struct xh_config {
	/* [node] */
	char node_name[XH_NAME_MAX];      /* "" = take it from corosync's nodelist */
	char hypervisor[16];              /* "sim" (default) or "xen" */
	char state_dir[CFG_PATH_MAX];     /* /var/lib/xenha */
	uint32_t mem_reserved_mb;         /* dom0 reservation (default 1024, also for sim;
					     sim test setups usually set 0) */
	uint32_t dom_overhead_mb;         /* per-domain overhead (default 8) */
	uint32_t start_timeout_ms;        /* default 30000 */
	uint32_t stop_timeout_ms;         /* default 60000 */

	/* [cluster] */
	uint32_t history;                 /* bounded event history (default 1000) */

	/* [sim]  (the test/demo hypervisor) */
	char sim_image_dir[CFG_PATH_MAX]; /* shared directory of image files (/var/lib/xenha/sim-images) */
	char sim_run_dir[CFG_PATH_MAX];   /* per-host pid files (/run/xenha/sim) */
	char sim_simdom[CFG_PATH_MAX];    /* sim domain program (LIBEXECDIR/xenha-simdom) */
	uint64_t sim_memory_mb;           /* memory this sim host offers (default 16384) */
	uint32_t sim_hold_max_mb;         /* real MiB a sim domain holds at most (default 4) */
	uint32_t sim_dirty_kib_s;         /* KiB/s a sim domain dirties (default 256) */
	uint32_t sim_record_ms;           /* image record interval (default 50) */

	/* [migration]  (live migration between xenhads, docs/migration.md) */
	char mig_address[64];             /* where this host listens: a numeric IPv4
					     or IPv6 address; "" (default) = this
					     node's ring0_addr in corosync's nodelist */
	uint32_t mig_port;                /* TCP port, default 7405 */
	char mig_keyfile[CFG_PATH_MAX];   /* cluster key (hactl keygen), default
					     SYSCONFDIR/xenha/authkey */
	uint32_t mig_max_concurrent;      /* drain: migrations per source, default 2 */
	uint32_t mig_downtime_ms;         /* target downtime, default 100 */
	uint32_t mig_max_rounds;          /* pre-copy rounds at most, default 30 */
	uint32_t mig_timeout_ms;          /* one migration at most, default 600000 */

	/* [fencing]  (xenha-fenced) */
	char fence_device[CFG_PATH_MAX];  /* heartbeat disk; "" (default) = none */
	char fence_watchdog[CFG_PATH_MAX]; /* "/dev/watchdog" (default), another
					     absolute path, "test:/abs/path"
					     (the test watchdog) or "none" */
	bool fence_allow_no_watchdog;     /* default no: xenha-fenced refuses to
					     start with watchdog "none" */
	uint32_t fence_tick_ms;           /* lease tick interval, default 250 */
	uint32_t fence_lease_ms;          /* lease length, default 1500 */
	uint32_t fence_margin_ms;         /* safety margin, default 500 */
	uint32_t fence_xenhad_timeout_ms; /* xenhad must answer within, default 10000 */
	uint32_t fence_disk_timeout_ms;   /* heartbeat-disk I/O timeout, default 2000 */
	bool fence_sysrq;                 /* reset via sysrq on a pill, default yes */
	char fence_disk_fault_file[CFG_PATH_MAX]; /* TEST ONLY fault injection, "" */
	uint32_t fence_iscsi_replacement_ms; /* iscsi_replacement_timeout_ms, 0 = unknown */
	uint32_t fence_mpath_no_path_retry;  /* mpath_no_path_retry, 0 = unknown */
	uint32_t fence_mpath_polling_ms;     /* mpath_polling_interval_ms, 0 = unknown */

	/* [fence-device NAME], in file order */
	struct xh_fence_device fence_devices[CFG_FENCE_DEVICES_MAX];
	uint32_t n_fence_devices;

	/* [log] */
	bool log_syslog;                  /* default yes */
	char log_file[CFG_PATH_MAX];      /* "" = none */
	bool log_debug;                   /* default no */
};

/*
 * Fill defaults (libexecdir is the sim domain program's directory; NULL
 * means the build-time LIBEXECDIR).  If libexecdir is too long for
 * sim_simdom, sim_simdom is left "" rather than truncated.
 */
void cfg_defaults(struct xh_config *c, const char *libexecdir);

/*
 * Parse text (the contents of file `filename`, used only in messages) over
 * the values already in *c (call cfg_defaults first).  Returns 0, or
 * -EINVAL with err = "FILE:LINE: what was wrong; expected WHAT" (the
 * first error in the file; err may be NULL).  Unknown sections and keys,
 * bad numbers, out-of-range values, duplicate sections and keys, lines
 * longer than 197 bytes and syntax errors are all errors.  On any error
 * *c is left unchanged.  An empty [node] name or [log] file means "none"
 * (the defaults).  -ENOMEM only if inih cannot allocate its line buffer.
 *
 * [fence-device NAME] sections are added to fence_devices[] in file order
 * (after any already in *c); NAMEs must be distinct, at most
 * CFG_FENCE_DEVICES_MAX in all.  A device without agent or hosts is an
 * error on its section header's line.  Cross-key rules of [fencing]
 * (watchdog "none" without allow_no_watchdog, the timeout chain) are the
 * daemon's checks, not the parser's.
 */
int cfg_parse(const char *text, const char *filename, struct xh_config *c,
	      char *err, size_t errlen);

#endif
