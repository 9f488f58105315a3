"""NumPy's advanced indexing: np::index (`x[ids]`, `x[mask]`, mixed with
ints, slices, None and ...) and np::index_put (`x[index] = value` into a
fresh copy of x).

Both follow the op's plan (ir/ops/indexing.py) over one target array, x or
its copy. The basic items make a strided view of the target, as np::select
and np::slice do. Each advanced item adds to an element's offset: int ids
(all checked against their axis before any element moves; negative ones
wrap) times the axis stride; a mask the offset of its k-th true element,
from a table filled by counting first. The loops run over the result's
index space in C order and add the advanced offsets once per position of
the broadcast block, so `table[ids]` copies whole rows. index_put writes in
the same order: of repeated ids, the last one wins, as in NumPy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from llvmlite import ir

from ...ir.ops.indexing import group_parts, index_plan, is_whole_mask
from ...ir.types import FLOAT, INT, DType, ScalarType
from .array_ops import slice_bounds, wrap_index
from .emitter import const
from .layout import F64, I1, I64, SCALAR_DTYPES, NativeTensor
from .registry import attribute, lowers
from .runtime import declare


@dataclass
class _Advanced:
    """One advanced item: an int array of ids into an axis of the target
    (`axis_size`, `axis_stride`), or a table of element offsets (a mask;
    `axis_stride` None). Its dims line up with the block's last ones."""

    table: NativeTensor
    axis_size: ir.Value | None = None
    axis_stride: ir.Value | None = None


@dataclass
class _Layout:
    """The result's dims as (size, stride into the target) from `data`, the
    advanced block's dims at `block` (stride None) with their items."""

    data: ir.Value
    dims: list
    block: int
    block_rank: int
    advanced: list


def _layout(cg, node, target: NativeTensor, parts: list, part_types: list) -> _Layout:
    em, b = cg.em, cg.builder
    items = attribute(node, "items")
    groups = group_parts(items, parts)
    plan = index_plan(items, target.rank, _mask_ranks(items, part_types))
    data, basic, advanced = target.data, [], []
    for step in plan.steps:
        size, stride = (target.shape[step.axis], target.strides[step.axis]) if step.width else (const(1), const(0))
        group = groups[step.item] if step.kind in ("int", "slice", "ids", "mask") else ()
        if step.kind in ("full", "none"):
            basic.append((size, stride))
        elif step.kind == "slice":
            start, count, by = slice_bounds(em, *group, size)
            data = b.gep(data, [b.mul(start, stride)])
            basic.append((count, b.mul(stride, by)))
        elif step.kind == "int":  # as an advanced item too: a 0-d id adds no dim to the block
            data = b.gep(data, [b.mul(wrap_index(em, group[0], size, step.axis), stride)])
        elif step.kind == "ids":
            _check_ids(em, group[0], size, step.axis)
            advanced.append(_Advanced(group[0], size, stride))
        else:
            axes = range(step.axis, step.axis + step.width)
            advanced.append(_Advanced(_mask_offsets(em, group[0], [target.shape[a] for a in axes],
                                                    [target.strides[a] for a in axes], step.axis)))
    if plan.block is None:
        return _Layout(data, basic, len(basic), 0, [])
    block = _broadcast_block(em, [item.table for item in advanced])
    dims = basic[:plan.block] + [(size, None) for size in block] + basic[plan.block:]
    return _Layout(data, dims, plan.block, len(block), advanced)


def _mask_ranks(items, part_types) -> list:
    """Per "array" item, the rank of a boolean mask, or None for int ids."""
    return [len(types[0].shape) if types[0].dtype == DType.BOOL else None
            for item, types in zip(items, group_parts(items, part_types)) if item == "array"]


def _check_ids(em, ids: NativeTensor, size, axis: int) -> None:
    """IndexError for the first id out of [-size, size), before any copy."""
    b = em.builder
    with em.loop_nest(ids.shape, "ids") as index:
        value = em.to_i64(em.load(ids.dtype, em.element_pointer(ids, index)))
        outside = b.or_(b.icmp_signed("<", value, b.neg(size)), b.icmp_signed(">=", value, size))
        em.raise_if(outside, "IndexError", f"index {{0}} is out of bounds for axis {axis} with size {{1}}",
                    [value, size])


