"""Host tools: programs from a Debian lock, unpacked into a tree that runs on the host, with nothing installed.
Pure; no Pants imports.

The tree is a build root (`build_root.py`: merged /usr and the rest) with every absolute symlink made relative, so
that it means the same wherever the tree lies, under `root/`; and one launcher per program under `bin/`. A launcher
runs the program through the tree's own dynamic loader with the tree's libraries (`ld.so --library-path`): never
the host's loader or libc, so the host needs nothing but a kernel and /bin/sh.

One kind of program cannot start that way: one that re-executes itself through /proc/self/exe (runc does, to
start a container's init), since /proc/self/exe is then the loader. Its launcher runs a copy whose ELF interpreter
and library path name the tree's absolute location, made with patchelf (from the same lock) the first time the
tree is used at that location. The copy goes to $PANTS_OCI_PATCHED_TOOLS, or next to the launchers.
"""
import posixpath
import re
import shlex
from typing import Dict, Iterable, List, Sequence, Tuple

from pants_oci.debian.build_root import build_root_entries, merged_usr_path
from pants_oci.debian.deb import data_entries
from pants_oci.oci.tarball import Entry

ROOT_DIR = "root"
BIN_DIR = "bin"
# Where the tree's programs are; a launcher is made for each ELF executable there.
PROGRAM_DIRS = ("usr/bin", "usr/sbin")
# Programs that re-execute themselves through /proc/self/exe, and the package that patches them.
SELF_REEXECUTING = ("runc",)
PATCHER_PACKAGE = "patchelf"
PATCHED_DIR_VARIABLE = "PANTS_OCI_PATCHED_TOOLS"

# Debian architecture -> (multiarch directory, dynamic loader).
LOADERS = {
    "amd64": ("x86_64-linux-gnu", "ld-linux-x86-64.so.2"),
    "arm64": ("aarch64-linux-gnu", "ld-linux-aarch64.so.1"),
}


class HostToolsError(Exception):
    """A lock whose packages cannot make host tools; the message names the package and the fix."""


def relative_link(path: str, target: str) -> str:
    """`target` of the symlink at `path` (both relative to the tree's /), as a link relative to `path`'s directory:
    lib64/ld-linux-x86-64.so.2 -> /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 becomes ../usr/lib/...."""
    if not target.startswith("/"):
        return target
    return posixpath.relpath(posixpath.normpath(target.lstrip("/")) or ".", posixpath.dirname(path) or ".")


def _relocatable(entry: Entry) -> Entry:
    path = f"{ROOT_DIR}/{entry.path}"
    if entry.link_target is None:
        return Entry(path, content=entry.content, is_executable=entry.is_executable, mode=entry.mode)
    return Entry(path, link_target=relative_link(entry.path, entry.link_target))


def is_executable(entry: Entry) -> bool:
    return entry.is_executable or bool((entry.mode or 0) & 0o111)


def is_elf_executable(entry: Entry) -> bool:
    return is_executable(entry) and entry.content is not None and entry.content[:4] == b"\x7fELF"


def programs(entries: Iterable[Entry]) -> List[str]:
    """Paths (relative to the tree's /) of the ELF executables in the program directories, sorted."""
    return sorted(e.path for e in entries if posixpath.dirname(e.path) in PROGRAM_DIRS and is_elf_executable(e))


def _loader(architecture: str) -> Tuple[str, str]:
    try:
        triplet, loader = LOADERS[architecture]
    except KeyError:
        raise HostToolsError(
            f"host tools can be made for {', '.join(sorted(LOADERS))}, not for the architecture {architecture!r}"
        ) from None
    return f"usr/lib/{triplet}", f"usr/lib/{triplet}/{loader}"


_PREAMBLE = """\
#!/bin/sh
# {program}, unpacked from a Debian lock by pants_oci (pants_oci/debian/host_tools.py): run by the tree's own
# dynamic loader with the tree's libraries, never the host's.
set -e
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../{root}" && pwd)"
lib="$root/{lib}"
"""

_RUN_THROUGH_LOADER = 'exec "$root/{loader}" --library-path "$lib" "$root/{program}" "$@"\n'

