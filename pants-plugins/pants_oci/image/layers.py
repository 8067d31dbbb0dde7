"""The four layers of a python_oci_image, each written by the one layer rule (layer/rules.py).

In the order they change, least to most: the Debian base (its assembled tar), the compiled runtime (without the
files only a compiler uses), the third-party requirements (installed by Pex for the runtime's complete platform,
byte-compiled by the runtime) and the first-party code with its launcher. Each is a cacheable process whose
output is a blob Digest and a record; no layer byte enters the Pants process.
"""
from dataclasses import dataclass

from pants.engine.addresses import Address
from pants.engine.fs import (
    AddPrefix,
    CreateDigest,
    Digest,
    DigestContents,
    DigestSubset,
    FileContent,
    MergeDigests,
    PathGlobs,
)
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import InvalidFieldException, Target
from pants.util.logging import LogLevel

from pants_oci.bases.rules import BaseOfTarget, DebianBaseSpecRequest, base_layer_request
from pants_oci.debian.base_rules import DebianBase, DebianBaseRequest
from pants_oci.image import plan
from pants_oci.image.inputs import AppPlan, PythonOciImageError, PythonOciImageFieldSet
from pants_oci.image.requirements import InstalledRequirements, InstalledRequirementsRequest
from pants_oci.image.subsystem import PythonOciImageSubsystem
from pants_oci.layer.rules import GZIP, BuiltLayer, LayerCompression, LayerRequest
from pants_oci.runtime.compile import BuiltPythonRuntime
from pants_oci.tools.rules import ContainerTools, ContainerToolsRequest
from pants_oci.tools.subsystem import CONTAINER_TOOLS_RESOLVE

# ---------------------------------------------------------------------------------------------------------------
# Compression: one switch, per image or for the repository


@dataclass(frozen=True)
class ImageCompressionRequest:
    field_set: PythonOciImageFieldSet
    override: str = ""  # "gzip" for `./pants run`: Debian 12's umoci (0.4.7) unpacks gzip layers only


@rule(desc="Choose a python_oci_image's layer compression", level=LogLevel.DEBUG)
async def image_compression(request: ImageCompressionRequest, subsystem: PythonOciImageSubsystem) -> LayerCompression:
    field_set = request.field_set
    kind = request.override or field_set.layer_compression.value or subsystem.layer_compression.value
    if kind == "gzip":
        return GZIP
    if not 1 <= subsystem.zstd_level <= 22:
        raise PythonOciImageError(
            f"[oci-image].zstd_level is {subsystem.zstd_level}, but zstd's levels are 1 to 22. Set it in that "
            f"range (19, the default, is zstd's highest level without --ultra)."
        )
    tools = await Get(ContainerTools, ContainerToolsRequest())
    if "zstd" not in tools.launchers:
        where = (
            f"the 'layer_compression' field of {field_set.address}"
            if field_set.layer_compression.value
            else "[oci-image].layer_compression"
        )
        raise InvalidFieldException(
            f'{where} is "zstd", which is compressed by the `zstd` program of the [container-tools] lock, but '
            f"its packages ({', '.join(tools.packages)}) provide no zstd. Add \"zstd\" to "
            f"[container-tools].packages and run `./pants generate-lockfiles --resolve={CONTAINER_TOOLS_RESOLVE}`, "
            f'or use "gzip".'
        )
    return LayerCompression("zstd", subsystem.zstd_level, tools.tree, "bin/zstd")


# ---------------------------------------------------------------------------------------------------------------
# The base and the runtime


@dataclass(frozen=True)
class ImageBaseRequest:
    target: Target  # a debian_packages target, or a runtime (its default base)
    mtime: int
    compression: LayerCompression


@dataclass(frozen=True)
class ImageBase:
    """A base as an image layer, with what the image checks need from it (its facts come with the base)."""

    base: DebianBase
    layer: BuiltLayer


@rule(desc="Prepare a Debian base layer", level=LogLevel.DEBUG)
async def build_image_base(request: ImageBaseRequest) -> ImageBase:
    of_target = await Get(BaseOfTarget, DebianBaseSpecRequest(request.target))
    base = await Get(DebianBase, DebianBaseRequest(of_target.spec, request.mtime))
    layer = await Get(BuiltLayer, LayerRequest, base_layer_request(base, request.compression))
    return ImageBase(base, layer)


@dataclass(frozen=True)
class RuntimeLayerRequest:
    runtime: BuiltPythonRuntime
    keep_build_files: bool
    mtime: int
    compression: LayerCompression


