/* SPDX-License-Identifier: MIT */
/*
 * `dump --native`: a thread's native stack, unwound from the user registers
 * it saved when it last entered the kernel and its stack read through
 * /proc/PID/mem, with the Python frames merged where the interpreter ran
 * them - the unwinder and merge of `record --native`.
 */
#ifndef BPFSPY_DUMP_NATIVE_H
#define BPFSPY_DUMP_NATIVE_H

#include <stdbool.h>
#include <stddef.h>

#include "dump/dump.h"
#include "dump/dump_fsbase.h"
#include "python/python.h"
#include "process/target_process.h"

struct native_mode;

/*
 * Replaces out's frames (most recent call last) with the merged stack of
 * the thread whose registers are regs; py are its Python frames, innermost
 * first, as the walker read them. Returns 0, or -1 when the stack could
 * not be read (out is left as it was).
 */
int dump_native_stack(struct native_mode *m, struct target_process *p, const struct thread_fsbase *regs,
		      const struct py_frame_rec *py, size_t npy, bool py_truncated, struct dump_thread *out);

#endif
