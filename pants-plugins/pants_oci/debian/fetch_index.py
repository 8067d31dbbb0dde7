"""Runs in a sandboxed process during lock generation: download a suite's Packages index and decompress it.

Standard library only. Lock generation is the one step that reads the archive's moving index; builds read
only the lock. Usage: fetch_index.py URL OUTPUT
"""
import lzma
import sys
import urllib.request


def main() -> int:
    url, output = sys.argv[1], sys.argv[2]
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            compressed = response.read()
    except OSError as e:
        print(f"could not download {url}: {e}", file=sys.stderr)
        return 1
    with open(output, "wb") as f:
        f.write(lzma.decompress(compressed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
