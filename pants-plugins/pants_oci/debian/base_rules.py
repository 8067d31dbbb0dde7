"""Rules for Debian bases: lock a package list against verified archives, fetch the pinned .debs, and assemble a
base in a cacheable process. Nothing here knows about runtimes or images.

Thin orchestration: fetch_index.py (run in a sandbox) downloads and verifies indexes against the signed InRelease,
in two steps: every InRelease a lock needs first, compared with the Release dates the lock records (a mirror
rolled back is refused before any Packages file is downloaded), then each index against that same InRelease;
index.py merges and resolves them; lockfile.py writes, reads and compares locks; assemble_base.py (run in a
sandbox) turns .debs into the base's tar and the facts the image checks need; layer/rules.py compresses the tar
into the base layer.

Over 400 lines: it is the whole lock engine (archives, verified indexes, locking, reading a lock, .debs, base and
tree assembly), one flow over the same types. Not yet split by step as runtime/ is (issue 29 leaves it).
"""
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from pants.core.util_rules.adhoc_binaries import PythonBuildStandaloneBinary
from pants.engine.fs import (
    EMPTY_DIGEST,
    CreateDigest,
    Digest,
    DigestContents,
    DigestEntries,
    DigestSubset,
    FileContent,
    FileDigest,
    FileEntry,
    MergeDigests,
    NativeDownloadFile,
    PathGlobs,
    RemovePrefix,
)
from pants.engine.process import FallibleProcessResult, Process, ProcessCacheScope
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.util.logging import LogLevel

from pants_oci.debian import index, lockfile
from pants_oci.debian.lockfile import DebianLockError
from pants_oci.debian.release import ArchiveVerificationError
from pants_oci.debian.rules import DebianArchives
from pants_oci.debian.subsystem import DebianSubsystem
from pants_oci.digests import first_file_digest
from pants_oci.elf.elf import ElfFacts, elf_facts_from_json
from pants_oci.errors import engine_error_detail
from pants_oci.oci.determinism import DEFAULT_EPOCH
from pants_oci.sandbox import (
    SandboxPython,
    SandboxPythonRequest,
    SandboxTool,
    explained_failure,
    host_python,
    tool_process,
)

logger = logging.getLogger(__name__)

# The sandbox tools of this module (sandbox.py ships what they import).
FETCH_INDEX = SandboxTool("pants_oci.debian.fetch_index", data=("debian/debian-archive-keyring.pgp",))
ASSEMBLE_BASE = SandboxTool("pants_oci.debian.assemble_base")
ASSEMBLE_ROOT = SandboxTool("pants_oci.debian.assemble_root")
BASE_TAR = "base.tar"  # what assemble_base.py writes (its ARCHIVE_FILE)


@dataclass(frozen=True)
class DebianLockSpec:
    """Any Debian lock: a base's (a `debian_packages` target or a runtime's default base), a runtime's build root,
    a `debian_tools` target's or the container tools'. What to lock, where its lock file is, and its resolve name."""

    address: str  # what messages name, and the resolve name of `generate-lockfiles`
    packages: Tuple[str, ...]  # the requested packages (their dependencies are added when locking)
    suite: str
    architecture: str
    lock_path: str
    keep_docs: bool = False  # these two: a base's assembly only (DebianBaseRequest)
    keep_gconv: bool = False


@dataclass(frozen=True)
class DebianArchiveConfig:
    """Where packages come from: the main archive (suite, -updates) and the security archive (-security)."""

    main_url: str
    security_url: str
    unsigned: Tuple[str, ...]
    verification_time: Optional[int]
    max_release_age: Optional[int] = None  # seconds; None: no limit

    @property
    def urls(self) -> Tuple[str, ...]:
        return (self.main_url, self.security_url)

    def index_sources(self, suite: str) -> Tuple[Tuple[str, str], ...]:
        """(archive URL, suite) of every index a lock of `suite` is resolved against, in precedence order."""
        return ((self.main_url, suite), (self.main_url, f"{suite}-updates"), (self.security_url, f"{suite}-security"))

    def max_age(self, suite: str, release_suite: str) -> Optional[int]:
        """The maximum age of `suite`'s Release file when it has no Valid-Until: none for the release suite itself,
        which Debian re-dates only at point releases (see [debian].max_release_age)."""
        return None if suite == release_suite else self.max_release_age


