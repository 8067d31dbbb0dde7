import dataclasses
import json
import os
import struct
import sys

import pytest

from pants_oci.elf.elf import (
    ElfInfo,
    elf_facts_from_json,
    elf_facts_to_json,
    elf_info_from_json,
    elf_info_to_json,
    read_elf,
)
from pants_oci.elf.hardening import Hardening, read_hardening

LIBC = "/lib/x86_64-linux-gnu/libc.so.6"


def test_non_elf_is_none() -> None:
    assert read_elf(b"#!/bin/sh\necho hi\n") is None
    assert read_elf(b"\x7fELF") is None


def test_interpreter_needs_libc_versions() -> None:
    info = read_elf(open(os.path.realpath(sys.executable), "rb").read())
    assert info is not None
    assert "libc.so.6" in info.needed
    assert any(v.startswith("GLIBC_2.") for v in info.version_needs["libc.so.6"])


def test_libc_defines_its_versions_and_soname() -> None:
    if not os.path.exists(LIBC):
        pytest.skip(f"{LIBC} is absent: not a Debian x86_64 host")
    info = read_elf(open(LIBC, "rb").read())
    assert info is not None
    assert info.soname == "libc.so.6"
    assert {"GLIBC_2.2.5", "GLIBC_2.34"} <= info.version_defs


# JSON round trip (elf_info_to_json / elf_facts_to_json)

REAL_ELVES = ("/bin/ls", LIBC)


def _real_elf(path: str) -> ElfInfo:
    if not os.path.exists(path):
        pytest.skip(f"{path} is not on this machine")
    with open(path, "rb") as f:
        info = read_elf(f.read())
    assert info is not None, f"{path} is not an ELF file"
    return info


def _through_json(doc: dict) -> dict:
    return json.loads(json.dumps(doc, sort_keys=True))


@pytest.mark.parametrize("path", REAL_ELVES)
def test_real_elf_round_trips_exactly(path: str) -> None:
    info = _real_elf(path)
    back = elf_info_from_json(_through_json(elf_info_to_json(info)))
    assert back == info
    assert isinstance(back.needed, tuple) and isinstance(back.runpath, tuple)
    assert isinstance(back.version_defs, frozenset)
    assert all(isinstance(v, frozenset) for v in back.version_needs.values())


def test_sets_become_sorted_lists_and_order_of_search_paths_is_kept() -> None:
    info = ElfInfo(
        needed=("libz.so.1", "libc.so.6"),  # loader order, not alphabetical
        soname=None,
        runpath=("$ORIGIN/../lib", "/opt/lib"),
        version_needs={"libc.so.6": frozenset({"GLIBC_2.34", "GLIBC_2.2.5"}), "libz.so.1": frozenset({"ZLIB_1.2.9"})},
        version_defs=frozenset({"V2", "V1"}),
        machine="x86-64",
    )
    doc = elf_info_to_json(info)
    assert doc == {
        "needed": ["libz.so.1", "libc.so.6"],
        "soname": None,
        "runpath": ["$ORIGIN/../lib", "/opt/lib"],
        "version_needs": {"libc.so.6": ["GLIBC_2.2.5", "GLIBC_2.34"], "libz.so.1": ["ZLIB_1.2.9"]},
        "version_defs": ["V1", "V2"],
        "machine": "x86-64",
    }
    assert elf_info_from_json(_through_json(doc)) == info


def test_same_facts_give_the_same_json_bytes() -> None:
    one = ElfInfo((), "libx.so.1", (), {"b": frozenset("zyx"), "a": frozenset("abc")}, frozenset("qp"))
    two = ElfInfo((), "libx.so.1", (), {"a": frozenset("cba"), "b": frozenset("xyz")}, frozenset("pq"))
    as_bytes = [json.dumps(elf_facts_to_json({"p": i}, {}), sort_keys=True) for i in (one, two)]
    assert as_bytes[0] == as_bytes[1]


def test_facts_round_trip_with_links_and_extra_keys() -> None:
    elves = {path.lstrip("/"): _real_elf(path) for path in REAL_ELVES}
    links = {"usr/lib/ssl/cert.pem": "/etc/ssl/certs/ca-certificates.crt", "lib64": "usr/lib64"}
    doc = _through_json({"packages": ["libc6"], **elf_facts_to_json(elves, links)})
    assert elf_facts_from_json(doc) == (elves, links)


