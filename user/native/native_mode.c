// SPDX-License-Identifier: MIT
#include "native/native_mode.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "native/stack_root.h"
#include "python/py_interpreter_frames.h"
#include "python/py_native_merge.h"
#include "native/unwind_cache.h"

#define NATIVE_MAX_FRAMES 1024
#define NATIVE_MAX_MAPPINGS 4096
#define ROOT_SEARCH_FRAMES 4 /* _start sits under main and __libc_start_main; clone under start_thread */

/*
 * The name and role of a frame address, per maps snapshot: a profile meets
 * the same few hundred return addresses in sample after sample, and naming
 * one costs a symbol search, a demangling and a comparison with every
 * interpreter plumbing name. Direct-mapped; a collision only costs a lookup.
 */
#define FRAME_CACHE_SLOTS 2048 /* a power of two */

struct frame_cache_slot {
	uint64_t maps_serial; /* 0: empty */
	uint64_t addr;
	uint64_t used_by;     /* the last sample whose stack points at frame: it is not replaced during it */
	bool is_return;
	bool in_maps; /* the maps snapshot has the address: a stack through it is not stale */
	bool root;    /* a frame a complete stack ends with (_start, clone...) */
	uint8_t role;
	struct native_frame frame;
};

struct native_mode {
	struct frame_cache_slot *frame_cache; /* FRAME_CACHE_SLOTS */
	struct elf_cache *elf;
	struct unwind_cache *unwind;
	bool keep_all;
	struct native_mode_stats stats;
	/* per-sample scratch, reused */
	struct unwind_mapping mappings[NATIVE_MAX_MAPPINGS];
	const struct proc_map *from[NATIVE_MAX_MAPPINGS];
	const struct module_code *codes[NATIVE_MAX_MAPPINGS];
	bool resolved[NATIVE_MAX_MAPPINGS];
	uint64_t frames[NATIVE_MAX_FRAMES];
	uint64_t oracle[NATIVE_MAX_FRAMES]; /* --unwind compare: the snapshot unwinder's frames */
	uint8_t roles[NATIVE_MAX_FRAMES];
	bool roots[NATIVE_MAX_FRAMES];
	/* each frame's name: a cache slot's (most samples copy nothing), or names[i] */
	const struct native_frame *frame_of[NATIVE_MAX_FRAMES];
	struct native_frame names[NATIVE_MAX_FRAMES];
	uint64_t samples_built;
	struct merge_item items[NATIVE_MAX_FRAMES + BPFSPY_MAX_PY_DEPTH + 3];
};

struct native_mode *native_mode_new(struct elf_cache *elf, bool keep_all_frames)
{
	struct native_mode *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->elf = elf;
	m->keep_all = keep_all_frames;
	m->unwind = unwind_cache_new(elf);
	m->frame_cache = calloc(FRAME_CACHE_SLOTS, sizeof(*m->frame_cache));
	if (!m->unwind || !m->frame_cache) {
		unwind_cache_free(m->unwind);
		free(m->frame_cache);
		free(m);
		return NULL;
	}
	return m;
}

void native_mode_free(struct native_mode *m)
{
	if (!m)
		return;
	unwind_cache_free(m->unwind);
	free(m->frame_cache);
	free(m);
}

/* ld.so's _start calls _dl_start within its first instructions */
#define ENTRY_STUB_BYTES 32

void native_mode_name_by_function(struct native_mode *m, pid_t pid, const struct proc_maps *maps, uint64_t pc,
				  struct native_frame *nf)
{
	const struct proc_map *pm = nf->known || !nf->vaddr ? NULL : proc_maps_find(maps, pc);
	const struct module_code *code = pm ? unwind_cache_get(m->unwind, pid, pm) : NULL;
	uint64_t start = 0;
	if (!code || !code->table)
		return;
	bool in_function = unwind_table_function_start(code->table, nf->vaddr, &start);
	uint64_t entry = code->table->entry;
	/* the kernel's entry point of a stripped program, or of ld.so, whose _start has no CFI */
	if (entry && (in_function ? start == entry : nf->vaddr - entry < ENTRY_STUB_BYTES)) {
		snprintf(nf->name, sizeof(nf->name), "_start");
		nf->known = true;
		return;
	}
	if (!in_function)
		return;
	const char *slash = strrchr(pm->path, '/');
	snprintf(nf->name, sizeof(nf->name), "func@0x%" PRIx64 " (%s)", start, slash ? slash + 1 : pm->path);
}

struct unwind_cache *native_mode_unwind_cache(struct native_mode *m)
{
	return m->unwind;
}

void native_mode_read_stats(const struct native_mode *m, struct native_mode_stats *out)
{
	*out = m->stats;
}

static double percent(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 100.0;
}

