"""Rules for `debian_packages`: generate the lock, fetch the pinned .debs, assemble the base layer.

Thin orchestration over index.py, lockfile.py, deb.py, base.py and closure.py.
"""
import logging
import pkgutil
from dataclasses import dataclass
from typing import Tuple

from pants.core.goals.generate_lockfiles import (
    GenerateLockfile,
    GenerateLockfileResult,
    KnownUserResolveNames,
    KnownUserResolveNamesRequest,
    RequestedUserResolveNames,
    UserGenerateLockfiles,
    WrappedGenerateLockfile,
)
from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, OutputPathField, PackageFieldSet
from pants.core.util_rules.adhoc_binaries import PythonBuildStandaloneBinary
from pants.engine.addresses import UnparsedAddressInputs
from pants.engine.fs import (
    CreateDigest,
    Digest,
    DigestContents,
    FileContent,
    FileDigest,
    NativeDownloadFile,
    PathGlobs,
)
from pants.engine.process import Process, ProcessCacheScope, ProcessResult
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import AllTargets, Targets
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

from pants_oci.debian import base as base_fs
from pants_oci.debian import closure, index, lockfile
from pants_oci.debian.rules import DebianArchives
from pants_oci.debian.subsystem import DebianSubsystem
from pants_oci.debian.target_types import (
    DebianArchitectureField,
    DebianKeepDocsField,
    DebianLockfileField,
    DebianPackagesField,
    DebianRuntimesField,
    DebianSuiteField,
)
from pants_oci.errors import engine_error_detail
from pants_oci.oci.determinism import DEFAULT_EPOCH
from pants_oci.oci.tarball import Entry, gzip_bytes, write_tar
from pants_oci.runtime.rules import BuildPythonRuntimeRequest, BuiltPythonRuntime, PythonRuntimeFieldSet

logger = logging.getLogger(__name__)


class DebianBaseError(Exception):
    """A base that cannot be built; the message names the package and the fix."""


@dataclass(frozen=True)
class DebianPackagesFieldSet(PackageFieldSet):
    required_fields = (DebianPackagesField,)

    packages: DebianPackagesField
    suite: DebianSuiteField
    architecture: DebianArchitectureField
    lockfile: DebianLockfileField
    runtimes: DebianRuntimesField
    keep_docs: DebianKeepDocsField
    output_path: OutputPathField

    @property
    def lock_path(self) -> str:
        return self.lockfile.path_for(self.address.target_name)


@dataclass(frozen=True)
class DebianArchive:
    url: str


@dataclass(frozen=True)
class RequestedDebianPackagesRequest:
    field_set: DebianPackagesFieldSet


@dataclass(frozen=True)
class RequestedDebianPackages:
    """The target's packages plus those its runtimes need at run time."""

    names: Tuple[str, ...]
    runtimes: Tuple[BuiltPythonRuntime, ...]


@dataclass(frozen=True)
class RuntimeDebianNeedsRequest:
    runtime: BuiltPythonRuntime


@dataclass(frozen=True)
class RuntimeDebianNeeds:
    packages: Tuple[str, ...]


@dataclass(frozen=True)
class DebianBaseRequest:
    field_set: DebianPackagesFieldSet
    mtime: int = DEFAULT_EPOCH  # the timestamp of every entry (images pass their source_date_epoch)


@dataclass(frozen=True)
class DebianBase:
    """The base layer as an uncompressed, deterministic tar (`base.tar`), with what is in it."""

    address: str
    tar: bytes
    packages: Tuple[str, ...]
    libc_version: str


@rule(desc="Find the Debian archive")
async def choose_debian_archive(subsystem: DebianSubsystem, machine: DebianArchives) -> DebianArchive:
    if subsystem.archive_url:
        return DebianArchive(subsystem.archive_url.rstrip("/"))
    debian = [u for u in machine.uris if u.endswith("/debian")]
    if not debian:
        raise DebianBaseError(
            "No Debian archive to fetch packages from: [debian].archive_url is unset and this machine's apt sources "
            "name none. Set `[debian].archive_url` (the directory with dists/ and pool/)."
        )
    return DebianArchive(debian[0])


@rule(desc="Find the Debian packages a runtime needs", level=LogLevel.DEBUG)
async def runtime_debian_needs(request: RuntimeDebianNeedsRequest) -> RuntimeDebianNeeds:
    contents = await Get(DigestContents, Digest, request.runtime.tree)
    entries = [Entry(fc.path, fc.content, fc.is_executable) for fc in contents if fc.content[:4] == b"\x7fELF"]
    elves, links = base_fs.elf_infos(entries)
    return RuntimeDebianNeeds(tuple(closure.needed_packages(elves, links)))


