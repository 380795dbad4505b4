/* SPDX-License-Identifier: MIT */
/*
 * Native stack unwinding for x86-64 from DWARF CFI (.eh_frame/.debug_frame).
 *
 *  unwind_table    - one compact, sorted table of 16-byte rows per ELF file,
 *                    built by our own CFI parser over libelf; keyed by build-id
 *  unwind_snapshot - walks a copy of a user stack (taken at the sample) with
 *                    those tables and returns the return addresses
 *
 * The row format (include/unwind_rows.h) is what BPF arrays hold for
 * the in-kernel unwinder (bpf/native_unwind.bpf.h), which follows the same
 * rules as unwind_snapshot: the snapshot walk is its oracle in the tests.
 */
#ifndef BPFSPY_UNWIND_H
#define BPFSPY_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "unwind_rows.h" /* the row format, shared with the in-kernel unwinder */

_Static_assert(sizeof(struct unwind_row) == 16, "BPF maps hold unwind_row as is");

static inline int32_t unwind_row_packed_a(const struct unwind_row *row)
{
	return row->cfa_offset >> 8;
}

static inline uint32_t unwind_row_packed_b(const struct unwind_row *row)
{
	return (uint32_t)row->cfa_offset & 0xff;
}

struct unwind_table_stats {
	size_t fdes;		  /* FDEs used */
	size_t fdes_rejected;	  /* bad CIE/FDE, bad CFA program, overlapping another FDE */
	bool truncated;		  /* a record length ran past its section: later FDEs lost */
	size_t cfi_rows;	  /* rows the CFA programs produced, before merging */
	size_t rows;		  /* table rows, gap markers included */
	size_t cfa_rule_rows[UNWIND_CFA_RULE_COUNT]; /* table rows per rule */
	size_t rbp_rule_rows[UNWIND_RBP_RULE_COUNT];
	/* Why CFI rows were UNWIND_CFA_UNSUPPORTED (counted on cfi_rows). */
	size_t unsupported_cfa_register;   /* CFA = r10/r13/rdi... + N: only knowable in the leaf */
	size_t unsupported_cfa_expression; /* an expression other than PLT/deref forms */
	size_t unsupported_return_address; /* RA not at CFA - 8 (e.g. __vfork keeps it in rdi) */
	size_t unsupported_offset_range;   /* an offset that does not fit the row fields */
};

/* An executable PT_LOAD, to translate mapped addresses to ELF virtual addresses. */
struct unwind_load_segment {
	uint64_t vaddr;
	uint64_t offset;
	uint64_t filesz;
};

#define UNWIND_MAX_LOAD_SEGMENTS 8

/* One function as its FDE describes it: [start, end). */
struct unwind_function {
	uint64_t start, end;
};

/*
 * Where a table's rows are written: the heap, unless a store is given. The
 * in-kernel unwinder's store is the memory of a BPF array, so the rows it
 * loads are written once, not built on the heap and then copied into the
 * kernel (python3's 1 MB of rows: ~3 ms of every --native start).
 */
struct unwind_row_store {
	/* memory for capacity zeroed rows and a handle (>= 0) to release it by, or NULL: the heap is used */
	struct unwind_row *(*reserve)(size_t capacity, int *handle);
	/* handle is -1 once given away (unwind_table_give_store_handle) */
	void (*release)(struct unwind_row *rows, size_t capacity, int handle);
};

struct unwind_table {
	struct unwind_row *rows; /* sorted by pc, no two consecutive rows equal */
	size_t row_count;
	const struct unwind_row_store *store; /* where rows is; NULL: the heap */
	int store_handle;		      /* the store's handle of rows; -1 once given away */
	size_t row_capacity;		      /* rows the memory holds (a store cannot shrink it) */
	struct unwind_function *functions; /* the FDEs used, sorted: names stripped code by function */
	size_t function_count;
	char build_id[65];	 /* lowercase hex, "" if the file has none */
	uint64_t entry;		 /* e_entry: a program's (or ld.so's) _start; 0 in a library */
	struct unwind_load_segment segments[UNWIND_MAX_LOAD_SEGMENTS];
	size_t segment_count;
	struct unwind_table_stats stats;
};

