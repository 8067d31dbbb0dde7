from pants_oci.runtime.check_modules import check, not_built_by_cpython
from pants_oci.runtime.modules import missing_modules_message

# The end of a CPython 3.13 make log (Tools/build/check_extension_modules.py's summary), in its own format.
MAKE_LOG_313 = """\
gcc -pthread -shared Modules/_zoneinfo.o -o Modules/_zoneinfo.cpython-313-x86_64-linux-gnu.so
The following modules are *disabled* in configure script:
_sqlite3

The necessary bits to build these optional modules were not found:
_tkinter                  _uuid                     _zstd
To find the necessary bits, look in configure.ac and config.log.

Following modules built successfully but were removed because they could not be imported:
_ctypes

Checked 112 modules (34 built-in, 74 shared, 1 n/a on linux-x86_64, 1 disabled, 3 missing, 1 failed on import)
"""

# setup.py's summary in 3.11.
MAKE_LOG_311 = """\
The necessary bits to build these optional modules were not found:
nis
To find the necessary bits, look in setup.py in detect_modules() for the module's name.

Failed to build these modules:
_lzma
"""


def test_cpythons_own_summary_names_what_it_did_not_build() -> None:
    assert not_built_by_cpython(MAKE_LOG_313) == {
        "_tkinter": "CPython's build reports that its headers were not found",
        "_uuid": "CPython's build reports that its headers were not found",
        "_zstd": "CPython's build reports that its headers were not found",
        "_ctypes": "CPython's build reports that it was built but could not be imported",
    }, "a disabled module is not a missing one"
    assert not_built_by_cpython(MAKE_LOG_311) == {
        "nis": "CPython's build reports that its headers were not found",
        "_lzma": "CPython's build reports that it failed to build",
    }
    assert not_built_by_cpython("Checked 112 modules (0 missing)\n") == {}


def test_a_module_cpython_did_not_build_fails_unless_the_runtime_lists_it() -> None:
    """_zstd stands for a module a new CPython version adds: no table knows it, CPython's report does."""
    report = check(["sys"], ["_uuid"], not_built_by_cpython(MAKE_LOG_313), may_be_missing=["_tkinter"])
    assert set(report["missing_required"]) == {"_zstd", "_ctypes"}
    assert "does not list it in `required_modules` or `optional_modules`" in report["missing_required"]["_zstd"]
    assert "_uuid" not in report["missing_required"], "listed as optional"
    assert "_tkinter" not in report["missing_required"], "left out of every runtime unless asked"
    assert report["not_built_by_cpython"]["_uuid"].startswith("CPython's build reports")


def test_without_a_make_log_only_the_lists_are_checked() -> None:
    assert check(["sys"], [])["missing_required"] == {}


def test_the_message_for_a_module_the_table_does_not_know() -> None:
    reason = check([], [], not_built_by_cpython(MAKE_LOG_313), ["_tkinter", "_uuid", "_ctypes"])["missing_required"]
    message = missing_modules_message(reason, "3.14.0", "src:rt#build-root")
    assert "_zstd: CPython's build reports that its headers were not found" in message
    assert "does not know which Debian -dev package it needs" in message and "config.log" in message
    assert "optional_modules" in message
