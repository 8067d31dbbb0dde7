import platform
import sys

from packaging import tags as packaging_tags  # pants: no-infer-dep (packaging ships with pantsbuild.pants)

from pants_oci.runtime.complete_platform import compatible_tags, glibc_version, marker_environment, platform_tags


def test_platform_tags_follow_packaging_order() -> None:
    tags = list(platform_tags("x86_64", (2, 36)))
    assert tags[0] == "manylinux_2_36_x86_64"
    assert tags.index("manylinux2014_x86_64") == tags.index("manylinux_2_17_x86_64") + 1
    assert tags[-3:] == ["manylinux_2_5_x86_64", "manylinux1_x86_64", "linux_x86_64"]
    assert list(platform_tags("aarch64", (2, 36)))[-3:] == [
        "manylinux_2_17_aarch64",
        "manylinux2014_aarch64",
        "linux_aarch64",
    ]


def test_compatible_tags_order_matches_packaging_sys_tags() -> None:
    tags = compatible_tags((3, 13), ["manylinux_2_36_x86_64", "linux_x86_64"])
    assert tags[:6] == [
        "cp313-cp313-manylinux_2_36_x86_64",
        "cp313-cp313-linux_x86_64",
        "cp313-abi3-manylinux_2_36_x86_64",
        "cp313-abi3-linux_x86_64",
        "cp313-none-manylinux_2_36_x86_64",
        "cp313-none-linux_x86_64",
    ]
    assert tags.index("cp312-abi3-manylinux_2_36_x86_64") < tags.index("py313-none-manylinux_2_36_x86_64")
    assert tags[-2:] == ["py31-none-any", "py30-none-any"]
    assert tags.index("cp313-none-any") == tags.index("py313-none-any") - 1
    assert len(tags) == len(set(tags))


def test_marker_environment_has_no_host_specific_fields() -> None:
    env = marker_environment()
    assert env["python_version"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert "platform_release" not in env and "platform_version" not in env


def test_tags_equal_packaging_sys_tags_for_the_running_interpreter() -> None:
    # The reference implementation that pip and pex use, on the interpreter running this test.
    ours = compatible_tags(sys.version_info, list(platform_tags(platform.machine(), glibc_version())))
    assert ours == [str(tag) for tag in packaging_tags.sys_tags()]
