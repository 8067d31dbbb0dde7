import json

import pytest

from pants_oci.runtime.diagnostics import EXIT_CONFIGURE, EXIT_MAKE, EXIT_MODULES, diagnose_build_failure, diagnose_log


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
    assert expected in diagnose_log(log)


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
