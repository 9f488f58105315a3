"""The text form of a graph, close to TorchScript's:

    graph(%x : Float(*, 64), %w : Float(64, 64)):
      %y : Float(*, 64) = np::matmul(%x, %w)  # model.py:3:8
      %z : Float(*, 64) = np::tanh(%y)
      return (%z)

Names come from the values' hints, made unique here (`%x`, `%x.1`); values
without a hint are numbered. `ir.parser.parse_graph` reads this text back,
and print → parse → print is a fixed point.
"""
from __future__ import annotations

import json
import math

from .attributes import TensorRef
from .graph import INVALID_NAME_CHARACTERS, Block, Graph, Node, Value
from .types import DType

INDENT = "  "


class Namer:
    """Gives every value a unique printable name, in order of appearance."""

    def __init__(self):
        self._names: dict[Value, str] = {}
        self._taken: set[str] = set()
        self._counter = 0

    def __call__(self, value: Value) -> str:
        name = self._names.get(value)
        if name is None:
            name = self._fresh(value.name)
            self._names[value] = name
            self._taken.add(name)
        return "%" + name

    def _fresh(self, hint: str | None) -> str:
        if hint:
            hint = INVALID_NAME_CHARACTERS.sub("_", hint)
            if hint not in self._taken:
                return hint
            suffix = 1
            while f"{hint}.{suffix}" in self._taken:
                suffix += 1
            return f"{hint}.{suffix}"
        while str(self._counter) in self._taken:
            self._counter += 1
        name = str(self._counter)
        self._counter += 1
        return name


def format_attribute(value) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple):
        inner = ", ".join(format_attribute(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, (DType, TensorRef)):
        return value.value if isinstance(value, DType) else str(value)
    raise TypeError(f"attribute value {value!r} of type {type(value).__name__} has no text form")


def format_attributes(attributes: dict) -> str:
    if not attributes:
        return ""
    return "[" + ", ".join(f"{k}={format_attribute(v)}" for k, v in attributes.items()) + "]"


def _typed(namer: Namer, values) -> str:
    return ", ".join(f"{namer(v)} : {v.type}" for v in values)


def _print_node(node: Node, namer: Namer, depth: int, lines: list[str], with_source: bool) -> None:
    # Inputs are named before outputs so that names follow the order of definition.
    inputs = ", ".join(namer(v) for v in node.inputs)
    head = f"{_typed(namer, node.outputs)} = " if node.outputs else ""
    line = f"{INDENT * depth}{head}{node.kind}{format_attributes(node.attributes)}({inputs})"
    if with_source and node.source is not None:
        line += f"  # {node.source}"
    lines.append(line)
    for index, block in enumerate(node.blocks):
        lines.append(f"{INDENT * (depth + 1)}block{index}({_typed(namer, block.params)}):")
        _print_block_body(block, namer, depth + 2, lines, with_source)
        lines.append(f"{INDENT * (depth + 2)}-> ({', '.join(namer(v) for v in block.returns)})")


def _print_block_body(block: Block, namer: Namer, depth: int, lines: list[str], with_source: bool):
    for node in block.nodes:
        _print_node(node, namer, depth, lines, with_source)


def print_graph(graph: Graph, with_source: bool = True, namer: Namer | None = None) -> str:
    """The graph's text; `namer`, when given, keeps the names it gave (for
    analyses that print values by the names the graph's text uses)."""
    namer = Namer() if namer is None else namer
    lines = [f"graph({_typed(namer, graph.params)}):"]
    _print_block_body(graph.block, namer, 1, lines, with_source)
    lines.append(f"{INDENT}return ({', '.join(namer(v) for v in graph.returns)})")
    return "\n".join(lines) + "\n"
