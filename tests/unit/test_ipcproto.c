/*
 * ipcproto: request encode/decode round trips for every op, and every
 * way a request can be refused.  Responses: encode/decode round trip and
 * refusals.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "xenha/ipcproto.h"
#include "xenha/state.h"

/* ---- helpers ---- */

static int decode_str(const char *json, struct ipc_req *r, char *err, size_t errlen)
{
	return ipc_req_decode(json, strlen(json), r, err, errlen);
}

/* Decode must fail with -EINVAL and an error text containing `want`. */
static void expect_reject(const char *json, const char *want)
{
	struct ipc_req r;
	char err[256];
	int rc;

	rc = decode_str(json, &r, err, sizeof(err));
	if (rc != -EINVAL || strstr(err, want) == NULL)
		fail_msg("json %.120s: rc=%d err=\"%s\", wanted -EINVAL with \"%s\"",
			 json, rc, err, want);
	/* A failed decode leaves nothing to free, and freeing is harmless. */
	assert_null(r.def.xlcfg);
	ipc_req_free(&r);
}

static void assert_def_equal(const struct xh_domain_def *a,
			     const struct xh_domain_def *b)
{
	assert_string_equal(a->name, b->name);
	assert_int_equal(a->memory_mb, b->memory_mb);
	assert_int_equal(a->priority, b->priority);
	assert_int_equal(a->restart, b->restart);
	assert_int_equal(a->max_restarts, b->max_restarts);
	assert_int_equal(a->max_relocations, b->max_relocations);
	assert_int_equal(a->n_preferred, b->n_preferred);
	for (int i = 0; i < a->n_preferred; i++)
		assert_string_equal(a->preferred[i], b->preferred[i]);
	assert_int_equal(a->n_avoided, b->n_avoided);
	for (int i = 0; i < a->n_avoided; i++)
		assert_string_equal(a->avoided[i], b->avoided[i]);
	assert_string_equal(a->group, b->group);
	if (a->xlcfg == NULL || b->xlcfg == NULL)
		assert_ptr_equal(a->xlcfg, b->xlcfg);
	else
		assert_string_equal(a->xlcfg, b->xlcfg);
	assert_int_equal(a->start, b->start);
}

/* encode(r) then decode: every field the op carries comes back. */
static void roundtrip(const struct ipc_req *in, struct ipc_req *out)
{
	char *json = NULL;
	char err[256] = "";
	int rc;

	assert_int_equal(ipc_req_encode(in, &json), 0);
	assert_non_null(json);
	rc = ipc_req_decode(json, strlen(json), out, err, sizeof(err));
	if (rc != 0)
		fail_msg("decode of %s: %d %s", json, rc, err);
	free(json);
	assert_int_equal(out->op, in->op);
	assert_string_equal(out->name, in->name);
	assert_int_equal(out->limit, in->limit);
	assert_int_equal(out->mask, in->mask);
	assert_int_equal(out->standby, in->standby);
	assert_int_equal(out->maintenance, in->maintenance);
	assert_int_equal(out->for_ms, in->for_ms);
	assert_string_equal(out->host, in->host);
}

static struct ipc_req req_init(uint8_t op, const char *name)
{
	struct ipc_req r;

	memset(&r, 0, sizeof(r));
	r.op = op;
	r.standby = r.maintenance = -1;
	if (name != NULL)
		snprintf(r.name, sizeof(r.name), "%s", name);
	return r;
}

/* ---- op names ---- */

static void test_op_names(void **state)
{
	uint8_t op;

	(void)state;
	for (uint8_t i = 1; i < IPC_OP__COUNT; i++) {
		assert_int_equal(ipc_op_parse(ipc_op_str(i), &op), 0);
		assert_int_equal(op, i);
	}
	assert_string_equal(ipc_op_str(IPC_OP_DOMAIN_ADD), "domain-add");
	assert_string_equal(ipc_op_str(IPC_OP_NODE_FLAGS), "node-flags");
	assert_string_equal(ipc_op_str(0), "unknown");
	assert_string_equal(ipc_op_str(IPC_OP__COUNT), "unknown");
	assert_int_equal(ipc_op_parse("bogus", &op), -EINVAL);
	assert_int_equal(ipc_op_parse("Status", &op), -EINVAL);
	assert_int_equal(ipc_op_parse(NULL, &op), -EINVAL);
}

