/* SPDX-License-Identifier: MIT */
/*
 * Who bpfspy acts for. Run through sudo, bpfspy holds root's privileges only
 * to load BPF and read other processes; everything it does with files
 * (creating the output, renaming it into place, falling back elsewhere) and
 * everything it runs (the launched command) happens with the rights of the
 * user who typed `sudo bpfspy`, so sudo grants nothing beyond profiling.
 */
#ifndef BPFSPY_INVOKING_USER_H
#define BPFSPY_INVOKING_USER_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * SUDO_UID/SUDO_GID when running as root through sudo for a non-root user
 * (returns true); otherwise our own real ids (returns false).
 */
bool invoking_user_ids(uid_t *uid, gid_t *gid);

/*
 * Drops to the invoking user for good: supplementary groups, gid, uid, and
 * HOME/USER/LOGNAME. For commands that never need privileges (convert, the
 * launched command). A no-op when not under sudo. Returns 0 or -1 (errno).
 */
int invoking_user_drop(void);

/*
 * File-system identity: between enter and leave, file operations of this
 * thread are checked against the invoking user's uid, gid and groups
 * (setfsuid/setfsgid/setgroups), and files it creates are that user's. No-op
 * when not under sudo. enter returns 0 or -1 (errno; nothing changed).
 */
struct fs_identity {
	bool active;
	uid_t saved_fsuid;
	gid_t saved_fsgid;
	int ngroups;
	gid_t groups[64];
};
int invoking_user_fs_enter(struct fs_identity *id);
void invoking_user_fs_leave(struct fs_identity *id);

/* The invoking user's home directory, or NULL. */
const char *invoking_user_home(void);

#endif
