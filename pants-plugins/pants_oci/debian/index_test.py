import pytest

from pants_oci.debian.index import (
    DebianResolveError,
    IndexSource,
    archive_label,
    is_security_suite,
    merge_indexes,
    parse_packages_index,
    resolve_closure,
)

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
    with pytest.raises(
        DebianResolveError, match="'libssl3' depends on libfoo-virtual, which nothing in the index provides"
    ):
        resolve_closure(["libssl3"], index)


# ---------------------------------------------------------------------------------------------------------------
# Several versions, several indexes

MAIN = IndexSource("debian", "bookworm")
UPDATES = IndexSource("debian", "bookworm-updates")
SECURITY = IndexSource("debian-security", "bookworm-security")


def _stanza(name: str, version: str, pool: str = "pool/main", depends: str = "", sha256: str = "00") -> str:
    depends_line = f"Depends: {depends}\n" if depends else ""
    return (
        f"Package: {name}\nVersion: {version}\nArchitecture: amd64\n{depends_line}"
        f"Filename: {pool}/{name[0]}/{name}/{name}_{version}_amd64.deb\nSize: 10\nSHA256: {sha256}\n"
    )


def _index(*stanzas: str) -> str:
    return "\n".join(stanzas)


MAIN_INDEX = _index(
    _stanza("libc6", "2.36-9+deb12u14"),
    _stanza("libssl3", "3.0.20-1~deb12u2", depends="libc6 (>= 2.34)"),
    _stanza("libexpat1", "2.5.0-1+deb12u2", depends="libc6"),
    _stanza("libzstd1", "1.5.4+dfsg2-5"),
)
# The security archive's own pool, and a newer libssl3 that depends on something main's did not.
SECURITY_INDEX = _index(
    _stanza("libssl3", "3.0.22-1~deb12u2", pool="pool/updates/main", depends="libc6 (>= 2.34), libzstd1"),
    _stanza("libexpat1", "2.5.0-1+deb12u5", pool="pool/updates/main", depends="libc6"),
)


def test_index_source_provenance_is_recorded_on_every_package() -> None:
    security = parse_packages_index(SECURITY_INDEX, SECURITY)
    assert {(p.archive, p.suite) for p in security.values()} == {("debian-security", "bookworm-security")}
    assert IndexSource.from_url("http://mirror.example/debian-security/", "bookworm-security") == SECURITY


def test_index_parsed_without_a_source_has_no_provenance() -> None:
    libc6 = parse_packages_index(MAIN_INDEX)["libc6"]
    assert (libc6.archive, libc6.suite) == ("", "")


def test_archive_label_is_the_last_path_component_never_the_host() -> None:
    assert archive_label("https://deb.example/debian") == "debian"
    assert archive_label("http://mirror.example/pub/debian-security/") == "debian-security"
    with pytest.raises(ValueError, match="no path"):
        archive_label("http://mirror.example/")


def test_security_suites_are_recognised() -> None:
    assert is_security_suite("bookworm-security")
    assert not is_security_suite("bookworm-updates") and not is_security_suite("bookworm")


def test_merge_takes_the_highest_version_from_the_security_archive() -> None:
    merged = merge_indexes([parse_packages_index(MAIN_INDEX, MAIN), parse_packages_index(SECURITY_INDEX, SECURITY)])
    libssl3 = merged["libssl3"]
    assert (libssl3.version, libssl3.archive, libssl3.suite) == (
        "3.0.22-1~deb12u2",
        "debian-security",
        "bookworm-security",
    )
    assert libssl3.filename.startswith("pool/updates/main/")
    assert merged["libexpat1"].version == "2.5.0-1+deb12u5"
    assert (merged["libc6"].version, merged["libc6"].suite) == ("2.36-9+deb12u14", "bookworm")


def test_merge_order_does_not_decide_the_version() -> None:
    merged = merge_indexes([parse_packages_index(SECURITY_INDEX, SECURITY), parse_packages_index(MAIN_INDEX, MAIN)])
    assert merged["libssl3"].version == "3.0.22-1~deb12u2"


def test_closure_follows_the_depends_of_the_chosen_version() -> None:
    main = parse_packages_index(MAIN_INDEX, MAIN)
    assert [p.name for p in resolve_closure(["libssl3"], main)] == ["libc6", "libssl3"]
    merged = merge_indexes([main, parse_packages_index(SECURITY_INDEX, SECURITY)])
    assert [p.name for p in resolve_closure(["libssl3"], merged)] == ["libc6", "libssl3", "libzstd1"]


