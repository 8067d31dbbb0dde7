import pkgutil
from pathlib import Path

import pytest

from pants_oci.debian.keyring import KEYRING_RESOURCE, TRUSTED_FINGERPRINTS, load_pinned_keyring, pinned_keyring
from pants_oci.debian.release import parse_release_date
from pants_oci.openpgp.openpgp import NO_TRUSTED_KEY, SignatureError, dearmor_all, load_keyring, verify_clearsigned

TESTDATA = Path(__file__).parent / "testdata"


def _shipped_data() -> bytes:
    data = pkgutil.get_data("pants_oci.debian", KEYRING_RESOURCE)
    assert data is not None
    return data


def test_the_shipped_keyring_holds_exactly_the_pinned_keys() -> None:
    assert load_keyring(_shipped_data()).fingerprints == TRUSTED_FINGERPRINTS
    assert pinned_keyring().fingerprints == TRUSTED_FINGERPRINTS
    assert len(set(TRUSTED_FINGERPRINTS)) == 9


def test_every_pinned_key_can_sign_and_is_valid_for_years() -> None:
    for certificate in pinned_keyring().certificates:
        signing_keys = [k for k in (certificate.primary,) + certificate.subkeys if k.can_sign and not k.revoked]
        assert signing_keys, certificate.fingerprint
        # All pinned keys have a fixed expiry between 2029 and 2036 (bullseye's are the first to go).
        assert certificate.primary.expires is not None
        assert parse_release_date("Mon, 01 Jan 2029 00:00:00 UTC") < certificate.primary.expires
        assert certificate.primary.expires < parse_release_date("Tue, 01 Jan 2036 00:00:00 UTC")


@pytest.mark.parametrize("name", ["bookworm-updates.InRelease", "bookworm-security.InRelease"])
def test_real_inrelease_verifies_with_the_pinned_keyring(name: str) -> None:
    inrelease = (TESTDATA / name).read_bytes()
    signed_at = parse_release_date(inrelease.split(b"\nDate: ", 1)[1].split(b"\n", 1)[0].decode())
    verified = verify_clearsigned(inrelease, pinned_keyring(), signed_at + 3600)
    assert len(verified.signer_fingerprints) == 2
    assert set(verified.signer_fingerprints) <= set(TRUSTED_FINGERPRINTS)


def test_keys_that_are_not_pinned_are_dropped() -> None:
    extra = (TESTDATA / "test-ed25519-key.asc").read_bytes()
    combined = _shipped_data() + _dearmored(extra)
    assert load_keyring(combined).fingerprints[-1] == "66D741DE3100D2AF92C745547A2566D2AE339029"
    assert load_pinned_keyring(combined).fingerprints == TRUSTED_FINGERPRINTS


def test_a_key_given_twice_is_loaded_once() -> None:
    assert load_pinned_keyring(_shipped_data() + _shipped_data()).fingerprints == TRUSTED_FINGERPRINTS


def test_a_missing_pinned_key_is_an_error_naming_it() -> None:
    with pytest.raises(SignatureError, match="lacks usable keys for 1F89983E0081FDE018F3CC9673A4F27B8DD47936") as e:
        load_pinned_keyring(_dearmored((TESTDATA / "test-ed25519-key.asc").read_bytes()))
    assert e.value.reason == NO_TRUSTED_KEY
    assert all(f in str(e.value) for f in TRUSTED_FINGERPRINTS)


def test_the_pinned_keys_are_in_the_machines_debian_keyring() -> None:
    machine = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
    if not machine.exists():
        pytest.skip(f"{machine} is absent (install the debian-archive-keyring package for this cross-check)")
    assert set(TRUSTED_FINGERPRINTS) <= set(load_keyring(machine.read_bytes()).fingerprints)


def _dearmored(armored: bytes) -> bytes:
    return dearmor_all(armored.decode("ascii"))[0].data
