/* SPDX-License-Identifier: MIT */
#ifndef BPFSPY_KERNEL_IDENTITY_H
#define BPFSPY_KERNEL_IDENTITY_H

#include <stddef.h>

/*
 * Which kernel build's BTF is running, cheaply: "release\nbtf-size\nbuild-id\n".
 * The build ID (from /sys/kernel/notes) is a hash of the whole vmlinux, and
 * its BTF is a section of it; reading the BTF itself to hash it would take
 * over a thousand reads (sysfs hands it out a page at a time). The build
 * writes the same line with kernel-btf-identity (kernel_identity_print.c).
 * Returns -1 when the kernel has no BTF or no build ID.
 */
int kernel_btf_identity(char *out, size_t size);

#endif
