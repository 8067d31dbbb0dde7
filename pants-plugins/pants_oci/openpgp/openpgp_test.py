"""Tests against real data: Debian's InRelease files and the machine's Debian archive keyrings, cross-checked with
gpgv from the test-tools Debian lock; small gpg-made fixtures cover Ed25519 messages, SHA384 and SHA1, and crafted
keys and signatures (openpgp/testing.py) the limits and the time checks. openpgp_crosscheck_test.py sets the
verdicts beside gpgv's and sqv's."""
import functools
import re
import subprocess
import time
import tracemalloc
from pathlib import Path
from typing import Set, Tuple

import pytest

from pants_oci.debian.release import parse_release_date
from pants_oci.openpgp.openpgp import (
    BAD_SIGNATURE,
    EXPIRED_KEY,
    EXPIRED_SIGNATURE,
    FUTURE_SIGNATURE,
    MALFORMED,
    MAX_CLEARSIGNED_BYTES,
    MAX_ERROR_CHARS,
    MAX_SIGNATURE_BLOCK_BYTES,
    MAX_SIGNATURE_PACKETS,
    NO_TRUSTED_KEY,
    REVOKED_KEY,
    TOO_LARGE,
    UNSUPPORTED,
    Keyring,
    Packet,
    SignatureError,
    armor,
    crc24,
    dearmor_all,
    ed25519_has_small_order,
    ed25519_verify,
    load_keyring,
    parse_clearsigned,
    parse_packets,
    shorten,
    verify_clearsigned,
    verify_detached,
)
from pants_oci.openpgp.testing import IDENTITY_ENCODING, CraftedKey, certificate, clearsign, detached, locked_tool

# The OpenPGP fixtures sit with the Debian ones they share keys and InRelease files with (debian/testdata/README.md).
TESTDATA = Path(__file__).parent.parent / "debian" / "testdata"
MACHINE_KEYRINGS = Path("/usr/share/keyrings")

# Who signed the fixtures, as `gpgv --status-fd` reports them in VALIDSIG: (signing subkey, primary key).
SIGNERS = {
    "bookworm-updates.InRelease": {
        ("4CB50190207B4758A3F73A796ED0E7B82643E131", "B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8"),  # 12/bookworm
        ("B8E5F13176D2A7A75220028078DBA3BC47EF2265", "04B54C3CDCA79751B16BC6B5225629DF75B188BD"),  # 13/trixie
    },
    "bookworm-security.InRelease": {
        ("ED541312A33F1128F10B1C6C54404762BBB6E853", "AC530D520F2F3269F5E98313A48449044AAD5C5D"),  # 11/bullseye
        ("B0CAB9266E8C3929798B3EEEBDE6D2B9216EC7A8", "05AB90340C0C5E797F44A8C8254CF3B5AEC0A8F0"),  # 12/bookworm
    },
}
TEST_ED25519_FINGERPRINT = "66D741DE3100D2AF92C745547A2566D2AE339029"
TEST_RSA_FINGERPRINT = "0EBE2D63F482B2DEF8A387BA32859A911A755DF9"
TEST_SIGNED_AT = 1748736000  # 2025-06-01 00:00:00 UTC, when the test fixtures were signed.
TEST_ED25519_KEY_EXPIRY = 1767225600  # 2026-01-01 00:00:00 UTC.


def _fixture(name: str) -> bytes:
    return (TESTDATA / name).read_bytes()


def _machine_keyring_path(name: str) -> Path:
    path = MACHINE_KEYRINGS / name
    if not path.exists():
        pytest.skip(f"{path} is absent (install the debian-archive-keyring package to test against real keys)")
    return path


@functools.lru_cache(maxsize=None)
def _load_machine_keyring(name: str) -> Keyring:
    return load_keyring(_machine_keyring_path(name).read_bytes())


def _debian_keyring() -> Keyring:
    return _load_machine_keyring("debian-archive-keyring.gpg")


def _signed_at(inrelease: bytes) -> int:
    date = re.search(rb"^Date: (.+)$", inrelease, re.MULTILINE)
    assert date is not None
    return parse_release_date(date.group(1).decode())


def _an_hour_after_signing(inrelease: bytes) -> int:
    return _signed_at(inrelease) + 3600


