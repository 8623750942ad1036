/*
 * xenha-fenced - wiring: options, configuration, the timeout-chain check,
 * logging, the loop, signals, and the order of start and stop.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <qb/qblog.h>

#include "config.h"
#include "fenced.h"
#include "../common/daemon.h"

#define DEFAULT_CONF SYSCONFDIR "/xenha/xenha.conf"
#define W_NO_DISK_MS 5000u

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xenha-fenced [-f] [-d] [-n] [-c FILE] [-l LOGFILE]\n"
		"\n"
		"The xenha fencing daemon: ticks a lease over corosync, writes this host's\n"
		"heartbeat on the shared disk, reads its mailbox (poison pill), pets the\n"
		"watchdog only while it may, and confirms lost hosts fenced to xenhad.\n"
		"\n"
		"  -c FILE     configuration file (default " DEFAULT_CONF ")\n"
		"  -n          check the configuration, the heartbeat disk and the timeout\n"
		"              chain, print the worst-case recovery time, and exit\n"
		"              (0 safe, 1 refused)\n"
		"  -f          stay in the foreground and log to stderr too\n"
		"  -d          debug logging\n"
		"  -l LOGFILE  also log to LOGFILE\n"
		"  -h          this help\n"
		"  -V          print the version\n"
		"\n"
		"Signals: SIGTERM or SIGINT: announce a clean stop to the peers, disarm the\n"
		"watchdog and exit (the peers will then not fence this host automatically).\n"
		"After a poison pill the watchdog is never disarmed.\n");
}

uint64_t fd_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int32_t on_signal(int32_t sig, void *arg)
{
	struct fd *d = arg;

	qb_log(LOG_NOTICE, "signal=%d: stopping", sig);
	d->stopping = true;
	qb_loop_stop(d->loop);
	return 0;
}

static void timing_from_config(struct fd *d)
{
	fr_timing_defaults(&d->t);
	d->t.tick_ms = d->cfg.fence_tick_ms;
	d->t.lease_ms = d->cfg.fence_lease_ms;
	d->t.margin_ms = d->cfg.fence_margin_ms;
	d->t.xenhad_timeout_ms = d->cfg.fence_xenhad_timeout_ms;
	d->t.disk_timeout_ms = d->cfg.fence_disk_timeout_ms;
	d->t.watchdog_ms = W_NO_DISK_MS;
	d->t.msgwait_ms = 2 * W_NO_DISK_MS;
	d->t.disk_interval_ms = 1000;
}

/* Open the heartbeat disk (its header holds the watchdog timeout,
 * msgwait and the write interval: every node agrees). */
static int disk_start(struct fd *d, bool start_worker)
{
	struct hbw_config hc = {
		.device = d->cfg.fence_device, .nodeid = d->nodeid, .name = d->name,
		.interval_ms = 1000,
	};
	struct hbio io;
	bool direct = false;
	struct hb_header h;
	struct hb_region r;
	struct hb_layout l;
	int rc;

	if (d->cfg.fence_device[0] == '\0')
		return 0;
	if (d->cfg.fence_disk_fault_file[0]) {
		hbio_fault_file(d->cfg.fence_disk_fault_file);
		hc.sys = &hbio_sys_faulty;
	}
	memset(&io, 0, sizeof(io));
	rc = hbio_open(&io, d->cfg.fence_device, hc.sys, &direct);
	if (rc == 0) {
		rc = hbio_read_meta(&io, &h, &r, &l);
		hbio_close(&io);
	}
	if (rc < 0) {
		fprintf(stderr, "xenha-fenced: heartbeat disk %s: %s%s\n", d->cfg.fence_device,
			strerror(-rc), rc == -ENODATA ? " (no xenha region: run `hactl disk init`)" : "");
		return rc;
	}
	d->t.watchdog_ms = h.timeout_watchdog * 1000u;
	d->t.msgwait_ms = h.timeout_msgwait * 1000u;
	d->t.disk_interval_ms = h.timeout_loop * 1000u;
	if (!start_worker)
		return 0;
	hc.interval_ms = d->t.disk_interval_ms;
	rc = hbw_start(&hc, &d->hbw);
	if (rc < 0) {
		qb_log(LOG_ERR, "cannot start the heartbeat on %s: %s", d->cfg.fence_device,
		       strerror(-rc));
		return rc;
	}
	hbw_snapshot(d->hbw, &d->rep);
	/* A message found at start was left from before this start (a pill
	 * that already reset us, or an old test): the worker cleared it; it
	 * must not reset us again. */
	if (d->rep.own_msg.type != HB_MSG_CLEAR)
		qb_log(LOG_WARNING, "message '%s' from '%s' was in our mailbox at start: left "
		       "from before this start, cleared", hb_msg_type_str(d->rep.own_msg.type),
		       d->rep.own_msg.from);
	d->rep.own_msg.type = HB_MSG_CLEAR;
	return 0;
}

