"""Rules for `python_oci_image`: resolve the runtime, binary and base, build four layers, assemble the image.

Thin orchestration: names, users, env and the entry point are decided in plan.py; layers are written by
oci/layer_tool.py under the runtime's own interpreter; the image is assembled and checked by oci/model.py and
oci/validate.py; the ELF closure check is debian/closure.py.
"""
import dataclasses
import logging
import pkgutil
import platform
from dataclasses import dataclass
from typing import Optional, Tuple

from packaging.utils import canonicalize_name  # pants: no-infer-dep (packaging ships with pantsbuild.pants)
from pants.backend.python.subsystems.setup import PythonSetup
from pants.backend.python.target_types import (
    PexArgsField,
    PexEntryPointField,
    PexEnvField,
    PexScriptField,
    PythonRequirementsField,
    PythonResolveField,
    ResolvedPexEntryPoint,
    ResolvePexEntryPointRequest,
)
from pants.backend.python.util_rules.interpreter_constraints import InterpreterConstraints
from pants.backend.python.util_rules.pex import CompletePlatforms, Pex
from pants.backend.python.util_rules.pex_cli import PexCliProcess
from pants.backend.python.util_rules.pex_from_targets import PexFromTargetsRequest
from pants.backend.python.util_rules.python_sources import PythonSourceFilesRequest, StrippedPythonSourceFiles
from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, OutputPathField, PackageFieldSet
from pants.core.goals.run import RunFieldSet, RunInSandboxBehavior, RunRequest
from pants.core.util_rules.adhoc_binaries import PythonBuildStandaloneBinary
from pants.engine.addresses import Address, UnparsedAddressInputs
from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.engine.fs import (
    AddPrefix,
    CreateDigest,
    Digest,
    DigestContents,
    DigestSubset,
    FileContent,
    MergeDigests,
    PathGlobs,
    RemovePrefix,
    Snapshot,
)
from pants.engine.process import FallibleProcessResult, Process
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import (
    Target,
    Targets,
    TransitiveTargets,
    TransitiveTargetsRequest,
    WrappedTarget,
    WrappedTargetRequest,
)
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

import pants_oci
from pants_oci.bases.rules import (
    BaseOfTarget,
    DebianBaseSpecRequest,
    DebianPackagesFieldSet,
    DefaultBase,
    DefaultBaseRequest,
    closure_problems,
)
from pants_oci.debian import base as base_fs
from pants_oci.debian import closure, lockfile
from pants_oci.debian.base_rules import CheckedDebianLock, DebianBase, DebianBaseRequest, DebianBaseSpec
from pants_oci.image import plan, sbom, wheel_check
from pants_oci.image.subsystem import PythonOciImageSubsystem
from pants_oci.image.target_types import (
    ImageBaseField,
    ImageBinaryField,
    ImageCmdField,
    ImageEntryPointField,
    ImageEnvField,
    ImageExposeField,
    ImageInitField,
    ImageKeepRuntimeBuildFilesField,
    ImageLabelsField,
    ImageRepositoryField,
    ImageRuntimeField,
    ImageTagsField,
    ImageUserField,
    ImageWorkdirField,
)
from pants_oci.oci import model
from pants_oci.oci.determinism import DEFAULT_EPOCH
from pants_oci.oci.tarball import Entry
from pants_oci.oci.validate import assert_valid_layout
from pants_oci.runtime import build_plan
from pants_oci.runtime.rules import (
    BuildPythonRuntimeRequest,
    BuiltPythonRuntime,
    PythonRuntimeFieldSet,
    RuntimeElves,
    TreeArchive,
    TreeArchiveRequest,
)
from pants_oci.runtime.subsystem import PYTHON_ORG_TEMPLATE
from pants_oci.tools.rules import ContainerTools, ContainerToolsRequest, ContainerToolsSpec

logger = logging.getLogger(__name__)


class PythonOciImageError(Exception):
    """An image that cannot be built; the message names the target, the field and the fix."""