@rule(desc="Find the Debian archives")
async def choose_debian_archives(subsystem: DebianSubsystem, machine: DebianArchives) -> DebianArchiveConfig:
    main = subsystem.archive_url or next((u for u in machine.uris if u.endswith("/debian")), None)
    security = subsystem.security_archive_url or next(iter(machine.security_uris), None)
    missing = [name for name, url in (("archive_url", main), ("security_archive_url", security)) if not url]
    if missing:
        raise DebianLockError(
            f"No Debian {' or '.join(m.replace('_url', '').replace('_', ' ') for m in missing)} to lock packages "
            f"against: {', '.join(f'[debian].{m}' for m in missing)} unset and this machine's apt sources name none. "
            f"Set them (the directories with dists/ and pool/, e.g. https://mirror.example/debian and "
            f"https://mirror.example/debian-security)."
        )
    assert main and security  # `missing` named whichever is not set
    return DebianArchiveConfig(
        main.rstrip("/"),
        security.rstrip("/"),
        tuple(u.rstrip("/") for u in subsystem.unsigned_archives),
        subsystem.verification_time,
        _max_release_age_seconds(subsystem.max_release_age),
    )


def _max_release_age_seconds(days: int) -> Optional[int]:
    if days < 0:
        raise DebianLockError(
            f"[debian].max_release_age is {days}: give a number of days (e.g. 30), or 0 for no limit."
        )
    return days * 86400 if days else None


# ---------------------------------------------------------------------------------------------------------------
# Verified indexes and locks


@dataclass(frozen=True)
class VerifiedReleaseRequest:
    archive_url: str
    suite: str
    max_age: Optional[int] = None  # seconds, for a Release file without Valid-Until; None: no limit


@dataclass(frozen=True)
class VerifiedRelease:
    """A suite's InRelease, verified (signature, suite, dates), with no Packages file downloaded yet."""

    archive_url: str
    inrelease: Digest  # one file: InRelease
    release: lockfile.LockedRelease
    signed_by: Tuple[str, ...]  # fingerprints of the keys whose signatures verified (empty: unsigned opt-out)


@dataclass(frozen=True)
class VerifiedIndexRequest:
    archive_url: str
    suite: str
    architecture: str
    max_age: Optional[int] = None  # as VerifiedReleaseRequest's


@dataclass(frozen=True, eq=False)  # holds a big text; memoized per request within a run
class VerifiedIndex:
    packages: Dict[str, index.DebianPackage]
    signed_by: Tuple[str, ...]  # fingerprints of the keys whose signatures verified (empty: unsigned opt-out)


def _fetch_index_args(
    config: DebianArchiveConfig,
    url: str,
    suite: str,
    arch: str,
    max_age: Optional[int],
) -> List[str]:
    argv = [url, suite, arch, "out"]
    if config.verification_time is not None:
        argv += ["--now", str(config.verification_time)]
    if max_age is not None:
        argv += ["--max-age", str(max_age)]
    if url in config.unsigned:
        argv.append("--unsigned")
    return argv


async def _run_fetch_index(
    python: PythonBuildStandaloneBinary, args: List[str], inputs: Digest, description: str
) -> Dict[str, bytes]:
    process = await tool_process(
        host_python(python.path),
        FETCH_INDEX,
        args,
        inputs=inputs,
        output_directories=("out",),
        description=description,
        level=LogLevel.INFO,
        # The archive moves as Debian publishes updates: read it fresh in every run that locks.
        cache_scope=ProcessCacheScope.PER_SESSION,
    )
    result = await Get(FallibleProcessResult, Process, process)
    if result.exit_code != 0:
        raise DebianLockError(f"Cannot use a Debian index: {explained_failure(result)}")
    return {fc.path: fc.content for fc in await Get(DigestContents, Digest, result.output_digest)}


