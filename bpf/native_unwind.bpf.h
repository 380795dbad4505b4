/* SPDX-License-Identifier: MIT */
/*
 * The in-kernel native unwinder: walks a thread's user stack with the DWARF
 * CFI rows user space built from each file's .eh_frame (include/unwind_rows.h),
 * so no stack bytes leave the kernel and frame pointers are not needed.
 *
 * Per file, its sorted rows live in their own array (sized to the file) in
 * unwind_files, indexed by a file id user space assigns; one table serves
 * every process that maps the file. Per process, unwind_procs holds its
 * executable mappings sorted by address. Each frame costs a binary search
 * over the mappings, one over the file's rows, and one to three user reads.
 *
 * The rules are those of user/unwind/unwind_snapshot.c, which unwinds the
 * same rows over a stack copy and is this walker's oracle in the tests.
 */
#ifndef BPFSPY_NATIVE_UNWIND_BPF_H
#define BPFSPY_NATIVE_UNWIND_BPF_H

#include "maps.bpf.h"
#include "native_unwind.h"

/* One file's rows; the real arrays are created by user space with exactly the file's row count. */
struct unwind_rows_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	/* sizes, not types: clang emits only a forward declaration of a type used through pointers */
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct unwind_row));
};

/* file id -> its rows */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, UNWIND_MAX_FILES);
	__type(key, __u32);
	__array(values, struct unwind_rows_map);
} unwind_files SEC(".maps");

/* tgid -> its executable mappings; allocated per process, not preallocated for all */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, UNWIND_MAX_PROCS);
	__type(key, __u32);
	__type(value, struct unwind_proc);
} unwind_procs SEC(".maps");

struct native_walk {
	__u64 ip, sp, bp;
	__u32 tgid;
	__u32 buf;  /* sample buffer index */
	__u32 pos;  /* where frames[0] goes in the sample buffer */
	__u32 n;    /* frames written */
	__u32 max;  /* frames allowed */
	__u32 stop; /* enum unwind_stop_reason */
	bool bp_known;
	bool table_deferred; /* stopped in a mapping whose table user space has not built yet */
	bool is_return; /* ip is a return address: look up ip - 1 */
};

/* The walk's state, in a map value for the verifier's sake (see struct py_walk_state), per CPU and buffer kind. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2); /* enum sample_buffer_kind */
	__type(key, __u32);
	__type(value, struct native_walk);
} native_walks SEC(".maps");

/*
 * Binary searches run as bpf_loop callbacks: as plain loops nested in the
 * frame loop, the verifier explores every path through every iteration and
 * gives up at a million instructions.
 */
struct mapping_search {
	__u32 tgid;
	__u32 lo, hi; /* the first mapping that ends above pc is in [lo, hi] */
	__u64 pc;
};

static long mapping_search_step(__u32 i, struct mapping_search *s)
{
	if (s->lo >= s->hi)
		return 1;
	const struct unwind_proc *proc = bpf_map_lookup_elem(&unwind_procs, &s->tgid);
	__u32 mid = s->lo + (s->hi - s->lo) / 2;
	if (!proc || mid >= UNWIND_MAX_PROC_MAPPINGS) {
		s->lo = s->hi = UNWIND_MAX_PROC_MAPPINGS;
		return 1;
	}
	if (proc->m[mid].end <= s->pc)
		s->lo = mid + 1;
	else
		s->hi = mid;
	return 0;
}

/* The index of the first of the process's count mappings that ends above pc, or UNWIND_MAX_PROC_MAPPINGS. */
BPF_SUBPROG __u32 unwind_mapping_index(__u32 tgid, __u32 count, __u64 pc)
{
	struct mapping_search s = { .tgid = tgid, .hi = count, .pc = pc };

	if (s.hi > UNWIND_MAX_PROC_MAPPINGS)
		s.hi = UNWIND_MAX_PROC_MAPPINGS;
	bpf_loop(12, mapping_search_step, &s, 0); /* 2^11 > UNWIND_MAX_PROC_MAPPINGS */
	if (s.lo >= UNWIND_MAX_PROC_MAPPINGS || s.lo >= count || s.lo != s.hi)
		return UNWIND_MAX_PROC_MAPPINGS;
	return s.lo;
}

