"""Real images of a real app, checked with real container tools: a CPython compile, real .deb downloads, a real
wheel resolve, then skopeo, umoci and runc (from the test-tools Debian lock) on the result, and podman where installed.

Two "checkouts" in different temporary build roots, with the default optimizations (pgo+lto: a training run, then
the optimized build), must produce the same PGO profile, the same runtime archive and the same image digest. The
second has an empty store of its own, so it compiles from scratch (the slow tier: PANTS_OCI_SLOW_TESTS=1); the
first uses the machine's Pants store, where an earlier run's compile of the same inputs is a cache hit, as it is
for a user.
"""
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path
from typing import IO, Dict, List, Optional, Set, Tuple

import pytest
from pants.backend.python import register as python_backend
from pants.core import register as core
from pants.core.goals.generate_lockfiles import GenerateLockfileResult
from pants.core.goals.package import BuiltPackage
from pants.engine.addresses import Address
from pants.engine.fs import DigestContents
from pants.engine.internals.scheduler import ExecutionError
from pants.testutil.rule_runner import QueryRule, RuleRunner

from pants_oci import register
from pants_oci.bases.rules import BaseOfTarget, DebianBaseSpecRequest, GenerateDebianLockfile
from pants_oci.image.inputs import PythonOciImageFieldSet
from pants_oci.oci.model import MEDIA_TYPE_LAYER_GZIP, MEDIA_TYPE_LAYER_ZSTD
from pants_oci.oci.validate import validate_layout
from pants_oci.runtime.field_set import PythonRuntimeFieldSet
from pants_oci.runtime.testing import BUILD_ROOT_LOCK_RULES, lock_build_root, slow_tier, store_kwargs
from pants_oci.tools.rules import ContainerToolsSpec
from pants_oci.tools.testing import skopeo, tool

MAIN = """\
import sys
import humanize


def main() -> int:
    import os
    print(f"Hello from {sys.version.split()[0]} as uid {os.getuid()}: {humanize.naturalsize(3 * 1024, binary=True)}")
    return 0
"""
PROJECT = {
    "rt/BUILD": (
        'python_runtime(name="py313", version="3.13.5", build_root_suite="bookworm")\n'
        'debian_packages(name="base", suite="bookworm", packages=["ca-certificates", "netbase", "tini"],\n'
        '                runtimes=[":py313"])\n'
        'debian_packages(name="bare", suite="bookworm", packages=["libc6", "netbase"])\n'
    ),
    "app/BUILD": (
        'python_requirement(name="humanize", requirements=["humanize==4.9.0"])\n'
        'python_sources(name="lib", sources=["hello/*.py"], dependencies=[":humanize"])\n'
        'pex_binary(name="hello", entry_point="hello/main.py:main")\n'
        'python_oci_image(name="img", runtime="rt:py313", binary=":hello", repository="acme/hello",\n'
        '                 image_tags=["1.0", "latest"], expose=["8080"],\n'
        '                 labels={"org.opencontainers.image.version": "1.0"})\n'
        # Long-running apps for the PID 1 tests: signals, orphans, an app's own SIGTERM handler.
        'pex_binary(name="serve", entry_point="hello/serve.py")\n'
        'python_oci_image(name="serve-img", runtime="rt:py313", binary=":serve")\n'
        # The same image with zstd layers.
        'python_oci_image(name="img-zstd", runtime="rt:py313", binary=":hello", layer_compression="zstd")\n'
    ),
    "app/hello/__init__.py": "",
    "app/hello/main.py": MAIN,
    # Waits for SIGTERM like a server. With argument "handler" it cleans up in its own handler and exits 7; with
    # "orphan" it first leaves a grandchild behind (its child exits at once), which must not become a zombie.
    "app/hello/serve.py": (
        "import os, signal, subprocess, sys, time\n"
        "if 'handler' in sys.argv:\n"
        "    signal.signal(signal.SIGTERM, lambda *_: (print('cleanup', flush=True), sys.exit(7)))\n"
        "if 'orphan' in sys.argv:\n"
        "    subprocess.run([sys.executable, '-c', 'import subprocess, sys; '\n"
        '                    \'subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1)"])\'])\n'
        "print('ready', flush=True)\n"
        "time.sleep(600)\n"
    ),
}


