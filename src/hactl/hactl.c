/*
 * hactl: the operator's command line for xenha.  It builds one request
 * (ipcproto.h), sends it to the local xenhad over libqb IPC, and prints
 * the answer, either as tables (render.c) or, with --json, as the
 * daemon's data object.  It decides nothing: every check that matters is
 * made by xenhad and the replicated state machine; hactl only turns the
 * outcome into a message and an exit status a script can test.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <qb/qbipc_common.h>
#include <qb/qbipcc.h>

#include "xenha/ipcproto.h"
#include "xenha/state.h"
#include "hactl.h"

#define DEFAULT_TIMEOUT_S 15
#define MAX_TIMEOUT_S 86400

static const char usage_text[] =
"Usage: hactl [--json] [--timeout SEC] COMMAND ...\n"
"\n"
"Commands:\n"
"  status                      cluster, hosts and a domain summary\n"
"  nodes                       host table\n"
"  domains [NAME]              HA domain table (or one domain)\n"
"  history [-n N]              newest N events (default: all kept)\n"
"  domain add NAME [OPTIONS]   define an HA domain (started unless --stopped)\n"
"  domain set NAME OPTIONS     change the given fields of a definition\n"
"  domain remove NAME          forget a domain that runs nowhere\n"
"  domain start NAME           set the domain's target to started\n"
"  domain stop NAME            set the domain's target to stopped\n"
"  fence confirm HOST [--yes]  declare HOST powered off (guarded)\n"
"  fence HOST                  poison pill to HOST via xenha-fenced, then wait\n"
"                              (progress shown) until it is confirmed fenced\n"
"  fence status                this host's fencing view (lease, watchdog, disk, peers)\n"
"  check [-c FILE]             the timeout-chain check (runs xenha-fenced -n)\n"
"  migrate DOMAIN [HOST] [--no-wait]\n"
"                              live-migrate DOMAIN (to the best host if HOST is\n"
"                              omitted); shows progress and the downtime\n"
"  node standby HOST [--no-wait]\n"
"                              place no new domains on HOST and migrate its\n"
"                              running domains away (progress shown)\n"
"  node maintenance HOST       HA leaves HOST's domains alone\n"
"  node online HOST            clear standby and maintenance\n"
"  disarm --for DURATION       pause HA actions cluster-wide (90s, 30m, 2h, 1d;\n"
"                              at most 7d); they re-arm by themselves\n"
"  arm                         end a disarm now\n"
"  disk init DEV [OPTIONS]     write a new heartbeat disk (no daemon needed)\n"
"  disk dump DEV               show a heartbeat disk: header, slots, beats\n"
"  disk message DEV HOST MSG   write clear|test|reset|off to HOST's mailbox\n"
"  keygen [-f FILE] [--force]  write a new cluster key for migrations (no daemon)\n"
"\n"
"Domain options (add, set):\n"
"  --memory MIB  --priority N  --restart always|on-crash|never\n"
"  --max-restarts N  --max-relocations N  --prefer H1,H2  --avoid H1,H2\n"
"  --group G  --config XLCFG_FILE (- for stdin)  --stopped (add only)\n"
"\n"
"Global options (before or after the command):\n"
"  -j, --json          print the daemon's JSON answer\n"
"  -t, --timeout SEC   wait at most SEC seconds (default 15; migrate and\n"
"                      node standby follow the move for up to 660 s\n"
"                      unless --timeout is given)\n"
"  -h, --help          this text\n"
"  -V, --version       version\n"
"\n"
"Exit status: 0 ok, 1 refused by the cluster, 2 usage, 3 cannot connect\n"
"to xenhad, 4 permission denied, 5 no such domain or host, 6 cluster not\n"
"ready (no quorum / not synchronised), 7 timed out.  See hactl(8).\n";

struct opts {
	bool json;
	int timeout_s;
	bool timeout_given;   /* --timeout on the command line */
};

int hactl_vsay(int status, const char *tail, const char *fmt, va_list ap)
{
	fputs("hactl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs(tail, stderr);
	return status;
}

int hactl_say(int status, const char *fmt, ...)
{
	va_list ap;
	int st;

	va_start(ap, fmt);
	st = hactl_vsay(status, "\n", fmt, ap);
	va_end(ap);
	return st;
}

__attribute__((format(printf, 1, 2)))
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	int st;

	va_start(ap, fmt);
	st = hactl_vsay(HACTL_EXIT_USAGE, "\nTry 'hactl --help'.\n", fmt, ap);
	va_end(ap);
	return st;
}

static int show_help(void)
{
	fputs(usage_text, stdout);
	return fflush(stdout) == 0 ? 0 : HACTL_EXIT_REFUSED;
}

int hactl_exit_for_rc(int rc)
{
	switch (rc) {
	case 0:
		return HACTL_EXIT_OK;
	case -ENOENT:
		return HACTL_EXIT_NOENT;
	case -EAGAIN:
		return HACTL_EXIT_NOTREADY;
	case -ETIMEDOUT:
		return HACTL_EXIT_TIMEOUT;
	case -EACCES:
	case -EPERM:
		return HACTL_EXIT_PERM;
	default:
		return HACTL_EXIT_REFUSED;
	}
}

/* ---- number and list parsing ---- */

static bool parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
	char *end;
	long long x;

	if (s == NULL || *s == '\0')
		return false;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || x < lo || x > hi)
		return false;
	*out = x;
	return true;
}

/* "h1,h2" into a host list; "" gives an empty list (clears it with set). */
static int parse_hosts(const char *opt, const char *arg,
		       char list[XH_MAX_PREF][XH_NAME_MAX], uint8_t *n)
{
	const char *p = arg;

	*n = 0;
	while (*p != '\0') {
		size_t len = strcspn(p, ",");

		if (len == 0)
			return usage_error("%s: empty host name in \"%s\"", opt, arg);
		if (len >= XH_NAME_MAX)
			return usage_error("%s: host name too long in \"%s\"", opt, arg);
		if (*n == XH_MAX_PREF)
			return usage_error("%s: at most %d hosts", opt, XH_MAX_PREF);
		memcpy(list[*n], p, len);
		list[*n][len] = '\0';
		(*n)++;
		p += len;
		if (*p == ',' && *++p == '\0')
			return usage_error("%s: empty host name in \"%s\"", opt, arg);
	}
	return 0;
}

static int copy_name(const char *what, const char *s, char out[XH_NAME_MAX])
{
	size_t len = strlen(s);

	if (len == 0)
		return usage_error("%s: empty name", what);
	if (len >= XH_NAME_MAX)
		return usage_error("%s: name longer than %d characters", what,
				   XH_NAME_MAX - 1);
	memcpy(out, s, len + 1);
	return 0;
}

/* Read an xl.cfg file ("-" for stdin), at most XH_XLCFG_MAX bytes. */
static int read_config(const char *path, char **out)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char *buf;
	size_t n;

	if (f == NULL)
		return hactl_say(HACTL_EXIT_USAGE, "cannot read %s: %s", path,
			   strerror(errno));
	buf = malloc(XH_XLCFG_MAX + 2);
	if (buf == NULL) {
		if (f != stdin)
			fclose(f);
		return hactl_say(HACTL_EXIT_REFUSED, "out of memory");
	}
	n = fread(buf, 1, XH_XLCFG_MAX + 1, f);
	if (ferror(f)) {
		int e = errno;

		if (f != stdin)
			fclose(f);
		free(buf);
		return hactl_say(HACTL_EXIT_USAGE, "cannot read %s: %s", path,
			   strerror(e));
	}
	if (f != stdin)
		fclose(f);
	if (n > XH_XLCFG_MAX) {
		free(buf);
		return hactl_say(HACTL_EXIT_USAGE, "%s: larger than %d bytes", path,
			   XH_XLCFG_MAX);
	}
	if (memchr(buf, '\0', n) != NULL) {
		free(buf);
		return hactl_say(HACTL_EXIT_USAGE, "%s: contains NUL bytes (not a text file)",
			   path);
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

/* ---- talking to xenhad ---- */

struct conn {
	qb_ipcc_connection_t *c;
	char *buf;
	int timeout_s;
};

/*
 * qb_ipcc_connect() has no timeout of its own; a daemon that accepts the
 * socket but never answers would hang us.  An alarm bounds the whole run
 * (connect and requests) a little beyond --timeout.
 */
static void on_alarm(int sig)
{
	static const char msg[] = "hactl: timed out waiting for xenhad\n";
	ssize_t w;

	(void)sig;
	w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)w;
	_exit(HACTL_EXIT_TIMEOUT);
}

