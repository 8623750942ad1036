/*
 * libFuzzer target: every decoder of the heartbeat-disk codec
 * (include/xenha/hbdisk.h): sbd header, slot, mailbox, xenha region
 * descriptor and heartbeat.
 *
 * Input: one mode byte, then sector bytes.
 *   mode & 7    0 header, 1 slot, 2 mailbox, 3 region, 4 heartbeat,
 *               5..7 every decoder in turn
 *   mode & 8    sector size 4096 (else 512)
 *   mode & 16   raw: pass the bytes as they are, any length (tests the
 *               length checks); else copy them into a zeroed sector of
 *               the chosen size (cut if longer)
 *   mode & 32   reseal: write the right crc32 into the region and
 *               heartbeat sectors before decoding them (offsets 52 and
 *               124, docs/hbdisk-format.md), so mutations get past the
 *               checksum
 *
 * Checks (abort on failure):
 *   - no read outside the sector (ASan), no UB (UBSan), no leak;
 *   - decoders return only the errors hbdisk.h lists, and zero their
 *     output on error;
 *   - the encoding is canonical (docs/hbdisk-format.md): what a decoder
 *     accepts re-encodes to the same bytes.  The one documented
 *     exception is an sbd header with minor version > 1 (accepted, its
 *     extension bytes ignored, refused by the encoder with -EINVAL);
 *   - an accepted header has a layout (hb_layout) and, for small disks,
 *     hb_disk_init_image builds an image whose sector 0 decodes back to
 *     the header and whose descriptor passes hb_region_check;
 *   - an accepted region matches hb_layout for its slots and sector size.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "xenha/hbdisk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_hbdisk: check failed: %s (%s:%d)\n", \
				#cond, __FILE__, __LINE__);                  \
			abort();                                             \
		}                                                            \
	} while (0)

#define REGION_CRC_AT 52
#define BEAT_CRC_AT 124
/* hb_disk_init_image is tried only on images up to this size */
#define IMAGE_MAX (640u * 1024u)

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

/* A copy of the sector with the crc at `at` recomputed as the format
 * defines it (independently of hbdisk.c).  Caller frees. */
static uint8_t *resealed(const uint8_t *p, size_t len, size_t at)
{
	uint8_t *q = malloc(len ? len : 1);
	uLong c;

	if (q == NULL)
		abort();
	memcpy(q, p, len);
	if (len < at + 4)
		return q;
	c = crc32(0L, Z_NULL, 0);
	c = crc32(c, q, (uInt)at);
	c = crc32(c, q + at + 4, (uInt)(len - at - 4));
	q[at] = (uint8_t)c;
	q[at + 1] = (uint8_t)(c >> 8);
	q[at + 2] = (uint8_t)(c >> 16);
	q[at + 3] = (uint8_t)(c >> 24);
	return q;
}

static void check_reencoded(const uint8_t *enc, const uint8_t *p, size_t len)
{
	CHECK(memcmp(enc, p, len) == 0);
}

static void check_image(const struct hb_header *h0)
{
	struct hb_header h = *h0, back;
	struct hb_layout l;
	struct hb_region r;
	size_t len;
	uint8_t *img;

	/* hb_disk_init_image wants minor version 1 and sound timeouts */
	h.minor_version = 1;
	if (hb_timeouts_check(&h, NULL) != 0)
		return;
	CHECK(hb_disk_image_len(&h, 0, &len) == 0);
	CHECK(hb_layout(h.slots, h.sector_size, &l) == 0);
	CHECK(len == (size_t)l.lease_first * h.sector_size);
	if (len > IMAGE_MAX)
		return;
	img = malloc(len);
	if (img == NULL)
		abort();
	CHECK(hb_disk_init_image(&h, 0, img, len) == 0);
	CHECK(hb_header_decode(img, h.sector_size, &back) == 0);
	CHECK(back.minor_version == h.minor_version && back.slots == h.slots);
	CHECK(back.sector_size == h.sector_size);
	CHECK(back.timeout_watchdog == h.timeout_watchdog);
	CHECK(back.timeout_allocate == h.timeout_allocate);
	CHECK(back.timeout_loop == h.timeout_loop);
	CHECK(back.timeout_msgwait == h.timeout_msgwait);
	CHECK(memcmp(back.uuid, h.uuid, HB_UUID_LEN) == 0);
	CHECK(hb_region_decode(img + (size_t)l.region * h.sector_size,
			       h.sector_size, &r) == 0);
	CHECK(hb_region_check(&h, &r) == 0);
	CHECK(r.lease_count == 0);
	free(img);
}

static void fuzz_header(const uint8_t *p, size_t len)
{
	struct hb_header h;
	struct hb_layout l;
	const char *why = NULL;
	uint8_t *enc;
	int rc;

	memset(&h, 0xa5, sizeof(h));
	rc = hb_header_decode(p, len, &h);
	if (rc < 0) {
		CHECK(rc == -EBADMSG || rc == -EPROTO || rc == -EOPNOTSUPP);
		CHECK(all_zero(&h, sizeof(h)));
		return;
	}
	CHECK(h.slots >= 1);
	CHECK(hb_sector_size_ok(h.sector_size) && h.sector_size == len);
	CHECK(hb_layout(h.slots, h.sector_size, &l) == 0);
	if (hb_timeouts_check(&h, &why) != 0)
		CHECK(why != NULL && why[0] != '\0');
	else
		CHECK(why == NULL);
	enc = malloc(len);
	if (enc == NULL)
		abort();
	rc = hb_header_encode(&h, enc, len);
	if (h.minor_version > HB_SBD_MINOR) {
		CHECK(rc == -EINVAL);
	} else {
		CHECK(rc == 0);
		check_reencoded(enc, p, len);
	}
	free(enc);
	check_image(&h);
}

