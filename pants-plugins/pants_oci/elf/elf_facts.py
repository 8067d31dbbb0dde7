"""Read the ELF facts of a directory tree, as a script run in a sandboxed, cacheable process.

    python -m pants_oci.elf.elf_facts TREE_DIR OUT_JSON

OUT_JSON gets `elf.elf_facts_to_json` of the tree: each ELF file's needed libraries, soname, runpath, symbol
versions and machine, and each symlink's target, by path relative to TREE_DIR. The closure checks of every image
read this small file instead of the tree's bytes, so a runtime's libraries are read once, where it is built, and
the facts are a Digest a remote cache can share. Standard library only (plus elf.py, shipped with it).
"""
import json
import os
import sys
from typing import Dict, List

from pants_oci.elf.elf import ElfInfo, elf_facts_to_json, read_elf

ELF_MAGIC = b"\x7fELF"


def tree_facts(root: str) -> dict:
    elves: Dict[str, ElfInfo] = {}
    links: Dict[str, str] = {}
    for directory, subdirectories, files in os.walk(root):
        subdirectories.sort()  # os.walk does not follow symlinked directories; they are listed here
        for name in sorted(subdirectories + files):
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, root)
            if os.path.islink(path):
                links[relative] = os.readlink(path)
            elif name in files and _starts_with_elf_magic(path):
                with open(path, "rb") as f:
                    info = read_elf(f.read())
                if info is not None:
                    elves[relative] = info
    return elf_facts_to_json(elves, links)


def _starts_with_elf_magic(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == ELF_MAGIC


def main(argv: List[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m pants_oci.elf.elf_facts TREE_DIR OUT_JSON", file=sys.stderr)
        return 1
    tree, out = argv
    with open(out, "w", encoding="utf-8") as f:
        json.dump(tree_facts(tree), f, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
