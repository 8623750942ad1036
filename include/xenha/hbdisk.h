/*
 * xenha heartbeat-disk codec (pure): the shared LUN that xenha-fenced
 * uses for the storage heartbeat and the poison pill.
 *
 * The first part of the disk is sbd's on-disk format version 2, byte
 * for byte, so Debian's `sbd -d DEV dump|list|message` works on a xenha
 * disk.  After sbd's area comes the xenha region: one descriptor sector,
 * then one heartbeat sector per node id 1..HB_MAX_NODEID, then a lease
 * area reserved for per-domain generation leases.
 *
 *   sector 0                    sbd header (HB_SBD_MAGIC, version 2)
 *   sector 1 + 2*i              sbd slot i (in use, node name)
 *   sector 2 + 2*i              sbd mailbox i (message type, sender)
 *   sector 2*slots + 1          xenha region descriptor
 *   sector 2*slots + 2 + (n-1)  heartbeat of node id n (1..64)
 *   sector 2*slots + 66 ...     lease area (lease_count sectors)
 *
 * Byte layouts, the sbd sources each fact comes from, and the error
 * order of every decoder: docs/hbdisk-format.md.
 *
 * Conventions: every function returns 0 or -errno and writes its result
 * through a pointer.  Encoders fill exactly one whole sector (len is
 * the sector size, 512 or 4096) and refuse (-EINVAL) any value the
 * decoder would refuse.  Decoders take exactly one whole sector; on any
 * error the output is zeroed.  The sbd sectors carry no checksum (sbd
 * has none), so their decoders check structure only: magic, version,
 * ranges, NUL-terminated names, zero padding.  The xenha sectors carry
 * a zlib crc32 over the whole sector.  Decoder errors:
 *   -EBADMSG  wrong length (every truncation), bad magic, a field out of
 *             range, non-zero padding
 *   -EPROTO   unknown version (sbd header, xenha records); unknown sbd
 *             message type (sbd itself logs and clears such a mailbox)
 *   -EILSEQ   crc mismatch (xenha records)
 *   -ENODATA  an all-zero xenha sector: never written
 *   -EOPNOTSUPP a valid sbd header whose sector size xenha does not
 *             support (anything but 512 and 4096)
 */
#ifndef XENHA_HBDISK_H
#define XENHA_HBDISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HB_SBD_MAGIC      "SBD_SBD_"  /* 8 bytes, no NUL on disk */
#define HB_SBD_VERSION    2
#define HB_SBD_MINOR      1           /* what hb_disk_init_image writes: has a uuid */
#define HB_MAX_SLOTS      255         /* a u8 on disk; what `sbd create` makes */
#define HB_NAME_MAX       64          /* bytes incl. NUL (sbd SECTOR_NAME_MAX + 1) */
#define HB_UUID_LEN       16
#define HB_MAX_NODEID     64          /* heartbeat sectors and liveset bits */
#define HB_MAX_LEASE_SECTORS 65536u   /* cap on the reserved lease area */
#define HB_TIMEOUT_MAX    86400u      /* seconds; any header timeout above is refused */

#define HB_REGION_MAGIC   "XHARG001"
#define HB_REGION_VERSION 1
#define HB_BEAT_MAGIC     "XHAHB001"
#define HB_BEAT_VERSION   1

/* True for the sector sizes xenha supports: 512 and 4096. */
bool hb_sector_size_ok(uint32_t sector_size);

/* ---- sbd header (sector 0) ---- */

/* Timeouts are in seconds, as sbd keeps them. */
struct hb_header {
	uint8_t minor_version;      /* 0: no uuid; 1: uuid valid (sbd >= 1.2) */
	uint8_t slots;              /* 1..255 */
	uint32_t sector_size;       /* 512 or 4096; must match the device */
	uint32_t timeout_watchdog;  /* sbd -1 */
	uint32_t timeout_allocate;  /* sbd -2 */
	uint32_t timeout_loop;      /* sbd -3 */
	uint32_t timeout_msgwait;   /* sbd -4 */
	uint8_t uuid[HB_UUID_LEN];
};

