"""Write the OCI archive of a layout directory, as a script run inside a sandboxed, cacheable process.

    python -m pants_oci.oci.layout_archive LAYOUT_DIR OUT.tar

An OCI archive (`oci-archive:` in skopeo, what `podman load` and `docker load` read) is the layout directory as
an uncompressed tar. It is written deterministically (tarball.py: sorted, fixed owner, modes and mtime) and
streamed blob by blob, so neither the rules nor this process hold the layers in memory. Standard library only.
"""
import sys
from typing import List

from pants_oci.oci.tarball import write_tar_of_directory


def main(argv: List[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m pants_oci.oci.layout_archive LAYOUT_DIR OUT.tar", file=sys.stderr)
        return 1
    layout_dir, out_path = argv
    with open(out_path, "wb") as out:
        write_tar_of_directory(out, layout_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
