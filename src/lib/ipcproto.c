/*
 * hactl <-> xenhad request codec.  The request is small JSON so that an
 * operator can read it in a debug log and a script can build one; the
 * decoder is strict because it sits on a trust boundary (any member of
 * group haclient may talk to the daemon): every key is known, every value
 * has the right type and range, every string fits the state's fixed
 * buffers.  Whatever passes here still goes through the state machine's
 * own checks when the command is applied.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "xenha/ipcproto.h"
#include "xenha/state.h"

static const char *const op_names[IPC_OP__COUNT] = {
	[IPC_OP_STATUS] = "status",
	[IPC_OP_NODES] = "nodes",
	[IPC_OP_DOMAINS] = "domains",
	[IPC_OP_HISTORY] = "history",
	[IPC_OP_DOMAIN_ADD] = "domain-add",
	[IPC_OP_DOMAIN_REMOVE] = "domain-remove",
	[IPC_OP_DOMAIN_SET] = "domain-set",
	[IPC_OP_DOMAIN_START] = "domain-start",
	[IPC_OP_DOMAIN_STOP] = "domain-stop",
	[IPC_OP_FENCE_CONFIRM] = "fence-confirm",
	[IPC_OP_NODE_FLAGS] = "node-flags",
	[IPC_OP_FENCE_BEGIN] = "fence-begin",
	[IPC_OP_DISARM] = "disarm",
	[IPC_OP_MIGRATE] = "migrate",
};

const char *ipc_op_str(uint8_t op)
{
	if (op == 0 || op >= IPC_OP__COUNT)
		return "unknown";
	return op_names[op];
}

int ipc_op_parse(const char *s, uint8_t *out)
{
	if (s == NULL)
		return -EINVAL;
	for (uint8_t op = 1; op < IPC_OP__COUNT; op++) {
		if (strcmp(s, op_names[op]) == 0) {
			*out = op;
			return 0;
		}
	}
	return -EINVAL;
}

void ipc_req_free(struct ipc_req *r)
{
	if (r == NULL)
		return;
	/* The request owns its copy of the xl.cfg text (see ipcproto.h);
	 * the const in struct xh_domain_def is for the state machine, which
	 * only borrows it. */
	free((char *)r->def.xlcfg);
	r->def.xlcfg = NULL;
}

/* ---- decoding ---- */