static int conn_open(struct conn *k, int timeout_s)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);

	k->timeout_s = timeout_s;
	k->buf = malloc(XH_IPC_MAX_MSG);
	if (k->buf == NULL)
		return hactl_say(HACTL_EXIT_REFUSED, "out of memory");
	alarm((unsigned)timeout_s + 5);
	k->c = qb_ipcc_connect(XH_IPC_NAME, XH_IPC_MAX_MSG);
	if (k->c == NULL) {
		int e = errno;

		free(k->buf);
		k->buf = NULL;
		/* xenhad's connection_accept refuses with -EACCES; libqb hands
		 * the server's answer back as errno.  EPERM: the same meaning
		 * from a server that chose that code. */
		if (e == EACCES || e == EPERM)
			return hactl_say(HACTL_EXIT_PERM, "permission denied by xenhad: "
				   "run as root or as a member of group haclient");
		return hactl_say(HACTL_EXIT_NOCONN, "cannot connect to xenhad "
			   "(is it running?): %s", strerror(e));
	}
	return 0;
}

static void conn_close(struct conn *k)
{
	if (k->c != NULL)
		qb_ipcc_disconnect(k->c);
	k->c = NULL;
	free(k->buf);
	k->buf = NULL;
	alarm(0);
}

/*
 * One request, one response.  Returns an exit status: 0 with *resp
 * filled (resp->rc may still be < 0: the daemon's refusal, for the caller
 * to report), or a status for a transport failure (message printed).
 */
static int conn_call(struct conn *k, const struct ipc_req *req,
		     struct ipc_resp *resp)
{
	struct qb_ipc_request_header hdr;
	struct qb_ipc_response_header rh;
	struct iovec iov[2];
	char *json = NULL;
	char err[160];
	ssize_t n;
	size_t len;
	int rc;

	rc = ipc_req_encode(req, &json);
	if (rc < 0)
		return hactl_say(rc == -EINVAL ? HACTL_EXIT_USAGE : HACTL_EXIT_REFUSED,
			   "cannot encode request: %s", strerror(-rc));
	len = strlen(json);
	if (len + sizeof(hdr) > XH_IPC_MAX_MSG) {
		free(json);
		return hactl_say(HACTL_EXIT_USAGE, "request too large");
	}
	memset(&hdr, 0, sizeof(hdr));
	hdr.id = XH_IPC_REQUEST;
	hdr.size = (int32_t)(sizeof(hdr) + len);
	iov[0].iov_base = &hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = json;
	iov[1].iov_len = len;

	alarm((unsigned)k->timeout_s + 5);
	n = qb_ipcc_sendv_recv(k->c, iov, 2, k->buf, XH_IPC_MAX_MSG,
			       k->timeout_s * 1000);
	free(json);
	if (n == -ETIMEDOUT)
		return hactl_say(HACTL_EXIT_TIMEOUT, "no answer from xenhad within %d s",
			   k->timeout_s);
	if (n < 0)
		return hactl_say(HACTL_EXIT_NOCONN, "lost connection to xenhad: %s",
			   strerror((int)-n));
	if ((size_t)n < sizeof(rh))
		return hactl_say(HACTL_EXIT_REFUSED, "short response from xenhad (%zd bytes)",
			   n);
	/* Copy the header out; the buffer is bytes, not a struct. */
	memcpy(&rh, k->buf, sizeof(rh));
	if (rh.id != XH_IPC_RESPONSE || rh.size != n)
		return hactl_say(HACTL_EXIT_REFUSED, "malformed response from xenhad "
			   "(id %d, size %d of %zd)", rh.id, rh.size, n);
	if ((size_t)n == sizeof(rh)) {
		/* No body: a daemon that could not even build its JSON
		 * answer reports in the header. */
		memset(resp, 0, sizeof(*resp));
		resp->rc = rh.error < 0 ? rh.error : -EPROTO;
		return 0;
	}
	if (ipc_resp_decode(k->buf + sizeof(rh), (size_t)n - sizeof(rh), resp,
			    err, sizeof(err)) < 0)
		return hactl_say(HACTL_EXIT_REFUSED, "bad response from xenhad: %s", err);
	return 0;
}

/* Connect, call, disconnect. */
static int call_once(const struct opts *o, const struct ipc_req *req,
		     struct ipc_resp *resp)
{
	struct conn k = { 0 };
	int st;

	st = conn_open(&k, o->timeout_s);
	if (st != 0)
		return st;
	st = conn_call(&k, req, resp);
	conn_close(&k);
	return st;
}

/* The command words the operator typed for an op. */
static const char *op_words(uint8_t op)
{
	switch (op) {
	case IPC_OP_DOMAIN_ADD: return "domain add";
	case IPC_OP_DOMAIN_SET: return "domain set";
	case IPC_OP_DOMAIN_REMOVE: return "domain remove";
	case IPC_OP_DOMAIN_START: return "domain start";
	case IPC_OP_DOMAIN_STOP: return "domain stop";
	case IPC_OP_FENCE_CONFIRM: return "fence confirm";
	case IPC_OP_NODE_FLAGS: return "node";
	case IPC_OP_DISARM: return "disarm";
	default: return ipc_op_str(op);
	}
}

/* Report a refusal: "hactl: domain start web1: <reason>". */
static int report_refusal(const struct ipc_req *req, const struct ipc_resp *resp)
{
	const char *why = resp->error[0] != '\0' ? resp->error :
			  strerror(-resp->rc);
	int st = hactl_exit_for_rc(resp->rc);

	if (req->name[0] != '\0')
		fprintf(stderr, "hactl: %s %s: %s\n", op_words(req->op),
			req->name, why);
	else
		fprintf(stderr, "hactl: %s: %s\n", op_words(req->op), why);
	if (st == HACTL_EXIT_NOTREADY)
		fputs("hactl: the cluster is not ready (no quorum, or this node's "
		      "state is not synchronised yet)\n", stderr);
	return st;
}

static int print_json(struct json_object *data)
{
	const char *s;

	if (data == NULL) {
		puts("{}");
	} else {
		s = json_object_to_json_string_ext(data, JSON_C_TO_STRING_PRETTY |
						   JSON_C_TO_STRING_NOSLASHESCAPE);
		if (s == NULL)
			return hactl_say(HACTL_EXIT_REFUSED, "out of memory");
		puts(s);
	}
	return 0;
}

typedef int (*render_fn)(FILE *f, struct json_object *data);

static int do_read(const struct opts *o, const struct ipc_req *req,
		   render_fn render)
{
	struct ipc_resp resp;
	int st;

	st = call_once(o, req, &resp);
	if (st != 0)
		return st;
	if (resp.rc < 0) {
		st = report_refusal(req, &resp);
	} else if (o->json) {
		st = print_json(resp.data);
	} else {
		int rc = render(stdout, resp.data);

		if (rc < 0)
			st = hactl_say(HACTL_EXIT_REFUSED, "cannot print: %s",
				 strerror(-rc));
	}
	ipc_resp_free(&resp);
	if (st == 0 && fflush(stdout) != 0)
		st = hactl_say(HACTL_EXIT_REFUSED, "cannot write output: %s",
			 strerror(errno));
	return st;
}

/*
 * The whole domain list, fetched in pages (an answer must fit the IPC
 * limit).  If the state changes between pages (its seq moves), start over,
 * a bounded number of times, so the list printed is one consistent view.
 */
#define DOMAINS_PAGE 1000
#define DOMAINS_TRIES 5

