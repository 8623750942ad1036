/*
 * Shared by the daemons (xenhad, xenha-fenced): configuration loading and
 * logging set-up (src/common/daemon.c).
 */
#ifndef XENHA_COMMON_DAEMON_H
#define XENHA_COMMON_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "xenha/config.h"

/* cfg_defaults, then parse path.  A missing file is fine unless
 * must_exist.  Errors are printed as "PROG: FILE:LINE: ..." on stderr.
 * 0 or -errno. */
int xh_load_config(const char *prog, const char *path, struct xh_config *cfg, bool must_exist);

/* Log as `ident` to syslog (if configured), stderr (foreground), file
 * (or cfg->log_file) and the blackbox (dumped to STATE_DIR/IDENT.blackbox
 * on a fatal signal).  0 or -errno. */
int xh_log_init(const char *ident, const struct xh_config *cfg, bool foreground, bool debug,
		const char *file);
void xh_log_fini(void);

/* Our node name: cfg->node_name if set, else node `nodeid`'s name in
 * corosync's nodelist (cmap), else "nodeN" (-ENOENT, logged as a warning).
 * 0, -ENOENT (fallback used) or -ECONNREFUSED (cmap unreachable; fallback
 * used). */
int xh_node_name(const struct xh_config *cfg, uint32_t nodeid, char *out, size_t len);

/* nodelist.node.N.FIELD (e.g. "ring0_addr") of node `nodeid` from cmap.
 * 0, -ENOENT (no such node or field), -ENAMETOOLONG, -ECONNREFUSED. */
int xh_nodelist_string(uint32_t nodeid, const char *field, char *out, size_t len);

#endif
