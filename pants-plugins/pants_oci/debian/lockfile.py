"""The Debian package lock: what a `debian_packages` target resolves to, pinned. Pure; no Pants imports.

Builds read only the lock, so the same lock gives the same base layer on any day, from any mirror that still
serves the pinned files (Debian's snapshot archive serves them forever).

Lock version 2 records, per package, the archive and suite it was taken from (the highest version across the
suite, `<suite>-updates` and `<suite>-security`), and at the top level every suite it was resolved against:

    {"//": "...", "lock_version": 2, "suite": "bookworm",
     "suites": ["bookworm", "bookworm-updates", "bookworm-security"], "architecture": "amd64", "requested": [...],
     "packages": [{"name": "libssl3", "version": "3.0.22-1~deb12u2", "architecture": "amd64",
                   "filename": "pool/updates/main/o/openssl/libssl3_3.0.22-1~deb12u2_amd64.deb",
                   "sha256": "...", "size": 2036016, "archive": "debian-security", "suite": "bookworm-security"}]}

A package's `filename` is relative to the archive it came from, and `archive` is a label (`archive_label`, the
last path component of the archive URL), never a URL: the repository names no mirror. A build maps each label to a
base URL from its configuration (`url_for_archive`). Version 1 locks, from before the merge, have no per-package
provenance: every package is read as coming from archive "debian" and the lock's suite.

A lock also records, per suite, the Date (and Valid-Until, or null) of the signed Release file it was made from:

    "releases": [{"archive": "debian", "suite": "bookworm", "date": "Sat, 11 Jul 2026 10:16:37 UTC",
                  "valid_until": null}, ...]

so that relocking or checking for updates against a mirror that serves an older Release file (rolled back or
frozen, hiding the updates since) fails instead of silently going back (`check_not_rolled_back`). The key is
optional within lock version 2: a lock written before it has no dates, loads as before, and is simply not checked
for rollback until it is regenerated (which records them).
"""
import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from pants_oci.debian.index import DebianPackage, archive_label, is_security_suite
from pants_oci.debian.release import check_not_rolled_back, format_release_date, parse_release_date
from pants_oci.debian.version import compare_versions
from pants_oci.errors import PantsOciError

LOCK_VERSION = 2
READABLE_LOCK_VERSIONS = (1, 2)
# Version 1 locks were resolved against the main archive only; its URL ends in /debian.
DEFAULT_ARCHIVE = "debian"


class DebianLockError(PantsOciError, ValueError):
    """The one error of the Debian lock machinery: a lock that is missing, malformed or no longer matches its
    target, or that cannot be resolved, verified, fetched, assembled or unpacked. The message names the lock, the
    package or archive, and the fix."""


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str
    architecture: str
    filename: str  # pool path, relative to the root of `archive`
    sha256: str
    size: int
    archive: str = DEFAULT_ARCHIVE  # label of the archive the package came from (see archive_label)
    suite: str = ""  # the suite it came from, e.g. bookworm-security


@dataclass(frozen=True)
class LockedRelease:
    """The signed Release file a lock was made from, for one suite."""

    archive: str  # label (archive_label)
    suite: str
    date: Optional[int]  # epoch seconds; None for an (unsigned) Release file without Date, never written to a lock
    valid_until: Optional[int] = None


@dataclass(frozen=True)
class DebianLock:
    suite: str
    architecture: str
    requested: Tuple[str, ...]
    packages: Tuple[LockedPackage, ...]
    # Every suite the lock was resolved against, in order; the first is `suite`. Empty means just `suite`.
    suites: Tuple[str, ...] = ()
    # The Release files it was made from; empty for locks written before they were recorded.
    releases: Tuple[LockedRelease, ...] = ()

    def __post_init__(self) -> None:
        if not self.suites:
            object.__setattr__(self, "suites", (self.suite,))


def qualified_name(package: Union[LockedPackage, DebianPackage], lock_architecture: str) -> str:
    """A package's name, with apt's `:arch` qualifier when it is of another architecture than the lock's (a cross
    build root holds libc6 and libc6:arm64)."""
    native = package.architecture in (lock_architecture, "all")
    return package.name if native else f"{package.name}:{package.architecture}"


