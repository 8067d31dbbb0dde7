"""An SPDX 2.3 JSON SBOM for an image, written from what the build graph knows rather than from scanning it.

A scanner that looks inside the image finds the Debian packages (dpkg's status files) and the wheels
(`*.dist-info`), but not the CPython the plugin compiled from source: nothing a package manager recorded says it is
there. The build graph knows all three exactly (the Debian lock, the runtime's pinned source tarball, the resolved
wheels), so this document names each with the identifiers Trivy and Grype match vulnerabilities against (purls,
and a CPE for CPython).

Pure, standard library only; no Pants imports, so it is unit-tested directly. Same input, same bytes: the
document's namespace and creation time are derived from the image (its digest, its config's `created`), never
from the clock or a random UUID, so the SBOM is as reproducible as the image it describes.
"""
import hashlib
import json
import re
import shlex
from dataclasses import astuple, dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, TypeVar
from urllib.parse import quote, urlsplit

SPDX_VERSION = "SPDX-2.3"
DATA_LICENSE = "CC0-1.0"
DOCUMENT_ID = "SPDXRef-DOCUMENT"
IMAGE_ID = "SPDXRef-Image"
# The host SPDX's own examples use for namespaces: a namespace only has to be a unique URI, never resolvable,
# and a registry's host there would suggest the document can be fetched from it.
NAMESPACE_BASE = "https://spdx.org/spdxdocs/pants-oci"
NOASSERTION = "NOASSERTION"

DEBIAN_SUPPLIER = "Organization: Debian"
CPYTHON_SUPPLIER = "Organization: Python Software Foundation"
CPYTHON_LICENSE = "Python-2.0"
# The name scanners know CPython by (Grype's CPE matching, purl lookups), whatever the runtime target is called.
CPYTHON_PACKAGE_NAME = "python"

# The `distro` qualifier Trivy and Syft write for Debian packages is `debian-<major version>`.
DEBIAN_RELEASES = {"buster": "10", "bullseye": "11", "bookworm": "12", "trixie": "13"}
# Pockets of a release: `bookworm-security` packages are still bookworm's.
DEBIAN_SUITE_SUFFIXES = ("-proposed-updates", "-security", "-updates", "-backports")

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_MANIFEST_DIGEST = re.compile(r"^sha256:([0-9a-f]{64})$")
# What the SPDX spec allows in an SPDXID after "SPDXRef-"; everything else becomes "-".
_SPDX_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")
# ISO 8601 as image configs write it: seconds, optionally a fraction, then Z or an offset.
_ISO_TIMESTAMP = re.compile(
    r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.\d+)?(?:(Z)|([+-])(\d{2}):(\d{2}))$", re.IGNORECASE
)
# CPE 2.3 formatted strings take letters, digits and these as they are; anything else is backslash-quoted.
_CPE_PLAIN = re.compile(r"[A-Za-z0-9._-]")
# Schemes SPDX accepts as a downloadLocation and that mean the same thing on every machine.
_PUBLIC_URL_SCHEMES = ("http", "https", "ftp")


@dataclass(frozen=True)
class DebianComponent:
    """One locked .deb of the image's base."""

    name: str
    version: str
    architecture: str
    sha256: str  # of the .deb
    archive: str  # e.g. "debian" or "debian-security"
    suite: str  # e.g. "bookworm" or "bookworm-security"


@dataclass(frozen=True)
class RuntimeComponent:
    """The CPython the plugin compiled from source."""

    version: str
    source_url: str  # the canonical release URL (python.org), not the mirror this build happened to use
    source_sha256: str
    configure_args: Tuple[str, ...]
    verification: str  # how the tarball was checked, e.g. "sha256 pin"
    prefix: str  # where it is installed in the image, e.g. "/opt/python"
    built_with: str = ""  # what compiled it: its build root and that lock's sha256, or the host toolchain
    pgo_profile_sha256: str = ""  # the PGO profile it was optimized with, if any


