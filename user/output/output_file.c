// SPDX-License-Identifier: MIT
#include "output/output_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* Large writes: a profile is written once, sequentially. */
#define OUTPUT_BUFFER_SIZE (1 << 20)
#define TEMP_NAME_ATTEMPTS 64

struct output_file {
	char *path;
	char *temp_path;
	char *dir;
	FILE *stream;
	int fd;
	uid_t uid;
	gid_t gid;
	bool direct; /* a device or FIFO (/dev/null, /dev/stdout): written in place, never replaced */
};

/* ---- error messages ---- */

static void set_error(char *err, size_t errlen, int errnum, const char *what, const char *path,
		      const char *dir)
{
	if (!err || !errlen)
		return;
	switch (errnum) {
	case ENOENT:
		snprintf(err, errlen, "cannot %s %s: directory %s does not exist", what, path, dir);
		break;
	case ENOTDIR:
		snprintf(err, errlen, "cannot %s %s: %s is not a directory", what, path, dir);
		break;
	case EACCES:
	case EPERM:
		snprintf(err, errlen, "cannot %s %s: no permission to create files in %s", what,
			 path, dir);
		break;
	case EROFS:
		snprintf(err, errlen, "cannot %s %s: %s is on a read-only file system", what, path,
			 dir);
		break;
	case ENOSPC:
	case EDQUOT:
		snprintf(err, errlen, "cannot %s %s: no space left on the device holding %s (%s)",
			 what, path, dir, strerror(errnum));
		break;
	case EISDIR:
		snprintf(err, errlen, "cannot %s %s: it is a directory", what, path);
		break;
	default:
		snprintf(err, errlen, "cannot %s %s: %s", what, path, strerror(errnum));
		break;
	}
}

/* ---- paths ---- */

static char *directory_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

static const char *basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* "<dir>/.<base>.<16 hex>.tmp": hidden, and unique without relying on the pid. */
static char *temp_name(const char *dir, const char *base)
{
	uint64_t r;
	char *name = NULL;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&r ^ (uint64_t)rand();
	if (asprintf(&name, "%s/.%s.%016llx.tmp", dir, base, (unsigned long long)r) < 0)
		return NULL;
	return name;
}

static int create_temp(const char *dir, const char *base, char **temp_path)
{
	for (int attempt = 0; attempt < TEMP_NAME_ATTEMPTS; attempt++) {
		char *name = temp_name(dir, base);

		if (!name)
			return -1;
		/* 0644 & ~umask, applied by the kernel; never through a symlink */
		int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);

		if (fd >= 0) {
			*temp_path = name;
			return fd;
		}
		int saved = errno;

		free(name);
		if (saved != EEXIST) {
			errno = saved;
			return -1;
		}
	}
	errno = EEXIST;
	return -1;
}

static bool is_directory(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * A device or FIFO target (/dev/null, a named pipe, /dev/stdout) is written
 * in place: renaming over it would replace the device node with a file. A
 * symlink is followed only when it lives under /dev/ or /proc/self/fd/ and
 * leads to such a target; any other symlink is replaced, never followed.
 */
static bool is_stream_target(const char *path, bool *block_device)
{
	struct stat lst, st;

	*block_device = false;
	if (lstat(path, &lst) != 0)
		return false;
	if (S_ISLNK(lst.st_mode)) {
		bool trusted = !strncmp(path, "/dev/", 5) || !strncmp(path, "/proc/self/fd/", 14);
		if (!trusted || stat(path, &st) != 0)
			return false;
	} else {
		st = lst;
	}
	*block_device = S_ISBLK(st.st_mode);
	return S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode);
}

