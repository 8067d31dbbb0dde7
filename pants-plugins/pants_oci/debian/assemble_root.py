"""Unpack a build root or a host tools tree from .deb files onto disk, as a script run inside a sandboxed,
cacheable process.

    python -m pants_oci.debian.assemble_root SPEC_JSON TREE_DIR

SPEC_JSON names the .debs (paths relative to the working directory): {"debs": [["gcc-12", "debs/gcc-12.deb"], ...]},
and for host tools their architecture and the packages whose programs get launchers:
{"debs": ..., "host_tools": {"architecture": "amd64", "requested": ["umoci", "runc"]}}. TREE_DIR receives the tree
(`build_root.build_root_entries`, or `host_tools.host_tools_entries`), and stdout a JSON summary (packages,
entries, bytes, and the launchers of host tools). The tree is written under a temporary name and renamed when
whole: nothing half-unpacked is captured.
(The summary is not a file beside the tree so that the rule never has to take a subset of the tree's digest:
Pants 2.17 walks a subset's symlinks with a depth limit that a directory of many symlinks exceeds.)

Only what Pants' digests keep is written: contents, the executable bit and symlinks (no owners, no other modes).
Standard library only (plus the plugin's pure modules shipped with it).

Exit codes: 0 done; 1 a bad command line or spec (a bug in the calling rule); 2 a package that cannot be used,
with one line on stderr that names it.
"""
import json
import os
import shutil
import sys
from typing import List, Optional, Sequence, Tuple

from pants_oci.debian.assemble_base import BaseSpec, SpecError, build_or_explain, deb_pairs, one_line, read_debs
from pants_oci.debian.build_root import build_root_entries
from pants_oci.debian.host_tools import HostToolsError, host_tools_entries
from pants_oci.oci.tarball import Entry

EXIT_OK, EXIT_USAGE, EXIT_BAD_PACKAGE = 0, 1, 2


def read_spec(path: str) -> Tuple[BaseSpec, Optional[Tuple[str, List[str]]]]:
    """The .debs, and for host tools (else None) their architecture and requested packages."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise SpecError(f"cannot read the spec {path}: {e}") from e
    if not isinstance(doc, dict) or "debs" not in doc or not set(doc) <= {"debs", "host_tools"}:
        raise SpecError('the spec must be a JSON object with the key "debs" and optionally "host_tools"')
    host_tools = doc.get("host_tools")
    if host_tools is not None:
        if not isinstance(host_tools, dict) or set(host_tools) != {"architecture", "requested"}:
            raise SpecError('"host_tools" must be an object with the keys "architecture" and "requested"')
        host_tools = (host_tools["architecture"], list(host_tools["requested"]))
    return BaseSpec(deb_pairs(doc["debs"]), keep_docs=False, keep_gconv=True, mtime=0), host_tools


def write_tree(entries: Sequence[Entry], root: str) -> int:
    """Write `entries` (sorted, so parents come before children) under `root`; returns the bytes written."""
    written = 0
    os.makedirs(root)
    for entry in entries:
        path = os.path.join(root, entry.path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if entry.link_target is not None:
            os.symlink(entry.link_target, path)
        elif entry.content is None:
            os.makedirs(path, exist_ok=True)
        else:
            executable = entry.is_executable or bool((entry.mode or 0) & 0o111)
            with open(path, "wb") as f:
                f.write(entry.content)
            os.chmod(path, 0o755 if executable else 0o644)
            written += len(entry.content)
    return written


def main(argv: List[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m pants_oci.debian.assemble_root SPEC_JSON TREE_DIR", file=sys.stderr)
        return EXIT_USAGE
    spec_path, tree_dir = argv
    try:
        spec, host_tools = read_spec(spec_path)
        debs = read_debs(spec)
    except SpecError as e:
        print(one_line(f"assemble_root: {e}"), file=sys.stderr)
        return EXIT_USAGE
    launchers: List[str] = []

    def unpack() -> List[Entry]:
        if host_tools is None:
            return build_root_entries(debs)
        tree, launchers[:] = host_tools_entries(debs, *host_tools)
        return tree

    try:
        entries, problem = build_or_explain(unpack, spec, debs)
    except HostToolsError as e:
        entries, problem = None, str(e)
    if entries is None:
        print(one_line(problem), file=sys.stderr)
        return EXIT_BAD_PACKAGE
    partial = tree_dir.rstrip("/") + ".partial"
    try:
        size = write_tree(entries, partial)
        os.replace(partial, tree_dir)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    summary = {
        "packages": sorted(name for name, _ in spec.debs),
        "entries": len(entries),
        "bytes": size,
        "launchers": launchers,
    }
    print(json.dumps(summary, sort_keys=True))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
