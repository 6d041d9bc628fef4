/*
 * ts_sanitizer.c
 *		One-pass lexer that fixes mechanical breakage in generated TypeScript
 *		without touching anything inside strings, templates, comments or
 *		regular expressions.  See ts_sanitizer.h for the contract.
 *
 * The lexer is a small state machine driven by two byte tables.  It keeps:
 *
 *	- a bracket stack with one byte per open '(' / '[' / '{' and '$' for an
 *	  open "${" of a template literal, so that a '}' knows whether it resumes
 *	  a template, and so that input ending inside a template can be closed;
 *	- the kind of the previous significant token, which decides whether a
 *	  '/' starts a regular expression or is a division (after an operand it
 *	  is a division; after an operator, "(", or keywords such as return and
 *	  typeof it starts a regular expression; after the ')' of if/while/for/
 *	  with it starts one too).
 *
 * In a .tsx file the same stack also holds the JSX being lexed: 'T' for an
 * opening tag whose attributes are being read, 'C' for an element whose
 * children are being read, 'e' for a JSX expression container (or spread
 * attribute) { ... } of either; a '}' that meets 'e' resumes the JSX below
 * it.  The names of open elements are kept on a side stack, for closing
 * them when the input ends inside a template literal inside JSX.
 *
 * Output is produced lazily: nothing is allocated until the first change, and
 * unchanged spans are copied in one piece.
 *
 * Plain C99, no PostgreSQL headers.
 */
#include "ts_sanitizer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned char uchar;

/* Bits of byte_props: which bytes stop which scanning loop. */
#define B_IDENT		1			/* ASCII identifier part (and '\\' of \u escapes) */
#define B_STR		2			/* stops a '...' / "..." string scan */
#define B_TPL		4			/* stops a template text scan */
#define B_LCOM		8			/* stops a line comment scan (0xE2: U+2028/9) */
#define B_RE		16			/* stops a regular expression scan */
#define B_SMART		32			/* stops the scan for a smart quote's closer */
#define B_NAME		64			/* may appear in an unquoted module name */

/* Values of code_class: what a byte starts in code. */
enum code_class_value
{
	K_OTHER = 0,
	K_SPACE,
	K_IDENT,
	K_DIGIT,
	K_QUOTE,
	K_BACKTICK,
	K_SLASH,
	K_OPEN_PAREN,
	K_OPEN_BRACKET,
	K_OPEN_BRACE,
	K_CLOSE_PAREN,
	K_CLOSE_BRACKET,
	K_CLOSE_BRACE,
	K_DOT,
	K_PLUS,
	K_MINUS,
	K_HIGH,
	K_BANG,
	K_HASH,
	K_LESS
};

