"""Make OpenPGP keys and signatures for tests: version 4 Ed25519 (legacy EdDSA) certificates, clearsigned messages
and detached signatures, signed for real (RFC 8032 signing over openpgp.py's curve arithmetic).

The crafted cases (a signature dated in the future or past its expiry, a key revocation after the subkeys, a
small-order key) need a key whose secret the test holds; gpg cannot make some of them at all. Every key is derived
from a seed, so the bytes are the same in every run. Test code only: nothing at run time imports this.
"""
import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple

import pytest

from pants_oci.openpgp import openpgp
from pants_oci.openpgp.openpgp import _BASE, _L, _P, _point_multiply, armor
from pants_oci.tools.testing import TEST_TOOLS_ADDRESS, TEST_TOOLS_DIR

SHA512 = 10
# The encoding of the identity point (x = 0, y = 1): a public key of small order, and the R that forges with it.
IDENTITY_ENCODING = (1).to_bytes(32, "little")


def _compress(point: Tuple[int, int, int, int]) -> bytes:
    x, y, z, _ = point
    inverse = pow(z, _P - 2, _P)
    x, y = x * inverse % _P, y * inverse % _P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _scalar(seed: bytes) -> Tuple[int, bytes]:
    digest = hashlib.sha512(seed).digest()
    scalar = int.from_bytes(digest[:32], "little")
    scalar &= (1 << 254) - 8
    scalar |= 1 << 254
    return scalar, digest[32:]


def ed25519_public_key(seed: bytes) -> bytes:
    return _compress(_point_multiply(_scalar(seed)[0], _BASE))


def ed25519_sign(seed: bytes, message: bytes) -> bytes:
    """RFC 8032, section 5.1.6."""
    scalar, prefix = _scalar(seed)
    public = _compress(_point_multiply(scalar, _BASE))
    r = int.from_bytes(hashlib.sha512(prefix + message).digest(), "little") % _L
    encoded_r = _compress(_point_multiply(r, _BASE))
    k = int.from_bytes(hashlib.sha512(encoded_r + public + message).digest(), "little") % _L
    return encoded_r + ((r + k * scalar) % _L).to_bytes(32, "little")


