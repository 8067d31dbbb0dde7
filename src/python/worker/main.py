"""worker: a batch worker that shares the textstats library with http_api.

Reads JSON-lines jobs (`{"id": ..., "text": ...}`) from stdin or the files named on the command line and
writes one JSON-lines result per job to stdout (`{"id": ..., "stats": {...}}`, or `{"id": ..., "error": ...}`
for a bad job). A bad job never stops the batch; the exit code is 1 if any job failed.
"""
import argparse
import json
import sys
from typing import IO, Iterable, Iterator, List, Optional

from textstats.stats import text_stats


def process(lines: Iterable[str]) -> Iterator[dict]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            job = json.loads(line)
            yield {"id": job.get("id", number), "stats": text_stats(str(job["text"]))}
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            yield {"id": number, "error": f"line {number}: {type(e).__name__}: {e}"}


def run(inputs: List[IO[str]], out: IO[str]) -> int:
    failed = False
    for stream in inputs:
        for result in process(stream):
            failed |= "error" in result
            out.write(json.dumps(result, sort_keys=True) + "\n")
    return 1 if failed else 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="worker", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="JSON-lines job files (default: stdin)")
    args = parser.parse_args(argv)
    inputs = [open(path, encoding="utf-8") for path in args.files] or [sys.stdin]
    try:
        return run(inputs, sys.stdout)
    finally:
        for stream in inputs:
            if stream is not sys.stdin:
                stream.close()
