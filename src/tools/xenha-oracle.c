/*
 * xenha-oracle - the split-brain oracle of the sim hypervisor (tests only).
 *
 * Every sim domain appends records to its image file (see
 * src/sim/xenha-simdom.c and docs/sim.md):
 *   inc=ID seq=N mono_ns=T wall_ns=T node=NODEID gen=G ev=start|tick|stop|shutdown
 *
 * The rule: for each domain, each incarnation covers the interval
 * [first mono_ns, last mono_ns] of its records.  Two incarnations of the
 * same domain whose intervals overlap (a.first <= b.last && b.first <=
 * a.last) ran at the same time: a split-brain.  Every such pair is
 * reported.
 *
 * Our implementation: one pass over all files into a hash table keyed by
 * (domain, incarnation) holding min/max mono_ns; then the incarnations are
 * sorted by (domain, first) and swept: for each incarnation, the ones that
 * start before it ends follow it directly in the order.  O(n log n + k)
 * for n incarnations and k violations; records cost O(1) each.
 *
 * mono_ns is CLOCK_MONOTONIC of the writer's kernel: comparing it across
 * writers is meaningful because all sim hosts of a test run on one kernel
 * (network namespaces), which shares one monotonic clock.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#define ORACLE_LINE_MAX  256  /* records are shorter than this, newline included */
#define ORACLE_NAME_MAX  64
#define ORACLE_INC_MAX   64
#define ORACLE_EV_MAX    16
#define ORACLE_WARN_PER_FILE 10  /* malformed-line warnings per file without --verbose */

struct inc {
	char *domain;            /* interned: shared by all incarnations of a domain */
	char inc[ORACLE_INC_MAX];
	uint64_t first_ns;
	uint64_t last_ns;
	uint32_t node;
	uint64_t gen;
	uint64_t records;
	uint64_t last_seq;
	char last_ev[ORACLE_EV_MAX];
	char from[ORACLE_INC_MAX];  /* migrated in from this incarnation, or "" */
	bool node_conflict;      /* records of one incarnation name several nodes */
};

struct table {
	struct inc **slots;      /* open addressing; NULL = empty */
	size_t cap;              /* power of two */
	size_t count;
	struct inc **all;        /* insertion order, for sorting */
	size_t nall, capall;
	char **domains;          /* interned domain names */
	size_t ndomains, capdomains;
};

struct stats {
	uint64_t records;
	uint64_t malformed;      /* includes torn lines */
	uint64_t torn;
	uint64_t violations;
	bool io_error;
};

struct opts {
	bool json;
	bool verbose;
};

/* ---- hash table ---- */

static uint64_t fnv1a(const char *a, const char *b)
{
	uint64_t h = UINT64_C(1469598103934665603);

	for (; *a; a++)
		h = (h ^ (unsigned char)*a) * UINT64_C(1099511628211);
	h = (h ^ 0xff) * UINT64_C(1099511628211);  /* separator */
	for (; *b; b++)
		h = (h ^ (unsigned char)*b) * UINT64_C(1099511628211);
	return h;
}

static int table_grow(struct table *t)
{
	size_t cap = t->cap ? t->cap * 2 : 1024;
	struct inc **slots = calloc(cap, sizeof(*slots));

	if (slots == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		struct inc *e = t->slots[i];
		if (e == NULL)
			continue;
		size_t j = fnv1a(e->domain, e->inc) & (cap - 1);
		while (slots[j] != NULL)
			j = (j + 1) & (cap - 1);
		slots[j] = e;
	}
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return 0;
}

static char *table_domain(struct table *t, const char *name)
{
	/* domains are few and come file by file: the last one is the usual hit */
	for (size_t i = t->ndomains; i > 0; i--)
		if (strcmp(t->domains[i - 1], name) == 0)
			return t->domains[i - 1];
	if (t->ndomains == t->capdomains) {
		size_t cap = t->capdomains ? t->capdomains * 2 : 16;
		char **v = realloc(t->domains, cap * sizeof(*v));
		if (v == NULL)
			return NULL;
		t->domains = v;
		t->capdomains = cap;
	}
	char *s = strdup(name);
	if (s == NULL)
		return NULL;
	t->domains[t->ndomains++] = s;
	return s;
}

