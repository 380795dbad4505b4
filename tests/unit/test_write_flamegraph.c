// SPDX-License-Identifier: MIT
/*
 * Flame graph SVG writer: the file is parsed by python3's xml.etree (an
 * independent XML parser), and the frames it finds are compared with the
 * merged stacks computed here from the fixture's own sample list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "profile/profile.h"
#include "test_write_fixture.h"

#define INNER_WIDTH 1180.0 /* 1200 px minus 10 px margins */

/* Prints one line per frame: class, data-x, data-v, rect width, first title line. */
static const char PARSE_SVG[] =
	"import sys, xml.etree.ElementTree as ET\n"
	"ns = {'s': 'http://www.w3.org/2000/svg'}\n"
	"root = ET.parse(sys.argv[1]).getroot()\n"
	"assert root.tag == '{http://www.w3.org/2000/svg}svg', root.tag\n"
	"assert root.find('.//s:script', ns) is not None\n"
	"for g in root.iter('{http://www.w3.org/2000/svg}g'):\n"
	"    if 'f' not in (g.get('class') or '').split(): continue\n"
	"    title = g.find('s:title', ns).text.split('\\n')[0]\n"
	"    rect = g.find('s:rect', ns)\n"
	"    print(g.get('class'), g.get('data-x'), g.get('data-v'), rect.get('width'), title, sep='\\t')\n";

struct drawn {
	char cls[32];
	uint64_t x, v;
	double width;
	char name[256];
};

struct drawn_list {
	struct drawn *d;
	size_t n;
};

static void write_svg(const struct profile *p, const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(write_flamegraph(p, f, NULL), 0);
	assert_int_equal(fclose(f), 0);
}

static void parse_svg(const char *path, struct drawn_list *out)
{
	char script[] = "/tmp/bpfspy-parse-svg-XXXXXX", cmd[256], line[1024];
	int fd = mkstemp(script);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, PARSE_SVG, strlen(PARSE_SVG)), (ssize_t)strlen(PARSE_SVG));
	close(fd);
	snprintf(cmd, sizeof(cmd), "python3 %s %s", script, path);
	FILE *p = popen(cmd, "r");
	size_t cap = 1024;

	out->d = malloc(cap * sizeof(*out->d));
	out->n = 0;
	while (fgets(line, sizeof(line), p)) {
		struct drawn *d;

		if (out->n == cap)
			out->d = realloc(out->d, (cap *= 2) * sizeof(*out->d));
		d = &out->d[out->n++];
		line[strcspn(line, "\n")] = '\0';
		assert_int_equal(sscanf(line, "%31[^\t]\t%lu\t%lu\t%lf\t%255[^\n]", d->cls, &d->x, &d->v, &d->width,
					d->name), 5);
	}
	assert_int_equal(pclose(p), 0); /* python exits non-zero if the XML is not well-formed */
	unlink(script);
}

/* ---- expectations from the fixture ---- */

struct node {
	char key[256]; /* "pid:i,j,k" */
	char name[256];
	uint64_t v;
};

static void add_node(struct node *nodes, size_t *n, const char *key, const char *name, uint64_t w)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(nodes[i].key, key)) {
			nodes[i].v += w;
			return;
		}
	snprintf(nodes[*n].key, sizeof(nodes[0].key), "%s", key);
	snprintf(nodes[*n].name, sizeof(nodes[0].name), "%s", name);
	nodes[(*n)++].v = w;
}

/* "all", one root per process, then every (pid, stack prefix) with its summed weight. */
static size_t expected_nodes(const struct fixture *fx, struct node *nodes)
{
	size_t n = 0;

	for (int i = 0; i < FIX_NSAMPLES; i++) {
		const struct fix_sample *s = &fx->samples[i];
		const struct fix_thread *t = &FIX_THREADS[s->thread];
		const struct fix_stack *st = &FIX_STACKS[s->stack];
		char key[256], name[256];
		size_t used;

		add_node(nodes, &n, "all", "all", s->weight);
		snprintf(name, sizeof(name), "%s (pid %u)", t->comm, t->pid);
		used = (size_t)snprintf(key, sizeof(key), "%u:", t->pid);
		add_node(nodes, &n, key, name, s->weight);
		if (st->n == 0) {
			snprintf(key + used, sizeof(key) - used, "unknown");
			add_node(nodes, &n, key, "[unknown]", s->weight);
		}
		for (int k = 0; k < st->n; k++) {
			used += (size_t)snprintf(key + used, sizeof(key) - used, "%d,", st->frames[k]);
			add_node(nodes, &n, key, FIX_FRAMES[st->frames[k]].name, s->weight);
		}
	}
	return n;
}

