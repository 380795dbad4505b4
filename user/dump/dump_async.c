// SPDX-License-Identifier: MIT
/*
 * `bpfspy dump --async`: every asyncio task of the process, with its
 * coroutine chain and the tasks awaiting it, then the await tree laid out as
 * `python -m asyncio pstree` prints it: a task's node holds the coroutine
 * frames where it awaits, outermost first, and the tasks it awaits hang under
 * the innermost of them.
 */
#include "dump/dump.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "python/py_asyncio.h"
#include "process/target_process.h"

/* ---- reading ----------------------------------------------------------- */

/*
 * A running task's chain is on its thread's stack: from the top frame down
 * to the task coroutine's own frame. NULL when that frame is not on the
 * stack as walked (the task switched between the reads).
 */
static const struct dump_raw_stack *running_chain(const struct py_task *task, const struct dump_raw_stack *stacks,
						  size_t nstacks, size_t *depth)
{
	for (size_t i = 0; task->running && task->coro_frame && i < nstacks; i++) {
		if (stacks[i].tstate != task->tstate)
			continue;
		for (size_t k = 0; k < stacks[i].n; k++)
			if (stacks[i].addrs[k] == task->coro_frame) {
				*depth = k + 1;
				return &stacks[i];
			}
	}
	return NULL;
}

static int fill_task(struct target_process *p, const struct py_task *task, const struct py_task_list *all,
		     const struct dump_raw_stack *stacks, size_t nstacks, struct dump_task *out)
{
	size_t depth = 0;
	const struct dump_raw_stack *st = running_chain(task, stacks, nstacks, &depth);
	const struct py_frame_rec *recs = st ? st->frames : task->frames;
	size_t n = st ? depth : task->nframes;

	out->id = task->addr;
	snprintf(out->name, sizeof(out->name), "%s", task->name);
	out->state = py_task_state_name(task->state);
	out->running = task->running;
	out->tid = (pid_t)task->native_tid;
	out->truncated = !st && task->frames_truncated;
	out->frames = calloc(n ? n : 1, sizeof(*out->frames));
	out->awaited_by = calloc(task->nawaited_by ? task->nawaited_by : 1, sizeof(*out->awaited_by));
	if (!out->frames || !out->awaited_by)
		return -1;
	/* innermost first as read; most recent call last as shown */
	for (size_t i = n; i-- > 0;) {
		if (recs[i].flags & PYF_SHIM)
			continue;
		if (dump_frame_from_record(p, &recs[i], &out->frames[out->nframes]) != 0)
			return -1;
		out->nframes++;
	}
	/* only tasks of the listing: a set's deleted slots hold a marker that is no task */
	for (size_t k = 0; k < task->nawaited_by; k++)
		for (size_t j = 0; j < all->n; j++)
			if (all->tasks[j].addr == task->awaited_by[k]) {
				out->awaited_by[out->nawaited_by++] = task->awaited_by[k];
				break;
			}
	return 0;
}

#define ASYNC_ATTEMPTS 10

int dump_async_take(struct target_process *p, struct elf_cache *cache, const struct dump_raw_stack *stacks,
		    size_t nstacks, struct dump_snapshot *s, char *err, size_t errlen)
{
	struct py_asyncio_offsets ao;
	struct py_task_list list = { 0 };
	int rc = -1;

	if (!p->py.async.known || p->py.free_threaded) {
		snprintf(err, errlen, "dump --async: PID %d runs Python %s%s; asyncio tasks can be read on CPython 3.14+ "
			 "(non free-threaded) only", p->pid, p->py.version, p->py.free_threaded ? " free-threaded" : "");
		return -1;
	}
	rc = py_asyncio_find_offsets(p->pid, p->maps, cache, &ao, err, errlen);
	if (rc > 0) {
		/* asyncio not imported: no tasks, which is an answer, not an error */
		s->async_note = "asyncio is not imported in this process";
		return 0;
	}
	if (rc < 0)
		return -1;
	/* the lists change as tasks start and end: a read that meets a change is retried */
	for (int attempt = 0; attempt < ASYNC_ATTEMPTS; attempt++)
		if ((rc = py_asyncio_read_tasks(p->pid, &p->py, &ao, &list, err, errlen)) == 0)
			break;
	if (rc != 0)
		return -1;
	s->tasks = calloc(list.n ? list.n : 1, sizeof(*s->tasks));
	if (!s->tasks) {
		snprintf(err, errlen, "out of memory");
		py_task_list_free(&list);
		return -1;
	}
	s->tasks_truncated = list.truncated;
	for (size_t i = 0; i < list.n; i++) {
		s->ntasks++;
		if (fill_task(p, &list.tasks[i], &list, stacks, nstacks, &s->tasks[i]) != 0) {
			snprintf(err, errlen, "out of memory");
			py_task_list_free(&list);
			return -1;
		}
	}
	py_task_list_free(&list);
	return 0;
}

