"""Read what an ELF file needs from the dynamic linker, in pure Python: DT_NEEDED, SONAME, RUNPATH, and the
symbol versions it requires (GLIBC_2.34, ...) or defines. Enough to check that an image's ELF files all load.
How a file was hardened is read by hardening.py, which only tests use: it does not ship into the sandboxes.

64- and 32-bit, little- and big-endian; files that are not ELF return None.
"""
import struct
from dataclasses import dataclass
from typing import Dict, FrozenSet, Optional, Tuple

SHT_DYNAMIC = 6
SHT_GNU_VERDEF = 0x6FFFFFFD
SHT_GNU_VERNEED = 0x6FFFFFFE
DT_NULL, DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH = 0, 1, 14, 15, 29


@dataclass(frozen=True)
class ElfInfo:
    needed: Tuple[str, ...]
    soname: Optional[str]
    runpath: Tuple[str, ...]
    # library file name (as in DT_NEEDED) -> version names required from it, e.g. libc.so.6 -> {GLIBC_2.34}
    version_needs: Dict[str, FrozenSet[str]]
    version_defs: FrozenSet[str]
    machine: str = ""  # the architecture it was built for (MACHINE_NAMES), "" when not read


# e_machine values (the ELF header's 16 bits at offset 18) of the architectures Debian ships images for.
MACHINE_NAMES = {
    3: "i386",
    8: "mips",
    20: "ppc",
    21: "ppc64",
    22: "s390x",
    40: "arm",
    62: "x86-64",
    183: "aarch64",
    243: "riscv64",
    258: "loongarch64",
}


def _cstr(data: bytes, offset: int) -> str:
    end = data.index(b"\0", offset)
    return data[offset:end].decode(errors="replace")


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.is64 = data[4] == 2
        self.endian = "<" if data[5] == 1 else ">"

    def unpack(self, fmt: str, offset: int):
        return struct.unpack_from(self.endian + fmt, self.data, offset)

    def sections(self):
        if self.is64:
            (shoff,) = self.unpack("Q", 0x28)
            shentsize, shnum = self.unpack("HH", 0x3A)
            fmt = "IIQQQQIIQQ"
        else:
            (shoff,) = self.unpack("I", 0x20)
            shentsize, shnum = self.unpack("HH", 0x2E)
            fmt = "IIIIIIIIII"
        for i in range(shnum):
            name, sh_type, _flags, _addr, offset, size, link, info, _align, entsize = self.unpack(
                fmt, shoff + i * shentsize
            )
            yield {"type": sh_type, "offset": offset, "size": size, "link": link, "info": info, "entsize": entsize}

    def dynamic_entries(self, section):
        """(tag, value) of a SHT_DYNAMIC section's entries, up to DT_NULL."""
        entry_fmt, entry_size = ("qQ", 16) if self.is64 else ("iI", 8)
        for offset in range(section["offset"], section["offset"] + section["size"], entry_size):
            tag, value = self.unpack(entry_fmt, offset)
            if tag == DT_NULL:
                return
            yield tag, value


def _sections(data: bytes):
    """A reader and the section headers of `data`, or None when it is not a readable ELF file."""
    if len(data) < 64 or data[:4] != b"\x7fELF":
        return None
    reader = _Reader(data)
    try:
        return reader, list(reader.sections())
    except struct.error:
        return None


def read_elf(data: bytes) -> Optional[ElfInfo]:
    opened = _sections(data)
    if opened is None:
        return None
    reader, sections = opened
    needed, runpath, soname = [], [], None
    version_needs: Dict[str, FrozenSet[str]] = {}
    version_defs = set()
    for section in sections:
        if section["type"] not in (SHT_DYNAMIC, SHT_GNU_VERNEED, SHT_GNU_VERDEF):
            continue
        strtab = sections[section["link"]]["offset"]
        if section["type"] == SHT_DYNAMIC:
            for tag, value in reader.dynamic_entries(section):
                if tag == DT_NEEDED:
                    needed.append(_cstr(data, strtab + value))
                elif tag == DT_SONAME:
                    soname = _cstr(data, strtab + value)
                elif tag in (DT_RUNPATH, DT_RPATH):
                    runpath += _cstr(data, strtab + value).split(":")
        elif section["type"] == SHT_GNU_VERNEED:
            offset = section["offset"]
            for _ in range(section["info"]):
                _version, count, file_name, aux, next_offset = reader.unpack("HHIII", offset)
                names, aux_offset = set(), offset + aux
                for _ in range(count):
                    _hash, _flags, _other, name, next_aux = reader.unpack("IHHII", aux_offset)
                    names.add(_cstr(data, strtab + name))
                    aux_offset += next_aux
                library = _cstr(data, strtab + file_name)
                version_needs[library] = frozenset(version_needs.get(library, frozenset()) | names)
                if not next_offset:
                    break
                offset += next_offset
        else:
            offset = section["offset"]
            for _ in range(section["info"]):
                _version, _flags, _ndx, count, _hash, aux, next_offset = reader.unpack("HHHHIII", offset)
                if count:
                    name, _next = reader.unpack("II", offset + aux)
                    version_defs.add(_cstr(data, strtab + name))
                if not next_offset:
                    break
                offset += next_offset
    (machine,) = reader.unpack("H", 18)
    return ElfInfo(
        tuple(needed),
        soname,
        tuple(runpath),
        version_needs,
        frozenset(version_defs),
        MACHINE_NAMES.get(machine, f"machine {machine}"),
    )


# ---------------------------------------------------------------------------------------------------------------
# JSON form: ELF facts computed in a sandboxed process travel to the rules as a small file, not as the ELF bytes.
# Sets become sorted lists so the same facts always give the same JSON bytes (and the same cache key downstream);
# `needed` and `runpath` keep their order, because the dynamic linker searches them in that order.


def elf_info_to_json(info: ElfInfo) -> dict:
    return {
        "needed": list(info.needed),
        "soname": info.soname,
        "runpath": list(info.runpath),
        "version_needs": {library: sorted(versions) for library, versions in sorted(info.version_needs.items())},
        "version_defs": sorted(info.version_defs),
        "machine": info.machine,
    }


def elf_info_from_json(doc: dict) -> ElfInfo:
    return ElfInfo(
        needed=tuple(doc["needed"]),
        soname=doc["soname"],
        runpath=tuple(doc["runpath"]),
        version_needs={library: frozenset(versions) for library, versions in doc["version_needs"].items()},
        version_defs=frozenset(doc["version_defs"]),
        machine=doc.get("machine", ""),
    )


@dataclass(frozen=True, eq=False)  # holds dicts; memoized per tree within a run
class ElfFacts:
    """The ELF facts of a tree (what each file needs and provides, and its symlinks), for the closure check."""

    elves: Dict[str, ElfInfo]
    links: Dict[str, str]


def elf_facts_to_json(elves: Dict[str, ElfInfo], links: Dict[str, str]) -> dict:
    """What `base.elf_infos` returns (ELF info by path, symlink target by path), as JSON-ready data."""
    return {
        "elves": {path: elf_info_to_json(info) for path, info in sorted(elves.items())},
        "links": dict(sorted(links.items())),
    }


def elf_facts_from_json(doc: dict) -> Tuple[Dict[str, ElfInfo], Dict[str, str]]:
    """(elves, links) back from `elf_facts_to_json`'s output; other keys in `doc` are ignored, so a larger
    document that embeds these two (such as a base's facts.json) can be passed whole."""
    elves = {path: elf_info_from_json(info) for path, info in doc["elves"].items()}
    return elves, dict(doc["links"])
