/*
 * Heartbeat-disk codec: sbd's on-disk format version 2 (header, slots,
 * mailboxes) and the xenha region after it.  Contract: xenha/hbdisk.h;
 * byte layout and sources: docs/hbdisk-format.md.
 *
 * Written from the format facts, not from sbd's code.  sbd declares its
 * sectors as plain C structs with natural alignment and writes them
 * from zeroed sector buffers, so its padding is zero and its 32-bit
 * fields sit at 4-byte offsets, in network byte order.  We name each
 * offset and move every field one byte at a time.
 */
#include <errno.h>
#include <string.h>
#include <zlib.h>

#include "xenha/hbdisk.h"

/* sbd header (sector 0), big-endian 32-bit fields */
#define SH_MAGIC     0
#define SH_VERSION   8
#define SH_SLOTS     9
#define SH_PAD       10   /* 2 bytes of struct padding */
#define SH_SECTOR    12
#define SH_WATCHDOG  16
#define SH_ALLOCATE  20
#define SH_LOOP      24
#define SH_MSGWAIT   28
#define SH_MINOR     32
#define SH_UUID      33
#define SH_END       49   /* first byte after the uuid */

/* sbd slot and mailbox sectors: one byte, then a 64-byte name */
#define SN_IN_USE    0
#define SM_CMD       0
#define SX_NAME      1
#define SX_END       (SX_NAME + HB_NAME_MAX)

/* xenha region descriptor, little-endian */
#define RG_MAGIC     0
#define RG_VERSION   8
#define RG_RESERVED  10
#define RG_SECTOR    12
#define RG_SLOTS     16
#define RG_BEAT0     20
#define RG_BEATN     24
#define RG_LEASE0    28
#define RG_LEASEN    32
#define RG_UUID      36
#define RG_CRC       52
#define RG_END       56

/* xenha heartbeat, little-endian */
#define HB_MAGIC     0
#define HB_VERSION   8
#define HB_FLAGS     10
#define HB_NODEID    12
#define HB_COUNTER   16
#define HB_MONO      24
#define HB_WALL      32
#define HB_RING      40
#define HB_LIVESET   48
#define HB_PTOTAL    56
#define HB_PUP       57
#define HB_RESERVED  58
#define HB_NAME      60
#define HB_CRC       124
#define HB_END       128

#define HB_FLAG_QUORATE 0x0001u

