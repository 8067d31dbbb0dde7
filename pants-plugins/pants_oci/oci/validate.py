"""Conformance check of an OCI image layout, run on every image the tests build. Pure; no Pants imports.

Checks what registries and runtimes rely on: oci-layout and index.json well formed; every descriptor's
digest and size match its blob; manifests and configs have the right media types; each layer's diff_id is the
sha256 of its uncompressed tar; config history matches the layers.
"""
import gzip
import hashlib
import json
from typing import Dict, List, Mapping

from pants_oci.oci.model import MEDIA_TYPE_CONFIG, MEDIA_TYPE_INDEX, MEDIA_TYPE_LAYER_GZIP, MEDIA_TYPE_MANIFEST


class LayoutError(ValueError):
    pass


def _blob(files: Mapping[str, bytes], descriptor: Mapping[str, object], where: str, problems: List[str]) -> bytes:
    digest = str(descriptor.get("digest", ""))
    algorithm, _, hex_digest = digest.partition(":")
    if algorithm != "sha256" or len(hex_digest) != 64:
        problems.append(f"{where}: digest {digest!r} is not a sha256 digest")
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


def _check_manifest(files: Mapping[str, bytes], manifest: Dict[str, object], where: str, problems: List[str]) -> None:
    if manifest.get("schemaVersion") != 2 or manifest.get("mediaType") != MEDIA_TYPE_MANIFEST:
        problems.append(f"{where}: not an OCI image manifest (schemaVersion 2, {MEDIA_TYPE_MANIFEST})")
    config_descriptor = manifest.get("config", {})
    if config_descriptor.get("mediaType") != MEDIA_TYPE_CONFIG:
        problems.append(f"{where}: config media type is {config_descriptor.get('mediaType')!r}")
    config = json.loads(_blob(files, config_descriptor, f"{where} config", problems) or b"{}")
    layers = manifest.get("layers", [])
    diff_ids = config.get("rootfs", {}).get("diff_ids", [])
    if len(diff_ids) != len(layers):
        problems.append(f"{where}: {len(layers)} layers but {len(diff_ids)} diff_ids in the config")
    history = [h for h in config.get("history", []) if not h.get("empty_layer")]
    if config and len(history) != len(layers):
        problems.append(f"{where}: {len(layers)} layers but {len(history)} non-empty history entries")
    for i, (layer, diff_id) in enumerate(zip(layers, diff_ids)):
        if layer.get("mediaType") != MEDIA_TYPE_LAYER_GZIP:
            problems.append(f"{where} layer {i}: media type {layer.get('mediaType')!r}")
            continue
        blob = _blob(files, layer, f"{where} layer {i}", problems)
        if blob and "sha256:" + hashlib.sha256(gzip.decompress(blob)).hexdigest() != diff_id:
            problems.append(f"{where} layer {i}: diff_id {diff_id} is not the sha256 of the uncompressed layer")


def validate_layout(files: Mapping[str, bytes]) -> List[str]:
    """Every problem found in an OCI layout given as {relative path: bytes}; empty when it conforms."""
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
    for i, descriptor in enumerate(index.get("manifests", [])):
        where = f"index.json manifest {i}"
        blob = _blob(files, descriptor, where, problems)
        if blob:
            _check_manifest(files, json.loads(blob), where, problems)
    return problems


def assert_valid_layout(files: Mapping[str, bytes]) -> None:
    problems = validate_layout(files)
    if problems:
        raise LayoutError("The OCI layout does not conform:\n  " + "\n  ".join(problems))
