#!/usr/bin/env python3
"""Fill a local CPython source mirror from Debian's source archive.

For machines that cannot reach python.org: Debian's source archive carries the upstream release tarballs
unchanged (`pythonX.Y_X.Y.Z.orig.tar.*`, byte-identical to python.org's `Python-X.Y.Z.*`). This script downloads
them from the Debian archive this machine's apt is configured with, checks each against the plugin's pinned sha256
and size, and stores it under python.org's file name, so the mirror works as a `file://` URL template:

    build-support/fill_cpython_mirror.py ~/.cache/cpython-mirror 3.13.5 3.11.2
    export PANTS_CPYTHON_BUILD_SOURCE_URL_TEMPLATES="['file://$HOME/.cache/cpython-mirror/{filename}']"

With no versions given it fetches every release in the plugin's table that the archive still has.
It never writes a tarball it has not verified, and it skips files already present and valid. Where the archive
keeps upstream's OpenPGP signature (`.asc`), it is stored next to the tarball for the plugin to verify.
"""
import argparse
import glob
import hashlib
import os
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import List

REPO_ROOT = Path(__file__).resolve().parent.parent
# The plugin's pure modules need only the standard library, so this script shares them instead of copying.
sys.path.insert(0, str(REPO_ROOT / "pants-plugins"))

from pants_oci.debian.apt_sources import APT_SOURCE_GLOBS, archive_uris  # noqa: E402
from pants_oci.runtime.known_versions import KNOWN_RELEASES  # noqa: E402


def machine_archives() -> List[str]:
    files = sorted({p for pattern in APT_SOURCE_GLOBS for p in glob.glob(pattern)})
    return archive_uris((path, Path(path).read_text(errors="replace")) for path in files)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_valid(path: Path, release) -> bool:
    return path.is_file() and path.stat().st_size == release.size and sha256_of(path) == release.sha256


def fetch_release(release, archives: List[str], mirror: Path) -> str:
    target = mirror / release.filename
    if is_valid(target, release):
        return f"{release.filename}: already present and valid"
    errors = []
    for archive in archives:
        url = f"{archive}/pool/main/p/python{release.major_minor}/{release.debian_orig_name}"
        with tempfile.NamedTemporaryFile(dir=mirror, prefix=".partial-", delete=False) as tmp:
            tmp_path = Path(tmp.name)
            try:
                with urllib.request.urlopen(url, timeout=120) as response:
                    for chunk in iter(lambda: response.read(1 << 20), b""):
                        tmp.write(chunk)
            except OSError as e:
                errors.append(f"{url}: {e}")
                tmp_path.unlink()
                continue
        if not is_valid(tmp_path, release):
            errors.append(
                f"{url}: sha256 {sha256_of(tmp_path)} / size {tmp_path.stat().st_size} != pinned "
                f"{release.sha256} / {release.size}"
            )
            tmp_path.unlink()
            continue
        os.replace(tmp_path, target)  # Atomic: readers never see a partial tarball.
        return f"{release.filename}: fetched and verified from {url}"
    raise RuntimeError(
        f"could not fetch {release.filename}:\n  " + "\n  ".join(errors or ["no Debian archive configured"])
    )


MAX_SIGNATURE_BYTES = 64 * 1024


def fetch_signature(release, archives: List[str], mirror: Path) -> str:
    """The release's OpenPGP signature (`.asc`), next to the tarball under python.org's name, where the archive
    has it (Debian keeps upstream's signature for some releases only). Not checked here: the plugin verifies it
    against the release manager's pinned key on every build that downloads the tarball."""
    target = mirror / (release.filename + ".asc")
    if target.is_file():
        return f"{target.name}: already present"
    for archive in archives:
        url = f"{archive}/pool/main/p/python{release.major_minor}/{release.debian_orig_name}.asc"
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                data = response.read(MAX_SIGNATURE_BYTES + 1)
        except OSError:
            continue
        if len(data) <= MAX_SIGNATURE_BYTES and data.lstrip().startswith(b"-----BEGIN PGP SIGNATURE-----"):
            tmp = mirror / f".partial-{target.name}"
            tmp.write_bytes(data)
            os.replace(tmp, target)
            return f"{target.name}: fetched from {url}"
    return f"{target.name}: the archive has no signature for this release (builds check the sha256 pin alone)"


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mirror", type=Path, help="directory to fill (created if missing)")
    parser.add_argument("versions", nargs="*", help="CPython versions to fetch (default: every pinned release)")
    parser.add_argument("--archive", action="append", help="Debian archive base URL (default: read from apt's sources)")
    args = parser.parse_args(argv)

    known = KNOWN_RELEASES
    unknown = [v for v in args.versions if v not in known]
    if unknown:
        parser.error(f"no pinned sha256 for {', '.join(unknown)}; pinned: {', '.join(known)}")
    archives = args.archive or machine_archives()
    if not archives:
        parser.error("no Debian archive found in /etc/apt/sources.list{,.d/}; pass --archive URL")
    args.mirror.mkdir(parents=True, exist_ok=True)
    failures = 0
    for version in args.versions or list(known):
        try:
            print(fetch_release(known[version], archives, args.mirror))
            print(fetch_signature(known[version], archives, args.mirror))
        except RuntimeError as e:
            failures += 1
            print(e, file=sys.stderr)
    # With no explicit versions, releases that have left the archive are expected; with explicit ones, not.
    return 1 if failures and (args.versions or failures == len(known)) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
