"""The runtime library: functions that do not depend on the graph (the
matmul helper per dtype, with its register-blocked kernel), each compiled
once per machine into an object of its own, kept in the disk cache, and
loaded in a process the first time a module that calls it is compiled or
loaded. Graph modules only declare them: the kernel took ~150 ms of LLVM
in every module that had a float matmul (GPT-2: 265 -> 953 lines of IR).

A function's symbol names what it is and a hash of its IR, as the code
generator emits it in this process (`jitc_rt_matmul_float32_1_<hash>`):
object code that calls it then calls exactly that code, whatever the
settings (threads, BLAS) it was built under. Its cache entry is keyed by
that name and what the machine code depends on besides (LLVM, the CPU, the
backend's sources), so a process that loads cached graphs finds the
library's object by the names the graphs refer to, without building any
IR; when it is missing or damaged it is built again, if this process
builds the same IR, and otherwise the graph that calls it is compiled again.

Exported libraries (export.py) keep the helper inside each module.
"""
from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass

PREFIX = "jitc_rt_"
SUFFIX = ".jitclib"
_HASH = 20  # hex digits of the IR's sha256 in a symbol
_PLACEHOLDER = "HASH"
_NAME = re.compile(rb"jitc_rt_[a-z0-9_]+")
_lock = threading.RLock()  # building or loading a function; re-entered when a build loads what it calls
_built: dict[tuple[str, tuple[str, ...]], "Function"] = {}
_loaded: set[str] = set()
_records: dict[str, tuple[str, bytes]] = {}  # name -> (cache key, encoded record) of each function loaded here
_offered: dict[str, bytes] = {}  # name -> encoded record from a trusted model file, not loaded yet
_MODULE_FLAG = "_jitc_runtime_library"


@dataclass(frozen=True)
class Function:
    """A library function as this process builds it."""

    name: str                       # its symbol
    text: str                       # the IR of its module
    errors: list[tuple[str, str]]   # its error codes: code i + 1 is entry i (emitter.ErrorTable)


def use_in(module) -> None:
    """Let code generated into `module` (an ir.Module) call the library instead of defining its own helpers."""
    module.__dict__[_MODULE_FLAG] = True


def used_in(module) -> bool:
    return module.__dict__.get(_MODULE_FLAG, False)


def matmul(dtype, use_blas: bool) -> Function:
    """`i32 f(ctx, x, y, out)` for matrices of float `dtype` flattened as layout.py does (linalg.py)."""
    return _function("matmul", (dtype.value, str(int(use_blas))))


def _function(kind: str, params: tuple[str, ...]) -> Function:
    with _lock:
        found = _built.get((kind, params))
        if found is None:
            found = _built[(kind, params)] = _build(kind, params)
        return found


def _build(kind: str, params: tuple[str, ...]) -> Function:
    """Emit the function's module under a placeholder name; its symbol carries the hash of that text."""
    from llvmlite import ir
    from . import linalg
    from ...ir.types import DType
    placeholder = f"{PREFIX}{kind}_{'_'.join(params)}_{_PLACEHOLDER}"
    module = ir.Module(name=f"jitc_runtime_{kind}")
    if kind != "matmul":
        raise KeyError(kind)
    errors = linalg.emit_library_matmul(module, placeholder, DType(params[0]), params[1] == "1")
    text = str(module)
    name = placeholder[:-len(_PLACEHOLDER)] + hashlib.sha256(text.encode()).hexdigest()[:_HASH]
    return Function(name, text.replace(placeholder, name), list(errors))


def _parse(name: str) -> tuple[str, tuple[str, ...]] | None:
    """(kind, params) of a library symbol, or None if it is not one."""
    parts = name[len(PREFIX):].split("_")
    if not name.startswith(PREFIX) or len(parts) < 2 or len(parts[-1]) != _HASH:
        return None
    return parts[0], tuple(parts[1:-1])


def _cache_key(name: str) -> str:
    """The disk cache's key for `name`'s object: the symbol (which names the
    IR) and what its machine code depends on besides."""
    import llvmlite
    from . import cache
    parts = [name, cache.code_generator_digest(), llvmlite.__version__, *cache.host()]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def referenced(obj: bytes) -> list[str]:
    """The library symbols that object code names (those it calls)."""
    if PREFIX.encode() not in obj:
        return []
    return sorted({match.decode() for match in _NAME.findall(obj)} - {""})


def ensure(name: str) -> bool:
    """Make `name` resolve in code loaded from now on (symbols.define): from
    the disk cache, else from a trusted model file (`offer`), else compiled
    (and stored); False if this process cannot build that function (another
    version of jitc or other settings)."""
    if name in _loaded:
        return True
    with _lock:
        if name in _loaded:
            return True
        if _parse(name) is None:
            return False
        address = _from_cache(name)
        if address is None and name in _offered:
            address = _load_record(name, _offered.pop(name))
        if address is None:
            address = _compile(name)
        if address is None:
            return False
        from . import symbols
        symbols.define(name, address)
        _loaded.add(name)
        return True


def record(name: str) -> tuple[str, bytes] | None:
    """(cache key, encoded record) of a function loaded in this process, for
    a model file that saves object code calling it (so that a process
    trusting that file need not compile it)."""
    return _records.get(name)


def offer(key: str, data: bytes) -> bool:
    """Take a function's encoded record from a model file the user trusts;
    used by `ensure` if the disk cache has none. False (and ignored) when it
    was made for another machine, LLVM or jitc build than this process's."""
    from . import cache
    _, entry, _ = cache.decode(data)
    names = entry.entries
    if len(names) != 1 or _parse(names[0]) is None or key != _cache_key(names[0]):
        return False
    with _lock:
        _offered.setdefault(names[0], data)
    return True


def _from_cache(name: str) -> int | None:
    from . import cache
    key = _cache_key(name)
    data = cache.load(key, SUFFIX)
    if data is None:
        return None
    address = _load_record(name, data)
    if address is None:
        cache.remove(key, SUFFIX)
    return address


def _load_record(name: str, data: bytes) -> int | None:
    """Load an encoded record of `name`; its address, or None if it does not load."""
    from . import cache, engine
    try:
        _, entry, obj = cache.decode(data)
    except ValueError:
        return None
    compiled = engine.load_object(obj, [name], entry.llvm_ir, library_calls=False)
    if compiled is None:
        return None
    _records[name] = (_cache_key(name), data)
    return compiled.addresses[name]


def _compile(name: str) -> int | None:
    from . import cache, engine
    kind, params = _parse(name)
    try:
        function = _function(kind, params)
    except (KeyError, ValueError, IndexError):
        return None
    if function.name != name:
        return None
    compiled, obj = engine.compile_module(function.text, [name], library_calls=False)
    key = _cache_key(name)
    data = cache.encode(key, cache.Entry([name], [], function.errors, compiled.llvm_ir), obj)
    cache.store(key, data, SUFFIX)
    _records[name] = (key, data)
    return compiled.addresses[name]
