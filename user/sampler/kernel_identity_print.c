// SPDX-License-Identifier: MIT
/* Prints this machine's kernel BTF identity for the build to embed (see sampler/kernel_identity.h). */
#include <stdio.h>

#include "sampler/kernel_identity.h"

int main(void)
{
	char id[512];
	if (kernel_btf_identity(id, sizeof(id)) != 0) {
		fprintf(stderr, "kernel-btf-identity: no kernel BTF or no kernel build ID\n");
		return 1;
	}
	fputs(id, stdout);
	return 0;
}
