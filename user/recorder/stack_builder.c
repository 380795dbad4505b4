// SPDX-License-Identifier: MIT
#include "recorder/stack_builder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "native/stack_root.h"
#include "native/native_mode.h"
#include "recorder/record_async.h"
#include "sym/native_symbols.h"
#include "symbolize/symbolizer.h"

struct stack_builder {
	struct stack_builder_options opt;
	struct elf_cache *elf;
	struct native_mode *native;
	struct profile *profile;
	struct symbolizer *names;
	struct record_async *async;
	/* the stack being built, innermost first */
	uint32_t *frames;
	size_t n;
	struct stack_build *found;
};

struct stack_builder *stack_builder_new(const struct stack_builder_options *o, struct elf_cache *elf,
					struct native_mode *native, struct record_async *async, struct profile *frames)
{
	struct stack_builder *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->opt = *o;
	b->elf = elf;
	b->native = native;
	b->profile = frames;
	b->async = async;
	struct symbolizer_options so = { .function_only = o->function_only, .no_lineno = o->no_lineno };
	b->names = symbolizer_new(&so, elf, native);
	if (!b->names) {
		free(b);
		return NULL;
	}
	return b;
}

void stack_builder_free(struct stack_builder *b)
{
	if (!b)
		return;
	symbolizer_free(b->names);
	free(b);
}

static void push_frame(struct stack_builder *b, const struct frame_desc *f)
{
	if (b->n < STACK_BUILDER_MAX_FRAMES)
		b->frames[b->n++] = profile_intern_frame_normalized(b->profile, f, elf_cache_mapped_build_id, b->elf);
}

static void push_marker(struct stack_builder *b, const char *name)
{
	struct frame_desc f = { .name = name, .kind = FRAME_MARKER };
	push_frame(b, &f);
}

/* Names one Python frame; "<unknown>" when its code object could not be read. */
static void name_python_frame(struct stack_builder *b, struct target_process *p, const struct py_frame_rec *rec,
			      struct frame_desc *f)
{
	struct symbol_query q = { .source = SYMBOL_SOURCE_PYTHON, .py = rec };
	if (symbolizer_name(b->names, p, &q, f))
		b->found->python_named++;
	else
		b->found->python_unresolved++;
}

/* --native: unwound native frames with the Python frames merged in. */
static void push_merged_frames(struct stack_builder *b, struct target_process *p, const struct bpfspy_sample *s,
			       const uint64_t *user, const struct py_frame_rec *py, const uint8_t *stack)
{
	bool cfi = s->flags & SAMPLE_USER_CFI;
	struct native_sample ns = {
		.kernel_frames = cfi ? user : NULL,
		.nkernel_frames = cfi ? s->n_user : 0,
		.kernel_stop = (enum unwind_stop_reason)s->unwind_stop,
		.pid = (pid_t)s->pid,
		.maps = p ? p->maps : NULL,
		.maps_refreshable = p && target_process_maps_may_refresh(p),
		.ip = s->ip,
		.sp = s->sp,
		.bp = s->bp,
		.stack = stack,
		.stack_len = s->stack_len,
		.py = py,
		.npy = (s->flags & SAMPLE_PY_NO_TSTATE) ? 0 : s->n_py,
		.model = (p && p->python == PYTHON_YES) ? (enum py_frame_model)p->py.proc.off.frame_model : 0,
		.py_truncated = s->flags & SAMPLE_PY_TRUNCATED,
	};
	struct native_stack st;
	native_mode_build(b->native, &ns, &st);
	if (st.maps_stale) {
		/* the unwind met code mapped after the snapshot (libc after exec) */
		if (target_process_refresh_stale_maps(p))
			ns.maps = p->maps;
		ns.maps_refreshable = false;
		native_mode_build(b->native, &ns, &st);
	}
	for (size_t i = 0; i < st.count; i++) {
		struct frame_desc f;
		if (!native_stack_frame(&st, i, &f))
			name_python_frame(b, p, &py[st.items[i].index], &f);
		push_frame(b, &f);
	}
}

