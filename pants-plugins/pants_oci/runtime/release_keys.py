"""The OpenPGP keys of CPython's release managers, pinned by fingerprint, for verifying source tarballs. Pure.

Each minor version's releases are signed by one release manager (python.org's download pages list them, and the
official image's Dockerfiles pin the same fingerprints in GPG_KEY). The key material is in
`cpython-release-keys.asc`; a certificate there counts only if its primary key's fingerprint is listed here, and
a version is checked only against its own release manager's key.

Where the key material came from (2026-11-22): each certificate is the merge of the copies in Debian's python3.13
source package (`debian/upstream/signing-key.asc`), pypa/manylinux (`docker/build_scripts/cpython-pubkey-*.txt`,
`ambv-pubkey.txt`) and joshjhall/containers (`lib/gpg-keys/python/keys/`, with renewed self-signatures), exported
with `gpg --export --armor --export-options export-minimal`. Thomas Wouters's key verified the 3.13.5 tarball's
signature with gpg (and with this plugin); Pablo Galindo Salgado's signs with its subkey CFDCA245...D847. Keys are
judged at each signature's creation time, so a release signed while its key was valid stays verifiable.

From 3.14 on, releases are signed with Sigstore instead of OpenPGP (PEP 761): no key here, so those versions build
on their sha256 pin, and the SBOM says so.
"""
import pkgutil
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class ReleaseManager:
    name: str
    fingerprint: str


LUKASZ_LANGA = ReleaseManager("Łukasz Langa", "E3FF2839C048B25C084DEBE9B26995E310250568")
PABLO_GALINDO_SALGADO = ReleaseManager("Pablo Galindo Salgado", "A035C8C19219BA821ECEA86B64E628F8D684696D")
THOMAS_WOUTERS = ReleaseManager("Thomas Wouters", "7169605F62C751356D054A26A821E680E5FA6305")

RELEASE_MANAGERS = {
    "3.8": LUKASZ_LANGA,
    "3.9": LUKASZ_LANGA,
    "3.10": PABLO_GALINDO_SALGADO,
    "3.11": PABLO_GALINDO_SALGADO,
    "3.12": THOMAS_WOUTERS,
    "3.13": THOMAS_WOUTERS,
}

KEYRING_FILE = "cpython-release-keys.asc"


def release_manager(major_minor: str) -> Optional[ReleaseManager]:
    return RELEASE_MANAGERS.get(major_minor)


def keyring_bytes() -> bytes:
    data = pkgutil.get_data(__name__.rsplit(".", 1)[0], KEYRING_FILE)
    assert data is not None, f"{KEYRING_FILE} is missing from the plugin"
    return data
