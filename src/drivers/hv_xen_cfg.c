/*
 * The xen driver's xl.cfg parser: the domain's xl.cfg text (its definition
 * in the cluster state) → a libxl domain configuration, through libxlutil
 * (xl's own parser) for a documented subset of keys (docs/xen.md).  No I/O
 * but libxlutil's report stream (an in-memory FILE), no Xen needed.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxl.h>
#include <libxl_utils.h>
#include <libxlutil.h>
#include <zlib.h>

#include "xenha/hv.h"
#include "xenha/hv_xen.h"
#include "hv_xen_cfg.h"

#define XEN_MEM_MAX_MB      (16u * 1024u * 1024u)  /* 16 TiB */
#define XEN_VCPUS_MAX       512

static const char *const xl_keys[] = {
	"name", "type", "kernel", "ramdisk", "cmdline", "extra", "root",
	"memory", "maxmem", "vcpus", "disk", "vif",
	"on_poweroff", "on_reboot", "on_crash", "on_watchdog",
};
#define XL_NKEYS (sizeof(xl_keys) / sizeof(xl_keys[0]))

struct xl_parse {
	const char *name;    /* the domain's */
	XLU_Config *c;
	FILE *rep;           /* libxlutil's report stream (its messages) */
	char *rbuf;
	size_t rlen;
	int key_line[XL_NKEYS];
	char *err;
	size_t errlen;
};

static int xl_key_index(const char *key, size_t n)
{
	for (size_t i = 0; i < XL_NKEYS; i++)
		if (strlen(xl_keys[i]) == n && strncmp(xl_keys[i], key, n) == 0)
			return (int)i;
	return -1;
}

static int xl_line(const struct xl_parse *p, const char *key)
{
	int i = xl_key_index(key, strlen(key));

	return i < 0 ? 0 : p->key_line[i];
}

static int __attribute__((format(printf, 3, 4)))
xl_fail(struct xl_parse *p, const char *key, const char *fmt, ...)
{
	char msg[HV_XEN_ERR_MAX];
	va_list ap;
	int line = key ? xl_line(p, key) : 0;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(p->err, p->errlen, "xl.cfg:%d: %s", line, msg);
	else
		snprintf(p->err, p->errlen, "xl.cfg: %s", msg);
	return -EINVAL;
}

/* libxlutil's own words (they carry "xl.cfg:LINE:"), on one line. */
static int xl_fail_report(struct xl_parse *p, const char *key, const char *what)
{
	size_t n;

	fflush(p->rep);
	n = p->rbuf ? strlen(p->rbuf) : 0;
	while (n > 0 && (p->rbuf[n - 1] == '\n' || p->rbuf[n - 1] == ' '))
		p->rbuf[--n] = '\0';
	if (n == 0)
		return xl_fail(p, key, "%s", what);
	for (size_t i = 0; i < n; i++)
		if (p->rbuf[i] == '\n')
			p->rbuf[i] = ' ';
	if (strncmp(p->rbuf, "xl.cfg:", 7) == 0 && isdigit((unsigned char)p->rbuf[7])) {
		snprintf(p->err, p->errlen, "%s", p->rbuf);
		return -EINVAL;
	}
	/* no line from libxlutil (disk specs): the key's line */
	return xl_fail(p, key, "%s: %s", what,
		       strncmp(p->rbuf, "xl.cfg: ", 8) == 0 ? p->rbuf + 8 : p->rbuf);
}

/*
 * Every top-level key, with its line, against the supported set.  Runs
 * after libxlutil accepted the syntax, so it only has to find where
 * statements start: outside strings, comments and [ ] lists, after a
 * newline or ';'.
 */
