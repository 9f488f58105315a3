"""Ops that move or create array data: reshape and friends, basic indexing,
joins, matmul, creation, casts, and queries about shapes.

Sizes that come from run-time ints (`x.reshape(n, -1)`) are inputs, not
attributes; their constant values, when known, sharpen the result type.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.array_utils import normalize_axis_index

from ..types import ANY_DIM, BOOL, FLOAT, INT, NONE, DType, ListType, ScalarType, TensorType
from .registry import REQUIRED, UNKNOWN, Group, OpDef, register
from .rules import (array_like_input, broadcast_shapes, format_shape, normalize_axes, normalize_axis,
                    tensor_input, ufunc_dtypes)


def _int_inputs(context, start: int) -> list:
    """Constant values (or ANY_DIM) of the int inputs from `start` on."""
    dims = []
    for index in range(start, len(context.input_types)):
        if context.input_types[index] != INT:
            raise context.error(f"size arguments must be int, got {context.input_types[index]}")
        value = context.constants[index]
        dims.append(ANY_DIM if value is UNKNOWN else value)
    return dims


def _size_inputs(context, start: int) -> tuple:
    """`_int_inputs` for a shape to create, where no size may be negative."""
    dims = tuple(_int_inputs(context, start))
    if any(isinstance(d, int) and d < 0 for d in dims):
        raise context.error(f"negative dimensions are not allowed: {dims}")
    return dims


# -- reshape and views ------------------------------------------------------------
def _reshape_infer(context):
    x = tensor_input(context, 0)
    dims = _int_inputs(context, 1)
    if sum(1 for d in dims if d == -1) > 1:
        raise context.error("can only specify one unknown dimension (-1)")
    if any(isinstance(d, int) and d < -1 for d in dims):
        raise context.error(f"negative dimensions not allowed: {tuple(dims)}")
    if -1 in dims:
        known = [d for d in dims if d != -1]
        total = None if x.shape is None or not all(isinstance(d, int) for d in x.shape) else math.prod(x.shape)
        if total is not None and all(isinstance(d, int) for d in known):
            rest = math.prod(known)
            if rest == 0 or total % rest:
                raise context.error(f"cannot reshape array of size {total} into shape {tuple(dims)}")
            dims = [total // rest if d == -1 else d for d in dims]
        else:
            dims = [ANY_DIM if d == -1 else d for d in dims]
    elif x.shape is not None and all(isinstance(d, int) for d in (*x.shape, *dims)):
        if math.prod(x.shape) != math.prod(dims):
            raise context.error(f"cannot reshape array of size {math.prod(x.shape)} into shape {tuple(dims)}")
    return [TensorType(x.dtype, tuple(dims))]


register(OpDef(
    name="np::reshape", group=Group.SHAPE, inputs=("x", "*shape"),
    infer=_reshape_infer, reference=lambda x, *shape: np.reshape(x, shape),
    code="np.reshape({0}, {shape_tuple})", doc="np.reshape(x, shape); one dim may be -1",
))


def _transpose_infer(context):
    x = tensor_input(context, 0)
    axes = context.attributes["axes"]
    if x.shape is None:
        return [x]
    if axes is None:
        return [x.with_shape(x.shape[::-1])]
    if len(axes) != len(x.shape):
        raise context.error(f"axes {axes} don't match array of dimension {len(x.shape)}")
    normalized = [normalize_axis(a, len(x.shape)) for a in axes]
    if sorted(normalized) != list(range(len(x.shape))):
        raise context.error(f"axes {axes} are not a permutation")
    return [x.with_shape(tuple(x.shape[a] for a in normalized))]


register(OpDef(
    name="np::transpose", group=Group.SHAPE, inputs=("x",), attributes={"axes": None},
    infer=_transpose_infer, reference=lambda x, axes: np.transpose(x, axes),
    doc="np.transpose(x, axes); axes=None reverses them",
))


def _expand_dims_infer(context):
    x = array_like_input(context, 0)
    axis = context.attributes["axis"]
    if x.shape is None:
        return [x]
    axes = normalize_axes(axis, len(x.shape) + (1 if isinstance(axis, int) else len(axis)))
    shape, rest = [], iter(x.shape)
    for i in range(len(x.shape) + len(axes)):
        shape.append(1 if i in axes else next(rest))
    return [x.with_shape(shape)]


register(OpDef(
    name="np::expand_dims", group=Group.SHAPE, inputs=("x",), attributes={"axis": 0},
    infer=_expand_dims_infer, reference=lambda x, axis: np.expand_dims(x, axis),
    doc="np.expand_dims(x, axis); also x[None]",
))


def _squeeze_infer(context):
    x = tensor_input(context, 0)
    axis = context.attributes["axis"]
    if x.shape is None:
        return [x]
    if axis is None:
        if any(isinstance(d, str) for d in x.shape):
            raise context.error(
                f"squeeze without axis of a {x} array: whether its dims marked '*' are 1 decides the "
                "result's rank, which jitc must know when compiling; pass axis=... to name the dims "
                "to remove")
        return [x.with_shape(d for d in x.shape if d != 1)]
    axes = normalize_axes(axis, len(x.shape))
    for a in axes:
        if isinstance(x.shape[a], int) and x.shape[a] != 1:
            raise context.error("cannot select an axis to squeeze out which has size not equal to one")
    return [x.with_shape(d for i, d in enumerate(x.shape) if i not in axes)]


register(OpDef(
    name="np::squeeze", group=Group.SHAPE, inputs=("x",), attributes={"axis": None},
    infer=_squeeze_infer, reference=lambda x, axis: np.squeeze(x, axis),
    doc="np.squeeze(x, axis)",
))


def _broadcast_to_infer(context):
    x = array_like_input(context, 0)
    dims = _size_inputs(context, 1)
    if x.shape is not None and len(x.shape) > len(dims):
        raise context.error(f"cannot broadcast a {len(x.shape)}-d array to {len(dims)} dims")
    result = broadcast_shapes(x.shape, dims)
    if result is not None and any(isinstance(d, int) and d != r for d, r in zip(dims, result)):
        raise context.error(f"shape {format_shape(x.shape)} cannot be broadcast to {format_shape(dims)}")
    return [TensorType(x.dtype, dims if result is None else tuple(
        d if isinstance(d, int) else r for d, r in zip(dims, result)))]


register(OpDef(
    name="np::broadcast_to", group=Group.SHAPE, inputs=("x", "*shape"),
    infer=_broadcast_to_infer, reference=lambda x, *shape: np.broadcast_to(x, shape).copy(),
    code="np.broadcast_to({0}, {shape_tuple})", doc="np.broadcast_to(x, shape)",
))


# -- basic indexing ------------------------------------------------------------------
def _select_infer(context):
    x = tensor_input(context, 0)
    if context.input_types[1] != INT:  # x[True] is not x[1] in NumPy: it adds an axis
        raise context.error(f"index must be an int, got {context.input_types[1]}")
    if x.shape is None:
        return [x]
    if not x.shape:
        raise context.error("too many indices: a 0-d array cannot be indexed")
    axis = normalize_axis(context.attributes["axis"], len(x.shape))
    index = context.constants[1]
    size = x.shape[axis]
    if index is not UNKNOWN and isinstance(size, int) and not -size <= index < size:
        raise context.error(f"index {index} is out of bounds for axis {axis} with size {size}")
    return [x.with_shape(x.shape[:axis] + x.shape[axis + 1:])]


def _along(x, axis: int, item) -> tuple:
    """An index applying `item` to `axis` of `x` (an AxisError if out of range)."""
    return (slice(None),) * normalize_axis_index(axis, np.ndim(x)) + (item,)


def _select_reference(x, index, axis):
    return x[_along(x, axis, index)]


def _index_code(x: str, axis: int, item: str) -> str:
    """`x[:, item]` for axis 1, `x[..., item, :]` for axis -2."""
    if axis >= 0:
        return f"{x}[{':, ' * axis}{item}]"
    return f"{x}[..., {item}{', :' * (-axis - 1)}]"


def _select_code(inputs, attributes) -> str:
    return _index_code(inputs[0], attributes["axis"], inputs[1])


def _slice_code(inputs, attributes) -> str:
    start, stop, step = ("" if bound == "None" else bound for bound in inputs[1:])
    return _index_code(inputs[0], attributes["axis"], f"{start}:{stop}" + (f":{step}" if step else ""))


register(OpDef(
    name="np::select", group=Group.INDEX, inputs=("x", "index"), attributes={"axis": 0},
    infer=_select_infer, reference=_select_reference, code=_select_code,
    doc="x[..., index, ...] along `axis`: an int index, the axis goes away",
))


def slice_length(size, start, stop, step):
    """Length of `range(size)[start:stop:step]`, or ANY_DIM if not known."""
    if not isinstance(size, int) or UNKNOWN in (start, stop, step):
        return ANY_DIM
    return len(range(size)[slice(start, stop, step)])


def _slice_infer(context):
    x = tensor_input(context, 0)
    for index, name in zip(range(1, 4), ("start", "stop", "step")):
        if context.input_types[index] not in (INT, NONE):
            raise context.error(f"slice {name} must be int or None, got {context.input_types[index]}")
    if context.constants[3] == 0:
        raise context.error("slice step cannot be zero")
    if x.shape is None:
        return [x]
    if not x.shape:
        raise context.error("too many indices: a 0-d array cannot be sliced")
    axis = normalize_axis(context.attributes["axis"], len(x.shape))
    length = slice_length(x.shape[axis], *context.constants[1:4])
    return [x.with_shape(x.shape[:axis] + (length,) + x.shape[axis + 1:])]


def _slice_reference(x, start, stop, step, axis):
    return x[_along(x, axis, slice(start, stop, step))]


register(OpDef(
    name="np::slice", group=Group.INDEX, inputs=("x", "start", "stop", "step"),
    attributes={"axis": 0}, infer=_slice_infer, reference=_slice_reference, code=_slice_code,
    doc="x[..., start:stop:step, ...] along `axis`; bounds may be None",
))


# -- joins --------------------------------------------------------------------------------
def _list_of_tensors(context, index: int) -> TensorType:
    type = context.input_types[index]
    if not isinstance(type, ListType) or not isinstance(type.element, TensorType):
        raise context.error(f"expected a list of tensors, got {type}")
    return type.element


def _stack_infer(context):
    element = _list_of_tensors(context, 0)
    if element.shape is None:
        return [TensorType(element.dtype)]
    axis = normalize_axis(context.attributes["axis"], len(element.shape) + 1)
    return [element.with_shape(element.shape[:axis] + (ANY_DIM,) + element.shape[axis:])]


register(OpDef(
    name="np::stack", group=Group.JOIN, inputs=("tensors",), attributes={"axis": 0},
    infer=_stack_infer, reference=lambda tensors, axis: np.stack(tensors, axis=axis),
    doc="np.stack(list_of_arrays, axis)",
))


def _concatenate_infer(context):
    element = _list_of_tensors(context, 0)
    if element.shape is None:
        return [element]
    if not element.shape:
        raise context.error("zero-dimensional arrays cannot be concatenated")
    axis = normalize_axis(context.attributes["axis"], len(element.shape))
    return [element.with_shape(element.shape[:axis] + (ANY_DIM,) + element.shape[axis + 1:])]


register(OpDef(
    name="np::concatenate", group=Group.JOIN, inputs=("tensors",), attributes={"axis": 0},
    infer=_concatenate_infer, reference=lambda tensors, axis: np.concatenate(tensors, axis=axis),
    doc="np.concatenate(list_of_arrays, axis)",
))


# -- linear algebra ----------------------------------------------------------------------
def matmul_shape(a, b):
    """NumPy's matmul shape rule over symbolic dims; raises ValueError."""
    if a is None or b is None:
        return None
    if not a or not b:
        raise ValueError("matmul: input operand does not have enough dimensions")
    a2 = (1,) + tuple(a) if len(a) == 1 else tuple(a)
    b2 = tuple(b) + (1,) if len(b) == 1 else tuple(b)
    k1, k2 = a2[-1], b2[-2]
    if isinstance(k1, int) and isinstance(k2, int) and k1 != k2:
        raise ValueError(f"matmul: core dimension mismatch ({k1} != {k2})")
    batch = broadcast_shapes(a2[:-2], b2[:-2])
    shape = batch + (a2[-2], b2[-1])
    if len(a) == 1:
        shape = shape[:-2] + shape[-1:]
    if len(b) == 1:
        shape = shape[:-1]
    return shape


