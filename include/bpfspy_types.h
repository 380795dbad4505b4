/* SPDX-License-Identifier: MIT */
/* Fixed-width types for headers shared by BPF and user code. */
#ifndef BPFSPY_TYPES_H
#define BPFSPY_TYPES_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#endif