static __always_inline const struct unwind_proc_mapping *find_unwind_mapping(const struct unwind_proc *proc,
									     __u32 tgid, __u64 pc)
{
	__u32 i = unwind_mapping_index(tgid, proc->count, pc);
	if (i >= UNWIND_MAX_PROC_MAPPINGS)
		return NULL;
	const struct unwind_proc_mapping *m = &proc->m[i];
	return m->start <= pc ? m : NULL;
}

struct row_search {
	__u32 file;
	__u32 lo, hi; /* the first row above vaddr is in [lo, hi] */
	__u64 vaddr;
};

static long row_search_step(__u32 i, struct row_search *s)
{
	if (s->lo >= s->hi)
		return 1;
	void *rows = bpf_map_lookup_elem(&unwind_files, &s->file);
	__u32 mid = s->lo + (s->hi - s->lo) / 2;
	const struct unwind_row *r = rows ? bpf_map_lookup_elem(rows, &mid) : NULL;
	if (!r) {
		s->lo = 0;
		s->hi = 0;
		return 1;
	}
	if (r->pc <= s->vaddr)
		s->lo = mid + 1;
	else
		s->hi = mid;
	return 0;
}

/* How many of the file's count rows have row.pc <= vaddr (the last of them applies), or 0. */
BPF_SUBPROG __u32 unwind_rows_at_or_below(__u32 file, __u32 count, __u64 vaddr)
{
	struct row_search s = { .file = file, .hi = count, .vaddr = vaddr };

	/* 2^24 rows: far more than any file has (libxul-sized code is ~2^21) */
	bpf_loop(25, row_search_step, &s, 0);
	return s.lo == s.hi ? s.lo : 0;
}

/* The last row with row.pc <= vaddr in the file's rows (count of them). */
static __always_inline const struct unwind_row *find_unwind_row(__u32 file, __u32 count, __u64 vaddr)
{
	__u32 n = unwind_rows_at_or_below(file, count, vaddr);
	if (n == 0)
		return NULL;
	__u32 idx = n - 1;
	void *rows = bpf_map_lookup_elem(&unwind_files, &file);
	return rows ? bpf_map_lookup_elem(rows, &idx) : NULL;
}

static __always_inline bool read_user_word(__u64 addr, __u64 *out)
{
	return bpf_probe_read_user(out, sizeof(*out), (const void *)addr) == 0;
}

/* Code without CFI (JIT, anonymous maps): trust rbp only if it points up the stack. */
static __always_inline bool step_frame_pointer(struct native_walk *w)
{
	__u64 saved_bp, ra;

	if (!w->bp_known || w->bp < w->sp || (w->bp & 7) || w->bp - w->sp > (8u << 20) ||
	    !read_user_word(w->bp, &saved_bp) || !read_user_word(w->bp + 8, &ra))
		return false;
	w->sp = w->bp + 16;
	w->bp = saved_bp;
	w->ip = ra;
	w->is_return = true;
	return true;
}

static __always_inline bool step_signal_frame(struct native_walk *w)
{
	__u64 gregs = w->sp + UNWIND_SIGFRAME_GREGS_OFFSET, ip, sp, bp;

	if (!read_user_word(gregs + 8 * UNWIND_GREG_RIP, &ip) || !read_user_word(gregs + 8 * UNWIND_GREG_RSP, &sp) ||
	    !read_user_word(gregs + 8 * UNWIND_GREG_RBP, &bp)) {
		w->stop = UNWIND_STOP_LEFT_SNAPSHOT;
		return false;
	}
	if (sp <= w->sp) {
		w->stop = UNWIND_STOP_BAD_RULE;
		return false;
	}
	w->ip = ip;
	w->sp = sp;
	w->bp = bp;
	w->bp_known = true;
	w->is_return = false; /* interrupted, not called: ip is the exact instruction */
	return true;
}