/* ---- round trips ---- */

static void test_roundtrip_reads(void **state)
{
	struct ipc_req in, out;

	(void)state;
	in = req_init(IPC_OP_STATUS, NULL);
	roundtrip(&in, &out);
	in = req_init(IPC_OP_NODES, NULL);
	roundtrip(&in, &out);
	in = req_init(IPC_OP_DOMAINS, NULL);
	roundtrip(&in, &out);
	in = req_init(IPC_OP_DOMAINS, "web1");
	roundtrip(&in, &out);
	in = req_init(IPC_OP_HISTORY, NULL);
	roundtrip(&in, &out);
	in = req_init(IPC_OP_HISTORY, NULL);
	in.limit = 50;
	roundtrip(&in, &out);
	in.limit = UINT32_MAX;
	roundtrip(&in, &out);
	/* fenced's requests carry who and how */
	in = req_init(IPC_OP_FENCE_BEGIN, "h3");
	snprintf(in.by, sizeof(in.by), "fenced h1: timeout, poison-pill");
	roundtrip(&in, &out);
	assert_string_equal(out.by, "fenced h1: timeout, poison-pill");
	in = req_init(IPC_OP_FENCE_CONFIRM, "h3");
	roundtrip(&in, &out);
	assert_string_equal(out.by, "");
	in = req_init(IPC_OP_FENCE_BEGIN, "h3");
	{
		char *json = NULL;

		assert_int_equal(ipc_req_encode(&in, &json), -EINVAL); /* by required */
		assert_null(json);
	}
	/* a page of the domain list */
	in = req_init(IPC_OP_DOMAINS, NULL);
	in.offset = 2000;
	in.limit = 1000;
	roundtrip(&in, &out);
	assert_int_equal(out.offset, 2000);
	assert_int_equal(out.limit, 1000);
}

static void test_reject_offset(void **state)
{
	(void)state;
	expect_reject("{\"op\":\"history\",\"offset\":3}", "unknown key \"offset\"");
	expect_reject("{\"op\":\"status\",\"limit\":3}", "unknown key \"limit\"");
	expect_reject("{\"op\":\"domains\",\"offset\":-1}", "offset");
	expect_reject("{\"op\":\"domains\",\"offset\":\"x\"}", "offset");
}

static void test_roundtrip_names(void **state)
{
	static const uint8_t ops[] = {
		IPC_OP_DOMAIN_REMOVE, IPC_OP_DOMAIN_START, IPC_OP_DOMAIN_STOP,
		IPC_OP_FENCE_CONFIRM,
	};
	char longest[XH_NAME_MAX];
	struct ipc_req in, out;

	(void)state;
	memset(longest, 'a', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		in = req_init(ops[i], "web-1.example_2");
		roundtrip(&in, &out);
		in = req_init(ops[i], longest);
		roundtrip(&in, &out);
	}
}

static void test_roundtrip_node_flags(void **state)
{
	static const int8_t v[][2] = { { 1, -1 }, { -1, 1 }, { 0, 0 }, { 1, 0 } };
	struct ipc_req in, out;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		in = req_init(IPC_OP_NODE_FLAGS, "h2");
		in.standby = v[i][0];
		in.maintenance = v[i][1];
		roundtrip(&in, &out);
	}
}

static void test_disarm(void **state)
{
	static const uint32_t v[] = { 0, 1000, IPC_DISARM_MAX_MS };
	static const char *const bad[] = {
		"{\"op\":\"disarm\"}",
		"{\"op\":\"disarm\",\"for_ms\":-1}",
		"{\"op\":\"disarm\",\"for_ms\":604800001}",
		"{\"op\":\"disarm\",\"for_ms\":\"10\"}",
		"{\"op\":\"disarm\",\"for_ms\":10,\"name\":\"h1\"}",
		"{\"op\":\"status\",\"for_ms\":10}",
	};
	struct ipc_req in, out;
	char *json = NULL;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		in = req_init(IPC_OP_DISARM, NULL);
		in.for_ms = v[i];
		roundtrip(&in, &out);
		ipc_req_free(&out);
	}
	in = req_init(IPC_OP_DISARM, NULL);
	in.for_ms = IPC_DISARM_MAX_MS + 1;
	assert_int_equal(ipc_req_encode(&in, &json), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (ipc_req_decode(bad[i], strlen(bad[i]), &out, err, sizeof(err)) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_true(err[0] != '\0');
		ipc_req_free(&out);
	}
}