static int do_read_domains(const struct opts *o, const struct ipc_req *req0)
{
	struct ipc_req req = *req0;
	struct json_object *all = NULL, *list = NULL;
	int st = 0;

	for (int attempt = 0; attempt < DOMAINS_TRIES; attempt++) {
		int64_t seq0 = -1, total = 0;
		bool moved = false;

		json_object_put(all);
		all = json_object_new_object();
		list = json_object_new_array();
		if (!all || !list)
			return hactl_say(HACTL_EXIT_REFUSED, "out of memory");
		json_object_object_add(all, "domains", list);
		req.offset = 0;
		req.limit = DOMAINS_PAGE;
		do {
			struct ipc_resp resp;
			struct json_object *v, *page;

			st = call_once(o, &req, &resp);
			if (st != 0)
				goto out;
			if (resp.rc < 0) {
				st = report_refusal(&req, &resp);
				ipc_resp_free(&resp);
				goto out;
			}
			if (!json_object_object_get_ex(resp.data, "domains", &page) ||
			    !json_object_is_type(page, json_type_array)) {
				ipc_resp_free(&resp);
				st = hactl_say(HACTL_EXIT_REFUSED, "malformed answer from xenhad");
				goto out;
			}
			if (json_object_object_get_ex(resp.data, "total", &v))
				total = json_object_get_int64(v);
			if (json_object_object_get_ex(resp.data, "seq", &v)) {
				if (seq0 < 0)
					seq0 = json_object_get_int64(v);
				else if (seq0 != json_object_get_int64(v))
					moved = true;
			}
			for (size_t i = 0; i < json_object_array_length(page); i++)
				json_object_array_add(list,
					json_object_get(json_object_array_get_idx(page, i)));
			req.offset += (uint32_t)json_object_array_length(page);
			if (json_object_array_length(page) == 0)
				total = req.offset;  /* the list shrank under us */
			ipc_resp_free(&resp);
		} while (!moved && (int64_t)req.offset < total);
		if (!moved)
			break;
	}
	if (o->json) {
		st = print_json(all);
	} else {
		int rc = hactl_render_domains(stdout, all);

		if (rc < 0)
			st = hactl_say(HACTL_EXIT_REFUSED, "cannot print: %s", strerror(-rc));
	}
	if (st == 0 && fflush(stdout) != 0)
		st = hactl_say(HACTL_EXIT_REFUSED, "cannot write output: %s", strerror(errno));
out:
	json_object_put(all);
	return st;
}

/* Writes: the daemon answers once the command is applied cluster-wide. */
static int finish_write(const struct opts *o, const struct ipc_req *req,
			struct ipc_resp *resp, const char *done)
{
	int64_t seq = -1;
	struct json_object *v;
	int st = 0;

	if (resp->rc < 0) {
		st = report_refusal(req, resp);
	} else if (o->json) {
		st = print_json(resp->data);
	} else {
		if (json_object_object_get_ex(resp->data, "seq", &v) &&
		    json_object_is_type(v, json_type_int))
			seq = json_object_get_int64(v);
		if (seq >= 0)
			printf("%s (applied at seq %" PRId64 ")\n", done, seq);
		else
			printf("%s\n", done);
	}
	ipc_resp_free(resp);
	if (st == 0 && fflush(stdout) != 0)
		st = hactl_say(HACTL_EXIT_REFUSED, "cannot write output: %s",
			 strerror(errno));
	return st;
}

static int do_write(const struct opts *o, const struct ipc_req *req,
		    const char *done)
{
	struct ipc_resp resp;
	int st;

	st = call_once(o, req, &resp);
	if (st != 0)
		return st;
	return finish_write(o, req, &resp, done);
}

/* ---- command line ---- */

/* Long options every command accepts (global ones may follow it). */
#define COMMON_LONGOPTS \
	{ "json", no_argument, NULL, 'j' }, \
	{ "timeout", required_argument, NULL, 't' }, \
	{ "help", no_argument, NULL, 'h' }

enum {
	OPT_MEMORY = 256, OPT_PRIORITY, OPT_RESTART, OPT_MAX_RESTARTS,
	OPT_MAX_RELOCATIONS, OPT_PREFER, OPT_AVOID, OPT_GROUP, OPT_CONFIG,
	OPT_STOPPED, OPT_YES, OPT_FOR, OPT_NO_WAIT,
};

/*
 * Handle an option common to all commands; returns -1 if c is not one,
 * else an exit status (0 to go on).  --help exits through *done.
 */
static int common_opt(int c, struct opts *o, bool *help, char **argv, bool sub)
{
	int64_t x;

	switch (c) {
	case 'j':
		o->json = true;
		return 0;
	case 't':
		if (!parse_i64(optarg, 1, MAX_TIMEOUT_S, &x))
			return usage_error("--timeout: expected seconds between 1 "
					   "and %d, got \"%s\"", MAX_TIMEOUT_S, optarg);
		o->timeout_s = (int)x;
		o->timeout_given = true;
		return 0;
	case 'h':
		*help = true;
		return 0;
	case '?':
		/* opterr is 0: getopt printed nothing; the offending word is
		 * the last one it looked at.  argv[0] is the command word,
		 * or hactl's path for the options before the command. */
		if (optopt != 0 && optopt < 256)
			return usage_error("%s%sunknown option -%c", sub ? argv[0] : "",
					   sub ? ": " : "", optopt);
		return usage_error("%s%sunknown option %s", sub ? argv[0] : "",
				   sub ? ": " : "", argv[optind - 1]);
	case ':':
		return usage_error("%s%soption %s needs an argument",
				   sub ? argv[0] : "", sub ? ": " : "",
				   argv[optind - 1]);
	default:
		return -1;
	}
}

/* Parse only the common options of a command with no options of its own;
 * leaves the operands in argv[optind..]. */
static int parse_plain(int argc, char **argv, struct opts *o, bool *help)
{
	static const struct option lo[] = { COMMON_LONGOPTS, { 0 } };
	int c, st;

	optind = 0;
	while ((c = getopt_long(argc, argv, ":jt:h", lo, NULL)) != -1) {
		st = common_opt(c, o, help, argv, true);
		if (st != 0)
			return st < 0 ? usage_error("bad option") : st;
	}
	return 0;
}

/* parse_plain plus one flag of the command's own (lo lists it with value
 * `flag`; *seen is set when it is given).  flag -1: lo's extra option is
 * refused as a bad option. */
static int parse_with_flag(int argc, char **argv, struct opts *o, bool *help,
			   const struct option *lo, int flag, bool *seen)
{
	int c, st;

	optind = 0;
	while ((c = getopt_long(argc, argv, ":jt:h", lo, NULL)) != -1) {
		if (flag >= 0 && c == flag) {
			*seen = true;
			continue;
		}
		st = common_opt(c, o, help, argv, true);
		if (st != 0)
			return st < 0 ? usage_error("bad option") : st;
	}
	return 0;
}

static int need_operands(int argc, char **argv, int want, const char *cmd,
			 const char *what)
{
	int have = argc - optind;

	if (have < want)
		return usage_error("%s: missing %s", cmd, what);
	if (have > want)
		return usage_error("%s: unexpected argument \"%s\"", cmd,
				   argv[optind + want]);
	return 0;
}

/* A read command without operands: status, nodes. */
static int plain_read(int argc, char **argv, struct opts *o, uint8_t op, render_fn render)
{
	struct ipc_req req = { .op = op };
	bool help = false;
	int st;

	if ((st = parse_plain(argc, argv, o, &help)) != 0)
		return st;
	if (help)
		return show_help();
	if ((st = need_operands(argc, argv, 0, argv[0], "")) != 0)
		return st;
	return do_read(o, &req, render);
}

static int cmd_status(int argc, char **argv, struct opts *o)
{
	return plain_read(argc, argv, o, IPC_OP_STATUS, hactl_render_status);
}

static int cmd_nodes(int argc, char **argv, struct opts *o)
{
	return plain_read(argc, argv, o, IPC_OP_NODES, hactl_render_nodes);
}

static int cmd_domains(int argc, char **argv, struct opts *o)
{
	struct ipc_req req = { .op = IPC_OP_DOMAINS };
	bool help = false;
	int st;

	if ((st = parse_plain(argc, argv, o, &help)) != 0)
		return st;
	if (help)
		return show_help();
	if (argc - optind > 1)
		return usage_error("domains: unexpected argument \"%s\"",
				   argv[optind + 1]);
	if (argc - optind == 1 &&
	    (st = copy_name("domains", argv[optind], req.name)) != 0)
		return st;
	if (req.name[0] == '\0')
		return do_read_domains(o, &req);
	return do_read(o, &req, hactl_render_domains);
}

