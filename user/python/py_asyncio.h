/* SPDX-License-Identifier: MIT */
/*
 * asyncio tasks of a live CPython 3.14+ process. The _asyncio module
 * describes its task object and where the interpreter and each thread state
 * keep their task lists in _Py_AsyncioModuleDebugOffsets, an ELF section
 * (.AsyncioDebug) of whichever file holds _asyncio: the executable or
 * libpython when it is built in (3.15 here), its own shared object otherwise.
 * Everything read from the target is untrusted: every list, set and chain
 * walk is bounded.
 */
#ifndef BPFSPY_PY_ASYNCIO_H
#define BPFSPY_PY_ASYNCIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "python/python.h"

/* _Py_AsyncioModuleDebugOffsets, as decoded (byte offsets and struct sizes). */
struct py_asyncio_offsets {
	uint64_t task_size, task_name, task_awaited_by, task_is_task, task_awaited_by_is_set, task_coro,
		task_node;
	uint64_t interp_size, interp_tasks_head;
	uint64_t ts_size, ts_running_loop, ts_running_task, ts_tasks_head;
};

#define PY_ASYNCIO_SECTION ".AsyncioDebug"
#define PY_ASYNCIO_OFFSETS_LEN 0x68 /* 13 uint64_t */

/* Decodes the section's bytes; -1 with a reason in err for a short or implausible block. */
int py_asyncio_offsets_decode(const uint8_t *buf, size_t len, struct py_asyncio_offsets *out, char *err,
			      size_t errlen);

/*
 * Finds .AsyncioDebug in the files pid maps (executable, libpython,
 * _asyncio*.so) and decodes it from the file on disk. Returns 0; 1 when no
 * mapped file has the section (_asyncio not loaded: asyncio not imported
 * yet), with err saying so; -1 with one line in err for an unreadable or
 * implausible section.
 */
int py_asyncio_find_offsets(pid_t pid, const struct proc_maps *maps, struct elf_cache *cache,
			    struct py_asyncio_offsets *out, char *err, size_t errlen);

enum py_task_state {
	PY_TASK_NOT_STARTED = 0, /* its coroutine has not run yet */
	PY_TASK_SUSPENDED,       /* waiting for what it awaits */
	PY_TASK_RUNNING,         /* its coroutine is executing now */
	PY_TASK_DONE,            /* its coroutine finished (result, exception or cancelled) */
};

#define PY_TASK_NAME_MAX 256
#define PY_TASK_MAX_FRAMES 64   /* coroutines followed down one await chain */
#define PY_TASK_MAX_AWAITERS 16 /* awaited_by entries kept per task */

struct py_task {
	uint64_t addr;          /* the Task object: its id */
	uint64_t tstate;        /* the thread state whose list holds it; 0: the interpreter's (thread gone) */
	uint32_t native_tid;    /* that thread's kernel TID (in the target's namespace), 0 if none */
	char name[PY_TASK_NAME_MAX]; /* Task.get_name(): "Task-N" until named */
	enum py_task_state state;
	bool running;           /* the thread's current task (asyncio_running_task) */
	uint64_t coro_frame;    /* the task coroutine's embedded frame, 0 if it has none */
	/*
	 * The coroutine chain where the task is suspended: its coroutine, what
	 * that awaits, and so on down to the first awaitable that is no
	 * coroutine (a Future). Innermost first, as the frame walker reports a
	 * stack. A running task has its coroutine's frame only (the rest is on
	 * the thread's stack).
	 */
	struct py_frame_rec frames[PY_TASK_MAX_FRAMES];
	size_t nframes;
	bool frames_truncated;
	uint64_t awaited_by[PY_TASK_MAX_AWAITERS]; /* tasks awaiting this one */
	size_t nawaited_by;
	bool awaited_by_truncated;
};

struct py_task_list {
	struct py_task *tasks; /* threads in interpreter order, each thread's tasks in list order */
	size_t n;
	bool truncated;        /* more tasks than PY_ASYNCIO_MAX_TASKS */
};

#define PY_ASYNCIO_MAX_TASKS 4096

