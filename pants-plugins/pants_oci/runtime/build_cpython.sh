#!/usr/bin/env bash
# Compiles CPython inside a Pants sandbox into a relocatable, trimmed, reproducible tree.
#
# Runs in the sandbox root. Everything it needs comes in as files and environment variables that the rule
# computed (see rules.py / configure_flags.py); it never reads the network. Outputs:
#   out/<prefix>/...    the install tree (e.g. out/opt/python/bin/python3.13)
#   out/report.json     what was built: modules present and missing, sizes (written by check_modules.py)
#   out/complete_platform.json   the interpreter's Pex complete platform
# Exit codes: 0 ok; 10 configure failed; 11 make failed; 12 install failed; 13 required modules missing.
# On failure the tail of the failing step's log goes to stderr for the rule to diagnose.
#
# Inputs (environment):
#   CPYTHON_TARBALL      path of the verified source tarball
#   CPYTHON_VERSION      e.g. 3.13.5
#   CPYTHON_PREFIX       absolute install prefix baked into the tree, e.g. /opt/python
#   CPYTHON_CONFIGURE_ARGS  newline-separated ./configure arguments (flags table + hardening)
#   CPYTHON_BYTECODE     none | unchecked-hash
#   CPYTHON_KEEP         space-separated trimmings to skip: tkinter idlelib ensurepip tests
#   CPYTHON_REQUIRED_MODULES / CPYTHON_OPTIONAL_MODULES  space-separated module names
#   CPYTHON_DROP_MODULES  (optional) extension modules to remove: they would load libraries nothing declared
#   CPYTHON_PROFILE_DIR  (pgo only) directory of .gcda files from the profile step, or "generate" to make them
#   SOURCE_DATE_EPOCH    fixed timestamp for anything the build stamps
set -euo pipefail

# $1: make's job count, Pants' {pants_concurrency} (kept out of the environment so it is not in the cache key).
CPYTHON_JOBS="${1:-${CPYTHON_JOBS:-1}}"
sandbox="$(pwd)"
src="${sandbox}/build/Python-${CPYTHON_VERSION}"
destdir="${sandbox}/out"
tree="${destdir}${CPYTHON_PREFIX}"
logs="${sandbox}/logs"
mkdir -p "${src}" "${logs}" "${destdir}"

step() { echo "[build_cpython] $*" >&2; }
fail() {  # fail CODE STEP LOGFILE
  echo "[build_cpython] FAILED: $2" >&2
  echo "----- last lines of the $2 log -----" >&2
  tail -n 60 "$3" >&2
  exit "$1"
}
run_logged() {  # run_logged CODE STEP CMD... : run quietly, keep the log, fail with its tail
  local code="$1" name="$2"; shift 2
  local log="${logs}/${name}.log"
  "$@" >"${log}" 2>&1 || fail "${code}" "${name}" "${log}"
}

step "extracting $(basename "${CPYTHON_TARBALL}")"
# --no-same-owner: in a build root the script runs as root of a user namespace where only root is mapped, so the
# tarball's owners (uid 1000 in some releases) cannot be restored, and need not be.
tar --no-same-owner -xf "${CPYTHON_TARBALL}" -C "${src}" --strip-components=1

cd "${src}"
# The build directory's absolute path differs in every sandbox: map it to a fixed name in everything the
# compiler records (__FILE__, debug info), and scrub the text files that copy CFLAGS verbatim below.
readonly FIXED_SRC="/usr/src/python"
prefix_map="-ffile-prefix-map=${src}=${FIXED_SRC}"

mapfile -t configure_args <<<"${CPYTHON_CONFIGURE_ARGS}"
configure_args=("${configure_args[@]/@PREFIX_MAP@/${prefix_map}}")

step "configure (${CPYTHON_VERSION}, prefix ${CPYTHON_PREFIX})"
run_logged 10 configure ./configure --prefix="${CPYTHON_PREFIX}" "${configure_args[@]}"

if [[ "${CPYTHON_PROFILE_DIR:-}" == "generate" ]]; then
  step "make profile-run-stamp -j${CPYTHON_JOBS} (instrumented build + profile task)"
  run_logged 11 make make -j"${CPYTHON_JOBS}" profile-run-stamp
  # Only the profile leaves this step: .gcda files at their paths relative to the source tree.
  mkdir -p "${destdir}/profile"
  find . -name '*.gcda' -print0 | sort -z | tar --null -T - -cf - | tar --no-same-owner -xf - -C "${destdir}/profile"
  step "profile: $(find "${destdir}/profile" -name '*.gcda' | wc -l) .gcda files"
  exit 0
fi
if [[ -n "${CPYTHON_PROFILE_DIR:-}" ]]; then
  step "using the profile from the PGO profile step"
  # Mark the profile stages done so make goes straight to the optimized build with -fprofile-use.
  (cd "${sandbox}/${CPYTHON_PROFILE_DIR}" && tar -cf - .) | tar --no-same-owner -xf -
  touch profile-gen-stamp profile-run-stamp
  # The default target (profile-opt) now rebuilds with -fprofile-use from the .gcda files put in place.
  run_logged 11 make make -j"${CPYTHON_JOBS}"
