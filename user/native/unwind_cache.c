// SPDX-License-Identifier: MIT
#include "native/unwind_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/array.h"
#include "util/hash_map.h"
#include "util/procfs.h"

#define VDSO_MAX_SIZE (1u << 20)

/* One distinct ELF image; shared by every file slot with its build-id. */
struct module_entry {
	char build_id[65]; /* "" when the file has none: then it is never shared */
	struct module_code code;
};

struct unwind_cache {
	struct elf_cache *elf;
	struct hash_map files; /* struct file_key -> struct module_entry *; NULL: the file could not be read */
	struct module_entry **modules;
	size_t modules_n, modules_cap;
	struct module_entry *vdso; /* the kernel maps one vDSO image per ABI */
	bool vdso_tried, vdso_wanted;
	struct hash_map wanted; /* struct file_key -> nothing: files a walk stopped in, built at the next install */
	const struct unwind_row_store *row_store;
};

struct unwind_cache *unwind_cache_new(struct elf_cache *elf)
{
	struct unwind_cache *c = calloc(1, sizeof(*c));
	if (c) {
		c->elf = elf;
		hash_map_init(&c->files, sizeof(struct file_key), sizeof(struct module_entry *));
		hash_map_init(&c->wanted, sizeof(struct file_key), 0);
	}
	return c;
}

static void module_entry_free(struct module_entry *e)
{
	if (!e)
		return;
	unwind_table_free(e->code.table);
	free(e);
}

void unwind_cache_free(struct unwind_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->modules_n; i++)
		module_entry_free(c->modules[i]);
	module_entry_free(c->vdso);
	free(c->modules);
	hash_map_free(&c->files);
	hash_map_free(&c->wanted);
	free(c);
}

void unwind_cache_set_row_store(struct unwind_cache *c, const struct unwind_row_store *store)
{
	if (c)
		c->row_store = store;
}

size_t unwind_cache_tables_built(const struct unwind_cache *c)
{
	return c ? c->modules_n + (c->vdso != NULL) : 0;
}

/* ---- building a module ---- */

static struct module_entry *find_by_build_id(const struct unwind_cache *c, const char *build_id)
{
	if (!build_id || !build_id[0])
		return NULL;
	for (size_t i = 0; i < c->modules_n; i++)
		if (strcmp(c->modules[i]->build_id, build_id) == 0)
			return c->modules[i];
	return NULL;
}

static struct module_entry *own_module(struct unwind_cache *c, struct module_entry *e)
{
	if (array_reserve((void **)&c->modules, &c->modules_cap, c->modules_n + 1, sizeof(*c->modules)) != 0) {
		module_entry_free(e);
		return NULL;
	}
	c->modules[c->modules_n++] = e;
	return e;
}

static struct module_entry *build_module(struct unwind_cache *c, pid_t pid, const struct proc_map *m)
{
	const struct elf_symbols *syms = elf_cache_get(c->elf, pid, m);
	const char *build_id = syms ? elf_symbols_build_id(syms) : "";
	struct module_entry *known = find_by_build_id(c, build_id);
	if (known)
		return known;
	int fd = proc_map_open(pid, m);
	if (fd < 0)
		return NULL;
	struct module_entry *e = calloc(1, sizeof(*e));
	if (!e) {
		close(fd);
		return NULL;
	}
	char fd_path[64];
	snprintf(fd_path, sizeof(fd_path), "/proc/self/fd/%d", fd);
	if (unwind_table_build_in_store(fd_path, c->row_store, &e->code.table) != 0)
		e->code.table = NULL;
	if (syms)
		eval_code_find(fd, syms, &e->code.eval);
	close(fd);
	snprintf(e->build_id, sizeof(e->build_id), "%s", build_id);
	return own_module(c, e);
}

