# Benchmarks (issue 9): make bench (full matrix, ~30 min), make bench-quick (<3 min).
# The harness is bench/bench.py; it writes bench/results/bench-*.{md,json}.
# BENCH_ARGS passes extra options, e.g. make bench BENCH_ARGS="--reps 5".

BENCH_TOOLS := $(BUILD)/bench/rusage_wrap $(BUILD)/bench/write_bench $(BUILD)/bench/deep_native
BENCH_ARGS ?=

$(BUILD)/bench/rusage_wrap: bench/rusage_wrap.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS)

# the unwinding workload: deep native stacks with no frame pointers to follow
$(BUILD)/bench/deep_native: bench/workloads/deep_native.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -fomit-frame-pointer -o $@ $<

# same flags as the unit tests: linked against the library the CLI is built from
$(BUILD)/bench/write_bench: bench/write_bench.c $(LIBBPFSPY) $(USER_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIBBPFSPY) $(LDFLAGS) $(LDLIBS)

bench: deps $(BUILD)/bpfspy $(BENCH_TOOLS)
	$(PYTHON_TEST) bench/bench.py --build $(BUILD) --extras $(EXTRAS) $(BENCH_ARGS)

bench-quick: deps $(BUILD)/bpfspy $(BENCH_TOOLS)
	$(PYTHON_TEST) bench/bench.py --quick --build $(BUILD) --extras $(EXTRAS) $(BENCH_ARGS)
