"""Runs under the freshly built interpreter, in the sandbox: which stdlib extension modules import?

Standard library only, no Pants imports, compatible with every CPython this plugin builds. Writes a JSON
report and exits 1 when a required module does not import, so the build process fails (and failures are
never cached) instead of silently producing an incomplete runtime.
"""
import argparse
import importlib
import json
import sys


def try_import(name):
    """None if the module imports, else a one-line reason."""
    try:
        importlib.import_module(name)
        return None
    except Exception as e:  # ImportError, or an OSError from a library that fails to load.
        return f"{type(e).__name__}: {e}"


# The sections of CPython's own build summary (setup.py up to 3.11, Tools/build/check_extension_modules.py
# since 3.12) that list extension modules it did not build, each followed by the names in columns.
NOT_BUILT_SECTIONS = {
    "The necessary bits to build these optional modules were not found:": "its headers were not found",
    "Failed to build these modules:": "it failed to build",
    "Following modules built successfully but were removed because they could not be imported:": (
        "it was built but could not be imported"
    ),
}


def not_built_by_cpython(make_log):
    """{module: why} for every module CPython's build summary reports as not built. The list, not a table of known
    modules, is what catches a module a new CPython version adds (3.14's _zstd) when its library is missing."""
    found, reason = {}, None
    for line in make_log.splitlines():
        text = line.strip()
        if text in NOT_BUILT_SECTIONS:
            reason = NOT_BUILT_SECTIONS[text]
        elif not text or text.startswith("To find the necessary bits"):
            reason = None
        elif reason is not None:
            for name in text.split():
                found.setdefault(name, f"CPython's build reports that {reason}")
    return found


def check(required, optional, not_built=None, may_be_missing=()):
    """`not_built`: CPython's own report; a module there that the runtime neither requires nor lists as optional
    (nor `may_be_missing`, the plugin's documented exclusions) counts as a missing required module."""
    results = {name: try_import(name) for name in sorted(set(required) | set(optional))}
    missing_required = {n: results[n] for n in sorted(set(required)) if results[n] is not None}
    unlisted = set(not_built or {}) - set(required) - set(optional) - set(may_be_missing)
    for name in sorted(unlisted):
        missing_required[
            name
        ] = f"{not_built[name]}, and the runtime does not list it in `required_modules` or `optional_modules`"
    return {
        "python": sys.version.split()[0],
        "built": sorted(n for n, err in results.items() if err is None),
        "missing_required": missing_required,
        "missing_optional": {n: results[n] for n in sorted(set(optional)) if results[n] is not None},
        "not_built_by_cpython": dict(sorted((not_built or {}).items())),
    }


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--required", default="")
    parser.add_argument("--optional", default="")
    parser.add_argument("--may-be-missing", default="")
    parser.add_argument("--make-log", help="the build's make output, with CPython's summary of what it built")
    parser.add_argument("--report", required=True)
    args = parser.parse_args(argv)
    not_built = None
    if args.make_log:
        with open(args.make_log, encoding="utf-8", errors="replace") as f:
            not_built = not_built_by_cpython(f.read())
    report = check(args.required.split(), args.optional.split(), not_built, args.may_be_missing.split())
    with open(args.report, "w") as f:
        json.dump(report, f, indent=2, sort_keys=True)
    for name, err in report["missing_required"].items():
        print(f"required module {name} is missing: {err}")
    for name, err in report["missing_optional"].items():
        print(f"optional module {name} is missing: {err}")
    print(f"{len(report['built'])} modules import; {len(report['missing_required'])} required missing")
    return 1 if report["missing_required"] else 0


if __name__ == "__main__":
    sys.exit(main())
