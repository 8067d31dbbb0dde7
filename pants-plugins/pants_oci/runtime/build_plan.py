"""Pure decisions for a `python_runtime` build: which tarball, which URLs, which environment.

The rules gather inputs and call these; nothing here touches Pants, the network or the disk.
"""
import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from pants_oci.errors import PantsOciError
from pants_oci.oci.determinism import DEFAULT_EPOCH
from pants_oci.runtime import configure_flags, cross
from pants_oci.runtime.known_versions import KNOWN_RELEASES, SourceRelease, known_release
from pants_oci.runtime.modules import (
    NOT_REQUIRED_BY_DEFAULT,
    default_required_modules,
    known_module,
    modules_for,
    resolve_module_sets,
    runtime_packages_for,
    unknown_modules,
)


class RuntimeConfigError(PantsOciError, ValueError):
    """A `python_runtime` target whose fields cannot describe a build; the message says how to fix it."""


@dataclass(frozen=True)
class RuntimeSpec:
    """Everything about a runtime that changes its bytes: the cache key, minus sources and toolchain."""

    address: str
    version: str
    optimizations: str
    prefix: str
    bytecode: str
    include: Tuple[str, ...]
    required_modules: Tuple[str, ...]
    optional_modules: Tuple[str, ...]
    extra_configure_args: Tuple[str, ...]

    @property
    def major_minor(self) -> str:
        return ".".join(self.version.split(".")[:2])

    @property
    def uses_pgo(self) -> bool:
        return "pgo" in self.optimizations.split("+")


def resolve_release(
    address: str, version: str, sha256: Optional[str], size: Optional[int], filename: Optional[str]
) -> SourceRelease:
    """The tarball to build: the target's own pin if it has one, else the plugin's table."""
    if (sha256 is None) != (size is None):
        given, missing = ("sha256", "size") if sha256 else ("size", "sha256")
        raise RuntimeConfigError(
            f"Target {address} sets `{given}` but not `{missing}`: a source pin needs both. "
            f"Add `{missing}=...` (the tarball's {'byte count' if missing == 'size' else 'sha256'})."
        )
    if sha256 is not None and size is not None:
        return SourceRelease(version, filename or f"Python-{version}.tar.xz", sha256, size)
    release = known_release(version)
    if release is None:
        raise RuntimeConfigError(
            f"The 'version' field in target {address} is {version!r}, which has no built-in sha256 pin "
            f"(pinned: {', '.join(KNOWN_RELEASES)}). Pick a pinned version, or pin this one yourself with "
            f"the `sha256` and `size` fields of the tarball (python.org lists both)."
        )
    if filename and filename != release.filename:
        raise RuntimeConfigError(
            f"The 'source_filename' field in target {address} is {filename!r}, but the pinned release "
            f"{version} is {release.filename!r}. Remove the field, or pin your file with `sha256` and `size`."
        )
    return release


def source_urls(templates: Sequence[str], release: SourceRelease, debian_archives: Sequence[str] = ()) -> List[str]:
    """The URL templates filled in for this release, without duplicates: local (`file://`) ones first, then the
    rest, each group in the templates' order.

    A template with `{debian_archive}` gives one URL per archive, or none when the machine has none. Local files
    go first because every URL must serve the same pinned bytes, so the order decides only how long a fetch
    takes: Pants' engine skips a download only for a URL it has seen serve the file, and a remote URL this
    machine cannot reach (python.org behind a mirror) ahead of the mirror was tried again, with the engine's
    retries, by every Pants process (docs/benchmarks.md, "without the daemon").
    """
    urls = []
    for template in templates:
        archives = debian_archives if "{debian_archive}" in template else [""]
        for archive in archives:
            try:
                url = template.format(
                    version=release.version,
                    major_minor=release.major_minor,
                    filename=release.filename,
                    debian_filename=release.debian_orig_name,
                    debian_archive=archive,
                )
            except (KeyError, IndexError, ValueError) as e:
                raise RuntimeConfigError(
                    f"[cpython-build].source_url_templates has a bad template {template!r} ({e}). Use only "
                    f"{{version}}, {{major_minor}}, {{filename}}, {{debian_filename}} and {{debian_archive}}."
                ) from e
            if url not in urls:
                urls.append(url)
    return sorted(urls, key=lambda url: not url.startswith("file://"))


def signature_urls(source: Sequence[str]) -> List[str]:
    """Where a tarball's detached OpenPGP signature is: next to it, with `.asc` appended (python.org, Debian's
    source archive, and mirrors filled by build-support/fill_cpython_mirror.py all keep it so)."""
    return [url + ".asc" for url in source]


