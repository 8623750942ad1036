/*
 * Heartbeat-disk I/O: one whole, aligned sector per call, through a
 * small syscall table (include/xenha/hbworker.h).
 *
 * Why O_DIRECT and O_SYNC: several hosts write their own sectors of the
 * same LUN and read each other's.  The page cache would hand us our own
 * stale copy of a peer's sector, and a buffered write could sit in our
 * memory while the peers conclude we are dead.  O_DIRECT needs the buffer,
 * the offset and the length aligned to the logical sector size, so every
 * transfer goes through one 4096-byte, 4096-aligned buffer (enough for
 * both supported sector sizes).
 *
 * The fault-injecting table reads a small text file before every call so
 * a test can switch faults on and off while a worker thread runs; it
 * reads the file with plain open/read/close, never through the table,
 * and keeps that cheap (one 16-byte read).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "xenha/hbdisk.h"
#include "xenha/hbworker.h"

#define HBIO_BUF 4096u
#define HBIO_EINTR_TRIES 16

/* ---- the real table ---- */

static int real_open(const char *path, int flags)
{
	return open(path, flags);
}

static ssize_t real_pread(int fd, void *buf, size_t len, off_t off)
{
	return pread(fd, buf, len, off);
}

static ssize_t real_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	return pwrite(fd, buf, len, off);
}

static int real_close(int fd)
{
	return close(fd);
}

const struct hbio_sys hbio_sys_real = {
	.open = real_open,
	.pread = real_pread,
	.pwrite = real_pwrite,
	.close = real_close,
};

/* ---- the fault-injecting table ---- */

/* Process-wide, as the header says: tests set it from the main thread
 * while workers read it, hence the lock around the copy. */
static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;
static char fault_path[PATH_MAX];

void hbio_fault_file(const char *path)
{
	pthread_mutex_lock(&fault_lock);
	if (path == NULL || strlen(path) >= sizeof(fault_path))
		fault_path[0] = '\0';
	else
		memcpy(fault_path, path, strlen(path) + 1);
	pthread_mutex_unlock(&fault_lock);
}

enum fault { FAULT_NONE, FAULT_EIO, FAULT_SHORT, FAULT_HANG };

static enum fault fault_now(void)
{
	char path[PATH_MAX], word[16];
	size_t len;
	ssize_t n;
	int fd;

	pthread_mutex_lock(&fault_lock);
	memcpy(path, fault_path, sizeof(path));
	pthread_mutex_unlock(&fault_lock);
	if (path[0] == '\0')
		return FAULT_NONE;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return FAULT_NONE;
	n = read(fd, word, sizeof(word) - 1);
	close(fd);
	if (n <= 0)
		return FAULT_NONE;
	word[n] = '\0';
	len = strspn(word, " \t\n");
	memmove(word, word + len, (size_t)n + 1 - len);
	word[strcspn(word, " \t\n")] = '\0';
	if (strcmp(word, "eio") == 0)
		return FAULT_EIO;
	if (strcmp(word, "short") == 0)
		return FAULT_SHORT;
	if (strcmp(word, "hang") == 0)
		return FAULT_HANG;
	return FAULT_NONE;
}

/* Sleep in 100 ms steps while the file says "hang" (at most 600 s), then
 * report what it says now, so "hang" followed by "eio" fails the call. */
static enum fault fault_wait(void)
{
	static const struct timespec step = { 0, 100 * 1000 * 1000 };
	enum fault f = fault_now();

	for (int i = 0; f == FAULT_HANG && i < 6000; i++) {
		nanosleep(&step, NULL);
		f = fault_now();
	}
	return f == FAULT_HANG ? FAULT_NONE : f;
}

static int faulty_open(const char *path, int flags)
{
	if (fault_wait() == FAULT_EIO) {
		errno = EIO;
		return -1;
	}
	return open(path, flags);
}

