"""An image's third-party requirements: resolved for the runtime's complete platform (from the binary's lockfile, or
with pip in a repository without resolves), then installed flat (what `pip install --target` would make), by the
pex that Pants is configured with.

Pants' own pex processes (`PexFromTargetsRequest`, `PexCliProcess`) run pex with Pants' interpreter, whose path lies
under the home directory the launcher bootstrapped into, and pass the machine's interpreter search path
(`--python-path`) and PATH: their cache keys differ between a laptop and a CI runner, so a remote cache never
shares them. Here Pants works out what to resolve (the requirement strings, the lockfile, the index options), and
the two pex processes run with the sandbox Python (sandbox.py): the same key on every machine.
"""
from dataclasses import dataclass
from typing import List, Tuple

from pants.backend.python.subsystems.setup import PipVersion, PythonSetup
from pants.backend.python.util_rules.pex import CompletePlatforms, Pex, PexRequest, ReqStrings
from pants.backend.python.util_rules.pex_cli import PexPEX
from pants.backend.python.util_rules.pex_from_targets import PexFromTargetsRequest
from pants.backend.python.util_rules.pex_requirements import (
    LoadedLockfile,
    LoadedLockfileRequest,
    Lockfile,
    PexRequirements,
    Resolve,
    ResolvePexConfig,
    ResolvePexConfigRequest,
)
from pants.core.util_rules.subprocess_environment import SubprocessEnvironmentVars
from pants.engine.addresses import Address
from pants.engine.fs import EMPTY_DIGEST, CreateDigest, Digest, Directory, FileContent, MergeDigests, RemovePrefix
from pants.engine.process import FallibleProcessResult, Process
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.option.global_options import GlobalOptions, ca_certs_path_to_file_content
from pants.util.logging import LogLevel

from pants_oci.image.inputs import PythonOciImageError
from pants_oci.sandbox import SandboxPython, SandboxPythonRequest, python_process

COMPLETE_PLATFORM = "complete_platform.json"
_DEPS_PEX = "deps.pex"
_CONSTRAINTS = "__constraints.txt"
_TMPDIR = ".tmp"
# Pants' own named cache for pex downloads: the two share it. A named cache's location is not part of a key.
_PEX_ROOT_CACHE = {"pex_root": ".cache/pex_root"}
# Pants' default pip (20.3.4) imports distutils, which Python 3.12 removed; the sandbox Python may be 3.13.
_PIP_FOR_OLD_DEFAULT = "latest"


@dataclass(frozen=True)
class InstalledRequirementsRequest:
    binary: Address
    complete_platform: Digest  # one file: complete_platform.json
    runtime: str  # "CPython 3.13.5 (src/python/runtimes:py313)", for descriptions


@dataclass(frozen=True)
class InstalledRequirements:
    flat: Digest  # site-packages content, plus bin/ with the console scripts


@dataclass(frozen=True)
class _PexSetup:
    pex: PexPEX
    env: Tuple[Tuple[str, str], ...]
    cert_args: Tuple[str, ...]
    inputs: Digest  # pex itself, the CA bundle, the tmpdir


async def _resolve_args(binary: Address, requirements: object) -> Tuple[List[str], Digest]:
    """The requirement strings of `binary`'s closure and how pex resolves them: from the resolve's lockfile
    (`--lock`), or, in a repository without resolves, with pip against the configured indexes (and
    `[python].requirement_constraints`), as Pants' own pex processes do. None for an app without any."""
    if not isinstance(requirements, PexRequirements) or isinstance(requirements.from_superset, Pex):
        raise PythonOciImageError(f"The requirements of {binary} are of a kind an image cannot install: {requirements}")
    req_strings = (await Get(ReqStrings, PexRequirements, requirements)).req_strings
    if not req_strings:
        return [], EMPTY_DIGEST
    resolve = requirements.from_superset
    config = await Get(
        ResolvePexConfig, ResolvePexConfigRequest(resolve.name if isinstance(resolve, Resolve) else None)
    )
    if not isinstance(resolve, Resolve):
        args = [*req_strings, *config.pex_args(), "--resolver-version", "pip-2020-resolver"]
        if not requirements.constraints_strings:
            return args, EMPTY_DIGEST
        constraints = FileContent(_CONSTRAINTS, "\n".join(requirements.constraints_strings).encode())
        return [*args, "--constraints", _CONSTRAINTS], await Get(Digest, CreateDigest([constraints]))
    lockfile = await Get(Lockfile, Resolve, resolve)
    loaded = await Get(LoadedLockfile, LoadedLockfileRequest(lockfile))
    if not loaded.is_pex_native:
        raise PythonOciImageError(
            f"The resolve `{resolve.name}` of {binary} has a lockfile that is not Pex's ({lockfile.url}): regenerate "
            f"it with `./pants generate-lockfiles --resolve={resolve.name}`."
        )
    return [*req_strings, "--lock", loaded.lockfile_path, *config.pex_args()], loaded.lockfile_digest