def target_architecture(lock: "DebianLock") -> str:
    """The architecture what is built with this lock runs on: the one its qualified requests name (a cross build
    root's `libssl-dev:arm64`), else the lock's own."""
    foreign = {r.partition(":")[2] for r in lock.requested if ":" in r}
    return foreign.pop() if len(foreign) == 1 else lock.architecture


def url_for_archive(label: str, archive_urls: Sequence[str]) -> str:
    """The configured archive URL whose label is `label`: how a build finds where a locked package lives."""
    for url in archive_urls:
        if archive_label(url) == label:
            return url.rstrip("/")
    raise DebianLockError(
        f"The Debian lock takes packages from the archive {label!r}, but no configured archive URL ends in "
        f"/{label} (configured: {', '.join(archive_urls) or 'none'})."
    )


# ---------------------------------------------------------------------------------------------------------------
# Writing and reading


def render_lock(
    target: str,
    suite: str,
    architecture: str,
    requested: Sequence[str],
    closure: Sequence[DebianPackage],
    suites: Optional[Sequence[str]] = None,
    releases: Sequence[LockedRelease] = (),
) -> str:
    """The lock text: stable key order, packages sorted by name, trailing newline, the same bytes every time.

    `suites` are the suites the closure was resolved against, `suite` first; it defaults to just `suite`. A
    package parsed without an IndexSource is recorded as coming from archive "debian" and `suite`. `releases`, the
    Release files the indexes were checked against, are written in the order given (none: no "releases" key).
    """
    suites = list(suites) if suites else [suite]
    dated = [r for r in releases if r.date is not None]
    if suites[0] != suite:
        raise ValueError(f"The first locked suite must be {suite!r}, not {suites[0]!r}.")
    document = {
        "//": f"Generated by `./pants generate-lockfiles --resolve={target}`. Do not edit by hand.",
        "lock_version": LOCK_VERSION,
        "suite": suite,
        "suites": suites,
        **({"releases": [_release_entry(r) for r in dated]} if dated else {}),
        "architecture": architecture,
        "requested": sorted(set(requested)),
        "packages": [_package_entry(p, suite) for p in sorted(closure, key=lambda p: (p.name, p.architecture))],
    }
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def _release_entry(release: LockedRelease) -> Dict[str, object]:
    # Dates as Release files write them: a reviewer compares them with the archive at a glance.
    date = format_release_date(release.date) if release.date is not None else None
    until = format_release_date(release.valid_until) if release.valid_until is not None else None
    return {"archive": release.archive, "suite": release.suite, "date": date, "valid_until": until}


def _locked_release(entry: Dict[str, object]) -> LockedRelease:
    until = entry["valid_until"]
    return LockedRelease(
        str(entry["archive"]),
        str(entry["suite"]),
        parse_release_date(str(entry["date"])),
        parse_release_date(str(until)) if until is not None else None,
    )


def _package_entry(package: DebianPackage, default_suite: str) -> Dict[str, object]:
    return {
        **package.to_json(),
        "archive": package.archive or DEFAULT_ARCHIVE,
        "suite": package.suite or default_suite,
    }


def parse_lock(text: str, path: str) -> DebianLock:
    """Read a lock of any version in READABLE_LOCK_VERSIONS."""
    try:
        document = json.loads(text)
        version = document["lock_version"]
        if version not in READABLE_LOCK_VERSIONS:
            raise DebianLockError(
                f"The Debian lock {path} has lock_version {version!r}; this plugin reads versions "
                f"{', '.join(map(str, READABLE_LOCK_VERSIONS))}. Update the plugin or regenerate the lock with "
                f"`./pants generate-lockfiles`."
            )
        suite = document["suite"]
        packages = tuple(_locked_package(p, version, suite) for p in document["packages"])
        suites = tuple(document["suites"]) if version >= 2 else (suite,)
        releases = tuple(_locked_release(r) for r in document.get("releases", ()))
        return DebianLock(suite, document["architecture"], tuple(document["requested"]), packages, suites, releases)
    except DebianLockError:
        raise  # already says what is wrong (it is a ValueError too)
    except (ValueError, KeyError, TypeError) as e:
        raise DebianLockError(
            f"The Debian lock {path} is malformed ({e}). Regenerate it with `./pants generate-lockfiles`."
        ) from e


