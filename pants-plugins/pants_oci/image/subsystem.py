"""`[oci-image]`: repo-wide settings for `python_oci_image` targets."""
from pants.option.option_types import BoolOption, EnumOption, IntOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import softwrap

from pants_oci.oci.determinism import DEFAULT_EPOCH
from pants_oci.oci.model import LayerCompressionKind


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

    layer_compression = EnumOption(
        default=LayerCompressionKind.gzip,
        help=softwrap(
            """
            How image layers are compressed, unless a `python_oci_image` sets `layer_compression`. `gzip` (media
            type `...tar+gzip`) is what every registry and runtime reads. `zstd` (`...tar+zstd`) makes smaller
            layers that unpack faster, read by containerd 1.5+, podman/CRI-O (containers/image 5.x) and skopeo,
            but not by Docker Engines before 23 or umoci 0.4 (so `./pants run` runs zstd images from gzip layers of
            the same files). zstd is the `zstd` program of the
            [container-tools] lock, run single-threaded at `zstd_level`, so its bytes are as reproducible as gzip's.
            """
        ),
    )
    zstd_level = IntOption(
        default=19,
        help=softwrap(
            """
            The zstd level of zstd layers (1-22; above 19 zstd's `--ultra` levels). A layer is compressed once and
            then cached, so a slow, high level costs once per change; part of every zstd layer's cache key.
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
