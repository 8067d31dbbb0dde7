"""Push an OCI image layout to a registry over the distribution spec's HTTP API v2, without a daemon.

    python -m pants_oci.oci.registry LAYOUT_DIR REPOSITORY TAG [TAG ...] [--plain-http-localhost]
        [--chunk-size BYTES]

Standard library only: `./pants publish` runs it with Pants' own interpreter. The order makes a failed push
harmless: every blob first (skipping those the registry already has: HEAD, then a monolithic PUT, or
PATCH chunks for big blobs), then the manifest by digest, and only then each tag. So no tag ever names an
image whose blobs are not all there. A multi-platform layout (index.json names an image index) goes the same
way: the blobs of every platform, each once, then each platform's manifest by digest, then the index by digest,
and only then the tags, which name the index.

Credentials: OCI_REGISTRY_USERNAME / OCI_REGISTRY_PASSWORD, else the registry's entry in the Docker config
(`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`) or podman's (`$REGISTRY_AUTH_FILE`,
`$XDG_RUNTIME_DIR/containers/auth.json`). Basic and Bearer-token challenges are both answered.
HTTPS always, except for a registry on localhost when --plain-http-localhost is given.
"""
import argparse
import base64
import hashlib
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Tuple

MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")
DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024
EXIT_PUSH_FAILED = 2


class PushError(Exception):
    """A push that cannot succeed; the message says what the registry said and what to do."""


# ---------------------------------------------------------------------------------------------------------------
# Pure parts: references, credentials, challenges


def split_repository(repository: str) -> Tuple[str, str]:
    """'registry.example.com:5000/acme/app' -> ('registry.example.com:5000', 'acme/app')."""
    host, _, path = repository.partition("/")
    if not path or not ("." in host or ":" in host or host == "localhost"):
        raise PushError(
            f"The repository {repository!r} names no registry: to publish, it must start with the registry's host, "
            f"e.g. 'registry.example.com/{repository}' or 'localhost:5000/{repository}'."
        )
    return host, path


def is_local(host: str) -> bool:
    return host.rsplit(":", 1)[0] in LOCAL_HOSTS or host.startswith("[::1]")


def base_url(host: str, plain_http_localhost: bool) -> str:
    if plain_http_localhost and is_local(host):
        return f"http://{host}"
    return f"https://{host}"


def credentials_from(
    host: str, env: Mapping[str, str], auth_files: Mapping[str, str]
) -> Optional[Tuple[str, str, str]]:
    """(username, password, where they came from), or None. `auth_files` maps a path to its JSON text."""
    if env.get("OCI_REGISTRY_USERNAME"):
        return env["OCI_REGISTRY_USERNAME"], env.get("OCI_REGISTRY_PASSWORD", ""), "OCI_REGISTRY_USERNAME/PASSWORD"
    for path, text in auth_files.items():
        try:
            auths = json.loads(text).get("auths", {})
        except ValueError:
            continue
        for key in (host, f"https://{host}", f"http://{host}", f"https://{host}/v2/", f"http://{host}/v2/"):
            entry = auths.get(key) or {}
            if entry.get("auth"):
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
                return user, password, path
    return None


def auth_file_paths(env: Mapping[str, str]) -> List[str]:
    paths = []
    if env.get("REGISTRY_AUTH_FILE"):
        paths.append(env["REGISTRY_AUTH_FILE"])
    if env.get("XDG_RUNTIME_DIR"):
        paths.append(os.path.join(env["XDG_RUNTIME_DIR"], "containers", "auth.json"))
    docker_dir = env.get("DOCKER_CONFIG") or (os.path.join(env["HOME"], ".docker") if env.get("HOME") else "")
    if docker_dir:
        paths.append(os.path.join(docker_dir, "config.json"))
    return paths


