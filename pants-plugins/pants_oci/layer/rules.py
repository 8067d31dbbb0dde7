"""The one layer rule: a tree (or the Debian base's tar) in, a blob Digest and its descriptor out.

Every layer of every image, and the archives `./pants package` writes of runtimes and bases, come from here: a
cacheable process runs the sandbox tool `oci/layer_tool.py`, which writes the compressed blob at
`blobs/sha256/<hex>` with a small record of its digest, size and diff_id. Only that record enters the Pants process;
the blob stays a Digest that the layout directory and the archive place by merging digests ("build without the
bytes", as rules_img does it).

The rule lives here rather than in oci/, which holds pure code and sandbox tools only, and not in image/ because
runtime/ and bases/ write layers too (docs/ARCHITECTURE.md, floors). It imports nothing of debian/, runtime/ or
image/: callers say which interpreter runs the tool (a runtime's own, for byte-compiling with its version, or by
default the sandbox Python) and where zstd comes from. gzip is always the sandbox Python's zlib (layer_tool.py),
so a layer's bytes do not depend on the interpreter.
"""
import json
import logging
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from pants.engine.fs import AddPrefix, Digest, DigestContents, DigestSubset, MergeDigests, PathGlobs, RemovePrefix
from pants.engine.process import FallibleProcessResult, Process
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.util.logging import LogLevel

from pants_oci.elf.elf import ElfFacts, elf_facts_from_json
from pants_oci.errors import PantsOciError
from pants_oci.oci import layer_tool, model
from pants_oci.oci.determinism import DEFAULT_EPOCH
from pants_oci.oci.validate import LayerRecord
from pants_oci.sandbox import SandboxPython, SandboxPythonRequest, SandboxTool, explained_failure, tool_process

logger = logging.getLogger(__name__)

# A directory name every Pants sandbox has in its path: no layer may ship a file that names one.
SANDBOX_DIR_PREFIX = "pants-sandbox-"

LAYER_TOOL = SandboxTool("pants_oci.oci.layer_tool")
_TOOLS_DIR = "zstd-tools"


class LayerError(PantsOciError):
    """A layer could not be written; the message says which and why."""


@dataclass(frozen=True)
class LayerCompression:
    """gzip (what every tool reads) or zstd, with the zstd program when it is zstd: a tree of host tools and the
    program's path in it (`bin/zstd` of the [container-tools] lock)."""

    kind: str = "gzip"
    zstd_level: int = 19
    zstd_tools: Optional[Digest] = None
    zstd_program: str = ""

    @property
    def media_type(self) -> str:
        return model.LAYER_MEDIA_TYPES[self.kind]

    def options(self) -> Tuple[str, ...]:
        if self.kind == "gzip":
            return ()
        return ("--compression=zstd", f"--zstd={_TOOLS_DIR}/{self.zstd_program}", f"--zstd-level={self.zstd_level}")


GZIP = LayerCompression()


@dataclass(frozen=True)
class LayerInterpreter:
    """A Python to run the layer tool with: a tree (a runtime, rooted at /) and the interpreter's path in it, and
    the root filesystem whose dynamic loader and libraries it runs with (the build root it was compiled in).

    With `libraries`, nothing of the host's userland is loaded: not its glibc (a runtime compiled in a newer Debian
    than the host's runs all the same) and not its zlib (so gzip layers have the same bytes on every host, whatever
    zlib fork the host has). Without it (a runtime compiled with the host's toolchain) the host's loader runs it.
    """

    tree: Digest
    path: str  # absolute in the tree, e.g. /opt/python/bin/python3.13
    libraries: Optional[Digest] = None  # a Debian root filesystem for x86-64 (merged /usr)


# Where an interpreter's library root is mounted in a sandbox, and where a Debian x86-64 root keeps its dynamic
# loader and libraries.
_LIBRARY_ROOT_DIR = "__interpreter_libraries"
_LOADER = "usr/lib64/ld-linux-x86-64.so.2"
_LIBRARY_DIRS = ("usr/lib/x86_64-linux-gnu",)


def interpreter_command(interpreter: LayerInterpreter, tree_dir: str) -> Tuple[str, ...]:
    """The argv prefix that runs `interpreter`, whose tree is at `tree_dir` in the sandbox: relative paths only, so
    the cache key is the same on every machine."""
    program = tree_dir + interpreter.path
    if interpreter.libraries is None:
        return (program,)
    library_path = ":".join(f"{_LIBRARY_ROOT_DIR}/{d}" for d in _LIBRARY_DIRS)
    return (f"{_LIBRARY_ROOT_DIR}/{_LOADER}", "--library-path", library_path, program)


def interpreter_inputs(interpreter: LayerInterpreter) -> Dict[str, Digest]:
    """The immutable inputs interpreter_command needs: its library root, materialized once and never copied."""
    return {_LIBRARY_ROOT_DIR: interpreter.libraries} if interpreter.libraries is not None else {}


