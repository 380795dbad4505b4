/* SPDX-License-Identifier: MIT */
/*
 * Normalization: a user address of a process -> the file it is mapped from
 * (its path as the process sees it, its GNU build-id) and the address's
 * offset in that file. Unlike a name, this stays true after the process
 * exits and wherever the profile is read, so it is captured at record time
 * and kept apart from symbolization (blazesym's split): a backend that
 * symbolizes later, elsewhere, finds the file by build-id and the code by
 * offset.
 *
 * The build-id is read through the process's view of the file (its root, or
 * /proc/PID/map_files for a deleted or replaced file) via the ELF cache,
 * so each file is read once, and containers and exited binaries are right.
 * Each result is also remembered under its path in the cache
 * (elf_cache_mapped_build_id): the frames the recorder interns right after
 * know only that path, and file their module's build-id from it.
 */
#ifndef BPFSPY_SYM_NORMALIZE_H
#define BPFSPY_SYM_NORMALIZE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sym/native_symbols.h"

struct normalized_address {
	const char *module;   /* the mapping's path as /proc/PID/maps shows it ("[vdso]" kept); NULL if none */
	const char *build_id; /* GNU build-id, lowercase hex; "" if the file has none or cannot be read.
				 Owned by the ELF cache: valid as long as it is */
	uint64_t file_offset; /* of the address in module (for "[vdso]": in its image) */
};

/*
 * Normalizes addr, which lies in mapping m of process pid (m from a maps
 * snapshot of pid, as proc_maps_find gives it). Returns true when m is a
 * file-backed mapping or the vDSO; false (out->module NULL or a pseudo path
 * such as "[heap]", build_id "", file_offset 0) otherwise.
 */
bool normalize_mapped_address(struct elf_cache *c, pid_t pid, const struct proc_map *m, uint64_t addr,
			      struct normalized_address *out);

/* The same, finding the mapping of addr in maps first; false if there is none. */
bool normalize_user_address(struct elf_cache *c, pid_t pid, const struct proc_maps *maps, uint64_t addr,
			    struct normalized_address *out);

#endif