def test_several_versions_in_one_index_keep_the_highest_wherever_it_is() -> None:
    # 1:1.0 > 2.0 (epoch) and 2.0~rc1 < 2.0 (tilde): dpkg's ordering, not the order in the file.
    for versions, highest in [
        (["2.0", "1.0"], "2.0"),
        (["1.0", "2.0", "1.5"], "2.0"),
        (["2.0", "1:1.0"], "1:1.0"),
        (["2.0", "2.0~rc1"], "2.0"),
    ]:
        index = parse_packages_index(_index(*(_stanza("libfoo", v) for v in versions)))
        assert index["libfoo"].version == highest, versions


def test_equal_versions_keep_the_first_index() -> None:
    updates = _index(_stanza("libc6", "2.36-9+deb12u14", sha256="11"))
    security = _index(_stanza("libc6", "2.36-9+deb12u14", pool="pool/updates/main", sha256="22"))
    merged = merge_indexes(
        [
            parse_packages_index(MAIN_INDEX, MAIN),
            parse_packages_index(updates, UPDATES),
            parse_packages_index(security, SECURITY),
        ]
    )
    assert (merged["libc6"].suite, merged["libc6"].sha256) == ("bookworm", "00")
    merged = merge_indexes([parse_packages_index(updates, UPDATES), parse_packages_index(security, SECURITY)])
    assert merged["libc6"].suite == "bookworm-updates"


def test_equal_versions_in_one_index_keep_the_first() -> None:
    index = parse_packages_index(_index(_stanza("libfoo", "1.0", sha256="11"), _stanza("libfoo", "1.0", sha256="22")))
    assert index["libfoo"].sha256 == "11"


def test_updates_win_over_the_suite() -> None:
    updates = _index(_stanza("tzdata", "2025b-0+deb12u2"))
    main = _index(_stanza("tzdata", "2025b-0+deb12u1"))
    merged = merge_indexes([parse_packages_index(main, MAIN), parse_packages_index(updates, UPDATES)])
    assert (merged["tzdata"].version, merged["tzdata"].suite) == ("2025b-0+deb12u2", "bookworm-updates")


MULTIARCH_AMD64 = """Package: make
Version: 4.3-4.1
Architecture: amd64
Multi-Arch: foreign
Filename: pool/main/m/make/make_4.3-4.1_amd64.deb
Size: 10
SHA256: 1111
"""

MULTIARCH_ARM64 = """Package: libfoo-dev
Version: 1.0
Architecture: arm64
Multi-Arch: same
Depends: libfoo1 (= 1.0), make
Filename: pool/main/f/foo/libfoo-dev_1.0_arm64.deb
Size: 10
SHA256: 2222

Package: libfoo1
Version: 1.0
Architecture: arm64
Multi-Arch: same
Filename: pool/main/f/foo/libfoo1_1.0_arm64.deb
Size: 10
SHA256: 3333

Package: make
Version: 4.3-4.1
Architecture: arm64
Multi-Arch: foreign
Filename: pool/main/m/make/make_4.3-4.1_arm64.deb
Size: 10
SHA256: 4444
"""


def test_requested_packages_split_by_apts_architecture_qualifier_native_first() -> None:
    from pants_oci.debian.index import requested_by_architecture, split_qualifier

    assert split_qualifier("libssl-dev:arm64", "amd64") == ("libssl-dev", "arm64")
    assert split_qualifier("gcc", "amd64") == ("gcc", "amd64")
    by = requested_by_architecture(["libfoo-dev:arm64", "make"], "amd64")
    assert list(by.items()) == [("amd64", ["make"]), ("arm64", ["libfoo-dev"])]


def test_a_foreign_closure_uses_the_native_multi_arch_foreign_tool() -> None:
    from pants_oci.debian.index import serves_every_architecture

    native = resolve_closure(["make"], parse_packages_index(MULTIARCH_AMD64))
    assert serves_every_architecture(native) == ["make"]
    foreign = resolve_closure(["libfoo-dev"], parse_packages_index(MULTIARCH_ARM64), serves_every_architecture(native))
    assert [(p.name, p.architecture) for p in foreign] == [("libfoo-dev", "arm64"), ("libfoo1", "arm64")]
    # Without the native closure, the foreign one takes its own make.
    alone = resolve_closure(["libfoo-dev"], parse_packages_index(MULTIARCH_ARM64))
    assert "make" in [p.name for p in alone]


def test_exact_version_dependencies_name_a_dev_packages_libraries() -> None:
    index = parse_packages_index(
        "Package: libssl-dev\nVersion: 3.5.4-1\nFilename: pool/x.deb\nSHA256: 00\nSize: 1\n"
        "Depends: libssl3t64 (= 3.5.4-1), libc6 (>= 2.34) | libc-dev, zlib1g:amd64 (= 1:1.3)\n"
    )
    assert index["libssl-dev"].exact_depends == ("libssl3t64", "zlib1g")
