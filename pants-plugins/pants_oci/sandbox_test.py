import subprocess
import sys
from pathlib import Path

import pytest

from pants_oci.debian.base_rules import ASSEMBLE_BASE, ASSEMBLE_ROOT, FETCH_INDEX
from pants_oci.image.package import LAYOUT_ARCHIVE
from pants_oci.image.publish import REGISTRY_TOOL
from pants_oci.layer.rules import LAYER_TOOL
from pants_oci.runtime.package import ELF_FACTS
from pants_oci.runtime.source import VERIFY_SOURCE
from pants_oci.sandbox import SandboxTool, module_closure, shipped_files
from pants_oci.testing import imports_pants

TOOLS = [ASSEMBLE_BASE, ASSEMBLE_ROOT, FETCH_INDEX, LAYOUT_ARCHIVE, REGISTRY_TOOL, LAYER_TOOL, ELF_FACTS, VERIFY_SOURCE]


def test_the_closure_follows_imports_at_any_depth() -> None:
    closure = module_closure("pants_oci.oci.layer_tool")
    # tarball and determinism at the top; the ELF reader imported inside a function.
    assert {"oci/layer_tool.py", "oci/tarball.py", "oci/determinism.py", "elf/elf_facts.py", "elf/elf.py"} <= set(
        closure
    )
    assert "layer/rules.py" not in closure and "sandbox.py" not in closure


def test_unknown_module_is_a_bug() -> None:
    with pytest.raises(ValueError, match="not a module of the plugin"):
        module_closure("pants_oci.oci.no_such_tool")


@pytest.mark.parametrize("tool", TOOLS, ids=lambda t: t.module)
def test_every_tool_ships_what_it_imports_and_nothing_of_pants(tool: SandboxTool, tmp_path: Path) -> None:
    """The shipped files alone import the tool, with nothing of Pants: the sandbox has no Pants. Test-only code
    does not ship (an edit to it would re-key every process of the tool)."""
    assert not [p for p in module_closure(tool.module) if "testing" in p or p == "elf/hardening.py"]
    for shipped in shipped_files(tool):
        if shipped.path.endswith(".py"):
            assert not imports_pants(shipped.content), shipped.path
        target = tmp_path / shipped.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(shipped.content)
    subprocess.run([sys.executable, "-s", "-B", "-E", "-c", f"import {tool.module}"], cwd=tmp_path, check=True)
