"""BOLT, the post-link layout optimizer, for `optimizations="pgo+lto+bolt"`. Pure; no Pants imports.

After the PGO+LTO compile, `bolt_runtime.sh` instruments the runtime's libpython with `llvm-bolt`, runs the same
deterministic training as the PGO step (pgo_training.py, fixed hash seed and fixed addresses) on the installed
tree, merges the counts with `merge-fdata` and lets `llvm-bolt` lay libpython out again from them. CPython's own
`--enable-bolt` is not used: it trains on the test suite with the host's address layout, and also rebuilds the
interpreter executable without PIE. Only libpython is optimized: with a shared libpython the executable is a
`main` that calls into it.

BOLT comes from the build root's own lock, so the tool's version is part of the cache key like the compiler's.
"""
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from pants_oci.runtime.configure_flags import uses
from pants_oci.runtime.modules import parse_minor_version

# The Debian package with llvm-bolt and merge-fdata, and where the package keeps them, per build root suite.
# Measured and tested on trixie only; bookworm's bolt-16 is left out until it is.
# `llvm-bolt` is run from the LLVM directory: it finds its instrumentation runtime (libbolt_rt_instr.a, from
# libbolt-19-dev) in the `lib/` beside its `bin/`.


@dataclass(frozen=True)
class BoltTools:
    package: str
    bin_dir: str


BOLT_TOOLS: Dict[str, BoltTools] = {"trixie": BoltTools("bolt-19", "/usr/lib/llvm-19/bin")}

# CPython 3.13's flags for llvm-bolt (configure.ac, BOLT_COMMON_FLAGS and BOLT_APPLY_FLAGS), minus
# `-update-debug-sections` (the tree is stripped), `-dyno-stats` (a report nobody reads here) and
# `-use-gnu-stack`, which puts BOLT's new code segment in the PT_GNU_STACK program header: a library without that
# header makes glibc give the whole process an executable stack (elf/hardening.py checks for it).
# LLVM 19 cannot move code with computed gotos in PIC code, so the evaluation loop and the regex matchers stay
# where the compiler put them.
SKIP_FUNCS = "-skip-funcs=_PyEval_EvalFrameDefault,sre_ucs1_match/1,sre_ucs2_match/1,sre_ucs4_match/1"
APPLY_FLAGS: Tuple[str, ...] = (
    SKIP_FUNCS,
    "-reorder-blocks=ext-tsp",
    "-reorder-functions=cdsort",
    "-split-functions",
    "-icf=1",
    "-inline-all",
    "-split-eh",
    "-reorder-functions-use-hot-size",
    "-peepholes=none",
    "-jump-tables=aggressive",
    "-inline-ap",
    "-indirect-call-promotion=all",
    "-frame-opt=hot",
)
INSTRUMENT_FLAGS: Tuple[str, ...] = (SKIP_FUNCS,)

MINIMUM_VERSION = (3, 12)


def bolt_problem(address: str, version: str, optimizations: str, toolchain: Optional[str], suite: str) -> Optional[str]:
    """Why `optimizations` cannot be built for this runtime, or None (also when it has no BOLT)."""
    if not uses(optimizations, "bolt"):
        return None
    fix = 'Use optimizations="pgo+lto"'
    if parse_minor_version(version) < MINIMUM_VERSION:
        return (
            f"The 'optimizations' field in target {address} is 'pgo+lto+bolt', but CPython {version} predates BOLT "
            f"support (3.12). {fix}, or a 3.12+ version."
        )
    if toolchain != "build-root":
        return (
            f"The 'optimizations' field in target {address} is 'pgo+lto+bolt', which takes llvm-bolt from the build "
            f'root\'s lock, but `toolchain` is {toolchain!r}. {fix}, or toolchain="build-root".'
        )
    if suite not in BOLT_TOOLS:
        return (
            f"The 'optimizations' field in target {address} is 'pgo+lto+bolt', which is built and measured with "
            f"{', '.join(f'{t.package} of Debian {s}' for s, t in BOLT_TOOLS.items())}, but `build_root_suite` is "
            f'{suite!r}. {fix}, or build_root_suite="{next(iter(BOLT_TOOLS))}".'
        )
    return None


def build_root_packages(optimizations: str, suite: str) -> Tuple[str, ...]:
    """What a build root needs besides the compile's packages for `optimizations`: the BOLT tools, if it uses them."""
    return (BOLT_TOOLS[suite].package,) if uses(optimizations, "bolt") and suite in BOLT_TOOLS else ()


def bolt_env(suite: str) -> Dict[str, str]:
    """The BOLT step's own variables (its whole environment is build_plan's; these are added)."""
    tools = BOLT_TOOLS[suite]
    return {
        "BOLT_BIN_DIR": tools.bin_dir,
        "BOLT_INSTRUMENT_FLAGS": " ".join(INSTRUMENT_FLAGS),
        "BOLT_APPLY_FLAGS": " ".join(APPLY_FLAGS),
    }