static int cmd_history(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = { COMMON_LONGOPTS, { 0 } };
	struct ipc_req req = { .op = IPC_OP_HISTORY };
	bool help = false;
	int64_t x;
	int c, st;

	optind = 0;
	while ((c = getopt_long(argc, argv, ":jt:hn:", lo, NULL)) != -1) {
		if (c == 'n') {
			if (!parse_i64(optarg, 0, UINT32_MAX, &x))
				return usage_error("history -n: expected a count, "
						   "got \"%s\"", optarg);
			req.limit = (uint32_t)x;
			continue;
		}
		st = common_opt(c, o, &help, argv, true);
		if (st != 0)
			return st < 0 ? usage_error("bad option") : st;
	}
	if (help)
		return show_help();
	if ((st = need_operands(argc, argv, 0, argv[0], "")) != 0)
		return st;
	return do_read(o, &req, hactl_render_history);
}

/* domain add|set NAME [options] */
static int cmd_domain_def(int argc, char **argv, struct opts *o, bool is_set)
{
	static const struct option lo[] = {
		COMMON_LONGOPTS,
		{ "memory", required_argument, NULL, OPT_MEMORY },
		{ "priority", required_argument, NULL, OPT_PRIORITY },
		{ "restart", required_argument, NULL, OPT_RESTART },
		{ "max-restarts", required_argument, NULL, OPT_MAX_RESTARTS },
		{ "max-relocations", required_argument, NULL, OPT_MAX_RELOCATIONS },
		{ "prefer", required_argument, NULL, OPT_PREFER },
		{ "avoid", required_argument, NULL, OPT_AVOID },
		{ "group", required_argument, NULL, OPT_GROUP },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "stopped", no_argument, NULL, OPT_STOPPED },
		{ 0 }
	};
	const char *cmd = is_set ? "domain set" : "domain add";
	struct ipc_req req;
	struct xh_domain_def *d = &req.def;
	char *xlcfg = NULL;
	bool help = false;
	int64_t x;
	int c, st = 0;
	char done[XH_NAME_MAX + 32];

	memset(&req, 0, sizeof(req));
	req.op = is_set ? IPC_OP_DOMAIN_SET : IPC_OP_DOMAIN_ADD;
	req.standby = req.maintenance = -1;
	if (!is_set)
		xh_domain_def_init(d, "");

	optind = 0;
	while (st == 0 && (c = getopt_long(argc, argv, ":jt:h", lo, NULL)) != -1) {
		switch (c) {
		case OPT_MEMORY:
			if (!parse_i64(optarg, 1, UINT32_MAX, &x))
				st = usage_error("--memory: expected MiB (a positive "
						 "integer), got \"%s\"", optarg);
			d->memory_mb = (uint32_t)x;
			req.mask |= XH_DSET_MEMORY;
			break;
		case OPT_PRIORITY:
			if (!parse_i64(optarg, INT32_MIN, INT32_MAX, &x))
				st = usage_error("--priority: expected an integer, "
						 "got \"%s\"", optarg);
			d->priority = (int32_t)x;
			req.mask |= XH_DSET_PRIORITY;
			break;
		case OPT_RESTART:
			if (xh_restart_parse(optarg, &d->restart) < 0)
				st = usage_error("--restart: expected always, on-crash "
						 "or never, got \"%s\"", optarg);
			req.mask |= XH_DSET_RESTART;
			break;
		case OPT_MAX_RESTARTS:
			if (!parse_i64(optarg, 0, UINT32_MAX, &x))
				st = usage_error("--max-restarts: expected a count, "
						 "got \"%s\"", optarg);
			d->max_restarts = (uint32_t)x;
			req.mask |= XH_DSET_MAX_RESTARTS;
			break;
		case OPT_MAX_RELOCATIONS:
			if (!parse_i64(optarg, 0, UINT32_MAX, &x))
				st = usage_error("--max-relocations: expected a count, "
						 "got \"%s\"", optarg);
			d->max_relocations = (uint32_t)x;
			req.mask |= XH_DSET_MAX_RELOCATIONS;
			break;
		case OPT_PREFER:
			st = parse_hosts("--prefer", optarg, d->preferred,
					 &d->n_preferred);
			req.mask |= XH_DSET_PREFERRED;
			break;
		case OPT_AVOID:
			st = parse_hosts("--avoid", optarg, d->avoided, &d->n_avoided);
			req.mask |= XH_DSET_AVOIDED;
			break;
		case OPT_GROUP:
			if (strlen(optarg) >= XH_NAME_MAX)
				st = usage_error("--group: name longer than %d "
						 "characters", XH_NAME_MAX - 1);
			else
				memcpy(d->group, optarg, strlen(optarg) + 1);
			req.mask |= XH_DSET_GROUP;
			break;
		case OPT_CONFIG:
			free(xlcfg);
			xlcfg = NULL;
			st = read_config(optarg, &xlcfg);
			d->xlcfg = xlcfg;
			req.mask |= XH_DSET_XLCFG;
			break;
		case OPT_STOPPED:
			if (is_set)
				st = usage_error("domain set: --stopped is for domain "
						 "add; use domain stop NAME");
			d->start = 0;
			break;
		default:
			st = common_opt(c, o, &help, argv, true);
			if (st < 0)
				st = usage_error("bad option");
			break;
		}
	}
	if (st == 0 && help) {
		st = show_help();
		goto out;
	}
	if (st == 0)
		st = need_operands(argc, argv, 1, cmd, "NAME");
	if (st == 0)
		st = copy_name(cmd, argv[optind], is_set ? req.name : d->name);
	if (st == 0 && is_set && req.mask == 0)
		st = usage_error("domain set: nothing to change (give at least one "
				 "option)");
	if (st == 0 && !is_set) {
		char why[XH_REASON_MAX];

		memcpy(req.name, d->name, XH_NAME_MAX);
		if (xh_domain_def_check(d, why, sizeof(why)) < 0)
			st = usage_error("domain add: %s", why);
	}
	if (st == 0) {
		snprintf(done, sizeof(done), "domain %s: %s", req.name,
			 is_set ? "changed" : "added");
		st = do_write(o, &req, done);
	}
out:
	free(xlcfg);
	return st;
}

/* domain remove|start|stop NAME */
static int cmd_domain_name(int argc, char **argv, struct opts *o, uint8_t op,
			   const char *done_what)
{
	struct ipc_req req = { .op = op, .standby = -1, .maintenance = -1 };
	char done[XH_NAME_MAX + 64], cmd[32];
	bool help = false;
	int st;

	snprintf(cmd, sizeof(cmd), "domain %s", argv[0]);

	if ((st = parse_plain(argc, argv, o, &help)) != 0)
		return st;
	if (help)
		return show_help();
	if ((st = need_operands(argc, argv, 1, cmd, "NAME")) != 0)
		return st;
	if ((st = copy_name(cmd, argv[optind], req.name)) != 0)
		return st;
	snprintf(done, sizeof(done), "domain %s: %s", req.name, done_what);
	return do_write(o, &req, done);
}

static int cmd_domain(int argc, char **argv, struct opts *o)
{
	const char *sub;

	if (argc < 2)
		return usage_error("domain: missing subcommand "
				   "(add, set, remove, start, stop)");
	sub = argv[1];
	if (strcmp(sub, "add") == 0)
		return cmd_domain_def(argc - 1, argv + 1, o, false);
	if (strcmp(sub, "set") == 0)
		return cmd_domain_def(argc - 1, argv + 1, o, true);
	if (strcmp(sub, "remove") == 0)
		return cmd_domain_name(argc - 1, argv + 1, o, IPC_OP_DOMAIN_REMOVE,
				       "removed");
	if (strcmp(sub, "start") == 0)
		return cmd_domain_name(argc - 1, argv + 1, o, IPC_OP_DOMAIN_START,
				       "target set to started");
	if (strcmp(sub, "stop") == 0)
		return cmd_domain_name(argc - 1, argv + 1, o, IPC_OP_DOMAIN_STOP,
				       "target set to stopped");
	return usage_error("domain: unknown subcommand \"%s\"", sub);
}

/* ---- fence confirm ---- */

/*
 * Find host `name` in a nodes answer; print what the operator should know
 * before confirming.  Returns false if the host is unknown.
 */
