"""Ship some of the plugin's own modules into a sandbox, so a process can run them with `python -m`.

Only modules that use the standard library alone qualify: they run under the built runtime or Pants' own
interpreter, never with the plugin installed.
"""
import pkgutil
from typing import Tuple

from pants.engine.fs import FileContent


def plugin_modules(*paths: str) -> Tuple[FileContent, ...]:
    """`paths` relative to the pants_oci package (e.g. "oci/registry.py"), plus the `__init__.py` files that
    make them importable as `pants_oci.<...>`."""
    packages = {"pants_oci/__init__.py"}
    for path in paths:
        parts = path.split("/")[:-1]
        packages.update("/".join(["pants_oci", *parts[: i + 1], "__init__.py"]) for i in range(len(parts)))
    files = [FileContent(init, b"") for init in sorted(packages)]
    for path in paths:
        data = pkgutil.get_data("pants_oci", path)
        assert data is not None, f"pants_oci/{path} is missing from the plugin"
        files.append(FileContent(f"pants_oci/{path}", data))
    return tuple(files)
