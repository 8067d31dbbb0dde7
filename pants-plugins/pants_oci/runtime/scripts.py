"""The files the runtime's steps run in their sandboxes, read from the plugin's package data by name: the build
script and what it runs under the new interpreter, the host probes, and the PGO training workload. They are not
sandbox tools (sandbox.py): most are not Python, and those that are run under the interpreter being compiled.

Their bytes are part of the compile's cache key: a change here re-keys every CPython compile.
"""
import pkgutil
from typing import Tuple

from pants.engine.fs import FileContent

SANDBOX_SCRIPTS = ("build_cpython.sh", "check_modules.py", "complete_platform.py", "enter_build_root.sh")
# Only the PGO profile step gets these. The training script sits alone in its directory: it is sys.path[0], and
# a directory listing that differs would change the profile.
PROFILE_STEP_SCRIPTS = ("fixed_layout.c",)
# The BOLT step (bolt_step.py) trains as the profile step does, on the compiled runtime.
BOLT_STEP_SCRIPTS = ("bolt_runtime.sh", "enter_build_root.sh", *PROFILE_STEP_SCRIPTS)
TRAINING_SCRIPT = "pgo_training.py"
TRAINING_DIR = "pgo-training"


def script(name: str) -> FileContent:
    """A file of runtime/ as the sandbox gets it, at its own name (shell scripts executable)."""
    data = pkgutil.get_data(__name__.rsplit(".", 1)[0], name)
    assert data is not None, f"{name} is missing from the plugin's package data"
    return FileContent(name, data, is_executable=name.endswith(".sh"))


def training_step_files(names: Tuple[str, ...]) -> Tuple[FileContent, ...]:
    """A training step's scripts, and the training workload alone in its own directory."""
    training = script(TRAINING_SCRIPT)
    return (*(script(name) for name in names), FileContent(f"{TRAINING_DIR}/{TRAINING_SCRIPT}", training.content))
