/*
 * unit.c
 *		TAP unit test of the TypeScript sanitizer core (src/ts_sanitizer.c).
 *
 * Every case gives an input, the exact expected output (NULL: unchanged) and
 * the exact set of changes; each case is also run through the property
 * checks the fuzzer uses (idempotence, UTF-8, no change without a reason).
 */
#include "../../src/ts_sanitizer.h"
#include "../../fuzz/sanitizer_properties.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/tap.h"

/* The characters the fixes are about, as UTF-8 string literals. */
#define LDQ "\xE2\x80\x9C"		/* “ */
#define RDQ "\xE2\x80\x9D"		/* ” */
#define LSQ "\xE2\x80\x98"		/* ‘ */
#define RSQ "\xE2\x80\x99"		/* ’ */
#define EMDASH "\xE2\x80\x94"	/* — */
#define ENDASH "\xE2\x80\x93"	/* – */

#define MODULE	TS_CHANGE_UNQUOTED_MODULE_DECLARATIONS
#define DQ		TS_CHANGE_SMART_DOUBLE_QUOTES
#define SQ		TS_CHANGE_SMART_SINGLE_QUOTES
#define DASH	TS_CHANGE_UNICODE_DASHES
#define TPL		TS_CHANGE_UNCLOSED_TEMPLATE_LITERALS

typedef struct test_case
{
	const char *name;
	const char *input;
	const char *expected;		/* NULL: must come back unchanged */
	unsigned int changes;
} test_case;

