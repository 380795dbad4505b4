// SPDX-License-Identifier: MIT
/* Helpers of the timeline writers (see timeline.h). */
#include "output/timeline.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "output/json_string.h"

uint64_t timeline_origin_ns(const struct profile *p)
{
	uint64_t origin = profile_meta_const(p)->start_ns;
	struct profile_thread_info t;

	for (size_t i = 0; profile_thread_at(p, i, &t); i++)
		if (t.samples && (!origin || t.first_ts_ns < origin))
			origin = t.first_ts_ns;
	return origin;
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

void timeline_write_us(FILE *f, uint64_t ns)
{
	fprintf(f, "%" PRIu64 ".%03u", ns / 1000, (unsigned)(ns % 1000));
}

void timeline_write_ms(FILE *f, uint64_t ns)
{
	fprintf(f, "%" PRIu64 ".%06u", ns / 1000000, (unsigned)(ns % 1000000));
}

int frame_names_init(struct frame_names *n, const struct profile *p)
{
	n->count = profile_frame_count(p);
	n->text = calloc(n->count ? n->count : 1, sizeof(*n->text));
	return n->text ? 0 : -1;
}

const char *frame_names_get(struct frame_names *n, const struct profile *p, uint32_t frame_id)
{
	if (frame_id >= n->count) {
		errno = EINVAL;
		return NULL;
	}
	if (n->text[frame_id])
		return n->text[frame_id];

	char small[512];
	int len = profile_format_frame(p, frame_id, small, sizeof(small));
	char *name = small;

	if (len < 0)
		return NULL;
	if ((size_t)len >= sizeof(small)) {
		name = malloc((size_t)len + 1);
		if (!name)
			return NULL;
		profile_format_frame(p, frame_id, name, (size_t)len + 1);
	}
	char *quoted = NULL;
	size_t size = 0;
	FILE *mem = open_memstream(&quoted, &size);

	if (mem) {
		json_write_string(mem, name);
		if (fclose(mem) != 0) {
			free(quoted);
			quoted = NULL;
		}
	}
	if (name != small)
		free(name);
	n->text[frame_id] = quoted;
	return quoted;
}

void frame_names_free(struct frame_names *n)
{
	for (size_t i = 0; i < n->count; i++)
		free(n->text[i]);
	free(n->text);
	n->text = NULL;
	n->count = 0;
}