# A copy patched for this location of the tree, made once (a unique temporary name, then an atomic rename, so
# concurrent first uses are safe).
_RUN_PATCHED_COPY = """\
# {name} re-executes itself through /proc/self/exe, which is the loader when the loader starts it: run a copy whose
# interpreter and library path are this tree's, made with patchelf the first time the tree is used here.
key="$(printf '%s' "$root" | cksum | cut -d' ' -f1)"
dir="${{{variable}:-$here/.patched}}/$key"
if [ ! -x "$dir/{name}" ]; then
  mkdir -p "$dir"
  tmp="$dir/.{name}.$$"
  cp "$root/{program}" "$tmp"
  chmod 755 "$tmp"  # the tree may be read-only (Pants materializes it so), and patchelf rewrites the copy in place
  "$root/{loader}" --library-path "$lib" "$root/{patcher}" \\
    --set-interpreter "$root/{loader}" --force-rpath --set-rpath "$lib" "$tmp"
  mv -f "$tmp" "$dir/{name}"
fi
exec "$dir/{name}" "$@"
"""


def launcher(program: str, architecture: str, patcher: str = "") -> str:
    """The sh script that runs `program` (a path relative to the tree's /) from bin/; `patcher` is the tree's
    patchelf, needed for the programs that re-execute themselves."""
    lib, loader = _loader(architecture)
    name = posixpath.basename(program)
    script = _PREAMBLE.format(program=name, root=ROOT_DIR, lib=lib)
    if name not in SELF_REEXECUTING:
        return script + _RUN_THROUGH_LOADER.format(loader=loader, program=shlex.quote(program))
    return script + _RUN_PATCHED_COPY.format(
        name=name, program=program, loader=loader, patcher=patcher, variable=PATCHED_DIR_VARIABLE
    )


def _programs_of(debs: Sequence[Tuple[str, bytes]], packages: Iterable[str]) -> List[str]:
    """The programs (paths in the merged tree) that `packages` ship: launchers are for what was asked for, not for
    every program of the dependencies (passwd, gpg, ...)."""
    wanted = set(packages)
    shipped = [
        Entry(merged_usr_path(e.path), e.content, e.is_executable, e.link_target, e.mode)
        for name, deb in debs
        if name in wanted
        for e in data_entries(deb, name, keep_docs=False, keep_gconv=True)
    ]
    return programs(shipped)


def host_tools_entries(
    debs: Sequence[Tuple[str, bytes]], architecture: str, requested: Sequence[str]
) -> Tuple[List[Entry], List[str]]:
    """The entries of a host tools tree (root/ and bin/, sorted) from (package name, .deb bytes) pairs, and the
    names of its launchers: one per program of the `requested` packages."""
    lib, loader = _loader(architecture)
    tree = build_root_entries(debs)
    by_path: Dict[str, Entry] = {e.path: e for e in tree}
    if loader not in by_path:
        raise HostToolsError(f"the packages have no dynamic loader ({loader}): add libc6 to the packages")
    found = _programs_of(debs, requested)
    patcher = next((p for p in found if posixpath.basename(p) == PATCHER_PACKAGE), "")
    needs_patcher = [p for p in found if posixpath.basename(p) in SELF_REEXECUTING]
    if needs_patcher and not patcher:
        names = ", ".join(posixpath.basename(p) for p in needs_patcher)
        raise HostToolsError(
            f"{names} re-executes itself through /proc/self/exe, so it runs from a copy patched with patchelf: "
            f"add {PATCHER_PACKAGE} to the packages to lock"
        )
    launchers: Dict[str, str] = {}
    for program in found:  # usr/bin before usr/sbin: the first of two same-named programs gets the launcher
        launchers.setdefault(f"{BIN_DIR}/{posixpath.basename(program)}", launcher(program, architecture, patcher))
    entries = [_relocatable(e) for e in tree]
    entries += [Entry(path, script.encode(), is_executable=True) for path, script in launchers.items()]
    return sorted(entries, key=lambda e: e.path), sorted(posixpath.basename(p) for p in launchers)


# The Python of a host tools tree is started through this script, beside the interpreter (so the interpreter finds
# its standard library from the script's own directory).
PYTHON_WRAPPER = f"{ROOT_DIR}/usr/bin/python3-sandbox"

