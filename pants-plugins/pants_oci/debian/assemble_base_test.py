import glob
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import pytest

import pants_oci
from pants_oci.debian import assemble_base as tool
from pants_oci.debian.base import GROUP, PASSWD, assemble_base, elf_infos
from pants_oci.debian.deb_test import _ar, _tar_xz
from pants_oci.elf.elf import elf_facts_from_json
from pants_oci.oci import layer_tool, model
from pants_oci.oci.determinism import DEFAULT_EPOCH
from pants_oci.oci.tarball import gzip_bytes, read_tar, write_tar

# The plugin's source root, so `python -m pants_oci...` works in a subprocess as it does in the Pants sandbox.
PLUGIN_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(pants_oci.__file__)))
APT_ARCHIVES = "/var/cache/apt/archives"
# Real packages to try from the apt cache: co-installable in Debian, so they never conflict, and small.
REAL_PACKAGES = ("libc6", "libssl3", "zlib1g", "ca-certificates", "tzdata", "libzstd1")
MAX_REAL_DEB_SIZE = 5_000_000
LATER_MTIME = 1_700_000_000

Debs = List[Tuple[str, bytes]]


# ---------------------------------------------------------------------------------------------------------------
# Input .debs: synthetic ones always, real ones from the apt cache when this machine has them


def _tiny_elf() -> Optional[bytes]:
    for path in ("/bin/true", "/usr/bin/true"):
        if os.path.exists(path):
            with open(path, "rb") as f:
                return f.read()
    return None


def _synthetic_deb(name: str, files: Sequence[tuple]) -> bytes:
    control = f"Package: {name}\nVersion: 1.0-1\nArchitecture: amd64\nDescription: demo\n"
    control_tar = _tar_xz([("./", "dir", None, 0o755), ("./control", "file", control.encode(), 0o644)])
    data_tar = _tar_xz([("./", "dir", None, 0o755), *files])
    return _ar([("debian-binary", b"2.0\n"), ("control.tar.xz", control_tar), ("data.tar.xz", data_tar)])


def synthetic_debs() -> Debs:
    demo_files = [
        ("./usr/lib/x86_64-linux-gnu/libdemo.so.1.0", "file", b"not really a library", 0o644),
        ("./usr/lib/x86_64-linux-gnu/libdemo.so.1", "sym", "libdemo.so.1.0", 0o777),
        ("./usr/share/doc/libdemo1/changelog.Debian.gz", "file", b"log", 0o644),
        ("./usr/share/doc/libdemo1/copyright", "file", b"MIT", 0o644),
    ]
    elf = _tiny_elf()
    if elf is not None:
        demo_files.append(("./usr/bin/demo", "file", elf, 0o755))
    certificate = b"-----BEGIN CERTIFICATE-----\n"
    certificates = [("./usr/share/ca-certificates/mozilla/Demo_Root.crt", "file", certificate, 0o644)]
    return [
        ("libdemo1", _synthetic_deb("libdemo1", demo_files)),
        ("ca-certificates", _synthetic_deb("ca-certificates", certificates)),
    ]


def real_debs() -> Debs:
    debs = []
    for name in REAL_PACKAGES:
        candidates = sorted(glob.glob(os.path.join(APT_ARCHIVES, f"{name}_*.deb")))
        if candidates and os.path.getsize(candidates[-1]) <= MAX_REAL_DEB_SIZE:
            with open(candidates[-1], "rb") as f:
                debs.append((name, f.read()))
    return debs


@pytest.fixture(params=["synthetic", "apt-cache"])
def debs(request) -> Debs:
    if request.param == "synthetic":
        return synthetic_debs()
    found = real_debs()
    if not found:
        pytest.skip(f"no .deb of {', '.join(REAL_PACKAGES)} in {APT_ARCHIVES}")
    return found


# ---------------------------------------------------------------------------------------------------------------
# Running the script as the sandboxed process would


def run_tool(
    workdir: Path, debs: Debs, keep_docs: bool = False, mtime: int = DEFAULT_EPOCH, out_dir: str = "out"
) -> subprocess.CompletedProcess:
    """Lay out debs/<name>.deb and spec.json in `workdir`, then run `python -m ...assemble_base` there."""
    (workdir / "debs").mkdir(parents=True, exist_ok=True)
    for name, data in debs:
        (workdir / "debs" / f"{name}.deb").write_bytes(data)
    spec = {
        "debs": [[name, f"debs/{name}.deb"] for name, _ in debs],
        "keep_docs": keep_docs,
        "keep_gconv": False,
        "mtime": mtime,
    }
    (workdir / "spec.json").write_text(json.dumps(spec))
    env = dict(os.environ, PYTHONPATH=PLUGIN_ROOT)
    return subprocess.run(
        [sys.executable, "-m", "pants_oci.debian.assemble_base", "spec.json", out_dir],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
    )


