"""Scratch Pants repositories for end-to-end tests: the plugin's wheel installed through `[GLOBAL].plugins`
from a find-links directory, driven with the real `pants` launcher, as other repositories use the plugin."""
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Optional

from pants_oci.image import pex_cli

PLUGIN_VERSION = "0.1.0"
# The pex CLI release the README tells adopters to select (pants_oci/image/pex_cli.py MINIMUM). This repository's
# own launcher runs a newer one; scratch repositories run this one, so the README's choice is what they test.
PEX_VERSION = "2.100.5"
# What a scratch repository's Pants may see of the test's environment: the mirrors CI configures. Everything
# else PANTS_* (the outer run's own options) stays out, so the scratch repository is configured by its files.
PASSED_PANTS_VARIABLES = ("PANTS_CPYTHON_BUILD_SOURCE_URL_TEMPLATES", "PANTS_DEBIAN_ARCHIVE_URL")


def plugin_wheel() -> Path:
    """The wheel `runtime_package_dependencies=["pants-plugins:dist"]` put in the test's sandbox."""
    wheels = list(Path.cwd().rglob(f"pants_oci-{PLUGIN_VERSION}-py3-none-any.whl"))
    assert len(wheels) == 1, f"expected the wheel built by runtime_package_dependencies, found {wheels}"
    return wheels[0]


def built_pex_cli(version: str = PEX_VERSION) -> Path:
    """A release of the pex CLI built from PyPI as the README's offline recipe says (`pex pex==X -c pex -o FILE`),
    once per machine under the test cache: the published file's host is not reachable from these machines. Built
    with the launcher's CPython 3.9, under a lock, and trusted only once complete."""
    cache = _cache_dir("pants-oci-tests")
    pex = cache / f"pex-{version}"
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not pex.is_file():
            _build_pex_cli(version, pex)
    return pex


def _build_pex_cli(version: str, out: Path) -> None:
    python = _launcher_python()
    # pip as the machine configures it (index, CA bundle), not as this repository's Pants tells its processes to
    # (PIP_CONFIG_FILE=/dev/null, inherited by this test).
    env = {k: v for k, v in os.environ.items() if k != "PIP_CONFIG_FILE"}
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([python, "-m", "venv", str(venv)], check=True, env=env)
        subprocess.run([venv / "bin/pip", "install", "-q", f"pex=={version}"], check=True, env=env)
        built = Path(tmp) / "pex"
        subprocess.run(
            [venv / "bin/pex", f"pex=={version}", "-c", "pex", "-o", built, "--python", venv / "bin/python"],
            check=True,
            env=env,
        )
        shutil.move(str(built), out)  # complete: moved in last


def _cache_dir(name: str) -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / name


def _launcher_python() -> str:
    """The CPython 3.9 the `./pants` launcher installed Pants with (its venv's interpreter)."""
    cache = _cache_dir("pants-oci-bootstrap")
    venvs = sorted(cache.glob("pants-2.17.1-*/venv/bin/python"))
    assert venvs, f"the ./pants launcher has not installed Pants under {cache} yet"
    return str(venvs[-1])


def pex_cli_section(version: str = PEX_VERSION) -> str:
    """The README's `[pex-cli]` lines (offline variant): a pex CLI release, from a local file."""
    pex = built_pex_cli(version)
    digest, size = hashlib.sha256(pex.read_bytes()).hexdigest(), pex.stat().st_size
    return pex_cli.pants_toml_lines(digest, size, version, url_template=f"file://{pex}") + "\n"


# The README's "Use it in your repository" section, literally: the plugin from a find-links directory, the pex CLI
# it needs, and pip's configuration files out of every resolve.
README_PANTS_TOML = """\
[GLOBAL]
pants_version = "2.17.1"
plugins = ["pants-oci=={version}"]
backend_packages = ["pants.backend.python", "pants_oci"]

[python-repos]
find_links = ["file://{find_links}"]

{pex_cli}
{pip_isolation}"""
PIP_ISOLATION = '[subprocess-environment]\nenv_vars = ["PIP_CONFIG_FILE=/dev/null"]\n'


def pants_toml(find_links: Path, extra: str = "", pex_cli: bool = True, pip_isolation: bool = True) -> str:
    """README_PANTS_TOML, then this test suite's own settings; `pex_cli`/`pip_isolation` False leave out those
    sections, to show what they are for."""
    readme = README_PANTS_TOML.format(
        version=PLUGIN_VERSION,
        find_links=find_links,
        pex_cli=pex_cli_section() if pex_cli else "",
        pip_isolation=PIP_ISOLATION if pip_isolation else "",
    )
    return f"""\
{readme}
[python]
interpreter_constraints = ["CPython>=3.11,<3.14"]
{extra}
[source]
root_patterns = ["/src"]

[anonymous-telemetry]
enabled = false
"""


