"""NumPy functions that are compositions of ops the table already has
(`np.swapaxes` is a transpose, `np.split` slices, `np.zeros_like` a
`zeros` of the argument's shape), and the `math` functions and ndarray
attributes built the same way.

The binders register into the one `NUMPY_API` table of `numpy_api`, so
the tracer and the scripter both see them; `numpy_api` imports this module
once, at its end.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import FrontendError
from ..ir.errors import IRTypeError
from ..ir.graph import Value
from ..ir.ops import UNKNOWN
from ..ir.ops.rules import normalize_axis
from ..ir.types import SCALAR_DTYPES, DType, ListType, ScalarType, TensorType
from .builder import GraphBuilder, as_dtype
from .numpy_api import (NUMPY_API, _concatenate, _creation_binder, _shape, _shape_arguments,
                        _unsupported_keywords)

api = NUMPY_API


# -- helpers -------------------------------------------------------------------------------------------------
def _as_array(b: GraphBuilder, a: Any) -> Any:
    """`a` as a tensor value: Python scalars become 0-d arrays, as np.asarray makes them."""
    if isinstance(b.type_of(a), ScalarType):
        return b.op("prim::NumToTensor", a)
    if isinstance(a, (list, tuple)):
        raise FrontendError("pass an array here; build it with np.array([...]) or np.stack first")
    return a


def _tensor_type(b: GraphBuilder, a: Any, function: str) -> TensorType:
    type = b.type_of(a)
    if isinstance(type, ScalarType):
        return TensorType(SCALAR_DTYPES[type], ())
    if not isinstance(type, TensorType):
        raise FrontendError(f"{function} expects an array, got {type}")
    return type


def _rank(b: GraphBuilder, a: Any, function: str) -> int:
    rank = _tensor_type(b, a, function).rank
    if rank is None:
        raise FrontendError(f"{function} needs the number of dimensions of its argument at compile "
                            "time; annotate the parameter with its rank or call the function first")
    return rank


def _axis(b: GraphBuilder, axis: Any, rank: int, what: str = "axis") -> int:
    try:
        return normalize_axis(b.static_int(axis, what), rank, what)
    except IRTypeError as error:
        raise FrontendError(str(error)) from None


def _axes(b: GraphBuilder, axes: Any, rank: int, what: str) -> list[int]:
    """An int or a sequence of ints, each normalised; repeats are an error."""
    if not isinstance(axes, (tuple, list)):
        axes = b.static(axes, what)
    if not isinstance(axes, (tuple, list)):
        axes = (axes,)
    normalized = [_axis(b, axis, rank, what) for axis in axes]
    if len(set(normalized)) != len(normalized):
        raise FrontendError(f"repeated axis in `{what}` argument")
    return normalized


def _common_dtype(b: GraphBuilder, arrays: list) -> DType | None:
    """The dtype NumPy joins `arrays` in (np.result_type of their dtypes)."""
    dtypes = [_tensor_type(b, a, "joining").dtype for a in arrays]
    if None in dtypes:
        return None
    return DType.from_numpy(np.result_type(*[d.numpy for d in dtypes]))


def _with_dtype(b: GraphBuilder, arrays: list, dtype: DType | None) -> list:
    """The arrays cast to `dtype` where they differ (the IR's lists hold one dtype)."""
    if dtype is None:
        return arrays
    return [a if b.type_of(a).dtype == dtype else b.op("np::astype", a, dtype=dtype) for a in arrays]


# -- axes ----------------------------------------------------------------------------------------------------
@api.function(np.swapaxes)
def _swapaxes(b: GraphBuilder, a, axis1, axis2):
    rank = _rank(b, a, "np.swapaxes")
    order = list(range(rank))
    first, second = _axis(b, axis1, rank, "axis1"), _axis(b, axis2, rank, "axis2")
    order[first], order[second] = order[second], order[first]
    return b.op("np::transpose", a, axes=tuple(order))


api.method("swapaxes")(_swapaxes)


@api.function(np.moveaxis)
def _moveaxis(b: GraphBuilder, a, source, destination):
    rank = _rank(b, a, "np.moveaxis")
    sources = _axes(b, source, rank, "source")
    destinations = _axes(b, destination, rank, "destination")
    if len(sources) != len(destinations):
        raise FrontendError("`source` and `destination` arguments must have the same number of elements")
    order = [axis for axis in range(rank) if axis not in sources]
    for target, moved in sorted(zip(destinations, sources)):
        order.insert(target, moved)
    return b.op("np::transpose", a, axes=tuple(order))


# -- at least n dims, stacking -------------------------------------------------------------------------------
def _at_least(b: GraphBuilder, a, ndim: int):
    """np.atleast_1d/2d/3d of one array: size-1 axes added as NumPy places them."""
    a = _as_array(b, a)
    rank = _rank(b, a, f"np.atleast_{ndim}d")
    if rank >= ndim:
        return a
    if rank == 0:
        return b.op("np::reshape", a, *([1] * ndim))
    if ndim == 2 or rank == 2:  # (n,) -> (1, n); (m, n) -> (m, n, 1)
        return b.op("np::expand_dims", a, axis=0 if ndim == 2 else -1)
    return b.op("np::expand_dims", a, axis=(0, -1))  # (n,) -> (1, n, 1)


def _at_least_binder(ndim: int):
    def binder(b: GraphBuilder, *arys):
        results = [_at_least(b, a, ndim) for a in arys]
        return results[0] if len(results) == 1 else tuple(results)
    return binder


for _ndim, _function in ((1, np.atleast_1d), (2, np.atleast_2d), (3, np.atleast_3d)):
    api.function(_function)(_at_least_binder(_ndim))


def _join(b: GraphBuilder, function: str, tup, ndim: int, axis_of_rank, list_rank_ok) -> Value:
    """hstack/vstack: each array made at least `ndim`-d, then concatenated
    along `axis_of_rank(rank of the first)`. An IR list (its length unknown)
    is joined whole when its element rank needs no reshaping."""
    if isinstance(tup, Value) and isinstance(tup.type, ListType):
        rank = tup.type.element.rank if isinstance(tup.type.element, TensorType) else None
        if rank is None or not list_rank_ok(rank):
            raise FrontendError(f"{function} of a list built at run time needs arrays of at least "
                                f"{ndim} dimensions; for lower ones use np.stack")
        if rank < ndim:
            return b.op("np::stack", tup, axis=0)
        return b.op("np::concatenate", tup, axis=axis_of_rank(rank))
    if not isinstance(tup, (list, tuple)):
        raise FrontendError(f"{function} expects a list or tuple of arrays")
    if not tup:
        raise FrontendError("need at least one array to concatenate")
    arrays = [_at_least(b, a, ndim) for a in tup]
    arrays = _with_dtype(b, arrays, _common_dtype(b, arrays))
    return _concatenate(b, arrays, axis_of_rank(_rank(b, arrays[0], function)))


@api.function(np.hstack)
def _hstack(b: GraphBuilder, tup, *, dtype=None, casting="same_kind"):
    _unsupported_keywords("np.hstack", dtype=dtype)
    return _join(b, "np.hstack", tup, 1, lambda rank: 0 if rank == 1 else 1, lambda rank: True)


@api.function(np.vstack)
def _vstack(b: GraphBuilder, tup, *, dtype=None, casting="same_kind"):
    _unsupported_keywords("np.vstack", dtype=dtype)
    return _join(b, "np.vstack", tup, 2, lambda rank: 0, lambda rank: rank >= 1)


# -- splitting -----------------------------------------------------------------------------------------------
def _section_count(b: GraphBuilder, sections, function: str) -> int:
    count = b.constant_of(sections)
    if count is UNKNOWN and isinstance(b.type_of(sections), ListType):
        raise FrontendError(f"{function}: split indices must be a list or tuple written in the "
                            "code (its length known at compile time), not a list built at run time")
    count = b.static(sections, f"{function}: the number of sections")
    if type(count) is not int:
        raise FrontendError(f"{function}: the number of sections must be an int, got {count!r}")
    if count <= 0:
        raise FrontendError(f"{function}: number sections must be larger than 0.")
    return count


def _slices(b: GraphBuilder, a, axis: int, bounds: list) -> list:
    """a[..., start:stop, ...] along `axis` for each (start, stop)."""
    return [b.op("np::slice", a, start, stop, None, axis=axis) for start, stop in bounds]


def _split_equal(b: GraphBuilder, a, count: int, axis: int) -> list:
    """np.split into `count` equal sections: slices when the size is known
    and divides, else a reshape that splits the axis into (count, size //
    count), then one select per section. The reshape raises ValueError when
    the size does not divide, as np.split does; on a contiguous array it is a view."""
    size = _tensor_type(b, a, "np.split").shape[axis]
    if isinstance(size, int) and size % count == 0:
        return _slices(b, a, axis, [(i * (size // count), (i + 1) * (size // count)) for i in range(count)])
    dims = list(_shape(b, a))
    folded = b.op("np::reshape", a, *dims[:axis], count, -1, *dims[axis + 1:])
    return [b.op("np::select", folded, i, axis=axis) for i in range(count)]


def _section_bounds(b: GraphBuilder, a, count: int, axis: int) -> list:
    """np.array_split's bounds: the first size % count sections one longer."""
    size = _tensor_type(b, a, "np.array_split").shape[axis]
    if not isinstance(size, int):
        size = b.op("np::dim", a, axis=axis)
    each = b.op("np::floor_divide", size, count)
    extra = b.op("np::remainder", size, count)
    starts = [0] + [b.op("np::add", b.op("np::multiply", each, i), b.op("np::minimum", extra, i))
                    for i in range(1, count)]
    return list(zip(starts, starts[1:] + [None]))


def _split_binder(function: str, equal: bool):
    def binder(b: GraphBuilder, ary, indices_or_sections, axis=0):
        ary = _as_array(b, ary)
        rank = _rank(b, ary, function)
        if rank == 0:
            raise FrontendError(f"{function}: a 0-d array cannot be split")
        axis = _axis(b, axis, rank)
        if isinstance(indices_or_sections, (list, tuple)):
            indices = list(indices_or_sections)
            return _slices(b, ary, axis, list(zip([0] + indices, indices + [None])))
        count = _section_count(b, indices_or_sections, function)
        if equal:
            return _split_equal(b, ary, count, axis)
        return _slices(b, ary, axis, _section_bounds(b, ary, count, axis))
    return binder


api.function(np.split)(_split_binder("np.split", equal=True))
api.function(np.array_split)(_split_binder("np.array_split", equal=False))


# -- creation from an array's shape and dtype ----------------------------------------------------------------
api.function(np.empty)(_creation_binder("np::zeros"))


def _like_binder(function: str, kind: str, filled: bool):
    """np.zeros_like/ones_like/empty_like (filled=False) and np.full_like."""
    def create(b: GraphBuilder, a, fill_value, dtype, shape):
        type = _tensor_type(b, a, function)
        dtype = type.dtype if dtype is None else as_dtype(dtype)
        if dtype is None:
            raise FrontendError(f"{function}: the dtype of the argument is not known at compile time")
        if shape is None:
            _rank(b, a, function)
            dims = list(_shape(b, _as_array(b, a)))
        else:
            dims = _shape_arguments(b, shape)
        if kind == "np::full":
            return b.op(kind, fill_value, *dims, dtype=dtype)
        return b.op(kind, *dims, dtype=dtype)

    if filled:
        def binder(b: GraphBuilder, a, fill_value, dtype=None, order="K", subok=True, shape=None, *,
                   device=None):
            return create(b, a, fill_value, dtype, shape)
    else:
        def binder(b: GraphBuilder, a, dtype=None, order="K", subok=True, shape=None, *, device=None):
            return create(b, a, None, dtype, shape)
    return binder


api.function(np.zeros_like)(_like_binder("np.zeros_like", "np::zeros", False))
api.function(np.empty_like)(_like_binder("np.empty_like", "np::zeros", False))
api.function(np.ones_like)(_like_binder("np.ones_like", "np::ones", False))
api.function(np.full_like)(_like_binder("np.full_like", "np::full", True))


# -- products ------------------------------------------------------------------------------------------------
@api.function(np.outer)
def _outer(b: GraphBuilder, a, b_, out=None):
    _unsupported_keywords("np.outer", out=out)
    column = b.op("np::reshape", _as_array(b, a), -1, 1)
    row = b.op("np::reshape", _as_array(b, b_), 1, -1)
    return b.op("np::multiply", column, row)


# -- attributes ----------------------------------------------------------------------------------------------
@api.attribute("dtype")
def _dtype(b: GraphBuilder, a):
    """The NumPy dtype, a compile-time constant (`x.astype(y.dtype)`)."""
    dtype = _tensor_type(b, a, "ndarray.dtype").dtype
    if dtype is None:
        raise FrontendError("the dtype of this array is not known at compile time; "
                            "annotate the parameter or call the function first")
    return dtype.numpy


# -- math on Python scalars ----------------------------------------------------------------------------------
def _float64(b: GraphBuilder, x) -> Value:
    """`x` as math sees it: converted to a Python float, here a 0-d float64 array."""
    return b.op("prim::NumToTensor", b.op("prim::Float", x))


def _math_predicate(kind: str):
    def binder(b: GraphBuilder, x):
        return b.op("prim::Bool", b.op(kind, _as_array(b, x)))
    return binder


for _name in ("isnan", "isinf", "isfinite"):
    api.function(getattr(math, _name))(_math_predicate(f"np::{_name}"))


@api.function(math.fabs)
def _fabs(b: GraphBuilder, x):
    return b.op("np::absolute", b.op("prim::Float", x))


@api.function(math.pow)
def _pow(b: GraphBuilder, x, y):
    return b.op("np::power", b.op("prim::Float", x), b.op("prim::Float", y))


@api.function(math.atan2)
def _atan2(b: GraphBuilder, y, x):
    return b.op("prim::Float", b.op("np::arctan2", _float64(b, y), _float64(b, x)))


@api.function(math.log)
def _log(b: GraphBuilder, x, base=None):
    """math.log(x[, base]): log(x) / log(base), as CPython computes it."""
    if base is None:
        return b.op("prim::Float", b.op("np::log", _float64(b, x)))
    return b.op("np::divide", _log(b, x), _log(b, base))


@api.function(math.degrees)
def _degrees(b: GraphBuilder, x):
    return b.op("np::multiply", b.op("prim::Float", x), 180.0 / math.pi)


@api.function(math.radians)
def _radians(b: GraphBuilder, x):
    return b.op("np::multiply", b.op("prim::Float", x), math.pi / 180.0)