static bool describe_host(FILE *tty, struct json_object *data, const char *name)
{
	struct json_object *a, *n, *v;
	size_t len;

	if (!json_object_object_get_ex(data, "nodes", &a) ||
	    !json_object_is_type(a, json_type_array))
		return true; /* cannot tell: let the daemon decide */
	len = json_object_array_length(a);
	for (size_t i = 0; i < len; i++) {
		const char *fence = "?";
		int64_t doms = -1;
		bool member = false;

		n = json_object_array_get_idx(a, i);
		if (!json_object_object_get_ex(n, "name", &v) ||
		    !json_object_is_type(v, json_type_string) ||
		    strcmp(json_object_get_string(v), name) != 0)
			continue;
		if (json_object_object_get_ex(n, "member", &v))
			member = json_object_get_boolean(v);
		if (json_object_object_get_ex(n, "fence", &v) &&
		    json_object_is_type(v, json_type_string))
			fence = json_object_get_string(v);
		if (json_object_object_get_ex(n, "domains", &v) &&
		    json_object_is_type(v, json_type_int))
			doms = json_object_get_int64(v);
		fprintf(tty, "Host %s: %s, fence state %s, %" PRId64 " domain(s) "
			"recorded on it.\n", name,
			member ? "STILL A CLUSTER MEMBER" : "not a cluster member",
			fence, doms);
		return true;
	}
	return false;
}

/*
 * Ask on the terminal: stdin if it is one, else the controlling terminal.
 * A pipe on stdin is not a human; scripts must say --yes.
 */
static int confirm_on_tty(struct conn *k, const char *host)
{
	struct ipc_req req = { .op = IPC_OP_NODES, .standby = -1, .maintenance = -1 };
	struct ipc_resp resp;
	FILE *in = NULL, *out = NULL;
	char line[XH_NAME_MAX + 8];
	bool known;
	int st;

	if (isatty(STDIN_FILENO)) {
		in = stdin;
		out = stderr;
	} else {
		int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);

		if (fd >= 0)
			in = out = fdopen(fd, "r+");
		if (in == NULL) {
			if (fd >= 0)
				close(fd);
			return hactl_say(HACTL_EXIT_USAGE, "fence confirm: no terminal to ask "
				   "on; give --yes if you are sure %s is powered off",
				   host);
		}
	}

	/* Show the cluster's view of the host before the question, and stop
	 * early on an unknown name. */
	st = conn_call(k, &req, &resp);
	if (st != 0)
		goto out;
	if (resp.rc < 0) {
		st = report_refusal(&req, &resp);
		ipc_resp_free(&resp);
		goto out;
	}
	known = describe_host(out, resp.data, host);
	ipc_resp_free(&resp);
	if (!known) {
		st = hactl_say(HACTL_EXIT_NOENT, "fence confirm: no such host %s", host);
		goto out;
	}

	fprintf(out,
		"WARNING: confirming that %s is fenced tells the cluster it is powered\n"
		"off. Its HA domains will then be started on other hosts. If %s is in\n"
		"fact still running domains, two copies will write the same disk images\n"
		"and DESTROY THEM. Check that %s is off (power switch, BMC, console).\n",
		host, host, host);
	/* Alarm off while a human reads and types. */
	alarm(0);
	fputs("type the host name to confirm: ", out);
	fflush(out);
	if (fgets(line, sizeof(line), in) == NULL) {
		st = hactl_say(HACTL_EXIT_USAGE, "fence confirm: no answer; nothing done");
		goto out;
	}
	line[strcspn(line, "\n")] = '\0';
	if (strcmp(line, host) != 0) {
		st = hactl_say(HACTL_EXIT_USAGE, "fence confirm: \"%s\" does not match %s; "
			 "nothing done", line, host);
		goto out;
	}
	alarm((unsigned)k->timeout_s + 5);
out:
	if (in != NULL && in != stdin)
		fclose(in);
	return st;
}

/* ---- talking to xenha-fenced (fence HOST, fence status) ---- */

#define FD_IPC_NAME "xenha-fenced"

/* One request {"op":OP[,"name":NAME]} to the local xenha-fenced.  0 with
 * *resp, or an exit status (message printed). */
static int fenced_call(const char *op, const char *name, int timeout_s, struct ipc_resp *resp)
{
	struct qb_ipc_request_header hdr;
	struct qb_ipc_response_header rh;
	qb_ipcc_connection_t *c;
	struct json_object *o = json_object_new_object();
	struct iovec iov[2];
	char *buf = malloc(64 * 1024), err[160];
	const char *json;
	ssize_t n;
	int st = 0;

	if (o == NULL || buf == NULL) {
		json_object_put(o);
		free(buf);
		return hactl_say(HACTL_EXIT_REFUSED, "out of memory");
	}
	json_object_object_add(o, "op", json_object_new_string(op));
	if (name)
		json_object_object_add(o, "name", json_object_new_string(name));
	json = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	alarm((unsigned)timeout_s + 5);
	c = qb_ipcc_connect(FD_IPC_NAME, 64 * 1024);
	if (c == NULL) {
		int e = errno;

		st = (e == EACCES || e == EPERM) ?
		     hactl_say(HACTL_EXIT_PERM, "permission denied by xenha-fenced: run as root or "
			 "as a member of group haclient") :
		     hactl_say(HACTL_EXIT_NOCONN, "cannot connect to xenha-fenced (is it running?): %s",
			 strerror(e));
		goto out;
	}
	memset(&hdr, 0, sizeof(hdr));
	hdr.id = XH_IPC_REQUEST;
	hdr.size = (int32_t)(sizeof(hdr) + strlen(json));
	iov[0].iov_base = &hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (void *)json;
	iov[1].iov_len = strlen(json);
	n = qb_ipcc_sendv_recv(c, iov, 2, buf, 64 * 1024, timeout_s * 1000);
	qb_ipcc_disconnect(c);
	if (n < 0) {
		st = hactl_say(n == -ETIMEDOUT ? HACTL_EXIT_TIMEOUT : HACTL_EXIT_NOCONN,
			 "xenha-fenced: %s", strerror((int)-n));
		goto out;
	}
	if ((size_t)n <= sizeof(rh)) {
		st = hactl_say(HACTL_EXIT_REFUSED, "short response from xenha-fenced");
		goto out;
	}
	memcpy(&rh, buf, sizeof(rh));
	if (ipc_resp_decode(buf + sizeof(rh), (size_t)n - sizeof(rh), resp, err,
			    sizeof(err)) < 0)
		st = hactl_say(HACTL_EXIT_REFUSED, "malformed response from xenha-fenced: %s", err);
out:
	alarm(0);
	json_object_put(o);
	free(buf);
	return st;
}

static const char *jstr_or(struct json_object *o, const char *k, const char *dflt)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) && v ? json_object_get_string(v) : dflt;
}

static int fence_status(const struct opts *o)
{
	struct ipc_resp r;
	struct json_object *peers;
	int st;

	memset(&r, 0, sizeof(r));
	if ((st = fenced_call("status", NULL, o->timeout_s, &r)) != 0)
		return st;
	if (r.rc < 0) {
		st = hactl_say(hactl_exit_for_rc(r.rc), "fence status: %s", r.error);
		ipc_resp_free(&r);
		return st;
	}
	if (o->json) {
		puts(json_object_to_json_string_ext(r.data, JSON_C_TO_STRING_PRETTY |
						    JSON_C_TO_STRING_NOSLASHESCAPE));
		ipc_resp_free(&r);
		return 0;
	}
	printf("node %s (id %s): watchdog %s %s, %s (%s)\n", jstr_or(r.data, "node", "?"),
	       jstr_or(r.data, "nodeid", "?"), jstr_or(r.data, "watchdog", "?"),
	       json_object_get_boolean(json_object_object_get(r.data, "armed")) ? "armed" : "not armed",
	       json_object_get_boolean(json_object_object_get(r.data, "petting")) ? "petting" :
	       "NOT petting", jstr_or(r.data, "reason", "?"));
	printf("quorate %s, lease age %s ms, xenhad answered %s ms ago\n",
	       jstr_or(r.data, "quorate", "?"), jstr_or(r.data, "lease_age_ms", "-"),
	       jstr_or(r.data, "xenhad_age_ms", "-"));
	printf("disk %s: last write %s ms ago %s\n", jstr_or(r.data, "disk", "-"),
	       jstr_or(r.data, "disk_write_age_ms", "-"), jstr_or(r.data, "disk_error", ""));
	printf("timings: tick %s, lease %s, watchdog %s, msgwait %s ms; survivors wait %s ms "
	       "after a lost host's last tick\n", jstr_or(r.data, "tick_ms", "?"),
	       jstr_or(r.data, "lease_ms", "?"), jstr_or(r.data, "watchdog_ms", "?"),
	       jstr_or(r.data, "msgwait_ms", "?"), jstr_or(r.data, "wait_ms", "?"));
	printf("%-12s %-7s %-6s %-6s %-13s %-8s %s\n", "PEER", "MEMBER", "ARMED", "CLEAN",
	       "LAST-TICK-MS", "PENDING", "PILL");
	if (json_object_object_get_ex(r.data, "peers", &peers))
		for (size_t i = 0; i < json_object_array_length(peers); i++) {
			struct json_object *p = json_object_array_get_idx(peers, i);

			printf("%-12s %-7s %-6s %-6s %-13s %-8s %s\n", jstr_or(p, "name", "?"),
			       jstr_or(p, "member", "?"), jstr_or(p, "armed", "?"),
			       jstr_or(p, "left_cleanly", "?"), jstr_or(p, "last_tick_age_ms", "?"),
			       jstr_or(p, "pending", "?"), jstr_or(p, "pill_written", "?"));
		}
	ipc_resp_free(&r);
	return 0;
}

