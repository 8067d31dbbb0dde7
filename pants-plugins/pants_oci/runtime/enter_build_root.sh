#!/bin/sh
# Runs a command chrooted into a build root, as root of fresh user, mount, PID, network, IPC and UTS namespaces.
#
#   unshare --user --map-root-user --mount --pid --net --ipc --uts --fork --kill-child \
#     sh enter_build_root.sh ROOT COMMAND [ARGS...]
#
# ROOT is the build root tree (a Pants immutable input, shared by every process that uses it: mounted read-only
# here, so no build can change it for the next). The working directory, the process's sandbox, is mounted at
# /pants-oci-build and becomes the command's working directory. /proc is fresh (the host's, bound, where the
# kernel refuses a new one inside a container), /dev is the host's, /tmp is an empty tmpfs. Nothing else of the
# host is visible: no /usr, no /etc, no network. Uses only `mount` and `chroot`, which every Linux has.
set -eu
root="$(cd "$1" && pwd -P)"
shift
work="$(pwd -P)"

mount --bind "${root}" "${root}"
# Remounting read-only must keep the flags the kernel locks in a user namespace (nosuid, nodev, ...); adding
# them is always allowed, so try the plain form first and the restrictive one second.
mount -o remount,bind,ro "${root}" 2>/dev/null || mount -o remount,bind,ro,nosuid,nodev "${root}"
mount --rbind /dev "${root}/dev"
mount -t proc proc "${root}/proc" 2>/dev/null || mount --rbind /proc "${root}/proc"
mount -t tmpfs -o mode=1777 tmpfs "${root}/tmp"
mount --bind "${work}" "${root}/pants-oci-build"
exec chroot "${root}" /bin/sh -c 'cd /pants-oci-build && exec "$@"' enter_build_root "$@"