/* The timeout chain: errors refuse to start. */
static int chain_check(struct fd *d, bool verbose)
{
	struct fr_chain c = {
		.iscsi_replacement_ms = d->cfg.fence_iscsi_replacement_ms,
		.mpath_no_path_retry = d->cfg.fence_mpath_no_path_retry,
		.mpath_polling_ms = d->cfg.fence_mpath_polling_ms,
	};
	struct fr_check_item items[32];
	size_t n = 0;
	uint32_t worst = 0;
	int errors = fr_check(&d->t, &c, items, 32, &n, &worst);

	for (size_t i = 0; i < n; i++) {
		if (verbose)
			printf("%s: %s\n", items[i].error ? "error" : "warning", items[i].text);
		else
			qb_log(items[i].error ? LOG_ERR : LOG_WARNING, "timeout chain: %s",
			       items[i].text);
	}
	if (verbose)
		printf("tick %u ms, lease %u ms, watchdog %u ms, msgwait %u ms, token %u ms, "
		       "consensus %u ms, margin %u ms\n"
		       "worst-case time from a host failure to its domains restarting elsewhere: "
		       "%u ms\n", d->t.tick_ms, d->t.lease_ms, d->t.watchdog_ms, d->t.msgwait_ms,
		       d->t.token_ms, d->t.consensus_ms, d->t.margin_ms, worst);
	else
		qb_log(LOG_NOTICE, "timeout chain: tick=%u lease=%u watchdog=%u msgwait=%u "
		       "token=%u consensus=%u margin=%u; worst-case recovery %u ms",
		       d->t.tick_ms, d->t.lease_ms, d->t.watchdog_ms, d->t.msgwait_ms,
		       d->t.token_ms, d->t.consensus_ms, d->t.margin_ms, worst);
	if (strcmp(d->cfg.fence_watchdog, "none") == 0 && !d->cfg.fence_allow_no_watchdog) {
		if (verbose)
			printf("error: watchdog = none needs allow_no_watchdog = yes (development only)\n");
		else
			qb_log(LOG_ERR, "watchdog = none needs allow_no_watchdog = yes");
		errors++;
	}
	return errors;
}

int main(int argc, char **argv)
{
	static struct fd d;
	const char *logfile = NULL;
	bool foreground = false, debug = false, check = false, explicit_conf = false;
	qb_loop_signal_handle sh;
	int opt, rc;

	d.cfg_path = DEFAULT_CONF;
	d.exit_code = 1;
	while ((opt = getopt(argc, argv, "c:nfdl:hV")) != -1) {
		switch (opt) {
		case 'c': d.cfg_path = optarg; explicit_conf = true; break;
		case 'n': check = true; break;
		case 'f': foreground = true; break;
		case 'd': debug = true; break;
		case 'l': logfile = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("xenha-fenced %s\n", PACKAGE_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (xh_load_config("xenha-fenced", d.cfg_path, &d.cfg, explicit_conf || check) < 0)
		return 1;
	timing_from_config(&d);
	if (check) {
		/* the running corosync's totem values when it answers, else
		 * corosync's defaults; the daemon re-checks at start */
		bool live = fd_read_totem(&d);

		printf("xenha-fenced: totem token %u ms, consensus %u ms (%s)\n",
		       d.t.token_ms, d.t.consensus_ms,
		       live ? "the running corosync's" :
		       "corosync's defaults: corosync is not running; the daemon re-checks with its values");
		if (disk_start(&d, false) < 0)
			return 1;
		rc = chain_check(&d, true);
		printf("xenha-fenced: configuration %s %s\n", d.cfg_path,
		       rc ? "REFUSED" : "OK");
		return rc ? 1 : 0;
	}
	if (!foreground && daemon(0, 0) < 0) {
		perror("xenha-fenced: daemon");
		return 1;
	}
	if (xh_log_init("xenha-fenced", &d.cfg, foreground, debug, logfile) < 0)
		return 1;
	qb_log(LOG_NOTICE, "xenha-fenced %s starting config=%s", PACKAGE_VERSION, d.cfg_path);
#ifdef XENHA_UNSAFE_SKIP_FENCE_WAIT
	qb_log(LOG_CRIT, "UNSAFE BUILD (--enable-unsafe-skip-fence-wait): lost hosts are confirmed "
	       "fenced without waiting; two copies of a domain can run; for tests only");
#endif
	signal(SIGPIPE, SIG_IGN);
	d.start_ms = fd_mono_ms();

	d.loop = qb_loop_create();
	if (!d.loop)
		goto out;
	qb_loop_signal_add(d.loop, QB_LOOP_HIGH, SIGTERM, &d, on_signal, &sh);
	qb_loop_signal_add(d.loop, QB_LOOP_HIGH, SIGINT, &d, on_signal, &sh);

	if (fd_cluster_init(&d) < 0)
		goto out;
	if (disk_start(&d, true) < 0)
		goto out_cluster;
	if (chain_check(&d, false) > 0) {
		qb_log(LOG_ERR, "unsafe timeout chain: refusing to start (see `xenha-fenced -n`)");
		goto out_disk;
	}
	if (fd_xlink_start(&d) < 0)
		goto out_disk;
	if (fd_ipc_init(&d) < 0)
		goto out_xlink;
	fd_decide_init(&d);

	d.exit_code = 0;
	qb_loop_run(d.loop);

	fd_decide_fini(&d);
	fd_agent_fini(&d);
	if (d.wd) {
		if (d.self_fence) {
			qb_log(LOG_CRIT, "exiting after a poison pill: the watchdog stays armed");
			wd_abandon(d.wd);
		} else if (d.exit_code == 0) {
			/* a clean stop: tell the peers, then disarm */
			fd_send_tick(&d, true);
			rc = wd_disarm_close(d.wd);
			qb_log(rc < 0 ? LOG_ERR : LOG_NOTICE, "watchdog disarmed%s%s",
			       rc < 0 ? ": " : "", rc < 0 ? strerror(-rc) : "");
		} else {
			qb_log(LOG_CRIT, "exiting on an error: the watchdog stays armed");
			wd_abandon(d.wd);
		}
		d.wd = NULL;
	}
	fd_ipc_fini(&d);
out_xlink:
	fd_xlink_stop(&d);
out_disk:
	if (d.hbw)
		hbw_stop(d.hbw);
out_cluster:
	fd_cluster_fini(&d);
out:
	if (d.loop)
		qb_loop_destroy(d.loop);
	qb_log(LOG_NOTICE, "xenha-fenced exiting code=%d", d.exit_code);
	xh_log_fini();
	return d.exit_code;
}
