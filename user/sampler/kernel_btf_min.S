/* SPDX-License-Identifier: MIT */
/*
 * The kernel types the BPF programs use, cut from the build machine's BTF
 * (bpftool gen min_core_btf), and which kernel they were cut from: see
 * sampler/kernel_btf.h. Empty when the build machine had no BTF to cut.
 */
	.section .rodata
	.balign 8
	.globl kernel_btf_min, kernel_btf_min_end, kernel_btf_min_kernel, kernel_btf_min_kernel_end
kernel_btf_min:
	.incbin KERNEL_BTF_MIN
kernel_btf_min_end:
kernel_btf_min_kernel:
	.incbin KERNEL_BTF_MIN_KERNEL
kernel_btf_min_kernel_end:
	.section .note.GNU-stack, "", @progbits
