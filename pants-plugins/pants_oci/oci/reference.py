"""Where a repository name sends requests and which key its credentials are filed under.

Docker Hub has three names for one registry: `docker.io` (what people write), `registry-1.docker.io` (the API
host) and `https://index.docker.io/v1/` (the key `docker login` files its credentials under, and the server URL a
credential helper is asked about). The docker CLI also reads a single-name Hub repository `docker.io/python` as
`library/python`. Everywhere else the host is all three.

Standard library only: shipped into the publish sandbox with registry.py.
"""
from dataclasses import dataclass

from pants_oci.errors import PantsOciError

DOCKER_HUB_NAMES = ("docker.io", "index.docker.io", "registry-1.docker.io")
DOCKER_HUB_API_HOST = "registry-1.docker.io"
DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"


class RepositoryNameError(PantsOciError, ValueError):
    """A repository name the client cannot push to; the message says how to write it."""


@dataclass(frozen=True)
class Reference:
    host: str  # the registry as the repository names it, e.g. "docker.io" or "localhost:5000"
    api_host: str  # where the HTTP API answers
    auth_key: str  # the docker config's key and a credential helper's server URL
    path: str  # the repository on that registry, e.g. "library/python"

    @property
    def is_docker_hub(self) -> bool:
        return self.api_host == DOCKER_HUB_API_HOST


def has_registry_host(first_component: str) -> bool:
    """The docker CLI's rule: a first component with a '.' or ':' (or `localhost`) is a host, not a namespace."""
    return "." in first_component or ":" in first_component or first_component == "localhost"


def parse_repository(repository: str) -> Reference:
    """'registry.example.com:5000/acme/app' -> Reference(host, api host, auth key, 'acme/app')."""
    host, _, path = repository.partition("/")
    if not path or not has_registry_host(host):
        raise RepositoryNameError(
            f"The repository {repository!r} names no registry: to publish, it must start with the registry's host, "
            f"e.g. 'registry.example.com/{repository}' or 'localhost:5000/{repository}', or the image must name a "
            f"registry of `[oci-image].registries`."
        )
    if host.lower() in DOCKER_HUB_NAMES:
        if "/" not in path:
            path = f"library/{path}"  # Hub's official images, as `docker push docker.io/python` would read it
        return Reference(host, DOCKER_HUB_API_HOST, DOCKER_HUB_AUTH_KEY, path)
    return Reference(host, host, host, path)


def hostname_of_key(key: str) -> str:
    """A docker config `auths` key as the docker CLI compares it: scheme and path dropped.
    'https://index.docker.io/v1/' -> 'index.docker.io'; 'registry.example.com' stays."""
    for scheme in ("https://", "http://"):
        if key.startswith(scheme):
            key = key[len(scheme) :]
    return key.split("/", 1)[0]


def same_registry(key_host: str, reference: Reference) -> bool:
    if reference.is_docker_hub:
        return key_host.lower() in DOCKER_HUB_NAMES
    return key_host == reference.host