static int open_stream_target(struct output_file *of)
{
	of->direct = true;
	of->fd = open(of->path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
	return of->fd;
}

/* ---- lifecycle ---- */

static void output_file_free(struct output_file *of)
{
	free(of->path);
	free(of->temp_path);
	free(of->dir);
	free(of);
}

struct output_file *output_file_open(const char *path, uid_t uid, gid_t gid,
				     char *err, size_t errlen)
{
	struct output_file *of = calloc(1, sizeof(*of));
	int saved;

	if (of)
		of->fd = -1;
	if (!of || !(of->path = strdup(path)) || !(of->dir = directory_of(path))) {
		saved = ENOMEM;
		goto fail;
	}
	of->uid = uid;
	of->gid = gid;
	if (!*basename_of(path) || is_directory(path)) {
		saved = EISDIR;
		goto fail;
	}
	bool block_device;
	if (is_stream_target(path, &block_device))
		open_stream_target(of);
	else if (block_device)
		of->fd = -1, errno = EINVAL;
	else
		of->fd = create_temp(of->dir, basename_of(path), &of->temp_path);
	if (of->fd < 0) {
		saved = errno;
		goto fail;
	}
	of->stream = fdopen(of->fd, "w");
	if (!of->stream) {
		saved = errno;
		goto fail;
	}
	setvbuf(of->stream, NULL, _IOFBF, OUTPUT_BUFFER_SIZE);
	return of;
fail:
	set_error(err, errlen, saved, "write", path, of && of->dir ? of->dir : ".");
	if (of) {
		if (of->fd >= 0) {
			close(of->fd);
			if (!of->direct)
				unlink(of->temp_path);
		}
		output_file_free(of);
	}
	errno = saved;
	return NULL;
}

FILE *output_file_stream(struct output_file *of)
{
	return of->stream;
}

void output_file_abort(struct output_file *of)
{
	if (!of)
		return;
	fclose(of->stream);
	if (!of->direct)
		unlink(of->temp_path);
	output_file_free(of);
}

/* Makes the data durable; returns 0 or an errno value. */
static int finish_data(struct output_file *of)
{
	int rc = 0;

	if (fflush(of->stream) != 0 || ferror(of->stream))
		rc = errno ? errno : EIO;
	if (!rc && !of->direct && fsync(of->fd) != 0)
		rc = errno;
	/* fclose also closes the fd; its error (e.g. a delayed ENOSPC on NFS) counts too */
	if (fclose(of->stream) != 0 && !rc)
		rc = errno ? errno : EIO;
	of->stream = NULL;
	return rc;
}

static void sync_directory(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	/* best effort: the rename is already visible, this only makes it survive a crash */
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int output_file_commit(struct output_file *of, char *err, size_t errlen)
{
	int rc = 0, owner_rc = 0, owner_errno = 0;

	errno = 0;
	if (of->direct) {
		rc = finish_data(of);
		if (rc)
			set_error(err, errlen, rc, "write", of->path, of->dir);
		output_file_free(of);
		errno = rc;
		return rc ? -1 : 0;
	}
	/* chown before rename so the file never appears under the final name with the wrong owner */
	if (of->uid != (uid_t)-1 || of->gid != (gid_t)-1) {
		if (fflush(of->stream) == 0 && fchown(of->fd, of->uid, of->gid) != 0) {
			owner_rc = 1;
			owner_errno = errno;
		}
	}
	rc = finish_data(of);
	if (rc) {
		set_error(err, errlen, rc, "write", of->path, of->dir);
		goto fail;
	}
	if (rename(of->temp_path, of->path) != 0) {
		rc = errno;
		set_error(err, errlen, rc, "write", of->path, of->dir);
		goto fail;
	}
	sync_directory(of->dir);
	if (owner_rc && err && errlen)
		snprintf(err, errlen, "wrote %s but could not give it to uid %d gid %d: %s",
			 of->path, (int)of->uid, (int)of->gid, strerror(owner_errno));
	output_file_free(of);
	return owner_rc;
fail:
	unlink(of->temp_path);
	output_file_free(of);
	errno = rc;
	return -1;
}

int output_path_check(const char *path, char *err, size_t errlen)
{
	bool block_device;
	/* opening a FIFO now would block until a reader comes: only check the permission */
	if (is_stream_target(path, &block_device)) {
		if (access(path, W_OK) == 0)
			return 0;
		set_error(err, errlen, errno, "write", path, ".");
		return -1;
	}
	struct output_file *of = output_file_open(path, OUTPUT_FILE_NO_CHOWN,
						  OUTPUT_FILE_NO_CHOWN, err, errlen);

	/* creating (and removing) the real temporary is the only check that sees ACLs, RO mounts, quotas */
	if (!of)
		return -1;
	output_file_abort(of);
	return 0;
}
