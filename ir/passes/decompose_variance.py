"""Variance over the last axis, written as the means it is made of, so that
fuse_rows can put a whole layer norm into one row group and common
subexpression elimination can share the mean with the code around it.

    %v : Float(*, 1) = np::var[axis=-1, keepdims=True, ddof=0](%x)
  →
    %m : Float(*, 1) = np::mean[axis=-1, keepdims=True](%x)
    %c : Float(*, *) = np::subtract(%x, %m)
    %q : Float(*, *) = np::multiply(%c, %c)
    %v : Float(*, 1) = np::mean[axis=-1, keepdims=True](%q)

`np::std` becomes `np::sqrt` of the same. This is exactly how NumPy itself
computes `np.var` for float32 and float64 with `ddof=0` (a sum divided by
the count, the deviations squared, summed and divided by the count again;
`np.std` takes the square root of that), so the rewrite is bit for bit.
Other dtypes differ (float16 means sum in float32, complex variances take
|c|², integers are promoted) and other `ddof` divide by a count NumPy
computes differently, so they stay as they are.
"""
from __future__ import annotations

from ..graph import Graph, Node
from ..ops import get_op
from ..types import DType, TensorType
from .fuse_rows import is_row_reduction
from .manager import register_pass

_EXACT_DTYPES = (DType.FLOAT32, DType.FLOAT64)


def _decomposable(node: Node) -> bool:
    if node.kind not in ("np::var", "np::std") or not isinstance(node.inputs[0].type, TensorType):
        return False
    if node.inputs[0].type.dtype not in _EXACT_DTYPES:
        return False
    attributes = get_op(node.kind).bind_attributes(node.attributes)
    return attributes["ddof"] == 0 and is_row_reduction(node, reductions={node.kind})


def _decompose(node: Node) -> None:
    graph, x, result = node.graph, node.inputs[0], node.output
    mean_attributes = {"axis": node.attributes.get("axis"), "keepdims": True}
    with graph.inserting_before(node):
        mean = graph.create("np::mean", [x], [result.type], mean_attributes, node.source).output
        centred = graph.create("np::subtract", [x, mean], [x.type], {}, node.source).output
        squared = graph.create("np::multiply", [centred, centred], [x.type], {}, node.source).output
        variance = graph.create("np::mean", [squared], [result.type], mean_attributes, node.source).output
        if node.kind == "np::std":
            variance = graph.create("np::sqrt", [variance], [result.type], {}, node.source).output
    variance.name = result.name
    result.replace_all_uses_with(variance)
    node.destroy()


@register_pass(level=2)
def decompose_variance(graph: Graph) -> bool:
    """Last-axis np::var / np::std (float, ddof=0) → the means NumPy computes them with."""
    targets = [node for node in graph.walk() if _decomposable(node)]
    for node in targets:
        _decompose(node)
    return bool(targets)

