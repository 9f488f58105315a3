"""Reductions over axes (`axis` is None, an int or a tuple; `keepdims`)."""
from __future__ import annotations

import numpy as np

from ..types import TensorType
from .registry import Group, OpDef, register
from .rules import array_like_input, dtype_by_example, normalize_axes


def reduce_shape(shape, axis, keepdims: bool):
    """The shape left after reducing `axis` (None: all axes)."""
    if shape is None:
        return None
    axes = normalize_axes(axis, len(shape))
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _reduction_infer(function, extra_attributes=()):
    def infer(context):
        x = array_like_input(context, 0)
        axis, keepdims = context.attributes["axis"], context.attributes["keepdims"]
        if isinstance(axis, tuple) and function in (np.argmax, np.argmin):
            raise context.error("axis must be None or an int")
        extra = {name: context.attributes[name] for name in extra_attributes}
        try:
            shape = reduce_shape(x.shape, axis, keepdims)
        except Exception as error:
            raise context.error(str(error)) from None
        dtype = dtype_by_example(lambda a: function(a, axis=0, **extra), [x.dtype])
        return [TensorType(dtype, shape)]
    return infer


def _reduction(function, name: str | None = None, extra: dict | None = None, doc: str = ""):
    extra = extra or {}
    name = name or function.__name__

    def reference(x, axis, keepdims, **kwargs):
        return function(x, axis=axis, keepdims=keepdims, **kwargs)

    return register(OpDef(
        name=f"np::{name}", group=Group.REDUCTION, inputs=("x",),
        attributes={"axis": None, "keepdims": False, **extra},
        infer=_reduction_infer(function, tuple(extra)), reference=reference,
        doc=doc or f"np.{name}(x, axis, keepdims)",
    ))


for _function in (np.sum, np.prod, np.mean, np.max, np.min, np.argmax, np.argmin, np.any, np.all):
    _reduction(_function)
_reduction(np.var, extra={"ddof": 0})
_reduction(np.std, extra={"ddof": 0})
