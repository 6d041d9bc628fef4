/*-------------------------------------------------------------------------
 *
 * http_client.h
 *	  The HTTP transport of the learning loop: up to N POST requests to the
 *	  Messages API at once, with libcurl's multi interface (SPEC 5).
 *
 *	  Plain C with libcurl (no PostgreSQL headers), so it is tested alone
 *	  against the mock server (test/unit/test_http_client.c).
 *
 *	  Process rules:
 *	  - curl_global_init(CURL_GLOBAL_DEFAULT) must be called once per process
 *	    before any other thread exists and before http_client_create (the
 *	    worker calls it at start; curl_global_cleanup at exit is optional).
 *	  - No handle lives in shared memory: an HttpClient belongs to the one
 *	    process (and thread) that created it.  Never use one after fork().
 *	  - CURLOPT_NOSIGNAL is set, so libcurl installs no signal handlers and
 *	    uses no alarm(); CURLOPT_VERBOSE is never set.
 *
 *	  Request rules: POST with the headers x-api-key, anthropic-version:
 *	  2023-06-01 and content-type: application/json; connect timeout 5 s,
 *	  total timeout as given; TLS peer and host verification on; only the
 *	  http and https protocols; no redirects followed; plain http:// only to
 *	  a loopback host (127.0.0.0/8, ::1, localhost), checked with libcurl's
 *	  URL parser before any connection (the transfer then uses that very
 *	  parsed URL), and without a proxy (https:// follows libcurl's usual
 *	  proxy environment variables); response bodies over the cap (1 MiB)
 *	  are refused: by Content-Length before the body arrives, else inside
 *	  the write callback, which aborts the transfer.
 *
 *	  The API key: copied into the transfer's header list only, which is
 *	  wiped and freed as soon as the transfer ends (or is aborted); libcurl
 *	  copies the header into its own send buffer while sending and frees
 *	  that itself.  The key never appears in an error message or a result.
 *
 *	  Signals: a signal (SIGTERM, SIGHUP, SIGINT) interrupts the wait in
 *	  http_client_step; a latch set by another process may not (on Linux
 *	  PostgreSQL 15 waits for its latch with a signalfd), so the worker
 *	  should keep its step waits short (<= 1 s) and check its latch between.
 *
 *	  Use (the worker's loop):
 *
 *		client = http_client_create(max_concurrent, err, sizeof(err));
 *		while (...)
 *		{
 *			while (http_client_free_slots(client) > 0 && a job is queued)
 *				http_client_add(client, &request, err, sizeof(err));
 *			if (http_client_step(client, 1000, err, sizeof(err)) < 0)
 *				... multi-level failure: http_client_abort_all, report ...
 *			while ((result = http_client_next_result(client)) != NULL)
 *			{
 *				... anthropic_parse_response(result->http_status,
 *											 result->body, result->body_length)
 *				http_result_free(result);
 *			}
 *			CHECK_FOR_INTERRUPTS / latch / postmaster death
 *		}
 *		http_client_destroy(client);
 *
 *-------------------------------------------------------------------------
 */
#ifndef AP_HTTP_CLIENT_H
#define AP_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_CONNECT_TIMEOUT_MS 5000L
#define HTTP_MAX_RESPONSE_BYTES ((size_t) 1024 * 1024)	/* 1 MiB */
#define HTTP_MAX_STEP_WAIT_MS 1000
#define HTTP_MAX_CONCURRENT 64	/* bound of http_client_create */
#define HTTP_ERROR_MESSAGE_SIZE 256

typedef struct HttpClient HttpClient;

/* What went wrong below HTTP; HTTP_OK when a response (any status) arrived. */
typedef enum HttpErrorKind
{
	HTTP_OK = 0,
	HTTP_ERROR_TIMEOUT,			/* connect or total timeout */
	HTTP_ERROR_CONNECTION,		/* DNS, connect, TLS (certificate
								 * included), reset, ... */
	HTTP_ERROR_TOO_LARGE,		/* body over the cap; transfer aborted */
	HTTP_ERROR_URL_REFUSED,		/* bad URL, scheme, or http:// to a host
								 * that is not loopback: never connected */
	HTTP_ERROR_ABORTED,			/* http_client_abort_all */
	HTTP_ERROR_INTERNAL			/* out of memory, libcurl setup failure */
} HttpErrorKind;

