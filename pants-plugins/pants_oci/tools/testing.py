"""The programs the tests drive (skopeo, umoci, runc, docker-registry, htpasswd, openssl), from the `debian_tools`
target `3rdparty/debian:test-tools`: a test target lists it in `runtime_package_dependencies`, and Pants puts the
unpacked tools in the test's sandbox. Nothing is taken from the host."""
import contextlib
import http.server
import os
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, List, Optional

TEST_TOOLS_ADDRESS = "3rdparty/debian:test-tools"
# Where `runtime_package_dependencies` puts that target's output in a test's sandbox (its default output_path).
TEST_TOOLS_DIR = "3rdparty.debian/test-tools"


def tools_dir() -> Path:
    found = Path.cwd() / TEST_TOOLS_DIR
    assert (
        found / "bin"
    ).is_dir(), f'{found} is missing: add runtime_package_dependencies=["{TEST_TOOLS_ADDRESS}"] to this test\'s target'
    return found


def tool(name: str) -> str:
    """The launcher of `name`: runs the program with the tree's own loader and libraries."""
    path = tools_dir() / "bin" / name
    assert path.exists(), f"{TEST_TOOLS_ADDRESS} has no program {name}: add its package to the target's packages"
    return str(path)


def openssl_env() -> Dict[str, str]:
    """The environment for the tools' openssl: its configuration from the tree, not the host's /usr/lib/ssl."""
    return {**os.environ, "OPENSSL_CONF": str(tools_dir() / "root" / "etc" / "ssl" / "openssl.cnf")}


def skopeo(tmpdir: Optional[Path] = None) -> List[str]:
    """skopeo with the trust policy from the tree (the host may have no /etc/containers/policy.json) and, for a
    copy, its temporary files in `tmpdir` (it would use /var/tmp whatever TMPDIR says)."""
    policy = tools_dir() / "root" / "etc" / "containers" / "policy.json"
    return [tool("skopeo"), "--policy", str(policy), *(["--tmpdir", str(tmpdir)] if tmpdir else [])]


@contextlib.contextmanager
def docker_registry(workdir: Path, htpasswd: str = "", token: Optional[Dict[str, str]] = None) -> Iterator[str]:
    """A real registry (docker-registry, the distribution project) on 127.0.0.1, storing under `workdir`, with
    htpasswd users if `htpasswd` is given, or the `auth: token` settings in `token` (realm, service, issuer,
    rootcertbundle): yields its address (`127.0.0.1:PORT`), stops it afterwards."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    auth = f"auth:\n  htpasswd:\n    realm: test\n    path: {workdir / 'htpasswd'}\n" if htpasswd else ""
    if token:
        auth = "auth:\n  token:\n" + "".join(f"    {key}: {value}\n" for key, value in token.items())
    if htpasswd:
        (workdir / "htpasswd").write_text(htpasswd)
    (workdir / "config.yml").write_text(
        f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {workdir / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n{auth}"
    )
    process = subprocess.Popen(
        [tool("docker-registry"), "serve", str(workdir / "config.yml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
                break
            except urllib.error.HTTPError:  # 401 from an authenticating registry: it is up
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError(f"docker-registry did not answer on 127.0.0.1:{port}")
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextlib.contextmanager
def serving(server: http.server.HTTPServer) -> Iterator[str]:
    """Run `server` (bound to 127.0.0.1) on a thread while the block runs; yields its base URL."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
