"""Checks the invariants every pass and backend relies on:

- every node names an op in the table, with the right number of inputs,
  known attributes and the right number of blocks;
- SSA and dominance: a value is defined once and used only where its
  definition is visible (earlier in the same block or an enclosing one);
- use lists agree with the inputs and returns that refer to each value, and
  name no user outside the graph;
- types: each node's declared output types agree with its op's type rule
  (a tensor constant's equal its array's), block parameters and returns
  agree with their control-flow node, and the values a loop carries in agree
  with its outputs;
- every tensor constant (`prim::Constant[value=@name]`) names an array of
  `graph.tensors`.
"""
from __future__ import annotations

import numpy as np

from .attributes import TensorRef
from .errors import IRError, VerificationError
from .graph import Block, Graph, Node, Use, Value
from .ops import get_op, infer_node_types
from .types import BOOL, INT, NEVER, ListType, TensorType, TupleType, Type, type_of_value


def types_agree(a: Type, b: Type) -> bool:
    """True when `a` and `b` could describe the same values: equal up to
    parts that either side does not know (a None dtype or rank, a symbol).
    Never (of prim::Uninitialized, a value no path reads) agrees with any type."""
    if a == NEVER or b == NEVER:
        return True
    if isinstance(a, TensorType) and isinstance(b, TensorType):
        if a.dtype is not None and b.dtype is not None and a.dtype != b.dtype:
            return False
        if a.shape is None or b.shape is None:
            return True
        return len(a.shape) == len(b.shape) and all(
            x == y or isinstance(x, str) or isinstance(y, str) for x, y in zip(a.shape, b.shape))
    if isinstance(a, ListType) and isinstance(b, ListType):
        return a.element == NEVER or b.element == NEVER or types_agree(a.element, b.element)
    if isinstance(a, TupleType) and isinstance(b, TupleType):
        return len(a.elements) == len(b.elements) and all(
            types_agree(x, y) for x, y in zip(a.elements, b.elements))
    return a == b