@dataclass(frozen=True)
class PythonComponent:
    """One third-party distribution installed in the image."""

    name: str
    version: str
    sha256: Optional[str] = None  # of the wheel that was installed, when known


@dataclass(frozen=True)
class SbomInput:
    image_name: str  # the repository, e.g. "acme/hello-cli"
    image_digest: str  # "sha256:..." of the manifest: the SBOM describes that image
    created: str  # ISO 8601 UTC, the image config's `created`, e.g. "1980-01-01T00:00:00Z"
    first_party: str  # the pex_binary address, e.g. "src/python/hello_cli:hello-cli"
    debian: Tuple[DebianComponent, ...]
    runtime: RuntimeComponent
    python: Tuple[PythonComponent, ...]
    tool: str  # e.g. "pants-oci-0.1.0"


def spdx_json(sbom: SbomInput) -> bytes:
    """The document in canonical form: sorted keys, two-space indent, a trailing newline."""
    return (json.dumps(spdx_document(sbom), sort_keys=True, indent=2) + "\n").encode("utf-8")


def spdx_document(sbom: SbomInput) -> Dict[str, Any]:
    digest_hex = manifest_digest_hex(sbom.image_digest)
    contained = [
        first_party_package(sbom.first_party),
        runtime_package(sbom.runtime, sbom.tool),
        *identified_packages("Deb", sbom.debian, lambda c: c.name, debian_package),
        *identified_packages("PyPI", sbom.python, lambda c: pypi_normalized_name(c.name), python_package),
    ]
    # Sorted by SPDXID (unique, derived from content), so the input's order never shows in the output.
    contained.sort(key=lambda package: package["SPDXID"])
    return {
        "spdxVersion": SPDX_VERSION,
        "dataLicense": DATA_LICENSE,
        "SPDXID": DOCUMENT_ID,
        "name": f"{sbom.image_name}@{sbom.image_digest}",
        "documentNamespace": f"{NAMESPACE_BASE}/{quote(sbom.image_name, safe='/')}/{digest_hex}",
        "creationInfo": {"created": spdx_timestamp(sbom.created), "creators": [f"Tool: {sbom.tool}"]},
        "packages": [image_package(sbom.image_name, sbom.image_digest), *contained],
        "relationships": [
            relationship(DOCUMENT_ID, "DESCRIBES", IMAGE_ID),
            *(relationship(IMAGE_ID, "CONTAINS", package["SPDXID"]) for package in contained),
        ],
    }


# --- packages -------------------------------------------------------------------------------------------------


def image_package(repository: str, digest: str) -> Dict[str, Any]:
    # The OCI purl is named by the repository's last component and versioned by the manifest digest.
    name = repository.rsplit("/", 1)[-1]
    purl = f"pkg:oci/{name}@{purl_version(digest)}?repository_url={purl_qualifier(repository)}"
    return {
        **unasserted_package(IMAGE_ID, repository),
        "versionInfo": digest,
        "primaryPackagePurpose": "CONTAINER",
        "externalRefs": [package_manager_ref(purl)],
    }


def first_party_package(address: str) -> Dict[str, Any]:
    # No versionInfo: the code has no version of its own (SPDX does not allow NOASSERTION there).
    package = unasserted_package(spdx_id("FirstParty", address), address)
    package["primaryPackagePurpose"] = "APPLICATION"
    return package


def runtime_package(runtime: RuntimeComponent, tool: str) -> Dict[str, Any]:
    package_id = spdx_id("CPython", runtime.version)
    public_url = runtime.source_url if is_public_url(runtime.source_url) else None
    purl = f"pkg:generic/{CPYTHON_PACKAGE_NAME}@{purl_version(runtime.version)}"
    if public_url:
        purl += f"?download_url={purl_qualifier(public_url)}"
    return {
        **unasserted_package(package_id, CPYTHON_PACKAGE_NAME),
        "versionInfo": runtime.version,
        "supplier": CPYTHON_SUPPLIER,
        # A file:// mirror would put one machine's path in the SBOM: neither reproducible nor useful to a reader.
        "downloadLocation": public_url or NOASSERTION,
        "licenseDeclared": CPYTHON_LICENSE,
        "checksums": [sha256_checksum(runtime.source_sha256, f"the CPython {runtime.version} source tarball")],
        "primaryPackagePurpose": "APPLICATION",
        "comment": runtime_comment(runtime, tool),
        "externalRefs": [package_manager_ref(purl), security_cpe_ref(cpython_cpe(runtime.version))],
    }