static void test_migrate(void **state)
{
	static const char *const bad[] = {
		"{\"op\":\"migrate\"}",
		"{\"op\":\"migrate\",\"host\":\"h2\"}",
		"{\"op\":\"migrate\",\"name\":\"d1\",\"host\":\"\"}",
		"{\"op\":\"migrate\",\"name\":\"d1\",\"host\":2}",
		"{\"op\":\"migrate\",\"name\":\"d1\",\"for_ms\":10}",
		"{\"op\":\"domain-start\",\"name\":\"d1\",\"host\":\"h2\"}",
	};
	struct ipc_req in, out;
	char *json = NULL;
	char err[256];

	(void)state;
	in = req_init(IPC_OP_MIGRATE, "d1");
	roundtrip(&in, &out);
	ipc_req_free(&out);
	snprintf(in.host, sizeof(in.host), "h2");
	roundtrip(&in, &out);
	ipc_req_free(&out);
	in = req_init(IPC_OP_MIGRATE, NULL);
	assert_int_equal(ipc_req_encode(&in, &json), -EINVAL);
	in = req_init(IPC_OP_MIGRATE, "d1");
	memset(in.host, 'x', sizeof(in.host));
	assert_int_equal(ipc_req_encode(&in, &json), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (ipc_req_decode(bad[i], strlen(bad[i]), &out, err, sizeof(err)) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_true(err[0] != '\0');
		ipc_req_free(&out);
	}
}

static void test_roundtrip_domain_add(void **state)
{
	struct ipc_req in, out;
	char *xl;

	(void)state;
	/* Defaults only. */
	in = req_init(IPC_OP_DOMAIN_ADD, "web1");
	xh_domain_def_init(&in.def, "web1");
	roundtrip(&in, &out);
	assert_def_equal(&out.def, &in.def);
	ipc_req_free(&out);

	/* Every field set, xl.cfg with characters JSON must escape. */
	xl = strdup("name = \"web1\"\nmemory = 512\ndisk = ['/dev/vg/web1,raw,xvda,rw']\n"
		    "extra = \"a\\tb\" # \x01 ünïcödé /path\n");
	assert_non_null(xl);
	in = req_init(IPC_OP_DOMAIN_ADD, "web1");
	xh_domain_def_init(&in.def, "web1");
	in.def.memory_mb = 4096;
	in.def.priority = -7;
	in.def.restart = XH_RESTART_ON_CRASH;
	in.def.max_restarts = 0;
	in.def.max_relocations = 9;
	in.def.n_preferred = 2;
	strcpy(in.def.preferred[0], "h1");
	strcpy(in.def.preferred[1], "h3");
	in.def.n_avoided = 1;
	strcpy(in.def.avoided[0], "h2");
	strcpy(in.def.group, "web");
	in.def.xlcfg = xl;
	in.def.start = 0;
	roundtrip(&in, &out);
	assert_def_equal(&out.def, &in.def);
	/* The decoded text is the request's own copy. */
	assert_ptr_not_equal(out.def.xlcfg, xl);
	ipc_req_free(&out);
	assert_null(out.def.xlcfg);
	ipc_req_free(&out); /* twice is harmless */
	free(xl);
}

static void test_roundtrip_domain_set(void **state)
{
	static const uint32_t masks[] = {
		XH_DSET_MEMORY, XH_DSET_PRIORITY, XH_DSET_RESTART,
		XH_DSET_MAX_RESTARTS, XH_DSET_MAX_RELOCATIONS, XH_DSET_PREFERRED,
		XH_DSET_AVOIDED, XH_DSET_GROUP, XH_DSET_XLCFG,
		XH_DSET_MEMORY | XH_DSET_GROUP | XH_DSET_PREFERRED,
	};
	struct ipc_req in, out;

	(void)state;
	for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
		in = req_init(IPC_OP_DOMAIN_SET, "db");
		strcpy(in.def.name, "db");
		in.mask = masks[i];
		in.def.memory_mb = 1024;
		in.def.priority = 5;
		in.def.restart = XH_RESTART_NEVER;
		in.def.max_restarts = 1;
		in.def.max_relocations = 2;
		in.def.n_preferred = 1;
		strcpy(in.def.preferred[0], "h9");
		in.def.n_avoided = 0; /* an empty list clears it */
		in.def.group[0] = '\0';
		in.def.xlcfg = "memory = 1024\n";
		roundtrip(&in, &out);
		if (masks[i] & XH_DSET_MEMORY)
			assert_int_equal(out.def.memory_mb, 1024);
		else
			assert_int_equal(out.def.memory_mb, 0);
		if (masks[i] & XH_DSET_PRIORITY)
			assert_int_equal(out.def.priority, 5);
		if (masks[i] & XH_DSET_RESTART)
			assert_int_equal(out.def.restart, XH_RESTART_NEVER);
		if (masks[i] & XH_DSET_MAX_RESTARTS)
			assert_int_equal(out.def.max_restarts, 1);
		if (masks[i] & XH_DSET_MAX_RELOCATIONS)
			assert_int_equal(out.def.max_relocations, 2);
		if (masks[i] & XH_DSET_PREFERRED) {
			assert_int_equal(out.def.n_preferred, 1);
			assert_string_equal(out.def.preferred[0], "h9");
		} else {
			assert_int_equal(out.def.n_preferred, 0);
		}
		if (masks[i] & XH_DSET_XLCFG)
			assert_string_equal(out.def.xlcfg, "memory = 1024\n");
		else
			assert_null(out.def.xlcfg);
		/* The domain's name travels once, at the top. */
		assert_string_equal(out.def.name, "db");
		ipc_req_free(&out);
	}
}

