import gzip
import hashlib
import io
import json
import marshal
import os
import sys
import tarfile
from pathlib import Path

from pants_oci.oci import layer_tool
from pants_oci.oci.tarball import Entry, write_tar


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
        out = tmp_path / f"out{order}.tar.gz"
        record = tmp_path / f"out{order}.json"
        assert layer_tool.main([str(root), str(out), str(record)]) == 0
        records.append((out.read_bytes(), json.loads(record.read_text())))
    (first, meta), (second, _) = records
    assert first == second
    tar = gzip.decompress(first)
    assert meta["diff_id"] == "sha256:" + hashlib.sha256(tar).hexdigest()
    assert meta["digest"] == "sha256:" + hashlib.sha256(first).hexdigest() and meta["size"] == len(first)
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
        return {m.name.rstrip("/"): (m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()}


def test_compile_names_the_final_path_and_uses_unchecked_hash_pycs(tmp_path: Path) -> None:
    source = tmp_path / "tree/app/pkg/mod.py"
    source.parent.mkdir(parents=True)
    source.write_text("def f():\n    raise RuntimeError('boom')\n")
    (tmp_path / "tree/app/py2_only.py").write_text("print 'not python 3'\n")  # skipped, as pip skips it
    out, record = tmp_path / "out.tar.gz", tmp_path / "out.json"
    assert layer_tool.main([str(tmp_path / "tree"), str(out), str(record), "--compile=app=/app", "--mtime=1000"]) == 0
    members = _members(out.read_bytes())
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
    out, record = tmp_path / "out.tar.gz", tmp_path / "out.json"
    code = layer_tool.main([str(tmp_path / "tree"), str(out), str(record), "--forbid=pants-sandbox-"])
    assert code == layer_tool.EXIT_FORBIDDEN_TEXT and not out.exists()
    assert "lib/cfg.txt" in capsys.readouterr().err
