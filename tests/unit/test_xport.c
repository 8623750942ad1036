/*
 * tests for xport (src/drivers/xport.c): the TLS 1.3 PSK migration
 * transport over socketpairs (no IP address needed):
 *   - 64 MiB of pseudo-random data each way at once, crc32 compared
 *   - half-close in one direction, then the other
 *   - another key / another cluster refused on both sides, distinct words
 *   - xport_key_load: missing file, group/world mode, short and long keys
 *   - handshake timeout when the peer says nothing (both roles)
 *   - the connection cut in the middle: both plain fds see the break
 *   - one flipped ciphertext byte: the receiver reports -EBADMSG and the
 *     stream breaks on both sides; no corrupted byte reaches the driver
 *   - xport_abort()
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>
#include <zlib.h>

#include "xenha/xport.h"

#define MIB (1024u * 1024u)
#define IO_TIMEOUT_MS 30000
#define HS_TIMEOUT_MS 10000

static char tmpdir[] = "/tmp/test_xport.XXXXXX";
static char key_a[512], key_b[512];

/* ---- helpers ---- */

static void write_file(const char *path, size_t len, unsigned seed, mode_t mode)
{
	unsigned char buf[8192];
	int fd;

	assert_true(len <= sizeof(buf));
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(seed * 131 + i * 7 + (i >> 3));
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static struct xport_key *load(const char *path)
{
	struct xport_key *k = NULL;
	char err[256];

	assert_int_equal(xport_key_load(path, &k, err, sizeof(err)), 0);
	assert_non_null(k);
	return k;
}

static uint64_t xs_next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

struct writer {
	int fd;
	uint64_t bytes;
	uint64_t seed;
	uint64_t done;
	uLong crc;
	int err;          /* 0 or errno of the failed send */
	bool shut;        /* shutdown(SHUT_WR) after the last byte */
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	static __thread uint64_t buf[8192];
	uint64_t x = w->seed | 1;

	w->crc = crc32(0L, Z_NULL, 0);
	while (w->done < w->bytes) {
		size_t len = sizeof(buf), off = 0;

		if (w->bytes - w->done < len)
			len = (size_t)(w->bytes - w->done);
		for (size_t i = 0; i < sizeof(buf) / sizeof(buf[0]); i++)
			buf[i] = xs_next(&x);
		while (off < len) {
			struct pollfd p = { .fd = w->fd, .events = POLLOUT };
			ssize_t n;

			if (poll(&p, 1, IO_TIMEOUT_MS) <= 0) {
				w->err = ETIMEDOUT;
				return NULL;
			}
			n = send(w->fd, (char *)buf + off, len - off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n < 0) {
				w->err = errno;
				return NULL;
			}
			w->crc = crc32(w->crc, (const Bytef *)buf + off, (uInt)n);
			off += (size_t)n;
			w->done += (uint64_t)n;
		}
	}
	if (w->shut && shutdown(w->fd, SHUT_WR) != 0)
		w->err = errno;
	return NULL;
}

struct reader {
	int fd;
	uint64_t got;
	uLong crc;
	int err;          /* 0 on EOF, else errno (ETIMEDOUT: nothing for 30 s) */
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	static __thread unsigned char buf[65536];

	r->crc = crc32(0L, Z_NULL, 0);
	/* Bounded: each pass reads bytes, or ends on EOF, error or timeout. */
	for (;;) {
		struct pollfd p = { .fd = r->fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, IO_TIMEOUT_MS) <= 0) {
			r->err = ETIMEDOUT;
			return NULL;
		}
		n = recv(r->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0) {
			r->err = errno;
			return NULL;
		}
		if (n == 0)
			return NULL;
		r->crc = crc32(r->crc, buf, (uInt)n);
		r->got += (uint64_t)n;
	}
}

struct side {
	int fd;
	bool server;
	const struct xport_key *k;
	const char *name;
	uint32_t timeout_ms;
	struct xport_stream *s;
	int plain;
	int rc;
	char err[256];
};

static void *start_main(void *arg)
{
	struct side *d = arg;

	d->rc = xport_start(d->fd, d->server, d->k, d->name, d->timeout_ms, &d->s,
			    &d->plain, d->err, sizeof(d->err));
	return NULL;
}

