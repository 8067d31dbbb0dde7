"""RuleRunner tests of base specs and lock paths: no network, no compile. At the end, docs/ARCHITECTURE.md's recipe
"Add a Debian lock kind" followed once with a test-only kind."""
from dataclasses import dataclass

import pytest
from pants.backend.python import register as python_backend
from pants.core import register as core
from pants.core.goals.generate_lockfiles import KnownUserResolveNames, UserGenerateLockfiles
from pants.engine.addresses import Address
from pants.engine.internals.scheduler import ExecutionError
from pants.engine.rules import Get, rule
from pants.testutil.rule_runner import QueryRule, RuleRunner

from pants_oci import register
from pants_oci.bases.rules import (
    AllBaseTargets,
    AllDebianLockSpecs,
    BaseOfTarget,
    DebianBaseSpecRequest,
    KnownDebianResolveNamesRequest,
    RequestedDebianResolveNames,
)
from pants_oci.debian import lockfile
from pants_oci.debian.base_rules import CheckedDebianLock, DebianLockSpec
from pants_oci.debian.index import DebianPackage
from pants_oci.debian.target_types import default_lock_path
from pants_oci.runtime.field_set import BUILD_ROOT_RESOLVE_SUFFIX
from pants_oci.tools.subsystem import CONTAINER_TOOLS_RESOLVE

BUILD = """
python_runtime(name="py313", version="3.13.5", optimizations="none")
python_runtime(name="py311", version="3.11.2", optimizations="none")
debian_packages(name="base", packages=["netbase"], runtimes=[":py313"])
"""


# ---------------------------------------------------------------------------------------------------------------
# docs/ARCHITECTURE.md, "Add a Debian lock kind", followed with a test-only kind of lock (the tests at the end).


def example_lock_spec() -> DebianLockSpec:
    """Step 1: where the kind's spec comes from (here a constant, as an option scope's would be)."""
    address = Address("tools", target_name="example")
    return DebianLockSpec(str(address), ("zstd",), "bookworm", "amd64", default_lock_path(address))


@dataclass(frozen=True)
class ExampleLockRequest:
    pass


@dataclass(frozen=True)
class ExampleLock:
    lock: lockfile.DebianLock


@rule
async def consume_example_lock(_: ExampleLockRequest) -> ExampleLock:
    """Step 3: the lock read and checked, cheap, before anything is downloaded or compiled."""
    checked = await Get(CheckedDebianLock, DebianLockSpec, example_lock_spec())
    return ExampleLock(checked.lock)


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
            consume_example_lock,
            QueryRule(ExampleLock, [ExampleLockRequest]),
            QueryRule(AllDebianLockSpecs, []),
            QueryRule(KnownUserResolveNames, [KnownDebianResolveNamesRequest]),
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


IMAGE = """
python_sources(name="lib")
pex_binary(name="app", entry_point="main.py")
python_oci_image(name="img", runtime=":py313", binary=":app")
debian_tools(name="tools", packages=["zstd"])
"""


def test_the_debian_lock_kind_recipe(rule_runner: RuleRunner) -> None:
    """Step 2 promises a kind added to _debian_lock_specs that generate-lockfiles knows its resolve and writes its
    lock, and that known_debian_resolves' help names it: checked on the kinds the list has (a test cannot add to
    it). Step 3 on the test-only kind of example_lock_spec (step 1)."""
    rule_runner.write_files({"rt/BUILD": BUILD + IMAGE})
    specs = rule_runner.request(AllDebianLockSpecs, []).specs
    known = rule_runner.request(KnownUserResolveNames, [KnownDebianResolveNamesRequest()])
    names = [s.address for s in specs]
    assert list(known.names) == names
    assert {"rt:base", "rt:py311", f"rt:py313{BUILD_ROOT_RESOLVE_SUFFIX}", "rt:tools", CONTAINER_TOOLS_RESOLVE} <= set(
        names
    )
    requests = rule_runner.request(UserGenerateLockfiles, [RequestedDebianResolveNames(names)])
    assert {(r.resolve_name, r.lockfile_dest) for r in requests} == {(s.address, s.lock_path) for s in specs}
    for kind in (
        "debian_packages",
        "debian_tools",
        "python_runtime",
        BUILD_ROOT_RESOLVE_SUFFIX,
        CONTAINER_TOOLS_RESOLVE,
    ):
        assert kind in known.option_name

    spec = example_lock_spec()
    with pytest.raises(ExecutionError) as missing:
        rule_runner.request(ExampleLock, [ExampleLockRequest()])
    assert (
        "tools:example has no Debian lock at 3rdparty/debian/tools/example.lock.json. Create it with "
        "`./pants generate-lockfiles --resolve=tools:example`" in str(missing.value)
    )
    assert "DebianLockError" in str(missing.value)

    zstd = DebianPackage("zstd", "1.5.4+dfsg2-5", "amd64", "pool/main/l/libzstd/zstd.deb", "0" * 64, 1, (), ())
    text = lockfile.render_lock(spec.address, spec.suite, spec.architecture, spec.packages, [zstd])
    rule_runner.write_files({spec.lock_path: text})
    assert [p.name for p in rule_runner.request(ExampleLock, [ExampleLockRequest()]).lock.packages] == ["zstd"]

    # A lock made for other packages is refused, with the command that makes it again.
    stale = lockfile.render_lock(spec.address, spec.suite, spec.architecture, ["umoci"], [zstd])
    rule_runner.write_files({spec.lock_path: stale})
    with pytest.raises(ExecutionError) as mismatch:
        rule_runner.request(ExampleLock, [ExampleLockRequest()])
    assert "DebianLockError" in str(mismatch.value) and "packages not in the lock: zstd" in str(mismatch.value)