def test_the_machine_is_read_from_the_header() -> None:
    data = open(os.path.realpath(sys.executable), "rb").read()
    expected = {"x86_64": "x86-64", "aarch64": "aarch64"}.get(os.uname().machine)
    if expected is None:
        pytest.skip(f"no expectation for a {os.uname().machine} host")
    native = read_elf(data)
    assert native is not None and native.machine == expected
    arm64 = bytearray(data)
    arm64[18:20] = (183).to_bytes(2, "little")  # EM_AARCH64
    info = read_elf(bytes(arm64))
    assert info is not None and info.machine == "aarch64"
    assert elf_info_from_json(elf_info_to_json(info)).machine == "aarch64"


# Hardening (read_hardening), against Debian's hardening-check where it is installed

HARDENING_CHECK_WORDS = {
    "Position Independent Executable": "pie",
    "Stack protected": "stack_protector",
    "Fortify Source functions": "fortify",
    "Read-only relocations": "relro",
    "Immediate binding": "bind_now",
}


@pytest.mark.parametrize("path", ["/bin/ls", os.path.realpath(sys.executable), LIBC])
def test_hardening_reads_what_hardening_check_reports(path: str) -> None:
    import shutil
    import subprocess

    if shutil.which("hardening-check") is None or not os.path.exists(path):
        pytest.skip("Debian's hardening-check (devscripts), the reference this reader is compared with, is absent")
    report = subprocess.run(["hardening-check", path], capture_output=True, text=True).stdout
    hardening = read_hardening(open(path, "rb").read())
    for line in report.splitlines()[1:]:
        name, _, verdict = line.strip().partition(": ")
        if name in HARDENING_CHECK_WORDS and "ignored" not in verdict and "unknown" not in verdict:
            assert getattr(hardening, HARDENING_CHECK_WORDS[name]) == verdict.startswith("yes"), (name, verdict)


def test_hardening_of_non_elf_is_none() -> None:
    assert read_hardening(b"#!/bin/sh\n") is None


def test_hardening_problems_name_what_is_missing() -> None:
    weak = Hardening(executable=True, pie=False, relro=True, bind_now=False, stack_protector=False, fortify=True)
    assert weak.problems() == ("Position Independent Executable", "Immediate binding", "Stack protected")
    assert weak.problems(stack_protector=False) == ("Position Independent Executable", "Immediate binding")
    library = Hardening(executable=False, pie=False, relro=True, bind_now=True, stack_protector=True, fortify=True)
    assert library.problems() == (), "PIE is a property of executables only"


def _with_gnu_stack(data: bytes, p_type: int, p_flags: int) -> bytes:
    """A copy of a 64-bit ELF file whose PT_GNU_STACK header has this type and these flags."""
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    patched = bytearray(data)
    for header in range(phoff, phoff + phnum * phentsize, phentsize):
        if struct.unpack_from("<I", data, header)[0] == 0x6474E551:  # PT_GNU_STACK
            struct.pack_into("<II", patched, header, p_type, p_flags)
            return bytes(patched)
    raise AssertionError("no PT_GNU_STACK header")


def test_an_executable_or_missing_stack_header_is_a_problem() -> None:
    """BOLT's -use-gnu-stack once took the PT_GNU_STACK header for its code segment: without that header glibc
    makes the stack of every process that loads the library executable."""
    if not os.path.exists(LIBC):
        pytest.skip(f"{LIBC}, the 64-bit ELF file this test patches, is absent on this host")
    data = open(os.path.realpath(LIBC), "rb").read()
    rw, rwx = 0x4 | 0x2, 0x4 | 0x2 | 0x1
    unchanged = read_hardening(_with_gnu_stack(data, 0x6474E551, rw))
    assert unchanged is not None and unchanged.nx_stack
    for patched in (_with_gnu_stack(data, 0x6474E551, rwx), _with_gnu_stack(data, 0, rw)):  # PF_X; PT_NULL
        hardening = read_hardening(patched)
        assert hardening is not None and "Non-executable stack" in hardening.problems()
        assert dataclasses.replace(hardening, nx_stack=True) == unchanged
