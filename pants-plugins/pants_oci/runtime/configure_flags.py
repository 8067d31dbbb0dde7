"""The ./configure arguments for a CPython build: one table, a reason per flag (python-build-standalone style).

Sources: Debian's python3 packaging and the official Docker image's Dockerfile (seeds 000 and 004), plus
Debian's `dpkg-buildflags` hardening set. Pure; no Pants imports.
"""
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

from pants_oci.runtime.modules import Version, parse_minor_version

OPTIMIZATIONS = ("none", "lto", "pgo", "pgo+lto", "pgo+lto+bolt")
BYTECODE_POLICIES = ("none", "unchecked-hash")

# Replaced by build_cpython.sh with `-ffile-prefix-map=<sandbox build dir>=/usr/src/python`: the sandbox
# path is only known inside the process, and must not reach the cache key.
PREFIX_MAP_PLACEHOLDER = "@PREFIX_MAP@"


@dataclass(frozen=True)
class Flag:
    arg: str
    why: str
    applies: Callable[[Version, str], bool] = lambda version, optimizations: True
    # A trimmed component (the target's `include` field) that switches this flag off, or is needed to switch it on.
    unless_included: Optional[str] = None
    only_if_included: Optional[str] = None

    def selected(self, version: Version, optimizations: str, include: Sequence[str]) -> bool:
        if self.unless_included in include or (self.only_if_included and self.only_if_included not in include):
            return False
        return self.applies(version, optimizations)


def _before(minor: Version) -> Callable[[Version, str], bool]:
    return lambda version, _: version < minor


def _optimizing(kind: str) -> Callable[[Version, str], bool]:
    return lambda _, optimizations: uses(optimizations, kind)


CONFIGURE_FLAGS: Tuple[Flag, ...] = (
    Flag("--enable-option-checking=fatal", "a misspelled or removed flag fails configure instead of being ignored"),
    Flag(
        "--enable-shared",
        "shared libpython, as Debian and the official image: embedders (mod_wsgi, uWSGI) "
        "and some extensions need it (seed 000); the interpreter finds it through a $ORIGIN rpath",
    ),
    Flag("--enable-ipv6", "Debian's choice; configure would otherwise probe the build host"),
    Flag("--enable-loadable-sqlite-extensions", "sqlite3 extension loading, as Debian and the official image"),
    Flag("--with-system-expat", "pyexpat links the OS's libexpat, which gets the OS's security updates"),
    Flag(
        "--with-system-ffi",
        "ctypes links the OS's libffi (the flag is gone in 3.13, where it is the only way)",
        _before((3, 13)),
    ),
    Flag(
        "--without-system-libmpdec",
        "Debian 12 has no libmpdec-dev, so _decimal uses CPython's bundled "
        "mpdecimal instead of silently depending on the build host",
        lambda v, _: (3, 13) <= v < (3, 15),
    ),
    Flag(
        "--without-ensurepip",
        "no pip in a runtime image (the official image's -slim trims it too); "
        "apps bring their dependencies as a PEX",
        unless_included="pip",
    ),
    Flag("--with-ensurepip=install", "pip, because the target's `include` asks for it", only_if_included="pip"),
    Flag(
        "--disable-test-modules",
        "no _testcapi & co and no Lib/test install: smaller, and a faster build",
        unless_included="tests",
    ),
    Flag("--with-lto", "link-time optimization: a few % faster, one slower link step", _optimizing("lto")),
    Flag(
        "--enable-optimizations",
        "profile-guided optimization (with LTO: 1.26x the speed of none on 3.13 here, ~5x the build time)",
        _optimizing("pgo"),
    ),
)

# Compiler flags for CPython's own code, the core and the stdlib's extension modules: passed as CFLAGS_NODIST,
# which comes after CFLAGS on CPython's compile lines and is not recorded in the CFLAGS that sysconfig hands to
# the extensions users build against the runtime (those get HARDENING_CFLAGS alone).
NODIST_CFLAGS: Tuple[Flag, ...] = (
    Flag(
        "-fstack-protector",
        "canaries in the functions with character buffers, as Debian's python3 packages compile the "
        "interpreter (their rules replace dpkg-buildflags' -fstack-protector-strong with it); -strong also "
        "guards every function with any local array or address-taken local, the hot call paths among them. "
        "Measured on 3.13 pgo+lto: 1.01x the speed of -strong (docs/benchmarks.md)",
    ),
    Flag(
        "-ftls-model=initial-exec",
        "since 3.12 the current thread state is a thread-local variable, which a shared libpython reads "
        "through __tls_get_addr calls unless it uses the initial-exec model (one load, as in a static "
        "interpreter, such as Debian's); libpython's 25 bytes of TLS fit glibc's static TLS reserve even "
        "when it is dlopen()ed",
        lambda version, _: version >= (3, 12),
    ),
)

