"""http_api: a small JSON HTTP service on the standard library's threading HTTP server.

    GET  /healthz            -> {"status": "ok", "python": "3.11.2"}
    POST /stats  (text body) -> text statistics from the shared textstats library

It listens on $PORT (default 8080) on all interfaces, logs one line per request to stdout, and writes nothing
to disk, so it runs as a non-root user on a read-only root filesystem.
"""
import json
import os
import platform
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional, Tuple

from textstats.stats import text_stats

MAX_BODY = 1 << 20


def route(method: str, path: str, body: bytes) -> Tuple[int, dict]:
    """The service's behaviour, without sockets: (status, JSON document)."""
    if method == "GET" and path == "/healthz":
        return 200, {"status": "ok", "python": platform.python_version()}
    if method == "POST" and path == "/stats":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return 400, {"error": "the body must be UTF-8 text"}
        return 200, text_stats(text)
    return 404, {"error": f"no route for {method} {path}"}


class Handler(BaseHTTPRequestHandler):
    server_version = "http_api/1.0"

    def _respond(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            status, document = 413, {"error": f"body over {MAX_BODY} bytes"}
        else:
            status, document = route(method, self.path, self.rfile.read(length) if length else b"")
        payload = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._respond("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._respond("POST")

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        sys.stdout.write(f"{self.address_string()} {format % args}\n")
        sys.stdout.flush()


def serve(port: Optional[int] = None) -> ThreadingHTTPServer:
    return ThreadingHTTPServer(("0.0.0.0", port if port is not None else int(os.environ.get("PORT", "8080"))), Handler)


def main() -> int:
    server = serve()
    print(f"http_api listening on :{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0
