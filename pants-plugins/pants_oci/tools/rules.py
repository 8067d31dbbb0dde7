"""Host tools from Debian locks: `debian_tools` targets (`./pants package` writes their launchers and tree) and the
`[container-tools]` lock: the tools `./pants run` starts images with, the zstd of zstd layers, and the Python every
sandbox tool of the plugin runs with (`SandboxPython`, see sandbox.py). The locking is the Debian machinery's.

The `[container-tools]` tree is the bootstrap: it is unpacked here, in the rule, from its pinned .debs (pure code,
host_tools.py), because every process that could unpack it would need an interpreter, and the interpreter is in it.
Other host tools are unpacked by a sandbox tool run with that interpreter (`DebianTreeRequest(host_tools=True)`).
"""
from dataclasses import dataclass
from typing import Iterable, List, Tuple, Union

from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, OutputPathField, PackageFieldSet
from pants.engine.fs import AddPrefix, CreateDigest, Digest, DigestContents, Directory, FileContent, SymlinkEntry
from pants.engine.platform import Platform
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.target import Target
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

from pants_oci.debian import host_tools, lockfile
from pants_oci.debian.base_rules import DebianArchiveConfig, DebianLockSpec, DebianTree, DebianTreeRequest, locked_debs
from pants_oci.debian.lockfile import DebianLockError
from pants_oci.debian.target_types import DebianArchitectureField, DebianLockfileField, DebianSuiteField
from pants_oci.oci.tarball import Entry
from pants_oci.sandbox import PYTHON_DIR, SandboxPython, SandboxPythonRequest
from pants_oci.tools.subsystem import CONTAINER_TOOLS_RESOLVE, REQUIRED_PROGRAMS, ContainerToolsSubsystem
from pants_oci.tools.target_types import DebianToolsPackagesField

# The Debian architecture of the programs this machine runs.
HOST_ARCHITECTURES = {Platform.linux_x86_64: "amd64", Platform.linux_arm64: "arm64"}


@dataclass(frozen=True)
class DebianToolsFieldSet(PackageFieldSet):
    required_fields = (DebianToolsPackagesField,)

    packages: DebianToolsPackagesField
    suite: DebianSuiteField
    architecture: DebianArchitectureField
    lockfile: DebianLockfileField
    output_path: OutputPathField

    def spec(self) -> DebianLockSpec:
        return DebianLockSpec(
            str(self.address),
            tuple(sorted(set(self.packages.value or ()))),
            self.suite.value,
            self.architecture.value,
            self.lockfile.path_for(self.address),
        )


def debian_tools_specs(targets: Iterable[Target]) -> List[DebianLockSpec]:
    """The locks of the `debian_tools` targets among `targets`."""
    return [DebianToolsFieldSet.create(t).spec() for t in targets if DebianToolsFieldSet.is_applicable(t)]


@dataclass(frozen=True)
class ContainerToolsSpec:
    spec: DebianLockSpec


@rule(desc="Work out the container tools' Debian lock", level=LogLevel.DEBUG)
async def container_tools_spec(subsystem: ContainerToolsSubsystem) -> ContainerToolsSpec:
    # This machine's, not an environment's: the tools run where `./pants run` runs, which is always locally.
    platform = Platform.create_for_localhost()
    architecture = HOST_ARCHITECTURES.get(platform)
    if architecture is None:
        raise DebianLockError(
            f"`./pants run` on a python_oci_image runs it with umoci and runc from Debian packages, which run on "
            f"Linux (x86-64 or arm64) only, not on {platform.value}. Build the image here and run it elsewhere."
        )
    packages = tuple(sorted(set(subsystem.packages)))
    return ContainerToolsSpec(
        DebianLockSpec(CONTAINER_TOOLS_RESOLVE, packages, subsystem.suite, architecture, subsystem.lockfile)
    )


