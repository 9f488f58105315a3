"""The LLVM CPU backend: each specialised graph becomes one native function
(codegen.py), JIT-compiled with llvmlite (engine.py) and called through a
flat argument buffer (executable.py)."""
from __future__ import annotations

from ...ir.graph import Graph
from ...ir.ops.registry import all_ops
from .codegen import GraphCodegen
from .engine import compile_module, unique_name
from .executable import NativeExecutable
from .lowerings import NODE_LOWERINGS
from .scalar_ops import SCALAR_LOWERINGS

_CONTROL_FLOW = ("prim::If", "prim::Loop", "prim::FusionGroup")


class LLVMBackend:
    name = "llvm"

    def compile(self, graph: Graph) -> NativeExecutable:
        codegen = GraphCodegen(graph, unique_name("jitc_entry"))
        module = codegen.generate()
        compiled = compile_module(module, codegen.entry)
        return NativeExecutable(compiled, graph, codegen.constants, codegen.errors)


def _unsupported_ops() -> dict[str, str]:
    lowered = set(NODE_LOWERINGS) | set(SCALAR_LOWERINGS) | set(_CONTROL_FLOW)
    return {op.name: "no LLVM lowering yet; runs in the interpreter" for op in all_ops() if op.name not in lowered}


BACKEND = LLVMBackend()
UNSUPPORTED_OPS: dict[str, str] = _unsupported_ops()

__all__ = ["BACKEND", "LLVMBackend", "UNSUPPORTED_OPS"]
