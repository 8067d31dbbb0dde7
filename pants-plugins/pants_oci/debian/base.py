"""Assemble a base root filesystem from extracted Debian packages, distroless-style. Pure; no Pants imports.

What goes in: the packages' files (minus docs), `/var/lib/dpkg/status.d/<package>` for scanners, `/etc/passwd`
and `/etc/group` with root and nonroot (65532), `/home/nonroot`, `/tmp` (1777), and the CA bundle that
ca-certificates' maintainer script would have generated. What does not: a shell, a package manager, compilers.
"""
from typing import Dict, Iterable, List, Sequence, Tuple

from pants_oci.debian.deb import control_fields, data_entries, status_entry
from pants_oci.elf.elf import read_elf
from pants_oci.oci.tarball import Entry

NONROOT_UID = 65532
NONROOT_GID = 65532
PASSWD = (
    "root:x:0:0:root:/root:/sbin/nologin\n"
    f"nonroot:x:{NONROOT_UID}:{NONROOT_GID}:nonroot:/home/nonroot:/sbin/nologin\n"
)
GROUP = f"root:x:0:\nnonroot:x:{NONROOT_GID}:\n"
CA_BUNDLE = "etc/ssl/certs/ca-certificates.crt"
# Files a base never needs: tini's package ships a static copy (for images without a libc) next to the dynamic
# /usr/bin/tini that images run as PID 1 (python_oci_image's `init`); 0.3 MB compressed.
UNUSED_IN_IMAGES = frozenset({"usr/bin/tini-static"})


class BaseConflictError(ValueError):
    """Two packages install different content at one path."""


def _account_entries() -> List[Entry]:
    return [
        Entry("etc/passwd", PASSWD.encode()),
        Entry("etc/group", GROUP.encode()),
        Entry("home/nonroot", mode=0o755),
        Entry("root", mode=0o700),
        Entry("tmp", mode=0o1777),
    ]


def ca_bundle(entries: Iterable[Entry]) -> Entry:
    """What update-ca-certificates writes: every certificate under /usr/share/ca-certificates, sorted."""
    certs = sorted(
        (e for e in entries if e.path.startswith("usr/share/ca-certificates/") and e.path.endswith(".crt")),
        key=lambda e: e.path,
    )
    contents = [c.content for c in certs if c.content is not None]  # files (a link has no content)
    return Entry(CA_BUNDLE, b"".join(c if c.endswith(b"\n") else c + b"\n" for c in contents))


def openssl_default_paths() -> List[Entry]:
    """OpenSSL's compiled-in defaults (OPENSSLDIR=/usr/lib/ssl on Debian) pointing at the bundle. Debian ships
    these links in the `openssl` command's package, which a base leaves out, so without them Python's
    `ssl.create_default_context()` would trust no certificate at all."""
    return [
        Entry("usr/lib/ssl/certs", link_target="/etc/ssl/certs"),
        Entry("usr/lib/ssl/cert.pem", link_target="/" + CA_BUNDLE),
    ]


def merge_entry(owner: Dict[str, str], merged: Dict[str, Entry], entry: Entry, package: str) -> None:
    """Add a package's entry to a tree being merged: identical duplicates and shared directories are fine, two
    different contents at one path are a conflict."""
    existing = merged.get(entry.path)
    if existing is None:
        merged[entry.path], owner[entry.path] = entry, package
    elif existing != entry and not (existing.is_dir and entry.is_dir):
        raise BaseConflictError(
            f"Debian packages {owner[entry.path]} and {package} both install /{entry.path} with different content."
        )


def assemble_base(debs: Sequence[Tuple[str, bytes]], keep_docs: bool = False, keep_gconv: bool = False) -> List[Entry]:
    """The entries of the base layer, from (package name, .deb bytes) pairs."""
    merged: Dict[str, Entry] = {}
    owner: Dict[str, str] = {}
    for name, deb in sorted(debs):
        for entry in data_entries(deb, name, keep_docs, keep_gconv):
            if entry.path not in UNUSED_IN_IMAGES:
                merge_entry(owner, merged, entry, name)
        merge_entry(
            owner,
            merged,
            Entry(f"var/lib/dpkg/status.d/{name}", status_entry(control_fields(deb, name)).encode()),
            name,
        )
    if any(name == "ca-certificates" for name, _ in debs):
        merge_entry(owner, merged, ca_bundle(merged.values()), "ca-certificates")
        for link in openssl_default_paths():
            merged.setdefault(link.path, link)
    for entry in _account_entries():
        merged[entry.path] = entry
    for link in merged_usr_links(merged):
        merged[link.path] = link
    return [merged[p] for p in sorted(merged)]


# Top-level directories that merged /usr makes links into usr/.
MERGED_USR_DIRS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


def merged_usr_links(merged: Dict[str, Entry]) -> List[Entry]:
    """`lib64 -> usr/lib64` and the like, for each usr/<dir> a tree has where no package ships /<dir>. Debian 13
    packages install under /usr only (libc6's loader is /usr/lib64/ld-linux-x86-64.so.2) and base-files ships the
    links; without them no program would find /lib64/ld-linux-x86-64.so.2, the interpreter every x86-64 ELF
    program names. Debian 12 packages ship /lib and /lib64 as directories: such a base is left as its packages
    made it (no link is added to it at all)."""
    directories = {path.split("/", 1)[0] for path, entry in merged.items() if "/" in path or entry.is_dir}
    if directories & set(MERGED_USR_DIRS):
        return []
    under_usr = {path.split("/")[1] for path in merged if path.startswith("usr/") and path.count("/") >= 1}
    return [Entry(top, link_target=f"usr/{top}") for top in MERGED_USR_DIRS if top in under_usr and top not in merged]


def elf_infos(entries: Iterable[Entry]):
    """(ELF info by path, symlink targets by path) of a set of entries, for the closure check."""
    elves, links = {}, {}
    for entry in entries:
        if entry.link_target is not None:
            links[entry.path] = entry.link_target
        elif entry.content is not None and entry.content[:4] == b"\x7fELF":
            info = read_elf(entry.content)
            if info is not None:
                elves[entry.path] = info
    return elves, links
