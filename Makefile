# Thin wrapper around CMake. `make demo` and `make test` install what is missing (Debian 12, as root).
JOBS ?= $(shell nproc)
MAKEFLAGS += --no-print-directory
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 20
CTEST_ARGS ?=
PREFIX ?= /usr/local

.PHONY: all deps deps-test build asan fuzz test test-unit test-asan test-fuzz demo bench install package clean

all: build

deps:
	@bash .ci/install-deps.sh build

deps-test:
	@bash .ci/install-deps.sh test

# run --mpi: AUTO builds it when Open MPI's headers are there; the test builds require it (deps-test installs it).
MPI ?= AUTO
test-unit test-asan asan: MPI = ON

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCH_HAVE_MPI=$(MPI) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

asan: deps-test
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCH_SANITIZE=ON -DCMAKE_C_COMPILER=clang \
	  -DCH_HAVE_MPI=$(MPI) >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

fuzz: deps-test
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCH_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCH_HAVE_MPI=OFF >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers

test-unit: deps-test build
	@cd $(BUILD) && ctest --output-on-failure --no-tests=error $(CTEST_ARGS)

test-asan: asan
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure --no-tests=error $(CTEST_ARGS)

test-fuzz: fuzz
	@bash tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# Everything CI runs: the suite in a normal build, again under ASan+UBSan, then a short bounded fuzz run.
test: test-unit test-asan test-fuzz
	@echo "make test: all suites passed"

demo: build
	@./$(BUILD)/centro-harness run scenarios/smoke.json

bench: build
	@bash tests/bench/install-peers.sh || echo "bench: peer tools not installed; their rows will say so"
	@bash tests/bench/run.sh $(BUILD)

# Installs the binary, shipped scenarios, man pages and completions under PREFIX (DESTDIR=/stage honoured).
install: build
	@DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix $(PREFIX)

# Debian package of the build (cmake/Packaging.cmake): $(BUILD)/centro-harness_VERSION-1_ARCH.deb; the build is reused.
package: build
	@cmake --build $(BUILD) --target package

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