def _gpgv(keyring: Path, message: Path) -> Tuple[int, Set[Tuple[str, str]], str]:
    """gpgv's exit code, its VALIDSIG (signing key, primary key) pairs and its status lines."""
    result = subprocess.run(
        [locked_tool("gpgv"), "--status-fd", "1", "--keyring", str(keyring), str(message)],
        capture_output=True,
        text=True,
    )
    valid = set()
    for line in result.stdout.splitlines():
        fields = line.split()
        if fields[1:2] == ["VALIDSIG"]:
            valid.add((fields[2], fields[-1]))
    return result.returncode, valid, result.stdout


def _tampered_text(inrelease: bytes) -> bytes:
    """One byte of the signed text changed: a digit of the first SHA256 entry."""
    start = inrelease.index(b"\nSHA256:\n ") + len(b"\nSHA256:\n ")
    changed = b"0" if inrelease[start : start + 1] != b"0" else b"1"
    return inrelease[:start] + changed + inrelease[start + 1 :]


def _with_signature_bytes_changed(message: bytes, edit) -> bytes:
    """The message with its signature packets edited by `edit(data) -> data` and re-armored with a valid CRC."""
    start = message.index(b"\n-----BEGIN PGP SIGNATURE-----") + 1  # At a line start: not a dash-escaped text line.
    block = dearmor_all(message[start:].decode("ascii"))[0]
    return message[:start] + armor("SIGNATURE", edit(block.data)).encode("ascii")


def _flip_last_byte_of_first_packet(data: bytes) -> bytes:
    first = parse_packets(data)[0]
    position = data.index(first.body) + len(first.body) - 1
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


def _serialize(packets) -> bytes:
    """New-format packets (the tests rebuild keyrings after editing one packet)."""
    out = b""
    for packet in packets:
        size = len(packet.body)
        if size < 192:
            length = bytes([size])
        elif size < 8384:
            length = bytes([((size - 192) >> 8) + 192, (size - 192) & 0xFF])
        else:
            length = b"\xff" + size.to_bytes(4, "big")
        out += bytes([0xC0 | packet.tag]) + length + packet.body
    return out


def _flip_last_byte(packet: Packet) -> Packet:
    return Packet(packet.tag, packet.body[:-1] + bytes([packet.body[-1] ^ 0x01]))


# --- Real Debian data ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SIGNERS))
def test_real_inrelease_verifies_and_names_its_signers(name: str) -> None:
    inrelease = _fixture(name)
    verified = verify_clearsigned(inrelease, _debian_keyring(), _an_hour_after_signing(inrelease))
    assert set(zip(verified.signing_key_fingerprints, verified.signer_fingerprints)) == SIGNERS[name]
    assert verified.ignored_signatures == ()
    assert verified.signed_text.startswith(b"Origin: Debian\n")
    assert verified.signed_text.endswith(b"/Sources.xz\n")
    assert b"PGP" not in verified.signed_text


@pytest.mark.parametrize("name", sorted(SIGNERS))
def test_gpgv_finds_the_same_signers(name: str) -> None:
    returncode, valid, status = _gpgv(_machine_keyring_path("debian-archive-keyring.gpg"), TESTDATA / name)
    assert valid == SIGNERS[name], status


def test_one_byte_changed_in_the_signed_text_is_a_bad_signature(tmp_path: Path) -> None:
    inrelease = _fixture("bookworm-updates.InRelease")
    tampered = _tampered_text(inrelease)
    with pytest.raises(SignatureError, match="digest does not match") as error:
        verify_clearsigned(tampered, _debian_keyring(), _an_hour_after_signing(inrelease))
    assert error.value.reason == BAD_SIGNATURE
    (tmp_path / "InRelease").write_bytes(tampered)
    returncode, valid, status = _gpgv(_machine_keyring_path("debian-archive-keyring.gpg"), tmp_path / "InRelease")
    assert returncode != 0 and "BADSIG" in status and not valid


def test_one_byte_changed_in_a_signature_is_a_bad_signature(tmp_path: Path) -> None:
    inrelease = _fixture("bookworm-security.InRelease")
    tampered = _with_signature_bytes_changed(inrelease, _flip_last_byte_of_first_packet)
    # The other signature still verifies, but a trusted key's signature that fails means tampering: refuse.
    with pytest.raises(SignatureError, match="signature value does not verify") as error:
        verify_clearsigned(tampered, _debian_keyring(), _an_hour_after_signing(inrelease))
    assert error.value.reason == BAD_SIGNATURE
    (tmp_path / "InRelease").write_bytes(tampered)
    returncode, _, status = _gpgv(_machine_keyring_path("debian-archive-keyring.gpg"), tmp_path / "InRelease")
    assert returncode != 0 and "BADSIG" in status