/*
 * Encode h into one sector: out[0..len), len == h->sector_size.
 * 0, or -EINVAL (slots 0, unsupported sector size, len mismatch,
 * minor_version > 1: we cannot write extensions we do not know).
 * Timeouts are not judged here; see hb_timeouts_check.
 */
int hb_header_encode(const struct hb_header *h, uint8_t *out, size_t len);

/*
 * Decode sector 0.  len must equal the sector size recorded in the
 * header (so the caller passes one sector of the device); a shorter or
 * longer buffer is -EBADMSG.  Minor versions above 1 are sbd's
 * "compatible and optional" extensions: accepted, their bytes ignored.
 */
int hb_header_decode(const uint8_t *p, size_t len, struct hb_header *out);

/*
 * Judge the timeouts in h: watchdog >= 1, 1 <= loop < watchdog,
 * msgwait >= 2 * watchdog, allocate >= 1, none above HB_TIMEOUT_MAX.
 * 0, or -EINVAL with *reason (may be NULL) set to a static lower-case
 * explanation.
 */
int hb_timeouts_check(const struct hb_header *h, const char **reason);

/* ---- sbd slot (node name) and mailbox (message) sectors ---- */

struct hb_slot {
	bool in_use;
	char name[HB_NAME_MAX];     /* 1..63 bytes if in_use, all zero if not */
};

/* Encode/decode one slot sector; len is the sector size (512 or 4096).
 * On disk: in_use u8 (0 or 1), name[64] NUL-padded, rest zero. */
int hb_slot_encode(const struct hb_slot *s, uint8_t *out, size_t len);
int hb_slot_decode(const uint8_t *p, size_t len, struct hb_slot *out);

/* sbd's message types, with sbd's values (a signed char on disk). */
enum hb_msg_type {
	HB_MSG_CLEAR = 0,           /* empty mailbox ("clear") */
	HB_MSG_TEST = 1,
	HB_MSG_RESET = 2,
	HB_MSG_OFF = 3,
	HB_MSG_EXIT = 4,
	HB_MSG_CRASHDUMP = 5,
};
#define HB_MSG_TYPE_MAX HB_MSG_CRASHDUMP

/* sbd's word for t ("clear", "test", "reset", "off", "exit",
 * "crashdump"), or "undefined". */
const char *hb_msg_type_str(enum hb_msg_type t);
/* The reverse, for the words above: 0 or -EINVAL. */
int hb_msg_type_parse(const char *word, enum hb_msg_type *out);

struct hb_msg {
	enum hb_msg_type type;
	char from[HB_NAME_MAX];     /* sender's node name, 0..63 bytes */
};

/* Encode/decode one mailbox sector; len is the sector size.
 * On disk: cmd i8, from[64] NUL-padded, rest zero.  An unknown cmd
 * value decodes as -EPROTO (sbd logs it and clears the mailbox). */
int hb_msg_encode(const struct hb_msg *m, uint8_t *out, size_t len);
int hb_msg_decode(const uint8_t *p, size_t len, struct hb_msg *out);

/* ---- layout ---- */

/* Sector numbers (multiply by sector_size for a byte offset). */
struct hb_layout {
	uint32_t sector_size;
	uint32_t slots;
	uint32_t header;            /* 0 */
	uint32_t sbd_sectors;       /* 2*slots + 1: sectors [0, sbd_sectors) are sbd's */
	uint32_t region;            /* the xenha region descriptor: sbd_sectors */
	uint32_t beat_first;        /* heartbeat of node id n: beat_first + n - 1 */
	uint32_t beat_count;        /* HB_MAX_NODEID */
	uint32_t lease_first;       /* first sector of the lease area */
};

/* Layout of a disk with `slots` sbd slots (1..255) and the given sector
 * size (512 or 4096).  0 or -EINVAL. */
