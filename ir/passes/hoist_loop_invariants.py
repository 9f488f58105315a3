"""Loop-invariant code motion: a pure node in a `prim::Loop` body whose
inputs are all defined outside the loop computes the same value on every
iteration, so it moves before the loop and runs once.

    %y = prim::Loop(%n, %true, %h)               %w.t = np::transpose(%w)
      block0(%i, %h.1):                          %y = prim::Loop(%n, %true, %h)
        %w.t = np::transpose(%w)          →        block0(%i, %h.1):
        %h.2 = np::add(%h.1, %w.t)                   %h.2 = np::add(%h.1, %w.t)
        -> (%true, %h.2)                             -> (%true, %h.2)

A loop may run zero times, and a hoisted node then runs where the original
program ran nothing: a node that can raise would raise where NumPy does not.
So unless the loop provably runs at least once (a constant trip count above
zero and a constant true start condition), only nodes that cannot raise move:
constants, shape queries on tensors of known rank, casts, transposes and
expand_dims of known rank, tuple and list building, and elementwise ops
whose operand shapes broadcast for every size (equal dims, a named symbol on
both sides, or 1) and that cannot raise on values (no integer power or
remainder, no Python-scalar division). Matmul, reshape, indexing and the
like stay unless the loop runs at least once; then the body's top-level
nodes all run in the first iteration anyway, and hoisting only moves the
first raise earlier. Only the body's own nodes move, not those of nested
blocks (an `if` in the body may not run); inner loops are done first, so
invariants climb out of nests one level per loop.
"""
from __future__ import annotations

import itertools

from ..graph import Block, Graph, Node, Value
from ..ops import UNKNOWN, Group, constant_value, get_op
from ..types import ANY_DIM, BOOL, INT, DType, ScalarType, TensorType
from .manager import register_pass

_SAFE_GROUPS = {Group.CONSTANT, Group.CAST, Group.TUPLE}
_SAFE_KINDS = {"prim::NumToTensor", "prim::ListConstruct", "prim::ListAppend", "prim::ListAdd",
               "prim::ListLen", "prim::TupleConstruct"}
_RANKED_KINDS = {"np::shape", "np::dim", "np::ndim", "np::size", "np::transpose", "np::expand_dims"}
# Elementwise ops that raise on some values: Python scalars (1 / 0, 2 ** -1, max(1, 0.5)),
# integer arrays (NumPy raises on int ** negative int).
_SCALAR_HAZARDS = {"np::divide", "np::floor_divide", "np::remainder", "np::power", "np::maximum", "np::minimum"}
_INTEGER_HAZARDS = {"np::power", "np::floor_divide", "np::remainder", "np::reciprocal"}


def _dims_always_broadcast(a, b) -> bool:
    return a == 1 or b == 1 or (a == b and a != ANY_DIM)


def _always_broadcast(types) -> bool:
    shapes = []
    for type in types:
        if isinstance(type, ScalarType):
            continue
        if not isinstance(type, TensorType) or type.shape is None:
            return False
        shapes.append(type.shape)
    rank = max((len(shape) for shape in shapes), default=0)
    for position in range(1, rank + 1):
        dims = [shape[-position] for shape in shapes if len(shape) >= position]
        if not all(_dims_always_broadcast(a, b) for a, b in itertools.combinations(dims, 2)):
            return False
    return True


def _is_integral(type) -> bool:
    """Integer or bool values (an unknown dtype counts, to be safe)."""
    if isinstance(type, TensorType):
        return type.dtype is None or not (type.dtype.is_float or type.dtype.is_complex)
    return type in (INT, BOOL)


def _weak_int_may_overflow(types) -> bool:
    """NumPy raises when a Python int does not fit an integer array's dtype."""
    return INT in types and any(isinstance(t, TensorType) and _is_integral(t) and t.dtype != DType.INT64
                                for t in types)


def cannot_raise(node: Node) -> bool:
    """True when running the node can never raise, whatever its input values."""
    op = get_op(node.kind)
    if op.group in _SAFE_GROUPS or node.kind in _SAFE_KINDS:
        return True
    if node.kind in _RANKED_KINDS:
        type = node.inputs[0].type
        return isinstance(type, TensorType) and type.shape is not None
    if not op.is_elementwise:
        return False
    types = [value.type for value in node.inputs]
    if all(isinstance(type, ScalarType) for type in types):
        return node.kind not in _SCALAR_HAZARDS
    if node.kind in _INTEGER_HAZARDS and any(_is_integral(type) for type in types):
        return False
    return not _weak_int_may_overflow(types) and _always_broadcast(types)


def runs_at_least_once(loop: Node) -> bool:
    trips, start = constant_value(loop.inputs[0]), constant_value(loop.inputs[1])
    return trips is not UNKNOWN and type(trips) is int and trips > 0 and start is True


def _defined_inside(loop: Node) -> set[Value]:
    inside = set()
    for block in loop.blocks:
        inside.update(block.params)
        for node in block.walk():
            inside.update(node.outputs)
            inside.update(param for inner in node.blocks for param in inner.params)
    return inside


def _hoist_from(loop: Node) -> bool:
    body = loop.blocks[0]
    inside = _defined_inside(loop)
    anything = runs_at_least_once(loop)
    changed = False
    for node in list(body.nodes):
        if node.blocks or not get_op(node.kind).pure or any(value in inside for value in node.inputs):
            continue
        if not (anything or cannot_raise(node)):
            continue
        node.move_before(loop)
        inside.difference_update(node.outputs)
        changed = True
    return changed


def _hoist_block(block: Block) -> bool:
    changed = False
    for node in list(block.nodes):
        for inner in node.blocks:
            changed |= _hoist_block(inner)
        if node.kind == "prim::Loop":
            changed |= _hoist_from(node)
    return changed


@register_pass(level=1)
def hoist_loop_invariants(graph: Graph) -> bool:
    """Move pure loop-invariant nodes before their loop where that cannot add a raise."""
    return _hoist_block(graph.block)
