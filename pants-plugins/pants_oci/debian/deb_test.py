import io
import lzma
import tarfile

import pytest

from pants_oci.debian.deb import DebError, control_fields, data_entries, read_ar, status_entry


def _tar_xz(files) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, kind, payload, mode in files:
            info = tarfile.TarInfo(name)
            info.mode = mode
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, payload
                tar.addfile(info)
            elif kind == "hard":
                info.type, info.linkname = tarfile.LNKTYPE, payload
                tar.addfile(info)
            else:
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
    return lzma.compress(out.getvalue())


def _ar(members) -> bytes:
    data = b"!<arch>\n"
    for name, payload in members:
        header = f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(payload):<10}`\n".encode()
        data += header + payload + (b"\n" if len(payload) % 2 else b"")
    return data


CONTROL = "Package: libdemo1\nVersion: 1.0-1\nArchitecture: amd64\nDescription: demo\n"


def _deb() -> bytes:
    control = _tar_xz([("./", "dir", None, 0o755), ("./control", "file", CONTROL.encode(), 0o644)])
    data = _tar_xz(
        [
            ("./", "dir", None, 0o755),
            ("./usr/lib/x86_64-linux-gnu/", "dir", None, 0o755),
            ("./usr/lib/x86_64-linux-gnu/libdemo.so.1.0", "file", b"\x7fELF...", 0o644),
            ("./usr/lib/x86_64-linux-gnu/libdemo.so.1", "sym", "libdemo.so.1.0", 0o777),
            ("./usr/lib/x86_64-linux-gnu/libdemo-copy.so", "hard", "./usr/lib/x86_64-linux-gnu/libdemo.so.1.0", 0o644),
            ("./usr/share/doc/libdemo1/changelog.Debian.gz", "file", b"log", 0o644),
            ("./usr/share/doc/libdemo1/copyright", "file", b"MIT", 0o644),
            ("./usr/share/man/man1/demo.1.gz", "file", b"man", 0o644),
            ("./usr/lib/x86_64-linux-gnu/gconv/", "dir", None, 0o755),
            ("./usr/lib/x86_64-linux-gnu/gconv/IBM1047.so", "file", b"\x7fELF...", 0o644),
        ]
    )
    return _ar([("debian-binary", b"2.0\n"), ("control.tar.xz", control), ("data.tar.xz", data)])


def test_ar_members() -> None:
    assert list(read_ar(_deb(), "libdemo1")) == ["debian-binary", "control.tar.xz", "data.tar.xz"]


def test_control_and_status_entry() -> None:
    control = control_fields(_deb(), "libdemo1")
    assert control == CONTROL
    assert status_entry(control).splitlines()[:2] == ["Package: libdemo1", "Status: install ok installed"]


def test_data_entries_drop_docs_but_keep_copyright() -> None:
    entries = {e.path: e for e in data_entries(_deb(), "libdemo1")}
    assert "usr/share/doc/libdemo1/changelog.Debian.gz" not in entries
    assert "usr/share/man/man1/demo.1.gz" not in entries
    assert entries["usr/share/doc/libdemo1/copyright"].content == b"MIT"
    assert entries["usr/lib/x86_64-linux-gnu/libdemo.so.1"].link_target == "libdemo.so.1.0"
    assert entries["usr/lib/x86_64-linux-gnu/libdemo-copy.so"].content == b"\x7fELF..."
    kept = {e.path for e in data_entries(_deb(), "libdemo1", keep_docs=True)}
    assert "usr/share/man/man1/demo.1.gz" in kept


def test_not_a_deb() -> None:
    with pytest.raises(DebError, match="libbroken is not a .deb"):
        read_ar(b"garbage", "libbroken")


def test_gconv_modules_are_dropped_unless_kept() -> None:
    dropped = {e.path for e in data_entries(_deb(), "libdemo1")}
    assert not [p for p in dropped if "gconv" in p] and "usr/lib/x86_64-linux-gnu/libdemo.so.1.0" in dropped
    kept = {e.path for e in data_entries(_deb(), "libdemo1", keep_gconv=True)}
    assert "usr/lib/x86_64-linux-gnu/gconv/IBM1047.so" in kept
