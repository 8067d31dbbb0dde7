"""Verify OpenPGP clearsigned messages, as Debian's InRelease files are, and detached signatures, as CPython's source
tarballs have, against a keyring. Standard library only.

The plugin cannot rely on gpgv being installed where Pants runs, so this module implements the small part of
OpenPGP (RFC 4880, RFC 9580) that checking an archive's InRelease needs:

- ASCII armor with its CRC24, and binary packets in the old and the new length formats;
- version 4 public keys and subkeys, RSA (PKCS#1 v1.5) and legacy EdDSA on Ed25519 (RFC 8032, in pure Python);
- version 4 signatures with SHA256, SHA384 or SHA512 (SHA1 and MD5 are refused, as apt refuses them);
- self-signatures: a primary key counts only with a valid self-signature on a user ID, a subkey only with a valid
  binding signature from its primary and, to sign, a valid back-signature (what gpg requires as well); key
  expiry, key flags and revocations come from those signatures only, never from third-party certifications;
- the cleartext signature framework: dash-escaping, trailing whitespace, CRLF canonical text.

Inputs come from mirrors, so every one is bounded (the LIMITS below): a clearsigned message's size (apt's cap on
Release files), its signature block's size and number of signature packets, a detached signature's size; and every
error message is cut to MAX_ERROR_CHARS, so no input costs more than a few seconds, a few times its size in memory,
or a long Pants error.

Every failure is a SignatureError whose `reason` says which kind of failure it is (see the REASON constants), so
callers can say what to do about it.
"""
import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

# ---------------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------------

MALFORMED = "malformed"  # Not parseable as OpenPGP / as a clearsigned message.
BAD_SIGNATURE = "bad-signature"  # A trusted key's signature does not verify: the text or signature was altered.
NO_TRUSTED_KEY = "no-trusted-key"  # No signature was made by a key of the keyring.
EXPIRED_KEY = "expired-key"  # Only keys past their expiry signed.
EXPIRED_SIGNATURE = "expired-signature"  # The signature itself states an expiry that has passed.
REVOKED_KEY = "revoked-key"  # Only revoked keys signed.
FUTURE_SIGNATURE = "future-signature"  # The signature says it was made after the time of verification.
UNSUPPORTED = "unsupported"  # An algorithm or a packet version this verifier refuses.
TOO_LARGE = "too-large"  # The input exceeds one of the limits below.

# Limits. apt refuses Release files over 10 MB (Acquire::MaxReleaseFileSize); Debian's InRelease files are 50-160 kB.
MAX_CLEARSIGNED_BYTES = 10 * 1024 * 1024
# Debian signs each InRelease with two or three keys (about 2 kB of armor); a CPython .asc is under 1 kB.
MAX_SIGNATURE_PACKETS = 16
MAX_SIGNATURE_BLOCK_BYTES = 64 * 1024
# Errors end up in Pants' output: a signature detail is ~200 characters, and 16 of them would be too many.
MAX_ERROR_CHARS = 1500


