/*-------------------------------------------------------------------------
 *
 * anthropic.h
 *	  The Anthropic Messages API codec: the request body, the parsing of an
 *	  answer or an API error, the retry rules of the official SDKs, and the
 *	  two meta-prompts of the learning loop (SPEC 4.5 and 5).
 *
 *	  Plain C with cJSON (no PostgreSQL headers, no I/O, no clock, no
 *	  random numbers: the caller passes "now" and a random number in), so it
 *	  is unit-tested alone (test/unit/test_anthropic.c).  The transport is
 *	  http_client.h.
 *
 *	  Memory: every char * and struct returned is malloc'd and owned by the
 *	  caller; strings are freed with free(), responses with
 *	  anthropic_response_free().  NULL is returned only when memory runs out
 *	  (or, for the builders, when an argument is invalid, with the reason in
 *	  *error when error is not NULL; *error is a static string, not freed).
 *	  The functions keep no state and may be called from any thread, as long
 *	  as cJSON's allocation hooks are left at malloc/free.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AP_ANTHROPIC_H
#define AP_ANTHROPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The API version sent in the anthropic-version header. */
#define ANTHROPIC_API_VERSION "2023-06-01"

/* The answer that asks to keep an enhancement as it is (improve jobs). */
#define ANTHROPIC_KEEP_AS_IS "KEEP_AS_IS"

/* Retry-after values are honoured only in (0, ANTHROPIC_RETRY_AFTER_MAX_S]. */
#define ANTHROPIC_RETRY_AFTER_MAX_S 60.0
/* Backoff without a usable retry-after: min(0.5 * 2^n, 8) s * (1 - 0.25 * r). */
#define ANTHROPIC_RETRY_INITIAL_DELAY_S 0.5
#define ANTHROPIC_RETRY_MAX_DELAY_S 8.0

/* A token count the API sent as null or left out. */
#define ANTHROPIC_TOKENS_UNKNOWN INT64_C(-1)

/*
 * error_type values of our own, for failures the API did not describe with
 * its error body.  (Its own types are kept verbatim: invalid_request_error,
 * authentication_error, permission_error, not_found_error,
 * request_too_large, rate_limit_error, api_error, overloaded_error, ...)
 */
/* A 2xx answer that is not JSON or not a message. */
#define ANTHROPIC_ERROR_INVALID_RESPONSE "invalid_response"
/* A non-2xx answer whose status maps to no known error type. */
#define ANTHROPIC_ERROR_HTTP "http_error"

/* Why generation stopped; the raw string is kept too (stop_reason). */
typedef enum AnthropicStopReason
{
	ANTHROPIC_STOP_NONE = 0,	/* null or absent */
	ANTHROPIC_STOP_END_TURN,
	ANTHROPIC_STOP_MAX_TOKENS,
	ANTHROPIC_STOP_STOP_SEQUENCE,
	ANTHROPIC_STOP_TOOL_USE,
	ANTHROPIC_STOP_PAUSE_TURN,
	ANTHROPIC_STOP_REFUSAL,
	ANTHROPIC_STOP_OTHER		/* a value this version does not know */
} AnthropicStopReason;

/*
 * A parsed answer: either a message (ok = true) or an error (ok = false,
 * error_type and error_message set).  Fields that the body did not carry
 * are NULL (strings) or ANTHROPIC_TOKENS_UNKNOWN (counts).
 */
typedef struct AnthropicResponse
{
	int			http_status;	/* as passed in */
	bool		ok;				/* a 2xx answer holding a message */

	/* The message (ok = true). */
	char	   *id;				/* "msg_..." */
	char	   *model;
	char	   *text;			/* the text blocks of content, concatenated;
								 * "" when there are none; never NULL if ok */
	size_t		text_length;	/* strlen(text) */
	int			text_blocks;	/* how many text blocks were joined */
	int			other_blocks;	/* blocks of other types, skipped */
	char	   *stop_reason;	/* raw value, NULL when null/absent */
	AnthropicStopReason stop;
	int64_t		input_tokens;
	int64_t		output_tokens;
	int64_t		cache_creation_input_tokens;
	int64_t		cache_read_input_tokens;

	/* The error (ok = false). */
	char	   *error_type;		/* the API's error.type, or one of ours */
	char	   *error_message;	/* one line, at most ~500 bytes */
	char	   *request_id;		/* the body's "request_id", if any */
} AnthropicResponse;

/*
 * The request body: {"model":..., "max_tokens":..., "messages":[{"role":
 * "user","content":prompt}]}, compact JSON.  NULL with *error set when
 * model or prompt is empty or not valid UTF-8, or max_tokens < 1.
 */
