from pants_oci.debian.base import merged_usr_links
from pants_oci.oci.tarball import Entry


def _tree(*paths: str):
    return {p: Entry(p, content=b"x") for p in paths}


def test_a_debian_13_base_gets_the_merged_usr_links_its_programs_need() -> None:
    """Debian 13's libc6 ships its loader at usr/lib64/ only; every x86-64 program asks for /lib64/ld-linux..."""
    tree = _tree("usr/lib64/ld-linux-x86-64.so.2", "usr/lib/x86_64-linux-gnu/libc.so.6", "usr/bin/tini", "etc/x")
    links = {e.path: e.link_target for e in merged_usr_links(tree)}
    assert links == {"bin": "usr/bin", "lib": "usr/lib", "lib64": "usr/lib64"}


def test_a_link_base_files_ships_itself_is_kept() -> None:
    tree = {**_tree("usr/lib64/ld-linux-x86-64.so.2", "usr/bin/tini"), "bin": Entry("bin", link_target="usr/bin")}
    assert [e.path for e in merged_usr_links(tree)] == ["lib64"]


def test_a_debian_12_base_with_its_own_lib_directories_is_left_alone() -> None:
    tree = _tree("lib64/ld-linux-x86-64.so.2", "lib/x86_64-linux-gnu/libc.so.6", "usr/bin/tini", "usr/lib/x/y")
    assert merged_usr_links(tree) == []
