# sanitizer.mk -- standalone targets of the TypeScript sanitizer.
#
# Included by the PGXS Makefile (the extension objects src/ts_sanitizer.o and
# src/sanitizer_sql.o are in its OBJS); also usable on its own:
#	make -f sanitizer.mk sanitizer-check
#
# The programs here are built with plain $(SANITIZER_CC), not PGXS flags:
#	tools/ts_sanitize		command-line driver (stdin -> stdout, changes on stderr)
#	test/sanitizer/unit		TAP unit test of the core
#	test/sanitizer/corpus_unit	TAP: the fuzz corpus through the fuzz properties
#	fuzz/fuzz_sanitizer		libFuzzer harness (clang, ASan + UBSan)
# Phony targets:
#	sanitizer-check			all sanitizer tests under prove (needs npm + node
#							for the corpus and TypeScript-parser checks)
#	sanitizer-fuzz			run the fuzzer for SANITIZER_FUZZ_SECONDS (300) as .ts,
#							then as much as .tsx (SANITIZER_FUZZ_KIND=tsx)
#	sanitizer-bench			C core vs the notes' regex sanitizer
#	sanitizer-clean

# Keep whatever goal the including Makefile has as its default.
SANITIZER_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

SANITIZER_CC ?= cc
SANITIZER_CFLAGS ?= -O2 -g -Wall -Wextra $(WERROR) -std=c99
SANITIZER_FUZZ_CC ?= clang
SANITIZER_FUZZ_CFLAGS ?= -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -Wall -Wextra $(WERROR) -std=c99
SANITIZER_FUZZ_SECONDS ?= 300
SANITIZER_PROVE ?= prove

SANITIZER_CORE = src/ts_sanitizer.c src/ts_sanitizer.h
SANITIZER_PROPERTIES = fuzz/sanitizer_properties.c fuzz/sanitizer_properties.h
SANITIZER_PROGRAMS = tools/ts_sanitize test/sanitizer/unit test/sanitizer/corpus_unit
SANITIZER_CLEAN = $(SANITIZER_PROGRAMS) fuzz/fuzz_sanitizer
# PGXS's `make clean` removes them too (harmless when used on its own).
EXTRA_CLEAN += $(SANITIZER_CLEAN)

tools/ts_sanitize: tools/ts_sanitize.c $(SANITIZER_CORE)
	$(SANITIZER_CC) $(SANITIZER_CFLAGS) -o $@ tools/ts_sanitize.c src/ts_sanitizer.c

test/sanitizer/unit: test/sanitizer/unit.c test/unit/tap.h $(SANITIZER_CORE) $(SANITIZER_PROPERTIES)
	$(SANITIZER_CC) $(SANITIZER_CFLAGS) -o $@ test/sanitizer/unit.c \
		fuzz/sanitizer_properties.c src/ts_sanitizer.c

test/sanitizer/corpus_unit: test/sanitizer/corpus_unit.c test/unit/tap.h $(SANITIZER_CORE) $(SANITIZER_PROPERTIES)
	$(SANITIZER_CC) $(SANITIZER_CFLAGS) -o $@ test/sanitizer/corpus_unit.c \
		fuzz/sanitizer_properties.c src/ts_sanitizer.c

fuzz/fuzz_sanitizer: fuzz/fuzz_sanitizer.c $(SANITIZER_CORE) $(SANITIZER_PROPERTIES)
	$(SANITIZER_FUZZ_CC) $(SANITIZER_FUZZ_CFLAGS) -o $@ fuzz/fuzz_sanitizer.c \
		fuzz/sanitizer_properties.c src/ts_sanitizer.c

.PHONY: sanitizer-programs sanitizer-check sanitizer-fuzz sanitizer-bench sanitizer-clean

sanitizer-programs: $(SANITIZER_PROGRAMS)

sanitizer-check: sanitizer-programs
	$(SANITIZER_PROVE) test/sanitizer/*.t

# New inputs the fuzzer finds go to fuzz/work-ts and fuzz/work-tsx (not
# committed); minimize interesting ones into fuzz/corpus by hand.  Each
# campaign's last line ("Done N runs in S second(s)") gives its executions.
sanitizer-fuzz: fuzz/fuzz_sanitizer
	mkdir -p fuzz/work-ts fuzz/work-tsx
	SANITIZER_FUZZ_KIND=ts fuzz/fuzz_sanitizer -max_total_time=$(SANITIZER_FUZZ_SECONDS) \
		-dict=fuzz/typescript.dict -artifact_prefix=fuzz/work-ts/ fuzz/work-ts fuzz/corpus
	SANITIZER_FUZZ_KIND=tsx fuzz/fuzz_sanitizer -max_total_time=$(SANITIZER_FUZZ_SECONDS) \
		-dict=fuzz/typescript.dict -artifact_prefix=fuzz/work-tsx/ fuzz/work-tsx fuzz/corpus

sanitizer-bench: tools/ts_sanitize
	sh bench/sanitizer/run.sh

sanitizer-clean:
	rm -f $(SANITIZER_CLEAN)
	rm -rf fuzz/work fuzz/work-ts fuzz/work-tsx

.DEFAULT_GOAL := $(SANITIZER_SAVED_DEFAULT_GOAL)