def parse_challenge(header: str) -> Tuple[str, Dict[str, str]]:
    """'Bearer realm="https://auth",service="reg",scope="repository:a:push"' -> ('bearer', {...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    return scheme.lower(), params


def error_text(body: bytes) -> str:
    """The registry's error codes and messages, from the distribution spec's error JSON when there is one."""
    try:
        errors = json.loads(body).get("errors", [])
        return "; ".join(f"{e.get('code', '?')}: {e.get('message', '')}" for e in errors) or body.decode()[:300]
    except (ValueError, AttributeError):
        return body.decode(errors="replace")[:300]


# ---------------------------------------------------------------------------------------------------------------
# The client


@dataclass
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass
class PushStats:
    uploaded: List[str] = field(default_factory=list)
    skipped: List[str] = field(default_factory=list)
    uploaded_bytes: int = 0


class RegistryClient:
    def __init__(self, host: str, repository: str, plain_http_localhost: bool, credentials=None, timeout: float = 60):
        self.host, self.repository = host, repository
        self.url = base_url(host, plain_http_localhost)
        self.credentials = credentials
        self.timeout = timeout
        self._authorization: Optional[str] = None

    def _open(self, method: str, url: str, data: Optional[bytes], headers: Mapping[str, str]) -> Response:
        request = urllib.request.Request(url, data=data, method=method, headers=dict(headers))
        if self._authorization:
            request.add_header("Authorization", self._authorization)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                return Response(reply.status, dict(reply.headers), reply.read())
        except urllib.error.HTTPError as e:
            return Response(e.code, dict(e.headers or {}), e.read() or b"")
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            hint = ""
            if self.url.startswith("https://") and is_local(self.host):
                hint = " For a local registry that speaks plain HTTP, set `[oci-image].plain_http_localhost = true`."
            raise PushError(f"Cannot reach the registry {self.host} ({self.url}): {reason}.{hint}")

    def request(self, method: str, path_or_url: str, data: bytes = None, headers: Mapping[str, str] = None) -> Response:
        url = path_or_url if path_or_url.startswith(("http://", "https://")) else self.url + path_or_url
        response = self._open(method, url, data, headers or {})
        if response.status == 401 and self._authenticate(response, method):
            response = self._open(method, url, data, headers or {})
            if response.status == 401 and self.credentials:
                user, _, where = self.credentials
                raise PushError(
                    f"The registry {self.host} rejected the credentials of user {user!r} (from {where}): "
                    f"{error_text(response.body)}. Log in again (`docker login {self.host}` or "
                    f"`podman login {self.host}`) or fix OCI_REGISTRY_USERNAME/OCI_REGISTRY_PASSWORD."
                )
        if response.status == 401:
            raise PushError(
                f"The registry {self.host} requires credentials and none were found. Log in with "
                f"`docker login {self.host}` or `podman login {self.host}`, or set OCI_REGISTRY_USERNAME and "
                f"OCI_REGISTRY_PASSWORD."
            )
        return response

    def _authenticate(self, response: Response, method: str) -> bool:
        challenge = next((v for k, v in response.headers.items() if k.lower() == "www-authenticate"), "")
        scheme, params = parse_challenge(challenge)
        if self.credentials is None and scheme != "bearer":
            return False
        basic = None
        if self.credentials:
            user, password, _ = self.credentials
            basic = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        if scheme == "basic":
            self._authorization = basic
            return True
        if scheme == "bearer" and params.get("realm"):
            query = {
                "service": params.get("service", ""),
                "scope": params.get("scope") or f"repository:{self.repository}:pull,push",
            }
            token_url = params["realm"] + "?" + urllib.parse.urlencode(query)
            request = urllib.request.Request(token_url, headers={"Authorization": basic} if basic else {})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                    token = json.loads(reply.read())
            except urllib.error.HTTPError as e:
                raise PushError(
                    f"The registry {self.host}'s token service refused the credentials: "
                    f"HTTP {e.code} {error_text(e.read() or b'')}"
                )
            self._authorization = "Bearer " + (token.get("token") or token.get("access_token", ""))
            return True
        return False

    # Blobs -----------------------------------------------------------------------------------------------------

    def has_blob(self, digest: str) -> bool:
        response = self.request("HEAD", f"/v2/{self.repository}/blobs/{digest}")
        if response.status in (200, 404):
            return response.status == 200
        raise PushError(f"The registry {self.host} answered HEAD of blob {digest} with HTTP {response.status}.")

    def upload_blob(self, digest: str, blob: bytes, chunk_size: int) -> None:
        start = self.request("POST", f"/v2/{self.repository}/blobs/uploads/")
        if start.status != 202:
            raise PushError(
                f"The registry {self.host} refused to start an upload to {self.repository}: "
                f"HTTP {start.status} {error_text(start.body)}"
            )
        location = self._absolute(start.headers)
        if len(blob) > chunk_size:
            for offset in range(0, len(blob), chunk_size):
                chunk = blob[offset : offset + chunk_size]
                patched = self.request(
                    "PATCH",
                    location,
                    chunk,
                    {
                        "Content-Type": "application/octet-stream",
                        "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                        "Content-Length": str(len(chunk)),
                    },
                )
                if patched.status != 202:
                    raise PushError(
                        f"The registry {self.host} refused a chunk of blob {digest}: "
                        f"HTTP {patched.status} {error_text(patched.body)}"
                    )
                location = self._absolute(patched.headers)
            body = b""
        else:
            body = blob
        separator = "&" if "?" in location else "?"
        done = self.request(
            "PUT",
            f"{location}{separator}digest={urllib.parse.quote(digest)}",
            body,
            {"Content-Type": "application/octet-stream", "Content-Length": str(len(body))},
        )
        if done.status != 201:
            raise PushError(
                f"The registry {self.host} refused blob {digest}: HTTP {done.status} {error_text(done.body)}"
            )

    def _absolute(self, headers: Mapping[str, str]) -> str:
        location = next((v for k, v in headers.items() if k.lower() == "location"), "")
        return location if location.startswith(("http://", "https://")) else self.url + location

    # Manifests -------------------------------------------------------------------------------------------------

    def _put_manifest(self, reference: str, manifest: bytes, media_type: str) -> Response:
        response = self.request(
            "PUT", f"/v2/{self.repository}/manifests/{reference}", manifest, {"Content-Type": media_type}
        )
        if response.status != 201:
            raise PushError(
                f"The registry {self.host} refused the manifest for {self.repository}:{reference}: "
                f"HTTP {response.status} {error_text(response.body)}. No tag was changed."
            )
        return response

    def put_manifest(self, reference: str, manifest: bytes, media_type: str) -> str:
        response = self._put_manifest(reference, manifest, media_type)
        return _header(response, "docker-content-digest")

    def put_referrer(self, digest: str, manifest: bytes) -> bool:
        """Push a manifest with a `subject`; True when the registry indexed it as a referrer (OCI 1.1 registries
        say so with an OCI-Subject header), False when the client must maintain the referrers tag itself."""
        return bool(_header(self._put_manifest(digest, manifest, MEDIA_TYPE_MANIFEST), "oci-subject"))

    def get_manifest(self, reference: str, media_type: str) -> Optional[bytes]:
        response = self.request("GET", f"/v2/{self.repository}/manifests/{reference}", None, {"Accept": media_type})
        if response.status == 404:
            return None
        if response.status != 200:
            raise PushError(
                f"The registry {self.host} answered HTTP {response.status} for "
                f"{self.repository}:{reference}: {error_text(response.body)}"
            )
        return response.body


def _header(response: Response, name: str) -> str:
    return next((v for k, v in response.headers.items() if k.lower() == name), "")


# ---------------------------------------------------------------------------------------------------------------
# An SBOM as an OCI 1.1 referrer of the image (an artifact manifest whose `subject` is the image's manifest)

SBOM_ARTIFACT_TYPE = "application/spdx+json"
MEDIA_TYPE_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_TYPE_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_TYPE_EMPTY = "application/vnd.oci.empty.v1+json"
EMPTY_CONFIG = b"{}"


def _canonical(document: object) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def artifact_manifest(
    subject_digest: str,
    subject_size: int,
    artifact_type: str,
    blob: bytes,
    subject_media_type: str = MEDIA_TYPE_MANIFEST,
) -> bytes:
    """An OCI 1.1 artifact manifest: the empty config, one layer (the artifact), and the image as its subject (an
    image manifest, or the image index of a multi-platform image: the subject descriptor says which)."""
    return _canonical(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE_MANIFEST,
            "artifactType": artifact_type,
            "config": {"mediaType": MEDIA_TYPE_EMPTY, "digest": _sha256(EMPTY_CONFIG), "size": len(EMPTY_CONFIG)},
            "layers": [{"mediaType": artifact_type, "digest": _sha256(blob), "size": len(blob)}],
            "subject": {"mediaType": subject_media_type, "digest": subject_digest, "size": subject_size},
        }
    )


def referrers_tag(subject_digest: str) -> str:
    """The referrers tag schema of the OCI distribution spec, for registries without the referrers API."""
    algorithm, hex_digest = subject_digest.split(":", 1)
    return f"{algorithm}-{hex_digest}"[:128]


def with_referrer(index: Optional[bytes], manifest: bytes, artifact_type: str) -> bytes:
    """The referrers index behind the tag, with `manifest` added once (other referrers are kept)."""
    manifests = json.loads(index)["manifests"] if index else []
    digest = _sha256(manifest)
    if not any(m.get("digest") == digest for m in manifests):
        manifests.append(
            {"mediaType": MEDIA_TYPE_MANIFEST, "digest": digest, "size": len(manifest), "artifactType": artifact_type}
        )
    return _canonical(
        {"schemaVersion": 2, "mediaType": MEDIA_TYPE_INDEX, "manifests": sorted(manifests, key=lambda m: m["digest"])}
    )


def push_sbom(
    client: "RegistryClient",
    subject_digest: str,
    subject_size: int,
    sbom: bytes,
    chunk_size: int,
    log=print,
    subject_media_type: str = MEDIA_TYPE_MANIFEST,
) -> str:
    """Push the SBOM as a referrer of the image (its manifest, or its image index); returns the artifact manifest's
    digest."""
    for blob in (EMPTY_CONFIG, sbom):
        if not client.has_blob(_sha256(blob)):
            client.upload_blob(_sha256(blob), blob, chunk_size)
    manifest = artifact_manifest(subject_digest, subject_size, SBOM_ARTIFACT_TYPE, sbom, subject_media_type)
    digest = _sha256(manifest)
    if not client.put_referrer(digest, manifest):
        tag = referrers_tag(subject_digest)
        index = with_referrer(client.get_manifest(tag, MEDIA_TYPE_INDEX), manifest, SBOM_ARTIFACT_TYPE)
        client.put_manifest(tag, index, MEDIA_TYPE_INDEX)
    log(f"pushed the SBOM {digest} as a referrer of {subject_digest}")
    return digest


@dataclass(frozen=True)
class Manifest:
    """A manifest or image index as pushed: its bytes under its media type."""

    content: bytes
    media_type: str

    @property
    def digest(self) -> str:
        return _sha256(self.content)


@dataclass(frozen=True)
class LayoutImage:
    """What a push sends of a layout: the blobs, the manifests put by digest before it (a multi-platform image's
    per-platform manifests) and what the tags name (the image manifest, or the image index)."""

    tagged: Manifest
    platform_manifests: Tuple[Manifest, ...]
    blobs: Dict[str, bytes]  # every config and layer of every manifest, by digest, each once


def read_layout(layout_dir: str) -> LayoutImage:
    """The image (or multi-platform image) the first entry of a layout's index.json names. Every blob read is
    checked against its digest, so a damaged layout fails before anything is sent."""

    def blob(digest: str) -> bytes:
        with open(os.path.join(layout_dir, "blobs", *digest.split(":", 1)), "rb") as f:
            content = f.read()
        if _sha256(content) != digest:
            raise PushError(f"The layout's blob {digest} does not match its digest; rebuild with `./pants package`.")
        return content

    with open(os.path.join(layout_dir, "index.json")) as f:
        descriptor = json.load(f)["manifests"][0]
    tagged = Manifest(blob(descriptor["digest"]), descriptor["mediaType"])
    platform_manifests: Tuple[Manifest, ...] = ()
    if tagged.media_type == MEDIA_TYPE_INDEX:
        descriptors = json.loads(tagged.content)["manifests"]
        if any(d["mediaType"] != MEDIA_TYPE_MANIFEST for d in descriptors):
            raise PushError(f"The image index {tagged.digest} of the layout names something other than images.")
        platform_manifests = tuple(Manifest(blob(d["digest"]), d["mediaType"]) for d in descriptors)
    blobs: Dict[str, bytes] = {}
    for manifest in platform_manifests or (tagged,):
        document = json.loads(manifest.content)
        for d in (document["config"], *document["layers"]):
            if d["digest"] not in blobs:  # a layer the platforms share is read and sent once
                blobs[d["digest"]] = blob(d["digest"])
    return LayoutImage(tagged, platform_manifests, blobs)


def _put_by_digest(client: RegistryClient, manifest: Manifest) -> None:
    stored = client.put_manifest(manifest.digest, manifest.content, manifest.media_type)
    if stored and stored != manifest.digest:
        raise PushError(
            f"The registry {client.host} stored the manifest as {stored}, not {manifest.digest}; no tag was changed."
        )


def push(
    layout_dir: str,
    repository: str,
    tags: List[str],
    env: Mapping[str, str],
    plain_http_localhost: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    log=print,
    sbom: Optional[bytes] = None,
) -> PushStats:
    host, path = split_repository(repository)
    auth_files = {}
    for candidate in auth_file_paths(env):
        if os.path.isfile(candidate):
            with open(candidate) as f:
                auth_files[candidate] = f.read()
    client = RegistryClient(host, path, plain_http_localhost, credentials_from(host, env, auth_files))
    image = read_layout(layout_dir)
    stats = PushStats()
    for digest, blob in image.blobs.items():
        if client.has_blob(digest):
            stats.skipped.append(digest)
            continue
        client.upload_blob(digest, blob, chunk_size)
        stats.uploaded.append(digest)
        stats.uploaded_bytes += len(blob)
        log(f"uploaded {digest} ({len(blob) / 1e6:.1f} MB)")
    # An image index is refused until the registry has every manifest it names.
    for manifest in (*image.platform_manifests, image.tagged):
        _put_by_digest(client, manifest)
    digest = image.tagged.digest
    for tag in tags:
        client.put_manifest(tag, image.tagged.content, image.tagged.media_type)
        log(f"pushed {repository}:{tag} ({digest})")
    if sbom is not None:
        push_sbom(client, digest, len(image.tagged.content), sbom, chunk_size, log, image.tagged.media_type)
    log(
        f"{len(stats.uploaded)} blobs uploaded ({stats.uploaded_bytes / 1e6:.1f} MB), "
        f"{len(stats.skipped)} already in the registry"
    )
    # The reference a deployment should pin: tags move, the digest does not.
    log(f"pushed by digest: {repository}@{digest}")
    return stats


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="registry")
    parser.add_argument("layout")
    parser.add_argument("repository")
    parser.add_argument("tags", nargs="+")
    parser.add_argument("--plain-http-localhost", action="store_true")
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE)
    parser.add_argument("--sbom", help="an SPDX document to push as a referrer of the image")
    args = parser.parse_args(argv)
    sbom = None
    if args.sbom:
        with open(args.sbom, "rb") as f:
            sbom = f.read()
    try:
        push(args.layout, args.repository, args.tags, os.environ, args.plain_http_localhost, args.chunk_size, sbom=sbom)
    except PushError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_PUSH_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
