import json

import pytest

from pants_oci.runtime.diagnostics import (
    EXIT_ADDRESSES_NOT_FIXED,
    EXIT_CONFIGURE,
    EXIT_MAKE,
    EXIT_MODULES,
    EXIT_PROFILE_COMPILER,
    diagnose_build_failure,
    diagnose_log,
)


@pytest.mark.parametrize(
    "log, expected",
    [
        ("checking for gcc... no\nconfigure: error: no acceptable C compiler found in $PATH", "no C compiler"),
        ("configure: error: C compiler cannot create executables", "libc6-dev"),
        ("configure: error: unrecognized options: --with-bogus", "does not know the option(s) --with-bogus"),
        ("build_cpython.sh: line 70: make: command not found", "`make` was not found"),
        ("./Modules/_ssl.c:45:10: fatal error: openssl/rsa.h: No such file or directory", "header openssl/rsa.h"),
        ("gcc: fatal error: Killed signal terminated program cc1", "ran out of memory"),
        ("configure: error: something odd", "configure stopped: something odd"),
    ],
)
def test_known_causes_are_named(log: str, expected: str) -> None:
    assert expected in (diagnose_log(log) or "")


def test_unknown_cause_shows_the_log_tail() -> None:
    stderr = "\n".join(f"line {i}" for i in range(100))
    message = diagnose_build_failure("src:rt", "3.13.5", EXIT_MAKE, stderr, None)
    assert message.startswith("Building CPython 3.13.5 for src:rt failed in make: no known cause")
    assert "line 99" in message and "line 10\n" not in message


def test_configure_failure_names_step_and_cause() -> None:
    message = diagnose_build_failure(
        "src:rt", "3.13.5", EXIT_CONFIGURE, "configure: error: unrecognized options: --nope", None
    )
    assert "failed in configure" in message and "--nope" in message and "extra_configure_args" in message


def test_missing_modules_use_the_report() -> None:
    report = json.dumps({"missing_required": {"readline": "ModuleNotFoundError: No module named 'readline'"}})
    message = diagnose_build_failure("src:rt", "3.13.5", EXIT_MODULES, "", report.encode())
    assert message.startswith("Building src:rt failed: CPython 3.13.5 was built without 1 required")
    assert "libreadline-dev" in message


def test_a_host_that_refuses_fixed_addresses_gets_the_ways_out() -> None:
    stderr = (
        "[build_cpython] training run\n"
        "fixed_layout: the kernel refused personality(ADDR_NO_RANDOMIZE): Operation not permitted"
    )
    message = diagnose_build_failure("src:rt", "3.13.5", EXIT_ADDRESSES_NOT_FIXED, stderr, None)
    assert "failed before the PGO training run" in message and "seccomp" in message
    assert "`pgo_profile`" in message and 'optimizations="lto"' in message
    assert message.endswith("Operation not permitted")


def test_a_profile_from_another_gcc_says_to_make_a_new_one() -> None:
    stderr = (
        "[build_cpython] the PGO profile was made by GCC 12.2.0, and this compile uses GCC 13.1.0, which would "
        "ignore it"
    )
    message = diagnose_build_failure("src:rt", "3.13.5", EXIT_PROFILE_COMPILER, stderr, None)
    assert "made by GCC 12.2.0, and this compile uses GCC 13.1.0" in message
    assert "./pants package src:rt" in message