def _matmul_infer(context):
    a, b = tensor_input(context, 0), tensor_input(context, 1)
    try:
        shape = matmul_shape(a.shape, b.shape)
    except ValueError as error:
        raise context.error(str(error)) from None
    dtypes = ufunc_dtypes(np.matmul, context.input_types)
    return [TensorType(None if dtypes is None else dtypes[-1], shape)]


register(OpDef(
    name="np::matmul", group=Group.LINALG, inputs=("x", "y"),
    infer=_matmul_infer, reference=np.matmul, code="{0} @ {1}",
    doc="x @ y with NumPy's rules for 1-d operands and batch broadcasting",
))


# -- creation and casts ------------------------------------------------------------------
def _filled_infer(context):
    dims = _size_inputs(context, 0)
    return [TensorType(context.attributes["dtype"], dims)]


for _name, _function in (("zeros", np.zeros), ("ones", np.ones)):
    register(OpDef(
        name=f"np::{_name}", group=Group.CREATION, inputs=("*shape",),
        attributes={"dtype": DType.FLOAT64}, infer=_filled_infer,
        reference=(lambda function: lambda *shape, dtype: function(shape, dtype.numpy))(_function),
        code=f"np.{_name}({{shape_tuple}}, dtype={{dtype}})", doc=f"np.{_name}(shape, dtype)",
    ))


