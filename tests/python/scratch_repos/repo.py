"""Scratch Pants repositories for end-to-end tests: the plugin's wheel installed through `[GLOBAL].plugins`
from a find-links directory, driven with the real `pants` launcher, as other repositories use the plugin."""
import os
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List

PLUGIN_VERSION = "0.1.0"
# What a scratch repository's Pants may see of the test's environment: the mirrors CI configures. Everything
# else PANTS_* (the outer run's own options) stays out, so the scratch repository is configured by its files.
PASSED_PANTS_VARIABLES = ("PANTS_CPYTHON_BUILD_SOURCE_URL_TEMPLATES", "PANTS_DEBIAN_ARCHIVE_URL")


def plugin_wheel() -> Path:
    """The wheel `runtime_package_dependencies=["pants-plugins:dist"]` put in the test's sandbox."""
    wheels = list(Path.cwd().rglob(f"pants_oci-{PLUGIN_VERSION}-py3-none-any.whl"))
    assert len(wheels) == 1, f"expected the wheel built by runtime_package_dependencies, found {wheels}"
    return wheels[0]


def pants_toml(find_links: Path, extra: str = "") -> str:
    return f"""\
[GLOBAL]
pants_version = "2.17.1"
plugins = ["pants-oci=={PLUGIN_VERSION}"]
backend_packages = ["pants.backend.python", "pants_oci"]

[python-repos]
find_links = ["file://{find_links}"]

[python]
interpreter_constraints = ["CPython>=3.11,<3.14"]
{extra}
[source]
root_patterns = ["/src"]

[anonymous-telemetry]
enabled = false
"""


def create(root: Path, files: Dict[str, str], pants_toml_extra: str = "") -> Path:
    """A repository under `root` with the launcher, a pants.toml that installs the plugin's wheel, and `files`."""
    find_links = root / "wheels"
    find_links.mkdir()
    shutil.copy(plugin_wheel(), find_links)
    repo = root / "repo"
    repo.mkdir()
    shutil.copy(Path("pants").resolve(), repo / "pants")  # the launcher (`//:launcher`), as in this repo
    (repo / "pants.toml").write_text(pants_toml(find_links, pants_toml_extra))
    for path, content in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(content)
    return repo


def run_pants(repo: Path, args: List[str], check: bool = True, timeout: int = 1500) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANTS_") or k in PASSED_PANTS_VARIABLES}
    result = subprocess.run(["bash", "./pants", "--no-pantsd", *args], cwd=repo, env=env, capture_output=True,
                            text=True, timeout=timeout)
    if check:
        assert result.returncode == 0, (
            f"./pants {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
        )
    return result


def which(name: str) -> str:
    path = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}",) if os.path.exists(p)), None)
    assert path, f"{name} is not installed; build-support/install-build-deps.sh installs it"
    return path
