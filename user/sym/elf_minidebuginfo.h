/* SPDX-License-Identifier: MIT */
/*
 * MiniDebugInfo: Fedora, RHEL and others strip binaries but keep the
 * function symbols of .symtab in ".gnu_debugdata", an xz-compressed ELF
 * file, so that stack traces name static functions without debug packages.
 */
#ifndef BPFSPY_SYM_ELF_MINIDEBUGINFO_H
#define BPFSPY_SYM_ELF_MINIDEBUGINFO_H

#include <gelf.h>
#include <stddef.h>

/*
 * The ELF image in elf's .gnu_debugdata, decompressed into a malloc'd buffer
 * (*image, *size; the caller frees it). 0 on success, -ENOENT if the file has
 * no such section, -EINVAL if it does not decompress (corrupt, or larger
 * than a sane limit), -ENOMEM.
 */
int elf_minidebuginfo_read(Elf *elf, char **image, size_t *size);

#endif