@rule(desc="Fetch and verify a Debian InRelease", level=LogLevel.DEBUG)
async def fetch_verified_release(
    request: VerifiedReleaseRequest, config: DebianArchiveConfig, python: PythonBuildStandaloneBinary
) -> VerifiedRelease:
    # The architecture argument is unused with --release-only: the InRelease covers them all.
    args = _fetch_index_args(config, request.archive_url, request.suite, "all", request.max_age)
    contents = await _run_fetch_index(
        python,
        args + ["--release-only"],
        EMPTY_DIGEST,
        f"Fetch and verify the {request.suite} InRelease of {request.archive_url}",
    )
    record = json.loads(contents["out/release.json"])
    inrelease = await Get(Digest, CreateDigest([FileContent("in/InRelease", contents["out/InRelease"])]))
    label = index.archive_label(request.archive_url)
    release = lockfile.LockedRelease(label, request.suite, record["date"], record["valid_until"])
    return VerifiedRelease(request.archive_url, inrelease, release, tuple(record.get("signed_by", ())))


@rule(desc="Fetch and verify a Debian Packages index", level=LogLevel.DEBUG)
async def fetch_verified_index(
    request: VerifiedIndexRequest, config: DebianArchiveConfig, python: PythonBuildStandaloneBinary
) -> VerifiedIndex:
    # The InRelease the caller already checked (against the lock's dates, say): the index is verified against
    # those very bytes, not against whatever the mirror serves a moment later.
    verified = await Get(VerifiedRelease, VerifiedReleaseRequest(request.archive_url, request.suite, request.max_age))
    args = _fetch_index_args(config, request.archive_url, request.suite, request.architecture, request.max_age)
    contents = await _run_fetch_index(
        python,
        args + ["--inrelease", "in/InRelease"],
        verified.inrelease,
        f"Fetch and verify the {request.suite} {request.architecture} index of {request.archive_url}",
    )
    release = json.loads(contents["out/release.json"])
    source = index.IndexSource.from_url(request.archive_url, request.suite)
    packages = index.parse_packages_index(contents["out/Packages"].decode(errors="replace"), source)
    return VerifiedIndex(packages, tuple(release.get("signed_by", ())))


@dataclass(frozen=True)
class LockDates:
    """The Release dates a lock was made from, which the archives must not go back behind."""

    lock_path: str
    lock: lockfile.DebianLock


@dataclass(frozen=True)
class DebianAvailableRequest:
    suite: str
    architecture: str
    not_older_than: Optional[LockDates] = None


@dataclass(frozen=True, eq=False)
class DebianAvailable:
    """What the archives offer for a suite: the highest version of each package across its three indexes."""

    packages: Dict[str, index.DebianPackage]
    suites: Tuple[str, ...]
    releases: Tuple[lockfile.LockedRelease, ...] = ()  # the Release files the indexes were verified against


@rule(desc="Merge a suite's verified Debian indexes", level=LogLevel.DEBUG)
async def available_debian_packages(request: DebianAvailableRequest, config: DebianArchiveConfig) -> DebianAvailable:
    sources = [(url, suite, config.max_age(suite, request.suite)) for url, suite in config.index_sources(request.suite)]
    # Every InRelease first, and their dates checked, before any Packages file is downloaded.
    releases = await MultiGet(Get(VerifiedRelease, VerifiedReleaseRequest(*source)) for source in sources)
    if request.not_older_than is not None:
        _check_not_rolled_back(request.not_older_than, releases)
    indexes = await MultiGet(
        Get(VerifiedIndex, VerifiedIndexRequest(url, suite, request.architecture, max_age))
        for url, suite, max_age in sources
    )
    return DebianAvailable(
        index.merge_indexes([i.packages for i in indexes]),
        tuple(suite for _, suite, _ in sources),
        tuple(r.release for r in releases),
    )


