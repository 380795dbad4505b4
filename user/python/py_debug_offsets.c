/* SPDX-License-Identifier: MIT */
/*
 * _Py_DebugOffsets (3.13+): the first bytes of _PyRuntime describe the
 * interpreter's own layout as a flat array of uint64_t after an 8-byte cookie.
 * Which field sits at which slot changes per minor version, so each minor has
 * a schema: the field names in slot order. Patch releases of a known minor
 * share its schema (CPython freezes these structs within a release line);
 * values are checked for plausibility before use.
 */
#include "python/py_layout.h"

#include <stdio.h>
#include <string.h>

#define COOKIE "xdebugpy"
#define FIRST_SLOT 0x18 /* after cookie[8], version, free_threaded */
#define RELEASE_FINAL 0xfu

#define RUNTIME_STATE "runtime_state.size", "runtime_state.finalizing", "runtime_state.interpreters_head"
#define INTERP_GIL "interpreter_state.ceval_gil", "interpreter_state.gil_runtime_state", \
	"interpreter_state.gil_runtime_state_enabled", "interpreter_state.gil_runtime_state_locked", \
	"interpreter_state.gil_runtime_state_holder"
#define CODE_OBJECT "code_object.size", "code_object.filename", "code_object.name", \
	"code_object.qualname", "code_object.linetable", "code_object.firstlineno", \
	"code_object.argcount", "code_object.localsplusnames", "code_object.localspluskinds", \
	"code_object.co_code_adaptive"
#define SIMPLE_OBJECTS_HEAD "tuple_object.size", "tuple_object.ob_item", "tuple_object.ob_size", \
	"list_object.size", "list_object.ob_item", "list_object.ob_size"
#define SIMPLE_OBJECTS_TAIL "dict_object.size", "dict_object.ma_keys", "dict_object.ma_values", \
	"float_object.size", "float_object.ob_fval", \
	"long_object.size", "long_object.lv_tag", "long_object.ob_digit", \
	"bytes_object.size", "bytes_object.ob_size", "bytes_object.ob_sval"
#define SET_OBJECT "set_object.size", "set_object.used", "set_object.table", "set_object.mask"
#define GEN_TO_END "gen_object.size", "gen_object.gi_name", "gen_object.gi_iframe", \
	"gen_object.gi_frame_state", "llist_node.next", "llist_node.prev", \
	"debugger_support.eval_breaker", "debugger_support.remote_debugger_support", \
	"debugger_support.remote_debugging_enabled", "debugger_support.debugger_pending_call", \
	"debugger_support.debugger_script_path", "debugger_support.debugger_script_path_size"

static const char *const schema_3_13[] = {
	RUNTIME_STATE,
	"interpreter_state.size", "interpreter_state.id", "interpreter_state.next",
	"interpreter_state.threads_head", "interpreter_state.gc", "interpreter_state.imports_modules",
	"interpreter_state.sysdict", "interpreter_state.builtins", INTERP_GIL,
	"thread_state.size", "thread_state.prev", "thread_state.next", "thread_state.interp",
	"thread_state.current_frame", "thread_state.thread_id", "thread_state.native_thread_id",
	"thread_state.datastack_chunk", "thread_state.status",
	"interpreter_frame.size", "interpreter_frame.previous", "interpreter_frame.executable",
	"interpreter_frame.instr_ptr", "interpreter_frame.localsplus", "interpreter_frame.owner",
	CODE_OBJECT,
	"pyobject.size", "pyobject.ob_type",
	"type_object.size", "type_object.tp_name", "type_object.tp_repr", "type_object.tp_flags",
	SIMPLE_OBJECTS_HEAD, SIMPLE_OBJECTS_TAIL,
	"unicode_object.size", "unicode_object.state", "unicode_object.length",
	"unicode_object.asciiobject_size",
	"gc.size", "gc.collecting",
};