@dataclass(frozen=True)
class PythonOciImageFieldSet(PackageFieldSet):
    required_fields = (ImageRuntimeField, ImageBinaryField)

    runtime: ImageRuntimeField
    binary: ImageBinaryField
    base: ImageBaseField
    repository: ImageRepositoryField
    tags: ImageTagsField
    entry_point: ImageEntryPointField
    cmd: ImageCmdField
    env: ImageEnvField
    user: ImageUserField
    workdir: ImageWorkdirField
    labels: ImageLabelsField
    expose: ImageExposeField
    init: ImageInitField
    keep_runtime_build_files: ImageKeepRuntimeBuildFilesField
    output_path: OutputPathField

    @property
    def repository_name(self) -> str:
        return self.repository.value or self.address.target_name


# ---------------------------------------------------------------------------------------------------------------
# Resolving the fields


@dataclass(frozen=True)
class ImageInputsRequest:
    field_set: PythonOciImageFieldSet


@dataclass(frozen=True)
class ImageInputs:
    runtime: Target
    binary: Target
    bases: Tuple[Target, ...]


def _single_address_input(field_set: PythonOciImageFieldSet, alias: str, value: str) -> UnparsedAddressInputs:
    return UnparsedAddressInputs(
        [value], owning_address=field_set.address, description_of_origin=f"the `{alias}` field of {field_set.address}"
    )


def _kind_error(field_set: PythonOciImageFieldSet, alias: str, target: Target, wanted: str) -> PythonOciImageError:
    return PythonOciImageError(
        f"The '{alias}' field of target {field_set.address} names {target.address}, which is a `{target.alias}` "
        f"target, not a `{wanted}`. Point it at a `{wanted}` target."
    )


@rule(desc="Resolve a python_oci_image's runtime, binary and base", level=LogLevel.DEBUG)
async def resolve_image_inputs(request: ImageInputsRequest) -> ImageInputs:
    field_set = request.field_set
    runtime_targets, binary_targets = await MultiGet(
        Get(Targets, UnparsedAddressInputs, _single_address_input(field_set, "runtime", field_set.runtime.value)),
        Get(Targets, UnparsedAddressInputs, _single_address_input(field_set, "binary", field_set.binary.value)),
    )
    runtime, binary = runtime_targets[0], binary_targets[0]
    if not PythonRuntimeFieldSet.is_applicable(runtime):
        raise _kind_error(field_set, "runtime", runtime, "python_runtime")
    if not binary.has_field(PexEntryPointField):
        raise _kind_error(field_set, "binary", binary, "pex_binary")
    if field_set.base.value:
        bases = tuple(await Get(Targets, UnparsedAddressInputs, field_set.base.to_unparsed_address_inputs()))
        for base in bases:
            if not DebianPackagesFieldSet.is_applicable(base):
                raise _kind_error(field_set, "base", base, "debian_packages")
        return ImageInputs(runtime, binary, bases)
    default = await Get(DefaultBase, DefaultBaseRequest(runtime))
    return ImageInputs(runtime, binary, (default.target,))


# ---------------------------------------------------------------------------------------------------------------
# The app: third-party requirements and first-party code


@dataclass(frozen=True)
class AppPlanRequest:
    field_set: PythonOciImageFieldSet
    binary: Target
    runtime: Target  # only its address and version: the plan is checked before anything is compiled


@dataclass(frozen=True)
class AppPlan:
    entry: Optional[plan.EntryPointSpec]
    args: Tuple[str, ...]
    env: Tuple[Tuple[str, str], ...]
    sources: Digest  # stripped first-party sources and resources, relative to the import root


@dataclass(frozen=True)
class BinaryLock:
    """The locked resolve of an image's binary, if resolves are enabled and its lockfile exists."""

    resolve: str
    path: str
    text: str


async def _binary_lock(binary: Target, python_setup: PythonSetup) -> Optional[BinaryLock]:
    if not python_setup.enable_resolves:
        return None  # without a lock, Pex resolves for the runtime's complete platform directly
    resolve = binary[PythonResolveField].normalized_value(python_setup)
    path = python_setup.resolves.get(resolve)
    contents = await Get(DigestContents, PathGlobs([path])) if path else ()
    # Without its lockfile, Pants itself reports the resolve.
    return BinaryLock(resolve, path, contents[0].content.decode()) if contents else None


def _runtime_platform(runtime: Target) -> wheel_check.RuntimePlatform:
    # Runtimes are compiled natively, so they run on this machine's architecture.
    return wheel_check.RuntimePlatform(PythonRuntimeFieldSet.create(runtime).version.value, platform.machine())