@dataclass(frozen=True)
class ContainerTools:
    """The [container-tools] lock unpacked for this machine (root/ and bin/): umoci and runc for `./pants run`
    (`bin/umoci`, `bin/runc`), zstd (`bin/zstd`) where the lock has it, and the sandbox tools' Python."""

    tree: Digest  # root/ and bin/
    launchers: Tuple[str, ...]  # the programs in bin/
    packages: Tuple[str, ...]  # what the lock was asked for, for error messages
    python: Tuple[str, ...]  # the argv prefix running its Python, the tree mounted at sandbox.PYTHON_DIR
    python_version: str  # "3.13"


@dataclass(frozen=True)
class ContainerToolsRequest:
    pass


def _digest_entries(entries: List[Entry]) -> List[Union[FileContent, SymlinkEntry, Directory]]:
    """A host tools tree as CreateDigest entries (files, symlinks, empty directories)."""
    made: List[Union[FileContent, SymlinkEntry, Directory]] = []
    for e in entries:
        if e.link_target is not None:
            made.append(SymlinkEntry(e.path, e.link_target))
        elif e.content is not None:
            made.append(FileContent(e.path, e.content, is_executable=host_tools.is_executable(e)))
        else:
            made.append(Directory(e.path))
    return made


@rule(desc="Unpack the container tools", level=LogLevel.DEBUG)
async def container_tools(
    _: ContainerToolsRequest, wanted: ContainerToolsSpec, config: DebianArchiveConfig
) -> ContainerTools:
    spec = wanted.spec
    lock, debs = await locked_debs(spec, config)
    contents = await Get(DigestContents, CreateDigest([d.entry for d in debs]))
    by_path = {fc.path: fc.content for fc in contents}
    pairs = [
        (lockfile.qualified_name(p, lock.architecture), by_path[d.entry.path]) for p, d in zip(lock.packages, debs)
    ]
    try:
        entries, launchers = host_tools.host_tools_entries(pairs, spec.architecture, lock.requested)
        entries, python_version = host_tools.sandbox_python_entries(entries, spec.architecture)
    except host_tools.HostToolsError as e:
        raise DebianLockError(
            f"Cannot unpack the [container-tools] lock {spec.lock_path}: {e}. Set [container-tools].packages and run "
            f"`./pants generate-lockfiles --resolve={CONTAINER_TOOLS_RESOLVE}`."
        ) from e
    missing = [p for p in REQUIRED_PROGRAMS if p not in launchers]
    if missing:
        raise DebianLockError(
            f"[container-tools].packages ({', '.join(spec.packages)}) provide no {' and '.join(missing)}: "
            f"`./pants run` on a python_oci_image needs both. Add the packages that ship them (umoci, runc) and "
            f"run `./pants generate-lockfiles --resolve={CONTAINER_TOOLS_RESOLVE}`."
        )
    tree = await Get(Digest, CreateDigest(_digest_entries(entries)))
    python = (f"{PYTHON_DIR}/{host_tools.PYTHON_WRAPPER}",)
    return ContainerTools(tree, tuple(launchers), spec.packages, python, python_version)


@rule(desc="Find the sandbox tools' Python", level=LogLevel.DEBUG)
async def sandbox_python(_: SandboxPythonRequest) -> SandboxPython:
    tools = await Get(ContainerTools, ContainerToolsRequest())
    return SandboxPython(tools.tree, tools.python, tools.python_version)


@rule(desc="Package Debian tools", level=LogLevel.DEBUG)
async def package_debian_tools(field_set: DebianToolsFieldSet) -> BuiltPackage:
    tools = await Get(DebianTree, DebianTreeRequest(field_set.spec(), host_tools=True))
    path = field_set.output_path.value_or_default(file_ending=None)
    digest = await Get(Digest, AddPrefix(tools.tree, path))
    log: Tuple[str, ...] = (
        f"{tools.packages} Debian packages, {tools.size / 1e6:.1f} MB unpacked",
        "programs in bin/: " + " ".join(tools.launchers),
    )
    return BuiltPackage(digest, (BuiltPackageArtifact(path, extra_log_lines=log),))


def rules():
    return (*collect_rules(), UnionRule(PackageFieldSet, DebianToolsFieldSet))