void native_mode_format_stats(const struct native_mode_stats *st, char *buf, size_t len)
{
	int n = snprintf(buf, len,
			 "native: %" PRIu64 " samples, %.1f%% merged (%" PRIu64
			 " mismatches), %.1f%% reached main/_start/clone",
			 st->samples, percent(st->merged, st->samples), st->mismatches,
			 percent(st->reached_root, st->samples));
	/* why the others stopped, when some did */
	if (st->kernel_unwound && n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, "; %.1f%% unwound in the kernel", percent(st->kernel_unwound, st->samples));
	if (st->compared && n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, "; kernel and snapshot unwinders agree on %.2f%% of %" PRIu64 " stacks",
			      percent(st->compared_equal, st->compared), st->compared);
	for (int r = UNWIND_STOP_NO_TABLE; r <= UNWIND_STOP_DEPTH && n > 0 && (size_t)n < len; r++)
		if (st->unwind_stopped[r])
			n += snprintf(buf + n, len - (size_t)n, "; %s %" PRIu64, unwind_stop_reason_name(r),
				      st->unwind_stopped[r]);
}

/* ---- one sample ---- */

/*
 * Built only when a sample needs it (a frame not in the cache, a snapshot to
 * unwind): most samples do not. Each mapping's module is resolved when the
 * walk or a frame first meets it, so only the files on stacks get tables.
 */
struct sample_space {
	bool ready;
	struct unwind_address_space space;
	struct native_mode *m;
	pid_t pid;
};

/* The mapping holding pc, its table and bias filled in on first use (an unwind_find_mapping_fn). */
static const struct unwind_mapping *find_mapping(void *ctx, uint64_t pc)
{
	struct sample_space *ss = ctx;
	const struct unwind_mapping *found = unwind_address_space_find(&ss->space, pc);
	if (found) {
		struct native_mode *m = ss->m;
		size_t i = (size_t)(found - m->mappings);
		if (!m->resolved[i]) {
			m->codes[i] = unwind_cache_resolve(m->unwind, ss->pid, m->from[i], true, &m->mappings[i], NULL);
			m->resolved[i] = true;
		}
	}
	return found;
}

static const struct module_code *module_of(struct sample_space *ss, uint64_t pc)
{
	const struct unwind_mapping *mapping = find_mapping(ss, pc);
	return mapping ? ss->m->codes[mapping - ss->m->mappings] : NULL;
}

static enum native_frame_role classify(struct sample_space *ss, uint64_t pc, struct native_frame *nf)
{
	const struct module_code *code = module_of(ss, pc);
	return code ? py_interpreter_frame_classify(&code->eval, nf) : NATIVE_FRAME_KEEP;
}

/* The address space of the sample's process, for finding each frame's module. */
static struct sample_space *map_sample(struct native_mode *m, const struct native_sample *s, struct sample_space *ss)
{
	if (!ss->ready) {
		size_t nmaps = unwind_cache_mappings(s->maps, m->mappings, m->from, NATIVE_MAX_MAPPINGS);
		memset(m->resolved, 0, nmaps * sizeof(m->resolved[0]));
		*ss = (struct sample_space){ .ready = true, .space = { .mappings = m->mappings, .count = nmaps },
					     .m = m, .pid = s->pid };
	}
	return ss;
}

static bool use_kernel_frames(const struct native_sample *s)
{
	return s->kernel_frames && s->nkernel_frames > 0 &&
	       !(s->kernel_stop == UNWIND_STOP_NO_TABLE && s->stack && s->stack_len > 0);
}

static size_t unwind_snapshot_into(const struct native_sample *s, struct sample_space *ss, uint64_t *frames,
				   struct unwind_result *result)
{
	struct unwind_snapshot_input in = {
		.regs = { .ip = s->ip, .sp = s->sp, .bp = s->bp },
		.stack = s->stack,
		.stack_size = s->stack ? s->stack_len : 0,
		.find_mapping = find_mapping,
		.find_mapping_ctx = ss,
	};
	if (unwind_snapshot(&in, frames, NATIVE_MAX_FRAMES, result) != 0) {
		frames[0] = s->ip;
		*result = (struct unwind_result){ .frame_count = 1, .stop_reason = UNWIND_STOP_BAD_RULE };
	}
	return result->frame_count;
}

/*
 * --unwind compare: the snapshot unwinder is the kernel's oracle. Where the
 * snapshot ran out (the copy is 16 KiB, the kernel reads the whole stack) only
 * the frames it reached are compared.
 */
static void compare_with_snapshot(struct native_mode *m, const struct native_sample *s, struct sample_space *ss,
				  size_t nkernel)
{
	struct unwind_result oracle;
	size_t n = unwind_snapshot_into(s, ss, m->oracle, &oracle);
	bool equal = oracle.stop_reason == UNWIND_STOP_LEFT_SNAPSHOT ? n <= nkernel : n == nkernel;
	if (equal)
		equal = memcmp(m->oracle, m->frames, (n < nkernel ? n : nkernel) * sizeof(uint64_t)) == 0;
	m->stats.compared++;
	m->stats.compared_equal += equal;
}

