import os
import subprocess
from pathlib import Path

import pytest

from pants_oci.debian.build_root_test import _deb
from pants_oci.debian.host_tools import (
    HostToolsError,
    host_tools_entries,
    launcher,
    programs,
    python_wrapper,
    relative_link,
    sandbox_python_entries,
)
from pants_oci.oci.tarball import Entry

ELF = b"\x7fELF" + b"\0" * 60


def _debs(with_patchelf: bool = True):
    debs = [
        (
            "libc6",
            _deb(
                {
                    "lib64/ld-linux-x86-64.so.2": ("link", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
                    "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2": ELF,
                    "lib/x86_64-linux-gnu/libc.so.6": ELF,
                }
            ),
        ),
        ("umoci", _deb({"usr/bin/umoci": ELF, "usr/bin/umoci-notes.sh": b"#!/bin/sh\n"})),
        ("runc", _deb({"usr/sbin/runc": ELF})),
    ]
    if with_patchelf:
        debs.append(("patchelf", _deb({"usr/bin/patchelf": ELF})))
    return debs


def test_relative_links_mean_the_same_inside_the_tree() -> None:
    assert relative_link("lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2") == (
        "../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
    )
    assert relative_link("usr/bin/sh", "/bin/dash") == "../../bin/dash"
    assert relative_link("etc/localtime", "/usr/share/zoneinfo/UTC") == "../usr/share/zoneinfo/UTC"
    assert relative_link("bin", "usr/bin") == "usr/bin", "relative links are kept"


def test_tree_is_under_root_with_a_launcher_per_elf_program() -> None:
    entries, launchers = host_tools_entries(_debs(), "amd64", ["umoci", "runc", "patchelf"])
    paths = {e.path: e for e in entries}
    assert launchers == ["patchelf", "runc", "umoci"], "the shell script in usr/bin is not a program to launch"
    assert "root/usr/bin/umoci" in paths and "root/usr/sbin/runc" in paths
    assert all(e.path.startswith(("root/", "bin/")) for e in entries)
    assert not [e for e in entries if e.link_target and e.link_target.startswith("/")], "no absolute links"
    assert paths["root/lib64"].link_target == "usr/lib64"
    assert paths["bin/umoci"].is_executable


def test_launchers_are_for_the_requested_packages_only() -> None:
    entries, launchers = host_tools_entries(_debs(), "amd64", ["umoci"])
    assert launchers == ["umoci"] and "root/usr/sbin/runc" in {e.path for e in entries}


def test_runc_without_patchelf_is_refused_with_the_fix() -> None:
    with pytest.raises(HostToolsError, match="runc re-executes itself.*add patchelf to the packages to lock"):
        host_tools_entries(_debs(with_patchelf=False), "amd64", ["umoci", "runc"])


def test_packages_without_a_loader_or_an_unknown_architecture_are_refused() -> None:
    with pytest.raises(HostToolsError, match="no dynamic loader.*add libc6"):
        host_tools_entries([("umoci", _deb({"usr/bin/umoci": ELF}))], "amd64", ["umoci"])
    with pytest.raises(HostToolsError, match="not for the architecture 'mips64el'"):
        launcher("usr/bin/umoci", "mips64el")


def test_programs_are_executable_elf_files_in_the_program_directories() -> None:
    entries = [
        Entry("usr/bin/a", ELF, is_executable=True),
        Entry("usr/bin/b", b"#!/bin/sh", is_executable=True),
        Entry("usr/lib/c", ELF, is_executable=True),
        Entry("usr/sbin/d", ELF, mode=0o755),
        Entry("usr/bin/e", ELF),
    ]
    assert programs(entries) == ["usr/bin/a", "usr/sbin/d"]


def _write(tmp_path: Path, path: str, content: str, mode: int = 0o755) -> Path:
    target = tmp_path / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content)
    target.chmod(mode)
    return target


def test_launcher_runs_the_program_through_the_trees_loader(tmp_path: Path) -> None:
    """A fake loader that prints its arguments stands in for ld.so: the launcher passes the tree's library path
    and the program's absolute path, from any working directory."""
    _write(tmp_path, "root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", '#!/bin/sh\necho "$@"\n')
    _write(tmp_path, "bin/umoci", launcher("usr/bin/umoci", "amd64"))
    out = subprocess.run(
        [str(tmp_path / "bin/umoci"), "unpack", "a b"], cwd="/", capture_output=True, text=True, check=True
    ).stdout
    root = os.path.realpath(tmp_path / "root")
    assert out == f"--library-path {root}/usr/lib/x86_64-linux-gnu {root}/usr/bin/umoci unpack a b\n"


