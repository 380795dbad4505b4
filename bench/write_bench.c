/* SPDX-License-Identifier: MIT */
/*
 * write_bench SPEEDSCOPE_FILE OUT_DIR [SAMPLES]
 *
 * Figure 6 of the benchmark: how long bpfspy's writers take, and how big their
 * files are, for 1 M samples. The samples come from a real recording (a
 * speedscope file written by bpfspy), replayed in their time order as many
 * times as needed, so consecutive samples share stacks as often as they did
 * in the recording.
 *
 * For comparison it also writes the same samples one entry per sample, as
 * py-spy's speedscope writer does. Prints one JSON object on stdout.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "profile/profile.h"
#include "output/formats.h"
#include "output/json_string.h"

#define MAX_DEPTH 1024

struct recorded_stack {
	uint32_t *frames;
	size_t depth;
	uint64_t count;
};

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One recorded thread: its samples in time order, as (stack, consecutive count) entries. */
struct recorded_thread {
	struct recorded_stack *entries;
	size_t n;
};

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	rewind(f);
	char *text = malloc((size_t)size + 1);
	if (text && fread(text, 1, (size_t)size, f) != (size_t)size) {
		free(text);
		text = NULL;
	}
	if (text)
		text[size] = '\0';
	fclose(f);
	return text;
}

/* Reads a speedscope file's frames and sampled profiles (bpfspy's own output). */
static struct recorded_thread *read_speedscope(struct profile *p, const char *path, size_t *nthreads)
{
	char *text = read_file(path);
	cJSON *root = text ? cJSON_Parse(text) : NULL;
	free(text);
	if (!root)
		return NULL;

	cJSON *frames = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "shared"), "frames");
	size_t nframes = (size_t)cJSON_GetArraySize(frames);
	uint32_t *frame_ids = calloc(nframes ? nframes : 1, sizeof(*frame_ids));
	size_t i = 0;
	cJSON *it;
	cJSON_ArrayForEach(it, frames) {
		cJSON *file = cJSON_GetObjectItem(it, "file"), *line = cJSON_GetObjectItem(it, "line");
		struct frame_desc d = {
			.name = cJSON_GetStringValue(cJSON_GetObjectItem(it, "name")),
			.file = cJSON_IsString(file) ? file->valuestring : NULL,
			.line = cJSON_IsNumber(line) ? line->valueint : 0,
		};
		d.kind = d.file && strstr(d.file, ".py") ? FRAME_PYTHON : FRAME_NATIVE;
		if (!d.name)
			d.name = "?";
		frame_ids[i++] = profile_intern_frame(p, &d);
	}

	cJSON *profiles = cJSON_GetObjectItem(root, "profiles");
	struct recorded_thread *threads = calloc((size_t)cJSON_GetArraySize(profiles) + 1, sizeof(*threads));
	size_t t = 0;
	cJSON_ArrayForEach(it, profiles) {
		cJSON *samples = cJSON_GetObjectItem(it, "samples"), *weights = cJSON_GetObjectItem(it, "weights");
		size_t n = (size_t)cJSON_GetArraySize(samples);
		if (!n || (size_t)cJSON_GetArraySize(weights) != n)
			continue;
		double tick = 0;
		cJSON *w;
		cJSON_ArrayForEach(w, weights)
			if (w->valuedouble > 0 && (tick == 0 || w->valuedouble < tick))
				tick = w->valuedouble;
		struct recorded_thread *rt = &threads[t++];
		rt->entries = calloc(n, sizeof(*rt->entries));
		cJSON *s = samples->child;
		w = weights->child;
		for (; s && w; s = s->next, w = w->next) {
			struct recorded_stack *e = &rt->entries[rt->n++];
			e->frames = malloc(((size_t)cJSON_GetArraySize(s) + 1) * sizeof(*e->frames));
			cJSON *fi;
			cJSON_ArrayForEach(fi, s)
				if (fi->valueint >= 0 && (size_t)fi->valueint < nframes && e->depth < MAX_DEPTH)
					e->frames[e->depth++] = frame_ids[fi->valueint];
			e->count = tick > 0 ? (uint64_t)(w->valuedouble / tick + 0.5) : 1;
			if (!e->count)
				e->count = 1;
		}
	}
	free(frame_ids);
	cJSON_Delete(root);
	*nthreads = t;
	return threads;
}

