/*
 * bench/migrate_sim [-n N] [--mb M] [--dirty-kib-s R] [--json FILE]
 *
 * Live migration of one sim domain back and forth between two sim driver
 * instances (two run_dirs, one image dir) over a socketpair: the driver and
 * xenha-simdom alone, without the cluster and the TLS transport.  Defaults:
 * a 256 MiB domain dirtying 10 MiB/s, 20 migrations.  Prints downtime
 * p50/p99 (source pause record to the target's first record, both
 * CLOCK_MONOTONIC), total time per migration, bytes sent / memory size and
 * rounds.  Not a test: nothing passes or fails on the figures (the goal of
 * issue 5 is downtime p50 < 100 ms, p99 < 300 ms).
 */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "xenha/config.h"
#include "xenha/hv.h"

#ifndef SIMDOM_PATH
#error "SIMDOM_PATH must name the built xenha-simdom"
#endif

#define MAX_RUNS 1000

static const struct hv_ops *ops = &hv_sim_ops;

struct host {
	struct xh_config cfg;
	struct hv *h;
};

struct result {
	uint32_t downtime_ms;
	uint32_t rounds;
	uint64_t bytes;
	uint64_t pages;
	double total_ms;
};

struct side {
	struct host *host;
	int fd;
	int rc, outcome;
	uint64_t gen;
	uint32_t nodeid;
	struct hv_migrate_progress final;
	bool have_final;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void on_end(void *arg, const char *name, uint64_t gen, int reason, const char *detail)
{
	(void)arg;
	(void)name;
	(void)gen;
	(void)reason;
	(void)detail;
}

static void on_progress(void *arg, const struct hv_migrate_progress *p)
{
	struct side *s = arg;

	if (p->final) {
		s->final = *p;
		s->have_final = true;
	}
}

static void *send_main(void *arg)
{
	struct side *s = arg;
	struct hv_migrate_opts o = { .max_rounds = 30, .downtime_ms = 100, .timeout_ms = 120000 };

	s->rc = ops->migrate_send(s->host->h, "bench1", s->fd, &o, on_progress, s, &s->outcome);
	close(s->fd);
	return NULL;
}

static void *recv_main(void *arg)
{
	struct side *s = arg;
	struct hv_start_req req = {
		.name = "bench1", .memory_mb = s->host->cfg.sim_hold_max_mb,
		.generation = s->gen, .nodeid = s->nodeid,
	};

	s->rc = ops->migrate_recv(s->host->h, &req, s->fd, NULL, NULL);
	close(s->fd);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t pct(const uint32_t *sorted, int n, int p)
{
	int i = (n * p + 99) / 100 - 1;

	return sorted[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(p);
	return 0;
}

static int host_open(struct host *h, const char *dir, const char *sub, const char *img,
		     uint32_t mb, uint32_t dirty)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->cfg.hypervisor, sizeof(h->cfg.hypervisor), "sim");
	snprintf(h->cfg.sim_run_dir, sizeof(h->cfg.sim_run_dir), "%.200s/%s", dir, sub);
	snprintf(h->cfg.sim_image_dir, sizeof(h->cfg.sim_image_dir), "%.200s", img);
	snprintf(h->cfg.sim_simdom, sizeof(h->cfg.sim_simdom), "%s", SIMDOM_PATH);
	h->cfg.sim_memory_mb = 65536;
	h->cfg.sim_hold_max_mb = mb;
	h->cfg.sim_dirty_kib_s = dirty;
	h->cfg.sim_record_ms = 10;
	h->cfg.start_timeout_ms = 60000;
	h->cfg.stop_timeout_ms = 5000;
	return ops->open(&h->cfg, on_end, NULL, &h->h);
}

int main(int argc, char **argv)
{
	const char *json = NULL;
	int runs = 20;
	uint32_t mb = 256, dirty = 10240;
	char dir[] = "/tmp/xenha-bench-migrate.XXXXXX", img[300];
	struct host hosts[2];
	static struct result res[MAX_RUNS];
	int done = 0, rc = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
			json = argv[++i];
		} else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
			runs = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--mb") == 0 && i + 1 < argc) {
			mb = (uint32_t)strtoul(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--dirty-kib-s") == 0 && i + 1 < argc) {
			dirty = (uint32_t)strtoul(argv[++i], NULL, 10);
		} else {
			fprintf(stderr, "usage: migrate_sim [-n N] [--mb M] [--dirty-kib-s R] [--json FILE]\n");
			return 2;
		}
	}
	if (runs < 1 || runs > MAX_RUNS || mb < 1 || mb > 4096) {
		fprintf(stderr, "migrate_sim: -n 1..%d, --mb 1..4096\n", MAX_RUNS);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(img, sizeof(img), "%s/images", dir);
	if (mkdir(img, 0755) < 0 || host_open(&hosts[0], dir, "runA", img, mb, dirty) < 0 ||
	    host_open(&hosts[1], dir, "runB", img, mb, dirty) < 0) {
		fprintf(stderr, "migrate_sim: cannot set up in %s\n", dir);
		goto out;
	}
	struct hv_start_req req = { .name = "bench1", .memory_mb = mb, .generation = 1, .nodeid = 1 };
	if (ops->start(hosts[0].h, &req) < 0) {
		fprintf(stderr, "migrate_sim: start failed\n");
		goto out;
	}
	/* let it run and dirty for a moment before the first migration */
	poll(NULL, 0, 500);
	for (int i = 0; i < runs; i++) {
		struct side s = { .host = &hosts[i % 2] }, r = { .host = &hosts[(i + 1) % 2] };
		pthread_t ts, tr;
		int sp[2];

		r.gen = (uint64_t)i + 2;
		r.nodeid = (uint32_t)((i + 1) % 2) + 1;
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
			goto out;
		s.fd = sp[0];
		r.fd = sp[1];
		double t0 = now_ms();
		pthread_create(&ts, NULL, send_main, &s);
		pthread_create(&tr, NULL, recv_main, &r);
		pthread_join(ts, NULL);
		pthread_join(tr, NULL);
		double t1 = now_ms();
		if (s.rc < 0 || s.outcome != HV_MIG_DONE || r.rc < 0 || !s.have_final) {
			fprintf(stderr, "migrate_sim: migration %d failed: send rc=%d outcome=%d recv rc=%d\n",
				i + 1, s.rc, s.outcome, r.rc);
			goto out;
		}
		res[done].downtime_ms = s.final.downtime_ms;
		res[done].rounds = s.final.round;
		res[done].bytes = s.final.bytes_sent;
		res[done].pages = s.final.pages_total;
		res[done].total_ms = t1 - t0;
		printf("migration %d: %s downtime_ms=%" PRIu32 " rounds=%" PRIu32 " total_ms=%.0f sent/mem=%.2f\n",
		       i + 1, i % 2 ? "B->A" : "A->B", res[done].downtime_ms, res[done].rounds,
		       res[done].total_ms,
		       (double)res[done].bytes / ((double)res[done].pages * (double)sysconf(_SC_PAGESIZE)));
		fflush(stdout);
		done++;
		/* reap the source's end */
		ops->dispatch(hosts[i % 2].h);
	}
	rc = 0;
out:
	if (done > 0) {
		uint32_t dt[MAX_RUNS];
		double tot = 0, ratio = 0, rounds = 0, tmax = 0;
		for (int i = 0; i < done; i++) {
			dt[i] = res[i].downtime_ms;
			tot += res[i].total_ms;
			tmax = res[i].total_ms > tmax ? res[i].total_ms : tmax;
			ratio += (double)res[i].bytes / ((double)res[i].pages * (double)sysconf(_SC_PAGESIZE));
			rounds += res[i].rounds;
		}
		qsort(dt, (size_t)done, sizeof(dt[0]), cmp_u32);
		printf("migrate_sim: runs=%d mb=%" PRIu32 " dirty_kib_s=%" PRIu32 " downtime_ms p50=%" PRIu32
		       " p99=%" PRIu32 " max=%" PRIu32 " total_ms mean=%.0f max=%.0f sent/mem mean=%.2f rounds mean=%.1f\n",
		       done, mb, dirty, pct(dt, done, 50), pct(dt, done, 99), dt[done - 1],
		       tot / done, tmax, ratio / done, rounds / done);
		if (json != NULL) {
			FILE *f = fopen(json, "w");
			if (f == NULL) {
				fprintf(stderr, "migrate_sim: %s: %s\n", json, strerror(errno));
				rc = 1;
			} else {
				fprintf(f, "{\"runs\":%d,\"mb\":%" PRIu32 ",\"dirty_kib_s\":%" PRIu32
					",\"downtime_ms_p50\":%" PRIu32 ",\"downtime_ms_p99\":%" PRIu32
					",\"downtime_ms_max\":%" PRIu32 ",\"total_ms_mean\":%.1f,\"total_ms_max\":%.1f"
					",\"sent_per_mem_mean\":%.3f,\"rounds_mean\":%.2f,\"downtime_ms\":[",
					done, mb, dirty, pct(dt, done, 50), pct(dt, done, 99), dt[done - 1],
					tot / done, tmax, ratio / done, rounds / done);
				for (int i = 0; i < done; i++)
					fprintf(f, "%s%" PRIu32, i ? "," : "", res[i].downtime_ms);
				fprintf(f, "]}\n");
				if (fclose(f) != 0)
					rc = 1;
			}
		}
	}
	for (int i = 0; i < 2; i++) {
		if (hosts[i].h == NULL)
			continue;
		ops->destroy(hosts[i].h, "bench1");
		ops->dispatch(hosts[i].h);
		ops->close(hosts[i].h);
	}
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