async def _check_lock_serves_runtime(field_set, binary: Target, runtime: Target, closure, python_setup) -> None:
    """The binary's locked resolve must have wheels the runtime loads: checked from the lock alone, before
    the runtime compiles, so a missing cp3XX wheel is named instead of an sdist being built by Pants' Python."""
    roots = [str(r) for t in closure if t.has_field(PythonRequirementsField) for r in t[PythonRequirementsField].value]
    lock = await _binary_lock(binary, python_setup) if roots else None
    if lock is None:
        return
    context = wheel_check.LockContext(
        str(field_set.address), str(binary.address), str(runtime.address), lock.resolve, lock.path
    )
    try:
        wheel_check.check_lock_serves_runtime(lock.text, roots, _runtime_platform(runtime), context)
    except wheel_check.LockServesRuntimeError as e:
        raise PythonOciImageError(str(e))


@rule(desc="Plan a python_oci_image's app", level=LogLevel.DEBUG)
async def plan_app(request: AppPlanRequest, python_setup: PythonSetup) -> AppPlan:
    field_set, binary, runtime = request.field_set, request.binary, request.runtime
    transitive = await Get(TransitiveTargets, TransitiveTargetsRequest([binary.address]))
    constraints = InterpreterConstraints.create_from_targets(transitive.closure, python_setup)
    constraint_strings = [str(c) for c in (constraints or python_setup.interpreter_constraints)]
    try:
        plan.check_constraints(
            str(field_set.address),
            str(binary.address),
            constraint_strings,
            str(runtime.address),
            PythonRuntimeFieldSet.create(runtime).version.value,
        )
    except plan.ImagePlanError as e:
        raise PythonOciImageError(str(e))
    await _check_lock_serves_runtime(field_set, binary, runtime, transitive.closure, python_setup)
    resolved, sources = await MultiGet(
        Get(ResolvedPexEntryPoint, ResolvePexEntryPointRequest(binary[PexEntryPointField])),
        Get(StrippedPythonSourceFiles, PythonSourceFilesRequest(transitive.closure, include_resources=True)),
    )
    entry = None
    if resolved.val is not None:
        entry = plan.EntryPointSpec(module=resolved.val.module, function=resolved.val.function)
    elif binary[PexScriptField].value:
        entry = plan.EntryPointSpec(script=binary[PexScriptField].value)
    if entry is None and not field_set.entry_point.value:
        raise PythonOciImageError(
            f"The 'binary' of target {field_set.address}, {binary.address}, has neither `entry_point` nor `script`, "
            f"so the image would not know what to run. Set one on {binary.address}, or set 'entry_point' on "
            f"{field_set.address}."
        )
    return AppPlan(
        entry=entry,
        args=tuple(binary[PexArgsField].value or ()),
        env=tuple(sorted((binary[PexEnvField].value or {}).items())),
        sources=sources.stripped_source_files.snapshot.digest,
    )


@dataclass(frozen=True)
class DepsLayerRequest:
    binary: Address
    runtime: BuiltPythonRuntime
    mtime: int


@dataclass(frozen=True)
class BuiltLayer:
    archive: TreeArchive
    tree: Digest  # the layer's files rooted at /, for the ELF closure check
    created_by: str