def test_damaged_armor_fails_its_crc24() -> None:
    inrelease = _fixture("bookworm-updates.InRelease")
    start = inrelease.index(b"-----BEGIN PGP SIGNATURE-----\n\n") + len(b"-----BEGIN PGP SIGNATURE-----\n\n")
    damaged = (
        inrelease[: start + 10]
        + (b"A" if inrelease[start + 10 : start + 11] != b"A" else b"B")
        + inrelease[start + 11 :]
    )
    with pytest.raises(SignatureError, match="CRC24") as error:
        verify_clearsigned(damaged, _debian_keyring(), _an_hour_after_signing(inrelease))
    assert error.value.reason == MALFORMED


def test_a_keyring_without_the_signing_keys_is_no_trusted_key() -> None:
    inrelease = _fixture("bookworm-updates.InRelease")
    keyring = _load_machine_keyring("debian-archive-bullseye-security-automatic.gpg")
    with pytest.raises(SignatureError, match="no signature by a trusted key") as error:
        verify_clearsigned(inrelease, keyring, _an_hour_after_signing(inrelease))
    assert error.value.reason == NO_TRUSTED_KEY
    for signing_key, _ in SIGNERS["bookworm-updates.InRelease"]:
        assert signing_key in str(error.value)  # The issuers seen are listed.


def test_a_key_past_its_expiry_fails() -> None:
    inrelease = _fixture("bookworm-security.InRelease")
    keyring = _load_machine_keyring("debian-archive-bookworm-security-automatic.gpg")
    expiry = keyring.certificates[0].primary.expires
    assert expiry == 1926589533  # 2031-01-19, as `gpg --show-keys` says.
    verify_clearsigned(inrelease, keyring, expiry - 1)
    with pytest.raises(SignatureError, match="expired on 2031-01-19") as error:
        verify_clearsigned(inrelease, keyring, expiry)
    assert error.value.reason == EXPIRED_KEY


def test_an_expired_key_is_ignored_when_another_trusted_key_signed() -> None:
    inrelease = _fixture("bookworm-security.InRelease")
    after_bullseye_expiry = 1863170224 + 1  # The 11/bullseye security key expires 2029-01-15; 12/bookworm later.
    verified = verify_clearsigned(inrelease, _debian_keyring(), after_bullseye_expiry)
    assert verified.signer_fingerprints == ("05AB90340C0C5E797F44A8C8254CF3B5AEC0A8F0",)
    assert len(verified.ignored_signatures) == 1 and "expired" in verified.ignored_signatures[0]


def test_debian_keys_load_with_gpgs_fingerprints_and_expiry() -> None:
    keyring = _load_machine_keyring("debian-archive-bookworm-automatic.gpg")
    (certificate,) = keyring.certificates
    assert certificate.fingerprint == "B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8"
    assert certificate.user_ids == ("Debian Archive Automatic Signing Key (12/bookworm) <ftpmaster@debian.org>",)
    assert certificate.primary.expires == 1926589461
    (subkey,) = certificate.subkeys
    assert (subkey.fingerprint, subkey.key.key_id) == ("4CB50190207B4758A3F73A796ED0E7B82643E131", "6ED0E7B82643E131")
    assert subkey.can_sign and subkey.expires == 1926589461 and not subkey.revoked


def test_debian_ed25519_stable_key_self_signature_verifies_and_a_damaged_one_does_not() -> None:
    data = _machine_keyring_path("debian-archive-bookworm-stable.gpg").read_bytes()
    keyring = load_keyring(data)  # Loading verifies the Ed25519 self-signature on the user ID.
    assert keyring.fingerprints == ("4D64FEC119C2029067D6E791F8D2585B8783D481",)
    assert keyring.certificates[0].primary.expires == 1926780243
    packets = parse_packets(data)
    assert [p.tag for p in packets] == [6, 13, 2]
    damaged = load_keyring(_serialize(packets[:2] + [_flip_last_byte(packets[2])]))
    assert damaged.certificates == ()
    assert "no valid self-signature" in damaged.rejected[0].reason


def test_a_subkey_without_a_valid_binding_signature_does_not_count() -> None:
    packets = parse_packets(_machine_keyring_path("debian-archive-bookworm-automatic.gpg").read_bytes())
    binding = [i for i, p in enumerate(packets) if p.tag == 14][0] + 1
    packets[binding] = _flip_last_byte(packets[binding])
    keyring = load_keyring(_serialize(packets))
    assert keyring.certificates[0].subkeys == ()
    inrelease = _fixture("bookworm-updates.InRelease")
    with pytest.raises(SignatureError, match="no valid binding signature") as error:
        verify_clearsigned(inrelease, keyring, _an_hour_after_signing(inrelease))
    assert error.value.reason == NO_TRUSTED_KEY


