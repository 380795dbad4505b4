/* SPDX-License-Identifier: MIT */
/*
 * record --async-aware: per Python process, finds asyncio's debug offsets
 * (once _asyncio is loaded) so BPF captures each sample's running task, and
 * turns a sample that ran a task into that task's coroutines with the tasks
 * awaiting it above, in place of the event loop's frames.
 */
#ifndef BPFSPY_RECORD_ASYNC_H
#define BPFSPY_RECORD_ASYNC_H

#include <stdbool.h>
#include <stddef.h>

#include "bpfspy_events.h"
#include "python/py_asyncio.h"

struct target_process;
struct elf_cache;
struct record_async;

struct record_async *record_async_new(void);
void record_async_free(struct record_async *a);

/*
 * For a sample of Python process p: looks for its asyncio offsets if not
 * known yet (at most every 200 ms) and sets p->py.proc.off.ts_asyncio_task.
 * Returns true when that changed: the caller installs p->py.proc in BPF.
 */
bool record_async_prepare(struct record_async *a, struct target_process *p, struct elf_cache *cache);

/*
 * The async-aware stack of sample s (py: its Python frames), innermost
 * first, in a buffer owned by a (valid until the next call); *n 0 when the
 * sample ran no task or the task could not be read: keep the plain stack.
 */
const struct py_async_item *record_async_stack(struct record_async *a, struct target_process *p,
					       const struct bpfspy_sample *s, const struct py_frame_rec *py,
					       size_t *n);

/*
 * --idle: for an off-CPU sample s of a thread whose event loop waits, calls
 * cb with the async-aware stack (innermost first) of each suspended task
 * that awaits no other task. Returns how many stacks were given (0: not an
 * idle event loop, or unreadable: keep the plain stack).
 */
size_t record_async_waiting(struct record_async *a, struct target_process *p, const struct bpfspy_sample *s,
			    py_async_stack_cb cb, void *arg);

/* Samples turned into task stacks, and samples that ran a task that could not be read. */
void record_async_counts(const struct record_async *a, unsigned long long *stacks, unsigned long long *missed);

#endif
