"""The registry client against a real registry: `docker-registry` (distribution 2.8) started on 127.0.0.1 by
these tests, with and without htpasswd authentication, and skopeo pulling back what was pushed.
"""
import base64
import hashlib
import json
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator, List
from unittest import mock

import pytest

from pants_oci.oci import registry
from pants_oci.oci.model import (
    MEDIA_TYPE_INDEX,
    MEDIA_TYPE_LAYER_ZSTD,
    ImageConfig,
    Platform,
    blob_path,
    build_image,
    build_image_index,
    layout_metadata,
)
from pants_oci.oci.registry import PushError, RegistryClient
from pants_oci.oci.testing import alice_registry, layer, manifest_digest, skopeo_digest, write_files, write_layout
from pants_oci.tools.testing import docker_registry, skopeo


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _layout(root: Path, seed: str, zstd: bool = False) -> Path:
    # A 400 kB incompressible layer, so a small chunk size really splits it.
    big = b"".join(hashlib.sha256(f"{seed}{i}".encode()).digest() for i in range(12_500))
    return write_layout(root, [layer("small", seed.encode(), zstd), layer("big", big, zstd)])


@pytest.fixture
def open_registry(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "open").mkdir()
    with docker_registry(tmp_path / "open") as address:
        yield address


@pytest.fixture
def auth_registry(tmp_path: Path) -> Iterator[str]:
    with alice_registry(tmp_path / "auth") as address:
        yield address


def test_push_pull_back_and_no_blob_twice(open_registry: str, tmp_path: Path) -> None:
    layout = _layout(tmp_path / "layout", "a")
    repository = f"{open_registry}/acme/app"
    first = registry.push(str(layout), repository, ["1.0", "latest"], {}, plain_http_localhost=True, log=lambda _: None)
    assert len(first.uploaded) == 3 and not first.skipped  # config and two layers
    for tag in ("1.0", "latest"):
        assert skopeo_digest(f"{repository}:{tag}") == manifest_digest(layout)
    pulled = tmp_path / "pulled"
    subprocess.run(
        [*skopeo(tmp_path), "copy", "--src-tls-verify=false", f"docker://{repository}:1.0", f"oci:{pulled}:1.0"],
        check=True,
        capture_output=True,
    )
    assert {p.name for p in (pulled / "blobs/sha256").iterdir()} == {
        p.name for p in (layout / "blobs/sha256").iterdir()
    }
    second = registry.push(str(layout), repository, ["1.0"], {}, plain_http_localhost=True, log=lambda _: None)
    assert second.uploaded == [] and len(second.skipped) == 3


