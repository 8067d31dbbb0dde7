"""Test helpers for RuleRunner tests that compile a runtime: its build root must be locked first, as a user does
with `./pants generate-lockfiles --resolve=<runtime>#build-root`."""
from pants.engine.addresses import Address
from pants.testutil.rule_runner import QueryRule, RuleRunner

from pants_oci.debian.base_rules import DebianLockRequest, DebianLockResult
from pants_oci.runtime.rules import PythonRuntimeFieldSet

# Add to a RuleRunner's rules to use lock_build_root.
BUILD_ROOT_LOCK_RULES = (QueryRule(DebianLockResult, [DebianLockRequest]),)


def lock_build_root(runner: RuleRunner, runtime: Address, architecture: str = "amd64") -> str:
    """Lock the build root of the runtime at `runtime` for `architecture` (another than amd64: its cross build root)
    against the real archives; returns the lock's path."""
    spec = PythonRuntimeFieldSet.create(runner.get_target(runtime)).build_root_spec(architecture)
    result = runner.request(DebianLockResult, [DebianLockRequest(spec)])
    runner.write_files({spec.lock_path: result.text})
    return spec.lock_path
