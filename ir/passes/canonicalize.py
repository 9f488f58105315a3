"""Canonicalisation: small rewrites that are exact in NumPy semantics
(bit for bit, NaN and -0.0 included) and keep every value's type.

    %one : int = prim::Constant[value=1]()
    %a : Float(*) = np::multiply(%x, %one)   →   (uses of %a use %x)
    %b : Float(*) = np::power(%x, %two)      →   %b : Float(*) = np::multiply(%x, %x)
    %c : Float(*) = np::divide(%x, %four)    →   %c : Float(*) = np::multiply(%x, %quarter)

The rewrites, and why each is exact:
- `x * 1`, `1 * x` → x: multiplying by one changes no value, -0.0 and NaN
  included;
- `x - 0` (a +0) → x, for any dtype: -0.0 - 0.0 is -0.0;
- `x + 0` → x only for integers; for floats only `x + (-0.0)`, since
  -0.0 + 0.0 is +0.0;
- `-(-x)` → x: negation flips the sign bit (wraps around for integers);
- `transpose(transpose(x))` → x when the axes compose to the identity
  (default axes twice), else one transpose with the composed axes;
- `reshape(reshape(x, s1), s2)` → `reshape(x, s2)`: reshapes read in C order;
- `x ** 2` → `x * x` for tensors (NumPy's power with exponent 2 squares; a
  Python float `**` raises on overflow where `*` gives inf, so scalars stay);
- `x / c` → `x * (1/c)` when c is a power of two whose reciprocal is exact in
  the dtype the division runs in: both round the same exact quotient once.

`exp(log(x))` is not x (rounding, and log of a negative is NaN), so it stays.
Identities apply only when the result has x's type and, for a tensor
constant operand, when broadcasting cannot change x's shape.
"""
from __future__ import annotations

import math

import numpy as np

from ..attributes import TensorRef
from ..graph import Graph, Node, Value
from ..ops import UNKNOWN, constant_value, get_op, infer_node_types
from ..types import FLOAT, INT, ScalarType, TensorType
from ..verifier import types_agree
from .manager import register_pass


# -- looking at constants --------------------------------------------------------------------
def _constant(value: Value):
    """The scalar or array a `prim::Constant` defines, or UNKNOWN."""
    node = value.producer
    if node is None or node.kind != "prim::Constant":
        return UNKNOWN
    constant = node.attributes["value"]
    if isinstance(constant, TensorRef):
        return node.graph.tensors.get(constant.name, UNKNOWN)
    return constant if type(constant) in (bool, int, float) else UNKNOWN


def _all(value, predicate) -> bool:
    if value is UNKNOWN:
        return False
    if isinstance(value, np.ndarray):
        return value.size > 0 and all(predicate(item) for item in value.ravel().tolist())
    return predicate(value)


def _is_one(item) -> bool:
    return item == 1


def _is_positive_zero(item) -> bool:
    return item == 0 and math.copysign(1.0, item) > 0


def _is_negative_zero(item) -> bool:
    return isinstance(item, float) and item == 0 and math.copysign(1.0, item) < 0


def _keeps_shape(x: Value, operand: Value) -> bool:
    """Broadcasting `operand` against x leaves x's shape, for every size."""
    if isinstance(operand.type, ScalarType):
        return True
    x_shape, shape = x.type.shape if isinstance(x.type, TensorType) else (), operand.type.shape
    if x_shape is None or shape is None or len(shape) > len(x_shape):
        return False
    return all(d == 1 or d == x_d for d, x_d in zip(reversed(shape), reversed(x_shape)))


def _is_complex(type) -> bool:
    return isinstance(type, TensorType) and type.dtype is not None and type.dtype.is_complex


def _is_integral(type) -> bool:
    if isinstance(type, TensorType):
        return type.dtype is not None and type.dtype.is_integer
    return type == INT


# -- rewrites ----------------------------------------------------------------------------------
def _identity(node: Node) -> Value | None:
    """The input the node's value equals, if it is an identity."""
    kind, inputs = node.kind, node.inputs
    candidates = []
    if kind == "np::multiply":
        candidates = [(inputs[0], inputs[1], _is_one), (inputs[1], inputs[0], _is_one)]
    elif kind == "np::subtract":
        candidates = [(inputs[0], inputs[1], _is_positive_zero)]
    elif kind == "np::add":
        for x, zero in ((inputs[0], inputs[1]), (inputs[1], inputs[0])):
            exact_zero = _is_positive_zero if _is_integral(x.type) else _is_negative_zero
            candidates.append((x, zero, lambda item, f=exact_zero: f(item) or _is_negative_zero(item)))
    elif kind == "np::negative":
        inner = inputs[0].producer
        if inner is not None and inner.kind == "np::negative":
            return inner.inputs[0] if inner.inputs[0].type == node.output.type else None
    for x, operand, predicate in candidates:
        if _is_complex(x.type):
            continue  # complex products mix the parts: (inf+0j) * (1+0j) has a NaN part
        if x.type == node.output.type and _keeps_shape(x, operand) and _all(_constant(operand), predicate):
            return x
    return None