def _locked_package(entry: Dict[str, Any], version: int, lock_suite: str) -> LockedPackage:
    pins = {k: entry[k] for k in ("name", "version", "architecture", "filename", "sha256", "size")}
    if version == 1:
        # Version 1 locks were resolved against the lock's one suite in the main archive.
        return LockedPackage(**pins, archive=DEFAULT_ARCHIVE, suite=lock_suite)
    return LockedPackage(**pins, archive=entry["archive"], suite=entry["suite"])


def check_lock_matches(
    lock: DebianLock,
    path: str,
    target: str,
    suite: str,
    architecture: str,
    requested: Sequence[str],
    suites: Optional[Sequence[str]] = None,
) -> None:
    """Fail if the target asks for something the lock was not generated for.

    `suites`, when given, are the suites the target resolves against now (e.g. once -security is added).
    """
    differences: List[str] = []
    if lock.suite != suite:
        differences.append(f"suite {suite!r} (lock: {lock.suite!r})")
    if suites is not None and tuple(suites) != lock.suites:
        differences.append(f"suites {', '.join(suites)} (lock: {', '.join(lock.suites)})")
    if lock.architecture != architecture:
        differences.append(f"architecture {architecture!r} (lock: {lock.architecture!r})")
    wanted, locked = set(requested), set(lock.requested)
    if wanted - locked:
        differences.append(f"packages not in the lock: {', '.join(sorted(wanted - locked))}")
    if locked - wanted:
        differences.append(f"packages in the lock the target no longer asks for: {', '.join(sorted(locked - wanted))}")
    if differences:
        raise DebianLockError(
            f"The Debian lock {path} no longer matches target {target}: {'; '.join(differences)}. "
            f"Regenerate it with `./pants generate-lockfiles --resolve={target}`."
        )


def check_releases_not_older(lock: DebianLock, lock_path: str, served: Sequence[Tuple[str, LockedRelease]]) -> None:
    """ArchiveVerificationError if a Release file an archive serves now is older than the one `lock` was made
    from. `served`: (archive URL, the Release file's record) per suite; suites the lock has no date for pass."""
    locked = {(r.archive, r.suite): r.date for r in lock.releases if r.date is not None}
    for url, release in served:
        floor = locked.get((release.archive, release.suite))
        if floor is not None:
            check_not_rolled_back(release.date, floor, url, release.suite, lock_path)


def libc_version(lock: DebianLock) -> str:
    return next((p.version for p in lock.packages if p.name == "libc6"), "")


def halves_problem(build_root: DebianLock, build_root_name: str, base: DebianLock, base_name: str) -> Optional[str]:
    """Why a runtime compiled in `build_root` must not run on `base`: another suite, or a package both locks hold
    (libc6, libssl3, ... which the -dev packages depend on) at another version, so the headers it compiled
    against are not those of the libraries it would load. None when the two halves match."""
    compiled_for = target_architecture(build_root)
    if compiled_for != base.architecture:
        return (
            f"the runtime is compiled for {compiled_for} (its build root {build_root_name}) but the "
            f"base {base_name} is {base.architecture}. Give the base the architecture "
            f"{compiled_for!r}: a runtime and its base must be for the same platform"
        )
    if build_root.suite != base.suite:
        return (
            f"the build root {build_root_name} is Debian {build_root.suite} but the base {base_name} is "
            f"{base.suite}. Set the runtime's `build_root_suite` to {base.suite!r}, or the base's `suite` to "
            f"{build_root.suite!r}"
        )
    versions = {p.name: p.version for p in base.packages}
    # A cross build root's own tools (the native libc6 its compiler runs on) are not what the runtime loads.
    differ = [
        (p.name, p.version, versions[p.name])
        for p in build_root.packages
        if p.architecture in (compiled_for, "all") and p.name in versions and versions[p.name] != p.version
    ]
    if not differ:
        return None
    listed = ", ".join(f"{name} {ours} in the build root but {theirs} in the base" for name, ours, theirs in differ)
    return (
        f"the build root {build_root_name} and the base {base_name} were locked at different times: {listed}. "
        f"Relock both in one run: ./pants generate-lockfiles --resolve={build_root_name} --resolve={base_name}"
    )


