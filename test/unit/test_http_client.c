/*
 * Tests of src/http_client.c against test/mock_anthropic.py (TAP output).
 * The program starts the mock itself (port 0, read back from a port file,
 * so no race), and a second one over TLS with a self-signed certificate
 * made by openssl at test time.  Loopback only: 192.0.2.1 (TEST-NET-1) is
 * used only to check that plain http:// to it is refused before any
 * connection.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "anthropic.h"
#include "http_client.h"
#include "tap.h"

#define API_KEY "sk-ant-test-SECRET-0123456789"

static char work_dir[] = "/tmp/ap_http_client.XXXXXX";
static char mock_path[4096];

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int
contains(const char *haystack, const char *needle)
{
	return haystack != NULL && strstr(haystack, needle) != NULL;
}

static void
write_file(const char *path, const char *text)
{
	FILE	   *f = fopen(path, "w");

	if (f == NULL)
	{
		printf("Bail out! cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

/* Starts the mock; returns its pid and sets *port, or exits with a bail-out. */
static pid_t
start_mock(const char *name, const char *cert, const char *key, int *port)
{
	char		port_file[4200];
	char		log_file[4200];
	char		err_file[4200];
	char		scenarios[4200];
	pid_t		pid;
	int			i;

	snprintf(port_file, sizeof(port_file), "%s/%s.port", work_dir, name);
	snprintf(log_file, sizeof(log_file), "%s/requests.log", work_dir);
	snprintf(err_file, sizeof(err_file), "%s/%s.err", work_dir, name);
	snprintf(scenarios, sizeof(scenarios), "%s/scenarios.json", work_dir);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
	{
		printf("Bail out! fork: %s\n", strerror(errno));
		exit(1);
	}
	if (pid == 0)
	{
		if (freopen("/dev/null", "w", stdout) == NULL ||
			freopen(err_file, "w", stderr) == NULL)
			_exit(127);
		if (cert)
			execlp("python3", "python3", mock_path, "--port", "0", "--port-file", port_file,
				   "--log", log_file, "--scenarios", scenarios, "--api-key", API_KEY,
				   "--tls-cert", cert, "--tls-key", key, (char *) NULL);
		else
			execlp("python3", "python3", mock_path, "--port", "0", "--port-file", port_file,
				   "--log", log_file, "--scenarios", scenarios, "--api-key", API_KEY,
				   (char *) NULL);
		_exit(127);
	}
	for (i = 0; i < 200; i++)
	{
		FILE	   *f = fopen(port_file, "r");

		if (f)
		{
			int			n = fscanf(f, "%d", port);

			fclose(f);
			if (n == 1 && *port > 0)
				return pid;
		}
		nanosleep(&(struct timespec) {0, 50 * 1000 * 1000}, NULL);
	}
	printf("Bail out! the mock server (%s) did not start; see %s\n", name, err_file);
	kill(pid, SIGTERM);
	exit(1);
}