def test_a_keyring_of_old_keys_rejects_weak_ones_without_failing() -> None:
    keyring = _load_machine_keyring("debian-archive-removed-keys.gpg")
    # The oldest keys are DSA or self-signed with SHA1: listed as unusable, not an error.
    assert keyring.rejected and all("no valid self-signature" in r.reason for r in keyring.rejected)


# --- gpg-made fixtures: Ed25519 messages, SHA384, SHA1 ------------------------------------------------------------

EXPECTED_TEST_TEXT = (
    b"Origin: Test\nSuite: test\nDescription: trailing tab\n- a line that starts with a dash\n"
    b"-----BEGIN PGP SIGNATURE----- is text here\nFrom the mailbox\n\nSHA256:\n"
    b" e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855        0 main/binary-amd64/Packages\n"
)


def _test_keyring(name: str) -> Keyring:
    return load_keyring(_fixture(name))  # Armored: also tests armor and CRC24 decoding.


def test_ed25519_clearsigned_message_verifies_with_canonical_text() -> None:
    verified = verify_clearsigned(
        _fixture("test-ed25519-clearsigned-sha512.txt"), _test_keyring("test-ed25519-key.asc"), TEST_SIGNED_AT + 3600
    )
    assert verified.signer_fingerprints == (TEST_ED25519_FINGERPRINT,)
    # Dash-escaping undone, trailing spaces and tabs dropped (they are not signed).
    assert verified.signed_text == EXPECTED_TEST_TEXT


def test_rsa_sha384_clearsigned_message_verifies() -> None:
    verified = verify_clearsigned(
        _fixture("test-rsa-clearsigned-sha384.txt"), _test_keyring("test-rsa-key.asc"), TEST_SIGNED_AT + 3600
    )
    assert verified.signer_fingerprints == (TEST_RSA_FINGERPRINT,)
    assert verified.signed_text == EXPECTED_TEST_TEXT


def test_ed25519_message_changed_is_a_bad_signature() -> None:
    message = _fixture("test-ed25519-clearsigned-sha512.txt").replace(b"Origin: Test", b"Origin: Tess")
    with pytest.raises(SignatureError) as error:
        verify_clearsigned(message, _test_keyring("test-ed25519-key.asc"), TEST_SIGNED_AT + 3600)
    assert error.value.reason == BAD_SIGNATURE


def test_ed25519_signature_changed_is_a_bad_signature() -> None:
    message = _with_signature_bytes_changed(
        _fixture("test-ed25519-clearsigned-sha512.txt"), _flip_last_byte_of_first_packet
    )
    with pytest.raises(SignatureError, match="signature value does not verify") as error:
        verify_clearsigned(message, _test_keyring("test-ed25519-key.asc"), TEST_SIGNED_AT + 3600)
    assert error.value.reason == BAD_SIGNATURE


def test_ed25519_key_past_its_expiry_fails() -> None:
    with pytest.raises(SignatureError, match="expired on 2026-01-01") as error:
        verify_clearsigned(
            _fixture("test-ed25519-clearsigned-sha512.txt"),
            _test_keyring("test-ed25519-key.asc"),
            TEST_ED25519_KEY_EXPIRY,
        )
    assert error.value.reason == EXPIRED_KEY


def test_sha1_signatures_are_refused() -> None:
    with pytest.raises(SignatureError, match="SHA1, which is refused") as error:
        verify_clearsigned(
            _fixture("test-ed25519-clearsigned-sha1.txt"), _test_keyring("test-ed25519-key.asc"), TEST_SIGNED_AT + 3600
        )
    assert error.value.reason == UNSUPPORTED


def test_gpgv_agrees_on_the_ed25519_fixture(tmp_path: Path) -> None:
    # gpgv reads binary keyrings only: dearmor the fixture key with our own decoder.
    keyring_path = tmp_path / "test.gpg"
    keyring_path.write_bytes(dearmor_all(_fixture("test-ed25519-key.asc").decode())[0].data)
    returncode, valid, status = _gpgv(keyring_path, TESTDATA / "test-ed25519-clearsigned-sha512.txt")
    assert valid == {(TEST_ED25519_FINGERPRINT, TEST_ED25519_FINGERPRINT)}, status
    # gpgv checks expiry against the real clock, and so do we when given it.
    assert ("EXPKEYSIG" in status) == (int(time.time()) >= TEST_ED25519_KEY_EXPIRY)