def _mask_offsets(em, mask: NativeTensor, sizes: list, strides: list, first_axis: int) -> NativeTensor:
    """The offsets (in the target's strides) of the mask's true elements,
    in C order: counted, then filled without a branch (every element's
    offset is written at the next free place, which only a true one takes;
    one spare place holds the writes after the last true element)."""
    b = em.builder
    for axis, (size, mask_size) in enumerate(zip(sizes, mask.shape)):
        em.raise_if(b.icmp_signed("!=", size, mask_size), "IndexError",
                    f"boolean index did not match indexed array along axis {first_axis + axis}; size of axis is "
                    "{0} but size of corresponding boolean axis is {1}", [size, mask_size])
    counter = em.alloca_builder.alloca(I64, name="true_count")
    b.store(const(0), counter)
    with em.loop_nest(mask.shape, "count") as index:
        is_true = em.load(DType.BOOL, em.element_pointer(mask, index))
        b.store(b.add(b.load(counter), b.zext(is_true, I64)), counter)
    count = b.load(counter)
    table = em.allocate(DType.INT64, [b.add(count, const(1))])
    b.store(const(0), counter)
    with em.loop_nest(mask.shape, "fill") as index:
        position = b.load(counter)
        offset = const(0)
        for i, stride in zip(index, strides):
            offset = b.add(offset, b.mul(i, stride))
        b.store(offset, b.gep(table.data, [position]))
        b.store(b.add(position, b.zext(em.load(DType.BOOL, em.element_pointer(mask, index)), I64)), counter)
    return NativeTensor(DType.INT64, table.data, [count], table.strides)


def _broadcast_block(em, tables: list) -> list:
    """The broadcast shape of the advanced items (right-aligned), raising
    NumPy's IndexError where they do not broadcast together."""
    b = em.builder
    rank = max((t.rank for t in tables), default=0)
    block = [const(1)] * rank
    mismatch = ir.Constant(I1, 0)
    for table in tables:
        for axis, size in enumerate(table.shape):
            position = rank - table.rank + axis
            current = block[position]
            conflict = b.and_(b.icmp_signed("!=", size, current), b.and_(b.icmp_signed("!=", size, const(1)),
                                                                         b.icmp_signed("!=", current, const(1))))
            mismatch = b.or_(mismatch, conflict)
            block[position] = b.select(b.icmp_signed("==", size, const(1)), current, size)
    em.raise_if(mismatch, "IndexError", "shape mismatch: indexing arrays could not be broadcast together")
    return block


def _broadcast_strides(b, tensor: NativeTensor, sizes: list) -> list:
    """`tensor`'s strides right-aligned onto `sizes`: 0 where its dim is 1
    (or missing), so that one element serves a whole broadcast dim."""
    missing = len(sizes) - tensor.rank
    return [const(0)] * missing + [b.select(b.icmp_signed("==", size, const(1)), const(0), stride)
                                   for size, stride in zip(tensor.shape, tensor.strides)]


def _walk(cg, layout: _Layout, body) -> None:
    """Loops over the result in C order; calls `body(index, pointer)` with
    the result index and the pointer to the target element it stands for."""
    em, b = cg.em, cg.builder
    block_sizes = [size for size, _ in layout.dims[layout.block:layout.block + layout.block_rank]]
    strides = [_broadcast_strides(b, item.table, block_sizes) for item in layout.advanced]
    block_end = layout.block + layout.block_rank

    def level(depth: int, offset, index: list) -> None:
        if depth == block_end:
            offset = b.add(offset, _advanced_offset(em, layout.advanced, strides, index[layout.block:]))
        if depth == len(layout.dims):
            body(index, b.gep(layout.data, [offset]))
            return
        size, stride = layout.dims[depth]
        with em.for_range(size, f"index{depth}") as i:
            level(depth + 1, offset if stride is None else b.add(offset, b.mul(i, stride)), index + [i])

    level(0, const(0), [])


def _advanced_offset(em, advanced: list, strides: list, block_index: list):
    b = em.builder
    offset = const(0)
    for item, item_strides in zip(advanced, strides):
        position = const(0)
        for i, stride in zip(block_index, item_strides):
            position = b.add(position, b.mul(i, stride))
        value = em.to_i64(em.load(item.table.dtype, b.gep(item.table.data, [position])))
        if item.axis_stride is not None:  # ids, checked already: wrap the negative ones
            wrapped = b.select(b.icmp_signed("<", value, const(0)), b.add(value, item.axis_size), value)
            value = b.mul(wrapped, item.axis_stride)
        offset = b.add(offset, value)
    return offset


def _static(shape_type, sizes: list) -> list:
    return [const(d) if isinstance(d, int) else s for d, s in zip(shape_type, sizes)]


@lowers("np::index")
def index(cg, node, inputs):
    em = cg.em
    x, *parts = inputs
    layout = _layout(cg, node, x, parts, [v.type for v in node.inputs[1:]])
    out = em.allocate(x.dtype, _static(node.output.type.shape, [size for size, _ in layout.dims]))
    _walk(cg, layout, lambda index, pointer: em.store(
        x.dtype, em.load(x.dtype, pointer), em.element_pointer(out, index)))
    return [out]


