"""Debian bases from the real archives: verified indexes, locks, .deb downloads and extraction (no CPython compile).

Each RuleRunner has an isolated store, so every build downloads and extracts for real. The verification cases run
against a file-served copy of the archives' InRelease files and indexes, altered one byte at a time.
"""
import contextlib
import functools
import gzip
import http.server
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import time
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
from pants.core.goals.generate_lockfiles import GenerateLockfileResult
from pants.core.goals.package import BuiltPackage
from pants.core.util_rules import adhoc_binaries, system_binaries
from pants.engine.addresses import Address
from pants.engine.fs import DigestContents
from pants.engine.internals.scheduler import ExecutionError
from pants.testutil.rule_runner import QueryRule, RuleRunner

from pants_oci.bases import rules as base_rules
from pants_oci.bases.rules import (
    BaseOfTarget,
    DebianBaseSpecRequest,
    DebianPackagesFieldSet,
    DebianUpdates,
    GenerateDebianLockfile,
)
from pants_oci.debian import apt_sources
from pants_oci.debian import base as base_fs
from pants_oci.debian import base_rules as debian_base_rules
from pants_oci.debian import lockfile, release
from pants_oci.debian import rules as debian_rules
from pants_oci.debian.base_rules import (
    DebianArchiveConfig,
    DebianAvailable,
    DebianAvailableRequest,
    VerifiedIndex,
    VerifiedIndexRequest,
)
from pants_oci.debian.release import parse_release_date
from pants_oci.debian.target_types import DebianPackagesTarget
from pants_oci.debian.version import compare_versions
from pants_oci.elf import closure
from pants_oci.oci.tarball import Entry
from pants_oci.runtime import modules
from pants_oci.runtime import rules as runtime_rules
from pants_oci.runtime.target_types import PythonRuntimeTarget
from pants_oci.runtime.testing import BUILD_ROOT_LOCK_RULES, lock_container_tools
from pants_oci.tools import rules as tools_rules
from pants_oci.tools.rules import ContainerTools, ContainerToolsRequest
from pants_oci.tools.testing import serving

PACKAGES = '["libc6", "netbase", "ca-certificates"]'
LOCK = "3rdparty/debian/src/base.lock.json"
SUITES = ("bookworm", "bookworm-updates", "bookworm-security")
TESTDATA = Path(__file__).parent.parent / "debian" / "testdata"


def _runner(*options: str) -> RuleRunner:
    runner = RuleRunner(
        rules=[
            *debian_base_rules.rules(),
            *base_rules.rules(),
            *debian_rules.rules(),
            *runtime_rules.rules(),
            *tools_rules.rules(),
            *system_binaries.rules(),
            *adhoc_binaries.rules(),
            QueryRule(BuiltPackage, [DebianPackagesFieldSet]),
            QueryRule(GenerateLockfileResult, [GenerateDebianLockfile]),
            QueryRule(BaseOfTarget, [DebianBaseSpecRequest]),
            QueryRule(VerifiedIndex, [VerifiedIndexRequest]),
            QueryRule(DebianAvailable, [DebianAvailableRequest]),
            QueryRule(DebianArchiveConfig, []),
            QueryRule(ContainerTools, [ContainerToolsRequest]),
            *BUILD_ROOT_LOCK_RULES,
        ],
        target_types=[DebianPackagesTarget, PythonRuntimeTarget],
        isolated_local_store=True,
    )
    archive = os.environ.get("PANTS_DEBIAN_ARCHIVE_URL")
    runner.set_options([*([f"--debian-archive-url={archive}"] if archive else []), *options], env_inherit={"PATH"})
    return runner


def _field_set(runner: RuleRunner, packages: str = PACKAGES) -> DebianPackagesFieldSet:
    runner.write_files({"src/BUILD": f'debian_packages(name="base", suite="bookworm", packages={packages})'})
    return DebianPackagesFieldSet.create(runner.get_target(Address("src", target_name="base")))


def _generate(runner: RuleRunner, address: Address) -> str:
    spec = runner.request(BaseOfTarget, [DebianBaseSpecRequest(runner.get_target(address))]).spec
    request = GenerateDebianLockfile(resolve_name=spec.address, lockfile_dest=spec.lock_path, diff=False, spec=spec)
    result = runner.request(GenerateLockfileResult, [request])
    return runner.request(DigestContents, [result.digest])[0].content.decode()