def _runner(fresh: bool) -> RuleRunner:
    """`fresh`: an empty store of its own (runtime/testing.py: store_kwargs)."""
    runner = RuleRunner(
        rules=[
            *core.rules(),
            *register.rules(),
            *python_backend.rules(),
            QueryRule(BuiltPackage, [PythonOciImageFieldSet]),
            QueryRule(BuiltPackage, [PythonRuntimeFieldSet]),
            QueryRule(GenerateLockfileResult, [GenerateDebianLockfile]),
            QueryRule(BaseOfTarget, [DebianBaseSpecRequest]),
            QueryRule(ContainerToolsSpec, []),
            *BUILD_ROOT_LOCK_RULES,
        ],
        target_types=[*core.target_types(), *register.target_types(), *python_backend.target_types()],
        **store_kwargs(fresh),
    )
    runner.set_options(_options(), env_inherit=ENV_INHERIT)
    runner.write_files(PROJECT)
    return runner


ENV_INHERIT = {"PATH", "PYENV_ROOT", "HOME"}


def _options(*extra: str) -> List[str]:
    # The repository's interpreter constraints. Pants' default (>=3.7) would mix CPython 3.7 with 3.12+ on a host
    # that has both, and no pip that Pex can run supports both (the README says so).
    options = [
        "--python-infer-use-rust-parser",
        "--source-root-patterns=['/app']",
        "--python-interpreter-constraints=['CPython>=3.11,<3.14']",
    ]
    # The machine's mirrors and the launcher's pex CLI, as the README's commands get them.
    for name, flag in (
        ("PANTS_CPYTHON_BUILD_SOURCE_URL_TEMPLATES", "--cpython-build-source-url-templates"),
        ("PANTS_DEBIAN_ARCHIVE_URL", "--debian-archive-url"),
        ("PANTS_PEX_CLI_VERSION", "--pex-cli-version"),
        ("PANTS_PEX_CLI_URL_TEMPLATE", "--pex-cli-url-template"),
        ("PANTS_PEX_CLI_KNOWN_VERSIONS", "--pex-cli-known-versions"),
    ):
        if os.environ.get(name):
            options.append(f"{flag}={os.environ[name]}")
    return [*options, *extra]


def _generate_lock(runner: RuleRunner, name: str) -> None:
    spec = runner.request(
        BaseOfTarget, [DebianBaseSpecRequest(runner.get_target(Address("rt", target_name=name)))]
    ).spec
    request = GenerateDebianLockfile(resolve_name=spec.address, lockfile_dest=spec.lock_path, diff=False, spec=spec)
    result = runner.request(GenerateLockfileResult, [request])
    for fc in runner.request(DigestContents, [result.digest]):
        runner.write_files({fc.path: fc.content.decode()})


def _package(runner: RuleRunner, name: str = "img") -> Dict[str, bytes]:
    target = runner.get_target(Address("app", target_name=name))
    package = runner.request(BuiltPackage, [PythonOciImageFieldSet.create(target)])
    return {fc.path: fc.content for fc in runner.request(DigestContents, [package.digest])}


def _package_runtime(runner: RuleRunner, name: str = "py313") -> Dict[str, str]:
    """The runtime's dist/ files (archive, complete platform, PGO profile) by name, as sha256 digests."""
    target = runner.get_target(Address("rt", target_name=name))
    package = runner.request(BuiltPackage, [PythonRuntimeFieldSet.create(target)])
    contents = runner.request(DigestContents, [package.digest])
    return {fc.path[len(f"rt/{name}") :]: hashlib.sha256(fc.content).hexdigest() for fc in contents}


