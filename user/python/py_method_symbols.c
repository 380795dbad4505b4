// SPDX-License-Identifier: MIT
#include "python/py_method_symbols.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sym/elf_reader.h"
#include "unwind/cfi_image.h"
#include "util/array.h"
#include "util/radix_sort.h"
#include "util/sorted.h"
#include "util/string_arena.h"

/*
 * Layouts read here, the same from 3.8 to 3.15 on 64-bit default (GIL)
 * builds: PyMethodDef {ml_name, ml_meth, int ml_flags, ml_doc} (32 bytes);
 * PyModuleDef: m_name at 40, m_methods at 64; PyTypeObject: ob_type at 8,
 * tp_name at 24, tp_methods at 232 and the slots below; PyType_Spec: name at
 * 0, slots at 24; PyType_Slot {int slot, void *pfunc} (16 bytes).
 */
#define METHOD_DEF_SIZE 32
#define METH_FLAGS_MASK 0x3ffu /* METH_VARARGS .. METH_METHOD */
#define MODULE_DEF_NAME_TO_METHODS 24 /* m_methods - m_name */
#define TYPE_OB_TYPE 8
#define TYPE_TP_NAME 24
#define TYPE_TP_METHODS 232
#define SPEC_BASICSIZE 8
#define SPEC_SLOTS 24
#define SPEC_MAX_BASICSIZE (1 << 20) /* bounds no real type reaches: they only reject pointers early */
#define SPEC_MAX_ITEMSIZE (1 << 16)
#define PY_TP_METHODS_SLOT 64
#define MAX_NAME 96
#define MAX_SPEC_SLOTS 128

struct type_slot {
	unsigned type_offset; /* in PyTypeObject */
	int spec_id;          /* Py_tp_* in typeslots.h */
	const char *suffix;
};

/* The slots whose functions show up on stacks; each named as the Python special method it implements. */
static const struct type_slot type_slots[] = {
	{ 48, 52, "__dealloc__" },   { 88, 66, "__repr__" },     { 120, 59, "__hash__" },
	{ 128, 50, "__call__" },     { 136, 70, "__str__" },     { 144, 58, "__getattribute__" },
	{ 152, 69, "__setattr__" },  { 184, 71, "__traverse__" }, { 192, 51, "__clear__" },
	{ 200, 67, "__richcmp__" },  { 216, 62, "__iter__" },    { 224, 63, "__next__" },
	{ 272, 54, "__get__" },      { 280, 55, "__set__" },     { 296, 60, "__init__" },
	{ 312, 65, "__new__" },      { 400, 0, "__call__" } /* tp_vectorcall */,
};

struct section {
	uint64_t addr, size;
	const uint8_t *data;
	bool writable;
};

struct reloc {
	uint64_t offset, value;
};

struct range {
	uint64_t begin, end;
};

struct method_entry {
	uint64_t addr, meth, name_ptr, array;
};

struct owner {
	uint64_t array; /* a PyMethodDef array, or 0 for a slot function */
	uint64_t func;
	char name[MAX_NAME];
	const char *suffix;
};

/* Methods in table order, then slots, sorted stably by address: the first name of an address wins. */
struct named {
	uint64_t addr;
	uint32_t name; /* in struct names' strings */
};

struct names {
	struct named *items;
	size_t n, cap;
	struct string_arena strings;
};

struct image {
	struct section *secs;
	size_t nsecs;
	struct reloc *relocs;
	size_t nrelocs, relocs_cap;
	struct range *funcs;
	size_t nfuncs, funcs_cap;
	struct method_entry *entries;
	size_t nentries, entries_cap;
	struct owner *owners;
	size_t nowners, owners_cap;
	bool oom;
};

/* ---- reading the image ---- */

/* Sections are sorted by address (load_sections) and do not overlap: every word scanned asks. */
static const struct section *section_of(const struct image *img, uint64_t vaddr, uint64_t len)
{
	size_t n = SORTED_COUNT_AT_OR_BELOW(img->secs, img->nsecs, addr, vaddr);
	const struct section *s = n ? &img->secs[n - 1] : NULL;
	return s && len <= s->size && vaddr - s->addr <= s->size - len ? s : NULL;
}

