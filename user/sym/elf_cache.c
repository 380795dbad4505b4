// SPDX-License-Identifier: MIT
/*
 * Files are recognised first by (device, inode) from the maps line, which
 * costs no I/O, then by build-id, which catches the same library reached
 * through different files (containers, copies). Each distinct file is parsed
 * once; a file that cannot be read is remembered as such.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sym/elf_symbols_internal.h"
#include "sym/path_build_ids.h"
#include "util/array.h"
#include "util/hash_map.h"
#include "util/procfs.h"

/* The vDSO is one or two pages; anything much larger is not one. */
#define MAX_VDSO_SIZE (1u << 20)
#define MAX_VDSO_VARIANTS 4

struct vdso_variant {
	uint64_t size;
	struct elf_symbols *symbols;
};

struct elf_cache {
	const struct elf_name_source *stripped_names;
	struct hash_map files; /* struct file_key -> const struct elf_symbols *; NULL: could not be read */
	struct hash_map ids;   /* the elf_symbols that have a build-id, found by it (no values) */
	struct elf_symbols **owned;
	size_t owned_n, owned_cap;
	struct vdso_variant vdso[MAX_VDSO_VARIANTS];
	size_t vdso_n;
	struct path_build_ids *mapped; /* what the normalizer last found at each mapped path */
};

/* ---- (dev, inode) table ---- */

static const struct elf_symbols **find_file(const struct elf_cache *c, const struct file_key *key)
{
	size_t slot = hash_map_find(&c->files, file_key_hash(key), key, NULL, NULL);

	return slot == HASH_MAP_NONE ? NULL : hash_map_val(&c->files, slot);
}

static void remember_file(struct elf_cache *c, const struct file_key *key, const struct elf_symbols *s)
{
	/* not remembered when out of memory: costs a reload later, nothing worse */
	hash_map_insert(&c->files, file_key_hash(key), key, &s);
}

/* ---- build-id table ---- */

static bool has_build_id(const void *stored_key, const void *build_id, const void *unused)
{
	const struct elf_symbols *s;

	memcpy(&s, stored_key, sizeof(s));
	return strcmp(elf_symbols_build_id(s), build_id) == 0;
}

static const struct elf_symbols *find_by_build_id(const struct elf_cache *c, const char *build_id)
{
	size_t slot = build_id[0] ? hash_map_find(&c->ids, hash_string(build_id), build_id, has_build_id, NULL)
				  : HASH_MAP_NONE;
	const struct elf_symbols *s = NULL;

	if (slot != HASH_MAP_NONE)
		memcpy(&s, hash_map_key(&c->ids, slot), sizeof(s));
	return s;
}

static void remember_build_id(struct elf_cache *c, const struct elf_symbols *s)
{
	const char *build_id = elf_symbols_build_id(s);

	if (build_id[0] && !find_by_build_id(c, build_id))
		hash_map_insert(&c->ids, hash_string(build_id), &s, NULL);
}

/* Takes ownership of s; frees it and returns NULL if it cannot be recorded. */
static struct elf_symbols *own(struct elf_cache *c, struct elf_symbols *s)
{
	if (array_reserve((void **)&c->owned, &c->owned_cap, c->owned_n + 1, sizeof(*c->owned)) != 0) {
		elf_symbols_free(s);
		return NULL;
	}
	c->owned[c->owned_n++] = s;
	return s;
}

/* Loads the file behind fd into the cache, findable by build-id; NULL if it is no ELF. */
static const struct elf_symbols *load_and_own(struct elf_cache *c, int fd, const char *path, const char *root)
{
	struct elf_symbols *s = elf_symbols_load_fd(fd, path, root, c->stripped_names);
	if (!s || !own(c, s))
		return NULL;
	remember_build_id(c, s);
	return s;
}

static const struct elf_symbols *load_mapped_file(struct elf_cache *c, pid_t pid, const struct proc_map *m)
{
	int fd = proc_map_open(pid, m);
	if (fd < 0)
		return NULL;
	char build_id[ELF_BUILD_ID_HEX_SIZE];
	const struct elf_symbols *known = elf_symbols_read_build_id(fd, build_id) ? find_by_build_id(c, build_id) : NULL;
	if (known) {
		close(fd);
		return known;
	}
	char root[64];
	procfs_path(root, sizeof(root), pid, 0, "root");
	const struct elf_symbols *s = load_and_own(c, fd, m->path, root);
	close(fd);
	return s;
}

