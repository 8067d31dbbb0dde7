"""The publish rule's glue: the target's `registries`/`skip_push` fields and `[oci-image]` options reach
image/registries.py, and the push's command line carries the options. Real pushes: oci/*_integration_test.py."""
import pytest
from pants.backend.python import register as python_backend
from pants.core import register as core
from pants.engine.addresses import Address
from pants.engine.target import InvalidFieldException
from pants.testutil.option_util import create_subsystem
from pants.testutil.rule_runner import RuleRunner

from pants_oci import register
from pants_oci.image.publish import MOUNT_RECORD, PublishPythonOciImageFieldSet, publish_destinations, push_argv
from pants_oci.image.registries import Destination
from pants_oci.image.subsystem import PythonOciImageSubsystem

IMAGES = """
python_oci_image(name="plain", runtime="rt:py", binary="app:app", repository="acme/plain")
python_oci_image(name="picked", runtime="rt:py", binary="app:app", registries=["@ecr"])
python_oci_image(name="local-only", runtime="rt:py", binary="app:app", skip_push=True)
"""


def _subsystem(**options) -> PythonOciImageSubsystem:
    defaults = dict(
        registries={
            "local": {"address": "localhost:5000", "default": True},
            "ecr": {"address": "123.dkr.ecr.example.com", "repository": "team/{directory}-{name}"},
        },
        default_repository="{repository}",
        publish_chunk_size=1024,
        publish_retries=2,
        publish_retry_seconds=30.0,
        plain_http_localhost=True,
        publish_debug=True,
    )
    return create_subsystem(PythonOciImageSubsystem, **{**defaults, **options})


@pytest.fixture
def rule_runner() -> RuleRunner:
    runner = RuleRunner(
        rules=[*core.rules(), *register.rules(), *python_backend.rules()],
        target_types=[*core.target_types(), *register.target_types(), *python_backend.target_types()],
    )
    runner.write_files({"svc/BUILD": IMAGES})
    return runner


def _field_set(rule_runner: RuleRunner, name: str) -> PublishPythonOciImageFieldSet:
    return PublishPythonOciImageFieldSet.create(rule_runner.get_target(Address("svc", target_name=name)))


def test_fields_and_options_choose_the_destinations(rule_runner: RuleRunner) -> None:
    subsystem = _subsystem()
    assert publish_destinations(_field_set(rule_runner, "plain"), subsystem) == (
        Destination("localhost:5000/acme/plain", False, "@local"),
    )
    assert publish_destinations(_field_set(rule_runner, "picked"), subsystem) == (
        Destination("123.dkr.ecr.example.com/team/svc-picked", False, "@ecr"),
    )
    assert publish_destinations(_field_set(rule_runner, "local-only"), subsystem) == (
        Destination("localhost:5000/local-only", True, "@local"),
    )


def test_a_bad_configuration_is_an_invalid_field_naming_the_target(rule_runner: RuleRunner) -> None:
    with pytest.raises(InvalidFieldException, match=r"Cannot publish svc:plain: it names no registry"):
        publish_destinations(_field_set(rule_runner, "plain"), _subsystem(registries={}))


def test_the_push_command_line_carries_the_options() -> None:
    argv = push_argv("/py", "dist/img", "localhost:5000/acme/plain", ("1.0", "latest"), "img.spdx.json", _subsystem())
    assert argv == [
        "/py",
        "-s",
        "-m",
        "pants_oci.oci.registry",
        "dist/img",
        "localhost:5000/acme/plain",
        "1.0",
        "latest",
        "--chunk-size=1024",
        "--retries=2",
        "--retry-seconds=30.0",
        f"--mount-record={MOUNT_RECORD}",
        "--plain-http-localhost",
        "--debug",
        "--sbom=img.spdx.json",
    ]
