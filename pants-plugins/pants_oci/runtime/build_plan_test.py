from typing import Any, Dict

import pytest

from pants_oci.runtime.build_plan import (
    BUILD_ROOT_PATH,
    RuntimeConfigError,
    all_configure_args,
    build_env,
    build_root_argv,
    build_root_packages,
    download_failure_message,
    dropped_modules,
    make_spec,
    resolve_release,
    runtime_debian_packages,
    sandbox_problem,
    source_urls,
    toolchain_problem,
)
from pants_oci.runtime.known_versions import KNOWN_RELEASES
from pants_oci.runtime.subsystem import DEBIAN_SOURCE_TEMPLATE, PYTHON_ORG_TEMPLATE


def _spec(**overrides):
    fields: Dict[str, Any] = dict(
        address="src:rt",
        version="3.13.5",
        optimizations="none",
        prefix="/opt/python",
        bytecode="unchecked-hash",
        include=(),
        required=None,
        optional=(),
        extra_configure_args=(),
    )
    fields.update(overrides)
    return make_spec(**fields)


def test_known_release_comes_from_the_table() -> None:
    release = resolve_release("src:rt", "3.13.5", None, None, None)
    assert release.filename == "Python-3.13.5.tar.xz" and release.size == 22856016
    assert resolve_release("src:rt", "3.11.2", None, None, None).filename == "Python-3.11.2.tgz"


def test_table_entries_are_well_formed() -> None:
    for version, release in KNOWN_RELEASES.items():
        assert release.version == version and len(release.sha256) == 64 and release.size > 10_000_000
        assert release.filename in (f"Python-{version}.tar.xz", f"Python-{version}.tgz")


def test_unknown_version_without_pin_says_how_to_pin() -> None:
    with pytest.raises(RuntimeConfigError, match=r"'version' field in target src:rt is '3.12.99'.*`sha256` and `size`"):
        resolve_release("src:rt", "3.12.99", None, None, None)


def test_half_a_pin_is_an_error() -> None:
    with pytest.raises(RuntimeConfigError, match="sets `sha256` but not `size`"):
        resolve_release("src:rt", "3.12.99", "a" * 64, None, None)


def test_own_pin_builds_any_release() -> None:
    release = resolve_release("src:rt", "3.12.99", "a" * 64, 123, None)
    assert (release.filename, release.sha256, release.size) == ("Python-3.12.99.tar.xz", "a" * 64, 123)


def test_source_urls_fill_templates_in_order_local_files_first() -> None:
    release = KNOWN_RELEASES["3.13.5"]
    templates = [PYTHON_ORG_TEMPLATE, "file:///m/{major_minor}/{filename}", "http://x/{version}/{filename}"]
    urls = source_urls([*templates, "file:///n/{filename}", PYTHON_ORG_TEMPLATE], release)
    assert urls == [
        "file:///m/3.13/Python-3.13.5.tar.xz",
        "file:///n/Python-3.13.5.tar.xz",
        "https://www.python.org/ftp/python/3.13.5/Python-3.13.5.tar.xz",
        "http://x/3.13.5/Python-3.13.5.tar.xz",
    ]


def test_debian_template_expands_per_archive_and_vanishes_without_one() -> None:
    release = KNOWN_RELEASES["3.11.2"]
    templates = [PYTHON_ORG_TEMPLATE, DEBIAN_SOURCE_TEMPLATE]
    assert source_urls(templates, release, ["http://a/debian", "http://b/ubuntu"]) == [
        "https://www.python.org/ftp/python/3.11.2/Python-3.11.2.tgz",
        "http://a/debian/pool/main/p/python3.11/python3.11_3.11.2.orig.tar.gz",
        "http://b/ubuntu/pool/main/p/python3.11/python3.11_3.11.2.orig.tar.gz",
    ]
    assert source_urls(templates, release, []) == ["https://www.python.org/ftp/python/3.11.2/Python-3.11.2.tgz"]


def test_bad_template_is_named() -> None:
    with pytest.raises(RuntimeConfigError, match=r"bad template 'https://x/\{tag\}'"):
        source_urls(["https://x/{tag}"], KNOWN_RELEASES["3.13.5"])


def test_download_failure_lists_every_url_and_error() -> None:
    message = download_failure_message(
        "src:rt", KNOWN_RELEASES["3.13.5"], [("https://a/x", "connection refused"), ("file:///m/x", "not found")]
    )
    assert "https://a/x\n    connection refused" in message and "file:///m/x\n    not found" in message
    assert KNOWN_RELEASES["3.13.5"].sha256 in message and "fill_cpython_mirror.py" in message


