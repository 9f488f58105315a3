"""A disk cache of optimised graphs, keyed before scripting: a second
process that scripts the same code with the same values skips the
frontend and the graph passes (the backend's object cache then skips LLVM).

The key must change whenever scripting could produce another graph, so it
is a fingerprint of everything scripting can read (`Fingerprint`): the
source text and position of the function, of every function it can reach
(its globals, closure cells, defaults, annotations, attributes, and the
methods of classes it reaches), the bytes of every array it can reach (a
module's parameters), the argument signature, and the jitc build (the
size, times and inode of every file of the package), NumPy, Python,
the optimisation level and the pass switches. Reachability over-approximates
what scripting reads: a global the code names is fingerprinted whether or
not scripting takes the path that reads it. A value whose contents cannot be
fingerprinted (a module outside numpy/math/jitc, an object with native
state, a partial) makes the function uncacheable: it is scripted every time.
"""
from __future__ import annotations

import builtins
import functools
import hashlib
import json
import linecache
import os
import sys
import types
from typing import Any

import numpy as np

from .ir.attributes import TensorRef
from .ir.graph import Graph
from .ir.parser import parse_graph

MAGIC = b"jitc-graph-v1\n"
# The size of an object of a class statement without __slots__: a type written in C holds more.
_PLAIN_SIZE = type("Plain", (), {}).__basicsize__
SUFFIX = ".jitcgraph"


class Uncacheable(Exception):
    """The value cannot be fingerprinted: the function is not cached."""


_LIBRARY: dict[str, bool] = {}


def _is_library(module_name: Any) -> bool:
    """Whether a module's contents are fixed by Python's, NumPy's and jitc's
    versions (and the jitc build): its objects are named, not walked. Judged
    by where the module's file lies, so a user module that shares a standard
    library name is still walked."""
    if not isinstance(module_name, str):
        return False
    known = _LIBRARY.get(module_name)
    if known is None:
        module = sys.modules.get(module_name)
        file = getattr(module, "__file__", None)
        if module is None:
            known = False
        elif file is None:
            known = module_name in sys.builtin_module_names
        else:
            inside, outside = _library_folders()
            path = os.path.realpath(file)
            known = path.startswith(inside) and (not path.startswith(outside) or path.startswith(inside[2:]))
        _LIBRARY[module_name] = known
    return known


def _library_name(value: Any) -> bool:
    """Whether `value` is what its library module's attribute path `__qualname__`
    names (np.sum, not an object that only says it comes from a library)."""
    module_name, path = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if not _is_library(module_name) or not isinstance(path, str):
        return False
    found = sys.modules[module_name]
    for part in path.split("."):
        found = getattr(found, part, None)
    return found is value


