"""Step 1 of a runtime: fetch the CPython source tarball (each URL a fallback for the one before, the sha256 pin
checked by the engine) and verify its OpenPGP signature with the sandbox tool runtime/verify_source.py."""
import json
import logging
import time
from dataclasses import dataclass
from typing import Tuple

from pants.engine.fs import CreateDigest, Digest, FileDigest, FileEntry, NativeDownloadFile
from pants.engine.process import FallibleProcessResult, Process
from pants.engine.rules import Get, collect_rules, rule
from pants.util.logging import LogLevel

from pants_oci.debian.rules import DebianArchives
from pants_oci.errors import engine_error_detail
from pants_oci.runtime import build_plan, verify_source
from pants_oci.runtime.field_set import PythonRuntimeBuildError
from pants_oci.runtime.known_versions import SourceRelease
from pants_oci.runtime.release_keys import release_manager
from pants_oci.runtime.subsystem import PythonRuntimeSubsystem
from pants_oci.sandbox import (
    EXIT_EXPLAINED,
    SandboxPython,
    SandboxPythonRequest,
    SandboxTool,
    explained_failure,
    tool_process,
)

logger = logging.getLogger(__name__)


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
    if result.exit_code == 0:
        verified = json.loads(result.stdout)
        signed = time.strftime("%Y-%m-%d", time.gmtime(verified["signed_at"]))
        return build_plan.verified_by_signature(verified["name"], verified["signer"], signed, release.size)
    detail = explained_failure(result)
    if result.exit_code != EXIT_EXPLAINED:
        raise PythonRuntimeBuildError(f"Checking the signature of {release.filename} failed: {detail}")
    if json.loads(result.stdout)["problem"] == verify_source.NO_SIGNATURE:
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
    raise PythonRuntimeBuildError(build_plan.bad_signature_message(request.address, release, detail))


def rules():
    return collect_rules()
