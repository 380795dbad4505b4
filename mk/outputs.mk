# Flame graph / pprof / convert end-to-end checks (tests/integration/test_outputs.py).
#   make e2e-outputs   npm deps for tests/e2e, then the browser test; writes $(BUILD)/e2e/flamegraph.png

.PHONY: e2e-outputs e2e-outputs-deps

E2E_OUTPUTS_DIR := tests/e2e

$(E2E_OUTPUTS_DIR)/node_modules/.package-lock.json: $(E2E_OUTPUTS_DIR)/package.json
	cd $(E2E_OUTPUTS_DIR) && npm ci --no-audit --no-fund
	@touch $@

# the speedscope app itself, for tests/e2e/speedscope-check
SPEEDSCOPE_CHECK_DIR := $(E2E_OUTPUTS_DIR)/speedscope-check

$(SPEEDSCOPE_CHECK_DIR)/node_modules/.package-lock.json: $(SPEEDSCOPE_CHECK_DIR)/package.json $(SPEEDSCOPE_CHECK_DIR)/package-lock.json
	cd $(SPEEDSCOPE_CHECK_DIR) && npm ci --no-audit --no-fund
	@touch $@

e2e-outputs-deps: $(E2E_OUTPUTS_DIR)/node_modules/.package-lock.json $(SPEEDSCOPE_CHECK_DIR)/node_modules/.package-lock.json

e2e-outputs: $(BUILD)/bpfspy e2e-outputs-deps
	@mkdir -p $(BUILD)/e2e
	BPFSPY=$(abspath $(BUILD)/bpfspy) SHARED=$(SHARED) BPFSPY_E2E_PNG=$(abspath $(BUILD)/e2e/flamegraph.png) \
		$(PYTHON_TEST) -m pytest -q -p no:cacheprovider -m e2e tests/integration/test_outputs.py
	@echo "e2e-outputs: screenshot in $(BUILD)/e2e/flamegraph.png"