/* 3.14: threads_main, generation counters, thread-local bytecode, sets, generators, PEP 768. */
static const char *const schema_3_14[] = {
	RUNTIME_STATE,
	"interpreter_state.size", "interpreter_state.id", "interpreter_state.next",
	"interpreter_state.threads_head", "interpreter_state.threads_main", "interpreter_state.gc",
	"interpreter_state.imports_modules", "interpreter_state.sysdict", "interpreter_state.builtins",
	INTERP_GIL, "interpreter_state.code_object_generation", "interpreter_state.tlbc_generation",
	"thread_state.size", "thread_state.prev", "thread_state.next", "thread_state.interp",
	"thread_state.current_frame", "thread_state.thread_id", "thread_state.native_thread_id",
	"thread_state.datastack_chunk", "thread_state.status",
	"interpreter_frame.size", "interpreter_frame.previous", "interpreter_frame.executable",
	"interpreter_frame.instr_ptr", "interpreter_frame.localsplus", "interpreter_frame.owner",
	"interpreter_frame.stackpointer", "interpreter_frame.tlbc_index",
	CODE_OBJECT, "code_object.co_tlbc",
	"pyobject.size", "pyobject.ob_type",
	"type_object.size", "type_object.tp_name", "type_object.tp_repr", "type_object.tp_flags",
	SIMPLE_OBJECTS_HEAD, SET_OBJECT, SIMPLE_OBJECTS_TAIL,
	"unicode_object.size", "unicode_object.state", "unicode_object.length",
	"unicode_object.asciiobject_size",
	"gc.size", "gc.collecting",
	GEN_TO_END,
};

/* 3.15: profiling fields in the thread state (3.15.0b4+), heap types, more gc. */
static const char *const schema_3_15[] = {
	RUNTIME_STATE,
	"interpreter_state.size", "interpreter_state.id", "interpreter_state.next",
	"interpreter_state.threads_head", "interpreter_state.threads_main", "interpreter_state.gc",
	"interpreter_state.imports_modules", "interpreter_state.sysdict", "interpreter_state.builtins",
	INTERP_GIL, "interpreter_state.code_object_generation", "interpreter_state.tlbc_generation",
	"thread_state.size", "thread_state.prev", "thread_state.next", "thread_state.interp",
	"thread_state.current_frame", "thread_state.base_frame", "thread_state.last_profiled_frame",
	"thread_state.last_profiled_frame_seq", "thread_state.thread_id",
	"thread_state.native_thread_id", "thread_state.datastack_chunk", "thread_state.status",
	"thread_state.holds_gil", "thread_state.gil_requested", "thread_state.current_exception",
	"thread_state.exc_state",
	"err_stackitem.exc_value",
	"interpreter_frame.size", "interpreter_frame.previous", "interpreter_frame.executable",
	"interpreter_frame.instr_ptr", "interpreter_frame.localsplus", "interpreter_frame.owner",
	"interpreter_frame.stackpointer", "interpreter_frame.tlbc_index",
	CODE_OBJECT, "code_object.co_tlbc",
	"pyobject.size", "pyobject.ob_type",
	"type_object.size", "type_object.tp_name", "type_object.tp_repr", "type_object.tp_flags",
	"type_object.tp_basicsize", "type_object.tp_dictoffset",
	"heap_type_object.size", "heap_type_object.ht_cached_keys",
	SIMPLE_OBJECTS_HEAD, SET_OBJECT, SIMPLE_OBJECTS_TAIL,
	"unicode_object.size", "unicode_object.state", "unicode_object.length",
	"unicode_object.asciiobject_size", "unicode_object.compactunicodeobject_size",
	"gc.size", "gc.collecting", "gc.frame", "gc.generation_stats_size", "gc.generation_stats",
	GEN_TO_END,
};

struct schema {
	unsigned minor;
	const char *const *fields;
	size_t n;
	uint8_t code_tag_mask; /* 3.14+: f_executable is a _PyStackRef with 2 tag bits */
};

#define SCHEMA(m, arr, mask) { m, arr, sizeof(arr) / sizeof(arr[0]), mask }
static const struct schema schemas[] = {
	SCHEMA(13, schema_3_13, 0),
	SCHEMA(14, schema_3_14, 3),
	SCHEMA(15, schema_3_15, 3),
};

