/*-------------------------------------------------------------------------
 *
 * http_client.c
 *	  POST requests to the Messages API with libcurl's multi interface: up to
 *	  N transfers at once, driven by a step function that waits at most a
 *	  second, so that the worker checks its latch and interrupts between
 *	  steps.  Plain C: no PostgreSQL headers.
 *
 *	  Every transfer ends as exactly one HttpResult, whatever happens: a
 *	  response, a transport error, a refused URL, an abort.  Each libcurl
 *	  call's return code is checked; the API key lives only in the
 *	  transfer's header list and is wiped when the transfer ends.
 *
 *-------------------------------------------------------------------------
 */
#include "http_client.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "anthropic.h"

/* Lets the compiler check format strings (PG's build asks for it). */
#if defined(__GNUC__)
#define FORMAT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define FORMAT_PRINTF(f, a)
#endif

#define HTTP_USER_AGENT "adaptive_prompts/" AP_EXTVERSION
#define HTTP_HEADER_VALUE_MAX 255
#define HTTP_API_KEY_HEADER "x-api-key: "

/* A result on the client's queue; the HttpResult comes first, so one free(). */
typedef struct QueuedResult
{
	HttpResult	result;
	struct QueuedResult *next;
} QueuedResult;

/* One running transfer. */
typedef struct HttpTransfer
{
	struct HttpTransfer *next;
	HttpClient *client;
	CURL	   *easy;
	CURLU	   *url;			/* the checked URL, used by the transfer */
	struct curl_slist *headers; /* holds the API key: wiped when freed */
	char	   *request_body;
	QueuedResult *queued;		/* the result being filled */
	size_t		body_capacity;
	size_t		max_response_bytes;
	bool		too_large;
	char		curl_error[CURL_ERROR_SIZE];
} HttpTransfer;

struct HttpClient
{
	CURLM	   *multi;
	int			max_concurrent;
	int			running;		/* transfers in the multi handle */
	int			waiting;		/* results queued, not yet taken */
	HttpTransfer *transfers;
	QueuedResult *results_head;
	QueuedResult *results_tail;
};

/* ----------------------------------------------------------------
 * Helpers
 * ----------------------------------------------------------------
 */

static void set_error(char *errbuf, size_t errbuf_size, const char *format,...) FORMAT_PRINTF(3, 4);
static void result_set_error(HttpResult *result, HttpErrorKind error,
							 const char *format,...) FORMAT_PRINTF(3, 4);

/* Formats a message into the caller's error buffer (if any). */
static void
set_error(char *errbuf, size_t errbuf_size, const char *format,...)
{
	va_list		args;

	if (errbuf == NULL || errbuf_size == 0)
		return;
	va_start(args, format);
	vsnprintf(errbuf, errbuf_size, format, args);
	va_end(args);
}

/* Overwrites memory in a way the compiler does not drop. */
static void
wipe(void *memory, size_t length)
{
	volatile unsigned char *p = memory;

	while (length--)
		*p++ = 0;
}

/* Wipes every string of a header list, then frees it. */
static void
free_headers(struct curl_slist *headers)
{
	struct curl_slist *item;

	for (item = headers; item != NULL; item = item->next)
		if (item->data)
			wipe(item->data, strlen(item->data));
	curl_slist_free_all(headers);
}

/* Frees a result's strings (not the result). */
static void
free_result_fields(HttpResult *result)
{
	free(result->body);
	free(result->request_id);
	free(result->retry_after);
	free(result->retry_after_ms);
	free(result->x_should_retry);
	result->body = NULL;
	result->request_id = NULL;
	result->retry_after = NULL;
	result->retry_after_ms = NULL;
	result->x_should_retry = NULL;
}

/* Frees a result handed out by http_client_next_result; NULL is fine. */
void
http_result_free(HttpResult *result)
{
	if (result == NULL)
		return;
	free_result_fields(result);
	/* result is the first member of its QueuedResult. */
	free(result);
}

