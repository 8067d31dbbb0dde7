"""The signature check on the real CPython 3.13.5 tarball and its release manager's real signature, and on
tampered copies of each. Both files come from the mirror .ci/run fills from Debian's source archive."""
import ast
import json
import os
import shutil
from pathlib import Path

import pytest

from pants_oci.exits import EXIT_EXPLAINED
from pants_oci.runtime import verify_source
from pants_oci.runtime.release_keys import THOMAS_WOUTERS

TARBALL = "Python-3.13.5.tar.xz"


@pytest.fixture(scope="module")
def mirror() -> Path:
    templates = os.environ.get("PANTS_CPYTHON_BUILD_SOURCE_URL_TEMPLATES", "")
    urls = ast.literal_eval(templates.lstrip("+")) if templates else []
    for template in urls:
        if template.startswith("file://"):
            directory = Path(template[len("file://") :]).parent
            if (directory / TARBALL).is_file() and (directory / (TARBALL + ".asc")).is_file():
                return directory
    pytest.skip(
        "no local CPython mirror with Python-3.13.5.tar.xz and its .asc (build-support/fill_cpython_mirror.py "
        "fills one; .ci/run sets PANTS_CPYTHON_BUILD_SOURCE_URL_TEMPLATES to it)"
    )


def _run(capsys, tarball: Path, major_minor: str, *urls: str):
    code = verify_source.main([str(tarball), major_minor, *urls])
    out, err = capsys.readouterr()
    return code, out, " ".join(err.split())


def _problem(out: str) -> str:
    """Which problem an exit 2 names on stdout."""
    return json.loads(out)["problem"]


def test_the_real_signature_verifies(mirror: Path, capsys) -> None:
    code, out, err = _run(
        capsys, mirror / TARBALL, "3.13", f"file://{mirror}/missing.asc", f"file://{mirror}/{TARBALL}.asc"
    )
    assert code == 0, err
    verified = json.loads(out)
    assert verified["signer"] == THOMAS_WOUTERS.fingerprint and verified["name"] == "Thomas Wouters"
    assert verified["url"] == f"file://{mirror}/{TARBALL}.asc" and verified["signed_at"] == 1749663954


def test_a_tampered_tarball_fails(mirror: Path, tmp_path: Path, capsys) -> None:
    tampered = tmp_path / TARBALL
    shutil.copy(mirror / TARBALL, tampered)
    with tampered.open("r+b") as f:
        f.seek(1_000_000)
        byte = f.read(1)
        f.seek(1_000_000)
        f.write(bytes([byte[0] ^ 1]))
    code, out, err = _run(capsys, tampered, "3.13", f"file://{mirror}/{TARBALL}.asc")
    assert (code, _problem(out)) == (EXIT_EXPLAINED, verify_source.BAD_SIGNATURE)
    assert (
        "does not verify against Thomas Wouters's key 7169605F62C751356D054A26A821E680E5FA6305 (bad-signature)" in err
    )


def test_a_tampered_signature_fails(mirror: Path, tmp_path: Path, capsys) -> None:
    lines = (mirror / (TARBALL + ".asc")).read_text().splitlines()
    body = next(i for i, line in enumerate(lines) if line and not line.startswith("-----") and ":" not in line)
    line = lines[body + 2]
    lines[body + 2] = line[:10] + ("A" if line[10] != "A" else "B") + line[11:]
    (tmp_path / "tampered.asc").write_text("\n".join(lines) + "\n")
    code, out, err = _run(capsys, mirror / TARBALL, "3.13", f"file://{tmp_path}/tampered.asc")
    assert (code, _problem(out)) == (EXIT_EXPLAINED, verify_source.BAD_SIGNATURE) and "does not verify" in err


def test_another_release_managers_key_is_not_accepted(mirror: Path, capsys) -> None:
    code, out, err = _run(capsys, mirror / TARBALL, "3.11", f"file://{mirror}/{TARBALL}.asc")
    assert (
        (code, _problem(out)) == (EXIT_EXPLAINED, verify_source.BAD_SIGNATURE)
        and "Pablo Galindo Salgado" in err
        and "no-trusted-key" in err
    )


def test_no_reachable_signature_is_reported_not_fatal(mirror: Path, capsys) -> None:
    code, out, err = _run(capsys, mirror / TARBALL, "3.13", f"file://{mirror}/none.asc")
    assert (code, _problem(out)) == (EXIT_EXPLAINED, verify_source.NO_SIGNATURE) and "none.asc" in err
    code, out, err = _run(capsys, mirror / TARBALL, "3.14", f"file://{mirror}/{TARBALL}.asc")
    assert (code, _problem(out)) == (
        EXIT_EXPLAINED,
        verify_source.NO_SIGNATURE,
    ) and "no OpenPGP release manager key is known for CPython 3.14" in err
