"""The LLVM CPU backend: each specialised graph becomes one native function
(codegen.py), JIT-compiled with llvmlite (engine.py) and called through a
flat argument buffer (executable.py), or from Python directly through a
generated C function (fastcall.py). Object code is reused by key: within the
process, from the disk cache (cache.py), or from a model file the caller
trusts (`preload`).

Importing the package loads what running cached object code needs (the
cache, the JIT engine, the call path); the code generator and its
lowering tables are imported on the first graph that must be compiled, so
a process whose code all comes from a cache never imports them (GPT-2
cached load: ~8 ms of imports saved)."""
from __future__ import annotations

import threading

from ...ir.attributes import TensorRef
from ...ir.graph import Graph
from ...ir.ops.prim import written_parameters
from ...ir.ops.registry import all_ops
from . import cache, capi, fastcall, parallel, runtime_library
from .blas import gemm_available
from .engine import CompiledModule, compile_module, load_object
from .executable import NativeExecutable
from .layout import constant_array, slot_count

_CONTROL_FLOW = ("prim::If", "prim::Loop", "prim::FusionGroup", "prim::CallFunction")


class LLVMBackend:
    name = "llvm"

    def __init__(self):
        self._compiled: dict[str, tuple[CompiledModule, cache.Entry]] = {}
        self._encoded: dict[str, bytes] = {}    # key -> cache.encode(...), for export
        self._preloaded: dict[str, bytes] = {}  # key -> encoded entries handed in by `preload`
        self._lock = threading.Lock()

    def _key(self, graph: Graph) -> tuple[str, bool]:
        param_types, result_types = [p.type for p in graph.params], [v.type for v in graph.returns]
        fast = capi.available() and fastcall.supports(param_types + result_types)
        environment = (parallel.thread_count(), parallel.threads_available(), parallel.uses_pool(), fast,
                       gemm_available())
        return cache.cache_key(graph, environment), fast

    def compile(self, graph: Graph) -> NativeExecutable:
        key, fast = self._key(graph)
        with self._lock:
            found, origin = self._compiled.get(key), "memory"
            if found is None:
                found, origin = self._load_encoded(key, self._preloaded.pop(key, None)), "file"
            if found is None:
                found, origin = self._load_encoded(key, cache.load(key)), "disk"
            if found is None:
                found, origin = self._compile(graph, key, fast), "compiled"
            self._compiled[key] = found
        compiled, entry = found
        types = {node.attributes["value"].name: node.output.type for node in graph.walk()
                 if node.kind == "prim::Constant" and isinstance(node.attributes["value"], TensorRef)}
        constants = [constant_array(graph.tensors[name], types[name]) for name in entry.constant_keys]
        executable = NativeExecutable(compiled, graph, constants, entry.errors, entry.entries)
        executable.origin = origin
        return executable

    def export(self, graph: Graph) -> list[tuple[str, bytes]]:
        """(key, encoded object code) of a graph compiled in this process and of
        the runtime library functions it calls, for a model file; [] if it
        was not compiled here or has literal constants."""
        key, _ = self._key(graph)
        data = self._encoded.get(key)
        if data is None:
            return []
        library = [runtime_library.record(name) for name in runtime_library.referenced(cache.decode(data)[2])]
        return [(key, data), *(entry for entry in library if entry is not None)]

    def preload(self, data: bytes) -> str:
        """Take object code that `export` gave (from a model file the user
        trusts): a later compile of the same graph on the same kind of
        machine uses it instead of LLVM, and a runtime library function is
        loaded from it instead of being compiled. ValueError if it is damaged."""
        key, entry, _ = cache.decode(data)
        if entry.entries and entry.entries[0].startswith(runtime_library.PREFIX):
            runtime_library.offer(key, data)
            return key
        with self._lock:
            self._preloaded[key] = data
        return key

    def _load_encoded(self, key: str, data: bytes | None):
        if data is None:
            return None
        try:
            stored_key, entry, obj = cache.decode(data)
        except ValueError:
            return None
        compiled = load_object(obj, entry.entries, entry.llvm_ir) if stored_key == key else None
        if compiled is None:
            return None
        self._encoded[key] = data
        return compiled, entry

    def _compile(self, graph: Graph, key: str, fast: bool):
        from .codegen import GraphCodegen  # the code generator: only when something must be compiled
        codegen = GraphCodegen(graph, f"jitc_{key[:32]}", runtime_library=True)
        module = codegen.generate()
        param_types, result_types = [p.type for p in graph.params], [v.type for v in graph.returns]
        entries = [codegen.entry]
        if fast:
            entries.append(codegen.entry + "_fast")
            fastcall.emit_fast_entry(module, entries[1], module.globals[codegen.entry], param_types, result_types,
                                     sum(map(slot_count, param_types)), sum(map(slot_count, result_types)),
                                     written_parameters(graph))
        compiled, obj = compile_module(module, entries)
        entry = cache.Entry(entries, list(codegen.constant_keys), list(codegen.errors.entries), compiled.llvm_ir)
        if all(name in graph.tensors for name in entry.constant_keys):  # literal constants are not cached
            self._encoded[key] = cache.encode(key, entry, obj)
            cache.store(key, self._encoded[key])
        return compiled, entry


def _unsupported_ops() -> dict[str, str]:
    from .lowerings import NODE_LOWERINGS
    from .scalar_ops import SCALAR_LOWERINGS
    lowered = set(NODE_LOWERINGS) | set(SCALAR_LOWERINGS) | set(_CONTROL_FLOW)
    reasons = {"prim::PythonCall": "a call of a @jitc.ignore function runs Python: the graph runs in the interpreter"}
    return {op.name: reasons.get(op.name, "no LLVM lowering yet; runs in the interpreter")
            for op in all_ops() if op.name not in lowered}


def __getattr__(name: str):
    """UNSUPPORTED_OPS, computed on first use: it needs the lowering tables."""
    if name == "UNSUPPORTED_OPS":
        globals()[name] = _unsupported_ops()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


BACKEND = LLVMBackend()

__all__ = ["BACKEND", "LLVMBackend", "UNSUPPORTED_OPS"]
