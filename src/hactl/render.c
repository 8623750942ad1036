/*
 * Human-readable output of hactl's read commands, in the manner of
 * crm_mon and `xl list`: a few header lines, then aligned tables whose
 * column widths follow the data.  The input is the daemon's JSON as is;
 * a key the daemon did not send prints as "?" rather than aborting, so
 * an older hactl still shows what it can of a newer daemon's answer.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "hactl.h"

#define CELL 160
#define MAXCOLS 9

/* ---- reading the daemon's JSON ---- */

static struct json_object *jget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (o == NULL || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

/* String value, or dflt when absent, null or not a string. */
static const char *jstr(struct json_object *o, const char *key, const char *dflt)
{
	struct json_object *v = jget(o, key);

	if (v == NULL || !json_object_is_type(v, json_type_string))
		return dflt;
	return json_object_get_string(v);
}

static bool jint(struct json_object *o, const char *key, int64_t *out)
{
	struct json_object *v = jget(o, key);

	if (v == NULL || !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return true;
}

/* true / false, or -1 when absent. */
static int jbool(struct json_object *o, const char *key)
{
	struct json_object *v = jget(o, key);

	if (v == NULL || !json_object_is_type(v, json_type_boolean))
		return -1;
	return json_object_get_boolean(v) ? 1 : 0;
}

static struct json_object *jarray(struct json_object *o, const char *key)
{
	struct json_object *v = jget(o, key);

	if (v == NULL || !json_object_is_type(v, json_type_array))
		return NULL;
	return v;
}

static void fmt_int(char *buf, size_t len, struct json_object *o, const char *key)
{
	int64_t x;

	if (jint(o, key, &x))
		snprintf(buf, len, "%" PRId64, x);
	else
		snprintf(buf, len, "?");
}

/* ---- tables ---- */

struct col {
	const char *head;
	bool right;       /* right-align (numbers) */
};

typedef void (*fill_fn)(void *ctx, size_t row, char cells[][CELL]);

/* Texts come from other hosts (reasons, event texts): never let one
 * carry escape sequences to the operator's terminal. */
static void fill_clean(fill_fn fill, void *ctx, size_t row, size_t ncols,
		       char cells[][CELL])
{
	fill(ctx, row, cells);
	for (size_t c = 0; c < ncols; c++)
		for (char *p = cells[c]; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
}

/*
 * Two passes over the rows: widths, then output.  Filling a row is cheap
 * (a few snprintf), cheaper than keeping every cell of 100000 domains.
 * Lines carry no trailing blanks.
 */
static int print_table(FILE *f, const struct col *cols, size_t ncols,
		       size_t nrows, fill_fn fill, void *ctx)
{
	size_t w[MAXCOLS] = { 0 };
	char cells[MAXCOLS][CELL];

	for (size_t c = 0; c < ncols; c++)
		w[c] = strlen(cols[c].head);
	for (size_t r = 0; r < nrows; r++) {
		fill_clean(fill, ctx, r, ncols, cells);
		for (size_t c = 0; c < ncols; c++) {
			size_t l = strlen(cells[c]);

			if (l > w[c])
				w[c] = l;
		}
	}
	for (size_t r = 0; r <= nrows; r++) {
		char line[MAXCOLS * (CELL + 2) + 1];
		size_t len = 0;

		if (r > 0)
			fill_clean(fill, ctx, r - 1, ncols, cells);
		for (size_t c = 0; c < ncols; c++) {
			const char *s = r == 0 ? cols[c].head : cells[c];
			int w_c = (int)w[c];

			len += (size_t)snprintf(line + len, sizeof(line) - len,
						cols[c].right && r > 0 ? "%s%*s" : "%s%-*s",
						c > 0 ? "  " : "", w_c, s);
		}
		/* Padding of empty trailing cells is not output. */
		while (len > 0 && line[len - 1] == ' ')
			len--;
		line[len] = '\0';
		fputs(line, f);
		fputc('\n', f);
	}
	return ferror(f) ? -EIO : 0;
}

/* ---- nodes ---- */

static const struct col node_cols[] = {
	{ "Name", false }, { "ID", true }, { "State", false },
	{ "Fence", false }, { "Flags", false }, { "Mem total/free", true },
	{ "Domains", true },
};

static void node_fill(void *ctx, size_t row, char cells[][CELL])
{
	struct json_object *n = json_object_array_get_idx(ctx, row);
	int64_t total, freemb;
	int standby = jbool(n, "standby"), maint = jbool(n, "maintenance");
	int member = jbool(n, "member");

	snprintf(cells[0], CELL, "%s", jstr(n, "name", "?"));
	fmt_int(cells[1], CELL, n, "nodeid");
	snprintf(cells[2], CELL, "%s", member < 0 ? "?" :
		 member ? "online" : "OFFLINE");
	snprintf(cells[3], CELL, "%s", jstr(n, "fence", "?"));
	if (standby > 0 && maint > 0)
		snprintf(cells[4], CELL, "standby,maintenance");
	else if (standby > 0)
		snprintf(cells[4], CELL, "standby");
	else if (maint > 0)
		snprintf(cells[4], CELL, "maintenance");
	else
		snprintf(cells[4], CELL, "-");
	if (jint(n, "mem_total_mb", &total) && jint(n, "mem_free_mb", &freemb))
		snprintf(cells[5], CELL, "%" PRId64 "/%" PRId64, total, freemb);
	else
		snprintf(cells[5], CELL, "?");
	fmt_int(cells[6], CELL, n, "domains");
}

static int render_node_table(FILE *f, struct json_object *nodes)
{
	if (nodes == NULL || json_object_array_length(nodes) == 0) {
		fputs("No hosts known.\n", f);
		return ferror(f) ? -EIO : 0;
	}
	return print_table(f, node_cols, sizeof(node_cols) / sizeof(node_cols[0]),
			   json_object_array_length(nodes), node_fill, nodes);
}

int hactl_render_nodes(FILE *f, struct json_object *data)
{
	return render_node_table(f, jarray(data, "nodes"));
}

/* ---- status ---- */

static const char *yes_no(int b, const char *yes, const char *no)
{
	return b < 0 ? "?" : b ? yes : no;
}

int hactl_render_status(FILE *f, struct json_object *data)
{
	struct json_object *cl = jget(data, "cluster"), *lo = jget(data, "local");
	struct json_object *dc = jget(data, "domains");
	char members[24], votes[24], seq[24], qseq[24], nodeid[24];
	static const char *const counts[] = {
		"running", "starting", "stopping", "stopped", "failed", "lost",
	};
	char total[24];
	int64_t until = 0;
	int rc;

	fmt_int(members, sizeof(members), cl, "members");
	fmt_int(votes, sizeof(votes), cl, "expected_votes");
	fmt_int(seq, sizeof(seq), cl, "seq");
	fmt_int(qseq, sizeof(qseq), cl, "qseq");
	fmt_int(nodeid, sizeof(nodeid), lo, "nodeid");

	fprintf(f, "Cluster:     %s, %s members, %s expected votes, coordinator %s\n",
		yes_no(jbool(cl, "quorate"), "quorate", "NOT QUORATE"),
		members, votes, jstr(cl, "coordinator", "none"));
	fprintf(f, "             state seq %s, quorate seq %s\n", seq, qseq);
	if (jint(cl, "disarmed_until_ms", &until) && until > 0) {
		struct timespec ts;
		int64_t now_ms;

		clock_gettime(CLOCK_REALTIME, &ts);
		now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		if (until > now_ms)
			fprintf(f, "HA actions:  DISARMED for %" PRId64 " s more (re-arms by itself; "
				"`hactl arm` ends it)\n", (until - now_ms + 999) / 1000);
	}
	fprintf(f, "Local node:  %s (id %s), %s, %s, hypervisor %s\n",
		jstr(lo, "name", "(unknown)"), nodeid,
		yes_no(jbool(lo, "synced"), "synced", "NOT SYNCED"),
		yes_no(jbool(lo, "quorate"), "quorate", "NOT QUORATE"),
		jstr(lo, "hypervisor", "?"));
	fputc('\n', f);

	rc = render_node_table(f, jarray(data, "nodes"));
	if (rc < 0)
		return rc;

	fmt_int(total, sizeof(total), dc, "total");
	fprintf(f, "\nDomains: %s total", total);
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		char n[24];

		fmt_int(n, sizeof(n), dc, counts[i]);
		fprintf(f, "%s %s %s", i == 0 ? ":" : ",", n, counts[i]);
	}
	fputc('\n', f);
	return ferror(f) ? -EIO : 0;
}

/* ---- domains ---- */

static const struct col dom_cols[] = {
	{ "Name", false }, { "State", false }, { "Host", false },
	{ "Mem(MiB)", true }, { "Prio", true }, { "Gen", true },
	{ "Restarts", true }, { "Reason", false },
};

struct dom_view {
	struct json_object **doms;   /* sorted by name */
};

static void dom_fill(void *ctx, size_t row, char cells[][CELL])
{
	struct dom_view *v = ctx;
	struct json_object *d = v->doms[row];

	snprintf(cells[0], CELL, "%s", jstr(d, "name", "?"));
	snprintf(cells[1], CELL, "%s", jstr(d, "state", "?"));
	snprintf(cells[2], CELL, "%s", jstr(d, "host", "-"));
	fmt_int(cells[3], CELL, d, "memory_mb");
	fmt_int(cells[4], CELL, d, "priority");
	fmt_int(cells[5], CELL, d, "generation");
	fmt_int(cells[6], CELL, d, "restarts");
	snprintf(cells[7], CELL, "%s", jstr(d, "reason", ""));
}

static int by_name(const void *a, const void *b)
{
	struct json_object *const *x = a, *const *y = b;

	return strcmp(jstr(*x, "name", ""), jstr(*y, "name", ""));
}

int hactl_render_domains(FILE *f, struct json_object *data)
{
	struct json_object *a = jarray(data, "domains");
	struct dom_view v;
	size_t n;
	int rc;

	n = a != NULL ? json_object_array_length(a) : 0;
	if (n == 0) {
		fputs("No HA domains defined.\n", f);
		return ferror(f) ? -EIO : 0;
	}
	v.doms = calloc(n, sizeof(*v.doms));
	if (v.doms == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		v.doms[i] = json_object_array_get_idx(a, i);
	/* xenhad keeps domains sorted already; sort anyway so the output
	 * does not depend on it. */
	qsort(v.doms, n, sizeof(*v.doms), by_name);
	rc = print_table(f, dom_cols, sizeof(dom_cols) / sizeof(dom_cols[0]), n,
			 dom_fill, &v);
	free(v.doms);
	return rc;
}

/* ---- history ---- */

void hactl_format_time(char *buf, size_t len, int64_t time_ms)
{
	time_t t = (time_t)(time_ms / 1000);
	struct tm tm;
	char off[8];

	if (time_ms < 0 || localtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm) == 0 ||
	    strftime(off, sizeof(off), "%z", &tm) != 5) {
		snprintf(buf, len, "?");
		return;
	}
	/* %z is +hhmm; ISO 8601 extended format wants +hh:mm. */
	snprintf(buf + strlen(buf), len - strlen(buf), "%.3s:%.2s", off, off + 3);
}

static const struct col ev_cols[] = {
	{ "Time", false }, { "Type", false }, { "Host", false },
	{ "Domain", false }, { "Text", false },
};

static void ev_fill(void *ctx, size_t row, char cells[][CELL])
{
	struct json_object *e = json_object_array_get_idx(ctx, row);
	int64_t t;

	if (jint(e, "time_ms", &t))
		hactl_format_time(cells[0], CELL, t);
	else
		snprintf(cells[0], CELL, "?");
	snprintf(cells[1], CELL, "%s", jstr(e, "type", "?"));
	snprintf(cells[2], CELL, "%s", jstr(e, "host", "-"));
	snprintf(cells[3], CELL, "%s", jstr(e, "domain", "-"));
	snprintf(cells[4], CELL, "%s", jstr(e, "text", ""));
}

int hactl_render_history(FILE *f, struct json_object *data)
{
	struct json_object *a = jarray(data, "events");

	if (a == NULL || json_object_array_length(a) == 0) {
		fputs("No events.\n", f);
		return ferror(f) ? -EIO : 0;
	}
	return print_table(f, ev_cols, sizeof(ev_cols) / sizeof(ev_cols[0]),
			   json_object_array_length(a), ev_fill, a);
}
