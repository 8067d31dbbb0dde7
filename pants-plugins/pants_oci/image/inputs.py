"""A python_oci_image's inputs: its field set, the targets its fields name, and its app's plan.

Everything here is checked before anything compiles or downloads: the kinds of the targets the fields name, the
binary's interpreter constraints against the runtime's version, that the binary's lock has wheels the runtime
loads, and what the image runs. Names, users, env and the entry point are decided in plan.py.
"""
from dataclasses import dataclass
from typing import Optional, Tuple

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
from pants.backend.python.util_rules.pex_cli import PexCli
from pants.backend.python.util_rules.python_sources import PythonSourceFilesRequest, StrippedPythonSourceFiles
from pants.core.goals.package import OutputPathField, PackageFieldSet
from pants.engine.addresses import UnparsedAddressInputs
from pants.engine.fs import Digest, DigestContents, PathGlobs
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import InvalidFieldException, Target, Targets, TransitiveTargets, TransitiveTargetsRequest
from pants.util.logging import LogLevel

from pants_oci.bases.rules import DebianPackagesFieldSet, DefaultBase, DefaultBaseRequest
from pants_oci.debian.target_types import DebianArchitectureField
from pants_oci.errors import PantsOciError
from pants_oci.image import pex_cli, plan, wheel_check
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
    ImageLayerCompressionField,
    ImagePlatformsField,
    ImageRepositoryField,
    ImageRuntimeField,
    ImageTagsField,
    ImageUserField,
    ImageWorkdirField,
)
from pants_oci.runtime import cross
from pants_oci.runtime.field_set import PythonRuntimeFieldSet
from pants_oci.sandbox import SandboxPython, SandboxPythonRequest


class PythonOciImageError(PantsOciError):
    """An image that cannot be built; the message names the target, the field and the fix."""


@dataclass(frozen=True)
class PythonOciImageFieldSet(PackageFieldSet):
    required_fields = (ImageRuntimeField, ImageBinaryField)

    runtime: ImageRuntimeField
    binary: ImageBinaryField
    base: ImageBaseField
    repository: ImageRepositoryField
    image_tags: ImageTagsField
    entry_point: ImageEntryPointField
    cmd: ImageCmdField
    env: ImageEnvField
    user: ImageUserField
    workdir: ImageWorkdirField
    labels: ImageLabelsField
    expose: ImageExposeField
    init: ImageInitField
    keep_runtime_build_files: ImageKeepRuntimeBuildFilesField
    layer_compression: ImageLayerCompressionField
    platforms: ImagePlatformsField
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