/* A short name of an error kind, for logs and tables. */
const char *
http_error_kind_name(HttpErrorKind error)
{
	switch (error)
	{
		case HTTP_OK:
			return "ok";
		case HTTP_ERROR_TIMEOUT:
			return "timeout";
		case HTTP_ERROR_CONNECTION:
			return "connection_error";
		case HTTP_ERROR_TOO_LARGE:
			return "response_too_large";
		case HTTP_ERROR_URL_REFUSED:
			return "url_refused";
		case HTTP_ERROR_ABORTED:
			return "aborted";
		case HTTP_ERROR_INTERNAL:
			return "internal_error";
	}
	return "unknown";
}

/* Timeouts and connection failures may pass; the rest will not. */
bool
http_error_is_transient(HttpErrorKind error)
{
	return error == HTTP_ERROR_TIMEOUT || error == HTTP_ERROR_CONNECTION;
}

/* ----------------------------------------------------------------
 * URL policy
 * ----------------------------------------------------------------
 */

/* Is host (as libcurl's URL parser gives it) a loopback host? */
static bool
host_is_loopback(const char *host)
{
	char		address[INET6_ADDRSTRLEN + 2];
	struct in_addr ipv4;
	struct in6_addr ipv6;
	size_t		length = strlen(host);

	if (curl_strequal(host, "localhost"))
		return true;
	if (inet_pton(AF_INET, host, &ipv4) == 1)
		return (ntohl(ipv4.s_addr) >> 24) == 127;
	/* IPv6 literals come bracketed: [::1]. */
	if (length >= 2 && host[0] == '[' && host[length - 1] == ']' &&
		length - 2 < sizeof(address))
	{
		memcpy(address, host + 1, length - 2);
		address[length - 2] = '\0';
		if (inet_pton(AF_INET6, address, &ipv6) == 1)
		{
			if (IN6_IS_ADDR_LOOPBACK(&ipv6))
				return true;
			/* ::ffff:127.x.y.z */
			if (IN6_IS_ADDR_V4MAPPED(&ipv6))
				return ipv6.s6_addr[12] == 127;
		}
	}
	return false;
}

/*
 * Parses and checks url; on success *parsed holds libcurl's parsed URL
 * (the caller frees it with curl_url_cleanup) when parsed is not NULL.
 */
static bool
check_url(const char *url, CURLU **parsed, char *errbuf, size_t errbuf_size)
{
	CURLU	   *handle;
	CURLUcode	uc;
	char	   *scheme = NULL;
	char	   *host = NULL;
	bool		allowed = false;

	if (parsed)
		*parsed = NULL;
	if (url == NULL || url[0] == '\0')
	{
		set_error(errbuf, errbuf_size, "The API URL is empty.");
		return false;
	}
	handle = curl_url();
	if (handle == NULL)
	{
		set_error(errbuf, errbuf_size, "Out of memory while parsing the API URL.");
		return false;
	}
	uc = curl_url_set(handle, CURLUPART_URL, url, 0);
	if (uc != CURLUE_OK)
	{
		set_error(errbuf, errbuf_size, "The API URL is not valid: %s.",
				  curl_url_strerror(uc));
		goto done;
	}
	uc = curl_url_get(handle, CURLUPART_SCHEME, &scheme, 0);
	if (uc != CURLUE_OK)
	{
		set_error(errbuf, errbuf_size, "The API URL has no scheme: %s.",
				  curl_url_strerror(uc));
		goto done;
	}
	uc = curl_url_get(handle, CURLUPART_HOST, &host, 0);
	if (uc != CURLUE_OK)
	{
		set_error(errbuf, errbuf_size, "The API URL has no host: %s.",
				  curl_url_strerror(uc));
		goto done;
	}
	if (curl_strequal(scheme, "https"))
		allowed = true;
	else if (curl_strequal(scheme, "http"))
	{
		allowed = host_is_loopback(host);
		if (!allowed)
			set_error(errbuf, errbuf_size,
					  "Plain http:// is allowed only to a loopback host (127.0.0.0/8, ::1, localhost), not to \"%.100s\"; use https://.",
					  host);
	}
	else
		set_error(errbuf, errbuf_size,
				  "The API URL's scheme \"%.20s\" is not allowed; use https://.",
				  scheme);

done:
	curl_free(scheme);
	curl_free(host);
	if (allowed && parsed)
		*parsed = handle;
	else
		curl_url_cleanup(handle);
	return allowed;
}