def create(root: Path, files: Dict[str, str], pants_toml_extra: str = "", **readme_sections: bool) -> Path:
    """A repository under `root` with the launcher, a pants.toml that installs the plugin's wheel as the README
    says (`readme_sections` as for pants_toml), and `files`. The launcher adds nothing to a pants.toml with a
    `[pex-cli]` section but the machine's CA bundle; it only runs Pants 2.17.1, as the standard launcher would."""
    find_links = root / "wheels"
    find_links.mkdir()
    shutil.copy(plugin_wheel(), find_links)
    repo = root / "repo"
    repo.mkdir()
    shutil.copy(Path("pants").resolve(), repo / "pants")  # the launcher (`//:launcher`), as in this repo
    (repo / "pants.toml").write_text(pants_toml(find_links, pants_toml_extra, **readme_sections))
    for path, content in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(content)
    return repo


def run_pants(
    repo: Path,
    args: List[str],
    check: bool = True,
    timeout: int = 1500,
    host_tools: bool = True,
    wrap: Callable[[List[str]], List[str]] = lambda argv: argv,
    env_overrides: Optional[Dict[str, str]] = None,
) -> subprocess.CompletedProcess:
    """`./pants --no-pantsd ARGS` in `repo`; with host_tools=False, where the host's compiler and container tools
    are hidden; `wrap` runs the command through another (a namespace that changes the machine); `env_overrides`
    (HOME, XDG_CACHE_HOME: another user's machine) replace variables of the test's environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANTS_") or k in PASSED_PANTS_VARIABLES}
    env.update(env_overrides or {})
    argv = wrap(["bash", "./pants", "--no-pantsd", *args])
    result = subprocess.run(
        argv if host_tools else without_host_tools(argv),
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check:
        assert (
            result.returncode == 0
        ), f"./pants {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return result


# Mounted over the host's C toolchain and container tools in a private mount namespace: empty directories over its
# headers and the compiler's own directories, /dev/null over the compiler, preprocessor, linker and the container
# tools. Fails (exit 99) if a compiler, a libc header or a container tool is still usable, so a test that uses it
# cannot pass with them in reach.
_HIDE_HOST_TOOLS = r"""
set -e
empty="$(mktemp -d)"
for d in /usr/include /usr/local/include /usr/lib/gcc /usr/libexec/gcc; do
  if [ -d "$d" ]; then mount --bind "$empty" "$d"; fi
done
for f in /usr/bin/gcc* /usr/bin/cc /usr/bin/c89* /usr/bin/c99* /usr/bin/cpp* /usr/bin/x86_64-linux-gnu-gcc* \
         /usr/bin/x86_64-linux-gnu-cpp* /usr/bin/ld /usr/bin/ld.bfd /usr/bin/ld.gold /usr/bin/x86_64-linux-gnu-ld*; do
  if [ -e "$f" ]; then mount --bind /dev/null "$f"; fi
done
if cc --version >/dev/null 2>&1 || gcc --version >/dev/null 2>&1 || [ -e /usr/include/stdio.h ]; then
  echo "the host's C toolchain is still usable" >&2
  exit 99
fi
for tool in umoci runc skopeo crun podman docker-registry; do
  for d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
    if [ -e "$d/$tool" ]; then mount --bind /dev/null "$d/$tool"; fi
  done
  if "$tool" --version >/dev/null 2>&1; then
    echo "the host's $tool is still usable" >&2
    exit 99
  fi
done
exec "$@"
"""


def without_host_tools(argv: List[str]) -> List[str]:
    """`argv` run where the host's compiler, linker, headers and container tools (umoci, runc, skopeo, ...) are
    unusable (a private mount namespace; as a non-root user, inside a user namespace of its own as well)."""
    unshare = ["unshare", "--mount"] if os.geteuid() == 0 else ["unshare", "--user", "--map-root-user", "--mount"]
    return [*unshare, "sh", "-c", _HIDE_HOST_TOOLS, "hide-host-tools", *argv]


def copy_repo(repo: Path, to: Path) -> Path:
    """The repository's own files (no dist/, no Pants work directories) at another path: a second checkout."""
    ignored = shutil.ignore_patterns("dist", ".pants.d", ".pids", ".pants.workdir.file_lock*")
    shutil.copytree(repo, to, ignore=ignored, symlinks=True)
    return to
