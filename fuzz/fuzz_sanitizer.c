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
 * AddressSanitizer catches reads and writes outside the buffers (libFuzzer
 * hands over an exact-size heap copy of each input); the property checks
 * (sanitizer_properties.c) abort on any other finding.
 */
#include "sanitizer_properties.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *failure = sanitizer_check_properties(data, size);

	if (failure != NULL)
	{
		fprintf(stderr, "sanitizer property violated: %s\n", failure);
		abort();
	}
	return 0;
}
