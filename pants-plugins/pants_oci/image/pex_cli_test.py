from pants_oci.image import pex_cli

FIX = pex_cli.pants_toml_lines("ab" * 32, 4_000_000)


def test_a_312_runtime_with_pants_default_pex_is_refused_with_the_lines_to_add() -> None:
    problem = pex_cli.pex_cli_problem("src:img", "src:py313", "3.13.5", "v2.1.137", FIX)
    assert problem is not None
    assert "The image src:img runs CPython 3.13.5 (the runtime src:py313)" in problem
    assert f"need pex {pex_cli.MINIMUM} or newer, but Pants is configured to run pex 2.1.137" in problem
    assert f'[pex-cli]\nversion = "v{pex_cli.MINIMUM}"\nknown_versions = [\n' in problem
    assert f'  "v{pex_cli.MINIMUM}|linux_x86_64|{"ab" * 32}|4000000",\n' in problem
    assert "3.12" in (pex_cli.pex_cli_problem("i", "r", "3.12.0", "2.99.0", FIX) or "")


def test_new_enough_pex_older_runtimes_and_custom_versions_pass() -> None:
    assert pex_cli.pex_cli_problem("i", "r", "3.13.5", f"v{pex_cli.MINIMUM}", FIX) is None
    assert pex_cli.pex_cli_problem("i", "r", "3.13.5", "v2.200.0", FIX) is None
    assert pex_cli.pex_cli_problem("i", "r", "3.13.5", "v3.0.0", FIX) is None
    # Pants 2.17's default pex runs 3.11 and older runtimes: nothing to add.
    assert pex_cli.pex_cli_problem("i", "r", "3.11.2", "v2.1.137", FIX) is None
    assert pex_cli.pex_cli_problem("i", "r", "3.9.2", "v2.1.137", FIX) is None
    # A custom build whose version is not a release number is the repository's own choice.
    assert pex_cli.pex_cli_problem("i", "r", "3.13.5", "v2.100.5-custom", FIX) is None


def test_the_lines_name_every_platform_pants_knows() -> None:
    entries = [line.strip().strip('",') for line in FIX.splitlines() if line.startswith('  "')]
    assert [e.split("|")[1] for e in entries] == ["linux_x86_64", "linux_arm64", "macos_x86_64", "macos_arm64"]
    assert all(len(e.split("|")) == 4 for e in entries)


def test_a_pex_that_cannot_start_on_the_container_tools_python_is_refused_for_any_runtime() -> None:
    problem = pex_cli.pex_cli_problem("src:img", "src:py311", "3.11.2", "v2.1.137", FIX, tools_python="3.13")
    assert problem and "the Python of [container-tools] (3.13" in problem and FIX in problem
    assert '[container-tools].suite = "bookworm"' in problem and "Nothing was built." in problem
    assert pex_cli.pex_cli_problem("i", "r", "3.11.2", "v2.1.137", FIX, tools_python="3.11") is None
    assert pex_cli.pex_cli_problem("i", "r", "3.11.2", f"v{pex_cli.MINIMUM}", FIX, tools_python="3.13") is None
