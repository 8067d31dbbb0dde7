"""Build a Debian base layer from .deb files, as a script run inside a sandboxed, cacheable process.

    python -m pants_oci.debian.assemble_base SPEC_JSON OUT_DIR

SPEC_JSON names the .debs (paths relative to the working directory) and how to build:

    {"debs": [["libc6", "debs/libc6.deb"], ...], "keep_docs": false, "keep_gconv": false, "mtime": 315532800}

OUT_DIR receives two files, and only once both are ready (nothing is left there on failure):

- base.tar: the deterministic, uncompressed tar of `base.assemble_base(...)` (`write_tar(entries, mtime)`), which
  `oci/layer_tool.py --from-tar` then compresses into the base layer, as it writes every other layer;
- facts.json: what the image checks need from the base, so they never read it again: the package names,
  /etc/passwd and /etc/group, and the ELF files' and symlinks' facts (`base.elf_infos`).

Why a tar and not a tree: a directory in a Pants digest keeps only the executable bit, and a base needs its other
modes (/tmp is 1777). Why a process: the .debs and the tar then stay out of Pants' memory and the outputs are
digests that a remote cache can share. Standard library only (plus the plugin's pure modules shipped with it).

Exit codes: 0 done; 1 a bad command line or spec (a bug in the calling rule); 2 a package that cannot be used
(an unreadable .deb, or two packages installing different files at one path), with one line on stderr that
names the package.
"""
import json
import lzma
import os
import struct
import sys
import tarfile
import zlib
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

from pants_oci.debian.base import BaseConflictError, assemble_base, elf_infos
from pants_oci.debian.deb import DebError, control_fields, data_entries
from pants_oci.elf.elf import elf_facts_to_json
from pants_oci.oci.tarball import Entry, with_parent_directories, write_tar

ARCHIVE_FILE = "base.tar"
FACTS_FILE = "facts.json"
PARTIAL_SUFFIX = ".partial"

EXIT_OK = 0
EXIT_USAGE = 1
EXIT_BAD_PACKAGE = 2

USAGE = "usage: python -m pants_oci.debian.assemble_base SPEC_JSON OUT_DIR"

# What a damaged .deb can raise from deep inside ar/xz/gzip/tar parsing, beyond deb.py's own DebError: these
# carry no package name, so they send us looking for the package that caused them.
UNREADABLE_DEB_ERRORS = (
    lzma.LZMAError,
    zlib.error,
    tarfile.TarError,
    EOFError,
    OSError,
    ValueError,
    KeyError,
    IndexError,
    struct.error,
)


class SpecError(Exception):
    """The spec or the command line is wrong: the calling rule wrote something this script does not accept."""


@dataclass(frozen=True)
class BaseSpec:
    debs: Tuple[Tuple[str, str], ...]  # (package name, .deb path relative to the working directory)
    keep_docs: bool
    keep_gconv: bool
    mtime: int


# ---------------------------------------------------------------------------------------------------------------
# Reading the spec and the .debs


def deb_pairs(value: object) -> Tuple[Tuple[str, str], ...]:
    if not isinstance(value, list) or not all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(part, str) and part for part in pair)
        for pair in value
    ):
        raise SpecError('"debs" must be a list of [package name, path] pairs')
    names = [name for name, _ in value]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        # assemble_base would report them as conflicting with themselves, which misleads.
        raise SpecError(f'"debs" names these packages more than once: {", ".join(duplicates)}')
    return tuple((name, path) for name, path in value)


def parse_spec(doc: object) -> BaseSpec:
    """Every field is required: the spec is the process's cache key, so nothing may be filled in silently."""
    if not isinstance(doc, dict):
        raise SpecError("the spec must be a JSON object")
    missing = [key for key in ("debs", "keep_docs", "keep_gconv", "mtime") if key not in doc]
    if missing:
        raise SpecError(f"the spec lacks {', '.join(missing)}")
    for key in ("keep_docs", "keep_gconv"):
        if not isinstance(doc[key], bool):
            raise SpecError(f'"{key}" must be true or false')
    # bool is an int in Python; a `true` mtime is a caller bug, not 1970-01-01T00:00:01.
    if not isinstance(doc["mtime"], int) or isinstance(doc["mtime"], bool) or doc["mtime"] < 0:
        raise SpecError('"mtime" must be a non-negative integer (seconds since the epoch)')
    return BaseSpec(deb_pairs(doc["debs"]), doc["keep_docs"], doc["keep_gconv"], doc["mtime"])


def read_spec(path: str) -> BaseSpec:
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise SpecError(f"cannot read the spec {path}: {e}") from e
    return parse_spec(doc)


def read_debs(spec: BaseSpec) -> List[Tuple[str, bytes]]:
    debs = []
    for name, path in spec.debs:
        try:
            with open(path, "rb") as f:
                debs.append((name, f.read()))
        except OSError as e:
            raise SpecError(f"cannot read the .deb of package {name} at {path}: {e.strerror or e}") from e
    return debs


