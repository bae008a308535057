# Converge: the commands a user and CI type. Each installs what it needs first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
JOBS       ?= $(shell nproc)
PREFIX     ?= /usr/local
CMAKE_GEN  := -G Ninja

.PHONY: deps build test sanitize fuzz bench soak run install clean

deps:
	@./.ci/deps.sh

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Packages only the tests need, on top of deps: headless Chromium renders
# the HTTP status page (tests/system/status_page_test.sh).
TEST_PKGS := chromium

test: build
	@./.ci/deps.sh $(TEST_PKGS)
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

sanitize: deps
	@./.ci/deps.sh $(TEST_PKGS)
	@cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCONVERGE_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

# libFuzzer targets (clang, ASan, UBSan), each run FUZZ_SECONDS on a scratch
# copy of its corpus; fails on a crash (.ci/fuzz.sh). Builds only the targets.
FUZZ_TARGETS := resp_parser_fuzz frame_fuzz handshake_fuzz storage_fuzz
fuzz:
	@./.ci/deps.sh clang libclang-rt-dev
	@CXX=clang++ cmake -S . -B $(FUZZ_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCONVERGE_FUZZ=ON -DCONVERGE_BENCH=OFF >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(FUZZ_TARGETS)
	./.ci/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# The nemesis suite on random seeds: SOAK_MINUTES (default 30), report in SOAK_REPORT.
SOAK_MINUTES ?= 30
SOAK_REPORT  ?= soak-report.txt
soak: build
	./tests/nemesis/soak.sh $(BUILD) $(SOAK_MINUTES) $(SOAK_REPORT)

# Packages only the benchmarks need: the systems issue 8 compares against,
# gnuplot for bench/results.png, strace to count WAL syncs. BENCH_QUICK=1 is
# a short smoke run; the default is the full parameters (about 30 minutes).
BENCH_PKGS := redis-server redis-tools etcd-server etcd-client gnuplot-nox strace

bench: build
	@./.ci/deps.sh $(BENCH_PKGS)
	./bench/run.sh $(BUILD)

# The `converge` executable, the embedding headers and libraries, and the CMake
# package (find_package(converge) -> converge::node); docs/embedding.md.
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

run: build
	./$(BUILD)/converge cluster up --nodes 3

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
