# The runtime wrapper of a Python function: a ThreadingHTTPServer on $PORT that imports handler.py once and calls
# handler(request) for each request. Standard library only; run as `python3 /app/.pier/function/wrapper.py`.
# The handler returns str, bytes, a dict or list (JSON), None (204), or a tuple (status, body) /
# (status, headers, body). Errors become 500s with a request id and one JSON log line with the traceback; a handler
# running past PIER_FUNCTION_TIMEOUT_MS gets a 504; SIGTERM finishes in-flight requests. A handler that cannot be
# imported exits 1 with the import error as the last line, so the deployment fails with it.
import importlib
import json
import os
import re
import signal
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# Answered by the wrapper itself (never the handler): the platform's HTTP health check of a function.
HEALTH_PATH = "/.pier/health"
SANE_ID = re.compile(r"^[A-Za-z0-9._:@+=-]{1,128}$")
APP_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def log(level, msg, **fields):
    """One structured log line on stderr; dropped when nobody reads it any more (the instance keeps serving)."""
    try:
        sys.stderr.write(json.dumps({"level": level, "msg": msg, **fields}) + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        # Later lines (and the interpreter's flush at exit, which would make the exit code 120) go nowhere.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stderr.fileno())
        except (OSError, ValueError):
            pass


def int_at_least(raw, minimum, fallback):
    try:
        n = int(raw or "")
        return n if n >= minimum else fallback
    except ValueError:
        return fallback


class Request:
    """What handler(request) receives: method, url, path, query (name -> first value), headers (lower-case), body."""

    def __init__(self, method, url, path, query, headers, body, request_id):
        self.method = method
        self.url = url
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.request_id = request_id

    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        return json.loads(self.body or b"null")


def to_response(result):
    """(status, headers, body bytes) of what the handler returned."""
    status, headers, body = 200, {}, result
    if isinstance(result, tuple):
        if len(result) == 2:
            status, body = result
        elif len(result) == 3:
            status, headers, body = result
        else:
            raise TypeError("a tuple result must be (status, body) or (status, headers, body)")
    headers = {str(k): str(v) for k, v in dict(headers or {}).items()}
    lower = {k.lower() for k in headers}
    if body is None:
        return (204 if status == 200 else int(status)), headers, b""
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        ctype = "application/json"
    elif isinstance(body, str):
        body = body.encode()
        ctype = "text/plain; charset=utf-8"
    elif isinstance(body, (bytes, bytearray)):
        body = bytes(body)
        ctype = "application/octet-stream"
    else:
        raise TypeError(f"the handler returned {type(body).__name__}; return str, bytes, dict, list, None or a tuple")
    if "content-type" not in lower:
        headers["Content-Type"] = ctype
    return int(status), headers, body


def make_server(handler, port, timeout_ms, host=""):
    """The HTTP server calling `handler`; the caller runs serve_forever()."""

    class FunctionRequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body are separate writes: without TCP_NODELAY, Nagle + delayed ACK add ~40 ms per response.
        disable_nagle_algorithm = True

        def log_message(self, format, *args):  # noqa: A002 - the base class's signature
            pass  # the edge records access; only errors are logged here

        def handle_any(self):
            if self.path == HEALTH_PATH:
                return self.send_plain(200, b"ok\n")
            given = self.headers.get("x-request-id", "")
            request_id = given if SANE_ID.match(given) else str(uuid.uuid4())
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            parts = urlsplit(self.path)
            host_header = self.headers.get("host", "localhost")
            request = Request(
                self.command, f"http://{host_header}{self.path}", parts.path,
                {k: v[0] for k, v in parse_qs(parts.query).items()},
                {k.lower(): v for k, v in self.headers.items()}, body, request_id,
            )
            outcome = {}
            with server.idle:
                server.in_flight += 1
            try:
                self.serve_one(request, request_id, parts.path, outcome)
            finally:
                with server.idle:
                    server.in_flight -= 1
                    server.idle.notify_all()

        def serve_one(self, request, request_id, path, outcome):
            def call():
                try:
                    outcome["response"] = to_response(handler(request))
                except BaseException as err:  # noqa: BLE001 - user code may raise anything
                    outcome["error"] = err
                    outcome["stack"] = traceback.format_exc()

            worker = threading.Thread(target=call, daemon=True)
            worker.start()
            worker.join(timeout_ms / 1000)
            if worker.is_alive():
                log("error", "handler timed out", request_id=request_id, method=self.command, path=path, timeout_ms=timeout_ms)
                return self.send_text(504, request_id, f"Gateway Timeout: the function did not answer within {timeout_ms} ms")
            if "error" in outcome:
                err = outcome["error"]
                log("error", "handler threw", request_id=request_id, method=self.command, path=path,
                    error=f"{type(err).__name__}: {err}", stack=outcome["stack"])
                return self.send_text(500, request_id, "Internal Server Error")
            status, headers, data = outcome["response"]
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            if server.closing:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def send_text(self, status, request_id, text):
            self.send_plain(status, f"{text} (request id {request_id})\n".encode(), request_id)

        def send_plain(self, status, data, request_id=None):
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            if request_id:
                self.send_header("x-request-id", request_id)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any

    class Server(ThreadingHTTPServer):
        # Idle keep-alive threads must not hold up shutdown: in-flight requests are counted and awaited instead.
        daemon_threads = True
        block_on_close = False
        closing = False
        in_flight = 0
        idle = threading.Condition()

    server = Server((host, port), FunctionRequestHandler)
    return server


def load_handler():
    sys.path.insert(0, APP_DIR)
    module = importlib.import_module("handler")
    fn = getattr(module, "handler", None)
    if not callable(fn):
        raise TypeError("handler.py defines no handler(request) function")
    return fn


def main():
    started = time.monotonic()
    try:
        handler = load_handler()
    except BaseException as err:  # noqa: BLE001 - any import failure fails the deployment with its message
        traceback.print_exc()
        # The last line is what the platform shows as the instance's (and so the deployment's) error.
        first = str(err).splitlines()[0] if str(err) else ""
        sys.stderr.write(f"cannot load the function handler: {type(err).__name__}: {first}\n")
        sys.stderr.flush()
        sys.exit(1)
    port = int_at_least(os.environ.get("PORT"), 0, 8000)
    server = make_server(handler, port, int_at_least(os.environ.get("PIER_FUNCTION_TIMEOUT_MS"), 1, 30000))

    def on_term(_signum, _frame):
        server.closing = True
        log("info", "SIGTERM: finishing in-flight requests")
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    log("info", "function ready", port=server.server_address[1], load_ms=round((time.monotonic() - started) * 1000))
    server.serve_forever(poll_interval=0.2)
    with server.idle:
        server.idle.wait_for(lambda: server.in_flight == 0)
    server.server_close()


if __name__ == "__main__":
    main()
