// SPDX-License-Identifier: MIT
#include "top/top_feed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpfspy_events.h"
#include "top/top_view.h"
#include "util/u32map.h"

#define MAX_FRAMES (BPFSPY_MAX_USER_FRAMES + BPFSPY_MAX_KERNEL_FRAMES + BPFSPY_MAX_PY_DEPTH + 4)

struct top_feed {
	struct top_table *by_function, *by_line;
	bool full_filenames;
	bool native, native_fallback;
	struct u32map function_rows; /* frame id + 1 -> row id + 1 */
	struct u32map line_rows;
	uint32_t shown[MAX_FRAMES];
	uint32_t fn_ids[MAX_FRAMES], line_ids[MAX_FRAMES];
};

struct top_feed *top_feed_new(struct top_table *by_function, struct top_table *by_line, bool full_filenames,
			      bool native, bool native_fallback)
{
	struct top_feed *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->by_function = by_function;
	f->by_line = by_line;
	f->full_filenames = full_filenames;
	f->native = native;
	f->native_fallback = native_fallback;
	return f;
}

void top_feed_free(struct top_feed *f)
{
	if (!f)
		return;
	u32map_free(&f->function_rows);
	u32map_free(&f->line_rows);
	free(f);
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s && s[1] ? s + 1 : path;
}

static char *frame_label(const struct top_feed *f, const struct frame_desc *d, bool with_line)
{
	char *out = NULL;
	int r;
	if (d->kind == FRAME_KERNEL)
		r = asprintf(&out, "%s [kernel]", d->name);
	else if (!d->file)
		r = asprintf(&out, "%s", d->name);
	else if (d->kind != FRAME_PYTHON)
		r = asprintf(&out, "%s (%s)", d->name, base_name(d->file));
	else {
		const char *file = f->full_filenames ? d->file : top_short_filename(d->file);
		if (with_line && d->line > 0)
			r = asprintf(&out, "%s (%s:%d)", d->name, file, d->line);
		else
			r = asprintf(&out, "%s (%s)", d->name, file);
	}
	return r < 0 ? NULL : out;
}

/* The row of frame_id in t, through the cache. */
static uint32_t row_of(struct top_feed *f, struct top_table *t, struct u32map *cache, const struct profile *p,
		       uint32_t frame_id, bool with_line)
{
	uintptr_t cached = (uintptr_t)u32map_get(cache, frame_id + 1);
	if (cached)
		return (uint32_t)(cached - 1);
	char *label = frame_label(f, profile_frame(p, frame_id), with_line);
	if (!label)
		return TOP_NO_ROW;
	uint32_t row = top_table_row(t, label);
	free(label);
	if (row != TOP_NO_ROW)
		u32map_put(cache, frame_id + 1, (void *)(uintptr_t)(row + 1));
	return row;
}

/* Frames the view shows, root first. */
static size_t shown_frames(const struct top_feed *f, const struct profile *p, const uint32_t *frames, size_t n,
			   uint32_t *out)
{
	bool python = false;
	for (size_t i = 0; i < n && !python; i++)
		python = profile_frame(p, frames[i])->kind == FRAME_PYTHON;
	if (!python && !f->native_fallback)
		return 0;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		enum frame_kind kind = profile_frame(p, frames[i])->kind;
		if (kind == FRAME_MARKER || (python && !f->native && kind != FRAME_PYTHON))
			continue;
		out[k++] = frames[i];
	}
	return k;
}

int top_feed_add_sample(struct top_feed *f, const struct profile *p, const uint32_t *frames, size_t n,
			uint64_t weight)
{
	size_t shown = shown_frames(f, p, frames, n < MAX_FRAMES ? n : MAX_FRAMES, f->shown);
	for (size_t i = 0; i < shown; i++) {
		f->fn_ids[i] = row_of(f, f->by_function, &f->function_rows, p, f->shown[i], false);
		f->line_ids[i] = row_of(f, f->by_line, &f->line_rows, p, f->shown[i], true);
		if (f->fn_ids[i] == TOP_NO_ROW || f->line_ids[i] == TOP_NO_ROW)
			return -1;
	}
	top_table_add(f->by_function, f->fn_ids, shown, weight);
	top_table_add(f->by_line, f->line_ids, shown, weight);
	return 0;
}