def _full_infer(context):
    fill = array_like_input(context, 0)
    if fill.shape not in (None, ()):
        raise context.error("fill value must be a scalar")
    dims = _size_inputs(context, 1)
    dtype = context.attributes["dtype"]
    return [TensorType(fill.dtype if dtype is None else dtype, dims)]


def _full_reference(fill, *shape, dtype):
    return np.full(shape, fill, dtype=None if dtype is None else dtype.numpy)


register(OpDef(
    name="np::full", group=Group.CREATION, inputs=("fill", "*shape"), attributes={"dtype": None},
    infer=_full_infer, reference=_full_reference,
    code="np.full({shape_tuple}, {0}, dtype={dtype})", doc="np.full(shape, fill, dtype)",
))


def _dtype_code(attributes) -> str:
    """`, dtype=np.float32` for a `.code` call, nothing for dtype None."""
    return "" if attributes["dtype"] is None else f", dtype=np.{attributes['dtype'].value}"


def _arange_length(start, stop, step) -> int:
    """NumPy's length of arange(start, stop, step): ceil((stop - start) / step)
    in floating point, at least 0. ZeroDivisionError for a zero step,
    ValueError where it is not a number."""
    quotient = (stop - start) / step
    if math.isnan(quotient):
        raise ValueError("arange: cannot compute length")
    return max(0, math.ceil(quotient))


