"""Batch-MM, as TorchScript calls it for RNNs: a loop over the rows of x
(`for t in range(x.shape[0])`) that multiplies each row by a loop-invariant
matrix W computes all the products at once before the loop, as one large
matmul, and each iteration selects its row of the result.

    %T = np::dim[axis=0](%x)                      %T = np::dim[axis=0](%x)
    %h.1 = prim::Loop(%T, %true, %h)              %xw = np::matmul(%x, %W)
      block0(%t, %h.2):                           %h.1 = prim::Loop(%T, %true, %h)
        %x.t = np::select[axis=0](%x, %t)    →      block0(%t, %h.2):
        %p = np::matmul(%x.t, %W)                     %p = np::select[axis=0](%xw, %t)
        ...                                           ...

It applies when the trip count is x's first dim (`np::dim[axis=0](%x)`,
`shape(%x)[0]`, or a constant equal to x's known first dim), x has rank 2 or
more and W rank 2, both defined outside the loop: then row t of x @ W is
x[t] @ W. Two differences from the loop keep this at level 2: the products
may round differently in the last bit (one matrix product instead of many
vector or matrix ones; the BLAS blocks them differently), and when the loop
does not run (x has no rows, or the start condition is false) a mismatch of
x's and W's inner dims now raises where the loop would have run nothing.
"""
from __future__ import annotations

from ..graph import Block, Graph, Node, Value
from ..ops import UNKNOWN, constant_value, create_op
from ..types import TensorType
from ..verifier import types_agree
from .manager import register_pass


def _rank(value: Value) -> int | None:
    type = value.type
    return type.rank if isinstance(type, TensorType) else None


def _is_first_axis(axis, value: Value) -> bool:
    rank = _rank(value)
    return isinstance(axis, int) and rank is not None and rank > 0 and axis % rank == 0


def counts_rows_of(trips: Value, x: Value) -> bool:
    """True when `trips` is x.shape[0]."""
    producer = trips.producer
    if producer is None:
        return False
    if producer.kind == "np::dim":
        return producer.inputs[0] is x and _is_first_axis(producer.attributes.get("axis", 0), x)
    if producer.kind == "prim::ListIndex":
        source = producer.inputs[0].producer
        return (source is not None and source.kind == "np::shape" and source.inputs[0] is x
                and _is_first_axis(constant_value(producer.inputs[1]), x))
    value = constant_value(trips)
    shape = x.type.shape if isinstance(x.type, TensorType) else None
    return value is not UNKNOWN and type(value) is int and bool(shape) and shape[0] == value


def _defined_outside(value: Value, loop: Node) -> bool:
    block = value.defining_block
    while block is not None:
        if block.owner is loop:
            return False
        block = block.owner.block if block.owner is not None else None
    return True


def _batch_loop(graph: Graph, loop: Node) -> bool:
    body = loop.blocks[0]
    index = body.params[0]
    changed = False
    for select in list(body.nodes):
        if select.kind != "np::select" or select.inputs[1] is not index:
            continue
        x = select.inputs[0]
        if (not _defined_outside(x, loop) or (_rank(x) or 0) < 2
                or not _is_first_axis(select.attributes.get("axis", 0), x) or not counts_rows_of(loop.inputs[0], x)):
            continue
        for user, position in list(select.output.uses):
            if (not isinstance(user, Node) or user.kind != "np::matmul" or position != 0 or user.block is not body
                    or not _defined_outside(user.inputs[1], loop) or _rank(user.inputs[1]) != 2):
                continue
            changed |= _rewrite(graph, loop, user, x, index)
    return changed


def _rewrite(graph: Graph, loop: Node, matmul: Node, x: Value, index: Value) -> bool:
    weight = matmul.inputs[1]
    with graph.inserting_before(loop):
        product = create_op(graph, "np::matmul", [x, weight], source=matmul.source).output
    with graph.inserting_before(matmul):
        row = create_op(graph, "np::select", [product, index], {"axis": 0}, matmul.source).output
    if not types_agree(row.type, matmul.output.type):
        row.producer.destroy()
        product.producer.destroy()
        return False
    row.type = matmul.output.type  # keep what the uses were typed against
    product.name, row.name = f"{x.name or 'x'}_{weight.name or 'w'}", matmul.output.name
    matmul.output.replace_all_uses_with(row)
    matmul.destroy()
    return True


def _batch_block(graph: Graph, block: Block) -> bool:
    changed = False
    for node in list(block.nodes):
        for inner in node.blocks:
            changed |= _batch_block(graph, inner)
        if node.kind == "prim::Loop":
            changed |= _batch_loop(graph, node)
    return changed


@register_pass(level=2)
def batch_matmul_in_loops(graph: Graph) -> bool:
    """In a loop over the rows of x, compute x[t] @ W as row t of x @ W, computed once before the loop."""
    return _batch_block(graph, graph.block)
