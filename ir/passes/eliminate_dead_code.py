"""Dead-code elimination: remove nodes whose outputs nobody uses and that
have no effect, innermost blocks first; then drop tensor constants that no
node refers to any more.

    %a : Float(*) = np::exp(%x)              (removed: %a is unused)
    %b : Float(*) = np::tanh(%x)             %b : Float(*) = np::tanh(%x)
    return (%b)                              return (%b)
"""
from __future__ import annotations

from ..attributes import TensorRef
from ..graph import Block, Graph, Node
from ..ops import get_op
from .manager import register_pass


def has_effects(node: Node) -> bool:
    """True when removing the node could change what the program does."""
    if not get_op(node.kind).pure:
        return True
    return any(has_effects(inner) for block in node.blocks for inner in block.nodes)


def _sweep(block: Block) -> bool:
    changed = False
    for node in reversed(list(block.nodes)):
        for inner in node.blocks:
            changed |= _sweep(inner)
        if not any(value.uses for value in node.outputs) and not has_effects(node):
            node.destroy()
            changed = True
    return changed


def drop_unused_tensors(graph: Graph) -> bool:
    used = {node.attributes["value"].name for node in graph.walk()
            if node.kind == "prim::Constant" and isinstance(node.attributes["value"], TensorRef)}
    unused = set(graph.tensors) - used
    for name in unused:
        del graph.tensors[name]
    return bool(unused)


@register_pass(level=1)
def eliminate_dead_code(graph: Graph) -> bool:
    """Remove unused nodes that have no effects, and unused tensor constants."""
    changed = _sweep(graph.block)
    return drop_unused_tensors(graph) or changed
