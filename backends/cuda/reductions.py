"""Reductions over any axes (sum, prod, mean, max, min, any, all, var,
std, argmax, argmin): one block per output element, its threads striding over the reduced
elements and combining in shared memory (rows.tree_reduction). The host
orders the input's axes as (kept..., reduced...) through strides, so one
kernel per (kept rank, reduced rank, dtypes) serves every choice of axes.
var and std take two passes in the same block: the mean, then the squared
deviations from it; argmax and argmin reduce (value, position) pairs.
"""
from __future__ import annotations

import math

from ...ir.graph import Node
from ...ir.ops import get_op
from ...ir.ops.rules import normalize_axes
from ...ir.types import DType, TensorType
from .. import UnsupportedOpError
from .expressions import value_dtype
from .kernels import blocks_for, cast, compile_kernel, math_dtype, numpy_name, threads_per_block, unravel
from .rows import COMBINE, initial, tree_reduction
from .runtime import DeviceTensor, allocate

SUPPORTED = frozenset(COMBINE) | {"np::var", "np::std", "np::argmax", "np::argmin"}
ARG_REDUCTIONS = ("np::argmax", "np::argmin")


def _accumulator_dtype(kind: str, output: DType) -> DType:
    return DType.BOOL if kind in ("np::any", "np::all") else math_dtype(output)


def arg_reduction_source(kind: str, kept: int, reduced: int, dtype: DType, threads: int) -> str:
    """argmax/argmin: (value, position) pairs, the first position winning
    ties and the first nan winning over numbers, as NumPy does."""
    kept_dims, reduced_dims, parameters, indent, address = _layout(kept, reduced)
    order = ">" if kind == "np::argmax" else "<"
    better = ("({p} >= 0 and ({q} < 0 or ({v} != {v} and ({b} == {b} or {p} < {q})) or ({b} == {b} and {v} == {v} "
              "and ({v} " + order + " {b} or ({v} == {b} and {p} < {q})))))")
    lines = [f"def kernel({', '.join(parameters)}):", "    tid = cuda.threadIdx.x",
             f"    values = cuda.shared.array({threads}, {numpy_name(dtype)})",
             f"    positions = cuda.shared.array({threads}, np.int64)",
             "    for output in range(cuda.blockIdx.x, outputs, cuda.gridDim.x):",
             *unravel("output", kept_dims, [f"o{axis}" for axis in range(kept)], indent),
             f"{indent}base = {' + '.join(['x_offset'] + [f'o{axis} * x_kept{axis}' for axis in range(kept)])}",
             f"{indent}best = {cast('0', dtype)}",
             f"{indent}best_position = -1",
             f"{indent}for position in range(tid, m, {threads}):",
             *unravel("position", reduced_dims, [f"q{axis}" for axis in range(reduced)], indent + "    "),
             f"{indent}    value = {cast(f'x_buffer[{address}]', dtype)}",
             f"{indent}    if {better.format(v='value', p='position', b='best', q='best_position')}:",
             f"{indent}        best = value",
             f"{indent}        best_position = position",
             f"{indent}values[tid] = best",
             f"{indent}positions[tid] = best_position",
             f"{indent}cuda.syncthreads()",
             f"{indent}step = {threads // 2}",
             f"{indent}while step > 0:",
             f"{indent}    if tid < step:",
             f"{indent}        other = values[tid + step]",
             f"{indent}        other_position = positions[tid + step]",
             f"{indent}        mine = values[tid]",
             f"{indent}        if {better.format(v='other', p='other_position', b='mine', q='positions[tid]')}:",
             f"{indent}            values[tid] = other",
             f"{indent}            positions[tid] = other_position",
             f"{indent}    cuda.syncthreads()",
             f"{indent}    step //= 2",
             f"{indent}if tid == 0:",
             f"{indent}    out_buffer[output] = positions[0]",
             f"{indent}cuda.syncthreads()"]
    return "\n".join(lines) + "\n"


def _layout(kept: int, reduced: int):
    """Dims, kernel parameters, loop indent and element address shared by the reduction kernels."""
    kept_dims = [f"k{axis}" for axis in range(kept)]
    reduced_dims = [f"r{axis}" for axis in range(reduced)]
    parameters = ["outputs", "m", *kept_dims, *reduced_dims, "out_buffer", "x_buffer", "x_offset",
                  *[f"x_kept{axis}" for axis in range(kept)], *[f"x_reduced{axis}" for axis in range(reduced)]]
    address = " + ".join(["base"] + [f"q{axis} * x_reduced{axis}" for axis in range(reduced)])
    return kept_dims, reduced_dims, parameters, "        ", address