@rule(desc="Install third-party requirements for an image", level=LogLevel.DEBUG)
async def build_deps_layer(request: DepsLayerRequest) -> BuiltLayer:
    runtime = request.runtime
    platform = CompletePlatforms(["complete_platform.json"], digest=runtime.complete_platform)
    pex = await Get(
        Pex,
        PexFromTargetsRequest(
            [request.binary],
            output_filename="deps.pex",
            internal_only=False,
            complete_platforms=platform,
            include_source_files=False,
            include_local_dists=True,
            description=(
                f"Resolve the requirements of {request.binary} for CPython {runtime.version} ({runtime.address})"
            ),
        ),
    )
    # Pex installs the wheels the resolve picked for the runtime's complete platform into a flat directory
    # (what `pip install --target` would make): no interpreter of that version is needed on the host.
    install = await Get(
        Process,
        PexCliProcess(
            subcommand=("venv", "create"),
            extra_args=(
                "--layout",
                "flat",
                "--scope",
                "deps",
                "--dest-dir",
                "flat",
                "--pex-repository",
                "deps.pex",
                "--complete-platform",
                "complete_platform.json",
            ),
            additional_input_digest=await Get(Digest, MergeDigests([pex.digest, runtime.complete_platform])),
            output_directories=("flat",),
            description=f"Install the requirements of {request.binary} for CPython {runtime.version}",
            level=LogLevel.DEBUG,
        ),
    )
    result = await Get(FallibleProcessResult, Process, install)
    if result.exit_code != 0:
        raise PythonOciImageError(
            f"Installing the requirements of {request.binary} for CPython {runtime.version} failed:\n"
            f"{result.stderr.decode(errors='replace')}"
        )
    installed, scripts = await MultiGet(
        Get(Digest, RemovePrefix(result.output_digest, "flat")),
        Get(DigestContents, DigestSubset(result.output_digest, PathGlobs(["flat/bin/*"]))),
    )
    site_packages = runtime.site_packages.lstrip("/")
    installed = await Get(Digest, DigestSubset(installed, PathGlobs(["**", "!bin/**"])))
    relocated = plan.relocate_console_scripts(
        {fc.path[len("flat/bin/") :]: fc.content for fc in scripts}, runtime.interpreter_path
    )
    installed, extras = await MultiGet(
        Get(Digest, AddPrefix(installed, site_packages)),
        Get(
            Digest,
            CreateDigest(
                [
                    FileContent(f"{site_packages}/{plan.APP_PTH_FILE}", f"{plan.APP_DIR}\n".encode()),
                    *(
                        FileContent(f"{runtime.prefix.lstrip('/')}/bin/{name}", content, is_executable=True)
                        for name, content in relocated.items()
                    ),
                ]
            ),
        ),
    )
    tree = await Get(Digest, MergeDigests([installed, extras]))
    archive = await Get(
        TreeArchive,
        TreeArchiveRequest(
            runtime,
            tree,
            f"Archive the requirements layer of {request.binary}",
            mtime=request.mtime,
            compile=(site_packages,) if runtime.bytecode != "none" else (),
            forbid_sandbox_paths=True,
        ),
    )
    return BuiltLayer(archive, tree, f"pants-oci: third-party requirements of {request.binary}")


@dataclass(frozen=True)
class AppLayerRequest:
    binary: Address
    runtime: BuiltPythonRuntime
    app: AppPlan
    mtime: int


@rule(desc="Build the first-party layer of an image", level=LogLevel.DEBUG)
async def build_app_layer(request: AppLayerRequest) -> BuiltLayer:
    runtime, app = request.runtime, request.app
    launchers = []
    if app.entry is not None:
        script = plan.launcher_script(runtime.interpreter_path, app.entry, str(request.binary), app.args)
        launchers.append(
            FileContent(plan.launcher_path(request.binary.target_name).lstrip("/"), script, is_executable=True)
        )
    sources, launcher = await MultiGet(
        Get(Digest, AddPrefix(app.sources, plan.APP_DIR.lstrip("/"))), Get(Digest, CreateDigest(launchers))
    )
    tree = await Get(Digest, MergeDigests([sources, launcher]))
    archive = await Get(
        TreeArchive,
        TreeArchiveRequest(
            runtime,
            tree,
            f"Archive the first-party layer of {request.binary}",
            mtime=request.mtime,
            compile=(plan.APP_DIR.lstrip("/"),) if runtime.bytecode != "none" else (),
            forbid_sandbox_paths=True,
        ),
    )
    return BuiltLayer(archive, tree, f"pants-oci: first-party code of {request.binary}")


# ---------------------------------------------------------------------------------------------------------------
# The image


@dataclass(frozen=True)
class PythonOciImageRequest:
    field_set: PythonOciImageFieldSet


@dataclass(frozen=True)
class BuiltPythonOciImage:
    """An assembled image: its layout files (blobs, index.json, oci-layout) and what the summary prints."""

    address: str
    repository: str
    tags: Tuple[str, ...]
    layout: Tuple[Tuple[str, bytes], ...]
    # index.json of the OCI archive: the first tag only, because `podman load` (containers/image) refuses an
    # archive whose index lists more than one manifest entry, even for one image. The layout keeps every tag.
    archive_index: bytes
    digest: str
    config_digest: str
    os: str
    architecture: str
    compressed_size: int
    uncompressed_size: int
    layer_summaries: Tuple[str, ...]
    entrypoint_length: int  # where the config's Entrypoint ends and Cmd begins, for `run` arguments
    sbom: bytes = b""  # the SPDX 2.3 JSON document of the image


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


