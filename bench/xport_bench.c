/*
 * xport_bench: throughput of one migration stream, plain TCP or through
 * xport (TLS 1.3 PSK, relay thread, plain socketpair fd), as the
 * hypervisor driver would use it.  Run by bench/xport.sh in two network
 * namespaces; not a test.
 *
 *   xport_bench recv --mode plain|xport --listen ADDR --port P [--key FILE]
 *   xport_bench send --mode plain|xport --connect ADDR --port P --bytes N [--key FILE]
 *
 * The receiver takes one connection, reads to EOF, answers with the byte
 * count (8 bytes, big-endian) and exits.  The sender times from its
 * first byte (after the TLS handshake) to the receiver's answer, so the
 * figure covers delivery of every byte, and prints one line:
 *   mode=xport bytes=N seconds=S mb_per_s=X
 * (MB = 10^6 bytes).  Exit status 0 ok, 1 error, 2 usage.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "xenha/xport.h"

#define CHUNK (256 * 1024)
#define CLUSTER "bench"
#define HS_TIMEOUT_MS 10000

struct args {
	bool send;
	bool xport;
	const char *addr;
	uint16_t port;
	uint64_t bytes;
	const char *key;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_all(int fd, const void *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(fd, (const char *)buf + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		off += (size_t)n;
	}
	return 0;
}

static ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* The data fd for a connected socket: itself, or xport's plain end. */
static int wrap(const struct args *a, int fd, bool server, struct xport_stream **s)
{
	struct xport_key *k = NULL;
	char err[256];
	int plain, rc;

	*s = NULL;
	if (!a->xport)
		return fd;
	if ((rc = xport_key_load(a->key, &k, err, sizeof(err))) != 0) {
		fprintf(stderr, "xport_bench: %s\n", err);
		close(fd);
		return rc;
	}
	rc = xport_start(fd, server, k, CLUSTER, HS_TIMEOUT_MS, s, &plain, err, sizeof(err));
	xport_key_free(k);
	if (rc != 0) {
		fprintf(stderr, "xport_bench: %s\n", err);
		return rc;
	}
	return plain;
}

static int unwrap(int fd, struct xport_stream *s)
{
	struct xport_stats st;
	int rc = 0;

	close(fd);
	if (s != NULL && (rc = xport_finish(s, &st)) != 0)
		fprintf(stderr, "xport_bench: stream: %s\n", st.why);
	return rc;
}

static int do_recv(const struct args *a)
{
	static char buf[CHUNK];
	struct xport_stream *s;
	unsigned char ans[8];
	uint64_t got = 0;
	int lfd, fd, rc;

	if ((rc = xport_listen(a->addr, a->port, &lfd)) != 0) {
		fprintf(stderr, "xport_bench: listen: %s\n", strerror(-rc));
		return 1;
	}
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	close(lfd);
	if (fd < 0) {
		perror("xport_bench: accept");
		return 1;
	}
	if (!a->xport) {
		int one = 1;

		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if ((fd = wrap(a, fd, true, &s)) < 0)
		return 1;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("xport_bench: read");
			unwrap(fd, s);
			return 1;
		}
		if (n == 0)
			break;
		got += (uint64_t)n;
	}
	for (int i = 0; i < 8; i++)
		ans[i] = (unsigned char)(got >> (56 - 8 * i));
	if (write_all(fd, ans, sizeof(ans)) != 0 || shutdown(fd, SHUT_WR) != 0) {
		perror("xport_bench: answer");
		unwrap(fd, s);
		return 1;
	}
	(void)read_full(fd, buf, 1);    /* the sender's EOF */
	return unwrap(fd, s) == 0 ? 0 : 1;
}

static int do_send(const struct args *a)
{
	static char buf[CHUNK];
	struct xport_stream *s;
	unsigned char ans[8];
	uint64_t left = a->bytes, got = 0;
	double t0, t1;
	int fd, rc;

	/* incompressible, not that anything here compresses */
	srandom(1);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)random();
	if ((rc = xport_connect(a->addr, a->port, 5000, &fd)) != 0) {
		fprintf(stderr, "xport_bench: connect %s:%u: %s\n", a->addr,
			(unsigned)a->port, strerror(-rc));
		return 1;
	}
	if (!a->xport) {
		int one = 1;

		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if ((fd = wrap(a, fd, false, &s)) < 0)
		return 1;
	t0 = now_s();
	while (left > 0) {
		size_t len = left < sizeof(buf) ? (size_t)left : sizeof(buf);

		if ((rc = write_all(fd, buf, len)) != 0) {
			fprintf(stderr, "xport_bench: write: %s\n", strerror(-rc));
			unwrap(fd, s);
			return 1;
		}
		left -= len;
	}
	if (shutdown(fd, SHUT_WR) != 0 || read_full(fd, ans, sizeof(ans)) != sizeof(ans)) {
		fprintf(stderr, "xport_bench: no answer from the receiver\n");
		unwrap(fd, s);
		return 1;
	}
	t1 = now_s();
	for (int i = 0; i < 8; i++)
		got = got << 8 | ans[i];
	if (unwrap(fd, s) != 0)
		return 1;
	if (got != a->bytes) {
		fprintf(stderr, "xport_bench: receiver got %" PRIu64 " of %" PRIu64
			" bytes\n", got, a->bytes);
		return 1;
	}
	printf("mode=%s bytes=%" PRIu64 " seconds=%.3f mb_per_s=%.1f\n",
	       a->xport ? "xport" : "plain", a->bytes, t1 - t0,
	       (double)a->bytes / (t1 - t0) / 1e6);
	return 0;
}

static int usage(void)
{
	fputs("usage: xport_bench recv --mode plain|xport --listen ADDR --port P [--key FILE]\n"
	      "       xport_bench send --mode plain|xport --connect ADDR --port P "
	      "--bytes N [--key FILE]\n", stderr);
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "listen", required_argument, NULL, 'l' },
		{ "connect", required_argument, NULL, 'c' },
		{ "port", required_argument, NULL, 'p' },
		{ "bytes", required_argument, NULL, 'b' },
		{ "key", required_argument, NULL, 'k' },
		{ 0 }
	};
	struct args a = { .port = 0 };
	char *end;
	unsigned long v;
	int c;

	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "send") == 0)
		a.send = true;
	else if (strcmp(argv[1], "recv") != 0)
		return usage();
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (strcmp(optarg, "xport") == 0)
				a.xport = true;
			else if (strcmp(optarg, "plain") != 0)
				return usage();
			break;
		case 'l':
		case 'c':
			a.addr = optarg;
			break;
		case 'p':
			v = strtoul(optarg, &end, 10);
			if (*end != '\0' || v == 0 || v > 65535)
				return usage();
			a.port = (uint16_t)v;
			break;
		case 'b':
			a.bytes = strtoull(optarg, &end, 10);
			if (*end != '\0' || a.bytes == 0)
				return usage();
			break;
		case 'k':
			a.key = optarg;
			break;
		default:
			return usage();
		}
	}
	if (optind != argc || a.addr == NULL || a.port == 0 || (a.xport && a.key == NULL) ||
	    (a.send && a.bytes == 0))
		return usage();
	signal(SIGPIPE, SIG_IGN);
	return a.send ? do_send(&a) : do_recv(&a);
}
