"""Can a Python lock serve a runtime? Checked before anything is compiled or resolved. Pure; no Pants imports.

An image installs its app's third-party requirements from the binary's locked resolve, picking wheels for the
runtime's interpreter (cp313, manylinux, x86_64). A requirement whose lock entry has wheels for other
interpreters only (cp311/cp312 native wheels plus an sdist) cannot be installed for the runtime without
compiling the sdist, and the only interpreter Pants has for that is its own, not the runtime. So the walk below
finds, from the binary's requirements through the lock's dependency graph (markers evaluated for the runtime),
every locked project that ships wheels but none the runtime can load, and the error names the runtime, the
project and the wheels that exist. Projects that ship only an sdist are left to the resolve: they are usually
pure Python, and building one does not depend on the interpreter.

Only the interpreter, ABI and architecture are checked here; the glibc level of manylinux wheels is checked
by the resolve against the runtime's complete platform, and the ELF closure check proves the result loads.
"""
import json
import warnings
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

# packaging 21.3 (which ships with pantsbuild.pants) builds its grammar with pyparsing APIs that newer pyparsing
# releases deprecate; those warnings would show on every Pants run, so they are silenced here and in _parse.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from packaging.requirements import InvalidRequirement, Requirement  # pants: no-infer-dep

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename  # pants: no-infer-dep

from pants_oci.errors import PantsOciError
from pants_oci.image.plan import constraints_admit
from pants_oci.runtime.complete_platform import compatible_tags


class LockServesRuntimeError(PantsOciError, ValueError):
    """A lock that cannot provide a runtime's wheels; the message names the runtime, the project and the fix."""


@dataclass(frozen=True)
class LockedProject:
    name: str  # canonical (PEP 503) name
    version: str
    requires_dists: Tuple[str, ...]
    artifacts: Tuple[str, ...]  # file names
    sha256s: Tuple[Tuple[str, str], ...] = ()  # (file name, sha256) of the artifacts the lock pins

    @property
    def wheels(self) -> Tuple[str, ...]:
        return tuple(a for a in self.artifacts if a.endswith(".whl"))


@dataclass(frozen=True)
class PythonLock:
    requires_python: Tuple[str, ...]
    projects: Dict[str, LockedProject]


@dataclass(frozen=True)
class RuntimePlatform:
    """What a wheel must fit: CPython `version` on Linux `machine`."""

    version: str  # e.g. 3.13.5
    machine: str = "x86_64"

    @property
    def version_info(self) -> Tuple[int, int]:
        major, minor = self.version.split(".")[:2]
        return int(major), int(minor)

    def markers(self) -> Dict[str, str]:
        """The PEP 508 environment the runtime has (what its complete platform records)."""
        major, minor = self.version_info
        return {
            "implementation_name": "cpython",
            "implementation_version": self.version,
            "os_name": "posix",
            "platform_machine": self.machine,
            "platform_python_implementation": "CPython",
            "platform_system": "Linux",
            "python_full_version": self.version,
            "python_version": f"{major}.{minor}",
            "sys_platform": "linux",
            "platform_release": "",
            "platform_version": "",
        }

    def interpreter_abis(self) -> Set[Tuple[str, str]]:
        """(interpreter, abi) pairs the runtime loads: cp313-cp313, cp3x-abi3, py3-none, ..."""
        pairs = set()
        for tag in compatible_tags(self.version_info, ["any"]):
            interpreter, abi, _ = tag.split("-")
            pairs.add((interpreter, abi))
        return pairs

    def platform_fits(self, platform: str) -> bool:
        if platform == "any":
            return True
        return platform.endswith("_" + self.machine) and (
            platform.startswith("manylinux") or platform == f"linux_{self.machine}"
        )


def parse_pex_lock(text: str) -> PythonLock:
    """A Pex lock as Pants writes it: a `//` comment header, then JSON."""
    document = json.loads("\n".join(line for line in text.splitlines() if not line.startswith("//")))
    projects: Dict[str, LockedProject] = {}
    for resolve in document.get("locked_resolves", []):
        for locked in resolve.get("locked_requirements", []):
            name = canonicalize_name(locked["project_name"])
            pinned = [
                (a["url"].rsplit("/", 1)[-1], a.get("algorithm"), a.get("hash")) for a in locked.get("artifacts", [])
            ]
            sha256s = tuple((filename, digest) for filename, algorithm, digest in pinned if algorithm == "sha256")
            projects[name] = LockedProject(
                name,
                locked["version"],
                tuple(locked.get("requires_dists", ())),
                tuple(f for f, _, _ in pinned),
                sha256s,
            )
    return PythonLock(tuple(document.get("requires_python", ())), projects)


def wheel_fits(filename: str, platform: RuntimePlatform) -> bool:
    try:
        _, _, _, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return False
    abis = platform.interpreter_abis()
    return any((t.interpreter, t.abi) in abis and platform.platform_fits(t.platform) for t in tags)