/* Find or add (domain, inc).  NULL on out of memory. */
static struct inc *table_get(struct table *t, char *domain, const char *inc, bool *created)
{
	size_t j;

	*created = false;
	if ((t->count + 1) * 4 > t->cap * 3 && table_grow(t) < 0)
		return NULL;
	j = fnv1a(domain, inc) & (t->cap - 1);
	while (t->slots[j] != NULL) {
		struct inc *e = t->slots[j];
		if (e->domain == domain && strcmp(e->inc, inc) == 0)
			return e;
		j = (j + 1) & (t->cap - 1);
	}
	if (t->nall == t->capall) {
		size_t cap = t->capall ? t->capall * 2 : 1024;
		struct inc **v = realloc(t->all, cap * sizeof(*v));
		if (v == NULL)
			return NULL;
		t->all = v;
		t->capall = cap;
	}
	struct inc *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	e->domain = domain;
	snprintf(e->inc, sizeof(e->inc), "%s", inc);
	t->slots[j] = e;
	t->count++;
	t->all[t->nall++] = e;
	*created = true;
	return e;
}

static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->nall; i++)
		free(t->all[i]);
	for (size_t i = 0; i < t->ndomains; i++)
		free(t->domains[i]);
	free(t->all);
	free(t->slots);
	free(t->domains);
}

/* ---- records ---- */

struct record {
	char inc[ORACLE_INC_MAX];
	uint64_t seq, mono_ns, wall_ns, gen;
	uint32_t node;
	char ev[ORACLE_EV_MAX];
	char from[ORACLE_INC_MAX];  /* ev=migrate-in only */
};

static bool parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		uint64_t d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static bool ev_known(const char *ev)
{
	return strcmp(ev, "start") == 0 || strcmp(ev, "tick") == 0 ||
	       strcmp(ev, "stop") == 0 || strcmp(ev, "shutdown") == 0 ||
	       strcmp(ev, "pause") == 0 || strcmp(ev, "resume") == 0 ||
	       strcmp(ev, "migrate-in") == 0;
}

/*
 * Parse one record (without its newline).  The fields must come in the
 * documented order, each exactly once, separated by single spaces.
 * Returns NULL or a short reason.
 */
static const char *parse_record(const char *line, size_t len, struct record *r)
{
	static const char *const keys[] = { "inc", "seq", "mono_ns", "wall_ns", "node", "gen", "ev" };
	const char *p = line, *end = line + len;

	memset(r, 0, sizeof(*r));
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		size_t klen = strlen(keys[k]);
		if ((size_t)(end - p) < klen + 1 || memcmp(p, keys[k], klen) != 0 || p[klen] != '=')
			return "fields missing or out of order";
		p += klen + 1;
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		const char *vend = sp ? sp : end;
		size_t vlen = (size_t)(vend - p);
		uint64_t v;

		if (vlen == 0)
			return "empty value";
		switch (k) {
		case 0:
			if (vlen >= sizeof(r->inc))
				return "incarnation too long";
			memcpy(r->inc, p, vlen);
			break;
		case 1:
			if (!parse_u64(p, vlen, &r->seq))
				return "bad seq";
			break;
		case 2:
			if (!parse_u64(p, vlen, &r->mono_ns))
				return "bad mono_ns";
			break;
		case 3:
			if (!parse_u64(p, vlen, &r->wall_ns))
				return "bad wall_ns";
			break;
		case 4:
			if (!parse_u64(p, vlen, &v) || v > UINT32_MAX)
				return "bad node";
			r->node = (uint32_t)v;
			break;
		case 5:
			if (!parse_u64(p, vlen, &r->gen))
				return "bad gen";
			break;
		case 6:
			if (vlen >= sizeof(r->ev))
				return "bad ev";
			memcpy(r->ev, p, vlen);
			if (!ev_known(r->ev))
				return "unknown ev";
			break;
		}
		p = vend;
		if (k + 1 < sizeof(keys) / sizeof(keys[0])) {
			if (p == end)
				return "fields missing";
			p++;  /* the space */
		}
	}
	/* a migrated-in incarnation names the one it continues */
	if (strcmp(r->ev, "migrate-in") == 0) {
		if (end - p < 6 || memcmp(p, " from=", 6) != 0)
			return "migrate-in without from";
		p += 6;
		size_t flen = (size_t)(end - p);
		if (flen == 0 || flen >= sizeof(r->from) || memchr(p, ' ', flen) != NULL)
			return "bad from";
		memcpy(r->from, p, flen);
		p = end;
	}
	if (p != end)
		return "trailing data";
	return NULL;
}

