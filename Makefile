# Thin wrapper around meson so that the README's commands are `make demo` and `make check`.
# Every target installs what it needs first (scripts/install-deps, apt-get, only what is missing).
BUILD ?= build
MESON_SETUP_OPTS ?= -Dwerror=true
PYTHON ?= /usr/bin/python3
PYTEST_OPTS ?=

.PHONY: all deps test-deps build demo check abi-check abi-dump deb deb-check check-unit check-cli clean bench fuzz fuzz-ci check-asan check-valgrind windows windows-test windows-check dist-windows

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
	scripts/check-style
	ninja -C $(BUILD)
	meson test -C $(BUILD) --print-errorlogs
	scripts/abi check $(BUILD)
	VMPULL_BIN=$(CURDIR)/$(BUILD)/vmpull $(PYTHON) -m pytest -q -ra tests $(PYTEST_OPTS)

# libvmpull's exported ABI against the committed abi/libvmpull.abi (abidiff; part of `make check`).
# After a deliberate ABI change (an addition), `make abi-dump` and commit the new dump with it.
abi-check: test-deps $(BUILD)/build.ninja
	ninja -C $(BUILD)
	scripts/abi check $(BUILD)

abi-dump: test-deps $(BUILD)/build.ninja
	ninja -C $(BUILD)
	scripts/abi dump $(BUILD)

# Debian packages (vmpull, libvmpull0, libvmpull-dev) built from a copy of the tree in $(DEB_BUILD)/,
# where the .deb files land; deb-check unpacks them into a temporary root and runs the installed
# tool and examples/embed.c against the installed library.
DEB_BUILD ?= build-deb

deb:
	@scripts/install-deps build deb
	scripts/deb build $(DEB_BUILD)

deb-check: deb
	scripts/deb check $(DEB_BUILD)

check-unit: test-deps $(BUILD)/build.ninja
	ninja -C $(BUILD)
	meson test -C $(BUILD) --print-errorlogs

check-cli: test-deps $(BUILD)/build.ninja
	ninja -C $(BUILD)
	VMPULL_BIN=$(CURDIR)/$(BUILD)/vmpull $(PYTHON) -m pytest -q -ra tests $(PYTEST_OPTS)

# The whole suite again on an ASan+UBSan build: any report fails (the CLI tests look for one in
# vmpull's stderr even when vmpull is expected to fail; see tests/conftest.py).
ASAN_BUILD ?= build-asan
SANITIZER_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1

# No -Werror here: gcc's sanitizer instrumentation makes -Wformat-truncation see NULLs that are not
# there. The plain build keeps -Werror.
$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false

check-asan: test-deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	$(SANITIZER_ENV) meson test -C $(ASAN_BUILD) --print-errorlogs --timeout-multiplier 3
	$(SANITIZER_ENV) VMPULL_BIN=$(CURDIR)/$(ASAN_BUILD)/vmpull $(PYTHON) -m pytest -q -ra tests $(PYTEST_OPTS)

# The C unit tests under valgrind's memcheck (about 1.5 minutes; in .ci/run; see README).
check-valgrind: test-deps $(BUILD)/build.ninja
	@scripts/install-deps fuzz
	ninja -C $(BUILD)
	meson test -C $(BUILD) --print-errorlogs --timeout-multiplier 20 \
	  --wrapper 'valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect --track-origins=yes --child-silent-after-fork=yes'

# libFuzzer targets (fuzz/README.md): `make fuzz` runs each for FUZZ_SECONDS; `make fuzz-ci`
# replays each target's seeds, then fuzzes each for FUZZ_CI_SECONDS.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_CI_SECONDS ?= 30

$(FUZZ_BUILD)/build.ninja:
	@scripts/install-deps build fuzz
	CC=clang CXX=clang++ meson setup $(FUZZ_BUILD) -Dfuzz=true -Dtests=false -Dexamples=false

fuzz: $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	fuzz/run.sh $(FUZZ_BUILD)/fuzz fuzz $(FUZZ_SECONDS)

fuzz-ci: $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	fuzz/run.sh $(FUZZ_BUILD)/fuzz ci $(FUZZ_CI_SECONDS)

