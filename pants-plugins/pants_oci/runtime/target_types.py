"""The `python_runtime` target: a CPython compiled from a pinned source tarball."""
import re
from typing import Iterable, Optional, Tuple

from pants.core.goals.package import OutputPathField
from pants.engine.addresses import Address
from pants.engine.target import (
    COMMON_TARGET_FIELDS,
    IntField,
    InvalidFieldException,
    OptionalSingleSourceField,
    StringField,
    StringSequenceField,
    Target,
)
from pants.util.strutil import softwrap

from pants_oci.debian.target_types import DEFAULT_SUITE
from pants_oci.runtime.configure_flags import BYTECODE_POLICIES, OPTIMIZATIONS
from pants_oci.runtime.cross import ARCHITECTURES, BUILD_MACHINE
from pants_oci.runtime.known_versions import KNOWN_RELEASES

VERSION_PATTERN = re.compile(r"^3\.(\d+)\.(\d+)$")
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
COMPONENTS = ("tkinter", "idlelib", "pip", "tests")
DEFAULT_PREFIX = "/opt/python"


class PythonRuntimeVersionField(StringField):
    alias = "version"
    required = True
    value: str
    help = softwrap(
        f"""
        The CPython release to build, as a full version: `version="3.13.5"`.

        Releases with a built-in sha256 pin: {', '.join(KNOWN_RELEASES)}. Any other release builds when
        the target also pins it with the `sha256` and `size` fields.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Optional[str], address: Address) -> Optional[str]:
        value = super().compute_value(raw_value, address)
        assert value is not None, "a required field"
        if not VERSION_PATTERN.match(value):
            raise InvalidFieldException(
                f"The {repr(cls.alias)} field in target {address} must be a full CPython 3 version like "
                f"3.13.5, but was {value!r}."
            )
        return value


class _Sha256Field(StringField):
    """A sha256 pin: 64 lowercase hex digits. `where_to_find` ends the error message."""

    where_to_find = ""

    @classmethod
    def compute_value(cls, raw_value: Optional[str], address: Address) -> Optional[str]:
        value = super().compute_value(raw_value, address)
        if value is not None and not SHA256_PATTERN.match(value):
            raise InvalidFieldException(
                f"The {repr(cls.alias)} field in target {address} must be 64 lowercase hex digits, but was "
                f"{value!r}.{cls.where_to_find}"
            )
        return value


class PythonRuntimeSha256Field(_Sha256Field):
    alias = "sha256"
    help = softwrap(
        """
        The sha256 of the source tarball, to build a release that is not in the plugin's table of pinned
        versions (or to pin it yourself). Give `size` too. Example:
        `sha256="93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640"`.
        """
    )


class PythonRuntimeSizeField(IntField):
    alias = "size"
    help = "The size in bytes of the source tarball named by `sha256`. Example: `size=22856016`."

    @classmethod
    def compute_value(cls, raw_value: Optional[int], address: Address) -> Optional[int]:
        value = super().compute_value(raw_value, address)
        if value is not None and value <= 0:
            raise InvalidFieldException(
                f"The {repr(cls.alias)} field in target {address} must be a positive byte count, but was {value}."
            )
        return value


class PythonRuntimeSourceFilenameField(StringField):
    alias = "source_filename"
    help = softwrap(
        """
        The tarball's file name, for a release pinned with `sha256`/`size` (known releases already know
        theirs). It fills `{filename}` in the source URL templates. Default: `Python-<version>.tar.xz`.
        """
    )


class PythonRuntimeOptimizationsField(StringField):
    alias = "optimizations"
    valid_choices = OPTIMIZATIONS
    default = "pgo+lto"
    value: str
    help = softwrap(
        """
        How hard the compiler works: `none`, `lto` (link-time optimization), `pgo` (profile-guided
        optimization), `pgo+lto`, or `pgo+lto+bolt` (3.12+, build root on Debian 13: libpython laid out again by
        LLVM's BOLT from the same deterministic training, for 6 MB more libpython: with the current training
        it measured 1.00x the speed of `pgo+lto` on pyperformance, no gain; docs/benchmarks.md).

        The default, `pgo+lto`, is what the official python image and the distributions ship: measured here for
        3.13.5 it runs a micro-benchmark suite 1.26x as fast as `none`, for about 5x the compile time (11
        minutes instead of 2 on 2 cores). On pyperformance it runs at 0.98-1.00 of the speed of Debian's own
        python3.13 (whose interpreter is a non-PIE executable, a hardening trade not made here) and at 1.01
        of Debian's python3.11. A runtime is compiled once and then shared through the cache, and runs
        in every container you ship, so production gets the faster interpreter. Use `none` for quick local
        iterations and tests.

        With `pgo`, the training run is its own cacheable step, and its profile is a function of its inputs:
        a deterministic workload run with a fixed hash seed and address space layout randomization off, so two
        machines compile the same bytes without sharing a cache. `./pants package` writes the profile next to
        the runtime (`<name>.pgo-profile.tar.gz`); the `pgo_profile` field can pin one.
        """
    )


class PythonRuntimePgoProfileField(OptionalSingleSourceField):
    alias = "pgo_profile"
    expected_file_extensions = (".gz",)
    help = softwrap(
        """
        A PGO profile to optimize with instead of running the training: a `<name>.pgo-profile.tar.gz` that
        `./pants package` wrote for this runtime, committed next to the BUILD file. Requires
        `pgo_profile_sha256`. It freezes the runtime's optimization across machines, compiler-cache wipes and
        plugin upgrades that change the training workload.

        The profile must match the runtime: the same CPython version and configure arguments, and the same GCC
        version (checked before compiling). Example: `pgo_profile="py313.pgo-profile.tar.gz"`.
        """
    )


class PythonRuntimePgoProfileSha256Field(_Sha256Field):
    alias = "pgo_profile_sha256"
    where_to_find = " Use the sha256 that `./pants package` printed for the profile."
    help = softwrap(
        """
        The sha256 of the `pgo_profile` file, as `./pants package` printed it. A file that does not match is
        an error, never a silently different optimization.
        """
    )


class PythonRuntimeRequiredModulesField(StringSequenceField):
    alias = "required_modules"
    help = softwrap(
        """
        Stdlib extension modules the build must produce, or fail naming the missing -dev package.

        Default: every extension module Debian's python3 provides for this version (`_ssl`, `_hashlib`,
        `_sqlite3`, `_ctypes`, `zlib`, `_bz2`, `_lzma`, `readline`, `_curses`, `_uuid`, `_dbm`, `_gdbm`,
        `_decimal`, `pyexpat`, ...), except `_tkinter`. Set it to require a smaller list, e.g.
        `required_modules=["_ssl", "zlib"]`.
        """
    )


class PythonRuntimeOptionalModulesField(StringSequenceField):
    alias = "optional_modules"
    default = ()
    help = softwrap(
        """
        Modules to leave out of the requirement list: a build without them succeeds, and the report says
        they are missing. Example: `optional_modules=["_dbm", "_gdbm"]` on a host without libgdbm-dev. Names the
        plugin does not know as extension modules of this version are refused before anything is built.
        """
    )


class PythonRuntimeIncludeField(StringSequenceField):
    alias = "include"
    default = ()
    valid_choices = COMPONENTS
    help = softwrap(
        f"""
        Parts of a full CPython install that are trimmed by default and that you want back:
        {', '.join(repr(c) for c in COMPONENTS)}. `pip` installs pip with ensurepip; `tests` keeps the test
        suite and test modules. Example: `include=["pip"]`.
        """
    )


class PythonRuntimeBytecodeField(StringField):
    alias = "bytecode"
    valid_choices = BYTECODE_POLICIES
    default = "unchecked-hash"
    value: str
    help = softwrap(
        """
        Which stdlib bytecode ships in the tree: `none` (like the official image) or `unchecked-hash`:
        deterministic `.pyc` files (optimization level 0, what a container runs without `-O`), whose
        source hash is never re-checked and which are never rewritten at run time.

        The default is `unchecked-hash`: a container with a read-only root filesystem cannot write
        `__pycache__`, so without shipped bytecode every start compiles each stdlib module it imports again.
        See docs/benchmarks.md for the measured size and start-up cost of each policy.
        """
    )


class PythonRuntimePrefixField(StringField):
    alias = "prefix"
    default = DEFAULT_PREFIX
    value: str
    help = softwrap(
        f"""
        The absolute path the runtime is installed under in images, e.g. `{DEFAULT_PREFIX}` (the default):
        `{DEFAULT_PREFIX}/bin/python3`. The tree itself is relocatable ($ORIGIN rpath), so this only names
        the path recorded in sysconfig and where images put it.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Optional[str], address: Address) -> Optional[str]:
        value = super().compute_value(raw_value, address)
        assert value is not None, "a field with a default"
        if not value.startswith("/") or value.rstrip("/") != value or "//" in value or " " in value:
            raise InvalidFieldException(
                f"The {repr(cls.alias)} field in target {address} must be an absolute path without a trailing "
                f"slash or spaces, like {DEFAULT_PREFIX!r}, but was {value!r}."
            )
        return value


