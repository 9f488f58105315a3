"""Python ints meeting integer arrays, as NumPy 2 (NEP 50) treats them.

A Python int is weak: `uint8_array + 1` stays uint8, so the int is cast to
the array's dtype. NumPy looks at its value when the operation runs:
- comparisons give the exact answer (`uint8_array < 300` is all True):
  here they run in int64, and uint64 against a negative int is decided by
  the sign;
- np.clip clamps by the bound's value (`clip(uint8_array, 0, 300)` clips
  nothing at the top): here the bound is first clamped into the dtype;
- np.where and the logical ops convert without looking (wrap, truth);
- every other ufunc raises OverflowError when the int does not fit.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from llvmlite import ir

from ...ir.types import INT, DType, Type
from .emitter import FunctionEmitter
from .layout import I1, I64

COMPARISONS = {"np::less", "np::less_equal", "np::greater", "np::greater_equal", "np::equal", "np::not_equal"}
# The comparisons that hold when the left operand is larger than the right one.
_HOLD_WHEN_LEFT_LARGER = {"np::greater", "np::greater_equal", "np::not_equal"}
_HOLD_WHEN_RIGHT_LARGER = {"np::less", "np::less_equal", "np::not_equal"}
_UNCHECKED = {"np::where", "np::logical_and", "np::logical_or", "np::logical_xor", "np::logical_not"}


def _meets_integer_array(input_types: Sequence[Type], in_dtypes: Sequence[DType]) -> bool:
    return any(t == INT for t in input_types) and any(d.is_integer for d in in_dtypes)


def comparison_dtypes(kind: str, input_types: Sequence[Type], in_dtypes: list[DType]) -> list[DType]:
    """The dtypes a comparison runs in: int64 when a Python int meets an
    integer dtype that fits in it, so no value of either side wraps."""
    if kind not in COMPARISONS or not _meets_integer_array(input_types, in_dtypes):
        return in_dtypes
    if any(d == DType.UINT64 or not d.is_integer for d in in_dtypes):
        return in_dtypes
    return [DType.INT64] * len(in_dtypes)


def check_values(em: FunctionEmitter, kind: str, values: list, input_types: Sequence[Type],
                 in_dtypes: Sequence[DType]) -> list:
    """The Python int inputs (int64 registers), ready to be cast to their
    loop dtype: raising OverflowError where NumPy does, clamped for clip."""
    if kind in COMPARISONS or kind in _UNCHECKED or not _meets_integer_array(input_types, in_dtypes):
        return values
    checked = list(values)
    for index, (value, type, dtype) in enumerate(zip(values, input_types, in_dtypes)):
        if type != INT or not dtype.is_integer or dtype == DType.INT64:
            continue
        low, high = _bounds(dtype)
        if kind == "np::clip" and index > 0:
            checked[index] = _clamp(em, value, low, high)
            continue
        outside = em.builder.icmp_signed("<", value, ir.Constant(I64, low))
        if high is not None:
            outside = em.builder.or_(outside, em.builder.icmp_signed(">", value, ir.Constant(I64, high)))
        em.raise_if(outside, "OverflowError", f"Python integer {{0}} out of bounds for {dtype.value}", [value])
    return checked


def decide_by_sign(em: FunctionEmitter, kind: str, result: ir.Value, values: list,
                   input_types: Sequence[Type], in_dtypes: Sequence[DType]) -> ir.Value:
    """A uint64 comparison with a negative Python int: the array side is
    larger, whatever the cast made of the int."""
    if kind not in COMPARISONS or DType.UINT64 not in in_dtypes or INT not in input_types:
        return result
    int_index = list(input_types).index(INT)
    negative = em.builder.icmp_signed("<", values[int_index], ir.Constant(I64, 0))
    answer = kind in (_HOLD_WHEN_LEFT_LARGER if int_index == 1 else _HOLD_WHEN_RIGHT_LARGER)
    return em.builder.select(negative, ir.Constant(I1, int(answer)), result)


def _bounds(dtype: DType) -> tuple[int, int | None]:
    """The range of `dtype` as int64 bounds (None: no bound below int64's own)."""
    info = np.iinfo(dtype.numpy)
    return int(info.min), int(info.max) if info.max < 2 ** 63 else None


def _clamp(em: FunctionEmitter, value: ir.Value, low: int, high: int | None) -> ir.Value:
    b = em.builder
    value = b.select(b.icmp_signed("<", value, ir.Constant(I64, low)), ir.Constant(I64, low), value)
    if high is not None:
        value = b.select(b.icmp_signed(">", value, ir.Constant(I64, high)), ir.Constant(I64, high), value)
    return value
