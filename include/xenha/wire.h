/*
 * xenha wire codec (pure): cluster messages carried over CPG and the
 * state snapshot (also the on-disk state file).
 *
 * Frame layout (all integers little-endian):
 *   0  magic   "XHW1" (4 bytes)
 *   4  version u16 (WIRE_VERSION)
 *   6  type    u16 (enum wire_msg_type)
 *   8  length  u32 payload bytes
 *  12  crc32   u32 (zlib crc32) over bytes [0,12) and the payload
 *  16  payload
 * Decoders reject bad magic, unknown version/type, any length mismatch
 * (every truncation), trailing bytes and bad checksums.
 *
 * Versions: 1 (before live migration) and 2, which adds the commands
 * MIGRATE_BEGIN/DONE/ABORTED and DISARM, and to the snapshot the domain
 * fields mig_target and mig_id, the state's disarmed_until_ms, the domain
 * state MIGRATING and the events MIGRATION and DISARM (byte layout:
 * docs/migration.md).  An encoder writes the LOWEST version that can carry
 * the value: old command types and snapshots without migration or disarm
 * facts stay version 1, byte for byte, so a cluster keeps working while
 * its nodes are upgraded one by one (until a new command is used), and a
 * version-1 state file still loads.  A decoder accepts both versions and
 * refuses a version-2 frame that version 1 could have carried (the
 * encoding stays canonical) and a version-1 frame with version-2 content.
 * A version-1 node refuses every version-2 frame (-EPROTO).
 */
#ifndef XENHA_WIRE_H
#define XENHA_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include "xenha/state.h"

#define WIRE_MAGIC "XHW1"
#define WIRE_VERSION 2       /* newest version this codec writes and reads */
#define WIRE_VERSION_MIN 1   /* oldest version it still reads (and writes) */
#define WIRE_HDR_LEN 16
#define WIRE_MAX_PAYLOAD (64u << 20)
/* Largest history ring (xh_state.ev_cap) a snapshot may carry. */
#define WIRE_HISTORY_MAX 100000u

enum wire_msg_type {
	WIRE_CMD = 1,        /* struct xh_cmd + request id */
	WIRE_SYNC_OFFER = 2, /* struct wire_offer */
	WIRE_SNAP_CHUNK = 3, /* struct wire_chunk */
	WIRE_SNAPSHOT = 4,   /* a whole struct xh_state (state file, chunk payloads) */
	WIRE_MIG_PROGRESS = 5, /* struct wire_progress (version 2; not a command:
				  never applied to the state, never buffered) */
};

/* A migration's progress, multicast by the source about once a second so
 * `hactl migrate` and `hactl node standby` show it on every host. */
struct wire_progress {
	uint32_t nodeid;     /* the source (sender) */
	char name[XH_NAME_MAX];
	uint64_t mig_id;
	uint32_t target;
	uint32_t round;
	uint64_t bytes_sent;
	uint64_t pages_total, pages_left;
	uint64_t dirty_kib_s;
	uint32_t elapsed_ms; /* since the stream started */
};

/* A command as sent on the wire, with the requester's id so the sender
 * can answer the waiting hactl when the command is delivered. */
struct wire_cmd {
	uint64_t req_id;     /* sender-local request id, 0 = none */
	struct xh_cmd cmd;   /* cmd.u.dom.def.xlcfg points into the decoded buffer copy:
	                        see wire_decode_cmd */
};

/* Sync round: one offer per member after a configuration change. */
struct wire_offer {
	uint32_t nodeid;
	uint64_t qseq, seq;
	uint32_t digest;     /* crc32 of the encoded snapshot */
	uint32_t n_members;  /* the membership this offer was made for, sorted */
	uint32_t members[XH_MAX_HOSTS];
};

/* One piece of a snapshot sent by the sync winner. */
struct wire_chunk {
	uint32_t nodeid;     /* winner */
	uint64_t round;      /* winner's round id (its seq when the snapshot was taken) */
	uint32_t index, count;
	uint32_t total_len;  /* full snapshot frame length */
	uint32_t len;
	const uint8_t *data; /* points into the decoded buffer */
};

/* Growable output buffer. */
struct wire_buf {
	uint8_t *data;
	size_t len, cap;
};
void wire_buf_init(struct wire_buf *b);
void wire_buf_free(struct wire_buf *b);

/* Peek at a frame header: 0 and *type, *total (header+payload) or -EBADMSG /
 * -EPROTO (unknown version) / -EMSGSIZE (len < header). Does not check crc. */
int wire_peek(const uint8_t *p, size_t len, uint16_t *type, size_t *total);

/* Encoders append one full frame to out.  0 or -ENOMEM / -EINVAL (a value
 * the decoder would refuse: unknown command type, enum or flag out of
 * range, a string without room for its NUL, a count over its limit, an
 * unsorted offer membership, a payload over WIRE_MAX_PAYLOAD).  On error
 * out is left as it was.  Byte layout: docs/wire-format.md. */
int wire_encode_cmd(struct wire_buf *out, const struct wire_cmd *c);
int wire_encode_offer(struct wire_buf *out, const struct wire_offer *o);
int wire_encode_chunk(struct wire_buf *out, const struct wire_chunk *c);
int wire_encode_snapshot(struct wire_buf *out, const struct xh_state *s);

/*
 * Decoders take exactly one frame (len must equal the frame's length).
 * wire_decode_cmd: c->cmd.u.dom.def.xlcfg, if present, is a malloc'd copy
 * the caller frees with wire_cmd_free().
 * wire_decode_snapshot: initialises *s (xh_state_init) and fills it; on
 * error *s is left freed.  Returns 0 or -EBADMSG (malformed), -EPROTO
 * (version), -EILSEQ (checksum), -ENOMEM.  A snapshot is also refused
 * (-EBADMSG) unless hosts and domains are strictly sorted and
 * xh_state_check() accepts the result.  On any error the output is zeroed.
 */
int wire_decode_cmd(const uint8_t *p, size_t len, struct wire_cmd *c);
void wire_cmd_free(struct wire_cmd *c);
int wire_decode_offer(const uint8_t *p, size_t len, struct wire_offer *o);
/* Progress frames: the name must be a non-empty string; 0 or -errno as above. */
int wire_encode_progress(struct wire_buf *out, const struct wire_progress *pr);
int wire_decode_progress(const uint8_t *p, size_t len, struct wire_progress *pr);
int wire_decode_chunk(const uint8_t *p, size_t len, struct wire_chunk *c);
int wire_decode_snapshot(const uint8_t *p, size_t len, struct xh_state *s);

/* crc32 (zlib polynomial) helper. */
uint32_t wire_crc32(const uint8_t *p, size_t len);

#endif
