"""Conformance check of an OCI image layout. Pure; no Pants imports.

Checks what registries and runtimes rely on: oci-layout and index.json well formed; every descriptor's digest and
size match its blob; manifests and configs have the right media types; each layer's diff_id is the sha256 of its
uncompressed tar; config history matches the layers. An index.json entry may name a nested image index (a
multi-platform image): then each of its manifests states a platform, once, and that platform is its config's.

Two ways to see the blobs, one set of checks:
- `validate_layout(files)`: a whole layout as {path: bytes} (tests, or a layout directory read back): every blob
  is hashed and every layer decompressed.
- `validate_image(metadata, layers)`: what a build holds, the JSON blobs plus the records of the layers it built.
  Each layer blob was hashed and decompressed once, where it was written (`layer_tool.py` checks its own output),
  so here its descriptor is compared with that record and no layer byte is read again.
"""
import gzip
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple

from pants_oci.errors import PantsOciError
from pants_oci.oci.model import (
    LAYER_MEDIA_TYPES,
    MEDIA_TYPE_CONFIG,
    MEDIA_TYPE_INDEX,
    MEDIA_TYPE_LAYER_GZIP,
    MEDIA_TYPE_MANIFEST,
    blob_path,
)

Decompress = Callable[[bytes], bytes]


class LayoutError(PantsOciError, ValueError):
    pass


@dataclass(frozen=True)
class LayerRecord:
    """What the process that wrote a layer blob measured of it."""

    media_type: str
    size: int
    diff_id: str


class _Blobs:
    """How the checks reach blobs: JSON blobs by content, layers by whatever evidence there is."""

    def json_blob(self, descriptor: Mapping[str, object], where: str, problems: List[str]) -> bytes:
        raise NotImplementedError

    def check_layer(self, descriptor: Mapping[str, object], diff_id: str, where: str, problems: List[str]) -> None:
        raise NotImplementedError


def _sha256_hex(descriptor: Mapping[str, object], where: str, problems: List[str]) -> Optional[str]:
    digest = str(descriptor.get("digest", ""))
    algorithm, _, hex_digest = digest.partition(":")
    if algorithm != "sha256" or len(hex_digest) != 64:
        problems.append(f"{where}: digest {digest!r} is not a sha256 digest")
        return None
    return hex_digest


def _read(files: Mapping[str, bytes], descriptor: Mapping[str, object], where: str, problems: List[str]) -> bytes:
    hex_digest = _sha256_hex(descriptor, where, problems)
    if hex_digest is None:
        return b""
    path = f"blobs/sha256/{hex_digest}"
    if path not in files:
        problems.append(f"{where}: blob {path} is missing")
        return b""
    blob = files[path]
    if hashlib.sha256(blob).hexdigest() != hex_digest:
        problems.append(f"{where}: blob {path} does not hash to its name")
    if descriptor.get("size") != len(blob):
        problems.append(f"{where}: size {descriptor.get('size')} but the blob has {len(blob)} bytes")
    return blob


class _FileBlobs(_Blobs):
    def __init__(self, files: Mapping[str, bytes], decompressors: Mapping[str, Decompress]) -> None:
        self.files = files
        self.decompressors = decompressors

    def json_blob(self, descriptor, where, problems):
        return _read(self.files, descriptor, where, problems)

    def check_layer(self, descriptor, diff_id, where, problems):
        media_type = str(descriptor.get("mediaType"))
        blob = _read(self.files, descriptor, where, problems)
        if not blob:
            return
        if media_type not in self.decompressors:
            problems.append(f"{where}: cannot check the diff_id of a {media_type} layer (no decompressor given)")
        elif "sha256:" + hashlib.sha256(self.decompressors[media_type](blob)).hexdigest() != diff_id:
            problems.append(f"{where}: diff_id {diff_id} is not the sha256 of the uncompressed layer")


class _RecordedBlobs(_Blobs):
    def __init__(self, files: Mapping[str, bytes], layers: Mapping[str, LayerRecord]) -> None:
        self.files = files
        self.layers = layers

    def json_blob(self, descriptor, where, problems):
        return _read(self.files, descriptor, where, problems)

    def check_layer(self, descriptor, diff_id, where, problems):
        if _sha256_hex(descriptor, where, problems) is None:
            return
        record = self.layers.get(str(descriptor["digest"]))
        if record is None:
            problems.append(f"{where}: blob {blob_path(str(descriptor['digest']))} is not a layer this build wrote")
            return
        if descriptor.get("size") != record.size:
            problems.append(f"{where}: size {descriptor.get('size')} but the blob has {record.size} bytes")
        if descriptor.get("mediaType") != record.media_type:
            problems.append(f"{where}: media type {descriptor.get('mediaType')!r} but the blob is {record.media_type}")
        if diff_id != record.diff_id:
            problems.append(f"{where}: diff_id {diff_id} is not the sha256 of the uncompressed layer")


