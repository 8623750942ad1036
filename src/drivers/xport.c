/*
 * xport: authenticated, encrypted migration streams (see xport.h).
 *
 * TLS 1.3 with an external pre-shared key (RFC 8446 psk_dhe_ke only: the
 * priority string allows no plain-PSK key exchange, so every stream has
 * its own (EC)DHE secret and a later leak of the cluster key does not
 * decrypt recorded migrations).  The key itself authenticates both sides:
 * a peer that does not hold it cannot compute the PSK binder (server
 * side) nor the Finished messages (client side).  All cryptography is
 * GnuTLS's; this file only moves bytes and maps errors.
 *
 * One relay thread per stream, one poll loop, both directions.  The TCP
 * socket and the relay's end of the socketpair are non-blocking, so a
 * stream that is busy in both directions at once cannot deadlock (two
 * blocking senders, each waiting for the other to read, would).  GnuTLS
 * wants an interrupted gnutls_record_send() repeated with the same
 * arguments, hence send_try.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "xenha/xport.h"

/* TLS 1.3 only; PSK only with an ephemeral (EC)DH exchange. */
#define XPORT_PRIORITY "SECURE128:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+ECDHE-PSK:+DHE-PSK:" \
	"-CIPHER-ALL:+AES-128-GCM:+CHACHA20-POLY1305:+AES-256-GCM"
#define XPORT_IDENT_PREFIX "xenha:"
#define XPORT_BUF (256 * 1024)
#define XPORT_RECORD (16 * 1024)     /* TLS's largest plaintext record */
#define XPORT_SOCKBUF (4 * 1024 * 1024)

struct xport_key {
	size_t len;
	unsigned char bytes[];
};

struct xport_stream {
	gnutls_session_t tls;
	gnutls_psk_client_credentials_t ccred;
	gnutls_psk_server_credentials_t scred;
	gnutls_datum_t key;          /* our copy, for the server callback */
	char identity[256];
	bool bad_identity;           /* server: the client named another identity */
	bool identity_ok;            /* server: the client named ours */
	char peer_identity[64];
	int tcp_fd;
	int relay_fd;                /* our end of the socketpair */
	int wake_fd;                 /* eventfd: xport_abort() */
	pthread_t thread;
	bool thread_started;
	unsigned char *obuf;         /* plain -> TLS */
	unsigned char *ibuf;         /* TLS -> plain */
	struct xport_stats st;
};

__attribute__((format(printf, 3, 4)))
static void put_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- key ---- */

int xport_key_load(const char *path, struct xport_key **out, char *err, size_t errlen)
{
	struct xport_key *k = NULL;
	struct stat sb;
	size_t got = 0;
	int fd, rc;

	if (path == NULL || out == NULL) {
		put_err(err, errlen, "key file: no path given");
		return -EINVAL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		put_err(err, errlen, "key file %s: cannot open: %s (create one with "
			"'hactl keygen')", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &sb) != 0) {
		rc = -errno;
		put_err(err, errlen, "key file %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = -EINVAL;
		put_err(err, errlen, "key file %s: not a regular file", path);
		goto out;
	}
	/* Like corosync's authkey: a key others can read is no secret. */
	if ((sb.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		rc = -EACCES;
		put_err(err, errlen, "key file %s: mode %04o lets group or others "
			"access it; refused (chmod 0400 %s)", path,
			(unsigned)(sb.st_mode & 07777), path);
		goto out;
	}
	if (sb.st_size < XPORT_KEY_MIN || sb.st_size > XPORT_KEY_MAX) {
		rc = -EINVAL;
		put_err(err, errlen, "key file %s: %lld bytes; a key has %d..%d "
			"random bytes (hactl keygen writes 64)", path,
			(long long)sb.st_size, XPORT_KEY_MIN, XPORT_KEY_MAX);
		goto out;
	}
	k = malloc(sizeof(*k) + (size_t)sb.st_size);
	if (k == NULL) {
		rc = -ENOMEM;
		put_err(err, errlen, "key file %s: out of memory", path);
		goto out;
	}
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, k->bytes + got, (size_t)sb.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			put_err(err, errlen, "key file %s: read: %s", path,
				n < 0 ? strerror(errno) : "file shrank while reading");
			goto out;
		}
		got += (size_t)n;
	}
	k->len = got;
	*out = k;
	k = NULL;
	rc = 0;
out:
	if (k != NULL) {
		explicit_bzero(k->bytes, (size_t)sb.st_size);
		free(k);
	}
	close(fd);
	return rc;
}

