"""RuleRunner tests of python_oci_image's bad-input errors: each names the target, the field and the fix, and
comes before anything is compiled or downloaded (these tests would take minutes otherwise).

Real images are built in rules_integration_test.py.
"""
from typing import Dict, Optional

import pytest
from pants.backend.python import register as python_backend
from pants.core import register as core
from pants.core.goals.package import BuiltPackage
from pants.engine.addresses import Address
from pants.engine.internals.scheduler import ExecutionError
from pants.testutil.rule_runner import QueryRule, RuleRunner

from pants_oci import register
from pants_oci.image import pex_cli, plan
from pants_oci.image.inputs import AppPlan, AppPlanRequest, PythonOciImageFieldSet
from pants_oci.image.layers import ImageCompressionRequest
from pants_oci.layer.rules import GZIP, LayerCompression

RUNTIMES = """
python_runtime(name="py313", version="3.13.5", optimizations="none")
python_runtime(name="py311", version="3.11.2", optimizations="none")
debian_packages(name="base", packages=["netbase"], runtimes=[":py313"])
"""
APP = """
python_sources(name="lib")
pex_binary(name="app", entry_point="main.py")
"""


# The pex CLI images on 3.12+ need (never downloaded here: every case fails before a resolve).
PEX_CLI = [f"--pex-cli-version=v{pex_cli.MINIMUM}"]


@pytest.fixture
def rule_runner() -> RuleRunner:
    runner = RuleRunner(
        rules=[
            *core.rules(),
            *register.rules(),
            *python_backend.rules(),
            QueryRule(BuiltPackage, [PythonOciImageFieldSet]),
            QueryRule(LayerCompression, [ImageCompressionRequest]),
            QueryRule(AppPlan, [AppPlanRequest]),
        ],
        target_types=[*core.target_types(), *register.target_types(), *python_backend.target_types()],
    )
    # Interpreter constraints stay in the BUILD files: given on the command line they would override them.
    runner.set_options(["--python-infer-use-rust-parser", *PEX_CLI], env_inherit={"PATH"})
    return runner


def _error(rule_runner: RuleRunner, image: str, files: Optional[Dict[str, str]] = None) -> str:
    rule_runner.write_files(
        {"rt/BUILD": RUNTIMES, "app/BUILD": APP, "app/main.py": "print('hi')\n", "img/BUILD": image, **(files or {})}
    )
    with pytest.raises(ExecutionError) as e:
        target = rule_runner.get_target(Address("img", target_name="img"))
        rule_runner.request(BuiltPackage, [PythonOciImageFieldSet.create(target)])
    return str(e.value)


def test_runtime_that_is_not_a_python_runtime(rule_runner: RuleRunner) -> None:
    message = _error(rule_runner, 'python_oci_image(name="img", runtime="app:app", binary="app:app")')
    assert (
        "The 'runtime' field of target img:img names app:app, which is a `pex_binary` target, not a "
        "`python_runtime`" in message
    )


def test_binary_that_is_not_a_pex_binary(rule_runner: RuleRunner) -> None:
    message = _error(rule_runner, 'python_oci_image(name="img", runtime="rt:py313", binary="rt:py311")')
    assert (
        "The 'binary' field of target img:img names rt:py311, which is a `python_runtime` target, not a "
        "`pex_binary`" in message
    )


def test_base_that_is_not_debian_packages(rule_runner: RuleRunner) -> None:
    message = _error(
        rule_runner, 'python_oci_image(name="img", runtime="rt:py313", binary="app:app", base=["rt:py311"])'
    )
    assert "The 'base' field of target img:img names rt:py311" in message and "`debian_packages`" in message


def test_runtime_address_that_does_not_exist(rule_runner: RuleRunner) -> None:
    message = _error(rule_runner, 'python_oci_image(name="img", runtime="rt:py399", binary="app:app")')
    assert "py399" in message and "the `runtime` field of img:img" in message


def test_interpreter_constraints_that_exclude_the_runtime(rule_runner: RuleRunner) -> None:
    message = _error(
        rule_runner,
        'python_oci_image(name="img", runtime="rt:py313", binary="app:app")',
        {
            "app/BUILD": 'python_sources(name="lib", interpreter_constraints=["CPython==3.11.*"])\n'
            'pex_binary(name="app", entry_point="main.py", interpreter_constraints=["CPython==3.11.*"])'
        },
    )
    assert (
        "The 'binary' of target img:img is app:app, whose interpreter constraints (CPython==3.11.*) do not "
        "admit CPython 3.13.5, the version of its 'runtime' rt:py313" in message
    )


def test_a_runtime_no_base_lists_gets_its_default_base_whose_lock_is_checked_first(rule_runner: RuleRunner) -> None:
    message = _error(rule_runner, 'python_oci_image(name="img", runtime="rt:py311", binary="app:app")')
    assert (
        "rt:py311 has no Debian lock at 3rdparty/debian/rt/py311.base.lock.json. Create it with "
        "`./pants generate-lockfiles --resolve=rt:py311`" in message
    )


def test_two_bases_listing_one_runtime_are_ambiguous(rule_runner: RuleRunner) -> None:
    message = _error(
        rule_runner,
        'python_oci_image(name="img", runtime="rt:py313", binary="app:app")',
        {"rt/BUILD": RUNTIMES + 'debian_packages(name="other", packages=["tzdata"], runtimes=[":py313"])\n'},
    )
    assert (
        "Several `debian_packages` targets for amd64 list the runtime rt:py313 in `runtimes`: rt:base, rt:other"
        in message
    )


