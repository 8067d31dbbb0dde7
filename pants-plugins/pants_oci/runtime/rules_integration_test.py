"""Real CPython builds through the python_runtime rules (optimizations="none": about 2 minutes each).

On Debian 12 build roots: the trees run on this (Debian 12) host below. Debian 13 runtimes, which need a newer
glibc than the host's, are built and run in their image by tests/python/plugin_wheel.

The compiles here are a means: the runners use the machine's Pants store (runtime/testing.py:
machine_store_args), where an earlier run's compile of the same inputs is a cache hit, as it is for a user; a
build that fails is never cached, so the failure below always compiles. That a second compile in a fresh store
gives the same bytes is tested where it costs no extra compile of its own: the image tests' two checkouts
(pgo+lto), the multi-arch test's second checkout (native and cross) and tests/python/plugin_wheel (with the
host's compiler hidden).
"""
import io
import os
import shutil
import subprocess
import tarfile
import textwrap
from pathlib import Path
from typing import Dict

import pytest
from pants.core.goals.package import BuiltPackage
from pants.core.util_rules import system_binaries
from pants.engine.addresses import Address
from pants.engine.fs import DigestContents
from pants.engine.internals.scheduler import ExecutionError
from pants.testutil.rule_runner import QueryRule, RuleRunner

from pants_oci.elf.hardening import read_hardening
from pants_oci.runtime import rules as runtime_rules
from pants_oci.runtime.field_set import PythonRuntimeFieldSet
from pants_oci.runtime.modules import default_required_modules
from pants_oci.runtime.target_types import PythonRuntimeTarget
from pants_oci.runtime.testing import BUILD_ROOT_LOCK_RULES, lock_build_root, slow_tier, store_kwargs
from pants_oci.tools.testing import openssl_env, tool

VERSION = "3.13.5"
# Measured here: ~27 MB without bytecode, ~40 MB with level-0 pycs; untrimmed `make install` is ~313 MB.
MAX_TREE_BYTES = 60 * 1024 * 1024

SMOKE_TEST = textwrap.dedent(
    """
    import bz2, ctypes, dbm.gnu, decimal, hashlib, lzma, os, readline, socket, sqlite3, ssl, sys, threading
    import uuid, zlib, xml.etree.ElementTree as ET
    cert, key, workdir = sys.argv[1], sys.argv[2], sys.argv[3]

    # TLS handshake over a socketpair, verifying the server's certificate and host name.
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=cert)
    a, b = socket.socketpair()
    def serve():
        with server_ctx.wrap_socket(a, server_side=True) as s:
            s.sendall(s.recv(5).upper())
    t = threading.Thread(target=serve); t.start()
    with client_ctx.wrap_socket(b, server_hostname="localhost") as c:
        c.sendall(b"hello"); assert c.recv(5) == b"HELLO"
        tls = c.version()
    t.join()

    db = sqlite3.connect(":memory:"); db.execute("create table t (x)"); db.execute("insert into t values (42)")
    assert db.execute("select x from t").fetchone() == (42,)
    assert ctypes.CDLL("libc.so.6").strlen(b"hello") == 5
    payload = os.urandom(1000) * 10
    for codec in (zlib, bz2, lzma):
        assert codec.decompress(codec.compress(payload)) == payload
    import _decimal  # the C implementation, not the _pydecimal fallback
    assert decimal.Decimal("1.1") + decimal.Decimal("2.2") == decimal.Decimal("3.3")
    assert uuid.uuid1().version == 1 and uuid._generate_time_safe is not None
    readline.parse_and_bind("tab: complete"); readline.add_history("x")
    assert readline.get_current_history_length() >= 1
    with dbm.gnu.open(os.path.join(workdir, "db"), "c") as d:
        d[b"k"] = b"v"; assert d[b"k"] == b"v"
    assert hashlib.pbkdf2_hmac("sha256", b"pw", b"salt", 1000).hex()
    assert ET.fromstring("<a><b/></a>").find("b") is not None
    print(f"ALL OK {sys.version.split()[0]} {ssl.OPENSSL_VERSION} {tls} prefix={sys.prefix}")
    """
)


