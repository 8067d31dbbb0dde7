#!/usr/bin/env bash
# Lays a compiled runtime's libpython out again with BOLT, from the deterministic PGO training (runtime/bolt.py
# says why this way). Runs in the build root, in the sandbox root, after build_cpython.sh compiled the tree with
# relocations kept and symbols in (configure_flags.BOLT_LDFLAGS).
#
# Inputs: out/<prefix>/ (that compile's tree), fixed_layout.c, pgo-training/pgo_training.py, and the
# environment: CPYTHON_PREFIX, CPYTHON_VERSION, SOURCE_DATE_EPOCH, BOLT_BIN_DIR (llvm-bolt and merge-fdata),
# BOLT_INSTRUMENT_FLAGS and BOLT_APPLY_FLAGS (space-separated).
# Output: out/<prefix>/ with libpython optimized and every ELF file stripped.
# Exit codes: 0 ok; 2 explained (the failing step and its log's tail on stderr).
set -euo pipefail

sandbox="$(pwd)"
tree="${sandbox}/out${CPYTHON_PREFIX}"
work="${sandbox}/build"
logs="${sandbox}/logs"
minor="${CPYTHON_VERSION%.*}"
python="${tree}/bin/python${minor}"
library="${tree}/lib/libpython${minor}.so.1.0"
mkdir -p "${work}" "${logs}"
read -r -a instrument_flags <<<"${BOLT_INSTRUMENT_FLAGS}"
read -r -a apply_flags <<<"${BOLT_APPLY_FLAGS}"

step() { echo "[bolt_runtime] $*" >&2; }
run_logged() {  # run_logged STEP CMD... : run quietly, keep the log, fail with its tail
  local name="$1"; shift
  "$@" >"${logs}/${name}.log" 2>&1 && return 0
  echo "[bolt_runtime] FAILED: ${name}" >&2
  tail -n 40 "${logs}/${name}.log" >&2
  exit 2
}

prebolt="${work}/libpython.prebolt"
cp "${library}" "${prebolt}"

step "instrumenting $(basename "${library}") (llvm-bolt $("${BOLT_BIN_DIR}/llvm-bolt" --version | sed -n 's/.*LLVM version //p'))"
# One counts file per process (the training is single-threaded, and runs in a fresh PID namespace).
run_logged instrument "${BOLT_BIN_DIR}/llvm-bolt" "${prebolt}" -o "${library}" -instrument \
  -instrumentation-file-append-pid -instrumentation-file="${work}/counts" "${instrument_flags[@]}"

run_logged fixed-layout "$(command -v gcc || command -v cc)" -O2 -o "${work}/fixed_layout" "${sandbox}/fixed_layout.c"
step "training run (pgo-training/pgo_training.py, fixed addresses), instrumented"
# The PGO step's fixed environment. -B: the tree's bytecode is read as shipped, never rewritten.
set +e
env -i PATH="${PATH}" LC_ALL=C.UTF-8 TZ=UTC HOME=/nonexistent PYTHONHASHSEED=0 \
  "${work}/fixed_layout" "${python}" -B "${sandbox}/pgo-training/pgo_training.py" >"${logs}/training.log" 2>&1
status=$?
set -e
if [[ ${status} -ne 0 ]]; then
  echo "[bolt_runtime] FAILED: the training run under BOLT instrumentation (exit ${status})" >&2
  tail -n 40 "${logs}/training.log" >&2
  exit 2
fi
shopt -s nullglob
counts=("${work}"/counts.*.fdata)
if [[ ${#counts[@]} -eq 0 ]]; then
  echo "[bolt_runtime] FAILED: the instrumented training wrote no counts (${work}/counts.*.fdata)" >&2
  exit 2
fi
"${BOLT_BIN_DIR}/merge-fdata" "${counts[@]}" >"${work}/libpython.fdata" 2>"${logs}/merge.log" || {
  echo "[bolt_runtime] FAILED: merge-fdata" >&2; tail -n 40 "${logs}/merge.log" >&2; exit 2; }

step "optimizing $(basename "${library}") with ${#counts[@]} counts file(s), training output $(tail -n 1 "${logs}/training.log")"
run_logged optimize "${BOLT_BIN_DIR}/llvm-bolt" "${prebolt}" -o "${library}" -data="${work}/libpython.fdata" \
  "${apply_flags[@]}"

step "stripping"
# What the link's --strip-all does for the other levels: no symbol tables in the runtime (dynamic symbols stay).
# Executables and shared objects only: config-X.Y/python.o is for linking and keeps its symbols.
find "${tree}" -type f \( -name '*.so' -o -name '*.so.*' -o -path "${tree}/bin/python${minor}" \) -print0 \
  | sort -z | xargs -0 strip --strip-all

# BOLT rewrites the program headers: a library that lost PT_GNU_STACK (or got an executable one) would make glibc
# give every process that loads it an executable stack.
if ! readelf -lW "${library}" | grep -Eq '^ +GNU_STACK +.* RW +0x'; then
  echo "[bolt_runtime] FAILED: $(basename "${library}") has no non-executable PT_GNU_STACK header after BOLT" >&2
  exit 2
fi
# The optimized library runs the training again: a layout bug shows here, not in a container.
run_logged check env -i PATH="${PATH}" LC_ALL=C.UTF-8 TZ=UTC HOME=/nonexistent PYTHONHASHSEED=0 \
  "${python}" -B "${sandbox}/pgo-training/pgo_training.py"
find "${tree}" -exec touch -h -d "@${SOURCE_DATE_EPOCH}" {} +
step "done: libpython $(du -h "${library}" | cut -f1), was $(du -h "${prebolt}" | cut -f1) before BOLT and stripping"
