"""What a `python_runtime` target asks for: its field set (the build's spec, its source release, its build root
locks), and the error every step of building it raises."""
from dataclasses import dataclass
from typing import List

from pants.core.goals.package import OutputPathField, PackageFieldSet
from pants.engine.target import InvalidFieldException

from pants_oci.debian.base_rules import DebianLockSpec
from pants_oci.debian.target_types import DEFAULT_ARCHITECTURE, default_lock_path
from pants_oci.errors import PantsOciError
from pants_oci.runtime import bolt, build_plan, cross
from pants_oci.runtime.known_versions import SourceRelease
from pants_oci.runtime.target_types import (
    PythonRuntimeArchitecturesField,
    PythonRuntimeBuildRootPackagesField,
    PythonRuntimeBuildRootSuiteField,
    PythonRuntimeBytecodeField,
    PythonRuntimeConfigureArgsField,
    PythonRuntimeIncludeField,
    PythonRuntimeOptimizationsField,
    PythonRuntimeOptionalModulesField,
    PythonRuntimePgoProfileField,
    PythonRuntimePgoProfileSha256Field,
    PythonRuntimePrefixField,
    PythonRuntimeRequiredModulesField,
    PythonRuntimeSha256Field,
    PythonRuntimeSizeField,
    PythonRuntimeSourceFilenameField,
    PythonRuntimeToolchainField,
    PythonRuntimeVersionField,
)

# The resolve name of a runtime's build root lock is its address plus this.
BUILD_ROOT_RESOLVE_SUFFIX = "#build-root"


class PythonRuntimeBuildError(PantsOciError):
    """A CPython build failed; the message is a diagnosis, not a log dump."""


@dataclass(frozen=True)
class PythonRuntimeFieldSet(PackageFieldSet):
    required_fields = (PythonRuntimeVersionField,)

    version: PythonRuntimeVersionField
    sha256: PythonRuntimeSha256Field
    size: PythonRuntimeSizeField
    source_filename: PythonRuntimeSourceFilenameField
    optimizations: PythonRuntimeOptimizationsField
    pgo_profile: PythonRuntimePgoProfileField
    pgo_profile_sha256: PythonRuntimePgoProfileSha256Field
    required_modules: PythonRuntimeRequiredModulesField
    optional_modules: PythonRuntimeOptionalModulesField
    include: PythonRuntimeIncludeField
    bytecode: PythonRuntimeBytecodeField
    prefix: PythonRuntimePrefixField
    extra_configure_args: PythonRuntimeConfigureArgsField
    toolchain: PythonRuntimeToolchainField
    build_root_packages: PythonRuntimeBuildRootPackagesField
    build_root_suite: PythonRuntimeBuildRootSuiteField
    architectures: PythonRuntimeArchitecturesField
    output_path: OutputPathField

    def spec(self) -> build_plan.RuntimeSpec:
        problem = bolt.bolt_problem(
            str(self.address),
            self.version.value,
            self.optimizations.value,
            self.toolchain.value,
            self.build_root_suite.value,
        )
        if problem:
            raise InvalidFieldException(problem)
        return build_plan.make_spec(
            address=str(self.address),
            version=self.version.value,
            optimizations=self.optimizations.value,
            prefix=self.prefix.value,
            bytecode=self.bytecode.value,
            include=self.include.value or (),
            required=self.required_modules.value,
            optional=self.optional_modules.value or (),
            extra_configure_args=self.extra_configure_args.value or (),
        )

    @property
    def uses_build_root(self) -> bool:
        return self.toolchain.value == "build-root"

    def build_root_spec(self, architecture: str = cross.BUILD_MACHINE) -> DebianLockSpec:
        """The build root's lock: resolve `<address>#build-root`, at <dir>/<name>.build-root.lock.json; for a cross
        build to `arm64`, `<address>#build-root-arm64` at <dir>/<name>.build-root.arm64.lock.json."""
        extra = self.build_root_packages.value or ()
        if architecture == cross.BUILD_MACHINE:
            bolt_tools = bolt.build_root_packages(self.optimizations.value, self.build_root_suite.value)
            packages = build_plan.build_root_packages(self.spec(), (*extra, *bolt_tools))
            suffix = ""
        else:
            packages = build_plan.cross_build_root_packages(self.spec(), architecture, extra)
            suffix = f"-{architecture}"
        return DebianLockSpec(
            address=f"{self.address}{BUILD_ROOT_RESOLVE_SUFFIX}{suffix}",
            packages=tuple(packages),
            suite=self.build_root_suite.value,
            architecture=DEFAULT_ARCHITECTURE,
            lock_path=default_lock_path(self.address, f".build-root{suffix.replace('-', '.')}"),
        )

    def build_root_specs(self) -> List[DebianLockSpec]:
        """One build root per architecture the runtime is built for."""
        return [self.build_root_spec(a) for a in self.architectures.value or (cross.BUILD_MACHINE,)]

    def release(self) -> SourceRelease:
        return build_plan.resolve_release(
            str(self.address), self.version.value, self.sha256.value, self.size.value, self.source_filename.value
        )
