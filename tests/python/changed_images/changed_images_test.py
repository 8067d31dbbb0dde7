"""`--changed-since` selects exactly the images a change affects: the CI recipe for monorepos, end to end.

A scratch git repository with two services on a shared library and two runtimes (one per service). Each case
changes one file in the work tree and asks Pants which images `--changed-dependents=transitive` selects.
"""
import subprocess
from pathlib import Path
from typing import Set

import pytest

from scratch_repos.repo import create, run_pants

FILES = {
    "rt313/BUILD": 'python_runtime(name="py", version="3.13.5", optimizations="none")\n',
    "rt311/BUILD": 'python_runtime(name="py", version="3.11.2", optimizations="none")\n',
    "src/shared/BUILD": "python_sources()\n",
    "src/shared/__init__.py": "",
    "src/shared/words.py": "def count(text):\n    return len(text.split())\n",
    "src/alpha/BUILD": (
        "python_sources()\n"
        'pex_binary(name="bin", entry_point="main.py")\n'
        'python_oci_image(name="img", runtime="rt313:py", binary=":bin")\n'
    ),
    "src/alpha/__init__.py": "",
    "src/alpha/main.py": "from shared.words import count\nprint(count('alpha service'))\n",
    "src/beta/BUILD": (
        "python_sources()\n"
        'pex_binary(name="bin", entry_point="main.py")\n'
        'python_oci_image(name="img", runtime="rt311:py", binary=":bin")\n'
    ),
    "src/beta/__init__.py": "",
    "src/beta/main.py": "from shared.words import count\nprint(count('beta service'))\n",
    "README.md": "# scratch monorepo\n",
}


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = create(tmp_path_factory.mktemp("changed"), FILES)
    (repo / ".gitignore").write_text("/dist/\n/.pants.d/\n/.pids/\n")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "two services, a shared library, two runtimes")
    return repo


def _changed_images(repo: Path, path: str, append: str) -> Set[str]:
    target = repo / path
    original = target.read_text()
    target.write_text(original + append)
    try:
        listed = run_pants(
            repo,
            [
                "--changed-since=HEAD",
                "--changed-dependents=transitive",
                "--filter-target-type=python_oci_image",
                "list",
            ],
        )
    finally:
        target.write_text(original)
    return set(listed.stdout.split())


def test_the_graph_knows_what_an_image_is_made_of(repo: Path) -> None:
    deps = run_pants(repo, ["dependencies", "--transitive", "src/alpha:img"]).stdout.split()
    assert {"rt313:py", "src/alpha:bin", "src/shared/words.py"} <= set(deps)


def test_a_service_change_selects_only_its_image(repo: Path) -> None:
    assert _changed_images(repo, "src/alpha/main.py", "print('more')\n") == {"src/alpha:img"}


def test_a_shared_library_change_selects_both_images(repo: Path) -> None:
    assert _changed_images(repo, "src/shared/words.py", "# faster\n") == {"src/alpha:img", "src/beta:img"}


def test_a_runtime_change_selects_the_images_on_that_runtime(repo: Path) -> None:
    changed = _changed_images(repo, "rt311/BUILD", "# a new patch release soon\n")
    assert changed == {"src/beta:img"}


def test_a_readme_change_selects_no_image(repo: Path) -> None:
    assert _changed_images(repo, "README.md", "More words.\n") == set()
