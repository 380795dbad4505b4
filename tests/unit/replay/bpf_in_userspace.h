/* SPDX-License-Identifier: MIT */
/*
 * The BPF Python walker (bpf/pystack.bpf.h) compiled as plain C, so a test
 * runs the very code the kernel runs on memory recorded from a real process
 * (the way OTel's profiler tests its interpreter support on core dumps).
 *
 * Include this header in exactly one file: it defines the walker's maps and
 * settings. The helpers the walker calls are declared here and defined by
 * that file: reads of the target come from a memory source it chooses, map
 * lookups return its own buffers, ring-buffer output is collected.
 */
#ifndef BPFSPY_BPF_IN_USERSPACE_H
#define BPFSPY_BPF_IN_USERSPACE_H

#include <linux/bpf.h>
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/cdefs.h>

/* libbpf's map-definition macros: in C they declare harmless pointer members */
#define SEC(name)
#define __uint(name, val) int(*name)[val]
#define __type(name, val) __typeof__(val) *name
#ifndef __noinline
#define __noinline __attribute__((noinline))
#endif

long bpf_probe_read_user(void *dst, __u32 size, const void *unsafe_ptr);
void *bpf_map_lookup_elem(void *map, const void *key);
long bpf_map_update_elem(void *map, const void *key, const void *value, __u64 flags);
long bpf_map_delete_elem(void *map, const void *key);
long bpf_loop(__u32 nr_loops, void *callback_fn, void *ctx, __u64 flags);
long bpf_ringbuf_output(void *ringbuf, void *data, __u64 size, __u64 flags);
__u64 bpf_ringbuf_query(void *ringbuf, __u64 flags);
__u32 bpf_get_smp_processor_id(void);

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../../../bpf/pystack.bpf.h"
#pragma GCC diagnostic pop

#endif
