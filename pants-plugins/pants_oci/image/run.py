"""`./pants run` of a python_oci_image: the image in a real container (umoci unpacks, runc runs; both from the
[container-tools] lock), started by run_image.py outside Pants."""
import pkgutil
from dataclasses import dataclass

from pants.core.goals.run import RunFieldSet, RunInSandboxBehavior, RunRequest
from pants.core.util_rules.adhoc_binaries import PythonBuildStandaloneBinary
from pants.engine.fs import AddPrefix, CreateDigest, Digest, FileContent, MergeDigests
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import WrappedTarget, WrappedTargetRequest
from pants.util.logging import LogLevel

from pants_oci.debian.base_rules import CheckedDebianLock, DebianLockSpec
from pants_oci.image.assemble import BuiltPythonOciImage, PythonOciImageRequest
from pants_oci.image.inputs import PythonOciImageFieldSet
from pants_oci.image.target_types import ImageBinaryField, ImageRuntimeField
from pants_oci.runtime import cross
from pants_oci.tools.rules import ContainerTools, ContainerToolsRequest, ContainerToolsSpec


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
    await Get(CheckedDebianLock, DebianLockSpec, tools_lock.spec)
    image, tools = await MultiGet(
        # gzip layers whatever the image's compression: umoci 0.4.7 (Debian 12's) cannot unpack zstd ones. The
        # files are the same; only the blobs (and so the digest) differ from a zstd image's.
        # The build machine's platform only: an image for several runs its linux/amd64 manifest here.
        Get(
            BuiltPythonOciImage,
            PythonOciImageRequest(package_field_set, compression="gzip", only_architecture=cross.BUILD_MACHINE),
        ),
        Get(ContainerTools, ContainerToolsRequest()),
    )
    script = pkgutil.get_data(__name__.rsplit(".", 1)[0], "run_image.py")
    assert script is not None, "run_image.py is missing from the plugin's package data"
    launcher, layout = await MultiGet(
        Get(Digest, CreateDigest([FileContent("run_image.py", script)])), Get(Digest, AddPrefix(image.layout, "image"))
    )
    return RunRequest(
        digest=await Get(Digest, MergeDigests([launcher, layout])),
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
    return (*collect_rules(), *PythonOciImageRunFieldSet.rules())
