"""Type propagation: recompute every value's type from the parameter types,
through the op table's type rules. Control flow joins the types its blocks
return; a loop's carried types are iterated to a fixed point.

This is how a generic graph (`Tensor` everywhere) becomes a specialised one
once the parameter types are known:

    graph(%x : Float(*, 3)):                 graph(%x : Float(*, 3)):
      %y : Tensor = np::exp(%x)        →       %y : Float(*, 3) = np::exp(%x)
      return (%y)                              return (%y)
"""
from __future__ import annotations

from typing import Sequence

from ..errors import IRTypeError
from ..graph import Block, Graph, Node, Value
from ..ops import infer_node_types
from ..types import INT, NEVER, ListType, Type, is_subtype, join_types
from .manager import register_pass

MAX_LOOP_ROUNDS = 8


def _set_types(values: Sequence[Value], types: Sequence[Type]) -> bool:
    changed = False
    for value, type in zip(values, types):
        if value.type != type:
            value.type = type
            changed = True
    return changed


def _join(node: Node, types: Sequence[Type], what: str) -> Type:
    try:
        return join_types(types)
    except TypeError as error:
        where = f" at {node.source}" if node.source else ""
        raise IRTypeError(f"{node.kind}: {what} {error}{where}") from None


def _propagate_if(node: Node) -> bool:
    changed = _set_types(node.outputs, infer_node_types(node))
    changed |= _propagate_block(node.blocks[0]) | _propagate_block(node.blocks[1])
    joined = [_join(node, [a.type, b.type], f"the branches give output {i} different types:")
              for i, (a, b) in enumerate(zip(node.blocks[0].returns, node.blocks[1].returns))]
    return _set_types(node.outputs, joined) | changed


def _propagate_loop(node: Node) -> bool:
    body = node.blocks[0]
    infer_node_types(node)  # checks the trip count and condition types
    carried = [v.type for v in node.inputs[2:]]
    changed = False
    for _ in range(MAX_LOOP_ROUNDS):
        changed |= _set_types(body.params, [INT, *carried])
        changed |= _propagate_block(body)
        returned = [v.type for v in body.returns[1:]]
        joined = [_join(node, [c, r], f"a loop-carried value (number {i}) changes type:")
                  for i, (c, r) in enumerate(zip(carried, returned))]
        if joined == carried:
            return _set_types(node.outputs, carried) | changed
        carried = joined
    raise IRTypeError(f"prim::Loop: carried types did not settle after {MAX_LOOP_ROUNDS} rounds")


def _propagate_node(node: Node) -> bool:
    if node.kind == "prim::If":
        return _propagate_if(node)
    if node.kind == "prim::Loop":
        return _propagate_loop(node)
    return _set_types(node.outputs, infer_node_types(node))


def _propagate_block(block: Block) -> bool:
    changed = False
    for node in block.nodes:
        changed |= _propagate_node(node)
    return changed


def _list_type_it_flows_into(user, index: int) -> Type | None:
    """The list type of the value an empty list literal becomes at one use."""
    if isinstance(user, Block):
        owner = user.owner
        if owner is not None and owner.kind == "prim::If":
            return owner.outputs[index].type
        if owner is not None and owner.kind == "prim::Loop" and index > 0:
            return owner.outputs[index - 1].type
        return None
    if user.kind == "prim::Loop" and index >= 2:
        return user.outputs[index - 2].type
    if user.kind in ("prim::ListAppend", "prim::ListAdd"):
        return user.output.type
    return None


def _type_empty_lists(graph: Graph) -> bool:
    """Give each empty list literal (`List[Never]`) the list type it flows
    into, so that backends know its element type."""
    changed = False
    for node in graph.walk():
        if node.kind != "prim::ListConstruct" or node.inputs or node.output.type.element != NEVER:
            continue
        targets = [t for t in (_list_type_it_flows_into(u, i) for u, i in node.output.uses)
                   if isinstance(t, ListType) and t.element != NEVER]
        if targets:
            node.output.type = join_types(targets)
            changed = True
    return changed


@register_pass(level=1)
def propagate_types(graph: Graph) -> bool:
    """Recompute every value's type from the graph's parameter types."""
    changed = _propagate_block(graph.block)
    if _type_empty_lists(graph):
        _propagate_block(graph.block)
        changed = True
    return changed


def specialize(graph: Graph, param_types: Sequence[Type]) -> Graph:
    """A copy of `graph` with parameters of the given (more specific) types
    and every other type propagated from them."""
    if len(param_types) != len(graph.params):
        raise IRTypeError(f"graph takes {len(graph.params)} parameters, got {len(param_types)} types")
    specialized = graph.copy()
    for param, type in zip(specialized.params, param_types):
        if not is_subtype(type, param.type):
            raise IRTypeError(f"parameter %{param.name} is {param.type}; cannot specialise it to {type}")
        param.type = type
    propagate_types(specialized)
    return specialized
