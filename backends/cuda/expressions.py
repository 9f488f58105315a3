"""One element of an elementwise op as a line of kernel source: the inputs
are cast to the dtypes NumPy's ufunc loop uses, the op is applied, and the
result is cast to the op's output dtype (so float32 stays float32).

Math functions are guarded where their argument leaves the domain (log of
a negative, exp of a large number): NumPy gives nan or inf there, and so do
these kernels, on the GPU and in the simulator (whose `math` raises).
float16 values are stored as float16 and computed in float32, each op's
result rounded to float16, which is what NumPy's float16 loops do.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ...ir.graph import Node
from ...ir.ops.rules import ufunc_dtypes
from ...ir.types import BOOL, FLOAT, INT, DType, ScalarType, TensorType, Type
from .. import UnsupportedOpError
from .kernels import cast, math_dtype

_ROUNDED = "({0} if not (abs({0}) < 4503599627370496.0) else {1})"  # floats this large are integers already
_LOG = "(math.{name}({0}) if {0} > 0 else (-math.inf if {0} == 0 else math.nan))"

FORMATS: dict[str, str] = {
    "np::add": "({0} + {1})",
    "np::subtract": "({0} - {1})",
    "np::multiply": "({0} * {1})",
    "np::divide": "({0} / {1})",
    "np::floor_divide": "({0} // {1})",
    "np::remainder": "({0} % {1})",
    "np::power": "({0} ** {1})",
    "np::maximum": "({0} if ({0} >= {1} or {0} != {0}) else {1})",
    "np::minimum": "({0} if ({0} <= {1} or {0} != {0}) else {1})",
    "np::arctan2": "math.atan2({0}, {1})",
    "np::less": "({0} < {1})",
    "np::less_equal": "({0} <= {1})",
    "np::greater": "({0} > {1})",
    "np::greater_equal": "({0} >= {1})",
    "np::equal": "({0} == {1})",
    "np::not_equal": "({0} != {1})",
    "np::logical_and": "(bool({0}) and bool({1}))",
    "np::logical_or": "(bool({0}) or bool({1}))",
    "np::logical_xor": "(bool({0}) != bool({1}))",
    "np::logical_not": "(not {0})",
    "np::bitwise_and": "({0} & {1})",
    "np::bitwise_or": "({0} | {1})",
    "np::bitwise_xor": "({0} ^ {1})",
    "np::negative": "(-{0})",
    "np::positive": "(+{0})",
    "np::absolute": "abs({0})",
    "np::sign": "({0} if {0} != {0} else (int({0} > 0) - int({0} < 0)))",
    "np::square": "({0} * {0})",
    "np::reciprocal": "(1 / {0})",
    "np::floor": _ROUNDED.format("{0}", "math.floor({0})"),
    "np::ceil": _ROUNDED.format("{0}", "math.ceil({0})"),
    "np::trunc": _ROUNDED.format("{0}", "math.trunc({0})"),
    "np::rint": _ROUNDED.format("{0}", "round({0})"),
    "np::sqrt": "(math.sqrt({0}) if {0} >= 0 else math.nan)",
    "np::exp": "(math.inf if {0} >= 709.0 else math.exp({0}))",
    "np::exp2": "(math.inf if {0} >= 1024.0 else 2.0 ** {0})",
    "np::expm1": "(math.inf if {0} >= 709.0 else math.expm1({0}))",
    "np::log": _LOG.replace("{name}", "log"),
    "np::log2": _LOG.replace("{name}", "log2"),
    "np::log10": _LOG.replace("{name}", "log10"),
    "np::log1p": "(math.log1p({0}) if {0} > -1 else (-math.inf if {0} == -1 else math.nan))",
    "np::sin": "(math.sin({0}) if math.isfinite({0}) else math.nan)",
    "np::cos": "(math.cos({0}) if math.isfinite({0}) else math.nan)",
    "np::tan": "(math.tan({0}) if math.isfinite({0}) else math.nan)",
    "np::arcsin": "(math.asin({0}) if abs({0}) <= 1 else math.nan)",
    "np::arccos": "(math.acos({0}) if abs({0}) <= 1 else math.nan)",
    "np::arctan": "math.atan({0})",
    "np::sinh": "(math.sinh({0}) if abs({0}) < 710.0 else ({0} * math.inf))",
    "np::cosh": "(math.inf if abs({0}) >= 710.0 else math.cosh({0}))",
    "np::tanh": "math.tanh({0})",
    "np::isnan": "math.isnan({0})",
    "np::isinf": "math.isinf({0})",
    "np::isfinite": "math.isfinite({0})",
    "np::where": "({1} if {0} else {2})",
    "np::astype": "{0}",
}
_INVERT = {DType.BOOL: "(not {0})"}
_CLIP = ("({0} if ({0} >= {1} or {0} != {0}) else {1})", "({0} if ({0} <= {1} or {0} != {0}) else {1})")
_PYTHON_DTYPES = {FLOAT: DType.FLOAT64, INT: DType.INT64, BOOL: DType.BOOL}


def value_dtype(type: Type) -> DType:
    """The dtype a value of `type` has inside a kernel (Python scalars as NumPy's)."""
    if isinstance(type, TensorType) and type.dtype is not None:
        return type.dtype
    if type in _PYTHON_DTYPES:
        return _PYTHON_DTYPES[type]
    raise UnsupportedOpError("prim::FusionGroup", f"no kernel value of type {type}")


def loop_dtypes(node: Node) -> tuple[list[DType], DType]:
    """The dtypes `node`'s inputs are cast to, and its result dtype."""
    output = value_dtype(node.output.type)
    input_types = [value.type for value in node.inputs]
    if node.kind == "np::where":
        return [DType.BOOL, output, output], output
    if node.kind == "np::astype" or isinstance(node.output.type, ScalarType):
        return [value_dtype(t) for t in input_types], output
    ufunc = np._core.umath.clip if node.kind == "np::clip" else getattr(np, node.kind.split("::")[1])
    dtypes = ufunc_dtypes(ufunc, input_types)
    if dtypes is None:
        raise UnsupportedOpError(node.kind, "operand dtypes are not known")
    for dtype in dtypes:
        if dtype.is_complex:
            raise UnsupportedOpError(node.kind, f"{dtype.value} has no CUDA kernel yet")
    return list(dtypes[:len(input_types)]), output


def element_statements(node: Node, arguments: Sequence[str], target: str, indent: str) -> list[str]:
    """Lines setting `target` to `node`'s value from the variables `arguments`."""
    if node.kind not in FORMATS and node.kind not in ("np::invert", "np::clip"):
        raise UnsupportedOpError(node.kind, "no CUDA element lowering")
    input_dtypes, output = loop_dtypes(node)
    lines, names = [], []
    for position, (argument, dtype) in enumerate(zip(arguments, input_dtypes)):
        names.append(f"{target}_{position}")
        lines.append(f"{indent}{names[-1]} = {cast(argument, math_dtype(dtype))}")
    if node.kind == "np::clip":
        lines.append(f"{indent}{target}_low = {_CLIP[0].format(names[0], names[1])}")
        expression = _CLIP[1].format(f"{target}_low", names[2])
    elif node.kind == "np::invert":
        expression = _INVERT.get(input_dtypes[0], "(~{0})").format(*names)
    else:
        expression = FORMATS[node.kind].format(*names)
    lines.append(f"{indent}{target} = {cast(expression, output)}")
    return lines


def literal(value) -> str:
    """A Python constant as source text."""
    if isinstance(value, float) and not np.isfinite(value):
        return "math.nan" if np.isnan(value) else ("math.inf" if value > 0 else "-math.inf")
    if isinstance(value, (bool, int, float)):
        return repr(value)
    raise UnsupportedOpError("prim::Constant", f"no kernel literal for {value!r}")


def supported_element_ops() -> frozenset[str]:
    return frozenset(FORMATS) | {"np::invert", "np::clip"}
