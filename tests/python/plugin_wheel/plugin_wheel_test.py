"""The plugin as other repositories use it: its wheel installed through `[GLOBAL].plugins` from a find-links
directory, in a scratch Pants repository outside this one, driven with the real `pants` command: help,
package, run (runc), publish (a real docker-registry) and a remote cache (a real BuildGrid), all on 127.0.0.1.
"""
import hashlib
import json
import re
import socket
import subprocess
import tarfile
import time
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List

import pytest

from pants_oci.runtime.modules import default_required_modules
from pants_oci.tools.testing import docker_registry, skopeo
from scratch_repos.repo import PLUGIN_VERSION as VERSION
from scratch_repos.repo import copy_repo, create, plugin_wheel, run_pants, without_host_tools


def test_wheel_has_the_plugin_and_its_data_files_and_nothing_else() -> None:
    names = zipfile.ZipFile(plugin_wheel()).namelist()
    for data_file in (
        "runtime/build_cpython.sh",
        "runtime/toolchain_probe.sh",
        "runtime/check_modules.py",
        "runtime/enter_build_root.sh",
        "runtime/fixed_layout.c",
        "runtime/pgo_training.py",
        "runtime/build_root_check.sh",
        "debian/assemble_root.py",
        "runtime/complete_platform.py",
        "debian/fetch_index.py",
        "image/run_image.py",
        "oci/layer_tool.py",
        "oci/layout_archive.py",
        "elf/elf_facts.py",
        "LICENSE",
        "register.py",
    ):
        assert f"pants_oci/{data_file}" in names
    assert not [n for n in names if n.endswith(("_test.py", "testing.py")) or "conftest" in n], "no tests in the wheel"
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".orig", ".rej")) or "/BUILD" in n]
    assert {n.split("/")[0] for n in names} == {"pants_oci", f"pants_oci-{VERSION}.dist-info"}
    metadata = zipfile.ZipFile(plugin_wheel()).read(f"pants_oci-{VERSION}.dist-info/METADATA").decode()
    assert "Requires-Dist: pantsbuild.pants (<2.18,>=2.17" in metadata
    assert "License: Apache-2.0" in metadata and "Description-Content-Type: text/markdown" in metadata
    assert "## Use it in your repository" in metadata, "the README is the long description"


# The two targets the product is about (a runtime and an image) and the app: no debian_packages target, so the
# image gets the runtime's default base. Every suite is the default, Debian 13 (trixie): the build root, the base,
# the container tools `run` uses. No resolves, as the README's pants.toml: the app's one requirement is resolved
# by pip from the index, for the runtime's complete platform.
BUILD = """\
python_runtime(name="py313", version="3.13.5", optimizations="none")
python_requirement(name="humanize", requirements=["humanize==4.9.0"])
python_sources(name="app")
pex_binary(name="greet", entry_point="greet.py")
python_oci_image(name="img", runtime=":py313", binary=":greet", repository="scratch/greet")
"""

# What the image reports about itself: its Debian release, its OpenSSL, and that every module of the runtime's
# module check imports in the container (not only in the build root).
GREET = f"""\
import importlib, os, ssl, sys
import humanize
assert humanize.intcomma(1000000) == "1,000,000"
release = dict(line.split("=", 1) for line in open("/etc/os-release").read().split() if "=" in line)
modules = {default_required_modules("3.13.5")!r}
for name in modules:
    importlib.import_module(name)
print(release["VERSION_CODENAME"], ssl.OPENSSL_VERSION.split()[1], len(modules), "modules import")
print(f"greetings from {{sys.version.split()[0]}} as uid {{os.getuid()}}")
"""


@pytest.fixture(scope="module")
def scratch_repo(tmp_path_factory) -> Path:
    return create(tmp_path_factory.mktemp("scratch"), {"src/BUILD": BUILD, "src/greet.py": GREET})


def test_help_shows_the_plugin_targets(scratch_repo: Path) -> None:
    out = run_pants(scratch_repo, ["help", "python_oci_image"]).stdout
    assert "`python_oci_image` target" in out and "Activated by pants_oci" in out
    assert "runtime" in out and "binary" in out
    assert "`python_runtime` target" in run_pants(scratch_repo, ["help", "python_runtime"]).stdout


