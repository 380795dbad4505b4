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
	/*
	 * 3.8/3.9 f_executing (char, 1 while the eval loop runs the frame), 3.10
	 * f_state (char: 0 EXECUTING, 2 UNWINDING); PY_OFF_NONE from 3.11. Every
	 * frame on a thread's stack is running: one that is not is being set up
	 * or torn down, and a read that meets it is retried (bpfspy dump).
	 */
	uint16_t frame_state;
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

/* Where a frame's local variables are and how the simple objects they hold look (dump --locals). */
struct py_locals_layout {
	uint16_t frame_localsplus;   /* f_localsplus / _PyInterpreterFrame.localsplus */
	uint16_t code_nlocals;       /* co_nlocals (3.8-3.10); PY_OFF_NONE from 3.11 */
	uint16_t code_names;         /* co_varnames (3.8-3.10) / co_localsplusnames: a tuple of str */
	uint16_t code_kinds;         /* co_localspluskinds (3.11+, bytes); PY_OFF_NONE before */
	uint16_t code_argcount;      /* co_argcount (int) */
	uint16_t tuple_size, tuple_items;
	uint16_t float_value;        /* PyFloatObject.ob_fval */
	uint16_t long_size;          /* ob_size (sign and digit count) or, from 3.12, lv_tag */
	uint16_t long_digits;        /* ob_digit: 30-bit digits in uint32 */
	uint16_t type_name;          /* PyTypeObject.tp_name (const char *) */
	bool long_tagged;            /* 3.12+: lv_tag = digits << 3 | sign (0 +, 1 zero, 2 -) */
};

/* The objects dump --locals prints by value, found by their exported symbols; 0 if absent. */
struct py_type_addrs {
	uint64_t long_type, bool_type, float_type, unicode_type, bytes_type, none;
};

/*
 * What following asyncio tasks needs of the interpreter's own layout (3.14+,
 * from _Py_DebugOffsets): coroutines, their embedded frames, sets (a task's
 * awaited_by) and the task lists' nodes. known is false before 3.14.
 */
struct py_async_layout {
	bool known;
	uint16_t gen_size;           /* PyGenObject/PyCoroObject */
	uint16_t gen_iframe;         /* the embedded _PyInterpreterFrame */
	uint16_t gen_frame_state;    /* int8 PyFrameState */
	uint16_t frame_stackpointer; /* _PyInterpreterFrame.stackpointer */
	uint16_t frame_size;         /* sizeof(_PyInterpreterFrame) without localsplus */
	uint16_t set_used, set_table, set_mask, set_size;
	uint16_t llist_next;         /* struct llist_node.next */
	/*
	 * PyFrameState values (renumbered in 3.15): created, suspended, suspended
	 * in an await (3.15 free-threaded also "locked", the next value),
	 * executing; anything else is finished.
	 */
	int8_t fs_created, fs_suspended, fs_yield_from, fs_executing;
	/* a coroutine suspended in an await holds the awaited object this many slots under its stack top */
	uint8_t awaited_slot;
};