/*
 * Reads every task of every thread of every interpreter of pid, then the
 * interpreter's list (tasks whose thread has ended). Returns 0, or -1 with
 * err when the memory could not be read consistently (a list changed under
 * the read: retry) or t has no asyncio layout (before 3.14).
 */
int py_asyncio_read_tasks(pid_t pid, const struct py_target *t, const struct py_asyncio_offsets *ao,
			  struct py_task_list *out, char *err, size_t errlen);
void py_task_list_free(struct py_task_list *l);

/* Where the task reader's reads go instead of a live process (tests: memory built to be corrupt). */
struct py_async_source {
	int (*read)(void *ctx, uint64_t addr, void *buf, size_t len); /* 0, or -1 */
	void *ctx;
};
int py_asyncio_read_tasks_from(const struct py_async_source *src, const struct py_target *t,
			       const struct py_asyncio_offsets *ao, struct py_task_list *out, char *err, size_t errlen);

/*
 * One task by address (record --async-aware: the task a sample ran):
 * name, state, chain and awaited_by as in py_asyncio_read_tasks, with tstate
 * and native_tid left 0. Returns 0 or -1 (not a readable task).
 */
int py_asyncio_read_task(pid_t pid, const struct py_target *t, const struct py_asyncio_offsets *ao, uint64_t addr,
			 struct py_task *out);

/* The running task of thread state tstate (0 when no loop runs in it); -1 if unreadable. */
int py_asyncio_running_task(pid_t pid, const struct py_asyncio_offsets *ao, uint64_t tstate, uint64_t *task);

const char *py_task_state_name(enum py_task_state s);

/* ---- a sample's stack as asyncio sees it (record --async-aware) ---- */

#define PY_ASYNC_MAX_TASK_LEVELS 32 /* awaiting tasks followed up from the one that ran */

/* Decoded tasks reused across samples of one process (see py_asyncio.c); NULL: none. */
struct py_async_cache;
struct py_async_cache *py_async_cache_new(void);
void py_async_cache_free(struct py_async_cache *c);

/* One entry of an async-aware stack: a frame, or the task whose frames follow it (outward). */
struct py_async_item {
	bool is_task;
	struct py_frame_rec rec;    /* !is_task */
	char task_name[PY_TASK_NAME_MAX]; /* is_task */
};

/*
 * The stack of a sample whose thread ran task `task` (bpfspy_sample.asyncio_task),
 * py[0..n) being the walked frames (innermost first): the frames down to
 * the task coroutine's own frame, the task, then each task awaiting it in
 * turn — the coroutine chain where it awaits, then the task — up to a task
 * nobody awaits. The event loop's frames under the task are left out.
 * Writes at most max items innermost first; returns their count, or 0 when
 * the task's coroutine is not on the sampled stack or the task cannot be
 * read (the caller keeps the plain stack).
 */
size_t py_asyncio_sample_stack(pid_t pid, const struct py_target *t, const struct py_asyncio_offsets *ao,
			       struct py_async_cache *cache, uint64_t task, const struct py_frame_rec *py, size_t n,
			       struct py_async_item *out, size_t max);

/* Suspended tasks given their own stack per idle interval (py_asyncio_waiting_stacks). */
#define PY_ASYNC_MAX_WAITING 256

typedef int (*py_async_stack_cb)(const struct py_async_item *items, size_t n, void *arg);

/*
 * For thread state tstate when its event loop is waiting (a loop set, no
 * task running): calls cb with the stack of each suspended task that awaits
 * no other task (its coroutine chain where it awaits, innermost first, then
 * its marker and its awaiting tasks as in py_asyncio_sample_stack), built in
 * items[0..max). At most PY_ASYNC_MAX_WAITING stacks; cb returning non-zero
 * stops. Returns the number of stacks given, 0 when the thread runs no idle
 * loop, or -1 when the tasks could not be read.
 */
int py_asyncio_waiting_stacks(pid_t pid, const struct py_target *t, const struct py_asyncio_offsets *ao,
			      struct py_async_cache *cache, uint64_t tstate, struct py_async_item *items, size_t max,
			      py_async_stack_cb cb, void *arg);

#endif
