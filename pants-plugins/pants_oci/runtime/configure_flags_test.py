import pytest

from pants_oci.runtime.configure_flags import CONFIGURE_FLAGS, NODIST_CFLAGS, PREFIX_MAP_PLACEHOLDER, configure_args


def test_every_flag_has_a_reason() -> None:
    assert all(len(flag.why) > 20 for flag in CONFIGURE_FLAGS + NODIST_CFLAGS)


def test_none_builds_shared_hardened_without_optimizations() -> None:
    args = configure_args("3.13.5", "none")
    assert "--enable-shared" in args and "--enable-option-checking=fatal" in args
    assert "--with-lto" not in args and "--enable-optimizations" not in args
    cflags = next(a for a in args if a.startswith("CFLAGS="))
    assert "-fstack-protector-strong" in cflags and PREFIX_MAP_PLACEHOLDER in cflags
    ldflags = next(a for a in args if a.startswith("LDFLAGS="))
    assert r"-Wl,-rpath,\$$ORIGIN/../lib" in ldflags and "-Wl,-z,now" in ldflags
    assert "CPPFLAGS=-D_FORTIFY_SOURCE=2" in args


@pytest.mark.parametrize(
    "optimizations, lto, pgo",
    [
        ("none", False, False),
        ("lto", True, False),
        ("pgo", False, True),
        ("pgo+lto", True, True),
        ("pgo+lto+bolt", True, True),
    ],
)
def test_optimization_levels_map_to_configure_flags(optimizations: str, lto: bool, pgo: bool) -> None:
    args = configure_args("3.13.5", optimizations)
    assert ("--with-lto" in args) is lto
    assert ("--enable-optimizations" in args) is pgo


def test_flags_follow_the_version() -> None:
    # 3.13 removed --with-system-ffi; with --enable-option-checking=fatal passing it would fail configure.
    assert "--with-system-ffi" in configure_args("3.11.2", "none")
    assert "--with-system-ffi" not in configure_args("3.13.5", "none")
    # Debian 12 has no libmpdec-dev: 3.13 would otherwise look for it.
    assert "--without-system-libmpdec" in configure_args("3.13.5", "none")
    assert "--without-system-libmpdec" not in configure_args("3.11.2", "none")
    # The thread state lives in thread-local storage since 3.12: a shared libpython reads it in one load.
    assert "CFLAGS_NODIST=-fstack-protector -ftls-model=initial-exec" in configure_args("3.12.11", "none")
    assert "CFLAGS_NODIST=-fstack-protector" in configure_args("3.11.2", "pgo+lto")


def test_cpython_itself_gets_debians_stack_protector_and_extensions_keep_strong() -> None:
    # CFLAGS_NODIST comes after CFLAGS on CPython's own compile lines, so its -fstack-protector wins there, as in
    # Debian's python3 packages; sysconfig records only CFLAGS, so extensions built later get -strong.
    args = configure_args("3.13.5", "pgo+lto")
    cflags = next(a for a in args if a.startswith("CFLAGS="))
    nodist = next(a for a in args if a.startswith("CFLAGS_NODIST="))
    assert "-fstack-protector-strong" in cflags.split("=", 1)[1].split()
    assert "-fstack-protector" in nodist.split("=", 1)[1].split() and "-fstack-protector-strong" not in nodist


def test_extra_args_come_after_the_table_and_before_flags_variables() -> None:
    args = configure_args("3.13.5", "none", ["--with-computed-gotos"])
    assert args.index("--with-computed-gotos") > args.index("--enable-shared")
    assert args.index("--with-computed-gotos") < args.index(next(a for a in args if a.startswith("CFLAGS=")))


def test_unknown_optimization_is_rejected() -> None:
    with pytest.raises(ValueError, match="optimizations must be one of none, lto, pgo, pgo\\+lto"):
        configure_args("3.13.5", "O3")


def test_lto_builds_seed_the_names_their_objects_carry() -> None:
    lto_cflags = next(a for a in configure_args("3.13.5", "pgo+lto") if a.startswith("CFLAGS="))
    plain_cflags = next(a for a in configure_args("3.13.5", "pgo") if a.startswith("CFLAGS="))
    assert "-frandom-seed=pants-oci" in lto_cflags and "-frandom-seed" not in plain_cflags


def test_bolt_keeps_relocations_and_symbols_and_leaves_every_other_level_as_it_was() -> None:
    def flags(optimizations: str, name: str) -> str:
        return next(a for a in configure_args("3.13.5", optimizations) if a.startswith(f"{name}="))

    assert "-Wl,--emit-relocs" in flags("pgo+lto+bolt", "LDFLAGS")
    assert "-Wl,--strip-all" not in flags("pgo+lto+bolt", "LDFLAGS")  # BOLT reads the symbol table
    assert "-fno-reorder-blocks-and-partition" in flags("pgo+lto+bolt", "CFLAGS")
    # The flags of the other levels are their cache keys: BOLT's additions stay out of them.
    for level in ("none", "lto", "pgo", "pgo+lto"):
        assert "--emit-relocs" not in flags(level, "LDFLAGS") and "-Wl,--strip-all" in flags(level, "LDFLAGS")
        assert "reorder-blocks" not in flags(level, "CFLAGS")
    without_bolt = configure_args("3.13.5", "pgo+lto")
    with_bolt = configure_args("3.13.5", "pgo+lto+bolt")
    assert [a for a in with_bolt if "FLAGS=" not in a] == [a for a in without_bolt if "FLAGS=" not in a]