static size_t unwind_sample(struct native_mode *m, const struct native_sample *s, struct sample_space *ss,
			    struct unwind_result *result)
{
	if (use_kernel_frames(s)) {
		size_t n = s->nkernel_frames < NATIVE_MAX_FRAMES ? s->nkernel_frames : NATIVE_MAX_FRAMES;
		memcpy(m->frames, s->kernel_frames, n * sizeof(m->frames[0]));
		*result = (struct unwind_result){ .frame_count = n, .stop_reason = s->kernel_stop };
		if (s->stack && s->stack_len > 0)
			compare_with_snapshot(m, s, map_sample(m, s, ss), n);
		return n;
	}
	return unwind_snapshot_into(s, map_sample(m, s, ss), m->frames, result);
}

static bool reached_root(const struct native_mode *m, size_t n)
{
	for (size_t i = n > ROOT_SEARCH_FRAMES ? n - ROOT_SEARCH_FRAMES : 0; i < n; i++)
		if (m->roots[i])
			return true;
	return false;
}

bool native_stack_frame(const struct native_stack *st, size_t i, struct frame_desc *f)
{
	const struct merge_item *item = &st->items[i];
	switch (item->kind) {
	case MERGE_ITEM_NATIVE:
		*f = (struct frame_desc){ .name = st->names[item->index]->name, .file = st->names[item->index]->module,
					  .kind = FRAME_NATIVE };
		return true;
	case MERGE_ITEM_PYTHON:
		return false;
	default:
		*f = (struct frame_desc){ .name = merge_marker_name(item->index), .kind = FRAME_MARKER };
		return true;
	}
}

void native_mode_build(struct native_mode *m, const struct native_sample *s, struct native_stack *out)
{
	struct sample_space ss = { .ready = false };
	struct unwind_result unwound;
	size_t npy = s->py && s->npy <= BPFSPY_MAX_PY_DEPTH ? s->npy : 0;
	const struct proc_maps *maps = s->maps;
	size_t n = unwind_sample(m, s, &ss, &unwound);
	uint64_t sample = ++m->samples_built;

	for (size_t i = 0; i < n; i++) {
		bool is_return = i > 0; /* frames[0] is the sampled ip */
		uint64_t pc = is_return ? m->frames[i] - 1 : m->frames[i];
		struct frame_cache_slot *slot = NULL;
		if (maps && maps->serial) {
			uint64_t h = (m->frames[i] ^ (m->frames[i] >> 17) ^ maps->serial * 0x9e3779b97f4a7c15ull) * 2 + is_return;
			slot = &m->frame_cache[(h ^ (h >> 29)) & (FRAME_CACHE_SLOTS - 1)];
			if (slot->maps_serial == maps->serial && slot->addr == m->frames[i] && slot->is_return == is_return) {
				if (!slot->in_maps && s->maps_refreshable)
					goto stale;
				slot->used_by = sample;
				m->frame_of[i] = &slot->frame;
				m->roles[i] = slot->role;
				m->roots[i] = slot->root;
				continue;
			}
		}
		/* the walk met a code address the maps snapshot does not know (then it stopped, or guessed on) */
		bool in_maps = maps && proc_maps_find(maps, pc);
		if (!in_maps && maps && s->maps_refreshable)
			goto stale;
		struct native_frame *nf = &m->names[i];
		native_symbolize(m->elf, s->pid, maps, m->frames[i], is_return, nf);
		m->roles[i] = classify(map_sample(m, s, &ss), pc, nf);
		native_mode_name_by_function(m, s->pid, maps, pc, nf);
		m->roots[i] = nf->known && native_frame_is_root(nf->name);
		m->frame_of[i] = nf;
		/* a slot an earlier frame of this sample points at keeps its frame until the next sample */
		if (slot && slot->used_by != sample) {
			*slot = (struct frame_cache_slot){ .maps_serial = maps->serial, .addr = m->frames[i],
							   .used_by = sample, .is_return = is_return, .in_maps = in_maps,
							   .root = m->roots[i], .role = m->roles[i], .frame = *nf };
			m->frame_of[i] = &slot->frame;
		}
	}
	bool root = reached_root(m, n);
	struct merge_input in = {
		.native_roles = m->roles, .nnative = n, .native_complete = root,
		.native_no_table = unwound.stop_reason == UNWIND_STOP_NO_TABLE,
		.py = s->py, .npy = npy, .model = s->model, .py_truncated = s->py_truncated, .keep_all = m->keep_all,
	};
	struct merge_result res = { 0 };
	if (python_merge(&in, m->items, sizeof(m->items) / sizeof(m->items[0]), &res) != 0)
		res = (struct merge_result){ 0 };
	*out = (struct native_stack){ .items = m->items, .count = res.count, .names = m->frame_of, .mismatch = res.mismatch };

	m->stats.samples++;
	m->stats.kernel_unwound += use_kernel_frames(s);
	m->stats.reached_root += root;
	if (unwound.stop_reason < sizeof(m->stats.unwind_stopped) / sizeof(m->stats.unwind_stopped[0]))
		m->stats.unwind_stopped[unwound.stop_reason]++;
	if (res.mismatch)
		m->stats.mismatches++;
	else
		m->stats.merged++;
	return;
stale:
	*out = (struct native_stack){ .maps_stale = true };
}
