from pathlib import Path

import pytest

from pants_oci.oci.registry import (
    MountRecord,
    PushError,
    blob_slice,
    merge_scopes,
    mount_source,
    parse_challenge,
    reference_of,
    token_query,
)
from pants_oci.oci.transport import FileRange


def test_challenges_quoted_and_bare() -> None:
    header = 'Bearer realm="https://auth.example/token",service="reg",scope="repository:a:pull,push repository:b:pull"'
    assert parse_challenge(header) == (
        "bearer",
        {"realm": "https://auth.example/token", "service": "reg", "scope": "repository:a:pull,push repository:b:pull"},
    )
    assert parse_challenge("Basic realm=test") == ("basic", {"realm": "test"})


def test_token_query_sends_one_scope_parameter_per_scope() -> None:
    query = token_query("reg", {"repository:b:pull", "repository:a:pull,push"}, "alice")
    assert query == "service=reg&scope=repository%3Aa%3Apull%2Cpush&scope=repository%3Ab%3Apull&account=alice"
    assert token_query("", ["repository:a:pull"], "") == "scope=repository%3Aa%3Apull"


def test_mount_source_prefers_the_latest_push_and_never_the_target() -> None:
    assert mount_source(["acme/one", "acme/two"], ["base/py"], "acme/three") == "acme/two"
    assert mount_source(["acme/three"], ["base/py"], "acme/three") == "base/py"
    assert mount_source([], [], "acme/three") is None


def test_mount_record_round_trip_keeps_the_latest_repositories(tmp_path: Path) -> None:
    path = str(tmp_path / "cache" / "mounts.json")
    record = MountRecord(path)
    for i in range(7):
        record.add("r.example", "sha256:aa", f"acme/{i}")
    record.add("r.example", "sha256:aa", "acme/3")  # pushed again: the newest
    record.save()
    assert MountRecord(path).repositories("r.example", "sha256:aa") == [
        "acme/2",
        "acme/4",
        "acme/5",
        "acme/6",
        "acme/3",
    ]
    assert MountRecord(path).repositories("q.example", "sha256:aa") == []
    Path(path).write_text("{damaged")
    assert MountRecord(path).repositories("r.example", "sha256:aa") == []


def test_blob_slices_of_bytes_and_files() -> None:
    assert blob_slice(b"abcdef", 2, 3) == b"cde"
    assert blob_slice(FileRange("/f", 10, 100), 20, 30) == FileRange("/f", 30, 30)


def test_a_bare_name_is_a_push_error() -> None:
    assert reference_of("docker.io/python").path == "library/python"
    with pytest.raises(PushError, match="names no registry"):
        reference_of("python")


def test_scopes_merge_per_repository() -> None:
    assert merge_scopes(["repository:a:pull", "repository:a:pull,push", "repository:b:pull", "registry:catalog:*"]) == (
        "registry:catalog:*",
        "repository:a:pull,push",
        "repository:b:pull",
    )
