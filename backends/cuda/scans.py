"""Scans (`np.cumsum`, `np.cumprod`): one thread per line along the axis,
accumulating element after element in the result's dtype as NumPy's
`add.accumulate` does (so float32 sums round as NumPy's do). Simple and
exact in order, but serial along the axis: a long axis (or `axis=None`
over a big array, one line) leaves the GPU mostly idle.
"""
from __future__ import annotations

import math

from ...ir.graph import Node
from ...ir.types import TensorType
from .. import UnsupportedOpError
from .elementwise import contiguous
from .expressions import value_dtype
from .kernels import blocks_for, cast, compile_kernel, math_dtype, threads_per_block, unravel
from .runtime import DeviceTensor, allocate

_OPERATORS = {"np::cumsum": ("+", "0"), "np::cumprod": ("*", "1")}
SCANS = frozenset(_OPERATORS)


def scan_source(kind: str, kept: int, dtype) -> str:
    operator, identity = _OPERATORS[kind]
    dims = [f"k{axis}" for axis in range(kept)]
    indices = [f"o{axis}" for axis in range(kept)]
    parameters = ["lines", "n", *dims, "out_buffer", "out_step", *[f"out_kept{axis}" for axis in range(kept)],
                  "x_buffer", "x_offset", "x_step", *[f"x_kept{axis}" for axis in range(kept)]]
    x_base = " + ".join(["x_offset"] + [f"{index} * x_kept{axis}" for axis, index in enumerate(indices)])
    out_base = " + ".join(["0"] + [f"{index} * out_kept{axis}" for axis, index in enumerate(indices)])
    return "\n".join([
        f"def kernel({', '.join(parameters)}):",
        "    for line in range(cuda.grid(1), lines, cuda.gridsize(1)):",
        *unravel("line", dims, indices, "        "),
        f"        x_base = {x_base}",
        f"        out_base = {out_base}",
        f"        total = {cast(identity, math_dtype(dtype))}",
        "        for position in range(n):",
        f"            total = {cast(f'total {operator} x_buffer[x_base + position * x_step]', math_dtype(dtype))}",
        f"            out_buffer[out_base + position * out_step] = {cast('total', dtype)}",
    ]) + "\n"


class ScanLaunch:
    def __init__(self, node: Node):
        source = node.inputs[0].type
        if not isinstance(source, TensorType) or source.rank is None:
            raise UnsupportedOpError(node.kind, "the scanned operand must be a tensor of known rank")
        self.axis = node.attributes.get("axis")
        self.rank = max(source.rank, 1)
        self.dtype = value_dtype(node.output.type)
        kept = 0 if self.axis is None else self.rank - 1
        self.kernel = compile_kernel(scan_source(node.kind, kept, self.dtype))

    def __call__(self, x: DeviceTensor) -> DeviceTensor:
        if self.axis is None or not x.shape:
            flat = contiguous(x)
            x = DeviceTensor(flat.buffer, (max(x.size, 1) if not x.shape else x.size,), None, flat.offset)
            axis = 0
        else:
            axis = self.axis % len(x.shape)
        out = allocate(x.shape, self.dtype.numpy)
        kept = [a for a in range(len(x.shape)) if a != axis] if self.axis is not None else []
        lines = math.prod(x.shape[a] for a in kept)
        if out.size:
            threads = threads_per_block()
            self.kernel[blocks_for(lines, threads), threads](
                lines, x.shape[axis], *[x.shape[a] for a in kept], out.buffer, out.strides[axis],
                *[out.strides[a] for a in kept], x.buffer, x.offset, x.strides[axis], *[x.strides[a] for a in kept])
        return out
