"""Assemble a python_oci_image from its layers' descriptors: config, manifest, index and SBOM, and the layout
directory as a Digest that places each layer blob by its digest.

The order of work: everything checkable from the fields and locks first (inputs.py, checks.py), then the
compile and the four layers (layers.py), then the checks on the built trees' facts, then assembly. Assembly
creates only JSON; the conformance check runs on the JSON plus the layers' records (each blob was verified
where it was written).
"""
from dataclasses import dataclass
from typing import Dict, Sequence, Tuple

from packaging.utils import canonicalize_name  # pants: no-infer-dep (packaging ships with pantsbuild.pants)
from pants.backend.python.subsystems.setup import PythonSetup
from pants.engine.addresses import Address
from pants.engine.fs import CreateDigest, Digest, FileContent, MergeDigests, Snapshot
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.util.logging import LogLevel

import pants_oci
from pants_oci.bases.rules import BaseOfTarget, DebianBaseSpecRequest
from pants_oci.debian.base_rules import CheckedDebianLock, DebianLockSpec
from pants_oci.image import checks, plan, sbom, wheel_check
from pants_oci.image.inputs import (
    AppPlan,
    AppPlanRequest,
    ImageInputs,
    ImageInputsRequest,
    PlatformBases,
    PlatformBasesRequest,
    PythonOciImageError,
    PythonOciImageFieldSet,
    binary_lock,
    image_architectures,
    runtime_platform,
)
from pants_oci.image.layers import (
    AppLayerRequest,
    DepsLayerRequest,
    ImageBase,
    ImageBaseRequest,
    ImageCompressionRequest,
    RuntimeLayerRequest,
    TreeLayer,
)
from pants_oci.image.subsystem import PythonOciImageSubsystem
from pants_oci.layer.rules import BuiltLayer, LayerCompression
from pants_oci.oci import model
from pants_oci.oci.validate import LayoutError, validate_image
from pants_oci.runtime import build_plan, cross
from pants_oci.runtime.compile import BuildPythonRuntimeRequest, BuiltPythonRuntime
from pants_oci.runtime.field_set import PythonRuntimeFieldSet
from pants_oci.runtime.subsystem import PYTHON_ORG_TEMPLATE


@dataclass(frozen=True)
class PythonOciImageRequest:
    field_set: PythonOciImageFieldSet
    compression: str = ""  # overrides the image's layer compression (`./pants run` unpacks gzip layers only)
    only_architecture: str = ""  # build this platform's image alone (`./pants run` runs the machine's platform)


@dataclass(frozen=True)
class BuiltPythonOciImage:
    """An assembled image: its layout directory (a Digest) and what the summary prints."""

    address: str
    repository: str
    tags: Tuple[str, ...]
    layout: Digest  # oci-layout, index.json (every tag) and blobs/sha256/*
    # The same blobs with the index.json of the OCI archive: the first tag only, because `podman load`
    # (containers/image) refuses an archive whose index lists more than one manifest entry, even for one image.
    archive_layout: Digest
    digest: str
    config_digest: str
    os: str
    architecture: str
    compressed_size: int
    uncompressed_size: int
    layer_summaries: Tuple[str, ...]
    entrypoint_length: int  # where the config's Entrypoint ends and Cmd begins, for `run` arguments
    sbom: bytes = b""  # the SPDX 2.3 JSON document of the image (of its first platform's, for an index)
    platforms: Tuple[str, ...] = ()  # e.g. linux/amd64, linux/arm64/v8
    platform_sboms: Tuple[Tuple[str, bytes], ...] = ()  # (architecture, SPDX document) of the other platforms


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