def _replace(node: Node, kind: str, inputs, attributes=None) -> bool:
    """Put a `kind` node computing the same type before `node` and use it instead."""
    graph = node.graph
    with graph.inserting_before(node):
        new = graph.create(kind, list(inputs), [v.type for v in node.outputs], attributes or {}, node.source)
    try:
        inferred = infer_node_types(new)
    except Exception:
        inferred = None
    if inferred is None or not all(types_agree(a, b) for a, b in zip(inferred, [v.type for v in node.outputs])):
        new.destroy()
        return False
    for old, value in zip(node.outputs, new.outputs):
        value.name = old.name
        old.replace_all_uses_with(value)
    return True


def _axes(axes, rank: int) -> list[int]:
    return list(range(rank))[::-1] if axes is None else [a % rank for a in axes]


def _double_transpose(node: Node) -> bool:
    if node.kind != "np::transpose":
        return False
    inner = node.inputs[0].producer
    if inner is None or inner.kind != "np::transpose":
        return False
    x = inner.inputs[0]
    if not isinstance(x.type, TensorType) or x.type.shape is None:
        return False
    rank = len(x.type.shape)
    first, second = _axes(inner.attributes.get("axes"), rank), _axes(node.attributes.get("axes"), rank)
    composed = [first[axis] for axis in second]
    if composed == list(range(rank)):
        if x.type != node.output.type:
            return False
        node.output.replace_all_uses_with(x)
        return True
    return _replace(node, "np::transpose", [x], {"axes": tuple(composed)})


def _double_reshape(node: Node) -> bool:
    if node.kind != "np::reshape":
        return False
    inner = node.inputs[0].producer
    if inner is None or inner.kind != "np::reshape":
        return False
    return _replace(node, "np::reshape", [inner.inputs[0], *node.inputs[1:]])


def _square(node: Node) -> bool:
    if node.kind != "np::power" or not isinstance(node.inputs[0].type, TensorType):
        return False
    exponent = constant_value(node.inputs[1])
    if type(exponent) not in (int, float) or exponent != 2:
        return False
    x = node.inputs[0]
    return _replace(node, "np::multiply", [x, x])


def _computation_dtype(node: Node):
    type = node.output.type
    if isinstance(type, TensorType):
        return type.dtype.numpy if type.dtype is not None else None
    return np.dtype(np.float64) if type == FLOAT else None


def _divide_by_power_of_two(node: Node) -> bool:
    if node.kind != "np::divide":
        return False
    x, divisor = node.inputs
    value = constant_value(divisor)
    if type(value) not in (int, float) or value == 0 or not math.isfinite(value):
        return False
    if not isinstance(x.type, TensorType) and x.type != FLOAT:
        return False  # Python int / int is exact rational division, not float * float
    mantissa, _ = math.frexp(value)
    dtype = _computation_dtype(node)
    if abs(mantissa) != 0.5 or dtype is None or dtype.kind != "f":
        return False
    reciprocal = 1.0 / value
    with np.errstate(all="ignore"):
        exact = (float(dtype.type(value)) == value and float(dtype.type(reciprocal)) == reciprocal)
    if not exact:
        return False
    graph = node.graph
    with graph.inserting_before(node):
        factor = graph.constant(reciprocal, name="reciprocal", source=divisor.producer.source)
    if _replace(node, "np::multiply", [x, factor]):
        return True
    factor.producer.destroy()
    return False


def _rewrite(node: Node) -> bool:
    if len(node.outputs) != 1 or not get_op(node.kind).pure:
        return False
    same = _identity(node)
    if same is not None:
        node.output.replace_all_uses_with(same)
        return True
    return any(rewrite(node) for rewrite in (_double_transpose, _double_reshape, _square,
                                             _divide_by_power_of_two))


@register_pass(level=1)
def canonicalize(graph: Graph) -> bool:
    """Exact peepholes: x*1, x-0, integer x+0, x+(-0.0), -(-x), double transpose,
    reshape of reshape, x**2 → x*x, division by a power of two → multiplication."""
    changed = False
    for node in list(graph.walk()):
        if not any(value.uses for value in node.outputs):
            continue  # dead: eliminate_dead_code removes it
        changed |= _rewrite(node)
    return changed
