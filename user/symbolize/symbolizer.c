// SPDX-License-Identifier: MIT
#include "symbolize/symbolizer.h"

#include <stdio.h>
#include <stdlib.h>

#include "native/native_mode.h"
#include "util/log.h"

struct symbolizer {
	struct symbolizer_options opt;
	struct elf_cache *elf;
	struct native_mode *native;
	struct kernel_symbols *ksyms;
	bool ksyms_tried;
	struct native_frame native_name; /* the last user address's name: out's strings point here */
	char kernel_name[32];            /* an unnamed kernel address */
};

struct symbolizer *symbolizer_new(const struct symbolizer_options *o, struct elf_cache *elf,
				  struct native_mode *native)
{
	struct symbolizer *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->opt = *o;
	s->elf = elf;
	s->native = native;
	return s;
}

void symbolizer_free(struct symbolizer *s)
{
	if (!s)
		return;
	kernel_symbols_free(s->ksyms);
	free(s);
}

static bool name_kernel(struct symbolizer *s, uint64_t addr, struct frame_desc *out)
{
	if (!s->ksyms_tried) {
		s->ksyms_tried = true;
		s->ksyms = kernel_symbols_load();
		if (!s->ksyms)
			log_warn("cannot read kernel symbols from /proc/kallsyms; kernel frames will be addresses");
	}
	uint64_t off;
	const char *name = s->ksyms ? kernel_symbols_lookup(s->ksyms, addr, &off) : NULL;
	if (!name) {
		snprintf(s->kernel_name, sizeof(s->kernel_name), "0x%llx", (unsigned long long)addr);
		name = s->kernel_name;
	}
	*out = (struct frame_desc){ .name = name, .kind = FRAME_KERNEL };
	return name != s->kernel_name;
}

static bool name_user(struct symbolizer *s, struct target_process *p, uint64_t addr, bool is_return,
		      struct frame_desc *out)
{
	if (p && p->maps && !proc_maps_find(p->maps, addr))
		target_process_refresh_stale_maps(p); /* new code was mapped since the snapshot */
	const struct proc_maps *maps = p ? p->maps : NULL;
	struct native_frame *nf = &s->native_name;
	native_symbolize(s->elf, p ? p->pid : 0, maps, addr, is_return, nf);
	if (s->native && p && maps)
		native_mode_name_by_function(s->native, p->pid, maps, is_return && addr ? addr - 1 : addr, nf);
	*out = (struct frame_desc){ .name = nf->name, .file = nf->module, .kind = FRAME_NATIVE };
	return nf->known;
}

static int python_line(const struct symbolizer *s, int line, int firstlineno)
{
	if (s->opt.no_lineno)
		return 0;
	if (s->opt.function_only)
		return firstlineno;
	return line;
}

static bool name_python(struct symbolizer *s, const struct target_process *p, const struct py_frame_rec *rec,
			struct frame_desc *out)
{
	struct py_code_info info;
	int line = 0;
	*out = (struct frame_desc){ .name = "<unknown>", .kind = FRAME_PYTHON };
	if (!p || !p->pysym || py_symbolize(p->pysym, rec->code, rec->sig, py_lasti_widen(rec->lasti), &info, &line) != 0)
		return false;
	out->name = info.qualname ? info.qualname : info.name;
	out->file = info.filename;
	out->line = python_line(s, line, info.firstlineno);
	return true;
}

bool symbolizer_name(struct symbolizer *s, struct target_process *p, const struct symbol_query *q,
		     struct frame_desc *out)
{
	switch (q->source) {
	case SYMBOL_SOURCE_KERNEL:
		return name_kernel(s, q->addr, out);
	case SYMBOL_SOURCE_USER:
		return name_user(s, p, q->addr, q->is_return, out);
	case SYMBOL_SOURCE_PYTHON:
		return name_python(s, p, q->py, out);
	}
	*out = (struct frame_desc){ .name = "<unknown>", .kind = FRAME_MARKER };
	return false;
}
