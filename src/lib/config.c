/*
 * Node-local configuration parser, xenha.conf(5) (see include/xenha/config.h
 * for the contract).  Pure: no I/O, no logging, no globals; everything the
 * inih callbacks need travels in one struct cfg_ctx.
 *
 * Why we feed inih through ini_parse_stream() with our own string reader
 * instead of calling ini_parse_string():
 *
 *  - Line numbers.  Debian builds inih with INI_HANDLER_LINENO=0, so the
 *    key handler is not told its line.  inih calls the reader exactly once
 *    per line and then handles that line before reading the next, so a
 *    reader that counts lines knows, inside the handler, the line being
 *    handled.  This is exact by construction, including after comments,
 *    blank lines and CRLF endings; a pre-scan that tried to re-derive
 *    inih's line classification could drift from it.
 *
 *  - Section headers.  Debian's inih does not call the handler for a
 *    section header (INI_CALL_HANDLER_ON_NEW_SECTION=0), so a misspelt
 *    section with no keys under it would pass silently.  The reader sees
 *    every header line and checks it.
 *
 *  - Long lines.  inih reads into a fixed INI_MAX_LINE (200) buffer; a
 *    longer line is silently split and the rest parsed as a new line.  The
 *    reader rejects it with a clear message instead.
 *
 *  - Continuation lines.  Debian's inih has INI_ALLOW_MULTILINE=1: an
 *    indented line after a key (even after comments and blank lines) is
 *    handed to the handler as another value of that key.  None of our
 *    values spans lines, and an indented "key = value" would silently
 *    become part of the previous key's value.  The reader strips
 *    indentation, so inih never sees a continuation; indented keys are
 *    ordinary keys and indented text without '=' is a syntax error.
 *
 * The library's runtime switches (ini_allow_multiline, ...) are process
 * globals; changing them would make this parser impure and thread-unsafe,
 * so we leave them at their defaults and adapt the input instead.
 *
 * inih does not stop at the first error (INI_STOP_ON_FIRST_ERROR=0) and
 * returns the line of the first error it saw (syntax or handler failure).
 * We record the first error we detect ourselves, with its message; at the
 * end, an inih error on an earlier line than ours can only be a syntax
 * error inih found on its own.
 *
 * The result is built in a copy and committed only on success, so a bad
 * file leaves the caller's configuration untouched.
 *
 * [fence-device NAME] sections repeat, so they are not in the plain table
 * of sections: the reader opens a device slot at each such header and
 * remembers it as the current section; the handler stores the keys that
 * follow into that slot.  We do not use the section name inih hands the
 * handler for devices, because inih cuts section names at 49 bytes.  A
 * device is checked for its required keys when its section closes (at
 * the next header or at the end of the text), and such an error is
 * reported on the header's line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "xenha/config.h"

#ifndef LIBEXECDIR
#define LIBEXECDIR "/usr/libexec/xenha"
#endif
#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

/*
 * Longest accepted line in bytes, not counting "\n" or "\r\n".  inih's
 * buffer must hold the line plus '\r', '\n' and NUL (see ini.h), hence
 * INI_MAX_LINE - 3.  If a library hands us a smaller buffer we use that.
 */
#define CFG_LINE_MAX (INI_MAX_LINE - 3)

/* How much of an offending value we quote in a message. */
#define CFG_QUOTE_MAX 64

#define CFG_MSG_MAX 512

/* ---- the table of keys ---- */

enum cfg_kind {
	CK_NAME,        /* host name: 1..XH_NAME_MAX-1 of [A-Za-z0-9._-], or "" */
	CK_HYPERVISOR,  /* "sim" or "xen" */
	CK_PATH,        /* absolute path */
	CK_PATH_OPT,    /* absolute path or empty */
	CK_U32,
	CK_U64,
	CK_BOOL,
	CK_WATCHDOG,    /* absolute path, "test:" + absolute path, or "none" */
	CK_HOSTS,       /* [fence-device] hosts: host names separated by blanks */
	CK_ARGS,        /* [fence-device] args: key=value words separated by blanks */
	CK_ADDR,        /* numeric IPv4 or IPv6 address, or "" */
};

struct cfg_key {
	const char *section;
	const char *name;
	enum cfg_kind kind;
	size_t off;     /* offset of the field in struct xh_config
			   (struct xh_fence_device for dev_keys[]) */
	size_t size;    /* size of the field (strings: buffer size) */
	uint64_t min;   /* integers only */
	uint64_t max;
};

#define KEY(sec, nm, kind, field, lo, hi) \
	{ sec, nm, kind, offsetof(struct xh_config, field), \
	  sizeof(((struct xh_config *)0)->field), lo, hi }

/*
 * Ranges (also in xenha.conf(5)): wide enough for any real host, narrow
 * enough to catch a unit mistake (seconds for milliseconds, KiB for MiB).
 */