static void push_python_frames(struct stack_builder *b, struct target_process *p, const struct py_frame_rec *py,
			       size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (py[i].flags & PYF_SHIM)
			continue;
		struct frame_desc f;
		name_python_frame(b, p, &py[i], &f);
		push_frame(b, &f);
	}
}

/* An async-aware stack (innermost first): frames, and [task NAME] markers. */
static void push_async_items(struct stack_builder *b, struct target_process *p, const struct py_async_item *items,
			     size_t n)
{
	char marker[PY_TASK_NAME_MAX + 16];

	for (size_t i = 0; i < n; i++) {
		struct frame_desc f;

		if (items[i].is_task) {
			snprintf(marker, sizeof(marker), "[task %s]", items[i].task_name);
			push_marker(b, marker);
			continue;
		}
		name_python_frame(b, p, &items[i].rec, &f);
		push_frame(b, &f);
	}
}

/* --async-aware: a sample that ran a task as that task's coroutines under its awaiting tasks. */
static void push_async_frames(struct stack_builder *b, struct target_process *p, const struct bpfspy_sample *s,
			      const struct py_frame_rec *py)
{
	size_t n = 0;
	const struct py_async_item *items = b->async && p ? record_async_stack(b->async, p, s, py, &n) : NULL;

	if (n)
		push_async_items(b, p, items, n);
	else
		push_python_frames(b, p, py, s->n_py);
}

/* A frame-pointer walk through code built without them returns data, not return addresses. */
static bool plausible_return_address(const struct target_process *p, uint64_t ip)
{
	if (!p || !p->maps)
		return true;
	const struct proc_map *m = proc_maps_find(p->maps, ip);
	return m && m->executable;
}

static void push_native_frames(struct stack_builder *b, struct target_process *p, const uint64_t *ips, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		/* an address outside the snapshot may be code mapped since: look once more */
		if (i > 0 && !plausible_return_address(p, ips[i]) &&
		    !(p && p->maps && !proc_maps_find(p->maps, ips[i]) && target_process_refresh_stale_maps(p) &&
		      plausible_return_address(p, ips[i])))
			break;
		struct symbol_query q = { .source = SYMBOL_SOURCE_USER, .addr = ips[i], .is_return = i > 0 };
		struct frame_desc f;
		symbolizer_name(b->names, p, &q, &f);
		push_frame(b, &f);
	}
}

static void push_kernel_frames(struct stack_builder *b, const uint64_t *ips, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct symbol_query q = { .source = SYMBOL_SOURCE_KERNEL, .addr = ips[i] };
		struct frame_desc f;
		symbolizer_name(b->names, NULL, &q, &f);
		push_frame(b, &f);
	}
}

/* the leaf marker of an off-CPU stack; BPF tells why the thread waits */
static const char *offcpu_marker(uint32_t reason)
{
	static const char *const markers[] = {
		[OFFCPU_UNKNOWN] = "[off-cpu]", [OFFCPU_SLEEP] = "[sleep]", [OFFCPU_IO] = "[I/O]",
		[OFFCPU_FUTEX] = "[futex]",     [OFFCPU_PREEMPTED] = "[preempted]", [OFFCPU_POLL] = "[poll]",
		[OFFCPU_CHILD] = "[wait]",
	};
	return reason < sizeof(markers) / sizeof(markers[0]) ? markers[reason] : markers[OFFCPU_UNKNOWN];
}

/* Default mode: whether a native-only stack reached the program's entry, for the summary. */
static void count_native_root(struct stack_builder *b, size_t first)
{
	if (!b->opt.kernel_unwinder || b->n <= first)
		return;
	/* frames go leaf first: the last one pushed is the outermost */
	const struct frame_desc *root = profile_frame(b->profile, b->frames[b->n - 1]);
	b->found->native_only = true;
	b->found->native_complete = root && root->kind == FRAME_NATIVE && native_frame_is_root(root->name);
}

