import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

from pants_oci.image import sbom
from pants_oci.image.sbom import DebianComponent, PythonComponent, RuntimeComponent, SbomInput

CPYTHON_SHA256 = "93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640"
CPYTHON_URL = "https://www.python.org/ftp/python/3.13.5/Python-3.13.5.tar.xz"
IMAGE_DIGEST = "sha256:" + hashlib.sha256(b"the hello-cli manifest").hexdigest()


def fake_sha256(what: str) -> str:
    """A stand-in checksum: the module checks only the form, and the tests only that it is carried through."""
    return hashlib.sha256(what.encode()).hexdigest()


LIBSSL3 = DebianComponent(
    name="libssl3",
    version="3.0.22-1~deb12u2",
    architecture="amd64",
    sha256=fake_sha256("libssl3.deb"),
    archive="debian-security",
    suite="bookworm-security",
)
LIBC6 = DebianComponent(
    name="libc6",
    version="2.36-9+deb12u10",
    architecture="amd64",
    sha256=fake_sha256("libc6.deb"),
    archive="debian",
    suite="bookworm",
)
TZDATA = DebianComponent(
    name="tzdata",
    version="2025b-0+deb12u1",
    architecture="all",
    sha256=fake_sha256("tzdata.deb"),
    archive="debian",
    suite="bookworm-updates",
)
HUMANIZE = PythonComponent(name="humanize", version="4.9.0", sha256=fake_sha256("humanize-4.9.0-py3-none-any.whl"))
TYPING_EXTENSIONS = PythonComponent(name="Typing_Extensions", version="4.12.2", sha256=None)
RUNTIME = RuntimeComponent(
    version="3.13.5",
    source_url=CPYTHON_URL,
    source_sha256=CPYTHON_SHA256,
    configure_args=("--prefix=/opt/python", "--enable-shared", "--with-lto", "LDFLAGS=-Wl,-rpath=/opt/python/lib"),
    verification="sha256 pin",
    prefix="/opt/python",
)
INPUT = SbomInput(
    image_name="acme/hello-cli",
    image_digest=IMAGE_DIGEST,
    created="1980-01-01T00:00:00Z",
    first_party="src/python/hello_cli:hello-cli",
    debian=(LIBC6, LIBSSL3, TZDATA),
    runtime=RUNTIME,
    python=(HUMANIZE, TYPING_EXTENSIONS),
    tool="pants-oci-0.1.0",
)


def parsed(sbom_input: SbomInput = INPUT) -> Dict[str, Any]:
    return json.loads(sbom.spdx_json(sbom_input))


def package_named(document: Dict[str, Any], name: str) -> Dict[str, Any]:
    (package,) = [p for p in document["packages"] if p["name"] == name]
    return package


def locators(package: Dict[str, Any], category: str) -> List[str]:
    return [ref["referenceLocator"] for ref in package["externalRefs"] if ref["referenceCategory"] == category]


def contained_ids(document: Dict[str, Any]) -> List[str]:
    return [
        r["relatedSpdxElement"]
        for r in document["relationships"]
        if r["spdxElementId"] == "SPDXRef-Image" and r["relationshipType"] == "CONTAINS"
    ]


def test_same_input_in_any_order_gives_the_same_bytes() -> None:
    shuffled = dataclasses.replace(
        INPUT, debian=(TZDATA, LIBSSL3, LIBC6, LIBSSL3), python=(TYPING_EXTENSIONS, HUMANIZE)
    )
    assert sbom.spdx_json(shuffled) == sbom.spdx_json(INPUT)
    assert sbom.spdx_json(INPUT).endswith(b"}\n")


def test_document_header_is_derived_from_the_image() -> None:
    document = parsed()
    assert document["spdxVersion"] == "SPDX-2.3"
    assert document["dataLicense"] == "CC0-1.0"
    assert document["SPDXID"] == "SPDXRef-DOCUMENT"
    assert document["documentNamespace"] == (
        f"https://spdx.org/spdxdocs/pants-oci/acme/hello-cli/{IMAGE_DIGEST[len('sha256:'):]}"
    )
    assert document["creationInfo"] == {"created": "1980-01-01T00:00:00Z", "creators": ["Tool: pants-oci-0.1.0"]}
    assert {
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-Image",
    } in document["relationships"]


