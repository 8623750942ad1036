/*
 * Unit tests for the xen hypervisor driver (src/drivers/hv_xen.c).
 *
 * The driver's code is real; libxl's domain operations, libxenctrl and
 * libxenstore are replaced at the link boundary (-Wl,--wrap=, the list is
 * in tests/unit/xen.am) by a fake world of hosts, each with its domains,
 * their xenstore marker and a pipe standing in for the xenstore watch fd.
 * libxlutil (a pure parser) and libxl's pure helpers (config init/dispose,
 * uuid) are the real ones, so xl.cfg errors are libxlutil's own words.
 * Migration runs between two driver instances over a socketpair, the
 * target in a thread, with libxl's stream replaced by a short fake one.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>
#include <qb/qblog.h>
#include <syslog.h>
#include <libxl.h>
#include <libxl_utils.h>
#include <xenctrl.h>
#include <xenstore.h>

#include "xenha/config.h"
#include "xenha/hv.h"
#include "xenha/hv_xen.h"

/* ---- the fake world ---- */

#define FH_DOMS 16
#define FAKE_STREAM "FAKESTRM"

struct fdom {
	bool used;
	uint32_t domid;
	uint8_t uuid[16];
	char name[64];
	uint32_t flags;
	bool marked;
	char gen[32], mem[32], inc[128];
	int ndisks, nnics;
	char bridge[32];
	uint8_t mac[6];
	char cmdline[128];
};

struct fhost {
	struct fdom d[FH_DOMS];
	uint32_t next_domid;
	int pipe[2];               /* the "xenstore fd" */
	uint64_t total_pages;
	/* knobs */
	bool create_fail, create_leaves_domain, unpause_fail, honour_shutdown;
	uint32_t create_fail_domid;  /* failed create reports this domid (0: none) */
	bool suspend_fail, restore_fail;
	uint32_t restore_slow_ms;  /* restore takes this long after the stream */
	uint32_t suspend_slow_ms;  /* suspend writes the stream this long after suspending */
	uint32_t destroy_slow_ms;  /* destroy returns this long after the domain went */
	uint32_t unpause_slow_ms;  /* unpause takes this long */
	bool unpause_gate;         /* unpause waits until fw_gate_open */
	bool in_unpause;           /* a gated unpause waits */
	int watch_fail;            /* xs_check_watch fails this many times */
	/* counters */
	int creates, destroys, resumes, shutdowns, suspends;
};

static pthread_mutex_t fw_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fw_cond = PTHREAD_COND_INITIALIZER;
static bool fw_gate_open;
static struct fhost *fw_next;      /* the host the next open() connects to */
static xentoollog_logger *fw_logger;  /* what the driver gave libxl */

static struct fdom *fh_find(struct fhost *fh, uint32_t domid)
{
	for (int i = 0; i < FH_DOMS; i++)
		if (fh->d[i].used && fh->d[i].domid == domid)
			return &fh->d[i];
	return NULL;
}

static struct fdom *fh_find_name(struct fhost *fh, const char *name)
{
	for (int i = 0; i < FH_DOMS; i++)
		if (fh->d[i].used && strcmp(fh->d[i].name, name) == 0)
			return &fh->d[i];
	return NULL;
}

/* a domain the test knows is there */
static struct fdom *fh_get(struct fhost *fh, const char *name)
{
	struct fdom *d = fh_find_name(fh, name);

	if (d == NULL) {
		fail_msg("no domain %s on the fake host", name);
		abort();
	}
	return d;
}

static int fh_count(struct fhost *fh)
{
	int n = 0;

	for (int i = 0; i < FH_DOMS; i++)
		n += fh->d[i].used;
	return n;
}

/* a @releaseDomain watch event */
static void fh_event(struct fhost *fh)
{
	char c = 'w';

	if (write(fh->pipe[1], &c, 1) != 1)
		fail_msg("event pipe full");
}

static struct fdom *fh_add(struct fhost *fh, uint32_t domid, const char *name, uint8_t uuid_seed)
{
	for (int i = 0; i < FH_DOMS; i++)
		if (!fh->d[i].used) {
			struct fdom *d = &fh->d[i];

			memset(d, 0, sizeof(*d));
			d->used = true;
			d->domid = domid;
			snprintf(d->name, sizeof(d->name), "%s", name);
			memset(d->uuid, uuid_seed, sizeof(d->uuid));
			d->flags = XEN_DOMINF_running;
			return d;
		}
	fail_msg("fake host full");
	return NULL;
}

static void fh_remove(struct fhost *fh, struct fdom *d)
{
	(void)fh;
	memset(d, 0, sizeof(*d));
}

static struct fdom *fh_add_config(struct fhost *fh, const libxl_domain_config *dc)
{
	struct fdom *d = fh_add(fh, fh->next_domid++, dc->c_info.name, 0);

	memcpy(d->uuid, libxl_uuid_bytearray_const(&dc->c_info.uuid), 16);
	d->flags = XEN_DOMINF_paused;
	for (char **kv = dc->c_info.xsdata; kv && kv[0]; kv += 2) {
		if (strcmp(kv[0], "xenha/generation") == 0)
			snprintf(d->gen, sizeof(d->gen), "%s", kv[1]);
		else if (strcmp(kv[0], "xenha/memory_mb") == 0)
			snprintf(d->mem, sizeof(d->mem), "%s", kv[1]);
		else if (strcmp(kv[0], "xenha/incarnation") == 0)
			snprintf(d->inc, sizeof(d->inc), "%s", kv[1]);
		d->marked = true;
	}
	d->ndisks = dc->num_disks;
	d->nnics = dc->num_nics;
	if (dc->num_nics > 0) {
		snprintf(d->bridge, sizeof(d->bridge), "%s", dc->nics[0].bridge ? dc->nics[0].bridge : "");
		memcpy(d->mac, dc->nics[0].mac, 6);
	}
	snprintf(d->cmdline, sizeof(d->cmdline), "%s", dc->b_info.cmdline ? dc->b_info.cmdline : "");
	return d;
}

/* libxl */
int __wrap_libxl_ctx_alloc(libxl_ctx **pctx, int version, unsigned flags, xentoollog_logger *lg);
int __wrap_libxl_ctx_alloc(libxl_ctx **pctx, int version, unsigned flags, xentoollog_logger *lg)
{
	*pctx = (libxl_ctx *)fw_next;
	fw_logger = lg;
	return 0;
}

int __wrap_libxl_ctx_free(libxl_ctx *ctx);
int __wrap_libxl_ctx_free(libxl_ctx *ctx)
{
	return 0;
}

int __wrap_libxl_domain_create_new(libxl_ctx *ctx, libxl_domain_config *dc, uint32_t *domid,
				   const libxl_asyncop_how *ao, const libxl_asyncprogress_how *aop);
int __wrap_libxl_domain_create_new(libxl_ctx *ctx, libxl_domain_config *dc, uint32_t *domid,
				   const libxl_asyncop_how *ao, const libxl_asyncprogress_how *aop)
{
	struct fhost *fh = (struct fhost *)ctx;
	int rc = 0;

	pthread_mutex_lock(&fw_mu);
	fh->creates++;
	if (fh->create_fail) {
		if (fh->create_leaves_domain)
			*domid = fh_add_config(fh, dc)->domid;
		else if (fh->create_fail_domid)
			*domid = fh->create_fail_domid;
		rc = ERROR_FAIL;
	} else {
		*domid = fh_add_config(fh, dc)->domid;
	}
	pthread_mutex_unlock(&fw_mu);
	return rc;
}

