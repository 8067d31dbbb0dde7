import re

import pytest

from pants_oci.runtime import bolt


def test_levels_without_bolt_have_no_problem_and_no_extra_packages() -> None:
    for level in ("none", "lto", "pgo", "pgo+lto"):
        assert bolt.bolt_problem("src:rt", "3.11.2", level, "host", "bookworm") is None
        assert bolt.build_root_packages(level, "trixie") == ()


def test_bolt_adds_the_suites_bolt_package_to_the_build_root() -> None:
    assert bolt.bolt_problem("src:rt", "3.13.5", "pgo+lto+bolt", "build-root", "trixie") is None
    assert bolt.build_root_packages("pgo+lto+bolt", "trixie") == ("bolt-19",)
    assert bolt.bolt_env("trixie")["BOLT_BIN_DIR"] == "/usr/lib/llvm-19/bin"


@pytest.mark.parametrize(
    "version, toolchain, suite, expected",
    [
        ("3.11.2", "build-root", "trixie", r"CPython 3\.11\.2 predates BOLT support \(3\.12\)"),
        ("3.13.5", "host", "trixie", r"takes llvm-bolt from the build root's lock, but `toolchain` is 'host'"),
        ("3.13.5", "build-root", "bookworm", r"bolt-19 of Debian trixie, but `build_root_suite` is 'bookworm'"),
    ],
)
def test_bolt_is_refused_where_it_was_not_built_and_measured(
    version: str, toolchain: str, suite: str, expected: str
) -> None:
    problem = bolt.bolt_problem("src:rt", version, "pgo+lto+bolt", toolchain, suite)
    assert problem is not None
    assert problem.startswith("The 'optimizations' field in target src:rt is 'pgo+lto+bolt'")
    assert 'optimizations="pgo+lto"' in problem

    assert re.search(expected, problem), problem
