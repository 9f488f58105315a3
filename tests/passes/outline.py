"""The inverse of inline_calls, for tests: wrap a run of a graph's top-level
nodes into a prim::CallFunction, so that properties over generated graphs
meet calls (values used inside and made outside become its arguments,
constants excepted, which are copied in; values made inside and used after
it become its results)."""
from __future__ import annotations

from jitc.ir.graph import Block, Graph, Node, Value, copy_node_into


def _top_level(user, graph: Graph) -> Node | None:
    """The top-level node that holds a use (None: the graph's return)."""
    block = user if isinstance(user, Block) else user.block
    node = None if isinstance(user, Block) else user
    while block is not graph.block:
        node, block = block.owner, block.owner.block
    return node


def outline(graph: Graph, start: int, stop: int, name: str = "outlined") -> Node:
    nodes = graph.block.nodes[start:stop]
    inside = set(nodes)
    defined: set[Value] = set()
    used: list[Value] = []
    for node in nodes:
        for inner in [node, *(nested for block in node.blocks for nested in block.walk())]:
            defined.update(inner.outputs)
            defined.update(param for block in inner.blocks for param in block.params)
    for node in nodes:
        for inner in [node, *(nested for block in node.blocks for nested in block.walk())]:
            returned = [value for block in inner.blocks for value in block.returns]
            for value in [*inner.inputs, *returned]:
                if value not in defined and value not in used:
                    used.append(value)
    # Constants are copied in, as a callee graph holds its own: an int that fixes a shape stays known.
    constants = [value for value in used if value.producer is not None and value.producer.kind == "prim::Constant"]
    used = [value for value in used if value not in constants]
    results = [value for node in nodes for value in node.outputs
               if any(_top_level(user, graph) not in inside for user, _ in value.uses)]
    with graph.inserting_before(nodes[0]):
        call = graph.create("prim::CallFunction", used, [value.type for value in results], {"name": name},
                            num_blocks=1)
    body = call.blocks[0]
    mapping = {value: body.add_param(value.type, value.name) for value in used}
    for value in constants:
        copy_node_into(value.producer, body, mapping)
    for node in nodes:
        copy_node_into(node, body, mapping)
    body.set_returns([mapping[value] for value in results])
    for value, output in zip(results, call.outputs):
        output.name = value.name
        for user, index in list(value.uses):
            if _top_level(user, graph) not in inside:
                if isinstance(user, Node):
                    user.set_input(index, output)
                else:
                    user.set_return(index, output)
    for node in reversed(nodes):
        node.destroy()
    return call