static int compare_section(const void *a, const void *b)
{
	uint64_t x = ((const struct section *)a)->addr, y = ((const struct section *)b)->addr;
	return x < y ? -1 : x > y;
}

static int compare_reloc(const void *a, const void *b)
{
	uint64_t x = ((const struct reloc *)a)->offset, y = ((const struct reloc *)b)->offset;
	return x < y ? -1 : x > y;
}

/* The pointer stored at vaddr once the loader applied relative relocations. */
static bool read_ptr(const struct image *img, uint64_t vaddr, uint64_t *out)
{
	if (img->nrelocs) {
		struct reloc key = { .offset = vaddr };
		const struct reloc *r = bsearch(&key, img->relocs, img->nrelocs, sizeof(key), compare_reloc);
		if (r) {
			*out = r->value;
			return true;
		}
	}
	const struct section *s = section_of(img, vaddr, 8);
	if (!s)
		return false;
	memcpy(out, s->data + (vaddr - s->addr), 8);
	return true;
}

static bool read_u32(const struct image *img, uint64_t vaddr, uint32_t *out)
{
	const struct section *s = section_of(img, vaddr, 4);
	if (!s)
		return false;
	memcpy(out, s->data + (vaddr - s->addr), 4);
	return true;
}

/* An identifier (dotted when allowed) in read-only data, copied into out. */
static bool read_name(const struct image *img, uint64_t vaddr, bool dotted, char out[MAX_NAME])
{
	const struct section *s = section_of(img, vaddr, 1);
	if (!s || s->writable)
		return false;
	const char *p = (const char *)s->data + (vaddr - s->addr);
	size_t room = s->size - (vaddr - s->addr);
	size_t n = 0;
	for (; n < room && n < MAX_NAME - 1 && p[n]; n++) {
		char c = p[n];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
		bool digit = c >= '0' && c <= '9';
		if (!alpha && !(n && (digit || (dotted && c == '.' && p[n - 1] != '.'))))
			return false;
	}
	if (n == 0 || n >= room || p[n] || p[n - 1] == '.')
		return false;
	memcpy(out, p, n + 1);
	return true;
}

static int compare_range(const void *a, const void *b)
{
	uint64_t x = ((const struct range *)a)->begin, y = ((const struct range *)b)->begin;
	return x < y ? -1 : x > y;
}

/* The end of the function starting exactly at addr, or 0. */
static uint64_t function_end(const struct image *img, uint64_t addr)
{
	struct range key = { .begin = addr };
	if (!img->nfuncs)
		return 0;
	const struct range *r = bsearch(&key, img->funcs, img->nfuncs, sizeof(key), compare_range);
	return r ? r->end : 0;
}

/* ---- loading ---- */

static int collect_fde(void *ctx, const struct cfi_fde *fde)
{
	struct image *img = ctx;
	if (fde->pc_end <= fde->pc_begin)
		return 0;
	if (array_reserve((void **)&img->funcs, &img->funcs_cap, img->nfuncs + 1, sizeof(*img->funcs)) != 0)
		return -1;
	img->funcs[img->nfuncs++] = (struct range){ fde->pc_begin, fde->pc_end };
	return 0;
}

/* From .eh_frame_hdr's search table when there is one: in address order already, nothing walked. */
static bool load_indexed_functions(struct image *img, const struct cfi_image *cfi)
{
	struct cfi_fde_index_entry *index;
	struct cfi_cie_cache cie = { 0 };
	size_t n = cfi->section_count == 1 ? cfi_image_fde_index(cfi, &index) : 0;
	if (n == 0)
		return false;
	img->funcs = malloc(n * sizeof(*img->funcs));
	for (size_t i = 0; img->funcs && i < n; i++) {
		struct cfi_fde fde;
		if (cfi_fde_at(&cfi->sections[0], index[i].offset, &cie, &fde) && fde.pc_begin == index[i].pc &&
		    fde.pc_end > fde.pc_begin && (!img->nfuncs || img->funcs[img->nfuncs - 1].begin < fde.pc_begin))
			img->funcs[img->nfuncs++] = (struct range){ fde.pc_begin, fde.pc_end };
	}
	free(index);
	img->funcs_cap = img->funcs ? n : 0;
	return img->funcs != NULL;
}