@lowers("np::index_put")
def index_put(cg, node, inputs):
    em, b = cg.em, cg.builder
    x, value, *parts = inputs
    out = em.allocate(x.dtype, x.shape)
    with b.if_then(b.not_(b.and_(b.icmp_unsigned("==", out.data, x.data), em.is_contiguous(x)))):
        em.copy_into(x, out)  # unless a memory plan gave x's own buffer, x being dead after this
    part_types = [v.type for v in node.inputs[2:]]
    layout = _layout(cg, node, out, parts, part_types)
    region = [size for size, _ in layout.dims]
    value_type = node.inputs[1].type
    if isinstance(value_type, ScalarType):
        element = _python_scalar(em, value, value_type, x.dtype)
        _walk(cg, layout, lambda index, pointer: em.store(x.dtype, element, pointer))
        return [out]
    items = attribute(node, "items")
    if is_whole_mask(items, _mask_ranks(items, part_types), x.rank):
        _check_mask_value(em, value, region[0])
    value = _value_over(em, value, region)
    _walk(cg, layout, lambda index, pointer: em.store(x.dtype, em.cast(
        em.load(value.dtype, em.element_pointer(value, index)), value.dtype, x.dtype), pointer))
    return [out]


def _check_mask_value(em, value: NativeTensor, count) -> None:
    """x[mask] = value over all of x's axes takes one value or one per true element."""
    if value.rank == 1:
        b = em.builder
        em.raise_if(b.and_(b.icmp_signed("!=", value.shape[0], count), b.icmp_signed("!=", value.shape[0], const(1))),
                    "ValueError", "NumPy boolean array indexing assignment cannot assign {0} input values to the "
                                  "{1} output values where the mask is true", [value.shape[0], count])


def _value_over(em, value: NativeTensor, region: list) -> NativeTensor:
    """The value broadcast over the indexed region (NumPy's setitem rule:
    leading dims of 1 are dropped, then each dim is 1 or the region's)."""
    b = em.builder
    extra = value.rank - len(region)
    for axis in range(max(extra, 0)):
        em.raise_if(b.icmp_signed("!=", value.shape[axis], const(1)), "ValueError",
                    f"could not broadcast input array into the indexed region: axis {axis} of the value has "
                    "size {0}, where the region has no axis", [value.shape[axis]])
    shape, strides = value.shape[max(extra, 0):], value.strides[max(extra, 0):]
    for axis, (size, target) in enumerate(zip(shape, region[max(-extra, 0):])):
        em.raise_if(b.and_(b.icmp_signed("!=", size, target), b.icmp_signed("!=", size, const(1))), "ValueError",
                    f"could not broadcast input array into the indexed region: axis {axis} of the value has "
                    "size {0}, the region {1}", [size, target])
    trimmed = NativeTensor(value.dtype, value.data, shape, strides)
    return NativeTensor(value.dtype, value.data, region, _broadcast_strides(b, trimmed, region))


def _python_scalar(em, value, type: ScalarType, dtype: DType):
    """A Python scalar stored into an array of `dtype` as NumPy's setitem
    converts it: floats to ints through Python's int() (ValueError for NaN,
    OverflowError for infinity and beyond int64), ints checked against the
    dtype's range (OverflowError)."""
    b = em.builder
    if type == FLOAT and dtype.is_integer:
        em.raise_if(b.fcmp_unordered("uno", value, value), "ValueError", "cannot convert float NaN to integer")
        infinite = b.fcmp_ordered("==", b.call(_fabs(em), [value]), ir.Constant(F64, float("inf")))
        em.raise_if(infinite, "OverflowError", "cannot convert float infinity to integer")
        em.raise_if(b.or_(b.fcmp_ordered(">=", value, ir.Constant(F64, 2.0 ** 63)),
                          b.fcmp_ordered("<", value, ir.Constant(F64, -2.0 ** 63))),
                    "OverflowError", "Python int too large to convert to C long")
        value, type = b.fptosi(value, I64), INT
    if type == INT and dtype.is_integer and dtype != DType.INT64:
        info = np.iinfo(dtype.numpy)
        outside = b.icmp_signed("<", value, const(int(info.min)))
        if info.max < 2 ** 63:
            outside = b.or_(outside, b.icmp_signed(">", value, const(int(info.max))))
        em.raise_if(outside, "OverflowError", f"Python integer {{0}} out of bounds for {dtype.value}", [value])
    return em.cast(value, SCALAR_DTYPES[type], dtype)


def _fabs(em):
    return declare(em.module, "llvm.fabs.f64", F64, [F64])

