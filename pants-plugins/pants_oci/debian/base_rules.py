"""Rules for Debian bases: lock a package list against verified archives, fetch the pinned .debs, and assemble a
base in a cacheable process. The bottom of the plugin: nothing here knows about runtimes or images.

Thin orchestration: fetch_index.py (run in a sandbox) downloads and verifies indexes against the signed InRelease;
index.py merges and resolves them; lockfile.py writes, reads and compares locks; assemble_base.py (run in a
sandbox) turns .debs into the base's tar and the facts the image checks need; oci/rules.py compresses the tar
into the base layer.
"""
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from pants.core.util_rules.adhoc_binaries import PythonBuildStandaloneBinary
from pants.engine.fs import (
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
from pants_oci.debian.rules import DebianArchives
from pants_oci.debian.subsystem import DebianSubsystem
from pants_oci.elf.elf import ElfFacts, elf_facts_from_json
from pants_oci.errors import engine_error_detail
from pants_oci.oci.determinism import DEFAULT_EPOCH
from pants_oci.sandbox import plugin_modules

logger = logging.getLogger(__name__)

# The sandbox tools and what they import, shipped into their processes (standard library only).
_FETCH_INDEX_MODULES = (
    "debian/fetch_index.py",
    "debian/openpgp.py",
    "debian/release.py",
    "debian/keyring.py",
    "debian/debian-archive-keyring.pgp",
)
BASE_TAR = "base.tar"  # what assemble_base.py writes (its ARCHIVE_FILE)
_ASSEMBLE_BASE_MODULES = (
    "debian/assemble_base.py",
    "debian/base.py",
    "debian/deb.py",
    "elf/elf.py",
    "oci/tarball.py",
    "oci/determinism.py",
)
_ASSEMBLE_ROOT_MODULES = (
    *_ASSEMBLE_BASE_MODULES,
    "debian/assemble_root.py",
    "debian/build_root.py",
    "debian/host_tools.py",
)
# fetch_index.py and assemble_base.py exit with this code for a problem they explain in one line on stderr.
EXIT_EXPLAINED = 2


class DebianBaseError(Exception):
    """A base that cannot be locked or built; the message names the base, the package or archive, and the fix."""


@dataclass(frozen=True)
class DebianBaseSpec:
    """A base to lock and build. Both `debian_packages` targets and runtimes' default bases become one."""

    address: str  # what messages name, and the resolve name of `generate-lockfiles`
    packages: Tuple[str, ...]  # the requested packages (their dependencies are added when locking)
    suite: str
    architecture: str
    lock_path: str
    keep_docs: bool = False
    keep_gconv: bool = False


@dataclass(frozen=True)
class DebianArchiveConfig:
    """Where packages come from: the main archive (suite, -updates) and the security archive (-security)."""

    main_url: str
    security_url: str
    unsigned: Tuple[str, ...]
    verification_time: Optional[int]

    @property
    def urls(self) -> Tuple[str, ...]:
        return (self.main_url, self.security_url)

    def index_sources(self, suite: str) -> Tuple[Tuple[str, str], ...]:
        """(archive URL, suite) of every index a lock of `suite` is resolved against, in precedence order."""
        return ((self.main_url, suite), (self.main_url, f"{suite}-updates"), (self.security_url, f"{suite}-security"))


@rule(desc="Find the Debian archives")
async def choose_debian_archives(subsystem: DebianSubsystem, machine: DebianArchives) -> DebianArchiveConfig:
    main = subsystem.archive_url or next((u for u in machine.uris if u.endswith("/debian")), None)
    security = subsystem.security_archive_url or next(iter(machine.security_uris), None)
    missing = [name for name, url in (("archive_url", main), ("security_archive_url", security)) if not url]
    if missing:
        raise DebianBaseError(
            f"No Debian {' or '.join(m.replace('_url', '').replace('_', ' ') for m in missing)} to lock packages "
            f"against: {', '.join(f'[debian].{m}' for m in missing)} unset and this machine's apt sources name none. "
            f"Set them (the directories with dists/ and pool/, e.g. https://mirror.example/debian and "
            f"https://mirror.example/debian-security)."
        )
    return DebianArchiveConfig(
        main.rstrip("/"),
        security.rstrip("/"),
        tuple(u.rstrip("/") for u in subsystem.unsigned_archives),
        subsystem.verification_time,
    )


# ---------------------------------------------------------------------------------------------------------------
# Verified indexes and locks


@dataclass(frozen=True)
class VerifiedIndexRequest:
    archive_url: str
    suite: str
    architecture: str


@dataclass(frozen=True, eq=False)  # holds a big text; memoized per request within a run
class VerifiedIndex:
    packages: Dict[str, index.DebianPackage]
    signed_by: Tuple[str, ...]  # fingerprints of the keys whose signatures verified (empty: unsigned opt-out)


def _explained_failure(result: FallibleProcessResult) -> str:
    stderr = result.stderr.decode(errors="replace").strip()
    if result.exit_code == EXIT_EXPLAINED and stderr:
        return stderr.splitlines()[-1]
    return f"exit code {result.exit_code}:\n{stderr[-3000:]}"


@rule(desc="Fetch and verify a Debian Packages index", level=LogLevel.DEBUG)
async def fetch_verified_index(
    request: VerifiedIndexRequest, config: DebianArchiveConfig, python: PythonBuildStandaloneBinary
) -> VerifiedIndex:
    tool = await Get(Digest, CreateDigest(plugin_modules(*_FETCH_INDEX_MODULES)))
    argv = [
        python.path,
        "-s",
        "-m",
        "pants_oci.debian.fetch_index",
        request.archive_url,
        request.suite,
        request.architecture,
        "out",
    ]
    if config.verification_time is not None:
        argv += ["--now", str(config.verification_time)]
    if request.archive_url in config.unsigned:
        argv.append("--unsigned")
    result = await Get(
        FallibleProcessResult,
        Process(
            argv,
            input_digest=tool,
            output_directories=("out",),
            description=f"Fetch and verify the {request.suite} {request.architecture} index of {request.archive_url}",
            level=LogLevel.INFO,
            # The archive moves as Debian publishes updates: read it fresh in every run that locks.
            cache_scope=ProcessCacheScope.PER_SESSION,
        ),
    )
    if result.exit_code != 0:
        raise DebianBaseError(f"Cannot use a Debian index: {_explained_failure(result)}")
    contents = {fc.path: fc.content for fc in await Get(DigestContents, Digest, result.output_digest)}
    release = json.loads(contents["out/release.json"])
    source = index.IndexSource.from_url(request.archive_url, request.suite)
    packages = index.parse_packages_index(contents["out/Packages"].decode(errors="replace"), source)
    return VerifiedIndex(packages, tuple(release.get("signed_by", ())))


@dataclass(frozen=True)
class DebianAvailableRequest:
    suite: str
    architecture: str


@dataclass(frozen=True, eq=False)
class DebianAvailable:
    """What the archives offer for a suite: the highest version of each package across its three indexes."""

    packages: Dict[str, index.DebianPackage]
    suites: Tuple[str, ...]


@rule(desc="Merge a suite's verified Debian indexes", level=LogLevel.DEBUG)
async def available_debian_packages(request: DebianAvailableRequest, config: DebianArchiveConfig) -> DebianAvailable:
    sources = config.index_sources(request.suite)
    indexes = await MultiGet(
        Get(VerifiedIndex, VerifiedIndexRequest(url, suite, request.architecture)) for url, suite in sources
    )
    return DebianAvailable(index.merge_indexes([i.packages for i in indexes]), tuple(s for _, s in sources))


@dataclass(frozen=True)
class DebianLockRequest:
    spec: DebianBaseSpec


@dataclass(frozen=True)
class DebianLockResult:
    text: str
    changes: str  # the diff against the lock on disk, one line per package


async def _existing_lock(spec: DebianBaseSpec) -> Optional[lockfile.DebianLock]:
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
    availables = await MultiGet(Get(DebianAvailable, DebianAvailableRequest(spec.suite, a)) for a in by_architecture)
    resolved: Dict[Tuple[str, str], index.DebianPackage] = {}
    satisfied: Tuple[str, ...] = ()
    for (architecture, names), available in zip(by_architecture.items(), availables):
        try:
            closure = index.resolve_closure(names, available.packages, satisfied)
        except index.DebianResolveError as e:
            raise DebianBaseError(
                f"Cannot lock {spec.address} against {', '.join(available.suites)} ({architecture}): {e}"
            )
        if architecture == spec.architecture:
            satisfied = tuple(index.serves_every_architecture(closure))
        for package in closure:  # an `all` package both closures need is locked once
            resolved.setdefault((package.name, package.architecture), package)
    text = lockfile.render_lock(
        spec.address, spec.suite, spec.architecture, spec.packages, list(resolved.values()), suites=availables[0].suites
    )
    # The lock on disk, read before it is replaced, for the readable diff of what this regeneration changes.
    previous = await _existing_lock(spec)
    changes = lockfile.format_diff(lockfile.diff_locks(previous, lockfile.parse_lock(text, spec.lock_path)))
    return DebianLockResult(text, changes)


# ---------------------------------------------------------------------------------------------------------------
# Building a base from its lock


@dataclass(frozen=True)
class DebianBaseRequest:
    spec: DebianBaseSpec
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
async def read_debian_lock(spec: DebianBaseSpec) -> CheckedDebianLock:
    contents = await Get(DigestContents, PathGlobs([spec.lock_path]))
    if not contents:
        raise DebianBaseError(
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
        raise DebianBaseError(
            f"Could not fetch Debian package {package.name} {package.version} for {request.base} from {request.url} "
            f"(expected sha256 {package.sha256}, {package.size} bytes): {engine_error_detail(e)}\n"
            f"If the archive no longer serves this version, regenerate the lock with "
            f"`./pants generate-lockfiles --resolve={request.base}`; if it is unreachable, set [debian].archive_url "
            f"and [debian].security_archive_url."
        )
    entries = await Get(DigestEntries, Digest, downloaded)
    return DebianDeb(FileEntry(f"debs/{request.name.replace(':', '_')}.deb", entries[0].file_digest))


def _deb_url(config: DebianArchiveConfig, package: lockfile.LockedPackage) -> str:
    return f"{lockfile.url_for_archive(package.archive, config.urls)}/{package.filename}"


async def _locked_debs(
    spec: DebianBaseSpec, config: DebianArchiveConfig
) -> Tuple[lockfile.DebianLock, Tuple[DebianDeb, ...]]:
    """The lock of `spec`, checked, and its .debs, each checked against the lock's sha256 and size before it is
    stored or used."""
    lock = (await Get(CheckedDebianLock, DebianBaseSpec, spec)).lock
    try:
        urls = [_deb_url(config, p) for p in lock.packages]
    except lockfile.DebianLockError as e:
        raise DebianBaseError(f"Cannot build {spec.address} from {spec.lock_path}: {e}")
    debs = await MultiGet(
        Get(DebianDeb, DebianDebRequest(url, p, spec.address, lockfile.qualified_name(p, lock.architecture)))
        for url, p in zip(urls, lock.packages)
    )
    return lock, tuple(debs)


async def _deb_tool_inputs(
    lock: lockfile.DebianLock, debs: Tuple[DebianDeb, ...], options: dict, modules: Tuple[str, ...]
) -> Digest:
    """The sandbox of a tool that unpacks a lock's .debs: the .debs, assembly.json (the .debs by package, plus the
    tool's `options`) and the tool's modules."""
    names = [lockfile.qualified_name(p, lock.architecture) for p in lock.packages]
    assembly = {"debs": [[name, d.entry.path] for name, d in zip(names, debs)], **options}
    inputs = await MultiGet(
        Get(Digest, CreateDigest([d.entry for d in debs])),
        Get(Digest, CreateDigest([FileContent("assembly.json", json.dumps(assembly, sort_keys=True).encode())])),
        Get(Digest, CreateDigest(plugin_modules(*modules))),
    )
    return await Get(Digest, MergeDigests(inputs))


@rule(desc="Build a Debian base", level=LogLevel.DEBUG)
async def build_debian_base(
    request: DebianBaseRequest, config: DebianArchiveConfig, python: PythonBuildStandaloneBinary
) -> DebianBase:
    spec = request.spec
    lock, debs = await _locked_debs(spec, config)
    assembly = {"keep_docs": spec.keep_docs, "keep_gconv": spec.keep_gconv, "mtime": request.mtime}
    result = await Get(
        FallibleProcessResult,
        Process(
            [python.path, "-s", "-B", "-m", "pants_oci.debian.assemble_base", "assembly.json", "out"],
            input_digest=await _deb_tool_inputs(lock, debs, assembly, _ASSEMBLE_BASE_MODULES),
            output_directories=("out",),
            description=f"Assemble the Debian base {spec.address} ({len(lock.packages)} packages)",
            level=LogLevel.DEBUG,
        ),
    )
    if result.exit_code != 0:
        raise DebianBaseError(f"Cannot assemble the base {spec.address}: {_explained_failure(result)}")
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
class DebianBuildRoot:
    """A lock's packages unpacked as a root filesystem (`build_root.py`), for a process to chroot into; or, for host
    tools, as `root/` plus `bin/` launchers that run its programs on the host (`host_tools.py`)."""

    address: str
    tree: Digest  # the tree, paths relative to its /
    lock_sha256: str  # of the lock file: what the tree was made from
    packages: int
    size: int  # bytes of file content
    launchers: Tuple[str, ...] = ()  # host tools: the programs in bin/


@dataclass(frozen=True)
class DebianBuildRootRequest:
    spec: DebianBaseSpec
    host_tools: bool = False


@rule(desc="Unpack a build root", level=LogLevel.DEBUG)
async def build_debian_root(
    request: DebianBuildRootRequest, config: DebianArchiveConfig, python: PythonBuildStandaloneBinary
) -> DebianBuildRoot:
    spec = request.spec
    what = "host tools" if request.host_tools else "build root"
    lock, debs = await _locked_debs(spec, config)
    options = {}
    if request.host_tools:
        options["host_tools"] = {"architecture": spec.architecture, "requested": list(lock.requested)}
    result = await Get(
        FallibleProcessResult,
        Process(
            [python.path, "-s", "-B", "-m", "pants_oci.debian.assemble_root", "assembly.json", "root"],
            input_digest=await _deb_tool_inputs(lock, debs, options, _ASSEMBLE_ROOT_MODULES),
            output_directories=("root",),
            description=f"Unpack the {what} {spec.address} ({len(lock.packages)} packages)",
            level=LogLevel.INFO,
        ),
    )
    if result.exit_code != 0:
        relock = f" (then `./pants generate-lockfiles --resolve={spec.address}`)" if request.host_tools else ""
        raise DebianBaseError(f"Cannot unpack the {what} {spec.address}: {_explained_failure(result)}{relock}")
    # The output is the tree alone: never a DigestSubset of it (see assemble_root.py).
    tree, lock_file = await MultiGet(
        Get(Digest, RemovePrefix(result.output_digest, "root")), Get(DigestContents, PathGlobs([spec.lock_path]))
    )
    facts = json.loads(result.stdout)
    return DebianBuildRoot(
        address=spec.address,
        tree=tree,
        lock_sha256=hashlib.sha256(lock_file[0].content).hexdigest(),
        packages=len(facts["packages"]),
        size=facts["bytes"],
        launchers=tuple(facts["launchers"]),
    )


def rules():
    return collect_rules()
