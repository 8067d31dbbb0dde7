#!/usr/bin/env python3
"""The project's one benchmark runner. Results go to docs/benchmarks.md (paste the printed table).

    python3 benchmarks/run.py runtime --levels none --runs 3
    python3 benchmarks/run.py runtime --levels pgo+lto --runs 1
    python3 benchmarks/run.py image --runs 3
    python3 benchmarks/run.py scale --services 10 25 50
    python3 benchmarks/run.py inner-loop --runs 5 --before <commit>
    python3 benchmarks/run.py lock --runs 3
    python3 benchmarks/run.py build-root --runs 2
    python3 benchmarks/run.py cross --levels none pgo+lto --runs 3
    python3 benchmarks/run.py image-size
    python3 benchmarks/run.py remote-cache
    python3 benchmarks/run.py publish --layer-mb 1024 --services 10
    python3 benchmarks/run.py interpreters --rounds 3
    python3 benchmarks/run.py pgo --baseline "pgo+lto before=<an older runtime's .tar.gz>"
    python3 benchmarks/run.py pgo --levels --baseline "none=<archive>" --baseline "pgo+lto=<archive>"

`runtime` measures, for each optimization level, a cold `./pants package` of a python_runtime (process cache
off, so the compile really runs) against a plain `./configure && make && make install` with the same flags
outside Pants, alternating the two in the same run so machine noise hits both alike; then the warm (cached)
`./pants package`; the trimmed tree's size against the untrimmed `make install`; and interpreter start-up
with and without the shipped bytecode. Medians over --runs. The source tarball comes from the mirror that
PANTS_CPYTHON_BUILD_SOURCE_URL_TEMPLATES names (as in .ci/run) or python.org.

`image` measures the example image (src/python/hello_cli:hello-cli-image) in a scratch clone of the repo:
a cold `./pants package` (empty local store and named caches, so the runtime compiles and wheels download)
alternating with a rebuild after a one-line app change in the same store; a rebuild with no change; the
image's compressed and uncompressed size per layer; and container start-to-first-output (runc, read-only
root) of the app against bare `python -c` on the same runtime, in the same container.

`image-size` packages the example image with the caches as they are, once with gzip layers and once with zstd
layers (`--oci-image-layer-compression`, the plugin's own zstd at level 19), and prints each layer's file bytes
and blob sizes, and the time to unpack the whole image each way (decompress with the zstd program, which reads
both formats, alone and piped into `tar -x`; median of --rounds alternating rounds).

`scale` generates a synthetic monorepo of N services (alternating the two example runtimes, half with a
third-party requirement, all sharing the textstats library) in a scratch clone, and times `./pants package`
of all N images cold (their layers never built before; the runtimes and base already in the cache, as on a CI
machine with a shared cache) and warm (again, nothing changed; median of --warm-runs), with Pants' peak memory
(max RSS; the highest of the warm runs); then, at the
largest N, a one-line change to the shared library, counting the processes that ran (Pants' stats).

`lock` times `./pants generate-lockfiles` of the example Debian base in a scratch clone, each run with an empty
local store (so nothing is cached, and a compile, if locking needed one, would really run), median of --runs; it
also counts the CPython compiles in Pants' log (there must be none).

`inner-loop` measures the developer's loop in a scratch clone with warm caches: a one-line change to the example
app, then `./pants package` of its image, until the new image is in dist/; with the Pants daemon running (started
and warmed first), the same without the OCI archive (`--no-oci-image-write-archive`), and without the daemon
(`--no-pantsd`); with --before, also that commit in a clone of its own with its own daemon. Each round runs every
variant once, in an order that rotates from round to round; median of --runs rounds.

`build-root` measures the build root in a scratch clone, per run from an empty local store: fetching its .debs and
unpacking them (cold, from Pants' log: first .deb fetch to the unpack's completion), then, in that store with the
process cache off, the same runtime compiled with the host's toolchain (`toolchain="host"`, as before build roots)
and in the build root again (warm: the .debs are in the store, the unpack runs again), alternating so machine
noise hits both alike; compile process seconds from Pants' log; and the store's size after the cold run next to
an empty store given the host-toolchain build alone.

`cross` packages a runtime with `architectures=["amd64", "arm64"]` with the process cache off, per optimization
level, and takes from Pants' log the native compile (with its PGO step) and the arm64 cross compile of the same
run, side by side: medians and the median ratio.

`remote-cache` starts BuildGrid on 127.0.0.1 and packages the example image three times, each time with an empty
local store and the local cache off: once writing to the remote cache (every process runs), once reading from
it with the same home directory, and once as a second machine would (another HOME and XDG_CACHE_HOME, so another
launcher bootstrap, Pants interpreter path and named caches; another checkout path), with Pants' own counters.

`publish` pushes synthetic OCI layouts (built with the plugin's model code; random, incompressible layers) to
docker-registry from the test tools' Debian lock on 127.0.0.1, running the registry client as `./pants publish`
does (`python -m pants_oci.oci.registry`), with this checkout's client and with an older commit's (--before):
the peak RSS and time of pushing one image with one --layer-mb layer, and the time of publishing --services
images that share a base and a runtime layer, first into empty repositories, then --runs times again, each
after every app layer changed (only app layers, configs and manifests move; median), with the tool's own count
of what the last image's push moved. The two clients take turns, each with its own registry.

`interpreters` compiles this plugin's CPython 3.13.5 at `none`, `pgo+lto` and `pgo+lto+bolt` and its 3.11.2 at
`pgo+lto` (build roots on Debian 13 and 12), unpacks Debian's own python3.13 (trixie) and python3.11 (bookworm)
from their pinned .debs as `debian_tools` targets, and runs a fixed subset of pyperformance (PYPERFORMANCE_SUBSET,
the pinned wheels from PyPI; pyperf with --processes worker processes of 3 values each) on all of them. Every
interpreter runs with the dynamic loader and libraries of its version's Debian tree, so the two builds of a version
share one libc, OpenSSL, expat and sqlite. In each of --rounds rounds every benchmark runs on every interpreter in
turn, in an order that rotates from round to round. The table shows the median time per benchmark and, in
parentheses, the speed relative to Debian's build of the same version (Debian's time over this one's: above 1 is
faster), the median of the per-round ratios; then the geometric mean of those ratios. `--baseline NAME=ARCHIVE`
adds a runtime packaged earlier (for example before a change to the training), run the same way.

`pgo` compiles CPython at `none` and at `pgo+lto` (cold, process cache off; compile seconds from Pants' log, the
profile step and the optimized build together), then runs a micro-benchmark suite on each interpreter and on any
--baseline archive (for example a runtime packaged by an older version of the plugin; `--levels` with no level
compares archives only, the first one being the reference), in rounds that take every
interpreter in turn, so machine noise hits them alike. Each benchmark is the best of 15 repetitions inside the
interpreter; the table shows per-round medians, and each interpreter's speed-up over `none` is the median of the
per-round ratios. fib, json, re and sort resemble the PGO training; difflib and csv are not in it.
"""
import argparse
import ast
import hashlib
import json
import math
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "pants-plugins"))

from pants_oci.oci import model  # noqa: E402
from pants_oci.oci import registry as registry_client  # noqa: E402
from pants_oci.runtime import configure_flags  # noqa: E402
from pants_oci.runtime.known_versions import KNOWN_RELEASES  # noqa: E402

# Not under benchmarks/results/, which Pants ignores: Pants must see the scratch BUILD file.
SCRATCH = REPO / "benchmarks" / "scratch"
VERSION = "3.13.5"


def timed(fn: Callable[[], None]) -> float:
    start = time.monotonic()
    fn()
    return time.monotonic() - start