def _generate_lock(runner: RuleRunner, packages: str = PACKAGES) -> str:
    _field_set(runner, packages)
    return _generate(runner, Address("src", target_name="base"))


def _package(runner: RuleRunner, lock: str, packages: str = PACKAGES) -> bytes:
    lock_container_tools(runner)  # its python3 assembles the base
    runner.write_files({LOCK: lock})
    package = runner.request(BuiltPackage, [_field_set(runner, packages)])
    return runner.request(DigestContents, [package.digest])[0].content


@pytest.fixture(scope="module")
def lock() -> str:
    return _generate_lock(_runner())


@pytest.fixture(scope="module")
def base_archive(lock: str) -> bytes:
    return _package(_runner(), lock)


def _entries(archive: bytes) -> Dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {m.name.rstrip("/"): m for m in tar.getmembers()}


def test_lock_pins_the_closure(lock: str) -> None:
    document = json.loads(lock)
    names = [p["name"] for p in document["packages"]]
    assert {"libc6", "netbase", "ca-certificates", "libgcc-s1"} <= set(names)
    assert "debconf" not in names and "openssl" not in names  # install-time only
    for package in document["packages"]:
        assert len(package["sha256"]) == 64 and package["size"] > 0 and package["filename"].startswith("pool/")
        assert package["archive"] in ("debian", "debian-security") and package["suite"] in SUITES
    assert document["lock_version"] == 2 and tuple(document["suites"]) == SUITES


def test_the_lock_takes_security_fixes_from_the_security_archive() -> None:
    runner = _runner()
    lock = json.loads(_generate_lock(runner, '["libssl3", "libexpat1", "tzdata"]'))
    security_url = runner.request(DebianArchiveConfig, []).security_url
    security = runner.request(VerifiedIndex, [VerifiedIndexRequest(security_url, "bookworm-security", "amd64")])
    assert security.signed_by, "the security index was verified against a pinned key"
    for name in ("libssl3", "libexpat1"):
        locked = next(p for p in lock["packages"] if p["name"] == name)
        assert compare_versions(locked["version"], security.packages[name].version) >= 0, (name, locked)
        if locked["version"] == security.packages[name].version:
            assert (locked["archive"], locked["suite"]) in (
                ("debian-security", "bookworm-security"),
                ("debian", "bookworm-updates"),
                ("debian", "bookworm"),
            )


def test_base_has_scanner_entries_accounts_tmp_and_certificates(base_archive: bytes) -> None:
    members = _entries(base_archive)
    assert "var/lib/dpkg/status.d/libc6" in members and "var/lib/dpkg/status.d/netbase" in members
    assert members["tmp"].mode == 0o1777
    assert "etc/services" in members  # netbase
    assert members["etc/ssl/certs/ca-certificates.crt"].size > 100_000
    # OpenSSL's default CA paths lead to the bundle (the image test checks Python trusts it).
    assert members["usr/lib/ssl/cert.pem"].linkname == "/etc/ssl/certs/ca-certificates.crt"
    assert members["usr/lib/ssl/certs"].linkname == "/etc/ssl/certs"
    assert not any(name.startswith("usr/share/man/") for name in members)
    assert not any(name.startswith(("bin/", "usr/bin/dpkg", "usr/bin/apt")) for name in members if "sh" in name)
    with tarfile.open(fileobj=io.BytesIO(base_archive)) as tar:
        passwd_file = tar.extractfile("etc/passwd")
        assert passwd_file is not None
        passwd = passwd_file.read().decode()
    assert "nonroot:x:65532:65532:nonroot:/home/nonroot:" in passwd


def test_a_base_built_twice_is_byte_identical(lock: str, base_archive: bytes) -> None:
    assert _package(_runner(), lock) == base_archive


def test_closure_check_catches_a_missing_library_in_a_real_base(base_archive: bytes) -> None:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(base_archive))) as tar:
        entries: List[Entry] = []
        for m in tar.getmembers():
            extracted = tar.extractfile(m) if m.isfile() else None
            if extracted is not None:
                entries.append(Entry(m.name, extracted.read()))
            elif m.issym():
                entries.append(Entry(m.name, link_target=m.linkname))
    # A real ELF file that needs libcrypto.so.3, which a libc6-only base does not have.
    libssl = open(os.path.realpath("/usr/lib/x86_64-linux-gnu/libssl.so.3"), "rb").read()
    elves, links = base_fs.elf_infos([*entries, Entry("opt/app/libssl.so.3", libssl)])
    problems = closure.check_closure(elves, links, "2.36")
    assert [str(p) for p in problems] == [
        "/opt/app/libssl.so.3: needs libcrypto.so.3, which is not in the image (provided by the Debian package libssl3)"
    ]


