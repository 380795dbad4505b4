/* SPDX-License-Identifier: MIT */
/* Entry points of elf_symbols shared with the cache but not part of the public contract. */
#ifndef BPFSPY_SYM_ELF_SYMBOLS_INTERNAL_H
#define BPFSPY_SYM_ELF_SYMBOLS_INTERNAL_H

#include "sym/elf_reader.h"
#include "sym/native_symbols.h"

/*
 * Loads from an open fd (not closed here). logical_path is the file's path
 * inside root, used for the .gnu_debuglink search and reported by
 * elf_symbols_path; the fd may have come from elsewhere (/proc/PID/map_files).
 */
struct elf_symbols *elf_symbols_load_fd(int fd, const char *logical_path, const char *root,
				       const struct elf_name_source *source);

/* Only the build-id of the file behind fd, without reading its symbols. */
bool elf_symbols_read_build_id(int fd, char out[ELF_BUILD_ID_HEX_SIZE]);

#endif
