/* SPDX-License-Identifier: MIT */
/*
 * Native symbolization: process mappings, ELF symbol tables (cached per
 * build-id), kernel symbols. One interface per source, blazesym-style:
 *   proc_maps    - /proc/PID/maps snapshots
 *   elf_symbols  - symbols of one ELF file, plus its separate debug file
 *   kernel_symbols - /proc/kallsyms
 *   native_symbolizer - address in a process -> frame name + module
 */
#ifndef BPFSPY_NATIVE_SYMBOLS_H
#define BPFSPY_NATIVE_SYMBOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- /proc/PID/maps ---- */

struct proc_map {
	uint64_t start, end, offset;
	uint64_t inode;
	uint32_t dev_major, dev_minor;
	bool readable, writable, executable, shared;
	char *path; /* NULL for anonymous mappings; "[vdso]", "[stack]", ... kept as is;
		       " (deleted)" suffix stripped, with deleted = true */
	bool deleted;
};

struct proc_maps {
	struct proc_map *maps; /* sorted by start */
	size_t n;
	uint64_t serial; /* unique per snapshot in this process: what caches key on (a freed one's address is reused) */
};

/* Parses one line of /proc/PID/maps. Returns 0, or -1 for a malformed line. out->path is malloc'd. */
int proc_maps_parse_line(const char *line, struct proc_map *out);
/* Reads /proc/PID/maps. Returns NULL with errno set (ENOENT/ESRCH: no such process). */
struct proc_maps *proc_maps_read(pid_t pid);
struct proc_maps *proc_maps_parse_buffer(const char *buf, size_t len);
void proc_maps_free(struct proc_maps *m);
/* A deep copy, or NULL (out of memory). */
struct proc_maps *proc_maps_copy(const struct proc_maps *m);
/* The mapping containing addr, or NULL. */
const struct proc_map *proc_maps_find(const struct proc_maps *m, uint64_t addr);

/*
 * A mapped file as /proc/PID/maps names it, device major:minor and inode:
 * the key of the per-file caches (symbols, unwind tables), costing no I/O.
 */
struct file_key {
	uint64_t dev, inode;
};

struct stat;
struct file_key file_key_of_map(const struct proc_map *m);
/* The key maps will show for the file st describes. */
struct file_key file_key_of_stat(const struct stat *st);
uint64_t file_key_hash(const struct file_key *k);

/*
 * Opens the file behind mapping m of pid, read-only: through the process's
 * root, so its mount namespace applies; if the file there is deleted or is
 * not the mapped one (replaced since), through map_files, which reaches the
 * very inode that is mapped. -1 for anything but a regular file.
 */
int proc_map_open(pid_t pid, const struct proc_map *m);

/* ---- ELF files ---- */

struct elf_symbols; /* immutable once loaded; shared between processes by build-id */

/*
 * Loads the symbols of the ELF file at path (.symtab, .dynsym; also the
 * separate debug file found by build-id or .gnu_debuglink under
 * /usr/lib/debug, whose .symtab wins; SHF_COMPRESSED sections handled).
 * root, if not NULL, is prepended to absolute paths when looking for the file
 * and its debug file (e.g. "/proc/123/root" for a process in another mount
 * namespace). Returns NULL with errno set for a missing, truncated or non-ELF
 * file.
 */
struct elf_symbols *elf_symbols_load(const char *path, const char *root);

/*
 * Names for the functions of a file whose symbol tables are stripped, from
 * something the file itself holds (CPython's method tables:
 * python/py_method_symbols.h). scan calls fn once per function
 * [start, start + size) and returns how many it named, fn's nonzero value, or
 * -1. Symbolization asks a source only when no .symtab or debug file named
 * the file's local functions, and only on the first lookup of an address in
 * the file (elf_symbols_find never needs it); the source is the caller's, so
 * sym/ knows no interpreter.
 */
struct Elf; /* libelf's */
typedef int (*elf_function_fn)(void *ctx, uint64_t start, uint64_t size, const char *name);
struct elf_name_source {
	long (*scan)(struct Elf *elf, elf_function_fn fn, void *ctx);
	/*
	 * Optional: malloc'd sorted [start, end) pairs outside which scan names
	 * nothing, for far less than a scan; their count, or -1 if unknown. A
	 * lookup the file's own symbols do not answer runs the scan only inside.
	 */
	long (*candidates)(struct Elf *elf, uint64_t **ranges);
};

/* elf_symbols_load, with stripped functions named by source (may be NULL). */
struct elf_symbols *elf_symbols_load_named(const char *path, const char *root, const struct elf_name_source *source);
/*
 * The same from an ELF image in memory (e.g. a vDSO), copied first; name is
 * what elf_symbols_path reports. No debug file is searched for.
 */
struct elf_symbols *elf_symbols_load_mem(const void *image, size_t size, const char *name);
void elf_symbols_free(struct elf_symbols *s);

/* Build-id as lowercase hex ("" if none). */
const char *elf_symbols_build_id(const struct elf_symbols *s);
/* ET_EXEC (false) or ET_DYN (true). */
bool elf_symbols_is_dyn(const struct elf_symbols *s);

