// SPDX-License-Identifier: MIT
/*
 * Collapsed ("folded") stacks writer: "root;...;leaf WEIGHT", one line per
 * distinct stack, readable by flamegraph.pl and speedscope.
 *
 * Weights are integers, as speedscope's importer requires: samples for
 * PROFILE_UNIT_SAMPLES, nanoseconds for PROFILE_UNIT_NANOSECONDS. Nanoseconds
 * are kept rather than rounded to microseconds so that short stacks do not
 * vanish and the file's total equals the profile's total exactly.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "profile/profile.h"
#include "util/utf8.h"

struct collapsed_writer {
	const struct profile *p;
	FILE *f;

	char **frame_text;  /* sanitized display text per frame id */
	size_t nframes;

	uint64_t *stack_weight; /* per stack id, for the group being written */
	uint8_t *stack_seen;
	uint32_t *touched;      /* stack ids with stack_seen set */
	size_t ntouched;

	uint32_t *scratch;
	size_t scratch_cap;
};

/*
 * ';' separates frames and a newline ends the record, so neither may appear
 * inside a frame; other control characters and ill-formed UTF-8 are replaced
 * too, so the file is clean UTF-8 text.
 */
static char *sanitize_frame_text(const char *s)
{
	size_t n = strlen(s);
	/* each byte becomes at most the 3-byte replacement character */
	char *out = malloc(n * 3 + 1), *o = out;
	const unsigned char *p = (const unsigned char *)s;

	if (!out)
		return NULL;
	while (n) {
		size_t len = utf8_sequence_length(p, n);

		if (len == 0) {
			memcpy(o, UTF8_REPLACEMENT, 3);
			o += 3;
			len = 1;
		} else if (len == 1 && *p == ';') {
			*o++ = ',';
		} else if (len == 1 && (*p < 0x20 || *p == 0x7f)) {
			*o++ = ' ';
		} else {
			memcpy(o, p, len);
			o += len;
		}
		p += len;
		n -= len;
	}
	*o = '\0';
	return out;
}

static int format_frames(struct collapsed_writer *w)
{
	w->nframes = profile_frame_count(w->p);
	w->frame_text = calloc(w->nframes ? w->nframes : 1, sizeof(*w->frame_text));
	if (!w->frame_text)
		return -1;

	char *raw = NULL;
	size_t raw_cap = 0;

	for (uint32_t id = 0; id < w->nframes; id++) {
		int len = profile_format_frame(w->p, id, raw, raw_cap);

		if (len < 0)
			goto fail;
		if ((size_t)len >= raw_cap) {
			char *grown = realloc(raw, (size_t)len + 1);

			if (!grown)
				goto fail;
			raw = grown;
			raw_cap = (size_t)len + 1;
			profile_format_frame(w->p, id, raw, raw_cap);
		}
		w->frame_text[id] = sanitize_frame_text(raw);
		if (!w->frame_text[id])
			goto fail;
	}
	free(raw);
	return 0;
fail:
	free(raw);
	return -1;
}

