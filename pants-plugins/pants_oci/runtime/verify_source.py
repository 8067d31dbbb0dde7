"""Verify a CPython source tarball's OpenPGP signature, as a script run in a sandboxed, cacheable process.

    python -m pants_oci.runtime.verify_source TARBALL MAJOR_MINOR SIGNATURE_URL...

Fetches the first reachable signature (`.asc`) of the URLs, in order (http(s):// or file://), and checks it over
the tarball's bytes against the release manager key that signs MAJOR_MINOR's releases (release_keys.py): the
key's expiry judged at the signature's creation time, the signature's own expiry and creation time at the current
time (read here, not passed in, so the process stays cacheable: a tarball verified once stays verified). Prints
one JSON line: {"signer": fingerprint, "name": ..., "signed_at": epoch, "url": where the signature came from}.

Exit codes, the sandbox tools' protocol (exits.py), so that only a verified tarball is ever cached (Pants caches
only exit 0): 0 verified; 1 a bad command line (a bug in the rule); 2 not verified, explained in one line on stderr,
with one JSON line on stdout saying which problem it is, for the rule to tell an error from a warning:
{"problem": "bad-signature"}: the signature does not verify or is not the release manager's (the tarball or the
signature was altered, or the pin names another file); {"problem": "no-signature"}: no signature was reachable, or
no release manager key is known (the rule builds on the sha256 pin alone and says so).
"""
import json
import sys
import time
import urllib.request
from typing import List, Optional, Tuple

from pants_oci.exits import EXIT_OK, EXIT_USAGE, explained
from pants_oci.openpgp.openpgp import SignatureError, load_keyring, verify_detached
from pants_oci.runtime.release_keys import keyring_bytes, release_manager

# The problems of exit 2, as stdout names them.
BAD_SIGNATURE, NO_SIGNATURE = "bad-signature", "no-signature"
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


def unverified(problem: str, message: str) -> int:
    """Say which problem it is on stdout and explain it on stderr; exit 2."""
    print(json.dumps({"problem": problem}))
    return explained(message)


def main(argv: List[str]) -> int:
    if len(argv) < 3:
        print("usage: python -m pants_oci.runtime.verify_source TARBALL MAJOR_MINOR SIGNATURE_URL...", file=sys.stderr)
        return EXIT_USAGE
    tarball_path, major_minor, urls = argv[0], argv[1], argv[2:]
    manager = release_manager(major_minor)
    if manager is None:
        return unverified(NO_SIGNATURE, f"no OpenPGP release manager key is known for CPython {major_minor}")
    signature, url, errors = fetch_first(urls)
    if signature is None:
        return unverified(NO_SIGNATURE, "no signature was reachable: " + "; ".join(errors))
    with open(tarball_path, "rb") as f:
        data = f.read()
    keyring = load_keyring(keyring_bytes()).restricted_to([manager.fingerprint])
    try:
        verified = verify_detached(data, signature, keyring, now=int(time.time()))
    except SignatureError as e:
        return unverified(
            BAD_SIGNATURE,
            f"the signature {url} does not verify against {manager.name}'s key {manager.fingerprint} "
            f"({e.reason}): {e}",
        )
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