static bool load_functions(struct image *img, Elf *elf)
{
	struct cfi_image cfi;
	size_t n = cfi_image_load(&cfi, elf);
	if (load_indexed_functions(img, &cfi))
		return true;
	for (size_t i = 0; i < n; i++) {
		struct cfi_walk_stats stats;
		if (cfi_section_walk(&cfi.sections[i], collect_fde, img, &stats) != 0)
			return false;
	}
	if (img->nfuncs)
		qsort(img->funcs, img->nfuncs, sizeof(*img->funcs), compare_range);
	return true;
}

static bool load_sections(struct image *img, Elf *elf)
{
	size_t n;
	if (elf_getshdrnum(elf, &n) != 0 || !(img->secs = calloc(n ? n : 1, sizeof(*img->secs))))
		return false;
	for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn; scn = elf_nextscn(elf, scn)) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC) || sh.sh_type == SHT_NOBITS ||
		    (sh.sh_flags & SHF_EXECINSTR))
			continue;
		Elf_Data *d = sh.sh_type == SHT_PROGBITS ? elf_reader_section_data(elf, scn) : NULL;
		if (d && d->d_buf && d->d_size && img->nsecs < n)
			img->secs[img->nsecs++] = (struct section){
				.addr = sh.sh_addr, .size = d->d_size, .data = d->d_buf,
				.writable = (sh.sh_flags & SHF_WRITE) != 0,
			};
		if (sh.sh_type == SHT_RELA && sh.sh_entsize == sizeof(Elf64_Rela) && d == NULL) {
			Elf_Data *rd = elf_reader_section_data(elf, scn);
			Elf_Data *syms = elf_reader_section_data(elf, elf_getscn(elf, sh.sh_link));
			size_t count = rd ? rd->d_size / sizeof(Elf64_Rela) : 0;
			for (size_t i = 0; i < count && i <= INT32_MAX; i++) {
				GElf_Rela r;
				GElf_Sym sym;
				uint64_t value;
				if (!gelf_getrela(rd, (int)i, &r))
					continue;
				if (GELF_R_TYPE(r.r_info) == R_X86_64_RELATIVE)
					value = (uint64_t)r.r_addend;
				/* in a shared libpython, &PyType_Type in each static type is a symbol reference */
				else if (GELF_R_TYPE(r.r_info) == R_X86_64_64 && syms && GELF_R_SYM(r.r_info) <= INT32_MAX &&
					 gelf_getsym(syms, (int)GELF_R_SYM(r.r_info), &sym) && sym.st_shndx != SHN_UNDEF)
					value = sym.st_value + (uint64_t)r.r_addend;
				else
					continue;
				if (array_reserve((void **)&img->relocs, &img->relocs_cap, img->nrelocs + 1, sizeof(*img->relocs)) != 0)
					return false;
				img->relocs[img->nrelocs++] = (struct reloc){ r.r_offset, value };
			}
		}
	}
	if (img->nrelocs)
		qsort(img->relocs, img->nrelocs, sizeof(*img->relocs), compare_reloc);
	qsort(img->secs, img->nsecs, sizeof(*img->secs), compare_section);
	return true;
}

/*
 * The address of the first defined dynamic symbol called name (or, with
 * prefix, starting with it), or 0.
 */
static uint64_t dynamic_symbol(Elf *elf, const char *name, bool prefix)
{
	for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn; scn = elf_nextscn(elf, scn)) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM)
			continue;
		Elf_Data *syms = elf_reader_section_data(elf, scn);
		Elf_Data *strs = elf_reader_section_data(elf, elf_getscn(elf, sh.sh_link));
		size_t n = syms ? syms->d_size / sizeof(Elf64_Sym) : 0;
		for (size_t i = 1; strs && i < n; i++) {
			GElf_Sym sym;
			const char *s;
			if (gelf_getsym(syms, (int)i, &sym) && sym.st_shndx != SHN_UNDEF &&
			    (s = elf_reader_string(strs, sym.st_name)) &&
			    (prefix ? strncmp(s, name, strlen(name)) == 0 : strcmp(s, name) == 0))
				return sym.st_value;
		}
	}
	return 0;
}