static const test_case cases[] = {
	/* smart double quotes */
	{"smart double quotes around a string", "const s = " LDQ "hello" RDQ ";\n",
	"const s = \"hello\";\n", DQ},
	{"smart double quote closed by a straight one", "f(" LDQ "a b\");\n",
	"f(\"a b\");\n", DQ},
	{"right double quote used as opener", "f(" RDQ "x" RDQ ")",
	"f(\"x\")", DQ},
	{"smart single quotes inside a smart double string stay",
		"log(" LDQ "say " LSQ "hi" RSQ RDQ ");",
	"log(\"say " LSQ "hi" RSQ "\");", DQ},
	{"several smart strings on a line",
		"a(" LDQ "x" RDQ ", " LDQ "y" RDQ ", " LSQ "z" RSQ ");",
	"a(\"x\", \"y\", 'z');", DQ | SQ},
	{"escaped smart quote inside a smart string",
		"s = " LDQ "a\\" RDQ "b" RDQ ";", "s = \"a\\" RDQ "b\";", DQ},

	/* smart single quotes */
	{"smart single quotes around a string", "const t = " LSQ "hello" RSQ ";",
	"const t = 'hello';", SQ},
	{"apostrophe inside a smart single string",
		"throw new Error(" LSQ "Can" RSQ "t do it" RSQ ");",
	"throw new Error('Can" RSQ "t do it');", SQ},
	{"straight apostrophe inside a smart single string is escaped",
		"const q = " LSQ "don't" RSQ ";", "const q = 'don\\'t';", SQ},
	{"smart single quote closed by a straight one", "x = " LSQ "abc';",
	"x = 'abc';", SQ},
	{"'It’s' in a straight string is untouched",
		"const s = 'It" RSQ "s';\n", NULL, 0},
	{"\"“q”\" in a straight string is untouched",
		"const s = \"" LDQ "q" RDQ "\";\n", NULL, 0},
	{"apostrophe in prose after an identifier is no delimiter",
		"It" RSQ "s broken", NULL, 0},
	{"smart quote with no closer on its line is left alone",
		"x = " LDQ "abc\ny = 1;\n", NULL, 0},
	{"smart quote in a line comment", "// say " LDQ "hi" RDQ "\n", NULL, 0},
	{"smart quote in a block comment", "/* It" RSQ "s " LSQ "x" RSQ " */", NULL, 0},
	{"smart quote in a template literal", "`" LDQ "x" RDQ "`", NULL, 0},
	{"smart quote in a regex", "const r = /[" LDQ RDQ LSQ RSQ "]/g;", NULL, 0},
	{"smart quote in a template substitution is fixed",
		"`a ${f(" LDQ "b" RDQ ")} c`", "`a ${f(\"b\")} c`", DQ},

	/* dashes */
	{"em dash as minus", "let d = a " EMDASH " b;", "let d = a - b;", DASH},
	{"en dash as minus", "let d = a " ENDASH " 1;", "let d = a - 1;", DASH},
	{"dashes as decrement", "i" EMDASH EMDASH ";", "i--;", DASH},
	{"dash then division stays division", "x = a" ENDASH ENDASH " / 2 / 3;",
	"x = a-- / 2 / 3;", DASH},
	{"dash in a string stays", "s = 'a " EMDASH " b';", NULL, 0},
	{"dash in a double-quoted string stays", "s = \"1" ENDASH "2\";", NULL, 0},
	{"dash in a comment stays", "x = 1; // a " EMDASH " b\n", NULL, 0},
	{"dash in a JSDoc comment stays", "/**\n * a " EMDASH " b\n */\nlet x: number;\n", NULL, 0},
	{"dash in a template stays", "`a " EMDASH " b`", NULL, 0},
	{"dash in a regex stays", "r = /a" EMDASH "b/;", NULL, 0},
	{"dash in code next to smart quotes in a string",
		"x = a " EMDASH " 'It" RSQ "s';", "x = a - 'It" RSQ "s';", DASH},

	/* module declarations */
	{"scoped package name is quoted", "declare module @scope/pkg {\n}\n",
	"declare module '@scope/pkg' {\n}\n", MODULE},
	{"dashed name is quoted", "declare module my-lib {}", "declare module 'my-lib' {}", MODULE},
	{"relative path is quoted", "declare module ./x {}", "declare module './x' {}", MODULE},
	{"path with slash is quoted", "declare module foo/bar;", "declare module 'foo/bar';", MODULE},
	{"wildcard name is quoted", "declare module *.css {", "declare module '*.css' {", MODULE},
	{"node: name is quoted", "declare module node:fs {", "declare module 'node:fs' {", MODULE},
	{"backtick name is quoted (TS1443)", "declare module `foo` {}",
	"declare module 'foo' {}", MODULE},
	{"backtick name with an apostrophe gets double quotes",
		"declare module `it's` {}", "declare module \"it's\" {}", MODULE},
	{"backtick name with a substitution is left alone",
		"declare module `a${b}` {}", NULL, 0},
	{"namespace path stays", "declare module Foo.Bar {\n}\n", NULL, 0},
	{"identifier namespace stays", "declare module Foo {}", NULL, 0},
	{"double-quoted module stays", "declare module \"x\" {}", NULL, 0},
	{"single-quoted module stays", "declare module 'x' {}", NULL, 0},
	{"export declare module with a dashed name",
		"export declare module my-lib {", "export declare module 'my-lib' {", MODULE},
	{"declare module in a comment stays", "// declare module my-lib {\n", NULL, 0},
	{"declare module in a string stays", "s = 'declare module my-lib';", NULL, 0},
	{"declare module with a newline before the name stays",
		"declare module\nmy-lib {", NULL, 0},
	{"name at the end of the input", "declare module my-lib",
	"declare module 'my-lib'", MODULE},

	/* unclosed template literals */
	{"template open at end of input", "const s = `abc", "const s = `abc`", TPL},
	{"template open at end of input across lines", "const s = `a\nb\n",
	"const s = `a\nb\n`", TPL},
	{"template open inside a substitution", "x = `a${b", "x = `a${b}`", TPL},
	{"nested template open at end of input", "x = `a ${ f(`b", "x = `a ${ f(`b`)}`", TPL},
	{"nested template open in its substitution",
		"x = `a${`b${c", "x = `a${`b${c}`}`", TPL},
	{"template ending in an escape", "x = `a\\", "x = `a\\\\`", TPL},
	{"template open in a line comment of a substitution",
		"x = `${a // note", "x = `${a // note\n}`", TPL},
	{"template open in a block comment of a substitution",
		"x = `${a /* note", "x = `${a /* note*/}`", TPL},
	{"template open in a regex of a substitution",
		"x = `${a.match(/[ab", "x = `${a.match(/[ab]/)}`", TPL},
	{"template open in an empty regex of a substitution",
		"x = `${(/", "x = `${(/(?:)/)}`", TPL},
	{"template open with a string open in a substitution is left alone",
		"x = `${'abc", NULL, 0},
	{"closed multi-line template stays", "const s = `a\nb ${c} d\n`;\n", NULL, 0},
	{"template with object literal in substitution", "`${ {a: 1}.a }`", NULL, 0},
	{"template with a brace in a string in a substitution", "`${ '}' }`", NULL, 0},
	{"template literal type", "type T = `${A}-${B}`;\n", NULL, 0},
	{"backtick in a comment is no template", "// use `x\nlet y = 1;\n", NULL, 0},
	{"backtick in a block comment is no template", "/** `x */ let y;", NULL, 0},
	{"backtick in a string is no template", "s = 'a`b';", NULL, 0},
	{"backtick in a regex is no template", "r = /`/;", NULL, 0},
	{"escaped backtick inside a template", "x = `a\\`b`;", NULL, 0},

	/* regex / division */
	{"regex with quotes, backtick and dash", "const r = /[\"'`" EMDASH "]/g;", NULL, 0},
	{"regex with a slash in a class", "r = /[/]`/;", NULL, 0},
	{"regex after return", "function f() { return /`/.test(x); }", NULL, 0},
	{"regex after typeof", "x = typeof /`/;", NULL, 0},
	{"regex after export default", "export default /`/;", NULL, 0},
	{"regex after if (...)", "if (x) /`/.test(y);", NULL, 0},
	{"regex after =>", "const f = () => /'/;", NULL, 0},
	{"division after identifiers", "x = a / b / `c`;", NULL, 0},
	{"division after a call", "x = f(a) / 2 / `c`;", NULL, 0},
	{"division after postfix increment", "x = i++ / 2 / `c`;", NULL, 0},
	{"division after non-null assertion", "x = m.get(k)! / t / `c`;", NULL, 0},
	{"division after a number", "x = 1 / 2 / `c`;", NULL, 0},
	{"division after a property named return", "x = o.return / 2 / `c`;", NULL, 0},
	{"a division misread as a regex would unbalance this",
		"const n = total / count; const s = `a`;", NULL, 0},

	/* mixtures */
	{"all fixes together",
		"declare module my-lib {\n  const a = " LDQ "x" RDQ ";\n  const b = " LSQ "y" RSQ ";\n  const c = 1 " EMDASH " 2;\n  const d = `e",
		"declare module 'my-lib' {\n  const a = \"x\";\n  const b = 'y';\n  const c = 1 - 2;\n  const d = `e`",
	MODULE | DQ | SQ | DASH | TPL},
	{"valid strings with smart quotes next to broken ones",
		"const ok = 'It" RSQ "s'; const bad = " LDQ "It" RSQ "s" RDQ ";",
	"const ok = 'It" RSQ "s'; const bad = \"It" RSQ "s\";", DQ},

	/* edge cases */
	{"empty input", "", NULL, 0},
	{"shebang line", "#!/usr/bin/env node `\nlet x = 1;\n", NULL, 0},
	{"unterminated string ends at the line break", "s = 'abc\nt = `x`;\n", NULL, 0},
	{"string line continuation", "s = 'a\\\nb`';\n", NULL, 0},
	{"non-ASCII identifiers", "const caf\xC3\xA9 = 1 / 2;", NULL, 0},
	{"invalid UTF-8 passes through", "x = \xFF\xFE 1;", NULL, 0},
	{"truncated dash at the end", "x = a \xE2\x80", NULL, 0},

	/* .ts: <T>expr is a type assertion, so a '<' never opens JSX */
	{".ts: type assertion then a dash", "const n = <number>x " ENDASH " 1;",
	"const n = <number>x - 1;", DASH},
	{".ts: JSX-looking text is code", "const a = <p>" LDQ "Hello" RDQ "</p>;",
	"const a = <p>\"Hello\"</p>;", DQ},
};

