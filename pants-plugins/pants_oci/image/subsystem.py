"""`[oci-image]`: repo-wide settings for `python_oci_image` targets."""
from typing import Any

from pants.option.option_types import (
    BoolOption,
    DictOption,
    EnumOption,
    FloatOption,
    IntOption,
    StrListOption,
    StrOption,
)
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
    write_archive = BoolOption(
        default=True,
        help=softwrap(
            """
            Whether `./pants package` writes each image's OCI archive, `<name>.tar`, beside its layout directory
            (for `podman load -i`, `docker load -i` and `skopeo copy oci-archive:`). The archive repeats every blob
            of the layout directory, so what writing it costs grows with the image (for the example's image,
            nothing measurable on a quiet machine: 1.70 s per one-line change with it, 1.68 s without;
            docs/benchmarks.md, "Inner loop"). `--no-oci-image-write-archive`, or `write_archive = false` under
            `[oci-image]` in a personal `.pants.rc`, skips it for a fast edit-and-build loop; the image, its
            digest, the layout directory (`skopeo copy oci:<dir>`, `podman pull oci:<dir>`) and `./pants publish`
            are the same either way, and `<name>.oci-info.json` then says `"archive": null`.
            """
        ),
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
        help=softwrap(
            """
            Blobs bigger than this many bytes are uploaded in chunks of this size (PATCH); smaller ones in one PUT.
            Either way a blob streams from disk, so memory does not grow with it; a failed chunk is retried alone.
            Default: 16 MiB (16777216); e.g. 5242880 for a registry that caps request bodies at 5 MiB.
            """
        ),
        advanced=True,
    )

    registries = DictOption[Any](
        help=softwrap(
            """
            The registries `./pants publish` pushes to, by alias, as `[docker].registries` does for Pants' docker
            backend: `{"local": {"address": "localhost:5000", "default": true}, "ecr": {"address":
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "repository": "team-a/{name}", "skip_push": false}}`.
            `address` is a registry host (with a port and a path prefix if wanted); `default` registries (and a
            registry whose alias is `default`) take every image whose `registries` field is not given; `repository`
            is a template for the repository path on that registry (else `default_repository`); `skip_push`
            leaves that registry out of `publish`. A target's `registries=["@ecr"]` picks registries by alias (or
            gives an address). An image whose `repository` starts with a host goes to that host alone.
            Default: no registry.
            """
        ),
    )
    default_repository = StrOption(
        default="{repository}",
        help=softwrap(
            """
            The repository path of an image on a registry of `registries` that sets no `repository` template.
            Placeholders: `{name}` (the target's name), `{directory}` and `{parent_directory}` (the last parts of
            its BUILD file's directory) and `{repository}` (its `repository` field, or its name). Default:
            `{repository}`; e.g. `apps/{directory}`.
            """
        ),
    )
    publish_retries = IntOption(
        default=5,
        help=softwrap(
            """
            How many times `./pants publish` retries one request after a 429, a 5xx or a dropped connection, with
            exponential backoff and jitter (and the registry's `Retry-After`, up to 30 s per wait). Default: 5;
            0 turns retries off.
            """
        ),
        advanced=True,
    )
    publish_retry_seconds = FloatOption(
        default=300.0,
        help=softwrap(
            """
            The most one request may spend waiting between retries; then the publish fails, having changed no
            tag. Default: 300 (e.g. 60 for a CI job that should fail fast).
            """
        ),
        advanced=True,
    )
    publish_debug = BoolOption(
        default=False,
        help=softwrap(
            """
            Log which credential source answered for each registry (the environment, a credential helper and
            the setting that named it, an `auths` entry and its file; never the secret), each auth challenge and
            every request with its status. Default: false; e.g. `./pants --oci-image-publish-debug publish ::`.
            """
        ),
    )
    publish_env_vars = StrListOption(
        default=[],
        help=softwrap(
            """
            More environment variables for the push and the credential helpers it runs, beyond HOME, PATH, the
            docker and podman config variables, OCI_REGISTRY_USERNAME/PASSWORD, proxies and CA settings. A helper
            needs its own: e.g. `["AWS_PROFILE", "AWS_REGION"]` for docker-credential-ecr-login,
            `["CLOUDSDK_CONFIG"]` for docker-credential-gcloud. `NAME=value` sets a value. Default: none.
            """
        ),
        advanced=True,
    )