static int xl_scan_keys(struct xl_parse *p, const char *text)
{
	int line = 1, depth = 0;
	char quote = 0;
	bool at_start = true;

	for (const char *s = text; *s; s++) {
		char c = *s;

		if (c == '\n') {
			line++;
			if (depth == 0)
				at_start = true;
			continue;
		}
		if (quote) {
			if (c == '\\' && s[1] != '\0' && s[1] != '\n')
				s++;
			else if (c == quote)
				quote = 0;
			continue;
		}
		if (c == '#') {
			while (s[1] != '\0' && s[1] != '\n')
				s++;
			continue;
		}
		if (c == '"' || c == '\'') {
			quote = c;
			at_start = false;
			continue;
		}
		if (c == '[')
			depth++;
		else if (c == ']' && depth > 0)
			depth--;
		if (c == ';' && depth == 0) {
			at_start = true;
			continue;
		}
		if (!at_start || isspace((unsigned char)c))
			continue;
		at_start = false;
		if (isalpha((unsigned char)c) || c == '_') {
			const char *k = s;
			int i;

			while (isalnum((unsigned char)s[1]) || s[1] == '_')
				s++;
			i = xl_key_index(k, (size_t)(s - k + 1));
			if (i < 0) {
				snprintf(p->err, p->errlen,
					 "xl.cfg:%d: unknown or unsupported key '%.*s' (supported: name type "
					 "kernel ramdisk cmdline extra root memory maxmem vcpus disk vif "
					 "on_poweroff on_reboot on_crash on_watchdog)", line, (int)(s - k + 1), k);
				return -EINVAL;
			}
			if (p->key_line[i] == 0)
				p->key_line[i] = line;
		}
	}
	return 0;
}

/* A string key: 0 (set), 1 (absent), -EINVAL (a list, or otherwise bad). */
static int xl_string(struct xl_parse *p, const char *key, const char **out)
{
	int rc = xlu_cfg_get_string(p->c, key, out, 0);

	if (rc == ESRCH) {
		*out = NULL;
		return 1;
	}
	if (rc != 0)
		return xl_fail_report(p, key, "bad value");
	return 0;
}

static int xl_long(struct xl_parse *p, const char *key, long min, long max, long *out)
{
	int rc = xlu_cfg_get_long(p->c, key, out, 0);

	if (rc == ESRCH)
		return 1;
	if (rc != 0)
		return xl_fail_report(p, key, "not a number");
	if (*out < min || *out > max)
		return xl_fail(p, key, "%s=%ld out of range %ld..%ld", key, *out, min, max);
	return 0;
}

static int parse_mac(const char *s, libxl_mac mac)
{
	unsigned int b[6];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6 || strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	if (mac[0] & 1)
		return -EINVAL;   /* multicast */
	return 0;
}

static bool mac_unset(const libxl_mac mac)
{
	for (int i = 0; i < 6; i++)
		if (mac[i])
			return false;
	return true;
}

/*
 * A vif without mac=: libxl would draw a random one at every create and
 * restore, so a live-migrated guest found its NIC under another MAC on
 * the target (the Xen lab's capture, run 17: its peers learn the new one
 * only from the guest's gratuitous ARP, or when their ARP entry expires)
 * and a restarted one would come back under yet another.  Instead the MAC
 * is a function of the domain's name and the vif's index - the same on
 * every host, every start - in Xen's OUI 00:16:3e, locally unique by the
 * CRC-32 of "NAME/INDEX" (23 bits: set mac= to choose one, docs/xen.md).
 */
static void derive_mac(const char *name, int idx, libxl_mac mac)
{
	char key[XH_NAME_MAX + 16];
	uint32_t c;

	snprintf(key, sizeof(key), "%s/%d", name, idx);
	c = (uint32_t)crc32(0L, (const Bytef *)key, (uInt)strlen(key));
	mac[0] = 0x00;
	mac[1] = 0x16;
	mac[2] = 0x3e;
	mac[3] = (uint8_t)((c >> 16) & 0x7f);
	mac[4] = (uint8_t)(c >> 8);
	mac[5] = (uint8_t)c;
}

