"""Is the pex CLI Pants runs new enough for a runtime? Pure; no Pants imports.

An image's third-party requirements are resolved and installed by the pex CLI that Pants runs (`[pex-cli]`), for
the runtime's interpreter. Pants 2.17's default, pex 2.1.137 (2023), predates CPython 3.12: its universal locks
hold no cp312/cp313 wheels, and the PEX files it writes fail to start on 3.12+ (`pkgutil.ImpLoader` is gone). So
an image on a 3.12+ runtime needs a newer pex, which a repository selects in its `pants.toml`; without it the
build would compile the runtime and then fail in the resolve with an error that does not say why.

MINIMUM is the oldest release this is tested with: the scratch-repository tests (tests/python) run it, as an
adopter following the README would; this repository's own `./pants` launcher runs a newer one (2.105.2).
RELEASED_PEX_* describe MINIMUM's `pex` file as published on pex's release page, for `[pex-cli].known_versions`:
the values Pants itself pins for that release (pantsbuild/pants commit 3d4c9094d39e, 2026-08-19,
src/python/pants/backend/python/util_rules/pex_cli.py), not computed here, since the release page is not
reachable from the machines this plugin is developed on.
"""
from typing import Optional, Tuple

MINIMUM = "2.100.5"
RELEASED_PEX_SHA256 = "533ca442cf4cf802e966b3c7f866746c775176a6d32d9d96c9a777b6c13bdbd1"
RELEASED_PEX_SIZE = 5312775
# The runtimes that need MINIMUM: CPython 3.12 and later.
FIRST_VERSION_NEEDING_IT = (3, 12)


def _release(version: str) -> Tuple[int, ...]:
    """`v2.105.2` or `2.105.2` as (2, 105, 2); pex releases are plain dotted integers."""
    return tuple(int(part) for part in version.lstrip("v").split("."))


def predates_minimum(pex_cli_version: str) -> bool:
    """Is `pex_cli_version` ("v2.1.137") a release older than MINIMUM? A custom build (not a release number) is
    trusted."""
    try:
        return _release(pex_cli_version) < _release(MINIMUM)
    except ValueError:
        return False


def pants_toml_lines(sha256: str, size: int, version: str = MINIMUM, url_template: str = "") -> str:
    """The `[pex-cli]` section that selects pex `version` (MINIMUM: its published `pex` file), whose file has this
    sha256 and size; `url_template` where that file is not the published one (built from PyPI, offline)."""
    known = ",\n".join(
        f'  "v{version}|{platform}|{sha256}|{size}"'
        for platform in ("linux_x86_64", "linux_arm64", "macos_x86_64", "macos_arm64")
    )
    url = f'url_template = "{url_template}"\n' if url_template else ""
    return f'[pex-cli]\nversion = "v{version}"\n{url}known_versions = [\n{known},\n]'


def _needs_minimum(python_version: str) -> bool:
    return bool(python_version) and tuple(int(part) for part in python_version.split(".")[:2]) >= (
        FIRST_VERSION_NEEDING_IT
    )


def pex_cli_problem(
    image: str, runtime: str, runtime_version: str, pex_cli_version: str, fix: str, tools_python: str = ""
) -> Optional[str]:
    """Why the pex CLI `pex_cli_version` cannot build `image` on `runtime` (CPython `runtime_version`), or run on
    the [container-tools] Python (`tools_python`, "3.13") that starts it, with the `pants.toml` lines (`fix`) that
    select one that can; None when it can."""
    if not _needs_minimum(runtime_version) and not _needs_minimum(tools_python):
        return None
    if not predates_minimum(pex_cli_version):
        return None
    if not _needs_minimum(runtime_version):
        return (
            f"The requirements of the image {image} are resolved by pex running on the Python of "
            f"[container-tools] ({tools_python}, from its Debian lock), and pex files before pex {MINIMUM} do not "
            f"start on Python 3.12 and later, but Pants is configured to run pex {pex_cli_version.lstrip('v')} "
            f"(`[pex-cli].version`, Pants 2.17's default). Add to pants.toml:\n\n{fix}\n\n(regenerate the Python "
            f"lockfiles afterwards: `pants generate-lockfiles`), or lock [container-tools] from a suite whose Python "
            f'is older (`[container-tools].suite = "bookworm"`). Nothing was built.'
        )
    return (
        f"The image {image} runs CPython {runtime_version} (the runtime {runtime}), whose third-party wheels and "
        f"PEX files need pex {MINIMUM} or newer, but Pants is configured to run pex {pex_cli_version.lstrip('v')} "
        f"(`[pex-cli].version`; Pants 2.17's default predates CPython 3.12: its locks hold no wheels for 3.12+ and "
        f"its PEX files do not start there). Add to pants.toml:\n\n{fix}\n\n"
        f"(regenerate the Python lockfiles afterwards: `pants generate-lockfiles`). Nothing was built."
    )
