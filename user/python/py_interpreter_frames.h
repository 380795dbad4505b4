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
#ifndef BPFSPY_PYTHON_PY_INTERPRETER_FRAMES_H
#define BPFSPY_PYTHON_PY_INTERPRETER_FRAMES_H

#include <stdbool.h>

#include "python/py_eval_code.h"
#include "sym/native_symbols.h"

enum native_frame_role {
	NATIVE_FRAME_KEEP = 0,
	NATIVE_FRAME_EVAL,     /* one activation of the eval loop: replaced by its Python frames */
	NATIVE_FRAME_PLUMBING, /* interpreter plumbing: dropped unless --native-all */
};

/* Whether a symbol names the eval loop (_PyEval_EvalFrameDefault and its .cold/.part clones). */
bool interpreter_frame_is_eval_name(const char *name);

/* The role of a named frame that lies inside the interpreter's own code. */
enum native_frame_role interpreter_frame_role(const char *name);

/*
 * The role of native frame nf in a file whose eval loop is eval (a file
 * without one, eval->found false, is no interpreter: keep). The eval loop's
 * frame gets its name when its symbol is stripped.
 */
enum native_frame_role py_interpreter_frame_classify(const struct eval_code *eval, struct native_frame *nf);

#endif