/* Decoding context: the first error wins, later ones would only hide it. */
struct dctx {
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3)))
static int fail(struct dctx *d, const char *fmt, ...)
{
	va_list ap;

	if (d->err != NULL && d->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(d->err, d->errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/*
 * Names (domains, hosts, groups) end up in fixed buffers, in log lines and
 * in the operator's terminal: refuse what does not fit and control
 * characters.  allow_empty is for "group", where "" means none.
 */
static int check_name(struct dctx *d, const char *what, const char *s,
		      size_t len, bool allow_empty)
{
	if (len == 0 && !allow_empty)
		return fail(d, "%s: empty", what);
	if (len >= XH_NAME_MAX)
		return fail(d, "%s: too long (%zu bytes, max %d)", what, len,
			    XH_NAME_MAX - 1);
	if (strlen(s) != len)
		return fail(d, "%s: contains a NUL byte", what);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return fail(d, "%s: contains a control character", what);
	}
	return 0;
}

static int get_string(struct dctx *d, const char *what, struct json_object *v,
		      const char **s, size_t *len)
{
	if (!json_object_is_type(v, json_type_string))
		return fail(d, "%s: expected a string", what);
	*s = json_object_get_string(v);
	*len = (size_t)json_object_get_string_len(v);
	return 0;
}

static int get_name(struct dctx *d, const char *what, struct json_object *v,
		    char out[XH_NAME_MAX], bool allow_empty)
{
	const char *s = NULL;
	size_t len = 0;
	int rc;

	if ((rc = get_string(d, what, v, &s, &len)) < 0)
		return rc;
	if ((rc = check_name(d, what, s, len, allow_empty)) < 0)
		return rc;
	memcpy(out, s, len + 1);
	return 0;
}

/* An integer in [lo, hi]; json-c keeps doubles and ints apart, so 1.0 is
 * refused like "1". */
static int get_int(struct dctx *d, const char *what, struct json_object *v,
		   int64_t lo, int64_t hi, int64_t *out)
{
	int64_t x = 0;

	if (!json_object_is_type(v, json_type_int))
		return fail(d, "%s: expected an integer", what);
	x = json_object_get_int64(v);
	/* json-c saturates values beyond int64 to INT64_MIN/MAX: still out
	 * of every range used here. */
	if (x < lo || x > hi)
		return fail(d, "%s: %" PRId64 " out of range [%" PRId64 ", %" PRId64 "]",
			    what, x, lo, hi);
	*out = x;
	return 0;
}

static int get_u32(struct dctx *d, const char *what, struct json_object *v,
		   uint32_t lo, uint32_t *out)
{
	int64_t x = 0;
	int rc;

	if ((rc = get_int(d, what, v, lo, UINT32_MAX, &x)) < 0)
		return rc;
	*out = (uint32_t)x;
	return 0;
}

static int get_bool(struct dctx *d, const char *what, struct json_object *v,
		    bool *out)
{
	if (!json_object_is_type(v, json_type_boolean))
		return fail(d, "%s: expected true or false", what);
	*out = json_object_get_boolean(v);
	return 0;
}

static int get_host_list(struct dctx *d, const char *what, struct json_object *v,
			 char list[XH_MAX_PREF][XH_NAME_MAX], uint8_t *n)
{
	size_t len = 0;
	char item[80];
	int rc;

	if (!json_object_is_type(v, json_type_array))
		return fail(d, "%s: expected an array of host names", what);
	len = json_object_array_length(v);
	if (len > XH_MAX_PREF)
		return fail(d, "%s: %zu hosts, at most %d allowed", what, len,
			    XH_MAX_PREF);
	for (size_t i = 0; i < len; i++) {
		snprintf(item, sizeof(item), "%s[%zu]", what, i);
		rc = get_name(d, item, json_object_array_get_idx(v, i), list[i],
			      false);
		if (rc < 0)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (strcmp(list[i], list[j]) == 0)
				return fail(d, "%s: host %s listed twice", what,
					    list[i]);
	}
	*n = (uint8_t)len;
	return 0;
}

/* Which keys a domain definition may carry, and the domain-set mask bit
 * each one sets (0: not settable by domain-set). */
static const struct def_key {
	const char *key;
	uint32_t mask;
} def_keys[] = {
	{ "name", 0 },
	{ "memory_mb", XH_DSET_MEMORY },
	{ "priority", XH_DSET_PRIORITY },
	{ "restart", XH_DSET_RESTART },
	{ "max_restarts", XH_DSET_MAX_RESTARTS },
	{ "max_relocations", XH_DSET_MAX_RELOCATIONS },
	{ "preferred", XH_DSET_PREFERRED },
	{ "avoided", XH_DSET_AVOIDED },
	{ "group", XH_DSET_GROUP },
	{ "xlcfg", XH_DSET_XLCFG },
	{ "start", 0 },
};

static const struct def_key *def_key_find(const char *key)
{
	for (size_t i = 0; i < sizeof(def_keys) / sizeof(def_keys[0]); i++)
		if (strcmp(def_keys[i].key, key) == 0)
			return &def_keys[i];
	return NULL;
}

/*
 * Decode "def".  For domain-add (is_set false) the absent fields keep the
 * defaults of xh_domain_def_init() and "name" is required; for domain-set
 * only the present fields count, they make up *mask, and "name"/"start"
 * are refused (the name is the request's, and start/stop are commands of
 * their own).
 */
static int decode_def(struct dctx *d, struct json_object *obj, bool is_set,
		      struct xh_domain_def *def, uint32_t *mask)
{
	bool have_name = false;
	int64_t x = 0;
	bool b = false;
	int rc = 0;

	if (!json_object_is_type(obj, json_type_object))
		return fail(d, "def: expected an object");

	json_object_object_foreach(obj, key, v) {
		const struct def_key *k = def_key_find(key);
		char what[48];

		if (k == NULL)
			return fail(d, "def: unknown key \"%.40s\"", key);
		if (is_set && k->mask == 0)
			return fail(d, "def: \"%s\" cannot be changed by domain-set",
				    key);
		if (is_set)
			*mask |= k->mask;
		snprintf(what, sizeof(what), "def.%s", key);

		if (strcmp(key, "name") == 0) {
			rc = get_name(d, what, v, def->name, false);
			have_name = true;
		} else if (strcmp(key, "memory_mb") == 0) {
			rc = get_u32(d, what, v, 1, &def->memory_mb);
		} else if (strcmp(key, "priority") == 0) {
			rc = get_int(d, what, v, INT32_MIN, INT32_MAX, &x);
			def->priority = (int32_t)x;
		} else if (strcmp(key, "restart") == 0) {
			const char *s = NULL;
			size_t len = 0;

			rc = get_string(d, what, v, &s, &len);
			if (rc == 0 && (strlen(s) != len ||
					xh_restart_parse(s, &def->restart) < 0))
				rc = fail(d, "%s: must be always, on-crash or never",
					  what);
		} else if (strcmp(key, "max_restarts") == 0) {
			rc = get_u32(d, what, v, 0, &def->max_restarts);
		} else if (strcmp(key, "max_relocations") == 0) {
			rc = get_u32(d, what, v, 0, &def->max_relocations);
		} else if (strcmp(key, "preferred") == 0) {
			rc = get_host_list(d, what, v, def->preferred,
					   &def->n_preferred);
		} else if (strcmp(key, "avoided") == 0) {
			rc = get_host_list(d, what, v, def->avoided,
					   &def->n_avoided);
		} else if (strcmp(key, "group") == 0) {
			rc = get_name(d, what, v, def->group, true);
		} else if (strcmp(key, "xlcfg") == 0) {
			const char *s = NULL;
			size_t len = 0;

			rc = get_string(d, what, v, &s, &len);
			if (rc == 0 && len > XH_XLCFG_MAX)
				rc = fail(d, "%s: too long (%zu bytes, max %d)",
					  what, len, XH_XLCFG_MAX);
			if (rc == 0 && strlen(s) != len)
				rc = fail(d, "%s: contains a NUL byte", what);
			if (rc == 0) {
				char *copy = strdup(s);

				if (copy == NULL)
					return -ENOMEM;
				free((char *)def->xlcfg);
				def->xlcfg = copy;
			}
		} else if (strcmp(key, "start") == 0) {
			rc = get_bool(d, what, v, &b);
			def->start = b ? 1 : 0;
		}
		if (rc < 0)
			return rc;
	}
	if (!is_set && !have_name)
		return fail(d, "def: \"name\" is required");
	if (is_set && *mask == 0)
		return fail(d, "def: nothing to change");
	return 0;
}

/* Keys each op takes besides "op"; `required` keys must be present. */
#define K_NAME   (1u << 0)
#define K_LIMIT  (1u << 1)
#define K_DEF    (1u << 2)
#define K_FLAGS  (1u << 3) /* standby, maintenance */
#define K_OFFSET (1u << 4)
#define K_BY     (1u << 5)
#define K_FOR    (1u << 6)
#define K_HOST   (1u << 7)

static const struct op_keys {
	uint32_t allowed, required;
} op_keys[IPC_OP__COUNT] = {
	[IPC_OP_STATUS] = { 0, 0 },
	[IPC_OP_NODES] = { 0, 0 },
	[IPC_OP_DOMAINS] = { K_NAME | K_LIMIT | K_OFFSET, 0 },
	[IPC_OP_HISTORY] = { K_LIMIT, 0 },
	[IPC_OP_DOMAIN_ADD] = { K_DEF, K_DEF },
	[IPC_OP_DOMAIN_REMOVE] = { K_NAME, K_NAME },
	[IPC_OP_DOMAIN_SET] = { K_NAME | K_DEF, K_NAME | K_DEF },
	[IPC_OP_DOMAIN_START] = { K_NAME, K_NAME },
	[IPC_OP_DOMAIN_STOP] = { K_NAME, K_NAME },
	[IPC_OP_FENCE_CONFIRM] = { K_NAME | K_BY, K_NAME },
	[IPC_OP_FENCE_BEGIN] = { K_NAME | K_BY, K_NAME | K_BY },
	[IPC_OP_NODE_FLAGS] = { K_NAME | K_FLAGS, K_NAME },
	[IPC_OP_DISARM] = { K_FOR, K_FOR },
	[IPC_OP_MIGRATE] = { K_NAME | K_HOST, K_NAME },
};

static uint32_t key_bit(const char *key)
{
	if (strcmp(key, "name") == 0)
		return K_NAME;
	if (strcmp(key, "limit") == 0)
		return K_LIMIT;
	if (strcmp(key, "offset") == 0)
		return K_OFFSET;
	if (strcmp(key, "def") == 0)
		return K_DEF;
	if (strcmp(key, "by") == 0)
		return K_BY;
	if (strcmp(key, "for_ms") == 0)
		return K_FOR;
	if (strcmp(key, "host") == 0)
		return K_HOST;
	if (strcmp(key, "standby") == 0 || strcmp(key, "maintenance") == 0)
		return K_FLAGS;
	return 0;
}

static int decode_obj(struct dctx *d, struct json_object *root,
		      struct ipc_req *out)
{
	struct json_object *v;
	const struct op_keys *ok;
	const char *s = NULL;
	size_t len = 0;
	uint32_t seen = 0;
	bool b = false;
	int rc;

	if (!json_object_object_get_ex(root, "op", &v))
		return fail(d, "request: \"op\" is required");
	if ((rc = get_string(d, "op", v, &s, &len)) < 0)
		return rc;
	if (strlen(s) != len || ipc_op_parse(s, &out->op) < 0)
		return fail(d, "op: unknown operation \"%.40s\"", s);
	ok = &op_keys[out->op];

	/* Check every key against the op before looking at any value, so a
	 * misspelt key is reported as such and not as a missing one. */
	json_object_object_foreach(root, key, val) {
		uint32_t bit;

		(void)val;
		if (strcmp(key, "op") == 0)
			continue;
		bit = key_bit(key);
		if (bit == 0 || (ok->allowed & bit) == 0)
			return fail(d, "request: unknown key \"%.40s\" for op %s",
				    key, ipc_op_str(out->op));
		seen |= bit;
	}

	if (json_object_object_get_ex(root, "name", &v)) {
		rc = get_name(d, "name", v, out->name, false);
		if (rc < 0)
			return rc;
	} else if (ok->required & K_NAME) {
		return fail(d, "request: \"name\" is required for op %s",
			    ipc_op_str(out->op));
	}

	if (json_object_object_get_ex(root, "by", &v)) {
		rc = get_name(d, "by", v, out->by, false);
		if (rc < 0)
			return rc;
	} else if (ok->required & K_BY) {
		return fail(d, "request: \"by\" is required for op %s",
			    ipc_op_str(out->op));
	}
	if (json_object_object_get_ex(root, "host", &v)) {
		rc = get_name(d, "host", v, out->host, false);
		if (rc < 0)
			return rc;
	}
	if (json_object_object_get_ex(root, "limit", &v)) {
		if ((rc = get_u32(d, "limit", v, 0, &out->limit)) < 0)
			return rc;
	}
	if (json_object_object_get_ex(root, "offset", &v)) {
		if ((rc = get_u32(d, "offset", v, 0, &out->offset)) < 0)
			return rc;
	}
	if (json_object_object_get_ex(root, "for_ms", &v)) {
		int64_t x = 0;

		if ((rc = get_int(d, "for_ms", v, 0, IPC_DISARM_MAX_MS, &x)) < 0)
			return rc;
		out->for_ms = (uint32_t)x;
	} else if (ok->required & K_FOR) {
		return fail(d, "request: \"for_ms\" is required for op %s",
			    ipc_op_str(out->op));
	}

	if (json_object_object_get_ex(root, "def", &v)) {
		bool is_set = out->op == IPC_OP_DOMAIN_SET;

		if (!is_set)
			xh_domain_def_init(&out->def, "");
		rc = decode_def(d, v, is_set, &out->def, &out->mask);
		if (rc < 0)
			return rc;
		if (is_set) {
			memcpy(out->def.name, out->name, XH_NAME_MAX);
		} else {
			char why[XH_REASON_MAX];

			/* A whole definition: check it now with the state
			 * machine's rules, so the operator hears about a bad
			 * name before it travels through the cluster. */
			memcpy(out->name, out->def.name, XH_NAME_MAX);
			if (xh_domain_def_check(&out->def, why, sizeof(why)) < 0)
				return fail(d, "def: %s", why);
		}
	} else if (ok->required & K_DEF) {
		return fail(d, "request: \"def\" is required for op %s",
			    ipc_op_str(out->op));
	}

	if (json_object_object_get_ex(root, "standby", &v)) {
		if ((rc = get_bool(d, "standby", v, &b)) < 0)
			return rc;
		out->standby = b ? 1 : 0;
	}
	if (json_object_object_get_ex(root, "maintenance", &v)) {
		if ((rc = get_bool(d, "maintenance", v, &b)) < 0)
			return rc;
		out->maintenance = b ? 1 : 0;
	}
	if (out->op == IPC_OP_NODE_FLAGS && (seen & K_FLAGS) == 0)
		return fail(d, "request: node-flags needs standby or maintenance");
	return 0;
}

/*
 * Parse exactly one JSON object filling json[0..len): strict syntax,
 * valid UTF-8, nothing but blanks after it.  *root owned by the caller.
 */
static int parse_object(struct dctx *d, const char *what, const char *json,
			size_t len, struct json_object **root)
{
	struct json_tokener *tok;
	struct json_object *o;
	enum json_tokener_error je;
	size_t end;

	*root = NULL;
	if (len > INT32_MAX)
		return fail(d, "%s: too large", what);
	tok = json_tokener_new();
	if (tok == NULL)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8 |
				    JSON_TOKENER_ALLOW_TRAILING_CHARS);
	o = json_tokener_parse_ex(tok, json, (int)len);
	je = json_tokener_get_error(tok);
	if (o == NULL && je == json_tokener_continue) {
		/* A bare number ("42") is only known to be complete when
		 * something follows it; a blank ends it without completing
		 * anything that was truncated. */
		o = json_tokener_parse_ex(tok, " ", 1);
		je = json_tokener_get_error(tok);
		if (je == json_tokener_success) {
			json_tokener_free(tok);
			json_object_put(o);
			return fail(d, "%s: expected a JSON object", what);
		}
	}
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (je == json_tokener_continue)
		return fail(d, "%s: truncated JSON", what);
	if (je != json_tokener_success)
		return fail(d, "%s: invalid JSON: %s", what, json_tokener_error_desc(je));
	/* json-c gives JSON null as a NULL object. */
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return fail(d, "%s: expected a JSON object", what);
	}
	/* Trailing white space is harmless; anything else is a second value
	 * or garbage that a well-behaved peer never sends (json-c is told to
	 * allow trailing characters so that this says so precisely). */
	while (end < len && (json[end] == ' ' || json[end] == '\n' ||
			     json[end] == '\t' || json[end] == '\r'))
		end++;
	if (end != len) {
		json_object_put(o);
		return fail(d, "%s: trailing data after the JSON object", what);
	}
	*root = o;
	return 0;
}

