# ELF symbol loading from bytes (user/sym/), see fuzz_elf_symbols.c.
FUZZ_SRCS_elf_symbols := user/sym/elf_symbols.c user/sym/elf_reader.c user/sym/elf_debug_file.c \
	user/sym/string_arena.c
FUZZ_LIBS_elf_symbols := -lelf -lz
