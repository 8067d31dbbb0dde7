"""fetch_index against throwaway archives in tmp_path, served as file:// URLs (and once over loopback HTTP).

The positive path uses a real, unmodified pair from Debian's archive: testdata/bookworm-updates.InRelease and the
main/binary-amd64/Packages.xz it lists (testdata/bookworm-updates.main-binary-amd64-Packages.xz, fetched with it).
"""
import calendar
import functools
import hashlib
import http.server
import json
import lzma
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import pytest

from pants_oci.debian import fetch_index
from pants_oci.debian.base_rules import FETCH_INDEX
from pants_oci.exits import EXIT_USAGE
from pants_oci.openpgp.openpgp import armor, dearmor_all
from pants_oci.sandbox import shipped_files
from pants_oci.tools.testing import serving

TESTDATA = Path(__file__).parent / "testdata"
UPDATES = "bookworm-updates"
SECURITY = "bookworm-security"
PACKAGES_XZ_PATH = "main/binary-amd64/Packages.xz"

UPDATES_DATE = calendar.timegm((2026, 11, 21, 2, 10, 46))  # Date of bookworm-updates.InRelease (no Valid-Until).
SECURITY_VALID_UNTIL = calendar.timegm((2026, 11, 28, 0, 53, 2))  # Valid-Until of bookworm-security.InRelease.
# Primary keys that signed bookworm-updates.InRelease, in the order of its signatures (12/bookworm, 13/trixie).
UPDATES_SIGNERS = ["B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8", "04B54C3CDCA79751B16BC6B5225629DF75B188BD"]


def _fixture(name: str) -> bytes:
    return (TESTDATA / name).read_bytes()


def _updates_inrelease() -> bytes:
    return _fixture("bookworm-updates.InRelease")


def _updates_packages_xz() -> bytes:
    return _fixture("bookworm-updates.main-binary-amd64-Packages.xz")


def _listed_sha256(inrelease: bytes, path: str) -> str:
    """The fixture's own SHA256 line for `path`, read independently of the code under test."""
    match = re.search(rb"^ ([0-9a-f]{64}) +\d+ " + re.escape(path.encode()) + rb"$", inrelease, re.MULTILINE)
    assert match is not None
    return match.group(1).decode()


def _make_archive(root: Path, suite: str, inrelease: Optional[bytes], packages_xz: Optional[bytes] = None) -> str:
    """A minimal archive under `root` (dists/SUITE/InRelease and the amd64 Packages.xz); its file:// URL."""
    suite_dir = root / "dists" / suite
    (suite_dir / "main" / "binary-amd64").mkdir(parents=True, exist_ok=True)
    if inrelease is not None:
        (suite_dir / "InRelease").write_bytes(inrelease)
    if packages_xz is not None:
        (suite_dir / PACKAGES_XZ_PATH).write_bytes(packages_xz)
    return root.as_uri()


def _fetch(capsys, archive_url: str, suite: str, out_dir: Path, *options: str) -> Tuple[int, str]:
    code = fetch_index.main([archive_url, suite, "amd64", str(out_dir), *options])
    return code, capsys.readouterr().err


def _empty_out_dir(tmp_path: Path) -> Path:
    # Pre-created, as a sandbox's output directory may be, to check that a failure leaves it empty.
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    return out_dir


def _assert_refused(code: int, stderr: str, out_dir: Path, archive_url: str, suite: str, *fragments: str) -> None:
    assert code == fetch_index.EXIT_VERIFICATION_FAILED, stderr
    assert stderr.count("\n") == 1 and stderr.endswith("\n"), stderr  # One line.
    assert stderr.startswith(f"Debian archive {archive_url}, suite {suite}: "), stderr
    for fragment in fragments:
        assert fragment in stderr
    assert list(out_dir.iterdir()) == []


