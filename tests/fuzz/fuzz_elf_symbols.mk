# ELF symbol loading from bytes (user/sym/), and for stripped files the CPython
# method-table scan with its .eh_frame walk, and .gnu_debugdata (MiniDebugInfo), see fuzz_elf_symbols.c.
FUZZ_SRCS_elf_symbols := user/sym/elf_symbols.c user/sym/elf_reader.c user/sym/elf_debug_file.c user/sym/elf_minidebuginfo.c \
	user/util/string_arena.c user/util/array.c user/python/py_method_symbols.c user/unwind/cfi_image.c user/unwind/cfi_entries.c \
	user/unwind/dwarf_cursor.c user/util/hash_map.c user/util/radix_sort.c
FUZZ_LIBS_elf_symbols := -lelf -lz -llzma
