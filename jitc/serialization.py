"""`jitc.save` / `jitc.load`: one zip file (format `jitc-model`, version 2
for a function, 3 for a module's methods) holding IR text, raw tensor
bytes and a JSON manifest that describes them.

    tensors/<n>.bin           raw little-endian bytes, stored uncompressed at a 64-byte offset
    graphs/<n>.ir             IR text of each generic graph (with `# file:line:col` sources)
    specializations/<n>.ir    IR text of each specialised, optimised graph compiled at save time
    extra/<name>              user files (`extra_files=`)
    native/<name>             reserved: cached object code (listed in the manifest's `native`)
    manifest.json             format and jitc versions, entry points, tensors, op versions

Loading never runs code from the file (no pickle, eval, exec or import of
names it holds): it reads JSON, IR text and raw bytes, checks every name,
size, offset, dtype, shape, version and checksum before use, parses and
verifies every graph, and maps tensors from the file read-only without
copying. Anything wrong raises `jitc.LoadError` naming what. The exact
format is documented in docs/file-format.md.
"""
from __future__ import annotations

import collections
import functools
import hashlib
import inspect
import json
import math
import mmap
import os
import re
import struct
import sys
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, MutableMapping

import numpy as np

from .backends import backend_name, get_backend
from .errors import LoadError
from .ir.attributes import TensorRef
from .ir.errors import IRError
from .ir.graph import Graph
from .ir.parser import parse_graph
from .ir.types import DType, Type
from .ir.verifier import verify

FORMAT_NAME = "jitc-model"
FORMAT_VERSION = 3  # the newest version this jitc reads: 3 added modules (the 'module' field, 'method' entries)
FUNCTION_FORMAT_VERSION = 2  # a file holding one function is written as version 2, which older jitc read too
ALIGNMENT = 64
# Ops whose meaning changed after version 1; every other op is at version 1. A file naming an
# op at a newer version than this table is refused; an older one would need an upgrader.
OP_VERSION_CHANGES: dict[str, int] = {}

MANIFEST = "manifest.json"
_ALIGNMENT_EXTRA_ID = 0xD935  # the extra-field id Android's zipalign uses for the same padding
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # a fixed date: saving the same function twice gives the same bytes
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_LOCAL_HEADER_SIGNATURE = b"PK\x03\x04"
_GRAPH_ENTRY = re.compile(r"(graphs|specializations)/\d{1,6}\.ir")
_TENSOR_NAME = re.compile(r"[A-Za-z0-9_.]{1,200}")
_EXTRA_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}")
_OP_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*::[A-Za-z_][A-Za-z0-9_]*")
_TARGET_NAME = re.compile(r"[ -~]{1,200}")  # printable ASCII
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MAX_MANIFEST_BYTES = 16 << 20
_MAX_GRAPH_BYTES = 256 << 20
_MAX_ENTRIES = 100_000
_MAX_RANK = 32
_DEFAULT_TYPES = (bool, int, float, str, type(None))


def op_versions() -> dict[str, int]:
    """The version of every op this jitc knows: 1 unless `OP_VERSION_CHANGES` says otherwise."""
    from .ir.ops import all_ops
    return {op.name: OP_VERSION_CHANGES.get(op.name, 1) for op in all_ops()}


def _jitc_version() -> str:
    from . import __version__
    return __version__


def _sha256(data) -> str:
    return hashlib.sha256(data).hexdigest()


# -- saving ------------------------------------------------------------------------------------
class _TensorPool:
    """Tensor constants of every graph, each stored once: graphs that share
    an array (a specialisation copies its generic graph's table) or hold
    equal bytes point at the same entry."""

    def __init__(self):
        self.entries: list[dict] = []
        self.data: list[bytes] = []
        self._by_id: dict[int, int] = {}
        self._by_content: dict[tuple, int] = {}
        self._keep: list[np.ndarray] = []  # keeps ids in _by_id valid

    def add(self, array: np.ndarray) -> int:
        index = self._by_id.get(id(array))
        if index is not None:
            return index
        dtype = DType.from_numpy(array.dtype)
        data = np.ascontiguousarray(array, dtype=dtype.numpy.newbyteorder("<")).tobytes()
        digest = _sha256(data)
        key = (dtype.value, array.shape, digest)
        index = self._by_content.get(key)
        if index is None:
            index = self._by_content[key] = len(self.entries)
            self.entries.append({"file": f"tensors/{index}.bin", "dtype": dtype.value,
                                 "shape": list(array.shape), "offset": None, "nbytes": len(data),
                                 "sha256": digest})
            self.data.append(data)
        self._by_id[id(array)] = index
        self._keep.append(array)
        return index


def _referenced_tensors(graph: Graph) -> list[str]:
    names = []
    for node in graph.walk():
        value = node.attributes.get("value") if node.kind == "prim::Constant" else None
        if isinstance(value, TensorRef) and value.name not in names:
            names.append(value.name)
    return names


