"""Elementwise fusion: chains of elementwise ops on tensors become one
`prim::FusionGroup` whose block computes one element, so a backend emits one
loop nest (or kernel) for the chain and no temporaries.

    %a : Float(*) = np::multiply(%x, %x)     %y : Float(*) = prim::FusionGroup(%x)
    %y : Float(*) = np::tanh(%a)               block0(%x.1 : Float(*)):
    return (%y)                                  %a : Float(*) = np::multiply(%x.1, %x.1)
                                                 %y.1 : Float(*) = np::tanh(%a)
                                                 -> (%y.1)
                                             return (%y)

A group grows from its last op backwards, taking in a producer when every
use of the producer's value is inside the group (so nothing outside needs
it materialised). Scalar constants are copied into the group, so the
backend sees them as constants. Groups are closed: their block uses only
its parameters.
"""
from __future__ import annotations

from ..graph import Block, Graph, Node, copy_node_into
from ..ops import get_op
from ..types import ScalarType, TensorType
from .manager import register_pass

FUSION_GROUP = "prim::FusionGroup"


def is_fusible(node: Node) -> bool:
    """An elementwise op computing a tensor (Python-scalar arithmetic stays as it is)."""
    return (get_op(node.kind).is_elementwise and len(node.outputs) == 1
            and isinstance(node.output.type, TensorType))


def _is_scalar_constant(node: Node | None) -> bool:
    return node is not None and node.kind == "prim::Constant" and isinstance(node.output.type, ScalarType)


def grow_group(root: Node, fusible=is_fusible) -> list[Node]:
    """The nodes of the group ending at `root`, in block order: producers
    join while `fusible` and while every use of their value is in the group."""
    members = {root}
    changed = True
    while changed:
        changed = False
        for member in list(members):
            for value in member.inputs:
                producer = value.producer
                if (producer is None or producer in members or producer.block is not root.block
                        or not fusible(producer)):
                    continue
                if all(user in members for user, _ in value.uses):
                    members.add(producer)
                    changed = True
    order = {node: index for index, node in enumerate(root.block.nodes)}
    return sorted(members, key=order.__getitem__)


def make_group(graph: Graph, members: list[Node]) -> Node:
    """Replace `members` (ending with the one whose value leaves) by a closed prim::FusionGroup."""
    root = members[-1]
    inside = {v for node in members for v in node.outputs}
    inputs = []
    for node in members:
        for value in node.inputs:
            if value not in inside and value not in inputs and not _is_scalar_constant(value.producer):
                inputs.append(value)
    with graph.inserting_before(root):
        group = graph.create(FUSION_GROUP, inputs, [root.output.type], source=root.source, num_blocks=1)
    body = group.blocks[0]
    mapping = {value: body.add_param(value.type, value.name) for value in inputs}
    for node in members:
        for value in node.inputs:
            if value not in mapping and _is_scalar_constant(value.producer):
                copy_node_into(value.producer, body, mapping)
        copy_node_into(node, body, mapping)
    body.add_return(mapping[root.output])
    group.output.name = root.output.name
    root.output.replace_all_uses_with(group.output)
    for node in reversed(members):
        node.destroy()
    return group


def fuse_each_block(graph: Graph, block: Block, group_for) -> bool:
    """Walk `block` and the blocks inside it from the last node up, making a
    fusion group wherever `group_for(node)` gives its members."""
    changed = False
    for node in reversed(list(block.nodes)):
        if node.kind != FUSION_GROUP:
            for inner in node.blocks:
                changed |= fuse_each_block(graph, inner, group_for)
        if node.block is not block:
            continue  # already taken into a group
        members = group_for(node)
        if members:
            make_group(graph, members)
            changed = True
    return changed


def _elementwise_group(node: Node) -> list[Node] | None:
    if not is_fusible(node):
        return None
    members = grow_group(node)
    return members if len(members) > 1 else None


@register_pass(level=2)
def fuse_elementwise(graph: Graph) -> bool:
    """Group chains of elementwise tensor ops into prim::FusionGroup nodes."""
    return fuse_each_block(graph, graph.block, _elementwise_group)
