"""Pants plugin: CPython runtimes compiled from source and daemonless OCI images of PEX apps.

Wiring only: the rules and targets live in their own packages.
"""
from pants_oci.runtime import rules as runtime_rules
from pants_oci.runtime.target_types import PythonRuntimeTarget


def rules():
    return [*runtime_rules.rules()]


def target_types():
    return [PythonRuntimeTarget]