/* The wire text itself, so that a script (or the cluster tests) writing
 * requests by hand and this codec agree. */
static void test_encode_text(void **state)
{
	struct ipc_req r;
	char *json;

	(void)state;
	r = req_init(IPC_OP_STATUS, NULL);
	assert_int_equal(ipc_req_encode(&r, &json), 0);
	assert_string_equal(json, "{\"op\":\"status\"}");
	free(json);

	r = req_init(IPC_OP_NODE_FLAGS, "h2");
	r.standby = 1;
	assert_int_equal(ipc_req_encode(&r, &json), 0);
	assert_string_equal(json, "{\"op\":\"node-flags\",\"name\":\"h2\",\"standby\":true}");
	free(json);

	r = req_init(IPC_OP_DOMAIN_SET, "web1");
	r.mask = XH_DSET_MEMORY;
	r.def.memory_mb = 2048;
	assert_int_equal(ipc_req_encode(&r, &json), 0);
	assert_string_equal(json, "{\"op\":\"domain-set\",\"name\":\"web1\",\"def\":{\"memory_mb\":2048}}");
	free(json);

	r = req_init(IPC_OP_HISTORY, NULL);
	r.limit = 50;
	assert_int_equal(ipc_req_encode(&r, &json), 0);
	assert_string_equal(json, "{\"op\":\"history\",\"limit\":50}");
	free(json);
}

static void test_encode_rejects(void **state)
{
	struct ipc_req r;
	char *json = (char *)"sentinel";

	(void)state;
	r = req_init(0, NULL);
	assert_int_equal(ipc_req_encode(&r, &json), -EINVAL);
	assert_null(json);
	r = req_init(IPC_OP__COUNT, NULL);
	assert_int_equal(ipc_req_encode(&r, &json), -EINVAL);
	r = req_init(IPC_OP_DOMAIN_START, ""); /* name required */
	assert_int_equal(ipc_req_encode(&r, &json), -EINVAL);
	r = req_init(IPC_OP_NODE_FLAGS, "h1"); /* no flag */
	assert_int_equal(ipc_req_encode(&r, &json), -EINVAL);
	r = req_init(IPC_OP_DOMAIN_SET, "web1"); /* empty mask */
	assert_int_equal(ipc_req_encode(&r, &json), -EINVAL);
	r = req_init(IPC_OP_DOMAIN_ADD, NULL); /* def.name empty */
	xh_domain_def_init(&r.def, "");
	assert_int_equal(ipc_req_encode(&r, &json), -EINVAL);
	r = req_init(IPC_OP_DOMAIN_ADD, NULL); /* unterminated name */
	xh_domain_def_init(&r.def, "x");
	memset(r.def.name, 'x', sizeof(r.def.name));
	assert_int_equal(ipc_req_encode(&r, &json), -EINVAL);
	r = req_init(IPC_OP_DOMAIN_ADD, NULL); /* unknown restart policy */
	xh_domain_def_init(&r.def, "x");
	r.def.restart = 9;
	assert_int_equal(ipc_req_encode(&r, &json), -EINVAL);
	assert_null(json);
}

