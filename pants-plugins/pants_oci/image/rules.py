"""Rules for `python_oci_image`, by concern, in the order the data flows:

- inputs.py: the field set, the targets the fields name, the app's plan and the lock checks (before compiling);
- layers.py: the compression switch and the four layers (base, runtime, requirements, first-party code), each
  written by the one layer rule (layer/rules.py);
- requirements.py: the third-party requirements, resolved and installed by pex run with the sandbox Python;
- checks.py: user, init, halves, entry module, ELF closure and architecture;
- assemble.py: config, manifest, index and SBOM from the layers' descriptors; the layout as a Digest;
- package.py and run.py: the `package` and `run` goals.
"""
from pants_oci.image import assemble, inputs, layers, package, requirements, run


def rules():
    return (*inputs.rules(), *layers.rules(), *requirements.rules(), *assemble.rules(), *package.rules(), *run.rules())
