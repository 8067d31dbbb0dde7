"""Building a runtime for another architecture than the build machine's: cross-compiled in a build root. Pure.

The build root of a cross build holds the build machine's toolchain, Debian's cross compiler for the target
(`gcc-aarch64-linux-gnu`), the target architecture's `-dev` packages (multiarch: headers and libraries under
/usr/include/<triplet> and /usr/lib/<triplet>, `libssl-dev:arm64` in apt's syntax) and `qemu-user-static`, all from
one lock. configure runs with `--host`, `--build` and `--with-build-python` (a native build of the same runtime),
and the questions configure cannot answer by running a test program are answered in CONFIG_SITE. The new
interpreter then runs under qemu-user inside the build root for the module check and its complete platform; its
bytecode is compiled by the native build of the same version (CPython bytecode does not depend on the machine).

PGO is not done for a cross build: a profile records the branches of one machine's code, so a profile from the
native build does not fit the target's, and training under qemu-user would profile qemu's timing-free emulation
of a CPU nobody runs in production. A cross build with `pgo` or `pgo+lto` is built with what is left (`none` or
`lto`), and says so.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

# The architecture build roots run on: the plugin's build machines are x86-64 Linux.
BUILD_MACHINE = "amd64"
BUILD_TRIPLET = "x86_64-linux-gnu"


@dataclass(frozen=True)
class CrossTarget:
    architecture: str  # Debian's name, e.g. arm64
    triplet: str  # GNU triplet, the cross compiler's prefix, e.g. aarch64-linux-gnu
    compiler_package: str  # Debian's cross compiler for it (architecture amd64)
    emulator: str  # the qemu-user program that runs its binaries (package qemu-user-static)
    elf_machine: str  # as elf/elf.py names it


# What the configure checks that run a test program would answer on the target (Debian arm64, Linux).
CONFIG_SITE = ("ac_cv_buggy_getaddrinfo=no", "ac_cv_file__dev_ptmx=yes", "ac_cv_file__dev_ptc=no")
EMULATOR_PACKAGE = "qemu-user-static"

CROSS_TARGETS: Dict[str, CrossTarget] = {
    "arm64": CrossTarget("arm64", "aarch64-linux-gnu", "gcc-aarch64-linux-gnu", "qemu-aarch64-static", "aarch64"),
}
ARCHITECTURES = (BUILD_MACHINE, *CROSS_TARGETS)

# Debian's hardening flags per architecture (dpkg-buildflags): x86 has control-flow protection (CET), arm64 its
# branch protection (PAC and BTI); each compiler rejects the other's flag.
CONTROL_FLOW_CFLAGS = {BUILD_MACHINE: "-fcf-protection", "arm64": "-mbranch-protection=standard"}


def cross_target(architecture: str) -> Optional[CrossTarget]:
    """None for the build machine's own architecture (a native build); ValueError for one the plugin cannot build."""
    if architecture == BUILD_MACHINE:
        return None
    if architecture not in CROSS_TARGETS:
        raise ValueError(
            f"architecture {architecture!r} is not one the plugin builds runtimes for: {', '.join(ARCHITECTURES)}"
        )
    return CROSS_TARGETS[architecture]


def cross_optimizations(optimizations: str) -> str:
    """What a cross build of a runtime with `optimizations` is built with: the same without PGO (see above), and
    without BOLT, which needs the same training run."""
    kept = [part for part in optimizations.split("+") if part not in ("pgo", "bolt")]
    return "+".join(kept) or "none"


def cross_build_root_packages(
    native_tools: Sequence[str], dev_packages: Sequence[str], target: CrossTarget
) -> List[str]:
    """A cross build root's request: the native tools, the cross compiler, qemu-user, and the target's libc and
    -dev packages qualified with its architecture."""
    foreign = [f"{name}:{target.architecture}" for name in sorted({"libc6-dev", *dev_packages})]
    return sorted({*native_tools, target.compiler_package, EMULATOR_PACKAGE, *foreign})


def cross_env(target: CrossTarget, build_python: str) -> Dict[str, str]:
    """What build_cpython.sh needs to cross-compile, beside the native build's environment."""
    return {
        "CPYTHON_CROSS_HOST": target.triplet,
        "CPYTHON_CROSS_BUILD": BUILD_TRIPLET,
        "CPYTHON_BUILD_PYTHON": build_python,
        "CPYTHON_TARGET_EMULATOR": target.emulator,
        "CPYTHON_CONFIG_SITE": "\n".join(CONFIG_SITE),
    }
