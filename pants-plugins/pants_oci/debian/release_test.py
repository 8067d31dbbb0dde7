import calendar
import hashlib
import re
import time
from pathlib import Path

import pytest

from pants_oci.debian.keyring import pinned_keyring
from pants_oci.debian.release import (
    ArchiveVerificationError,
    IndexFile,
    check_date,
    check_index,
    check_max_age,
    check_not_rolled_back,
    check_suite,
    check_valid_until,
    expected_index,
    parse_release,
    parse_release_date,
    verify_inrelease,
)
from pants_oci.openpgp.openpgp import load_keyring

TESTDATA = Path(__file__).parent / "testdata"
ARCHIVE = "http://mirror.example/debian"
SECURITY_ARCHIVE = "http://mirror.example/debian-security"

UPDATES_DATE = calendar.timegm((2026, 11, 21, 2, 10, 46))  # Date of bookworm-updates.InRelease.
SECURITY_DATE = calendar.timegm((2026, 11, 21, 0, 53, 2))  # Date of bookworm-security.InRelease.
SECURITY_VALID_UNTIL = calendar.timegm((2026, 11, 28, 0, 53, 2))


def _fixture(name: str) -> bytes:
    return (TESTDATA / name).read_bytes()


def _listed(inrelease: bytes, path: str) -> IndexFile:
    """The fixture's own SHA256 line for `path`, read independently of the parser under test."""
    match = re.search(rb"^ ([0-9a-f]{64}) +(\d+) " + re.escape(path.encode()) + rb"$", inrelease, re.MULTILINE)
    assert match is not None
    return IndexFile(match.group(1).decode(), int(match.group(2)))


def _assert_names_archive_and_suite(error: ArchiveVerificationError, archive: str, suite: str) -> None:
    assert (error.archive, error.suite) == (archive, suite)
    assert f"Debian archive {archive}, suite {suite}: " in str(error)
    assert "\n" not in str(error)


# --- Real InRelease files -----------------------------------------------------------------------------------------


def test_bookworm_security_verifies_and_parses() -> None:
    inrelease = _fixture("bookworm-security.InRelease")
    release = verify_inrelease(inrelease, pinned_keyring(), SECURITY_DATE + 3600, SECURITY_ARCHIVE, "bookworm-security")
    assert (release.origin, release.label, release.suite, release.codename) == (
        "Debian",
        "Debian-Security",
        "oldstable-security",
        "bookworm-security",
    )
    assert (release.date, release.valid_until) == (SECURITY_DATE, SECURITY_VALID_UNTIL)
    assert release.architectures == ("amd64", "arm64", "armhf", "i386", "ppc64el")
    assert release.components == ("updates/main", "updates/contrib", "updates/non-free-firmware", "updates/non-free")
    assert release.signer_fingerprints == (
        "AC530D520F2F3269F5E98313A48449044AAD5C5D",
        "05AB90340C0C5E797F44A8C8254CF3B5AEC0A8F0",
    )
    path = "main/binary-amd64/Packages.xz"
    listed = _listed(inrelease, path)
    assert expected_index(release, path, SECURITY_ARCHIVE, "bookworm-security") == (listed.sha256, listed.size)
    assert (
        len(release.sha256)
        == inrelease.split(b"\nSHA256:\n")[1].split(b"\n-----BEGIN PGP SIGNATURE")[0].count(b"\n") + 1
    )


def test_bookworm_updates_has_no_valid_until_so_no_limit() -> None:
    inrelease = _fixture("bookworm-updates.InRelease")
    years_later = UPDATES_DATE + 4 * 365 * 86400  # Still before the bookworm key expires (2031).
    release = verify_inrelease(inrelease, pinned_keyring(), years_later, ARCHIVE, "bookworm-updates")
    assert release.valid_until is None
    assert release.codename == "bookworm-updates"
    assert "main/binary-arm64/Packages.xz" in release.sha256


def test_an_expired_valid_until_is_a_stale_or_replayed_release() -> None:
    with pytest.raises(ArchiveVerificationError, match="stale or replayed Release file") as error:
        verify_inrelease(
            _fixture("bookworm-security.InRelease"),
            pinned_keyring(),
            SECURITY_VALID_UNTIL + 1,
            SECURITY_ARCHIVE,
            "bookworm-security",
        )
    _assert_names_archive_and_suite(error.value, SECURITY_ARCHIVE, "bookworm-security")
    assert "expired on Sat, 28 Nov 2026 00:53:02 UTC" in str(error.value)


