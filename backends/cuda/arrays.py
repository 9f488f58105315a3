"""Lowerings of the ops that move data rather than compute it: views
(transpose, reshape, slicing, broadcasting: new strides, no kernel), joins
(one strided copy per part into a view of the result), creation (fill
kernels), facts about shapes; indexing.py does `x[index]` and `x[index] = v`.

Each `lower_*` takes the node when the plan is built and returns the
function the plan calls with the node's input values.
"""
from __future__ import annotations

import math
from typing import Callable

from ...ir.graph import Node
from ...ir.ops import get_op
from ...ir.ops.rules import normalize_axes
from ...ir.types import DType
from .. import UnsupportedOpError
from .elementwise import contiguous, copy_into, fill
from .indexing import lower_index, lower_index_put
from .runtime import DeviceTensor, allocate, to_host


def _attributes(node: Node) -> dict:
    return get_op(node.kind).bind_attributes(node.attributes)


def _axis(axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise IndexError(f"axis {axis} is out of bounds for array of dimension {rank}")
    return axis % rank


def lower_transpose(node: Node) -> Callable:
    axes = _attributes(node)["axes"]

    def transpose(x: DeviceTensor) -> DeviceTensor:
        order = tuple(reversed(range(len(x.shape)))) if axes is None else tuple(a % len(x.shape) for a in axes)
        return x.view(tuple(x.shape[a] for a in order), tuple(x.strides[a] for a in order))
    return transpose


def lower_reshape(node: Node) -> Callable:
    def reshape(x: DeviceTensor, *sizes) -> DeviceTensor:
        sizes = [int(size) for size in sizes]
        if -1 in sizes:
            known = math.prod(size for size in sizes if size != -1)
            if known == 0 or x.size % known:
                raise ValueError(f"cannot reshape array of size {x.size} into shape {tuple(sizes)}")
            sizes[sizes.index(-1)] = x.size // known
        if math.prod(sizes) != x.size:
            raise ValueError(f"cannot reshape array of size {x.size} into shape {tuple(sizes)}")
        flat = contiguous(x) if not x.is_contiguous else x
        return DeviceTensor(flat.buffer, tuple(sizes), None, flat.offset)
    return reshape


def lower_expand_dims(node: Node) -> Callable:
    axis = _attributes(node)["axis"]

    def expand_dims(x: DeviceTensor) -> DeviceTensor:
        count = 1 if isinstance(axis, int) else len(axis)
        axes = normalize_axes(axis, len(x.shape) + count)
        shape, strides, rest = [], [], iter(zip(x.shape, x.strides))
        for position in range(len(x.shape) + count):
            size, stride = (1, 0) if position in axes else next(rest)
            shape.append(size)
            strides.append(stride)
        return x.view(tuple(shape), tuple(strides))
    return expand_dims


def lower_squeeze(node: Node) -> Callable:
    axis = _attributes(node)["axis"]

    def squeeze(x: DeviceTensor) -> DeviceTensor:
        axes = ([a for a, size in enumerate(x.shape) if size == 1] if axis is None
                else normalize_axes(axis, len(x.shape)))
        if any(x.shape[a] != 1 for a in axes):
            raise ValueError("cannot select an axis to squeeze out which has size not equal to one")
        keep = [a for a in range(len(x.shape)) if a not in axes]
        return x.view(tuple(x.shape[a] for a in keep), tuple(x.strides[a] for a in keep))
    return squeeze


def lower_broadcast_to(node: Node) -> Callable:
    def broadcast_to(x: DeviceTensor, *shape) -> DeviceTensor:
        shape = tuple(int(size) for size in shape)
        return x.view(shape, x.broadcast_strides(shape))
    return broadcast_to


def lower_select(node: Node) -> Callable:
    axis = _attributes(node)["axis"]

    def select(x: DeviceTensor, index: int) -> DeviceTensor:
        along = _axis(axis, len(x.shape))
        size = x.shape[along]
        if not -size <= index < size:
            raise IndexError(f"index {index} is out of bounds for axis {along} with size {size}")
        keep = [a for a in range(len(x.shape)) if a != along]
        return x.view(tuple(x.shape[a] for a in keep), tuple(x.strides[a] for a in keep),
                      x.offset + (index % size) * x.strides[along])
    return select


def lower_slice(node: Node) -> Callable:
    axis = _attributes(node)["axis"]

    def slice_(x: DeviceTensor, start, stop, step) -> DeviceTensor:
        along = _axis(axis, len(x.shape))
        first, _, step = slice(start, stop, step).indices(x.shape[along])
        length = len(range(*slice(start, stop, step).indices(x.shape[along])))
        shape, strides = list(x.shape), list(x.strides)
        shape[along], strides[along] = length, strides[along] * step
        return x.view(tuple(shape), tuple(strides), x.offset + (first * x.strides[along] if length else 0))
    return slice_


def _join(node: Node, stacked: bool) -> Callable:
    axis = _attributes(node)["axis"]
    dtype = node.output.type.dtype

    def join(tensors: list) -> DeviceTensor:
        if not tensors:
            raise ValueError("need at least one array to concatenate")
        rank = len(tensors[0].shape) + stacked
        along = _axis(axis, rank)
        parts = [t.view(t.shape[:along] + (1,) + t.shape[along:], t.strides[:along] + (0,) + t.strides[along:])
                 if stacked else t for t in tensors]
        shape = list(parts[0].shape)
        for part in parts[1:]:
            if len(part.shape) != rank or any(a != b for i, (a, b) in enumerate(zip(part.shape, shape)) if i != along):
                raise ValueError(f"all the input array dimensions except for the concatenation axis must match "
                                 f"exactly, got {parts[0].shape} and {part.shape}")
        shape[along] = sum(part.shape[along] for part in parts)
        out = allocate(shape, dtype.numpy)
        start = 0
        for part in parts:
            target = out.view(part.shape, out.strides, start * out.strides[along])
            copy_into(target, part)
            start += part.shape[along]
        return out
    return join


def lower_stack(node: Node) -> Callable:
    return _join(node, stacked=True)


def lower_concatenate(node: Node) -> Callable:
    return _join(node, stacked=False)


def _created_dtype(node: Node) -> DType:
    dtype = node.output.type.dtype
    if dtype is None or dtype.is_complex:
        raise UnsupportedOpError(node.kind, f"no CUDA kernel for dtype {dtype}")
    return dtype


def lower_filled(node: Node) -> Callable:
    dtype = _created_dtype(node)
    value = {"np::zeros": 0, "np::ones": 1}.get(node.kind)
    if value is None:  # np::full
        return lambda fill_value, *shape: fill(tuple(int(s) for s in shape), dtype, _host_scalar(fill_value))
    return lambda *shape: fill(tuple(int(s) for s in shape), dtype, value)


def lower_arange(node: Node) -> Callable:
    dtype = _created_dtype(node)

    def arange(*bounds) -> DeviceTensor:
        bounds = [_host_scalar(bound) for bound in bounds]
        start, stop, step = ([0] + bounds + [1])[-3:] if len(bounds) == 1 else (bounds + [1])[:3]
        if step == 0:
            raise ZeroDivisionError("arange: step is zero")
        length = max(0, math.ceil((stop - start) / step))
        return fill((length,), dtype, start, step)
    return arange


def lower_linspace(node: Node) -> Callable:
    dtype = _created_dtype(node)
    endpoint = _attributes(node)["endpoint"]

    def linspace(start, stop, num) -> DeviceTensor:
        start, stop = _host_scalar(start), _host_scalar(stop)
        divisions = num - 1 if endpoint else num
        step = (stop - start) / divisions if divisions > 0 else 0.0
        return fill((num,), dtype, float(start), step, float(stop) if endpoint and num > 1 else None)
    return linspace


def _host_scalar(value):
    return to_host(value).item() if isinstance(value, DeviceTensor) else value


def lower_query(node: Node) -> Callable:
    attributes = _attributes(node)
    return {"np::shape": lambda x: tuple(x.shape),
            "np::dim": lambda x: x.shape[_axis(attributes.get("axis", 0), len(x.shape))],
            "np::ndim": lambda x: len(x.shape),
            "np::size": lambda x: x.size}[node.kind]


def lower_num_to_tensor(node: Node) -> Callable:
    dtype = _created_dtype(node)
    return lambda value: fill((), dtype, value)


def lower_to_scalar(node: Node) -> Callable:
    """prim::Int/Float/Bool of a tensor: read it back to the host (a synchronisation)."""
    python_type = {"prim::Int": int, "prim::Float": float, "prim::Bool": bool}[node.kind]
    return lambda x: python_type(to_host(contiguous(x)).reshape(()).item())


LOWERINGS: dict[str, Callable[[Node], Callable]] = {
    "np::transpose": lower_transpose, "np::reshape": lower_reshape, "np::expand_dims": lower_expand_dims,
    "np::squeeze": lower_squeeze, "np::broadcast_to": lower_broadcast_to, "np::select": lower_select,
    "np::slice": lower_slice, "np::stack": lower_stack, "np::concatenate": lower_concatenate,
    "np::zeros": lower_filled, "np::ones": lower_filled, "np::full": lower_filled, "np::arange": lower_arange,
    "np::linspace": lower_linspace, "np::index": lower_index, "np::index_put": lower_index_put,
    "np::shape": lower_query, "np::dim": lower_query, "np::ndim": lower_query, "np::size": lower_query,
    "prim::NumToTensor": lower_num_to_tensor,
}
SCALAR_READS = {"prim::Int": lower_to_scalar, "prim::Float": lower_to_scalar, "prim::Bool": lower_to_scalar}
