"""The sandbox-tool seam (sandbox.py), and docs/ARCHITECTURE.md's recipe "Add a sandbox tool" followed once with
the test-only tool example_tool.py: step 1 (the tool, its plain tests, TOOLS) and step 2 (a rule that runs it)."""
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from pants.engine.fs import CreateDigest, Digest, DigestContents, FileContent
from pants.engine.internals.scheduler import ExecutionError
from pants.engine.process import FallibleProcessResult, Process
from pants.engine.rules import Get, rule
from pants.testutil.rule_runner import QueryRule, RuleRunner

from pants_oci import example_tool, exits
from pants_oci.debian.base_rules import ASSEMBLE_BASE, ASSEMBLE_ROOT, FETCH_INDEX
from pants_oci.errors import PantsOciError
from pants_oci.image.package import LAYOUT_ARCHIVE
from pants_oci.image.publish import REGISTRY_TOOL
from pants_oci.layer.rules import LAYER_TOOL
from pants_oci.runtime.package import ELF_FACTS
from pants_oci.runtime.source import VERIFY_SOURCE
from pants_oci.sandbox import (
    SandboxPython,
    SandboxPythonRequest,
    SandboxTool,
    explained_failure,
    module_closure,
    shipped_files,
    tool_process,
)
from pants_oci.testing import imports_pants, sandbox_python_for_tests

# Recipe step 2, as a rule module declares its tool: the dotted name is the only edge to example_tool.py's target.
EXAMPLE_TOOL = SandboxTool("pants_oci.example_tool")

TOOLS = [
    ASSEMBLE_BASE,
    ASSEMBLE_ROOT,
    FETCH_INDEX,
    LAYOUT_ARCHIVE,
    REGISTRY_TOOL,
    LAYER_TOOL,
    ELF_FACTS,
    VERIFY_SOURCE,
    EXAMPLE_TOOL,  # recipe step 1: "add it to TOOLS"
]


def test_the_closure_follows_imports_at_any_depth() -> None:
    closure = module_closure("pants_oci.oci.layer_tool")
    # tarball and determinism at the top; the ELF reader imported inside a function.
    assert {"oci/layer_tool.py", "oci/tarball.py", "oci/determinism.py", "elf/elf_facts.py", "elf/elf.py"} <= set(
        closure
    )
    assert "layer/rules.py" not in closure and "sandbox.py" not in closure


def test_unknown_module_is_a_bug() -> None:
    with pytest.raises(ValueError, match="not a module of the plugin"):
        module_closure("pants_oci.oci.no_such_tool")


@pytest.mark.parametrize("tool", TOOLS, ids=lambda t: t.module)
def test_every_tool_ships_what_it_imports_and_nothing_of_pants(tool: SandboxTool, tmp_path: Path) -> None:
    """The shipped files alone import the tool, with nothing of Pants: the sandbox has no Pants. Test-only code
    does not ship (an edit to it would re-key every process of the tool)."""
    assert not [p for p in module_closure(tool.module) if "testing" in p or p == "elf/hardening.py"]
    for shipped in shipped_files(tool):
        if shipped.path.endswith(".py"):
            assert not imports_pants(shipped.content), shipped.path
        target = tmp_path / shipped.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(shipped.content)
    subprocess.run([sys.executable, "-s", "-B", "-E", "-c", f"import {tool.module}"], cwd=tmp_path, check=True)


# ---------------------------------------------------------------------------------------------------------------
# docs/ARCHITECTURE.md, "Add a sandbox tool", followed with example_tool.py: if a step of the recipe goes stale,
# test_the_sandbox_tool_recipe (or the TOOLS check above) fails.


class ExampleToolError(PantsOciError):
    """The error of the rule module that runs the example tool (a package's rule error, as errors.py lists them)."""


@dataclass(frozen=True)
class NumberLinesRequest:
    text: str  # the input file's content; "": no input file, a problem the tool explains (exit 2)


@dataclass(frozen=True)
class NumberedLines:
    text: str


@rule
async def number_lines(request: NumberLinesRequest) -> NumberedLines:
    """Recipe step 2, word for word: the sandbox Python, tool_process, a FallibleProcessResult, explained_failure."""
    files = [FileContent("in.txt", request.text.encode())] if request.text else []
    digest = await Get(Digest, CreateDigest(files))
    python = await Get(SandboxPython, SandboxPythonRequest())
    process = await tool_process(
        python,
        EXAMPLE_TOOL,
        ["in.txt", "out.txt"],
        inputs=digest,
        output_files=("out.txt",),
        description="Number lines",
    )
    result = await Get(FallibleProcessResult, Process, process)
    if result.exit_code != 0:
        raise ExampleToolError(f"Cannot number the lines: {explained_failure(result)}")
    contents = await Get(DigestContents, Digest, result.output_digest)
    return NumberedLines(contents[0].content.decode())


def test_the_sandbox_tool_recipe(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # Step 1: the tool's own test, calling main(): 0 done, 2 explained in one line, 1 a bad command line.
    (tmp_path / "in.txt").write_text("a\nb\n")
    assert example_tool.main([str(tmp_path / "in.txt"), str(tmp_path / "out.txt")]) == exits.EXIT_OK
    assert (tmp_path / "out.txt").read_text() == "1: a\n2: b\n"
    assert example_tool.main([str(tmp_path / "missing.txt"), str(tmp_path / "out.txt")]) == exits.EXIT_EXPLAINED
    assert capsys.readouterr().err.strip().splitlines() == [
        f"{tmp_path / 'missing.txt'}: no such file; give a text file to number"
    ]
    with pytest.raises(SystemExit) as usage:
        example_tool.main([])
    assert usage.value.code == exits.EXIT_USAGE

    # Step 2: the rule runs it in a sandbox from its shipped files; its explanation reaches the rule's error.
    # The sandbox Python is the test's own (testing.py): locking and unpacking [container-tools] would download.
    runner = RuleRunner(
        rules=[number_lines, sandbox_python_for_tests, QueryRule(NumberedLines, [NumberLinesRequest])],
        isolated_local_store=True,
    )
    assert runner.request(NumberedLines, [NumberLinesRequest("x\ny\n")]).text == "1: x\n2: y\n"
    with pytest.raises(ExecutionError) as e:
        runner.request(NumberedLines, [NumberLinesRequest("")])
    assert "Cannot number the lines: in.txt: no such file; give a text file to number" in str(e.value)
