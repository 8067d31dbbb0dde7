"""`[debian]`: where Debian packages come from."""
from pants.option.option_types import StrOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import softwrap


class DebianSubsystem(Subsystem):
    options_scope = "debian"
    help = "Settings for `debian_packages` targets: the Debian archive their packages come from."

    archive_url = StrOption(
        default=None,
        help=softwrap(
            """
            Base URL of the Debian archive (the directory holding `dists/` and `pool/`). Unset (the default), the
            first Debian archive named in this machine's apt sources is used, so no mirror is written into the
            repository. Locks pin sha256 and size, so any mirror gives the same bytes.
            """
        ),
    )
