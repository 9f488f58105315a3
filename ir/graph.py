"""The graph data structure: `Graph` → `Block` → `Node` → `Value`.

As in torch.fx, nodes carry the data and the graph stays thin: setting an
input updates the use lists by itself, and destroying a node whose outputs are
still used is an error. Unlike fx, blocks nest: `prim::If` owns two blocks and
`prim::Loop` one, as in TorchScript, so control flow stays structured.

Names are hints only: the printer makes them unique, so passes never manage
names.
"""
from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Iterator, NamedTuple, Sequence

from .types import Type

# Value and tensor constant names in the text form (`%x.1`, `@fc1.weight`) use only these characters.
INVALID_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9_.]")


@dataclass(frozen=True)
class SourceLocation:
    """Where a node came from; printed as `file:line:col` (1-based line,
    0-based column as in `ast`), with an optional end."""

    filename: str
    line: int
    column: int = 0
    end_line: int | None = None
    end_column: int | None = None

    def __str__(self) -> str:
        text = f"{self.filename}:{self.line}:{self.column}"
        if self.end_line is not None:
            text += f"-{self.end_line}:{self.end_column}"
        return text


class Use(NamedTuple):
    """One use of a value: input `index` of a node, or return `index` of a
    block."""

    user: "Node | Block"
    index: int


class Value:
    """An SSA value: the output of a node or a parameter of a block."""

    __slots__ = ("type", "name", "owner", "uses")

    def __init__(self, type: Type, owner: "Node | Block", name: str | None = None):
        self.type = type
        self.owner = owner
        self.name = name
        self.uses: list[Use] = []

    @property
    def producer(self) -> "Node | None":
        """The node that defines this value, or None for a block parameter."""
        return self.owner if isinstance(self.owner, Node) else None

    @property
    def defining_block(self) -> "Block":
        return self.owner.block if isinstance(self.owner, Node) else self.owner

    @property
    def users(self) -> list["Node | Block"]:
        return [use.user for use in self.uses]

    def replace_all_uses_with(self, other: "Value") -> None:
        for user, index in list(self.uses):
            if isinstance(user, Node):
                user.set_input(index, other)
            else:
                user.set_return(index, other)

    def __repr__(self) -> str:
        return f"<Value %{self.name or '?'} : {self.type}>"


class Node:
    """One operation. `kind` is `namespace::name` and selects an entry of the
    op table; `attributes` hold compile-time constants such as `axis`."""

    __slots__ = ("kind", "_inputs", "outputs", "attributes", "blocks", "source", "block")

    def __init__(self, kind: str, inputs: Sequence[Value] = (), output_types: Sequence[Type] = (),
                 attributes: dict | None = None, source: SourceLocation | None = None):
        self.kind = kind
        self._inputs: list[Value] = []
        self.outputs: list[Value] = [Value(t, self) for t in output_types]
        self.attributes: dict = dict(attributes or {})
        self.blocks: list[Block] = []
        self.source = source
        self.block: Block | None = None
        for value in inputs:
            self.add_input(value)

    # -- inputs -----------------------------------------------------------
    @property
    def inputs(self) -> tuple[Value, ...]:
        return tuple(self._inputs)

    def add_input(self, value: Value) -> None:
        if not isinstance(value, Value):
            raise TypeError(f"node input must be a Value, not {type(value).__name__}")
        value.uses.append(Use(self, len(self._inputs)))
        self._inputs.append(value)

    def set_input(self, index: int, value: Value) -> None:
        old = self._inputs[index]
        old.uses.remove(Use(self, index))
        value.uses.append(Use(self, index))
        self._inputs[index] = value

    def replace_input_with(self, old: Value, new: Value) -> None:
        for index, value in enumerate(self._inputs):
            if value is old:
                self.set_input(index, new)

    def remove_input(self, index: int) -> None:
        self._inputs[index].uses.remove(Use(self, index))
        for later in range(index + 1, len(self._inputs)):
            value = self._inputs[later]
            value.uses[value.uses.index(Use(self, later))] = Use(self, later - 1)
        del self._inputs[index]

    def drop_all_inputs(self) -> None:
        while self._inputs:
            self.remove_input(len(self._inputs) - 1)

    # -- outputs and blocks --------------------------------------------------
    @property
    def output(self) -> Value:
        if len(self.outputs) != 1:
            raise ValueError(f"{self.kind} has {len(self.outputs)} outputs, not one")
        return self.outputs[0]

    def add_output(self, type: Type, name: str | None = None) -> Value:
        value = Value(type, self, name)
        self.outputs.append(value)
        return value

    def remove_output(self, index: int) -> None:
        if self.outputs[index].uses:
            raise ValueError(f"cannot remove output {index} of {self.kind}: it is still used")
        del self.outputs[index]

    def add_block(self) -> "Block":
        block = Block(self.block.graph if self.block else None, owner=self)
        self.blocks.append(block)
        return block

    # -- position ------------------------------------------------------------
    @property
    def graph(self) -> "Graph | None":
        return self.block.graph if self.block else None

    def insert_before(self, anchor: "Node") -> "Node":
        anchor.block.insert(anchor.block.nodes.index(anchor), self)
        return self

    def insert_after(self, anchor: "Node") -> "Node":
        anchor.block.insert(anchor.block.nodes.index(anchor) + 1, self)
        return self

    def move_before(self, anchor: "Node") -> None:
        self.block.nodes.remove(self)
        self.block = None
        self.insert_before(anchor)

    def destroy(self) -> None:
        """Remove the node from its block and drop its inputs (recursively
        for nested blocks). Its outputs must be unused."""
        for value in self.outputs:
            if value.uses:
                raise ValueError(f"cannot destroy {self.kind}: output %{value.name or '?'} "
                                 f"is still used by {len(value.uses)} user(s)")
        for block in self.blocks:
            block.clear()
        self.drop_all_inputs()
        if self.block is not None:
            self.block.nodes.remove(self)
            self.block = None

    def is_before(self, other: "Node") -> bool:
        """True when self precedes `other` in the same block."""
        nodes = self.block.nodes
        return nodes.index(self) < nodes.index(other)

    def __repr__(self) -> str:
        return f"<Node {self.kind} -> {[v.name for v in self.outputs]}>"


