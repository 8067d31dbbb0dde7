"""The push under trouble, against a real registry (docker-registry on 127.0.0.1) behind a proxy that answers some
requests itself: 500s, 429s with Retry-After, reset connections. Also cross-repository mounts, counted from the
registry's answers as the proxy saw them."""
import json
from pathlib import Path
from typing import Iterator, List

import pytest

from pants_oci.oci import registry
from pants_oci.oci.registry import PushError, referrers_tag
from pants_oci.oci.testing import layer, manifest_digest, noise, once_per_kind, proxy, tag_digest, write_layout
from pants_oci.oci.transport import RetryPolicy
from pants_oci.tools.testing import docker_registry

# Quick retries, so a test waits for Retry-After alone.
FAST = RetryPolicy(attempts=4, base_seconds=0.05, max_delay_seconds=2, deadline_seconds=20)


@pytest.fixture
def open_registry(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "registry").mkdir()
    with docker_registry(tmp_path / "registry") as address:
        yield address


def _layout(root: Path, seed: str) -> Path:
    return write_layout(root, [layer("small", seed.encode()), layer("big", noise(seed, 300_000))])


def test_transient_faults_are_retried_and_the_pushed_digest_is_the_local_one(
    open_registry: str, tmp_path: Path
) -> None:
    layout = _layout(tmp_path / "layout", "faults")
    faults = {
        ("HEAD", "/blobs/"): "reset",
        ("POST", "/blobs/uploads/"): 500,
        ("PATCH", "/blobs/uploads/"): "reset",
        ("PUT", "/blobs/uploads/"): (429, 1),
        ("PUT", "/manifests/sha256:"): 503,
        ("PUT", "/manifests/1.0"): 502,
    }
    lines: List[str] = []
    with proxy(open_registry, once_per_kind(faults)) as front:
        registry.push(
            str(layout),
            f"{front.address}/acme/app",
            ["1.0"],
            {},
            plain_http_localhost=True,
            chunk_size=128 * 1024,  # the big layer goes up in PATCH chunks
            log=lines.append,
            retry=FAST,
        )
    assert tag_digest(open_registry, "acme/app", "1.0") == manifest_digest(layout)
    answered = [(e.method, e.status) for e in front.exchanges]
    for fault in (("HEAD", 0), ("POST", 500), ("PATCH", 0), ("PUT", 429), ("PUT", 503), ("PUT", 502)):
        assert answered.count(fault) == 1, fault
    retries = [line for line in lines if "; try 2 of 4 in " in line]
    assert len(retries) == 6, lines
    assert any("HTTP 429; try 2 of 4 in 1.0 s" in line for line in retries), "Retry-After honoured"


def test_a_blob_that_never_uploads_leaves_no_tag_and_a_rerun_sends_only_it(open_registry: str, tmp_path: Path) -> None:
    layout = _layout(tmp_path / "layout", "permanent")
    image = json.loads((layout / "blobs/sha256" / manifest_digest(layout).split(":")[1]).read_bytes())
    big = image["layers"][1]["digest"]  # the last blob the push sends
    repository = "acme/app"

    def refuse_big(method: str, path: str, seen: object) -> object:
        return 500 if method == "PUT" and big.split(":")[1] in path else None

    with proxy(open_registry, refuse_big) as front:
        with pytest.raises(PushError, match=r"HTTP 500 on each of 4 tries.*No tag was changed"):
            registry.push(
                str(layout),
                f"{front.address}/{repository}",
                ["1.0"],
                {},
                True,
                log=lambda _: None,
                retry=FAST,
                sbom=b"{}",
            )
        assert front.count("PUT", big.split(":")[1]) == 4, "bounded: 4 tries, then it gave up"
        assert front.count("PUT", "/manifests/") == 0
    assert tag_digest(open_registry, repository, "1.0") is None, "no tag names a half-pushed image"
    assert tag_digest(open_registry, repository, referrers_tag(manifest_digest(layout))) is None, "nor an SBOM"
    with proxy(open_registry) as front:
        stats = registry.push(str(layout), f"{front.address}/{repository}", ["1.0"], {}, True, log=lambda _: None)
    assert tag_digest(open_registry, repository, "1.0") == manifest_digest(layout)
    assert stats.uploaded == [big] and len(stats.skipped) == 2, "the rerun sent only what was missing"
    with proxy(open_registry) as front:
        again = registry.push(str(layout), f"{front.address}/{repository}", ["1.0"], {}, True, log=lambda _: None)
    assert again.uploaded == [] and len(again.skipped) == 3
    assert front.count("PUT") == 0, "nothing was missing: no manifest or tag written again"


def test_a_second_repository_mounts_the_shared_layers(open_registry: str, tmp_path: Path) -> None:
    base, runtime = layer("base", noise("base", 200_000)), layer("runtime", noise("runtime", 200_000))
    first = write_layout(tmp_path / "one", [base, runtime, layer("app", b"one")])
    second = write_layout(tmp_path / "two", [base, runtime, layer("app", b"two")])
    record = str(tmp_path / "cache" / "mounts.json")
    with proxy(open_registry) as front:
        registry.push(
            str(first), f"{front.address}/acme/one", ["1.0"], {}, True, log=lambda _: None, mount_record=record
        )
        stats = registry.push(
            str(second), f"{front.address}/acme/two", ["1.0"], {}, True, log=lambda _: None, mount_record=record
        )
    assert front.count("POST", "mount=", status=201) == 2, "base and runtime mounted from acme/one"
    assert sorted(stats.mounted) == sorted([base[0].descriptor.digest, runtime[0].descriptor.digest])
    assert len(stats.uploaded) == 2, "its own config and app layer"
    assert tag_digest(open_registry, "acme/two", "1.0") == manifest_digest(second)


def test_a_refused_mount_falls_back_to_an_upload_in_the_session_it_opened(open_registry: str, tmp_path: Path) -> None:
    layout = _layout(tmp_path / "layout", "fallback")
    with proxy(open_registry) as front:
        stats = registry.push(
            str(layout), f"{front.address}/acme/app", ["1.0"], {}, True, log=lambda _: None, mount_from=["acme/empty"]
        )
    assert front.count("POST", "mount=", status=202) == 3 and front.count("POST") == 3, "no second session per blob"
    assert len(stats.uploaded) == 3 and stats.mounted == []
    assert tag_digest(open_registry, "acme/app", "1.0") == manifest_digest(layout)


def test_a_lost_upload_session_starts_the_upload_again(open_registry: str, tmp_path: Path) -> None:
    layout = _layout(tmp_path / "layout", "lost")
    lines: List[str] = []
    # BLOB_UPLOAD_UNKNOWN for the first blob's final PUT: the registry forgot the session (a restart, a timeout).
    with proxy(open_registry, once_per_kind({("PUT", "/blobs/uploads/"): 404})) as front:
        stats = registry.push(str(layout), f"{front.address}/acme/app", ["1.0"], {}, True, log=lines.append, retry=FAST)
    assert front.count("POST", "/blobs/uploads/") == 4, "three blobs, one of them started twice"
    assert sum("lost the upload session" in line for line in lines) == 1
    assert len(stats.uploaded) == 3
    assert tag_digest(open_registry, "acme/app", "1.0") == manifest_digest(layout)