/* The URL policy alone, for checking a setting early. */
bool
http_url_allowed(const char *url, char *errbuf, size_t errbuf_size)
{
	return check_url(url, NULL, errbuf, errbuf_size);
}

/* ----------------------------------------------------------------
 * libcurl callbacks
 * ----------------------------------------------------------------
 */

/* Appends body bytes; refuses (aborting the transfer) past the cap. */
static size_t
write_callback(char *data, size_t size, size_t count, void *userdata)
{
	HttpTransfer *transfer = userdata;
	HttpResult *result = &transfer->queued->result;
	size_t		length = size * count;
	size_t		needed;

	if (length > transfer->max_response_bytes - result->body_length)
	{
		transfer->too_large = true;
		return 0;				/* != length: libcurl stops with CURLE_WRITE_ERROR */
	}
	needed = result->body_length + length + 1;
	if (needed > transfer->body_capacity)
	{
		size_t		capacity = transfer->body_capacity < 4096 ? 4096 : transfer->body_capacity;
		char	   *body;

		while (capacity < needed)
			capacity *= 2;
		if (capacity > transfer->max_response_bytes + 1)
			capacity = transfer->max_response_bytes + 1;
		body = realloc(result->body, capacity);
		if (body == NULL)
			return 0;
		result->body = body;
		transfer->body_capacity = capacity;
	}
	memcpy(result->body + result->body_length, data, length);
	result->body_length += length;
	result->body[result->body_length] = '\0';
	return length;
}

/* Replaces *target with a trimmed, bounded copy of value (length bytes). */
static bool
store_header_value(char **target, const char *value, size_t length)
{
	char	   *copy;

	while (length > 0 && (*value == ' ' || *value == '\t'))
	{
		value++;
		length--;
	}
	while (length > 0 && isspace((unsigned char) value[length - 1]))
		length--;
	if (length > HTTP_HEADER_VALUE_MAX)
		length = HTTP_HEADER_VALUE_MAX;
	copy = malloc(length + 1);
	if (copy == NULL)
		return false;
	memcpy(copy, value, length);
	copy[length] = '\0';
	free(*target);
	*target = copy;
	return true;
}

/*
 * Keeps the four headers the retry rules and the logs need, of the last
 * response only (a new status line clears them: 100 Continue, redirects).
 */
static size_t
header_callback(char *data, size_t size, size_t count, void *userdata)
{
	HttpTransfer *transfer = userdata;
	HttpResult *result = &transfer->queued->result;
	size_t		length = size * count;
	static const struct
	{
		const char *name;
		size_t		offset;
	}			wanted[] =
	{
		{"request-id", offsetof(HttpResult, request_id)},
		{"retry-after", offsetof(HttpResult, retry_after)},
		{"retry-after-ms", offsetof(HttpResult, retry_after_ms)},
		{"x-should-retry", offsetof(HttpResult, x_should_retry)},
	};
	const char *colon;
	size_t		name_length;
	size_t		i;

	if (length >= 5 && memcmp(data, "HTTP/", 5) == 0)
	{
		char	   *body = result->body;
		size_t		body_length = result->body_length;

		/* Keep the body buffer; drop the previous response's headers. */
		result->body = NULL;
		free_result_fields(result);
		result->body = body;
		result->body_length = body_length;
		return length;
	}
	colon = memchr(data, ':', length);
	if (colon == NULL)
		return length;
	name_length = (size_t) (colon - data);
	for (i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++)
	{
		const char *name = wanted[i].name;

		if (strlen(name) == name_length)
		{
			size_t		j;

			for (j = 0; j < name_length; j++)
				if (tolower((unsigned char) data[j]) != name[j])
					break;
			if (j == name_length)
			{
				char	  **target = (char **) ((char *) result + wanted[i].offset);

				if (!store_header_value(target, colon + 1,
										length - name_length - 1))
					return 0;	/* out of memory: abort the transfer */
				break;
			}
		}
	}
	return length;
}

