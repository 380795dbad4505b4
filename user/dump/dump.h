/* SPDX-License-Identifier: MIT */
/*
 * `bpfspy dump`: the Python stacks of every thread of a live process, read
 * through /proc/PID/mem without pausing it, so blocked threads show up as
 * well as running ones. A stack is only shown once a second read confirms
 * it; one that keeps changing is marked so, never shown torn.
 */
#ifndef BPFSPY_DUMP_H
#define BPFSPY_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct elf_cache;
struct py_local;

struct dump_frame {
	char *name;
	char *file; /* NULL if the code object could not be read; the module of a native frame */
	int line;
	struct py_local *locals; /* with --locals; NULL otherwise */
	size_t nlocals;
	bool locals_unreadable;  /* --locals asked, but the frame's locals could not be read */
	bool native; /* --native: a native frame (file is its ELF module, no line) */
};

struct dump_thread {
	pid_t tid;            /* kernel TID, 0 when no OS thread matched */
	uint64_t thread_id;   /* Python's thread id (pthread_t) */
	char name[256];       /* threading's name, else the OS name; "" when unknown */
	char state;           /* /proc/PID/task/TID/stat state letter, 0 when unknown */
	bool holds_gil;
	struct dump_frame *frames; /* most recent call last */
	size_t nframes;
	bool truncated;       /* outermost frames missing (depth limit) */
	bool changing;        /* the stack changed under every read: no frames shown */
	bool native;          /* --native: frames are the merged native + Python stack */
	const char *native_note; /* --native: why this thread has Python frames only, else NULL */
};

/* One asyncio task (dump --async). */
struct dump_task {
	uint64_t id;          /* the Task object's address, as asyncio pstree shows it */
	char name[256];
	const char *state;    /* "suspended", "running", "not started", "done" */
	bool running;         /* its thread's current task */
	pid_t tid;            /* the thread whose task list holds it; 0: its thread has ended */
	struct dump_frame *frames; /* its coroutine chain, most recent call last */
	size_t nframes;
	bool truncated;       /* the chain went deeper than was followed */
	uint64_t *awaited_by; /* ids of the listed tasks that await it */
	size_t nawaited_by;
};

struct dump_snapshot {
	pid_t pid;
	char cmdline[512];
	char python_version[16];
	char python_module[256]; /* the ELF that holds _PyRuntime */
	bool gil_known;          /* the GIL holder could be read */
	bool locals;             /* frames carry their local variables */
	struct dump_thread *threads; /* sorted by TID, unmatched threads last */
	size_t nthreads;
	bool native_requested;   /* --native */
	struct elf_cache *elf;   /* while the snapshot is taken */
	bool async_requested;    /* --async */
	struct dump_task *tasks; /* with --async: threads in order, each thread's tasks in creation order */
	size_t ntasks;
	bool tasks_truncated;    /* more tasks than were read */
	const char *async_note;  /* why there are no tasks to read (a static string), NULL otherwise */
};

/* A thread's frames as the walker read them (innermost first), for --async's running tasks. */
struct dump_raw_stack {
	uint64_t tstate;
	const struct py_frame_rec *frames;
	const uint64_t *addrs;
	size_t n;
};

/*
 * Reads the stacks of pid, with each frame's local variables if locals and,
 * with native, each thread's native stack merged with its Python frames
 * (threads running on a CPU as we look keep their Python frames, with a
 * note). Returns 0, or -1 with one line in err (not a Python process,
 * process gone, memory unreadable).
 */
int dump_snapshot_take(pid_t pid, bool locals, bool native, bool async, struct dump_snapshot *out, char *err,
		       size_t errlen);
void dump_snapshot_free(struct dump_snapshot *s);

/* A traceback per thread, most recent call last. */
void dump_print_text(const struct dump_snapshot *s, bool show_gil, FILE *f);
/* One JSON document; returns 0 or -1. */
int dump_print_json(const struct dump_snapshot *s, bool show_gil, FILE *f);

const char *dump_state_name(char state);

/*
 * --async: reads p's asyncio tasks into s (p detected as Python, cache its
 * ELF files; stacks are the threads' walked frames, for the frames of a
 * running task). Returns 0, or -1 with one line in err (before 3.14,
 * asyncio not imported, tasks unreadable).
 */
struct target_process;
struct py_frame_rec;
int dump_async_take(struct target_process *p, struct elf_cache *cache, const struct dump_raw_stack *stacks,
		    size_t nstacks, struct dump_snapshot *s, char *err, size_t errlen);
void dump_async_free(struct dump_snapshot *s);
/* The tasks per thread, then the await tree in python -m asyncio pstree's layout. */
void dump_async_print_text(const struct dump_snapshot *s, FILE *f);
/* Adds "asyncio_tasks" to a dump's JSON object (a cJSON *). */
void dump_async_add_json(const struct dump_snapshot *s, void *root);

/* `bpfspy dump` */
/* A Python frame record named as a traceback shows it ("<unknown>" when its code object cannot be read); 0 or -1 (ENOMEM). */
int dump_frame_from_record(struct target_process *p, const struct py_frame_rec *rec, struct dump_frame *f);

/* A frame as dump's JSON writes it: name, file (null when unknown), line. */
void *dump_frame_json(const struct dump_frame *f);

int cmd_dump(int argc, char **argv);

#endif