/* The fence state of HOST in xenhad's node list: "none", "pending",
 * "confirmed", or NULL (no answer). */
static const char *host_fence_state(struct conn *k, const char *host, char *buf, size_t len)
{
	struct ipc_req req = { .op = IPC_OP_NODES, .standby = -1, .maintenance = -1 };
	struct ipc_resp resp;
	struct json_object *arr;
	const char *out = NULL;

	memset(&resp, 0, sizeof(resp));
	if (conn_call(k, &req, &resp) != 0)
		return NULL;
	if (resp.rc == 0 && json_object_object_get_ex(resp.data, "nodes", &arr))
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			struct json_object *h = json_object_array_get_idx(arr, i);

			if (strcmp(jstr_or(h, "name", ""), host) == 0) {
				snprintf(buf, len, "%s", jstr_or(h, "fence", "?"));
				out = buf;
			}
		}
	ipc_resp_free(&resp);
	return out;
}

static int fence_host(const struct opts *o, const char *host)
{
	struct ipc_resp r;
	struct conn k = { 0 };
	char state[32] = "", last[32] = "";
	int st, waited = 0, limit = o->timeout_s > DEFAULT_TIMEOUT_S ? o->timeout_s : 120;

	memset(&r, 0, sizeof(r));
	if ((st = fenced_call("fence", host, o->timeout_s, &r)) != 0)
		return st;
	if (r.rc < 0) {
		st = hactl_say(hactl_exit_for_rc(r.rc), "fence %s: %s", host, r.error);
		ipc_resp_free(&r);
		return st;
	}
	ipc_resp_free(&r);
	printf("fence %s: xenha-fenced is writing a poison pill; waiting up to %d s for the "
	       "confirmation\n", host, limit);
	fflush(stdout);
	if ((st = conn_open(&k, o->timeout_s)) != 0)
		return st;
	for (waited = 0; waited <= limit * 2; waited++) {
		alarm((unsigned)o->timeout_s + 5);
		if (host_fence_state(&k, host, state, sizeof(state)) && strcmp(state, last) != 0) {
			printf("  %5.1f s: %s %s\n", waited / 2.0, host,
			       strcmp(state, "none") == 0 ? "still a member (reading its pill)" :
			       strcmp(state, "pending") == 0 ? "lost, awaiting fence confirmation" :
			       state);
			fflush(stdout);
			snprintf(last, sizeof(last), "%s", state);
		}
		if (strcmp(state, "confirmed") == 0) {
			conn_close(&k);
			printf("fence %s: confirmed fenced after %.1f s\n", host, waited / 2.0);
			return 0;
		}
		usleep(500000);
	}
	conn_close(&k);
	return hactl_say(HACTL_EXIT_TIMEOUT, "fence %s: not confirmed within %d s (see `hactl fence "
		   "status` and the logs)", host, limit);
}

static int cmd_fence_daemon(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = { COMMON_LONGOPTS, { 0 } };
	bool help = false;
	int c, st;

	optind = 0;
	while ((c = getopt_long(argc, argv, ":jt:h", lo, NULL)) != -1) {
		st = common_opt(c, o, &help, argv, true);
		if (st != 0)
			return st < 0 ? usage_error("bad option") : st;
	}
	if (help)
		return show_help();
	if (optind + 1 != argc)
		return usage_error("fence: expected \"fence status\" or \"fence HOST\"");
	if (strcmp(argv[optind], "status") == 0)
		return fence_status(o);
	if (strlen(argv[optind]) >= XH_NAME_MAX)
		return usage_error("fence: host name too long");
	return fence_host(o, argv[optind]);
}

/* hactl check: the timeout-chain check is xenha-fenced's own (-n), so the
 * two can never disagree. */
static int cmd_check(int argc, char **argv, struct opts *o)
{
	const char *conf = SYSCONFDIR "/xenha/xenha.conf";
	const char *fenced = getenv("XENHA_FENCED");

	(void)o;
	if (argc == 3 && strcmp(argv[1], "-c") == 0)
		conf = argv[2];
	else if (argc != 1)
		return usage_error("check: expected \"check [-c FILE]\"");
	if (fenced == NULL || fenced[0] == '\0')
		fenced = SBINDIR "/xenha-fenced";
	execl(fenced, fenced, "-n", "-c", conf, (char *)NULL);
	return hactl_say(HACTL_EXIT_NOCONN, "check: cannot run %s: %s", fenced, strerror(errno));
}

static int cmd_fence(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		COMMON_LONGOPTS,
		{ "yes", no_argument, NULL, OPT_YES },
		{ 0 }
	};
	struct ipc_req req = { .op = IPC_OP_FENCE_CONFIRM, .standby = -1,
			       .maintenance = -1 };
	struct ipc_resp resp;
	struct conn k = { 0 };
	char done[XH_NAME_MAX + 32];
	const char *cmd = "fence confirm";
	bool help = false, yes = false;
	int st;

	if (argc < 2)
		return usage_error("fence: expected \"fence confirm HOST\", \"fence status\" "
				   "or \"fence HOST\"");
	if (strcmp(argv[1], "status") == 0 || strcmp(argv[1], "confirm") != 0)
		return cmd_fence_daemon(argc, argv, o);
	argc--;
	argv++;
	if ((st = parse_with_flag(argc, argv, o, &help, lo, OPT_YES, &yes)) != 0)
		return st;
	if (help)
		return show_help();
	if ((st = need_operands(argc, argv, 1, cmd, "HOST")) != 0)
		return st;
	if ((st = copy_name(cmd, argv[optind], req.name)) != 0)
		return st;

	/* Without --yes and without a terminal, refuse before connecting:
	 * that is a usage error whatever the daemon's state. */
	if (!yes && !isatty(STDIN_FILENO)) {
		int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);

		if (fd < 0)
			return hactl_say(HACTL_EXIT_USAGE, "fence confirm: no terminal to "
				   "ask on; give --yes if you are sure %s is powered "
				   "off", req.name);
		close(fd);
	}
	if ((st = conn_open(&k, o->timeout_s)) != 0)
		return st;
	if (!yes && (st = confirm_on_tty(&k, req.name)) != 0) {
		conn_close(&k);
		return st;
	}
	st = conn_call(&k, &req, &resp);
	conn_close(&k);
	if (st != 0)
		return st;
	snprintf(done, sizeof(done), "host %s: fencing confirmed", req.name);
	return finish_write(o, &req, &resp, done);
}

/* ---- node flags ---- */

/* ---- migrate / drain ---- */

#define MIG_WAIT_DEFAULT_S 660   /* [migration] timeout_ms default + a minute */

static int64_t jint_or(struct json_object *o, const char *k, int64_t dflt)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_int) ?
	       json_object_get_int64(v) : dflt;
}

/* domains NAME: the domain's object (a new reference) or NULL. */
static struct json_object *get_domain(struct conn *k, const char *name, int *st)
{
	struct ipc_req req = { .op = IPC_OP_DOMAINS, .standby = -1, .maintenance = -1 };
	struct ipc_resp resp;
	struct json_object *arr, *out = NULL;

