/* SPDX-License-Identifier: MIT */
/*
 * What user space installs for the in-kernel unwinder (bpf/native_unwind.bpf.h):
 * per process, its executable mappings sorted by start address, each naming
 * the file id whose row array (include/unwind_rows.h) describes it.
 */
#ifndef BPFSPY_NATIVE_UNWIND_H
#define BPFSPY_NATIVE_UNWIND_H

#include "bpfspy_types.h"
#include "unwind_rows.h"

#define UNWIND_MAX_FILES 16384        /* distinct files with tables loaded at once (id 0 = none) */
#define UNWIND_MAX_PROCS 16384        /* processes with tables installed */
#define UNWIND_MAX_PROC_MAPPINGS 1024 /* executable mappings per process */
/*
 * A mapping whose table user space builds only once a walk needs it (most
 * files a process maps are never on its stacks): a walk that stops there
 * wakes user space at once, so the samples after it have the table.
 */
#define UNWIND_ROWS_DEFERRED 0xffffffffu

struct unwind_proc_mapping {
	__u64 start, end; /* [start, end) */
	__u64 bias;       /* runtime address - ELF address */
	__u32 file_id;    /* index in unwind_files; 0: the file has no table */
	__u32 rows;       /* rows in that file's array; with file_id 0, UNWIND_ROWS_DEFERRED or 0 */
};

struct unwind_proc {
	__u32 count;
	__u32 _pad;
	struct unwind_proc_mapping m[UNWIND_MAX_PROC_MAPPINGS];
};

#endif