def run(cmd: List[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def source_tarball() -> Path:
    release = KNOWN_RELEASES[VERSION]
    configured = os.environ.get("PANTS_CPYTHON_BUILD_SOURCE_URL_TEMPLATES", "")
    for template in ast.literal_eval(configured.lstrip("+")) if configured else []:
        url = template.format(version=VERSION, major_minor=release.major_minor, filename=release.filename)
        if url.startswith("file://") and Path(url[7:]).is_file():
            return Path(url[7:])
    raise SystemExit("Set PANTS_CPYTHON_BUILD_SOURCE_URL_TEMPLATES to a file:// mirror (see .ci/run).")


def write_target(level: str) -> str:
    SCRATCH.mkdir(parents=True, exist_ok=True)
    name = "rt_" + level.replace("+", "_")
    (SCRATCH / "BUILD").write_text(
        "\n".join(
            f'python_runtime(name="rt_{lv.replace("+", "_")}", version="{VERSION}", optimizations="{lv}")'
            for lv in configure_flags.OPTIMIZATIONS
        )
    )
    return f"{SCRATCH.relative_to(REPO)}:{name}"


def pants_package(target: str, cold: bool) -> float:
    """Run `./pants package`; return the seconds its compile process(es) took, from Pants' own log lines."""
    flags = ["--no-pantsd"] + (["--no-local-cache"] if cold else [])
    result = run([str(REPO / "pants"), *flags, "package", target], cwd=REPO)
    return process_seconds(result.stderr)


def process_seconds(log: str) -> float:
    """Sum of Starting/Completed intervals of the CPython build processes (profile + compile steps)."""

    def seconds(stamp: str) -> float:
        h, m, s = stamp.split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)

    starts, total = {}, 0.0
    for stamp, kind, what in re.findall(
        r"^(\d\d:\d\d:\d\d\.\d+) \[INFO\] (Starting|Completed): ((?:Compiling|Profiling|Cross-compiling) CPython.*)$",
        log,
        re.M,
    ):
        if kind == "Starting":
            starts[what] = seconds(stamp)
        elif what in starts:
            total += seconds(stamp) - starts.pop(what)
    return total


def plain_build(level: str, tarball: Path) -> Dict[str, int]:
    """configure && make && make install with the plugin's flags, outside Pants. Returns sizes."""
    work = Path(tempfile.mkdtemp(prefix="plain-cpython-"))
    try:
        src = work / "src"
        src.mkdir()
        run(["tar", "-xf", str(tarball), "-C", str(src), "--strip-components=1"])
        args = [
            a.replace(configure_flags.PREFIX_MAP_PLACEHOLDER, f"-ffile-prefix-map={src}=/usr/src/python")
            for a in configure_flags.configure_args(VERSION, level)
        ]
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C"}
        run(["./configure", "--prefix=/opt/python", *args], cwd=src, env=env)
        run(["make", f"-j{os.cpu_count()}"], cwd=src, env=env)
        run(["make", "install", f"DESTDIR={work / 'out'}"], cwd=src, env=env)
        return {"untrimmed_bytes": tree_bytes(work / "out")}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def packaged_tree(target: str) -> Path:
    path, name = target.split(":")
    return unpacked_runtime(REPO / "dist" / path.replace("/", ".") / f"{name}.tar.gz")


def unpacked_runtime(archive: Path) -> Path:
    """A runtime archive (`./pants package` of a python_runtime) unpacked in a temporary directory: its prefix."""
    out = Path(tempfile.mkdtemp(prefix="bench-tree-"))
    with tarfile.open(archive) as tar:
        tar.extractall(out)
    return out / "opt" / "python"


def startup_seconds(python: Path, runs: int = 20) -> float:
    """Median wall time of `python -c pass` plus importing a few common modules, with no pyc writing."""
    cmd = [str(python), "-B", "-c", "import json, asyncio, http.client, email.message, decimal"]
    subprocess.run(cmd, check=True)
    return statistics.median(timed(lambda: subprocess.run(cmd, check=True)) for _ in range(runs))


def bench_runtime(levels: List[str], runs: int, skip_warm: bool) -> None:
    tarball = source_tarball()
    rows = []
    for level in levels:
        target = write_target(level)
        # Its build root's lock (under 3rdparty/debian/benchmarks/scratch/, removed with the scratch target).
        run([str(REPO / "pants"), "--no-pantsd", "generate-lockfiles", f"--resolve={target}#build-root"], cwd=REPO)
        if not skip_warm:
            pants_package(target, cold=False)  # fetch the tarball into the store and fill the cache once
        pants_times, process_times, plain_times, sizes = [], [], [], {}
        for _ in range(runs):
            start = time.monotonic()
            process_times.append(pants_package(target, cold=True))
            pants_times.append(time.monotonic() - start)
            start = time.monotonic()
            sizes = plain_build(level, tarball)
            plain_times.append(time.monotonic() - start)
        # A cold run with --no-local-cache neither reads nor writes the cache, so "warm" needs the warm-up.
        warm = (
            float("nan")
            if skip_warm
            else statistics.median(timed(lambda: pants_package(target, cold=False)) for _ in range(3))
        )
        tree = packaged_tree(target)  # the cold runs wrote it to dist/
        with_pyc = tree_bytes(tree)
        start_pyc = startup_seconds(tree / "bin" / "python3.13")
        for pyc in tree.rglob("__pycache__"):
            shutil.rmtree(pyc)
        start_no_pyc = startup_seconds(tree / "bin" / "python3.13")
        rows.append(
            {
                "level": level,
                "runs": runs,
                "pants_cold_s": statistics.median(pants_times),
                "plain_s": statistics.median(plain_times),
                "ratio": statistics.median(p / q for p, q in zip(pants_times, plain_times)),
                "process_s": statistics.median(process_times),
                "process_ratio": statistics.median(p / q for p, q in zip(process_times, plain_times)),
                "warm_s": warm,
                "untrimmed_mb": sizes["untrimmed_bytes"] / 1e6,
                "trimmed_pyc_mb": with_pyc / 1e6,
                "trimmed_no_pyc_mb": tree_bytes(tree) / 1e6,
                "start_pyc_ms": start_pyc * 1000,
                "start_no_pyc_ms": start_no_pyc * 1000,
            }
        )
        shutil.rmtree(tree.parent.parent, ignore_errors=True)
        print(json.dumps(rows[-1]), flush=True)
    shutil.rmtree(SCRATCH, ignore_errors=True)
    shutil.rmtree(REPO / "3rdparty" / "debian" / SCRATCH.relative_to(REPO), ignore_errors=True)
    print(
        "\n| level | runs | pants cold (s) | compile process (s) | plain make (s) | ratio, end to end "
        "| ratio, process | warm (s) | untrimmed MB | trimmed MB, pycs | trimmed MB, no pycs "
        "| start-up ms, pycs | start-up ms, no pycs |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['level']} | {r['runs']} | {r['pants_cold_s']:.0f} | {r['process_s']:.0f} | {r['plain_s']:.0f} | "
            f"{r['ratio']:.3f} | {r['process_ratio']:.3f} | "
            f"{r['warm_s']:.1f} | {r['untrimmed_mb']:.0f} | {r['trimmed_pyc_mb']:.1f} | {r['trimmed_no_pyc_mb']:.1f} | "
            f"{r['start_pyc_ms']:.0f} | {r['start_no_pyc_ms']:.0f} |"
        )


MICRO_BENCHMARKS = """
import csv, difflib, io, json, re, sys, time
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)
DATA = [{"id": i, "name": "n%d" % i, "tags": ["a", "b"], "x": i * 0.5} for i in range(2000)]
TEXT = " ".join("user%d@host%d.example 2024-01-%02d" % (i, i % 7, i % 28 + 1) for i in range(3000))
WORDS = ["w%d" % (i * 7919 % 10007) for i in range(20000)]
LINES_A = ["line %d %s" % (i, "x" * (i % 13)) for i in range(600)]
LINES_B = [line for i, line in enumerate(LINES_A) if i % 17] + ["new line"]
ROWS = "\\n".join(",".join(str(i * j) for j in range(8)) for i in range(3000))
BENCHMARKS = {
    "fib": lambda: fib(22),
    "json": lambda: json.loads(json.dumps(DATA)),
    "re": lambda: re.findall(r"(\\w+)@(\\w+)\\.example (\\d+)-(\\d+)", TEXT),
    "sort": lambda: sorted(WORDS),
    "difflib": lambda: list(difflib.unified_diff(LINES_A, LINES_B)),
    "csv": lambda: list(csv.reader(io.StringIO(ROWS))),
}
best = {}
for name, bench in BENCHMARKS.items():
    times = []
    for _ in range(15):
        start = time.perf_counter()
        bench()
        times.append(time.perf_counter() - start)
    best[name] = min(times) * 1000
print(json.dumps(best))
"""


def micro_benchmark(python: Path) -> Dict[str, float]:
    """Milliseconds per benchmark (best of 15) on `python`."""
    return json.loads(run([str(python), "-I", "-c", MICRO_BENCHMARKS]).stdout)


def bench_pgo(levels: List[str], baselines: List[str], rounds: int) -> None:
    interpreters: Dict[str, Path] = {}
    compile_s: Dict[str, float] = {}
    for level in levels:
        target = write_target(level)
        run([str(REPO / "pants"), "--no-pantsd", "generate-lockfiles", f"--resolve={target}#build-root"], cwd=REPO)
        compile_s[level] = pants_package(target, cold=True)
        interpreters[level] = packaged_tree(target) / "bin" / "python3.13"
        print(f"{level}: compile processes {compile_s[level]:.0f} s", flush=True)
    for baseline in baselines:
        name, archive = baseline.split("=", 1)
        interpreters[name] = unpacked_runtime(Path(archive)) / "bin" / "python3.13"
    results: Dict[str, List[Dict[str, float]]] = {name: [] for name in interpreters}
    for _ in range(rounds):
        for name, python in interpreters.items():
            results[name].append(micro_benchmark(python))
    shutil.rmtree(SCRATCH, ignore_errors=True)
    shutil.rmtree(REPO / "3rdparty" / "debian" / SCRATCH.relative_to(REPO), ignore_errors=True)
    reference = next(iter(results))  # the first interpreter: `none` unless only baselines were given
    benches = list(results[reference][0])
    columns = " | ".join(f"{b} (ms)" for b in benches)
    print(f"\n| interpreter | compile (s) | {columns} | total (ms) | speed-up over {reference} |")
    print("|---|---|" + "---|" * (len(benches) + 2))
    reference_totals = [sum(r.values()) for r in results[reference]]
    for name, per_round in results.items():
        totals = [sum(r.values()) for r in per_round]
        speedup = statistics.median(n / t for n, t in zip(reference_totals, totals))
        cells = " | ".join(f"{statistics.median(r[b] for r in per_round):.2f}" for b in benches)
        compiled = f"{compile_s[name]:.0f}" if name in compile_s else "-"
        print(f"| {name} | {compiled} | {cells} | {statistics.median(totals):.1f} | {speedup:.3f} |")


# pyperformance from PyPI, pinned: the benchmark scripts come from its wheel, pyperf runs them.
PYPERFORMANCE_WHEELS = (
    ("pyperformance", "1.14.0", "94068ac2935b6952ccb5e8a302eb9cebc26e82454494bef6e53822738adf0049"),
    ("pyperf", "2.11.0", "11c0034bb29a79796417a6e5a7852ff4814a33cce24aeb6d268676c3a52dfda6"),
)
# The fixed subset: every pyperformance benchmark that needs nothing outside the standard library, runs on 3.11
# and 3.13 alike, and takes no arguments, minus the ones that time I/O, sleeping or start-up (asyncio_tcp,
# concurrent_imap, python_startup, ...) rather than the interpreter. The same list for every interpreter.
PYPERFORMANCE_SUBSET = (
    "chaos",
    "comprehensions",
    "coroutines",
    "deepcopy",
    "deltablue",
    "fannkuch",
    "float",
    "generators",
    "go",
    "hexiom",
    "json_dumps",
    "json_loads",
    "logging",
    "nbody",
    "nqueens",
    "pyflate",
    "raytrace",
    "regex_v8",
    "richards",
    "spectral_norm",
    "sqlite_synth",
    "telco",
    "unpack_sequence",
    "xml_etree",
)


@dataclass(frozen=True)
class ComparedRuntime:
    """A runtime of this plugin, compiled for the comparison, and the Debian release whose python3.X it is held
    against (same CPython version, run with that release's loader and libraries)."""

    name: str
    version: str
    optimizations: str
    suite: str


COMPARED_RUNTIMES = (
    ComparedRuntime("py313_none", "3.13.5", "none", "trixie"),
    ComparedRuntime("py313_pgo_lto", "3.13.5", "pgo+lto", "trixie"),
    ComparedRuntime("py313_bolt", "3.13.5", "pgo+lto+bolt", "trixie"),
    ComparedRuntime("py311_pgo_lto", "3.11.2", "pgo+lto", "bookworm"),
)
DEBIAN_PYTHONS = {"trixie": "3.13", "bookworm": "3.11"}


def write_comparison_targets(runtimes: List[ComparedRuntime]) -> List[str]:
    """The scratch BUILD: the runtimes, and one debian_tools target per suite with Debian's own python3.X."""
    SCRATCH.mkdir(parents=True, exist_ok=True)
    lines = [
        f'python_runtime(name="{r.name}", version="{r.version}", optimizations="{r.optimizations}", '
        f'build_root_suite="{r.suite}")'
        for r in runtimes
    ]
    suites = sorted({r.suite for r in runtimes})
    lines += [f'debian_tools(name="debian_{s}", packages=["python{DEBIAN_PYTHONS[s]}"], suite="{s}")' for s in suites]
    (SCRATCH / "BUILD").write_text("\n".join(lines) + "\n")
    scratch = SCRATCH.relative_to(REPO)
    return [f"{scratch}:{r.name}" for r in runtimes] + [f"{scratch}:debian_{s}" for s in suites]


def pyperformance_files(work: Path) -> Tuple[Path, Path]:
    """pyperf's import directory and pyperformance's benchmarks directory, from the pinned wheels."""
    wheels = work / "wheels"
    for name, version, sha256 in PYPERFORMANCE_WHEELS:
        run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "-d",
                str(wheels),
                f"{name}=={version}",
            ]
        )
        wheel = next(wheels.glob(f"{name}-{version}-*.whl"))
        found = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if found != sha256:
            raise SystemExit(f"{wheel.name}: sha256 {found}, pinned {sha256}")
        with zipfile.ZipFile(wheel) as whl:
            whl.extractall(work / "site")
    return work / "site", work / "site" / "pyperformance" / "data-files" / "benchmarks"


