/* SPDX-License-Identifier: MIT */
/*
 * CPython support in userspace: recognising a Python process, choosing the
 * offsets the BPF walker needs (struct py_offsets), and naming the code
 * objects the walker reports. All CPython layout knowledge lives in
 * user/python/; the rest of bpfspy never sees an offset.
 */
#ifndef BPFSPY_PYTHON_H
#define BPFSPY_PYTHON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bpfspy_events.h"
#include "pyoffsets.h"
#include "sym/native_symbols.h"

/* ---- detection ---- */

enum py_detect_result {
	PY_DETECT_PYTHON = 0,      /* out is filled; the process can be walked */
	PY_DETECT_NOT_PYTHON = 1,  /* no _PyRuntime in the executable or any mapped libpython */
	PY_DETECT_PENDING = 2,     /* executable needs libpython3.X.so, not mapped yet: retry on mmap */
	PY_DETECT_UNSUPPORTED = 3  /* Python, but unknown version or free-threaded: out->warning says why */
};

/* Object offsets only userspace needs (code objects, bytes, strings). */
struct py_object_layout {
	uint16_t ob_type;
	uint16_t code_firstlineno;
	uint16_t code_qualname;      /* PY_OFF_NONE before 3.11 */
	uint16_t code_linetable;     /* co_lnotab (3.8/3.9) or co_linetable */
	uint16_t bytes_size;         /* PyBytesObject ob_size */
	uint16_t bytes_data;         /* PyBytesObject ob_sval */
	/* Reading threading._active for thread names (py_thread_names.c); PY_OFF_NONE if unknown. */
	uint16_t interp_modules;     /* PyInterpreterState: sys.modules (imports.modules 3.12+) */
	uint16_t type_flags;         /* PyTypeObject tp_flags */
	uint16_t type_basicsize;     /* PyTypeObject tp_basicsize */
	uint16_t type_dictoffset;    /* PyTypeObject tp_dictoffset */
	uint16_t type_cached_keys;   /* PyHeapTypeObject ht_cached_keys */
	uint16_t dict_keys;          /* PyDictObject ma_keys */
	uint16_t dict_values;        /* PyDictObject ma_values */
	uint16_t long_size;          /* PyLongObject ob_size (3.8-3.11) or lv_tag (3.12+) */
	uint16_t long_digit;         /* PyLongObject ob_digit */
};

struct py_target {
	struct py_proc proc;        /* what goes into the BPF py_procs map */
	struct py_object_layout obj;
	uint64_t code_type_addr;    /* &PyCode_Type in the target, 0 if unknown */
	uint32_t version_hex;
	char version[16];           /* "3.12.1" */
	char runtime_module[256];   /* path of the ELF holding _PyRuntime */
	bool free_threaded;
	char warning[200];          /* for PY_DETECT_UNSUPPORTED */
};

/*
 * Looks at the executable and mapped libpython3.X of pid (maps is its
 * snapshot; ELF files come from cache) and fills out.
 */
enum py_detect_result py_detect(pid_t pid, const struct proc_maps *maps, struct elf_cache *cache,
				struct py_target *out);

/* ---- offsets ---- */

/* The built-in table for 3.8-3.12 (by minor version). false for other versions. */
bool py_offsets_from_table(uint32_t version_hex, struct py_offsets *out);

/*
 * Decodes a _Py_DebugOffsets block (3.13+: the first bytes of _PyRuntime, in
 * process memory or in the file's .PyRuntime section) of len bytes. Fills out
 * and *free_threaded. Returns 0, or -1 with a reason in err for a bad cookie,
 * an unknown schema (minor version) or implausible sizes.
 */
int py_offsets_from_debug_offsets(const uint8_t *buf, size_t len, struct py_offsets *out,
				  bool *free_threaded, char *err, size_t errlen);

/* ---- line tables ---- */

/*
 * Line number of instruction offset lasti (as the walker reported it, see
 * enum py_lasti_kind) in a code object of version_hex whose line table bytes
 * are tab[0..len) and first line is firstlineno. Returns the line, or
 * firstlineno when the offset has no line (or -1 lasti), never < 0.
 */
int py_linetable_line(uint32_t version_hex, enum py_lasti_kind kind, const uint8_t *tab, size_t len,
		      int firstlineno, int64_t lasti);

/* ---- strings ---- */

/*
 * Decodes a PyUnicodeObject from raw bytes: hdr is the object header (at
 * least asciiobject_size + 0x10 bytes), data the character bytes read at the
 * offset py_unicode_data_offset() gave. Writes UTF-8 to out. Returns the
 * number of bytes written or -1.
 */
