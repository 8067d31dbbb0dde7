"""A real cross build: CPython 3.13 for arm64, compiled on this amd64 machine in its cross build root (Debian's
cross compiler and arm64 -dev packages), with the native build of the same target as the build Python; then the
arm64 interpreter runs under qemu-user (the static qemu of that build root) with the arm64 libraries of the lock.

Each RuleRunner has an isolated store: the native and the cross build both compile here, fresh.
"""
import io
import json
import os
import subprocess
import tarfile
import textwrap
from pathlib import Path
from typing import Dict

import pytest
from pants.core.goals.package import BuiltPackage
from pants.core.util_rules import system_binaries
from pants.engine.addresses import Address
from pants.engine.fs import Digest, DigestContents, DigestSubset, PathGlobs
from pants.testutil.rule_runner import QueryRule, RuleRunner

from pants_oci.debian.base_rules import DebianBuildRoot, DebianBuildRootRequest
from pants_oci.elf.elf import read_elf, read_hardening
from pants_oci.runtime import rules as runtime_rules
from pants_oci.runtime.rules import PythonRuntimeFieldSet
from pants_oci.runtime.target_types import PythonRuntimeTarget
from pants_oci.runtime.testing import BUILD_ROOT_LOCK_RULES, lock_build_root

VERSION = "3.13.5"
RUNTIME = Address("src", target_name="rt")
SMOKE = textwrap.dedent(
    """
    import ctypes, hashlib, lzma, platform, sqlite3, ssl, sys, zlib
    db = sqlite3.connect(":memory:"); db.execute("create table t (x)"); db.execute("insert into t values (42)")
    assert db.execute("select x from t").fetchone() == (42,)
    assert ctypes.CDLL("libc.so.6").strlen(b"hello") == 5
    assert zlib.decompress(zlib.compress(b"x" * 100)) == b"x" * 100 and lzma.compress(b"y")
    assert hashlib.sha256(b"").hexdigest().startswith("e3b0")
    print("ARM64 OK", platform.machine(), sys.version.split()[0], ssl.OPENSSL_VERSION)
    """
)


@pytest.fixture(scope="module")
def runner() -> RuleRunner:
    runner = RuleRunner(
        rules=[
            *runtime_rules.rules(),
            *system_binaries.rules(),
            QueryRule(BuiltPackage, [PythonRuntimeFieldSet]),
            QueryRule(DebianBuildRoot, [DebianBuildRootRequest]),
            QueryRule(Digest, [DigestSubset]),
            *BUILD_ROOT_LOCK_RULES,
        ],
        target_types=[PythonRuntimeTarget],
        isolated_local_store=True,
    )
    configured = os.environ.get("PANTS_CPYTHON_BUILD_SOURCE_URL_TEMPLATES")
    runner.set_options(
        [f"--cpython-build-source-url-templates={configured}"] if configured else [], env_inherit={"PATH"}
    )
    runner.write_files(
        {
            "src/BUILD": f'python_runtime(name="rt", version="{VERSION}", optimizations="none", '
            f'architectures=["amd64", "arm64"])'
        }
    )
    return runner


@pytest.fixture(scope="module")
def built(runner: RuleRunner) -> Dict[str, bytes]:
    lock_build_root(runner, RUNTIME)
    lock_build_root(runner, RUNTIME, "arm64")
    package = runner.request(BuiltPackage, [PythonRuntimeFieldSet.create(runner.get_target(RUNTIME))])
    contents = runner.request(DigestContents, [package.digest])
    return {fc.path: fc.content for fc in contents}


def _extract(archive: bytes, directory: Path) -> Path:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(directory)
    return directory / "opt" / "python"


@pytest.fixture(scope="module")
def arm64_root(runner: RuleRunner, built: Dict[str, bytes], tmp_path_factory) -> Path:
    """The arm64 runtime on the arm64 libraries of its cross build root, with that root's static qemu."""
    spec = PythonRuntimeFieldSet.create(runner.get_target(RUNTIME)).build_root_spec("arm64")
    root = runner.request(DebianBuildRoot, [DebianBuildRootRequest(spec)])
    wanted = ["usr/bin/qemu-aarch64-static", "usr/lib/aarch64-linux-gnu/**", "usr/lib/ld-linux-aarch64.so.1"]
    subset = runner.request(Digest, [DigestSubset(root.tree, PathGlobs(wanted))])
    runner.write_digest(subset, path_prefix="arm64-root")
    directory = Path(runner.build_root) / "arm64-root"
    os.symlink("usr/lib", directory / "lib")  # merged /usr: the ELF interpreter is /lib/ld-linux-aarch64.so.1
    _extract(built["src/rt.arm64.tar.gz"], directory)
    return directory


def test_the_arm64_runtime_runs_under_qemu_user(arm64_root: Path) -> None:
    qemu = arm64_root / "usr" / "bin" / "qemu-aarch64-static"
    result = subprocess.run(
        [str(qemu), "-L", str(arm64_root), str(arm64_root / "opt/python/bin/python3.13"), "-I", "-c", SMOKE],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"ARM64 OK aarch64 {VERSION} OpenSSL 3.0.")


def test_both_architectures_are_packaged_with_their_own_complete_platforms(built: Dict[str, bytes]) -> None:
    assert {"src/rt.tar.gz", "src/rt.arm64.tar.gz", "src/rt.complete_platform.json"} <= set(built)
    arm64 = json.loads(built["src/rt.arm64.complete_platform.json"])
    native = json.loads(built["src/rt.complete_platform.json"])
    assert arm64["marker_environment"]["platform_machine"] == "aarch64"
    assert (
        arm64["compatible_tags"][0].startswith("cp313-cp313-manylinux_2_") and "aarch64" in arm64["compatible_tags"][0]
    )
    assert native["marker_environment"]["platform_machine"] == "x86_64"


def test_the_arm64_tree_is_arm64_and_hardened(built: Dict[str, bytes], tmp_path: Path) -> None:
    tree = _extract(built["src/rt.arm64.tar.gz"], tmp_path)
    interpreter = (tree / "bin" / "python3.13").read_bytes()
    assert read_elf(interpreter).machine == "aarch64"
    assert read_hardening(interpreter).problems(stack_protector=False, fortify=False) == ()
    assert read_hardening((tree / "lib" / "libpython3.13.so.1.0").read_bytes()).problems() == ()
    # Bytecode compiled by the native build of the same version: present, and for this version.
    assert list((tree / "lib" / "python3.13").rglob("*.cpython-313.pyc"))
