"""PGO profiles: what one records about the build it was made for, and whether a pinned one fits a runtime.

A profile is the archive the profile step writes (`pgo-profile.tar.gz`): the training's .gcda files under `gcda/`,
the GCC version that made them (`gcc-version`, checked inside the compile, where the compiler is), and
`pgo-profile.json`, the manifest made here. Pure; no Pants imports.
"""
import io
import json
import tarfile
from typing import List, Optional

from pants_oci.errors import PantsOciError
from pants_oci.runtime import build_plan

PROFILE_FILE = "pgo-profile.tar.gz"
MANIFEST_NAME = "pgo-profile.json"
FORMAT = 1


class PgoProfileError(PantsOciError, ValueError):
    """A pinned profile that cannot be used; the message names the target, the field and the fix."""


def manifest(spec: build_plan.RuntimeSpec, training_sha256: str) -> str:
    """The manifest of a profile made for `spec`: what must match for it to be valid elsewhere."""
    return json.dumps(
        {
            "format": FORMAT,
            "cpython": spec.version,
            "optimizations": spec.optimizations,
            "configure_args": build_plan.all_configure_args(spec),
            "training_sha256": training_sha256,
        },
        sort_keys=True,
    )


def pin_problem(address: str, optimizations: str, profile: Optional[str], sha256: Optional[str]) -> Optional[str]:
    """Why the `pgo_profile` fields of a target cannot work together, before anything is read or built."""
    if profile is None and sha256 is None:
        return None
    if "pgo" not in optimizations.split("+"):
        field = "pgo_profile" if profile is not None else "pgo_profile_sha256"
        return (
            f"The `{field}` field of {address} pins a PGO profile, but `optimizations` is {optimizations!r}, which "
            f'does not use one. Remove the field, or use optimizations="pgo+lto".'
        )
    if sha256 is None:
        return (
            f"The `pgo_profile` field of {address} is {profile!r} without `pgo_profile_sha256`. A profile is pinned "
            f'by its digest: add pgo_profile_sha256="<sha256 of {profile}>" (`./pants package` prints it).'
        )
    if profile is None:
        return (
            f"The `pgo_profile_sha256` field of {address} is set without `pgo_profile`. Add "
            f'pgo_profile="<name>.pgo-profile.tar.gz" (the file `./pants package {address}` wrote), or remove it.'
        )
    return None


def digest_mismatch(address: str, path: str, pinned: str, actual: str) -> str:
    return (
        f"The `pgo_profile` file {path} of {address} has sha256 {actual}, but `pgo_profile_sha256` is {pinned}. "
        f"A profile that does not match its pin is never used. Restore the pinned file, or, if you replaced it on "
        f'purpose, set pgo_profile_sha256="{actual}".'
    )


def read_manifest(address: str, path: str, archive: bytes) -> dict:
    """The manifest inside a profile archive, or an error saying the file is not one."""
    not_a_profile = (
        f"The `pgo_profile` file {path} of {address} is not a PGO profile archive ({{}}). Use the "
        f"`<name>.pgo-profile.tar.gz` that `./pants package` writes for a runtime with PGO."
    )
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            member = tar.extractfile(f"./{MANIFEST_NAME}")
            data = member.read() if member else b""
    except (tarfile.TarError, KeyError, OSError, EOFError) as e:
        raise PgoProfileError(not_a_profile.format(f"no readable {MANIFEST_NAME}: {e}")) from e
    try:
        found = json.loads(data)
    except ValueError as e:
        raise PgoProfileError(not_a_profile.format(f"{MANIFEST_NAME} is not JSON: {e}")) from e
    if not isinstance(found, dict) or found.get("format") != FORMAT:
        raise PgoProfileError(not_a_profile.format(f"format {found.get('format') if isinstance(found, dict) else '?'}"))
    return found


def mismatch(address: str, path: str, found: dict, spec: build_plan.RuntimeSpec) -> Optional[str]:
    """Why a pinned profile was made for another build than `spec`, or None when it fits."""
    fix = (
        f"Make a new profile: remove `pgo_profile` and `pgo_profile_sha256`, run ./pants package {address}, "
        f"commit the `.pgo-profile.tar.gz` it writes and pin it again."
    )
    if found.get("cpython") != spec.version:
        return (
            f"The `pgo_profile` file {path} of {address} was made for CPython {found.get('cpython')}, and this "
            f"runtime is {spec.version}. {fix}"
        )
    made_with: List[str] = list(found.get("configure_args", []))
    wanted = build_plan.all_configure_args(spec)
    if made_with != wanted:
        only_profile = [a for a in made_with if a not in wanted]
        only_runtime = [a for a in wanted if a not in made_with]
        return (
            f"The `pgo_profile` file {path} of {address} was made with other ./configure arguments (only in the "
            f"profile: {only_profile or 'none'}; only in this runtime: {only_runtime or 'none'}). {fix}"
        )
    return None
