"""Which stdlib extension modules a CPython build must have, and what provides each one.

CPython's build does not fail when a library's headers are missing: it skips the module and carries on (seed
000). This table is the knowledge needed to notice and to explain: for each extension module that needs an
outside library, the Debian -dev package that provides the headers at build time and the runtime package that
provides the shared library in an image. Pure data and functions; no Pants imports.
"""
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

Version = Tuple[int, int]


@dataclass(frozen=True)
class ExtensionModule:
    name: str
    dev_package: Optional[str]  # None: needs only libc and CPython's own sources.
    runtime_package: Optional[str]
    since: Version = (3, 0)
    until: Optional[Version] = None  # First minor version without the module.
    why: str = ""

    def exists_in(self, version: Version) -> bool:
        return self.since <= version and (self.until is None or version < self.until)


def _m(name, dev=None, runtime=None, since=(3, 0), until=None, why=""):
    return ExtensionModule(name, dev, runtime, since, until, why)


# Debian 12 package names (per-suite names: runtime_package_in). Order: the ones people most often lose first.
EXTENSION_MODULES: Tuple[ExtensionModule, ...] = (
    _m("_ssl", "libssl-dev", "libssl3", why="TLS: https, smtplib, asyncio streams"),
    _m("_hashlib", "libssl-dev", "libssl3", why="OpenSSL hashes (hashlib.pbkdf2_hmac, sha3 via OpenSSL)"),
    _m("_sqlite3", "libsqlite3-dev", "libsqlite3-0"),
    _m("_ctypes", "libffi-dev", "libffi8", why="ctypes, and every package that uses it"),
    _m("zlib", "zlib1g-dev", "zlib1g", why="gzip, zipfile, and therefore pip and pex"),
    _m("_bz2", "libbz2-dev", "libbz2-1.0"),
    _m("_lzma", "liblzma-dev", "liblzma5"),
    _m("readline", "libreadline-dev", "libreadline8", why="line editing in the REPL and pdb"),
    _m("_curses", "libncurses-dev", "libncursesw6"),
    _m("_curses_panel", "libncurses-dev", "libncursesw6"),
    _m("_uuid", "uuid-dev", "libuuid1", why="uuid1() without a subprocess"),
    _m("_dbm", "libgdbm-compat-dev", "libgdbm-compat4"),
    _m("_gdbm", "libgdbm-dev", "libgdbm6"),
    _m("pyexpat", "libexpat1-dev", "libexpat1", why="xml.parsers.expat, xml.etree, plistlib"),
    _m("_elementtree", "libexpat1-dev", "libexpat1"),
    _m("_crypt", "libcrypt-dev", "libcrypt1", until=(3, 13)),
    # Needs only CPython's own sources (bundled libmpdec on Debian 12, which has no libmpdec-dev).
    _m("_decimal"),
    _m("_json"),
    _m("_pickle"),
    _m("_asyncio"),
    _m("_socket"),
    _m("select"),
    _m("array"),
    _m("math"),
    _m("cmath"),
    _m("_struct"),
    _m("binascii"),
    _m("unicodedata"),
    _m("fcntl"),
    _m("grp"),
    _m("mmap"),
    _m("resource"),
    _m("termios"),
    _m("syslog"),
    _m("_posixshmem"),
    _m("_multiprocessing"),
    _m("_queue"),
    _m("_random"),
    _m("_bisect"),
    _m("_heapq"),
    _m("_statistics"),
    _m("_zoneinfo"),
    _m("_contextvars"),
    _m("_csv"),
    _m("_lsprof"),
    _m("_md5"),
    _m("_sha1"),
    _m("_sha3"),
    _m("_blake2"),
    _m("_datetime"),
    _m("_opcode"),
    _m("_posixsubprocess"),
    _m("_sha256", until=(3, 12)),
    _m("_sha512", until=(3, 12)),
    _m("_sha2", since=(3, 12)),
    _m("audioop", until=(3, 13)),
    _m("spwd", until=(3, 13)),
    _m("ossaudiodev", until=(3, 13)),
    # Optional by default: trimmed from the tree unless asked for (tkinter), or not in Debian's python3.
    _m("_tkinter", "tk-dev", "libtk8.6"),
    _m("nis", "libnsl-dev", "libnsl2", until=(3, 13)),
)

# Modules that are not required unless a target asks: tkinter is trimmed by default (no GUI in a container),
# nis is deprecated and needs the legacy libnsl.
NOT_REQUIRED_BY_DEFAULT = frozenset({"_tkinter", "nis"})

