import json

import pytest

from pants_oci.image import plan

PASSWD = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
GROUP = "root:x:0:\nnonroot:x:65532:\n"


@pytest.mark.parametrize(
    "name", ["hello", "acme/hello-cli", "a.b_c__d--e/f", "localhost:5000/acme/app", "registry.example.com/x/y"]
)
def test_valid_repositories(name: str) -> None:
    assert plan.repository_problem(name) is None


@pytest.mark.parametrize("name", ["Hello", "acme//app", "-app", "app-", "acme/app:latest", "acme/app@sha256", ""])
def test_invalid_repositories_are_explained(name: str) -> None:
    problem = plan.repository_problem(name)
    assert problem and repr(name) in problem and "acme/hello-cli" in problem


@pytest.mark.parametrize("tag", ["latest", "1.4.2", "v1_rc-2", "A" * 128])
def test_valid_tags(tag: str) -> None:
    assert plan.tag_problem(tag) is None


@pytest.mark.parametrize("tag", [".hidden", "-x", "a/b", "a:b", "A" * 129, ""])
def test_invalid_tags(tag: str) -> None:
    assert plan.tag_problem(tag)


def test_ports_are_normalized_and_checked() -> None:
    assert plan.normalize_port("8080") == "8080/tcp"
    assert plan.normalize_port("53/udp") == "53/udp"
    for bad in ("0", "65536", "http", "80/icmp", "-1"):
        with pytest.raises(ValueError, match="is not a port"):
            plan.normalize_port(bad)


def test_workdir_must_be_absolute() -> None:
    assert plan.workdir_problem("/app") is None
    assert "relative" in (plan.workdir_problem("app") or "")


def test_env_names() -> None:
    assert plan.env_problem({"PYTHONUNBUFFERED": "1"}) is None
    assert "'1BAD'" in (plan.env_problem({"1BAD": "x", "OK": "y"}) or "")


def test_numeric_and_known_users_pass() -> None:
    for user in ("65532:65532", "1000", "nonroot", "nonroot:nonroot", "0:0", "root"):
        assert plan.resolve_user("src:img", user, PASSWD, GROUP) == user


def test_unknown_user_names_the_target_field_and_known_users() -> None:
    with pytest.raises(plan.ImagePlanError) as e:
        plan.resolve_user("src:img", "app", PASSWD, GROUP)
    message = str(e.value)
    assert "'user' field in target src:img" in message and "'app'" in message
    assert "nonroot, root" in message and "65532:65532" in message


def test_unknown_group_and_malformed_user() -> None:
    with pytest.raises(plan.ImagePlanError, match="group 'staff'"):
        plan.resolve_user("src:img", "nonroot:staff", PASSWD, GROUP)
    with pytest.raises(plan.ImagePlanError, match="use a user id or name"):
        plan.resolve_user("src:img", "a b", PASSWD, GROUP)


@pytest.mark.parametrize(
    "constraints, version, admitted",
    [
        (["CPython>=3.11,<3.14"], "3.13.5", True),
        (["CPython<3.14,>=3.11"], "3.14.0", False),
        (["CPython==3.11.*"], "3.13.5", False),
        (["CPython==3.11.*", "CPython==3.13.*"], "3.13.5", True),
        ([">=3.8"], "3.13.5", True),
        (["CPython~=3.12"], "3.13.5", True),
        (["CPython~=3.12.1"], "3.13.5", False),
        (["CPython!=3.13.5,>=3.9"], "3.13.5", False),
        (["PyPy>=3.9"], "3.13.5", False),
        (["CPython==3.13"], "3.13.0", True),
    ],
)
def test_interpreter_constraints(constraints, version: str, admitted: bool) -> None:
    assert plan.constraints_admit(constraints, version) is admitted


def test_incompatible_constraints_name_binary_runtime_and_both_versions() -> None:
    with pytest.raises(plan.ImagePlanError) as e:
        plan.check_constraints("src:img", "src:app", ["CPython==3.11.*"], "rt:py313", "3.13.5")
    message = str(e.value)
    assert all(s in message for s in ("src:img", "src:app", "CPython==3.11.*", "rt:py313", "3.13.5"))


def test_launchers_run_module_function_or_console_script() -> None:
    module = plan.launcher_script("/opt/python/bin/python3.13", plan.EntryPointSpec(module="app.main"), "src:app")
    assert module.startswith(b"#!/opt/python/bin/python3.13 -s\n")
    assert b"runpy.run_module('app.main', run_name='__main__', alter_sys=True)" in module
    function = plan.launcher_script("/py", plan.EntryPointSpec(module="app.cli", function="run"), "src:app", ["--x"])
    assert b"from app.cli import run\nsys.exit(run())" in function and b"sys.argv[1:1] = ['--x']" in function
    script = plan.launcher_script("/py", plan.EntryPointSpec(script="gunicorn"), "src:app")
    assert b"console_scripts" in script and b"'gunicorn'" in script
    for source in (module, function, script):
        compile(source, "launcher", "exec")