@dataclass(frozen=True)
class LayerRequest:
    """One layer. `source` is a tree rooted at / or, with `tar_name`, a digest holding that one uncompressed tar.

    `compile` lists directories (relative to the tree) to byte-compile first, the way the runtime's stdlib is
    compiled (needs `interpreter`, whose version the pycs are for). `forbid_sandbox_paths` fails the layer if a
    file names a build sandbox. `elf_facts` also reads the tree's ELF facts, for the closure check.
    """

    source: Digest
    description: str
    created_by: str
    interpreter: Optional[LayerInterpreter] = None  # None: the sandbox Python
    tar_name: str = ""
    mtime: int = DEFAULT_EPOCH
    compile: Tuple[str, ...] = ()
    forbid_sandbox_paths: bool = False
    compression: LayerCompression = GZIP
    elf_facts: bool = False


@dataclass(frozen=True)
class BuiltLayer:
    blob: Digest  # one file, at blobs/sha256/<hex>: ready to merge into an OCI layout
    layer: model.Layer  # its descriptor, diff_id and history line
    uncompressed_size: int
    entries: int
    facts: Optional[ElfFacts] = None  # with `elf_facts`

    @property
    def record(self) -> LayerRecord:
        descriptor = self.layer.descriptor
        return LayerRecord(descriptor.media_type, descriptor.size, self.layer.diff_id)


def _args(request: LayerRequest, python: SandboxPython) -> Tuple[str, ...]:
    if request.tar_name and (request.compile or request.forbid_sandbox_paths or request.elf_facts):
        # A tar is compressed as it is: there is no tree to compile, search or read facts from.
        raise ValueError(f"{request.description}: compile, forbid_sandbox_paths and elf_facts need a tree, not a tar")
    source = f"tree/{request.tar_name}" if request.tar_name else "tree"
    options = [f"--mtime={request.mtime}", *request.compression.options()]
    if request.tar_name:
        options.append("--from-tar")
    options += [f"--compile={d.strip('/')}=/{d.strip('/')}" for d in request.compile]
    if request.forbid_sandbox_paths:
        options.append(f"--forbid={SANDBOX_DIR_PREFIX}")
    if request.elf_facts:
        options.append("--elf-facts")
    if request.interpreter and request.compression.kind == "gzip":
        options += [f"--gzip-python={arg}" for arg in python.command]
    return (source, "out", *options)


@rule(desc="Write an image layer", level=LogLevel.DEBUG)
async def build_layer(request: LayerRequest) -> BuiltLayer:
    python = await Get(SandboxPython, SandboxPythonRequest())
    digests = [Get(Digest, AddPrefix(request.source, "tree"))]
    if request.interpreter:
        digests.append(Get(Digest, AddPrefix(request.interpreter.tree, "runtime")))
    inputs = await Get(Digest, MergeDigests(await MultiGet(digests)))
    tools = request.compression.zstd_tools
    immutable = {
        **({_TOOLS_DIR: tools} if tools else {}),
        **(interpreter_inputs(request.interpreter) if request.interpreter else {}),
    }
    process = await tool_process(
        python,
        LAYER_TOOL,
        _args(request, python),
        inputs=inputs,
        immutable_inputs=immutable,
        output_directories=("out",),
        description=request.description,
        interpreter=interpreter_command(request.interpreter, "runtime") if request.interpreter else (),
    )
    result = await Get(FallibleProcessResult, Process, process)
    if result.exit_code != 0:
        raise LayerError(f"{request.description} failed: {explained_failure(result)}")
    blob, records = await MultiGet(
        Get(Digest, DigestSubset(result.output_digest, PathGlobs(["out/blobs/**"]))),
        Get(
            DigestContents,
            DigestSubset(
                result.output_digest, PathGlobs([f"out/{layer_tool.RECORD_FILE}", f"out/{layer_tool.FACTS_FILE}"])
            ),
        ),
    )
    files = {fc.path[len("out/") :]: json.loads(fc.content) for fc in records}
    record = files[layer_tool.RECORD_FILE]
    if record["media_type"] != request.compression.media_type:
        raise LayerError(f"{request.description} wrote a {record['media_type']} blob, not {request.compression.kind}")
    descriptor = model.Descriptor(record["media_type"], record["digest"], record["size"])
    facts = ElfFacts(*elf_facts_from_json(files[layer_tool.FACTS_FILE])) if request.elf_facts else None
    return BuiltLayer(
        blob=await Get(Digest, RemovePrefix(blob, "out")),
        layer=model.Layer(descriptor, record["diff_id"], request.created_by),
        uncompressed_size=record["uncompressed_size"],
        entries=record["entries"],
        facts=facts,
    )


def rules():
    return collect_rules()
