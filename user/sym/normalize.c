// SPDX-License-Identifier: MIT
#include <string.h>

#include "sym/normalize.h"

/* Mappings whose contents are an ELF image we can name: regular files, and the vDSO. */
static bool is_elf_backed(const struct proc_map *m)
{
	return m->path && ((m->path[0] == '/' && m->inode != 0) || strcmp(m->path, "[vdso]") == 0);
}

bool normalize_mapped_address(struct elf_cache *c, pid_t pid, const struct proc_map *m, uint64_t addr,
			      struct normalized_address *out)
{
	*out = (struct normalized_address){ .module = m ? m->path : NULL, .build_id = "" };
	if (!m || !is_elf_backed(m) || addr < m->start || addr >= m->end)
		return false;
	out->file_offset = addr - m->start + m->offset;
	/* the cache keys files by (dev, inode) and reads each one once, through the process's view */
	const struct elf_symbols *s = elf_cache_get(c, pid, m);
	if (s)
		out->build_id = elf_symbols_build_id(s);
	/* for the frames about to be interned, which know only the path */
	elf_cache_note_mapped_build_id(c, m->path, out->build_id);
	return true;
}

bool normalize_user_address(struct elf_cache *c, pid_t pid, const struct proc_maps *maps, uint64_t addr,
			    struct normalized_address *out)
{
	const struct proc_map *m = maps ? proc_maps_find(maps, addr) : NULL;
	return normalize_mapped_address(c, pid, m, addr, out);
}
