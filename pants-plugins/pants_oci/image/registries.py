"""Where `./pants publish` pushes an image: `[oci-image].registries` (aliases, defaults, repository templates,
skip_push), as Pants' docker backend does with `[docker].registries`.

Pure: the publish rule hands in the option's value and the target's fields, and gets back one destination per
registry, or an error that names the target, the field or option, the bad value and the fix.
"""
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from pants_oci.errors import PantsOciError
from pants_oci.image import plan
from pants_oci.oci.reference import has_registry_host

OPTION = "[oci-image].registries"
REGISTRY_KEYS = ("address", "default", "skip_push", "repository")
PLACEHOLDERS = ("name", "directory", "parent_directory", "repository")


class RegistryConfigError(PantsOciError, ValueError):
    pass


@dataclass(frozen=True)
class Registry:
    alias: str  # "" for an address a target names directly
    address: str  # host[:port], optionally with a path prefix: "registry.example.com:5000/team"
    default: bool = False
    skip_push: bool = False
    repository: Optional[str] = None  # a template; None: `[oci-image].default_repository`

    @property
    def label(self) -> str:
        return f"@{self.alias}" if self.alias else self.address


@dataclass(frozen=True)
class Destination:
    repository: str  # the full name pushed to, host first
    skip_push: bool
    registry: str  # the registry's label ("@alias" or the address), for messages


def _bool(alias: str, key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise RegistryConfigError(f"{OPTION}: `{key}` of registry {alias!r} must be true or false, not {value!r}.")


def parse_registries(raw: Mapping[str, Any]) -> Dict[str, Registry]:
    """The option's value, {alias: {"address": ..., "default": ..., "skip_push": ..., "repository": ...}}, by alias."""
    registries = {}
    for alias, settings in raw.items():
        example = f"{{'{alias}': {{'address': 'registry.example.com:5000', 'default': true}}}}"
        if not isinstance(settings, Mapping) or not settings.get("address"):
            raise RegistryConfigError(f"{OPTION}: registry {alias!r} needs an `address`, e.g. {example}.")
        unknown = sorted(set(settings) - set(REGISTRY_KEYS))
        if unknown:
            raise RegistryConfigError(
                f"{OPTION}: registry {alias!r} has unknown settings {unknown}; the settings are {list(REGISTRY_KEYS)}."
            )
        address = str(settings["address"]).rstrip("/")
        if not has_registry_host(address.split("/", 1)[0]):
            raise RegistryConfigError(
                f"{OPTION}: the address {address!r} of registry {alias!r} does not start with a registry host (a "
                f"name with a '.' or a ':port', or localhost), e.g. 'registry.example.com' or 'localhost:5000'."
            )
        registries[alias] = Registry(
            alias,
            address,
            _bool(alias, "default", settings.get("default", alias == "default")),
            _bool(alias, "skip_push", settings.get("skip_push", False)),
            settings.get("repository"),
        )
    return registries


def select(registries: Mapping[str, Registry], wanted: Optional[Sequence[str]], target: str) -> List[Registry]:
    """The registries a target publishes to: its `registries` field (`@alias` or an address), else every default."""
    if wanted is None:
        return [r for r in registries.values() if r.default]
    chosen = []
    for entry in wanted:
        if entry.startswith("@"):
            if entry[1:] not in registries:
                known = ", ".join(f"@{a}" for a in registries) or "none are configured"
                raise RegistryConfigError(
                    f"The 'registries' field in target {target}: no registry has the alias {entry!r} in {OPTION} "
                    f"({known}); add it there or name the registry by its address, e.g. 'registry.example.com'."
                )
            chosen.append(registries[entry[1:]])
        elif has_registry_host(entry.split("/", 1)[0]):
            chosen.append(Registry("", entry.rstrip("/")))
        else:
            raise RegistryConfigError(
                f"The 'registries' field in target {target}: {entry!r} is neither an alias ('@name' of {OPTION}) "
                f"nor a registry address, e.g. 'registry.example.com:5000'."
            )
    return chosen


def render(template: str, values: Mapping[str, str], where: str) -> str:
    try:
        rendered = template.format(**values)
    except (KeyError, IndexError, ValueError) as e:
        raise RegistryConfigError(
            f"{where}: the repository template {template!r} cannot be filled in ({e!r}); it may use "
            f"{', '.join('{' + p + '}' for p in PLACEHOLDERS)}, e.g. 'team-a/{{name}}'."
        ) from e
    problem = plan.repository_problem(rendered)
    if problem:
        raise RegistryConfigError(f"{where}: the repository template {template!r} gave {problem}.")
    return rendered


def template_values(spec_path: str, target_name: str, repository: Optional[str]) -> Dict[str, str]:
    """{name}: the target's name; {directory} and {parent_directory}: the last two parts of its BUILD file's
    directory; {repository}: its `repository` field, or its name."""
    parent, directory = os.path.split(spec_path)
    return {
        "name": target_name,
        "directory": directory,
        "parent_directory": os.path.basename(parent),
        "repository": repository or target_name,
    }


def destinations(
    target: str,
    spec_path: str,
    target_name: str,
    repository: Optional[str],
    wanted: Optional[Sequence[str]],
    skip_push: bool,
    registries: Mapping[str, Registry],
    default_template: str,
) -> Tuple[Destination, ...]:
    """Where the target's image goes: its `repository` alone when it names a host, else one repository per selected
    registry, `<address>/<template>`."""
    if repository and has_registry_host(repository.split("/", 1)[0]):
        if wanted:
            raise RegistryConfigError(
                f"The 'registries' field in target {target}: its 'repository' ({repository!r}) already names a "
                f"registry; drop the host from 'repository' or drop 'registries'."
            )
        return (Destination(repository, skip_push, repository.split("/", 1)[0]),)
    chosen = select(registries, wanted, target)
    if not chosen and not skip_push:
        raise RegistryConfigError(
            f"Cannot publish {target}: it names no registry. Configure one in {OPTION} with `default = true`, "
            f"e.g. {{'local': {{'address': 'localhost:5000', 'default': true}}}}, give the target "
            f"registries=['@local'], put the host in its 'repository' "
            f"('registry.example.com/{repository or target_name}'), or set skip_push=True."
        )
    values = template_values(spec_path, target_name, repository)
    found = []
    for registry in chosen:
        where = f"{OPTION} (registry {registry.label})" if registry.repository else "[oci-image].default_repository"
        path = render(registry.repository or default_template, values, f"Publishing {target}: {where}")
        found.append(Destination(f"{registry.address}/{path}", skip_push or registry.skip_push, registry.label))
    return tuple(found) or (Destination(repository or target_name, True, "none"),)