def test_an_unknown_key_says_to_update_the_pinned_keyring() -> None:
    keyring_without_debian = load_keyring((TESTDATA / "test-rsa-key.asc").read_bytes())
    with pytest.raises(
        ArchiveVerificationError, match=r"update the pinned keyring in the plugin \(see keyring.py\)"
    ) as error:
        verify_inrelease(
            _fixture("bookworm-updates.InRelease"),
            keyring_without_debian,
            UPDATES_DATE + 3600,
            ARCHIVE,
            "bookworm-updates",
        )
    _assert_names_archive_and_suite(error.value, ARCHIVE, "bookworm-updates")
    assert "4CB50190207B4758A3F73A796ED0E7B82643E131" in str(error.value)  # The issuer seen.


def test_a_tampered_inrelease_is_refused() -> None:
    inrelease = _fixture("bookworm-updates.InRelease").replace(
        b"Codename: bookworm-updates", b"Codename: bookworm-updatez"
    )
    with pytest.raises(ArchiveVerificationError, match="altered after Debian signed it") as error:
        verify_inrelease(inrelease, pinned_keyring(), UPDATES_DATE + 3600, ARCHIVE, "bookworm-updates")
    _assert_names_archive_and_suite(error.value, ARCHIVE, "bookworm-updates")


def test_something_that_is_not_an_inrelease_is_refused() -> None:
    with pytest.raises(ArchiveVerificationError, match="not serve a clearsigned InRelease") as error:
        verify_inrelease(b"<html>Proxy error</html>\n", pinned_keyring(), UPDATES_DATE, ARCHIVE, "bookworm")
    _assert_names_archive_and_suite(error.value, ARCHIVE, "bookworm")


def test_another_suites_release_file_is_refused() -> None:
    with pytest.raises(ArchiveVerificationError, match="is for suite oldstable-security") as error:
        verify_inrelease(
            _fixture("bookworm-security.InRelease"),
            pinned_keyring(),
            SECURITY_DATE + 3600,
            SECURITY_ARCHIVE,
            "trixie-security",
        )
    _assert_names_archive_and_suite(error.value, SECURITY_ARCHIVE, "trixie-security")


def test_a_release_dated_in_the_future_is_refused() -> None:
    with pytest.raises(ArchiveVerificationError, match="Check this machine's clock"):
        verify_inrelease(
            _fixture("bookworm-security.InRelease"),
            pinned_keyring(),
            SECURITY_DATE - 3600,
            SECURITY_ARCHIVE,
            "bookworm-security",
        )


# --- Synthetic Release files --------------------------------------------------------------------------------------

PACKAGES_XZ = b"not really xz, but bytes with a known digest"
SMALL_RELEASE = (
    "Origin: Test\n"
    "Label: Test\n"
    "Suite: stable\n"
    "Codename: testing-codename\n"
    "Date: Sat, 22 Nov 2025 08:16:17 UTC\n"
    "Valid-Until: Sat, 29 Nov 2025 08:16:17 UTC\n"
    "Architectures: amd64 arm64\n"
    "Components: main\n"
    "Description: a small synthetic Release\n"
    "MD5Sum:\n"
    " 00000000000000000000000000000000 1 ignored\n"
    "SHA256:\n"
    f" {hashlib.sha256(PACKAGES_XZ).hexdigest()} {len(PACKAGES_XZ):>8} main/binary-amd64/Packages.xz\n"
    f" {hashlib.sha256(b'').hexdigest()}        0 main/binary-amd64/Packages\n"
).encode()
DATE = calendar.timegm((2025, 11, 22, 8, 16, 17))
VALID_UNTIL = calendar.timegm((2025, 11, 29, 8, 16, 17))


def _small_release():
    return parse_release(SMALL_RELEASE, ARCHIVE, "stable")


def test_parse_a_small_release() -> None:
    release = _small_release()
    assert (release.origin, release.label, release.suite, release.codename) == (
        "Test",
        "Test",
        "stable",
        "testing-codename",
    )
    assert (release.date, release.valid_until) == (DATE, VALID_UNTIL)
    assert (release.architectures, release.components) == (("amd64", "arm64"), ("main",))
    assert release.sha256 == {
        "main/binary-amd64/Packages.xz": IndexFile(hashlib.sha256(PACKAGES_XZ).hexdigest(), len(PACKAGES_XZ)),
        "main/binary-amd64/Packages": IndexFile(hashlib.sha256(b"").hexdigest(), 0),
    }
    assert release.fields["Description"] == "a small synthetic Release"


def test_check_index_accepts_the_listed_bytes() -> None:
    check_index(_small_release(), "main/binary-amd64/Packages.xz", PACKAGES_XZ, ARCHIVE, "stable")
    check_index(_small_release(), "main/binary-amd64/Packages", b"", ARCHIVE, "stable")


