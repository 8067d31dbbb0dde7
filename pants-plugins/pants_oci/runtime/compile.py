"""Step 4 of a runtime: compile it, natively (with its PGO profile, if any) or, for another architecture, cross
(runtime/cross.py) with its native build as the build Python."""
import json
import logging
from dataclasses import dataclass
from typing import Optional, Tuple

from pants.core.util_rules.system_binaries import BashBinary
from pants.engine.fs import (
    AddPrefix,
    CreateDigest,
    Digest,
    DigestContents,
    DigestSubset,
    FileContent,
    PathGlobs,
    RemovePrefix,
)
from pants.engine.process import FallibleProcessResult
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import InvalidFieldException
from pants.util.logging import LogLevel

from pants_oci.layer.rules import LayerInterpreter
from pants_oci.runtime import build_plan, configure_flags, cross, pgo_profile
from pants_oci.runtime.bolt_step import BoltedRuntime, BoltRequest
from pants_oci.runtime.build_process import build_process, checked, sandbox_inputs
from pants_oci.runtime.field_set import BUILD_ROOT_RESOLVE_SUFFIX, PythonRuntimeFieldSet
from pants_oci.runtime.profile import CPythonProfile, CPythonProfileRequest, PinnedProfileRequest
from pants_oci.runtime.source import CPythonSource, CPythonSourceRequest
from pants_oci.runtime.target_types import PythonRuntimeArchitecturesField
from pants_oci.runtime.toolchain import (
    BuildRootSandboxCheck,
    BuildRootSandboxCheckRequest,
    CPythonToolchain,
    CPythonToolchainRequest,
)

logger = logging.getLogger(__name__)

# Where a cross build's native build Python is in its sandbox.
BUILD_PYTHON_DIR = "build-python"


@dataclass(frozen=True)
class BuildPythonRuntimeRequest:
    field_set: PythonRuntimeFieldSet
    architecture: str = cross.BUILD_MACHINE  # another one is cross-compiled (runtime/cross.py)


@dataclass(frozen=True)
class BuiltPythonRuntime:
    """A compiled runtime: `tree` holds the install rooted at `/` (e.g. opt/python/bin/python3.13)."""

    address: str
    version: str
    prefix: str
    tree: Digest
    complete_platform: Digest  # One file: complete_platform.json
    built_modules: Tuple[str, ...]
    missing_optional_modules: Tuple[str, ...]
    bytecode: str  # the runtime's bytecode policy, which code installed on top of it follows
    source_verification: str = ""  # how the source tarball was checked, for the SBOM
    built_with: str = ""  # what compiled it, for the SBOM: the build root and its lock's sha256, or the host
    pgo_profile: Optional[CPythonProfile] = None  # the profile it was optimized with (PGO levels only)
    architecture: str = cross.BUILD_MACHINE  # the Debian architecture it runs on
    # A cross-built runtime cannot run here: the native build of the same version runs the layer tool for it
    # (bytecode is the same on every machine) and reads its ELF facts.
    build_python: Optional[LayerInterpreter] = None
    # The build root a native runtime was compiled in: its loader and libraries run the runtime on the build
    # machine (layer/rules.py LayerInterpreter), never the host's. None with the host's toolchain.
    build_root: Optional[Digest] = None

    @property
    def major_minor(self) -> str:
        return ".".join(self.version.split(".")[:2])

    @property
    def interpreter_path(self) -> str:
        return f"{self.prefix}/bin/python{self.major_minor}"

    @property
    def site_packages(self) -> str:
        return f"{self.prefix}/lib/python{self.major_minor}/site-packages"

    @property
    def layer_interpreter(self) -> LayerInterpreter:
        """The interpreter that runs the layer tool for layers of this runtime: itself, or for a cross-built one its
        native build. Either way, layers on top of it byte-compile with its own version."""
        return self.build_python or LayerInterpreter(self.tree, self.interpreter_path, self.build_root)


async def _built_runtime(
    spec: build_plan.RuntimeSpec,
    output: Digest,
    source: CPythonSource,
    toolchain: CPythonToolchain,
    profile: Optional[CPythonProfile],
    architecture: str = cross.BUILD_MACHINE,
    build_python: Optional[LayerInterpreter] = None,
) -> BuiltPythonRuntime:
    """The runtime a successful build process made (its `out/` directory)."""
    tree_root = "out" + spec.prefix
    tree, meta = await MultiGet(
        Get(Digest, DigestSubset(output, PathGlobs([f"{tree_root}/**"]))),
        Get(DigestContents, DigestSubset(output, PathGlobs(["out/report.json", "out/complete_platform.json"]))),
    )
    files = {fc.path: fc.content for fc in meta}
    report = json.loads(files["out/report.json"])
    tree, platform = await MultiGet(
        Get(Digest, RemovePrefix(tree, "out")),
        Get(Digest, CreateDigest([FileContent("complete_platform.json", files["out/complete_platform.json"])])),
    )
    return BuiltPythonRuntime(
        address=spec.address,
        version=spec.version,
        prefix=spec.prefix,
        tree=tree,
        complete_platform=platform,
        built_modules=tuple(report["built"]),
        missing_optional_modules=tuple(sorted(report["missing_optional"])),
        bytecode=spec.bytecode,
        source_verification=source.verification,
        built_with=toolchain.provenance,
        pgo_profile=profile,
        architecture=architecture,
        build_python=build_python,
        build_root=toolchain.build_root.tree if toolchain.build_root and build_python is None else None,
    )


