/* SPDX-License-Identifier: MIT */
/*
 * What the BPF Python walker needs to know about one Python process: where its
 * _PyRuntime is and the handful of CPython struct offsets it follows. Userspace
 * (user/python/) fills it per process, from the per-version table (3.8-3.12) or
 * from the target's own _Py_DebugOffsets (3.13+), and stores it in the
 * py_procs map keyed by tgid. The BPF side never knows a CPython version.
 */
#ifndef BPFSPY_PYOFFSETS_H
#define BPFSPY_PYOFFSETS_H

#include "bpfspy_types.h"

/* How the thread state's top frame and the frame chain are laid out. */
enum py_frame_model {
	PY_FRAMES_OBJECT = 1,  /* 3.8-3.10: PyFrameObject list, tstate->frame, f_back */
	PY_FRAMES_CFRAME = 2,  /* 3.11-3.12: tstate->cframe->current_frame, _PyInterpreterFrame */
	PY_FRAMES_DIRECT = 3   /* 3.13+: tstate->current_frame, _PyInterpreterFrame */
};

/* How py_frame_rec.lasti is to be read by userspace. */
enum py_lasti_kind {
	PY_LASTI_BYTES = 1,    /* 3.8/3.9: f_lasti, byte offset (-1 before start) */
	PY_LASTI_UNITS = 2,    /* 3.10: f_lasti in 2-byte code units */
	PY_LASTI_ADAPTIVE = 3  /* 3.11+: (instr_ptr - (code + co_code_adaptive)) / 2, code units */
};

#define PY_OFF_NONE 0xffffu

struct py_offsets {
	__u32 version_hex;     /* PY_VERSION_HEX, e.g. 0x030c01f0 */
	__u16 frame_model;     /* enum py_frame_model */
	__u16 lasti_kind;      /* enum py_lasti_kind */

	/* _PyRuntimeState */
	__u16 rt_interpreters_head;

	/* PyInterpreterState */
	__u16 interp_next;
	__u16 interp_threads_head;

	/* PyThreadState */
	__u16 ts_next;
	__u16 ts_interp;
	__u16 ts_thread_id;        /* pthread_t == fs_base on x86_64 glibc */
	__u16 ts_native_thread_id; /* PY_OFF_NONE before 3.11 */
	__u16 ts_frame;            /* OBJECT: tstate->frame; DIRECT: tstate->current_frame; CFRAME: tstate->cframe */
	__u16 cframe_current_frame;/* CFRAME only */

	/* frame (PyFrameObject or _PyInterpreterFrame) */
	__u16 frame_previous;      /* f_back / previous */
	__u16 frame_code;          /* f_code / f_executable */
	__u16 frame_instr;         /* f_lasti (int) / prev_instr / instr_ptr */
	__u16 frame_owner;         /* char owner; PY_OFF_NONE for OBJECT model */
	__u16 frame_is_entry;      /* 3.11 bool is_entry; PY_OFF_NONE otherwise */
	__u8 owner_shim_min;       /* owner >= this is a C-stack entry frame (3 on 3.12+), 0 = never */
	__u8 code_tag_mask;        /* low bits to clear from frame_code (3 on 3.14+ _PyStackRef) */

	/* PyCodeObject */
	__u16 code_filename;
	__u16 code_name;           /* co_filename and co_name are adjacent: the walker reads both at once */
	__u16 code_adaptive;       /* co_code_adaptive; PY_OFF_NONE before 3.11 */
	__u16 code_qualname;       /* PY_OFF_NONE before 3.11 */
	__u16 code_linetable;      /* co_lnotab / co_linetable (a bytes object) */
	__u16 code_capture_len;    /* bytes of the code object's fixed part worth capturing */
	__u16 bytes_size;          /* PyBytesObject: ob_size */
	__u16 bytes_data;          /* PyBytesObject: ob_sval */

	/*
	 * GIL: struct _gil_runtime_state is at gil_addr (3.8-3.11: in
	 * _PyRuntime, absolute, per process) or, 3.12+, behind the thread's own
	 * interpreter: *(tstate->interp + interp_gil_ptr) (interp->ceval.gil),
	 * read at each sample, so it is right before Py_Initialize has made the
	 * GIL, and for subinterpreters with their own.
	 */
	__u16 gil_locked;          /* offsets inside _gil_runtime_state */
	__u16 gil_last_holder;
	__u16 interp_gil_ptr;      /* PY_OFF_NONE before 3.12 */

	/*
	 * record --async-aware (3.14+): where the thread state keeps its
	 * running asyncio task, read into bpfspy_sample.asyncio_task; 0 or
	 * PY_OFF_NONE when unknown (no asyncio yet, or not asked for).
	 */
	__u16 ts_asyncio_task;
};

struct py_proc {
	__u64 runtime_addr;   /* &_PyRuntime in the target */
	__u64 gil_addr;       /* &_gil_runtime_state when detected (0 if none yet); BPF uses it before 3.12 */
	struct py_offsets off;
};

#endif