def _check_not_rolled_back(dates: LockDates, releases: Tuple[VerifiedRelease, ...]) -> None:
    try:
        lockfile.check_releases_not_older(dates.lock, dates.lock_path, [(r.archive_url, r.release) for r in releases])
    except ArchiveVerificationError as e:
        raise DebianLockError(f"Cannot use a Debian index: {e}") from e


@dataclass(frozen=True)
class DebianLockRequest:
    spec: DebianLockSpec


@dataclass(frozen=True)
class DebianLockResult:
    text: str
    changes: str  # the diff against the lock on disk, one line per package


def lock_dates(lock: Optional[lockfile.DebianLock], lock_path: str) -> Optional[LockDates]:
    """What a lock's Release dates hold the archives to; None for no lock, or one from before dates were recorded."""
    return LockDates(lock_path, lock) if lock is not None and lock.releases else None


async def _existing_lock(spec: DebianLockSpec) -> Optional[lockfile.DebianLock]:
    contents = await Get(DigestContents, PathGlobs([spec.lock_path]))
    if not contents:
        return None
    try:
        return lockfile.parse_lock(contents[0].content.decode(), spec.lock_path)
    except lockfile.DebianLockError:
        return None  # a broken lock is replaced; everything in the new one shows as added


@rule(desc="Lock a Debian base", level=LogLevel.DEBUG)
async def lock_debian_base(request: DebianLockRequest) -> DebianLockResult:
    spec = request.spec
    by_architecture = index.requested_by_architecture(spec.packages, spec.architecture)
    # The lock on disk, read before it is replaced: the archives must not be older than what it was made from,
    # and the readable diff of what this regeneration changes.
    previous = await _existing_lock(spec)
    dates = lock_dates(previous, spec.lock_path)
    availables = await MultiGet(
        Get(DebianAvailable, DebianAvailableRequest(spec.suite, a, dates)) for a in by_architecture
    )
    resolved: Dict[Tuple[str, str], index.DebianPackage] = {}
    satisfied: Tuple[str, ...] = ()
    for (architecture, names), available in zip(by_architecture.items(), availables):
        try:
            closure = index.resolve_closure(names, available.packages, satisfied)
        except index.DebianResolveError as e:
            raise DebianLockError(
                f"Cannot lock {spec.address} against {', '.join(available.suites)} ({architecture}): {e}"
            ) from e
        if architecture == spec.architecture:
            satisfied = tuple(index.serves_every_architecture(closure))
        for package in closure:  # an `all` package both closures need is locked once
            resolved.setdefault((package.name, package.architecture), package)
    text = lockfile.render_lock(
        spec.address,
        spec.suite,
        spec.architecture,
        spec.packages,
        list(resolved.values()),
        suites=availables[0].suites,
        releases=availables[0].releases,
    )
    changes = lockfile.format_diff(lockfile.diff_locks(previous, lockfile.parse_lock(text, spec.lock_path)))
    return DebianLockResult(text, changes)


# ---------------------------------------------------------------------------------------------------------------
# Building a base from its lock


@dataclass(frozen=True)
class DebianBaseRequest:
    spec: DebianLockSpec
    mtime: int = DEFAULT_EPOCH  # the timestamp of every entry (images pass their source_date_epoch)


@dataclass(frozen=True, eq=False)  # holds dicts; memoized per request within a run
class DebianBase:
    """A base, assembled: its uncompressed tar (a Digest, never bytes; the one layer rule compresses it) and the
    facts image checks need."""

    address: str
    tar: Digest  # one file: base.tar
    packages: Tuple[str, ...]
    libc_version: str
    passwd: Optional[str]
    group: Optional[str]
    facts: ElfFacts

    @property
    def tar_name(self) -> str:
        return BASE_TAR


@dataclass(frozen=True)
class CheckedDebianLock:
    """A base's lock, read and checked against what the base asks for: cheap, so images do it before compiling."""

    lock: lockfile.DebianLock