async def _cross_compile(field_set: PythonRuntimeFieldSet, architecture: str, bash: BashBinary) -> BuiltPythonRuntime:
    """Cross-compile the runtime for `architecture` in its cross build root, with its native build as the build
    Python (runtime/cross.py)."""
    native_spec, release = field_set.spec(), field_set.release()
    spec = build_plan.cross_spec(native_spec)
    if spec.optimizations != native_spec.optimizations:
        logger.info(
            f"{spec.address}: the {architecture} runtime is built with optimizations={spec.optimizations!r}, not "
            f"{native_spec.optimizations!r}: a cross build does not use PGO (runtime/cross.py)."
        )
    await Get(BuildRootSandboxCheck, BuildRootSandboxCheckRequest(spec.address))
    source = await Get(CPythonSource, CPythonSourceRequest(spec.address, release))
    native, toolchain = await MultiGet(
        Get(BuiltPythonRuntime, BuildPythonRuntimeRequest(field_set)),
        Get(CPythonToolchain, CPythonToolchainRequest(field_set, architecture)),
    )
    build_python = await Get(Digest, AddPrefix(native.tree, BUILD_PYTHON_DIR))
    inputs = await sandbox_inputs(source, build_python)
    result = await Get(
        FallibleProcessResult,
        build_process(
            spec,
            source,
            toolchain,
            bash,
            inputs,
            f"Cross-compiling CPython {spec.version} for {architecture} ({spec.optimizations}, {toolchain.summary}) "
            f"for {spec.address}",
            architecture=architecture,
            build_python=f"{BUILD_PYTHON_DIR}{native.interpreter_path}",
        ),
    )
    await checked(result, spec, toolchain)
    return await _built_runtime(
        spec, result.output_digest, source, toolchain, None, architecture, native.layer_interpreter
    )


def _check_architecture(field_set: PythonRuntimeFieldSet, architecture: str) -> Optional[cross.CrossTarget]:
    """The cross target of a build for `architecture` (None: native), after checking the runtime can have it."""
    architectures = field_set.architectures.value or (cross.BUILD_MACHINE,)
    if architecture not in architectures:
        raise InvalidFieldException(
            f"The {repr(PythonRuntimeArchitecturesField.alias)} field of target {field_set.address} is "
            f"{list(architectures)}, so it has no {architecture} build. Add {architecture!r} to it (and run "
            f"`./pants generate-lockfiles --resolve={field_set.address}{BUILD_ROOT_RESOLVE_SUFFIX}-{architecture}`)."
        )
    target = cross.cross_target(architecture)
    if target is not None and not field_set.uses_build_root:
        raise InvalidFieldException(
            f'Target {field_set.address} is built for {architecture} with `toolchain="host"`, but a cross build '
            f"needs its build root (the cross compiler, the {architecture} -dev packages and qemu-user come from "
            f'its lock). Remove `toolchain="host"`, or drop {architecture!r} from `architectures`.'
        )
    return target


@rule(desc="Compile a CPython runtime", level=LogLevel.DEBUG)
async def build_python_runtime(request: BuildPythonRuntimeRequest, bash: BashBinary) -> BuiltPythonRuntime:
    field_set = request.field_set
    target = _check_architecture(field_set, request.architecture)
    if target is not None:
        return await _cross_compile(field_set, request.architecture, bash)
    spec, release = field_set.spec(), field_set.release()
    pin_problem = pgo_profile.pin_problem(
        spec.address, spec.optimizations, field_set.pgo_profile.value, field_set.pgo_profile_sha256.value
    )
    if pin_problem:
        raise InvalidFieldException(pin_problem)
    profile = None
    if field_set.pgo_profile.value is not None:
        # Checked before anything is fetched or compiled: a profile for another build fails in seconds.
        assert field_set.pgo_profile_sha256.value is not None  # pin_problem requires it with pgo_profile
        pinned = PinnedProfileRequest(spec, field_set.pgo_profile, field_set.pgo_profile_sha256.value)
        profile = await Get(CPythonProfile, PinnedProfileRequest, pinned)
    if field_set.uses_build_root:
        # The cheap host check first: a host that cannot run a build root learns so before anything downloads.
        await Get(BuildRootSandboxCheck, BuildRootSandboxCheckRequest(spec.address))
    # One after the other, so that a wrong source pin is reported as such whatever the state of the build root.
    source = await Get(CPythonSource, CPythonSourceRequest(spec.address, release))
    toolchain = await Get(CPythonToolchain, CPythonToolchainRequest(field_set))
    if spec.uses_pgo and profile is None:
        profile = await Get(CPythonProfile, CPythonProfileRequest(spec, source, toolchain))
    inputs = await sandbox_inputs(source, *([profile.digest] if profile else []))
    result = await Get(
        FallibleProcessResult,
        build_process(
            spec,
            source,
            toolchain,
            bash,
            inputs,
            f"Compiling CPython {spec.version} ({spec.optimizations}, {toolchain.summary}) for {spec.address}",
            {"CPYTHON_PROFILE": pgo_profile.PROFILE_FILE} if profile else None,
        ),
    )
    await checked(result, spec, toolchain)
    output = result.output_digest
    if configure_flags.uses(spec.optimizations, "bolt"):
        assert toolchain.build_root is not None  # bolt.bolt_problem requires a build root
        bolt_request = BoltRequest(spec, field_set.build_root_suite.value, toolchain.build_root.tree, output)
        output = (await Get(BoltedRuntime, BoltRequest, bolt_request)).output
    return await _built_runtime(spec, output, source, toolchain, profile)


def rules():
    return collect_rules()
