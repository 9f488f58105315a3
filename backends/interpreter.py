"""The reference interpreter as a backend: `backend="interpreter"`."""
from __future__ import annotations

import functools

from ..ir.graph import Graph
from ..ir.interpreter import run_graph


class InterpreterBackend:
    name = "interpreter"

    def compile(self, graph: Graph):
        return functools.partial(run_graph, graph)


BACKEND = InterpreterBackend()