void dump_async_free(struct dump_snapshot *s)
{
	for (size_t i = 0; i < s->ntasks; i++) {
		for (size_t j = 0; j < s->tasks[i].nframes; j++) {
			free(s->tasks[i].frames[j].name);
			free(s->tasks[i].frames[j].file);
		}
		free(s->tasks[i].frames);
		free(s->tasks[i].awaited_by);
	}
	free(s->tasks);
	s->tasks = NULL;
	s->ntasks = 0;
}

/* ---- the await tree ---------------------------------------------------- */

/*
 * Nodes: one per task (index = its task index), then coroutine frames, each
 * under one parent and unique there by label, as pstree merges them.
 */
struct tree_node {
	char *label;       /* coroutine: "qualname file:line"; task: NULL (its name) */
	size_t task;       /* task index for a task node */
	bool is_task;
	bool has_parent;
	size_t *kids;
	size_t nkids, capkids;
};

struct tree {
	struct tree_node *nodes;
	size_t n, cap;
	const struct dump_snapshot *s;
};

static int add_node(struct tree *t, bool is_task, size_t task, char *label)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct tree_node *n = realloc(t->nodes, cap * sizeof(*n));

		if (!n)
			return -1;
		t->nodes = n;
		t->cap = cap;
	}
	t->nodes[t->n] = (struct tree_node){ .label = label, .task = task, .is_task = is_task };
	return (int)t->n++;
}

static int add_kid(struct tree *t, size_t parent, size_t kid)
{
	struct tree_node *p = &t->nodes[parent];

	for (size_t i = 0; i < p->nkids; i++)
		if (p->kids[i] == kid)
			return 0;
	if (p->nkids == p->capkids) {
		size_t cap = p->capkids ? p->capkids * 2 : 4;
		size_t *k = realloc(p->kids, cap * sizeof(*k));

		if (!k)
			return -1;
		p->kids = k;
		p->capkids = cap;
	}
	p->kids[p->nkids++] = kid;
	t->nodes[kid].has_parent = true;
	return 0;
}

static char *frame_label(const struct dump_frame *f)
{
	size_t len = strlen(f->name) + (f->file ? strlen(f->file) : 0) + 32;
	char *s = malloc(len);

	if (s)
		snprintf(s, len, "%s %s:%d", f->name, f->file ? f->file : "", f->line);
	return s;
}

/* The coroutine node under parent labelled as frame f, made if new. Returns its index or -1. */
static long coro_node(struct tree *t, size_t parent, const struct dump_frame *f)
{
	char *label = frame_label(f);
	int idx;

	if (!label)
		return -1;
	for (size_t i = 0; i < t->nodes[parent].nkids; i++) {
		struct tree_node *k = &t->nodes[t->nodes[parent].kids[i]];

		if (!k->is_task && strcmp(k->label, label) == 0) {
			free(label);
			return (long)t->nodes[parent].kids[i];
		}
	}
	idx = add_node(t, false, 0, label);
	if (idx < 0) {
		free(label);
		return -1;
	}
	return add_kid(t, parent, (size_t)idx) == 0 ? idx : -1;
}

