"""Which credentials a push uses, looked up as crane (go-containerregistry's default keychain) and skopeo do.

1. The environment: OCI_REGISTRY_USERNAME / OCI_REGISTRY_PASSWORD.
2. The docker config, `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`: for the registry's host,
   `credHelpers.<host>` (runs `docker-credential-<name> get`), then `credsStore` (the same, for every host), then
   `auths.<host>` (`auth`, the base64 of `user:password`, or `identitytoken`, an OAuth2 refresh token, or
   `registrytoken`, a bearer token used as is).
3. The podman/skopeo auth file: `$REGISTRY_AUTH_FILE`, else `$XDG_RUNTIME_DIR/containers/auth.json`, else
   `~/.config/containers/auth.json`, read the same way (its `auths` keys may name a repository, most specific
   first).

The first source that has something for the host answers. A helper that knows nothing of the host (it says
"credentials not found") lets the next source answer; a helper that is missing or fails is noted, and the note
is shown if the registry then asks for credentials nobody had.

Standard library only: shipped into the publish sandbox with registry.py.
"""
import base64
import json
import os
import subprocess
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Tuple

from pants_oci.oci.reference import Reference, hostname_of_key, same_registry

ENV_USERNAME = "OCI_REGISTRY_USERNAME"
ENV_PASSWORD = "OCI_REGISTRY_PASSWORD"
# A credential helper answering with this user name returns an identity token, not a password (docker's rule).
HELPER_TOKEN_USERNAME = "<token>"
HELPER_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Credential:
    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)  # exchanged at the token service for an access token
    registry_token: str = field(default="", repr=False)  # sent as the bearer token itself
    source: str = ""  # where it came from, for log lines and errors; never the secret

    def describe(self) -> str:
        kind = "identity token" if self.identity_token else "registry token" if self.registry_token else "password"
        who = f"user {self.username!r}, " if self.username else ""
        return f"{who}{kind}, from {self.source}"


@dataclass
class Lookup:
    """The answer, and notes on sources that could not answer (a helper missing from PATH, an unreadable file)."""

    credential: Optional[Credential] = None
    notes: List[str] = field(default_factory=list)


class HelperError(Exception):
    pass


# A helper runner: (helper name, server URL) -> the helper's JSON answer, or None for "not found".
HelperRunner = Callable[[str, str], Optional[Dict[str, str]]]


def docker_config_path(env: Mapping[str, str]) -> Optional[str]:
    if env.get("DOCKER_CONFIG"):
        return os.path.join(env["DOCKER_CONFIG"], "config.json")
    return os.path.join(env["HOME"], ".docker", "config.json") if env.get("HOME") else None


def podman_auth_path(env: Mapping[str, str], exists: Callable[[str], bool]) -> Optional[str]:
    """containers/image's order: REGISTRY_AUTH_FILE alone when set, else the runtime dir's, else the config dir's."""
    if env.get("REGISTRY_AUTH_FILE"):
        return env["REGISTRY_AUTH_FILE"]
    candidates = []
    if env.get("XDG_RUNTIME_DIR"):
        candidates.append(os.path.join(env["XDG_RUNTIME_DIR"], "containers", "auth.json"))
    if env.get("HOME"):
        candidates.append(os.path.join(env["HOME"], ".config", "containers", "auth.json"))
    return next((c for c in candidates if exists(c)), None)


def from_environment(env: Mapping[str, str]) -> Optional[Credential]:
    if not env.get(ENV_USERNAME):
        return None
    return Credential(env[ENV_USERNAME], env.get(ENV_PASSWORD, ""), source=f"the environment ({ENV_USERNAME})")


def helper_for(config: Mapping, reference: Reference) -> Optional[Tuple[str, str]]:
    """(helper name, which setting named it): `credHelpers` for this host first, then `credsStore`."""
    helpers = config.get("credHelpers") or {}
    for key in (reference.auth_key, reference.host, reference.api_host):
        if helpers.get(key):
            return helpers[key], f"credHelpers[{key!r}]"
    if config.get("credsStore"):
        return config["credsStore"], "credsStore"
    return None


def from_helper_answer(answer: Mapping[str, str], source: str) -> Credential:
    username, secret = answer.get("Username", ""), answer.get("Secret", "")
    if username == HELPER_TOKEN_USERNAME:
        return Credential(identity_token=secret, source=source)
    return Credential(username, secret, source=source)


