import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from pants_oci.runtime import pgo_profile
from pants_oci.runtime.build_plan import all_configure_args, make_spec
from pants_oci.runtime.pgo_profile import PgoProfileError


def _spec(version: str = "3.13.5", extra=()):
    return make_spec(
        address="src:rt",
        version=version,
        optimizations="pgo+lto",
        prefix="/opt/python",
        bytecode="unchecked-hash",
        include=(),
        required=None,
        optional=(),
        extra_configure_args=extra,
    )


def _archive(manifest: bytes) -> bytes:
    """A profile archive as build_cpython.sh writes it (./pgo-profile.json, ./gcc-version, ./gcda/...)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        for name, data in (("./pgo-profile.json", manifest), ("./gcc-version", b"12.2.0\n"), ("./gcda/x.gcda", b"")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_a_profile_fits_the_build_it_was_made_for() -> None:
    spec = _spec()
    found = pgo_profile.read_manifest(
        "src:rt", "rt.pgo-profile.tar.gz", _archive(pgo_profile.manifest(spec, "ab").encode())
    )
    assert found["cpython"] == "3.13.5" and found["configure_args"] == all_configure_args(spec)
    assert pgo_profile.mismatch("src:rt", "rt.pgo-profile.tar.gz", found, spec) is None


def test_a_profile_for_another_version_is_named_with_the_fix() -> None:
    found = json.loads(pgo_profile.manifest(_spec("3.13.4"), "ab"))
    message = pgo_profile.mismatch("src:rt", "p.tar", found, _spec())
    assert message is not None
    assert "made for CPython 3.13.4, and this runtime is 3.13.5" in message
    assert "./pants package src:rt" in message


def test_a_profile_made_with_other_configure_arguments_lists_the_difference() -> None:
    found = json.loads(pgo_profile.manifest(_spec(extra=("--with-pydebug",)), "ab"))
    message = pgo_profile.mismatch("src:rt", "p.tar", found, _spec())
    assert message is not None
    assert "only in the profile: ['--with-pydebug']; only in this runtime: none" in message


@pytest.mark.parametrize(
    "archive, reason",
    [
        (b"not a tar at all", "no readable pgo-profile.json"),
        (_archive(b"{not json"), "pgo-profile.json is not JSON"),
        (_archive(b'{"format": 99}'), "format 99"),
    ],
)
def test_a_file_that_is_not_a_profile_is_named(archive: bytes, reason: str) -> None:
    with pytest.raises(PgoProfileError) as e:
        pgo_profile.read_manifest("src:rt", "p.tar", archive)
    assert "The `pgo_profile` file p.tar of src:rt is not a PGO profile archive" in str(e.value)
    assert reason in str(e.value)


@pytest.mark.parametrize(
    "optimizations, profile, sha256, expected",
    [
        ("pgo+lto", None, None, None),
        ("pgo+lto", "p.tar", "a" * 64, None),
        ("lto", "p.tar", "a" * 64, "`optimizations` is 'lto', which does not use one"),
        ("pgo", "p.tar", None, "without `pgo_profile_sha256`"),
        ("pgo", None, "a" * 64, "set without `pgo_profile`"),
    ],
)
def test_pin_fields_must_work_together(optimizations, profile, sha256, expected) -> None:
    problem = pgo_profile.pin_problem("src:rt", optimizations, profile, sha256)
    assert problem is None if expected is None else problem is not None and expected in problem


def test_a_digest_mismatch_names_both_digests_and_the_fix() -> None:
    message = pgo_profile.digest_mismatch("src:rt", "src/p.tar", "a" * 64, "b" * 64)
    assert f"has sha256 {'b' * 64}, but `pgo_profile_sha256` is {'a' * 64}" in message
    assert f'pgo_profile_sha256="{"b" * 64}"' in message


def test_the_training_workload_does_the_same_work_on_every_run(tmp_path: Path) -> None:
    """The Python-level half of a reproducible profile: same results, from a script alone in its directory."""
    script = tmp_path / "pgo_training.py"
    script.write_bytes(Path(__file__).with_name("pgo_training.py").read_bytes())
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONHASHSEED": "0", "LC_ALL": "C.UTF-8", "TZ": "UTC"}
    runs = [subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True) for _ in (1, 2)]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr
    assert len(runs[0].stdout.strip()) == 64 and runs[0].stdout == runs[1].stdout


def _stack_of(fixed_layout: Path) -> str:
    maps = subprocess.run([str(fixed_layout), "cat", "/proc/self/maps"], capture_output=True, text=True, check=True)
    return next(line.split()[0] for line in maps.stdout.splitlines() if line.endswith("[stack]"))


def test_fixed_layout_runs_a_command_at_the_same_addresses_every_time(tmp_path: Path) -> None:
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler on PATH to build fixed_layout.c (a runtime compile uses its build root's own)")
    fixed_layout = tmp_path / "fixed_layout"
    subprocess.run(
        [compiler, "-O2", "-o", str(fixed_layout), str(Path(__file__).with_name("fixed_layout.c"))], check=True
    )
    personality = subprocess.run([str(fixed_layout), "cat", "/proc/self/personality"], capture_output=True, text=True)
    assert personality.returncode == 0, personality.stderr
    assert int(personality.stdout, 16) & 0x0040000, "ADDR_NO_RANDOMIZE is set for the command"
    assert _stack_of(fixed_layout) == _stack_of(fixed_layout)
    assert subprocess.run([str(fixed_layout)], capture_output=True).returncode == 2
