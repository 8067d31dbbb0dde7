"""Turn a failed CPython build into a diagnosis a person can act on. Pure; no Pants imports.

build_cpython.sh exits with a code per step and prints the tail of that step's log; these functions read that
text and name the cause and the fix, instead of handing the user a wall of compiler output.
"""
import json
import re
from typing import Dict, Optional

from pants_oci.runtime.modules import missing_modules_message

EXIT_CONFIGURE = 10
EXIT_MAKE = 11
EXIT_INSTALL = 12
EXIT_MODULES = 13
EXIT_TRAINING = 14
EXIT_ADDRESSES_NOT_FIXED = 15
EXIT_PROFILE_COMPILER = 16

STEP_NAMES = {
    EXIT_CONFIGURE: "configure",
    EXIT_MAKE: "make",
    EXIT_INSTALL: "install",
    EXIT_MODULES: "module check",
    EXIT_TRAINING: "PGO training run",
}

# Failures whose cause the exit code alone names: the message, with {address} and {detail} (the script's stderr).
_KNOWN_EXITS = {
    EXIT_ADDRESSES_NOT_FIXED: (
        "Building CPython {version} for {address} failed before the PGO training run: it needs address space "
        "layout randomization off (personality(ADDR_NO_RANDOMIZE)), so that its profile is the same on every "
        "machine, and this host refused it. A container's seccomp filter does that (Docker's default profile; "
        "allow the personality syscall, or run with --security-opt seccomp=unconfined). Or pin a profile made "
        'where it works with the `pgo_profile` field, or use optimizations="lto".\n\n{detail}'
    ),
    EXIT_PROFILE_COMPILER: (
        "Building CPython {version} for {address} failed: its `pgo_profile` does not fit the compiler. {detail}. "
        "Make a new profile with this compiler: remove `pgo_profile` and `pgo_profile_sha256`, run ./pants "
        "package {address}, and pin the `.pgo-profile.tar.gz` it writes."
    ),
}

# (pattern, diagnosis). The first match wins; a diagnosis may use the match's groups.
_KNOWN_CAUSES = (
    (
        r"no acceptable C compiler found|cc: command not found|gcc: command not found",
        "no C compiler was found on the build PATH. Install one (Debian/Ubuntu: apt-get install build-essential) "
        "or point [cpython-build].build_search_path at it.",
    ),
    (
        r"C compiler cannot create executables",
        "the C compiler cannot link a program: the C library headers are missing (Debian/Ubuntu: apt-get install "
        "libc6-dev), or CFLAGS/LDFLAGS in extra_configure_args are wrong. See config.log.",
    ),
    (
        r"unrecognized options: (.+)",
        "this CPython's ./configure does not know the option(s) {0}. Remove them from the target's "
        "`extra_configure_args` field.",
    ),
    (
        r"make: command not found|No targets specified and no makefile found",
        "`make` was not found on the build PATH. Install it (Debian/Ubuntu: apt-get install make).",
    ),
    (
        r"fatal error: ([\w./+-]+\.h): No such file or directory",
        "the header {0} was not found. Install the -dev package that provides it "
        "(Debian: apt-file search {0}) and build again.",
    ),
    (
        r"(Killed signal terminated program|virtual memory exhausted|Cannot allocate memory|out of memory)",
        "the compiler ran out of memory. Build with fewer jobs ([GLOBAL].process_execution_local_parallelism) "
        'or with optimizations="none" or "pgo" instead of an LTO build.',
    ),
    (r"No space left on device", "the disk is full: free space in the Pants sandbox directory (usually /tmp)."),
    (r"configure: error: (.+)", "configure stopped: {0}"),
    (
        r"(\S+\.c:\d+:\d+: error: .+)",
        "a compile error: {0}. extra_configure_args or a patched toolchain are the " "usual suspects.",
    ),
)


def diagnose_log(log_tail: str) -> Optional[str]:
    for pattern, diagnosis in _KNOWN_CAUSES:
        match = re.search(pattern, log_tail)
        if match:
            return diagnosis.format(*(g.strip() for g in match.groups()))
    return None


def tail(text: str, lines: int) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def diagnose_build_failure(
    address: str,
    version: str,
    exit_code: int,
    stderr: str,
    report_json: Optional[bytes],
    build_root_resolve: Optional[str] = None,
) -> str:
    """The error message for a failed build: what failed, why, how to fix it, and the evidence.
    `build_root_resolve`: the lock of the build root the compile ran in (None for a host toolchain)."""
    if exit_code == EXIT_MODULES and report_json:
        report = json.loads(report_json)
        missing: Dict[str, str] = report["missing_required"]
        return f"Building {address} failed: " + missing_modules_message(missing, version, build_root_resolve)
    if exit_code in _KNOWN_EXITS:
        # The script's last line says what it found.
        detail = tail(stderr, 1).replace("[build_cpython] ", "").strip()
        return _KNOWN_EXITS[exit_code].format(version=version, address=address, detail=detail)
    step = STEP_NAMES.get(exit_code, f"the build script (exit code {exit_code})")
    cause = diagnose_log(stderr) or "no known cause was recognized; the log's last lines follow."
    if build_root_resolve and "Install" in cause:
        # In a build root nothing is installed on the host: packages come from the build root's lock.
        cause += (
            f" (This compile ran in a build root: add the package to the target's `build_root_packages` field "
            f"and relock it with ./pants generate-lockfiles --resolve={build_root_resolve}.)"
        )
    return (
        f"Building CPython {version} for {address} failed in {step}: {cause}\n\n"
        f"Last lines of the {step} log:\n{tail(stderr, 25)}"
    )
