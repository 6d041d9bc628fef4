/*
 * fuzz_sanitizer.c
 *		libFuzzer harness for the TypeScript sanitizer core.
 *
 * Build (see sanitizer.mk, target fuzz/fuzz_sanitizer):
 *	 clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *		 fuzz/fuzz_sanitizer.c fuzz/sanitizer_properties.c src/ts_sanitizer.c
 * Run:
 *	 fuzz/fuzz_sanitizer -max_total_time=300 -dict=fuzz/typescript.dict \
 *		 fuzz/work fuzz/corpus
 *
 * SANITIZER_FUZZ_KIND=tsx in the environment lexes every input as .tsx
 * (JSX understood), anything else or nothing as .ts; `make sanitizer-fuzz`
 * runs one campaign per kind over the same corpus.
 *
 * AddressSanitizer catches reads and writes outside the buffers (libFuzzer
 * hands over an exact-size heap copy of each input); the property checks
 * (sanitizer_properties.c) abort on any other finding.
 */
#include "sanitizer_properties.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	kind = -1;		/* -1: not looked up yet */
	const char *failure;

	if (kind < 0)
	{
		const char *env = getenv("SANITIZER_FUZZ_KIND");

		kind = (env != NULL && strcmp(env, "tsx") == 0) ? TS_SOURCE_TSX : TS_SOURCE_TS;
	}
	failure = sanitizer_check_properties(data, size, (ts_source_kind) kind);

	if (failure != NULL)
	{
		fprintf(stderr, "sanitizer property violated (%s): %s\n",
				kind == TS_SOURCE_TSX ? "tsx" : "ts", failure);
		abort();
	}
	return 0;
}
