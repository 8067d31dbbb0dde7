import pytest

from pants_oci.image.registries import (
    Destination,
    Registry,
    RegistryConfigError,
    destinations,
    parse_registries,
    template_values,
)

REGISTRIES = parse_registries(
    {
        "local": {"address": "localhost:5000", "default": True},
        "ecr": {"address": "123.dkr.ecr.example.com/team", "repository": "{directory}/{name}"},
        "mirror": {"address": "mirror.example.com", "default": "true", "skip_push": True},
    }
)


def _destinations(repository=None, wanted=None, skip_push=False, registries=REGISTRIES, template="{repository}"):
    return destinations(
        "src/python/worker:worker-image",
        "src/python/worker",
        "worker-image",
        repository,
        wanted,
        skip_push,
        registries,
        template,
    )


def test_parse_registries() -> None:
    assert REGISTRIES["local"] == Registry("local", "localhost:5000", default=True)
    assert REGISTRIES["mirror"].default and REGISTRIES["mirror"].skip_push
    assert parse_registries({"default": {"address": "r.example"}})["default"].default, "an alias `default` is one"


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"x": {}}, r"registry 'x' needs an `address`, e.g. \{'x': \{'address'"),
        ({"x": {"address": "r.example", "tls": False}}, r"registry 'x' has unknown settings \['tls'\]"),
        ({"x": {"address": "acme"}}, r"the address 'acme' of registry 'x' does not start with a registry host"),
        ({"x": {"address": "r.example", "default": "yes"}}, r"`default` of registry 'x' must be true or false"),
    ],
)
def test_bad_registries_name_the_option_and_the_fix(raw, message) -> None:
    with pytest.raises(RegistryConfigError, match=r"\[oci-image\]\.registries: " + message):
        parse_registries(raw)


def test_default_registries_and_their_skip_push() -> None:
    assert _destinations("pants-oci-examples/worker") == (
        Destination("localhost:5000/pants-oci-examples/worker", False, "@local"),
        Destination("mirror.example.com/pants-oci-examples/worker", True, "@mirror"),
    )


def test_aliases_addresses_and_repository_templates() -> None:
    assert _destinations(None, ["@ecr", "ghcr.io/acme"]) == (
        Destination("123.dkr.ecr.example.com/team/worker/worker-image", False, "@ecr"),
        Destination("ghcr.io/acme/worker-image", False, "ghcr.io/acme"),
    )
    assert _destinations("acme/worker", ["@local"], template="{parent_directory}/{name}") == (
        Destination("localhost:5000/python/worker-image", False, "@local"),
    )
    assert template_values("svc", "img", None) == {
        "name": "img",
        "directory": "svc",
        "parent_directory": "",
        "repository": "img",
    }


def test_a_repository_with_a_host_is_pushed_there_alone() -> None:
    assert _destinations("r.example:5000/acme/worker") == (
        Destination("r.example:5000/acme/worker", False, "r.example:5000"),
    )
    with pytest.raises(RegistryConfigError, match=r"'repository' \('r.example/acme'\) already names a registry"):
        _destinations("r.example/acme", ["@local"])


def test_skip_push_without_any_registry() -> None:
    assert _destinations("acme/worker", skip_push=True, registries={}) == (Destination("acme/worker", True, "none"),)


def test_errors_name_the_target_the_field_and_the_fix() -> None:
    with pytest.raises(
        RegistryConfigError, match=r"Cannot publish src/python/worker:worker-image: it names no registry"
    ):
        _destinations("acme/worker", registries={})
    with pytest.raises(
        RegistryConfigError, match=r"'registries' field in target .*: no registry has the alias '@nope'"
    ):
        _destinations(None, ["@nope"])
    with pytest.raises(RegistryConfigError, match=r"'registries' field .*: 'acme' is neither an alias"):
        _destinations(None, ["acme"])
    with pytest.raises(RegistryConfigError, match=r"default_repository: the repository template '\{team\}/x' cannot"):
        _destinations(None, ["@local"], template="{team}/x")
    with pytest.raises(RegistryConfigError, match=r"registry @ecr\): .* gave 'my dir/worker-image' is not a valid"):
        destinations("a:b", "my dir", "worker-image", None, ["@ecr"], False, REGISTRIES, "{repository}")
