"""Push an OCI image layout to a registry over the distribution spec's HTTP API v2, without a daemon.

    python -m pants_oci.oci.registry LAYOUT_DIR REPOSITORY TAG [TAG ...] [--plain-http-localhost]
        [--chunk-size BYTES] [--sbom FILE] [--mount-record FILE] [--mount-from REPO ...] [--debug]
        [--retries N] [--retry-seconds S]

Standard library only: `./pants publish` runs it with Pants' own interpreter. The order makes a failed push
harmless: every blob first (skipping those the registry already has: HEAD; else mounted from another repository
of the same registry that has it; else uploaded, streamed from disk: one PUT, or PATCH chunks for big blobs), then
the manifest by digest, and only then each tag. So no tag ever names an image whose blobs are not all there, and
a second run sends only what is missing. A multi-platform layout (index.json names an image index) goes the
same way: the blobs of every platform, each once, then each platform's manifest by digest, then the index by
digest, and only then the tags, which name the index.

Credentials: see credentials.py (the environment, the docker config's credHelpers, credsStore and auths, then
podman's auth.json). Basic and Bearer-token challenges are both answered; a 401 later in the push (an expired
token, a scope the token lacks) fetches a new token. Transient failures are retried (transport.py).
HTTPS always, except for a registry on localhost when --plain-http-localhost is given.
"""
import base64
import hashlib
import http.client
import json
import os
import re
import sys
import urllib.error
import urllib.parse
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from pants_oci.exits import EXIT_EXPLAINED, ToolArgumentParser
from pants_oci.oci import transport
from pants_oci.oci.credentials import Credential, Lookup, find_credential, helper_runner, read_text
from pants_oci.oci.reference import Reference, RepositoryNameError, parse_repository
from pants_oci.oci.transport import (
    RETRYABLE_STATUSES,
    Body,
    FileRange,
    Response,
    RetryPolicy,
    backoff_seconds,
    is_transient,
    parse_retry_after,
    should_retry,
)

MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")
DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024
EXIT_PUSH_FAILED = EXIT_EXPLAINED
# A blob upload whose session the registry lost (404/416 on a PATCH or the final PUT) starts over this many times.
UPLOAD_RESTARTS = 3
HASH_BLOCK = 1024 * 1024


class PushError(Exception):
    """A push that cannot succeed; the message says what the registry said and what to do."""


class UploadSessionLost(PushError):
    pass


class CredentialsRefused(PushError):
    """A 401 after the challenge was answered: wrong credentials, or a token without the access asked for."""


# ---------------------------------------------------------------------------------------------------------------
# Pure parts: references, challenges, errors


def reference_of(repository: str) -> Reference:
    try:
        return parse_repository(repository)
    except RepositoryNameError as e:
        raise PushError(str(e)) from e


def is_local(host: str) -> bool:
    return host.rsplit(":", 1)[0] in LOCAL_HOSTS or host.startswith("[::1]")


def base_url(host: str, plain_http_localhost: bool) -> str:
    if plain_http_localhost and is_local(host):
        return f"http://{host}"
    return f"https://{host}"


# A challenge parameter: key="quoted value" or key=token.
_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')


def parse_challenge(header: str) -> Tuple[str, Dict[str, str]]:
    """'Bearer realm="https://auth",service="reg",scope="repository:a:push"' -> ('bearer', {...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {key: quoted or bare for key, quoted, bare in _PARAM.findall(rest)}
    return scheme.lower(), params


def token_query(service: str, scopes: Iterable[str], account: str) -> str:
    """The token request's query: one `scope` parameter per scope, as the docker CLI sends them."""
    pairs = [("service", service)] if service else []
    pairs += [("scope", scope) for scope in sorted(scopes)]
    if account:
        pairs.append(("account", account))
    return urllib.parse.urlencode(pairs)


def merge_scopes(scopes: Iterable[str]) -> Tuple[str, ...]:
    """One scope per resource with the union of its actions ('repository:a:pull' and 'repository:a:pull,push' ->
    'repository:a:pull,push'), so a token request asks for each repository once."""
    actions: Dict[str, List[str]] = {}
    for scope in scopes:
        resource, _, wanted = scope.rpartition(":")
        if not resource:  # not type:name:actions; passed on as it is
            actions.setdefault(scope, [])
            continue
        known = actions.setdefault(resource, [])
        known.extend(a for a in wanted.split(",") if a and a not in known)
    return tuple(sorted(f"{r}:{','.join(sorted(a))}" if a else r for r, a in actions.items()))