class Block:
    """An ordered list of nodes with parameters and returned values."""

    __slots__ = ("graph", "owner", "params", "nodes", "_returns")

    def __init__(self, graph: "Graph | None", owner: Node | None = None):
        self.graph = graph
        self.owner = owner
        self.params: list[Value] = []
        self.nodes: list[Node] = []
        self._returns: list[Value] = []

    def add_param(self, type: Type, name: str | None = None) -> Value:
        value = Value(type, self, name)
        self.params.append(value)
        return value

    def remove_param(self, index: int) -> None:
        if self.params[index].uses:
            raise ValueError(f"cannot remove block parameter {index}: it is still used")
        del self.params[index]

    def insert(self, index: int, node: Node) -> Node:
        if node.block is not None:
            raise ValueError(f"{node.kind} already belongs to a block")
        node.block = self
        self.nodes.insert(index, node)
        for block in node.blocks:
            _set_graph(block, self.graph)
        return node

    def append(self, node: Node) -> Node:
        return self.insert(len(self.nodes), node)

    @property
    def returns(self) -> tuple[Value, ...]:
        return tuple(self._returns)

    def add_return(self, value: Value) -> None:
        value.uses.append(Use(self, len(self._returns)))
        self._returns.append(value)

    def set_return(self, index: int, value: Value) -> None:
        self._returns[index].uses.remove(Use(self, index))
        value.uses.append(Use(self, index))
        self._returns[index] = value

    def set_returns(self, values: Sequence[Value]) -> None:
        self.clear_returns()
        for value in values:
            self.add_return(value)

    def clear_returns(self) -> None:
        for index, value in enumerate(self._returns):
            value.uses.remove(Use(self, index))
        self._returns = []

    def remove_return(self, index: int) -> None:
        values = list(self._returns)
        del values[index]
        self.set_returns(values)

    def clear(self) -> None:
        """Destroy every node, last first, and drop the returns."""
        self.clear_returns()
        for node in reversed(list(self.nodes)):
            node.destroy()

    def walk(self) -> Iterator[Node]:
        """Every node of this block and its nested blocks, in program order."""
        for node in list(self.nodes):
            yield node
            for block in node.blocks:
                yield from block.walk()

    def __repr__(self) -> str:
        return f"<Block of {self.owner.kind if self.owner else 'graph'}: {len(self.nodes)} nodes>"


def _set_graph(block: Block, graph: "Graph | None") -> None:
    block.graph = graph
    for node in block.nodes:
        for inner in node.blocks:
            _set_graph(inner, graph)


