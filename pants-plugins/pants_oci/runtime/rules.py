"""Rules for `python_runtime`: fetch the tarball and verify its pin and signature, unpack the build root (or
fingerprint the host toolchain, for `toolchain="host"`), compile inside it, package.

Thin orchestration: every decision is in build_plan.py, diagnostics.py, modules.py and oci/tarball.py; the build
root's tree comes from debian/base_rules.py.
"""
import hashlib
import json
import logging
import pkgutil
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, OutputPathField, PackageFieldSet
from pants.core.util_rules.system_binaries import BashBinary
from pants.engine.fs import (
    AddPrefix,
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
from pants.engine.process import FallibleProcessResult, Process, ProcessCacheScope, ProcessResult
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import HydratedSources, HydrateSourcesRequest, InvalidFieldException
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

from pants_oci.debian.base_rules import DebianBaseSpec, DebianBuildRoot, DebianBuildRootRequest
from pants_oci.debian.base_rules import rules as base_rules
from pants_oci.debian.rules import DebianArchives
from pants_oci.debian.rules import rules as debian_rules
from pants_oci.debian.target_types import DEFAULT_ARCHITECTURE, default_lock_path
from pants_oci.digests import first_file_digest
from pants_oci.elf.elf import ElfFacts, elf_facts_from_json
from pants_oci.errors import engine_error_detail
from pants_oci.oci.rules import BuiltLayer, LayerInterpreter, LayerRequest, interpreter_command, interpreter_inputs
from pants_oci.oci.rules import rules as layer_rules
from pants_oci.runtime import build_plan, cross, diagnostics, pgo_profile
from pants_oci.runtime.known_versions import SourceRelease
from pants_oci.runtime.release_keys import release_manager
from pants_oci.runtime.subsystem import PythonRuntimeSubsystem
from pants_oci.runtime.target_types import (
    PythonRuntimeArchitecturesField,
    PythonRuntimeBuildRootPackagesField,
    PythonRuntimeBuildRootSuiteField,
    PythonRuntimeBytecodeField,
    PythonRuntimeConfigureArgsField,
    PythonRuntimeIncludeField,
    PythonRuntimeOptimizationsField,
    PythonRuntimeOptionalModulesField,
    PythonRuntimePgoProfileField,
    PythonRuntimePgoProfileSha256Field,
    PythonRuntimePrefixField,
    PythonRuntimeRequiredModulesField,
    PythonRuntimeSha256Field,
    PythonRuntimeSizeField,
    PythonRuntimeSourceFilenameField,
    PythonRuntimeToolchainField,
    PythonRuntimeVersionField,
)
from pants_oci.sandbox import SandboxPython, SandboxPythonRequest, SandboxTool, tool_process
from pants_oci.tools.rules import rules as tools_rules

logger = logging.getLogger(__name__)

SANDBOX_SCRIPTS = ("build_cpython.sh", "check_modules.py", "complete_platform.py", "enter_build_root.sh")
# Only the PGO profile step gets these. The training script sits alone in its directory: it is sys.path[0], and
# a directory listing that differs would change the profile.
PROFILE_STEP_SCRIPTS = ("fixed_layout.c",)
TRAINING_SCRIPT = "pgo_training.py"
TRAINING_DIR = "pgo-training"
# The resolve name of a runtime's build root lock is its address plus this.
BUILD_ROOT_RESOLVE_SUFFIX = "#build-root"
# Where a cross build's native build Python is in its sandbox.
BUILD_PYTHON_DIR = "build-python"
# Where the build root tree appears in the compile's sandbox (an immutable input: materialized once, shared).
BUILD_ROOT_DIR = "buildroot"
# A pgo+lto build takes ~12 minutes on 2 cores; a slow shared machine gets generous headroom.
BUILD_TIMEOUT_SECONDS = 3 * 60 * 60


class PythonRuntimeBuildError(Exception):
    """A CPython build failed; the message is a diagnosis, not a log dump."""


def _script(name: str) -> FileContent:
    data = pkgutil.get_data(__name__.rsplit(".", 1)[0], name)
    assert data is not None, f"{name} is missing from the plugin's package data"
    return FileContent(name, data, is_executable=name.endswith(".sh"))


@dataclass(frozen=True)
class PythonRuntimeFieldSet(PackageFieldSet):
    required_fields = (PythonRuntimeVersionField,)

    version: PythonRuntimeVersionField
    sha256: PythonRuntimeSha256Field
    size: PythonRuntimeSizeField
    source_filename: PythonRuntimeSourceFilenameField
    optimizations: PythonRuntimeOptimizationsField
    pgo_profile: PythonRuntimePgoProfileField
    pgo_profile_sha256: PythonRuntimePgoProfileSha256Field
    required_modules: PythonRuntimeRequiredModulesField
    optional_modules: PythonRuntimeOptionalModulesField
    include: PythonRuntimeIncludeField
    bytecode: PythonRuntimeBytecodeField
    prefix: PythonRuntimePrefixField
    extra_configure_args: PythonRuntimeConfigureArgsField
    toolchain: PythonRuntimeToolchainField
    build_root_packages: PythonRuntimeBuildRootPackagesField
    build_root_suite: PythonRuntimeBuildRootSuiteField
    architectures: PythonRuntimeArchitecturesField
    output_path: OutputPathField

    def spec(self) -> build_plan.RuntimeSpec:
        return build_plan.make_spec(
            address=str(self.address),
            version=self.version.value,
            optimizations=self.optimizations.value,
            prefix=self.prefix.value,
            bytecode=self.bytecode.value,
            include=self.include.value or (),
            required=self.required_modules.value,
            optional=self.optional_modules.value or (),
            extra_configure_args=self.extra_configure_args.value or (),
        )

    @property
    def uses_build_root(self) -> bool:
        return self.toolchain.value == "build-root"

    def build_root_spec(self, architecture: str = cross.BUILD_MACHINE) -> DebianBaseSpec:
        """The build root's lock: resolve `<address>#build-root`, at <dir>/<name>.build-root.lock.json; for a cross
        build to `arm64`, `<address>#build-root-arm64` at <dir>/<name>.build-root.arm64.lock.json."""
        extra = self.build_root_packages.value or ()
        if architecture == cross.BUILD_MACHINE:
            packages = build_plan.build_root_packages(self.spec(), extra)
            suffix = ""
        else:
            packages = build_plan.cross_build_root_packages(self.spec(), architecture, extra)
            suffix = f"-{architecture}"
        return DebianBaseSpec(
            address=f"{self.address}{BUILD_ROOT_RESOLVE_SUFFIX}{suffix}",
            packages=tuple(packages),
            suite=self.build_root_suite.value,
            architecture=DEFAULT_ARCHITECTURE,
            lock_path=default_lock_path(self.address, f".build-root{suffix.replace('-', '.')}"),
        )

    def build_root_specs(self) -> List[DebianBaseSpec]:
        """One build root per architecture the runtime is built for."""
        return [self.build_root_spec(a) for a in self.architectures.value or (cross.BUILD_MACHINE,)]

    def release(self) -> SourceRelease:
        return build_plan.resolve_release(
            str(self.address), self.version.value, self.sha256.value, self.size.value, self.source_filename.value
        )


@dataclass(frozen=True)
class CPythonSourceRequest:
    address: str
    release: SourceRelease


@dataclass(frozen=True)
class CPythonSource:
    digest: Digest  # One file: source/<filename>
    path: str
    verification: str  # how it was checked, as the SBOM records it


@dataclass(frozen=True)
class SourceSignatureRequest:
    address: str
    release: SourceRelease
    source: Digest
    path: str
    urls: Tuple[str, ...]  # where the signature may be, in order


VERIFY_SOURCE = SandboxTool("pants_oci.runtime.verify_source", data=("runtime/cpython-release-keys.asc",))
ELF_FACTS = SandboxTool("pants_oci.elf.elf_facts")
EXIT_BAD_SIGNATURE, EXIT_NO_SIGNATURE = 2, 3


@dataclass(frozen=True)
class CPythonToolchain:
    """What compiles a runtime: a build root (its tree enters the sandbox as an immutable input), or the host's
    toolchain (fingerprinted into the key)."""

    summary: str  # for progress messages
    build_root: Optional[DebianBuildRoot] = None
    host_fingerprint: Optional[str] = None
    host_search_path: Tuple[str, ...] = ()

    @property
    def provenance(self) -> str:
        """What compiled the runtime, as the SBOM records it."""
        if self.build_root is not None:
            root = self.build_root
            return (
                f"the build root {root.address} ({root.packages} Debian packages, lock sha256 " f"{root.lock_sha256})"
            )
        return f"the host toolchain ({self.summary}, fingerprint sha256 {self.host_fingerprint})"


@dataclass(frozen=True)
class HostToolchainRequest:
    pass


@dataclass(frozen=True)
class BuildRootSandboxCheck:
    """This host can run a build root compile (checked once per Pants run, before anything is fetched)."""


@dataclass(frozen=True)
class BuildRootSandboxCheckRequest:
    address: str  # the runtime that needs it, for the error message


@dataclass(frozen=True)
class BuildPythonRuntimeRequest:
    field_set: PythonRuntimeFieldSet
    architecture: str = cross.BUILD_MACHINE  # another one is cross-compiled (runtime/cross.py)


@dataclass(frozen=True)
class CPythonProfile:
    """A PGO profile: one file, pgo_profile.PROFILE_FILE (see pgo_profile.py for what it holds)."""

    digest: Digest
    sha256: str


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
    # machine (oci/rules.py LayerInterpreter), never the host's. None with the host's toolchain.
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


@dataclass(frozen=True)
class CPythonProfileRequest:
    spec: build_plan.RuntimeSpec
    source: CPythonSource
    toolchain: CPythonToolchain


@dataclass(frozen=True)
class PinnedProfileRequest:
    spec: build_plan.RuntimeSpec
    field: PythonRuntimePgoProfileField
    sha256: str


@rule(desc="Fetch a verified CPython source tarball", level=LogLevel.DEBUG)
async def fetch_cpython_source(
    request: CPythonSourceRequest, subsystem: PythonRuntimeSubsystem, debian: DebianArchives
) -> CPythonSource:
    release = request.release
    urls = build_plan.source_urls(subsystem.source_url_templates, release, debian.uris)
    expected = FileDigest(release.sha256, release.size)
    # A mirror may name the file differently (Debian's .orig.tar.xz): the sandbox always gets one fixed name.
    path = f"source/{release.filename}"
    source = await Get(Digest, CreateDigest([FileEntry(path, expected)]))
    errors = []
    # Sequential on purpose: each URL is only a fallback for the ones before it. The engine checks the
    # sha256 and size before anything is stored, and a digest already in the store is not downloaded again.
    for url in urls:
        try:
            await Get(Digest, NativeDownloadFile(url, expected))
        except Exception as e:  # The engine raises a plain Exception with its own message.
            errors.append((url, engine_error_detail(e)))
            continue
        # The download matched `expected`, so its content is now in the store under that digest.
        signature = SourceSignatureRequest(
            request.address, release, source, path, tuple(build_plan.signature_urls(urls))
        )
        return CPythonSource(source, path, await Get(str, SourceSignatureRequest, signature))
    raise PythonRuntimeBuildError(build_plan.download_failure_message(request.address, release, errors))


@rule(desc="Verify a CPython source tarball's signature", level=LogLevel.DEBUG)
async def verify_source_signature(request: SourceSignatureRequest) -> str:
    """How the tarball was checked (for the SBOM). A signature that does not verify is an error; no reachable
    signature (or none published: 3.14+ signs with Sigstore) leaves the sha256 pin, with a warning."""
    release = request.release
    python = await Get(SandboxPython, SandboxPythonRequest())
    process = await tool_process(
        python,
        VERIFY_SOURCE,
        [request.path, release.major_minor, *request.urls],
        inputs=request.source,
        description=f"Verify the OpenPGP signature of {release.filename} for {request.address}",
    )
    result = await Get(FallibleProcessResult, Process, process)
    detail = " ".join(result.stderr.decode(errors="replace").split())
    if result.exit_code == 0:
        verified = json.loads(result.stdout)
        signed = time.strftime("%Y-%m-%d", time.gmtime(verified["signed_at"]))
        return build_plan.verified_by_signature(verified["name"], verified["signer"], signed, release.size)
    if result.exit_code == EXIT_NO_SIGNATURE:
        logger.warning(
            f"{request.address}: the CPython {release.version} source is checked by its sha256 pin " f"alone: {detail}"
        )
        # The SBOM gets the reason without the URLs tried: the same on every machine.
        why = (
            "no OpenPGP signature was reachable"
            if release_manager(release.major_minor)
            else f"no OpenPGP release manager key for CPython {release.major_minor} (3.14+ releases are signed with "
            f"Sigstore)"
        )
        return build_plan.verified_by_pin_only(release.size, why)
    if result.exit_code == EXIT_BAD_SIGNATURE:
        raise PythonRuntimeBuildError(build_plan.bad_signature_message(request.address, release, detail))
    raise PythonRuntimeBuildError(
        f"Checking the signature of {release.filename} failed (exit code " f"{result.exit_code}): {detail}"
    )


@rule(desc="Check that this host can run a build root", level=LogLevel.DEBUG)
async def check_build_root_sandbox(request: BuildRootSandboxCheckRequest) -> BuildRootSandboxCheck:
    script = await Get(Digest, CreateDigest([_script("build_root_check.sh")]))
    result = await Get(
        FallibleProcessResult,
        Process(
            ["/usr/bin/env", "sh", "build_root_check.sh"],
            input_digest=script,
            env={"PATH": ":".join(build_plan.BUILD_ROOT_PATH)},
            description="Check that this host lets users create user namespaces (for build roots)",
            level=LogLevel.DEBUG,
            # A sysctl can change between runs; the answer is never cached.
            cache_scope=ProcessCacheScope.PER_SESSION,
        ),
    )
    problem = build_plan.sandbox_problem(request.address, result.stdout.decode(errors="replace"))
    if problem:
        raise PythonRuntimeBuildError(problem)
    return BuildRootSandboxCheck()


@dataclass(frozen=True)
class CPythonToolchainRequest:
    field_set: PythonRuntimeFieldSet
    architecture: str = cross.BUILD_MACHINE


@rule(desc="Find what compiles a CPython runtime", level=LogLevel.DEBUG)
async def choose_toolchain(request: CPythonToolchainRequest) -> CPythonToolchain:
    field_set = request.field_set
    if not field_set.uses_build_root:
        return await Get(CPythonToolchain, HostToolchainRequest())
    await Get(BuildRootSandboxCheck, BuildRootSandboxCheckRequest(str(field_set.address)))
    spec = field_set.build_root_spec(request.architecture)
    root = await Get(DebianBuildRoot, DebianBuildRootRequest(spec))
    what = "build root" if request.architecture == cross.BUILD_MACHINE else f"{request.architecture} cross build root"
    return CPythonToolchain(summary=f"{what} of {root.packages} {spec.suite} packages", build_root=root)


@rule(desc="Fingerprint the host's C toolchain for CPython builds", level=LogLevel.DEBUG)
async def fingerprint_host_toolchain(
    _: HostToolchainRequest, subsystem: PythonRuntimeSubsystem, bash: BashBinary
) -> CPythonToolchain:
    script = await Get(Digest, CreateDigest([_script("toolchain_probe.sh")]))
    result = await Get(
        ProcessResult,
        Process(
            [bash.path, "toolchain_probe.sh"],
            input_digest=script,
            env={"PATH": ":".join(subsystem.build_search_path), "LC_ALL": "C"},
            description="Fingerprint the host C toolchain and -dev libraries",
            level=LogLevel.DEBUG,
            # The host can change between runs (an apt upgrade), so this never comes from a cache.
            cache_scope=ProcessCacheScope.PER_SESSION,
        ),
    )
    probe = result.stdout.decode()
    problem = build_plan.toolchain_problem(probe, subsystem.build_search_path)
    if problem:
        raise PythonRuntimeBuildError(problem)
    summary = next((line[len("tool cc ") :] for line in probe.splitlines() if line.startswith("tool cc ")), "cc")
    return CPythonToolchain(
        f"host {summary}",
        host_fingerprint=build_plan.fingerprint(probe),
        host_search_path=tuple(subsystem.build_search_path),
    )


def _build_process(
    spec: build_plan.RuntimeSpec,
    source: CPythonSource,
    toolchain: CPythonToolchain,
    bash: BashBinary,
    input_digest: Digest,
    description: str,
    profile_env: Optional[Dict[str, str]] = None,
    architecture: str = cross.BUILD_MACHINE,
    build_python: str = "",
) -> Process:
    # {pants_concurrency} is filled in at run time and is not part of the cache key.
    command = ["build_cpython.sh", "{pants_concurrency}"]
    if toolchain.build_root is not None:
        env = build_plan.build_env(
            spec, source.path, build_plan.BUILD_ROOT_PATH, architecture=architecture, build_python=build_python
        )
        argv = build_plan.build_root_argv(BUILD_ROOT_DIR, ["/bin/bash", *command])
        immutable = {BUILD_ROOT_DIR: toolchain.build_root.tree}
    else:
        env = build_plan.build_env(spec, source.path, toolchain.host_search_path, toolchain.host_fingerprint)
        argv, immutable = [bash.path, *command], {}
    env.update(profile_env or {})
    return Process(
        argv,
        input_digest=input_digest,
        immutable_input_digests=immutable,
        env=env,
        output_directories=("out",),
        description=description,
        level=LogLevel.INFO,
        concurrency_available=64,
        timeout_seconds=BUILD_TIMEOUT_SECONDS,
    )


async def _sandbox_inputs(source: CPythonSource, *extra: Digest) -> Digest:
    scripts = await Get(Digest, CreateDigest([_script(name) for name in SANDBOX_SCRIPTS]))
    return await Get(Digest, MergeDigests([scripts, source.digest, *extra]))


async def _checked(result: FallibleProcessResult, spec: build_plan.RuntimeSpec, toolchain: CPythonToolchain) -> None:
    """Raise a diagnosis if the build failed. Failed processes are never cached, so nothing broken is kept."""
    if result.exit_code == 0:
        return
    report = None
    if result.exit_code == diagnostics.EXIT_MODULES:
        contents = await Get(DigestContents, DigestSubset(result.output_digest, PathGlobs(["out/report.json"])))
        report = contents[0].content if contents else None
    raise PythonRuntimeBuildError(
        diagnostics.diagnose_build_failure(
            spec.address,
            spec.version,
            result.exit_code,
            result.stderr.decode(errors="replace"),
            report,
            toolchain.build_root.address if toolchain.build_root else None,
        )
    )


@rule(desc="Profile CPython for PGO", level=LogLevel.DEBUG)
async def generate_pgo_profile(request: CPythonProfileRequest, bash: BashBinary) -> CPythonProfile:
    spec = request.spec
    training = _script(TRAINING_SCRIPT)
    step_scripts = await Get(
        Digest,
        CreateDigest(
            [
                *(_script(name) for name in PROFILE_STEP_SCRIPTS),
                FileContent(f"{TRAINING_DIR}/{TRAINING_SCRIPT}", training.content),
            ]
        ),
    )
    inputs = await _sandbox_inputs(request.source, step_scripts)
    manifest = pgo_profile.manifest(spec, hashlib.sha256(training.content).hexdigest())
    result = await Get(
        FallibleProcessResult,
        _build_process(
            spec,
            request.source,
            request.toolchain,
            bash,
            inputs,
            f"Profiling CPython {spec.version} for PGO (instrumented build + training run) for {spec.address}",
            {"CPYTHON_PROFILE": "generate", "CPYTHON_PROFILE_MANIFEST": manifest},
        ),
    )
    await _checked(result, spec, request.toolchain)
    profile = await Get(Digest, DigestSubset(result.output_digest, PathGlobs([f"out/{pgo_profile.PROFILE_FILE}"])))
    profile = await Get(Digest, RemovePrefix(profile, "out"))
    entries = await Get(DigestEntries, Digest, profile)
    return CPythonProfile(profile, first_file_digest(entries).fingerprint)


@rule(desc="Check a pinned PGO profile", level=LogLevel.DEBUG)
async def pinned_pgo_profile(request: PinnedProfileRequest) -> CPythonProfile:
    spec = request.spec
    sources = await Get(HydratedSources, HydrateSourcesRequest(request.field))
    path = sources.snapshot.files[0]  # relative to the repository, as the messages name it
    entries = await Get(DigestEntries, Digest, sources.snapshot.digest)
    found = first_file_digest(entries)
    # The pin's fields name a file that does not fit: Pants' own error for a bad field value.
    if found.fingerprint != request.sha256:
        raise InvalidFieldException(pgo_profile.digest_mismatch(spec.address, path, request.sha256, found.fingerprint))
    # Small (about 300 kB), read once: the manifest says which build the profile was made for.
    contents = await Get(DigestContents, Digest, sources.snapshot.digest)
    try:
        manifest = pgo_profile.read_manifest(spec.address, path, contents[0].content)
    except pgo_profile.PgoProfileError as e:
        raise InvalidFieldException(str(e))
    problem = pgo_profile.mismatch(spec.address, path, manifest, spec)
    if problem:
        raise InvalidFieldException(problem)
    digest = await Get(Digest, CreateDigest([FileEntry(pgo_profile.PROFILE_FILE, found)]))
    return CPythonProfile(digest, found.fingerprint)


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
    inputs = await _sandbox_inputs(source, build_python)
    result = await Get(
        FallibleProcessResult,
        _build_process(
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
    await _checked(result, spec, toolchain)
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
    inputs = await _sandbox_inputs(source, *([profile.digest] if profile else []))
    result = await Get(
        FallibleProcessResult,
        _build_process(
            spec,
            source,
            toolchain,
            bash,
            inputs,
            f"Compiling CPython {spec.version} ({spec.optimizations}, {toolchain.summary}) for {spec.address}",
            {"CPYTHON_PROFILE": pgo_profile.PROFILE_FILE} if profile else None,
        ),
    )
    await _checked(result, spec, toolchain)
    return await _built_runtime(spec, result.output_digest, source, toolchain, profile)


@rule(desc="Read a runtime's ELF facts", level=LogLevel.DEBUG)
async def runtime_elves(runtime: BuiltPythonRuntime) -> ElfFacts:
    """Once per runtime, in a cacheable process run by the runtime's own interpreter (a relative path, so the key
    is the same on every machine): only the small facts file enters the Pants process, never the tree's bytes."""
    python, tree = await MultiGet(
        Get(SandboxPython, SandboxPythonRequest()), Get(Digest, AddPrefix(runtime.tree, "tree"))
    )
    inputs = [tree]
    interpreter, tree_dir = runtime.layer_interpreter, "tree"
    if runtime.build_python is not None:  # a cross-built tree is read by its native build
        inputs.append(await Get(Digest, AddPrefix(runtime.build_python.tree, BUILD_PYTHON_DIR)))
        tree_dir = BUILD_PYTHON_DIR
    process = await tool_process(
        python,
        ELF_FACTS,
        ["tree", "facts.json"],
        inputs=await Get(Digest, MergeDigests(inputs)),
        immutable_inputs=interpreter_inputs(interpreter),
        output_files=("facts.json",),
        description=f"Read the ELF facts of the CPython {runtime.version} tree of {runtime.address}",
        interpreter=interpreter_command(interpreter, tree_dir),
    )
    result = await Get(ProcessResult, Process, process)
    contents = await Get(DigestContents, Digest, result.output_digest)
    return ElfFacts(*elf_facts_from_json(json.loads(contents[0].content)))


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"


async def _packaged_runtime(built: BuiltPythonRuntime, archive_path: str) -> Tuple[Digest, List[BuiltPackageArtifact]]:
    """One architecture's build of a runtime as dist/ files: the tree's archive, its complete platform and the
    PGO profile it was optimized with."""
    archive = await Get(
        BuiltLayer,
        LayerRequest(
            built.tree,
            f"Archive the CPython {built.version} tree of {built.address}"
            + ("" if built.architecture == cross.BUILD_MACHINE else f" ({built.architecture})"),
            created_by=f"pants-oci: CPython {built.version} runtime {built.address}",
            interpreter=built.layer_interpreter,
        ),
    )
    stem = archive_path[: -len(".tar.gz")]
    platform_path = stem + ".complete_platform.json"
    # Each digest holds one file; re-create them under their dist/ names without reading their bytes.
    archive_entries, platform_entries = await MultiGet(
        Get(DigestEntries, Digest, archive.blob), Get(DigestEntries, Digest, built.complete_platform)
    )
    files = [
        FileEntry(archive_path, first_file_digest(archive_entries)),
        FileEntry(platform_path, first_file_digest(platform_entries)),
    ]
    profile_artifacts: Tuple[BuiltPackageArtifact, ...] = ()
    if built.pgo_profile is not None:
        profile_path = stem + ".pgo-profile.tar.gz"
        profile_entries = await Get(DigestEntries, Digest, built.pgo_profile.digest)
        files.append(FileEntry(profile_path, first_file_digest(profile_entries)))
        profile_artifacts = (
            BuiltPackageArtifact(
                profile_path,
                extra_log_lines=(
                    f"the PGO profile it was optimized with, sha256 {built.pgo_profile.sha256}; to freeze it, "
                    f'commit it and set pgo_profile="<file>", pgo_profile_sha256="{built.pgo_profile.sha256}"',
                ),
            ),
        )
    digest = await Get(Digest, CreateDigest(files))
    log_lines = (
        f"CPython {built.version}{'' if built.architecture == cross.BUILD_MACHINE else ' for ' + built.architecture} "
        f"at {built.prefix}: {archive.entries} entries, "
        f"{_mib(archive.uncompressed_size)} uncompressed, {_mib(archive.layer.descriptor.size)} gzipped",
        f"stdlib extension modules ({len(built.built_modules)}): {' '.join(built.built_modules)}",
        *(
            (f"optional modules not built: {' '.join(built.missing_optional_modules)}",)
            if built.missing_optional_modules
            else ()
        ),
    )
    return digest, [
        BuiltPackageArtifact(archive_path, extra_log_lines=log_lines),
        BuiltPackageArtifact(platform_path, extra_log_lines=("Pex complete platform of this interpreter",)),
        *profile_artifacts,
    ]


def architecture_archive_path(archive_path: str, architecture: str) -> str:
    """dist/ name of one architecture's archive: the build machine's keeps `<name>.tar.gz`, arm64 gets
    `<name>.arm64.tar.gz`."""
    if architecture == cross.BUILD_MACHINE:
        return archive_path
    return f"{archive_path[: -len('.tar.gz')]}.{architecture}.tar.gz"


@rule(desc="Package a CPython runtime", level=LogLevel.DEBUG)
async def package_python_runtime(field_set: PythonRuntimeFieldSet) -> BuiltPackage:
    architectures = field_set.architectures.value or (cross.BUILD_MACHINE,)
    builds = await MultiGet(Get(BuiltPythonRuntime, BuildPythonRuntimeRequest(field_set, a)) for a in architectures)
    archive_path = field_set.output_path.value_or_default(file_ending="tar.gz")
    digests, artifacts = [], []
    for architecture, built in zip(architectures, builds):
        digest, built_artifacts = await _packaged_runtime(built, architecture_archive_path(archive_path, architecture))
        digests.append(digest)
        artifacts.extend(built_artifacts)
    return BuiltPackage(await Get(Digest, MergeDigests(digests)), tuple(artifacts))


def rules():
    return (
        *collect_rules(),
        *debian_rules(),
        *base_rules(),
        *layer_rules(),
        *tools_rules(),  # the sandbox tools' Python
        UnionRule(PackageFieldSet, PythonRuntimeFieldSet),
    )