/*
 * Replays the recorded threads, in their time order, over and over until the
 * profile holds `samples` samples: as much run merging as the real recording had.
 * Samples are 1 ms apart (the 1 kHz of the meta), so timelines see real spans.
 */
static int fill_profile(struct profile *p, const struct recorded_thread *threads, size_t nthreads,
			uint64_t samples)
{
	uint64_t added = 0, ts = 0;

	while (added < samples) {
		for (size_t t = 0; t < nthreads && added < samples; t++) {
			const struct recorded_thread *rt = &threads[t];
			for (size_t i = 0; i < rt->n && added < samples; i++) {
				for (uint64_t c = 0; c < rt->entries[i].count && added < samples; c++, added++) {
					if (profile_add_sample(p, 1000, 1000 + (uint32_t)t, rt->entries[i].frames,
							       rt->entries[i].depth, 1, ts += 1000000) < 0)
						return -1;
				}
			}
		}
	}
	return 0;
}

/* Writes with the given function and prints "name": {seconds, bytes}. */
static int time_one(const char *name, const char *dir, int (*write)(const struct profile *, FILE *, int),
		    const struct profile *p, int format, int comma)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/write_bench.%s", dir, name);
	double start = now_seconds();
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	int rc = write(p, f, format);
	if (fclose(f) != 0)
		rc = -1;
	double seconds = now_seconds() - start;
	FILE *check = fopen(path, "r");
	long bytes = -1;
	if (check) {
		fseek(check, 0, SEEK_END);
		bytes = ftell(check);
		fclose(check);
	}
	unlink(path);
	printf("%s\"%s\": {\"ok\": %s, \"seconds\": %.6f, \"bytes\": %ld}", comma ? ", " : "", name,
	       rc == 0 ? "true" : "false", seconds, bytes);
	return rc;
}

static int write_format(const struct profile *p, FILE *f, int format)
{
	struct write_options o = { 0 };
	return write_profile_format(p, (enum output_format)format, f, &o);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: write_bench SPEEDSCOPE_FILE OUT_DIR [SAMPLES]\n");
		return 2;
	}
	uint64_t samples = argc > 3 ? strtoull(argv[3], NULL, 10) : 1000000;
	struct profile_meta meta = { .command = "write_bench", .rate_hz = 1000,
				     .unit = PROFILE_UNIT_SAMPLES };
	struct profile *p = profile_new(&meta);
	size_t nthreads;
	struct recorded_thread *threads = read_speedscope(p, argv[1], &nthreads);

	if (!threads || !nthreads) {
		fprintf(stderr, "write_bench: no sampled profiles in %s\n", argv[1]);
		return 1;
	}
	double start = now_seconds();
	if (fill_profile(p, threads, nthreads, samples) < 0) {
		fprintf(stderr, "write_bench: out of memory\n");
		return 1;
	}
	profile_meta(p)->end_ns = samples * 1000000;
	printf("{\"samples\": %llu, \"stacks\": %zu, \"frames\": %zu, \"fill_seconds\": %.6f, \"formats\": {",
	       (unsigned long long)samples, profile_stack_count(p), profile_frame_count(p), now_seconds() - start);

	/* every format this build knows, by the names -f accepts */
	static const char *const names[] = { "speedscope", "collapsed", "flamegraph", "pprof", "chrometrace", "gecko" };
	int comma = 0, failed = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		enum output_format format;
		if (output_format_parse(names[i], &format) < 0)
			continue;
		failed |= time_one(names[i], argv[2], write_format, p, (int)format, comma) < 0;
		comma = 1;
	}
	printf("}}\n");

	for (size_t t = 0; t < nthreads; t++) {
		for (size_t i = 0; i < threads[t].n; i++)
			free(threads[t].entries[i].frames);
		free(threads[t].entries);
	}
	free(threads);
	profile_free(p);
	return failed;
}
