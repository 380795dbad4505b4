/* SPDX-License-Identifier: MIT */
/*
 * Mapped path -> the build-id last found there by the normalizer. A path
 * names one file at a time, but not forever (upgrades, containers), so an
 * entry is only as good as its last update: the recorder asks right after
 * normalizing a sample's addresses, while the process is alive.
 */
#ifndef BPFSPY_SYM_PATH_BUILD_IDS_H
#define BPFSPY_SYM_PATH_BUILD_IDS_H

struct path_build_ids;

struct path_build_ids *path_build_ids_new(void);
void path_build_ids_free(struct path_build_ids *t);
/*
 * Remembers build_id for path (copied). build_id is kept as a pointer: it
 * must outlive t (the ELF cache's strings, or a literal). Returns 0, or -1
 * (ENOMEM; the old entry, if any, stays).
 */
int path_build_ids_set(struct path_build_ids *t, const char *path, const char *build_id);
/* The build-id last set for path, or NULL if none was. */
const char *path_build_ids_get(const struct path_build_ids *t, const char *path);

#endif