class SignatureError(ValueError):
    """A message or keyring that does not verify; `reason` is one of the REASON constants above."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(shorten(message, MAX_ERROR_CHARS))
        self.reason = reason


def shorten(text: str, limit: int) -> str:
    """`text`, cut in the middle to at most `limit` characters: the start says what failed, the end often why."""
    if len(text) <= limit:
        return text
    marker = f" [... {len(text) - limit} characters cut ...] "
    head = (limit - len(marker)) * 2 // 3
    tail = limit - len(marker) - head
    return text[:head] + marker + text[len(text) - tail :]


def _malformed(message: str) -> SignatureError:
    return SignatureError(MALFORMED, message)


# ---------------------------------------------------------------------------------------------------------------
# Algorithms
# ---------------------------------------------------------------------------------------------------------------

HASH_NAMES = {1: "MD5", 2: "SHA1", 3: "RIPEMD160", 8: "SHA256", 9: "SHA384", 10: "SHA512", 11: "SHA224"}
_HASH_FUNCTIONS: Dict[int, Callable[[], Any]] = {
    8: hashlib.sha256,
    9: hashlib.sha384,
    10: hashlib.sha512,
}
# The DER DigestInfo that PKCS#1 v1.5 puts in front of the digest (RFC 8017, section 9.2, note 1).
_DIGEST_INFO_PREFIXES = {
    8: bytes.fromhex("3031300d060960864801650304020105000420"),
    9: bytes.fromhex("3041300d060960864801650304020205000430"),
    10: bytes.fromhex("3051300d060960864801650304020305000440"),
}

RSA_ALGORITHMS = (1, 3)  # RSA encrypt-or-sign, RSA sign-only.
EDDSA_LEGACY = 22
_ALGORITHM_NAMES = {
    1: "RSA",
    2: "RSA (encrypt only)",
    3: "RSA",
    16: "Elgamal",
    17: "DSA",
    18: "ECDH",
    19: "ECDSA",
    22: "EdDSA",
    27: "Ed25519",
    28: "Ed448",
}
# 1.3.6.1.4.1.11591.15.1, the OID of Ed25519 in legacy EdDSA keys.
_ED25519_OID = bytes.fromhex("2b06010401da470f01")
# Below this, an RSA key is too weak to trust for an archive signature (Debian's keys are 4096-bit).
_MIN_RSA_BITS = 2048

SIG_BINARY_DOCUMENT = 0x00
SIG_CANONICAL_TEXT = 0x01
_SIG_USER_ID_CERTIFICATIONS = (0x10, 0x11, 0x12, 0x13)
_SIG_SUBKEY_BINDING = 0x18
_SIG_PRIMARY_KEY_BINDING = 0x19
_SIG_DIRECT_KEY = 0x1F
_SIG_KEY_REVOCATION = 0x20
_SIG_SUBKEY_REVOCATION = 0x28

_KEY_FLAG_SIGN = 0x02

# Subpackets (RFC 9580, section 5.2.3.7) a critical flag may sit on: this verifier either uses them or may safely
# ignore them because it never evaluates third-party certifications. A critical subpacket outside this set makes the
# signature invalid, as the RFC requires.
_SUBPACKET_CREATION_TIME = 2
_SUBPACKET_SIGNATURE_EXPIRATION = 3
_SUBPACKET_KEY_EXPIRATION = 9
_SUBPACKET_ISSUER_KEY_ID = 16
_SUBPACKET_KEY_FLAGS = 27
_SUBPACKET_EMBEDDED_SIGNATURE = 32
_SUBPACKET_ISSUER_FINGERPRINT = 33
_UNDERSTOOD_SUBPACKETS = frozenset(
    {2, 3, 4, 5, 6, 7, 9, 11, 12, 16, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 39}
)

# ---------------------------------------------------------------------------------------------------------------
# ASCII armor (RFC 9580, section 6)
# ---------------------------------------------------------------------------------------------------------------


def _crc24_table() -> Tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
        table.append(crc & 0xFFFFFF)
    return tuple(table)


_CRC24_TABLE = _crc24_table()


def crc24(data: bytes) -> int:
    """The armor checksum (RFC 9580, section 6.1)."""
    crc = 0xB704CE
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFF) ^ _CRC24_TABLE[((crc >> 16) ^ byte) & 0xFF]
    return crc


@dataclass(frozen=True)
class ArmorBlock:
    kind: str  # What follows "BEGIN PGP ", e.g. "SIGNATURE" or "PUBLIC KEY BLOCK".
    headers: Tuple[Tuple[str, str], ...]
    data: bytes


def armor(kind: str, data: bytes) -> str:
    """Armor binary data (with the CRC24 line gpg writes), e.g. armor("SIGNATURE", packets)."""
    body = base64.b64encode(data).decode("ascii")
    lines = [f"-----BEGIN PGP {kind}-----", ""]
    lines += [body[i : i + 64] for i in range(0, len(body), 64)]
    lines.append("=" + base64.b64encode(crc24(data).to_bytes(3, "big")).decode("ascii"))
    lines.append(f"-----END PGP {kind}-----")
    return "\n".join(lines) + "\n"


def dearmor_all(text: str) -> List[ArmorBlock]:
    """Every armored block of a text, in order; text between blocks is ignored (keyrings may carry comments)."""
    lines = [line.rstrip() for line in text.splitlines()]
    blocks = []
    index = 0
    while index < len(lines):
        if lines[index].startswith("-----BEGIN PGP "):
            block, index = _read_armor_block(lines, index)
            blocks.append(block)
        else:
            index += 1
    if not blocks:
        raise _malformed("malformed OpenPGP armor: no -----BEGIN PGP ...----- line")
    return blocks


def _read_armor_block(lines: Sequence[str], start: int) -> Tuple[ArmorBlock, int]:
    """Decode the armored block whose BEGIN line is lines[start]; returns it and the index after its END line."""
    kind = _armor_kind(lines[start], "BEGIN")
    index = start + 1
    headers = []
    while index < len(lines) and lines[index]:
        name, colon, value = lines[index].partition(": ")
        if not colon:
            raise _malformed(f"malformed OpenPGP armor: bad armor header line {lines[index]!r}")
        headers.append((name, value))
        index += 1
    index += 1  # The blank line that ends the headers.
    body_lines = []
    checksum: Optional[str] = None
    while index < len(lines) and not lines[index].startswith("-----END PGP "):
        line = lines[index]
        if line.startswith("="):
            checksum = line[1:]
        elif checksum is not None:
            raise _malformed("malformed OpenPGP armor: data after the checksum line")
        else:
            body_lines.append(line)
        index += 1
    if index >= len(lines) or _armor_kind(lines[index], "END") != kind:
        raise _malformed(f"malformed OpenPGP armor: no -----END PGP {kind}----- line")
    data = _decode_radix64("".join(body_lines))
    _check_armor_checksum(data, checksum)
    return ArmorBlock(kind, tuple(headers), data), index + 1


def _armor_kind(line: str, word: str) -> str:
    prefix, suffix = f"-----{word} PGP ", "-----"
    if not (line.startswith(prefix) and line.endswith(suffix) and len(line) > len(prefix) + len(suffix)):
        raise _malformed(f"malformed OpenPGP armor: bad {word} line {line!r}")
    return line[len(prefix) : -len(suffix)]


def _decode_radix64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as e:
        raise _malformed(f"malformed OpenPGP armor: bad radix-64 data ({e})") from None


def _check_armor_checksum(data: bytes, checksum: Optional[str]) -> None:
    # RFC 9580 makes the checksum optional; when present, it must match (it catches damage in transit).
    if checksum is None:
        return
    expected = _decode_radix64(checksum)
    if len(expected) != 3:
        raise _malformed("malformed OpenPGP armor: the checksum line is not 3 bytes")
    if int.from_bytes(expected, "big") != crc24(data):
        raise _malformed("malformed OpenPGP armor: CRC24 checksum mismatch (the armored data was altered)")


# ---------------------------------------------------------------------------------------------------------------
# Packets (RFC 9580, section 4)
# ---------------------------------------------------------------------------------------------------------------

TAG_SIGNATURE = 2
TAG_SECRET_KEY = 5
TAG_PUBLIC_KEY = 6
TAG_SECRET_SUBKEY = 7
TAG_TRUST = 12
TAG_USER_ID = 13
TAG_PUBLIC_SUBKEY = 14
TAG_USER_ATTRIBUTE = 17


@dataclass(frozen=True)
class Packet:
    tag: int
    body: bytes


def parse_packets(data: bytes) -> List[Packet]:
    """Split binary OpenPGP data into packets."""
    packets = []
    offset = 0
    while offset < len(data):
        tag, body_start, body_end = _packet_header(data, offset)
        if body_end > len(data):
            raise _malformed(f"malformed OpenPGP packet: tag {tag} at offset {offset} is truncated")
        packets.append(Packet(tag, data[body_start:body_end]))
        offset = body_end
    return packets


def _packet_header(data: bytes, offset: int) -> Tuple[int, int, int]:
    """The tag, body start and body end of the packet at `offset`."""
    first = data[offset]
    length: Optional[int]
    if not first & 0x80:
        raise _malformed(f"malformed OpenPGP packet: byte {first:#04x} at offset {offset} is not a packet header")
    if first & 0x40:
        tag = first & 0x3F
        length, header_size = _new_format_length(data, offset + 1)
    else:
        tag = (first >> 2) & 0x0F
        length, header_size = _old_format_length(data, offset + 1, first & 0x03)
    if tag == 0:
        raise _malformed(f"malformed OpenPGP packet: reserved tag 0 at offset {offset}")
    start = offset + 1 + header_size
    return tag, start, start + length if length is not None else len(data)


def _new_format_length(data: bytes, offset: int) -> Tuple[int, int]:
    first = _byte_at(data, offset)
    if first < 192:
        return first, 1
    if first < 224:
        return ((first - 192) << 8) + _byte_at(data, offset + 1) + 192, 2
    if first == 255:
        return int.from_bytes(_bytes_at(data, offset + 1, 4), "big"), 5
    # Partial body lengths only appear in streamed literal or encrypted data, never in keys or signatures.
    raise _malformed("malformed OpenPGP packet: partial body lengths are not supported in keys or signatures")


def _old_format_length(data: bytes, offset: int, length_type: int) -> Tuple[Optional[int], int]:
    if length_type == 3:
        return None, 0  # Indeterminate: the packet runs to the end of the data.
    size = (1, 2, 4)[length_type]
    return int.from_bytes(_bytes_at(data, offset, size), "big"), size


def _byte_at(data: bytes, offset: int) -> int:
    return _bytes_at(data, offset, 1)[0]


def _bytes_at(data: bytes, offset: int, size: int) -> bytes:
    if offset + size > len(data):
        raise _malformed("malformed OpenPGP packet: truncated packet header")
    return data[offset : offset + size]


class _Reader:
    """Reads the fields of one packet body; running past its end means the packet is malformed."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data, self.what, self.offset = data, what, 0

    def take(self, size: int) -> bytes:
        if self.offset + size > len(self.data):
            raise _malformed(f"malformed OpenPGP {self.what}: truncated")
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk

    def uint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def mpi(self) -> int:
        bits = self.uint(2)
        return int.from_bytes(self.take((bits + 7) // 8), "big")

    def rest(self) -> bytes:
        return self.take(len(self.data) - self.offset)

    def at_end(self) -> bool:
        return self.offset == len(self.data)


# ---------------------------------------------------------------------------------------------------------------
# Public keys (RFC 9580, section 5.5)
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicKey:
    version: int
    algorithm: int
    created: int
    # RSA: (n, e). Ed25519: the 32-byte public key. Other algorithms: None (kept to name them in errors).
    material: Any
    body: bytes  # The packet body: fingerprints and self-signatures hash it.

    @property
    def fingerprint(self) -> str:
        # v4: SHA1 over 0x99, a two-byte length and the key packet body (RFC 9580, section 5.5.4.2).
        return hashlib.sha1(_key_hash_prefix(self.body)).hexdigest().upper()

    @property
    def key_id(self) -> str:
        return self.fingerprint[-16:]

    @property
    def description(self) -> str:
        name = _ALGORITHM_NAMES.get(self.algorithm, f"algorithm {self.algorithm}")
        if self.algorithm in RSA_ALGORITHMS and self.material is not None:
            name += f" {self.material[0].bit_length()}-bit"
        return f"{name} key {self.fingerprint}"


def _key_hash_prefix(body: bytes) -> bytes:
    if len(body) > 0xFFFF:
        raise _malformed("malformed OpenPGP public key: packet too long for a version 4 key")
    return b"\x99" + len(body).to_bytes(2, "big") + body


def parse_public_key(body: bytes) -> PublicKey:
    """A version 4 key or subkey packet body; UNSUPPORTED for other versions."""
    reader = _Reader(body, "public key")
    version = reader.uint(1)
    if version != 4:
        raise SignatureError(UNSUPPORTED, f"unsupported OpenPGP key version {version} (only version 4 keys)")
    created = reader.uint(4)
    algorithm = reader.uint(1)
    material: object = None
    if algorithm in RSA_ALGORITHMS:
        material = (reader.mpi(), reader.mpi())
    elif algorithm == EDDSA_LEGACY:
        material = _read_ed25519_public_key(reader)
    return PublicKey(version, algorithm, created, material, body)


def _read_ed25519_public_key(reader: _Reader) -> Optional[bytes]:
    oid = reader.take(reader.uint(1))
    point = reader.mpi()
    if oid != _ED25519_OID:
        return None  # Another curve: parsed so the key has a fingerprint, but unusable.
    encoded = point.to_bytes(33, "big") if point.bit_length() <= 264 else b""
    # Legacy EdDSA prefixes the native 32-byte key with 0x40 ("native point format").
    if encoded[:1] != b"\x40":
        raise _malformed("malformed OpenPGP public key: an Ed25519 key must be 0x40 followed by 32 bytes")
    if ed25519_has_small_order(encoded[1:]):
        # For such a key, R = identity and S = 0 is a valid signature of every message: anyone can "sign" with it,
        # its own self-signatures included. gpgv refuses these keys too.
        raise SignatureError(UNSUPPORTED, "weak Ed25519 public key: a point of small order signs any message")
    return encoded[1:]


# ---------------------------------------------------------------------------------------------------------------
# Signatures (RFC 9580, section 5.2)
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subpacket:
    type: int
    critical: bool
    hashed: bool  # Only hashed subpackets are covered by the signature, so only they are trusted.
    data: bytes


@dataclass(frozen=True)
class Signature:
    version: int
    type: int
    public_key_algorithm: int
    hash_algorithm: int
    hashed_part: bytes  # Version through hashed subpackets: what the v4 trailer appends to the hashed data.
    subpackets: Tuple[Subpacket, ...]
    hash_prefix: bytes  # The left 16 bits of the digest, a quick check for altered data.
    values: Tuple[int, ...]  # RSA: (s,). EdDSA: (r, s).

    def _hashed(self, subpacket_type: int) -> Optional[bytes]:
        for subpacket in self.subpackets:
            if subpacket.hashed and subpacket.type == subpacket_type:
                return subpacket.data
        return None

    def _any(self, subpacket_type: int) -> Optional[bytes]:
        for subpacket in sorted(self.subpackets, key=lambda s: not s.hashed):
            if subpacket.type == subpacket_type:
                return subpacket.data
        return None

    @property
    def created(self) -> Optional[int]:
        data = self._hashed(_SUBPACKET_CREATION_TIME)
        return int.from_bytes(data, "big") if data and len(data) == 4 else None

    @property
    def expires(self) -> Optional[int]:
        """When the signature itself expires (epoch seconds), None if never."""
        data = self._hashed(_SUBPACKET_SIGNATURE_EXPIRATION)
        seconds = int.from_bytes(data, "big") if data else 0
        return self.created + seconds if seconds and self.created is not None else None

    @property
    def key_expiration_seconds(self) -> Optional[int]:
        """Key lifetime after the key's creation (self-signatures); 0 or None means it does not expire."""
        data = self._hashed(_SUBPACKET_KEY_EXPIRATION)
        return int.from_bytes(data, "big") if data else None

    @property
    def key_flags(self) -> Optional[int]:
        data = self._hashed(_SUBPACKET_KEY_FLAGS)
        return data[0] if data else None

    @property
    def issuer_fingerprint(self) -> Optional[str]:
        data = self._any(_SUBPACKET_ISSUER_FINGERPRINT)
        # The first byte is the key version; a v4 fingerprint is 20 bytes.
        return data[1:].hex().upper() if data and data[0] == 4 and len(data) == 21 else None

    @property
    def issuer_key_id(self) -> Optional[str]:
        fingerprint = self.issuer_fingerprint
        if fingerprint:
            return fingerprint[-16:]
        data = self._any(_SUBPACKET_ISSUER_KEY_ID)
        return data.hex().upper() if data and len(data) == 8 else None

    @property
    def issuer(self) -> str:
        return self.issuer_fingerprint or self.issuer_key_id or "(no issuer)"

    @property
    def embedded_signatures(self) -> List[bytes]:
        return [s.data for s in self.subpackets if s.type == _SUBPACKET_EMBEDDED_SIGNATURE]

    @property
    def unknown_critical_subpackets(self) -> List[int]:
        return [s.type for s in self.subpackets if s.critical and s.type not in _UNDERSTOOD_SUBPACKETS]


def parse_signature(body: bytes) -> Signature:
    """A version 4 signature packet body; UNSUPPORTED for other versions."""
    reader = _Reader(body, "signature")
    version = reader.uint(1)
    if version != 4:
        raise SignatureError(UNSUPPORTED, f"unsupported OpenPGP signature version {version} (only version 4)")
    signature_type, public_key_algorithm, hash_algorithm = reader.uint(1), reader.uint(1), reader.uint(1)
    hashed = _parse_subpackets(reader.take(reader.uint(2)), hashed=True)
    hashed_part = body[: reader.offset]
    unhashed = _parse_subpackets(reader.take(reader.uint(2)), hashed=False)
    hash_prefix = reader.take(2)
    values = _read_signature_values(reader, public_key_algorithm)
    return Signature(
        version,
        signature_type,
        public_key_algorithm,
        hash_algorithm,
        hashed_part,
        hashed + unhashed,
        hash_prefix,
        values,
    )


def _read_signature_values(reader: _Reader, public_key_algorithm: int) -> Tuple[int, ...]:
    if public_key_algorithm in RSA_ALGORITHMS:
        values: Tuple[int, ...] = (reader.mpi(),)
    elif public_key_algorithm == EDDSA_LEGACY:
        values = (reader.mpi(), reader.mpi())
    else:
        reader.rest()  # Unsupported algorithm: refused when verifying, with its name.
        return ()
    if not reader.at_end():
        raise _malformed("malformed OpenPGP signature: data after the signature values")
    return values


def _parse_subpackets(area: bytes, hashed: bool) -> Tuple[Subpacket, ...]:
    subpackets = []
    offset = 0
    while offset < len(area):
        length, header_size = _subpacket_length(area, offset)
        if length == 0 or offset + header_size + length > len(area):
            raise _malformed("malformed OpenPGP signature: bad subpacket length")
        type_byte = area[offset + header_size]
        data = area[offset + header_size + 1 : offset + header_size + length]
        subpackets.append(Subpacket(type_byte & 0x7F, bool(type_byte & 0x80), hashed, data))
        offset += header_size + length
    return tuple(subpackets)


def _subpacket_length(area: bytes, offset: int) -> Tuple[int, int]:
    first = _byte_at(area, offset)
    if first < 192:
        return first, 1
    if first < 255:
        return ((first - 192) << 8) + _byte_at(area, offset + 1) + 192, 2
    return int.from_bytes(_bytes_at(area, offset + 1, 4), "big"), 5


def signature_digest(signature: Signature, signed_data: bytes) -> bytes:
    """The digest a v4 signature signs: the data, the hashed part, then the trailer 0x04 0xFF + its length."""
    hash_function = _HASH_FUNCTIONS.get(signature.hash_algorithm)
    if hash_function is None:
        name = HASH_NAMES.get(signature.hash_algorithm, f"hash algorithm {signature.hash_algorithm}")
        raise SignatureError(UNSUPPORTED, f"the signature uses {name}, which is refused (only SHA256, SHA384, SHA512)")
    hasher = hash_function()
    hasher.update(signed_data)
    hasher.update(signature.hashed_part)
    hasher.update(b"\x04\xff" + len(signature.hashed_part).to_bytes(4, "big"))
    return hasher.digest()


def verify_signature(key: PublicKey, signature: Signature, signed_data: bytes) -> None:
    """Check the cryptography of one signature over `signed_data`; SignatureError if it does not hold.

    Validity in time (expiry, revocation) is the caller's business: this answers "did this key sign this data?".
    """
    _check_algorithm_pairing(key, signature)
    if signature.unknown_critical_subpackets:
        raise SignatureError(
            UNSUPPORTED,
            f"the signature has critical subpackets this verifier does not "
            f"understand: {signature.unknown_critical_subpackets}",
        )
    digest = signature_digest(signature, signed_data)
    if digest[:2] != signature.hash_prefix:
        raise SignatureError(
            BAD_SIGNATURE,
            f"bad signature by {key.description}: the digest does not match "
            f"(the signed data or the signature was altered)",
        )
    if not _signature_math_holds(key, signature, digest):
        raise SignatureError(
            BAD_SIGNATURE,
            f"bad signature by {key.description}: the signature value does not "
            f"verify (the signed data or the signature was altered)",
        )


def _check_algorithm_pairing(key: PublicKey, signature: Signature) -> None:
    if key.algorithm in RSA_ALGORITHMS and signature.public_key_algorithm in RSA_ALGORITHMS:
        if key.material[0].bit_length() < _MIN_RSA_BITS:
            raise SignatureError(UNSUPPORTED, f"{key.description} is too weak (less than {_MIN_RSA_BITS} bits)")
        return
    if key.algorithm == EDDSA_LEGACY == signature.public_key_algorithm:
        if key.material is None:
            raise SignatureError(UNSUPPORTED, f"{key.description} is on a curve other than Ed25519")
        return
    if key.algorithm != signature.public_key_algorithm and _known_algorithm(key.algorithm):
        raise SignatureError(
            BAD_SIGNATURE,
            f"bad signature: made with algorithm {signature.public_key_algorithm} " f"but {key.description} is not",
        )
    raise SignatureError(UNSUPPORTED, f"{key.description} uses an unsupported algorithm (only RSA and Ed25519)")


def _known_algorithm(algorithm: int) -> bool:
    return algorithm in RSA_ALGORITHMS or algorithm == EDDSA_LEGACY


def _signature_math_holds(key: PublicKey, signature: Signature, digest: bytes) -> bool:
    if key.algorithm in RSA_ALGORITHMS:
        modulus, exponent = key.material
        return _rsa_pkcs1_v15_holds(modulus, exponent, signature.values[0], signature.hash_algorithm, digest)
    r, s = signature.values
    if r.bit_length() > 256 or s.bit_length() > 256:
        return False
    # Legacy EdDSA stores the native R and S octet strings as MPIs, i.e. as big-endian numbers.
    native_signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    # OpenPGP's EdDSA signs the digest, not the data itself.
    return ed25519_verify(key.material, digest, native_signature)


# ---------------------------------------------------------------------------------------------------------------
# RSA, PKCS#1 v1.5 (RFC 8017, section 8.2.2)
# ---------------------------------------------------------------------------------------------------------------


def _rsa_pkcs1_v15_holds(modulus: int, exponent: int, value: int, hash_algorithm: int, digest: bytes) -> bool:
    if not 0 < value < modulus:
        return False
    size = (modulus.bit_length() + 7) // 8
    encoded = pow(value, exponent, modulus).to_bytes(size, "big")
    # Build the one valid encoding and compare it whole: parsing the decrypted block instead is what let
    # Bleichenbacher-style forgeries through lenient verifiers.
    tail = b"\x00" + _DIGEST_INFO_PREFIXES[hash_algorithm] + digest
    padding = size - 2 - len(tail)
    if padding < 8:
        return False
    return hmac.compare_digest(encoded, b"\x00\x01" + b"\xff" * padding + tail)


# ---------------------------------------------------------------------------------------------------------------
# Ed25519 verification (RFC 8032, section 5.1.7), the reference arithmetic in extended coordinates
# ---------------------------------------------------------------------------------------------------------------

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493  # The order of the base point.
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_MINUS_ONE = pow(2, (_P - 1) // 4, _P)
_Point = Tuple[int, int, int, int]  # (X, Y, Z, T) with x = X/Z, y = Y/Z, x*y = T/Z.


def _point_add(p: _Point, q: _Point) -> _Point:
    a = (p[1] - p[0]) * (q[1] - q[0]) % _P
    b = (p[1] + p[0]) * (q[1] + q[0]) % _P
    c = 2 * p[3] * q[3] * _D % _P
    d = 2 * p[2] * q[2] % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return e * f % _P, g * h % _P, f * g % _P, e * h % _P


def _point_multiply(scalar: int, point: _Point) -> _Point:
    result: _Point = (0, 1, 1, 0)  # The neutral element.
    while scalar > 0:
        if scalar & 1:
            result = _point_add(result, point)
        point = _point_add(point, point)
        scalar >>= 1
    return result


def _points_equal(p: _Point, q: _Point) -> bool:
    return (p[0] * q[2] - q[0] * p[2]) % _P == 0 and (p[1] * q[2] - q[1] * p[2]) % _P == 0


def _recover_x(y: int, sign: int) -> Optional[int]:
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_MINUS_ONE % _P
    if (x * x - x2) % _P != 0:
        return None
    return _P - x if (x & 1) != sign else x


def _point_decompress(encoded: bytes) -> Optional[_Point]:
    y = int.from_bytes(encoded, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % _P)


_BASE_Y = 4 * pow(5, _P - 2, _P) % _P
_BASE_X = _recover_x(_BASE_Y, 0)
assert _BASE_X is not None
_BASE: _Point = (_BASE_X, _BASE_Y, 1, _BASE_X * _BASE_Y % _P)


_IDENTITY: _Point = (0, 1, 1, 0)


def ed25519_has_small_order(public_key: bytes) -> bool:
    """Whether a 32-byte Ed25519 public key is a point whose order divides the cofactor 8 (identity included)."""
    point = _point_decompress(public_key) if len(public_key) == 32 else None
    return point is not None and _points_equal(_point_multiply(8, point), _IDENTITY)


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """RFC 8032 Ed25519 verification of a 64-byte signature by a 32-byte public key; small-order keys never verify."""
    if len(public_key) != 32 or len(signature) != 64 or ed25519_has_small_order(public_key):
        return False
    a = _point_decompress(public_key)
    r = _point_decompress(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= _L:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public_key + message).digest(), "little") % _L
    return _points_equal(_point_multiply(s, _BASE), _point_add(r, _point_multiply(h, a)))


# ---------------------------------------------------------------------------------------------------------------
# Keyrings: primary keys with their self-signatures, subkeys with their bindings
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoundKey:
    """A primary key or a validly bound subkey, with what its self-signatures say about it."""

    key: PublicKey
    primary_fingerprint: str
    expires: Optional[int]  # Epoch seconds; None if it never expires.
    revoked: bool
    can_sign: bool

    @property
    def fingerprint(self) -> str:
        return self.key.fingerprint

    @property
    def is_primary(self) -> bool:
        return self.key.fingerprint == self.primary_fingerprint


@dataclass(frozen=True)
class Certificate:
    primary: BoundKey
    user_ids: Tuple[str, ...]
    subkeys: Tuple[BoundKey, ...]

    @property
    def fingerprint(self) -> str:
        return self.primary.fingerprint


@dataclass(frozen=True)
class RejectedKey:
    """A key of the keyring data that cannot be used, kept to explain a signature it made."""

    fingerprint: str
    primary_fingerprint: str
    reason: str


@dataclass(frozen=True)
class Keyring:
    certificates: Tuple[Certificate, ...]
    rejected: Tuple[RejectedKey, ...] = ()

    @property
    def fingerprints(self) -> Tuple[str, ...]:
        """The primary key fingerprints, in keyring order."""
        return tuple(c.fingerprint for c in self.certificates)

    def keys(self) -> List[Tuple[BoundKey, Certificate]]:
        return [(key, c) for c in self.certificates for key in (c.primary,) + c.subkeys]

    def find(self, fingerprint: Optional[str], key_id: Optional[str]) -> List[Tuple[BoundKey, Certificate]]:
        """The keys a signature's issuer names: by fingerprint when it gives one, else by key ID."""
        if fingerprint:
            return [(key, c) for key, c in self.keys() if key.fingerprint == fingerprint]
        return [(key, c) for key, c in self.keys() if key_id and key.key.key_id == key_id]

    def find_rejected(self, fingerprint: Optional[str], key_id: Optional[str]) -> List[RejectedKey]:
        return [
            r
            for r in self.rejected
            if (fingerprint and r.fingerprint == fingerprint) or (key_id and r.fingerprint[-16:] == key_id)
        ]

    def restricted_to(self, fingerprints: Iterable[str]) -> "Keyring":
        """Only the certificates whose primary key fingerprint is listed."""
        wanted = {f.upper() for f in fingerprints}
        return Keyring(
            tuple(c for c in self.certificates if c.fingerprint in wanted),
            tuple(r for r in self.rejected if r.primary_fingerprint in wanted),
        )


def load_keyring(data: bytes) -> Keyring:
    """A keyring from binary packets (as /usr/share/keyrings/*.gpg) or armored public key blocks.

    Keys that cannot be used (unsupported version or algorithm, no valid self-signature) are not an error: they
    are listed in `rejected`, so a signature they made is reported as made by an unusable key.
    """
    certificates, rejected = [], []
    for group in _certificate_packet_groups(_keyring_packets(data)):
        certificate, rejected_keys = _build_certificate(group)
        if certificate is not None:
            certificates.append(certificate)
        rejected.extend(rejected_keys)
    return Keyring(tuple(certificates), tuple(rejected))


def _keyring_packets(data: bytes) -> List[Packet]:
    if data.lstrip().startswith(b"-----BEGIN PGP "):
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            raise _malformed("malformed OpenPGP armor: not ASCII") from None
        packets = []
        for block in dearmor_all(text):
            if block.kind != "PUBLIC KEY BLOCK":
                raise _malformed(f"malformed keyring: armored {block.kind} where a PUBLIC KEY BLOCK was expected")
            packets += parse_packets(block.data)
        return packets
    return parse_packets(data)


@dataclass
class _CertificatePackets:
    primary: Packet
    direct_signatures: List[Packet]
    user_ids: List[Tuple[Packet, List[Packet]]]  # User IDs and user attributes, each with its signatures.
    subkeys: List[Tuple[Packet, List[Packet]]]


def _certificate_packet_groups(packets: Sequence[Packet]) -> List[_CertificatePackets]:
    """The packets of each certificate; one key appearing twice (concatenated keyrings) is merged into one."""
    merged: Dict[bytes, _CertificatePackets] = {}
    for group in _split_certificates(packets):
        if group.primary.body in merged:
            first = merged[group.primary.body]
            first.direct_signatures += group.direct_signatures
            first.user_ids += group.user_ids
            first.subkeys += group.subkeys
        else:
            merged[group.primary.body] = group
    return list(merged.values())


def _split_certificates(packets: Sequence[Packet]) -> List[_CertificatePackets]:
    groups: List[_CertificatePackets] = []
    for packet in packets:
        if packet.tag == TAG_TRUST:
            continue  # gpg's local trust data in old keyrings: not part of the key.
        if packet.tag in (TAG_SECRET_KEY, TAG_SECRET_SUBKEY):
            raise _malformed("malformed keyring: it holds a secret key; pass public keys only")
        if packet.tag == TAG_PUBLIC_KEY:
            groups.append(_CertificatePackets(packet, [], [], []))
        elif not groups:
            raise _malformed(f"malformed keyring: packet with tag {packet.tag} before the first public key")
        elif packet.tag in (TAG_USER_ID, TAG_USER_ATTRIBUTE):
            groups[-1].user_ids.append((packet, []))
        elif packet.tag == TAG_PUBLIC_SUBKEY:
            groups[-1].subkeys.append((packet, []))
        elif packet.tag == TAG_SIGNATURE and _signature_type(packet) == _SIG_KEY_REVOCATION:
            # A key revocation is about the whole key wherever it sits: appended after the subkeys (as merging a
            # revocation certificate into a keyring puts it), it must not be read as a subkey's signature and lost.
            groups[-1].direct_signatures.append(packet)
        elif packet.tag == TAG_SIGNATURE:
            _signatures_of_last_component(groups[-1]).append(packet)
        else:
            raise _malformed(f"malformed keyring: unexpected packet with tag {packet.tag} in a public key")
    return groups


def _signature_type(packet: Packet) -> Optional[int]:
    """The type of a signature packet without parsing the rest (version 3 has it at offset 2, 4 and later at 1)."""
    body = packet.body
    if len(body) > 2 and body[0] == 3:
        return body[2]
    return body[1] if len(body) > 1 and body[0] >= 4 else None


def _signatures_of_last_component(group: _CertificatePackets) -> List[Packet]:
    # Signatures follow what they sign: the last subkey, else the last user ID, else the primary key itself.
    if group.subkeys:
        return group.subkeys[-1][1]
    if group.user_ids:
        return group.user_ids[-1][1]
    return group.direct_signatures


def _build_certificate(group: _CertificatePackets) -> Tuple[Optional[Certificate], List[RejectedKey]]:
    try:
        primary = parse_public_key(group.primary.body)
    except SignatureError as e:
        fingerprint = hashlib.sha1(_key_hash_prefix(group.primary.body)).hexdigest().upper()
        return None, [RejectedKey(fingerprint, fingerprint, str(e))]
    bound_primary, user_ids = _bind_primary(primary, group)
    if bound_primary is None:
        reason = f"{primary.description} has no valid self-signature on a user ID"
        return None, [RejectedKey(primary.fingerprint, primary.fingerprint, reason)]
    subkeys, rejected = [], []
    for subkey_packet, signatures in group.subkeys:
        subkey, reason = _bind_subkey(primary, subkey_packet, signatures)
        if subkey is not None:
            subkeys.append(subkey)
        else:
            fingerprint = hashlib.sha1(_key_hash_prefix(subkey_packet.body)).hexdigest().upper()
            rejected.append(RejectedKey(fingerprint, primary.fingerprint, reason))
    return Certificate(bound_primary, tuple(user_ids), tuple(subkeys)), rejected


def _self_signatures(
    primary: PublicKey, packets: Sequence[Packet], types: Sequence[int], signed_data: bytes
) -> List[Signature]:
    """The signatures of `types` that the primary key itself made over `signed_data` and that verify.

    Signatures by other keys (certifications by other Debian keys) and ones this verifier cannot check are skipped:
    only self-signatures decide what a key is.
    """
    valid = []
    for packet in packets:
        try:
            signature = parse_signature(packet.body)
        except SignatureError:
            continue
        if signature.type not in types or not _issued_by(signature, primary):
            continue
        try:
            verify_signature(primary, signature, signed_data)
        except SignatureError:
            continue
        valid.append(signature)
    return valid


def _issued_by(signature: Signature, key: PublicKey) -> bool:
    if signature.issuer_fingerprint:
        return signature.issuer_fingerprint == key.fingerprint
    return signature.issuer_key_id == key.key_id


def _bind_primary(primary: PublicKey, group: _CertificatePackets) -> Tuple[Optional[BoundKey], List[str]]:
    primary_data = _key_hash_prefix(primary.body)
    certifications, user_ids = [], []
    for packet, signatures in group.user_ids:
        if packet.tag != TAG_USER_ID:
            continue
        # A v4 certification hashes the key, then 0xB4, a four-byte length and the user ID.
        user_id_data = b"\xb4" + len(packet.body).to_bytes(4, "big") + packet.body
        valid = _self_signatures(primary, signatures, _SIG_USER_ID_CERTIFICATIONS, primary_data + user_id_data)
        if valid:
            certifications += valid
            user_ids.append(packet.body.decode("utf-8", "replace"))
    if not certifications:
        return None, []
    direct = _self_signatures(primary, group.direct_signatures, (_SIG_DIRECT_KEY,), primary_data)
    revocations = _self_signatures(primary, group.direct_signatures, (_SIG_KEY_REVOCATION,), primary_data)
    # Expiry and usage come from the newest self-signature that states them: a user ID certification always does
    # (no expiry subpacket means no expiry), a direct-key signature only when it carries the subpacket (Debian's
    # direct-key signatures only name designated revokers, and must not erase the expiry).
    expiry_source = _newest(certifications + [s for s in direct if s.key_expiration_seconds is not None])
    flags_source = _newest(certifications + [s for s in direct if s.key_flags is not None])
    bound = BoundKey(
        primary, primary.fingerprint, _expiry(primary, expiry_source), bool(revocations), _may_sign(flags_source)
    )
    return bound, user_ids


def _newest(signatures: Sequence[Signature]) -> Signature:
    # The newest self-signature supersedes older ones (RFC 9580, section 5.2.3.10).
    return max(signatures, key=lambda s: s.created or 0)


def _expiry(key: PublicKey, self_signature: Signature) -> Optional[int]:
    seconds = self_signature.key_expiration_seconds
    return key.created + seconds if seconds else None


def _may_sign(self_signature: Signature) -> bool:
    flags = self_signature.key_flags
    return flags is None or bool(flags & _KEY_FLAG_SIGN)


def _bind_subkey(primary: PublicKey, packet: Packet, signatures: Sequence[Packet]) -> Tuple[Optional[BoundKey], str]:
    try:
        subkey = parse_public_key(packet.body)
    except SignatureError as e:
        return None, str(e)
    # Binding signatures hash the primary key, then the subkey, both framed like for a fingerprint.
    binding_data = _key_hash_prefix(primary.body) + _key_hash_prefix(subkey.body)
    bindings = _self_signatures(primary, signatures, (_SIG_SUBKEY_BINDING,), binding_data)
    if not bindings:
        return None, f"subkey {subkey.fingerprint} of {primary.fingerprint} has no valid binding signature"
    revocations = _self_signatures(primary, signatures, (_SIG_SUBKEY_REVOCATION,), binding_data)
    binding = _newest(bindings)
    # A signing subkey must also sign its primary (the "back-signature"), or anyone could claim another person's
    # subkey as theirs; gpg refuses signatures from a subkey without one.
    can_sign = _may_sign(binding) and _has_valid_back_signature(subkey, binding, binding_data)
    return BoundKey(subkey, primary.fingerprint, _expiry(subkey, binding), bool(revocations), can_sign), ""


def _has_valid_back_signature(subkey: PublicKey, binding: Signature, binding_data: bytes) -> bool:
    for embedded in binding.embedded_signatures:
        try:
            back_signature = parse_signature(embedded)
            if back_signature.type == _SIG_PRIMARY_KEY_BINDING:
                verify_signature(subkey, back_signature, binding_data)
                return True
        except SignatureError:
            continue
    return False


# ---------------------------------------------------------------------------------------------------------------
# Clearsigned messages (RFC 9580, section 7)
# ---------------------------------------------------------------------------------------------------------------

_BEGIN_MESSAGE = b"-----BEGIN PGP SIGNED MESSAGE-----"
_BEGIN_SIGNATURE = b"-----BEGIN PGP SIGNATURE-----"
_END_SIGNATURE = b"-----END PGP SIGNATURE-----"


@dataclass(frozen=True)
class ClearsignedMessage:
    hash_names: Tuple[str, ...]  # From the "Hash:" armor headers; empty when there are none.
    # The signed lines, dash-unescaped and without trailing whitespace, each ended by LF (b"" when there are none).
    text: bytes
    signatures: Tuple[Packet, ...]

    @property
    def lines(self) -> Tuple[bytes, ...]:
        """The signed lines, without line endings."""
        return tuple(self.text[:-1].split(b"\n")) if self.text else ()

    @property
    def signed_data(self) -> bytes:
        """The canonical text the signatures cover: lines joined with CRLF, no line break after the last."""
        return self.text[:-1].replace(b"\n", b"\r\n")


# The message is handled as one bytes object with C-speed searches and substitutions, never as a list of lines:
# 10 MB of two-byte lines would be five million objects (over 500 MB, seconds of Python loops).
_WHITESPACE = b" \t\n\r\x0b\x0c"  # What bytes.strip() strips.
_UNESCAPED_DASH_LINE = re.compile(rb"^-(?! )", re.MULTILINE)  # A line starting with '-' but not with "- ".
_END_SIGNATURE_LINE = re.compile(rb"^-----END PGP SIGNATURE-----[ \t\r\x0b\x0c]*$", re.MULTILINE)
_TRAILING_BLANKS = re.compile(rb"[ \t]+$", re.MULTILINE)
_MAX_HEADER_LINES = 64
# Substitutions build a piece per match: done a chunk of lines at a time, they never hold millions at once.
_CHUNK_BYTES = 1024 * 1024


def parse_clearsigned(text: bytes) -> ClearsignedMessage:
    """Split a clearsigned message into its signed lines and signature packets.

    Anything but blank lines before the BEGIN line or after the END line is refused: apt refuses it too, since a
    reader that parsed the file without the signature framing would see unsigned content. So is a message over
    MAX_CLEARSIGNED_BYTES, before anything else is done with it.
    """
    _check_size(len(text), MAX_CLEARSIGNED_BYTES, "clearsigned message")
    # Skip the blank lines: the BEGIN line starts on the line of the first non-blank byte.
    first = len(text) - len(text.lstrip(_WHITESPACE))
    line, position = _line_at(text, text.rfind(b"\n", 0, first) + 1)
    if line is None or line.rstrip() != _BEGIN_MESSAGE:
        raise _malformed("malformed clearsigned message: it does not start with -----BEGIN PGP SIGNED MESSAGE-----")
    hash_names, position = _read_hash_headers(text, position)
    signed_text, position = _read_signed_text(text, position)
    signatures, position = _read_signature_block(text, position)
    if text[position:].strip():
        raise _malformed("malformed clearsigned message: unsigned data after -----END PGP SIGNATURE-----")
    return ClearsignedMessage(hash_names, signed_text, tuple(signatures))


def _line_at(text: bytes, position: int) -> Tuple[Optional[bytes], int]:
    """The line starting at `position` without its line ending (LF, or CR LF), and where the next one starts; None
    past the end. Like text.split(b"\n"): a text ending in LF has a last, empty line."""
    if position > len(text):
        return None, position
    end = text.find(b"\n", position)
    end = len(text) if end < 0 else end
    line = text[position:end]
    return (line[:-1] if line.endswith(b"\r") else line), end + 1


def _check_size(size: int, limit: int, what: str) -> None:
    if size > limit:
        raise SignatureError(TOO_LARGE, f"the {what} is {size} bytes, more than the {limit} bytes this verifier reads")


def _check_signature_count(packets: Sequence[Packet]) -> None:
    # Each signature by a trusted key costs a verification (tens of milliseconds for Ed25519 in pure Python).
    if len(packets) > MAX_SIGNATURE_PACKETS:
        raise SignatureError(
            TOO_LARGE, f"{len(packets)} signature packets, more than the {MAX_SIGNATURE_PACKETS} this verifier reads"
        )


def _read_hash_headers(text: bytes, position: int) -> Tuple[Tuple[str, ...], int]:
    names: List[str] = []
    for _ in range(_MAX_HEADER_LINES + 1):
        line, position = _line_at(text, position)
        if line is None:
            raise _malformed("malformed clearsigned message: no blank line after the armor headers")
        if not line.strip():
            return tuple(names), position
        name, colon, value = line.rstrip().partition(b": ")
        # "Hash" is the only header a cleartext signature may carry; anything else would be unsigned text.
        if name != b"Hash" or not colon:
            raise _malformed(f"malformed clearsigned message: unexpected armor header {line[:60]!r}")
        names += [n.strip().decode("ascii", "replace").upper() for n in value.split(b",")]
    raise _malformed(f"malformed clearsigned message: more than {_MAX_HEADER_LINES} armor header lines")


def _read_signed_text(text: bytes, position: int) -> Tuple[bytes, int]:
    """The signed lines from `position` up to the BEGIN PGP SIGNATURE line, each ended by LF, and where that line
    starts. The first line that starts with '-' and is not dash-escaped must be that line."""
    match = _UNESCAPED_DASH_LINE.search(text, position)
    if match is None:
        raise _malformed("malformed clearsigned message: no -----BEGIN PGP SIGNATURE----- line")
    begin = match.start()
    line, _ = _line_at(text, begin)
    if line is None or line.rstrip() != _BEGIN_SIGNATURE:
        number = text.count(b"\n", 0, begin) + 1
        raise _malformed(f"malformed clearsigned message: line {number} starts with '-' but is not dash-escaped")
    chunks = []
    while position < begin:  # Each line ended by LF; none when the BEGIN line follows the headers at once.
        end = text.find(b"\n", min(position + _CHUNK_BYTES, begin - 1)) + 1
        chunks.append(_canonical_lines(text[position:end]))
        position = end
    return b"".join(chunks), begin


def _canonical_lines(lines: bytes) -> bytes:
    """Whole lines, each ended by LF, as signed: one CR before the LF dropped, dash-escapes undone, trailing spaces
    and tabs removed (RFC 9580, section 7.2)."""
    lines = (b"\n" + lines).replace(b"\r\n", b"\n").replace(b"\n- ", b"\n")[1:]
    return _TRAILING_BLANKS.sub(b"", lines)


def _read_signature_block(text: bytes, begin: int) -> Tuple[List[Packet], int]:
    match = _END_SIGNATURE_LINE.search(text, begin)
    if match is None:
        raise _malformed("malformed clearsigned message: no -----END PGP SIGNATURE----- line")
    _check_size(match.end() - begin + 1, MAX_SIGNATURE_BLOCK_BYTES, "signature block")
    try:
        armor_lines = [line.rstrip() for line in text[begin : match.end()].decode("ascii").split("\n")]
    except UnicodeDecodeError:
        raise _malformed("malformed clearsigned message: the signature block is not ASCII") from None
    block, _ = _read_armor_block(armor_lines, 0)
    packets = parse_packets(block.data)
    if not packets or any(p.tag != TAG_SIGNATURE for p in packets):
        raise _malformed("malformed clearsigned message: the signature block must hold signature packets only")
    _check_signature_count(packets)
    return packets, match.end()


@dataclass(frozen=True)
class VerifiedMessage:
    signed_text: bytes  # The signed lines with LF line endings: what the signatures vouch for, nothing else.
    signer_fingerprints: Tuple[str, ...]  # Primary key fingerprints of the keys with a valid signature.
    signing_key_fingerprints: Tuple[str, ...]  # The (sub)keys that made them, as gpgv prints "using RSA key ...".
    ignored_signatures: Tuple[str, ...]  # Why the other signatures did not count (e.g. issuer not in keyring).


@dataclass(frozen=True)
class _Outcome:
    """What one signature of a message amounts to."""

    reason: Optional[str]  # None: a valid signature by a trusted key.
    detail: str
    key: Optional[BoundKey] = None


def verify_clearsigned(text: bytes, keyring: Keyring, now: int) -> VerifiedMessage:
    """Verify a clearsigned message at time `now` (epoch seconds); SignatureError unless a trusted key signed it.

    One valid signature by a key of the keyring is enough (Debian signs with several keys across key rotations);
    signatures by unknown, expired or revoked keys, or in versions and algorithms this verifier does not support,
    are then ignored. A signature by a trusted key that does not verify, or a malformed signature packet, fails the
    whole message: it means the text or the signature was altered.
    """
    message = parse_clearsigned(text)
    outcomes = [_check_message_signature(p, message, keyring, now) for p in message.signatures]
    good = _good_outcomes(outcomes)
    return VerifiedMessage(
        signed_text=message.text,
        signer_fingerprints=_unique(o.key.primary_fingerprint for o in good if o.key),
        signing_key_fingerprints=_unique(o.key.fingerprint for o in good if o.key),
        ignored_signatures=tuple(o.detail for o in outcomes if o.reason is not None),
    )


def _good_outcomes(outcomes: Sequence[_Outcome]) -> List[_Outcome]:
    """The good signatures; SignatureError if any trusted signature is bad or malformed (the data or a signature was
    altered), or if none is good."""
    for fatal in (MALFORMED, BAD_SIGNATURE):
        failed = [o for o in outcomes if o.reason == fatal]
        if failed:
            raise SignatureError(fatal, failed[0].detail)
    good = [o for o in outcomes if o.reason is None and o.key is not None]
    if not good:
        raise _no_valid_signature_error(outcomes)
    return good


def _unique(values: Iterable[str]) -> Tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _check_message_signature(packet: Packet, message: ClearsignedMessage, keyring: Keyring, now: int) -> _Outcome:
    return _check_signature_packet(
        packet, SIG_CANONICAL_TEXT, message.signed_data, keyring, now, False, message.hash_names
    )


def _check_signature_packet(
    packet: Packet,
    signature_type: int,
    signed_data: bytes,
    keyring: Keyring,
    now: int,
    keys_at_signing: bool,
    announced_hashes: Tuple[str, ...] = (),
) -> _Outcome:
    """One signature packet over `signed_data`, at time `now`. With `keys_at_signing`, key expiry is judged at the
    signature's own creation time (a release signed while its key was valid stays verifiable after the key
    expires); revocations, the signature's expiry and a creation time after `now` are judged at `now` always."""
    try:
        signature = parse_signature(packet.body)
    except SignatureError as e:
        return _Outcome(e.reason, str(e))
    if signature.type != signature_type:
        return _Outcome(
            UNSUPPORTED,
            f"signature by {signature.issuer} has type {signature.type:#04x}, not " f"{signature_type:#04x}",
        )
    candidates = keyring.find(signature.issuer_fingerprint, signature.issuer_key_id)
    if not candidates:
        return _Outcome(NO_TRUSTED_KEY, _unknown_issuer_detail(signature, keyring))
    hash_name = HASH_NAMES.get(signature.hash_algorithm, str(signature.hash_algorithm))
    if announced_hashes and hash_name not in announced_hashes:
        # gpg fails such a message too: the header announced another algorithm than the one used.
        return _Outcome(
            BAD_SIGNATURE,
            f"bad signature by {signature.issuer}: made with {hash_name} but the "
            f"Hash: header says {', '.join(announced_hashes)}",
        )
    outcome = _Outcome(NO_TRUSTED_KEY, _unknown_issuer_detail(signature, keyring))
    for key, certificate in candidates:
        try:
            verify_signature(key.key, signature, signed_data)
        except SignatureError as e:
            detail = str(e) if e.reason == BAD_SIGNATURE else f"signature by {_key_name(key, certificate)}: {e}"
            outcome = _Outcome(e.reason, detail)
            continue
        key_time = (signature.created or 0) if keys_at_signing else now
        return _check_key_validity(key, certificate, signature, key_time, now)
    return outcome


@dataclass(frozen=True)
class VerifiedFile:
    signer_fingerprints: Tuple[str, ...]  # primary keys whose (sub)keys made a good signature
    signing_key_fingerprints: Tuple[str, ...]
    signed_at: Tuple[int, ...]  # creation times of the good signatures


def verify_detached(data: bytes, signature_file: bytes, keyring: Keyring, now: int) -> VerifiedFile:
    """Verify a detached signature (armored `.asc` or binary `.sig`) over a file's bytes at time `now` (epoch
    seconds); SignatureError unless a key of the keyring made a good binary-document signature. Key expiry is judged
    at the signature's creation time: an expired key's old release signatures still count, a revoked key's never
    do; a signature past its own expiry, or made after `now`, does not count (as for gpgv and sqv)."""
    _check_size(len(signature_file), MAX_SIGNATURE_BLOCK_BYTES, "signature file")
    text = signature_file.lstrip()
    if text.startswith(b"-----BEGIN PGP SIGNATURE-----"):
        blocks = [b for b in dearmor_all(signature_file.decode("ascii", "replace")) if b.kind == "SIGNATURE"]
        if not blocks:
            raise _malformed("malformed signature file: no PGP SIGNATURE block")
        packets = [p for block in blocks for p in parse_packets(block.data)]
    else:
        packets = parse_packets(signature_file)
    signatures = [p for p in packets if p.tag == TAG_SIGNATURE]
    if not signatures:
        raise _malformed("malformed signature file: no signature packet")
    _check_signature_count(signatures)
    outcomes = [_check_signature_packet(p, SIG_BINARY_DOCUMENT, data, keyring, now, True) for p in signatures]
    good = _good_outcomes(outcomes)
    return VerifiedFile(
        signer_fingerprints=_unique(o.key.primary_fingerprint for o in good if o.key),
        signing_key_fingerprints=_unique(o.key.fingerprint for o in good if o.key),
        signed_at=tuple(parse_signature(p.body).created or 0 for p, o in zip(signatures, outcomes) if o in good),
    )


def _unknown_issuer_detail(signature: Signature, keyring: Keyring) -> str:
    rejected = keyring.find_rejected(signature.issuer_fingerprint, signature.issuer_key_id)
    if rejected:
        return f"signature by {signature.issuer}: the key is in the keyring but unusable: {rejected[0].reason}"
    return f"signature by {signature.issuer}: not a key of the trusted keyring"


def _check_key_validity(
    key: BoundKey, certificate: Certificate, signature: Signature, key_time: int, now: int
) -> _Outcome:
    """Given a signature that verifies, whether its key was valid at `key_time` and the signature at `now`."""
    name = _key_name(key, certificate)
    for bound in (key, certificate.primary):
        if bound.revoked:
            return _Outcome(REVOKED_KEY, f"signature by {name}: key {bound.fingerprint} is revoked")
        if bound.expires is not None and key_time >= bound.expires:
            return _Outcome(
                EXPIRED_KEY, f"signature by {name}: key {bound.fingerprint} expired on " f"{_utc(bound.expires)}"
            )
    if not key.can_sign:
        return _Outcome(NO_TRUSTED_KEY, f"signature by {name}: the key is not certified for signing")
    created = signature.created
    if created is None or created < key.key.created:
        return _Outcome(
            BAD_SIGNATURE, f"bad signature by {name}: its creation time is missing or before the " f"key's creation"
        )
    if created > now:
        # A signature from the future means a wrong clock, here or at the signer: nothing about it can be judged.
        return _Outcome(
            FUTURE_SIGNATURE, f"signature by {name} is dated {_utc(created)}, after the time of checking {_utc(now)}"
        )
    if signature.expires is not None and now >= signature.expires:
        return _Outcome(EXPIRED_SIGNATURE, f"signature by {name} expired on {_utc(signature.expires)}")
    return _Outcome(None, f"good signature by {name}", key)


def _key_name(key: BoundKey, certificate: Certificate) -> str:
    user_id = certificate.user_ids[0] if certificate.user_ids else "no user ID"
    if key.is_primary:
        return f"{key.fingerprint} ({user_id})"
    return f"{key.fingerprint} (subkey of {key.primary_fingerprint}, {user_id})"


def _utc(timestamp: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(timestamp))


# Which failure to report when no signature counts: the most specific one about a key the keyring trusts.
_REASON_PRIORITY = (
    EXPIRED_KEY,
    REVOKED_KEY,
    EXPIRED_SIGNATURE,
    FUTURE_SIGNATURE,
    UNSUPPORTED,
    MALFORMED,
    NO_TRUSTED_KEY,
)


def _no_valid_signature_error(outcomes: Sequence[_Outcome]) -> SignatureError:
    reasons = {o.reason for o in outcomes}
    reason = next((r for r in _REASON_PRIORITY if r in reasons), NO_TRUSTED_KEY)
    # The specific reason first: with many signatures, the message is cut (SignatureError) after the first ones.
    ordered = sorted(outcomes, key=lambda o: o.reason != reason)
    details = "; ".join(o.detail for o in ordered)
    if reason == NO_TRUSTED_KEY:
        return SignatureError(reason, f"no signature by a trusted key ({details})")
    return SignatureError(reason, f"no valid signature by a trusted key ({details})")
