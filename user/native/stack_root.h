/* SPDX-License-Identifier: MIT */
/* Where a native stack begins: a walk that reached one of these frames is complete. */
#ifndef BPFSPY_NATIVE_STACK_ROOT_H
#define BPFSPY_NATIVE_STACK_ROOT_H

#include <stdbool.h>

/* main, _start, __libc_start_main, start_thread, clone...: the unwind reached the stack's root. */
bool native_frame_is_root(const char *name);

#endif
