"""What a traced value depends on, for the soundness rules of `jitc.trace`.

When a traced value becomes a Python value, the trace keeps it as a
constant. That is sound only if the value cannot change between calls
that the trace accepts. `dependencies` answers which input dims the value
is computed from (the trace then fixes them in its signature) and whether
it also depends on input data (the tracer warns, or refuses a control
decision under strict=True).

Two modes of walking the graph: the *value* of a node depends on all its
inputs; the *shape* of a tensor depends only on the shapes of its tensor
inputs and the values of its scalar inputs (sizes, slice bounds), so
`x.reshape(-1).shape[0]` depends on x's dims, never on its data.
"""
from __future__ import annotations

from typing import Iterator

from ..ir.graph import Graph, Node, Value
from ..ir.ops import ELEMENTWISE_GROUPS, Group, get_op
from ..ir.types import ListType, TensorType, TupleType

_SHAPE_QUERIES = frozenset({"np::dim", "np::size", "np::shape"})
# Ops whose scalar and 0-d inputs never change the result's shape.
_SHAPE_PRESERVING = ELEMENTWISE_GROUPS | {Group.REDUCTION, Group.CAST}


def dependencies(graph: Graph, value: Value) -> tuple[set[tuple[int, int]], bool]:
    """The (parameter index, axis) dims `value` is computed from, and
    whether it depends on the data of an input."""
    params = {param: index for index, param in enumerate(graph.params)}
    dims: set[tuple[int, int]] = set()
    data_dependent = False
    pending: list[tuple[Value, bool]] = [(value, False)]
    seen: set[tuple[Value, bool]] = set()
    while pending:
        item = pending.pop()
        if item in seen:
            continue
        seen.add(item)
        current, shape_only = item
        node = current.producer
        if node is None:
            if current in params:  # block parameters depend on what their node's inputs give
                if shape_only:
                    dims |= _varying_dims(current, params[current])
                else:
                    data_dependent = True
            continue
        if node.kind == "np::ndim":
            continue  # the rank is fixed by the signature
        if node.kind in _SHAPE_QUERIES:
            source = node.inputs[0]
            if node.kind == "np::dim" and source in params:
                axis = node.attributes["axis"] % source.type.rank
                dims |= {(params[source], axis)} & _varying_dims(source, params[source])
            else:
                pending.append((source, True))
            continue
        if shape_only and _has_known_shape(current):
            continue
        shape_preserving = get_op(node.kind).group in _SHAPE_PRESERVING
        for input in _inputs_with_blocks(node):
            if not shape_only:
                pending.append((input, False))
            elif _is_collection(input):
                pending.append((input, True))
            elif not shape_preserving:  # a size, a bound, an index or a condition
                pending.append((input, False))
    return dims, data_dependent


def _varying_dims(param: Value, index: int) -> set[tuple[int, int]]:
    """The dims of a parameter that the signature leaves open (all but 1s)."""
    shape = getattr(param.type, "shape", None) or ()
    return {(index, axis) for axis, dim in enumerate(shape) if dim != 1}


def _has_known_shape(value: Value) -> bool:
    shape = getattr(value.type, "shape", None)
    return shape is not None and all(isinstance(dim, int) for dim in shape)


def _is_collection(value: Value) -> bool:
    """Tensors of rank >= 1, lists and tuples: what shapes flow through."""
    type = value.type
    if isinstance(type, TensorType):
        return type.rank != 0
    return isinstance(type, (ListType, TupleType))


def _inputs_with_blocks(node: Node) -> Iterator[Value]:
    """A node's inputs, then every value its nested blocks read or return."""
    yield from node.inputs
    for block in node.blocks:
        for inner in block.walk():
            yield from inner.inputs
        yield from block.returns


__all__ = ["dependencies"]
