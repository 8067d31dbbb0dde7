"""http_api: a small JSON HTTP service on the standard library's threading HTTP server.

    GET  /healthz            -> {"status": "ok", "python": "3.13.5", "pydantic_core": "2.23.4"}
    POST /stats  (text body) -> text statistics from the shared textstats library
    POST /stats  (JSON body {"text": "...", "top": 5}, Content-Type: application/json) -> the same, validated

Requests with a JSON body are validated by pydantic, whose core is a native extension (pydantic-core ships one
wheel per CPython version), so the image proves that per-version native wheels install on its 3.13 runtime.

It listens on $PORT (default 8080) on all interfaces, logs one line per request to stdout, and writes nothing
to disk, so it runs as a non-root user on a read-only root filesystem.
"""
import json
import os
import platform
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional, Tuple

import pydantic_core  # pants: no-infer-dep (pydantic-core comes with pydantic)
from pydantic import BaseModel, Field, ValidationError

from textstats.stats import text_stats

MAX_BODY = 1 << 20


class StatsRequest(BaseModel):
    text: str
    top: int = Field(default=3, ge=1, le=50)


def _stats(body: bytes, content_type: str) -> Tuple[int, dict]:
    if content_type.split(";")[0].strip() == "application/json":
        try:
            request = StatsRequest.model_validate_json(body)
        except ValidationError as e:
            return 422, {"error": "invalid request", "details": e.errors(include_url=False, include_context=False)}
        return 200, text_stats(request.text, top=request.top)
    try:
        return 200, text_stats(body.decode("utf-8"))
    except UnicodeDecodeError:
        return 400, {"error": "the body must be UTF-8 text"}


def route(method: str, path: str, body: bytes, content_type: str = "text/plain") -> Tuple[int, dict]:
    """The service's behaviour, without sockets: (status, JSON document)."""
    if method == "GET" and path == "/healthz":
        return 200, {"status": "ok", "python": platform.python_version(), "pydantic_core": pydantic_core.__version__}
    if method == "POST" and path == "/stats":
        return _stats(body, content_type)
    return 404, {"error": f"no route for {method} {path}"}


class Handler(BaseHTTPRequestHandler):
    server_version = "http_api/1.0"

    def _respond(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            status, document = 413, {"error": f"body over {MAX_BODY} bytes"}
        else:
            body = self.rfile.read(length) if length else b""
            status, document = route(method, self.path, body, self.headers.get("Content-Type", "text/plain"))
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