def test_a_different_image_gets_a_different_namespace() -> None:
    other = dataclasses.replace(INPUT, image_digest="sha256:" + "0" * 64)
    assert parsed(other)["documentNamespace"] != parsed()["documentNamespace"]


def test_image_package() -> None:
    image = package_named(parsed(), "acme/hello-cli")
    assert image["SPDXID"] == "SPDXRef-Image"
    assert image["versionInfo"] == IMAGE_DIGEST
    assert image["primaryPackagePurpose"] == "CONTAINER"
    assert locators(image, "PACKAGE-MANAGER") == [
        f"pkg:oci/hello-cli@sha256%3A{IMAGE_DIGEST[len('sha256:'):]}?repository_url=acme/hello-cli"
    ]


def test_cpython_is_named_so_scanners_match_it() -> None:
    document = parsed()
    cpython = package_named(document, "python")
    assert cpython["versionInfo"] == "3.13.5"
    assert cpython["downloadLocation"] == CPYTHON_URL
    assert cpython["supplier"] == "Organization: Python Software Foundation"
    assert cpython["licenseDeclared"] == "Python-2.0"
    assert cpython["checksums"] == [{"algorithm": "SHA256", "checksumValue": CPYTHON_SHA256}]
    assert locators(cpython, "PACKAGE-MANAGER") == [
        "pkg:generic/python@3.13.5?download_url=https://www.python.org/ftp/python/3.13.5/Python-3.13.5.tar.xz"
    ]
    assert locators(cpython, "SECURITY") == ["cpe:2.3:a:python:python:3.13.5:*:*:*:*:*:*:*"]
    assert "sha256 pin" in cpython["comment"]
    assert "--enable-shared --with-lto LDFLAGS=-Wl,-rpath=/opt/python/lib" in cpython["comment"]
    assert cpython["SPDXID"] in contained_ids(document)


def test_debian_package_carries_its_deb_checksum_and_purl() -> None:
    document = parsed()
    libssl3 = package_named(document, "libssl3")
    assert libssl3["versionInfo"] == "3.0.22-1~deb12u2"
    assert libssl3["supplier"] == "Organization: Debian"
    assert libssl3["checksums"] == [{"algorithm": "SHA256", "checksumValue": LIBSSL3.sha256}]
    assert locators(libssl3, "PACKAGE-MANAGER") == [
        "pkg:deb/debian/libssl3@3.0.22-1~deb12u2?arch=amd64&distro=debian-12"
    ]
    assert libssl3["downloadLocation"] == "NOASSERTION"
    assert libssl3["filesAnalyzed"] is False
    assert libssl3["SPDXID"] in contained_ids(document)
    assert locators(package_named(document, "libc6"), "PACKAGE-MANAGER") == [
        "pkg:deb/debian/libc6@2.36-9%2Bdeb12u10?arch=amd64&distro=debian-12"
    ]


def test_pypi_packages_use_normalized_names() -> None:
    document = parsed()
    humanize = package_named(document, "humanize")
    assert locators(humanize, "PACKAGE-MANAGER") == ["pkg:pypi/humanize@4.9.0"]
    assert humanize["checksums"] == [{"algorithm": "SHA256", "checksumValue": HUMANIZE.sha256}]
    assert humanize["SPDXID"] in contained_ids(document)
    typing_extensions = package_named(document, "Typing_Extensions")
    assert locators(typing_extensions, "PACKAGE-MANAGER") == ["pkg:pypi/typing-extensions@4.12.2"]
    assert "checksums" not in typing_extensions


def test_first_party_code_has_no_version() -> None:
    document = parsed()
    app = package_named(document, "src/python/hello_cli:hello-cli")
    assert "versionInfo" not in app
    assert app["SPDXID"] in contained_ids(document)


def test_the_image_contains_every_other_package_once() -> None:
    document = parsed()
    others = sorted(p["SPDXID"] for p in document["packages"] if p["SPDXID"] != "SPDXRef-Image")
    assert sorted(contained_ids(document)) == others
    assert len(set(others)) == len(others) == 1 + 1 + 3 + 2