async def image_sbom(
    inputs: ImageInputs,
    runtime: BuiltPythonRuntime,
    locks,
    deps: TreeLayer,
    image: model.Image,
    repository: str,
    created: str,
    python_setup: PythonSetup,
) -> bytes:
    """The image's SPDX document: the Debian packages of its bases' locks, the CPython compiled for it, and the
    distributions installed in its requirements layer (with the sha256 the lock pins for the installed wheel)."""
    runtime_fields = PythonRuntimeFieldSet.create(inputs.runtime)
    spec, release = runtime_fields.spec(), runtime_fields.release()
    deps_snapshot = await Get(Snapshot, Digest, deps.tree)
    lock = await binary_lock(inputs.binary, python_setup)
    locked = wheel_check.parse_pex_lock(lock.text).projects if lock else {}
    target_platform = runtime_platform(inputs.runtime, runtime.architecture)
    python = []
    for name, version in plan.installed_distributions(deps_snapshot.dirs):
        project = locked.get(canonicalize_name(name))
        digest = wheel_check.installed_wheel_sha256(project, target_platform) if project else None
        python.append(sbom.PythonComponent(name, version, digest))
    debian = [
        sbom.DebianComponent(p.name, p.version, p.architecture, p.sha256, p.archive, p.suite)
        for checked in locks
        for p in checked.lock.packages
    ]
    cpython = sbom.RuntimeComponent(
        version=runtime.version,
        source_url=PYTHON_ORG_TEMPLATE.format(version=release.version, filename=release.filename),
        source_sha256=release.sha256,
        configure_args=tuple(
            build_plan.all_configure_args(spec)
            if runtime.architecture == cross.BUILD_MACHINE
            else build_plan.all_configure_args(build_plan.cross_spec(spec), runtime.architecture)
        ),
        verification=runtime.source_verification or f"sha256 and size pin ({release.size} bytes)",
        prefix=runtime.prefix,
        built_with=runtime.built_with,
        pgo_profile_sha256=runtime.pgo_profile.sha256 if runtime.pgo_profile else "",
    )
    return sbom.spdx_json(
        sbom.SbomInput(
            image_name=repository,
            image_digest=image.digest,
            created=created,
            first_party=str(inputs.binary.address),
            debian=tuple(debian),
            runtime=cpython,
            python=tuple(python),
            tool=f"pants-oci-{pants_oci.__version__}",
        )
    )


def _labels(field_set: PythonOciImageFieldSet) -> dict:
    return {"org.opencontainers.image.title": field_set.repository_name, **(field_set.labels.value or {})}


def _entrypoint(field_set: PythonOciImageFieldSet, binary: Address) -> Tuple[str, ...]:
    return tuple(
        plan.image_entrypoint(
            field_set.entry_point.value or (plan.launcher_path(binary.target_name),), field_set.init.value
        )
    )


def _image_config(field_set, binary: Address, runtime, app, user, architecture, variant, mtime) -> model.ImageConfig:
    return model.ImageConfig(
        architecture=architecture,
        variant=variant,
        user=user,
        env=plan.image_env(f"{runtime.prefix}/bin", dict(app.env), field_set.env.value or {}),
        entrypoint=_entrypoint(field_set, binary),
        cmd=tuple(field_set.cmd.value or ()),
        working_dir=field_set.workdir.value,
        labels=tuple(sorted(_labels(field_set).items())),
        exposed_ports=tuple(field_set.expose.value or ()),
        created=model.epoch_timestamp(mtime),
    )


@dataclass(frozen=True)
class PlatformImageRequest:
    field_set: PythonOciImageFieldSet
    inputs: ImageInputs
    app: AppPlan
    architecture: str
    mtime: int
    compression: LayerCompression


@dataclass(frozen=True)
class PlatformImage:
    """The image of one platform: its manifest, the layers it names and its SBOM."""

    image: model.Image
    config: model.ImageConfig
    layers: Tuple[BuiltLayer, ...]
    sbom: bytes

    @property
    def platform(self) -> model.Platform:
        return self.config.platform


@rule(desc="Build a python_oci_image for one platform", level=LogLevel.DEBUG)
async def build_platform_image(request: PlatformImageRequest, python_setup: PythonSetup) -> PlatformImage:
    field_set, inputs, app, architecture = request.field_set, request.inputs, request.app, request.architecture
    address, mtime, compression = str(field_set.address), request.mtime, request.compression
    # Everything that can be checked without compiling is checked first: that every base is locked, init, halves.
    base_targets = (await Get(PlatformBases, PlatformBasesRequest(field_set, inputs, architecture))).targets
    base_specs = await MultiGet(Get(BaseOfTarget, DebianBaseSpecRequest(t)) for t in base_targets)
    locks = await MultiGet(Get(CheckedDebianLock, DebianLockSpec, b.spec) for b in base_specs)
    checks.check_init(field_set, base_specs, locks)
    await checks.check_halves_match(address, inputs.runtime, base_specs, locks, architecture)
    runtime = await Get(
        BuiltPythonRuntime, BuildPythonRuntimeRequest(PythonRuntimeFieldSet.create(inputs.runtime), architecture)
    )
    bases = await MultiGet(Get(ImageBase, ImageBaseRequest(t, mtime, compression)) for t in base_targets)
    runtime_layer, deps_layer, app_layer = await MultiGet(
        Get(
            BuiltLayer,
            RuntimeLayerRequest(runtime, field_set.keep_runtime_build_files.value, mtime, compression),
        ),
        Get(TreeLayer, DepsLayerRequest(inputs.binary.address, runtime, mtime, compression)),
        Get(TreeLayer, AppLayerRequest(inputs.binary.address, runtime, app, mtime, compression)),
    )
    await checks.check_entry_module(field_set, inputs.binary.address, app, runtime, deps_layer, app_layer)
    user = checks.checked_user(field_set, bases)
    oci_architecture, variant = await checks.checked_architecture(address, bases, runtime, deps_layer)
    layers = (*(b.layer for b in bases), runtime_layer, deps_layer.built, app_layer.built)
    config = _image_config(field_set, inputs.binary.address, runtime, app, user, oci_architecture, variant, mtime)
    image = model.build_image(config, [layer.layer for layer in layers], annotations=_labels(field_set))
    document = await image_sbom(
        inputs, runtime, locks, deps_layer, image, field_set.repository_name, config.created, python_setup
    )
    return PlatformImage(image, config, layers, document)


