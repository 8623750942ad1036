/*
 * What both daemons (xenhad, xenha-fenced) share: reading and checking
 * the configuration file, and logging through libqb: syslog (when
 * configured), stderr in the foreground, an optional file, and the
 * blackbox, dumped on a fatal signal so the last moments are never lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <corosync/cmap.h>
#include <qb/qblog.h>

#include "daemon.h"

static char blackbox_path[CFG_PATH_MAX + 64];

static void blackbox_dump(int sig)
{
	/* async-signal context: best effort, then die with the signal */
	qb_log_blackbox_write_to_file(blackbox_path);
	signal(sig, SIG_DFL);
	raise(sig);
}

int xh_log_init(const char *ident, const struct xh_config *cfg, bool foreground, bool debug,
		const char *file)
{
	int prio = (debug || cfg->log_debug) ? LOG_DEBUG : LOG_INFO;
	const char *path = file && *file ? file : cfg->log_file;

	snprintf(blackbox_path, sizeof(blackbox_path), "%s/%s.blackbox", cfg->state_dir, ident);
	qb_log_init(ident, LOG_DAEMON, prio);
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
			fprintf(stderr, "%s: cannot open log file %s: %s\n", ident, path, strerror(-t));
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

void xh_log_fini(void)
{
	qb_log_fini();
}

static int read_file(const char *path, char **out)
{
	struct stat sb;
	char *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0 || sb.st_size > 1024 * 1024) {
		close(fd);
		return -EFBIG;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)sb.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*out = buf;
	return 0;
}

int xh_load_config(const char *prog, const char *path, struct xh_config *cfg, bool must_exist)
{
	char *text = NULL, err[512];
	int rc;

	cfg_defaults(cfg, LIBEXECDIR);
	rc = read_file(path, &text);
	if (rc == -ENOENT && !must_exist)
		return 0;
	if (rc < 0) {
		fprintf(stderr, "%s: cannot read %s: %s\n", prog, path, strerror(-rc));
		return rc;
	}
	rc = cfg_parse(text, path, cfg, err, sizeof(err));
	free(text);
	if (rc < 0)
		fprintf(stderr, "%s: %s\n", prog, err);
	return rc;
}

int xh_nodelist_string(uint32_t nodeid, const char *field, char *out, size_t len)
{
	cmap_handle_t cm;
	int rc = -ENOENT;

	if (cmap_initialize(&cm) != CS_OK)
		return -ECONNREFUSED;
	for (uint32_t i = 0; i < 256; i++) {
		char key[96];
		uint32_t id;
		char *v = NULL;

		snprintf(key, sizeof(key), "nodelist.node.%u.nodeid", i);
		if (cmap_get_uint32(cm, key, &id) != CS_OK)
			break;
		if (id != nodeid)
			continue;
		snprintf(key, sizeof(key), "nodelist.node.%u.%s", i, field);
		if (cmap_get_string(cm, key, &v) == CS_OK && v) {
			if ((size_t)snprintf(out, len, "%s", v) < len)
				rc = 0;
			else
				rc = -ENAMETOOLONG;
		}
		free(v);
		break;
	}
	cmap_finalize(cm);
	return rc;
}

int xh_node_name(const struct xh_config *cfg, uint32_t nodeid, char *out, size_t len)
{
	int rc;

	if (cfg->node_name[0]) {
		snprintf(out, len, "%s", cfg->node_name);
		return 0;
	}
	rc = xh_nodelist_string(nodeid, "name", out, len);
	if (rc == 0)
		return 0;
	snprintf(out, len, "node%u", nodeid);
	qb_log(LOG_WARNING, "no name for node=%u in corosync's nodelist; using %s "
	       "(set [node] name in xenha.conf)", nodeid, out);
	return rc;
}
