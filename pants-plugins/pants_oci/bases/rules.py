"""Which Debian base each runtime and image gets, and the goals around bases: `generate-lockfiles` for bases,
`package` of a `debian_packages` target, and `debian-updates`.

Between debian/ (the lock and build machinery, which knows nothing of runtimes) and image/: a base's package list
is its target's `packages` plus what its runtimes load, which follows from their fields, so locking a base never
compiles a runtime. A runtime that no `debian_packages` target lists gets a default base of its own.

Over 400 lines: the three goals share the list of every lock and the base of each target, which are most of the
module; split it by goal (lockfiles, package, updates) when one of them grows.
"""
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, List, Tuple

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
from pants.engine.addresses import Address, Addresses, UnparsedAddressInputs
from pants.engine.console import Console
from pants.engine.fs import CreateDigest, Digest, DigestContents, DigestEntries, FileContent, FileEntry, PathGlobs
from pants.engine.goal import Goal, GoalSubsystem
from pants.engine.rules import Get, MultiGet, collect_rules, goal_rule, rule
from pants.engine.target import (
    AllTargets,
    FieldSet,
    InferDependenciesRequest,
    InferredDependencies,
    Target,
    Targets,
    WrappedTarget,
    WrappedTargetRequest,
)
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel
from pants.util.strutil import softwrap

from pants_oci.debian import lockfile
from pants_oci.debian.base_rules import (
    DebianAvailable,
    DebianAvailableRequest,
    DebianBase,
    DebianBaseRequest,
    DebianLockRequest,
    DebianLockResult,
    DebianLockSpec,
    lock_dates,
)
from pants_oci.debian.lockfile import DebianLockError
from pants_oci.debian.target_types import (
    DEFAULT_ARCHITECTURE,
    DebianArchitectureField,
    DebianDependenciesField,
    DebianKeepDocsField,
    DebianKeepGconvField,
    DebianLockfileField,
    DebianPackagesField,
    DebianRuntimesField,
    DebianSuiteField,
    default_lock_path,
)
from pants_oci.digests import first_file_digest
from pants_oci.elf import closure
from pants_oci.elf.elf import ElfFacts
from pants_oci.layer.rules import GZIP, BuiltLayer, LayerCompression, LayerRequest
from pants_oci.runtime import build_plan
from pants_oci.runtime.compile import BuildPythonRuntimeRequest, BuiltPythonRuntime
from pants_oci.runtime.field_set import BUILD_ROOT_RESOLVE_SUFFIX, PythonRuntimeFieldSet
from pants_oci.tools.rules import ContainerToolsSpec, debian_tools_specs
from pants_oci.tools.subsystem import CONTAINER_TOOLS_RESOLVE

logger = logging.getLogger(__name__)

# What every container wants besides the runtime's libraries: CA certificates, time zones, /etc/services & co.,
# tini, the init images run their app under (python_oci_image's `init` field), and base-files, whose
# /etc/os-release tells scanners (Trivy, Grype) which Debian release to match advisories against.
DEFAULT_BASE_PACKAGES = ("base-files", "ca-certificates", "tzdata", "netbase", "tini")
# A runtime's default base lock: 3rdparty/debian/<dir>/<runtime name>.base.lock.json.
DEFAULT_BASE_LOCK_SUFFIX = ".base"


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


def _runtime_packages(runtime: Target, suite: str) -> List[str]:
    return build_plan.runtime_debian_packages(PythonRuntimeFieldSet.create(runtime).spec(), suite)


def default_base_suite(runtime: Target) -> str:
    """A runtime's default base comes from the suite its build root does, so the two halves match."""
    return PythonRuntimeFieldSet.create(runtime).build_root_suite.value


@dataclass(frozen=True)
class DebianBaseSpecRequest:
    """The base of a `debian_packages` target, or the default base of a `python_runtime` target."""

    target: Target


@dataclass(frozen=True)
class BaseOfTarget:
    spec: DebianLockSpec
    runtimes: Tuple[Target, ...]  # the runtimes the base must run (checked when the base is packaged)


async def _listed_runtimes(target: Target) -> Tuple[Target, ...]:
    runtimes = await Get(Targets, UnparsedAddressInputs, target[DebianRuntimesField].to_unparsed_address_inputs())
    wrong = [str(t.address) for t in runtimes if not PythonRuntimeFieldSet.is_applicable(t)]
    if wrong:
        raise DebianLockError(
            f"The 'runtimes' field in target {target.address} must name python_runtime targets, but "
            f"{', '.join(wrong)} is not one."
        )
    return tuple(runtimes)


