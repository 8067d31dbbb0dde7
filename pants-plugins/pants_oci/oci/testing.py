"""Test fixtures for the registry client, all on 127.0.0.1: small synthetic OCI layouts (built with the plugin's
own model code), a proxy in front of a real registry that counts and injects faults, and a token service issuing
the JWTs a distribution registry with `auth: token` verifies."""
import base64
import contextlib
import hashlib
import http.client
import http.server
import json
import socket
import struct
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from pants_oci.oci.model import (
    MEDIA_TYPE_LAYER_GZIP,
    MEDIA_TYPE_LAYER_ZSTD,
    Descriptor,
    ImageConfig,
    Layer,
    blob_path,
    build_image,
    layout_metadata,
)
from pants_oci.oci.tarball import Entry, gzip_bytes, write_tar
from pants_oci.tools.testing import docker_registry, openssl_env, skopeo, tool

# ---------------------------------------------------------------------------------------------------------------
# Layouts


def noise(seed: str, size: int) -> bytes:
    """Incompressible bytes, the same for the same seed: a layer that really is `size` bytes on the wire."""
    blocks = (hashlib.sha256(f"{seed}{i}".encode()).digest() for i in range(size // 32 + 1))
    return b"".join(blocks)[:size]


def layer(name: str, payload: bytes, zstd: bool = False) -> Tuple[Layer, bytes]:
    """A layer of one file, gzip (or zstd, with the zstd program of the test tools), and its blob."""
    tar = write_tar([Entry(f"data/{name}", payload)])
    if zstd:
        blob = subprocess.run([tool("zstd"), "-19", "-q", "-c"], input=tar, check=True, capture_output=True).stdout
    else:
        blob = gzip_bytes(tar)
    descriptor = Descriptor.of(MEDIA_TYPE_LAYER_ZSTD if zstd else MEDIA_TYPE_LAYER_GZIP, blob)
    return Layer(descriptor, "sha256:" + hashlib.sha256(tar).hexdigest(), f"test {name}"), blob


def write_files(root: Path, files: Dict[str, bytes]) -> Path:
    for path, content in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content)
    return root


def write_layout(root: Path, layers: Sequence[Tuple[Layer, bytes]], tags: Sequence[str] = ("1.0",)) -> Path:
    image = build_image(ImageConfig("amd64", user="65532:65532", cmd=("/bin/true",)), [lay for lay, _ in layers])
    files = layout_metadata(image, list(tags))
    files.update({blob_path(lay.descriptor.digest): blob for lay, blob in layers})
    return write_files(root, files)


def manifest_digest(layout: Path) -> str:
    return json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]