def test_zstd_layers_push_and_pull_back_with_their_media_type(open_registry: str, tmp_path: Path) -> None:
    layout = _layout(tmp_path / "layout", "z", zstd=True)
    repository = f"{open_registry}/acme/zstd"
    registry.push(str(layout), repository, ["1.0"], {}, plain_http_localhost=True, log=lambda _: None)
    raw = subprocess.run(
        [*skopeo(), "inspect", "--raw", "--tls-verify=false", f"docker://{repository}:1.0"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert {layer["mediaType"] for layer in json.loads(raw)["layers"]} == {MEDIA_TYPE_LAYER_ZSTD}
    assert skopeo_digest(f"{repository}:1.0") == manifest_digest(layout)
    pulled = tmp_path / "pulled"
    subprocess.run(
        [*skopeo(tmp_path), "copy", "--src-tls-verify=false", f"docker://{repository}:1.0", f"oci:{pulled}:1.0"],
        check=True,
        capture_output=True,
    )
    assert manifest_digest(pulled) == manifest_digest(layout), "skopeo kept the zstd blobs as they are"


def _get(url: str, accept: str) -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": accept})) as response:
        return response.read()


def test_a_multi_platform_image_pushes_as_an_index_and_copies_back_whole(open_registry: str, tmp_path: Path) -> None:
    app, app_blob = layer("app", b"print('hi')\n")  # the same blob on both platforms
    blobs = {app.descriptor.digest: app_blob}
    entries = []
    for platform in (Platform("amd64"), Platform("arm64", variant="v8")):
        runtime, runtime_blob = layer("runtime", f"a python for {platform}".encode())
        blobs[runtime.descriptor.digest] = runtime_blob
        config = ImageConfig(platform.architecture, platform.os, variant=platform.variant, cmd=("/bin/true",))
        entries.append((platform, build_image(config, [runtime, app])))
    index = build_image_index(entries)
    files = layout_metadata(index, ["1.0"])
    files.update({blob_path(digest): blob for digest, blob in blobs.items()})
    layout = write_files(tmp_path / "layout", files)
    repository = f"{open_registry}/acme/multi"
    sbom = b'{"spdxVersion": "SPDX-2.3", "name": "multi"}\n'
    lines: List[str] = []
    stats = registry.push(
        str(layout), repository, ["1.0", "latest"], {}, plain_http_localhost=True, log=lines.append, sbom=sbom
    )
    assert len(stats.uploaded) == 5, "two configs, two runtime layers and the shared app layer once"
    assert lines[-1] == f"pushed by digest: {repository}@{index.digest}"

    for tag in ("1.0", "latest"):
        raw = subprocess.run(
            [*skopeo(), "inspect", "--raw", "--tls-verify=false", f"docker://{repository}:{tag}"],
            check=True,
            capture_output=True,
        ).stdout
        assert hashlib.sha256(raw).hexdigest() == index.digest.split(":")[1], "the tag names the index as built"
        pushed = json.loads(raw)
        assert pushed["mediaType"] == MEDIA_TYPE_INDEX
        assert [str(Platform(**m["platform"])) for m in pushed["manifests"]] == ["linux/amd64", "linux/arm64/v8"]

    pulled = tmp_path / "pulled"
    subprocess.run(
        [
            *skopeo(tmp_path),
            "copy",
            "--all",
            "--src-tls-verify=false",
            f"docker://{repository}:1.0",
            f"oci:{pulled}:1.0",
        ],
        check=True,
        capture_output=True,
    )
    assert manifest_digest(pulled) == index.digest
    assert {p.name for p in (pulled / "blobs/sha256").iterdir()} == {
        p.name for p in (layout / "blobs/sha256").iterdir()
    }, "every platform's blobs came back"

    # The SBOM refers to the index: its subject descriptor says so, or a client would fetch it as a manifest.
    base = f"http://{open_registry}/v2/acme/multi"
    referrers = json.loads(_get(f"{base}/manifests/{registry.referrers_tag(index.digest)}", MEDIA_TYPE_INDEX))
    artifact = json.loads(_get(f"{base}/manifests/{referrers['manifests'][0]['digest']}", registry.MEDIA_TYPE_MANIFEST))
    assert artifact["subject"] == {
        "mediaType": MEDIA_TYPE_INDEX,
        "digest": index.digest,
        "size": len(index.index_blob),
    }


def test_the_sbom_is_pushed_as_a_referrer_of_the_image(open_registry: str, tmp_path: Path) -> None:
    layout = _layout(tmp_path / "layout", "s")
    repository = f"{open_registry}/acme/with-sbom"
    sbom = b'{"spdxVersion": "SPDX-2.3", "name": "test"}\n'
    registry.push(str(layout), repository, ["1.0"], {}, plain_http_localhost=True, log=lambda _: None, sbom=sbom)
    with mock.patch.object(RegistryClient, "request", autospec=True, side_effect=RegistryClient.request) as spy:
        registry.push(str(layout), repository, ["1.0"], {}, plain_http_localhost=True, log=lambda _: None, sbom=sbom)
    assert [c.args[1:3] for c in spy.call_args_list if c.args[1] in ("PUT", "POST", "PATCH")] == [], "all there"
    image = manifest_digest(layout)
    base = f"http://{open_registry}/v2/acme/with-sbom"
    # This registry (distribution 2.8) has no referrers API, so the referrers tag schema of the OCI distribution
    # spec holds the index of the image's referrers.
    index = json.loads(_get(f"{base}/manifests/{registry.referrers_tag(image)}", registry.MEDIA_TYPE_INDEX))
    assert [m["artifactType"] for m in index["manifests"]] == ["application/spdx+json"]
    artifact = json.loads(_get(f"{base}/manifests/{index['manifests'][0]['digest']}", registry.MEDIA_TYPE_MANIFEST))
    assert artifact["subject"]["digest"] == image and artifact["artifactType"] == "application/spdx+json"
    assert _get(f"{base}/blobs/{artifact['layers'][0]['digest']}", "*/*") == sbom


def test_chunked_upload(open_registry: str, tmp_path: Path) -> None:
    layout = _layout(tmp_path / "layout", "b")
    repository = f"{open_registry}/acme/chunked"
    with mock.patch.object(RegistryClient, "request", autospec=True, side_effect=RegistryClient.request) as spy:
        registry.push(
            str(layout), repository, ["1.0"], {}, plain_http_localhost=True, chunk_size=64 * 1024, log=lambda _: None
        )
    patches = [c for c in spy.call_args_list if c.args[1] == "PATCH"]
    assert len(patches) >= 6, "the 400 kB layer went up in 64 kB chunks"
    assert skopeo_digest(f"{repository}:1.0") == manifest_digest(layout)


def test_credentials_from_the_docker_config(auth_registry: str, tmp_path: Path) -> None:
    layout = _layout(tmp_path / "layout", "c")
    docker_config = tmp_path / "docker"
    docker_config.mkdir()
    auth = base64.b64encode(b"alice:secret").decode()
    (docker_config / "config.json").write_text(json.dumps({"auths": {auth_registry: {"auth": auth}}}))
    repository = f"{auth_registry}/acme/app"
    registry.push(
        str(layout),
        repository,
        ["1.0"],
        {"DOCKER_CONFIG": str(docker_config)},
        plain_http_localhost=True,
        log=lambda _: None,
    )
    assert skopeo_digest(f"{repository}:1.0", "--creds=alice:secret") == manifest_digest(layout)


def test_wrong_or_missing_credentials(auth_registry: str, tmp_path: Path) -> None:
    layout = _layout(tmp_path / "layout", "d")
    repository = f"{auth_registry}/acme/app"
    env = {"OCI_REGISTRY_USERNAME": "alice", "OCI_REGISTRY_PASSWORD": "wrong"}
    with pytest.raises(
        PushError,
        match=r"rejected the credentials \(user 'alice', password, from the environment \(OCI_REGISTRY_USERNAME",
    ):
        registry.push(str(layout), repository, ["1.0"], env, plain_http_localhost=True, log=lambda _: None)
    with pytest.raises(PushError, match="requires credentials and none were found"):
        registry.push(str(layout), repository, ["1.0"], {}, plain_http_localhost=True, log=lambda _: None)


def test_unreachable_registry_and_https_by_default(open_registry: str, tmp_path: Path) -> None:
    layout = _layout(tmp_path / "layout", "e")
    with pytest.raises(PushError, match=r"Cannot reach the registry 127.0.0.1:\d+ \(http://127.0.0.1:\d+\)"):
        registry.push(
            str(layout),
            f"127.0.0.1:{_free_port()}/acme/app",
            ["1.0"],
            {},
            plain_http_localhost=True,
            log=lambda _: None,
        )
    with pytest.raises(PushError, match=r"\(https://127.0.0.1:\d+\).*plain_http_localhost = true"):
        registry.push(str(layout), f"{open_registry}/acme/app", ["1.0"], {}, log=lambda _: None)
    with pytest.raises(PushError, match="names no registry"):
        registry.push(str(layout), "acme/app", ["1.0"], {}, log=lambda _: None)


def test_refused_manifest_changes_no_tag(open_registry: str, tmp_path: Path) -> None:
    layout = _layout(tmp_path / "layout", "f")
    repository = f"{open_registry}/acme/app"
    # Pretend the big layer is already there, so it is never uploaded and the registry refuses the manifest.
    big_layer = json.loads((layout / "blobs/sha256" / manifest_digest(layout).split(":")[1]).read_bytes())["layers"][1]
    real_has_blob = RegistryClient.has_blob
    with mock.patch.object(
        RegistryClient,
        "has_blob",
        autospec=True,
        side_effect=lambda self, d: d == big_layer["digest"] or real_has_blob(self, d),
    ):
        with pytest.raises(
            PushError, match=r"refused the manifest for acme/app:sha256:.*MANIFEST_BLOB_UNKNOWN.*No tag"
        ):
            registry.push(str(layout), repository, ["1.0"], {}, plain_http_localhost=True, log=lambda _: None)
    tags = urllib.request.Request(f"http://{open_registry}/v2/acme/app/manifests/1.0", method="HEAD")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(tags)
    assert e.value.code == 404