_BY_NAME: Dict[str, ExtensionModule] = {m.name: m for m in EXTENSION_MODULES}


def parse_minor_version(version: str) -> Version:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def modules_for(version: str) -> List[ExtensionModule]:
    v = parse_minor_version(version)
    return [m for m in EXTENSION_MODULES if m.exists_in(v)]


def default_required_modules(version: str) -> List[str]:
    return [m.name for m in modules_for(version) if m.name not in NOT_REQUIRED_BY_DEFAULT]


def known_module(name: str) -> Optional[ExtensionModule]:
    return _BY_NAME.get(name)


def unknown_modules(version: str, names: Iterable[str]) -> List[str]:
    """The names that are not extension modules of this CPython version in the table (misspelled, or removed)."""
    known = {m.name for m in modules_for(version)}
    return sorted(n for n in set(names) if n not in known)


def resolve_module_sets(
    version: str, required: Optional[Iterable[str]], optional: Iterable[str]
) -> Tuple[List[str], List[str]]:
    """The (required, optional) module lists a build checks: `optional` wins over the defaults."""
    optional_set = set(optional)
    base = list(required) if required is not None else default_required_modules(version)
    return [m for m in base if m not in optional_set], sorted(optional_set)


def missing_modules_message(missing: Dict[str, str], version: str, build_root_resolve: Optional[str] = None) -> str:
    """Explain missing required modules: which -dev package provides each one's headers, and the fix: add it to
    the build root (`build_root_resolve` names its lock) or, for a host toolchain, install it."""
    lines, packages = [], []
    for name in sorted(missing):
        module = known_module(name)
        if module and module.dev_package:
            lines.append(f"  {name}: needs the headers from {module.dev_package} ({missing[name]})")
            packages.append(module.dev_package)
        elif module is None:
            # A module this plugin's table does not know yet (a new CPython version's): CPython named it.
            lines.append(
                f"  {name}: {missing[name]}. The plugin does not know which Debian -dev package it needs: "
                f"config.log names the header configure looked for; add its package to `build_root_packages`"
            )
        else:
            lines.append(f"  {name}: not built ({missing[name]}); it needs no outside library, see the make log")
    fix = []
    if packages and build_root_resolve:
        fix.append(
            f"add {', '.join(repr(p) for p in sorted(set(packages)))} to the target's `build_root_packages` "
            f"field and relock its build root: ./pants generate-lockfiles --resolve={build_root_resolve}"
        )
    elif packages:
        fix.append(f"install the headers and rebuild: apt-get install {' '.join(sorted(set(packages)))}")
    fix.append("or, if the image does not need them, list them in the target's `optional_modules` field")
    return (
        f"CPython {version} was built without {len(missing)} required stdlib module(s):\n"
        + "\n".join(lines)
        + "\nFix: "
        + "\n  ".join(fix)
        + "."
    )


# Debian 13 (trixie) renamed these libraries in its 64-bit time_t transition; later suites keep the new names.
# Each -dev package depends on its runtime library at exactly its own version (`libssl-dev: Depends: libssl3t64
# (= 3.5.x)`), which is how the table is checked against both suites' real indexes (bases integration test).
T64_RENAMES = {
    "libssl3": "libssl3t64",
    "libreadline8": "libreadline8t64",
    "libgdbm6": "libgdbm6t64",
    "libgdbm-compat4": "libgdbm-compat4t64",
}
# Suites released before the transition: they keep the Debian 12 names.
SUITES_BEFORE_T64 = frozenset({"buster", "bullseye", "bookworm"})


def debian_release(suite: str) -> str:
    """`bookworm` for `bookworm`, `bookworm-updates` and `bookworm-security`."""
    return suite.split("-", 1)[0]


def runtime_package_in(module: ExtensionModule, suite: str) -> Optional[str]:
    """The Debian package that ships the shared library `module` loads, under `suite`'s name for it."""
    name = module.runtime_package
    if name is None or debian_release(suite) in SUITES_BEFORE_T64:
        return name
    return T64_RENAMES.get(name, name)


def runtime_packages_for(modules: Iterable[str], suite: str) -> List[str]:
    """Debian runtime packages the given built modules load at run time (for the image's base layer), as `suite`
    names them."""
    found = {runtime_package_in(m, suite) for name in modules if (m := known_module(name))}
    return sorted(p for p in found if p)
