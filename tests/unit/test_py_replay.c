/* SPDX-License-Identifier: MIT */
/*
 * Every supported CPython checked without installing it: the BPF walker
 * itself (bpf/pystack.bpf.h, compiled as C in user/python/py_bpf_walker.c,
 * the walker bpfspy dump runs too) replayed on memory recorded from
 * real interpreters parked in known stacks (py/walk_target.py), its code
 * objects named by the symbolizer from the bytes the walker captured, with
 * the offsets chosen the way detection chooses them (the built-in table for
 * 3.8-3.12, the recorded _Py_DebugOffsets block from 3.13).
 *
 * A fixture (tests/fixtures/replay/<name>.replay.gz) holds the bytes the walker read (and
 * nothing else), each thread's fs_base and the stack the script's `# CALL`
 * markers say it is in, checked against the walk when it was recorded:
 *
 *     test_py_replay --record DIR     (from tests/unit) records one fixture per interpreter found
 *
 * Without arguments the fixtures are replayed, and every minor version from
 * 3.8 to 3.15, and every interpreter of tests/interpreters.tsv, must have one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "python/py_method_symbols.h"
#include "py/py_test_support.h"
#include "py/py_test_target.h"
#include "python/py_bpf_walker.h"
#include "python/py_layout.h"
#include "python/py_memory.h"
#include "python/python.h"
#include "sym/native_symbols.h"

#define SCRIPT "py/walk_target.py"
#define FIXTURE_DIR "../fixtures/replay"
#define FIXTURE_MAGIC "bpfspy-walk-replay 1"
#define MAX_FRAMES 64
#define STACKS_MAX 2 /* the script parks two threads */
#define FIRST_MINOR 8
#define LAST_MINOR 15
#define PAGE 4096u

/* ---- the target's memory: recorded from a live process, or replayed ---- */

struct range {
	uint64_t addr;
	uint32_t len;
	uint8_t *bytes;
};

struct memory {
	struct range *ranges;
	size_t n, cap;
	const struct py_mem *live; /* recording: reads not yet recorded go to the process */
};

static struct memory *target_memory;

static const struct range *covering(const struct memory *m, uint64_t addr, size_t len)
{
	for (size_t i = 0; i < m->n; i++)
		if (addr >= m->ranges[i].addr && len <= m->ranges[i].len && addr - m->ranges[i].addr <= m->ranges[i].len - len)
			return &m->ranges[i];
	return NULL;
}

static void remember(struct memory *m, uint64_t addr, const void *bytes, uint32_t len)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 256;
		m->ranges = realloc(m->ranges, m->cap * sizeof(*m->ranges));
		assert_non_null(m->ranges);
	}
	struct range *r = &m->ranges[m->n++];
	r->addr = addr;
	r->len = len;
	r->bytes = malloc(len);
	assert_non_null(r->bytes);
	memcpy(r->bytes, bytes, len);
}

/* What the walker and the layout decoder read: the same bytes in both modes, once recorded. */
static int memory_read(struct memory *m, uint64_t addr, void *buf, size_t len)
{
	const struct range *r = covering(m, addr, len);

	if (r) {
		memcpy(buf, r->bytes + (addr - r->addr), len);
		return 0;
	}
	if (!m->live || len > UINT32_MAX)
		return -1;
	/*
	 * Whole pages where they can be read, so a walker that later reads one
	 * more field nearby still replays; else exactly what was asked.
	 */
	uint64_t first = addr & ~(uint64_t)(PAGE - 1), end = (addr + len + PAGE - 1) & ~(uint64_t)(PAGE - 1);
	uint8_t *pages = end > first && end - first <= 4 * PAGE ? malloc(end - first) : NULL;
	if (pages && py_mem_read(m->live, first, pages, end - first) == 0) {
		remember(m, first, pages, (uint32_t)(end - first));
		free(pages);
		memcpy(buf, m->ranges[m->n - 1].bytes + (addr - first), len);
		return 0;
	}
	free(pages);
	if (py_mem_read(m->live, addr, buf, len) < 0)
		return -1;
	remember(m, addr, buf, (uint32_t)len);
	return 0;
}

