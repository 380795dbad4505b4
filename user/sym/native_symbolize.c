// SPDX-License-Identifier: MIT
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sym/demangle.h"
#include "sym/native_symbols.h"
#include "sym/normalize.h"

static const char *basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

void native_symbolize(struct elf_cache *c, pid_t pid, const struct proc_maps *maps, uint64_t addr,
		      bool is_return_address, struct native_frame *out)
{
	/* A return address may point just past the call, already in the next function. */
	uint64_t pc = is_return_address && addr > 0 ? addr - 1 : addr;
	const struct proc_map *m = proc_maps_find(maps, pc);
	struct normalized_address where;
	normalize_mapped_address(c, pid, m, pc, &where);
	out->module = where.module;
	out->build_id = where.build_id;
	out->file_offset = where.file_offset;
	out->vaddr = 0;
	out->known = false;
	if (!m || !m->path) {
		snprintf(out->name, sizeof(out->name), "0x%" PRIx64, addr);
		return;
	}
	const struct elf_symbols *s = elf_cache_get(c, pid, m);
	uint64_t vaddr;
	if (s && elf_symbols_offset_to_vaddr(s, pc - m->start + m->offset, &vaddr)) {
		out->vaddr = vaddr;
		const char *name = elf_symbols_lookup(s, vaddr, NULL);
		if (name) {
			demangle_symbol(name, out->name, sizeof(out->name));
			out->known = true;
			return;
		}
	}
	snprintf(out->name, sizeof(out->name), "0x%" PRIx64 " (%s)", addr, basename_of(m->path));
}
