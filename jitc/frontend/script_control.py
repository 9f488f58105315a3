"""Structured control flow for the scripter: `prim::If` and `prim::Loop`
nodes whose blocks are compiled by callbacks, with output types joined
from what the blocks produce (`ir.types.join_types`).

Neither function knows about the AST: the statement and expression
compilers pass callbacks that compile a branch or one loop iteration.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..errors import FrontendError
from ..ir.attributes import TensorRef
from ..ir.graph import Block, Graph, Value
from ..ir.types import INT, Type, join_types
from .builder import GraphBuilder

MAX_TYPING_ROUNDS = 16


@dataclass(frozen=True)
class Merged:
    """One value that leaves an if: what each branch makes of it. `label`
    names it in messages ("'y'", "return value 1"); `name` is the output's
    printing hint."""

    label: str
    name: str | None
    then_value: Any
    else_value: Any


def emit_if(builder: GraphBuilder, condition: Value, then_branch: Callable[[], Any],
            else_branch: Callable[[], Any], merge: Callable[[Any, Any], list[Merged]]) -> list[Value]:
    """Emit `prim::If(condition)`: run each branch callback with its block
    as the insertion point, ask `merge(then_result, else_result)` which
    values leave the if, and type each output with the join of the two
    branches' types."""
    node = builder.op_typed("prim::If", [condition], [])
    results = []
    for block, branch in zip(node.blocks, (then_branch, else_branch)):
        with builder.graph.inserting_at_end(block):
            results.append(branch())
    merged = merge(*results)
    for index, block in enumerate(node.blocks):
        with builder.graph.inserting_at_end(block):
            block.set_returns([builder.value((m.then_value, m.else_value)[index]) for m in merged])
    for item, then_value, else_value in zip(merged, *(block.returns for block in node.blocks)):
        type = _join(then_value.type, else_value.type,
                     f"{item.label} is {{}} when the condition holds and {{}} when it does not")
        node.add_output(type, item.name)
    return list(node.outputs)


def emit_loop(builder: GraphBuilder, trip_count: Any, carried: Sequence[tuple[str, Any]],
              body: Callable[[Value, list[Value]], list[Any]], index_name: str | None) -> list[Value]:
    """Emit `prim::Loop(trip_count, True, *carried)` and return its outputs.

    `body(index, params)` compiles one iteration, given the block's
    parameters (the iteration index and the carried values, named after
    the `carried` variables), and returns the carried values at its end.
    Each parameter is typed with the join of the value entering the loop
    and the value an iteration leaves; when an iteration widens a type (an
    empty list gains arrays, a shape changes) the body is compiled again
    with the wider types, until they settle.
    """
    names = [name for name, _ in carried]
    initial = [builder.value(value) for _, value in carried]
    node = builder.op_typed("prim::Loop", [trip_count, True, *initial], [v.type for v in initial])
    block = node.blocks[0]
    index = block.add_param(INT, index_name)
    params = [block.add_param(value.type, name) for value, name in zip(initial, names)]
    for _ in range(MAX_TYPING_ROUNDS):
        with builder.graph.inserting_at_end(block):
            results = body(index, params)
            block.set_returns([builder.value(True)] + [builder.value(r) for r in results])
        widened = [_join(param.type, value.type,
                         f"'{name}' is {{}} before an iteration of the loop and {{}} after it; "
                         "give it one type before the loop")
                   for name, param, value in zip(names, params, block.returns[1:])]
        if widened == [param.type for param in params]:
            break
        _discard_body(builder.graph, block)
        for param, type in zip(params, widened):
            param.type = type
    else:
        raise FrontendError(f"the types of the loop-carried variables {', '.join(names)} "
                            f"did not settle after {MAX_TYPING_ROUNDS} compilations of the loop body")
    # The op's type rule gives the types entering the loop; the outputs take the settled ones.
    for output, param in zip(node.outputs, params):
        output.type, output.name = param.type, param.name
    return list(node.outputs)


def _join(a: Type, b: Type, message: str) -> Type:
    try:
        return join_types([a, b])
    except TypeError:
        raise FrontendError(message.format(a, b)) from None


def _discard_body(graph: Graph, block: Block) -> None:
    """Remove every node of `block` and the tensor constants they held."""
    for node in block.walk():
        constant = node.attributes.get("value") if node.kind == "prim::Constant" else None
        if isinstance(constant, TensorRef):
            graph.tensors.pop(constant.name, None)
    block.clear()


__all__ = ["Merged", "emit_if", "emit_loop", "MAX_TYPING_ROUNDS"]
