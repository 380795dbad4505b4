// SPDX-License-Identifier: MIT
#include "python/py_interpreter_frames.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/*
 * Exact names of call dispatch between two Python frames (or between a C
 * caller and Python), eval entry, and interpreter start-up. Each one only
 * forwards a call; its own time is argument shuffling.
 */
static const char *const plumbing_names[] = {
	/* vectorcall and tp_call dispatch */
	"PyObject_Vectorcall", "PyObject_VectorcallDict", "PyObject_VectorcallMethod", "_PyObject_VectorcallTstate",
	"PyVectorcall_Call", "_PyVectorcall_Call", "PyObject_Call", "_PyObject_Call", "PyObject_CallObject",
	"PyObject_CallOneArg", "PyObject_CallNoArgs", "_PyObject_CallNoArg", "_PyObject_CallNoArgs",
	"PyObject_CallFunction", "PyObject_CallFunctionObjArgs", "_PyObject_CallFunction_SizeT",
	"PyObject_CallMethod", "PyObject_CallMethodObjArgs", "_PyObject_CallMethod", "_PyObject_CallMethodId",
	"_PyObject_CallMethod_SizeT", "_PyObject_CallMethodIdObjArgs", "PyObject_CallMethodOneArg",
	"_PyObject_CallMethodIdOneArg", "_PyObject_MakeTpCall", "_PyObject_FastCall", "_PyObject_FastCallDict",
	"_PyObject_FastCallDictTstate", "_PyObject_FastCallTstate", "_PyObject_Call_Prepend",
	"_PyObject_VectorcallMethod", "object_vacall", "callmethod", "call_function", "vectorcall_method",
	"vectorcall_unbound", "call_unbound", "call_unbound_noarg", "call_method", "method_vectorcall",
	"method_call", "func_call", "cfunction_call", "cfunction_call_varargs", "_PyCFunction_FastCallKeywords",
	"_PyMethodDef_RawFastCallKeywords", "_PyMethodDef_RawFastCallDict", "_PyCFunction_FastCallDict",
	"PyCFunction_Call", "wrapperdescr_call", "wrapper_call", "partial_call", "partial_vectorcall",
	"type_call", "slot_tp_call", "slot_tp_init", "slot_tp_new",
	/* function objects and eval entry */
	"_PyFunction_Vectorcall", "_PyFunction_FastCall", "_PyFunction_FastCallDict", "_PyFunction_FastCallKeywords",
	"function_code_fastcall", "_PyEval_Vector", "_PyEval_EvalFrame", "_PyEval_EvalCode",
	"_PyEval_EvalCodeWithName", "PyEval_EvalCode", "PyEval_EvalCodeEx", "PyEval_EvalFrame",
	"PyEval_EvalFrameEx", "PyEval_CallObjectWithKeywords", "_PyEvalFramePushAndInit",
	/* generators and coroutines resuming their frame */
	"gen_send_ex", "gen_send_ex2", "gen_iternext", "gen_send", "_PyGen_Send", "PyIter_Send",
	"coro_wrapper_iternext", "gen_throw", "_gen_throw",
	/* running a program or a thread */
	"Py_BytesMain", "Py_Main", "Py_RunMain", "pymain_main", "pymain_run_python", "pymain_run_file",
	"pymain_run_file_obj", "pymain_run_module", "pymain_run_command", "PyRun_SimpleFileExFlags",
	"PyRun_AnyFileExFlags", "PyRun_FileExFlags", "PyRun_StringFlags", "PyRun_SimpleStringFlags",
	"_PyRun_SimpleFileObject", "_PyRun_AnyFileObject", "pyrun_file", "pyrun_simple_file", "run_mod",
	"run_eval_code_obj", "run_pyc_file", "t_bootstrap", "thread_run", "pythread_wrapper",
};

/* Prefixes of families of such wrappers (one per calling convention or slot). */
static const char *const plumbing_prefixes[] = {
	"cfunction_vectorcall_", "method_vectorcall_", "_PyObject_Vectorcall", "slot_tp_call",
};

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Length of name without a compiler clone suffix (".cold", ".part.0", ".isra.0", ".constprop.0", ".lto_priv.0"). */
static size_t base_name_length(const char *name)
{
	const char *dot = strchr(name, '.');
	return dot ? (size_t)(dot - name) : strlen(name);
}

static bool base_name_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && strncmp(name, want, len) == 0;
}

bool interpreter_frame_is_eval_name(const char *name)
{
	return name && base_name_is(name, base_name_length(name), "_PyEval_EvalFrameDefault");
}

enum native_frame_role interpreter_frame_role(const char *name)
{
	if (!name)
		return NATIVE_FRAME_PLUMBING;
	if (interpreter_frame_is_eval_name(name))
		return NATIVE_FRAME_EVAL;
	size_t len = base_name_length(name);
	for (size_t i = 0; i < sizeof(plumbing_names) / sizeof(plumbing_names[0]); i++)
		if (base_name_is(name, len, plumbing_names[i]))
			return NATIVE_FRAME_PLUMBING;
	for (size_t i = 0; i < sizeof(plumbing_prefixes) / sizeof(plumbing_prefixes[0]); i++)
		if (has_prefix(name, plumbing_prefixes[i]))
			return NATIVE_FRAME_PLUMBING;
	return NATIVE_FRAME_KEEP;
}

enum native_frame_role py_interpreter_frame_classify(const struct eval_code *eval, struct native_frame *nf)
{
	if (!eval->found)
		return NATIVE_FRAME_KEEP;
	if (nf->vaddr && eval_code_contains(eval, nf->vaddr)) {
		if (!nf->known) { /* stripped, or its .cold part: name it for --native-all */
			snprintf(nf->name, sizeof(nf->name), "_PyEval_EvalFrameDefault");
			nf->known = true; /* the eval loop, not an anonymous func@ */
		}
		return NATIVE_FRAME_EVAL;
	}
	/* a stripped static function of the interpreter: an address tells a user nothing */
	return nf->known ? interpreter_frame_role(nf->name) : NATIVE_FRAME_PLUMBING;
}