def _rule_runner(fresh: bool = False) -> RuleRunner:
    runner = RuleRunner(
        rules=[
            *runtime_rules.rules(),
            *system_binaries.rules(),
            QueryRule(BuiltPackage, [PythonRuntimeFieldSet]),
            *BUILD_ROOT_LOCK_RULES,
        ],
        target_types=[PythonRuntimeTarget],
        **store_kwargs(fresh=fresh),
    )
    # The mirror .ci/run configures, else the defaults (python.org, then the machine's Debian archive).
    configured = os.environ.get("PANTS_CPYTHON_BUILD_SOURCE_URL_TEMPLATES")
    options = [f"--cpython-build-source-url-templates={configured}"] if configured else []
    runner.set_options(options, env_inherit={"PATH"})
    return runner


def _package(build_file: str, fresh: bool = False) -> Dict[str, bytes]:
    runner = _rule_runner(fresh)
    runner.write_files({"src/BUILD": build_file})
    lock_build_root(runner, Address("src", target_name="rt"))
    target = runner.get_target(Address("src", target_name="rt"))
    package = runner.request(BuiltPackage, [PythonRuntimeFieldSet.create(target)])
    contents = runner.request(DigestContents, [package.digest])
    return {fc.path: fc.content for fc in contents}


@pytest.fixture(scope="module")
def built() -> Dict[str, bytes]:
    return _package(
        f'python_runtime(name="rt", version="{VERSION}", optimizations="none", build_root_suite="bookworm")'
    )


@pytest.fixture(scope="module")
def tree(built: Dict[str, bytes], tmp_path_factory) -> Path:
    """The runtime extracted, then moved to a directory it was not built for."""
    extracted = tmp_path_factory.mktemp("extracted")
    with tarfile.open(fileobj=io.BytesIO(built["src/rt.tar.gz"])) as tar:
        tar.extractall(extracted)
    moved = tmp_path_factory.mktemp("somewhere-else") / "python"
    shutil.move(str(extracted / "opt" / "python"), moved)
    return moved


def _self_signed_cert(directory: Path):
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            tool("openssl"),
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        env=openssl_env(),
    )
    return cert, key


def test_every_required_module_works_after_moving_the_tree(tree: Path, tmp_path: Path) -> None:
    cert, key = _self_signed_cert(tmp_path)
    script = tmp_path / "smoke.py"
    script.write_text(SMOKE_TEST)
    result = subprocess.run(
        [str(tree / "bin" / "python3.13"), "-I", str(script), str(cert), str(key), str(tmp_path)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"ALL OK {VERSION} OpenSSL")
    assert f"prefix={tree}" in result.stdout  # found its own stdlib from where it now lives


def test_interpreter_and_libpython_are_hardened(tree: Path) -> None:
    """What Debian's hardening-check checks, read by the plugin's ELF code: PIE, full RELRO (read-only relocations
    and immediate binding), stack protector and _FORTIFY_SOURCE. Not checked: CET (Debian 12's C start files are not
    CET-marked, so the linker drops the property from every executable of the distribution), and the stack
    protector and fortified calls of the executable alone: a 3-line main() calling into libpython, with no buffer
    for gcc to guard and no libc call to fortify (hardening-check says "unknown" there)."""
    interpreter = read_hardening((tree / "bin" / "python3.13").read_bytes())
    assert interpreter is not None
    assert interpreter.executable and interpreter.problems(stack_protector=False, fortify=False) == ()
    library = read_hardening((tree / "lib" / "libpython3.13.so.1.0").read_bytes())
    assert library is not None
    assert not library.executable and library.problems() == ()


def test_tree_is_trimmed_and_free_of_build_paths(tree: Path) -> None:
    stdlib = tree / "lib" / "python3.13"
    for trimmed in ("test", "idlelib", "tkinter", "ensurepip", "turtle.py"):
        assert not (stdlib / trimmed).exists(), trimmed
    assert not list(tree.rglob("*.a"))
    assert list(stdlib.rglob("*.cpython-313.pyc")), "the default bytecode policy ships unchecked-hash pycs"
    size = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file() and not p.is_symlink())
    assert size < MAX_TREE_BYTES, f"trimmed tree is {size} bytes"
    for path in tree.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert b"pants-sandbox" not in path.read_bytes(), f"{path} names the build sandbox"
    sysconfig_data = next(stdlib.glob("_sysconfigdata_*.py")).read_text()
    assert "'prefix': '/opt/python'" in sysconfig_data


