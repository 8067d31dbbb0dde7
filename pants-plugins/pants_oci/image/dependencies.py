"""Images in the dependency graph: an image depends on its runtime, its binary and its base(s).

The fields stay plain addresses (with their own checks and errors at build time); these inferred dependencies are
what Pants' graph goals follow: `dependencies`, `dependents`, `paths`, and `--changed-since` with
`--changed-dependents`, so CI can build and push only the images a change affects.
"""
from dataclasses import dataclass
from typing import Tuple

from pants.engine.addresses import Address, Addresses, UnparsedAddressInputs
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.target import FieldSet, InferDependenciesRequest, InferredDependencies
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel

from pants_oci.bases.rules import BasesListingRuntime, BasesListingRuntimeRequest
from pants_oci.image.target_types import ImageBaseField, ImageBinaryField, ImageDependenciesField, ImageRuntimeField


@dataclass(frozen=True)
class ImageInferenceFieldSet(FieldSet):
    required_fields = (ImageRuntimeField, ImageBinaryField, ImageDependenciesField)

    runtime: ImageRuntimeField
    binary: ImageBinaryField
    base: ImageBaseField


class InferImageDependencies(InferDependenciesRequest):
    infer_from = ImageInferenceFieldSet


@rule(desc="Infer a python_oci_image's dependencies", level=LogLevel.DEBUG)
async def infer_image_dependencies(request: InferImageDependencies) -> InferredDependencies:
    field_set = request.field_set
    runtime, binary = await Get(
        Addresses,
        UnparsedAddressInputs(
            [field_set.runtime.value, field_set.binary.value],
            owning_address=field_set.address,
            description_of_origin=f"the `runtime` and `binary` fields of {field_set.address}",
        ),
    )
    bases: Tuple[Address, ...]
    if field_set.base.value:
        bases = await Get(Addresses, UnparsedAddressInputs, field_set.base.to_unparsed_address_inputs())
    else:
        # The debian_packages target that lists the runtime gives the default base; if none does, the runtime's
        # own default base is part of the runtime, which is a dependency already.
        bases = (await Get(BasesListingRuntime, BasesListingRuntimeRequest(runtime))).addresses
    return InferredDependencies([runtime, binary, *bases])


def rules():
    return (*collect_rules(), UnionRule(InferDependenciesRequest, InferImageDependencies))
