"""A Debian suite's Release file, from its signed InRelease: what to trust about the archive before using it.

The chain apt follows, and this module reproduces for the lock generator: the InRelease file is signed by a
pinned Debian archive key (openpgp.py, keyring.py); it is still fresh (Valid-Until, or for a suite without one, a
maximum age); it is not older than the one the lock was made from (a mirror serving yesterday's signed index
would hide every update since: apt refuses that too); and it lists the SHA256 and size of every index file, so a
Packages index downloaded over plain HTTP is trusted only when it matches.

Every failure is an ArchiveVerificationError naming the archive, the suite, the cause and what to do about it.
"""
import calendar
import dataclasses
import hashlib
import re
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from pants_oci.errors import PantsOciError
from pants_oci.openpgp import openpgp
from pants_oci.openpgp.openpgp import Keyring, SignatureError, verify_clearsigned

# Errors end up in Pants' output; the cause may quote what a mirror served.
MAX_CAUSE_CHARS = 1200


class ArchiveVerificationError(PantsOciError, ValueError):
    """The archive's metadata cannot be trusted; the message names archive, suite, cause and fix."""

    def __init__(self, archive: str, suite: str, cause: str, fix: str = "") -> None:
        cause = openpgp.shorten(cause, MAX_CAUSE_CHARS)
        message = f"Debian archive {archive}, suite {suite}: {cause}"
        super().__init__(f"{message}. {fix}" if fix else message)
        self.archive, self.suite, self.cause, self.fix = archive, suite, cause, fix


_ANOTHER_MIRROR = "use another mirror ([debian].archive_url)"
_UPDATE_KEYRING = "update the pinned keyring in the plugin (see keyring.py)"
# What to do about each kind of signature failure (openpgp's reasons).
_SIGNATURE_FIXES = {
    openpgp.NO_TRUSTED_KEY: f"If Debian has rotated its archive keys, {_UPDATE_KEYRING}",
    openpgp.EXPIRED_KEY: f"Debian's signing keys have expired since the plugin was released: {_UPDATE_KEYRING}",
    openpgp.REVOKED_KEY: f"Debian revoked a signing key: {_UPDATE_KEYRING}",
    openpgp.EXPIRED_SIGNATURE: f"The mirror serves a stale or replayed Release file: {_ANOTHER_MIRROR}",
    openpgp.FUTURE_SIGNATURE: "Check this machine's clock (or [debian].verification_time)",
    openpgp.TOO_LARGE: f"No Debian InRelease file is that large: {_ANOTHER_MIRROR}",
    openpgp.BAD_SIGNATURE: f"The file was altered after Debian signed it (a broken or tampering mirror or proxy): "
    f"{_ANOTHER_MIRROR}",
    openpgp.MALFORMED: f"The mirror did not serve a clearsigned InRelease file (a proxy error page?): "
    f"{_ANOTHER_MIRROR}",
    openpgp.UNSUPPORTED: "Debian signs with an algorithm the plugin does not support: extend "
    "pants_oci/openpgp/openpgp.py",
}


@dataclass(frozen=True)
class IndexFile:
    sha256: str
    size: int


@dataclass(frozen=True)
class Release:
    fields: Dict[str, str]  # Every field by its name as written (multi-line values keep their lines).
    origin: Optional[str]
    label: Optional[str]
    suite: Optional[str]
    codename: Optional[str]
    date: Optional[int]  # Epoch seconds.
    valid_until: Optional[int]  # Epoch seconds; None: no limit, as apt reads a Release without Valid-Until.
    architectures: Tuple[str, ...]
    components: Tuple[str, ...]
    sha256: Dict[str, IndexFile]  # Index files by path relative to dists/<suite>/, e.g. main/binary-amd64/Packages.xz.
    signer_fingerprints: Tuple[str, ...] = field(default=())  # Primary keys that signed it (verify_inrelease).


