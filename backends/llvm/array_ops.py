"""Views (reshape, transpose, basic indexing...), joins, creation (zeros, full, arange,
linspace...), casts and queries."""
from __future__ import annotations

from llvmlite import ir

from ...ir.ops.arrays import linspace_dtype
from ...ir.ops.rules import normalize_axes, normalize_axis
from ...ir.types import FLOAT, DType
from .emitter import const
from .layout import F64, I64, NONE_VALUE, SCALAR_DTYPES, NativeTensor, register_type
from .prim_ops import list_element
from .registry import attribute, lowers
from .scalar_ops import Scalar


def _static(shape_type, computed: list) -> list:
    """Computed sizes, with the ones the IR type fixes as constants."""
    return [const(d) if isinstance(d, int) else c for d, c in zip(shape_type, computed)]


# -- queries --------------------------------------------------------------------------------------------
@lowers("np::shape")
def shape(cg, node, inputs):
    return [tuple(inputs[0].shape)]


@lowers("np::dim")
def dim(cg, node, inputs):
    return [inputs[0].shape[normalize_axis(attribute(node, "axis"), inputs[0].rank)]]


@lowers("np::ndim")
def ndim(cg, node, inputs):
    return [const(inputs[0].rank)]


@lowers("np::size")
def size(cg, node, inputs):
    return [cg.em.product(inputs[0].shape)]


# -- creation and casts -------------------------------------------------------------------------------------
def _sizes(cg, values) -> list:
    em, b = cg.em, cg.builder
    for value in values:
        em.raise_if(b.icmp_signed("<", value, const(0)), "ValueError", "negative dimensions are not allowed")
    return list(values)


def _filled(cg, node, fill, fill_dtype, dims):
    em = cg.em
    out_type = node.output.type
    out = em.allocate(out_type.dtype, _static(out_type.shape, _sizes(cg, dims)))
    value = em.cast(fill, fill_dtype, out_type.dtype)
    with em.loop_nest(out.shape) as index:
        em.store(out.dtype, value, em.element_pointer(out, index))
    return [out]


@lowers("np::zeros", "np::ones")
def zeros_ones(cg, node, inputs):
    fill = ir.Constant(I64, 0 if node.kind == "np::zeros" else 1)
    return _filled(cg, node, fill, DType.INT64, inputs)


@lowers("np::full")
def full(cg, node, inputs):
    fill, *dims = inputs
    fill_type = node.inputs[0].type
    if isinstance(fill, NativeTensor):
        fill, fill_dtype = cg.em.load(fill.dtype, fill.data), fill.dtype
    else:
        fill_dtype = SCALAR_DTYPES[fill_type]
    return _filled(cg, node, fill, fill_dtype, dims)


def _arange_length(cg, start, stop, step, integer: bool):
    """NumPy's length: ceil((stop - start) / step), at least 0; exact in
    int64 for int bounds (where Python's true division agrees), in float64
    otherwise, with Python's errors for a zero step or a NaN."""
    em, b = cg.em, cg.builder
    if integer:
        em.raise_if(b.icmp_signed("==", step, const(0)), "ZeroDivisionError", "division by zero")
        span = b.sub(stop, start)
        quotient, remainder = b.sdiv(span, step), b.srem(span, step)
        rounds_up = b.and_(b.icmp_signed("!=", remainder, const(0)),
                           b.icmp_signed("==", b.icmp_signed(">", remainder, const(0)), b.icmp_signed(">", step, const(0))))
        length = b.add(quotient, b.zext(rounds_up, I64))
    else:
        em.raise_if(b.fcmp_ordered("==", step, ir.Constant(F64, 0.0)), "ZeroDivisionError", "float division by zero")
        quotient = b.fdiv(b.fsub(stop, start), step)
        em.raise_if(b.fcmp_unordered("uno", quotient, quotient), "ValueError", "arange: cannot compute length")
        ceiling = Scalar(em, DType.FLOAT64, DType.FLOAT64, python=False).intrinsic("ceil", quotient)
        em.raise_if(b.fcmp_ordered(">=", ceiling, ir.Constant(F64, 2.0 ** 62)), "ValueError",
                    "Maximum allowed size exceeded")
        length = b.fptosi(b.select(b.fcmp_ordered("<", ceiling, ir.Constant(F64, 0.0)), ir.Constant(F64, 0.0),
                                   ceiling), I64)
    return b.select(b.icmp_signed("<", length, const(0)), const(0), length)