def test_self_reexecuting_program_runs_from_a_copy_patched_once(tmp_path: Path) -> None:
    """The fake loader records the patchelf call and the fake runc prints its arguments: the copy is made in
    $PANTS_OCI_PATCHED_TOOLS once, with the tree's absolute loader and library path."""
    calls = tmp_path / "calls"
    _write(tmp_path, "root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", f'#!/bin/sh\necho "$@" >> {calls}\n')
    _write(tmp_path, "root/usr/sbin/runc", '#!/bin/sh\necho "runc $*"\n', mode=0o555)  # read-only, as Pants makes it
    _write(tmp_path, "bin/runc", launcher("usr/sbin/runc", "amd64", "usr/bin/patchelf"))
    env = {**os.environ, "PANTS_OCI_PATCHED_TOOLS": str(tmp_path / "patched")}
    for _ in range(2):
        out = subprocess.run(
            [str(tmp_path / "bin/runc"), "state", "x"], env=env, capture_output=True, text=True, check=True
        ).stdout
        assert out == "runc state x\n"
    root = os.path.realpath(tmp_path / "root")
    lib = f"{root}/usr/lib/x86_64-linux-gnu"
    patch_calls = calls.read_text().splitlines()
    assert len(patch_calls) == 1, "patched once per tree location"
    assert patch_calls[0].startswith(
        f"--library-path {lib} {root}/usr/bin/patchelf --set-interpreter "
        f"{lib}/ld-linux-x86-64.so.2 --force-rpath --set-rpath {lib} "
    )
    copies = list((tmp_path / "patched").glob("*/runc"))
    assert len(copies) == 1 and copies[0].stat().st_mode & 0o200, "a writable copy, for patchelf, of a read-only tree"


def _python_tree(*names: str) -> list:
    elf = b"\x7fELF" + b"\0" * 12
    return [Entry(f"root/usr/bin/{name}", elf, is_executable=True) for name in names] + [
        Entry("root/usr/bin/python3", link_target="python3.11"),
        Entry("root/usr/bin/python3.11-config", b"#!/bin/sh\n", is_executable=True),
    ]


def test_python_wrapper_runs_the_trees_interpreter_with_its_loader_and_names_itself() -> None:
    wrapper, version = python_wrapper(_python_tree("python3.11"), "amd64")
    assert version == "3.11" and wrapper.path == "root/usr/bin/python3-sandbox" and wrapper.is_executable
    script = (wrapper.content or b"").decode()
    assert (
        'exec "$here/../../usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path '
        '"$here/../../usr/lib/x86_64-linux-gnu" --argv0 "$0" "$here/python3.11" "$@"'
    ) in script


def test_python_wrapper_needs_exactly_one_interpreter() -> None:
    with pytest.raises(HostToolsError, match="no Python interpreters.*python3-minimal"):
        python_wrapper(_python_tree(), "amd64")
    with pytest.raises(HostToolsError, match="2 Python interpreters"):
        python_wrapper(_python_tree("python3.11", "python3.13"), "amd64")


_SYSCONFIG = "root/usr/lib/python3.13/_sysconfigdata__x86_64-linux-gnu.py"


def test_a_313_tree_needs_ensurepip_for_pex_to_install_pip() -> None:
    with pytest.raises(HostToolsError, match="Python 3.13 has no ensurepip.*add python3-venv"):
        sandbox_python_entries(_python_tree("python3.13"), "amd64")
    tree = _python_tree("python3.11")
    made, version = sandbox_python_entries(tree, "amd64")
    added = [e for e in made if e not in tree]
    assert version == "3.11" and [e.path for e in added] == ["root/usr/bin/python3-sandbox"]


def test_ensurepip_takes_pips_wheel_from_the_tree_not_the_host(tmp_path: Path) -> None:
    """The patched sysconfig data, imported from where the tree lies, names the tree's own wheel directory."""
    data = Entry(_SYSCONFIG, b"build_time_vars = {'WHEEL_PKG_DIR': '/usr/share/python-wheels', 'CC': 'gcc'}\n")
    tree = [
        *_python_tree("python3.13"),
        Entry("root/usr/lib/python3.13/ensurepip/__init__.py", b""),
        data,
    ]
    made, _ = sandbox_python_entries(tree, "amd64")
    (patched,) = [e for e in made if e.path == _SYSCONFIG]
    module = tmp_path / _SYSCONFIG
    module.parent.mkdir(parents=True)
    module.write_bytes(patched.content or b"")
    namespace: dict = {"__file__": str(module)}
    exec(compile(module.read_bytes(), str(module), "exec"), namespace)
    assert namespace["build_time_vars"]["WHEEL_PKG_DIR"] == str(tmp_path / "root/usr/share/python-wheels")
    assert namespace["build_time_vars"]["CC"] == "gcc"
