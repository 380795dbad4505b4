// SPDX-License-Identifier: MIT
/* Helpers of the timeline writers (see timeline.h). */
#include "output/timeline.h"

#include <errno.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "output/json_string.h"
#include "util/id_table.h"

uint64_t timeline_origin_ns(const struct profile *p)
{
	uint64_t origin = profile_meta_const(p)->start_ns;
	struct profile_thread_info t;

	for (size_t i = 0; profile_thread_at(p, i, &t); i++)
		if (t.samples && t.first_ts_ns < origin)
			origin = t.first_ts_ns;
	return origin;
}

struct timeline_bound {
	uint32_t pid;
	uint64_t ts_ns;
};

static int by_pid_then_time(const void *a, const void *b)
{
	const struct timeline_bound *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->ts_ns < y->ts_ns ? -1 : x->ts_ns > y->ts_ns;
}

int timeline_init(struct timeline *tl, const struct profile *p)
{
	const struct profile_meta *m = profile_meta_const(p);
	size_t n = profile_process_event_count(p);

	*tl = (struct timeline){
		.p = p, .origin_ns = timeline_origin_ns(p),
		.slack_ns = m->rate_hz ? 500000000ull / m->rate_hz : 0,
	};
	tl->bounds = malloc((n ? n : 1) * sizeof(*tl->bounds));
	if (!tl->bounds)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct profile_process_event *e = profile_process_event_at(p, i);

		if (e->kind != PROCESS_EVENT_START)
			tl->bounds[tl->nbounds++] = (struct timeline_bound){ e->pid, e->ts_ns };
	}
	qsort(tl->bounds, tl->nbounds, sizeof(*tl->bounds), by_pid_then_time);
	return 0;
}

void timeline_free(struct timeline *tl)
{
	free(tl->bounds);
	tl->bounds = NULL;
}

struct span_walk {
	const struct timeline *tl;
	timeline_span_fn fn;
	void *arg;
	const struct timeline_bound *bound, *bounds_end; /* the pid's next exec/exit */
	struct profile_run pending;
	bool have_pending, emitted;
	const struct timeline_bound *bound_at_prev; /* where the cursor stood after the previous span */
	uint64_t prev_end_ns; /* absolute */
};

/* The first exec/exit of the pid after t (absolute), or UINT64_MAX. */
static uint64_t bound_after(struct span_walk *sw, uint64_t t)
{
	while (sw->bound < sw->bounds_end && sw->bound->ts_ns <= t)
		sw->bound++;
	return sw->bound < sw->bounds_end ? sw->bound->ts_ns : UINT64_MAX;
}

static uint64_t relative_to(const struct timeline *tl, uint64_t ts)
{
	return ts > tl->origin_ns ? ts - tl->origin_ns : 0;
}

/* Emits the pending run, ending by next_start (absolute; UINT64_MAX at the thread's end). */
static int emit_pending(struct span_walk *sw, uint64_t next_start)
{
	const struct profile_run *r = &sw->pending;
	uint64_t end = r->end_ns, limit = bound_after(sw, r->start_ns);
	/* the cursor moved: an exec (or exit) came between the previous span's start and this one's */
	bool crossed = sw->emitted && sw->bound > sw->bound_at_prev;

	if (next_start < end && next_start > r->start_ns)
		end = next_start;
	if (limit < end)
		end = limit;
	struct timeline_span span = {
		.stack_id = r->stack_id, .nsamples = r->nsamples, .weight = r->weight,
		.start_ns = relative_to(sw->tl, r->start_ns), .end_ns = relative_to(sw->tl, end),
		.after_gap = sw->emitted && r->start_ns > sw->prev_end_ns + sw->tl->slack_ns,
		.new_image = crossed,
	};

	sw->bound_at_prev = sw->bound;
	sw->prev_end_ns = end;
	sw->emitted = true;
	return sw->fn(sw->arg, &span);
}

static int collect_span(void *arg, const struct profile_run *run)
{
	struct span_walk *sw = arg;
	int rc = 0;

	if (sw->have_pending)
		rc = emit_pending(sw, run->start_ns);
	sw->pending = *run;
	sw->have_pending = true;
	return rc;
}

