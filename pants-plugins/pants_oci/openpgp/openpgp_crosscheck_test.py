"""The plugin's OpenPGP verdicts beside gpgv's and sqv's (both from the test-tools Debian lock, at the real clock)
for real and crafted inputs. The table records all three; where they differ, the comment says why the plugin's
verdict is the one it should be.

Verdicts: "good", or the plugin's SignatureError reason; for gpgv and sqv, "good" or "bad" (their exit status).
"""
import pkgutil
import time
from pathlib import Path
from typing import Callable, Dict, NamedTuple, Optional

import pytest

from pants_oci.debian.keyring import KEYRING_RESOURCE
from pants_oci.openpgp import openpgp
from pants_oci.openpgp.openpgp import SignatureError, load_keyring, verify_clearsigned, verify_detached
from pants_oci.openpgp.testing import (
    IDENTITY_ENCODING,
    CraftedKey,
    certificate,
    clearsign,
    detached,
    gpgv_accepts,
    sqv_accepts,
)

# The OpenPGP fixtures sit with the Debian ones they share keys and InRelease files with (debian/testdata/README.md).
TESTDATA = Path(__file__).parent.parent / "debian" / "testdata"
NOW = int(time.time())  # gpgv and sqv judge at the real clock, so the crafted inputs are dated around it.
CREATED = NOW - 400 * 86400
PRIMARY = CraftedKey(b"crosscheck primary", CREATED)
SUBKEY = CraftedKey(b"crosscheck signing subkey", CREATED)
TARBALL = b"Python-3.99.0.tar.xz, or any file\n" * 100


class Case(NamedTuple):
    keyring: bytes  # binary packets
    signature: bytes  # clearsigned message, or detached signature over `data`
    data: Optional[bytes]  # None: `signature` is clearsigned
    plugin: str
    gpgv: str
    sqv: str


def _debian_keyring() -> bytes:
    # The keyring the plugin pins (keyring.py), as a resource: what the plugin's own verdict uses too.
    data = pkgutil.get_data("pants_oci.debian", KEYRING_RESOURCE)
    assert data is not None
    return data


def _real_inrelease() -> bytes:
    return (TESTDATA / "bookworm-updates.InRelease").read_bytes()


def _one_signed_byte_changed(text: bytes) -> bytes:
    return text.replace(b"Label: Debian", b"Label: Debiam", 1)


def _cert(**options) -> bytes:
    return certificate(PRIMARY, subkeys=[SUBKEY], **options)


def _release_key() -> bytes:
    # gpgv reads binary keyrings only.
    return openpgp.dearmor_all((TESTDATA / "test-release-key.asc").read_text())[0].data


# The identity point as a public key: its self-signature and its signatures are the universal forgery R = identity,
# S = 0, made without any secret.
_SMALL_ORDER = CraftedKey(b"no secret", CREATED, public_override=IDENTITY_ENCODING)