@dataclass(frozen=True)
class BaseLayerRequest:
    target: Target  # a debian_packages target, or a runtime (its default base)
    mtime: int


@dataclass(frozen=True, eq=False)  # holds the layer's bytes; memoized per request within a run
class BaseLayer:
    """A base as an image layer, with what the image checks need from it (its facts come with the base)."""

    base: DebianBase
    layer: model.Layer


@rule(desc="Prepare a Debian base layer", level=LogLevel.DEBUG)
async def build_base_layer(request: BaseLayerRequest) -> BaseLayer:
    of_target = await Get(BaseOfTarget, DebianBaseSpecRequest(request.target))
    base = await Get(DebianBase, DebianBaseRequest(of_target.spec, request.mtime))
    blob = await Get(DigestContents, Digest, base.archive)
    layer = model.Layer(
        blob[0].content, base.diff_id, f"pants-oci: Debian base {base.address} ({len(base.packages)} packages)"
    )
    return BaseLayer(base, layer)


async def _source_date_epoch(subsystem: PythonOciImageSubsystem) -> int:
    env = await Get(EnvironmentVars, EnvironmentVarsRequest(["SOURCE_DATE_EPOCH"]))
    try:
        return plan.source_date_epoch(subsystem.source_date_epoch, env.get("SOURCE_DATE_EPOCH"), DEFAULT_EPOCH)
    except plan.ImagePlanError as e:
        raise PythonOciImageError(str(e))


def _checked_user(address: str, user: str, bases: Tuple[BaseLayer, ...]) -> str:
    passwd = next((b.base.passwd for b in reversed(bases) if b.base.passwd is not None), None)
    group = next((b.base.group for b in reversed(bases) if b.base.group is not None), None)
    try:
        return plan.resolve_user(address, user, passwd, group)
    except plan.ImagePlanError as e:
        raise PythonOciImageError(str(e))


async def _check_image_loads(
    address, bases: Tuple[BaseLayer, ...], runtime: BuiltPythonRuntime, deps: BuiltLayer
) -> None:
    """Every ELF file of the image (base, runtime, wheels) must find its libraries and symbol versions."""
    deps_contents = await Get(DigestContents, DigestSubset(deps.tree, PathGlobs(["**/*.so", "**/*.so.*"])))
    deps_elves, deps_links = base_fs.elf_infos(
        [Entry(fc.path, fc.content, fc.is_executable) for fc in deps_contents if fc.content[:4] == b"\x7fELF"]
    )
    problems = await closure_problems(tuple(b.base for b in bases), (runtime,), (RuntimeElves(deps_elves, deps_links),))
    if problems:
        raise PythonOciImageError(
            f"The image {address} would not run: some ELF files (of the runtime or of third-party wheels) would "
            f"not load on its base. Add the packages that provide the missing libraries to the base's `packages`, "
            f"or use wheels built for an older glibc.\n" + closure.format_problems(problems)
        )


async def _check_entry_module(field_set, binary: Address, app: AppPlan, runtime, deps: BuiltLayer, code: BuiltLayer):
    """The module the launcher imports must be in the image; a source file no target owns is the usual cause."""
    if field_set.entry_point.value:
        return
    deps_files, app_files = await MultiGet(Get(Snapshot, Digest, deps.tree), Get(Snapshot, Digest, code.tree))
    missing = plan.missing_entry_module(
        app.entry, (*deps_files.files, *app_files.files), (plan.APP_DIR, runtime.site_packages)
    )
    if missing:
        raise PythonOciImageError(
            f"The 'binary' of target {field_set.address}, {binary}, runs {app.entry.describe()}, but no file in "
            f"the image provides the module {missing}: it is neither among the first-party sources of {binary} "
            f"nor in its requirements. Check that a `python_sources` target owns the file (`./pants list "
            f"<path>`) and that {binary} depends on it."
        )