def installed_wheel_sha256(project: LockedProject, platform: RuntimePlatform) -> Optional[str]:
    """The sha256 of the wheel the runtime installs, when exactly one locked wheel fits it (else unknown: which of
    several fitting wheels the resolve took is the resolver's choice, and a guess would be a false hash)."""
    fitting = [
        digest for filename, digest in project.sha256s if filename.endswith(".whl") and wheel_fits(filename, platform)
    ]
    return fitting[0] if len(fitting) == 1 else None


def _applies(requirement: Requirement, markers: Dict[str, str], extras: Iterable[str]) -> bool:
    if requirement.marker is None:
        return True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return any(requirement.marker.evaluate({**markers, "extra": extra}) for extra in ("", *extras))


def _parse(text: str) -> Optional[Requirement]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return Requirement(text)
    except InvalidRequirement:
        return None  # a URL or path requirement Pants passes through; not a locked project


def needed_projects(lock: PythonLock, roots: Sequence[str], platform: RuntimePlatform) -> List[LockedProject]:
    """The locked projects the runtime installs for `roots` (requirement strings), in dependency order."""
    markers = platform.markers()
    pending = [r for r in map(_parse, roots) if r is not None and _applies(r, markers, ())]
    seen: Dict[str, Set[str]] = {}  # project -> the extras asked of it so far
    order: List[LockedProject] = []
    while pending:
        requirement = pending.pop(0)
        name = canonicalize_name(requirement.name)
        project = lock.projects.get(name)
        extras = set(requirement.extras)
        if project is None or (name in seen and extras <= seen[name]):
            continue
        if name not in seen:
            order.append(project)
        seen[name] = seen.get(name, set()) | extras
        for text in project.requires_dists:
            dependency = _parse(text)
            if dependency is not None and _applies(dependency, markers, sorted(seen[name])):
                pending.append(dependency)
    return order


@dataclass(frozen=True)
class UnservedProject:
    project: LockedProject

    def describe(self) -> str:
        wheel_tags = sorted({"-".join(_short_tags(w)) for w in self.project.wheels})
        sdists = [a for a in self.project.artifacts if not a.endswith(".whl")]
        have = f"wheels only for {', '.join(wheel_tags)}"
        if sdists:
            have += f", and the sdist {sdists[0]}"
        return f"{self.project.name} {self.project.version}: {have}"


def _short_tags(wheel: str) -> Tuple[str, str]:
    """`cp312-cp312` from a wheel name: which interpreter and ABI it was built for."""
    parts = wheel[: -len(".whl")].split("-")
    return parts[-3], parts[-2]


def unserved_projects(lock: PythonLock, roots: Sequence[str], platform: RuntimePlatform) -> List[UnservedProject]:
    return [
        UnservedProject(p)
        for p in needed_projects(lock, roots, platform)
        if p.wheels and not any(wheel_fits(w, platform) for w in p.wheels)
    ]


@dataclass(frozen=True)
class LockContext:
    """Who asks, for the error message."""

    image: str
    binary: str
    runtime: str
    resolve: str
    lock_path: str


def check_lock_serves_runtime(
    lock_text: str, roots: Sequence[str], platform: RuntimePlatform, context: LockContext
) -> None:
    """Raise LockServesRuntimeError when the lock cannot install `roots` (requirement strings) for the runtime."""
    lock = parse_pex_lock(lock_text)
    regenerate = f"`./pants generate-lockfiles --resolve={context.resolve}`"
    if lock.requires_python and not constraints_admit(lock.requires_python, platform.version):
        raise LockServesRuntimeError(
            f"The 'binary' of target {context.image}, {context.binary}, uses the resolve `{context.resolve}`, whose "
            f"lock {context.lock_path} was generated for {' OR '.join(lock.requires_python)}, which excludes "
            f"CPython {platform.version}, the version of the runtime {context.runtime}: the lock holds no wheels "
            f"for it. Fix: add the runtime's version to the resolve's interpreter constraints "
            f"([python].resolves_to_interpreter_constraints, or [python].interpreter_constraints) and run "
            f"{regenerate}."
        )
    unserved = unserved_projects(lock, roots, platform)
    if unserved:
        major, minor = platform.version_info
        raise LockServesRuntimeError(
            f"The 'binary' of target {context.image}, {context.binary}, needs requirements that have no wheel for "
            f"its runtime {context.runtime} (CPython {platform.version}, linux {platform.machine}, so "
            f"cp{major}{minor} or abi3 wheels) in the lock {context.lock_path} of the resolve `{context.resolve}`:\n"
            + "\n".join(f"  {u.describe()}" for u in unserved)
            + f"\nAn sdist would have to be compiled by Pants' own interpreter, not the runtime, so it is not used. "
            f"Fix: require versions that publish cp{major}{minor} wheels (usually a newer release) and run "
            f"{regenerate}, or use a runtime whose version these wheels support."
        )