def test_a_malformed_signature_packet_fails_even_next_to_a_good_signature() -> None:
    truncated_signature = _serialize([Packet(2, b"\x04\x01\x16\x0a\x00")])
    message = _with_signature_bytes_changed(
        _fixture("test-ed25519-clearsigned-sha512.txt"), lambda data: data + truncated_signature
    )
    with pytest.raises(SignatureError, match="malformed OpenPGP signature: truncated") as error:
        verify_clearsigned(message, _test_keyring("test-ed25519-key.asc"), TEST_SIGNED_AT + 3600)
    assert error.value.reason == MALFORMED


def test_an_unsupported_signature_version_is_ignored_next_to_a_good_signature() -> None:
    future_signature = _serialize([Packet(2, b"\x06" + bytes(40))])
    message = _with_signature_bytes_changed(
        _fixture("test-ed25519-clearsigned-sha512.txt"), lambda data: future_signature + data
    )
    verified = verify_clearsigned(message, _test_keyring("test-ed25519-key.asc"), TEST_SIGNED_AT + 3600)
    assert verified.signer_fingerprints == (TEST_ED25519_FINGERPRINT,)
    assert verified.ignored_signatures == ("unsupported OpenPGP signature version 6 (only version 4)",)


def test_a_hash_header_that_disagrees_with_the_signature_fails() -> None:
    message = _fixture("test-ed25519-clearsigned-sha512.txt").replace(b"Hash: SHA512", b"Hash: SHA256")
    with pytest.raises(SignatureError, match="Hash: header") as error:
        verify_clearsigned(message, _test_keyring("test-ed25519-key.asc"), TEST_SIGNED_AT + 3600)
    assert error.value.reason == BAD_SIGNATURE


# --- Framing, armor and packets -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda m: b"unsigned text\n" + m, "does not start with"),
        (lambda m: m + b"unsigned text\n", "unsigned data after"),
        (lambda m: m.replace(b"- - a line", b"-a line"), "not dash-escaped"),
        (lambda m: m.replace(b"Hash: SHA512\n", b"Hash: SHA512\nComment: hi\n"), "unexpected armor header"),
        (lambda m: m[: m.index(b"-----BEGIN PGP SIGNATURE-----\n")], "no -----BEGIN PGP SIGNATURE-----"),
        (lambda m: m.replace(b"-----END PGP SIGNATURE-----", b""), "no -----END PGP SIGNATURE-----"),
    ],
)
def test_malformed_clearsigned_messages(edit, match: str) -> None:
    message = edit(_fixture("test-ed25519-clearsigned-sha512.txt"))
    with pytest.raises(SignatureError, match=match) as error:
        verify_clearsigned(message, _test_keyring("test-ed25519-key.asc"), TEST_SIGNED_AT + 3600)
    assert error.value.reason == MALFORMED


def test_crlf_line_endings_and_blank_lines_around_the_message_are_accepted() -> None:
    message = b"\n" + _fixture("test-ed25519-clearsigned-sha512.txt").replace(b"\n", b"\r\n") + b"\r\n"
    verified = verify_clearsigned(message, _test_keyring("test-ed25519-key.asc"), TEST_SIGNED_AT + 3600)
    assert verified.signed_text == EXPECTED_TEST_TEXT


def test_signed_data_is_crlf_joined_without_the_last_line_break() -> None:
    message = parse_clearsigned(
        b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\na \t\n- -b\n\n" + armor("SIGNATURE", b"\xc2\x00").encode()
    )
    assert message.signed_data == b"a\r\n-b\r\n"
    assert message.hash_names == ("SHA256",)


def test_armor_round_trip_and_crc24() -> None:
    assert crc24(b"") == 0xB704CE
    data = bytes(range(256)) * 3
    (block,) = dearmor_all(armor("PUBLIC KEY BLOCK", data))
    assert (block.kind, block.data) == ("PUBLIC KEY BLOCK", data)


def test_packet_length_formats() -> None:
    body = b"x" * 300
    old_one_byte = bytes([0x80 | (13 << 2) | 0, 3]) + b"abc"
    old_two_bytes = bytes([0x80 | (13 << 2) | 1]) + (300).to_bytes(2, "big") + body
    old_four_bytes = bytes([0x80 | (13 << 2) | 2]) + (300).to_bytes(4, "big") + body
    new_two_bytes = _serialize([Packet(13, body)])
    new_five_bytes = bytes([0xC0 | 13, 0xFF]) + (300).to_bytes(4, "big") + body
    old_indeterminate = bytes([0x80 | (13 << 2) | 3]) + b"to the end"
    packets = parse_packets(
        old_one_byte + old_two_bytes + old_four_bytes + new_two_bytes + new_five_bytes + old_indeterminate
    )
    assert [p.body for p in packets] == [b"abc", body, body, body, body, b"to the end"]