static __always_inline bool step_cfi(struct native_walk *w, const struct unwind_row *row)
{
	__u64 a = (__u64)(__s64)(row->cfa_offset >> 8), b = (__u64)row->cfa_offset & 0xff;
	__u8 rule = row->cfa_rule;
	bool uses_bp = rule == UNWIND_CFA_RBP || rule == UNWIND_CFA_DEREF_RBP;
	__u64 cfa, word, ra;

	w->stop = UNWIND_STOP_BAD_RULE;
	if (uses_bp && !w->bp_known)
		return false;
	if (rule == UNWIND_CFA_RSP) {
		cfa = w->sp + (__u64)(__s64)row->cfa_offset;
	} else if (rule == UNWIND_CFA_RBP) {
		cfa = w->bp + (__u64)(__s64)row->cfa_offset;
	} else if (rule == UNWIND_CFA_PLT) {
		cfa = w->sp + a + ((w->ip & 15) >= b ? 8 : 0);
	} else if (rule == UNWIND_CFA_DEREF_RSP || rule == UNWIND_CFA_DEREF_RBP) {
		if (!read_user_word((uses_bp ? w->bp : w->sp) + a, &word)) {
			w->stop = UNWIND_STOP_LEFT_SNAPSHOT;
			return false;
		}
		cfa = word + b;
	} else {
		return false;
	}
	/* the caller's frame lies above ours; anything else is a loop or garbage */
	if (cfa <= w->sp)
		return false;
	if (!read_user_word(cfa - 8, &ra)) {
		w->stop = UNWIND_STOP_LEFT_SNAPSHOT;
		return false;
	}

	__u64 base = 0, saved_bp;
	bool read_bp = false;
	if (row->rbp_rule == UNWIND_RBP_AT_CFA) {
		base = cfa + (__u64)(__s64)row->rbp_offset;
		/* in an epilogue after `pop %rbp` the CFI still names the slot, now below sp */
		read_bp = base >= w->sp;
	} else if (row->rbp_rule == UNWIND_RBP_AT_RBP) {
		if (w->bp_known) {
			base = w->bp + (__u64)(__s64)row->rbp_offset;
			read_bp = true;
		}
	} else if (row->rbp_rule != UNWIND_RBP_SAME) {
		w->bp_known = false; /* the caller may not need it; rules that do will stop */
	}
	if (read_bp) {
		if (!read_user_word(base, &saved_bp)) {
			w->stop = UNWIND_STOP_LEFT_SNAPSHOT;
			return false;
		}
		w->bp = saved_bp;
		w->bp_known = true;
	} else if (row->rbp_rule == UNWIND_RBP_AT_RBP) {
		w->bp_known = false;
	}
	w->sp = cfa;
	w->ip = ra;
	w->is_return = true;
	return true;
}

/* One frame: record ip, then move to the caller. Returns 1 to end the walk. */
static long native_unwind_step(__u32 i, struct native_walk **ctx)
{
	struct native_walk *w = *ctx;
	struct sample_buf *b = sample_buffer(w->buf);
	__u64 off = (__u64)w->pos + (__u64)w->n * 8;

	if (!b || off > SAMPLE_BUF_SIZE - 8) {
		w->stop = UNWIND_STOP_DEPTH;
		return 1;
	}
	if (w->n >= w->max) {
		w->stop = UNWIND_STOP_DEPTH;
		return 1;
	}
	*(__u64 *)(b->data + off) = w->ip;
	w->n++;

	const struct unwind_proc *proc = bpf_map_lookup_elem(&unwind_procs, &w->tgid);
	if (!proc) {
		w->stop = UNWIND_STOP_NO_TABLE;
		return 1;
	}
	__u64 pc = w->is_return ? w->ip - 1 : w->ip;
	const struct unwind_proc_mapping *m = find_unwind_mapping(proc, w->tgid, pc);
	const struct unwind_row *row = NULL;
	if (m && m->file_id) {
		row = find_unwind_row(m->file_id, m->rows, pc - m->bias);
		if (row && row->cfa_rule == UNWIND_CFA_NONE)
			row = NULL;
	}
	if (!row) {
		/* a pc in a followed mapping the tables do not cover, or code mapped since user space looked */
		if (!m && step_frame_pointer(w))
			goto next;
		w->table_deferred = m && !m->file_id && m->rows == UNWIND_ROWS_DEFERRED;
		w->stop = UNWIND_STOP_NO_TABLE;
		return 1;
	}
	if (row->cfa_rule == UNWIND_CFA_END) {
		w->stop = UNWIND_STOP_END_OF_STACK;
		return 1;
	}
	if (row->cfa_rule == UNWIND_CFA_SIGNAL) {
		if (!step_signal_frame(w))
			return 1;
		return 0;
	}
	if (!step_cfi(w, row))
		return 1;
next:
	if (w->ip == 0) {
		w->stop = UNWIND_STOP_END_OF_STACK; /* some entry points push a zero return address */
		return 1;
	}
	return 0;
}