def test_build_env_is_deterministic_and_complete() -> None:
    env = build_env(_spec(), "source/Python-3.13.5.tar.xz", ["/usr/bin", "/bin"], "f" * 64)
    assert env == build_env(_spec(), "source/Python-3.13.5.tar.xz", ["/usr/bin", "/bin"], "f" * 64)
    assert env["PATH"] == "/usr/bin:/bin" and env["CPYTHON_TOOLCHAIN_FINGERPRINT"] == "f" * 64
    assert env["CPYTHON_KEEP"] == "" and "_ssl" in env["CPYTHON_REQUIRED_MODULES"].split()
    assert "--enable-shared" in env["CPYTHON_CONFIGURE_ARGS"].splitlines()


def test_include_pip_and_tests_change_the_flags() -> None:
    args = all_configure_args(_spec(include=("pip", "tests")))
    assert "--with-ensurepip=install" in args and "--without-ensurepip" not in args
    assert "--disable-test-modules" not in args
    env = build_env(_spec(include=("pip", "tkinter")), "s", ["/bin"], "f")
    assert env["CPYTHON_KEEP"] == "ensurepip tkinter"


def test_missing_compiler_is_a_clear_error() -> None:
    probe = "tool make GNU Make 4.3\nmissing-tool cc\nmissing-tool pkg-config\n"
    problem = toolchain_problem(probe, ["/usr/bin"])
    assert problem is not None
    assert problem.startswith("Cannot build CPython: cc not found on the build PATH /usr/bin")
    assert "build-essential" in problem
    assert toolchain_problem("missing-tool pkg-config\n", ["/usr/bin"]) is None


def test_requiring_tkinter_without_including_it_is_caught_before_compiling() -> None:
    with pytest.raises(RuntimeConfigError, match=r"requires _tkinter, but tkinter is trimmed.*include=\[\"tkinter\"\]"):
        _spec(required=["_ssl", "_tkinter"])
    assert "_tkinter" in _spec(required=["_tkinter"], include=("tkinter",)).required_modules


def test_the_debian_packages_a_runtime_loads_follow_from_its_fields() -> None:
    py313 = runtime_debian_packages(_spec(), "bookworm")
    assert py313 == [
        "libbz2-1.0",
        "libc6",
        "libexpat1",
        "libffi8",
        "libgdbm-compat4",
        "libgdbm6",
        "liblzma5",
        "libncursesw6",
        "libreadline8",
        "libsqlite3-0",
        "libssl3",
        "libuuid1",
        "zlib1g",
    ]
    assert "libcrypt1" in runtime_debian_packages(_spec(version="3.11.2"), "bookworm"), "_crypt exists until 3.13"
    assert "libssl3" in runtime_debian_packages(_spec(required=["zlib"]), "bookworm"), "a smaller list checks less"
    assert "libgdbm6" in runtime_debian_packages(_spec(required=["zlib"], optional=["_gdbm"]), "bookworm")
    assert "libtk8.6" in runtime_debian_packages(_spec(include=("tkinter",), optional=["_tkinter"]), "bookworm")


def test_debian_13_names_the_libraries_of_its_time_t_transition() -> None:
    trixie = runtime_debian_packages(_spec(), "trixie")
    assert {"libssl3t64", "libreadline8t64", "libgdbm6t64", "libgdbm-compat4t64"} <= set(trixie)
    assert not {"libssl3", "libreadline8", "libgdbm6", "libgdbm-compat4"} & set(trixie)
    assert {"libsqlite3-0", "libffi8", "libuuid1", "libncursesw6", "zlib1g"} <= set(trixie), "not renamed"
    assert runtime_debian_packages(_spec(), "bookworm-security") == runtime_debian_packages(_spec(), "bookworm")
    assert runtime_debian_packages(_spec(), "sid") == trixie, "later suites keep the new names"


def test_modules_nothing_declared_are_dropped_and_say_so_in_the_key() -> None:
    assert dropped_modules(_spec()) == []
    assert "CPYTHON_DROP_MODULES" not in build_env(_spec(), "t", ["/bin"], "f" * 64), "3.13's cache key is unchanged"
    assert dropped_modules(_spec(version="3.11.2")) == ["nis"], "3.11 would build nis against libnsl"
    assert dropped_modules(_spec(version="3.11.2", optional=["nis"])) == []
    assert dropped_modules(_spec(required=["zlib"])) == [], "a smaller list checks less; it drops nothing"