def _layout(files: Dict[str, bytes], root: Path) -> Path:
    """Write the packaged layout directory to `root` and return it."""
    prefix = "app/img/"
    for path, content in files.items():
        if path.startswith(prefix):
            target = root / path[len(prefix) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
    return root


def _layout_files(files: Dict[str, bytes]) -> Dict[str, bytes]:
    return {path[len("app/img/") :]: content for path, content in files.items() if path.startswith("app/img/")}


def _manifest(files: Dict[str, bytes]) -> dict:
    layout = _layout_files(files)
    digest = json.loads(layout["index.json"])["manifests"][0]["digest"]
    return json.loads(layout[f"blobs/sha256/{digest.split(':')[1]}"])


def _file(member: Optional[IO[bytes]]) -> IO[bytes]:
    """What `TarFile.extractfile` opened: None only for a member that is not a file."""
    assert member is not None
    return member


@pytest.fixture(scope="module")
def first(tmp_path_factory) -> dict:
    runner = _runner(fresh=False)
    _generate_lock(runner, "base")
    lock_build_root(runner, Address("rt", target_name="py313"))
    files = _package(runner)
    return {"runner": runner, "files": files, "layout": _layout(files, tmp_path_factory.mktemp("first"))}


def _run_container(layout: Path, workdir: Path, args: Optional[List[str]] = None) -> subprocess.CompletedProcess:
    """umoci unpack, then runc run as the image's user with a read-only root and a tmpfs /tmp."""
    bundle = workdir / "bundle"
    subprocess.run(
        [tool("umoci"), "unpack", "--image", f"{layout}:latest", str(bundle)], check=True, capture_output=True
    )
    config_path = bundle / "config.json"
    config = json.loads(config_path.read_text())
    config["process"]["terminal"] = False
    config["root"]["readonly"] = True
    config["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["mode=1777"]})
    if args:
        config["process"]["args"] = args
    config_path.write_text(json.dumps(config))
    return subprocess.run(
        [tool("runc"), "run", "--bundle", str(bundle), f"pants-oci-test-{os.getpid()}"],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _start_container(layout: Path, workdir: Path, tag: str, args: List[str], name: str) -> subprocess.Popen:
    """umoci unpack + `runc run` in the background (read-only root, tmpfs /tmp), once it printed "ready"."""
    bundle = workdir / "bundle"
    subprocess.run(
        [tool("umoci"), "unpack", "--image", f"{layout}:{tag}", str(bundle)], check=True, capture_output=True
    )
    config_path = bundle / "config.json"
    config = json.loads(config_path.read_text())
    config["process"]["terminal"] = False
    config["process"]["args"] += args
    config["root"]["readonly"] = True
    config["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["mode=1777"]})
    config_path.write_text(json.dumps(config))
    container = subprocess.Popen(
        [tool("runc"), "run", "--bundle", str(bundle), name], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert container.stdout is not None and container.stderr is not None  # both PIPE
    assert container.stdout.readline().strip() == "ready", container.stderr.read()
    return container


def _stop(container: subprocess.Popen, name: str) -> Tuple[int, float, str]:
    """SIGTERM through runc; the exit code, the seconds it took, and what the app printed afterwards."""
    start = time.monotonic()
    subprocess.run([tool("runc"), "kill", name, "TERM"], check=True, capture_output=True)
    try:
        out, _ = container.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        subprocess.run([tool("runc"), "kill", name, "KILL"], capture_output=True)
        container.communicate()
        pytest.fail("the container was still running 10 s after SIGTERM")
    return container.returncode, time.monotonic() - start, out


@pytest.fixture(scope="module")
def serve_layout(first: dict, tmp_path_factory) -> Path:
    files = _package(first["runner"], "serve-img")
    root = tmp_path_factory.mktemp("serve")
    for path, content in files.items():
        if path.startswith("app/serve-img/"):
            (root / path[len("app/serve-img/") :]).parent.mkdir(parents=True, exist_ok=True)
            (root / path[len("app/serve-img/") :]).write_bytes(content)
    return root


def test_sigterm_stops_the_app_quickly_with_143(serve_layout: Path, tmp_path: Path) -> None:
    name = f"pants-oci-term-{os.getpid()}"
    container = _start_container(serve_layout, tmp_path, "latest", [], name)
    code, seconds, _ = _stop(container, name)
    assert code == 143 and seconds < 2, (code, seconds)


def test_an_apps_own_sigterm_handler_runs(serve_layout: Path, tmp_path: Path) -> None:
    name = f"pants-oci-handler-{os.getpid()}"
    container = _start_container(serve_layout, tmp_path, "latest", ["handler"], name)
    code, seconds, out = _stop(container, name)
    assert out.strip() == "cleanup" and code == 7 and seconds < 2, (code, seconds, out)


def test_orphaned_children_are_reaped(serve_layout: Path, tmp_path: Path) -> None:
    name = f"pants-oci-orphan-{os.getpid()}"
    container = _start_container(serve_layout, tmp_path, "latest", ["orphan"], name)
    try:
        time.sleep(2.5)  # the orphan (a grandchild whose parent exited at once) has exited by now
        states = subprocess.run(
            [
                tool("runc"),
                "exec",
                name,
                "/opt/python/bin/python3.13",
                "-c",
                "import glob; "
                "print(' '.join(open(p).read().split(') ')[1][0] for p in glob.glob('/proc/[0-9]*/stat')))",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        assert "Z" not in states, f"zombie processes in the container: {states}"
        pid1 = subprocess.run(
            [
                tool("runc"),
                "exec",
                name,
                "/opt/python/bin/python3.13",
                "-c",
                "print(open('/proc/1/cmdline').read().split(chr(0))[0])",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        assert pid1 == "/usr/bin/tini"
    finally:
        _stop(container, name)


def test_image_conforms_and_skopeo_reads_it(first: dict, tmp_path: Path) -> None:
    files, layout = first["files"], first["layout"]
    assert validate_layout(_layout_files(files)) == []
    manifest = _manifest(files)
    assert len(manifest["layers"]) == 4 and manifest["annotations"]["org.opencontainers.image.version"] == "1.0"
    inspect = json.loads(
        subprocess.run(
            [*skopeo(tmp_path), "inspect", f"oci:{layout}:1.0"], check=True, capture_output=True, text=True
        ).stdout
    )
    index = json.loads(files["app/img/index.json"])
    assert inspect["Digest"] == index["manifests"][0]["digest"]
    config = json.loads(
        subprocess.run(
            [*skopeo(tmp_path), "inspect", "--config", f"oci:{layout}:latest"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    assert config["config"]["User"] == "65532:65532"
    assert config["config"]["Entrypoint"] == ["/usr/bin/tini", "--", "/app/bin/hello"]
    assert "LANG=C.UTF-8" in config["config"]["Env"] and config["config"]["ExposedPorts"] == {"8080/tcp": {}}
    assert config["created"] == "1980-01-01T00:00:00Z"
    # The deploy metadata next to the layout names the same manifest, and the reference to pin.
    info = json.loads(files["app/img.oci-info.json"])
    digest = index["manifests"][0]["digest"]
    assert info["manifest_digest"] == digest and info["pinned_reference"] == f"acme/hello@{digest}"
    assert info["references"] == ["acme/hello:1.0", "acme/hello:latest"] and info["address"] == "app:img"
    assert info["config_digest"] == _manifest(files)["config"]["digest"]
    assert info["platform"] == {"os": "linux", "architecture": "amd64"} and info["archive"] == "img.tar"


def test_the_sbom_names_cpython_the_debian_packages_and_the_wheels(first: dict, tmp_path: Path) -> None:
    document = first["files"]["app/img.spdx.json"]
    digest = json.loads(first["files"]["app/img/index.json"])["manifests"][0]["digest"]
    sbom = json.loads(document)
    packages = {p["name"]: p for p in sbom["packages"]}
    refs = lambda p: {r["referenceLocator"] for r in p.get("externalRefs", [])}  # noqa: E731
    assert packages["acme/hello"]["versionInfo"] == digest
    assert packages["python"]["versionInfo"] == "3.13.5"
    assert "cpe:2.3:a:python:python:3.13.5:*:*:*:*:*:*:*" in refs(packages["python"])
    assert (
        packages["python"]["checksums"][0]["checksumValue"]
        == "93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640"
    )
    # How its source was checked: the release manager's signature (the mirror and Debian's archive both have it).
    assert (
        "OpenPGP signature of Thomas Wouters (key 7169605F62C751356D054A26A821E680E5FA6305, signed 2025-06-11)"
        in packages["python"]["comment"]
    )
    # What compiled it: the build root, by its lock's sha256.
    root_lock = Path(first["runner"].build_root, "3rdparty/debian/rt/py313.build-root.lock.json").read_bytes()
    assert "in the build root rt:py313#build-root (" in packages["python"]["comment"]
    assert f"lock sha256 {hashlib.sha256(root_lock).hexdigest()})" in packages["python"]["comment"]
    lock_path = Path(first["runner"].build_root, "3rdparty/debian/rt/base.lock.json")
    lock = {p["name"]: p for p in json.loads(lock_path.read_text())["packages"]}
    libssl = packages["libssl3"]
    assert libssl["versionInfo"] == lock["libssl3"]["version"]
    assert libssl["checksums"][0]["checksumValue"] == lock["libssl3"]["sha256"]
    assert any(r.startswith("pkg:deb/debian/libssl3@") for r in refs(libssl))
    assert "pkg:pypi/humanize@4.9.0" in refs(packages["humanize"])
    contained = {r["relatedSpdxElement"] for r in sbom["relationships"] if r["relationshipType"] == "CONTAINS"}
    assert {p["SPDXID"] for p in sbom["packages"]} - contained == {"SPDXRef-Image"}
    # The SPDX project's own validator (spdx-tools from PyPI) accepts it.
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    path = tmp_path / "img.spdx.json"
    path.write_bytes(document)
    assert validate_full_spdx_document(parse_file(str(path))) == []


def test_archive_copies_with_skopeo_to_a_layout_and_a_docker_archive(first: dict, tmp_path: Path) -> None:
    """skopeo reads the OCI archive and writes it as an OCI layout and as a docker-archive, what `docker load` and
    `podman load` read: same manifest digest in the layout, same config in both."""
    archive = tmp_path / "img.tar"
    archive.write_bytes(first["files"]["app/img.tar"])
    copied, docker_archive = tmp_path / "copied", tmp_path / "docker.tar"
    subprocess.run(
        [*skopeo(tmp_path), "copy", f"oci-archive:{archive}", f"oci:{copied}:1.0"], check=True, capture_output=True
    )
    assert validate_layout({str(p.relative_to(copied)): p.read_bytes() for p in copied.rglob("*") if p.is_file()}) == []
    index = json.loads(first["files"]["app/img/index.json"])
    assert json.loads((copied / "index.json").read_text())["manifests"][0]["digest"] == index["manifests"][0]["digest"]
    subprocess.run(
        [*skopeo(tmp_path), "copy", f"oci-archive:{archive}", f"docker-archive:{docker_archive}:acme/hello:1.0"],
        check=True,
        capture_output=True,
    )
    with tarfile.open(docker_archive) as tar:
        manifest = json.load(_file(tar.extractfile("manifest.json")))
        assert manifest[0]["RepoTags"] == ["docker.io/acme/hello:1.0"] and len(manifest[0]["Layers"]) == 4
        config = json.load(_file(tar.extractfile(manifest[0]["Config"])))
    assert config["config"]["User"] == "65532:65532"


def test_archive_loads_with_podman(first: dict, tmp_path: Path) -> None:
    podman = shutil.which("podman")
    if podman is None:
        pytest.skip(
            "podman is not installed (it needs a configured container stack, so it cannot come from a "
            "Debian lock like the other tools); the skopeo docker-archive test covers the same format"
        )
    archive = tmp_path / "img.tar"
    archive.write_bytes(first["files"]["app/img.tar"])
    runroot = tempfile.mkdtemp(prefix="podman-", dir="/tmp")  # podman refuses a runroot over 50 characters
    command = [podman, "--root", str(tmp_path / "storage"), "--runroot", runroot, "--storage-driver=vfs"]
    try:
        loaded = subprocess.run([*command, "load", "-i", str(archive)], capture_output=True, text=True, timeout=300)
    finally:
        shutil.rmtree(runroot, ignore_errors=True)
    assert loaded.returncode == 0, loaded.stderr
    assert "Loaded image: localhost/acme/hello:1.0" in loaded.stdout


def _world_runnable_python() -> str:
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"):
        if os.path.exists(candidate) and os.stat(os.path.realpath(candidate)).st_mode & 0o001:
            return candidate
    pytest.skip("no Python that an unprivileged user may run (/usr/bin/python3) to run run_image.py with")


def test_pants_run_runs_the_image_rootless_for_a_non_root_user(first: dict) -> None:
    """What `./pants run` executes (run_image.py, with the tools from their lock), started as uid 65534: runc runs
    rootless, with the one mapped user as the container's root, and the app's output and exit code come back."""
    if os.geteuid() != 0:
        pytest.skip("starting the run as another, unprivileged user needs root")
    python = _world_runnable_python()
    from pants_oci.image import run_image
    from pants_oci.tools.testing import tools_dir

    shared = Path(tempfile.mkdtemp(prefix="pants-oci-rootless-", dir="/tmp"))
    try:
        shutil.copytree(first["layout"], shared / "layout")
        shutil.copytree(tools_dir(), shared / "tools", symlinks=True)
        shutil.copy(run_image.__file__, shared / "run_image.py")
        subprocess.run(["chmod", "-R", "a+rX", str(shared)], check=True)

        def become_nobody() -> None:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)

        result = subprocess.run(
            [python, str(shared / "run_image.py"), str(shared / "layout"), "latest", str(shared / "tools"), "3"],
            preexec_fn=become_nobody,
            capture_output=True,
            text=True,
            timeout=300,
            env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "TMPDIR": "/tmp"},
        )
    finally:
        shutil.rmtree(shared, ignore_errors=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hello from 3.13.5 as uid 0: 3.0 KiB\n"


def test_container_runs_as_nonroot_with_a_read_only_root(first: dict, tmp_path: Path) -> None:
    result = _run_container(first["layout"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hello from 3.13.5 as uid 65532: 3.0 KiB\n"
    probe = (
        "import os, ssl, sys, hello.main, humanize\n"
        "print(ssl.create_default_context().cert_store_stats()['x509_ca'])\n"
        "print(hello.main.__cached__, humanize.__file__)\n"
        "for path in ('/app', '/opt/python/lib/python3.13/site-packages', '/', '/home/nonroot', '/tmp'):\n"
        "    try:\n"
        "        open(os.path.join(path, 'probe'), 'w').close(); print(path, 'writable')\n"
        "    except OSError:\n"
        "        print(path, 'read-only')\n"
    )
    result = _run_container(first["layout"], tmp_path / "probe", ["/opt/python/bin/python3.13", "-c", probe])
    assert result.returncode == 0, result.stderr
    ca_count, paths, *writable = result.stdout.splitlines()
    assert int(ca_count) > 100, "Python trusts the base's CA bundle"
    assert (
        paths
        == "/app/hello/__pycache__/main.cpython-313.pyc /opt/python/lib/python3.13/site-packages/humanize/__init__.py"
    )
    assert writable == [
        "/app read-only",
        "/opt/python/lib/python3.13/site-packages read-only",
        "/ read-only",
        "/home/nonroot read-only",
        "/tmp writable",
    ]
    rootfs = tmp_path / "bundle/rootfs"
    main_py = rootfs / "app/hello/main.py"
    assert main_py.stat().st_uid == 0 and oct(main_py.stat().st_mode & 0o777) == "0o644"
    assert (rootfs / "app/hello/__pycache__/main.cpython-313.pyc").exists(), "bytecode compiled at build time"


def _layer_names(files: Dict[str, bytes], index: int) -> Set[str]:
    layer = _manifest(files)["layers"][index]["digest"].split(":")[1]
    with tarfile.open(fileobj=io.BytesIO(_layout_files(files)[f"blobs/sha256/{layer}"])) as tar:
        return set(tar.getnames())


def _zstd_decompress(blob: bytes) -> bytes:
    return subprocess.run([tool("zstd"), "-d", "-c"], input=blob, check=True, capture_output=True).stdout


def test_zstd_layers_hold_the_same_files_in_smaller_blobs(first: dict, tmp_path: Path) -> None:
    """layer_compression="zstd": the zstd program of the [container-tools] lock writes the layers. Same diff_ids
    (the same tars) as the gzip image, smaller blobs, a layout that conforms, and skopeo turns it back into gzip
    layers that umoci and runc unpack and run."""
    runner = first["runner"]
    spec = runner.request(ContainerToolsSpec, []).spec
    request = GenerateDebianLockfile(resolve_name=spec.address, lockfile_dest=spec.lock_path, diff=False, spec=spec)
    for fc in runner.request(DigestContents, [runner.request(GenerateLockfileResult, [request]).digest]):
        runner.write_files({fc.path: fc.content.decode()})
    files = _package(runner, "img-zstd")
    layout = {p[len("app/img-zstd/") :]: c for p, c in files.items() if p.startswith("app/img-zstd/")}
    assert validate_layout(layout, {MEDIA_TYPE_LAYER_ZSTD: _zstd_decompress}) == []
    index = json.loads(layout["index.json"])
    manifest = json.loads(layout[f"blobs/sha256/{index['manifests'][0]['digest'].split(':')[1]}"])
    gzip_manifest = _manifest(first["files"])
    assert {layer["mediaType"] for layer in manifest["layers"]} == {MEDIA_TYPE_LAYER_ZSTD}
    assert {layer["mediaType"] for layer in gzip_manifest["layers"]} == {MEDIA_TYPE_LAYER_GZIP}
    config = json.loads(layout[f"blobs/sha256/{manifest['config']['digest'].split(':')[1]}"])
    gzip_layout = _layout_files(first["files"])
    gzip_config = json.loads(gzip_layout[f"blobs/sha256/{gzip_manifest['config']['digest'].split(':')[1]}"])
    assert config["rootfs"] == gzip_config["rootfs"], "the same tars, only compressed differently"
    zstd_size = sum(layer["size"] for layer in manifest["layers"])
    assert zstd_size < 0.9 * sum(layer["size"] for layer in gzip_manifest["layers"])
    assert _package(runner, "img-zstd")["app/img-zstd/index.json"] == layout["index.json"], "reproducible"
    zstd_dir, gzip_dir = tmp_path / "zstd", tmp_path / "gzip"
    for path, content in layout.items():
        (zstd_dir / path).parent.mkdir(parents=True, exist_ok=True)
        (zstd_dir / path).write_bytes(content)
    subprocess.run(
        [*skopeo(tmp_path), "copy", "--dest-compress-format=gzip", f"oci:{zstd_dir}:latest", f"oci:{gzip_dir}:latest"],
        check=True,
        capture_output=True,
    )
    result = _run_container(gzip_dir, tmp_path)
    assert result.returncode == 0 and result.stdout == "Hello from 3.13.5 as uid 65532: 3.0 KiB\n", result.stderr


def test_image_leaves_out_what_a_container_never_uses(first: dict) -> None:
    base, runtime = _layer_names(first["files"], 0), _layer_names(first["files"], 1)
    assert "usr/bin/tini" in base and "usr/bin/tini-static" not in base
    assert "opt/python/bin/python3.13" in runtime
    assert "opt/python/lib/python3.13/_sysconfigdata__linux_x86_64-linux-gnu.py" in runtime, "sysconfig reads it"
    build_files = [
        n
        for n in runtime
        if n.startswith(("opt/python/include", "opt/python/lib/pkgconfig", "opt/python/lib/python3.13/config-3.13-"))
        or n.endswith("-config")
    ]
    assert build_files == []


def test_app_only_change_rebuilds_only_the_app_layer(first: dict) -> None:
    runner = first["runner"]
    before = _manifest(first["files"])
    runner.write_files({"app/hello/main.py": MAIN.replace("Hello from", "Hi from")})
    after = _manifest(_package(runner))
    runner.write_files({"app/hello/main.py": MAIN})
    digests_before = [layer["digest"] for layer in before["layers"]]
    digests_after = [layer["digest"] for layer in after["layers"]]
    assert digests_before[:3] == digests_after[:3], "base, runtime and requirements layers are unchanged"
    assert digests_before[3] != digests_after[3]
    assert after["layers"][3]["size"] < 10_000, "the rebuilt layer is the small app layer"


def test_without_the_archive_package_writes_the_same_image(first: dict) -> None:
    """[oci-image].write_archive=false, the fast edit loop: no OCI archive, the same layout and digest."""
    runner = first["runner"]
    runner.set_options(_options("--no-oci-image-write-archive"), env_inherit=ENV_INHERIT)
    try:
        files = _package(runner)
    finally:
        runner.set_options(_options(), env_inherit=ENV_INHERIT)
    assert "app/img.tar" not in files and "app/img.tar" in first["files"]
    assert _layout_files(files) == _layout_files(first["files"])
    info, info_before = (json.loads(f["app/img.oci-info.json"]) for f in (files, first["files"]))
    assert info["archive"] is None and info_before["archive"] == "img.tar"
    assert {k: v for k, v in info.items() if k != "archive"} == {k: v for k, v in info_before.items() if k != "archive"}


@slow_tier(
    "the second checkout compiles the pgo+lto runtime again in an empty store (about 20 minutes on 2 cores, the "
    "suite's longest test; tests/python/plugin_wheel compares two fresh compiles in every run)"
)
def test_two_checkouts_from_empty_caches_give_the_same_digest(first: dict) -> None:
    second = _runner(fresh=True)  # another temporary build root, another empty store: a second CPython compile
    _generate_lock(second, "base")
    lock_build_root(second, Address("rt", target_name="py313"))
    assert second.build_root != first["runner"].build_root
    # The runtime first: with PGO, the profile from the training run is where two machines used to differ.
    runtime = _package_runtime(second)
    assert set(runtime) == {".tar.gz", ".complete_platform.json", ".pgo-profile.tar.gz"}
    assert runtime == _package_runtime(first["runner"])
    assert json.loads(_package(second)["app/img/index.json"]) == json.loads(first["files"]["app/img/index.json"])


def test_a_pinned_pgo_profile_gives_the_same_runtime(first: dict) -> None:
    runner = first["runner"]
    built = _package_runtime(runner)
    target = runner.get_target(Address("rt", target_name="py313"))
    package = runner.request(BuiltPackage, [PythonRuntimeFieldSet.create(target)])
    profile = next(
        fc for fc in runner.request(DigestContents, [package.digest]) if fc.path.endswith(".pgo-profile.tar.gz")
    )
    runner.write_files(
        {
            "rt/frozen.pgo-profile.tar.gz": profile.content,
            "rt/BUILD": PROJECT["rt/BUILD"]
            + 'python_runtime(name="frozen", version="3.13.5", build_root_suite="bookworm",\n'
            + '               pgo_profile="frozen.pgo-profile.tar.gz",\n'
            + f'               pgo_profile_sha256="{built[".pgo-profile.tar.gz"]}")\n',
        }
    )
    lock_build_root(runner, Address("rt", target_name="frozen"))
    try:
        frozen = _package_runtime(runner, "frozen")
    finally:
        runner.write_files({"rt/BUILD": PROJECT["rt/BUILD"]})
    assert frozen == built, "no training run, and the same bytes as the runtime the profile came from"


def test_user_missing_from_the_base_is_rejected(first: dict) -> None:
    runner = first["runner"]
    runner.write_files(
        {
            "app/BUILD": PROJECT["app/BUILD"] + 'python_oci_image(name="bad-user", runtime="rt:py313", '
            'binary=":hello", user="appuser")\n'
        }
    )
    with pytest.raises(ExecutionError) as e:
        _package(runner, "bad-user")
    assert (
        "The 'user' field in target app:bad-user is 'appuser', but user 'appuser' is not in the base's "
        "/etc/passwd (users there: nonroot, root)" in str(e.value)
    )


def test_base_missing_the_runtime_libraries_is_rejected(first: dict) -> None:
    runner = first["runner"]
    _generate_lock(runner, "bare")
    runner.write_files(
        {
            "app/BUILD": PROJECT["app/BUILD"] + 'python_oci_image(name="bare", runtime="rt:py313", '
            'binary=":hello", base=["rt:bare"], init=False)\n'
        }
    )
    with pytest.raises(ExecutionError) as e:
        _package(runner, "bare")
    message = str(e.value)
    assert "The image app:bare would not run" in message
    assert "libssl.so.3" in message and "libssl3" in message


def test_entry_point_file_that_no_target_owns_is_diagnosed(first: dict) -> None:
    runner = first["runner"]
    runner.write_files(
        {
            "app/orphan/main.py": "def main():\n    return 0\n",
            "app/BUILD": PROJECT["app/BUILD"] + 'pex_binary(name="orphan-bin", entry_point="orphan/main.py:main")\n'
            'python_oci_image(name="orphan", runtime="rt:py313", binary=":orphan-bin")\n',
        }
    )
    with pytest.raises(ExecutionError) as e:
        _package(runner, "orphan")
    message = str(e.value)
    assert (
        "The 'binary' of target app:orphan, app:orphan-bin, runs orphan.main:main, but no file in the image "
        "provides the module orphan.main" in message
    )
    assert "python_sources" in message
