"""Step 5 of a `pgo+lto+bolt` runtime: lay libpython out again with BOLT (runtime/bolt.py), from the counts of an
instrumented run of the PGO training on the compiled tree. A process of its own after the compile, so that a
failure here keeps the compile cached. Its build root is the compile's, which has the BOLT tools in its lock, so a
`pgo+lto+bolt` runtime's profile and compile are keyed apart from the `pgo+lto` ones."""
from dataclasses import dataclass

from pants.engine.fs import CreateDigest, Digest, MergeDigests
from pants.engine.process import FallibleProcessResult, Process
from pants.engine.rules import Get, collect_rules, rule
from pants.util.logging import LogLevel

from pants_oci.oci.determinism import DEFAULT_EPOCH
from pants_oci.runtime import bolt, build_plan
from pants_oci.runtime.build_process import BUILD_ROOT_DIR, BUILD_TIMEOUT_SECONDS
from pants_oci.runtime.field_set import PythonRuntimeBuildError
from pants_oci.runtime.scripts import BOLT_STEP_SCRIPTS, training_step_files


@dataclass(frozen=True)
class BoltRequest:
    spec: build_plan.RuntimeSpec
    suite: str
    build_root: Digest
    compiled: Digest  # the compile's output: out/<prefix>/, out/report.json, ...


@dataclass(frozen=True)
class BoltedRuntime:
    output: Digest  # the same files, libpython laid out by BOLT and every ELF file stripped


@rule(desc="Optimize CPython with BOLT", level=LogLevel.DEBUG)
async def bolt_runtime(request: BoltRequest) -> BoltedRuntime:
    spec = request.spec
    scripts = await Get(Digest, CreateDigest(training_step_files(BOLT_STEP_SCRIPTS)))
    inputs = await Get(Digest, MergeDigests([scripts, request.compiled]))
    env = {
        "PATH": ":".join(build_plan.BUILD_ROOT_PATH),
        "LC_ALL": "C",
        "TZ": "UTC",
        "HOME": "/tmp",
        "SOURCE_DATE_EPOCH": str(DEFAULT_EPOCH),
        "CPYTHON_PREFIX": spec.prefix,
        "CPYTHON_VERSION": spec.version,
        **bolt.bolt_env(request.suite),
    }
    result = await Get(
        FallibleProcessResult,
        Process(
            build_plan.build_root_argv(BUILD_ROOT_DIR, ["/bin/bash", "bolt_runtime.sh"]),
            input_digest=inputs,
            immutable_input_digests={BUILD_ROOT_DIR: request.build_root},
            env=env,
            output_directories=("out",),
            description=f"Optimizing CPython {spec.version} with BOLT (instrumented training run) for {spec.address}",
            level=LogLevel.INFO,
            timeout_seconds=BUILD_TIMEOUT_SECONDS,
        ),
    )
    if result.exit_code != 0:
        raise PythonRuntimeBuildError(
            f"The BOLT step of {spec.address} failed (exit {result.exit_code}); nothing was cached:\n"
            f"{result.stderr.decode(errors='replace').strip()}"
        )
    return BoltedRuntime(result.output_digest)


def rules():
    return collect_rules()
