/*
 * Render the replicated state as JSON (pure; json-c objects).  These are
 * the "data" objects of xenhad's IPC responses and what `hactl --json`
 * prints; the schema is documented in hactl(8).
 */
#ifndef XENHA_STATEJSON_H
#define XENHA_STATEJSON_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>
#include "xenha/state.h"

/* Facts only the local daemon knows. */
struct sj_local {
	uint32_t nodeid;          /* this host */
	uint32_t coordinator;     /* node id of the coordinator, 0 if none */
	bool synced;              /* state synchronised with the membership */
	bool quorate;             /* votequorum says quorate */
	const char *hypervisor;   /* driver name */
};

struct json_object *sj_status(const struct xh_state *s, const struct sj_local *l);
struct json_object *sj_nodes(const struct xh_state *s);
/* name NULL: all domains; otherwise just that one (NULL if absent). */
struct json_object *sj_domains(const struct xh_state *s, const char *name);
/* A page of the domain list (sorted by name): at most `limit` domains (0 =
 * all) from index `offset`, as {"domains":[..],"total":N,"offset":O,"seq":S}.
 * seq is the state's command count: a client that pages through the list
 * starts over when it changes between pages. */
struct json_object *sj_domains_page(const struct xh_state *s, uint32_t offset, uint32_t limit);
/* newest `limit` events (0 = all), oldest first. */
struct json_object *sj_history(const struct xh_state *s, uint32_t limit);

#endif