static void
stop_mock(pid_t pid)
{
	if (pid > 0)
	{
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
}

/* A request body for a prompt naming an error code. */
static char *
body_for(const char *code)
{
	char		prompt[200];

	snprintf(prompt, sizeof(prompt), "Write an instruction against %s.", code);
	return anthropic_build_request("claude-test", 100, prompt, NULL);
}

/* Runs one request to completion; *seconds gets the wall time. */
static HttpResult *
run_one(HttpClient *client, const char *url, const char *key, const char *code,
		long timeout_ms, size_t max_response_bytes, double *seconds)
{
	char	   *body = body_for(code);
	HttpRequest request = {0};
	HttpResult *result = NULL;
	char		err[256];
	double		start = now_seconds();

	request.tag = 1;
	request.url = url;
	request.api_key = key;
	request.body = body;
	request.body_length = strlen(body);
	request.timeout_ms = timeout_ms;
	request.max_response_bytes = max_response_bytes;
	if (!http_client_add(client, &request, err, sizeof(err)))
	{
		printf("# add failed: %s\n", err);
		free(body);
		return NULL;
	}
	free(body);
	while ((result = http_client_next_result(client)) == NULL)
	{
		if (http_client_step(client, 1000, err, sizeof(err)) < 0)
		{
			printf("# step failed: %s\n", err);
			break;
		}
		if (now_seconds() - start > 60)
			break;
	}
	if (seconds)
		*seconds = now_seconds() - start;
	return result;
}

static int
file_contains(const char *path, const char *needle)
{
	FILE	   *f = fopen(path, "r");
	char		line[8192];
	int			found = 0;

	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

static void
test_url_policy(void)
{
	char		err[256];

	ok(http_url_allowed("https://api.anthropic.com/v1/messages", err, sizeof(err)),
	   "https to a public host allowed");
	ok(http_url_allowed("http://127.0.0.1:1/v1/messages", err, sizeof(err)) &&
	   http_url_allowed("http://127.9.8.7/", err, sizeof(err)) &&
	   http_url_allowed("http://localhost:8080/", err, sizeof(err)) &&
	   http_url_allowed("http://[::1]:8080/", err, sizeof(err)),
	   "http to 127.0.0.0/8, localhost and ::1 allowed");
	ok(!http_url_allowed("http://192.0.2.1/v1/messages", err, sizeof(err)) &&
	   contains(err, "loopback"), "http to 192.0.2.1 refused");
	ok(!http_url_allowed("http://localhost.example.com/", err, sizeof(err)) &&
	   !http_url_allowed("http://127.0.0.1.nip.io/", err, sizeof(err)) &&
	   !http_url_allowed("http://[::2]/", err, sizeof(err)) &&
	   !http_url_allowed("http://10.0.0.1/", err, sizeof(err)),
	   "http to names and addresses that only look local refused");
	ok(!http_url_allowed("ftp://127.0.0.1/", err, sizeof(err)) &&
	   !http_url_allowed("file:///etc/passwd", err, sizeof(err)),
	   "other schemes refused");
	ok(!http_url_allowed("not a url", err, sizeof(err)) &&
	   !http_url_allowed("", err, sizeof(err)) &&
	   !http_url_allowed(NULL, err, sizeof(err)), "garbage, empty and NULL URLs refused");
}

int
main(int argc, char **argv)
{
	HttpClient *client;
	HttpResult *result;
	AnthropicResponse *response;
	char		err[256];
	char		url[256];
	char		log_path[4200];
	char		scenarios[4200];
	char		cert[4200];
	char		key[4200];
	char		command[9000];
	const char *slash;
	double		seconds;
	int			port;
	int			tls_port = 0;
	pid_t		mock;
	pid_t		tls_mock = 0;
	int			have_openssl;

	(void) argc;
	/* The mock lives in test/, this program in test/unit/. */
	slash = strrchr(argv[0], '/');
	if (getenv("AP_MOCK_ANTHROPIC"))
		snprintf(mock_path, sizeof(mock_path), "%s", getenv("AP_MOCK_ANTHROPIC"));
	else
		snprintf(mock_path, sizeof(mock_path), "%.*s/../mock_anthropic.py",
				 slash ? (int) (slash - argv[0]) : 1, slash ? argv[0] : ".");
	if (mkdtemp(work_dir) == NULL)
	{
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	snprintf(log_path, sizeof(log_path), "%s/requests.log", work_dir);
	snprintf(scenarios, sizeof(scenarios), "%s/scenarios.json", work_dir);
	write_file(scenarios,
			   "{\"default\": \"text\",\n"
			   " \"TS1002\": {\"scenario\": \"429\", \"retry_after\": 3, \"failures\": 100},\n"
			   " \"TS1003\": \"huge\",\n"
			   " \"TS1004\": {\"scenario\": \"huge\", \"chunked\": true},\n"
			   " \"TS1005\": {\"scenario\": \"slow\", \"seconds\": 30},\n"
			   " \"TS1006\": {\"scenario\": \"delay\", \"seconds\": 1},\n"
			   " \"TS1007\": {\"scenario\": \"no_retry\", \"status\": 529},\n"
			   " \"TS1008\": \"413\"}\n");

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
	{
		printf("Bail out! curl_global_init failed\n");
		return 1;
	}
	mock = start_mock("plain", NULL, NULL, &port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/messages", port);

	test_url_policy();

	ok(http_client_create(0, err, sizeof(err)) == NULL && contains(err, "max_concurrent"),
	   "max_concurrent 0 refused");
	client = http_client_create(4, err, sizeof(err));
	ok(client != NULL, "client created");
	if (client == NULL)
	{
		printf("# %s\n", err);
		stop_mock(mock);
		return 1;
	}

	/* A normal answer. */
	result = run_one(client, url, API_KEY, "TS1001", 10000, 0, &seconds);
	ok(result && result->error == HTTP_OK && result->http_status == 200,
	   "normal answer: 200");
	response = result ? anthropic_parse_response((int) result->http_status, result->body,
												 result->body_length) : NULL;
	ok(response && response->ok && contains(response->text, "TS1001") &&
	   response->input_tokens > 0, "normal answer parses, text names the code");
	ok(result && result->request_id && strncmp(result->request_id, "req_", 4) == 0 &&
	   result->retry_after == NULL && result->x_should_retry == NULL,
	   "request-id header captured, absent headers NULL");
	ok(result && result->tag == 1 && result->body[result->body_length] == '\0',
	   "tag handed back, body NUL-terminated");
	anthropic_response_free(response);
	http_result_free(result);
	ok(http_client_pending(client) == 0 && http_client_free_slots(client) == 4,
	   "nothing pending after the result is taken");

	/* Through the name localhost (resolved by libcurl itself). */
	{
		char		local_url[256];

		snprintf(local_url, sizeof(local_url), "http://localhost:%d/v1/messages", port);
		result = run_one(client, local_url, API_KEY, "TS1001", 10000, 0, NULL);
		ok(result && result->error == HTTP_OK && result->http_status == 200,
		   "http://localhost works");
		http_result_free(result);
	}

	/* 429 with retry-after. */
	result = run_one(client, url, API_KEY, "TS1002", 10000, 0, NULL);
	ok(result && result->http_status == 429 && result->error == HTTP_OK &&
	   result->retry_after && strcmp(result->retry_after, "3") == 0,
	   "429: retry-after header captured");
	ok(result && anthropic_should_retry((int) result->http_status, false, result->x_should_retry) &&
	   close_to(anthropic_retry_delay(result->retry_after_ms, result->retry_after, 0, 0.0, 0.0), 3.0, 1e-9),
	   "429: retried after 3 s");
	http_result_free(result);

	/* x-should-retry: false on a 529. */
	result = run_one(client, url, API_KEY, "TS1007", 10000, 0, NULL);
	ok(result && result->http_status == 529 && result->x_should_retry &&
	   strcmp(result->x_should_retry, "false") == 0 &&
	   !anthropic_should_retry((int) result->http_status, false, result->x_should_retry),
	   "529 with x-should-retry: false is not retried");
	http_result_free(result);

	/* 413 HTML page. */
	result = run_one(client, url, API_KEY, "TS1008", 10000, 0, NULL);
	response = result ? anthropic_parse_response((int) result->http_status, result->body,
												 result->body_length) : NULL;
	ok(result && result->http_status == 413 && response && !response->ok &&
	   strcmp(response->error_type, "request_too_large") == 0,
	   "413 HTML body: request_too_large");
	anthropic_response_free(response);
	http_result_free(result);

	/* A wrong key: 401, and the key appears nowhere. */
	result = run_one(client, url, "sk-ant-WRONG-KEY-987", "TS1001", 10000, 0, NULL);
	response = result ? anthropic_parse_response((int) result->http_status, result->body,
												 result->body_length) : NULL;
	ok(result && result->http_status == 401 && response &&
	   strcmp(response->error_type, "authentication_error") == 0,
	   "wrong key: 401 authentication_error");
	ok(response && !contains(response->error_message, "WRONG-KEY") &&
	   !contains(result->body, "WRONG-KEY"), "wrong key: not echoed");
	anthropic_response_free(response);
	http_result_free(result);

	/* A key with a line break is refused before sending. */
	result = run_one(client, url, "sk-ant\r\nx-evil: 1", "TS1001", 10000, 0, NULL);
	ok(result && result->error == HTTP_ERROR_INTERNAL && result->http_status == 0 &&
	   !contains(result->error_message, "sk-ant"), "a key with a line break is refused, not echoed");
	http_result_free(result);

	/* The 1 MiB cap: by content-length, and in the write callback. */
	result = run_one(client, url, API_KEY, "TS1003", 10000, 0, NULL);
	ok(result && result->error == HTTP_ERROR_TOO_LARGE && contains(result->error_message, "1048576") &&
	   result->body_length <= HTTP_MAX_RESPONSE_BYTES,
	   "body over 1 MiB with content-length refused");
	http_result_free(result);
	result = run_one(client, url, API_KEY, "TS1004", 10000, 0, NULL);
	ok(result && result->error == HTTP_ERROR_TOO_LARGE && result->body_length <= HTTP_MAX_RESPONSE_BYTES,
	   "chunked body over 1 MiB aborted in the write callback");
	if (result && result->error != HTTP_ERROR_TOO_LARGE)
		printf("# error %s: %s\n", http_error_kind_name(result->error), result->error_message);
	ok(result && !http_error_is_transient(result->error), "too large is not retried");
	http_result_free(result);
	result = run_one(client, url, API_KEY, "TS1001", 10000, 100, NULL);
	ok(result && result->error == HTTP_ERROR_TOO_LARGE, "a smaller cap applies too");
	http_result_free(result);

	/* The total timeout. */
	result = run_one(client, url, API_KEY, "TS1005", 1500, 0, &seconds);
	printf("# slow answer ended after %.2f s (timeout 1.5 s)\n", seconds);
	ok(result && result->error == HTTP_ERROR_TIMEOUT && http_error_is_transient(result->error),
	   "slow answer times out");
	ok(seconds >= 1.4 && seconds < 3.0, "at the given timeout");
	http_result_free(result);

	/* Plain http to a non-loopback address: refused without connecting. */
	result = run_one(client, "http://192.0.2.1/v1/messages", API_KEY, "TS1001", 10000, 0, &seconds);
	ok(result && result->error == HTTP_ERROR_URL_REFUSED && contains(result->error_message, "loopback") &&
	   !http_error_is_transient(result->error), "http://192.0.2.1 refused");
	ok(seconds < 0.5 && result && result->http_status == 0 && result->elapsed_seconds == 0.0,
	   "refused before any connection");
	http_result_free(result);
	result = run_one(client, "ftp://127.0.0.1/", API_KEY, "TS1001", 10000, 0, NULL);
	ok(result && result->error == HTTP_ERROR_URL_REFUSED, "ftp:// refused");
	http_result_free(result);

	/* TLS with a self-signed certificate. */
	snprintf(cert, sizeof(cert), "%s/cert.pem", work_dir);
	snprintf(key, sizeof(key), "%s/key.pem", work_dir);
	snprintf(command, sizeof(command),
			 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
			 "-keyout %s -out %s -days 1 -subj /CN=127.0.0.1 "
			 "-addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1", key, cert);
	have_openssl = system(command) == 0;
	if (have_openssl)
	{
		char		tls_url[256];

		tls_mock = start_mock("tls", cert, key, &tls_port);
		snprintf(tls_url, sizeof(tls_url), "https://127.0.0.1:%d/v1/messages", tls_port);
		result = run_one(client, tls_url, API_KEY, "TS1001", 10000, 0, NULL);
		ok(result && result->error == HTTP_ERROR_CONNECTION && result->http_status == 0,
		   "https with a self-signed certificate refused");
		ok(result && (contains(result->error_message, "certificate") ||
					  contains(result->error_message, "SSL")),
		   "the error names the certificate");
		if (result)
			printf("# %s\n", result->error_message);
		http_result_free(result);
	}
	else
	{
		printf("ok %d # skip openssl not available\n", ++tap_test_number);
		printf("ok %d # skip openssl not available\n", ++tap_test_number);
	}

	/* 4 requests of 1 s at once. */
	{
		char	   *body = body_for("TS1006");
		HttpRequest request = {0};
		int			tags_seen = 0;
		int			done = 0;
		int			all_ok = 1;
		double		start;
		int			i;

		request.url = url;
		request.api_key = API_KEY;
		request.body = body;
		request.body_length = strlen(body);
		request.timeout_ms = 10000;
		start = now_seconds();
		for (i = 0; i < 4; i++)
		{
			request.tag = 100 + i;
			if (!http_client_add(client, &request, err, sizeof(err)))
				all_ok = 0;
		}
		ok(http_client_free_slots(client) == 0 && !http_client_add(client, &request, err, sizeof(err)) &&
		   contains(err, "No free slot"), "a fifth request is refused while 4 run");
		while (done < 4 && now_seconds() - start < 20)
		{
			if (http_client_step(client, 1000, err, sizeof(err)) < 0)
				break;
			while ((result = http_client_next_result(client)) != NULL)
			{
				done++;
				if (result->error != HTTP_OK || result->http_status != 200)
					all_ok = 0;
				if (result->tag >= 100 && result->tag < 104)
					tags_seen |= 1 << (result->tag - 100);
				http_result_free(result);
			}
		}
		seconds = now_seconds() - start;
		printf("# 4 parallel requests of 1 s each took %.2f s\n", seconds);
		ok(done == 4 && all_ok && tags_seen == 15, "4 parallel requests done, each tag once");
		ok(seconds < 3.0, "in parallel (well under the serial 4 s)");
		free(body);
	}

	/* abort_all while a request hangs. */
	{
		char	   *body = body_for("TS1005");
		HttpRequest request = {0};
		double		start;
		int			i;

		request.tag = 7;
		request.url = url;
		request.api_key = API_KEY;
		request.body = body;
		request.body_length = strlen(body);
		request.timeout_ms = 60000;
		ok(http_client_add(client, &request, err, sizeof(err)), "hanging request started");
		for (i = 0; i < 3; i++)
			http_client_step(client, 100, err, sizeof(err));
		start = now_seconds();
		http_client_abort_all(client);
		seconds = now_seconds() - start;
		result = http_client_next_result(client);
		ok(result && result->tag == 7 && result->error == HTTP_ERROR_ABORTED &&
		   http_client_running(client) == 0, "abort_all hands back the aborted request");
		ok(seconds < 0.5, "abort_all returns promptly");
		printf("# abort_all took %.3f s\n", seconds);
		http_result_free(result);
		ok(http_client_step(client, 1000, err, sizeof(err)) == 0,
		   "a step with nothing running returns at once");

		/* Destroy with a transfer still running: freed, no result leaks. */
		ok(http_client_add(client, &request, err, sizeof(err)), "another hanging request");
		http_client_step(client, 100, err, sizeof(err));
		free(body);
	}
	http_client_destroy(client);
	http_client_destroy(NULL);

	/* The mock's slow answers stopped when the client went away. */
	{
		int			i;

		for (i = 0; i < 40 && !file_contains(log_path, "\"status\": \"client_gone\""); i++)
			nanosleep(&(struct timespec) {0, 50 * 1000 * 1000}, NULL);
		ok(file_contains(log_path, "\"status\": \"client_gone\""),
		   "the mock's slow answer ends when the client goes away");
	}

	/* The mock saw the right key and never logged it. */
	ok(file_contains(log_path, "\"key_ok\": true") && !file_contains(log_path, API_KEY) &&
	   !file_contains(log_path, "WRONG-KEY"), "the mock log has no key");

	stop_mock(tls_mock);
	stop_mock(mock);
	curl_global_cleanup();
	snprintf(command, sizeof(command), "rm -rf '%s'", work_dir);
	if (system(command) != 0)
		printf("# could not remove %s\n", work_dir);
	tap_plan((size_t) tap_test_number);
	return tap_exit_status();
}
