"""Debian's Packages index and the dependency closure of a package list. Pure; no Pants imports.

A lock pins, for every package in the closure of the requested ones over Depends and Pre-Depends, the exact
version, pool path, sha256 and size, as distroless/rules_distroless do. Packages that only matter while dpkg
installs something (debconf, dpkg, perl) are left out: nothing installs anything in an image built from a lock.

Debian publishes a fix first in the security archive (suite `<suite>-security`) or in `<suite>-updates`, and only
later in `<suite>` itself, so a lock is resolved against the merge of those indexes: per package name, the
highest version by dpkg's ordering. Each package remembers which archive and suite it came from, because its
pool path is relative to that archive.
"""
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple
from urllib.parse import urlsplit

from pants_oci.debian.version import compare_versions
from pants_oci.errors import PantsOciError

# Dependencies needed only by maintainer scripts at install time, never by a program at run time; distroless
# drops the same. `openssl` (the command) is what ca-certificates' postinst runs to build the CA bundle, which
# this plugin builds itself. Asked for by name, any of them is still installed.
# `awk`: base-files pre-depends on it for its maintainer script alone (a build root asks for mawk by name).
INSTALL_TIME_ONLY = frozenset(
    {"debconf", "debconf-2.0", "cdebconf", "dpkg", "perl-base", "perl", "install-info", "openssl", "awk"}
)


class DebianResolveError(PantsOciError, ValueError):
    """A package list that cannot be resolved against the index; the message names the package."""


def archive_label(url: str) -> str:
    """The short name of an archive: the last path component of its URL.

    'https://deb.example/debian-security/' -> 'debian-security'. Locks record this label, never the URL: the
    repository must not name a mirror, so a build maps each label back to a URL from its own configuration.
    """
    path = urlsplit(url).path.rstrip("/")
    label = path.rsplit("/", 1)[-1]
    if not label:
        # Falling back to the host name would write a mirror into the lock.
        raise ValueError(f"Archive URL {url!r} has no path, so it has no label (expected e.g. .../debian).")
    return label


def is_security_suite(suite: str) -> bool:
    """Debian's security archive names its suites `<suite>-security` (e.g. bookworm-security)."""
    return suite.endswith("-security")


@dataclass(frozen=True)
class IndexSource:
    """Where a Packages index came from: an archive label (see `archive_label`) and a suite."""

    archive: str  # e.g. "debian", "debian-security"
    suite: str  # e.g. "bookworm", "bookworm-updates", "bookworm-security"

    @classmethod
    def from_url(cls, archive_url: str, suite: str) -> "IndexSource":
        return cls(archive_label(archive_url), suite)


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
    # Where this version came from; "" when the index was parsed without an IndexSource.
    archive: str = ""
    suite: str = ""
    multi_arch: str = ""  # Multi-Arch: "same", "foreign", "allowed" or "" (not in locks: resolution only)
    # Depends pinned to one exact version (`libssl3t64 (= 3.5.4-1)`): for a -dev package, the runtime libraries
    # built from its source, which is how a suite names the library a module loads (runtime/modules.py).
    exact_depends: Tuple[str, ...] = ()

    def to_json(self) -> Dict[str, object]:
        return {
            "name": self.name,
            "version": self.version,
            "architecture": self.architecture,
            "filename": self.filename,
            "sha256": self.sha256,
            "size": self.size,
        }


def _relation_names(value: str) -> Tuple[Tuple[str, ...], ...]:
    """'libc6 (>= 2.34), libzstd1 | libz1' -> (('libc6',), ('libzstd1', 'libz1')). Arch qualifiers dropped."""
    groups = []
    for clause in filter(None, (c.strip() for c in value.split(","))):
        alternatives = tuple(re.split(r"[\s(:\[]", alt.strip(), 1)[0] for alt in clause.split("|"))
        groups.append(alternatives)
    return tuple(groups)


def parse_packages_index(text: str, source: Optional[IndexSource] = None) -> Dict[str, DebianPackage]:
    """Parse a Packages file. With several versions of a name, the highest one wins (as apt would install).

    `source`, when given, is recorded on every package as its archive and suite.
    """
    packages: Dict[str, DebianPackage] = {}
    for stanza in text.split("\n\n"):
        fields = _parse_stanza(stanza)
        if "Package" not in fields or "SHA256" not in fields:
            continue
        _keep_highest(packages, _package_from_fields(fields, source))
    return packages


