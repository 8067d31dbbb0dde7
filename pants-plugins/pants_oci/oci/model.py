"""A pure OCI image model of descriptors (go-containerregistry `pkg/v1` and Jib's build plan are the examples).

Values in, canonical JSON bytes and digests out. No I/O, and no layer bytes: a layer is its descriptor (digest,
size, media type) and its diff_id, as the process that wrote the blob recorded them (`layer_tool.py`). Building an
image makes only its config, manifest and index (a multi-platform image, `ImageIndex`, also its image index); the
layout directory and archive place the layer blobs by digest.
JSON is serialized with sorted keys and no whitespace so the same image always has the same digest.
"""
import datetime
import enum
import hashlib
import json
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from pants_oci.oci import determinism as D

MEDIA_TYPE_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_TYPE_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_TYPE_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_TYPE_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_TYPE_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"


class LayerCompressionKind(enum.Enum):
    """gzip is what every tool reads; zstd (containerd 1.5+, podman 3+, skopeo) is smaller and faster to unpack."""

    gzip = "gzip"
    zstd = "zstd"


LAYER_MEDIA_TYPES = {"gzip": MEDIA_TYPE_LAYER_GZIP, "zstd": MEDIA_TYPE_LAYER_ZSTD}
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
# The full name (repository:tag) containerd and `docker load` (25+) give an image loaded from an OCI archive.
ANNOTATION_IMAGE_NAME = "io.containerd.image.name"
OCI_LAYOUT = {"imageLayoutVersion": "1.0.0"}
# ELF e_machine names (elf/elf.py MACHINE_NAMES) as the OCI/Go architecture names an image config carries. Debian's
# only 64-bit PowerPC port is little-endian.
OCI_ARCHITECTURES = {
    "x86-64": "amd64",
    "aarch64": "arm64",
    "arm": "arm",
    "i386": "386",
    "ppc64": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "mips": "mips64le",
    "loongarch64": "loong64",
}


# The variant containerd and docker give an architecture when they normalize a platform: they match an arm64
# image's `linux/arm64/v8` against a platform descriptor, so an image says v8 itself. The others have none.
OCI_VARIANTS = {"aarch64": "v8"}


def oci_architecture(machine: str) -> str:
    """The config `architecture` of an image whose ELF files are for `machine`; ValueError for one OCI lacks."""
    if machine not in OCI_ARCHITECTURES:
        raise ValueError(f"no OCI architecture is known for ELF machine {machine!r}")
    return OCI_ARCHITECTURES[machine]


def oci_variant(machine: str) -> str:
    """The config `variant` of an image whose ELF files are for `machine`: "v8" for aarch64, "" for the others."""
    return OCI_VARIANTS.get(machine, "")


@dataclass(frozen=True)
class Platform:
    """The platform of one image of a multi-platform image, as its image index descriptor states it. The field
    order is ImageConfig's (architecture first): a dataclass field without a default cannot follow one with it."""

    architecture: str
    os: str = "linux"
    variant: str = ""

    def to_json(self) -> Dict[str, str]:
        document = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            document["variant"] = self.variant
        return document

    def __str__(self) -> str:
        return "/".join(part for part in (self.os, self.architecture, self.variant) if part)


def _known_platforms() -> Dict[str, Platform]:
    """Each platform an image of this plugin can have (one per OCI_ARCHITECTURES entry), by its normalized name."""
    platforms = (Platform(OCI_ARCHITECTURES[m], "linux", oci_variant(m)) for m in OCI_ARCHITECTURES)
    return {str(platform): platform for platform in platforms}


def parse_platform(text: str) -> Platform:
    """'linux/amd64' or 'linux/arm64[/v8]' (os/architecture[/variant]) as a Platform, normalized the way containerd
    does it: 'linux/arm64' is linux/arm64/v8, the variant every arm64 image of this plugin states. ValueError for
    anything that is not one of the platforms an image config here can carry (see OCI_ARCHITECTURES)."""
    known = _known_platforms()
    by_architecture = {(p.os, p.architecture): p for p in known.values()}
    parts = text.strip().split("/")
    found = None
    if len(parts) == 2:
        found = by_architecture.get((parts[0], parts[1]))
    elif len(parts) == 3:
        found = known.get(text.strip())
    if found is None:
        raise ValueError(
            f"{text!r} is not a platform an image can be built for: write os/architecture[/variant], one of "
            f"{', '.join(sorted(known))} (the variant may be left out)"
        )
    return found


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(document: object) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    annotations: Tuple[Tuple[str, str], ...] = ()
    platform: Optional[Tuple[Tuple[str, str], ...]] = None

    @classmethod
    def of(cls, media_type: str, blob: bytes, annotations: Optional[Mapping[str, str]] = None) -> "Descriptor":
        return cls(media_type, sha256_digest(blob), len(blob), tuple(sorted((annotations or {}).items())))

    def to_json(self) -> Dict[str, object]:
        document: Dict[str, object] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.annotations:
            document["annotations"] = dict(self.annotations)
        if self.platform:
            document["platform"] = dict(self.platform)
        return document


