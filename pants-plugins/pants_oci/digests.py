"""Helpers over the engine's Digests."""
from pants.engine.fs import DigestEntries, FileDigest, FileEntry


def first_file_digest(entries: DigestEntries) -> FileDigest:
    """The file digest of the first entry of a one-file Digest (a download, a process's one output, a layer blob),
    to re-create the file under another name with `FileEntry(path, ...)` without reading its bytes."""
    entry = entries[0] if entries else None
    if not isinstance(entry, FileEntry):
        raise ValueError(f"Expected a Digest that holds a file, but its first entry is {entry!r}")
    return entry.file_digest
