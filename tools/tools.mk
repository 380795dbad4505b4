# Tools shipped next to bpfspy. Included by the top-level Makefile, which
# defines CC, BUILD, SHARED and the tools/tools-unit/tools-clean hooks.
#
# It is built under $(BUILD) like everything else, so `make SAN=1
# BUILD=build-asan` tests a sanitized tool; the release build also puts it
# where the README runs it, tools/speedscope_top_packages (hence its sources
# in tools/speedscope_top_packages_src/: a file and a directory cannot share
# a path).

STP_DIR := tools/speedscope_top_packages_src
STP_BIN := $(BUILD)/tools/speedscope_top_packages
STP_USER_BIN := tools/speedscope_top_packages
# Everything but main.c: shared with the unit tests and the fuzz harness.
STP_LIB_SRCS := $(filter-out $(STP_DIR)/main.c,$(wildcard $(STP_DIR)/*.c))
STP_HDRS := $(wildcard $(STP_DIR)/*.h)
STP_CFLAGS := -O2 -g -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE $(SAN_FLAGS)
STP_LDLIBS := -lcjson -lm

# The tool never needs privileges: under sudo it drops to the invoking user
# with bpfspy's own helper.
# It reads files with bpfspy convert's speedscope reader (user/output/speedscope_doc.c).
STP_SHARED_SRCS := user/util/invoking_user.c user/output/speedscope_doc.c user/output/json_scan.c user/util/utf8.c \
	user/util/hash_map.c user/util/id_table.c user/util/array.c
$(STP_BIN): $(STP_DIR)/main.c $(STP_LIB_SRCS) $(STP_HDRS) $(STP_SHARED_SRCS) $(STP_SHARED_SRCS:.c=.h)
	@mkdir -p $(dir $@)
	$(CC) $(STP_CFLAGS) -Iuser -o $@ $(STP_DIR)/main.c $(STP_LIB_SRCS) $(STP_SHARED_SRCS) $(LDFLAGS) $(STP_LDLIBS)

$(STP_USER_BIN): $(STP_BIN)
	cp $< $@.tmp && mv $@.tmp $@

tools:: $(STP_BIN) $(if $(SAN),,$(STP_USER_BIN))

STP_TEST_BIN := $(BUILD)/tests/test_speedscope_top_packages
# The test links the library part without main.c, so only the shared sources it calls.
STP_TEST_SHARED_SRCS := $(filter-out user/util/invoking_user.c,$(STP_SHARED_SRCS))
$(STP_TEST_BIN): tests/tools/test_speedscope_top_packages.c $(STP_LIB_SRCS) $(STP_HDRS) $(STP_TEST_SHARED_SRCS)
	@mkdir -p $(dir $@)
	$(CC) $(STP_CFLAGS) -I$(STP_DIR) -Iuser -o $@ $< $(STP_LIB_SRCS) $(STP_TEST_SHARED_SRCS) $(LDFLAGS) $(STP_LDLIBS) -lcmocka

# The test runs from the repo root; fixtures come from $(SHARED).
tools-unit:: $(STP_BIN) $(STP_TEST_BIN)
	SHARED=$(SHARED) STP_BIN=$(abspath $(STP_BIN)) $(STP_TEST_BIN)

tools-clean::
	rm -f $(STP_USER_BIN)
