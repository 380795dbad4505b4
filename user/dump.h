/* SPDX-License-Identifier: MIT */
/*
 * `bpfspy dump`: the Python stacks of every thread of a live process, read
 * once through /proc/PID/mem without pausing it, so blocked threads show up
 * as well as running ones.
 */
#ifndef BPFSPY_DUMP_H
#define BPFSPY_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct dump_frame {
	char *name;
	char *file; /* NULL if the code object could not be read */
	int line;
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
};

struct dump_snapshot {
	pid_t pid;
	char cmdline[512];
	char python_version[16];
	char python_module[256]; /* the ELF that holds _PyRuntime */
	bool gil_known;          /* the GIL holder could be read */
	struct dump_thread *threads; /* sorted by TID, unmatched threads last */
	size_t nthreads;
};

/*
 * Reads the stacks of pid. Returns 0, or -1 with one line in err (not a
 * Python process, process gone, memory unreadable).
 */
int dump_snapshot_take(pid_t pid, struct dump_snapshot *out, char *err, size_t errlen);
void dump_snapshot_free(struct dump_snapshot *s);

/* A traceback per thread, most recent call last. */
void dump_print_text(const struct dump_snapshot *s, bool show_gil, FILE *f);
/* One JSON document; returns 0 or -1. */
int dump_print_json(const struct dump_snapshot *s, bool show_gil, FILE *f);

const char *dump_state_name(char state);

/* `bpfspy dump` */
int cmd_dump(int argc, char **argv);

#endif