# What the SBOM records about how a source tarball was checked.
def verified_by_signature(name: str, fingerprint: str, signed_at: str, size: int) -> str:
    return f"OpenPGP signature of {name} (key {fingerprint}, signed {signed_at}) and sha256 and size pin ({size} bytes)"


def verified_by_pin_only(size: int, why: str) -> str:
    return f"sha256 and size pin ({size} bytes); no signature checked: {why}"


def bad_signature_message(address: str, release: SourceRelease, detail: str) -> str:
    return (
        f"The CPython {release.version} source of {address} matches its sha256 pin, but not its release manager's "
        f"OpenPGP signature: {detail}.\nThe pin names a file the release manager did not sign (check the target's "
        f"`sha256` against the release page), or the signature file was altered on its way. Nothing was built."
    )


# How the engine reports a download whose bytes are not the pinned ones.
_DIGEST_MISMATCH_MARKERS = ("Wrong digest for downloaded file", "larger than expected digest")


def download_failure_message(address: str, release: SourceRelease, errors: Sequence[Tuple[str, str]]) -> str:
    lines = "\n".join(f"  {url}\n    {error}" for url, error in errors)
    mismatched = [url for url, error in errors if any(m in error for m in _DIGEST_MISMATCH_MARKERS)]
    if mismatched:
        return (
            f"The CPython {release.version} source for {address} does not match its pin (sha256 {release.sha256}, "
            f"{release.size} bytes): {', '.join(mismatched)} served other bytes. Either the pin is wrong (check "
            f"the target's `sha256` and `size` fields against the release's published checksum) or the source "
            f"was tampered with on its way; it was not used.\nEvery URL tried:\n{lines}"
        )
    return (
        f"Could not get a verified source tarball for {address} (CPython {release.version}: {release.filename}, "
        f"sha256 {release.sha256}, {release.size} bytes). Every URL failed:\n{lines}\n"
        f"Fix: make one of them reachable, or add a mirror to [cpython-build].source_url_templates "
        f"(build-support/fill_cpython_mirror.py fills one from Debian's source archive)."
    )


def make_spec(
    address: str,
    version: str,
    optimizations: str,
    prefix: str,
    bytecode: str,
    include: Sequence[str],
    required: Optional[Sequence[str]],
    optional: Sequence[str],
    extra_configure_args: Sequence[str],
) -> RuntimeSpec:
    for field, names in (("required_modules", required or ()), ("optional_modules", optional)):
        unknown = unknown_modules(version, names)
        if unknown:
            raise RuntimeConfigError(
                f"The {field!r} field in target {address} names {', '.join(repr(u) for u in unknown)}, which "
                f"{'is not a stdlib extension module' if len(unknown) == 1 else 'are not stdlib extension modules'} "
                f"of CPython {version} that the plugin knows. Check the spelling; the known ones are listed in "
                f"pants_oci/runtime/modules.py (e.g. '_ssl', '_sqlite3', '_gdbm')."
            )
    managed = [a for a in extra_configure_args if configure_flags.managed_argument(a)]
    if managed:
        reasons = filter(None, map(configure_flags.managed_argument, managed))
        raise RuntimeConfigError(
            f"The 'extra_configure_args' field in target {address} has {', '.join(repr(a) for a in managed)}, which "
            f"the plugin sets itself: {'; '.join(reasons)}. Remove "
            f"{'it' if len(managed) == 1 else 'them'}."
        )
    required_modules, optional_modules = resolve_module_sets(version, required, optional)
    if "_tkinter" in required_modules and "tkinter" not in include:
        raise RuntimeConfigError(
            f"The 'required_modules' field in target {address} requires _tkinter, but tkinter is trimmed unless "
            f'asked for: add `include=["tkinter"]` (and install tk-dev), or drop _tkinter from required_modules.'
        )
    return RuntimeSpec(
        address=address,
        version=version,
        optimizations=optimizations,
        prefix=prefix,
        bytecode=bytecode,
        include=tuple(sorted(set(include))),
        required_modules=tuple(required_modules),
        optional_modules=tuple(optional_modules),
        extra_configure_args=tuple(extra_configure_args),
    )


def loaded_modules(spec: RuntimeSpec) -> List[str]:
    """The extension modules a runtime may have: the default set (a smaller `required_modules` only checks less),
    what the target requires or lists as optional, and _tkinter when tkinter is kept. The base must provide the
    libraries they load."""
    listed = [*default_required_modules(spec.version), *spec.required_modules, *spec.optional_modules]
    return sorted({*listed, *(("_tkinter",) if "tkinter" in spec.include else ())})


def dropped_modules(spec: RuntimeSpec) -> List[str]:
    """Modules outside that set that need an outside library, such as the deprecated `nis` on 3.11, which
    configure builds whenever libnsl's headers are there. They are removed from the tree, so the libraries a
    runtime loads follow from its fields alone and a base can be locked without compiling it. (_tkinter goes
    with the tkinter trimming.)"""
    keep = set(loaded_modules(spec)) | {"_tkinter"}
    return sorted(m.name for m in modules_for(spec.version) if m.runtime_package and m.name not in keep)


