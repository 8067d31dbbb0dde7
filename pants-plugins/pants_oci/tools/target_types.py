"""The `debian_tools` target: programs from pinned Debian packages that run on the host, with nothing installed."""
from pants.core.goals.package import OutputPathField
from pants.engine.target import COMMON_TARGET_FIELDS, Target
from pants.util.strutil import softwrap

from pants_oci.debian.target_types import (
    DebianArchitectureField,
    DebianLockfileField,
    DebianSuiteField,
    PackageNamesField,
)


class DebianToolsPackagesField(PackageNamesField):
    alias = "packages"
    required = True
    help = softwrap(
        """
        Debian binary packages whose programs to run on the host, by name; their Depends and Pre-Depends (the
        libraries they load, libc6 and its dynamic loader among them) are added when locking. Each listed
        package's programs get a launcher in `bin/`. List `patchelf` alongside `runc` (see the target's help).
        Example: `packages=["skopeo", "umoci", "runc", "patchelf"]`.
        """
    )


class DebianToolsTarget(Target):
    alias = "debian_tools"
    core_fields = (
        *COMMON_TARGET_FIELDS,
        DebianToolsPackagesField,
        DebianSuiteField,
        DebianArchitectureField,
        DebianLockfileField,
        OutputPathField,
    )
    help = softwrap(
        """
        Command-line programs from pinned Debian packages, unpacked into a directory that runs on this machine
        without installing anything: the tools a test or a script needs (skopeo, a registry, openssl, ...), the
        same on every machine, with no `apt-get install` in CI.

        The packages are locked like a `debian_packages` base (`./pants generate-lockfiles --resolve=<address>`:
        versions from the suite, `-updates` and `-security`, checked against Debian's signed indexes) and each
        .deb is checked against the lock. `./pants package` writes `root/` (the unpacked packages) and `bin/`,
        one launcher per program, which runs it with the tree's own dynamic loader and libraries, never the
        host's: the host needs only a Linux kernel and /bin/sh. A test gets the directory in its sandbox with
        `runtime_package_dependencies`.

        runc re-executes itself through /proc/self/exe, so its launcher runs a copy patched with `patchelf` (a
        package this target must then list) for the directory's location, made on first use in
        `$PANTS_OCI_PATCHED_TOOLS` or beside the launchers.

        Example:

            debian_tools(
                name="test-tools",
                packages=["skopeo", "umoci", "runc", "patchelf"],
            )
        """
    )
