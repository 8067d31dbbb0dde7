"""Every decision about a `python_oci_image` that is not I/O: names, tags, users, env, entry point, layout.

Pure; no Pants imports, so it is unit-tested directly and the rules stay thin.
"""
import json
import posixpath
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from pants_oci.errors import PantsOciError
from pants_oci.oci import model

# The OCI distribution spec's grammar: a repository path of lowercase components, optionally behind a
# registry host (with a port); a tag of up to 128 word characters, dots and dashes.
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_HOST = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)"
REPOSITORY_PATTERN = re.compile(rf"^{_HOST}?{_COMPONENT}(?:/{_COMPONENT})*$")
TAG_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
PORT_PATTERN = re.compile(r"^([0-9]{1,5})(?:/(tcp|udp|sctp))?$")
ENV_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
USER_PART_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")

APP_DIR = "/app"
APP_BIN_DIR = "/app/bin"
# Appended to sys.path by site.py, so the app imports under `python -I` too (PYTHONPATH would not be read).
APP_PTH_FILE = "pants_oci_app.pth"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_USER = "65532:65532"
# The init that runs the app as its child (Debian's `tini` package): signals forwarded, orphans reaped.
INIT = "/usr/bin/tini"
INIT_PACKAGE = "tini"


class ImagePlanError(PantsOciError, ValueError):
    """Bad input for an image; the message names the target, the field, the value and the fix."""


def repository_problem(value: str) -> Optional[str]:
    if len(value) > 255 or not REPOSITORY_PATTERN.match(value):
        return (
            f"{value!r} is not a valid repository name: use lowercase letters, digits and separators (. _ __ -) "
            f"in '/'-separated components, optionally behind a registry host, e.g. 'acme/hello-cli' or "
            f"'registry.example.com:5000/acme/hello-cli'"
        )
    return None


def tag_problem(value: str) -> Optional[str]:
    if not TAG_PATTERN.match(value):
        return (
            f"{value!r} is not a valid tag: up to 128 letters, digits, '_', '.' and '-', not starting with '.' "
            f"or '-', e.g. 'latest' or '1.4.2'"
        )
    return None


def normalize_port(value: str) -> str:
    """'8080' -> '8080/tcp'; raises ValueError for anything that is not port[/tcp|udp|sctp]."""
    match = PORT_PATTERN.match(value)
    if not match or not 0 < int(match.group(1)) < 65536:
        raise ValueError(f"{value!r} is not a port: use a number from 1 to 65535, optionally with /tcp, /udp or /sctp")
    return f"{int(match.group(1))}/{match.group(2) or 'tcp'}"


def workdir_problem(value: str) -> Optional[str]:
    if not value.startswith("/"):
        return f"{value!r} is relative: the working directory must be an absolute path such as '/app'"
    return None


def env_problem(env: Mapping[str, str]) -> Optional[str]:
    bad = sorted(name for name in env if not ENV_NAME_PATTERN.match(name))
    if bad:
        return f"invalid variable name(s) {', '.join(repr(b) for b in bad)}: use letters, digits and '_'"
    return None


# ---------------------------------------------------------------------------------------------------------------
# Users


def _names_to_ids(text: str, id_column: int) -> Dict[str, int]:
    ids = {}
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) > id_column and fields[id_column].isdigit():
            ids[fields[0]] = int(fields[id_column])
    return ids


def resolve_user(address: str, user: str, passwd: Optional[str], group: Optional[str]) -> str:
    """The config's `User`: numeric ids pass as they are; names must exist in the base's /etc/passwd and
    /etc/group, because a runtime that cannot find a name refuses to start the container."""
    name, _, group_name = user.partition(":")
    if not name or not USER_PART_PATTERN.match(name) or (group_name and not USER_PART_PATTERN.match(group_name)):
        raise ImagePlanError(
            f"The 'user' field in target {address} is {user!r}: use a user id or name, optionally with a "
            f"group, e.g. '65532:65532' or 'nonroot'."
        )
    problems = []
    if not name.isdigit() and name not in _names_to_ids(passwd or "", 2):
        problems.append(f"user {name!r} is not in the base's /etc/passwd")
    if group_name and not group_name.isdigit() and group_name not in _names_to_ids(group or "", 2):
        problems.append(f"group {group_name!r} is not in the base's /etc/group")
    if problems:
        known = ", ".join(sorted(_names_to_ids(passwd or "", 2))) or "none"
        raise ImagePlanError(
            f"The 'user' field in target {address} is {user!r}, but {' and '.join(problems)} (users there: "
            f"{known}). Use numeric ids such as '65532:65532', or a user the base defines."
        )
    return user


