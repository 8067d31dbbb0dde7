"""Rules that read this machine's Debian configuration (never cached across runs: the host can change)."""
from dataclasses import dataclass
from typing import Tuple

from pants.core.util_rules.system_binaries import BashBinary
from pants.engine.process import Process, ProcessCacheScope, ProcessResult
from pants.engine.rules import Get, collect_rules, rule
from pants.util.logging import LogLevel

from pants_oci.debian.apt_sources import APT_SOURCE_GLOBS, archive_uris, security_archive_uris

# Prints each apt source file as NUL, name, NUL, text, so the pure parser sees the files one by one.
# Bash builtins only ($(<file) instead of cat): the process runs with an empty PATH.
_DUMP_APT_SOURCES = (
    "for f in " + " ".join(APT_SOURCE_GLOBS) + '; do [ -f "$f" ] && printf "\\0%s\\0%s\\n" "$f" "$(<"$f")"; done; true'
)


@dataclass(frozen=True)
class DebianArchives:
    """Base URLs of the Debian/Ubuntu archives the machine's apt uses, in apt's order (maybe none), and of the
    Debian security archives."""

    uris: Tuple[str, ...]
    security_uris: Tuple[str, ...] = ()


@rule(desc="Read the machine's apt sources", level=LogLevel.DEBUG)
async def find_debian_archives(bash: BashBinary) -> DebianArchives:
    result = await Get(
        ProcessResult,
        Process(
            [bash.path, "-c", _DUMP_APT_SOURCES],
            description="Read the Debian archive URLs from the machine's apt sources",
            level=LogLevel.DEBUG,
            # Never stored in a cache; read once while the daemon runs (every run used to pay for it). A change
            # to the apt sources is seen after `pantsd` restarts, or at once with --no-pantsd.
            cache_scope=ProcessCacheScope.PER_RESTART_SUCCESSFUL,
        ),
    )
    parts = result.stdout.decode(errors="replace").split("\0")[1:]
    files = list(zip(parts[0::2], parts[1::2]))
    return DebianArchives(tuple(archive_uris(files)), tuple(security_archive_uris(files)))


def rules():
    return collect_rules()
