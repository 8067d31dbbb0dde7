#!/usr/bin/env bash
# Compiles CPython inside a Pants sandbox into a relocatable, trimmed, reproducible tree.
#
# Runs in the sandbox root. Everything it needs comes in as files and environment variables that the rule
# computed (see build_plan.py / configure_flags.py); it never reads the network. Outputs:
#   out/<prefix>/...    the install tree (e.g. out/opt/python/bin/python3.13)
#   out/report.json     what was built: modules present and missing, sizes (written by check_modules.py)
#   out/complete_platform.json   the interpreter's Pex complete platform
# Exit codes: 0 ok; 10 configure failed; 11 make failed; 12 install failed; 13 required modules missing;
# 14 the PGO training run failed; 15 the kernel refused to fix the training's addresses; 16 a PGO profile made by
# another GCC version.
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
#   CPYTHON_PROFILE      (pgo only) "generate": build instrumented, run the training, write out/pgo-profile.tar.gz;
#                        otherwise the path of such an archive to optimize with
#   CPYTHON_PROFILE_MANIFEST  (generate only) the JSON written into the archive as pgo-profile.json
#   SOURCE_DATE_EPOCH    fixed timestamp for anything the build stamps
#   Cross builds only (runtime/cross.py): CPYTHON_CROSS_HOST / CPYTHON_CROSS_BUILD (GNU triplets),
#   CPYTHON_BUILD_PYTHON (a native interpreter of the same version, relative to the sandbox),
#   CPYTHON_TARGET_EMULATOR (the qemu-user program that runs the target's binaries), CPYTHON_CONFIG_SITE
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

# The interpreter that runs the new runtime's checks, and the one that compiles its bytecode: the new one itself,
# or for a cross build the target's under its emulator and the native build of the same version.
run_target() { "$@"; }
bytecode_python=""
if [[ -n "${CPYTHON_CROSS_HOST:-}" ]]; then
  build_python="${sandbox}/${CPYTHON_BUILD_PYTHON}"
  bytecode_python="${build_python}"
  run_target() { "${CPYTHON_TARGET_EMULATOR}" "$@"; }
  printf '%s\n' "${CPYTHON_CONFIG_SITE}" >"${sandbox}/build/config.site"
  export CONFIG_SITE="${sandbox}/build/config.site"
  # pkg-config reports the target's libraries, never the build machine's.
  export PKG_CONFIG_LIBDIR="/usr/lib/${CPYTHON_CROSS_HOST}/pkgconfig:/usr/share/pkgconfig"
  configure_args+=("--host=${CPYTHON_CROSS_HOST}" "--build=${CPYTHON_CROSS_BUILD}" "--with-build-python=${build_python}")
  step "cross-compiling for ${CPYTHON_CROSS_HOST} with the build Python ${CPYTHON_BUILD_PYTHON}"
fi

step "configure (${CPYTHON_VERSION}, prefix ${CPYTHON_PREFIX})"
run_logged 10 configure ./configure --prefix="${CPYTHON_PREFIX}" "${configure_args[@]}"

compiler_version() { "$(command -v gcc || command -v cc)" -dumpfullversion; }