def runtime_debian_packages(spec: RuntimeSpec, suite: str) -> List[str]:
    """The Debian packages whose libraries the runtime loads: libc6 and those of its extension modules, as `suite`
    names them. The ELF closure check of every image proves it."""
    return sorted({"libc6", *runtime_packages_for(loaded_modules(spec), suite)})


# What compiling CPython needs besides the -dev packages of its modules: the C toolchain (gcc pulls in cpp,
# binutils and libc6-dev), make and pkg-config, and the shell tools configure, make install and build_cpython.sh
# call. No build-essential: it adds g++ and dpkg-dev (perl), which CPython's build never runs.
BUILD_ROOT_TOOLS = (
    "bash",
    "binutils",
    "coreutils",
    "dash",
    "diffutils",
    "findutils",
    "gcc",
    "grep",
    "gzip",
    "libc-bin",
    "libc6-dev",
    "make",
    "mawk",
    "pkg-config",
    "sed",
    "tar",
    "xz-utils",
)


def build_root_packages(spec: RuntimeSpec, extra: Sequence[str] = ()) -> List[str]:
    """The Debian packages a runtime's build root asks for: the toolchain and the -dev package of every module the
    runtime may have (`loaded_modules`), so each one it must have can be built and none it must not have can.
    `extra` is the target's `build_root_packages`."""
    dev = {m.dev_package for name in loaded_modules(spec) if (m := known_module(name)) and m.dev_package}
    return sorted({*BUILD_ROOT_TOOLS, *dev, *extra})


def _kept_components(include: Sequence[str]) -> str:
    """Map the user-facing `include` names onto build_cpython.sh's trimming switches."""
    kept = {"pip": "ensurepip"}
    return " ".join(sorted(kept.get(name, name) for name in include))


def all_configure_args(spec: RuntimeSpec, architecture: str = cross.BUILD_MACHINE) -> List[str]:
    return configure_flags.configure_args(
        spec.version,
        spec.optimizations,
        spec.extra_configure_args,
        spec.include,
        cross.CONTROL_FLOW_CFLAGS[architecture],
    )


def cross_spec(spec: RuntimeSpec) -> RuntimeSpec:
    """The spec a cross build compiles: the target's, without PGO (runtime/cross.py says why)."""
    return dataclasses.replace(spec, optimizations=cross.cross_optimizations(spec.optimizations))


def cross_build_root_packages(spec: RuntimeSpec, architecture: str, extra: Sequence[str] = ()) -> List[str]:
    """The packages of a build root that cross-compiles `spec` for `architecture`."""
    target = cross.cross_target(architecture)
    assert target is not None, "a native build root is build_root_packages"
    dev = {m.dev_package for name in loaded_modules(spec) if (m := known_module(name)) and m.dev_package}
    return sorted({*cross.cross_build_root_packages(BUILD_ROOT_TOOLS, sorted(dev), target), *extra})


# The PATH of a compile in a build root: the root's own directories (merged /usr). The same string on every host.
BUILD_ROOT_PATH = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")


def build_env(
    spec: RuntimeSpec,
    tarball_path: str,
    search_path: Sequence[str],
    toolchain_fingerprint: Optional[str] = None,
    architecture: str = cross.BUILD_MACHINE,
    build_python: str = "",
) -> Dict[str, str]:
    """The build process's whole environment; every value is part of its cache key. `toolchain_fingerprint`
    only for a host toolchain: a build root is in the key as the process's immutable input. A cross build (another
    `architecture`) names its native `build_python`, relative to the sandbox."""
    dropped = dropped_modules(spec)
    target = cross.cross_target(architecture)
    return {
        **(cross.cross_env(target, build_python) if target else {}),
        # Only when there is something to drop, so the key of a runtime that drops nothing stays the same.
        **({"CPYTHON_DROP_MODULES": " ".join(dropped)} if dropped else {}),
        "PATH": ":".join(search_path),
        "LC_ALL": "C",
        "TZ": "UTC",
        "HOME": "/tmp",
        "SOURCE_DATE_EPOCH": str(DEFAULT_EPOCH),
        "CPYTHON_TARBALL": tarball_path,
        "CPYTHON_VERSION": spec.version,
        "CPYTHON_PREFIX": spec.prefix,
        "CPYTHON_CONFIGURE_ARGS": "\n".join(all_configure_args(spec, architecture)),
        "CPYTHON_BYTECODE": spec.bytecode,
        "CPYTHON_KEEP": _kept_components(spec.include),
        "CPYTHON_REQUIRED_MODULES": " ".join(spec.required_modules),
        "CPYTHON_OPTIONAL_MODULES": " ".join(spec.optional_modules),
        # What CPython may report as not built without failing the build: the modules the plugin leaves out of
        # every runtime unless asked (tkinter, nis). Any other module it reports must be listed by the target.
        "CPYTHON_MAY_BE_MISSING": " ".join(sorted(NOT_REQUIRED_BY_DEFAULT - set(spec.required_modules))),
        # Unused by the script: here so that another compiler, linker or -dev library is another cache key.
        **({"CPYTHON_TOOLCHAIN_FINGERPRINT": toolchain_fingerprint} if toolchain_fingerprint is not None else {}),
    }