_Static_assert(FIRST_SLOT + 8 * (sizeof(schema_3_15) / sizeof(schema_3_15[0])) <= PY_DEBUG_OFFSETS_MAX,
	       "PY_DEBUG_OFFSETS_MAX covers every schema");

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

struct decoder {
	const struct schema *schema;
	const uint8_t *buf;
	bool missing; /* a field the code needs is not in the schema */
	char missing_name[64];
};

static uint64_t field(struct decoder *d, const char *name)
{
	for (size_t i = 0; i < d->schema->n; i++)
		if (strcmp(d->schema->fields[i], name) == 0)
			return get_u64(d->buf + FIRST_SLOT + 8 * i);
	d->missing = true;
	snprintf(d->missing_name, sizeof(d->missing_name), "%s", name);
	return 0;
}

static const struct schema *schema_for(unsigned minor)
{
	for (size_t i = 0; i < sizeof(schemas) / sizeof(schemas[0]); i++)
		if (schemas[i].minor == minor)
			return &schemas[i];
	return NULL;
}

static bool in_range(uint64_t v, uint64_t lo, uint64_t hi) { return v >= lo && v <= hi; }

/* Offsets the walker needs, each inside its struct and small enough for a u16. */
static bool fits(uint64_t off, uint64_t struct_size, uint64_t width)
{
	return off + width <= struct_size && off < PY_OFF_NONE;
}

static int check_plausible(struct decoder *d, bool ft, char *err, size_t errlen)
{
	uint64_t obj_head = ft ? 0x20 : 0x10;
	uint64_t ts = field(d, "thread_state.size"), fr = field(d, "interpreter_frame.size");
	uint64_t co = field(d, "code_object.size"), is = field(d, "interpreter_state.size");
	const char *why = NULL;

	if (!in_range(field(d, "runtime_state.size"), 0x400, 64u << 20))
		why = "runtime_state.size";
	else if (!in_range(is, 0x400, 16u << 20) || !in_range(ts, 0x80, 0x4000))
		why = "interpreter/thread state size";
	else if (!in_range(fr, 0x40, 0x200) || !in_range(co, 0x80, 0x400))
		why = "frame/code size";
	else if (field(d, "pyobject.size") != obj_head || field(d, "pyobject.ob_type") != obj_head - 8)
		why = "PyObject header";
	else if (field(d, "unicode_object.asciiobject_size") != obj_head + 0x18)
		why = "PyASCIIObject size";
	else if (!fits(field(d, "runtime_state.interpreters_head"), field(d, "runtime_state.size"), 8) ||
		 !fits(field(d, "interpreter_state.next"), is, 8) ||
		 !fits(field(d, "interpreter_state.threads_head"), is, 8) ||
		 !fits(field(d, "interpreter_state.ceval_gil"), is, 8))
		why = "runtime/interpreter offsets";
	else if (!fits(field(d, "thread_state.next"), ts, 8) || !fits(field(d, "thread_state.interp"), ts, 8) ||
		 !fits(field(d, "thread_state.current_frame"), ts, 8) ||
		 !fits(field(d, "thread_state.thread_id"), ts, 8) ||
		 !fits(field(d, "thread_state.native_thread_id"), ts, 4))
		why = "thread state offsets";
	else if (!fits(field(d, "interpreter_frame.previous"), fr, 8) ||
		 !fits(field(d, "interpreter_frame.executable"), fr, 8) ||
		 !fits(field(d, "interpreter_frame.instr_ptr"), fr, 8) ||
		 !fits(field(d, "interpreter_frame.owner"), fr, 1))
		why = "frame offsets";
	else if (!fits(field(d, "code_object.filename"), co, 16) ||
		 field(d, "code_object.name") != field(d, "code_object.filename") + 8 ||
		 !fits(field(d, "code_object.qualname"), co, 8) || !fits(field(d, "code_object.linetable"), co, 8) ||
		 !fits(field(d, "code_object.firstlineno"), co, 4) ||
		 !in_range(field(d, "code_object.co_code_adaptive"), 0x40, co))
		why = "code object offsets";
	else if (field(d, "bytes_object.ob_sval") >= field(d, "bytes_object.size") ||
		 !fits(field(d, "bytes_object.ob_size"), field(d, "bytes_object.size"), 8))
		why = "bytes object offsets";
	else if (field(d, "interpreter_state.gil_runtime_state_locked") <= field(d, "interpreter_state.gil_runtime_state") ||
		 field(d, "interpreter_state.gil_runtime_state_holder") <= field(d, "interpreter_state.gil_runtime_state") ||
		 field(d, "interpreter_state.gil_runtime_state_locked") - field(d, "interpreter_state.gil_runtime_state") > 0x100 ||
		 field(d, "interpreter_state.gil_runtime_state_holder") - field(d, "interpreter_state.gil_runtime_state") > 0x100)
		why = "GIL offsets";
	if (d->missing) {
		snprintf(err, errlen, "debug offsets schema lacks %s", d->missing_name);
		return -1;
	}
	if (why) {
		snprintf(err, errlen, "implausible _Py_DebugOffsets: %s", why);
		return -1;
	}
	return 0;
}