/* ---- decoding: accepted forms ---- */

static void test_decode_accepts(void **state)
{
	struct ipc_req r;
	char err[256];

	(void)state;
	assert_int_equal(decode_str("  {\"op\" : \"nodes\"}\n", &r, err, sizeof(err)), 0);
	assert_int_equal(r.op, IPC_OP_NODES);

	assert_int_equal(decode_str("{\"op\":\"domain-add\",\"def\":{\"name\":\"a\"}}",
				    &r, err, sizeof(err)), 0);
	/* Absent fields take xh_domain_def_init's defaults. */
	{
		struct xh_domain_def d;

		xh_domain_def_init(&d, "a");
		assert_def_equal(&r.def, &d);
		assert_string_equal(r.name, "a");
	}
	ipc_req_free(&r);

	assert_int_equal(decode_str("{\"op\":\"domain-set\",\"name\":\"a\","
				    "\"def\":{\"preferred\":[],\"group\":\"\"}}",
				    &r, err, sizeof(err)), 0);
	assert_int_equal(r.mask, XH_DSET_PREFERRED | XH_DSET_GROUP);
	assert_int_equal(r.def.n_preferred, 0);

	/* xl.cfg exactly at the limit is fine. */
	{
		size_t n = XH_XLCFG_MAX;
		char *big = malloc(n + 64);
		int off;

		assert_non_null(big);
		off = sprintf(big, "{\"op\":\"domain-set\",\"name\":\"a\",\"def\":{\"xlcfg\":\"");
		memset(big + off, 'x', n);
		strcpy(big + off + n, "\"}}");
		assert_int_equal(decode_str(big, &r, err, sizeof(err)), 0);
		assert_int_equal(strlen(r.def.xlcfg), n);
		ipc_req_free(&r);
		free(big);
	}

	/* err may be NULL. */
	assert_int_equal(ipc_req_decode("{}", 2, &r, NULL, 0), -EINVAL);
}

/* ---- decoding: every rejection ---- */

static void test_reject_structure(void **state)
{
	(void)state;
	expect_reject("", "empty");
	expect_reject("[]", "expected a JSON object");
	expect_reject("\"status\"", "expected a JSON object");
	expect_reject("42", "expected a JSON object");
	expect_reject("null", "expected a JSON object");
	expect_reject("{\"op\":\"status\"", "truncated");
	expect_reject("{\"op\":\"sta", "truncated");
	expect_reject("{\"op\":\"status\"}}", "trailing");
	expect_reject("{\"op\":\"status\"} {\"op\":\"nodes\"}", "trailing");
	expect_reject("{'op':'status'}", "invalid JSON");
	expect_reject("{\"op\":\"status\",}", "invalid JSON");
	expect_reject("{}", "\"op\" is required");
	expect_reject("{\"name\":\"x\"}", "\"op\" is required");
	expect_reject("{\"op\":\"reboot\"}", "unknown operation");
	expect_reject("{\"op\":\"\"}", "unknown operation");
	expect_reject("{\"op\":7}", "op: expected a string");
	expect_reject("{\"op\":\"status\",\"verbose\":true}", "unknown key \"verbose\"");
	expect_reject("{\"op\":\"status\",\"name\":\"x\"}", "unknown key \"name\"");
	expect_reject("{\"op\":\"nodes\",\"limit\":1}", "unknown key \"limit\"");
	expect_reject("{\"op\":\"domain-start\",\"name\":\"x\",\"def\":{}}",
		      "unknown key \"def\"");
	expect_reject("{\"op\":\"fence-confirm\",\"name\":\"h\",\"standby\":true}",
		      "unknown key \"standby\"");
	/* Invalid UTF-8 in a string. */
	expect_reject("{\"op\":\"domain-start\",\"name\":\"\xff\xfe\"}", "invalid JSON");
}

