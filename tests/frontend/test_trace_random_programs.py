"""Property: a random NumPy expression program (a small DAG of elementwise
ufuncs with broadcasting, reductions, slicing with steps, transposes,
reshapes and matmuls) traced on random inputs computes what it computes
eagerly, at the traced sizes and at other sizes (where eager NumPy
refuses the other sizes, the trace refuses them too).

Operations are chosen so that values stay finite: exp of clipped values,
log and sqrt of abs() + 1, products with a tanh factor."""
from __future__ import annotations

import dataclasses
import operator
from typing import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jitc
from support.compare import assert_same

UNARY: dict[str, Callable] = {
    "negative": np.negative, "tanh": np.tanh, "abs": np.abs, "sin": np.sin,
    "exp": lambda v: np.exp(np.clip(v, -3, 3)), "log": lambda v: np.log(np.abs(v) + 1),
    "sqrt": lambda v: np.sqrt(np.abs(v) + 1), "affine": lambda v: v * 0.5 - 1,
}
BINARY: dict[str, Callable] = {
    "add": operator.add, "subtract": operator.sub, "multiply": lambda a, b: a * np.tanh(b),
    "divide": lambda a, b: a / (np.abs(b) + 1), "maximum": np.maximum, "minimum": np.minimum,
    "where": lambda a, b: np.where(a > b, a, b - 1), "reflected": lambda a, b: 2.0 - a * 0.5 + b,
}
REDUCTIONS: dict[str, Callable] = {
    "sum": lambda v, axis, keepdims: v.sum(axis=axis, keepdims=keepdims),
    "mean": lambda v, axis, keepdims: np.mean(v, axis=axis, keepdims=keepdims),
    "max": lambda v, axis, keepdims: np.max(v, axis=axis, keepdims=keepdims),
    "min": lambda v, axis, keepdims: v.min(axis=axis, keepdims=keepdims),
}
SLICES = [np.s_[::2], np.s_[1:], np.s_[::-1], np.s_[..., ::2], np.s_[..., 1:], np.s_[:, ::-2], np.s_[..., None]]
RESHAPES: dict[str, Callable] = {
    "transpose": lambda v: v.T, "flatten": lambda v: v.reshape(-1),
    "swap_dims": lambda v: v.reshape(v.shape[-1], -1), "row": lambda v: v.reshape(1, -1),
}
INPUT_SHAPES = [("m", "n"), ("n",), (1, "n"), ("m", 1), ("m",)]


@dataclasses.dataclass(frozen=True)
class Step:
    kind: str
    name: str
    operands: tuple[int, ...]
    option: object = None

    def apply(self, values):
        args = [values[i] for i in self.operands]
        if self.kind == "unary":
            return UNARY[self.name](*args)
        if self.kind == "binary":
            return BINARY[self.name](*args)
        if self.kind == "reduce":
            return REDUCTIONS[self.name](*args, *self.option)
        if self.kind == "slice":
            return args[0][SLICES[self.option]]
        if self.kind == "reshape":
            return RESHAPES[self.name](*args)
        return args[0] @ args[1]


@dataclasses.dataclass(frozen=True)
class Program:
    shapes: tuple[tuple, ...]
    steps: tuple[Step, ...]
    outputs: tuple[int, ...]  # every value a step computes, so that no step goes unchecked

    def __call__(self, *inputs):
        values = list(inputs)
        for step in self.steps:
            values.append(step.apply(values))
        return tuple(values[i] for i in self.outputs)

    def inputs(self, rng, sizes: dict, dtype) -> tuple:
        return tuple(rng.standard_normal([sizes.get(d, d) for d in shape]).astype(dtype) for shape in self.shapes)

    def __repr__(self) -> str:
        lines = [f"v{i} = input{shape}" for i, shape in enumerate(self.shapes)]
        lines += [f"v{len(self.shapes) + i} = {s.kind}:{s.name}{s.option if s.option is not None else ''}"
                  f"({', '.join(f'v{o}' for o in s.operands)})" for i, s in enumerate(self.steps)]
        return "\n".join(lines + [f"return {', '.join(f'v{o}' for o in self.outputs)}"])