def _assert_fetched(out_dir: Path) -> dict:
    """The release.json written next to a Packages index equal to the fixture's, decompressed."""
    packages = (out_dir / "Packages").read_bytes()
    assert packages == lzma.decompress(_updates_packages_xz())
    # Cross-check against the uncompressed index's entry in the Release file.
    assert hashlib.sha256(packages).hexdigest() == _listed_sha256(_updates_inrelease(), "main/binary-amd64/Packages")
    assert b"Package: " in packages
    text = (out_dir / "release.json").read_text()
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"  # Sorted keys.
    return json.loads(text)


def _tamper_signature_packet(inrelease: bytes) -> bytes:
    """The InRelease with a signature value altered but still well-formed (re-armored with a matching CRC24)."""
    text, begin, block = inrelease.partition(b"-----BEGIN PGP SIGNATURE-----")
    packets = bytearray(dearmor_all((begin + block).decode("ascii"))[0].data)
    packets[-1] ^= 0x01  # The last byte of the last signature's value.
    return text + armor("SIGNATURE", bytes(packets)).encode("ascii")


# --- Verified fetches ---------------------------------------------------------------------------------------------


def test_a_verified_fetch_writes_packages_and_release_json(tmp_path: Path, capsys) -> None:
    archive_url = _make_archive(tmp_path / "debian", UPDATES, _updates_inrelease(), _updates_packages_xz())
    out_dir = tmp_path / "out" / "index"  # Created when missing.
    code, stderr = _fetch(capsys, archive_url, UPDATES, out_dir, "--now", str(UPDATES_DATE + 3600))
    assert (code, stderr) == (0, "")
    assert _assert_fetched(out_dir) == {
        "archive": archive_url,
        "suite": UPDATES,
        "date": UPDATES_DATE,
        "valid_until": None,
        "signed_by": UPDATES_SIGNERS,
        "verified": True,
    }
    assert sorted(p.name for p in out_dir.iterdir()) == ["Packages", "release.json"]


def test_one_changed_byte_in_the_inrelease_is_a_bad_signature(tmp_path: Path, capsys) -> None:
    tampered = _updates_inrelease().replace(b"\nLabel: Debian\n", b"\nLabel: Debiam\n", 1)
    assert len(tampered) == len(_updates_inrelease()) and tampered != _updates_inrelease()
    archive_url = _make_archive(tmp_path / "debian", UPDATES, tampered, _updates_packages_xz())
    out_dir = _empty_out_dir(tmp_path)
    code, stderr = _fetch(capsys, archive_url, UPDATES, out_dir, "--now", str(UPDATES_DATE + 3600))
    _assert_refused(code, stderr, out_dir, archive_url, UPDATES, "bad signature", "altered after Debian signed it")


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda data: data[:100] + bytes([data[100] ^ 0xFF]) + data[101:], "has sha256 "),
        (lambda data: data[:-1], f"is {6924 - 1} bytes but the signed Release file says 6924 bytes"),
    ],
    ids=["one-byte-changed", "truncated"],
)
def test_a_packages_xz_that_differs_from_the_release_is_refused(tmp_path: Path, capsys, edit, message: str) -> None:
    archive_url = _make_archive(tmp_path / "debian", UPDATES, _updates_inrelease(), edit(_updates_packages_xz()))
    out_dir = _empty_out_dir(tmp_path)
    code, stderr = _fetch(capsys, archive_url, UPDATES, out_dir, "--now", str(UPDATES_DATE + 3600))
    _assert_refused(code, stderr, out_dir, archive_url, UPDATES, PACKAGES_XZ_PATH, message)


def test_a_release_past_valid_until_is_refused(tmp_path: Path, capsys) -> None:
    # Refused before any index is downloaded, so the archive needs no Packages.xz.
    archive_url = _make_archive(tmp_path / "debian-security", SECURITY, _fixture("bookworm-security.InRelease"))
    out_dir = _empty_out_dir(tmp_path)
    code, stderr = _fetch(capsys, archive_url, SECURITY, out_dir, "--now", str(SECURITY_VALID_UNTIL + 1))
    _assert_refused(
        code, stderr, out_dir, archive_url, SECURITY, "Valid-Until", "expired on Sat, 28 Nov 2026 00:53:02 UTC"
    )


