"""The op table. Importing this package declares every op: the modules
below are listed explicitly so that no declaration depends on an import
made somewhere else."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..graph import Graph, Node, SourceLocation, Value
from ..types import Type
from . import arrays, elementwise, indexing, prim, reductions, scans  # noqa: F401  (declarations)
from .registry import (ELEMENTWISE_GROUPS, REQUIRED, UNKNOWN, Group, InferContext, OpDef, all_ops,
                       get_op, has_op, register)

__all__ = ["ELEMENTWISE_GROUPS", "REQUIRED", "UNKNOWN", "Group", "InferContext", "OpDef", "all_ops",
           "get_op", "has_op", "register", "constant_value", "infer_node_types", "create_op"]


def constant_value(value: Value) -> Any:
    """The Python value of `value` if a `prim::Constant` defines it (tensor
    constants excepted), else UNKNOWN."""
    from ..attributes import TensorRef
    node = value.producer
    if node is not None and node.kind == "prim::Constant":
        constant = node.attributes["value"]
        if not isinstance(constant, TensorRef):
            return constant
    return UNKNOWN


def infer_node_types(node: Node) -> tuple[Type, ...]:
    """Run the op's type rule on the node's current inputs."""
    return get_op(node.kind).infer_types(
        [v.type for v in node.inputs], node.attributes, [constant_value(v) for v in node.inputs],
        len(node.outputs), [v.type for v in node.outputs])


def create_op(graph: Graph, kind: str, inputs: Sequence[Value] = (),
              attributes: Mapping[str, Any] | None = None, source: SourceLocation | None = None,
              num_outputs: int | None = None, output_types: Sequence[Type] | None = None) -> Node:
    """Create a node at the graph's insertion point, its output types given
    by the op's type rule (or by `output_types` for control flow and empty
    lists). Errors from the rule surface before the node is inserted."""
    op = get_op(kind)
    attributes = dict(attributes or {})
    types = op.infer_types([v.type for v in inputs], attributes,
                           [constant_value(v) for v in inputs], num_outputs, output_types)
    return graph.create(kind, inputs, types, attributes, source, num_blocks=op.num_blocks)
