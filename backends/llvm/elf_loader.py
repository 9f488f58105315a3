"""Load the x86-64 ELF object LLVM emits for this process into one mapping.

LLVM's MCJIT places each section of an object in its own allocation, so the
JIT must use the large code model: every constant the vector loops use is
then an absolute 64-bit address, loaded again (`movabsq` + `vbroadcastss`)
wherever registers run short. Placing all sections of an object in one
mapping keeps them within 2 GiB of each other, so the code can use the small
code model (constants read `%rip`-relative, folded into the arithmetic); and
a process that loads its code from the cache never imports LLVM.

Supported: the sections and relocations LLVM emits for the small code model
with position-independent code (`reloc="pic"`): PC-relative data and calls,
GOT loads, absolute 64-bit addresses. Calls and GOT loads of symbols outside
the object go through a stub and a GOT slot of its own, so the process's
functions may lie anywhere. `.eh_frame` is not loaded: no exception unwinds
through generated code. Anything else raises ObjectLoadError.
"""
from __future__ import annotations

import ctypes
import mmap
import struct
from dataclasses import dataclass
from typing import Callable

PAGE = mmap.PAGESIZE
_SHF_WRITE, _SHF_ALLOC, _SHF_EXECINSTR = 0x1, 0x2, 0x4
_SHT_SYMTAB, _SHT_RELA, _SHT_NOBITS = 2, 4, 8
_SHN_UNDEF, _SHN_ABS, _SHN_COMMON = 0, 0xFFF1, 0xFFF2
_R_NONE, _R_64, _R_PC32, _R_PLT32, _R_GOTPCREL, _R_32, _R_32S, _R_PC64 = 0, 1, 2, 4, 9, 10, 11, 24
_R_GOTPCRELX, _R_REX_GOTPCRELX = 41, 42
_GOT_RELOCATIONS = (_R_GOTPCREL, _R_GOTPCRELX, _R_REX_GOTPCRELX)
_STB_GLOBAL, _STB_WEAK = 1, 2
_STUB = 8  # bytes: jmp *slot(%rip), padded
_UNLOADED = (".eh_frame",)
_MAX_SIZE = 1 << 30  # bytes of code and data one object may ask for

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long)
_libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
_libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)


class ObjectLoadError(ValueError):
    """The object is damaged, or uses a feature this loader does not support."""


@dataclass(frozen=True)
class _Section:
    name: str
    type: int
    flags: int
    offset: int
    size: int
    link: int
    info: int
    align: int


@dataclass(frozen=True)
class LoadedObject:
    """Addresses of the object's global symbols; the mapping lives as long as the process."""
    symbols: dict[str, int]
    base: int
    size: int


@dataclass
class _Layout:
    """Where each loaded section, GOT slot and stub lies, as offsets from the mapping's start."""
    offsets: dict[int, int]       # section index -> offset
    spans: list[tuple[int, int]]  # code, read-only data, writable data: page-aligned [start, end)
    stubs: int
    got: int
    slotted: list[int]            # symbol indices with a GOT slot and a stub, in slot order
    size: int