def test_unknown_package_is_named() -> None:
    with pytest.raises(ExecutionError) as e:
        _generate_lock(_runner(), '["libc6", "libsssl3"]')
    assert "Unknown Debian package(s) 'libsssl3'" in str(e.value) and "src:base" in str(e.value)


def test_a_lock_that_no_longer_matches_the_target(lock: str) -> None:
    with pytest.raises(ExecutionError) as e:
        _package(_runner(), lock, '["libc6", "netbase", "ca-certificates", "tzdata"]')
    message = str(e.value)
    assert "no longer matches target src:base: packages not in the lock: tzdata" in message
    assert "./pants generate-lockfiles --resolve=src:base" in message


def test_a_deb_whose_sha256_differs_from_the_lock(lock: str) -> None:
    document = json.loads(lock)
    netbase = next(p for p in document["packages"] if p["name"] == "netbase")
    netbase["sha256"] = "0" * 64
    with pytest.raises(ExecutionError) as e:
        _package(_runner(), json.dumps(document))
    message = str(e.value)
    assert f"Could not fetch Debian package netbase {netbase['version']} for src:base" in message
    assert "0" * 64 in message


def test_an_unreachable_archive_names_the_package(lock: str) -> None:
    runner = _runner()
    runner.set_options(["--debian-archive-url=http://127.0.0.1:9/debian"], env_inherit={"PATH"})
    with pytest.raises(ExecutionError) as e:
        _package(runner, lock)
    message = str(e.value)
    assert "Could not fetch Debian package" in message and "http://127.0.0.1:9/debian/pool/" in message
    assert "[debian].archive_url" in message


def test_debian_updates_names_what_a_lock_is_behind_and_fails_on_security_fixes(lock: str) -> None:
    runner = _runner()
    document = json.loads(lock)
    libc6 = next(p for p in document["packages"] if p["name"] == "libc6")
    libc6["version"] = "2.36-1"  # an old revision: every later bookworm libc6 is newer
    _field_set(runner)
    runner.write_files({LOCK: json.dumps(document)})
    result = runner.run_goal_rule(DebianUpdates, args=["src:base"])
    assert "src:base (3rdparty/debian/src/base.lock.json): 1 package(s) behind" in result.stdout
    assert "libc6 2.36-1 -> " in result.stdout
    # libc6's newest version may come from the suite or from the security archive: only the latter fails.
    assert result.exit_code == (1 if "[security]" in result.stdout else 0)
    runner.write_files({LOCK: lock})
    assert runner.run_goal_rule(DebianUpdates, args=["src:base"]).exit_code == 0


def test_locking_a_base_for_a_runtime_compiles_nothing() -> None:
    """The runtime's libraries follow from its fields. No CPython source is reachable here: a compile would fail."""
    runner = _runner("--cpython-build-source-url-templates=['file:///nonexistent/{filename}']")
    runner.write_files(
        {
            "src/BUILD": 'python_runtime(name="py313", version="3.13.5", optimizations="none",\n'
            '               build_root_suite="bookworm")\n'
            'debian_packages(name="base", suite="bookworm", packages=["netbase"], runtimes=[":py313"])\n'
        }
    )
    names = {p["name"] for p in json.loads(_generate(runner, Address("src", target_name="base")))["packages"]}
    assert {"libc6", "libssl3", "libsqlite3-0", "libffi8", "libexpat1", "libgdbm6", "netbase"} <= names


def test_a_runtime_without_a_base_target_gets_a_default_base_lock() -> None:
    runner = _runner("--cpython-build-source-url-templates=['file:///nonexistent/{filename}']")
    runner.write_files(
        {
            "src/BUILD": 'python_runtime(name="py313", version="3.13.5", optimizations="none",\n'
            '               build_root_suite="bookworm")\n'
        }
    )
    spec = runner.request(
        BaseOfTarget, [DebianBaseSpecRequest(runner.get_target(Address("src", target_name="py313")))]
    ).spec
    assert spec.lock_path == "3rdparty/debian/src/py313.base.lock.json"
    lock = json.loads(_generate(runner, Address("src", target_name="py313")))
    names = {p["name"] for p in lock["packages"]}
    assert {"ca-certificates", "tzdata", "netbase", "libssl3", "libc6"} <= names
    assert "--resolve=src:py313" in lock["//"]


