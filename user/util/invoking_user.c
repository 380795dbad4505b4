// SPDX-License-Identifier: MIT
#include "util/invoking_user.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/fsuid.h>
#include <unistd.h>

#define MAX_USER_GROUPS 64

static bool parse_id(const char *s, unsigned long *out)
{
	char *end;
	if (!s || !*s)
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno == 0 && *end == '\0';
}

bool invoking_user_ids(uid_t *uid, gid_t *gid)
{
	unsigned long u, g;
	*uid = getuid();
	*gid = getgid();
	if (geteuid() == 0 && parse_id(getenv("SUDO_UID"), &u) && parse_id(getenv("SUDO_GID"), &g) && u != 0) {
		*uid = (uid_t)u;
		*gid = (gid_t)g;
		return true;
	}
	return false;
}

/* The user's supplementary groups (the primary one included); 0 entries if unknown. */
static int user_groups(uid_t uid, gid_t gid, gid_t *groups, int max)
{
	struct passwd *pw = getpwuid(uid);
	int n = max;
	if (!pw || getgrouplist(pw->pw_name, gid, groups, &n) < 0) {
		groups[0] = gid;
		return 1;
	}
	return n;
}

int invoking_user_drop(void)
{
	uid_t uid;
	gid_t gid;
	if (!invoking_user_ids(&uid, &gid))
		return 0;
	gid_t groups[MAX_USER_GROUPS];
	int n = user_groups(uid, gid, groups, MAX_USER_GROUPS);
	if (setgroups((size_t)n, groups) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
		return -1;
	struct passwd *pw = getpwuid(uid);
	if (pw) {
		setenv("HOME", pw->pw_dir, 1);
		setenv("USER", pw->pw_name, 1);
		setenv("LOGNAME", pw->pw_name, 1);
	}
	return 0;
}

int invoking_user_fs_enter(struct fs_identity *id)
{
	uid_t uid;
	gid_t gid;
	id->active = false;
	if (!invoking_user_ids(&uid, &gid))
		return 0;
	id->ngroups = getgroups(MAX_USER_GROUPS, id->groups);
	if (id->ngroups < 0)
		return -1;
	gid_t groups[MAX_USER_GROUPS];
	int n = user_groups(uid, gid, groups, MAX_USER_GROUPS);
	/* groups first: with the fs uid no longer root, only the user's own groups may grant access */
	if (setgroups((size_t)n, groups) != 0)
		return -1;
	id->saved_fsgid = (gid_t)setfsgid(gid);
	id->saved_fsuid = (uid_t)setfsuid(uid);
	/* setfsuid reports no error: asking again returns the current value */
	if ((uid_t)setfsuid(uid) != uid || (gid_t)setfsgid(gid) != gid) {
		id->active = true;
		invoking_user_fs_leave(id);
		errno = EPERM;
		return -1;
	}
	id->active = true;
	return 0;
}

void invoking_user_fs_leave(struct fs_identity *id)
{
	if (!id->active)
		return;
	int saved = errno;
	setfsuid(id->saved_fsuid);
	setfsgid(id->saved_fsgid);
	setgroups((size_t)id->ngroups, id->groups);
	id->active = false;
	errno = saved;
}

const char *invoking_user_home(void)
{
	uid_t uid;
	gid_t gid;
	invoking_user_ids(&uid, &gid);
	struct passwd *pw = getpwuid(uid);
	return pw ? pw->pw_dir : getenv("HOME");
}
