#!/usr/bin/env python3
"""A mock of the Anthropic Messages API for adaptive_prompts' tests.

Standard library only.  Listens on 127.0.0.1 and answers POST /v1/messages
(any path ending in /messages) like the real API does, deterministically per
request: the prompt's first TypeScript error code (TS1234) selects a
scenario from a JSON scenario file, re-read on every request, so a test can
change it while the server runs.

    mock_anthropic.py --port 0 --port-file F --log L --scenarios S
                      [--api-key KEY] [--tls-cert C --tls-key K]

--port 0 picks a free port; the chosen port is written to --port-file (by
rename, so a reader never sees half a number) once the server listens.

Scenario file (every key optional):

    {"default": "text",
     "TS2322": "keep",
     "TS2345": {"scenario": "429", "retry_after": 2, "failures": 1},
     "TS7006": {"scenario": "slow", "seconds": 30}}

A value is a scenario name or an object with "scenario" and its parameters.
Scenarios (parameters in brackets):

    text             200 with a text answer [text]
    keep             200 with KEEP_AS_IS
    429              rate_limit_error with retry-after, then success
                     [failures=1, retry_after=1, retry_after_ms, text]
    529              overloaded_error, then success [failures=1, retry_after, text]
    500              api_error, then success [failures=1, text]
    400              invalid_request_error [message]
    401              authentication_error
    413              request_too_large as an HTML page (not JSON)
    error            any error [status, type, message, should_retry]
    huge             200 with a body over 1 MiB [bytes=1200000, chunked=false:
                     true sends it without a content-length]
    malformed        200 with invalid JSON
    slow             answers after [seconds=30]; stops early when the client
                     goes away
    delay            answers a text after [seconds=1] (parallelism tests)
    no_retry         [status=500 or 529] with x-should-retry: false
    non_text_blocks  thinking and tool_use blocks around two text blocks
    null_usage       every usage field null
    max_tokens       stop_reason max_tokens (a cut-off text)
    refusal          stop_reason refusal, no content

"Then success" scenarios count attempts per error code (requests without a
code count under ""); GET /attempts shows the counts, POST /reset clears
them, GET /health answers {"ok": true}.  Every request is logged as one JSON line (time with ms, path,
code, scenario, attempt, status, whether the key matched; never the key).
Wrong headers or body get the real API's 400 / 401 answers.
"""

import argparse
import datetime
import itertools
import json
import os
import re
import select
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_VERSION = "2023-06-01"
CODE_PATTERN = re.compile(r"\bTS\d{1,5}\b")

state_lock = threading.Lock()
attempts = {}  # error code -> requests seen since the last reset
counter = itertools.count(1)
log_lock = threading.Lock()


def next_id(prefix):
    with state_lock:
        n = next(counter)
    return "%s_mock%020d" % (prefix, n)


