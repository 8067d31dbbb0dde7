"""RuleRunner tests of the python_runtime rules' error paths: each bad input gives a clear error, fast.

The successful compile and the module check are in rules_integration_test.py (real builds, minutes).
"""
import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest
from pants.core.goals.package import BuiltPackage
from pants.core.util_rules import system_binaries
from pants.engine.addresses import Address
from pants.engine.internals.scheduler import ExecutionError
from pants.engine.target import InvalidFieldException
from pants.testutil.rule_runner import QueryRule, RuleRunner

from pants_oci.runtime import pgo_profile
from pants_oci.runtime import rules as runtime_rules
from pants_oci.runtime.build_plan import make_spec
from pants_oci.runtime.compile import _check_architecture
from pants_oci.runtime.field_set import PythonRuntimeFieldSet
from pants_oci.runtime.target_types import PythonRuntimeTarget
from pants_oci.runtime.testing import BUILD_ROOT_LOCK_RULES, lock_build_root, lock_container_tools


@pytest.fixture
def rule_runner() -> RuleRunner:
    return RuleRunner(
        rules=[
            *runtime_rules.rules(),
            *system_binaries.rules(),
            QueryRule(BuiltPackage, [PythonRuntimeFieldSet]),
            *BUILD_ROOT_LOCK_RULES,
        ],
        target_types=[PythonRuntimeTarget],
    )


def _package(rule_runner: RuleRunner, build: str, templates) -> BuiltPackage:
    """Package src:rt; `templates` is a list, or an option string ("" keeps the defaults)."""
    rule_runner.write_files({"src/BUILD": build})
    lock_container_tools(rule_runner)  # its python3 verifies the source's signature
    value = templates if isinstance(templates, str) else repr(templates)
    options = [f"--cpython-build-source-url-templates={value}"] if value else []
    rule_runner.set_options(options, env_inherit={"PATH"})
    target = rule_runner.get_target(Address("src", target_name="rt"))
    return rule_runner.request(BuiltPackage, [PythonRuntimeFieldSet.create(target)])


def _fake_tarball(tmp_path: Path) -> Path:
    tarball = tmp_path / "mirror" / "Python-3.99.1.tar.xz"
    tarball.parent.mkdir()
    tarball.write_bytes(b"not really a tarball")
    return tarball


def test_unknown_version_without_pin(rule_runner: RuleRunner) -> None:
    with pytest.raises(ExecutionError) as e:
        _package(rule_runner, 'python_runtime(name="rt", version="3.99.1")', [])
    assert "'version' field in target src:rt is '3.99.1', which has no built-in sha256 pin" in str(e.value)


def test_malformed_version_names_field_and_value(rule_runner: RuleRunner) -> None:
    with pytest.raises(ExecutionError) as e:
        _package(rule_runner, 'python_runtime(name="rt", version="3.13")', [])
    assert "The 'version' field in target src:rt must be a full CPython 3 version like 3.13.5, but was '3.13'" in str(
        e.value
    )


def test_wrong_sha256_names_expected_actual_and_url(rule_runner: RuleRunner, tmp_path: Path) -> None:
    tarball = _fake_tarball(tmp_path)
    actual = hashlib.sha256(tarball.read_bytes()).hexdigest()
    wrong = "0" * 64
    build = f'python_runtime(name="rt", version="3.99.1", sha256="{wrong}", size={tarball.stat().st_size})'
    with pytest.raises(ExecutionError) as e:
        _package(rule_runner, build, [f"file://{tarball.parent}/{{filename}}"])
    message = str(e.value)
    assert "The CPython 3.99.1 source for src:rt does not match its pin" in message
    assert f"file://{tarball} served other bytes" in message and "tampered" in message
    assert wrong in message and actual in message


@pytest.mark.parametrize(
    "fields, expected",
    [
        (
            'optional_modules=["_nosuchmod"]',
            "The 'optional_modules' field in target src:rt names '_nosuchmod', which is not a stdlib extension module",
        ),
        (
            'extra_configure_args=["--prefix=/usr"]',
            "The 'extra_configure_args' field in target src:rt has '--prefix=/usr', which the plugin sets itself",
        ),
    ],
)
def test_bad_fields_fail_before_any_download_or_compile(
    rule_runner: RuleRunner, tmp_path: Path, fields: str, expected: str
) -> None:
    # No source URL can work: the error must come from the fields alone.
    with pytest.raises(ExecutionError) as e:
        _package(rule_runner, f'python_runtime(name="rt", version="3.13.5", {fields})', [f"file://{tmp_path}/none"])
    assert expected in str(e.value)


def test_every_url_failing_lists_each_url_and_error(rule_runner: RuleRunner, tmp_path: Path) -> None:
    build = f'python_runtime(name="rt", version="3.99.1", sha256="{"a" * 64}", size=10)'
    templates = [f"file://{tmp_path}/nowhere/{{filename}}", "http://127.0.0.1:9/{version}/{filename}"]
    with pytest.raises(ExecutionError) as e:
        _package(rule_runner, build, templates)
    message = str(e.value)
    assert f"file://{tmp_path}/nowhere/Python-3.99.1.tar.xz\n" in message
    assert "http://127.0.0.1:9/3.99.1/Python-3.99.1.tar.xz\n" in message
    assert "fill_cpython_mirror.py" in message


def _real_tarball_templates() -> str:
    """Where the real 3.13.5 tarball comes from: the mirror .ci/run configures, else the defaults."""
    return os.environ.get("PANTS_CPYTHON_BUILD_SOURCE_URL_TEMPLATES", "")


