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


def check(required, optional):
    results = {name: try_import(name) for name in sorted(set(required) | set(optional))}
    return {
        "python": sys.version.split()[0],
        "built": sorted(n for n, err in results.items() if err is None),
        "missing_required": {n: results[n] for n in sorted(set(required)) if results[n] is not None},
        "missing_optional": {n: results[n] for n in sorted(set(optional)) if results[n] is not None},
    }


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--required", default="")
    parser.add_argument("--optional", default="")
    parser.add_argument("--report", required=True)
    args = parser.parse_args(argv)
    report = check(args.required.split(), args.optional.split())
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
