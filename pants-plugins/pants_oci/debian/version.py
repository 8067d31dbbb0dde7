"""Debian version ordering, exactly as `dpkg --compare-versions` orders versions.

A version is `[epoch:]upstream[-revision]`. Epochs compare as integers (missing = 0); then the upstream parts and
then the revisions (missing = "") compare with dpkg's `verrevcmp`: alternating runs of non-digits and digits, the
non-digit runs character by character with `~` before everything (even the end of the string) and letters before
all other characters, the digit runs as integers. The code follows dpkg's lib/dpkg/version.c and parsehelp.c so the
lock generator picks the same "newest" version apt would install.
"""
import functools
from dataclasses import dataclass
from typing import Tuple

# dpkg keeps epochs in a C int.
_MAX_EPOCH = 2**31 - 1


@dataclass(frozen=True)
class DebianVersion:
    epoch: int
    upstream: str
    revision: str


def parse_version(version: str) -> DebianVersion:
    """Split a version into epoch, upstream and revision; ValueError where dpkg reports a syntax error.

    Like dpkg, blanks around the version are ignored and only its hard errors are errors: dpkg merely warns about a
    version that does not start with a digit or uses unusual characters, and still orders it.
    """
    text = version.strip(" \t")
    if not text:
        raise ValueError(f"version {version!r} has bad syntax: version string is empty")
    if " " in text or "\t" in text:
        raise ValueError(f"version {version!r} has bad syntax: version string has embedded spaces")
    epoch, rest = _split_epoch(version, text)
    # The revision starts after the LAST hyphen, so upstream versions may contain hyphens.
    upstream, hyphen, revision = rest.rpartition("-")
    if not hyphen:
        upstream, revision = rest, ""
    elif not revision:
        raise ValueError(f"version {version!r} has bad syntax: revision number is empty")
    if not upstream:
        raise ValueError(f"version {version!r} has bad syntax: version number is empty")
    return DebianVersion(epoch, upstream, revision)


def _split_epoch(version: str, text: str) -> Tuple[int, str]:
    # The epoch ends at the FIRST colon; later colons belong to the upstream version.
    epoch_text, colon, rest = text.partition(":")
    if not colon:
        return 0, text
    if not epoch_text:
        raise ValueError(f"version {version!r} has bad syntax: epoch in version is empty")
    if not epoch_text.isascii() or not epoch_text.isdigit():
        raise ValueError(f"version {version!r} has bad syntax: epoch in version is not number")
    epoch = int(epoch_text)
    if epoch > _MAX_EPOCH:
        raise ValueError(f"version {version!r} has bad syntax: epoch in version is too big")
    if not rest:
        raise ValueError(f"version {version!r} has bad syntax: nothing after colon in version number")
    return epoch, rest


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as version `a` sorts before, equal to or after version `b` (dpkg's order)."""
    left, right = parse_version(a), parse_version(b)
    if left.epoch != right.epoch:
        return -1 if left.epoch < right.epoch else 1
    result = _verrevcmp(left.upstream, right.upstream) or _verrevcmp(left.revision, right.revision)
    return (result > 0) - (result < 0)


def _order(char: str) -> int:
    """The weight of one character of a non-digit run; "" is the end of the string."""
    if char == "~":
        return -1  # Before everything, the end of the string included: 1.0~rc1 < 1.0.
    if not char or _is_digit(char):
        return 0
    if _is_letter(char):
        return ord(char)
    return ord(char) + 256  # Every non-letter sorts after every letter.


def _is_digit(char: str) -> bool:
    return "0" <= char <= "9"


def _is_letter(char: str) -> bool:
    # ASCII only: dpkg uses its locale-independent c_isalpha.
    return "a" <= char <= "z" or "A" <= char <= "Z"


def _verrevcmp(a: str, b: str) -> int:
    """dpkg's verrevcmp: negative, zero or positive like strcmp."""
    i = j = 0
    while i < len(a) or j < len(b):
        # A non-digit run, character by character (an exhausted string weighs 0, like C's NUL).
        while (i < len(a) and not _is_digit(a[i])) or (j < len(b) and not _is_digit(b[j])):
            difference = _order(a[i : i + 1]) - _order(b[j : j + 1])
            if difference:
                return difference
            i += 1
            j += 1
        # A digit run, compared as an integer (an empty run is 0).
        i_end, j_end = _digit_run_end(a, i), _digit_run_end(b, j)
        difference = int(a[i:i_end] or "0") - int(b[j:j_end] or "0")
        if difference:
            return difference
        i, j = i_end, j_end
    return 0


def _digit_run_end(text: str, start: int) -> int:
    end = start
    while end < len(text) and _is_digit(text[end]):
        end += 1
    return end


# For sorted(), min() and max(): `max(versions, key=version_key)` is the version apt would call newest.
version_key = functools.cmp_to_key(compare_versions)
