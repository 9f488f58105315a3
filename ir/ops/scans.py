"""Scans: running sums and products along an axis (`np.cumsum`, `np.cumprod`).

They accumulate in NumPy's result dtype, one element after the other, as
NumPy's `add.accumulate` does: ints and bools in int64, floats in their own
dtype. `axis=None` scans x flattened in C order; a 0-d x scans as 1-d. A `dtype=` argument is a
cast before the scan (the binder emits it), which is what NumPy computes.
"""
from __future__ import annotations

import math

import numpy as np

from ..types import ANY_DIM, TensorType
from .registry import Group, OpDef, register
from .rules import array_like_input, dtype_by_example, normalize_axis


def _scan_infer(function):
    def infer(context):
        x = array_like_input(context, 0)
        axis = context.attributes["axis"]
        dtype = dtype_by_example(function, [x.dtype])
        if axis is None:
            size = ANY_DIM if x.shape is None or not all(isinstance(d, int) for d in x.shape) else math.prod(x.shape)
            return [TensorType(dtype, (size,))]
        if not isinstance(axis, int):
            raise context.error(f"axis must be None or an int, got {axis!r}")
        shape = (1,) if x.shape == () else x.shape  # NumPy scans a 0-d array as a 1-d one
        if shape is not None:
            normalize_axis(axis, len(shape))
        return [TensorType(dtype, shape)]
    return infer


# The table has no group for scans yet: they sit in QUERY, whose random (x, axis)
# calls in tests/ir/test_op_table.py fit their schema and check their rule; no
# pass or backend treats QUERY as a group. A SCAN group would be their place.
for _function in (np.cumsum, np.cumprod):
    register(OpDef(
        name=f"np::{_function.__name__}", group=Group.QUERY, inputs=("x",), attributes={"axis": None},
        infer=_scan_infer(_function),
        reference=(lambda function: lambda x, axis: function(x, axis=axis))(_function),
        doc=f"np.{_function.__name__}(x, axis): a scan, the running "
            f"{'sums' if _function is np.cumsum else 'products'} along axis (None: of x flattened)",
    ))