def test_a_missing_suite_names_the_url_and_the_suite(tmp_path: Path, capsys) -> None:
    archive_url = _make_archive(tmp_path / "debian", UPDATES, _updates_inrelease(), _updates_packages_xz())
    out_dir = _empty_out_dir(tmp_path)
    code, stderr = _fetch(capsys, archive_url, "bookworm-nonesuch", out_dir, "--now", str(UPDATES_DATE + 3600))
    _assert_refused(
        code,
        stderr,
        out_dir,
        archive_url,
        "bookworm-nonesuch",
        f"could not download {archive_url}/dists/bookworm-nonesuch/InRelease: No such file or directory. ",
        "The archive has no suite bookworm-nonesuch",
    )


def test_an_index_the_mirror_lacks_is_a_download_error(tmp_path: Path, capsys) -> None:
    archive_url = _make_archive(tmp_path / "debian", UPDATES, _updates_inrelease(), packages_xz=None)
    out_dir = _empty_out_dir(tmp_path)
    code, stderr = _fetch(capsys, archive_url, UPDATES, out_dir, "--now", str(UPDATES_DATE + 3600))
    _assert_refused(
        code,
        stderr,
        out_dir,
        archive_url,
        UPDATES,
        f"could not download {archive_url}/dists/{UPDATES}/{PACKAGES_XZ_PATH}: ",
        "mid-sync",
    )


def test_an_architecture_the_suite_lacks_is_refused_before_downloading(tmp_path: Path, capsys) -> None:
    archive_url = _make_archive(tmp_path / "debian", UPDATES, _updates_inrelease(), _updates_packages_xz())
    out_dir = _empty_out_dir(tmp_path)
    code = fetch_index.main([archive_url, UPDATES, "riscv64", str(out_dir), "--now", str(UPDATES_DATE + 3600)])
    _assert_refused(
        code, capsys.readouterr().err, out_dir, archive_url, UPDATES, "does not list main/binary-riscv64/Packages.xz"
    )


# --- Unsigned archives (--unsigned) -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tamper",
    [
        lambda inrelease: inrelease.replace(b"\nLabel: Debian\n", b"\nLabel: Debiam\n", 1),
        _tamper_signature_packet,
    ],
    ids=["signed-text-changed", "signature-changed"],
)
def test_unsigned_accepts_a_tampered_signature(tmp_path: Path, capsys, tamper) -> None:
    tampered = tamper(_updates_inrelease())
    archive_url = _make_archive(tmp_path / "debian", UPDATES, tampered, _updates_packages_xz())
    # The same file is refused when verified: the tampering is real.
    refused_out_dir = _empty_out_dir(tmp_path)
    code, stderr = _fetch(capsys, archive_url, UPDATES, refused_out_dir, "--now", str(UPDATES_DATE + 3600))
    _assert_refused(code, stderr, refused_out_dir, archive_url, UPDATES, "bad signature")

    out_dir = tmp_path / "unsigned-out"
    # No --now: without signature checks the time does not matter.
    assert _fetch(capsys, archive_url, UPDATES, out_dir, "--unsigned") == (0, "")
    assert _assert_fetched(out_dir) == {
        "archive": archive_url,
        "suite": UPDATES,
        "date": UPDATES_DATE,
        "valid_until": None,
        "signed_by": [],
        "verified": False,
    }


def test_unsigned_reads_a_plain_release_file(tmp_path: Path, capsys) -> None:
    packages_xz = _updates_packages_xz()
    release = (
        "Origin: Private\n"
        "Suite: internal\n"
        "Date: Sat, 21 Nov 2026 02:10:46 UTC\n"
        "Valid-Until: Sat, 21 Nov 2026 03:10:46 UTC\n"  # Long past by --now: not checked when unsigned.
        "Architectures: amd64\n"
        "Components: main\n"
        "SHA256:\n"
        f" {hashlib.sha256(packages_xz).hexdigest()} {len(packages_xz)} {PACKAGES_XZ_PATH}\n"
    ).encode()
    archive_url = _make_archive(tmp_path / "private", "internal", release, packages_xz)
    out_dir = tmp_path / "out"
    code, stderr = _fetch(
        capsys, archive_url, "internal", out_dir, "--unsigned", "--now", str(UPDATES_DATE + 365 * 86400)
    )
    assert (code, stderr) == (0, "")
    assert _assert_fetched(out_dir) == {
        "archive": archive_url,
        "suite": "internal",
        "date": UPDATES_DATE,
        "valid_until": UPDATES_DATE + 3600,
        "signed_by": [],
        "verified": False,
    }


