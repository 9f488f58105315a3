"""Declaring the functions of the scripting corpus (tests/frontend/corpus/):
each is a plain NumPy function registered with how to build its inputs at
a given size and dtype, so one runner can script, trace and compare them
all against their own eager runs."""
from __future__ import annotations

import dataclasses
import zlib
from typing import Any, Callable

import numpy as np

from .compare import RTOL

FLOAT_DTYPES = (np.float32, np.float64)


class Inputs:
    """Random inputs of one dtype, reproducible from the case, size and dtype."""

    def __init__(self, seed_text: str, dtype):
        self.rng = np.random.default_rng(zlib.crc32(seed_text.encode()))
        self.dtype = np.dtype(dtype)

    def normal(self, *shape: int) -> np.ndarray:
        return self.rng.standard_normal(shape).astype(self.dtype)

    def uniform(self, low: float, high: float, *shape: int) -> np.ndarray:
        return self.rng.uniform(low, high, shape).astype(self.dtype)

    def positive(self, *shape: int) -> np.ndarray:
        """Values in [0.5, 2.5): safe for log, sqrt, reciprocal and division."""
        return self.uniform(0.5, 2.5, *shape)

    def ints(self, low: int, high: int, *shape: int) -> np.ndarray:
        return self.rng.integers(low, high, shape, dtype=np.int64)

    def bools(self, *shape: int) -> np.ndarray:
        return self.rng.random(shape) < 0.5

    def scalar(self, low: float = -1.0, high: float = 1.0) -> float:
        return float(self.rng.uniform(low, high))


@dataclasses.dataclass(frozen=True)
class Case:
    """One corpus function and the declaration of its inputs.

    `inputs(g, n)` builds the argument tuple at size `n` from an `Inputs`
    `g`. `data_dependent`: the function decides control flow on array data,
    so tracing must warn (strict=False) or fail (strict=True).
    `fixes_sizes`: a trace unrolls a loop over a dimension, so a traced
    function refuses other sizes. `rtol_scale` widens the dtype's default
    tolerance for long chains of rounding (matmuls, loops)."""
    function: Callable
    inputs: Callable[[Inputs, int], tuple]
    sizes: tuple[int, ...]
    data_dependent: bool
    fixes_sizes: bool
    rtol_scale: float

    @property
    def name(self) -> str:
        return f"{self.function.__module__.rsplit('.', 1)[-1]}.{self.function.__name__}"

    def arguments(self, n: int, dtype) -> tuple:
        return tuple(self.inputs(Inputs(f"{self.name}/{n}/{np.dtype(dtype)}", dtype), n))

    def rtol(self, dtype) -> float:
        return RTOL[np.dtype(dtype)] * self.rtol_scale


class Registry(list):
    """The cases of one corpus module, in source order."""

    def case(self, inputs: Callable[[Inputs, int], Any], *, sizes=(1, 3, 6), data_dependent=False,
             fixes_sizes=False, rtol_scale=1.0):
        def register(function):
            self.append(Case(function, inputs, tuple(sizes), data_dependent, fixes_sizes, rtol_scale))
            return function
        return register
