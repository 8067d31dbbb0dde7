"""signer: signs and verifies files with Ed25519 keys, through `cryptography` (a wheel with native code).

    signer keygen            -> a new private key (PEM) on stdout, its public key (PEM) on stderr
    signer sign KEY FILE     -> the hex signature of FILE
    signer verify PUB FILE SIG -> "valid" (exit 0) or "INVALID" (exit 1)
    signer selftest          -> generate, sign and verify in memory; prints the OpenSSL version it runs on
"""
import argparse
import sys
from typing import List, Optional

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.backends.openssl.backend import backend
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def sign(private_key_pem: bytes, data: bytes) -> str:
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the key is not an Ed25519 private key")
    return key.sign(data).hex()


def verify(public_key_pem: bytes, data: bytes, signature_hex: str) -> bool:
    key = serialization.load_pem_public_key(public_key_pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the key is not an Ed25519 public key")
    try:
        key.verify(bytes.fromhex(signature_hex), data)
        return True
    except (InvalidSignature, ValueError):
        return False


def selftest() -> str:
    key = Ed25519PrivateKey.generate()
    signature = sign(private_pem(key), b"payload")
    assert verify(public_pem(key.public_key()), b"payload", signature)
    assert not verify(public_pem(key.public_key()), b"tampered", signature)
    return f"selftest ok ({backend.openssl_version_text()})"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="signer", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("keygen")
    sign_parser = sub.add_parser("sign")
    sign_parser.add_argument("key")
    sign_parser.add_argument("file")
    verify_parser = sub.add_parser("verify")
    verify_parser.add_argument("public_key")
    verify_parser.add_argument("file")
    verify_parser.add_argument("signature")
    sub.add_parser("selftest")
    args = parser.parse_args(argv)
    if args.command == "keygen":
        key = Ed25519PrivateKey.generate()
        sys.stdout.write(private_pem(key).decode())
        sys.stderr.write(public_pem(key.public_key()).decode())
    elif args.command == "sign":
        with open(args.key, "rb") as k, open(args.file, "rb") as f:
            print(sign(k.read(), f.read()))
    elif args.command == "verify":
        with open(args.public_key, "rb") as k, open(args.file, "rb") as f:
            valid = verify(k.read(), f.read(), args.signature)
        print("valid" if valid else "INVALID")
        return 0 if valid else 1
    else:
        print(selftest())
    return 0