/* One vif spec: "bridge=BR,mac=MAC" (both optional). */
static int xl_vif(struct xl_parse *p, int idx, const char *spec, libxl_device_nic *nic)
{
	char buf[256], *save = NULL;

	if (strlen(spec) >= sizeof(buf))
		return xl_fail(p, "vif", "vif %d: spec too long", idx);
	snprintf(buf, sizeof(buf), "%s", spec);
	nic->devid = idx;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq;

		while (isspace((unsigned char)*tok))
			tok++;
		if (*tok == '\0')
			continue;
		eq = strchr(tok, '=');
		if (eq == NULL)
			return xl_fail(p, "vif", "vif %d: '%s' is not key=value", idx, tok);
		*eq++ = '\0';
		if (strcmp(tok, "bridge") == 0) {
			if (*eq == '\0' || !hv_name_ok(eq))
				return xl_fail(p, "vif", "vif %d: bad bridge '%s'", idx, eq);
			free(nic->bridge);
			nic->bridge = strdup(eq);
			if (nic->bridge == NULL)
				return -ENOMEM;
		} else if (strcmp(tok, "mac") == 0) {
			if (parse_mac(eq, nic->mac) < 0)
				return xl_fail(p, "vif", "vif %d: bad mac '%s' (expected xx:xx:xx:xx:xx:xx, unicast)",
					       idx, eq);
		} else {
			return xl_fail(p, "vif", "vif %d: unsupported key '%s' (supported: bridge mac)", idx, tok);
		}
	}
	return 0;
}

static int xl_lists(struct xl_parse *p, libxl_domain_config *dc)
{
	XLU_ConfigList *list;
	int n, rc;

	rc = xlu_cfg_get_list(p->c, "disk", &list, &n, 0);
	if (rc == 0 && n > 0) {
		dc->disks = calloc((size_t)n, sizeof(*dc->disks));
		if (dc->disks == NULL)
			return -ENOMEM;
		for (int i = 0; i < n; i++) {
			const char *spec = xlu_cfg_get_listitem(list, i);

			libxl_device_disk_init(&dc->disks[i]);
			dc->num_disks = i + 1;
			if (spec == NULL)
				return xl_fail(p, "disk", "disk %d: not a string", i);
			if (xlu_disk_parse(p->c, 1, &spec, &dc->disks[i]) != 0) {
				char what[32];

				snprintf(what, sizeof(what), "disk %d", i);
				return xl_fail_report(p, "disk", what);
			}
		}
	} else if (rc != 0 && rc != ESRCH) {
		return xl_fail_report(p, "disk", "disk must be a list");
	}

	rc = xlu_cfg_get_list(p->c, "vif", &list, &n, 0);
	if (rc == 0 && n > 0) {
		dc->nics = calloc((size_t)n, sizeof(*dc->nics));
		if (dc->nics == NULL)
			return -ENOMEM;
		for (int i = 0; i < n; i++) {
			const char *spec = xlu_cfg_get_listitem(list, i);

			libxl_device_nic_init(&dc->nics[i]);
			dc->num_nics = i + 1;
			if (spec == NULL)
				return xl_fail(p, "vif", "vif %d: not a string", i);
			rc = xl_vif(p, i, spec, &dc->nics[i]);
			if (rc < 0)
				return rc;
			if (mac_unset(dc->nics[i].mac))
				derive_mac(p->name, i, dc->nics[i].mac);
		}
	} else if (rc != 0 && rc != ESRCH) {
		return xl_fail_report(p, "vif", "vif must be a list");
	}
	return 0;
}

/* xenha decides what happens after a domain ends: only "destroy". */
static int xl_actions(struct xl_parse *p, libxl_domain_config *dc)
{
	static const char *const keys[] = { "on_poweroff", "on_reboot", "on_crash", "on_watchdog" };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v;
		int rc = xl_string(p, keys[i], &v);

		if (rc < 0)
			return rc;
		if (rc == 0 && strcmp(v, "destroy") != 0)
			return xl_fail(p, keys[i], "%s=\"%s\" not supported: xenha decides what follows "
				       "a domain's end; only \"destroy\"", keys[i], v);
	}
	dc->on_poweroff = LIBXL_ACTION_ON_SHUTDOWN_DESTROY;
	dc->on_reboot = LIBXL_ACTION_ON_SHUTDOWN_DESTROY;
	dc->on_crash = LIBXL_ACTION_ON_SHUTDOWN_DESTROY;
	dc->on_watchdog = LIBXL_ACTION_ON_SHUTDOWN_DESTROY;
	return 0;
}

