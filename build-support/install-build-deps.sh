#!/usr/bin/env bash
# Installs, on a Debian/Ubuntu host, what building and testing this repo needs beyond a stock machine:
# the -dev packages whose headers CPython's stdlib extension modules compile against (seed 000's list, for
# Debian 12), and the daemonless container tools the image tests drive. Idempotent; needs root (or sudo).
set -euo pipefail

# Headers for stdlib modules: module -> package is documented in pants-plugins/pants_oci/runtime/modules.py.
readonly CPYTHON_BUILD_DEPS=(
  build-essential pkg-config
  libssl-dev zlib1g-dev libbz2-dev liblzma-dev libsqlite3-dev libffi-dev libreadline-dev
  libncurses-dev libgdbm-dev libgdbm-compat-dev uuid-dev libexpat1-dev
)
# hardening-check (devscripts) verifies the compiled interpreter's hardening flags.
readonly VERIFY_TOOLS=(devscripts)
# Daemonless container tools: the image tests inspect (skopeo), unpack (umoci), run (runc) and load (podman)
# the images; `./pants run` on a python_oci_image uses umoci and runc. The publish tests push to a real
# registry (docker-registry, the distribution project) with htpasswd users (apache2-utils).
readonly CONTAINER_TOOLS=(umoci skopeo runc podman docker-registry apache2-utils)

missing=()
for pkg in "${CPYTHON_BUILD_DEPS[@]}" "${VERIFY_TOOLS[@]}" "${CONTAINER_TOOLS[@]}"; do
  dpkg-query -W -f='${Status}' "${pkg}" 2>/dev/null | grep -q "install ok installed" || missing+=("${pkg}")
done
if ((${#missing[@]} == 0)); then
  echo "install-build-deps: everything is installed already."
  exit 0
fi
echo "install-build-deps: installing ${missing[*]}"
SUDO=""
[[ "$(id -u)" == "0" ]] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
${SUDO} apt-get update -qq
${SUDO} apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