@rule(desc="Work out a base's Debian packages", level=LogLevel.DEBUG)
async def debian_base_spec(request: DebianBaseSpecRequest) -> BaseOfTarget:
    target = request.target
    if PythonRuntimeFieldSet.is_applicable(target):
        suite = default_base_suite(target)
        packages = {*DEFAULT_BASE_PACKAGES, *_runtime_packages(target, suite)}
        spec = DebianLockSpec(
            str(target.address),
            tuple(sorted(packages)),
            suite,
            DEFAULT_ARCHITECTURE,
            default_lock_path(target.address, DEFAULT_BASE_LOCK_SUFFIX),
        )
        return BaseOfTarget(spec, (target,))
    runtimes = await _listed_runtimes(target)
    suite = target[DebianSuiteField].value
    packages = {*(target[DebianPackagesField].value or ()), *(p for r in runtimes for p in _runtime_packages(r, suite))}
    spec = DebianLockSpec(
        str(target.address),
        tuple(sorted(packages)),
        suite,
        target[DebianArchitectureField].value,
        target[DebianLockfileField].path_for(target.address),
        target[DebianKeepDocsField].value,
        target[DebianKeepGconvField].value,
    )
    return BaseOfTarget(spec, runtimes)


# ---------------------------------------------------------------------------------------------------------------
# Which base a runtime gets by default


@dataclass(frozen=True)
class DefaultBaseRequest:
    runtime: Target
    architecture: str = DEFAULT_ARCHITECTURE  # the platform's: a base that lists the runtime and is of it


@dataclass(frozen=True)
class DefaultBase:
    target: Target  # the debian_packages target that lists the runtime, or the runtime itself (its default base)


async def _debian_targets_listing(all_targets: AllTargets) -> List[Tuple[Target, Addresses]]:
    candidates = [t for t in all_targets if DebianPackagesFieldSet.is_applicable(t) and t[DebianRuntimesField].value]
    listed = await MultiGet(
        Get(Addresses, UnparsedAddressInputs, t[DebianRuntimesField].to_unparsed_address_inputs()) for t in candidates
    )
    return list(zip(candidates, listed))


@dataclass(frozen=True)
class BasesListingRuntimeRequest:
    runtime: Address


@dataclass(frozen=True)
class BasesListingRuntime:
    """The `debian_packages` targets whose `runtimes` list a runtime."""

    targets: Tuple[Target, ...]

    @property
    def addresses(self) -> Tuple[Address, ...]:
        return tuple(t.address for t in self.targets)


@rule(desc="Find the bases that list a runtime", level=LogLevel.DEBUG)
async def bases_listing_runtime(request: BasesListingRuntimeRequest, all_targets: AllTargets) -> BasesListingRuntime:
    listing = await _debian_targets_listing(all_targets)
    return BasesListingRuntime(tuple(t for t, listed in listing if request.runtime in listed))


@rule(desc="Find a runtime's default base", level=LogLevel.DEBUG)
async def default_base(request: DefaultBaseRequest) -> DefaultBase:
    runtime = request.runtime.address
    listing = (await Get(BasesListingRuntime, BasesListingRuntimeRequest(runtime))).targets
    matches = [t for t in listing if t[DebianArchitectureField].value == request.architecture]
    if len(matches) > 1:
        raise DebianLockError(
            f"Several `debian_packages` targets for {request.architecture} list the runtime {runtime} in "
            f"`runtimes`: {', '.join(str(t.address) for t in matches)}. Set the image's 'base' to the one to use."
        )
    if not matches and request.architecture != DEFAULT_ARCHITECTURE:
        raise DebianLockError(
            f"No base for {request.architecture}: no `debian_packages` target with "
            f'architecture="{request.architecture}" lists the runtime {runtime} in `runtimes`'
            + (f" (these do, for other architectures: {', '.join(str(t.address) for t in listing)})" if listing else "")
            + f'. Add one, e.g. debian_packages(name="base-{request.architecture}", '
            f'architecture="{request.architecture}", packages=[...], runtimes=["{runtime}"]), and lock it.'
        )
    # The runtime itself stands for its default base, which is of the build machine's architecture.
    return DefaultBase(matches[0] if matches else request.runtime)


@dataclass(frozen=True)
class DebianInferenceFieldSet(FieldSet):
    required_fields = (DebianRuntimesField, DebianDependenciesField)

    runtimes: DebianRuntimesField