def auth_entry(auths: Mapping, reference: Reference) -> Optional[Tuple[str, Mapping]]:
    """The `auths` entry for the repository: a key naming the repository or a namespace of it (podman's
    repository-scoped logins, most specific first), else the docker CLI's match on the key's host name."""
    parts = f"{reference.host}/{reference.path}".split("/")
    for n in range(len(parts), 1, -1):
        key = "/".join(parts[:n])
        if key in auths:
            return key, auths[key]
    if reference.auth_key in auths:
        return reference.auth_key, auths[reference.auth_key]
    for key, entry in auths.items():
        if same_registry(hostname_of_key(key), reference):
            return key, entry
    return None


def from_auth_entry(entry: Mapping, source: str) -> Optional[Credential]:
    if entry.get("identitytoken"):
        return Credential(entry.get("username", ""), identity_token=entry["identitytoken"], source=source)
    if entry.get("registrytoken"):
        return Credential(registry_token=entry["registrytoken"], source=source)
    if entry.get("auth"):
        user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        return Credential(user, password, source=source)
    if entry.get("username"):
        return Credential(entry["username"], entry.get("password", ""), source=source)
    return None  # `{}`: Docker Desktop's placeholder for a login kept by its credsStore


def from_config(
    config: Mapping, path: str, reference: Reference, run_helper: HelperRunner, lookup: Lookup
) -> Optional[Credential]:
    helper = helper_for(config, reference)
    if helper:
        name, setting = helper
        source = f"credential helper docker-credential-{name} ({setting} in {path})"
        try:
            answer = run_helper(name, reference.auth_key)
        except HelperError as e:
            lookup.notes.append(f"{source} failed: {e}")
            answer = None
        if answer:
            return from_helper_answer(answer, source)
    found = auth_entry(config.get("auths") or {}, reference)
    if found:
        key, entry = found
        return from_auth_entry(entry, f"auths[{key!r}] in {path}")
    return None


def find_credential(
    reference: Reference,
    env: Mapping[str, str],
    read_file: Callable[[str], Optional[str]],
    run_helper: HelperRunner,
) -> Lookup:
    """Pure but for the two callables: `read_file` gives a file's text or None, `run_helper` asks a helper."""
    lookup = Lookup(from_environment(env))
    if lookup.credential:
        return lookup
    for path in (docker_config_path(env), podman_auth_path(env, lambda p: read_file(p) is not None)):
        text = read_file(path) if path else None
        if not path or text is None:
            continue
        try:
            config = json.loads(text)
        except ValueError as e:
            lookup.notes.append(f"{path} is not valid JSON ({e}) and was skipped")
            continue
        credential = from_config(config, path, reference, run_helper, lookup)
        if credential:
            lookup.credential = credential
            return lookup
    return lookup


# ---------------------------------------------------------------------------------------------------------------
# I/O


def read_text(path: str) -> Optional[str]:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def helper_runner(env: Mapping[str, str]) -> HelperRunner:
    """Runs `docker-credential-<name> get` from PATH with the server URL on stdin, as the docker CLI does."""

    def run(name: str, server_url: str) -> Optional[Dict[str, str]]:
        program = f"docker-credential-{name}"
        try:
            done = subprocess.run(
                [program, "get"],
                input=server_url,
                capture_output=True,
                text=True,
                env=dict(env),
                timeout=HELPER_TIMEOUT_SECONDS,
            )
        except FileNotFoundError:
            raise HelperError(
                f"{program} is not on PATH; install it, or remove it from the config (add the variables it needs "
                f"to `[oci-image].publish_env_vars`)"
            ) from None
        except subprocess.TimeoutExpired:
            raise HelperError(f"{program} did not answer within {HELPER_TIMEOUT_SECONDS} s") from None
        if done.returncode != 0:
            said = (done.stdout + done.stderr).strip()
            if "credentials not found" in said.lower():
                return None
            raise HelperError(f"{program} get exited with {done.returncode}: {said[:300]}")
        try:
            return json.loads(done.stdout)
        except ValueError:
            raise HelperError(f"{program} get printed something other than JSON") from None

    return run
