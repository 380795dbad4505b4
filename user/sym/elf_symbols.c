// SPDX-License-Identifier: MIT
/*
 * Symbols of one ELF file. Everything needed later is copied out of libelf at
 * load time, so a loaded table is immutable, holds no file descriptor and can
 * be shared by every process that maps the file.
 */
#include "sym/elf_symbols_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sym/elf_debug_file.h"
#include "sym/elf_minidebuginfo.h"
#include "util/array.h"
#include "util/hash_map.h"
#include "util/radix_sort.h"
#include "util/sorted.h"
#include "util/string_arena.h"

/* A lookup walks back at most this many symbols to find one that encloses nested ones. */
#define MAX_ENCLOSING_SCAN 16

struct function_symbol {
	uint64_t start, end; /* [start, end) */
	uint32_t name;       /* in strings, or in source_strings when from_source */
	uint8_t rank;        /* binding preference: higher wins at equal addresses */
	bool sized;
	bool from_source;
};

struct named_symbol {
	uint64_t addr, size;
	uint32_t name;
	uint8_t rank;
};

struct section_info {
	uint64_t addr, size, offset;
	uint32_t name;
};

struct load_segment {
	uint64_t offset, filesz, vaddr, memsz;
};

struct elf_symbols {
	char *path;
	char build_id[ELF_BUILD_ID_HEX_SIZE];
	bool is_dyn;
	struct load_segment *segments;
	size_t n_segments;
	struct function_symbol *functions; /* sorted by start, one per address */
	size_t n_functions;
	struct named_symbol *named; /* as read */
	size_t n_named;
	/* keys: indices into named, the best-ranked (then first read) of each name; built instead of sorting
	 * named by name, which was a third of loading a file. Built only once a file is asked for names
	 * often: most are asked once or twice (is libc an interpreter?), and indexing libc's 10,000 names
	 * costs ten of its linear scans (~0.7 ms). */
	struct hash_map by_name;
	bool by_name_built;
	unsigned by_name_scans;
	struct section_info *sections;
	size_t n_sections;
	const char **needed;
	size_t n_needed;
	struct string_arena strings;
	/*
	 * A stripped file whose functions a name source can name (CPython's
	 * method tables): the scan costs tens of milliseconds for an interpreter
	 * and only naming addresses needs it, not finding a symbol by name (how
	 * a process's runtime is found), so it runs on the first lookup by
	 * address, reopening the file (open_path) and checking its build-id.
	 * Its names go to an arena of their own: pointers into strings already
	 * handed out stay valid.
	 */
	const struct elf_name_source *pending_source;
	char *open_path;
	struct string_arena source_strings;
	/*
	 * Where the pending source may name a function (its candidates), read at
	 * the first lookup the file's own symbols do not answer: the scan runs
	 * only for an address inside one. A spinning interpreter's stacks are
	 * its eval loop and start-up, which it does not name.
	 */
	uint64_t *source_ranges; /* [start, end) pairs, sorted */
	size_t n_source_ranges;
	enum { SOURCE_RANGES_UNREAD, SOURCE_RANGES_READ, SOURCE_RANGES_UNKNOWN } source_ranges_state;
};

struct builder {
	struct elf_symbols *s;
	size_t cap_functions, cap_named, cap_sections, cap_segments;
	uint32_t *needed_names;
	size_t n_needed_names, cap_needed;
};

static uint8_t binding_rank(unsigned bind)
{
	switch (bind) {
	case STB_GLOBAL:
	case STB_GNU_UNIQUE:
		return 3;
	case STB_WEAK:
		return 2;
	default:
		return 1;
	}
}

/* ---- what the file is: segments, sections, dynamic entries ---- */

static int read_segments(struct builder *b, Elf *elf)
{
	size_t phnum;
	if (elf_getphdrnum(elf, &phnum) != 0)
		return -1;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph))
			return -1;
		if (ph.p_type != PT_LOAD)
			continue;
		struct elf_symbols *s = b->s;
		if (array_reserve((void **)&s->segments, &b->cap_segments, s->n_segments + 1, sizeof(*s->segments)))
			return -1;
		s->segments[s->n_segments++] = (struct load_segment){
			.offset = ph.p_offset, .filesz = ph.p_filesz, .vaddr = ph.p_vaddr, .memsz = ph.p_memsz
		};
	}
	return 0;
}