@rule(desc="Work out a base's Debian packages", level=LogLevel.DEBUG)
async def requested_debian_packages(request: RequestedDebianPackagesRequest) -> RequestedDebianPackages:
    field_set = request.field_set
    runtime_targets = await Get(Targets, UnparsedAddressInputs, field_set.runtimes.to_unparsed_address_inputs())
    not_runtimes = [str(t.address) for t in runtime_targets if not PythonRuntimeFieldSet.is_applicable(t)]
    if not_runtimes:
        raise DebianBaseError(
            f"The 'runtimes' field in target {field_set.address} must name python_runtime targets, but "
            f"{', '.join(not_runtimes)} is not one."
        )
    built = await MultiGet(
        Get(BuiltPythonRuntime, BuildPythonRuntimeRequest(PythonRuntimeFieldSet.create(t))) for t in runtime_targets
    )
    needs = await MultiGet(Get(RuntimeDebianNeeds, RuntimeDebianNeedsRequest(b)) for b in built)
    names = set(field_set.packages.value or ()) | {p for n in needs for p in n.packages}
    return RequestedDebianPackages(tuple(sorted(names)), tuple(built))


# ---------------------------------------------------------------------------------------------------------------
# Lock generation: `./pants generate-lockfiles --resolve=<debian_packages address>`


class KnownDebianResolveNamesRequest(KnownUserResolveNamesRequest):
    pass


class RequestedDebianResolveNames(RequestedUserResolveNames):
    pass


@dataclass(frozen=True)
class GenerateDebianLockfile(GenerateLockfile):
    field_set: DebianPackagesFieldSet


def _debian_field_sets(targets: AllTargets):
    return [DebianPackagesFieldSet.create(t) for t in targets if DebianPackagesFieldSet.is_applicable(t)]


@rule
async def known_debian_resolves(_: KnownDebianResolveNamesRequest, targets: AllTargets) -> KnownUserResolveNames:
    return KnownUserResolveNames(
        names=tuple(str(fs.address) for fs in _debian_field_sets(targets)),
        option_name="the addresses of `debian_packages` targets",
        requested_resolve_names_cls=RequestedDebianResolveNames,
    )


@rule
async def debian_lockfile_requests(requested: RequestedDebianResolveNames, targets: AllTargets) -> UserGenerateLockfiles:
    wanted = set(requested)
    return UserGenerateLockfiles(
        GenerateDebianLockfile(resolve_name=str(fs.address), lockfile_dest=fs.lock_path, diff=False, field_set=fs)
        for fs in _debian_field_sets(targets)
        if str(fs.address) in wanted
    )


@rule
async def wrap_debian_lockfile(request: GenerateDebianLockfile) -> WrappedGenerateLockfile:
    return WrappedGenerateLockfile(request)


@rule(desc="Generate a Debian package lock")
async def generate_debian_lockfile(
    request: GenerateDebianLockfile, archive: DebianArchive, python: PythonBuildStandaloneBinary
) -> GenerateLockfileResult:
    field_set = request.field_set
    suite, arch = field_set.suite.value, field_set.architecture.value
    url = f"{archive.url}/dists/{suite}/main/binary-{arch}/Packages.xz"
    script = pkgutil.get_data(__name__.rsplit(".", 1)[0], "fetch_index.py")
    requested, script_digest = await MultiGet(
        Get(RequestedDebianPackages, RequestedDebianPackagesRequest(field_set)),
        Get(Digest, CreateDigest([FileContent("fetch_index.py", script)])),
    )
    result = await Get(
        ProcessResult,
        Process(
            [python.path, "fetch_index.py", url, "Packages"],
            input_digest=script_digest,
            output_files=("Packages",),
            description=f"Download the {suite}/{arch} Packages index for {field_set.address}",
            level=LogLevel.INFO,
            # The index changes as Debian publishes updates: fetch it fresh each run.
            cache_scope=ProcessCacheScope.PER_SESSION,
        ),
    )
    contents = await Get(DigestContents, Digest, result.output_digest)
    packages = index.parse_packages_index(contents[0].content.decode(errors="replace"))
    try:
        resolved = index.resolve_closure(requested.names, packages)
    except index.DebianResolveError as e:
        raise DebianBaseError(f"Cannot lock {field_set.address} against {url}: {e}")
    text = lockfile.render_lock(str(field_set.address), suite, arch, requested.names, resolved)
    digest = await Get(Digest, CreateDigest([FileContent(request.lockfile_dest, text.encode())]))
    logger.info(f"{field_set.address}: {len(resolved)} packages, {sum(p.size for p in resolved) / 1e6:.1f} MB of .debs")
    return GenerateLockfileResult(digest, request.resolve_name, request.lockfile_dest)


# ---------------------------------------------------------------------------------------------------------------
# Building the base from the lock


