"""Read .deb files in pure Python: the ar container, then control.tar and data.tar (xz, gzip, zstd or plain).

A .deb is an `ar` archive of `debian-binary`, `control.tar.*` and `data.tar.*`. Only the standard library is
needed for xz and gzip (all of Debian 12's packages); zstd (Ubuntu's default) needs the `zstandard` module and
says so when it is missing.
"""
import gzip
import io
import lzma
import posixpath
import tarfile
from typing import Dict, List

from pants_oci.oci.tarball import Entry

# What an image never needs from a package (distroless drops the same); `keep_docs` in the target keeps them.
DOC_PREFIXES = (
    "usr/share/doc/",
    "usr/share/man/",
    "usr/share/info/",
    "usr/share/locale/",
    "usr/share/lintian/",
    "usr/share/bug/",
    "usr/share/doc-base/",
    "usr/share/bash-completion/",
)
# Copyright files are kept: licenses oblige shipping them, and scanners read them.
KEPT_UNDER_DROPPED = ("/copyright",)


class DebError(ValueError):
    """A .deb that cannot be read; the message names the package."""


def read_ar(data: bytes, name: str) -> Dict[str, bytes]:
    """Members of an ar archive by name (GNU/BSD common format as dpkg writes it)."""
    if not data.startswith(b"!<arch>\n"):
        raise DebError(f"{name} is not a .deb (no ar header)")
    members, offset = {}, 8
    while offset + 60 <= len(data):
        header = data[offset : offset + 60]
        member = header[0:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        members[member] = data[offset + 60 : offset + 60 + size]
        offset += 60 + size + (size % 2)
    return members


def _decompress(member: str, payload: bytes, name: str) -> bytes:
    if member.endswith(".xz"):
        return lzma.decompress(payload)
    if member.endswith(".gz"):
        return gzip.decompress(payload)
    if member.endswith(".zst"):
        try:
            import zstandard  # type: ignore[import-not-found]
        except ImportError:
            raise DebError(
                f"{name} uses zstd compression ({member}); add `zstandard` to [GLOBAL].plugins to read it"
            ) from None
        return zstandard.ZstdDecompressor().decompressobj().decompress(payload)
    if member.endswith(".tar"):
        return payload
    raise DebError(f"{name} has an unsupported member {member}")


def _tar_member(members: Dict[str, bytes], stem: str, name: str) -> bytes:
    for member, payload in members.items():
        if member.startswith(stem):
            return _decompress(member, payload, name)
    raise DebError(f"{name} has no {stem}.* member (members: {', '.join(members)})")


def control_fields(deb: bytes, name: str) -> str:
    """The package's control file text (the stanza `dpkg -s` shows)."""
    control_tar = _tar_member(read_ar(deb, name), "control.tar", name)
    with tarfile.open(fileobj=io.BytesIO(control_tar)) as tar:
        for member in tar.getmembers():
            control = tar.extractfile(member) if member.name.lstrip("./") == "control" else None
            if control is not None:
                return control.read().decode()
    raise DebError(f"{name} has no control file")


# glibc's iconv modules (8 MB): Python's codecs never load them, but a C library in a wheel that converts
# charsets with iconv(3) beyond UTF-8, ASCII and Latin-1 does; `keep_gconv` in the target keeps them.
GCONV_PREFIXES = ("usr/lib/x86_64-linux-gnu/gconv/", "usr/lib/aarch64-linux-gnu/gconv/")


def _dropped(path: str, keep_docs: bool, keep_gconv: bool) -> bool:
    if not keep_gconv and path.startswith(GCONV_PREFIXES):
        return True
    return not keep_docs and path.startswith(DOC_PREFIXES) and not path.endswith(KEPT_UNDER_DROPPED)


def data_entries(deb: bytes, name: str, keep_docs: bool = False, keep_gconv: bool = False) -> List[Entry]:
    """The files, directories and symlinks the package installs, with their modes, minus docs and man pages.

    Hard links become copies of their target's content (layers stay simple; Debian's base libraries have
    none that matter for size).
    """
    data_tar = _tar_member(read_ar(deb, name), "data.tar", name)
    entries: List[Entry] = []
    contents: Dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data_tar)) as tar:
        for member in tar.getmembers():
            path = posixpath.normpath(member.name.lstrip("./")) if member.name not in (".", "./") else ""
            if not path or path == "." or _dropped(path + ("/" if member.isdir() else ""), keep_docs, keep_gconv):
                continue
            if member.isdir():
                entries.append(Entry(path, mode=member.mode & 0o7777))
            elif member.issym():
                entries.append(Entry(path, link_target=member.linkname))
            elif member.islnk():
                target = posixpath.normpath(member.linkname.lstrip("./"))
                entries.append(Entry(path, content=contents[target], mode=member.mode & 0o7777))
            elif member.isfile():
                extracted = tar.extractfile(member)
                content = extracted.read() if extracted else b""
                contents[path] = content
                entries.append(Entry(path, content=content, mode=member.mode & 0o7777))
    return entries


def status_entry(control: str) -> str:
    """A /var/lib/dpkg/status.d/<package> file, as distroless writes it, for SBOM and CVE scanners."""
    text = control.rstrip("\n") + "\n"
    if "\nStatus:" not in "\n" + text:
        lines = text.splitlines()
        lines.insert(1, "Status: install ok installed")
        text = "\n".join(lines) + "\n"
    return text
