/* SPDX-License-Identifier: MIT */
/*
 * What the recorder knows about one profiled process: its mappings snapshot
 * and whether (and how) it runs Python.
 */
#ifndef BPFSPY_TARGET_PROCESS_H
#define BPFSPY_TARGET_PROCESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "python/python.h"
#include "sym/native_symbols.h"

enum python_state {
	PYTHON_UNKNOWN = 0,
	PYTHON_YES,
	PYTHON_NO,
	PYTHON_PENDING,    /* needs libpython, not mapped yet */
	PYTHON_UNSUPPORTED /* Python we cannot walk: native frames only */
};

struct target_process {
	pid_t pid;
	char comm[16];
	struct proc_maps *maps;   /* NULL if the process was gone when we looked */
	uint64_t maps_read_ns;
	enum python_state python;
	struct py_target py;
	struct py_symbolizer *pysym;
	bool tables_queued; /* its unwind tables wait to be installed (recorder_install_queued_tables) */
	bool tables_on_demand; /* ran before the session (-p, -a): see process_table_get */
	bool tables_wanted; /* a sample needed its native stack: install its tables even if they wait for one */
	bool warned;
	unsigned pending_checks; /* detections that said "not yet" */
	/* threading's names of its threads (py_read_thread_names), as last read */
	struct py_thread_name *thread_names;
	size_t nthread_names;
	struct py_thread_names_memo names_memo; /* where the last read found threading's tables */
	uint64_t thread_names_read_ns; /* last read attempt, 0: never */
	uint64_t thread_names_ok_ns;   /* last read that succeeded: what thread_names holds */
	unsigned names_waiting;        /* threads seen that the table did not have (the recorder's count) */
	bool other_threads_seen;       /* a sample of a thread besides the main one: names to read while it lives */
	unsigned names_lookups;        /* lookups since a new thread began waiting: the back-off */
	uint64_t names_next_lookup_ns;
};

struct target_process *target_process_new(pid_t pid, const char *comm);
void target_process_free(struct target_process *p);

/* Re-reads /proc/PID/maps; keeps the old snapshot if the process is gone. */
void target_process_refresh_maps(struct target_process *p);

/*
 * The one policy for an address the snapshot does not cover (code mapped
 * since it was read: libc after exec, a dlopen'd module): the maps are read
 * again, at most every 2 ms so that a stray address in every sample costs
 * nothing. Returns true when they were read now.
 */
bool target_process_refresh_stale_maps(struct target_process *p);
/* Whether that policy would read them now. */
bool target_process_maps_may_refresh(const struct target_process *p);

/*
 * (Re)runs Python detection on the current snapshot. Returns true when the
 * state changed to PYTHON_YES (the caller installs p->py.proc in BPF).
 */
bool target_process_detect_python(struct target_process *p, struct elf_cache *cache);

/* For a forked child: the same image, so the same Python config. */
void target_process_inherit_python(struct target_process *child, const struct target_process *parent);
/*
 * A forked child runs its parent's image until it execs: its samples up to
 * the exec record are named with the parent's maps, even when /proc already
 * shows the new image (a child that exec'd before bpfspy read it).
 */
void target_process_inherit_maps(struct target_process *child, const struct target_process *parent);

/*
 * Re-reads the names threading gives p's threads into p->thread_names, using
 * scratch (room for max entries) for the read. Keeps the old names when the
 * read fails. Returns 0 or -1.
 */
int target_process_read_thread_names(struct target_process *p, struct py_thread_name *scratch, size_t max);

/*
 * threading's name for a thread of p: by its ident (pthread_self, the
 * thread's fs_base on x86_64 glibc) when known, and then only if a native id
 * (a TID in p's PID namespace; 0 if unknown) agrees with the table's, else
 * (ident 0) by the native id. NULL if the last read did not have it.
 */
const char *target_process_thread_name(const struct target_process *p, uint64_t ident, uint32_t native_id);
/* Only an entry that carries this native id (non-zero) and ident (if known): no reused ident can match. */
const char *target_process_thread_name_by_native_id(const struct target_process *p, uint64_t ident,
						    uint32_t native_id);

/* tid as the process sees it (its PID namespace); 0 if that cannot be told. */
uint32_t target_process_ns_tid(pid_t pid, pid_t tid);

/* Forgets the old image after exec. */
void target_process_reset(struct target_process *p);
/* Forgets only what the old image's interpreter was: the maps were read after the exec already. */
void target_process_forget_python(struct target_process *p);

uint64_t monotonic_ns(void);

#endif
