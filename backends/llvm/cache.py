"""The compilation cache: object code per graph, in memory and on disk.

A key names everything the machine code depends on: the graph's text
(without source locations), jitc, llvmlite and LLVM versions, the text of
the code generator and the op table (an edited lowering or runtime under
the same version string must not run old object code), the CPU and
its features, the thread count, the Python and NumPy versions the native
call path was built for. In one process a key compiles once; on disk an
entry holds the object file and what is needed to call it, so a second
process skips LLVM. The key's two costly parts, the code generator's text
and the CPU as LLVM names it, are kept in the cache folder under a stamp of
what they depend on (`source_digest`, `host`): a second process neither
reads the sources nor imports LLVM to find its code. An entry that fails
its checksum or does not parse is deleted and rebuilt.

JITC_CACHE_DIR picks the folder (default ~/.cache/jitc); JITC_DISABLE_CACHE=1
turns the disk cache off.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import pathlib
import sys
import tempfile
import zlib
from dataclasses import dataclass

import llvmlite
import numpy as np

from ...ir.printer import print_graph

MAGIC = b"jitc-object-v2\n"
MAGIC_V1 = b"jitc-object-v1\n"  # the IR inside the metadata: still read (model files hold such entries)


@dataclass
class Entry:
    """What a compiled graph needs besides the graph: where its code is."""

    entries: list[str]          # symbol names: the entry, and the fast entry if any
    constant_keys: list[str]    # tensor constants in the order the code reads them
    errors: list[tuple[str, str]]
    llvm_ir: str | bytes  # the optimised IR, or it zlib-compressed (read back: decompressed when listed)


_KNOWN: list = [None, None]  # a graph and its canonical text, known without printing it (`remember`)


def remember(graph, text: str) -> None:
    """Tell `canonical_text` the text of `graph` (the graph cache holds it for
    the graphs it reads back): compiling that graph next need not print it."""
    _KNOWN[:] = [graph, text]


def canonical_text(graph) -> str:
    """The graph's text with values numbered in order: graphs that differ only
    in value names or source locations (a loaded model and the one saved) agree."""
    if _KNOWN[0] is graph:
        return _KNOWN[1]
    copy = graph.copy()
    for node in copy.walk():
        for value in node.outputs:
            value.name = None
        for block in node.blocks:
            for value in block.params:
                value.name = None
    for value in copy.params:
        value.name = None
    return print_graph(copy, with_source=False)


def source_files(root: str) -> list[tuple[str, os.stat_result]]:
    """Every .py file under the folder `root` (outside __pycache__), sorted: (its path, its stat)."""
    found, folders = [], [root]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        folders.append(entry.path)
                elif entry.name.endswith(".py"):
                    found.append((entry.path, entry.stat()))
    found.sort(key=lambda item: item[0])
    return found


def stat_stamp(status: os.stat_result) -> str:
    """What changes when a file is written: size, modification and change
    times, inode (the change time cannot be set back, as mtime can by tar or cp -p)."""
    return f"{status.st_size}\0{status.st_mtime_ns}\0{status.st_ctime_ns}\0{status.st_ino}"


def source_digest(*roots: str) -> str:
    """A sha256 of the text of every .py file under the folders `roots`. Reading
    them all costs a few ms per process, so the digest is kept in the cache
    folder under a hash of the files' paths and `stat_stamp`s: a process that
    finds the files as a previous one left them reads the digest, not the files."""
    files = [(root, path, status) for root in roots for path, status in source_files(root)]
    stamp = hashlib.sha256("".join(f"{path}\0{stat_stamp(status)}\n" for _, path, status in files).encode()).hexdigest()
    memo = read(stamp, ".sources")
    if memo is not None and len(memo) == 64 and all(c in b"0123456789abcdef" for c in memo):
        return memo.decode()
    digest = hashlib.sha256()
    for root, path, _ in files:
        with open(path, "rb") as file:
            digest.update(f"{os.path.relpath(path, root)}\0".encode() + file.read())
    store(stamp, digest.hexdigest().encode(), ".sources")
    return digest.hexdigest()


@functools.cache
def code_generator_digest() -> str:
    """A sha256 of the source of this backend and of the IR package (once per process; see `source_digest`)."""
    return source_digest(os.path.dirname(__file__), os.path.dirname(print_graph.__code__.co_filename))


_CPU_FIELDS = ("vendor_id", "cpu family", "model", "model name", "stepping", "flags", "CPU implementer",
               "CPU architecture", "CPU variant", "CPU part", "CPU revision", "Features")


def _cpu_stamp() -> str | None:
    """What /proc/cpuinfo says about every core's model and features (not
    its clock), or None where there is none to read."""
    try:
        with open("/proc/cpuinfo") as file:
            lines = [line for line in file if line.split(":", 1)[0].strip() in _CPU_FIELDS]
    except OSError:
        return None
    return "".join(lines) or None


def _llvm_host() -> list[str]:
    """The LLVM version, and the host CPU's name and features as LLVM names them."""
    import llvmlite.binding as llvm
    return [".".join(map(str, llvm.llvm_version_info)), llvm.get_host_cpu_name(),
            llvm.get_host_cpu_features().flatten()]