def load(data: bytes, resolve: Callable[[str], int | None]) -> LoadedObject:
    """`data` (an ELF64 x86-64 relocatable object) relocated and made executable;
    `resolve(name)` gives the address of a symbol the object does not define."""
    sections = _sections(data)
    loaded = [i for i, s in enumerate(sections)
              if s.flags & _SHF_ALLOC and s.size and s.name not in _UNLOADED]
    symbols = _symbols(data, sections)
    relocations = [(s.info, _relocations(data, s, len(symbols))) for s in sections
                   if s.type == _SHT_RELA and s.info in loaded]
    layout = _layout(sections, loaded, symbols, relocations)
    base = _libc.mmap(None, layout.size, mmap.PROT_READ | mmap.PROT_WRITE,
                      mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
    if base in (None, ctypes.c_void_p(-1).value):
        raise MemoryError(f"cannot map {layout.size} bytes for generated code (errno {ctypes.get_errno()})")
    try:
        defined = _place(data, sections, symbols, relocations, layout, base, resolve)
        for (start, end), protection in zip(layout.spans, (mmap.PROT_READ | mmap.PROT_EXEC, mmap.PROT_READ,
                                                           mmap.PROT_READ | mmap.PROT_WRITE)):
            if end > start and _libc.mprotect(base + start, end - start, protection) != 0:
                raise OSError(ctypes.get_errno(), "mprotect failed on generated code")
    except BaseException:
        _libc.munmap(base, layout.size)
        raise
    return LoadedObject(defined, base, layout.size)


def _layout(sections, loaded, symbols, relocations) -> _Layout:
    """Code, then read-only data, then writable data, each group on pages of
    its own; the stubs follow the code and the GOT the read-only data."""
    # one GOT slot (and stub) per symbol loaded through the GOT or from outside the object
    slotted = sorted({sym for _, entries in relocations for _, sym, kind, _ in entries
                      if kind in _GOT_RELOCATIONS or (sym and symbols[sym][1] == _SHN_UNDEF)})
    groups = ([i for i in loaded if sections[i].flags & _SHF_EXECINSTR],
              [i for i in loaded if not sections[i].flags & (_SHF_EXECINSTR | _SHF_WRITE)],
              [i for i in loaded if sections[i].flags & _SHF_WRITE and not sections[i].flags & _SHF_EXECINSTR])
    offsets, spans, position, stubs, got = {}, [], 0, 0, 0
    for number, group in enumerate(groups):
        start = position
        for i in group:
            if sections[i].align > PAGE:
                raise ObjectLoadError(f"{sections[i].name} asks for {sections[i].align}-byte alignment")
            position = _align(position, max(sections[i].align, 1))
            offsets[i] = position
            position += sections[i].size
        if number == 0:
            stubs = position = _align(position, 16)
            position += _STUB * len(slotted)
        elif number == 1:
            got = position = _align(position, 8)
            position += 8 * len(slotted)
        position = _align(position, PAGE)
        spans.append((start, position))
    if position > _MAX_SIZE:
        raise ObjectLoadError(f"the object asks for {position} bytes of memory")
    return _Layout(offsets, spans, stubs, got, slotted, max(position, PAGE))


def _place(data, sections, symbols, relocations, layout: _Layout, base: int, resolve) -> dict[str, int]:
    """Copy the sections to the mapping at `base`, fill the GOT slots and
    stubs, apply the relocations; the addresses of the object's global symbols."""
    offsets = layout.offsets
    for i in offsets:
        s = sections[i]
        if s.type != _SHT_NOBITS:
            _check_range(data, s.offset, s.size, s.name)
            ctypes.memmove(base + offsets[i], data[s.offset:s.offset + s.size], s.size)

    def address_of(index: int) -> int:
        name, shndx, value, _ = symbols[index]
        if index == 0 or shndx == _SHN_ABS:
            return value
        if shndx == _SHN_UNDEF:
            address = resolve(name)
            if not address:
                raise ObjectLoadError(f"generated code refers to {name!r}, which this process does not define")
            return address
        if shndx not in offsets:
            raise ObjectLoadError(f"a relocation refers to {name or 'a section'}, which is not loaded")
        return base + offsets[shndx] + value

    addresses = {sym: address_of(sym) for sym in {sym for _, entries in relocations for _, sym, _, _ in entries}}
    slots = {}
    for n, sym in enumerate(layout.slotted):
        slot, stub = base + layout.got + 8 * n, base + layout.stubs + _STUB * n
        slots[sym] = slot, stub
        _write(slot, "<Q", addresses[sym] % 2 ** 64)
        # jmp *slot(%rip): FF 25, then the slot's distance from the end of this 6-byte instruction
        ctypes.memmove(stub, struct.pack("<2si2s", b"\xff\x25", slot - (stub + 6), b"\xcc\xcc"), _STUB)

    for target, entries in relocations:
        section = sections[target]
        for offset, sym, kind, addend in entries:
            if offset + (8 if kind in (_R_64, _R_PC64) else 4) > section.size:
                raise ObjectLoadError(f"a relocation lies outside {section.name}")
            place, value, name = base + offsets[target] + offset, addresses[sym], symbols[sym][0]
            if kind == _R_NONE:
                continue
            if kind == _R_64:
                _write(place, "<Q", (value + addend) % 2 ** 64)
            elif kind == _R_PC64:
                distance = value + addend - place
                if not -2 ** 63 <= distance < 2 ** 63:
                    raise ObjectLoadError(f"relocation against {name or 'a section'} out of 64-bit range")
                _write(place, "<q", distance)
            elif kind == _R_PLT32 and not _near(value + addend - place) and sym in slots:
                _write32(place, slots[sym][1] + addend - place, name)
            elif kind in (_R_PC32, _R_PLT32):
                _write32(place, value + addend - place, name)
            elif kind in _GOT_RELOCATIONS:
                _write32(place, slots[sym][0] + addend - place, name)
            elif kind in (_R_32, _R_32S):
                _write32(place, value + addend, name, signed=kind == _R_32S)
            else:
                raise ObjectLoadError(f"unsupported relocation type {kind} in {section.name}")
    return {name: base + offsets[shndx] + value for name, shndx, value, bind in symbols
            if bind in (_STB_GLOBAL, _STB_WEAK) and shndx in offsets}


def _align(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


def _fits32(value: int) -> bool:
    return -2 ** 31 <= value < 2 ** 31


def _near(distance: int) -> bool:
    """Whether a call reaches its target directly (else through the target's stub)."""
    return _fits32(distance)


def _write(place: int, layout: str, value: int) -> None:
    struct.pack_into(layout, (ctypes.c_char * 8).from_address(place), 0, value)


def _write32(place: int, value: int, name: str, signed: bool = True) -> None:
    if not (_fits32(value) if signed else 0 <= value < 2 ** 32):
        raise ObjectLoadError(f"relocation against {name or 'a section'} out of 32-bit range")
    struct.pack_into("<i" if signed else "<I", (ctypes.c_char * 4).from_address(place), 0, value)


def _check_range(data: bytes, offset: int, size: int, what: str) -> None:
    if offset < 0 or size < 0 or offset + size > len(data):
        raise ObjectLoadError(f"{what} lies outside the object ({offset}+{size} > {len(data)} bytes)")


def _sections(data: bytes) -> list[_Section]:
    if len(data) < 64 or data[:4] != b"\x7fELF":
        raise ObjectLoadError("not an ELF object")
    if data[4] != 2 or data[5] != 1:
        raise ObjectLoadError("not a little-endian 64-bit ELF object")
    kind, machine = struct.unpack_from("<HH", data, 16)
    if kind != 1 or machine != 62:
        raise ObjectLoadError(f"not an x86-64 relocatable object (type {kind}, machine {machine})")
    shoff, = struct.unpack_from("<Q", data, 40)
    entsize, count, names = struct.unpack_from("<HHH", data, 58)
    if entsize != 64 or names >= count:
        raise ObjectLoadError("damaged section table")
    _check_range(data, shoff, count * 64, "the section table")
    raw = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + 64 * i) for i in range(count)]
    name_table = raw[names]
    _check_range(data, name_table[4], name_table[5], "the section names")

    def name_at(offset: int) -> str:
        start = name_table[4] + offset
        end = data.find(b"\0", start, name_table[4] + name_table[5])
        if offset >= name_table[5] or end < 0:
            raise ObjectLoadError("damaged section name")
        return data[start:end].decode("ascii", "replace")
    return [_Section(name_at(n), t, f, o, s, link, info, a)
            for n, t, f, _, o, s, link, info, a, _ in raw]