typedef struct HttpRequest
{
	int64_t		tag;			/* the caller's id (job id), handed back */
	const char *url;
	const char *api_key;		/* may be NULL/"" (no x-api-key header) */
	const char *body;			/* copied; body_length bytes */
	size_t		body_length;
	long		timeout_ms;		/* total; <= 0 means no total timeout */
	long		connect_timeout_ms; /* 0 = HTTP_CONNECT_TIMEOUT_MS */
	size_t		max_response_bytes; /* 0 = HTTP_MAX_RESPONSE_BYTES */
} HttpRequest;

/*
 * A finished request.  Header values are NULL when absent (only the last
 * response's headers count, e.g. not a 100 Continue's), trimmed, each cut
 * to 255 bytes.  body is NUL-terminated (body_length excludes the NUL),
 * never NULL ("" when empty); with an error it holds what arrived.
 */
typedef struct HttpResult
{
	int64_t		tag;
	long		http_status;	/* 0 when no response line arrived */
	HttpErrorKind error;
	char		error_message[HTTP_ERROR_MESSAGE_SIZE]; /* "" when HTTP_OK */
	char	   *body;
	size_t		body_length;
	char	   *request_id;		/* request-id */
	char	   *retry_after;	/* retry-after */
	char	   *retry_after_ms; /* retry-after-ms */
	char	   *x_should_retry; /* x-should-retry */
	double		elapsed_seconds;	/* the transfer's total time as libcurl
									 * measured it; 0 if it never started */
} HttpResult;

/*
 * A client running up to max_concurrent (1 .. HTTP_MAX_CONCURRENT)
 * transfers.  NULL with the reason in errbuf on failure.
 */
extern HttpClient *http_client_create(int max_concurrent,
									  char *errbuf, size_t errbuf_size);

/*
 * Frees the client: aborts the running transfers and drops the results not
 * yet taken.  NULL is allowed.
 */
extern void http_client_destroy(HttpClient *client);

/*
 * Starts a request.  True when accepted: exactly one HttpResult with its tag
 * will then come out of http_client_next_result, also when it fails at once
 * (a refused URL is a result with HTTP_ERROR_URL_REFUSED, and no connection
 * is made).  False (nothing started, reason in errbuf) only when no slot is
 * free or memory runs out.  The request's strings are copied.
 */
extern bool http_client_add(HttpClient *client, const HttpRequest *request,
							char *errbuf, size_t errbuf_size);

/*
 * Drives the transfers, waiting at most wait_ms (clamped to 0 ..
 * HTTP_MAX_STEP_WAIT_MS) for network activity; returns at once when a
 * result is waiting or nothing is running, and early when a signal
 * arrives.  Returns the number of transfers still running, or -1 on a
 * multi-level libcurl failure (message in errbuf; the caller should then
 * http_client_abort_all).
 */
extern int	http_client_step(HttpClient *client, int wait_ms,
							 char *errbuf, size_t errbuf_size);

/* The next finished request (caller frees it with http_result_free), or NULL. */
extern HttpResult *http_client_next_result(HttpClient *client);

extern void http_result_free(HttpResult *result);

/*
 * Stops every running transfer at once; each becomes a result with
 * HTTP_ERROR_ABORTED (so the caller learns which tags to requeue).
 */
extern void http_client_abort_all(HttpClient *client);

/* Transfers running now (accepted, not finished yet). */
extern int	http_client_running(const HttpClient *client);

/*
 * Requests accepted and not yet handed back by http_client_next_result
 * (running plus finished-and-waiting).
 */
extern int	http_client_pending(const HttpClient *client);

/*
 * Slots free for http_client_add: max_concurrent - running.  A finished
 * result waiting to be taken holds no slot.
 */
extern int	http_client_free_slots(const HttpClient *client);

/* Should a failed transfer be retried (timeouts and connection errors)? */
extern bool http_error_is_transient(HttpErrorKind error);

/* A short name of an error kind ("timeout", "connection", ...). */
extern const char *http_error_kind_name(HttpErrorKind error);

/*
 * Is url acceptable (http or https; http only to a loopback host)?  The
 * same check http_client_add makes; errbuf says why not.  For the worker
 * to refuse a bad adaptive_prompts.api_url early (e.g. in a GUC check).
 */
extern bool http_url_allowed(const char *url, char *errbuf, size_t errbuf_size);

#endif							/* AP_HTTP_CLIENT_H */