def runtime_comment(runtime: RuntimeComponent, tool: str) -> str:
    # Scanners cannot see how an interpreter was built; this is the record of it for the humans who ask.
    configure = " ".join(shlex.quote(arg) for arg in runtime.configure_args) or "(none)"
    return (
        f"Compiled from source by {tool}{' in ' + runtime.built_with if runtime.built_with else ''} and installed at "
        f"{runtime.prefix}. "
        f"Source verified by {runtime.verification}. Configure arguments: {configure}"
        + (
            f". Optimized with the PGO profile sha256 {runtime.pgo_profile_sha256}"
            if runtime.pgo_profile_sha256
            else ""
        )
    )


def debian_package(component: DebianComponent, package_id: str) -> Dict[str, Any]:
    what = f"the .deb of {component.name} {component.version}"
    return {
        **unasserted_package(package_id, component.name),
        "versionInfo": component.version,
        "supplier": DEBIAN_SUPPLIER,
        "sourceInfo": f"{component.archive} archive, {component.suite} suite",
        "checksums": [sha256_checksum(component.sha256, what)],
        "externalRefs": [package_manager_ref(debian_purl(component))],
    }


def python_package(component: PythonComponent, package_id: str) -> Dict[str, Any]:
    package = {
        **unasserted_package(package_id, component.name),
        "versionInfo": component.version,
        "primaryPackagePurpose": "LIBRARY",
        "externalRefs": [package_manager_ref(pypi_purl(component))],
    }
    if component.sha256:
        what = f"the wheel of {component.name} {component.version}"
        package["checksums"] = [sha256_checksum(component.sha256, what)]
    return package


def unasserted_package(package_id: str, name: str) -> Dict[str, Any]:
    """The fields every package has, set to what the build graph cannot vouch for (licenses, copyrights)."""
    return {
        "SPDXID": package_id,
        "name": name,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": False,
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": NOASSERTION,
        "copyrightText": NOASSERTION,
    }


def relationship(element: str, kind: str, related: str) -> Dict[str, str]:
    return {"spdxElementId": element, "relationshipType": kind, "relatedSpdxElement": related}


# --- identifiers ----------------------------------------------------------------------------------------------

Component = TypeVar("Component", DebianComponent, PythonComponent)


def identified_packages(
    kind: str,
    components: Iterable[Component],
    name_of: Callable[[Component], str],
    package_of: Callable[[Component, str], Dict[str, Any]],
) -> List[Dict[str, Any]]:
    """One package per distinct component, each with an SPDXID unique within the document.

    The ID is `SPDXRef-<kind>-<name>`; when names collide (two architectures of one package, two names that
    differ only in characters SPDXIDs cannot hold), every colliding component gets a suffix hashed from its own
    fields, so no ID depends on which of them came first.
    """
    distinct = set(components)
    by_id: Dict[str, List[Component]] = {}
    for component in distinct:
        by_id.setdefault(spdx_id(kind, name_of(component)), []).append(component)
    packages = []
    for base_id, group in by_id.items():
        for component in group:
            package_id = base_id if len(group) == 1 else f"{base_id}-{content_hash(component)}"
            packages.append(package_of(component, package_id))
    return packages


def spdx_id(kind: str, name: str) -> str:
    return f"SPDXRef-{kind}-{_SPDX_ID_UNSAFE.sub('-', name)}"


def content_hash(component: Any) -> str:
    fields = json.dumps(astuple(component), sort_keys=True)
    return hashlib.sha256(fields.encode("utf-8")).hexdigest()[:12]


