"""Elementwise ops: NumPy ufuncs (unary and binary) and `where`/`clip`.

Each op follows NumPy on tensors (broadcasting, NumPy 2 promotion with weak
Python scalars). Ops that are also Python operators (`+`, `<`, `abs`...)
follow Python when every input is a Python scalar: `1 + 2` is an `int`,
`1 / 2` a `float`. The frontends turn NumPy-call-on-scalars (`np.add(1, 2)`)
into a 0-d tensor first, so that case follows NumPy.
"""
from __future__ import annotations

import builtins
import math
import operator

import numpy as np

from ..types import ScalarType, TensorType
from .registry import Group, OpDef, register
from .rules import array_like_input, broadcast_shapes, python_scalar_result, shape_of, ufunc_dtypes


def _ufunc_infer(ufunc: np.ufunc, python_op):
    def infer(context):
        types = context.input_types
        if python_op is not None and all(isinstance(t, ScalarType) for t in types):
            return [python_scalar_result(python_op, types)]
        for index, type in enumerate(types):
            array_like_input(context, index)
        shape = broadcast_shapes(*[shape_of(t) for t in types])
        dtypes = ufunc_dtypes(ufunc, types)
        return [TensorType(None if dtypes is None else dtypes[-1], shape)]
    return infer


def _python_or_numpy(ufunc: np.ufunc, python_op):
    """Python's operator on Python scalars, the ufunc on anything else
    (np.float64 subclasses float but is a 0-d tensor, hence `type(x) in`)."""
    def reference(*inputs):
        if all(type(x) in (bool, int, float) for x in inputs):
            return python_op(*inputs)
        return ufunc(*inputs)
    reference.__name__ = ufunc.__name__
    return reference


def _same_type_extremum(function):
    """Python's max/min on two scalars of one type: on mixed types the
    result's type depends on the values (max(1, 0.5) is an int, max(1, 2.5)
    a float), which no IR type can say."""
    def extremum(a, b):
        if type(a) is not type(b):
            raise TypeError(f"{function.__name__}() of {type(a).__name__} and {type(b).__name__} has a "
                            f"type that depends on the values; convert one operand first")
        return function(a, b)
    return extremum


def _python_power(base, exponent):
    """Python's ** where its result has the type the IR gives it: Python
    makes int ** negative int a float and a negative float to a fractional
    power a complex number; those raise here, as they do in NumPy and math.pow."""
    if type(exponent) is int and exponent < 0 and type(base) in (int, bool):
        raise ValueError("Integers to negative integer powers are not allowed.")
    if base < 0 and math.isfinite(exponent) and not float(exponent).is_integer():
        raise ValueError("a negative number to a fractional power is not a real number")
    return operator.pow(base, exponent)


def _ufunc_op(ufunc: np.ufunc, python_op=None, code: str | None = None, name: str | None = None):
    group = Group.UNARY if ufunc.nin == 1 else Group.BINARY
    inputs = ("x",) if ufunc.nin == 1 else ("x", "y")
    return register(OpDef(
        name=f"np::{name or ufunc.__name__}",
        group=group,
        inputs=inputs,
        infer=_ufunc_infer(ufunc, python_op),
        reference=ufunc if python_op is None else _python_or_numpy(ufunc, python_op),
        code=code,
        doc=f"np.{ufunc.__name__}, elementwise with broadcasting",
    ))


# -- binary arithmetic: Python operators on scalars, NumPy ufuncs on arrays ----
add = _ufunc_op(np.add, operator.add, "{0} + {1}")
subtract = _ufunc_op(np.subtract, operator.sub, "{0} - {1}")
multiply = _ufunc_op(np.multiply, operator.mul, "{0} * {1}")
divide = _ufunc_op(np.true_divide, operator.truediv, "{0} / {1}", name="divide")
floor_divide = _ufunc_op(np.floor_divide, operator.floordiv, "{0} // {1}")
remainder = _ufunc_op(np.remainder, operator.mod, "{0} % {1}")
power = _ufunc_op(np.power, _python_power, "{0} ** {1}")
maximum = _ufunc_op(np.maximum, _same_type_extremum(builtins.max))
minimum = _ufunc_op(np.minimum, _same_type_extremum(builtins.min))
arctan2 = _ufunc_op(np.arctan2)

