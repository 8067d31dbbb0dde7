import base64
import json
from typing import Dict, Optional, Tuple

import pytest

from pants_oci.oci.credentials import Credential, HelperError, find_credential
from pants_oci.oci.reference import (
    DOCKER_HUB_API_HOST,
    DOCKER_HUB_AUTH_KEY,
    RepositoryNameError,
    hostname_of_key,
    parse_repository,
)


@pytest.mark.parametrize(
    "repository, api_host, auth_key, path",
    [
        ("docker.io/acme/app", DOCKER_HUB_API_HOST, DOCKER_HUB_AUTH_KEY, "acme/app"),
        ("index.docker.io/acme/app", DOCKER_HUB_API_HOST, DOCKER_HUB_AUTH_KEY, "acme/app"),
        ("docker.io/python", DOCKER_HUB_API_HOST, DOCKER_HUB_AUTH_KEY, "library/python"),
        ("registry-1.docker.io/acme/app", DOCKER_HUB_API_HOST, DOCKER_HUB_AUTH_KEY, "acme/app"),
        ("localhost:5000/app", "localhost:5000", "localhost:5000", "app"),
        ("ghcr.io/acme/tools/app", "ghcr.io", "ghcr.io", "acme/tools/app"),
    ],
)
def test_docker_hub_names_as_the_docker_cli_reads_them(repository, api_host, auth_key, path) -> None:
    reference = parse_repository(repository)
    assert (reference.api_host, reference.auth_key, reference.path) == (api_host, auth_key, path)


def test_a_repository_without_a_registry_is_refused_with_the_fix() -> None:
    with pytest.raises(RepositoryNameError, match=r"'acme/app' names no registry.*\[oci-image\]\.registries"):
        parse_repository("acme/app")


def test_auths_keys_compare_by_host_name() -> None:
    assert hostname_of_key("https://index.docker.io/v1/") == "index.docker.io"
    assert hostname_of_key("http://r.example:5000/v2/") == "r.example:5000"
    assert hostname_of_key("r.example") == "r.example"


def _auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


class Helpers:
    """Helper answers by (name, server URL); records each call."""

    def __init__(self, answers: Dict[Tuple[str, str], Optional[dict]], broken: Tuple[str, ...] = ()):
        self.answers, self.broken, self.calls = answers, broken, []  # type: ignore[var-annotated]

    def __call__(self, name: str, server_url: str) -> Optional[dict]:
        self.calls.append((name, server_url))
        if name in self.broken:
            raise HelperError(f"docker-credential-{name} is not on PATH")
        return self.answers.get((name, server_url))


def _lookup(repository: str, files: Dict[str, dict], env: Dict[str, str], helpers: Helpers):
    texts = {path: json.dumps(content) for path, content in files.items()}
    return find_credential(parse_repository(repository), env, texts.get, helpers)


HOME = {"HOME": "/home/u"}
DOCKER = "/home/u/.docker/config.json"


def test_the_environment_answers_first() -> None:
    env = {**HOME, "OCI_REGISTRY_USERNAME": "ci", "OCI_REGISTRY_PASSWORD": "pw"}
    files = {DOCKER: {"auths": {"r.example": {"auth": _auth("alice", "x")}}}}
    found = _lookup("r.example/app", files, env, Helpers({})).credential
    assert (found.username, found.password) == ("ci", "pw") and "OCI_REGISTRY_USERNAME" in found.source


def test_cred_helpers_for_the_host_before_creds_store_before_auths() -> None:
    config = {
        "credHelpers": {"r.example": "ecr-login"},
        "credsStore": "desktop",
        "auths": {"r.example": {"auth": _auth("inline", "x")}, "other.example": {}},
    }
    helpers = Helpers(
        {
            ("ecr-login", "r.example"): {"Username": "AWS", "Secret": "from-ecr"},
            ("desktop", "other.example"): {"Username": "bob", "Secret": "from-desktop"},
        }
    )
    found = _lookup("r.example/app", {DOCKER: config}, HOME, helpers).credential
    assert (found.username, found.password) == ("AWS", "from-ecr")
    assert found.source == f"credential helper docker-credential-ecr-login (credHelpers['r.example'] in {DOCKER})"
    found = _lookup("other.example/app", {DOCKER: config}, HOME, helpers).credential
    assert (found.username, found.password) == ("bob", "from-desktop") and "credsStore" in found.source


