"""A readable, Python-like view of a graph (the `.code` of compiled
functions), as TorchScript's `.code`:

    def forward(x: Float(*, 64), w: Float(64, 64)):
        y = np.tanh(x @ w)
        return y

Each op reads as its `code` from the op table (a template such as
`{0} @ {1}`, or a function for indexing: `x[:, 1:5:2]`), or as
`np.<name>(inputs, attribute=value)`. Scalar constants are written inline.
The text is for people; the printer/parser text form is the exact one.
"""
from __future__ import annotations

from .attributes import TensorRef
from .graph import Block, Graph, Node, Value
from .ops import get_op
from .printer import Namer, format_attribute
from .types import DType

INDENT = "    "


def _code_attribute(value) -> str:
    """An attribute as Python: dtypes as `np.float32`, the rest as printed."""
    return f"np.{value.value}" if isinstance(value, DType) else format_attribute(value)


def _tuple_code(items) -> str:
    """`()`, `(a,)`, `(a, b)`."""
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"


class _CodeWriter:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.namer = Namer()
        self.lines: list[str] = []

    def name(self, value: Value) -> str:
        producer = value.producer
        if producer is not None and producer.kind == "prim::Constant":
            constant = producer.attributes["value"]
            if not isinstance(constant, TensorRef):
                return repr(constant)
        name = self.namer(value)[1:].replace(".", "_")
        return name if name.isidentifier() else "_" + name

    def emit(self, depth: int, text: str) -> None:
        self.lines.append(INDENT * depth + text)

    def assign(self, depth: int, targets, values) -> None:
        for target, value in zip(targets, values):
            if self.name(target) != self.name(value):
                self.emit(depth, f"{self.name(target)} = {self.name(value)}")

    def expression(self, node: Node) -> str:
        op = get_op(node.kind)
        inputs = [self.name(v) for v in node.inputs]
        if callable(op.code):
            return op.code(inputs, op.bind_attributes(node.attributes))
        if op.code is not None:  # a template may name attributes the node leaves at their defaults
            attributes = {k: _code_attribute(v) for k, v in op.bind_attributes(node.attributes).items()}
            rest = {}
            if op.is_variadic:
                name, items = op.inputs[-1][1:], inputs[len(op.inputs) - 1:]
                rest = {name: ", ".join(items), f"{name}_tuple": _tuple_code(items)}
            return op.code.format(*inputs, **attributes, **rest)
        attributes = {k: _code_attribute(v) for k, v in node.attributes.items()}
        arguments = inputs + [f"{k}={v}" for k, v in attributes.items()]
        return f"{op.namespace}.{op.short_name}({', '.join(arguments)})"

    def node(self, node: Node, depth: int) -> None:
        if node.kind == "prim::Constant":
            value = node.attributes["value"]
            if isinstance(value, TensorRef):
                self.emit(depth, f"{self.name(node.output)} = self.tensors[{value.name!r}]")
            return
        if node.kind == "prim::If":
            self.emit(depth, f"if {self.name(node.inputs[0])}:")
            for index, block in enumerate(node.blocks):
                if index == 1:
                    self.emit(depth, "else:")
                header = len(self.lines)
                self.block(block, depth + 1)
                self.assign(depth + 1, node.outputs, block.returns)
                if len(self.lines) == header:
                    self.emit(depth + 1, "pass")
            return
        if node.kind == "prim::Loop":
            self.loop(node, depth)
            return
        if node.kind in ("prim::FusionGroup", "prim::CallFunction"):
            self.emit(depth, "# fusion group: one loop nest" if node.kind == "prim::FusionGroup"
                      else f"# call of {node.attributes['name']}, inlined")
            body = node.blocks[0]
            self.assign(depth, body.params, node.inputs)
            self.block(body, depth)
            self.assign(depth, node.outputs, body.returns)
            return
        targets = ", ".join(self.name(v) for v in node.outputs)
        expression = self.expression(node)
        self.emit(depth, f"{targets} = {expression}" if targets else expression)

    def loop(self, node: Node, depth: int) -> None:
        body = node.blocks[0]
        trips, start, *carried = node.inputs
        self.assign(depth, body.params[1:], carried)
        index = self.name(body.params[0])
        if self.name(start) == "True" and self.name(body.returns[0]) == "True":
            self.emit(depth, f"for {index} in range({self.name(trips)}):")
        else:
            self.emit(depth, f"for {index} in range({self.name(trips)}):  # while {self.name(start)}")
        header = len(self.lines)
        self.block(body, depth + 1)
        self.assign(depth + 1, body.params[1:], body.returns[1:])
        if self.name(body.returns[0]) != "True":
            self.emit(depth + 1, f"if not {self.name(body.returns[0])}: break")
        if len(self.lines) == header:
            self.emit(depth + 1, "pass")
        self.assign(depth, node.outputs, body.params[1:])

    def block(self, block: Block, depth: int) -> None:
        for node in block.nodes:
            self.node(node, depth)

    def write(self) -> str:
        params = ", ".join(f"{self.name(p)}: {p.type}" for p in self.graph.params)
        self.emit(0, f"def {self.graph.name}({params}):")
        self.block(self.graph.block, 1)
        returns = ", ".join(self.name(v) for v in self.graph.returns)
        self.emit(1, f"return {returns}" if returns else "return None")
        return "\n".join(self.lines) + "\n"


def graph_to_code(graph: Graph) -> str:
    return _CodeWriter(graph).write()
