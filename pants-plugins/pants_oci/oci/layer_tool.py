"""Turn a directory tree into a deterministic .tar.gz, as a script run inside a sandboxed, cacheable process.

    python -m pants_oci.oci.layer_tool ROOT OUT.tar.gz OUT.json

Standard library only (it runs under the freshly built runtime). Walks ROOT in sorted order, takes
content, symlinks and the executable bit from the files (owner, times and other mode bits are normalized by
tarball.py), and writes the gzipped tar plus a JSON record: the diff_id (sha256 of the uncompressed tar),
sizes and entry count.
"""
import hashlib
import json
import os
import sys
from typing import List

from pants_oci.oci.tarball import Entry, gzip_bytes, write_tar


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


def main(argv: List[str]) -> int:
    root, out_archive, out_record = argv
    entries = tree_entries(root)
    tar = write_tar(entries)
    archive = gzip_bytes(tar)
    with open(out_archive, "wb") as f:
        f.write(archive)
    record = {
        "diff_id": "sha256:" + hashlib.sha256(tar).hexdigest(),
        "digest": "sha256:" + hashlib.sha256(archive).hexdigest(),
        "size": len(archive),
        "uncompressed_size": len(tar),
        "entries": len(entries),
    }
    with open(out_record, "w") as f:
        json.dump(record, f, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