static int xl_strdup(char **dst, const char *s)
{
	if (s == NULL)
		return 0;
	*dst = strdup(s);
	return *dst ? 0 : -ENOMEM;
}

static int xl_boot(struct xl_parse *p, libxl_domain_config *dc)
{
	const char *kernel, *ramdisk, *cmdline, *extra, *root;
	int rc;

	if ((rc = xl_string(p, "kernel", &kernel)) < 0 || (rc = xl_string(p, "ramdisk", &ramdisk)) < 0 ||
	    (rc = xl_string(p, "cmdline", &cmdline)) < 0 || (rc = xl_string(p, "extra", &extra)) < 0 ||
	    (rc = xl_string(p, "root", &root)) < 0)
		return rc;
	if (cmdline && (extra || root))
		return xl_fail(p, "cmdline", "cmdline and root/extra both set: use one");
	if (kernel == NULL && dc->c_info.type != LIBXL_DOMAIN_TYPE_HVM)
		return xl_fail(p, "type", "type pv and pvh need kernel= (no bootloader support)");
	if (ramdisk && kernel == NULL)
		return xl_fail(p, "ramdisk", "ramdisk without kernel");
	if (xl_strdup(&dc->b_info.kernel, kernel) < 0 || xl_strdup(&dc->b_info.ramdisk, ramdisk) < 0)
		return -ENOMEM;
	if (cmdline) {
		if (xl_strdup(&dc->b_info.cmdline, cmdline) < 0)
			return -ENOMEM;
	} else if (root || extra) {
		if (asprintf(&dc->b_info.cmdline, "%s%s%s%s", root ? "root=" : "", root ? root : "",
			     root && extra ? " " : "", extra ? extra : "") < 0) {
			dc->b_info.cmdline = NULL;
			return -ENOMEM;
		}
	}
	return 0;
}

static int xl_memory(struct xl_parse *p, libxl_domain_config *dc, uint32_t memory_mb)
{
	long mem = 0, maxmem = 0, vcpus = 1;
	int rc;

	rc = xl_long(p, "memory", 1, XEN_MEM_MAX_MB, &mem);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		if (memory_mb == 0)
			return xl_fail(p, NULL, "memory= missing (and the domain's definition gives none)");
		mem = memory_mb;
	} else if (memory_mb != 0 && (uint32_t)mem != memory_mb) {
		return xl_fail(p, "memory", "memory=%ld but the domain's definition says %" PRIu32
			       " MiB (placement uses the definition)", mem, memory_mb);
	}
	rc = xl_long(p, "maxmem", 1, XEN_MEM_MAX_MB, &maxmem);
	if (rc < 0)
		return rc;
	if (rc == 1)
		maxmem = mem;
	if (maxmem < mem)
		return xl_fail(p, "maxmem", "maxmem=%ld below memory=%ld", maxmem, mem);
	rc = xl_long(p, "vcpus", 1, XEN_VCPUS_MAX, &vcpus);
	if (rc < 0)
		return rc;
	dc->b_info.target_memkb = (uint64_t)mem * 1024u;
	dc->b_info.max_memkb = (uint64_t)maxmem * 1024u;
	dc->b_info.max_vcpus = (int)vcpus;
	return 0;
}

/* The marker (see the top of this file), as libxl's xsdata list. */
static int xl_marker(libxl_domain_config *dc, uint64_t generation, uint32_t nodeid)
{
	const uint8_t *u = libxl_uuid_bytearray_const(&dc->c_info.uuid);
	char **kv = calloc(7, sizeof(*kv));
	int rc = 0;

	if (kv == NULL)
		return -ENOMEM;
	dc->c_info.xsdata = kv;
	if (asprintf(&kv[1], "%" PRIu64, generation) < 0 ||
	    asprintf(&kv[3], "%" PRIu64, dc->b_info.target_memkb / 1024u) < 0 ||
	    asprintf(&kv[5], "%" PRIu32 "-%" PRIu64 "-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		     "%02x%02x%02x%02x%02x%02x", nodeid, generation, u[0], u[1], u[2], u[3], u[4],
		     u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]) < 0)
		rc = -ENOMEM;
	kv[0] = strdup("xenha/generation");
	kv[2] = strdup("xenha/memory_mb");
	kv[4] = strdup("xenha/incarnation");
	for (int i = 0; i < 6; i++)
		if (kv[i] == NULL)
			rc = -ENOMEM;
	return rc;
}