@functools.cache
def host() -> list[str]:
    """`_llvm_host()`, kept in the cache folder under a hash of the CPU's
    description in /proc/cpuinfo and of llvmlite's version and library file:
    LLVM (its import: ~23 ms) is asked only when one of those changes, so
    a process that loads all its code from the cache need not import it."""
    cpu = _cpu_stamp()
    if cpu is None:
        return _llvm_host()
    library = os.path.join(os.path.dirname(llvmlite.__file__), "binding")
    try:
        libraries = sorted(name for name in os.listdir(library) if name.startswith("libllvmlite"))
        stamps = [f"{name}\0{stat_stamp(os.stat(os.path.join(library, name)))}" for name in libraries]
    except OSError:
        return _llvm_host()
    stamp = hashlib.sha256("\n".join([cpu, llvmlite.__version__, library, *stamps]).encode()).hexdigest()
    memo = read(stamp, ".host")
    try:
        found = json.loads(memo) if memo is not None else None
    except ValueError:
        found = None
    if isinstance(found, list) and len(found) == 3 and all(isinstance(part, str) for part in found):
        return found
    found = _llvm_host()
    store(stamp, json.dumps(found).encode(), ".host")
    return found


def cache_key(graph, environment: tuple) -> str:
    import jitc
    parts = [canonical_text(graph), jitc.__version__, code_generator_digest(), llvmlite.__version__, *host(),
             sys.version, np.__version__, repr(environment)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def directory() -> pathlib.Path | None:
    if os.environ.get("JITC_DISABLE_CACHE"):
        return None
    return pathlib.Path(os.environ.get("JITC_CACHE_DIR") or pathlib.Path.home() / ".cache" / "jitc")


def encode(key: str, entry: Entry, obj: bytes) -> bytes:
    """An entry as bytes: a magic line, compressed metadata, the compressed
    IR (apart, so that loading need not decompress it), the object code, a sha256."""
    meta = zlib.compress(json.dumps({"key": key, "entries": entry.entries, "constant_keys": entry.constant_keys,
                                     "errors": entry.errors}).encode())
    # Level 1: the IR serves listings only; GPT-2's 355 kB compress in 2.3 ms (level 6: 8.3 ms, 50 kB not 67 kB).
    ir = entry.llvm_ir if isinstance(entry.llvm_ir, bytes) else zlib.compress(entry.llvm_ir.encode(), 1)
    body = len(meta).to_bytes(8, "little") + meta + len(ir).to_bytes(8, "little") + ir + obj
    return MAGIC + body + hashlib.sha256(body).digest()


def decode(data: bytes) -> tuple[str, Entry, bytes]:
    """(key, entry, object code) from `encode`'s bytes (or an entry of the
    first format); ValueError if they are damaged."""
    try:
        magic = MAGIC if data.startswith(MAGIC) else MAGIC_V1 if data.startswith(MAGIC_V1) else None
        if magic is None or len(data) < len(magic) + 32 + 8:
            raise ValueError("not a jitc object")
        body, digest = memoryview(data)[len(magic):-32], data[-32:]
        if hashlib.sha256(body).digest() != digest:
            raise ValueError("checksum mismatch")
        meta_length = int.from_bytes(body[:8], "little")
        meta, offset = json.loads(zlib.decompress(body[8:8 + meta_length])), 8 + meta_length
        if magic == MAGIC:
            ir_length = int.from_bytes(body[offset:offset + 8], "little")
            if offset + 8 + ir_length > len(body):
                raise ValueError("truncated IR")
            ir, offset = bytes(body[offset + 8:offset + 8 + ir_length]), offset + 8 + ir_length
        else:
            ir = str(meta["llvm_ir"])
        entry = Entry(list(meta["entries"]), list(meta["constant_keys"]),
                      [(str(a), str(b)) for a, b in meta["errors"]], ir)
        key = meta["key"]
        if not isinstance(key, str) or not all(isinstance(n, str) for n in entry.entries + entry.constant_keys):
            raise ValueError("malformed fields")
        return key, entry, bytes(body[offset:])
    except (KeyError, TypeError, zlib.error, json.JSONDecodeError) as error:
        raise ValueError(f"malformed: {type(error).__name__}") from None


def read(key: str, suffix: str = ".jitcobj") -> bytes | None:
    """The bytes of entry `key` (a file `key + suffix` in the cache folder), or None."""
    folder = directory()
    if folder is None:
        return None
    try:
        return (folder / f"{key}{suffix}").read_bytes()
    except OSError:
        return None


def remove(key: str, suffix: str = ".jitcobj") -> None:
    """Delete a damaged entry (never raises)."""
    folder = directory()
    if folder is not None:
        try:
            (folder / f"{key}{suffix}").unlink()
        except OSError:
            pass


def load(key: str, suffix: str = ".jitcobj") -> bytes | None:
    """The encoded entry for `key` on disk, or None (missing, or damaged: then removed)."""
    data = read(key, suffix)
    if data is None:
        return None
    try:
        if decode(data)[0] != key:
            raise ValueError("another key")
        return data
    except ValueError:
        remove(key, suffix)
        return None


def store(key: str, data: bytes, suffix: str = ".jitcobj") -> None:
    """Write an entry's bytes atomically (a temporary file renamed into place); never raises."""
    folder = directory()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, folder / f"{key}{suffix}")
    except OSError:
        pass
