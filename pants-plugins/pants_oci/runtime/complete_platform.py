"""Runs under the freshly built interpreter: print its Pex "complete platform" as JSON.

Pex resolves wheels for a complete platform (marker environment + ordered compatible tags) instead of for the
host interpreter, so apps packaged for this runtime get exactly the wheels this interpreter can load.
The tag order follows `packaging.tags.sys_tags()` (CPython on glibc Linux), reimplemented here because the
freshly built interpreter has no `packaging`. Host-specific markers (kernel release and version) are left out:
they would make the output differ between build machines, and wheels never depend on them.
"""
import json
import os
import platform
import sys

# packaging's legacy manylinux names for glibc 2.17, 2.12 and 2.5.
LEGACY_MANYLINUX = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}


def glibc_version():
    name, version = os.confstr("CS_GNU_LIBC_VERSION").split()
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def platform_tags(machine, glibc):
    oldest_minor = 5 if machine in ("x86_64", "i686") else 17
    for minor in range(glibc[1], oldest_minor - 1, -1):
        yield f"manylinux_2_{minor}_{machine}"
        legacy = LEGACY_MANYLINUX.get((2, minor))
        if legacy:
            yield f"{legacy}_{machine}"
    yield f"linux_{machine}"


def compatible_tags(version_info, platforms):
    major, minor = version_info[:2]
    interpreter = f"cp{major}{minor}"
    tags = [f"{interpreter}-{interpreter}-{p}" for p in platforms]
    tags += [f"{interpreter}-abi3-{p}" for p in platforms]
    tags += [f"{interpreter}-none-{p}" for p in platforms]
    tags += [f"cp{major}{m}-abi3-{p}" for m in range(minor - 1, 1, -1) for p in platforms]
    py_versions = [f"py{major}{minor}", f"py{major}"] + [f"py{major}{m}" for m in range(minor - 1, -1, -1)]
    tags += [f"{v}-none-{p}" for v in py_versions for p in platforms]
    tags.append(f"{interpreter}-none-any")
    tags += [f"{v}-none-any" for v in py_versions]
    return tags


def marker_environment():
    return {
        "implementation_name": sys.implementation.name,
        "implementation_version": platform.python_version(),
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_python_implementation": platform.python_implementation(),
        "platform_system": platform.system(),
        "python_full_version": platform.python_version(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def main():
    platforms = list(platform_tags(platform.machine(), glibc_version()))
    document = {
        "marker_environment": marker_environment(),
        "compatible_tags": compatible_tags(sys.version_info, platforms),
    }
    json.dump(document, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