static void warn_line(const struct opts *o, unsigned *warned, const char *path,
		      uint64_t lineno, const char *what)
{
	if (!o->verbose && *warned >= ORACLE_WARN_PER_FILE)
		return;
	fprintf(stderr, "oracle: warning: %s file=%s line=%" PRIu64 "\n", what, path, lineno);
	if (!o->verbose && ++*warned == ORACLE_WARN_PER_FILE)
		fprintf(stderr, "oracle: warning: more malformed lines not shown file=%s (use --verbose)\n",
			path);
}

static int read_image(struct table *t, struct stats *s, const struct opts *o,
		      const char *path, const char *domain_name)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	uint64_t lineno = 0, bad = 0;
	unsigned warned = 0;
	char *domain;
	FILE *f;
	int rc = 0;

	domain = table_domain(t, domain_name);
	if (domain == NULL)
		return -ENOMEM;
	f = fopen(path, "re");
	if (f == NULL) {
		fprintf(stderr, "oracle: cannot open file=%s err=%s\n", path, strerror(errno));
		return -errno;
	}
	while ((len = getline(&line, &cap, f)) > 0) {
		struct record r;
		const char *why;
		bool created;

		lineno++;
		if (line[len - 1] != '\n') {
			/* only the last line can lack its newline: a writer died
			 * mid-write or is writing now */
			s->torn++;
			s->malformed++;
			bad++;
			warn_line(o, &warned, path, lineno, "torn last line");
			continue;
		}
		len--;
		if (len >= ORACLE_LINE_MAX) {
			s->malformed++;
			bad++;
			warn_line(o, &warned, path, lineno, "malformed line (too long)");
			continue;
		}
		why = parse_record(line, (size_t)len, &r);
		if (why != NULL) {
			char msg[96];
			snprintf(msg, sizeof(msg), "malformed line (%s)", why);
			s->malformed++;
			bad++;
			warn_line(o, &warned, path, lineno, msg);
			continue;
		}
		struct inc *e = table_get(t, domain, r.inc, &created);
		if (e == NULL) {
			rc = -ENOMEM;
			break;
		}
		if (created) {
			e->first_ns = e->last_ns = r.mono_ns;
			e->node = r.node;
			e->gen = r.gen;
		} else if (e->node != r.node) {
			e->node_conflict = true;
		}
		if (r.mono_ns < e->first_ns)
			e->first_ns = r.mono_ns;
		if (r.mono_ns >= e->last_ns) {
			e->last_ns = r.mono_ns;
			e->last_seq = r.seq;
			snprintf(e->last_ev, sizeof(e->last_ev), "%s", r.ev);
		}
		if (r.from[0] != '\0')
			snprintf(e->from, sizeof(e->from), "%s", r.from);
		e->records++;
		s->records++;
	}
	if (rc == 0 && ferror(f)) {
		fprintf(stderr, "oracle: read error file=%s err=%s\n", path, strerror(errno));
		rc = -EIO;
	}
	if (bad > 0 && !o->verbose && warned >= ORACLE_WARN_PER_FILE)
		fprintf(stderr, "oracle: warning: file=%s malformed=%" PRIu64 "\n", path, bad);
	free(line);
	fclose(f);
	return rc;
}