/* A u16 offset inside a struct of struct_size bytes, else PY_OFF_NONE. */
static uint16_t offset_within(uint64_t off, uint64_t struct_size, uint64_t width)
{
	return fits(off, struct_size, width) ? (uint16_t)off : PY_OFF_NONE;
}

/* A field some schemas have: its value, or dflt where the schema lacks it. */
static uint64_t field_or(struct decoder *d, const char *name, uint64_t dflt)
{
	for (size_t i = 0; i < d->schema->n; i++)
		if (strcmp(d->schema->fields[i], name) == 0)
			return get_u64(d->buf + FIRST_SLOT + 8 * i);
	return dflt;
}

/*
 * What reading threading._active needs. 3.13+ describe sys.modules, dicts,
 * ints and tp_flags; tp_basicsize, tp_dictoffset and ht_cached_keys only from
 * 3.15: before that, the values of the 3.13.0 DWARF and the 3.14 builds (the
 * PyTypeObject prefix has not moved since 3.8). A value that does not fit
 * its struct turns the names off, never the walker.
 */
static void fill_name_offsets(struct decoder *d, struct py_layout *out)
{
	uint64_t type_size = field(d, "type_object.size");
	uint64_t heap_cached_keys = d->schema->minor == 13 || d->schema->minor == 14 ? 0x370 : PY_OFF_NONE;
	uint64_t heap_size = field_or(d, "heap_type_object.size", type_size + 0x200);
	uint64_t dict_size = field(d, "dict_object.size"), long_size = field(d, "long_object.size");

	out->obj.interp_modules = offset_within(field(d, "interpreter_state.imports_modules"),
						field(d, "interpreter_state.size"), 8);
	out->obj.type_flags = offset_within(field(d, "type_object.tp_flags"), type_size, 8);
	out->obj.type_basicsize = offset_within(field_or(d, "type_object.tp_basicsize", 0x20), type_size, 8);
	out->obj.type_dictoffset = offset_within(field_or(d, "type_object.tp_dictoffset", 0x120), type_size, 8);
	out->obj.type_cached_keys =
		offset_within(field_or(d, "heap_type_object.ht_cached_keys", heap_cached_keys), heap_size, 8);
	out->obj.dict_keys = offset_within(field(d, "dict_object.ma_keys"), dict_size, 8);
	out->obj.dict_values = offset_within(field(d, "dict_object.ma_values"), dict_size, 8);
	out->obj.long_size = offset_within(field(d, "long_object.lv_tag"), long_size, 8);
	/* ob_digit is a flexible array: at the end of the fixed part */
	out->obj.long_digit = offset_within(field(d, "long_object.ob_digit"), long_size + 4, 4);
}

/*
 * asyncio task support (3.14+ schemas describe generators and sets). Every
 * offset must lie inside its struct, else tasks stay unreadable (known false)
 * and the walker is unaffected.
 */