/* Cases lexed as .tsx. */
static const test_case tsx_cases[] = {
	/* JSX text and attribute strings are never changed */
	{"JSX text with a dash", "const a = <span>1 " ENDASH " 2</span>;", NULL, 0},
	{"JSX text with smart double quotes", "const a = <p>" LDQ "Hello" RDQ "</p>;", NULL, 0},
	{"JSX text with apostrophes, smart quotes and an em dash",
		"const a = <p>It" RSQ "s " LSQ "fine" RSQ " " EMDASH " ok</p>;", NULL, 0},
	{"JSX text with straight quotes, a backtick and comment-like text",
		"const a = <p>don't `x` // a " EMDASH " b /* c */</p>; const b = 1;", NULL, 0},
	{"attribute strings (no escapes, multi-line)",
		"<a title=\"It" RSQ "s " ENDASH " " LDQ "x" RDQ "\" alt='a " EMDASH "\n b' d=\"\\\" />;", NULL, 0},
	{"fragment, self-closing, member and namespaced names",
		"<><A.B c:d=\"" ENDASH "\" e-f='x' />" LDQ "t" RDQ "<svg:g /></>;", NULL, 0},
	{"JSX type arguments", "const a = <Foo<Bar> b=\"" ENDASH "\" />; x = a " ENDASH " b;",
	"const a = <Foo<Bar> b=\"" ENDASH "\" />; x = a - b;", DASH},
	{"comment in an expression container", "<p>{/* a " ENDASH " b */}" EMDASH "</p>", NULL, 0},
	{"JSX after export default", "export default <div title={a " ENDASH " b}>1 " ENDASH " 2</div>;",
	"export default <div title={a - b}>1 " ENDASH " 2</div>;", DASH},
	{"JSX after return, =>, ? and :",
		"function f() { return c ? <a>" ENDASH "</a> : <b>" LDQ "</b>; }\nconst g = () => <i>" EMDASH "</i>;",
	NULL, 0},

	/* code in and around JSX is code */
	{"dash in an expression container", "<p>{a " ENDASH " 1} " ENDASH " x</p>;",
	"<p>{a - 1} " ENDASH " x</p>;", DASH},
	{"nested expression containers and elements",
		"<ul>{items.map(i => <li key={i " EMDASH " 1}>{" LDQ "x" RDQ "} " ENDASH " {i}</li>)}</ul>;",
	"<ul>{items.map(i => <li key={i - 1}>{\"x\"} " ENDASH " {i}</li>)}</ul>;", DQ | DASH},
	{"spread attribute is code", "<a {...(b " ENDASH " c)} />;", "<a {...(b - c)} />;", DASH},
	{"element as attribute value", "<A b=<i>" ENDASH "</i> c={d " ENDASH " 1} />;",
	"<A b=<i>" ENDASH "</i> c={d - 1} />;", DASH},
	{"code after JSX", "const a = <p>" ENDASH "</p>;\nconst b = " LSQ "x" RSQ ";",
	"const a = <p>" ENDASH "</p>;\nconst b = 'x';", SQ},
	{"template in an expression container", "<p>{`a " ENDASH " ${b " ENDASH " 1}`}</p>;",
	"<p>{`a " ENDASH " ${b - 1}`}</p>;", DASH},
	{"JSX in a template substitution", "`${<b>" ENDASH "</b>} ${c " ENDASH " 1}`;",
	"`${<b>" ENDASH "</b>} ${c - 1}`;", DASH},
	{"smart double quotes as attribute value", "<img alt=" LDQ "photo" RDQ " />;",
	"<img alt=\"photo\" />;", DQ},
	{"smart single quotes as attribute value", "<img alt=" LSQ "photo" RSQ " />;",
	"<img alt='photo' />;", SQ},
	{"smart attribute value with a straight quote inside stays",
		"<img alt=" LSQ "don't" RSQ " />;", NULL, 0},

	/* '<' that is no JSX */
	{"generic arrow <T,>", "const f = <T,>(x: T) => x " ENDASH " 1;",
	"const f = <T,>(x: T) => x - 1;", DASH},
	{"generic arrow <T extends U>", "const f = <T extends U>(x: T) => " LDQ "s" RDQ ";",
	"const f = <T extends U>(x: T) => \"s\";", DQ},
	{"generic arrow <const T,> and <T = X>",
		"const f = <const T,>(x: T) => x " ENDASH " 1, g = <T = X>(y: T) => y " ENDASH " 1;",
	"const f = <const T,>(x: T) => x - 1, g = <T = X>(y: T) => y - 1;", DASH},
	{"<T extends> is an element with an attribute",
		"const a = <T extends>" ENDASH "</T>;", NULL, 0},
	{"comparison and shifts", "if (a < b && c <<= 2 <= d) x = c " ENDASH " 1;",
	"if (a < b && c <<= 2 <= d) x = c - 1;", DASH},
	{"generic function type in an annotation",
		"let f: <T>(x: T) => T = (x) => x " ENDASH " 1;",
	"let f: <T>(x: T) => T = (x) => x - 1;", DASH},
	{"generic function type with a longer parameter name",
		"type Fn = <Item>(x: Item) => void;\nconst s = '{ a " ENDASH " b }'; const t = 1 " ENDASH " 2;",
	"type Fn = <Item>(x: Item) => void;\nconst s = '{ a " ENDASH " b }'; const t = 1 - 2;", DASH},
	{"call signature", "interface F { <T>(x: T): T; <TData>(y: TData): void }\nconst t = 1 " ENDASH " 2;",
	"interface F { <T>(x: T): T; <TData>(y: TData): void }\nconst t = 1 - 2;", DASH},
	{"element whose text starts with a parenthesis",
		"const a = <Text>(optional): " ENDASH "</Text>;", NULL, 0},
	{"type arguments of a call", "f<T>(a " ENDASH " b);", "f<T>(a - b);", DASH},
	{".tsx: <number>x is an element, not an assertion",
		"const n = <number>x " ENDASH " 1</number>;", NULL, 0},

	/* the input ends inside a template inside JSX */
	{"template open in an expression container", "const a = <div>{`x ${y}",
	"const a = <div>{`x ${y}`}</div>", TPL},
	{"template open in an attribute expression", "const a = <div a={`x",
	"const a = <div a={`x`} />", TPL},
	{"template open in nested elements", "const a = <A><>{items.map(i => `${i",
	"const a = <A><>{items.map(i => `${i}`)}</></A>", TPL},
	{"JSX open in a template substitution", "x = `${<b>hi",
	"x = `${<b>hi</b>}`", TPL},
	{"closing tag open in a template substitution", "x = `${<b>hi</b",
	"x = `${<b>hi</b>}`", TPL},
	{"'<' at the end in a template substitution", "x = `${<b><",
	"x = `${<b><></></b>}`", TPL},
	{"type arguments open in a template substitution", "x = `${<A<B",
	"x = `${<A<B > />}`", TPL},
	{"JSX text at the end without a template is left alone", "const a = <div>" ENDASH " `x",
	NULL, 0},
};

