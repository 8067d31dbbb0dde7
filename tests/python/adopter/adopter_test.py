"""The README's "Use it in your repository" section, followed literally in a scratch repository, and what each of
its `pants.toml` sections is for:

- `[pex-cli]`: Pants 2.17's default pex cannot build an image on CPython 3.12+; such an image is refused before
  anything is built, with the lines to add.
- `[subprocess-environment]`: a machine-wide pip configuration with an unrelated `constraint` (as some machines
  have) breaks every locked download unless pip reads no configuration file. Reproduced in a mount namespace, so
  the test does not depend on what this machine's /etc holds.
- `image_tags` is the image's field, `tags` stays Pants' own: `--tag` selects images.
"""
import os
import shutil
from pathlib import Path
from typing import List

import pytest

from scratch_repos.repo import PEX_VERSION, create, pants_toml, pex_cli_section, run_pants

BUILD = """\
python_runtime(name="py313", version="3.13.5", optimizations="none")
python_requirement(name="humanize", requirements=["humanize==4.9.0"])
python_sources(name="app")
pex_binary(name="greet", entry_point="greet.py")
python_oci_image(name="img", runtime=":py313", binary=":greet", image_tags=["1.0"], tags=["team-a"])
"""

RESOLVES = """\
enable_resolves = true

[python.resolves]
python-default = "3rdparty/python/default.lock"
"""

# A machine-wide pip configuration like the one measured on some machines of this kind: a constraint on a package
# nothing here uses. pex's pip (legacy resolver, --isolated) asserts on it for every locked download. Mounted in a
# private mount namespace, so the machine's own /etc is never changed.
_HOSTILE_PIP_CONFIG = r"""
set -e
mount -t tmpfs pip-config /etc/xdg
mkdir /etc/xdg/pip
printf '[global]\nconstraint = /etc/xdg/pip/constraints.txt\n' > /etc/xdg/pip/pip.conf
printf 'torch<=2.14.1\n' > /etc/xdg/pip/constraints.txt
# pex keeps downloads in its own cache under the home directory too (not only in Pants' named caches): empty it,
# so pip really downloads.
mkdir -p "$HOME/.cache/pex"
mount -t tmpfs pex-cache "$HOME/.cache/pex"
exec "$@"
"""


def _with_hostile_pip_config(argv: List[str]) -> List[str]:
    if not os.path.isdir("/etc/xdg"):
        pytest.skip("this machine has no /etc/xdg to mount the machine-wide pip configuration over")
    unshare = ["unshare", "--mount"] if os.geteuid() == 0 else ["unshare", "--user", "--map-root-user", "--mount"]
    return [*unshare, "sh", "-c", _HOSTILE_PIP_CONFIG, "hostile-pip-config", *argv]


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    return create(
        tmp_path_factory.mktemp("adopter"),
        {"src/BUILD": BUILD, "src/greet.py": "import humanize\nprint(humanize.naturalsize(3072))\n"},
        pants_toml_extra=RESOLVES,
    )


def _set_pants_toml(repo: Path, **readme_sections: bool) -> None:
    find_links = repo.parent / "wheels"
    (repo / "pants.toml").write_text(pants_toml(find_links, RESOLVES, **readme_sections))


def _fresh_caches(tmp_path: Path) -> List[str]:
    """An empty pex root and no cached process results, so pip really downloads."""
    return [f"--named-caches-dir={tmp_path / 'named'}", "--no-local-cache"]


def test_machine_wide_pip_configuration_does_not_break_locked_downloads(repo: Path, tmp_path: Path) -> None:
    _set_pants_toml(repo)
    # The Python resolve only: the Debian locks (build root, base, container tools) involve no pip.
    run_pants(
        repo,
        [*_fresh_caches(tmp_path), "generate-lockfiles", "--resolve=python-default"],
        wrap=_with_hostile_pip_config,
    )
    package = run_pants(repo, [*_fresh_caches(tmp_path), "package", "src:greet"], wrap=_with_hostile_pip_config)
    assert "Wrote dist/src/greet.pex" in package.stderr

    # Without the README's [subprocess-environment] lines, the same download fails as it did on such machines.
    _set_pants_toml(repo, pip_isolation=False)
    try:
        shutil.rmtree(tmp_path / "named")
        broken = run_pants(
            repo, [*_fresh_caches(tmp_path), "package", "src:greet"], check=False, wrap=_with_hostile_pip_config
        )
    finally:
        _set_pants_toml(repo)
    assert broken.returncode != 0
    assert "pip: AssertionError" in broken.stderr


def test_an_image_on_313_with_pants_default_pex_is_refused_before_anything_is_built(repo: Path) -> None:
    # Pants 2.17's default pex CLI, 2.1.137, chosen explicitly (built from PyPI: its release page is not reachable
    # here): the launcher leaves a pants.toml with [pex-cli] alone.
    _set_pants_toml(repo, pex_cli=False)
    toml = repo / "pants.toml"
    toml.write_text(toml.read_text() + "\n" + pex_cli_section("2.1.137"))
    try:
        result = run_pants(repo, ["package", "src:img"], check=False)
    finally:
        _set_pants_toml(repo)
    assert result.returncode != 0
    assert "The image src:img runs CPython 3.13.5 (the runtime src:py313)" in result.stderr
    assert f"need pex {PEX_VERSION} or newer, but Pants is configured to run pex 2.1.137" in result.stderr
    assert f'[pex-cli]\nversion = "v{PEX_VERSION}"\nknown_versions = [\n  "v{PEX_VERSION}|linux_x86_64|' in (
        result.stderr
    )
    assert "Compiling CPython" not in result.stderr and "build root" not in result.stderr


def test_image_tags_is_the_images_field_and_tags_stays_pants_own(repo: Path) -> None:
    help_text = run_pants(repo, ["help", "python_oci_image"]).stdout
    assert help_text.count("\nimage_tags\n") == 1 and help_text.count("\ntags\n") == 1
    assert run_pants(repo, ["--tag=team-a", "list", "::"]).stdout.split() == ["src:img"]
    assert "src:img" not in run_pants(repo, ["--tag=-team-a", "list", "::"]).stdout.split()
    peek = run_pants(repo, ["peek", "src:img"]).stdout
    assert '"image_tags": [\n      "1.0"\n    ]' in peek and '"tags": [\n      "team-a"\n    ]' in peek