def default_text(code):
    return ("When the compiler reports %s, check each value's type against the "
            "declared type before assigning it, and narrow union types with a "
            "type guard instead of a cast." % code)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-anthropic/1.0"

    def log_message(self, format, *args):  # quiet: we keep our own log
        pass

    # ---- output -------------------------------------------------------
    def send_body(self, status, body, content_type="application/json",
                  headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.send_header("request-id", self.request_id)
        for name, value in (headers or {}).items():
            self.send_header(name, str(value))
        self.end_headers()
        try:
            for start in range(0, len(body), 65536):
                self.wfile.write(body[start:start + 65536])
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        self.status = status

    def send_chunked(self, status, body):
        """Like send_body, without a content-length (chunked encoding)."""
        body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("request-id", self.request_id)
        self.end_headers()
        try:
            for start in range(0, len(body), 65536):
                chunk = body[start:start + 65536]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        self.status = status

    def send_error_body(self, status, error_type, message, headers=None):
        self.send_body(status, {
            "type": "error",
            "error": {"type": error_type, "message": message},
            "request_id": self.request_id,
        }, headers=headers)

    def send_message(self, text=None, stop_reason="end_turn", content=None,
                     usage=None):
        if content is None:
            content = [{"type": "text", "text": text}] if text is not None else []
        if usage is None:
            out_words = sum(len(b.get("text", "").split()) for b in content
                            if b.get("type") == "text")
            usage = {
                "input_tokens": len(self.prompt) // 4 + 1,
                "output_tokens": out_words * 2 + 1,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            }
        self.send_body(200, {
            "id": next_id("msg"),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage,
        })

    # ---- helpers ------------------------------------------------------
    def client_gone(self):
        """True when the client closed its end of the connection."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            if isinstance(self.connection, ssl.SSLSocket):
                return self.connection.pending() == 0 and not self.connection.recv(1)
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError, ssl.SSLError):
            return True

    def sleep(self, seconds):
        """Sleeps, but returns False early when the client goes away."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.client_gone():
                return False
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        return True

    def write_log(self, **fields):
        now = datetime.datetime.now(datetime.timezone.utc)
        entry = {
            "time": now.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (now.microsecond // 1000),
            "epoch": round(now.timestamp(), 3),
            "method": self.command,
            "path": self.path,
        }
        entry.update(fields)
        line = json.dumps(entry) + "\n"
        with log_lock:
            if self.server.log_path:
                with open(self.server.log_path, "a") as f:
                    f.write(line)

    def load_scenarios(self):
        path = self.server.scenarios_path
        if not path or not os.path.exists(path):
            return {}
        with open(path) as f:
            text = f.read()
        return json.loads(text) if text.strip() else {}

    # ---- requests -----------------------------------------------------
    def do_GET(self):
        self.request_id = next_id("req")
        self.prompt = ""
        self.model = ""
        if self.path == "/health":
            self.send_body(200, {"ok": True})
        elif self.path == "/attempts":
            with state_lock:
                counts = dict(attempts)
            self.send_body(200, counts)
        else:
            self.send_error_body(404, "not_found_error", "Not found")

    def do_POST(self):
        self.request_id = next_id("req")
        self.prompt = ""
        self.model = ""
        self.status = None
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""

        if self.path == "/reset":
            with state_lock:
                attempts.clear()
            self.send_body(200, {"ok": True})
            self.write_log(status=self.status, scenario="reset")
            return

        key_ok = self.headers.get("x-api-key") == self.server.api_key
        log = {"key_ok": key_ok, "request_id": self.request_id}
        try:
            self.answer(raw, key_ok, log)
        finally:
            log["status"] = self.status
            self.write_log(**log)

    def answer(self, raw, key_ok, log):
        if not self.path.endswith("/messages"):
            self.send_error_body(404, "not_found_error", "Not found")
            return
        if self.headers.get("x-api-key") is None:
            self.send_error_body(401, "authentication_error",
                                 "x-api-key header is required")
            return
        if not key_ok:
            self.send_error_body(401, "authentication_error", "invalid x-api-key")
            return
        version = self.headers.get("anthropic-version")
        if version is None:
            self.send_error_body(400, "invalid_request_error",
                                 "anthropic-version: header is required")
            return
        if version != API_VERSION:
            self.send_error_body(400, "invalid_request_error",
                                 "anthropic-version: invalid version %s" % version)
            return
        content_type = (self.headers.get("content-type") or "").split(";")[0].strip()
        if content_type != "application/json":
            self.send_error_body(400, "invalid_request_error",
                                 "content-type: must be application/json")
            return
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            self.send_error_body(400, "invalid_request_error",
                                 "There was an error parsing the body of your request.")
            return
        problem = check_body(body)
        if problem:
            self.send_error_body(400, "invalid_request_error", problem)
            return
        self.model = body["model"]
        self.prompt = body["messages"][0]["content"]
        if not isinstance(self.prompt, str):
            self.prompt = json.dumps(self.prompt)
        log["model"] = self.model
        log["max_tokens"] = body["max_tokens"]

        match = CODE_PATTERN.search(self.prompt)
        code = match.group(0) if match else None
        try:
            scenarios = self.load_scenarios()
        except (OSError, ValueError) as e:
            self.send_error_body(500, "api_error", "mock: bad scenario file: %s" % e)
            return
        chosen = scenarios.get(code) if code else None
        if chosen is None:
            chosen = scenarios.get("default", "text")
        if isinstance(chosen, str):
            chosen = {"scenario": chosen}
        name = chosen.get("scenario", "text")
        with state_lock:
            key = code or ""
            attempts[key] = attempts.get(key, 0) + 1
            attempt = attempts[key]
        log.update(code=code, scenario=name, attempt=attempt)
        self.play(name, chosen, code or "this error", attempt)

    def play(self, name, p, code, attempt):
        text = p.get("text", default_text(code))
        failures = int(p.get("failures", 1))
        if name == "text":
            self.send_message(text)
        elif name == "keep":
            self.send_message("KEEP_AS_IS")
        elif name == "429":
            if attempt <= failures:
                headers = {}
                if "retry_after_ms" in p:
                    headers["retry-after-ms"] = p["retry_after_ms"]
                if p.get("retry_after", 1) is not None:
                    headers["retry-after"] = p.get("retry_after", 1)
                self.send_error_body(429, "rate_limit_error",
                                     "Number of request tokens has exceeded your "
                                     "per-minute rate limit.", headers)
            else:
                self.send_message(text)
        elif name == "529":
            if attempt <= failures:
                headers = {}
                if "retry_after" in p:
                    headers["retry-after"] = p["retry_after"]
                self.send_error_body(529, "overloaded_error", "Overloaded", headers)
            else:
                self.send_message(text)
        elif name == "500":
            if attempt <= failures:
                self.send_error_body(500, "api_error", "Internal server error")
            else:
                self.send_message(text)
        elif name == "400":
            self.send_error_body(400, "invalid_request_error",
                                 p.get("message", "messages.0.content: prompt is too long"))
        elif name == "401":
            self.send_error_body(401, "authentication_error", "invalid x-api-key")
        elif name == "413":
            self.send_body(413, "<html>\r\n<head><title>413 Request Entity Too Large"
                           "</title></head>\r\n<body>\r\n<center><h1>413 Request "
                           "Entity Too Large</h1></center>\r\n<hr><center>cloudflare"
                           "</center>\r\n</body>\r\n</html>\r\n", "text/html")
        elif name == "error":
            headers = {}
            if "should_retry" in p:
                headers["x-should-retry"] = "true" if p["should_retry"] else "false"
            self.send_error_body(int(p.get("status", 400)),
                                 p.get("type", "invalid_request_error"),
                                 p.get("message", "mock error"), headers)
        elif name == "huge":
            size = int(p.get("bytes", 1200000))
            if p.get("chunked"):
                self.send_chunked(200, {"id": next_id("msg"), "type": "message",
                                        "role": "assistant", "model": self.model,
                                        "content": [{"type": "text", "text": "x" * size}],
                                        "stop_reason": "end_turn", "stop_sequence": None,
                                        "usage": {"input_tokens": 1, "output_tokens": 1}})
            else:
                self.send_message("x" * size)
        elif name == "malformed":
            self.send_body(200, '{"id": "msg_mock", "type": "message", "content": '
                           '[{"type": "text", "text": "cut off')
        elif name in ("slow", "delay"):
            seconds = float(p.get("seconds", 30 if name == "slow" else 1))
            if self.sleep(seconds):
                self.send_message(text)
            else:
                self.close_connection = True
                self.status = "client_gone"
        elif name == "no_retry":
            status = int(p.get("status", 500))
            self.send_error_body(status,
                                 "overloaded_error" if status == 529 else "api_error",
                                 "Overloaded" if status == 529 else "Internal server error",
                                 {"x-should-retry": "false"})
        elif name == "non_text_blocks":
            self.send_message(content=[
                {"type": "thinking", "thinking": "The user wants an instruction.",
                 "signature": "c2lnbmF0dXJl"},
                {"type": "text", "text": "Check types before assigning. "},
                {"type": "tool_use", "id": "toolu_mock", "name": "lookup",
                 "input": {"code": code}},
                {"type": "text", "text": "Narrow unions with type guards."},
                {"type": "some_future_block", "data": 1},
            ], stop_reason="end_turn")
        elif name == "null_usage":
            self.send_message(text, usage={
                "input_tokens": None, "output_tokens": None,
                "cache_creation_input_tokens": None,
                "cache_read_input_tokens": None})
        elif name == "max_tokens":
            self.send_message(" ".join(text.split()[:5]), stop_reason="max_tokens")
        elif name == "refusal":
            self.send_message(content=[], stop_reason="refusal")
        else:
            self.send_error_body(500, "api_error", "mock: unknown scenario %s" % name)


def check_body(body):
    """The first problem with a request body, in the real API's words, or None."""
    if not isinstance(body, dict):
        return "Input should be a valid dictionary"
    if "model" not in body:
        return "model: Field required"
    if not isinstance(body["model"], str) or not body["model"]:
        return "model: Input should be a valid string"
    if "max_tokens" not in body:
        return "max_tokens: Field required"
    if not isinstance(body["max_tokens"], int) or isinstance(body["max_tokens"], bool) \
            or body["max_tokens"] < 1:
        return "max_tokens: Input should be a valid integer greater than 0"
    messages = body.get("messages")
    if messages is None:
        return "messages: Field required"
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    first = messages[0]
    if not isinstance(first, dict) or first.get("role") != "user":
        return "messages.0.role: first message must use the \"user\" role"
    content = first.get("content")
    if content is None:
        return "messages.0.content: Field required"
    if isinstance(content, str) and not content:
        return "messages: text content blocks must be non-empty"
    return None


class MockServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A refused TLS handshake or a client that went away is expected.
        error = sys.exc_info()[1]
        if isinstance(error, (ssl.SSLError, ConnectionError, socket.timeout)):
            return
        super().handle_error(request, client_address)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    parser.add_argument("--log")
    parser.add_argument("--scenarios")
    parser.add_argument("--api-key", default=os.environ.get("MOCK_API_KEY", "test-key"))
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    args = parser.parse_args()

    server = MockServer(("127.0.0.1", args.port), Handler)
    server.log_path = args.log
    server.scenarios_path = args.scenarios
    server.api_key = args.api_key
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        # Handshake in the handler's thread, not in accept().
        server.socket = context.wrap_socket(server.socket, server_side=True,
                                            do_handshake_on_connect=False)
    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.port_file)
    print("mock_anthropic listening on 127.0.0.1:%d" % port, flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
