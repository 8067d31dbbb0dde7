"""`[container-tools]`: the container tools `./pants run` starts images with, and the Python the plugin's sandbox
tools run with, from a Debian lock."""
from pants.option.option_types import StrListOption, StrOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import softwrap

from pants_oci.debian.target_types import DEFAULT_SUITE

CONTAINER_TOOLS_RESOLVE = "container-tools"
REQUIRED_PROGRAMS = ("umoci", "runc")
DEFAULT_PACKAGES = ("libpython3-stdlib", "patchelf", "python3-minimal", "python3-venv", "runc", "umoci", "zstd")


class ContainerToolsSubsystem(Subsystem):
    options_scope = "container-tools"
    help = softwrap(
        f"""
        The plugin's own tools, from Debian packages pinned in a lock, like a `debian_tools` target, run with the
        lock's own loader and libraries, so nothing is installed on the host: the Python that runs every step
        of the plugin that Pants caches (assembling bases, unpacking build roots, writing layers and archives,
        resolving and installing an image's requirements), whose bytes and path are the same on every machine,
        so a laptop and a CI runner compute the same cache keys; its zlib writes every gzip layer. And the
        container tools `./pants run` uses on a `python_oci_image` (umoci unpacks the image and runc runs it,
        rootless when Pants runs as a non-root user), and zstd for zstd layers. Lock them with `./pants
        generate-lockfiles --resolve={CONTAINER_TOOLS_RESOLVE}`.
        """
    )

    packages = StrListOption(
        default=list(DEFAULT_PACKAGES),
        help=softwrap(
            """
            The Debian packages to lock. They must provide one Python (python3-minimal and libpython3-stdlib:
            the sandbox tools' interpreter; python3-venv, whose ensurepip lets pex install its own pip on Python
            3.12 and later) and the programs umoci and runc; patchelf makes the copy of runc that
            runs from the unpacked tree (runc re-executes itself through /proc/self/exe); zstd compresses zstd
            layers (`[oci-image].layer_compression`), and can be dropped where no image uses them.
            """
        ),
        advanced=True,
    )
    suite = StrOption(default=DEFAULT_SUITE, help="The Debian suite the tools are locked from.", advanced=True)
    lockfile = StrOption(
        default="3rdparty/debian/container-tools.lock.json",
        help=softwrap(
            f"""
            Where the lock lives, relative to the build root. `./pants generate-lockfiles
            --resolve={CONTAINER_TOOLS_RESOLVE}` writes it (it is part of `./pants generate-lockfiles` when the
            repository has a `python_oci_image`); `./pants debian-updates` reports its pending updates.
            """
        ),
    )