# The namespaces a build root compile runs in (util-linux `unshare`): root of its own user namespace, its own
# mounts (to chroot), PIDs (nothing outlives it), and no network, IPC or host name of the host's.
UNSHARE_ARGS = (
    "unshare",
    "--user",
    "--map-root-user",
    "--mount",
    "--pid",
    "--net",
    "--ipc",
    "--uts",
    "--fork",
    "--kill-child",
)


def build_root_argv(root_dir: str, command: Sequence[str]) -> List[str]:
    """Run `command` inside the build root mounted at `root_dir` of the sandbox. `/usr/bin/env` and a PATH lookup
    of `unshare` and `sh`: no host path is spelled out, so the cache key is the same on every Linux."""
    return ["/usr/bin/env", *UNSHARE_ARGS, "sh", "enter_build_root.sh", root_dir, *command]


def sandbox_problem(address: str, probe_output: str) -> Optional[str]:
    """Why this host cannot run a build root compile, from build_root_check.sh's output; None when it can."""
    lines = probe_output.splitlines()
    if lines and lines[-1].strip() == "ok":
        return None
    facts = dict(line.split(" ", 1) for line in lines if " " in line)
    missing = [line.split()[1] for line in lines if line.startswith("missing-tool ")]
    sysctls = {
        k: v for k, v in (line.split()[1:3] for line in lines if line.startswith("sysctl ") and len(line.split()) >= 3)
    }
    causes, fixes = [], []
    if missing:
        causes.append(f"{', '.join(missing)} not found (util-linux and coreutils provide them)")
        fixes.append("install util-linux (`unshare`, `mount`) and coreutils (`chroot`)")
    if sysctls.get("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1":
        causes.append(
            "AppArmor forbids unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1, "
            "the Ubuntu 24.04 default)"
        )
        fixes.append(
            "`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` (or an AppArmor profile that "
            "allows `userns` for /usr/bin/unshare)"
        )
    if sysctls.get("/proc/sys/user/max_user_namespaces") == "0":
        causes.append("user namespaces are disabled (user.max_user_namespaces=0)")
        fixes.append("`sudo sysctl -w user.max_user_namespaces=15000`")
    if sysctls.get("/proc/sys/kernel/unprivileged_userns_clone") == "0":
        causes.append("unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone=0)")
        fixes.append("`sudo sysctl -w kernel.unprivileged_userns_clone=1`")
    if not causes:
        causes.append(
            f"creating a user namespace failed: {facts.get('unshare-failed', probe_output.strip() or 'no output')}"
        )
        fixes.append(
            "inside a container, allow unshare(CLONE_NEWUSER) and mount (Docker/Podman: "
            "`--security-opt seccomp=unconfined --security-opt apparmor=unconfined`, or run the build on the "
            "host)"
        )
    fixes.append(
        f'or compile with the host\'s compiler and -dev packages: `toolchain="host"` on {address} '
        "(fingerprinted into the cache key, so not shared with machines that have another toolchain)"
    )
    return (
        f"Cannot compile {address} in its build root: {'; '.join(causes)}. A build root compile runs as root of its "
        f"own user namespace, which this host does not allow.\nFix: " + "\n  ".join(fixes) + "."
    )


def fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def missing_tools(probe_output: str) -> List[str]:
    return [line.split()[1] for line in probe_output.splitlines() if line.startswith("missing-tool ")]


REQUIRED_TOOLS = ("cc", "make", "ld", "as", "ar", "tar", "xz", "gzip", "sed", "grep", "find")


def toolchain_problem(probe_output: str, search_path: Sequence[str]) -> Optional[str]:
    missing = [t for t in missing_tools(probe_output) if t in REQUIRED_TOOLS]
    if not missing:
        return None
    return (
        f"Cannot build CPython: {', '.join(missing)} not found on the build PATH {':'.join(search_path)}. "
        f"Install a C toolchain (Debian/Ubuntu: apt-get install build-essential xz-utils), or point "
        f"[cpython-build].build_search_path at the directories that hold these tools."
    )
