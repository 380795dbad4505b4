// SPDX-License-Identifier: MIT
#include "recorder/thread_naming.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/procfs.h"
#include "util/u32map.h"

struct thread_naming {
	struct profile *profile;
	struct u32map threads;                /* tid -> struct thread_name_state */
	struct py_thread_name *names_scratch; /* PY_THREAD_NAMES_MAX entries for reading names, on first use */
};

struct thread_naming *thread_naming_new(struct profile *names)
{
	struct thread_naming *t = calloc(1, sizeof(*t));
	if (t)
		t->profile = names;
	return t;
}

void thread_naming_free(struct thread_naming *t)
{
	if (!t)
		return;
	u32map_free_with(&t->threads, free);
	free(t->names_scratch);
	free(t);
}

/* Re-reads threading's names of p's threads (a remote walk of a few dicts). */
void thread_naming_read(struct thread_naming *t, struct target_process *p)
{
	if (!t->names_scratch)
		t->names_scratch = malloc(PY_THREAD_NAMES_MAX * sizeof(*t->names_scratch));
	if (t->names_scratch)
		target_process_read_thread_names(p, t->names_scratch, PY_THREAD_NAMES_MAX);
}

/*
 * How far a thread's name has come: the OS name first (or MainThread), then
 * threading's own once its table has the thread. Threads the table lacks
 * (started a moment ago, or not threading's) wait; any sample of their
 * process looks them up again, each time after a longer wait (per process,
 * never per sample), so a thread seen only while it started is named too.
 */
enum thread_naming_state { THREAD_UNNAMED = 0, THREAD_NAMED_NATIVE, THREAD_NAMED_FALLBACK, THREAD_NAMED_PYTHON };

struct thread_name_state {
	uint32_t pid;
	enum thread_naming_state state; /* THREAD_NAMED_FALLBACK: waiting for threading's name */
	uint64_t ident;                 /* its fs_base: threading's ident */
	uint32_t ns_tid;                /* its TID in its process's PID namespace (0: unknown) */
	uint64_t first_seen_ns;         /* its first sample: only a table read after that can name it */
};

#define NAME_RETRY_FIRST_NS 20000000ull   /* 20 ms, doubling ... */
#define NAME_RETRY_MAX_NS 5000000000ull   /* ... up to 5 s */
#define NAMES_FRESH_NS 10000000ull        /* a table read this recently serves every lookup */
/*
 * A sampled Python process's table is read again this often even when no
 * thread waits: a thread first seen late (while dying, or in a sample handled
 * after its process exited) is then named from a table that already held it.
 * Not while the process has shown only its main thread and no threading
 * module: there is no table to read (a spinning script would pay an open and
 * six reads of its memory a second for nothing); its first other thread asks.
 */
#define NAMES_REFRESH_NS 1000000000ull    /* 1 s */

/*
 * The thread's OS name (comm) when it is not its process's: from /proc, or,
 * once the thread is gone, the one the sample carried.
 */
static void os_thread_name(struct thread_naming *t, const struct target_process *p, uint32_t pid, uint32_t tid,
			   const char *sample_comm)
{
	char comm[32];
	if (procfs_comm(pid, tid, comm, sizeof(comm)) != 0 && sample_comm)
		snprintf(comm, sizeof(comm), "%.*s", BPFSPY_COMM_LEN, sample_comm);
	if (comm[0] && (!p || strcmp(comm, p->comm) != 0))
		profile_set_thread_name(t->profile, pid, tid, comm);
}

static struct thread_name_state *thread_naming_of(struct thread_naming *t, uint32_t pid, uint32_t tid)
{
	struct thread_name_state *n = u32map_get(&t->threads, tid);
	if (n && n->pid == pid)
		return n;
	if (!n) { /* else a TID reused by another process: start over */
		n = malloc(sizeof(*n));
		if (!n || u32map_put(&t->threads, tid, n) != 0) {
			free(n);
			return NULL;
		}
	}
	*n = (struct thread_name_state){ .pid = pid };
	return n;
}

/*
 * The main thread is MainThread until threading says otherwise, and without
 * threading nothing can: it waits for the table only once threading is seen
 * (else a single-threaded script cost an open and six reads of its memory
 * at every wake-up, for a name it already had).
 */
