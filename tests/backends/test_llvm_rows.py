"""Row groups (fuse_rows + backends/llvm/rows.py): last-axis reductions fused
with the elementwise ops around them, compared with NumPy eager and the
interpreter, including the inputs that must leave the row path."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jitc
from jitc.ir.interpreter import run_graph
from support.compare import assert_same
from support.row_models import layer_norm, logsumexp, softmax


def check(function, *args, rtol=None):
    compiled = jitc.script(function)
    with warnings.catch_warnings():
        warnings.simplefilter("error", jitc.CompileWarning)
        actual = compiled(*args)
    expected = function(*args)
    assert_same(actual, expected, rtol=rtol)
    assert_same(compiled.pack(run_graph(compiled.graph_for(*args), *args)), expected, rtol=rtol)
    return compiled


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_each_pattern_is_one_row_group(dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 33)).astype(dtype)
    gamma, beta = rng.random(33).astype(dtype), rng.random(33).astype(dtype)
    for function, args in ((softmax, (x,)), (layer_norm, (x, gamma, beta)), (logsumexp, (x,))):
        compiled = check(function, *args, rtol=2e-5 if dtype == np.float32 else 1e-12)
        graph = str(compiled.graph_for(*args))
        assert graph.count("prim::FusionGroup") == 1 and "keepdims=True" in graph


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(0, 5), length=st.integers(1, 40), leading=st.integers(1, 3),
       layout=st.sampled_from(["contiguous", "transposed", "reversed"]),
       scale=st.sampled_from([1e-3, 1.0, 50.0]))
def test_layouts_sizes_and_values(rows, length, leading, layout, scale):
    rng = np.random.default_rng(rows * 1000 + length)
    x = rng.standard_normal((leading, rows, length)) * scale
    if layout == "transposed":
        x = np.ascontiguousarray(np.swapaxes(x, 1, 2)).swapaxes(1, 2)
    elif layout == "reversed":
        x = x[:, ::-1, ::-1]
    check(softmax, x)
    check(logsumexp, x)


def test_an_input_broadcast_along_the_row_is_reduced_over_its_own_length():
    # x has one column at run time: its mean is itself, not the mean of gamma's length copies
    rng = np.random.default_rng(1)
    x, gamma, beta = rng.standard_normal((4, 1)), rng.random(7), rng.random(7)
    compiled = check(layer_norm, rng.standard_normal((4, 7)), gamma, beta)
    assert_same(compiled(x, gamma, beta), layer_norm(x, gamma, beta))

    def scaled_sum(x, w):
        return np.sum(x * w, axis=-1, keepdims=True) + x

    check(scaled_sum, rng.standard_normal((3, 5)), rng.standard_normal(5))
    check(scaled_sum, rng.standard_normal((3, 5)), rng.standard_normal((3, 1)))

    def centred_by_other(x, y):  # the result has x's single column, though y's rows are longer
        return x - np.mean(y, axis=-1, keepdims=True) + np.sum(x * 2.0, axis=-1, keepdims=True)

    check(centred_by_other, rng.standard_normal((4, 6)), rng.standard_normal((4, 6)))
    check(centred_by_other, rng.standard_normal((4, 1)), rng.standard_normal((4, 6)))
    check(centred_by_other, rng.standard_normal((4, 6)), rng.standard_normal((4, 1)))


def test_nan_and_inf_propagate_like_numpy():
    x = np.array([[1.0, np.nan, 2.0], [np.inf, 1.0, 0.0], [-np.inf, -np.inf, 1.0]])
    with np.errstate(all="ignore"):
        check(softmax, x)
        check(logsumexp, x)


def test_max_over_empty_rows_raises_like_numpy():
    compiled = jitc.script(softmax)
    x = np.zeros((3, 0))
    with pytest.raises(ValueError, match="zero-size array to reduction operation maximum"):
        softmax(x)
    with pytest.raises(ValueError, match="zero-size array to reduction operation maximum"):
        compiled(x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_division_by_one_value_per_row_matches_numpy_at_the_edges(dtype):
    # rows.py multiplies by a reciprocal (rescaled where it would overflow or be subnormal)
    info = np.finfo(dtype)
    divisors = np.array([3.0, -7.5, 0.0, -0.0, np.inf, -np.inf, np.nan, info.tiny / 8, info.tiny * 3,
                         info.max / 3, 2 / info.tiny, 1e-3], dtype=dtype)
    x = np.array([1.0, -2.5, 0.0, np.inf, info.tiny * 5, info.max / 2, info.smallest_subnormal, 123.0],
                 dtype=dtype)
    x = np.broadcast_to(x, (len(divisors), len(x))).copy()

    def scaled(x, d):
        return x / np.max(d, axis=-1, keepdims=True)

    with np.errstate(all="ignore"):
        check(scaled, x, divisors[:, None].copy(), rtol=4 * np.finfo(dtype).eps)


def test_float32_sums_of_long_rows_are_as_accurate_as_numpy():
    # float32 partial sums per block of 512, blocks added in float64: no drift along long rows
    # (one float32 accumulator per lane would be off by ~1e-3 here)
    rng = np.random.default_rng(3)
    x = (rng.random((3, 1 << 17)) + 1000.0).astype(np.float32)

    def mean(x):
        return np.mean(x, axis=-1, keepdims=True) + 0.0

    exact = x.astype(np.float64).mean(axis=-1, keepdims=True)
    tolerance = 1.5 * np.spacing(np.float32(1000.0))
    assert np.all(np.abs(mean(x) - exact) <= tolerance)  # NumPy's pairwise sum
    assert np.all(np.abs(jitc.script(mean)(x) - exact) <= tolerance)
