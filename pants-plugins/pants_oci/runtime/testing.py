"""Test helpers for RuleRunner tests that compile a runtime: its build root must be locked first, as a user does
with `./pants generate-lockfiles --resolve=<runtime>#build-root`; and so must the [container-tools] lock, whose
python3 runs every sandboxed step (`--resolve=container-tools`)."""
import os
from typing import Any, Dict, List

import pytest
from pants.engine.addresses import Address
from pants.testutil.rule_runner import QueryRule, RuleRunner

from pants_oci.debian.base_rules import DebianLockRequest, DebianLockResult, DebianLockSpec
from pants_oci.runtime.field_set import PythonRuntimeFieldSet
from pants_oci.tools.rules import ContainerToolsSpec

# Add to a RuleRunner's rules to use lock_build_root and lock_container_tools.
BUILD_ROOT_LOCK_RULES = (QueryRule(DebianLockResult, [DebianLockRequest]), QueryRule(ContainerToolsSpec, []))


# One lock per test process and spec: every runner of a module gets the same text without fetching the archive's
# index and resolving again (what a second checkout of a repository has: the lock files are committed).
_LOCKS: Dict[DebianLockSpec, str] = {}


def _locked(runner: RuleRunner, spec: DebianLockSpec) -> str:
    if spec not in _LOCKS:
        _LOCKS[spec] = runner.request(DebianLockResult, [DebianLockRequest(spec)]).text
    runner.write_files({spec.lock_path: _LOCKS[spec]})
    return spec.lock_path


def lock_container_tools(runner: RuleRunner) -> str:
    """Write the [container-tools] lock (as the runner's options say; locked against the real archives once per
    test process) into the runner's build root; returns the lock's path."""
    return _locked(runner, runner.request(ContainerToolsSpec, []).spec)


def lock_build_root(runner: RuleRunner, runtime: Address, architecture: str = "amd64") -> str:
    """Lock the build root of the runtime at `runtime` for `architecture` (another than amd64: its cross build root)
    against the real archives, and the [container-tools] lock if the runner has none; returns the build root lock's
    path."""
    lock_container_tools(runner)
    return _locked(runner, PythonRuntimeFieldSet.create(runner.get_target(runtime)).build_root_spec(architecture))


def machine_store_args() -> List[str]:
    """RuleRunner bootstrap args for a runner whose compiles are a means, not the point: the machine's own Pants
    store (where `./pants` keeps its cache), so a compile that ran before with the same inputs, in an earlier run or
    another test, is a cache hit, as it is for a user. Empty when the test sees no home directory."""
    cache = os.environ.get("XDG_CACHE_HOME") or (
        os.path.join(os.environ["HOME"], ".cache") if "HOME" in os.environ else ""
    )
    return [f"--local-store-dir={os.path.join(cache, 'pants', 'lmdb_store')}"] if cache else []


def store_kwargs(fresh: bool) -> Dict[str, Any]:
    """RuleRunner keyword arguments for its store: `fresh`, an empty store of its own, so everything compiles again
    (a second checkout); else the machine's (machine_store_args), or an empty one where there is none."""
    store = [] if fresh else machine_store_args()
    return {"isolated_local_store": not store, "bootstrap_args": store}


# The slow tier: tests left out of `./pants test ::` (and so of CI) unless this is 1. CONTRIBUTING.md says when.
SLOW_TESTS_VARIABLE = "PANTS_OCI_SLOW_TESTS"


def slow_tier(what: str) -> Any:
    """A skipif mark for a test of the slow tier; `what` says what makes it slow."""
    return pytest.mark.skipif(
        os.environ.get(SLOW_TESTS_VARIABLE) != "1",
        reason=f"{what}; set {SLOW_TESTS_VARIABLE}=1 to run it. `bash .ci/run` leaves it out to stay inside CI's "
        f"time limit.",
    )
