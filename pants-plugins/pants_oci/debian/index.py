"""Debian's Packages index and the dependency closure of a package list. Pure; no Pants imports.

A lock pins, for every package in the closure of the requested ones over Depends and Pre-Depends, the exact
version, pool path, sha256 and size, as distroless/rules_distroless do. Packages that only matter while dpkg
installs something (debconf, dpkg, perl) are left out: nothing installs anything in an image built from a lock.
"""
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

# Dependencies needed only by maintainer scripts at install time, never by a program at run time; distroless
# drops the same. `openssl` (the command) is what ca-certificates' postinst runs to build the CA bundle, which
# this plugin builds itself. Asked for by name, any of them is still installed.
INSTALL_TIME_ONLY = frozenset(
    {"debconf", "debconf-2.0", "cdebconf", "dpkg", "perl-base", "perl", "install-info", "openssl"}
)


class DebianResolveError(ValueError):
    """A package list that cannot be resolved against the index; the message names the package."""


@dataclass(frozen=True)
class DebianPackage:
    name: str
    version: str
    architecture: str
    filename: str  # pool path, relative to the archive root
    sha256: str
    size: int
    depends: Tuple[Tuple[str, ...], ...]  # each tuple: alternatives ("a | b"), names only
    provides: Tuple[str, ...]
    source: str = ""

    def to_json(self) -> Dict[str, object]:
        return {"name": self.name, "version": self.version, "architecture": self.architecture,
                "filename": self.filename, "sha256": self.sha256, "size": self.size}


def _relation_names(value: str) -> Tuple[Tuple[str, ...], ...]:
    """'libc6 (>= 2.34), libzstd1 | libz1' -> (('libc6',), ('libzstd1', 'libz1')). Arch qualifiers dropped."""
    groups = []
    for clause in filter(None, (c.strip() for c in value.split(","))):
        alternatives = tuple(re.split(r"[\s(:\[]", alt.strip(), 1)[0] for alt in clause.split("|"))
        groups.append(alternatives)
    return tuple(groups)


def parse_packages_index(text: str) -> Dict[str, DebianPackage]:
    """Parse a Packages file. With several versions of a name, the last one in the index wins."""
    packages = {}
    for stanza in text.split("\n\n"):
        fields = _parse_stanza(stanza)
        if "Package" not in fields or "SHA256" not in fields:
            continue
        depends = ", ".join(filter(None, (fields.get("Pre-Depends"), fields.get("Depends"))))
        package = DebianPackage(
            name=fields["Package"],
            version=fields["Version"],
            architecture=fields.get("Architecture", ""),
            filename=fields["Filename"],
            sha256=fields["SHA256"],
            size=int(fields["Size"]),
            depends=_relation_names(depends),
            provides=tuple(alt[0] for alt in _relation_names(fields.get("Provides", ""))),
            source=fields.get("Source", fields["Package"]).split()[0],
        )
        packages[package.name] = package
    return packages


def _parse_stanza(stanza: str) -> Dict[str, str]:
    fields: Dict[str, str] = {}
    key = None
    for line in stanza.splitlines():
        if line.startswith((" ", "\t")) and key:
            fields[key] += "\n" + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            fields[key] = value.strip()
    return fields


def _providers(index: Dict[str, DebianPackage]) -> Dict[str, List[str]]:
    providers: Dict[str, List[str]] = {}
    for package in index.values():
        for virtual in package.provides:
            providers.setdefault(virtual, []).append(package.name)
    return providers


def _pick(alternatives: Sequence[str], index: Dict[str, DebianPackage], providers: Dict[str, List[str]],
          chosen: Iterable[str]) -> Optional[str]:
    """apt's choice, simplified: an alternative already chosen, else the first real package, else a provider."""
    chosen = set(chosen)
    for name in alternatives:
        if name in chosen or any(p in chosen for p in providers.get(name, ())):
            return None  # already satisfied
    for name in alternatives:
        if name in index:
            return name
    for name in alternatives:
        if providers.get(name):
            return sorted(providers[name])[0]
    return ""


def resolve_closure(requested: Sequence[str], index: Dict[str, DebianPackage]) -> List[DebianPackage]:
    """The requested packages and everything they Depend or Pre-Depend on, sorted by name."""
    unknown = [name for name in requested if name not in index]
    if unknown:
        raise DebianResolveError(
            f"Unknown Debian package(s) {', '.join(repr(n) for n in unknown)}: not in the archive's Packages index "
            f"for this suite and architecture. Check the spelling (e.g. `apt-cache policy {unknown[0]}`)."
        )
    providers = _providers(index)
    chosen: Dict[str, DebianPackage] = {}
    queue = list(requested)
    while queue:
        name = queue.pop(0)
        if name in chosen:
            continue
        package = index[name]
        chosen[name] = package
        for alternatives in package.depends:
            if any(a in INSTALL_TIME_ONLY for a in alternatives):
                continue
            pick = _pick(alternatives, index, providers, list(chosen) + queue)
            if pick == "":
                raise DebianResolveError(
                    f"Debian package {name!r} depends on {' | '.join(alternatives)}, which nothing in the index "
                    f"provides."
                )
            if pick:
                queue.append(pick)
    return [chosen[n] for n in sorted(chosen)]