if [[ "${CPYTHON_PROFILE:-}" == "generate" ]]; then
  # The profile must be a function of the inputs (see pgo_training.py): -frandom-seed replaces the clock in the
  # stamp each .gcda file carries, and atomic updates keep counters exact whatever threads run.
  step "make profile-gen-stamp -j${CPYTHON_JOBS} (instrumented build)"
  run_logged 11 make make -j"${CPYTHON_JOBS}" profile-gen-stamp \
    PGO_PROF_GEN_FLAG="-fprofile-generate -fprofile-update=atomic -frandom-seed=pants-oci-pgo"
  # The build itself ran the instrumented interpreter (freezing modules, writing sysconfig data, checking
  # extensions), in whatever order make's jobs took: only the training may count. Its bytecode goes too, so
  # the training finds the same files on every run.
  find . -name '*.gcda' -delete
  find Lib -depth -name __pycache__ -type d -exec rm -rf {} +
  fixed_layout="${sandbox}/build/fixed_layout"
  run_logged 11 fixed-layout "$(command -v gcc || command -v cc)" -O2 -o "${fixed_layout}" "${sandbox}/fixed_layout.c"
  step "training run (pgo-training/pgo_training.py, fixed addresses)"
  set +e
  # A fixed environment: nothing of the process's own (it is the cache key's anyway) beyond PATH. The output goes
  # to a new file: io asks a seekable stdout for its offset and, when it is not 0, calls the encoder's setstate,
  # one Python call more that the profile would count (appending to a log would make it depend on the log).
  env -i PATH="${PATH}" LC_ALL=C.UTF-8 TZ=UTC HOME=/nonexistent PYTHONHASHSEED=0 LD_LIBRARY_PATH="${src}" \
    "${fixed_layout}" ./python "${sandbox}/pgo-training/pgo_training.py" >"${logs}/training.log" 2>&1
  training_status=$?
  set -e
  if [[ ${training_status} -eq 3 ]] && grep -q "^fixed_layout: the kernel refused" "${logs}/training.log"; then
    cat "${logs}/training.log" >&2
    exit 15
  fi
  [[ ${training_status} -eq 0 ]] || fail 14 "PGO training" "${logs}/training.log"
  profile="${sandbox}/build/profile"
  mkdir -p "${profile}/gcda"
  find . -name '*.gcda' -print0 | sort -z | tar --null -T - -cf - | tar --no-same-owner -xf - -C "${profile}/gcda"
  count="$(find "${profile}/gcda" -name '*.gcda' | wc -l)"
  if [[ "${count}" -eq 0 ]]; then
    echo "the training run wrote no .gcda files: a PGO profile needs GCC" >"${logs}/profile.log"
    fail 14 "PGO training" "${logs}/profile.log"
  fi
  printf '%s\n' "${CPYTHON_PROFILE_MANIFEST}" >"${profile}/pgo-profile.json"
  compiler_version >"${profile}/gcc-version"
  # The same bytes for the same counts: sorted names, fixed owners, modes and times.
  tar --sort=name --format=gnu --owner=0 --group=0 --numeric-owner --mode=a+rX,u+w,go-w \
    --mtime="@${SOURCE_DATE_EPOCH}" -cf - -C "${profile}" . | gzip -n -9 >"${destdir}/pgo-profile.tar.gz"
  step "profile: ${count} .gcda files, training output $(tail -n 1 "${logs}/training.log")"
  exit 0
fi
if [[ -n "${CPYTHON_PROFILE:-}" ]]; then
  step "optimizing with the PGO profile $(basename "${CPYTHON_PROFILE}")"
  profile="${sandbox}/build/profile"
  mkdir -p "${profile}"
  tar --no-same-owner -xzf "${sandbox}/${CPYTHON_PROFILE}" -C "${profile}"
  made_by="$(cat "${profile}/gcc-version")"
  if [[ "${made_by}" != "$(compiler_version)" ]]; then
    echo "[build_cpython] the PGO profile was made by GCC ${made_by}, and this compile uses GCC $(compiler_version)," \
      "which would ignore it" >&2
    exit 16
  fi
  (cd "${profile}/gcda" && tar -cf - .) | tar --no-same-owner -xf -
  # Mark the profile stages done so make goes straight to the optimized build with -fprofile-use.
  touch profile-gen-stamp profile-run-stamp
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
run_target "${python}" -I -B "${sandbox}/check_modules.py" \
  --required "${CPYTHON_REQUIRED_MODULES:-}" --optional "${CPYTHON_OPTIONAL_MODULES:-}" \
  --may-be-missing "${CPYTHON_MAY_BE_MISSING:-}" --make-log "${logs}/make.log" \
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
  PYTHONHASHSEED=0 "${bytecode_python:-${python}}" -s -B -m compileall -q -j0 --invalidation-mode unchecked-hash \
    -d "${CPYTHON_PREFIX}/${stdlib}" "${stdlib}" >"${logs}/compileall.log" 2>&1 \
    || fail 12 compileall "${logs}/compileall.log"
fi

step "writing the complete platform"
run_target "${python}" -I -B "${sandbox}/complete_platform.py" >"${destdir}/complete_platform.json"

# Nothing that ran above may have left the sandbox path behind (e.g. bytecode written on import).
if grep -rlI -F "${sandbox}" . >"${logs}/leaks.txt" || grep -rl -F "${sandbox}" --include='*.pyc' . >>"${logs}/leaks.txt"; then
  fail 12 "final path check (files still naming the sandbox)" "${logs}/leaks.txt"
fi

# Fixed mtimes: Pants digests ignore them, but the archives and layers made from this tree must not see
# the build's clock either.
find . -exec touch -h -d "@${SOURCE_DATE_EPOCH}" {} +
step "done: $(du -sh . | cut -f1) in ${CPYTHON_PREFIX}"