static bool main_thread_waits(const struct target_process *p, const struct thread_name_state *n, uint32_t tid)
{
	return tid != n->pid || p->names_memo.threading.found;
}

/*
 * Reads p's table again (unless just read) and names every thread of p that
 * waits for it. glibc gives a new thread the pthread_t (the ident) of one
 * that finished, and samples are handled a little after they were taken: an
 * entry whose native id is the thread's own names it from any table; by the
 * ident alone, only a table read after the thread's first sample does.
 */
static void name_waiting_threads(struct thread_naming *t, struct target_process *p, uint64_t now, bool force)
{
	if ((force || now - p->thread_names_read_ns > NAMES_FRESH_NS) )
		thread_naming_read(t, p);
	unsigned waiting = 0;
	bool too_new = false;
	for (size_t i = 0; i < t->threads.cap; i++) {
		struct thread_name_state *n = t->threads.keys[i] ? t->threads.vals[i] : NULL;
		if (!n || n->pid != (uint32_t)p->pid || n->state != THREAD_NAMED_FALLBACK)
			continue;
		if (!main_thread_waits(p, n, t->threads.keys[i]))
			continue;
		const char *name = target_process_thread_name_by_native_id(p, n->ident, n->ns_tid);
		if (!name && n->first_seen_ns > p->thread_names_ok_ns) {
			waiting++;
			too_new = true;
			continue;
		}
		if (!name)
			name = target_process_thread_name(p, n->ident, n->ns_tid);
		if (name) {
			profile_set_thread_name(t->profile, n->pid, t->threads.keys[i], name);
			n->state = THREAD_NAMED_PYTHON;
		} else {
			waiting++;
		}
	}
	p->names_waiting = waiting;
	if (too_new && p->thread_names_ok_ns == p->thread_names_read_ns) { /* the next read can be the first to tell */
		p->names_next_lookup_ns = p->thread_names_read_ns + NAMES_FRESH_NS + 1;
		return;
	}
	uint64_t wait = NAME_RETRY_FIRST_NS << (p->names_lookups < 8 ? p->names_lookups : 8);
	p->names_lookups++;
	p->names_next_lookup_ns = now + (wait < NAME_RETRY_MAX_NS ? wait : NAME_RETRY_MAX_NS);
}

void thread_naming_on_sample(struct thread_naming *t, struct target_process *p, const struct bpfspy_sample *s)
{
	uint32_t pid = s->pid, tid = s->tid;
	bool python = p && p->python == PYTHON_YES;
	struct thread_name_state *n = thread_naming_of(t, pid, tid);
	if (!n || (n->state == THREAD_NAMED_NATIVE && !python))
		return;
	if (!python) {
		if (n->state == THREAD_UNNAMED) {
			n->state = THREAD_NAMED_NATIVE;
			os_thread_name(t, p, pid, tid, s->comm);
		}
		return;
	}
	uint64_t now = monotonic_ns();
	if (n->state != THREAD_NAMED_PYTHON && n->state != THREAD_NAMED_FALLBACK) {
		/* until threading's table has it (first samples may precede detection, or threading) */
		if (pid == tid)
			profile_set_thread_name(t->profile, pid, tid, "MainThread");
		else if (n->state == THREAD_UNNAMED)
			os_thread_name(t, p, pid, tid, s->comm);
		p->other_threads_seen |= pid != tid;
		n->state = THREAD_NAMED_FALLBACK;
		n->ident = s->fsbase;
		n->ns_tid = target_process_ns_tid((pid_t)pid, (pid_t)tid);
		n->first_seen_ns = s->ts_ns && s->ts_ns < now ? s->ts_ns : now;
		/* a new thread to name: look now, then back off again from the start */
		if (main_thread_waits(p, n, tid)) {
			p->names_waiting++;
			p->names_lookups = 0;
			p->names_next_lookup_ns = now;
		}
	}
	if (p->names_waiting && now >= p->names_next_lookup_ns)
		name_waiting_threads(t, p, now, false);
	else if ((p->names_memo.threading.found || p->other_threads_seen) && now - p->thread_names_read_ns > NAMES_REFRESH_NS)
		thread_naming_read(t, p);
}

void thread_naming_last_look(struct thread_naming *t, struct target_process *p)
{
	if (p->python == PYTHON_YES && p->names_waiting)
		name_waiting_threads(t, p, monotonic_ns(), true);
}
