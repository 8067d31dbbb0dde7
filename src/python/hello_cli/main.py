"""hello-cli: a small command-line tool that reports on the interpreter it runs on.

It exists so that `./pants package ::` and `./pants test ::` do real work from the first commit, and it is
the app that later images package: what it prints shows which runtime, user and filesystem it ran with.
"""
import argparse
import os
import platform
import sys
import sysconfig
from typing import List, Optional

import humanize


def describe_runtime() -> List[str]:
    """Facts about the running interpreter, one 'key: value' line each."""
    return [
        f"python: {platform.python_implementation()} {platform.python_version()}",
        f"executable: {sys.executable}",
        f"prefix: {sys.prefix}",
        f"shared libpython: {bool(sysconfig.get_config_var('Py_ENABLE_SHARED'))}",
        f"uid: {os.getuid()}",
    ]


def greeting(name: str, size_bytes: int) -> str:
    return f"Hello, {name}! This greeting weighs {humanize.naturalsize(size_bytes, binary=True)}."


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="hello-cli", description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", default="world", help="who to greet (default: world)")
    parser.add_argument("--runtime", action="store_true", help="also print facts about the interpreter")
    args = parser.parse_args(argv)
    text = greeting(args.name, len(args.name.encode()) * 1024)
    print(text)
    if args.runtime:
        print("\n".join(describe_runtime()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
