"""Runs in a sandboxed process during lock generation: fetch a suite's Packages index the way apt trusts it.

    python -m pants_oci.debian.fetch_index ARCHIVE_URL SUITE ARCH OUT_DIR [--now SECONDS] [--unsigned]
        [--max-age SECONDS] [--release-only | --inrelease FILE]

1. Download ARCHIVE_URL/dists/SUITE/InRelease (at most 10 MB, apt's limit, read no further) and verify its
   signature (against the pinned Debian keyring), its suite, Date and Valid-Until, or without Valid-Until its age
   against `--max-age` (release.verify_inrelease). `--unsigned`, for private mirrors that do not sign, skips those
   checks and reads the Release text as it is. `--inrelease FILE` takes the InRelease from FILE instead (what an
   earlier `--release-only` run wrote), and checks it all the same.
2. With `--release-only`, write OUT_DIR/InRelease and OUT_DIR/release.json and stop: the rule compares the
   Release dates with the lock's before any Packages file is downloaded.
3. Otherwise download main/binary-ARCH/Packages.xz (no more bytes than the Release file lists) and check its size
   and SHA256 against the Release file BEFORE decompressing it, so only bytes the Release file vouches for reach
   the xz decoder and the lock generator.
4. Write OUT_DIR/Packages (decompressed) and OUT_DIR/release.json (what was fetched and who signed it).

Exit status, the sandbox tools' protocol (exits.py): 0 on success. 2 when a download fails or the archive fails
verification: one line on stderr naming the archive, the suite, the cause and the fix, and nothing written to
OUT_DIR. 1 on bad usage (a bug in the rule); anything else is a crash (a bug). Lock generation is the one step that
reads the archive's moving index; builds read only the lock.

Standard library only, plus the plugin's pure modules that the rule ships next to this file.
"""
import argparse
import http.client
import json
import lzma
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from pants_oci.debian.keyring import pinned_keyring
from pants_oci.debian.release import (
    ArchiveVerificationError,
    Release,
    check_index,
    expected_index,
    parse_release,
    verify_inrelease,
)
from pants_oci.exits import EXIT_EXPLAINED, ToolArgumentParser
from pants_oci.openpgp.openpgp import MAX_CLEARSIGNED_BYTES, SignatureError, parse_clearsigned

EXIT_VERIFICATION_FAILED = EXIT_EXPLAINED
DOWNLOAD_TIMEOUT_SECONDS = 120  # per download, in total: a mirror trickling bytes cannot hold a lock run forever
MAX_INRELEASE_BYTES = MAX_CLEARSIGNED_BYTES  # apt's Acquire::MaxReleaseFileSize, 10 MB
_CHUNK_BYTES = 1024 * 1024

_ANOTHER_MIRROR = "use another mirror ([debian].archive_url)"
_CLEARSIGNED_HEADER = b"-----BEGIN PGP SIGNED MESSAGE-----"


def dists_url(archive: str, suite: str, path: str) -> str:
    """The URL of a file under the suite's dists/ directory; a trailing slash on the archive URL is tolerated."""
    return f"{archive.rstrip('/')}/dists/{suite}/{path}"


class _TooLarge(Exception):
    pass


def download(url: str, archive: str, suite: str, not_found_fix: str, limit: int, too_large_fix: str) -> bytes:
    """The bytes at `url` (http(s):// or file://), at most `limit` of them: a larger file is refused as soon as its
    Content-Length or its first `limit` + 1 bytes say so, without reading the rest. A download failure is an
    ArchiveVerificationError too, so the caller reports both the same way: one line, exit 2."""
    try:
        return _read_at_most(url, limit)
    except _TooLarge as e:
        raise ArchiveVerificationError(
            archive, suite, f"{url} has more than the {limit} bytes expected{e}", too_large_fix
        ) from None
    except (OSError, http.client.HTTPException, ValueError) as e:
        # OSError covers HTTPError, URLError, timeouts and file:// errors; HTTPException a connection cut
        # mid-body; ValueError a URL urllib cannot parse.
        fix = not_found_fix if _is_not_found(e) else "Check the network and [debian].archive_url, or retry later"
        raise ArchiveVerificationError(archive, suite, f"could not download {url}: {_reason(e)}", fix) from None