def test_unknown_module_names_are_caught_before_compiling() -> None:
    with pytest.raises(RuntimeConfigError) as e:
        _spec(optional=["_nosuchmod", "_gdbm"])
    assert (
        "The 'optional_modules' field in target src:rt names '_nosuchmod', which is not a stdlib extension "
        "module of CPython 3.13.5" in str(e.value)
    )
    with pytest.raises(RuntimeConfigError, match="'required_modules' field .* names '_crypt'"):
        _spec(required=["_ssl", "_crypt"])  # removed in 3.13


def test_configure_arguments_the_plugin_manages_are_refused_with_the_field_to_use() -> None:
    with pytest.raises(RuntimeConfigError) as e:
        _spec(extra_configure_args=["--prefix=/usr", "--with-computed-gotos"])
    message = str(e.value)
    assert (
        "The 'extra_configure_args' field in target src:rt has '--prefix=/usr', which the plugin sets itself: "
        "the install prefix comes from the `prefix` field" in message
    )
    _spec(extra_configure_args=["--with-computed-gotos"])


def test_a_source_that_does_not_match_its_pin_is_named_as_such() -> None:
    release = KNOWN_RELEASES["3.13.5"]
    message = download_failure_message(
        "src:rt",
        release,
        [
            ("https://a/x", "Wrong digest for downloaded file: want Digest(...) got Digest(...)"),
            ("file:///m/x", "not found"),
        ],
    )
    assert "does not match its pin" in message and "https://a/x served other bytes" in message
    assert "pin is wrong" in message and "tampered" in message and "make one of them reachable" not in message


def test_build_root_has_the_toolchain_and_the_dev_package_of_every_module() -> None:
    packages = build_root_packages(_spec())
    assert {"gcc", "make", "libc6-dev", "pkg-config", "binutils", "xz-utils"} <= set(packages)
    assert {"libssl-dev", "libgdbm-dev", "libgdbm-compat-dev", "libffi-dev", "uuid-dev"} <= set(packages)
    # Not what the runtime must not have: tkinter is trimmed, so no tk-dev (and no X11 in the build root).
    assert "tk-dev" not in packages and packages == sorted(packages)
    assert "tk-dev" in build_root_packages(_spec(include=("tkinter",)))
    assert "libb2-dev" in build_root_packages(_spec(), extra=["libb2-dev"])


def test_build_env_of_a_build_root_has_no_host_fingerprint() -> None:
    env = build_env(_spec(), "source/x.tar.xz", BUILD_ROOT_PATH)
    assert "CPYTHON_TOOLCHAIN_FINGERPRINT" not in env and env["PATH"] == "/usr/sbin:/usr/bin:/sbin:/bin"


def test_build_root_argv_names_no_host_path() -> None:
    argv = build_root_argv("buildroot", ["/bin/bash", "build_cpython.sh", "{pants_concurrency}"])
    assert argv[0] == "/usr/bin/env" and "--map-root-user" in argv and "--net" in argv
    assert argv[argv.index("enter_build_root.sh") + 1 :] == [
        "buildroot",
        "/bin/bash",
        "build_cpython.sh",
        "{pants_concurrency}",
    ]


def test_sandbox_problem_names_the_cause_and_the_fixes() -> None:
    assert sandbox_problem("src:rt", "sysctl /proc/sys/user/max_user_namespaces 96365\nok\n") is None
    apparmor = sandbox_problem(
        "src:rt",
        "sysctl /proc/sys/kernel/apparmor_restrict_unprivileged_userns 1\n"
        "unshare-failed unshare: write failed /proc/self/uid_map: Operation not permitted",
    )
    assert apparmor is not None
    assert "Cannot compile src:rt in its build root: AppArmor forbids" in apparmor
    assert "kernel.apparmor_restrict_unprivileged_userns=0" in apparmor and 'toolchain="host"' in apparmor
    disabled = sandbox_problem("src:rt", "sysctl /proc/sys/user/max_user_namespaces 0\nunshare-failed no space")
    assert disabled is not None
    assert "user.max_user_namespaces=0" in disabled and "sysctl -w user.max_user_namespaces=15000" in disabled
    seccomp = sandbox_problem("src:rt", "unshare-failed unshare: unshare failed: Operation not permitted")
    assert seccomp is not None
    assert "unshare failed: Operation not permitted" in seccomp and "seccomp" in seccomp
    missing = sandbox_problem("src:rt", "missing-tool unshare\nunshare-failed sh: unshare: not found")
    assert missing is not None
    assert "unshare not found" in missing and "util-linux" in missing