static void memory_free(struct memory *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->ranges[i].bytes);
	free(m->ranges);
	memset(m, 0, sizeof(*m));
}

/* ---- the walker's view: recorded memory in, code objects out ---- */

struct code_event_copy {
	uint8_t *bytes;
	size_t size;
};
static struct code_event_copy walker_events[MAX_FRAMES * STACKS_MAX];
static size_t walker_nevents;

static int read_target(void *ctx, uint64_t addr, void *buf, size_t len)
{
	return memory_read(ctx, addr, buf, len);
}

static void keep_code_event(void *ctx, const struct bpfspy_code_event *e, size_t size)
{
	if (walker_nevents == sizeof(walker_events) / sizeof(walker_events[0]))
		return;
	struct code_event_copy *c = &walker_events[walker_nevents++];
	c->bytes = malloc(size);
	assert_non_null(c->bytes);
	memcpy(c->bytes, e, size);
	c->size = size;
}

static void walker_reset(void)
{
	for (size_t i = 0; i < walker_nevents; i++)
		free(walker_events[i].bytes);
	walker_nevents = 0;
}

/* ---- a thread's stack, named ---- */

struct frame {
	bool shim, entry;
	int line;
	char name[128], qualname[160], filename[PATH_MAX];
};

struct stack {
	uint64_t fsbase;
	uint32_t tid;
	struct frame frames[MAX_FRAMES];
	size_t n;
	__u32 flags; /* SAMPLE_PY_* */
};

/*
 * Runs the BPF walker for the thread whose fs_base is fsbase and names its
 * frames from the code objects the walker captured (nothing else is read).
 * Returns 0, or -1 when a frame could not be named.
 */
static int walk_and_name(const struct py_target *t, uint64_t fsbase, uint32_t tid, struct stack *out)
{
	struct py_symbolizer *sym = py_symbolizer_new(0, t); /* no process: captures only */
	struct py_walker_source src = { .read = read_target, .ctx = target_memory, .code_event = keep_code_event };
	struct py_frame_rec recs[MAX_FRAMES];
	struct py_walker_result res;
	int rc = 0;

	assert_non_null(sym);
	walker_reset();
	memset(out, 0, sizeof(*out));
	out->fsbase = fsbase;
	out->tid = tid;
	py_bpf_walk_thread(&src, &t->proc, tid, fsbase, MAX_FRAMES, recs, NULL, &res);
	out->flags = res.flags;
	size_t n = res.n;
	for (size_t i = 0; i < walker_nevents; i++) {
		const struct bpfspy_code_event *e = (const void *)walker_events[i].bytes;
		struct py_mem_region regions[CODE_REGIONS];
		size_t nreg = py_code_event_regions(e, walker_events[i].size, regions);

		assert_int_equal(py_symbolizer_add_capture(sym, e->code, e->sig, regions, nreg), 0);
	}
	for (size_t i = 0; i < n && out->n < MAX_FRAMES; i++) {
		struct frame *f = &out->frames[out->n++];
		struct py_code_info info;

		f->shim = recs[i].flags & PYF_SHIM;
		f->entry = recs[i].flags & PYF_ENTRY;
		if (f->shim)
			continue;
		if (py_symbolize(sym, recs[i].code, recs[i].sig, py_lasti_widen(recs[i].lasti), &info, &f->line) < 0) {
			rc = -1;
			continue;
		}
		snprintf(f->name, sizeof(f->name), "%s", info.name);
		snprintf(f->qualname, sizeof(f->qualname), "%s", info.qualname);
		snprintf(f->filename, sizeof(f->filename), "%s", info.filename);
	}
	py_symbolizer_free(sym);
	return rc;
}