def test_console_scripts_point_at_the_image_interpreter() -> None:
    scripts = {"tool": b"#!/tmp/pants-sandbox-1/bin/python3.13 -sE\nimport x\n", "data": b"no shebang"}
    relocated = plan.relocate_console_scripts(scripts, "/opt/python/bin/python3.13")
    assert relocated["tool"] == b"#!/opt/python/bin/python3.13 -s\nimport x\n"
    assert relocated["data"] == b"no shebang"


def test_env_defaults_then_pex_env_then_image_env() -> None:
    env = plan.image_env("/opt/python/bin", {"A": "pex", "B": "pex"}, {"B": "image", "LANG": "en_US.UTF-8"})
    assert env == (
        "A=pex",
        "B=image",
        "LANG=en_US.UTF-8",
        "PATH=/app/bin:/opt/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    )


def test_entry_module_must_be_in_the_image() -> None:
    entry = plan.EntryPointSpec(module="hello.main", function="main")
    roots = ("/app", "/opt/python/lib/python3.13/site-packages")
    assert plan.missing_entry_module(entry, ["app/hello/__init__.py", "app/hello/main.py"], roots) is None
    assert plan.missing_entry_module(entry, ["app/bin/hello"], roots) == "hello.main"
    third_party = plan.EntryPointSpec(module="gunicorn.app.wsgiapp", function="run")
    site = ["opt/python/lib/python3.13/site-packages/gunicorn/app/wsgiapp.py"]
    assert plan.missing_entry_module(third_party, site, roots) is None
    native = plan.EntryPointSpec(module="fast")
    assert plan.missing_entry_module(native, ["app/fast.cpython-313-x86_64-linux-gnu.so"], roots) is None
    assert plan.missing_entry_module(plan.EntryPointSpec(script="black"), [], roots) is None


def test_source_date_epoch_option_then_environment_then_default() -> None:
    assert plan.source_date_epoch(5, "7", 1) == 5
    assert plan.source_date_epoch(None, "7", 1) == 7
    assert plan.source_date_epoch(None, None, 1) == 1
    with pytest.raises(plan.ImagePlanError, match="SOURCE_DATE_EPOCH must be a whole number of seconds, but is 'x'"):
        plan.source_date_epoch(None, "x", 1)


def test_deploy_info_names_the_pinned_reference_and_is_stable() -> None:
    args = (
        "src:img",
        "acme/app",
        ("1.0", "latest"),
        "sha256:" + "a" * 64,
        "sha256:" + "b" * 64,
        1234,
        "linux",
        "amd64",
        "src.app/img",
        "src.app/img.tar",
    )
    info = json.loads(plan.deploy_info(*args))
    assert info["pinned_reference"] == "acme/app@sha256:" + "a" * 64
    assert info["references"] == ["acme/app:1.0", "acme/app:latest"] and info["layout"] == "img"
    assert info["schema"] == plan.DEPLOY_INFO_SCHEMA and plan.deploy_info(*args) == plan.deploy_info(*args)
    assert plan.deploy_info_path("src.app/img") == "src.app/img.oci-info.json"
    assert info["archive"] == "img.tar" and json.loads(plan.deploy_info(*args[:-1], None))["archive"] is None


def test_installed_distributions_come_from_dist_info_directories() -> None:
    dirs = [
        "opt/python/lib/python3.13/site-packages/pydantic_core-2.23.4.dist-info",
        "opt/python/lib/python3.13/site-packages/pydantic_core",
        "opt/python/lib/python3.13/site-packages",
        "opt/python/lib/python3.13/site-packages/humanize-4.9.0.dist-info",
    ]
    assert plan.installed_distributions(dirs) == [("humanize", "4.9.0"), ("pydantic_core", "2.23.4")]


def test_init_wraps_the_entrypoint_in_tini() -> None:
    assert plan.image_entrypoint(("/app/bin/app",), True) == ("/usr/bin/tini", "--", "/app/bin/app")
    assert plan.image_entrypoint(("/app/bin/app",), False) == ("/app/bin/app",)


def test_init_needs_tini_in_a_base() -> None:
    assert plan.init_problem("src:img", True, {"rt:base": ["libc6", "tini"]}) is None
    assert plan.init_problem("src:img", False, {"rt:base": ["libc6"]}) is None
    problem = plan.init_problem("src:img", True, {"rt:base": ["libc6"]})
    assert problem is not None
    assert "its base rt:base has no `tini` package" in problem and "init=False" in problem


def test_runtime_build_files_are_headers_config_and_pkgconfig_only() -> None:
    globs = plan.runtime_build_files("/opt/python", "3.13")
    assert "opt/python/include/**" in globs and "opt/python/bin/python3.13-config" in globs
    assert "opt/python/lib/python3.13/config-3.13-*/**" in globs and "opt/python/lib/pkgconfig/**" in globs
    assert not [g for g in globs if "_sysconfigdata" in g or g.endswith("/lib/**")]


def test_image_platforms_are_linux_amd64_and_arm64_normalized() -> None:
    assert str(plan.image_platform("linux/arm64")) == "linux/arm64/v8"
    assert plan.debian_architecture(plan.image_platform("linux/arm64/v8")) == "arm64"
    assert plan.debian_architecture(plan.image_platform("linux/amd64")) == "amd64"
    for bad in ("linux/riscv64", "windows/amd64", "amd64"):
        with pytest.raises(ValueError, match="is not a platform"):
            plan.image_platform(bad)
