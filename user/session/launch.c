// SPDX-License-Identifier: MIT
#include "session/launch.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/invoking_user.h"

static void child_main(char *const argv[], int go_read, int status_write)
{
	char c;
	ssize_t n;
	do
		n = read(go_read, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(127); /* the profiler went away before releasing us */
	close(go_read);
	int e = 0;
	if (invoking_user_drop() != 0)
		e = errno ? errno : EPERM;
	else {
		execvp(argv[0], argv);
		e = errno;
	}
	if (write(status_write, &e, sizeof(e)) < 0) {
		/* nothing more we can tell the parent */
	}
	_exit(e == ENOENT ? 127 : 126);
}

int launch_prepare(char *const argv[], struct launched *out, char *err, size_t errlen)
{
	int go[2], status[2];
	if (pipe2(go, O_CLOEXEC) != 0 || pipe2(status, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		close(go[1]);
		close(status[0]);
		/* the profiler's signal handling must not leak into the command */
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		child_main(argv, go[0], status[1]);
	}
	close(go[0]);
	close(status[1]);
	out->pid = pid;
	out->go_fd = go[1];
	out->status_fd = status[0];
	return 0;
}

int launch_release(struct launched *l, char *err, size_t errlen)
{
	char c = 1;
	if (write(l->go_fd, &c, 1) != 1) {
		snprintf(err, errlen, "cannot start the command: %s", strerror(errno));
		return -1;
	}
	close(l->go_fd);
	l->go_fd = -1;
	int e = 0;
	ssize_t n;
	do
		n = read(l->status_fd, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(l->status_fd);
	l->status_fd = -1;
	if (n == (ssize_t)sizeof(e)) {
		snprintf(err, errlen, "cannot run the command: %s", strerror(e));
		return -1;
	}
	return 0;
}

void launch_abort(struct launched *l)
{
	if (l->go_fd >= 0)
		close(l->go_fd); /* the child reads EOF and exits */
	if (l->status_fd >= 0)
		close(l->status_fd);
	l->go_fd = l->status_fd = -1;
	if (l->pid > 0)
		waitpid(l->pid, NULL, 0);
}

bool launch_resolve_path(const char *cmd, char *out, size_t len)
{
	if (!cmd || !cmd[0])
		return false;
	if (strchr(cmd, '/')) {
		snprintf(out, len, "%s", cmd);
		return access(out, X_OK) == 0;
	}
	const char *path = getenv("PATH");
	for (const char *dir = path ? path : "/usr/local/bin:/usr/bin:/bin"; dir;) {
		const char *end = strchr(dir, ':');
		int n = end ? (int)(end - dir) : (int)strlen(dir);
		int w = snprintf(out, len, "%.*s/%s", n, n ? dir : ".", cmd);
		if (n == 0)
			w = snprintf(out, len, "./%s", cmd);
		if (w > 0 && (size_t)w < len && access(out, X_OK) == 0)
			return true;
		dir = end ? end + 1 : NULL;
	}
	return false;
}

int launch_exit_code(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return 1;
}

void launch_explain_not_found(const char *cmd, char *err, size_t errlen)
{
	const char *path = getenv("PATH");
	bool under_sudo = getenv("SUDO_USER") != NULL;

	if (strchr(cmd, '/')) {
		snprintf(err, errlen, "cannot run %s: %s", cmd, access(cmd, F_OK) == 0 ? "it is not executable"
											: "no such file");
		return;
	}
	/* `python` is the usual miss: Debian has only python3, and sudo resets PATH to secure_path */
	snprintf(err, errlen, "command not found: %s (searched PATH=%s)%s%s%s", cmd, path ? path : "",
		 under_sudo ? "; sudo resets PATH, so give the full path" : "",
		 !strcmp(cmd, "python") ? "; try python3" : "",
		 under_sudo && !strcmp(cmd, "python") ? " or $(which python)" : "");
}