def test_check_index_size_mismatch() -> None:
    with pytest.raises(
        ArchiveVerificationError, match=r"is 3 bytes but the signed Release file says \d+ bytes"
    ) as error:
        check_index(_small_release(), "main/binary-amd64/Packages.xz", b"abc", ARCHIVE, "stable")
    _assert_names_archive_and_suite(error.value, ARCHIVE, "stable")
    assert "main/binary-amd64/Packages.xz" in str(error.value)


def test_check_index_hash_mismatch() -> None:
    same_size = bytes(len(PACKAGES_XZ))
    with pytest.raises(
        ArchiveVerificationError,
        match=f"has sha256 {hashlib.sha256(same_size).hexdigest()} but " f"the signed Release file says",
    ) as error:
        check_index(_small_release(), "main/binary-amd64/Packages.xz", same_size, ARCHIVE, "stable")
    _assert_names_archive_and_suite(error.value, ARCHIVE, "stable")


def test_an_index_the_release_does_not_list() -> None:
    with pytest.raises(ArchiveVerificationError, match="does not list main/binary-riscv64/Packages.xz") as error:
        expected_index(_small_release(), "main/binary-riscv64/Packages.xz", ARCHIVE, "stable")
    _assert_names_archive_and_suite(error.value, ARCHIVE, "stable")
    assert "architectures amd64 arm64" in str(error.value)


def test_valid_until_boundaries() -> None:
    release = _small_release()
    check_valid_until(release, VALID_UNTIL, ARCHIVE, "stable")  # Valid up to and including that second.
    with pytest.raises(ArchiveVerificationError, match="expired on Sat, 29 Nov 2025 08:16:17 UTC") as error:
        check_valid_until(release, VALID_UNTIL + 1, ARCHIVE, "stable")
    _assert_names_archive_and_suite(error.value, ARCHIVE, "stable")
    without_limit = parse_release(
        SMALL_RELEASE.replace(b"Valid-Until: Sat, 29 Nov 2025 08:16:17 UTC\n", b""), ARCHIVE, "stable"
    )
    check_valid_until(without_limit, VALID_UNTIL + 10 * 365 * 86400, ARCHIVE, "stable")


def test_a_date_in_the_future_is_refused() -> None:
    check_date(_small_release(), DATE, ARCHIVE, "stable")
    with pytest.raises(ArchiveVerificationError, match="dated Sat, 22 Nov 2025 08:16:17 UTC, after the current") as e:
        check_date(_small_release(), DATE - 1, ARCHIVE, "stable")
    _assert_names_archive_and_suite(e.value, ARCHIVE, "stable")


def test_suite_matches_the_suite_or_the_codename() -> None:
    check_suite(_small_release(), ARCHIVE, "stable")
    check_suite(_small_release(), ARCHIVE, "testing-codename")
    with pytest.raises(ArchiveVerificationError, match="not oldstable"):
        check_suite(_small_release(), ARCHIVE, "oldstable")


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda t: t.replace(b"Label: Test\n", b"Label: Test\nLabel: Again\n"), "field Label appears twice"),
        (lambda t: t.replace(b"Components: main\n", b"Components main\n"), "not a 'Field: value' line"),
        (lambda t: t.replace(b"Sat, 22 Nov 2025", b"22/11/2025"), "Date: .* is not a date"),
        (lambda t: t.replace(b"29 Nov 2025", b"31 Feb 2025"), "Valid-Until: .* is not a valid date"),
        (lambda t: t + b" abc 12 main/x\n", "is not 'sha256 size path'"),
        (lambda t: t + b"\nOrigin: Second paragraph\n", "one paragraph"),
        (lambda t: b" leading continuation\n" + t, "continues no field"),
        (lambda t: t + t[t.index(b" " + hashlib.sha256(b"").hexdigest().encode()) :], "lists .* twice"),
    ],
)
def test_malformed_release_files(edit, match: str) -> None:
    with pytest.raises(ArchiveVerificationError, match=match) as error:
        parse_release(edit(SMALL_RELEASE), ARCHIVE, "stable")
    _assert_names_archive_and_suite(error.value, ARCHIVE, "stable")
    assert "malformed Release file: " in str(error.value)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Sat, 22 Nov 2025 08:16:17 UTC", calendar.timegm((2025, 11, 22, 8, 16, 17))),
        ("Sat, 21 Nov 2026 02:10:46 UTC", UPDATES_DATE),
        ("22 Nov 2025 08:16:17 GMT", calendar.timegm((2025, 11, 22, 8, 16, 17))),
        ("Sat, 22 Nov 2025 09:16:17 +0100", calendar.timegm((2025, 11, 22, 8, 16, 17))),
        ("Fri, 21 Nov 2025 23:46:17 -0830", calendar.timegm((2025, 11, 22, 8, 16, 17))),
    ],
)
def test_parse_release_date(text: str, expected: int) -> None:
    assert parse_release_date(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2025-11-22 08:16:17",
        "Sat, 22 Nov 2025 08:16:17",
        "Sat, 22 Foo 2025 08:16:17 UTC",
        "Sat, 22 Nov 2025 25:16:17 UTC",
    ],
)
def test_parse_release_date_refuses_other_forms(text: str) -> None:
    with pytest.raises(ValueError):
        parse_release_date(text)