@functools.cache
def _library_folders() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(folders of library modules: the standard library's two, then NumPy's and jitc's;
    folders inside those that are not: site-packages)."""
    import sysconfig
    from . import backends, ir
    packages = [os.path.dirname(package.__file__) for package in (np, ir, backends, sys.modules["jitc"])]
    inside = [sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib"), *packages]
    outside = [sysconfig.get_path("purelib"), sysconfig.get_path("platlib")]
    return (tuple(os.path.realpath(folder) + os.sep for folder in inside),
            tuple(os.path.realpath(folder) + os.sep for folder in outside))


class Fingerprint:
    """A sha256 over a walk of Python values, following what scripting can reach."""

    def __init__(self):
        self._hash = hashlib.sha256()
        self._seen: dict[int, int] = {}
        self._keep: list[Any] = []  # keeps the ids in _seen valid
        self._files: dict[str, str] = {}  # file name -> sha256 of its text

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def text(self, *parts: Any) -> None:
        for part in parts:
            data = str(part).encode("utf-8", "surrogatepass")
            self._hash.update(len(data).to_bytes(8, "little") + data)

    def add(self, value: Any) -> None:
        """Fold `value` in; raises Uncacheable for a value it cannot describe."""
        if value is None or isinstance(value, (bool, int, float, complex, str, bytes)) \
                or value is Ellipsis or value is NotImplemented:
            self.text(type(value).__name__, repr(value))
            return
        if id(value) in self._seen:  # cycles and shared objects
            self.text("seen", self._seen[id(value)])
            return
        self._seen[id(value)] = len(self._seen)
        self._keep.append(value)
        if isinstance(value, np.ndarray):
            self._array(value)
        elif isinstance(value, (np.generic, np.dtype)):
            self.text("numpy", type(value).__name__, repr(value))
        elif type(value) in (tuple, list, set, frozenset, dict, slice, range):
            self._container(value)
        elif isinstance(value, tuple) and not hasattr(value, "__dict__"):  # a named tuple
            self.add(type(value))
            self._container(tuple(value))
        elif isinstance(value, types.ModuleType):
            if not _is_library(value.__name__):
                raise Uncacheable(f"module {value.__name__}")
            self.text("module", value.__name__)
        elif isinstance(value, types.FunctionType):
            self._function(value)
        elif isinstance(value, types.MethodType):
            self.text("method")
            self.add(value.__self__)
            self.add(value.__func__)
        elif isinstance(value, (staticmethod, classmethod)):
            self.text(type(value).__name__)
            self.add(value.__func__)
        elif isinstance(value, property):
            self.text("property")
            for accessor in (value.fget, value.fset, value.fdel):
                self.add(accessor)
        elif isinstance(value, type):
            self._class(value)
        elif isinstance(value, types.BuiltinFunctionType) and not isinstance(value.__self__, (types.ModuleType, type(None))):
            raise Uncacheable(f"the bound method {value!r}")
        elif isinstance(value, (np.ufunc, types.BuiltinFunctionType)) or _library_name(value):
            self.text("named", getattr(value, "__module__", ""), getattr(value, "__qualname__", value.__name__))
        else:
            self._instance(value)

    def _array(self, array: np.ndarray) -> None:
        if array.dtype.hasobject:
            raise Uncacheable("an array of objects")
        self.text("array", array.dtype.str, array.shape, array.strides)
        self._hash.update(hashlib.blake2b(np.ascontiguousarray(array).view(np.uint8).data).digest())

    def _container(self, value) -> None:
        if isinstance(value, (slice, range)):
            items = [value.start, value.stop, value.step]
        elif isinstance(value, (set, frozenset)):
            items = sorted(value, key=repr)  # an order that is the same in every process for plain values
        elif isinstance(value, dict):
            items = [item for pair in value.items() for item in pair]
        else:
            items = value
        items = list(items)
        self.text(type(value).__name__, len(items))
        for item in items:
            self.add(item)

    def _function(self, function: types.FunctionType) -> None:
        code = function.__code__
        if _is_library(function.__module__):
            self.text("named", function.__module__, function.__qualname__)
            return
        self.text("function", function.__module__, function.__qualname__, code.co_filename, code.co_firstlineno)
        self._file(code.co_filename, function.__globals__)
        self.add(function.__defaults__)
        self.add(function.__kwdefaults__)
        self.add(dict(function.__annotations__))
        self.add(dict(vars(function)))
        self.add(tuple(cell.cell_contents if _is_set(cell) else _EmptyCell for cell in function.__closure__ or ()))
        names = sorted(_names_read(code))
        namespaces = (function.__globals__, vars(builtins))
        for name in names:
            found = next((namespace[name] for namespace in namespaces if name in namespace), _Missing)
            self.text("global", name)
            self.add(found)

    def _file(self, filename: str, module_globals: dict) -> None:
        """The whole text of the file a function is defined in, as scripting
        would read it now (inspect.getsource goes through linecache too): any
        edit of the file gives another key."""
        digest = self._files.get(filename)
        if digest is None:
            linecache.checkcache(filename)
            lines = linecache.getlines(filename, module_globals)
            if not lines:
                raise Uncacheable(f"no source in {filename}")
            digest = self._files[filename] = hashlib.sha256("".join(lines).encode("utf-8", "surrogatepass")).hexdigest()
        self.text("file", digest)

    def _class(self, cls: type) -> None:
        self.text("class", cls.__module__, cls.__qualname__)
        if _is_library(cls.__module__):
            return
        self.add(cls.__bases__)
        for name, member in vars(cls).items():
            if name in ("__dict__", "__weakref__"):
                continue
            self.text("member", name)
            self.add(member)

    def _instance(self, value: Any) -> None:
        cls = type(value)
        state = getattr(value, "__dict__", None)
        # Only objects of classes written in Python, whose whole state is their __dict__.
        if not isinstance(state, dict) or any(base.__basicsize__ > _PLAIN_SIZE or base.__itemsize__
                                              or "__slots__" in vars(base) for base in cls.__mro__[:-1]):
            raise Uncacheable(f"an object of type {cls.__qualname__}")
        compiled = getattr(value, "__jitc_fingerprint__", None)
        self.add(cls)
        if compiled is not None:  # a jitc compiled function: what it compiles, not its caches
            self.add(compiled())
            return
        self.add(dict(state))


class _EmptyCellType:
    def __repr__(self) -> str:
        return "<empty cell>"


class _MissingType:
    def __repr__(self) -> str:
        return "<missing>"


_EmptyCell, _Missing = _EmptyCellType(), _MissingType()
for _marker in (_EmptyCellType, _MissingType):
    _marker.__module__ = "jitc"  # fingerprinted by name


def _is_set(cell) -> bool:
    try:
        cell.cell_contents
        return True
    except ValueError:
        return False


def _names_read(code: types.CodeType) -> set[str]:
    """Every global or attribute name the code and its nested code objects mention."""
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _names_read(constant)
    return names


_BUILD: list[str] = []


def jitc_build() -> str:
    """The size, modification and change times and inode of every Python file of jitc (with ir
    and backends): an edited pass or frontend gives other keys even where the version string stays."""
    if not _BUILD:
        import jitc
        from . import backends, ir
        files = _files()
        digest = hashlib.sha256(jitc.__version__.encode())
        for package in (jitc, ir, backends):
            digest.update("".join(f"{path}\0{files.stat_stamp(status)}\n"
                                  for path, status in files.source_files(os.path.dirname(package.__file__))).encode())
        _BUILD.append(digest.hexdigest())
    return _BUILD[0]


def _files():
    """The object cache's folder and file helpers (imported here: they load llvmlite)."""
    from .backends.llvm import cache
    return cache


