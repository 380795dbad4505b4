/* SPDX-License-Identifier: MIT */
/*
 * Which native frames of a Python interpreter (python or libpython) mean
 * something to a user. The eval loop is replaced by the Python frames it ran;
 * call dispatch, eval entry and start-up glue ("plumbing") only say "a call
 * happened here", which the Python frames around them already say, so they
 * are dropped unless --native-all. Everything else is kept: builtins doing
 * real work (builtin_sum, list_sort, map_next), object and memory
 * operations, and every frame outside the interpreter.
 */
#ifndef BPFSPY_NATIVE_INTERPRETER_FRAMES_H
#define BPFSPY_NATIVE_INTERPRETER_FRAMES_H

#include <stdbool.h>

enum native_frame_role {
	NATIVE_FRAME_KEEP = 0,
	NATIVE_FRAME_EVAL,     /* one activation of the eval loop: replaced by its Python frames */
	NATIVE_FRAME_PLUMBING, /* interpreter plumbing: dropped unless --native-all */
};

/* Whether a symbol names the eval loop (_PyEval_EvalFrameDefault and its .cold/.part clones). */
bool interpreter_frame_is_eval_name(const char *name);

/* The role of a named frame that lies inside the interpreter's own code. */
enum native_frame_role interpreter_frame_role(const char *name);

/* main, _start, __libc_start_main, start_thread, clone...: the unwind reached the stack's root. */
bool native_frame_is_root(const char *name);

#endif