@rule(desc="Read a Debian lock", level=LogLevel.DEBUG)
async def read_debian_lock(spec: DebianLockSpec) -> CheckedDebianLock:
    contents = await Get(DigestContents, PathGlobs([spec.lock_path]))
    if not contents:
        raise DebianLockError(
            f"{spec.address} has no Debian lock at {spec.lock_path}. Create it with "
            f"`./pants generate-lockfiles --resolve={spec.address}`."
        )
    lock = lockfile.parse_lock(contents[0].content.decode(), spec.lock_path)
    lockfile.check_lock_matches(lock, spec.lock_path, spec.address, spec.suite, spec.architecture, spec.packages)
    return CheckedDebianLock(lock)


@dataclass(frozen=True)
class DebianDebRequest:
    url: str
    package: lockfile.LockedPackage
    base: str
    name: str  # lockfile.qualified_name: libc6, or libc6:arm64 beside it in a cross build root


@dataclass(frozen=True)
class DebianDeb:
    entry: FileEntry  # debs/<name>.deb, by digest


@rule(desc="Fetch a pinned Debian package", level=LogLevel.DEBUG)
async def fetch_debian_deb(request: DebianDebRequest) -> DebianDeb:
    package = request.package
    try:
        downloaded = await Get(Digest, NativeDownloadFile(request.url, FileDigest(package.sha256, package.size)))
    except Exception as e:  # The engine reports failures as plain exceptions.
        raise DebianLockError(
            f"Could not fetch Debian package {package.name} {package.version} for {request.base} from {request.url} "
            f"(expected sha256 {package.sha256}, {package.size} bytes): {engine_error_detail(e)}\n"
            f"If the archive no longer serves this version, regenerate the lock with "
            f"`./pants generate-lockfiles --resolve={request.base}`; if it is unreachable, set [debian].archive_url "
            f"and [debian].security_archive_url."
        ) from e
    entries = await Get(DigestEntries, Digest, downloaded)
    return DebianDeb(FileEntry(f"debs/{request.name.replace(':', '_')}.deb", first_file_digest(entries)))


def _deb_url(config: DebianArchiveConfig, package: lockfile.LockedPackage) -> str:
    return f"{lockfile.url_for_archive(package.archive, config.urls)}/{package.filename}"


async def locked_debs(
    spec: DebianLockSpec, config: DebianArchiveConfig
) -> Tuple[lockfile.DebianLock, Tuple[DebianDeb, ...]]:
    """The lock of `spec`, checked, and its .debs, each checked against the lock's sha256 and size before it is
    stored or used."""
    lock = (await Get(CheckedDebianLock, DebianLockSpec, spec)).lock
    try:
        urls = [_deb_url(config, p) for p in lock.packages]
    except lockfile.DebianLockError as e:
        raise DebianLockError(f"Cannot build {spec.address} from {spec.lock_path}: {e}") from e
    debs = await MultiGet(
        Get(DebianDeb, DebianDebRequest(url, p, spec.address, lockfile.qualified_name(p, lock.architecture)))
        for url, p in zip(urls, lock.packages)
    )
    return lock, tuple(debs)


async def _deb_tool_inputs(lock: lockfile.DebianLock, debs: Tuple[DebianDeb, ...], options: dict) -> Digest:
    """The sandbox of a tool that unpacks a lock's .debs: the .debs and assembly.json (the .debs by package, plus the
    tool's `options`)."""
    names = [lockfile.qualified_name(p, lock.architecture) for p in lock.packages]
    assembly = {"debs": [[name, d.entry.path] for name, d in zip(names, debs)], **options}
    inputs = await MultiGet(
        Get(Digest, CreateDigest([d.entry for d in debs])),
        Get(Digest, CreateDigest([FileContent("assembly.json", json.dumps(assembly, sort_keys=True).encode())])),
    )
    return await Get(Digest, MergeDigests(inputs))