# ---------------------------------------------------------------------------------------------------------------
# Interpreter constraints


def _version_tuple(version: str) -> Tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def _specifier_admits(specifier: str, version: str) -> bool:
    """A small PEP 440 subset for interpreter versions: ==, !=, >=, <=, >, <, ~= with optional `.*`."""
    have = _version_tuple(version)
    for clause in filter(None, (c.strip() for c in specifier.split(","))):
        match = re.match(r"^(~=|==|!=|>=|<=|>|<)\s*([0-9]+(?:\.[0-9]+)*)(\.\*)?$", clause)
        if not match:
            raise ValueError(f"unsupported version clause {clause!r}")
        op, want_text, wildcard = match.groups()
        want = _version_tuple(want_text)
        prefix = have[: len(want)]
        if wildcard and op in ("==", "!="):
            ok = (prefix == want) == (op == "==")
        elif op == "~=":
            ok = have >= want and have[: len(want) - 1] == want[:-1]
        else:
            padded = want + (0,) * (len(have) - len(want))
            ok = {
                "==": have == padded,
                "!=": have != padded,
                ">=": have >= padded,
                "<=": have <= padded,
                ">": have > padded,
                "<": have < padded,
            }[op]
        if not ok:
            return False
    return True


def constraints_admit(constraints: Iterable[str], version: str) -> bool:
    """Whether any of the (OR-ed) interpreter constraints, e.g. 'CPython>=3.11,<3.14', admits `version`."""
    for constraint in constraints:
        match = re.match(r"^\s*([A-Za-z]*)\s*(.*)$", constraint)
        assert match is not None  # any one-line string matches (both groups may be empty)
        implementation, specifier = match.group(1), match.group(2)
        if implementation not in ("", "CPython", "cpython"):
            continue
        if _specifier_admits(specifier, version):
            return True
    return False


def check_constraints(address: str, binary: str, constraints: Sequence[str], runtime: str, version: str) -> None:
    if not constraints_admit(constraints, version):
        raise ImagePlanError(
            f"The 'binary' of target {address} is {binary}, whose interpreter constraints "
            f"({' OR '.join(constraints)}) do not admit CPython {version}, the version of its 'runtime' {runtime}. "
            f"Use a runtime whose version they admit, or widen the interpreter constraints of {binary} and its "
            f"dependencies ([python].interpreter_constraints or their `interpreter_constraints` fields)."
        )


# ---------------------------------------------------------------------------------------------------------------
# Entry point and environment


@dataclass(frozen=True)
class EntryPointSpec:
    """What the pex_binary runs: a module (`module`), a function (`module:function`) or a console script."""

    module: Optional[str] = None
    function: Optional[str] = None
    script: Optional[str] = None

    def describe(self) -> str:
        if self.script:
            return f"console script {self.script}"
        return f"{self.module}:{self.function}" if self.function else f"module {self.module}"


def launcher_script(interpreter: str, entry: EntryPointSpec, binary: str, args: Sequence[str] = ()) -> bytes:
    """The executable the image's entry point names, like a console_scripts wrapper: it starts the app the
    way the PEX would (runs the module, calls the function, or looks the console script up)."""
    lines = [
        f"#!{interpreter} -s",
        f"# Generated by pants-oci from {binary}: runs {entry.describe()}.",
        "import sys",
    ]
    if args:
        lines.append(f"sys.argv[1:1] = {list(args)!r}  # the pex_binary's `args`")
    if entry.script:
        lines += [
            "from importlib.metadata import entry_points",
            "found = entry_points()",
            "found = found.select(group='console_scripts') if hasattr(found, 'select')"
            " else found.get('console_scripts', ())",
            f"matches = [e for e in found if e.name == {entry.script!r}]",
            "if not matches:",
            f"    sys.exit('console script {entry.script} is not installed in this image')",
            "sys.exit(matches[0].load()())",
        ]
    elif entry.function:
        lines += [f"from {entry.module} import {entry.function}", f"sys.exit({entry.function}())"]
    else:
        lines += ["import runpy", f"runpy.run_module({entry.module!r}, run_name='__main__', alter_sys=True)"]
    return ("\n".join(lines) + "\n").encode()


