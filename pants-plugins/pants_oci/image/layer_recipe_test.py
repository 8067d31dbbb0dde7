"""docs/ARCHITECTURE.md's recipe "Add a layer", followed once with a layer of its own (a notice file and a helper
program) on a stand-in runtime: the interpreter running this test in place of a compiled CPython, so nothing
compiles. Step 1 as written (a request, a rule, the one layer rule with compile, forbid_sandbox_paths and
elf_facts); step 2's claim that the manifest lists layers in the order given; step 3's closure check reading the
layer's ELF facts; step 4's bad input. Where build_platform_image itself is edited (steps 2 and 3), only a real
image build would follow, which compiles CPython: image:integration does that for the layers that exist.
"""
import gzip
import io
import json
import os
import sys
import tarfile
from dataclasses import dataclass
from typing import Dict, List

import pytest
from pants.engine.fs import EMPTY_DIGEST, CreateDigest, Digest, DigestContents, FileContent
from pants.engine.internals.scheduler import ExecutionError
from pants.engine.rules import Get, rule
from pants.testutil.rule_runner import QueryRule, RuleRunner

from pants_oci.bases.rules import closure_problems
from pants_oci.elf.closure import ClosureProblem
from pants_oci.image.layers import TreeLayer
from pants_oci.layer import rules as layer_rules
from pants_oci.layer.rules import GZIP, SANDBOX_DIR_PREFIX, BuiltLayer, LayerCompression, LayerRequest
from pants_oci.oci import model
from pants_oci.oci.determinism import DEFAULT_EPOCH
from pants_oci.runtime.compile import BuiltPythonRuntime
from pants_oci.runtime.package import runtime_elves
from pants_oci.testing import sandbox_python_for_tests

NOTICE_DIR = "opt/notice"
MAJOR_MINOR = f"{sys.version_info.major}.{sys.version_info.minor}"


# Step 1: "a frozen ...LayerRequest dataclass (with runtime, mtime and compression as the others have)".
@dataclass(frozen=True)
class NoticeLayerRequest:
    runtime: BuiltPythonRuntime
    mtime: int
    compression: LayerCompression
    notice: str  # this layer's own input: the text of notice.py


# Step 1: "a @rule that builds the tree as a Digest rooted at / and returns ... a TreeLayer if checks need its
# files", with compile, forbid_sandbox_paths and elf_facts as build_deps_layer sets them.
@rule
async def build_notice_layer(request: NoticeLayerRequest) -> TreeLayer:
    runtime = request.runtime
    helper = os.path.realpath(sys.executable)  # any ELF program: its facts are what step 3 reads
    with open(helper, "rb") as f:
        files = [
            FileContent(f"{NOTICE_DIR}/notice.py", request.notice.encode()),
            FileContent(f"{NOTICE_DIR}/bin/helper", f.read(), is_executable=True),
        ]
    tree = await Get(Digest, CreateDigest(files))
    layer = await Get(
        BuiltLayer,
        LayerRequest(
            tree,
            "Archive the notice layer",
            created_by="pants-oci: notice layer",
            interpreter=runtime.layer_interpreter,
            mtime=request.mtime,
            compile=(NOTICE_DIR,),
            forbid_sandbox_paths=True,
            compression=request.compression,
            elf_facts=True,
        ),
    )
    return TreeLayer(tree, layer)


@dataclass(frozen=True)
class ClosureOfLayer:
    """Step 3: the layer's facts passed to closure_problems as checks.checked_architecture passes the
    requirements layer's."""

    runtime: BuiltPythonRuntime
    layer: TreeLayer


@dataclass(frozen=True)
class ClosureProblems:
    problems: List[ClosureProblem]


@rule
async def closure_of_layer(request: ClosureOfLayer) -> ClosureProblems:
    facts = request.layer.built.facts
    assert facts is not None
    return ClosureProblems(await closure_problems((), (request.runtime,), (facts,)))