def _graph_record(graph: Graph, file: str, pool: _TensorPool, texts: dict[str, bytes]) -> dict:
    text = str(graph).encode("utf-8")
    texts[file] = text
    return {"file": file, "sha256": _sha256(text),
            "inputs": [str(p.type) for p in graph.params],
            "outputs": [str(v.type) for v in graph.returns],
            "tensors": {name: pool.add(graph.tensors[name]) for name in _referenced_tensors(graph)}}


def _describe_parameters(function) -> list[dict]:
    parameters = []
    for parameter in function.signature.parameters.values():
        entry: dict[str, Any] = {"name": parameter.name}
        if parameter.default is not inspect.Parameter.empty:
            if not isinstance(parameter.default, _DEFAULT_TYPES):
                raise TypeError(f"cannot save the default value of parameter '{parameter.name}': "
                                "only None, bool, int, float and str defaults can be saved")
            entry["default"] = parameter.default
        parameters.append(entry)
    return parameters


def _specialized_graphs(function) -> list[tuple[Graph, dict[str, Any]]]:
    """(graph, {parameter: the int or bool value it was compiled for}) of
    the optimised graphs compiled so far, then of those a loaded function
    was saved with that it has not compiled again (keyed alike, by the
    argument signature)."""
    from .function import _static_values
    names = function.signature.parameters
    graphs = {s.types: (s.graph, _static_values(s.types, names)) for s in function.specializations()}
    for types, graph in getattr(function, "saved_specializations", {}).items():
        graphs.setdefault(types, (graph, _static_values(types, names)))
    return list(graphs.values())


def _checked_extra_files(extra_files: Mapping[str, bytes | str] | None) -> dict[str, bytes]:
    checked = {}
    for name, content in (extra_files or {}).items():
        if not isinstance(name, str) or _EXTRA_NAME.fullmatch(name) is None:
            raise ValueError(f"extra file name {name!r} is not allowed: use letters, digits, '_', "
                             "'.' and '-' (up to 200 characters, not starting with '.' or '-')")
        if isinstance(content, str):
            content = content.encode("utf-8")
        if not isinstance(content, (bytes, bytearray, memoryview)):
            raise TypeError(f"extra file {name!r} must be bytes or str, got {type(content).__name__}")
        checked[name] = bytes(content)
    return checked


def _zip_info(name: str, extra: bytes = b"") -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    info.extra = extra
    return info


def _write_aligned(archive: zipfile.ZipFile, name: str, data: bytes) -> int:
    """Store `data` so that it starts at a multiple of ALIGNMENT in the file,
    padding the local header's extra field; returns the data's offset."""
    start = archive.fp.tell()
    zip64_extra = 20 if len(data) * 1.05 > zipfile.ZIP64_LIMIT else 0  # what zipfile adds itself
    fixed = _LOCAL_HEADER.size + len(name.encode("ascii")) + 4 + zip64_extra
    padding = -(start + fixed) % ALIGNMENT
    extra = struct.pack("<HH", _ALIGNMENT_EXTRA_ID, padding) + bytes(padding)
    offset = start + fixed + padding
    archive.writestr(_zip_info(name, extra), data)
    if archive.fp.tell() != offset + len(data):
        raise RuntimeError(f"jitc.save: {name} did not land at offset {offset}; this zipfile "
                           "module writes local headers differently than expected")
    return offset


def entry_callables(obj) -> tuple[str | None, list[tuple[str, Any]]]:
    """(module name or None, [(entry point name, compiled function)]): a
    scripted or loaded module gives each of its methods (`obj.methods`),
    `forward` first; a function gives itself."""
    methods = getattr(obj, "methods", None)
    if isinstance(methods, dict):
        return obj.__name__, list(methods.items())
    return None, [(obj.__name__, obj)]


def _entry_record(name: str, kind: str, function, pool: _TensorPool, texts: dict[str, bytes]) -> dict:
    """The manifest entry of one callable; its graphs are stored as
    graphs/<n>.ir and specializations/<n>.ir, numbered across the file."""
    generic, specialized = function.saved_graphs(), _specialized_graphs(function)
    first_graph = sum(1 for name in texts if name.startswith("graphs/"))
    first_specialization = sum(1 for name in texts if name.startswith("specializations/"))
    entry = {
        "name": name,
        "kind": kind,
        "parameters": _describe_parameters(function),
        "output_arity": function.output_arity,
        "graphs": [_graph_record(g, f"graphs/{first_graph + i}.ir", pool, texts) for i, g in enumerate(generic)],
        "specializations": [_graph_record(g, f"specializations/{first_specialization + i}.ir", pool, texts)
                            for i, (g, _) in enumerate(specialized)],
    }
    statics = [function.static_arguments(graph) for graph in generic] + [static for _, static in specialized]
    for record, static in zip(entry["graphs"] + entry["specializations"], statics):
        if static:  # {parameter: value}: this graph is compiled for those int or bool values only
            record["static"] = static
    return entry