static void reverse_frames(uint32_t *f, size_t n)
{
	for (size_t i = 0, j = n ? n - 1 : 0; i < j; i++, j--) {
		uint32_t t = f[i];
		f[i] = f[j];
		f[j] = t;
	}
}

size_t stack_builder_build(struct stack_builder *b, const struct bpfspy_sample *s, struct target_process *p,
			   uint32_t *out, struct stack_build *found)
{
	const uint64_t *user = (const void *)(s + 1);
	const uint64_t *kernel = user + s->n_user;
	const struct py_frame_rec *py = (const void *)(kernel + s->n_kernel);
	const uint8_t *stack = (const uint8_t *)(py + s->n_py);

	*found = (struct stack_build){ 0 };
	b->frames = out;
	b->n = 0;
	b->found = found;
	if (s->flags & SAMPLE_OFFCPU)
		push_marker(b, offcpu_marker(s->offcpu_reason));
	if (b->opt.kernel_stacks)
		push_kernel_frames(b, kernel, s->n_kernel);

	if (b->opt.native) {
		push_merged_frames(b, p, s, user, py, stack);
	} else {
		if (s->n_py > 0) {
			push_async_frames(b, p, s, py);
			if (s->flags & SAMPLE_PY_TRUNCATED)
				push_marker(b, "[truncated]");
		}
		if (s->n_py == 0 || (s->flags & SAMPLE_PY_NO_TSTATE)) {
			size_t first = b->n;
			if (s->stack_len && b->native) {
				/* tables not installed yet (all, or the code's): BPF copied the stack, unwound here */
				push_merged_frames(b, p, s, user, py, stack);
			} else {
				push_native_frames(b, p, user, s->n_user);
				if ((s->flags & SAMPLE_USER_CFI) && s->unwind_stop != UNWIND_STOP_END_OF_STACK &&
				    s->n_user > 0)
					push_marker(b, s->unwind_stop == UNWIND_STOP_NO_TABLE ? "[no unwind table]"
											      : "[native truncated]");
			}
			count_native_root(b, first);
		}
	}
	reverse_frames(out, b->n);
	b->frames = NULL;
	b->found = NULL;
	return b->n;
}

struct waiting_tasks {
	struct stack_builder *b;
	struct target_process *p;
	uint32_t frames[STACK_BUILDER_MAX_FRAMES];
	uint32_t *stacks; /* [length, frames root first...] per stack */
	size_t len, cap, n;
};

static int add_waiting_task(const struct py_async_item *items, size_t n, void *arg)
{
	struct waiting_tasks *w = arg;
	struct stack_builder *b = w->b;

	b->frames = w->frames;
	b->n = 0;
	push_marker(b, "[await]");
	push_async_items(b, w->p, items, n);
	reverse_frames(b->frames, b->n);
	if (w->len + 1 + b->n > w->cap) {
		size_t cap = (w->len + 1 + b->n) * 2;
		uint32_t *grown = realloc(w->stacks, cap * sizeof(*grown));

		if (!grown)
			return -1;
		w->stacks = grown;
		w->cap = cap;
	}
	w->stacks[w->len] = (uint32_t)b->n;
	memcpy(w->stacks + w->len + 1, b->frames, b->n * sizeof(uint32_t));
	w->len += 1 + b->n;
	w->n++;
	return 0;
}

size_t stack_builder_waiting_tasks(struct stack_builder *b, const struct bpfspy_sample *s, struct target_process *p,
				   uint32_t **stacks)
{
	struct stack_build found;
	struct waiting_tasks *w = calloc(1, sizeof(*w));

	*stacks = NULL;
	if (!w)
		return 0;
	w->b = b;
	w->p = p;
	b->found = &found;
	size_t given = b->async && p ? record_async_waiting(b->async, p, s, add_waiting_task, w) : 0;
	b->found = NULL;
	b->frames = NULL;
	size_t n = given ? w->n : 0;
	if (n)
		*stacks = w->stacks;
	else
		free(w->stacks);
	free(w);
	return n;
}