/* ---- byte helpers ---- */

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 |
	       (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/*
 * A name field of HB_NAME_MAX bytes on disk: the text, a NUL, then NULs
 * to the end (sbd fills it with strncpy of at most 63 bytes into a
 * zeroed buffer, so byte 63 is always NUL).  Anything else is damage.
 * Returns the text length, or -1.
 */
static int name_field_len(const uint8_t *p)
{
	size_t n = strnlen((const char *)p, HB_NAME_MAX);

	if (n >= HB_NAME_MAX)
		return -1;
	if (!all_zero(p + n, HB_NAME_MAX - n))
		return -1;
	return (int)n;
}

/* The same check on a C string held in a HB_NAME_MAX array. */
static int name_str_len(const char *s)
{
	size_t n = strnlen(s, HB_NAME_MAX);

	return n >= HB_NAME_MAX ? -1 : (int)n;
}

/* Copy a checked C name into a zeroed on-disk field. */
static void put_name(uint8_t *p, const char *s, int n)
{
	memset(p, 0, HB_NAME_MAX);
	memcpy(p, s, (size_t)n);
}

/* crc32 of a sector with its 4-byte crc field at `at` counted as absent:
 * bytes [0, at) then [at + 4, len).  Covering the tail means a longer
 * sector cut short, or junk after the record, does not match. */
static uint32_t sector_crc(const uint8_t *p, size_t len, size_t at)
{
	uLong c = crc32(0L, Z_NULL, 0);

	c = crc32(c, p, (uInt)at);
	c = crc32(c, p + at + 4, (uInt)(len - at - 4));
	return (uint32_t)c;
}

bool hb_sector_size_ok(uint32_t sector_size)
{
	return sector_size == 512 || sector_size == 4096;
}

/* ---- sbd header ---- */

static bool header_ok(const struct hb_header *h)
{
	if (h->slots == 0 || !hb_sector_size_ok(h->sector_size))
		return false;
	if (h->minor_version > HB_SBD_MINOR)
		return false;
	/* minor 0 predates the uuid: those bytes are zero on disk */
	if (h->minor_version == 0 && !all_zero(h->uuid, HB_UUID_LEN))
		return false;
	return true;
}

int hb_header_encode(const struct hb_header *h, uint8_t *out, size_t len)
{
	if (!header_ok(h) || len != h->sector_size)
		return -EINVAL;
	memset(out, 0, len);
	memcpy(out + SH_MAGIC, HB_SBD_MAGIC, 8);
	out[SH_VERSION] = HB_SBD_VERSION;
	out[SH_SLOTS] = h->slots;
	put_be32(out + SH_SECTOR, h->sector_size);
	put_be32(out + SH_WATCHDOG, h->timeout_watchdog);
	put_be32(out + SH_ALLOCATE, h->timeout_allocate);
	put_be32(out + SH_LOOP, h->timeout_loop);
	put_be32(out + SH_MSGWAIT, h->timeout_msgwait);
	out[SH_MINOR] = h->minor_version;
	memcpy(out + SH_UUID, h->uuid, HB_UUID_LEN);
	return 0;
}

static int header_decode(const uint8_t *p, size_t len, struct hb_header *h)
{
	uint32_t ss;

	/* sbd's own validity test is magic, version, sector size; the rest
	 * is ours, because a header without a checksum deserves every
	 * structural check we can make */
	if (len < SH_END || memcmp(p + SH_MAGIC, HB_SBD_MAGIC, 8) != 0)
		return -EBADMSG;
	if (p[SH_VERSION] != HB_SBD_VERSION)
		return -EPROTO;
	ss = get_be32(p + SH_SECTOR);
	if (len != ss)
		return -EBADMSG;
	if (!hb_sector_size_ok(ss))
		return -EOPNOTSUPP;
	if (p[SH_SLOTS] == 0)
		return -EBADMSG;
	/* sbd writes its header from a zeroed sector: padding and tail are
	 * zero.  Minor versions above ours may use the tail (sbd.h calls
	 * them "compatible and optional" extensions), so leave it alone. */
	if (p[SH_PAD] != 0 || p[SH_PAD + 1] != 0)
		return -EBADMSG;
	if (p[SH_MINOR] <= HB_SBD_MINOR && !all_zero(p + SH_END, len - SH_END))
		return -EBADMSG;
	if (p[SH_MINOR] == 0 && !all_zero(p + SH_UUID, HB_UUID_LEN))
		return -EBADMSG;

	h->slots = p[SH_SLOTS];
	h->sector_size = ss;
	h->timeout_watchdog = get_be32(p + SH_WATCHDOG);
	h->timeout_allocate = get_be32(p + SH_ALLOCATE);
	h->timeout_loop = get_be32(p + SH_LOOP);
	h->timeout_msgwait = get_be32(p + SH_MSGWAIT);
	h->minor_version = p[SH_MINOR];
	memcpy(h->uuid, p + SH_UUID, HB_UUID_LEN);
	return 0;
}

int hb_header_decode(const uint8_t *p, size_t len, struct hb_header *out)
{
	int rc = header_decode(p, len, out);

	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

int hb_timeouts_check(const struct hb_header *h, const char **reason)
{
	const char *why = NULL;

	/*
	 * The watchdog must outlast one loop (sbd's servant reads its
	 * mailbox every loop seconds and the watchdog is petted only after
	 * a good read), and a fencing node waits msgwait before it counts
	 * the victim as dead: at least two watchdog periods, sbd's own rule
	 * (sbd(8), -4), so the victim's watchdog has fired by then even if
	 * it read the pill just before its last pet.
	 */
	if (h->timeout_watchdog > HB_TIMEOUT_MAX || h->timeout_allocate > HB_TIMEOUT_MAX ||
	    h->timeout_loop > HB_TIMEOUT_MAX || h->timeout_msgwait > HB_TIMEOUT_MAX)
		why = "a timeout is over one day";
	else if (h->timeout_watchdog < 1)
		why = "watchdog timeout must be at least 1 s";
	else if (h->timeout_loop < 1)
		why = "loop timeout must be at least 1 s";
	else if (h->timeout_loop >= h->timeout_watchdog)
		why = "loop timeout must be shorter than the watchdog timeout";
	else if (h->timeout_allocate < 1)
		why = "allocate timeout must be at least 1 s";
	else if ((uint64_t)h->timeout_msgwait < 2 * (uint64_t)h->timeout_watchdog)
		why = "msgwait must be at least twice the watchdog timeout";
	if (reason)
		*reason = why;
	return why ? -EINVAL : 0;
}

/* ---- sbd slots and mailboxes ---- */

int hb_slot_encode(const struct hb_slot *s, uint8_t *out, size_t len)
{
	int n = name_str_len(s->name);

	if (!hb_sector_size_ok((uint32_t)len) || len != (uint32_t)len || n < 0)
		return -EINVAL;
	/* sbd tells slots apart only by name: an owned slot needs one, and
	 * a free slot is all zero as `sbd create` leaves it */
	if (s->in_use ? n == 0 : n != 0)
		return -EINVAL;
	memset(out, 0, len);
	out[SN_IN_USE] = s->in_use ? 1 : 0;
	put_name(out + SX_NAME, s->name, n);
	return 0;
}

static int slot_decode(const uint8_t *p, size_t len, struct hb_slot *s)
{
	int n;

	if (!hb_sector_size_ok((uint32_t)len) || len != (uint32_t)len)
		return -EBADMSG;
	/* sbd writes 1; it tests `!= 0` to find a slot but `> 0` on a
	 * signed char to list one, so any other value means two things */
	if (p[SN_IN_USE] > 1)
		return -EBADMSG;
	n = name_field_len(p + SX_NAME);
	if (n < 0 || (p[SN_IN_USE] ? n == 0 : n != 0))
		return -EBADMSG;
	if (!all_zero(p + SX_END, len - SX_END))
		return -EBADMSG;
	s->in_use = p[SN_IN_USE] == 1;
	memcpy(s->name, p + SX_NAME, HB_NAME_MAX);
	return 0;
}

int hb_slot_decode(const uint8_t *p, size_t len, struct hb_slot *out)
{
	int rc = slot_decode(p, len, out);

	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

static const char *const msg_words[] = {
	[HB_MSG_CLEAR] = "clear",
	[HB_MSG_TEST] = "test",
	[HB_MSG_RESET] = "reset",
	[HB_MSG_OFF] = "off",
	[HB_MSG_EXIT] = "exit",
	[HB_MSG_CRASHDUMP] = "crashdump",
};

const char *hb_msg_type_str(enum hb_msg_type t)
{
	if ((unsigned)t > HB_MSG_TYPE_MAX)
		return "undefined";
	return msg_words[t];
}

int hb_msg_type_parse(const char *word, enum hb_msg_type *out)
{
	unsigned i;

	for (i = 0; i <= HB_MSG_TYPE_MAX; i++) {
		if (strcmp(word, msg_words[i]) == 0) {
			*out = (enum hb_msg_type)i;
			return 0;
		}
	}
	return -EINVAL;
}

int hb_msg_encode(const struct hb_msg *m, uint8_t *out, size_t len)
{
	int n = name_str_len(m->from);

	if (!hb_sector_size_ok((uint32_t)len) || len != (uint32_t)len || n < 0)
		return -EINVAL;
	if ((unsigned)m->type > HB_MSG_TYPE_MAX)
		return -EINVAL;
	memset(out, 0, len);
	out[SM_CMD] = (uint8_t)m->type;
	put_name(out + SX_NAME, m->from, n);
	return 0;
}

static int msg_decode(const uint8_t *p, size_t len, struct hb_msg *m)
{
	if (!hb_sector_size_ok((uint32_t)len) || len != (uint32_t)len)
		return -EBADMSG;
	/* the sender may be empty: sbd's servant clears a mailbox by
	 * zeroing it, `sbd message X clear` writes cmd 0 with a sender */
	if (name_field_len(p + SX_NAME) < 0)
		return -EBADMSG;
	if (!all_zero(p + SX_END, len - SX_END))
		return -EBADMSG;
	/* a signed char on disk: negative values are unknown too */
	if (p[SM_CMD] > HB_MSG_TYPE_MAX)
		return -EPROTO;
	m->type = (enum hb_msg_type)p[SM_CMD];
	memcpy(m->from, p + SX_NAME, HB_NAME_MAX);
	return 0;
}

int hb_msg_decode(const uint8_t *p, size_t len, struct hb_msg *out)
{
	int rc = msg_decode(p, len, out);

	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* ---- layout ---- */

int hb_layout(unsigned slots, uint32_t sector_size, struct hb_layout *out)
{
	memset(out, 0, sizeof(*out));
	if (slots < 1 || slots > HB_MAX_SLOTS || !hb_sector_size_ok(sector_size))
		return -EINVAL;
	out->sector_size = sector_size;
	out->slots = slots;
	out->header = 0;
	/* sbd: slot i at sector 1 + 2i, its mailbox at 2 + 2i, so the last
	 * mailbox is sector 2*slots and sbd's area is 2*slots + 1 sectors */
	out->sbd_sectors = 2 * slots + 1;
	out->region = out->sbd_sectors;
	out->beat_first = out->region + 1;
	out->beat_count = HB_MAX_NODEID;
	out->lease_first = out->beat_first + HB_MAX_NODEID;
	return 0;
}

int hb_layout_slot(const struct hb_layout *l, unsigned i, uint32_t *sector)
{
	if (i >= l->slots)
		return -ERANGE;
	*sector = 1 + 2 * i;
	return 0;
}

int hb_layout_mbox(const struct hb_layout *l, unsigned i, uint32_t *sector)
{
	if (i >= l->slots)
		return -ERANGE;
	*sector = 2 + 2 * i;
	return 0;
}

int hb_layout_beat(const struct hb_layout *l, uint32_t nodeid, uint32_t *sector)
{
	if (nodeid < 1 || nodeid > HB_MAX_NODEID)
		return -ERANGE;
	*sector = l->beat_first + nodeid - 1;
	return 0;
}

/* ---- xenha region descriptor ---- */

/* Does r describe the layout hb_layout gives for its slots and sector
 * size?  Version 1 has exactly one layout; the fields are on disk so a
 * reader can see it without knowing the rules. */
static bool region_ok(const struct hb_region *r)
{
	struct hb_layout l;

	if (r->slots > HB_MAX_SLOTS || hb_layout(r->slots, r->sector_size, &l) < 0)
		return false;
	return r->beat_first == l.beat_first && r->beat_count == l.beat_count &&
	       r->lease_first == l.lease_first &&
	       r->lease_count <= HB_MAX_LEASE_SECTORS;
}

int hb_region_encode(const struct hb_region *r, uint8_t *out, size_t len)
{
	if (!region_ok(r) || len != r->sector_size)
		return -EINVAL;
	memset(out, 0, len);
	memcpy(out + RG_MAGIC, HB_REGION_MAGIC, 8);
	put_le16(out + RG_VERSION, HB_REGION_VERSION);
	put_le32(out + RG_SECTOR, r->sector_size);
	put_le32(out + RG_SLOTS, r->slots);
	put_le32(out + RG_BEAT0, r->beat_first);
	put_le32(out + RG_BEATN, r->beat_count);
	put_le32(out + RG_LEASE0, r->lease_first);
	put_le32(out + RG_LEASEN, r->lease_count);
	memcpy(out + RG_UUID, r->uuid, HB_UUID_LEN);
	put_le32(out + RG_CRC, sector_crc(out, len, RG_CRC));
	return 0;
}

static int region_decode(const uint8_t *p, size_t len, struct hb_region *r)
{
	if (!hb_sector_size_ok((uint32_t)len) || len != (uint32_t)len)
		return -EBADMSG;
	if (all_zero(p, len))
		return -ENODATA;
	if (memcmp(p + RG_MAGIC, HB_REGION_MAGIC, 8) != 0)
		return -EBADMSG;
	if (get_le16(p + RG_VERSION) != HB_REGION_VERSION)
		return -EPROTO;
	if (get_le32(p + RG_CRC) != sector_crc(p, len, RG_CRC))
		return -EILSEQ;
	if (get_le16(p + RG_RESERVED) != 0 || !all_zero(p + RG_END, len - RG_END))
		return -EBADMSG;
	r->sector_size = get_le32(p + RG_SECTOR);
	r->slots = get_le32(p + RG_SLOTS);
	r->beat_first = get_le32(p + RG_BEAT0);
	r->beat_count = get_le32(p + RG_BEATN);
	r->lease_first = get_le32(p + RG_LEASE0);
	r->lease_count = get_le32(p + RG_LEASEN);
	memcpy(r->uuid, p + RG_UUID, HB_UUID_LEN);
	if (r->sector_size != len || !region_ok(r))
		return -EBADMSG;
	return 0;
}

int hb_region_decode(const uint8_t *p, size_t len, struct hb_region *out)
{
	int rc = region_decode(p, len, out);

	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

int hb_region_check(const struct hb_header *h, const struct hb_region *r)
{
	if (h->sector_size != r->sector_size || h->slots != r->slots ||
	    memcmp(h->uuid, r->uuid, HB_UUID_LEN) != 0)
		return -ESTALE;
	return 0;
}

/* ---- heartbeats ---- */

static bool beat_ok(const struct hb_beat *b)
{
	int n = name_str_len(b->name);

	return b->nodeid >= 1 && b->nodeid <= HB_MAX_NODEID && n > 0 &&
	       b->paths_up <= b->paths_total;
}

int hb_beat_encode(const struct hb_beat *b, uint8_t *out, size_t len)
{
	if (!hb_sector_size_ok((uint32_t)len) || len != (uint32_t)len || !beat_ok(b))
		return -EINVAL;
	memset(out, 0, len);
	memcpy(out + HB_MAGIC, HB_BEAT_MAGIC, 8);
	put_le16(out + HB_VERSION, HB_BEAT_VERSION);
	put_le16(out + HB_FLAGS, b->quorate ? HB_FLAG_QUORATE : 0);
	put_le32(out + HB_NODEID, b->nodeid);
	put_le64(out + HB_COUNTER, b->counter);
	put_le64(out + HB_MONO, b->mono_ms);
	put_le64(out + HB_WALL, b->wall_ms);
	put_le64(out + HB_RING, b->ring_id);
	put_le64(out + HB_LIVESET, b->liveset);
	out[HB_PTOTAL] = b->paths_total;
	out[HB_PUP] = b->paths_up;
	put_name(out + HB_NAME, b->name, name_str_len(b->name));
	put_le32(out + HB_CRC, sector_crc(out, len, HB_CRC));
	return 0;
}

static int beat_decode(const uint8_t *p, size_t len, struct hb_beat *b)
{
	uint16_t flags;

	if (!hb_sector_size_ok((uint32_t)len) || len != (uint32_t)len)
		return -EBADMSG;
	if (all_zero(p, len))
		return -ENODATA;
	if (memcmp(p + HB_MAGIC, HB_BEAT_MAGIC, 8) != 0)
		return -EBADMSG;
	if (get_le16(p + HB_VERSION) != HB_BEAT_VERSION)
		return -EPROTO;
	if (get_le32(p + HB_CRC) != sector_crc(p, len, HB_CRC))
		return -EILSEQ;
	flags = get_le16(p + HB_FLAGS);
	if ((flags & ~HB_FLAG_QUORATE) != 0)
		return -EBADMSG;
	if (p[HB_RESERVED] != 0 || p[HB_RESERVED + 1] != 0 ||
	    !all_zero(p + HB_END, len - HB_END))
		return -EBADMSG;
	if (name_field_len(p + HB_NAME) <= 0)
		return -EBADMSG;
	b->nodeid = get_le32(p + HB_NODEID);
	memcpy(b->name, p + HB_NAME, HB_NAME_MAX);
	b->counter = get_le64(p + HB_COUNTER);
	b->mono_ms = get_le64(p + HB_MONO);
	b->wall_ms = get_le64(p + HB_WALL);
	b->ring_id = get_le64(p + HB_RING);
	b->liveset = get_le64(p + HB_LIVESET);
	b->quorate = (flags & HB_FLAG_QUORATE) != 0;
	b->paths_total = p[HB_PTOTAL];
	b->paths_up = p[HB_PUP];
	if (!beat_ok(b))
		return -EBADMSG;
	return 0;
}

int hb_beat_decode(const uint8_t *p, size_t len, struct hb_beat *out)
{
	int rc = beat_decode(p, len, out);

	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* ---- a whole new disk ---- */

static int image_params(const struct hb_header *h, uint32_t lease_count,
			struct hb_layout *l, size_t *len)
{
	if (!header_ok(h) || h->minor_version != HB_SBD_MINOR)
		return -EINVAL;
	if (hb_timeouts_check(h, NULL) < 0 || lease_count > HB_MAX_LEASE_SECTORS)
		return -EINVAL;
	if (hb_layout(h->slots, h->sector_size, l) < 0)
		return -EINVAL;
	/* at most (577 + 65536) * 4096 bytes: fits a size_t on 32 bits */
	*len = ((size_t)l->lease_first + lease_count) * h->sector_size;
	return 0;
}

int hb_disk_image_len(const struct hb_header *h, uint32_t lease_count, size_t *len)
{
	struct hb_layout l;

	return image_params(h, lease_count, &l, len);
}

int hb_disk_init_image(const struct hb_header *h, uint32_t lease_count,
		       uint8_t *buf, size_t len)
{
	struct hb_layout l;
	struct hb_region r;
	size_t want, ss;
	int rc;

	rc = image_params(h, lease_count, &l, &want);
	if (rc < 0)
		return rc;
	if (len != want)
		return -EINVAL;
	ss = h->sector_size;

	/* empty slots and mailboxes are zero sectors, as `sbd create`
	 * writes them; heartbeats and leases start never written */
	memset(buf, 0, len);
	rc = hb_header_encode(h, buf, ss);
	if (rc < 0)
		return rc;
	memset(&r, 0, sizeof(r));
	r.sector_size = h->sector_size;
	r.slots = h->slots;
	r.beat_first = l.beat_first;
	r.beat_count = l.beat_count;
	r.lease_first = l.lease_first;
	r.lease_count = lease_count;
	memcpy(r.uuid, h->uuid, HB_UUID_LEN);
	return hb_region_encode(&r, buf + (size_t)l.region * ss, ss);
}