# ---------------------------------------------------------------------------------------------------------------
# Building the outputs (all in memory first, so a failure writes nothing)


def first_unreadable_package(debs: Sequence[Tuple[str, bytes]], spec: BaseSpec) -> Optional[Tuple[str, str]]:
    """(package, reason) for the first .deb that fails on its own. Only called after assembling failed with an
    error that names no package: it reads every .deb again, which costs nothing on the success path."""
    for name, deb in sorted(debs):
        try:
            control_fields(deb, name)
            data_entries(deb, name, spec.keep_docs, spec.keep_gconv)
        except Exception as e:  # Any failure here is this package's: that is what we are looking for.
            return name, f"{type(e).__name__}: {e}"
    return None


def text_of(members: Sequence[Entry], path: str) -> Optional[str]:
    """A file's text, decoded as the image rules decode /etc/passwd today (bad bytes replaced, never fatal)."""
    found = next((m.content for m in members if m.path == path and m.content is not None), None)
    return found.decode(errors="replace") if found is not None else None


def base_facts(package_names: Sequence[str], members: Sequence[Entry]) -> dict:
    elves, links = elf_infos(members)
    return {
        "packages": sorted(package_names),
        "passwd": text_of(members, "etc/passwd"),
        "group": text_of(members, "etc/group"),
        **elf_facts_to_json(elves, links),
    }


def _json_bytes(doc: dict) -> bytes:
    # sort_keys and ASCII escapes: the same facts are the same bytes on every machine.
    return json.dumps(doc, sort_keys=True).encode()


def build_outputs(spec: BaseSpec, debs: Sequence[Tuple[str, bytes]]) -> Dict[str, bytes]:
    """OUT_DIR's files by name. Raises DebError / BaseConflictError (or a decoding error) for bad packages."""
    entries = assemble_base(debs, keep_docs=spec.keep_docs, keep_gconv=spec.keep_gconv)
    # Exactly the tar's members (parents made explicit, paths normalized), so the facts' paths match what a
    # reader of base.tar sees.
    members = with_parent_directories(entries)
    return {
        ARCHIVE_FILE: write_tar(entries, mtime=spec.mtime),
        FACTS_FILE: _json_bytes(base_facts([name for name, _ in debs], members)),
    }


# ---------------------------------------------------------------------------------------------------------------
# Writing: all files or none


def _write_file(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def write_all_or_nothing(out_dir: str, outputs: Dict[str, bytes]) -> None:
    """Write every file under a temporary name, then rename them into place: a failure part-way (disk full)
    leaves no half-written archive for a later step to pick up as if it were whole."""
    os.makedirs(out_dir, exist_ok=True)
    partial = {name: os.path.join(out_dir, name + PARTIAL_SUFFIX) for name in outputs}
    try:
        for name, data in sorted(outputs.items()):
            _write_file(partial[name], data)
        for name in sorted(outputs):
            os.replace(partial[name], os.path.join(out_dir, name))
    except BaseException:
        # Final names too: a failure between two renames would otherwise leave a new archive beside an old
        # record (or an archive with no record), which looks whole but is not.
        for name in outputs:
            _remove_quietly(partial[name])
            _remove_quietly(os.path.join(out_dir, name))
        raise


# ---------------------------------------------------------------------------------------------------------------
# Command line


def one_line(message: str) -> str:
    return " ".join(message.split())


T = TypeVar("T")


def build_or_explain(
    build: Callable[[], T], spec: BaseSpec, debs: Sequence[Tuple[str, bytes]]
) -> Tuple[Optional[T], str]:
    """(build(), "") on success, (None, the one line that names the bad package) when a package fails it."""
    try:
        return build(), ""
    except (DebError, BaseConflictError) as e:  # Their messages already name the package(s).
        return None, str(e)
    except UNREADABLE_DEB_ERRORS:
        culprit = first_unreadable_package(debs, spec)
        if culprit is None:
            raise  # Every .deb reads alone, so this is a bug here, not a bad package: keep the traceback.
        name, reason = culprit
        return None, f"Debian package {name} ({dict(spec.debs)[name]}) is not a readable .deb: {reason}"


def main(argv: List[str]) -> int:
    if len(argv) != 2:
        print(USAGE, file=sys.stderr)
        return EXIT_USAGE
    spec_path, out_dir = argv
    try:
        spec = read_spec(spec_path)
        debs = read_debs(spec)
    except SpecError as e:
        print(one_line(f"assemble_base: {e}"), file=sys.stderr)
        return EXIT_USAGE
    outputs, problem = build_or_explain(lambda: build_outputs(spec, debs), spec, debs)
    if outputs is None:
        print(one_line(problem), file=sys.stderr)
        return EXIT_BAD_PACKAGE
    write_all_or_nothing(out_dir, outputs)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
