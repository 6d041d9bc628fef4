/*
 * ts_sanitizer.h
 *		Lexically aware fixer for mechanical breakage in generated TypeScript.
 *
 * Plain C99, no PostgreSQL headers: the SQL wrapper (sanitizer_sql.c), the
 * command-line driver (tools/ts_sanitize.c), the unit test and the fuzzer
 * all call this core.
 *
 * The sanitizer makes one pass over a UTF-8 buffer and tracks code, '...'
 * and "..." strings, template literals with ${ } nesting, line and block
 * comments and regular expression literals.  It changes only code:
 *
 *	 unquoted_module_declarations  declare module `x` / @scope/pkg / my-lib
 *								   -> declare module 'x'
 *	 smart_double_quotes		   "..." written with U+201C/U+201D in code
 *	 smart_single_quotes		   '...' written with U+2018/U+2019 in code
 *	 unicode_dashes				   U+2014/U+2013 in code -> '-'
 *	 unclosed_template_literals	   input ending inside a template literal
 *								   is closed
 *
 * Valid TypeScript comes back unchanged, sanitizing twice equals sanitizing
 * once, and valid UTF-8 input gives valid UTF-8 output.  Invalid UTF-8 is
 * passed through byte for byte.  The pass is linear in the input and
 * allocates nothing until the first change; input that no fix can apply to
 * (no byte 0xE2, no backtick, no "declare module") is not even lexed.
 *
 * Details a caller may notice:
 *	 - a smart quote opens a string only where a string can start (not right
 *	   after an identifier, as in It’s) and only if its closer is on the same
 *	   line: “ ” or " for double quotes; ‘, or ’ / ' not followed by a letter
 *	   or digit, for single quotes (so ‘Can’t’ becomes 'Can’t', and a straight
 *	   apostrophe inside, ‘don't’, becomes 'don\'t');
 *	 - a '/' starts a regular expression after an operator, '(' , ',', the
 *	   keywords return, typeof, case, default, do, else, in, of, new,
 *	   delete, void, throw, instanceof, yield, await, and after the ')' of
 *	   if/while/for/with; after an identifier, literal, ')', ']' or '}' it
 *	   divides;
 *	 - an unterminated template is closed with what closes the open
 *	   brackets, comments and regular expressions inside its substitutions
 *	   plus "}`" per level, except when the input ends inside a quoted string
 *	   in a substitution (where that string ends is unknown: left alone);
 *	 - a .ts file (TS_SOURCE_TS) has no JSX: <T>expr is a type assertion
 *	   and everything outside strings, templates, comments and regular
 *	   expressions is code.
 *
 * In a .tsx file (TS_SOURCE_TSX) the lexer also understands JSX, following
 * TypeScript's rules for .tsx:
 *	 - a '<' where an expression starts (where a '/' would start a regular
 *	   expression) opens a JSX element or fragment, except that <T,>,
 *	   <T = X>, <T extends X> (not followed by '=', '>' or '/') and the
 *	   const forms start a generic arrow function; after an operand '<' is
 *	   a comparison, a shift or type arguments;
 *	 - one deviation from TypeScript, which reads types where the lexer
 *	   does not know it is in one: <Name>( is taken as type parameters (a
 *	   generic function type f: <Item>(x: Item) => void, a call signature
 *	   { <T>(x: T): T }), not as a JSX element whose text starts with '(',
 *	   when its ')' is followed by "=>" (an error in JSX text) or when the
 *	   name is one capital letter or 'T' and a capital (TData);
 *	 - JSX text, attribute strings ("..." and '...', no escapes, may span
 *	   lines), tag and attribute names are never changed; code inside
 *	   {...} (expression containers, spread attributes) is code again and
 *	   may hold JSX again, to any depth; fragments <>...</>, self-closing
 *	   tags, member and namespaced names (a.b, a:b) and type arguments
 *	   (<Foo<T> />) are understood;
 *	 - an attribute value written with smart quotes, title=“Hello”, is
 *	   a smart-quote string in code and is fixed when it closes on its line
 *	   (left alone if the body holds a straight quote of the kind used);
 *	 - when the input ends inside a template literal inside JSX (in an
 *	   expression container), the closing also closes the JSX around it up
 *	   to the outermost element: "}" per container, " />" for a tag still
 *	   open, "</name>" per open element.
 */
#ifndef TS_SANITIZER_H
#define TS_SANITIZER_H

#include <stddef.h>

/* One bit per fix; the order of the bits is the order names are reported. */
#define TS_CHANGE_UNQUOTED_MODULE_DECLARATIONS	(1u << 0)
#define TS_CHANGE_SMART_DOUBLE_QUOTES			(1u << 1)
#define TS_CHANGE_SMART_SINGLE_QUOTES			(1u << 2)
#define TS_CHANGE_UNICODE_DASHES				(1u << 3)
#define TS_CHANGE_UNCLOSED_TEMPLATE_LITERALS	(1u << 4)

/* Number of distinct changes (bits 0 .. TS_CHANGE_COUNT - 1). */
#define TS_CHANGE_COUNT 5

typedef struct ts_sanitize_result
{
	/*
	 * The sanitized text, malloc'd and NUL-terminated, or NULL when nothing
	 * was changed (then the input is the result and output_len == input
	 * length).  Release with ts_sanitize_result_free().
	 */
	char	   *output;
	size_t		output_len;
	/* Bitmask of TS_CHANGE_* describing what was fixed; 0 when nothing. */
	unsigned int changes;
} ts_sanitize_result;

/* What the input is: a .ts (or .d.ts, .mts, .cts) file or a .tsx file. */
typedef enum ts_source_kind
{
	TS_SOURCE_TS = 0,
	TS_SOURCE_TSX = 1
} ts_source_kind;

/*
 * Sanitize len bytes at in (which need not be NUL-terminated), lexed as
 * kind.  Returns 0 on success and -1 when memory could not be allocated
 * (then *result holds no allocation).
 */
extern int	ts_sanitize_kind(const char *in, size_t len, ts_source_kind kind,
							 ts_sanitize_result *result);

/*
 * The parts of ts_sanitize_kind(), for tests: ts_sanitize_may_change()
 * returns 0 when no fix can apply to the input (no byte 0xE2, no backtick,
 * no "declare module"), so that it comes back unchanged without being
 * lexed; ts_sanitize_lex() always lexes.
 */
extern int	ts_sanitize_may_change(const char *in, size_t len);
extern int	ts_sanitize_lex(const char *in, size_t len, ts_source_kind kind,
							ts_sanitize_result *result);

/* ts_sanitize_kind() with TS_SOURCE_TS. */
extern int	ts_sanitize(const char *in, size_t len, ts_sanitize_result *result);

/*
 * The kind a file name stands for: TS_SOURCE_TSX when it ends in ".tsx"
 * (any case), else TS_SOURCE_TS.
 */
extern ts_source_kind ts_source_kind_of_name(const char *file_name);

/* Free the output of a result (safe on a result with no output). */
extern void ts_sanitize_result_free(ts_sanitize_result *result);

/*
 * Name of the change with bit index i (0 .. TS_CHANGE_COUNT - 1), e.g.
 * "smart_double_quotes"; NULL for any other index.
 */
extern const char *ts_change_name(int bit_index);

#endif							/* TS_SANITIZER_H */
