import gzip
import hashlib
import json

import pytest

from pants_oci.oci.model import (
    MEDIA_TYPE_INDEX,
    MEDIA_TYPE_LAYER_GZIP,
    MEDIA_TYPE_LAYER_ZSTD,
    MEDIA_TYPE_MANIFEST,
    Descriptor,
    ImageConfig,
    Layer,
    Platform,
    blob_path,
    build_image,
    build_image_index,
    epoch_timestamp,
    layout_metadata,
    oci_architecture,
    oci_variant,
    parse_platform,
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


# ---------------------------------------------------------------------------------------------------------------
# Multi-platform images

AMD64 = Platform("amd64")
ARM64 = Platform("arm64", variant="v8")


def _platform_image(platform, app_code=b"print('hi')\n"):
    """An image of `platform`: a runtime layer of its own and the app layer, which every platform shares."""
    runtime = _layer({"opt/python/bin/python3": f"ELF for {platform}".encode()}, "runtime")
    app = _layer({"app/main.py": app_code}, "app")
    config = ImageConfig(platform.architecture, platform.os, variant=platform.variant, cmd=("/app/main.py",))
    return build_image(config, [runtime, app])


def _two_platforms(app_code=b"print('hi')\n"):
    entries = [(p, _platform_image(p, app_code)) for p in (AMD64, ARM64)]
    return build_image_index(entries, {"org.opencontainers.image.version": "1.0"})


def _index_layout_files(index, ref_names, repository=""):
    files = layout_metadata(index, ref_names, repository)
    files.update({blob_path(layer.descriptor.digest): BLOBS[layer.descriptor.digest] for layer in index.layers})
    return files


def _fixed_image():
    """An image of made-up layer descriptors (no compressor involved), for comparing bytes with earlier output."""
    layers = [
        Layer(Descriptor(MEDIA_TYPE_LAYER_GZIP, "sha256:" + "1" * 64, 1234), "sha256:" + "2" * 64, "runtime"),
        Layer(Descriptor(MEDIA_TYPE_LAYER_ZSTD, "sha256:" + "3" * 64, 56), "sha256:" + "4" * 64, "app"),
    ]
    config = ImageConfig(
        architecture="amd64",
        user="65532:65532",
        env=("PATH=/usr/bin", "LANG=C.UTF-8"),
        entrypoint=("/usr/bin/python3", "/app/main.py"),
        cmd=("--serve",),
        working_dir="/app",
        labels=(("org.opencontainers.image.version", "1.0"),),
        exposed_ports=("8080/tcp",),
    )
    return build_image(config, layers, {"org.opencontainers.image.created": "1980-01-01T00:00:00Z"})


def test_a_single_image_layout_keeps_its_bytes() -> None:
    # What layout_metadata made of this image before image indexes existed: a single-platform image's digest, and
    # the layout naming it, must not change.
    files = layout_metadata(_fixed_image(), ["1.0", "latest"], "acme/app")
    assert {path: hashlib.sha256(content).hexdigest() for path, content in files.items()} == {
        "blobs/sha256/4ab8def51e8eea7534c2339b0a5e7cd23ce58b3ace8862198b08144f53c9a66f": (
            "4ab8def51e8eea7534c2339b0a5e7cd23ce58b3ace8862198b08144f53c9a66f"
        ),
        "blobs/sha256/6de1521bf873c6ae166d1b89cb437c701743f661833aa022c85d8f19a523b799": (
            "6de1521bf873c6ae166d1b89cb437c701743f661833aa022c85d8f19a523b799"
        ),
        "index.json": "4093631bb849740789ec23156033eff3cee08e0df074be523c05f64431547bd5",
        "oci-layout": "18f0797eab35a4597c1e9624aa4f15fd91f6254e5538c1e0d193b2a95dd4acc6",
    }
    assert "variant" not in json.loads(_fixed_image().config_blob)


def test_an_image_index_names_one_manifest_per_platform() -> None:
    index = _two_platforms()
    document = json.loads(index.index_blob)
    assert document["mediaType"] == MEDIA_TYPE_INDEX and document["schemaVersion"] == 2
    assert document["annotations"] == {"org.opencontainers.image.version": "1.0"}
    assert [m["platform"] for m in document["manifests"]] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux", "variant": "v8"},
    ]
    assert [m["digest"] for m in document["manifests"]] == [image.digest for image in index.images]
    assert [m["mediaType"] for m in document["manifests"]] == [MEDIA_TYPE_MANIFEST] * 2
    assert json.loads(index.images[1].config_blob)["variant"] == "v8"
    assert index.descriptor.media_type == MEDIA_TYPE_INDEX and index.digest == index.descriptor.digest
    assert set(index.json_blobs()) == {index.digest, *(d for image in index.images for d in image.json_blobs())}


