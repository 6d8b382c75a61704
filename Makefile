# clusterd: the two commands a user needs are `make demo` and `make test`.
# Both install missing Debian packages first (scripts/install-deps.sh).
.PHONY: all build deps demo test unit asan fuzz valgrind bench lint format clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	$(MAKE) -C c_src

asan: deps
	$(MAKE) -C c_src MODE=asan

unit: build
	$(MAKE) -C c_src unit
	@bash test/run-unit.sh build/release/unit

demo: build
	@bash scripts/demo.sh

# Every test: unit tests (plain and sanitized), integration tests against real
# epmd and BEAM nodes with the release binary, then again with the ASan+UBSan one.
test: build asan
	@bash test/run-all.sh

bench: build
	@bash bench/run.sh

# The integration suite with priv/clusterd under valgrind's memcheck
# (test/valgrind-clusterd.sh): an error or a definite leak fails the test.
# Slow, so not part of `make test`; VALGRIND_TESTS picks files by name as
# test/run-integration.sh does (default: all).
valgrind: build
	CLUSTERD_BIN=test/valgrind-clusterd.sh bash test/run-integration.sh $(VALGRIND_TESTS)

# Each fuzz target for 10 minutes (FUZZ_SECONDS overrides); make test runs them for seconds.
fuzz: deps
	$(MAKE) -C fuzz fuzz-long

# The C files clang-format keeps in the repo's style.
FORMAT_FILES := c_src/*.c c_src/*.h c_src/discovery/*.c c_src/discovery/*.h test/unit/*.c \
  test/unit/support/*.c test/unit/support/*.h fuzz/*.c

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem -I c_src c_src test/unit/support
	clang-format --dry-run --Werror $(FORMAT_FILES)
	scripts/check-clocks.sh

format:
	clang-format -i $(FORMAT_FILES)

clean:
	$(MAKE) -C c_src clean