int __wrap_libxl_domain_unpause(libxl_ctx *ctx, uint32_t domid, const libxl_asyncop_how *ao);
int __wrap_libxl_domain_unpause(libxl_ctx *ctx, uint32_t domid, const libxl_asyncop_how *ao)
{
	struct fhost *fh = (struct fhost *)ctx;
	struct fdom *d;
	int rc = 0;

	if (fh->unpause_slow_ms)
		usleep(fh->unpause_slow_ms * 1000u);
	pthread_mutex_lock(&fw_mu);
	if (fh->unpause_gate) {
		fh->in_unpause = true;
		pthread_cond_broadcast(&fw_cond);
		while (!fw_gate_open)
			pthread_cond_wait(&fw_cond, &fw_mu);
		fh->in_unpause = false;
	}
	d = fh_find(fh, domid);
	if (d == NULL || fh->unpause_fail)
		rc = ERROR_FAIL;
	else
		d->flags = (d->flags & ~XEN_DOMINF_paused) | XEN_DOMINF_running;
	pthread_mutex_unlock(&fw_mu);
	return rc;
}

int __wrap_libxl_domain_shutdown(libxl_ctx *ctx, uint32_t domid, const libxl_asyncop_how *ao);
int __wrap_libxl_domain_shutdown(libxl_ctx *ctx, uint32_t domid, const libxl_asyncop_how *ao)
{
	struct fhost *fh = (struct fhost *)ctx;
	struct fdom *d;

	pthread_mutex_lock(&fw_mu);
	fh->shutdowns++;
	d = fh_find(fh, domid);
	if (d != NULL && fh->honour_shutdown) {
		d->flags = XEN_DOMINF_shutdown | (SHUTDOWN_poweroff << XEN_DOMINF_shutdownshift);
		fh_event(fh);
	}
	pthread_mutex_unlock(&fw_mu);
	return d ? 0 : ERROR_FAIL;
}