def basic_authorization(credential: Credential) -> str:
    return "Basic " + base64.b64encode(f"{credential.username}:{credential.password}".encode()).decode()


def error_text(body: bytes) -> str:
    """The registry's error codes and messages, from the distribution spec's error JSON when there is one."""
    try:
        errors = json.loads(body).get("errors", [])
        return "; ".join(f"{e.get('code', '?')}: {e.get('message', '')}" for e in errors) or body.decode()[:300]
    except (ValueError, AttributeError):
        return body.decode(errors="replace")[:300]


def blob_slice(blob: Union[bytes, FileRange], offset: int, length: int) -> Union[bytes, FileRange]:
    if isinstance(blob, FileRange):
        return FileRange(blob.path, blob.offset + offset, length)
    return blob[offset : offset + length]


def mount_source(known: Sequence[str], mount_from: Sequence[str], repository: str) -> Optional[str]:
    """The repository to mount a blob from: where this machine pushed it last, else the first of those named on
    the command line; never the target repository itself. One only: a refused mount opens an upload session, which
    the upload then uses, so trying a second source would leave the first session behind."""
    return next((c for c in (*reversed(known), *mount_from) if c != repository), None)


# ---------------------------------------------------------------------------------------------------------------
# The client


@dataclass
class PushStats:
    uploaded: List[str] = field(default_factory=list)
    skipped: List[str] = field(default_factory=list)
    mounted: List[str] = field(default_factory=list)
    uploaded_bytes: int = 0
    manifests_put: int = 0
    manifests_present: int = 0


@dataclass
class Clock:
    """Time as the retries see it: a test can run them without waiting."""

    now: Callable[[], float] = transport.now
    sleep: Callable[[float], None] = transport.sleep
    random01: Callable[[], float] = transport.random01


