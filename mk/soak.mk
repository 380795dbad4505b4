# Soak test. Included by the top-level Makefile.
#
#   make soak [SOAK_SECONDS=600] [SOAK_RATE=17] [SOAK_SAMPLE_RATE=100]
#
# `bpfspy record -a --native -i` on the whole host for SOAK_SECONDS while
# tests/soak/churn.py starts and ends SOAK_RATE short processes a second
# (~10k in the default 600 s; SOAK_SECONDS=60 is a quick check). Asserts no
# crash, flat RSS and fds after the warm-up, lost samples < 0.1 %, every
# process that lived >= 20 ms in the profile, and a file speedscope imports.
# Prints a report; files are kept in $(BUILD)/soak/run/. Needs root.

SOAK_SECONDS ?= 600
SOAK_RATE ?= 17
SOAK_SAMPLE_RATE ?= 100
SOAK_DIR := $(BUILD)/soak
SOAK_PROC := $(SOAK_DIR)/soak_proc
SPEEDSCOPE_CHECK ?= tests/e2e/speedscope-check/speedscope-check

# frame pointers so the helper's own frames read well without --native too
$(SOAK_PROC): tests/soak/soak_proc.c
	@mkdir -p $(dir $@)
	$(CC) -O1 -g -fno-omit-frame-pointer -Wall -Wextra -Werror -o $@.$$$$.tmp $< -ldl -lpthread && mv $@.$$$$.tmp $@

.PHONY: soak
soak: $(BUILD)/bpfspy $(SOAK_PROC)
	$(PYTHON_TEST) tests/soak/soak.py --bpfspy $(abspath $(BUILD)/bpfspy) --helper $(abspath $(SOAK_PROC)) \
		--speedscope-check $(SPEEDSCOPE_CHECK) --seconds $(SOAK_SECONDS) --rate $(SOAK_RATE) --sample-rate $(SOAK_SAMPLE_RATE) \
		--out-dir $(SOAK_DIR)/run