class Graph:
    """A function in IR form: one top block whose params are the function's
    inputs and whose returns are its outputs, plus a table of named tensor
    constants (`prim::Constant[value=@name]` refers to `tensors[name]`)."""

    def __init__(self, name: str = "graph"):
        self.name = name
        self.block = Block(self)
        self.tensors: dict = {}
        # Where `insert` puts nodes: (block, anchor, "before" | "after" | "end"). Anchored to
        # nodes, not indices, so that edits elsewhere in the block do not move it.
        self._insertion_point: tuple[Block, Node | None, str] = (self.block, None, "end")

    @property
    def params(self) -> list[Value]:
        return self.block.params

    @property
    def returns(self) -> tuple[Value, ...]:
        return self.block.returns

    def add_param(self, type: Type, name: str | None = None) -> Value:
        return self.block.add_param(type, name)

    def walk(self) -> Iterator[Node]:
        return self.block.walk()

    # -- insertion point -----------------------------------------------------
    @contextlib.contextmanager
    def _inserting(self, block: Block, anchor: Node | None, place: str):
        saved = self._insertion_point
        self._insertion_point = (block, anchor, place)
        try:
            yield
        finally:
            self._insertion_point = saved

    def inserting_before(self, node: Node):
        """Context manager: nodes created inside go right before `node`, in order."""
        return self._inserting(node.block, node, "before")

    def inserting_after(self, node: Node):
        """Context manager: nodes created inside go right after `node`, in order."""
        return self._inserting(node.block, node, "after")

    def inserting_at_end(self, block: Block):
        return self._inserting(block, None, "end")

    def insert(self, node: Node) -> Node:
        """Insert `node` at the current insertion point."""
        block, anchor, place = self._insertion_point
        if place == "end":
            return block.append(node)
        if anchor.block is not block:
            raise ValueError(f"the insertion point, {place} a {anchor.kind} node, has left its block")
        block.insert(block.nodes.index(anchor) + (place == "after"), node)
        if place == "after":  # the next node goes after this one
            self._insertion_point = (block, node, "after")
        return node

    def create(self, kind: str, inputs: Sequence[Value] = (), output_types: Sequence[Type] = (),
               attributes: dict | None = None, source: SourceLocation | None = None,
               num_blocks: int = 0) -> Node:
        """Create a node and insert it at the insertion point."""
        node = self.insert(Node(kind, inputs, output_types, attributes, source))
        for _ in range(num_blocks):
            node.add_block()
        return node

    def constant(self, value, type: Type | None = None, name: str | None = None,
                 source: SourceLocation | None = None) -> Value:
        """Insert a `prim::Constant` holding a Python scalar, None, a string,
        or a tuple of those; tensors go through `tensor_constant`."""
        from .types import type_of_value
        node = self.create("prim::Constant", (), [type or type_of_value(value)], {"value": value}, source)
        node.output.name = name
        return node.output

    def tensor_constant(self, array, name: str = "c", source: SourceLocation | None = None) -> Value:
        """Insert a constant that refers to a named entry of `self.tensors`."""
        import numpy as np

        from .attributes import TensorRef
        from .types import type_of_value
        array = np.asarray(array)
        key = self.unique_tensor_name(name)
        self.tensors[key] = array
        node = self.create("prim::Constant", (), [type_of_value(array)], {"value": TensorRef(key)}, source)
        node.output.name = name
        return node.output

    def unique_tensor_name(self, name: str) -> str:
        """`name`, made legal in the text form and unused in `self.tensors`."""
        name = INVALID_NAME_CHARACTERS.sub("_", name) or "c"
        key, counter = name, 0
        while key in self.tensors:
            counter += 1
            key = f"{name}.{counter}"
        return key

    # -- whole-graph helpers ---------------------------------------------------
    def copy(self) -> "Graph":
        """A deep copy (tensor constants are shared, not copied)."""
        new = Graph(self.name)
        new.tensors = dict(self.tensors)
        mapping: dict[Value, Value] = {}
        for param in self.params:
            mapping[param] = new.add_param(param.type, param.name)
        _copy_block_body(self.block, new.block, mapping)
        return new

    def __str__(self) -> str:
        from .printer import print_graph
        return print_graph(self)

    def __repr__(self) -> str:
        return f"<Graph {self.name}: {len(self.params)} inputs, {len(self.block.nodes)} nodes>"


def _copy_block_body(source: Block, target: Block, mapping: dict) -> None:
    for node in source.nodes:
        copy_node_into(node, target, mapping)
    target.set_returns([mapping.get(v, v) for v in source.returns])


def copy_node_into(node: Node, target: Block, mapping: dict, index: int | None = None) -> Node:
    """Append (or insert at `index`) a copy of `node`, with inputs looked up
    in `mapping`; records the copy's outputs in `mapping`."""
    clone = Node(node.kind, [mapping.get(v, v) for v in node.inputs],
                 [v.type for v in node.outputs], node.attributes, node.source)
    for old, new in zip(node.outputs, clone.outputs):
        new.name = old.name
        mapping[old] = new
    target.append(clone) if index is None else target.insert(index, clone)
    for block in node.blocks:
        new_block = clone.add_block()
        for param in block.params:
            mapping[param] = new_block.add_param(param.type, param.name)
        _copy_block_body(block, new_block, mapping)
    return clone
