import shutil
import subprocess
from typing import List, Tuple

import pytest

from pants_oci.debian.version import compare_versions, parse_version, version_key

# (smaller, larger): each pair is checked both ways by our code and, where dpkg exists, by dpkg itself.
LESS_THAN: List[Tuple[str, str]] = [
    ("1.0~rc1", "1.0"),
    ("1.0~rc1", "1.0~rc2"),
    ("1.0~~", "1.0~"),
    ("1.0~", "1.0"),
    ("1.0~beta", "1.0"),
    ("2.0", "1:0.1"),
    ("1:9.9", "2:0"),
    ("3.0.20-1~deb12u2", "3.0.22-1~deb12u2"),
    ("2.5.0-1+deb12u2", "2.5.0-1+deb12u5"),
    ("2026b-0+deb12u1", "2026f-0+deb12u1"),
    ("1.0-1", "1.0-1+b1"),
    ("1.0-1~bpo12+1", "1.0-1"),
    ("1.0", "1.0a"),
    ("1.0", "1.0.1"),
    ("1.0a", "1.0+"),
    ("1.0a", "1.0.0"),
    ("1.0+dfsg", "1.0.1"),
    ("1.2", "1.10"),
    ("1.09", "1.10"),
    ("1.0-2", "1.0-10"),
    ("9", "10"),
    ("0.9", "1.0"),
    ("1.0-1", "1.0.0-1"),
    ("2.36-9+deb12u9", "2.36-9+deb12u10"),
    ("252.30-1~deb12u2", "252.31-1~deb12u1"),
    ("7.88.1-10+deb12u8", "7.88.1-10+deb12u12"),
    ("1.2.13.dfsg-1", "1:1.2.13.dfsg-1"),
    ("1.0-1", "1.0-1a"),
    ("1.0-a", "1.0-b"),
    ("1.0-Z", "1.0-a"),
    ("1.0", "1.0-1"),
    ("1.0-0", "1.0-1"),
    ("1.0~rc1-1", "1.0-1"),
    ("1.0-1~", "1.0-1"),
    ("1.0.0~", "1.0.0"),
    ("3.11.2-6", "3.11.2-6+deb12u6"),
    ("1:2.38.1-5+deb12u3", "1:2.38.1-5+deb12u4"),
    ("0:1.0", "1:0"),
    ("1.0-1.1", "1.0-1.2"),
    ("1:1.0-1-2", "1:1.0-1-3"),
    ("1", "a1"),  # dpkg warns that "a1" does not start with a digit, and still orders it.
]

EQUAL: List[Tuple[str, str]] = [
    ("1.0", "1.0"),
    ("0:1.0", "1.0"),
    ("1.0", "1.0-0"),
    ("1.00", "1.0"),
    ("1.0-01", "1.0-1"),
    ("001:1.0", "1:1.0"),
    (" 1.0 ", "1.0"),
]


@pytest.mark.parametrize("smaller, larger", LESS_THAN)
def test_less_than_both_ways(smaller: str, larger: str) -> None:
    assert compare_versions(smaller, larger) == -1
    assert compare_versions(larger, smaller) == 1


@pytest.mark.parametrize("a, b", EQUAL)
def test_equal(a: str, b: str) -> None:
    assert compare_versions(a, b) == 0
    assert compare_versions(b, a) == 0


def _dpkg_says(a: str, relation: str, b: str) -> bool:
    return subprocess.run(["dpkg", "--compare-versions", a, relation, b], capture_output=True).returncode == 0


def test_the_table_matches_dpkg_itself() -> None:
    if shutil.which("dpkg") is None:
        pytest.skip("dpkg is not installed here: the table is only checked against our implementation")
    wrong = [f"{a} < {b}" for a, b in LESS_THAN if not (_dpkg_says(a, "lt", b) and _dpkg_says(b, "gt", a))]
    wrong += [f"{a} = {b}" for a, b in EQUAL if not _dpkg_says(a, "eq", b)]
    assert wrong == [], "dpkg disagrees with the test table"


def test_epoch_wins_over_everything_else() -> None:
    assert compare_versions("1:0.1", "2.0") == 1
    assert compare_versions("1:0.1", "1:2.0") == -1


def test_parse_splits_epoch_upstream_revision() -> None:
    # The epoch ends at the first colon, the revision starts after the last hyphen.
    version = parse_version("2:1.0-rc1:x-3+b1")
    assert (version.epoch, version.upstream, version.revision) == (2, "1.0-rc1:x", "3+b1")
    version = parse_version("1.0")
    assert (version.epoch, version.upstream, version.revision) == (0, "1.0", "")


@pytest.mark.parametrize(
    "version, reason",
    [
        ("", "version string is empty"),
        ("   ", "version string is empty"),
        ("1.0 2", "embedded spaces"),
        ("1.0-", "revision number is empty"),
        (":1.0", "epoch in version is empty"),
        ("x:1.0", "epoch in version is not number"),
        ("1:", "nothing after colon"),
        ("-1", "version number is empty"),
        ("99999999999:1", "epoch in version is too big"),
    ],
)
def test_syntax_errors_dpkg_rejects(version: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        compare_versions(version, "1.0")


def test_the_key_orders_versions_as_apt_does() -> None:
    versions = ["1.0-1+b1", "1.0~rc1-1", "1:0.5-1", "1.0-1", "1.0-1~bpo12+1", "0.9-3"]
    assert sorted(versions, key=version_key) == ["0.9-3", "1.0~rc1-1", "1.0-1~bpo12+1", "1.0-1", "1.0-1+b1", "1:0.5-1"]
    assert max(versions, key=version_key) == "1:0.5-1"
