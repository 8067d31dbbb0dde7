"""HTTP for the registry client: retries with backoff, bodies streamed from disk, redirects without credentials.

Retries: 429, 500, 502, 503, 504 and dropped connections are retried with exponential backoff and full jitter
(so many clients hitting one registry do not retry in step), a `Retry-After` given by the registry honoured,
bounded both in attempts and in the total time one request may spend waiting. A refused connection or a TLS
error is not retried: those are configuration, not load.

Redirects: a registry may send a blob GET or HEAD to other storage (S3, GCS, a CDN). The Authorization header
goes to the registry's own host only, as in Go's HTTP client and go-containerregistry.

Standard library only: shipped into the publish sandbox with registry.py.
"""
import email.utils
import http.client
import os
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import BinaryIO, Mapping, Optional, Union

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
STREAM_BLOCK = 1024 * 1024  # bytes read from disk per send: what an upload holds in memory


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6  # tries of one request, the first included
    base_seconds: float = 0.5  # the first backoff's ceiling; doubled each attempt
    max_delay_seconds: float = 30.0  # no single wait is longer, Retry-After included
    deadline_seconds: float = 300.0  # one request gives up once its retries would wait past this


def parse_retry_after(value: Optional[str], now: float) -> Optional[float]:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def backoff_seconds(attempt: int, policy: RetryPolicy, retry_after: Optional[float], random01: float) -> float:
    """The wait before try `attempt + 1` (attempt counts from 1): the registry's Retry-After if it gave one, else a
    uniformly random share of an exponentially growing ceiling ("full jitter"); never above max_delay_seconds."""
    if retry_after is not None:
        return min(retry_after, policy.max_delay_seconds)
    ceiling = min(policy.max_delay_seconds, policy.base_seconds * (2 ** (attempt - 1)))
    return random01 * ceiling


def should_retry(attempt: int, waited: float, delay: float, policy: RetryPolicy) -> bool:
    return attempt < policy.attempts and waited + delay <= policy.deadline_seconds


def is_transient(error: BaseException) -> bool:
    """A dropped or reset connection (worth another try), not a refused one or a TLS failure (configuration)."""
    reason = getattr(error, "reason", error) if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, (ssl.SSLError, ssl.CertificateError, ConnectionRefusedError, socket.gaierror)):
        return False
    return isinstance(
        reason,
        (ConnectionResetError, ConnectionAbortedError, BrokenPipeError, socket.timeout, http.client.HTTPException),
    )


def same_origin(a: str, b: str) -> bool:
    pa, pb = urllib.parse.urlsplit(a), urllib.parse.urlsplit(b)
    return (pa.scheme, pa.netloc.lower()) == (pb.scheme, pb.netloc.lower())


# ---------------------------------------------------------------------------------------------------------------
# Bodies


@dataclass(frozen=True)
class FileRange:
    """`length` bytes of a file from `offset`: a body that is read as it is sent, and can be sent again."""

    path: str
    offset: int
    length: int


Body = Union[bytes, FileRange, None]


class _RangeReader:
    """What http.client sends a body from: reads at most STREAM_BLOCK at a time, stops after the range."""

    def __init__(self, body: FileRange):
        self._file: BinaryIO = open(body.path, "rb")
        self._file.seek(body.offset)
        self._left = body.length

    def read(self, size: int = -1) -> bytes:
        # http.client asks for its 8 KiB blocksize; a bigger block (a file object may return any amount) costs far
        # fewer system calls per gigabyte and still bounds memory.
        data = self._file.read(min(STREAM_BLOCK, self._left))
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._file.close()


def body_length(body: Body) -> int:
    if body is None:
        return 0
    return body.length if isinstance(body, FileRange) else len(body)


# ---------------------------------------------------------------------------------------------------------------
# One HTTP exchange


@dataclass
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str = ""  # where the answer came from, after redirects

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), "")


class _RedirectKeepingAuthOnSameHost(urllib.request.HTTPRedirectHandler):
    # Authorization is added as an "unredirected" header, which urllib never copies to a redirect; put it back
    # only when the redirect stays on the same scheme, host and port.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        authorization = req.unredirected_hdrs.get("Authorization")
        if new is not None and authorization and same_origin(req.full_url, new.full_url):
            new.add_unredirected_header("Authorization", authorization)
        return new


_OPENER = urllib.request.build_opener(_RedirectKeepingAuthOnSameHost())


def exchange(
    method: str,
    url: str,
    body: Body,
    headers: Mapping[str, str],
    authorization: Optional[str],
    timeout: float,
) -> Response:
    """One request. HTTP errors come back as a Response; connection failures raise (see is_transient)."""
    reader = _RangeReader(body) if isinstance(body, FileRange) else None
    data = reader if isinstance(body, FileRange) else body
    all_headers = dict(headers)
    if body is not None:
        all_headers.setdefault("Content-Length", str(body_length(body)))
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    if authorization:
        request.add_unredirected_header("Authorization", authorization)
    try:
        with _OPENER.open(request, timeout=timeout) as reply:
            return Response(reply.status, dict(reply.headers), reply.read(), reply.geturl())
    except urllib.error.HTTPError as e:
        return Response(e.code, dict(e.headers or {}), e.read() or b"", e.geturl() or url)
    finally:
        if reader is not None:
            reader.close()


def now() -> float:
    return time.time()


def sleep(seconds: float) -> None:
    time.sleep(seconds)


def random01() -> float:
    return int.from_bytes(os.urandom(4), "big") / 2**32
