/*
 * xenha wire codec (see include/xenha/wire.h for the contract and
 * docs/wire-format.md for the byte tables).  Pure: no I/O, no clock, no
 * logging, no globals.
 *
 * Every integer goes through put_uN/get_uN, byte by byte, little-endian:
 * the in-memory structs are never the format.  Writers and readers carry
 * a sticky error so a sequence of fields reads like the format table and
 * a single check at the end catches a short or failed field anywhere.
 *
 * The encoding is canonical: for every frame a decoder accepts, encoding
 * the decoded value gives back the same bytes.  That is why the decoders
 * insist on 0/1 for booleans, known enum values, known mask bits, no
 * bytes after the last field, and why encoders refuse what decoders
 * would refuse (so a node can never send something its peers drop).
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "xenha/wire.h"

/* Length of an absent optional text (a NULL xl.cfg). */
#define WIRE_TEXT_ABSENT UINT32_MAX

/* Known XH_CMD_DOMAIN_SET mask bits: a new field needs a new version. */
#define WIRE_DSET_KNOWN ((uint32_t)((XH_DSET_GROUP << 1) - 1))

/*
 * Smallest encodings, used to refuse counts the remaining payload cannot
 * possibly hold before allocating for them (a corrupt count must not turn
 * into a large allocation).
 */
#define WIRE_DOMAIN_MIN_BYTES (2 + 4 + 4 + 4 + 1 + 1 + 4 + 4 + 1 + 1 + 2 + \
			       1 + 4 + 4 + 8 + 4 + 4 + 8 + 2)
#define WIRE_EVENT_MIN_BYTES (8 + 8 + 1 + 4 + 2 + 2)

/* ---- growable buffer ---- */

