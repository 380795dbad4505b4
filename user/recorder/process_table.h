/* SPDX-License-Identifier: MIT */
/*
 * The processes a recording follows, keyed by PID: each one's lifecycle
 * (first sight, fork, exec, new code mapped, exit), Python detection and its
 * configuration in BPF, and the queue of processes whose unwind tables the
 * in-kernel unwinder waits for. Nothing here builds a stack.
 */
#ifndef BPFSPY_RECORDER_PROCESS_TABLE_H
#define BPFSPY_RECORDER_PROCESS_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bpfspy_events.h"
#include "process/target_process.h"

struct sampler;
struct kernel_unwind;
struct elf_cache;
struct process_table;

struct process_table *process_table_new(struct elf_cache *elf);
/*
 * Without --native a sample with Python frames shows only them, so a Python
 * process's native stacks matter only in samples without any (interpreter
 * start-up and exit, threads that run no Python); until its tables are
 * installed those unwind from a stack copy. With on_demand, the tables (an
 * interpreter's are tens of milliseconds of work) of a Python process that
 * ran before the session (process_table_get's ran_before) wait for its first
 * such sample (process_table_native_stack_needed): attached to a process
 * that runs Python, they are never built. A process started during the
 * session (a launched command, an exec) gets them at once: its start-up is
 * all native samples.
 */
void process_table_defer_python_tables(struct process_table *pt, bool on_demand);
/* A sample of p had no Python frames and was not unwound from tables: install them now. */
void process_table_native_stack_needed(struct process_table *pt, struct target_process *p);
/* Frees every process. */
void process_table_free(struct process_table *pt);

/* Where detected Python configs go (may be NULL), and the in-kernel unwinder's tables (may be NULL). */
void process_table_connect(struct process_table *pt, struct sampler *s, struct kernel_unwind *ku);

struct target_process *process_table_find(const struct process_table *pt, uint32_t pid);

/*
 * Whether a Python process has imported threading, or has a thread besides
 * its main one still waiting for its name (the first read of threading's
 * table may come before the import): its threads come and go with names
 * that are read from the live process, so its samples are worth handling
 * promptly (see recorder_wants_prompt_handling).
 */
bool process_table_has_threading(const struct process_table *pt);

/*
 * The process, read now if it is new (maps, Python detection, unwind tables
 * queued, unless ran_before defers a Python process's: an attach target, a
 * process found by -a). *became_python (may be NULL) says Python was
 * detected by this call: the caller's per-thread state about it may need a
 * second look. NULL when out of memory.
 */
struct target_process *process_table_get(struct process_table *pt, pid_t pid, const char *comm, bool ran_before,
					 bool *became_python);

/* Installs p's Python config in BPF again (it changed: asyncio's offsets found). */
void process_table_install_python(struct process_table *pt, struct target_process *p);

/* Python detection again (a pending process, a last look at the end). True when it became Python now. */
bool process_table_detect(struct process_table *pt, struct target_process *p);

/* The lifecycle records BPF sends. Each returns true when p became Python. */
bool process_table_on_exec(struct process_table *pt, const struct bpfspy_proc_event *e);
bool process_table_on_fork(struct process_table *pt, const struct bpfspy_proc_event *e);
bool process_table_on_mmap_exec(struct process_table *pt, const struct bpfspy_proc_event *e);
/* The process is gone: everything BPF sent about it was ahead of its exit record. */
void process_table_on_exit(struct process_table *pt, uint32_t pid);

/*
 * The in-kernel unwinder stopped at stop_pc for want of a table: code mapped
 * since the maps were read (a library mapped before the mmap hook saw it: the
 * stale-maps policy re-reads them), or a file whose table no walk had needed
 * before. Queues the process's tables again.
 */
void process_table_table_missed(struct process_table *pt, struct target_process *p, uint64_t stop_pc);

/*
 * Installs the unwind tables of up to max_processes queued processes (oldest
 * first); between batches of records, never from the ring-buffer callback:
 * building a table takes milliseconds per file. Returns how many still wait.
 */
size_t process_table_install_queued_tables(struct process_table *pt, size_t max_processes);

size_t process_table_seen(const struct process_table *pt);        /* processes seen */
size_t process_table_python_count(const struct process_table *pt); /* of which Python now */

/* Visits every process; cursor starts at 0; NULL at the end. Do not add or remove while visiting. */
struct target_process *process_table_next(const struct process_table *pt, size_t *cursor);

#endif
