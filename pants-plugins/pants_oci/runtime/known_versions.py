"""Pinned CPython source releases: version -> python.org tarball name, sha256 and size.

Every entry is a real release whose sha256 and size were checked against the tarball itself: the same file is
published as `Python-X.Y.Z.tar.xz` (or `.tgz`) on python.org and, unchanged, as `pythonX.Y_X.Y.Z.orig.tar.*`
in Debian's source archive, whose Sources index is signed by Debian's archive keys. Only releases that were
downloaded and checked on the day they were added are listed (Debian's index named newer ones whose files its
pool no longer served; those are left out rather than listed unverified). `build-support/
fill_cpython_mirror.py` re-checks each of them when it fills a mirror.

A target can build any other release by giving its own `sha256` and `size` fields.
"""
from dataclasses import dataclass
from typing import Dict, Optional


@dataclass(frozen=True)
class SourceRelease:
    version: str
    filename: str  # python.org's name for the tarball; mirrors use the same name.
    sha256: str
    size: int

    @property
    def major_minor(self) -> str:
        return ".".join(self.version.split(".")[:2])

    @property
    def compression(self) -> str:
        """`xz` or `gz`: how the tarball is compressed (3.11.2's upstream tarball is only a .tgz here)."""
        return "xz" if self.filename.endswith(".xz") else "gz"

    @property
    def debian_orig_name(self) -> str:
        """The name of the same tarball in Debian's source archive."""
        return f"python{self.major_minor}_{self.version}.orig.tar.{self.compression}"


def _release(version: str, ext: str, sha256: str, size: int) -> SourceRelease:
    return SourceRelease(version, f"Python-{version}.{ext}", sha256, size)


KNOWN_RELEASES: Dict[str, SourceRelease] = {
    r.version: r
    for r in (
        _release("3.9.2", "tar.xz", "3c2034c54f811448f516668dce09d24008a0716c3a794dd8639b5388cbde247d", 18889164),
        _release("3.11.2", "tgz", "2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849", 26437858),
        _release("3.13.5", "tar.xz", "93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640", 22856016),
        _release("3.13.15", "tar.xz", "1e66a7945a48390ee4c2a4268a0e4185884059a13c4aab6d148aa208deea4a76", 23160540),
    )
}


def known_release(version: str) -> Optional[SourceRelease]:
    return KNOWN_RELEASES.get(version)