def save(function, path: str | os.PathLike, *, extra_files: Mapping[str, bytes | str] | None = None
         ) -> None:
    """Write a scripted, traced or loaded function, or a scripted or loaded
    module (every compiled method an entry point), to `path`: generic
    graphs, the specialisations compiled so far, tensor constants (each
    stored once) and `extra_files` ({name: bytes}). The file is replaced atomically."""
    extra = _checked_extra_files(extra_files)
    pool = _TensorPool()
    texts: dict[str, bytes] = {}
    module, callables = entry_callables(function)
    kind = "function" if module is None else "method"
    entries = [_entry_record(name, kind, callable_, pool, texts) for name, callable_ in callables]
    graphs = [graph for _, callable_ in callables
              for graph in callable_.saved_graphs() + [g for g, _ in _specialized_graphs(callable_)]]
    known = op_versions()
    used = sorted({node.kind for graph in graphs for node in graph.walk()})
    unknown = [kind for kind in used if kind not in known]
    if unknown:
        raise ValueError(f"cannot save {function.__name__}: its graphs use ops outside the op table: "
                         + ", ".join(unknown))
    ignored = sorted({str(node.attributes["function"]) for graph in graphs for node in graph.walk()
                      if node.kind == "prim::PythonCall"})
    if ignored:
        raise ValueError(f"cannot save {function.__name__}: it calls {', '.join(ignored)}, marked @jitc.ignore, "
                         "which stays in Python, and a model file never holds Python code; remove the "
                         "@jitc.ignore calls (or compile them) before saving")
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FUNCTION_FORMAT_VERSION if module is None else FORMAT_VERSION,
        "jitc_version": _jitc_version(),
        **({} if module is None else {"module": module}),
        "entry_points": entries,
        "tensors": pool.entries,
        "ops": {kind: known[kind] for kind in used},
        "extra_files": [{"name": name, "file": f"extra/{name}", "size": len(content),
                         "sha256": _sha256(content)} for name, content in extra.items()],
        "native": [],
    }
    native = list({key: (target, key, data) for _, callable_ in callables
                   for target, key, data in _native_code(callable_)}.values())
    for target, key, data in native:
        manifest["native"].append({"target": target, "file": f"native/{key}.jitcobj", "size": len(data),
                                   "sha256": _sha256(data)})
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".jitc-save-", dir=directory)
    try:
        with os.fdopen(handle, "wb") as file, \
                zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED) as archive:
            # Tensors first: their offsets then do not depend on anything else in the file.
            for record, data in zip(pool.entries, pool.data):
                record["offset"] = _write_aligned(archive, record["file"], data)
            for name, text in texts.items():
                archive.writestr(_zip_info(name), text)
            for name, content in extra.items():
                archive.writestr(_zip_info(f"extra/{name}"), content)
            for _, key, data in native:
                archive.writestr(_zip_info(f"native/{key}.jitcobj"), data)
            archive.writestr(_zip_info(MANIFEST), json.dumps(manifest, indent=1).encode("utf-8"))
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _native_code(function) -> list[tuple[str, str, bytes]]:
    """(target, key, object code) of each specialisation the LLVM backend
    compiled in this process, and of the runtime library functions it calls."""
    native = []
    for specialization in function.specializations():
        if specialization.backend != "llvm":
            continue
        native.extend((native_target(), key, data) for key, data in get_backend("llvm").export(specialization.graph))
    return native


def native_target() -> str:
    """The kind of machine object code is for: CPU name and the LLVM that made it."""
    import llvmlite
    import llvmlite.binding as llvm
    return f"{llvm.get_host_cpu_name()}, llvmlite {llvmlite.__version__}"


# -- what a file holds, once checked -------------------------------------------------------------
@dataclass
class EntryPoint:
    """One callable of a model file: its signature, generic graphs and the
    specialised graphs saved with it."""

    name: str
    kind: str
    parameters: list[inspect.Parameter]
    output_arity: int | None
    graphs: list[Graph] | DeferredGraphs  # deferred on trusted loads
    specializations: list[Graph]
    static_arguments: list[dict[str, Any]] = field(default_factory=list)  # one per graph
    # One per specialisation: its static values, None where the file does not say (files before it did)
    specialization_static: list[dict[str, Any] | None] = field(default_factory=list)


@dataclass
class ModelFile:
    """Everything `read_model` found in a file, checked."""

    path: str
    format_version: int
    jitc_version: str
    entry_points: list[EntryPoint]
    tensors: list[np.ndarray]
    ops: dict[str, int]
    extra_files: dict[str, bytes] = field(default_factory=dict)
    native: list[dict] = field(default_factory=list)
    module: str | None = None  # the class name when the entry points are a module's methods


# -- checking helpers ----------------------------------------------------------------------------
def _require(condition: bool, message: str) -> None:
    if not condition:
        raise LoadError(message)


def _is_int(value: Any, low: int = 0, high: int = 2**62) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _field(mapping: dict, key: str, kind: type | tuple, where: str):
    value = mapping.get(key)
    _require(isinstance(value, kind) and not (kind is int and isinstance(value, bool)),
             f"{where}: field {key!r} is missing or not a {getattr(kind, '__name__', kind)}")
    return value