@rule(desc="Build the runtime layer of an image", level=LogLevel.DEBUG)
async def build_runtime_layer(request: RuntimeLayerRequest) -> BuiltLayer:
    runtime = request.runtime
    tree = runtime.tree
    if not request.keep_build_files:
        dropped = plan.runtime_build_files(runtime.prefix, runtime.major_minor)
        tree = await Get(Digest, DigestSubset(runtime.tree, PathGlobs(["**", *(f"!{g}" for g in dropped)])))
    return await Get(
        BuiltLayer,
        LayerRequest(
            tree,
            f"Archive the CPython {runtime.version} tree of {runtime.address}",
            created_by=f"pants-oci: CPython {runtime.version} runtime {runtime.address}",
            interpreter=runtime.layer_interpreter,
            mtime=request.mtime,
            compression=request.compression,
        ),
    )


# ---------------------------------------------------------------------------------------------------------------
# The app: third-party requirements and first-party code


@dataclass(frozen=True)
class TreeLayer:
    """A layer with the tree it was made of (rooted at /), for the checks that list its files."""

    tree: Digest
    built: BuiltLayer


@dataclass(frozen=True)
class DepsLayerRequest:
    binary: Address
    runtime: BuiltPythonRuntime
    mtime: int
    compression: LayerCompression


@rule(desc="Install third-party requirements for an image", level=LogLevel.DEBUG)
async def build_deps_layer(request: DepsLayerRequest) -> TreeLayer:
    runtime = request.runtime
    requirements = await Get(
        InstalledRequirements,
        InstalledRequirementsRequest(
            request.binary, runtime.complete_platform, f"CPython {runtime.version} ({runtime.address})"
        ),
    )
    installed, scripts = await MultiGet(
        Get(Digest, DigestSubset(requirements.flat, PathGlobs(["**", "!bin/**"]))),
        Get(DigestContents, DigestSubset(requirements.flat, PathGlobs(["bin/*"]))),
    )
    site_packages = runtime.site_packages.lstrip("/")
    relocated = plan.relocate_console_scripts(
        {fc.path[len("bin/") :]: fc.content for fc in scripts}, runtime.interpreter_path
    )
    in_site_packages, extras = await MultiGet(
        Get(Digest, AddPrefix(installed, site_packages)),
        Get(
            Digest,
            CreateDigest(
                [
                    FileContent(f"{site_packages}/{plan.APP_PTH_FILE}", f"{plan.APP_DIR}\n".encode()),
                    *(
                        FileContent(f"{runtime.prefix.lstrip('/')}/bin/{name}", content, is_executable=True)
                        for name, content in relocated.items()
                    ),
                ]
            ),
        ),
    )
    tree = await Get(Digest, MergeDigests([in_site_packages, extras]))
    layer = await Get(
        BuiltLayer,
        LayerRequest(
            tree,
            f"Archive the requirements layer of {request.binary}",
            created_by=f"pants-oci: third-party requirements of {request.binary}",
            interpreter=runtime.layer_interpreter,
            mtime=request.mtime,
            compile=(site_packages,) if runtime.bytecode != "none" else (),
            forbid_sandbox_paths=True,
            compression=request.compression,
            # Wheels bring their own shared libraries: the image's closure check reads these facts.
            elf_facts=True,
        ),
    )
    return TreeLayer(tree, layer)


@dataclass(frozen=True)
class AppLayerRequest:
    binary: Address
    runtime: BuiltPythonRuntime
    app: AppPlan
    mtime: int
    compression: LayerCompression


@rule(desc="Build the first-party layer of an image", level=LogLevel.DEBUG)
async def build_app_layer(request: AppLayerRequest) -> TreeLayer:
    runtime, app = request.runtime, request.app
    launchers = []
    if app.entry is not None:
        script = plan.launcher_script(runtime.interpreter_path, app.entry, str(request.binary), app.args)
        launchers.append(
            FileContent(plan.launcher_path(request.binary.target_name).lstrip("/"), script, is_executable=True)
        )
    sources, launcher = await MultiGet(
        Get(Digest, AddPrefix(app.sources, plan.APP_DIR.lstrip("/"))), Get(Digest, CreateDigest(launchers))
    )
    tree = await Get(Digest, MergeDigests([sources, launcher]))
    layer = await Get(
        BuiltLayer,
        LayerRequest(
            tree,
            f"Archive the first-party layer of {request.binary}",
            created_by=f"pants-oci: first-party code of {request.binary}",
            interpreter=runtime.layer_interpreter,
            mtime=request.mtime,
            compile=(plan.APP_DIR.lstrip("/"),) if runtime.bytecode != "none" else (),
            forbid_sandbox_paths=True,
            compression=request.compression,
        ),
    )
    return TreeLayer(tree, layer)


def rules():
    return collect_rules()
