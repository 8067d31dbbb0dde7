from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signer.main import main, private_pem, public_pem, selftest, sign, verify


def test_sign_and_verify_round_trip() -> None:
    key = Ed25519PrivateKey.generate()
    signature = sign(private_pem(key), b"data")
    assert verify(public_pem(key.public_key()), b"data", signature)
    assert not verify(public_pem(key.public_key()), b"other", signature)
    assert not verify(public_pem(key.public_key()), b"data", "zz")


def test_selftest_names_openssl(capsys) -> None:
    assert "OpenSSL" in selftest()
    assert main(["selftest"]) == 0 and capsys.readouterr().out.startswith("selftest ok")


def test_cli_files(tmp_path, capsys) -> None:
    key = Ed25519PrivateKey.generate()
    (tmp_path / "k.pem").write_bytes(private_pem(key))
    (tmp_path / "p.pem").write_bytes(public_pem(key.public_key()))
    (tmp_path / "f").write_bytes(b"hello")
    assert main(["sign", str(tmp_path / "k.pem"), str(tmp_path / "f")]) == 0
    signature = capsys.readouterr().out.strip()
    assert main(["verify", str(tmp_path / "p.pem"), str(tmp_path / "f"), signature]) == 0
    assert main(["verify", str(tmp_path / "p.pem"), str(tmp_path / "k.pem"), signature]) == 1