@lowers("np::arange")
def arange(cg, node, inputs):
    """NumPy's fill: elements 0 and 1 are start and start + step converted to
    the dtype, element i is a[0] + i * (a[1] - a[0]) computed in the dtype."""
    em, b = cg.em, cg.builder
    types = [v.type for v in node.inputs]
    source = DType.FLOAT64 if FLOAT in types else DType.INT64
    bounds = [em.cast(value, SCALAR_DTYPES[type], source) for value, type in zip(inputs, types)]
    zero, one = em.cast(const(0), DType.INT64, source), em.cast(const(1), DType.INT64, source)
    start, stop, step = ([zero] if len(bounds) == 1 else []) + bounds + [one] * (3 - max(len(bounds), 2))
    length = _arange_length(cg, start, stop, step, source == DType.INT64)
    dtype = node.output.type.dtype
    if dtype == DType.BOOL:
        em.raise_if(b.icmp_signed(">", length, const(2)), "TypeError",
                    "arange() is only supported for booleans when the result has at most length 2.")
    out = em.allocate(dtype, _static(node.output.type.shape, [length]))
    first = em.cast(start, source, dtype)
    second = em.cast(b.fadd(start, step) if source.is_float else b.add(start, step), source, dtype)
    if dtype != DType.BOOL:
        register = register_type(dtype)
        with em.for_range(length, "arange") as i:
            if dtype.is_float:
                delta = b.fsub(second, first)
                value = b.fadd(first, b.fmul(b.sitofp(i, register), delta))
            else:
                value = b.add(first, b.mul(b.trunc(i, register) if register != I64 else i, b.sub(second, first)))
            em.store(dtype, value, b.gep(out.data, [i]))
    for index, value in ((0, first), (1, second)):
        with b.if_then(b.icmp_signed(">", length, const(index))):
            em.store(dtype, value, b.gep(out.data, [const(index)]))
    return [out]


@lowers("np::linspace")
def linspace(cg, node, inputs):
    """NumPy's algorithm in the dtype of start and stop (made inexact): i * step
    + start with step = (stop - start) / div, or (i / div) * (stop - start)
    where step underflows to 0; the last element is stop exactly; floored
    before a cast to an integer dtype."""
    em, b = cg.em, cg.builder
    dt = linspace_dtype(*(v.type for v in node.inputs[:2]))
    start, stop = (_scalar_in(cg, value, v.type, dt) for value, v in zip(inputs[:2], node.inputs[:2]))
    num = inputs[2]
    em.raise_if(b.icmp_signed("<", num, const(0)), "ValueError", "Number of samples, {0}, must be non-negative.",
                [num])
    endpoint = attribute(node, "endpoint")
    div = b.sub(num, const(1)) if endpoint else num
    scalar = Scalar(em, dt, dt, python=False)
    register = register_type(dt)

    def rounded(value):
        return em.round_half(value) if dt == DType.FLOAT16 else value

    divisor = b.sitofp(div, register)
    delta = rounded(b.fsub(stop, start))
    step = rounded(b.fdiv(delta, divisor))
    step_is_zero = b.fcmp_ordered("==", step, scalar.constant(0.0))
    dtype = node.output.type.dtype
    out = em.allocate(dtype, _static(node.output.type.shape, [num]))
    with em.for_range(num, "linspace") as i:
        position = rounded(b.sitofp(i, register))
        scaled = b.select(step_is_zero, rounded(b.fmul(rounded(b.fdiv(position, divisor)), delta)),
                          rounded(b.fmul(position, step)))
        value = rounded(b.fadd(b.select(b.icmp_signed(">", div, const(0)), scaled, rounded(b.fmul(position, delta))),
                               start))
        if endpoint:
            value = b.select(b.and_(b.icmp_signed("==", i, div), b.icmp_signed(">", num, const(1))), stop, value)
        if dtype.is_integer:
            value = scalar.intrinsic("floor", value)
        em.store(dtype, em.cast(value, dt, dtype), b.gep(out.data, [i]))
    return [out]


def _scalar_in(cg, value, type, dtype: DType):
    """A Python scalar or a 0-d array as a register of `dtype`."""
    if isinstance(value, NativeTensor):
        return cg.em.cast(cg.em.load(value.dtype, value.data), value.dtype, dtype)
    return cg.em.cast(value, SCALAR_DTYPES[type], dtype)


@lowers("np::astype")
def astype(cg, node, inputs):
    x, dtype = inputs[0], node.output.type.dtype
    if not isinstance(x, NativeTensor):  # np.float32(f) of a Python scalar
        out = cg.em.allocate(dtype, [])
        cg.em.store(dtype, cg.em.cast(x, SCALAR_DTYPES[node.inputs[0].type], dtype), out.data)
        return [out]
    out = cg.em.allocate(dtype, x.shape)
    cg.em.copy_into(x, out)
    return [out]


