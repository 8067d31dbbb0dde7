import contextlib
import email.utils
import http.server
import threading
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

from pants_oci.oci import transport
from pants_oci.oci.transport import (
    FileRange,
    RetryPolicy,
    backoff_seconds,
    exchange,
    is_transient,
    parse_retry_after,
    same_origin,
    should_retry,
)


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert parse_retry_after("7", now=0) == 7.0
    assert parse_retry_after(email.utils.formatdate(1000.0, usegmt=True), now=990.0) == pytest.approx(10.0)
    assert parse_retry_after(email.utils.formatdate(1000.0, usegmt=True), now=2000.0) == 0.0
    assert parse_retry_after(None, now=0) is None and parse_retry_after("soon", now=0) is None


def test_backoff_grows_exponentially_with_full_jitter_and_is_capped() -> None:
    policy = RetryPolicy(base_seconds=0.5, max_delay_seconds=4)
    assert [backoff_seconds(a, policy, None, 1.0) for a in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert backoff_seconds(3, policy, None, 0.25) == 0.5
    assert backoff_seconds(1, policy, 3.0, 0.0) == 3.0, "the registry's Retry-After, not jitter"
    assert backoff_seconds(1, policy, 60.0, 0.0) == 4.0, "but never above the cap"


def test_retries_are_bounded_in_count_and_time() -> None:
    policy = RetryPolicy(attempts=3, deadline_seconds=10)
    assert should_retry(1, 0, 1, policy) and should_retry(2, 1, 1, policy)
    assert not should_retry(3, 2, 1, policy), "the third try was the last"
    assert not should_retry(1, 9.5, 1, policy), "the wait would pass the deadline"


def test_resets_are_transient_refusals_and_tls_are_not() -> None:
    import ssl
    import urllib.error

    assert is_transient(ConnectionResetError()) and is_transient(urllib.error.URLError(ConnectionResetError()))
    assert not is_transient(urllib.error.URLError(ConnectionRefusedError()))
    assert not is_transient(urllib.error.URLError(ssl.SSLError()))


def test_same_origin() -> None:
    assert same_origin("http://127.0.0.1:5000/v2/a", "http://127.0.0.1:5000/b")
    assert not same_origin("http://127.0.0.1:5000/v2/a", "http://127.0.0.1:5001/v2/a")
    assert not same_origin("https://r.example/a", "http://r.example/a")


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Redirects /away to the other server and /here to itself; records every request's Authorization and body."""

    seen: List[Tuple[int, str, str, int]] = []
    other_port = 0

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        port = self.connection.getsockname()[1]  # the server's port (typeshed types server_address loosely)
        self.seen.append((port, self.path, self.headers.get("Authorization", ""), len(body)))
        if self.path in ("/away", "/here"):
            target = self.other_port if self.path == "/away" else port
            self.send_response(307)
            self.send_header("Location", f"http://127.0.0.1:{target}/landed")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_PUT = _answer

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def _servers() -> Iterator[Tuple[int, int]]:
    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder) for _ in range(2)]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    _Recorder.other_port = servers[1].server_address[1]
    _Recorder.seen = []
    try:
        yield servers[0].server_address[1], servers[1].server_address[1]
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()


def test_authorization_follows_a_redirect_on_the_same_host_only() -> None:
    with _servers() as (registry, storage):
        exchange("GET", f"http://127.0.0.1:{registry}/away", None, {}, "Bearer secret", 5)
        exchange("GET", f"http://127.0.0.1:{registry}/here", None, {}, "Bearer secret", 5)
    assert _Recorder.seen == [
        (registry, "/away", "Bearer secret", 0),
        (storage, "/landed", "", 0),  # blob storage elsewhere never sees the registry's token
        (registry, "/here", "Bearer secret", 0),
        (registry, "/landed", "Bearer secret", 0),
    ]


def test_a_file_range_is_sent_from_disk_in_bounded_blocks(tmp_path: Path, monkeypatch) -> None:
    blob = tmp_path / "blob"
    blob.write_bytes(bytes(range(256)) * 40_000)  # 10 MB
    monkeypatch.setattr(transport, "STREAM_BLOCK", 64 * 1024)
    reads: List[int] = []
    real_read = transport._RangeReader.read
    monkeypatch.setattr(transport._RangeReader, "read", lambda self, size=-1: _count(reads, real_read(self, size)))
    with _servers() as (registry, _):
        exchange("PUT", f"http://127.0.0.1:{registry}/blob", FileRange(str(blob), 100, 3_000_000), {}, None, 5)
    assert _Recorder.seen == [(registry, "/blob", "", 3_000_000)]
    assert max(reads) == 64 * 1024 and sum(reads) == 3_000_000


def _count(reads: List[int], data: bytes) -> bytes:
    reads.append(len(data))
    return data