else
  step "make -j${CPYTHON_JOBS}"
  run_logged 11 make make -j"${CPYTHON_JOBS}"
fi

step "make install"
# make install also byte-compiles the stdlib at three optimization levels, bytecode that is deleted below
# (the policy is applied after trimming). `-l` (no recursion) cuts that to the top-level modules on 3.12+,
# where COMPILEALL_OPTS exists; older Makefiles ignore the variable.
run_logged 12 install make install DESTDIR="${destdir}" COMPILEALL_OPTS="-j0 -l"

export LC_ALL=C
cd "${tree}"
stdlib="lib/python${CPYTHON_VERSION%.*}"

keep() { [[ " ${CPYTHON_KEEP:-} " == *" $1 "* ]]; }

step "trimming"
# Bytecode made by the build, static libraries and the test suites: the official image's trimming.
find . -depth -name __pycache__ -type d -exec rm -rf {} +
find . -name '*.a' -type f -delete
if ! keep tests; then
  find "${stdlib}" -depth -type d \( -name test -o -name tests -o -name idle_test \) -exec rm -rf {} +
  rm -rf "${stdlib}"/lib-dynload/_test*.so "${stdlib}"/lib-dynload/_ctypes_test*.so \
    "${stdlib}"/lib-dynload/xxlimited*.so "${stdlib}"/lib-dynload/xxsubtype*.so "${stdlib}"/lib-dynload/_xx*.so
fi
if ! keep idlelib; then rm -rf "${stdlib}/idlelib" bin/idle3*; fi
if ! keep tkinter; then
  rm -rf "${stdlib}/tkinter" "${stdlib}/turtle.py" "${stdlib}/turtledemo" "${stdlib}"/lib-dynload/_tkinter*.so
fi
if ! keep ensurepip; then rm -rf "${stdlib}/ensurepip"; fi
for module in ${CPYTHON_DROP_MODULES:-}; do rm -f "${stdlib}/lib-dynload/${module}".cpython-*.so; done
rm -rf share/man  # man pages do nothing inside an image

step "scrubbing build paths"
# sysconfigdata, the config Makefile, python-config and .pc files copy CFLAGS (our -ffile-prefix-map) and
# the build directory verbatim. Replace the sandbox path with the fixed name the compiler already uses.
grep -rlI --null -F "${sandbox}" . | xargs -0 -r sed -i "s|${src}|${FIXED_SRC}|g; s|${sandbox}|/usr/src|g"
if grep -rlI -F "${sandbox}" . >"${logs}/leaks.txt"; then
  fail 12 "path-scrub (files still naming the sandbox)" "${logs}/leaks.txt"
fi

python="bin/python${CPYTHON_VERSION%.*}"
step "checking stdlib modules"
set +e
"${python}" -I -B "${sandbox}/check_modules.py" \
  --required "${CPYTHON_REQUIRED_MODULES:-}" --optional "${CPYTHON_OPTIONAL_MODULES:-}" \
  --report "${destdir}/report.json" >&2
check_status=$?
set -e
if [[ ${check_status} -ne 0 ]]; then
  echo "----- why each missing module was not built (from the make log) -----" >&2
  grep -E -A12 "necessary bits to build these optional modules|Following modules built successfully but were removed|Could not build the ssl module|^\s*_[a-z0-9_]+\s+(missing|disabled)" \
    "${logs}/make.log" >&2 || true
  exit 13
fi

if [[ "${CPYTHON_BYTECODE}" == "unchecked-hash" ]]; then
  step "precompiling bytecode (unchecked-hash, deterministic)"
  # unchecked-hash pycs embed no mtime, and the interpreter never rewrites them: reproducible and
  # read-only-root friendly. A fixed hash seed keeps set/frozenset constants in a stable order.
  # Optimization level 0 only: containers run without -O, and levels 1 and 2 would double the size.
  # Workers compile files independently, so -j does not change the output. Not -I: isolated mode ignores
  # PYTHONHASHSEED (all PYTHON* variables), and the environment here is the process's own, fixed one.
  PYTHONHASHSEED=0 "${python}" -s -B -m compileall -q -j0 --invalidation-mode unchecked-hash \
    -d "${CPYTHON_PREFIX}/${stdlib}" "${stdlib}" >"${logs}/compileall.log" 2>&1 \
    || fail 12 compileall "${logs}/compileall.log"
fi

step "writing the complete platform"
"${python}" -I -B "${sandbox}/complete_platform.py" >"${destdir}/complete_platform.json"

# Nothing that ran above may have left the sandbox path behind (e.g. bytecode written on import).
if grep -rlI -F "${sandbox}" . >"${logs}/leaks.txt" || grep -rl -F "${sandbox}" --include='*.pyc' . >>"${logs}/leaks.txt"; then
  fail 12 "final path check (files still naming the sandbox)" "${logs}/leaks.txt"
fi

# Fixed mtimes: Pants digests ignore them, but the archives and layers made from this tree must not see
# the build's clock either.
find . -exec touch -h -d "@${SOURCE_DATE_EPOCH}" {} +
step "done: $(du -sh . | cut -f1) in ${CPYTHON_PREFIX}"