void xport_key_free(struct xport_key *k)
{
	if (k == NULL)
		return;
	explicit_bzero(k->bytes, k->len);
	free(k);
}

/* ---- sockets ---- */

static int set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
	return fcntl(fd, F_SETFL, fl) < 0 ? -errno : 0;
}

static int resolve(const char *addr, uint16_t port, bool passive, struct addrinfo **res)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	char service[8];
	int r;

	if (passive)
		hints.ai_flags |= AI_PASSIVE;
	snprintf(service, sizeof(service), "%u", (unsigned)port);
	r = getaddrinfo(addr != NULL && addr[0] != '\0' ? addr : NULL, service, &hints, res);
	if (r == EAI_SYSTEM)
		return -errno;
	if (r == EAI_MEMORY)
		return -ENOMEM;
	return r != 0 ? -EINVAL : 0;
}

int xport_listen(const char *addr, uint16_t port, int *lfd)
{
	struct addrinfo *res;
	int fd, one = 1, rc;

	if (lfd == NULL)
		return -EINVAL;
	if ((rc = resolve(addr, port, true, &res)) != 0)
		return rc;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 16) != 0) {
		rc = -errno;
		close(fd);
		goto out;
	}
	*lfd = fd;
	rc = 0;
out:
	freeaddrinfo(res);
	return rc;
}

int xport_connect(const char *addr, uint16_t port, uint32_t timeout_ms, int *fd_out)
{
	struct addrinfo *res;
	int fd, rc;

	if (fd_out == NULL || addr == NULL || addr[0] == '\0')
		return -EINVAL;
	if ((rc = resolve(addr, port, false, &res)) != 0)
		return rc;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if (connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		socklen_t len = sizeof(rc);
		int n;

		if (errno != EINPROGRESS) {
			rc = -errno;
			goto fail;
		}
		do
			n = poll(&p, 1, timeout_ms > 0 ? (int)timeout_ms : -1);
		while (n < 0 && errno == EINTR);  /* a signal restarts the wait: bounded by callers' rarity */
		if (n == 0) {
			rc = -ETIMEDOUT;
			goto fail;
		}
		if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &rc, &len) != 0) {
			rc = -errno;
			goto fail;
		}
		if (rc != 0) {
			rc = -rc;
			goto fail;
		}
	}
	if ((rc = set_nonblock(fd, false)) != 0)
		goto fail;
	*fd_out = fd;
	rc = 0;
	goto out;
fail:
	close(fd);
out:
	freeaddrinfo(res);
	return rc;
}

/* TCP tuning; every call fails harmlessly on a socket that is not TCP. */
static void tune_tcp(int fd)
{
	int one = 1, idle = 10, intvl = 3, cnt = 5;
	unsigned int user_timeout = 30000;

	/* No SO_SNDBUF/SO_RCVBUF: fixing them turns off the kernel's
	 * autotuning, which measured 2.3 times slower (bench/xport.sh). */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* A peer host that vanishes must break the stream, not hang it. */
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout,
			 sizeof(user_timeout));
}

/* On an error, reset rather than close politely, so the peer's relay
 * reads an error at once and cannot mistake the end for a clean one. */
