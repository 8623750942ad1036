/*
 * libFuzzer target: every decoder of the wire codec (include/xenha/wire.h).
 *
 * Input: one mode byte, then a frame.
 *   mode & 7   0 wire_peek only, 1 cmd, 2 offer, 3 chunk, 4 snapshot,
 *              5..7 every decoder in turn (migration progress only here)
 *   mode & 8   reseal: before decoding, set the header's payload length
 *              to the real one and recompute the crc32, so mutations get
 *              past the checksum and reach the payload parsers (without
 *              it almost every mutated frame dies at -EILSEQ)
 *
 * Checks (abort on failure, so libFuzzer records the input):
 *   - no decoder reads outside the frame (ASan) or hits UB (UBSan);
 *   - the codec is canonical (wire.h, docs/wire-format.md): an accepted
 *     frame re-encodes to the same bytes;
 *   - a decoder that accepts a frame agrees with wire_peek on its type
 *     and length;
 *   - a decoded snapshot passes xh_state_check, and so does its deep
 *     copy, which also re-encodes to the same bytes;
 *   - on error every output struct is zeroed (wire.h);
 *   - nothing leaks (LeakSanitizer).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "xenha/state.h"
#include "xenha/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_wire: check failed: %s (%s:%d)\n", \
				#cond, __FILE__, __LINE__);                  \
			abort();                                             \
		}                                                            \
	} while (0)

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

/* Header layout from docs/wire-format.md, written here independently of
 * wire.c: length u32 at 8, crc32 at 12 over [0,12) and the payload. */
static void reseal(uint8_t *f, size_t len)
{
	uint32_t plen = (uint32_t)(len - WIRE_HDR_LEN);
	uLong crc;

	f[8] = (uint8_t)plen;
	f[9] = (uint8_t)(plen >> 8);
	f[10] = (uint8_t)(plen >> 16);
	f[11] = (uint8_t)(plen >> 24);
	crc = crc32(0L, Z_NULL, 0);
	crc = crc32(crc, f, 12);
	crc = crc32(crc, f + WIRE_HDR_LEN, (uInt)plen);
	f[12] = (uint8_t)crc;
	f[13] = (uint8_t)(crc >> 8);
	f[14] = (uint8_t)(crc >> 16);
	f[15] = (uint8_t)(crc >> 24);
}

static void check_same(const struct wire_buf *b, const uint8_t *p, size_t len)
{
	CHECK(b->len == len);
	CHECK(memcmp(b->data, p, len) == 0);
}

/* An accepted frame: wire_peek must have said the same. */
static void check_peek(int prc, uint16_t ptype, size_t ptotal,
		       uint16_t type, size_t len)
{
	CHECK(prc == 0);
	CHECK(ptype == type);
	CHECK(ptotal == len);
}

static void fuzz_cmd(const uint8_t *p, size_t len, int prc, uint16_t pt, size_t ptot)
{
	struct wire_cmd c;
	struct wire_buf b;
	int rc;

	memset(&c, 0xa5, sizeof(c));
	rc = wire_decode_cmd(p, len, &c);
	if (rc < 0) {
		CHECK(all_zero(&c, sizeof(c)));
		return;
	}
	check_peek(prc, pt, ptot, WIRE_CMD, len);
	wire_buf_init(&b);
	CHECK(wire_encode_cmd(&b, &c) == 0);
	check_same(&b, p, len);
	wire_buf_free(&b);
	wire_cmd_free(&c);
}

static void fuzz_offer(const uint8_t *p, size_t len, int prc, uint16_t pt, size_t ptot)
{
	struct wire_offer o;
	struct wire_buf b;
	int rc;

	memset(&o, 0xa5, sizeof(o));
	rc = wire_decode_offer(p, len, &o);
	if (rc < 0) {
		CHECK(all_zero(&o, sizeof(o)));
		return;
	}
	check_peek(prc, pt, ptot, WIRE_SYNC_OFFER, len);
	CHECK(o.n_members <= XH_MAX_HOSTS);
	wire_buf_init(&b);
	CHECK(wire_encode_offer(&b, &o) == 0);
	check_same(&b, p, len);
	wire_buf_free(&b);
}