def test_an_image_index_is_deterministic_and_shares_the_app_layer() -> None:
    index = _two_platforms()
    assert _two_platforms().index_blob == index.index_blob
    assert _two_platforms(b"print('bye')\n").digest != index.digest
    amd64, arm64 = index.images
    assert amd64.layers[1] == arm64.layers[1], "the app layer is the same blob on both platforms"
    assert amd64.layers[0] != arm64.layers[0]
    assert [layer.created_by for layer in index.layers] == ["runtime", "app", "runtime"]
    shared = amd64.layers[1].descriptor.size
    assert index.compressed_size == amd64.compressed_size + arm64.compressed_size - shared + len(index.index_blob)


def test_an_image_index_has_each_platform_once() -> None:
    image = _platform_image(AMD64)
    with pytest.raises(ValueError, match="linux/amd64"):
        build_image_index([(AMD64, image), (Platform("amd64", "linux"), image)])
    with pytest.raises(ValueError, match="at least one"):
        build_image_index([])


def test_a_multi_platform_layout_names_the_index_under_each_tag() -> None:
    index = _two_platforms()
    files = _index_layout_files(index, ["1.0", "latest"], "acme/app")
    entries = json.loads(files["index.json"])["manifests"]
    assert [(e["mediaType"], e["digest"], e["size"]) for e in entries] == [
        (MEDIA_TYPE_INDEX, index.digest, len(index.index_blob))
    ] * 2
    assert [e["annotations"]["io.containerd.image.name"] for e in entries] == ["acme/app:1.0", "acme/app:latest"]
    assert files[blob_path(index.digest)] == index.index_blob
    assert validate_layout(files) == []
    records = {
        layer.descriptor.digest: LayerRecord(layer.descriptor.media_type, layer.descriptor.size, layer.diff_id)
        for layer in index.layers
    }
    assert validate_image(layout_metadata(index, ["1.0"]), records) == []


def test_validation_checks_each_platform_against_its_config() -> None:
    amd64 = _platform_image(AMD64)
    # An amd64 image stated as arm64: a runtime would pick it on arm64 and fail with `exec format error`.
    wrong = build_image_index([(ARM64, amd64)])
    problems = validate_layout(_index_layout_files(wrong, ["1.0"]))
    assert any("states platform linux/arm64/v8 but the config is linux/amd64" in p for p in problems), problems
    no_variant = build_image_index([(Platform("arm64"), _platform_image(ARM64))])
    assert any("but the config is linux/arm64/v8" in p for p in validate_layout(_index_layout_files(no_variant, [])))
    # The nested index is checked by its hash like every other blob.
    files = _index_layout_files(_two_platforms(), ["1.0"])
    nested = blob_path(json.loads(files["index.json"])["manifests"][0]["digest"])
    tampered = {**files, nested: files[nested].replace(b'"os":"linux"', b'"os":"linux" ', 1)}
    assert any("does not hash to its name" in p for p in validate_layout(tampered))


def test_validation_rejects_a_platform_twice_or_none() -> None:
    index = _two_platforms()
    document = json.loads(index.index_blob)
    twice = dict(document, manifests=[document["manifests"][0]] * 2)
    unstated = dict(
        document, manifests=[{k: v for k, v in m.items() if k != "platform"} for m in document["manifests"]]
    )
    for changed, problem in ((twice, "has another manifest"), (unstated, "no platform with os and architecture")):
        blob = json.dumps(changed).encode()
        files = _index_layout_files(index, ["1.0"])
        del files[blob_path(index.digest)]
        descriptor = Descriptor.of(MEDIA_TYPE_INDEX, blob)
        files[blob_path(descriptor.digest)] = blob
        files["index.json"] = json.dumps({"schemaVersion": 2, "manifests": [descriptor.to_json()]}).encode()
        assert any(problem in p for p in validate_layout(files)), problem


def test_platforms_parse_and_arm64_is_v8() -> None:
    assert parse_platform("linux/amd64") == AMD64 and str(AMD64) == "linux/amd64"
    assert parse_platform("linux/arm64") == parse_platform("linux/arm64/v8") == ARM64
    assert str(ARM64) == "linux/arm64/v8" and ARM64.to_json() == {
        "architecture": "arm64",
        "os": "linux",
        "variant": "v8",
    }
    assert AMD64.to_json() == {"architecture": "amd64", "os": "linux"}
    assert oci_variant("aarch64") == "v8" and oci_variant("x86-64") == ""
    assert ImageConfig("arm64", variant="v8").platform == ARM64
    for text in ("linux", "amd64", "linux/x86_64", "windows/amd64", "linux/arm64/v7", "linux/amd64/v8", "", "a/b/c/d"):
        with pytest.raises(ValueError, match=r"is not a platform an image can be built for.*linux/arm64/v8"):
            parse_platform(text)
