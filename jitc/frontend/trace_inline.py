"""Calls of compiled functions (what `jitc.script` and `jitc.trace` return)
on traced values: the callee's graph, specialised to the proxies' types, is
copied into the trace, so a scripted function's loops and branches survive
there as `prim::Loop` and `prim::If` instead of being unrolled.

`CompiledFunction.__call__` asks `call_while_tracing` first whenever a
trace is being recorded (`ACTIVE` is not empty); only calls from the
thread that records are inlined.
"""
from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any, Sequence

from ..errors import TraceError
from ..ir.attributes import TensorRef
from ..ir.errors import IRTypeError
from ..ir.graph import Graph, Node, copy_node_into

if TYPE_CHECKING:
    from .tracer import Tracer

ACTIVE: list[tuple[int, "Tracer"]] = []  # (thread, tracer) recording now, innermost last


@contextlib.contextmanager
def recording(tracer: "Tracer"):
    entry = (threading.get_ident(), tracer)
    ACTIVE.append(entry)
    try:
        yield
    finally:
        ACTIVE.remove(entry)


def current() -> "Tracer | None":
    """The innermost tracer recording in this thread (other threads' calls
    are never recorded)."""
    thread = threading.get_ident()
    return next((tracer for owner, tracer in reversed(ACTIVE) if owner == thread), None)


def call_while_tracing(function, values: Sequence[Any]) -> Any:
    """What `function(*values)` records in the innermost trace, or
    NotImplemented when no value is traced (the call then runs as usual)."""
    from .trace_proxy import Proxy, unwrap
    tracer = current()
    if tracer is None or not any(isinstance(v, Proxy) or (isinstance(v, (list, tuple)) and any(
            isinstance(item, Proxy) for item in v)) for v in values):
        return NotImplemented
    location = tracer.location()
    arguments = unwrap(list(values))
    tracer.check_current(arguments)
    tracer.builder.source = location
    first = len(tracer.graph.block.nodes)
    arguments = [tracer.builder.value(argument) for argument in arguments]
    types = tuple(argument.type for argument in arguments)
    try:
        graph = _specialized_graph(function, types)
    except IRTypeError as error:
        raise TraceError(f"{function.__name__}(): {error}", location) from None
    mapping = dict(zip(graph.params, arguments))
    for node in graph.block.nodes:
        copy_node_into(node, tracer.graph.block, mapping)
    _move_tensor_constants(graph, tracer.graph, tracer.graph.block.nodes[first:])
    tracer.run_nodes(first, location)
    outputs = [mapping.get(value, value) for value in graph.returns]
    return tracer.wrap(outputs[0] if function.output_arity is None else tuple(outputs))


def _specialized_graph(function, types) -> Graph:
    from ..ir.passes import specialize
    generic = function.generic_graph(types)
    return specialize(generic, types)


def _move_tensor_constants(source: Graph, target: Graph, nodes: Sequence[Node]) -> None:
    """Copied constants refer to `source.tensors`; give them entries in
    `target`, one per array (a callee called twice shares its constants)."""
    names = {id(array): name for name, array in target.tensors.items()}
    for top in nodes:
        for node in [top, *(inner for block in top.blocks for inner in block.walk())]:
            reference = node.attributes.get("value") if node.kind == "prim::Constant" else None
            if isinstance(reference, TensorRef):
                array = source.tensors[reference.name]
                if id(array) not in names:
                    names[id(array)] = target.unique_tensor_name(reference.name)
                    target.tensors[names[id(array)]] = array
                node.attributes["value"] = TensorRef(names[id(array)])


__all__ = ["ACTIVE", "recording", "current", "call_while_tracing"]
