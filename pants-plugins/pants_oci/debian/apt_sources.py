"""Find the Debian (or Ubuntu) archives this machine's apt is configured with. Pure; no Pants imports.

The repository never names a mirror: where the plugin needs Debian's archive (CPython source tarballs, base
image packages) and no option names one, it reads the machine's own apt sources, in both formats:
one-line `deb URI suite components` (sources.list, *.list) and deb822 stanzas (*.sources).
"""
import re
from typing import Iterable, List, Tuple

# Archives that carry a distribution's main pool; security and third-party repositories don't.
_ARCHIVE_PATH_SUFFIXES = ("/debian", "/ubuntu")
# Debian's security archive, where `<suite>-security` (security fixes, published there first) lives.
_SECURITY_ARCHIVE_PATH_SUFFIXES = ("/debian-security",)
APT_SOURCE_GLOBS = ("/etc/apt/sources.list", "/etc/apt/sources.list.d/*.list", "/etc/apt/sources.list.d/*.sources")


def _deb822_uris(text: str) -> List[str]:
    uris = []
    for stanza in re.split(r"\n\s*\n", text):
        if re.search(r"^\s*Enabled:\s*no\s*$", stanza, re.M | re.I):
            continue
        for line in re.findall(r"^\s*URIs:\s*(.+)$", stanza, re.M):
            uris += line.split()
    return uris


def _one_line_uris(text: str) -> List[str]:
    return re.findall(r"^\s*deb(?:-src)?\s+(?:\[[^\]]*\]\s+)?(\S+)", text, re.M)


def _uris_ending_with(source_files: Iterable[Tuple[str, str]], suffixes: Tuple[str, ...]) -> List[str]:
    uris = []
    for name, text in source_files:
        uris += _deb822_uris(text) if name.endswith(".sources") else _one_line_uris(text)
    cleaned = (u.rstrip("/") for u in uris)
    return list(dict.fromkeys(u for u in cleaned if u.endswith(suffixes)))


def archive_uris(source_files: Iterable[Tuple[str, str]]) -> List[str]:
    """Archive base URLs, in apt's order, without duplicates or trailing slashes.

    `source_files` are (file name, text) pairs; the name decides the format.
    """
    return _uris_ending_with(source_files, _ARCHIVE_PATH_SUFFIXES)


def security_archive_uris(source_files: Iterable[Tuple[str, str]]) -> List[str]:
    """Debian security archive base URLs (…/debian-security), in apt's order."""
    return _uris_ending_with(source_files, _SECURITY_ARCHIVE_PATH_SUFFIXES)
