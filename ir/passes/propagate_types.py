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
from ..ops import get_op, infer_node_types
from ..types import INT, NEVER, ListType, Type, is_subtype, join_types
from .manager import register_pass

MAX_LOOP_ROUNDS = 8


def _set_types(values: Sequence[Value], types: Sequence[Type]) -> None:
    for value, type in zip(values, types):
        value.type = type


def _join(node: Node, types: Sequence[Type], what: str) -> Type:
    try:
        return join_types(types)
    except TypeError as error:
        where = f" at {node.source}" if node.source else ""
        raise IRTypeError(f"{node.kind}: {what} {error}{where}") from None


def _propagate_if(node: Node) -> None:
    infer_node_types(node)  # checks the condition's type
    _propagate_block(node.blocks[0])
    _propagate_block(node.blocks[1])
    _set_types(node.outputs, [
        _join(node, [a.type, b.type], f"the branches give output {i} different types:")
        for i, (a, b) in enumerate(zip(node.blocks[0].returns, node.blocks[1].returns))])


def _propagate_loop(node: Node) -> None:
    body = node.blocks[0]
    # Without the declared types, the loop's rule checks the trip count and condition and
    # gives the types entering the loop. The fixed point starts there, so it covers them,
    # and the rule with the outputs declared (entering joined with declared) gives it back.
    carried = list(get_op(node.kind).infer_types([v.type for v in node.inputs], node.attributes,
                                                 num_outputs=len(node.outputs)))
    for _ in range(MAX_LOOP_ROUNDS):
        _set_types(body.params, [INT, *carried])
        _propagate_block(body)
        returned = [v.type for v in body.returns[1:]]
        joined = [_join(node, [c, r], f"a loop-carried value (number {i}) changes type:")
                  for i, (c, r) in enumerate(zip(carried, returned))]
        if joined == carried:
            _set_types(node.outputs, carried)
            return
        carried = joined
    raise IRTypeError(f"prim::Loop: carried types did not settle after {MAX_LOOP_ROUNDS} rounds")


def _propagate_node(node: Node) -> None:
    if node.kind == "prim::If":
        _propagate_if(node)
    elif node.kind == "prim::Loop":
        _propagate_loop(node)
    elif node.kind in ("prim::FusionGroup", "prim::CallFunction"):
        propagate_call(node)
    else:
        _set_types(node.outputs, infer_node_types(node))


def propagate_call(node: Node) -> None:
    """The types in a closed block (a fusion group's, a call's) and of the
    node's outputs, from the types of its inputs."""
    body = node.blocks[0]
    _set_types(body.params, [v.type for v in node.inputs])
    _propagate_block(body)
    _set_types(node.outputs, [v.type for v in body.returns])


def _propagate_block(block: Block) -> None:
    for node in block.nodes:
        _propagate_node(node)


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


def _all_types(graph: Graph) -> list[Type]:
    types = [v.type for v in graph.params]
    for node in graph.walk():
        types += [v.type for v in node.outputs]
        types += [v.type for block in node.blocks for v in block.params]
    return types


@register_pass(level=1)
def propagate_types(graph: Graph) -> bool:
    """Recompute every value's type from the graph's parameter types."""
    # Loops restart their fixed point from the entering types, so types change on the way
    # even when they end where they were: compare the end with the start.
    before = _all_types(graph)
    _propagate_block(graph.block)
    if _type_empty_lists(graph):
        _propagate_block(graph.block)
    return _all_types(graph) != before


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
