# Reliability checks beyond the plain test suite. Included by the top-level Makefile.
#
#   make test-valgrind    every unit test binary under valgrind (memcheck): no
#                         errors, no definite leaks; prints one line per binary
#                         and keeps each log in $(BUILD)/valgrind/NAME.log
#
# Valgrind needs a build without sanitizers (the default BUILD=build).
#
# VALGRIND_SKIP names binaries that cannot pass under valgrind for reasons of
# valgrind, not of bpfspy; each is printed as skipped. test_unwind_self
# unwinds its own live stack through a real signal frame, and valgrind runs
# the code on a synthetic CPU with its own signal frames and stack layout.

VALGRIND ?= valgrind
VALGRIND_SKIP ?= test_unwind_self
# allregs-at-mem-access: elf_reader's SIGBUS guard lets a read that faulted on a
# file truncated under it run again (test_sym_elf does that); valgrind resumes it
# faithfully only if every register is exact at each memory access (by default a
# copy loop resumed with a stale count and wrote past its buffer, in valgrind's
# model only: ASan and a plain run are clean).
VALGRIND_FLAGS := --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
	--show-leak-kinds=definite --track-origins=yes --quiet \
	--vex-iropt-register-updates=allregs-at-mem-access \
	--suppressions=$(abspath tests/valgrind/unit.supp)

# Binaries run VALGRIND_JOBS at a time (default: one per CPU); the slowest,
# test_native_snapshot, goes first so it does not run alone at the end.
VALGRIND_JOBS ?= $(shell nproc)
VALGRIND_FIRST := $(filter %/test_native_snapshot,$(UNIT_BINS))

.PHONY: test-valgrind
test-valgrind: $(UNIT_BINS)
	@if [ -n "$(SAN)" ]; then echo "test-valgrind: build without SAN (valgrind cannot run ASan binaries)" >&2; exit 2; fi
	@command -v $(VALGRIND) >/dev/null || { echo "test-valgrind: $(VALGRIND) not installed (make deps)" >&2; exit 2; }
	@mkdir -p $(BUILD)/valgrind
	@printf '%s\n' $(VALGRIND_FIRST) $(filter-out $(VALGRIND_FIRST),$(UNIT_BINS)) | \
		xargs -P $(VALGRIND_JOBS) -I{} tests/valgrind/run_one.sh $(abspath $(BUILD))/valgrind "$(VALGRIND_SKIP)" \
			$(VALGRIND) $(VALGRIND_FLAGS) -- {} || \
		{ echo "test-valgrind: FAILED (logs in $(BUILD)/valgrind/)" >&2; exit 1; }
	@echo "test-valgrind: every unit test binary passed under memcheck"