def _check_manifest(blobs: _Blobs, manifest: Dict[str, Any], where: str, problems: List[str]) -> Mapping[str, object]:
    """Check an image manifest and its blobs; returns its config ({} when unreadable)."""
    if manifest.get("schemaVersion") != 2 or manifest.get("mediaType") != MEDIA_TYPE_MANIFEST:
        problems.append(f"{where}: not an OCI image manifest (schemaVersion 2, {MEDIA_TYPE_MANIFEST})")
    config_descriptor = manifest.get("config", {})
    if config_descriptor.get("mediaType") != MEDIA_TYPE_CONFIG:
        problems.append(f"{where}: config media type is {config_descriptor.get('mediaType')!r}")
    config = json.loads(blobs.json_blob(config_descriptor, f"{where} config", problems) or b"{}")
    layers = manifest.get("layers", [])
    diff_ids = config.get("rootfs", {}).get("diff_ids", [])
    if len(diff_ids) != len(layers):
        problems.append(f"{where}: {len(layers)} layers but {len(diff_ids)} diff_ids in the config")
    history = [h for h in config.get("history", []) if not h.get("empty_layer")]
    if config and len(history) != len(layers):
        problems.append(f"{where}: {len(layers)} layers but {len(history)} non-empty history entries")
    if config and not config.get("architecture"):
        problems.append(f"{where}: the config has no architecture")
    for i, (layer, diff_id) in enumerate(zip(layers, diff_ids)):
        if layer.get("mediaType") not in LAYER_MEDIA_TYPES.values():
            problems.append(f"{where} layer {i}: media type {layer.get('mediaType')!r}")
            continue
        blobs.check_layer(layer, diff_id, f"{where} layer {i}", problems)
    return config


def _platform_key(platform: Mapping[str, object]) -> Tuple[str, str, str]:
    """(os, architecture, variant) of a platform descriptor or of a config, which name them alike."""
    return str(platform.get("os", "")), str(platform.get("architecture", "")), str(platform.get("variant", ""))


def _platform_name(key: Tuple[str, str, str]) -> str:
    return "/".join(part for part in key if part)


def _check_platform(
    descriptor: Mapping[str, Any], config: Mapping[str, object], where: str, problems: List[str]
) -> None:
    """A runtime picks a manifest by the platform the index states, then runs what the config says it is: a
    mismatch runs an image on the wrong machine (`exec format error`)."""
    platform = descriptor.get("platform") or {}
    if not platform.get("os") or not platform.get("architecture"):
        problems.append(f"{where}: no platform with os and architecture")
        return
    if config and _platform_key(platform) != _platform_key(config):
        stated, actual = _platform_name(_platform_key(platform)), _platform_name(_platform_key(config))
        problems.append(f"{where}: the index states platform {stated} but the config is {actual}")


def _check_image_index(blobs: _Blobs, index: Dict[str, Any], where: str, problems: List[str]) -> None:
    """A nested image index (a multi-platform image): one image manifest per platform, each checked."""
    if index.get("schemaVersion") != 2 or index.get("mediaType") != MEDIA_TYPE_INDEX:
        problems.append(f"{where}: not an OCI image index (schemaVersion 2, {MEDIA_TYPE_INDEX})")
    if not index.get("manifests"):
        problems.append(f"{where}: no manifests")
    seen: Set[Tuple[str, str, str]] = set()
    for i, descriptor in enumerate(index.get("manifests", [])):
        here = f"{where} manifest {i}"
        if descriptor.get("mediaType") != MEDIA_TYPE_MANIFEST:
            problems.append(f"{here}: media type {descriptor.get('mediaType')!r}, not an image manifest")
            continue
        key = _platform_key(descriptor.get("platform") or {})
        if key in seen:
            problems.append(f"{here}: platform {_platform_name(key)} has another manifest in the index")
        seen.add(key)
        blob = blobs.json_blob(descriptor, here, problems)
        if blob:
            config = _check_manifest(blobs, json.loads(blob), here, problems)
            _check_platform(descriptor, config, here, problems)


def _validate(files: Mapping[str, bytes], blobs: _Blobs) -> List[str]:
    problems: List[str] = []
    try:
        if json.loads(files.get("oci-layout", b"{}")).get("imageLayoutVersion") != "1.0.0":
            problems.append("oci-layout: imageLayoutVersion is not 1.0.0")
        index = json.loads(files.get("index.json", b"{}"))
    except ValueError as e:
        return [f"malformed JSON: {e}"]
    if index.get("schemaVersion") != 2 or index.get("mediaType", MEDIA_TYPE_INDEX) != MEDIA_TYPE_INDEX:
        problems.append("index.json: not an OCI image index")
    if not index.get("manifests"):
        problems.append("index.json: no manifests")
    checked: Set[str] = set()  # each tag has an entry, but the image they name is checked once
    for i, descriptor in enumerate(index.get("manifests", [])):
        where = f"index.json manifest {i}"
        blob = blobs.json_blob(descriptor, where, problems)
        if not blob or descriptor.get("digest") in checked:
            continue
        checked.add(str(descriptor.get("digest")))
        document = json.loads(blob)
        if descriptor.get("mediaType") != document.get("mediaType"):
            problems.append(
                f"{where}: media type {descriptor.get('mediaType')!r} but the blob is a {document.get('mediaType')!r}"
            )
        if document.get("mediaType") == MEDIA_TYPE_INDEX:
            _check_image_index(blobs, document, where, problems)
        else:
            _check_manifest(blobs, document, where, problems)
    return problems


def validate_layout(files: Mapping[str, bytes], decompressors: Optional[Mapping[str, Decompress]] = None) -> List[str]:
    """Every problem found in a whole OCI layout given as {relative path: bytes}; empty when it conforms. gzip
    layers are decompressed with the standard library; pass a decompressor for zstd layers."""
    return _validate(files, _FileBlobs(files, {MEDIA_TYPE_LAYER_GZIP: gzip.decompress, **(decompressors or {})}))


def validate_image(metadata: Mapping[str, bytes], layers: Mapping[str, LayerRecord]) -> List[str]:
    """Every problem found in a layout given as its JSON files (`model.layout_metadata`) and the records of the
    layer blobs by digest; empty when it conforms."""
    return _validate(metadata, _RecordedBlobs(metadata, layers))