class RegistryClient:
    def __init__(
        self,
        host: str,
        repository: str,
        plain_http_localhost: bool,
        lookup: Optional[Lookup] = None,
        timeout: float = 60,
        retry: RetryPolicy = RetryPolicy(),
        log: Callable[[str], None] = print,
        debug: bool = False,
        clock: Clock = Clock(),
        login_name: str = "",
    ):
        self.host, self.repository = host, repository
        # What `docker login` takes for this registry: Docker Hub's API host is not its login name.
        self.login_name = login_name or host
        self.url = base_url(host, plain_http_localhost)
        self.lookup = lookup or Lookup()
        self.timeout, self.retry, self.log, self.debug, self.clock = timeout, retry, log, debug, clock
        self._authorization: Optional[str] = None
        self._scopes = {f"repository:{repository}:pull,push"}
        self._unmountable: set = set()  # repositories a mount from was refused: not asked again

    @property
    def credential(self) -> Optional[Credential]:
        return self.lookup.credential

    # HTTP with retries --------------------------------------------------------------------------------------

    def _send(
        self, method: str, url: str, body: Body, headers: Mapping[str, str], authorization: Optional[str]
    ) -> Response:
        attempt, waited = 1, 0.0
        while True:
            try:
                response = transport.exchange(method, url, body, headers, authorization, self.timeout)
                if self.debug:
                    self.log(f"debug: {method} {_short(url)} -> HTTP {response.status}")
                if response.status not in RETRYABLE_STATUSES:
                    return response
                problem = f"HTTP {response.status}"
                retry_after = parse_retry_after(response.header("Retry-After"), self.clock.now())
            except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
                if not is_transient(e):
                    raise PushError(self._unreachable(e)) from e
                problem, retry_after = f"connection failed ({getattr(e, 'reason', e)})", None
            delay = backoff_seconds(attempt, self.retry, retry_after, self.clock.random01())
            if not should_retry(attempt, waited, delay, self.retry):
                raise PushError(
                    f"The registry {self.host} answered {method} {_short(url)} with {problem} on each of "
                    f"{attempt} tries over {waited:.0f} s; giving up (the bounds: `[oci-image].publish_retries` "
                    f"and `publish_retry_seconds`)."
                )
            self.log(f"{method} {_short(url)}: {problem}; try {attempt + 1} of {self.retry.attempts} in {delay:.1f} s")
            self.clock.sleep(delay)
            waited += delay
            attempt += 1

    def _unreachable(self, error: BaseException) -> str:
        reason = getattr(error, "reason", error)
        hint = ""
        if self.url.startswith("https://") and is_local(self.host):
            hint = " For a local registry that speaks plain HTTP, set `[oci-image].plain_http_localhost = true`."
        return f"Cannot reach the registry {self.host} ({self.url}): {reason}.{hint}"

    def request(
        self, method: str, path_or_url: str, data: Body = None, headers: Optional[Mapping[str, str]] = None
    ) -> Response:
        url = path_or_url if path_or_url.startswith(("http://", "https://")) else self.url + path_or_url
        response = self._send(method, url, data, headers or {}, self._authorization)
        # A 401 at any point (the first request, an expired token, a scope the token lacks) gets a fresh answer to
        # the challenge and one more try.
        if response.status == 401 and self._authenticate(response):
            response = self._send(method, url, data, headers or {}, self._authorization)
            if response.status == 401 and self.credential:
                said = error_text(response.body)
                raise CredentialsRefused(
                    f"The registry {self.host} rejected the credentials ({self.credential.describe()})"
                    f"{': ' + said if said else ''}. Log in again (`docker login {self.login_name}` or "
                    f"`podman login {self.login_name}`) or fix {self.credential.source}."
                )
        if response.status == 401:
            raise CredentialsRefused(self._no_credentials())
        return response

    def _no_credentials(self) -> str:
        notes = "".join(f" Note: {note}." for note in self.lookup.notes)
        return (
            f"The registry {self.host} requires credentials and none were found. Log in with "
            f"`docker login {self.login_name}` or `podman login {self.login_name}`, configure a credential helper, "
            f"or set OCI_REGISTRY_USERNAME and OCI_REGISTRY_PASSWORD.{notes}"
        )

    # Authentication -----------------------------------------------------------------------------------------

    def _authenticate(self, response: Response) -> bool:
        scheme, params = parse_challenge(response.header("WWW-Authenticate"))
        credential = self.credential
        if scheme == "basic":
            if credential is None or not credential.username:
                return False
            self._authorization = basic_authorization(credential)
        elif scheme == "bearer" and params.get("realm"):
            if credential is not None and credential.registry_token:
                self._authorization = "Bearer " + credential.registry_token
            else:
                self._scopes = set(merge_scopes([*self._scopes, *params.get("scope", "").split()]))
                self._authorization = "Bearer " + self._token(params["realm"], params.get("service", ""))
        else:
            return False
        if self.debug:
            who = credential.describe() if credential else "anonymous"
            self.log(f"debug: answering the registry's {scheme} challenge with {who}")
        return True

    def _token(self, realm: str, service: str) -> str:
        credential = self.credential
        if credential is not None and credential.identity_token:
            # An identity token (docker's `identitytoken`, a helper's `<token>` user) is an OAuth2 refresh token.
            form = {
                "grant_type": "refresh_token",
                "refresh_token": credential.identity_token,
                "service": service,
                "scope": " ".join(sorted(self._scopes)),
                "client_id": "pants-oci",
            }
            body = urllib.parse.urlencode(form).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            reply = self._send("POST", realm, body, headers, None)
        else:
            account = credential.username if credential else ""
            authorization = basic_authorization(credential) if credential and credential.username else None
            url = f"{realm}?{token_query(service, self._scopes, account)}"
            reply = self._send("GET", url, None, {}, authorization)
        if reply.status != 200:
            who = credential.describe() if credential else "an anonymous request"
            raise CredentialsRefused(
                f"The token service of {self.host} ({realm}) refused {who}: HTTP {reply.status} "
                f"{error_text(reply.body)}. Log in again (`docker login {self.login_name}`) or fix the credentials' "
                f"source."
            )
        answer = json.loads(reply.body)
        return answer.get("token") or answer.get("access_token", "")

    # Blobs -----------------------------------------------------------------------------------------------------

    def has_blob(self, digest: str) -> bool:
        response = self.request("HEAD", f"/v2/{self.repository}/blobs/{digest}")
        if response.status in (200, 404):
            return response.status == 200
        raise PushError(f"The registry {self.host} answered HEAD of blob {digest} with HTTP {response.status}.")

    def mount_blob(self, digest: str, source: str) -> Optional[str]:
        """Ask for a cross-repository mount. None when the registry mounted it; else an upload session: the one the
        registry opened instead (the source lacks the blob, or the registry does not mount), or a new one when the
        mount was refused outright (a 401 or 403: the credentials cannot read the source)."""
        if source not in self._unmountable:
            self._scopes = set(merge_scopes([*self._scopes, f"repository:{source}:pull"]))
            query = urllib.parse.urlencode({"mount": digest, "from": source})
            try:
                response: Optional[Response] = self.request("POST", f"/v2/{self.repository}/blobs/uploads/?{query}")
            except CredentialsRefused:
                response = None
            if response is not None and response.status == 201:
                return None
            if response is not None and response.status == 202:
                return self._absolute(response)
            self.log(f"cannot mount blobs from {source} (HTTP {response.status if response else 401}); uploading")
            self._unmountable.add(source)
            self._scopes = {s for s in self._scopes if not s.startswith(f"repository:{source}:")}
        return self._start_upload(digest)

    def _start_upload(self, digest: str) -> str:
        return self._session(self.request("POST", f"/v2/{self.repository}/blobs/uploads/"), digest)

    def _session(self, response: Response, digest: str) -> str:
        if response.status != 202:
            raise PushError(
                f"The registry {self.host} refused to start an upload of {digest} to {self.repository}: "
                f"HTTP {response.status} {error_text(response.body)}"
            )
        return self._absolute(response)

    def upload_blob(
        self, digest: str, blob: Union[bytes, FileRange], chunk_size: int, location: Optional[str] = None
    ) -> None:
        for restart in range(UPLOAD_RESTARTS + 1):
            try:
                self._upload(location or self._start_upload(digest), digest, blob, chunk_size)
                return
            except UploadSessionLost as e:
                if restart == UPLOAD_RESTARTS:
                    raise
                self.log(f"{e}; starting the upload of {digest} again")
                location = None

    def _upload(self, location: str, digest: str, blob: Union[bytes, FileRange], chunk_size: int) -> None:
        size = transport.body_length(blob)
        body: Body = blob
        if size > chunk_size:
            for offset in range(0, size, chunk_size):
                chunk = blob_slice(blob, offset, min(chunk_size, size - offset))
                headers = {
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{offset}-{offset + transport.body_length(chunk) - 1}",
                }
                patched = self.request("PATCH", location, chunk, headers)
                self._check_upload(patched, 202, f"a chunk of blob {digest}")
                location = self._absolute(patched)
            body = b""
        separator = "&" if "?" in location else "?"
        done = self.request(
            "PUT",
            f"{location}{separator}digest={urllib.parse.quote(digest)}",
            body,
            {"Content-Type": "application/octet-stream"},
        )
        self._check_upload(done, 201, f"blob {digest}")

    def _check_upload(self, response: Response, expected: int, what: str) -> None:
        if response.status in (404, 416):  # BLOB_UPLOAD_UNKNOWN, or an offset the registry no longer agrees with
            raise UploadSessionLost(
                f"The registry {self.host} lost the upload session of {what} (HTTP {response.status})"
            )
        if response.status != expected:
            raise PushError(
                f"The registry {self.host} refused {what}: HTTP {response.status} {error_text(response.body)}"
            )

    def _absolute(self, response: Response) -> str:
        location = response.header("Location")
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

    def manifest_digest(self, reference: str, media_type: str) -> Optional[str]:
        """What a tag or digest names in the registry now (HEAD), or None if nothing."""
        response = self.request("HEAD", f"/v2/{self.repository}/manifests/{reference}", None, {"Accept": media_type})
        if response.status == 200:
            return response.header("Docker-Content-Digest") or reference
        return None

    def put_referrer(self, digest: str, manifest: bytes) -> bool:
        """Push a manifest with a `subject`; True when the registry indexed it as a referrer (OCI 1.1 registries
        say so with an OCI-Subject header), False when the client must maintain the referrers tag itself."""
        return bool(_header(self._put_manifest(digest, manifest, MEDIA_TYPE_MANIFEST), "oci-subject"))

    def lists_referrer(self, subject_digest: str, digest: str) -> bool:
        """Whether `digest` is among the subject's referrers: the OCI 1.1 referrers API, else the referrers tag."""
        response = self.request(
            "GET", f"/v2/{self.repository}/referrers/{subject_digest}", None, {"Accept": MEDIA_TYPE_INDEX}
        )
        index = (
            response.body
            if response.status == 200
            else self.get_manifest(referrers_tag(subject_digest), MEDIA_TYPE_INDEX)
        )
        return any(m.get("digest") == digest for m in json.loads(index).get("manifests", [])) if index else False

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
    return response.header(name)