def _stand_in_runtime(runner: RuleRunner) -> BuiltPythonRuntime:
    """A BuiltPythonRuntime whose interpreter is a script that runs this test's Python: the layer rule runs it as it
    runs a compiled runtime (`runtime.layer_interpreter`), and it byte-compiles with its own version."""
    launcher = FileContent(
        f"opt/python/bin/python{MAJOR_MINOR}", f'#!/bin/sh\nexec "{sys.executable}" "$@"\n'.encode(), is_executable=True
    )
    return BuiltPythonRuntime(
        address="rt:stand-in",
        version=f"{MAJOR_MINOR}.{sys.version_info.micro}",
        prefix="/opt/python",
        tree=runner.request(Digest, [CreateDigest([launcher])]),
        complete_platform=EMPTY_DIGEST,
        built_modules=(),
        missing_optional_modules=(),
        bytecode="unchecked-hash",
    )


@pytest.fixture
def rule_runner() -> RuleRunner:
    # The sandbox Python is the test's own too (testing.py): locking and unpacking [container-tools] would download.
    return RuleRunner(
        rules=[
            build_notice_layer,
            closure_of_layer,
            runtime_elves,
            *layer_rules.rules(),
            sandbox_python_for_tests,
            QueryRule(TreeLayer, [NoticeLayerRequest]),
            QueryRule(ClosureProblems, [ClosureOfLayer]),
            QueryRule(Digest, [CreateDigest]),
            QueryRule(DigestContents, [Digest]),
        ],
        isolated_local_store=True,
    )


def _members(rule_runner: RuleRunner, layer: BuiltLayer) -> Dict[str, tarfile.TarInfo]:
    (blob,) = rule_runner.request(DigestContents, [layer.blob])
    assert blob.path == "blobs/sha256/" + layer.layer.descriptor.digest.split(":", 1)[1]
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob.content))) as tar:
        return {m.name.lstrip("./"): m for m in tar.getmembers()}


def test_the_add_a_layer_recipe(rule_runner: RuleRunner) -> None:
    runtime = _stand_in_runtime(rule_runner)
    request = NoticeLayerRequest(runtime, DEFAULT_EPOCH, GZIP, "print('notice')\n")
    notice = rule_runner.request(TreeLayer, [request])

    # Step 1: the tree, byte-compiled by the runtime's interpreter (for its version), in one gzip blob.
    built = notice.built
    assert built.layer.created_by.startswith("pants-oci: ")
    members = _members(rule_runner, built)
    assert f"{NOTICE_DIR}/notice.py" in members and f"{NOTICE_DIR}/bin/helper" in members
    tag = f"cpython-{MAJOR_MINOR.replace('.', '')}"
    assert f"{NOTICE_DIR}/__pycache__/notice.{tag}.pyc" in members
    assert {m.mtime for m in members.values()} == {DEFAULT_EPOCH}

    # Step 2: the manifest and the history list the layers in the order given (a stand-in for the layers below).
    below = model.Layer(
        model.Descriptor(GZIP.media_type, "sha256:" + "0" * 64, 1), "sha256:" + "1" * 64, "pants-oci: x"
    )
    image = model.build_image(model.ImageConfig("amd64"), [below, built.layer])
    manifest, config = json.loads(image.manifest_blob), json.loads(image.config_blob)
    assert [d["digest"] for d in manifest["layers"]] == [below.descriptor.digest, built.layer.descriptor.digest]
    assert config["history"][-1]["created_by"] == "pants-oci: notice layer"

    # Step 3: the layer's ELF facts reach the closure check; with no base under it, the helper's libc is missing.
    assert built.facts is not None and f"{NOTICE_DIR}/bin/helper" in built.facts.elves
    problems = rule_runner.request(ClosureProblems, [ClosureOfLayer(runtime, notice)]).problems
    assert any(p.path == f"{NOTICE_DIR}/bin/helper" and "libc.so.6" in p.problem for p in problems), problems

    # Step 4, a bad input: a file that names a build sandbox fails the layer with the layer tool's explanation.
    leaked = f"PATH = '/tmp/{SANDBOX_DIR_PREFIX}abc/bin'\n"
    with pytest.raises(ExecutionError) as e:
        rule_runner.request(TreeLayer, [NoticeLayerRequest(runtime, DEFAULT_EPOCH, GZIP, leaked)])
    assert "Archive the notice layer failed: " in str(e.value) and SANDBOX_DIR_PREFIX in str(e.value)