def through_loader(python: Path, tools: Path) -> Path:
    """A script beside `python` that runs it with the Debian tree `tools`' dynamic loader and libraries (the
    way host tools run): a trixie-built interpreter then runs on any host, and both builds of a version get the
    same libc. --argv0 makes sys.executable the script, so pyperf's worker processes start the same way."""
    lib = tools / "root" / "usr" / "lib" / "x86_64-linux-gnu"
    wrapper = python.with_name(python.name + "-bench")
    wrapper.write_text(
        f'#!/bin/sh\nexec "{lib}/ld-linux-x86-64.so.2" --library-path "{lib}" --argv0 "$0" "{python}" "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper


def pyperf_seconds(python: Path, script: Path, site: Path, processes: int, out: Path) -> float:
    """The mean time of one benchmark on `python` (pyperf: `processes` worker processes, 3 values each)."""
    run(
        [
            str(python),
            str(script),
            "--processes",
            str(processes),
            "--values",
            "3",
            "--warmups",
            "1",
            "--inherit-environ",
            "PYTHONPATH",
            "--quiet",
            "-o",
            str(out),
        ],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(site)},
    )
    runs = json.loads(out.read_text())["benchmarks"][0]["runs"]
    out.unlink()
    return statistics.mean(v for r in runs for v in r.get("values", ()))


def geometric_mean(values: List[float]) -> float:
    return math.exp(statistics.mean(math.log(v) for v in values))


def bench_interpreters(
    levels: List[str], baselines: List[str], rounds: int, processes: int, benchmarks: List[str]
) -> None:
    runtimes = [r for r in COMPARED_RUNTIMES if r.optimizations in levels or r.name in levels]
    targets = write_comparison_targets(runtimes)
    resolves = [f"--resolve={t}#build-root" for t in targets if "debian_" not in t]
    resolves += [f"--resolve={t}" for t in targets if "debian_" in t]
    pants = [str(REPO / "pants"), "--no-pantsd"]
    run([*pants, "generate-lockfiles", *resolves], cwd=REPO)
    run([*pants, "package", *targets], cwd=REPO)
    dist = REPO / "dist" / str(SCRATCH.relative_to(REPO)).replace("/", ".")
    work = Path(tempfile.mkdtemp(prefix="bench-interpreters-"))
    site, scripts = pyperformance_files(work)
    pythons: Dict[str, Path] = {}
    reference: Dict[str, str] = {}  # interpreter -> the Debian build it is compared with
    for suite, minor in DEBIAN_PYTHONS.items():
        if any(r.suite == suite for r in runtimes):
            debian = f"Debian {suite} python{minor}"
            tools = dist / f"debian_{suite}"
            pythons[debian] = through_loader(tools / "root" / "usr" / "bin" / f"python{minor}", tools)
            reference[debian] = debian
    for r in runtimes:
        name = f"plugin {r.version} {r.optimizations}"
        tree = packaged_tree(f"{SCRATCH.relative_to(REPO)}:{r.name}")
        pythons[name] = through_loader(
            tree / "bin" / f"python{r.version.rsplit('.', 1)[0]}", dist / f"debian_{r.suite}"
        )
        reference[name] = f"Debian {r.suite} python{DEBIAN_PYTHONS[r.suite]}"
    for baseline in baselines:  # NAME=ARCHIVE: a runtime packaged earlier, held against Debian's build of its version
        name, archive = baseline.split("=", 1)
        tree = unpacked_runtime(Path(archive))
        python = next(p for p in tree.glob("bin/python3.*") if re.fullmatch(r"python3\.\d+", p.name))
        suite = next(s for s, minor in DEBIAN_PYTHONS.items() if python.name == f"python{minor}")
        pythons[name] = through_loader(python, dist / f"debian_{suite}")
        reference[name] = f"Debian {suite} python{DEBIAN_PYTHONS[suite]}"
    for name, python in pythons.items():
        print(name, run([str(python), "-c", "import sys; print(sys.version)"]).stdout.strip(), flush=True)
    # seconds[interpreter][benchmark] -> one mean per round. Within a round every benchmark runs on every
    # interpreter in turn, in an order that rotates from round to round, so drift hits them all alike.
    seconds: Dict[str, Dict[str, List[float]]] = {n: {b: [] for b in benchmarks} for n in pythons}
    names = list(pythons)
    for round_number in range(rounds):
        order = names[round_number % len(names) :] + names[: round_number % len(names)]
        for bench in benchmarks:
            for name in order:
                script = scripts / f"bm_{bench}" / "run_benchmark.py"
                seconds[name][bench].append(pyperf_seconds(pythons[name], script, site, processes, work / "out.json"))
        print(
            json.dumps(
                {"round": round_number + 1, **{n: {b: v[-1] for b, v in t.items()} for n, t in seconds.items()}}
            ),
            flush=True,
        )
    shutil.rmtree(work, ignore_errors=True)
    print_interpreter_tables(seconds, reference, benchmarks, rounds)