async def _sbom(
    inputs: ImageInputs,
    runtime: BuiltPythonRuntime,
    locks,
    deps: BuiltLayer,
    image: BuiltPythonOciImage,
    created: str,
    python_setup: PythonSetup,
) -> bytes:
    """The image's SPDX document: the Debian packages of its bases' locks, the CPython compiled for it, and the
    distributions installed in its requirements layer (with the sha256 the lock pins for the installed wheel)."""
    runtime_fields = PythonRuntimeFieldSet.create(inputs.runtime)
    spec, release = runtime_fields.spec(), runtime_fields.release()
    deps_snapshot = await Get(Snapshot, Digest, deps.tree)
    lock = await _binary_lock(inputs.binary, python_setup)
    locked = wheel_check.parse_pex_lock(lock.text).projects if lock else {}
    target_platform = _runtime_platform(inputs.runtime)
    python = []
    for name, version in plan.installed_distributions(deps_snapshot.dirs):
        project = locked.get(canonicalize_name(name))
        digest = wheel_check.installed_wheel_sha256(project, target_platform) if project else None
        python.append(sbom.PythonComponent(name, version, digest))
    debian = [
        sbom.DebianComponent(p.name, p.version, p.architecture, p.sha256, p.archive, p.suite)
        for checked in locks
        for p in checked.lock.packages
    ]
    cpython = sbom.RuntimeComponent(
        version=runtime.version,
        source_url=PYTHON_ORG_TEMPLATE.format(version=release.version, filename=release.filename),
        source_sha256=release.sha256,
        configure_args=tuple(build_plan.all_configure_args(spec)),
        verification=runtime.source_verification or f"sha256 and size pin ({release.size} bytes)",
        prefix=runtime.prefix,
        built_with=runtime.built_with,
        pgo_profile_sha256=runtime.pgo_profile.sha256 if runtime.pgo_profile else "",
    )
    return sbom.spdx_json(
        sbom.SbomInput(
            image_name=image.repository,
            image_digest=image.digest,
            created=created,
            first_party=str(inputs.binary.address),
            debian=tuple(debian),
            runtime=cpython,
            python=tuple(python),
            tool=f"pants-oci-{pants_oci.__version__}",
        )
    )


async def _check_halves_match(address: str, runtime: Target, base_specs, locks) -> None:
    """The runtime's build root and the image's bases come from one suite at one moment: the headers it was
    compiled against are those of the libraries it loads. From the locks alone, before anything compiles."""
    runtime_fields = PythonRuntimeFieldSet.create(runtime)
    if not runtime_fields.uses_build_root:
        return
    root_spec = runtime_fields.build_root_spec()
    root_lock = (await Get(CheckedDebianLock, DebianBaseSpec, root_spec)).lock
    for base, lock in zip(base_specs, locks):
        problem = lockfile.halves_problem(root_lock, root_spec.address, lock.lock, base.spec.address)
        if problem:
            raise PythonOciImageError(
                f"The image {address} cannot put the runtime {runtime.address} on its base: " f"{problem}."
            )