def _arange_infer(context):
    bounds = context.input_types
    if not 1 <= len(bounds) <= 3:
        raise context.error(f"takes 1 to 3 bounds ([start,] stop[, step]), got {len(bounds)}")
    if any(type not in (INT, FLOAT, BOOL) for type in bounds):
        raise context.error(f"bounds must be Python ints or floats, got {', '.join(map(str, bounds))}")
    dtype = context.attributes["dtype"] or (DType.FLOAT64 if FLOAT in bounds else DType.INT64)
    length = ANY_DIM
    if UNKNOWN not in context.constants:
        values = ([0] if len(bounds) == 1 else []) + list(context.constants)
        values += [1] * (3 - len(values))
        try:
            length = _arange_length(*values)
        except (ZeroDivisionError, ValueError, OverflowError) as error:
            raise context.error(str(error)) from None
    if dtype == DType.BOOL and isinstance(length, int) and length > 2:
        raise context.error("arange() is only supported for booleans when the result has at most length 2.")
    return [TensorType(dtype, (length,))]


register(OpDef(
    name="np::arange", group=Group.CREATION, inputs=("*bounds",), attributes={"dtype": None},
    infer=_arange_infer,
    reference=lambda *bounds, dtype: np.arange(*bounds, dtype=None if dtype is None else dtype.numpy),
    code=lambda inputs, attributes: f"np.arange({', '.join(inputs)}{_dtype_code(attributes)})",
    doc="np.arange([start,] stop[, step], dtype): ints give int64, floats float64 unless dtype is given",
))