static void fill_async_offsets(struct decoder *d, struct py_layout *out)
{
	struct py_async_layout *a = &out->async;
	uint64_t gen = field_or(d, "gen_object.size", 0), fr = field(d, "interpreter_frame.size");
	uint64_t set = field_or(d, "set_object.size", 0);

	memset(a, 0, sizeof(*a));
	if (!gen || !set || gen > 0x400 || set > 0x400)
		return;
	a->gen_size = (uint16_t)gen;
	a->gen_iframe = offset_within(field(d, "gen_object.gi_iframe"), gen, 8);
	a->gen_frame_state = offset_within(field(d, "gen_object.gi_frame_state"), gen, 1);
	a->frame_stackpointer = offset_within(field_or(d, "interpreter_frame.stackpointer", PY_OFF_NONE), fr, 8);
	a->frame_size = (uint16_t)fr;
	a->set_size = (uint16_t)set;
	a->set_used = offset_within(field(d, "set_object.used"), set, 8);
	a->set_table = offset_within(field(d, "set_object.table"), set, 8);
	a->set_mask = offset_within(field(d, "set_object.mask"), set, 8);
	a->llist_next = offset_within(field_or(d, "llist_node.next", PY_OFF_NONE), 16, 8);
	/* 3.15 renumbered PyFrameState from 0 and keeps the awaited object under the sent value */
	if (d->schema->minor == 14) {
		a->fs_created = -3;
		a->fs_suspended = -2;
		a->fs_yield_from = -1;
		a->fs_executing = 0;
		a->awaited_slot = 1;
	} else {
		a->fs_created = 0;
		a->fs_suspended = 1;
		a->fs_yield_from = 2;
		a->fs_executing = 4;
		a->awaited_slot = 2;
	}
	a->known = a->gen_iframe != PY_OFF_NONE && a->gen_frame_state != PY_OFF_NONE &&
		   a->frame_stackpointer != PY_OFF_NONE && a->set_used != PY_OFF_NONE &&
		   a->set_table != PY_OFF_NONE && a->set_mask != PY_OFF_NONE && a->llist_next != PY_OFF_NONE &&
		   !d->missing;
}

static void fill_layout(struct decoder *d, uint32_t version_hex, struct py_layout *out)
{
	uint64_t gil = field(d, "interpreter_state.gil_runtime_state");
	struct py_offsets *o = &out->off;

	memset(out, 0, sizeof(*out));
	o->version_hex = version_hex;
	o->frame_model = PY_FRAMES_DIRECT;
	o->lasti_kind = PY_LASTI_ADAPTIVE;
	o->rt_interpreters_head = (uint16_t)field(d, "runtime_state.interpreters_head");
	o->interp_next = (uint16_t)field(d, "interpreter_state.next");
	o->interp_threads_head = (uint16_t)field(d, "interpreter_state.threads_head");
	o->ts_next = (uint16_t)field(d, "thread_state.next");
	o->ts_interp = (uint16_t)field(d, "thread_state.interp");
	o->ts_thread_id = (uint16_t)field(d, "thread_state.thread_id");
	o->ts_native_thread_id = (uint16_t)field(d, "thread_state.native_thread_id");
	o->ts_frame = (uint16_t)field(d, "thread_state.current_frame");
	o->cframe_current_frame = PY_OFF_NONE;
	o->frame_previous = (uint16_t)field(d, "interpreter_frame.previous");
	o->frame_code = (uint16_t)field(d, "interpreter_frame.executable");
	o->frame_instr = (uint16_t)field(d, "interpreter_frame.instr_ptr");
	o->frame_owner = (uint16_t)field(d, "interpreter_frame.owner");
	o->frame_is_entry = PY_OFF_NONE;
	/* 3.12/3.13 FRAME_OWNED_BY_CSTACK = 3; 3.14+ FRAME_OWNED_BY_INTERPRETER = 3
	 * (the entry frame), CSTACK / THREAD_STATE = 4: none of them holds code. */
	o->owner_shim_min = 3;
	o->code_tag_mask = d->schema->code_tag_mask;
	o->code_filename = (uint16_t)field(d, "code_object.filename");
	o->code_name = (uint16_t)field(d, "code_object.name");
	o->code_adaptive = (uint16_t)field(d, "code_object.co_code_adaptive");
	o->gil_locked = (uint16_t)(field(d, "interpreter_state.gil_runtime_state_locked") - gil);
	o->gil_last_holder = (uint16_t)(field(d, "interpreter_state.gil_runtime_state_holder") - gil);
	o->interp_gil_ptr = (uint16_t)field(d, "interpreter_state.ceval_gil");

	out->obj.ob_type = (uint16_t)field(d, "pyobject.ob_type");
	out->obj.code_firstlineno = (uint16_t)field(d, "code_object.firstlineno");
	out->obj.code_qualname = (uint16_t)field(d, "code_object.qualname");
	out->obj.code_linetable = (uint16_t)field(d, "code_object.linetable");
	out->obj.bytes_size = (uint16_t)field(d, "bytes_object.ob_size");
	out->obj.bytes_data = (uint16_t)field(d, "bytes_object.ob_sval");
	out->obj.frame_state = PY_OFF_NONE;
	out->locals = (struct py_locals_layout){
		.frame_localsplus = (uint16_t)field(d, "interpreter_frame.localsplus"),
		.code_nlocals = PY_OFF_NONE,
		.code_names = (uint16_t)field(d, "code_object.localsplusnames"),
		.code_kinds = (uint16_t)field(d, "code_object.localspluskinds"),
		.code_argcount = (uint16_t)field(d, "code_object.argcount"),
		.tuple_size = (uint16_t)field(d, "tuple_object.ob_size"),
		.tuple_items = (uint16_t)field(d, "tuple_object.ob_item"),
		.float_value = (uint16_t)field(d, "float_object.ob_fval"),
		.long_size = (uint16_t)field(d, "long_object.lv_tag"),
		.long_digits = (uint16_t)field(d, "long_object.ob_digit"),
		.type_name = (uint16_t)field(d, "type_object.tp_name"),
		.long_tagged = true,
	};
	fill_name_offsets(d, out);
	fill_async_offsets(d, out);
	out->runtime_gil = PY_OFF_NONE;
	out->interp_gil_ptr = (uint16_t)field(d, "interpreter_state.ceval_gil");
	out->runtime_size = field(d, "runtime_state.size");
}

