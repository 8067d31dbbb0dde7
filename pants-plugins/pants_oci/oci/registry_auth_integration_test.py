"""Where credentials come from, against a real registry (docker-registry on 127.0.0.1): htpasswd Basic auth
answered by a credential helper on PATH (`credHelpers`, `credsStore`), and token auth through a token service
that issues the JWTs the registry verifies against its rootcertbundle."""
import base64
import json
import os
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from pants_oci.oci import registry
from pants_oci.oci.credentials import find_credential, helper_runner, read_text
from pants_oci.oci.reference import parse_repository
from pants_oci.oci.registry import PushError, RegistryClient
from pants_oci.oci.testing import (
    ALICE_REFRESH_TOKEN,
    TokenService,
    alice_registry,
    layer,
    manifest_digest,
    noise,
    skopeo_digest,
    token_service,
    write_layout,
)
from pants_oci.tools.testing import docker_registry

HELPER = """#!/bin/sh
# A docker credential helper as the docker CLI runs one: `get`, the server URL on stdin, JSON on stdout.
read -r server || true
echo "$1 $server" >> "{log}"
if [ "$1" = get ] && [ "$server" = "{server}" ]; then
  printf '{{"ServerURL": "%s", "Username": "alice", "Secret": "secret"}}' "$server"
else
  echo "credentials not found in native keychain"
  exit 1
fi
"""


@pytest.fixture
def auth_registry(tmp_path: Path) -> Iterator[str]:
    with alice_registry(tmp_path / "auth") as address:
        yield address


