"""A sandbox tool for tests only, written as docs/ARCHITECTURE.md's recipe "Add a sandbox tool" says (step 1):
standard library and stdlib-only plugin modules, `main(argv) -> int`, the exit protocol of exits.py. sandbox_test.py
runs it through the seam (step 2). Not in the wheel (pants_oci/BUILD): only tests name it.

Usage: example_tool.py INPUT OUTPUT -- writes INPUT's lines to OUTPUT, numbered.
"""
import sys
from pathlib import Path
from typing import List

from pants_oci import exits


def main(argv: List[str]) -> int:
    parser = exits.ToolArgumentParser(prog="example_tool.py")
    parser.add_argument("input", type=Path)
    parser.add_argument("output", type=Path)
    args = parser.parse_args(argv)
    if not args.input.is_file():
        return exits.explained(f"{args.input}: no such file; give a text file to number")
    lines = args.input.read_text().splitlines()
    args.output.write_text("".join(f"{n}: {line}\n" for n, line in enumerate(lines, 1)))
    return exits.EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
