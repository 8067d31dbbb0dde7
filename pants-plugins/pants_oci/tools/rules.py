"""Host tools from Debian locks: `debian_tools` targets (`./pants package` writes their launchers and tree) and the
container tools `./pants run` starts images with (`[container-tools]`). The locking and unpacking are the Debian
machinery's (`DebianBuildRootRequest(host_tools=True)`); this module only says which locks exist and how to name
them."""
from dataclasses import dataclass
from typing import Iterable, List, Tuple

from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, OutputPathField, PackageFieldSet
from pants.engine.fs import AddPrefix, Digest
from pants.engine.platform import Platform
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.target import Target
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

from pants_oci.debian.base_rules import DebianBaseError, DebianBaseSpec, DebianBuildRoot, DebianBuildRootRequest
from pants_oci.debian.target_types import DebianArchitectureField, DebianLockfileField, DebianSuiteField
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

    def spec(self) -> DebianBaseSpec:
        return DebianBaseSpec(
            str(self.address),
            tuple(sorted(set(self.packages.value or ()))),
            self.suite.value,
            self.architecture.value,
            self.lockfile.path_for(self.address),
        )


def debian_tools_specs(targets: Iterable[Target]) -> List[DebianBaseSpec]:
    """The locks of the `debian_tools` targets among `targets`."""
    return [DebianToolsFieldSet.create(t).spec() for t in targets if DebianToolsFieldSet.is_applicable(t)]


@dataclass(frozen=True)
class ContainerToolsSpec:
    spec: DebianBaseSpec


@rule(desc="Work out the container tools' Debian lock", level=LogLevel.DEBUG)
async def container_tools_spec(subsystem: ContainerToolsSubsystem) -> ContainerToolsSpec:
    # This machine's, not an environment's: the tools run where `./pants run` runs, which is always locally.
    platform = Platform.create_for_localhost()
    architecture = HOST_ARCHITECTURES.get(platform)
    if architecture is None:
        raise DebianBaseError(
            f"`./pants run` on a python_oci_image runs it with umoci and runc from Debian packages, which run on "
            f"Linux (x86-64 or arm64) only, not on {platform.value}. Build the image here and run it elsewhere."
        )
    packages = tuple(sorted(set(subsystem.packages)))
    return ContainerToolsSpec(
        DebianBaseSpec(CONTAINER_TOOLS_RESOLVE, packages, subsystem.suite, architecture, subsystem.lockfile)
    )


@dataclass(frozen=True)
class ContainerTools:
    """umoci and runc (and what they load), unpacked for this machine: run `bin/umoci` and `bin/runc`; and zstd
    (`bin/zstd`) where the lock has it, for zstd layers."""

    tree: Digest  # root/ and bin/
    launchers: Tuple[str, ...]  # the programs in bin/
    packages: Tuple[str, ...]  # what the lock was asked for, for error messages


@dataclass(frozen=True)
class ContainerToolsRequest:
    pass


@rule(desc="Unpack the container tools", level=LogLevel.DEBUG)
async def container_tools(_: ContainerToolsRequest, wanted: ContainerToolsSpec) -> ContainerTools:
    tools = await Get(DebianBuildRoot, DebianBuildRootRequest(wanted.spec, host_tools=True))
    missing = [p for p in REQUIRED_PROGRAMS if p not in tools.launchers]
    if missing:
        raise DebianBaseError(
            f"[container-tools].packages ({', '.join(wanted.spec.packages)}) provide no {' and '.join(missing)}: "
            f"`./pants run` on a python_oci_image needs both. Add the packages that ship them (umoci, runc) and "
            f"run `./pants generate-lockfiles --resolve={CONTAINER_TOOLS_RESOLVE}`."
        )
    return ContainerTools(tools.tree, tools.launchers, wanted.spec.packages)


@rule(desc="Package Debian tools", level=LogLevel.DEBUG)
async def package_debian_tools(field_set: DebianToolsFieldSet) -> BuiltPackage:
    tools = await Get(DebianBuildRoot, DebianBuildRootRequest(field_set.spec(), host_tools=True))
    path = field_set.output_path.value_or_default(file_ending=None)
    digest = await Get(Digest, AddPrefix(tools.tree, path))
    log: Tuple[str, ...] = (
        f"{tools.packages} Debian packages, {tools.size / 1e6:.1f} MB unpacked",
        "programs in bin/: " + " ".join(tools.launchers),
    )
    return BuiltPackage(digest, (BuiltPackageArtifact(path, extra_log_lines=log),))


def rules():
    return (*collect_rules(), UnionRule(PackageFieldSet, DebianToolsFieldSet))
