/*
 * sanitizer_properties.h
 *		Properties every run of the TypeScript sanitizer must have; shared by
 *		the libFuzzer harness (fuzz_sanitizer.c) and the corpus unit test
 *		(test/sanitizer/corpus_unit.c), which runs the fuzz corpus through the
 *		same checks without clang.
 */
#ifndef SANITIZER_PROPERTIES_H
#define SANITIZER_PROPERTIES_H

#include <stddef.h>

#include "../src/ts_sanitizer.h"

/* Is buf strict UTF-8 (no overlongs, surrogates or code points > U+10FFFF)? */
extern int	utf8_is_valid(const unsigned char *buf, size_t len);

/*
 * Sanitize data as kind and check:
 *	 - it succeeds, and reports changes exactly when the output differs;
 *	 - valid UTF-8 in gives valid UTF-8 out;
 *	 - sanitizing the output changes nothing (idempotence);
 *	 - input with none of the characters a fix acts on (no byte 0xE2, no
 *	   backtick, no "declare module": ts_sanitize_may_change() is 0) is
 *	   never changed by the lexer either (which ts_sanitize_kind() skips
 *	   for such input);
 *	 - as .tsx: input without a '<' (so without JSX) gives exactly what it
 *	   gives as .ts.
 * Returns NULL when all hold, else a static description of the failure.
 */
extern const char *sanitizer_check_properties(const unsigned char *data, size_t len,
											  ts_source_kind kind);

#endif							/* SANITIZER_PROPERTIES_H */