def test_unsigned_still_rejects_a_hash_mismatch(tmp_path: Path, capsys) -> None:
    packages_xz = bytearray(_updates_packages_xz())
    packages_xz[-10] ^= 0x01
    archive_url = _make_archive(tmp_path / "debian", UPDATES, _updates_inrelease(), bytes(packages_xz))
    out_dir = _empty_out_dir(tmp_path)
    code, stderr = _fetch(capsys, archive_url, UPDATES, out_dir, "--unsigned")
    _assert_refused(code, stderr, out_dir, archive_url, UPDATES, f"{PACKAGES_XZ_PATH} has sha256 ")


def test_unsigned_refuses_a_broken_clearsigned_file(tmp_path: Path, capsys) -> None:
    broken = _updates_inrelease().replace(b"-----END PGP SIGNATURE-----", b"")
    archive_url = _make_archive(tmp_path / "debian", UPDATES, broken, _updates_packages_xz())
    out_dir = _empty_out_dir(tmp_path)
    code, stderr = _fetch(capsys, archive_url, UPDATES, out_dir, "--unsigned")
    _assert_refused(code, stderr, out_dir, archive_url, UPDATES, "malformed InRelease file")


# --- Over HTTP ----------------------------------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:
        pass  # Keep pytest's output to the test's own.


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        pass  # A client that stops reading (a refused download) is expected: no traceback in the test's stderr.


@pytest.fixture
def http_root(tmp_path: Path, monkeypatch) -> Iterator[Tuple[Path, str]]:
    """A directory served over loopback HTTP, and its URL."""
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)  # urllib would send even a loopback request to a proxy.
    root = tmp_path / "http"
    root.mkdir()
    with serving(_QuietServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))) as url:
        yield root, url


def test_a_verified_fetch_over_http(http_root: Tuple[Path, str], tmp_path: Path, capsys) -> None:
    root, url = http_root
    _make_archive(root / "debian", UPDATES, _updates_inrelease(), _updates_packages_xz())
    out_dir = tmp_path / "out"
    assert _fetch(capsys, f"{url}/debian", UPDATES, out_dir, "--now", str(UPDATES_DATE + 3600)) == (0, "")
    assert _assert_fetched(out_dir)["signed_by"] == UPDATES_SIGNERS


def test_http_404_means_the_archive_has_no_such_suite(http_root: Tuple[Path, str], tmp_path: Path, capsys) -> None:
    root, url = http_root
    _make_archive(root / "debian", UPDATES, _updates_inrelease(), _updates_packages_xz())
    archive_url = f"{url}/debian"
    out_dir = _empty_out_dir(tmp_path)
    code, stderr = _fetch(capsys, archive_url, "bookworm-nonesuch", out_dir)
    _assert_refused(
        code,
        stderr,
        out_dir,
        archive_url,
        "bookworm-nonesuch",
        f"could not download {archive_url}/dists/bookworm-nonesuch/InRelease: HTTP 404 ",
        "The archive has no suite bookworm-nonesuch: check the suite and [debian].archive_url",
    )


def test_a_server_that_does_not_answer_is_a_download_error(tmp_path: Path, capsys) -> None:
    archive_url = "http://127.0.0.1:1/debian"  # Port 1 (tcpmux) is closed: the connection is refused.
    out_dir = _empty_out_dir(tmp_path)
    code, stderr = _fetch(capsys, archive_url, UPDATES, out_dir)
    _assert_refused(
        code,
        stderr,
        out_dir,
        archive_url,
        UPDATES,
        f"could not download {archive_url}/dists/",
        "Check the network and [debian].archive_url, or retry later",
    )