CASES: Dict[str, Callable[[], Case]] = {
    # Real: Debian's InRelease as the mirror served it, and with one byte of the signed text changed.
    "real bookworm-updates InRelease": lambda: Case(_debian_keyring(), _real_inrelease(), None, "good", "good", "good"),
    "real InRelease, one signed byte changed": lambda: Case(
        _debian_keyring(), _one_signed_byte_changed(_real_inrelease()), None, "bad-signature", "bad", "bad"
    ),
    # The CPython-style fixture: signed in 2025 by a subkey that expired on 2026-01-01. Release signatures stay
    # verifiable after the release manager's key expires: all three judge the key at the signature's time.
    "detached, key expired after signing (testdata)": lambda: Case(
        _release_key(),
        (TESTDATA / "test-release-tarball.bin.asc").read_bytes(),
        (TESTDATA / "test-release-tarball.bin").read_bytes(),
        "good",
        "good",
        "good",
    ),
    "detached, good": lambda: Case(_cert(), detached(SUBKEY, TARBALL, NOW - 3600), TARBALL, "good", "good", "good"),
    # Finding 3: a signature past its own expiry. gpgv and sqv refuse it; the plugin used to accept it.
    "detached, signature expired": lambda: Case(
        _cert(),
        detached(SUBKEY, TARBALL, NOW - 2 * 86400, expires_after=86400),
        TARBALL,
        "expired-signature",
        "bad",
        "bad",
    ),
    # Finding 3: a signature dated tomorrow (a wrong clock at the signer, or a signature made to outlive a
    # revocation). sqv refuses it; gpgv only warns.
    "detached, dated tomorrow": lambda: Case(
        _cert(), detached(SUBKEY, TARBALL, NOW + 86400), TARBALL, "future-signature", "good", "bad"
    ),
    "clearsigned, dated tomorrow": lambda: Case(
        _cert(), clearsign(SUBKEY, b"Origin: Test\nSuite: test\n", NOW + 86400), None, "future-signature", "good", "bad"
    ),
    # Finding 4: a key revocation appended after the subkeys (where concatenating a revocation certificate to an
    # exported key puts it), and, for comparison, where RFC 9580 puts it. Sequoia honours both; gpgv 2.2.40 ignores
    # both (it trusts its keyring as given and checks no revocation in it), so its verdict is not the model here.
    "detached, key revoked (revocation after the subkeys)": lambda: Case(
        _cert(revoked_at=NOW - 86400), detached(SUBKEY, TARBALL, NOW - 3600), TARBALL, "revoked-key", "good", "bad"
    ),
    "detached, key revoked (revocation after the primary)": lambda: Case(
        _cert(revoked_at=NOW - 86400, revocation_last=False),
        detached(SUBKEY, TARBALL, NOW - 3600),
        TARBALL,
        "revoked-key",
        "good",
        "bad",
    ),
    # Finding 4: a small-order Ed25519 key, whose self-signature and file signature are the universal forgery.
    # gpgv refuses the key ("Bad public key"); sqv 1.1.0 accepts the forgery.
    "detached, small-order Ed25519 key (forged)": lambda: Case(
        certificate(_SMALL_ORDER, forge=True),
        detached(_SMALL_ORDER, TARBALL, NOW - 3600, forge=True),
        TARBALL,
        "no-trusted-key",
        "bad",
        "good",
    ),
    # Finding 2: more signature packets than the plugin reads (each costs a verification). gpgv and sqv check
    # them all; the plugin refuses the message before verifying any.
    "clearsigned, 17 copies of a good signature": lambda: Case(
        _cert(),
        clearsign(SUBKEY, b"Origin: Test\nSuite: test\n", NOW - 3600, copies=openpgp.MAX_SIGNATURE_PACKETS + 1),
        None,
        "too-large",
        "good",
        "good",
    ),
}


def _plugin_verdict(case: Case) -> str:
    keyring = load_keyring(case.keyring)
    try:
        if case.data is None:
            verify_clearsigned(case.signature, keyring, NOW)
        else:
            verify_detached(case.data, case.signature, keyring, NOW)
    except SignatureError as e:
        return e.reason
    return "good"


def _tool_verdict(accepts: bool) -> str:
    return "good" if accepts else "bad"


@pytest.mark.parametrize("name", sorted(CASES))
def test_verdicts_beside_gpgv_and_sqv(name: str, tmp_path: Path) -> None:
    case = CASES[name]()
    verdicts = {
        "plugin": _plugin_verdict(case),
        "gpgv": _tool_verdict(gpgv_accepts(tmp_path / "gpgv", case.keyring, case.signature, case.data)),
        "sqv": _tool_verdict(sqv_accepts(tmp_path / "sqv", case.keyring, case.signature, case.data)),
    }
    assert verdicts == {"plugin": case.plugin, "gpgv": case.gpgv, "sqv": case.sqv}