@pytest.mark.parametrize(
    "data, match",
    [
        (bytes([0xC0 | 13, 0xE1]) + b"partial", "partial body lengths"),
        (b"\x00\x01", "not a packet header"),
        (bytes([0xC0 | 13, 10]) + b"short", "truncated"),
    ],
)
def test_malformed_packets(data: bytes, match: str) -> None:
    with pytest.raises(SignatureError, match=match) as error:
        parse_packets(data)
    assert error.value.reason == MALFORMED


def test_ed25519_rfc8032_test_vectors() -> None:
    # RFC 8032, section 7.1, TEST 1 (empty message) and TEST 2 (one byte).
    public = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    signature = bytes.fromhex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc6"
        "1e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    assert ed25519_verify(public, b"", signature)
    assert not ed25519_verify(public, b"\x00", signature)
    public = bytes.fromhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
    signature = bytes.fromhex(
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e45"
        "8f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
    )
    assert ed25519_verify(public, b"\x72", signature)
    assert not ed25519_verify(public, b"\x72", signature[:63] + b"\x01")


# ---------------------------------------------------------------------------------------------------------------
# Detached signatures (CPython release tarballs)

TEST_RELEASE_PRIMARY = "26F7389AFBE92FB71DD3631BCB5B0CB1E6150C3E"
TEST_RELEASE_SUBKEY = "5FCF6178EFC793C10156521036C1010B06B7AE28"
# When the detached signature tests check: after the test release key expired (2026-01-01).
CHECKED_AT = 1796169600  # 2026-12-02 00:00:00 UTC


def _release_keyring() -> Keyring:
    return load_keyring(_fixture("test-release-key.asc"))


def test_a_detached_signature_verifies_after_its_key_expired() -> None:
    verified = verify_detached(
        _fixture("test-release-tarball.bin"),
        _fixture("test-release-tarball.bin.asc"),
        _release_keyring(),
        now=CHECKED_AT,
    )
    assert verified.signer_fingerprints == (TEST_RELEASE_PRIMARY,)
    assert verified.signing_key_fingerprints == (TEST_RELEASE_SUBKEY,)
    assert verified.signed_at == (TEST_SIGNED_AT,)


def test_a_detached_signature_in_binary_form_verifies() -> None:
    binary = dearmor_all(_fixture("test-release-tarball.bin.asc").decode())[0].data
    verified = verify_detached(_fixture("test-release-tarball.bin"), binary, _release_keyring(), now=CHECKED_AT)
    assert verified.signer_fingerprints == (TEST_RELEASE_PRIMARY,)


def test_a_tampered_file_fails_its_detached_signature() -> None:
    data = bytearray(_fixture("test-release-tarball.bin"))
    data[100] ^= 1
    with pytest.raises(SignatureError) as e:
        verify_detached(bytes(data), _fixture("test-release-tarball.bin.asc"), _release_keyring(), now=CHECKED_AT)
    assert e.value.reason == BAD_SIGNATURE


def test_a_tampered_detached_signature_fails() -> None:
    packet = bytearray(dearmor_all(_fixture("test-release-tarball.bin.asc").decode())[0].data)
    packet[-10] ^= 0x40  # inside the RSA signature value
    with pytest.raises(SignatureError) as e:
        verify_detached(_fixture("test-release-tarball.bin"), bytes(packet), _release_keyring(), now=CHECKED_AT)
    assert e.value.reason == BAD_SIGNATURE


def test_a_detached_signature_by_another_key_is_not_trusted() -> None:
    with pytest.raises(SignatureError) as e:
        verify_detached(
            _fixture("test-release-tarball.bin"),
            _fixture("test-release-tarball.bin.asc"),
            load_keyring(_fixture("test-rsa-key.asc")),
            now=CHECKED_AT,
        )
    assert e.value.reason == NO_TRUSTED_KEY and TEST_RELEASE_SUBKEY in str(e.value)