def _list(mapping: dict, key: str, where: str, limit: int = _MAX_ENTRIES) -> list:
    value = _field(mapping, key, list, where)
    _require(len(value) <= limit, f"{where}: {key!r} has {len(value)} items, more than {limit}")
    return value


def _static_values(record: dict, where: str) -> dict:
    """A graph record's `static`, unchecked against the graph (`_static_arguments` checks it)."""
    static = record.get("static", {})
    _require(isinstance(static, dict), f"{where}: 'static' is malformed")
    return static


def _check_arity(graph: Graph, parameters: list[inspect.Parameter], arity: int | None, where: str) -> None:
    _require(len(graph.params) == len(parameters),
             f"{where}: a graph takes {len(graph.params)} inputs, the entry point {len(parameters)}")
    _require(len(graph.returns) == (1 if arity is None else arity),
             f"{where}: a graph returns {len(graph.returns)} values, 'output_arity' says {arity}")


class DeferredGraphs:
    """The generic graphs of an entry point of a file `jitc.load` was told to
    trust, whose texts (checksums checked) are parsed and verified on first
    use: a call whose optimised graph the file holds needs none of them.
    Called, it returns them; a graph that fails its checks raises LoadError."""

    def __init__(self, path: str, parsers: list[Callable[[], Graph]], records: list[dict],
                 parameters: list[inspect.Parameter], arity: int | None, where: str):
        self.path, self._parsers, self._records = path, parsers, records
        self._parameters, self._arity, self._where = parameters, arity, where
        self._graphs: list[Graph] | None = None

    def __len__(self) -> int:
        return len(self._parsers)

    def parameter_types(self) -> list[Type]:
        """The first graph's parameter types as the manifest gives them (checked against
        the graph when it is parsed), without parsing the graph."""
        inputs = _field(self._records[0], "inputs", list, self._where)
        if not inputs:
            return []
        try:
            signature = ", ".join(f"%p{index} : {text}" for index, text in enumerate(map(str, inputs)))
            return [p.type for p in parse_graph(f"graph({signature}):\n  return (%p0)\n").params]
        except (IRError, RecursionError, ValueError) as error:
            raise LoadError(f"{self.path!r}: {self._where}: the manifest's inputs are malformed: "
                            f"{str(error)[:200]}") from None

    def __call__(self) -> list[Graph]:
        if self._graphs is None:
            try:
                graphs = [parse() for parse in self._parsers]
                for index, (record, graph) in enumerate(zip(self._records, graphs)):
                    _static_arguments(record, graph, self._parameters, f"{self._where}, graph {index}")
                    _check_arity(graph, self._parameters, self._arity, self._where)
            except LoadError as error:
                raise LoadError(f"{self.path!r}: {error}") from None
            self._graphs = graphs
        return self._graphs


def _static_arguments(record: dict, graph: Graph, parameters: list[inspect.Parameter], where: str) -> dict:
    """A graph record's `static`: the int or bool values of the parameters
    the graph was compiled for (`jitc.script` specialises on them)."""
    static = _static_values(record, where)
    types = {parameter.name: str(param.type) for parameter, param in zip(parameters, graph.params)}
    for name, value in static.items():
        kind = "bool" if isinstance(value, bool) else "int" if _is_int(value, -2**63, 2**63 - 1) else None
        _require(kind is not None and types.get(name) == kind,
                 f"{where}: 'static' gives {name[:200]!r} a value that its parameter's type "
                 f"({types.get(name, 'no such parameter')}) does not hold")
    return static


def _check_version(manifest: dict) -> int:
    writer = manifest.get("jitc_version")
    writer_text = f"jitc {writer}" if isinstance(writer, str) and len(writer) < 100 else "an unknown jitc"
    version = manifest.get("format_version")
    _require(_is_int(version, 1), "the manifest has no integer format_version")
    _require(version <= FORMAT_VERSION,
             f"the file has format version {version}, newer than this jitc ({_jitc_version()}) reads "
             f"(up to {FORMAT_VERSION}); it was written by {writer_text}: load it with that jitc "
             "or a newer one")
    _require(version >= FUNCTION_FORMAT_VERSION,
             f"the file has format version {version} (from a development build of jitc before "
             f"{_jitc_version()}); this jitc reads versions {FUNCTION_FORMAT_VERSION} to {FORMAT_VERSION}: "
             "load it with the jitc that wrote it and save it again")
    _require(isinstance(writer, str) and 0 < len(writer) < 100 and writer.isprintable(),
             "the manifest's 'jitc_version' is missing or malformed")
    return version


