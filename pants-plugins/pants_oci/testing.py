"""Checks the tests of several packages share (test code only: not in the wheel, never shipped to a sandbox)."""
import ast


def imports_pants(source: bytes) -> bool:
    """Whether a module's source imports Pants, at any depth of its code (inside functions too)."""
    for node in ast.walk(ast.parse(source)):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        if any(n == "pants" or n.startswith("pants.") for n in names):
            return True
    return False
