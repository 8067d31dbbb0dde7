"""Check that every ELF file in an image can load: each DT_NEEDED library resolves inside the image and provides
every symbol version the file asks for (GLIBC_2.34, OPENSSL_3.0.0, ...). Pure; no Pants imports.

Resolution follows ld.so without a cache: the file's RUNPATH/RPATH (with $ORIGIN), then Debian's default
multiarch directories. Symlinks inside the image are followed.
"""
import posixpath
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional

from pants_oci.elf.elf import ElfInfo

DEFAULT_LIBRARY_DIRS = (
    "lib/x86_64-linux-gnu",
    "usr/lib/x86_64-linux-gnu",
    "lib/aarch64-linux-gnu",
    "usr/lib/aarch64-linux-gnu",
    "lib64",
    "usr/lib64",
    "lib",
    "usr/lib",
    "usr/local/lib",
)

# Debian names library packages after the soname (policy 8.1), with these exceptions.
_SONAME_PACKAGE_EXCEPTIONS = {
    "libz.so.1": "zlib1g",
    "libcrypto.so.3": "libssl3",
    "libgcc_s.so.1": "libgcc-s1",
    "libpanelw.so.6": "libncursesw6",
    "libformw.so.6": "libncursesw6",
    "libmenuw.so.6": "libncursesw6",
    "ld-linux-x86-64.so.2": "libc6",
    "ld-linux-aarch64.so.1": "libc6",
}
_LIBC_SONAMES = (
    "libc.so.6",
    "libm.so.6",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
    "libutil.so.1",
    "libresolv.so.2",
    "libnsl.so.1",
    "libanl.so.1",
)


def package_for_soname(soname: str) -> str:
    """The Debian package that, by policy, ships `soname`: libssl.so.3 -> libssl3, libsqlite3.so.0 -> libsqlite3-0."""
    if soname in _LIBC_SONAMES:
        return "libc6"
    if soname in _SONAME_PACKAGE_EXCEPTIONS:
        return _SONAME_PACKAGE_EXCEPTIONS[soname]
    match = re.match(r"^(.*)\.so\.(.+)$", soname)
    if not match:
        return soname
    name, version = match.group(1).replace("_", "-").lower(), match.group(2)
    return f"{name}-{version}" if name[-1].isdigit() else f"{name}{version}"


@dataclass(frozen=True)
class ClosureProblem:
    path: str
    problem: str
    package: Optional[str]  # the Debian package that would fix it, if one is known

    def __str__(self) -> str:
        fix = f" (provided by the Debian package {self.package})" if self.package else ""
        return f"/{self.path}: {self.problem}{fix}"


def _resolve_symlinks(path: str, symlinks: Mapping[str, str], limit: int = 40) -> str:
    """Follow symlinks in every component of `path` (image-relative, no leading slash)."""
    parts, resolved = path.split("/"), ""
    while parts and limit:
        part = parts.pop(0)
        candidate = posixpath.join(resolved, part) if resolved else part
        if candidate in symlinks:
            limit -= 1
            target = symlinks[candidate]
            base = "" if target.startswith("/") else posixpath.dirname(candidate)
            parts = posixpath.normpath(posixpath.join(base, target.lstrip("/"))).split("/") + parts
            resolved = ""
        else:
            resolved = candidate
    return resolved


def _search_dirs(path: str, info: ElfInfo) -> List[str]:
    origin = posixpath.dirname(path)
    dirs = []
    for entry in info.runpath:
        expanded = entry.replace("${ORIGIN}", "/" + origin).replace("$ORIGIN", "/" + origin)
        if expanded:
            dirs.append(posixpath.normpath(expanded).lstrip("/"))
    return dirs + list(DEFAULT_LIBRARY_DIRS)


def find_library(
    name: str, path: str, info: ElfInfo, files: Mapping[str, ElfInfo], symlinks: Mapping[str, str]
) -> Optional[str]:
    for directory in _search_dirs(path, info):
        candidate = _resolve_symlinks(posixpath.join(directory, name), symlinks)
        if candidate in files:
            return candidate
    return None


def check_closure(
    elf_files: Mapping[str, ElfInfo], symlinks: Mapping[str, str], libc_version: str = ""
) -> List[ClosureProblem]:
    """Every problem found, sorted by path. `elf_files` maps image paths (no leading slash) to their ELF info.
    Files built for different architectures (an arm64 base under an x86-64 runtime) are one problem, reported
    alone: every library lookup between them would fail, and listing those failures would hide the cause."""
    mixed = mixed_architectures(elf_files)
    if mixed:
        return [mixed]
    problems = []
    for path in sorted(elf_files):
        info = elf_files[path]
        for name in info.needed:
            found = find_library(name, path, info, elf_files, symlinks)
            if found is None:
                problems.append(
                    ClosureProblem(path, f"needs {name}, which is not in the image", package_for_soname(name))
                )
                continue
            missing = sorted(info.version_needs.get(name, frozenset()) - elf_files[found].version_defs)
            if missing:
                have = f" (the image's libc6 is {libc_version})" if libc_version and name in _LIBC_SONAMES else ""
                problems.append(
                    ClosureProblem(
                        path,
                        f"needs symbol version(s) {', '.join(missing)} from {name} (/{found}), which does not define "
                        f"them{have}",
                        None,
                    )
                )
    return problems


def mixed_architectures(elf_files: Mapping[str, ElfInfo]) -> Optional[ClosureProblem]:
    by_machine: Dict[str, List[str]] = {}
    for path in sorted(elf_files):
        if elf_files[path].machine:
            by_machine.setdefault(elf_files[path].machine, []).append(path)
    if len(by_machine) < 2:
        return None
    parts = [f"{len(paths)} for {machine} (e.g. /{paths[0]})" for machine, paths in sorted(by_machine.items())]
    return ClosureProblem(
        sorted(by_machine.items(), key=lambda item: len(item[1]))[0][1][0],
        f"the image mixes ELF files of different architectures: {', '.join(parts)}. The base's `architecture` "
        f"and the runtime must be for the same platform",
        None,
    )


def format_problems(problems: Iterable[ClosureProblem], limit: int = 30) -> str:
    problems = list(problems)
    lines = [str(p) for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"... and {len(problems) - limit} more")
    packages = sorted({p.package for p in problems if p.package})
    fix = f"\nFix: add {', '.join(packages)} to the image's `base` packages." if packages else ""
    return "\n".join(lines) + fix