@rule(desc="Build a python_oci_image", level=LogLevel.DEBUG)
async def build_python_oci_image(
    request: PythonOciImageRequest, subsystem: PythonOciImageSubsystem, python_setup: PythonSetup
) -> BuiltPythonOciImage:
    field_set = request.field_set
    address = str(field_set.address)
    mtime = await _source_date_epoch(subsystem)
    inputs = await Get(ImageInputs, ImageInputsRequest(field_set))
    # Everything that can be checked without compiling is checked first: the app, and that every base is locked.
    app = await Get(AppPlan, AppPlanRequest(field_set, inputs.binary, inputs.runtime))
    base_specs = await MultiGet(Get(BaseOfTarget, DebianBaseSpecRequest(t)) for t in inputs.bases)
    locks = await MultiGet(Get(CheckedDebianLock, DebianBaseSpec, b.spec) for b in base_specs)
    init_problem = plan.init_problem(
        address,
        field_set.init.value,
        {b.spec.address: [p.name for p in lock.lock.packages] for b, lock in zip(base_specs, locks)},
    )
    if init_problem:
        raise PythonOciImageError(init_problem)
    await _check_halves_match(address, inputs.runtime, base_specs, locks)
    runtime = await Get(BuiltPythonRuntime, BuildPythonRuntimeRequest(PythonRuntimeFieldSet.create(inputs.runtime)))
    bases = await MultiGet(Get(BaseLayer, BaseLayerRequest(t, mtime)) for t in inputs.bases)
    runtime_tree = runtime.tree
    if not field_set.keep_runtime_build_files.value:
        dropped = plan.runtime_build_files(runtime.prefix, runtime.major_minor)
        runtime_tree = await Get(Digest, DigestSubset(runtime.tree, PathGlobs(["**", *(f"!{g}" for g in dropped)])))
    runtime_layer, deps_layer, app_layer = await MultiGet(
        Get(
            TreeArchive,
            TreeArchiveRequest(
                runtime,
                runtime_tree,
                f"Archive the CPython {runtime.version} tree of " f"{runtime.address}",
                mtime=mtime,
            ),
        ),
        Get(BuiltLayer, DepsLayerRequest(inputs.binary.address, runtime, mtime)),
        Get(BuiltLayer, AppLayerRequest(inputs.binary.address, runtime, app, mtime)),
    )

    await _check_entry_module(field_set, inputs.binary.address, app, runtime, deps_layer, app_layer)
    user = _checked_user(address, field_set.user.value, bases)
    await _check_image_loads(address, bases, runtime, deps_layer)

    layers = [b.layer for b in bases]
    layer_archives = await MultiGet(
        Get(DigestContents, Digest, a.digest) for a in (runtime_layer, deps_layer.archive, app_layer.archive)
    )
    for archive, contents, created_by in zip(
        (runtime_layer, deps_layer.archive, app_layer.archive),
        layer_archives,
        (
            f"pants-oci: CPython {runtime.version} runtime {runtime.address}",
            deps_layer.created_by,
            app_layer.created_by,
        ),
    ):
        layers.append(model.Layer(contents[0].content, archive.diff_id, created_by))

    archives = (runtime_layer, deps_layer.archive, app_layer.archive)
    image = _assemble(field_set, inputs.binary.address, runtime, app, user, mtime, layers, bases, archives)
    document = await _sbom(inputs, runtime, locks, deps_layer, image, model.epoch_timestamp(mtime), python_setup)
    return dataclasses.replace(image, sbom=document)


def _assemble(field_set, binary: Address, runtime, app, user, mtime, layers, bases, archives) -> BuiltPythonOciImage:
    repository = field_set.repository_name
    tags = tuple(field_set.tags.value)
    labels = {"org.opencontainers.image.title": repository, **(field_set.labels.value or {})}
    entrypoint = plan.image_entrypoint(
        field_set.entry_point.value or (plan.launcher_path(binary.target_name),), field_set.init.value
    )
    config = model.ImageConfig(
        user=user,
        env=plan.image_env(f"{runtime.prefix}/bin", dict(app.env), field_set.env.value or {}),
        entrypoint=tuple(entrypoint),
        cmd=tuple(field_set.cmd.value or ()),
        working_dir=field_set.workdir.value,
        labels=tuple(sorted(labels.items())),
        exposed_ports=tuple(field_set.expose.value or ()),
        created=model.epoch_timestamp(mtime),
    )
    image = model.build_image(config, layers, annotations=labels)
    files = model.layout_files(image, tags, repository)
    assert_valid_layout(files)  # the conformance check runs on every image, not only in tests
    uncompressed = sum(b.base.uncompressed_size for b in bases) + sum(a.uncompressed_size for a in archives)
    compressed = sum(layer.descriptor.size for layer in layers) + len(image.config_blob) + len(image.manifest_blob)
    summaries = tuple(
        f"layer {i + 1}: {layer.created_by[len('pants-oci: '):]}: {_mb(layer.descriptor.size)} "
        f"({layer.descriptor.digest[:19]})"
        for i, layer in enumerate(layers)
    )
    return BuiltPythonOciImage(
        address=str(field_set.address),
        repository=repository,
        tags=tags,
        layout=tuple(sorted(files.items())),
        archive_index=model.build_index(image, tags[:1], repository),
        digest=image.digest,
        config_digest=image.config_descriptor.digest,
        os=config.os,
        architecture=config.architecture,
        compressed_size=compressed,
        uncompressed_size=uncompressed,
        layer_summaries=summaries,
        entrypoint_length=len(entrypoint),
    )