def test_binary_without_entry_point(rule_runner: RuleRunner) -> None:
    message = _error(
        rule_runner,
        'python_oci_image(name="img", runtime="rt:py313", binary="app:app")',
        {"app/BUILD": 'python_sources(name="lib")\npex_binary(name="app")'},
    )
    assert "has neither `entry_point` nor `script`" in message and "set 'entry_point' on img:img" in message


def test_a_binary_with_a_script_runs_the_console_script_of_that_name(rule_runner: RuleRunner) -> None:
    """Pants holds `script` as a ConsoleScript: the launcher needs its name (it once got the object's repr)."""
    rule_runner.write_files(
        {
            "rt/BUILD": RUNTIMES,
            "app/BUILD": 'pex_binary(name="app", script="gunicorn")',
            "img/BUILD": 'python_oci_image(name="img", runtime="rt:py313", binary="app:app")',
        }
    )
    image, binary, runtime = (
        rule_runner.get_target(Address(path, target_name=name))
        for path, name in (("img", "img"), ("app", "app"), ("rt", "py313"))
    )
    request = AppPlanRequest(PythonOciImageFieldSet.create(image), binary, runtime)
    assert rule_runner.request(AppPlan, [request]).entry == plan.EntryPointSpec(script="gunicorn")


@pytest.mark.parametrize(
    "fields, expected",
    [
        ('image_tags=["v1", "bad/tag"]', "The 'image_tags' field in target img:img: 'bad/tag' is not a valid tag"),
        ("image_tags=[]", "The 'image_tags' field in target img:img: give at least one tag"),
        ('repository="Acme/App"', "The 'repository' field in target img:img: 'Acme/App' is not a valid repository"),
        ('workdir="app"', "The 'workdir' field in target img:img: 'app' is relative"),
        ('expose=["http"]', "The 'expose' field in target img:img: 'http' is not a port"),
        ('env={"1X": "y"}', "The 'env' field in target img:img: invalid variable name(s) '1X'"),
        (
            'layer_compression="brotli"',
            "the 'layer_compression' field in target img:img must be one of ['gzip', 'zstd']",
        ),
    ],
)
def test_invalid_fields_name_target_field_and_value(rule_runner: RuleRunner, fields: str, expected: str) -> None:
    message = _error(rule_runner, f'python_oci_image(name="img", runtime="rt:py313", binary="app:app", {fields})')
    assert expected in message


def test_layer_compression_defaults_to_gzip_and_a_bad_zstd_level_is_named(rule_runner: RuleRunner) -> None:
    rule_runner.write_files(
        {
            "img/BUILD": 'python_oci_image(name="img", runtime="rt:py313", binary="app:app")\n'
            'python_oci_image(name="z", runtime="rt:py313", binary="app:app", layer_compression="zstd")\n'
        }
    )
    plain, zstd = (
        PythonOciImageFieldSet.create(rule_runner.get_target(Address("img", target_name=name))) for name in ("img", "z")
    )
    assert rule_runner.request(LayerCompression, [ImageCompressionRequest(plain)]) == GZIP
    rule_runner.set_options(["--oci-image-zstd-level=30", *PEX_CLI], env_inherit={"PATH"})
    with pytest.raises(ExecutionError) as e:
        rule_runner.request(LayerCompression, [ImageCompressionRequest(zstd)])
    assert "[oci-image].zstd_level is 30, but zstd's levels are 1 to 22" in str(e.value)
    # `./pants run` asks for gzip whatever the field says: umoci 0.4 cannot unpack zstd layers.
    assert rule_runner.request(LayerCompression, [ImageCompressionRequest(zstd, override="gzip")]) == GZIP


def test_a_platform_no_base_provides_is_named_with_the_fix(rule_runner: RuleRunner) -> None:
    message = _error(
        rule_runner,
        'python_oci_image(name="img", runtime="rt:py313", binary="app:app", platforms=["linux/amd64", "linux/arm64"])',
    )
    assert (
        'No base for arm64: no `debian_packages` target with architecture="arm64" lists the runtime rt:py313' in message
    )
    assert "(these do, for other architectures: rt:base)" in message


def test_an_explicit_base_list_without_the_platforms_architecture(rule_runner: RuleRunner) -> None:
    message = _error(
        rule_runner,
        'python_oci_image(name="img", runtime="rt:py313", binary="app:app", base=["rt:base"], '
        'platforms=["linux/arm64"])',
    )
    assert "The 'base' field of target img:img has no base for arm64: it lists rt:base (amd64)" in message


def test_unknown_and_repeated_platforms(rule_runner: RuleRunner) -> None:
    for platforms, problem in (
        ('["linux/s390x"]', "'linux/s390x' is not a platform images are built for"),
        ('["linux/arm64", "linux/arm64/v8"]', "'linux/arm64/v8' is listed twice"),
    ):
        message = _error(
            rule_runner, f'python_oci_image(name="img", runtime="rt:py313", binary="app:app", platforms={platforms})'
        )
        assert f"The 'platforms' field in target img:img: {problem}" in message


def test_an_image_on_313_with_pants_default_pex_cli(rule_runner: RuleRunner) -> None:
    rule_runner.set_options(["--python-infer-use-rust-parser"], env_inherit={"PATH"})  # Pants' default pex
    message = _error(rule_runner, 'python_oci_image(name="img", runtime="rt:py313", binary="app:app")')
    assert "The image img:img runs CPython 3.13.5 (the runtime rt:py313)" in message
    assert f'version = "v{pex_cli.MINIMUM}"' in message and pex_cli.RELEASED_PEX_SHA256 in message