def reduction_source(kind: str, kept: int, reduced: int, output: DType, threads: int) -> str:
    kept_dims, reduced_dims, parameters, indent, address = _layout(kept, reduced)
    if kind in ("np::var", "np::std"):
        parameters.append("ddof")
    accumulate = _accumulator_dtype(kind, output)
    base = " + ".join(["x_offset"] + [f"o{axis} * x_kept{axis}" for axis in range(kept)])
    lines = [f"def kernel({', '.join(parameters)}):", "    tid = cuda.threadIdx.x",
             f"    shared = cuda.shared.array({threads}, {numpy_name(accumulate)})",
             "    for output in range(cuda.blockIdx.x, outputs, cuda.gridDim.x):",
             *unravel("output", kept_dims, [f"o{axis}" for axis in range(kept)], indent),
             f"{indent}base = {base}"]

    def one_pass(combine: str, element: str, result: str) -> list[str]:
        first = "np::sum" if kind in ("np::var", "np::std", "np::mean") else kind
        return [f"{indent}acc = {cast(initial(first, accumulate), accumulate)}",
                f"{indent}for position in range(tid, m, {threads}):",
                *unravel("position", reduced_dims, [f"q{axis}" for axis in range(reduced)], indent + "    "),
                f"{indent}    value = {cast(f'x_buffer[{address}]', accumulate)}",
                f"{indent}    acc = {cast(combine.format('acc', element), accumulate)}",
                *tree_reduction("shared", "acc", combine, result, threads, indent)]

    if kind in ("np::var", "np::std"):
        add = COMBINE["np::sum"]
        lines += one_pass(add, "value", "total")
        lines.append(f"{indent}mean = {cast('total / m', accumulate)}")
        lines += one_pass(add, "(value - mean) * (value - mean)", "squares")
        result = "squares / (m - ddof)"
        if kind == "np::std":
            result = f"math.sqrt({result})"
    else:
        lines += one_pass(COMBINE[kind], "value", "total")
        result = "total / m" if kind == "np::mean" else "total"
    lines += [f"{indent}if tid == 0:", f"{indent}    out_buffer[output] = {cast(result, output)}"]
    return "\n".join(lines) + "\n"


class ReductionLaunch:
    def __init__(self, node: Node):
        if node.kind not in SUPPORTED:
            raise UnsupportedOpError(node.kind, "no CUDA reduction kernel")
        source_type = node.inputs[0].type
        if not isinstance(source_type, TensorType) or source_type.rank is None:
            raise UnsupportedOpError(node.kind, "the reduced operand must be a tensor of known rank")
        attributes = get_op(node.kind).bind_attributes(node.attributes)
        self.kind = node.kind
        self.rank = source_type.rank
        self.axes = tuple(sorted(normalize_axes(attributes["axis"], self.rank)))
        self.keepdims = attributes["keepdims"]
        self.ddof = attributes.get("ddof", 0)
        self.output = value_dtype(node.output.type)
        self.threads = threads_per_block()
        kept = self.rank - len(self.axes)
        if node.kind in ARG_REDUCTIONS:
            source = arg_reduction_source(node.kind, kept, len(self.axes), math_dtype(value_dtype(source_type)),
                                          self.threads)
        else:
            source = reduction_source(node.kind, kept, len(self.axes), self.output, self.threads)
        self.kernel = compile_kernel(source)

    def __call__(self, x: DeviceTensor) -> DeviceTensor:
        kept_axes = [axis for axis in range(self.rank) if axis not in self.axes]
        kept_shape = [x.shape[axis] for axis in kept_axes]
        reduced_shape = [x.shape[axis] for axis in self.axes]
        shape = tuple(1 if axis in self.axes else size for axis, size in enumerate(x.shape)) if self.keepdims \
            else tuple(kept_shape)
        out = allocate(shape, self.output.numpy)
        outputs, m = math.prod(kept_shape), math.prod(reduced_shape)
        if m == 0 and self.kind in ("np::max", "np::min", *ARG_REDUCTIONS):
            raise ValueError(f"zero-size array to reduction operation {self.kind[4:]} which has no identity")
        arguments = [outputs, m, *kept_shape, *reduced_shape, out.buffer, x.buffer, x.offset,
                     *[x.strides[axis] for axis in kept_axes], *[x.strides[axis] for axis in self.axes]]
        if self.kind in ("np::var", "np::std"):
            arguments.append(self.ddof)
        if outputs:
            self.kernel[blocks_for(outputs, 1), self.threads](*arguments)
        return out