static int img_filter(const struct dirent *de)
{
	size_t n = strlen(de->d_name);

	return n > 4 && de->d_name[0] != '.' && strcmp(de->d_name + n - 4, ".img") == 0;
}

static int read_dir(struct table *t, struct stats *s, const struct opts *o, const char *dir)
{
	struct dirent **names;
	int n, rc = 0;

	n = scandir(dir, &names, img_filter, alphasort);
	if (n < 0) {
		fprintf(stderr, "oracle: cannot read dir=%s err=%s\n", dir, strerror(errno));
		return -errno;
	}
	for (int i = 0; i < n; i++) {
		char path[4096], domain[ORACLE_NAME_MAX];
		size_t len = strlen(names[i]->d_name) - 4;
		struct stat st;

		if (len >= sizeof(domain)) {
			fprintf(stderr, "oracle: warning: domain name too long, skipped file=%s/%s\n",
				dir, names[i]->d_name);
			continue;
		}
		memcpy(domain, names[i]->d_name, len);
		domain[len] = '\0';
		if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name) >= (int)sizeof(path)) {
			fprintf(stderr, "oracle: path too long dir=%s\n", dir);
			rc = -ENAMETOOLONG;
			continue;
		}
		if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
			continue;
		int r = read_image(t, s, o, path, domain);
		if (r == -ENOMEM) {
			rc = r;
			break;
		}
		if (r < 0)
			rc = r;
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* ---- the rule ---- */

static int inc_cmp(const void *pa, const void *pb)
{
	const struct inc *a = *(const struct inc *const *)pa;
	const struct inc *b = *(const struct inc *const *)pb;
	int c = strcmp(a->domain, b->domain);

	if (c != 0)
		return c;
	if (a->first_ns != b->first_ns)
		return a->first_ns < b->first_ns ? -1 : 1;
	if (a->last_ns != b->last_ns)
		return a->last_ns < b->last_ns ? -1 : 1;
	return strcmp(a->inc, b->inc);
}

static void print_interval_text(const struct inc *e)
{
	printf("inc=%s [%" PRIu64 ".%09" PRIu64 "..%" PRIu64 ".%09" PRIu64 "] node=%" PRIu32,
	       e->inc, e->first_ns / 1000000000u, e->first_ns % 1000000000u,
	       e->last_ns / 1000000000u, e->last_ns % 1000000000u, e->node);
}

static json_object *inc_json(const struct inc *e)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "inc", json_object_new_string(e->inc));
	json_object_object_add(o, "node", json_object_new_uint64(e->node));
	json_object_object_add(o, "gen", json_object_new_uint64(e->gen));
	json_object_object_add(o, "first_ns", json_object_new_uint64(e->first_ns));
	json_object_object_add(o, "last_ns", json_object_new_uint64(e->last_ns));
	json_object_object_add(o, "records", json_object_new_uint64(e->records));
	json_object_object_add(o, "last_ev", json_object_new_string(e->last_ev));
	if (e->from[0] != '\0')
		json_object_object_add(o, "from", json_object_new_string(e->from));
	return o;
}

