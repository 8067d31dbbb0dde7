"""How an ELF file was hardened: the properties Debian's hardening-check reports, read from the headers and the
dynamic symbols. The tests of runtimes read it; no sandbox tool imports it, so it does not ship with elf.py."""
import struct
from dataclasses import dataclass
from typing import Dict, FrozenSet, Optional, Tuple

from pants_oci.elf.elf import SHT_DYNAMIC, _cstr, _Reader, _sections

ET_DYN = 3
PT_INTERP, PT_GNU_STACK, PT_GNU_RELRO = 3, 0x6474E551, 0x6474E552
PF_X = 0x1
SHT_DYNSYM = 11
DT_BIND_NOW, DT_FLAGS, DT_FLAGS_1 = 24, 30, 0x6FFFFFFB
DF_BIND_NOW, DF_1_NOW, DF_1_PIE = 0x8, 0x1, 0x08000000


@dataclass(frozen=True)
class Hardening:
    executable: bool  # has a program interpreter (a shared library has none)
    pie: bool  # an executable loaded at a random address (ET_DYN with an interpreter)
    relro: bool  # PT_GNU_RELRO: relocated data made read-only after loading
    bind_now: bool  # every symbol bound at load time, so the whole GOT can be read-only (full RELRO with relro)
    stack_protector: bool  # calls __stack_chk_fail (-fstack-protector-strong put canaries somewhere)
    fortify: bool  # calls __*_chk functions (_FORTIFY_SOURCE replaced some memcpy/sprintf/... with checked ones)
    # PT_GNU_STACK without PF_X. Without the header glibc assumes the file needs an executable stack and makes the
    # stack of every process that loads it executable (lintian's executable-stack and
    # shared-library-lacks-stack-section; hardening-check does not look).
    nx_stack: bool = True

    def problems(self, stack_protector: bool = True, fortify: bool = True) -> Tuple[str, ...]:
        """What is missing, as hardening-check words it; `stack_protector`/`fortify` False skip those checks."""
        wanted = [
            ("Position Independent Executable", self.pie or not self.executable),
            ("Read-only relocations", self.relro),
            ("Immediate binding", self.bind_now),
            ("Non-executable stack", self.nx_stack),
        ]
        if stack_protector:
            wanted.append(("Stack protected", self.stack_protector))
        if fortify:
            wanted.append(("Fortify Source functions", self.fortify))
        return tuple(name for name, ok in wanted if not ok)


def _segment_flags(reader: _Reader) -> Dict[int, int]:
    """The program headers' types, each with its flags (p_flags; of the last header where a type repeats)."""
    if reader.is64:
        (phoff,) = reader.unpack("Q", 0x20)
        phentsize, phnum = reader.unpack("HH", 0x36)
        flags_at = 4  # Elf64_Phdr: p_type, p_flags, ...
    else:
        (phoff,) = reader.unpack("I", 0x1C)
        phentsize, phnum = reader.unpack("HH", 0x2A)
        flags_at = 24  # Elf32_Phdr: p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_flags
    headers = (phoff + i * phentsize for i in range(phnum))
    return {reader.unpack("I", h)[0]: reader.unpack("I", h + flags_at)[0] for h in headers}


def _imported_symbols(reader: _Reader, sections) -> FrozenSet[str]:
    """Names of the undefined (imported) dynamic symbols."""
    names = set()
    entry_fmt = "IBBHQQ" if reader.is64 else "IIIBBH"
    for section in sections:
        if section["type"] != SHT_DYNSYM or not section["entsize"]:
            continue
        strtab = sections[section["link"]]["offset"]
        for offset in range(section["offset"], section["offset"] + section["size"], section["entsize"]):
            fields = reader.unpack(entry_fmt, offset)
            name, shndx = fields[0], (fields[3] if reader.is64 else fields[5])
            if name and shndx == 0:
                names.add(_cstr(reader.data, strtab + name))
    return frozenset(names)


def _dynamic_flags(reader: _Reader, sections) -> Dict[int, int]:
    flags: Dict[int, int] = {}
    for section in sections:
        if section["type"] == SHT_DYNAMIC:
            for tag, value in reader.dynamic_entries(section):
                if tag in (DT_BIND_NOW, DT_FLAGS, DT_FLAGS_1):
                    flags[tag] = flags.get(tag, 0) | value
    return flags


def read_hardening(data: bytes) -> Optional[Hardening]:
    opened = _sections(data)
    if opened is None:
        return None
    reader, sections = opened
    try:
        segments = _segment_flags(reader)
        imported = _imported_symbols(reader, sections)
        flags = _dynamic_flags(reader, sections)
    except (struct.error, ValueError):
        return None
    (e_type,) = reader.unpack("H", 16)
    executable = PT_INTERP in segments
    bind_now = (
        DT_BIND_NOW in flags or bool(flags.get(DT_FLAGS, 0) & DF_BIND_NOW) or bool(flags.get(DT_FLAGS_1, 0) & DF_1_NOW)
    )
    return Hardening(
        executable=executable,
        pie=executable and (e_type == ET_DYN or bool(flags.get(DT_FLAGS_1, 0) & DF_1_PIE)),
        relro=PT_GNU_RELRO in segments,
        bind_now=bind_now,
        stack_protector="__stack_chk_fail" in imported,
        fortify=any(n.startswith("__") and n.endswith("_chk") and n != "__stack_chk_fail" for n in imported),
        nx_stack=PT_GNU_STACK in segments and not segments[PT_GNU_STACK] & PF_X,
    )