/*
 * File offset -> ELF virtual address, through the PT_LOAD headers. For a
 * mapping m of this file, the vaddr of process address a is
 * elf_symbols_offset_to_vaddr(s, a - m->start + m->offset).
 * Returns false if the offset is in no PT_LOAD segment.
 */
bool elf_symbols_offset_to_vaddr(const struct elf_symbols *s, uint64_t file_offset, uint64_t *vaddr);

/* The function symbol containing vaddr: its name, and vaddr - symbol start. NULL if none. */
const char *elf_symbols_lookup(const struct elf_symbols *s, uint64_t vaddr, uint64_t *offset);

/* A symbol by exact name (functions and objects, .dynsym and .symtab). */
bool elf_symbols_find(const struct elf_symbols *s, const char *name, uint64_t *vaddr, uint64_t *size);

/* Address range of a section by name, e.g. ".PyRuntime". */
bool elf_symbols_section(const struct elf_symbols *s, const char *name, uint64_t *vaddr, uint64_t *size, uint64_t *file_offset);

/* DT_NEEDED entries (for finding libpython before it is mapped). */
size_t elf_symbols_needed(const struct elf_symbols *s, const char *const **out);

/* The path this was loaded from (as given). */
const char *elf_symbols_path(const struct elf_symbols *s);

/* Number of distinct function addresses that elf_symbols_lookup knows. */
size_t elf_symbols_function_count(const struct elf_symbols *s);

/* ---- cache of ELF files keyed by (dev, inode) and build-id ---- */

struct elf_cache;
/* stripped_names: the source of names for files without symbol tables (NULL: none). */
struct elf_cache *elf_cache_new(const struct elf_name_source *stripped_names);
void elf_cache_free(struct elf_cache *c);
/*
 * The symbols of the file behind mapping m of process pid, opened through
 * /proc/PID/root so processes in other mount namespaces work (falls back to
 * /proc/PID/map_files/START-END for deleted files). Keyed by (dev, inode), then
 * by build-id, so a library mapped in 500 processes is parsed once. NULL if the
 * file cannot be read; failures are cached too, so a missing file costs one try.
 * A "[vdso]" mapping gives the vDSO's symbols (read from /proc/PID/mem, or
 * our own identical image). Not thread-safe: one cache per symbolizing thread.
 */
const struct elf_symbols *elf_cache_get(struct elf_cache *c, pid_t pid, const struct proc_map *m);
size_t elf_cache_files_loaded(const struct elf_cache *c);
/*
 * Loads a file ahead of any process mapping it (a command about to be
 * launched), so that recognising the process after its exec costs no parse.
 * Silently does nothing if the file is not a readable ELF.
 */
void elf_cache_preload(struct elf_cache *c, const char *path);
/*
 * The build-id of the file the normalizer (sym/normalize.h) last found
 * mapped at path through c: lowercase hex, "" if it has none or could not be
 * read; NULL if no address of that path was normalized. The string lives as
 * long as c. ctx is the cache, so that this serves as a profile_build_id_fn:
 * frames named a moment ago get their module's build-id from it.
 */
const char *elf_cache_mapped_build_id(void *c, const char *path);
/* Remembers build_id (which must live as long as c) for path; the normalizer calls this. */
void elf_cache_note_mapped_build_id(struct elf_cache *c, const char *path, const char *build_id);

/* ---- kernel ---- */

struct kernel_symbols;
/*
 * /proc/kallsyms; NULL on failure with errno set. errno = EACCES means the
 * addresses are hidden (all zero: kernel.kptr_restrict, or no CAP_SYSLOG).
 */
struct kernel_symbols *kernel_symbols_load(void);
struct kernel_symbols *kernel_symbols_parse_buffer(const char *buf, size_t len);
void kernel_symbols_free(struct kernel_symbols *k);
const char *kernel_symbols_lookup(const struct kernel_symbols *k, uint64_t addr, uint64_t *offset);
size_t kernel_symbols_count(const struct kernel_symbols *k);

/* ---- one address of one process -> a name ---- */

struct native_frame {
	char name[256];        /* symbol, demangled; or "0x7f12... (libfoo.so)" when unknown */
	const char *module;    /* mapping path (owned by the maps snapshot / cache), NULL if anonymous */
	const char *build_id;  /* module's GNU build-id, normalized at record time (sym/normalize.h):
				  lowercase hex, "" if none or unknown; owned by the ELF cache */
	uint64_t file_offset;  /* of the looked-up address (addr-1 for a return address) in module */
	uint64_t vaddr;        /* ELF virtual address, for merge tests (0 if unknown); of addr-1
				  when is_return_address, so it lies inside the named function */
	bool known;            /* a symbol was found */
};

/*
 * Symbolizes addr, a return address or the sampled IP, against a maps
 * snapshot of pid. is_return_address: look up addr-1 so a call at the end of a
 * function resolves to its caller.
 */
void native_symbolize(struct elf_cache *c, pid_t pid, const struct proc_maps *maps,
		      uint64_t addr, bool is_return_address, struct native_frame *out);

#endif