static int add_run(void *arg, const struct profile_run *run)
{
	struct collapsed_writer *w = arg;
	uint32_t stack_id = run->stack_id;

	if (!w->stack_seen[stack_id]) {
		w->stack_seen[stack_id] = 1;
		w->touched[w->ntouched++] = stack_id;
	}
	w->stack_weight[stack_id] += run->weight;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static int write_line(struct collapsed_writer *w, const char *prefix, uint32_t stack_id)
{
	long loaded = profile_stack_load(w->p, stack_id, &w->scratch, &w->scratch_cap);

	if (loaded < 0)
		return -1;
	size_t depth = (size_t)loaded;
	if (prefix) {
		fputs(prefix, w->f);
		putc(';', w->f);
	}
	for (size_t i = 0; i < depth; i++) {
		if (i)
			putc(';', w->f);
		fputs(w->frame_text[w->scratch[i]], w->f);
	}
	fprintf(w->f, " %" PRIu64 "\n", w->stack_weight[stack_id]);
	return 0;
}

/* Writes the aggregated lines of the group just collected, in stack id order, and resets it. */
static int flush_group(struct collapsed_writer *w, const char *prefix)
{
	int rc = 0;

	if (w->ntouched)
		qsort(w->touched, w->ntouched, sizeof(*w->touched), cmp_u32);
	for (size_t i = 0; i < w->ntouched; i++) {
		uint32_t s = w->touched[i];

		/* a zero-weight line adds nothing to a flame graph, and speedscope drops it */
		if (rc == 0 && w->stack_weight[s])
			rc = write_line(w, prefix, s);
		w->stack_weight[s] = 0;
		w->stack_seen[s] = 0;
	}
	w->ntouched = 0;
	return rc;
}

static char *process_prefix(const struct profile_thread_info *t)
{
	char *raw = NULL, *clean;

	if (asprintf(&raw, "%s (pid %" PRIu32 ")", t->process_name, t->pid) < 0)
		return NULL;
	clean = sanitize_frame_text(raw);
	free(raw);
	return clean;
}

/*
 * "thread (0xTID)", py-spy's --threads root frame (the OS thread id here),
 * after the process's; "thread (0xTID): NAME" when the thread has a name, as
 * py-spy writes it when it knows threading's name.
 */
static char *thread_prefix(const struct profile_thread_info *t, bool per_process)
{
	char *process = per_process ? process_prefix(t) : NULL, *name = NULL, *out = NULL;

	if (per_process && !process)
		return NULL;
	if (t->thread_name && t->thread_name[0] && !(name = sanitize_frame_text(t->thread_name))) {
		free(process);
		return NULL;
	}
	if (asprintf(&out, "%s%sthread (0x%" PRIX32 ")%s%s", process ? process : "", process ? ";" : "", t->tid,
		     name ? ": " : "", name ? name : "") < 0)
		out = NULL;
	free(process);
	free(name);
	return out;
}

/* Lines are aggregated per group: the whole profile, each process, or each thread (-t). */
static int write_groups(struct collapsed_writer *w, bool per_process, bool per_thread)
{
	struct profile_thread_info t;
	char *prefix = NULL;
	int rc = 0;
	bool grouped = per_process || per_thread;

	for (size_t i = 0; rc == 0 && profile_thread_at(w->p, i, &t); i++) {
		if (grouped && i > 0) {
			struct profile_thread_info prev;

			profile_thread_at(w->p, i - 1, &prev);
			if (prev.pid != t.pid || (per_thread && prev.tid != t.tid)) {
				rc = flush_group(w, prefix);
				free(prefix);
				prefix = NULL;
			}
		}
		if (rc == 0 && grouped && !prefix) {
			prefix = per_thread ? thread_prefix(&t, per_process) : process_prefix(&t);
			if (!prefix)
				rc = -1;
		}
		if (rc == 0)
			rc = profile_thread_runs(w->p, i, add_run, w);
	}
	if (rc == 0)
		rc = flush_group(w, prefix);
	free(prefix);
	return rc;
}

static int writer_init(struct collapsed_writer *w)
{
	size_t nstacks = profile_stack_count(w->p);
	size_t n = nstacks ? nstacks : 1;

	w->stack_weight = calloc(n, sizeof(*w->stack_weight));
	w->stack_seen = calloc(n, sizeof(*w->stack_seen));
	w->touched = malloc(n * sizeof(*w->touched));
	if (!w->stack_weight || !w->stack_seen || !w->touched)
		return -1;
	return format_frames(w);
}

static void writer_free(struct collapsed_writer *w)
{
	for (size_t i = 0; w->frame_text && i < w->nframes; i++)
		free(w->frame_text[i]);
	free(w->frame_text);
	free(w->stack_weight);
	free(w->stack_seen);
	free(w->touched);
	free(w->scratch);
}

int write_collapsed(const struct profile *p, FILE *f, const struct write_options *o)
{
	struct collapsed_writer w = { .p = p, .f = f };
	bool per_process = (o && o->include_process_prefix) || profile_process_count(p) > 1;
	int rc = -1;

	errno = 0;
	if (writer_init(&w) == 0 && write_groups(&w, per_process, o && o->include_thread_ids) == 0 &&
	    fflush(f) == 0 && !ferror(f))
		rc = 0;
	if (rc < 0 && errno == 0)
		errno = EIO;
	writer_free(&w);
	return rc;
}