async def _read_lock(field_set: DebianPackagesFieldSet) -> lockfile.DebianLock:
    path = field_set.lock_path
    contents = await Get(DigestContents, PathGlobs([path]))
    if not contents:
        raise DebianBaseError(
            f"Target {field_set.address} has no Debian lock at {path}. Create it with "
            f"`./pants generate-lockfiles --resolve={field_set.address}`."
        )
    return lockfile.parse_lock(contents[0].content.decode(), path)


@dataclass(frozen=True)
class DebianDebRequest:
    archive_url: str
    package: lockfile.LockedPackage
    target: str


@dataclass(frozen=True)
class DebianDeb:
    digest: Digest


@rule(desc="Fetch a pinned Debian package", level=LogLevel.DEBUG)
async def fetch_debian_deb(request: DebianDebRequest) -> DebianDeb:
    package, target = request.package, request.target
    url = f"{request.archive_url}/{package.filename}"
    try:
        return DebianDeb(await Get(Digest, NativeDownloadFile(url, FileDigest(package.sha256, package.size))))
    except Exception as e:  # The engine reports failures as plain exceptions.
        detail = engine_error_detail(e)
        raise DebianBaseError(
            f"Could not fetch Debian package {package.name} {package.version} for {target} from {url} "
            f"(expected sha256 {package.sha256}, {package.size} bytes): {detail}\n"
            f"If the archive no longer serves this version, regenerate the lock with "
            f"`./pants generate-lockfiles --resolve={target}`; if it is unreachable, set [debian].archive_url."
        )


async def _check_runtimes_load(field_set, base_entries, runtimes, libc_version: str) -> None:
    """Every ELF file of base + runtimes must find its libraries and symbol versions inside them."""
    if not runtimes:
        return
    trees = await MultiGet(Get(DigestContents, Digest, r.tree) for r in runtimes)
    runtime_entries = [Entry(fc.path, fc.content, fc.is_executable) for tree in trees for fc in tree]
    elves, links = base_fs.elf_infos([*base_entries, *runtime_entries])
    problems = closure.check_closure(elves, links, libc_version)
    if problems:
        raise DebianBaseError(
            f"The base {field_set.address} cannot run its runtimes: some ELF files would not load.\n"
            + closure.format_problems(problems)
        )


@rule(desc="Build a Debian base", level=LogLevel.DEBUG)
async def build_debian_base(request: DebianBaseRequest, archive: DebianArchive) -> DebianBase:
    field_set = request.field_set
    lock = await _read_lock(field_set)
    requested = await Get(RequestedDebianPackages, RequestedDebianPackagesRequest(field_set))
    lockfile.check_lock_matches(
        lock, field_set.lock_path, str(field_set.address), field_set.suite.value,
        field_set.architecture.value, requested.names,
    )
    # Every download is checked against the lock's sha256 and size before it is stored or used.
    debs_fetched = await MultiGet(
        Get(DebianDeb, DebianDebRequest(archive.url, p, str(field_set.address))) for p in lock.packages
    )
    contents = await MultiGet(Get(DigestContents, Digest, d.digest) for d in debs_fetched)
    debs = [(p.name, c[0].content) for p, c in zip(lock.packages, contents)]
    entries = base_fs.assemble_base(debs, keep_docs=field_set.keep_docs.value)
    await _check_runtimes_load(field_set, entries, requested.runtimes, lockfile.libc_version(lock))
    return DebianBase(
        address=str(field_set.address),
        tar=write_tar(entries, mtime=request.mtime),
        packages=tuple(p.name for p in lock.packages),
        libc_version=lockfile.libc_version(lock),
    )


@rule(desc="Package a Debian base", level=LogLevel.DEBUG)
async def package_debian_base(field_set: DebianPackagesFieldSet) -> BuiltPackage:
    built = await Get(DebianBase, DebianBaseRequest(field_set))
    archive = gzip_bytes(built.tar)
    path = field_set.output_path.value_or_default(file_ending="tar.gz")
    digest = await Get(Digest, CreateDigest([FileContent(path, archive)]))
    log = (
        f"Debian base ({len(built.packages)} packages, libc6 {built.libc_version}): "
        f"{len(built.tar) / 1e6:.1f} MB uncompressed, {len(archive) / 1e6:.1f} MB gzipped",
        "packages: " + " ".join(built.packages),
    )
    return BuiltPackage(digest, (BuiltPackageArtifact(path, extra_log_lines=log),))


def rules():
    return (
        *collect_rules(),
        UnionRule(PackageFieldSet, DebianPackagesFieldSet),
        UnionRule(KnownUserResolveNamesRequest, KnownDebianResolveNamesRequest),
        UnionRule(RequestedUserResolveNames, RequestedDebianResolveNames),
        UnionRule(GenerateLockfile, GenerateDebianLockfile),
    )
