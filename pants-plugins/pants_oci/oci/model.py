"""A pure OCI image model of descriptors (go-containerregistry `pkg/v1` and Jib's build plan are the examples).

Values in, canonical JSON bytes and digests out. No I/O, and no layer bytes: a layer is its descriptor (digest,
size, media type) and its diff_id, as the process that wrote the blob recorded them (`layer_tool.py`). Building an
image makes only its config, manifest and index; the layout directory and archive place the layer blobs by digest.
JSON is serialized with sorted keys and no whitespace so the same image always has the same digest.
"""
import datetime
import enum
import hashlib
import json
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

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


def oci_architecture(machine: str) -> str:
    """The config `architecture` of an image whose ELF files are for `machine`; ValueError for one OCI lacks."""
    if machine not in OCI_ARCHITECTURES:
        raise ValueError(f"no OCI architecture is known for ELF machine {machine!r}")
    return OCI_ARCHITECTURES[machine]


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
    def of(cls, media_type: str, blob: bytes, annotations: Mapping[str, str] = None) -> "Descriptor":
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
        return {
            "architecture": self.architecture,
            "os": self.os,
            "created": self.created,
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
            "history": [{"created": self.created, "created_by": layer.created_by} for layer in layers],
        }


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
    def digest(self) -> str:
        return self.manifest_descriptor.digest

    def json_blobs(self) -> Dict[str, bytes]:
        """The blobs building the image made, by digest: its config and manifest."""
        return {self.config_descriptor.digest: self.config_blob, self.manifest_descriptor.digest: self.manifest_blob}

    @property
    def compressed_size(self) -> int:
        """What a registry stores and a pull downloads: the layer blobs, the config and the manifest."""
        return sum(layer.descriptor.size for layer in self.layers) + len(self.config_blob) + len(self.manifest_blob)


def build_image(config: ImageConfig, layers: Sequence[Layer], annotations: Mapping[str, str] = None) -> Image:
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


def build_index(image: Image, ref_names: Sequence[str], repository: str = "") -> bytes:
    """index.json of an OCI layout: one manifest entry per tag (ref name), or one without a name. With a
    repository, each entry also carries the full `repository:tag` name for `docker load`/containerd."""
    manifests: List[Dict[str, object]] = []
    for ref in ref_names or [""]:
        annotations = {ANNOTATION_REF_NAME: ref} if ref else {}
        if ref and repository:
            annotations[ANNOTATION_IMAGE_NAME] = f"{repository}:{ref}"
        manifests.append(Descriptor.of(MEDIA_TYPE_MANIFEST, image.manifest_blob, annotations).to_json())
    return canonical_json({"schemaVersion": 2, "mediaType": MEDIA_TYPE_INDEX, "manifests": manifests})


def layout_metadata(image: Image, ref_names: Sequence[str], repository: str = "") -> Dict[str, bytes]:
    """The files of an OCI image layout directory other than the layer blobs, by relative path: oci-layout,
    index.json and the config and manifest blobs. The layer blobs go at `blob_path(layer.descriptor.digest)`."""
    files = {blob_path(digest): blob for digest, blob in image.json_blobs().items()}
    files["oci-layout"] = canonical_json(OCI_LAYOUT)
    files["index.json"] = build_index(image, ref_names, repository)
    return files