# ---------------------------------------------------------------------------------------------------------------
# What changed between two locks, and what a lock is missing from the archive

ADDED, REMOVED, UPGRADED, DOWNGRADED = "added", "removed", "upgraded", "downgraded"


@dataclass(frozen=True)
class LockChange:
    name: str
    kind: str  # ADDED, REMOVED, UPGRADED or DOWNGRADED
    old_version: Optional[str]  # None when added
    new_version: Optional[str]  # None when removed
    archive: str = ""  # where the new version comes from; "" when removed
    suite: str = ""
    security: bool = False  # the new version comes from a -security suite


def diff_locks(old: Optional[DebianLock], new: DebianLock) -> List[LockChange]:
    """Packages added, removed, upgraded or downgraded from `old` (None: no lock yet) to `new`, sorted by name.

    Only versions count: the same version taken from another archive (a security fix that reached the suite
    itself) is not a change.
    """
    before = {qualified_name(p, old.architecture): p for p in old.packages} if old else {}
    after = {qualified_name(p, new.architecture): p for p in new.packages}
    changes = []
    for name in sorted(set(before) | set(after)):
        if name not in after:
            changes.append(LockChange(name, REMOVED, before[name].version, None))
        elif name not in before:
            changes.append(_change_to(after[name], ADDED, None, name))
        else:
            order = compare_versions(after[name].version, before[name].version)
            if order:
                kind = UPGRADED if order > 0 else DOWNGRADED
                changes.append(_change_to(after[name], kind, before[name].version, name))
    return changes


def behind(
    lock: DebianLock, available: Dict[str, DebianPackage], foreign: Optional[Dict[str, Dict[str, DebianPackage]]] = None
) -> List[LockChange]:
    """Locked packages with a higher version available (`available`: the merged indexes of the lock's architecture;
    `foreign`: those of each other architecture the lock holds packages of), sorted by name.

    What a scheduled check fails on, naming the packages; `security` marks fixes from the security archive.
    Packages no longer in the archive are not reported: there is nothing newer to move to.
    """
    changes = []
    for locked in sorted(lock.packages, key=lambda p: (p.name, p.architecture)):
        name = qualified_name(locked, lock.architecture)
        index = available if name == locked.name else (foreign or {}).get(locked.architecture, {})
        newest = index.get(locked.name)
        if newest is not None and compare_versions(newest.version, locked.version) > 0:
            changes.append(_change_to(newest, UPGRADED, locked.version, name))
    return changes


def foreign_architectures(lock: DebianLock) -> List[str]:
    """The architectures other than the lock's own (and `all`) that it holds packages of."""
    return sorted({p.architecture for p in lock.packages} - {lock.architecture, "all"})


def _change_to(
    package: Union[LockedPackage, DebianPackage], kind: str, old_version: Optional[str], name: str = ""
) -> LockChange:
    """A change whose new side is `package` (a LockedPackage or a DebianPackage), listed as `name` (qualified)."""
    return LockChange(
        name or package.name,
        kind,
        old_version,
        package.version,
        package.archive,
        package.suite,
        is_security_suite(package.suite),
    )


def format_diff(changes: Sequence[LockChange]) -> str:
    """One line per change, sorted by name, e.g.
    `libssl3 3.0.20-1~deb12u2 -> 3.0.22-1~deb12u2 (debian-security bookworm-security) [security]`."""
    if not changes:
        return "No changes to the locked Debian packages."
    return "\n".join(_format_change(c) for c in sorted(changes, key=lambda c: c.name))


def _format_change(change: LockChange) -> str:
    origin = f"({change.archive} {change.suite})"
    if change.kind == REMOVED:
        line = f"{change.name} {change.old_version} removed"
    elif change.kind == ADDED:
        line = f"{change.name} added {change.new_version} {origin}"
    else:
        line = f"{change.name} {change.old_version} -> {change.new_version} {origin}"
        if change.kind == DOWNGRADED:
            line += " [downgrade]"
    return line + (" [security]" if change.security else "")