/* The innermost coroutine node of task's chain under its task node. */
static long chain_nodes(struct tree *t, size_t task)
{
	const struct dump_task *dt = &t->s->tasks[task];
	long cur = (long)task;

	for (size_t i = 0; i < dt->nframes && cur >= 0; i++)
		cur = coro_node(t, (size_t)cur, &dt->frames[i]);
	return cur;
}

static size_t task_index(const struct dump_snapshot *s, uint64_t id)
{
	for (size_t i = 0; i < s->ntasks; i++)
		if (s->tasks[i].id == id)
			return i;
	return SIZE_MAX;
}

static bool awaits_another(const struct dump_snapshot *s, size_t task)
{
	for (size_t i = 0; i < s->ntasks; i++)
		for (size_t k = 0; k < s->tasks[i].nawaited_by; k++)
			if (s->tasks[i].awaited_by[k] == s->tasks[task].id)
				return true;
	return false;
}

static int build_tree(struct tree *t)
{
	const struct dump_snapshot *s = t->s;

	for (size_t i = 0; i < s->ntasks; i++)
		if (add_node(t, true, i, NULL) < 0)
			return -1;
	for (size_t child = 0; child < s->ntasks; child++)
		for (size_t k = 0; k < s->tasks[child].nawaited_by; k++) {
			size_t parent = task_index(s, s->tasks[child].awaited_by[k]);
			long at = parent == SIZE_MAX ? -1 : chain_nodes(t, parent);

			if (at < 0 || add_kid(t, (size_t)at, child) != 0)
				return -1;
		}
	/* a task that awaits no other task shows where it is suspended */
	for (size_t i = 0; i < s->ntasks; i++)
		if (!awaits_another(s, i) && chain_nodes(t, i) < 0)
			return -1;
	return 0;
}

/* A task awaiting itself through other tasks: pstree refuses to draw such a graph, so do we. */
static bool task_cycle(const struct dump_snapshot *s, size_t task, unsigned char *color, size_t depth)
{
	if (color[task] == 1 || depth > s->ntasks)
		return true;
	if (color[task] == 2)
		return false;
	color[task] = 1;
	/* edges parent -> child: the tasks this one's awaited_by lists are its parents */
	for (size_t k = 0; k < s->tasks[task].nawaited_by; k++) {
		size_t parent = task_index(s, s->tasks[task].awaited_by[k]);

		if (parent != SIZE_MAX && task_cycle(s, parent, color, depth + 1))
			return true;
	}
	color[task] = 2;
	return false;
}

#define TREE_MAX_DEPTH 512

static void render(const struct tree *t, size_t node, char *prefix, size_t plen, bool last, size_t depth, FILE *f)
{
	const struct tree_node *n = &t->nodes[node];
	static const char *const branch[2] = { "├── ", "└── " };
	static const char *const indent[2] = { "│   ", "    " };
	size_t add = strlen(indent[last]);

	if (n->is_task)
		fprintf(f, "%s%s(T) %s\n", prefix, branch[last], t->s->tasks[n->task].name);
	else
		fprintf(f, "%s%s %s\n", prefix, branch[last], n->label);
	if (depth == TREE_MAX_DEPTH) {
		if (n->nkids)
			fprintf(f, "%s%s... (deeper levels not shown)\n", prefix, indent[last]);
		return;
	}
	memcpy(prefix + plen, indent[last], add + 1);
	for (size_t i = 0; i < n->nkids; i++)
		render(t, n->kids[i], prefix, plen + add, i + 1 == n->nkids, depth + 1, f);
	prefix[plen] = '\0';
}

static void print_tree(const struct dump_snapshot *s, FILE *f)
{
	struct tree t = { .s = s };
	unsigned char *color = calloc(s->ntasks ? s->ntasks : 1, 1);
	char *prefix = malloc(8 * (TREE_MAX_DEPTH + 2));
	bool cycle = false;

	if (!color || !prefix) {
		fputs("  (out of memory)\n", f);
		goto out;
	}
	for (size_t i = 0; i < s->ntasks && !cycle; i++)
		cycle = task_cycle(s, i, color, 0);
	if (cycle) {
		fputs("  (the tasks await each other in a cycle: no tree can be drawn)\n", f);
		goto out;
	}
	if (build_tree(&t) != 0) {
		fputs("  (out of memory)\n", f);
		goto out;
	}
	prefix[0] = '\0';
	for (size_t i = 0; i < s->ntasks; i++)
		if (!t.nodes[i].has_parent)
			render(&t, i, prefix, 0, true, 0, f);
out:
	for (size_t i = 0; i < t.n; i++) {
		free(t.nodes[i].label);
		free(t.nodes[i].kids);
	}
	free(t.nodes);
	free(prefix);
	free(color);
}