def _symbol_table(data: bytes, sections: list[_Section]) -> tuple[_Section, _Section]:
    tables = [s for s in sections if s.type == _SHT_SYMTAB]
    if len(tables) != 1 or tables[0].link >= len(sections):
        raise ObjectLoadError("expected one symbol table")
    table, strings = tables[0], sections[tables[0].link]
    _check_range(data, table.offset, table.size, "the symbol table")
    _check_range(data, strings.offset, strings.size, "the symbol names")
    return table, strings


def _symbols(data: bytes, sections: list[_Section]) -> list[tuple[str, int, int, int]]:
    """(name, section index, value, binding) of each symbol, in table order."""
    table, strings = _symbol_table(data, sections)
    symbols = []
    for position in range(table.offset, table.offset + table.size - 23, 24):
        name, info, _, shndx, value, _ = struct.unpack_from("<IBBHQQ", data, position)
        if name >= strings.size:
            raise ObjectLoadError("damaged symbol name")
        if shndx == _SHN_COMMON:
            raise ObjectLoadError("common symbols are not supported")
        end = data.find(b"\0", strings.offset + name, strings.offset + strings.size)
        symbols.append((data[strings.offset + name:end].decode("ascii", "replace"), shndx, value, info >> 4))
    return symbols


def _relocations(data: bytes, section: _Section, symbol_count: int) -> list[tuple[int, int, int, int]]:
    """(offset, symbol index, type, addend) of each entry of a RELA section."""
    _check_range(data, section.offset, section.size, section.name)
    entries = []
    for position in range(section.offset, section.offset + section.size - 23, 24):
        offset, info, addend = struct.unpack_from("<QQq", data, position)
        if info >> 32 >= symbol_count:
            raise ObjectLoadError(f"a relocation in {section.name} refers to a symbol the object lacks")
        entries.append((offset, info >> 32, info & 0xFFFFFFFF, addend))
    return entries
