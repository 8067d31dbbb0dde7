"""oci/ is pure: the OCI model, the registry client and the sandbox tools, with no Pants import, so each can run
in a sandbox or a plain process. Rules that build on it live above it (layer/rules.py, image/)."""
from pathlib import Path

from pants_oci.testing import imports_pants

OCI_DIR = Path(__file__).parent


def test_no_module_of_oci_imports_pants() -> None:
    modules = sorted(OCI_DIR.glob("*.py"))
    # The BUILD file gives this test every module of the package; a sandbox without them would prove nothing.
    assert {"layer_tool.py", "model.py", "registry.py", "tarball.py"} <= {m.name for m in modules}
    assert [m.name for m in modules if imports_pants(m.read_bytes())] == []
