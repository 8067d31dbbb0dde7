"""The sandbox-tool seam: how the plugin runs one of its own standard-library modules in a Pants sandbox.

Every heavy step (a base's assembly, a build root's unpacking, every layer, the OCI archive, the ELF facts, a
signature check) is a module of the plugin run with `python -m` in a cacheable process. A `SandboxTool` names the
module; what it ships follows from its imports (`shipped_files`, the AST import closure of `pants_oci` modules),
so no list of modules is kept by hand. `tool_process` builds the `Process`.

The interpreter is part of the cache key, so it must be the same bytes and the same path on every machine: a
`SandboxPython` is Debian's python3 from the `[container-tools]` lock, unpacked from its pinned .debs and mounted at
a relative path, run with that lock's own dynamic loader and libraries (its zlib, too: a gzip layer's bytes do not
depend on the host). Pants' own interpreter never runs a cacheable tool: its path lies under the home directory the
launcher bootstrapped into, which differs between a laptop and a CI runner.

Exit protocol of every tool (exits.py): 0 done; 1 a bad command line (a bug in the rule); 2 a problem explained in
one line, the last of stderr (`explained_failure` gives it to the caller's error); anything else is a bug or a
crash, reported with the end of stderr.
"""
import ast
import functools
import pkgutil
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Set, Tuple

from pants.engine.fs import EMPTY_DIGEST, CreateDigest, Digest, FileContent, MergeDigests
from pants.engine.process import FallibleProcessResult, Process, ProcessCacheScope
from pants.engine.rules import Get
from pants.util.logging import LogLevel

from pants_oci.exits import EXIT_EXPLAINED

PACKAGE = "pants_oci"
# Where the interpreter's tree is mounted in every sandbox (an immutable input: materialized once, never copied).
PYTHON_DIR = "__sandbox_python"
# The launchers of host tools are /bin/sh scripts that find their tree with dirname: a fixed PATH, not the host's.
TOOL_PATH = "/usr/bin:/bin"
# The scopes whose results Pants keeps in memory only, never in a local or remote cache.
_NEVER_STORED = (
    ProcessCacheScope.PER_SESSION,
    ProcessCacheScope.PER_RESTART_ALWAYS,
    ProcessCacheScope.PER_RESTART_SUCCESSFUL,
)
# Pants prints these errors: a crash's stderr is cut to its end, where Python puts the exception.
_MAX_CRASH_OUTPUT = 1500


@dataclass(frozen=True)
class SandboxTool:
    """A module of the plugin that runs in a sandbox, and the data files (relative to pants_oci/) it reads."""

    module: str  # e.g. "pants_oci.oci.layer_tool"
    data: Tuple[str, ...] = ()


@dataclass(frozen=True)
class SandboxPython:
    """A content-addressed Python for sandbox tools: `tree` mounted at PYTHON_DIR, run by `command` (relative paths
    into that mount: the loader, its library path, the interpreter)."""

    tree: Digest
    command: Tuple[str, ...]
    version: str = ""  # "3.13": the pex CLI must start on it (image/pex_cli.py); "" for the host's
    cacheable: bool = True  # False: the host's interpreter (see host_python)


def host_python(path: str) -> SandboxPython:
    """Pants' own interpreter, for the one kind of tool that cannot wait for the lock and is never cached: the
    index fetch, which locking (the [container-tools] lock's own included) needs first. Its path names the machine,
    so tool_process refuses to put it in a cacheable process."""
    return SandboxPython(EMPTY_DIGEST, (path,), cacheable=False)


@dataclass(frozen=True)
class SandboxPythonRequest:
    pass


def _module_path(module: str) -> Optional[str]:
    """pants_oci.a.b -> "a/b.py" (or "a/b/__init__.py"), relative to the package; None if no such module."""
    parts = module.split(".")[1:]
    for candidate in ("/".join(parts) + ".py", "/".join([*parts, "__init__.py"])):
        if _source(candidate) is not None:
            return candidate
    return None


@functools.lru_cache(maxsize=None)
def _source(path: str) -> Optional[bytes]:
    try:
        return pkgutil.get_data(PACKAGE, path)
    except (FileNotFoundError, OSError):
        return None


def _imported_modules(source: bytes) -> Set[str]:
    """The pants_oci modules a source imports, at any depth of its code (`from pants_oci.x import y` counts y when
    it is a module, else x)."""
    found: Set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == PACKAGE:
            module = node.module or PACKAGE
            for alias in node.names:
                child = f"{module}.{alias.name}"
                found.add(child if _module_path(child) else module)
    return found