static const struct cfg_key cfg_keys[] = {
	KEY("node", "name", CK_NAME, node_name, 0, 0),
	KEY("node", "hypervisor", CK_HYPERVISOR, hypervisor, 0, 0),
	KEY("node", "state_dir", CK_PATH, state_dir, 0, 0),
	KEY("node", "mem_reserved_mb", CK_U32, mem_reserved_mb, 0, 1048576),
	KEY("node", "dom_overhead_mb", CK_U32, dom_overhead_mb, 0, 65536),
	KEY("node", "start_timeout_ms", CK_U32, start_timeout_ms, 100, 3600000),
	KEY("node", "stop_timeout_ms", CK_U32, stop_timeout_ms, 100, 3600000),
	KEY("cluster", "history", CK_U32, history, 10, 100000),
	KEY("sim", "image_dir", CK_PATH, sim_image_dir, 0, 0),
	KEY("sim", "run_dir", CK_PATH, sim_run_dir, 0, 0),
	KEY("sim", "simdom", CK_PATH, sim_simdom, 0, 0),
	KEY("sim", "memory_mb", CK_U64, sim_memory_mb, 64, 16777216),
	KEY("sim", "hold_max_mb", CK_U32, sim_hold_max_mb, 0, 4096),
	KEY("sim", "dirty_kib_s", CK_U32, sim_dirty_kib_s, 0, 1048576),
	KEY("sim", "record_ms", CK_U32, sim_record_ms, 1, 60000),
	KEY("migration", "address", CK_ADDR, mig_address, 0, 0),
	KEY("migration", "port", CK_U32, mig_port, 1, 65535),
	KEY("migration", "keyfile", CK_PATH, mig_keyfile, 0, 0),
	KEY("migration", "max_concurrent", CK_U32, mig_max_concurrent, 1, 64),
	KEY("migration", "downtime_ms", CK_U32, mig_downtime_ms, 1, 60000),
	KEY("migration", "max_rounds", CK_U32, mig_max_rounds, 1, 1000),
	KEY("migration", "timeout_ms", CK_U32, mig_timeout_ms, 1000, 86400000),
	KEY("fencing", "device", CK_PATH_OPT, fence_device, 0, 0),
	KEY("fencing", "watchdog", CK_WATCHDOG, fence_watchdog, 0, 0),
	KEY("fencing", "allow_no_watchdog", CK_BOOL, fence_allow_no_watchdog, 0, 0),
	KEY("fencing", "tick_ms", CK_U32, fence_tick_ms, 10, 10000),
	KEY("fencing", "lease_ms", CK_U32, fence_lease_ms, 50, 60000),
	KEY("fencing", "margin_ms", CK_U32, fence_margin_ms, 0, 60000),
	KEY("fencing", "xenhad_timeout_ms", CK_U32, fence_xenhad_timeout_ms, 100, 600000),
	KEY("fencing", "disk_timeout_ms", CK_U32, fence_disk_timeout_ms, 50, 600000),
	KEY("fencing", "sysrq", CK_BOOL, fence_sysrq, 0, 0),
	KEY("fencing", "disk_fault_file", CK_PATH_OPT, fence_disk_fault_file, 0, 0),
	/* what the site's iSCSI and multipath settings are, for the timeout
	   chain check; 0 = unknown (the check then says so) */
	KEY("fencing", "iscsi_replacement_timeout_ms", CK_U32,
	    fence_iscsi_replacement_ms, 0, 3600000),
	KEY("fencing", "mpath_no_path_retry", CK_U32, fence_mpath_no_path_retry,
	    0, 100000),
	KEY("fencing", "mpath_polling_interval_ms", CK_U32, fence_mpath_polling_ms,
	    0, 3600000),
	KEY("log", "syslog", CK_BOOL, log_syslog, 0, 0),
	KEY("log", "file", CK_PATH_OPT, log_file, 0, 0),
	KEY("log", "debug", CK_BOOL, log_debug, 0, 0),
};

#define CFG_NKEYS (sizeof(cfg_keys) / sizeof(cfg_keys[0]))

#define DKEY(nm, kind, field, lo, hi) \
	{ "fence-device", nm, kind, offsetof(struct xh_fence_device, field), \
	  sizeof(((struct xh_fence_device *)0)->field), lo, hi }

/*
 * The keys of a [fence-device NAME] section.  A fence agent run below one
 * second cannot do its status retries (1 s apart); above ten minutes the
 * survivors would wait too long to recover anything.
 */
static const struct cfg_key dev_keys[] = {
	DKEY("agent", CK_PATH, agent, 0, 0),
	DKEY("hosts", CK_HOSTS, hosts, 0, 0),
	DKEY("level", CK_U32, level, 1, 9),
	DKEY("timeout_ms", CK_U32, timeout_ms, 1000, 600000),
	DKEY("args", CK_ARGS, args, 0, 0),
};

#define DEV_NKEYS (sizeof(dev_keys) / sizeof(dev_keys[0]))

