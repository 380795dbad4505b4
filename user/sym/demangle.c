// SPDX-License-Identifier: MIT
#include "sym/demangle.h"

#include <libiberty/demangle.h>
#include <string.h>

/*
 * libiberty keeps its parse tree on the stack, about 50 bytes per input
 * character: longer names (rare, and usually template soup past our 255-byte
 * frame names anyway) are shown mangled rather than risk a small thread stack.
 */
#define MAX_DEMANGLE_INPUT 2048

struct sink {
	char *out;
	size_t size, len;
};

static void append(const char *s, size_t n, void *opaque)
{
	struct sink *sink = opaque;
	size_t room = sink->size - 1 - sink->len;
	if (n > room)
		n = room;
	memcpy(sink->out + sink->len, s, n);
	sink->len += n;
	sink->out[sink->len] = '\0';
}

static void copy_truncated(const char *s, char *out, size_t size)
{
	size_t n = strnlen(s, size - 1);
	memcpy(out, s, n);
	out[n] = '\0';
}

bool demangle_symbol(const char *symbol, char *out, size_t size)
{
	if (size == 0)
		return false;
	out[0] = '\0';
	if (strncmp(symbol, "_Z", 2) == 0 && strnlen(symbol, MAX_DEMANGLE_INPUT) < MAX_DEMANGLE_INPUT) {
		struct sink sink = { .out = out, .size = size };
		if (cplus_demangle_v3_callback(symbol, DMGL_PARAMS | DMGL_ANSI, append, &sink) && sink.len > 0)
			return true;
	}
	copy_truncated(symbol, out, size);
	return false;
}
