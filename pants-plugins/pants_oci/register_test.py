"""Wiring checks: what `./pants help` needs from every target the plugin registers."""
from typing import get_type_hints

from pants_oci import register


def test_every_field_has_help_and_a_typed_compute_value() -> None:
    for target_type in register.target_types():
        assert target_type.help, f"{target_type.alias} has no help"
        for field in target_type.core_fields:
            assert field.help, f"{target_type.alias}.{field.alias} has no help"
            # `./pants help <target>` reads the raw_value annotation of every compute_value override.
            assert "raw_value" in get_type_hints(field.compute_value), f"{target_type.alias}.{field.alias}"


def test_no_field_alias_is_used_twice_on_a_target() -> None:
    """A field whose alias repeats one of Pants' own (`tags`, `description`, `dependencies`) wins over it: Pants'
    field becomes unreachable and `./pants help` lists the alias twice."""
    for target_type in register.target_types():
        aliases = [field.alias for field in target_type.core_fields]
        repeated = sorted({alias for alias in aliases if aliases.count(alias) > 1})
        assert not repeated, f"{target_type.alias} has more than one field called {repeated}"
