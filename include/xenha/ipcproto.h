/*
 * hactl <-> xenhad request protocol (pure).  One libqb IPC request per
 * operation: a qb_ipc_request_header with id XH_IPC_REQUEST followed by
 * a JSON object (UTF-8, not NUL-terminated).  The response is a
 * qb_ipc_response_header (id XH_IPC_RESPONSE) followed by a JSON object
 * {"rc": 0 | -errno, "error": "text" (when rc != 0), "data": {...}}.
 */
#ifndef XENHA_IPCPROTO_H
#define XENHA_IPCPROTO_H

#include <stddef.h>
#include <stdint.h>
#include "xenha/state.h"

#define XH_IPC_NAME "xenha"
#define XH_IPC_REQUEST 1
#define XH_IPC_RESPONSE 2
#define XH_IPC_MAX_MSG (1u << 20)

enum ipc_op {
	IPC_OP_STATUS = 1,
	IPC_OP_NODES,
	IPC_OP_DOMAINS,
	IPC_OP_HISTORY,
	IPC_OP_DOMAIN_ADD,
	IPC_OP_DOMAIN_REMOVE,
	IPC_OP_DOMAIN_SET,
	IPC_OP_DOMAIN_START,
	IPC_OP_DOMAIN_STOP,
	IPC_OP_FENCE_CONFIRM,
	IPC_OP_NODE_FLAGS,
	IPC_OP_FENCE_BEGIN,               /* from xenha-fenced: history only */
	IPC_OP_DISARM,                    /* pause HA actions for for_ms (0: re-arm now) */
	IPC_OP_MIGRATE,                   /* live-migrate domain name to host (or the best) */
	IPC_OP__COUNT
};

struct ipc_req {
	uint8_t op;                       /* enum ipc_op */
	char name[XH_NAME_MAX];           /* domain (domain-*) or host (fence-confirm, node-flags) */
	uint32_t limit;                   /* history: newest N events (0 = all);
	                                     domains (no name): page size (0 = all) */
	uint32_t offset;                  /* domains (no name): first domain of the page */
	struct xh_domain_def def;         /* domain-add, domain-set; def.xlcfg owned by the request */
	uint32_t mask;                    /* domain-set: enum xh_dset_field bits */
	int8_t standby, maintenance;      /* node-flags: -1 unchanged, 0, 1 */
	char by[XH_NAME_MAX];             /* fence-confirm (optional), fence-begin: who and how */
	uint32_t for_ms;                  /* disarm: 0 (re-arm) .. IPC_DISARM_MAX_MS */
	char host[XH_NAME_MAX];           /* migrate: the target host ("" = the scheduler picks) */
};

#define IPC_DISARM_MAX_MS (7u * 24 * 3600 * 1000)  /* a week */

/*
 * Decode a request; 0, -EINVAL with a message in err (err may be NULL), or
 * -ENOMEM.  Strict: unknown keys, wrong types, out-of-range numbers,
 * missing required fields, names that do not fit XH_NAME_MAX or hold
 * control characters, an xl.cfg over XH_XLCFG_MAX, invalid UTF-8 and
 * trailing data are all refused.  domain-add: absent fields take the
 * defaults of xh_domain_def_init() and the whole definition must pass
 * xh_domain_def_check(); out->name is the domain's name.  domain-set:
 * out->mask holds one bit per key present in "def", and out->def.name is
 * out->name.  node-flags: absent flags are -1.  On failure *out is empty.
 * Free with ipc_req_free() (also safe after a failure).
 */
int ipc_req_decode(const char *json, size_t len, struct ipc_req *out,
		   char *err, size_t errlen);
/* Encode a request as JSON; *out malloc'd NUL-terminated.  0, -EINVAL
 * (unknown op, missing name, empty domain-set mask, node-flags without a
 * flag, unterminated strings) or -ENOMEM.  domain-add carries the whole
 * definition, domain-set only the fields in mask. */
int ipc_req_encode(const struct ipc_req *r, char **out);
void ipc_req_free(struct ipc_req *r);
const char *ipc_op_str(uint8_t op);
int ipc_op_parse(const char *s, uint8_t *out);

/*
 * Responses.  Encoding is for the server, decoding for clients; both are
 * pure.  ipc_resp_encode() borrows data (takes its own reference) and
 * writes {"rc":rc,"error":error,"data":data}: "error" only when rc != 0
 * (a NULL error is written as ""), "data" only when data is not NULL.
 * *out malloc'd, NUL-terminated.  0 or -errno.
 */
struct json_object;
#define XH_IPC_ERROR_MAX 256

struct ipc_resp {
	int rc;                       /* 0 or -errno reported by the daemon */
	char error[XH_IPC_ERROR_MAX]; /* daemon's reason ("" if none); truncated */
	struct json_object *data;     /* owned (ipc_resp_free); NULL if absent or null */
};

int ipc_resp_encode(int rc, const char *error, struct json_object *data,
		    char **out);
/* Decode a response: "rc" required (integer in [-4095, 0]); "error"
 * string and "data" object or null optional; other keys ignored (the
 * daemon is trusted and may add some).  0 or -EINVAL with err. */
int ipc_resp_decode(const char *json, size_t len, struct ipc_resp *out,
		    char *err, size_t errlen);
void ipc_resp_free(struct ipc_resp *r);

#endif