_PYTHON_WRAPPER_SCRIPT = """\
#!/bin/sh
# {program} of this tree (pants_oci/debian/host_tools.py), run by the tree's own dynamic loader with the tree's
# libraries. --argv0 gives the interpreter the name it was started by, so sys.executable is this script (or a
# venv's link to it) and a subprocess the interpreter starts with sys.executable (pex, pip) runs the same way,
# never on the host's libc. The tree is found from the script's real location: a venv links to it from elsewhere.
real="$(readlink -f -- "$0")"
here="${{real%/*}}"
exec "$here/../../{loader}" --library-path "$here/../../{lib}" --argv0 "$0" "$here/{program}" "$@"
"""


def python_wrapper(entries: Iterable[Entry], architecture: str) -> Tuple[Entry, str]:
    """The wrapper script (at PYTHON_WRAPPER) that runs the one `usr/bin/python3.N` ELF interpreter a host tools
    tree has (python3-minimal of any suite), and the interpreter's version ("3.11")."""
    lib, loader = _loader(architecture)
    found = sorted(
        e.path
        for e in entries
        if posixpath.dirname(e.path) == f"{ROOT_DIR}/usr/bin"
        and _PYTHON_NAME.fullmatch(posixpath.basename(e.path))
        and e.content is not None
        and e.content[:4] == b"\x7fELF"
    )
    if len(found) != 1:
        raise HostToolsError(
            f"the tree has {len(found) or 'no'} Python interpreters ({', '.join(found) or 'usr/bin/python3.N'}): "
            f"lock exactly one (the packages python3-minimal and libpython3-stdlib)"
        )
    program = posixpath.basename(found[0])
    script = _PYTHON_WRAPPER_SCRIPT.format(program=program, loader=loader, lib=lib)
    return Entry(PYTHON_WRAPPER, script.encode(), is_executable=True), program[len("python") :]


_PYTHON_NAME = re.compile(r"python3\.[0-9]+")

# pex installs its own pip into a venv made with `python -m venv`, which bootstraps pip with ensurepip whenever the
# interpreter is newer than pex's vendored pip supports (3.12+). Debian's ensurepip (python3-venv) installs the pip
# wheel of python3-pip-whl from WHEEL_PKG_DIR, an absolute path fixed at configure time (/usr/share/python-wheels):
# the host's directory, not the tree's. The tree's sysconfig data names the tree's own wheel directory instead.
FIRST_VERSION_NEEDING_ENSUREPIP = (3, 12)
_SYSCONFIG_DATA = re.compile(r"root/usr/lib/python3\.[0-9]+/_sysconfigdata_[^/]*\.py")
_WHEEL_DIR_OF_THE_TREE = b"""
# pants_oci (debian/host_tools.py): ensurepip takes pip's wheel from this tree, never from the host's /usr/share.
import os as _pants_oci_os

build_time_vars["WHEEL_PKG_DIR"] = _pants_oci_os.path.normpath(
    _pants_oci_os.path.join(_pants_oci_os.path.dirname(__file__), "..", "..", "share", "python-wheels")
)
"""


def sandbox_python_entries(entries: Sequence[Entry], architecture: str) -> Tuple[List[Entry], str]:
    """`entries` (a host tools tree) made ready to run pex, and the interpreter's version: with the wrapper
    (python_wrapper), and the sysconfig data pointing ensurepip at the tree's own wheels. A 3.12+ interpreter
    without ensurepip (the package python3-venv) is refused: pex could not bootstrap pip."""
    wrapper, version = python_wrapper(entries, architecture)
    stdlib = f"{ROOT_DIR}/usr/lib/python{version}"
    paths = {e.path for e in entries}
    needs_ensurepip = tuple(int(part) for part in version.split(".")) >= FIRST_VERSION_NEEDING_ENSUREPIP
    if needs_ensurepip and f"{stdlib}/ensurepip/__init__.py" not in paths:
        raise HostToolsError(
            f"its Python {version} has no ensurepip, which pex needs to install pip on Python 3.12 and later: add "
            f"python3-venv to the packages"
        )
    patched = [
        Entry(e.path, e.content + _WHEEL_DIR_OF_THE_TREE, is_executable=e.is_executable, mode=e.mode)
        for e in entries
        if _SYSCONFIG_DATA.fullmatch(e.path) and e.content is not None and b"'WHEEL_PKG_DIR'" in e.content
    ]
    added = {e.path: e for e in [wrapper, *patched]}
    return [e for e in entries if e.path not in added] + list(added.values()), version
