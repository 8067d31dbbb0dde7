"""Run an OCI image layout in a container with umoci and runc: what `./pants run <python_oci_image>` executes.

    python run_image.py LAYOUT_DIR TAG UMOCI RUNC ENTRYPOINT_LENGTH [ARG ...]

Standard library only. Unpacks the image into a temporary bundle, then runs it the way production should:
as the image's user, read-only root filesystem, a private tmpfs on /tmp. The container shares the host's
network (like `docker run --network host`), so a service it starts is reachable on localhost. Arguments after
the fixed ones replace the image's `Cmd` (ENTRYPOINT_LENGTH says where the entry point ends), as with `docker run IMAGE ARG...`. The exit code is the app's.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from typing import Dict, List


def container_config(config: Dict, entrypoint_length: int, args: List[str], interactive: bool) -> Dict:
    """The bundle's config.json, adjusted: read-only root, tmpfs /tmp, host network, args replacing Cmd."""
    process = config["process"]
    process["terminal"] = interactive
    if args:
        process["args"] = process["args"][:entrypoint_length] + args
    config["root"]["readonly"] = True
    config["mounts"] = [m for m in config.get("mounts", []) if m.get("destination") != "/tmp"]
    config["mounts"].append(
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]}
    )
    namespaces = config.get("linux", {}).get("namespaces", [])
    config.setdefault("linux", {})["namespaces"] = [n for n in namespaces if n.get("type") != "network"]
    return config


def main(argv: List[str]) -> int:
    layout, tag, umoci, runc, entrypoint_length, *args = argv
    rootless = os.geteuid() != 0
    workdir = tempfile.mkdtemp(prefix="pants-oci-run-")
    try:
        bundle = os.path.join(workdir, "bundle")
        unpack = [umoci, "unpack", *(["--rootless"] if rootless else []), "--image", f"{layout}:{tag}", bundle]
        result = subprocess.run(unpack, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if result.returncode != 0:
            sys.stderr.write(f"umoci could not unpack {layout}:{tag}:\n{result.stderr.decode(errors='replace')}")
            return result.returncode
        config_path = os.path.join(bundle, "config.json")
        with open(config_path) as f:
            config = json.load(f)
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
        with open(config_path, "w") as f:
            json.dump(container_config(config, int(entrypoint_length), args, interactive), f)
        runc_cmd = [runc, *(["--rootless=true"] if rootless else []), "run", "--bundle", bundle,
                    f"pants-oci-{os.getpid()}"]
        container = subprocess.Popen(runc_cmd)
        # runc forwards the signals it gets to the container; pass on those sent to this process alone.
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, lambda sig, _frame: container.send_signal(sig))
        return container.wait()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