int hb_layout(unsigned slots, uint32_t sector_size, struct hb_layout *out);

/* Sector of slot i / mailbox i / node id n's heartbeat: 0 or -ERANGE
 * (i >= slots, n outside 1..HB_MAX_NODEID). */
int hb_layout_slot(const struct hb_layout *l, unsigned i, uint32_t *sector);
int hb_layout_mbox(const struct hb_layout *l, unsigned i, uint32_t *sector);
int hb_layout_beat(const struct hb_layout *l, uint32_t nodeid, uint32_t *sector);

/* ---- xenha region descriptor (sector l.region) ---- */

/*
 * Says the xenha region exists and where its parts are.  A disk whose
 * descriptor is missing (-ENODATA: a plain sbd disk) or does not match
 * its header (hb_region_check) must not be used for xenha heartbeats.
 */
struct hb_region {
	uint32_t sector_size;
	uint32_t slots;             /* the sbd header's slot count */
	uint32_t beat_first, beat_count;
	uint32_t lease_first, lease_count;
	uint8_t uuid[HB_UUID_LEN];  /* the sbd header's uuid */
};

/* Encode/decode; len is the sector size and must equal r->sector_size.
 * The decoder also requires beat_first, beat_count and lease_first to
 * be the hb_layout values for (slots, sector_size), and lease_count <=
 * HB_MAX_LEASE_SECTORS. */
int hb_region_encode(const struct hb_region *r, uint8_t *out, size_t len);
int hb_region_decode(const uint8_t *p, size_t len, struct hb_region *out);

/* Does descriptor r belong to header h (same sector size, slot count
 * and uuid)?  0 or -ESTALE (someone re-created sbd's area over ours). */
int hb_region_check(const struct hb_header *h, const struct hb_region *r);

/* ---- per-node heartbeat (sector l.beat_first + nodeid - 1) ---- */

struct hb_beat {
	uint32_t nodeid;            /* 1..HB_MAX_NODEID; must match its sector */
	char name[HB_NAME_MAX];     /* 1..63 bytes */
	uint64_t counter;           /* incremented on every write */
	uint64_t mono_ms;           /* writer's monotonic clock at the write */
	uint64_t wall_ms;           /* writer's wall clock (ms since epoch) */
	/* the writer's view of the membership */
	uint64_t liveset;           /* bit n-1 set: node id n is a member */
	bool quorate;
	uint64_t ring_id;           /* membership ring / round id */
	/* the writer's storage-path health */
	uint8_t paths_total;
	uint8_t paths_up;           /* <= paths_total */
};

/* Encode/decode one heartbeat sector; len is the sector size (512 or
 * 4096).  The crc covers the whole sector, so a 4096-byte sector cut to
 * 512 bytes is refused too. */
int hb_beat_encode(const struct hb_beat *b, uint8_t *out, size_t len);
int hb_beat_decode(const uint8_t *p, size_t len, struct hb_beat *out);

/* ---- a whole new disk ---- */

/*
 * Bytes of a new disk image for header h and a lease area of
 * lease_count sectors: (lease_first + lease_count) * sector_size.
 * 0 or -EINVAL (what hb_disk_init_image would refuse).
 */
int hb_disk_image_len(const struct hb_header *h, uint32_t lease_count, size_t *len);

/*
 * Write a new disk image into buf[0..len), len == hb_disk_image_len:
 * h's header (h->minor_version must be 1, uuid chosen by the caller),
 * empty slots and mailboxes, the region descriptor, never-written
 * (zero) heartbeats and a zero lease area.  The caller then writes buf
 * at offset 0 of the device.  0, or -EINVAL (a bad header, timeouts
 * hb_timeouts_check refuses, lease_count > HB_MAX_LEASE_SECTORS, len
 * mismatch); buf is untouched on error.
 */
int hb_disk_init_image(const struct hb_header *h, uint32_t lease_count,
		       uint8_t *buf, size_t len);

#endif /* XENHA_HBDISK_H */