def test_complete_platform_describes_this_interpreter(built: Dict[str, bytes]) -> None:
    import json

    platform = json.loads(built["src/rt.complete_platform.json"])
    assert platform["marker_environment"]["python_full_version"] == VERSION
    assert platform["compatible_tags"][0].startswith("cp313-cp313-manylinux_2_")


def test_missing_modules_fail_the_build_naming_what_each_needs() -> None:
    """Two ways a module goes missing, in one compile (each costs minutes):
    - readline, a required module, is left out (`--with-readline=no`): it is named with the -dev package its
      headers come from, and the fix says where to add it.
    - CPython's own report of what it did not build is read, not only the runtime's lists: configure is told that
      gdbm.h is missing and `_gdbm` is left out of `required_modules`, so no list names it, and the build fails
      naming it instead of shipping a runtime without it. A module a new CPython version adds (3.14's _zstd),
      which no list of the plugin names either, is caught the same way."""
    required = [m for m in default_required_modules(VERSION) if m != "_gdbm"]
    with pytest.raises(ExecutionError) as e:
        _package(
            f'python_runtime(name="rt", version="{VERSION}", optimizations="none", build_root_suite="bookworm", '
            f'required_modules={required!r}, extra_configure_args=["--with-readline=no", "ac_cv_header_gdbm_h=no"])'
        )
    message = str(e.value)
    assert "Building src:rt failed: CPython 3.13.5 was built without 2 required stdlib module(s)" in message
    assert "readline: needs the headers from libreadline-dev" in message
    assert "_gdbm: needs the headers from libgdbm-dev (CPython's build reports that its headers were not found" in (
        message
    )
    assert "build_root_packages" in message and "--resolve=src:rt#build-root" in message
    assert "optional_modules" in message


@slow_tier("Two pgo+lto+bolt compiles in empty stores (about 20 minutes each on 2 cores)")
def test_bolt_builds_are_reproducible_and_hardened(tmp_path: Path) -> None:
    """optimizations="pgo+lto+bolt" keeps PGO's guarantee: two compiles in fresh sandboxes and empty stores (the
    PGO profile, the compile and the BOLT step each run twice) give the same archive. The BOLT step checks its own
    output by running the training on it; here the laid-out libpython keeps its hardening and loses its symbols."""
    build_file = f'python_runtime(name="rt", version="{VERSION}", optimizations="pgo+lto+bolt")'
    first = _package(build_file, fresh=True)
    second = _package(build_file, fresh=True)
    assert first["src/rt.tar.gz"] == second["src/rt.tar.gz"]
    with tarfile.open(fileobj=io.BytesIO(first["src/rt.tar.gz"])) as tar:
        tar.extractall(tmp_path)
    libpython = (tmp_path / "opt" / "python" / "lib" / "libpython3.13.so.1.0").read_bytes()
    hardening = read_hardening(libpython)
    assert hardening is not None and hardening.problems() == ()
    assert b".symtab" not in libpython and b".bolt.org.text" in libpython  # laid out by BOLT, then stripped