# Debian writes dates as RFC 2822 in UTC ("Sat, 22 Nov 2025 08:16:17 UTC"); apt also accepts numeric offsets.
_DATE = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?(\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) "
    r"(\d{2}):(\d{2}):(\d{2}) (UTC|GMT|Z|[+-]\d{4})"
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def parse_release_date(value: str) -> int:
    """Epoch seconds of a Release file date; ValueError when it is not one."""
    match = _DATE.fullmatch(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a date like 'Sat, 22 Nov 2025 08:16:17 UTC'")
    day, month, year, hour, minute, second, zone = match.groups()
    fields = (int(year), _MONTHS.index(month) + 1, int(day), int(hour), int(minute), int(second))
    try:
        # time.struct_time does not validate, so check the fields by round-tripping them.
        timestamp = calendar.timegm(fields + (0, 0, 0))
        if time.gmtime(timestamp)[:6] != fields:
            raise ValueError
    except (ValueError, OverflowError):
        raise ValueError(f"{value!r} is not a valid date") from None
    return timestamp - _zone_offset(zone)


def _zone_offset(zone: str) -> int:
    if zone in ("UTC", "GMT", "Z"):
        return 0
    sign = -1 if zone[0] == "-" else 1
    return sign * (int(zone[1:3]) * 3600 + int(zone[3:5]) * 60)


def parse_release(text: bytes, archive: str, suite: str) -> Release:
    """Parse a Release file (the signed text of InRelease); `archive` and `suite` only name it in errors."""
    try:
        fields = _parse_paragraph(text.decode("utf-8"))
        date = _optional_date(fields, "Date")
        valid_until = _optional_date(fields, "Valid-Until")
        sha256 = _parse_sha256_list(fields.get("SHA256", ""))
    except (UnicodeDecodeError, ValueError) as e:
        raise ArchiveVerificationError(archive, suite, f"malformed Release file: {e}") from None
    return Release(
        fields=fields,
        origin=fields.get("Origin"),
        label=fields.get("Label"),
        suite=fields.get("Suite"),
        codename=fields.get("Codename"),
        date=date,
        valid_until=valid_until,
        architectures=tuple(fields.get("Architectures", "").split()),
        components=tuple(fields.get("Components", "").split()),
        sha256=sha256,
    )


def _parse_paragraph(text: str) -> Dict[str, str]:
    """The fields of a deb822 paragraph; continuation lines (starting with a blank) are kept, one per line."""
    # Values are collected as lists of lines and joined once: `+=` on a dict value copies the whole value for
    # every continuation line, quadratic in a long SHA256 list.
    fields: Dict[str, List[str]] = {}
    name: Optional[str] = None
    lines = text.rstrip("\n").split("\n")
    for number, line in enumerate(lines, start=1):
        if line[:1] in (" ", "\t"):
            if name is None:
                raise ValueError(f"line {number} continues no field")
            fields[name].append(line.strip())
        elif not line.strip():
            raise ValueError(f"line {number} is blank: a Release file is one paragraph")
        else:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise ValueError(f"line {number} is not a 'Field: value' line: {line[:80]!r}")
            if name in fields:
                raise ValueError(f"field {name} appears twice")
            fields[name] = [value.strip()]
    return {name: "\n".join(values) for name, values in fields.items()}


def _optional_date(fields: Dict[str, str], name: str) -> Optional[int]:
    if name not in fields:
        return None
    try:
        return parse_release_date(fields[name])
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None


def _parse_sha256_list(value: str) -> Dict[str, IndexFile]:
    files: Dict[str, IndexFile] = {}
    for line in value.split("\n"):
        if not line:
            continue  # The value starts on the line after "SHA256:".
        parts = line.split()
        if len(parts) != 3 or not re.fullmatch(r"[0-9a-f]{64}", parts[0]) or not parts[1].isdigit():
            raise ValueError(f"SHA256 entry {line[:100]!r} is not 'sha256 size path'")
        if parts[2] in files:
            raise ValueError(f"SHA256 lists {parts[2]} twice")
        files[parts[2]] = IndexFile(parts[0], int(parts[1]))
    return files


def check_date(release: Release, now: int, archive: str, suite: str) -> None:
    """Refuse a Release file dated in the future, as apt does: the clock is wrong, so Valid-Until means nothing."""
    if release.date is not None and release.date > now:
        raise ArchiveVerificationError(
            archive,
            suite,
            f"the Release file is dated {format_release_date(release.date)}, after the current time "
            f"{format_release_date(now)}",
            "Check this machine's clock",
        )


def check_valid_until(release: Release, now: int, archive: str, suite: str) -> None:
    """Refuse a Release file past its Valid-Until; without Valid-Until there is no limit, as for apt."""
    if release.valid_until is not None and now > release.valid_until:
        raise ArchiveVerificationError(
            archive,
            suite,
            f"the Release file expired on {format_release_date(release.valid_until)} (Valid-Until; it is now "
            f"{format_release_date(now)})",
            "The mirror serves a stale or replayed Release file: use an up-to-date mirror ([debian].archive_url)",
        )


# The default of [debian].max_release_age, in days (see subsystem.py for why 30).
DEFAULT_MAX_RELEASE_AGE_DAYS = 30
_DAY = 86400


def check_max_age(release: Release, now: int, max_age: Optional[int], archive: str, suite: str) -> None:
    """Refuse a Release file without Valid-Until whose Date is more than `max_age` seconds before `now` (None: no
    limit): for such a suite nothing else stops a mirror from serving an old index forever (a freeze attack)."""
    if max_age is None or release.valid_until is not None:
        return
    if release.date is None:
        raise ArchiveVerificationError(
            archive,
            suite,
            "the Release file has neither Date nor Valid-Until, so its age cannot be checked",
            f"{_ANOTHER_MIRROR}, or set [debian].max_release_age = 0 for a private archive that writes no Date",
        )
    if now - release.date > max_age:
        raise ArchiveVerificationError(
            archive,
            suite,
            f"the Release file is dated {format_release_date(release.date)}, {(now - release.date) // _DAY} days "
            f"before {format_release_date(now)}; it has no Valid-Until and is older than [debian].max_release_age "
            f"({max_age // _DAY} days)",
            "The mirror may have stopped syncing or be replaying an old index: use an up-to-date mirror "
            "([debian].archive_url, [debian].security_archive_url); if Debian itself has not re-dated the suite "
            "since (compare with another mirror), raise [debian].max_release_age",
        )


def check_not_rolled_back(date: Optional[int], locked_date: int, archive: str, suite: str, lock: str) -> None:
    """Refuse a Release file older than the one the lock `lock` (a path, and the resolve to regenerate) was made
    from: a mirror rolled back or frozen, hiding what Debian published since. The same date is fine."""
    if date is not None and date >= locked_date:
        return
    served = format_release_date(date) if date is not None else "undated"
    raise ArchiveVerificationError(
        archive,
        suite,
        f"the mirror's Release file is dated {served}, older than the one the lock {lock} was made from "
        f"({format_release_date(locked_date)}): an older index (a rolled-back or frozen mirror) would hide every "
        f"update published since",
        "Nothing was downloaded from it and the lock is unchanged. Use an up-to-date mirror "
        "([debian].archive_url, [debian].security_archive_url) or retry once this one has synced",
    )


def check_suite(release: Release, archive: str, suite: str) -> None:
    """Refuse a validly signed Release file of another suite (a mirror replaying, say, an older suite's file)."""
    if suite not in (release.suite, release.codename):
        raise ArchiveVerificationError(
            archive,
            suite,
            f"the Release file is for suite {release.suite} (codename {release.codename}), not {suite}",
            f"The mirror serves another suite's Release file under dists/{suite}: {_ANOTHER_MIRROR}",
        )


def expected_index(release: Release, path: str, archive: str, suite: str) -> Tuple[str, int]:
    """The (sha256, size) the signed Release file gives for an index file, e.g. main/binary-amd64/Packages.xz."""
    entry = release.sha256.get(path)
    if entry is None:
        raise ArchiveVerificationError(
            archive,
            suite,
            f"the signed Release file does not list {path} (it has components {' '.join(release.components)} "
            f"and architectures {' '.join(release.architectures)})",
            "Check the component and architecture asked for",
        )
    return entry.sha256, entry.size


def check_index(release: Release, path: str, data: bytes, archive: str, suite: str) -> None:
    """Refuse a downloaded index file whose size or SHA256 differs from the signed Release file's."""
    sha256, size = expected_index(release, path, archive, suite)
    if len(data) != size:
        raise ArchiveVerificationError(
            archive,
            suite,
            f"{path} is {len(data)} bytes but the signed Release file says {size} bytes",
            f"The download was cut short, or the mirror is mid-sync: retry later or {_ANOTHER_MIRROR}",
        )
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise ArchiveVerificationError(
            archive,
            suite,
            f"{path} has sha256 {actual} but the signed Release file says {sha256}",
            f"The mirror serves a file that does not match its signed Release (mid-sync or tampered): retry later "
            f"or {_ANOTHER_MIRROR}",
        )


def verify_inrelease(
    inrelease: bytes, keyring: Keyring, now: int, archive: str, suite: str, max_age: Optional[int] = None
) -> Release:
    """Verify an InRelease file's signature, suite, Date and Valid-Until (or, without one, its age against
    `max_age` seconds; None: no limit); the Release it vouches for.

    `archive` is the archive's URL and `suite` the dists/ directory it was fetched from; both only name the
    archive in errors and check that the Release file is the one asked for.
    """
    try:
        verified = verify_clearsigned(inrelease, keyring, now)
    except SignatureError as e:
        raise ArchiveVerificationError(
            archive, suite, f"the InRelease file's signature does not verify: {e}", _SIGNATURE_FIXES.get(e.reason, "")
        ) from None
    release = parse_release(verified.signed_text, archive, suite)
    check_suite(release, archive, suite)
    check_date(release, now, archive, suite)
    check_valid_until(release, now, archive, suite)
    check_max_age(release, now, max_age, archive, suite)
    return dataclasses.replace(release, signer_fingerprints=verified.signer_fingerprints)


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def format_release_date(timestamp: int) -> str:
    """A date the way Release files write them; spelled out by hand because strftime's names follow the locale."""
    t = time.gmtime(timestamp)
    return (
        f"{_WEEKDAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} UTC"
    )