static void close_hard(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* ---- TLS ---- */

static int psk_server_cb(gnutls_session_t session, const char *username,
			 gnutls_datum_t *key)
{
	struct xport_stream *s = gnutls_session_get_ptr(session);

	if (strcmp(username, s->identity) != 0) {
		s->bad_identity = true;
		snprintf(s->peer_identity, sizeof(s->peer_identity), "%s", username);
		return -1;
	}
	s->identity_ok = true;
	key->data = gnutls_malloc(s->key.size);
	if (key->data == NULL)
		return -1;
	memcpy(key->data, s->key.data, s->key.size);
	key->size = s->key.size;
	return 0;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static short want_events(gnutls_session_t tls)
{
	return gnutls_record_get_direction(tls) ? POLLOUT : POLLIN;
}

/* Words and -errno for a failed handshake. */
static int handshake_error(struct xport_stream *s, bool server, int r,
			   char *err, size_t errlen)
{
	const char *side = server ? "server" : "client";

	if (server && s->bad_identity) {
		put_err(err, errlen, "tls handshake (%s): the peer is not of our "
			"cluster (psk identity \"%s\", ours \"%s\"); refused", side,
			s->peer_identity, s->identity);
		return -EACCES;
	}
	/* TLS 1.3: the server finds a wrong key when the client's PSK
	 * binder does not verify; GnuTLS reports that as an illegal
	 * parameter. */
	if (server && s->identity_ok && r == GNUTLS_E_RECEIVED_ILLEGAL_PARAMETER) {
		put_err(err, errlen, "tls handshake (server): the peer does not "
			"hold our cluster key (psk binder check failed); refused");
		return -EACCES;
	}
	switch (r) {
	case GNUTLS_E_FATAL_ALERT_RECEIVED: {
		gnutls_alert_description_t a = gnutls_alert_get(s->tls);
		const char *name = gnutls_alert_get_name(a);

		if (a == GNUTLS_A_UNKNOWN_PSK_IDENTITY) {
			put_err(err, errlen, "tls handshake (%s): the peer refused "
				"us (alert: %s): it is of another cluster", side,
				name ? name : "?");
			return -EACCES;
		}
		if (a == GNUTLS_A_DECRYPT_ERROR || a == GNUTLS_A_BAD_RECORD_MAC ||
		    a == GNUTLS_A_ILLEGAL_PARAMETER ||
		    a == GNUTLS_A_HANDSHAKE_FAILURE || a == GNUTLS_A_INSUFFICIENT_SECURITY) {
			put_err(err, errlen, "tls handshake (%s): the peer refused "
				"us (alert: %s): its cluster key differs from "
				"ours", side, name ? name : "?");
			return -EACCES;
		}
		put_err(err, errlen, "tls handshake (%s): the peer sent alert: %s",
			side, name ? name : "?");
		return -EPROTO;
	}
	case GNUTLS_E_DECRYPTION_FAILED:
	case GNUTLS_E_INSUFFICIENT_CREDENTIALS:
	case GNUTLS_E_KEY_USAGE_VIOLATION:
	case GNUTLS_E_AUTH_ERROR:
	case GNUTLS_E_ERROR_IN_FINISHED_PACKET:
	case GNUTLS_E_NO_COMMON_KEY_SHARE:
		put_err(err, errlen, "tls handshake (%s): the peer does not hold "
			"our cluster key (%s); refused", side, gnutls_strerror(r));
		return -EACCES;
	case GNUTLS_E_TIMEDOUT:
		put_err(err, errlen, "tls handshake (%s): timed out", side);
		return -ETIMEDOUT;
	case GNUTLS_E_PREMATURE_TERMINATION:
	case GNUTLS_E_PULL_ERROR:
	case GNUTLS_E_PUSH_ERROR:
	case GNUTLS_E_UNEXPECTED_PACKET_LENGTH:
		put_err(err, errlen, "tls handshake (%s): the peer closed the "
			"connection (%s)", side, gnutls_strerror(r));
		return -ECONNRESET;
	default:
		put_err(err, errlen, "tls handshake (%s): %s", side, gnutls_strerror(r));
		return -EPROTO;
	}
}

static int do_handshake(struct xport_stream *s, bool server, uint32_t timeout_ms,
			char *err, size_t errlen)
{
	int64_t deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : 3600000);
	int r;

	/* Bounded by the deadline: every pass either finishes or waits. */
	for (;;) {
		struct pollfd p = { .fd = s->tcp_fd };
		int64_t left;
		int n;

		r = gnutls_handshake(s->tls);
		if (r == 0)
			break;
		if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED &&
		    gnutls_error_is_fatal(r)) {
			/* Tell the peer why, so it fails at once with a
			 * reason rather than on a closed connection. */
			if (server && s->bad_identity)
				(void)gnutls_alert_send(s->tls, GNUTLS_AL_FATAL,
							GNUTLS_A_UNKNOWN_PSK_IDENTITY);
			else if (r != GNUTLS_E_FATAL_ALERT_RECEIVED)
				(void)gnutls_alert_send_appropriate(s->tls, r);
			return handshake_error(s, server, r, err, errlen);
		}
		left = deadline - mono_ms();
		if (left <= 0)
			return handshake_error(s, server, GNUTLS_E_TIMEDOUT, err, errlen);
		p.events = want_events(s->tls);
		n = poll(&p, 1, (int)left);
		if (n < 0 && errno != EINTR) {
			r = -errno;
			put_err(err, errlen, "tls handshake: poll: %s", strerror(errno));
			return r;
		}
	}
	/* The priority string already insists; check what we got anyway. */
	if (gnutls_protocol_get_version(s->tls) != GNUTLS_TLS1_3 ||
	    (gnutls_kx_get(s->tls) != GNUTLS_KX_ECDHE_PSK &&
	     gnutls_kx_get(s->tls) != GNUTLS_KX_DHE_PSK)) {
		put_err(err, errlen, "tls handshake: negotiated %s with %s; refused",
			gnutls_protocol_get_name(gnutls_protocol_get_version(s->tls)),
			gnutls_kx_get_name(gnutls_kx_get(s->tls)));
		return -EPROTO;
	}
	return 0;
}