/* The offsets detection would choose for this version, from the table or the recorded _Py_DebugOffsets. */
static int choose_target(struct memory *m, uint32_t version_hex, uint64_t runtime_addr, struct py_target *t,
			 char *err, size_t errlen)
{
	struct py_layout l;
	bool free_threaded = false;

	memset(t, 0, sizeof(*t));
	t->version_hex = version_hex;
	if (PY_MINOR(version_hex) <= 12) {
		if (!py_layout_from_table(version_hex, &l)) {
			snprintf(err, errlen, "no table entry");
			return -1;
		}
	} else {
		uint8_t buf[PY_DEBUG_OFFSETS_MAX];

		if (memory_read(m, runtime_addr, buf, sizeof(buf)) < 0) {
			snprintf(err, errlen, "_Py_DebugOffsets not readable");
			return -1;
		}
		if (py_layout_from_debug_offsets(buf, sizeof(buf), &l, &free_threaded, err, errlen) < 0)
			return -1;
	}
	py_target_set_layout(t, &l, runtime_addr);
	return 0;
}

/* ---- fixtures ---- */

struct fixture {
	char label[64], version[32];
	uint32_t version_hex;
	uint64_t runtime_addr;
	struct stack threads[STACKS_MAX];
	size_t nthreads;
	struct memory memory;
};

static void write_fixture(const char *path, const struct fixture *fx)
{
	gzFile z = gzopen(path, "wb9");

	assert_non_null(z);
	gzprintf(z, "%s\nlabel %s\nversion %s\nversion_hex 0x%" PRIx32 "\nruntime 0x%" PRIx64 "\n", FIXTURE_MAGIC,
		 fx->label, fx->version, fx->version_hex, fx->runtime_addr);
	for (size_t i = 0; i < fx->nthreads; i++) {
		const struct stack *s = &fx->threads[i];

		gzprintf(z, "thread 0x%" PRIx64 " %" PRIu32 " %zu\n", s->fsbase, s->tid, s->n);
		for (size_t k = 0; k < s->n; k++) {
			const struct frame *f = &s->frames[k];

			gzprintf(z, "frame %d %d %d %s\t%s\t%s\n", f->shim, f->entry, f->line, f->shim ? "-" : f->name,
				 f->shim ? "-" : f->qualname, f->shim ? "-" : f->filename);
		}
	}
	gzprintf(z, "ranges %zu\n", fx->memory.n);
	for (size_t i = 0; i < fx->memory.n; i++) {
		const struct range *r = &fx->memory.ranges[i];

		gzprintf(z, "0x%" PRIx64 " %" PRIu32 "\n", r->addr, r->len);
		assert_int_equal(gzwrite(z, r->bytes, r->len), (int)r->len);
	}
	assert_int_equal(gzclose(z), Z_OK);
}

