/* SPDX-License-Identifier: MIT */
#ifndef BPFSPY_KERNEL_BTF_H
#define BPFSPY_KERNEL_BTF_H

#include <stddef.h>

/*
 * libbpf relocates the BPF programs' kernel struct accesses (CO-RE) against
 * a BTF it parses first: the running kernel's whole one is ~5 MB and ~45 ms
 * of every start. The build cuts from the build machine's BTF only the types
 * the programs use and embeds them, with the identity of that BTF (kernel
 * release, BTF size and kernel build ID: sampler/kernel_identity.h). On
 * that kernel this returns a file descriptor holding them and writes a path
 * libbpf can open to path; on any other kernel it returns -1 and libbpf
 * parses the running kernel's BTF as before.
 */
int kernel_btf_min_open(char *path, size_t path_size);

#endif
