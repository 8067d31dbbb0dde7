import gzip
import hashlib
import io
import json
import marshal
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Optional

import pytest

from pants_oci.exits import EXIT_EXPLAINED, EXIT_USAGE
from pants_oci.oci import layer_tool
from pants_oci.oci.tarball import Entry, gzip_bytes, write_tar
from pants_oci.tools.testing import tool


def _written(out_dir: Path):
    """(blob, record) of a layer the tool wrote to out_dir; the blob is where an OCI layout keeps it."""
    record = json.loads((out_dir / layer_tool.RECORD_FILE).read_text())
    blob = (out_dir / "blobs/sha256" / record["digest"].split(":")[1]).read_bytes()
    return blob, record


def _tree(root: Path, order: int) -> None:
    names = ["opt/python/bin/python3.13", "opt/python/lib/libpython3.13.so", "opt/python/lib/python3.13/os.py"]
    for name in names if order else reversed(names):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(name.encode())
    os.chmod(root / names[0], 0o700)
    (root / "opt/python/bin/python3").symlink_to("python3.13")
    (root / "opt/python/include").mkdir()
    os.utime(root / names[1], (order * 1000, order * 1000))


def test_tree_archive_is_deterministic_and_records_diff_id(tmp_path: Path) -> None:
    records = []
    for order in (0, 1):
        root = tmp_path / f"tree{order}"
        _tree(root, order)
        assert layer_tool.main([str(root), str(tmp_path / f"out{order}")]) == 0
        records.append(_written(tmp_path / f"out{order}"))
    (first, meta), (second, _) = records
    assert first == second
    tar = gzip.decompress(first)
    assert meta["diff_id"] == "sha256:" + hashlib.sha256(tar).hexdigest()
    assert meta["digest"] == "sha256:" + hashlib.sha256(first).hexdigest() and meta["size"] == len(first)
    assert meta["media_type"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    assert meta["uncompressed_size"] == len(tar) and meta["entries"] == 10
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        members = {m.name.rstrip("/"): m for m in archive.getmembers()}
    assert members["opt/python/bin/python3"].linkname == "python3.13"
    assert members["opt/python/bin/python3.13"].mode == 0o755  # executable bit kept, rest normalized
    assert members["opt/python/lib/python3.13/os.py"].mode == 0o644
    assert members["opt/python/include"].isdir()


def test_same_bytes_as_the_in_memory_writer(tmp_path: Path) -> None:
    (tmp_path / "t/a").mkdir(parents=True)
    (tmp_path / "t/a/x.py").write_bytes(b"x")
    entries = layer_tool.tree_entries(str(tmp_path / "t"))
    assert write_tar(entries) == write_tar([Entry("a/x.py", b"x")])


def _members(archive: bytes):
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(archive))) as tar:
        return {m.name.rstrip("/"): (m, _content(tar, m)) for m in tar.getmembers()}


def _content(tar: tarfile.TarFile, member: tarfile.TarInfo) -> Optional[bytes]:
    extracted = tar.extractfile(member) if member.isfile() else None
    return extracted.read() if extracted else None


def test_compile_names_the_final_path_and_uses_unchecked_hash_pycs(tmp_path: Path) -> None:
    source = tmp_path / "tree/app/pkg/mod.py"
    source.parent.mkdir(parents=True)
    source.write_text("def f():\n    raise RuntimeError('boom')\n")
    (tmp_path / "tree/app/py2_only.py").write_text("print 'not python 3'\n")  # skipped, as pip skips it
    assert layer_tool.main([str(tmp_path / "tree"), str(tmp_path / "out"), "--compile=app=/app", "--mtime=1000"]) == 0
    members = _members(_written(tmp_path / "out")[0])
    tag = sys.implementation.cache_tag
    info, pyc = members[f"app/pkg/__pycache__/mod.{tag}.pyc"]
    assert info.mtime == 1000 and members["app/pkg/mod.py"][0].mtime == 1000
    flags = int.from_bytes(pyc[4:8], "little")
    assert flags == 0b01, "an unchecked-hash pyc (hash-based, check_source off)"
    code = marshal.loads(pyc[16:])
    assert code.co_filename == "/app/pkg/mod.py", "tracebacks name the image path, not the sandbox"
    assert not any(name.startswith("app/__pycache__/py2_only") for name in members)


def test_forbidden_text_fails_the_layer(tmp_path: Path, capsys) -> None:
    (tmp_path / "tree/lib").mkdir(parents=True)
    (tmp_path / "tree/lib/cfg.txt").write_bytes(b"prefix=/tmp/pants-sandbox-Ab12/venv\n")
    code = layer_tool.main([str(tmp_path / "tree"), str(tmp_path / "out"), "--forbid=pants-sandbox-"])
    assert code == EXIT_EXPLAINED and not (tmp_path / "out/blobs").exists()
    assert "lib/cfg.txt" in capsys.readouterr().err


