"""Write one image layer, as a script run inside a sandboxed, cacheable process: the only layer writer.

    python -m pants_oci.oci.layer_tool SOURCE OUT_DIR
        [--from-tar] [--mtime SECONDS] [--compile DIR=FINAL_PATH ...] [--forbid TEXT]
        [--compression gzip|zstd] [--zstd PROGRAM] [--zstd-level N] [--elf-facts] [--gzip-python ARG ...]

Standard library only (it runs under the freshly built runtime, to byte-compile with its version, or under the
sandbox Python of the [container-tools] lock). SOURCE is a directory
tree, walked in sorted order, taking content, symlinks and the executable bit from the files (owner, times and
other mode bits are normalized by tarball.py); or, with `--from-tar`, an uncompressed tar that is already the
layer (the Debian base, whose modes a directory in a Pants digest cannot carry).

OUT_DIR receives the compressed blob at `blobs/sha256/<hex>` (where an OCI layout keeps it, so the rules place it
by merging digests without reading it) and `layer.json`: media type, digest, size, diff_id (sha256 of the
uncompressed tar), uncompressed size and entry count. Before it writes them, the blob is decompressed again and
its sha256 compared with the diff_id: the one pass over the layer's bytes that proves the record, so image
assembly works from records alone. With `--elf-facts`, also `facts.json`: the tree's ELF files and symlinks
(`elf/elf_facts.py`), for the image's closure check.

`--compile` first byte-compiles SOURCE/DIR the way the runtime's own stdlib is compiled: `unchecked-hash` pycs
(no source timestamps, never rewritten at run time) whose code objects name FINAL_PATH, the path the files
have in the image, not the sandbox. The caller sets PYTHONHASHSEED=0 so frozenset constants marshal in a fixed
order. `--forbid` fails if any file contains TEXT (the sandbox directory prefix), so no build path ships.

zstd layers are written by the `zstd` program given (from a Debian lock: the standard library has no zstd before
3.14), single-threaded at a fixed level, without the file name or time: the same tar gives the same bytes.
gzip layers are deflated by the zlib of the sandbox Python (the lock's zlib1g, loaded by the lock's own loader):
in this process when that Python runs it, else piped through it (`--gzip-python`, the argv that runs it). So no
gzip byte depends on the host's zlib (zlib-ng on Fedora writes other streams) or on which build root a runtime came
from.
"""
import argparse
import compileall
import gzip
import hashlib
import io
import json
import os
import py_compile
import subprocess
import sys
import tarfile
from typing import List, Optional, Sequence

from pants_oci.exits import EXIT_OK, EXIT_USAGE, ToolArgumentParser, explained
from pants_oci.oci import determinism as D
from pants_oci.oci.tarball import Entry, gzip_bytes, write_tar

GZIP_STDIN = "--gzip-stdin"  # gzip stdin to stdout, and nothing else (see gzip_with)

RECORD_FILE = "layer.json"
FACTS_FILE = "facts.json"
MEDIA_TYPES = {
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}


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


class CompressorError(Exception):
    pass


def compress(
    tar: bytes, compression: str, zstd: Optional[str], zstd_level: int, gzip_python: Sequence[str] = ()
) -> bytes:
    if compression == "gzip":
        return gzip_with(gzip_python, tar) if gzip_python else gzip_bytes(tar)
    if not zstd:
        raise CompressorError("zstd compression needs --zstd PROGRAM")
    argv = [zstd, f"-{zstd_level}", "--single-thread", "--no-progress", "-q", "-c"]
    if zstd_level > 19:
        argv.insert(1, "--ultra")
    result = subprocess.run(argv, input=tar, capture_output=True)
    if result.returncode != 0:
        raise CompressorError(f"{zstd} exited {result.returncode}: {result.stderr.decode(errors='replace')}")
    return result.stdout


def gzip_with(python: Sequence[str], data: bytes) -> bytes:
    """gzip `data` in another Python (this module's --gzip-stdin): the deflate bytes are that Python's zlib's, so
    a layer written by a runtime is compressed by the same pinned zlib as every other layer."""
    result = subprocess.run(
        [*python, "-s", "-B", "-m", "pants_oci.oci.layer_tool", GZIP_STDIN], input=data, capture_output=True
    )
    if result.returncode != 0:
        raise CompressorError(
            f"gzip in {python[-1]} exited {result.returncode}: {result.stderr.decode(errors='replace')}"
        )
    return result.stdout


