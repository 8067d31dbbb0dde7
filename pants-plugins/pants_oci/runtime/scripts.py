"""The files the runtime's steps run in their sandboxes, read from the plugin's package data by name: the build
script and what it runs under the new interpreter, the host probes, and the PGO training workload. They are not
sandbox tools (sandbox.py): most are not Python, and those that are run under the interpreter being compiled.

Their bytes are part of the compile's cache key: a change here re-keys every CPython compile.
"""
import pkgutil

from pants.engine.fs import FileContent

SANDBOX_SCRIPTS = ("build_cpython.sh", "check_modules.py", "complete_platform.py", "enter_build_root.sh")
# Only the PGO profile step gets these. The training script sits alone in its directory: it is sys.path[0], and
# a directory listing that differs would change the profile.
PROFILE_STEP_SCRIPTS = ("fixed_layout.c",)
TRAINING_SCRIPT = "pgo_training.py"
TRAINING_DIR = "pgo-training"


def script(name: str) -> FileContent:
    """A file of runtime/ as the sandbox gets it, at its own name (shell scripts executable)."""
    data = pkgutil.get_data(__name__.rsplit(".", 1)[0], name)
    assert data is not None, f"{name} is missing from the plugin's package data"
    return FileContent(name, data, is_executable=name.endswith(".sh"))
