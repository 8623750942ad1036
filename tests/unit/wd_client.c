/*
 * wd_client - drive the watchdog driver (src/drivers/watchdog.c) from the
 * command line, for test_testwd.sh: the "test" driver against a real
 * xenha-testwd.  Test tool only.
 *
 *   wd_client SPEC TIMEOUT_MS STEP...
 *     pet:DURATION_MS:EVERY_MS   pet every EVERY_MS for DURATION_MS
 *     sleep:MS
 *     fire                       wd_fire (sysrq not allowed)
 *     disarm                     wd_disarm_close, the last step
 *     abandon                    wd_abandon, the last step
 * Without disarm or abandon it abandons at the end.  Exit 0, or 1 with
 * the failing call on stderr.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xenha/watchdog.h"

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int fail(const char *what, int rc)
{
	fprintf(stderr, "wd_client: %s: %s\n", what, strerror(-rc));
	return 1;
}

int main(int argc, char **argv)
{
	struct wd *w = NULL;
	uint32_t actual = 0;
	unsigned long ms;
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: wd_client SPEC TIMEOUT_MS STEP...\n");
		return 2;
	}
	ms = strtoul(argv[2], NULL, 10);
	rc = wd_open(argv[1], (uint32_t)ms, NULL, &w, &actual);
	if (rc < 0)
		return fail("wd_open", rc);
	printf("kind=%s actual_ms=%u\n", wd_kind(w), actual);
	fflush(stdout);
	for (int i = 3; i < argc; i++) {
		unsigned dur, every;

		if (sscanf(argv[i], "pet:%u:%u", &dur, &every) == 2 && every > 0) {
			for (unsigned t = 0; t < dur; t += every) {
				rc = wd_pet(w);
				if (rc < 0) {
					wd_abandon(w);
					return fail("wd_pet", rc);
				}
				sleep_ms(every);
			}
		} else if (sscanf(argv[i], "sleep:%u", &dur) == 1) {
			sleep_ms(dur);
		} else if (strcmp(argv[i], "fire") == 0) {
			rc = wd_fire(w, false);
			if (rc < 0) {
				wd_abandon(w);
				return fail("wd_fire", rc);
			}
		} else if (strcmp(argv[i], "disarm") == 0) {
			rc = wd_disarm_close(w);
			return rc < 0 ? fail("wd_disarm_close", rc) : 0;
		} else if (strcmp(argv[i], "abandon") == 0) {
			break;
		} else {
			fprintf(stderr, "wd_client: bad step %s\n", argv[i]);
			wd_abandon(w);
			return 2;
		}
	}
	wd_abandon(w);
	return 0;
}