def merge_indexes(indexes: Sequence[Dict[str, DebianPackage]]) -> Dict[str, DebianPackage]:
    """Per package name, the highest version across the indexes (e.g. suite, -updates, -security).

    On equal versions the earlier index wins, so a fix that has reached the suite itself is taken from there.
    The whole chosen package is kept, so its own Depends are the ones the closure follows.
    """
    merged: Dict[str, DebianPackage] = {}
    for packages in indexes:
        for package in packages.values():
            _keep_highest(merged, package)
    return merged


def _keep_highest(packages: Dict[str, DebianPackage], candidate: DebianPackage) -> None:
    """Put `candidate` in `packages` unless a version at least as high is already there (first one wins ties)."""
    current = packages.get(candidate.name)
    if current is None or compare_versions(candidate.version, current.version) > 0:
        packages[candidate.name] = candidate


def _package_from_fields(fields: Dict[str, str], source: Optional[IndexSource]) -> DebianPackage:
    depends = ", ".join(filter(None, (fields.get("Pre-Depends"), fields.get("Depends"))))
    return DebianPackage(
        name=fields["Package"],
        version=fields["Version"],
        architecture=fields.get("Architecture", ""),
        filename=fields["Filename"],
        sha256=fields["SHA256"],
        size=int(fields["Size"]),
        depends=_relation_names(depends),
        provides=tuple(alt[0] for alt in _relation_names(fields.get("Provides", ""))),
        source=fields.get("Source", fields["Package"]).split()[0],
        archive=source.archive if source else "",
        suite=source.suite if source else "",
        multi_arch=fields.get("Multi-Arch", ""),
        exact_depends=_exact_relations(fields.get("Depends", "")),
    )


def _exact_relations(value: str) -> Tuple[str, ...]:
    """'libssl3t64 (= 3.5.4-1), libc6 (>= 2.34)' -> ('libssl3t64',): clauses of one name pinned with `=`."""
    exact = (re.fullmatch(r"([a-z0-9][a-z0-9+.-]*)(?::\S+)?\s*\(=\s*[^)]+\)", c.strip()) for c in value.split(","))
    return tuple(m.group(1) for m in exact if m)


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


def _pick(
    alternatives: Sequence[str], index: Dict[str, DebianPackage], providers: Dict[str, List[str]], chosen: Iterable[str]
) -> Optional[str]:
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


def split_qualifier(requested: str, default_architecture: str) -> Tuple[str, str]:
    """(name, architecture) of a requested package, in apt's syntax: 'libssl-dev:arm64' -> ('libssl-dev', 'arm64');
    'gcc' -> ('gcc', default_architecture)."""
    name, _, architecture = requested.partition(":")
    return name, architecture or default_architecture


def requested_by_architecture(requested: Sequence[str], default_architecture: str) -> Dict[str, List[str]]:
    """The requested names per architecture, the default architecture first (its closure is resolved first: a
    foreign package's dependency on a Multi-Arch: foreign tool is met by the native one, as apt would)."""
    by_architecture: Dict[str, List[str]] = {default_architecture: []}
    for item in requested:
        name, architecture = split_qualifier(item, default_architecture)
        by_architecture.setdefault(architecture, []).append(name)
    return {a: names for a, names in by_architecture.items() if names or a == default_architecture}


def serves_every_architecture(closure: Iterable[DebianPackage]) -> List[str]:
    """Names of packages in a native closure that also satisfy other architectures' dependencies: architecture
    `all` and Multi-Arch: foreign packages (a tool, not a library linked into the foreign code)."""
    return [p.name for p in closure if p.architecture == "all" or p.multi_arch == "foreign"]


def resolve_closure(
    requested: Sequence[str], index: Dict[str, DebianPackage], satisfied: Iterable[str] = ()
) -> List[DebianPackage]:
    """The requested packages and everything they Depend or Pre-Depend on, sorted by name. Dependencies on a name
    in `satisfied` (already provided by another architecture's closure) are not followed."""
    unknown = [name for name in requested if name not in index]
    if unknown:
        raise DebianResolveError(
            f"Unknown Debian package(s) {', '.join(repr(n) for n in unknown)}: not in the archive's Packages index "
            f"for this suite and architecture. Check the spelling (e.g. `apt-cache policy {unknown[0]}`)."
        )
    providers = _providers(index)
    chosen: Dict[str, DebianPackage] = {}
    elsewhere = [name for name in satisfied if name not in requested]
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
            pick = _pick(alternatives, index, providers, list(chosen) + queue + elsewhere)
            if pick == "":
                raise DebianResolveError(
                    f"Debian package {name!r} depends on {' | '.join(alternatives)}, which nothing in the index "
                    f"provides."
                )
            if pick:
                queue.append(pick)
    return [chosen[n] for n in sorted(chosen)]
