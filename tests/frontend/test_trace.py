"""jitc.trace: recording NumPy programs on proxies (operators, ufuncs,
NumPy functions, methods, attributes, indexing), the soundness rules for
values that leave the graph, and errors for what cannot be recorded.
Every traced result is compared with the eager function on both backends."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import jitc
from jitc.ir.parser import parse_graph
from jitc.ir.verifier import verify
from support.backend_checks import check

BACKENDS = ["llvm", "interpreter"]
DTYPES = [np.float32, np.float64]


def check_trace(function, args, backend, *, sizes_from=None, **trace_options):
    """Trace `function` on `args`; the trace verifies and matches eager on
    `args` and on each argument tuple of `sizes_from`."""
    traced = jitc.trace(function, tuple(args), backend=backend, **trace_options)
    verify(traced.graph)
    for arguments in [tuple(args), *(sizes_from or [])]:
        check(traced, function, arguments)
    return traced


def normal(rng, dtype, *shape):
    return rng.standard_normal(shape).astype(dtype)


def mlp(x, w1, b1, w2, b2, w3, b3):
    h = np.maximum(x @ w1 + b1, 0)
    h = np.tanh(h @ w2 + b2)
    return h @ w3 + b3


def mlp_inputs(rng, batch, dtype):
    shapes = [(batch, 8), (8, 16), (16,), (16, 16), (16,), (16, 3), (3,)]
    return tuple(normal(rng, dtype, *s) for s in shapes)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_mlp_matches_numpy_at_several_batch_sizes(backend, dtype):
    rng = np.random.default_rng(0)
    check_trace(mlp, mlp_inputs(rng, 4, dtype), backend,
                sizes_from=[mlp_inputs(rng, batch, dtype) for batch in (1, 7)])


def test_graph_prints_torchscript_like_text_that_parses_back():
    traced = jitc.trace(mlp, mlp_inputs(np.random.default_rng(1), 4, np.float32), backend="interpreter")
    text = str(traced.graph)
    assert text.startswith("graph(%x : Float(*, *), %w1 : Float(*, *), %b1 : Float(*)")
    assert "np::matmul(%x, %w1)" in text and "np::tanh(" in text
    assert str(parse_graph(text)) == text
    assert "def mlp(x: Float(*, *)" in traced.code and "np.tanh(" in traced.code


def operators(x, y):
    a = (x * 2.0 - y / 3.0) ** 2 + abs(-x) % 0.7 + (+y) // 0.3
    b = 1.5 - x, 2.0 / (y + 3), 3 ** (x / 4), 2 * x @ y.T
    c = (x < y) & (x >= 0.2) | ~(y == x) ^ (x != 0.5)
    return a, b, c, x > 0.3, x <= y


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_operators_forward_reflected_and_comparisons(backend, dtype):
    rng = np.random.default_rng(2)
    check_trace(operators, (rng.random((3, 4)).astype(dtype), rng.random((3, 4)).astype(dtype)), backend,
                sizes_from=[(rng.random((5, 2)).astype(dtype), rng.random((5, 2)).astype(dtype))])


def integer_operators(i, j):
    return i & j, i | 3, 5 ^ j, ~i, -j, i // (abs(j) + 1), i % 7


@pytest.mark.parametrize("backend", BACKENDS)
def test_integer_operators(backend):
    rng = np.random.default_rng(3)
    check_trace(integer_operators, (rng.integers(-9, 9, (4, 3)), rng.integers(-9, 9, (3,))), backend)


def ufuncs_and_functions(x, y):
    a = np.exp(np.clip(x, -3, 3)) + np.log(np.abs(y) + 1) * np.sqrt(np.abs(x) + 1)
    b = np.where(x > y, np.maximum(x, y), np.minimum(x, y)) + np.tanh(x) * np.sin(y)
    c = np.concatenate([x, y], axis=0), np.stack([x, y], axis=-1), np.transpose(x)
    d = np.sum(x, axis=0), np.mean(y, axis=1, keepdims=True), np.max(x), np.argmax(y, axis=1)
    return a, b, c, d, np.matmul(x, y.T), np.reshape(x, (-1,)), np.expand_dims(y, 0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_ufuncs_and_numpy_functions(backend, dtype):
    rng = np.random.default_rng(4)
    check_trace(ufuncs_and_functions, (normal(rng, dtype, 3, 4), normal(rng, dtype, 3, 4)), backend,
                sizes_from=[(normal(rng, dtype, 2, 6), normal(rng, dtype, 2, 6))])


def methods_attributes_and_indexing(x):
    a = x.sum(axis=1, keepdims=True) / x.shape[1] + x.mean() - x.max(axis=0) * x.min()
    b = x.T[1:, ::2], x[..., None][0], x[-1], x[:, 1], x[::-1, 1:3], x.reshape(-1, 2).transpose()
    c = x.astype(np.float32), x.clip(0.1, 0.6), x.var(axis=0), x.std(), x.any(), (x > 0.5).all(axis=1)
    return a, b, c, x.size, x.ndim, x.dtype == np.float64, len(x.shape)


@pytest.mark.parametrize("backend", BACKENDS)
def test_methods_attributes_and_indexing(backend):
    rng = np.random.default_rng(5)
    check_trace(methods_attributes_and_indexing, (rng.random((4, 6)),), backend,
                sizes_from=[(rng.random((6, 8)),)])


def scalars_from_data(x):
    total = x.sum() * 2
    scale = x.shape[0] * 2 + x.shape[1] // 2
    return x / total + scale, np.float64(3.0) * x.mean(), x[0, 0] + 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_scalars_computed_from_data_and_shapes_stay_in_the_graph(backend):
    rng = np.random.default_rng(6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        traced = check_trace(scalars_from_data, (rng.random((3, 4)),), backend,
                             sizes_from=[(rng.random((5, 2)),), (rng.random((2, 9)),)])
    assert [p.type.shape for p in traced.graph.params] == [("*", "*")]


@pytest.mark.parametrize("backend", BACKENDS)
def test_python_scalar_parameters_stay_in_the_graph(backend):
    def scale(x, alpha, n):
        return x * alpha + n
    rng = np.random.default_rng(7)
    traced = check_trace(scale, (normal(rng, np.float32, 5), 2.5, 3), backend)
    check(traced, scale, (np.ones(5, np.float32), -1.0, 7))


@pytest.mark.parametrize("backend", BACKENDS)
def test_lambdas_and_closures(backend):
    rng = np.random.default_rng(8)
    weight = normal(rng, np.float64, 4, 3)

    def make(offset):
        return lambda x: np.tanh(x @ weight) + offset
    traced = check_trace(make(0.5), (normal(rng, np.float64, 2, 4),), backend,
                         sizes_from=[(normal(rng, np.float64, 6, 4),)])
    assert traced.__name__ == "lambda"
    assert list(traced.graph.tensors.values())[0] is weight


@pytest.mark.parametrize("backend", BACKENDS)
def test_arrays_created_in_the_function_are_recorded_but_not_other_threads_arrays(backend):
    import threading
    made_elsewhere = []

    def fills(x):
        worker = threading.Thread(target=lambda: made_elsewhere.append(np.zeros(2)))
        worker.start()
        worker.join()
        table = np.zeros((3, x.shape[1]))
        table[1] = x.sum(axis=0)
        return table + np.arange(3)[:, None]
    rng = np.random.default_rng(9)
    zeros, sqrt = np.zeros, math.sqrt
    traced = check_trace(fills, (rng.random((2, 4)),), backend, sizes_from=[(rng.random((5, 3)),)])
    assert type(made_elsewhere[0]) is np.ndarray
    assert np.zeros is zeros and math.sqrt is sqrt, "the wrapped functions are put back"
    assert "np::zeros" in [node.kind for node in traced.graph.walk()]


# -- values that leave the graph ----------------------------------------------------------------
def branch_on_data(x):
    if x.sum() > 0:
        return x * 2
    return -x


def test_data_dependent_branch_is_an_error_under_strict_naming_the_line():
    with pytest.raises(jitc.TraceError) as raised:
        jitc.trace(branch_on_data, np.ones(3))
    message = str(raised.value)
    line = raised.value.location.line
    assert message.startswith(f"converting a traced value to a Python bool at {__file__}:{line} records it "
                              "as a constant")
    assert "this decides control flow" in message
    assert "use jitc.script, or trace with strict=False" in message
    assert raised.value.location.filename == __file__
    lines = message.splitlines()
    assert lines[1] == f'  File "{__file__}", line {raised.value.location.line}'
    assert lines[2] == "    if x.sum() > 0:"
    assert lines[3] == "       " + "^" * len("x.sum() > 0")


@pytest.mark.parametrize("backend", BACKENDS)
def test_data_dependent_branch_warns_when_not_strict_and_keeps_the_branch_taken(backend):
    with pytest.warns(jitc.TracerWarning, match=r"Python bool at .*test_trace.py:\d+ records it as a constant") \
            as record:
        traced = jitc.trace(branch_on_data, np.ones(3), strict=False, backend=backend)
    assert record[0].filename == __file__ and "if x.sum() > 0:" in str(record[0].message)
    check(traced, branch_on_data, (np.arange(3.0),))
    assert traced(-np.ones(3)).tolist() == [-2.0] * 3, "the trace keeps the branch it saw"


@pytest.mark.parametrize("convert, what", [
    (lambda x: float(x.mean()) * x, "Python float"),
    (lambda x: np.zeros(int(x.sum())), "Python int"),
    (lambda x: x.max().item() + x, r"x\.item\(\)"),
    (lambda x: np.asarray(x.tolist()) + 1, r"x\.tolist\(\)"),
])
def test_data_to_python_conversions_warn_even_under_strict(convert, what):
    with pytest.warns(jitc.TracerWarning, match=f"converting a traced value to (a )?{what} at ") as record:
        jitc.trace(convert, np.ones(3), backend="interpreter")
    assert record[0].filename == __file__


def test_range_over_data_is_a_decision():
    def count(x):
        total = x[0]
        for i in range(x.astype(np.int64).sum()):
            total = total + i
        return total
    with pytest.raises(jitc.TraceError, match="converting a traced value to an index"):
        jitc.trace(count, np.ones(3))
    with pytest.warns(jitc.TracerWarning, match="an index"):
        jitc.trace(count, np.ones(3), strict=False, backend="interpreter")


def test_shape_values_leave_the_graph_without_warnings():
    def unrolled(x):
        total = x[0]
        for i in range(1, x.shape[0]):
            if x.shape[1] > 2:
                total = total + x[i]
        return total
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        traced = jitc.trace(unrolled, np.ones((3, 4)), backend="interpreter")
    assert [p.type.shape for p in traced.graph.params] == [(3, 4)]


# -- what cannot be recorded ----------------------------------------------------------------------
def test_unsupported_numpy_function_names_function_and_line():
    def uses_fft(x):
        return np.fft.fft(x)
    with pytest.raises(jitc.TraceError, match=r"np\.fft.* is not supported by jitc's tracer") as raised:
        jitc.trace(uses_fft, np.ones(4))
    assert raised.value.location.filename == __file__
    assert str(raised.value).splitlines()[2:] == ["    return np.fft.fft(x)", "           ^^^^^^^^^^^^^"]


def test_ufunc_methods_are_refused_by_name():
    with pytest.raises(jitc.TraceError, match=r"np\.add\.reduce is not supported"):
        jitc.trace(lambda x: np.add.reduce(x), np.ones(4))


def test_a_function_that_converts_proxies_to_arrays_itself_is_refused():
    def converts(x):
        return np.ascontiguousarray(x) * 2
    with pytest.raises(jitc.TraceError, match="NumPy asked for the data of a traced array") as raised:
        jitc.trace(converts, np.ones(4))
    assert raised.value.location.filename == __file__


def test_attribute_without_mapping_is_an_attribute_error():
    with pytest.raises(AttributeError, match="ndarray.flags"):
        jitc.trace(lambda x: x.flags, np.ones(4))


def test_trace_errors_from_type_rules_name_the_line():
    def mismatch(x, y):
        return x @ y
    with pytest.raises(jitc.TraceError, match=r"np::matmul: .*mismatch in its core dimension") as raised:
        jitc.trace(mismatch, (np.ones((2, 3)), np.ones((4, 2))))
    assert str(raised.value).splitlines()[-2:] == ["    return x @ y", "           ^^^^^"]


def test_returning_something_that_is_not_an_array_is_an_error():
    with pytest.raises(jitc.TraceError, match="must return arrays, scalars, or tuples and lists"):
        jitc.trace(lambda x: {"x": x}, np.ones(2))


def test_example_count_must_match_the_parameters():
    with pytest.raises(TypeError, match="takes 1 positional parameter"):
        jitc.trace(lambda x: x, (np.ones(2), np.ones(2)))


def test_disabled_trace_returns_the_function(monkeypatch):
    monkeypatch.setenv("JITC_DISABLE", "1")
    assert jitc.trace(math.sqrt, 2.0) is math.sqrt