static void test_reject_nul_and_size(void **state)
{
	struct ipc_req r;
	char err[256];
	static const char with_nul[] = "{\"op\":\"status\"}\0junk";

	(void)state;
	assert_int_equal(ipc_req_decode(with_nul, sizeof(with_nul) - 1, &r, err,
					sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "NUL"));
	/* An escaped NUL inside a name. */
	expect_reject("{\"op\":\"domain-start\",\"name\":\"a\\u0000b\"}", "NUL");
	expect_reject("{\"op\":\"domain-start\",\"name\":\"a\\u001bb\"}", "control");
	/* Over the IPC message bound: refused before parsing. */
	assert_int_equal(ipc_req_decode("{", (size_t)XH_IPC_MAX_MSG + 1, &r, err,
					sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "too large"));
}

static void test_reject_names(void **state)
{
	char json[512];
	char longname[XH_NAME_MAX + 1];

	(void)state;
	memset(longname, 'n', XH_NAME_MAX);
	longname[XH_NAME_MAX] = '\0'; /* 64 characters: one too many */
	expect_reject("{\"op\":\"domain-start\"}", "\"name\" is required");
	expect_reject("{\"op\":\"domain-remove\"}", "\"name\" is required");
	expect_reject("{\"op\":\"domain-stop\"}", "\"name\" is required");
	expect_reject("{\"op\":\"fence-confirm\"}", "\"name\" is required");
	expect_reject("{\"op\":\"fence-begin\",\"name\":\"h2\"}", "\"by\" is required");
	expect_reject("{\"op\":\"fence-confirm\",\"name\":\"h2\",\"by\":7}",
		      "by: expected a string");
	expect_reject("{\"op\":\"domain-start\",\"name\":\"x\",\"by\":\"me\"}",
		      "unknown key \"by\"");
	expect_reject("{\"op\":\"node-flags\",\"standby\":true}", "\"name\" is required");
	expect_reject("{\"op\":\"domain-set\",\"def\":{\"priority\":1}}",
		      "\"name\" is required");
	expect_reject("{\"op\":\"domain-start\",\"name\":\"\"}", "name: empty");
	expect_reject("{\"op\":\"domain-start\",\"name\":42}", "name: expected a string");
	expect_reject("{\"op\":\"domain-start\",\"name\":null}", "name: expected a string");
	snprintf(json, sizeof(json), "{\"op\":\"domain-start\",\"name\":\"%s\"}", longname);
	expect_reject(json, "name: too long");
	snprintf(json, sizeof(json), "{\"op\":\"domains\",\"name\":\"%s\"}", longname);
	expect_reject(json, "name: too long");
	snprintf(json, sizeof(json), "{\"op\":\"domain-add\",\"def\":{\"name\":\"%s\"}}",
		 longname);
	expect_reject(json, "def.name: too long");
	snprintf(json, sizeof(json), "{\"op\":\"domain-set\",\"name\":\"a\","
		 "\"def\":{\"group\":\"%s\"}}", longname);
	expect_reject(json, "def.group: too long");
	snprintf(json, sizeof(json), "{\"op\":\"domain-set\",\"name\":\"a\","
		 "\"def\":{\"preferred\":[\"h1\",\"%s\"]}}", longname);
	expect_reject(json, "def.preferred[1]: too long");
	/* The state machine's name rules apply to a new domain. */
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":\"a b\"}}",
		      "invalid domain name");
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":\"-x\"}}",
		      "invalid domain name");
}