# ---------------------------------------------------------------------------------------------------------------
# Verification, against a file-served copy of the archives


def _machine_archives() -> Dict[str, str]:
    files = []
    for path in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]:
        if path.is_file():
            files.append((path.name, path.read_text()))
    main = os.environ.get("PANTS_DEBIAN_ARCHIVE_URL") or next(iter(apt_sources.archive_uris(files)), None)
    security = next(iter(apt_sources.security_archive_uris(files)), None)
    if not (main and security):
        pytest.skip("this machine's apt sources name no Debian archive and security archive to copy from")
    return {"debian": main, "debian-security": security}


@pytest.fixture(scope="module")
def mirror(tmp_path_factory) -> Path:
    """InRelease and the amd64 Packages.xz of bookworm, -updates (main archive) and -security, copied as they are."""
    root = tmp_path_factory.mktemp("mirror")
    archives = _machine_archives()
    for label, suite in (
        ("debian", "bookworm"),
        ("debian", "bookworm-updates"),
        ("debian-security", "bookworm-security"),
    ):
        for name in ("InRelease", "main/binary-amd64/Packages.xz"):
            target = root / label / "dists" / suite / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with urllib.request.urlopen(f"{archives[label]}/dists/{suite}/{name}", timeout=300) as response:
                target.write_bytes(response.read())
    return root


def _mirror_runner(mirror: Path, *options: str) -> RuleRunner:
    return _runner(
        f"--debian-archive-url=file://{mirror}/debian",
        f"--debian-security-archive-url=file://{mirror}/debian-security",
        *options,
    )


def _altered_copy(mirror: Path, tmp_path: Path, relative: str, after: bytes) -> Path:
    """A copy of the mirror with one bit flipped in `relative`, in the byte that follows the first `after`."""
    copy = tmp_path / "mirror"
    shutil.copytree(mirror, copy)
    path = copy / relative
    data = bytearray(path.read_bytes())
    data[data.index(after) + len(after)] ^= 0x01
    path.write_bytes(bytes(data))
    return copy


def test_a_verified_mirror_copy_locks(mirror: Path) -> None:
    lock = json.loads(_generate_lock(_mirror_runner(mirror), '["libc6"]'))
    assert "libc6" in {p["name"] for p in lock["packages"]}


def test_a_tampered_inrelease_is_rejected(mirror: Path, tmp_path: Path) -> None:
    # One byte of the signed text: "Label: Debian" becomes "Label: Eebian".
    altered = _altered_copy(mirror, tmp_path, "debian/dists/bookworm/InRelease", b"\nLabel: ")
    with pytest.raises(ExecutionError) as e:
        _generate_lock(_mirror_runner(altered), '["libc6"]')
    message = str(e.value)
    assert f"file://{altered}/debian" in message and "suite bookworm" in message
    assert "signature" in message.lower()


def test_an_index_that_does_not_match_the_release_file_is_rejected(mirror: Path, tmp_path: Path) -> None:
    altered = _altered_copy(
        mirror, tmp_path, "debian/dists/bookworm-updates/main/binary-amd64/Packages.xz", b"\xfd7zXZ"
    )
    with pytest.raises(ExecutionError) as e:
        _generate_lock(_mirror_runner(altered), '["libc6"]')
    message = str(e.value)
    assert "suite bookworm-updates" in message and "main/binary-amd64/Packages.xz" in message
    assert "sha256" in message.lower() or "hash" in message.lower()


def test_an_expired_valid_until_is_rejected(mirror: Path) -> None:
    # Sixty days from now: past the Valid-Until of -updates and -security (about a week), before the keys expire.
    later = int(time.time()) + 60 * 24 * 3600
    with pytest.raises(ExecutionError) as e:
        _generate_lock(_mirror_runner(mirror, f"--debian-verification-time={later}"), '["libc6"]')
    assert "Valid-Until" in str(e.value)