def decompress(blob: bytes, compression: str, zstd: Optional[str]) -> bytes:
    if compression == "gzip":
        return gzip.decompress(blob)
    result = subprocess.run([str(zstd), "-d", "-q", "-c"], input=blob, capture_output=True)
    if result.returncode != 0:
        raise CompressorError(f"{zstd} -d exited {result.returncode}: {result.stderr.decode(errors='replace')}")
    return result.stdout


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_layer(tar: bytes, entries: int, out_dir: str, args: argparse.Namespace) -> int:
    """Compress, prove the blob decompresses to the tar, then write the blob and its record."""
    try:
        blob = compress(tar, args.compression, args.zstd, args.zstd_level, args.gzip_python)
        round_trip = decompress(blob, args.compression, args.zstd)
    except CompressorError as e:
        return explained(f"Cannot compress the layer: {e}")
    diff_id = sha256(tar)
    if sha256(round_trip) != diff_id:
        return explained(f"The {args.compression} blob does not decompress to the layer's tar ({diff_id})")
    digest = sha256(blob)
    blob_dir = os.path.join(out_dir, "blobs", "sha256")
    os.makedirs(blob_dir, exist_ok=True)
    with open(os.path.join(blob_dir, digest.split(":", 1)[1]), "wb") as f:
        f.write(blob)
    record = {
        "media_type": MEDIA_TYPES[args.compression],
        "digest": digest,
        "size": len(blob),
        "diff_id": diff_id,
        "uncompressed_size": len(tar),
        "entries": entries,
    }
    with open(os.path.join(out_dir, RECORD_FILE), "w") as f:
        json.dump(record, f, sort_keys=True)
    return EXIT_OK


def tar_member_count(tar: bytes) -> int:
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        return len(archive.getmembers())


def write_elf_facts(root: str, out_dir: str) -> None:
    # Imported here: only layers whose facts are read ship the ELF reader (layer/rules.py).
    from pants_oci.elf.elf_facts import tree_facts

    with open(os.path.join(out_dir, FACTS_FILE), "w") as f:
        json.dump(tree_facts(root), f, sort_keys=True)


def _parse(argv: List[str]) -> argparse.Namespace:
    parser = ToolArgumentParser(prog="layer_tool")
    parser.add_argument("source", help="a directory tree, or an uncompressed tar with --from-tar")
    parser.add_argument("out_dir")
    parser.add_argument("--from-tar", action="store_true")
    parser.add_argument("--mtime", type=int, default=D.DEFAULT_EPOCH)
    parser.add_argument("--compile", action="append", default=[], metavar="DIR=FINAL_PATH")
    parser.add_argument("--forbid", default=None)
    parser.add_argument("--compression", choices=sorted(MEDIA_TYPES), default="gzip")
    parser.add_argument("--zstd", default=None, metavar="PROGRAM")
    parser.add_argument("--zstd-level", type=int, default=19)
    parser.add_argument("--elf-facts", action="store_true")
    parser.add_argument(
        "--gzip-python", action="append", default=[], metavar="ARG", help="the argv of the Python that gzips (repeat)"
    )
    return parser.parse_args(argv)


def main(argv: List[str]) -> int:
    if argv == [GZIP_STDIN]:
        sys.stdout.buffer.write(gzip_bytes(sys.stdin.buffer.read()))
        return EXIT_OK
    args = _parse(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    if args.from_tar:
        if args.compile or args.forbid or args.elf_facts:
            # The rule refuses these before it runs the tool: getting here is a bug in the rule.
            print("--compile, --forbid and --elf-facts need a tree, not --from-tar", file=sys.stderr)
            return EXIT_USAGE
        with open(args.source, "rb") as f:
            tar = f.read()
        return write_layer(tar, tar_member_count(tar), args.out_dir, args)
    for spec in args.compile:
        directory, _, final_path = spec.partition("=")
        compile_tree(args.source, directory, final_path)
    entries = tree_entries(args.source)
    if args.forbid:
        offending = files_containing(entries, args.forbid.encode())
        if offending:
            return explained(f"These files contain the build path {args.forbid!r}: " + ", ".join(offending[:20]))
    if args.elf_facts:
        write_elf_facts(args.source, args.out_dir)
    return write_layer(write_tar(entries, mtime=args.mtime), len(entries), args.out_dir, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
