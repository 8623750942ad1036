/*
 * bench_cpg - flood the xenha CPG group with real commands.
 *
 * Joins corosync's CPG group "xenha" on the local host (as a second
 * process of that node), multicasts N commands with agreed ordering as
 * fast as corosync's flow control allows, waits until it has delivered
 * its own last command (so they are all in the total order) and prints
 * the send rate.  Commands go BENCH_BATCH (default 32) wire frames to a
 * CPG message, as xenhad itself batches what it sends in one loop pass;
 * BENCH_RATE=R limits the stream to R commands per second (0: no limit).  The bench script measures when every xenhad has applied
 * them (their seq), which is the figure that counts.
 *
 *   bench_cpg add N PREFIX      N x DOMAIN_ADD PREFIX-00001.. (target stopped)
 *   bench_cpg set N PREFIX M    N x DOMAIN_SET priority on PREFIX-00001..M
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <corosync/cpg.h>

#include "xenha/state.h"
#include "xenha/wire.h"

static struct cpg_name group = { .length = 5, .value = "xenha" };
static unsigned int my_nodeid;
static uint32_t my_pid;
static uint64_t last_req;
static int done;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void deliver(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid, uint32_t pid,
		    void *msg, size_t len)
{
	const uint8_t *p = msg;
	struct wire_cmd wc;
	uint16_t type;
	size_t total;

	if (nodeid != my_nodeid || pid != my_pid)
		return;
	while (len > 0 && wire_peek(p, len, &type, &total) == 0 && total <= len) {
		if (wire_decode_cmd(p, total, &wc) == 0) {
			if (wc.req_id == last_req)
				done = 1;
			wire_cmd_free(&wc);
		}
		p += total;
		len -= total;
	}
}

static void confchg(cpg_handle_t h, const struct cpg_name *g, const struct cpg_address *m,
		    size_t nm, const struct cpg_address *l, size_t nl,
		    const struct cpg_address *j, size_t nj)
{
}

static cpg_callbacks_t cbs = { .cpg_deliver_fn = deliver, .cpg_confchg_fn = confchg };

#define BATCH 32

/* multicast the frames in b as one CPG message, retrying on flow control */
static int send_batch(cpg_handle_t h, struct wire_buf *b)
{
	struct iovec iov = { .iov_base = b->data, .iov_len = b->len };
	cs_error_t err;
	int tries = 0;

	if (b->len == 0)
		return 0;
	for (;;) {
		err = cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1);
		if (err != CS_ERR_TRY_AGAIN || ++tries > 200000)
			break;
		cpg_dispatch(h, CS_DISPATCH_ALL);
		usleep(100);
	}
	b->len = 0;
	return err == CS_OK ? 0 : -1;
}

int main(int argc, char **argv)
{
	cpg_handle_t h;
	struct xh_cmd c;
	struct wire_cmd wc;
	struct wire_buf batch;
	long batch_n = getenv("BENCH_BATCH") ? atol(getenv("BENCH_BATCH")) : BATCH;
	double rate = getenv("BENCH_RATE") ? atof(getenv("BENCH_RATE")) : 0;
	const char *mode, *prefix;
	long n, m = 0;
	double t0, t1, t2;
	int fd;

	if (argc < 4) {
		fprintf(stderr, "usage: bench_cpg add N PREFIX | set N PREFIX M\n");
		return 2;
	}
	mode = argv[1];
	n = atol(argv[2]);
	prefix = argv[3];
	if (strcmp(mode, "set") == 0) {
		if (argc < 5)
			return 2;
		m = atol(argv[4]);
	}
	if (n <= 0 || n > 1000000 || strlen(prefix) > 40 || (m == 0 && strcmp(mode, "set") == 0)) {
		fprintf(stderr, "bench_cpg: N must be 1..1000000, M >= 1, PREFIX at most 40 bytes\n");
		return 2;
	}
	if (cpg_initialize(&h, &cbs) != CS_OK || cpg_local_get(h, &my_nodeid) != CS_OK ||
	    cpg_join(h, &group) != CS_OK) {
		fprintf(stderr, "bench_cpg: cannot join cpg group xenha\n");
		return 1;
	}
	my_pid = (uint32_t)getpid();
	if (batch_n < 1 || batch_n > 1024)
		batch_n = BATCH;
	wire_buf_init(&batch);
	cpg_fd_get(h, &fd);
	t0 = now_s();
	for (long i = 1; i <= n; i++) {
		memset(&c, 0, sizeof(c));
		c.sender = my_nodeid;
		c.time_ms = (uint64_t)time(NULL) * 1000u;
		if (strcmp(mode, "add") == 0) {
			c.type = XH_CMD_DOMAIN_ADD;
			char name[XH_NAME_MAX];

			snprintf(name, sizeof(name), "%s-%05ld", prefix, i);
			xh_domain_def_init(&c.u.dom.def, name);
			c.u.dom.def.start = 0;
			c.u.dom.def.memory_mb = 256 + (uint32_t)(i % 8) * 256;
		} else {
			c.type = XH_CMD_DOMAIN_SET;
			snprintf(c.u.dom.def.name, sizeof(c.u.dom.def.name), "%s-%05ld", prefix,
				 1 + (i - 1) % m);
			c.u.dom.def.priority = (int32_t)(i % 100);
			c.u.dom.mask = XH_DSET_PRIORITY;
		}
		if (i == n)
			last_req = (uint64_t)i;
		memset(&wc, 0, sizeof(wc));
		wc.req_id = (uint64_t)i;
		wc.cmd = c;
		if (wire_encode_cmd(&batch, &wc) < 0)
			return 1;
		if (i % batch_n == 0 || i == n) {
			if (send_batch(h, &batch) < 0) {
				fprintf(stderr, "bench_cpg: send failed at %ld\n", i);
				return 1;
			}
			cpg_dispatch(h, CS_DISPATCH_ALL);
			/* BENCH_RATE: at most that many commands per second */
			while (rate > 0 && (double)i / rate > now_s() - t0) {
				struct timespec ts = { 0, 1000000 };

				nanosleep(&ts, NULL);
				cpg_dispatch(h, CS_DISPATCH_ALL);
			}
		}
	}
	t1 = now_s();
	for (int k = 0; k < 60000 && !done; k++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 1) > 0)
			cpg_dispatch(h, CS_DISPATCH_ALL);
	}
	t2 = now_s();
	wire_buf_free(&batch);
	printf("bench_cpg: batch=%ld mode=%s n=%ld sent_s=%.3f delivered_s=%.3f send_rate=%.0f/s delivered=%s\n",
	       batch_n, mode, n, t1 - t0, t2 - t0, (double)n / (t1 - t0), done ? "yes" : "no");
	cpg_leave(h, &group);
	cpg_finalize(h);
	return done ? 0 : 1;
}