static int compare_name_value(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sorted_pairs(char **out, size_t n, const char *const *names, const uint64_t *values)
{
	for (size_t i = 0; i < n; i++)
		assert_true(asprintf(&out[i], "%s|%lu", names[i], values[i]) > 0);
	qsort(out, n, sizeof(*out), compare_name_value);
}

static void test_frames_match_merged_stacks(void **state)
{
	struct fixture *fx = malloc(sizeof(*fx));
	struct node *nodes = calloc(256, sizeof(*nodes));
	char path[] = "/tmp/bpfspy-fg-XXXXXX";
	struct drawn_list got;

	assert_int_equal(fixture_build(fx, PROFILE_UNIT_SAMPLES, FIX_NTHREADS), 0);
	close(mkstemp(path));
	write_svg(fx->p, path);
	parse_svg(path, &got);
	size_t n = expected_nodes(fx, nodes);

	/* the same (name, weight) multiset: every merged node drawn once, nothing else */
	assert_int_equal(got.n, n);
	const char **names_got = calloc(n, sizeof(char *)), **names_want = calloc(n, sizeof(char *));
	uint64_t *v_got = calloc(n, sizeof(uint64_t)), *v_want = calloc(n, sizeof(uint64_t));
	char **pairs_got = calloc(n, sizeof(char *)), **pairs_want = calloc(n, sizeof(char *));

	for (size_t i = 0; i < n; i++) {
		names_got[i] = got.d[i].name;
		v_got[i] = got.d[i].v;
		names_want[i] = nodes[i].name;
		v_want[i] = nodes[i].v;
	}
	sorted_pairs(pairs_got, n, names_got, v_got);
	sorted_pairs(pairs_want, n, names_want, v_want);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(pairs_got[i], pairs_want[i]);

	/* widths proportional to weight; kinds as classes */
	for (size_t i = 0; i < got.n; i++) {
		const struct drawn *d = &got.d[i];

		assert_true(fabs(d->width - (double)d->v * INNER_WIDTH / FIX_NSAMPLES) < 0.01);
		assert_true(d->x + d->v <= FIX_NSAMPLES);
		if (!strcmp(d->name, "do_syscall_64"))
			assert_string_equal(d->cls, "f kernel");
		else if (!strcmp(d->name, "<module>"))
			assert_string_equal(d->cls, "f python");
		else if (!strcmp(d->name, "inflate"))
			assert_string_equal(d->cls, "f native");
		else if (!strcmp(d->name, "[truncated]"))
			assert_string_equal(d->cls, "f marker");
	}
	for (size_t i = 0; i < n; i++) {
		free(pairs_got[i]);
		free(pairs_want[i]);
	}
	free(pairs_got);
	free(pairs_want);
	free(names_got);
	free(names_want);
	free(v_got);
	free(v_want);
	free(got.d);
	free(nodes);
	unlink(path);
	profile_free(fx->p);
	free(fx);
}

/* Names with XML metacharacters, control characters and invalid UTF-8 still give well-formed XML. */
static void test_hostile_names_stay_well_formed(void **state)
{
	struct profile_meta meta = { .command = "a <b> & \"c\"", .rate_hz = 100 };
	struct profile *p = profile_new(&meta);
	struct frame_desc d1 = { "x<y>&\"z\"\x01\x7f", "/tmp/<f>.py", 3, FRAME_PYTHON };
	struct frame_desc d2 = { "bad\xff\xfe utf8 \xef\xbf\xbf", NULL, 0, FRAME_NATIVE };
	uint32_t frames[2] = { profile_intern_frame(p, &d1), profile_intern_frame(p, &d2) };
	char path[] = "/tmp/bpfspy-fg-XXXXXX";
	struct drawn_list got;

	profile_set_process_name(p, 1, "p&<q>");
	assert_int_equal(profile_add_sample(p, 1, 1, frames, 2, 1, 1), 0);
	close(mkstemp(path));
	write_svg(p, path);
	parse_svg(path, &got);
	assert_int_equal(got.n, 3);
	free(got.d);
	unlink(path);
	profile_free(p);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 100k distinct stacks of one sample each: narrow frames are left out, the file stays small. */
static void test_100k_stacks_bounded(void **state)
{
	struct profile_meta meta = { .command = "many", .rate_hz = 1000 };
	struct profile *p = profile_new(&meta);
	uint32_t ids[5][10];
	char path[] = "/tmp/bpfspy-fg-XXXXXX";
	struct stat st;
	struct drawn_list got;

	for (int level = 0; level < 5; level++)
		for (int k = 0; k < 10; k++) {
			char name[64], file[64];

			snprintf(name, sizeof(name), "function_%d_%d_with_a_longer_name", level, k);
			snprintf(file, sizeof(file), "/srv/app/module_%d.py", k);
			struct frame_desc d = { name, file, 10 + k, FRAME_PYTHON };
			ids[level][k] = profile_intern_frame(p, &d);
		}
	for (uint32_t i = 0; i < 100000; i++) {
		uint32_t frames[5];

		for (int level = 0, r = (int)i; level < 5; level++, r /= 10)
			frames[level] = ids[level][r % 10];
		assert_int_equal(profile_add_sample(p, 1, 1 + i % 4, frames, 5, 1, i), 0);
	}
	assert_int_equal(profile_stack_count(p) >= 100000, 1);
	close(mkstemp(path));
	double t0 = now_s();
	write_svg(p, path);
	double took = now_s() - t0;

	assert_int_equal(stat(path, &st), 0);
	print_message("100k stacks: %.1f MB in %.2f s\n", (double)st.st_size / 1e6, took);
	assert_true(st.st_size < 20 * 1000 * 1000);
	/* time is reported, not asserted: speed belongs to make bench */
	parse_svg(path, &got);
	/* levels 1-4 are >= 0.1 px wide (1 + 10 + 100 + 1000 + 10000 frames with "all"); 100000 leaves are not */
	assert_int_equal(got.n, 1 + 10 + 100 + 1000 + 10000);
	uint64_t leaf_total = 0;
	for (size_t i = 0; i < got.n; i++)
		if (!strncmp(got.d[i].name, "function_3_", 11))
			leaf_total += got.d[i].v;
	assert_int_equal(leaf_total, 100000); /* omitted children still count in their parents */
	free(got.d);
	unlink(path);
	profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frames_match_merged_stacks),
		cmocka_unit_test(test_hostile_names_stay_well_formed),
		cmocka_unit_test(test_100k_stacks_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