static void side_init(struct side *d, int fd, bool server, const struct xport_key *k,
		      const char *name)
{
	memset(d, 0, sizeof(*d));
	d->fd = fd;
	d->server = server;
	d->k = k;
	d->name = name;
	d->timeout_ms = HS_TIMEOUT_MS;
	d->plain = -1;
}

/* Both handshakes at once, server in a thread. */
static void start_both(struct side *srv, struct side *cli)
{
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, start_main, srv), 0);
	start_main(cli);
	assert_int_equal(pthread_join(t, NULL), 0);
}

/*
 * A man in the middle between two socketpairs: copies both ways; flips
 * one bit of the byte at offset flip_at of the client->server direction
 * (if >= 0), or cuts both connections once cut_after bytes went that way
 * (if >= 0).  Ends (closing both its sockets) when either side closes or
 * fails.
 */
struct mitm {
	int c, s;                 /* its ends toward the client / server */
	int64_t flip_at;
	int64_t cut_after;
	uint64_t c2s;
	pthread_t t;
};

static void *mitm_main(void *arg)
{
	struct mitm *m = arg;
	static __thread unsigned char buf[65536];

	for (;;) {
		struct pollfd p[2] = { { .fd = m->c, .events = POLLIN },
				       { .fd = m->s, .events = POLLIN } };

		if (poll(p, 2, IO_TIMEOUT_MS) <= 0)
			break;
		if (p[0].revents != 0) {
			ssize_t n = read(m->c, buf, sizeof(buf));

			if (n <= 0)
				break;
			if (m->flip_at >= 0 && (uint64_t)m->flip_at >= m->c2s &&
			    (uint64_t)m->flip_at < m->c2s + (uint64_t)n)
				buf[m->flip_at - (int64_t)m->c2s] ^= 0x20;
			m->c2s += (uint64_t)n;
			if (m->cut_after >= 0 && m->c2s >= (uint64_t)m->cut_after)
				break;
			if (send(m->s, buf, (size_t)n, MSG_NOSIGNAL) != n)
				break;
		}
		if (p[1].revents != 0) {
			ssize_t n = read(m->s, buf, sizeof(buf));

			if (n <= 0 || send(m->c, buf, (size_t)n, MSG_NOSIGNAL) != n)
				break;
		}
	}
	close(m->c);
	close(m->s);
	return NULL;
}

/* Sockets for a client and a server joined through a mitm. */
static void mitm_start(struct mitm *m, int *cli_fd, int *srv_fd, int64_t flip_at,
		       int64_t cut_after)
{
	int a[2], b[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b), 0);
	memset(m, 0, sizeof(*m));
	*cli_fd = a[0];
	m->c = a[1];
	m->s = b[0];
	*srv_fd = b[1];
	m->flip_at = flip_at;
	m->cut_after = cut_after;
	assert_int_equal(pthread_create(&m->t, NULL, mitm_main, m), 0);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- fixtures ---- */

