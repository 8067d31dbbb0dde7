"""`./pants package` of a python_oci_image: the layout directory, the OCI archive, deploy info and SBOM in dist/.

The layout directory is the image's layout Digest under its dist/ name. The archive is written by a cacheable
process (`oci/layout_archive.py`) from the same blobs, so a warm build finds it in the cache and no layer byte
passes through the Pants process. `[oci-image].write_archive = false` skips the archive (a faster edit loop).
"""
from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, PackageFieldSet
from pants.engine.fs import AddPrefix, CreateDigest, Digest, DigestEntries, FileContent, FileEntry, MergeDigests
from pants.engine.process import Process, ProcessResult
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

from pants_oci.digests import first_file_digest
from pants_oci.image import plan
from pants_oci.image.assemble import BuiltPythonOciImage, PythonOciImageRequest
from pants_oci.image.inputs import PythonOciImageFieldSet
from pants_oci.image.subsystem import PythonOciImageSubsystem
from pants_oci.sandbox import SandboxPython, SandboxPythonRequest, SandboxTool, tool_process

LAYOUT_ARCHIVE = SandboxTool("pants_oci.oci.layout_archive")


async def _oci_archive(image: BuiltPythonOciImage, path: str) -> Digest:
    """The OCI archive of the image at `path`, written by a cacheable process from the image's blobs."""
    python, layout = await MultiGet(
        Get(SandboxPython, SandboxPythonRequest()), Get(Digest, AddPrefix(image.archive_layout, "layout"))
    )
    process = await tool_process(
        python,
        LAYOUT_ARCHIVE,
        ["layout", "image.tar"],
        inputs=layout,
        output_files=("image.tar",),
        description=f"Write the OCI archive of {image.address}",
    )
    result = await Get(ProcessResult, Process, process)
    # Renamed by its file digest: the archive's bytes are never read here.
    entries = await Get(DigestEntries, Digest, result.output_digest)
    return await Get(Digest, CreateDigest([FileEntry(path, first_file_digest(entries))]))


@rule(desc="Package a python_oci_image", level=LogLevel.DEBUG)
async def package_python_oci_image(
    field_set: PythonOciImageFieldSet, subsystem: PythonOciImageSubsystem
) -> BuiltPackage:
    image = await Get(BuiltPythonOciImage, PythonOciImageRequest(field_set))
    layout_dir = field_set.output_path.value_or_default(file_ending=None)
    archive_path = f"{layout_dir}.tar" if subsystem.write_archive else None
    info_path = plan.deploy_info_path(layout_dir)
    info = plan.deploy_info(
        image.address,
        image.repository,
        image.tags,
        image.digest,
        image.config_digest,
        image.compressed_size,
        image.os,
        image.architecture,
        layout_dir,
        archive_path,
        image.platforms,
    )
    parts = await MultiGet(
        Get(Digest, AddPrefix(image.layout, layout_dir)),
        Get(
            Digest,
            CreateDigest(
                [
                    FileContent(info_path, info),
                    FileContent(plan.sbom_path(layout_dir), image.sbom),
                    # An index's other platforms: <layout>.<architecture>.spdx.json.
                    *(FileContent(plan.sbom_path(f"{layout_dir}.{a}"), doc) for a, doc in image.platform_sboms),
                ]
            ),
        ),
    )
    archive = [await _oci_archive(image, archive_path)] if archive_path else []
    digest = await Get(Digest, MergeDigests([*parts, *archive]))
    log_lines = (
        f"image {image.repository}:{image.tags[0]} digest {image.digest}"
        + (f" (the layout directory also has the tags {', '.join(image.tags[1:])})" if image.tags[1:] else ""),
        f"{plan.size_summary(image.compressed_size, image.uncompressed_size)}",
        *((f"an image index of {', '.join(image.platforms)}",) if len(image.platforms) > 1 else ()),
        *image.layer_summaries,
    )
    return BuiltPackage(
        digest,
        (
            *((BuiltPackageArtifact(archive_path, extra_log_lines=log_lines),) if archive_path else ()),
            BuiltPackageArtifact(
                layout_dir, extra_log_lines=("OCI image layout directory", *(() if archive_path else log_lines))
            ),
            BuiltPackageArtifact(info_path, extra_log_lines=(f"deploy with {image.repository}@{image.digest}",)),
            BuiltPackageArtifact(plan.sbom_path(layout_dir), extra_log_lines=("SPDX 2.3 SBOM of the image",)),
            *(
                BuiltPackageArtifact(plan.sbom_path(f"{layout_dir}.{a}"), extra_log_lines=(f"SPDX 2.3 SBOM, {a}",))
                for a, _ in image.platform_sboms
            ),
        ),
    )


def rules():
    return (*collect_rules(), UnionRule(PackageFieldSet, PythonOciImageFieldSet))
