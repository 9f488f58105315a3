"""Row kernels: a row fusion group (fuse_rows: softmax, layer norm,
logsumexp) as ONE kernel with one block per row. Each last-axis reduction
is a pass over the row, threads striding over its elements, then a tree
reduction in shared memory; values that vary along the row are recomputed
from the inputs in each pass (they are cheap next to a read of the row),
values with one number per row live in registers:

    softmax:  pass 1  m = max(x)           (tree reduction)
              pass 2  s = sum(exp(x - m))  (tree reduction)
              pass 3  out = exp(x - m) / s
"""
from __future__ import annotations

import math

import numpy as np

from ...ir.graph import Node, Value
from ...ir.passes.fuse_rows import is_row_reduction
from ...ir.types import DType, TensorType
from .. import UnsupportedOpError
from .expressions import FORMATS, element_statements, literal, value_dtype
from .kernels import blocks_for, cast, compile_kernel, math_dtype, numpy_name, operand_arguments, operand_parameters, \
    threads_per_block, unravel
from .runtime import DeviceTensor, allocate

COMBINE = {"np::sum": FORMATS["np::add"], "np::mean": FORMATS["np::add"], "np::max": FORMATS["np::maximum"],
           "np::min": FORMATS["np::minimum"], "np::prod": FORMATS["np::multiply"],
           "np::any": "({0} or {1})", "np::all": "({0} and {1})"}


def initial(kind: str, dtype: DType) -> str:
    """The identity of a reduction, as source text."""
    if kind in ("np::max", "np::min"):
        sign = "-" if kind == "np::max" else ""
        if dtype.is_float:
            return f"{sign}math.inf"
        info = np.iinfo(dtype.numpy) if dtype != DType.BOOL else None
        return literal(bool(kind == "np::min")) if info is None else str(info.min if sign else info.max)
    return {"np::prod": "1", "np::all": "True", "np::any": "False"}.get(kind, "0")


def tree_reduction(shared: str, accumulator: str, combine: str, result: str, threads: int, indent: str) -> list[str]:
    """Lines combining every thread's `accumulator` into `result` (in all threads) through `shared`."""
    return [f"{indent}{shared}[tid] = {accumulator}",
            f"{indent}cuda.syncthreads()",
            f"{indent}step = {threads // 2}",
            f"{indent}while step > 0:",
            f"{indent}    if tid < step:",
            f"{indent}        {shared}[tid] = {combine.format(f'{shared}[tid]', f'{shared}[tid + step]')}",
            f"{indent}    cuda.syncthreads()",
            f"{indent}    step //= 2",
            f"{indent}{result} = {shared}[0]",
            f"{indent}cuda.syncthreads()"]