static const unsigned char byte_props[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 58, 0, 0, 58, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 64, 34, 64, 69, 64, 0, 34, 0, 0, 64, 64, 0, 64, 64, 80,
	65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 64, 0, 0, 0, 0, 0,
	64, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65,
	65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 16, 55, 16, 0, 65,
	4, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65,
	65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 65, 0, 0, 0, 64, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static const unsigned char code_class[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	1, 17, 4, 18, 2, 0, 0, 4, 7, 10, 0, 14, 0, 15, 13, 6,
	3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 19, 0, 0, 0,
	0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 8, 2, 11, 0, 2,
	5, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 9, 0, 12, 0, 0,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
};

/* Classes of a non-ASCII character met in code. */
enum high_class
{
	H_OTHER,					/* identifier-like (or invalid UTF-8) */
	H_SPACE,					/* NBSP, U+2000..200A, U+202F, U+205F, U+3000, BOM */
	H_LINE,						/* U+2028, U+2029 */
	H_DASH,						/* U+2013, U+2014 */
	H_DOUBLE_QUOTE,				/* U+201C, U+201D */
	H_SINGLE_OPEN,				/* U+2018 */
	H_SINGLE_CLOSE				/* U+2019 */
};

/* Kind of the previous significant token in code. */
enum previous_token
{
	PREV_OPERATOR,				/* start, punctuator, return/typeof/...: '/' is a regex */
	PREV_OPERAND,				/* identifier, literal, ')', ']', '}': '/' divides */
	PREV_DOT,					/* '.': the next identifier is a property name */
	PREV_CONTROL				/* if/while/for/with: its ')' is followed by a statement */
};

/* Where the input ended, for closing an unterminated template literal. */
enum end_state
{
	END_CODE,
	END_STRING,
	END_TEMPLATE,
	END_LINE_COMMENT,
	END_BLOCK_COMMENT,
	END_REGEX,
	END_JSX_CLOSING_TAG,		/* inside </name, before its '>' */
	END_JSX_TYPE_ARGUMENTS		/* inside <Foo<T, end_depth of them open */
};

/* Entries of the bracket stack. */
#define STACK_PAREN		'('
#define STACK_CONTROL	'c'		/* the '(' after if/while/for/with */
#define STACK_BRACKET	'['
#define STACK_BRACE		'{'
#define STACK_TEMPLATE	'$'		/* "${" inside a template literal */
#define STACK_JSX_TAG	'T'		/* attributes of an opening tag (.tsx) */
#define STACK_JSX_CHILDREN 'C'	/* children of an open element (.tsx) */
#define STACK_JSX_EXPR	'e'		/* { ... } in a tag or in children (.tsx) */

typedef struct sanitizer
{
	const uchar *in;
	size_t		len;

	/* output, allocated at the first change */
	char	   *out;
	size_t		out_len;
	size_t		out_cap;
	size_t		copied;			/* input before this offset is in out */
	unsigned int changes;
	int			failed;			/* out of memory */

	/* bracket stack */
	uchar	   *stack;
	size_t		depth;
	size_t		stack_cap;
	size_t		template_depth; /* STACK_TEMPLATE entries in the stack */
	size_t		jsx_depth;		/* JSX entries ('T', 'C', 'e') in the stack */
	uchar		stack_local[128];

	/* .tsx: JSX is lexed */
	int			tsx;
	/* offset and length of the name of each 'T' / 'C' entry, in order */
	size_t	   *names;
	size_t		names_depth;	/* pairs in use */
	size_t		names_cap;		/* pairs allocated */

	/* previous significant token */
	enum previous_token prev;
	size_t		operand_end;	/* offset just after the last operand token */

	/*
	 * A smart quote lookahead that found no closer before the end of its line
	 * tells the same for every later smart quote of that kind before that
	 * line end; remembering it keeps the pass linear.  It also tells where a
	 * straight quote must not be inserted (module_name_quote()).
	 */
	size_t		no_double_closer_before;
	size_t		no_single_closer_before;

	/* state at the end of the input */
	enum end_state end;
	int			end_escape;		/* ended right after a backslash */
	int			end_regex_class;	/* END_REGEX: inside [...] */
	int			end_regex_empty;	/* END_REGEX: nothing after the '/' */
	size_t		end_depth;		/* END_JSX_TYPE_ARGUMENTS: '<' open */
} sanitizer;

static const char *const change_names[TS_CHANGE_COUNT] = {
	"unquoted_module_declarations",
	"smart_double_quotes",
	"smart_single_quotes",
	"unicode_dashes",
	"unclosed_template_literals"
};

/*
 * Return the name of change bit bit_index.
 */
const char *
ts_change_name(int bit_index)
{
	if (bit_index < 0 || bit_index >= TS_CHANGE_COUNT)
		return NULL;
	return change_names[bit_index];
}

/*
 * Make room for extra more output bytes plus a terminating NUL.
 */
static int
output_reserve(sanitizer *s, size_t extra)
{
	size_t		need;
	size_t		cap;
	char	   *grown;

	if (s->failed)
		return 0;
	if (extra > SIZE_MAX - 1 - s->out_len)
		goto fail;
	need = s->out_len + extra + 1;
	if (need <= s->out_cap)
		return 1;
	cap = s->out_cap;
	if (cap == 0)
	{
		cap = s->len + s->len / 16 + 64;
		if (cap < s->len)
			cap = need;
	}
	while (cap < need)
		cap = (cap > SIZE_MAX / 2) ? need : cap * 2;
	grown = realloc(s->out, cap);
	if (grown == NULL)
		goto fail;
	s->out = grown;
	s->out_cap = cap;
	return 1;

fail:
	s->failed = 1;
	return 0;
}

/*
 * Append n bytes to the output.
 */
static void
output_append(sanitizer *s, const void *bytes, size_t n)
{
	if (!output_reserve(s, n))
		return;
	memcpy(s->out + s->out_len, bytes, n);
	s->out_len += n;
}

/*
 * Copy the input up to offset pos to the output.
 */
static void
output_copy_through(sanitizer *s, size_t pos)
{
	if (pos > s->copied)
	{
		output_append(s, s->in + s->copied, pos - s->copied);
		s->copied = pos;
	}
}

/*
 * Replace old_len input bytes at pos by the replacement, recording change.
 * Replacements must be made in increasing order of pos.
 */
static void
output_replace(sanitizer *s, size_t pos, size_t old_len,
			   const char *replacement, size_t replacement_len,
			   unsigned int change)
{
	output_copy_through(s, pos);
	output_append(s, replacement, replacement_len);
	s->copied = pos + old_len;
	s->changes |= change;
}

/*
 * Push an entry on the bracket stack.
 */
static void
stack_push(sanitizer *s, uchar entry)
{
	if (s->depth == s->stack_cap)
	{
		size_t		cap = s->stack_cap * 2;
		uchar	   *grown;

		if (s->stack == s->stack_local)
		{
			grown = malloc(cap);
			if (grown != NULL)
				memcpy(grown, s->stack_local, s->depth);
		}
		else
			grown = realloc(s->stack, cap);
		if (grown == NULL)
		{
			s->failed = 1;
			return;
		}
		s->stack = grown;
		s->stack_cap = cap;
	}
	s->stack[s->depth++] = entry;
	if (entry == STACK_TEMPLATE)
		s->template_depth++;
	else if (entry == STACK_JSX_TAG || entry == STACK_JSX_CHILDREN ||
			 entry == STACK_JSX_EXPR)
		s->jsx_depth++;
}

/*
 * Push a JSX element ('T', or 'C' for a fragment) whose name is the
 * name_len bytes at name_start.
 */
static void
stack_push_element(sanitizer *s, uchar entry, size_t name_start, size_t name_len)
{
	if (s->names_depth == s->names_cap)
	{
		size_t		cap = s->names_cap ? s->names_cap * 2 : 16;
		size_t	   *grown = realloc(s->names, cap * 2 * sizeof(size_t));

		if (grown == NULL)
		{
			s->failed = 1;
			return;
		}
		s->names = grown;
		s->names_cap = cap;
	}
	stack_push(s, entry);
	if (s->failed)
		return;
	s->names[2 * s->names_depth] = name_start;
	s->names[2 * s->names_depth + 1] = name_len;
	s->names_depth++;
}

/*
 * Top of the bracket stack, or 0 when empty.
 */
static uchar
stack_top(const sanitizer *s)
{
	return s->depth ? s->stack[s->depth - 1] : 0;
}

/*
 * Pop the top of the bracket stack (which must not be empty).
 */
static void
stack_pop(sanitizer *s)
{
	uchar		entry = s->stack[--s->depth];

	if (entry == STACK_TEMPLATE)
		s->template_depth--;
	else if (entry == STACK_JSX_TAG || entry == STACK_JSX_CHILDREN)
	{
		s->jsx_depth--;
		s->names_depth--;
	}
	else if (entry == STACK_JSX_EXPR)
		s->jsx_depth--;
}

/*
 * Classify the non-ASCII character starting at in[i] and set *width to the
 * number of bytes it takes (1 for anything classified H_OTHER, so that
 * invalid UTF-8 is walked byte by byte).
 */
static enum high_class
classify_high(const uchar *in, size_t len, size_t i, size_t *width)
{
	uchar		c = in[i];

	*width = 1;
	if (c == 0xE2 && i + 2 < len)
	{
		uchar		c1 = in[i + 1];
		uchar		c2 = in[i + 2];

		if (c1 == 0x80)
		{
			*width = 3;
			switch (c2)
			{
				case 0x93:
				case 0x94:
					return H_DASH;
				case 0x98:
					return H_SINGLE_OPEN;
				case 0x99:
					return H_SINGLE_CLOSE;
				case 0x9C:
				case 0x9D:
					return H_DOUBLE_QUOTE;
				case 0xA8:
				case 0xA9:
					return H_LINE;
				case 0xAF:
					return H_SPACE;
				default:
					if (c2 >= 0x80 && c2 <= 0x8A)
						return H_SPACE;
			}
		}
		else if (c1 == 0x81 && c2 == 0x9F)
		{
			*width = 3;
			return H_SPACE;
		}
		*width = 1;
		return H_OTHER;
	}
	if (c == 0xC2 && i + 1 < len && in[i + 1] == 0xA0)
	{
		*width = 2;
		return H_SPACE;
	}
	if (i + 2 < len &&
		((c == 0xEF && in[i + 1] == 0xBB && in[i + 2] == 0xBF) ||
		 (c == 0xE3 && in[i + 1] == 0x80 && in[i + 2] == 0x80) ||
		 (c == 0xE1 && in[i + 1] == 0x9A && in[i + 2] == 0x80)))
	{
		*width = 3;
		return H_SPACE;
	}
	return H_OTHER;
}

/*
 * Does an identifier character start at in[i]?  (Used to tell an apostrophe,
 * as in It’s, from a closing quote.)
 */
static int
identifier_char_at(const uchar *in, size_t len, size_t i)
{
	size_t		width;

	if (i >= len)
		return 0;
	if (in[i] < 0x80)
		return (byte_props[in[i]] & B_IDENT) != 0;
	return classify_high(in, len, i, &width) == H_OTHER;
}

/*
 * Width of a minus sign ('-' or an en/em dash) at in[i], or 0.
 */
static size_t
minus_width(const uchar *in, size_t len, size_t i)
{
	if (i >= len)
		return 0;
	if (in[i] == '-')
		return 1;
	if (in[i] == 0xE2 && i + 2 < len && in[i + 1] == 0x80 &&
		(in[i + 2] == 0x93 || in[i + 2] == 0x94))
		return 3;
	return 0;
}

/*
 * Record that the input ended in state end.
 */
static size_t
end_in(sanitizer *s, enum end_state end, int escape)
{
	s->end = end;
	s->end_escape = escape;
	return s->len;
}

/*
 * Skip a '...' or "..." string whose body starts at i.  Returns the offset
 * after the closing quote, or of the line break that leaves it unterminated
 * (TypeScript resumes scanning there too).
 */
static size_t
scan_string(sanitizer *s, size_t i, uchar quote)
{
	const uchar *in = s->in;
	size_t		len = s->len;

	for (;;)
	{
		uchar		c;

		while (i < len && !(byte_props[in[i]] & B_STR))
			i++;
		if (i >= len)
			return end_in(s, END_STRING, 0);
		c = in[i];
		if (c == quote)
			return i + 1;
		if (c == '\\')
		{
			if (i + 1 >= len)
				return end_in(s, END_STRING, 1);
			i += (in[i + 1] == '\r' && i + 2 < len && in[i + 2] == '\n') ? 3 : 2;
			continue;
		}
		if (c == '\n' || c == '\r')
			return i;
		i++;					/* the other kind of quote */
	}
}

/*
 * Skip template text starting at i (after '`' or after the '}' closing a
 * substitution).  Returns the offset after the closing '`' (*substitution
 * = 0) or after "${" (*substitution = 1).
 */
static size_t
scan_template(sanitizer *s, size_t i, int *substitution)
{
	const uchar *in = s->in;
	size_t		len = s->len;

	for (;;)
	{
		uchar		c;

		while (i < len && !(byte_props[in[i]] & B_TPL))
			i++;
		if (i >= len)
			return end_in(s, END_TEMPLATE, 0);
		c = in[i];
		if (c == '`')
		{
			*substitution = 0;
			return i + 1;
		}
		if (c == '\\')
		{
			if (i + 1 >= len)
				return end_in(s, END_TEMPLATE, 1);
			i += 2;
			continue;
		}
		/* '$' */
		if (i + 1 < len && in[i + 1] == '{')
		{
			*substitution = 1;
			return i + 2;
		}
		i++;
	}
}

/*
 * Skip a line comment whose text starts at i; returns the offset of the
 * line terminator.
 */
static size_t
scan_line_comment(sanitizer *s, size_t i)
{
	const uchar *in = s->in;
	size_t		len = s->len;

	for (;;)
	{
		while (i < len && !(byte_props[in[i]] & B_LCOM))
			i++;
		if (i >= len)
			return end_in(s, END_LINE_COMMENT, 0);
		if (in[i] != 0xE2)
			return i;
		if (i + 2 < len && in[i + 1] == 0x80 &&
			(in[i + 2] == 0xA8 || in[i + 2] == 0xA9))
			return i;
		i++;
	}
}

/*
 * Skip a block comment whose text starts at i; returns the offset after
 * its closing star-slash.
 */
static size_t
scan_block_comment(sanitizer *s, size_t i)
{
	const uchar *in = s->in;
	const uchar *p = in + i;
	const uchar *end = in + s->len;

	while (p < end)
	{
		p = memchr(p, '/', (size_t) (end - p));
		if (p == NULL)
			break;
		if (p > in + i && p[-1] == '*')
			return (size_t) (p - in) + 1;
		p++;
	}
	return end_in(s, END_BLOCK_COMMENT, 0);
}

/*
 * Skip a regular expression literal whose opening '/' is at start.  Returns
 * the offset after its closing '/' (flags are lexed as an identifier), or
 * of the line break that leaves it unterminated.
 */
static size_t
scan_regex(sanitizer *s, size_t start)
{
	const uchar *in = s->in;
	size_t		len = s->len;
	size_t		i = start + 1;
	int			in_class = 0;

	for (;;)
	{
		while (i < len && !(byte_props[in[i]] & B_RE))
			i++;
		if (i >= len)
		{
			s->end_regex_class = in_class;
			s->end_regex_empty = (len == start + 1);
			return end_in(s, END_REGEX, 0);
		}
		switch (in[i])
		{
			case '\\':
				if (i + 1 >= len)
				{
					s->end_regex_class = in_class;
					s->end_regex_empty = 0;
					return end_in(s, END_REGEX, 1);
				}
				if (in[i + 1] == '\n' || in[i + 1] == '\r')
					return i + 1;
				i += 2;
				break;
			case '[':
				in_class = 1;
				i++;
				break;
			case ']':
				in_class = 0;
				i++;
				break;
			case '/':
				if (!in_class)
					return i + 1;
				i++;
				break;
			default:			/* line break */
				return i;
		}
	}
}

/*
 * Look for the quote closing a string opened by a smart quote, the body
 * starting at i, on the same line.  A double-quote string closes at “ ” or
 * "; a single-quote string at ‘, or at ’ or ' not followed by an identifier
 * character (so that It’s keeps its apostrophe).  Returns 1 with the
 * closer's offset and width, or 0 and the offset of the end of the line.
 * *needs_escape is set when the body holds a ' that must become \'.
 */
static int
find_smart_closer(const uchar *in, size_t len, size_t i, int single,
				  size_t *closer, size_t *closer_width, size_t *line_end,
				  int *needs_escape)
{
	*needs_escape = 0;
	for (;;)
	{
		uchar		c;

		while (i < len && !(byte_props[in[i]] & B_SMART))
			i++;
		if (i >= len)
			break;
		c = in[i];
		if (c == '\n' || c == '\r')
			break;
		if (c == '\\')
		{
			if (i + 1 >= len)
			{
				i = len;
				break;
			}
			i += (in[i + 1] == '\r' && i + 2 < len && in[i + 2] == '\n') ? 3 : 2;
			continue;
		}
		if (c == '"' || c == '\'')
		{
			if ((c == '"') == !single)
			{
				if (!single || !identifier_char_at(in, len, i + 1))
				{
					*closer = i;
					*closer_width = 1;
					return 1;
				}
				*needs_escape = 1;
			}
			i++;
			continue;
		}
		/* 0xE2 */
		if (i + 2 < len && in[i + 1] == 0x80)
		{
			uchar		c2 = in[i + 2];
			int			closes;

			if (single)
				closes = c2 == 0x98 ||
					(c2 == 0x99 && !identifier_char_at(in, len, i + 3));
			else
				closes = c2 == 0x9C || c2 == 0x9D;
			if (closes)
			{
				*closer = i;
				*closer_width = 3;
				return 1;
			}
		}
		i++;
	}
	*line_end = i;
	return 0;
}

/*
 * A smart quote at i (width 3) in code.  If it opens a string that closes
 * on the same line, rewrite the string with straight quotes and return the
 * offset after it; otherwise return 0 and leave the character alone.
 */
static size_t
fix_smart_string(sanitizer *s, size_t i, int single)
{
	const uchar *in = s->in;
	size_t		len = s->len;
	size_t		closer;
	size_t		closer_width;
	size_t		line_end;
	int			needs_escape;
	const char *quote = single ? "'" : "\"";
	unsigned int change = single ? TS_CHANGE_SMART_SINGLE_QUOTES
		: TS_CHANGE_SMART_DOUBLE_QUOTES;
	size_t	   *no_closer_before = single ? &s->no_single_closer_before
		: &s->no_double_closer_before;

	/* right after an operand (It’s, foo“) it is no string delimiter */
	if (s->prev == PREV_OPERAND && s->operand_end == i)
		return 0;
	if (i < *no_closer_before)
		return 0;
	if (!find_smart_closer(in, len, i + 3, single, &closer, &closer_width,
						   &line_end, &needs_escape))
	{
		*no_closer_before = line_end;
		return 0;
	}

	output_replace(s, i, 3, quote, 1, change);
	if (needs_escape)
	{
		/* the body's unescaped apostrophes ' become \' */
		size_t		j = i + 3;

		while (j < closer)
		{
			if (in[j] == '\\')
				j += 2;
			else if (in[j] == '\'')
			{
				output_replace(s, j, 1, "\\'", 2, change);
				j++;
			}
			else
				j++;
		}
	}
	if (closer_width == 3)
		output_replace(s, closer, 3, quote, 1, change);
	return closer + closer_width;
}

/*
 * Is name (of length n, made of module-name characters) a dotted identifier
 * path such as Foo or Foo.Bar, i.e. a namespace rather than a module name?
 */
static int
is_identifier_path(const uchar *name, size_t n)
{
	size_t		i = 0;
	int			segment_start = 1;

	while (i < n)
	{
		uchar		c = name[i];

		if (c == '.')
		{
			if (segment_start)
				return 0;
			segment_start = 1;
			i++;
			continue;
		}
		if (c < 0x80)
		{
			if (!(byte_props[c] & B_IDENT) || c == '\\' ||
				(segment_start && c >= '0' && c <= '9'))
				return 0;
			i++;
		}
		else
		{
			size_t		width;

			if (classify_high(name, n, i, &width) != H_OTHER)
				return 0;
			i += width;
		}
		segment_start = 0;
	}
	return !segment_start;
}

/*
 * The quote to put around a module name at pos: ' unless single is false,
 * else " unless double_ is false, else NULL (leave the name alone).  A quote
 * is also ruled out on a line where a smart quote of its kind looked for a
 * closer and found none: the inserted quote would give it one, and a second
 * pass would then change the line again.
 */
static const char *
module_name_quote(const sanitizer *s, size_t pos, int single, int double_)
{
	if (single && pos >= s->no_single_closer_before)
		return "'";
	if (double_ && pos >= s->no_double_closer_before)
		return "\"";
	return NULL;
}

/*
 * After the identifier "declare" ending at i: when "module" follows with a
 * backtick-quoted name or a name that is not an identifier path, quote the
 * name and return the offset after it; otherwise return 0.
 */
static size_t
fix_module_declaration(sanitizer *s, size_t i)
{
	const uchar *in = s->in;
	size_t		len = s->len;
	size_t		k = i;
	size_t		after_module;
	size_t		name_start;
	const char *quote;

	while (k < len && (in[k] == ' ' || in[k] == '\t'))
		k++;
	if (k == i || len - k < 6 || memcmp(in + k, "module", 6) != 0)
		return 0;
	k += 6;
	if (k < len && (in[k] >= 0x80 || (byte_props[in[k]] & B_IDENT)))
		return 0;
	after_module = k;
	while (k < len && (in[k] == ' ' || in[k] == '\t'))
		k++;
	if (k >= len)
		return 0;

	if (in[k] == '`')
	{
		/* a backtick-quoted name without substitutions: TS1443 */
		size_t		e;
		int			has_single = 0;
		int			has_double = 0;

		for (e = k + 1; e < len && in[e] != '`'; e++)
		{
			uchar		c = in[e];

			if (c == '\n' || c == '\r' || c == '\\' ||
				(c == '$' && e + 1 < len && in[e + 1] == '{'))
				return 0;
			has_single |= (c == '\'');
			has_double |= (c == '"');
		}
		quote = module_name_quote(s, k, !has_single, !has_double);
		if (quote == NULL)
			return 0;
		/*
		 * A name still open at the end of the input is closed here rather
		 * than as a template literal, so that a second pass agrees.
		 */
		output_replace(s, k, 1, quote, 1, TS_CHANGE_UNQUOTED_MODULE_DECLARATIONS);
		output_replace(s, e, e < len, quote, 1, TS_CHANGE_UNQUOTED_MODULE_DECLARATIONS);
		return e < len ? e + 1 : len;
	}

	if (k == after_module)
		return 0;
	name_start = k;
	while (k < len)
	{
		uchar		c = in[k];

		if (c < 0x80)
		{
			if (!(byte_props[c] & B_NAME))
				break;
			if (c == '/' && k + 1 < len && (in[k + 1] == '/' || in[k + 1] == '*'))
				break;
			k++;
		}
		else
		{
			size_t		width;
			enum high_class class = classify_high(in, len, k, &width);

			if (class != H_OTHER && class != H_DASH)
				break;
			k += width;
		}
	}
	if (k == name_start)
		return 0;
	if (k < len && in[k] != ' ' && in[k] != '\t' && in[k] != '\n' &&
		in[k] != '\r' && in[k] != '{' && in[k] != ';')
		return 0;
	if (is_identifier_path(in + name_start, k - name_start))
		return 0;
	quote = module_name_quote(s, name_start, 1, 1);
	if (quote == NULL)
		return 0;
	output_replace(s, name_start, 0, quote, 1, TS_CHANGE_UNQUOTED_MODULE_DECLARATIONS);
	output_replace(s, k, 0, quote, 1, TS_CHANGE_UNQUOTED_MODULE_DECLARATIONS);
	return k;
}

/*
 * Kind of token an identifier (not a property name) is, by its spelling.
 */
static enum previous_token
classify_word(const uchar *w, size_t n)
{
#define WORD_IS(lit) (n == sizeof(lit) - 1 && memcmp(w, lit, n) == 0)
	if (n < 2 || n > 10 || w[0] < 'a' || w[0] > 'y')
		return PREV_OPERAND;
	switch (w[0])
	{
		case 'a':
			return WORD_IS("await") ? PREV_OPERATOR : PREV_OPERAND;
		case 'c':
			return WORD_IS("case") ? PREV_OPERATOR : PREV_OPERAND;
		case 'd':
			/* export default /re/ or <div/>: an expression follows */
			return (WORD_IS("do") || WORD_IS("delete") || WORD_IS("default"))
				? PREV_OPERATOR : PREV_OPERAND;
		case 'e':
			return WORD_IS("else") ? PREV_OPERATOR : PREV_OPERAND;
		case 'f':
			return WORD_IS("for") ? PREV_CONTROL : PREV_OPERAND;
		case 'i':
			if (WORD_IS("in") || WORD_IS("instanceof"))
				return PREV_OPERATOR;
			return WORD_IS("if") ? PREV_CONTROL : PREV_OPERAND;
		case 'n':
			return WORD_IS("new") ? PREV_OPERATOR : PREV_OPERAND;
		case 'o':
			return WORD_IS("of") ? PREV_OPERATOR : PREV_OPERAND;
		case 'r':
			return WORD_IS("return") ? PREV_OPERATOR : PREV_OPERAND;
		case 't':
			return (WORD_IS("typeof") || WORD_IS("throw")) ? PREV_OPERATOR : PREV_OPERAND;
		case 'v':
			return WORD_IS("void") ? PREV_OPERATOR : PREV_OPERAND;
		case 'w':
			return (WORD_IS("while") || WORD_IS("with")) ? PREV_CONTROL : PREV_OPERAND;
		case 'y':
			return WORD_IS("yield") ? PREV_OPERATOR : PREV_OPERAND;
		default:
			return PREV_OPERAND;
	}
#undef WORD_IS
}

/*
 * Skip an identifier starting at i; returns its end.
 */
static size_t
scan_identifier(const uchar *in, size_t len, size_t i)
{
	for (;;)
	{
		size_t		width;

		while (i < len && (byte_props[in[i]] & B_IDENT))
			i++;
		if (i >= len || in[i] < 0x80 ||
			classify_high(in, len, i, &width) != H_OTHER)
			return i;
		i += width;
	}
}

/*
 * An identifier or keyword starting at start: classify it, fixing a
 * following module declaration name; returns the offset after it.
 */
static size_t
lex_word(sanitizer *s, size_t start)
{
	size_t		end = scan_identifier(s->in, s->len, start);

	if (s->prev == PREV_DOT)
		s->prev = PREV_OPERAND;
	else
	{
		s->prev = classify_word(s->in + start, end - start);
		if (end - start == 7 && memcmp(s->in + start, "declare", 7) == 0)
		{
			size_t		fixed = fix_module_declaration(s, end);

			if (fixed)
				end = fixed;
		}
	}
	if (s->prev == PREV_OPERAND)
		s->operand_end = end;
	return end;
}

/*
 * '-' or '+' (or a dash standing for a minus) at i, of width width; "--" and
 * "++" after an operand are postfix and leave an operand behind.
 */
static size_t
lex_plus_minus(sanitizer *s, size_t i, size_t width, int minus)
{
	size_t		next;
	size_t		second;

	if (width == 3)
		output_replace(s, i, 3, "-", 1, TS_CHANGE_UNICODE_DASHES);
	next = i + width;
	second = minus ? minus_width(s->in, s->len, next)
		: (next < s->len && s->in[next] == '+');
	if (second == 0)
	{
		s->prev = PREV_OPERATOR;
		return next;
	}
	if (second == 3)
		output_replace(s, next, 3, "-", 1, TS_CHANGE_UNICODE_DASHES);
	next += second;
	if (s->prev == PREV_OPERAND)
		s->operand_end = next;
	else
		s->prev = PREV_OPERATOR;
	return next;
}

/*
 * Enter template text at i; handles the "${" that may end it.
 */
static size_t
lex_template(sanitizer *s, size_t i)
{
	int			substitution = 0;

	i = scan_template(s, i, &substitution);
	if (s->end != END_CODE)
		return i;
	if (substitution)
	{
		stack_push(s, STACK_TEMPLATE);
		s->prev = PREV_OPERATOR;
	}
	else
	{
		s->prev = PREV_OPERAND;
		s->operand_end = i;
	}
	return i;
}

/*
 * Skip JSX white space (spaces, tabs, line breaks) from i.
 */
static size_t
skip_jsx_space(const uchar *in, size_t len, size_t i)
{
	while (i < len && (in[i] == ' ' || in[i] == '\t' || in[i] == '\n' ||
					   in[i] == '\r'))
		i++;
	return i;
}

/*
 * Does an identifier start at in[i] (a letter, '_', '$' or a non-ASCII
 * character that is not a space, dash or quote)?
 */
static int
identifier_start_at(const uchar *in, size_t len, size_t i)
{
	size_t		width;

	if (i >= len)
		return 0;
	if (in[i] < 0x80)
		return (byte_props[in[i]] & B_IDENT) && in[i] != '\\' &&
			!(in[i] >= '0' && in[i] <= '9');
	return classify_high(in, len, i, &width) == H_OTHER;
}

/*
 * Is the name (of n bytes) one a type parameter usually has: one capital
 * letter, or 'T' and a capital (TData)?
 */
static int
type_parameter_name(const uchar *w, size_t n)
{
	if (n == 1)
		return w[0] >= 'A' && w[0] <= 'Z';
	return n >= 2 && w[0] == 'T' && w[1] >= 'A' && w[1] <= 'Z';
}

/*
 * Is the '(' at i closed within 4096 bytes by a ')' followed by "=>"?  In
 * JSX text "=>" is an error (a '>' must be written {'>'}), so such a '('
 * after <Name> starts the parameters of a generic function type.
 */
static int
parameters_then_arrow(const uchar *in, size_t len, size_t i)
{
	size_t		limit = (len - i > 4096) ? i + 4096 : len;
	size_t		depth = 0;

	for (; i < limit; i++)
	{
		if (in[i] == '(')
			depth++;
		else if (in[i] == ')' && --depth == 0)
		{
			size_t		k = skip_jsx_space(in, len, i + 1);

			return k + 1 < len && in[k] == '=' && in[k + 1] == '>';
		}
	}
	return 0;
}

/*
 * .tsx, a '<' at i where an expression starts: does it open JSX?  The
 * rules of TypeScript's parser for .tsx (isParenthesizedArrowFunction-
 * Expression): after an optional "const", an identifier followed by ',',
 * '=' or by "extends" and anything but '=', '>' or '/' starts a generic
 * arrow function; '<' followed by '>' (a fragment) or by any other name
 * opens JSX; '<' followed by anything else is no JSX.  One deviation, for
 * the type positions the lexer does not track: <Name>( is taken as type
 * parameters when its ')' is followed by "=>" or when Name looks like a
 * type parameter (see ts_sanitizer.h).
 */
static int
jsx_starts_at(const sanitizer *s, size_t i)
{
	const uchar *in = s->in;
	size_t		len = s->len;
	size_t		name = skip_jsx_space(in, len, i + 1);
	size_t		name_end;
	size_t		k;

	if (name >= len)
		return 0;
	if (in[name] == '>')
		return 1;
	if (!identifier_start_at(in, len, name))
		return 0;
	name_end = scan_identifier(in, len, name);
	if (name_end - name == 5 && memcmp(in + name, "const", 5) == 0)
	{
		k = skip_jsx_space(in, len, name_end);
		if (identifier_start_at(in, len, k))
		{
			name = k;
			name_end = scan_identifier(in, len, k);
		}
	}
	k = skip_jsx_space(in, len, name_end);
	if (k >= len)
		return 1;
	switch (in[k])
	{
		case ',':
			return 0;
		case '=':
			/* <T = X> is a default; "=>" is no '=' token */
			return k + 1 < len && in[k + 1] == '>';
		case '>':
			{
				size_t		after = skip_jsx_space(in, len, k + 1);

				if (after >= len || in[after] != '(')
					return 1;
				/* <Item>(x: Item) => ...: a generic function type */
				if (parameters_then_arrow(in, len, after))
					return 0;
				return !type_parameter_name(in + name, name_end - name);
			}
		case 'e':
			if (len - k >= 7 && memcmp(in + k, "extends", 7) == 0 &&
				!identifier_char_at(in, len, k + 7))
			{
				size_t		next = skip_jsx_space(in, len, k + 7);

				return next < len &&
					(in[next] == '=' || in[next] == '>' || in[next] == '/');
			}
			return 1;
		default:
			return 1;
	}
}

/*
 * Skip a JSX tag or attribute name starting at i (identifier characters,
 * '-', and ':' / '.' of namespaced and member names; no smart quote, dash
 * or space, so that a name copied into a closing tag at the end of the
 * input never adds a quote); returns its end.
 */
static size_t
scan_jsx_name(const uchar *in, size_t len, size_t i)
{
	size_t		width;

	while (i < len)
	{
		uchar		c = in[i];

		if (c < 0x80)
		{
			if (!((byte_props[c] & B_IDENT) || c == '-' || c == ':' || c == '.'))
				break;
			i++;
		}
		else if (classify_high(in, len, i, &width) == H_OTHER)
			i += width;
		else
			break;
	}
	return i;
}

/*
 * Skip the type arguments of a tag (<Foo<T> />) whose '<' is at i; returns
 * the offset after their '>'.
 */
static size_t
skip_jsx_type_arguments(sanitizer *s, size_t i)
{
	const uchar *in = s->in;
	size_t		len = s->len;
	size_t		depth = 0;

	while (i < len)
	{
		uchar		c = in[i];

		if (c == '=' && i + 1 < len && in[i + 1] == '>')
			i += 2;				/* the arrow of a function type */
		else if (c == '<')
		{
			depth++;
			i++;
		}
		else if (c == '>')
		{
			i++;
			if (--depth == 0)
				break;
		}
		else
			i++;
	}
	if (depth > 0)
	{
		s->end_depth = depth;
		return end_in(s, END_JSX_TYPE_ARGUMENTS, 0);
	}
	return i;
}

/*
 * An opening tag or fragment whose '<' is just before i: push it and return
 * the offset after its name (and type arguments), or after the '>' of a
 * fragment.
 */
static size_t
jsx_open_tag(sanitizer *s, size_t i)
{
	const uchar *in = s->in;
	size_t		len = s->len;
	size_t		start;
	size_t		k;

	i = skip_jsx_space(in, len, i);
	if (i < len && in[i] == '>')
	{
		stack_push_element(s, STACK_JSX_CHILDREN, i, 0);
		return i + 1;
	}
	start = i;
	i = scan_jsx_name(in, len, i);
	stack_push_element(s, STACK_JSX_TAG, start, i - start);
	k = skip_jsx_space(in, len, i);
	if (i > start && k < len && in[k] == '<')
		i = skip_jsx_type_arguments(s, k);
	return i;
}

/*
 * Skip a JSX attribute string whose body starts at i: no escapes, line
 * breaks allowed.  Returns the offset after its closing quote.
 */
static size_t
scan_jsx_string(sanitizer *s, size_t i, uchar quote)
{
	const uchar *p = memchr(s->in + i, quote, s->len - i);

	if (p == NULL)
		return end_in(s, END_STRING, 0);
	return (size_t) (p - s->in) + 1;
}

/*
 * A smart quote at i where an attribute value starts (title=“Hello”): if it
 * closes on its line and the body holds no straight quote of its kind,
 * rewrite it as a JSX attribute string and return the offset after it;
 * otherwise return 0.
 */
static size_t
fix_jsx_smart_value(sanitizer *s, size_t i)
{
	const uchar *in = s->in;
	size_t		width;
	enum high_class class = classify_high(in, s->len, i, &width);
	int			single;
	size_t		closer;
	size_t		closer_width;
	size_t		line_end;
	int			needs_escape;
	size_t	   *no_closer_before;
	size_t		j;

	if (class != H_DOUBLE_QUOTE && class != H_SINGLE_OPEN &&
		class != H_SINGLE_CLOSE)
		return 0;
	single = class != H_DOUBLE_QUOTE;
	no_closer_before = single ? &s->no_single_closer_before
		: &s->no_double_closer_before;
	if (i < *no_closer_before)
		return 0;
	if (!find_smart_closer(in, s->len, i + 3, single, &closer, &closer_width,
						   &line_end, &needs_escape))
	{
		*no_closer_before = line_end;
		return 0;
	}
	if (needs_escape)
		return 0;
	/* a backslash is no escape in a JSX string: a body with one stays */
	for (j = i + 3; j < closer; j++)
		if (in[j] == '\\')
			return 0;
	output_replace(s, i, 3, single ? "'" : "\"", 1,
				   single ? TS_CHANGE_SMART_SINGLE_QUOTES : TS_CHANGE_SMART_DOUBLE_QUOTES);
	if (closer_width == 3)
		output_replace(s, closer, 3, single ? "'" : "\"", 1,
					   single ? TS_CHANGE_SMART_SINGLE_QUOTES : TS_CHANGE_SMART_DOUBLE_QUOTES);
	return closer + closer_width;
}

/*
 * Lex JSX from i, in the state the top of the stack says ('T' or 'C'),
 * until code resumes: after the '{' of an expression container (pushed as
 * 'e', returns the offset after it) or after the outermost element ends
 * (returns the offset after it, with an operand as previous token).
 */
static size_t
lex_jsx(sanitizer *s, size_t i)
{
	const uchar *in = s->in;
	size_t		len = s->len;

	while (!s->failed)
	{
		uchar		top = stack_top(s);

		if (top == STACK_JSX_TAG)
		{
			uchar		c;

			if (i >= len)
				return len;
			c = in[i];
			if (c == '>')
			{
				s->stack[s->depth - 1] = STACK_JSX_CHILDREN;
				i++;
				continue;
			}
			if (c == '/' && i + 1 < len && in[i + 1] == '>')
			{
				stack_pop(s);
				i += 2;
			}
			else if (c == '/' && i + 1 < len && in[i + 1] == '/')
			{
				i = scan_line_comment(s, i + 2);
				continue;
			}
			else if (c == '/' && i + 1 < len && in[i + 1] == '*')
			{
				i = scan_block_comment(s, i + 2);
				continue;
			}
			else if (c == '{')
			{
				stack_push(s, STACK_JSX_EXPR);
				s->prev = PREV_OPERATOR;
				return i + 1;
			}
			else if (c == '"' || c == '\'')
			{
				i = scan_jsx_string(s, i + 1, c);
				continue;
			}
			else if (c == '=')
			{
				size_t		k = skip_jsx_space(in, len, i + 1);
				size_t		after;

				if (k < len && in[k] == '<')
					i = jsx_open_tag(s, k + 1);		/* an element as value */
				else if (k < len && in[k] == 0xE2 &&
						 (after = fix_jsx_smart_value(s, k)) != 0)
					i = after;
				else
					i = k;
				continue;
			}
			else
			{
				i++;
				continue;
			}
		}
		else if (top == STACK_JSX_CHILDREN)
		{
			size_t		k;

			while (i < len && in[i] != '{' && in[i] != '<')
				i++;
			if (i >= len)
				return len;
			if (in[i] == '{')
			{
				stack_push(s, STACK_JSX_EXPR);
				s->prev = PREV_OPERATOR;
				return i + 1;
			}
			k = skip_jsx_space(in, len, i + 1);
			if (k < len && in[k] == '/')
			{
				/* a closing tag </name> or </> */
				const uchar *gt = memchr(in + k, '>', len - k);

				if (gt == NULL)
					return end_in(s, END_JSX_CLOSING_TAG, 0);
				stack_pop(s);
				i = (size_t) (gt - in) + 1;
			}
			else
			{
				i = jsx_open_tag(s, i + 1);
				continue;
			}
		}
		else
			break;

		/* an element ended at i */
		top = stack_top(s);
		if (top == STACK_JSX_TAG || top == STACK_JSX_CHILDREN)
			continue;
		s->prev = PREV_OPERAND;
		s->operand_end = i;
		break;
	}
	return i;
}

/*
 * The main loop: lex code from the start of the input to its end.
 */
static void
lex_code(sanitizer *s)
{
	const uchar *in = s->in;
	size_t		len = s->len;
	size_t		i = 0;

	/* a #! line at the very start is a comment */
	if (len >= 2 && in[0] == '#' && in[1] == '!')
		i = scan_line_comment(s, 2);

	while (i < len && !s->failed)
	{
		uchar		c = in[i];
		enum code_class_value class = (enum code_class_value) code_class[c];

		/*
		 * The commonest classes first, with plain branches: the jump of the
		 * switch below is hard to predict and dominated the time.
		 */
		if (class == K_IDENT)
		{
			i = lex_word(s, i);
			continue;
		}
		if (class == K_SPACE)
		{
			do
				i++;
			while (i < len && code_class[in[i]] == K_SPACE);
			continue;
		}
		if (class == K_OTHER)
		{
			i++;
			s->prev = PREV_OPERATOR;
			continue;
		}
		switch (class)
		{
			case K_SPACE:
				/* runs of indentation are common: skip them in one loop */
				do
					i++;
				while (i < len && code_class[in[i]] == K_SPACE);
				break;
			case K_IDENT:
				i = lex_word(s, i);
				break;
			case K_DIGIT:
				while (i < len && (in[i] == '.' || (byte_props[in[i]] & B_IDENT)))
					i++;
				s->prev = PREV_OPERAND;
				s->operand_end = i;
				break;
			case K_DOT:
				if (i + 1 < len && in[i + 1] >= '0' && in[i + 1] <= '9')
				{
					while (i < len && (in[i] == '.' || (byte_props[in[i]] & B_IDENT)))
						i++;
					s->prev = PREV_OPERAND;
					s->operand_end = i;
				}
				else
				{
					i++;
					s->prev = PREV_DOT;
				}
				break;
			case K_QUOTE:
				i = scan_string(s, i + 1, c);
				s->prev = PREV_OPERAND;
				s->operand_end = i;
				break;
			case K_BACKTICK:
				i = lex_template(s, i + 1);
				break;
			case K_SLASH:
				if (i + 1 < len && in[i + 1] == '/')
					i = scan_line_comment(s, i + 2);
				else if (i + 1 < len && in[i + 1] == '*')
					i = scan_block_comment(s, i + 2);
				else if (s->prev == PREV_OPERAND)
				{
					i++;
					s->prev = PREV_OPERATOR;
				}
				else
				{
					i = scan_regex(s, i);
					s->prev = PREV_OPERAND;
					s->operand_end = i;
				}
				break;
			case K_OPEN_PAREN:
				stack_push(s, s->prev == PREV_CONTROL ? STACK_CONTROL : STACK_PAREN);
				s->prev = PREV_OPERATOR;
				i++;
				break;
			case K_OPEN_BRACKET:
				stack_push(s, STACK_BRACKET);
				s->prev = PREV_OPERATOR;
				i++;
				break;
			case K_OPEN_BRACE:
				stack_push(s, STACK_BRACE);
				s->prev = PREV_OPERATOR;
				i++;
				break;
			case K_CLOSE_PAREN:
				i++;
				s->prev = PREV_OPERAND;
				s->operand_end = i;
				if (stack_top(s) == STACK_CONTROL)
					s->prev = PREV_OPERATOR;
				if (stack_top(s) == STACK_CONTROL || stack_top(s) == STACK_PAREN)
					stack_pop(s);
				break;
			case K_CLOSE_BRACKET:
				i++;
				s->prev = PREV_OPERAND;
				s->operand_end = i;
				if (stack_top(s) == STACK_BRACKET)
					stack_pop(s);
				break;
			case K_CLOSE_BRACE:
				i++;
				/* unclosed ( and [ cannot outlive the block */
				while (s->depth && stack_top(s) != STACK_BRACE &&
					   stack_top(s) != STACK_TEMPLATE &&
					   stack_top(s) != STACK_JSX_EXPR)
					stack_pop(s);
				if (stack_top(s) == STACK_TEMPLATE)
				{
					stack_pop(s);
					i = lex_template(s, i);
					break;
				}
				if (stack_top(s) == STACK_JSX_EXPR)
				{
					stack_pop(s);
					i = lex_jsx(s, i);
					break;
				}
				if (s->depth)
					stack_pop(s);
				s->prev = PREV_OPERAND;
				s->operand_end = i;
				break;
			case K_PLUS:
				i = lex_plus_minus(s, i, 1, 0);
				break;
			case K_MINUS:
				i = lex_plus_minus(s, i, 1, 1);
				break;
			case K_BANG:
				/* x! is TypeScript's non-null assertion: still an operand */
				i++;
				if (s->prev == PREV_OPERAND && s->operand_end == i - 1 &&
					!(i < len && in[i] == '='))
					s->operand_end = i;
				else
					s->prev = PREV_OPERATOR;
				break;
			case K_HIGH:
				{
					size_t		width;
					size_t		after;

					switch (classify_high(in, len, i, &width))
					{
						case H_SPACE:
						case H_LINE:
							i += width;
							break;
						case H_DASH:
							i = lex_plus_minus(s, i, width, 1);
							break;
						case H_DOUBLE_QUOTE:
						case H_SINGLE_OPEN:
						case H_SINGLE_CLOSE:
							after = fix_smart_string(s, i, in[i + 2] != 0x9C && in[i + 2] != 0x9D);
							if (after)
								i = after;
							else
								i += width;
							s->prev = PREV_OPERAND;
							s->operand_end = i;
							break;
						case H_OTHER:
							i = lex_word(s, i);
							break;
					}
				}
				break;
			case K_LESS:
				if (s->tsx && s->prev == PREV_OPERATOR && jsx_starts_at(s, i))
				{
					i = jsx_open_tag(s, i + 1);
					i = lex_jsx(s, i);
					break;
				}
				/* a comparison, a shift or type arguments: "<<=" is one token */
				i++;
				if (i < len && in[i] == '<')
					i++;
				if (i < len && in[i] == '=')
					i++;
				s->prev = PREV_OPERATOR;
				break;
			case K_HASH:
			case K_OTHER:
				i++;
				s->prev = PREV_OPERATOR;
				break;
		}
	}
}

/*
 * The input ended inside a template literal (directly or inside one of its
 * substitutions): append what closes whatever is open, innermost first, up
 * to and including the outermost template, and in a .tsx file up to and
 * including the outermost JSX element around it.
 */
static void
close_templates(sanitizer *s)
{
	output_copy_through(s, s->len);
	switch (s->end)
	{
		case END_CODE:
		case END_STRING:		/* not closed: see ts_sanitize() */
			break;
		case END_TEMPLATE:
			if (s->end_escape)
				output_append(s, "\\", 1);
			output_append(s, "`", 1);
			break;
		case END_LINE_COMMENT:
			output_append(s, "\n", 1);
			break;
		case END_BLOCK_COMMENT:
			output_append(s, "*/", 2);
			break;
		case END_REGEX:
			if (s->end_escape)
				output_append(s, "\\", 1);
			if (s->end_regex_class)
				output_append(s, "]", 1);
			else if (s->end_regex_empty)
				output_append(s, "(?:)", 4);
			output_append(s, "/", 1);
			break;
		case END_JSX_CLOSING_TAG:
			/* </name was read up to the end: its element is closed */
			output_append(s, ">", 1);
			stack_pop(s);
			break;
		case END_JSX_TYPE_ARGUMENTS:
			/* a space first, so that a '=' at the end makes no "=>" */
			output_append(s, " ", 1);
			while (s->end_depth-- > 0)
				output_append(s, ">", 1);
			break;
	}
	while ((s->template_depth > 0 || s->jsx_depth > 0) && !s->failed)
	{
		switch (stack_top(s))
		{
			case STACK_PAREN:
			case STACK_CONTROL:
				output_append(s, ")", 1);
				break;
			case STACK_BRACKET:
				output_append(s, "]", 1);
				break;
			case STACK_BRACE:
				output_append(s, "}", 1);
				break;
			case STACK_TEMPLATE:
				output_append(s, "}`", 2);
				break;
			case STACK_JSX_EXPR:
				output_append(s, "}", 1);
				break;
			case STACK_JSX_TAG:
				/* an input ending right after '<' gets an empty fragment */
				if (s->names[2 * s->names_depth - 2] == s->len)
					output_append(s, "></>", 4);
				else			/* the space: a '/' at the end makes no "//" */
					output_append(s, " />", 3);
				break;
			case STACK_JSX_CHILDREN:
				output_append(s, "</", 2);
				output_append(s, s->in + s->names[2 * s->names_depth - 2],
							  s->names[2 * s->names_depth - 1]);
				output_append(s, ">", 1);
				break;
		}
		stack_pop(s);
	}
	s->changes |= TS_CHANGE_UNCLOSED_TEMPLATE_LITERALS;
}

int
ts_sanitize(const char *in, size_t len, ts_sanitize_result *result)
{
	return ts_sanitize_kind(in, len, TS_SOURCE_TS, result);
}

/*
 * Could any fix act on this input?  Every fix needs one of: a byte 0xE2
 * (the dashes and smart quotes), a backtick (a template literal to close,
 * a backtick-quoted module name), or "declare" followed by spaces or tabs
 * and "module".  Three fast scans (memchr) instead of lexing: most valid
 * code has none of them in some files.  The fuzz properties check that the
 * lexer never changes an input for which this returns 0.
 */
int
ts_sanitize_may_change(const char *in, size_t len)
{
	const char *p = in;
	const char *end = in + len;

	if (len == 0)
		return 0;
	if (memchr(in, 0xE2, len) != NULL || memchr(in, '`', len) != NULL)
		return 1;
	while ((p = memchr(p, 'd', (size_t) (end - p))) != NULL)
	{
		const char *k = p + 7;

		if (end - p >= 7 && memcmp(p, "declare", 7) == 0)
		{
			while (k < end && (*k == ' ' || *k == '\t'))
				k++;
			if (k > p + 7 && end - k >= 6 && memcmp(k, "module", 6) == 0)
				return 1;
		}
		p++;
	}
	return 0;
}

ts_source_kind
ts_source_kind_of_name(const char *file_name)
{
	size_t		n = strlen(file_name);
	const char *ext = file_name + n - 4;

	if (n >= 4 && ext[0] == '.' &&
		(ext[1] == 't' || ext[1] == 'T') &&
		(ext[2] == 's' || ext[2] == 'S') &&
		(ext[3] == 'x' || ext[3] == 'X'))
		return TS_SOURCE_TSX;
	return TS_SOURCE_TS;
}

int
ts_sanitize_kind(const char *in, size_t len, ts_source_kind kind,
				 ts_sanitize_result *result)
{
	if (!ts_sanitize_may_change(in, len))
	{
		result->output = NULL;
		result->output_len = len;
		result->changes = 0;
		return 0;
	}
	return ts_sanitize_lex(in, len, kind, result);
}

int
ts_sanitize_lex(const char *in, size_t len, ts_source_kind kind,
				ts_sanitize_result *result)
{
	sanitizer	s;

	memset(&s, 0, sizeof(s));
	s.in = (const uchar *) in;
	s.len = len;
	s.stack = s.stack_local;
	s.stack_cap = sizeof(s.stack_local);
	s.prev = PREV_OPERATOR;
	s.end = END_CODE;
	s.tsx = (kind == TS_SOURCE_TSX);

	result->output = NULL;
	result->output_len = len;
	result->changes = 0;

	lex_code(&s);

	/*
	 * Close a template literal the input ends in, unless it ends inside a
	 * quoted string in a substitution: where that string was meant to end is
	 * unknown, and a closing quote appended to the last line could become
	 * the closer a smart quote earlier on that line looked for, so that a
	 * second pass would change the text again.
	 */
	if (!s.failed && s.end != END_STRING &&
		(s.end == END_TEMPLATE || s.template_depth > 0))
		close_templates(&s);
	if (!s.failed && s.out != NULL)
	{
		output_copy_through(&s, len);
		if (output_reserve(&s, 0))
			s.out[s.out_len] = '\0';
	}
	if (s.stack != s.stack_local)
		free(s.stack);
	free(s.names);
	if (s.failed)
	{
		free(s.out);
		return -1;
	}
	result->output = s.out;
	result->output_len = s.out ? s.out_len : len;
	result->changes = s.changes;
	return 0;
}

void
ts_sanitize_result_free(ts_sanitize_result *result)
{
	free(result->output);
	result->output = NULL;
}