/* Set by xenha, never by the administrator ("option" is fence-agents'
 * old name for "action"). */
static const char *const dev_reserved_args[] = {
	"action", "option", "plug", "port", "nodename",
};

#define DEV_PREFIX "fence-device"
#define DEV_PREFIX_LEN (sizeof(DEV_PREFIX) - 1)

static const char *const cfg_sections[] = {
	"node", "cluster", "sim", "migration", "fencing", "log",
};

#define SECTIONS_EXPECTED "[node], [cluster], [sim], [migration], [fencing], " \
	"[fence-device NAME], [log]"

#define CFG_NSECTIONS (sizeof(cfg_sections) / sizeof(cfg_sections[0]))

/* ---- parse context ---- */

struct cfg_ctx {
	/* reader */
	const char *pos;                  /* next unread byte of the text */
	unsigned lineno;                  /* line last handed to inih */

	/* result */
	struct xh_config cfg;             /* built here, copied out on success */
	unsigned key_line[CFG_NKEYS];     /* line each key was set on, 0 = not */
	unsigned section_line[CFG_NSECTIONS];

	/* [fence-device NAME] sections */
	int cur_dev;                      /* slot of the open device section, -1 = none */
	unsigned dev_line[CFG_FENCE_DEVICES_MAX];   /* header line, 0 = from before */
	unsigned dev_key_line[CFG_FENCE_DEVICES_MAX][DEV_NKEYS];
	char dev_section[XH_NAME_MAX + 16]; /* "fence-device NAME" of cur_dev */

	/* first error we found ourselves */
	unsigned err_line;                /* 0 = none; the line it is about */
	unsigned err_seen;                /* the line being read when we found it
					     (after err_line for a device
					     found incomplete at its end) */
	char err_msg[CFG_MSG_MAX];
};

static void __attribute__((format(printf, 4, 0)))
vfail_at(struct cfg_ctx *x, unsigned line, unsigned seen, const char *fmt,
	 va_list ap)
{
	if (x->err_line != 0)
		return;
	x->err_line = line;
	x->err_seen = seen;
	vsnprintf(x->err_msg, sizeof(x->err_msg), fmt, ap);
}

static void __attribute__((format(printf, 2, 3)))
fail(struct cfg_ctx *x, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail_at(x, x->lineno, x->lineno, fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 4, 5)))
fail_at(struct cfg_ctx *x, unsigned line, unsigned seen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail_at(x, line, seen, fmt, ap);
	va_end(ap);
}

/*
 * Quote untrusted text for a message: control bytes become '?', and long
 * values are cut (messages end up on terminals and in logs).
 */