def _read_at_most(url: str, limit: int) -> bytes:
    deadline = time.monotonic() + DOWNLOAD_TIMEOUT_SECONDS
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:
        length = response.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise _TooLarge(f" (Content-Length: {length})")
        chunks: List[bytes] = []
        size = 0
        while size <= limit:
            chunk = response.read(min(_CHUNK_BYTES, limit + 1 - size))
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
            if time.monotonic() > deadline:
                raise TimeoutError(f"not complete after {DOWNLOAD_TIMEOUT_SECONDS} s")
        raise _TooLarge("")


def _is_not_found(error: Exception) -> bool:
    if isinstance(error, urllib.error.HTTPError):
        return error.code in (404, 410)
    # file:// URLs (tests, local copies of an archive) report a missing file as a URLError around the OSError.
    return isinstance(error, urllib.error.URLError) and isinstance(error.reason, FileNotFoundError)


def _reason(error: Exception) -> str:
    if isinstance(error, urllib.error.HTTPError):
        reason = f"HTTP {error.code} {error.reason}"
    elif isinstance(error, urllib.error.URLError):
        cause = error.reason
        reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(cause)
    else:
        reason = str(error) or type(error).__name__
    return " ".join(reason.split())  # The error is reported on one line.


def fetch_inrelease(archive: str, suite: str) -> bytes:
    url = dists_url(archive, suite, "InRelease")
    return download(
        url,
        archive,
        suite,
        f"The archive has no suite {suite}: check the suite and [debian].archive_url",
        MAX_INRELEASE_BYTES,
        f"No Debian InRelease file is that large (apt refuses them too): {_ANOTHER_MIRROR}",
    )


def read_release(
    inrelease: bytes, archive: str, suite: str, now: int, unsigned: bool, max_age: Optional[int] = None
) -> Release:
    if unsigned:
        return read_unsigned_release(inrelease, archive, suite)
    return verify_inrelease(inrelease, pinned_keyring(), now, archive, suite, max_age)


def read_unsigned_release(inrelease: bytes, archive: str, suite: str) -> Release:
    """The Release text of an archive the user chose not to verify: the signed body of a clearsigned file (its
    signature is not checked) or else the whole file as a plain Release. Its hashes are still checked."""
    if not inrelease.lstrip().startswith(_CLEARSIGNED_HEADER):
        return parse_release(inrelease, archive, suite)
    try:
        text = parse_clearsigned(inrelease).text
    except SignatureError as e:
        raise ArchiveVerificationError(
            archive,
            suite,
            f"malformed InRelease file: {e}",
            f"The mirror serves a broken InRelease file: {_ANOTHER_MIRROR}",
        ) from None
    return parse_release(text, archive, suite)


def fetch_packages_xz(release: Release, archive: str, suite: str, arch: str) -> bytes:
    """The suite's main Packages.xz for `arch`, checked against the Release file's SHA256 list."""
    path = f"main/binary-{arch}/Packages.xz"
    # Before downloading: an architecture the suite lacks gets the Release file's own explanation, not a 404.
    expected_index(release, path, archive, suite)
    url = dists_url(archive, suite, path)
    _, size = expected_index(release, path, archive, suite)
    data = download(
        url,
        archive,
        suite,
        f"The mirror lacks a file its Release file lists (mid-sync?): retry later " f"or {_ANOTHER_MIRROR}",
        size,
        f"The mirror serves a file that does not match its signed Release (mid-sync or tampered): retry later or "
        f"{_ANOTHER_MIRROR}",
    )
    check_index(release, path, data, archive, suite)
    return data