/* ----------------------------------------------------------------
 * Results and transfers
 * ----------------------------------------------------------------
 */

static void
queue_result(HttpClient *client, QueuedResult *queued)
{
	queued->next = NULL;
	if (client->results_tail)
		client->results_tail->next = queued;
	else
		client->results_head = queued;
	client->results_tail = queued;
	client->waiting++;
}

/* Sets a result's error; message is formatted, never holds the key. */
static void
result_set_error(HttpResult *result, HttpErrorKind error, const char *format,...)
{
	va_list		args;

	result->error = error;
	va_start(args, format);
	vsnprintf(result->error_message, sizeof(result->error_message), format, args);
	va_end(args);
}

/*
 * Frees a transfer's libcurl state and the key; the result stays (it is
 * queued, or freed by the caller).  The easy handle must already be out of
 * the multi handle.
 */
static void
transfer_release(HttpTransfer *transfer)
{
	if (transfer->easy)
		curl_easy_cleanup(transfer->easy);
	free_headers(transfer->headers);
	if (transfer->url)
		curl_url_cleanup(transfer->url);
	free(transfer->request_body);
	free(transfer);
}

/* Unlinks a transfer from the client's list. */
static void
transfer_unlink(HttpClient *client, HttpTransfer *transfer)
{
	HttpTransfer **link;

	for (link = &client->transfers; *link != NULL; link = &(*link)->next)
	{
		if (*link == transfer)
		{
			*link = transfer->next;
			client->running--;
			return;
		}
	}
}

/*
 * The API key must not leak through an error message: should a message
 * ever contain it, replace the message.
 */
static void
scrub_key(HttpResult *result, const struct curl_slist *headers)
{
	const struct curl_slist *item;
	size_t		prefix = strlen(HTTP_API_KEY_HEADER);

	for (item = headers; item != NULL; item = item->next)
	{
		if (item->data && strncmp(item->data, HTTP_API_KEY_HEADER, prefix) == 0 &&
			item->data[prefix] != '\0' &&
			strstr(result->error_message, item->data + prefix) != NULL)
		{
			snprintf(result->error_message, sizeof(result->error_message),
					 "The request failed (details withheld: they contained the API key).");
			return;
		}
	}
}

