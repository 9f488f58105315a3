"""Common-subexpression elimination: a pure node that repeats an earlier
one (same kind, same inputs, equal attributes, same output types, no
blocks) is replaced by the earlier one's outputs.

    %a : Float(*) = np::exp(%x)              %a : Float(*) = np::exp(%x)
    %b : Float(*) = np::exp(%x)              %c : Float(*) = np::add(%a, %a)
    %c : Float(*) = np::add(%a, %b)          return (%c)
    return (%c)

Scoping follows dominance: a value computed in a block is available in that
block after it and in the blocks nested in it (a loop body may reuse what
was computed before the loop), never in a sibling or enclosing block. The
block of a `prim::FusionGroup` is closed (it uses only its parameters), so
it starts with nothing available.

Attributes compare by type and value, so `1`, `1.0` and `True` differ, and
so do `0.0` and `-0.0`. Only ops the op table marks pure are merged. Two
array values that the graph both returns stay apart: merging them would
hand the caller the same array twice where NumPy gives two.
"""
from __future__ import annotations

from ..graph import Block, Graph, Node
from ..ops import get_op
from ..types import ListType, TensorType
from .manager import register_pass

# Nodes whose blocks see the values around them; other nodes' blocks are closed.
_OPEN_BLOCKS = ("prim::If", "prim::Loop")


def attribute_key(value):
    """A hashable key equal only for attribute values of the same type and value."""
    if isinstance(value, (tuple, list)):
        return type(value).__name__, tuple(attribute_key(item) for item in value)
    if isinstance(value, float):
        return "float", repr(value)  # -0.0 differs from 0.0; NaN matches NaN
    try:
        hash(value)
    except TypeError:
        return type(value).__name__, repr(value)
    return type(value).__name__, value


def node_key(node: Node):
    """What two nodes must share to compute the same values, or None when the
    node may not be merged."""
    op = get_op(node.kind)
    if not op.pure or node.blocks or not node.outputs:
        return None
    attributes = op.bind_attributes(node.attributes)
    return (node.kind, node.inputs, tuple(sorted((name, attribute_key(value)) for name, value in attributes.items())),
            tuple(value.type for value in node.outputs))


def _would_alias_outputs(graph: Graph, kept: Node, duplicate: Node) -> bool:
    returned = set(graph.returns)
    return any(isinstance(a.type, (TensorType, ListType)) and a in returned and b in returned
               for a, b in zip(kept.outputs, duplicate.outputs))


def _eliminate(graph: Graph, block: Block, available: dict) -> bool:
    changed = False
    for node in list(block.nodes):
        for inner in node.blocks:
            changed |= _eliminate(graph, inner, dict(available) if node.kind in _OPEN_BLOCKS else {})
        key = node_key(node)
        if key is None:
            continue
        kept = available.get(key)
        if kept is None:
            available[key] = node
        elif not _would_alias_outputs(graph, kept, node):
            for old, new in zip(node.outputs, kept.outputs):
                old.replace_all_uses_with(new)
            node.destroy()
            changed = True
    return changed


@register_pass(level=1)
def eliminate_common_subexpressions(graph: Graph) -> bool:
    """Merge repeated pure computations into the first one that dominates them."""
    return _eliminate(graph, graph.block, {})
