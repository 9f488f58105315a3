"""Elementwise kernels: a fusion group (or one elementwise op, a cast, a
copy, a fill) as ONE kernel over the output's elements, a grid-stride loop
whose body computes one element. Broadcasting is index arithmetic: every
operand is read through strides over the output's shape, 0 along the axes
it is broadcast on, which the host computes per call.

    kernel(count, d0, d1, out_buffer, out_offset, out_stride0, out_stride1,
           a0_buffer, a0_offset, a0_stride0, a0_stride1, a1):
        for index in range(cuda.grid(1), count, cuda.gridsize(1)):
            i0, i1 = index unravelled over (d0, d1)
            a0_value = a0_buffer[a0_offset + i0 * a0_stride0 + i1 * a0_stride1]
            v = np.float32(math.tanh(np.float32(a0_value) * np.float32(a1)))
            out_buffer[out_offset + i0 * out_stride0 + i1 * out_stride1] = v
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ...ir.graph import Block, Node, Value
from ...ir.types import DType, TensorType
from .. import UnsupportedOpError
from .expressions import element_statements, literal, value_dtype
from .kernels import (blocks_for, cast, compile_kernel, operand_address, operand_arguments, operand_parameters,
                      threads_per_block, unravel)
from .runtime import DeviceTensor, allocate

INDENT = " " * 8


def elementwise_source(rank: int, tensor_params: Sequence[bool], body: Sequence[str], result: str,
                       output: DType) -> str:
    """Kernel source: params `a{k}` (tensor operands load into `a{k}_value`),
    `body` lines (at loop indent) ending with the element in `result`."""
    dims = [f"d{axis}" for axis in range(rank)]
    indices = [f"i{axis}" for axis in range(rank)]
    parameters = ["count", *dims, *operand_parameters("out", rank)]
    loads = []
    for position, is_tensor in enumerate(tensor_params):
        name = f"a{position}"
        if is_tensor:
            parameters += operand_parameters(name, rank)
            loads.append(f"{INDENT}{name}_value = {name}_buffer[{operand_address(name, indices)}]")
        else:
            parameters.append(name)
    lines = [f"def kernel({', '.join(parameters)}):",
             "    for index in range(cuda.grid(1), count, cuda.gridsize(1)):",
             *unravel("index", dims, indices, INDENT), *loads, *body,
             f"{INDENT}out_buffer[{operand_address('out', indices)}] = {cast(result, output)}"]
    return "\n".join(lines) + "\n"


def block_statements(block: Block, names: dict[Value, str], indent: str) -> list[str]:
    """Lines computing every value of `block` (its params already named in `names`)."""
    lines = []
    for position, node in enumerate(block.nodes):
        target = f"v{position}"
        if node.kind == "prim::Constant":
            names[node.output] = literal(node.attributes["value"])
            continue
        lines += element_statements(node, [names[v] for v in node.inputs], target, indent)
        names[node.output] = target
    return lines


class ElementwiseLaunch:
    """Host side of one elementwise kernel: output shape by broadcasting the
    tensor operands, one launch writing a new contiguous tensor (or `into`).
    Where every operand is contiguous and of the output's shape (no
    broadcast, no view), a rank-1 variant of the kernel runs instead: no
    unravelling of the index (integer division) per element."""

    def __init__(self, source_for_rank: Callable[[int], str], rank: int, tensor_params: Sequence[bool],
                 output: DType):
        self.kernel = compile_kernel(source_for_rank(rank))
        self.flat_kernel = compile_kernel(source_for_rank(1)) if rank > 1 else None
        self.rank = rank
        self.tensor_params = tuple(tensor_params)
        self.output = output.numpy

    def __call__(self, arguments: Sequence, shape: Sequence[int] | None = None,
                 into: DeviceTensor | None = None) -> DeviceTensor:
        if shape is None:
            shape = np.broadcast_shapes(*(a.shape for a, t in zip(arguments, self.tensor_params) if t))
            shape = (1,) * (self.rank - len(shape)) + tuple(shape)
        shape = tuple(shape)
        out = allocate(shape, self.output) if into is None else into
        if not out.size:
            return out
        tensors = [a for a, is_tensor in zip(arguments, self.tensor_params) if is_tensor]
        flat = self.flat_kernel is not None and out.is_contiguous and all(
            a.shape == shape and a.is_contiguous for a in tensors)
        dims = (out.size,) if flat else shape
        launch_arguments = [out.size, *dims, *operand_arguments(out, (1,) if flat else out.strides)]
        for argument, is_tensor in zip(arguments, self.tensor_params):
            if not is_tensor:
                launch_arguments.append(argument)
            else:
                launch_arguments += operand_arguments(argument, (1,) if flat else argument.broadcast_strides(shape))
        threads = threads_per_block()
        kernel = self.flat_kernel if flat else self.kernel
        kernel[blocks_for(out.size, threads), threads](*launch_arguments)
        return out


def group_launch(node: Node) -> ElementwiseLaunch:
    """The kernel of an elementwise prim::FusionGroup."""
    block = node.blocks[0]
    tensor_params = [isinstance(p.type, TensorType) for p in block.params]
    names = {p: (f"a{k}_value" if is_tensor else f"a{k}") for k, (p, is_tensor) in
             enumerate(zip(block.params, tensor_params))}
    body = block_statements(block, names, INDENT)
    output = value_dtype(node.output.type)
    return ElementwiseLaunch(lambda rank: elementwise_source(rank, tensor_params, body, names[block.returns[0]],
                                                             output), node.output.type.rank, tensor_params, output)


def node_launch(node: Node) -> ElementwiseLaunch:
    """The kernel of one elementwise op or cast outside any group."""
    tensor_params = [isinstance(v.type, TensorType) for v in node.inputs]
    names = [f"a{k}_value" if is_tensor else f"a{k}" for k, is_tensor in enumerate(tensor_params)]
    body = element_statements(node, names, "v", INDENT)
    output = value_dtype(node.output.type)
    return ElementwiseLaunch(lambda rank: elementwise_source(rank, tensor_params, body, "v", output),
                             node.output.type.rank, tensor_params, output)


_COPIES: dict[tuple, ElementwiseLaunch] = {}


def copy_into(target: DeviceTensor, source: DeviceTensor) -> DeviceTensor:
    """Write `source` (broadcast, cast to target's dtype) into the view `target`."""
    key = (len(target.shape), source.dtype, target.dtype)
    launch = _COPIES.get(key)
    if launch is None:
        output = DType.from_numpy(target.dtype)
        launch = _COPIES[key] = ElementwiseLaunch(lambda rank: elementwise_source(rank, [True], [], "a0_value", output),
                                                  len(target.shape), [True], output)
    return launch([source], target.shape, into=target)


def contiguous(tensor: DeviceTensor) -> DeviceTensor:
    """`tensor` itself when it is contiguous from its buffer's start, else a contiguous copy."""
    if tensor.is_contiguous and tensor.offset == 0:
        return tensor
    return copy_into(allocate(tensor.shape, tensor.dtype), tensor)


_FILLS: dict[tuple, ElementwiseLaunch] = {}


def fill(shape: Sequence[int], dtype: DType, start, step=0, last=None) -> DeviceTensor:
    """A new tensor holding `start + index * step` (index counts elements;
    `last`, when given, is the exact value of the last one, as linspace wants)."""
    key = (len(shape), dtype, last is not None)
    launch = _FILLS.get(key)
    if launch is None:
        value = "(a0 + index * a1)" if last is None else "(a2 if index == count - 1 else a0 + index * a1)"
        scalars = [False] * (2 + (last is not None))
        launch = _FILLS[key] = ElementwiseLaunch(lambda rank: elementwise_source(rank, scalars, [], value, dtype),
                                                 len(shape), scalars, dtype)
    return launch([start, step] + ([] if last is None else [last]), tuple(shape))


def check_rank(node: Node) -> None:
    if not isinstance(node.output.type, TensorType) or node.output.type.rank is None:
        raise UnsupportedOpError(node.kind, f"result type {node.output.type} has no known rank")


__all__ = ["ElementwiseLaunch", "group_launch", "node_launch", "copy_into", "contiguous", "fill", "check_rank"]
