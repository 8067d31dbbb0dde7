"""Pants plugin: CPython runtimes compiled from source and daemonless OCI images of PEX apps.

Wiring only: the rules and targets live in their own packages.
"""
from pants_oci.bases import rules as base_rules
from pants_oci.debian import base_rules as debian_base_rules
from pants_oci.debian import rules as debian_rules
from pants_oci.debian.target_types import DebianPackagesTarget
from pants_oci.image import dependencies as image_dependencies
from pants_oci.image import publish as image_publish
from pants_oci.image import rules as image_rules
from pants_oci.image.target_types import PythonOciImageTarget
from pants_oci.layer import rules as layer_rules
from pants_oci.runtime import rules as runtime_rules
from pants_oci.runtime.target_types import PythonRuntimeTarget
from pants_oci.tools import rules as tools_rules
from pants_oci.tools.target_types import DebianToolsTarget


def rules():
    every = (
        *runtime_rules.rules(),
        *debian_rules.rules(),
        *debian_base_rules.rules(),
        *base_rules.rules(),
        *image_rules.rules(),
        *image_dependencies.rules(),
        *image_publish.rules(),
        *tools_rules.rules(),
        *layer_rules.rules(),
    )
    return list({rule: None for rule in every})


def target_types():
    return [PythonRuntimeTarget, DebianPackagesTarget, PythonOciImageTarget, DebianToolsTarget]