@dataclass(frozen=True)
class _PexSetupRequest:
    pass


@rule(desc="Set up pex for an image's requirements", level=LogLevel.DEBUG)
async def pex_setup(
    _: _PexSetupRequest, pex: PexPEX, subprocess_env: SubprocessEnvironmentVars, global_options: GlobalOptions
) -> _PexSetup:
    extra = [Get(Digest, CreateDigest([Directory(_TMPDIR)]))]
    cert_args: Tuple[str, ...] = ()
    if global_options.ca_certs_path:
        cert = ca_certs_path_to_file_content(global_options.ca_certs_path)
        extra.append(Get(Digest, CreateDigest([cert])))
        cert_args = ("--cert", cert.path)
    inputs = await Get(Digest, MergeDigests([pex.digest, *await MultiGet(extra)]))
    env = {**subprocess_env.vars, "PEX_IGNORE_RCFILES": "true", "PEX_ROOT": _PEX_ROOT_CACHE["pex_root"]}
    return _PexSetup(pex, tuple(sorted(env.items())), cert_args, inputs)


async def _run_pex(python: SandboxPython, setup: _PexSetup, args: List[str], inputs: Digest, **fields) -> Digest:
    env = dict(setup.env)
    if args[0] == "venv":
        env["PEX_SCRIPT"] = "pex3"
    process = python_process(
        python,
        [setup.pex.exe, *args],
        input_digest=await Get(Digest, MergeDigests([setup.inputs, inputs])),
        env=env,
        append_only_caches=_PEX_ROOT_CACHE,
        **fields,
    )
    result = await Get(FallibleProcessResult, Process, process)
    if result.exit_code != 0:
        raise PythonOciImageError(f"{fields['description']} failed:\n{result.stderr.decode(errors='replace')}")
    return result.output_digest


@rule(desc="Install an image's third-party requirements", level=LogLevel.DEBUG)
async def install_requirements(
    request: InstalledRequirementsRequest, python_setup: PythonSetup
) -> InstalledRequirements:
    platforms = CompletePlatforms([COMPLETE_PLATFORM], digest=request.complete_platform)
    # Local python_distribution wheels are not built: Pants builds them with its own interpreter. A distribution's
    # sources reach the image as first-party code.
    pex_request, python, setup = await MultiGet(
        Get(
            PexRequest,
            PexFromTargetsRequest(
                [request.binary],
                output_filename=_DEPS_PEX,
                internal_only=False,
                complete_platforms=platforms,
                include_source_files=False,
                include_local_dists=False,
            ),
        ),
        Get(SandboxPython, SandboxPythonRequest()),
        Get(_PexSetup, _PexSetupRequest()),
    )
    resolve_args, resolve_inputs = await _resolve_args(request.binary, pex_request.requirements)
    pip = python_setup.pip_version
    pip_version = _PIP_FOR_OLD_DEFAULT if pip == PipVersion.V20_3_4 else pip.value
    resolved = await _run_pex(
        python,
        setup,
        [
            "--tmpdir",
            _TMPDIR,
            "--pip-version",
            pip_version,
            *setup.cert_args,
            "--output-file",
            _DEPS_PEX,
            "--no-emit-warnings",
            "--complete-platform",
            COMPLETE_PLATFORM,
            *resolve_args,
        ],
        await Get(Digest, MergeDigests([request.complete_platform, resolve_inputs])),
        output_files=(_DEPS_PEX,),
        description=f"Resolve the requirements of {request.binary} for {request.runtime}",
        level=LogLevel.INFO,
    )
    installed = await _run_pex(
        python,
        setup,
        [
            "venv",
            "create",
            "--tmpdir",
            _TMPDIR,
            "--layout",
            "flat",
            "--scope",
            "deps",
            "--dest-dir",
            "flat",
            "--pex-repository",
            _DEPS_PEX,
            "--complete-platform",
            COMPLETE_PLATFORM,
        ],
        await Get(Digest, MergeDigests([resolved, request.complete_platform])),
        output_directories=("flat",),
        description=f"Install the requirements of {request.binary} for {request.runtime}",
    )
    return InstalledRequirements(await Get(Digest, RemovePrefix(installed, "flat")))


def rules():
    return collect_rules()
