"""RuleRunner tests of base specs and lock paths: no network, no compile."""
import pytest
from pants.backend.python import register as python_backend
from pants.core import register as core
from pants.core.goals.generate_lockfiles import UserGenerateLockfiles
from pants.engine.addresses import Address
from pants.engine.internals.scheduler import ExecutionError
from pants.testutil.rule_runner import QueryRule, RuleRunner

from pants_oci import register
from pants_oci.bases.rules import AllBaseTargets, BaseOfTarget, DebianBaseSpecRequest, RequestedDebianResolveNames
from pants_oci.debian.target_types import default_lock_path

BUILD = """
python_runtime(name="py313", version="3.13.5", optimizations="none")
python_runtime(name="py311", version="3.11.2", optimizations="none")
debian_packages(name="base", packages=["netbase"], runtimes=[":py313"])
"""


@pytest.fixture
def rule_runner() -> RuleRunner:
    return RuleRunner(
        rules=[
            *core.rules(),
            *register.rules(),
            *python_backend.rules(),
            QueryRule(BaseOfTarget, [DebianBaseSpecRequest]),
            QueryRule(AllBaseTargets, []),
            QueryRule(UserGenerateLockfiles, [RequestedDebianResolveNames]),
        ],
        target_types=[*core.target_types(), *register.target_types(), *python_backend.target_types()],
    )


def _spec(rule_runner: RuleRunner, spec_path: str, name: str):
    target = rule_runner.get_target(Address(spec_path, target_name=name))
    return rule_runner.request(BaseOfTarget, [DebianBaseSpecRequest(target)]).spec


def test_a_base_asks_for_its_packages_and_what_its_runtimes_load(rule_runner: RuleRunner) -> None:
    rule_runner.write_files({"rt/BUILD": BUILD})
    spec = _spec(rule_runner, "rt", "base")
    assert {"netbase", "libc6", "libssl3t64", "libsqlite3-0"} <= set(spec.packages)
    assert "libcrypt1" not in spec.packages, "3.13 has no _crypt; only the listed runtime counts"
    assert spec.lock_path == "3rdparty/debian/rt/base.lock.json" and spec.suite == "trixie"


def test_only_runtimes_no_base_lists_get_a_default_base(rule_runner: RuleRunner) -> None:
    rule_runner.write_files({"rt/BUILD": BUILD})
    addresses = {str(t.address) for t in rule_runner.request(AllBaseTargets, []).targets}
    assert addresses == {"rt:base", "rt:py311"}
    spec = _spec(rule_runner, "rt", "py311")
    assert {"ca-certificates", "tzdata", "netbase", "libcrypt1", "libssl3t64"} <= set(spec.packages)
    assert spec.lock_path == "3rdparty/debian/rt/py311.base.lock.json" and spec.suite == "trixie"


def test_a_default_base_follows_its_runtimes_build_root_suite(rule_runner: RuleRunner) -> None:
    rule_runner.write_files(
        {"rt/BUILD": 'python_runtime(name="old", version="3.11.2", optimizations="none", build_root_suite="bookworm")'}
    )
    spec = _spec(rule_runner, "rt", "old")
    assert spec.suite == "bookworm" and {"libssl3", "libreadline8", "libcrypt1"} <= set(spec.packages)


def test_default_lock_paths_differ_for_the_same_name_in_two_directories() -> None:
    assert default_lock_path(Address("a", target_name="base")) != default_lock_path(Address("b", target_name="base"))
    assert default_lock_path(Address("", target_name="base")) == "3rdparty/debian/base.lock.json"


def test_two_bases_with_one_lock_file_are_an_error(rule_runner: RuleRunner) -> None:
    rule_runner.write_files(
        {
            "a/BUILD": (
                'debian_packages(name="base", packages=["netbase"], lockfile="3rdparty/debian/shared.lock.json")'
            ),
            "b/BUILD": 'debian_packages(name="base", packages=["tzdata"], lockfile="3rdparty/debian/shared.lock.json")',
        }
    )
    with pytest.raises(ExecutionError) as e:
        rule_runner.request(UserGenerateLockfiles, [RequestedDebianResolveNames(["a:base"])])
    assert "Several bases would write the same Debian lock 3rdparty/debian/shared.lock.json: a:base, b:base" in str(
        e.value
    )


def test_runtimes_must_be_python_runtime_targets(rule_runner: RuleRunner) -> None:
    rule_runner.write_files(
        {"rt/BUILD": BUILD + 'debian_packages(name="bad", packages=["netbase"], runtimes=[":base"])'}
    )
    with pytest.raises(ExecutionError) as e:
        _spec(rule_runner, "rt", "bad")
    assert "The 'runtimes' field in target rt:bad must name python_runtime targets, but rt:base is not one" in str(
        e.value
    )
