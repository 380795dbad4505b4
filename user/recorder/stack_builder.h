/* SPDX-License-Identifier: MIT */
/*
 * Turns one sample and what is known of its process into a stack of profile
 * frames, root first: kernel frames, native frames (frame-pointer or CFI
 * walks, or --native's unwind with the Python frames merged in), Python
 * frames and the marker frames that say where a walk stopped. It keeps no
 * state about threads or time and calls nothing back: the caller gets the
 * stack and what building it found.
 */
#ifndef BPFSPY_RECORDER_STACK_BUILDER_H
#define BPFSPY_RECORDER_STACK_BUILDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpfspy_events.h"
#include "profile/profile.h"
#include "process/target_process.h"

/* The longest stack a sample can make: every walk at its limit, plus markers. */
#define STACK_BUILDER_MAX_FRAMES (BPFSPY_MAX_USER_FRAMES + BPFSPY_MAX_KERNEL_FRAMES + BPFSPY_MAX_PY_DEPTH + 4)

struct stack_builder_options {
	bool kernel_stacks; /* --kernel */
	bool function_only; /* -F: a Python frame's line is its function's first */
	bool no_lineno;     /* --nolineno */
	bool native;        /* --native: merge Python frames into the unwound native stack */
	bool kernel_unwinder; /* the in-kernel unwinder runs: count native-only stacks that reached their root */
};

/* What building one stack found, for the recording's statistics. */
struct stack_build {
	size_t python_named;      /* Python frames named */
	size_t python_unresolved; /* Python frames whose code object could not be read */
	bool native_only;         /* default mode: a stack of kernel-unwound native frames */
	bool native_complete;     /* ... that reached the program's entry */
};

struct native_mode;
struct elf_cache;
struct record_async;
struct stack_builder;

/*
 * frames: where frames are interned (the profile's frame table). native:
 * --native's unwinder, or NULL. async: --async-aware's task reader, or NULL.
 */
struct stack_builder *stack_builder_new(const struct stack_builder_options *o, struct elf_cache *elf,
					struct native_mode *native, struct record_async *async, struct profile *frames);
void stack_builder_free(struct stack_builder *b);

/*
 * The stack of sample s (validated: its arrays fit its size), root first,
 * into out (STACK_BUILDER_MAX_FRAMES entries). p may be NULL (the process
 * could not be read). An off-CPU sample's leaf is the marker of why it waited.
 * Returns the number of frames.
 */
size_t stack_builder_build(struct stack_builder *b, const struct bpfspy_sample *s, struct target_process *p,
			   uint32_t *out, struct stack_build *found);

/*
 * --async-aware --idle: for off-CPU sample s of a thread whose event loop
 * waits, the stacks of its suspended tasks that await nothing (each ending
 * in "[await]"), packed as [length, frames root first...] in a new array
 * (*stacks, the caller's to free). Returns how many; 0 (and *stacks NULL)
 * when it is no idle event loop.
 */
size_t stack_builder_waiting_tasks(struct stack_builder *b, const struct bpfspy_sample *s, struct target_process *p,
				   uint32_t **stacks);

#endif
