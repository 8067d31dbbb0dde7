from pants_oci.debian.apt_sources import archive_uris, security_archive_uris

DEB822 = """Types: deb
# http://snapshot.example/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Enabled: no
"""


def test_deb822_sources_keep_main_archives_only() -> None:
    assert archive_uris([("debian.sources", DEB822)]) == ["http://mirror.example/debian"]


def test_one_line_sources_with_options_and_comments() -> None:
    text = (
        "# deb http://commented.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://a.example/debian/ bookworm main\n"
        "deb-src http://b.example/ubuntu jammy main\n"
        "deb https://deb.nodesource.example/node_20.x nodistro main\n"
    )
    assert archive_uris([("sources.list", text)]) == ["http://a.example/debian", "http://b.example/ubuntu"]


def test_duplicates_across_files_keep_apt_order() -> None:
    files = [
        ("a.list", "deb http://x.example/debian bookworm main\n"),
        ("debian.sources", DEB822),
        ("z.list", "deb http://x.example/debian trixie main\n"),
    ]
    assert archive_uris(files) == ["http://x.example/debian", "http://mirror.example/debian"]


def test_security_archives_are_found_separately() -> None:
    assert security_archive_uris([("debian.sources", DEB822)]) == ["http://mirror.example/debian-security"]
    assert security_archive_uris(
        [("sources.list", "deb http://s.example/debian-security/ bookworm-security main\n")]
    ) == ["http://s.example/debian-security"]
