"""Inlining: each `prim::CallFunction` node is replaced by the body it
holds, so the passes after it optimise across the call and no backend ever
sees a call.

    %y : Float(*) = prim::CallFunction[name="gelu"](%x)
      block0(%x.1 : Float(*)):                         %a : Float(*) = np::tanh(%x)
        %a : Float(*) = np::tanh(%x.1)        →        return (%a)
        -> (%a)
    return (%y)

The scripter emits a call where a scripted function calls a traced or
loaded function, whose generic graph is what it calls: the generic graph
(`f.graph`) then shows the call, as TorchScript's graphs show
`prim::CallFunction`, and the specialised one (`f.graph_for(...)`) shows
it inlined. Python functions and methods are compiled at their call site
instead, since their arguments may be Python objects (a module, a tuple of
weights, an int that decides a loop) that a graph cannot take.

This pass is lowering, not optimisation: it runs at every level, level 0
included. `call_graph` builds a call node from a callee graph.
"""
from __future__ import annotations

from typing import Sequence

from ..attributes import TensorRef
from ..graph import Graph, Node, SourceLocation, Value, copy_node_into
from .manager import register_pass
from .propagate_types import propagate_call

CALL = "prim::CallFunction"


def _tensor_key(graph: Graph, array, name: str) -> str:
    """The key of `array` in `graph.tensors`, added under a fresh name
    unless the very same array is there already."""
    for key, existing in graph.tensors.items():
        if existing is array:
            return key
    key = graph.unique_tensor_name(name)
    graph.tensors[key] = array
    return key


def call_graph(graph: Graph, callee: Graph, arguments: Sequence[Value], name: str,
               source: SourceLocation | None = None) -> Node:
    """Insert (at `graph`'s insertion point) a `prim::CallFunction` of `callee`
    on `arguments`, its body a copy of `callee`'s with the types the
    arguments give it; its tensor constants join `graph.tensors`."""
    call = graph.create(CALL, list(arguments), [value.type for value in callee.returns], {"name": name},
                        source, num_blocks=1)
    body = call.blocks[0]
    mapping = {param: body.add_param(param.type, param.name) for param in callee.params}
    for node in callee.block.nodes:
        copy = copy_node_into(node, body, mapping)
        for inner in [copy, *(nested for block in copy.blocks for nested in block.walk())]:
            reference = inner.attributes.get("value") if inner.kind == "prim::Constant" else None
            if isinstance(reference, TensorRef):
                key = _tensor_key(graph, callee.tensors[reference.name], reference.name)
                inner.attributes["value"] = TensorRef(key)
    body.set_returns([mapping.get(value, value) for value in callee.returns])
    propagate_call(call)
    return call


def _inline(call: Node) -> None:
    body = call.blocks[0]
    for param, argument in zip(body.params, call.inputs):
        param.replace_all_uses_with(argument)
    for node in list(body.nodes):
        node.move_before(call)
    for output, returned in zip(call.outputs, body.returns):
        output.replace_all_uses_with(returned)
    body.clear_returns()
    call.destroy()


@register_pass(level=0)
def inline_calls(graph: Graph) -> bool:
    """Replace every prim::CallFunction by the body it holds."""
    changed = False
    while True:
        calls = [node for node in graph.walk() if node.kind == CALL]
        if not calls:
            return changed
        for call in calls:
            _inline(call)
        changed = True