/*
 * Render a change mask as names, for diagnostics.
 */
static void
format_changes(unsigned int mask, char *buf, size_t size)
{
	int			bit;

	buf[0] = '\0';
	for (bit = 0; bit < TS_CHANGE_COUNT; bit++)
		if (mask & (1u << bit))
		{
			strncat(buf, ts_change_name(bit), size - strlen(buf) - 1);
			strncat(buf, " ", size - strlen(buf) - 1);
		}
}

/*
 * Run one table case: exact output and changes, then the properties.
 */
static void
run_case(const test_case *tc, ts_source_kind kind)
{
	ts_sanitize_result r;
	size_t		len = strlen(tc->input);
	const char *expected = tc->expected ? tc->expected : tc->input;
	const char *got;
	const char *property;
	char		detail[1024];

	if (ts_sanitize_kind(tc->input, len, kind, &r) != 0)
	{
		ok_detail(0, tc->name, "ts_sanitize failed");
		return;
	}
	got = r.output ? r.output : tc->input;
	if (r.output_len != strlen(expected) || memcmp(got, expected, r.output_len) != 0)
	{
		snprintf(detail, sizeof(detail), "got: %.*s\n# expected: %s",
				 (int) r.output_len, got, expected);
		ok_detail(0, tc->name, detail);
	}
	else if (r.changes != tc->changes)
	{
		char		got_names[256];
		char		want_names[256];

		format_changes(r.changes, got_names, sizeof(got_names));
		format_changes(tc->changes, want_names, sizeof(want_names));
		snprintf(detail, sizeof(detail), "changes: %s; expected: %s", got_names, want_names);
		ok_detail(0, tc->name, detail);
	}
	else if ((property = sanitizer_check_properties((const unsigned char *) tc->input, len,
													kind)) != NULL)
		ok_detail(0, tc->name, property);
	else
		ok(1, tc->name);
	ts_sanitize_result_free(&r);
}