def test_colliding_names_get_distinct_ids_whatever_the_order() -> None:
    libc6_i386 = dataclasses.replace(LIBC6, architecture="i386", sha256=fake_sha256("libc6 i386"))
    forward = parsed(dataclasses.replace(INPUT, debian=(LIBC6, libc6_i386)))
    backward = parsed(dataclasses.replace(INPUT, debian=(libc6_i386, LIBC6)))
    assert forward == backward
    ids = [p["SPDXID"] for p in forward["packages"] if p["name"] == "libc6"]
    assert len(set(ids)) == 2 and all(i.startswith("SPDXRef-Deb-libc6-") for i in ids)


@pytest.mark.parametrize(
    "suite, distro",
    [
        ("bookworm", "debian-12"),
        ("bookworm-security", "debian-12"),
        ("bookworm-updates", "debian-12"),
        ("trixie", "debian-13"),
        ("bullseye-security", "debian-11"),
        ("sid", None),
        ("stable", None),
    ],
)
def test_suites_map_to_the_distro_qualifier(suite: str, distro: str) -> None:
    assert sbom.debian_distro(suite) == distro


def test_unknown_suite_omits_the_distro_and_an_epoch_is_encoded() -> None:
    component = DebianComponent("zlib1g", "1:1.2.13.dfsg-1", "amd64", fake_sha256("zlib1g"), "debian", "sid")
    assert sbom.debian_purl(component) == "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64"


def test_a_local_mirror_url_is_not_written_into_the_sbom() -> None:
    mirrored = dataclasses.replace(RUNTIME, source_url="file:///root/.cache/cpython-mirror/Python-3.13.5.tar.xz")
    cpython = package_named(parsed(dataclasses.replace(INPUT, runtime=mirrored)), "python")
    assert cpython["downloadLocation"] == "NOASSERTION"
    assert locators(cpython, "PACKAGE-MANAGER") == ["pkg:generic/python@3.13.5"]


@pytest.mark.parametrize(
    "created, expected",
    [
        ("1980-01-01T00:00:00Z", "1980-01-01T00:00:00Z"),
        ("2024-05-06T07:08:09.123456789Z", "2024-05-06T07:08:09Z"),
        ("2024-05-06T09:08:09+02:00", "2024-05-06T07:08:09Z"),
    ],
)
def test_created_is_written_in_spdx_form(created: str, expected: str) -> None:
    assert sbom.spdx_timestamp(created) == expected


@pytest.mark.parametrize("created", ["1980-01-01", "1980-01-01T00:00:00", "yesterday"])
def test_created_without_a_zone_is_refused(created: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        sbom.spdx_timestamp(created)


def test_malformed_checksums_and_digests_are_refused() -> None:
    with pytest.raises(ValueError, match="manifest digest"):
        sbom.spdx_document(dataclasses.replace(INPUT, image_digest="latest"))
    bad = dataclasses.replace(LIBSSL3, sha256="abc")
    with pytest.raises(ValueError, match="libssl3"):
        sbom.spdx_document(dataclasses.replace(INPUT, debian=(bad,)))


@pytest.mark.parametrize("image_name", ["acme/hello-cli", "registry.example.com:5000/acme/hello-cli"])
def test_the_spdx_projects_validator_accepts_the_document(tmp_path: Path, image_name: str) -> None:
    try:
        from spdx_tools.spdx.parser.parse_anything import parse_file
        from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
    except ImportError:
        pytest.skip("spdx-tools (PyPI) is not installed: the SPDX validation of the SBOM is not run")
    path = tmp_path / "image.spdx.json"
    path.write_bytes(sbom.spdx_json(dataclasses.replace(INPUT, image_name=image_name)))
    messages = validate_full_spdx_document(parse_file(str(path)))
    assert [m.validation_message for m in messages] == []


def test_the_pgo_profile_a_runtime_was_optimized_with_is_recorded() -> None:
    assert "PGO" not in sbom.runtime_comment(RUNTIME, "pants-oci")
    pgo = dataclasses.replace(RUNTIME, pgo_profile_sha256="c" * 64)
    assert sbom.runtime_comment(pgo, "pants-oci").endswith(f"Optimized with the PGO profile sha256 {'c' * 64}")