def _check_op_table(manifest: dict) -> dict[str, int]:
    ops = _field(manifest, "ops", dict, "the manifest")
    known = op_versions()
    writer = manifest["jitc_version"]
    for name, version in ops.items():
        _require(_OP_NAME.fullmatch(name) is not None, f"the op table names a malformed op {name[:80]!r}")
        _require(_is_int(version, 1, 2**31), f"op {name} has a malformed version {version!r}")
        _require(name in known, f"the file uses op {name}, which this jitc ({_jitc_version()}) "
                 f"does not know; it was written by jitc {writer}")
        _require(version <= known[name], f"the file uses op {name} at version {version}, newer than "
                 f"this jitc's ({_jitc_version()}) version {known[name]}; it was written by jitc {writer}")
        _require(version == known[name], f"the file uses op {name} at version {version}; this jitc "
                 f"has version {known[name]} and no upgrader from {version}")
    return dict(ops)


class _Reader:
    """Reads and checks one file. The file is mapped read-only; tensors
    are views of that mapping."""

    def __init__(self, path: str, file, defer_generic: bool = False):
        self.path = path
        self.defer_generic = defer_generic  # generic graphs parsed on first use (`DeferredGraphs`)
        self.size = os.fstat(file.fileno()).st_size
        _require(self.size > 0, "the file is empty")
        self.mapping = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        self.archive = zipfile.ZipFile(file)
        self.infos: dict[str, zipfile.ZipInfo] = {}
        infos = self.archive.infolist()
        _require(len(infos) <= _MAX_ENTRIES, f"the file has {len(infos)} entries, too many")
        for info in infos:
            _require(info.filename not in self.infos, f"the file has two entries named {info.filename!r}")
            _require(info.compress_type == zipfile.ZIP_STORED,
                     f"entry {info.filename!r} is compressed; jitc stores every entry uncompressed")
            _require(not info.flag_bits & 0x1, f"entry {info.filename!r} is encrypted")
            _require(info.file_size == info.compress_size and 0 <= info.header_offset < self.size
                     and info.file_size <= self.size,
                     f"entry {info.filename!r} has inconsistent sizes")
            self.infos[info.filename] = info
        self.used: set[str] = set()

    def info(self, name: Any) -> zipfile.ZipInfo:
        _require(isinstance(name, str) and name in self.infos,
                 f"the file has no entry {str(name)[:200]!r}")
        _require(name not in self.used, f"entry {name!r} is named twice in the manifest")
        self.used.add(name)
        return self.infos[name]

    def read(self, name: Any, limit: int, sha256: Any = None) -> bytes:
        info = self.info(name)
        _require(info.file_size <= limit, f"entry {name!r} is too large ({info.file_size} bytes)")
        data = self.archive.read(info)  # checks the local header's name and the CRC
        _require(len(data) == info.file_size, f"entry {name!r} is truncated")
        if sha256 is not None:
            _require(isinstance(sha256, str) and _SHA256.fullmatch(sha256) is not None,
                     f"entry {name!r} has a malformed sha256")
            _require(_sha256(data) == sha256, f"entry {name!r} fails its sha256 checksum: the file is damaged")
        return data

    def data_offset(self, info: zipfile.ZipInfo) -> int:
        """Where an entry's bytes start, read from its local header."""
        start = info.header_offset
        _require(start + _LOCAL_HEADER.size <= self.size, f"entry {info.filename!r} lies outside the file")
        fields = _LOCAL_HEADER.unpack_from(self.mapping, start)
        signature, flags, method, name_length, extra_length = fields[0], fields[3], fields[4], fields[10], fields[11]
        _require(signature == _LOCAL_HEADER_SIGNATURE, f"entry {info.filename!r} has a damaged local header")
        _require(method == zipfile.ZIP_STORED and not flags & 0x1,
                 f"entry {info.filename!r}: its local header says compressed or encrypted")
        name_start = start + _LOCAL_HEADER.size
        _require(self.mapping[name_start:name_start + name_length] == info.filename.encode("ascii", "replace"),
                 f"entry {info.filename!r}: its local header names another file")
        offset = name_start + name_length + extra_length
        _require(offset + info.file_size <= self.size, f"entry {info.filename!r} runs past the end of the file")
        return offset

    # -- manifest ------------------------------------------------------------------------------
    def manifest(self) -> dict:
        data = self.read(MANIFEST, _MAX_MANIFEST_BYTES)
        try:
            manifest = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as error:
            raise LoadError(f"manifest.json is not valid JSON: {str(error)[:200]}") from None
        _require(isinstance(manifest, dict) and manifest.get("format") == FORMAT_NAME,
                 "not a jitc model file (manifest.json lacks the format marker)")
        return manifest

    # -- tensors ---------------------------------------------------------------------------------
    def tensor(self, index: int, entry: Any) -> np.ndarray:
        where = f"tensor {index}"
        _require(isinstance(entry, dict), f"{where} has a malformed entry")
        file = entry.get("file")
        _require(file == f"tensors/{index}.bin", f"{where} points at a wrong entry {str(file)[:200]!r}")
        try:
            dtype = DType(entry.get("dtype")).numpy.newbyteorder("<")
        except (ValueError, TypeError):
            raise LoadError(f"{where} has an unknown dtype {str(entry.get('dtype'))[:40]!r}") from None
        shape = entry.get("shape")
        _require(isinstance(shape, list) and len(shape) <= _MAX_RANK
                 and all(_is_int(d, 0, 2**48) for d in shape), f"{where} has a malformed shape")
        nbytes = math.prod(shape) * dtype.itemsize
        _require(entry.get("nbytes") == nbytes and _is_int(entry.get("nbytes")),
                 f"{where}: 'nbytes' does not match its shape {shape} and dtype {dtype.name}")
        info = self.info(file)
        _require(info.file_size == nbytes,
                 f"{where} holds {info.file_size} bytes, its shape and dtype need {nbytes}")
        offset = self.data_offset(info)
        _require(entry.get("offset") == offset and _is_int(offset),
                 f"{where}: its offset in the manifest ({str(entry.get('offset'))[:40]}) is not where "
                 f"its bytes are ({offset})")
        _require(offset % ALIGNMENT == 0, f"{where} is not aligned to {ALIGNMENT} bytes")
        digest = entry.get("sha256")
        _require(isinstance(digest, str) and _SHA256.fullmatch(digest) is not None,
                 f"{where} has a malformed sha256")
        with memoryview(self.mapping) as view:
            _require(_sha256(view[offset:offset + nbytes]) == digest,
                     f"{where} ({file}) fails its sha256 checksum: the file is damaged")
        if nbytes == 0:
            array = np.empty(shape, dtype)
        else:
            array = np.frombuffer(self.mapping, dtype, math.prod(shape), offset).reshape(shape)
        if sys.byteorder == "big":
            array = array.astype(dtype.newbyteorder("="))  # the one case that copies
        array.flags.writeable = False
        return array

    # -- graphs ---------------------------------------------------------------------------------
    def graph(self, record: Any, where: str, tensors: list[np.ndarray], ops: dict[str, int],
              deferred: bool = False) -> Graph | Callable[[], Graph]:
        """The graph of a manifest record, checked; `deferred`: its text is read
        and its checksum checked now, and a function parses and verifies it later."""
        _require(isinstance(record, dict), f"{where} has a malformed entry")
        file = record.get("file")
        _require(isinstance(file, str) and _GRAPH_ENTRY.fullmatch(file) is not None,
                 f"{where} points at a wrong entry {str(file)[:200]!r}")
        table = _field(record, "tensors", dict, where)
        named = {}
        for name, index in table.items():
            _require(_TENSOR_NAME.fullmatch(name) is not None, f"{where}: tensor name {name[:200]!r} is not allowed")
            _require(_is_int(index, 0, len(tensors) - 1), f"{where}: tensor @{name} points at no tensor")
            named[name] = tensors[index]
        text = self.read(file, _MAX_GRAPH_BYTES, _field(record, "sha256", str, where))
        parse = functools.partial(self.parse_checked, text, named, file, record, where, ops)
        return parse if deferred else parse()

    @staticmethod
    def parse_checked(text: bytes, named: dict, file: str, record: dict, where: str, ops: dict[str, int]) -> Graph:
        """A graph entry's text (its checksum checked) parsed and verified against the manifest."""
        try:
            graph = parse_graph(text.decode("utf-8"), named)
            verify(graph)
        except UnicodeDecodeError:
            raise LoadError(f"{file} is not UTF-8 text") from None
        except (IRError, RecursionError, ValueError, OverflowError) as error:
            raise LoadError(f"{file} does not hold a valid graph: {str(error)[:500]}") from None
        for node in graph.walk():
            _require(node.kind in ops, f"{file} uses op {node.kind}, which the file's op table does not list")
        for key, values in (("inputs", graph.params), ("outputs", graph.returns)):
            _require(_field(record, key, list, where) == [str(v.type) for v in values],
                     f"{where}: the manifest's {key} do not match the types in {file}")
        return graph

    def parameters(self, entries: list, where: str) -> list[inspect.Parameter]:
        parameters = []
        for entry in entries:
            _require(isinstance(entry, dict) and isinstance(entry.get("name"), str)
                     and entry["name"].isidentifier(), f"{where}: a parameter entry is malformed")
            default = entry.get("default", inspect.Parameter.empty)
            _require(default is inspect.Parameter.empty or isinstance(default, _DEFAULT_TYPES),
                     f"{where}: parameter {entry['name']!r} has a malformed default")
            try:
                parameters.append(inspect.Parameter(entry["name"], inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                    default=default))
            except ValueError as error:
                raise LoadError(f"{where}: the parameter list is malformed: {error}") from None
        try:
            inspect.Signature(parameters)
        except ValueError as error:
            raise LoadError(f"{where}: the parameter list is malformed: {error}") from None
        return parameters

    def entry_point(self, index: int, entry: Any, tensors: list, ops: dict, expected_kind: str) -> EntryPoint:
        where = f"entry point {index}"
        _require(isinstance(entry, dict), f"{where} is malformed")
        name = _field(entry, "name", str, where)
        _require(0 < len(name) <= 200 and name.isprintable(), f"{where} has a malformed name")
        kind = _field(entry, "kind", str, where)
        _require(kind in ("function", "method"), f"{where} is a {kind[:40]!r}; this jitc loads functions "
                 "and the methods of modules")
        _require(kind == expected_kind, f"{where} is a {kind}, but the file " +
                 ("names no module" if expected_kind == "function" else "holds a module's methods"))
        _require(kind == "function" or name.isidentifier(),
                 f"{where}: method name {name[:200]!r} is not an identifier")
        parameters = self.parameters(_list(entry, "parameters", where, 10_000), where)
        arity = entry.get("output_arity")
        _require(arity is None or _is_int(arity, 0, 10_000), f"{where}: 'output_arity' is malformed")
        records = _list(entry, "graphs", where)
        _require(len(records) > 0, f"{where} has no graph")
        graphs = [self.graph(record, f"{where}, graph {i}", tensors, ops, self.defer_generic)
                  for i, record in enumerate(records)]
        if self.defer_generic:
            static_arguments = [_static_values(record, f"{where}, graph {i}") for i, record in enumerate(records)]
            graphs = DeferredGraphs(self.path, graphs, records, parameters, arity, where)
        else:
            static_arguments = [_static_arguments(record, graph, parameters, f"{where}, graph {i}")
                                for i, (record, graph) in enumerate(zip(records, graphs))]
        records = _list(entry, "specializations", where)
        specializations = [self.graph(record, f"{where}, specialisation {i}", tensors, ops)
                           for i, record in enumerate(records)]
        specialization_static = [_static_arguments(record, graph, parameters, f"{where}, specialisation {i}")
                                 if "static" in record else None
                                 for i, (record, graph) in enumerate(zip(records, specializations))]
        for graph in (specializations if self.defer_generic else graphs + specializations):
            _check_arity(graph, parameters, arity, where)
        return EntryPoint(name, kind, parameters, arity, graphs, specializations, static_arguments,
                          specialization_static)

    def extra_files(self, entries: list) -> dict[str, bytes]:
        files = {}
        for entry in entries:
            _require(isinstance(entry, dict), "an extra_files entry is malformed")
            name = _field(entry, "name", str, "an extra_files entry")
            _require(_EXTRA_NAME.fullmatch(name) is not None and name not in files,
                     f"extra file name {name[:200]!r} is not allowed")
            _require(entry.get("file") == f"extra/{name}", f"extra file {name!r} points at a wrong entry")
            data = self.read(entry["file"], self.size, _field(entry, "sha256", str, f"extra file {name!r}"))
            _require(entry.get("size") == len(data), f"extra file {name!r} has a wrong size")
            files[name] = data
        return files

    def native(self, entries: list) -> list[dict]:
        """Cached object code: checked and listed here; run only when the
        caller says it trusts the file (`jitc.load(..., trust_native_code=True)`)."""
        native = []
        for entry in entries:
            _require(isinstance(entry, dict), "a native entry is malformed")
            target = _field(entry, "target", str, "a native entry")
            _require(_TARGET_NAME.fullmatch(target) is not None, "a native entry has a malformed target")
            file = entry.get("file")
            _require(isinstance(file, str) and re.fullmatch(r"native/[A-Za-z0-9_.\-]{1,200}", file) is not None,
                     f"native code for {target!r} points at a wrong entry")
            data = self.read(file, self.size, _field(entry, "sha256", str, f"native code for {target!r}"))
            _require(entry.get("size") == len(data), f"native code for {target!r} has a wrong size")
            native.append({"target": target, "file": file, "size": len(data), "data": data})
        return native

    def model(self) -> ModelFile:
        manifest = self.manifest()
        version = _check_version(manifest)
        ops = _check_op_table(manifest)
        tensors = [self.tensor(index, entry)
                   for index, entry in enumerate(_list(manifest, "tensors", "the manifest"))]
        module = manifest.get("module")
        _require(module is None or isinstance(module, str) and 0 < len(module) <= 200 and module.isprintable(),
                 "the manifest's 'module' is malformed")
        _require(module is None or version >= 3, f"the file has format version {version}, which holds no "
                 "modules, yet its manifest names one")
        kind = "function" if module is None else "method"
        entry_points = [self.entry_point(index, entry, tensors, ops, kind)
                        for index, entry in enumerate(_list(manifest, "entry_points", "the manifest", 1000))]
        names = [entry.name for entry in entry_points]
        if module is None:
            _require(len(entry_points) == 1, f"the file holds {len(entry_points)} functions; without a module "
                     "it holds one")
        else:
            _require(len(set(names)) == len(names), f"module {module!r} has two methods of one name")
            _require("forward" in names, f"module {module!r} has no forward method")
        extra = self.extra_files(_list(manifest, "extra_files", "the manifest"))
        native = self.native(_list(manifest, "native", "the manifest"))
        unexpected = sorted(set(self.infos) - self.used)
        _require(not unexpected, f"the file holds entries the manifest does not name: "
                 f"{', '.join(repr(name[:200]) for name in unexpected[:5])}")
        return ModelFile(self.path, version, manifest["jitc_version"], entry_points, tensors, ops,
                         extra, native, module)