def _helper_env(tmp_path: Path, name: str, server: str, config: dict) -> Dict[str, str]:
    """PATH with a `docker-credential-<name>` that knows `server` only; DOCKER_CONFIG with `config`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / f"docker-credential-{name}"
    helper.write_text(HELPER.format(log=tmp_path / "helper.log", server=server))
    helper.chmod(0o755)
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "config.json").write_text(json.dumps(config))
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "DOCKER_CONFIG": str(tmp_path / "docker")}


def _small_layout(root: Path, seed: str) -> Path:
    return write_layout(root, [layer("small", seed.encode()), layer("big", noise(seed, 200_000))])


@pytest.mark.parametrize("setting", ["credHelpers", "credsStore"])
def test_basic_auth_from_a_credential_helper_on_path(auth_registry: str, tmp_path: Path, setting: str) -> None:
    config: Dict[str, Any] = (
        {"credHelpers": {auth_registry: "test"}} if setting == "credHelpers" else {"credsStore": "test"}
    )
    # A password in `auths` too: the helper must win (the docker CLI's order).
    config["auths"] = {auth_registry: {"auth": base64.b64encode(b"alice:wrong").decode()}}
    env = _helper_env(tmp_path, "test", auth_registry, config)
    layout = _small_layout(tmp_path / "layout", setting)
    lines: List[str] = []
    registry.push(
        str(layout), f"{auth_registry}/acme/app", ["1.0"], env, plain_http_localhost=True, log=lines.append, debug=True
    )
    assert skopeo_digest(f"{auth_registry}/acme/app:1.0", "--creds=alice:secret") == manifest_digest(layout)
    assert (tmp_path / "helper.log").read_text().splitlines()[0] == f"get {auth_registry}", "server URL on stdin"
    source = f"docker-credential-test ({setting}"
    assert any(line.startswith(f"debug: credentials for {auth_registry}") and source in line for line in lines)
    assert not any("secret" in line for line in lines), "the log never shows the secret"


def test_a_helper_missing_from_path_is_named_when_the_registry_asks(auth_registry: str, tmp_path: Path) -> None:
    env = _helper_env(tmp_path, "test", auth_registry, {"credsStore": "absent"})
    layout = _small_layout(tmp_path / "layout", "m")
    with pytest.raises(
        PushError, match=r"requires credentials and none were found.*docker-credential-absent is not on PATH"
    ):
        registry.push(
            str(layout), f"{auth_registry}/acme/app", ["1.0"], env, plain_http_localhost=True, log=lambda _: None
        )


@pytest.fixture
def token_registry(tmp_path: Path) -> Iterator[Tuple[str, TokenService]]:
    """A registry with `auth: token` and its token service: (the registry's address, the service)."""
    (tmp_path / "token").mkdir()
    with token_service(tmp_path / "token", lifetime=3) as service:
        settings = {
            "realm": service.realm,
            "service": service.service,
            "issuer": service.issuer,
            "rootcertbundle": str(service.certificate),
        }
        with docker_registry(tmp_path / "token", token=settings) as address:
            yield address, service


def test_token_auth_with_credentials_from_podman_auth_json(
    token_registry: Tuple[str, TokenService], tmp_path: Path
) -> None:
    address, service = token_registry
    auth_file = tmp_path / "auth.json"
    auth_file.write_text(json.dumps({"auths": {address: {"auth": base64.b64encode(b"alice:secret").decode()}}}))
    layout = _small_layout(tmp_path / "layout", "t")
    registry.push(
        str(layout), f"{address}/acme/app", ["1.0"], {"REGISTRY_AUTH_FILE": str(auth_file)}, True, log=lambda _: None
    )
    assert service.requests[0] == ("alice", ("repository:acme/app:pull,push",))
    assert skopeo_digest(f"{address}/acme/app:1.0", "--creds=alice:secret") == manifest_digest(layout)


def test_an_expired_token_is_replaced_on_the_next_401(token_registry: Tuple[str, TokenService], tmp_path: Path) -> None:
    address, service = token_registry
    reference = parse_repository(f"{address}/acme/app")
    lookup = find_credential(
        reference, {"OCI_REGISTRY_USERNAME": "alice", "OCI_REGISTRY_PASSWORD": "secret"}, read_text, helper_runner({})
    )
    client = RegistryClient(reference.api_host, reference.path, True, lookup, log=lambda _: None)
    assert not client.has_blob("sha256:" + "0" * 64)
    time.sleep(4)  # the 3-second token has expired
    assert not client.has_blob("sha256:" + "0" * 64)
    assert [who for who, _ in service.requests] == ["alice", "alice"], "one token, then a fresh one"


def test_anonymous_token_cannot_push(token_registry: Tuple[str, TokenService], tmp_path: Path) -> None:
    address, service = token_registry
    layout = _small_layout(tmp_path / "layout", "a")
    with pytest.raises(PushError, match="requires credentials and none were found"):
        registry.push(str(layout), f"{address}/acme/app", ["1.0"], {}, True, log=lambda _: None)
    assert service.requests == [("anonymous", ("repository:acme/app:pull,push",))]


def test_an_identity_token_is_exchanged_for_an_access_token(
    token_registry: Tuple[str, TokenService], tmp_path: Path
) -> None:
    address, service = token_registry
    (tmp_path / "docker").mkdir()
    config = {
        "auths": {address: {"auth": base64.b64encode(b"<token>:").decode(), "identitytoken": ALICE_REFRESH_TOKEN}}
    }
    (tmp_path / "docker" / "config.json").write_text(json.dumps(config))
    layout = _small_layout(tmp_path / "layout", "i")
    registry.push(
        str(layout),
        f"{address}/acme/app",
        ["1.0"],
        {"DOCKER_CONFIG": str(tmp_path / "docker")},
        True,
        log=lambda _: None,
    )
    assert service.requests[0] == ("alice (identity token)", ("repository:acme/app:pull,push",))
    assert skopeo_digest(f"{address}/acme/app:1.0", "--creds=alice:secret") == manifest_digest(layout)


def test_a_mount_the_token_does_not_allow_falls_back_to_an_upload(
    token_registry: Tuple[str, TokenService], tmp_path: Path
) -> None:
    address, service = token_registry
    env = {"OCI_REGISTRY_USERNAME": "alice", "OCI_REGISTRY_PASSWORD": "secret"}
    layout = _small_layout(tmp_path / "layout", "p")
    lines: List[str] = []
    stats = registry.push(
        str(layout), f"{address}/acme/app", ["1.0"], env, True, log=lines.append, mount_from=["private/base"]
    )
    assert stats.mounted == [] and len(stats.uploaded) == 3
    assert sum("cannot mount blobs from private/base (HTTP 401)" in line for line in lines) == 1, "asked once"
    assert ("alice", ("repository:acme/app:pull,push", "repository:private/base:pull")) in service.requests
    assert skopeo_digest(f"{address}/acme/app:1.0", "--creds=alice:secret") == manifest_digest(layout)


def test_a_wrong_password_is_refused_by_the_token_service(
    token_registry: Tuple[str, TokenService], tmp_path: Path
) -> None:
    address, _ = token_registry
    env = {"OCI_REGISTRY_USERNAME": "alice", "OCI_REGISTRY_PASSWORD": "wrong"}
    layout = _small_layout(tmp_path / "layout", "w")
    with pytest.raises(
        PushError, match=r"token service of 127.0.0.1:\d+ \(http://.*/token\) refused user 'alice'.*401"
    ):
        registry.push(str(layout), f"{address}/acme/app", ["1.0"], env, True, log=lambda _: None)
