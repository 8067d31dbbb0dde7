"""pants-oci: CPython runtimes and OCI images built from source by Pants."""

# The version of the pants-oci wheel (keep in step with `version` in pants-plugins/BUILD); SBOMs name it.
__version__ = "0.1.0"
