from pants_oci.elf.closure import check_closure, format_problems, package_for_soname
from pants_oci.elf.elf import ElfInfo


def _elf(needed=(), soname=None, runpath=(), needs=None, defs=()):
    return ElfInfo(
        tuple(needed), soname, tuple(runpath), {k: frozenset(v) for k, v in (needs or {}).items()}, frozenset(defs)
    )


LIBC = _elf(soname="libc.so.6", defs={"GLIBC_2.2.5", "GLIBC_2.34", "GLIBC_2.36"})


def test_policy_names() -> None:
    assert package_for_soname("libssl.so.3") == "libssl3"
    assert package_for_soname("libsqlite3.so.0") == "libsqlite3-0"
    assert package_for_soname("libbz2.so.1.0") == "libbz2-1.0"
    assert package_for_soname("libgdbm_compat.so.4") == "libgdbm-compat4"
    assert package_for_soname("libz.so.1") == "zlib1g"
    assert package_for_soname("libcrypto.so.3") == "libssl3"
    assert package_for_soname("libm.so.6") == "libc6"


def test_runpath_origin_and_symlinks_resolve() -> None:
    files = {
        "opt/python/bin/python3.13": _elf(
            ["libpython3.13.so.1.0", "libc.so.6"], runpath=["$ORIGIN/../lib"], needs={"libc.so.6": {"GLIBC_2.34"}}
        ),
        "opt/python/lib/libpython3.13.so.1.0": _elf(["libc.so.6"], soname="libpython3.13.so.1.0"),
        "usr/lib/x86_64-linux-gnu/libc.so.6": LIBC,
    }
    symlinks = {"lib": "usr/lib"}
    assert check_closure(files, symlinks) == []


def test_missing_library_names_file_library_and_package() -> None:
    files = {
        "opt/python/lib/python3.13/lib-dynload/_ssl.so": _elf(["libssl.so.3", "libc.so.6"]),
        "lib/x86_64-linux-gnu/libc.so.6": LIBC,
    }
    problems = check_closure(files, {})
    assert [str(p) for p in problems] == [
        "/opt/python/lib/python3.13/lib-dynload/_ssl.so: needs libssl.so.3, which is not in the image "
        "(provided by the Debian package libssl3)"
    ]
    assert "Fix: add libssl3 to the image's `base` packages." in format_problems(problems)


def test_too_new_glibc_symbol_version_is_caught() -> None:
    files = {
        "app/ext.so": _elf(["libc.so.6"], needs={"libc.so.6": {"GLIBC_2.38", "GLIBC_2.2.5"}}),
        "lib/x86_64-linux-gnu/libc.so.6": LIBC,
    }
    problems = check_closure(files, {}, libc_version="2.36-9")
    assert len(problems) == 1
    assert "needs symbol version(s) GLIBC_2.38 from libc.so.6" in str(problems[0])
    assert "the image's libc6 is 2.36-9" in str(problems[0])


def test_mixed_architectures_are_one_problem_that_names_them() -> None:
    x86 = ElfInfo((), "libc.so.6", (), {}, frozenset({"GLIBC_2.2.5"}), "x86-64")
    arm = ElfInfo(("libc.so.6",), None, (), {"libc.so.6": frozenset({"GLIBC_2.17"})}, frozenset(), "aarch64")
    files = {
        "usr/lib/x86_64-linux-gnu/libc.so.6": x86,
        "opt/python/bin/python3.13": arm,
        "usr/lib/x86_64-linux-gnu/libz.so.1": x86,
    }
    problems = check_closure(files, {})
    assert len(problems) == 1
    text = str(problems[0])
    assert (
        "mixes ELF files of different architectures: 1 for aarch64 (e.g. /opt/python/bin/python3.13), "
        "2 for x86-64 (e.g. /usr/lib/x86_64-linux-gnu/libc.so.6)" in text
    )
    assert "`architecture`" in text