/* ---- printing ---------------------------------------------------------- */

static const char *task_name_of(const struct dump_snapshot *s, uint64_t id)
{
	size_t i = task_index(s, id);

	return i == SIZE_MAX ? "?" : s->tasks[i].name;
}

void dump_async_print_text(const struct dump_snapshot *s, FILE *f)
{
	if (s->async_note) {
		fprintf(f, "\nasyncio tasks: none (%s)\n", s->async_note);
		return;
	}
	fprintf(f, "\nasyncio tasks: %zu%s\n", s->ntasks, s->tasks_truncated ? " (more not read)" : "");
	for (size_t i = 0; i < s->ntasks; i++) {
		const struct dump_task *t = &s->tasks[i];

		if (i == 0 || s->tasks[i - 1].tid != t->tid) {
			if (t->tid)
				fprintf(f, "\nThread %d:\n", t->tid);
			else
				fputs("\nTasks whose thread has ended:\n", f);
		}
		fprintf(f, "  Task \"%s\" (id 0x%llx, %s)\n", t->name, (unsigned long long)t->id, t->state);
		for (size_t k = 0; k < t->nawaited_by; k++)
			fprintf(f, "    awaited by \"%s\" (id 0x%llx)\n", task_name_of(s, t->awaited_by[k]),
				(unsigned long long)t->awaited_by[k]);
		if (t->truncated)
			fputs("    ... (deeper awaits not followed)\n", f);
		for (size_t j = 0; j < t->nframes; j++)
			fprintf(f, "    File \"%s\", line %d, in %s\n", t->frames[j].file ? t->frames[j].file : "<unknown>",
				t->frames[j].line, t->frames[j].name);
	}
	if (s->ntasks) {
		fputs("\nAwait tree (python -m asyncio pstree layout):\n", f);
		print_tree(s, f);
	}
}

void dump_async_add_json(const struct dump_snapshot *s, void *root_obj)
{
	cJSON *root = root_obj;
	cJSON *arr = cJSON_AddArrayToObject(root, "asyncio_tasks");
	char id[32];

	cJSON_AddBoolToObject(root, "asyncio_tasks_truncated", s->tasks_truncated);
	if (s->async_note)
		cJSON_AddStringToObject(root, "asyncio_note", s->async_note);
	for (size_t i = 0; arr && i < s->ntasks; i++) {
		const struct dump_task *t = &s->tasks[i];
		cJSON *o = cJSON_CreateObject(), *frames, *by;

		if (!o)
			return;
		snprintf(id, sizeof(id), "0x%llx", (unsigned long long)t->id);
		cJSON_AddStringToObject(o, "id", id);
		cJSON_AddStringToObject(o, "name", t->name);
		cJSON_AddStringToObject(o, "state", t->state);
		cJSON_AddBoolToObject(o, "running", t->running);
		cJSON_AddNumberToObject(o, "tid", t->tid);
		cJSON_AddBoolToObject(o, "truncated", t->truncated);
		frames = cJSON_AddArrayToObject(o, "frames");
		for (size_t j = 0; frames && j < t->nframes; j++) {
			cJSON *fr = dump_frame_json(&t->frames[j]);

			if (!fr)
				break;
			cJSON_AddItemToArray(frames, fr);
		}
		by = cJSON_AddArrayToObject(o, "awaited_by");
		for (size_t k = 0; by && k < t->nawaited_by; k++) {
			snprintf(id, sizeof(id), "0x%llx", (unsigned long long)t->awaited_by[k]);
			cJSON_AddItemToArray(by, cJSON_CreateString(id));
		}
		cJSON_AddItemToArray(arr, o);
	}
}
