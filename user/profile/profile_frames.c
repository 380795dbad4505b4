// SPDX-License-Identifier: MIT
/* Frame interning: (name, file, line, kind) -> frame id, and frame display text. */
#include "profile/profile_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t frame_hash(const struct frame_desc *f)
{
	uint64_t h = hash_bytes(HASH_SEED, f->name, strlen(f->name) + 1);
	int32_t line = f->line;
	uint8_t kind = (uint8_t)f->kind;
	/* a distinct tag keeps "no file" apart from an empty file name */
	uint8_t has_file = f->file != NULL;

	h = hash_bytes(h, &has_file, 1);
	if (f->file)
		h = hash_bytes(h, f->file, strlen(f->file) + 1);
	h = hash_bytes(h, &line, sizeof(line));
	return hash_bytes(h, &kind, 1);
}

static bool same_string(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool frame_matches(const void *ctx, uint32_t id, const void *key)
{
	const struct frame_desc *have = &((const struct frame_table *)ctx)->frames[id];
	const struct frame_desc *want = key;

	return have->line == want->line && have->kind == want->kind &&
	       same_string(have->name, want->name) && same_string(have->file, want->file);
}

void frame_table_free(struct frame_table *t)
{
	free(t->memo);
	free(t->frames);
	id_table_free(&t->index);
	string_arena_free(&t->strings);
	memset(t, 0, sizeof(*t));
}

/*
 * Samples bring the same few hundred frames again and again, their names and
 * files at the same addresses (a symbol table's, a code object's): a slot
 * found by those pointers names the frame after a comparison of its strings,
 * without hashing them. The strings are compared because an address may have
 * been freed and reused for another name since.
 */
#define FRAME_MEMO_SLOTS 4096 /* a power of two */

static struct frame_memo_slot *memo_slot(struct frame_table *t, const struct frame_desc *f)
{
	if (!t->memo) {
		t->memo = malloc(FRAME_MEMO_SLOTS * sizeof(*t->memo));
		if (!t->memo)
			return NULL;
		for (size_t i = 0; i < FRAME_MEMO_SLOTS; i++)
			t->memo[i].id = ID_NONE;
	}
	uint64_t h = hash_u64_pair((uint64_t)(uintptr_t)f->name ^ ((uint64_t)(uint32_t)f->line << 32),
				   (uint64_t)(uintptr_t)f->file ^ (uint64_t)f->kind);
	return &t->memo[h & (FRAME_MEMO_SLOTS - 1)];
}

static bool memo_names(const struct frame_table *t, const struct frame_memo_slot *slot, const struct frame_desc *f)
{
	return slot->id != ID_NONE && slot->name == f->name && slot->file == f->file && slot->line == f->line &&
	       slot->kind == f->kind && frame_matches(t, slot->id, f);
}

static uint32_t remember(struct frame_memo_slot *slot, const struct frame_desc *f, uint32_t id)
{
	if (slot)
		*slot = (struct frame_memo_slot){ .name = f->name, .file = f->file, .line = f->line, .kind = f->kind,
						  .id = id };
	return id;
}

uint32_t frame_table_intern(struct frame_table *t, const struct frame_desc *f)
{
	struct frame_memo_slot *slot = memo_slot(t, f);
	if (slot && memo_names(t, slot, f))
		return slot->id;
	uint64_t hash = frame_hash(f);
	uint32_t id = id_table_find(&t->index, hash, frame_matches, t, f);

	if (id != ID_NONE)
		return remember(slot, f, id);
	if (t->count >= ID_NONE - 1 ||
	    array_reserve((void **)&t->frames, &t->cap, t->count + 1, sizeof(*t->frames)) < 0)
		return ID_NONE;

	struct frame_desc copy = *f;

	copy.name = string_arena_strdup(&t->strings, f->name);
	copy.file = f->file ? string_arena_strdup(&t->strings, f->file) : NULL;
	if (!copy.name || (f->file && !copy.file))
		return ID_NONE;
	id = (uint32_t)t->count;
	if (id_table_insert(&t->index, hash, id) < 0)
		return ID_NONE;
	t->frames[t->count++] = copy;
	return remember(slot, f, id);
}

static uint32_t intern(struct profile *p, const struct frame_desc *f, profile_build_id_fn build_id_of, void *ctx)
{
	struct frame_desc safe = *f;

	if (!safe.name)
		safe.name = "[unknown]";
	if (safe.line < 0)
		safe.line = 0;
	size_t known = p->frames.count;
	uint32_t id = frame_table_intern(&p->frames, &safe);

	/* a new native frame may be the first of its file: file the build-id it was normalized with */
	if (id != ID_NONE && build_id_of && p->frames.count > known && safe.kind == FRAME_NATIVE && safe.file) {
		const char *build_id = build_id_of(ctx, safe.file);

		if (build_id && profile_add_module(p, safe.file, build_id) < 0)
			return ID_NONE;
	}
	return id;
}

uint32_t profile_intern_frame(struct profile *p, const struct frame_desc *f)
{
	return intern(p, f, NULL, NULL);
}

uint32_t profile_intern_frame_normalized(struct profile *p, const struct frame_desc *f,
					 profile_build_id_fn build_id_of, void *ctx)
{
	return intern(p, f, build_id_of, ctx);
}

const struct frame_desc *profile_frame(const struct profile *p, uint32_t frame_id)
{
	if (frame_id >= p->frames.count)
		return NULL;
	return &p->frames.frames[frame_id];
}

size_t profile_frame_count(const struct profile *p)
{
	return p->frames.count;
}

int profile_format_frame(const struct profile *p, uint32_t frame_id, char *buf, size_t len)
{
	const struct frame_desc *f = profile_frame(p, frame_id);

	if (!f) {
		errno = EINVAL;
		return -1;
	}
	switch (f->kind) {
	case FRAME_PYTHON:
		if (f->file && f->line > 0)
			return snprintf(buf, len, "%s (%s:%d)", f->name, f->file, f->line);
		if (f->file)
			return snprintf(buf, len, "%s (%s)", f->name, f->file);
		return snprintf(buf, len, "%s", f->name);
	case FRAME_KERNEL:
		/* flamegraph.pl colours frames ending in _[k] as kernel code */
		return snprintf(buf, len, "%s_[k]", f->name);
	case FRAME_NATIVE:
	case FRAME_MARKER:
	default:
		/* no line numbers for native code; the module path would only add noise */
		return snprintf(buf, len, "%s", f->name);
	}
}
