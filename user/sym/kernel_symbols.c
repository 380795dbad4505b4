// SPDX-License-Identifier: MIT
/* Kernel text symbols from /proc/kallsyms: "ADDR TYPE NAME[\t[MODULE]]" lines. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sym/native_symbols.h"
#include "util/array.h"
#include "util/procfs.h"
#include "util/sorted.h"
#include "util/string_arena.h"

#define MAX_KALLSYMS_FILE (512u << 20)
/* kallsyms has no sizes: an address further than this past the last symbol is not attributed to it. */
#define MAX_KERNEL_FUNCTION_SIZE (1u << 20)

struct kernel_symbol {
	uint64_t addr;
	uint32_t name;
	uint32_t order; /* global (T) before local (t), then file order */
};

struct kernel_symbols {
	struct kernel_symbol *symbols; /* sorted by address, one per address */
	size_t n;
	struct string_arena strings;
};

struct kallsyms_line {
	uint64_t addr;
	char type;
	const char *name, *module;
	size_t name_len, module_len;
};

/* Splits one line (without its newline); false if malformed. */
static bool split_line(const char *p, const char *end, struct kallsyms_line *out)
{
	uint64_t addr = 0;
	int digits = 0;
	for (; p < end && digits <= 16; p++, digits++) {
		char c = *p;
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 16;
		if (d == 16)
			break;
		addr = addr << 4 | d;
	}
	if (digits == 0 || digits > 16 || end - p < 3 || p[0] != ' ' || p[2] != ' ')
		return false;
	out->addr = addr;
	out->type = p[1];
	p += 3;
	out->name = p;
	while (p < end && *p != '\t' && *p != ' ')
		p++;
	out->name_len = (size_t)(p - out->name);
	while (p < end && (*p == '\t' || *p == ' '))
		p++;
	out->module = NULL;
	out->module_len = 0;
	if (p < end && *p == '[' && end[-1] == ']') {
		out->module = p + 1;
		out->module_len = (size_t)(end - p - 2);
	}
	return out->name_len > 0;
}

static int add_symbol(struct kernel_symbols *k, size_t *cap, const struct kallsyms_line *l, uint32_t order)
{
	char name[512];
	size_t len;
	if (l->module)
		len = (size_t)snprintf(name, sizeof(name), "%.*s [%.*s]", (int)l->name_len, l->name,
				       (int)l->module_len, l->module);
	else
		len = (size_t)snprintf(name, sizeof(name), "%.*s", (int)l->name_len, l->name);
	if (len >= sizeof(name))
		len = sizeof(name) - 1;
	if (array_reserve((void **)&k->symbols, cap, k->n + 1, sizeof(*k->symbols)) != 0)
		return -1;
	struct kernel_symbol *s = &k->symbols[k->n];
	s->addr = l->addr;
	s->order = (l->type == 'T' ? 0 : 1u << 31) | order;
	if (string_arena_add(&k->strings, name, len, &s->name))
		return -1;
	k->n++;
	return 0;
}

static int compare_symbols(const void *pa, const void *pb)
{
	const struct kernel_symbol *a = pa, *b = pb;
	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

static void sort_and_dedupe(struct kernel_symbols *k)
{
	if (!k->n)
		return;
	qsort(k->symbols, k->n, sizeof(*k->symbols), compare_symbols);
	size_t kept = 1;
	for (size_t i = 1; i < k->n; i++)
		if (k->symbols[i].addr != k->symbols[kept - 1].addr)
			k->symbols[kept++] = k->symbols[i];
	k->n = kept;
}

struct kernel_symbols *kernel_symbols_parse_buffer(const char *buf, size_t len)
{
	struct kernel_symbols *k = calloc(1, sizeof(*k));
	size_t cap = 0, text_lines = 0;
	if (!k)
		return NULL;
	for (size_t pos = 0; pos < len;) {
		const char *line = buf + pos;
		const char *nl = memchr(line, '\n', len - pos);
		const char *end = nl ? nl : buf + len;
		pos = (size_t)(end - buf) + 1;
		struct kallsyms_line l;
		if (!split_line(line, end, &l) || (l.type != 'T' && l.type != 't'))
			continue;
		text_lines++;
		if (l.addr == 0)
			continue; /* hidden by kptr_restrict */
		if (text_lines > UINT32_MAX / 2 || add_symbol(k, &cap, &l, (uint32_t)text_lines) != 0) {
			kernel_symbols_free(k);
			errno = ENOMEM;
			return NULL;
		}
	}
	if (k->n == 0) {
		kernel_symbols_free(k);
		errno = text_lines ? EACCES : ENODATA;
		return NULL;
	}
	sort_and_dedupe(k);
	string_arena_shrink(&k->strings);
	return k;
}

struct kernel_symbols *kernel_symbols_load(void)
{
	size_t len;
	char *buf = procfs_read_whole("/proc/kallsyms", MAX_KALLSYMS_FILE, &len);
	if (!buf)
		return NULL;
	struct kernel_symbols *k = kernel_symbols_parse_buffer(buf, len);
	int err = errno;
	free(buf);
	errno = err;
	return k;
}

void kernel_symbols_free(struct kernel_symbols *k)
{
	if (!k)
		return;
	free(k->symbols);
	string_arena_free(&k->strings);
	free(k);
}

size_t kernel_symbols_count(const struct kernel_symbols *k)
{
	return k ? k->n : 0;
}

const char *kernel_symbols_lookup(const struct kernel_symbols *k, uint64_t addr, uint64_t *offset)
{
	if (!k)
		return NULL;
	size_t lo = SORTED_COUNT_AT_OR_BELOW(k->symbols, k->n, addr, addr);
	if (lo == 0 || addr - k->symbols[lo - 1].addr >= MAX_KERNEL_FUNCTION_SIZE)
		return NULL;
	if (offset)
		*offset = addr - k->symbols[lo - 1].addr;
	return string_arena_get(&k->strings, k->symbols[lo - 1].name);
}
