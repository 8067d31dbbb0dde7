"""Pants plugin: CPython runtimes compiled from source and daemonless OCI images of PEX apps.

Wiring only: the rules and targets live in their own packages.
"""


def rules():
    return []


def target_types():
    return []
