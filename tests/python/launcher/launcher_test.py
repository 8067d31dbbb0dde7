"""End-to-end tests of the ./pants launcher script on empty caches.

These run the real script: they install pantsbuild.pants from the machine's package index into a temporary
cache, so each fresh install takes a few tens of seconds.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

PANTS_TOML = '[GLOBAL]\npants_version = "2.17.1"\n[anonymous-telemetry]\nenabled = false\n'


def _launcher_source() -> Path:
    # The `files` target puts the script at its repo-relative path in the sandbox.
    return Path("pants").resolve()


def _launcher_setting(name: str) -> str:
    match = re.search(rf'^readonly {name}="([^"]+)"$', _launcher_source().read_text(), re.M)
    assert match, f"{name} is not set in the launcher"
    return match.group(1)


@pytest.fixture
def scratch_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(_launcher_source(), repo / "pants")
    (repo / "pants.toml").write_text(PANTS_TOML)
    return repo


def _env(cache: Path, **overrides: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANTS_")}
    env["PANTS_BOOTSTRAP_CACHE"] = str(cache)
    env.update(overrides)
    return env


def _run(repo: Path, args: List[str], env: Dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "./pants", "--no-pantsd", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=900
    )


def _python39() -> str:
    """Find the same 3.9 the launcher would, to point PANTS_BOOTSTRAP_PYTHON at it."""
    probe = subprocess.run(
        [
            "bash",
            "-c",
            'ls -d "$(pyenv root)"/versions/3.9.*/bin/python3.9 2>/dev/null | tail -1; command -v python3.9',
        ],
        capture_output=True,
        text=True,
    )
    for candidate in probe.stdout.split():
        if subprocess.run([candidate, "-c", "import sys; assert sys.version_info[:2] == (3, 9)"]).returncode == 0:
            return candidate
    pytest.fail("these tests need a CPython 3.9 (the launcher needs one too)")


def test_without_python39_it_says_what_to_install(scratch_repo: Path, tmp_path: Path) -> None:
    bare_path = tmp_path / "bin"
    bare_path.mkdir()
    for tool in ("bash", "flock", "mkdir", "rm", "ls", "sort", "dirname", "cat", "touch"):
        found = shutil.which(tool)
        if found:
            (bare_path / tool).symlink_to(found)
    env = _env(tmp_path / "cache", PATH=str(bare_path))
    env.pop("PYENV_ROOT", None)
    result = subprocess.run(
        [str(bare_path / "bash"), "./pants", "--version"], cwd=scratch_repo, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "needs a CPython 3.9 interpreter and none was found" in result.stderr
    assert "pyenv install 3.9" in result.stderr
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").glob("*/.complete"))


def test_a_bad_override_is_named(scratch_repo: Path, tmp_path: Path) -> None:
    env = _env(
        tmp_path / "cache", PANTS_BOOTSTRAP_PYTHON=sys.executable if sys.version_info[:2] != (3, 9) else "/nonexistent"
    )
    result = _run(scratch_repo, ["--version"], env)
    assert result.returncode != 0
    assert "PANTS_BOOTSTRAP_PYTHON=" in result.stderr and "is not a working CPython 3.9" in result.stderr


def test_two_launchers_at_once_on_an_empty_cache_both_succeed(scratch_repo: Path, tmp_path: Path) -> None:
    env = _env(tmp_path / "cache", PANTS_BOOTSTRAP_PYTHON=_python39())
    runs = [
        subprocess.Popen(
            ["bash", "./pants", "--no-pantsd", "--version"],
            cwd=scratch_repo,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=900) for run in runs]
    for run, (out, err) in zip(runs, outputs):
        assert run.returncode == 0, err
        assert out.strip() == "2.17.1"
    # Exactly one of them built the cache; the other waited for it.
    assert sum("First run" in err for _, err in outputs) == 1
    assert list((tmp_path / "cache").glob("*/.complete"))

    # Warm: arguments pass through and Pants' exit code is kept.
    failing = _run(scratch_repo, ["list", "no/such:target"], env)
    assert failing.returncode != 0
    assert "no/such" in failing.stderr


def test_a_half_built_cache_from_a_killed_run_is_rebuilt(scratch_repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    leftover = cache / f"pants-2.17.1-pex-{_launcher_setting('PEX_CLI_VERSION')}-v{_launcher_setting('CACHE_LAYOUT')}"
    (leftover / "venv" / "bin").mkdir(parents=True)
    (leftover / "venv" / "bin" / "pants").write_text("#!/bin/sh\nexit 42\n")
    env = _env(cache, PANTS_BOOTSTRAP_PYTHON=_python39())
    result = _run(scratch_repo, ["--version"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2.17.1"
    assert (leftover / ".complete").exists()
