"""The reference interpreter as a backend: `backend="interpreter"`."""
from __future__ import annotations

import numpy as np

from ..ir.graph import Graph
from ..ir.interpreter import run_graph
from ..ir.ops.prim import arrays_in


def _owned(value, arguments: frozenset):
    """`value` with every array in it owning its memory: NumPy's views and the
    arrays passed in (also inside list arguments) come back as copies, as
    compiled code returns them."""
    if isinstance(value, np.ndarray):
        return value.copy() if value.base is not None or id(value) in arguments else value
    if isinstance(value, (list, tuple)):
        return type(value)(_owned(v, arguments) for v in value)
    return value


class InterpreterBackend:
    name = "interpreter"

    def compile(self, graph: Graph):
        def run(*args) -> tuple:
            return _owned(run_graph(graph, *args), frozenset(map(id, arrays_in(args))))
        return run


BACKEND = InterpreterBackend()
