# bpfspy - eBPF sampling profiler for Python and native code.
#
#   make            build build/bpfspy and tools/
#   make deps       install what the build and tests need (Debian packages, npm
#                   packages for the browser tests, CPython 3.14/3.15 under EXTRAS)
#   make test       build + every test (unit, integration, fuzz smoke); run make deps first
#   make demo       deps + build + profile a pytest-startup workload
#   make test-asan  the whole suite with AddressSanitizer + UBSan
#   make e2e        the speedscope-check end-to-end checks
#   make install    /usr/local/bin/bpfspy and its man page
#   make fresh-check  make demo + make test in a debootstrap'd Debian 12 with only make and git

SHELL := /bin/bash
.DEFAULT_GOAL := all

BUILD ?= build
PREFIX ?= /usr/local
CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool
PYTHON_TEST ?= /usr/bin/python3
SHARED ?= $(abspath ../shared)
EXTRAS ?= /opt/bpfspy-extras

# Sanitizer builds: make SAN=1 BUILD=build-asan ...
SAN ?=
SAN_FLAGS :=
ifneq ($(SAN),)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

WARN := -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS ?= -O2 -g
CFLAGS += $(WARN) -std=gnu11 -D_GNU_SOURCE -Iinclude -Iuser -I$(BUILD) $(SAN_FLAGS)
LDFLAGS += $(SAN_FLAGS)
LDLIBS := -lbpf -lelf -lz -llzma -lcjson -liberty -lm

