"""Step 5 of a runtime: its ELF facts (read once, by its own interpreter) and `./pants package`: each
architecture's tree archived by the layer rule, with its complete platform and PGO profile, in dist/."""
import json
from typing import List, Tuple

from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, PackageFieldSet
from pants.engine.fs import AddPrefix, CreateDigest, Digest, DigestContents, DigestEntries, FileEntry, MergeDigests
from pants.engine.process import Process, ProcessResult
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

from pants_oci.digests import first_file_digest
from pants_oci.elf.elf import ElfFacts, elf_facts_from_json
from pants_oci.layer.rules import BuiltLayer, LayerRequest, interpreter_command, interpreter_inputs
from pants_oci.runtime import cross
from pants_oci.runtime.compile import BUILD_PYTHON_DIR, BuildPythonRuntimeRequest, BuiltPythonRuntime
from pants_oci.runtime.field_set import PythonRuntimeFieldSet
from pants_oci.sandbox import SandboxPython, SandboxPythonRequest, SandboxTool, tool_process

ELF_FACTS = SandboxTool("pants_oci.elf.elf_facts")


@rule(desc="Read a runtime's ELF facts", level=LogLevel.DEBUG)
async def runtime_elves(runtime: BuiltPythonRuntime) -> ElfFacts:
    """Once per runtime, in a cacheable process run by the runtime's own interpreter (a relative path, so the key
    is the same on every machine): only the small facts file enters the Pants process, never the tree's bytes."""
    python, tree = await MultiGet(
        Get(SandboxPython, SandboxPythonRequest()), Get(Digest, AddPrefix(runtime.tree, "tree"))
    )
    inputs = [tree]
    interpreter, tree_dir = runtime.layer_interpreter, "tree"
    if runtime.build_python is not None:  # a cross-built tree is read by its native build
        inputs.append(await Get(Digest, AddPrefix(runtime.build_python.tree, BUILD_PYTHON_DIR)))
        tree_dir = BUILD_PYTHON_DIR
    process = await tool_process(
        python,
        ELF_FACTS,
        ["tree", "facts.json"],
        inputs=await Get(Digest, MergeDigests(inputs)),
        immutable_inputs=interpreter_inputs(interpreter),
        output_files=("facts.json",),
        description=f"Read the ELF facts of the CPython {runtime.version} tree of {runtime.address}",
        interpreter=interpreter_command(interpreter, tree_dir),
    )
    result = await Get(ProcessResult, Process, process)
    contents = await Get(DigestContents, Digest, result.output_digest)
    return ElfFacts(*elf_facts_from_json(json.loads(contents[0].content)))


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"


async def _packaged_runtime(built: BuiltPythonRuntime, archive_path: str) -> Tuple[Digest, List[BuiltPackageArtifact]]:
    """One architecture's build of a runtime as dist/ files: the tree's archive, its complete platform and the
    PGO profile it was optimized with."""
    archive = await Get(
        BuiltLayer,
        LayerRequest(
            built.tree,
            f"Archive the CPython {built.version} tree of {built.address}"
            + ("" if built.architecture == cross.BUILD_MACHINE else f" ({built.architecture})"),
            created_by=f"pants-oci: CPython {built.version} runtime {built.address}",
            interpreter=built.layer_interpreter,
        ),
    )
    stem = archive_path[: -len(".tar.gz")]
    platform_path = stem + ".complete_platform.json"
    # Each digest holds one file; re-create them under their dist/ names without reading their bytes.
    archive_entries, platform_entries = await MultiGet(
        Get(DigestEntries, Digest, archive.blob), Get(DigestEntries, Digest, built.complete_platform)
    )
    files = [
        FileEntry(archive_path, first_file_digest(archive_entries)),
        FileEntry(platform_path, first_file_digest(platform_entries)),
    ]
    profile_artifacts: Tuple[BuiltPackageArtifact, ...] = ()
    if built.pgo_profile is not None:
        profile_path = stem + ".pgo-profile.tar.gz"
        profile_entries = await Get(DigestEntries, Digest, built.pgo_profile.digest)
        files.append(FileEntry(profile_path, first_file_digest(profile_entries)))
        profile_artifacts = (
            BuiltPackageArtifact(
                profile_path,
                extra_log_lines=(
                    f"the PGO profile it was optimized with, sha256 {built.pgo_profile.sha256}; to freeze it, "
                    f'commit it and set pgo_profile="<file>", pgo_profile_sha256="{built.pgo_profile.sha256}"',
                ),
            ),
        )
    digest = await Get(Digest, CreateDigest(files))
    log_lines = (
        f"CPython {built.version}{'' if built.architecture == cross.BUILD_MACHINE else ' for ' + built.architecture} "
        f"at {built.prefix}: {archive.entries} entries, "
        f"{_mib(archive.uncompressed_size)} uncompressed, {_mib(archive.layer.descriptor.size)} gzipped",
        f"stdlib extension modules ({len(built.built_modules)}): {' '.join(built.built_modules)}",
        *(
            (f"optional modules not built: {' '.join(built.missing_optional_modules)}",)
            if built.missing_optional_modules
            else ()
        ),
    )
    return digest, [
        BuiltPackageArtifact(archive_path, extra_log_lines=log_lines),
        BuiltPackageArtifact(platform_path, extra_log_lines=("Pex complete platform of this interpreter",)),
        *profile_artifacts,
    ]


def architecture_archive_path(archive_path: str, architecture: str) -> str:
    """dist/ name of one architecture's archive: the build machine's keeps `<name>.tar.gz`, arm64 gets
    `<name>.arm64.tar.gz`."""
    if architecture == cross.BUILD_MACHINE:
        return archive_path
    return f"{archive_path[: -len('.tar.gz')]}.{architecture}.tar.gz"


@rule(desc="Package a CPython runtime", level=LogLevel.DEBUG)
async def package_python_runtime(field_set: PythonRuntimeFieldSet) -> BuiltPackage:
    architectures = field_set.architectures.value or (cross.BUILD_MACHINE,)
    builds = await MultiGet(Get(BuiltPythonRuntime, BuildPythonRuntimeRequest(field_set, a)) for a in architectures)
    archive_path = field_set.output_path.value_or_default(file_ending="tar.gz")
    digests, artifacts = [], []
    for architecture, built in zip(architectures, builds):
        digest, built_artifacts = await _packaged_runtime(built, architecture_archive_path(archive_path, architecture))
        digests.append(digest)
        artifacts.extend(built_artifacts)
    return BuiltPackage(await Get(Digest, MergeDigests(digests)), tuple(artifacts))


def rules():
    return (*collect_rules(), UnionRule(PackageFieldSet, PythonRuntimeFieldSet))