def test_the_unsigned_opt_out_skips_the_signature_but_not_the_hashes(mirror: Path, tmp_path: Path) -> None:
    altered = _altered_copy(mirror, tmp_path, "debian/dists/bookworm/InRelease", b"\nLabel: ")
    unsigned = f"--debian-unsigned-archives=['file://{altered}/debian']"
    # The altered byte is in the Label field, not in the hash lines: the indexes still match.
    lock = json.loads(_generate_lock(_mirror_runner(altered, unsigned), '["libc6"]'))
    assert "libc6" in {p["name"] for p in lock["packages"]}


# ---------------------------------------------------------------------------------------------------------------
# Rollback: a mirror serving an older (validly signed) Release file than the lock was made from


class _RecordingHandler(http.server.SimpleHTTPRequestHandler):
    requested: List[str] = []

    def do_GET(self) -> None:
        self.requested.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args) -> None:
        pass


@contextlib.contextmanager
def _served(root: Path) -> Iterator[str]:
    """`root` over HTTP on 127.0.0.1 (recording the paths asked for in _RecordingHandler.requested); its URL."""
    _RecordingHandler.requested = []
    handler = functools.partial(_RecordingHandler, directory=str(root))
    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)) as url:
        yield url


def _release_date(inrelease: bytes) -> int:
    match = re.search(rb"^Date: (.+)$", inrelease, re.MULTILINE)
    assert match is not None
    return parse_release_date(match.group(1).decode())


def test_a_mirror_older_than_the_lock_is_refused_before_any_packages_download(
    mirror: Path, tmp_path: Path, monkeypatch
) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)  # urllib in the sandbox would send loopback requests to a proxy
    # The current bookworm and bookworm-security, and the bookworm-updates of 2026-11-21 from testdata, with the
    # index it lists: all validly signed by Debian.
    rolled_back = tmp_path / "rolled-back"
    shutil.copytree(mirror, rolled_back)
    updates = rolled_back / "debian" / "dists" / "bookworm-updates"
    current_date = _release_date((updates / "InRelease").read_bytes())
    (updates / "InRelease").write_bytes((TESTDATA / "bookworm-updates.InRelease").read_bytes())
    packages_xz = (TESTDATA / "bookworm-updates.main-binary-amd64-Packages.xz").read_bytes()
    (updates / "main/binary-amd64/Packages.xz").write_bytes(packages_xz)
    old_date = _release_date((updates / "InRelease").read_bytes())
    assert old_date < current_date, "the testdata InRelease is older than the archive's current one"

    with _served(rolled_back) as url:
        # Age limits off: the rollback check alone is under test (the testdata file ages past any limit).
        options = [
            f"--debian-archive-url={url}/debian",
            f"--debian-security-archive-url={url}/debian-security",
            "--debian-max-release-age=0",
        ]
        runner = _runner(*options)
        _field_set(runner, '["libc6"]')
        # The lock on disk was made from the current bookworm-updates.
        releases = [lockfile.LockedRelease("debian", "bookworm-updates", current_date)]
        existing = lockfile.render_lock("src:base", "bookworm", "amd64", ["libc6"], [], SUITES, releases=releases)
        runner.write_files({LOCK: existing})
        with pytest.raises(ExecutionError) as e:
            _generate(runner, Address("src", target_name="base"))
        message = str(e.value)
        assert (
            f"Debian archive {url}/debian, suite bookworm-updates: the mirror's Release file is dated "
            f"Sat, 21 Nov 2026 02:10:46 UTC, older than the one the lock {LOCK} was made from "
            f"({release.format_release_date(current_date)})"
        ) in message
        assert "Use an up-to-date mirror ([debian].archive_url, [debian].security_archive_url)" in message
        assert [p for p in _RecordingHandler.requested if "Packages" in p] == [], _RecordingHandler.requested
        assert sorted(p for p in _RecordingHandler.requested if p.endswith("InRelease")) == [
            "/debian-security/dists/bookworm-security/InRelease",
            "/debian/dists/bookworm-updates/InRelease",
            "/debian/dists/bookworm/InRelease",
        ]

        # debian-updates holds the lock to the same dates.
        with pytest.raises(ExecutionError, match="older than the one the lock"):
            runner.run_goal_rule(DebianUpdates, global_args=options, args=["src:base"], env_inherit={"PATH"})
        assert [p for p in _RecordingHandler.requested if "Packages" in p] == []

        # A lock made from that same older file (or one without dates) locks against it.
        same = [lockfile.LockedRelease("debian", "bookworm-updates", old_date)]
        runner.write_files(
            {LOCK: lockfile.render_lock("src:base", "bookworm", "amd64", ["libc6"], [], SUITES, releases=same)}
        )
        relocked = json.loads(_generate(runner, Address("src", target_name="base")))
        assert {(r["suite"], r["date"]) for r in relocked["releases"]} >= {
            ("bookworm-updates", "Sat, 21 Nov 2026 02:10:46 UTC")
        }
        assert any("Packages" in p for p in _RecordingHandler.requested)