int timeline_thread_spans(const struct timeline *tl, size_t thread_idx, timeline_span_fn fn, void *arg)
{
	struct profile_thread_info t;

	if (!profile_thread_at(tl->p, thread_idx, &t)) {
		errno = EINVAL;
		return -1;
	}
	struct timeline_bound key = { t.pid, 0 };
	const struct timeline_bound *first = tl->bounds, *end = tl->bounds + tl->nbounds;

	/* the pid's bounds: a lower bound by (pid, 0) */
	for (size_t lo = 0, hi = tl->nbounds; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;

		if (by_pid_then_time(&tl->bounds[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
		first = tl->bounds + lo;
	}
	const struct timeline_bound *last = first;

	while (last < end && last->pid == t.pid)
		last++;
	struct span_walk sw = { .tl = tl, .fn = fn, .arg = arg, .bound = first, .bounds_end = last,
				.bound_at_prev = first };
	int rc = profile_thread_runs(tl->p, thread_idx, collect_span, &sw);

	if (rc == 0 && sw.have_pending)
		rc = emit_pending(&sw, UINT64_MAX);
	return rc;
}

bool timeline_pid_sampled(const struct profile *p, uint32_t pid)
{
	struct profile_thread_info t;

	for (size_t i = 0; profile_thread_at(p, i, &t); i++)
		if (t.pid == pid && t.samples)
			return true;
	return false;
}

const char *timeline_event_name(enum process_event_kind kind)
{
	switch (kind) {
	case PROCESS_EVENT_START:
		return "start";
	case PROCESS_EVENT_EXEC:
		return "exec";
	case PROCESS_EVENT_EXIT:
		return "exit";
	}
	return "event";
}

static char *put_u64(char *p, uint64_t v)
{
	char digits[20];
	size_t n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = digits[--n];
	return p;
}

char *timeline_format_decimal(char *buf, uint64_t ns, uint64_t div)
{
	char *p = put_u64(buf, ns / div);
	uint64_t frac = ns % div;

	if (frac) {
		*p++ = '.';
		for (uint64_t unit = div / 10; unit && frac; unit /= 10) {
			*p++ = (char)('0' + frac / unit);
			frac %= unit;
		}
	}
	return p;
}

static void write_decimal(FILE *f, uint64_t ns, uint64_t div)
{
	char buf[TIMELINE_NUMBER_MAX];

	fwrite(buf, 1, (size_t)(timeline_format_decimal(buf, ns, div) - buf), f);
}

void timeline_write_us(FILE *f, uint64_t ns)
{
	write_decimal(f, ns, 1000);
}

void timeline_write_ms(FILE *f, uint64_t ns)
{
	write_decimal(f, ns, 1000000);
}

static uint64_t function_hash(const struct frame_desc *d)
{
	uint64_t h = hash_bytes(HASH_SEED ^ d->kind, d->name, strlen(d->name) + 1);

	return d->file ? hash_bytes(h, d->file, strlen(d->file) + 1) : h;
}

static bool same_function(const void *ctx, uint32_t id, const void *key)
{
	const struct frame_desc *a = profile_frame(ctx, id), *b = key;

	return a->kind == b->kind && !strcmp(a->name, b->name) &&
	       (a->file == b->file || (a->file && b->file && !strcmp(a->file, b->file)));
}

/* Maps every frame to the first frame of its function. */
static int map_functions(struct frame_names *n, const struct profile *p)
{
	struct id_table first = { 0 }; /* function -> its first frame */
	int rc = 0;

	for (uint32_t id = 0; id < n->count && rc == 0; id++) {
		const struct frame_desc *d = profile_frame(p, id);
		uint64_t hash = function_hash(d);

		n->function[id] = id_table_find(&first, hash, same_function, p, d);
		if (n->function[id] == ID_NONE) {
			n->function[id] = id;
			rc = id_table_insert(&first, hash, id);
		}
	}
	id_table_free(&first);
	return rc;
}

int frame_names_init(struct frame_names *n, const struct profile *p)
{
	n->count = profile_frame_count(p);
	n->text = calloc(n->count ? n->count : 1, sizeof(*n->text));
	n->function = malloc((n->count ? n->count : 1) * sizeof(*n->function));
	if (!n->text || !n->function || map_functions(n, p) < 0) {
		frame_names_free(n);
		return -1;
	}
	return 0;
}

static char *format_function(const struct frame_desc *d)
{
	char *text = NULL;
	int rc;

	if (d->kind == FRAME_PYTHON && d->file)
		rc = asprintf(&text, "%s (%s)", d->name, d->file);
	else if (d->kind == FRAME_KERNEL)
		rc = asprintf(&text, "%s_[k]", d->name);
	else
		rc = asprintf(&text, "%s", d->name);
	return rc < 0 ? NULL : text;
}

const char *frame_names_get(struct frame_names *n, const struct profile *p, uint32_t frame_id)
{
	if (frame_id >= n->count) {
		errno = EINVAL;
		return NULL;
	}
	uint32_t function = n->function[frame_id];

	if (n->text[function])
		return n->text[function];

	char *name = format_function(profile_frame(p, function)), *quoted = NULL;
	size_t size = 0;
	FILE *mem = name ? open_memstream(&quoted, &size) : NULL;

	if (mem) {
		json_write_string(mem, name);
		if (fclose(mem) != 0) {
			free(quoted);
			quoted = NULL;
		}
	}
	free(name);
	n->text[function] = quoted;
	return quoted;
}

void frame_names_free(struct frame_names *n)
{
	for (size_t i = 0; n->text && i < n->count; i++)
		free(n->text[i]);
	free(n->text);
	free(n->function);
	n->text = NULL;
	n->function = NULL;
	n->count = 0;
}