class InferDebianDependencies(InferDependenciesRequest):
    infer_from = DebianInferenceFieldSet


@rule(desc="Infer a debian_packages target's dependencies", level=LogLevel.DEBUG)
async def infer_debian_dependencies(request: InferDebianDependencies) -> InferredDependencies:
    """A base depends on the runtimes it lists, so a runtime change selects the base and its images."""
    return InferredDependencies(
        await Get(Addresses, UnparsedAddressInputs, request.field_set.runtimes.to_unparsed_address_inputs())
    )


# ---------------------------------------------------------------------------------------------------------------
# Lock generation: `./pants generate-lockfiles --resolve=<debian_packages or python_runtime address>`


class KnownDebianResolveNamesRequest(KnownUserResolveNamesRequest):
    pass


class RequestedDebianResolveNames(RequestedUserResolveNames):
    pass


@dataclass(frozen=True)
class GenerateDebianLockfile(GenerateLockfile):
    spec: DebianLockSpec


@dataclass(frozen=True)
class AllBaseTargets:
    """Targets that have a base: every `debian_packages` target, and every runtime that none of them lists."""

    targets: Tuple[Target, ...]


@rule(desc="Find every Debian base", level=LogLevel.DEBUG)
async def all_base_targets(all_targets: AllTargets) -> AllBaseTargets:
    listing = await _debian_targets_listing(all_targets)
    listed = {a for _, addresses in listing for a in addresses}
    debian = [t for t in all_targets if DebianPackagesFieldSet.is_applicable(t)]
    unlisted_runtimes = [t for t in all_targets if PythonRuntimeFieldSet.is_applicable(t) and t.address not in listed]
    return AllBaseTargets(tuple(debian + unlisted_runtimes))


def _check_lock_paths_differ(specs: List[DebianLockSpec]) -> None:
    shared = [path for path, count in Counter(s.lock_path for s in specs).items() if count > 1]
    if shared:
        owners = ", ".join(s.address for s in specs if s.lock_path in shared)
        raise DebianLockError(
            f"Several bases would write the same Debian lock {', '.join(shared)}: {owners}. Give each its own "
            f"`lockfile` (or leave it unset: the default path is different for every address)."
        )


def _build_root_specs(targets: Iterable[Target]) -> List[DebianLockSpec]:
    """The build root locks of the runtimes among `targets` (those compiled in a build root)."""
    runtimes = [PythonRuntimeFieldSet.create(t) for t in targets if PythonRuntimeFieldSet.is_applicable(t)]
    return [spec for r in runtimes if r.uses_build_root for spec in r.build_root_specs()]


# The target whose `./pants run` needs the container tools (named, not imported: image/ depends on this package).
IMAGE_TARGET_ALIAS = "python_oci_image"


def _container_tools_specs(targets: Iterable[Target], container_tools: ContainerToolsSpec) -> List[DebianLockSpec]:
    """The container tools' lock, where `targets` hold an image to run with them."""
    return [container_tools.spec] if any(t.alias == IMAGE_TARGET_ALIAS for t in targets) else []


async def _debian_lock_specs(
    targets: Iterable[Target], with_bases: Iterable[Target], container_tools: ContainerToolsSpec
) -> List[DebianLockSpec]:
    """The one list of the Debian locks `targets` need, in this order: the bases of `with_bases` (those of
    `targets` that have one, AllBaseTargets), the runtimes' build roots, the `debian_tools` targets' and the container
    tools' (when there is an image to run). A new kind of lock is added here."""
    of_bases = await MultiGet(Get(BaseOfTarget, DebianBaseSpecRequest(t)) for t in with_bases)
    specs = [b.spec for b in of_bases] + _build_root_specs(targets) + debian_tools_specs(targets)
    return specs + _container_tools_specs(targets, container_tools)


@dataclass(frozen=True)
class AllDebianLockSpecs:
    """Every Debian lock of the repository: the bases', the runtimes' build roots', the `debian_tools` targets' and
    the container tools' (when there is an image to run)."""

    specs: Tuple[DebianLockSpec, ...]


@rule(desc="Find every Debian lock", level=LogLevel.DEBUG)
async def all_debian_lock_specs(
    bases: AllBaseTargets, all_targets: AllTargets, container_tools: ContainerToolsSpec
) -> AllDebianLockSpecs:
    specs = await _debian_lock_specs(all_targets, bases.targets, container_tools)
    _check_lock_paths_differ(specs)
    return AllDebianLockSpecs(tuple(specs))