static int read_sections(struct builder *b, Elf *elf)
{
	size_t shstrndx;
	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return 0; /* no section names: nothing to record */
	struct elf_symbols *s = b->s;
	for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn; scn = elf_nextscn(elf, scn)) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh))
			return -1;
		const char *name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name || !name[0])
			continue;
		if (array_reserve((void **)&s->sections, &b->cap_sections, s->n_sections + 1, sizeof(*s->sections)))
			return -1;
		struct section_info *si = &s->sections[s->n_sections];
		*si = (struct section_info){ .addr = sh.sh_addr, .size = sh.sh_size, .offset = sh.sh_offset };
		if (string_arena_add(&s->strings, name, strlen(name), &si->name))
			return -1;
		s->n_sections++;
	}
	return 0;
}

static int read_needed(struct builder *b, Elf *elf)
{
	for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn; scn = elf_nextscn(elf, scn)) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC)
			continue;
		Elf_Data *dyn = elf_reader_section_data(elf, scn);
		Elf_Data *str = elf_reader_section_data(elf, elf_getscn(elf, sh.sh_link));
		if (!dyn || !str)
			return 0;
		GElf_Dyn d;
		for (int i = 0; gelf_getdyn(dyn, i, &d) && d.d_tag != DT_NULL; i++) {
			const char *name = d.d_tag == DT_NEEDED ? elf_reader_string(str, d.d_un.d_val) : NULL;
			if (!name)
				continue;
			if (array_reserve((void **)&b->needed_names, &b->cap_needed, b->n_needed_names + 1, sizeof(uint32_t)) ||
			    string_arena_add(&b->s->strings, name, strlen(name), &b->needed_names[b->n_needed_names]))
				return -1;
			b->n_needed_names++;
		}
		return 0;
	}
	return 0;
}

/* ---- symbol tables ---- */

/* Where a zero-size function may end at the latest: the end of its section, if known. */
static uint64_t section_limit(Elf *elf, uint16_t shndx)
{
	GElf_Shdr sh;
	Elf_Scn *scn = shndx < SHN_LORESERVE ? elf_getscn(elf, shndx) : NULL;
	if (!scn || !gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC) || sh.sh_addr > UINT64_MAX - sh.sh_size)
		return UINT64_MAX;
	return sh.sh_addr + sh.sh_size;
}

static int add_function(struct builder *b, Elf *elf, const GElf_Sym *sym, uint32_t name)
{
	struct elf_symbols *s = b->s;
	if (array_reserve((void **)&s->functions, &b->cap_functions, s->n_functions + 1, sizeof(*s->functions)))
		return -1;
	bool sized = sym->st_size > 0 && sym->st_value <= UINT64_MAX - sym->st_size;
	s->functions[s->n_functions++] = (struct function_symbol){
		.start = sym->st_value,
		.end = sized ? sym->st_value + sym->st_size : section_limit(elf, sym->st_shndx),
		.name = name,
		.rank = binding_rank(GELF_ST_BIND(sym->st_info)),
		.sized = sized,
	};
	return 0;
}

static int add_named(struct builder *b, const GElf_Sym *sym, uint32_t name)
{
	struct elf_symbols *s = b->s;
	if (array_reserve((void **)&s->named, &b->cap_named, s->n_named + 1, sizeof(*s->named)))
		return -1;
	s->named[s->n_named++] = (struct named_symbol){
		.addr = sym->st_value, .size = sym->st_size, .name = name,
		.rank = binding_rank(GELF_ST_BIND(sym->st_info)),
	};
	return 0;
}

