"""`[cpython-build]`: repo-wide settings for compiling CPython runtimes."""
from pants.option.option_types import StrListOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import softwrap

PYTHON_ORG_TEMPLATE = "https://www.python.org/ftp/python/{version}/{filename}"
# Debian's source archive carries the upstream tarballs unchanged; {debian_archive} is each archive this
# machine's apt sources name (read at run time), so no mirror is ever written into a repository.
DEBIAN_SOURCE_TEMPLATE = "{debian_archive}/pool/main/p/python{major_minor}/{debian_filename}"


class PythonRuntimeSubsystem(Subsystem):
    options_scope = "cpython-build"
    help = "Settings for `python_runtime` targets: where CPython sources come from, and the host toolchain's PATH."

    source_url_templates = StrListOption(
        default=[PYTHON_ORG_TEMPLATE, DEBIAN_SOURCE_TEMPLATE],
        help=softwrap(
            f"""
            URL templates for CPython source tarballs, tried until one download matches the pinned sha256 and
            size: local `file://` ones first, then the others in the order given. Placeholders: `{{version}}`
            (3.13.5), `{{major_minor}}` (3.13), `{{filename}}` (Python-3.13.5.tar.xz), `{{debian_filename}}`
            (python3.13_3.13.5.orig.tar.xz) and
            `{{debian_archive}}`: each Debian/Ubuntu archive this machine's apt sources name, read at run time
            (a template using it is skipped when there is none). `file://` URLs work, for a local mirror.

            Default: python.org, then the Debian source archive, which carries the same upstream tarballs:
            `["{PYTHON_ORG_TEMPLATE}", "{DEBIAN_SOURCE_TEMPLATE}"]`. To add a mirror filled by
            `build-support/fill_cpython_mirror.py`: `source_url_templates =
            "+['file:///srv/cpython-mirror/{{filename}}']"`, or the environment variable
            `PANTS_CPYTHON_BUILD_SOURCE_URL_TEMPLATES`. A remote mirror goes first in the list: Pants skips a
            download only for a URL that has served the file before, so a URL this machine cannot reach ahead of
            the mirror is tried again, with retries, by every Pants process (seconds each).
            """
        ),
    )
    build_search_path = StrListOption(
        default=["/usr/local/bin", "/usr/bin", "/bin"],
        help=softwrap(
            """
            Only for runtimes with `toolchain="host"` (a build root has its own fixed `PATH`): the `PATH` such a
            build runs with, where it finds the host's C compiler, make, binutils and the usual shell tools.
            Deliberately not your shell's `PATH`, so the cache key is the same on every machine
            and no pyenv shim or virtualenv leaks into the build. The compiler, linker, make and the headers
            and libraries the stdlib modules compile against are fingerprinted into the cache key, so a
            different toolchain never reuses a runtime built by another one.
            """
        ),
        advanced=True,
    )
