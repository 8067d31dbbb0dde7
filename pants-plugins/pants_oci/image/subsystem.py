"""`[oci-image]`: repo-wide settings for `python_oci_image` targets."""
from pants.option.option_types import BoolOption, IntOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import softwrap

from pants_oci.oci.determinism import DEFAULT_EPOCH


class PythonOciImageSubsystem(Subsystem):
    options_scope = "oci-image"
    help = "Settings for `python_oci_image` targets."

    source_date_epoch = IntOption(
        default=None,
        help=softwrap(
            f"""
            The timestamp (seconds since 1970) every file in the image's layers carries and the image config's
            `created` date. Unset (the default), the `SOURCE_DATE_EPOCH` environment variable is used if set
            (the reproducible-builds convention), else {DEFAULT_EPOCH} (1980-01-01T00:00:00Z). A constant, not
            the commit date, so an unchanged layer keeps its digest from one commit to the next.
            """
        ),
        advanced=True,
    )

    plain_http_localhost = BoolOption(
        default=False,
        help=softwrap(
            """
            Let `./pants publish` talk plain HTTP to a registry on localhost (127.0.0.1, ::1), such as a test
            registry. Registries anywhere else are always reached over HTTPS.
            """
        ),
    )
    publish_chunk_size = IntOption(
        default=16 * 1024 * 1024,
        help="Blobs bigger than this many bytes are uploaded in chunks of this size (PATCH); smaller ones in one PUT.",
        advanced=True,
    )
