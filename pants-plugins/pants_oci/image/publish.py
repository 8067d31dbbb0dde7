"""`./pants publish` for python_oci_image: push the packaged layout with the plugin's registry client.

The push runs as an interactive process (it needs the user's credentials, credential helpers and network) under
Pants' own interpreter, once per registry the image goes to (image/registries.py); oci/registry.py does the work
and its order guarantees no tag names a half-pushed image.
"""
from dataclasses import dataclass
from typing import List, Optional, Tuple

from pants.core.goals.publish import (
    PublishFieldSet,
    PublishOutputData,
    PublishPackages,
    PublishProcesses,
    PublishRequest,
)
from pants.core.util_rules.adhoc_binaries import PythonBuildStandaloneBinary
from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.engine.fs import CreateDigest, Digest, MergeDigests
from pants.engine.process import InteractiveProcess
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import InvalidFieldException

from pants_oci.image import plan
from pants_oci.image.registries import Destination, RegistryConfigError, destinations, parse_registries
from pants_oci.image.subsystem import PythonOciImageSubsystem
from pants_oci.image.target_types import ImageRegistriesField, ImageRepositoryField, ImageSkipPushField, ImageTagsField
from pants_oci.sandbox import SandboxTool, shipped_files

# The client and the modules it imports, shipped into the push's sandbox.
# Run by Pants' own interpreter, as the one interactive step: it reads the machine's trust store and credential
# helpers, and is never cached.
REGISTRY_TOOL = SandboxTool("pants_oci.oci.registry")
# Where blobs were pushed before, kept between publishes so a second repository mounts shared layers.
MOUNT_CACHE = {"pants_oci_publish": ".cache/pants_oci_publish"}
MOUNT_RECORD = ".cache/pants_oci_publish/mounts.json"

# What the push may read from the environment: credentials and their files, credential helpers on PATH,
# proxies and CA settings.
PUSH_ENV_VARS = (
    "HOME",
    "PATH",
    "DOCKER_CONFIG",
    "REGISTRY_AUTH_FILE",
    "XDG_RUNTIME_DIR",
    "OCI_REGISTRY_USERNAME",
    "OCI_REGISTRY_PASSWORD",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)


class PublishPythonOciImageRequest(PublishRequest):
    pass


@dataclass(frozen=True)
class PublishPythonOciImageFieldSet(PublishFieldSet):
    publish_request_type = PublishPythonOciImageRequest
    required_fields = (ImageRepositoryField,)

    repository: ImageRepositoryField
    image_tags: ImageTagsField
    registries: ImageRegistriesField
    skip_push: ImageSkipPushField

    def get_output_data(self) -> PublishOutputData:
        return PublishOutputData({"publisher": "pants-oci", **super().get_output_data()})


def push_argv(
    python: str,
    layout_dir: str,
    repository: str,
    tags: Tuple[str, ...],
    sbom: Optional[str],
    subsystem: PythonOciImageSubsystem,
) -> List[str]:
    argv = [
        python,
        "-s",
        "-m",
        "pants_oci.oci.registry",
        layout_dir,
        repository,
        *tags,
        f"--chunk-size={subsystem.publish_chunk_size}",
        f"--retries={subsystem.publish_retries}",
        f"--retry-seconds={subsystem.publish_retry_seconds}",
        f"--mount-record={MOUNT_RECORD}",
    ]
    if subsystem.plain_http_localhost:
        argv.append("--plain-http-localhost")
    if subsystem.publish_debug:
        argv.append("--debug")
    if sbom:
        argv.append(f"--sbom={sbom}")  # pushed as an OCI referrer of the image, for scanners to find
    return argv


def publish_destinations(field_set: PublishPythonOciImageFieldSet, subsystem: PythonOciImageSubsystem):
    address = field_set.address
    try:
        return destinations(
            str(address),
            address.spec_path,
            address.target_name,
            field_set.repository.value,
            field_set.registries.value,
            field_set.skip_push.value,
            parse_registries(subsystem.registries),
            subsystem.default_repository,
        )
    except RegistryConfigError as e:
        raise InvalidFieldException(str(e)) from e


@rule(desc="Push a python_oci_image to its registries")
async def publish_python_oci_image(
    request: PublishPythonOciImageRequest,
    python: PythonBuildStandaloneBinary,
    subsystem: PythonOciImageSubsystem,
) -> PublishProcesses:
    field_set = request.field_set
    tags = tuple(field_set.image_tags.value)
    targets: Tuple[Destination, ...] = publish_destinations(field_set, subsystem)
    layout_dir = next(
        a.relpath
        for pkg in request.packages
        for a in pkg.artifacts
        if a.relpath and not a.relpath.endswith((".tar", plan.deploy_info_path(""), plan.sbom_path("")))
    )
    sbom = next(
        (
            a.relpath
            for pkg in request.packages
            for a in pkg.artifacts
            if a.relpath and a.relpath.endswith(plan.sbom_path(""))
        ),
        None,
    )
    tool, env = await MultiGet(
        Get(Digest, CreateDigest(shipped_files(REGISTRY_TOOL))),
        Get(EnvironmentVars, EnvironmentVarsRequest((*PUSH_ENV_VARS, *subsystem.publish_env_vars))),
    )
    inputs = await Get(Digest, MergeDigests([tool, *(pkg.digest for pkg in request.packages)]))
    published = []
    for target in targets:
        names = tuple(f"{target.repository}:{tag}" for tag in tags)
        if target.skip_push:
            published.append(PublishPackages(names=names, description=f"(by `skip_push` on {target.registry})"))
            continue
        process = InteractiveProcess(
            argv=push_argv(python.path, layout_dir, target.repository, tags, sbom, subsystem),
            env=dict(env),
            input_digest=inputs,
            append_only_caches={**python.APPEND_ONLY_CACHES, **MOUNT_CACHE},
        )
        published.append(PublishPackages(names=names, process=process, description=target.registry))
    return PublishProcesses(published)


def rules():
    return (*collect_rules(), *PublishPythonOciImageFieldSet.rules())