int hv_xen_cfg_build(const char *name, const char *text, uint32_t memory_mb, uint64_t generation,
		    uint32_t nodeid, libxl_domain_config *dc, char *err, size_t errlen)
{
	struct xl_parse p = { .name = name, .err = err, .errlen = errlen };
	const char *v;
	libxl_domain_type type = LIBXL_DOMAIN_TYPE_PV;
	int rc;

	err[0] = '\0';
	if (!hv_name_ok(name)) {
		snprintf(err, errlen, "bad domain name");
		return -EINVAL;
	}
	if (text == NULL || text[0] == '\0') {
		snprintf(err, errlen, "xl.cfg: empty (the xen driver needs the domain's xl.cfg)");
		return -EINVAL;
	}
	if (strlen(text) > INT32_MAX)
		return -EINVAL;
	p.rep = open_memstream(&p.rbuf, &p.rlen);
	if (p.rep == NULL)
		return -ENOMEM;
	p.c = xlu_cfg_init(p.rep, "xl.cfg");
	if (p.c == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (xlu_cfg_readdata(p.c, text, (int)strlen(text)) != 0) {
		rc = xl_fail_report(&p, NULL, "syntax error");
		goto out;
	}
	rc = xl_scan_keys(&p, text);
	if (rc < 0)
		goto out;

	if ((rc = xl_string(&p, "name", &v)) < 0)
		goto out;
	if (rc == 0 && strcmp(v, name) != 0) {
		rc = xl_fail(&p, "name", "name=\"%s\" but the domain is %s", v, name);
		goto out;
	}
	if ((rc = xl_string(&p, "type", &v)) < 0)
		goto out;
	if (rc == 0) {
		if (strcmp(v, "pv") == 0)
			type = LIBXL_DOMAIN_TYPE_PV;
		else if (strcmp(v, "pvh") == 0)
			type = LIBXL_DOMAIN_TYPE_PVH;
		else if (strcmp(v, "hvm") == 0)
			type = LIBXL_DOMAIN_TYPE_HVM;
		else {
			rc = xl_fail(&p, "type", "type=\"%s\": expected pv, pvh or hvm", v);
			goto out;
		}
	}
	dc->c_info.type = type;
	libxl_domain_build_info_init_type(&dc->b_info, type);
	dc->c_info.name = strdup(name);
	if (dc->c_info.name == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	libxl_uuid_generate(&dc->c_info.uuid);
	if ((rc = xl_memory(&p, dc, memory_mb)) < 0 || (rc = xl_boot(&p, dc)) < 0 ||
	    (rc = xl_lists(&p, dc)) < 0 || (rc = xl_actions(&p, dc)) < 0 ||
	    (rc = xl_marker(dc, generation, nodeid)) < 0)
		goto out;
	rc = 0;
out:
	if (rc == -ENOMEM && err[0] == '\0')
		snprintf(err, errlen, "out of memory");
	if (p.c)
		xlu_cfg_destroy(p.c);
	fclose(p.rep);
	free(p.rbuf);
	return rc;
}

int hv_xen_cfg_check(const char *name, const char *xlcfg, uint32_t memory_mb,
		     char *err, size_t errlen)
{
	libxl_domain_config dc;
	char buf[HV_XEN_ERR_MAX];
	int rc;

	libxl_domain_config_init(&dc);
	rc = hv_xen_cfg_build(name, xlcfg, memory_mb, 0, 0, &dc, buf, sizeof(buf));
	libxl_domain_config_dispose(&dc);
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", rc < 0 ? buf : "");
	return rc;
}
