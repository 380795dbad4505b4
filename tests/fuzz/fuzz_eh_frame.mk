# The CFI parser and table builder (user/unwind/), see fuzz_eh_frame.c.
FUZZ_SRCS_eh_frame := user/unwind/dwarf_cursor.c user/unwind/cfi_entries.c user/unwind/cfa_program.c \
	user/unwind/unwind_rules.c user/unwind/unwind_table.c user/unwind/cfi_image.c user/sym/elf_reader.c user/util/array.c
FUZZ_LIBS_eh_frame := -lelf -lz