# -- views -----------------------------------------------------------------------------------------------------
@lowers("np::reshape")
def reshape(cg, node, inputs):
    em, b = cg.em, cg.builder
    x, *dims = inputs
    total = em.product(x.shape)
    unknown = const(0)
    known = const(1)
    for d in dims:
        is_unknown = b.icmp_signed("==", d, const(-1))
        em.raise_if(b.icmp_signed("<", d, const(-1)), "ValueError", "negative dimensions not allowed")
        unknown = b.add(unknown, b.zext(is_unknown, I64))
        known = b.mul(known, b.select(is_unknown, const(1), d))
    em.raise_if(b.icmp_signed(">", unknown, const(1)), "ValueError", "can only specify one unknown dimension")
    safe_known = b.select(b.icmp_signed("==", known, const(0)), const(1), known)
    inferred = b.sdiv(total, safe_known)
    shape = [b.select(b.icmp_signed("==", d, const(-1)), inferred, d) for d in dims]
    target = "(" + ", ".join("{%d}" % (i + 1) for i in range(len(dims))) + ("," if len(dims) == 1 else "") + ")"
    em.raise_if(b.icmp_signed("!=", em.product(shape), total), "ValueError",
                "cannot reshape array of size {0} into shape " + target, [total, *dims][:16])
    x = em.contiguous(x)
    shape = _static(node.output.type.shape, shape)
    return [NativeTensor(x.dtype, x.data, shape, em.contiguous_strides(shape))]


@lowers("np::transpose")
def transpose(cg, node, inputs):
    x = inputs[0]
    axes = attribute(node, "axes")
    order = list(range(x.rank))[::-1] if axes is None else [normalize_axis(a, x.rank) for a in axes]
    return [NativeTensor(x.dtype, x.data, [x.shape[a] for a in order], [x.strides[a] for a in order])]


@lowers("np::expand_dims")
def expand_dims(cg, node, inputs):
    x, axis = inputs[0], attribute(node, "axis")
    count = 1 if isinstance(axis, int) else len(axis)
    new = set(normalize_axes(axis, x.rank + count))
    sizes, strides, rest = [], [], iter(zip(x.shape, x.strides))
    for position in range(x.rank + count):
        size, stride = (const(1), const(0)) if position in new else next(rest)
        sizes.append(size)
        strides.append(stride)
    return [NativeTensor(x.dtype, x.data, sizes, strides)]


@lowers("np::squeeze")
def squeeze(cg, node, inputs):
    em, b = cg.em, cg.builder
    x, axis = inputs[0], attribute(node, "axis")
    in_type = node.inputs[0].type
    if axis is None:
        removed = {a for a, d in enumerate(in_type.shape) if d == 1}
        for a, size in enumerate(x.shape):  # a '*' dim of size 1 would change the rank the IR promised
            if a not in removed:
                em.raise_if(b.icmp_signed("==", size, const(1)), "ValueError",
                            f"squeeze: axis {a} has size 1 at run time, but the compiled graph assumed it "
                            "does not; pass axis= explicitly")
    else:
        removed = set(normalize_axes(axis, x.rank))
        for a in removed:
            em.raise_if(b.icmp_signed("!=", x.shape[a], const(1)), "ValueError",
                        "cannot select an axis to squeeze out which has size not equal to one")
    kept = [a for a in range(x.rank) if a not in removed]
    return [NativeTensor(x.dtype, x.data, [x.shape[a] for a in kept], [x.strides[a] for a in kept])]


@lowers("np::broadcast_to")
def broadcast_to(cg, node, inputs):
    em, b = cg.em, cg.builder
    x, *dims = inputs
    dims = _static(node.output.type.shape, _sizes(cg, dims))
    offset = len(dims) - x.rank
    strides = [const(0)] * offset
    for axis in range(x.rank):
        size, target = x.shape[axis], dims[offset + axis]
        em.raise_if(b.and_(b.icmp_signed("!=", size, target), b.icmp_signed("!=", size, const(1))),
                    "ValueError", "operands could not be broadcast together with remapped shapes")
        strides.append(b.select(b.icmp_signed("==", size, target), x.strides[axis], const(0)))
    return [NativeTensor(x.dtype, x.data, dims, strides)]


# -- indexing ------------------------------------------------------------------------------------------------------
def wrap_index(em, index, size, axis: int):
    """`index` counted from the end when negative; IndexError (naming the
    index and the size, as NumPy does) where it is out of bounds."""
    b = em.builder
    position = b.select(b.icmp_signed("<", index, const(0)), b.add(index, size), index)
    em.raise_if(b.or_(b.icmp_signed("<", position, const(0)), b.icmp_signed(">=", position, size)), "IndexError",
                f"index {{0}} is out of bounds for axis {axis} with size {{1}}", [index, size])
    return position


@lowers("np::select")
def select(cg, node, inputs):
    b = cg.builder
    x, index = inputs
    axis = normalize_axis(attribute(node, "axis"), x.rank)
    position = wrap_index(cg.em, index, x.shape[axis], axis)
    data = b.gep(x.data, [b.mul(position, x.strides[axis])])
    keep = [a for a in range(x.rank) if a != axis]
    return [NativeTensor(x.dtype, data, [x.shape[a] for a in keep], [x.strides[a] for a in keep])]


