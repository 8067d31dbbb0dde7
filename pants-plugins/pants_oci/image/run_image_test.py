from pants_oci.image.run_image import container_config


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
    assert tmp == [{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]}]
    assert {"type": "network"} not in config["linux"]["namespaces"] and {"type": "pid"} in config["linux"]["namespaces"]


def test_arguments_replace_cmd_not_entrypoint() -> None:
    config = container_config(_config(), 1, ["ada", "--runtime"], interactive=True)
    assert config["process"]["args"] == ["/app/bin/hello-cli", "ada", "--runtime"]
    assert config["process"]["terminal"] is True
