"""Debian bases from real .deb downloads through the machine's configured archive (no CPython compile here).

Each RuleRunner has an isolated store, so every build downloads and extracts for real.
"""
import gzip
import io
import json
import os
import tarfile
from typing import Dict, List

import pytest
from pants.core.goals.generate_lockfiles import GenerateLockfileResult
from pants.core.goals.package import BuiltPackage
from pants.core.util_rules import adhoc_binaries, system_binaries
from pants.engine.addresses import Address
from pants.engine.fs import DigestContents
from pants.engine.internals.scheduler import ExecutionError
from pants.testutil.rule_runner import QueryRule, RuleRunner

from pants_oci.debian import base as base_fs
from pants_oci.debian import base_rules, closure
from pants_oci.debian import rules as debian_rules
from pants_oci.debian.base_rules import DebianPackagesFieldSet, GenerateDebianLockfile
from pants_oci.debian.target_types import DebianPackagesTarget
from pants_oci.oci.tarball import Entry
from pants_oci.runtime import rules as runtime_rules
from pants_oci.runtime.target_types import PythonRuntimeTarget

PACKAGES = '["libc6", "netbase", "ca-certificates"]'
LOCK = "3rdparty/debian/base.lock.json"


def _runner() -> RuleRunner:
    runner = RuleRunner(
        rules=[
            *base_rules.rules(), *debian_rules.rules(), *runtime_rules.rules(), *system_binaries.rules(),
            *adhoc_binaries.rules(),
            QueryRule(BuiltPackage, [DebianPackagesFieldSet]),
            QueryRule(GenerateLockfileResult, [GenerateDebianLockfile]),
        ],
        target_types=[DebianPackagesTarget, PythonRuntimeTarget],
        isolated_local_store=True,
    )
    archive = os.environ.get("PANTS_DEBIAN_ARCHIVE_URL")
    runner.set_options([f"--debian-archive-url={archive}"] if archive else [], env_inherit={"PATH"})
    return runner


def _field_set(runner: RuleRunner, packages: str = PACKAGES) -> DebianPackagesFieldSet:
    runner.write_files({"src/BUILD": f'debian_packages(name="base", packages={packages})'})
    return DebianPackagesFieldSet.create(runner.get_target(Address("src", target_name="base")))


def _generate_lock(runner: RuleRunner, packages: str = PACKAGES) -> str:
    field_set = _field_set(runner, packages)
    request = GenerateDebianLockfile(resolve_name="src:base", lockfile_dest=LOCK, diff=False, field_set=field_set)
    result = runner.request(GenerateLockfileResult, [request])
    return runner.request(DigestContents, [result.digest])[0].content.decode()


def _package(runner: RuleRunner, lock: str, packages: str = PACKAGES) -> bytes:
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
        passwd = tar.extractfile("etc/passwd").read().decode()
    assert "nonroot:x:65532:65532:nonroot:/home/nonroot:" in passwd


def test_a_base_built_twice_is_byte_identical(lock: str, base_archive: bytes) -> None:
    assert _package(_runner(), lock) == base_archive


def test_closure_check_catches_a_missing_library_in_a_real_base(base_archive: bytes) -> None:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(base_archive))) as tar:
        entries: List[Entry] = []
        for m in tar.getmembers():
            if m.isfile():
                entries.append(Entry(m.name, tar.extractfile(m).read()))
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
