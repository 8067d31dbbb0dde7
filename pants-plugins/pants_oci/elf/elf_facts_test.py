import os
import shutil
import sys
from pathlib import Path

from pants_oci.elf.elf import elf_facts_from_json, read_elf
from pants_oci.elf.elf_facts import tree_facts


def test_a_trees_elf_files_and_links_by_relative_path(tmp_path: Path) -> None:
    interpreter = Path(os.path.realpath(sys.executable))
    (tmp_path / "opt/python/bin").mkdir(parents=True)
    (tmp_path / "opt/python/lib").mkdir(parents=True)
    shutil.copy(interpreter, tmp_path / "opt/python/bin/python3.13")
    (tmp_path / "opt/python/bin/python3").symlink_to("python3.13")
    (tmp_path / "opt/python/lib/site").symlink_to("/elsewhere")  # a symlinked directory is a link, not walked
    (tmp_path / "opt/python/lib/os.py").write_text("# not ELF\n")
    elves, links = elf_facts_from_json(tree_facts(str(tmp_path)))
    assert set(elves) == {"opt/python/bin/python3.13"}
    assert elves["opt/python/bin/python3.13"] == read_elf(interpreter.read_bytes())
    assert links == {"opt/python/bin/python3": "python3.13", "opt/python/lib/site": "/elsewhere"}
