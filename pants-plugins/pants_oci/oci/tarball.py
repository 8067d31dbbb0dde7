"""A deterministic tar writer: the same files give the same bytes, whatever order or timestamps they came with.

Pure standard library (tarfile, gzip), run inside sandboxed processes (layer_tool.py, assemble_base.py,
layout_archive.py): the rules never hold the archives it writes.
"""
import gzip
import io
import os
import tarfile
from dataclasses import dataclass
from typing import BinaryIO, Dict, Iterable, List, Optional

from pants_oci.oci import determinism as D


@dataclass(frozen=True)
class Entry:
    """One archive member. `content` for files, `link_target` for symlinks, neither for directories."""

    path: str
    content: Optional[bytes] = None
    is_executable: bool = False
    link_target: Optional[str] = None
    mode: Optional[int] = None  # Overrides the normalized mode (e.g. 0o1777 for /tmp).

    @property
    def is_dir(self) -> bool:
        return self.content is None and self.link_target is None


def _normalize(path: str) -> str:
    normalized = path.strip("/")
    if not normalized or any(part in ("", ".", "..") for part in normalized.split("/")):
        raise ValueError(f"archive paths must be relative, without '.' or '..' parts: {path!r}")
    return normalized


def _parents(path: str) -> List[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def with_parent_directories(entries: Iterable[Entry]) -> List[Entry]:
    """Every entry, plus an explicit entry for each parent directory, sorted by path, one entry per path."""
    by_path: Dict[str, Entry] = {}
    for entry in entries:
        path = _normalize(entry.path)
        if path in by_path and by_path[path] != Entry(
            path, entry.content, entry.is_executable, entry.link_target, entry.mode
        ):
            if not (by_path[path].is_dir and entry.is_dir):
                raise ValueError(f"two different entries for {path!r} in one archive")
        by_path[path] = Entry(path, entry.content, entry.is_executable, entry.link_target, entry.mode)
    for path in list(by_path):
        for parent in _parents(path):
            by_path.setdefault(parent, Entry(parent))
    return [by_path[p] for p in sorted(by_path)]


def _tarinfo(entry: Entry, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(entry.path + ("/" if entry.is_dir else ""))
    info.mtime = mtime
    info.uid, info.gid = D.OWNER_UID, D.OWNER_GID
    info.uname = info.gname = ""
    if entry.link_target is not None:
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, entry.link_target, D.SYMLINK_MODE
    elif entry.is_dir:
        info.type, info.mode = tarfile.DIRTYPE, D.DIR_MODE
    else:
        assert entry.content is not None  # neither a link nor a directory
        info.size = len(entry.content)
        info.mode = D.EXECUTABLE_MODE if entry.is_executable else D.FILE_MODE
    if entry.mode is not None:
        info.mode = entry.mode
    return info


def write_tar(entries: Iterable[Entry], mtime: int = D.DEFAULT_EPOCH) -> bytes:
    """An uncompressed tar (PAX for long names) of `entries` with parents made explicit, sorted by path."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in with_parent_directories(entries):
            info = _tarinfo(entry, mtime)
            tar.addfile(info, io.BytesIO(entry.content) if entry.content is not None else None)
    return out.getvalue()


def write_tar_of_directory(out: BinaryIO, root: str, mtime: int = D.DEFAULT_EPOCH) -> None:
    """What `write_tar` makes of the regular files under `root` (read as plain, non-executable files), streamed
    file by file from disk to `out`: an OCI archive of a layout directory without holding its blobs in memory."""
    sizes = {}
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            path = os.path.join(directory, name)
            sizes[os.path.relpath(path, root)] = os.path.getsize(path)
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in with_parent_directories(Entry(path, b"") for path in sizes):
            if entry.is_dir:
                tar.addfile(_tarinfo(entry, mtime))
                continue
            info = _tarinfo(entry, mtime)
            info.size = sizes[entry.path]
            with open(os.path.join(root, entry.path), "rb") as f:
                tar.addfile(info, f)


def gzip_bytes(data: bytes) -> bytes:
    """gzip with a fixed header: mtime 0, no file name, fixed level (same bytes on every machine)."""
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=D.GZIP_LEVEL, mtime=D.GZIP_MTIME) as gz:
        gz.write(data)
    return out.getvalue()


def read_tar(tar: bytes) -> List[Entry]:
    """The entries of an uncompressed tar written by `write_tar` (files, symlinks, directories), in order."""
    entries = []
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        for member in archive.getmembers():
            path = member.name.rstrip("/")
            if member.issym():
                entries.append(Entry(path, link_target=member.linkname))
            elif member.isdir():
                entries.append(Entry(path, mode=member.mode))
            elif member.isfile():
                extracted = archive.extractfile(member)
                content = extracted.read() if extracted else b""
                entries.append(Entry(path, content, is_executable=bool(member.mode & 0o111)))
    return entries