def test_a_20_mb_inrelease_is_refused_within_seconds_with_a_short_message(mirror: Path, tmp_path: Path) -> None:
    huge = tmp_path / "huge"
    shutil.copytree(mirror, huge)
    inrelease = huge / "debian" / "dists" / "bookworm-updates" / "InRelease"
    inrelease.write_bytes(inrelease.read_bytes() + b"A" * (20 * 1024 * 1024))
    runner = _mirror_runner(huge)
    start = time.monotonic()
    with pytest.raises(ExecutionError) as e:
        _generate_lock(runner, '["libc6"]')
    elapsed = time.monotonic() - start
    message = str(e.value)
    assert f"suite bookworm-updates: file://{huge}/debian/dists/bookworm-updates/InRelease has more than" in message
    assert "No Debian InRelease file is that large" in message
    # What Pants prints for it (the engine traceback above it is RuleRunner's, shown with --print-stacktrace only).
    error = message[message.index("DebianLockError: ") :].strip()
    assert len(error) < 2000 and elapsed < 30, (len(error), elapsed)


@pytest.mark.parametrize("suite", ["bookworm", "trixie"])
def test_each_modules_runtime_library_is_what_the_suites_archive_says(suite: str) -> None:
    """The per-suite names of runtime/modules.py against the suite's real, verified index: a module's runtime
    package is a library its -dev package depends on at exactly its own version (a meta -dev package, such as
    tk-dev, through the versioned -dev package it depends on)."""
    available = _runner().request(DebianAvailable, [DebianAvailableRequest(suite, "amd64")]).packages
    checked = []
    for module in modules.EXTENSION_MODULES:
        if not module.dev_package or not module.runtime_package:
            continue
        dev = available[module.dev_package]
        libraries = dev.exact_depends or next(
            available[d[0]].exact_depends for d in dev.depends if d[0].endswith("-dev") and d[0] in available
        )
        name = modules.runtime_package_in(module, suite)
        assert name in libraries, f"{module.name} on {suite}: {name} is not one of {libraries} ({dev.name})"
        checked.append(module.name)
    assert {"_ssl", "readline", "_gdbm", "_dbm", "_tkinter", "_uuid", "zlib"} <= set(checked)


def test_the_default_container_tools_python_makes_a_venv_with_pip_from_its_own_wheel(tmp_path: Path) -> None:
    """pex installs its own pip into a venv made by the sandbox Python; on the default suite's Python 3.13 that
    venv's pip comes from ensurepip, which must take the pip wheel from the unpacked tree, not the host."""
    runner = _runner()
    lock_container_tools(runner)
    tools = runner.request(ContainerTools, [ContainerToolsRequest()])
    runner.scheduler.write_digest(tools.tree, path_prefix="tools")  # relative to the runner's build root
    python = Path(runner.build_root) / "tools" / tools.python[0].split("/", 1)[1]
    venv = tmp_path / "venv"
    env = {"PATH": "/usr/bin:/bin"}
    subprocess.run([str(python), "-I", "-m", "venv", str(venv)], check=True, env=env, capture_output=True)
    pip = subprocess.run(
        [str(venv / "bin" / "python"), "-I", "-m", "pip", "--version"], check=True, env=env, capture_output=True
    )
    assert str(venv) in pip.stdout.decode(), pip.stdout
    # The tree's wheel (python3-pip-whl of the lock), whatever the host has in its own /usr/share/python-wheels.
    (wheel,) = (Path(runner.build_root) / "tools/root/usr/share/python-wheels").glob("pip-*.whl")
    assert pip.stdout.decode().startswith(f"pip {wheel.name.split('-')[1]} "), (wheel.name, pip.stdout)
    version = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sys; print(sys.version_info[:2] >= (3, 12))"],
        check=True,
        env=env,
        capture_output=True,
    )
    assert version.stdout.decode().strip() == "True", "the default suite's Python needs ensurepip"
