# libFuzzer harnesses. Included by the top-level Makefile.
#
# Each tests/fuzz/fuzz_NAME.c becomes build-fuzz/fuzz_NAME, built with clang
# and the fuzzer + sanitizer flags together with the sources listed in
# FUZZ_SRCS_NAME. Its corpus is tests/fuzz/corpus/NAME/ (seed files are
# committed; new finds go to build-fuzz/corpus/NAME/ so the tree stays clean).
#
# To add a harness: write tests/fuzz/fuzz_NAME.c (defining
# LLVMFuzzerTestOneInput), define its sources, either below or in a fragment
# tests/fuzz/fuzz_NAME.mk (included automatically), e.g.
#   FUZZ_SRCS_NAME := user/.../file.c ...
#   FUZZ_LIBS_NAME := -lelf -lz          (optional)
#   FUZZ_INCS_NAME := -Isome/dir         (optional)
# and seed tests/fuzz/corpus/NAME/. A harness without FUZZ_SRCS_NAME is
# skipped with a warning, so a half-added harness cannot break make test.
#
#   make fuzz-smoke                 every harness ~10 s (part of make test)
#   make fuzz FUZZ_SECONDS=300      every harness for N seconds (FUZZ_JOBS=4: four at a time)
#   make build-fuzz/fuzz_NAME       build one harness

FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_CC ?= clang
FUZZ_CFLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror \
	-Wno-unused-parameter -Iinclude -Iuser -I$(BUILD)

-include $(wildcard tests/fuzz/fuzz_*.mk)

# ---- per-harness sources -------------------------------------------------
# the speedscope document layer as shipped, through both model builders on it: the tool's and bpfspy convert's
FUZZ_SRCS_speedscope_reader := $(filter-out tools/speedscope_top_packages_src/main.c,\
	$(wildcard tools/speedscope_top_packages_src/*.c)) user/output/speedscope_doc.c user/output/json_scan.c \
	user/util/utf8.c user/output/speedscope_read.c \
	user/profile/profile.c user/profile/profile_frames.c user/profile/profile_modules.c user/profile/profile_stacks.c user/util/id_table.c user/util/hash_map.c user/util/string_arena.c user/util/array.c
FUZZ_INCS_speedscope_reader := -Itools/speedscope_top_packages_src
FUZZ_LIBS_speedscope_reader := -lcjson -lm

# ---- rules -----------------------------------------------------------------
FUZZ_ALL_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES := $(foreach n,$(FUZZ_ALL_NAMES),$(if $(FUZZ_SRCS_$(n)),$(n)))
FUZZ_SKIPPED := $(filter-out $(FUZZ_NAMES),$(FUZZ_ALL_NAMES))
FUZZ_BINS := $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_NAMES))

.SECONDEXPANSION:
$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $$(FUZZ_SRCS_$$*) $(wildcard include/*.h user/*.h user/*/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_INCS_$*) -o $@ $< $(FUZZ_SRCS_$*) $(FUZZ_LIBS_$*)

# Runs each harness for $(1) seconds, FUZZ_JOBS at a time: committed seeds
# are read-only input, new corpus entries and crash artifacts go under
# $(FUZZ_BUILD). Each harness's last lines (run count) are printed when done.
FUZZ_JOBS ?= 1
fuzz_one = n=$$1; \
	mkdir -p $(FUZZ_BUILD)/corpus/$$n $(FUZZ_BUILD)/artifacts/$$n tests/fuzz/corpus/$$n; \
	if $(FUZZ_BUILD)/fuzz_$$n -max_total_time=$(1) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_BUILD)/artifacts/$$n/ $(FUZZ_BUILD)/corpus/$$n tests/fuzz/corpus/$$n \
		> $(FUZZ_BUILD)/fuzz_$$n.log 2>&1; then \
		echo "== fuzz $$n ($(1)s): $$(grep -E "^stat::number_of_executed_units" $(FUZZ_BUILD)/fuzz_$$n.log | \
			sed "s/.*: *//") runs, no crash"; \
	else tail -n 40 $(FUZZ_BUILD)/fuzz_$$n.log; echo "fuzz $$n FAILED (log: $(FUZZ_BUILD)/fuzz_$$n.log)"; exit 1; fi
fuzz_run_all = printf "%s\n" $(FUZZ_NAMES) | xargs -P $(FUZZ_JOBS) -I{} sh -c '$(call fuzz_one,$(1))' fuzz {}

fuzz-build: $(FUZZ_BINS)
.PHONY: fuzz-build

fuzz-skipped-warning:
	$(if $(FUZZ_SKIPPED),@echo "fuzz: skipping harnesses without FUZZ_SRCS_<name>: $(FUZZ_SKIPPED)" >&2)
.PHONY: fuzz-skipped-warning

fuzz-smoke:: $(FUZZ_BINS) fuzz-skipped-warning
	@$(call fuzz_run_all,$(FUZZ_SMOKE_SECONDS))

fuzz:: $(FUZZ_BINS) fuzz-skipped-warning
	@$(call fuzz_run_all,$(FUZZ_SECONDS))