static void fuzz_slot(const uint8_t *p, size_t len)
{
	struct hb_slot s;
	uint8_t *enc;
	int rc;

	memset(&s, 0xa5, sizeof(s));
	rc = hb_slot_decode(p, len, &s);
	if (rc < 0) {
		CHECK(rc == -EBADMSG);
		CHECK(all_zero(&s, sizeof(s)));
		return;
	}
	CHECK(strnlen(s.name, HB_NAME_MAX) < HB_NAME_MAX);
	CHECK(s.in_use == (s.name[0] != '\0'));
	enc = malloc(len);
	if (enc == NULL)
		abort();
	CHECK(hb_slot_encode(&s, enc, len) == 0);
	check_reencoded(enc, p, len);
	free(enc);
}

static void fuzz_msg(const uint8_t *p, size_t len)
{
	struct hb_msg m;
	enum hb_msg_type back;
	uint8_t *enc;
	int rc;

	memset(&m, 0xa5, sizeof(m));
	rc = hb_msg_decode(p, len, &m);
	if (rc < 0) {
		CHECK(rc == -EBADMSG || rc == -EPROTO);
		CHECK(all_zero(&m, sizeof(m)));
		return;
	}
	CHECK((unsigned)m.type <= HB_MSG_TYPE_MAX);
	CHECK(strnlen(m.from, HB_NAME_MAX) < HB_NAME_MAX);
	CHECK(hb_msg_type_parse(hb_msg_type_str(m.type), &back) == 0 && back == m.type);
	enc = malloc(len);
	if (enc == NULL)
		abort();
	CHECK(hb_msg_encode(&m, enc, len) == 0);
	check_reencoded(enc, p, len);
	free(enc);
}

static void fuzz_region(const uint8_t *p, size_t len)
{
	struct hb_region r;
	struct hb_layout l;
	uint8_t *enc;
	int rc;

	memset(&r, 0xa5, sizeof(r));
	rc = hb_region_decode(p, len, &r);
	if (rc < 0) {
		CHECK(rc == -EBADMSG || rc == -EPROTO || rc == -EILSEQ || rc == -ENODATA);
		CHECK(all_zero(&r, sizeof(r)));
		return;
	}
	CHECK(r.sector_size == len);
	CHECK(hb_layout(r.slots, r.sector_size, &l) == 0);
	CHECK(r.beat_first == l.beat_first && r.beat_count == l.beat_count);
	CHECK(r.lease_first == l.lease_first);
	CHECK(r.lease_count <= HB_MAX_LEASE_SECTORS);
	enc = malloc(len);
	if (enc == NULL)
		abort();
	CHECK(hb_region_encode(&r, enc, len) == 0);
	check_reencoded(enc, p, len);
	free(enc);
}

static void fuzz_beat(const uint8_t *p, size_t len)
{
	struct hb_beat b;
	struct hb_layout l;
	uint32_t sector;
	uint8_t *enc;
	int rc;

	memset(&b, 0xa5, sizeof(b));
	rc = hb_beat_decode(p, len, &b);
	if (rc < 0) {
		CHECK(rc == -EBADMSG || rc == -EPROTO || rc == -EILSEQ || rc == -ENODATA);
		CHECK(all_zero(&b, sizeof(b)));
		return;
	}
	CHECK(b.nodeid >= 1 && b.nodeid <= HB_MAX_NODEID);
	CHECK(b.name[0] != '\0' && strnlen(b.name, HB_NAME_MAX) < HB_NAME_MAX);
	CHECK(b.paths_up <= b.paths_total);
	CHECK(hb_layout(HB_MAX_SLOTS, (uint32_t)len, &l) == 0);
	CHECK(hb_layout_beat(&l, b.nodeid, &sector) == 0);
	CHECK(sector == l.beat_first + b.nodeid - 1);
	enc = malloc(len);
	if (enc == NULL)
		abort();
	CHECK(hb_beat_encode(&b, enc, len) == 0);
	check_reencoded(enc, p, len);
	free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t mode, sel;
	size_t len, ss;
	uint8_t *sec, *q;

	if (size < 1)
		return 0;
	mode = data[0];
	sel = mode & 7;
	ss = (mode & 8) ? 4096 : 512;
	if (mode & 16) {
		len = size - 1;
		sec = malloc(len ? len : 1);
		if (sec == NULL)
			abort();
		memcpy(sec, data + 1, len);
	} else {
		len = ss;
		sec = calloc(1, len);
		if (sec == NULL)
			abort();
		memcpy(sec, data + 1, size - 1 < len ? size - 1 : len);
	}

	if (sel == 0 || sel >= 5)
		fuzz_header(sec, len);
	if (sel == 1 || sel >= 5)
		fuzz_slot(sec, len);
	if (sel == 2 || sel >= 5)
		fuzz_msg(sec, len);
	if (sel == 3 || sel >= 5) {
		q = (mode & 32) ? resealed(sec, len, REGION_CRC_AT) : NULL;
		fuzz_region(q ? q : sec, len);
		free(q);
	}
	if (sel == 4 || sel >= 5) {
		q = (mode & 32) ? resealed(sec, len, BEAT_CRC_AT) : NULL;
		fuzz_beat(q ? q : sec, len);
		free(q);
	}
	free(sec);
	return 0;
}