static int add_symbol(struct builder *b, Elf *elf, const GElf_Sym *sym, const char *name)
{
	unsigned type = GELF_ST_TYPE(sym->st_info);
	if (sym->st_shndx == SHN_UNDEF || !name[0] || type == STT_SECTION || type == STT_FILE)
		return 0;
	uint32_t off;
	if (string_arena_add(&b->s->strings, name, strlen(name), &off) || add_named(b, sym, off))
		return -1;
	if ((type == STT_FUNC || type == STT_GNU_IFUNC) && sym->st_shndx != SHN_ABS)
		return add_function(b, elf, sym, off);
	return 0;
}

/* Adds the symbols of every section of type (SHT_SYMTAB or SHT_DYNSYM); returns how many tables were read. */
static int add_symbol_tables(struct builder *b, Elf *elf, Elf64_Word type)
{
	int tables = 0;
	size_t sym_size = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);
	for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn; scn = elf_nextscn(elf, scn)) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != type)
			continue;
		Elf_Data *syms = elf_reader_section_data(elf, scn);
		Elf_Data *strs = elf_reader_section_data(elf, elf_getscn(elf, sh.sh_link));
		if (!syms || !strs || !sym_size)
			continue;
		size_t n = syms->d_size / sym_size;
		for (size_t i = 1; i < n && i <= INT_MAX; i++) {
			GElf_Sym sym;
			if (!gelf_getsym(syms, (int)i, &sym))
				break;
			const char *name = elf_reader_string(strs, sym.st_name);
			if (name && add_symbol(b, elf, &sym, name))
				return -1;
		}
		tables++;
	}
	return tables;
}

/* ---- ordering ---- */

static const char *function_name(const struct elf_symbols *s, const struct function_symbol *f)
{
	return string_arena_get(f->from_source ? &s->source_strings : &s->strings, f->name);
}

static int compare_functions(const void *pa, const void *pb, void *symbols)
{
	const struct function_symbol *a = pa, *b = pb;
	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	if (a->rank != b->rank)
		return b->rank - a->rank;
	if (a->sized != b->sized)
		return b->sized - a->sized;
	return strcmp(function_name(symbols, a), function_name(symbols, b));
}

static bool named_is(const void *stored_key, const void *name, const void *symbols)
{
	const struct elf_symbols *s = symbols;
	uint32_t i;

	memcpy(&i, stored_key, sizeof(i));
	return strcmp(string_arena_get(&s->strings, s->named[i].name), name) == 0;
}

static int index_named(struct elf_symbols *s)
{
	hash_map_free(&s->by_name);
	hash_map_init(&s->by_name, sizeof(uint32_t), 0);
	if (hash_map_reserve(&s->by_name, s->n_named) < 0)
		return -1;
	for (uint32_t i = 0; i < s->n_named; i++) {
		const char *name = string_arena_get(&s->strings, s->named[i].name);
		uint64_t hash = hash_string(name);
		size_t slot = hash_map_find(&s->by_name, hash, name, named_is, s);
		if (slot == HASH_MAP_NONE) {
			if (hash_map_insert(&s->by_name, hash, &i, NULL) == HASH_MAP_NONE) {
				hash_map_free(&s->by_name);
				return -1;
			}
			continue;
		}
		uint32_t *kept = hash_map_key(&s->by_name, slot);
		if (s->named[i].rank > s->named[*kept].rank)
			*kept = i;
	}
	s->by_name_built = true;
	return 0;
}

static uint64_t segment_end(const struct elf_symbols *s, uint64_t vaddr)
{
	for (size_t i = 0; i < s->n_segments; i++) {
		const struct load_segment *seg = &s->segments[i];
		if (vaddr >= seg->vaddr && vaddr - seg->vaddr < seg->memsz)
			return seg->vaddr + seg->memsz;
	}
	return vaddr + 1;
}

/*
 * One symbol per address (the preferred name, with a size if any alias has
 * one); a zero-size symbol then runs to the next symbol, its section end or
 * its segment end, whichever comes first.
 */
