import gzip
import io
import tarfile

import pytest

from pants_oci.oci import determinism as D
from pants_oci.oci.tarball import Entry, gzip_bytes, read_tar, with_parent_directories, write_tar


def _members(data: bytes):
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return [(m.name, m.type, m.mode, m.uid, m.gid, m.uname, m.mtime, m.linkname) for m in tar.getmembers()]


def test_same_files_in_any_order_give_identical_bytes() -> None:
    a = [Entry("app/b.py", b"b"), Entry("app/a.py", b"a", is_executable=True), Entry("app/l", link_target="a.py")]
    assert write_tar(a) == write_tar(list(reversed(a)))
    assert gzip_bytes(write_tar(a)) == gzip_bytes(write_tar(list(reversed(a))))


def test_parents_are_explicit_and_sorted_with_fixed_metadata() -> None:
    members = _members(write_tar([Entry("x/y/z.txt", b"hi"), Entry("tmp", mode=0o1777)]))
    names = [m[0] for m in members]
    assert names == ["tmp", "x", "x/y", "x/y/z.txt"]
    for name, _, mode, uid, gid, uname, mtime, _ in members:
        assert (uid, gid, uname, mtime) == (0, 0, "", D.DEFAULT_EPOCH)
    modes = {m[0]: m[2] for m in members}
    assert modes == {"tmp": 0o1777, "x": 0o755, "x/y": 0o755, "x/y/z.txt": 0o644}


def test_symlinks_and_executables() -> None:
    members = {
        m[0]: m
        for m in _members(
            write_tar(
                [
                    Entry("bin/python3", link_target="python3.13"),
                    Entry("bin/python3.13", b"\x7fELF", is_executable=True),
                ]
            )
        )
    }
    assert members["bin/python3"][1] == tarfile.SYMTYPE and members["bin/python3"][7] == "python3.13"
    assert members["bin/python3.13"][2] == 0o755


def test_gzip_header_has_no_time_and_no_name() -> None:
    data = gzip_bytes(b"payload")
    assert data[4:8] == b"\0\0\0\0"  # MTIME
    assert data[3] & 0x08 == 0  # FNAME flag unset
    assert gzip.decompress(data) == b"payload"


def test_bad_paths_and_conflicts_are_rejected() -> None:
    with pytest.raises(ValueError, match="relative"):
        write_tar([Entry("../etc/passwd", b"")])
    with pytest.raises(ValueError, match="two different entries"):
        with_parent_directories([Entry("a", b"1"), Entry("a", b"2")])


def test_read_tar_returns_what_write_tar_wrote() -> None:
    entries = [Entry("a/x", b"data", is_executable=True), Entry("a/link", link_target="x"), Entry("tmp", mode=0o1777)]
    read = {e.path: e for e in read_tar(write_tar(entries))}
    assert read["a/x"] == Entry("a/x", b"data", is_executable=True)
    assert read["a/link"].link_target == "x"
    assert read["tmp"].is_dir and read["tmp"].mode == 0o1777
    assert read["a"].is_dir
