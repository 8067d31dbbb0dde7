"""`[debian]`: where Debian packages come from and how their archives are verified."""
from pants.option.option_types import IntOption, StrListOption, StrOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import softwrap


class DebianSubsystem(Subsystem):
    options_scope = "debian"
    help = softwrap(
        """
        Settings for the Debian packages of bases: the archives they come from and how those are verified. Locks
        are resolved against `<suite>`, `<suite>-updates` (main archive) and `<suite>-security` (security
        archive), taking each package's highest version; every index is checked against its archive's signed
        `InRelease` file before it is read.
        """
    )

    archive_url = StrOption(
        default=None,
        help=softwrap(
            """
            Base URL of the Debian archive (the directory holding `dists/` and `pool/`), e.g.
            `https://mirror.example/debian`. Unset (the default), the first Debian archive named in this
            machine's apt sources is used, so no mirror is written into the repository. Locks pin sha256 and
            size, so any mirror gives the same bytes.
            """
        ),
    )
    security_archive_url = StrOption(
        default=None,
        help=softwrap(
            """
            Base URL of the Debian security archive, where `<suite>-security` lives and security fixes are
            published first, e.g. `https://mirror.example/debian-security`. Unset (the default), the first
            `.../debian-security` archive in this machine's apt sources is used.
            """
        ),
    )
    unsigned_archives = StrListOption(
        default=[],
        help=softwrap(
            """
            Archive base URLs whose `InRelease` files are NOT signature-checked, for private mirrors that do not
            sign (their indexes are still checked against the Release file's hashes). Every other archive must be
            signed by a key the plugin pins (`pants_oci/debian/keyring.py`); there is no silent fallback. Example:
            `["https://apt.internal.example/debian"]`.
            """
        ),
        advanced=True,
    )
    max_release_age = IntOption(
        default=30,
        help=softwrap(
            """
            Refuse the signed Release file of `<suite>-updates` or `<suite>-security` when it has no `Valid-Until`
            and its `Date` is more than this many days old (default: 30; 0 disables). Without it, a mirror (or
            anyone between it and you) could serve an old but validly signed index forever and hide every update
            published since; apt has no limit by default. Debian's `bookworm-updates` carries no `Valid-Until` and
            is re-dated whenever updates land (days to a few weeks apart); suites that carry one (the security
            archive, `trixie-updates`) are checked against it instead. The release suite itself (`bookworm`) is
            exempt: Debian re-dates it only at point releases, months apart, and never again once the release
            is archived. Rollback behind a lock's own Release dates is refused whatever this says. Example: `45`.
            """
        ),
        advanced=True,
    )
    verification_time = IntOption(
        default=None,
        help=softwrap(
            """
            Check signatures, key expiry and Release `Valid-Until` dates as of this time (seconds since 1970)
            instead of now. Unset (the default) is now; set it only to re-check what an archive served in the past,
            or in tests of expiry.
            """
        ),
        advanced=True,
    )