static void finish_functions(struct elf_symbols *s)
{
	struct function_symbol *f = s->functions;
	if (!s->n_functions)
		return;
	if (RADIX_SORT_U64(f, s->n_functions, start) < 0) {
		qsort_r(f, s->n_functions, sizeof(*f), compare_functions, s);
	} else {
		/* aliases: the preferred one of each address first */
		for (size_t i = 0, j; i < s->n_functions; i = j) {
			for (j = i + 1; j < s->n_functions && f[j].start == f[i].start; j++)
				;
			if (j - i > 1)
				qsort_r(f + i, j - i, sizeof(*f), compare_functions, s);
		}
	}
	size_t kept = 0;
	for (size_t i = 0; i < s->n_functions; i++) {
		if (kept && f[kept - 1].start == f[i].start) {
			if (!f[kept - 1].sized && f[i].sized) {
				f[kept - 1].end = f[i].end;
				f[kept - 1].sized = true;
			}
			continue;
		}
		f[kept++] = f[i];
	}
	s->n_functions = kept;
	for (size_t i = 0; i < kept; i++) {
		if (f[i].sized)
			continue;
		uint64_t end = f[i].end;
		if (i + 1 < kept && f[i + 1].start < end)
			end = f[i + 1].start;
		if (end == UINT64_MAX)
			end = segment_end(s, f[i].start);
		f[i].end = end > f[i].start ? end : f[i].start + 1;
	}
}

static int finish(struct builder *b)
{
	struct elf_symbols *s = b->s;
	finish_functions(s);
	string_arena_shrink(&s->strings);
	if (b->n_needed_names) {
		s->needed = calloc(b->n_needed_names, sizeof(*s->needed));
		if (!s->needed)
			return -1;
		for (size_t i = 0; i < b->n_needed_names; i++)
			s->needed[i] = string_arena_get(&s->strings, b->needed_names[i]);
		s->n_needed = b->n_needed_names;
	}
	return 0;
}

/* ---- loading ---- */

/* Symbols of the separate debug file; returns its number of .symtab sections, or -1. */
static int add_debug_file_symbols(struct builder *b, Elf *elf, const char *logical_path, const char *root)
{
	int fd = elf_debug_file_open(elf, b->s->build_id, logical_path, root);
	if (fd < 0)
		return 0;
	int tables = 0;
	Elf *debug = elf_reader_open_fd(fd);
	if (debug) {
		tables = add_symbol_tables(b, debug, SHT_SYMTAB);
		elf_reader_close(debug);
	}
	close(fd);
	return tables;
}

/* Symbols of .gnu_debugdata (MiniDebugInfo); returns its number of .symtab sections, or -1. */
static int add_minidebuginfo_symbols(struct builder *b, Elf *elf)
{
	char *image;
	size_t size;
	int err = elf_minidebuginfo_read(elf, &image, &size);
	if (err == -ENOMEM)
		return -1;
	if (err)
		return 0; /* none, or corrupt: the file's own symbols still name what they can */
	int tables = 0;
	Elf *mini = elf_reader_open_mem(image, size);
	if (mini) {
		tables = add_symbol_tables(b, mini, SHT_SYMTAB);
		elf_reader_close(mini);
	}
	free(image);
	return tables;
}

static int add_source_symbol(void *ctx, uint64_t start, uint64_t size, const char *name)
{
	struct builder *b = ctx;
	struct elf_symbols *s = b->s;
	uint32_t off;
	if (!name[0] || start > UINT64_MAX - size)
		return 0;
	if (string_arena_add(&s->source_strings, name, strlen(name), &off) ||
	    array_reserve((void **)&s->functions, &b->cap_functions, s->n_functions + 1, sizeof(*s->functions)))
		return -1;
	/* local binding: an exported symbol at the same address keeps its real name */
	s->functions[s->n_functions++] = (struct function_symbol){
		.start = start, .end = size ? start + size : UINT64_MAX, .name = off,
		.rank = binding_rank(STB_LOCAL), .sized = size > 0, .from_source = true,
	};
	return 0;
}

/*
 * The file the pending source reads, checked to be the build loaded (an
 * upgrade may have replaced it since); NULL if it cannot be. Close with
 * close_source_elf.
 */
