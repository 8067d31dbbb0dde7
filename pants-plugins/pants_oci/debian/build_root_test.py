import io
import tarfile

import pytest

from pants_oci.debian.base import BaseConflictError
from pants_oci.debian.build_root import build_root_entries, merged_usr_path


def _deb(files) -> bytes:
    """A minimal .deb: ar with debian-binary, control.tar.gz and data.tar.gz. `files`: path -> bytes, or
    ("link", target)."""

    def tar(members) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as t:
            for path, value in members.items():
                info = tarfile.TarInfo("./" + path)
                if isinstance(value, tuple):
                    info.type, info.linkname = tarfile.SYMTYPE, value[1]
                    t.addfile(info)
                else:
                    executable = path.endswith(("gcc-12", "dash", "mawk")) or value[:4] == b"\x7fELF"
                    info.size, info.mode = len(value), 0o755 if executable else 0o644
                    t.addfile(info, io.BytesIO(value))
        return buf.getvalue()

    members = [
        (b"debian-binary", b"2.0\n"),
        (b"control.tar.gz", tar({"control": b"Package: x\n"})),
        (b"data.tar.gz", tar(files)),
    ]
    out = b"!<arch>\n"
    for name, data in members:
        out += name.ljust(16) + b"0".ljust(12) + b"0".ljust(6) + b"0".ljust(6) + b"100644".ljust(8)
        out += str(len(data)).encode().ljust(10) + b"`\n" + data + (b"\n" if len(data) % 2 else b"")
    return out


def _by_path(entries):
    return {e.path: e for e in entries}


def test_merged_usr_paths() -> None:
    assert merged_usr_path("bin/dash") == "usr/bin/dash"
    assert merged_usr_path("lib64/ld-linux-x86-64.so.2") == "usr/lib64/ld-linux-x86-64.so.2"
    assert merged_usr_path("usr/bin/gcc-12") == "usr/bin/gcc-12" and merged_usr_path("etc/x") == "etc/x"


def test_root_has_merged_usr_alternatives_accounts_and_mount_points() -> None:
    debs = [
        ("dash", _deb({"bin/dash": b"ELF dash", "bin/sh": ("link", "dash")})),
        ("gcc-12", _deb({"usr/bin/gcc-12": b"ELF gcc"})),
        (
            "gcc",
            _deb(
                {
                    "usr/bin/gcc": ("link", "gcc-12"),
                    "usr/share/doc/gcc/README": b"docs",
                    "usr/share/doc/gcc/copyright": b"GPL",
                }
            ),
        ),
        (
            "libc6",
            _deb(
                {
                    "lib64/ld-linux-x86-64.so.2": ("link", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
                    "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2": b"ELF ld",
                }
            ),
        ),
    ]
    entries = _by_path(build_root_entries(debs))
    # bin/, lib/ and lib64/ files moved under usr/, and the top-level names are links, as usrmerge leaves them.
    assert entries["usr/bin/dash"].content == b"ELF dash" and entries["bin"].link_target == "usr/bin"
    assert entries["lib"].link_target == "usr/lib" and entries["lib64"].link_target == "usr/lib64"
    assert "sbin" not in entries, "no link to a directory nothing ships"
    # A moved relative link keeps its meaning; an absolute one is unchanged (it resolves through the links).
    assert entries["usr/bin/sh"].link_target == "/bin/dash"
    assert entries["usr/lib64/ld-linux-x86-64.so.2"].link_target == "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
    # What maintainer scripts and update-alternatives would have made, where the target exists.
    assert entries["usr/bin/cc"].link_target == "gcc"
    assert "usr/bin/awk" not in entries, "no awk link without mawk"
    assert "usr/share/doc/gcc/README" not in entries and entries["usr/share/doc/gcc/copyright"].content == b"GPL"
    assert entries["etc/passwd"].content.startswith(b"root:x:0:0:")
    for mount_point in ("proc", "dev", "tmp", "pants-oci-build"):
        assert entries[mount_point].is_dir


def test_two_packages_with_one_path_and_different_content_conflict() -> None:
    debs = [("a", _deb({"bin/tool": b"one"})), ("b", _deb({"usr/bin/tool": b"two"}))]
    with pytest.raises(BaseConflictError, match="Debian packages a and b both install /usr/bin/tool"):
        build_root_entries(debs)