def test_configure_failure_is_diagnosed(rule_runner: RuleRunner) -> None:
    build = 'python_runtime(name="rt", version="3.13.5", extra_configure_args=["--with-no-such-option"])'
    rule_runner.write_files({"src/BUILD": build})
    lock_build_root(rule_runner, Address("src", target_name="rt"))
    with pytest.raises(ExecutionError) as e:
        _package(rule_runner, build, _real_tarball_templates())
    message = str(e.value)
    assert "Building CPython 3.13.5 for src:rt failed in configure" in message
    assert "does not know the option(s) --with-no-such-option" in message
    assert "extra_configure_args" in message


def test_build_root_without_a_lock_says_how_to_make_it(rule_runner: RuleRunner) -> None:
    with pytest.raises(ExecutionError) as e:
        _package(
            rule_runner, 'python_runtime(name="rt", version="3.13.5", optimizations="none")', _real_tarball_templates()
        )
    message = str(e.value)
    assert "src:rt#build-root has no Debian lock at 3rdparty/debian/src/rt.build-root.lock.json" in message
    assert "./pants generate-lockfiles --resolve=src:rt#build-root" in message


def test_missing_compiler_is_diagnosed_for_a_host_toolchain(rule_runner: RuleRunner, tmp_path: Path) -> None:
    rule_runner.write_files({"src/BUILD": 'python_runtime(name="rt", version="3.13.5", toolchain="host")'})
    templates = _real_tarball_templates()
    options = [f"--cpython-build-build-search-path=['{tmp_path}']"]
    if templates:
        options.append(f"--cpython-build-source-url-templates={templates}")
    rule_runner.set_options(options, env_inherit={"PATH"})
    lock_container_tools(rule_runner)
    target = rule_runner.get_target(Address("src", target_name="rt"))
    with pytest.raises(ExecutionError) as e:
        rule_runner.request(BuiltPackage, [PythonRuntimeFieldSet.create(target)])
    message = str(e.value)
    assert (
        "Cannot build CPython: cc, make, ld, as, ar, tar, xz, gzip, sed, grep, find not found on the build PATH "
        f"{tmp_path}" in message
    )
    assert "build-essential" in message


def _profile_archive(manifest: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = manifest.encode()
        info = tarfile.TarInfo("./pgo-profile.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _pinned(sha256: str, extra: str = "") -> str:
    return (
        f'python_runtime(name="rt", version="3.13.5", pgo_profile="rt.pgo-profile.tar.gz", '
        f'pgo_profile_sha256="{sha256}"{extra})'
    )


def test_a_profile_that_does_not_match_its_pin_fails_before_any_download(rule_runner: RuleRunner) -> None:
    archive = _profile_archive("{}")
    rule_runner.write_files({"src/rt.pgo-profile.tar.gz": archive})
    with pytest.raises(ExecutionError) as e:
        _package(rule_runner, _pinned("0" * 64), ["file:///nonexistent/{filename}"])
    actual = hashlib.sha256(archive).hexdigest()
    assert f"The `pgo_profile` file src/rt.pgo-profile.tar.gz of src:rt has sha256 {actual}" in str(e.value)
    assert "/nonexistent" not in str(e.value)


def test_a_profile_made_for_another_version_fails_before_any_download(rule_runner: RuleRunner) -> None:
    other = make_spec("src:rt", "3.13.4", "pgo+lto", "/opt/python", "unchecked-hash", (), None, (), ())
    archive = _profile_archive(pgo_profile.manifest(other, "ab"))
    rule_runner.write_files({"src/rt.pgo-profile.tar.gz": archive})
    with pytest.raises(ExecutionError) as e:
        _package(rule_runner, _pinned(hashlib.sha256(archive).hexdigest()), ["file:///nonexistent/{filename}"])
    assert "was made for CPython 3.13.4, and this runtime is 3.13.5" in str(e.value)


def test_a_profile_on_a_runtime_without_pgo_is_refused(rule_runner: RuleRunner) -> None:
    rule_runner.write_files({"src/rt.pgo-profile.tar.gz": b""})
    with pytest.raises(ExecutionError) as e:
        _package(rule_runner, _pinned("0" * 64, ', optimizations="lto"'), [])
    assert "`optimizations` is 'lto', which does not use one" in str(e.value)


def test_an_architecture_the_runtime_is_not_built_for_or_a_cross_build_without_build_root(
    rule_runner: RuleRunner,
) -> None:
    rule_runner.write_files(
        {
            "src/BUILD": 'python_runtime(name="rt", version="3.13.5")\n'
            'python_runtime(name="host", version="3.13.5", toolchain="host", architectures=["amd64", "arm64"])\n'
        }
    )
    native_only = PythonRuntimeFieldSet.create(rule_runner.get_target(Address("src", target_name="rt")))
    with pytest.raises(
        InvalidFieldException, match=r"'architectures' field of target src:rt is \['amd64'\], so it has"
    ):
        _check_architecture(native_only, "arm64")
    assert _check_architecture(native_only, "amd64") is None
    host = PythonRuntimeFieldSet.create(rule_runner.get_target(Address("src", target_name="host")))
    with pytest.raises(InvalidFieldException, match='with `toolchain="host"`, but a cross build needs its build root'):
        _check_architecture(host, "arm64")


def test_architectures_field_rejects_unknown_and_repeated(rule_runner: RuleRunner) -> None:
    for value in ('["amd64", "riscv64"]', '["arm64", "arm64"]', "[]"):
        rule_runner.write_files({"src/BUILD": f'python_runtime(name="rt", version="3.13.5", architectures={value})'})
        with pytest.raises(ExecutionError, match="The 'architectures' field in target src:rt"):
            rule_runner.get_target(Address("src", target_name="rt"))
