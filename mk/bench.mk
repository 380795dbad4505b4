# Benchmarks (issue 9): make bench (full matrix, ~30 min, then ~21 min of attach cost, ~12 min of the 60 s attach,
# 10 min of top and a 10 min soak of record -a on a busy host), make bench-quick (<3 min, then 20 s of attach cost,
# 30 s of top and 30 s of record -a), make bench-attach, make bench-top, make bench-soak.
# The harness is bench/bench.py; it writes bench/results/bench-*.{md,json}.
# BENCH_ARGS passes extra options, e.g. make bench BENCH_ARGS="--reps 5".

BENCH_TOOLS := $(BUILD)/bench/rusage_wrap $(BUILD)/bench/write_bench $(BUILD)/bench/deep_native
BENCH_ARGS ?=
# bpfspy left running: top at 1 kHz (CPU per refresh and RSS), record -a on a busy host (CPU per second and RSS),
# first window vs last (bench/longrun.py)
TOP_LONGRUN_S ?= 600
TOP_LONGRUN_QUICK_S ?= 30
SOAK_S ?= 600
SOAK_QUICK_S ?= 30

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

# the profiler's own CPU attached to a CPU-bound python3, bpfspy against Austin and perf (bench/attach_cost.py)
ATTACH_ARGS ?=

bench: deps $(BUILD)/bpfspy $(BENCH_TOOLS)
	$(PYTHON_TEST) bench/bench.py --build $(BUILD) --extras $(EXTRAS) $(BENCH_ARGS)
	$(PYTHON_TEST) bench/attach_cost.py --build $(BUILD) --extras $(EXTRAS) $(ATTACH_ARGS)
	$(PYTHON_TEST) bench/attach_cost.py --build $(BUILD) --extras $(EXTRAS) --duration 60 --reps 3 \
		--tools "bpfspy,bpfspy --native,austin,tachyon"
	$(PYTHON_TEST) bench/longrun.py --mode top --build $(BUILD) --duration $(TOP_LONGRUN_S)
	$(PYTHON_TEST) bench/longrun.py --mode record-all --build $(BUILD) --duration $(SOAK_S)

bench-quick: deps $(BUILD)/bpfspy $(BENCH_TOOLS)
	$(PYTHON_TEST) bench/bench.py --quick --build $(BUILD) --extras $(EXTRAS) $(BENCH_ARGS)
	$(PYTHON_TEST) bench/attach_cost.py --build $(BUILD) --extras $(EXTRAS) --duration 5 --reps 1 \
		--tools "bpfspy,bpfspy --native" $(ATTACH_ARGS)
	$(PYTHON_TEST) bench/longrun.py --mode top --build $(BUILD) --duration $(TOP_LONGRUN_QUICK_S)
	$(PYTHON_TEST) bench/longrun.py --mode record-all --build $(BUILD) --duration $(SOAK_QUICK_S)

# target slowdown resolved to ~1 %: the call tree scaled to ~11 s of CPU, 5 interleaved repetitions, judged
# on the target tree's CPU time (rusage), every profiler at 100 Hz and 1 kHz on Debian's python3 (~12 min)
.PHONY: bench-slowdown
bench-slowdown: deps $(BUILD)/bpfspy $(BENCH_TOOLS)
	$(PYTHON_TEST) bench/bench.py --quick --workloads calltree --scale 18 --reps 5 --rates 100,1000 \
		--no-writers --no-unwind --build $(BUILD) --extras $(EXTRAS) $(BENCH_ARGS)

# only the attach cost: make bench-attach ATTACH_ARGS="--duration 20 --reps 5"
.PHONY: bench-attach
bench-attach: $(BUILD)/bpfspy
	$(PYTHON_TEST) bench/attach_cost.py --build $(BUILD) --extras $(EXTRAS) $(ATTACH_ARGS)

# only the top long run: make bench-top TOP_LONGRUN_S=120
.PHONY: bench-top
bench-top: $(BUILD)/bpfspy
	$(PYTHON_TEST) bench/longrun.py --mode top --build $(BUILD) --duration $(TOP_LONGRUN_S)

# only the soak: record -a on a busy host, make bench-soak SOAK_S=120 (add BENCH_SOAK_ARGS=--native)
.PHONY: bench-soak
BENCH_SOAK_ARGS ?=
bench-soak: $(BUILD)/bpfspy
	$(PYTHON_TEST) bench/longrun.py --mode record-all --build $(BUILD) --duration $(SOAK_S) $(BENCH_SOAK_ARGS)