/* A finished transfer: fills its result from libcurl and queues it. */
static void
transfer_finish(HttpClient *client, HttpTransfer *transfer, CURLcode code)
{
	HttpResult *result = &transfer->queued->result;
	CURLMcode	mc;
	CURLcode	info;
	long		status = 0;
	curl_off_t	total_us = 0;

	info = curl_easy_getinfo(transfer->easy, CURLINFO_RESPONSE_CODE, &status);
	if (info == CURLE_OK)
		result->http_status = status;
	if (curl_easy_getinfo(transfer->easy, CURLINFO_TOTAL_TIME_T, &total_us) == CURLE_OK)
		result->elapsed_seconds = (double) total_us / 1e6;

	switch (code)
	{
		case CURLE_OK:
			result->error = HTTP_OK;
			result->error_message[0] = '\0';
			break;
		case CURLE_OPERATION_TIMEDOUT:
			result_set_error(result, HTTP_ERROR_TIMEOUT, "The request timed out: %s",
							 transfer->curl_error[0] ? transfer->curl_error
							 : curl_easy_strerror(code));
			break;
		case CURLE_FILESIZE_EXCEEDED:
			result_set_error(result, HTTP_ERROR_TOO_LARGE,
							 "The response body is larger than the limit of %zu bytes; the transfer was refused.",
							 transfer->max_response_bytes);
			break;
		case CURLE_WRITE_ERROR:
			if (transfer->too_large)
				result_set_error(result, HTTP_ERROR_TOO_LARGE,
								 "The response body is larger than the limit of %zu bytes; the transfer was aborted.",
								 transfer->max_response_bytes);
			else
				result_set_error(result, HTTP_ERROR_INTERNAL,
								 "Out of memory while receiving the response.");
			break;
		case CURLE_OUT_OF_MEMORY:
			result_set_error(result, HTTP_ERROR_INTERNAL,
							 "libcurl ran out of memory.");
			break;
		case CURLE_UNSUPPORTED_PROTOCOL:
		case CURLE_URL_MALFORMAT:
			result_set_error(result, HTTP_ERROR_URL_REFUSED, "The API URL was refused: %s",
							 transfer->curl_error[0] ? transfer->curl_error
							 : curl_easy_strerror(code));
			break;
		default:
			/* DNS, connect, TLS, reset, HTTP/2 stream errors, ... */
			result_set_error(result, HTTP_ERROR_CONNECTION, "%s: %s",
							 curl_easy_strerror(code),
							 transfer->curl_error[0] ? transfer->curl_error
							 : "no details");
			break;
	}
	if (code == CURLE_OK && info != CURLE_OK)
		result_set_error(result, HTTP_ERROR_INTERNAL,
						 "libcurl could not tell the HTTP status: %s",
						 curl_easy_strerror(info));
	scrub_key(result, transfer->headers);

	mc = curl_multi_remove_handle(client->multi, transfer->easy);
	if (mc != CURLM_OK && result->error == HTTP_OK)
		result_set_error(result, HTTP_ERROR_INTERNAL,
						 "libcurl could not remove the transfer: %s",
						 curl_multi_strerror(mc));
	transfer_unlink(client, transfer);
	queue_result(client, transfer->queued);
	transfer->queued = NULL;
	transfer_release(transfer);
}

/* Reads libcurl's completion messages. */
static void
collect_finished(HttpClient *client)
{
	CURLMsg    *message;
	int			left;

	while ((message = curl_multi_info_read(client->multi, &left)) != NULL)
	{
		HttpTransfer *transfer = NULL;
		CURL	   *easy = message->easy_handle;
		CURLcode	code = message->data.result;
		char	   *private_pointer = NULL;

		if (message->msg != CURLMSG_DONE)
			continue;
		if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, &private_pointer) == CURLE_OK)
			transfer = (HttpTransfer *) private_pointer;
		if (transfer == NULL)
		{
			/* Cannot happen: every easy handle carries its transfer. */
			for (transfer = client->transfers; transfer; transfer = transfer->next)
				if (transfer->easy == easy)
					break;
			if (transfer == NULL)
				continue;
		}
		transfer_finish(client, transfer, code);
	}
}

/* ----------------------------------------------------------------
 * The client
 * ----------------------------------------------------------------
 */

HttpClient *
http_client_create(int max_concurrent, char *errbuf, size_t errbuf_size)
{
	HttpClient *client;
	CURLMcode	mc;

	if (max_concurrent < 1 || max_concurrent > HTTP_MAX_CONCURRENT)
	{
		set_error(errbuf, errbuf_size,
				  "max_concurrent must be between 1 and %d, not %d.",
				  HTTP_MAX_CONCURRENT, max_concurrent);
		return NULL;
	}
	client = calloc(1, sizeof(HttpClient));
	if (client == NULL)
	{
		set_error(errbuf, errbuf_size, "Out of memory while creating the HTTP client.");
		return NULL;
	}
	client->max_concurrent = max_concurrent;
	client->multi = curl_multi_init();
	if (client->multi == NULL)
	{
		set_error(errbuf, errbuf_size, "libcurl could not create a multi handle.");
		free(client);
		return NULL;
	}
	/* Keep at most one idle connection per slot for reuse. */
	mc = curl_multi_setopt(client->multi, CURLMOPT_MAXCONNECTS, (long) max_concurrent);
	if (mc != CURLM_OK)
	{
		set_error(errbuf, errbuf_size, "libcurl refused CURLMOPT_MAXCONNECTS: %s",
				  curl_multi_strerror(mc));
		curl_multi_cleanup(client->multi);
		free(client);
		return NULL;
	}
	return client;
}

