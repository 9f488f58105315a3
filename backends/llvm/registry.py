"""Lowerings of non-elementwise ops, by op name (elementwise ops live in
scalar_ops.SCALAR_LOWERINGS). A lowering is `lower(cg, node, inputs) ->
list of output values`, with values as described in layout.py."""
from __future__ import annotations

from typing import Callable

NODE_LOWERINGS: dict[str, Callable] = {}


def lowers(*names: str):
    def register(function: Callable) -> Callable:
        for name in names:
            NODE_LOWERINGS[name] = function
        return function
    return register


def attribute(node, name: str):
    """An attribute of `node`, with the op table's default where it is absent."""
    from ...ir.ops import get_op
    return get_op(node.kind).bind_attributes(node.attributes)[name]