static ssize_t faulty_pread(int fd, void *buf, size_t len, off_t off)
{
	if (fault_wait() == FAULT_EIO) {
		errno = EIO;
		return -1;
	}
	return pread(fd, buf, len, off);
}

/*
 * "short": really write the first half of the sector, so the test sees
 * what a torn write leaves behind.  Half a sector is not a valid O_DIRECT
 * transfer, so O_DIRECT is switched off on the descriptor for this one
 * write (each hbio has its own descriptor, used by one thread).
 */
static ssize_t faulty_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	int fl, saved;
	ssize_t n;

	switch (fault_wait()) {
	case FAULT_EIO:
		errno = EIO;
		return -1;
	case FAULT_SHORT:
		fl = fcntl(fd, F_GETFL);
		if (fl >= 0 && (fl & O_DIRECT))
			fcntl(fd, F_SETFL, fl & ~O_DIRECT);
		n = pwrite(fd, buf, len / 2, off);
		saved = errno;
		if (fl >= 0 && (fl & O_DIRECT))
			fcntl(fd, F_SETFL, fl);
		errno = saved;
		return n;
	default:
		return pwrite(fd, buf, len, off);
	}
}

static int faulty_close(int fd)
{
	return close(fd);
}

const struct hbio_sys hbio_sys_faulty = {
	.open = faulty_open,
	.pread = faulty_pread,
	.pwrite = faulty_pwrite,
	.close = faulty_close,
};

/* ---- hbio ---- */

int hbio_open(struct hbio *io, const char *path, const struct hbio_sys *sys, bool *direct)
{
	const int base = O_RDWR | O_SYNC | O_CLOEXEC;
	void *buf = NULL;
	int fd, rc;

	memset(io, 0, sizeof(*io));
	io->fd = -1;
	if (path == NULL)
		return -EINVAL;
	if (sys == NULL)
		sys = &hbio_sys_real;
	rc = posix_memalign(&buf, HBIO_BUF, HBIO_BUF);
	if (rc != 0)
		return -rc;
	memset(buf, 0, HBIO_BUF);

	*direct = true;
	fd = sys->open(path, base | O_DIRECT);
	if (fd < 0 && errno == EINVAL) {
		/* tmpfs and a few others refuse O_DIRECT at open time. */
		*direct = false;
		fd = sys->open(path, base);
	}
	if (fd < 0) {
		rc = errno > 0 ? -errno : -EIO;
		free(buf);
		return rc;
	}
	io->sys = sys;
	io->fd = fd;
	io->sector_size = 512;
	io->buf = buf;
	return 0;
}

void hbio_close(struct hbio *io)
{
	if (io->fd >= 0)
		io->sys->close(io->fd);
	io->fd = -1;
	free(io->buf);
	io->buf = NULL;
}

static int check_io(const struct hbio *io)
{
	if (io->fd < 0 || io->buf == NULL || !hb_sector_size_ok(io->sector_size))
		return -EBADF;
	return 0;
}

int hbio_read(struct hbio *io, uint32_t sector, uint8_t *out)
{
	off_t off = (off_t)sector * io->sector_size;
	ssize_t n = -1;
	int rc;

	if ((rc = check_io(io)) < 0)
		return rc;
	for (int i = 0; i < HBIO_EINTR_TRIES; i++) {
		n = io->sys->pread(io->fd, io->buf, io->sector_size, off);
		if (n >= 0 || errno != EINTR)
			break;
	}
	if (n < 0)
		return errno > 0 ? -errno : -EIO;
	if ((size_t)n != io->sector_size)
		return -EIO;
	memcpy(out, io->buf, io->sector_size);
	return 0;
}