def _unique_layers(platforms: Sequence[PlatformImage]) -> Tuple[BuiltLayer, ...]:
    """Every platform's layers, each blob once (the first-party layer is the same for all)."""
    seen: Dict[str, BuiltLayer] = {}
    for built in platforms:
        for layer in built.layers:
            seen.setdefault(layer.layer.descriptor.digest, layer)
    return tuple(seen.values())


async def _assembled(
    field_set: PythonOciImageFieldSet, image: model.ImageOrIndex, platforms: Sequence[PlatformImage]
) -> BuiltPythonOciImage:
    """Check the image (or index) on its JSON and its layers' records, then place the blobs: no layer byte is read."""
    repository, tags = field_set.repository_name, tuple(field_set.image_tags.value)
    layers = _unique_layers(platforms)
    metadata = model.layout_metadata(image, tags, repository)
    problems = validate_image(metadata, {layer.layer.descriptor.digest: layer.record for layer in layers})
    if problems:  # the conformance check runs on every image, not only in tests
        raise LayoutError(f"The image {field_set.address} does not conform:\n  " + "\n  ".join(problems))
    archive_index = model.build_index(image, tags[:1], repository)
    small, archive_small = await MultiGet(
        Get(Digest, CreateDigest([FileContent(path, content) for path, content in metadata.items()])),
        Get(
            Digest,
            CreateDigest([FileContent(p, archive_index if p == "index.json" else c) for p, c in metadata.items()]),
        ),
    )
    blobs = [layer.blob for layer in layers]
    layout, archive_layout = await MultiGet(
        Get(Digest, MergeDigests([small, *blobs])), Get(Digest, MergeDigests([archive_small, *blobs]))
    )
    summaries = tuple(
        f"{'' if len(platforms) == 1 else str(p.platform) + ' '}layer {i + 1}: "
        f"{layer.layer.created_by[len('pants-oci: '):]}: {_mb(layer.layer.descriptor.size)} "
        f"({layer.layer.descriptor.digest[:19]})"
        for p in platforms
        for i, layer in enumerate(p.layers)
    )
    first = platforms[0]
    return BuiltPythonOciImage(
        address=str(field_set.address),
        repository=repository,
        tags=tags,
        layout=layout,
        archive_layout=archive_layout,
        digest=image.digest,
        config_digest=first.image.config_descriptor.digest,
        os=first.config.os,
        architecture=first.config.architecture,
        compressed_size=image.compressed_size,
        uncompressed_size=sum(layer.uncompressed_size for layer in layers),
        layer_summaries=summaries,
        entrypoint_length=len(first.config.entrypoint),
        sbom=first.sbom,
        platforms=tuple(str(p.platform) for p in platforms),
        platform_sboms=tuple((p.config.architecture, p.sbom) for p in platforms[1:]),
    )


@rule(desc="Build a python_oci_image", level=LogLevel.DEBUG)
async def build_python_oci_image(
    request: PythonOciImageRequest, subsystem: PythonOciImageSubsystem
) -> BuiltPythonOciImage:
    field_set = request.field_set
    mtime = await checks.source_date_epoch(subsystem)
    inputs = await Get(ImageInputs, ImageInputsRequest(field_set))
    # The app is checked first (for every platform's wheels), before anything compiles.
    app = await Get(AppPlan, AppPlanRequest(field_set, inputs.binary, inputs.runtime))
    compression = await Get(LayerCompression, ImageCompressionRequest(field_set, request.compression))
    architectures = image_architectures(field_set)
    if request.only_architecture:
        if request.only_architecture not in architectures:
            raise PythonOciImageError(
                f"The image {field_set.address} is built for {', '.join(field_set.platforms.value or ())}, not for "
                f"this machine ({request.only_architecture}), so it cannot run here."
            )
        architectures = (request.only_architecture,)
    platforms = await MultiGet(
        Get(PlatformImage, PlatformImageRequest(field_set, inputs, app, a, mtime, compression)) for a in architectures
    )
    if len(platforms) == 1:
        return await _assembled(field_set, platforms[0].image, platforms)
    index = model.build_image_index([(p.platform, p.image) for p in platforms], annotations=_labels(field_set))
    return await _assembled(field_set, index, platforms)


def rules():
    return collect_rules()
