"""The Debian archive keys this plugin trusts, pinned by primary key fingerprint.

The public keys ship next to this module as one binary keyring, `debian-archive-keyring.pgp`: the concatenation of
the per-release keyrings of the `debian-archive-keyring` package (version 2023.3+deb12u2), in this order:

    cd /usr/share/keyrings && cat \\
        debian-archive-bullseye-automatic.gpg debian-archive-bullseye-security-automatic.gpg \\
        debian-archive-bullseye-stable.gpg \\
        debian-archive-bookworm-automatic.gpg debian-archive-bookworm-security-automatic.gpg \\
        debian-archive-bookworm-stable.gpg \\
        debian-archive-trixie-automatic.gpg debian-archive-trixie-security-automatic.gpg \\
        debian-archive-trixie-stable.gpg > debian-archive-keyring.pgp

Only the keys listed in TRUSTED_FINGERPRINTS are used, whatever else the file holds, and loading fails if one of
them is missing: the pin, not the file, decides what is trusted.

Updating when Debian rotates its keys (a new release adds an automatic signing key, a security archive automatic
signing key and a stable release key; the keys of a release two releases back stop signing):

1. Install the `debian-archive-keyring` package of the new release (or unpack its .deb) and take the new
   release's three `debian-archive-<codename>-{automatic,security-automatic,stable}.gpg` files.
2. Check each new primary key fingerprint (`gpg --show-keys --with-colons FILE`) against the list Debian publishes
   at https://ftp-master.debian.org/keys.html, and against a second source (the release announcement, or the
   package of another Debian machine).
3. Add the fingerprints to TRUSTED_FINGERPRINTS below with their user IDs as comments, append the files to
   `debian-archive-keyring.pgp` (the command above, extended), and drop the keys of releases the plugin no longer
   locks against. keyring_test.py checks that the file holds exactly the pinned keys.
"""
import functools
import pkgutil
from typing import Tuple

from pants_oci.openpgp.openpgp import NO_TRUSTED_KEY, Keyring, SignatureError, load_keyring

KEYRING_RESOURCE = "debian-archive-keyring.pgp"

TRUSTED_FINGERPRINTS: Tuple[str, ...] = (
    # Debian 11 (bullseye). Still signs: bookworm's Release files were signed by both generations of keys.
    # Debian Archive Automatic Signing Key (11/bullseye) <ftpmaster@debian.org>
    "1F89983E0081FDE018F3CC9673A4F27B8DD47936",
    # Debian Security Archive Automatic Signing Key (11/bullseye) <ftpmaster@debian.org>
    "AC530D520F2F3269F5E98313A48449044AAD5C5D",
    # Debian Stable Release Key (11/bullseye) <debian-release@lists.debian.org>
    "A4285295FC7B1A81600062A9605C66F00D6C9793",
    # Debian 12 (bookworm).
    # Debian Archive Automatic Signing Key (12/bookworm) <ftpmaster@debian.org>
    "B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8",
    # Debian Security Archive Automatic Signing Key (12/bookworm) <ftpmaster@debian.org>
    "05AB90340C0C5E797F44A8C8254CF3B5AEC0A8F0",
    # Debian Stable Release Key (12/bookworm) <debian-release@lists.debian.org>
    "4D64FEC119C2029067D6E791F8D2585B8783D481",
    # Debian 13 (trixie).
    # Debian Archive Automatic Signing Key (13/trixie) <ftpmaster@debian.org>
    "04B54C3CDCA79751B16BC6B5225629DF75B188BD",
    # Debian Security Archive Automatic Signing Key (13/trixie) <ftpmaster@debian.org>
    "5E04A1E3223A19A20706E20F9904613D4CCE68C6",
    # Debian Stable Release Key (13/trixie) <debian-release@lists.debian.org>
    "41587F7DB8C774BCCF131416762F67A0B2C39DE4",
)


def load_pinned_keyring(data: bytes) -> Keyring:
    """The keyring restricted to the pinned primary keys (and their validly bound subkeys).

    Raises SignatureError if a pinned key is missing from `data` or unusable, so a damaged or outdated keyring
    file fails loudly instead of silently trusting fewer keys.
    """
    keyring = load_keyring(data).restricted_to(TRUSTED_FINGERPRINTS)
    missing = [f for f in TRUSTED_FINGERPRINTS if f not in keyring.fingerprints]
    if missing:
        # A pinned key present but unusable (say, a damaged self-signature) is listed with the reason.
        reasons = [f"{r.fingerprint}: {r.reason}" for r in keyring.rejected if r.fingerprint in missing]
        raise SignatureError(
            NO_TRUSTED_KEY,
            f"the pinned Debian archive keyring lacks usable keys for {', '.join(missing)}"
            + (f" ({'; '.join(reasons)})" if reasons else "")
            + f": rebuild {KEYRING_RESOURCE} as the docstring of pants_oci/debian/keyring.py says",
        )
    return keyring


# Loading checks every self-signature (tens of milliseconds); the result is immutable, so load it once.
@functools.lru_cache(maxsize=None)
def pinned_keyring() -> Keyring:
    """The keyring shipped in the plugin, read as a package resource."""
    data = pkgutil.get_data("pants_oci.debian", KEYRING_RESOURCE)
    if data is None:
        raise SignatureError(NO_TRUSTED_KEY, f"the plugin's {KEYRING_RESOURCE} resource is missing")
    return load_pinned_keyring(data)