def test_a_clearsigned_message_is_not_a_detached_signature() -> None:
    with pytest.raises(SignatureError) as e:
        verify_detached(
            b"x",
            _fixture("test-rsa-clearsigned-sha384.txt"),
            load_keyring(_fixture("test-rsa-key.asc")),
            now=CHECKED_AT,
        )
    assert e.value.reason == MALFORMED


# --- Time checks, revocations, weak keys and limits, on crafted keys (openpgp/testing.py) -------------------------

CRAFTED_AT = 1767225600  # 2026-01-01 00:00:00 UTC: the crafted keys' creation.
SIGNER = CraftedKey(b"unit primary", CRAFTED_AT)
SIGNING_SUBKEY = CraftedKey(b"unit signing subkey", CRAFTED_AT)
DAY = 86400


def _crafted_keyring(**options) -> Keyring:
    return load_keyring(certificate(SIGNER, subkeys=[SIGNING_SUBKEY], **options))


def _detached_reason(signature: bytes, keyring: Keyring, now: int) -> str:
    try:
        verify_detached(b"data", signature, keyring, now=now)
    except SignatureError as e:
        return e.reason
    return "good"


def test_a_detached_signature_past_its_expiry_fails_at_the_time_of_checking() -> None:
    signature = detached(SIGNING_SUBKEY, b"data", CHECKED_AT - 2 * DAY, expires_after=DAY)
    assert _detached_reason(signature, _crafted_keyring(), now=CHECKED_AT - 2 * DAY + 60) == "good"
    assert _detached_reason(signature, _crafted_keyring(), now=CHECKED_AT) == EXPIRED_SIGNATURE


def test_signatures_dated_after_the_time_of_checking_fail() -> None:
    keyring = _crafted_keyring()
    assert _detached_reason(detached(SIGNING_SUBKEY, b"data", CHECKED_AT + 1), keyring, now=CHECKED_AT) == (
        FUTURE_SIGNATURE
    )
    message = clearsign(SIGNING_SUBKEY, b"Suite: test\n", CHECKED_AT + DAY)
    with pytest.raises(SignatureError) as e:
        verify_clearsigned(message, keyring, CHECKED_AT)
    assert e.value.reason == FUTURE_SIGNATURE and "after the time of checking" in str(e.value)
    assert verify_clearsigned(message, keyring, CHECKED_AT + DAY).signer_fingerprints == (SIGNER.fingerprint,)


@pytest.mark.parametrize("revocation_last", [True, False])
def test_a_key_revocation_counts_wherever_it_sits_in_the_certificate(revocation_last: bool) -> None:
    keyring = _crafted_keyring(revoked_at=CHECKED_AT - DAY, revocation_last=revocation_last)
    assert keyring.certificates[0].primary.revoked and keyring.certificates[0].subkeys
    signature = detached(SIGNING_SUBKEY, b"data", CHECKED_AT - 3600)
    assert _detached_reason(signature, keyring, now=CHECKED_AT) == REVOKED_KEY


def test_a_revocation_by_another_key_after_the_subkeys_does_not_revoke() -> None:
    other = CraftedKey(b"someone else", CRAFTED_AT)
    stray = certificate(other, revoked_at=CHECKED_AT - DAY)
    revocation = stray[stray.rindex(b"\xc2") :]  # the last packet: other's key revocation
    keyring = load_keyring(certificate(SIGNER, subkeys=[SIGNING_SUBKEY]) + revocation)
    assert not keyring.certificates[0].primary.revoked


def _order_two_point() -> bytes:
    # (0, -1) has order 2.
    return ((2**255 - 19) - 1).to_bytes(32, "little")


def test_small_order_ed25519_keys_are_refused() -> None:
    assert ed25519_has_small_order(IDENTITY_ENCODING) and ed25519_has_small_order(_order_two_point())
    assert not ed25519_has_small_order(SIGNER.public)
    forged_key = CraftedKey(b"no secret", CRAFTED_AT, public_override=IDENTITY_ENCODING)
    keyring = load_keyring(certificate(forged_key, forge=True))
    assert not keyring.certificates and "small order" in keyring.rejected[0].reason
    forged = detached(forged_key, b"any data at all", CHECKED_AT - 3600, forge=True)
    assert _detached_reason(forged, keyring, now=CHECKED_AT) == NO_TRUSTED_KEY
    # The forgery itself (R = identity, S = 0) no longer verifies, whatever key object is passed.
    assert not ed25519_verify(IDENTITY_ENCODING, b"any message", IDENTITY_ENCODING + bytes(32))