def _candidate(draw, count: int) -> Step:
    kind = draw(st.sampled_from(["unary", "binary", "binary", "reduce", "slice", "reshape", "matmul", "matmul"]))
    # Operands favour recent values (deeper programs); a binary op's two differ when they can.
    operand = st.integers(0, count - 1).map(lambda back: count - 1 - back)
    first = draw(operand)
    other = st.integers(1, max(count - 1, 1)).map(lambda step: (first + step) % count)
    if kind == "unary":
        return Step(kind, draw(st.sampled_from(sorted(UNARY))), (first,))
    if kind == "binary":
        return Step(kind, draw(st.sampled_from(sorted(BINARY))), (first, draw(other)))
    if kind == "reduce":
        option = (draw(st.sampled_from([None, 0, -1])), draw(st.booleans()))
        return Step(kind, draw(st.sampled_from(sorted(REDUCTIONS))), (first,), option)
    if kind == "slice":
        return Step(kind, "", (first,), draw(st.integers(0, len(SLICES) - 1)))
    if kind == "reshape":
        return Step(kind, draw(st.sampled_from(sorted(RESHAPES))), (first,))
    return Step(kind, "matmul", (first, draw(st.sampled_from([first, draw(other)]))))


def _valid(values: list, step: Step) -> bool:
    """The step runs on these probe values and gives a non-empty array of rank <= 3."""
    if step.kind == "reduce" and step.option[0] is not None and np.ndim(values[step.operands[0]]) == 0:
        return False  # NumPy lets axis=0 and -1 through on 0-d arrays; jitc's op table does not
    try:
        with np.errstate(all="raise"):
            result = step.apply(values)
    except (ValueError, IndexError, TypeError, FloatingPointError):
        return False
    return np.ndim(result) <= 3 and np.size(result) > 0


@st.composite
def programs(draw):
    shapes = tuple(draw(st.lists(st.sampled_from(INPUT_SHAPES), min_size=1, max_size=3)))
    probes = Program(shapes, (), ()).inputs(np.random.default_rng(0), {"m": 3, "n": 4}, np.float64)
    values, steps = list(probes), []
    for _ in range(draw(st.integers(2, 8))):
        for _attempt in range(10):
            step = _candidate(draw, len(values))
            if _valid(values, step):
                steps.append(step)
                values.append(step.apply(values))
                break
    return Program(shapes, tuple(steps), tuple(range(len(shapes), len(values))) or (0,))


def _tolerance(dtype) -> float:
    return 1e-4 if dtype == np.float32 else 1e-10


def check_program(program: Program, dtype, seed: int, sizes: list[dict], backend: str) -> None:
    rng = np.random.default_rng(seed)
    traced = jitc.trace(program, program.inputs(rng, sizes[0], dtype), backend=backend)
    for size in sizes:
        args = program.inputs(rng, size, dtype)
        try:
            with np.errstate(all="ignore"):
                expected = program(*args)
        except (ValueError, IndexError):
            with pytest.raises((ValueError, IndexError, TypeError)):
                traced(*args)
            continue
        assert_same(traced(*args), expected, rtol=_tolerance(dtype), atol=_tolerance(dtype))


@given(programs(), st.sampled_from([np.float32, np.float64]), st.integers(0, 2**32 - 1))
def test_random_programs_trace_like_eager_on_the_interpreter(program, dtype, seed):
    check_program(program, dtype, seed, [{"m": 3, "n": 4}, {"m": 5, "n": 2}, {"m": 2, "n": 7}], "interpreter")


@settings(max_examples=max(5, settings.default.max_examples // 6))
@given(programs(), st.sampled_from([np.float32, np.float64]), st.integers(0, 2**32 - 1))
def test_random_programs_trace_like_eager_on_llvm(program, dtype, seed):
    check_program(program, dtype, seed, [{"m": 3, "n": 4}, {"m": 6, "n": 5}], "llvm")