static struct module_entry *vdso_module(struct unwind_cache *c, pid_t pid, const struct proc_map *m)
{
	uint64_t size = m->end - m->start;
	if (c->vdso_tried || size == 0 || size > VDSO_MAX_SIZE)
		return c->vdso;
	c->vdso_tried = true;
	uint8_t *image = procfs_read_mem(pid, m->start, size);
	struct module_entry *e = image ? calloc(1, sizeof(*e)) : NULL;
	if (e && unwind_table_build_from_memory(image, size, &e->code.table) != 0) {
		free(e);
		e = NULL;
	}
	free(image);
	c->vdso = e;
	return e;
}

static bool is_vdso(const struct proc_map *m)
{
	return strcmp(m->path, "[vdso]") == 0;
}

/* Whether m's file can have a module: a vDSO or a regular file. */
static bool has_module(const struct proc_map *m)
{
	return m && m->path && (is_vdso(m) || (m->path[0] == '/' && m->inode != 0));
}

/*
 * The module of m's file, built on first use; unless build, a file not built
 * yet is built only when a walk wanted it, else *deferred is set.
 */
static struct module_entry *module_of(struct unwind_cache *c, pid_t pid, const struct proc_map *m, bool build,
				      bool *deferred)
{
	*deferred = false;
	if (is_vdso(m)) {
		if (build || c->vdso_tried || c->vdso_wanted)
			return vdso_module(c, pid, m);
		*deferred = true;
		return NULL;
	}
	struct file_key key = file_key_of_map(m);
	uint64_t hash = file_key_hash(&key);
	size_t slot = hash_map_find(&c->files, hash, &key, NULL, NULL);
	struct module_entry *e;
	if (slot != HASH_MAP_NONE) {
		memcpy(&e, hash_map_val(&c->files, slot), sizeof(e));
		return e;
	}
	if (!build && hash_map_find(&c->wanted, hash, &key, NULL, NULL) == HASH_MAP_NONE) {
		*deferred = true;
		return NULL;
	}
	e = build_module(c, pid, m);
	/* not remembered when out of memory: the file is read again next time */
	hash_map_insert(&c->files, hash, &key, &e);
	return e;
}

const struct module_code *unwind_cache_get(struct unwind_cache *c, pid_t pid, const struct proc_map *m)
{
	bool deferred;
	struct module_entry *e = c && has_module(m) ? module_of(c, pid, m, true, &deferred) : NULL;
	return e ? &e->code : NULL;
}

void unwind_cache_want(struct unwind_cache *c, const struct proc_map *m)
{
	if (!c || !has_module(m))
		return;
	if (is_vdso(m)) {
		c->vdso_wanted = true;
		return;
	}
	struct file_key key = file_key_of_map(m);
	uint64_t hash = file_key_hash(&key);
	if (hash_map_find(&c->wanted, hash, &key, NULL, NULL) == HASH_MAP_NONE)
		hash_map_insert(&c->wanted, hash, &key, NULL);
}

size_t unwind_cache_mappings(const struct proc_maps *maps, struct unwind_mapping *out, const struct proc_map **from,
			     size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; maps && i < maps->n && n < cap; i++) {
		const struct proc_map *m = &maps->maps[i];
		if (!m->executable || m->end <= m->start)
			continue;
		out[n] = (struct unwind_mapping){ .start = m->start, .end = m->end };
		from[n++] = m;
	}
	return n;
}

const struct module_code *unwind_cache_resolve(struct unwind_cache *c, pid_t pid, const struct proc_map *m,
					       bool build, struct unwind_mapping *out, bool *deferred)
{
	bool is_deferred = false;
	struct module_entry *e = c && has_module(m) ? module_of(c, pid, m, build, &is_deferred) : NULL;
	const struct unwind_table *table = e ? e->code.table : NULL;
	uint64_t bias = 0;
	if (table && unwind_table_load_bias(table, m->start, m->offset, &bias) != 0)
		table = NULL;
	out->bias = bias;
	out->table = table;
	if (deferred)
		*deferred = is_deferred;
	return e ? &e->code : NULL;
}