class PythonRuntimeConfigureArgsField(StringSequenceField):
    alias = "extra_configure_args"
    default = ()
    help = softwrap(
        """
        Extra `./configure` arguments, appended after the plugin's flag table (see
        `pants_oci/runtime/configure_flags.py` for each default flag and why it is there). Example:
        `extra_configure_args=["--with-computed-gotos"]`. Options the plugin decides are refused before
        anything is built, with the field to use instead: `--prefix` (the `prefix` field), `--enable-shared`,
        `--with-lto`/`--enable-optimizations` (the `optimizations` field), `--with-ensurepip` (`include`).
        """
    )


TOOLCHAINS = ("build-root", "host")


class PythonRuntimeToolchainField(StringField):
    alias = "toolchain"
    valid_choices = TOOLCHAINS
    default = "build-root"
    help = softwrap(
        """
        What compiles CPython. `build-root` (the default): a tree unpacked from pinned, signature-verified
        Debian packages (the compiler, binutils, make, libc6-dev, pkg-config and the `-dev` package of every
        module the runtime has), which the compile runs inside, chrooted in a user namespace, seeing nothing
        of the host. Its lock is `3rdparty/debian/<dir>/<name>.build-root.lock.json`, made by
        `./pants generate-lockfiles`; the cache key is the source, the flags, that lock and the plugin's
        scripts, so every machine computes the same key and the same bytes. The host needs only a Linux kernel
        that lets users create user namespaces.

        `host`: compile with the host's `cc` and `-dev` packages (on `[cpython-build].build_search_path`), for
        a host where user namespaces are forbidden. The host toolchain is fingerprinted into the cache key, so
        such a runtime is only shared with machines that have the very same toolchain.
        """
    )


