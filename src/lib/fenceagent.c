/*
 * Fence agents, the pure part: what we write on an agent's stdin, which
 * devices fence a host in which order, and when a level has fenced it
 * (contracts in include/xenha/fenceagent.h).  No I/O, no clock, no
 * logging; src/drivers/fenceagent_run.c runs the agents.
 *
 * The rules, in plain words:
 *   1. Only a device that lists the host may fence it.
 *   2. Lower levels first; within a level, the order of the file.  A level
 *      is all-or-nothing: with two power supplies on two PDUs, one outlet
 *      off is not the host off.
 *   3. "off" returning 0 is a claim, not a fact.  The host counts as
 *      fenced only when the device, asked again ("status"), says off (2).
 *      A status of 0 (on) or any error is not off.
 * Our implementation: fa_plan() is rule 1 and 2 (a stable sort by
 * level); fa_level_fenced() is rule 3 over one level's results; the
 * runner calls them.
 */
#include <errno.h>
#include <string.h>

#include "xenha/fenceagent.h"

#define FA_ACTION_MAX 32

/* 1..FA_ACTION_MAX-1 of [a-z-]: every fence-agents action has this form. */
static bool action_ok(const char *a)
{
	size_t i, n = strlen(a);

	if (n == 0 || n >= FA_ACTION_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((a[i] >= 'a' && a[i] <= 'z') || a[i] == '-'))
			return false;
	return true;
}

/*
 * Printable, non-blank ASCII only: a newline would start another stdin
 * line, which is an injection of keys the administrator did not write.
 */
static bool word_ok(const char *s, size_t max)
{
	size_t i, n = strnlen(s, max);

	if (n == 0 || n >= max)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/* Append "key=value\n" pieces; false when it does not fit. */
static bool put(char *buf, size_t len, size_t *o, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (*o + la + lb + 2 > len)     /* + '\n' + NUL */
		return false;
	memcpy(buf + *o, a, la);
	memcpy(buf + *o + la, b, lb);
	*o += la + lb;
	buf[(*o)++] = '\n';
	buf[*o] = '\0';
	return true;
}

int fa_stdin_text(const struct xh_fence_device *dev, const char *action,
		  const char *plug, char *buf, size_t len)
{
	size_t o = 0;
	uint32_t i;

	if (dev == NULL || action == NULL || plug == NULL || buf == NULL)
		return -EINVAL;
	if (!action_ok(action) || !word_ok(plug, XH_NAME_MAX) ||
	    dev->n_args > CFG_FENCE_ARGS_MAX)
		return -EINVAL;
	for (i = 0; i < dev->n_args; i++) {
		const char *eq;

		if (!word_ok(dev->args[i], CFG_FENCE_ARG_MAX))
			return -EINVAL;
		eq = strchr(dev->args[i], '=');
		if (eq == NULL || eq == dev->args[i])
			return -EINVAL;
	}

	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	if (!put(buf, len, &o, "action=", action) ||
	    !put(buf, len, &o, "plug=", plug))
		goto nospc;
	for (i = 0; i < dev->n_args; i++)
		if (!put(buf, len, &o, dev->args[i], ""))
			goto nospc;
	return 0;

nospc:
	buf[0] = '\0';
	return -ENOSPC;
}

static bool can_fence(const struct xh_fence_device *d, const char *host)
{
	uint32_t i, n = d->n_hosts;

	if (n > CFG_FENCE_HOSTS_MAX)
		n = CFG_FENCE_HOSTS_MAX;
	for (i = 0; i < n; i++)
		if (strncmp(d->hosts[i], host, XH_NAME_MAX) == 0)
			return true;
	return false;
}

int fa_plan(const struct xh_fence_device *devs, uint32_t n, const char *host,
	    uint32_t *out, uint32_t max, uint32_t *n_out)
{
	uint32_t i, k = 0, levels = 0;

	if (devs == NULL || host == NULL || out == NULL || n_out == NULL ||
	    n > CFG_FENCE_DEVICES_MAX)
		return -EINVAL;
	*n_out = 0;
	if (host[0] == '\0')
		return 0;
	for (i = 0; i < n; i++) {
		uint32_t j;

		if (!can_fence(&devs[i], host))
			continue;
		if (k == max)
			return -ENOSPC;
		/* insertion sort, stable: later devices go after equal levels */
		for (j = k; j > 0 && devs[out[j - 1]].level > devs[i].level; j--)
			out[j] = out[j - 1];
		out[j] = i;
		k++;
	}
	for (i = 0; i < k; i++)
		if (i == 0 || devs[out[i]].level != devs[out[i - 1]].level)
			levels++;
	*n_out = k;
	return (int)levels;
}

bool fa_level_fenced(const struct fa_dev_result *r, uint32_t n)
{
	uint32_t i;

	if (r == NULL || n == 0)
		return false;
	for (i = 0; i < n; i++)
		if (r[i].off_exit != 0 || r[i].status_exit != FA_STATUS_OFF)
			return false;
	return true;
}
