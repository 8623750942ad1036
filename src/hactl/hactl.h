/*
 * hactl internals shared between the command code (hactl.c) and the
 * human-readable renderers (render.c).
 */
#ifndef XENHA_HACTL_H
#define XENHA_HACTL_H

#include <stdarg.h>
#include <stdio.h>
#include <json-c/json.h>

/* Exit statuses, documented in hactl(8) EXIT STATUS. */
enum hactl_exit {
	HACTL_EXIT_OK = 0,
	HACTL_EXIT_REFUSED = 1,     /* the cluster refused the command, or other error */
	HACTL_EXIT_USAGE = 2,       /* bad command line, or confirmation not given */
	HACTL_EXIT_NOCONN = 3,      /* cannot connect to xenhad */
	HACTL_EXIT_PERM = 4,        /* xenhad refused us: not root / not in haclient */
	HACTL_EXIT_NOENT = 5,       /* no such domain or host */
	HACTL_EXIT_NOTREADY = 6,    /* no quorum or state not synchronised */
	HACTL_EXIT_TIMEOUT = 7,     /* no answer in time */
};

/* Exit status for a daemon rc (0 or -errno). */
int hactl_exit_for_rc(int rc);

/* "hactl: " + the message + tail on stderr; returns status. */
int hactl_vsay(int status, const char *tail, const char *fmt, va_list ap);
/* "hactl: MESSAGE\n" on stderr; returns status (for `return hactl_say(...)`). */
int hactl_say(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Render the "data" object of a read response for a terminal.  Each
 * takes the object exactly as sj_status / sj_nodes / sj_domains /
 * sj_history produce it, tolerates missing keys (printed as "?"), and
 * returns 0 or -EIO when writing to f fails.  history and domains sort
 * nothing but what the brief asks for: domains by name, history as given
 * (oldest first).
 */
int hactl_render_status(FILE *f, struct json_object *data);
int hactl_render_nodes(FILE *f, struct json_object *data);
int hactl_render_domains(FILE *f, struct json_object *data);
int hactl_render_history(FILE *f, struct json_object *data);

/* ISO 8601 local time with offset ("2024-05-01T12:34:56+02:00") of a
 * wall-clock time in ms; buf at least 32 bytes. */
void hactl_format_time(char *buf, size_t len, int64_t time_ms);

#endif