class PythonRuntimeBuildRootPackagesField(StringSequenceField):
    alias = "build_root_packages"
    default = ()
    help = softwrap(
        """
        Debian packages to add to the build root, beyond the toolchain and the `-dev` packages of the runtime's
        modules that it always has: a library an `extra_configure_args` option needs, for example
        `build_root_packages=["libb2-dev"]`. Regenerate the build root's lock after changing it.
        """
    )


class PythonRuntimeBuildRootSuiteField(StringField):
    alias = "build_root_suite"
    default = DEFAULT_SUITE
    value: str
    help = softwrap(
        f"""
        The Debian release the build root's packages come from (default `{DEFAULT_SUITE}`, Debian 13; e.g.
        `build_root_suite="bookworm"` for Debian 12). The runtime's default base comes from the same suite. Keep it
        the suite of the images' base, so the headers the runtime compiles against are those of the libraries it
        loads: an image whose base is another suite is refused. Changing it means relocking the build root and
        the base, and new runtime and image digests.
        """
    )


class PythonRuntimeArchitecturesField(StringSequenceField):
    alias = "architectures"
    default = (BUILD_MACHINE,)
    help = softwrap(
        f"""
        The Debian architectures this runtime is built for: `{BUILD_MACHINE}` (the default: the build machine's,
        compiled natively) and `arm64`, cross-compiled in a build root of its own with Debian's cross compiler
        and the arm64 `-dev` packages (lock `<name>.build-root.arm64.lock.json`, resolve
        `<address>#build-root-arm64`), using this runtime's native build as the build Python. The arm64 runtime's
        module check and complete platform run it under qemu-user inside that build root; its bytecode is
        compiled by the native build of the same version. A cross build does not use PGO: `pgo+lto` is built as
        `lto` for arm64 (a profile of one machine's code does not fit another's).

        `./pants package` writes `<name>.tar.gz` for {BUILD_MACHINE} and `<name>.<arch>.tar.gz` for the others; a
        `python_oci_image` with `platforms` takes the runtime of each platform from here.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Optional[Iterable[str]], address: Address) -> Optional[Tuple[str, ...]]:
        value = super().compute_value(raw_value, address)
        if value is None:
            return value
        unknown = [a for a in value if a not in ARCHITECTURES]
        if unknown or not value or len(set(value)) != len(value):
            problem = (
                f"names {', '.join(repr(a) for a in unknown)}, which the plugin does not build runtimes for"
                if unknown
                else "is empty or lists an architecture twice"
            )
            raise InvalidFieldException(
                f"The {repr(cls.alias)} field in target {address} {problem}. Use some of "
                f"{', '.join(repr(a) for a in ARCHITECTURES)}, each once, e.g. architectures=[\"amd64\", \"arm64\"]."
            )
        return value


class PythonRuntimeTarget(Target):
    alias = "python_runtime"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        PythonRuntimeVersionField,
        PythonRuntimeSha256Field,
        PythonRuntimeSizeField,
        PythonRuntimeSourceFilenameField,
        PythonRuntimeOptimizationsField,
        PythonRuntimeArchitecturesField,
        PythonRuntimePgoProfileField,
        PythonRuntimePgoProfileSha256Field,
        PythonRuntimeRequiredModulesField,
        PythonRuntimeOptionalModulesField,
        PythonRuntimeIncludeField,
        PythonRuntimeBytecodeField,
        PythonRuntimePrefixField,
        PythonRuntimeConfigureArgsField,
        PythonRuntimeToolchainField,
        PythonRuntimeBuildRootPackagesField,
        PythonRuntimeBuildRootSuiteField,
        OutputPathField,
    )
    help = softwrap(
        """
        A CPython interpreter compiled from a pinned, sha256-verified source tarball inside a sandboxed,
        cacheable Pants process, by a compiler and headers from pinned Debian packages (its build root; see the
        `toolchain` field), never the host's.

        The build uses the configure flags Debian and the official image use, Debian's hardening flags, a
        shared libpython found through a $ORIGIN rpath, and fails if any required stdlib module was not built
        (naming the -dev package to install). The tree is trimmed (no tests, idlelib, tkinter, ensurepip,
        static libraries), stripped, free of build paths, and reproducible, so a remote cache can share it.

        `pants package` writes a reproducible `.tar.gz` of the tree and its Pex complete platform to `dist/`
        (and, for a PGO runtime, the profile it was optimized with).

        Example:

            python_runtime(name="py313", version="3.13.5")
        """
    )