class _StreamingHandler(http.server.BaseHTTPRequestHandler):
    """Answers every GET with 20 MB of InRelease-looking junk in 1 MB chunks and no Content-Length (a mirror that
    streams, or lies by leaving it out), counting what it managed to send."""

    sent: List[int] = []

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        chunk = b"-----BEGIN PGP SIGNED MESSAGE-----\n" + b"A" * (1024 * 1024 - 36) + b"\n"
        try:
            for _ in range(20):
                self.wfile.write(chunk)
                self.sent.append(len(chunk))
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args) -> None:
        pass


def _serve(handler) -> Iterator[str]:
    with serving(_QuietServer(("127.0.0.1", 0), handler)) as url:
        yield url


def _assert_20_mb_refused_quickly(capsys, archive_url: str, tmp_path: Path) -> str:
    out_dir = _empty_out_dir(tmp_path)
    start = time.monotonic()
    code, stderr = _fetch(capsys, archive_url, UPDATES, out_dir, "--now", str(UPDATES_DATE + 3600))
    elapsed = time.monotonic() - start
    _assert_refused(code, stderr, out_dir, archive_url, UPDATES, f"more than the {10 * 1024 * 1024} bytes expected")
    assert "No Debian InRelease file is that large" in stderr
    assert elapsed < 5 and len(stderr) < 2000, (elapsed, len(stderr))
    return stderr


def test_a_20_mb_inrelease_with_its_length_is_refused_within_seconds(
    http_root: Tuple[Path, str], tmp_path: Path, capsys
) -> None:
    root, url = http_root
    junk = _updates_inrelease() + b"A" * (20 * 1024 * 1024)
    _make_archive(root / "debian", UPDATES, junk, _updates_packages_xz())
    assert "(Content-Length: " in _assert_20_mb_refused_quickly(capsys, f"{url}/debian", tmp_path)


