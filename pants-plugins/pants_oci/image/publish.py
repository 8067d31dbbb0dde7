"""`./pants publish` for python_oci_image: push the packaged layout with the plugin's registry client.

The push runs as an interactive process (it needs the user's credentials and network) under Pants' own
interpreter; oci/registry.py does the work and its order guarantees no tag names a half-pushed image.
"""
from dataclasses import dataclass

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
from pants_oci.image.subsystem import PythonOciImageSubsystem
from pants_oci.image.target_types import ImageRepositoryField, ImageTagsField
from pants_oci.oci.registry import PushError, split_repository
from pants_oci.sandbox import plugin_modules

# What the push may read from the environment: credentials and their files, proxies and CA settings.
PUSH_ENV_VARS = (
    "HOME",
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

    def get_output_data(self) -> PublishOutputData:
        return PublishOutputData({"publisher": "pants-oci", **super().get_output_data()})


@rule(desc="Push a python_oci_image to its registry")
async def publish_python_oci_image(
    request: PublishPythonOciImageRequest,
    python: PythonBuildStandaloneBinary,
    subsystem: PythonOciImageSubsystem,
) -> PublishProcesses:
    field_set = request.field_set
    repository = field_set.repository.value or field_set.address.target_name
    try:
        split_repository(repository)
    except PushError as e:
        raise InvalidFieldException(f"Cannot publish {field_set.address}: {e} (the 'repository' field)")
    tags = tuple(field_set.image_tags.value)
    names = tuple(f"{repository}:{tag}" for tag in tags)
    layout_dir = next(
        a.relpath
        for pkg in request.packages
        for a in pkg.artifacts
        if not a.relpath.endswith((".tar", plan.deploy_info_path(""), plan.sbom_path("")))
    )
    tool, env = await MultiGet(
        Get(Digest, CreateDigest(plugin_modules("oci/registry.py"))),
        Get(EnvironmentVars, EnvironmentVarsRequest(PUSH_ENV_VARS)),
    )
    inputs = await Get(Digest, MergeDigests([tool, *(pkg.digest for pkg in request.packages)]))
    argv = [
        python.path,
        "-s",
        "-m",
        "pants_oci.oci.registry",
        layout_dir,
        repository,
        *tags,
        f"--chunk-size={subsystem.publish_chunk_size}",
    ]
    if subsystem.plain_http_localhost:
        argv.append("--plain-http-localhost")
    sbom = next(
        (a.relpath for pkg in request.packages for a in pkg.artifacts if a.relpath.endswith(plan.sbom_path(""))), None
    )
    if sbom:
        argv.append(f"--sbom={sbom}")  # pushed as an OCI referrer of the image, for scanners to find
    process = InteractiveProcess(
        argv=argv, env=dict(env), input_digest=inputs, append_only_caches=python.APPEND_ONLY_CACHES
    )
    return PublishProcesses([PublishPackages(names=names, process=process)])


def rules():
    return (*collect_rules(), *PublishPythonOciImageFieldSet.rules())