def blob_path(digest: str) -> str:
    """Where an OCI layout keeps the blob with this digest."""
    algorithm, _, hex_digest = digest.partition(":")
    return f"blobs/{algorithm}/{hex_digest}"


@dataclass(frozen=True)
class Layer:
    """One layer: the descriptor of its compressed blob and the digest of its uncompressed tar (the diff_id)."""

    descriptor: Descriptor
    diff_id: str
    created_by: str  # shown as the history entry, e.g. "pants-oci: CPython 3.13.5 runtime ..."


@dataclass(frozen=True)
class ImageConfig:
    """The parts of the OCI image config this plugin sets; everything else stays unset on purpose."""

    architecture: str  # from the image's content (oci_architecture of its ELF files), never a constant
    os: str = "linux"
    user: str = ""
    env: Tuple[str, ...] = ()
    entrypoint: Tuple[str, ...] = ()
    cmd: Tuple[str, ...] = ()
    working_dir: str = ""
    labels: Tuple[Tuple[str, str], ...] = ()
    exposed_ports: Tuple[str, ...] = ()
    created: str = field(default_factory=lambda: epoch_timestamp(D.DEFAULT_EPOCH))
    # From the content too (oci_variant): "v8" for arm64. Last, so positional callers keep their meaning; written
    # only when set, so a config without one keeps its bytes and its digest.
    variant: str = ""

    @property
    def platform(self) -> Platform:
        """The platform an image index states for the image of this config."""
        return Platform(self.architecture, self.os, self.variant)

    def to_json(self, layers: Sequence[Layer]) -> Dict[str, object]:
        config: Dict[str, object] = {}
        if self.user:
            config["User"] = self.user
        if self.env:
            config["Env"] = list(self.env)
        if self.entrypoint:
            config["Entrypoint"] = list(self.entrypoint)
        if self.cmd:
            config["Cmd"] = list(self.cmd)
        if self.working_dir:
            config["WorkingDir"] = self.working_dir
        if self.labels:
            config["Labels"] = dict(self.labels)
        if self.exposed_ports:
            config["ExposedPorts"] = {port: {} for port in self.exposed_ports}
        document: Dict[str, object] = {
            "architecture": self.architecture,
            "os": self.os,
            "created": self.created,
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
            "history": [{"created": self.created, "created_by": layer.created_by} for layer in layers],
        }
        if self.variant:
            document["variant"] = self.variant
        return document


def epoch_timestamp(seconds: int) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Image:
    """An image's two JSON blobs and its layers' descriptors; the layer blobs themselves live elsewhere."""

    config_blob: bytes
    manifest_blob: bytes
    layers: Tuple[Layer, ...]

    @property
    def config_descriptor(self) -> Descriptor:
        return Descriptor.of(MEDIA_TYPE_CONFIG, self.config_blob)

    @property
    def manifest_descriptor(self) -> Descriptor:
        return Descriptor.of(MEDIA_TYPE_MANIFEST, self.manifest_blob)

    @property
    def descriptor(self) -> Descriptor:
        """What a tag names: the manifest."""
        return self.manifest_descriptor

    @property
    def digest(self) -> str:
        return self.manifest_descriptor.digest

    def json_blobs(self) -> Dict[str, bytes]:
        """The blobs building the image made, by digest: its config and manifest."""
        return {self.config_descriptor.digest: self.config_blob, self.manifest_descriptor.digest: self.manifest_blob}

    @property
    def compressed_size(self) -> int:
        """What a registry stores and a pull downloads: the layer blobs, the config and the manifest."""
        return sum(layer.descriptor.size for layer in self.layers) + len(self.config_blob) + len(self.manifest_blob)


def build_image(config: ImageConfig, layers: Sequence[Layer], annotations: Optional[Mapping[str, str]] = None) -> Image:
    config_blob = canonical_json(config.to_json(layers))
    manifest: Dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_MANIFEST,
        "config": Descriptor.of(MEDIA_TYPE_CONFIG, config_blob).to_json(),
        "layers": [layer.descriptor.to_json() for layer in layers],
    }
    if annotations:
        manifest["annotations"] = dict(sorted(annotations.items()))
    return Image(config_blob, canonical_json(manifest), tuple(layers))