def test_package_builds_an_image_that_runs(scratch_repo: Path) -> None:
    # Locking the default base and the build root compiles nothing: no compile even without the local cache.
    lock = run_pants(
        scratch_repo,
        [
            "--no-local-cache",
            "generate-lockfiles",
            "--resolve=src:py313",
            "--resolve=src:py313#build-root",
            "--resolve=container-tools",
        ],
    )
    assert "Compiling CPython" not in lock.stderr
    assert (scratch_repo / "3rdparty/debian/src/py313.base.lock.json").is_file()
    build_root = json.loads((scratch_repo / "3rdparty/debian/src/py313.build-root.lock.json").read_text())
    assert {"gcc", "make", "libc6-dev", "libssl-dev"} <= {p["name"] for p in build_root["packages"]}
    package = run_pants(scratch_repo, ["package", "src:img"])
    assert "digest sha256:" in package.stderr
    assert (scratch_repo / "dist/src/img.tar").is_file() and (scratch_repo / "dist/src/img/index.json").is_file()
    # umoci and runc come from the container-tools lock: the host's, if any, are hidden.
    run = run_pants(scratch_repo, ["run", "src:img"], host_tools=False)
    assert run.stdout.strip().endswith("greetings from 3.13.5 as uid 65532")
    codename, openssl, count, *_ = run.stdout.strip().splitlines()[-2].split()
    assert (codename, openssl.rsplit(".", 1)[0]) == ("trixie", "3.5") and int(count) > 40
    sbom = json.loads((scratch_repo / "dist/src/img.spdx.json").read_text())
    purls = [r["referenceLocator"] for p in sbom["packages"] for r in p.get("externalRefs", [])]
    debs = [purl for purl in purls if purl.startswith("pkg:deb/debian/")]
    assert debs and all("distro=debian-13" in purl for purl in debs)
    assert any(purl.startswith("pkg:deb/debian/libssl3t64@") for purl in debs)


@dataclass(frozen=True)
class _Written:
    """The build that wrote the remote cache: `package src:py313 src:img` in a fresh local store, with the host's
    compiler and container tools hidden, against an empty BuildGrid."""

    remote: List[str]  # the remote-cache options that reach the BuildGrid
    stderr: str
    runtime_sha256: str  # of dist/src/py313.tar.gz
    digest: str  # the image's