static void test_reject_def(void **state)
{
	(void)state;
	expect_reject("{\"op\":\"domain-add\"}", "\"def\" is required");
	expect_reject("{\"op\":\"domain-set\",\"name\":\"a\"}", "\"def\" is required");
	expect_reject("{\"op\":\"domain-add\",\"def\":[]}", "def: expected an object");
	expect_reject("{\"op\":\"domain-add\",\"def\":{}}", "\"name\" is required");
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"memory_mb\":1}}",
		      "\"name\" is required");
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":\"a\",\"cpus\":2}}",
		      "def: unknown key \"cpus\"");
	expect_reject("{\"op\":\"domain-add\",\"name\":\"a\",\"def\":{\"name\":\"a\"}}",
		      "unknown key \"name\"");
	expect_reject("{\"op\":\"domain-set\",\"name\":\"a\",\"def\":{}}",
		      "nothing to change");
	expect_reject("{\"op\":\"domain-set\",\"name\":\"a\",\"def\":{\"name\":\"b\"}}",
		      "cannot be changed by domain-set");
	expect_reject("{\"op\":\"domain-set\",\"name\":\"a\",\"def\":{\"start\":true}}",
		      "cannot be changed by domain-set");

	/* Wrong types, one per field. */
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":\"a\",\"memory_mb\":\"512\"}}",
		      "def.memory_mb: expected an integer");
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":\"a\",\"memory_mb\":512.0}}",
		      "def.memory_mb: expected an integer");
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":\"a\",\"priority\":true}}",
		      "def.priority: expected an integer");
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":\"a\",\"restart\":1}}",
		      "def.restart: expected a string");
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":\"a\",\"max_restarts\":null}}",
		      "def.max_restarts: expected an integer");
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":\"a\",\"max_relocations\":[]}}",
		      "def.max_relocations: expected an integer");
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":\"a\",\"preferred\":\"h1\"}}",
		      "def.preferred: expected an array");
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":\"a\",\"avoided\":[1]}}",
		      "def.avoided[0]: expected a string");
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":\"a\",\"group\":{}}}",
		      "def.group: expected a string");
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":\"a\",\"xlcfg\":1}}",
		      "def.xlcfg: expected a string");
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":\"a\",\"start\":1}}",
		      "def.start: expected true or false");
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":7}}",
		      "def.name: expected a string");

	/* Values out of range. */
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":\"a\",\"memory_mb\":-512}}",
		      "def.memory_mb: -512 out of range");
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":\"a\",\"memory_mb\":0}}",
		      "def.memory_mb: 0 out of range");
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":\"a\",\"memory_mb\":4294967296}}",
		      "out of range");
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":\"a\",\"memory_mb\":99999999999999999999999}}",
		      "out of range");
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":\"a\",\"priority\":2147483648}}",
		      "def.priority: 2147483648 out of range");
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":\"a\",\"max_restarts\":-1}}",
		      "def.max_restarts: -1 out of range");
	expect_reject("{\"op\":\"history\",\"limit\":-1}", "limit: -1 out of range");
	expect_reject("{\"op\":\"history\",\"limit\":\"10\"}", "limit: expected an integer");

	/* Restart policy. */
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":\"a\",\"restart\":\"sometimes\"}}",
		      "def.restart: must be always, on-crash or never");
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":\"a\",\"restart\":\"\"}}",
		      "def.restart: must be");
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":\"a\",\"restart\":\"ALWAYS\"}}",
		      "def.restart: must be");

	/* Host lists. */
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":\"a\",\"preferred\":"
		      "[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]}}",
		      "9 hosts, at most 8");
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":\"a\",\"avoided\":[\"h1\",\"h1\"]}}",
		      "listed twice");
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":\"a\",\"preferred\":[\"\"]}}",
		      "def.preferred[0]: empty");
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":\"a\",\"preferred\":[\"h1\"],"
		      "\"avoided\":[\"h1\"]}}", "both preferred and avoided");
}

static void test_reject_xlcfg_size(void **state)
{
	struct ipc_req r;
	char err[256];
	const char *want;
	size_t sizes[] = { XH_XLCFG_MAX + 1, (1u << 20) + 1, XH_IPC_MAX_MSG - 128 };

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		char *big = malloc(n + 128);
		int off;

		assert_non_null(big);
		off = sprintf(big, "{\"op\":\"domain-add\",\"def\":{\"name\":\"a\",\"xlcfg\":\"");
		memset(big + off, 'x', n);
		strcpy(big + off + n, "\"}}");
		assert_int_equal(decode_str(big, &r, err, sizeof(err)), -EINVAL);
		/* Past the IPC message bound the whole request is refused
		 * before parsing; below it, the field. */
		want = strlen(big) > XH_IPC_MAX_MSG ? "request: too large" :
						      "def.xlcfg: too long";
		if (strstr(err, want) == NULL)
			fail_msg("xlcfg of %zu bytes: \"%s\", wanted \"%s\"", n, err, want);
		assert_null(r.def.xlcfg);
		free(big);
	}
	expect_reject("{\"op\":\"domain-set\",\"name\":\"a\",\"def\":{\"xlcfg\":\"a\\u0000b\"}}",
		      "NUL");
}

static void test_reject_flags(void **state)
{
	(void)state;
	expect_reject("{\"op\":\"node-flags\",\"name\":\"h1\"}",
		      "needs standby or maintenance");
	expect_reject("{\"op\":\"node-flags\",\"name\":\"h1\",\"standby\":1}",
		      "standby: expected true or false");
	expect_reject("{\"op\":\"node-flags\",\"name\":\"h1\",\"maintenance\":\"yes\"}",
		      "maintenance: expected true or false");
}

