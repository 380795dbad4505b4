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
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sym/elf_symbols_internal.h"
#include "util/procfs.h"

/* The vDSO is one or two pages; anything much larger is not one. */
#define MAX_VDSO_SIZE (1u << 20)
#define MAX_VDSO_VARIANTS 4

struct file_slot {
	uint64_t dev, inode;
	const struct elf_symbols *symbols; /* NULL: the file could not be read */
	bool used;
};

struct build_id_slot {
	const struct elf_symbols *symbols; /* NULL: free slot */
};

struct vdso_variant {
	uint64_t size;
	struct elf_symbols *symbols;
};

struct elf_cache {
	struct file_slot *files;
	size_t files_cap, files_used;
	struct build_id_slot *ids;
	size_t ids_cap, ids_used;
	struct elf_symbols **owned;
	size_t owned_n, owned_cap;
	struct vdso_variant vdso[MAX_VDSO_VARIANTS];
	size_t vdso_n;
};

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

static uint64_t hash_string(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

/* ---- (dev, inode) table: open addressing, linear probing ---- */

static struct file_slot *file_slot_for(struct file_slot *files, size_t cap, uint64_t dev, uint64_t inode)
{
	size_t i = mix64(dev * 0x9e3779b97f4a7c15ull ^ inode) & (cap - 1);
	while (files[i].used && (files[i].dev != dev || files[i].inode != inode))
		i = (i + 1) & (cap - 1);
	return &files[i];
}

static int grow_files(struct elf_cache *c)
{
	if ((c->files_used + 1) * 10 < c->files_cap * 7)
		return 0;
	size_t cap = c->files_cap ? c->files_cap * 2 : 256;
	struct file_slot *files = calloc(cap, sizeof(*files));
	if (!files)
		return -1;
	for (size_t i = 0; i < c->files_cap; i++)
		if (c->files[i].used)
			*file_slot_for(files, cap, c->files[i].dev, c->files[i].inode) = c->files[i];
	free(c->files);
	c->files = files;
	c->files_cap = cap;
	return 0;
}

static void remember_file(struct elf_cache *c, uint64_t dev, uint64_t inode, const struct elf_symbols *s)
{
	if (grow_files(c) != 0)
		return; /* not remembered: costs a reload later, nothing worse */
	struct file_slot *slot = file_slot_for(c->files, c->files_cap, dev, inode);
	*slot = (struct file_slot){ .dev = dev, .inode = inode, .symbols = s, .used = true };
	c->files_used++;
}

/* ---- build-id table ---- */

static struct build_id_slot *id_slot_for(struct build_id_slot *ids, size_t cap, const char *build_id)
{
	size_t i = hash_string(build_id) & (cap - 1);
	while (ids[i].symbols && strcmp(elf_symbols_build_id(ids[i].symbols), build_id) != 0)
		i = (i + 1) & (cap - 1);
	return &ids[i];
}

static const struct elf_symbols *find_by_build_id(const struct elf_cache *c, const char *build_id)
{
	if (!c->ids_cap || !build_id[0])
		return NULL;
	return id_slot_for(c->ids, c->ids_cap, build_id)->symbols;
}

static void remember_build_id(struct elf_cache *c, const struct elf_symbols *s)
{
	if (!elf_symbols_build_id(s)[0])
		return;
	if ((c->ids_used + 1) * 10 >= c->ids_cap * 7) {
		size_t cap = c->ids_cap ? c->ids_cap * 2 : 256;
		struct build_id_slot *ids = calloc(cap, sizeof(*ids));
		if (!ids)
			return;
		for (size_t i = 0; i < c->ids_cap; i++)
			if (c->ids[i].symbols)
				*id_slot_for(ids, cap, elf_symbols_build_id(c->ids[i].symbols)) = c->ids[i];
		free(c->ids);
		c->ids = ids;
		c->ids_cap = cap;
	}
	struct build_id_slot *slot = id_slot_for(c->ids, c->ids_cap, elf_symbols_build_id(s));
	if (!slot->symbols) {
		slot->symbols = s;
		c->ids_used++;
	}
}

/* Takes ownership of s; frees it and returns NULL if it cannot be recorded. */
static struct elf_symbols *own(struct elf_cache *c, struct elf_symbols *s)
{
	if (c->owned_n == c->owned_cap) {
		size_t cap = c->owned_cap ? c->owned_cap * 2 : 64;
		struct elf_symbols **owned = realloc(c->owned, cap * sizeof(*owned));
		if (!owned) {
			elf_symbols_free(s);
			return NULL;
		}
		c->owned = owned;
		c->owned_cap = cap;
	}
	c->owned[c->owned_n++] = s;
	return s;
}

/* Loads the file behind fd into the cache, findable by build-id; NULL if it is no ELF. */
static const struct elf_symbols *load_and_own(struct elf_cache *c, int fd, const char *path, const char *root)
{
	struct elf_symbols *s = elf_symbols_load_fd(fd, path, root);
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

struct elf_cache *elf_cache_new(void)
{
	return calloc(1, sizeof(struct elf_cache));
}

void elf_cache_free(struct elf_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->owned_n; i++)
		elf_symbols_free(c->owned[i]);
	free(c->owned);
	free(c->files);
	free(c->ids);
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
	uint64_t dev = (uint64_t)m->dev_major << 32 | m->dev_minor;
	if (c->files_cap) {
		struct file_slot *slot = file_slot_for(c->files, c->files_cap, dev, m->inode);
		if (slot->used)
			return slot->symbols;
	}
	const struct elf_symbols *s = load_mapped_file(c, pid, m);
	remember_file(c, dev, m->inode, s);
	return s;
}

void elf_cache_preload(struct elf_cache *c, const char *path)
{
	struct stat st;
	int fd = c && path ? open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK) : -1;
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		/* keyed as /proc/PID/maps will show it: device major:minor and inode */
		uint64_t dev = (uint64_t)major(st.st_dev) << 32 | minor(st.st_dev);
		struct file_slot *slot = c->files_cap ? file_slot_for(c->files, c->files_cap, dev, st.st_ino) : NULL;
		if (!(slot && slot->used))
			remember_file(c, dev, st.st_ino, load_and_own(c, fd, path, "/"));
	}
	close(fd);
}

size_t elf_cache_files_loaded(const struct elf_cache *c)
{
	return c ? c->owned_n : 0;
}