/* ---- relay ---- */

static void relay_fail(struct xport_stream *s, int error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void relay_fail(struct xport_stream *s, int error, const char *fmt, ...)
{
	va_list ap;

	if (s->st.error != 0)
		return;
	s->st.error = error;
	va_start(ap, fmt);
	vsnprintf(s->st.why, sizeof(s->st.why), fmt, ap);
	va_end(ap);
}

static void relay_tls_fail(struct xport_stream *s, ssize_t r, const char *what)
{
	switch (r) {
	case GNUTLS_E_DECRYPTION_FAILED:
		relay_fail(s, -EBADMSG, "%s: a record failed its integrity check "
			   "(stream corrupted or tampered with)", what);
		break;
	case GNUTLS_E_PREMATURE_TERMINATION:
	case GNUTLS_E_PULL_ERROR:
	case GNUTLS_E_PUSH_ERROR:
	case GNUTLS_E_UNEXPECTED_PACKET_LENGTH:
		relay_fail(s, -ECONNRESET, "%s: the peer went away (%s)", what,
			   gnutls_strerror((int)r));
		break;
	default:
		relay_fail(s, -EPROTO, "%s: %s", what, gnutls_strerror((int)r));
		break;
	}
}

static bool again(ssize_t r)
{
	return r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED;
}

static void relay_loop(struct xport_stream *s)
{
	size_t olen = 0, ooff = 0, ilen = 0, ioff = 0, send_try = 0;
	bool plain_eof = false, bye_done = false, tls_eof = false, plain_shut = false;
	/* Whether a read may find something; cleared by EAGAIN, set by poll.
	 * Saves a failing system call per record in a one-way stream. */
	bool plain_rd = true, tcp_rd = true;

	/* Ends when both directions are closed, on an error or on abort.
	 * Each pass either moves something or sleeps in poll(). */
	for (;;) {
		struct pollfd p[3];
		bool progress = false;
		short tcp_ev = 0, plain_ev = 0;
		ssize_t n;

		/* plain -> TLS */
		if (!plain_eof && ooff == olen && !plain_rd) {
			plain_ev |= POLLIN;
		} else if (!plain_eof && ooff == olen) {
			n = read(s->relay_fd, s->obuf, XPORT_BUF);
			if (n > 0) {
				olen = (size_t)n;
				ooff = 0;
				progress = true;
			} else if (n == 0) {
				plain_eof = true;
				progress = true;
			} else if (errno == EAGAIN) {
				plain_rd = false;
				plain_ev |= POLLIN;
			} else if (errno != EINTR) {
				relay_fail(s, -errno, "read from the driver: %s", strerror(errno));
				return;
			}
		}
		if (ooff < olen) {
			size_t want = send_try != 0 ? send_try : olen - ooff;

			n = gnutls_record_send(s->tls, s->obuf + ooff, want);
			if (n > 0) {
				ooff += (size_t)n;
				/* xport_sent() reads it from other threads */
				__atomic_fetch_add(&s->st.sent, (uint64_t)n, __ATOMIC_RELAXED);
				send_try = 0;
				progress = true;
			} else if (again(n)) {
				send_try = want;
				tcp_ev |= want_events(s->tls);
			} else {
				relay_tls_fail(s, n, "send");
				return;
			}
		} else if (plain_eof && !bye_done) {
			int r = gnutls_bye(s->tls, GNUTLS_SHUT_WR);

			if (r == 0) {
				bye_done = true;
				progress = true;
			} else if (again(r)) {
				tcp_ev |= want_events(s->tls);
			} else {
				relay_tls_fail(s, r, "close");
				return;
			}
		}

		/* TLS -> plain: gather what has arrived (up to the buffer) so
		 * the driver is woken once per batch, not once per record. */
		if (!tls_eof && ioff == ilen) {
			short recv_ev = POLLIN;

			ilen = ioff = 0;
			while (!tls_eof && XPORT_BUF - ilen >= XPORT_RECORD &&
			       (tcp_rd || gnutls_record_check_pending(s->tls) > 0)) {
				n = gnutls_record_recv(s->tls, s->ibuf + ilen, XPORT_BUF - ilen);
				if (n > 0) {
					ilen += (size_t)n;
					progress = true;
				} else if (n == 0) {
					tls_eof = true;
					progress = true;
				} else if (again(n)) {
					tcp_rd = false;
					recv_ev = want_events(s->tls);
					break;
				} else {
					relay_tls_fail(s, n, "receive");
					return;
				}
			}
			if (!tls_eof && ilen == 0)
				tcp_ev |= recv_ev;
		}
		if (ioff < ilen) {
			n = send(s->relay_fd, s->ibuf + ioff, ilen - ioff, MSG_NOSIGNAL);
			if (n > 0) {
				ioff += (size_t)n;
				s->st.received += (uint64_t)n;
				progress = true;
			} else if (errno == EAGAIN) {
				plain_ev |= POLLOUT;
			} else if (errno != EINTR) {
				relay_fail(s, errno == EPIPE ? -EPIPE : -errno,
					   "write to the driver: %s (the driver closed "
					   "its end before the peer's data was delivered)",
					   strerror(errno));
				return;
			}
		} else if (tls_eof && !plain_shut) {
			/* close_notify seen: the peer sent everything. */
			if (shutdown(s->relay_fd, SHUT_WR) != 0 && errno != ENOTCONN) {
				relay_fail(s, -errno, "shutdown of the driver's end: %s",
					   strerror(errno));
				return;
			}
			plain_shut = true;
			progress = true;
		}

		if (bye_done && plain_shut)
			return;
		if (progress)
			continue;
		p[0] = (struct pollfd){ .fd = tcp_ev ? s->tcp_fd : -1, .events = tcp_ev };
		p[1] = (struct pollfd){ .fd = plain_ev ? s->relay_fd : -1, .events = plain_ev };
		p[2] = (struct pollfd){ .fd = s->wake_fd, .events = POLLIN };
		if (poll(p, 3, -1) < 0 && errno != EINTR) {
			relay_fail(s, -errno, "poll: %s", strerror(errno));
			return;
		}
		if (p[2].revents != 0) {
			relay_fail(s, -ECANCELED, "aborted");
			return;
		}
		if (p[0].revents != 0)
			tcp_rd = true;
		if (p[1].revents != 0)
			plain_rd = true;
		/* The driver hung up while we wait to read it: that is its
		 * EOF, seen by the read() above on the next pass; an error
		 * on the TCP side shows up in the next GnuTLS call. */
	}
}

static void *relay_main(void *arg)
{
	struct xport_stream *s = arg;

	relay_loop(s);
	if (s->st.error != 0) {
		close_hard(s->tcp_fd);
		close(s->relay_fd);   /* the driver reads EOF or ECONNRESET */
	} else {
		close(s->tcp_fd);
		close(s->relay_fd);
	}
	s->tcp_fd = -1;
	s->relay_fd = -1;
	return NULL;
}

static void stream_free(struct xport_stream *s)
{
	if (s == NULL)
		return;
	if (s->tls != NULL)
		gnutls_deinit(s->tls);
	if (s->ccred != NULL)
		gnutls_psk_free_client_credentials(s->ccred);
	if (s->scred != NULL)
		gnutls_psk_free_server_credentials(s->scred);
	if (s->key.data != NULL) {
		explicit_bzero(s->key.data, s->key.size);
		free(s->key.data);
	}
	if (s->tcp_fd >= 0)
		close(s->tcp_fd);
	if (s->relay_fd >= 0)
		close(s->relay_fd);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	free(s->obuf);
	free(s->ibuf);
	free(s);
}

static int setup_tls(struct xport_stream *s, bool server, uint32_t timeout_ms,
		     char *err, size_t errlen)
{
	const char *errpos = NULL;
	int r;

	r = gnutls_init(&s->tls, (server ? GNUTLS_SERVER : GNUTLS_CLIENT) |
			GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL);
	if (r < 0)
		goto tls_err;
	r = gnutls_priority_set_direct(s->tls, XPORT_PRIORITY, &errpos);
	if (r < 0)
		goto tls_err;
	if (server) {
		r = gnutls_psk_allocate_server_credentials(&s->scred);
		if (r < 0)
			goto tls_err;
		gnutls_psk_set_server_credentials_function(s->scred, psk_server_cb);
		r = gnutls_credentials_set(s->tls, GNUTLS_CRD_PSK, s->scred);
	} else {
		r = gnutls_psk_allocate_client_credentials(&s->ccred);
		if (r < 0)
			goto tls_err;
		r = gnutls_psk_set_client_credentials(s->ccred, s->identity, &s->key,
						      GNUTLS_PSK_KEY_RAW);
		if (r < 0)
			goto tls_err;
		r = gnutls_credentials_set(s->tls, GNUTLS_CRD_PSK, s->ccred);
	}
	if (r < 0)
		goto tls_err;
	gnutls_session_set_ptr(s->tls, s);
	gnutls_transport_set_int(s->tls, s->tcp_fd);
	gnutls_handshake_set_timeout(s->tls, timeout_ms > 0 ? timeout_ms :
				     GNUTLS_INDEFINITE_TIMEOUT);
	return 0;
tls_err:
	put_err(err, errlen, "tls setup: %s%s%s", gnutls_strerror(r),
		errpos ? " at " : "", errpos ? errpos : "");
	return r == GNUTLS_E_MEMORY_ERROR ? -ENOMEM : -EPROTO;
}

int xport_start(int tcp_fd, bool server, const struct xport_key *k,
		const char *cluster_name, uint32_t handshake_timeout_ms,
		struct xport_stream **out, int *plain_fd, char *err, size_t errlen)
{
	struct xport_stream *s;
	sigset_t all, old;
	int sp[2], rc, buf = XPORT_SOCKBUF;

	if (tcp_fd < 0 || k == NULL || cluster_name == NULL || out == NULL ||
	    plain_fd == NULL) {
		put_err(err, errlen, "xport_start: bad arguments");
		if (tcp_fd >= 0)
			close(tcp_fd);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		close(tcp_fd);
		put_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->tcp_fd = tcp_fd;
	s->relay_fd = -1;
	s->wake_fd = -1;
	if ((size_t)snprintf(s->identity, sizeof(s->identity), "%s%s",
			     XPORT_IDENT_PREFIX, cluster_name) >= sizeof(s->identity)) {
		put_err(err, errlen, "cluster name too long");
		rc = -EINVAL;
		goto fail;
	}
	s->key.data = malloc(k->len);
	s->obuf = malloc(XPORT_BUF);
	s->ibuf = malloc(XPORT_BUF);
	if (s->key.data == NULL || s->obuf == NULL || s->ibuf == NULL) {
		put_err(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	memcpy(s->key.data, k->bytes, k->len);
	s->key.size = (unsigned int)k->len;

	tune_tcp(tcp_fd);
	if ((rc = set_nonblock(tcp_fd, true)) != 0) {
		put_err(err, errlen, "fcntl: %s", strerror(-rc));
		goto fail;
	}
	if ((rc = setup_tls(s, server, handshake_timeout_ms, err, errlen)) != 0)
		goto fail;
	if ((rc = do_handshake(s, server, handshake_timeout_ms, err, errlen)) != 0)
		goto fail;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) {
		rc = -errno;
		put_err(err, errlen, "socketpair: %s", strerror(errno));
		goto fail;
	}
	s->relay_fd = sp[1];
	for (int i = 0; i < 2; i++) {
		(void)setsockopt(sp[i], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
		(void)setsockopt(sp[i], SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	}
	if ((rc = set_nonblock(s->relay_fd, true)) != 0) {
		put_err(err, errlen, "fcntl: %s", strerror(-rc));
		close(sp[0]);
		goto fail;
	}
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_fd < 0) {
		rc = -errno;
		put_err(err, errlen, "eventfd: %s", strerror(errno));
		close(sp[0]);
		goto fail;
	}
	/* Signals are the caller's business, not the relay's. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&s->thread, NULL, relay_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		put_err(err, errlen, "pthread_create: %s", strerror(-rc));
		close(sp[0]);
		goto fail;
	}
	s->thread_started = true;
	*out = s;
	*plain_fd = sp[0];
	return 0;
fail:
	if (s->tcp_fd >= 0) {
		close_hard(s->tcp_fd);
		s->tcp_fd = -1;
	}
	stream_free(s);
	return rc;
}

void xport_abort(struct xport_stream *s)
{
	uint64_t one = 1;

	if (s != NULL && s->wake_fd >= 0)
		(void)!write(s->wake_fd, &one, sizeof(one));
}

uint64_t xport_sent(const struct xport_stream *s)
{
	return s != NULL ? __atomic_load_n(&s->st.sent, __ATOMIC_RELAXED) : 0;
}

int xport_finish(struct xport_stream *s, struct xport_stats *st)
{
	int rc;

	if (s == NULL)
		return -EINVAL;
	if (s->thread_started)
		pthread_join(s->thread, NULL);
	rc = s->st.error;
	if (st != NULL)
		*st = s->st;
	stream_free(s);
	return rc;
}