# Debian's hardening build flags (dpkg-buildflags with hardening=+all); PIE is the compiler's default on
# Debian and is verified with hardening-check.
HARDENING_CFLAGS = "-fstack-protector-strong -fstack-clash-protection -fcf-protection -Wformat -Werror=format-security"
# On arm64, Debian's flags have branch protection where x86's have -fcf-protection (see runtime/cross.py).
CONTROL_FLOW_FLAG = "-fcf-protection"
HARDENING_CPPFLAGS = "-D_FORTIFY_SOURCE=2"
HARDENING_LDFLAGS = "-Wl,-z,relro -Wl,-z,now"
# `\$$ORIGIN`: make turns $$ into $ and the shell drops the backslash, so the linker sees a literal $ORIGIN:
# bin/python3.X finds lib/libpython3.X.so relative to itself, so the tree runs from wherever it is copied.
RPATH_LDFLAGS = r"-Wl,-rpath,\$$ORIGIN/../lib"
# Strip at link time, as the official image does: no symbol tables in the runtime (dynamic symbols stay).
STRIP_LDFLAGS = "-Wl,--strip-all"
# An LTO object names its sections after a random number unless the seed is fixed, and one such object ships
# (config-X.Y/python.o, for embedding), so LTO builds fix it. Measured: without it, two pgo+lto builds from the
# same profile differed in that file alone.
LTO_SEED_CFLAGS = "-frandom-seed=pants-oci"
# What BOLT (runtime/bolt.py) needs of the compile, as CPython's own --enable-bolt sets it: no hot/cold function
# splitting by GCC (BOLT splits itself, and cannot read GCC's split functions), and the link's relocations kept
# in the output, so that BOLT can move code. The link-time strip is left out: BOLT reads the symbol table, and
# strips every ELF file of the tree itself afterwards.
BOLT_CFLAGS = "-fno-reorder-blocks-and-partition"
BOLT_LDFLAGS = "-Wl,--emit-relocs"


def uses(optimizations: str, kind: str) -> bool:
    """Whether the `optimizations` value (e.g. "pgo+lto+bolt") includes `kind` ("pgo", "lto" or "bolt")."""
    return kind in optimizations.split("+")


# ./configure options the plugin decides, and where a target says what it wants instead.
_MANAGED_OPTIONS = {
    "--prefix": "the install prefix comes from the `prefix` field",
    "--exec-prefix": "the install prefix comes from the `prefix` field",
    "--enable-shared": "libpython is always shared (found through a $ORIGIN rpath)",
    "--disable-shared": "libpython is always shared (found through a $ORIGIN rpath)",
    "--with-lto": "link-time optimization comes from the `optimizations` field",
    "--without-lto": "link-time optimization comes from the `optimizations` field",
    "--enable-optimizations": "PGO comes from the `optimizations` field",
    "--disable-optimizations": "PGO comes from the `optimizations` field",
    "--with-ensurepip": 'pip comes from `include=["pip"]`',
    "--without-ensurepip": 'pip comes from `include=["pip"]`',
    "--enable-option-checking": "unknown options always fail configure",
    "--disable-option-checking": "unknown options always fail configure",
}


def managed_argument(arg: str) -> Optional[str]:
    """Why `arg` may not be an extra configure argument, or None when it may."""
    return _MANAGED_OPTIONS.get(arg.split("=", 1)[0])


def configure_args(
    version: str,
    optimizations: str,
    extra_args: Sequence[str] = (),
    include: Sequence[str] = (),
    control_flow_flag: str = CONTROL_FLOW_FLAG,
) -> List[str]:
    """All ./configure arguments after --prefix, in a stable order (they are part of the cache key).
    `control_flow_flag` is the target architecture's control-flow hardening flag."""
    if optimizations not in OPTIMIZATIONS:
        raise ValueError(f"optimizations must be one of {', '.join(OPTIMIZATIONS)}, not {optimizations!r}")
    minor = parse_minor_version(version)
    args = [f.arg for f in CONFIGURE_FLAGS if f.selected(minor, optimizations, include)]
    args.append("CFLAGS_NODIST=" + " ".join(f.arg for f in NODIST_CFLAGS if f.selected(minor, optimizations, include)))
    args += list(extra_args)
    seed = f" {LTO_SEED_CFLAGS}" if uses(optimizations, "lto") else ""
    bolt = uses(optimizations, "bolt")
    cflags = HARDENING_CFLAGS.replace(CONTROL_FLOW_FLAG, control_flow_flag) + seed
    args += [
        f"CFLAGS={cflags}{' ' + BOLT_CFLAGS if bolt else ''} {PREFIX_MAP_PLACEHOLDER}",
        f"CPPFLAGS={HARDENING_CPPFLAGS}",
        f"LDFLAGS={HARDENING_LDFLAGS} {RPATH_LDFLAGS} {BOLT_LDFLAGS if bolt else STRIP_LDFLAGS}",
    ]
    return args