def _unique_layers(layers: Iterable[Layer]) -> Tuple[Layer, ...]:
    """The layers with one per blob digest, in order of first appearance."""
    by_digest: Dict[str, Layer] = {}
    for layer in layers:
        by_digest.setdefault(layer.descriptor.digest, layer)
    return tuple(by_digest.values())


@dataclass(frozen=True)
class ImageIndex:
    """A multi-platform image: one image per platform and the image index blob that names their manifests. A tag
    names the index; a runtime picks the manifest of its own platform from it."""

    entries: Tuple[Tuple[Platform, Image], ...]
    index_blob: bytes

    @property
    def descriptor(self) -> Descriptor:
        """What a tag names: the image index."""
        return Descriptor.of(MEDIA_TYPE_INDEX, self.index_blob)

    @property
    def digest(self) -> str:
        return self.descriptor.digest

    @property
    def images(self) -> Tuple[Image, ...]:
        return tuple(image for _, image in self.entries)

    def json_blobs(self) -> Dict[str, bytes]:
        """The blobs building the index made, by digest: the index and every image's config and manifest."""
        blobs = {self.digest: self.index_blob}
        for image in self.images:
            blobs.update(image.json_blobs())
        return blobs

    @property
    def layers(self) -> Tuple[Layer, ...]:
        """Every image's layers, each blob once: a layer the platforms share (e.g. pure-Python code) is one blob."""
        return _unique_layers(layer for image in self.images for layer in image.layers)

    @property
    def compressed_size(self) -> int:
        """What a registry stores for all platforms: each distinct blob once. (A pull downloads one platform's.)"""
        layers = sum(layer.descriptor.size for layer in self.layers)
        return layers + sum(len(blob) for blob in self.json_blobs().values())


def build_image_index(
    entries: Sequence[Tuple[Platform, Image]], annotations: Optional[Mapping[str, str]] = None
) -> ImageIndex:
    """The image index of one image per platform, its manifests in the given order. The platforms are stated as
    given (validate.py checks each against its image's config); ValueError for none or a platform twice."""
    if not entries:
        raise ValueError("an image index needs at least one image")
    platforms = [str(platform) for platform, _ in entries]
    repeated = sorted({platform for platform in platforms if platforms.count(platform) > 1})
    if repeated:
        raise ValueError(f"an image index has one image per platform, but these have more: {', '.join(repeated)}")
    manifests = [
        Descriptor(
            MEDIA_TYPE_MANIFEST,
            image.digest,
            len(image.manifest_blob),
            platform=tuple(sorted(platform.to_json().items())),
        ).to_json()
        for platform, image in entries
    ]
    index: Dict[str, object] = {"schemaVersion": 2, "mediaType": MEDIA_TYPE_INDEX, "manifests": manifests}
    if annotations:
        index["annotations"] = dict(sorted(annotations.items()))
    return ImageIndex(tuple(entries), canonical_json(index))


# What a layout, a push or an archive can hold: one image, or a multi-platform image.
ImageOrIndex = Union[Image, ImageIndex]


def build_index(image: ImageOrIndex, ref_names: Sequence[str], repository: str = "") -> bytes:
    """index.json of an OCI layout: one entry per tag (ref name), or one without a name, each naming the image's
    manifest or, for an ImageIndex, the nested image index (how rules_oci's oci_image_index and `skopeo copy
    --all` lay out a multi-platform image). With a repository, each entry also carries the full `repository:tag`
    name for `docker load`/containerd."""
    target = image.descriptor
    manifests: List[Dict[str, object]] = []
    for ref in ref_names or [""]:
        annotations = {ANNOTATION_REF_NAME: ref} if ref else {}
        if ref and repository:
            annotations[ANNOTATION_IMAGE_NAME] = f"{repository}:{ref}"
        named = Descriptor(target.media_type, target.digest, target.size, tuple(sorted(annotations.items())))
        manifests.append(named.to_json())
    return canonical_json({"schemaVersion": 2, "mediaType": MEDIA_TYPE_INDEX, "manifests": manifests})


def layout_metadata(image: ImageOrIndex, ref_names: Sequence[str], repository: str = "") -> Dict[str, bytes]:
    """The files of an OCI image layout directory other than the layer blobs, by relative path: oci-layout,
    index.json and the JSON blobs (config and manifest, per platform for an ImageIndex, and the nested index).
    The layer blobs go at `blob_path(layer.descriptor.digest)` for each of `image.layers`."""
    files = {blob_path(digest): blob for digest, blob in image.json_blobs().items()}
    files["oci-layout"] = canonical_json(OCI_LAYOUT)
    files["index.json"] = build_index(image, ref_names, repository)
    return files
