"""Checks and rules the tests of several packages share (test code only: not in the wheel, never shipped to a
sandbox)."""
import ast

from pants.core.util_rules.adhoc_binaries import PythonBuildStandaloneBinary
from pants.engine.fs import EMPTY_DIGEST
from pants.engine.rules import rule

from pants_oci.sandbox import SandboxPython, SandboxPythonRequest


def imports_pants(source: bytes) -> bool:
    """Whether a module's source imports Pants, at any depth of its code (inside functions too)."""
    for node in ast.walk(ast.parse(source)):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        if any(n == "pants" or n.startswith("pants.") for n in names):
            return True
    return False


@rule
async def sandbox_python_for_tests(_: SandboxPythonRequest, python: PythonBuildStandaloneBinary) -> SandboxPython:
    """In place of tools/rules.py: sandbox_python, for a RuleRunner that runs sandbox tools without locking and
    downloading the [container-tools] lock: the interpreter running the test (Pants' own, in a RuleRunner). Its path
    names this machine, so give the runner `isolated_local_store=True`: no result keyed on it outlives the test."""
    return SandboxPython(EMPTY_DIGEST, (python.path,))