/* Transfers running now. */
int
http_client_running(const HttpClient *client)
{
	return client->running;
}

/* Requests accepted and not yet handed back. */
int
http_client_pending(const HttpClient *client)
{
	return client->running + client->waiting;
}

/* How many more requests http_client_add accepts now. */
int
http_client_free_slots(const HttpClient *client)
{
	return client->max_concurrent - client->running;
}

/* The header list of a request; NULL (and *why) on failure. */
static struct curl_slist *
build_headers(const char *api_key, const char **why)
{
	static const char *const fixed[] = {
		("anthropic-version: " ANTHROPIC_API_VERSION),
		"content-type: application/json",
		"accept: application/json",
		"Expect:",				/* no 100-continue round trip */
	};
	struct curl_slist *headers = NULL;
	struct curl_slist *appended;
	size_t		i;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
	{
		appended = curl_slist_append(headers, fixed[i]);
		if (appended == NULL)
		{
			*why = "Out of memory while building the request headers.";
			free_headers(headers);
			return NULL;
		}
		headers = appended;
	}
	if (api_key != NULL && api_key[0] != '\0')
	{
		size_t		key_length = strlen(api_key);
		size_t		prefix = strlen(HTTP_API_KEY_HEADER);
		char	   *line;

		for (i = 0; i < key_length; i++)
		{
			if ((unsigned char) api_key[i] < 0x20 || api_key[i] == 0x7F)
			{
				*why = "The API key contains a control character (a line break?).";
				free_headers(headers);
				return NULL;
			}
		}
		line = malloc(prefix + key_length + 1);
		if (line == NULL)
		{
			*why = "Out of memory while building the request headers.";
			free_headers(headers);
			return NULL;
		}
		memcpy(line, HTTP_API_KEY_HEADER, prefix);
		memcpy(line + prefix, api_key, key_length + 1);
		appended = curl_slist_append(headers, line);	/* copies line */
		wipe(line, prefix + key_length);
		free(line);
		if (appended == NULL)
		{
			*why = "Out of memory while building the request headers.";
			free_headers(headers);
			return NULL;
		}
		headers = appended;
	}
	return headers;
}

/* Sets one option; on failure records which and jumps to fail. */
#define SET_OPTION(option, value) \
	do { \
		code = curl_easy_setopt(transfer->easy, option, value); \
		if (code != CURLE_OK) \
		{ \
			failed_option = #option; \
			goto fail; \
		} \
	} while (0)