def key(root: Any, parts: tuple) -> str | None:
    """The cache key of compiling `root` (a function or a module) with `parts`
    (signature, options); None when the cache must not be used."""
    if _files().directory() is None or os.environ.get("JITC_PRINT_AFTER"):
        return None
    fingerprint = Fingerprint()
    fingerprint.text(MAGIC, jitc_build(), np.__version__, sys.version, os.environ.get("JITC_DISABLE_PASSES", ""),
                     os.environ.get("JITC_VERIFY", ""), *parts)
    try:
        fingerprint.add(root)
    except (Uncacheable, RecursionError):
        return None
    return fingerprint.hexdigest()


def _referenced_tensors(graph: Graph) -> list[str]:
    return list(dict.fromkeys(node.attributes["value"].name for node in graph.walk()
                              if node.kind == "prim::Constant" and isinstance(node.attributes.get("value"), TensorRef)))


def encode(cache_key: str, graph: Graph, extra: dict) -> bytes | None:
    """The optimised graph's text, its tensor constants and `extra` (JSON) as bytes;
    `extra` holds the graph's canonical text too (the LLVM object cache's key)."""
    tensors, chunks = [], []
    for name in _referenced_tensors(graph):
        array = np.asarray(graph.tensors[name], order="C")  # ascontiguousarray makes 0-d arrays 1-d
        if array.dtype.hasobject:
            return None
        tensors.append([name, array.dtype.str, list(array.shape)])
        chunks.append(array.tobytes())
    canonical = _files().canonical_text(graph)
    _files().remember(graph, canonical)  # compiling it next prints it once only
    header = json.dumps({"key": cache_key, "graph": str(graph), "canonical": canonical, "tensors": tensors,
                         "extra": extra}).encode()
    body = len(header).to_bytes(8, "little") + header + b"".join(chunks)
    return MAGIC + body + hashlib.sha256(body).digest()


def decode(cache_key: str, data: bytes) -> tuple[Graph, dict]:
    """(graph, extra) from `encode`'s bytes; ValueError if damaged or for another key."""
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 40:
        raise ValueError("not a jitc graph entry")
    body, digest = memoryview(data)[len(MAGIC):-32], data[-32:]
    if hashlib.sha256(body).digest() != digest:
        raise ValueError("checksum mismatch")
    length = int.from_bytes(body[:8], "little")
    try:
        header = json.loads(bytes(body[8:8 + length]))
        if header["key"] != cache_key:
            raise ValueError("another key")
        tensors, offset = {}, 8 + length
        for name, dtype, shape in header["tensors"]:
            dtype = np.dtype(dtype)
            count = int(np.prod(shape, dtype=np.int64))
            array = np.frombuffer(body, dtype, count, offset).reshape(shape).copy()
            tensors[str(name)] = array
            offset += array.nbytes
        if offset != len(body):
            raise ValueError("trailing bytes")
        graph = parse_graph(header["graph"], tensors)
        _files().remember(graph, str(header["canonical"]))
        return graph, dict(header["extra"])
    except ValueError:
        raise
    except Exception as error:  # a malformed header, or text the parser refuses
        raise ValueError(f"malformed: {type(error).__name__}: {error}") from None


def load(cache_key: str) -> tuple[Graph, dict] | None:
    """The cached graph for `cache_key`, or None (missing, or damaged: then removed)."""
    data = _files().read(cache_key, SUFFIX)
    if data is None:
        return None
    try:
        return decode(cache_key, data)
    except ValueError:
        _files().remove(cache_key, SUFFIX)
        return None


def store(cache_key: str, graph: Graph, extra: dict) -> None:
    if any(node.kind == "prim::PythonCall" for node in graph.walk()):
        return  # calls Python objects the text cannot name
    data = encode(cache_key, graph, extra)
    if data is not None:
        _files().store(cache_key, data, SUFFIX)