@rule(desc="Build a Debian base", level=LogLevel.DEBUG)
async def build_debian_base(request: DebianBaseRequest, config: DebianArchiveConfig) -> DebianBase:
    spec = request.spec
    lock, debs = await locked_debs(spec, config)
    assembly = {"keep_docs": spec.keep_docs, "keep_gconv": spec.keep_gconv, "mtime": request.mtime}
    python = await Get(SandboxPython, SandboxPythonRequest())
    process = await tool_process(
        python,
        ASSEMBLE_BASE,
        ["assembly.json", "out"],
        inputs=await _deb_tool_inputs(lock, debs, assembly),
        output_directories=("out",),
        description=f"Assemble the Debian base {spec.address} ({len(lock.packages)} packages)",
    )
    result = await Get(FallibleProcessResult, Process, process)
    if result.exit_code != 0:
        raise DebianLockError(f"Cannot assemble the base {spec.address}: {explained_failure(result)}")
    tar, meta = await MultiGet(
        Get(Digest, DigestSubset(result.output_digest, PathGlobs([f"out/{BASE_TAR}"]))),
        Get(DigestContents, DigestSubset(result.output_digest, PathGlobs(["out/facts.json"]))),
    )
    facts = json.loads(meta[0].content)
    return DebianBase(
        address=spec.address,
        tar=await Get(Digest, RemovePrefix(tar, "out")),
        packages=tuple(p.name for p in lock.packages),
        libc_version=lockfile.libc_version(lock),
        passwd=facts.get("passwd"),
        group=facts.get("group"),
        facts=ElfFacts(*elf_facts_from_json(facts)),
    )


# ---------------------------------------------------------------------------------------------------------------
# Build roots: a lock's packages unpacked into a tree that a compile runs inside


@dataclass(frozen=True)
class DebianTree:
    """A lock's packages unpacked as a root filesystem (`build_root.py`), for a process to chroot into; or, for host
    tools, as `root/` plus `bin/` launchers that run its programs on the host (`host_tools.py`)."""

    address: str
    tree: Digest  # the tree, paths relative to its /
    lock_sha256: str  # of the lock file: what the tree was made from
    packages: int
    size: int  # bytes of file content
    launchers: Tuple[str, ...] = ()  # host tools: the programs in bin/


@dataclass(frozen=True)
class DebianTreeRequest:
    spec: DebianLockSpec
    host_tools: bool = False


@rule(desc="Unpack a build root", level=LogLevel.DEBUG)
async def build_debian_root(request: DebianTreeRequest, config: DebianArchiveConfig) -> DebianTree:
    spec = request.spec
    what = "host tools" if request.host_tools else "build root"
    lock, debs = await locked_debs(spec, config)
    options = {}
    if request.host_tools:
        options["host_tools"] = {"architecture": spec.architecture, "requested": list(lock.requested)}
    python = await Get(SandboxPython, SandboxPythonRequest())
    process = await tool_process(
        python,
        ASSEMBLE_ROOT,
        ["assembly.json", "root"],
        inputs=await _deb_tool_inputs(lock, debs, options),
        output_directories=("root",),
        description=f"Unpack the {what} {spec.address} ({len(lock.packages)} packages)",
        level=LogLevel.INFO,
    )
    result = await Get(FallibleProcessResult, Process, process)
    if result.exit_code != 0:
        relock = f" (then `./pants generate-lockfiles --resolve={spec.address}`)" if request.host_tools else ""
        raise DebianLockError(f"Cannot unpack the {what} {spec.address}: {explained_failure(result)}{relock}")
    # The output is the tree alone: never a DigestSubset of it (see assemble_root.py).
    tree, lock_file = await MultiGet(
        Get(Digest, RemovePrefix(result.output_digest, "root")), Get(DigestContents, PathGlobs([spec.lock_path]))
    )
    facts = json.loads(result.stdout)
    return DebianTree(
        address=spec.address,
        tree=tree,
        lock_sha256=hashlib.sha256(lock_file[0].content).hexdigest(),
        packages=len(facts["packages"]),
        size=facts["bytes"],
        launchers=tuple(facts["launchers"]),
    )


def rules():
    return collect_rules()
