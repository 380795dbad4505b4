// SPDX-License-Identifier: MIT
/* libFuzzer harness: elf_symbols from arbitrary bytes, then every query on what loaded. */
#include <stddef.h>
#include <stdint.h>

#include "sym/native_symbols.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_symbols *s = elf_symbols_load_mem(data, size, "fuzz");
	if (!s)
		return 0;
	uint64_t vaddr, len, offset;
	for (uint64_t a = 0; a < 0x2000; a += 0x11)
		elf_symbols_lookup(s, a, &offset);
	elf_symbols_lookup(s, UINT64_MAX, &offset);
	elf_symbols_offset_to_vaddr(s, 0x40, &vaddr);
	elf_symbols_find(s, "main", &vaddr, &len);
	elf_symbols_find(s, "_PyRuntime", &vaddr, &len);
	elf_symbols_section(s, ".text", &vaddr, &len, &offset);
	const char *const *needed;
	size_t n = elf_symbols_needed(s, &needed);
	for (size_t i = 0; i < n; i++)
		(void)needed[i][0];
	(void)elf_symbols_build_id(s)[0];
	elf_symbols_free(s);
	return 0;
}