ARCH := x86
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Iinclude -I$(BUILD) -Wall -Wno-unused-function

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
BPF_HDRS := $(wildcard bpf/*.h) $(wildcard include/*.h)

USER_SRCS := $(wildcard user/*.c user/*/*.c)
USER_LIB_SRCS := $(filter-out user/cmd/main.c user/sampler/kernel_identity_print.c,$(USER_SRCS))
USER_HDRS := $(wildcard user/*.h user/*/*.h include/*.h)
USER_LIB_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(USER_LIB_SRCS)) $(BUILD)/obj/user/sampler/kernel_btf_min.o
LIBBPFSPY := $(BUILD)/libbpfspy.a

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
TEST_HELPER_SRCS := $(wildcard tests/unit/helpers/*.c)

.SECONDARY: $(BPF_OBJS)
.PHONY: all deps check-deps test unit integration demo e2e install clean test-asan bench bench-quick fuzz fuzz-smoke check-root
all: $(BUILD)/bpfspy tools

# ---- dependencies --------------------------------------------------------

DEB_PACKAGES := libbpf-dev libelf-dev zlib1g-dev liblzma-dev xz-utils binutils libcjson-dev libcmocka-dev clang llvm bpftool \
	libiberty-dev python3-pytest python3-numpy python3-astropy tmux jq libcap2-bin nodejs chromium \
	linux-perf valgrind libclang-rt-14-dev golang-go gdb protobuf-compiler python3-pytest-xdist strace \
	sudo patchelf python3-matplotlib
# Node.js 20 or newer for playwright-core; Debian 12's own is 18, so an older one gets node@20 from
# the npm registry under $(DEPS_DIR)/node (the tests put its bin/ first on PATH).
DEPS_DIR ?= $(abspath .deps)
NODE_BIN_DIR := $(DEPS_DIR)/node/node_modules/.bin

# Says what it installs and stops at the first failure: a half-installed machine fails here, with apt's
# own message, not later in a test.
deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "make deps: installing Debian packages:" $$missing; \
		if [ "$$(id -u)" != 0 ]; then echo "make deps: must run as root to install packages (try sudo make deps)" >&2; exit 1; fi; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing \
			|| { echo "make deps: apt-get install failed (see above)" >&2; exit 1; }; \
	else echo "make deps: Debian packages present"; fi
	@# nodesource's nodejs bundles npm (and conflicts with Debian's npm package)
	@command -v npm >/dev/null || { echo "make deps: installing npm"; apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm; } \
		|| { echo "make deps: cannot install npm" >&2; exit 1; }
	@major=$$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0); \
	if [ "$$major" -lt 20 ] && [ ! -x $(NODE_BIN_DIR)/node ]; then \
		echo "make deps: Node.js $$major is older than 20: installing node@20 from npm into $(DEPS_DIR)/node"; \
		mkdir -p $(DEPS_DIR)/node && npm install --no-audit --no-fund --prefix $(DEPS_DIR)/node node@20 \
			|| { echo "make deps: npm install node@20 failed" >&2; exit 1; }; \
	fi
	@$(MAKE) --no-print-directory e2e-outputs-deps
	@if [ ! -x $(EXTRAS)/root/usr/bin/python3.15 ]; then \
		echo "make deps: installing CPython 3.14/3.15, Austin and Tachyon from Debian unstable under $(EXTRAS)"; \
		scripts/install-sid-extras $(EXTRAS) || { echo "make deps: scripts/install-sid-extras failed (see above)" >&2; exit 1; }; \
	else echo "make deps: CPython 3.14/3.15 present under $(EXTRAS)"; fi

# ---- BPF -----------------------------------------------------------------

# vmlinux.h is generated from the build machine's BTF, not committed: the BPF
# programs use it only for CO-RE-relocated types (libbpf fixes the offsets for
# the running kernel at load), every machine bpfspy builds on has BTF (it is
# required to run: CO-RE, the sched_switch hook), and one file per architecture would be
# ~3 MB of generated text to keep current by hand.
$(BUILD)/vmlinux.h:
	@mkdir -p $(BUILD)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.$$$$.tmp && mv $@.$$$$.tmp $@

# temp files are per process so concurrent makes never read half-written objects
$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) $(BUILD)/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@.$$$$.tmp.o && \
	$(BPFTOOL) gen object $@.$$$$.o $@.$$$$.tmp.o && rm -f $@.$$$$.tmp.o && mv $@.$$$$.o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@.$$$$.tmp && mv $@.$$$$.tmp $@

# The kernel types sampler.bpf.o uses, cut from this machine's BTF, and which
# kernel they fit (user/sampler/kernel_btf.h, written by the same code that
# checks it at start: user/sampler/kernel_identity.c): on this kernel libbpf
# relocates against them instead of parsing the whole BTF at every start.
# Without a BTF to cut (or a bpftool that cannot), both are empty and bpfspy
# parses the running kernel's BTF as before.
KERNEL_BTF := /sys/kernel/btf/vmlinux
KERNEL_BTF_IDENTITY := $(BUILD)/kernel-btf-identity
$(KERNEL_BTF_IDENTITY): $(BUILD)/obj/user/sampler/kernel_identity_print.o $(BUILD)/obj/user/sampler/kernel_identity.o
	$(CC) $(LDFLAGS) -o $@ $^
$(BUILD)/sampler.min.btf: $(BUILD)/sampler.bpf.o $(KERNEL_BTF_IDENTITY)
	@rm -f $@.kernel
	@if $(BPFTOOL) gen min_core_btf $(KERNEL_BTF) $@.$$$$.tmp $< 2>/dev/null && \
	    $(KERNEL_BTF_IDENTITY) > $@.kernel.$$$$.tmp; then \
		mv $@.kernel.$$$$.tmp $@.kernel && mv $@.$$$$.tmp $@; \
	else \
		echo "note: no minimal kernel BTF embedded (bpftool gen min_core_btf failed): every start parses the kernel's BTF"; \
		rm -f $@.$$$$.tmp $@.kernel.$$$$.tmp; : > $@.kernel; : > $@; \
	fi
$(BUILD)/sampler.min.btf.kernel: $(BUILD)/sampler.min.btf

# ---- user space ----------------------------------------------------------

# -MMD -MP: each object depends on the headers it includes, so touching a
# header rebuilds only what includes it.
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/user/sampler/kernel_btf_min.o: user/sampler/kernel_btf_min.S $(BUILD)/sampler.min.btf $(BUILD)/sampler.min.btf.kernel
	@mkdir -p $(dir $@)
	$(CC) $(SAN_FLAGS) -DKERNEL_BTF_MIN='"$(BUILD)/sampler.min.btf"' \
		-DKERNEL_BTF_MIN_KERNEL='"$(BUILD)/sampler.min.btf.kernel"' -c $< -o $@

-include $(filter-out %/kernel_btf_min.d,$(USER_LIB_OBJS:.o=.d)) $(BUILD)/obj/user/cmd/main.d $(BUILD)/obj/user/sampler/kernel_identity_print.d

# only the sampler and dump's thread iterator include the generated skeletons
$(BUILD)/obj/user/sampler/sampler.o $(BUILD)/obj/user/dump/dump_fsbase.o: $(SKELS)

$(LIBBPFSPY): $(USER_LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/bpfspy: $(BUILD)/obj/user/cmd/main.o $(LIBBPFSPY)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---- tools ---------------------------------------------------------------

-include tools/tools.mk
tools:: ;

# ---- tests ---------------------------------------------------------------

# the C tests' interpreter table, from the manifest the Python tests read too
PY_TEST_INTERPS_H := $(BUILD)/tests/py_test_interps.h
$(PY_TEST_INTERPS_H): tests/interpreters.tsv tests/unit/py/interpreters_h.awk
	@mkdir -p $(dir $@)
	awk -f tests/unit/py/interpreters_h.awk $< > $@.tmp && mv $@.tmp $@

# Test sources compile like the product's (-MMD): touching a header rebuilds the tests that include it.
TEST_HELPER_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(TEST_HELPER_SRCS))
$(BUILD)/obj/tests/unit/%.o: CFLAGS += -Itests/unit
UNIT_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(UNIT_SRCS))
$(UNIT_OBJS) $(TEST_HELPER_OBJS): | $(PY_TEST_INTERPS_H)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TEST_HELPER_OBJS) $(LIBBPFSPY)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS) $(LDLIBS) -lcmocka

-include $(patsubst tests/unit/%.c,$(BUILD)/obj/tests/unit/%.d,$(UNIT_SRCS) $(TEST_HELPER_SRCS))

unit: $(UNIT_BINS) tools
	@fail=0; for t in $(UNIT_BINS); do echo "== $$t"; (cd tests/unit && ../../$$t) || fail=1; done; \
	$(MAKE) --no-print-directory tools-unit || fail=1; exit $$fail

tools-unit:: ;

# tests run the node that make deps chose (a local node@20 on Debian 12's own 18)
TEST_PATH := $(if $(wildcard $(NODE_BIN_DIR)/node),$(NODE_BIN_DIR):)$(PATH)

integration: $(BUILD)/bpfspy tools e2e-outputs-deps
	PATH="$(TEST_PATH)" BPFSPY=$(abspath $(BUILD)/bpfspy) BPFSPY_BUILD=$(abspath $(BUILD)) SHARED=$(SHARED) EXTRAS=$(EXTRAS) \
		$(PYTHON_TEST) -m pytest -q -p no:cacheprovider tests/integration $(PYTEST_ARGS)

# make test installs nothing: it only says what make deps would install.
check-deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then echo "make test: missing Debian packages:" $$missing "(run make deps first)" >&2; exit 1; fi

test: check-deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) fuzz-smoke
	$(MAKE) integration

# Under ASan the integration matrices run one CPython per frame layout and
# symbol source (object frames; stripped cframe; shim; debug offsets; newest):
# the interpreter decides which Python walker paths run, not which C does.
ASAN_PYTHONS ?= pyenv-3.8,debian-3.11,pyenv-3.12,3.14,3.15

test-asan:
	BPFSPY_TEST_PYTHONS=$(ASAN_PYTHONS) $(MAKE) SAN=1 BUILD=build-asan all unit integration

-include tests/fuzz/fuzz.mk
fuzz-smoke:: ;
fuzz:: ;

e2e: $(BUILD)/bpfspy e2e-outputs-deps
	BPFSPY=$(abspath $(BUILD)/bpfspy) SHARED=$(SHARED) $(PYTHON_TEST) -m pytest -q -p no:cacheprovider -m e2e tests/integration

# ---- demo ----------------------------------------------------------------

demo: deps
	$(MAKE) all
	@echo "== profiling: python3 -m pytest --collect-only examples/pytest-startup"
	$(BUILD)/bpfspy record -o demo.speedscope.json -- $(PYTHON_TEST) -m pytest --collect-only -q -p no:cacheprovider examples/pytest-startup
	@echo
	@echo "Wrote demo.speedscope.json. Open it at https://www.speedscope.app (drag the file in),"
	@echo "or summarise it:  tools/speedscope_top_packages demo.speedscope.json -p numpy astropy _pytest"

# the README's quick start on a bare Debian 12 (a chroot on this kernel), from a clone of HEAD alone
.PHONY: fresh-check
fresh-check:
	scripts/fresh-check

# ---- install -------------------------------------------------------------

install: $(BUILD)/bpfspy $(STP_BIN)
	install -D -m 0755 $(BUILD)/bpfspy $(DESTDIR)$(PREFIX)/bin/bpfspy
	install -D -m 0644 docs/bpfspy.1 $(DESTDIR)$(PREFIX)/share/man/man1/bpfspy.1
	install -D -m 0755 $(STP_BIN) $(DESTDIR)$(PREFIX)/bin/speedscope_top_packages

clean:
	rm -rf build build-asan build-fuzz
	@$(MAKE) --no-print-directory tools-clean

tools-clean:: ;

# Feature fragments (bench, reliability, ...) add their own targets here.
-include $(wildcard mk/*.mk)