def test_from_tar_compresses_the_tar_as_it_is(tmp_path: Path) -> None:
    tar = write_tar([Entry("tmp", mode=0o1777), Entry("etc/passwd", b"root:x:0:0::/root:/bin/sh\n")])
    (tmp_path / "base.tar").write_bytes(tar)
    assert layer_tool.main([str(tmp_path / "base.tar"), str(tmp_path / "out"), "--from-tar"]) == 0
    blob, record = _written(tmp_path / "out")
    assert blob == gzip_bytes(tar), "modes a tree could not carry (1777) survive"
    assert record["entries"] == 3 and record["diff_id"] == "sha256:" + hashlib.sha256(tar).hexdigest()
    # A tar is compressed as it is: options that need a tree are refused, not ignored.
    assert (
        layer_tool.main([str(tmp_path / "base.tar"), str(tmp_path / "bad"), "--from-tar", "--elf-facts"]) == EXIT_USAGE
    )


def test_a_bad_command_line_is_the_rules_bug_not_an_explained_problem(capsys) -> None:
    with pytest.raises(SystemExit) as e:
        layer_tool.main(["only-the-source"])
    assert e.value.code == EXIT_USAGE and "the following arguments are required: out_dir" in capsys.readouterr().err


def test_elf_facts_are_read_from_the_tree(tmp_path: Path) -> None:
    (tmp_path / "tree/lib").mkdir(parents=True)
    with open(sys.executable, "rb") as f:
        (tmp_path / "tree/lib/python").write_bytes(f.read())
    (tmp_path / "tree/lib/link").symlink_to("python")
    assert layer_tool.main([str(tmp_path / "tree"), str(tmp_path / "out"), "--elf-facts"]) == 0
    facts = json.loads((tmp_path / "out" / layer_tool.FACTS_FILE).read_text())
    assert "lib/python" in facts["elves"] and facts["links"] == {"lib/link": "python"}


def test_zstd_layers_are_reproducible_and_checked(tmp_path: Path) -> None:
    """Real zstd (from the test-tools Debian lock): same tree, same blob; the blob decompresses to the tar."""
    zstd = tool("zstd")
    _tree(tmp_path / "tree", 1)
    blobs = []
    for name in ("a", "b"):
        args = [str(tmp_path / "tree"), str(tmp_path / name), "--compression=zstd", f"--zstd={zstd}", "--zstd-level=19"]
        assert layer_tool.main(args) == 0
        blobs.append(_written(tmp_path / name))
    (blob, record), (again, _) = blobs
    assert blob == again and blob[:4] == b"\x28\xb5\x2f\xfd", "a zstd frame"
    assert record["media_type"] == "application/vnd.oci.image.layer.v1.tar+zstd"
    tar = subprocess.run([zstd, "-d", "-c"], input=blob, capture_output=True, check=True).stdout
    assert record["diff_id"] == "sha256:" + hashlib.sha256(tar).hexdigest()
    gzip_dir = tmp_path / "gz"
    assert layer_tool.main([str(tmp_path / "tree"), str(gzip_dir)]) == 0
    assert _written(gzip_dir)[1]["diff_id"] == record["diff_id"], "the same tar whatever the compression"


def test_a_compressor_that_fails_is_reported(tmp_path: Path, capsys) -> None:
    _tree(tmp_path / "tree", 1)
    code = layer_tool.main([str(tmp_path / "tree"), str(tmp_path / "out"), "--compression=zstd", "--zstd=/bin/false"])
    assert code == EXIT_EXPLAINED and "/bin/false exited 1" in capsys.readouterr().err


# Runs layer_tool under this interpreter with a zlib that writes other deflate streams (as zlib-ng, Fedora's
# system zlib, does): every compressor it makes uses level 1. Decompression is the real zlib's.
_OTHER_ZLIB = """
import runpy, sys, zlib
real = zlib.compressobj
zlib.compressobj = lambda level=-1, *args, **kwargs: real(1, *args, **kwargs)
sys.argv = ["layer_tool", *sys.argv[1:]]
runpy.run_module("pants_oci.oci.layer_tool", run_name="__main__")
"""


def _layer_under_other_zlib(tmp_path: Path, name: str, *options: str) -> bytes:
    tree = _prepared(tmp_path)
    out = tmp_path / name
    plugin_root = Path(layer_tool.__file__).parents[2]
    subprocess.run(
        [sys.executable, "-c", _OTHER_ZLIB, str(tree), str(out), *options],
        check=True,
        cwd=plugin_root,
        env={**os.environ, "PYTHONPATH": str(plugin_root)},
    )
    return _written(out)[0]


def test_gzip_bytes_come_from_the_gzip_python_not_the_running_interpreter(tmp_path: Path) -> None:
    """A runtime writes its layers with the zlib of its build root; with --gzip-python, the bytes are the given
    Python's (the sandbox Python's pinned zlib) whatever zlib the running interpreter loads."""
    assert layer_tool.main([str(_prepared(tmp_path)), str(tmp_path / "reference")]) == 0
    reference = _written(tmp_path / "reference")[0]
    unpinned = _layer_under_other_zlib(tmp_path, "unpinned")
    # The stand-in zlib does write other bytes (else this test could not fail) ...
    assert unpinned != reference and gzip.decompress(unpinned) == gzip.decompress(reference)
    # ... and piping through a Python with the reference zlib gives the reference bytes.
    pinned = _layer_under_other_zlib(tmp_path, "pinned", f"--gzip-python={sys.executable}")
    assert pinned == reference


def _prepared(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    (tree / "app").mkdir(parents=True, exist_ok=True)
    (tree / "app/data.txt").write_bytes(b"the same text, many times over. " * 4000)
    return tree
