"""jitc.trace: recording NumPy programs on proxies, the soundness rules
for values that leave the graph, and errors for what cannot be recorded."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import jitc
from jitc.ir.interpreter import run_graph
from jitc.ir.verifier import verify
from support.compare import assert_same

BACKENDS = ["interpreter", "llvm"]


def mlp(x, w1, b1, w2, b2, w3, b3):
    h = np.maximum(x @ w1 + b1, 0)
    h = np.tanh(h @ w2 + b2)
    return h @ w3 + b3


def mlp_inputs(rng, batch, dtype):
    shapes = [(batch, 8), (8, 16), (16,), (16, 16), (16,), (16, 3), (3,)]
    return tuple(rng.standard_normal(s).astype(dtype) for s in shapes)


def check_trace(function, args, backend, *, rtol=None, **trace_options):
    """Trace on `args`, then compare compiled and interpreted runs with eager."""
    traced = jitc.trace(function, args, backend=backend, **trace_options)
    verify(traced.graph)
    expected = function(*args)
    assert_same(traced(*args), expected, rtol=rtol)
    interpreted = run_graph(traced.graph_for(*args), *args)
    assert_same(traced.pack(interpreted), expected, rtol=rtol)
    return traced


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mlp_matches_numpy_at_several_batch_sizes(backend, dtype):
    rng = np.random.default_rng(0)
    traced = check_trace(mlp, mlp_inputs(rng, 4, dtype), backend)
    for batch in (1, 7):
        args = mlp_inputs(rng, batch, dtype)
        assert_same(traced(*args), mlp(*args))


def test_graph_prints_torchscript_like_text_that_parses_back():
    from jitc.ir.parser import parse_graph
    traced = jitc.trace(mlp, mlp_inputs(np.random.default_rng(1), 4, np.float32), backend="interpreter")
    text = str(traced.graph)
    assert text.startswith("graph(%x : Float(*, *), %w1 : Float(*, *), %b1 : Float(*)")
    assert "np::matmul(%x, %w1)" in text and "np::tanh(" in text
    assert str(parse_graph(text)) == text
    assert "def mlp(x: Float(*, *)" in traced.code and "np.tanh(" in traced.code


@pytest.mark.parametrize("backend", BACKENDS)
def test_operators_methods_properties_and_indexing(backend):
    def program(x, y):
        a = (x * 2.0 - y / 3.0) ** 2 + abs(-x)
        b = a.sum(axis=1, keepdims=True) / a.shape[1]
        c = np.where(x > y, x, y).T[1:, ::2]
        return b, c.mean(axis=0), x[..., None][0], (x >= 0.5).any(), -y[-1]
    rng = np.random.default_rng(2)
    check_trace(program, (rng.random((3, 4)), rng.random((3, 4))), backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_python_scalar_parameters_stay_in_the_graph(backend):
    def scale(x, alpha):
        return x * alpha + 1
    rng = np.random.default_rng(3)
    traced = check_trace(scale, (rng.random(5).astype(np.float32), 2.5), backend)
    assert_same(traced(np.ones(5, np.float32), -1.0), scale(np.ones(5, np.float32), -1.0))


def test_shape_dependent_python_values_fix_those_dims():
    def unrolled(x):
        total = x[0]
        for i in range(1, x.shape[0]):
            total = total + x[i]
        return total
    traced = jitc.trace(unrolled, np.ones((3, 4)), backend="interpreter")
    rng = np.random.default_rng(4)
    other_width = rng.random((3, 6))
    assert_same(traced(other_width), unrolled(other_width))
    with pytest.raises(TypeError, match=r"argument 'x' must be a float64 array of shape \(3, \*\)"):
        traced(rng.random((5, 4)))


def test_data_dependent_branch_is_an_error_under_strict():
    def branchy(x):
        if x.sum() > 0:
            return x
        return -x
    with pytest.raises(jitc.TraceError, match=r"converting a traced value to a Python bool at .*test_trace.py:\d+"):
        jitc.trace(branchy, np.ones(3))


def test_data_dependent_values_warn_when_not_strict():
    def branchy(x):
        if x.sum() > 0:
            return x * 2
        return -x
    with pytest.warns(jitc.TracerWarning, match="records it as a constant"):
        traced = jitc.trace(branchy, np.ones(3), strict=False, backend="interpreter")
    assert_same(traced(np.ones(3)), np.ones(3) * 2)


def test_int_of_data_warns_even_under_strict():
    def count(x):
        return np.zeros(int(x.sum()))
    with pytest.warns(jitc.TracerWarning, match="Python int"):
        jitc.trace(count, np.ones(3), backend="interpreter")


def test_unsupported_numpy_function_names_function_and_line():
    def uses_fft(x):
        return np.fft.fft(x)
    with pytest.raises(jitc.TraceError, match=r"np\.fft.* is not supported by jitc's tracer \(at .*test_trace.py:\d+\)"):
        jitc.trace(uses_fft, np.ones(4))


def test_converting_a_proxy_to_an_ndarray_is_an_error():
    def escapes(x):
        return np.asarray(list(x.tolist()))
    with pytest.raises((jitc.TraceError, AttributeError)):
        jitc.trace(escapes, np.ones(4))


def test_trace_errors_from_type_rules_name_the_line():
    def mismatch(x, y):
        return x @ y
    with pytest.raises(jitc.TraceError, match=r"np::matmul: .*mismatch in its core dimension.*test_trace.py"):
        jitc.trace(mismatch, (np.ones((2, 3)), np.ones((4, 2))))


def test_no_warning_for_shape_arithmetic():
    def flatten(x):
        return x.reshape(x.shape[0], x.shape[1] * x.shape[2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        traced = jitc.trace(flatten, np.ones((2, 3, 4)), backend="interpreter")
    x = np.random.default_rng(5).random((5, 2, 3))
    assert_same(traced(x), flatten(x))
