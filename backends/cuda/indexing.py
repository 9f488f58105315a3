"""NumPy indexing on the device: `np::index` (x[index]) and `np::index_put`
(x[index] = value, as a new array), for indexes of ints, slices, None,
`...`, int id arrays and boolean masks. A mask is read back to the host
and replaced by its np.nonzero ids (NumPy's rule): a synchronisation, the
price of a result whose size depends on the data.

The index is applied in two stages. The basic items become a view of x
(ints select, slices slice, None adds an axis); the id arrays leave their
axes whole. Then, if there are id arrays, one kernel walks the indexed
shape (the view's other axes, with the broadcast shape of the ids put
where NumPy puts it, `IndexPlan.block`) and reads (gather) or writes
(scatter) x through the ids. Out-of-range ids set a flag the host reads
back and raises IndexError for, as NumPy does. In a scatter where ids
repeat, which write lands is unspecified (NumPy: the last).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ...ir.graph import Node
from ...ir.ops.indexing import group_parts, index_plan
from ...ir.types import DType, TensorType
from .. import UnsupportedOpError
from .elementwise import contiguous, copy_into, fill
from .expressions import value_dtype
from .kernels import blocks_for, compile_kernel, operand_address, operand_arguments, operand_parameters, \
    threads_per_block, unravel
from .runtime import DeviceTensor, allocate, cuda_module, to_device, to_host


def basic_view(x: DeviceTensor, items: Sequence[str], parts: Sequence) -> tuple[DeviceTensor, list[int]]:
    """x with the basic items applied, and which of its axes the id arrays index (in order)."""
    explicit = sum(1 for item in items if item in ("int", "slice", "array"))
    if explicit > len(x.shape):
        raise IndexError(f"too many indices for array: array is {len(x.shape)}-dimensional, "
                         f"but {explicit} were indexed")
    shape, strides, offset, axis, id_axes = [], [], x.offset, 0, []
    for item, group in zip(items, group_parts(items, parts)):
        if item == "int":
            size, index = x.shape[axis], group[0]
            if not -size <= index < size:
                raise IndexError(f"index {index} is out of bounds for axis {axis} with size {size}")
            offset += (index % size) * x.strides[axis]
            axis += 1
        elif item == "slice":
            start, stop, step = slice(*group).indices(x.shape[axis])
            length = len(range(start, stop, step))
            shape.append(length)
            strides.append(x.strides[axis] * step)
            offset += start * x.strides[axis] if length else 0
            axis += 1
        elif item == "none":
            shape.append(1)
            strides.append(0)
        elif item == "array":
            id_axes.append(len(shape))
            shape.append(x.shape[axis])
            strides.append(x.strides[axis])
            axis += 1
        else:  # "...": the axes no other item names
            for _ in range(len(x.shape) - explicit):
                shape.append(x.shape[axis])
                strides.append(x.strides[axis])
                axis += 1
    shape += x.shape[axis:]
    strides += x.strides[axis:]
    return x.view(tuple(shape), tuple(strides), offset), id_axes


def index_source(view_rank: int, id_axes: Sequence[int], block: int, ids_rank: int, put: bool) -> str:
    """A gather (put=False: out[...] = x[...]) or scatter (value into x) over the indexed shape."""
    other_axes = [axis for axis in range(view_rank) if axis not in id_axes]
    rank = len(other_axes) + ids_rank
    dims = [f"d{axis}" for axis in range(rank)]
    indices = [f"i{axis}" for axis in range(rank)]
    block_indices = indices[block:block + ids_rank]
    basic_indices = indices[:block] + indices[block + ids_rank:]
    x_indices = [None] * view_rank
    for axis, index in zip(other_axes, basic_indices):
        x_indices[axis] = index
    parameters = ["count", *dims, "error", *operand_parameters("x", view_rank), *operand_parameters("y", rank)]
    lines = []
    for number, axis in enumerate(id_axes):
        parameters += [f"size{number}", *operand_parameters(f"ids{number}", ids_rank)]
        lines += [f"        id{number} = ids{number}_buffer[{operand_address(f'ids{number}', block_indices)}]",
                  f"        if id{number} < 0:",
                  f"            id{number} += size{number}",
                  f"        if id{number} < 0 or id{number} >= size{number}:",
                  "            error[0] = 1",
                  f"            id{number} = 0"]
        x_indices[axis] = f"id{number}"
    x_at, y_at = operand_address("x", x_indices), operand_address("y", indices)
    store = f"x_buffer[{x_at}] = y_buffer[{y_at}]" if put else f"y_buffer[{y_at}] = x_buffer[{x_at}]"
    return "\n".join([f"def kernel({', '.join(parameters)}):",
                      "    for index in range(cuda.grid(1), count, cuda.gridsize(1)):",
                      *unravel("index", dims, indices, "        "), *lines, f"        {store}"]) + "\n"


class IndexLowering:
    """x[index] (put=False) or x[index] = value as a new array (put=True)."""

    def __init__(self, node: Node, put: bool):
        self.source_items = node.attributes["items"]
        self.put = put
        x = node.inputs[0].type
        arrays = self._array_types(node, 2 if put else 1)
        if not isinstance(x, TensorType) or x.rank is None or any(
                not isinstance(t, TensorType) or t.dtype is None or not t.rank and t.dtype == DType.BOOL
                or t.rank is None or not (t.dtype.is_integer or t.dtype == DType.BOOL) for t in arrays):
            raise UnsupportedOpError(node.kind, f"index {self.source_items}: only ints, slices, None, ..., int id "
                                                f"arrays and boolean masks of known rank have a CUDA lowering")
        # A mask of rank k indexes as the k id arrays np.nonzero gives: NumPy's own rule.
        self.mask_ranks = [t.rank if t.dtype == DType.BOOL else None for t in arrays]
        masks = iter(self.mask_ranks)
        self.items = tuple(expanded for item in self.source_items
                           for expanded in ((item,) if item != "array" else ("array",) * (next(masks) or 1)))
        self.dtype = value_dtype(x)
        self.kernel = None
        if arrays:
            plan = index_plan(self.items, x.rank, [None] * self.items.count("array"))
            view_rank = sum(1 for item in self.items if item in ("slice", "none", "array")) + x.rank - sum(
                1 for item in self.items if item in ("int", "slice", "array"))
            self.ids_rank = max(1 if mask else t.rank for t, mask in zip(arrays, self.mask_ranks))
            self.block = plan.block
            self.kernel = compile_kernel(index_source(view_rank, self._id_axes(), plan.block, self.ids_rank, put))

    def _mask_ids(self, x: DeviceTensor, parts: Sequence) -> list:
        """`parts` with each boolean mask replaced by its np.nonzero ids (read back: a synchronisation)."""
        explicit = sum(1 if item in ("int", "slice") else 0 for item in self.source_items) + sum(
            rank or 1 for rank in self.mask_ranks)
        expanded, axis, masks = [], 0, iter(self.mask_ranks)
        for item, group in zip(self.source_items, group_parts(self.source_items, parts)):
            rank = next(masks) if item == "array" else None
            if rank is None:
                expanded += group
                axis += {"int": 1, "slice": 1, "array": 1, "none": 0}.get(item, len(x.shape) - explicit)
                continue
            mask = to_host(contiguous(group[0])).reshape(group[0].shape)
            if mask.shape != x.shape[axis:axis + rank]:
                raise IndexError(f"boolean index did not match indexed array along axis {axis}; size of axis is "
                                 f"{x.shape[axis] if axis < len(x.shape) else 0} but size of corresponding "
                                 f"boolean axis is {mask.shape[0]}")
            expanded += [to_device(ids) for ids in np.nonzero(mask)]
            axis += rank
        return expanded

    @staticmethod
    def _array_types(node: Node, first: int) -> list:
        items = node.attributes["items"]
        groups = group_parts(items, node.inputs[first:])
        return [group[0].type for item, group in zip(items, groups) if item == "array"]

    def _id_axes(self) -> list[int]:
        axes, position = [], 0
        for item in self.items:
            if item == "array":
                axes.append(position)
            if item in ("slice", "none", "array"):
                position += 1
        return axes

    def __call__(self, x: DeviceTensor, *rest):
        value, parts = (rest[0], rest[1:]) if self.put else (None, rest)
        if any(self.mask_ranks):
            parts = self._mask_ids(x, parts)
        if self.put:
            x = copy_into(allocate(x.shape, x.dtype), x)
        view, id_axes = basic_view(x, self.items, parts)
        if self.kernel is None:  # basic items only: a view, or a copy into one
            if not self.put:
                return view
            copy_into(view, value if isinstance(value, DeviceTensor) else fill((), self.dtype, value))
            return x
        ids = [part for item, group in zip(self.items, group_parts(self.items, parts)) if item == "array"
               for part in group]
        block_shape = tuple(np.broadcast_shapes(*(i.shape for i in ids)))
        block_shape = (1,) * (self.ids_rank - len(block_shape)) + block_shape
        others = [size for axis, size in enumerate(view.shape) if axis not in id_axes]
        shape = tuple(others[:self.block]) + block_shape + tuple(others[self.block:])
        if self.put:
            source = value if isinstance(value, DeviceTensor) else fill((), self.dtype, value)
            y = source.view(shape, source.broadcast_strides(shape)) if source.dtype == x.dtype else \
                copy_into(allocate(shape, x.dtype), source)
        else:
            y = allocate(shape, x.dtype)
        error = cuda_module().to_device(np.zeros(1, np.int32))
        count = int(np.prod(shape))
        if count:
            arguments = [count, *shape, error, *operand_arguments(view, view.strides),
                         *operand_arguments(y, y.strides)]
            for axis, id_array in zip(id_axes, ids):
                arguments += [view.shape[axis], *operand_arguments(id_array, id_array.broadcast_strides(block_shape))]
            threads = threads_per_block()
            self.kernel[blocks_for(count, threads), threads](*arguments)
            if error.copy_to_host()[0]:
                raise IndexError("an index is out of bounds for an indexed axis")
        return x if self.put else y


def lower_index(node: Node) -> Callable:
    return IndexLowering(node, put=False)


def lower_index_put(node: Node) -> Callable:
    return IndexLowering(node, put=True)


__all__ = ["basic_view", "lower_index", "lower_index_put"]