def _kind_error(field_set: PythonOciImageFieldSet, alias: str, target: Target, wanted: str) -> InvalidFieldException:
    return InvalidFieldException(
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
    return ImageInputs(runtime, binary, ())


@dataclass(frozen=True)
class PlatformBasesRequest:
    field_set: PythonOciImageFieldSet
    inputs: ImageInputs
    architecture: str


@dataclass(frozen=True)
class PlatformBases:
    targets: Tuple[Target, ...]  # debian_packages targets, or the runtime (its default base)


@rule(desc="Choose a python_oci_image's bases for a platform", level=LogLevel.DEBUG)
async def platform_bases(request: PlatformBasesRequest) -> PlatformBases:
    """The `base` targets of the platform's architecture, or the default base of the runtime for it."""
    field_set, inputs, architecture = request.field_set, request.inputs, request.architecture
    if not inputs.bases:
        default = await Get(DefaultBase, DefaultBaseRequest(inputs.runtime, architecture))
        return PlatformBases((default.target,))
    chosen = tuple(t for t in inputs.bases if t[DebianArchitectureField].value == architecture)
    if not chosen:
        listed = ", ".join(f"{t.address} ({t[DebianArchitectureField].value})" for t in inputs.bases)
        raise InvalidFieldException(
            f"The 'base' field of target {field_set.address} has no base for {architecture}: it lists {listed}. "
            f'Add a debian_packages target with architecture="{architecture}" to it, or drop that platform from '
            f"'platforms'."
        )
    return PlatformBases(chosen)


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


async def binary_lock(binary: Target, python_setup: PythonSetup) -> Optional[BinaryLock]:
    if not python_setup.enable_resolves:
        return None  # without a lock, Pex resolves for the runtime's complete platform directly
    resolve = binary[PythonResolveField].normalized_value(python_setup)
    path = python_setup.resolves.get(resolve)
    if not path:
        return None
    contents = await Get(DigestContents, PathGlobs([path]))
    # Without its lockfile, Pants itself reports the resolve.
    return BinaryLock(resolve, path, contents[0].content.decode()) if contents else None


# The machine name wheel tags use for each architecture a runtime is built for.
WHEEL_MACHINES = {"amd64": "x86_64", "arm64": "aarch64"}


def runtime_platform(runtime: Target, architecture: str = cross.BUILD_MACHINE) -> wheel_check.RuntimePlatform:
    """What wheels must fit: the runtime's CPython version on the machine of `architecture`."""
    return wheel_check.RuntimePlatform(
        PythonRuntimeFieldSet.create(runtime).version.value, WHEEL_MACHINES[architecture]
    )


def image_architectures(field_set: PythonOciImageFieldSet) -> Tuple[str, ...]:
    """The Debian architectures of the image's platforms, in their order; the build machine's when unset."""
    if not field_set.platforms.value:
        return (cross.BUILD_MACHINE,)
    return tuple(plan.debian_architecture(plan.image_platform(p)) for p in field_set.platforms.value)


async def _check_lock_serves_runtime(
    field_set, binary: Target, runtime: Target, closure, python_setup, architecture: str
) -> None:
    """The binary's locked resolve must have wheels the runtime loads: checked from the lock alone, before
    the runtime compiles, so a missing cp3XX wheel is named instead of an sdist being built by Pants' Python."""
    roots = [str(r) for t in closure if t.has_field(PythonRequirementsField) for r in t[PythonRequirementsField].value]
    lock = await binary_lock(binary, python_setup) if roots else None
    if lock is None:
        return
    context = wheel_check.LockContext(
        str(field_set.address), str(binary.address), str(runtime.address), lock.resolve, lock.path
    )
    try:
        wheel_check.check_lock_serves_runtime(lock.text, roots, runtime_platform(runtime, architecture), context)
    except wheel_check.LockServesRuntimeError as e:
        raise PythonOciImageError(str(e)) from e


def check_pex_cli(
    field_set: PythonOciImageFieldSet, runtime: Target, pex_cli_subsystem: PexCli, tools_python: str
) -> None:
    """The pex CLI Pants runs must resolve and install for the runtime's interpreter, and start on the sandbox
    Python that runs it (pex_cli.py)."""
    problem = pex_cli.pex_cli_problem(
        str(field_set.address),
        str(runtime.address),
        PythonRuntimeFieldSet.create(runtime).version.value,
        pex_cli_subsystem.version,
        pex_cli.pants_toml_lines(pex_cli.RELEASED_PEX_SHA256, pex_cli.RELEASED_PEX_SIZE),
        tools_python,
    )
    if problem:
        raise PythonOciImageError(problem)


@rule(desc="Plan a python_oci_image's app", level=LogLevel.DEBUG)
async def plan_app(request: AppPlanRequest, python_setup: PythonSetup, pex_cli_subsystem: PexCli) -> AppPlan:
    field_set, binary, runtime = request.field_set, request.binary, request.runtime
    check_pex_cli(field_set, runtime, pex_cli_subsystem, tools_python="")  # what the targets alone tell
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
        raise PythonOciImageError(str(e)) from e
    for architecture in image_architectures(field_set):  # every platform's wheels, before anything compiles
        await _check_lock_serves_runtime(field_set, binary, runtime, transitive.closure, python_setup, architecture)
    resolved, sources = await MultiGet(
        Get(ResolvedPexEntryPoint, ResolvePexEntryPointRequest(binary[PexEntryPointField])),
        Get(StrippedPythonSourceFiles, PythonSourceFilesRequest(transitive.closure, include_resources=True)),
    )
    entry = None
    script = binary[PexScriptField].value
    if resolved.val is not None:
        entry = plan.EntryPointSpec(module=resolved.val.module, function=resolved.val.function)
    elif script:
        entry = plan.EntryPointSpec(script=script.name)
    if entry is None and not field_set.entry_point.value:
        raise InvalidFieldException(
            f"The 'binary' of target {field_set.address}, {binary.address}, has neither `entry_point` nor `script`, "
            f"so the image would not know what to run. Set one on {binary.address}, or set 'entry_point' on "
            f"{field_set.address}."
        )
    if pex_cli.predates_minimum(pex_cli_subsystem.version):
        # Then the Python that starts pex matters too. It comes from the [container-tools] lock, unpacked only here,
        # so that planning needs no lock where the pex CLI is new enough.
        sandbox_python = await Get(SandboxPython, SandboxPythonRequest())
        check_pex_cli(field_set, runtime, pex_cli_subsystem, sandbox_python.version)
    return AppPlan(
        entry=entry,
        args=tuple(binary[PexArgsField].value or ()),
        env=tuple(sorted((binary[PexEnvField].value or {}).items())),
        sources=sources.stripped_source_files.snapshot.digest,
    )


def rules():
    return collect_rules()
