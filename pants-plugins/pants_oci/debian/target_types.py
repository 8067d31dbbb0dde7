"""The `debian_packages` target: a base root filesystem from pinned Debian packages."""
import posixpath
import re
from typing import Iterable, Optional

from pants.core.goals.package import OutputPathField
from pants.engine.addresses import Address
from pants.engine.target import (
    COMMON_TARGET_FIELDS,
    BoolField,
    Dependencies,
    InvalidFieldException,
    SpecialCasedDependencies,
    StringField,
    StringSequenceField,
    Target,
)
from pants.util.strutil import softwrap

PACKAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")


class PackageNamesField(StringSequenceField):
    """A list of Debian package names, checked when the BUILD file is read. Each target type subclasses it with its
    own alias and help (not one another, so that a field set of one never applies to the other's targets)."""

    @classmethod
    def compute_value(cls, raw_value: Optional[Iterable[str]], address: Address):
        value = super().compute_value(raw_value, address)
        bad = [name for name in value or () if not PACKAGE_NAME.match(name)]
        if bad:
            raise InvalidFieldException(
                f"The {repr(cls.alias)} field in target {address} has invalid Debian package name(s) "
                f"{', '.join(repr(b) for b in bad)}: names are lowercase letters, digits and + - . (e.g. 'libssl3')."
            )
        return value


class DebianPackagesField(PackageNamesField):
    alias = "packages"
    required = True
    help = softwrap(
        """
        Debian binary packages to install, by name; their Depends and Pre-Depends are added (except those only
        maintainer scripts use, such as debconf and dpkg). Example:
        `packages=["libc6", "libssl3t64", "ca-certificates", "tzdata", "netbase"]` (Debian 13 names).
        """
    )


# Debian 13, the stable release since August 2025. Debian 12 (bookworm) keeps working: set `suite` /
# `build_root_suite` to it (and relock) to stay there.
DEFAULT_SUITE = "trixie"
DEFAULT_ARCHITECTURE = "amd64"


class DebianSuiteField(StringField):
    alias = "suite"
    default = DEFAULT_SUITE
    value: str
    help = softwrap(
        f"""
        The Debian release the packages come from. The lock takes each package's highest version from the suite,
        `<suite>-updates` and the security archive's `<suite>-security`, where security fixes are published
        first. Default: `{DEFAULT_SUITE}` (Debian 13). Example: `suite="bookworm"` for Debian 12; a base for a
        `python_runtime` must be of the suite of the runtime's `build_root_suite`.
        """
    )


class DebianArchitectureField(StringField):
    alias = "architecture"
    default = DEFAULT_ARCHITECTURE
    value: str
    valid_choices = ("amd64", "arm64")
    help = "The Debian architecture of the packages: `amd64` (default) or `arm64`."


def default_lock_path(address: Address, suffix: str = "") -> str:
    """`3rdparty/debian/<directory of the BUILD file>/<target name><suffix>.lock.json`: one path per address, so two
    bases with the same name in different directories never share (and overwrite) a lock."""
    return posixpath.join("3rdparty/debian", address.spec_path, f"{address.target_name}{suffix}.lock.json")


class DebianLockfileField(StringField):
    alias = "lockfile"
    help = softwrap(
        """
        Where the lock lives, relative to the build root. Default:
        `3rdparty/debian/<directory of the BUILD file>/<target name>.lock.json`, e.g.
        `3rdparty/debian/src/python/runtimes/base.lock.json`. `./pants generate-lockfiles --resolve=<this
        target's address>` writes it; builds only read it. Two targets may not use the same lock file.
        """
    )

    def path_for(self, address: Address) -> str:
        return self.value or default_lock_path(address)


class DebianRuntimesField(SpecialCasedDependencies):
    alias = "runtimes"
    help = softwrap(
        """
        `python_runtime` targets whose run-time libraries this base must provide: libc6 and the Debian packages
        of the libraries its extension modules load, which follow from the runtime's `required_modules` and
        `optional_modules` (so locking compiles nothing); every image's ELF closure check proves them. Example:
        `runtimes=["src/python/runtimes:py313"]`.
        """
    )


class DebianDependenciesField(Dependencies):
    help = softwrap(
        """
        Other targets the base depends on. The runtimes in `runtimes` are dependencies already, inferred from that
        field, so a change to a runtime selects its base (and the images on it) in `--changed-dependents`.
        """
    )


class DebianKeepDocsField(BoolField):
    alias = "keep_docs"
    default = False
    help = (
        "Keep /usr/share/doc, man pages, info pages and locales (dropped by default; copyright files are always kept)."
    )


class DebianKeepGconvField(BoolField):
    alias = "keep_gconv"
    default = False
    help = softwrap(
        """
        Keep glibc's iconv modules (`/usr/lib/<arch>/gconv`, about 8 MB), dropped by default: Python's own codecs
        never load them. Keep them when a native library in a wheel converts between charsets with iconv(3)
        (libxml2 with a document in, say, EBCDIC or Shift_JIS): without them only UTF-8, ASCII and Latin-1 work.
        """
    )


class DebianPackagesTarget(Target):
    alias = "debian_packages"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        DebianDependenciesField,
        DebianPackagesField,
        DebianSuiteField,
        DebianArchitectureField,
        DebianLockfileField,
        DebianRuntimesField,
        DebianKeepDocsField,
        DebianKeepGconvField,
        OutputPathField,
    )
    help = softwrap(
        """
        A base root filesystem built from pinned Debian packages, the way distroless builds its images: the
        packages' files (no docs), `/var/lib/dpkg/status.d` entries so scanners see them, `/etc/passwd` and
        `/etc/group` with root and nonroot (65532), `/tmp` (1777) and the CA bundle. No shell, no package manager.

        The package list is resolved into a lock (`./pants generate-lockfiles`) that pins every package of the
        dependency closure by version, archive, pool path, sha256 and size, taking each package's highest version
        from the suite, `-updates` and `-security`, from indexes verified against Debian's signed `InRelease`
        files; builds download exactly those files. `./pants package` writes the base as a reproducible
        `.tar.gz`. An image whose runtime no `debian_packages` target lists gets a default base (see
        `python_oci_image`'s `base` field).

        Example:

            debian_packages(
                name="base",
                packages=["libc6", "ca-certificates", "tzdata", "netbase"],
                runtimes=[":py313"],
            )
        """
    )