static const char *quote(char *buf, size_t buflen, const char *s, size_t n)
{
	size_t i, o = 0;
	bool cut = false;

	if (n > CFG_QUOTE_MAX) {
		n = CFG_QUOTE_MAX;
		cut = true;
	}
	for (i = 0; i < n && o + 1 < buflen; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (cut && o + 4 <= buflen) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* ---- section headers (checked in the reader) ---- */

static bool name_ok(const char *v);

static int section_index(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < CFG_NSECTIONS; i++)
		if (strlen(cfg_sections[i]) == n && memcmp(cfg_sections[i], s, n) == 0)
			return (int)i;
	return -1;
}

/*
 * The device section now open (if any) ends here; check it has what it
 * needs.  `seen` is the line being read (one past the end at the end).
 */
static void close_device(struct cfg_ctx *x, unsigned seen)
{
	const struct xh_fence_device *d;
	int i = x->cur_dev;

	if (i < 0)
		return;
	x->cur_dev = -1;
	d = &x->cfg.fence_devices[i];
	if (d->agent[0] == '\0')
		fail_at(x, x->dev_line[i], seen, "section [%s %s] has no agent; "
			"expected an 'agent = /absolute/path' line in it",
			DEV_PREFIX, d->name);
	else if (d->n_hosts == 0)
		fail_at(x, x->dev_line[i], seen, "section [%s %s] has no hosts; "
			"expected a 'hosts = NAME ...' line in it", DEV_PREFIX,
			d->name);
}

/*
 * A "[fence-device...]" header: `sec` (n bytes) is what is between the
 * brackets, starting "fence-device" and then nothing or a space.  Opens a
 * new device slot with the defaults.
 */
static void open_device(struct cfg_ctx *x, const char *sec, size_t n)
{
	char q[CFG_QUOTE_MAX * 2], name[XH_NAME_MAX];
	struct xh_fence_device *d;
	size_t len = n > DEV_PREFIX_LEN ? n - DEV_PREFIX_LEN - 1 : 0;
	const char *nm = sec + DEV_PREFIX_LEN + 1;
	uint32_t i;

	quote(q, sizeof(q), sec, n);
	if (n == DEV_PREFIX_LEN || len >= sizeof(name)) {
		fail(x, "invalid section [%s]; expected [%s NAME] with a NAME of "
		     "1 to %d characters from [A-Za-z0-9._-], starting with a "
		     "letter or digit", q, DEV_PREFIX, XH_NAME_MAX - 1);
		return;
	}
	memcpy(name, nm, len);
	name[len] = '\0';
	if (!name_ok(name)) {
		fail(x, "invalid section [%s]; expected [%s NAME] with a NAME of "
		     "1 to %d characters from [A-Za-z0-9._-], starting with a "
		     "letter or digit", q, DEV_PREFIX, XH_NAME_MAX - 1);
		return;
	}
	for (i = 0; i < x->cfg.n_fence_devices; i++) {
		if (strcmp(x->cfg.fence_devices[i].name, name) != 0)
			continue;
		if (x->dev_line[i] != 0)
			fail(x, "duplicate section [%s] (first on line %u); "
			     "expected each section once", q, x->dev_line[i]);
		else
			fail(x, "duplicate section [%s] (defined before this "
			     "file); expected each section once", q);
		return;
	}
	if (x->cfg.n_fence_devices >= CFG_FENCE_DEVICES_MAX) {
		fail(x, "too many fence devices at [%s]; expected at most %d "
		     "[%s NAME] sections", q, CFG_FENCE_DEVICES_MAX, DEV_PREFIX);
		return;
	}
	i = x->cfg.n_fence_devices++;
	d = &x->cfg.fence_devices[i];
	memset(d, 0, sizeof(*d));
	memcpy(d->name, name, len + 1);
	d->level = 1;
	d->timeout_ms = 30000;
	x->dev_line[i] = x->lineno;
	x->cur_dev = (int)i;
	snprintf(x->dev_section, sizeof(x->dev_section), "%s %s", DEV_PREFIX, name);
}

/*
 * `s` (n bytes, indentation removed) starts with '['.  inih takes the name
 * up to the first ']', but stops early at a ';' preceded by whitespace (an
 * inline comment), and ignores whatever follows the ']'.  We find the name
 * the same way, so we agree with inih on which section the keys go to, and
 * are stricter about the rest of the line.
 */
static void check_section(struct cfg_ctx *x, const char *s, size_t n)
{
	char q[CFG_QUOTE_MAX * 2];
	size_t i, end = n;
	bool was_space = false;
	int idx;

	for (i = 1; i < n; i++) {
		if (s[i] == ']' || (was_space && s[i] == ';')) {
			end = i;
			break;
		}
		was_space = is_blank(s[i]);
	}
	if (end == n || s[end] != ']') {
		fail(x, "unterminated section header; expected '[section]'");
		return;
	}
	for (i = end + 1; i < n && is_blank(s[i]); i++)
		;
	if (i < n && !(s[i] == ';' && i > end + 1)) {
		fail(x, "unexpected text after section header [%s]; expected "
		     "nothing or a ' ;' comment", quote(q, sizeof(q), s + 1, end - 1));
		return;
	}
	close_device(x, x->lineno);
	if (end - 1 >= DEV_PREFIX_LEN &&
	    memcmp(s + 1, DEV_PREFIX, DEV_PREFIX_LEN) == 0 &&
	    (end - 1 == DEV_PREFIX_LEN || s[1 + DEV_PREFIX_LEN] == ' ')) {
		open_device(x, s + 1, end - 1);
		return;
	}
	idx = section_index(s + 1, end - 1);
	if (idx < 0) {
		fail(x, "unknown section [%s]; expected one of: " SECTIONS_EXPECTED,
		     quote(q, sizeof(q), s + 1, end - 1));
		return;
	}
	if (x->section_line[idx] != 0) {
		fail(x, "duplicate section [%s] (first on line %u); expected each "
		     "section once", cfg_sections[idx], x->section_line[idx]);
		return;
	}
	x->section_line[idx] = x->lineno;
}

/* ---- the reader: one source line per call ---- */

static char *cfg_reader(char *str, int num, void *stream)
{
	struct cfg_ctx *x = stream;
	const char *start = x->pos, *eol, *s;
	size_t len, limit;

	if (*start == '\0')
		return NULL;
	if (num < 3) {
		/* cannot happen with any sane inih build; never pass silently */
		fail(x, "inih line buffer of %d bytes; expected at least 3", num);
		return NULL;
	}
	eol = strchr(start, '\n');
	if (eol == NULL)
		eol = start + strlen(start);
	x->pos = (*eol == '\n') ? eol + 1 : eol;
	x->lineno++;

	len = (size_t)(eol - start);
	if (len > 0 && start[len - 1] == '\r')
		len--;

	limit = CFG_LINE_MAX;
	if ((size_t)num - 3 < limit)
		limit = (size_t)num - 3;
	if (len > limit) {
		fail(x, "line too long (%zu bytes); expected at most %zu bytes",
		     len, limit);
		/* hand inih an empty line so it does not misparse the pieces */
		str[0] = '\n';
		str[1] = '\0';
		return str;
	}

	s = start;
	/* a UTF-8 byte order mark; inih would skip it too */
	if (x->lineno == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
		s += 3;
		len -= 3;
	}
	while (len > 0 && is_blank(*s)) {
		s++;
		len--;
	}
	if (len > 0 && *s == '[')
		check_section(x, s, len);

	memcpy(str, s, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	return str;
}

/* ---- values ---- */

/*
 * Host names follow the state machine's rule for host names: they appear
 * in log lines, file names and command lines.
 */
static bool name_ok(const char *v)
{
	size_t i, n = strlen(v);

	if (n == 0 || n >= XH_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char c = v[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');

		if (alnum)
			continue;
		if (i > 0 && (c == '.' || c == '_' || c == '-'))
			continue;
		return false;
	}
	return true;
}

/* a numeric IPv4 or IPv6 address (no names: nothing here resolves) */
static bool addr_ok(const char *v, size_t bufsize)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return strlen(v) < bufsize &&
	       (inet_pton(AF_INET, v, buf) == 1 || inet_pton(AF_INET6, v, buf) == 1);
}

static bool path_ok(const char *v, size_t bufsize)
{
	size_t i, n = strlen(v);

	if (n == 0 || n >= bufsize || v[0] != '/')
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

/* Decimal digits only: no sign, no spaces, no base prefixes (strtoul
 * accepts all three). */
static bool parse_u64(const char *v, uint64_t *out)
{
	uint64_t r = 0;
	size_t i;

	if (v[0] == '\0')
		return false;
	for (i = 0; v[i] != '\0'; i++) {
		unsigned d;

		if (v[i] < '0' || v[i] > '9')
			return false;
		d = (unsigned)(v[i] - '0');
		if (r > (UINT64_MAX - d) / 10)
			return false;
		r = r * 10 + d;
	}
	*out = r;
	return true;
}

static bool parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "yes", "true", "1" };
	static const char *const no[] = { "no", "false", "0" };
	size_t i;

	for (i = 0; i < 3; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

static bool watchdog_ok(const char *v, size_t bufsize)
{
	if (strcmp(v, "none") == 0)
		return true;
	if (strncmp(v, "test:", 5) == 0)
		return strlen(v) < bufsize && path_ok(v + 5, bufsize - 5);
	return path_ok(v, bufsize);
}

static bool is_word_char(char c)
{
	return c > 0x20 && c < 0x7f;
}

/*
 * Split `v` at blanks into words; call `word` for each (not
 * NUL-terminated: pointer and length).  Returns false as soon as `word`
 * does.
 */
static bool each_word(const char *v, bool (*word)(struct cfg_ctx *, void *,
						   const char *, size_t),
		      struct cfg_ctx *x, void *arg)
{
	const char *p = v;

	for (;;) {
		size_t n;

		while (*p != '\0' && is_blank(*p))
			p++;
		if (*p == '\0')
			return true;
		for (n = 0; p[n] != '\0' && !is_blank(p[n]); n++)
			;
		if (!word(x, arg, p, n))
			return false;
		p += n;
	}
}

/* The error, if any, of one hosts/args word, for set_value to report. */
enum word_err { WE_NONE, WE_FORMAT, WE_DUP, WE_RESERVED };

struct word_acc {
	struct xh_fence_device *d;        /* the device being filled */
	enum word_err err;
	char bad[CFG_QUOTE_MAX * 2];      /* the offending word, quoted */
};

static bool host_word(struct cfg_ctx *x, void *arg, const char *w, size_t n)
{
	struct word_acc *a = arg;
	struct xh_fence_device *d = a->d;
	char name[XH_NAME_MAX];
	uint32_t i;

	(void)x;
	quote(a->bad, sizeof(a->bad), w, n);
	if (n >= sizeof(name) || d->n_hosts >= CFG_FENCE_HOSTS_MAX) {
		a->err = WE_FORMAT;
		return false;
	}
	memcpy(name, w, n);
	name[n] = '\0';
	if (!name_ok(name)) {
		a->err = WE_FORMAT;
		return false;
	}
	for (i = 0; i < d->n_hosts; i++) {
		if (strcmp(d->hosts[i], name) == 0) {
			a->err = WE_DUP;
			return false;
		}
	}
	memcpy(d->hosts[d->n_hosts++], name, n + 1);
	return true;
}

/* "key=value": key [a-z0-9_]+, value of printable non-blank bytes. */
static bool arg_word(struct cfg_ctx *x, void *arg, const char *w, size_t n)
{
	struct word_acc *a = arg;
	struct xh_fence_device *d = a->d;
	const char *eq = memchr(w, '=', n);
	size_t klen, i;

	(void)x;
	quote(a->bad, sizeof(a->bad), w, n);
	a->err = WE_FORMAT;
	if (eq == NULL || eq == w || (size_t)(eq - w) + 1 == n ||
	    n >= CFG_FENCE_ARG_MAX || d->n_args >= CFG_FENCE_ARGS_MAX)
		return false;
	klen = (size_t)(eq - w);
	for (i = 0; i < klen; i++) {
		char c = w[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	for (i = klen + 1; i < n; i++)
		if (!is_word_char(w[i]))
			return false;
	quote(a->bad, sizeof(a->bad), w, klen);
	for (i = 0; i < sizeof(dev_reserved_args) / sizeof(dev_reserved_args[0]); i++) {
		if (strlen(dev_reserved_args[i]) == klen &&
		    memcmp(dev_reserved_args[i], w, klen) == 0) {
			a->err = WE_RESERVED;
			return false;
		}
	}
	for (i = 0; i < d->n_args; i++) {
		if (strncmp(d->args[i], w, klen + 1) == 0) {
			a->err = WE_DUP;
			return false;
		}
	}
	memcpy(d->args[d->n_args], w, n);
	d->args[d->n_args][n] = '\0';
	d->n_args++;
	a->err = WE_NONE;
	return true;
}

/* hosts or args of the device at `base`; on error record it. */
static bool set_words(struct cfg_ctx *x, const struct cfg_key *k,
		      const char *section, char *base, const char *v)
{
	struct xh_fence_device *d = (struct xh_fence_device *)(void *)base;
	struct xh_fence_device saved = *d;
	struct word_acc a = { .d = d, .err = WE_NONE };
	char q[CFG_QUOTE_MAX * 2];
	bool hosts = k->kind == CK_HOSTS, ok;

	quote(q, sizeof(q), v, strlen(v));
	if (hosts) {
		d->n_hosts = 0;
		memset(d->hosts, 0, sizeof(d->hosts));
	} else {
		d->n_args = 0;
		memset(d->args, 0, sizeof(d->args));
	}
	ok = each_word(v, hosts ? host_word : arg_word, x, &a);
	if (ok && hosts && d->n_hosts == 0)
		ok = false;       /* at least one host; args may be empty */
	if (ok)
		return true;
	*d = saved;
	if (a.err == WE_DUP) {
		fail(x, "duplicate %s '%s' in %s.%s; expected each %s once",
		     hosts ? "host" : "key", a.bad, section, k->name,
		     hosts ? "host" : "key");
	} else if (a.err == WE_RESERVED) {
		fail(x, "reserved key '%s' in %s.%s; expected keys other than "
		     "action, option, plug, port and nodename (xenha sets them)",
		     a.bad, section, k->name);
	} else if (hosts) {
		fail(x, "invalid value '%s' for %s.%s; expected 1 to %d host "
		     "names separated by spaces, each of 1 to %d characters from "
		     "[A-Za-z0-9._-], starting with a letter or digit", q,
		     section, k->name, CFG_FENCE_HOSTS_MAX, XH_NAME_MAX - 1);
	} else {
		fail(x, "invalid value '%s' for %s.%s; expected at most %d "
		     "key=value words separated by spaces, keys of [a-z0-9_], "
		     "values of printable characters without spaces, each word "
		     "at most %d bytes", q, section, k->name, CFG_FENCE_ARGS_MAX,
		     CFG_FENCE_ARG_MAX - 1);
	}
	return false;
}

/*
 * Check and store one value of key `k` of `section` (as shown in
 * messages) into the struct at `base`; on error record it and return
 * false.
 */
static bool set_value(struct cfg_ctx *x, const struct cfg_key *k,
		      const char *section, char *base, const char *v)
{
	char *field = base + k->off;
	char q[CFG_QUOTE_MAX * 2];
	uint64_t u;
	bool b;

	quote(q, sizeof(q), v, strlen(v));
	switch (k->kind) {
	case CK_NAME:
		/* empty is the default: the name in corosync's nodelist */
		if (v[0] != '\0' && !name_ok(v))
			goto bad;
		break;
	case CK_HYPERVISOR:
		if (strcmp(v, "sim") != 0 && strcmp(v, "xen") != 0)
			goto bad;
		break;
	case CK_ADDR:
		if (v[0] != '\0' && !addr_ok(v, k->size))
			goto bad;
		break;
	case CK_PATH_OPT:
		if (v[0] == '\0')
			break;
		/* fall through */
	case CK_PATH:
		if (!path_ok(v, k->size))
			goto bad;
		break;
	case CK_WATCHDOG:
		if (!watchdog_ok(v, k->size))
			goto bad;
		break;
	case CK_HOSTS:
	case CK_ARGS:
		return set_words(x, k, section, base, v);
	case CK_U32:
	case CK_U64:
		if (!parse_u64(v, &u) || u < k->min || u > k->max)
			goto bad;
		if (k->kind == CK_U32) {
			uint32_t u32 = (uint32_t)u;

			memcpy(field, &u32, sizeof(u32));
		} else {
			memcpy(field, &u, sizeof(u));
		}
		return true;
	case CK_BOOL:
		if (!parse_bool(v, &b))
			goto bad;
		memcpy(field, &b, sizeof(b));
		return true;
	}
	/* strings: every check above bounded the length below k->size */
	memset(field, 0, k->size);
	memcpy(field, v, strlen(v));
	return true;

bad:
	switch (k->kind) {
	case CK_WATCHDOG:
		fail(x, "invalid value '%s' for %s.%s; expected an absolute path "
		     "of at most %zu bytes, 'test:' and an absolute path, or "
		     "'none'", q, section, k->name, k->size - 1);
		break;
	case CK_HOSTS:
	case CK_ARGS:
		break;    /* reported by set_words() */
	case CK_NAME:
		fail(x, "invalid value '%s' for %s.%s; expected a name of 1 to %d "
		     "characters from [A-Za-z0-9._-], starting with a letter or "
		     "digit, or nothing", q, section, k->name, XH_NAME_MAX - 1);
		break;
	case CK_HYPERVISOR:
		fail(x, "invalid value '%s' for %s.%s; expected 'sim' or 'xen'",
		     q, section, k->name);
		break;
	case CK_ADDR:
		fail(x, "invalid value '%s' for %s.%s; expected a numeric IPv4 or "
		     "IPv6 address, or nothing", q, section, k->name);
		break;
	case CK_PATH:
	case CK_PATH_OPT:
		fail(x, "invalid value '%s' for %s.%s; expected an absolute path "
		     "of at most %zu bytes%s", q, section, k->name, k->size - 1,
		     k->kind == CK_PATH_OPT ? ", or nothing" : "");
		break;
	case CK_U32:
	case CK_U64:
		fail(x, "invalid value '%s' for %s.%s; expected an integer between "
		     "%llu and %llu", q, section, k->name,
		     (unsigned long long)k->min, (unsigned long long)k->max);
		break;
	case CK_BOOL:
		fail(x, "invalid value '%s' for %s.%s; expected yes, no, true, "
		     "false, 1 or 0", q, section, k->name);
		break;
	}
	return false;
}

/* "name, hypervisor, ..." for the keys of one section of a table. */
static void key_list(const struct cfg_key *keys, size_t nkeys,
		     const char *section, char *buf, size_t len)
{
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < nkeys && o < len; i++) {
		int w;

		if (strcmp(keys[i].section, section) != 0)
			continue;
		w = snprintf(buf + o, len - o, "%s%s", o ? ", " : "", keys[i].name);
		if (w < 0)
			break;
		o += (size_t)w;
	}
}

/* ---- the key handler ---- */

/* A key in the open [fence-device NAME] section. */
static int device_key(struct cfg_ctx *x, const char *name, const char *value)
{
	char qn[CFG_QUOTE_MAX * 2], list[128];
	int dev = x->cur_dev;
	size_t i;

	for (i = 0; i < DEV_NKEYS; i++) {
		const struct cfg_key *k = &dev_keys[i];

		if (strcmp(k->name, name) != 0)
			continue;
		if (x->dev_key_line[dev][i] != 0) {
			fail(x, "duplicate key '%s' in section [%s] (first set on "
			     "line %u); expected each key once", k->name,
			     x->dev_section, x->dev_key_line[dev][i]);
			return 0;
		}
		x->dev_key_line[dev][i] = x->lineno;
		return set_value(x, k, x->dev_section,
				 (char *)&x->cfg.fence_devices[dev], value) ? 1 : 0;
	}
	key_list(dev_keys, DEV_NKEYS, DEV_PREFIX, list, sizeof(list));
	fail(x, "unknown key '%s' in section [%s]; expected one of: %s",
	     quote(qn, sizeof(qn), name, strlen(name)), x->dev_section, list);
	return 0;
}

static int cfg_handler(void *user, const char *section, const char *name,
		       const char *value)
{
	struct cfg_ctx *x = user;
	char qs[CFG_QUOTE_MAX * 2], qn[CFG_QUOTE_MAX * 2], list[256];
	size_t i;

	/* the first error is the one reported; do not pile up more */
	if (x->err_line != 0)
		return 1;
	if (value == NULL)   /* only with INI_ALLOW_NO_VALUE; not ours */
		value = "";

	quote(qn, sizeof(qn), name, strlen(name));
	if (name[0] == '\0') {
		fail(x, "missing key before '='; expected 'key = value'");
		return 0;
	}
	if (section[0] == '\0') {
		fail(x, "key '%s' outside any section; expected a '[section]' "
		     "line before it", qn);
		return 0;
	}
	if (x->cur_dev >= 0)
		return device_key(x, name, value);
	if (section_index(section, strlen(section)) < 0) {
		/* the reader rejects the header first; this is a backstop */
		fail(x, "unknown section [%s]; expected one of: " SECTIONS_EXPECTED,
		     quote(qs, sizeof(qs), section, strlen(section)));
		return 0;
	}
	for (i = 0; i < CFG_NKEYS; i++) {
		const struct cfg_key *k = &cfg_keys[i];

		if (strcmp(k->section, section) != 0 || strcmp(k->name, name) != 0)
			continue;
		if (x->key_line[i] != 0) {
			fail(x, "duplicate key '%s' in section [%s] (first set on "
			     "line %u); expected each key once", k->name, k->section,
			     x->key_line[i]);
			return 0;
		}
		x->key_line[i] = x->lineno;
		return set_value(x, k, k->section, (char *)&x->cfg, value) ? 1 : 0;
	}
	key_list(cfg_keys, CFG_NKEYS, section, list, sizeof(list));
	fail(x, "unknown key '%s' in section [%s]; expected one of: %s",
	     qn, section, list);
	return 0;
}

/* ---- public ---- */

void cfg_defaults(struct xh_config *c, const char *libexecdir)
{
	int n;

	memset(c, 0, sizeof(*c));
	/* node_name "": the daemon takes it from corosync's nodelist */
	strcpy(c->hypervisor, "sim");
	strcpy(c->state_dir, "/var/lib/xenha");
	c->mem_reserved_mb = 1024;
	c->dom_overhead_mb = 8;
	c->start_timeout_ms = 30000;
	c->stop_timeout_ms = 60000;
	c->history = XH_HISTORY_DEFAULT;
	strcpy(c->sim_image_dir, "/var/lib/xenha/sim-images");
	strcpy(c->sim_run_dir, "/run/xenha/sim");
	if (libexecdir == NULL)
		libexecdir = LIBEXECDIR;
	n = snprintf(c->sim_simdom, sizeof(c->sim_simdom), "%s/xenha-simdom",
		     libexecdir);
	/* a truncated program path could name another program: leave none */
	if (n < 0 || (size_t)n >= sizeof(c->sim_simdom))
		memset(c->sim_simdom, 0, sizeof(c->sim_simdom));
	c->sim_memory_mb = 16384;
	c->sim_hold_max_mb = 4;
	c->sim_dirty_kib_s = 256;
	c->sim_record_ms = 50;
	c->mig_port = 7405;
	snprintf(c->mig_keyfile, sizeof(c->mig_keyfile), "%s", SYSCONFDIR "/xenha/authkey");
	c->mig_max_concurrent = 2;
	c->mig_downtime_ms = 100;
	c->mig_max_rounds = 30;
	c->mig_timeout_ms = 600000;
	/* fence_device "": no heartbeat disk */
	strcpy(c->fence_watchdog, "/dev/watchdog");
	c->fence_allow_no_watchdog = false;
	c->fence_tick_ms = 250;
	c->fence_lease_ms = 1500;
	c->fence_margin_ms = 500;
	c->fence_xenhad_timeout_ms = 10000;
	c->fence_disk_timeout_ms = 2000;
	c->fence_sysrq = true;
	/* fence_disk_fault_file "", the iSCSI/multipath figures 0 (unknown),
	   no fence devices */
	c->log_syslog = true;
	c->log_debug = false;
}

/* Write "FILE:LINE: msg" (or "FILE: msg" for line 0) to err. */
static void report(char *err, size_t errlen, const char *filename,
		   unsigned line, const char *msg)
{
	if (err == NULL || errlen == 0)
		return;
	if (line != 0)
		snprintf(err, errlen, "%s:%u: %s", filename, line, msg);
	else
		snprintf(err, errlen, "%s: %s", filename, msg);
}

int cfg_parse(const char *text, const char *filename, struct xh_config *c,
	      char *err, size_t errlen)
{
	struct cfg_ctx ctx, *x = &ctx;
	int r;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (filename == NULL)
		filename = "xenha.conf";
	if (text == NULL || c == NULL) {
		report(err, errlen, filename, 0, "no configuration text; expected a string");
		return -EINVAL;
	}

	memset(x, 0, sizeof(*x));
	x->pos = text;
	x->cfg = *c;
	x->cur_dev = -1;
	if (c->n_fence_devices > CFG_FENCE_DEVICES_MAX) {
		report(err, errlen, filename, 0, "corrupt configuration (too many "
		       "fence devices); expected cfg_defaults() first");
		return -EINVAL;
	}

	r = ini_parse_stream(cfg_reader, x, cfg_handler, x);
	if (r >= 0)
		close_device(x, x->lineno + 1);
	if (r < 0) {
		/* -2: inih could not allocate its line buffer */
		report(err, errlen, filename, 0,
		       "out of memory reading the configuration; expected free memory");
		return -ENOMEM;
	}
	if (r > 0 && (x->err_line == 0 || (unsigned)r < x->err_seen)) {
		report(err, errlen, filename, (unsigned)r,
		       "syntax error; expected 'key = value' or '[section]'");
		return -EINVAL;
	}
	if (x->err_line != 0) {
		report(err, errlen, filename, x->err_line, x->err_msg);
		return -EINVAL;
	}
	*c = x->cfg;
	return 0;
}