	snprintf(req.name, sizeof(req.name), "%s", name);
	memset(&resp, 0, sizeof(resp));
	*st = conn_call(k, &req, &resp);
	if (*st != 0)
		return NULL;
	if (resp.rc < 0)
		*st = report_refusal(&req, &resp);
	else if (json_object_object_get_ex(resp.data, "domains", &arr) &&
		 json_object_array_length(arr) == 1)
		out = json_object_get(json_object_array_get_idx(arr, 0));
	ipc_resp_free(&resp);
	return out;
}

static void print_progress(const char *indent, const char *name, struct json_object *p)
{
	int64_t total = jint_or(p, "pages_total", 0), left = jint_or(p, "pages_left", 0);

	/* rounds and pages only from a driver that reports them (the xen
	 * driver does not: libxl keeps them to itself) */
	printf("%s%s: ", indent, name);
	if (total > 0)
		printf("round %" PRId64 ", ", jint_or(p, "round", 0));
	printf("%.1f MiB sent, ", jint_or(p, "bytes_sent", 0) / 1048576.0);
	if (total > 0)
		printf("%" PRId64 " of %" PRId64 " pages left, dirtying %.1f MiB/s, ", left, total,
		       jint_or(p, "dirty_kib_s", 0) / 1024.0);
	printf("%.1f s\n", jint_or(p, "elapsed_ms", 0) / 1000.0);
}

/*
 * Follow migration mig_id of `name` until it ends: progress lines as the
 * source multicasts them, then the outcome.  0 migrated, 1 aborted or
 * ended otherwise, 7 not over within limit_s.
 */
static int follow_migration(const struct opts *o, const char *name, int64_t mig_id, int limit_s)
{
	struct conn k = { 0 };
	int64_t last_round = -1, last_bytes = -1;
	struct timespec t0, t;
	int st;

	if ((st = conn_open(&k, o->timeout_s)) != 0)
		return st;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i <= limit_s * 4; i++) {
		struct json_object *dom, *m = NULL, *p = NULL, *last = NULL;
		double el;

		alarm((unsigned)o->timeout_s + 5);
		dom = get_domain(&k, name, &st);
		if (!dom) {
			conn_close(&k);
			return st ? st : hactl_say(HACTL_EXIT_REFUSED, "migrate %s: the domain "
						   "is gone", name);
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		el = (double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
		json_object_object_get_ex(dom, "migration", &m);
		if (m)
			json_object_object_get_ex(m, "progress", &p);
		if (m)
			json_object_object_get_ex(m, "last", &last);
		if (jint_or(dom, "migration_id", 0) == mig_id) {
			if (p && (jint_or(p, "round", 0) != last_round ||
				  jint_or(p, "bytes_sent", 0) != last_bytes)) {
				last_round = jint_or(p, "round", 0);
				last_bytes = jint_or(p, "bytes_sent", 0);
				print_progress("  ", name, p);
				fflush(stdout);
			}
		} else {
			conn_close(&k);
			if (last && jint_or(last, "mig_id", 0) == mig_id &&
			    strcmp(jstr_or(last, "outcome", ""), "done") == 0) {
				printf("%s: migrated to %s in %.1f s, downtime %" PRId64 " ms\n",
				       name, jstr_or(dom, "host", "?"), el,
				       jint_or(last, "downtime_ms", 0));
				json_object_put(dom);
				return fflush(stdout) == 0 ? 0 : HACTL_EXIT_REFUSED;
			}
			if (last && jint_or(last, "mig_id", 0) == mig_id)
				st = hactl_say(HACTL_EXIT_REFUSED, "migrate %s: aborted after %.1f s, "
					       "it runs on %s as before: %s", name, el,
					       jstr_or(dom, "host", "?"), jstr_or(last, "reason", "?"));
			else
				st = hactl_say(HACTL_EXIT_REFUSED, "migrate %s: the migration ended "
					       "after %.1f s; the domain is now %s on %s (see `hactl "
					       "history`)", name, el, jstr_or(dom, "state", "?"),
					       jstr_or(dom, "host", "-"));
			json_object_put(dom);
			return st;
		}
		json_object_put(dom);
		usleep(250000);
	}
	conn_close(&k);
	return hactl_say(HACTL_EXIT_TIMEOUT, "migrate %s: still migrating after %d s (it goes on; "
			 "see `hactl domains %s`)", name, limit_s, name);
}

/* migrate DOMAIN [HOST] [--no-wait] */
static int cmd_migrate(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		COMMON_LONGOPTS,
		{ "no-wait", no_argument, NULL, OPT_NO_WAIT },
		{ 0 }
	};
	struct ipc_req req = { .op = IPC_OP_MIGRATE, .standby = -1, .maintenance = -1 };
	struct ipc_resp resp;
	struct json_object *v;
	bool help = false, no_wait = false;
	int64_t mig_id = -1;
	int st, have;

	if ((st = parse_with_flag(argc, argv, o, &help, lo, OPT_NO_WAIT, &no_wait)) != 0)
		return st;
	if (help)
		return show_help();
	have = argc - optind;
	if (have < 1)
		return usage_error("migrate: missing DOMAIN");
	if (have > 2)
		return usage_error("migrate: unexpected argument \"%s\"", argv[optind + 2]);
	if ((st = copy_name("migrate", argv[optind], req.name)) != 0)
		return st;
	if (have == 2 && (st = copy_name("migrate", argv[optind + 1], req.host)) != 0)
		return st;
	memset(&resp, 0, sizeof(resp));
	if ((st = call_once(o, &req, &resp)) != 0)
		return st;
	if (resp.rc < 0 || no_wait || o->json)
		return finish_write(o, &req, &resp, "migration begun");
	if (json_object_object_get_ex(resp.data, "seq", &v) && json_object_is_type(v, json_type_int))
		mig_id = json_object_get_int64(v);
	ipc_resp_free(&resp);
	printf("%s: migration begun (id %" PRId64 ")%s%s\n", req.name, mig_id,
	       req.host[0] ? " to " : "", req.host);
	fflush(stdout);
	return follow_migration(o, req.name, mig_id,
				o->timeout_given ? o->timeout_s : MIG_WAIT_DEFAULT_S);
}

/* Domains that still run on (or migrate off) host; n_stuck: those the
 * scheduler says cannot go anywhere. */
static int drain_count(struct conn *k, const char *host, int *left, int *migrating,
		       int *stuck, char *stuck_names, size_t len)
{
	struct ipc_req req = { .op = IPC_OP_DOMAINS, .standby = -1, .maintenance = -1 };
	struct ipc_resp resp;
	struct json_object *arr;
	int st;

	*left = *migrating = *stuck = 0;
	stuck_names[0] = '\0';
	memset(&resp, 0, sizeof(resp));
	if ((st = conn_call(k, &req, &resp)) != 0)
		return st;
	if (resp.rc < 0) {
		st = report_refusal(&req, &resp);
		ipc_resp_free(&resp);
		return st;
	}
	if (json_object_object_get_ex(resp.data, "domains", &arr))
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			struct json_object *d = json_object_array_get_idx(arr, i);
			const char *state = jstr_or(d, "state", "");

			if (strcmp(jstr_or(d, "host", ""), host) != 0 ||
			    (strcmp(state, "running") != 0 && strcmp(state, "migrating") != 0))
				continue;
			(*left)++;
			if (strcmp(state, "migrating") == 0) {
				(*migrating)++;
			} else if (strstr(jstr_or(d, "reason", ""), "drain: no target")) {
				size_t n = strlen(stuck_names);

				(*stuck)++;
				snprintf(stuck_names + n, len - n, "%s%s", n ? ", " : "",
					 jstr_or(d, "name", "?"));
			}
		}
	ipc_resp_free(&resp);
	return 0;
}

