"""Compiling generated kernel source with numba.cuda, and what every
generated kernel shares: launch sizes, dtype spellings, strided operands.

Kernels are Python source text (one function named `kernel`), compiled once
per distinct text: the same fusion group at another size, or in another
function, reuses the compiled kernel.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ...ir.types import DType
from .runtime import DeviceTensor, cuda_module, simulated

_COMPILED: dict[str, object] = {}


def compile_kernel(source: str):
    """The `kernel` function of `source`, compiled with cuda.jit (cached by text)."""
    kernel = _COMPILED.get(source)
    if kernel is None:
        cuda = cuda_module()
        namespace = {"cuda": cuda, "math": math, "np": np}
        exec(compile(source, "<jitc cuda kernel>", "exec"), namespace)
        kernel = _COMPILED[source] = cuda.jit(namespace["kernel"])
    return kernel


def compiled_kernel_count() -> int:
    return len(_COMPILED)


def threads_per_block() -> int:
    """Threads of a 1-d block: a power of two, small in the simulator (a thread is a Python thread there)."""
    return 4 if simulated() else 256


def blocks_for(count: int, threads: int) -> int:
    """Blocks for a grid-stride loop over `count` items (at least one)."""
    return max(1, min(-(-count // threads), 65535 * 32))


def numpy_name(dtype: DType | np.dtype) -> str:
    """How generated source spells a dtype (as a NumPy scalar type)."""
    name = dtype.value if isinstance(dtype, DType) else np.dtype(dtype).name
    return "np.bool_" if name == "bool" else f"np.{name}"


def math_dtype(dtype: DType) -> DType:
    """The dtype kernels compute in: float16 is storage only, its math is float32 (as NumPy's float16 loops)."""
    return DType.FLOAT32 if dtype == DType.FLOAT16 else dtype


def cast(expression: str, dtype: DType) -> str:
    """`expression` converted to `dtype` in generated source."""
    return f"bool({expression})" if dtype == DType.BOOL else f"{numpy_name(dtype)}({expression})"


def operand_parameters(name: str, rank: int) -> list[str]:
    """Kernel parameters of a strided operand: buffer, offset, one stride per axis."""
    return [f"{name}_buffer", f"{name}_offset"] + [f"{name}_stride{axis}" for axis in range(rank)]


def operand_address(name: str, indices: Sequence[str]) -> str:
    terms = [f"{name}_offset"] + [f"{index} * {name}_stride{axis}" for axis, index in enumerate(indices)]
    return " + ".join(terms)


def operand_arguments(tensor: DeviceTensor, strides: Sequence[int]) -> list:
    return [tensor.buffer, tensor.offset, *strides]


def unravel(index: str, dims: Sequence[str], names: Sequence[str], indent: str) -> list[str]:
    """Lines splitting flat `index` into one index per dim (row-major), named `names`."""
    if not dims:
        return []
    lines = [f"{indent}rest = {index}"]
    for dim, name in reversed(list(zip(dims[1:], names[1:]))):
        lines.append(f"{indent}{name} = rest % {dim}")
        lines.append(f"{indent}rest = rest // {dim}")
    lines.append(f"{indent}{names[0]} = rest")
    return lines
