/* SPDX-License-Identifier: MIT */
/*
 * Finding the separate debug file of an ELF file, the way GDB does: first
 * /usr/lib/debug/.build-id/xx/rest.debug (checked by build-id), then the
 * .gnu_debuglink name next to the file, in its .debug/ subdirectory and under
 * /usr/lib/debug/<dir> (checked by CRC32). All under an optional root.
 */
#ifndef BPFSPY_SYM_ELF_DEBUG_FILE_H
#define BPFSPY_SYM_ELF_DEBUG_FILE_H

#include <gelf.h>

/*
 * Opens the debug file of elf, whose path inside root is logical_path and
 * whose build-id is build_id ("" if none). Returns a read-only fd, or -1.
 */
int elf_debug_file_open(Elf *elf, const char *build_id, const char *logical_path, const char *root);

#endif
