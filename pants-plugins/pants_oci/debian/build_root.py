"""A build root: a directory tree made from pinned .debs that a compile runs inside, chrooted. Pure; no Pants imports.

Unpacking a .deb is not installing it: maintainer scripts never run, so what they would have made is made here,
the same way on every machine:

- merged /usr (Debian 12's layout): files a package ships under /bin, /sbin and /lib* move to /usr/..., and the
  top-level names become links (`bin -> usr/bin`), as the usrmerge step of debootstrap leaves them; Debian 13's
  packages ship under /usr already and its base-files ships those links itself;
- the links that `update-alternatives` and dash's postinst make: `sh`, `cc`, `awk`, ...;
- /etc/passwd and /etc/group with root and nobody, and empty directories for the mount points the sandbox
  needs (/proc, /dev, /tmp and the directory the build's sandbox is mounted on).
"""
import posixpath
from typing import Dict, Iterable, List, Sequence, Tuple

from pants_oci.debian.base import MERGED_USR_DIRS, merge_entry, merged_usr_links
from pants_oci.debian.deb import data_entries
from pants_oci.oci.tarball import Entry

# Where the build's own sandbox (its inputs and outputs) is mounted inside the root. A name no file of CPython
# contains, because the build scrubs it from what it installs.
SANDBOX_MOUNT_POINT = "pants-oci-build"
MOUNT_POINTS = ("proc", "dev", "tmp", SANDBOX_MOUNT_POINT)


# (link, target): what maintainer scripts and update-alternatives would have made for these packages.
ALTERNATIVES = (
    ("usr/bin/sh", "dash"),
    ("usr/bin/cc", "gcc"),
    ("usr/bin/c99", "c99-gcc"),
    ("usr/bin/c89", "c89-gcc"),
    ("usr/bin/cpp", "cpp-12"),  # Debian 12
    ("usr/bin/cpp", "cpp-14"),  # Debian 13
    ("usr/bin/awk", "mawk"),
    ("usr/bin/nawk", "mawk"),
    ("usr/bin/pager", "more"),
)

PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"


def merged_usr_path(path: str) -> str:
    """Where a path a package ships lands under merged /usr: bin/ls -> usr/bin/ls; usr/bin/ls unchanged."""
    top = path.split("/", 1)[0]
    return f"usr/{path}" if top in MERGED_USR_DIRS else path


def _moved(entry: Entry) -> Entry:
    path = merged_usr_path(entry.path)
    if path == entry.path:
        return entry
    target = entry.link_target
    if target is not None and not target.startswith("/"):
        # A relative link means something relative to where the package put it: keep that meaning.
        target = posixpath.normpath(posixpath.join("/", posixpath.dirname(entry.path), target))
    return Entry(path, content=entry.content, is_executable=entry.is_executable, link_target=target, mode=entry.mode)


def _is_merged_usr_link(entry: Entry) -> bool:
    """A top-level `bin -> usr/bin` link a package ships itself (Debian 13's base-files does): the links below make
    it, for every suite, so the package's own is left out rather than moved onto usr/bin."""
    return entry.path in MERGED_USR_DIRS and entry.link_target is not None


def _alternatives(merged: Dict[str, Entry]) -> List[Entry]:
    """Only the links whose target exists: a build root without a C++ compiler gets no c++ link."""
    return [
        Entry(link, link_target=target)
        for link, target in ALTERNATIVES
        if link not in merged and posixpath.join(posixpath.dirname(link), target) in merged
    ]


def build_root_entries(debs: Sequence[Tuple[str, bytes]]) -> List[Entry]:
    """The root's entries, sorted by path, from (package name, .deb bytes) pairs. Docs and man pages are left out
    (copyright files stay); everything a compiler, linker or library loads stays, gconv modules included."""
    merged: Dict[str, Entry] = {}
    owner: Dict[str, str] = {}
    for name, deb in sorted(debs):
        for entry in data_entries(deb, name, keep_docs=False, keep_gconv=True):
            if not _is_merged_usr_link(entry):
                merge_entry(owner, merged, _moved(entry), name)
    for entry in _alternatives(merged):
        merged[entry.path] = entry
    for link in merged_usr_links(merged):  # every package's /bin, /lib ... was moved under usr/ above
        merged[link.path] = link
    for entry in _root_files():
        merged.setdefault(entry.path, entry)
    return [merged[p] for p in sorted(merged)]


def _root_files() -> Iterable[Entry]:
    yield Entry("etc/passwd", PASSWD.encode())
    yield Entry("etc/group", GROUP.encode())
    yield Entry("root", mode=0o700)
    for mount_point in MOUNT_POINTS:
        yield Entry(mount_point, mode=0o1777 if mount_point == "tmp" else 0o755)