int __wrap_libxl_domain_destroy(libxl_ctx *ctx, uint32_t domid, const libxl_asyncop_how *ao);
int __wrap_libxl_domain_destroy(libxl_ctx *ctx, uint32_t domid, const libxl_asyncop_how *ao)
{
	struct fhost *fh = (struct fhost *)ctx;
	struct fdom *d;

	pthread_mutex_lock(&fw_mu);
	d = fh_find(fh, domid);
	if (d != NULL) {
		fh->destroys++;
		fh_remove(fh, d);
		fh_event(fh);
	}
	pthread_mutex_unlock(&fw_mu);
	if (fh->destroy_slow_ms)
		usleep(fh->destroy_slow_ms * 1000u);   /* device teardown */
	return d ? 0 : ERROR_FAIL;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int __wrap_libxl_domain_suspend(libxl_ctx *ctx, uint32_t domid, int fd, int flags,
				const libxl_asyncop_how *ao);
int __wrap_libxl_domain_suspend(libxl_ctx *ctx, uint32_t domid, int fd, int flags,
				const libxl_asyncop_how *ao)
{
	struct fhost *fh = (struct fhost *)ctx;
	struct fdom *d;
	uint8_t uuid[16];
	bool fail;

	assert_int_equal(flags, LIBXL_SUSPEND_LIVE);
	pthread_mutex_lock(&fw_mu);
	fh->suspends++;
	d = fh_find(fh, domid);
	if (d == NULL)
		abort();
	memcpy(uuid, d->uuid, 16);
	/* libxl suspends the guest at the end of the live phase */
	d->flags = XEN_DOMINF_shutdown | (SHUTDOWN_suspend << XEN_DOMINF_shutdownshift);
	fail = fh->suspend_fail;
	pthread_mutex_unlock(&fw_mu);
	if (fh->suspend_slow_ms)
		usleep(fh->suspend_slow_ms * 1000u);   /* the last pages */
	if (fail) {
		(void)write_all(fd, FAKE_STREAM, 4);   /* a torn stream */
		return ERROR_FAIL;
	}
	if (write_all(fd, FAKE_STREAM, 8) < 0 || write_all(fd, uuid, 16) < 0)
		return ERROR_FAIL;
	return 0;
}

int __wrap_libxl_domain_resume(libxl_ctx *ctx, uint32_t domid, int suspend_cancel,
			       const libxl_asyncop_how *ao);
int __wrap_libxl_domain_resume(libxl_ctx *ctx, uint32_t domid, int suspend_cancel,
			       const libxl_asyncop_how *ao)
{
	struct fhost *fh = (struct fhost *)ctx;
	struct fdom *d;

	assert_int_equal(suspend_cancel, 1);
	pthread_mutex_lock(&fw_mu);
	d = fh_find(fh, domid);
	if (d != NULL) {
		fh->resumes++;
		d->flags = XEN_DOMINF_running;
	}
	pthread_mutex_unlock(&fw_mu);
	return d ? 0 : ERROR_FAIL;
}

int __wrap_libxl_domain_create_restore(libxl_ctx *ctx, libxl_domain_config *dc, uint32_t *domid,
				       int restore_fd, int send_back_fd,
				       const libxl_domain_restore_params *params,
				       const libxl_asyncop_how *ao, const libxl_asyncprogress_how *aop);
int __wrap_libxl_domain_create_restore(libxl_ctx *ctx, libxl_domain_config *dc, uint32_t *domid,
				       int restore_fd, int send_back_fd,
				       const libxl_domain_restore_params *params,
				       const libxl_asyncop_how *ao, const libxl_asyncprogress_how *aop)
{
	struct fhost *fh = (struct fhost *)ctx;
	char magic[8];
	uint8_t uuid[16];
	int rc = 0;

	if (params->stream_version != 2)
		return ERROR_INVAL;
	if (fh->restore_fail || read_all(restore_fd, magic, 8) < 0 ||
	    memcmp(magic, FAKE_STREAM, 8) != 0 || read_all(restore_fd, uuid, 16) < 0)
		return ERROR_FAIL;
	pthread_mutex_lock(&fw_mu);
	*domid = fh_add_config(fh, dc)->domid;    /* created paused */
	pthread_mutex_unlock(&fw_mu);
	if (fh->restore_slow_ms)
		usleep(fh->restore_slow_ms * 1000u);
	return rc;
}

int __wrap_libxl_get_physinfo(libxl_ctx *ctx, libxl_physinfo *pi);
int __wrap_libxl_get_physinfo(libxl_ctx *ctx, libxl_physinfo *pi)
{
	pi->total_pages = ((struct fhost *)ctx)->total_pages;
	return 0;
}

int __wrap_libxl_name_to_domid(libxl_ctx *ctx, const char *name, uint32_t *domid);
int __wrap_libxl_name_to_domid(libxl_ctx *ctx, const char *name, uint32_t *domid)
{
	struct fdom *d;

	pthread_mutex_lock(&fw_mu);
	d = fh_find_name((struct fhost *)ctx, name);
	if (d)
		*domid = d->domid;
	pthread_mutex_unlock(&fw_mu);
	return d ? 0 : ERROR_INVAL;
}

/* libxenctrl */
xc_interface *__wrap_xc_interface_open(xentoollog_logger *l, xentoollog_logger *dl, unsigned f);
xc_interface *__wrap_xc_interface_open(xentoollog_logger *l, xentoollog_logger *dl, unsigned f)
{
	return (xc_interface *)fw_next;
}

int __wrap_xc_interface_close(xc_interface *xch);
int __wrap_xc_interface_close(xc_interface *xch)
{
	return 0;
}

int __wrap_xc_domain_getinfolist(xc_interface *xch, uint32_t first, unsigned int max,
				 xc_domaininfo_t *info);
int __wrap_xc_domain_getinfolist(xc_interface *xch, uint32_t first, unsigned int max,
				 xc_domaininfo_t *info)
{
	struct fhost *fh = (struct fhost *)xch;
	unsigned int n = 0;
	uint32_t cur = first;

	pthread_mutex_lock(&fw_mu);
	/* ascending domids from `first`, like Xen */
	while (n < max) {
		struct fdom *best = NULL;

		for (int i = 0; i < FH_DOMS; i++)
			if (fh->d[i].used && fh->d[i].domid >= cur &&
			    (best == NULL || fh->d[i].domid < best->domid))
				best = &fh->d[i];
		if (best == NULL)
			break;
		memset(&info[n], 0, sizeof(info[n]));
		info[n].domain = (domid_t)best->domid;
		info[n].flags = best->flags;
		memcpy(info[n].handle, best->uuid, 16);
		n++;
		cur = best->domid + 1;
	}
	pthread_mutex_unlock(&fw_mu);
	return (int)n;
}

/* libxenstore */
struct xs_handle *__wrap_xs_open(unsigned long flags);
struct xs_handle *__wrap_xs_open(unsigned long flags)
{
	return (struct xs_handle *)fw_next;
}

void __wrap_xs_close(struct xs_handle *xsh);
void __wrap_xs_close(struct xs_handle *xsh)
{
}

bool __wrap_xs_watch(struct xs_handle *h, const char *path, const char *token);
bool __wrap_xs_watch(struct xs_handle *h, const char *path, const char *token)
{
	assert_string_equal(path, "@releaseDomain");
	fh_event((struct fhost *)h);      /* xenstored fires a new watch once */
	return true;
}

bool __wrap_xs_unwatch(struct xs_handle *h, const char *path, const char *token);
bool __wrap_xs_unwatch(struct xs_handle *h, const char *path, const char *token)
{
	return true;
}

int __wrap_xs_fileno(struct xs_handle *h);
int __wrap_xs_fileno(struct xs_handle *h)
{
	return ((struct fhost *)h)->pipe[0];
}

char **__wrap_xs_check_watch(struct xs_handle *h);
char **__wrap_xs_check_watch(struct xs_handle *h)
{
	struct fhost *fh = (struct fhost *)h;
	char c, **v;

	if (fh->watch_fail > 0) {
		fh->watch_fail--;
		errno = EIO;
		return NULL;
	}
	if (read(fh->pipe[0], &c, 1) != 1) {
		errno = EAGAIN;
		return NULL;
	}
	/* one allocation, like libxenstore's */
	v = malloc(2 * sizeof(char *) + 32);
	v[0] = (char *)(v + 2);
	v[1] = v[0] + 16;
	strcpy(v[0], "@releaseDomain");
	strcpy(v[1], "xenha-release");
	return v;
}

void *__wrap_xs_read(struct xs_handle *h, xs_transaction_t t, const char *path, unsigned int *len);
void *__wrap_xs_read(struct xs_handle *h, xs_transaction_t t, const char *path, unsigned int *len)
{
	struct fhost *fh = (struct fhost *)h;
	unsigned int domid;
	char key[64];
	const char *v = NULL;
	struct fdom *d;
	char *out = NULL;

	if (sscanf(path, "/local/domain/%u/%63s", &domid, key) != 2)
		return NULL;
	pthread_mutex_lock(&fw_mu);
	d = fh_find(fh, domid);
	if (d != NULL) {
		if (strcmp(key, "name") == 0)
			v = d->name;
		else if (d->marked && strcmp(key, "xenha/generation") == 0)
			v = d->gen;
		else if (d->marked && strcmp(key, "xenha/memory_mb") == 0)
			v = d->mem;
	}
	if (v != NULL) {
		out = strdup(v);
		*len = (unsigned int)strlen(v);
	}
	pthread_mutex_unlock(&fw_mu);
	if (out == NULL)
		errno = ENOENT;
	return out;
}

/* ---- fixture ---- */

#define MAX_ENDS 16

struct ends {
	int n;
	char name[MAX_ENDS][XH_NAME_MAX];
	uint64_t gen[MAX_ENDS];
	int reason[MAX_ENDS];
	char detail[MAX_ENDS][256];
};

struct fx {
	struct fhost a, b;
	struct hv *ha, *hb;
	struct ends ea, eb;
	struct xh_config cfg;
};

static void on_end(void *arg, const char *name, uint64_t generation, int reason, const char *detail)
{
	struct ends *e = arg;

	assert_true(e->n < MAX_ENDS);
	snprintf(e->name[e->n], sizeof(e->name[0]), "%s", name);
	e->gen[e->n] = generation;
	e->reason[e->n] = reason;
	snprintf(e->detail[e->n], sizeof(e->detail[0]), "%s", detail);
	e->n++;
}

static void fhost_init(struct fhost *fh)
{
	memset(fh, 0, sizeof(*fh));
	if (pipe2(fh->pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		fail_msg("pipe2: %s", strerror(errno));
	fh->next_domid = 1;
	fh->total_pages = 1048576;   /* 4 GiB */
}

static int open_on(struct fx *f, struct fhost *fh, struct hv **h, struct ends *e)
{
	fw_next = fh;
	return hv_xen_ops.open(&f->cfg, on_end, e, h);
}

static bool cfg_no_mac;      /* xlcfg()'s vif without mac= (test_vif_mac_derived) */

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	fhost_init(&f->a);
	fhost_init(&f->b);
	cfg_defaults(&f->cfg, NULL);
	f->cfg.start_timeout_ms = 2000;
	cfg_no_mac = false;
	assert_int_equal(open_on(f, &f->a, &f->ha, &f->ea), 0);
	assert_int_equal(open_on(f, &f->b, &f->hb, &f->eb), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	hv_xen_ops.close(f->ha);
	hv_xen_ops.close(f->hb);
	for (int i = 0; i < 2; i++) {
		close(f->a.pipe[i]);
		close(f->b.pipe[i]);
	}
	free(f);
	return 0;
}

static char *xlcfg(const char *name, char *buf, size_t len)
{
	snprintf(buf, len,
		 "# a PV guest\n"
		 "name = \"%s\"\n"
		 "type = \"pv\"\n"
		 "kernel = \"/boot/vmlinuz\"\n"
		 "ramdisk = \"/boot/initrd.img\"\n"
		 "root = \"/dev/xvda1 ro\"\n"
		 "extra = \"console=hvc0\"\n"
		 "memory = 256\n"
		 "maxmem = 512\n"
		 "vcpus = 2\n"
		 "disk = [ 'phy:/dev/vg0/%s,xvda,w',\n"
		 "         'format=raw, vdev=xvdb, access=ro, target=/srv/iso/tools.img' ]\n"
		 "vif = [ 'bridge=xenbr0%s' ]\n"
		 "on_crash = \"destroy\"\n", name, name, cfg_no_mac ? "" : ",mac=00:16:3e:00:00:01");
	return buf;
}

static int start(struct fx *f, struct hv *h, const char *name, uint64_t gen)
{
	char buf[1024];
	struct hv_start_req req = { .name = name, .xlcfg = xlcfg(name, buf, sizeof(buf)),
				    .memory_mb = 256, .generation = gen, .nodeid = 1 };

	return hv_xen_ops.start(h, &req);
}

static int dispatch(struct hv *h)
{
	return hv_xen_ops.dispatch(h);
}

/* ---- tests ---- */

static void test_registry(void **state)
{
	(void)state;
	assert_ptr_equal(hv_find("xen"), &hv_xen_ops);
	assert_string_equal(hv_xen_ops.name, "xen");
}

/* what qb_log delivered to the test's custom target */
static char log_last[512];
static int log_last_prio = -1;

static void log_capture(int32_t t, struct qb_log_callsite *cs, struct timespec *ts, const char *msg)
{
	snprintf(log_last, sizeof(log_last), "%s", msg);
	log_last_prio = cs->priority;
}

static void __attribute__((format(printf, 5, 6)))
libxl_says(xentoollog_logger *lg, xentoollog_level level, int errnoval, const char *context,
	   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	lg->vmessage(lg, level, errnoval, context, fmt, ap);
	va_end(ap);
}

/* libxl's and libxc's messages reach xenha's log (qb_log) */
static void test_logger(void **state)
{
	int32_t t;

	(void)state;
	assert_non_null(fw_logger);
	qb_log_init("test_hv_xen", LOG_USER, LOG_DEBUG);
	qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE);
	t = qb_log_custom_open(log_capture, NULL, NULL, NULL);
	assert_true(t > 0);
	assert_int_equal(qb_log_ctl(t, QB_LOG_CONF_ENABLED, QB_TRUE), 0);
	assert_int_equal(qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", LOG_DEBUG), 0);
	libxl_says(fw_logger, XTL_ERROR, ENOENT, "libxl", "cannot open %s: rc=%d", "/dev/xen/privcmd", 42);
	assert_string_equal(log_last, "xen libxl: cannot open /dev/xen/privcmd: rc=42: No such file or directory");
	assert_int_equal(log_last_prio, LOG_ERR);
	libxl_says(fw_logger, XTL_WARN, -1, NULL, "guest %s slow", "web1");
	assert_string_equal(log_last, "xen libxl: guest web1 slow");
	assert_int_equal(log_last_prio, LOG_WARNING);
	qb_log_custom_close(t);
	qb_log_fini();
}

static void test_start_ok(void **state)
{
	struct fx *f = *state;
	struct hv_domain_info *info;
	uint32_t n;
	uint64_t mb;
	struct fdom *d;

	assert_int_equal(start(f, f->ha, "web1", 7), 0);
	d = fh_get(&f->a, "web1");
	assert_true(d->flags & XEN_DOMINF_running);
	assert_true(d->marked);
	assert_string_equal(d->gen, "7");
	assert_string_equal(d->mem, "256");
	assert_true(strncmp(d->inc, "1-7-", 4) == 0);
	assert_int_equal(d->ndisks, 2);
	assert_int_equal(d->nnics, 1);
	assert_string_equal(d->bridge, "xenbr0");
	assert_int_equal(d->mac[5], 1);
	assert_string_equal(d->cmdline, "root=/dev/xvda1 ro console=hvc0");

	assert_int_equal(hv_xen_ops.list(f->ha, &info, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(info[0].name, "web1");
	assert_int_equal(info[0].generation, 7);
	assert_true(info[0].running);
	assert_int_equal(info[0].domid, d->domid);
	assert_int_equal(info[0].memory_mb, 256);
	free(info);

	assert_int_equal(start(f, f->ha, "web1", 8), -EEXIST);
	assert_int_equal(f->a.creates, 1);
	assert_int_equal(hv_xen_ops.host_memory(f->ha, &mb), 0);
	assert_int_equal(mb, 4096);
	assert_int_equal(dispatch(f->ha), 0);
	assert_int_equal(f->ea.n, 0);    /* nothing ended */
}

static void test_create_fails(void **state)
{
	struct fx *f = *state;
	struct hv_domain_info *info;
	uint32_t n;

	f->a.create_fail = true;
	f->a.create_leaves_domain = true;    /* libxl left a half-built domain */
	assert_int_equal(start(f, f->ha, "web1", 7), -EIO);
	assert_int_equal(f->a.creates, 1);
	assert_int_equal(fh_count(&f->a), 0);  /* the remains were destroyed */
	assert_int_equal(hv_xen_ops.list(f->ha, &info, &n), 0);
	assert_int_equal(n, 0);
	free(info);
	assert_int_equal(dispatch(f->ha), 0);
	assert_int_equal(f->ea.n, 0);          /* never recorded, never reported */

	/* libxl cleaned up by itself and the domid it reports already
	 * belongs to another domain: that one is not touched */
	f->a.create_leaves_domain = false;
	fh_add(&f->a, 3, "other", 0x44);
	f->a.create_fail_domid = 3;
	assert_int_equal(start(f, f->ha, "web1", 7), -EIO);
	assert_non_null(fh_find_name(&f->a, "other"));
	assert_int_equal(f->a.destroys, 1);     /* only the half-built one above */
	fh_remove(&f->a, fh_get(&f->a, "other"));

	/* unpause fails: also destroyed and not recorded */
	f->a.create_fail = false;
	f->a.unpause_fail = true;
	assert_int_equal(start(f, f->ha, "web1", 7), -EIO);
	assert_int_equal(fh_count(&f->a), 0);
	f->a.unpause_fail = false;
	assert_int_equal(start(f, f->ha, "web1", 7), 0);
}

static void expect_cfg_error(const char *text, const char *needle)
{
	char err[512];

	assert_int_equal(hv_xen_cfg_check("web1", text, 256, err, sizeof(err)), -EINVAL);
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, needle);
}

static void test_bad_cfg(void **state)
{
	struct fx *f = *state;
	struct hv_start_req req = { .name = "web1", .memory_mb = 256, .generation = 1 };
	char buf[1024], err[512];

	assert_int_equal(hv_xen_cfg_check("web1", xlcfg("web1", buf, sizeof(buf)), 256, err, sizeof(err)), 0);
	assert_string_equal(err, "");

	expect_cfg_error("kernel = \"/k\"\nmemory = 256\ncpus = \"0-3\"\n",
			 "xl.cfg:3: unknown or unsupported key 'cpus'");
	expect_cfg_error("kernel = \"/k\"\nmemory = = 256\n", "xl.cfg:2:");
	expect_cfg_error("kernel = \"/k\"\nmemory = \"lots\"\n", "xl.cfg:2:");
	expect_cfg_error("kernel = \"/k\"\nmemory = 512\n", "xl.cfg:2: memory=512 but the domain's definition says 256");
	expect_cfg_error("name = \"web2\"\nkernel = \"/k\"\n", "xl.cfg:1: name=\"web2\" but the domain is web1");
	expect_cfg_error("kernel = \"/k\"\ntype = \"hvm2\"\n", "xl.cfg:2: type=\"hvm2\"");
	expect_cfg_error("memory = 256\n", "need kernel=");
	expect_cfg_error("kernel = \"/k\"\n\non_crash = \"restart\"\n", "xl.cfg:3: on_crash=\"restart\" not supported");
	expect_cfg_error("kernel = \"/k\"\nvcpus = 0\n", "xl.cfg:2: vcpus=0 out of range");
	expect_cfg_error("kernel = \"/k\"\nmaxmem = 128\n", "xl.cfg:2: maxmem=128 below memory=256");
	expect_cfg_error("kernel = \"/k\"\nvif = [ 'bridge=xenbr0,mac=01:00:5e:00:00:01' ]\n",
			 "xl.cfg:2: vif 0: bad mac");
	expect_cfg_error("kernel = \"/k\"\nvif = [ 'bridge=xenbr0,model=e1000' ]\n",
			 "xl.cfg:2: vif 0: unsupported key 'model'");
	expect_cfg_error("kernel = \"/k\"\ndisk = [ 'phy:/dev/x,xvda,w',\n'phy:/dev/y,xvdb,w,bogus=1' ]\n",
			 "xl.cfg:2: disk 1: config parsing error in disk specification: unknown parameter");
	expect_cfg_error("kernel = \"/k\"\ncmdline = \"a\"\nextra = \"b\"\n", "cmdline and root/extra both set");
	expect_cfg_error("", "empty");
	/* a key inside a list or a string is not a key */
	assert_int_equal(hv_xen_cfg_check("web1", "kernel = \"/k cpus=1\"\n# cpus = 2\n"
					  "disk = [ 'phy:/dev/x,xvda,w',\n'phy:/dev/y,xvdb,w' ]; vcpus = 1\n",
					  256, err, sizeof(err)), 0);

	/* start refuses it before libxl sees anything; nothing recorded */
	req.xlcfg = "kernel = \"/k\"\nmemory = 256\nbogus = 1\n";
	assert_int_equal(hv_xen_ops.start(f->ha, &req), -EINVAL);
	req.xlcfg = NULL;
	assert_int_equal(hv_xen_ops.start(f->ha, &req), -EINVAL);
	assert_int_equal(f->a.creates, 0);
	assert_int_equal(fh_count(&f->a), 0);
}

static void test_vanish_reported_once(void **state)
{
	struct fx *f = *state;
	struct fdom *d;

	assert_int_equal(start(f, f->ha, "web1", 7), 0);
	d = fh_get(&f->a, "web1");
	fh_remove(&f->a, d);            /* `xl destroy` behind our back */
	fh_event(&f->a);
	assert_int_equal(dispatch(f->ha), 0);
	assert_int_equal(f->ea.n, 1);
	assert_string_equal(f->ea.name[0], "web1");
	assert_int_equal(f->ea.gen[0], 7);
	assert_int_equal(f->ea.reason[0], HV_END_CRASH);
	assert_non_null(strstr(f->ea.detail[0], "vanished"));
	fh_event(&f->a);
	assert_int_equal(dispatch(f->ha), 0);
	assert_int_equal(f->ea.n, 1);   /* once */
}

static void test_crash_vs_poweroff(void **state)
{
	struct fx *f = *state;
	int crash = -1, off = -1, stop = -1;

	assert_int_equal(start(f, f->ha, "web1", 1), 0);
	assert_int_equal(start(f, f->ha, "web2", 2), 0);
	assert_int_equal(start(f, f->ha, "web3", 3), 0);
	fh_get(&f->a, "web1")->flags = XEN_DOMINF_shutdown | (SHUTDOWN_crash << XEN_DOMINF_shutdownshift);
	fh_get(&f->a, "web2")->flags = XEN_DOMINF_shutdown | (SHUTDOWN_poweroff << XEN_DOMINF_shutdownshift);
	assert_int_equal(hv_xen_ops.destroy(f->ha, "web3"), 0);
	assert_int_equal(hv_xen_ops.destroy(f->ha, "web3"), -ENOENT);
	fh_event(&f->a);
	assert_int_equal(dispatch(f->ha), 0);
	assert_int_equal(f->ea.n, 3);
	for (int i = 0; i < 3; i++) {
		if (strcmp(f->ea.name[i], "web1") == 0)
			crash = i;
		else if (strcmp(f->ea.name[i], "web2") == 0)
			off = i;
		else if (strcmp(f->ea.name[i], "web3") == 0)
			stop = i;
	}
	assert_true(crash >= 0 && off >= 0 && stop >= 0);
	assert_int_equal(f->ea.reason[crash], HV_END_CRASH);
	assert_non_null(strstr(f->ea.detail[crash], "reason=crash"));
	assert_int_equal(f->ea.reason[off], HV_END_SHUTDOWN);
	assert_non_null(strstr(f->ea.detail[off], "reason=poweroff"));
	assert_int_equal(f->ea.reason[stop], HV_END_STOPPED);
	assert_int_equal(fh_count(&f->a), 0);   /* the shut-down remains were destroyed */
	assert_int_equal(dispatch(f->ha), 0);
	assert_int_equal(f->ea.n, 3);
}

static void test_suspend_is_not_an_end(void **state)
{
	struct fx *f = *state;

	assert_int_equal(start(f, f->ha, "web1", 1), 0);
	fh_get(&f->a, "web1")->flags = XEN_DOMINF_shutdown | (SHUTDOWN_suspend << XEN_DOMINF_shutdownshift);
	fh_event(&f->a);
	assert_int_equal(dispatch(f->ha), 0);
	assert_int_equal(f->ea.n, 0);
	assert_int_equal(fh_count(&f->a), 1);
}

static void test_domid_reuse(void **state)
{
	struct fx *f = *state;
	struct hv_domain_info *info;
	struct fdom *d;
	uint32_t domid, n;

	assert_int_equal(start(f, f->ha, "web1", 7), 0);
	d = fh_get(&f->a, "web1");
	domid = d->domid;
	/* web1 dies and, before we look, Xen gives its domid to another
	 * (unmanaged) domain: the same domid, another handle */
	fh_remove(&f->a, d);
	fh_add(&f->a, domid, "other", 0x5a);
	fh_event(&f->a);
	assert_int_equal(dispatch(f->ha), 0);
	assert_int_equal(f->ea.n, 1);
	assert_string_equal(f->ea.name[0], "web1");
	assert_int_equal(f->ea.reason[0], HV_END_CRASH);
	assert_non_null(fh_find_name(&f->a, "other"));   /* not ours: untouched */
	assert_int_equal(f->a.destroys, 0);
	assert_int_equal(hv_xen_ops.list(f->ha, &info, &n), 0);
	assert_int_equal(n, 0);
	free(info);
	fh_event(&f->a);
	assert_int_equal(dispatch(f->ha), 0);
	assert_int_equal(f->ea.n, 1);
	/* and web1 can start again */
	assert_int_equal(start(f, f->ha, "web1", 8), 0);
}

static void test_watch_error_rescans(void **state)
{
	struct fx *f = *state;

	assert_int_equal(start(f, f->ha, "web1", 7), 0);
	fh_remove(&f->a, fh_get(&f->a, "web1"));
	f->a.watch_fail = 1;             /* the event itself is lost */
	assert_int_equal(dispatch(f->ha), 0);
	assert_int_equal(f->ea.n, 1);
	assert_int_equal(f->ea.reason[0], HV_END_CRASH);
	assert_int_equal(dispatch(f->ha), 0);
	assert_int_equal(f->ea.n, 1);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void test_shutdown(void **state)
{
	struct fx *f = *state;
	uint64_t t0;

	/* the guest ignores the request: destroyed after the timeout */
	assert_int_equal(start(f, f->ha, "web1", 1), 0);
	t0 = now_ms();
	assert_int_equal(hv_xen_ops.shutdown(f->ha, "web1", 300), 0);
	assert_true(now_ms() - t0 >= 300);
	assert_int_equal(f->a.shutdowns, 1);
	assert_int_equal(f->a.destroys, 1);
	assert_int_equal(fh_count(&f->a), 0);

	/* the guest powers off: its remains are destroyed, no timeout */
	f->a.honour_shutdown = true;
	assert_int_equal(start(f, f->ha, "web2", 2), 0);
	t0 = now_ms();
	assert_int_equal(hv_xen_ops.shutdown(f->ha, "web2", 5000), 0);
	assert_true(now_ms() - t0 < 2000);
	assert_int_equal(fh_count(&f->a), 0);
	assert_int_equal(hv_xen_ops.shutdown(f->ha, "web2", 100), -ENOENT);

	assert_int_equal(dispatch(f->ha), 0);
	assert_int_equal(f->ea.n, 2);
	assert_int_equal(f->ea.reason[0], HV_END_STOPPED);
	assert_int_equal(f->ea.reason[1], HV_END_STOPPED);
}

/* ---- start and shutdown run in worker threads (xenhad's hvjob.c) ---- */

struct op_thread {
	struct fx *f;
	const char *name;
	uint32_t timeout_ms;     /* shutdown; 0: start */
	int rc;
	pthread_t th;
};

static void *op_run(void *arg)
{
	struct op_thread *o = arg;

	o->rc = o->timeout_ms ? hv_xen_ops.shutdown(o->f->ha, o->name, o->timeout_ms)
			      : start(o->f, o->f->ha, o->name, 5);
	return NULL;
}

struct list_thread {
	struct hv *h;
	int rc;
	uint32_t n;
	bool running;
	pthread_t th;
};

static void *list_run(void *arg)
{
	struct list_thread *l = arg;
	struct hv_domain_info *info = NULL;

	l->rc = hv_xen_ops.list(l->h, &info, &l->n);
	l->running = l->n > 0 && info[0].running;
	free(info);
	return NULL;
}

/* list() in the main loop answers while another thread's start or shutdown
 * waits: it must not wait for them (a stuck list() fails here, not hangs) */
static void list_answers(struct hv *h, uint32_t want_n)
{
	struct list_thread l = { .h = h, .rc = 1 };
	struct timespec ts;

	assert_int_equal(pthread_create(&l.th, NULL, list_run, &l), 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	if (pthread_timedjoin_np(l.th, NULL, &ts) != 0) {
		fail_msg("list() did not answer in 10 s while a start or shutdown waited");
		abort();   /* the thread is stuck on the driver's lock */
	}
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.n, want_n);
}

static void wait_flag(bool *flag)
{
	struct timespec ts;

	pthread_mutex_lock(&fw_mu);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	while (!*flag)
		if (pthread_cond_timedwait(&fw_cond, &fw_mu, &ts) != 0)
			break;
	pthread_mutex_unlock(&fw_mu);
	assert_true(*flag);
}

static void test_start_does_not_block(void **state)
{
	struct fx *f = *state;
	struct op_thread o = { .f = f, .name = "web1" };
	struct hv_domain_info *info;
	uint32_t n;

	f->a.unpause_gate = true;
	fw_gate_open = false;
	assert_int_equal(pthread_create(&o.th, NULL, op_run, &o), 0);
	wait_flag(&f->a.in_unpause);          /* created, paused, being started */
	list_answers(f->ha, 0);               /* not listed until it runs */
	assert_int_equal(dispatch(f->ha), 0);
	assert_int_equal(f->ea.n, 0);         /* not judged by the scan either */
	assert_int_equal(start(f, f->ha, "web1", 6), -EEXIST);   /* the name is taken */
	assert_int_equal(hv_xen_ops.destroy(f->ha, "web1"), -ENOENT);
	assert_int_equal(hv_xen_ops.shutdown(f->ha, "web1", 100), -ENOENT);
	assert_int_equal(f->a.creates, 1);

	pthread_mutex_lock(&fw_mu);
	fw_gate_open = true;
	pthread_cond_broadcast(&fw_cond);
	pthread_mutex_unlock(&fw_mu);
	pthread_join(o.th, NULL);
	assert_int_equal(o.rc, 0);
	assert_int_equal(hv_xen_ops.list(f->ha, &info, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(info[0].generation, 5);
	assert_true(info[0].running);
	free(info);
}

static void test_shutdown_does_not_block(void **state)
{
	struct fx *f = *state;
	struct op_thread o = { .f = f, .name = "web1", .timeout_ms = 60000 };
	struct fdom *d;
	bool asked = false;

	assert_int_equal(start(f, f->ha, "web1", 5), 0);
	assert_int_equal(pthread_create(&o.th, NULL, op_run, &o), 0);
	for (int i = 0; i < 1000 && !asked; i++) {   /* bounded: 10 s */
		pthread_mutex_lock(&fw_mu);
		asked = f->a.shutdowns == 1;
		pthread_mutex_unlock(&fw_mu);
		if (!asked)
			usleep(10000);
	}
	assert_true(asked);
	list_answers(f->ha, 1);               /* still there while it shuts down */

	/* the guest powers off now */
	pthread_mutex_lock(&fw_mu);
	d = fh_get(&f->a, "web1");
	d->flags = XEN_DOMINF_shutdown | (SHUTDOWN_poweroff << XEN_DOMINF_shutdownshift);
	fh_event(&f->a);
	pthread_mutex_unlock(&fw_mu);
	pthread_join(o.th, NULL);
	assert_int_equal(o.rc, 0);
	assert_int_equal(fh_count(&f->a), 0);
	assert_int_equal(dispatch(f->ha), 0);
	assert_int_equal(f->ea.n, 1);
	assert_int_equal(f->ea.reason[0], HV_END_STOPPED);
}

static void test_list_after_restart(void **state)
{
	struct fx *f = *state;
	struct hv_domain_info *info;
	uint32_t n;

	assert_int_equal(start(f, f->ha, "web1", 7), 0);
	assert_int_equal(start(f, f->ha, "web2", 9), 0);
	fh_add(&f->a, 40, "unmanaged", 0x33);           /* no marker: not ours */
	hv_xen_ops.close(f->ha);                         /* daemon restart */
	f->ha = NULL;
	assert_int_equal(open_on(f, &f->a, &f->ha, &f->ea), 0);
	assert_int_equal(hv_xen_ops.list(f->ha, &info, &n), 0);
	assert_int_equal(n, 2);
	for (uint32_t i = 0; i < n; i++) {
		assert_true(info[i].running);
		if (strcmp(info[i].name, "web1") == 0)
			assert_int_equal(info[i].generation, 7);
		else if (strcmp(info[i].name, "web2") == 0)
			assert_int_equal(info[i].generation, 9);
		else
			fail_msg("unexpected domain %s", info[i].name);
	}
	free(info);
	/* the adopted domains are watched */
	fh_remove(&f->a, fh_get(&f->a, "web2"));
	fh_event(&f->a);
	assert_int_equal(dispatch(f->ha), 0);
	assert_int_equal(f->ea.n, 1);
	assert_string_equal(f->ea.name[0], "web2");
	assert_int_equal(f->ea.gen[0], 9);
	assert_int_equal(start(f, f->ha, "web1", 8), -EEXIST);
	assert_int_equal(hv_xen_ops.destroy(f->ha, "unmanaged"), -ENOENT);
}

/* ---- migration ---- */

struct recv_arg {
	struct hv *h;
	int fd;
	int rc;
	int finals;
	char xl[1024];
};

static void on_progress(void *arg, const struct hv_migrate_progress *p)
{
	int *finals = arg;

	if (p->final)
		(*finals)++;
}

static uint32_t src_downtime_ms;    /* the source's final progress report's */
static uint32_t dst_downtime_ms;    /* the target's */

static void on_progress_dst(void *arg, const struct hv_migrate_progress *p)
{
	if (p->final)
		dst_downtime_ms = p->downtime_ms;
	on_progress(arg, p);
}

static void on_progress_src(void *arg, const struct hv_migrate_progress *p)
{
	if (p->final)
		src_downtime_ms = p->downtime_ms;
	on_progress(arg, p);
}

static void *recv_thread(void *p)
{
	struct recv_arg *r = p;
	struct hv_start_req req = { .name = "web1", .xlcfg = xlcfg("web1", r->xl, sizeof(r->xl)),
				    .memory_mb = 256, .generation = 8, .nodeid = 2 };

	r->rc = hv_xen_ops.migrate_recv(r->h, &req, r->fd, on_progress_dst, &r->finals);
	close(r->fd);
	return NULL;
}

/* Migrate web1 from a to b; returns the source's outcome. */
static int migrate_opts(struct fx *f, struct recv_arg *r, bool target_silent,
			const struct hv_migrate_opts *o)
{
	int sv[2], outcome = -1, finals = 0;
	pthread_t t;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	memset(r, 0, sizeof(*r));
	r->h = f->hb;
	r->fd = sv[1];
	if (target_silent)
		close(sv[1]);        /* the target never answers */
	else
		assert_int_equal(pthread_create(&t, NULL, recv_thread, r), 0);
	assert_int_equal(hv_xen_ops.migrate_send(f->ha, "web1", sv[0], o, on_progress_src, &finals,
						 &outcome), 0);
	close(sv[0]);
	if (!target_silent)
		pthread_join(t, NULL);
	assert_int_equal(finals, 1);
	return outcome;
}

static int migrate(struct fx *f, struct recv_arg *r, bool target_silent)
{
	return migrate_opts(f, r, target_silent, NULL);
}

static bool runs(struct fhost *fh, const char *name)
{
	struct fdom *d = fh_find_name(fh, name);

	return d != NULL && (d->flags & XEN_DOMINF_running) &&
	       !(d->flags & (XEN_DOMINF_paused | XEN_DOMINF_shutdown | XEN_DOMINF_dying));
}

static void test_migrate_done(void **state)
{
	struct fx *f = *state;
	struct recv_arg r;
	struct fdom *d;

	assert_int_equal(start(f, f->ha, "web1", 7), 0);
	assert_int_equal(migrate(f, &r, false), HV_MIG_DONE);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.finals, 1);
	assert_null(fh_find_name(&f->a, "web1"));
	assert_true(runs(&f->b, "web1"));
	d = fh_get(&f->b, "web1");
	assert_string_equal(d->gen, "8");
	assert_int_equal(dispatch(f->ha), 0);
	assert_int_equal(f->ea.n, 1);
	assert_int_equal(f->ea.reason[0], HV_END_STOPPED);
	assert_non_null(strstr(f->ea.detail[0], "migrated away"));
	assert_int_equal(dispatch(f->hb), 0);
	assert_int_equal(f->eb.n, 0);
	assert_int_equal(start(f, f->hb, "web1", 9), -EEXIST);
}

/* A vif without mac= gets a MAC derived from the domain's name and the vif's
 * index: the same on the migration's target (libxl would draw a new one
 * there), and another for another domain. */
static void test_vif_mac_derived(void **state)
{
	struct fx *f = *state;
	static const uint8_t zero3[3];
	struct recv_arg r;
	uint8_t mac[6];
	struct fdom *d;

	cfg_no_mac = true;
	assert_int_equal(start(f, f->ha, "web1", 7), 0);
	d = fh_get(&f->a, "web1");
	memcpy(mac, d->mac, 6);
	assert_int_equal(mac[0], 0x00);
	assert_int_equal(mac[1], 0x16);
	assert_int_equal(mac[2], 0x3e);
	assert_int_equal(mac[3] & 0x80, 0);
	assert_memory_not_equal(mac + 3, zero3, 3);
	assert_int_equal(migrate(f, &r, false), HV_MIG_DONE);
	assert_true(runs(&f->b, "web1"));
	assert_memory_equal(fh_get(&f->b, "web1")->mac, mac, 6);
	assert_int_equal(start(f, f->ha, "web2", 1), 0);
	assert_memory_not_equal(fh_get(&f->a, "web2")->mac, mac, 6);
}

struct scanner {
	struct hv *h;
	atomic_bool stop;
	int errors;                /* failed dispatches (no cmocka asserts off the main thread) */
};

/* xenhad's main loop, meanwhile: a dispatch every 10 ms, bounded */
static void *scan_thread(void *p)
{
	struct scanner *sc = p;

	for (int i = 0; i < 1000 && !atomic_load(&sc->stop); i++) {
		if (dispatch(sc->h) != 0)
			sc->errors++;
		usleep(10000);
	}
	return NULL;
}

/* The downtime starts when the guest is suspended (seen by the scan), not
 * when libxl_domain_suspend returns after the last pages went out, and ends
 * at RUNNING, not after the source copy's destroy. */
static void test_migrate_downtime_from_suspend(void **state)
{
	struct fx *f = *state;
	struct scanner sc = { .h = f->ha };
	struct recv_arg r;
	pthread_t t;

	assert_int_equal(start(f, f->ha, "web1", 7), 0);
	f->a.suspend_slow_ms = 400;
	f->a.destroy_slow_ms = 1500;     /* after RUNNING: not downtime */
	assert_int_equal(pthread_create(&t, NULL, scan_thread, &sc), 0);
	assert_int_equal(migrate(f, &r, false), HV_MIG_DONE);
	atomic_store(&sc.stop, true);
	pthread_join(t, NULL);
	assert_int_equal(sc.errors, 0);
	assert_int_equal(dispatch(f->ha), 0);
	assert_true(runs(&f->b, "web1"));
	assert_true(src_downtime_ms >= 350);
	assert_true(src_downtime_ms < 1400);
	/* the target reports what the source told it in COMMIT plus its unpause */
	assert_true(dst_downtime_ms >= 350);
	assert_true(dst_downtime_ms < 1400);
	assert_int_equal(f->ea.n, 1);    /* its end: migrated away, once */
	assert_non_null(strstr(f->ea.detail[0], "migrated away"));
}

static void test_migrate_abort_target_restore_fails(void **state)
{
	struct fx *f = *state;
	struct recv_arg r;

	assert_int_equal(start(f, f->ha, "web1", 7), 0);
	f->b.restore_fail = true;
	assert_int_equal(migrate(f, &r, false), HV_MIG_ABORTED);
	assert_true(r.rc < 0);
	assert_int_equal(f->a.suspends, 1);
	assert_int_equal(f->a.resumes, 1);      /* resumed with suspend_cancel */
	assert_true(runs(&f->a, "web1"));
	assert_null(fh_find_name(&f->b, "web1"));  /* exactly one copy */
	assert_int_equal(dispatch(f->ha), 0);
	assert_int_equal(f->ea.n, 0);
	/* b may receive it later */
	assert_int_equal(start(f, f->hb, "web1", 9), 0);
}

static void test_migrate_abort_stream_fails(void **state)
{
	struct fx *f = *state;
	struct recv_arg r;

	assert_int_equal(start(f, f->ha, "web1", 7), 0);
	f->a.suspend_fail = true;
	assert_int_equal(migrate(f, &r, false), HV_MIG_ABORTED);
	assert_true(r.rc < 0);
	assert_int_equal(f->a.resumes, 1);
	assert_true(runs(&f->a, "web1"));
	assert_int_equal(fh_count(&f->b), 0);
	assert_int_equal(f->b.destroys, 0);     /* never restored: nothing to destroy */
}

/* The target restored a paused copy, but the source gave up waiting for
 * VERIFIED: no COMMIT, so the target destroys its copy and the source
 * resumes its own. */
static void test_migrate_abort_after_restore(void **state)
{
	struct fx *f = *state;
	struct hv_migrate_opts o = { .timeout_ms = 1500 };
	struct recv_arg r;

	assert_int_equal(start(f, f->ha, "web1", 7), 0);
	f->b.restore_slow_ms = 3000;
	assert_int_equal(migrate_opts(f, &r, false, &o), HV_MIG_ABORTED);
	assert_true(r.rc < 0);
	assert_int_equal(f->b.destroys, 1);        /* the paused copy */
	assert_null(fh_find_name(&f->b, "web1"));
	assert_int_equal(f->a.resumes, 1);
	assert_true(runs(&f->a, "web1"));
	assert_int_equal(dispatch(f->hb), 0);
	assert_int_equal(f->eb.n, 0);              /* never ran there: no end */
}

static void test_migrate_target_silent(void **state)
{
	struct fx *f = *state;
	struct recv_arg r;

	assert_int_equal(start(f, f->ha, "web1", 7), 0);
	assert_int_equal(migrate(f, &r, true), HV_MIG_ABORTED);
	assert_int_equal(f->a.suspends, 0);     /* never suspended */
	assert_true(runs(&f->a, "web1"));
}

static void test_migrate_in_doubt(void **state)
{
	struct fx *f = *state;
	struct hv_domain_info *info;
	struct recv_arg r;
	uint32_t n;
	int outcome;

	assert_int_equal(start(f, f->ha, "web1", 7), 0);
	f->b.unpause_fail = true;                /* COMMIT arrives, RUNNING never leaves */
	assert_int_equal(migrate(f, &r, false), HV_MIG_IN_DOUBT);
	assert_int_equal(r.rc, -EIO);
	assert_null(fh_find_name(&f->b, "web1"));
	assert_non_null(fh_find_name(&f->a, "web1"));
	assert_false(runs(&f->a, "web1"));       /* stays suspended */
	assert_int_equal(f->a.resumes, 0);
	fh_event(&f->a);
	assert_int_equal(dispatch(f->ha), 0);
	assert_int_equal(f->ea.n, 0);            /* suspended is not ended */
	assert_int_equal(hv_xen_ops.list(f->ha, &info, &n), 0);
	assert_int_equal(n, 1);
	assert_false(info[0].running);
	free(info);
	/* a second migration of an in-doubt domain is refused */
	assert_int_equal(hv_xen_ops.migrate_send(f->ha, "web1", -1, NULL, NULL, NULL, &outcome), -EBUSY);
	/* the caller learns the target does not run it: resume */
	assert_int_equal(hv_xen_ops.resume(f->ha, "web1"), 0);
	assert_true(runs(&f->a, "web1"));
	assert_int_equal(hv_xen_ops.resume(f->ha, "web1"), -EINVAL);
	assert_int_equal(hv_xen_ops.resume(f->ha, "nope"), -ENOENT);
}

static void test_migrate_in_doubt_destroy(void **state)
{
	struct fx *f = *state;
	struct recv_arg r;

	assert_int_equal(start(f, f->ha, "web1", 7), 0);
	f->b.unpause_fail = true;
	assert_int_equal(migrate(f, &r, false), HV_MIG_IN_DOUBT);
	/* the caller learns the target runs it: destroy ours */
	assert_int_equal(hv_xen_ops.destroy(f->ha, "web1"), 0);
	assert_null(fh_find_name(&f->a, "web1"));
	assert_int_equal(dispatch(f->ha), 0);
	assert_int_equal(f->ea.n, 1);
	assert_int_equal(f->ea.reason[0], HV_END_STOPPED);
}

/* COMMIT arrived and the target runs the domain, but RUNNING comes too
 * late for the source: in doubt, the source copy stays suspended (never
 * two running copies), and the caller destroys it once it learns the
 * target runs it. */
static void test_migrate_in_doubt_target_runs(void **state)
{
	struct fx *f = *state;
	struct hv_migrate_opts o = { .timeout_ms = 1500 };
	struct recv_arg r;

	assert_int_equal(start(f, f->ha, "web1", 7), 0);
	f->b.unpause_slow_ms = 3000;
	assert_int_equal(migrate_opts(f, &r, false, &o), HV_MIG_IN_DOUBT);
	assert_int_equal(r.rc, 0);                /* the target runs it */
	assert_true(runs(&f->b, "web1"));
	assert_non_null(fh_find_name(&f->a, "web1"));
	assert_false(runs(&f->a, "web1"));
	assert_int_equal(f->a.resumes, 0);
	assert_int_equal(hv_xen_ops.destroy(f->ha, "web1"), 0);
	assert_null(fh_find_name(&f->a, "web1"));
	assert_true(runs(&f->b, "web1"));
}

/* A HELLO that is not whole and checked is refused: the source never
 * suspends.  Frames: "XHXM" 2 type len16 payload crc32 (docs/xen.md). */
static void test_migrate_bad_hello(void **state)
{
	/* a right HELLO for web1 but for its checksum */
	static const uint8_t bad_crc[] = { 'X', 'H', 'X', 'M', 2, 1, 0, 15,
					   'n', 'a', 'm', 'e', '=', 'w', 'e', 'b', '1', ' ',
					   'g', 'e', 'n', '=', '8', 0xde, 0xad, 0xbe, 0xef };
	static const uint8_t bad_magic[] = { 'X', 'H', 'X', 'N', 2, 1, 0, 0, 0, 0, 0, 0 };
	static const uint8_t too_long[] = { 'X', 'H', 'X', 'M', 2, 1, 0xff, 0xff };
	static const uint8_t truncated[] = { 'X', 'H', 'X', 'M', 2, 1, 0, 9, 'n', 'a' };
	/* a whole, checked HELLO of frame version 1 (a peer before COMMIT
	 * carried suspended_ms): refused before anything is suspended */
	uint8_t old_version[sizeof(bad_crc)];
	const struct { const uint8_t *b; size_t n; } cases[] = {
		{ bad_crc, sizeof(bad_crc) }, { bad_magic, sizeof(bad_magic) },
		{ too_long, sizeof(too_long) }, { truncated, sizeof(truncated) },
		{ old_version, sizeof(old_version) },
	};
	struct fx *f = *state;
	uint32_t crc;

	memcpy(old_version, bad_crc, sizeof(old_version));
	old_version[4] = 1;
	crc = (uint32_t)crc32(0L, old_version, (uInt)(sizeof(old_version) - 4));
	for (int k = 0; k < 4; k++)
		old_version[sizeof(old_version) - 4 + k] = (uint8_t)(crc >> (24 - 8 * k));

	assert_int_equal(start(f, f->ha, "web1", 7), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int sv[2], outcome = -1;

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		assert_int_equal(write_all(sv[1], cases[i].b, cases[i].n), 0);
		close(sv[1]);
		assert_int_equal(hv_xen_ops.migrate_send(f->ha, "web1", sv[0], NULL, NULL, NULL,
							 &outcome), 0);
		close(sv[0]);
		assert_int_equal(outcome, HV_MIG_ABORTED);
		assert_int_equal(f->a.suspends, 0);
		assert_true(runs(&f->a, "web1"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_registry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_logger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_cfg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vanish_reported_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_vs_poweroff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_suspend_is_not_an_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_domid_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_error_rescans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_does_not_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_does_not_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_after_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_done, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vif_mac_derived, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_downtime_from_suspend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_abort_target_restore_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_abort_stream_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_abort_after_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_target_silent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_bad_hello, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_in_doubt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_in_doubt_destroy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_in_doubt_target_runs, setup, teardown),
	};

	return cmocka_run_group_tests_name("hv_xen", tests, NULL, NULL);
}
