"""Run an OCI image layout in a container with umoci and runc: what `./pants run <python_oci_image>` executes.

    python run_image.py LAYOUT_DIR TAG TOOLS_DIR ENTRYPOINT_LENGTH [ARG ...]

TOOLS_DIR holds the container tools unpacked from the [container-tools] Debian lock (`bin/umoci`, `bin/runc`; see
pants_oci/debian/host_tools.py): nothing of the host's is used but its kernel. Standard library only.

Unpacks the image into a temporary bundle, then runs it the way production should: read-only root filesystem, a
private tmpfs on /tmp. The container shares the host's network (like `docker run --network host`), so a service it
starts is reachable on localhost. Arguments after the fixed ones replace the image's `Cmd` (ENTRYPOINT_LENGTH says
where the entry point ends), as with `docker run IMAGE ARG...`. The exit code is the app's.

As root, the app runs as the image's user. As another user, runc runs rootless: the container gets a user
namespace in which only the invoking user is mapped, as the container's root (without setuid helpers such as
newuidmap no other user can be mapped), so the app runs with exactly the invoking user's rights on the host.
"""
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional

CLONE_NEWUSER = 0x10000000
EXIT_NO_USER_NAMESPACES = 125


def container_config(
    config: Dict, entrypoint_length: int, args: List[str], interactive: bool, rootless: bool = False
) -> Dict:
    """The bundle's config.json, adjusted: read-only root, tmpfs /tmp, host network, args replacing Cmd; rootless,
    the process runs as the one mapped user (the container's root)."""
    process = config["process"]
    process["terminal"] = interactive
    if args:
        process["args"] = process["args"][:entrypoint_length] + args
    if rootless:
        process["user"] = {"uid": 0, "gid": 0}
    config["root"]["readonly"] = True
    config["mounts"] = [m for m in config.get("mounts", []) if m.get("destination") != "/tmp"]
    config["mounts"].append(
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]}
    )
    namespaces = config.get("linux", {}).get("namespaces", [])
    config.setdefault("linux", {})["namespaces"] = [n for n in namespaces if n.get("type") != "network"]
    return config


def user_namespaces_problem() -> Optional[str]:
    """Why this user cannot create a user namespace (what rootless runc needs), or None if it can."""
    pid = os.fork()
    if pid == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        os._exit(0 if libc.unshare(CLONE_NEWUSER) == 0 else 1)
    _, status = os.waitpid(pid, 0)
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return None
    return (
        "`./pants run` runs the image with runc, rootless because Pants runs as a non-root user, and that needs "
        "unprivileged user namespaces, which this kernel refuses. Allow them "
        "(`sysctl kernel.unprivileged_userns_clone=1` on Debian kernels, `sysctl user.max_user_namespaces=15000` "
        "where it is 0, or the AppArmor setting `kernel.apparmor_restrict_unprivileged_userns=0` on Ubuntu 24.04), "
        "or run Pants as root."
    )


def main(argv: List[str]) -> int:
    layout, tag, tools, entrypoint_length, *args = argv
    rootless = os.geteuid() != 0
    if rootless:
        problem = user_namespaces_problem()
        if problem:
            sys.stderr.write(problem + "\n")
            return EXIT_NO_USER_NAMESPACES
    umoci, runc = os.path.join(tools, "bin", "umoci"), os.path.join(tools, "bin", "runc")
    workdir = tempfile.mkdtemp(prefix="pants-oci-run-")
    # The runc launcher makes its patched copy here: the tools directory is shared and read-only.
    env = {**os.environ, "PANTS_OCI_PATCHED_TOOLS": os.path.join(workdir, "patched")}
    try:
        bundle = os.path.join(workdir, "bundle")
        unpack = [umoci, "unpack", *(["--rootless"] if rootless else []), "--image", f"{layout}:{tag}", bundle]
        result = subprocess.run(unpack, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        if result.returncode != 0:
            sys.stderr.write(f"umoci could not unpack {layout}:{tag}:\n{result.stderr.decode(errors='replace')}")
            return result.returncode
        config_path = os.path.join(bundle, "config.json")
        with open(config_path) as f:
            config = json.load(f)
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
        with open(config_path, "w") as f:
            json.dump(container_config(config, int(entrypoint_length), args, interactive, rootless), f)
        # runc's state lives in the work directory, so it needs no /run or $XDG_RUNTIME_DIR of the host's.
        runc_cmd = [
            runc,
            "--root",
            os.path.join(workdir, "state"),
            *(["--rootless=true"] if rootless else []),
            "run",
            "--bundle",
            bundle,
            f"pants-oci-{os.getpid()}",
        ]
        container = subprocess.Popen(runc_cmd, env=env)
        # runc forwards the signals it gets to the container; pass on those sent to this process alone.
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, lambda sig, _frame: container.send_signal(sig))
        return container.wait()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