int ipc_req_decode(const char *json, size_t len, struct ipc_req *out,
		   char *err, size_t errlen)
{
	struct dctx d = { .err = err, .errlen = errlen };
	struct json_object *root;
	int rc;

	memset(out, 0, sizeof(*out));
	out->standby = -1;
	out->maintenance = -1;
	if (err != NULL && errlen > 0)
		err[0] = '\0';

	if (json == NULL || len == 0)
		return fail(&d, "request: empty");
	if (len > XH_IPC_MAX_MSG)
		return fail(&d, "request: too large (%zu bytes)", len);
	if (memchr(json, '\0', len) != NULL)
		return fail(&d, "request: contains a NUL byte");

	rc = parse_object(&d, "request", json, len, &root);
	if (rc < 0)
		return rc;

	rc = decode_obj(&d, root, out);
	json_object_put(root);
	if (rc < 0) {
		ipc_req_free(out);
		memset(out, 0, sizeof(*out));
		out->standby = -1;
		out->maintenance = -1;
	}
	return rc;
}

/* ---- encoding ---- */

/* Add v under key; consumes v, fails on a NULL v (allocation failure). */
static int put(struct json_object *o, const char *key, struct json_object *v)
{
	if (v == NULL)
		return -ENOMEM;
	if (json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static struct json_object *host_list(const char list[][XH_NAME_MAX], uint8_t n)
{
	struct json_object *a = json_object_new_array();

	if (a == NULL)
		return NULL;
	for (uint8_t i = 0; i < n; i++) {
		struct json_object *s = json_object_new_string(list[i]);

		if (s == NULL || json_object_array_add(a, s) < 0) {
			json_object_put(s);
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

/* Is key part of this def encoding?  domain-add: everything; domain-set:
 * the fields in the mask. */
static bool want(bool is_set, uint32_t mask, uint32_t bit)
{
	return !is_set || (mask & bit) != 0;
}

static struct json_object *encode_def(const struct xh_domain_def *def,
				      bool is_set, uint32_t mask)
{
	struct json_object *o = json_object_new_object();
	int rc = 0;

	if (o == NULL)
		return NULL;
	if (!is_set)
		rc = put(o, "name", json_object_new_string(def->name));
	if (rc == 0 && want(is_set, mask, XH_DSET_MEMORY))
		rc = put(o, "memory_mb", json_object_new_int64(def->memory_mb));
	if (rc == 0 && want(is_set, mask, XH_DSET_PRIORITY))
		rc = put(o, "priority", json_object_new_int64(def->priority));
	if (rc == 0 && want(is_set, mask, XH_DSET_RESTART))
		rc = put(o, "restart",
			 json_object_new_string(xh_restart_str(def->restart)));
	if (rc == 0 && want(is_set, mask, XH_DSET_MAX_RESTARTS))
		rc = put(o, "max_restarts",
			 json_object_new_int64(def->max_restarts));
	if (rc == 0 && want(is_set, mask, XH_DSET_MAX_RELOCATIONS))
		rc = put(o, "max_relocations",
			 json_object_new_int64(def->max_relocations));
	if (rc == 0 && want(is_set, mask, XH_DSET_PREFERRED))
		rc = put(o, "preferred",
			 host_list(def->preferred, def->n_preferred));
	if (rc == 0 && want(is_set, mask, XH_DSET_AVOIDED))
		rc = put(o, "avoided", host_list(def->avoided, def->n_avoided));
	if (rc == 0 && want(is_set, mask, XH_DSET_GROUP))
		rc = put(o, "group", json_object_new_string(def->group));
	/* domain-add: no xl.cfg is no key; domain-set: an xlcfg bit with a
	 * NULL text clears it, sent as "". */
	if (rc == 0 && ((!is_set && def->xlcfg != NULL) ||
			(is_set && (mask & XH_DSET_XLCFG))))
		rc = put(o, "xlcfg",
			 json_object_new_string(def->xlcfg ? def->xlcfg : ""));
	if (rc == 0 && !is_set)
		rc = put(o, "start", json_object_new_boolean(def->start != 0));
	if (rc < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* Every string of the definition fits its buffer and the enum is known:
 * what the encoder needs to read the struct safely. */
static bool def_terminated(const struct xh_domain_def *d)
{
	if (memchr(d->name, '\0', XH_NAME_MAX) == NULL ||
	    memchr(d->group, '\0', XH_NAME_MAX) == NULL)
		return false;
	if (d->n_preferred > XH_MAX_PREF || d->n_avoided > XH_MAX_PREF)
		return false;
	for (uint8_t i = 0; i < d->n_preferred; i++)
		if (memchr(d->preferred[i], '\0', XH_NAME_MAX) == NULL)
			return false;
	for (uint8_t i = 0; i < d->n_avoided; i++)
		if (memchr(d->avoided[i], '\0', XH_NAME_MAX) == NULL)
			return false;
	return d->restart <= XH_RESTART_NEVER;
}

int ipc_req_encode(const struct ipc_req *r, char **out)
{
	struct json_object *o;
	const char *s = NULL;
	int rc = 0;

	*out = NULL;
	if (r->op == 0 || r->op >= IPC_OP__COUNT)
		return -EINVAL;
	/* Cheap structural checks the decoder would fail on (not all of
	 * them: names and sizes are the decoder's and the state machine's
	 * job); they also keep the encoder away from unterminated buffers. */
	if (memchr(r->name, '\0', XH_NAME_MAX) == NULL ||
	    memchr(r->by, '\0', XH_NAME_MAX) == NULL ||
	    memchr(r->host, '\0', XH_NAME_MAX) == NULL)
		return -EINVAL;
	if ((op_keys[r->op].required & K_BY) && r->by[0] == '\0')
		return -EINVAL;
	if ((op_keys[r->op].required & K_NAME) && r->name[0] == '\0')
		return -EINVAL;
	if ((r->op == IPC_OP_DOMAIN_ADD || r->op == IPC_OP_DOMAIN_SET) &&
	    !def_terminated(&r->def))
		return -EINVAL;
	if (r->op == IPC_OP_DOMAIN_ADD && r->def.name[0] == '\0')
		return -EINVAL;
	if (r->op == IPC_OP_NODE_FLAGS && r->standby < 0 && r->maintenance < 0)
		return -EINVAL;
	if (r->op == IPC_OP_DOMAIN_SET && r->mask == 0)
		return -EINVAL;

	o = json_object_new_object();
	if (o == NULL)
		return -ENOMEM;
	rc = put(o, "op", json_object_new_string(ipc_op_str(r->op)));

	switch (r->op) {
	case IPC_OP_DOMAINS:
		if (rc == 0 && r->name[0] != '\0')
			rc = put(o, "name", json_object_new_string(r->name));
		if (rc == 0 && r->limit != 0)
			rc = put(o, "limit", json_object_new_int64(r->limit));
		if (rc == 0 && r->offset != 0)
			rc = put(o, "offset", json_object_new_int64(r->offset));
		break;
	case IPC_OP_HISTORY:
		if (rc == 0 && r->limit != 0)
			rc = put(o, "limit", json_object_new_int64(r->limit));
		break;
	case IPC_OP_DOMAIN_ADD:
		if (rc == 0)
			rc = put(o, "def", encode_def(&r->def, false, 0));
		break;
	case IPC_OP_DOMAIN_SET:
		if (rc == 0)
			rc = put(o, "name", json_object_new_string(r->name));
		if (rc == 0)
			rc = put(o, "def", encode_def(&r->def, true, r->mask));
		break;
	case IPC_OP_DOMAIN_REMOVE:
	case IPC_OP_DOMAIN_START:
	case IPC_OP_DOMAIN_STOP:
	case IPC_OP_FENCE_CONFIRM:
	case IPC_OP_FENCE_BEGIN:
		if (rc == 0)
			rc = put(o, "name", json_object_new_string(r->name));
		if (rc == 0 && r->by[0] != '\0')
			rc = put(o, "by", json_object_new_string(r->by));
		break;
	case IPC_OP_NODE_FLAGS:
		if (rc == 0)
			rc = put(o, "name", json_object_new_string(r->name));
		if (rc == 0 && r->standby >= 0)
			rc = put(o, "standby",
				 json_object_new_boolean(r->standby != 0));
		if (rc == 0 && r->maintenance >= 0)
			rc = put(o, "maintenance",
				 json_object_new_boolean(r->maintenance != 0));
		break;
	case IPC_OP_DISARM:
		if (r->for_ms > IPC_DISARM_MAX_MS)
			rc = -EINVAL;
		if (rc == 0)
			rc = put(o, "for_ms", json_object_new_int64(r->for_ms));
		break;
	case IPC_OP_MIGRATE:
		if (rc == 0)
			rc = put(o, "name", json_object_new_string(r->name));
		if (rc == 0 && r->host[0] != '\0')
			rc = put(o, "host", json_object_new_string(r->host));
		break;
	default:
		break;
	}
	if (rc < 0) {
		json_object_put(o);
		return rc;
	}

	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
					   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s != NULL)
		*out = strdup(s);
	json_object_put(o);
	return *out != NULL ? 0 : -ENOMEM;
}

/* ---- responses ---- */

int ipc_resp_encode(int rc, const char *error, struct json_object *data,
		    char **out)
{
	struct json_object *o;
	const char *s = NULL;
	int r;

	*out = NULL;
	if (rc > 0 || rc < -4095)
		return -EINVAL;
	if (data != NULL && !json_object_is_type(data, json_type_object))
		return -EINVAL;
	o = json_object_new_object();
	if (o == NULL)
		return -ENOMEM;
	r = put(o, "rc", json_object_new_int(rc));
	if (r == 0 && rc != 0)
		r = put(o, "error", json_object_new_string(error ? error : ""));
	if (r == 0 && data != NULL)
		r = put(o, "data", json_object_get(data));
	if (r == 0) {
		s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						   JSON_C_TO_STRING_NOSLASHESCAPE);
		if (s == NULL || (*out = strdup(s)) == NULL)
			r = -ENOMEM;
	}
	json_object_put(o);
	return r;
}

void ipc_resp_free(struct ipc_resp *r)
{
	if (r == NULL)
		return;
	json_object_put(r->data);
	r->data = NULL;
}

int ipc_resp_decode(const char *json, size_t len, struct ipc_resp *out,
		    char *err, size_t errlen)
{
	struct dctx d = { .err = err, .errlen = errlen };
	struct json_object *root, *v;
	int64_t rc;
	int r;

	memset(out, 0, sizeof(*out));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (json == NULL || len == 0)
		return fail(&d, "response: empty");
	if (len > XH_IPC_MAX_MSG)
		return fail(&d, "response: too large (%zu bytes)", len);

	r = parse_object(&d, "response", json, len, &root);
	if (r < 0)
		return r;

	r = -EINVAL;
	if (!json_object_object_get_ex(root, "rc", &v)) {
		fail(&d, "response: \"rc\" is missing");
		goto out;
	}
	if (get_int(&d, "rc", v, -4095, 0, &rc) < 0)
		goto out;
	out->rc = (int)rc;
	if (json_object_object_get_ex(root, "error", &v) && v != NULL) {
		if (!json_object_is_type(v, json_type_string)) {
			fail(&d, "error: expected a string");
			goto out;
		}
		snprintf(out->error, sizeof(out->error), "%s",
			 json_object_get_string(v));
	}
	if (json_object_object_get_ex(root, "data", &v) && v != NULL) {
		if (!json_object_is_type(v, json_type_object)) {
			fail(&d, "data: expected an object");
			goto out;
		}
		out->data = json_object_get(v);
	}
	r = 0;
out:
	json_object_put(root);
	return r;
}