class _RowSource:
    """Writes the kernel of one row group."""

    def __init__(self, node: Node, threads: int):
        self.block = node.blocks[0]
        self.rank = node.output.type.rank
        self.threads = threads
        self.names: dict[Value, str] = {}     # values with one number per row (and constants)
        self.row_wide: set[Value] = set()     # values that vary along the row
        self.params: dict[Value, int] = {}
        self.shared: list[str] = []
        self.lines: list[str] = []
        self.loops = 0

    def varies_along_row(self, type) -> bool:
        return isinstance(type, TensorType) and bool(type.rank) and type.shape[-1] != 1

    def write(self) -> str:
        body = "        "
        leading = [f"i{axis}" for axis in range(self.rank - 1)]
        for position, param in enumerate(self.block.params):
            self.params[param] = position
            if not isinstance(param.type, TensorType):
                self.names[param] = f"a{position}"
                continue
            address = " + ".join([f"a{position}_offset"] + [f"{index} * a{position}_stride{axis}"
                                                             for axis, index in enumerate(leading)])
            self.lines.append(f"{body}a{position}_base = {address}")
            if self.varies_along_row(param.type):
                self.row_wide.add(param)
            else:
                self.lines.append(f"{body}a{position}_row = a{position}_buffer[a{position}_base]")
                self.names[param] = f"a{position}_row"
        for position, node in enumerate(self.block.nodes):
            self.emit(node, f"r{position}", body)
        result = self.block.returns[0]
        out_base = " + ".join(["out_offset"] + [f"{index} * out_stride{axis}" for axis, index in enumerate(leading)])
        self.lines.append(f"{body}out_base = {out_base}")
        output = value_dtype(result.type)
        if result in self.row_wide:
            loop_lines = self.loop_header(body)
            value = self.compute(result, {}, loop_lines, body + "    ")
            loop_lines.append(f"{body}    out_buffer[out_base + j * out_stride{self.rank - 1}] = {cast(value, output)}")
            self.lines += loop_lines
        else:
            self.lines += [f"{body}if tid == 0:",
                           f"{body}    out_buffer[out_base] = {cast(self.names[result], output)}"]
        parameters = ["rows", "n", *[f"d{axis}" for axis in range(self.rank - 1)],
                      *operand_parameters("out", self.rank)]
        for param, position in self.params.items():
            parameters += (operand_parameters(f"a{position}", self.rank) if isinstance(param.type, TensorType)
                           else [f"a{position}"])
        header = [f"def kernel({', '.join(parameters)}):", "    tid = cuda.threadIdx.x", *self.shared,
                  "    for row in range(cuda.blockIdx.x, rows, cuda.gridDim.x):",
                  *unravel("row", [f"d{axis}" for axis in range(self.rank - 1)], leading, body)]
        return "\n".join(header + self.lines) + "\n"

    def loop_header(self, indent: str) -> list[str]:
        self.loops += 1
        return [f"{indent}for j in range(tid, n, {self.threads}):"]

    def emit(self, node: Node, target: str, indent: str) -> None:
        if node.kind == "prim::Constant":
            self.names[node.output] = literal(node.attributes["value"])
        elif is_row_reduction(node):
            self.reduce(node, target, indent)
        elif any(value in self.row_wide for value in node.inputs):
            self.row_wide.add(node.output)
        else:
            self.lines += element_statements(node, [self.names[v] for v in node.inputs], target, indent)
            self.names[node.output] = target

    def reduce(self, node: Node, target: str, indent: str) -> None:
        source = node.inputs[0]
        output = value_dtype(node.output.type)
        dtype = math_dtype(output)
        if source not in self.row_wide:  # a reduction over an axis of size 1
            self.lines.append(f"{indent}{target} = {cast(self.names[source], dtype)}")
            self.names[node.output] = target
            return
        shared = f"shared{len(self.shared)}"
        self.shared.append(f"    {shared} = cuda.shared.array({self.threads}, {numpy_name(dtype)})")
        combine = COMBINE[node.kind]
        self.lines.append(f"{indent}{target}_acc = {cast(initial(node.kind, dtype), dtype)}")
        loop_lines = self.loop_header(indent)
        value = self.compute(source, {}, loop_lines, indent + "    ")
        combined = combine.format(f"{target}_acc", cast(value, dtype))
        loop_lines.append(f"{indent}    {target}_acc = {cast(combined, dtype)}")
        self.lines += loop_lines
        self.lines += tree_reduction(shared, f"{target}_acc", combine, target, self.threads, indent)
        if node.kind == "np::mean":
            self.lines.append(f"{indent}{target} = {cast(f'{target} / n', dtype)}")
        if output != dtype:
            self.lines.append(f"{indent}{target} = {cast(target, output)}")
        self.names[node.output] = target

    def compute(self, value: Value, local: dict, lines: list[str], indent: str) -> str:
        """The name of `value` at element j of the row, adding lines to compute it in this loop."""
        if value in self.names:
            return self.names[value]
        if value in local:
            return local[value]
        if value in self.params:
            position = self.params[value]
            name = f"a{position}_j{self.loops}"
            address = f"a{position}_base + j * a{position}_stride{self.rank - 1}"
            lines.append(f"{indent}{name} = a{position}_buffer[{address}]")
        else:
            node = value.producer
            arguments = [self.compute(v, local, lines, indent) for v in node.inputs]
            name = f"w{self.loops}_{len(local)}"
            lines += element_statements(node, arguments, name, indent)
        local[value] = name
        return name


class RowLaunch:
    """Host side of a row kernel: rows from the broadcast shape of its inputs."""

    def __init__(self, node: Node):
        if node.output.type.rank is None or not node.output.type.rank:
            raise UnsupportedOpError("prim::FusionGroup", "a row group needs a result of known rank >= 1")
        self.threads = threads_per_block()
        self.kernel = compile_kernel(_RowSource(node, self.threads).write())
        self.rank = node.output.type.rank
        self.tensor_params = tuple(isinstance(p.type, TensorType) for p in node.blocks[0].params)
        self.per_row_output = node.output.type.shape[-1] == 1
        self.output = value_dtype(node.output.type).numpy

    def __call__(self, arguments) -> DeviceTensor:
        shape = np.broadcast_shapes(*(a.shape for a, t in zip(arguments, self.tensor_params) if t))
        shape = (1,) * (self.rank - len(shape)) + tuple(shape)
        out = allocate(shape[:-1] + (1,) if self.per_row_output else shape, self.output)
        rows = math.prod(shape[:-1])
        launch_arguments = [rows, shape[-1], *shape[:-1], *operand_arguments(out, out.strides)]
        for argument, is_tensor in zip(arguments, self.tensor_params):
            launch_arguments += (operand_arguments(argument, argument.broadcast_strides(shape)) if is_tensor
                                 else [argument])
        if rows and shape[-1]:
            self.kernel[blocks_for(rows, 1), self.threads](*launch_arguments)
        return out
