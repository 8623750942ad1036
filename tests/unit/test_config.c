/*
 * Unit tests for the configuration parser (src/lib/config.c).
 *
 * The key list and ranges below are written out again on purpose: they are
 * the documented interface (xenha.conf(5)), and a change to the parser's
 * table that does not show up here is a change to that interface.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xenha/config.h"

#ifndef TOP_SRCDIR
#error "TOP_SRCDIR must name the source tree"
#endif
#ifndef LIBEXECDIR
#define LIBEXECDIR "/usr/libexec/xenha"
#endif

#define FN "xenha.conf"

/* ---- helpers ---- */

static void defaults(struct xh_config *c)
{
	cfg_defaults(c, "/usr/lib/xenha");
}

/* Parse `text` over the defaults; must succeed. */
static void parse_ok(const char *text, struct xh_config *c)
{
	char err[512] = "";
	int r;

	defaults(c);
	r = cfg_parse(text, FN, c, err, sizeof(err));
	if (r != 0)
		print_error("unexpected error: %s\n", err);
	assert_int_equal(r, 0);
	assert_string_equal(err, "");
}

/* Parse `text`; must fail with exactly `msg`, leaving *c unchanged. */
static void parse_err(const char *text, const char *msg)
{
	struct xh_config c, before;
	char err[512];
	int r;

	defaults(&c);
	before = c;
	memset(err, 'x', sizeof(err));
	err[sizeof(err) - 1] = '\0';
	r = cfg_parse(text, FN, &c, err, sizeof(err));
	assert_int_equal(r, -EINVAL);
	assert_string_equal(err, msg);
	assert_memory_equal(&c, &before, sizeof(c));
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	assert_int_equal(fseek(f, 0, SEEK_SET), 0);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Replace every "\n" with "\r\n" (caller frees). */
static char *to_crlf(const char *s)
{
	size_t i, o = 0, n = strlen(s);
	char *d = malloc(2 * n + 1);

	assert_non_null(d);
	for (i = 0; i < n; i++) {
		if (s[i] == '\n')
			d[o++] = '\r';
		d[o++] = s[i];
	}
	d[o] = '\0';
	return d;
}

/* ---- the documented interface ---- */

struct int_key {
	const char *section;
	const char *name;
	uint64_t min, max;
};

static const struct int_key int_keys[] = {
	{ "node", "mem_reserved_mb", 0, 1048576 },
	{ "node", "dom_overhead_mb", 0, 65536 },
	{ "node", "start_timeout_ms", 100, 3600000 },
	{ "node", "stop_timeout_ms", 100, 3600000 },
	{ "cluster", "history", 10, 100000 },
	{ "sim", "memory_mb", 64, 16777216 },
	{ "sim", "hold_max_mb", 0, 4096 },
	{ "sim", "dirty_kib_s", 0, 1048576 },
	{ "sim", "record_ms", 1, 60000 },
	{ "migration", "port", 1, 65535 },
	{ "migration", "max_concurrent", 1, 64 },
	{ "migration", "downtime_ms", 1, 60000 },
	{ "migration", "max_rounds", 1, 1000 },
	{ "migration", "timeout_ms", 1000, 86400000 },
	{ "fencing", "tick_ms", 10, 10000 },
	{ "fencing", "lease_ms", 50, 60000 },
	{ "fencing", "margin_ms", 0, 60000 },
	{ "fencing", "xenhad_timeout_ms", 100, 600000 },
	{ "fencing", "disk_timeout_ms", 50, 600000 },
	{ "fencing", "iscsi_replacement_timeout_ms", 0, 3600000 },
	{ "fencing", "mpath_no_path_retry", 0, 100000 },
	{ "fencing", "mpath_polling_interval_ms", 0, 3600000 },
};

/* [fencing] and [fence-device NAME] keys (the shipped example file does
 * not list them; the man page does). */
static const char *const fence_keys[] = {
	"device", "watchdog", "allow_no_watchdog", "tick_ms", "lease_ms",
	"margin_ms", "xenhad_timeout_ms", "disk_timeout_ms", "sysrq",
	"disk_fault_file", "iscsi_replacement_timeout_ms", "mpath_no_path_retry",
	"mpath_polling_interval_ms",
	/* [fence-device NAME] */
	"agent", "hosts", "level", "timeout_ms", "args",
};

static const char *const all_keys[][2] = {
	{ "node", "name" }, { "node", "hypervisor" }, { "node", "state_dir" },
	{ "node", "mem_reserved_mb" }, { "node", "dom_overhead_mb" },
	{ "node", "start_timeout_ms" }, { "node", "stop_timeout_ms" },
	{ "cluster", "history" },
	{ "sim", "image_dir" }, { "sim", "run_dir" }, { "sim", "simdom" },
	{ "sim", "memory_mb" }, { "sim", "hold_max_mb" }, { "sim", "dirty_kib_s" },
	{ "sim", "record_ms" },
	{ "migration", "address" }, { "migration", "port" }, { "migration", "keyfile" },
	{ "migration", "max_concurrent" }, { "migration", "downtime_ms" },
	{ "migration", "max_rounds" }, { "migration", "timeout_ms" },
	{ "log", "syslog" }, { "log", "file" }, { "log", "debug" },
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t int_field(const struct xh_config *c, const char *name)
{
	if (strcmp(name, "mem_reserved_mb") == 0) return c->mem_reserved_mb;
	if (strcmp(name, "dom_overhead_mb") == 0) return c->dom_overhead_mb;
	if (strcmp(name, "start_timeout_ms") == 0) return c->start_timeout_ms;
	if (strcmp(name, "stop_timeout_ms") == 0) return c->stop_timeout_ms;
	if (strcmp(name, "history") == 0) return c->history;
	if (strcmp(name, "memory_mb") == 0) return c->sim_memory_mb;
	if (strcmp(name, "hold_max_mb") == 0) return c->sim_hold_max_mb;
	if (strcmp(name, "dirty_kib_s") == 0) return c->sim_dirty_kib_s;
	if (strcmp(name, "record_ms") == 0) return c->sim_record_ms;
	if (strcmp(name, "port") == 0) return c->mig_port;
	if (strcmp(name, "max_concurrent") == 0) return c->mig_max_concurrent;
	if (strcmp(name, "downtime_ms") == 0) return c->mig_downtime_ms;
	if (strcmp(name, "max_rounds") == 0) return c->mig_max_rounds;
	if (strcmp(name, "timeout_ms") == 0) return c->mig_timeout_ms;
	if (strcmp(name, "tick_ms") == 0) return c->fence_tick_ms;
	if (strcmp(name, "lease_ms") == 0) return c->fence_lease_ms;
	if (strcmp(name, "margin_ms") == 0) return c->fence_margin_ms;
	if (strcmp(name, "xenhad_timeout_ms") == 0) return c->fence_xenhad_timeout_ms;
	if (strcmp(name, "disk_timeout_ms") == 0) return c->fence_disk_timeout_ms;
	if (strcmp(name, "iscsi_replacement_timeout_ms") == 0)
		return c->fence_iscsi_replacement_ms;
	if (strcmp(name, "mpath_no_path_retry") == 0) return c->fence_mpath_no_path_retry;
	if (strcmp(name, "mpath_polling_interval_ms") == 0) return c->fence_mpath_polling_ms;
	fail_msg("no field for %s", name);
	return 0;
}

/* ---- defaults ---- */

static void test_defaults(void **state)
{
	struct xh_config c;

	memset(&c, 0x5a, sizeof(c));
	cfg_defaults(&c, "/opt/xh/libexec");
	assert_string_equal(c.node_name, "");
	assert_string_equal(c.hypervisor, "sim");
	assert_string_equal(c.state_dir, "/var/lib/xenha");
	assert_int_equal(c.mem_reserved_mb, 1024);
	assert_int_equal(c.dom_overhead_mb, 8);
	assert_int_equal(c.start_timeout_ms, 30000);
	assert_int_equal(c.stop_timeout_ms, 60000);
	assert_int_equal(c.history, 1000);
	assert_string_equal(c.sim_image_dir, "/var/lib/xenha/sim-images");
	assert_string_equal(c.sim_run_dir, "/run/xenha/sim");
	assert_string_equal(c.sim_simdom, "/opt/xh/libexec/xenha-simdom");
	assert_int_equal(c.sim_memory_mb, 16384);
	assert_string_equal(c.mig_address, "");
	assert_int_equal(c.mig_port, 7405);
	assert_string_equal(c.mig_keyfile, SYSCONFDIR "/xenha/authkey");
	assert_int_equal(c.mig_max_concurrent, 2);
	assert_int_equal(c.mig_downtime_ms, 100);
	assert_int_equal(c.mig_max_rounds, 30);
	assert_int_equal(c.mig_timeout_ms, 600000);
	assert_int_equal(c.sim_hold_max_mb, 4);
	assert_int_equal(c.sim_dirty_kib_s, 256);
	assert_int_equal(c.sim_record_ms, 50);
	assert_true(c.log_syslog);
	assert_string_equal(c.log_file, "");
	assert_false(c.log_debug);
	assert_string_equal(c.fence_device, "");
	assert_string_equal(c.fence_watchdog, "/dev/watchdog");
	assert_false(c.fence_allow_no_watchdog);
	assert_int_equal(c.fence_tick_ms, 250);
	assert_int_equal(c.fence_lease_ms, 1500);
	assert_int_equal(c.fence_margin_ms, 500);
	assert_int_equal(c.fence_xenhad_timeout_ms, 10000);
	assert_int_equal(c.fence_disk_timeout_ms, 2000);
	assert_true(c.fence_sysrq);
	assert_string_equal(c.fence_disk_fault_file, "");
	assert_int_equal(c.fence_iscsi_replacement_ms, 0);
	assert_int_equal(c.fence_mpath_no_path_retry, 0);
	assert_int_equal(c.fence_mpath_polling_ms, 0);
	assert_int_equal(c.n_fence_devices, 0);
}

static void test_defaults_libexecdir(void **state)
{
	struct xh_config c;
	char longdir[CFG_PATH_MAX];

	cfg_defaults(&c, NULL);
	assert_string_equal(c.sim_simdom, LIBEXECDIR "/xenha-simdom");

	/* a path that would be truncated is left empty, never cut */
	memset(longdir, 'd', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = '\0';
	cfg_defaults(&c, longdir);
	assert_string_equal(c.sim_simdom, "");
}

/* ---- valid files ---- */

static const char full_text[] =
	"; a full configuration, every key set away from its default\n"
	"[node]\n"
	"name = h2.example-1\n"
	"hypervisor = xen\n"
	"state_dir = /srv/xenha/state\n"
	"mem_reserved_mb = 2048\n"
	"dom_overhead_mb = 16\n"
	"start_timeout_ms = 45000\n"
	"stop_timeout_ms = 90000\n"
	"\n"
	"[cluster]\n"
	"history = 5000\n"
	"\n"
	"[sim]\n"
	"image_dir = /srv/images\n"
	"run_dir = /run/xh\n"
	"simdom = /usr/local/libexec/xenha/xenha-simdom\n"
	"memory_mb = 65536\n"
	"hold_max_mb = 32\n"
	"dirty_kib_s = 1024\n"
	"record_ms = 20\n"
	"\n"
	"[fencing]\n"
	"device = /dev/disk/by-id/wwn-0x6001405abc\n"
	"watchdog = test:/run/xenha/testwd.sock\n"
	"allow_no_watchdog = yes\n"
	"tick_ms = 100\n"
	"lease_ms = 900\n"
	"margin_ms = 300\n"
	"xenhad_timeout_ms = 5000\n"
	"disk_timeout_ms = 1000\n"
	"sysrq = no\n"
	"disk_fault_file = /run/xenha/disk-fault\n"
	"iscsi_replacement_timeout_ms = 15000\n"
	"mpath_no_path_retry = 4\n"
	"mpath_polling_interval_ms = 5000\n"
	"\n"
	"[fence-device ipmi-h1]\n"
	"agent = /usr/sbin/fence_ipmilan\n"
	"hosts = h1\n"
	"level = 2\n"
	"timeout_ms = 20000\n"
	"args = ip=198.18.0.101 username=admin password_script=/etc/xenha/pw lanplus=1\n"
	"\n"
	"[log]\n"
	"syslog = no\n"
	"file = /var/log/xenha.log\n"
	"debug = yes\n"
	"\n"
	"[fence-device pdu]\n"
	"hosts = h1  h2\th3\n"
	"agent = /usr/sbin/fence_apc\n";

static void check_full(const struct xh_config *c)
{
	assert_string_equal(c->node_name, "h2.example-1");
	assert_string_equal(c->hypervisor, "xen");
	assert_string_equal(c->state_dir, "/srv/xenha/state");
	assert_int_equal(c->mem_reserved_mb, 2048);
	assert_int_equal(c->dom_overhead_mb, 16);
	assert_int_equal(c->start_timeout_ms, 45000);
	assert_int_equal(c->stop_timeout_ms, 90000);
	assert_int_equal(c->history, 5000);
	assert_string_equal(c->sim_image_dir, "/srv/images");
	assert_string_equal(c->sim_run_dir, "/run/xh");
	assert_string_equal(c->sim_simdom, "/usr/local/libexec/xenha/xenha-simdom");
	assert_int_equal(c->sim_memory_mb, 65536);
	assert_int_equal(c->sim_hold_max_mb, 32);
	assert_int_equal(c->sim_dirty_kib_s, 1024);
	assert_int_equal(c->sim_record_ms, 20);
	assert_false(c->log_syslog);
	assert_string_equal(c->log_file, "/var/log/xenha.log");
	assert_true(c->log_debug);

	assert_string_equal(c->fence_device, "/dev/disk/by-id/wwn-0x6001405abc");
	assert_string_equal(c->fence_watchdog, "test:/run/xenha/testwd.sock");
	assert_true(c->fence_allow_no_watchdog);
	assert_int_equal(c->fence_tick_ms, 100);
	assert_int_equal(c->fence_lease_ms, 900);
	assert_int_equal(c->fence_margin_ms, 300);
	assert_int_equal(c->fence_xenhad_timeout_ms, 5000);
	assert_int_equal(c->fence_disk_timeout_ms, 1000);
	assert_false(c->fence_sysrq);
	assert_string_equal(c->fence_disk_fault_file, "/run/xenha/disk-fault");
	assert_int_equal(c->fence_iscsi_replacement_ms, 15000);
	assert_int_equal(c->fence_mpath_no_path_retry, 4);
	assert_int_equal(c->fence_mpath_polling_ms, 5000);

	assert_int_equal(c->n_fence_devices, 2);
	assert_string_equal(c->fence_devices[0].name, "ipmi-h1");
	assert_string_equal(c->fence_devices[0].agent, "/usr/sbin/fence_ipmilan");
	assert_int_equal(c->fence_devices[0].n_hosts, 1);
	assert_string_equal(c->fence_devices[0].hosts[0], "h1");
	assert_int_equal(c->fence_devices[0].level, 2);
	assert_int_equal(c->fence_devices[0].timeout_ms, 20000);
	assert_int_equal(c->fence_devices[0].n_args, 4);
	assert_string_equal(c->fence_devices[0].args[0], "ip=198.18.0.101");
	assert_string_equal(c->fence_devices[0].args[1], "username=admin");
	assert_string_equal(c->fence_devices[0].args[2], "password_script=/etc/xenha/pw");
	assert_string_equal(c->fence_devices[0].args[3], "lanplus=1");
	assert_string_equal(c->fence_devices[0].args[4], "");

	assert_string_equal(c->fence_devices[1].name, "pdu");
	assert_string_equal(c->fence_devices[1].agent, "/usr/sbin/fence_apc");
	assert_int_equal(c->fence_devices[1].n_hosts, 3);
	assert_string_equal(c->fence_devices[1].hosts[0], "h1");
	assert_string_equal(c->fence_devices[1].hosts[1], "h2");
	assert_string_equal(c->fence_devices[1].hosts[2], "h3");
	assert_string_equal(c->fence_devices[1].hosts[3], "");
	assert_int_equal(c->fence_devices[1].level, 1);
	assert_int_equal(c->fence_devices[1].timeout_ms, 30000);
	assert_int_equal(c->fence_devices[1].n_args, 0);
}

static void test_full(void **state)
{
	struct xh_config c;

	parse_ok(full_text, &c);
	check_full(&c);
}

static void test_full_crlf(void **state)
{
	struct xh_config c;
	char *crlf = to_crlf(full_text);

	parse_ok(crlf, &c);
	check_full(&c);
	free(crlf);
}

static void test_empty(void **state)
{
	struct xh_config c, d;

	defaults(&d);
	parse_ok("", &c);
	assert_memory_equal(&c, &d, sizeof(c));
	parse_ok("\n\n   \n\t\n", &c);
	assert_memory_equal(&c, &d, sizeof(c));
	parse_ok("\r\n", &c);
	assert_memory_equal(&c, &d, sizeof(c));
	/* empty sections are fine */
	parse_ok("[node]\n[cluster]\n[sim]\n[fencing]\n[log]\n", &c);
	assert_memory_equal(&c, &d, sizeof(c));
}

static void test_comments(void **state)
{
	struct xh_config c, d;

	defaults(&d);
	parse_ok("; only\n# comments\n   ; indented\n\t# too\n", &c);
	assert_memory_equal(&c, &d, sizeof(c));

	parse_ok("[node] ; the node\n"
		 "name = h1 ; trailing comment\n"
		 "state_dir = /a;b\n"          /* ';' without a space: data */
		 "#name = h9\n"
		 ";hypervisor = xen\n", &c);
	assert_string_equal(c.node_name, "h1");
	assert_string_equal(c.state_dir, "/a;b");
	assert_string_equal(c.hypervisor, "sim");

	/* '#' is a comment only at the start of a line */
	parse_err("[node]\nname = h1 # not a comment\n",
		  FN ":2: invalid value 'h1 # not a comment' for node.name; "
		  "expected a name of 1 to 63 characters from [A-Za-z0-9._-], "
		  "starting with a letter or digit, or nothing");
}

/* Parsing over earlier values changes only the keys present. */
static void test_overlay(void **state)
{
	struct xh_config c;
	char err[256];

	parse_ok(full_text, &c);
	assert_int_equal(cfg_parse("[node]\nname = other\n", FN, &c, err,
				   sizeof(err)), 0);
	assert_string_equal(c.node_name, "other");
	assert_string_equal(c.hypervisor, "xen");
	assert_int_equal(c.history, 5000);
}

static void test_syntax_variants(void **state)
{
	struct xh_config c;

	/* indentation is ignored, also where inih would see a continuation */
	parse_ok("  [node]\n"
		 "\tname = h1\n"
		 "    hypervisor = xen\n"
		 "; comment\n"
		 "\n"
		 "      state_dir = /x\n", &c);
	assert_string_equal(c.node_name, "h1");
	assert_string_equal(c.hypervisor, "xen");
	assert_string_equal(c.state_dir, "/x");

	/* spaces around '=' are optional; inih also takes ':' */
	parse_ok("[node]\nname=h1\nhypervisor:xen\nstate_dir   =   /s p/ace  \n", &c);
	assert_string_equal(c.node_name, "h1");
	assert_string_equal(c.hypervisor, "xen");
	assert_string_equal(c.state_dir, "/s p/ace");

	/* no newline at the end */
	parse_ok("[cluster]\nhistory = 77", &c);
	assert_int_equal(c.history, 77);

	/* a UTF-8 byte order mark */
	parse_ok("\xEF\xBB\xBF[cluster]\nhistory = 78\n", &c);
	assert_int_equal(c.history, 78);

	/* empty log file: none */
	parse_ok("[log]\nfile =\n", &c);
	assert_string_equal(c.log_file, "");
}

/* ---- errors: one per class, exact text and line ---- */

static void test_err_unknown_key(void **state)
{
	parse_err("# node settings\n"
		  "[node]\n"
		  "name = h1\n"
		  "\n"
		  "; the hypervisor\n"
		  "\n"
		  "hypervisr = xen\n",
		  FN ":7: unknown key 'hypervisr' in section [node]; expected one "
		  "of: name, hypervisor, state_dir, mem_reserved_mb, "
		  "dom_overhead_mb, start_timeout_ms, stop_timeout_ms");
	parse_err("[cluster]\nhistroy = 10\n",
		  FN ":2: unknown key 'histroy' in section [cluster]; expected "
		  "one of: history");
	parse_err("[sim]\nmemory = 10\n",
		  FN ":2: unknown key 'memory' in section [sim]; expected one of: "
		  "image_dir, run_dir, simdom, memory_mb, hold_max_mb, "
		  "dirty_kib_s, record_ms");
	parse_err("[log]\nlevel = 10\n",
		  FN ":2: unknown key 'level' in section [log]; expected one of: "
		  "syslog, file, debug");
	/* keys are case-sensitive */
	parse_err("[node]\nName = h1\n",
		  FN ":2: unknown key 'Name' in section [node]; expected one of: "
		  "name, hypervisor, state_dir, mem_reserved_mb, "
		  "dom_overhead_mb, start_timeout_ms, stop_timeout_ms");
	/* a key valid in another section */
	parse_err("[log]\nhistory = 10\n",
		  FN ":2: unknown key 'history' in section [log]; expected one "
		  "of: syslog, file, debug");
}

static void test_err_unknown_section(void **state)
{
	parse_err("; comment\n\n[nod]\nname = h1\n",
		  FN ":3: unknown section [nod]; expected one of: [node], "
		  "[cluster], [sim], [migration], [fencing], [fence-device NAME], [log]");
	/* even with no key under it */
	parse_err("[node]\nname = h1\n[extra]\n",
		  FN ":3: unknown section [extra]; expected one of: [node], "
		  "[cluster], [sim], [migration], [fencing], [fence-device NAME], [log]");
	parse_err("[]\n",
		  FN ":1: unknown section []; expected one of: [node], "
		  "[cluster], [sim], [migration], [fencing], [fence-device NAME], [log]");
	parse_err("[ node ]\n",
		  FN ":1: unknown section [ node ]; expected one of: [node], "
		  "[cluster], [sim], [migration], [fencing], [fence-device NAME], [log]");
	parse_err("[NODE]\n",
		  FN ":1: unknown section [NODE]; expected one of: [node], "
		  "[cluster], [sim], [migration], [fencing], [fence-device NAME], [log]");
}

static void test_err_invalid_value(void **state)
{
	parse_err("[node]\n"
		  "name = h1\n"
		  "\n"
		  "[sim]\n"
		  "image_dir = /srv/img\n"
		  "; memory\n"
		  "# offered\n"
		  "\n"
		  "memory_mb = lots\n",
		  FN ":9: invalid value 'lots' for sim.memory_mb; expected an "
		  "integer between 64 and 16777216");
}

static void test_err_duplicate_key(void **state)
{
	parse_err("[node]\n"
		  "name = h1\n"
		  "; again\n"
		  "name = h2\n",
		  FN ":4: duplicate key 'name' in section [node] (first set on "
		  "line 2); expected each key once");
	/* the same value twice is still a mistake */
	parse_err("[cluster]\nhistory = 10\nhistory = 10\n",
		  FN ":3: duplicate key 'history' in section [cluster] (first "
		  "set on line 2); expected each key once");
}

static void test_err_duplicate_section(void **state)
{
	parse_err("[node]\nname = h1\n[log]\n[node]\nhypervisor = xen\n",
		  FN ":4: duplicate section [node] (first on line 1); expected "
		  "each section once");
}

static void test_err_syntax(void **state)
{
	parse_err("[node]\n"
		  "name = h1\n"
		  "; comment\n"
		  "\n"
		  "hypervisor xen\n",
		  FN ":5: syntax error; expected 'key = value' or '[section]'");
	/* what inih would take as a continuation of 'name' */
	parse_err("[node]\nname = h1\n   more words\n",
		  FN ":3: syntax error; expected 'key = value' or '[section]'");
	parse_err("[node]\nname = h1\n# c\n\n\t  more\n",
		  FN ":5: syntax error; expected 'key = value' or '[section]'");
	parse_err("[node\nname = h1\n",
		  FN ":1: unterminated section header; expected '[section]'");
	parse_err("[node ;]\n",
		  FN ":1: unterminated section header; expected '[section]'");
	parse_err("[node] junk\n",
		  FN ":1: unexpected text after section header [node]; expected "
		  "nothing or a ' ;' comment");
	parse_err("[node]# junk\n",
		  FN ":1: unexpected text after section header [node]; expected "
		  "nothing or a ' ;' comment");
	parse_err("name = h1\n",
		  FN ":1: key 'name' outside any section; expected a '[section]' "
		  "line before it");
	parse_err("[node]\n = h1\n",
		  FN ":2: missing key before '='; expected 'key = value'");
}

static void test_err_first_wins(void **state)
{
	/* syntax error before a bad value */
	parse_err("[node]\nbroken\nname = -x\n",
		  FN ":2: syntax error; expected 'key = value' or '[section]'");
	/* bad value before a syntax error */
	parse_err("[node]\nname = -x\nbroken\n",
		  FN ":2: invalid value '-x' for node.name; expected a name of 1 "
		  "to 63 characters from [A-Za-z0-9._-], starting with a letter "
		  "or digit, or nothing");
	/* unknown section before a syntax error */
	parse_err("[nod]\nbroken\n",
		  FN ":1: unknown section [nod]; expected one of: [node], "
		  "[cluster], [sim], [migration], [fencing], [fence-device NAME], [log]");
}

static void test_err_long_line(void **state)
{
	char text[600], line[300];
	struct xh_config c;

	/* 197 bytes: the longest line accepted */
	memset(line, 'x', sizeof(line));
	line[0] = ';';
	line[197] = '\0';
	snprintf(text, sizeof(text), "[node]\n%s\nname = h1\n", line);
	parse_ok(text, &c);
	assert_string_equal(c.node_name, "h1");
	/* ... also with CRLF, and indented */
	snprintf(text, sizeof(text), "[node]\r\n%s\r\nname = h1\r\n", line);
	parse_ok(text, &c);
	line[0] = ' ';
	line[1] = ';';
	snprintf(text, sizeof(text), "[node]\n%s\nname = h1\n", line);
	parse_ok(text, &c);

	/* 198 bytes */
	line[0] = ';';
	line[197] = 'x';
	line[198] = '\0';
	snprintf(text, sizeof(text), "[node]\n\n%s\nname = h1\n", line);
	parse_err(text, FN ":3: line too long (198 bytes); expected at most "
		  "197 bytes");
	snprintf(text, sizeof(text), "[node]\r\n\r\n%s\r\nname = h1\r\n", line);
	parse_err(text, FN ":3: line too long (198 bytes); expected at most "
		  "197 bytes");

	/* a key line that inih would have split into two "lines" */
	memset(line, 'a', sizeof(line));
	memcpy(line, "state_dir = /", 13);
	line[250] = '\0';
	snprintf(text, sizeof(text), "[node]\n%s\nname = h1\n", line);
	parse_err(text, FN ":2: line too long (250 bytes); expected at most "
		  "197 bytes");
}

/* Line numbers stay exact through comments, blanks, indentation, CRLF. */
static void test_line_numbers(void **state)
{
	static const char body[] =
		"# 1\n"
		"; 2\n"
		"\n"
		"[node]\n"
		"  name = h1\n"
		"\t\n"
		"    ; 7\n"
		"hypervisor = xen\n"
		"\n"
		"\n"
		"[sim]\n"
		"   record_ms = 0\n";
	const char *want = FN ":12: invalid value '0' for sim.record_ms; "
			   "expected an integer between 1 and 60000";
	char *crlf;

	parse_err(body, want);
	crlf = to_crlf(body);
	parse_err(crlf, want);
	free(crlf);
}

/* ---- values ---- */

static void test_bounds(void **state)
{
	char text[256], want[512];
	struct xh_config c;
	size_t i;

	for (i = 0; i < NELEM(int_keys); i++) {
		const struct int_key *k = &int_keys[i];

		snprintf(text, sizeof(text), "[%s]\n%s = %" PRIu64 "\n",
			 k->section, k->name, k->min);
		parse_ok(text, &c);
		assert_int_equal(int_field(&c, k->name), k->min);

		snprintf(text, sizeof(text), "[%s]\n%s = %" PRIu64 "\n",
			 k->section, k->name, k->max);
		parse_ok(text, &c);
		assert_int_equal(int_field(&c, k->name), k->max);

		snprintf(text, sizeof(text), "[%s]\n%s = %" PRIu64 "\n",
			 k->section, k->name, k->max + 1);
		snprintf(want, sizeof(want), FN ":2: invalid value '%" PRIu64
			 "' for %s.%s; expected an integer between %" PRIu64
			 " and %" PRIu64, k->max + 1, k->section, k->name,
			 k->min, k->max);
		parse_err(text, want);

		if (k->min > 0) {
			snprintf(text, sizeof(text), "[%s]\n%s = %" PRIu64 "\n",
				 k->section, k->name, k->min - 1);
			snprintf(want, sizeof(want), FN ":2: invalid value '%"
				 PRIu64 "' for %s.%s; expected an integer "
				 "between %" PRIu64 " and %" PRIu64, k->min - 1,
				 k->section, k->name, k->min, k->max);
			parse_err(text, want);
		}
	}
}

static void test_integers(void **state)
{
	static const char *const bad[] = {
		"-1", "+5", "0x10", "1e3", "5 MiB", "12ab", "",
		"18446744073709551615", "18446744073709551616",
		"99999999999999999999999999",
	};
	char text[256], want[512];
	struct xh_config c;
	size_t i;

	for (i = 0; i < NELEM(bad); i++) {
		snprintf(text, sizeof(text), "[cluster]\nhistory = %s\n", bad[i]);
		snprintf(want, sizeof(want), FN ":2: invalid value '%s' for "
			 "cluster.history; expected an integer between 10 and "
			 "100000", bad[i]);
		parse_err(text, want);
	}
	/* leading zeros are still decimal */
	parse_ok("[cluster]\nhistory = 0010\n", &c);
	assert_int_equal(c.history, 10);
	/* a u32 field does not wrap: 2^32 + 100 */
	parse_err("[node]\nstart_timeout_ms = 4294967396\n",
		  FN ":2: invalid value '4294967396' for node.start_timeout_ms; "
		  "expected an integer between 100 and 3600000");
}

static void test_booleans(void **state)
{
	static const struct { const char *s; bool v; } good[] = {
		{ "yes", true }, { "no", false }, { "true", true },
		{ "false", false }, { "1", true }, { "0", false },
		{ "YES", true }, { "No", false }, { "True", true },
		{ "FALSE", false },
	};
	static const char *const bad[] = { "maybe", "2", "", "y", "on", "yes!" };
	char text[128], want[512];
	struct xh_config c;
	size_t i;

	for (i = 0; i < NELEM(good); i++) {
		snprintf(text, sizeof(text), "[log]\nsyslog = %s\ndebug = %s\n",
			 good[i].s, good[i].s);
		parse_ok(text, &c);
		assert_int_equal(c.log_syslog, good[i].v);
		assert_int_equal(c.log_debug, good[i].v);
	}
	for (i = 0; i < NELEM(bad); i++) {
		snprintf(text, sizeof(text), "[log]\n\ndebug = %s\n", bad[i]);
		snprintf(want, sizeof(want), FN ":3: invalid value '%s' for "
			 "log.debug; expected yes, no, true, false, 1 or 0", bad[i]);
		parse_err(text, want);
	}
}

static void test_names(void **state)
{
	static const char *const bad[] = {
		"-h1", ".h1", "_h1", "h 1", "h/1", "h1:2", "hé",
	};
	char text[256], want[512], name[80];
	struct xh_config c;
	size_t i;

	parse_ok("[node]\nname = A.b_c-9\n", &c);
	assert_string_equal(c.node_name, "A.b_c-9");
	parse_ok("[node]\nname = 9\n", &c);
	assert_string_equal(c.node_name, "9");
	/* empty: the default, take the name from corosync */
	parse_ok(full_text, &c);
	assert_int_equal(cfg_parse("[node]\nname =\n", FN, &c, NULL, 0), 0);
	assert_string_equal(c.node_name, "");

	memset(name, 'n', sizeof(name));
	name[63] = '\0';
	snprintf(text, sizeof(text), "[node]\nname = %s\n", name);
	parse_ok(text, &c);
	assert_string_equal(c.node_name, name);
	name[63] = 'n';
	name[64] = '\0';
	snprintf(text, sizeof(text), "[node]\nname = %s\n", name);
	snprintf(want, sizeof(want), FN ":2: invalid value '%s' for node.name; "
		 "expected a name of 1 to 63 characters from [A-Za-z0-9._-], "
		 "starting with a letter or digit, or nothing", name);
	parse_err(text, want);

	for (i = 0; i < NELEM(bad); i++) {
		snprintf(text, sizeof(text), "[node]\nname = %s\n", bad[i]);
		snprintf(want, sizeof(want), FN ":2: invalid value '%s' for "
			 "node.name; expected a name of 1 to 63 characters from "
			 "[A-Za-z0-9._-], starting with a letter or digit, or "
			 "nothing", bad[i]);
		parse_err(text, want);
	}
}

static void test_hypervisor(void **state)
{
	static const char *const bad[] = { "kvm", "XEN", "Sim", "", "xen sim" };
	char text[128], want[256];
	struct xh_config c;
	size_t i;

	parse_ok("[node]\nhypervisor = xen\n", &c);
	assert_string_equal(c.hypervisor, "xen");
	parse_ok("[node]\nhypervisor = sim\n", &c);
	assert_string_equal(c.hypervisor, "sim");
	for (i = 0; i < NELEM(bad); i++) {
		snprintf(text, sizeof(text), "[node]\nhypervisor = %s\n", bad[i]);
		snprintf(want, sizeof(want), FN ":2: invalid value '%s' for "
			 "node.hypervisor; expected 'sim' or 'xen'", bad[i]);
		parse_err(text, want);
	}
}

static void test_migration_address(void **state)
{
	static const char *const good[] = { "198.18.0.1", "0.0.0.0", "::", "fe80::1", "::ffff:1.2.3.4" };
	static const char *const bad[] = { "host1", "198.18.0", "198.18.0.256", "1.2.3.4:7405",
					   "[::1]", "::1%eth0x" };
	char text[128], want[256];
	struct xh_config c;
	size_t i;

	parse_ok("[migration]\naddress =\n", &c);
	assert_string_equal(c.mig_address, "");
	for (i = 0; i < NELEM(good); i++) {
		snprintf(text, sizeof(text), "[migration]\naddress = %s\n", good[i]);
		parse_ok(text, &c);
		assert_string_equal(c.mig_address, good[i]);
	}
	for (i = 0; i < NELEM(bad); i++) {
		snprintf(text, sizeof(text), "[migration]\naddress = %s\n", bad[i]);
		snprintf(want, sizeof(want), FN ":2: invalid value '%s' for migration.address; "
			 "expected a numeric IPv4 or IPv6 address, or nothing", bad[i]);
		parse_err(text, want);
	}
}

static void test_paths(void **state)
{
	static const char *const keys[][2] = {
		{ "node", "state_dir" }, { "sim", "image_dir" },
		{ "sim", "run_dir" }, { "sim", "simdom" },
	};
	static const char *const bad[] = { "", "relative/dir", "./x", "~/x" };
	char text[256], want[512];
	struct xh_config c;
	size_t i, j;

	for (i = 0; i < NELEM(keys); i++) {
		for (j = 0; j < NELEM(bad); j++) {
			snprintf(text, sizeof(text), "[%s]\n%s = %s\n",
				 keys[i][0], keys[i][1], bad[j]);
			snprintf(want, sizeof(want), FN ":2: invalid value '%s' for "
				 "%s.%s; expected an absolute path of at most 255 "
				 "bytes", bad[j], keys[i][0], keys[i][1]);
			parse_err(text, want);
		}
	}
	parse_err("[log]\nfile = log.txt\n",
		  FN ":2: invalid value 'log.txt' for log.file; expected an "
		  "absolute path of at most 255 bytes, or nothing");
	/* control characters are shown as '?' and refused */
	parse_err("[node]\nstate_dir = /a\tb\n",
		  FN ":2: invalid value '/a?b' for node.state_dir; expected an "
		  "absolute path of at most 255 bytes");
	parse_ok("[log]\nfile = /var/log/xenha/xenhad.log\n", &c);
	assert_string_equal(c.log_file, "/var/log/xenha/xenhad.log");
}

/* Long offending values are cut in messages. */
static void test_quote_long(void **state)
{
	char text[256], want[512], v[150];

	memset(v, 'v', sizeof(v));
	v[0] = '/';
	v[149] = '\0';
	v[70] = '\x01';
	snprintf(text, sizeof(text), "[sim]\nmemory_mb = %s\n", v);
	snprintf(want, sizeof(want), FN ":2: invalid value '%.64s...' for "
		 "sim.memory_mb; expected an integer between 64 and 16777216", v);
	parse_err(text, want);
}


/* ---- [fencing] ---- */

static void test_fencing_watchdog(void **state)
{
	static const char *const good[] = {
		"/dev/watchdog", "/dev/watchdog1", "test:/run/xenha/wd",
		"none",
	};
	static const char *const bad[] = {
		"", "watchdog", "test:", "test:relative", "None", "test:none",
		"softdog", "test:./x", "test: /x",
	};
	char text[512], want[512], longp[CFG_PATH_MAX + 8];
	struct xh_config c;
	size_t i;

	for (i = 0; i < NELEM(good); i++) {
		snprintf(text, sizeof(text), "[fencing]\nwatchdog = %s\n", good[i]);
		parse_ok(text, &c);
		assert_string_equal(c.fence_watchdog, good[i]);
	}
	for (i = 0; i < NELEM(bad); i++) {
		snprintf(text, sizeof(text), "[fencing]\nwatchdog = %s\n", bad[i]);
		snprintf(want, sizeof(want), FN ":2: invalid value '%s' for "
			 "fencing.watchdog; expected an absolute path of at most 255 "
			 "bytes, 'test:' and an absolute path, or 'none'", bad[i]);
		parse_err(text, want);
	}
	/* "test:" counts against the 255 bytes: 5 + 150 fits, 5 + 251 not */
	memset(longp, 'w', sizeof(longp));
	memcpy(longp, "test:/", 6);
	longp[155] = '\0';
	snprintf(text, sizeof(text), "[fencing]\nwatchdog = %s\n", longp);
	parse_ok(text, &c);
	assert_string_equal(c.fence_watchdog, longp);
}

static void test_fencing_values(void **state)
{
	struct xh_config c;

	parse_ok("[fencing]\nallow_no_watchdog = true\nsysrq = 0\n"
		 "watchdog = none\n", &c);
	assert_true(c.fence_allow_no_watchdog);
	assert_false(c.fence_sysrq);
	assert_string_equal(c.fence_watchdog, "none");
	parse_err("[fencing]\nsysrq = off\n",
		  FN ":2: invalid value 'off' for fencing.sysrq; expected yes, "
		  "no, true, false, 1 or 0");
	parse_err("[fencing]\n\nallow_no_watchdog = sometimes\n",
		  FN ":3: invalid value 'sometimes' for fencing.allow_no_watchdog; "
		  "expected yes, no, true, false, 1 or 0");

	/* the disk and the fault file: absolute paths, or nothing */
	parse_ok("[fencing]\ndevice = /dev/loop7\n"
		 "disk_fault_file = /tmp/x/fault\n", &c);
	assert_string_equal(c.fence_device, "/dev/loop7");
	assert_string_equal(c.fence_disk_fault_file, "/tmp/x/fault");
	parse_ok("[fencing]\ndevice =\ndisk_fault_file =\n", &c);
	assert_string_equal(c.fence_device, "");
	assert_string_equal(c.fence_disk_fault_file, "");
	parse_err("[fencing]\ndevice = loop7\n",
		  FN ":2: invalid value 'loop7' for fencing.device; expected an "
		  "absolute path of at most 255 bytes, or nothing");
	parse_err("[fencing]\ndisk_fault_file = fault\n",
		  FN ":2: invalid value 'fault' for fencing.disk_fault_file; "
		  "expected an absolute path of at most 255 bytes, or nothing");

	parse_err("[fencing]\nlease = 10\n",
		  FN ":2: unknown key 'lease' in section [fencing]; expected one "
		  "of: device, watchdog, allow_no_watchdog, tick_ms, lease_ms, "
		  "margin_ms, xenhad_timeout_ms, disk_timeout_ms, sysrq, "
		  "disk_fault_file, iscsi_replacement_timeout_ms, "
		  "mpath_no_path_retry, mpath_polling_interval_ms");
	parse_err("[fencing]\ntick_ms = 100\n[fencing]\n",
		  FN ":3: duplicate section [fencing] (first on line 1); expected "
		  "each section once");
	parse_err("[fencing]\ntick_ms = 100\ntick_ms = 100\n",
		  FN ":3: duplicate key 'tick_ms' in section [fencing] (first set "
		  "on line 2); expected each key once");
}

/* ---- [fence-device NAME] ---- */

static const char dev_min[] =
	"[fence-device d1]\nagent = /bin/fa\nhosts = h1\n";

static void test_device_minimal(void **state)
{
	struct xh_config c;
	const struct xh_fence_device *d = &c.fence_devices[0];
	size_t i;

	parse_ok(dev_min, &c);
	assert_int_equal(c.n_fence_devices, 1);
	assert_string_equal(d->name, "d1");
	assert_string_equal(d->agent, "/bin/fa");
	assert_int_equal(d->n_hosts, 1);
	assert_string_equal(d->hosts[0], "h1");
	assert_int_equal(d->level, 1);
	assert_int_equal(d->timeout_ms, 30000);
	assert_int_equal(d->n_args, 0);
	for (i = 1; i < CFG_FENCE_HOSTS_MAX; i++)
		assert_string_equal(d->hosts[i], "");
	for (i = 0; i < CFG_FENCE_ARGS_MAX; i++)
		assert_string_equal(d->args[i], "");
	/* the other slots stay zero */
	for (i = 1; i < CFG_FENCE_DEVICES_MAX; i++)
		assert_string_equal(c.fence_devices[i].name, "");
}

static void test_device_values(void **state)
{
	char text[1024], name[80];
	struct xh_config c;
	const struct xh_fence_device *d = &c.fence_devices[0];
	size_t i;

	/* levels and timeouts at their bounds */
	parse_ok("[fence-device a]\nagent=/a\nhosts=h1\nlevel=9\ntimeout_ms=1000\n"
		 "[fence-device b]\nagent=/b\nhosts=h1\nlevel=1\ntimeout_ms=600000\n",
		 &c);
	assert_int_equal(c.fence_devices[0].level, 9);
	assert_int_equal(c.fence_devices[0].timeout_ms, 1000);
	assert_int_equal(c.fence_devices[1].level, 1);
	assert_int_equal(c.fence_devices[1].timeout_ms, 600000);
	parse_err("[fence-device a]\nagent=/a\nhosts=h1\nlevel=0\n",
		  FN ":4: invalid value '0' for fence-device a.level; expected an "
		  "integer between 1 and 9");
	parse_err("[fence-device a]\nagent=/a\nhosts=h1\nlevel=10\n",
		  FN ":4: invalid value '10' for fence-device a.level; expected an "
		  "integer between 1 and 9");
	parse_err("[fence-device a]\nagent=/a\nhosts=h1\ntimeout_ms=999\n",
		  FN ":4: invalid value '999' for fence-device a.timeout_ms; "
		  "expected an integer between 1000 and 600000");
	parse_err("[fence-device a]\nagent=/a\nhosts=h1\ntimeout_ms=600001\n",
		  FN ":4: invalid value '600001' for fence-device a.timeout_ms; "
		  "expected an integer between 1000 and 600000");
	parse_err("[fence-device a]\nagent = fence_ipmilan\nhosts=h1\n",
		  FN ":2: invalid value 'fence_ipmilan' for fence-device a.agent; "
		  "expected an absolute path of at most 255 bytes");

	/* 16 hosts, 16 args, the longest names and words */
	strcpy(text, "[fence-device a]\nagent=/a\nhosts=");
	for (i = 0; i < 16; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
			 "h%zu ", i);
	strcat(text, "\nargs=");
	for (i = 0; i < 16; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
			 "k%zu=v ", i);
	strcat(text, "\n");
	parse_ok(text, &c);
	assert_int_equal(d->n_hosts, 16);
	assert_string_equal(d->hosts[15], "h15");
	assert_int_equal(d->n_args, 16);
	assert_string_equal(d->args[15], "k15=v");

	memset(name, 'n', sizeof(name));
	name[63] = '\0';
	snprintf(text, sizeof(text), "[fence-device a]\nagent=/a\nhosts=%s\n", name);
	parse_ok(text, &c);
	assert_string_equal(d->hosts[0], name);

	/* an arg word of 127 bytes; values may hold '=' ',' ':' '/' */
	memset(name, 'v', sizeof(name));
	snprintf(text, sizeof(text), "[fence-device a]\nagent=/a\nhosts=h1\n"
		 "args=k=%.62s%.63s x_1=a=b,c:/d\n", name, name);
	parse_ok(text, &c);
	assert_int_equal(strlen(d->args[0]), 127);
	assert_string_equal(d->args[1], "x_1=a=b,c:/d");
}

static void test_device_hosts_args_errors(void **state)
{
	static const char *const bad_hosts[] = {
		"", "-h1", "h1 h/2", "h1,h2",
		"h0 h1 h2 h3 h4 h5 h6 h7 h8 h9 h10 h11 h12 h13 h14 h15 h16",
	};
	static const char *const bad_args[] = {
		"ip", "=x", "ip=", "IP=x", "ip-addr=x", "ip=a\x01", "k=v x",
		"k0=0 k1=1 k2=2 k3=3 k4=4 k5=5 k6=6 k7=7 k8=8 k9=9 k10=a k11=b "
		"k12=c k13=d k14=e k15=f k16=g",
	};
	static const char *const reserved[] = {
		"action", "option", "plug", "port", "nodename",
	};
	char text[512], want[512], q[128], word[200];
	size_t i, j;

	for (i = 0; i < NELEM(bad_hosts); i++) {
		snprintf(text, sizeof(text), "[fence-device a]\nagent=/a\n"
			 "hosts = %s\n", bad_hosts[i]);
		snprintf(want, sizeof(want), FN ":3: invalid value '%s' for "
			 "fence-device a.hosts; expected 1 to 16 host names "
			 "separated by spaces, each of 1 to 63 characters from "
			 "[A-Za-z0-9._-], starting with a letter or digit",
			 bad_hosts[i]);
		parse_err(text, want);
	}
	parse_err("[fence-device a]\nagent=/a\nhosts = h1 h2 h1\n",
		  FN ":3: duplicate host 'h1' in fence-device a.hosts; expected "
		  "each host once");

	for (i = 0; i < NELEM(bad_args); i++) {
		snprintf(text, sizeof(text), "[fence-device a]\nagent=/a\n"
			 "hosts=h1\nargs = %s\n", bad_args[i]);
		/* the message shows control bytes as '?' */
		for (j = 0; bad_args[i][j] != '\0'; j++)
			q[j] = bad_args[i][j] == '\x01' ? '?' : bad_args[i][j];
		q[j] = '\0';
		if (strlen(q) > 64)
			strcpy(q + 64, "...");
		snprintf(want, sizeof(want), FN ":4: invalid value '%s' for "
			 "fence-device a.args; expected at most 16 key=value words "
			 "separated by spaces, keys of [a-z0-9_], values of "
			 "printable characters without spaces, each word at most "
			 "127 bytes", q);
		if (strcmp(bad_args[i], "k=v x") == 0)
			continue;  /* below: "x" has no '=' */
		parse_err(text, want);
	}
	parse_err("[fence-device a]\nagent=/a\nhosts=h1\nargs = k=v x\n",
		  FN ":4: invalid value 'k=v x' for fence-device a.args; expected "
		  "at most 16 key=value words separated by spaces, keys of "
		  "[a-z0-9_], values of printable characters without spaces, each "
		  "word at most 127 bytes");
	/* a word of 128 bytes */
	memset(word, 'v', sizeof(word));
	memcpy(word, "k=", 2);
	word[128] = '\0';
	snprintf(text, sizeof(text), "[fence-device a]\nagent=/a\nhosts=h1\n"
		 "args = %s\n", word);
	snprintf(want, sizeof(want), FN ":4: invalid value '%.64s...' for "
		 "fence-device a.args; expected at most 16 key=value words "
		 "separated by spaces, keys of [a-z0-9_], values of printable "
		 "characters without spaces, each word at most 127 bytes", word);
	parse_err(text, want);

	for (i = 0; i < NELEM(reserved); i++) {
		snprintf(text, sizeof(text), "[fence-device a]\nagent=/a\n"
			 "hosts=h1\nargs = ip=x %s=off\n", reserved[i]);
		snprintf(want, sizeof(want), FN ":4: reserved key '%s' in "
			 "fence-device a.args; expected keys other than action, "
			 "option, plug, port and nodename (xenha sets them)",
			 reserved[i]);
		parse_err(text, want);
	}
	/* a longer key that starts with a reserved one is fine */
	{
		struct xh_config c;

		parse_ok("[fence-device a]\nagent=/a\nhosts=h1\n"
			 "args = port_as_ip=1 plugs=2 ipport=623\n", &c);
		assert_int_equal(c.fence_devices[0].n_args, 3);
	}
	parse_err("[fence-device a]\nagent=/a\nhosts=h1\nargs = ip=1 ip=2\n",
		  FN ":4: duplicate key 'ip' in fence-device a.args; expected "
		  "each key once");
}

static void test_device_sections(void **state)
{
	char text[4096], name[80];
	struct xh_config c;
	size_t i;

	/* device names over inih's 49-byte section limit still work */
	memset(name, 'N', sizeof(name));
	name[63] = '\0';
	snprintf(text, sizeof(text), "[fence-device %s]\nagent = /a\nhosts = h1\n"
		 "level = 3\n[fence-device x]\nagent=/x\nhosts=h1\n", name);
	parse_ok(text, &c);
	assert_string_equal(c.fence_devices[0].name, name);
	assert_int_equal(c.fence_devices[0].level, 3);
	assert_int_equal(c.n_fence_devices, 2);

	/* 16 devices; the 17th is refused on its header line */
	text[0] = '\0';
	for (i = 0; i < 16; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
			 "[fence-device d%zu]\nagent=/a\nhosts=h1\n", i);
	parse_ok(text, &c);
	assert_int_equal(c.n_fence_devices, 16);
	assert_string_equal(c.fence_devices[15].name, "d15");
	strcat(text, "[fence-device d16]\nagent=/a\nhosts=h1\n");
	parse_err(text, FN ":49: too many fence devices at [fence-device d16]; "
		  "expected at most 16 [fence-device NAME] sections");

	/* names */
	parse_err("[fence-device]\nagent=/a\n",
		  FN ":1: invalid section [fence-device]; expected [fence-device "
		  "NAME] with a NAME of 1 to 63 characters from [A-Za-z0-9._-], "
		  "starting with a letter or digit");
	parse_err("[fence-device ]\n",
		  FN ":1: invalid section [fence-device ]; expected [fence-device "
		  "NAME] with a NAME of 1 to 63 characters from [A-Za-z0-9._-], "
		  "starting with a letter or digit");
	parse_err("[fence-device  a]\n",
		  FN ":1: invalid section [fence-device  a]; expected "
		  "[fence-device NAME] with a NAME of 1 to 63 characters from "
		  "[A-Za-z0-9._-], starting with a letter or digit");
	parse_err("[fence-device a b]\n",
		  FN ":1: invalid section [fence-device a b]; expected "
		  "[fence-device NAME] with a NAME of 1 to 63 characters from "
		  "[A-Za-z0-9._-], starting with a letter or digit");
	name[63] = 'N';
	name[64] = '\0';
	snprintf(text, sizeof(text), "[fence-device %s]\n", name);
	{
		char want[512];

		/* the message quotes the first 64 bytes of the section */
		snprintf(want, sizeof(want), FN ":1: invalid section "
			 "[fence-device %.51s...]; expected [fence-device NAME] "
			 "with a NAME of 1 to 63 characters from [A-Za-z0-9._-], "
			 "starting with a letter or digit", name);
		parse_err(text, want);
	}
	/* other spellings are unknown sections */
	parse_err("[fence-devices a]\n",
		  FN ":1: unknown section [fence-devices a]; expected one of: "
		  "[node], [cluster], [sim], [migration], [fencing], [fence-device NAME], "
		  "[log]");
	parse_err("[fence_device a]\n",
		  FN ":1: unknown section [fence_device a]; expected one of: "
		  "[node], [cluster], [sim], [migration], [fencing], [fence-device NAME], "
		  "[log]");

	/* duplicates */
	parse_err("[fence-device a]\nagent=/a\nhosts=h1\n[log]\n"
		  "[fence-device a]\nagent=/b\nhosts=h2\n",
		  FN ":5: duplicate section [fence-device a] (first on line 1); "
		  "expected each section once");
	parse_err("[fence-device a]\nagent=/a\nhosts=h1\nagent=/b\n",
		  FN ":4: duplicate key 'agent' in section [fence-device a] (first "
		  "set on line 2); expected each key once");
	/* the same key in two devices is fine */
	parse_ok("[fence-device a]\nagent=/a\nhosts=h1\n"
		 "[fence-device b]\nagent=/a\nhosts=h1\n", &c);
	parse_err("[fence-device a]\nagent=/a\nhosts=h1\nhost=h2\n",
		  FN ":4: unknown key 'host' in section [fence-device a]; expected "
		  "one of: agent, hosts, level, timeout_ms, args");
	/* keys of other sections are not device keys */
	parse_err("[fence-device a]\nagent=/a\nhosts=h1\ntick_ms=100\n",
		  FN ":4: unknown key 'tick_ms' in section [fence-device a]; "
		  "expected one of: agent, hosts, level, timeout_ms, args");
	/* after a device section, the next section's keys are its own */
	parse_ok("[fence-device a]\nagent=/a\nhosts=h1\n[fencing]\ntick_ms=100\n",
		 &c);
	assert_int_equal(c.fence_tick_ms, 100);
}

static void test_device_incomplete(void **state)
{
	/* reported on the header's line: at the next header ... */
	parse_err("[node]\nname = h1\n\n[fence-device a]\nhosts = h1\n\n[log]\n"
		  "debug = yes\n",
		  FN ":4: section [fence-device a] has no agent; expected an "
		  "'agent = /absolute/path' line in it");
	parse_err("[fence-device a]\nagent = /a\n[fence-device b]\nagent=/b\n"
		  "hosts=h1\n",
		  FN ":1: section [fence-device a] has no hosts; expected a "
		  "'hosts = NAME ...' line in it");
	/* ... and at the end of the text */
	parse_err("[node]\n[fence-device a]\nagent = /a\n",
		  FN ":2: section [fence-device a] has no hosts; expected a "
		  "'hosts = NAME ...' line in it");
	parse_err("[fence-device a]\n",
		  FN ":1: section [fence-device a] has no agent; expected an "
		  "'agent = /absolute/path' line in it");
	/* an earlier error in the section is the one reported */
	parse_err("[fence-device a]\nagent = rel\nhosts = h1\n",
		  FN ":2: invalid value 'rel' for fence-device a.agent; expected "
		  "an absolute path of at most 255 bytes");
	/* a syntax error inside the section is reported, not the lack */
	parse_err("[fence-device a]\nagent /a\nhosts = h1\n",
		  FN ":2: syntax error; expected 'key = value' or '[section]'");
	parse_err("[fence-device a]\nhosts = h1\nagent /a\n[log]\n",
		  FN ":3: syntax error; expected 'key = value' or '[section]'");
	/* an error in a later section comes after the lack */
	parse_err("[fence-device a]\nhosts = h1\n[log]\ndebug = perhaps\n",
		  FN ":1: section [fence-device a] has no agent; expected an "
		  "'agent = /absolute/path' line in it");
}

/* A second file adds devices after the first file's. */
static void test_device_overlay(void **state)
{
	struct xh_config c;
	char err[512];

	parse_ok(dev_min, &c);
	assert_int_equal(cfg_parse("[fence-device d2]\nagent=/b\nhosts=h2\n", FN,
				   &c, err, sizeof(err)), 0);
	assert_int_equal(c.n_fence_devices, 2);
	assert_string_equal(c.fence_devices[0].name, "d1");
	assert_string_equal(c.fence_devices[1].name, "d2");
	assert_int_equal(cfg_parse("[fence-device d1]\nagent=/b\nhosts=h2\n", FN,
				   &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, FN ":1: duplicate section [fence-device d1] "
			    "(defined before this file); expected each section "
			    "once");
	assert_int_equal(c.n_fence_devices, 2);
	/* a corrupt count is refused, not trusted */
	c.n_fence_devices = CFG_FENCE_DEVICES_MAX + 1;
	assert_int_equal(cfg_parse("", FN, &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, FN ": corrupt configuration (too many fence "
			    "devices); expected cfg_defaults() first");
}

/* ---- API edges ---- */

static void test_api_edges(void **state)
{
	struct xh_config c, d;
	char small[12];

	defaults(&c);
	d = c;
	assert_int_equal(cfg_parse("[nod]\n", FN, &c, NULL, 0), -EINVAL);
	assert_memory_equal(&c, &d, sizeof(c));
	assert_int_equal(cfg_parse("[nod]\n", FN, &c, small, sizeof(small)), -EINVAL);
	assert_string_equal(small, "xenha.conf:");
	assert_int_equal(cfg_parse("[nod]\n", NULL, &c, small, sizeof(small)), -EINVAL);
	assert_int_equal(cfg_parse(NULL, FN, &c, small, sizeof(small)), -EINVAL);
	assert_int_equal(cfg_parse("", FN, NULL, small, sizeof(small)), -EINVAL);
	assert_int_equal(cfg_parse("[cluster]\nhistory=11\n", "other.conf", &c,
				   NULL, 0), 0);
	assert_int_equal(c.history, 11);
}

/* ---- the shipped example and man page ---- */

/* etc/xenha.conf with "#key = value" lines uncommented, LIBEXECDIR and
 * SYSCONFDIR filled. */
static char *uncomment_example(const char *src)
{
	size_t n = strlen(src), cap = 2 * n + 256, o = 0;
	char *d = malloc(cap);
	const char *p = src;

	assert_non_null(d);
	while (*p != '\0') {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) + 1 : strlen(p);

		if (p[0] == '#' && p[1] >= 'a' && p[1] <= 'z')
			p++, len--;
		while (len > 0) {
			if (len >= 12 && memcmp(p, "@LIBEXECDIR@", 12) == 0) {
				size_t l = strlen(LIBEXECDIR);

				assert_true(o + l < cap);
				memcpy(d + o, LIBEXECDIR, l);
				o += l;
				p += 12;
				len -= 12;
				continue;
			}
			if (len >= 12 && memcmp(p, "@SYSCONFDIR@", 12) == 0) {
				size_t l = strlen(SYSCONFDIR);

				assert_true(o + l < cap);
				memcpy(d + o, SYSCONFDIR, l);
				o += l;
				p += 12;
				len -= 12;
				continue;
			}
			assert_true(o + 1 < cap);
			d[o++] = *p++;
			len--;
		}
	}
	d[o] = '\0';
	return d;
}

static void test_example_file(void **state)
{
	char *text = read_file(TOP_SRCDIR "/etc/xenha.conf"), *un, err[512] = "";
	struct xh_config c, d;
	size_t i;

	/* as shipped: only comments and section headers */
	cfg_defaults(&d, LIBEXECDIR);
	c = d;
	assert_int_equal(cfg_parse(text, "etc/xenha.conf", &c, err, sizeof(err)), 0);
	assert_memory_equal(&c, &d, sizeof(c));

	/* every key is there, at its default */
	un = uncomment_example(text);
	for (i = 0; i < NELEM(all_keys); i++) {
		char needle[64];

		snprintf(needle, sizeof(needle), "\n%s =", all_keys[i][1]);
		if (strstr(un, needle) == NULL)
			fail_msg("etc/xenha.conf lacks key %s", all_keys[i][1]);
	}
	c = d;
	if (cfg_parse(un, "etc/xenha.conf", &c, err, sizeof(err)) != 0)
		fail_msg("uncommented example: %s", err);
	assert_memory_equal(&c, &d, sizeof(c));
	free(un);
	free(text);
}

static void test_man_page(void **state)
{
	char *man = read_file(TOP_SRCDIR "/man/xenha.conf.5");
	size_t i;

	for (i = 0; i < NELEM(all_keys); i++) {
		char needle[64];

		snprintf(needle, sizeof(needle), ".It Ic %s", all_keys[i][1]);
		if (strstr(man, needle) == NULL)
			fail_msg("xenha.conf.5 does not document %s", all_keys[i][1]);
	}
	for (i = 0; i < NELEM(fence_keys); i++) {
		char needle[64];

		snprintf(needle, sizeof(needle), ".It Ic %s", fence_keys[i]);
		if (strstr(man, needle) == NULL)
			fail_msg("xenha.conf.5 does not document %s", fence_keys[i]);
	}
	assert_non_null(strstr(man, ".Ss Section [fencing]"));
	assert_non_null(strstr(man, ".Ss Section [fence-device NAME]"));
	free(man);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_defaults_libexecdir),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_full_crlf),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_overlay),
		cmocka_unit_test(test_syntax_variants),
		cmocka_unit_test(test_err_unknown_key),
		cmocka_unit_test(test_err_unknown_section),
		cmocka_unit_test(test_err_invalid_value),
		cmocka_unit_test(test_err_duplicate_key),
		cmocka_unit_test(test_err_duplicate_section),
		cmocka_unit_test(test_err_syntax),
		cmocka_unit_test(test_err_first_wins),
		cmocka_unit_test(test_err_long_line),
		cmocka_unit_test(test_line_numbers),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_hypervisor),
		cmocka_unit_test(test_migration_address),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_quote_long),
		cmocka_unit_test(test_fencing_watchdog),
		cmocka_unit_test(test_fencing_values),
		cmocka_unit_test(test_device_minimal),
		cmocka_unit_test(test_device_values),
		cmocka_unit_test(test_device_hosts_args_errors),
		cmocka_unit_test(test_device_sections),
		cmocka_unit_test(test_device_incomplete),
		cmocka_unit_test(test_device_overlay),
		cmocka_unit_test(test_api_edges),
		cmocka_unit_test(test_example_file),
		cmocka_unit_test(test_man_page),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