/* After `node standby HOST`: wait until no domain runs there. */
static int follow_drain(const struct opts *o, const char *host, int limit_s)
{
	struct conn k = { 0 };
	int left = 0, migrating = 0, stuck = 0, first = -1, last_left = -1, last_mig = -1;
	int stuck_polls = 0, st;
	char names[512];
	struct timespec t0, t;

	if ((st = conn_open(&k, o->timeout_s)) != 0)
		return st;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i <= limit_s * 2; i++) {
		double el;

		alarm((unsigned)o->timeout_s + 5);
		if ((st = drain_count(&k, host, &left, &migrating, &stuck, names,
				      sizeof(names))) != 0) {
			conn_close(&k);
			return st;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		el = (double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
		if (first < 0)
			first = left;
		if (left != last_left || migrating != last_mig) {
			printf("  %5.1f s: %d of %d domains moved, %d left on %s (%d migrating)\n",
			       el, first - left, first, left, host, migrating);
			fflush(stdout);
			last_left = left;
			last_mig = migrating;
		}
		if (left == 0) {
			conn_close(&k);
			printf("host %s drained: %d domains moved in %.1f s\n", host, first, el);
			return fflush(stdout) == 0 ? 0 : HACTL_EXIT_REFUSED;
		}
		/* all that is left has nowhere to go, for 5 s */
		stuck_polls = migrating == 0 && stuck == left ? stuck_polls + 1 : 0;
		if (stuck_polls >= 10) {
			conn_close(&k);
			return hactl_say(HACTL_EXIT_REFUSED, "node standby %s: %d domains cannot "
					 "move (no host has room or may take them): %s; they keep "
					 "running on %s", host, left, names, host);
		}
		usleep(500000);
	}
	conn_close(&k);
	return hactl_say(HACTL_EXIT_TIMEOUT, "node standby %s: %d domains still on %s after %d s "
			 "(the drain goes on)", host, left, host, limit_s);
}

static int cmd_node(int argc, char **argv, struct opts *o)
{
	struct ipc_req req = { .op = IPC_OP_NODE_FLAGS, .standby = -1,
			       .maintenance = -1 };
	char done[XH_NAME_MAX + 128], cmd[32];
	static const struct option lo[] = {
		COMMON_LONGOPTS,
		{ "no-wait", no_argument, NULL, OPT_NO_WAIT },
		{ 0 }
	};
	struct ipc_resp resp;
	const char *sub, *what;
	bool help = false, no_wait = false;
	int st;

	if (argc < 2)
		return usage_error("node: missing subcommand "
				   "(standby, online, maintenance)");
	sub = argv[1];
	if (strcmp(sub, "standby") == 0) {
		req.standby = 1;
		what = "standby (no new domains placed there; its running domains are "
		       "migrated away)";
	} else if (strcmp(sub, "maintenance") == 0) {
		req.maintenance = 1;
		what = "maintenance (HA leaves its domains alone)";
	} else if (strcmp(sub, "online") == 0) {
		req.standby = 0;
		req.maintenance = 0;
		what = "online (standby and maintenance cleared)";
	} else {
		return usage_error("node: unknown subcommand \"%s\"", sub);
	}
	snprintf(cmd, sizeof(cmd), "node %s", sub);
	argc--;
	argv++;
	if ((st = parse_with_flag(argc, argv, o, &help, lo, req.standby == 1 ? OPT_NO_WAIT : -1,
				  &no_wait)) != 0)
		return st;
	if (help)
		return show_help();
	if ((st = need_operands(argc, argv, 1, cmd, "HOST")) != 0)
		return st;
	if ((st = copy_name(cmd, argv[optind], req.name)) != 0)
		return st;
	snprintf(done, sizeof(done), "host %s: %s", req.name, what);
	if (req.standby != 1 || no_wait || o->json)
		return do_write(o, &req, done);
	memset(&resp, 0, sizeof(resp));
	if ((st = call_once(o, &req, &resp)) != 0)
		return st;
	if ((st = finish_write(o, &req, &resp, done)) != 0)
		return st;
	return follow_drain(o, req.name, o->timeout_given ? o->timeout_s : MIG_WAIT_DEFAULT_S);
}

/* ---- disarm / arm ---- */

/*
 * A duration: a whole number with a unit s, m, h or d (a bare number is
 * seconds), 1 s .. IPC_DISARM_MAX_MS.  false if it is not one.
 */
static bool parse_duration_ms(const char *s, uint32_t *ms)
{
	static const struct { char unit; uint64_t ms; } units[] = {
		{ 's', 1000 }, { 'm', 60000 }, { 'h', 3600000 }, { 'd', 86400000 },
	};
	uint64_t n = 0, mul = 1000;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		n = n * 10 + (uint64_t)(*p - '0');
		if (n > IPC_DISARM_MAX_MS)
			return false;
	}
	if (*p != '\0') {
		size_t i;

		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (*p == units[i].unit)
				break;
		if (i == sizeof(units) / sizeof(units[0]) || p[1] != '\0')
			return false;
		mul = units[i].ms;
	}
	if (n == 0 || n * mul > IPC_DISARM_MAX_MS)
		return false;
	*ms = (uint32_t)(n * mul);
	return true;
}

/* disarm --for DURATION: a cluster-wide pause of HA actions that ends by
 * itself; arm: end it now. */
static int cmd_disarm(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		COMMON_LONGOPTS,
		{ "for", required_argument, NULL, OPT_FOR },
		{ 0 }
	};
	struct ipc_req req = { .op = IPC_OP_DISARM, .standby = -1, .maintenance = -1 };
	bool arm = strcmp(argv[0], "arm") == 0, help = false, have_for = false;
	char done[128];
	int c, st;

	optind = 0;
	while ((c = getopt_long(argc, argv, ":jt:h", lo, NULL)) != -1) {
		if (c == OPT_FOR && arm)
			return usage_error("arm: unexpected option --for");
		if (c == OPT_FOR) {
			if (!parse_duration_ms(optarg, &req.for_ms))
				return usage_error("disarm --for: expected a duration such as "
						   "90s, 30m, 2h or 1d (at most 7d), got \"%s\"",
						   optarg);
			have_for = true;
			continue;
		}
		st = common_opt(c, o, &help, argv, true);
		if (st != 0)
			return st < 0 ? usage_error("bad option") : st;
	}
	if (help)
		return show_help();
	if ((st = need_operands(argc, argv, 0, argv[0], "")) != 0)
		return st;
	if (arm) {
		req.for_ms = 0;
		snprintf(done, sizeof(done), "HA actions re-armed");
	} else {
		if (!have_for)
			return usage_error("disarm: --for DURATION is required "
					   "(HA re-arms by itself after it; `hactl arm` ends it early)");
		snprintf(done, sizeof(done), "HA actions disarmed cluster-wide for %u s "
			 "(they re-arm by themselves; `hactl arm` ends it early)",
			 (req.for_ms + 999) / 1000);
	}
	return do_write(o, &req, done);
}

/* ---- main ---- */

int hactl_disk(int argc, char **argv, bool json);   /* disk.c */

static int cmd_disk(int argc, char **argv, struct opts *o)
{
	return hactl_disk(argc, argv, o->json);
}

int hactl_keygen(int argc, char **argv);          /* keygen.c */

static int cmd_keygen(int argc, char **argv, struct opts *o)
{
	return hactl_keygen(argc, argv);
}

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv, struct opts *o);
} commands[] = {
	{ "status", cmd_status },
	{ "nodes", cmd_nodes },
	{ "domains", cmd_domains },
	{ "history", cmd_history },
	{ "domain", cmd_domain },
	{ "fence", cmd_fence },
	{ "disarm", cmd_disarm },
	{ "arm", cmd_disarm },
	{ "migrate", cmd_migrate },
	{ "check", cmd_check },
	{ "node", cmd_node },
	{ "disk", cmd_disk },
	{ "keygen", cmd_keygen },
};

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		COMMON_LONGOPTS,
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	struct opts o = { .json = false, .timeout_s = DEFAULT_TIMEOUT_S };
	bool help = false;
	int c, st;

	/* Our own messages name the command; getopt's would name argv[0]. */
	opterr = 0;
	/* "+": stop at the command word; its options are its own. */
	while ((c = getopt_long(argc, argv, "+:jt:hV", lo, NULL)) != -1) {
		if (c == 'V') {
			printf("hactl (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return 0;
		}
		st = common_opt(c, &o, &help, argv, false);
		if (st != 0)
			return st < 0 ? usage_error("bad option") : st;
	}
	if (help)
		return show_help();
	if (optind >= argc)
		return usage_error("missing command");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			return commands[i].fn(argc - optind, argv + optind, &o);
	return usage_error("unknown command \"%s\"", argv[optind]);
}