# Benchmarks against the peer tools (bench/bench.py); a release build of its own, images cached in bench/work/.
BENCH_BUILD ?= build-bench
BENCH_OPTS ?=
bench:
	@scripts/install-deps bench
	[ -f $(BENCH_BUILD)/build.ninja ] || meson setup $(BENCH_BUILD) --buildtype=release -Dtests=false -Dexamples=false $(MESON_SETUP_OPTS)
	ninja -C $(BENCH_BUILD)
	bench/make-images.sh
	VMPULL_BIN=$(CURDIR)/$(BENCH_BUILD)/vmpull $(PYTHON) bench/bench.py $(BENCH_OPTS)

# The Windows cross-build (README, Windows): the dependencies Debian has no mingw package for are
# built once from Debian 12's source packages into $(WIN_BUILD)/deps/prefix (scripts/build-windows-deps),
# then vmpull with cross/x86_64-w64-mingw32.txt. Not part of `make check` (it needs the dependency prefix,
# about 12 minutes the first time): .ci/run runs `make windows-check` after it.
WIN_BUILD ?= build-win
WIN_JOBS ?= 2

$(WIN_BUILD)/deps/cross.ini:
	@scripts/install-deps windows
	JOBS=$(WIN_JOBS) nice -n 10 scripts/build-windows-deps $(WIN_BUILD)/deps

$(WIN_BUILD)/build.ninja: $(WIN_BUILD)/deps/cross.ini
	meson setup --cross-file cross/x86_64-w64-mingw32.txt --cross-file $(WIN_BUILD)/deps/cross.ini $(WIN_BUILD)

windows: $(WIN_BUILD)/build.ninja
	@scripts/install-deps windows
	JOBS=$(WIN_JOBS) nice -n 10 scripts/build-windows-deps $(WIN_BUILD)/deps
	nice -n 10 ninja -C $(WIN_BUILD) -j $(WIN_JOBS) meson-test-prereq

# Every C unit test (meson's suite 'unit') under wine, in a wine prefix of its own in $(WIN_BUILD); the
# DLLs from the dependency prefix and mingw's runtime.
WIN_DLL_PATH = $(CURDIR)/$(WIN_BUILD)/deps/prefix/bin;/usr/x86_64-w64-mingw32/bin;/usr/x86_64-w64-mingw32/lib;/usr/lib/gcc/x86_64-w64-mingw32/12-posix
windows-test: $(WIN_BUILD)/build.ninja
	nice -n 10 ninja -C $(WIN_BUILD) -j $(WIN_JOBS) meson-test-prereq
	WINEPREFIX=$(CURDIR)/$(WIN_BUILD)/wine WINEDEBUG=-all WINEPATH='$(WIN_DLL_PATH)' \
	  meson test -C $(WIN_BUILD) --no-rebuild --print-errorlogs --suite unit

# The Windows package (scripts/dist-windows): $(WIN_BUILD)/vmpull-VERSION-windows-x86_64.zip with
# vmpull.exe, the DLLs its import tables name (recursively) and the licences.
dist-windows: windows
	nice -n 10 ninja -C $(WIN_BUILD) -j $(WIN_JOBS) vmpull.exe
	scripts/dist-windows $(WIN_BUILD) $(WIN_BUILD)/deps $(WIN_BUILD)

# The whole Windows check (in .ci/run): the dependencies (reused when built), the cross-build, the
# unit tests under wine, the package (its vmpull.exe run from an empty folder), then the CLI subset
# under wine (tests/cli/test_windows.py) against the Linux build's results; there a missing
# vmpull.exe fails rather than skips.
windows-check: test-deps build dist-windows
	$(MAKE) windows-test
	scripts/dist-windows --check $(wildcard $(WIN_BUILD)/vmpull-*-windows-x86_64.zip)
	VMPULL_WIN_REQUIRED=1 VMPULL_BIN=$(CURDIR)/$(BUILD)/vmpull VMPULL_WIN_BUILD=$(CURDIR)/$(WIN_BUILD) \
	  $(PYTHON) -m pytest -q -ra tests/cli/test_windows.py $(PYTEST_OPTS)

clean:
	rm -rf $(BUILD) $(DEB_BUILD)
