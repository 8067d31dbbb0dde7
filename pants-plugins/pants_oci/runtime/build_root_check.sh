#!/bin/sh
# Can this host run a build root compile? Tries what enter_build_root.sh does (a user namespace with its own
# mounts) and prints "ok" as its last line if it works; otherwise facts for build_plan.sandbox_problem to explain:
#   missing-tool NAME | sysctl PATH VALUE | unshare-failed MESSAGE
# Runs before any build root is fetched or compile starts, in every Pants run that compiles (cheap: ~10 ms).
for tool in unshare mount chroot; do
  command -v "${tool}" >/dev/null 2>&1 || echo "missing-tool ${tool}"
done
for f in /proc/sys/kernel/apparmor_restrict_unprivileged_userns /proc/sys/user/max_user_namespaces \
         /proc/sys/kernel/unprivileged_userns_clone; do
  if [ -r "${f}" ]; then echo "sysctl ${f} $(cat "${f}")"; fi
done
mkdir -p probe
if out="$(unshare --user --map-root-user --mount --pid --net --ipc --uts --fork --kill-child \
          sh -c 'mount -t tmpfs tmpfs probe && echo ok' 2>&1)"; then
  echo "${out}" | tail -n 1
else
  echo "unshare-failed $(echo "${out}" | tr '\n' ' ')"
fi