@rule
async def known_debian_resolves(_: KnownDebianResolveNamesRequest, locks: AllDebianLockSpecs) -> KnownUserResolveNames:
    return KnownUserResolveNames(
        names=tuple(s.address for s in locks.specs),
        option_name=(
            "the addresses of `debian_packages` and `debian_tools` targets and of `python_runtime` targets with a "
            f"default base, `<python_runtime address>{BUILD_ROOT_RESOLVE_SUFFIX}` for the runtimes' build roots, and "
            f"`{CONTAINER_TOOLS_RESOLVE}` for the tools `./pants run` starts images with"
        ),
        requested_resolve_names_cls=RequestedDebianResolveNames,
    )


@rule
async def debian_lockfile_requests(
    requested: RequestedDebianResolveNames, locks: AllDebianLockSpecs
) -> UserGenerateLockfiles:
    wanted = set(requested)
    return UserGenerateLockfiles(
        GenerateDebianLockfile(resolve_name=s.address, lockfile_dest=s.lock_path, diff=False, spec=s)
        for s in locks.specs
        if s.address in wanted
    )


@rule
async def wrap_debian_lockfile(request: GenerateDebianLockfile) -> WrappedGenerateLockfile:
    return WrappedGenerateLockfile(request)


@rule(desc="Generate a Debian package lock")
async def generate_debian_lockfile(request: GenerateDebianLockfile) -> GenerateLockfileResult:
    spec = request.spec
    result = await Get(DebianLockResult, DebianLockRequest(spec))
    logger.info(f"{spec.address} ({spec.lock_path}):\n{result.changes}")
    digest = await Get(Digest, CreateDigest([FileContent(request.lockfile_dest, result.text.encode())]))
    return GenerateLockfileResult(digest, request.resolve_name, request.lockfile_dest)


# ---------------------------------------------------------------------------------------------------------------
# `./pants package <debian_packages>`: the base as a .tar.gz, proven to run its runtimes


def base_layer_request(base: DebianBase, compression: LayerCompression = GZIP) -> LayerRequest:
    """The base's tar as a layer, written by the one layer rule like every other layer."""
    what = f"Debian base {base.address} ({len(base.packages)} packages)"
    return LayerRequest(
        base.tar,
        f"Compress the {what}",
        created_by=f"pants-oci: {what}",
        tar_name=base.tar_name,
        compression=compression,
    )


async def closure_problems(
    bases: Tuple[DebianBase, ...], runtimes: Tuple[BuiltPythonRuntime, ...], extra: Tuple[ElfFacts, ...] = ()
) -> List[closure.ClosureProblem]:
    """Every ELF file of the bases, runtimes and `extra` trees must find its libraries and symbol versions there.
    Each tree's ELF facts were read once, when it was built; nothing is re-read here."""
    runtime_facts = await MultiGet(Get(ElfFacts, BuiltPythonRuntime, r) for r in runtimes)
    elves, links = {}, {}
    for facts in (*(b.facts for b in bases), *runtime_facts, *extra):
        elves.update(facts.elves)
        links.update(facts.links)
    libc = next((b.libc_version for b in bases if b.libc_version), "")
    return closure.check_closure(elves, links, libc)


@rule(desc="Package a Debian base", level=LogLevel.DEBUG)
async def package_debian_base(field_set: DebianPackagesFieldSet) -> BuiltPackage:
    wrapped = await Get(
        WrappedTarget, WrappedTargetRequest(field_set.address, description_of_origin="the package goal")
    )
    target = await Get(BaseOfTarget, DebianBaseSpecRequest(wrapped.target))
    base = await Get(DebianBase, DebianBaseRequest(target.spec))
    # Each runtime as built for the base's architecture (a cross build for arm64): the one that would run on it.
    runtimes = await MultiGet(
        Get(BuiltPythonRuntime, BuildPythonRuntimeRequest(PythonRuntimeFieldSet.create(r), target.spec.architecture))
        for r in target.runtimes
    )
    problems = await closure_problems((base,), tuple(runtimes))
    if problems:
        raise DebianLockError(
            f"The base {field_set.address} cannot run its runtimes: some ELF files would not load.\n"
            + closure.format_problems(problems)
        )
    path = field_set.output_path.value_or_default(file_ending="tar.gz")
    layer = await Get(BuiltLayer, LayerRequest, base_layer_request(base))
    entries = await Get(DigestEntries, Digest, layer.blob)
    digest = await Get(Digest, CreateDigest([FileEntry(path, first_file_digest(entries))]))
    log = (
        f"Debian base ({len(base.packages)} packages, libc6 {base.libc_version}): "
        f"{layer.uncompressed_size / 1e6:.1f} MB uncompressed, {layer.layer.descriptor.size / 1e6:.1f} MB gzipped",
        "packages: " + " ".join(base.packages),
    )
    return BuiltPackage(digest, (BuiltPackageArtifact(path, extra_log_lines=log),))


