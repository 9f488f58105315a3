"""`jitc.save` / `jitc.load`: one zip file with the IR text and the raw
tensor constants; loading never runs code from the file (no pickle, no
eval), and every name, size, dtype and checksum is checked before use.

Layout (entries are stored uncompressed):

    manifest.json      format version, jitc version, entry point, tensors
    graphs/<n>.ir      IR text of each generic graph the function has
    tensors/<n>.bin    raw little-endian bytes of each tensor constant
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
import zipfile
import zlib
from typing import Any

import numpy as np

from .errors import LoadError
from .ir.errors import IRError
from .ir.graph import Graph
from .ir.parser import parse_graph
from .ir.types import DType
from .ir.verifier import verify

FORMAT_NAME = "jitc-model"
FORMAT_VERSION = 1
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.]{1,200}$")
_MAX_MANIFEST_BYTES = 16 << 20
_MAX_GRAPH_BYTES = 256 << 20
_DEFAULT_TYPES = (bool, int, float, str, type(None))


def _jitc_version() -> str:
    from . import __version__
    return __version__


def save(function, path: str | os.PathLike) -> None:
    """Write a scripted or traced function (or a loaded one) to `path`."""
    graphs: list[Graph] = function.saved_graphs()
    parameters = []
    for parameter in function.signature.parameters.values():
        entry: dict[str, Any] = {"name": parameter.name}
        if parameter.default is not inspect.Parameter.empty:
            if not isinstance(parameter.default, _DEFAULT_TYPES):
                raise TypeError(f"cannot save the default value of parameter '{parameter.name}': "
                                "only None, bool, int, float and str defaults can be saved")
            entry["default"] = parameter.default
        parameters.append(entry)
    tensors: dict[str, np.ndarray] = {}
    for graph in graphs:
        for name, array in graph.tensors.items():
            if name in tensors and tensors[name] is not array:
                raise ValueError(f"two graphs name different tensors {name!r}")
            tensors[name] = array
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "jitc_version": _jitc_version(),
        "name": function.__name__,
        "parameters": parameters,
        "output_arity": function.output_arity,
        "graphs": [f"graphs/{i}.ir" for i in range(len(graphs))],
        "tensors": {},
    }
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for index, graph in enumerate(graphs):
            archive.writestr(f"graphs/{index}.ir", str(graph))
        for name, array in tensors.items():
            data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
            manifest["tensors"][name] = {
                "file": f"tensors/{name}.bin", "dtype": DType.from_numpy(array.dtype).value,
                "shape": list(array.shape), "sha256": hashlib.sha256(data).hexdigest()}
            archive.writestr(f"tensors/{name}.bin", data)
        archive.writestr("manifest.json", json.dumps(manifest, indent=1))


# -- loading -----------------------------------------------------------------------------------
def _require(condition: bool, message: str) -> None:
    if not condition:
        raise LoadError(message)


def _read(archive: zipfile.ZipFile, name: str, limit: int | None = None) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise LoadError(f"the file has no entry {name!r}") from None
    _require(limit is None or info.file_size <= limit, f"entry {name!r} is too large")
    return archive.read(info)


def _read_manifest(archive: zipfile.ZipFile) -> dict:
    try:
        manifest = json.loads(_read(archive, "manifest.json", _MAX_MANIFEST_BYTES))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LoadError(f"manifest.json is not valid JSON: {error}") from None
    _require(isinstance(manifest, dict) and manifest.get("format") == FORMAT_NAME,
             "not a jitc model file (manifest.json lacks the format marker)")
    version = manifest.get("format_version")
    _require(isinstance(version, int), "the manifest has no integer format_version")
    _require(version <= FORMAT_VERSION, f"the file has format version {version}, newer than this "
             f"jitc ({_jitc_version()}) reads (up to {FORMAT_VERSION}); upgrade jitc")
    for key, kind in (("name", str), ("parameters", list), ("graphs", list), ("tensors", dict)):
        _require(isinstance(manifest.get(key), kind), f"manifest field {key!r} is missing or malformed")
    arity = manifest.get("output_arity")
    _require(arity is None or (isinstance(arity, int) and not isinstance(arity, bool) and arity >= 0),
             "manifest field 'output_arity' is malformed")
    return manifest


def _read_tensor(archive: zipfile.ZipFile, name: str, entry: Any) -> np.ndarray:
    _require(_SAFE_NAME.match(name) is not None, f"tensor name {name!r} is not allowed")
    _require(isinstance(entry, dict), f"tensor {name!r} has a malformed entry")
    try:
        dtype = DType(entry.get("dtype")).numpy.newbyteorder("<")
    except ValueError:
        raise LoadError(f"tensor {name!r} has an unknown dtype {entry.get('dtype')!r}") from None
    shape = entry.get("shape")
    _require(isinstance(shape, list) and len(shape) <= 32 and all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**40 for d in shape),
        f"tensor {name!r} has a malformed shape")
    count = 1
    for d in shape:
        count *= d
    _require(entry.get("file") == f"tensors/{name}.bin", f"tensor {name!r} points at a wrong entry")
    data = _read(archive, entry["file"], count * dtype.itemsize)
    _require(len(data) == count * dtype.itemsize,
             f"tensor {name!r} holds {len(data)} bytes, its shape and dtype need {count * dtype.itemsize}")
    _require(hashlib.sha256(data).hexdigest() == entry.get("sha256"),
             f"tensor {name!r} fails its checksum: the file is damaged")
    array = np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))
    array.flags.writeable = False
    return array


def _read_graph(archive: zipfile.ZipFile, entry: Any, tensors: dict) -> Graph:
    _require(isinstance(entry, str) and re.fullmatch(r"graphs/\d{1,6}\.ir", entry) is not None,
             f"graph entry {entry!r} is not allowed")
    try:
        text = _read(archive, entry, _MAX_GRAPH_BYTES).decode("utf-8")
        graph = parse_graph(text, tensors)
        verify(graph)
    except UnicodeDecodeError:
        raise LoadError(f"{entry} is not UTF-8 text") from None
    except (IRError, RecursionError) as error:
        raise LoadError(f"{entry} does not hold a valid graph: {error}") from None
    return graph


def _read_parameters(manifest: dict) -> list[inspect.Parameter]:
    parameters = []
    for entry in manifest["parameters"]:
        _require(isinstance(entry, dict) and isinstance(entry.get("name"), str)
                 and entry["name"].isidentifier(), "a parameter entry is malformed")
        default = entry.get("default", inspect.Parameter.empty)
        _require(default is inspect.Parameter.empty or isinstance(default, _DEFAULT_TYPES),
                 f"parameter {entry['name']!r} has a malformed default")
        try:
            parameters.append(inspect.Parameter(entry["name"], inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                default=default))
        except ValueError as error:
            raise LoadError(f"the parameter list is malformed: {error}") from None
    return parameters


def load(path: str | os.PathLike, backend: str | None = None):
    """Read a model written by `jitc.save`; returns a callable like the
    saved one. A damaged or newer file raises `LoadError`."""
    from .function import LoadedFunction
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise LoadError(f"cannot open {os.fspath(path)!r} as a jitc model: {error}") from None
    try:
        with archive:
            manifest = _read_manifest(archive)
            tensors = {name: _read_tensor(archive, name, entry)
                       for name, entry in manifest["tensors"].items()}
            graphs = [_read_graph(archive, entry, tensors) for entry in manifest["graphs"]]
            parameters = _read_parameters(manifest)
    except LoadError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, OSError, EOFError, ValueError,
            NotImplementedError) as error:
        raise LoadError(f"{os.fspath(path)!r} is damaged: {error}") from None
    _require(len(graphs) > 0, "the file holds no graph")
    for graph in graphs:
        _require(len(graph.params) == len(parameters),
                 "a graph's parameters do not match the entry point's")
    return LoadedFunction(manifest["name"], parameters, graphs, manifest["output_arity"], backend)
