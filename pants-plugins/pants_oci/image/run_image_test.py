import shutil
import subprocess
import sys

import pytest

from pants_oci.image.run_image import container_config, user_namespaces_problem


def _config():
    return {
        "process": {"terminal": True, "args": ["/app/bin/hello-cli", "--default"]},
        "root": {"path": "rootfs"},
        "mounts": [{"destination": "/proc", "type": "proc"}, {"destination": "/tmp", "type": "bind"}],
        "linux": {"namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "mount"}]},
    }


def test_container_runs_read_only_with_tmpfs_tmp_and_host_network() -> None:
    config = container_config(_config(), 1, [], interactive=False)
    assert config["root"]["readonly"] is True and config["process"]["terminal"] is False
    assert config["process"]["args"] == ["/app/bin/hello-cli", "--default"]  # no args: the image's Cmd
    tmp = [m for m in config["mounts"] if m["destination"] == "/tmp"]
    assert tmp == [
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]}
    ]
    assert {"type": "network"} not in config["linux"]["namespaces"] and {"type": "pid"} in config["linux"]["namespaces"]


def test_arguments_replace_cmd_not_entrypoint() -> None:
    config = container_config(_config(), 1, ["ada", "--runtime"], interactive=True)
    assert config["process"]["args"] == ["/app/bin/hello-cli", "ada", "--runtime"]
    assert config["process"]["terminal"] is True


def test_rootless_runs_as_the_one_mapped_user() -> None:
    config = _config()
    config["process"]["user"] = {"uid": 65532, "gid": 65532, "additionalGids": [65532]}
    assert container_config(config, 1, [], interactive=False, rootless=True)["process"]["user"] == {"uid": 0, "gid": 0}
    config = _config()
    config["process"]["user"] = {"uid": 65532, "gid": 65532}
    assert container_config(config, 1, [], interactive=False)["process"]["user"] == {"uid": 65532, "gid": 65532}


def test_user_namespaces_are_checked_before_running_rootless() -> None:
    """Where user namespaces are allowed the check passes; in a user namespace whose limit of nested ones is 0 (a
    kernel that forbids them, as seen from inside) it explains what to change."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "--user", "true"]).returncode != 0:
        pytest.skip(
            "this machine cannot make user namespaces, so the allowed and the forbidden case cannot be told apart"
        )
    assert user_namespaces_problem() is None
    check = "from pants_oci.image.run_image import user_namespaces_problem; print(user_namespaces_problem())"
    out = subprocess.run(
        [
            "unshare",
            "--user",
            "--map-root-user",
            "sh",
            "-c",
            'echo 0 > /proc/sys/user/max_user_namespaces && exec "$0" -c "$1"',
            sys.executable,
            check,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "needs unprivileged user namespaces, which this kernel refuses" in out and "max_user_namespaces" in out