struct py_target {
	struct py_proc proc;        /* what goes into the BPF py_procs map */
	struct py_object_layout obj;
	struct py_locals_layout locals;
	struct py_type_addrs types;
	struct py_async_layout async;
	uint64_t code_type_addr;    /* &PyCode_Type in the target, 0 if unknown */
	uint32_t version_hex;
	char version[16];           /* "3.12.1", "3.15.0a2"; only "3.9" when the file name said it */
	bool version_exact;         /* version has the micro release (Py_Version, or py_read_full_version) */
	uint64_t bss_addr, bss_size; /* the runtime module's .bss in the target, 0 if unknown */
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

/*
 * Before 3.11 nothing exports the full version: the file name only gives
 * "3.9". Py_Initialize formats sys.version ("3.9.18 (main, ...) [GCC ...]")
 * into a static buffer in the runtime module's .bss; this finds it there and
 * makes t->version the full "3.9.18". Returns true when t->version is exact
 * (then or already), false when it stays major.minor (not initialised yet,
 * no .bss, unreadable).
 */
bool py_read_full_version(pid_t pid, struct py_target *t);

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

/* ---- local variables (`bpfspy dump --locals`) ---- */

#define PY_LOCAL_NAME_MAX 128
#define PY_LOCAL_REPR_MAX 160
/* str and bytes values longer than this are cut, with "..." */
#define PY_LOCAL_STR_CHARS 64

struct py_local {
	char name[PY_LOCAL_NAME_MAX];
	/*
	 * As py-spy shows it: 42, 1.5, True, None, "text", b"bytes"; any other
	 * object (or an int too big to print) as <type at 0xADDRESS>; "?" when the
	 * value could not be read.
	 */
	char repr[PY_LOCAL_REPR_MAX];
	bool arg;  /* a positional argument (index < co_argcount), as py-spy marks them */
};

/*
 * The bound fast locals of the frame at frame_addr (py_thread_stack.frame_addrs)
 * running code (its py_frame_rec.code), in co_varnames order. Unbound ones are
 * left out. Returns the number written to out (at most max), or -1 when the
 * code object or the frame could not be read.
 */
int py_frame_locals(pid_t pid, const struct py_target *t, uint64_t frame_addr, uint64_t code,
		    struct py_local *out, size_t max);

/* ---- a userspace walker (tests, `bpfspy dump`) ---- */

struct py_thread_stack {
	uint64_t tstate;
	uint64_t thread_id;        /* pthread_t (fs_base) */
	uint64_t native_thread_id; /* kernel TID in the target's namespace, 0 before 3.11 */
	const struct py_frame_rec *frames; /* innermost first, as the BPF walker reports them */
	const uint64_t *frame_addrs;       /* where each frame is in the target, parallel to frames */
	size_t n_frames;
	bool truncated;            /* stopped at max_frames */
	bool changing;             /* consistent walk: never read the same twice; no frames given */
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
 * The same walk for a process that keeps running (bpfspy dump): a thread's
 * frames are read (the top pointer and every frame met before in one
 * system call), then all frames are read again at once and must still be
 * alive (3.8-3.10: referenced and running), hold the same code and point at
 * the same caller; the instruction offsets come from the second read. A
 * thread whose stack fails this within max_reads reads of its chain (two per
 * attempt, 75 us apart) is reported with changing set and no frames, never
 * as a torn stack.
 */
int py_walk_thread_stacks_consistent(pid_t pid, const struct py_target *t, size_t max_frames,
				     unsigned max_reads, py_thread_stack_cb cb, void *arg);

/*
 * Caches the code object (code, sig) from bytes the BPF walker captured when
 * it first met it (struct bpfspy_code_event): module code objects are freed
 * right after their import, before a read of the live process could happen.
 * Reads not covered by the regions fall back to the live process.
 */
struct py_mem_region;
int py_symbolizer_add_capture(struct py_symbolizer *s, uint64_t code, uint64_t sig,
			      const struct py_mem_region *regions, size_t nregions);

/*
 * The regions of a code event of size bytes (header included) that lie
 * inside it, pointing into the event: at most CODE_REGIONS. Returns the count.
 */
size_t py_code_event_regions(const struct bpfspy_code_event *e, size_t size, struct py_mem_region *out);

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
/*
 * Where a key was last found in a dict, or that it was absent. An insertion
 * always takes a new entry (the count of entries grows) and a resize a new
 * keys table, so while both are unchanged the next lookup reads that entry
 * again (and checks its key) instead of comparing every key: sys.modules and
 * threading's globals hold hundreds, one read of another process each.
 */
struct py_dict_memo {
	uint64_t dict, keys, nentries; /* what was looked up, as it was then */
	uint64_t index;                /* the entry, when found */
	bool known, found;
};

/* What py_read_thread_names remembers of a process between reads (zeroed: nothing yet). */
struct py_thread_names_memo {
	struct py_dict_memo threading;	/* sys.modules["threading"] of the main interpreter */
	struct py_dict_memo active;	/* its globals' "_active" */
};

/* memo: NULL, or the process's own, kept between calls */
int py_read_thread_names(pid_t pid, const struct py_target *t, struct py_thread_names_memo *memo,
			 struct py_thread_name *out, size_t max, size_t *n);

/* The lasti the walker reports is u32; this widens it with sign for the legacy -1. */
static inline int64_t py_lasti_widen(uint32_t raw) { return (int64_t)(int32_t)raw; }

#endif