static Elf *open_source_elf(const struct elf_symbols *s, int *fd)
{
	*fd = s->open_path ? open(s->open_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK) : -1;
	/* open_path went through the first process's /proc/PID/root, and that process may be gone:
	 * the same path from here, if it holds the same build (checked below) */
	if (*fd < 0 && s->path && s->path[0] == '/' && (!s->open_path || strcmp(s->path, s->open_path) != 0))
		*fd = open(s->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	Elf *elf = *fd >= 0 ? elf_reader_open_fd(*fd) : NULL;
	char build_id[ELF_BUILD_ID_HEX_SIZE] = "";
	if (elf)
		elf_reader_build_id(elf, build_id);
	if (elf && strcmp(build_id, s->build_id) == 0)
		return elf;
	if (elf)
		elf_reader_close(elf);
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	return NULL;
}

static void close_source_elf(Elf *elf, int fd)
{
	if (elf)
		elf_reader_close(elf);
	if (fd >= 0)
		close(fd);
}

/* The pending source's names, added to the finished functions (see struct elf_symbols). */
static void add_pending_source_names(struct elf_symbols *s)
{
	const struct elf_name_source *source = s->pending_source;
	s->pending_source = NULL;
	free(s->source_ranges);
	s->source_ranges = NULL;
	int fd;
	Elf *elf = open_source_elf(s, &fd);
	if (elf) {
		struct builder b = { .s = s, .cap_functions = s->n_functions };
		size_t before = s->n_functions;
		if (source->scan(elf, add_source_symbol, &b) < 0)
			s->n_functions = before; /* out of memory: the names the file itself has */
		finish_functions(s);
		string_arena_shrink(&s->source_strings);
	}
	close_source_elf(elf, fd);
}

/* Whether the pending source may name the function at vaddr (see struct elf_symbols). */
static bool source_may_name(struct elf_symbols *s, uint64_t vaddr)
{
	if (s->source_ranges_state == SOURCE_RANGES_UNREAD) {
		int fd;
		Elf *elf = s->pending_source->candidates ? open_source_elf(s, &fd) : NULL;
		long n = elf ? s->pending_source->candidates(elf, &s->source_ranges) : -1;
		close_source_elf(elf, elf ? fd : -1);
		s->n_source_ranges = n > 0 ? (size_t)n : 0;
		s->source_ranges_state = n >= 0 ? SOURCE_RANGES_READ : SOURCE_RANGES_UNKNOWN;
	}
	if (s->source_ranges_state == SOURCE_RANGES_UNKNOWN)
		return true;
	/* the last range starting at or below vaddr */
	size_t lo = 0, hi = s->n_source_ranges;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->source_ranges[2 * mid] <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && vaddr < s->source_ranges[2 * (lo - 1) + 1];
}

static int load_from_elf(struct builder *b, Elf *elf, const char *logical_path, const char *root, bool search_debug,
			 const struct elf_name_source *source, const char *open_path)
{
	GElf_Ehdr eh;
	if (!gelf_getehdr(elf, &eh))
		return -1;
	struct elf_symbols *s = b->s;
	s->is_dyn = eh.e_type == ET_DYN;
	elf_reader_build_id(elf, s->build_id);
	if (read_segments(b, elf) || read_sections(b, elf) || read_needed(b, elf))
		return -1;
	if (add_symbol_tables(b, elf, SHT_DYNSYM) < 0)
		return -1;
	int debug_tables = search_debug ? add_debug_file_symbols(b, elf, logical_path, root) : 0;
	if (debug_tables < 0)
		return -1;
	/* The debug file's .symtab describes the same build, and wins when present. */
	int symtabs = debug_tables ? debug_tables : add_symbol_tables(b, elf, SHT_SYMTAB);
	if (symtabs < 0)
		return -1;
	if (!debug_tables) { /* stripped with MiniDebugInfo: its static functions by name */
		int mini = add_minidebuginfo_symbols(b, elf);
		if (mini < 0)
			return -1;
		symtabs += mini;
	}
	/* stripped: the file may still name its static functions itself (a CPython interpreter's method tables) */
	if (symtabs == 0 && source && open_path && (s->open_path = strdup(open_path)))
		s->pending_source = source;
	return finish(b);
}

static struct elf_symbols *load(Elf *elf, const char *logical_path, const char *root, bool search_debug,
				const struct elf_name_source *source, const char *open_path)
{
	struct elf_symbols *s = calloc(1, sizeof(*s));
	struct builder b = { .s = s };
	int err = ENOMEM;
	if (s && (s->path = strdup(logical_path ? logical_path : "")) &&
	    load_from_elf(&b, elf, logical_path, root, search_debug, source, open_path) == 0) {
		free(b.needed_names);
		return s;
	}
	err = errno ? errno : ENOEXEC;
	free(b.needed_names);
	elf_symbols_free(s);
	errno = err;
	return NULL;
}

struct elf_symbols *elf_symbols_load_fd(int fd, const char *logical_path, const char *root,
				       const struct elf_name_source *source)
{
	Elf *elf = elf_reader_open_fd(fd);
	if (!elf)
		return NULL;
	/* where to reopen it for a pending name source: the path under root (see elf_symbols_load_named) */
	char open_path[PATH_MAX];
	int n = snprintf(open_path, sizeof(open_path), "%s%s", root && root[0] && logical_path && logical_path[0] == '/'
							     ? root : "", logical_path ? logical_path : "");
	bool reopenable = logical_path && logical_path[0] == '/' && n > 0 && (size_t)n < sizeof(open_path);
	struct elf_symbols *s = load(elf, logical_path, root, true, source, reopenable ? open_path : NULL);
	elf_reader_close(elf);
	return s;
}

struct elf_symbols *elf_symbols_load(const char *path, const char *root)
{
	return elf_symbols_load_named(path, root, NULL);
}

struct elf_symbols *elf_symbols_load_named(const char *path, const char *root, const struct elf_name_source *source)
{
	if (!path) {
		errno = EINVAL;
		return NULL;
	}
	char full[PATH_MAX];
	const char *open_path = path;
	if (root && root[0] && path[0] == '/') {
		int n = snprintf(full, sizeof(full), "%s%s", root, path);
		if (n < 0 || (size_t)n >= sizeof(full)) {
			errno = ENAMETOOLONG;
			return NULL;
		}
		open_path = full;
	}
	int fd = open(open_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return NULL;
	struct elf_symbols *s = elf_symbols_load_fd(fd, path, root, source);
	int err = errno;
	close(fd);
	errno = err;
	return s;
}

struct elf_symbols *elf_symbols_load_mem(const void *image, size_t size, const char *name)
{
	/* libelf may keep pointers into the image and wants it aligned: work on a private copy. */
	char *copy = malloc(size ? size : 1);
	if (!copy)
		return NULL;
	if (size)
		memcpy(copy, image, size);
	struct elf_symbols *s = NULL;
	Elf *elf = elf_reader_open_mem(copy, size);
	if (elf) {
		s = load(elf, name, NULL, false, NULL, NULL);
		elf_reader_close(elf);
	}
	int err = errno;
	free(copy);
	errno = err;
	return s;
}

bool elf_symbols_read_build_id(int fd, char out[ELF_BUILD_ID_HEX_SIZE])
{
	Elf *elf = elf_reader_open_fd(fd);
	out[0] = '\0';
	if (!elf)
		return false;
	bool found = elf_reader_build_id(elf, out);
	elf_reader_close(elf);
	return found;
}

void elf_symbols_free(struct elf_symbols *s)
{
	if (!s)
		return;
	free(s->path);
	free(s->segments);
	free(s->functions);
	free(s->named);
	hash_map_free(&s->by_name);
	free(s->sections);
	free(s->needed);
	free(s->open_path);
	free(s->source_ranges);
	string_arena_free(&s->strings);
	string_arena_free(&s->source_strings);
	free(s);
}

/* ---- queries ---- */

const char *elf_symbols_build_id(const struct elf_symbols *s)
{
	return s->build_id;
}

bool elf_symbols_is_dyn(const struct elf_symbols *s)
{
	return s->is_dyn;
}

const char *elf_symbols_path(const struct elf_symbols *s)
{
	return s->path;
}

size_t elf_symbols_function_count(const struct elf_symbols *s)
{
	return s->n_functions;
}

bool elf_symbols_offset_to_vaddr(const struct elf_symbols *s, uint64_t file_offset, uint64_t *vaddr)
{
	for (size_t i = 0; i < s->n_segments; i++) {
		const struct load_segment *seg = &s->segments[i];
		if (file_offset >= seg->offset && file_offset - seg->offset < seg->filesz) {
			*vaddr = seg->vaddr + (file_offset - seg->offset);
			return true;
		}
	}
	return false;
}

/* The function holding vaddr, or NULL. */
static const struct function_symbol *enclosing_function(const struct elf_symbols *s, uint64_t vaddr)
{
	const struct function_symbol *f = s->functions;
	size_t lo = SORTED_COUNT_AT_OR_BELOW(f, s->n_functions, start, vaddr);
	for (size_t i = lo, steps = 0; i > 0 && steps < MAX_ENCLOSING_SCAN; i--, steps++)
		if (vaddr < f[i - 1].end)
			return &f[i - 1];
	return NULL;
}

const char *elf_symbols_lookup(const struct elf_symbols *s, uint64_t vaddr, uint64_t *offset)
{
	const struct function_symbol *f = enclosing_function(s, vaddr);
	/* a sized symbol of the file's own is the answer; the source's names are for what it leaves */
	if (s->pending_source && !(f && f->sized) && source_may_name((struct elf_symbols *)s, vaddr)) {
		add_pending_source_names((struct elf_symbols *)s); /* once: see struct elf_symbols */
		f = enclosing_function(s, vaddr);
	}
	if (!f)
		return NULL;
	if (offset)
		*offset = vaddr - f->start;
	return function_name(s, f);
}

/* The lookups by name answered by a scan of named before it is indexed (see by_name). */
#define BY_NAME_SCANS 4

/* What by_name answers, without it: the best-ranked symbol of that name, the first read of equals. */
static bool scan_named(const struct elf_symbols *s, const char *name, uint32_t *found)
{
	bool any = false;
	for (uint32_t i = 0; i < s->n_named; i++) {
		if ((any && s->named[i].rank <= s->named[*found].rank) ||
		    strcmp(string_arena_get(&s->strings, s->named[i].name), name) != 0)
			continue;
		*found = i;
		any = true;
	}
	return any;
}

bool elf_symbols_find(const struct elf_symbols *s, const char *name, uint64_t *vaddr, uint64_t *size)
{
	uint32_t i = 0;
	struct elf_symbols *lazy = (struct elf_symbols *)s; /* the index is built once (see by_name) */
	if (!s->by_name_built && (lazy->by_name_scans++ < BY_NAME_SCANS || index_named(lazy) < 0)) {
		if (!scan_named(s, name, &i))
			return false;
	} else {
		size_t slot = hash_map_find(&s->by_name, hash_string(name), name, named_is, s);
		if (slot == HASH_MAP_NONE)
			return false;
		memcpy(&i, hash_map_key(&s->by_name, slot), sizeof(i));
	}
	if (vaddr)
		*vaddr = s->named[i].addr;
	if (size)
		*size = s->named[i].size;
	return true;
}

bool elf_symbols_section(const struct elf_symbols *s, const char *name, uint64_t *vaddr, uint64_t *size,
			 uint64_t *file_offset)
{
	for (size_t i = 0; i < s->n_sections; i++) {
		const struct section_info *si = &s->sections[i];
		if (strcmp(string_arena_get(&s->strings, si->name), name) != 0)
			continue;
		if (vaddr)
			*vaddr = si->addr;
		if (size)
			*size = si->size;
		if (file_offset)
			*file_offset = si->offset;
		return true;
	}
	return false;
}

size_t elf_symbols_needed(const struct elf_symbols *s, const char *const **out)
{
	*out = s->needed;
	return s->n_needed;
}
