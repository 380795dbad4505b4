/* SPDX-License-Identifier: MIT */
/*
 * Installs the tables of the in-kernel unwinder (bpf/native_unwind.bpf.h):
 * one BPF array of CFI rows per distinct file (built once per build-id by the
 * unwind cache, shared by every process that maps the file) and, per process,
 * its executable mappings. A file's array is freed when no installed process
 * maps it any more.
 */
#ifndef BPFSPY_NATIVE_KERNEL_UNWIND_H
#define BPFSPY_NATIVE_KERNEL_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "native/unwind_cache.h"
#include "sym/native_symbols.h"

struct kernel_unwind;

/* files_fd: the ARRAY_OF_MAPS file id -> rows; procs_fd: the HASH tgid -> struct unwind_proc. */
struct kernel_unwind *kernel_unwind_new(int files_fd, int procs_fd, struct unwind_cache *cache);
void kernel_unwind_free(struct kernel_unwind *k);

/*
 * (Re)installs pid's executable mappings from maps, loading the tables of
 * files not loaded yet. Returns 0, or -1 if the process entry could not be
 * written (then BPF uses frame pointers for it).
 */
int kernel_unwind_install(struct kernel_unwind *k, pid_t pid, const struct proc_maps *maps);
/*
 * The kernel's walk of pid stopped at pc. If pc lies in a mapping installed
 * without its table because no walk had needed it yet, asks the unwind cache
 * for it and returns true: install pid again to give the kernel the table.
 */
bool kernel_unwind_want(struct kernel_unwind *k, pid_t pid, const struct proc_maps *maps, uint64_t pc);
/* The process is gone (or exec'ed): drop its entry and its references to files. */
void kernel_unwind_forget(struct kernel_unwind *k, pid_t pid);

struct kernel_unwind_stats {
	uint64_t installs;	  /* process entries written */
	uint64_t files, rows;	  /* loaded now */
	uint64_t peak_rows;	  /* most rows loaded at once (16 bytes each) */
	uint64_t files_failed;	  /* tables that could not be loaded (map creation refused, ids exhausted) */
	uint64_t mappings_dropped; /* mappings beyond UNWIND_MAX_PROC_MAPPINGS */
	uint64_t deferred_mappings; /* installed without a table no walk had needed yet (summed over installs) */
};
void kernel_unwind_read_stats(const struct kernel_unwind *k, struct kernel_unwind_stats *out);

#endif