# ---------------------------------------------------------------------------------------------------------------
# `./pants debian-updates ::`: is a committed lock behind the archives? (for a scheduled CI job)


_NO_RELEASE_DATES = (
    "\n  (this lock records no Release dates, so an older mirror would go unnoticed: "
    "./pants generate-lockfiles --resolve={address} records them)"
)


class DebianUpdatesSubsystem(GoalSubsystem):
    name = "debian-updates"
    help = softwrap(
        """
        List the packages of Debian locks that the archives now serve newer versions of, and exit 1 when any of
        them comes from the security archive. Covers the `debian_packages` and `debian_tools` targets, runtime
        default bases and runtime build roots among the given targets, and the container tools when an image is
        among them (`./pants debian-updates ::` for all). Fails too when an archive serves a Release file older
        than the one a lock was made from (a rolled-back or frozen mirror). Run it on a schedule in CI (README,
        "Keeping the base up to date"); fix with `./pants generate-lockfiles`.
        """
    )


class DebianUpdates(Goal):
    subsystem_cls = DebianUpdatesSubsystem
    environment_behavior = Goal.EnvironmentBehavior.LOCAL_ONLY


@goal_rule
async def debian_updates(
    console: Console, targets: Targets, bases: AllBaseTargets, container_tools: ContainerToolsSpec
) -> DebianUpdates:
    having_bases = {t.address for t in bases.targets}
    specs = await _debian_lock_specs(targets, [t for t in targets if t.address in having_bases], container_tools)
    lock_files = await MultiGet(Get(DigestContents, PathGlobs([s.lock_path])) for s in specs)
    locks = [lockfile.parse_lock(f[0].content.decode(), s.lock_path) if f else None for s, f in zip(specs, lock_files)]
    # Each lock holds the archives to the Release dates it was made from: an older mirror fails the check.
    available = await MultiGet(
        Get(DebianAvailable, DebianAvailableRequest(s.suite, s.architecture, lock_dates(lock, s.lock_path)))
        for s, lock in zip(specs, locks)
    )
    # A cross build root also holds the target architecture's -dev packages: compare them with that index.
    foreign_keys = sorted(
        {(s.suite, a) for s, lock in zip(specs, locks) if lock for a in lockfile.foreign_architectures(lock)}
    )
    foreign_available = await MultiGet(Get(DebianAvailable, DebianAvailableRequest(*k)) for k in foreign_keys)
    foreign = dict(zip(foreign_keys, foreign_available))
    security = 0
    stale: List[str] = []  # the resolves with security updates pending, for the command that fixes them
    for spec, lock, offered in zip(specs, locks, available):
        if lock is None:
            console.print_stdout(f"{spec.address}: no lock at {spec.lock_path}")
            continue
        others = {a: foreign[(spec.suite, a)].packages for a in lockfile.foreign_architectures(lock)}
        behind = lockfile.behind(lock, offered.packages, others)
        security += sum(c.security for c in behind)
        if any(c.security for c in behind):
            stale.append(spec.address)
        console.print_stdout(
            f"{spec.address} ({spec.lock_path}): "
            + (f"{len(behind)} package(s) behind\n" + lockfile.format_diff(behind) if behind else "up to date")
            + ("" if lock.releases else _NO_RELEASE_DATES.format(address=spec.address))
        )
    if security:
        resolves = " ".join(f"--resolve={address}" for address in stale)
        console.print_stderr(
            f"{security} security update(s) pending: run `./pants generate-lockfiles {resolves}` and commit the locks."
        )
    return DebianUpdates(exit_code=1 if security else 0)


def rules():
    return (
        *collect_rules(),
        UnionRule(PackageFieldSet, DebianPackagesFieldSet),
        UnionRule(KnownUserResolveNamesRequest, KnownDebianResolveNamesRequest),
        UnionRule(RequestedUserResolveNames, RequestedDebianResolveNames),
        UnionRule(GenerateLockfile, GenerateDebianLockfile),
        UnionRule(InferDependenciesRequest, InferDebianDependencies),
    )