# What zipfile and file reading raise on damaged archives.
_DAMAGE = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, OSError, EOFError, ValueError,
           NotImplementedError, struct.error, OverflowError)
BUG_MARKER = "a bug in jitc's loader"


def read_model(path: str | os.PathLike, *, defer_generic: bool = False) -> ModelFile:
    """Read and check every part of a model file; `LoadError` names the
    first thing that is wrong. `defer_generic` (a trusted load): each entry
    point's generic graphs are `DeferredGraphs`, parsed on first use."""
    try:
        shown = repr(os.fspath(path))
    except TypeError:
        raise TypeError(f"jitc.load() expects a path, got {type(path).__name__}") from None
    try:
        file = open(path, "rb")
    except OSError as error:
        raise LoadError(f"cannot open {shown}: {error.strerror or error}") from None
    try:
        with file:
            try:
                reader = _Reader(os.fspath(path), file, defer_generic)
            except (zipfile.BadZipFile, ValueError, OSError, EOFError, struct.error, OverflowError) as error:
                raise LoadError(f"cannot open {shown} as a jitc model: {str(error)[:200]}") from None
            with reader.archive:
                return reader.model()
    except LoadError as error:
        raise LoadError(f"{shown}: {error}") from None
    except _DAMAGE as error:
        raise LoadError(f"{shown} is damaged: {type(error).__name__}: {str(error)[:200]}") from None
    except Exception as error:  # noqa: BLE001 - a file must never surface as another exception type
        raise LoadError(f"{shown} could not be read ({type(error).__name__}: {str(error)[:200]}); "
                        f"this is {BUG_MARKER}, please report it with the file") from error