static void fuzz_chunk(const uint8_t *p, size_t len, int prc, uint16_t pt, size_t ptot)
{
	struct wire_chunk c;
	struct wire_buf b;
	int rc;

	memset(&c, 0xa5, sizeof(c));
	rc = wire_decode_chunk(p, len, &c);
	if (rc < 0) {
		CHECK(all_zero(&c, sizeof(c)));
		return;
	}
	check_peek(prc, pt, ptot, WIRE_SNAP_CHUNK, len);
	/* the data must lie inside the frame */
	CHECK(c.len == 0 || (c.data >= p && c.data + c.len <= p + len));
	wire_buf_init(&b);
	CHECK(wire_encode_chunk(&b, &c) == 0);
	check_same(&b, p, len);
	wire_buf_free(&b);
}

static void fuzz_snapshot(const uint8_t *p, size_t len, int prc, uint16_t pt, size_t ptot)
{
	struct xh_state s, copy;
	struct wire_buf b;
	char why[256];
	int rc;

	memset(&s, 0xa5, sizeof(s));
	rc = wire_decode_snapshot(p, len, &s);
	if (rc < 0) {
		CHECK(all_zero(&s, sizeof(s)));
		return;
	}
	check_peek(prc, pt, ptot, WIRE_SNAPSHOT, len);
	why[0] = '\0';
	if (xh_state_check(&s, why, sizeof(why)) != 0) {
		fprintf(stderr, "fuzz_wire: decoded snapshot fails check: %s\n", why);
		abort();
	}
	wire_buf_init(&b);
	CHECK(wire_encode_snapshot(&b, &s) == 0);
	check_same(&b, p, len);
	wire_buf_free(&b);

	CHECK(xh_state_copy(&copy, &s) == 0);
	CHECK(xh_state_check(&copy, why, sizeof(why)) == 0);
	wire_buf_init(&b);
	CHECK(wire_encode_snapshot(&b, &copy) == 0);
	check_same(&b, p, len);
	wire_buf_free(&b);
	xh_state_free(&copy);
	xh_state_free(&s);
}

static void fuzz_progress(const uint8_t *p, size_t len, int prc, uint16_t pt, size_t ptot)
{
	struct wire_progress pr;
	struct wire_buf b;
	int rc;

	memset(&pr, 0xa5, sizeof(pr));
	rc = wire_decode_progress(p, len, &pr);
	if (rc < 0) {
		CHECK(all_zero(&pr, sizeof(pr)));
		return;
	}
	check_peek(prc, pt, ptot, WIRE_MIG_PROGRESS, len);
	CHECK(pr.name[0] != '\0' && memchr(pr.name, '\0', sizeof(pr.name)) != NULL);
	wire_buf_init(&b);
	CHECK(wire_encode_progress(&b, &pr) == 0);
	check_same(&b, p, len);
	wire_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t mode, sel;
	uint8_t *f;
	size_t len;
	uint16_t ptype = 0;
	size_t ptotal = 0;
	int prc;

	if (size < 1)
		return 0;
	mode = data[0];
	sel = mode & 7;
	len = size - 1;
	/* an exact-size heap copy, so ASan sees any read past the frame */
	f = malloc(len ? len : 1);
	if (f == NULL)
		return 0;
	memcpy(f, data + 1, len);
	if ((mode & 8) && len >= WIRE_HDR_LEN)
		reseal(f, len);

	prc = wire_peek(f, len, &ptype, &ptotal);
	if (prc == 0) {
		CHECK(ptype >= WIRE_CMD && ptype <= WIRE_MIG_PROGRESS);
		CHECK(ptotal >= WIRE_HDR_LEN);
		CHECK(ptotal - WIRE_HDR_LEN <= WIRE_MAX_PAYLOAD);
	} else {
		CHECK(prc == -EBADMSG || prc == -EPROTO || prc == -EMSGSIZE);
	}
	/* NULL outputs are allowed */
	CHECK(wire_peek(f, len, NULL, NULL) == prc);

	if (sel == 1 || sel >= 5)
		fuzz_cmd(f, len, prc, ptype, ptotal);
	if (sel == 2 || sel >= 5)
		fuzz_offer(f, len, prc, ptype, ptotal);
	if (sel == 3 || sel >= 5)
		fuzz_chunk(f, len, prc, ptype, ptotal);
	if (sel == 4 || sel >= 5)
		fuzz_snapshot(f, len, prc, ptype, ptotal);
	if (sel >= 5)
		fuzz_progress(f, len, prc, ptype, ptotal);
	free(f);
	return 0;
}
