/*
 * hactl keygen: write a new cluster key for the migration transport
 * (xport.h), like corosync-keygen writes corosync's authkey.
 *
 *   hactl keygen [-f FILE] [--force]
 *
 * 64 bytes from getrandom(2), mode 0400, written to a temporary file in
 * the same directory, fsync'ed, then renamed over FILE (and the
 * directory fsync'ed), so FILE is either the old key or the whole new
 * one, never a torn one.  Without --force an existing FILE is left alone:
 * replacing the key of a running cluster breaks migrations until every
 * host has the new one.
 *
 * Exit status (own to this command, see hactl(8)): 0 written, 1 usage,
 * 2 FILE exists, 3 I/O error.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hactl.h"

#define KEYGEN_BYTES 64
#define KEYGEN_DEFAULT SYSCONFDIR "/xenha/authkey"

enum {
	KEYGEN_OK = 0,
	KEYGEN_USAGE = 1,
	KEYGEN_EXISTS = 2,
	KEYGEN_IO = 3,
};

int hactl_keygen(int argc, char **argv);

static const char keygen_usage[] =
"Usage: hactl keygen [-f FILE] [--force]\n"
"\n"
"Write a new cluster key (64 random bytes, mode 0400) for the migration\n"
"transport to FILE (default " KEYGEN_DEFAULT ").  Copy the same file to\n"
"every host of the cluster.  --force replaces an existing key.\n"
"Exit status: 0 written, 1 usage, 2 FILE exists, 3 I/O error.\n";


static int write_all(int fd, const unsigned char *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = write(fd, buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		off += (size_t)n;
	}
	return 0;
}

static int fill_random(unsigned char *buf, size_t len)
{
	size_t off = 0;

	/* getrandom() blocks until the pool is initialised, then returns
	 * up to 256 bytes at once; a signal may cut it short. */
	while (off < len) {
		ssize_t n = getrandom(buf + off, len - off, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		off += (size_t)n;
	}
	return 0;
}

/* The directory of path, for the temporary file and the final fsync. */
static void dir_of(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(dir, len, ".");
	else if (slash == path)
		snprintf(dir, len, "/");
	else
		snprintf(dir, len, "%.*s", (int)(slash - path), path);
}

static int write_key(const char *path, bool force)
{
	unsigned char key[KEYGEN_BYTES];
	char tmp[PATH_MAX], dir[PATH_MAX];
	int fd, dfd, rc, st = KEYGEN_IO;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= sizeof(tmp))
		return hactl_say(KEYGEN_USAGE, "keygen: file name too long");
	if (!force && access(path, F_OK) == 0)
		return hactl_say(KEYGEN_EXISTS, "keygen: %s exists; give --force to replace "
			   "it (then copy it to every host)", path);
	dir_of(path, dir, sizeof(dir));
	fd = mkstemp(tmp);
	if (fd < 0)
		return hactl_say(KEYGEN_IO, "keygen: cannot create a file in %s: %s", dir,
			   strerror(errno));
	if (fchmod(fd, 0400) != 0) {
		rc = -errno;
		hactl_say(0, "keygen: chmod %s: %s", tmp, strerror(-rc));
		goto fail;
	}
	if ((rc = fill_random(key, sizeof(key))) != 0) {
		hactl_say(0, "keygen: getrandom: %s", strerror(-rc));
		goto fail;
	}
	rc = write_all(fd, key, sizeof(key));
	explicit_bzero(key, sizeof(key));
	if (rc != 0 || fsync(fd) != 0) {
		rc = rc != 0 ? rc : -errno;
		hactl_say(0, "keygen: write %s: %s", tmp, strerror(-rc));
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = -errno;
		hactl_say(0, "keygen: close %s: %s", tmp, strerror(-rc));
		goto fail;
	}
	fd = -1;
	/* Without --force, never replace a key that appeared meanwhile. */
	if (force)
		rc = rename(tmp, path);
	else
		rc = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);
	if (rc != 0) {
		rc = -errno;
		if (rc == -EEXIST) {
			st = hactl_say(KEYGEN_EXISTS, "keygen: %s exists; give --force to "
				 "replace it", path);
			goto fail_quiet;
		}
		hactl_say(0, "keygen: rename %s to %s: %s", tmp, path, strerror(-rc));
		goto fail;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) != 0) {
		hactl_say(0, "keygen: fsync %s: %s (the key is written but may not "
		    "survive a crash)", dir, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return KEYGEN_IO;
	}
	close(dfd);
	printf("hactl: wrote a new cluster key to %s (%d bytes, mode 0400); copy "
	       "it to every host\n", path, KEYGEN_BYTES);
	return fflush(stdout) == 0 ? KEYGEN_OK : KEYGEN_IO;
fail:
	st = KEYGEN_IO;
fail_quiet:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return st;
}

int hactl_keygen(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "force", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *path = KEYGEN_DEFAULT;
	bool force = false;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, ":f:h", lo, NULL)) != -1) {
		switch (c) {
		case 'f':
			path = optarg;
			break;
		case 'F':
			force = true;
			break;
		case 'h':
			fputs(keygen_usage, stdout);
			return KEYGEN_OK;
		case ':':
			return hactl_say(KEYGEN_USAGE, "keygen: option %s needs an argument\n"
				   "Try 'hactl keygen --help'.", argv[optind - 1]);
		default:
			return hactl_say(KEYGEN_USAGE, "keygen: unknown option %s\n"
				   "Try 'hactl keygen --help'.", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return hactl_say(KEYGEN_USAGE, "keygen: unexpected argument \"%s\"\n"
			   "Try 'hactl keygen --help'.", argv[optind]);
	if (path[0] == '\0')
		return hactl_say(KEYGEN_USAGE, "keygen: empty file name");
	return write_key(path, force);
}