def mpi(value: int) -> bytes:
    return value.bit_length().to_bytes(2, "big") + value.to_bytes((value.bit_length() + 7) // 8, "big")


def packet(tag: int, body: bytes) -> bytes:
    """A new-format packet."""
    if len(body) < 192:
        length = bytes([len(body)])
    elif len(body) < 8384:
        length = bytes([((len(body) - 192) >> 8) + 192, (len(body) - 192) & 0xFF])
    else:
        length = b"\xff" + len(body).to_bytes(4, "big")
    return bytes([0xC0 | tag]) + length + body


def subpacket(kind: int, data: bytes, critical: bool = False) -> bytes:
    return bytes([len(data) + 1, kind | (0x80 if critical else 0)]) + data


def _time(seconds: int) -> bytes:
    return seconds.to_bytes(4, "big")


@dataclass(frozen=True)
class CraftedKey:
    """An Ed25519 key; `public` overrides the key derived from `seed` (a small-order point, say)."""

    seed: bytes
    created: int
    public_override: Optional[bytes] = None

    @property
    def public(self) -> bytes:
        return self.public_override or ed25519_public_key(self.seed)

    @property
    def body(self) -> bytes:
        return (b"\x04" + _time(self.created) + bytes([openpgp.EDDSA_LEGACY]) + bytes([len(openpgp._ED25519_OID)])) + (
            openpgp._ED25519_OID + mpi(int.from_bytes(b"\x40" + self.public, "big"))
        )

    @property
    def fingerprint(self) -> str:
        return hashlib.sha1(b"\x99" + len(self.body).to_bytes(2, "big") + self.body).hexdigest().upper()

    def signature(
        self,
        signature_type: int,
        signed_data: bytes,
        created: int,
        expires_after: Optional[int] = None,
        hashed: Sequence[bytes] = (),
        forge: bool = False,
    ) -> bytes:
        """A signature packet body by this key over `signed_data` (the hashed data as openpgp.py frames it).
        `forge`: R = identity, S = 0, the signature a small-order key "makes" of every message."""
        subpackets = [subpacket(2, _time(created)), subpacket(33, b"\x04" + bytes.fromhex(self.fingerprint))]
        if expires_after is not None:
            subpackets.append(subpacket(3, _time(expires_after)))
        area = b"".join([*subpackets, *hashed])
        hashed_part = bytes([4, signature_type, openpgp.EDDSA_LEGACY, SHA512]) + len(area).to_bytes(2, "big") + area
        digest = hashlib.sha512(signed_data + hashed_part + b"\x04\xff" + len(hashed_part).to_bytes(4, "big")).digest()
        native = IDENTITY_ENCODING + bytes(32) if forge else ed25519_sign(self.seed, digest)
        unhashed = subpacket(16, bytes.fromhex(self.fingerprint[-16:]))
        values = mpi(int.from_bytes(native[:32], "big")) + mpi(int.from_bytes(native[32:], "big"))
        return hashed_part + len(unhashed).to_bytes(2, "big") + unhashed + digest[:2] + values

    def framed(self) -> bytes:
        return b"\x99" + len(self.body).to_bytes(2, "big") + self.body


def certificate(
    primary: CraftedKey,
    user_id: bytes = b"Test Signer <signer@example.org>",
    subkeys: Iterable[CraftedKey] = (),
    key_expires_after: Optional[int] = None,
    revoked_at: Optional[int] = None,
    revocation_last: bool = True,
    forge: bool = False,
) -> bytes:
    """A transferable public key: primary, user ID with its self-certification, signing subkeys with their binding
    and back-signatures, and, with `revoked_at`, a key revocation: after the subkeys (as appending a revocation
    certificate puts it) or, `revocation_last` False, right after the primary key (where RFC 9580 puts it)."""
    sign_flags = subpacket(27, b"\x03")
    expiry = [subpacket(9, _time(key_expires_after))] if key_expires_after else []
    user_data = primary.framed() + b"\xb4" + len(user_id).to_bytes(4, "big") + user_id
    certification = primary.signature(0x13, user_data, primary.created, hashed=[sign_flags, *expiry], forge=forge)
    revocation = b""
    if revoked_at is not None:
        revocation = packet(openpgp.TAG_SIGNATURE, primary.signature(0x20, primary.framed(), revoked_at, forge=forge))
    parts: List[bytes] = [packet(openpgp.TAG_PUBLIC_KEY, primary.body)]
    if not revocation_last:
        parts.append(revocation)
    parts += [packet(openpgp.TAG_USER_ID, user_id), packet(openpgp.TAG_SIGNATURE, certification)]
    for subkey in subkeys:
        binding_data = primary.framed() + subkey.framed()
        back = subkey.signature(0x19, binding_data, subkey.created)
        embedded = subpacket(32, back)
        binding = primary.signature(0x18, binding_data, subkey.created, hashed=[subpacket(27, b"\x02"), embedded])
        parts += [packet(openpgp.TAG_PUBLIC_SUBKEY, subkey.body), packet(openpgp.TAG_SIGNATURE, binding)]
    if revocation_last:
        parts.append(revocation)
    return b"".join(parts)


def detached(
    key: CraftedKey, data: bytes, created: int, expires_after: Optional[int] = None, forge: bool = False
) -> bytes:
    """An armored detached binary-document signature."""
    body = key.signature(0x00, data, created, expires_after, forge=forge)
    return armor("SIGNATURE", packet(openpgp.TAG_SIGNATURE, body)).encode("ascii")


def clearsign(
    key: CraftedKey, text: bytes, created: int, expires_after: Optional[int] = None, copies: int = 1
) -> bytes:
    """A clearsigned message of `text` (lines without trailing whitespace or leading dashes), signed `copies` times
    with the same signature (a message with many signature packets)."""
    lines = text.rstrip(b"\n").split(b"\n")
    body = key.signature(0x01, b"\r\n".join(lines), created, expires_after)
    signature = armor("SIGNATURE", packet(openpgp.TAG_SIGNATURE, body) * copies).encode("ascii")
    return b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n" + b"\n".join(lines) + b"\n" + signature


# ---------------------------------------------------------------------------------------------------------------
# gpgv and sqv from the test-tools Debian lock, for verdicts beside the plugin's


def locked_tool(name: str) -> str:
    """A program of the `3rdparty/debian:test-tools` lock in the test's sandbox; skips the test when the target
    does not list that lock in `runtime_package_dependencies` (a run outside Pants)."""
    path = Path.cwd() / TEST_TOOLS_DIR / "bin" / name
    if not path.exists():
        pytest.skip(f"{path} is absent: run under Pants, whose target lists {TEST_TOOLS_ADDRESS} (never the host's)")
    return str(path)


def gpgv_accepts(workdir: Path, keyring: bytes, signature: bytes, data: Optional[bytes] = None) -> bool:
    """Whether the locked gpgv (at the real clock) accepts `signature`: clearsigned when `data` is None, else a
    detached signature over `data`. `keyring`: binary packets."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "keyring.gpg").write_bytes(keyring)
    (workdir / "signature").write_bytes(signature)
    files = [str(workdir / "signature")]
    if data is not None:
        (workdir / "data").write_bytes(data)
        files.append(str(workdir / "data"))
    argv = [locked_tool("gpgv"), "--homedir", str(workdir), "--keyring", str(workdir / "keyring.gpg"), *files]
    return subprocess.run(argv, capture_output=True, timeout=300).returncode == 0


def split_clearsigned(message: bytes) -> Tuple[bytes, bytes]:
    """(signature block, signed text) of a well-formed clearsigned message, as apt's SplitClearSignedFile splits
    one for sqv; written apart from openpgp.py so that the cross-check does not lean on the parser it checks."""
    head, _, signature = message.partition(b"-----BEGIN PGP SIGNATURE-----")
    text = head.replace(b"\r\n", b"\n").split(b"\n\n", 1)[1]  # after the armor headers' blank line
    lines = [line[2:] if line.startswith(b"- ") else line for line in text[:-1].split(b"\n")]
    return b"-----BEGIN PGP SIGNATURE-----" + signature, b"\r\n".join(line.rstrip(b" \t") for line in lines)


def sqv_accepts(workdir: Path, keyring: bytes, signature: bytes, data: Optional[bytes] = None) -> bool:
    """Whether the locked sqv (at the real clock) accepts `signature`. sqv reads detached signatures only, so a
    clearsigned message is split as apt splits one for it: its signature block, and the text it signs."""
    if data is None:
        signature, data = split_clearsigned(signature)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "keyring.pgp").write_bytes(keyring)
    (workdir / "signature.asc").write_bytes(signature)
    (workdir / "data").write_bytes(data)
    argv = [
        locked_tool("sqv"),
        "--keyring",
        str(workdir / "keyring.pgp"),
        *(str(workdir / f) for f in ("signature.asc", "data")),
    ]
    return subprocess.run(argv, capture_output=True, timeout=300).returncode == 0
