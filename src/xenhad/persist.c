/*
 * The state file: the wire codec's snapshot frame, written atomically
 * (write to a temporary file, fsync, rename over the old one, fsync the
 * directory), so that kill -9 at any point leaves either the old or the
 * new state on disk, never a torn one.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <qb/qblog.h>

#include "xenhad.h"

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int mkdir_p(const char *dir)
{
	char tmp[CFG_PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0750) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0750) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int xd_persist_save(struct xd *d)
{
	struct wire_buf b;
	char tmp[sizeof(d->state_path) + 8];
	int fd = -1, dfd = -1, rc;

	wire_buf_init(&b);
	rc = wire_encode_snapshot(&b, &d->st);
	if (rc < 0) {
		qb_log(LOG_ERR, "cannot encode state: %s", strerror(-rc));
		goto out;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", d->state_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		rc = -errno;
		qb_log(LOG_ERR, "cannot write state file=%s: %s", tmp, strerror(-rc));
		goto out;
	}
	rc = write_all(fd, b.data, b.len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	fd = -1;
	if (rc == 0 && rename(tmp, d->state_path) < 0)
		rc = -errno;
	if (rc < 0) {
		qb_log(LOG_ERR, "cannot save state file=%s: %s", d->state_path, strerror(-rc));
		unlink(tmp);
		goto out;
	}
	dfd = open(d->cfg.state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (fsync(dfd) < 0)
			rc = -errno;
		close(dfd);
	}
	d->dirty = false;
	qb_log(LOG_TRACE, "state saved seq=%llu bytes=%zu", (unsigned long long)d->st.seq, b.len);
out:
	wire_buf_free(&b);
	return rc;
}

static void persist_timer_cb(void *arg)
{
	struct xd *d = arg;

	d->persist_timer_armed = false;
	if (d->dirty)
		xd_persist_save(d);
}

void xd_persist_mark(struct xd *d)
{
	d->dirty = true;
	if (d->persist_timer_armed || !d->loop)
		return;
	if (qb_loop_timer_add(d->loop, QB_LOOP_LOW, 100 * QB_TIME_NS_IN_MSEC, d,
			      persist_timer_cb, &d->persist_timer) == 0)
		d->persist_timer_armed = true;
}

void xd_persist_fini(struct xd *d)
{
	if (d->loop && d->persist_timer_armed)
		qb_loop_timer_del(d->loop, d->persist_timer);
	d->persist_timer_armed = false;
}

int xd_persist_load(struct xd *d)
{
	struct stat sb;
	uint8_t *buf = NULL;
	int fd, rc;
	ssize_t r;
	size_t got = 0;

	rc = mkdir_p(d->cfg.state_dir);
	if (rc < 0) {
		qb_log(LOG_ERR, "cannot create state_dir=%s: %s", d->cfg.state_dir, strerror(-rc));
		return rc;
	}
	snprintf(d->state_path, sizeof(d->state_path), "%s/state.xhs", d->cfg.state_dir);
	fd = open(d->state_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			return -errno;
		qb_log(LOG_NOTICE, "no state file=%s; starting with an empty state", d->state_path);
		return xh_state_init(&d->st, d->cfg.history);
	}
	if (fstat(fd, &sb) < 0 || sb.st_size <= 0 || sb.st_size > (off_t)WIRE_MAX_PAYLOAD) {
		rc = -EBADMSG;
		goto bad;
	}
	buf = malloc((size_t)sb.st_size);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)sb.st_size) {
		r = read(fd, buf + got, (size_t)sb.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got != (size_t)sb.st_size) {
		rc = -EIO;
		goto bad;
	}
	rc = wire_decode_snapshot(buf, got, &d->st);
	if (rc < 0)
		goto bad;
	close(fd);
	free(buf);
	qb_log(LOG_NOTICE, "state loaded file=%s seq=%llu qseq=%llu domains=%u hosts=%u",
	       d->state_path, (unsigned long long)d->st.seq, (unsigned long long)d->st.qseq,
	       d->st.n_domains, d->st.n_hosts);
	return 0;
bad:
	close(fd);
	free(buf);
	{
		char aside[sizeof(d->state_path) + 32];

		snprintf(aside, sizeof(aside), "%s.bad-%lld", d->state_path, (long long)time(NULL));
		rename(d->state_path, aside);
		qb_log(LOG_CRIT, "state file=%s unreadable (%s); kept as %s; starting empty and "
		       "taking the cluster's state", d->state_path, strerror(-rc), aside);
	}
	return xh_state_init(&d->st, d->cfg.history);
}