class _Verifier:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.defined: set[Value] = set()
        self.visited: set[Node | Block] = set()  # every node and block of the graph

    def fail(self, message: str, node: Node | None = None):
        where = ""
        if node is not None:
            where = f" in {node.kind}" + (f" at {node.source}" if node.source else "")
        raise VerificationError(message + where)

    def define(self, value: Value, owner, node: Node | None) -> None:
        if value in self.defined:
            self.fail(f"value %{value.name} is defined twice", node)
        if value.owner is not owner:
            self.fail(f"value %{value.name} does not point back at its definition", node)
        self.defined.add(value)

    def check_use(self, value: Value, use: Use, node: Node | None) -> None:
        if value not in self.visible:
            self.fail(self.why_not_visible(value), node)
        if use not in value.uses:
            self.fail(f"the use list of %{value.name} misses one of its uses", node)

    def why_not_visible(self, value: Value) -> str:
        block = value.defining_block
        if block is None or block.graph is not self.graph:
            return f"value %{value.name} does not belong to this graph"
        if value not in self.defined:
            return f"value %{value.name} is used before it is defined"
        where = f"block{block.owner.blocks.index(block)} of {block.owner.kind}" if block.owner else "the graph"
        return f"value %{value.name} is used outside {where}, the block that defines it"

    def verify(self) -> None:
        self.visible: set[Value] = set()
        self.verify_block(self.graph.block, owner_node=None)
        if self.graph.block.owner is not None:
            self.fail("the graph's top block must not belong to a node")
        self.check_use_lists()

    def verify_block(self, block: Block, owner_node: Node | None) -> None:
        if block.owner is not owner_node:
            self.fail("a block does not point back at its node", owner_node)
        if block.graph is not self.graph:
            self.fail("a block does not belong to this graph", owner_node)
        self.visited.add(block)
        saved_visible = set(self.visible)
        for param in block.params:
            self.define(param, block, owner_node)
            self.visible.add(param)
        for node in block.nodes:
            if node.block is not block:
                self.fail("a node does not point back at its block", node)
            self.visited.add(node)
            self.verify_node(node)
        for index, value in enumerate(block.returns):
            self.check_use(value, Use(block, index), owner_node)
        self.visible = saved_visible

    def verify_node(self, node: Node) -> None:
        try:
            op = get_op(node.kind)
            op.check_arity(len(node.inputs))
            op.bind_attributes(node.attributes)
        except IRError as error:
            self.fail(str(error), node)
        if len(node.blocks) != op.num_blocks:
            self.fail(f"{node.kind} must have {op.num_blocks} block(s), has {len(node.blocks)}", node)
        for index, value in enumerate(node.inputs):
            self.check_use(value, Use(node, index), node)
        for block in node.blocks:
            self.verify_block(block, node)
        for value in node.outputs:
            self.define(value, node, node)
            self.visible.add(value)
        self.check_types(node)

    def check_types(self, node: Node) -> None:
        try:
            inferred = infer_node_types(node)
        except (IRError, TypeError, ValueError) as error:  # malformed attributes fail inside rules
            self.fail(f"type rule failed: {error}", node)
        if len(inferred) != len(node.outputs):
            self.fail(f"has {len(node.outputs)} outputs, its type rule gives {len(inferred)}", node)
        for value, expected in zip(node.outputs, inferred):
            if not types_agree(value.type, expected):
                self.fail(f"output %{value.name} is declared {value.type} "
                          f"but the type rule gives {expected}", node)
        constant = node.attributes.get("value") if node.kind == "prim::Constant" else None
        if isinstance(constant, TensorRef):
            self.check_tensor_constant(node, constant.name)
        if node.kind == "prim::If":
            for block in node.blocks:
                self.check_block_signature(node, block, [], [v.type for v in node.outputs])
        elif node.kind == "prim::Loop":
            carried = [v.type for v in node.outputs]
            for entering, output in zip(node.inputs[2:], node.outputs):
                if not types_agree(entering.type, output.type):
                    self.fail(f"carried value %{entering.name} enters as {entering.type} "
                              f"but the loop declares %{output.name} : {output.type}", node)
            self.check_block_signature(node, node.blocks[0], [INT] + carried, [BOOL] + carried)
        elif node.kind in ("prim::FusionGroup", "prim::CallFunction"):
            self.check_block_signature(node, node.blocks[0], [v.type for v in node.inputs],
                                       [v.type for v in node.outputs])
            self.check_closed(node)

    def check_closed(self, node: Node) -> None:
        """A fusion group's (or a call's) block sees only its own parameters."""
        inside = set(node.blocks[0].params) | {v for n in node.blocks[0].walk() for v in n.outputs}
        inside |= {v for n in node.blocks[0].walk() for block in n.blocks for v in block.params}
        for inner in node.blocks[0].walk():
            for value in inner.inputs:
                if value not in inside:
                    self.fail(f"%{value.name} is used inside the {node.kind} block but defined outside it", node)

    def check_tensor_constant(self, node: Node, name: str) -> None:
        """`@name` must be an array of `graph.tensors`, and the node's type
        exactly that array's: its dtype and shape are known, so a constant
        never needs a symbol or an unknown dtype."""
        if name not in self.graph.tensors:
            self.fail(f"tensor constant @{name} is not in the graph's tensors", node)
        array = self.graph.tensors[name]
        if not isinstance(array, np.ndarray):
            self.fail(f"tensor constant @{name} is a {type(array).__name__}, not a NumPy array", node)
        try:
            actual = type_of_value(array)
        except TypeError as error:
            self.fail(f"tensor constant @{name}: {error}", node)
        for value in node.outputs:
            if value.type != actual:
                self.fail(f"output %{value.name} is declared {value.type} but @{name} is {actual}", node)

    def check_block_signature(self, node: Node, block: Block, params, returns) -> None:
        if len(block.params) != len(params) or len(block.returns) != len(returns):
            self.fail(f"block takes {len(block.params)} and returns {len(block.returns)} values; "
                      f"expected {len(params)} and {len(returns)}", node)
        for value, type in zip(block.params, params):
            if not types_agree(value.type, type):
                self.fail(f"block parameter %{value.name} is {value.type}, expected {type}", node)
        for value, type in zip(block.returns, returns):
            if not types_agree(value.type, type):
                self.fail(f"block returns %{value.name} of type {value.type}, expected {type}", node)

    def check_use_lists(self) -> None:
        for value in self.defined:
            if len(set(value.uses)) != len(value.uses):
                self.fail(f"the use list of %{value.name} names a use twice")
            for user, index in value.uses:
                if user not in self.visited:
                    self.fail(f"%{value.name} is used by a {type(user).__name__.lower()} outside the graph")
                refers = user.returns if isinstance(user, Block) else user.inputs
                if index >= len(refers) or refers[index] is not value:
                    self.fail(f"the use list of %{value.name} names a use that is gone")


def verify(graph: Graph) -> Graph:
    """Raise VerificationError if `graph` breaks an invariant; return it."""
    _Verifier(graph).verify()
    return graph