def test_a_helper_knowing_nothing_lets_auths_answer_and_a_broken_one_is_noted() -> None:
    config = {"credsStore": "desktop", "auths": {"https://r.example/v2/": {"auth": _auth("alice", "s")}}}
    found = _lookup("r.example/app", {DOCKER: config}, HOME, Helpers({})).credential
    assert (found.username, found.password) == ("alice", "s") and "auths['https://r.example/v2/']" in found.source
    lookup = _lookup("q.example/app", {DOCKER: config}, HOME, Helpers({}, broken=("desktop",)))
    assert lookup.credential is None
    assert lookup.notes == [
        f"credential helper docker-credential-desktop (credsStore in {DOCKER}) failed: "
        "docker-credential-desktop is not on PATH"
    ]


def test_docker_hub_asks_helpers_with_the_index_server_url_and_reads_its_auths_key() -> None:
    helpers = Helpers({("desktop", DOCKER_HUB_AUTH_KEY): {"Username": "hubuser", "Secret": "pat"}})
    found = _lookup("docker.io/acme/app", {DOCKER: {"credsStore": "desktop"}}, HOME, helpers).credential
    assert found.username == "hubuser" and helpers.calls == [("desktop", DOCKER_HUB_AUTH_KEY)]
    config = {"auths": {DOCKER_HUB_AUTH_KEY: {"auth": _auth("hub", "pw")}}}
    assert _lookup("index.docker.io/acme/app", {DOCKER: config}, HOME, Helpers({})).credential.username == "hub"


def test_identity_and_registry_tokens() -> None:
    config = {
        "auths": {
            "acr.example": {"auth": _auth("00000000-0000-0000-0000-000000000000", ""), "identitytoken": "refresh"},
            "tok.example": {"registrytoken": "bearer-itself"},
        },
        "credHelpers": {"helper.example": "acr"},
    }
    helpers = Helpers({("acr", "helper.example"): {"Username": "<token>", "Secret": "refresh-2"}})
    files = {DOCKER: config}
    assert _lookup("acr.example/app", files, HOME, helpers).credential.identity_token == "refresh"
    assert _lookup("tok.example/app", files, HOME, helpers).credential.registry_token == "bearer-itself"
    from_helper = _lookup("helper.example/app", files, HOME, helpers).credential
    assert from_helper.identity_token == "refresh-2" and from_helper.username == ""


def test_podman_auth_file_after_the_docker_config_and_its_repository_scoped_keys() -> None:
    env = {**HOME, "XDG_RUNTIME_DIR": "/run/user/1"}
    podman = "/run/user/1/containers/auth.json"
    files = {
        DOCKER: {"auths": {"other.example": {"auth": _auth("d", "d")}}},
        podman: {
            "auths": {
                "r.example": {"auth": _auth("registry-wide", "1")},
                "r.example/team": {"auth": _auth("team", "2")},
            }
        },
    }
    assert _lookup("r.example/team/app", files, env, Helpers({})).credential.username == "team"
    assert _lookup("r.example/other/app", files, env, Helpers({})).credential.username == "registry-wide"
    # REGISTRY_AUTH_FILE replaces the runtime directory's file, as in containers/image.
    env_file = {**env, "REGISTRY_AUTH_FILE": "/ci/auth.json"}
    files["/ci/auth.json"] = {"auths": {"r.example": {"auth": _auth("ci", "3")}}}
    found = _lookup("r.example/team/app", files, env_file, Helpers({})).credential
    assert found.username == "ci" and found.source == "auths['r.example'] in /ci/auth.json"


def test_docker_config_dir_from_the_environment_and_no_secret_in_repr() -> None:
    files = {"/cfg/config.json": {"auths": {"r.example": {"auth": _auth("alice", "hunter2")}}}}
    found = _lookup("r.example/app", files, {**HOME, "DOCKER_CONFIG": "/cfg"}, Helpers({})).credential
    assert found.username == "alice"
    assert "hunter2" not in repr(found) and "hunter2" not in found.describe()


def test_nothing_found_and_a_placeholder_entry_is_not_a_credential() -> None:
    files: Dict[str, dict] = {DOCKER: {"auths": {"r.example": {}}}}
    lookup = _lookup("r.example/app", files, HOME, Helpers({}))
    assert lookup.credential is None and lookup.notes == []
    notes = find_credential(parse_repository("r.example/a"), HOME, {DOCKER: "{"}.get, Helpers({})).notes
    assert len(notes) == 1 and notes[0].startswith(f"{DOCKER} is not valid JSON")


def test_credential_describe_names_kind_and_source() -> None:
    assert Credential("u", "p", source="s").describe() == "user 'u', password, from s"
    assert Credential(identity_token="t", source="s").describe() == "identity token, from s"