@rule(desc="Package a python_oci_image", level=LogLevel.DEBUG)
async def package_python_oci_image(field_set: PythonOciImageFieldSet) -> BuiltPackage:
    image = await Get(BuiltPythonOciImage, PythonOciImageRequest(field_set))
    layout_dir = field_set.output_path.value_or_default(file_ending=None)
    archive_path = f"{layout_dir}.tar"
    archive_files = {**dict(image.layout), "index.json": image.archive_index}
    info_path = plan.deploy_info_path(layout_dir)
    info = plan.deploy_info(
        image.address,
        image.repository,
        image.tags,
        image.digest,
        image.config_digest,
        image.compressed_size,
        image.os,
        image.architecture,
        layout_dir,
        archive_path,
    )
    digest = await Get(
        Digest,
        CreateDigest(
            [
                *(FileContent(f"{layout_dir}/{path}", content) for path, content in image.layout),
                FileContent(archive_path, model.layout_archive(archive_files)),
                FileContent(info_path, info),
                FileContent(plan.sbom_path(layout_dir), image.sbom),
            ]
        ),
    )
    log_lines = (
        f"image {image.repository}:{image.tags[0]} digest {image.digest}"
        + (f" (the layout directory also has the tags {', '.join(image.tags[1:])})" if image.tags[1:] else ""),
        f"{plan.size_summary(image.compressed_size, image.uncompressed_size)}",
        *image.layer_summaries,
    )
    return BuiltPackage(
        digest,
        (
            BuiltPackageArtifact(archive_path, extra_log_lines=log_lines),
            BuiltPackageArtifact(layout_dir, extra_log_lines=("OCI image layout directory",)),
            BuiltPackageArtifact(info_path, extra_log_lines=(f"deploy with {image.repository}@{image.digest}",)),
            BuiltPackageArtifact(plan.sbom_path(layout_dir), extra_log_lines=("SPDX 2.3 SBOM of the image",)),
        ),
    )


# ---------------------------------------------------------------------------------------------------------------
# `./pants run`: the image in a real container (umoci unpacks, runc runs; both from the [container-tools] lock)


@dataclass(frozen=True)
class PythonOciImageRunFieldSet(RunFieldSet):
    required_fields = (ImageRuntimeField, ImageBinaryField)
    run_in_sandbox_behavior = RunInSandboxBehavior.NOT_SUPPORTED

    runtime: ImageRuntimeField
    binary: ImageBinaryField


@rule(desc="Run a python_oci_image in a container", level=LogLevel.DEBUG)
async def run_python_oci_image(
    field_set: PythonOciImageRunFieldSet, python: PythonBuildStandaloneBinary, tools_lock: ContainerToolsSpec
) -> RunRequest:
    wrapped = await Get(WrappedTarget, WrappedTargetRequest(field_set.address, description_of_origin="the `run` goal"))
    package_field_set = PythonOciImageFieldSet.create(wrapped.target)
    # A missing or stale tools lock is reported before the image is built, not after a compile.
    await Get(CheckedDebianLock, DebianBaseSpec, tools_lock.spec)
    image, tools = await MultiGet(
        Get(BuiltPythonOciImage, PythonOciImageRequest(package_field_set)),
        Get(ContainerTools, ContainerToolsRequest()),
    )
    script = pkgutil.get_data(__name__.rsplit(".", 1)[0], "run_image.py")
    assert script is not None, "run_image.py is missing from the plugin's package data"
    digest = await Get(
        Digest,
        CreateDigest(
            [
                FileContent("run_image.py", script),
                *(FileContent(f"image/{path}", content) for path, content in image.layout),
            ]
        ),
    )
    return RunRequest(
        digest=digest,
        args=(
            python.path,
            "{chroot}/run_image.py",
            "{chroot}/image",
            image.tags[0],
            "{chroot}/container-tools",
            str(image.entrypoint_length),
        ),
        extra_env={},
        # Materialized once and shared read-only; run_image.py puts its patched runc in its own directory.
        immutable_input_digests={"container-tools": tools.tree},
    )


def rules():
    return (
        *collect_rules(),
        UnionRule(PackageFieldSet, PythonOciImageFieldSet),
        *PythonOciImageRunFieldSet.rules(),
    )
