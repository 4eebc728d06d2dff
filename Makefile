# Thin wrapper around meson so that the README's commands are `make demo` and `make check`.
# Every target installs what it needs first (scripts/install-deps, apt-get, only what is missing).
BUILD ?= build
MESON_SETUP_OPTS ?= -Dwerror=true
PYTHON ?= /usr/bin/python3
PYTEST_OPTS ?=

.PHONY: all deps test-deps build demo check check-unit check-cli clean bench fuzz

all: build

deps:
	@scripts/install-deps build

test-deps:
	@scripts/install-deps test

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_SETUP_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

demo: deps $(BUILD)/build.ninja
	@ninja -C $(BUILD) >/dev/null
	@examples/demo.sh $(BUILD)/vmpull

check: test-deps $(BUILD)/build.ninja
	ninja -C $(BUILD)
	meson test -C $(BUILD) --print-errorlogs
	VMPULL_BIN=$(CURDIR)/$(BUILD)/vmpull $(PYTHON) -m pytest -q -ra tests $(PYTEST_OPTS)

check-unit: test-deps $(BUILD)/build.ninja
	ninja -C $(BUILD)
	meson test -C $(BUILD) --print-errorlogs

check-cli: test-deps $(BUILD)/build.ninja
	ninja -C $(BUILD)
	VMPULL_BIN=$(CURDIR)/$(BUILD)/vmpull $(PYTHON) -m pytest -q -ra tests $(PYTEST_OPTS)

clean:
	rm -rf $(BUILD)