def _short(url: str) -> str:
    """A URL for a log line: the path alone, no query (upload sessions carry state tokens there)."""
    return urllib.parse.urlsplit(url).path


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
    if client.manifest_digest(digest, MEDIA_TYPE_MANIFEST) == digest and client.lists_referrer(subject_digest, digest):
        log(f"the SBOM {digest} is already a referrer of {subject_digest}")
        return digest
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
    blobs: Dict[str, FileRange]  # every config and layer of every manifest, by digest, each once: files, not bytes


def file_digest(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(HASH_BLOCK), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def read_layout(layout_dir: str) -> LayoutImage:
    """The image (or multi-platform image) the first entry of a layout's index.json names. Every blob is checked
    against its digest (read in blocks: a layer is never in memory whole), so a damaged layout fails before
    anything is sent."""

    def blob_file(digest: str) -> FileRange:
        path = os.path.join(layout_dir, "blobs", *digest.split(":", 1))
        if file_digest(path) != digest:
            raise PushError(f"The layout's blob {digest} does not match its digest; rebuild with `./pants package`.")
        return FileRange(path, 0, os.path.getsize(path))

    def manifest(descriptor: Mapping) -> Manifest:
        with open(blob_file(descriptor["digest"]).path, "rb") as f:
            return Manifest(f.read(), descriptor["mediaType"])

    with open(os.path.join(layout_dir, "index.json")) as f:
        tagged = manifest(json.load(f)["manifests"][0])
    platform_manifests: Tuple[Manifest, ...] = ()
    if tagged.media_type == MEDIA_TYPE_INDEX:
        descriptors = json.loads(tagged.content)["manifests"]
        if any(d["mediaType"] != MEDIA_TYPE_MANIFEST for d in descriptors):
            raise PushError(f"The image index {tagged.digest} of the layout names something other than images.")
        platform_manifests = tuple(manifest(d) for d in descriptors)
    blobs: Dict[str, FileRange] = {}
    for image_manifest in platform_manifests or (tagged,):
        document = json.loads(image_manifest.content)
        for d in (document["config"], *document["layers"]):
            if d["digest"] not in blobs:  # a layer the platforms share is checked and sent once
                blobs[d["digest"]] = blob_file(d["digest"])
    return LayoutImage(tagged, platform_manifests, blobs)


# ---------------------------------------------------------------------------------------------------------------
# Cross-repository mounts: where this machine pushed each blob before


class MountRecord:
    """A JSON file {registry host: {digest: [repositories, oldest first]}} kept between publishes (Pants passes a
    named cache), so the second image of a registry mounts the layers the first one uploaded instead of sending
    them again. Only a hint: a registry that lost the blob answers the mount with an upload session."""

    KEEP = 5  # repositories kept per blob

    def __init__(self, path: str):
        self.path = path
        text = read_text(path)
        try:
            self.data: Dict[str, Dict[str, List[str]]] = json.loads(text) if text else {}
        except ValueError:
            self.data = {}  # a damaged hint file costs mounts, not the push

    def repositories(self, host: str, digest: str) -> List[str]:
        return list(self.data.get(host, {}).get(digest, []))

    def add(self, host: str, digest: str, repository: str) -> None:
        known = [r for r in self.data.setdefault(host, {}).get(digest, []) if r != repository]
        self.data[host][digest] = (known + [repository])[-self.KEEP :]

    def save(self) -> None:
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        temporary = f"{self.path}.{os.getpid()}"
        with open(temporary, "w") as f:
            json.dump(self.data, f, sort_keys=True)
        os.replace(temporary, self.path)  # whole or not at all, if two publishes end together


# ---------------------------------------------------------------------------------------------------------------
# The push


def _put_by_digest(client: RegistryClient, manifest: Manifest, stats: PushStats) -> None:
    # A manifest whose blobs were missing cannot be in the repository: ask only when every blob was there.
    maybe_present = not (stats.uploaded or stats.mounted)
    if maybe_present and client.manifest_digest(manifest.digest, manifest.media_type) == manifest.digest:
        stats.manifests_present += 1
        return
    stored = client.put_manifest(manifest.digest, manifest.content, manifest.media_type)
    stats.manifests_put += 1
    if stored and stored != manifest.digest:
        raise PushError(
            f"The registry {client.host} stored the manifest as {stored}, not {manifest.digest}; no tag was changed."
        )


def _push_blob(
    client: RegistryClient,
    digest: str,
    blob: FileRange,
    chunk_size: int,
    source: Optional[str],
    stats: PushStats,
    log: Callable[[str], None],
) -> None:
    if client.has_blob(digest):
        stats.skipped.append(digest)
        return
    location: Optional[str] = None
    if source:
        location = client.mount_blob(digest, source)
        if location is None:
            stats.mounted.append(digest)
            log(f"mounted {digest} from {source}")
            return
    client.upload_blob(digest, blob, chunk_size, location)
    stats.uploaded.append(digest)
    stats.uploaded_bytes += blob.length
    log(f"uploaded {digest} ({blob.length / 1e6:.1f} MB)")


def push(
    layout_dir: str,
    repository: str,
    tags: List[str],
    env: Mapping[str, str],
    plain_http_localhost: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    log=print,
    sbom: Optional[bytes] = None,
    retry: RetryPolicy = RetryPolicy(),
    mount_record: Optional[str] = None,
    mount_from: Sequence[str] = (),
    debug: bool = False,
    clock: Clock = Clock(),
) -> PushStats:
    reference = reference_of(repository)
    lookup = find_credential(reference, env, read_text, helper_runner(env))
    if debug:
        found = lookup.credential.describe() if lookup.credential else "none found (anonymous)"
        log(f"debug: credentials for {reference.host} (key {reference.auth_key}): {found}")
        for note in lookup.notes:
            log(f"debug: {note}")
    client = RegistryClient(
        reference.api_host,
        reference.path,
        plain_http_localhost,
        lookup,
        retry=retry,
        log=log,
        debug=debug,
        clock=clock,
        login_name=reference.host,
    )
    image = read_layout(layout_dir)
    record = MountRecord(mount_record) if mount_record else None
    stats = PushStats()
    try:
        for digest, blob in image.blobs.items():
            known = record.repositories(reference.api_host, digest) if record else []
            source = mount_source(known, mount_from, reference.path)
            _push_blob(client, digest, blob, chunk_size, source, stats, log)
            if record:
                record.add(reference.api_host, digest, reference.path)
        # An image index is refused until the registry has every manifest it names.
        for manifest in (*image.platform_manifests, image.tagged):
            _put_by_digest(client, manifest, stats)
    except PushError as e:
        raise PushError(f"{e} No tag was changed; publishing again sends only what is still missing.") from e
    finally:
        if record:
            record.save()
    digest = image.tagged.digest
    for tag in tags:
        # A tag can name the image already only if the image was there before this push.
        if not stats.manifests_put and client.manifest_digest(tag, image.tagged.media_type) == digest:
            log(f"{repository}:{tag} already names {digest}")
            continue
        client.put_manifest(tag, image.tagged.content, image.tagged.media_type)
        log(f"pushed {repository}:{tag} ({digest})")
    if sbom is not None:
        push_sbom(client, digest, len(image.tagged.content), sbom, chunk_size, log, image.tagged.media_type)
    log(
        f"{len(stats.uploaded)} blobs uploaded ({stats.uploaded_bytes / 1e6:.1f} MB), {len(stats.mounted)} mounted, "
        f"{len(stats.skipped)} already in the repository"
    )
    # The reference a deployment should pin: tags move, the digest does not.
    log(f"pushed by digest: {repository}@{digest}")
    return stats


def main(argv: List[str]) -> int:
    parser = ToolArgumentParser(prog="registry")
    parser.add_argument("layout")
    parser.add_argument("repository")
    parser.add_argument("tags", nargs="+")
    parser.add_argument("--plain-http-localhost", action="store_true")
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE)
    parser.add_argument("--sbom", help="an SPDX document to push as a referrer of the image")
    parser.add_argument("--mount-record", help="a JSON file of where blobs were pushed before (read and updated)")
    parser.add_argument("--mount-from", action="append", default=[], help="a repository to mount shared blobs from")
    parser.add_argument("--retries", type=int, default=RetryPolicy.attempts - 1)
    parser.add_argument("--retry-seconds", type=float, default=RetryPolicy.deadline_seconds)
    parser.add_argument("--debug", action="store_true", help="log requests and which credential source answered")
    args = parser.parse_args(argv)
    sbom = None
    if args.sbom:
        with open(args.sbom, "rb") as f:
            sbom = f.read()
    retry = RetryPolicy(attempts=args.retries + 1, deadline_seconds=args.retry_seconds)
    try:
        push(
            args.layout,
            args.repository,
            args.tags,
            os.environ,
            args.plain_http_localhost,
            args.chunk_size,
            sbom=sbom,
            retry=retry,
            mount_record=args.mount_record,
            mount_from=args.mount_from,
            debug=args.debug,
        )
    except PushError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_PUSH_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
