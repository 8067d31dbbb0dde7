from pants_oci.runtime.modules import (
    default_required_modules,
    missing_modules_message,
    resolve_module_sets,
    runtime_packages_for,
)


def test_default_required_modules_cover_the_libraries_people_lose() -> None:
    required = default_required_modules("3.13.5")
    for module in (
        "_ssl",
        "_hashlib",
        "_sqlite3",
        "_ctypes",
        "zlib",
        "_bz2",
        "_lzma",
        "readline",
        "_curses",
        "_uuid",
        "_dbm",
        "_gdbm",
        "_decimal",
        "pyexpat",
    ):
        assert module in required
    assert "_tkinter" not in required  # trimmed by default


def test_modules_follow_the_version() -> None:
    assert "_crypt" in default_required_modules("3.11.2") and "_crypt" not in default_required_modules("3.13.5")
    assert "_sha2" in default_required_modules("3.13.5") and "_sha2" not in default_required_modules("3.11.2")
    assert "_sha256" in default_required_modules("3.11.2")


def test_optional_modules_leave_the_required_list() -> None:
    required, optional = resolve_module_sets("3.13.5", None, ["_gdbm", "_dbm"])
    assert "_gdbm" not in required and "_dbm" not in required
    assert optional == ["_dbm", "_gdbm"]
    required, _ = resolve_module_sets("3.13.5", ["_ssl", "zlib"], [])
    assert required == ["_ssl", "zlib"]


def test_missing_module_message_names_dev_packages_and_fix() -> None:
    message = missing_modules_message(
        {"_gdbm": "ModuleNotFoundError: No module named '_gdbm'", "_ssl": "ModuleNotFoundError: x"}, "3.13.5"
    )
    assert "CPython 3.13.5 was built without 2 required stdlib module(s)" in message
    assert "_gdbm: needs the headers from libgdbm-dev" in message
    assert "_ssl: needs the headers from libssl-dev" in message
    assert "apt-get install libgdbm-dev libssl-dev" in message
    assert "optional_modules" in message


def test_missing_module_without_outside_library_points_at_the_log() -> None:
    message = missing_modules_message({"_json": "ImportError: boom"}, "3.13.5")
    assert "needs no outside library" in message and "apt-get" not in message


def test_runtime_packages_for_built_modules() -> None:
    assert runtime_packages_for(["_ssl", "_hashlib", "_sqlite3", "_json"], "bookworm") == ["libsqlite3-0", "libssl3"]
    assert runtime_packages_for(["_ssl", "_sqlite3"], "trixie") == ["libsqlite3-0", "libssl3t64"]