def decompress(packages_xz: bytes, arch: str, archive: str, suite: str) -> bytes:
    try:
        return lzma.decompress(packages_xz, format=lzma.FORMAT_XZ)
    except lzma.LZMAError as e:
        # Only reachable for bytes the Release file lists, so the archive itself publishes a broken file.
        raise ArchiveVerificationError(
            archive,
            suite,
            f"main/binary-{arch}/Packages.xz is not valid xz data: {e}",
            f"The archive publishes a broken index: {_ANOTHER_MIRROR}",
        ) from None


def release_record(release: Release, archive: str, suite: str, verified: bool) -> Dict[str, Any]:
    """What release.json records about the Release file the index was checked against."""
    return {
        "archive": archive,
        "suite": suite,
        "date": release.date,
        "valid_until": release.valid_until,
        "signed_by": list(release.signer_fingerprints),  # Empty when unsigned: nothing was verified.
        "verified": verified,
    }


def write_outputs(out_dir: Path, files: Dict[str, bytes], record: Dict[str, Any]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out_dir / name).write_bytes(data)
    (out_dir / "release.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def read_inrelease_file(path: Path, archive: str, suite: str) -> bytes:
    """The InRelease an earlier `--release-only` run wrote (within the same limit as a download)."""
    with open(path, "rb") as f:
        data = f.read(MAX_INRELEASE_BYTES + 1)
    if len(data) > MAX_INRELEASE_BYTES:
        raise ArchiveVerificationError(archive, suite, f"{path} is over {MAX_INRELEASE_BYTES} bytes")
    return data


@dataclass(frozen=True)
class FetchOptions:
    now: int
    unsigned: bool = False
    max_age: Optional[int] = None  # seconds; None: no limit for a Release file without Valid-Until
    release_only: bool = False
    inrelease: Optional[Path] = None  # read the InRelease from here instead of downloading it


def fetch(archive: str, suite: str, arch: str, out_dir: Path, options: FetchOptions) -> None:
    # Everything is downloaded and checked in memory first, so a failure leaves OUT_DIR untouched.
    if options.inrelease is not None:
        inrelease = read_inrelease_file(options.inrelease, archive, suite)
    else:
        inrelease = fetch_inrelease(archive, suite)
    release = read_release(inrelease, archive, suite, options.now, options.unsigned, options.max_age)
    record = release_record(release, archive, suite, verified=not options.unsigned)
    if options.release_only:
        write_outputs(out_dir, {"InRelease": inrelease}, record)
        return
    packages = decompress(fetch_packages_xz(release, archive, suite, arch), arch, archive, suite)
    write_outputs(out_dir, {"Packages": packages}, record)


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = ToolArgumentParser(
        prog="python -m pants_oci.debian.fetch_index",
        description="Fetch a Debian suite's Packages index, verified against its InRelease.",
    )
    parser.add_argument("archive_url", help="the archive's base URL (the directory holding dists/)")
    parser.add_argument("suite", help="e.g. bookworm, bookworm-updates, bookworm-security")
    parser.add_argument("arch", help="a Debian architecture, e.g. amd64")
    parser.add_argument("out_dir", type=Path, help="where to write Packages and release.json")
    parser.add_argument(
        "--now",
        type=int,
        default=None,
        help="check signatures and Valid-Until as of this time (epoch seconds) instead of now",
    )
    parser.add_argument(
        "--max-age",
        type=int,
        default=None,
        help="refuse a Release file without Valid-Until whose Date is more than this many seconds old",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--release-only",
        action="store_true",
        help="verify the InRelease and write it with release.json to OUT_DIR; download no Packages file",
    )
    mode.add_argument(
        "--inrelease", type=Path, default=None, help="read the InRelease from this file instead of downloading it"
    )
    parser.add_argument(
        "--unsigned",
        action="store_true",
        help="do not verify the InRelease signature or dates (private mirrors that do not sign); "
        "the index is still checked against the Release file's hashes",
    )
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    now = args.now if args.now is not None else int(time.time())
    options = FetchOptions(now, args.unsigned, args.max_age, args.release_only, args.inrelease)
    try:
        fetch(args.archive_url, args.suite, args.arch, args.out_dir, options)
    except ArchiveVerificationError as e:
        print(e, file=sys.stderr)
        return EXIT_VERIFICATION_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