# --- purls and CPEs -------------------------------------------------------------------------------------------


def debian_purl(component: DebianComponent) -> str:
    # Qualifiers in key order, as the purl spec's canonical form has them. The full version, epoch included,
    # is what Grype and Trivy compare against Debian's security tracker.
    qualifiers = [f"arch={purl_qualifier(component.architecture)}"]
    distro = debian_distro(component.suite)
    if distro:
        qualifiers.append(f"distro={distro}")
    name, version = quote(component.name, safe=""), purl_version(component.version)
    return f"pkg:deb/debian/{name}@{version}?{'&'.join(qualifiers)}"


def debian_distro(suite: str) -> Optional[str]:
    """`debian-12` for bookworm and its pockets (bookworm-security, ...); None for a suite we cannot date."""
    codename = suite
    for suffix in DEBIAN_SUITE_SUFFIXES:
        if codename.endswith(suffix):
            codename = codename[: -len(suffix)]
            break
    release = DEBIAN_RELEASES.get(codename)
    return f"debian-{release}" if release else None


def pypi_purl(component: PythonComponent) -> str:
    return f"pkg:pypi/{pypi_normalized_name(component.name)}@{purl_version(component.version)}"


def pypi_normalized_name(name: str) -> str:
    """PEP 503: runs of `-`, `_` and `.` become one `-`, lowercase (what the pypi purl type requires)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def cpython_cpe(version: str) -> str:
    escaped = "".join(c if _CPE_PLAIN.match(c) else f"\\{c}" for c in version)
    return f"cpe:2.3:a:python:python:{escaped}:*:*:*:*:*:*:*"


def purl_version(version: str) -> str:
    # Every reserved character encoded: a Debian epoch's `:` and a `+` must survive a round trip through parsers.
    return quote(version, safe="")


def purl_qualifier(value: str) -> str:
    # `:` and `/` stay as they are in URL-like values, as in the purl spec's own examples.
    return quote(value, safe=":/")


def package_manager_ref(purl: str) -> Dict[str, str]:
    return {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl}


def security_cpe_ref(cpe: str) -> Dict[str, str]:
    return {"referenceCategory": "SECURITY", "referenceType": "cpe23Type", "referenceLocator": cpe}


# --- checked values -------------------------------------------------------------------------------------------


def manifest_digest_hex(digest: str) -> str:
    match = _MANIFEST_DIGEST.match(digest)
    if not match:
        raise ValueError(
            f"An SBOM describes an image by its manifest digest, 'sha256:' and 64 hex digits, not {digest!r}"
        )
    return match.group(1)


def sha256_checksum(value: str, what: str) -> Dict[str, str]:
    hex_value = value.lower()
    if hex_value.startswith("sha256:"):
        hex_value = hex_value[len("sha256:") :]
    if not _SHA256_HEX.match(hex_value):
        raise ValueError(f"The sha256 of {what} must be 64 hex digits, not {value!r}")
    return {"algorithm": "SHA256", "checksumValue": hex_value}


def spdx_timestamp(created: str) -> str:
    """`YYYY-MM-DDThh:mm:ssZ`, the one form SPDX allows, from an ISO 8601 time with a zone.

    Image configs may carry fractions of a second (Go writes nine digits, which Python 3.9's fromisoformat
    rejects) or an offset; the SBOM keeps the same instant, to the second, in UTC.
    """
    match = _ISO_TIMESTAMP.match(created.strip())
    if not match:
        raise ValueError(
            f"The image's `created` must be an ISO 8601 time with a zone, e.g. 1980-01-01T00:00:00Z, "
            f"not {created!r}"
        )
    seconds, zulu, sign, hours, minutes = match.groups()
    moment = datetime.strptime(seconds, "%Y-%m-%dT%H:%M:%S")
    if not zulu:
        offset = timedelta(hours=int(hours), minutes=int(minutes))
        moment = moment - offset if sign == "+" else moment + offset
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def is_public_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme.lower() in _PUBLIC_URL_SCHEMES and bool(parts.netloc)