# --- Freshness: maximum age without Valid-Until, and rollback against the lock ------------------------------------

TODAY = calendar.timegm((2026, 12, 2, 0, 0, 0))
DAY = 86400


def test_the_real_bookworm_updates_is_within_the_default_max_age_today_but_not_a_week_later() -> None:
    # The testdata file is 11 days old today; the default maximum age (30 days) accepts it, 7 days would not.
    inrelease = _fixture("bookworm-updates.InRelease")
    release = verify_inrelease(inrelease, pinned_keyring(), TODAY, ARCHIVE, "bookworm-updates", max_age=30 * DAY)
    assert release.valid_until is None
    with pytest.raises(ArchiveVerificationError) as e:
        verify_inrelease(inrelease, pinned_keyring(), TODAY, ARCHIVE, "bookworm-updates", max_age=7 * DAY)
    _assert_names_archive_and_suite(e.value, ARCHIVE, "bookworm-updates")
    assert "dated Sat, 21 Nov 2026 02:10:46 UTC, 10 days before Wed, 02 Dec 2026 00:00:00 UTC" in str(e.value)
    assert "older than [debian].max_release_age (7 days)" in str(e.value)


def test_max_age_does_not_apply_with_valid_until_or_without_a_limit() -> None:
    with_limit = parse_release(
        b"Suite: s\nDate: Sat, 01 Nov 2025 00:00:00 UTC\nValid-Until: Sat, 08 Nov 2025 00:00:00 UTC\n", ARCHIVE, "s"
    )
    check_max_age(with_limit, TODAY, DAY, ARCHIVE, "s")  # Valid-Until decides (check_valid_until)
    without = parse_release(b"Suite: s\nDate: Sat, 01 Nov 2025 00:00:00 UTC\n", ARCHIVE, "s")
    assert without.date is not None
    check_max_age(without, TODAY, None, ARCHIVE, "s")
    check_max_age(without, without.date + DAY, DAY, ARCHIVE, "s")  # exactly the maximum age
    with pytest.raises(ArchiveVerificationError, match="older than"):
        check_max_age(without, without.date + DAY + 1, DAY, ARCHIVE, "s")
    undated = parse_release(b"Suite: s\n", ARCHIVE, "s")
    with pytest.raises(ArchiveVerificationError, match="neither Date nor Valid-Until"):
        check_max_age(undated, TODAY, DAY, ARCHIVE, "s")


def test_a_release_older_than_the_locks_is_a_rollback() -> None:
    lock = "3rdparty/debian/base.lock.json (./pants generate-lockfiles --resolve=src:base)"
    check_not_rolled_back(UPDATES_DATE, UPDATES_DATE, ARCHIVE, "bookworm-updates", lock)  # the same file
    check_not_rolled_back(UPDATES_DATE + 1, UPDATES_DATE, ARCHIVE, "bookworm-updates", lock)
    with pytest.raises(ArchiveVerificationError) as e:
        check_not_rolled_back(UPDATES_DATE, UPDATES_DATE + DAY, ARCHIVE, "bookworm-updates", lock)
    _assert_names_archive_and_suite(e.value, ARCHIVE, "bookworm-updates")
    assert (
        "the mirror's Release file is dated Sat, 21 Nov 2026 02:10:46 UTC, older than the one the lock "
        f"{lock} was made from (Sun, 22 Nov 2026 02:10:46 UTC)"
    ) in str(e.value)
    assert "Use an up-to-date mirror" in str(e.value) and len(str(e.value)) < 2000
    with pytest.raises(ArchiveVerificationError, match="dated undated"):
        check_not_rolled_back(None, UPDATES_DATE, ARCHIVE, "bookworm-updates", lock)


def test_a_release_with_a_long_field_parses_in_linear_time() -> None:
    # 100,000 continuation lines (8 MB): building the value with += took about a minute (12 s for half as many).
    lines = b"".join(b" %064x 1 main/f%d\n" % (i, i) for i in range(100000))
    text = b"Suite: s\nSHA256:\n" + lines
    start = time.monotonic()
    release = parse_release(text, ARCHIVE, "s")
    assert len(release.sha256) == 100000 and time.monotonic() - start < 5


def test_long_causes_are_cut() -> None:
    error = ArchiveVerificationError(ARCHIVE, "s", "x" * 100000, "Fix it")
    assert len(str(error)) < 2000 and str(error).endswith(". Fix it") and "characters cut" in str(error)