static int group_setup(void **state)
{
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(key_a, sizeof(key_a), "%s/key_a", tmpdir);
	snprintf(key_b, sizeof(key_b), "%s/key_b", tmpdir);
	write_file(key_a, 64, 1, 0400);
	write_file(key_b, 64, 2, 0600);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- tests ---- */

static void test_key_load(void **state)
{
	struct xport_key *k = (struct xport_key *)&k;  /* must stay untouched */
	char path[600], err[256] = "";

	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	assert_int_equal(xport_key_load(path, &k, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
	assert_ptr_equal(k, &k);

	snprintf(path, sizeof(path), "%s/k644", tmpdir);
	write_file(path, 64, 3, 0644);
	err[0] = '\0';
	assert_int_equal(xport_key_load(path, &k, err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "chmod 0400"));
	write_file(path, 64, 3, 0440);          /* group-readable: refused too */
	assert_int_equal(xport_key_load(path, &k, err, sizeof(err)), -EACCES);

	snprintf(path, sizeof(path), "%s/kshort", tmpdir);
	write_file(path, XPORT_KEY_MIN - 1, 4, 0400);
	err[0] = '\0';
	assert_int_equal(xport_key_load(path, &k, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "31 bytes"));
	write_file(path, 0, 4, 0400);
	assert_int_equal(xport_key_load(path, &k, err, sizeof(err)), -EINVAL);
	write_file(path, XPORT_KEY_MAX + 1, 4, 0400);
	assert_int_equal(xport_key_load(path, &k, err, sizeof(err)), -EINVAL);
	assert_int_equal(xport_key_load(tmpdir, &k, err, sizeof(err)), -EINVAL);
	assert_ptr_equal(k, &k);

	/* the limits themselves are fine */
	write_file(path, XPORT_KEY_MIN, 4, 0400);
	k = load(path);
	xport_key_free(k);
	write_file(path, XPORT_KEY_MAX, 4, 0600);
	k = load(path);
	xport_key_free(k);
	xport_key_free(NULL);
}

/* 64 MiB each way at the same time; a 4096-byte key (the largest). */
static void test_round_trip(void **state)
{
	struct side srv, cli;
	struct writer wc = { .bytes = 64 * MIB, .seed = 0x1234567, .shut = true };
	struct writer ws = { .bytes = 64 * MIB + 12345, .seed = 0x7654321, .shut = true };
	struct reader rc = { 0 }, rs = { 0 };
	struct xport_stats stc, sts;
	pthread_t t[4];
	struct xport_key *k;
	char path[600];
	int sp[2];

	snprintf(path, sizeof(path), "%s/kbig", tmpdir);
	write_file(path, XPORT_KEY_MAX, 9, 0400);
	k = load(path);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	side_init(&srv, sp[0], true, k, "alpha");
	side_init(&cli, sp[1], false, k, "alpha");
	start_both(&srv, &cli);
	xport_key_free(k);      /* the streams keep their own copies */
	assert_int_equal(srv.rc, 0);
	assert_int_equal(cli.rc, 0);

	wc.fd = rc.fd = cli.plain;
	ws.fd = rs.fd = srv.plain;
	assert_int_equal(pthread_create(&t[0], NULL, writer_main, &wc), 0);
	assert_int_equal(pthread_create(&t[1], NULL, writer_main, &ws), 0);
	assert_int_equal(pthread_create(&t[2], NULL, reader_main, &rc), 0);
	assert_int_equal(pthread_create(&t[3], NULL, reader_main, &rs), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);

	assert_int_equal(wc.err, 0);
	assert_int_equal(ws.err, 0);
	assert_int_equal(rc.err, 0);
	assert_int_equal(rs.err, 0);
	assert_true(rs.got == wc.bytes);
	assert_true(rc.got == ws.bytes);
	assert_int_equal(rs.crc, wc.crc);
	assert_int_equal(rc.crc, ws.crc);

	assert_int_equal(xport_finish(cli.s, &stc), 0);
	assert_int_equal(xport_finish(srv.s, &sts), 0);
	assert_true(stc.sent == wc.bytes && stc.received == ws.bytes);
	assert_true(sts.sent == ws.bytes && sts.received == wc.bytes);
	assert_int_equal(stc.error, 0);
	assert_string_equal(stc.why, "");
	close(cli.plain);
	close(srv.plain);
}

static ssize_t read_all(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, IO_TIMEOUT_MS) <= 0)
			return -ETIMEDOUT;
		n = read(fd, buf + got, len - got);
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* xport_sent(s) once it reaches want (it counts after the record went
 * out, so the peer may read the bytes a moment before): bounded, 2 s. */
static uint64_t sent_reaches(const struct xport_stream *s, uint64_t want)
{
	uint64_t n = 0;

	for (int i = 0; i < 400 && (n = xport_sent(s)) < want; i++)
		usleep(5000);
	return n;
}

/* Client half-closes; the server sees EOF, answers, then closes too.
 * xport_sent() follows each side's bytes while the stream runs. */
static void test_half_close(void **state)
{
	struct xport_key *k = load(key_a);
	struct side srv, cli;
	struct xport_stats st;
	char buf[64];
	int sp[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	side_init(&srv, sp[0], true, k, "alpha");
	side_init(&cli, sp[1], false, k, "alpha");
	start_both(&srv, &cli);
	assert_int_equal(srv.rc, 0);
	assert_int_equal(cli.rc, 0);

	assert_int_equal(write(cli.plain, "request", 7), 7);
	assert_int_equal(shutdown(cli.plain, SHUT_WR), 0);
	assert_int_equal(read_all(srv.plain, buf, sizeof(buf)), 7);  /* then EOF */
	assert_memory_equal(buf, "request", 7);
	assert_int_equal(sent_reaches(cli.s, 7), 7);
	assert_int_equal(xport_sent(srv.s), 0);
	/* the other direction is still open */
	assert_int_equal(write(srv.plain, "answer", 6), 6);
	assert_int_equal(read_all(cli.plain, buf, 6), 6);
	assert_memory_equal(buf, "answer", 6);
	assert_int_equal(sent_reaches(srv.s, 6), 6);
	assert_int_equal(xport_sent(NULL), 0);
	assert_int_equal(write(srv.plain, "more", 4), 4);
	assert_int_equal(shutdown(srv.plain, SHUT_WR), 0);
	assert_int_equal(read_all(cli.plain, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "more", 4);

	assert_int_equal(xport_finish(srv.s, &st), 0);
	assert_true(st.sent == 10 && st.received == 7);
	assert_int_equal(xport_finish(cli.s, &st), 0);
	assert_true(st.sent == 7 && st.received == 10);
	close(cli.plain);
	close(srv.plain);
	xport_key_free(k);
}

static void expect_refused(const struct xport_key *ks, const char *ns,
			   const struct xport_key *kc, const char *nc,
			   char *srv_err, char *cli_err)
{
	struct side srv, cli;
	int sp[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	side_init(&srv, sp[0], true, ks, ns);
	side_init(&cli, sp[1], false, kc, nc);
	start_both(&srv, &cli);
	print_message("refused: server %d \"%s\", client %d \"%s\"\n", srv.rc,
		      srv.err, cli.rc, cli.err);
	assert_int_equal(srv.rc, -EACCES);
	assert_int_equal(cli.rc, -EACCES);
	assert_null(srv.s);
	assert_null(cli.s);
	assert_int_equal(srv.plain, -1);    /* no data path at all */
	assert_int_equal(cli.plain, -1);
	strcpy(srv_err, srv.err);
	strcpy(cli_err, cli.err);
	/* the fds were the streams'; they are closed */
	assert_int_equal(fcntl(sp[0], F_GETFD), -1);
	assert_int_equal(fcntl(sp[1], F_GETFD), -1);
}

static void test_wrong_key(void **state)
{
	struct xport_key *a = load(key_a), *b = load(key_b);
	char se[256], ce[256];

	expect_refused(a, "alpha", b, "alpha", se, ce);
	assert_true(strcmp(se, ce) != 0);
	assert_non_null(strstr(se, "server"));
	assert_non_null(strstr(ce, "client"));
	assert_non_null(strstr(se, "does not hold our cluster key"));
	assert_non_null(strstr(ce, "cluster key differs"));

	/* same key, another cluster */
	expect_refused(a, "alpha", a, "beta", se, ce);
	assert_non_null(strstr(se, "xenha:beta"));
	assert_non_null(strstr(ce, "another cluster"));
	xport_key_free(a);
	xport_key_free(b);
}

/* The peer connects and says nothing (or answers nothing). */
static void test_handshake_timeout(void **state)
{
	struct xport_key *k = load(key_a);

	for (int server = 0; server < 2; server++) {
		struct side d;
		int64_t t0;
		int sp[2];

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
		side_init(&d, sp[0], server, k, "alpha");
		d.timeout_ms = 300;
		t0 = now_ms();
		start_main(&d);
		assert_int_equal(d.rc, -ETIMEDOUT);
		assert_true(now_ms() - t0 >= 300);
		assert_true(now_ms() - t0 < 3000);
		assert_non_null(strstr(d.err, "timed out"));
		close(sp[1]);
	}
	xport_key_free(k);
}

/* Run writer client->server through a mitm; returns after both finish. */
static void broken_stream(int64_t flip_at, int64_t cut_after, int *srv_rc, int *cli_rc,
			  struct reader *rs, struct writer *wc, struct reader *rcl)
{
	struct xport_key *k = load(key_a);
	struct side srv, cli;
	struct xport_stats st;
	struct mitm m;
	pthread_t t[3];
	int cfd, sfd;

	mitm_start(&m, &cfd, &sfd, flip_at, cut_after);
	side_init(&srv, sfd, true, k, "alpha");
	side_init(&cli, cfd, false, k, "alpha");
	start_both(&srv, &cli);
	assert_int_equal(srv.rc, 0);
	assert_int_equal(cli.rc, 0);

	wc->fd = cli.plain;
	rs->fd = srv.plain;
	rcl->fd = cli.plain;
	assert_int_equal(pthread_create(&t[0], NULL, writer_main, wc), 0);
	assert_int_equal(pthread_create(&t[1], NULL, reader_main, rs), 0);
	assert_int_equal(pthread_create(&t[2], NULL, reader_main, rcl), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	*srv_rc = xport_finish(srv.s, &st);
	print_message("server: %s\n", st.why);
	*cli_rc = xport_finish(cli.s, &st);
	print_message("client: %s\n", st.why);
	assert_int_equal(pthread_join(m.t, NULL), 0);
	close(cli.plain);
	close(srv.plain);
	xport_key_free(k);
}

/* The connection is cut mid-stream: both plain fds see the break. */
static void test_peer_dies(void **state)
{
	struct writer wc = { .bytes = 32 * MIB, .seed = 99, .shut = true };
	struct reader rs = { 0 }, rcl = { 0 };
	int srv_rc, cli_rc;

	broken_stream(-1, 4 * MIB, &srv_rc, &cli_rc, &rs, &wc, &rcl);
	assert_int_equal(srv_rc, -ECONNRESET);
	assert_int_equal(cli_rc, -ECONNRESET);
	/* the client's driver could not write it all (EPIPE/ECONNRESET) */
	assert_true(wc.err == EPIPE || wc.err == ECONNRESET);
	assert_true(wc.done < wc.bytes);
	/* the server's driver got an early end: EOF or ECONNRESET, short */
	assert_true(rs.err == 0 || rs.err == ECONNRESET);
	assert_true(rs.got < 4 * MIB);
	/* and the client's read side ended too (no clean close_notify) */
	assert_true(rcl.err == 0 || rcl.err == ECONNRESET);
	assert_true(rcl.got == 0);
}

/* One flipped bit in the ciphertext: the stream breaks, and nothing
 * from the bad record (or after it) reaches the driver. */
static void test_integrity(void **state)
{
	struct writer wc = { .bytes = 32 * MIB, .seed = 77, .shut = true };
	struct reader rs = { 0 }, rcl = { 0 };
	int srv_rc, cli_rc;

	broken_stream((int64_t)2 * MIB + 1000, -1, &srv_rc, &cli_rc, &rs, &wc, &rcl);
	assert_int_equal(srv_rc, -EBADMSG);
	assert_int_equal(cli_rc, -ECONNRESET);
	assert_true(wc.err == EPIPE || wc.err == ECONNRESET);
	assert_true(rs.err == 0 || rs.err == ECONNRESET);
	assert_true(rs.got < 2 * MIB);
}

static void test_abort(void **state)
{
	struct xport_key *k = load(key_a);
	struct side srv, cli;
	struct xport_stats st;
	char buf[8];
	int sp[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	side_init(&srv, sp[0], true, k, "alpha");
	side_init(&cli, sp[1], false, k, "alpha");
	start_both(&srv, &cli);
	assert_int_equal(srv.rc, 0);
	assert_int_equal(cli.rc, 0);
	xport_abort(cli.s);
	xport_abort(cli.s);
	assert_int_equal(xport_finish(cli.s, &st), -ECANCELED);
	assert_int_equal(xport_finish(srv.s, &st), -ECONNRESET);
	assert_true(read_all(srv.plain, buf, sizeof(buf)) <= 0);
	assert_true(read_all(cli.plain, buf, sizeof(buf)) <= 0);
	close(cli.plain);
	close(srv.plain);
	xport_key_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_load),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_half_close),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_handshake_timeout),
		cmocka_unit_test(test_peer_dies),
		cmocka_unit_test(test_integrity),
		cmocka_unit_test(test_abort),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
