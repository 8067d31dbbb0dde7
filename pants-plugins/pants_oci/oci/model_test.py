import gzip
import hashlib
import json

import pytest

from pants_oci.oci.model import (
    MEDIA_TYPE_LAYER_GZIP,
    MEDIA_TYPE_LAYER_ZSTD,
    MEDIA_TYPE_MANIFEST,
    Descriptor,
    ImageConfig,
    Layer,
    blob_path,
    build_image,
    epoch_timestamp,
    layout_metadata,
    oci_architecture,
)
from pants_oci.oci.tarball import Entry, gzip_bytes, write_tar, write_tar_of_directory
from pants_oci.oci.validate import LayerRecord, validate_image, validate_layout

BLOBS = {}  # every layer blob the tests made, by digest: the model itself never holds them


def _layer(files, created_by):
    tar = write_tar([Entry(path, content) for path, content in files.items()])
    blob = gzip_bytes(tar)
    descriptor = Descriptor.of(MEDIA_TYPE_LAYER_GZIP, blob)
    BLOBS[descriptor.digest] = blob
    return Layer(descriptor, "sha256:" + hashlib.sha256(tar).hexdigest(), created_by)


def layout_files(image, ref_names, repository=""):
    files = layout_metadata(image, ref_names, repository)
    files.update({blob_path(layer.descriptor.digest): BLOBS[layer.descriptor.digest] for layer in image.layers})
    return files


def _records(image):
    return {
        layer.descriptor.digest: LayerRecord(layer.descriptor.media_type, layer.descriptor.size, layer.diff_id)
        for layer in image.layers
    }


def _image(app_code=b"print('hi')\n"):
    layers = [_layer({"opt/python/bin/python3": b"\x7fELF"}, "runtime"), _layer({"app/main.py": app_code}, "app")]
    config = ImageConfig(
        architecture="amd64",
        user="65532:65532",
        env=("PATH=/opt/python/bin:/usr/bin:/bin", "LANG=C.UTF-8"),
        entrypoint=("/opt/python/bin/python3", "/app/main.py"),
        working_dir="/app",
        labels=(("org.opencontainers.image.version", "1.0"),),
        exposed_ports=("8080/tcp",),
    )
    return build_image(config, layers)


def test_same_inputs_same_digest_and_an_app_change_touches_one_layer() -> None:
    a, b, c = _image(), _image(), _image(b"print('bye')\n")
    assert a.digest == b.digest and a.manifest_blob == b.manifest_blob
    assert a.digest != c.digest
    assert a.layers[0].descriptor == c.layers[0].descriptor
    assert a.layers[1].descriptor != c.layers[1].descriptor


def test_config_has_fixed_created_and_history_per_layer() -> None:
    config = json.loads(_image().config_blob)
    assert config["architecture"] == "amd64"
    assert config["created"] == epoch_timestamp(315532800) == "1980-01-01T00:00:00Z"
    assert [h["created_by"] for h in config["history"]] == ["runtime", "app"]
    assert config["config"]["User"] == "65532:65532" and config["config"]["ExposedPorts"] == {"8080/tcp": {}}
    assert json.loads(_image().manifest_blob)["mediaType"] == MEDIA_TYPE_MANIFEST


def test_layout_conforms_and_tags_become_ref_names() -> None:
    files = layout_files(_image(), ["1.0", "latest"])
    assert validate_layout(files) == []
    refs = [m["annotations"]["org.opencontainers.image.ref.name"] for m in json.loads(files["index.json"])["manifests"]]
    assert refs == ["1.0", "latest"]
    named = json.loads(layout_files(_image(), ["1.0"], "acme/app")["index.json"])["manifests"][0]["annotations"]
    assert named == {"org.opencontainers.image.ref.name": "1.0", "io.containerd.image.name": "acme/app:1.0"}


def test_validator_catches_tampering() -> None:
    image = _image()
    files = layout_files(image, ["latest"])
    layer_path = "blobs/sha256/" + image.layers[1].descriptor.digest.split(":")[1]
    tampered = dict(files)
    tampered[layer_path] = gzip.compress(b"other")
    problems = validate_layout(tampered)
    assert any("does not hash to its name" in p for p in problems)
    missing = dict(files)
    del missing[layer_path]
    assert any("is missing" in p for p in validate_layout(missing))
    bad_diff = layout_files(
        build_image(ImageConfig("amd64"), [Layer(image.layers[0].descriptor, "sha256:" + "0" * 64, "x")]), []
    )
    assert any("diff_id" in p for p in validate_layout(bad_diff))


def test_descriptor_validation_needs_no_layer_bytes() -> None:
    image = _image()
    metadata = layout_metadata(image, ["latest"])
    assert not any(path == blob_path(layer.descriptor.digest) for layer in image.layers for path in metadata)
    assert validate_image(metadata, _records(image)) == []
    app = image.layers[1].descriptor.digest
    wrong_size = {**_records(image), app: LayerRecord(MEDIA_TYPE_LAYER_GZIP, 1, image.layers[1].diff_id)}
    assert any("size" in p for p in validate_image(metadata, wrong_size))
    wrong_diff = {**_records(image), app: LayerRecord(MEDIA_TYPE_LAYER_GZIP, 1, "sha256:" + "1" * 64)}
    assert any("diff_id" in p for p in validate_image(metadata, wrong_diff))
    unknown = {k: v for k, v in _records(image).items() if k != app}
    assert any("not a layer this build wrote" in p for p in validate_image(metadata, unknown))
    tampered = dict(metadata)
    tampered["index.json"] = tampered["index.json"].replace(b'"size":', b'"size":1')
    assert validate_image(tampered, _records(image)) != []


def test_zstd_layers_need_a_decompressor_to_be_checked() -> None:
    image = _image()
    zstd_layer = Layer(
        Descriptor(MEDIA_TYPE_LAYER_ZSTD, image.layers[1].descriptor.digest, image.layers[1].descriptor.size),
        image.layers[1].diff_id,
        "app",
    )
    zstd_image = build_image(ImageConfig("amd64"), [image.layers[0], zstd_layer])
    files = layout_files(zstd_image, ["latest"])
    assert any("no decompressor" in p for p in validate_layout(files))
    # (The blob is really gzip here: a decompressor for the zstd media type is what the check calls.)
    assert validate_layout(files, {MEDIA_TYPE_LAYER_ZSTD: gzip.decompress}) == []


def test_architecture_comes_from_the_elf_machine() -> None:
    assert oci_architecture("x86-64") == "amd64" and oci_architecture("aarch64") == "arm64"
    with pytest.raises(ValueError, match="sparc"):
        oci_architecture("sparc")
    assert json.loads(build_image(ImageConfig("arm64"), []).config_blob)["architecture"] == "arm64"


def test_archive_of_the_layout_is_streamed_deterministic_and_complete(tmp_path) -> None:
    import io
    import tarfile

    files = layout_files(_image(), ["latest"])
    for order, root in ((files, tmp_path / "a"), (dict(reversed(list(files.items()))), tmp_path / "b")):
        for path, content in order.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_bytes(content)
    archives = []
    for root in (tmp_path / "a", tmp_path / "b"):
        out = io.BytesIO()
        write_tar_of_directory(out, str(root))
        archives.append(out.getvalue())
    assert archives[0] == archives[1]
    # Byte for byte what the in-memory writer makes of the same files (what earlier versions shipped).
    assert archives[0] == write_tar([Entry(path, content) for path, content in files.items()])
    with tarfile.open(fileobj=io.BytesIO(archives[0])) as tar:
        names = {m.name for m in tar.getmembers() if m.isfile()}
    assert names == set(files)
