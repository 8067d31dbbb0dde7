import pytest

from pants_oci.debian.index import DebianResolveError, parse_packages_index, resolve_closure

INDEX = """Package: libc6
Version: 2.36-9+deb12u14
Architecture: amd64
Depends: libgcc-s1
Filename: pool/main/g/glibc/libc6_2.36-9+deb12u14_amd64.deb
Size: 2759320
SHA256: aaaa

Package: libgcc-s1
Version: 12.2.0-14
Architecture: amd64
Pre-Depends: libc6 (>= 2.35)
Depends: gcc-12-base (= 12.2.0-14)
Filename: pool/main/g/gcc-12/libgcc-s1_12.2.0-14_amd64.deb
Size: 49856
SHA256: bbbb

Package: gcc-12-base
Version: 12.2.0-14
Architecture: amd64
Filename: pool/main/g/gcc-12/gcc-12-base_12.2.0-14_amd64.deb
Size: 37596
SHA256: cccc

Package: ca-certificates
Version: 20230311
Architecture: all
Depends: openssl (>= 1.1.1), debconf (>= 0.5) | debconf-2.0
Filename: pool/main/c/ca-certificates/ca-certificates_20230311_all.deb
Size: 155260
SHA256: dddd
Description: Common CA certificates
 Contains the certificate authorities shipped with Mozilla's browser.

Package: libssl3
Version: 3.0.20
Architecture: amd64
Depends: libc6 (>= 2.34), libfoo-virtual
Filename: pool/main/o/openssl/libssl3_3.0.20_amd64.deb
Size: 2036016
SHA256: eeee

Package: libfoo-real
Version: 1
Architecture: amd64
Provides: libfoo-virtual
Filename: pool/main/f/foo/libfoo-real_1_amd64.deb
Size: 10
SHA256: ffff

Package: openssl
Version: 3.0.20
Architecture: amd64
Depends: libc6
Filename: pool/main/o/openssl/openssl_3.0.20_amd64.deb
Size: 1438712
SHA256: 1111
"""


def test_parse_reads_pins_and_relations() -> None:
    index = parse_packages_index(INDEX)
    libgcc = index["libgcc-s1"]
    assert (libgcc.version, libgcc.sha256, libgcc.size) == ("12.2.0-14", "bbbb", 49856)
    assert libgcc.filename == "pool/main/g/gcc-12/libgcc-s1_12.2.0-14_amd64.deb"
    assert libgcc.depends == (("libc6",), ("gcc-12-base",))  # Pre-Depends first, versions dropped
    assert index["ca-certificates"].depends == (("openssl",), ("debconf", "debconf-2.0"))


def test_closure_follows_depends_and_pre_depends_through_cycles() -> None:
    closure = resolve_closure(["libc6"], parse_packages_index(INDEX))
    assert [p.name for p in closure] == ["gcc-12-base", "libc6", "libgcc-s1"]


def test_install_time_only_dependencies_are_left_out_unless_asked_for() -> None:
    index = parse_packages_index(INDEX)
    assert [p.name for p in resolve_closure(["ca-certificates"], index)] == ["ca-certificates"]
    assert "openssl" in [p.name for p in resolve_closure(["ca-certificates", "openssl"], index)]


def test_virtual_packages_resolve_to_a_provider() -> None:
    names = [p.name for p in resolve_closure(["libssl3"], parse_packages_index(INDEX))]
    assert "libfoo-real" in names and "libfoo-virtual" not in names


def test_unknown_package_is_named() -> None:
    with pytest.raises(DebianResolveError, match=r"Unknown Debian package\(s\) 'libsssl3'"):
        resolve_closure(["libc6", "libsssl3"], parse_packages_index(INDEX))


def test_unsatisfiable_dependency_is_named() -> None:
    index = parse_packages_index(INDEX.replace("Provides: libfoo-virtual\n", ""))
    with pytest.raises(DebianResolveError, match="'libssl3' depends on libfoo-virtual, which nothing in the index provides"):
        resolve_closure(["libssl3"], index)