/* True if user space installed unwind tables for the process. */
static __always_inline bool has_unwind_tables(__u32 tgid)
{
	return kernel_unwind && bpf_map_lookup_elem(&unwind_procs, &tgid) != NULL;
}

/* unwind_user_stack's arguments and result: a global function takes at most five arguments. */
struct native_unwind_request {
	__u64 ip, sp, bp; /* the user registers the walk starts from */
	__u32 buf;        /* sample buffer index */
	__u32 pos;        /* where frames[0] goes in the sample buffer */
	__u32 tgid;
	__u32 stop;       /* out: enum unwind_stop_reason */
};

/* Walks the user stack into the sample buffer; returns the frame count (frames[0] = ip) and sets r->stop. */
BPF_SUBPROG __u32 unwind_user_stack(struct native_unwind_request *r)
{
	if (!r)
		return 0;
	__u32 kind = r->buf;
	struct native_walk *w = bpf_map_lookup_elem(&native_walks, &kind);
	if (!w) {
		r->stop = UNWIND_STOP_DEPTH;
		return 0;
	}
	*w = (struct native_walk){
		.ip = r->ip, .sp = r->sp, .bp = r->bp, .tgid = r->tgid, .buf = r->buf, .pos = r->pos,
		.max = native_max_frames > BPFSPY_MAX_NATIVE_FRAMES ? BPFSPY_MAX_NATIVE_FRAMES : native_max_frames,
		.stop = UNWIND_STOP_DEPTH, .bp_known = true,
	};
	bpf_loop(BPFSPY_MAX_NATIVE_FRAMES + 1, native_unwind_step, &w, 0);
	r->stop = w->stop;
	__u32 n = w->n;
	return n > BPFSPY_MAX_NATIVE_FRAMES + 1 ? BPFSPY_MAX_NATIVE_FRAMES + 1 : n;
}

#define NEW_THREAD_WAKEUP_GAP_NS 10000000ull /* 10 ms: at most 100 wake-ups a second, however many threads start */
__u64 new_thread_woke_ns; /* racy across CPUs: at worst a few wake-ups more */

/*
 * The ring-buffer flags of a sample whose user stack was walked (walked) in
 * buffer kind's state: a walk that stopped at a table user space has not
 * built yet wakes it at once, so the samples after it have the table. A
 * global function is verified once, on its own: carried as a variable, the
 * choice doubled the verifier's states through the rest of the sample.
 */
BPF_SUBPROG __u64 sample_ringbuf_flags(__u32 kind, __u32 walked)
{
	struct native_walk *w = walked ? bpf_map_lookup_elem(&native_walks, &kind) : NULL;
	struct py_walk_state *py = bpf_map_lookup_elem(&py_walks, &kind);
	bool new_thread = py && py->tstate.uncached;
	if (py)
		py->tstate.uncached = 0;
	/*
	 * A Python thread seen for the first time: user space reads its name
	 * from the live process while it handles the sample, and a thread that
	 * lives less than the reader's usual second would otherwise be gone by
	 * then. At most one such wake-up per NEW_THREAD_WAKEUP_GAP_NS.
	 */
	if (new_thread) {
		__u64 now = bpf_ktime_get_ns();
		if (now - new_thread_woke_ns >= NEW_THREAD_WAKEUP_GAP_NS) {
			new_thread_woke_ns = now;
			return BPF_RB_FORCE_WAKEUP;
		}
	}
	return w && w->table_deferred ? BPF_RB_FORCE_WAKEUP : ringbuf_flags();
}

#endif