def test_a_huge_clearsigned_message_is_refused_quickly_with_a_short_message() -> None:
    start = time.monotonic()
    with pytest.raises(SignatureError) as e:
        verify_clearsigned(b"-----BEGIN PGP SIGNED MESSAGE-----\n" + b"A" * (20 * 1024 * 1024), _crafted_keyring(), 0)
    assert e.value.reason == TOO_LARGE and str(MAX_CLEARSIGNED_BYTES) in str(e.value)
    assert time.monotonic() - start < 1 and len(str(e.value)) < 2000


def _worst_case_message(line: bytes) -> bytes:
    """10 MB of `line`, clearsigned by an empty (well-armored) signature block."""
    body = line * ((MAX_CLEARSIGNED_BYTES - 200) // len(line))
    signature = b"-----BEGIN PGP SIGNATURE-----\n\n=twTO\n-----END PGP SIGNATURE-----\n"  # CRC24 of nothing
    return b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n" + body + signature


@pytest.mark.parametrize("line", [b"a\n", b"- \n"])
def test_a_10_mb_message_of_tiny_lines_is_parsed_in_bounded_memory(line: bytes) -> None:
    # As a list of lines, 10 MB of two-byte lines took over 500 MB (five million objects) and seconds.
    message = _worst_case_message(line)
    assert len(message) <= MAX_CLEARSIGNED_BYTES
    tracemalloc.start()
    try:
        start = time.monotonic()
        with pytest.raises(SignatureError, match="signature packets only"):
            parse_clearsigned(message)
        elapsed = time.monotonic() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20 and elapsed < 5, (peak, elapsed)


def test_a_10_mb_message_of_lines_with_trailing_blanks_is_parsed_in_seconds() -> None:
    start = time.monotonic()
    with pytest.raises(SignatureError, match="signature packets only"):
        parse_clearsigned(_worst_case_message(b"a \n"))
    assert time.monotonic() - start < 5


def test_too_many_signature_packets_are_refused_before_verifying_any() -> None:
    message = clearsign(SIGNING_SUBKEY, b"Suite: test\n", CHECKED_AT, copies=MAX_SIGNATURE_PACKETS + 1)
    with pytest.raises(SignatureError) as e:
        verify_clearsigned(message, _crafted_keyring(), CHECKED_AT)
    assert e.value.reason == TOO_LARGE and f"{MAX_SIGNATURE_PACKETS + 1} signature packets" in str(e.value)
    message = clearsign(SIGNING_SUBKEY, b"Suite: test\n", CHECKED_AT, copies=MAX_SIGNATURE_PACKETS)
    assert verify_clearsigned(message, _crafted_keyring(), CHECKED_AT).signer_fingerprints == (SIGNER.fingerprint,)


def test_an_oversized_signature_block_or_file_is_refused() -> None:
    message = clearsign(SIGNING_SUBKEY, b"Suite: test\n", CHECKED_AT)
    padded = message.replace(
        b"-----BEGIN PGP SIGNATURE-----\n",
        b"-----BEGIN PGP SIGNATURE-----\nComment: " + b"x" * MAX_SIGNATURE_BLOCK_BYTES + b"\n",
    )
    with pytest.raises(SignatureError) as e:
        verify_clearsigned(padded, _crafted_keyring(), CHECKED_AT)
    assert e.value.reason == TOO_LARGE and "signature block" in str(e.value)
    assert _detached_reason(b" " * (MAX_SIGNATURE_BLOCK_BYTES + 1), _crafted_keyring(), CHECKED_AT) == TOO_LARGE


def test_errors_are_cut_to_a_sane_length() -> None:
    # A bad armor header is quoted in the error: 30 kB of it would make a 30 kB Pants error.
    message = clearsign(SIGNING_SUBKEY, b"Suite: test\n", CHECKED_AT)
    bad = message.replace(b"-----BEGIN PGP SIGNATURE-----\n", b"-----BEGIN PGP SIGNATURE-----\n" + b"x" * 30000 + b"\n")
    with pytest.raises(SignatureError) as e:
        verify_clearsigned(bad, _crafted_keyring(), CHECKED_AT)
    assert e.value.reason == MALFORMED and len(str(e.value)) <= MAX_ERROR_CHARS
    assert str(e.value).startswith("malformed OpenPGP armor: bad armor header line") and "characters cut" in str(
        e.value
    )


def test_shorten_keeps_both_ends() -> None:
    assert shorten("short", 10) == "short"
    cut = shorten("a" * 500 + "b" * 500, 100)
    assert len(cut) == 100 and cut.startswith("a") and cut.endswith("b") and "900 characters cut" in cut