/*
 * The names and their order are part of the SQL API.
 */
static void
test_change_names(void)
{
	static const char *const names[TS_CHANGE_COUNT] = {
		"unquoted_module_declarations", "smart_double_quotes",
		"smart_single_quotes", "unicode_dashes", "unclosed_template_literals"
	};
	int			passed = ts_change_name(-1) == NULL && ts_change_name(TS_CHANGE_COUNT) == NULL;
	int			bit;

	for (bit = 0; bit < TS_CHANGE_COUNT; bit++)
		passed = passed && strcmp(ts_change_name(bit), names[bit]) == 0;
	ok(passed, "change names and their order");
}

/*
 * Inputs that are not NUL-terminated are read only up to their length.
 */
static void
test_not_nul_terminated(void)
{
	char	   *buf = malloc(7);
	ts_sanitize_result r;
	int			passed;

	memcpy(buf, "x = `ab", 7);	/* no NUL: ASan would catch a read past it */
	passed = ts_sanitize(buf, 7, &r) == 0 && r.changes == TPL &&
		r.output_len == 8 && memcmp(r.output, "x = `ab`", 8) == 0;
	ts_sanitize_result_free(&r);
	free(buf);
	ok(passed, "input without a terminating NUL");
}

/*
 * Deep nesting grows the bracket stack past its inline size.
 */