struct py_unicode_layout {
	uint32_t version_hex;
	bool free_threaded;
};
int py_unicode_header(const struct py_unicode_layout *l, const uint8_t *hdr, size_t hdrlen,
		      uint64_t *length, unsigned *kind, uint64_t *data_offset);
int py_unicode_to_utf8(unsigned kind, const uint8_t *data, uint64_t length, char *out, size_t outlen);

/* ---- code objects of one process ---- */

struct py_code_info {
	const char *name;     /* co_name */
	const char *qualname; /* co_qualname (3.11+), else co_name */
	const char *filename; /* co_filename */
	int firstlineno;
};

struct py_symbolizer; /* per process: a cache of code objects keyed by (address, sig) */

struct py_symbolizer *py_symbolizer_new(pid_t pid, const struct py_target *t);
void py_symbolizer_free(struct py_symbolizer *s);

/*
 * Names one frame the walker reported. Reads the code object (once per
 * (code, sig)) from the live process through /proc/PID/mem, its strings and
 * its line table, and returns the line of lasti. Returns 0, or -1 if the code
 * object could not be read (process gone, freed object, sig mismatch).
 * info's strings belong to the cache: valid until the next py_symbolize or
 * py_symbolizer_free on s.
 */
int py_symbolize(struct py_symbolizer *s, uint64_t code, uint64_t sig, int64_t lasti,
		 struct py_code_info *info, int *line);

/* ---- a userspace walker (tests, `bpfspy dump`) ---- */

struct py_thread_stack {
	uint64_t tstate;
	uint64_t thread_id;        /* pthread_t (fs_base) */
	uint64_t native_thread_id; /* kernel TID in the target's namespace, 0 before 3.11 */
	const struct py_frame_rec *frames; /* innermost first, as the BPF walker reports them */
	size_t n_frames;
	bool truncated;            /* stopped at max_frames */
};

/* Return non-zero to stop the walk (py_walk_thread_stacks then returns that value). */
typedef int (*py_thread_stack_cb)(const struct py_thread_stack *stack, void *arg);

/*
 * Reads pid's memory with t's offsets, the way the BPF walker does, and calls
 * cb once per thread state of every interpreter. Returns 0, a callback's
 * non-zero value, or -1 if memory could not be read (torn read: retry).
 */
int py_walk_thread_stacks(pid_t pid, const struct py_target *t, size_t max_frames,
			  py_thread_stack_cb cb, void *arg);

/*
 * Caches the code object (code, sig) from bytes the BPF walker captured when
 * it first met it (struct bpfspy_code_event): module code objects are freed
 * right after their import, before a read of the live process could happen.
 * Reads not covered by the regions fall back to the live process.
 */
struct py_mem_region;
int py_symbolizer_add_capture(struct py_symbolizer *s, uint64_t code, uint64_t sig,
			      const struct py_mem_region *regions, size_t nregions);

/* Bytes of a code object's fixed part the symbolizer reads (and BPF captures). */
size_t py_code_header_len(const struct py_target *t);

/* ---- thread names (threading._active) ---- */

#define PY_THREAD_NAME_MAX 256 /* bytes of UTF-8 kept, NUL included */
#define PY_THREAD_NAMES_MAX 4096

struct py_thread_name {
	uint64_t ident;     /* threading.get_ident(): pthread_self(), the thread state's thread_id */
	uint32_t native_id; /* Thread._native_id: the kernel TID in the target's PID namespace, 0 if unknown */
	char name[PY_THREAD_NAME_MAX]; /* Thread._name as UTF-8, truncated at a character boundary */
};

/*
 * Reads the names of pid's Python threads the way threading knows them: for
 * each interpreter, sys.modules["threading"]._active (ident -> Thread), and of
 * each Thread its _name and _native_id. Every walk is bounded (dict sizes,
 * entry counts, string lengths, total reads). Fills out[0..max) and *n.
 * Returns 0 (with *n == 0 when threading is not imported yet), or -1 when
 * the memory could not be read consistently (retry later).
 */
int py_read_thread_names(pid_t pid, const struct py_target *t, struct py_thread_name *out, size_t max, size_t *n);

/* The lasti the walker reports is u32; this widens it with sign for the legacy -1. */
static inline int64_t py_lasti_widen(uint32_t raw) { return (int64_t)(int32_t)raw; }

#endif