/* Report every overlapping pair; incarnations sorted by (domain, first). */
static void sweep(struct table *t, struct stats *s, json_object *jv)
{
	for (size_t i = 0; i < t->nall; i++) {
		const struct inc *a = t->all[i];
		for (size_t j = i + 1; j < t->nall; j++) {
			const struct inc *b = t->all[j];
			/* sorted: b->first >= a->first, so they overlap iff
			 * b starts before a ends */
			if (b->domain != a->domain || b->first_ns > a->last_ns)
				break;
			uint64_t lo = b->first_ns;
			uint64_t hi = a->last_ns < b->last_ns ? a->last_ns : b->last_ns;
			uint64_t overlap = hi - lo;
			s->violations++;
			if (jv != NULL) {
				json_object *v = json_object_new_object();
				json_object_object_add(v, "domain", json_object_new_string(a->domain));
				json_object_object_add(v, "a", inc_json(a));
				json_object_object_add(v, "b", inc_json(b));
				json_object_object_add(v, "overlap_ns", json_object_new_uint64(overlap));
				json_object_array_add(jv, v);
			} else {
				printf("split-brain: domain=%s ", a->domain);
				print_interval_text(a);
				putchar(' ');
				print_interval_text(b);
				printf(" overlap_ms=%" PRIu64 ".%03" PRIu64 "\n",
				       overlap / 1000000u, overlap / 1000u % 1000u);
			}
		}
	}
}

static void print_verbose(const struct table *t)
{
	for (size_t i = 0; i < t->nall; i++) {
		const struct inc *e = t->all[i];
		fprintf(stderr, "oracle: incarnation domain=%s inc=%s node=%" PRIu32 " gen=%" PRIu64
			" first_ns=%" PRIu64 " last_ns=%" PRIu64 " records=%" PRIu64
			" last_seq=%" PRIu64 " last_ev=%s%s%s%s\n",
			e->domain, e->inc, e->node, e->gen, e->first_ns, e->last_ns,
			e->records, e->last_seq, e->last_ev,
			e->from[0] ? " from=" : "", e->from,
			e->node_conflict ? " warning=records-name-several-nodes" : "");
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xenha-oracle [--json] [--verbose] DIR...\n"
		"Reads the sim hypervisor's image files (DIR/*.img) and reports every pair of\n"
		"incarnations of one domain whose record intervals overlap (split-brain).\n"
		"Exit status: 0 clean, 1 violations found, 2 usage or I/O error.\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { 0 };
	struct table t;
	struct stats s;
	json_object *jv = NULL;
	bool oom = false;
	int c;

	while ((c = getopt_long(argc, argv, "jvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o.json = true;
			break;
		case 'v':
			o.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	memset(&t, 0, sizeof(t));
	memset(&s, 0, sizeof(s));
	for (int i = optind; i < argc; i++) {
		int rc = read_dir(&t, &s, &o, argv[i]);
		if (rc == -ENOMEM) {
			oom = true;
			break;
		}
		if (rc < 0)
			s.io_error = true;
	}
	if (oom) {
		fprintf(stderr, "oracle: out of memory\n");
		table_free(&t);
		return 2;
	}
	if (t.nall > 1)
		qsort(t.all, t.nall, sizeof(t.all[0]), inc_cmp);
	if (o.verbose)
		print_verbose(&t);
	if (o.json)
		jv = json_object_new_array();
	sweep(&t, &s, jv);

	/* every domain with an image file, even one without a valid record */
	size_t domains = t.ndomains;
	if (o.json) {
		json_object *root = json_object_new_object();
		json_object_object_add(root, "domains", json_object_new_uint64(domains));
		json_object_object_add(root, "incarnations", json_object_new_uint64(t.nall));
		json_object_object_add(root, "records", json_object_new_uint64(s.records));
		json_object_object_add(root, "malformed", json_object_new_uint64(s.malformed));
		json_object_object_add(root, "torn", json_object_new_uint64(s.torn));
		json_object_object_add(root, "io_error", json_object_new_boolean(s.io_error));
		json_object_object_add(root, "violations", jv);
		puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
		json_object_put(root);
	} else {
		printf("oracle: domains=%zu incarnations=%zu records=%" PRIu64 " malformed=%" PRIu64
		       " violations=%" PRIu64 "\n", domains, t.nall, s.records, s.malformed,
		       s.violations);
	}
	table_free(&t);
	if (fflush(stdout) != 0 || ferror(stdout))
		return 2;
	if (s.io_error)
		return 2;
	return s.violations > 0 ? 1 : 0;
}
