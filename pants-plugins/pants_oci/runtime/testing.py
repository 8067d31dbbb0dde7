"""Test helpers for RuleRunner tests that compile a runtime: its build root must be locked first, as a user does
with `./pants generate-lockfiles --resolve=<runtime>#build-root`; and so must the [container-tools] lock, whose
python3 runs every sandboxed step (`--resolve=container-tools`)."""
from typing import Dict

from pants.engine.addresses import Address
from pants.testutil.rule_runner import QueryRule, RuleRunner

from pants_oci.debian.base_rules import DebianBaseSpec, DebianLockRequest, DebianLockResult
from pants_oci.runtime.rules import PythonRuntimeFieldSet
from pants_oci.tools.rules import ContainerToolsSpec

# Add to a RuleRunner's rules to use lock_build_root and lock_container_tools.
BUILD_ROOT_LOCK_RULES = (QueryRule(DebianLockResult, [DebianLockRequest]), QueryRule(ContainerToolsSpec, []))


# One lock per test process and spec: every runner of a module gets the same text without locking again.
_CONTAINER_TOOLS_LOCKS: Dict[DebianBaseSpec, str] = {}


def lock_container_tools(runner: RuleRunner) -> str:
    """Write the [container-tools] lock (as the runner's options say; locked against the real archives once per
    test process) into the runner's build root; returns the lock's path."""
    spec = runner.request(ContainerToolsSpec, []).spec
    if spec not in _CONTAINER_TOOLS_LOCKS:
        _CONTAINER_TOOLS_LOCKS[spec] = runner.request(DebianLockResult, [DebianLockRequest(spec)]).text
    runner.write_files({spec.lock_path: _CONTAINER_TOOLS_LOCKS[spec]})
    return spec.lock_path


def lock_build_root(runner: RuleRunner, runtime: Address, architecture: str = "amd64") -> str:
    """Lock the build root of the runtime at `runtime` for `architecture` (another than amd64: its cross build root)
    against the real archives, and the [container-tools] lock if the runner has none; returns the build root lock's
    path."""
    lock_container_tools(runner)
    spec = PythonRuntimeFieldSet.create(runner.get_target(runtime)).build_root_spec(architecture)
    result = runner.request(DebianLockResult, [DebianLockRequest(spec)])
    runner.write_files({spec.lock_path: result.text})
    return spec.lock_path
