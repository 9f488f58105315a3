"""Row fusion: elementwise ops together with reductions over the last axis
(keepdims) become one `prim::FusionGroup`, which a backend runs row by row
with the row in cache: layer norm, softmax and logsumexp each become one
pass over the data instead of one per NumPy call.

    %m : Float(*, 1) = np::max[axis=-1, keepdims=True](%x)
    %d : Float(*, *) = np::subtract(%x, %m)          one prim::FusionGroup(%x)
    %e : Float(*, *) = np::exp(%d)                   holding the five ops
    %s : Float(*, 1) = np::sum[axis=-1, keepdims=True](%e)
    %y : Float(*, *) = np::divide(%e, %s)

Every value in a row group has the output's rank, and its last dim is the
row length or 1; the group grows from its last op through producers whose
values are used only inside it (as in fuse_elementwise), and is made only
when it holds at least one reduction (otherwise fuse_elementwise takes it).
"""
from __future__ import annotations

from ..graph import Graph, Node
from ..ops import get_op
from ..types import TensorType
from .fuse_elementwise import fuse_each_block, grow_group, is_fusible
from .manager import register_pass

ROW_REDUCTIONS = frozenset({"np::sum", "np::mean", "np::max", "np::min"})


def is_row_reduction(node: Node, reductions=ROW_REDUCTIONS) -> bool:
    """A reduction (one of `reductions`) over the last axis only, keeping it as size 1."""
    if node.kind not in reductions or not isinstance(node.inputs[0].type, TensorType):
        return False
    attributes = get_op(node.kind).bind_attributes(node.attributes)
    rank = node.inputs[0].type.rank
    axis = attributes["axis"]
    axes = (axis,) if isinstance(axis, int) else tuple(axis or ())
    return bool(rank) and attributes["keepdims"] and len(axes) == 1 and axes[0] % rank == rank - 1


def _same_rank(rank: int):
    def fusible(node: Node) -> bool:
        return ((is_fusible(node) or is_row_reduction(node)) and node.output.type.rank == rank
                and all(not isinstance(v.type, TensorType) or v.type.rank <= rank for v in node.inputs))
    return fusible


def _row_group(node: Node) -> list[Node] | None:
    if len(node.outputs) != 1 or not isinstance(node.output.type, TensorType) or not node.output.type.rank:
        return None
    fusible = _same_rank(node.output.type.rank)
    if not fusible(node):
        return None
    members = grow_group(node, fusible)
    return members if len(members) > 1 and any(is_row_reduction(m) for m in members) else None


@register_pass(level=2)
def fuse_rows(graph: Graph) -> bool:
    """Group last-axis reductions with the elementwise ops around them, row by row."""
    return fuse_each_block(graph, graph.block, _row_group)