def outputs(out_dir: Path) -> dict:
    return {name: (out_dir / name).read_bytes() for name in (tool.ARCHIVE_FILE, tool.FACTS_FILE)}


def built(workdir: Path, debs: Debs, **kwargs) -> dict:
    result = run_tool(workdir, debs, **kwargs)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return outputs(workdir / "out")


def tar_members(archive: bytes) -> List[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return tar.getmembers()


# ---------------------------------------------------------------------------------------------------------------
# What a successful run writes


def test_archive_is_byte_identical_to_the_in_memory_build(tmp_path: Path, debs: Debs) -> None:
    files = built(tmp_path, debs, mtime=DEFAULT_EPOCH)
    expected = write_tar(assemble_base(debs, keep_docs=False), mtime=DEFAULT_EPOCH)
    assert files[tool.ARCHIVE_FILE] == expected
    assert sorted(os.listdir(tmp_path / "out")) == sorted(files), "no temporary files left behind"


def test_the_layer_tool_makes_the_base_layer_of_the_tar(tmp_path: Path, debs: Debs) -> None:
    """The base layer is the one layer writer's gzip of base.tar: the same blob the base had when it was
    gzipped in memory (so image digests did not change), with a record of its digests and sizes."""
    files = built(tmp_path, debs)
    tar = files[tool.ARCHIVE_FILE]
    assert layer_tool.main([str(tmp_path / "out" / tool.ARCHIVE_FILE), str(tmp_path / "layer"), "--from-tar"]) == 0
    blob = gzip_bytes(tar)
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    assert (tmp_path / "layer" / model.blob_path(digest)).read_bytes() == blob
    assert json.loads((tmp_path / "layer" / layer_tool.RECORD_FILE).read_text()) == {
        "media_type": model.MEDIA_TYPE_LAYER_GZIP,
        "diff_id": "sha256:" + hashlib.sha256(tar).hexdigest(),
        "digest": digest,
        "size": len(blob),
        "uncompressed_size": len(tar),
        "entries": len(tar_members(tar)),
    }


def test_facts_match_what_the_image_rules_compute(tmp_path: Path, debs: Debs) -> None:
    files = built(tmp_path, debs)
    facts = json.loads(files[tool.FACTS_FILE])
    entries = assemble_base(debs)
    assert facts["packages"] == sorted(name for name, _ in debs)
    assert facts["passwd"] == PASSWD and facts["group"] == GROUP
    elves, links = elf_facts_from_json(facts)
    assert (elves, links) == elf_infos(entries)
    # The facts and the tar's own members agree.
    assert (elves, links) == elf_infos(read_tar(files[tool.ARCHIVE_FILE]))


def test_synthetic_facts_cover_elves_links_and_the_ca_bundle(tmp_path: Path) -> None:
    files = built(tmp_path, synthetic_debs())
    elves, links = elf_facts_from_json(json.loads(files[tool.FACTS_FILE]))
    assert links["usr/lib/x86_64-linux-gnu/libdemo.so.1"] == "libdemo.so.1.0"
    assert links["usr/lib/ssl/cert.pem"] == "/etc/ssl/certs/ca-certificates.crt"
    if _tiny_elf() is not None:
        assert "libc.so.6" in elves["usr/bin/demo"].needed
    paths = {m.name.rstrip("/") for m in tar_members(files[tool.ARCHIVE_FILE])}
    assert {"etc/ssl/certs/ca-certificates.crt", "var/lib/dpkg/status.d/libdemo1", "tmp"} <= paths
    assert "usr/share/doc/libdemo1/changelog.Debian.gz" not in paths


def test_keep_docs_is_passed_through(tmp_path: Path) -> None:
    files = built(tmp_path, synthetic_debs(), keep_docs=True)
    paths = {m.name for m in tar_members(files[tool.ARCHIVE_FILE])}
    assert "usr/share/doc/libdemo1/changelog.Debian.gz" in paths


def test_same_input_gives_identical_outputs(tmp_path: Path, debs: Debs) -> None:
    assert built(tmp_path / "one", debs) == built(tmp_path / "two", debs)


def test_mtime_changes_the_archive(tmp_path: Path) -> None:
    debs = synthetic_debs()
    early = built(tmp_path / "early", debs, mtime=DEFAULT_EPOCH)
    late = built(tmp_path / "late", debs, mtime=LATER_MTIME)
    assert early[tool.ARCHIVE_FILE] != late[tool.ARCHIVE_FILE]
    assert {m.mtime for m in tar_members(late[tool.ARCHIVE_FILE])} == {LATER_MTIME}
    assert early[tool.FACTS_FILE] == late[tool.FACTS_FILE], "the facts do not depend on time"


# ---------------------------------------------------------------------------------------------------------------
# Failures: exit 2, one line naming the package, nothing in OUT_DIR


def assert_failed_cleanly(tmp_path: Path, result: subprocess.CompletedProcess, *names: str) -> str:
    assert result.returncode == tool.EXIT_BAD_PACKAGE, result.stderr
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    assert all(name in message for name in names), message
    out_dir = tmp_path / "out"
    assert not out_dir.exists() or not os.listdir(out_dir)
    return message


def test_garbage_deb_exits_2_naming_the_package(tmp_path: Path) -> None:
    result = run_tool(tmp_path, [*synthetic_debs(), ("libbroken", b"this is not an ar archive")])
    message = assert_failed_cleanly(tmp_path, result, "libbroken")
    assert "not a .deb" in message


def test_corrupt_payload_exits_2_naming_the_package(tmp_path: Path) -> None:
    # A valid ar container whose data.tar.xz is damaged: the xz error itself names no package.
    good = synthetic_debs()[0][1]
    control = _tar_xz([("./control", "file", b"Package: libdamaged\n", 0o644)])
    damaged_xz = b"\xfd7zXZ\x00" + b"\x00" * 40  # the xz magic, then nothing valid
    members = [("debian-binary", b"2.0\n"), ("control.tar.xz", control), ("data.tar.xz", damaged_xz)]
    result = run_tool(tmp_path, [("libgood", good), ("libdamaged", _ar(members))])
    message = assert_failed_cleanly(tmp_path, result, "libdamaged", "debs/libdamaged.deb")
    assert "libgood" not in message


def test_truncated_real_or_synthetic_deb_exits_2(tmp_path: Path) -> None:
    name, data = (real_debs() or synthetic_debs())[0]
    result = run_tool(tmp_path, [(name, data[: len(data) // 2])])
    assert_failed_cleanly(tmp_path, result, name)


def test_conflicting_files_exit_2_naming_both_packages(tmp_path: Path) -> None:
    one = _synthetic_deb("liba", [("./usr/share/demo/data", "file", b"a", 0o644)])
    two = _synthetic_deb("libb", [("./usr/share/demo/data", "file", b"b", 0o644)])
    result = run_tool(tmp_path, [("liba", one), ("libb", two)])
    assert_failed_cleanly(tmp_path, result, "liba", "libb", "/usr/share/demo/data")


def test_failure_while_writing_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    written: List[str] = []

    def write_then_fail(path: str, data: bytes) -> None:
        if written:
            raise OSError(28, "No space left on device")
        written.append(path)
        Path(path).write_bytes(data)

    monkeypatch.setattr(tool, "_write_file", write_then_fail)
    with pytest.raises(OSError, match="No space left"):
        tool.write_all_or_nothing(str(tmp_path / "out"), {"a": b"1", "b": b"2", "c": b"3"})
    assert written and os.listdir(tmp_path / "out") == []


# ---------------------------------------------------------------------------------------------------------------
# Caller bugs: exit 1


def test_wrong_arguments_and_bad_specs_exit_1(tmp_path: Path, capsys) -> None:
    assert tool.main(["only-one-argument"]) == tool.EXIT_USAGE
    absent = str(tmp_path / "gone.deb")
    bad_specs = {
        "missing.json": None,
        "not-json.json": "{",
        "no-mtime.json": json.dumps({"debs": [], "keep_docs": False, "keep_gconv": False}),
        "bool-mtime.json": json.dumps({"debs": [], "keep_docs": False, "keep_gconv": False, "mtime": True}),
        "duplicate.json": json.dumps(
            {"debs": [["a", "x.deb"], ["a", "y.deb"]], "keep_docs": False, "keep_gconv": False, "mtime": 0}
        ),
        "absent-deb.json": json.dumps(
            {"debs": [["libgone", absent]], "keep_docs": False, "keep_gconv": False, "mtime": 0}
        ),
    }
    for name, text in bad_specs.items():
        if text is not None:
            (tmp_path / name).write_text(text)
        assert tool.main([str(tmp_path / name), str(tmp_path / "out")]) == tool.EXIT_USAGE, name
    err = capsys.readouterr().err
    assert "usage:" in err and "lacks mtime" in err and "more than once: a" in err and "package libgone" in err
    assert not (tmp_path / "out").exists()


def test_spec_paths_are_relative_to_the_working_directory(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "debs").mkdir()
    name, data = synthetic_debs()[0]
    (tmp_path / "debs" / "demo.deb").write_bytes(data)
    (tmp_path / "spec.json").write_text(
        json.dumps({"debs": [[name, "debs/demo.deb"]], "keep_docs": False, "keep_gconv": False, "mtime": 0})
    )
    monkeypatch.chdir(tmp_path)
    assert tool.main(["spec.json", "out"]) == tool.EXIT_OK
    archive = (tmp_path / "out" / tool.ARCHIVE_FILE).read_bytes()
    assert archive == write_tar(assemble_base([(name, data)]), mtime=0)
