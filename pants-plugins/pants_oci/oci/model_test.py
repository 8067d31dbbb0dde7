import gzip
import hashlib
import json

from pants_oci.oci.model import MEDIA_TYPE_MANIFEST, ImageConfig, Layer, build_image, epoch_timestamp, layout_files
from pants_oci.oci.tarball import Entry, gzip_bytes, write_tar
from pants_oci.oci.validate import validate_layout


def _layer(files, created_by):
    tar = write_tar([Entry(path, content) for path, content in files.items()])
    return Layer(gzip_bytes(tar), "sha256:" + hashlib.sha256(tar).hexdigest(), created_by)


def _image(app_code=b"print('hi')\n"):
    layers = [_layer({"opt/python/bin/python3": b"\x7fELF"}, "runtime"), _layer({"app/main.py": app_code}, "app")]
    config = ImageConfig(
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
        build_image(ImageConfig(), [Layer(image.layers[0].compressed, "sha256:" + "0" * 64, "x")]), []
    )
    assert any("diff_id" in p for p in validate_layout(bad_diff))


def test_archive_of_the_layout_is_deterministic_and_complete() -> None:
    import io
    import tarfile

    from pants_oci.oci.model import layout_archive

    files = layout_files(_image(), ["latest"])
    archive = layout_archive(files)
    assert archive == layout_archive(dict(reversed(list(files.items()))))
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        names = {m.name for m in tar.getmembers() if m.isfile()}
    assert names == set(files)
