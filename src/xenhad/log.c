/*
 * Logging through libqb: syslog (when configured), stderr in the
 * foreground, an optional file, and the blackbox, dumped on a fatal
 * signal so the last moments are never lost.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <qb/qblog.h>

#include "xenhad.h"

static void blackbox_dump(int sig)
{
	/* async-signal context: best effort, then die with the signal */
	qb_log_blackbox_write_to_file("/var/lib/xenha/xenhad.blackbox");
	signal(sig, SIG_DFL);
	raise(sig);
}

int xd_log_init(const struct xh_config *cfg, bool foreground, bool debug, const char *file)
{
	int prio = (debug || cfg->log_debug) ? LOG_DEBUG : LOG_INFO;
	const char *path = file && *file ? file : cfg->log_file;

	qb_log_init("xenhad", LOG_DAEMON, prio);
	qb_log_format_set(QB_LOG_SYSLOG, "%b");
	qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, cfg->log_syslog ? QB_TRUE : QB_FALSE);
	qb_log_filter_ctl(QB_LOG_SYSLOG, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", prio);

	if (foreground) {
		qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_TRUE);
		qb_log_format_set(QB_LOG_STDERR, "%t %N[%P] %p: %b");
		qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", prio);
	}
	if (path && *path) {
		int t = qb_log_file_open(path);

		if (t < 0) {
			fprintf(stderr, "xenhad: cannot open log file %s: %s\n", path, strerror(-t));
			return t;
		}
		qb_log_format_set(t, "%T %N[%P] %p: %b");
		qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", prio);
		qb_log_ctl(t, QB_LOG_CONF_ENABLED, QB_TRUE);
	}
	qb_log_ctl(QB_LOG_BLACKBOX, QB_LOG_CONF_SIZE, 1024 * 1024);
	qb_log_ctl(QB_LOG_BLACKBOX, QB_LOG_CONF_ENABLED, QB_TRUE);
	qb_log_filter_ctl(QB_LOG_BLACKBOX, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", LOG_DEBUG);
	signal(SIGSEGV, blackbox_dump);
	signal(SIGABRT, blackbox_dump);
	signal(SIGBUS, blackbox_dump);
	return 0;
}

void xd_log_fini(void)
{
	qb_log_fini();
}
