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
#include <sys/vfs.h>
#include <unistd.h>

#include "util/invoking_user.h"

/* Large writes: a profile is written once, sequentially. */
#define OUTPUT_BUFFER_SIZE (1 << 20)
#define TEMP_NAME_ATTEMPTS 64

struct output_file {
	char *path;
	char *temp_path;
	char *dir;
	FILE *stream;
	int fd;
	bool direct; /* a stream (a descriptor of ours, a device, a FIFO): written in place, never replaced */
};

/* ---- error messages ---- */

static void set_error(char *err, size_t errlen, int errnum, const char *what, const char *path,
		      const char *dir)
{
	if (!err || !errlen)
		return;
	switch (errnum) {
	case ENOENT:
		if (access(dir, F_OK) == 0)
			snprintf(err, errlen, "cannot %s %s: %s does not accept new files", what, path, dir);
		else
			snprintf(err, errlen, "cannot %s %s: directory %s does not exist", what, path, dir);
		break;
	case ENXIO:
		snprintf(err, errlen, "cannot %s %s: it is a FIFO that no process is reading", what, path);
		break;
	case ELOOP:
		snprintf(err, errlen, "cannot %s %s: it is a symbolic link under /dev, which bpfspy does not follow",
			 what, path);
		break;
	case EXDEV:
		snprintf(err, errlen, "cannot %s %s: %s is a kernel file system, not a place for files", what,
			 path, dir);
		break;
	case EBADF:
		snprintf(err, errlen, "cannot %s %s: that descriptor is not open for writing", what, path);
		break;
	case ENOTDIR:
		snprintf(err, errlen, "cannot %s %s: %s is not a directory", what, path, dir);
		break;
	case EACCES:
	case EPERM:
		snprintf(err, errlen, "cannot %s %s: no permission to create files in %s%s", what,
			 path, dir, geteuid() == 0 && getenv("SUDO_UID") ? " (bpfspy writes as the user who ran sudo)" : "");
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

/* "-", /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N: one of our descriptors, or -1. */
static int our_descriptor(const char *path)
{
	if (!strcmp(path, "-") || !strcmp(path, "/dev/stdout"))
		return STDOUT_FILENO;
	if (!strcmp(path, "/dev/stderr"))
		return STDERR_FILENO;
	const char *num = !strncmp(path, "/dev/fd/", 8) ? path + 8 : !strncmp(path, "/proc/self/fd/", 14) ? path + 14 : NULL;
	if (!num || !*num)
		return -1;
	char *end;
	long fd = strtol(num, &end, 10);
	return *end || fd < 0 || fd > 65535 ? -1 : (int)fd;
}

static bool under_dev(const char *path)
{
	return !strncmp(path, "/dev/", 5);
}

/* An existing device, FIFO or socket (not through a symlink): written in place. */
static bool is_special_file(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
}

bool output_path_is_stream(const char *path)
{
	return our_descriptor(path) >= 0 || under_dev(path) || is_special_file(path);
}

/*
 * Opens a stream target in place. A FIFO is opened non-blocking first: with
 * no reader that fails with ENXIO at once instead of hanging the recording.
 */
static int open_stream_target(const char *path)
{
	int own = our_descriptor(path);
	if (own >= 0) {
		int flags = fcntl(own, F_GETFL);
		if (flags < 0 || (flags & O_ACCMODE) == O_RDONLY) {
			errno = EBADF;
			return -1;
		}
		return fcntl(own, F_DUPFD_CLOEXEC, 3);
	}
	struct stat st;
	if (lstat(path, &st) != 0)
		return under_dev(path) ? (errno = EPERM, -1) : -1;
	if (S_ISLNK(st.st_mode)) {
		errno = ELOOP;
		return -1;
	}
	if (S_ISBLK(st.st_mode) || !(S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) {
		errno = under_dev(path) ? EPERM : EINVAL;
		return -1;
	}
	int fd = open(path, O_WRONLY | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0) {
		int flags = fcntl(fd, F_GETFL);
		if (flags >= 0)
			fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	}
	return fd;
}

/* procfs, sysfs and friends accept no new files; say so instead of "does not exist". */
static bool on_kernel_file_system(const char *dir)
{
	struct statfs sfs;
	if (statfs(dir, &sfs) != 0)
		return false;
	switch ((unsigned long)sfs.f_type) {
	case 0x9fa0:     /* PROC_SUPER_MAGIC */
	case 0x62656572: /* SYSFS_MAGIC */
	case 0x64626720: /* DEBUGFS_MAGIC */
	case 0x74726163: /* TRACEFS_MAGIC */
	case 0x27e0eb:   /* CGROUP_SUPER_MAGIC */
	case 0x63677270: /* CGROUP2_SUPER_MAGIC */
	case 0xcafe4a11: /* BPF_FS_MAGIC */
		return true;
	default:
		return false;
	}
}

/* ---- lifecycle ---- */

static void output_file_free(struct output_file *of)
{
	free(of->path);
	free(of->temp_path);
	free(of->dir);
	free(of);
}

static struct output_file *open_as_user(const char *path, char *err, size_t errlen)
{
	struct output_file *of = calloc(1, sizeof(*of));
	int saved;

	if (of)
		of->fd = -1;
	if (!of || !(of->path = strdup(path)) || !(of->dir = directory_of(path))) {
		saved = ENOMEM;
		goto fail;
	}
	if (output_path_is_stream(path)) {
		of->direct = true;
		of->fd = open_stream_target(path);
	} else if (!*basename_of(path) || is_directory(path)) {
		errno = EISDIR;
	} else if (on_kernel_file_system(of->dir)) {
		errno = EXDEV;
	} else {
		of->fd = create_temp(of->dir, basename_of(path), &of->temp_path);
	}
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

struct output_file *output_file_open(const char *path, char *err, size_t errlen)
{
	struct fs_identity id;
	if (invoking_user_fs_enter(&id) != 0) {
		snprintf(err, errlen, "cannot write %s: cannot take the invoking user's identity: %s", path,
			 strerror(errno));
		return NULL;
	}
	struct output_file *of = open_as_user(path, err, errlen);
	invoking_user_fs_leave(&id);
	return of;
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
	if (!of->direct) {
		struct fs_identity id;
		bool as_user = invoking_user_fs_enter(&id) == 0;
		unlink(of->temp_path);
		if (as_user)
			invoking_user_fs_leave(&id);
	}
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

static int commit_as_user(struct output_file *of, char *err, size_t errlen)
{
	int rc = finish_data(of);

	if (rc) {
		set_error(err, errlen, rc, "write", of->path, of->dir);
		goto fail;
	}
	if (of->direct)
		goto done;
	if (rename(of->temp_path, of->path) != 0) {
		rc = errno;
		set_error(err, errlen, rc, "write", of->path, of->dir);
		goto fail;
	}
	sync_directory(of->dir);
done:
	output_file_free(of);
	return 0;
fail:
	if (!of->direct)
		unlink(of->temp_path);
	output_file_free(of);
	errno = rc;
	return -1;
}

int output_file_commit(struct output_file *of, char *err, size_t errlen)
{
	struct fs_identity id;
	errno = 0;
	if (invoking_user_fs_enter(&id) != 0) {
		int saved = errno;
		snprintf(err, errlen, "cannot write %s: cannot take the invoking user's identity: %s", of->path,
			 strerror(saved));
		output_file_abort(of);
		errno = saved;
		return -1;
	}
	int rc = commit_as_user(of, err, errlen);
	invoking_user_fs_leave(&id);
	return rc;
}

int output_path_check(const char *path, char *err, size_t errlen)
{
	/*
	 * A stream is opened only at the end: opening a FIFO now would need its
	 * reader now. Check what can be checked without opening it.
	 */
	if (output_path_is_stream(path)) {
		int own = our_descriptor(path);
		struct stat st;
		int e = 0;
		if (own >= 0) {
			int flags = fcntl(own, F_GETFL);
			if (flags < 0 || (flags & O_ACCMODE) == O_RDONLY)
				e = EBADF;
		} else if (lstat(path, &st) != 0) {
			e = under_dev(path) ? EPERM : errno;
		} else if (S_ISLNK(st.st_mode)) {
			e = ELOOP;
		} else if (!(S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) {
			e = EPERM;
		} else {
			struct fs_identity id;
			if (invoking_user_fs_enter(&id) != 0 || access(path, W_OK) != 0)
				e = errno ? errno : EPERM;
			invoking_user_fs_leave(&id);
		}
		if (!e)
			return 0;
		if (e == EPERM && under_dev(path) && own < 0)
			snprintf(err, errlen, "cannot write %s: bpfspy writes under /dev only to an existing device, "
				 "FIFO or socket, and never creates or replaces files there", path);
		else
			set_error(err, errlen, e, "write", path, ".");
		errno = e;
		return -1;
	}
	struct output_file *of = output_file_open(path, err, errlen);

	/* creating (and removing) the real temporary is the only check that sees ACLs, RO mounts, quotas */
	if (!of)
		return -1;
	output_file_abort(of);
	return 0;
}
