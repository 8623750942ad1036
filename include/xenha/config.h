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
 */
int cfg_parse(const char *text, const char *filename, struct xh_config *c,
	      char *err, size_t errlen);

#endif
