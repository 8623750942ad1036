/*
 * Hypervisor driver ops table.  One const instance per backend ("sim",
 * later "xen"), chosen by name with hv_find().  The daemon's executor and
 * domain monitor go through this table only.
 *
 * Threading: none.  A driver that needs to wait for events exposes a file
 * descriptor (get_fd) that the daemon adds to its qb_loop; when it is
 * readable the daemon calls dispatch(), which reports ended domains
 * through the callback given at open().
 */
#ifndef XENHA_HV_H
#define XENHA_HV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "xenha/state.h"

struct hv;         /* opaque driver instance */
struct xh_config;  /* include/xenha/config.h */

/* A domain as the hypervisor sees it. */
struct hv_domain_info {
	char name[XH_NAME_MAX];
	uint64_t generation;          /* placement generation it was started with */
	bool running;                 /* false: exists but paused/dying */
	uint32_t memory_mb;
	pid_t pid;                    /* sim: the domain process; xen: 0 */
	uint32_t domid;               /* xen: domid; sim: 0 */
};

/* Why a domain ended. */
enum hv_end_reason {
	HV_END_CRASH = 1,     /* killed by a signal / crashed */
	HV_END_SHUTDOWN = 2,  /* guest shut itself down cleanly */
	HV_END_STOPPED = 3,   /* we stopped or destroyed it */
};

typedef void (*hv_end_cb)(void *arg, const char *name, uint64_t generation,
			  int reason /* enum hv_end_reason */, const char *detail);

/* What to start: the state's definition plus the placement generation. */
struct hv_start_req {
	const char *name;
	const char *xlcfg;            /* may be NULL (sim) */
	uint32_t memory_mb;
	uint64_t generation;
	uint32_t nodeid;              /* starting host, for the incarnation id */
};

struct hv_ops {
	const char *name;             /* "sim", "xen" */
	/* Create a driver instance; cfg gives driver settings.  0 or -errno. */
	int (*open)(const struct xh_config *cfg, hv_end_cb cb, void *cb_arg,
		    struct hv **out);
	void (*close)(struct hv *h);
	/* fd to poll for readability (domain ends), or -1 if none. */
	int (*get_fd)(struct hv *h);
	/* Handle pending events: calls the end callback for each ended domain. */
	int (*dispatch)(struct hv *h);
	/* Memory the host offers guests, MiB. */
	int (*host_memory)(struct hv *h, uint64_t *total_mb);
	/* Start a domain; returns once it runs (or failed).  -EEXIST if a
	 * domain of that name already runs here. */
	int (*start)(struct hv *h, const struct hv_start_req *req);
	/* Clean shutdown: ask, wait up to timeout_ms, then destroy.  0 when gone. */
	int (*shutdown)(struct hv *h, const char *name, uint32_t timeout_ms);
	/* Immediate destroy.  0 when gone, -ENOENT if not here. */
	int (*destroy)(struct hv *h, const char *name);
	/* List domains managed by xenha on this host (also after a daemon
	 * restart).  *out malloc'd array, caller frees. */
	int (*list)(struct hv *h, struct hv_domain_info **out, uint32_t *n);
};

/* Registry: all compiled-in drivers. */
const struct hv_ops *hv_find(const char *name);
extern const struct hv_ops hv_sim_ops;

#endif