/*
 * Builds the table of an ELF file from .eh_frame, plus .debug_frame FDEs for
 * code .eh_frame does not cover. Corrupt CFI yields a partial table (see
 * stats), never a crash. Returns 0, -ENOENT if the file has no CFI section,
 * -EINVAL if it is not a usable ELF file, -ENOMEM, or -errno from open.
 */
int unwind_table_build_from_path(const char *path, struct unwind_table **out);
/* The same, with its rows in store's memory when store gives it (NULL: the heap). */
int unwind_table_build_in_store(const char *path, const struct unwind_row_store *store, struct unwind_table **out);
/* The same from an ELF image in memory (must stay valid only during the call). */
int unwind_table_build_from_memory(const void *image, size_t size, struct unwind_table **out);
void unwind_table_free(struct unwind_table *table);
/*
 * The store's handle of table's rows, which the caller now owns (the
 * in-kernel unwinder closes its BPF array's fd once the array is loaded, so
 * that a thousand tables do not hold a thousand fds); -1 if there is none.
 */
int unwind_table_give_store_handle(struct unwind_table *table);

/*
 * The start of the function (FDE) containing ELF address pc: true and *start
 * set, or false in a gap. For code without symbols, one name per function.
 */
bool unwind_table_function_start(const struct unwind_table *table, uint64_t pc, uint64_t *start);

/* The row in force at ELF address pc, or NULL before the first row. */
const struct unwind_row *unwind_table_lookup(const struct unwind_table *table, uint64_t pc);

/*
 * Load bias (runtime address - ELF address) of a file mapping that starts at
 * map_start with file offset map_offset, as in /proc/PID/maps. Returns 0, or
 * -ENOENT if no executable PT_LOAD of the file is mapped at that offset.
 */
int unwind_table_load_bias(const struct unwind_table *table, uint64_t map_start, uint64_t map_offset,
			   uint64_t *bias);

/* ---- unwinding a stack snapshot ---- */

#define UNWIND_SNAPSHOT_DEFAULT_SIZE (16 * 1024)
#define UNWIND_SNAPSHOT_MAX_SIZE (64 * 1024)

struct unwind_regs {
	uint64_t ip, sp, bp;
};

/* An executable mapping of a process. table may be NULL (no CFI: frame pointers only). */
struct unwind_mapping {
	uint64_t start, end; /* [start, end) */
	uint64_t bias;	     /* runtime address - ELF address */
	const struct unwind_table *table;
};

/* Finds the mapping that contains address, or NULL. */
typedef const struct unwind_mapping *(*unwind_find_mapping_fn)(void *ctx, uint64_t address);

/* A ready-made finder: ctx is a struct unwind_address_space (mappings sorted by start, disjoint). */
struct unwind_address_space {
	const struct unwind_mapping *mappings;
	size_t count;
};
const struct unwind_mapping *unwind_address_space_find(void *address_space, uint64_t address);

struct unwind_snapshot_input {
	struct unwind_regs regs;
	const uint8_t *stack; /* copy of user memory [regs.sp, regs.sp + stack_size) */
	size_t stack_size;
	unwind_find_mapping_fn find_mapping;
	void *find_mapping_ctx;
};


const char *unwind_stop_reason_name(enum unwind_stop_reason reason);

struct unwind_result {
	size_t frame_count;
	enum unwind_stop_reason stop_reason;
	size_t frame_pointer_steps; /* frames recovered by the frame-pointer fallback */
};

/*
 * Unwinds a snapshot. frames[0] is regs.ip, then each return address,
 * innermost first (and after a signal frame, the interrupted ip). Returns 0
 * with *result filled, or -EINVAL for bad arguments.
 */
int unwind_snapshot(const struct unwind_snapshot_input *input, uint64_t *frames, size_t max_frames,
		    struct unwind_result *result);

#endif