def linspace_dtype(start: TensorType, stop: TensorType) -> DType | None:
    """The dtype NumPy computes linspace in: that of start and stop, made inexact."""
    dtypes = ufunc_dtypes(np.add, [start, stop])
    if dtypes is None:
        return None
    return dtypes[-1] if dtypes[-1].is_float else DType.FLOAT64


def _linspace_infer(context):
    for index, name in ((0, "start"), (1, "stop")):
        if not isinstance(context.input_types[index], (ScalarType, TensorType)) or \
                array_like_input(context, index).shape not in (None, ()):
            raise context.error(f"{name} must be a scalar (arrays of bounds are not supported)")
    if context.input_types[2] != INT:
        raise context.error(f"num must be an int, got {context.input_types[2]}")
    num = context.constants[2]
    if num is not UNKNOWN and num < 0:
        raise context.error(f"Number of samples, {num}, must be non-negative.")
    dtype = context.attributes["dtype"] or linspace_dtype(*context.input_types[:2])
    return [TensorType(dtype, (ANY_DIM if num is UNKNOWN else num,))]


def _linspace_reference(start, stop, num, endpoint, dtype):
    return np.linspace(start, stop, num, endpoint=endpoint, dtype=None if dtype is None else dtype.numpy)


register(OpDef(
    name="np::linspace", group=Group.CREATION, inputs=("start", "stop", "num"),
    attributes={"endpoint": True, "dtype": None}, infer=_linspace_infer, reference=_linspace_reference,
    code=lambda inputs, attributes: (f"np.linspace({', '.join(inputs)}"
                                     f"{'' if attributes['endpoint'] else ', endpoint=False'}{_dtype_code(attributes)})"),
    doc="np.linspace(start, stop, num, endpoint, dtype) of scalar bounds, computed as NumPy does",
))


def _astype_infer(context):
    x = array_like_input(context, 0)
    return [x.with_dtype(context.attributes["dtype"])]


register(OpDef(
    name="np::astype", group=Group.CAST, inputs=("x",), attributes={"dtype": REQUIRED},
    infer=_astype_infer, reference=lambda x, dtype: np.asarray(x).astype(dtype.numpy),
    code="{0}.astype({dtype})", doc="x.astype(dtype): a converted copy",
))


# -- queries -----------------------------------------------------------------------------------
def _shape_infer(context):
    tensor_input(context, 0)
    return [ListType(INT)]


register(OpDef(
    name="np::shape", group=Group.QUERY, inputs=("x",), infer=_shape_infer,
    reference=lambda x: list(np.shape(x)), code="{0}.shape", doc="x.shape as a list of ints",
))


def _dim_infer(context):
    x = tensor_input(context, 0)
    if x.shape is not None:
        normalize_axis(context.attributes["axis"], len(x.shape))
    return [INT]


register(OpDef(
    name="np::dim", group=Group.QUERY, inputs=("x",), attributes={"axis": 0},
    infer=_dim_infer, reference=lambda x, axis: int(np.shape(x)[axis]),
    code="{0}.shape[{axis}]", doc="x.shape[axis]",
))
register(OpDef(
    name="np::ndim", group=Group.QUERY, inputs=("x",),
    infer=lambda context: (tensor_input(context, 0), [INT])[1],
    reference=lambda x: int(np.ndim(x)), code="{0}.ndim", doc="x.ndim",
))
register(OpDef(
    name="np::size", group=Group.QUERY, inputs=("x",),
    infer=lambda context: (tensor_input(context, 0), [INT])[1],
    reference=lambda x: int(np.size(x)), code="{0}.size", doc="x.size",
))