@functools.lru_cache(maxsize=None)
def module_closure(module: str) -> Tuple[str, ...]:
    """The files (relative to pants_oci/) of `module` and of every pants_oci module it imports, transitively."""
    paths: Set[str] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        path = _module_path(name)
        if path is None:
            raise ValueError(f"{name} is not a module of the plugin")
        if path in paths:
            continue
        paths.add(path)
        pending.extend(_imported_modules(_source(path) or b""))
    return tuple(sorted(paths))


def shipped_files(tool: SandboxTool) -> Tuple[FileContent, ...]:
    """The files a tool's sandbox gets: its import closure, its data, and the __init__.py files that make them
    importable as pants_oci.<...> (empty: a package's own __init__ code is not the tool's)."""
    paths = [p for p in module_closure(tool.module) if not p.endswith("__init__.py")] + list(tool.data)
    return plugin_files(*paths)


def plugin_files(*paths: str) -> Tuple[FileContent, ...]:
    """`paths` relative to the pants_oci package (e.g. "oci/registry.py"), plus the empty `__init__.py` files that
    make them importable as `pants_oci.<...>`."""
    packages = {f"{PACKAGE}/__init__.py"}
    for path in paths:
        parts = path.split("/")[:-1]
        packages.update("/".join([PACKAGE, *parts[: i + 1], "__init__.py"]) for i in range(len(parts)))
    files = [FileContent(init, b"") for init in sorted(packages)]
    for path in sorted(set(paths)):
        data = _source(path)
        assert data is not None, f"{PACKAGE}/{path} is missing from the plugin"
        files.append(FileContent(f"{PACKAGE}/{path}", data))
    return tuple(files)


async def tool_process(
    python: SandboxPython,
    tool: SandboxTool,
    args: Iterable[str],
    *,
    description: str,
    inputs: Digest = EMPTY_DIGEST,
    interpreter: Tuple[str, ...] = (),
    **process_fields: Any,
) -> Process:
    """The Process that runs `tool` with `args` on `inputs` (see python_process for the other fields).

    `interpreter` runs the tool instead of `python` (a runtime that byte-compiles for its own version, its tree
    among `inputs`); `python` stays mounted for what the tool hands to it (layer_tool's gzip)."""
    shipped = await Get(Digest, CreateDigest(shipped_files(tool)))
    input_digest = await Get(Digest, MergeDigests([shipped, inputs])) if inputs != EMPTY_DIGEST else shipped
    return python_process(
        python,
        ("-s", "-B", "-m", tool.module, *args),
        description=description,
        input_digest=input_digest,
        interpreter=interpreter,
        **process_fields,
    )


def python_process(
    python: SandboxPython,
    args: Iterable[str],
    *,
    description: str,
    input_digest: Digest = EMPTY_DIGEST,
    immutable_inputs: Optional[Mapping[str, Digest]] = None,
    env: Optional[Mapping[str, str]] = None,
    append_only_caches: Optional[Mapping[str, str]] = None,
    output_files: Tuple[str, ...] = (),
    output_directories: Tuple[str, ...] = (),
    level: LogLevel = LogLevel.DEBUG,
    cache_scope: ProcessCacheScope = ProcessCacheScope.SUCCESSFUL,
    interpreter: Tuple[str, ...] = (),
) -> Process:
    """The Process that runs `python` (or `interpreter`) with `args`: nothing in it names the machine (the
    interpreter is a mounted Digest at a relative path, PATH is fixed, the hash seed is fixed)."""
    if not python.cacheable and cache_scope not in _NEVER_STORED:
        raise ValueError(f"{description}: the host's Python cannot run a cacheable process (its path names the host)")
    return Process(
        (*(interpreter or python.command), *args),
        input_digest=input_digest,
        immutable_input_digests={**({PYTHON_DIR: python.tree} if python.cacheable else {}), **(immutable_inputs or {})},
        env={"PATH": TOOL_PATH, "PYTHONHASHSEED": "0", **(env or {})},
        append_only_caches=append_only_caches,
        output_files=output_files,
        output_directories=output_directories,
        description=description,
        level=level,
        cache_scope=cache_scope,
    )


def explained_failure(result: FallibleProcessResult) -> str:
    """What a failed tool said: its one-line explanation (exit 2), or the exit code and the end of its stderr."""
    stderr = result.stderr.decode(errors="replace").strip()
    if result.exit_code == EXIT_EXPLAINED and stderr:
        return stderr.splitlines()[-1][:_MAX_CRASH_OUTPUT]
    return f"exit code {result.exit_code}:\n{stderr[-_MAX_CRASH_OUTPUT:]}"