int hbio_write(struct hbio *io, uint32_t sector, const uint8_t *in)
{
	off_t off = (off_t)sector * io->sector_size;
	ssize_t n = -1;
	int rc;

	if ((rc = check_io(io)) < 0)
		return rc;
	memcpy(io->buf, in, io->sector_size);
	for (int i = 0; i < HBIO_EINTR_TRIES; i++) {
		n = io->sys->pwrite(io->fd, io->buf, io->sector_size, off);
		if (n >= 0 || errno != EINTR)
			break;
	}
	if (n < 0)
		return errno > 0 ? -errno : -EIO;
	if ((size_t)n != io->sector_size)
		return -EIO;
	return 0;
}

/* The sector size field of a raw sbd header (big-endian at offset 12),
 * or 0 when the sector does not start with sbd's magic. */
static uint32_t raw_sector_size(const uint8_t *p)
{
	if (memcmp(p, HB_SBD_MAGIC, 8) != 0)
		return 0;
	return (uint32_t)p[12] << 24 | (uint32_t)p[13] << 16 |
	       (uint32_t)p[14] << 8 | (uint32_t)p[15];
}

int hbio_read_meta(struct hbio *io, struct hb_header *h, struct hb_region *r,
		   struct hb_layout *l)
{
	uint8_t sec[HBIO_BUF];
	int rc;

	memset(h, 0, sizeof(*h));
	memset(r, 0, sizeof(*r));
	memset(l, 0, sizeof(*l));

	/* Sector 0 at 512 bytes first; a 4096-byte header says so in its
	 * sector size field, and a 4096-byte logical-sector device refuses a
	 * 512-byte O_DIRECT read (EINVAL): both mean read 4096. */
	io->sector_size = 512;
	rc = hbio_read(io, 0, sec);
	if (rc == -EINVAL || (rc == 0 && raw_sector_size(sec) == 4096)) {
		io->sector_size = 4096;
		rc = hbio_read(io, 0, sec);
	}
	if (rc < 0)
		goto fail;
	rc = hb_header_decode(sec, io->sector_size, h);
	if (rc < 0)
		goto fail;
	rc = hb_layout(h->slots, h->sector_size, l);
	if (rc < 0)
		goto fail;
	rc = hbio_read(io, l->region, sec);
	if (rc < 0)
		goto fail;
	rc = hb_region_decode(sec, io->sector_size, r);
	if (rc < 0)
		goto fail;
	rc = hb_region_check(h, r);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	/* Keep the header a caller may want to print (a plain sbd disk:
	 * -ENODATA), but no half-checked region. */
	memset(r, 0, sizeof(*r));
	return rc;
}

int hbio_slot_find(struct hbio *io, const struct hb_layout *l, const char *name,
		   bool allocate, unsigned *slot)
{
	uint8_t sec[HBIO_BUF];
	struct hb_slot s;
	uint32_t sector;
	int first_free = -1, rc;

	if (name == NULL || name[0] == '\0' || strlen(name) >= HB_NAME_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < l->slots; i++) {
		if ((rc = hb_layout_slot(l, i, &sector)) < 0)
			return rc;
		if ((rc = hbio_read(io, sector, sec)) < 0)
			return rc;
		/* A slot that does not decode is neither ours nor free:
		 * leave it alone, as sbd would not list it either. */
		if (hb_slot_decode(sec, io->sector_size, &s) < 0)
			continue;
		if (!s.in_use) {
			if (first_free < 0)
				first_free = (int)i;
			continue;
		}
		/* sbd matches names with strncasecmp. */
		if (strcasecmp(s.name, name) == 0) {
			*slot = i;
			return 0;
		}
	}
	if (!allocate)
		return -ENOENT;
	if (first_free < 0)
		return -ENOSPC;
	memset(&s, 0, sizeof(s));
	s.in_use = true;
	memcpy(s.name, name, strlen(name) + 1);
	if ((rc = hb_slot_encode(&s, sec, io->sector_size)) < 0)
		return rc;
	if ((rc = hb_layout_slot(l, (unsigned)first_free, &sector)) < 0)
		return rc;
	if ((rc = hbio_write(io, sector, sec)) < 0)
		return rc;
	*slot = (unsigned)first_free;
	return 0;
}