def module_candidates(module: str, root: str) -> List[str]:
    """Paths (relative to /) at which `module` would be found under the import root `root`."""
    base = f"{root.strip('/')}/{module.replace('.', '/')}"
    return [f"{base}.py", f"{base}/__init__.py", f"{base}/__main__.py"]


def missing_entry_module(entry: Optional[EntryPointSpec], files: Iterable[str], roots: Sequence[str]) -> Optional[str]:
    """The entry point's top-level module if no file of the image provides it (None when it is found, or for
    console scripts, which the launcher looks up by name). Extension modules count (`name.cpython-*.so`)."""
    if entry is None or entry.module is None:
        return None
    present = set(files)
    for root in roots:
        if any(c in present for c in module_candidates(entry.module, root)):
            return None
        stem = f"{root.strip('/')}/{entry.module.replace('.', '/')}."
        if any(f.startswith(stem) and f.endswith(".so") for f in present):
            return None
    return entry.module


def image_entrypoint(entrypoint: Sequence[str], init: bool) -> Tuple[str, ...]:
    """The config's Entrypoint: the app's, behind tini when `init` (`--` ends tini's own options)."""
    return (INIT, "--", *entrypoint) if init else tuple(entrypoint)


def init_problem(address: str, init: bool, bases: Mapping[str, Sequence[str]]) -> Optional[str]:
    """An error when `init` is on but no base (address -> its locked package names) has tini."""
    if not init or any(INIT_PACKAGE in packages for packages in bases.values()):
        return None
    return (
        f"Target {address} runs its app under tini as PID 1 (the 'init' field, True by default), but its base "
        f"{', '.join(bases)} has no `{INIT_PACKAGE}` package. Add \"{INIT_PACKAGE}\" to the base's `packages` and run "
        f"`./pants generate-lockfiles --resolve=<the base>`, or set `init=False` on {address} if the app handles "
        f"signals and reaps children itself."
    )


def launcher_path(binary_name: str) -> str:
    return f"{APP_BIN_DIR}/{binary_name}"


def relocate_console_scripts(scripts: Mapping[str, bytes], interpreter: str) -> Dict[str, bytes]:
    """Console scripts of the installed wheels, their `#!` line pointing at the image's interpreter (Pex
    wrote the build machine's), so `gunicorn` or `uvicorn` run as commands in the container."""
    relocated = {}
    for name, content in scripts.items():
        if content.startswith(b"#!"):
            first_line, newline, rest = content.partition(b"\n")
            if b"python" in first_line:
                content = f"#!{interpreter} -s".encode() + newline + rest
        relocated[name] = content
    return relocated


def image_env(python_bin_dir: str, pex_env: Mapping[str, str], user_env: Mapping[str, str]) -> Tuple[str, ...]:
    """Config `Env`: PATH and LANG=C.UTF-8 (seed 004) by default, then the pex_binary's `env`, then the
    image's own `env`, later ones winning; sorted so the config does not depend on dict order."""
    env: Dict[str, str] = {
        "PATH": f"{APP_BIN_DIR}:{python_bin_dir}:{SYSTEM_PATH}",
        "LANG": "C.UTF-8",
    }
    env.update(pex_env)
    env.update(user_env)
    return tuple(f"{k}={v}" for k, v in sorted(env.items()))


def source_date_epoch(option: Optional[int], env_value: Optional[str], default: int) -> int:
    """The layers' timestamp: the option if set, else $SOURCE_DATE_EPOCH if set, else `default`."""
    if option is not None:
        return option
    if env_value is None:
        return default
    if not env_value.strip().isdigit():
        raise ImagePlanError(f"SOURCE_DATE_EPOCH must be a whole number of seconds, but is {env_value!r}.")
    return int(env_value)