/* ---- vDSO ---- */

/* The kernel maps one vDSO image into every process of an ABI: ours serves when the target's is unreadable. */
static struct elf_symbols *load_own_vdso(uint64_t size)
{
	uintptr_t base = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
	struct proc_maps *own_maps = base ? proc_maps_read(getpid()) : NULL;
	const struct proc_map *m = proc_maps_find(own_maps, base);
	struct elf_symbols *s = NULL;
	if (m && m->start == base && m->end - m->start == size && m->path && strcmp(m->path, "[vdso]") == 0)
		s = elf_symbols_load_mem((const void *)base, size, "[vdso]");
	proc_maps_free(own_maps);
	return s;
}

static struct elf_symbols *load_process_vdso(pid_t pid, const struct proc_map *m, uint64_t size)
{
	char *image = procfs_read_mem(pid, m->start, size);
	struct elf_symbols *s = image ? elf_symbols_load_mem(image, size, "[vdso]") : NULL;
	free(image);
	return s;
}

static const struct elf_symbols *vdso_symbols(struct elf_cache *c, pid_t pid, const struct proc_map *m)
{
	uint64_t size = m->end - m->start;
	if (size == 0 || size > MAX_VDSO_SIZE)
		return NULL;
	for (size_t i = 0; i < c->vdso_n; i++)
		if (c->vdso[i].size == size)
			return c->vdso[i].symbols;
	struct elf_symbols *s = load_process_vdso(pid, m, size);
	if (!s)
		s = load_own_vdso(size);
	if (s && !own(c, s))
		s = NULL;
	if (c->vdso_n < MAX_VDSO_VARIANTS)
		c->vdso[c->vdso_n++] = (struct vdso_variant){ .size = size, .symbols = s };
	return s;
}

/* ---- public ---- */

struct elf_cache *elf_cache_new(const struct elf_name_source *stripped_names)
{
	struct elf_cache *c = calloc(1, sizeof(*c));

	if (c && !(c->mapped = path_build_ids_new())) {
		free(c);
		return NULL;
	}
	if (c) {
		c->stripped_names = stripped_names;
		hash_map_init(&c->files, sizeof(struct file_key), sizeof(const struct elf_symbols *));
		hash_map_init(&c->ids, sizeof(const struct elf_symbols *), 0);
	}
	return c;
}

void elf_cache_free(struct elf_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->owned_n; i++)
		elf_symbols_free(c->owned[i]);
	free(c->owned);
	hash_map_free(&c->files);
	hash_map_free(&c->ids);
	path_build_ids_free(c->mapped);
	free(c);
}

const struct elf_symbols *elf_cache_get(struct elf_cache *c, pid_t pid, const struct proc_map *m)
{
	if (!c || !m || !m->path)
		return NULL;
	if (strcmp(m->path, "[vdso]") == 0)
		return vdso_symbols(c, pid, m);
	if (m->path[0] != '/' || m->inode == 0)
		return NULL;
	struct file_key key = file_key_of_map(m);
	const struct elf_symbols **known = find_file(c, &key);
	if (known)
		return *known;
	const struct elf_symbols *s = load_mapped_file(c, pid, m);
	remember_file(c, &key, s);
	return s;
}

void elf_cache_preload(struct elf_cache *c, const char *path)
{
	struct stat st;
	int fd = c && path ? open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK) : -1;
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		struct file_key key = file_key_of_stat(&st);
		if (!find_file(c, &key))
			remember_file(c, &key, load_and_own(c, fd, path, "/"));
	}
	close(fd);
}

void elf_cache_note_mapped_build_id(struct elf_cache *c, const char *path, const char *build_id)
{
	/* out of memory: the path goes without a build-id, nothing worse */
	if (c && path && build_id)
		(void)path_build_ids_set(c->mapped, path, build_id);
}

const char *elf_cache_mapped_build_id(void *cache, const char *path)
{
	const struct elf_cache *c = cache;
	return c ? path_build_ids_get(c->mapped, path) : NULL;
}

size_t elf_cache_files_loaded(const struct elf_cache *c)
{
	return c ? c->owned_n : 0;
}
