/*
 * xenhad - the xenha cluster manager daemon.  Wiring only: options, the
 * configuration test, logging, the libqb loop, signals, and the order in
 * which the parts start and stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <qb/qblog.h>

#include "config.h"
#include "xenhad.h"
#include "../common/daemon.h"

#define DEFAULT_CONF SYSCONFDIR "/xenha/xenha.conf"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xenhad [-f] [-d] [-n] [-c FILE] [-l LOGFILE]\n"
		"\n"
		"The xenha cluster manager: replicated state over corosync, scheduler,\n"
		"local executor and domain monitor, IPC for hactl.\n"
		"\n"
		"  -c FILE     configuration file (default " DEFAULT_CONF ")\n"
		"  -n          check the configuration and exit (0 valid, 1 invalid)\n"
		"  -f          stay in the foreground and log to stderr too\n"
		"  -d          debug logging\n"
		"  -l LOGFILE  also log to LOGFILE\n"
		"  -h          this help\n"
		"  -V          print the version\n"
		"\n"
		"Signals: SIGTERM or SIGINT: save the state, leave the cluster and exit;\n"
		"domains keep running.\n");
}

static int32_t on_signal(int32_t sig, void *arg)
{
	struct xd *d = arg;

	qb_log(LOG_NOTICE, "signal=%d: leaving the cluster (domains keep running)", sig);
	d->stopping = true;
	qb_loop_stop(d->loop);
	return 0;
}

static void stop_loop(void *arg)
{
	struct xd *d = arg;

	qb_loop_stop(d->loop);
}

/*
 * libqb frees a job only when it runs, and qb_loop_job_del() merely
 * unlinks one the loop has already taken up for its current pass: the
 * coalesced executor pass or CPG flush queued when the signal came would be
 * leaked (ASan saw 48 bytes in CI). Let them run out before tearing down:
 * work() does nothing once stopping and xd_kick() queues no more. Bounded.
 */
static void drain_jobs(struct xd *d)
{
	qb_loop_timer_handle th;
	int i;

	for (i = 0; i < 8 && (d->work_queued || d->outq_flush_queued); i++) {
		if (qb_loop_timer_add(d->loop, QB_LOOP_LOW, 0, d, stop_loop, &th) != 0)
			return;
		qb_loop_run(d->loop);
	}
}

int main(int argc, char **argv)
{
	struct xd d;
	const char *logfile = NULL;
	bool foreground = false, debug = false, check = false, explicit_conf = false;
	qb_loop_signal_handle sh;
	int opt, rc, exit_code = 1;

	memset(&d, 0, sizeof(d));
	d.cfg_path = DEFAULT_CONF;
	while ((opt = getopt(argc, argv, "c:nfdl:hV")) != -1) {
		switch (opt) {
		case 'c':
			d.cfg_path = optarg;
			explicit_conf = true;
			break;
		case 'n':
			check = true;
			break;
		case 'f':
			foreground = true;
			break;
		case 'd':
			debug = true;
			break;
		case 'l':
			logfile = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("xenhad %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (xh_load_config("xenhad", d.cfg_path, &d.cfg, explicit_conf || check) < 0)
		return 1;
	if (check) {
		if (!hv_find(d.cfg.hypervisor)) {
			fprintf(stderr, "xenhad: %s: hypervisor '%s' is not built in\n",
				d.cfg_path, d.cfg.hypervisor);
			return 1;
		}
		printf("xenhad: configuration %s OK\n", d.cfg_path);
		return 0;
	}
	if (!foreground && daemon(0, 0) < 0) {
		perror("xenhad: daemon");
		return 1;
	}
	if (xh_log_init("xenhad", &d.cfg, foreground, debug, logfile) < 0)
		return 1;
	qb_log(LOG_NOTICE, "xenhad %s starting config=%s", PACKAGE_VERSION, d.cfg_path);
	signal(SIGPIPE, SIG_IGN);

	d.loop = qb_loop_create();
	if (!d.loop) {
		qb_log(LOG_CRIT, "cannot create main loop");
		goto out;
	}
	qb_loop_signal_add(d.loop, QB_LOOP_HIGH, SIGTERM, &d, on_signal, &sh);
	qb_loop_signal_add(d.loop, QB_LOOP_HIGH, SIGINT, &d, on_signal, &sh);

	rc = xd_persist_load(&d);
	if (rc < 0)
		goto out;
	rc = xd_exec_init(&d);
	if (rc < 0)
		goto out_state;
	rc = xd_cluster_init(&d);
	if (rc < 0)
		goto out_exec;
	rc = xd_mig_init(&d);
	if (rc < 0)
		goto out_mig;
	rc = xd_ipc_init(&d);
	if (rc < 0)
		goto out_mig;

	qb_loop_run(d.loop);
	exit_code = d.stopping ? 0 : 1;
	drain_jobs(&d);

	xd_ipc_fini(&d);
out_mig:
	xd_mig_fini(&d);
	xd_mig_view_free(&d);
	xd_cluster_fini(&d);
out_exec:
	xd_exec_fini(&d);
	xd_persist_fini(&d);
	if (d.st.domains || d.st.events)
		xd_persist_save(&d);
out_state:
	xh_state_free(&d.st);
out:
	if (d.loop)
		qb_loop_destroy(d.loop);
	qb_log(LOG_NOTICE, "xenhad exiting code=%d", exit_code);
	xh_log_fini();
	return exit_code;
}
