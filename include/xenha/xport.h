/*
 * xport: the migration transport between xenhads.
 *
 * A migration stream is a TCP connection between two xenhads, mutually
 * authenticated by the cluster key file (like corosync's authkey) and
 * encrypted by TLS 1.3 with that key as an external pre-shared key
 * (GnuTLS; PSK with (EC)DHE only, so a stolen key does not decrypt
 * recorded streams).  A peer without the key, or with another key, or
 * from another cluster, is refused on both sides.
 *
 * The hypervisor driver never sees TLS: xport_start() hands it one end of
 * an AF_UNIX stream socketpair (the "plain fd"), and a relay thread moves
 * bytes between the other end and the TLS session in both directions:
 *
 *   - driver shutdown(plain_fd, SHUT_WR)  ->  TLS close_notify to the
 *     peer  ->  the peer's plain fd reads EOF (after all the data);
 *   - any error (peer died, connection reset, a record that fails its
 *     integrity check, xport_abort()) closes the relay's ends of both
 *     sockets: the driver then sees EOF, EPIPE or ECONNRESET on its plain
 *     fd ("stream broke") and must treat an EOF it did not expect in its
 *     own protocol as a broken stream.
 *
 * The driver should write with send(..., MSG_NOSIGNAL) or ignore SIGPIPE.
 * All functions return 0 or -errno; outputs through pointers.  The
 * functions are thread-safe in the sense that distinct streams share
 * nothing; one stream's handle is used by one thread.
 */
#ifndef XENHA_XPORT_H
#define XENHA_XPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The key file: raw random bytes (hactl keygen writes 64). */
#define XPORT_KEY_MIN 32
#define XPORT_KEY_MAX 4096

struct xport_key;
struct xport_stream;

struct xport_stats {
	uint64_t sent;        /* plain bytes the driver wrote that went to the peer */
	uint64_t received;    /* plain bytes from the peer handed to the driver */
	int error;            /* 0: both directions closed cleanly; else -errno */
	char why[160];        /* the error in words ("" when error == 0) */
};

/*
 * Load the cluster key from path.  Refused: a file that is not a regular
 * file, that is readable or writable by group or others (-EACCES, "chmod
 * 0400"), or whose size is outside XPORT_KEY_MIN..XPORT_KEY_MAX (-EINVAL).
 * On error *out is untouched and err (if errlen > 0) holds a one-line
 * message naming the file.  The key is freed (and wiped) by
 * xport_key_free(), which accepts NULL.
 */
int xport_key_load(const char *path, struct xport_key **out, char *err, size_t errlen);
void xport_key_free(struct xport_key *k);

/*
 * A listening TCP socket on addr (numeric IPv4 or IPv6; NULL or "" for
 * any) and port: SO_REUSEADDR, close-on-exec, blocking.  Accept with
 * accept4(); hand the connection to xport_start(server = true).
 */
int xport_listen(const char *addr, uint16_t port, int *lfd);

/*
 * Connect to addr:port (numeric) within timeout_ms (0: the kernel's).
 * *fd is a blocking, close-on-exec TCP socket.  -ETIMEDOUT on timeout.
 */
int xport_connect(const char *addr, uint16_t port, uint32_t timeout_ms, int *fd);

/*
 * Authenticate and start the relay on the connected stream socket tcp_fd
 * (TCP, or any stream socket such as one end of a socketpair; TCP gets
 * TCP_NODELAY and keepalives).  server says which side of the TLS
 * handshake we are; both sides use the same key k and cluster_name (the
 * PSK identity is "xenha:<cluster_name>").  The handshake must complete
 * within handshake_timeout_ms (-ETIMEDOUT).  Errors: -EACCES the peer's
 * key or cluster name differs (err says which side noticed), -ETIMEDOUT,
 * -ECONNRESET the peer went away, -EPROTO any other TLS failure, -ENOMEM,
 * -EINVAL bad arguments.
 *
 * Ownership: tcp_fd passes to the stream in every case (closed on error,
 * and by the relay when it ends).  k is only read during the call and
 * may be freed after it returns.  On success *out is the stream and
 * *plain_fd the driver's end of the socketpair (close-on-exec, blocking;
 * the caller closes it when done).  err holds a one-line message on
 * error.
 */
int xport_start(int tcp_fd, bool server, const struct xport_key *k,
		const char *cluster_name, uint32_t handshake_timeout_ms,
		struct xport_stream **out, int *plain_fd, char *err, size_t errlen);

/*
 * Break the stream now (from any thread; idempotent): the relay stops
 * and closes its ends, so the driver and the peer see a broken stream.
 * The handle stays valid until xport_finish().
 */
void xport_abort(struct xport_stream *s);

/*
 * Plain bytes sent to the peer so far (what xport_stats.sent will say);
 * any thread may ask while the stream runs.  0 for NULL.
 */
uint64_t xport_sent(const struct xport_stream *s);

/*
 * Wait for the relay to end (both directions closed, or an error), fill
 * *st (may be NULL), and free the stream.  Returns st->error: 0 or
 * -errno (-ECONNRESET peer went away or the connection broke, -EBADMSG a
 * record failed its integrity check, -ECANCELED xport_abort(), -EPIPE the
 * driver closed its plain fd before the peer's data was all delivered,
 * -EPROTO other TLS errors).  Does not close the driver's plain fd.
 */
int xport_finish(struct xport_stream *s, struct xport_stats *st);

#endif
