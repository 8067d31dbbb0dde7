"""The `debian_packages` target: a base root filesystem from pinned Debian packages."""
import re
from typing import Optional

from pants.core.goals.package import OutputPathField
from pants.engine.addresses import Address
from pants.engine.target import (
    COMMON_TARGET_FIELDS,
    BoolField,
    InvalidFieldException,
    SpecialCasedDependencies,
    StringField,
    StringSequenceField,
    Target,
)
from pants.util.strutil import softwrap

PACKAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")


class DebianPackagesField(StringSequenceField):
    alias = "packages"
    required = True
    help = softwrap(
        """
        Debian binary packages to install, by name; their Depends and Pre-Depends are added (except those only
        maintainer scripts use, such as debconf and dpkg). Example:
        `packages=["libc6", "libssl3", "ca-certificates", "tzdata", "netbase"]`.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Optional[list], address: Address):
        value = super().compute_value(raw_value, address)
        bad = [name for name in value or () if not PACKAGE_NAME.match(name)]
        if bad:
            raise InvalidFieldException(
                f"The {repr(cls.alias)} field in target {address} has invalid Debian package name(s) "
                f"{', '.join(repr(b) for b in bad)}: names are lowercase letters, digits and + - . (e.g. 'libssl3')."
            )
        return value


class DebianSuiteField(StringField):
    alias = "suite"
    default = "bookworm"
    help = "The Debian suite whose Packages index the lock is generated from. Default: `bookworm` (Debian 12)."


class DebianArchitectureField(StringField):
    alias = "architecture"
    default = "amd64"
    valid_choices = ("amd64", "arm64")
    help = "The Debian architecture of the packages: `amd64` (default) or `arm64`."


class DebianLockfileField(StringField):
    alias = "lockfile"
    help = softwrap(
        """
        Where the lock lives, relative to the build root. Default: `3rdparty/debian/<target name>.lock.json`.
        `./pants generate-lockfiles --resolve=<this target's address>` writes it; builds only read it.
        """
    )

    def path_for(self, target_name: str) -> str:
        return self.value or f"3rdparty/debian/{target_name}.lock.json"


class DebianRuntimesField(SpecialCasedDependencies):
    alias = "runtimes"
    help = softwrap(
        """
        `python_runtime` targets whose run-time libraries this base must provide. The plugin reads the
        DT_NEEDED entries of each runtime's ELF files (interpreter, libpython, extension modules) and adds the
        Debian packages that ship those libraries. Example: `runtimes=["src/python/runtimes:py313"]`.
        """
    )


class DebianKeepDocsField(BoolField):
    alias = "keep_docs"
    default = False
    help = "Keep /usr/share/doc, man pages, info pages and locales (dropped by default; copyright files are always kept)."


class DebianPackagesTarget(Target):
    alias = "debian_packages"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        DebianPackagesField,
        DebianSuiteField,
        DebianArchitectureField,
        DebianLockfileField,
        DebianRuntimesField,
        DebianKeepDocsField,
        OutputPathField,
    )
    help = softwrap(
        """
        A base root filesystem built from pinned Debian packages, the way distroless builds its images: the
        packages' files (no docs), `/var/lib/dpkg/status.d` entries so scanners see them, `/etc/passwd` and
        `/etc/group` with root and nonroot (65532), `/tmp` (1777) and the CA bundle. No shell, no package manager.

        The package list is resolved into a lock (`./pants generate-lockfiles`) that pins every package of the
        dependency closure by version, pool path, sha256 and size; builds download exactly those files.
        `./pants package` writes the base as a reproducible `.tar.gz`.

        Example:

            debian_packages(
                name="base",
                packages=["libc6", "ca-certificates", "tzdata", "netbase"],
                runtimes=[":py313"],
            )
        """
    )
