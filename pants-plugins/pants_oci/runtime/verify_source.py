"""Verify a CPython source tarball's OpenPGP signature, as a script run in a sandboxed, cacheable process.

    python -m pants_oci.runtime.verify_source TARBALL MAJOR_MINOR SIGNATURE_URL...

Fetches the first reachable signature (`.asc`) of the URLs, in order (http(s):// or file://), and checks it over
the tarball's bytes against the release manager key that signs MAJOR_MINOR's releases (release_keys.py): the
key's expiry judged at the signature's creation time, the signature's own expiry and creation time at the current
time (read here, not passed in, so the process stays cacheable: a tarball verified once stays verified). Prints
one JSON line: {"signer": fingerprint, "name": ..., "signed_at": epoch, "url": where the signature came from}.

Exit codes, so that only a verified tarball is ever cached (Pants caches only exit 0):
0 verified; 2 the signature does not verify or is not the release manager's (one line on stderr: the tarball or
the signature was altered, or the pin names another file); 3 no signature was reachable (one line on stderr listing
each URL's error: the rule builds on the sha256 pin alone and says so); 1 a bad command line (a bug in the rule).
"""
import json
import sys
import time
import urllib.request
from typing import List, Optional, Tuple

from pants_oci.openpgp.openpgp import SignatureError, load_keyring, verify_detached
from pants_oci.runtime.release_keys import keyring_bytes, release_manager

EXIT_OK, EXIT_USAGE, EXIT_BAD_SIGNATURE, EXIT_NO_SIGNATURE = 0, 1, 2, 3
# A signature file is a few hundred bytes; anything much larger is not one.
MAX_SIGNATURE_BYTES = 64 * 1024


def fetch_first(urls: List[str]) -> Tuple[Optional[bytes], Optional[str], List[str]]:
    """(signature bytes, its URL, errors of the URLs tried before it); (None, None, errors) if none answered."""
    errors = []
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                data = response.read(MAX_SIGNATURE_BYTES + 1)
        except (OSError, ValueError) as e:
            errors.append(f"{url}: {e}")
            continue
        if len(data) > MAX_SIGNATURE_BYTES:
            errors.append(f"{url}: more than {MAX_SIGNATURE_BYTES} bytes, not a signature")
            continue
        return data, url, errors
    return None, None, errors


def main(argv: List[str]) -> int:
    if len(argv) < 3:
        print("usage: python -m pants_oci.runtime.verify_source TARBALL MAJOR_MINOR SIGNATURE_URL...", file=sys.stderr)
        return EXIT_USAGE
    tarball_path, major_minor, urls = argv[0], argv[1], argv[2:]
    manager = release_manager(major_minor)
    if manager is None:
        print(f"no OpenPGP release manager key is known for CPython {major_minor}", file=sys.stderr)
        return EXIT_NO_SIGNATURE
    signature, url, errors = fetch_first(urls)
    if signature is None:
        print("no signature was reachable: " + "; ".join(errors), file=sys.stderr)
        return EXIT_NO_SIGNATURE
    with open(tarball_path, "rb") as f:
        data = f.read()
    keyring = load_keyring(keyring_bytes()).restricted_to([manager.fingerprint])
    try:
        verified = verify_detached(data, signature, keyring, now=int(time.time()))
    except SignatureError as e:
        print(
            f"the signature {url} does not verify against {manager.name}'s key {manager.fingerprint} "
            f"({e.reason}): {' '.join(str(e).split())}",
            file=sys.stderr,
        )
        return EXIT_BAD_SIGNATURE
    print(
        json.dumps(
            {
                "signer": verified.signer_fingerprints[0],
                "name": manager.name,
                "signed_at": verified.signed_at[0],
                "url": url,
            },
            sort_keys=True,
        )
    )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
