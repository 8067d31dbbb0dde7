"""Apps with per-version native wheels, locked in a universal lock and installed on the runtime they run on.

A scratch repository with resolves enabled, as most monorepos have: `generate-lockfiles` writes one universal
lock for CPython 3.11-3.13, and two images of one app that validates with pydantic (whose core is a native
extension built per CPython version) run under runc on a 3.13 and a 3.11 runtime. The app's PEX file, built for
the 3.13 runtime's complete platform, runs on that runtime's interpreter. A requirement with no wheel for the
runtime (orjson 3.9.10 predates CPython 3.13) fails before anything is compiled, naming what is missing.
"""
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from scratch_repos.repo import create, run_pants

BUILD = """\
python_runtime(name="py313", version="3.13.5", optimizations="none", build_root_suite="bookworm")
python_runtime(name="py311", version="3.11.2", optimizations="none", build_root_suite="bookworm")
debian_packages(name="base", suite="bookworm", packages=["netbase", "tini"], runtimes=[":py313", ":py311"])

python_requirement(name="pydantic", requirements=["pydantic==2.9.2"])
# orjson 3.9.10 ships native wheels for CPython 3.8-3.12 only.
python_requirement(name="old-orjson", requirements=["orjson==3.9.10"])

python_sources(name="app", sources=["validate.py"])
pex_binary(name="validate", entry_point="validate.py")
python_oci_image(name="img313", runtime=":py313", binary=":validate")
python_oci_image(name="img311", runtime=":py311", binary=":validate")

# The runtime's complete platform, as `package` of the runtime writes it: a PEX built for exactly that runtime.
file(name="py313-platform", source="py313.complete_platform.json")
pex_binary(name="validate-py313", entry_point="validate.py", complete_platforms=[":py313-platform"])

python_sources(name="fast", sources=["fast.py"])
pex_binary(name="fast-bin", entry_point="fast.py")
python_oci_image(name="fast313", runtime=":py313", binary=":fast-bin")
"""

VALIDATE = """\
import sys

import pydantic_core
from pydantic import BaseModel


class Order(BaseModel):
    quantity: int


order = Order.model_validate_json('{"quantity": "6"}')
native = pydantic_core._pydantic_core.__file__.rsplit("/", 1)[-1]
print(f"{order.quantity * 7} from pydantic-core {pydantic_core.__version__} ({native}) on {sys.version.split()[0]}")
"""

RESOLVES = """\
enable_resolves = true

[python.resolves]
python-default = "3rdparty/python/default.lock"
"""


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = create(
        tmp_path_factory.mktemp("native"),
        {
            "src/BUILD": BUILD,
            "src/validate.py": VALIDATE,
            "src/fast.py": "import orjson\nprint(orjson.dumps({'ok': True}).decode())\n",
            "src/py313.complete_platform.json": "{}",  # replaced by the runtime's own below
        },
        pants_toml_extra=RESOLVES,
    )
    run_pants(repo, ["generate-lockfiles"])
    return repo


def test_the_universal_lock_has_wheels_for_every_runtime_version(repo: Path) -> None:
    lock = (repo / "3rdparty/python/default.lock").read_text()
    for version in ("311", "312", "313"):
        assert f"pydantic_core-2.23.4-cp{version}-cp{version}-manylinux_2_17_x86_64" in lock


@pytest.mark.parametrize("image, version", [("img313", "3.13.5"), ("img311", "3.11.2")])
def test_images_on_each_runtime_run_the_native_wheel_for_it(repo: Path, image: str, version: str) -> None:
    run = run_pants(repo, ["run", f"src:{image}"])
    tag = "cp" + "".join(version.split(".")[:2])
    expected = f"42 from pydantic-core 2.23.4 (_pydantic_core.cpython-{tag[2:]}-x86_64-linux-gnu.so) on {version}"
    assert run.stdout.strip().endswith(expected), run.stdout + run.stderr


def test_the_pex_built_for_the_313_runtime_runs_on_its_interpreter(repo: Path, tmp_path: Path) -> None:
    run_pants(repo, ["package", "src:py313"])
    platform = (repo / "dist/src/py313.complete_platform.json").read_text()
    (repo / "src/py313.complete_platform.json").write_text(platform)
    run_pants(repo, ["package", "src:validate-py313"])
    with tarfile.open(repo / "dist/src/py313.tar.gz") as runtime:
        runtime.extractall(tmp_path / "runtime")
    python = tmp_path / "runtime/opt/python/bin/python3.13"
    result = subprocess.run(
        [str(python), str(repo / "dist/src/validate-py313.pex")],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PEX_ROOT": str(tmp_path / "pex")},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "42 from pydantic-core 2.23.4 (_pydantic_core.cpython-313-x86_64-linux-gnu.so) on 3.13.5"
    )


def test_a_requirement_without_a_wheel_for_the_runtime_fails_before_compiling(repo: Path) -> None:
    result = run_pants(repo, ["package", "src:fast313"], check=False)
    assert result.returncode != 0
    message = re.sub(r"\s+", " ", result.stderr)
    assert (
        "The 'binary' of target src:fast313, src:fast-bin, needs requirements that have no wheel for its runtime "
        "src:py313 (CPython 3.13.5, linux x86_64, so cp313 or abi3 wheels)"
    ) in message
    assert "orjson 3.9.10: wheels only for " in message and "cp312-cp312" in message
    assert "`./pants generate-lockfiles --resolve=python-default`" in message
    assert "Compiling CPython" not in result.stderr, "the lock is checked before anything is compiled"
    assert "requires a different Python" not in result.stderr, "no sdist is built with Pants' interpreter"