void wire_buf_init(struct wire_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void wire_buf_free(struct wire_buf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	wire_buf_init(b);
}

static int buf_reserve(struct wire_buf *b, size_t more)
{
	size_t need, cap;
	uint8_t *p;

	if (more > SIZE_MAX - b->len)
		return -ENOMEM;
	need = b->len + more;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (p == NULL)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

/* ---- little-endian helpers on raw bytes ---- */

static void le16_put(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void le32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void le64_put(uint8_t *p, uint64_t v)
{
	le32_put(p, (uint32_t)v);
	le32_put(p + 4, (uint32_t)(v >> 32));
}

static uint16_t le16_get(const uint8_t *p)
{
	return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

static uint32_t le32_get(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t le64_get(const uint8_t *p)
{
	return (uint64_t)le32_get(p) | (uint64_t)le32_get(p + 4) << 32;
}

/* ---- crc ---- */

uint32_t wire_crc32(const uint8_t *p, size_t len)
{
	uLong crc = crc32(0L, Z_NULL, 0);

	/* zlib takes a uInt length: feed very large inputs in pieces */
	while (len > 0) {
		uInt n = len > UINT_MAX ? UINT_MAX : (uInt)len;

		crc = crc32(crc, p, n);
		p += n;
		len -= n;
	}
	return (uint32_t)crc;
}

/* crc of a frame: header bytes [0,12) then the payload. */
static uint32_t frame_crc(const uint8_t *frame, size_t payload_len)
{
	uLong crc = crc32(0L, Z_NULL, 0);

	crc = crc32(crc, frame, 12);
	/* payload_len <= WIRE_MAX_PAYLOAD, which fits a uInt */
	crc = crc32(crc, frame + WIRE_HDR_LEN, (uInt)payload_len);
	return (uint32_t)crc;
}

/* ---- writer ---- */

struct wr {
	struct wire_buf *b;
	size_t start;       /* offset of this frame in b */
	int err;            /* first error, sticky */
};

static void wr_fail(struct wr *w, int err)
{
	if (w->err == 0)
		w->err = err;
}

static void put_bytes(struct wr *w, const void *p, size_t n)
{
	int rc;

	if (w->err)
		return;
	/* stop early rather than build a frame no peer would accept */
	if (w->b->len - w->start + n > WIRE_HDR_LEN + (size_t)WIRE_MAX_PAYLOAD) {
		wr_fail(w, -EINVAL);
		return;
	}
	rc = buf_reserve(w->b, n);
	if (rc < 0) {
		wr_fail(w, rc);
		return;
	}
	if (n > 0)
		memcpy(w->b->data + w->b->len, p, n);
	w->b->len += n;
}

static void put_u8(struct wr *w, uint8_t v)
{
	put_bytes(w, &v, 1);
}

static void put_u16(struct wr *w, uint16_t v)
{
	uint8_t b[2];

	le16_put(b, v);
	put_bytes(w, b, sizeof(b));
}

static void put_u32(struct wr *w, uint32_t v)
{
	uint8_t b[4];

	le32_put(b, v);
	put_bytes(w, b, sizeof(b));
}

static void put_u64(struct wr *w, uint64_t v)
{
	uint8_t b[8];

	le64_put(b, v);
	put_bytes(w, b, sizeof(b));
}

static void put_i32(struct wr *w, int32_t v)
{
	put_u32(w, (uint32_t)v);
}

/* A field that must be <= max (enums, booleans, counts). */
static void put_u8_max(struct wr *w, uint8_t v, uint8_t max)
{
	if (v > max)
		wr_fail(w, -EINVAL);
	put_u8(w, v);
}

static void put_bool(struct wr *w, bool v)
{
	put_u8(w, v ? 1 : 0);
}

/* A string from a fixed field of size fieldlen: it must leave room for its
 * NUL (length <= fieldlen - 1). */
static void put_str(struct wr *w, const char *s, size_t fieldlen)
{
	size_t n = strnlen(s, fieldlen);

	if (n >= fieldlen) {
		wr_fail(w, -EINVAL);
		return;
	}
	put_u16(w, (uint16_t)n);
	put_bytes(w, s, n);
}

/* Optional text (xl.cfg): u32 length or WIRE_TEXT_ABSENT for NULL. */
static void put_text(struct wr *w, const char *s, size_t max)
{
	size_t n;

	if (s == NULL) {
		put_u32(w, WIRE_TEXT_ABSENT);
		return;
	}
	n = strnlen(s, max + 1);
	if (n > max) {
		wr_fail(w, -EINVAL);
		return;
	}
	put_u32(w, (uint32_t)n);
	put_bytes(w, s, n);
}

static void frame_open(struct wr *w, struct wire_buf *out, uint16_t type,
		       uint16_t version)
{
	w->b = out;
	w->start = out->len;
	w->err = 0;
	put_bytes(w, WIRE_MAGIC, 4);
	put_u16(w, version);
	put_u16(w, type);
	put_u32(w, 0);      /* payload length, filled by frame_close */
	put_u32(w, 0);      /* crc, filled by frame_close */
}

/* Finish the frame, or on error take it back out of the buffer. */
static int frame_close(struct wr *w)
{
	uint8_t *h;
	size_t plen;

	if (w->err) {
		w->b->len = w->start;
		return w->err;
	}
	h = w->b->data + w->start;
	plen = w->b->len - w->start - WIRE_HDR_LEN;
	le32_put(h + 8, (uint32_t)plen);
	le32_put(h + 12, frame_crc(h, plen));
	return 0;
}

/* ---- reader ---- */

struct rd {
	uint16_t ver;       /* frame version */
	const uint8_t *p;   /* payload */
	size_t len, off;
	int err;            /* first error, sticky */
};

static void rd_fail(struct rd *r)
{
	if (r->err == 0)
		r->err = -EBADMSG;
}

static size_t rd_left(const struct rd *r)
{
	return r->len - r->off;
}

/* n bytes, or NULL (and the reader failed) if fewer remain. */
static const uint8_t *get_bytes(struct rd *r, size_t n)
{
	const uint8_t *q;

	if (r->err)
		return NULL;
	if (n > rd_left(r)) {
		rd_fail(r);
		return NULL;
	}
	q = r->p + r->off;
	r->off += n;
	return q;
}

static uint8_t get_u8(struct rd *r)
{
	const uint8_t *q = get_bytes(r, 1);

	return q ? q[0] : 0;
}

static uint16_t get_u16(struct rd *r)
{
	const uint8_t *q = get_bytes(r, 2);

	return q ? le16_get(q) : 0;
}

static uint32_t get_u32(struct rd *r)
{
	const uint8_t *q = get_bytes(r, 4);

	return q ? le32_get(q) : 0;
}

static uint64_t get_u64(struct rd *r)
{
	const uint8_t *q = get_bytes(r, 8);

	return q ? le64_get(q) : 0;
}

static int32_t get_i32(struct rd *r)
{
	uint32_t v = get_u32(r);

	/* two's complement back from the unsigned wire value without
	 * relying on implementation-defined conversion */
	return v <= INT32_MAX ? (int32_t)v : -(int32_t)(UINT32_MAX - v) - 1;
}

static uint8_t get_u8_max(struct rd *r, uint8_t max)
{
	uint8_t v = get_u8(r);

	if (v > max)
		rd_fail(r);
	return v;
}

static bool get_bool(struct rd *r)
{
	return get_u8_max(r, 1) == 1;
}

/* String into a fixed field of size fieldlen, NUL-padded. */
static void get_str(struct rd *r, char *dst, size_t fieldlen)
{
	uint16_t n = get_u16(r);
	const uint8_t *q;

	memset(dst, 0, fieldlen);
	if (n >= fieldlen) {
		rd_fail(r);
		return;
	}
	q = get_bytes(r, n);
	if (q == NULL)
		return;
	if (memchr(q, '\0', n) != NULL) {
		rd_fail(r);
		return;
	}
	memcpy(dst, q, n);
}

/* Optional text: *out is NULL (absent) or a malloc'd NUL-terminated copy. */
static void get_text(struct rd *r, char **out, size_t max)
{
	uint32_t n = get_u32(r);
	const uint8_t *q;
	char *t;

	*out = NULL;
	if (r->err || n == WIRE_TEXT_ABSENT)
		return;
	if (n > max) {
		rd_fail(r);
		return;
	}
	q = get_bytes(r, n);
	if (q == NULL)
		return;
	if (memchr(q, '\0', n) != NULL) {
		rd_fail(r);
		return;
	}
	t = malloc((size_t)n + 1);
	if (t == NULL) {
		if (r->err == 0)
			r->err = -ENOMEM;
		return;
	}
	memcpy(t, q, n);
	t[n] = '\0';
	*out = t;
}

/* ---- frame header ---- */

static bool type_known(uint16_t type)
{
	return type >= WIRE_CMD && type <= WIRE_MIG_PROGRESS;
}

int wire_peek(const uint8_t *p, size_t len, uint16_t *type, size_t *total)
{
	uint16_t t;
	uint32_t plen;

	if (p == NULL || len < WIRE_HDR_LEN)
		return -EMSGSIZE;
	if (memcmp(p, WIRE_MAGIC, 4) != 0)
		return -EBADMSG;
	if (le16_get(p + 4) < WIRE_VERSION_MIN || le16_get(p + 4) > WIRE_VERSION)
		return -EPROTO;
	t = le16_get(p + 6);
	if (!type_known(t))
		return -EBADMSG;
	plen = le32_get(p + 8);
	if (plen > WIRE_MAX_PAYLOAD)
		return -EBADMSG;
	if (type != NULL)
		*type = t;
	if (total != NULL)
		*total = WIRE_HDR_LEN + (size_t)plen;
	return 0;
}

/* Check a whole frame of the expected type; set up a reader on its payload. */
static int frame_read(const uint8_t *p, size_t len, uint16_t want, struct rd *r)
{
	uint16_t type;
	size_t total;
	int rc;

	if (p == NULL || len < WIRE_HDR_LEN)
		return -EBADMSG;
	rc = wire_peek(p, len, &type, &total);
	if (rc < 0)
		return rc;
	if (type != want || total != len)
		return -EBADMSG;
	if (le32_get(p + 12) != frame_crc(p, len - WIRE_HDR_LEN))
		return -EILSEQ;
	r->ver = le16_get(p + 4);
	r->p = p + WIRE_HDR_LEN;
	r->len = len - WIRE_HDR_LEN;
	r->off = 0;
	r->err = 0;
	return 0;
}

/* The payload must be used up exactly. */
static int rd_finish(struct rd *r)
{
	if (r->err == 0 && r->off != r->len)
		rd_fail(r);
	return r->err;
}

/* ---- commands ---- */

static void put_def(struct wr *w, const struct xh_domain_def *d, uint32_t mask)
{
	uint8_t i;

	put_str(w, d->name, sizeof(d->name));
	put_text(w, d->xlcfg, XH_XLCFG_MAX);
	put_u32(w, d->memory_mb);
	put_i32(w, d->priority);
	put_u8_max(w, d->restart, XH_RESTART_NEVER);
	put_u32(w, d->max_restarts);
	put_u32(w, d->max_relocations);
	put_u8_max(w, d->n_preferred, XH_MAX_PREF);
	for (i = 0; i < d->n_preferred && i < XH_MAX_PREF; i++)
		put_str(w, d->preferred[i], XH_NAME_MAX);
	put_u8_max(w, d->n_avoided, XH_MAX_PREF);
	for (i = 0; i < d->n_avoided && i < XH_MAX_PREF; i++)
		put_str(w, d->avoided[i], XH_NAME_MAX);
	put_str(w, d->group, sizeof(d->group));
	put_u8_max(w, d->start, 1);
	if (mask & ~WIRE_DSET_KNOWN)
		wr_fail(w, -EINVAL);
	put_u32(w, mask);
}

/* xlcfg is returned separately: the def holds a const pointer. */
static void get_def(struct rd *r, struct xh_domain_def *d, uint32_t *mask,
		    char **xlcfg)
{
	uint8_t i;

	get_str(r, d->name, sizeof(d->name));
	get_text(r, xlcfg, XH_XLCFG_MAX);
	d->xlcfg = *xlcfg;
	d->memory_mb = get_u32(r);
	d->priority = get_i32(r);
	d->restart = get_u8_max(r, XH_RESTART_NEVER);
	d->max_restarts = get_u32(r);
	d->max_relocations = get_u32(r);
	d->n_preferred = get_u8_max(r, XH_MAX_PREF);
	for (i = 0; !r->err && i < d->n_preferred; i++)
		get_str(r, d->preferred[i], XH_NAME_MAX);
	d->n_avoided = get_u8_max(r, XH_MAX_PREF);
	for (i = 0; !r->err && i < d->n_avoided; i++)
		get_str(r, d->avoided[i], XH_NAME_MAX);
	get_str(r, d->group, sizeof(d->group));
	d->start = get_u8_max(r, 1);
	*mask = get_u32(r);
	if (*mask & ~WIRE_DSET_KNOWN)
		rd_fail(r);
}

/*
 * Which union member a command type uses (state.h): one table shared by
 * the encoder and the decoder so they cannot disagree.
 */
enum cmd_body {
	BODY_NONE = 0,      /* unknown type */
	BODY_HELLO,
	BODY_MEMBERS,
	BODY_DOM,
	BODY_NAME,
	BODY_PLACE,
	BODY_FENCE,
	BODY_FLAGS,
	BODY_MIG,           /* version 2 */
	BODY_DISARM,        /* version 2 */
};

static enum cmd_body cmd_body(uint8_t type)
{
	switch (type) {
	case XH_CMD_HELLO:
		return BODY_HELLO;
	case XH_CMD_MEMBERSHIP:
		return BODY_MEMBERS;
	case XH_CMD_DOMAIN_ADD:
	case XH_CMD_DOMAIN_SET:
		return BODY_DOM;
	case XH_CMD_DOMAIN_REMOVE:
	case XH_CMD_DOMAIN_START:
	case XH_CMD_DOMAIN_STOP:
		return BODY_NAME;
	case XH_CMD_PLACE:
	case XH_CMD_STOP:
	case XH_CMD_STARTED:
	case XH_CMD_START_FAILED:
	case XH_CMD_STOPPED:
	case XH_CMD_EXITED:
		return BODY_PLACE;
	case XH_CMD_FENCE_CONFIRM:
	case XH_CMD_FENCE_BEGIN:
		return BODY_FENCE;
	case XH_CMD_HOST_FLAGS:
		return BODY_FLAGS;
	case XH_CMD_MIGRATE_BEGIN:
	case XH_CMD_MIGRATE_DONE:
	case XH_CMD_MIGRATE_ABORTED:
		return BODY_MIG;
	case XH_CMD_DISARM:
		return BODY_DISARM;
	default:
		return BODY_NONE;
	}
}

/* The lowest frame version that carries a command body. */
static uint16_t body_version(enum cmd_body b)
{
	return b == BODY_MIG || b == BODY_DISARM ? 2 : 1;
}

int wire_encode_cmd(struct wire_buf *out, const struct wire_cmd *c)
{
	const struct xh_cmd *m = &c->cmd;
	struct wr w;
	uint32_t i;

	frame_open(&w, out, WIRE_CMD, body_version(cmd_body(m->type)));
	put_u64(&w, c->req_id);
	put_u8(&w, m->type);
	put_u32(&w, m->sender);
	put_u64(&w, m->time_ms);
	switch (cmd_body(m->type)) {
	case BODY_HELLO:
		put_u32(&w, m->u.hello.nodeid);
		put_str(&w, m->u.hello.name, sizeof(m->u.hello.name));
		put_u64(&w, m->u.hello.mem_total_mb);
		put_u32(&w, m->u.hello.mem_reserved_mb);
		put_u32(&w, m->u.hello.dom_overhead_mb);
		put_u32(&w, m->u.hello.expected_votes);
		break;
	case BODY_MEMBERS:
		if (m->u.members.n > XH_MAX_HOSTS) {
			wr_fail(&w, -EINVAL);
			break;
		}
		put_u32(&w, m->u.members.n);
		for (i = 0; i < m->u.members.n; i++)
			put_u32(&w, m->u.members.nodeids[i]);
		break;
	case BODY_DOM:
		put_def(&w, &m->u.dom.def, m->u.dom.mask);
		break;
	case BODY_NAME:
		put_str(&w, m->u.name.name, sizeof(m->u.name.name));
		break;
	case BODY_PLACE:
		put_str(&w, m->u.place.name, sizeof(m->u.place.name));
		put_u32(&w, m->u.place.nodeid);
		put_u64(&w, m->u.place.generation);
		put_u8_max(&w, m->u.place.crashed, 1);
		put_str(&w, m->u.place.reason, sizeof(m->u.place.reason));
		break;
	case BODY_FENCE:
		put_u32(&w, m->u.fence.nodeid);
		put_str(&w, m->u.fence.by, sizeof(m->u.fence.by));
		break;
	case BODY_FLAGS:
		put_u32(&w, m->u.flags.nodeid);
		put_u8_max(&w, m->u.flags.standby, 1);
		put_u8_max(&w, m->u.flags.maintenance, 1);
		break;
	case BODY_MIG:
		put_str(&w, m->u.mig.name, sizeof(m->u.mig.name));
		put_u32(&w, m->u.mig.source);
		put_u32(&w, m->u.mig.target);
		put_u64(&w, m->u.mig.generation);
		put_u64(&w, m->u.mig.mig_id);
		put_u32(&w, m->u.mig.downtime_ms);
		put_str(&w, m->u.mig.reason, sizeof(m->u.mig.reason));
		break;
	case BODY_DISARM:
		put_u64(&w, m->u.disarm.until_ms);
		break;
	case BODY_NONE:
		wr_fail(&w, -EINVAL);
		break;
	}
	return frame_close(&w);
}

void wire_cmd_free(struct wire_cmd *c)
{
	if (c == NULL)
		return;
	if (cmd_body(c->cmd.type) == BODY_DOM)
		free((char *)c->cmd.u.dom.def.xlcfg);
	memset(c, 0, sizeof(*c));
}

int wire_decode_cmd(const uint8_t *p, size_t len, struct wire_cmd *c)
{
	struct xh_cmd *m = &c->cmd;
	char *xlcfg = NULL;
	struct rd r;
	uint32_t i;
	int rc;

	memset(c, 0, sizeof(*c));
	rc = frame_read(p, len, WIRE_CMD, &r);
	if (rc < 0)
		return rc;
	c->req_id = get_u64(&r);
	m->type = get_u8(&r);
	m->sender = get_u32(&r);
	m->time_ms = get_u64(&r);
	/* a version-1 frame never carries a version-2 command, and a
	 * version-2 frame never an old one (canonical encoding) */
	if (!r.err && cmd_body(m->type) != BODY_NONE &&
	    body_version(cmd_body(m->type)) != r.ver)
		rd_fail(&r);
	switch (r.err ? BODY_NONE : cmd_body(m->type)) {
	case BODY_HELLO:
		m->u.hello.nodeid = get_u32(&r);
		get_str(&r, m->u.hello.name, sizeof(m->u.hello.name));
		m->u.hello.mem_total_mb = get_u64(&r);
		m->u.hello.mem_reserved_mb = get_u32(&r);
		m->u.hello.dom_overhead_mb = get_u32(&r);
		m->u.hello.expected_votes = get_u32(&r);
		break;
	case BODY_MEMBERS:
		m->u.members.n = get_u32(&r);
		if (m->u.members.n > XH_MAX_HOSTS) {
			rd_fail(&r);
			break;
		}
		for (i = 0; !r.err && i < m->u.members.n; i++)
			m->u.members.nodeids[i] = get_u32(&r);
		break;
	case BODY_DOM:
		get_def(&r, &m->u.dom.def, &m->u.dom.mask, &xlcfg);
		break;
	case BODY_NAME:
		get_str(&r, m->u.name.name, sizeof(m->u.name.name));
		break;
	case BODY_PLACE:
		get_str(&r, m->u.place.name, sizeof(m->u.place.name));
		m->u.place.nodeid = get_u32(&r);
		m->u.place.generation = get_u64(&r);
		m->u.place.crashed = get_u8_max(&r, 1);
		get_str(&r, m->u.place.reason, sizeof(m->u.place.reason));
		break;
	case BODY_FENCE:
		m->u.fence.nodeid = get_u32(&r);
		get_str(&r, m->u.fence.by, sizeof(m->u.fence.by));
		break;
	case BODY_FLAGS:
		m->u.flags.nodeid = get_u32(&r);
		m->u.flags.standby = get_u8_max(&r, 1);
		m->u.flags.maintenance = get_u8_max(&r, 1);
		break;
	case BODY_MIG:
		get_str(&r, m->u.mig.name, sizeof(m->u.mig.name));
		m->u.mig.source = get_u32(&r);
		m->u.mig.target = get_u32(&r);
		m->u.mig.generation = get_u64(&r);
		m->u.mig.mig_id = get_u64(&r);
		m->u.mig.downtime_ms = get_u32(&r);
		get_str(&r, m->u.mig.reason, sizeof(m->u.mig.reason));
		break;
	case BODY_DISARM:
		m->u.disarm.until_ms = get_u64(&r);
		break;
	case BODY_NONE:
		/* unknown command type (or a short fixed part) */
		rd_fail(&r);
		break;
	}
	rc = rd_finish(&r);
	if (rc < 0) {
		free(xlcfg);
		memset(c, 0, sizeof(*c));
	}
	return rc;
}

/* ---- sync offer ---- */

/* Offer memberships are sorted without duplicates (syncround.h). */
static bool members_sorted(const uint32_t *ids, uint32_t n)
{
	uint32_t i;

	for (i = 1; i < n; i++)
		if (ids[i - 1] >= ids[i])
			return false;
	return true;
}

int wire_encode_offer(struct wire_buf *out, const struct wire_offer *o)
{
	struct wr w;
	uint32_t i;

	frame_open(&w, out, WIRE_SYNC_OFFER, 1);
	put_u32(&w, o->nodeid);
	put_u64(&w, o->qseq);
	put_u64(&w, o->seq);
	put_u32(&w, o->digest);
	if (o->n_members > XH_MAX_HOSTS ||
	    !members_sorted(o->members, o->n_members)) {
		wr_fail(&w, -EINVAL);
	} else {
		put_u32(&w, o->n_members);
		for (i = 0; i < o->n_members; i++)
			put_u32(&w, o->members[i]);
	}
	return frame_close(&w);
}

int wire_decode_offer(const uint8_t *p, size_t len, struct wire_offer *o)
{
	struct rd r;
	uint32_t i;
	int rc;

	memset(o, 0, sizeof(*o));
	rc = frame_read(p, len, WIRE_SYNC_OFFER, &r);
	if (rc < 0)
		return rc;
	if (r.ver != 1)
		rd_fail(&r); /* offers did not change: version 1 only (canonical) */
	o->nodeid = get_u32(&r);
	o->qseq = get_u64(&r);
	o->seq = get_u64(&r);
	o->digest = get_u32(&r);
	o->n_members = get_u32(&r);
	if (o->n_members > XH_MAX_HOSTS)
		rd_fail(&r);
	for (i = 0; !r.err && i < o->n_members; i++)
		o->members[i] = get_u32(&r);
	if (!r.err && !members_sorted(o->members, o->n_members))
		rd_fail(&r);
	rc = rd_finish(&r);
	if (rc < 0)
		memset(o, 0, sizeof(*o));
	return rc;
}

/* ---- migration progress ---- */

int wire_encode_progress(struct wire_buf *out, const struct wire_progress *pr)
{
	struct wr w;

	frame_open(&w, out, WIRE_MIG_PROGRESS, 2);
	if (memchr(pr->name, '\0', sizeof(pr->name)) == NULL || pr->name[0] == '\0')
		wr_fail(&w, -EINVAL);
	put_u32(&w, pr->nodeid);
	put_str(&w, pr->name, sizeof(pr->name));
	put_u64(&w, pr->mig_id);
	put_u32(&w, pr->target);
	put_u32(&w, pr->round);
	put_u64(&w, pr->bytes_sent);
	put_u64(&w, pr->pages_total);
	put_u64(&w, pr->pages_left);
	put_u64(&w, pr->dirty_kib_s);
	put_u32(&w, pr->elapsed_ms);
	return frame_close(&w);
}

int wire_decode_progress(const uint8_t *p, size_t len, struct wire_progress *pr)
{
	struct rd r;
	int rc;

	memset(pr, 0, sizeof(*pr));
	rc = frame_read(p, len, WIRE_MIG_PROGRESS, &r);
	if (rc < 0)
		return rc;
	if (r.ver != 2)
		rd_fail(&r);
	pr->nodeid = get_u32(&r);
	get_str(&r, pr->name, sizeof(pr->name));
	pr->mig_id = get_u64(&r);
	pr->target = get_u32(&r);
	pr->round = get_u32(&r);
	pr->bytes_sent = get_u64(&r);
	pr->pages_total = get_u64(&r);
	pr->pages_left = get_u64(&r);
	pr->dirty_kib_s = get_u64(&r);
	pr->elapsed_ms = get_u32(&r);
	if (!r.err && pr->name[0] == '\0')
		rd_fail(&r);
	rc = rd_finish(&r);
	if (rc < 0)
		memset(pr, 0, sizeof(*pr));
	return rc;
}

/* ---- snapshot chunk ---- */

/* index < count, len <= total_len, total_len no larger than a frame. */
static bool chunk_valid(const struct wire_chunk *c)
{
	return c->count > 0 && c->index < c->count && c->len <= c->total_len &&
	       c->total_len <= WIRE_HDR_LEN + (uint64_t)WIRE_MAX_PAYLOAD;
}

int wire_encode_chunk(struct wire_buf *out, const struct wire_chunk *c)
{
	struct wr w;

	frame_open(&w, out, WIRE_SNAP_CHUNK, 1);
	if (!chunk_valid(c) || (c->len > 0 && c->data == NULL))
		wr_fail(&w, -EINVAL);
	put_u32(&w, c->nodeid);
	put_u64(&w, c->round);
	put_u32(&w, c->index);
	put_u32(&w, c->count);
	put_u32(&w, c->total_len);
	put_u32(&w, c->len);
	put_bytes(&w, c->data, c->len);
	return frame_close(&w);
}

int wire_decode_chunk(const uint8_t *p, size_t len, struct wire_chunk *c)
{
	struct rd r;
	int rc;

	memset(c, 0, sizeof(*c));
	rc = frame_read(p, len, WIRE_SNAP_CHUNK, &r);
	if (rc < 0)
		return rc;
	if (r.ver != 1)
		rd_fail(&r); /* chunks did not change: version 1 only (canonical) */
	c->nodeid = get_u32(&r);
	c->round = get_u64(&r);
	c->index = get_u32(&r);
	c->count = get_u32(&r);
	c->total_len = get_u32(&r);
	c->len = get_u32(&r);
	c->data = get_bytes(&r, c->len);
	if (!r.err && !chunk_valid(c))
		rd_fail(&r);
	rc = rd_finish(&r);
	if (rc < 0)
		memset(c, 0, sizeof(*c));
	return rc;
}

/* ---- snapshot ---- */

static void put_host(struct wr *w, const struct xh_host *h)
{
	put_u32(w, h->nodeid);
	put_str(w, h->name, sizeof(h->name));
	put_u64(w, h->mem_total_mb);
	put_u32(w, h->mem_reserved_mb);
	put_u32(w, h->dom_overhead_mb);
	put_bool(w, h->member);
	put_bool(w, h->standby);
	put_bool(w, h->maintenance);
	put_u8_max(w, h->fence, XH_FENCE_CONFIRMED);
	put_u64(w, h->fence_since_ms);
}

static void get_host(struct rd *r, struct xh_host *h)
{
	memset(h, 0, sizeof(*h));
	h->nodeid = get_u32(r);
	get_str(r, h->name, sizeof(h->name));
	h->mem_total_mb = get_u64(r);
	h->mem_reserved_mb = get_u32(r);
	h->dom_overhead_mb = get_u32(r);
	h->member = get_bool(r);
	h->standby = get_bool(r);
	h->maintenance = get_bool(r);
	h->fence = get_u8_max(r, XH_FENCE_CONFIRMED);
	h->fence_since_ms = get_u64(r);
}

static void put_domain(struct wr *w, const struct xh_domain *d, uint16_t ver)
{
	uint8_t i;

	/* definition */
	put_str(w, d->name, sizeof(d->name));
	put_text(w, d->xlcfg, XH_XLCFG_MAX);
	put_u32(w, d->memory_mb);
	put_i32(w, d->priority);
	put_u8_max(w, d->restart, XH_RESTART_NEVER);
	put_u8_max(w, d->target, XH_TARGET_STARTED);
	put_u32(w, d->max_restarts);
	put_u32(w, d->max_relocations);
	put_u8_max(w, d->n_preferred, XH_MAX_PREF);
	for (i = 0; i < d->n_preferred && i < XH_MAX_PREF; i++)
		put_str(w, d->preferred[i], XH_NAME_MAX);
	put_u8_max(w, d->n_avoided, XH_MAX_PREF);
	for (i = 0; i < d->n_avoided && i < XH_MAX_PREF; i++)
		put_str(w, d->avoided[i], XH_NAME_MAX);
	put_str(w, d->group, sizeof(d->group));
	/* placement */
	put_u8_max(w, d->state, ver >= 2 ? XH_DS__COUNT - 1 : XH_DS_LOST);
	put_u32(w, d->owner);
	put_u32(w, d->last_owner);
	put_u64(w, d->generation);
	put_u32(w, d->restarts);
	put_u32(w, d->relocations);
	put_u64(w, d->since_ms);
	put_str(w, d->reason, sizeof(d->reason));
	if (ver >= 2) {
		put_u32(w, d->mig_target);
		put_u64(w, d->mig_id);
	} else if (d->mig_target != 0 || d->mig_id != 0) {
		wr_fail(w, -EINVAL);
	}
}

/* *d must be zeroed by the caller; d->xlcfg is malloc'd (or NULL). */
static void get_domain(struct rd *r, struct xh_domain *d)
{
	uint8_t max_state = r->ver >= 2 ? XH_DS__COUNT - 1 : XH_DS_LOST;
	uint8_t i;

	get_str(r, d->name, sizeof(d->name));
	get_text(r, &d->xlcfg, XH_XLCFG_MAX);
	d->memory_mb = get_u32(r);
	d->priority = get_i32(r);
	d->restart = get_u8_max(r, XH_RESTART_NEVER);
	d->target = get_u8_max(r, XH_TARGET_STARTED);
	d->max_restarts = get_u32(r);
	d->max_relocations = get_u32(r);
	d->n_preferred = get_u8_max(r, XH_MAX_PREF);
	for (i = 0; !r->err && i < d->n_preferred; i++)
		get_str(r, d->preferred[i], XH_NAME_MAX);
	d->n_avoided = get_u8_max(r, XH_MAX_PREF);
	for (i = 0; !r->err && i < d->n_avoided; i++)
		get_str(r, d->avoided[i], XH_NAME_MAX);
	get_str(r, d->group, sizeof(d->group));
	d->state = get_u8_max(r, max_state);
	d->owner = get_u32(r);
	d->last_owner = get_u32(r);
	d->generation = get_u64(r);
	d->restarts = get_u32(r);
	d->relocations = get_u32(r);
	d->since_ms = get_u64(r);
	get_str(r, d->reason, sizeof(d->reason));
	if (r->ver >= 2) {
		d->mig_target = get_u32(r);
		d->mig_id = get_u64(r);
	}
}

static void put_event(struct wr *w, const struct xh_event *e, uint16_t ver)
{
	put_u64(w, e->seq);
	put_u64(w, e->time_ms);
	if (e->type < XH_EV_DOMAIN_ADDED ||
	    e->type > (ver >= 2 ? XH_EV_LAST : XH_EV_LAST_V1))
		wr_fail(w, -EINVAL);
	put_u8(w, e->type);
	put_u32(w, e->nodeid);
	put_str(w, e->domain, sizeof(e->domain));
	put_str(w, e->text, sizeof(e->text));
}

static void get_event(struct rd *r, struct xh_event *e)
{
	memset(e, 0, sizeof(*e));
	e->seq = get_u64(r);
	e->time_ms = get_u64(r);
	e->type = get_u8(r);
	if (e->type < XH_EV_DOMAIN_ADDED ||
	    e->type > (r->ver >= 2 ? XH_EV_LAST : XH_EV_LAST_V1))
		rd_fail(r);
	e->nodeid = get_u32(r);
	get_str(r, e->domain, sizeof(e->domain));
	get_str(r, e->text, sizeof(e->text));
}

/*
 * The lowest snapshot version that carries s: 2 as soon as anything of the
 * migration or disarm era is in it.  The caller checked the bounds.
 */
static uint16_t snapshot_version(const struct xh_state *s)
{
	uint32_t i;

	if (s->disarmed_until_ms != 0)
		return 2;
	for (i = 0; i < s->n_domains; i++) {
		const struct xh_domain *d = &s->domains[i];

		if (d->state > XH_DS_LOST || d->mig_target != 0 || d->mig_id != 0)
			return 2;
	}
	for (i = 0; i < s->ev_count; i++)
		if (s->events[((uint64_t)s->ev_head + i) % s->ev_cap].type > XH_EV_LAST_V1)
			return 2;
	return 1;
}

int wire_encode_snapshot(struct wire_buf *out, const struct xh_state *s)
{
	struct wr w;
	uint32_t i;
	uint16_t ver;

	if (s->n_hosts > XH_MAX_HOSTS || s->n_domains > XH_MAX_DOMAINS ||
	    s->ev_cap == 0 || s->ev_cap > WIRE_HISTORY_MAX ||
	    s->ev_count > s->ev_cap || s->ev_head >= s->ev_cap ||
	    (s->n_domains > 0 && s->domains == NULL) || s->events == NULL) {
		frame_open(&w, out, WIRE_SNAPSHOT, 1);
		wr_fail(&w, -EINVAL);
		return frame_close(&w);
	}
	ver = snapshot_version(s);
	frame_open(&w, out, WIRE_SNAPSHOT, ver);
	put_u64(&w, s->seq);
	put_u64(&w, s->qseq);
	put_bool(&w, s->quorate);
	put_u32(&w, s->expected_votes);
	if (ver >= 2)
		put_u64(&w, s->disarmed_until_ms);
	put_u32(&w, s->n_hosts);
	for (i = 0; i < s->n_hosts && !w.err; i++)
		put_host(&w, &s->hosts[i]);
	put_u32(&w, s->n_domains);
	for (i = 0; i < s->n_domains && !w.err; i++)
		put_domain(&w, &s->domains[i], ver);
	put_u32(&w, s->ev_cap);
	put_u64(&w, s->ev_next_seq);
	put_u32(&w, s->ev_count);
	for (i = 0; i < s->ev_count && !w.err; i++)
		put_event(&w, &s->events[((uint64_t)s->ev_head + i) % s->ev_cap], ver);
	return frame_close(&w);
}

static void free_domains(struct xh_domain *d, uint32_t n)
{
	uint32_t i;

	if (d == NULL)
		return;
	for (i = 0; i < n; i++)
		free(d[i].xlcfg);
	free(d);
}

/*
 * The ring capacity comes after the domains in the format, and
 * xh_state_init needs it, so hosts and domains are decoded into local
 * storage first and moved into the state once it exists.
 */
int wire_decode_snapshot(const uint8_t *p, size_t len, struct xh_state *s)
{
	struct xh_host hosts[XH_MAX_HOSTS];
	struct xh_domain *doms = NULL;
	uint64_t seq, qseq, ev_next_seq, disarmed_until = 0;
	uint32_t expected_votes, n_hosts, n_doms = 0, ev_cap, ev_count, i;
	bool quorate, have_state = false;
	char why[XH_REASON_MAX];
	struct rd r;
	int rc;

	memset(s, 0, sizeof(*s));
	rc = frame_read(p, len, WIRE_SNAPSHOT, &r);
	if (rc < 0)
		return rc;

	seq = get_u64(&r);
	qseq = get_u64(&r);
	quorate = get_bool(&r);
	expected_votes = get_u32(&r);
	if (r.ver >= 2)
		disarmed_until = get_u64(&r);

	n_hosts = get_u32(&r);
	if (n_hosts > XH_MAX_HOSTS)
		rd_fail(&r);
	for (i = 0; !r.err && i < n_hosts; i++) {
		get_host(&r, &hosts[i]);
		if (i > 0 && hosts[i - 1].nodeid >= hosts[i].nodeid)
			rd_fail(&r);
	}

	n_doms = get_u32(&r);
	if (n_doms > XH_MAX_DOMAINS || n_doms > rd_left(&r) / WIRE_DOMAIN_MIN_BYTES)
		rd_fail(&r);
	if (!r.err && n_doms > 0) {
		doms = calloc(n_doms, sizeof(*doms));
		if (doms == NULL) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	for (i = 0; !r.err && i < n_doms; i++) {
		get_domain(&r, &doms[i]);
		if (i > 0 && strcmp(doms[i - 1].name, doms[i].name) >= 0)
			rd_fail(&r);
	}

	ev_cap = get_u32(&r);
	ev_next_seq = get_u64(&r);
	ev_count = get_u32(&r);
	if (ev_cap == 0 || ev_cap > WIRE_HISTORY_MAX || ev_count > ev_cap ||
	    ev_count > rd_left(&r) / WIRE_EVENT_MIN_BYTES)
		rd_fail(&r);
	if (r.err) {
		rc = r.err;
		goto fail;
	}

	rc = xh_state_init(s, ev_cap);
	if (rc < 0)
		goto fail;
	have_state = true;
	if (s->ev_cap != ev_cap) {
		rc = -EBADMSG;
		goto fail;
	}
	s->seq = seq;
	s->qseq = qseq;
	s->quorate = quorate;
	s->expected_votes = expected_votes;
	s->disarmed_until_ms = disarmed_until;
	s->n_hosts = n_hosts;
	for (i = 0; i < n_hosts; i++)
		s->hosts[i] = hosts[i];
	if (n_doms > 0) {
		/* xh_state_init leaves no domain array; ours becomes it */
		free(s->domains);
		s->domains = doms;
		s->n_domains = n_doms;
		s->cap_domains = n_doms;
		doms = NULL;
	}
	s->ev_next_seq = ev_next_seq;
	s->ev_head = 0;
	for (i = 0; !r.err && i < ev_count; i++)
		get_event(&r, &s->events[i]);
	s->ev_count = ev_count;

	rc = rd_finish(&r);
	if (rc < 0)
		goto fail;
	/* canonical: a version-2 snapshot carries something version 1 cannot */
	if (snapshot_version(s) != r.ver) {
		rc = -EBADMSG;
		goto fail;
	}
	if (xh_state_check(s, why, sizeof(why)) != 0) {
		rc = -EBADMSG;
		goto fail;
	}
	return 0;

fail:
	free_domains(doms, n_doms);
	if (have_state)
		xh_state_free(s);
	memset(s, 0, sizeof(*s));
	return rc;
}
