"""Step 2 of a runtime: what compiles it. A build root (the Debian lock of `<address>#build-root`, unpacked by
debian/base_rules.py; first the check that this host lets a user create the namespaces a build root needs), or,
with `toolchain="host"`, the host's compiler and -dev libraries, fingerprinted into the compile's key."""
from dataclasses import dataclass
from typing import Optional, Tuple

from pants.core.util_rules.system_binaries import BashBinary
from pants.engine.fs import CreateDigest, Digest
from pants.engine.process import FallibleProcessResult, Process, ProcessCacheScope, ProcessResult
from pants.engine.rules import Get, collect_rules, rule
from pants.util.logging import LogLevel

from pants_oci.debian.base_rules import DebianTree, DebianTreeRequest
from pants_oci.runtime import build_plan, cross
from pants_oci.runtime.field_set import PythonRuntimeBuildError, PythonRuntimeFieldSet
from pants_oci.runtime.scripts import script
from pants_oci.runtime.subsystem import PythonRuntimeSubsystem


@dataclass(frozen=True)
class CPythonToolchain:
    """What compiles a runtime: a build root (its tree enters the sandbox as an immutable input), or the host's
    toolchain (fingerprinted into the key)."""

    summary: str  # for progress messages
    build_root: Optional[DebianTree] = None
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
class CPythonToolchainRequest:
    field_set: PythonRuntimeFieldSet
    architecture: str = cross.BUILD_MACHINE


@rule(desc="Check that this host can run a build root", level=LogLevel.DEBUG)
async def check_build_root_sandbox(request: BuildRootSandboxCheckRequest) -> BuildRootSandboxCheck:
    inputs = await Get(Digest, CreateDigest([script("build_root_check.sh")]))
    result = await Get(
        FallibleProcessResult,
        Process(
            ["/usr/bin/env", "sh", "build_root_check.sh"],
            input_digest=inputs,
            env={"PATH": ":".join(build_plan.BUILD_ROOT_PATH)},
            description="Check that this host lets users create user namespaces (for build roots)",
            level=LogLevel.DEBUG,
            # Never stored in a cache. A success holds while the daemon runs (asking again cost the edit loop a
            # user namespace per run); a failure is asked again next run, after the user changed the sysctl.
            cache_scope=ProcessCacheScope.PER_RESTART_SUCCESSFUL,
        ),
    )
    problem = build_plan.sandbox_problem(request.address, result.stdout.decode(errors="replace"))
    if problem:
        raise PythonRuntimeBuildError(problem)
    return BuildRootSandboxCheck()


@rule(desc="Find what compiles a CPython runtime", level=LogLevel.DEBUG)
async def choose_toolchain(request: CPythonToolchainRequest) -> CPythonToolchain:
    field_set = request.field_set
    if not field_set.uses_build_root:
        return await Get(CPythonToolchain, HostToolchainRequest())
    await Get(BuildRootSandboxCheck, BuildRootSandboxCheckRequest(str(field_set.address)))
    spec = field_set.build_root_spec(request.architecture)
    root = await Get(DebianTree, DebianTreeRequest(spec))
    what = "build root" if request.architecture == cross.BUILD_MACHINE else f"{request.architecture} cross build root"
    return CPythonToolchain(summary=f"{what} of {root.packages} {spec.suite} packages", build_root=root)


@rule(desc="Fingerprint the host's C toolchain for CPython builds", level=LogLevel.DEBUG)
async def fingerprint_host_toolchain(
    _: HostToolchainRequest, subsystem: PythonRuntimeSubsystem, bash: BashBinary
) -> CPythonToolchain:
    inputs = await Get(Digest, CreateDigest([script("toolchain_probe.sh")]))
    result = await Get(
        ProcessResult,
        Process(
            [bash.path, "toolchain_probe.sh"],
            input_digest=inputs,
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


def rules():
    return collect_rules()
