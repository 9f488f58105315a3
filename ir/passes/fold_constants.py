"""Constant folding: evaluate at compile time what does not depend on the
inputs, using the op table's NumPy references.

- a pure op whose inputs are all constants becomes a constant;
- shape queries whose answer the types already know (`np::ndim`, a known
  `np::dim`, `np::size`) become constants, and `np::shape` of a known rank
  becomes a list of `np::dim`s, so that `n, d = x.shape` folds further;
- list ops on a `prim::ListConstruct` (index, length, unpack) pick elements;
- `prim::If` on a constant condition is replaced by the taken block;
- `prim::Loop` that cannot run (trip count 0 or a false start condition)
  is replaced by its initial carried values.

    %n : int = np::ndim(%x : Float(*, 3))         %n : int = prim::Constant[value=2]()
    %c : bool = np::greater(%n, %one)      →       %c : bool = prim::Constant[value=True]()
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..attributes import TensorRef
from ..graph import Block, Graph, Node, Value
from ..ops import UNKNOWN, Group, constant_value, get_op
from ..types import TensorType
from .manager import register_pass

# Larger folded arrays stay computations: embedding them would bloat graphs and files.
MAX_FOLDED_ELEMENTS = 4096
_NOT_FOLDABLE = {Group.CONTROL, Group.CONSTANT}


def input_values(node: Node) -> list | None:
    """The constant values of all inputs, tensor constants included, or None."""
    values = []
    for value in node.inputs:
        producer = value.producer
        if producer is None or producer.kind != "prim::Constant":
            return None
        constant = producer.attributes["value"]
        values.append(node.graph.tensors[constant.name] if isinstance(constant, TensorRef) else constant)
    return values


def _declared_size(value: Value) -> int:
    """At least how many elements a value has, by its type (0 for scalars,
    1 for each unknown dim)."""
    type = value.type
    if not isinstance(type, TensorType) or type.shape is None:
        return 0
    return math.prod(dim if isinstance(dim, int) else 1 for dim in type.shape)


def _is_attribute_value(value) -> bool:
    """True for what a scalar constant can hold in the text form: Python
    scalars, None, strings, and tuples of those (not lists, NumPy scalars or
    tuples holding arrays)."""
    if isinstance(value, tuple):
        return all(_is_attribute_value(item) for item in value)
    return type(value) in (bool, int, float, str, type(None))


def _replace_with_constant(node: Node, output: Value, result, max_elements: int = MAX_FOLDED_ELEMENTS) -> bool:
    """Replace `output` by a constant holding `result` if it can be one
    (an array of at most `max_elements`)."""
    graph = node.graph
    with graph.inserting_before(node):
        if isinstance(result, (np.ndarray, np.generic)):
            if result.size > max_elements:
                return False
            constant = graph.tensor_constant(np.array(result), output.name or "c", node.source)
        else:
            if not _is_attribute_value(result):
                return False
            constant = graph.constant(result, name=output.name, source=node.source)
    output.replace_all_uses_with(constant)
    return True


def evaluate(node: Node, inputs: list | None = None, max_elements: int = MAX_FOLDED_ELEMENTS) -> bool:
    """Replace a pure op whose inputs are all constants (their values:
    `inputs`, found when None) by the constants it computes."""
    op = get_op(node.kind)
    if not op.pure or op.reference is None or op.group in _NOT_FOLDABLE:
        return False
    if all(_declared_size(output) > max_elements for output in node.outputs):
        return False  # known too large before computing it
    inputs = input_values(node) if inputs is None else inputs
    if inputs is None:
        return False
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            results = op.run_reference(inputs, node.attributes)
    except Exception:  # the program raises at run time; leave that to it
        return False
    replaced = [_replace_with_constant(node, out, res, max_elements) for out, res in zip(node.outputs, results)]
    return any(replaced)


def _fold_query(node: Node) -> bool:
    if node.kind not in ("np::ndim", "np::dim", "np::size", "np::shape"):
        return False
    type = node.inputs[0].type
    if not isinstance(type, TensorType) or type.shape is None:
        return False
    graph = node.graph
    shape = type.shape
    if node.kind == "np::shape":
        with graph.inserting_before(node):
            dims = [graph.create("np::dim", [node.inputs[0]], [node.output.type.element],
                                 {"axis": axis}, node.source).output for axis in range(len(shape))]
            replacement = graph.create("prim::ListConstruct", dims, [node.output.type], {}, node.source)
        node.output.replace_all_uses_with(replacement.output)
        return True
    if node.kind == "np::ndim":
        value = len(shape)
    elif node.kind == "np::dim":
        value = shape[node.attributes["axis"]]
    else:
        value = math.prod(shape) if all(isinstance(d, int) for d in shape) else None
    if not isinstance(value, int):
        return False
    return _replace_with_constant(node, node.output, value)


def _fold_list_access(node: Node) -> bool:
    if node.kind not in ("prim::ListIndex", "prim::ListLen", "prim::ListUnpack"):
        return False
    source = node.inputs[0].producer
    if source is None or source.kind != "prim::ListConstruct":
        return False
    elements = source.inputs
    if node.kind == "prim::ListLen":
        return _replace_with_constant(node, node.output, len(elements))
    if node.kind == "prim::ListUnpack":
        if len(elements) != len(node.outputs):
            return False
        for output, element in zip(node.outputs, elements):
            output.replace_all_uses_with(element)
        return True
    index = constant_value(node.inputs[1])
    if index is UNKNOWN or not -len(elements) <= index < len(elements):
        return False
    node.output.replace_all_uses_with(elements[index])
    return True


def _inline_block(node: Node, block: Block, returns) -> None:
    """Move `block`'s nodes before `node`, and use `returns` for its outputs."""
    for inner in list(block.nodes):
        inner.move_before(node)
    for output, value in zip(node.outputs, returns):
        output.replace_all_uses_with(value)
    block.clear_returns()


def _fold_control(node: Node) -> bool:
    if node.kind == "prim::If":
        condition = constant_value(node.inputs[0])
        if condition is UNKNOWN:
            return False
        taken = node.blocks[0] if condition else node.blocks[1]
        _inline_block(node, taken, taken.returns)
        node.destroy()
        return True
    if node.kind == "prim::Loop":
        trips, start = constant_value(node.inputs[0]), constant_value(node.inputs[1])
        if not (trips is not UNKNOWN and trips <= 0) and start is not False:
            return False
        for output, initial in zip(node.outputs, node.inputs[2:]):
            output.replace_all_uses_with(initial)
        node.destroy()
        return True
    return False


def _fold_block(block: Block) -> bool:
    changed = False
    for node in list(block.nodes):
        if node.block is not block:
            continue  # moved away by an earlier fold
        if node.outputs and not any(output.uses for output in node.outputs):
            continue  # dead: eliminate_dead_code removes it
        for inner in node.blocks:
            changed |= _fold_block(inner)
        for fold in (_fold_control, _fold_query, _fold_list_access, evaluate):
            if fold(node):
                changed = True
                break
    return changed


@register_pass(level=1)
def fold_constants(graph: Graph) -> bool:
    """Evaluate at compile time what does not depend on the inputs."""
    return _fold_block(graph.block)
