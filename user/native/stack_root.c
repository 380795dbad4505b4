// SPDX-License-Identifier: MIT
#include "native/stack_root.h"

#include <stddef.h>
#include <string.h>

bool native_frame_is_root(const char *name)
{
	static const char *const roots[] = {
		"main", "_start", "__libc_start_main", "__libc_start_call_main", "start_thread", "clone", "clone3",
		"__clone", "__clone3", "__clone_internal", "__GI___clone", "__GI___clone3", /* glibc's own aliases */
	};
	if (!name)
		return false;
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
		if (strcmp(name, roots[i]) == 0)
			return true;
	return false;
}