static void
test_deep_nesting(void)
{
	size_t		depth = 100000;
	size_t		len = depth * 3 + 1;
	char	   *buf = malloc(len);
	size_t		i;
	ts_sanitize_result r;
	int			passed;

	for (i = 0; i < depth; i++)
		memcpy(buf + i * 3, "`${", 3);
	buf[len - 1] = 'x';
	passed = ts_sanitize(buf, len, &r) == 0 && r.changes == TPL &&
		r.output_len == len + depth * 2 &&
		sanitizer_check_properties((const unsigned char *) buf, len, TS_SOURCE_TS) == NULL;
	ts_sanitize_result_free(&r);
	free(buf);
	ok(passed, "100000 nested templates open at the end are all closed");
}

/*
 * A large valid input: unchanged, and the scan is linear (a quadratic
 * smart-quote lookahead would take minutes here).
 */
static void
test_many_unclosed_smart_quotes(void)
{
	size_t		count = 200000;
	size_t		len = count * 5;
	char	   *buf = malloc(len);
	size_t		i;
	ts_sanitize_result r;
	int			passed;

	/* each ’ opens a string whose only candidate closers are apostrophes */
	for (i = 0; i < count; i++)
		memcpy(buf + i * 5, " " RSQ "a", 5);
	passed = ts_sanitize(buf, len, &r) == 0 && r.changes == 0 && r.output == NULL;
	ts_sanitize_result_free(&r);
	free(buf);
	ok(passed, "a line of 200000 smart quotes without a closer is left alone, in linear time");
}

/*
 * .tsx: deeply nested elements and containers grow both stacks; the input
 * ends in a template in the innermost container and everything is closed.
 */
static void
test_deep_jsx(void)
{
	size_t		depth = 50000;
	size_t		len = depth * 6 + 2;
	char	   *buf = malloc(len);
	size_t		i;
	ts_sanitize_result r;
	int			passed;

	for (i = 0; i < depth; i++)
		memcpy(buf + i * 6, "<a>{(", 6);
	memcpy(buf + len - 2, "`x", 2);
	passed = ts_sanitize_kind(buf, len, TS_SOURCE_TSX, &r) == 0 && r.changes == TPL &&
		r.output_len == len + 1 + depth * 6 &&
		memcmp(r.output + len, "`)}</a>", 7) == 0 &&
		sanitizer_check_properties((const unsigned char *) buf, len, TS_SOURCE_TSX) == NULL;
	ts_sanitize_result_free(&r);
	free(buf);
	ok(passed, "50000 nested elements around a template open at the end are all closed");
}

/*
 * The kind taken from a file name.
 */
static void
test_kind_of_name(void)
{
	ok(ts_source_kind_of_name("a/b/App.tsx") == TS_SOURCE_TSX &&
	   ts_source_kind_of_name("App.TSX") == TS_SOURCE_TSX &&
	   ts_source_kind_of_name("index.ts") == TS_SOURCE_TS &&
	   ts_source_kind_of_name("index.d.ts") == TS_SOURCE_TS &&
	   ts_source_kind_of_name("tsx") == TS_SOURCE_TS &&
	   ts_source_kind_of_name("") == TS_SOURCE_TS,
	   "kind from a file name: .tsx is TSX, anything else TS");
}

int
main(void)
{
	size_t		n = sizeof(cases) / sizeof(cases[0]);
	size_t		n_tsx = sizeof(tsx_cases) / sizeof(tsx_cases[0]);
	size_t		i;

	tap_plan(n + n_tsx + 6);
	for (i = 0; i < n; i++)
		run_case(&cases[i], TS_SOURCE_TS);
	for (i = 0; i < n_tsx; i++)
		run_case(&tsx_cases[i], TS_SOURCE_TSX);
	test_change_names();
	test_not_nul_terminated();
	test_deep_nesting();
	test_many_unclosed_smart_quotes();
	test_deep_jsx();
	test_kind_of_name();
	return tap_exit_status();
}