def readable_seconds(seconds: float) -> str:
    """A pyperf-style time: ms, us or ns with three significant digits (the subset spans 40 ns to 0.5 s)."""
    for unit, scale in (("ms", 1e3), ("us", 1e6)):
        if seconds * scale >= 1:
            return f"{seconds * scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def print_interpreter_tables(
    seconds: Dict[str, Dict[str, List[float]]], reference: Dict[str, str], benchmarks: List[str], rounds: int
) -> None:
    """Per benchmark: the median time on each interpreter, and its speed relative to the Debian build of the same
    version (Debian's time / its time: above 1 is faster than Debian's), the median of the per-round ratios."""
    names = list(seconds)
    print(f"\n| benchmark ({rounds} rounds) | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    ratios: Dict[str, Dict[str, float]] = {n: {} for n in names}
    for bench in benchmarks:
        cells = []
        for name in names:
            ours, theirs = seconds[name][bench], seconds[reference[name]][bench]
            ratios[name][bench] = statistics.median(t / o for o, t in zip(ours, theirs))
            cells.append(f"{readable_seconds(statistics.median(ours))} ({ratios[name][bench]:.3f})")
        print(f"| {bench} | " + " | ".join(cells) + " |")
    per_round = {
        n: [geometric_mean([seconds[reference[n]][b][i] / seconds[n][b][i] for b in benchmarks]) for i in range(rounds)]
        for n in names
    }
    print(
        "| **geometric mean of the ratios** | "
        + " | ".join(f"**{geometric_mean(list(ratios[n].values())):.3f}**" for n in names)
        + " |"
    )
    print(
        "| geometric mean, per round (min-max) | "
        + " | ".join(f"{min(per_round[n]):.3f}-{max(per_round[n]):.3f}" for n in names)
        + " |"
    )


IMAGE_TARGET = "src/python/hello_cli:hello-cli-image"
APP_FILE = "src/python/hello_cli/main.py"


def scratch_clone() -> Path:
    clone = Path(tempfile.mkdtemp(prefix="bench-image-")) / "repo"
    run(["git", "clone", "-q", str(REPO), str(clone)])
    return clone


def packaged_tool(clone: Path, name: str) -> str:
    """A program from the clone's own pinned packages, nothing of the host's: BuildGrid's bgd from the buildgrid
    resolve, the rest from the `3rdparty/debian:test-tools` Debian lock (packaged once per clone)."""
    target, path = (
        ("3rdparty/python:bgd", "dist/3rdparty.python/bgd.pex")
        if name == "bgd"
        else ("3rdparty/debian:test-tools", f"dist/3rdparty.debian/test-tools/bin/{name}")
    )
    if not (clone / path).exists():
        run([str(clone / "pants"), "--no-pantsd", "package", target], cwd=clone)
    return str(clone / path)


def store_flags(store: Optional[Path]) -> List[str]:
    """Pants without its daemon, with its own local store and named caches under `store` (empty = cold), or the
    machine's own with None."""
    if store is None:
        return ["--no-pantsd"]
    return ["--no-pantsd", f"--local-store-dir={store / 'lmdb'}", f"--named-caches-dir={store / 'named'}"]


def timed_package(clone: Path, store: Path, target: str = IMAGE_TARGET) -> float:
    return timed(lambda: run([str(clone / "pants"), *store_flags(store), "package", target], cwd=clone))


def one_line_change(clone: Path, n: int) -> None:
    path = clone / APP_FILE
    text = path.read_text()
    path.write_text(re.sub(r'return f"Hello, \{name\}!( #\d+)?', f'return f"Hello, {{name}}! #{n}', text, count=1))


def first_output_seconds(cmd: List[str]) -> float:
    """Wall time from starting `cmd` to the first byte on its stdout (then it is left to finish)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    proc.stdout.read(1)
    elapsed = time.monotonic() - start
    proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {proc.returncode}")
    return elapsed


def runc_bundle(umoci: str, layout: Path, args: List[str], where: Path) -> Path:
    bundle = where / f"bundle-{len(list(where.iterdir()))}"
    run([umoci, "unpack", "--image", f"{layout}:latest", str(bundle)])
    config = json.loads((bundle / "config.json").read_text())
    config["process"]["terminal"] = False
    config["root"]["readonly"] = True
    config["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["mode=1777"]})
    if args:
        config["process"]["args"] = args
    (bundle / "config.json").write_text(json.dumps(config))
    return bundle


def image_layers(layout: Path) -> List[Dict]:
    index = json.loads((layout / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((layout / "blobs" / "sha256" / manifest_digest).read_text())
    config = json.loads((layout / "blobs" / "sha256" / manifest["config"]["digest"].split(":")[1]).read_text())
    layers = []
    for layer, history in zip(manifest["layers"], config["history"]):
        blob = layout / "blobs" / "sha256" / layer["digest"].split(":")[1]
        with tarfile.open(blob) as tar:
            uncompressed = sum(m.size for m in tar.getmembers())
        layers.append({"what": history["created_by"], "compressed": layer["size"], "files_bytes": uncompressed})
    return layers


def layer_blobs(layout: Path) -> List[Tuple[dict, Path]]:
    """(descriptor, blob path) of each layer of the layout's first image, base first."""
    manifest_digest = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((layout / "blobs" / "sha256" / manifest_digest).read_text())
    return [(layer, layout / "blobs" / "sha256" / layer["digest"].split(":")[1]) for layer in manifest["layers"]]


def unpack_seconds(zstd: str, layout: Path, kind: str, extract: bool) -> float:
    """Seconds to unpack the image into an empty directory as a container runtime does: each layer decompressed
    (the zstd program for both kinds, so only the format differs) and, with `extract`, piped into `tar -x`, base
    first. Without `extract`, the decompression alone."""
    target = Path(tempfile.mkdtemp(prefix="unpack-"))
    try:
        start = time.monotonic()
        for _, blob in layer_blobs(layout):
            with blob.open("rb") as source:
                decompress = subprocess.Popen(
                    [zstd, "-d", "-c", "-q", f"--format={kind}"], stdin=source, stdout=subprocess.PIPE
                )
                sink = ["tar", "-x", "-C", str(target)] if extract else ["cat"]
                subprocess.run(sink, stdin=decompress.stdout, stdout=subprocess.DEVNULL, check=True)
                decompress.stdout.close()
                if decompress.wait() != 0:
                    raise SystemExit(f"{zstd} could not decompress {blob}")
        return time.monotonic() - start
    finally:
        shutil.rmtree(target, ignore_errors=True)


def bench_image_size(rounds: int) -> None:
    """The example image as the plugin writes it with gzip layers and with zstd layers (level 19): each layer's
    size, and the time to unpack the whole image (median of alternating rounds). Warm caches otherwise."""
    zstd = packaged_tool(REPO, "zstd")
    layouts = {}
    for kind in ("gzip", "zstd"):
        distdir = REPO / "dist" / f"image-size-{kind}"
        run(
            [
                str(REPO / "pants"),
                "--no-pantsd",
                f"--pants-distdir={distdir}",
                f"--oci-image-layer-compression={kind}",
                "package",
                IMAGE_TARGET,
            ],
            cwd=REPO,
        )
        layouts[kind] = distdir / "src.python.hello_cli" / "hello-cli-image"
    names = [info["what"] for info in image_layers(layouts["gzip"])]
    files = [info["files_bytes"] for info in image_layers(layouts["gzip"])]
    sizes = {kind: [layer["size"] for layer, _ in layer_blobs(layout)] for kind, layout in layouts.items()}
    times: Dict[Tuple[str, bool], List[float]] = {(k, e): [] for k in ("gzip", "zstd") for e in (False, True)}
    for _ in range(rounds):
        for kind in ("gzip", "zstd"):
            for extract in (False, True):
                times[kind, extract].append(unpack_seconds(zstd, layouts[kind], kind, extract))
    print("\n| layer | files MB | gzip MB | zstd -19 MB |")
    print("|---|---|---|---|")
    for name, size, gz, zs in zip(names, files, sizes["gzip"], sizes["zstd"]):
        print(f"| {name} | {size / 1e6:.1f} | {gz / 1e6:.2f} | {zs / 1e6:.2f} |")
    print(
        f"| **image** | **{sum(files) / 1e6:.1f}** | **{sum(sizes['gzip']) / 1e6:.2f}** | "
        f"**{sum(sizes['zstd']) / 1e6:.2f}** |"
    )
    print(f"\nmedian of {rounds} alternating rounds (zstd -d for both formats, then tar -x):")
    print("| step | gzip (s) | zstd (s) | gzip/zstd |")
    print("|---|---|---|---|")
    for extract, step in ((False, "decompress all layers"), (True, "decompress and extract (unpack)")):
        gz, zs = times["gzip", extract], times["zstd", extract]
        ratio = statistics.median(g / z for g, z in zip(gz, zs))
        print(f"| {step} | {statistics.median(gz):.3f} | {statistics.median(zs):.3f} | {ratio:.2f} |")


def bench_image(runs: int, startup_runs: int) -> None:
    clone = scratch_clone()
    work = clone.parent
    cold, change, ratios = [], [], []
    for i in range(runs):
        store = work / f"store-{i}"
        cold.append(timed_package(clone, store))
        one_line_change(clone, i)
        change.append(timed_package(clone, store))
        ratios.append(change[-1] / cold[-1])
        print(json.dumps({"run": i, "cold_s": cold[-1], "one_line_change_s": change[-1]}), flush=True)
    if not runs:  # sizes and start-up only: one build
        timed_package(clone, work / "store-0")
        cold, change, ratios = [float("nan")], [float("nan")], [float("nan")]
    no_change = statistics.median(timed_package(clone, work / f"store-{max(runs, 1) - 1}") for _ in range(3))
    layout = clone / "dist" / "src.python.hello_cli" / "hello-cli-image"
    layers = image_layers(layout)
    archive_bytes = (layout.parent / "hello-cli-image.tar").stat().st_size

    bundles = work / "bundles"
    bundles.mkdir()
    umoci, runc = packaged_tool(clone, "umoci"), packaged_tool(clone, "runc")
    app = runc_bundle(umoci, layout, [], bundles)
    bare = runc_bundle(umoci, layout, ["/opt/python/bin/python3.13", "-c", "print('x')"], bundles)
    app_times, bare_times = [], []
    for i in range(startup_runs):  # alternate, so noise hits both alike
        app_times.append(first_output_seconds([runc, "run", "--bundle", str(app), f"bench-app-{i}"]))
        bare_times.append(first_output_seconds([runc, "run", "--bundle", str(bare), f"bench-bare-{i}"]))
    shutil.rmtree(work, ignore_errors=True)

    ms = lambda xs: statistics.median(xs) * 1000  # noqa: E731
    print("\n| runs | cold package (s) | after one-line app change (s) | ratio | no change (s) |")
    print("|---|---|---|---|---|")
    print(
        f"| {runs} | {statistics.median(cold):.0f} | {statistics.median(change):.1f} | "
        f"{statistics.median(ratios):.3f} | {no_change:.1f} |"
    )
    print("\n| layer | compressed MB | files MB |")
    print("|---|---|---|")
    for layer in layers:
        print(
            f"| {layer['what'].replace('pants-oci: ', '')} | {layer['compressed'] / 1e6:.2f} | "
            f"{layer['files_bytes'] / 1e6:.1f} |"
        )
    print(
        f"| **image** | **{sum(x['compressed'] for x in layers) / 1e6:.1f}** | "
        f"**{sum(x['files_bytes'] for x in layers) / 1e6:.1f}** |"
    )
    print(f"\nOCI archive: {archive_bytes / 1e6:.1f} MB")
    print("\n| runs | app in container (ms) | bare python -c in container (ms) | ratio |")
    print("|---|---|---|---|")
    print(
        f"| {startup_runs} | {ms(app_times):.0f} | {ms(bare_times):.0f} | "
        f"{statistics.median(a / b for a, b in zip(app_times, bare_times)):.2f} |"
    )


SERVICE_MAIN = """import sys

from textstats.stats import text_stats
{extra_import}

def main() -> int:
    print("{name}", text_stats(" ".join(sys.argv[1:]) or "{name} says hi"){extra_call})
    return 0
"""


def generate_services(clone: Path, group: str, count: int) -> str:
    """Write `count` services under src/python/<group>/; returns the address spec of all of them."""
    root = clone / "src" / "python" / group
    for i in range(count):
        name = f"svc{i:03d}"
        service = root / name
        service.mkdir(parents=True)
        (service / "__init__.py").write_text("")
        uses_humanize = i % 2 == 0
        (service / "main.py").write_text(
            SERVICE_MAIN.format(
                name=f"{group}.{name}",
                extra_import="import humanize\n" if uses_humanize else "",
                extra_call=", humanize.naturalsize(4096)" if uses_humanize else "",
            )
        )
        runtime = "py313" if i % 2 == 0 else "py311"
        (service / "BUILD").write_text(
            'python_sources(name="lib")\n'
            f'pex_binary(name="{name}", entry_point="main.py:main")\n'
            f'python_oci_image(name="image", runtime="src/python/runtimes:{runtime}", binary=":{name}")\n'
        )
    return f"src/python/{group}::"


def measured_package(clone: Path, store: Optional[Path], spec: str, stats: bool = False):
    """(seconds, peak RSS in MB of the Pants process, Pants' counters with `stats`) of
    `./pants --no-pantsd package <spec>`."""
    probe = (
        "import resource, subprocess, sys, time; t = time.monotonic(); "
        "r = subprocess.run(sys.argv[1:], capture_output=True); "
        "print(time.monotonic() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode); "
        "sys.stderr.write(r.stderr.decode())"
    )
    flags = ["--stats-log"] if stats else []
    argv = [sys.executable, "-c", probe, str(clone / "pants"), *store_flags(store), *flags, "package", spec]
    result = run(argv, cwd=clone)
    seconds, max_rss_kb, code = result.stdout.split()
    if code != "0":
        raise SystemExit(f"package {spec} failed:\n{result.stderr[-3000:]}")
    counters = {k: int(v) for k, v in re.findall(r"^\s*(\w+): (\d+)$", result.stderr, re.M)}
    return float(seconds), int(max_rss_kb) / 1024, counters


SHARED_LIBRARY = Path("src/python/textstats/stats.py")


def bench_scale(counts: List[int], shared_store: bool, warm_runs: int) -> None:
    clone = scratch_clone()
    store = None if shared_store else clone.parent / "store"
    run_token = f"{int(time.time()):x}"
    # Warm the shared parts once: both runtimes and the base (what a shared cache gives a CI machine).
    measured_package(clone, store, "src/python/runtimes:")
    rows = []
    for count in counts:
        # Names new to the store, so "cold" is cold even in a store that ran this benchmark before.
        group = f"synthetic_{run_token}_n{count}" if shared_store else f"synthetic_n{count}"
        spec = generate_services(clone, group, count)
        cold_s, cold_mb, _ = measured_package(clone, store, spec)
        warm = [measured_package(clone, store, spec, stats=True) for _ in range(warm_runs)]
        warm_s, warm_mb = statistics.median(w[0] for w in warm), max(w[1] for w in warm)
        warm_stats = warm[-1][2]
        rows.append((count, cold_s, cold_mb, warm_s, warm_mb))
        print(
            json.dumps(
                {
                    "services": count,
                    "cold_s": cold_s,
                    "cold_max_rss_mb": cold_mb,
                    "warm_s": warm_s,
                    "warm_max_rss_mb": warm_mb,
                    "warm_processes_run": warm_stats.get("local_execution_requests", 0),
                }
            ),
            flush=True,
        )
    # A one-line change to the library every service imports: only what contains its code is new work (each
    # image's app layer, config, manifest and archive, and each service's own PEX), counted from Pants' stats.
    library = clone / SHARED_LIBRARY
    library.write_text(library.read_text() + "\n# a one-line change to the shared library\n")
    change_s, change_mb, change_stats = measured_package(clone, store, spec, stats=True)
    change = {
        "services": counts[-1],
        "shared_library_change_s": change_s,
        "max_rss_mb": change_mb,
        "processes_run": change_stats.get("local_execution_requests", 0),
        "process_cache_hits": change_stats.get("local_cache_requests_cached", 0),
    }
    print(json.dumps(change), flush=True)
    shutil.rmtree(clone.parent, ignore_errors=True)
    print("\n| services | cold (s) | cold, per service (s) | cold peak RSS (MB) | warm (s) | warm peak RSS (MB) |")
    print("|---|---|---|---|---|---|")
    for count, cold_s, cold_mb, warm_s, warm_mb in rows:
        print(f"| {count} | {cold_s:.0f} | {cold_s / count:.1f} | {cold_mb:.0f} | {warm_s:.1f} | {warm_mb:.0f} |")
    print(
        f"\nshared-library change at {change['services']} services: {change_s:.1f} s, {change_mb:.0f} MB, "
        f"{change['processes_run']} processes run, {change['process_cache_hits']} answered by the cache"
    )


# The three builds of `remote-cache`: (role, another home and checkout path?, writes to the cache?).
REMOTE_CACHE_ROLES = (
    ("write (cold, every process runs)", False, True),
    ("read, same home (empty local store)", False, False),
    ("read, other home and checkout (empty stores)", True, False),
)
REMOTE_CACHE_COUNTERS = (
    "remote_cache_requests_cached",
    "remote_cache_requests_uncached",
    "remote_cache_write_successes",
    "local_execution_requests",
)


def bench_remote_cache() -> None:
    clone = scratch_clone()
    bgd = packaged_tool(clone, "bgd")
    work = clone.parent
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = (REPO / "build-support" / "buildgrid-cache.yml").read_text()
    (work / "buildgrid.yml").write_text(config.format(port=port, root=work))
    server = subprocess.Popen(
        [bgd, "server", "start", str(work / "buildgrid.yml")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    rows = []
    try:
        time.sleep(5)
        for number, (role, elsewhere, write) in enumerate(REMOTE_CACHE_ROLES):
            checkout, env = clone, dict(os.environ)
            if elsewhere:
                # A second machine: another home (so another launcher bootstrap and Pants interpreter path, and
                # empty named caches) and another checkout path.
                home = work / "other-home"
                checkout = work / "elsewhere" / "checkout"
                shutil.copytree(clone, checkout, ignore=shutil.ignore_patterns("dist", ".pants.d", ".pids"))
                env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
            flags = [
                "--no-pantsd",
                f"--local-store-dir={work / f'store-{number}'}",
                "--no-local-cache",
                f"--remote-store-address=grpc://127.0.0.1:{port}",
                "--remote-cache-read",
                *(["--remote-cache-write"] if write else []),
                "--stats-log",
            ]
            start = time.monotonic()
            result = run([str(checkout / "pants"), *flags, "package", IMAGE_TARGET], cwd=checkout, env=env)
            seconds = time.monotonic() - start
            counters = dict(re.findall(r"^\s*(\w+): (\d+)$", result.stderr, re.M))
            digest = re.search(r"digest (sha256:[0-9a-f]{12})", result.stderr).group(1)
            rows.append((role, seconds, counters, digest))
            print(
                json.dumps(
                    {
                        "role": role,
                        "seconds": seconds,
                        "digest": digest,
                        **{k: counters.get(k) for k in REMOTE_CACHE_COUNTERS},
                    }
                ),
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    print("\n| build | seconds | remote cache hits | remote cache misses | remote writes | image digest |")
    print("|---|---|---|---|---|---|")
    for role, seconds, counters, digest in rows:
        print(
            f"| {role} | {seconds:.0f} | {counters.get('remote_cache_requests_cached', '0')} | "
            f"{counters.get('remote_cache_requests_uncached', '0')} | "
            f"{counters.get('remote_cache_write_successes', '0')} | {digest}... |"
        )


MEDIA_TYPE_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
# Runs a command and prints its peak resident memory (its own max RSS: the wrapper's only child).
PEAK_RSS_WRAPPER = (
    "import resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, done.returncode)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_registry(work: Path) -> Tuple[subprocess.Popen, str]:
    """docker-registry from the test tools' Debian lock on 127.0.0.1, storing under `work`."""
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    (work / "config.yml").write_text(
        f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {work / 'data'}\nhttp:\n  addr: 127.0.0.1:{port}\n"
    )
    server = subprocess.Popen(
        [packaged_tool(REPO, "docker-registry"), "serve", str(work / "config.yml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(2)
    return server, f"127.0.0.1:{port}"


def streamed_tar_layer(path: Path, name: str, size: int) -> "model.Layer":
    """An uncompressed tar layer holding one file of `size` random bytes, written in 1 MiB pieces."""

    class RandomReader:
        def read(self, n: int) -> bytes:
            return os.urandom(n)

    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(f"data/{name}")
        info.size = size
        tar.addfile(info, RandomReader())
    digest = registry_client.file_digest(str(path))
    return model.Layer(model.Descriptor(MEDIA_TYPE_LAYER_TAR, digest, path.stat().st_size), digest, f"bench {name}")


def write_bench_layout(root: Path, layers: List[Tuple["model.Layer", Path]]) -> Path:
    """A layout whose layer blobs are moved in from files (never read into memory here)."""
    image = model.build_image(model.ImageConfig("amd64", cmd=("/bin/true",)), [layer for layer, _ in layers])
    for relpath, content in model.layout_metadata(image, ["1.0"]).items():
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_bytes(content)
    for layer, path in layers:
        target = root / model.blob_path(layer.descriptor.digest)
        if not target.exists():
            shutil.copyfile(path, target)
    return root


def client_tree(work: Path, revision: Optional[str]) -> Path:
    """The registry client to run: this checkout's, or the one of an older commit (for a before row)."""
    if revision is None:
        return REPO / "pants-plugins"
    tree = work / f"client-{revision}"
    for module in ("registry", "credentials", "reference", "transport"):
        shown = subprocess.run(
            ["git", "show", f"{revision}:pants-plugins/pants_oci/oci/{module}.py"], cwd=REPO, capture_output=True
        )
        if shown.returncode == 0:
            (tree / "pants_oci" / "oci").mkdir(parents=True, exist_ok=True)
            (tree / "pants_oci" / "oci" / f"{module}.py").write_bytes(shown.stdout)
    for init in ("pants_oci/__init__.py", "pants_oci/oci/__init__.py"):
        (tree / init).touch()
    return tree


def measured_push(client: Path, layout: Path, repository: str, extra: List[str]) -> Tuple[float, float, str]:
    """(seconds, peak RSS in MB, the client's summary line) of one push run as `./pants publish` runs it."""
    argv = [sys.executable, "-m", "pants_oci.oci.registry", str(layout), repository, "1.0", "--plain-http-localhost"]
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS_WRAPPER, *argv, *extra],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(client)},
    )
    seconds = time.monotonic() - start
    lines = done.stdout.strip().splitlines()
    rss_kb, returncode = lines[-1].split()
    if returncode != "0":
        raise SystemExit(f"push to {repository} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    summary = next((line for line in lines if "blobs uploaded" in line), "")
    return seconds, int(rss_kb) / 1024, summary


def bench_publish(layer_mb: int, services: int, before: str, runs: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-publish-"))
    rows = []
    try:
        big = work / "big.tar"
        big_layer = streamed_tar_layer(big, "weights.bin", layer_mb * 1024 * 1024)
        layout = write_bench_layout(work / "big-layout", [(big_layer, big)])
        big.unlink()
        for label, revision in ((f"before ({before})", before), ("this change", None)):
            server, address = start_registry(work / f"registry-big-{revision}")
            try:
                seconds, rss, _ = measured_push(client_tree(work, revision), layout, f"{address}/bench/big", [])
            finally:
                server.terminate()
                server.wait(timeout=30)
                shutil.rmtree(work / f"registry-big-{revision}", ignore_errors=True)
            rows.append((f"one image, one {layer_mb} MiB layer", label, seconds, rss, ""))
            print(json.dumps({"suite": "publish", "what": "big layer", "client": label, "s": seconds, "rss_mb": rss}))
        shutil.rmtree(work / "big-layout")

        # N services on one base and one runtime layer, each with its own app layer (as the examples are).
        shared = [
            streamed_tar_layer(work / f"{n}.tar", n, mb * 1024 * 1024) for n, mb in (("base", 30), ("runtime", 40))
        ]
        shared_files = [(layer, work / f"{n}.tar") for layer, n in zip(shared, ("base", "runtime"))]

        def service_layouts(generation: int) -> List[Path]:
            layouts = []
            for i in range(services):
                app = work / f"app-{generation}-{i}.tar"
                layouts.append(
                    write_bench_layout(
                        work / f"svc-{generation}-{i}",
                        [*shared_files, (streamed_tar_layer(app, "app.py", 256 * 1024), app)],
                    )
                )
            return layouts

        clients = ((f"before ({before})", before, False), ("this change", None, True))
        registries = {label: start_registry(work / f"registry-svc-{label[:6]}") for label, _, _ in clients}
        timings: Dict[Tuple[str, str], List[float]] = {}
        moved: Dict[Tuple[str, str], str] = {}
        try:
            # Generation 1 fills empty repositories; each later one changes every app layer. The clients take
            # turns within a generation, so machine noise hits both alike.
            for generation in range(1, runs + 2):
                what = "first publish" if generation == 1 else "second publish, app layers changed"
                layouts = service_layouts(generation)
                for label, revision, mounts in clients:
                    address = registries[label][1]
                    record = ["--mount-record", str(work / f"mounts-{label[:6]}.json")] if mounts else []
                    total, summary = 0.0, ""
                    for i, service_layout in enumerate(layouts):
                        seconds, _, summary = measured_push(
                            client_tree(work, revision), service_layout, f"{address}/bench/svc-{i}", record
                        )
                        total += seconds
                    timings.setdefault((what, label), []).append(total)
                    moved[(what, label)] = summary.split(", pushed")[0]
                    print(json.dumps({"suite": "publish", "what": what, "client": label, "s": total, "last": summary}))
        finally:
            for server, _ in registries.values():
                server.terminate()
                server.wait(timeout=30)
        for (what, label), seconds in timings.items():
            rows.append(
                (
                    f"{services} images, {what} (median of {len(seconds)})",
                    label,
                    statistics.median(seconds),
                    None,
                    moved[(what, label)],
                )
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n| publish | client | seconds | peak RSS MB | last image's push |")
    print("|---|---|---|---|---|")
    for what, label, seconds, rss, moved in rows:
        print(f"| {what} | {label} | {seconds:.1f} | {'' if rss is None else f'{rss:.0f}'} | {moved} |")


BASE_TARGET = "src/python/runtimes:base"


def bench_lock(runs: int) -> None:
    clone = scratch_clone()
    seconds, compiles = [], 0
    try:
        for i in range(runs):
            store = clone.parent / f"store-{i}"
            start = time.monotonic()
            result = run(
                [str(clone / "pants"), *store_flags(store), "generate-lockfiles", f"--resolve={BASE_TARGET}"], cwd=clone
            )
            seconds.append(time.monotonic() - start)
            compiles += len(re.findall(r"Starting: Compiling CPython", result.stderr))
            print(json.dumps({"seconds": seconds[-1], "compiles": compiles}), flush=True)
    finally:
        shutil.rmtree(clone.parent, ignore_errors=True)
    print("\n| runs | generate-lockfiles of the example base, empty store (s) | CPython compiles |")
    print("|---|---|---|")
    print(f"| {runs} | {statistics.median(seconds):.1f} | {compiles} |")


ROOT_BENCH_BUILD = """\
python_runtime(name="rt_root", version="3.13.5", optimizations="none")
python_runtime(name="rt_host", version="3.13.5", optimizations="none", toolchain="host")
"""


def log_interval(log: str, start: str, end: str) -> float:
    """Seconds from the first `Starting: <start>...` line to the last `Completed: <end>...` line of a Pants log."""
    stamps = {
        kind: re.findall(rf"^(\d\d:\d\d:\d\d\.\d+) \[\w+\] {kind}: {re.escape(what)}", log, re.M)
        for kind, what in (("Starting", start), ("Completed", end))
    }
    if not stamps["Starting"] or not stamps["Completed"]:
        return float("nan")
    h1, m1, s1 = stamps["Starting"][0].split(":")
    h2, m2, s2 = stamps["Completed"][-1].split(":")
    return (int(h2) - int(h1)) * 3600 + (int(m2) - int(m1)) * 60 + float(s2) - float(s1)


def store_mb(store: Path) -> float:
    return sum(f.stat().st_size for f in (store / "lmdb").rglob("*") if f.is_file()) / 1e6


def bench_build_root(runs: int) -> None:
    clone = scratch_clone()
    (clone / "bench").mkdir()
    (clone / "bench" / "BUILD").write_text(ROOT_BENCH_BUILD)
    pants = str(clone / "pants")
    rows = []
    try:
        run([pants, "--no-pantsd", "generate-lockfiles", "--resolve=bench:rt_root#build-root"], cwd=clone)
        for i in range(runs):
            store, host_store = clone.parent / f"store-{i}", clone.parent / f"host-store-{i}"
            cold = run([pants, *store_flags(store), "-ldebug", "package", "bench:rt_root"], cwd=clone).stderr
            fetch_unpack = log_interval(cold, "Fetch a pinned Debian package", "Unpack the build root")
            cold_mb = store_mb(store)
            run([pants, *store_flags(host_store), "package", "bench:rt_host"], cwd=clone)
            host_only_mb = store_mb(host_store)
            host = run([pants, *store_flags(store), "--no-local-cache", "package", "bench:rt_host"], cwd=clone).stderr
            root = run([pants, *store_flags(store), "--no-local-cache", "package", "bench:rt_root"], cwd=clone).stderr
            rows.append(
                {
                    "cold_fetch_unpack_s": fetch_unpack,
                    "warm_unpack_s": log_interval(root, "Unpack the build root", "Unpack the build root"),
                    "host_compile_s": process_seconds(host),
                    "root_compile_s": process_seconds(root),
                    "store_mb": cold_mb,
                    "host_only_store_mb": host_only_mb,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    finally:
        shutil.rmtree(clone.parent, ignore_errors=True)
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    ratio = statistics.median(r["root_compile_s"] / r["host_compile_s"] for r in rows)
    print(
        "\n| runs | fetch + unpack, cold (s) | unpack, warm (s) | compile, host toolchain (s) "
        "| compile, build root (s) | ratio | local store after a cold build (MB) | same, host toolchain (MB) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {runs} | {med['cold_fetch_unpack_s']:.1f} | {med['warm_unpack_s']:.1f} | {med['host_compile_s']:.0f} | "
        f"{med['root_compile_s']:.0f} | {ratio:.3f} | {med['store_mb']:.0f} | {med['host_only_store_mb']:.0f} |"
    )


def stop_pantsd(clone: Path) -> None:
    for pid_file in clone.glob(".pids/*/pantsd/pid"):
        try:
            os.kill(int(pid_file.read_text().strip()), 15)
        except (ValueError, ProcessLookupError):
            pass


def bench_inner_loop(runs: int, before: str) -> None:
    """Per round, in an order that rotates: each variant's one-line change and package. Variants: this commit with
    the daemon warm, the same without the OCI archive (--no-oci-image-write-archive), the same with --no-pantsd, and,
    with --before, that commit with its daemon warm. Each variant has a clone of its own, so a daemon only ever
    sees its own options (a daemon whose options change between runs recomputes what depends on them)."""
    variants: Dict[str, Tuple[Path, List[str]]] = {
        "this commit, daemon warm": (scratch_clone(), ["--pantsd"]),
        "this commit, daemon warm, no archive": (scratch_clone(), ["--pantsd", "--no-oci-image-write-archive"]),
        "this commit, --no-pantsd": (scratch_clone(), ["--no-pantsd"]),
    }
    if before:
        old = scratch_clone()
        run(["git", "checkout", "-q", before], cwd=old)
        variants[f"before ({before}), daemon warm"] = (old, ["--pantsd"])
    package = lambda c, flags: run([str(c / "pants"), *flags, "package", IMAGE_TARGET], cwd=c)  # noqa: E731
    seconds: Dict[str, List[float]] = {name: [] for name in variants}
    try:
        for c, flags in variants.values():
            package(c, ["--no-pantsd"])  # everything but the app layer in the cache
            package(c, flags)  # start the daemon and warm its memory
        names = list(variants)
        change = 0
        for i in range(runs):
            for name in names[i % len(names) :] + names[: i % len(names)]:
                c, flags = variants[name]
                one_line_change(c, change)
                change += 1
                seconds[name].append(timed(lambda: package(c, flags)))
            print(json.dumps({name: values[-1] for name, values in seconds.items()}), flush=True)
    finally:
        for c, _ in variants.values():
            stop_pantsd(c)
            shutil.rmtree(c.parent, ignore_errors=True)
    print(f"\n| one-line change to image in dist/ ({runs} rounds) | median s | min-max s |")
    print("|---|---|---|")
    for name, values in seconds.items():
        print(f"| {name} | {statistics.median(values):.2f} | {min(values):.2f}-{max(values):.2f} |")


def bench_cross(levels: List[str], runs: int) -> None:
    """The arm64 cross build beside the native build of the same target, in the same `package` run (both from no
    cache, --no-local-cache), per optimization level: the compile processes' own times from Pants' log."""
    SCRATCH.mkdir(parents=True, exist_ok=True)
    rows = []
    for level in levels:
        name = "rt_cross_" + level.replace("+", "_")
        (SCRATCH / "BUILD").write_text(
            f'python_runtime(name="{name}", version="{VERSION}", optimizations="{level}", '
            'architectures=["amd64", "arm64"])\n'
        )
        target = f"{SCRATCH.relative_to(REPO)}:{name}"
        for suffix in ("#build-root", "#build-root-arm64"):
            run([str(REPO / "pants"), "--no-pantsd", "generate-lockfiles", f"--resolve={target}{suffix}"], cwd=REPO)
        native_times, cross_times = [], []
        for _ in range(runs):
            log = run([str(REPO / "pants"), "--no-pantsd", "--no-local-cache", "package", target], cwd=REPO).stderr
            cross_times.append(
                process_seconds("\n".join(line for line in log.splitlines() if "Cross-compiling" in line))
            )
            native_times.append(
                process_seconds("\n".join(line for line in log.splitlines() if "Cross-compiling" not in line))
            )
        rows.append(
            {
                "level": level,
                "runs": runs,
                "native_s": statistics.median(native_times),
                "cross_s": statistics.median(cross_times),
                "ratio": statistics.median(c / n for c, n in zip(cross_times, native_times)),
            }
        )
    shutil.rmtree(SCRATCH, ignore_errors=True)
    shutil.rmtree(REPO / "3rdparty" / "debian" / SCRATCH.relative_to(REPO), ignore_errors=True)
    print(json.dumps(rows, indent=2))


def bench_suites(suites: List[str], runs: int) -> None:
    """hello-cli's kind of image (a 3.13 runtime at `none`, a pex_binary with humanize, the runtime's default base)
    on each Debian suite, in alternating rounds: the compile process's time from Pants' log (no local cache), and
    the image's compressed and unpacked sizes per layer."""
    SCRATCH.mkdir(parents=True, exist_ok=True)
    (SCRATCH / "hello.py").write_text("import humanize\nprint(humanize.naturalsize(3072))\n")
    build = ['python_sources(name="src")', 'pex_binary(name="hello", entry_point="hello.py")']
    for suite in suites:
        build.append(
            f'python_runtime(name="rt_{suite}", version="{VERSION}", optimizations="none", '
            f'build_root_suite="{suite}")'
        )
        build.append(f'python_oci_image(name="img_{suite}", runtime=":rt_{suite}", binary=":hello")')
    (SCRATCH / "BUILD").write_text("\n".join(build) + "\n")
    where = SCRATCH.relative_to(REPO)
    resolves = [f"--resolve={where}:rt_{s}{suffix}" for s in suites for suffix in ("", "#build-root")]
    run([str(REPO / "pants"), "--no-pantsd", "generate-lockfiles", *resolves], cwd=REPO)
    compile_s: Dict[str, List[float]] = {s: [] for s in suites}
    for _ in range(runs):
        for suite in suites:  # alternating, so drift on a shared machine falls on both
            log = run(
                [str(REPO / "pants"), "--no-pantsd", "--no-local-cache", "package", f"{where}:img_{suite}"], cwd=REPO
            ).stderr
            compile_s[suite].append(process_seconds("\n".join(ln for ln in log.splitlines() if "Compiling" in ln)))
    rows = []
    for suite in suites:
        layers = image_layers(REPO / "dist" / str(where).replace("/", ".") / f"img_{suite}")
        rows.append(
            {
                "suite": suite,
                "runs": runs,
                "compile_s": statistics.median(compile_s[suite]),
                "compressed_mb": round(sum(la["compressed"] for la in layers) / 1e6, 1),
                "unpacked_mb": round(sum(la["files_bytes"] for la in layers) / 1e6, 1),
                "layers": layers,
            }
        )
    shutil.rmtree(SCRATCH, ignore_errors=True)
    shutil.rmtree(REPO / "3rdparty" / "debian" / where, ignore_errors=True)
    print(json.dumps(rows, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="suite", required=True)
    runtime = sub.add_parser("runtime", help="python_runtime compile time, cache, size and start-up")
    runtime.add_argument("--levels", nargs="+", default=["none"], choices=configure_flags.OPTIMIZATIONS)
    runtime.add_argument("--runs", type=int, default=3)
    runtime.add_argument(
        "--skip-warm", action="store_true", help="no warm-up build and no warm timing (for the long PGO levels)"
    )
    image = sub.add_parser("image", help="python_oci_image build times, size and container start-up")
    image.add_argument("--runs", type=int, default=3, help="cold/one-line-change pairs (each compiles CPython)")
    image.add_argument("--startup-runs", type=int, default=15)
    scale = sub.add_parser("scale", help="package time and memory of N synthetic services, cold and warm")
    scale.add_argument("--services", nargs="+", type=int, default=[10, 25, 50])
    scale.add_argument("--warm-runs", type=int, default=3, help="warm runs per N (the median is reported)")
    scale.add_argument(
        "--shared-store",
        action="store_true",
        help="use the machine's own Pants store and named caches (runtimes compiled before are not compiled again; "
        "the services are new, so cold stays cold)",
    )
    size = sub.add_parser("image-size", help="the example image with gzip and with zstd layers: sizes, unpack time")
    size.add_argument("--rounds", type=int, default=7)
    interpreters = sub.add_parser(
        "interpreters", help="pyperformance on this plugin's runtimes beside Debian's python3.13 and python3.11"
    )
    interpreters.add_argument(
        "--levels",
        nargs="+",
        default=[r.name for r in COMPARED_RUNTIMES],
        help="runtimes to compare, by name or optimizations (default: all of COMPARED_RUNTIMES)",
    )
    interpreters.add_argument(
        "--baseline",
        action="append",
        default=[],
        metavar="NAME=ARCHIVE",
        help="a runtime packaged earlier (its .tar.gz) to compare too, against Debian's build of its version",
    )
    interpreters.add_argument("--rounds", type=int, default=3)
    interpreters.add_argument(
        "--processes", type=int, default=3, help="pyperf worker processes per benchmark and round"
    )
    interpreters.add_argument("--benchmarks", nargs="+", default=list(PYPERFORMANCE_SUBSET))
    sub.add_parser("remote-cache", help="package time writing to and reading from a real REAPI cache (BuildGrid)")
    inner = sub.add_parser(
        "inner-loop", help="one-line app change until the image is in dist/, with and without pantsd"
    )
    inner.add_argument("--runs", type=int, default=5)
    inner.add_argument("--before", default="", help="a commit to measure side by side (its own clone and daemon)")
    lock = sub.add_parser("lock", help="generate-lockfiles of the example Debian base from an empty store")
    lock.add_argument("--runs", type=int, default=3)
    root = sub.add_parser("build-root", help="build root fetch and unpack, and the compile in it against the host's")
    root.add_argument("--runs", type=int, default=2)
    cross_suite = sub.add_parser("cross", help="the arm64 cross build of a runtime beside its native build")
    cross_suite.add_argument("--levels", nargs="+", default=["none", "pgo+lto"])
    cross_suite.add_argument("--runs", type=int, default=3)
    publish = sub.add_parser("publish", help="registry push: peak memory of a big layer, re-publish of N images")
    publish.add_argument("--layer-mb", type=int, default=1024)
    publish.add_argument("--services", type=int, default=10)
    publish.add_argument("--before", default="ea7c233", help="the commit whose registry client is the before row")
    publish.add_argument("--runs", type=int, default=3, help="second publishes (the median is reported)")
    suites_suite = sub.add_parser("suites", help="hello-cli's image on each Debian suite: compile time and sizes")
    suites_suite.add_argument("--suites", nargs="+", default=["bookworm", "trixie"])
    suites_suite.add_argument("--runs", type=int, default=3)
    pgo = sub.add_parser("pgo", help="none against pgo+lto (and older builds): compile time and micro-benchmarks")
    pgo.add_argument(
        "--baseline", action="append", default=[], metavar="NAME=ARCHIVE", help="another runtime's .tar.gz to compare"
    )
    pgo.add_argument(
        "--levels", nargs="*", default=["none", "pgo+lto"], help="levels to compile (none: compare --baseline only)"
    )
    pgo.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if args.suite == "remote-cache":
        bench_remote_cache()
    elif args.suite == "scale":
        bench_scale(args.services, args.shared_store, args.warm_runs)
    elif args.suite == "runtime":
        bench_runtime(args.levels, args.runs, args.skip_warm)
    elif args.suite == "image":
        bench_image(args.runs, args.startup_runs)
    elif args.suite == "inner-loop":
        bench_inner_loop(args.runs, args.before)
    elif args.suite == "lock":
        bench_lock(args.runs)
    elif args.suite == "image-size":
        bench_image_size(args.rounds)
    elif args.suite == "build-root":
        bench_build_root(args.runs)
    elif args.suite == "cross":
        bench_cross(args.levels, args.runs)
    elif args.suite == "suites":
        bench_suites(args.suites, args.runs)
    elif args.suite == "publish":
        bench_publish(args.layer_mb, args.services, args.before, args.runs)
    elif args.suite == "pgo":
        bench_pgo(args.levels, args.baseline, args.rounds)
    elif args.suite == "interpreters":
        bench_interpreters(args.levels, args.baseline, args.rounds, args.processes, args.benchmarks)


if __name__ == "__main__":
    main()
