"""Freezing: compute at compile time everything a graph derives from its
tensor constants alone (a scripted module's parameters), however large,
so that the passes after it see constants where the code wrote `W.T`,
`W * scale` or `np.concatenate([Wq, Wk, Wv], axis=1)`.

    %w : Float(128, 64) = prim::Constant[value=@w]()
    %t : Float(64, 128) = np::transpose(%w)            %t : Float(64, 128) = prim::Constant[value=@t]()
    %y : Float(*, 128) = np::matmul(%x, %t)     →      %y : Float(*, 128) = np::matmul(%x, %t)

`fold_constants` folds only arrays of up to MAX_FOLDED_ELEMENTS elements,
since it cannot tell a weight-sized result from one that bloats the graph;
this pass folds an op when at least one input is a tensor constant and the
result is no larger than the largest of them (nor than that limit), so a
folded graph holds at most one new array per array it already held. It is
not in the default pipeline: `jitc.freeze` runs it, as torch.jit.freeze
folds a frozen module's attributes. The values come from the op table's
NumPy references, so they are exactly what the eager code computes.
"""
from __future__ import annotations

import numpy as np

from ..attributes import TensorRef
from ..graph import Graph, Node
from .fold_constants import MAX_FOLDED_ELEMENTS, evaluate, input_values
from .manager import register_pass


def _is_tensor_constant(node: Node | None) -> bool:
    return (node is not None and node.kind == "prim::Constant"
            and isinstance(node.attributes["value"], TensorRef))


def _fold(node: Node) -> bool:
    if node.blocks or not any(_is_tensor_constant(value.producer) for value in node.inputs):
        return False
    inputs = input_values(node)
    if inputs is None:
        return False
    largest = max(np.size(value) for value in inputs if isinstance(value, np.ndarray))
    output, name = node.outputs[0], node.outputs[0].name
    if name is None:  # the folded array is named after what it was computed from: `w.transpose`
        parameter = next(value for value in node.inputs if _is_tensor_constant(value.producer))
        output.name = f"{parameter.producer.attributes['value'].name}.{node.kind.partition('::')[2]}"
    if evaluate(node, inputs, max_elements=max(largest, MAX_FOLDED_ELEMENTS)):
        return True
    output.name = name
    return False


@register_pass(level=2)
def freeze_parameters(graph: Graph) -> bool:
    """Fold pure ops on tensor constants (parameters), up to the size of their largest input."""
    changed = False
    for node in list(graph.walk()):
        if node.outputs and any(value.uses for value in node.outputs) and _fold(node):
            changed = True
    return changed