def load(path: str | os.PathLike, backend: str | None = None, *,
         extra_files: MutableMapping[str, Any] | None = None, trust_native_code: bool = False):
    """Read a model written by `jitc.save`; returns a callable like the
    saved one. `extra_files` ({name: anything}) is filled in place with
    the bytes of each named extra file the model holds (names it does not
    hold keep their value). A damaged or newer file raises `LoadError`.

    The file may hold object code compiled where it was saved. It is used
    (skipping LLVM on a machine of the same kind) only with
    `trust_native_code=True`: machine code from a file runs with your
    rights, so pass it only for files you would run as programs. Without it
    nothing in the file is ever executed. Trusted, the optimised graphs the
    file holds also run as saved; untrusted, each version is built again
    from the generic graphs by this jitc's own passes.

    A saved module comes back as a `LoadedModule`: called, it runs
    `forward`; each saved method is an attribute (`model.encode(x)`)."""
    from .function import LoadedFunction
    model = read_model(path, defer_generic=trust_native_code)
    if trust_native_code and backend_name(backend) == "llvm":
        for native in model.native:
            try:
                get_backend("llvm").preload(native["data"])
            except ValueError as error:
                raise LoadError(f"{os.fspath(path)!r}: native code {native['file']!r} is damaged: {error}") from None
    functions = {}
    for entry in model.entry_points:
        name = entry.name if model.module is None else f"{model.module}.{entry.name}"
        function = LoadedFunction(name, entry.parameters, entry.graphs, entry.output_arity, backend,
                                  entry.static_arguments)
        saved = [(_signature(graph, static, entry.parameters), graph)
                 for graph, static in zip(entry.specializations, entry.specialization_static)]
        function.saved_specializations = dict(saved)  # for `jitc.save` to write again
        if trust_native_code:  # the file is trusted: its optimised graphs run as saved, without the passes
            function.prepared = _unambiguous(saved)
        functions[entry.name] = function
    if extra_files is not None:
        for name in list(extra_files):
            if name in model.extra_files:
                extra_files[name] = model.extra_files[name]
    if model.module is None:
        return functions[model.entry_points[0].name]
    from .nn.scripting import LoadedModule
    return LoadedModule(model.module, functions)


def _signature(graph: Graph, static: dict[str, Any] | None, parameters: list[inspect.Parameter]) -> tuple:
    """The argument signature a saved specialisation was compiled for, as the
    dispatcher keys versions: its parameter types, with the values of the
    parameters it was specialised on."""
    from .signature import specialize_value
    static = static or {}
    return tuple(specialize_value(p.type, static[parameter.name]) if parameter.name in static else p.type
                 for p, parameter in zip(graph.params, parameters))


def _unambiguous(saved: list[tuple[tuple, Graph]]) -> dict[tuple, Graph]:
    """{signature: graph} of the saved graphs no other one shares its
    signature with (a file written before specialisations recorded their
    static values may hold two for one signature, which cannot be told apart)."""
    counts = collections.Counter(signature for signature, _ in saved)
    return {signature: graph for signature, graph in saved if counts[signature] == 1}