static char *gz_line(gzFile z, char *buf, int len)
{
	if (!gzgets(z, buf, len))
		return NULL;
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static int read_fixture(const char *path, struct fixture *fx)
{
	char line[2 * PATH_MAX];
	gzFile z = gzopen(path, "rb");
	size_t nranges = 0;
	int rc = -1;

	memset(fx, 0, sizeof(*fx));
	if (!z)
		return -1;
	if (!gz_line(z, line, sizeof(line)) || strcmp(line, FIXTURE_MAGIC) != 0)
		goto out;
	while (gz_line(z, line, sizeof(line))) {
		struct stack *s = fx->nthreads ? &fx->threads[fx->nthreads - 1] : NULL;
		size_t nframes;

		if (sscanf(line, "label %63[^\n]", fx->label) == 1 ||
		    sscanf(line, "version_hex %" SCNx32, &fx->version_hex) == 1 ||
		    sscanf(line, "version %31s", fx->version) == 1 ||
		    sscanf(line, "runtime %" SCNx64, &fx->runtime_addr) == 1)
			continue;
		if (strncmp(line, "thread ", 7) == 0 && fx->nthreads < STACKS_MAX) {
			s = &fx->threads[fx->nthreads++];
			if (sscanf(line, "thread %" SCNx64 " %" SCNu32 " %zu", &s->fsbase, &s->tid, &nframes) != 3)
				goto out;
			continue;
		}
		if (strncmp(line, "frame ", 6) == 0 && s && s->n < MAX_FRAMES) {
			struct frame *f = &s->frames[s->n++];
			int shim, entry, used = 0;

			if (sscanf(line, "frame %d %d %d %n", &shim, &entry, &f->line, &used) != 3 || !used)
				goto out;
			f->shim = shim;
			f->entry = entry;
			if (sscanf(line + used, "%127[^\t]\t%159[^\t]\t%4095[^\n]", f->name, f->qualname, f->filename) != 3)
				goto out;
			continue;
		}
		if (sscanf(line, "ranges %zu", &nranges) == 1)
			break;
		goto out;
	}
	for (size_t i = 0; i < nranges; i++) {
		uint64_t addr;
		uint32_t len;

		if (!gz_line(z, line, sizeof(line)) || sscanf(line, "%" SCNx64 " %" SCNu32, &addr, &len) != 2 ||
		    len > (1u << 20))
			goto out;
		uint8_t *bytes = malloc(len);
		if (!bytes || gzread(z, bytes, len) != (int)len) {
			free(bytes);
			goto out;
		}
		remember(&fx->memory, addr, bytes, len);
		free(bytes);
	}
	rc = fx->nthreads && nranges ? 0 : -1;
out:
	gzclose(z);
	return rc;
}

/* ---- recording ---- */

static int marker_line(const char *name) { return py_test_marker_line(SCRIPT, name); }

/* The k-th frame with code (shims skipped). */
static const struct frame *code_frame(const struct stack *s, size_t k)
{
	for (size_t i = 0; i < s->n; i++)
		if (!s->frames[i].shim && k-- == 0)
			return &s->frames[i];
	return NULL;
}

/* Do the innermost frames match the script's markers, and nothing else run there? */
static bool stack_is(const struct stack *s, const char *const *names, size_t n, const char *script, bool whole)
{
	for (size_t k = 0; k < n; k++) {
		const struct frame *f = code_frame(s, k);

		if (!f || strcmp(f->name, names[k]) != 0 || f->line != marker_line(names[k]) ||
		    strcmp(f->filename, script) != 0)
			return false;
	}
	return !whole || !code_frame(s, n);
}

static const char *const main_stack[] = { "c", "b", "a", "<module>" };
static const char *const worker_stack[] = { "y", "функция", "x" };

static bool record_one(const struct py_test_interp *pi, const char *python, const char *dir)
{
	char script[PATH_MAX], path[PATH_MAX + 64], err[160];
	uint64_t ids[4];
	struct py_test_target target;
	struct py_target live;
	struct fixture fx = { 0 };
	struct py_mem mem;
	bool ok = false;

	assert_non_null(realpath(SCRIPT, script));
	if (py_test_target_start(&target, python, script, 30) < 0 ||
	    sscanf(target.ready, "ready %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64, &ids[0], &ids[1], &ids[2],
		   &ids[3]) != 4) {
		printf("%s: the target did not start\n", pi->label);
		py_test_target_stop(&target);
		return false;
	}
	struct proc_maps *maps = proc_maps_read(target.pid);
	struct elf_cache *cache = elf_cache_new(&py_method_names);
	assert_non_null(maps);
	assert_non_null(cache);
	assert_int_equal(py_detect(target.pid, maps, cache, &live), PY_DETECT_PYTHON);
	py_mem_open(&mem, target.pid);
	/* "ready" comes just before the main thread's sleep: record once both stacks are the markers' */
	for (int attempt = 0; attempt < 40 && !ok; attempt++, usleep(50000)) {
		struct py_target chosen;

		memory_free(&fx.memory);
		fx.memory.live = &mem;
		target_memory = &fx.memory;
		if (choose_target(&fx.memory, live.version_hex, live.proc.runtime_addr, &chosen, err, sizeof(err)) < 0) {
			printf("%s: %s\n", pi->label, err);
			break;
		}
		/* what detection chose from the ELF file and the live process, the replay chooses from the fixture */
		assert_memory_equal(&chosen.proc.off, &live.proc.off, sizeof(live.proc.off));
		fx.nthreads = 2;
		ok = walk_and_name(&chosen, ids[0], (uint32_t)ids[1], &fx.threads[0]) == 0 &&
		     walk_and_name(&chosen, ids[2], (uint32_t)ids[3], &fx.threads[1]) == 0 &&
		     stack_is(&fx.threads[0], main_stack, 4, script, true) &&
		     stack_is(&fx.threads[1], worker_stack, 3, script, false);
	}
	py_mem_close(&mem);
	py_test_target_stop(&target);
	proc_maps_free(maps);
	elf_cache_free(cache);
	if (ok) {
		snprintf(fx.label, sizeof(fx.label), "%s", pi->label);
		snprintf(fx.version, sizeof(fx.version), "%s", live.version);
		fx.version_hex = live.version_hex;
		fx.runtime_addr = live.proc.runtime_addr;
		fx.memory.live = NULL;
		snprintf(path, sizeof(path), "%s/%s.replay.gz", dir, pi->label);
		for (char *p = path + strlen(dir) + 1; *p; p++)
			if (*p == ' ')
				*p = '-';
		write_fixture(path, &fx);
		size_t bytes = 0;
		for (size_t i = 0; i < fx.memory.n; i++)
			bytes += fx.memory.ranges[i].len;
		printf("%s: Python %s, %zu ranges (%zu bytes) -> %s\n", pi->label, live.version, fx.memory.n, bytes, path);
	} else {
		printf("%s: the walk never matched the script's markers\n", pi->label);
	}
	memory_free(&fx.memory);
	target_memory = NULL;
	walker_reset();
	return ok;
}

static int record_all(const char *dir)
{
	int failed = 0;

	for (size_t i = 0; i < PY_TEST_N_INTERPS; i++) {
		char python[PATH_MAX];

		if (py_test_interp_path(&py_test_interps[i], python, sizeof(python)) &&
		    !record_one(&py_test_interps[i], python, dir))
			failed = 1;
	}
	return failed;
}

/* ---- replay ---- */

static char fixture_paths[32][PATH_MAX];
static size_t nfixtures;

static int compare_paths(const void *a, const void *b) { return strcmp(a, b); }

static void find_fixtures(void)
{
	DIR *d = opendir(FIXTURE_DIR);
	struct dirent *e;

	nfixtures = 0;
	if (!d)
		return;
	while ((e = readdir(d)) && nfixtures < 32) {
		size_t n = strlen(e->d_name);

		if (n > 10 && strcmp(e->d_name + n - 10, ".replay.gz") == 0)
			snprintf(fixture_paths[nfixtures++], PATH_MAX, "%s/%s", FIXTURE_DIR, e->d_name);
	}
	closedir(d);
	qsort(fixture_paths, nfixtures, sizeof(fixture_paths[0]), compare_paths);
}

static void check_same_frames(const struct stack *got, const struct stack *want, const char *label)
{
	if (got->n != want->n)
		fail_msg("%s: thread %" PRIu32 ": %zu frames, recorded %zu", label, want->tid, got->n, want->n);
	for (size_t k = 0; k < want->n; k++) {
		const struct frame *g = &got->frames[k], *w = &want->frames[k];

		assert_int_equal(g->shim, w->shim);
		assert_int_equal(g->entry, w->entry);
		if (w->shim)
			continue;
		assert_string_equal(g->name, w->name);
		assert_string_equal(g->qualname, w->qualname);
		assert_string_equal(g->filename, w->filename);
		assert_int_equal(g->line, w->line);
	}
}

static void test_replay(void **state)
{
	const char *path = *state;
	struct fixture fx;
	struct py_target t;
	char err[160];

	assert_int_equal(read_fixture(path, &fx), 0);
	target_memory = &fx.memory; /* no live process behind it: only recorded bytes are read */
	if (choose_target(&fx.memory, fx.version_hex, fx.runtime_addr, &t, err, sizeof(err)) < 0)
		fail_msg("%s: %s", fx.label, err);
	for (size_t i = 0; i < fx.nthreads; i++) {
		struct stack got;

		assert_int_equal(walk_and_name(&t, fx.threads[i].fsbase, fx.threads[i].tid, &got), 0);
		assert_int_equal(got.flags & (SAMPLE_PY_ERROR | SAMPLE_PY_NO_TSTATE | SAMPLE_PY_TRUNCATED), 0);
		check_same_frames(&got, &fx.threads[i], fx.label);
	}
	/* The 3.11 eval-loop entry and the 3.12+ shim frames the merge with native frames relies on */
	unsigned minor = PY_MINOR(fx.version_hex);
	const struct stack *worker = &fx.threads[1];
	if (minor == 11)
		assert_true(code_frame(worker, 1)->entry); /* map() called функция from C */
	if (minor >= 12)
		assert_true(worker->frames[worker->n - 1].shim);
	printf("%s: Python %s, %zu threads walked from %zu recorded ranges\n", fx.label, fx.version, fx.nthreads,
	       fx.memory.n);
	target_memory = NULL;
	walker_reset();
	memory_free(&fx.memory);
}

/* A thread the recording does not know: no thread state, no crash, nothing read outside the fixture. */
static void test_replay_unknown_thread(void **state)
{
	const char *path = *state;
	struct fixture fx;
	struct py_target t;
	struct stack got;
	char err[160];

	assert_int_equal(read_fixture(path, &fx), 0);
	target_memory = &fx.memory;
	assert_int_equal(choose_target(&fx.memory, fx.version_hex, fx.runtime_addr, &t, err, sizeof(err)), 0);
	assert_int_equal(walk_and_name(&t, 0x7f0000001000ull, 4242, &got), 0);
	assert_int_equal(got.n, 0);
	assert_true(got.flags & SAMPLE_PY_NO_TSTATE);
	target_memory = NULL;
	walker_reset();
	memory_free(&fx.memory);
}

/* The manifest: every minor version bpfspy supports has a recording. */
static void test_every_version_recorded(void **state)
{
	bool have[LAST_MINOR + 1] = { false };

	for (size_t i = 0; i < nfixtures; i++) {
		struct fixture fx;

		assert_int_equal(read_fixture(fixture_paths[i], &fx), 0);
		have[PY_MINOR(fx.version_hex)] = true;
		memory_free(&fx.memory);
	}
	for (unsigned minor = FIRST_MINOR; minor <= LAST_MINOR; minor++)
		if (!have[minor])
			fail_msg("no replay fixture for Python 3.%u in %s (record one: see the top of this file)", minor, FIXTURE_DIR);
	/* and every interpreter of tests/interpreters.tsv, checked here even where it is not installed */
	for (size_t i = 0; i < PY_TEST_N_INTERPS; i++) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/%s.replay.gz", FIXTURE_DIR, py_test_interps[i].label);
		if (access(path, R_OK) != 0)
			fail_msg("%s: no recording of %s (tests/interpreters.tsv): record it, see the top of this file",
				 path, py_test_interps[i].label);
	}
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--record") == 0)
		return record_all(argv[2]);
	if (argc != 1) {
		fprintf(stderr, "usage: %s [--record DIR]   (run from tests/unit)\n", argv[0]);
		return 2;
	}
	find_fixtures();
	struct CMUnitTest tests[2 * 32 + 1];
	size_t n = 0;
	for (size_t i = 0; i < nfixtures; i++) {
		tests[n++] = (struct CMUnitTest){ .name = fixture_paths[i], .test_func = test_replay,
						  .initial_state = fixture_paths[i] };
		tests[n++] = (struct CMUnitTest){ .name = "unknown thread", .test_func = test_replay_unknown_thread,
						  .initial_state = fixture_paths[i] };
	}
	tests[n++] = (struct CMUnitTest){ .name = "every version recorded", .test_func = test_every_version_recorded };
	return _cmocka_run_group_tests("py_replay", tests, n, NULL, NULL);
}
