/*
 * Fixtures for tests/unit/test_wire.c: the values behind the golden
 * vectors, field-by-field comparisons, and small byte helpers.  Kept in
 * their own file so the test program stays readable; they are part of
 * the same test program (one program per module).
 *
 * Comparisons and builders fail the running cmocka test on error.
 */
#ifndef XENHA_WIRE_FIXTURES_H
#define XENHA_WIRE_FIXTURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xenha/state.h"
#include "xenha/wire.h"

/* Copy src into a fixed field of size len, NUL-padded (src must fit). */
void tw_set_str(char *dst, size_t len, const char *src);
bool tw_all_zero(const void *p, size_t len);
/* Whole file, malloc'd; fails the test if it cannot be read. */
uint8_t *tw_read_whole(const char *path, size_t *len);
void tw_write_whole(const char *path, const uint8_t *p, size_t len);
/* Recompute the length and crc32 of a frame of len bytes (computed here
 * with zlib directly, independently of wire.c). */
void tw_reseal(uint8_t *f, size_t len);
/* Deterministic PRNG (xorshift64*), fixed seed: failures reproduce. */
uint32_t tw_rnd(void);

/* One golden vector per command type. */
struct cmd_case {
	uint8_t type;
	const char *file;
};
extern const struct cmd_case tw_cmd_cases[];
extern const size_t tw_n_cmd_cases;
extern const char tw_xl_web1[];
extern const char tw_xl_db1[];

/* A command of this type with every field of its union member set to a
 * non-default value.  xlcfg points to static text. */
void tw_make_cmd(uint8_t type, struct wire_cmd *wc);
void tw_assert_cmd_eq(const struct wire_cmd *x, const struct wire_cmd *y);
void tw_make_offer(struct wire_offer *o);
void tw_assert_offer_eq(const struct wire_offer *a, const struct wire_offer *b);
void tw_make_chunk(struct wire_chunk *c);
void tw_assert_chunk_eq(const struct wire_chunk *a, const struct wire_chunk *b);

/* Building states by hand (not through apply(), so the vectors do not
 * follow the state machine's event texts).  Hosts and domains are
 * appended: callers add them in sorted order. */
void tw_add_host(struct xh_state *s, uint32_t nodeid, const char *name,
		 bool member, uint8_t fence);
struct xh_domain *tw_add_domain(struct xh_state *s, const char *name,
				const char *xlcfg);
void tw_place(struct xh_domain *d, uint8_t st, uint32_t owner, uint32_t last,
	      uint64_t gen, const char *reason);
void tw_add_event(struct xh_state *s, uint8_t type, uint32_t nodeid,
		  const char *dom, const char *text);
/* The golden snapshot: 3 hosts, 3 domains, a wrapped ring of 4. */
void tw_make_small_state(struct xh_state *s);
/* 3 hosts + 20 domains (every placement state) + a wrapped ring of 8. */
void tw_make_medium_state(struct xh_state *s);
/* Equal field by field; events compared oldest first. */
void tw_assert_state_eq(const struct xh_state *a, const struct xh_state *b);

#endif