# -- comparisons -----------------------------------------------------------------
less = _ufunc_op(np.less, operator.lt, "{0} < {1}")
less_equal = _ufunc_op(np.less_equal, operator.le, "{0} <= {1}")
greater = _ufunc_op(np.greater, operator.gt, "{0} > {1}")
greater_equal = _ufunc_op(np.greater_equal, operator.ge, "{0} >= {1}")
equal = _ufunc_op(np.equal, operator.eq, "{0} == {1}")
not_equal = _ufunc_op(np.not_equal, operator.ne, "{0} != {1}")

# -- logical and bitwise -----------------------------------------------------------
logical_and = _ufunc_op(np.logical_and)
logical_or = _ufunc_op(np.logical_or)
logical_xor = _ufunc_op(np.logical_xor)
logical_not = _ufunc_op(np.logical_not)
bitwise_and = _ufunc_op(np.bitwise_and, operator.and_, "{0} & {1}")
bitwise_or = _ufunc_op(np.bitwise_or, operator.or_, "{0} | {1}")
bitwise_xor = _ufunc_op(np.bitwise_xor, operator.xor, "{0} ^ {1}")
invert = _ufunc_op(np.invert, operator.invert, "~{0}")

# -- unary arithmetic ----------------------------------------------------------------
negative = _ufunc_op(np.negative, operator.neg, "-{0}")
positive = _ufunc_op(np.positive, operator.pos, "+{0}")
absolute = _ufunc_op(np.absolute, builtins.abs)
sign = _ufunc_op(np.sign)
square = _ufunc_op(np.square)
reciprocal = _ufunc_op(np.reciprocal)
floor = _ufunc_op(np.floor)
ceil = _ufunc_op(np.ceil)
trunc = _ufunc_op(np.trunc)
rint = _ufunc_op(np.rint)

# -- transcendental ---------------------------------------------------------------------
sqrt = _ufunc_op(np.sqrt)
exp = _ufunc_op(np.exp)
exp2 = _ufunc_op(np.exp2)
expm1 = _ufunc_op(np.expm1)
log = _ufunc_op(np.log)
log2 = _ufunc_op(np.log2)
log10 = _ufunc_op(np.log10)
log1p = _ufunc_op(np.log1p)
sin = _ufunc_op(np.sin)
cos = _ufunc_op(np.cos)
tan = _ufunc_op(np.tan)
arcsin = _ufunc_op(np.arcsin)
arccos = _ufunc_op(np.arccos)
arctan = _ufunc_op(np.arctan)
sinh = _ufunc_op(np.sinh)
cosh = _ufunc_op(np.cosh)
tanh = _ufunc_op(np.tanh)

# -- predicates ----------------------------------------------------------------------------
isnan = _ufunc_op(np.isnan)
isinf = _ufunc_op(np.isinf)
isfinite = _ufunc_op(np.isfinite)


def _where_infer(context):
    condition, x, y = (array_like_input(context, i) for i in range(3))
    shape = broadcast_shapes(condition.shape, x.shape, y.shape)
    dtype = ufunc_dtypes(np.add, context.input_types[1:])  # promotion of x and y
    return [TensorType(None if dtype is None else dtype[-1], shape)]


where = register(OpDef(
    name="np::where", group=Group.TERNARY, inputs=("condition", "x", "y"),
    infer=_where_infer, reference=np.where,
    doc="np.where(condition, x, y): x where condition holds, else y",
))


# np.clip runs this three-input ufunc. Resolving the operands together matters
# with weak scalars: clip(False, 0, float32) is float32, where max then min gives float64.
_CLIP_UFUNC = np._core.umath.clip


def _clip_infer(context):
    for index in range(3):
        array_like_input(context, index)
    shape = broadcast_shapes(*[shape_of(t) for t in context.input_types])
    # np.clip passes x through asarray: a Python scalar x is strong, the bounds stay weak.
    dtypes = ufunc_dtypes(_CLIP_UFUNC, (array_like_input(context, 0), *context.input_types[1:]))
    return [TensorType(None if dtypes is None else dtypes[-1], shape)]


clip = register(OpDef(
    name="np::clip", group=Group.TERNARY, inputs=("x", "low", "high"),
    infer=_clip_infer, reference=np.clip,
    doc="np.clip(x, low, high): minimum(maximum(x, low), high)",
))