@pytest.fixture(scope="module")
def buildgrid(tmp_path_factory) -> Iterator[List[str]]:
    """BuildGrid on 127.0.0.1 as a REAPI cache, for the module: the options that reach it."""
    tmp_path = tmp_path_factory.mktemp("buildgrid")
    bgd = _unpacked_bgd(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "buildgrid.yml").write_text(_buildgrid_config(port, tmp_path))
    server = subprocess.Popen(
        [str(bgd.resolve()), "server", "start", str(tmp_path / "buildgrid.yml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port)
        yield [f"--remote-store-address=grpc://127.0.0.1:{port}", "--remote-cache-read", "--remote-cache-write"]
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.fixture(scope="module")
def written(scratch_repo: Path, buildgrid: List[str], tmp_path_factory) -> _Written:
    """One fresh compile serves two tests (each compile costs minutes): the hermetic compile below and the remote
    cache's writer. An empty local store, so every process runs (a local hit is never written remotely)."""
    store = tmp_path_factory.mktemp("store-a")
    build = run_pants(
        scratch_repo,
        [f"--local-store-dir={store}", "--stats-log", *buildgrid, "package", "src:py313", "src:img"],
        host_tools=False,
    )
    return _Written(
        buildgrid,
        build.stderr,
        hashlib.sha256((scratch_repo / "dist/src/py313.tar.gz").read_bytes()).hexdigest(),
        re.search(r"digest (sha256:[0-9a-f]{64})", build.stderr).group(1),
    )


def test_runtime_is_the_same_with_the_host_compiler_hidden(scratch_repo: Path, written: _Written) -> None:
    """The compile sees only its build root: with the host's compiler, linker and headers unusable, and a fresh
    local store (so it really compiles), it gives the same bytes as an ordinary build."""
    assert "Completed: Compiling CPython 3.13.5" in written.stderr, "the build must compile, not hit a cache"
    assert "build root of" in written.stderr
    run_pants(scratch_repo, ["package", "src:py313"])
    ordinary = hashlib.sha256((scratch_repo / "dist/src/py313.tar.gz").read_bytes()).hexdigest()
    assert written.runtime_sha256 == ordinary


def test_publish_pushes_to_a_real_registry(scratch_repo: Path, tmp_path: Path) -> None:
    """`pants publish` from the installed wheel, to docker-registry on 127.0.0.1; skopeo reads it back."""
    with docker_registry(tmp_path) as registry:
        build = scratch_repo / "src" / "BUILD"
        build.write_text(
            BUILD + f'python_oci_image(name="pub", runtime=":py313", binary=":greet", '
            f'repository="{registry}/scratch/greet", image_tags=["1.0", "latest"])\n'
        )
        published = run_pants(scratch_repo, ["--oci-image-plain-http-localhost", "publish", "src:pub"])
        assert f"{registry}/scratch/greet:1.0 published" in published.stdout + published.stderr
        # `publish` does not write dist/; `package` does, and gives the digest the registry must now serve.
        run_pants(scratch_repo, ["package", "src:pub"])
        index = json.loads((scratch_repo / "dist/src/pub/index.json").read_text())
        for tag in ("1.0", "latest"):
            inspect = subprocess.run(
                [*skopeo(), "inspect", "--tls-verify=false", f"docker://{registry}/scratch/greet:{tag}"],
                check=True,
                capture_output=True,
                text=True,
            )
            assert json.loads(inspect.stdout)["Digest"] == index["manifests"][0]["digest"]
        # The image's SBOM went up as its referrer: docker-registry has no referrers API, so it is found through
        # the referrers tag schema, `sha256-<manifest hex>`, an index of the artifacts whose subject is the image.
        digest = index["manifests"][0]["digest"]
        referrers = json.loads(
            urllib.request.urlopen(
                urllib.request.Request(
                    f"http://{registry}/v2/scratch/greet/manifests/{digest.replace(':', '-')}",
                    headers={"Accept": "application/vnd.oci.image.index.v1+json"},
                )
            ).read()
        )
        assert [m["artifactType"] for m in referrers["manifests"]] == ["application/spdx+json"]
        again = run_pants(scratch_repo, ["--oci-image-plain-http-localhost", "publish", "src:pub"])
        assert "0 blobs uploaded (0.0 MB), 0 mounted, 5 already in the repository" in again.stdout + again.stderr


def _buildgrid_config(port: int, root: Path) -> str:
    # The `files` target puts it at its repo-relative path in the sandbox.
    return Path("build-support/buildgrid-cache.yml").read_text().format(port=port, root=root)


def _unpacked_bgd(into: Path) -> Path:
    """BuildGrid's PEX from the archive runtime_package_dependencies put in the sandbox (an archive, because this
    3.9 target may not depend on a 3.11+ pex_binary directly: 3rdparty/python/BUILD)."""
    archive = Path("3rdparty.python/bgd-archive.tar")
    assert archive.is_file(), "this target needs runtime_package_dependencies on 3rdparty/python:bgd-archive"
    with tarfile.open(archive) as tar:
        tar.extractall(into / "bgd")
    (bgd,) = (into / "bgd").rglob("bgd.pex")
    return bgd


def _counters(output: str) -> dict:
    """Pants' own counters, from the table `--stats-log` prints."""
    return {name: int(value) for name, value in re.findall(r"^\s*(\w+): (\d+)$", output, re.M)}


def test_remote_cache_shares_every_process_with_another_machine(
    scratch_repo: Path, written: _Written, tmp_path: Path
) -> None:
    """BuildGrid on 127.0.0.1 as a REAPI cache, written by the hermetic build above: build again from an empty local
    store, and read from Pants' counters and log that the compile and the layers came from the remote cache; then
    build as a second machine would (another home directory, so another launcher bootstrap and Pants interpreter
    path; another checkout path; empty stores), which runs no cacheable process itself."""
    assert _counters(written.stderr).get("remote_cache_write_successes", 0) >= 5, _counters(written.stderr)
    remote = [*written.remote, "--stats-log"]
    # A fresh store and no local cache: everything Pants does not run itself must come from BuildGrid. The
    # reader's host toolchain differs from the writer's (the writer hid the host's compiler and headers, so the
    # host toolchain probe answered differently): the compile's key holds nothing of the host.
    assert _host_toolchain_probe(True) != _host_toolchain_probe(False)
    reader = run_pants(
        scratch_repo,
        [f"--local-store-dir={tmp_path / 'store-b'}", "--no-local-cache", "-ldebug", *remote, "package", "src:img"],
    )
    read = _counters(reader.stderr)
    assert read.get("remote_cache_requests_cached", 0) >= 5, read
    hits = set(re.findall(r'remote cache hit for: "([^"]+)"', reader.stderr))
    assert any(h.startswith("Compiling CPython 3.13.5") for h in hits), hits
    assert any(h.startswith("Archive the CPython 3.13.5 tree") for h in hits), hits
    assert any(h.startswith("Archive the first-party layer") for h in hits), hits
    assert any(h.startswith("Archive the requirements layer") for h in hits), hits
    # The base too: assembled from its .debs and compressed by the one layer writer, both cacheable processes.
    assert any(h.startswith("Assemble the Debian base") for h in hits), hits
    assert any(h.startswith("Compress the Debian base") for h in hits), hits
    # Pants also starts the compile locally (speculation) and cancels it when the cache answers first.
    assert "Completed: Compiling CPython" not in reader.stderr
    assert re.search(r"digest (sha256:[0-9a-f]{64})", reader.stderr).group(1) == written.digest
    _second_machine_reads_everything(scratch_repo, tmp_path, remote, written.digest)


def test_the_build_succeeds_with_the_remote_cache_down(scratch_repo: Path, tmp_path: Path) -> None:
    """Processes run locally when the cache does not answer; a cheap target keeps this short."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    down = run_pants(
        scratch_repo,
        [
            f"--local-store-dir={tmp_path / 'store-c'}",
            "--no-local-cache",
            f"--remote-store-address=grpc://127.0.0.1:{port}",
            "--remote-cache-read",
            "--remote-cache-write",
            "package",
            "src:greet",
        ],
    )
    assert (scratch_repo / "dist/src/greet.pex").is_file()
    assert down.returncode == 0


def _second_machine_reads_everything(repo: Path, tmp_path: Path, remote: list, digest: str) -> None:
    """A laptop beside the CI runner that wrote the cache: another HOME and XDG_CACHE_HOME (the launcher installs
    Pants again there, so Pants' interpreter has another path, and named caches are empty), another checkout
    path, an empty local store and no local cache. Every cacheable process must come from the cache."""
    home = tmp_path / "other-home"
    elsewhere = copy_repo(repo, tmp_path / "elsewhere" / "checkout")
    reader = run_pants(
        elsewhere,
        [f"--local-store-dir={home / 'store'}", "--no-local-cache", "-ldebug", *remote, "package", "src:img"],
        env_overrides={"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")},
    )
    assert (home / ".cache" / "pants-oci-bootstrap").is_dir(), "the launcher bootstrapped into the other home"
    read = _counters(reader.stderr)
    misses = re.findall(r'remote cache miss for: "([^"]+)"', reader.stderr)
    assert read.get("remote_cache_requests_uncached", -1) == 0 and not misses, (read, misses)
    assert read.get("remote_cache_requests_cached", 0) >= 8, read
    assert re.search(r"digest (sha256:[0-9a-f]{64})", reader.stderr).group(1) == digest


def _host_toolchain_probe(host_tools: bool) -> str:
    """What the plugin's host toolchain probe (the cache key of `toolchain="host"` runtimes) reports here."""
    script = zipfile.ZipFile(plugin_wheel()).read("pants_oci/runtime/toolchain_probe.sh").decode()
    argv = ["bash", "-c", script]
    result = subprocess.run(
        argv if host_tools else without_host_tools(argv),
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
    )
    return result.stdout


def _wait_for_port(port: int) -> None:
    for _ in range(300):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    pytest.fail(f"BuildGrid did not listen on 127.0.0.1:{port}")