def _clamp_bound(b, value, length, negative_step):
    """PySlice_AdjustIndices for one given bound."""
    low = b.select(negative_step, const(-1), const(0))
    high = b.select(negative_step, b.sub(length, const(1)), length)
    shifted = b.select(b.icmp_signed("<", value, const(0)), b.add(value, length), value)
    shifted = b.select(b.icmp_signed("<", shifted, const(0)), low, shifted)
    return b.select(b.icmp_signed(">=", shifted, length), high, shifted)


def slice_bounds(em, start, stop, step, length) -> tuple:
    """(first index, element count, step) of `[start:stop:step]` over
    `length` elements, as Python computes them; bounds may be NONE."""
    b = em.builder
    step = const(1) if step is NONE_VALUE else step
    em.raise_if(b.icmp_signed("==", step, const(0)), "ValueError", "slice step cannot be zero")
    negative = b.icmp_signed("<", step, const(0))
    start = (b.select(negative, b.sub(length, const(1)), const(0)) if start is NONE_VALUE
             else _clamp_bound(b, start, length, negative))
    stop = (b.select(negative, const(-1), length) if stop is NONE_VALUE
            else _clamp_bound(b, stop, length, negative))
    forward = b.select(b.icmp_signed("<", start, stop),
                       b.add(b.sdiv(b.sub(b.sub(stop, start), const(1)), step), const(1)), const(0))
    backward = b.select(b.icmp_signed("<", stop, start),
                        b.add(b.sdiv(b.sub(b.sub(start, stop), const(1)), b.neg(step)), const(1)), const(0))
    return start, b.select(negative, backward, forward), step


@lowers("np::slice")
def slice_(cg, node, inputs):
    b = cg.builder
    x, *bounds = inputs
    axis = normalize_axis(attribute(node, "axis"), x.rank)
    start, count, step = slice_bounds(cg.em, *bounds, x.shape[axis])
    shape = list(x.shape)
    strides = list(x.strides)
    shape[axis] = count
    strides[axis] = b.mul(x.strides[axis], step)
    data = b.gep(x.data, [b.mul(start, x.strides[axis])])
    return [NativeTensor(x.dtype, data, _static(node.output.type.shape, shape), strides)]


# -- joining -----------------------------------------------------------------------------------------------------
@lowers("np::stack", "np::concatenate")
def join(cg, node, inputs):
    em, b = cg.em, cg.builder
    items = inputs[0]
    stacking = node.kind == "np::stack"
    out_type = node.output.type
    length = b.load(items.pointer)
    em.raise_if(b.icmp_signed("==", length, const(0)), "ValueError",
                "need at least one array to " + ("stack" if stacking else "concatenate"))
    first = list_element(em, items, const(0))
    rank = first.rank
    axis = normalize_axis(attribute(node, "axis"), rank + 1 if stacking else rank)
    along = em.alloca_builder.alloca(I64)
    b.store(const(0), along)
    with em.for_range(length, "check") as index:
        item = list_element(em, items, index)
        for a in range(rank):
            if stacking or a != axis:
                em.raise_if(b.icmp_signed("!=", item.shape[a], first.shape[a]), "ValueError",
                            "all input arrays must have the same shape" if stacking else
                            f"all the input array dimensions except for the concatenation axis must match "
                            f"exactly, but along dimension {a}, the array at index {{0}} has size {{1}} and the "
                            f"array at index 0 has size {{2}}", [] if stacking else [index, item.shape[a],
                                                                                    first.shape[a]])
        if not stacking:
            b.store(b.add(b.load(along), item.shape[axis]), along)
    if stacking:
        shape = first.shape[:axis] + [length] + first.shape[axis:]
    else:
        shape = first.shape[:axis] + [b.load(along)] + first.shape[axis + 1:]
    out = em.allocate(out_type.dtype, _static(out_type.shape, shape))
    b.store(const(0), along)
    with em.for_range(length, "join") as index:
        item = list_element(em, items, index)
        if stacking:
            keep = [a for a in range(out.rank) if a != axis]
            data = b.gep(out.data, [b.mul(index, out.strides[axis])])
            view = NativeTensor(out.dtype, data, [out.shape[a] for a in keep], [out.strides[a] for a in keep])
        else:
            start = b.load(along)
            data = b.gep(out.data, [b.mul(start, out.strides[axis])])
            sizes = list(out.shape)
            sizes[axis] = item.shape[axis]
            view = NativeTensor(out.dtype, data, sizes, out.strides)
            b.store(b.add(start, item.shape[axis]), along)
        em.copy_into(item, view)
    return [out]
