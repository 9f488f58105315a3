"""Sizes in traces: shapes the program only computes with stay symbolic,
so a trace made at one size runs at others; shapes that reach Python
(a loop count, a condition, an axis) fix those dims, and a call with
another size is a ValueError naming the line, never a wrong result."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import jitc
from support.backend_checks import check

BACKENDS = ["llvm", "interpreter"]
DTYPES = [np.float32, np.float64]
SHAPES = [(3, 4, 2), (5, 2, 7), (1, 6, 3), (4, 1, 1)]


def flatten_rows(x):
    return x.reshape(x.shape[0], -1)


def normalise_by_width(x):
    return x / x.shape[-1] + x.sum(axis=-1, keepdims=True) / math.sqrt(x.shape[-1])


def positions(x):
    return x + np.arange(x.shape[0]).reshape(-1, 1, 1) * 0.5


def created_from_shapes(x):
    zeros = np.zeros(x.shape, dtype=x.dtype)
    ones = np.ones((x.shape[0], x.shape[2]), x.dtype)
    return zeros + x * 2, ones * x.shape[1], np.full(x.shape[1:], x.shape[0], dtype=x.dtype)


def sliced_by_shapes(x):
    half = x.shape[1] // 2
    return x[:, :half], x[:, half:], x[: x.shape[0] - 1], x[::-1][x.shape[0] // 2]


def sizes_as_values(x):
    return x.size * x, len(x.shape), np.sum(x) / x.size


SYMBOLIC = [flatten_rows, normalise_by_width, positions, created_from_shapes, sliced_by_shapes,
            sizes_as_values]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("function", SYMBOLIC, ids=lambda f: f.__name__)
def test_shapes_used_in_arithmetic_stay_symbolic(function, dtype, backend):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(shape).astype(dtype) for shape in SHAPES]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        traced = jitc.trace(function, arrays[0], backend=backend)
    assert all(dim == "*" for dim in traced.graph.params[0].type.shape), traced.graph.params[0].type
    for x in arrays:
        check(traced, function, (x,))


def unrolled_rows(x):
    total = x[0]
    for i in range(1, x.shape[0]):
        total = total + x[i] * i
    return total


def branch_on_size(x):
    if x.shape[1] > 3:
        return x[:, :3]
    return x


def axis_from_size(x):
    return x.sum(axis=x.shape[0] % 2)


def loop_over_a_reshaped_size(x):
    flat = x.reshape(-1)
    total = flat[0] * 0
    for i in range(0, flat.shape[0], 2):
        total = total + flat[i]
    return total


FIXED = [(unrolled_rows, {0}, "for i in range(1, x.shape[0]):"),
         (branch_on_size, {1}, "if x.shape[1] > 3:"),
         (axis_from_size, {0}, "return x.sum(axis=x.shape[0] % 2)"),
         (loop_over_a_reshaped_size, {0, 1}, "for i in range(0, flat.shape[0], 2):")]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("function, axes, line", FIXED, ids=lambda f: getattr(f, "__name__", ""))
def test_shapes_that_reach_python_fix_their_dims(function, axes, line, backend):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        traced = jitc.trace(function, x, backend=backend)
    assert {axis for axis, dim in enumerate(traced.graph.params[0].type.shape) if dim != "*"} == axes
    check(traced, function, (rng.standard_normal((3, 4)),))
    for shape in [(5, 4), (3, 6)]:
        other = rng.standard_normal(shape)
        changed = next(axis for axis in range(2) if shape[axis] != x.shape[axis])
        if changed in axes:
            with pytest.raises(ValueError) as raised:
                traced(other)
            message = str(raised.value)
            assert message.startswith(f"{function.__name__}(): argument 'x' has size {shape[changed]} "
                                      f"in dim {changed}, but the trace fixed that dim to {x.shape[changed]}")
            assert f"of {__file__} (`{line}`)" in message
        else:
            check(traced, function, (other,))


def test_a_size_one_example_fixes_that_dim_to_one():
    traced = jitc.trace(lambda x, y: x + y, (np.ones((1, 3)), np.ones((4, 3))), backend="interpreter")
    with pytest.raises(ValueError, match=r"argument 'x' has another size in dim 0; the trace was recorded "
                                         r"with size 1 there, which NumPy broadcasts"):
        traced(np.ones((4, 3)), np.ones((4, 3)))
    check(traced, lambda x, y: x + y, (np.ones((1, 5)), np.arange(10.0).reshape(2, 5)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_trace_made_at_one_length_runs_at_others(backend):
    def attention(x, w):
        n = x.shape[0]
        scores = (x @ w) @ x.T / math.sqrt(x.shape[1])
        mask = np.triu(np.ones((n, n)), k=1) * -1e9
        weights = np.exp(scores + mask - (scores + mask).max(axis=-1, keepdims=True))
        return (weights / weights.sum(axis=-1, keepdims=True)) @ x
    rng = np.random.default_rng(2)
    w = rng.standard_normal((8, 8))
    traced = jitc.trace(attention, (rng.standard_normal((6, 8)), w), backend=backend)
    for length in (6, 1, 11):
        check(traced, attention, (rng.standard_normal((length, 8)), w))