/* ---- finding the tables ---- */

/* s holds all METHOD_DEF_SIZE bytes at at */
static bool is_method_def(const struct image *img, const struct section *s, uint64_t at, struct method_entry *out)
{
	uint64_t name, meth, doc;
	uint32_t flags, pad;
	char buf[MAX_NAME];
	/* the flags and padding words first, straight from the section: they reject almost every word of .data */
	memcpy(&flags, s->data + (at + 16 - s->addr), 4);
	memcpy(&pad, s->data + (at + 20 - s->addr), 4);
	if (!flags || (flags & ~METH_FLAGS_MASK) || pad || !read_ptr(img, at + 8, &meth) || !function_end(img, meth) ||
	    !read_ptr(img, at, &name) || !read_name(img, name, false, buf) || !read_ptr(img, at + 24, &doc))
		return false;
	const struct section *ds = doc ? section_of(img, doc, 1) : NULL;
	if (doc && (!ds || ds->writable))
		return false;
	*out = (struct method_entry){ .addr = at, .meth = meth, .name_ptr = name };
	return true;
}

static bool add_owner(struct image *img, uint64_t array, uint64_t func, const char *name, const char *suffix)
{
	if (array_reserve((void **)&img->owners, &img->owners_cap, img->nowners + 1, sizeof(*img->owners)) != 0)
		return false;
	struct owner *o = &img->owners[img->nowners++];
	*o = (struct owner){ .array = array, .func = func, .suffix = suffix };
	snprintf(o->name, sizeof(o->name), "%s", name);
	return true;
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static bool is_array_start(const struct image *img, uint64_t v)
{
	struct method_entry key = { .addr = v };
	/* most words point into code or strings, outside every table: two comparisons, not a search */
	if (!img->nentries || v < img->entries[0].addr || v > img->entries[img->nentries - 1].addr)
		return false;
	const struct method_entry *e = bsearch(&key, img->entries, img->nentries, sizeof(key), compare_u64);
	return e && e->array == v;
}

static bool scan_method_defs(struct image *img)
{
	for (size_t i = 0; i < img->nsecs; i++) {
		const struct section *s = &img->secs[i];
		if (!s->writable)
			continue;
		uint64_t first = (s->addr + 7) & ~7ull;
		for (uint64_t at = first; at + METHOD_DEF_SIZE <= s->addr + s->size; at += 8) {
			struct method_entry e;
			if (!is_method_def(img, s, at, &e))
				continue;
			if (array_reserve((void **)&img->entries, &img->entries_cap, img->nentries + 1, sizeof(e)) != 0)
				return false;
			img->entries[img->nentries++] = e;
			at += METHOD_DEF_SIZE - 8;
		}
	}
	/* entries come in address order; an array is a run of adjacent entries */
	for (size_t i = 0; i < img->nentries; i++) {
		struct method_entry *e = &img->entries[i];
		bool continues = i && img->entries[i - 1].addr + METHOD_DEF_SIZE == e->addr;
		e->array = continues ? img->entries[i - 1].array : e->addr;
	}
	return true;
}

/* Static type objects (ob_type == &PyType_Type): their method arrays and slot functions. */
static bool scan_type(struct image *img, uint64_t type)
{
	char name[MAX_NAME];
	uint64_t name_ptr, methods, func;
	if (!read_ptr(img, type + TYPE_TP_NAME, &name_ptr) || !read_name(img, name_ptr, true, name))
		return true;
	if (read_ptr(img, type + TYPE_TP_METHODS, &methods) && is_array_start(img, methods) &&
	    !add_owner(img, methods, 0, name, NULL))
		return false;
	for (size_t i = 0; i < sizeof(type_slots) / sizeof(type_slots[0]); i++)
		if (read_ptr(img, type + type_slots[i].type_offset, &func) && function_end(img, func) &&
		    !add_owner(img, 0, func, name, type_slots[i].suffix))
			return false;
	return true;
}

/*
 * Whether the words at spec can be a PyType_Spec's basicsize and itemsize (two ints, never relocated):
 * asked of every word of writable data, so it reads the section it was given and searches nothing.
 */
static bool spec_sizes_plausible(const struct section *s, uint64_t spec)
{
	int32_t basicsize, itemsize;
	if (spec + SPEC_SLOTS + 8 > s->addr + s->size)
		return false;
	memcpy(&basicsize, s->data + (spec + SPEC_BASICSIZE - s->addr), 4);
	memcpy(&itemsize, s->data + (spec + SPEC_BASICSIZE + 4 - s->addr), 4);
	return basicsize >= 0 && basicsize <= SPEC_MAX_BASICSIZE && itemsize >= 0 && itemsize <= SPEC_MAX_ITEMSIZE;
}

/* PyType_FromSpec types: name at 0, slots at 24, {Py_tp_*, pfunc} pairs up to {0, NULL}. */
static bool scan_spec(struct image *img, const struct section *in, uint64_t spec)
{
	char name[MAX_NAME];
	uint64_t name_ptr, slots;
	if (!spec_sizes_plausible(in, spec) || !read_ptr(img, spec + SPEC_SLOTS, &slots) || !section_of(img, slots, 16) ||
	    !read_ptr(img, spec, &name_ptr) || !read_name(img, name_ptr, true, name))
		return true;
	for (int i = 0; i < MAX_SPEC_SLOTS; i++) {
		uint32_t id;
		uint64_t func;
		if (!read_u32(img, slots + 16 * (uint64_t)i, &id) || !read_ptr(img, slots + 16 * (uint64_t)i + 8, &func))
			return true;
		if (id == 0)
			break;
		if (id > 100 || !func)
			return true; /* not a slot array after all */
		if (id == PY_TP_METHODS_SLOT) {
			if (is_array_start(img, func) && !add_owner(img, func, 0, name, NULL))
				return false;
			continue;
		}
		for (size_t k = 0; k < sizeof(type_slots) / sizeof(type_slots[0]); k++)
			if (type_slots[k].spec_id == (int)id && function_end(img, func) &&
			    !add_owner(img, 0, func, name, type_slots[k].suffix))
				return false;
	}
	return true;
}

static bool scan_owners(struct image *img, uint64_t type_type)
{
	for (size_t i = 0; i < img->nsecs; i++) {
		const struct section *s = &img->secs[i];
		if (!s->writable)
			continue;
		uint64_t first = (s->addr + 7) & ~7ull;
		size_t reloc = first ? SORTED_COUNT_AT_OR_BELOW(img->relocs, img->nrelocs, offset, first - 1) : 0;
		for (uint64_t at = first; at + 8 <= s->addr + s->size; at += 8) {
			uint64_t v, name_ptr;
			char name[MAX_NAME];
			/* every word in order: the relocations are followed alongside instead of searched */
			while (reloc < img->nrelocs && img->relocs[reloc].offset < at)
				reloc++;
			if (reloc < img->nrelocs && img->relocs[reloc].offset == at)
				v = img->relocs[reloc].value;
			else
				memcpy(&v, s->data + (at - s->addr), 8);
			if (!v)
				continue;
			if (type_type && v == type_type && at >= TYPE_OB_TYPE && !scan_type(img, at - TYPE_OB_TYPE))
				return false;
			/* a PyModuleDef's m_methods, with its m_name three words before */
			if (is_array_start(img, v) && at >= MODULE_DEF_NAME_TO_METHODS &&
			    read_ptr(img, at - MODULE_DEF_NAME_TO_METHODS, &name_ptr) &&
			    read_name(img, name_ptr, true, name) && !add_owner(img, v, 0, name, NULL))
				return false;
			if (!scan_spec(img, s, at))
				return false;
		}
	}
	return true;
}

/* ---- naming ---- */

/* The owners of method arrays, sorted by array and then by when they were found: the first found names it. */
struct array_owner {
	uint64_t array;
	size_t owner;
};

static int compare_array_owner(const void *pa, const void *pb)
{
	const struct array_owner *a = pa, *b = pb;
	if (a->array != b->array)
		return a->array < b->array ? -1 : 1;
	return (a->owner > b->owner) - (a->owner < b->owner);
}

static struct array_owner *array_owners(const struct image *img, size_t *n)
{
	struct array_owner *out = malloc((img->nowners ? img->nowners : 1) * sizeof(*out));
	*n = 0;
	for (size_t i = 0; out && i < img->nowners; i++)
		if (img->owners[i].array)
			out[(*n)++] = (struct array_owner){ .array = img->owners[i].array, .owner = i };
	if (out && *n)
		qsort(out, *n, sizeof(*out), compare_array_owner);
	return out;
}

static const char *owner_of_array(const struct image *img, const struct array_owner *owners, size_t n,
				  uint64_t array)
{
	size_t first = array ? SORTED_COUNT_AT_OR_BELOW(owners, n, array, array - 1) : n;
	return first < n && owners[first].array == array ? img->owners[owners[first].owner].name : NULL;
}

static bool add_named(struct names *out, uint64_t addr, const char *owner, const char *name)
{
	char full[2 * MAX_NAME + 2];
	int len = owner ? snprintf(full, sizeof(full), "%s.%s", owner, name) : snprintf(full, sizeof(full), "%s", name);
	if (len < 0 || array_reserve((void **)&out->items, &out->cap, out->n + 1, sizeof(*out->items)) != 0)
		return false;
	struct named *x = &out->items[out->n];
	x->addr = addr;
	if (string_arena_add(&out->strings, full, strlen(full), &x->name) != 0)
		return false;
	out->n++;
	return true;
}

/* Whether elf is CPython (it exports PyType_Type) or one of its extension modules (PyInit_*); *type_type: &PyType_Type. */
static bool is_cpython_image(Elf *elf, uint64_t *type_type)
{
	GElf_Ehdr eh;
	if (!gelf_getehdr(elf, &eh) || gelf_getclass(elf) != ELFCLASS64 || eh.e_machine != EM_X86_64)
		return false;
	*type_type = dynamic_symbol(elf, "PyType_Type", false);
	return *type_type || dynamic_symbol(elf, "PyInit_", true);
}

long py_method_symbols_scan(Elf *elf, py_method_symbol_fn fn, void *ctx)
{
	uint64_t type_type;
	/* only CPython and its extension modules: every other stripped library would pay for an .eh_frame
	 * walk and a data scan for nothing */
	if (!is_cpython_image(elf, &type_type))
		return 0;
	struct image img = { 0 };
	struct names names = { 0 };
	long result = -1;
	if (!load_sections(&img, elf) || !load_functions(&img, elf) || !scan_method_defs(&img))
		goto out;
	result = 0;
	if (!img.nentries || !img.nfuncs)
		goto out;
	result = -1;
	if (!scan_owners(&img, type_type))
		goto out;
	/* methods first, in table order; then slot functions */
	size_t narray_owners;
	struct array_owner *by_array = array_owners(&img, &narray_owners);
	if (!by_array)
		goto out;
	for (size_t i = 0; i < img.nentries; i++) {
		char ml_name[MAX_NAME];
		const struct method_entry *e = &img.entries[i];
		if (read_name(&img, e->name_ptr, false, ml_name) &&
		    !add_named(&names, e->meth, owner_of_array(&img, by_array, narray_owners, e->array), ml_name)) {
			free(by_array);
			goto out;
		}
	}
	free(by_array);
	for (size_t i = 0; i < img.nowners; i++)
		if (!img.owners[i].array &&
		    !add_named(&names, img.owners[i].func, img.owners[i].name, img.owners[i].suffix))
			goto out;
	if (RADIX_SORT_U64(names.items, names.n, addr) != 0)
		goto out;
	result = 0;
	const struct named *named = names.items;
	for (size_t i = 0; i < names.n;) {
		size_t j = i + 1;
		unsigned others = 0;
		const char *first = string_arena_get(&names.strings, named[i].name);
		for (; j < names.n && named[j].addr == named[i].addr; j++)
			others += strcmp(string_arena_get(&names.strings, named[j].name), first) != 0;
		char name[2 * MAX_NAME + 2 + 24];
		/* one C function behind several Python names: say so rather than pick one silently */
		if (others)
			snprintf(name, sizeof(name), "%s (+%u more)", first, others);
		else
			snprintf(name, sizeof(name), "%s", first);
		int r = fn(ctx, named[i].addr, function_end(&img, named[i].addr) - named[i].addr, name);
		if (r) {
			result = r;
			goto out;
		}
		result++;
		i = j;
	}
out:
	free(names.items);
	string_arena_free(&names.strings);
	free(img.owners);
	free(img.entries);
	free(img.funcs);
	free(img.relocs);
	free(img.secs);
	return result;
}

/*
 * The values the scan can take for a function's address: each relocation's
 * and each aligned word of writable data (where method tables, static types
 * and PyType_Slot arrays live: PyType_Spec's slots are not const, and
 * neither are the arrays), kept when between the first and the last function
 * start. Sorted, with repeats.
 */
static uint64_t *pointer_values(const struct image *img, uint64_t lo, uint64_t hi, size_t *n)
{
	size_t cap = 0;
	uint64_t *out = NULL;
	*n = 0;
	for (size_t i = 0; i < img->nsecs + 1; i++) {
		const struct section *s = i < img->nsecs ? &img->secs[i] : NULL;
		size_t count = s ? (s->addr + s->size - ((s->addr + 7) & ~7ull)) / 8 : img->nrelocs;
		if (s && (!s->writable || s->size < 8))
			continue;
		for (size_t k = 0; k < count; k++) {
			uint64_t v;
			if (s)
				memcpy(&v, s->data + (((s->addr + 7) & ~7ull) - s->addr) + 8 * k, 8);
			else
				v = img->relocs[k].value;
			if (v < lo || v > hi)
				continue;
			if (array_reserve((void **)&out, &cap, *n + 1, sizeof(*out)) != 0) {
				free(out);
				return NULL;
			}
			out[(*n)++] = v;
		}
	}
	if (*n && radix_sort_u64(out, *n, sizeof(*out), 0) != 0) {
		free(out);
		return NULL;
	}
	return out ? out : malloc(1);
}

/*
 * The scan names a function only through a pointer to its first byte (a
 * method's ml_meth, a type's slot), read where read_ptr reads: so it names
 * nothing outside the functions whose start some such value equals. Those
 * are found from .eh_frame_hdr's sorted starts and a pass over the data, a
 * fraction of the scan, which a lookup then needs only for one of them.
 */
long py_method_symbols_candidates(Elf *elf, uint64_t **ranges)
{
	uint64_t type_type;
	*ranges = NULL;
	if (!is_cpython_image(elf, &type_type))
		return 0; /* the scan names nothing here */
	struct cfi_image cfi;
	struct cfi_fde_index_entry *index = NULL;
	size_t nindex = cfi_image_load(&cfi, elf) == 1 ? cfi_image_fde_index(&cfi, &index) : 0;
	struct image img = { 0 };
	uint64_t *values = NULL, *out = NULL;
	size_t nvalues = 0, nout = 0, cap = 0;
	long result = -1; /* unknown: the scan runs at the first lookup it may answer */
	if (!nindex || !load_sections(&img, elf) ||
	    !(values = pointer_values(&img, index[0].pc, index[nindex - 1].pc, &nvalues)))
		goto out;
	/* both sorted: one merge */
	for (size_t i = 0, v = 0; i < nindex; i++) {
		while (v < nvalues && values[v] < index[i].pc)
			v++;
		if (v == nvalues)
			break;
		if (values[v] != index[i].pc)
			continue;
		if (array_reserve((void **)&out, &cap, nout + 2, sizeof(*out)) != 0)
			goto out;
		out[nout++] = index[i].pc;
		/* up to the next function's start: a gap between them is no one's, and costs only a scan */
		out[nout++] = i + 1 < nindex ? index[i + 1].pc : UINT64_MAX;
	}
	*ranges = out;
	out = NULL;
	result = (long)(nout / 2);
out:
	free(out);
	free(values);
	free(index);
	free(img.relocs);
	free(img.secs);
	return result;
}

const struct elf_name_source py_method_names = { .scan = py_method_symbols_scan,
						  .candidates = py_method_symbols_candidates };
