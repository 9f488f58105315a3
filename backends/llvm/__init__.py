"""The LLVM CPU backend: each specialised graph becomes one native function
(codegen.py), JIT-compiled with llvmlite (engine.py) and called through a
flat argument buffer (executable.py), or from Python directly through a
generated C function (fastcall.py)."""
from __future__ import annotations

import numpy as np

from ...ir.graph import Graph
from ...ir.ops.registry import all_ops
from . import capi, fastcall
from .codegen import GraphCodegen
from .engine import compile_module, unique_name
from .executable import NativeExecutable
from .layout import slot_count
from .lowerings import NODE_LOWERINGS
from .scalar_ops import SCALAR_LOWERINGS

_CONTROL_FLOW = ("prim::If", "prim::Loop", "prim::FusionGroup")


class LLVMBackend:
    name = "llvm"

    def compile(self, graph: Graph) -> NativeExecutable:
        codegen = GraphCodegen(graph, unique_name("jitc_entry"))
        module = codegen.generate()
        constant_pointers = np.array([c.ctypes.data for c in codegen.constants] or [0], dtype=np.int64)
        param_types, result_types = [p.type for p in graph.params], [v.type for v in graph.returns]
        entries = [codegen.entry]
        if capi.available() and fastcall.supports(param_types + result_types):
            entries.append(codegen.entry + "_fast")
            fastcall.emit_fast_entry(module, entries[1], module.globals[codegen.entry], param_types, result_types,
                                     sum(map(slot_count, param_types)), sum(map(slot_count, result_types)),
                                     constant_pointers.ctypes.data)
        compiled = compile_module(module, entries)
        return NativeExecutable(compiled, graph, codegen.constants, constant_pointers, codegen.errors,
                                entries)


def _unsupported_ops() -> dict[str, str]:
    lowered = set(NODE_LOWERINGS) | set(SCALAR_LOWERINGS) | set(_CONTROL_FLOW)
    return {op.name: "no LLVM lowering yet; runs in the interpreter" for op in all_ops() if op.name not in lowered}


BACKEND = LLVMBackend()
UNSUPPORTED_OPS: dict[str, str] = _unsupported_ops()

__all__ = ["BACKEND", "LLVMBackend", "UNSUPPORTED_OPS"]
