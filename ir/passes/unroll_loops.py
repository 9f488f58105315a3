"""Loop unrolling: a `prim::Loop` that surely runs a small constant number
of times (a constant trip count of at most MAX_TRIP_COUNT, a constant true
start condition, and a body whose continue-condition is the constant true)
becomes that many copies of its body, each with its index as a constant.

    %y = prim::Loop(%two, %true, %x)             %i = prim::Constant[value=0]()
      block0(%i, %h):                            %h.1 = np::add(%x, %i)
        %h.1 = np::add(%h, %i)            →      %i.1 = prim::Constant[value=1]()
        -> (%true, %h.1)                         %h.2 = np::add(%h.1, %i.1)
                                                 (uses of %y use %h.2)

The copies run the same nodes in the same order as the loop did, so results
and errors are unchanged; constant indices then let folding and
canonicalisation go further. Loops whose copies would exceed
MAX_UNROLLED_NODES nodes stay, to bound code size; this is why the pass runs
at level 2. A trip count of zero is `fold_constants`' job.
"""
from __future__ import annotations

from ..graph import Block, Graph, Node, copy_node_into
from ..ops import UNKNOWN, constant_value
from ..types import INT
from .manager import register_pass

MAX_TRIP_COUNT = 8
MAX_UNROLLED_NODES = 256


def unrollable_trip_count(loop: Node) -> int | None:
    """The number of times the loop surely runs, if it may be unrolled."""
    trips, start = constant_value(loop.inputs[0]), constant_value(loop.inputs[1])
    if trips is UNKNOWN or type(trips) is not int or not 0 < trips <= MAX_TRIP_COUNT or start is not True:
        return None
    body = loop.blocks[0]
    if constant_value(body.returns[0]) is not True:
        return None
    if trips * sum(1 for _ in body.walk()) > MAX_UNROLLED_NODES:
        return None
    return trips


def _unroll(loop: Node, trips: int) -> None:
    graph, block, body = loop.graph, loop.block, loop.blocks[0]
    index_param, carried_params = body.params[0], body.params[1:]
    carried = list(loop.inputs[2:])
    for iteration in range(trips):
        with graph.inserting_before(loop):
            index = graph.constant(iteration, INT, name=index_param.name, source=loop.source)
        mapping = {index_param: index, **dict(zip(carried_params, carried))}
        for node in body.nodes:
            copy_node_into(node, block, mapping, index=block.nodes.index(loop))
        carried = [mapping.get(value, value) for value in body.returns[1:]]
    for output, value in zip(loop.outputs, carried):
        output.replace_all_uses_with(value)
    loop.destroy()


def _unroll_block(block: Block) -> bool:
    changed = False
    for node in list(block.nodes):
        for inner in node.blocks:
            changed |= _unroll_block(inner)
        if node.kind == "prim::Loop":
            trips = unrollable_trip_count(node)
            if trips is not None:
                _unroll(node, trips)
                changed = True
    return changed


@register_pass(level=2)
def unroll_loops(graph: Graph) -> bool:
    """Replace loops that surely run at most MAX_TRIP_COUNT times by copies of their body."""
    return _unroll_block(graph.block)
