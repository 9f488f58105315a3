"""Structured control flow for the scripter: `prim::If` and `prim::Loop`
nodes whose blocks are compiled by callbacks, with output types joined
from what the blocks produce (`ir.types.join_types`).

Neither function knows about the AST: the statement and expression
compilers pass callbacks that compile a branch or one loop iteration. A
block may give `UNSET` (no value on that path, never read there): it
becomes a `prim::Uninitialized`, whose type Never joins with any type.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..errors import FrontendError
from ..ir.attributes import TensorRef
from ..ir.graph import Block, Graph, Node, Value
from ..ir.types import BOOL, FLOAT, INT, ScalarType, TensorType, Type, join_types
from .builder import GraphBuilder
from .script_scope import Unset

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


def materialise(builder: GraphBuilder, value: Any) -> Value:
    """`value` as an IR value; `UNSET` as a `prim::Uninitialized`."""
    if isinstance(value, Unset):
        return builder.op("prim::Uninitialized")
    return builder.value(value)


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
            block.set_returns([materialise(builder, (m.then_value, m.else_value)[index]) for m in merged])
    for item, then_value, else_value in zip(merged, *(block.returns for block in node.blocks)):
        type = _join(then_value.type, else_value.type,
                     f"{item.label} is {{}} when the condition holds and {{}} when it does not")
        node.add_output(type, item.name)
    return list(node.outputs)


def emit_loop(builder: GraphBuilder, trip_count: Any, carried: Sequence[tuple[str, Any]],
              body: Callable[[Value, list[Value]], Any], index_name: str | None,
              start_condition: Any = True) -> list[Value]:
    """Emit `prim::Loop(trip_count, start_condition, *carried)` and return
    its outputs.

    `body(index, params)` compiles one iteration, given the block's
    parameters (the iteration index and the carried values, named after
    the `carried` variables), and returns the carried values at its end,
    or `(condition, values)` where the loop goes on while `condition`
    holds. Each parameter is typed with the join of the value entering the
    loop and the value an iteration leaves; when an iteration widens a
    type (an empty list gains arrays, a shape changes) the body is
    compiled again with the wider types, until they settle.
    """
    return list(emit_loop_node(builder, trip_count, carried, body, index_name, start_condition).outputs)


def emit_loop_node(builder: GraphBuilder, trip_count: Any, carried: Sequence[tuple[str, Any]],
                   body: Callable[[Value, list[Value]], Any], index_name: str | None,
                   start_condition: Any = True) -> Node:
    """`emit_loop`, returning the `prim::Loop` node."""
    names = [name for name, _ in carried]
    initial = [materialise(builder, value) for _, value in carried]
    node = builder.op_typed("prim::Loop", [trip_count, start_condition, *initial], [v.type for v in initial])
    block = node.blocks[0]
    index = block.add_param(INT, index_name)
    params = [block.add_param(value.type, name) for value, name in zip(initial, names)]
    for _ in range(MAX_TYPING_ROUNDS):
        with builder.graph.inserting_at_end(block):
            results = body(index, params)
            condition, results = results if isinstance(results, tuple) else (True, results)
            block.set_returns([builder.value(condition)] + [materialise(builder, r) for r in results])
        widened = [value.type if _becomes_array(param.type, value.type) else
                   _join(param.type, value.type, f"'{name}' is {{}} before an iteration of the loop and {{}} "
                         "after it; give it one type before the loop")
                   for name, param, value in zip(names, params, block.returns[1:])]
        if widened == [param.type for param in params]:
            break
        _discard_body(builder.graph, block)
        for param, type in zip(params, widened):
            param.type = type
    else:
        raise FrontendError(f"the types of the loop-carried variables {', '.join(names)} "
                            f"did not settle after {MAX_TYPING_ROUNDS} compilations of the loop body")
    for index, (value, param) in enumerate(zip(initial, params)):
        if isinstance(value.type, ScalarType) and isinstance(param.type, TensorType):
            with builder.graph.inserting_before(node):
                array = builder.op("np::astype", builder.op("prim::NumToTensor", value), dtype=param.type.dtype)
            node.set_input(2 + index, array)
    # The op's type rule gives the types entering the loop; the outputs take the settled ones.
    for output, param in zip(node.outputs, params):
        output.type, output.name = param.type, param.name
    return node


def _becomes_array(before: Type, after: Type) -> bool:
    """Whether a Python scalar that an iteration turns into a NumPy scalar
    (`total = 0.0`, then `total = total + x[i]`) enters the loop as a 0-d
    array of that dtype: what the first iteration computes from the weak
    scalar is what it computes from the array, as NumPy promotes them."""
    if not (isinstance(before, ScalarType) and isinstance(after, TensorType) and after.shape == ()
            and after.dtype is not None):
        return False
    return {BOOL: True, INT: after.dtype.is_float or after.dtype.is_integer, FLOAT: after.dtype.is_float}.get(before, False)


def discard_loop(graph: Graph, node: Node) -> None:
    """Remove a loop whose outputs are unused, to compile it again."""
    _discard_body(graph, node.blocks[0])
    node.destroy()


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


__all__ = ["Merged", "materialise", "emit_if", "emit_loop", "emit_loop_node", "discard_loop",
           "MAX_TYPING_ROUNDS"]