extern char *anthropic_build_request(const char *model, int max_tokens,
									 const char *prompt, const char **error);

/*
 * Parses an answer of the Messages API: the HTTP status and the body
 * (body_length bytes, need not be NUL-terminated; NULL/0 allowed).  Never
 * returns a half-filled struct: a non-2xx status, an API error body, a body
 * that is not JSON (a 413 HTML page) or malformed JSON all give ok = false
 * with a clear error_message.  NULL only when memory runs out.
 */
extern AnthropicResponse *anthropic_parse_response(int http_status,
												   const char *body,
												   size_t body_length);

extern void anthropic_response_free(AnthropicResponse *response);

/* The API's error type name for an HTTP status (413 -> "request_too_large"), or NULL. */
extern const char *anthropic_error_type_for_status(int http_status);

/* Name of a stop reason ("end_turn", ...; "none", "other"). */
extern const char *anthropic_stop_reason_name(AnthropicStopReason stop);

/*
 * Retry rules of the official SDKs (SPEC 5).
 *
 * anthropic_should_retry: x_should_retry is the x-should-retry header or
 * NULL; "true" / "false" (surrounding blanks and case ignored) decide
 * alone.  Otherwise retry on a transport error (timeout, connection
 * failure: http_status is then 0 or whatever arrived) and on 408, 409,
 * 429 and >= 500 (529 included).  The caller still applies max_attempts.
 */
extern bool anthropic_should_retry(int http_status, bool transport_error,
								   const char *x_should_retry);

/*
 * The server's requested delay in seconds, from the header values (NULL
 * when absent): retry-after-ms (milliseconds, may be fractional) when it
 * parses, else retry-after as seconds, else retry-after as an HTTP date
 * (IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT"; RFC 850 and asctime
 * forms too) minus now (seconds since the Unix epoch).  Returns < 0 when
 * no header parses.  No range check here: see anthropic_retry_delay.
 */
extern double anthropic_retry_after(const char *retry_after_ms,
									const char *retry_after, double now);

/*
 * The delay before the next attempt, in seconds: the retry-after value when
 * 0 < value <= 60, else min(0.5 * 2^retries_done, 8) * (1 - 0.25 *
 * random_unit).  retries_done is how many retries were already made (0
 * after the first attempt failed); random_unit is uniform in [0, 1).
 * Like the SDKs, the first header that parses decides (a retry-after-ms
 * out of range falls back to the backoff, not to retry-after).
 */
extern double anthropic_retry_delay(const char *retry_after_ms,
									const char *retry_after, int retries_done,
									double now, double random_unit);

/*
 * The meta-prompts (SPEC 4.5).  Both ask for a plain-text instruction of at
 * most max_words words and nothing else; the improvement prompt also allows
 * the single answer KEEP_AS_IS.  The failure messages and samples are
 * quoted as data (each cut to a bounded length at a UTF-8 boundary; at most
 * ANTHROPIC_PROMPT_MAX_SAMPLES are used, NULL entries skipped).  NULL with
 * *error set when a required string is NULL/empty or max_words < 1.
 */
#define ANTHROPIC_PROMPT_MAX_SAMPLES 20
#define ANTHROPIC_PROMPT_MAX_SAMPLE_BYTES 500

typedef struct AnthropicImprovePrompt
{
	const char *error_code;		/* "TS2322" */
	const char *current_text;	/* the live enhancement's text */
	int64_t		times_used;		/* work orders that used it */
	double		error_reduction_rate;	/* 1 - rate_with / rate_without;
										 * NaN when unknown */
	const char *const *recent_failures; /* error messages still seen with it */
	size_t		recent_failure_count;
	int			max_words;
} AnthropicImprovePrompt;

typedef struct AnthropicCreatePrompt
{
	const char *error_code;
	int64_t		occurrence_count;	/* how often it was logged; < 0 unknown */
	const char *const *samples;	/* sample error messages */
	size_t		sample_count;
	int			max_words;
} AnthropicCreatePrompt;

extern char *anthropic_improve_prompt(const AnthropicImprovePrompt *input,
									  const char **error);
extern char *anthropic_create_prompt(const AnthropicCreatePrompt *input,
									 const char **error);

/* Is the answer KEEP_AS_IS (leading/trailing white space ignored, case kept)? */
extern bool anthropic_answer_is_keep(const char *text);

/* Words in text (runs of non-white-space, ASCII white space). */
extern int	anthropic_count_words(const char *text);

#endif							/* AP_ANTHROPIC_H */
