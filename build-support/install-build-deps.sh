#!/usr/bin/env bash
# Installs, on a Debian/Ubuntu host, the tools this repo's tests drive beyond a stock machine: the daemonless
# container tools and hardening-check. Idempotent; needs root (or sudo).
#
# No compiler and no -dev packages: python_runtime targets compile CPython inside a build root unpacked from their
# pinned Debian lock (see the README, "The build root"), so building needs nothing of the host but a kernel that
# allows user namespaces.
set -euo pipefail

# hardening-check (devscripts) verifies the compiled interpreter's hardening flags; openssl makes the TLS test's certificate.
readonly VERIFY_TOOLS=(devscripts openssl)
# Daemonless container tools: the image tests inspect (skopeo), unpack (umoci), run (runc) and load (podman)
# the images; `./pants run` on a python_oci_image uses umoci and runc. The publish tests push to a real
# registry (docker-registry, the distribution project) with htpasswd users (apache2-utils).
readonly CONTAINER_TOOLS=(umoci skopeo runc podman docker-registry apache2-utils)

missing=()
for pkg in "${VERIFY_TOOLS[@]}" "${CONTAINER_TOOLS[@]}"; do
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
