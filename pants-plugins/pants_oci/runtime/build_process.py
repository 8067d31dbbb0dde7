"""The one build process of every compile step (profile, native and cross compile): build_cpython.sh with the
source, the scripts and the step's extra inputs, chrooted into the build root or run with the host toolchain; and
the diagnosis when it fails. The compile's cache key is made here: its argv, environment and inputs."""
from typing import Dict, Optional

from pants.core.util_rules.system_binaries import BashBinary
from pants.engine.fs import CreateDigest, Digest, DigestContents, DigestSubset, MergeDigests, PathGlobs
from pants.engine.process import FallibleProcessResult, Process
from pants.engine.rules import Get
from pants.util.logging import LogLevel

from pants_oci.runtime import build_plan, cross, diagnostics
from pants_oci.runtime.field_set import PythonRuntimeBuildError
from pants_oci.runtime.scripts import SANDBOX_SCRIPTS, script
from pants_oci.runtime.source import CPythonSource
from pants_oci.runtime.toolchain import CPythonToolchain

# Where the build root tree appears in the compile's sandbox (an immutable input: materialized once, shared).
BUILD_ROOT_DIR = "buildroot"


# A pgo+lto build takes ~12 minutes on 2 cores; a slow shared machine gets generous headroom.
BUILD_TIMEOUT_SECONDS = 3 * 60 * 60


def build_process(
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


async def sandbox_inputs(source: CPythonSource, *extra: Digest) -> Digest:
    scripts = await Get(Digest, CreateDigest([script(name) for name in SANDBOX_SCRIPTS]))
    return await Get(Digest, MergeDigests([scripts, source.digest, *extra]))


async def checked(result: FallibleProcessResult, spec: build_plan.RuntimeSpec, toolchain: CPythonToolchain) -> None:
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