def test_a_20_mb_inrelease_without_a_length_is_refused_after_10_mb(tmp_path: Path, capsys, monkeypatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    _StreamingHandler.sent = []
    for url in _serve(_StreamingHandler):
        _assert_20_mb_refused_quickly(capsys, f"{url}/debian", tmp_path)
    assert sum(_StreamingHandler.sent) < 20 * 1024 * 1024, "the download stopped before the end"


def test_a_packages_xz_larger_than_listed_is_not_read_past_its_size(tmp_path: Path, capsys) -> None:
    archive_url = _make_archive(tmp_path / "debian", UPDATES, _updates_inrelease(), _updates_packages_xz() + b"x")
    out_dir = _empty_out_dir(tmp_path)
    code, stderr = _fetch(capsys, archive_url, UPDATES, out_dir, "--now", str(UPDATES_DATE + 3600))
    _assert_refused(code, stderr, out_dir, archive_url, UPDATES, "Packages.xz has more than the", "bytes expected")


def test_max_age_refuses_a_release_without_valid_until_that_is_too_old(tmp_path: Path, capsys) -> None:
    archive_url = _make_archive(tmp_path / "debian", UPDATES, _updates_inrelease(), _updates_packages_xz())
    week, day = str(7 * 86400), 86400
    out_dir = _empty_out_dir(tmp_path)
    code, stderr = _fetch(
        capsys, archive_url, UPDATES, out_dir, "--now", str(UPDATES_DATE + 8 * day), "--max-age", week
    )
    _assert_refused(
        code,
        stderr,
        out_dir,
        archive_url,
        UPDATES,
        "the Release file is dated Sat, 21 Nov 2026 02:10:46 UTC, 8 days before",
        "older than [debian].max_release_age (7 days)",
        "raise [debian].max_release_age",
    )
    fresh = _fetch(
        capsys, archive_url, UPDATES, tmp_path / "ok", "--now", str(UPDATES_DATE + 6 * day), "--max-age", week
    )
    assert fresh == (0, "")


def test_release_only_writes_the_inrelease_and_downloads_no_packages(tmp_path: Path, capsys) -> None:
    # No Packages.xz in the archive: a download of it would fail the run.
    archive_url = _make_archive(tmp_path / "debian", UPDATES, _updates_inrelease())
    out_dir = tmp_path / "release"
    assert _fetch(capsys, archive_url, UPDATES, out_dir, "--now", str(UPDATES_DATE + 3600), "--release-only") == (0, "")
    assert sorted(p.name for p in out_dir.iterdir()) == ["InRelease", "release.json"]
    assert (out_dir / "InRelease").read_bytes() == _updates_inrelease()
    record = json.loads((out_dir / "release.json").read_text())
    assert (record["date"], record["valid_until"], record["signed_by"]) == (UPDATES_DATE, None, UPDATES_SIGNERS)

    # The second step reads that InRelease, not the mirror's current one, and checks it again.
    (tmp_path / "debian" / "dists" / UPDATES / "InRelease").write_bytes(b"changed since")
    (tmp_path / "debian" / "dists" / UPDATES / PACKAGES_XZ_PATH).write_bytes(_updates_packages_xz())
    inrelease = str(out_dir / "InRelease")
    fetched = tmp_path / "out"
    assert _fetch(
        capsys, archive_url, UPDATES, fetched, "--now", str(UPDATES_DATE + 3600), "--inrelease", inrelease
    ) == (0, "")
    assert _assert_fetched(fetched)["date"] == UPDATES_DATE
    (out_dir / "InRelease").write_bytes(_tamper_signature_packet(_updates_inrelease()))
    refused_dir = tmp_path / "refused"
    code, stderr = _fetch(capsys, archive_url, UPDATES, refused_dir, "--inrelease", inrelease)
    assert code == fetch_index.EXIT_VERIFICATION_FAILED and "signature does not verify" in stderr
    assert not refused_dir.exists()


# --- As the rule runs it ------------------------------------------------------------------------------------------


def _sandbox(tmp_path: Path) -> Path:
    """A directory laid out as the rule's sandbox: only the files the seam ships, so a missing one fails the test."""
    sandbox = tmp_path / "sandbox"
    for shipped in shipped_files(FETCH_INDEX):
        (sandbox / shipped.path).parent.mkdir(parents=True, exist_ok=True)
        (sandbox / shipped.path).write_bytes(shipped.content)
    return sandbox


def _run_module(sandbox: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # Import pants_oci from the sandbox only.
    # As base_rules.py runs it: -s keeps the user site-packages out, as in a sandbox.
    return subprocess.run(
        [sys.executable, "-s", "-m", "pants_oci.debian.fetch_index", *args],
        cwd=sandbox,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_runs_as_a_module_in_a_sandbox(tmp_path: Path) -> None:
    sandbox = _sandbox(tmp_path)
    archive_url = _make_archive(tmp_path / "debian", UPDATES, _updates_inrelease(), _updates_packages_xz())
    now = str(UPDATES_DATE + 3600)

    ok = _run_module(sandbox, archive_url, UPDATES, "amd64", "out", "--now", now)
    assert (ok.returncode, ok.stderr) == (0, "")
    assert _assert_fetched(sandbox / "out")["verified"] is True

    refused = _run_module(sandbox, archive_url, "bookworm-nonesuch", "amd64", "refused-out", "--now", now)
    assert refused.returncode == fetch_index.EXIT_VERIFICATION_FAILED
    assert refused.stderr.count("\n") == 1 and "The archive has no suite bookworm-nonesuch" in refused.stderr
    assert not (sandbox / "refused-out").exists()

    # A usage error is the rule's bug, not the archive's: it must not look like a verification failure.
    misused = _run_module(sandbox, archive_url, UPDATES)
    assert misused.returncode == EXIT_USAGE
    assert "the following arguments are required: arch, out_dir" in misused.stderr
