import os
import sys

from pants_oci.debian.elf import read_elf

LIBC = "/lib/x86_64-linux-gnu/libc.so.6"


def test_non_elf_is_none() -> None:
    assert read_elf(b"#!/bin/sh\necho hi\n") is None
    assert read_elf(b"\x7fELF") is None


def test_interpreter_needs_libc_versions() -> None:
    info = read_elf(open(os.path.realpath(sys.executable), "rb").read())
    assert "libc.so.6" in info.needed
    assert any(v.startswith("GLIBC_2.") for v in info.version_needs["libc.so.6"])


def test_libc_defines_its_versions_and_soname() -> None:
    if not os.path.exists(LIBC):
        return  # not a Debian x86_64 host
    info = read_elf(open(LIBC, "rb").read())
    assert info.soname == "libc.so.6"
    assert {"GLIBC_2.2.5", "GLIBC_2.34"} <= info.version_defs
