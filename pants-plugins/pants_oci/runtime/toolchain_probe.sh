#!/usr/bin/env bash
# Prints what a CPython build on this host would compile and link with, one fact per line.
# The rule hashes this text into the build's cache key, so a different compiler, linker, make, libc or
# -dev library version never reuses a runtime built with another. It runs on every Pants run (cheap: about
# a second) because the host can change between runs. Lines starting with "missing-tool" are fatal.
set -uo pipefail
export LC_ALL=C

for tool in cc make ld as ar ranlib strip tar xz gzip sed grep find pkg-config; do
  if path="$(command -v "${tool}")"; then
    echo "tool ${tool} $("${tool}" --version 2>&1 | head -n1)"
  else
    echo "missing-tool ${tool}"
  fi
done
command -v cc >/dev/null || exit 0
echo "libc $(getconf GNU_LIBC_VERSION 2>/dev/null || echo unknown)"
echo "cc-target $(cc -dumpmachine)"

# The headers the stdlib's extension modules include, with everything they pull in, by content.
headers="openssl/ssl.h sqlite3.h ffi.h zlib.h bzlib.h lzma.h readline/readline.h ncursesw/curses.h
         ncursesw/panel.h uuid/uuid.h gdbm.h ndbm.h gdbm-ndbm.h expat.h crypt.h tk.h"
for h in ${headers}; do
  if deps="$(echo "#include <${h}>" | cc -M -E - 2>/dev/null)"; then
    files="$(echo "${deps}" | tr ' \\' '\n\n' | grep '^/' | sort -u)"
    echo "header ${h} $(echo "${files}" | xargs -r sha256sum | sha256sum | cut -c1-16)"
  else
    echo "header ${h} absent"
  fi
done
# The shared libraries the linker would pick for them.
for lib in ssl crypto sqlite3 ffi z bz2 lzma readline ncursesw panelw uuid gdbm gdbm_compat expat crypt; do
  so="$(cc -print-file-name="lib${lib}.so")"
  if [[ "${so}" == /* && -e "${so}" ]]; then
    echo "lib ${lib} $(sha256sum "$(readlink -f "${so}")" | cut -c1-16)"
  else
    echo "lib ${lib} absent"
  fi
done