/* Starts a request; every failure after acceptance becomes its result. */
bool
http_client_add(HttpClient *client, const HttpRequest *request,
				char *errbuf, size_t errbuf_size)
{
	HttpTransfer *transfer;
	HttpResult *result;
	CURLcode	code = CURLE_OK;
	CURLMcode	mc;
	const char *failed_option = NULL;
	const char *why = NULL;
	char		url_error[HTTP_ERROR_MESSAGE_SIZE];
	long		connect_timeout_ms;
	char	   *scheme = NULL;
	bool		plain_http;

	if (client->running >= client->max_concurrent)
	{
		set_error(errbuf, errbuf_size, "No free slot: %d requests are running.",
				  client->running);
		return false;
	}
	transfer = calloc(1, sizeof(HttpTransfer));
	if (transfer == NULL)
	{
		set_error(errbuf, errbuf_size, "Out of memory while starting a request.");
		return false;
	}
	transfer->queued = calloc(1, sizeof(QueuedResult));
	if (transfer->queued == NULL)
	{
		free(transfer);
		set_error(errbuf, errbuf_size, "Out of memory while starting a request.");
		return false;
	}
	transfer->client = client;
	result = &transfer->queued->result;
	/* The body is a string from the start, so never NULL in a result. */
	result->body = malloc(1);
	if (result->body == NULL)
	{
		free(transfer->queued);
		free(transfer);
		set_error(errbuf, errbuf_size, "Out of memory while starting a request.");
		return false;
	}
	result->body[0] = '\0';
	transfer->body_capacity = 1;
	result->tag = request->tag;
	transfer->max_response_bytes = request->max_response_bytes > 0
		? request->max_response_bytes : HTTP_MAX_RESPONSE_BYTES;

	/* From here on, every failure is a result, handed back by a step. */
	if (!check_url(request->url, &transfer->url, url_error, sizeof(url_error)))
	{
		result_set_error(result, HTTP_ERROR_URL_REFUSED, "%s", url_error);
		goto refuse;
	}
	if (curl_url_get(transfer->url, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
	{
		result_set_error(result, HTTP_ERROR_INTERNAL, "libcurl could not read back the URL's scheme.");
		goto refuse;
	}
	plain_http = curl_strequal(scheme, "http");
	curl_free(scheme);

	transfer->headers = build_headers(request->api_key, &why);
	if (transfer->headers == NULL)
	{
		result_set_error(result, HTTP_ERROR_INTERNAL, "%s", why);
		goto refuse;
	}
	transfer->request_body = malloc(request->body_length + 1);
	if (transfer->request_body == NULL)
	{
		result_set_error(result, HTTP_ERROR_INTERNAL, "Out of memory while copying the request body.");
		goto refuse;
	}
	if (request->body_length > 0)
		memcpy(transfer->request_body, request->body, request->body_length);
	transfer->request_body[request->body_length] = '\0';

	transfer->easy = curl_easy_init();
	if (transfer->easy == NULL)
	{
		result_set_error(result, HTTP_ERROR_INTERNAL, "libcurl could not create an easy handle.");
		goto refuse;
	}

	connect_timeout_ms = request->connect_timeout_ms > 0
		? request->connect_timeout_ms : HTTP_CONNECT_TIMEOUT_MS;

	SET_OPTION(CURLOPT_ERRORBUFFER, transfer->curl_error);
	SET_OPTION(CURLOPT_PRIVATE, (void *) transfer);
	SET_OPTION(CURLOPT_NOSIGNAL, 1L);
	SET_OPTION(CURLOPT_CURLU, transfer->url);
#if LIBCURL_VERSION_NUM >= 0x075500	/* 7.85.0 */
	SET_OPTION(CURLOPT_PROTOCOLS_STR, "http,https");
	SET_OPTION(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	SET_OPTION(CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
	SET_OPTION(CURLOPT_REDIR_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	SET_OPTION(CURLOPT_FOLLOWLOCATION, 0L);
	SET_OPTION(CURLOPT_SSL_VERIFYPEER, 1L);
	SET_OPTION(CURLOPT_SSL_VERIFYHOST, 2L);
	/* Loopback stays loopback: no proxy from the environment. */
	if (plain_http)
		SET_OPTION(CURLOPT_PROXY, "");
	SET_OPTION(CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
	if (request->timeout_ms > 0)
		SET_OPTION(CURLOPT_TIMEOUT_MS, request->timeout_ms);
	SET_OPTION(CURLOPT_TCP_KEEPALIVE, 1L);
	SET_OPTION(CURLOPT_USERAGENT, HTTP_USER_AGENT);
	SET_OPTION(CURLOPT_HTTPHEADER, transfer->headers);
	SET_OPTION(CURLOPT_POST, 1L);
	SET_OPTION(CURLOPT_POSTFIELDS, transfer->request_body);
	SET_OPTION(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) request->body_length);
	/* A Content-Length over the cap is refused before the body arrives. */
	SET_OPTION(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) transfer->max_response_bytes);
	SET_OPTION(CURLOPT_WRITEFUNCTION, write_callback);
	SET_OPTION(CURLOPT_WRITEDATA, (void *) transfer);
	SET_OPTION(CURLOPT_HEADERFUNCTION, header_callback);
	SET_OPTION(CURLOPT_HEADERDATA, (void *) transfer);

	mc = curl_multi_add_handle(client->multi, transfer->easy);
	if (mc != CURLM_OK)
	{
		result_set_error(result, HTTP_ERROR_INTERNAL,
						 "libcurl could not start the transfer: %s",
						 curl_multi_strerror(mc));
		goto refuse;
	}
	transfer->next = client->transfers;
	client->transfers = transfer;
	client->running++;
	return true;

fail:
	result_set_error(result, HTTP_ERROR_INTERNAL, "libcurl refused %s: %s",
					 failed_option, curl_easy_strerror(code));
refuse:
	/* Never connected: hand the failure back as the request's result. */
	queue_result(client, transfer->queued);
	transfer->queued = NULL;
	transfer_release(transfer);
	return true;
}

#undef SET_OPTION

/* Drives the transfers for at most wait_ms and collects the finished ones. */
int
http_client_step(HttpClient *client, int wait_ms, char *errbuf, size_t errbuf_size)
{
	CURLMcode	mc;
	int			still_running = 0;

	if (wait_ms < 0)
		wait_ms = 0;
	if (wait_ms > HTTP_MAX_STEP_WAIT_MS)
		wait_ms = HTTP_MAX_STEP_WAIT_MS;
	if (client->running == 0)
		return 0;

	mc = curl_multi_perform(client->multi, &still_running);
	if (mc != CURLM_OK)
		goto fail;
	collect_finished(client);

	if (client->results_head == NULL && client->running > 0 && wait_ms > 0)
	{
		/* Returns early on activity, on a signal (EINTR) or at libcurl's own timeouts. */
		mc = curl_multi_poll(client->multi, NULL, 0, wait_ms, NULL);
		if (mc != CURLM_OK)
			goto fail;
		mc = curl_multi_perform(client->multi, &still_running);
		if (mc != CURLM_OK)
			goto fail;
		collect_finished(client);
	}
	return client->running;

fail:
	set_error(errbuf, errbuf_size, "libcurl's multi interface failed: %s",
			  curl_multi_strerror(mc));
	return -1;
}

/* Takes the oldest finished result off the queue. */
HttpResult *
http_client_next_result(HttpClient *client)
{
	QueuedResult *queued = client->results_head;

	if (queued == NULL)
		return NULL;
	client->results_head = queued->next;
	if (client->results_head == NULL)
		client->results_tail = NULL;
	client->waiting--;
	queued->next = NULL;
	return &queued->result;
}

/* Ends every running transfer now, each as an ABORTED result. */
void
http_client_abort_all(HttpClient *client)
{
	while (client->transfers != NULL)
	{
		HttpTransfer *transfer = client->transfers;
		HttpResult *result = &transfer->queued->result;
		CURLMcode	mc;

		mc = curl_multi_remove_handle(client->multi, transfer->easy);
		if (mc != CURLM_OK)
			result_set_error(result, HTTP_ERROR_ABORTED,
							 "The request was aborted (libcurl: %s).",
							 curl_multi_strerror(mc));
		else
			result_set_error(result, HTTP_ERROR_ABORTED, "The request was aborted.");
		transfer_unlink(client, transfer);
			queue_result(client, transfer->queued);
		transfer->queued = NULL;
		transfer_release(transfer);
	}
}

/* Aborts everything, drops untaken results, frees the client. */
void
http_client_destroy(HttpClient *client)
{
	HttpResult *result;
	CURLMcode	mc;

	if (client == NULL)
		return;
	http_client_abort_all(client);
	while ((result = http_client_next_result(client)) != NULL)
		http_result_free(result);
	mc = curl_multi_cleanup(client->multi);
	(void) mc;					/* nothing left to do about a failure here */
	free(client);
}
