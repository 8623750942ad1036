/*
 * libFuzzer target: the hactl <-> xenhad IPC codec
 * (include/xenha/ipcproto.h), ipc_req_decode and ipc_resp_decode on the
 * input as JSON text (not NUL-terminated, as it arrives over libqb IPC).
 *
 * Checks (abort on failure):
 *   - no read past the input (ASan: libFuzzer's buffer has exactly
 *     `size` bytes), no UB, no leak;
 *   - ipc_req_decode returns 0 or -EINVAL (with a message in err); on
 *     failure the request is empty (op 0, no xl.cfg);
 *   - an accepted request re-encodes (ipc_req_encode returns 0), the
 *     encoding decodes to an equal request, and encoding that gives the
 *     same text again;
 *   - ipc_resp_decode returns 0 or -EINVAL; an accepted response has rc
 *     in [-4095, 0]; ipc_resp_encode of it decodes to the same rc, data
 *     (json_object_equal) and, when rc != 0, the same error text;
 *   - ipc_req_free / ipc_resp_free always, also after a failure.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "xenha/ipcproto.h"
#include "xenha/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_ipcreq: check failed: %s (%s:%d)\n", \
				#cond, __FILE__, __LINE__);                  \
			abort();                                             \
		}                                                            \
	} while (0)

static bool str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool def_eq(const struct xh_domain_def *a, const struct xh_domain_def *b)
{
	if (strcmp(a->name, b->name) != 0 || !str_eq(a->xlcfg, b->xlcfg) ||
	    a->memory_mb != b->memory_mb || a->priority != b->priority ||
	    a->restart != b->restart || a->max_restarts != b->max_restarts ||
	    a->max_relocations != b->max_relocations ||
	    a->n_preferred != b->n_preferred || a->n_avoided != b->n_avoided ||
	    strcmp(a->group, b->group) != 0 || a->start != b->start)
		return false;
	for (uint8_t i = 0; i < a->n_preferred && i < XH_MAX_PREF; i++)
		if (strcmp(a->preferred[i], b->preferred[i]) != 0)
			return false;
	for (uint8_t i = 0; i < a->n_avoided && i < XH_MAX_PREF; i++)
		if (strcmp(a->avoided[i], b->avoided[i]) != 0)
			return false;
	return true;
}

static bool req_eq(const struct ipc_req *a, const struct ipc_req *b)
{
	return a->op == b->op && strcmp(a->name, b->name) == 0 &&
	       a->limit == b->limit && a->offset == b->offset &&
	       def_eq(&a->def, &b->def) && a->mask == b->mask &&
	       a->standby == b->standby && a->maintenance == b->maintenance;
}

static void dump_req_mismatch(const char *in, size_t len, const char *enc)
{
	fprintf(stderr, "fuzz_ipcreq: request round trip differs\n  in:  %.*s\n  enc: %s\n",
		(int)len, in, enc);
}

static void fuzz_req(const char *json, size_t len)
{
	struct ipc_req r, r2;
	char err[256], err2[256];
	char *enc = NULL, *enc2 = NULL;
	int rc;

	err[0] = 'x';
	err[1] = '\0';
	rc = ipc_req_decode(json, len, &r, err, sizeof(err));
	CHECK(rc == 0 || rc == -EINVAL);
	CHECK(memchr(err, '\0', sizeof(err)) != NULL);
	if (rc < 0) {
		CHECK(err[0] != '\0');
		CHECK(r.op == 0 && r.def.xlcfg == NULL);
		ipc_req_free(&r);
		/* a NULL err is allowed */
		CHECK(ipc_req_decode(json, len, &r, NULL, 0) == rc);
		ipc_req_free(&r);
		return;
	}
	CHECK(r.op > 0 && r.op < IPC_OP__COUNT);
	CHECK(memchr(r.name, '\0', sizeof(r.name)) != NULL);

	rc = ipc_req_encode(&r, &enc);
	if (rc != 0) {
		fprintf(stderr, "fuzz_ipcreq: accepted request does not encode: rc=%d\n  in: %.*s\n",
			rc, (int)len, json);
		abort();
	}
	rc = ipc_req_decode(enc, strlen(enc), &r2, err2, sizeof(err2));
	if (rc != 0) {
		fprintf(stderr, "fuzz_ipcreq: re-encoded request refused: %s\n", err2);
		dump_req_mismatch(json, len, enc);
		abort();
	}
	if (!req_eq(&r, &r2)) {
		dump_req_mismatch(json, len, enc);
		abort();
	}
	CHECK(ipc_req_encode(&r2, &enc2) == 0);
	if (strcmp(enc, enc2) != 0) {
		fprintf(stderr, "fuzz_ipcreq: encoding not stable:\n  %s\n  %s\n", enc, enc2);
		abort();
	}
	free(enc2);
	free(enc);
	ipc_req_free(&r2);
	ipc_req_free(&r);
}

static void fuzz_resp(const char *json, size_t len)
{
	struct ipc_resp p, p2;
	char err[256];
	char *enc = NULL;
	int rc;

	rc = ipc_resp_decode(json, len, &p, err, sizeof(err));
	CHECK(rc == 0 || rc == -EINVAL);
	if (rc < 0) {
		CHECK(err[0] != '\0');
		CHECK(p.data == NULL);
		ipc_resp_free(&p);
		return;
	}
	CHECK(p.rc <= 0 && p.rc >= -4095);
	CHECK(memchr(p.error, '\0', sizeof(p.error)) != NULL);
	CHECK(p.data == NULL || json_object_is_type(p.data, json_type_object));

	CHECK(ipc_resp_encode(p.rc, p.error, p.data, &enc) == 0);
	rc = ipc_resp_decode(enc, strlen(enc), &p2, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "fuzz_ipcreq: re-encoded response refused: %s\n  in:  %.*s\n  enc: %s\n",
			err, (int)len, json, enc);
		abort();
	}
	CHECK(p2.rc == p.rc);
	if (p.rc != 0)
		CHECK(strcmp(p.error, p2.error) == 0);
	CHECK((p.data == NULL) == (p2.data == NULL));
	if (p.data != NULL && !json_object_equal(p.data, p2.data)) {
		fprintf(stderr, "fuzz_ipcreq: response data differs\n  in:  %.*s\n  enc: %s\n",
			(int)len, json, enc);
		abort();
	}
	free(enc);
	ipc_resp_free(&p2);
	ipc_resp_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_req((const char *)data, size);
	fuzz_resp((const char *)data, size);
	return 0;
}
