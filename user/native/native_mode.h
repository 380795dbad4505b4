/* SPDX-License-Identifier: MIT */
/*
 * --native: turns one sample's register set and user-stack snapshot into a
 * native stack (unwound with the CFI tables of each mapped file), names each
 * frame, and merges the Python frames the BPF walker reported into it, in
 * place of the eval-loop activations that ran them.
 */
#ifndef BPFSPY_NATIVE_MODE_H
#define BPFSPY_NATIVE_MODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bpfspy_types.h"
#include "bpfspy_events.h"
#include "profile/profile.h"
#include "python/py_native_merge.h"
#include "pyoffsets.h"
#include "sym/native_symbols.h"
#include "unwind_rows.h"

struct native_mode; /* per recorder: unwind tables cached per ELF build-id, stats */

struct native_mode *native_mode_new(struct elf_cache *elf, bool keep_all_frames /* --native-all */);
void native_mode_free(struct native_mode *m);

/*
 * An unnamed frame (no symbol: stripped code) is named by the start of its
 * function's FDE, "func@0x1a2b0 (module.so)", so one C function is one frame
 * in a flame graph, not one frame per address. pc: the looked-up address
 * (return address - 1).
 */
void native_mode_name_by_function(struct native_mode *m, pid_t pid, const struct proc_maps *maps, uint64_t pc,
				  struct native_frame *nf);

/* The per-file unwind tables, shared with the in-kernel unwinder's loader (native/kernel_unwind.h). */
struct unwind_cache *native_mode_unwind_cache(struct native_mode *m);

struct native_sample {
	pid_t pid;
	const struct proc_maps *maps;	 /* snapshot of the process's mappings */
	/* The caller may re-read the maps now (its rate limit allows): then an unwind that met code
	 * no mapping covers (a library loaded after the snapshot) builds nothing and says so. */
	bool maps_refreshable;
	uint64_t ip, sp, bp;		 /* user registers at the sample */
	const uint8_t *stack;
	size_t stack_len;		 /* copy of [sp, sp + stack_len) */
	/* Frames the in-kernel unwinder found (frames[0] = ip), or NULL. They are used unless the
	 * kernel stopped at code it had no table for and a snapshot came along to finish the walk. */
	const uint64_t *kernel_frames;
	size_t nkernel_frames;
	enum unwind_stop_reason kernel_stop;
	const struct py_frame_rec *py;
	size_t npy;			 /* innermost first, as the BPF walker reported */
	enum py_frame_model model;	 /* 0 when the process is not Python */
	bool py_truncated;
};

/* One sample's merged stack, valid until the next build. */
struct native_stack {
	const struct merge_item *items; /* innermost first */
	size_t count;
	const struct native_frame *const *names; /* of the MERGE_ITEM_NATIVE items, by their index */
	bool mismatch;	   /* groups and eval frames did not pair: both halves and a "[merge mismatch]" marker */
	bool maps_stale;   /* nothing built: re-read the maps and build again without maps_refreshable */
};

/*
 * Unwinds, symbolizes, merges into out. Python items stay records (indices
 * into s->py) for the caller to name: the merge needs no symbolizer. Never
 * drops a sample: a mismatch keeps both halves.
 */
void native_mode_build(struct native_mode *m, const struct native_sample *s, struct native_stack *out);

/* The frame of a native or marker item; false for a Python item (the caller names s->py[item->index]). */
bool native_stack_frame(const struct native_stack *st, size_t i, struct frame_desc *f);

struct native_mode_stats {
	uint64_t samples, merged, mismatches;
	uint64_t kernel_unwound;    /* samples whose native stack the kernel unwound */
	uint64_t compared;          /* kernel-unwound samples that also had a snapshot (--unwind compare) */
	uint64_t compared_equal;    /* of those, the ones both unwinders agreed on frame for frame */
	uint64_t reached_root;	    /* main/_start/clone reached */
	uint64_t unwind_stopped[8]; /* by enum unwind_stop_reason */
};
void native_mode_read_stats(const struct native_mode *m, struct native_mode_stats *out);

/* One line for the end summary, e.g. "native: 1234 samples, 99.9% merged, 99.8% reached main/_start". */
void native_mode_format_stats(const struct native_mode_stats *st, char *buf, size_t len);

#endif
