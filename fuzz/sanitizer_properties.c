/*
 * sanitizer_properties.c
 *		Property checks over one sanitizer input; see sanitizer_properties.h.
 */
#include "sanitizer_properties.h"
#include "../src/ts_sanitizer.h"

#include <stdlib.h>
#include <string.h>

int
utf8_is_valid(const unsigned char *s, size_t len)
{
	size_t		i = 0;

	while (i < len)
	{
		unsigned char c = s[i];
		size_t		n;
		unsigned long cp;
		size_t		k;

		if (c < 0x80)
		{
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
		{
			n = 1;
			cp = c & 0x1F;
		}
		else if (c >= 0xE0 && c <= 0xEF)
		{
			n = 2;
			cp = c & 0x0F;
		}
		else if (c >= 0xF0 && c <= 0xF4)
		{
			n = 3;
			cp = c & 0x07;
		}
		else
			return 0;
		if (len - i <= n)
			return 0;
		for (k = 1; k <= n; k++)
		{
			if ((s[i + k] & 0xC0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
			cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += n + 1;
	}
	return 1;
}

/*
 * The quick check of the core, ts_sanitize_may_change(), says no fix can
 * apply: the lexer itself must agree (it is run without the quick check).
 */
static const char *
check_quick_no_change(const unsigned char *data, size_t len, ts_source_kind kind)
{
	ts_sanitize_result full;
	const char *failure = NULL;

	if (ts_sanitize_may_change((const char *) data, len))
		return NULL;
	if (ts_sanitize_lex((const char *) data, len, kind, &full) != 0)
		return "ts_sanitize_lex failed (out of memory)";
	if (full.changes != 0 || full.output != NULL)
		failure = "input without a byte 0xE2, a backtick or \"declare module\" was changed";
	ts_sanitize_result_free(&full);
	return failure;
}

/*
 * Without a '<' there is no JSX: TSX mode must give what TS mode gives.
 */
static const char *
check_tsx_without_jsx(const unsigned char *data, size_t len,
					  const ts_sanitize_result *tsx)
{
	ts_sanitize_result ts;
	const char *failure = NULL;

	if (memchr(data, '<', len) != NULL)
		return NULL;
	if (ts_sanitize_kind((const char *) data, len, TS_SOURCE_TS, &ts) != 0)
		return "ts_sanitize failed (out of memory)";
	if (ts.changes != tsx->changes || ts.output_len != tsx->output_len ||
		(ts.output == NULL) != (tsx->output == NULL) ||
		(ts.output != NULL && memcmp(ts.output, tsx->output, ts.output_len) != 0))
		failure = "input without '<' gave different results as .ts and as .tsx";
	ts_sanitize_result_free(&ts);
	return failure;
}

const char *
sanitizer_check_properties(const unsigned char *data, size_t len,
						   ts_source_kind kind)
{
	ts_sanitize_result first;
	ts_sanitize_result second;
	const unsigned char *out;
	const char *failure = NULL;

	if (ts_sanitize_kind((const char *) data, len, kind, &first) != 0)
		return "ts_sanitize failed (out of memory)";
	out = first.output ? (const unsigned char *) first.output : data;

	if (first.changes & ~((1u << TS_CHANGE_COUNT) - 1))
		failure = "unknown change bit reported";
	else if ((first.changes == 0) != (first.output == NULL))
		failure = "changes reported without output, or output without changes";
	else if (first.output != NULL && first.output_len == len &&
			 memcmp(first.output, data, len) == 0)
		failure = "changes reported but output is identical to input";
	else if (first.output == NULL && first.output_len != len)
		failure = "unchanged output has a different length";
	else if (first.output != NULL && first.output[first.output_len] != '\0')
		failure = "output is not NUL-terminated";
	else if (utf8_is_valid(data, len) && !utf8_is_valid(out, first.output_len))
		failure = "valid UTF-8 input gave invalid UTF-8 output";
	else if (first.output != NULL)
	{
		if (ts_sanitize_kind(first.output, first.output_len, kind, &second) != 0)
			failure = "second ts_sanitize failed (out of memory)";
		else
		{
			if (second.changes != 0 || second.output != NULL)
				failure = "not idempotent: sanitizing the output changed it again";
			ts_sanitize_result_free(&second);
		}
	}
	if (failure == NULL)
		failure = check_quick_no_change(data, len, kind);
	if (failure == NULL && kind == TS_SOURCE_TSX)
		failure = check_tsx_without_jsx(data, len, &first);
	ts_sanitize_result_free(&first);
	return failure;
}