int py_layout_from_debug_offsets(const uint8_t *buf, size_t len, struct py_layout *out,
				 bool *free_threaded, char *err, size_t errlen)
{
	struct decoder d = { .buf = buf };
	uint64_t version, ft;

	if (len < FIRST_SLOT || memcmp(buf, COOKIE, 8) != 0) {
		snprintf(err, errlen, "no _Py_DebugOffsets cookie");
		return -1;
	}
	version = get_u64(buf + 8);
	ft = get_u64(buf + 16);
	if (PY_MAJOR(version) != 3 || version > 0xffffffffu || ft > 1) {
		snprintf(err, errlen, "bad _Py_DebugOffsets header (version 0x%llx)", (unsigned long long)version);
		return -1;
	}
	d.schema = schema_for(PY_MINOR(version));
	if (!d.schema) {
		snprintf(err, errlen, "unknown _Py_DebugOffsets schema for Python 3.%u",
			 (unsigned)PY_MINOR(version));
		return -1;
	}
	if ((version >> 4 & 0xf) != RELEASE_FINAL) {
		/* Pre-release layouts are not frozen (3.15.0b4 inserted a thread-state field). */
		snprintf(err, errlen, "pre-release Python 0x%08llx: its debug offsets layout is unknown",
			 (unsigned long long)version);
		return -1;
	}
	if (len < FIRST_SLOT + 8 * d.schema->n) {
		snprintf(err, errlen, "_Py_DebugOffsets truncated (%zu bytes)", len);
		return -1;
	}
	*free_threaded = ft != 0;
	if (check_plausible(&d, ft != 0, err, errlen) < 0)
		return -1;
	fill_layout(&d, (uint32_t)version, out);
	return 0;
}

int py_offsets_from_debug_offsets(const uint8_t *buf, size_t len, struct py_offsets *out,
				  bool *free_threaded, char *err, size_t errlen)
{
	struct py_layout l;

	if (py_layout_from_debug_offsets(buf, len, &l, free_threaded, err, errlen) < 0)
		return -1;
	*out = l.off;
	return 0;
}