/* A failed decode after an xl.cfg was copied must not leak (ASan) and must
 * leave the request empty. */
static void test_reject_after_xlcfg(void **state)
{
	(void)state;
	expect_reject("{\"op\":\"domain-add\",\"def\":{\"name\":\"a\",\"xlcfg\":\"x=1\","
		      "\"memory_mb\":-1}}", "out of range");
}

/* ---- responses ---- */

static void test_resp_roundtrip(void **state)
{
	struct json_object *data = json_object_new_object();
	struct ipc_resp r;
	char *json;
	char err[128];

	(void)state;
	json_object_object_add(data, "applied", json_object_new_boolean(1));
	json_object_object_add(data, "seq", json_object_new_int64(42));
	assert_int_equal(ipc_resp_encode(0, NULL, data, &json), 0);
	assert_string_equal(json, "{\"rc\":0,\"data\":{\"applied\":true,\"seq\":42}}");
	assert_int_equal(ipc_resp_decode(json, strlen(json), &r, err, sizeof(err)), 0);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.error, "");
	assert_non_null(r.data);
	assert_true(json_object_equal(r.data, data));
	ipc_resp_free(&r);
	assert_null(r.data);
	free(json);
	json_object_put(data); /* encode took its own reference */

	assert_int_equal(ipc_resp_encode(-ENOENT, "no such domain web9", NULL, &json), 0);
	assert_string_equal(json, "{\"rc\":-2,\"error\":\"no such domain web9\"}");
	assert_int_equal(ipc_resp_decode(json, strlen(json), &r, err, sizeof(err)), 0);
	assert_int_equal(r.rc, -ENOENT);
	assert_string_equal(r.error, "no such domain web9");
	assert_null(r.data);
	free(json);

	assert_int_equal(ipc_resp_encode(1, NULL, NULL, &json), -EINVAL);
	assert_int_equal(ipc_resp_encode(-EAGAIN, NULL, NULL, &json), 0);
	assert_string_equal(json, "{\"rc\":-11,\"error\":\"\"}");
	free(json);

	/* Extra keys from a newer daemon are ignored; data null is absent. */
	{
		const char *s = "{\"rc\":0,\"data\":null,\"took_ms\":3}";

		assert_int_equal(ipc_resp_decode(s, strlen(s), &r, err, sizeof(err)), 0);
		assert_null(r.data);
	}
}

static void test_resp_rejects(void **state)
{
	static const char *const bad[] = {
		"", "[]", "{}", "{\"rc\":\"0\"}", "{\"rc\":1}", "{\"rc\":-5000}",
		"{\"rc\":0,\"error\":5}", "{\"rc\":0,\"data\":[]}", "{\"rc\":0",
		"{\"rc\":0}x",
	};
	struct ipc_resp r;
	char err[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ipc_resp_decode(bad[i], strlen(bad[i]), &r, err, sizeof(err)) != -EINVAL)
			fail_msg("response %s accepted", bad[i]);
		assert_true(err[0] != '\0');
		assert_null(r.data);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_op_names),
		cmocka_unit_test(test_roundtrip_reads),
		cmocka_unit_test(test_reject_offset),
		cmocka_unit_test(test_roundtrip_names),
		cmocka_unit_test(test_roundtrip_node_flags),
		cmocka_unit_test(test_disarm),
		cmocka_unit_test(test_migrate),
		cmocka_unit_test(test_roundtrip_domain_add),
		cmocka_unit_test(test_roundtrip_domain_set),
		cmocka_unit_test(test_encode_text),
		cmocka_unit_test(test_encode_rejects),
		cmocka_unit_test(test_decode_accepts),
		cmocka_unit_test(test_reject_structure),
		cmocka_unit_test(test_reject_nul_and_size),
		cmocka_unit_test(test_reject_names),
		cmocka_unit_test(test_reject_def),
		cmocka_unit_test(test_reject_xlcfg_size),
		cmocka_unit_test(test_reject_flags),
		cmocka_unit_test(test_reject_after_xlcfg),
		cmocka_unit_test(test_resp_roundtrip),
		cmocka_unit_test(test_resp_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
