import pytest

from pants_oci.runtime import build_plan, configure_flags, cross


def _spec(optimizations: str = "pgo+lto") -> build_plan.RuntimeSpec:
    return build_plan.make_spec("src:py", "3.13.5", optimizations, "/opt/python", "unchecked-hash", (), None, (), ())


def test_the_build_machine_is_native_and_unknown_architectures_are_named() -> None:
    assert cross.cross_target("amd64") is None
    arm64 = cross.cross_target("arm64")
    assert arm64 is not None and arm64.triplet == "aarch64-linux-gnu"
    with pytest.raises(ValueError, match="'riscv64' is not one the plugin builds runtimes for: amd64, arm64"):
        cross.cross_target("riscv64")


@pytest.mark.parametrize(
    "asked, built", [("pgo+lto+bolt", "lto"), ("pgo+lto", "lto"), ("pgo", "none"), ("lto", "lto"), ("none", "none")]
)
def test_cross_builds_drop_pgo_and_keep_the_rest(asked: str, built: str) -> None:
    assert cross.cross_optimizations(asked) == built
    assert build_plan.cross_spec(_spec(asked)).optimizations == built


def test_cross_build_root_has_the_cross_compiler_qemu_and_the_targets_dev_packages() -> None:
    packages = build_plan.cross_build_root_packages(_spec("none"), "arm64", ["libb2-dev"])
    assert {"gcc-aarch64-linux-gnu", "qemu-user-static", "libc6-dev:arm64", "libssl-dev:arm64"} <= set(packages)
    assert {"gcc", "make", "libb2-dev"} <= set(packages)  # the build machine's tools, and the target's extras
    assert "libssl-dev" not in packages  # the native build has its own build root
    native = build_plan.build_root_packages(_spec("none"))
    dev = {p for p in native if p.endswith("-dev") and p != "libc6-dev"}
    assert {f"{p}:arm64" for p in dev} <= set(packages)


def test_arm64_hardening_uses_branch_protection_instead_of_cet() -> None:
    native = " ".join(build_plan.all_configure_args(_spec("none")))
    arm64 = " ".join(build_plan.all_configure_args(_spec("none"), "arm64"))
    assert "-fcf-protection" in native and "-mbranch-protection" not in native
    assert "-mbranch-protection=standard" in arm64 and "-fcf-protection" not in arm64
    # The native arguments are what they were before cross builds existed: the same cache keys.
    assert build_plan.all_configure_args(_spec("none")) == configure_flags.configure_args("3.13.5", "none")


def test_cross_env_names_triplets_build_python_and_emulator() -> None:
    env = build_plan.build_env(_spec("none"), "source/x.tar.xz", ("/usr/bin",), None, "arm64", "bp/bin/python3.13")
    assert env["CPYTHON_CROSS_HOST"] == "aarch64-linux-gnu"
    assert env["CPYTHON_CROSS_BUILD"] == "x86_64-linux-gnu"
    assert env["CPYTHON_BUILD_PYTHON"] == "bp/bin/python3.13"
    assert env["CPYTHON_TARGET_EMULATOR"] == "qemu-aarch64-static"
    assert "ac_cv_file__dev_ptmx=yes" in env["CPYTHON_CONFIG_SITE"]
    native = build_plan.build_env(_spec("none"), "source/x.tar.xz", ("/usr/bin",))
    assert not any(k.startswith("CPYTHON_CROSS") for k in native)
