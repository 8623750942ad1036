/*
 * libFuzzer target: the configuration parser, cfg_parse()
 * (include/xenha/config.h), on the input as text.
 *
 * Checks (abort on failure):
 *   - never a crash, out-of-bounds access (ASan), UB (UBSan) or leak;
 *   - the result is 0 or -EINVAL (-ENOMEM only if inih cannot allocate
 *     its line buffer, which does not happen here);
 *   - on -EINVAL the message is "fuzz.conf:LINE: ..." with 1 <= LINE <=
 *     the number of lines in the text, and *c is unchanged;
 *   - on success the message is empty, every string field is
 *     NUL-terminated inside its array, and the hypervisor is "sim" or
 *     "xen";
 *   - the parser is deterministic and the message is cut safely: a second
 *     parse into a tiny exact-size buffer gives the same result and a
 *     prefix of the same message.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenha/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FILENAME "fuzz.conf"
#define SMALL_ERR 12

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_config: check failed: %s (%s:%d)\n", \
				#cond, __FILE__, __LINE__);                  \
			abort();                                             \
		}                                                            \
	} while (0)

static bool terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

/* Lines as inih counts them: text up to the first NUL, split at '\n'. */
static unsigned long count_lines(const char *text)
{
	unsigned long n = 1;

	for (const char *p = text; *p; p++)
		if (*p == '\n' && p[1] != '\0')
			n++;
	return n;
}

static void check_error_message(const char *err, const char *text)
{
	const char *p = err + strlen(FILENAME);
	char *end;
	unsigned long line;

	if (strncmp(err, FILENAME ":", strlen(FILENAME) + 1) != 0) {
		fprintf(stderr, "fuzz_config: message without file name: '%s'\n", err);
		abort();
	}
	p++;
	line = strtoul(p, &end, 10);
	if (end == p || *end != ':' || line < 1 || line > count_lines(text)) {
		fprintf(stderr, "fuzz_config: bad line number in '%s' (%lu lines)\n",
			err, count_lines(text));
		abort();
	}
}

/* Field by field: struct padding is not part of the value. */
static bool cfg_equal(const struct xh_config *a, const struct xh_config *b)
{
	return strcmp(a->node_name, b->node_name) == 0 &&
	       strcmp(a->hypervisor, b->hypervisor) == 0 &&
	       strcmp(a->state_dir, b->state_dir) == 0 &&
	       a->mem_reserved_mb == b->mem_reserved_mb &&
	       a->dom_overhead_mb == b->dom_overhead_mb &&
	       a->start_timeout_ms == b->start_timeout_ms &&
	       a->stop_timeout_ms == b->stop_timeout_ms &&
	       a->history == b->history &&
	       strcmp(a->sim_image_dir, b->sim_image_dir) == 0 &&
	       strcmp(a->sim_run_dir, b->sim_run_dir) == 0 &&
	       strcmp(a->sim_simdom, b->sim_simdom) == 0 &&
	       a->sim_memory_mb == b->sim_memory_mb &&
	       a->sim_hold_max_mb == b->sim_hold_max_mb &&
	       a->sim_dirty_kib_s == b->sim_dirty_kib_s &&
	       a->sim_record_ms == b->sim_record_ms &&
	       a->log_syslog == b->log_syslog &&
	       strcmp(a->log_file, b->log_file) == 0 &&
	       a->log_debug == b->log_debug;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xh_config c, before, c2;
	char err[512];
	char *text, *small;
	int rc, rc2;

	text = malloc(size + 1);
	small = malloc(SMALL_ERR);
	if (text == NULL || small == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';

	cfg_defaults(&c, NULL);
	memcpy(&before, &c, sizeof(c));
	memset(err, 0x5a, sizeof(err));
	rc = cfg_parse(text, FILENAME, &c, err, sizeof(err));
	CHECK(rc == 0 || rc == -EINVAL);
	CHECK(terminated(err, sizeof(err)));
	if (rc == 0) {
		CHECK(err[0] == '\0');
		CHECK(terminated(c.node_name, sizeof(c.node_name)));
		CHECK(terminated(c.hypervisor, sizeof(c.hypervisor)));
		CHECK(terminated(c.state_dir, sizeof(c.state_dir)));
		CHECK(terminated(c.sim_image_dir, sizeof(c.sim_image_dir)));
		CHECK(terminated(c.sim_run_dir, sizeof(c.sim_run_dir)));
		CHECK(terminated(c.sim_simdom, sizeof(c.sim_simdom)));
		CHECK(terminated(c.log_file, sizeof(c.log_file)));
		CHECK(strcmp(c.hypervisor, "sim") == 0 || strcmp(c.hypervisor, "xen") == 0);
	} else {
		check_error_message(err, text);
		CHECK(cfg_equal(&c, &before));
	}

	/* again, with a message buffer too small for any message */
	cfg_defaults(&c2, NULL);
	rc2 = cfg_parse(text, FILENAME, &c2, small, SMALL_ERR);
	CHECK(rc2 == rc);
	CHECK(terminated(small, SMALL_ERR));
	CHECK(strncmp(small, err, strlen(small)) == 0);
	if (rc == 0)
		CHECK(cfg_equal(&c, &c2));

	/* a NULL message buffer is allowed */
	cfg_defaults(&c2, NULL);
	CHECK(cfg_parse(text, FILENAME, &c2, NULL, 0) == rc);

	free(small);
	free(text);
	return 0;
}