def size_summary(compressed: int, uncompressed: int) -> str:
    return f"{compressed / 1e6:.1f} MB compressed, {uncompressed / 1e6:.1f} MB uncompressed"


# ---------------------------------------------------------------------------------------------------------------
# Deploy metadata

DEPLOY_INFO_SCHEMA = "pants-oci/image-info/v1"


def deploy_info_path(layout_dir: str) -> str:
    """Where `package` writes an image's deploy metadata: next to its layout directory and archive."""
    return f"{layout_dir}.oci-info.json"


def installed_distributions(site_packages_dirs: Iterable[str]) -> List[Tuple[str, str]]:
    """(name, version) of every distribution installed, from its `<name>-<version>.dist-info` directory."""
    found = []
    for path in site_packages_dirs:
        base = posixpath.basename(path)
        if base.endswith(".dist-info") and "-" in base:
            name, version = base[: -len(".dist-info")].rsplit("-", 1)
            found.append((name, version))
    return sorted(found)


def sbom_path(layout_dir: str) -> str:
    """Where `package` writes an image's SPDX document: next to its layout directory and archive."""
    return f"{layout_dir}.spdx.json"


def deploy_info(
    address: str,
    repository: str,
    tags: Sequence[str],
    manifest_digest: str,
    config_digest: str,
    compressed_size: int,
    os_name: str,
    architecture: str,
    layout_dir: str,
    archive: Optional[str],
    platforms: Sequence[str] = (),
) -> bytes:
    """What a deploy step needs from a build, as stable JSON: the image's names, its digests and the reference
    to pin (`repository@sha256:...`, which no later push of a tag can change). For an image of several
    `platforms` (an image index) the pinned digest is the index's, and `platforms` lists them (`config_digest` and
    `platform` are the first platform's). `archive` is None when `package` wrote none (`write_archive`)."""
    document = {
        "schema": DEPLOY_INFO_SCHEMA,
        "address": address,
        "repository": repository,
        "tags": list(tags),
        "references": [f"{repository}:{tag}" for tag in tags],
        "pinned_reference": f"{repository}@{manifest_digest}",
        "manifest_digest": manifest_digest,
        "config_digest": config_digest,
        "compressed_size": compressed_size,
        "platform": {"os": os_name, "architecture": architecture},
        "layout": posixpath.basename(layout_dir),
        "archive": posixpath.basename(archive) if archive else None,
    }
    if len(platforms) > 1:
        document["index_digest"] = manifest_digest
        document["platforms"] = list(platforms)
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def runtime_build_files(prefix: str, major_minor: str) -> List[str]:
    """Globs (relative to /) of what only compiling against the runtime uses: headers, python-config, the config
    directory with the Makefile, and pkg-config files. `_sysconfigdata_*.py`, which sysconfig reads at run time,
    is not among them."""
    root = prefix.strip("/")
    directories = (f"{root}/include", f"{root}/lib/python{major_minor}/config-{major_minor}-*", f"{root}/lib/pkgconfig")
    # Each directory and what is under it: excluding the contents alone would leave it behind, empty.
    return [
        *(glob for d in directories for glob in (d, f"{d}/**")),
        f"{root}/bin/python{major_minor}-config",
        f"{root}/bin/python3-config",
    ]


# The platforms images are built for, as OCI names them, and the Debian architecture of each.
DEBIAN_ARCHITECTURES = {"amd64": "amd64", "arm64": "arm64"}


def image_platform(text: str) -> model.Platform:
    """A `platforms` entry, normalized (linux/arm64 is linux/arm64/v8); ValueError saying what is accepted."""
    platform = model.parse_platform(text)
    if platform.os != "linux" or platform.architecture not in DEBIAN_ARCHITECTURES:
        raise ValueError(
            f"{text!r} is not a platform images are built for: use linux/amd64 or linux/arm64 (linux/arm64/v8)"
        )
    return platform


def debian_architecture(platform: model.Platform) -> str:
    return DEBIAN_ARCHITECTURES[platform.architecture]