def skopeo_digest(reference: str, *flags: str) -> str:
    """The digest of what `reference` names in a registry on 127.0.0.1, as skopeo reads it."""
    out = subprocess.run(
        [*skopeo(), "inspect", "--tls-verify=false", *flags, f"docker://{reference}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)["Digest"]


def tag_digest(address: str, repository_path: str, tag: str) -> Optional[str]:
    """What a tag names on an open registry (HEAD, straight to the registry), or None."""
    connection = http.client.HTTPConnection(address, timeout=10)
    accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"
    connection.request("HEAD", f"/v2/{repository_path}/manifests/{tag}", headers={"Accept": accept})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.getheader("Docker-Content-Digest") if response.status == 200 else None


@contextlib.contextmanager
def alice_registry(workdir: Path) -> Iterator[str]:
    """docker-registry with htpasswd Basic auth and one user, alice with the password `secret`."""
    workdir.mkdir(parents=True, exist_ok=True)
    entry = subprocess.run([tool("htpasswd"), "-Bbn", "alice", "secret"], check=True, capture_output=True, text=True)
    with docker_registry(workdir, entry.stdout) as address:
        yield address


# ---------------------------------------------------------------------------------------------------------------
# A proxy in front of the registry


@dataclass
class Exchange:
    method: str
    path: str  # with the query
    status: int  # 0: the connection was reset


# Decides a request's fate before it reaches the registry: None (forward it), an HTTP status to answer instead,
# (status, Retry-After seconds), or "reset".
FaultRule = Callable[[str, str, List[Exchange]], object]


@dataclass
class Proxy:
    address: str
    exchanges: List[Exchange] = field(default_factory=list)

    def count(self, method: str, contains: str = "", status: Optional[int] = None) -> int:
        return sum(
            1
            for e in self.exchanges
            if e.method == method and contains in e.path and (status is None or e.status == status)
        )


def _handler(registry: str, rule: FaultRule, record: List[Exchange]) -> type:
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with lock:
                fate = rule(self.command, self.path, list(record))
            if fate == "reset":
                with lock:
                    record.append(Exchange(self.command, self.path, 0))
                # SO_LINGER 0: close with a TCP reset, what a load balancer dropping the connection looks like.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
                return
            if fate is not None:
                status, retry_after = fate if isinstance(fate, tuple) else (fate, None)
                self._answer(status, {"Retry-After": str(retry_after)} if retry_after is not None else {}, b"")
                return
            upstream = http.client.HTTPConnection(registry, timeout=30)
            # The Host header is passed on, so the registry's Location headers point back at the proxy.
            upstream.request(self.command, self.path, body or None, dict(self.headers.items()))
            reply = upstream.getresponse()
            content = reply.read()
            upstream.close()
            hop = {"connection", "transfer-encoding", "keep-alive", "content-length"}
            headers = {k: v for k, v in reply.getheaders() if k.lower() not in hop}
            if self.command == "HEAD":
                headers["Content-Length"] = reply.getheader("Content-Length", "0")
            self._answer(reply.status, headers, content)

        def _answer(self, status: int, headers: Dict[str, str], content: bytes) -> None:
            with lock:
                record.append(Exchange(self.command, self.path, status))
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(content)

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _relay

        def finish(self) -> None:
            try:
                super().finish()
            except (OSError, ValueError):  # the socket a reset closed
                pass

        def log_message(self, *args) -> None:
            pass

    return Handler


@contextlib.contextmanager
def proxy(registry: str, rule: FaultRule = lambda method, path, seen: None) -> Iterator[Proxy]:
    record: List[Exchange] = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(registry, rule, record))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Proxy(f"127.0.0.1:{server.server_address[1]}", record)
    finally:
        server.shutdown()
        server.server_close()


def once_per_kind(faults: Dict[Tuple[str, str], object]) -> FaultRule:
    """The first request of each (method, path fragment) gets its fault; every later one goes through. Bounded:
    at most one fault per entry."""

    def rule(method: str, path: str, seen: List[Exchange]) -> object:
        for (kind, fragment), fault in faults.items():
            if method == kind and fragment in path and not any(e.method == kind and fragment in e.path for e in seen):
                return fault
        return None

    return rule


# ---------------------------------------------------------------------------------------------------------------
# A token service for `auth: token`


@dataclass
class TokenService:
    realm: str
    service: str
    issuer: str
    certificate: Path  # the registry's rootcertbundle
    requests: List[Tuple[str, Tuple[str, ...]]]  # (who asked: a user name or "anonymous", scopes asked)


# The refresh token the service takes for alice in the OAuth2 flow (what `identitytoken` holds).
ALICE_REFRESH_TOKEN = "alice-refresh-token"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def granted(scopes: Sequence[str], user: Optional[str]) -> List[dict]:
    """alice may pull and push anything but `private/...`; anonymous requests get nothing."""
    if user != "alice":
        return []
    access = []
    for scope in scopes:
        kind, name, actions = scope.split(":", 2) if scope.count(":") >= 2 else ("", "", "")
        if kind == "repository" and not name.startswith("private/"):
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
    return access


@contextlib.contextmanager
def token_service(workdir: Path, lifetime: float = 300) -> Iterator[TokenService]:
    """Issues RS256 JWTs signed with a fresh key whose self-signed certificate goes in the x5c header and in the
    registry's rootcertbundle. `lifetime` may be short: the registry allows 60 s of clock skew past `exp`."""
    key, certificate = workdir / "token.key", workdir / "token.crt"
    subprocess.run(
        [tool("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-issuer"]
        + ["-keyout", str(key), "-out", str(certificate)],
        check=True,
        capture_output=True,
        env=openssl_env(),
    )
    der = "".join(line for line in certificate.read_text().splitlines() if not line.startswith("-----"))
    requests: List[Tuple[str, Tuple[str, ...]]] = []
    service, issuer = "test-registry", "test-issuer"

    def sign(claims: dict) -> str:
        header = {"typ": "JWT", "alg": "RS256", "x5c": [der]}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = subprocess.run(
            [tool("openssl"), "dgst", "-sha256", "-sign", str(key)],
            input=signing_input.encode(),
            check=True,
            capture_output=True,
            env=openssl_env(),
        ).stdout
        return f"{signing_input}.{_b64url(signature)}"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            """The docker token flow: Basic credentials (or none) and the scopes in the query."""
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            user = None
            authorization = self.headers.get("Authorization", "")
            if authorization.startswith("Basic "):
                name, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
                if (name, password) != ("alice", "secret"):
                    self._reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad password"}]})
                    return
                user = name
            self._issue(user, tuple(query.get("scope", [])), query.get("service", [""])[0], "token")

        def do_POST(self) -> None:
            """The OAuth2 flow for identity tokens: grant_type=refresh_token in a form, scopes space-separated."""
            length = int(self.headers.get("Content-Length") or 0)
            form = urllib.parse.parse_qs(self.rfile.read(length).decode())
            if form.get("grant_type") != ["refresh_token"] or form.get("refresh_token") != [ALICE_REFRESH_TOKEN]:
                self._reply(401, {"error": "invalid_grant"})
                return
            scopes = tuple(form.get("scope", [""])[0].split())
            self._issue("alice (identity token)", scopes, form.get("service", [""])[0], "access_token")

        def _issue(self, who: Optional[str], scopes: Tuple[str, ...], audience: str, key: str) -> None:
            requests.append((who or "anonymous", scopes))
            user = who.split()[0] if who else None
            now = int(time.time())
            claims = {
                "iss": issuer,
                "sub": user or "",
                "aud": audience,
                # Past exp the registry still takes a token for 60 s (its clock-skew leeway): a token meant to
                # live `lifetime` seconds says so.
                "exp": now + int(lifetime) - 60,
                "nbf": now - 1,
                "iat": now,
                "jti": f"{now}-{len(requests)}",
                "access": granted(scopes, user),
            }
            self._reply(200, {key: sign(claims), "expires_in": int(lifetime)})

        def _reply(self, status: int, document: dict) -> None:
            content = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield TokenService(f"http://127.0.0.1:{server.server_address[1]}/token", service, issuer, certificate, requests)
    finally:
        server.shutdown()
        server.server_close()
