"""Matrix products: a tiled kernel with shared-memory tiles of both
operands (TILE x TILE threads per block, one output element per thread),
batched over the grid's z axis. NumPy's matmul rules are met on the host:
a 1-d operand is a view with an axis of size 1 added (and dropped from the
result), batch axes broadcast through stride 0.
"""
from __future__ import annotations

import math

import numpy as np

from ...ir.graph import Node
from ...ir.ops.rules import ufunc_dtypes
from ...ir.types import DType, TensorType
from .. import UnsupportedOpError
from .kernels import cast, compile_kernel, math_dtype, numpy_name, operand_address, operand_parameters, unravel
from .runtime import DeviceTensor, allocate, simulated


def matmul_source(batch_rank: int, output: DType, tile: int) -> str:
    dtype = math_dtype(output)
    batch_dims = [f"b{axis}" for axis in range(batch_rank)]
    batch_indices = [f"n{axis}" for axis in range(batch_rank)]
    parameters = ["batch", "rows", "columns", "depth", *batch_dims]
    for name in ("x", "y", "out"):
        parameters += operand_parameters(name, batch_rank + 2)
    x_at = operand_address("x", batch_indices + ["row", "k"])
    y_at = operand_address("y", batch_indices + ["k", "column"])
    out_at = operand_address("out", batch_indices + ["row", "column"])
    zero = cast("0", dtype)
    lines = [f"def kernel({', '.join(parameters)}):",
             f"    x_tile = cuda.shared.array(({tile}, {tile}), {numpy_name(dtype)})",
             f"    y_tile = cuda.shared.array(({tile}, {tile}), {numpy_name(dtype)})",
             "    tx = cuda.threadIdx.x",
             "    ty = cuda.threadIdx.y",
             f"    column = cuda.blockIdx.x * {tile} + tx",
             f"    row = cuda.blockIdx.y * {tile} + ty",
             "    for item in range(cuda.blockIdx.z, batch, cuda.gridDim.z):",
             *unravel("item", batch_dims, batch_indices, "        "),
             f"        total = {zero}",
             f"        for start in range(0, depth, {tile}):",
             "            k = start + tx",
             f"            x_tile[ty, tx] = {cast(f'x_buffer[{x_at}]', dtype)} if row < rows and k < depth else {zero}",
             "            k = start + ty",
             f"            y_tile[ty, tx] = {cast(f'y_buffer[{y_at}]', dtype)} if k < depth and column < columns "
             f"else {zero}",
             "            cuda.syncthreads()",
             f"            for inner in range({tile}):",
             f"                total = {cast('total + x_tile[ty, inner] * y_tile[inner, tx]', dtype)}",
             "            cuda.syncthreads()",
             "        if row < rows and column < columns:",
             f"            out_buffer[{out_at}] = {cast('total', output)}"]
    return "\n".join(lines) + "\n"


class MatmulLaunch:
    def __init__(self, node: Node):
        x, y = (value.type for value in node.inputs)
        if not all(isinstance(t, TensorType) and t.rank for t in (x, y)):
            raise UnsupportedOpError(node.kind, "matmul needs two tensors of known rank >= 1")
        dtypes = ufunc_dtypes(np.matmul, [x, y])
        if dtypes is None or not (dtypes[-1].is_float or dtypes[-1].is_integer and dtypes[-1].itemsize >= 4):
            raise UnsupportedOpError(node.kind, f"no CUDA matmul for {x} @ {y}")
        self.dtype = dtypes[-1]
        self.x_vector, self.y_vector = x.rank == 1, y.rank == 1
        self.batch_rank = max(x.rank + self.x_vector, y.rank + self.y_vector) - 2
        self.tile = 4 if simulated() else 16
        self.kernel = compile_kernel(matmul_source(self.batch_rank, self.dtype, self.tile))

    def __call__(self, x: DeviceTensor, y: DeviceTensor) -> DeviceTensor:
        if self.x_vector:
            x = x.view((1,) + x.shape, (0,) + x.strides)
        if self.y_vector:
            y = y.view(y.shape + (1,), y.strides + (0,))
        rows, depth = x.shape[-2:]
        if y.shape[-2] != depth:
            raise ValueError(f"matmul: Input operand 1 has a mismatch in its core dimension 0 (size {y.shape[-2]} "
                             f"is different from {depth})")
        columns = y.shape[-1]
        batch_shape = tuple(np.broadcast_shapes(x.shape[:-2], y.shape[:-2]))
        batch_shape = (1,) * (self.batch_rank - len(batch_shape)) + batch_shape
        out = allocate(batch_shape + (rows, columns), self.dtype.numpy)
        batch = math.prod(batch_shape)
        arguments = [batch, rows, columns, depth, *batch_shape]
        for operand, core in ((x, x.shape[-2:]), (y, y.shape[-2:]), (out, (rows, columns))):
            arguments += [operand.buffer, operand.offset, *operand.broadcast_strides(batch_shape + tuple(core))]
        if out.size and depth:
            grid = (-(-columns // self.tile), -(-rows // self.tile), max(1, min(batch, 65535)))
            self.kernel[grid, (self.tile, self.tile)](*arguments)
        elif out.size:
            from .elementwise import fill
            out = fill(out.shape, self.dtype, 0)
        shape = out.shape
        if self.x_vector:
            shape = shape[:-2] + shape[-1:]
        if self.y_vector:
            shape = shape[:-1]
        return DeviceTensor(out.buffer, shape) if shape != out.shape else out
