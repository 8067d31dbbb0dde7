"""Turn a directory tree into a deterministic .tar.gz, as a script run inside a sandboxed, cacheable process.

    python -m pants_oci.oci.layer_tool ROOT OUT.tar.gz OUT.json
        [--mtime SECONDS] [--compile DIR=FINAL_PATH ...] [--forbid TEXT]

Standard library only (it runs under the freshly built runtime). Walks ROOT in sorted order, takes
content, symlinks and the executable bit from the files (owner, times and other mode bits are normalized by
tarball.py), and writes the gzipped tar plus a JSON record: the diff_id (sha256 of the uncompressed tar),
sizes and entry count.

`--compile` first byte-compiles ROOT/DIR the way the runtime's own stdlib is compiled: `unchecked-hash` pycs
(no source timestamps, never rewritten at run time) whose code objects name FINAL_PATH, the path the files
have in the image, not the sandbox. The caller sets PYTHONHASHSEED=0 so frozenset constants marshal in a fixed
order. `--forbid` fails if any file contains TEXT (the sandbox directory prefix), so no build path ships.
"""
import argparse
import compileall
import hashlib
import json
import os
import py_compile
import sys
from typing import List, Sequence

from pants_oci.oci import determinism as D
from pants_oci.oci.tarball import Entry, gzip_bytes, write_tar

EXIT_FORBIDDEN_TEXT = 3


def tree_entries(root: str) -> List[Entry]:
    entries = []
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        relative_dir = os.path.relpath(directory, root)
        if relative_dir != ".":
            entries.append(Entry(relative_dir))
        for name in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(directory, d))]):
            path = os.path.join(directory, name)
            relative = os.path.normpath(os.path.join(relative_dir, name))
            if os.path.islink(path):
                entries.append(Entry(relative, link_target=os.readlink(path)))
            else:
                with open(path, "rb") as f:
                    entries.append(Entry(relative, f.read(), is_executable=bool(os.stat(path).st_mode & 0o111)))
    return entries


def compile_tree(root: str, directory: str, final_path: str) -> None:
    """Byte-compile ROOT/DIRECTORY as files that will live at FINAL_PATH. Files that fail to compile (a
    distribution's Python 2 test data, say) are skipped, as pip skips them."""
    target = os.path.join(root, directory)
    if os.path.isdir(target):
        compileall.compile_dir(
            target,
            ddir=final_path,
            quiet=2,
            workers=1,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )


def files_containing(entries: Sequence[Entry], text: bytes) -> List[str]:
    return [e.path for e in entries if e.content is not None and text in e.content]


def _parse(argv: List[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="layer_tool")
    parser.add_argument("root")
    parser.add_argument("out_archive")
    parser.add_argument("out_record")
    parser.add_argument("--mtime", type=int, default=D.DEFAULT_EPOCH)
    parser.add_argument("--compile", action="append", default=[], metavar="DIR=FINAL_PATH")
    parser.add_argument("--forbid", default=None)
    return parser.parse_args(argv)


def main(argv: List[str]) -> int:
    args = _parse(argv)
    for spec in args.compile:
        directory, _, final_path = spec.partition("=")
        compile_tree(args.root, directory, final_path)
    entries = tree_entries(args.root)
    if args.forbid:
        offending = files_containing(entries, args.forbid.encode())
        if offending:
            print(f"These files contain the build path {args.forbid!r}: " + ", ".join(offending[:20]), file=sys.stderr)
            return EXIT_FORBIDDEN_TEXT
    tar = write_tar(entries, mtime=args.mtime)
    archive = gzip_bytes(tar)
    with open(args.out_archive, "wb") as f:
        f.write(archive)
    record = {
        "diff_id": "sha256:" + hashlib.sha256(tar).hexdigest(),
        "digest": "sha256:" + hashlib.sha256(archive).hexdigest(),
        "size": len(archive),
        "uncompressed_size": len(tar),
        "entries": len(entries),
    }
    with open(args.out_record, "w") as f:
        json.dump(record, f, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
