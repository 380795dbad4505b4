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
VALGRIND_FLAGS := --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
	--show-leak-kinds=definite --track-origins=yes --quiet \
	--suppressions=$(abspath tests/valgrind/unit.supp)

.PHONY: test-valgrind
test-valgrind: $(UNIT_BINS)
	@if [ -n "$(SAN)" ]; then echo "test-valgrind: build without SAN (valgrind cannot run ASan binaries)" >&2; exit 2; fi
	@command -v $(VALGRIND) >/dev/null || { echo "test-valgrind: $(VALGRIND) not installed (make deps)" >&2; exit 2; }
	@mkdir -p $(BUILD)/valgrind; fail=0; \
	for t in $(UNIT_BINS); do \
		name=$$(basename $$t); log=$(abspath $(BUILD))/valgrind/$$name.log; \
		if echo " $(VALGRIND_SKIP) " | grep -q " $$name "; then echo "valgrind skipped $$name (VALGRIND_SKIP)"; continue; fi; \
		if (cd tests/unit && $(VALGRIND) $(VALGRIND_FLAGS) --log-file=$$log ../../$$t > $$log.out 2>&1); then \
			echo "valgrind ok      $$name"; \
		else \
			fail=1; echo "valgrind FAILED  $$name (test output: $$log.out, valgrind: $$log)"; \
			grep -v '^==[0-9]*== *$$' $$log | head -n 40; \
		fi; \
	done; exit $$fail
