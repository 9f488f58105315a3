"""Tracing `jitc.nn.Module` instances: the bound forward is traced with
every array of the module tree a tensor constant named by its path; the
GPT-2 example and an im2col CNN match eager, and a trace made at one
sequence length or batch size runs at others. `check_inputs` catches a
trace that recorded a data-dependent decision."""
from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest

import jitc
from jitc import nn
from support.backend_checks import check

BACKENDS = ["llvm", "interpreter"]
DTYPES = [np.float32, np.float64]
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "examples"))


def im2col(x, kernel, stride):
    """(n, c, h, w) -> (n, c * kernel * kernel, out_h * out_w) columns of windows."""
    n, c, h, w = x.shape
    out_h, out_w = (h - kernel) // stride + 1, (w - kernel) // stride + 1
    windows = [x[:, :, i:i + stride * out_h:stride, j:j + stride * out_w:stride]
               for i in range(kernel) for j in range(kernel)]
    return np.stack(windows, axis=2).reshape(n, c * kernel * kernel, out_h * out_w), out_h, out_w


class SmallCNN(nn.Module):
    """conv 3x3 (im2col + matmul) -> ReLU -> 2x2 max-pool -> linear."""

    def __init__(self, dtype, rng, channels=3, filters=4, size=8, classes=5):
        self.kernel = (rng.standard_normal((filters, channels, 3, 3)) * 0.3).astype(dtype)
        self.bias = (rng.standard_normal(filters) * 0.1).astype(dtype)
        pooled = (size - 2) // 2
        self.head = nn.Linear(filters * pooled * pooled, classes, dtype=dtype, rng=rng)

    def forward(self, x):
        n = x.shape[0]
        columns, out_h, out_w = im2col(x, 3, 1)
        y = self.kernel.reshape(self.kernel.shape[0], -1) @ columns + self.bias[:, None]
        y = np.maximum(y.reshape(n, -1, out_h, out_w), 0)
        y = y[:, :, :out_h // 2 * 2, :out_w // 2 * 2]
        y = y.reshape(n, y.shape[1], out_h // 2, 2, out_w // 2, 2).max(axis=5).max(axis=3)
        return self.head(y.reshape(n, -1))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_im2col_cnn_matches_eager_at_several_batch_sizes(dtype, backend):
    rng = np.random.default_rng(0)
    model = SmallCNN(dtype, rng)
    traced = jitc.trace(model, rng.standard_normal((2, 3, 8, 8)).astype(dtype), backend=backend)
    assert set(traced.graph.tensors) == {"kernel", "bias", "head.weight", "head.bias"}
    assert traced.graph.params[0].type.shape[0] == "*"
    rtol = 1e-4 if dtype == np.float32 else None  # sums of 27 products per output, in another order
    for batch in (2, 1, 5):
        check(traced, model, (rng.standard_normal((batch, 3, 8, 8)).astype(dtype),), rtol=rtol)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nn_layers_trace_with_their_parameter_paths(backend):
    rng = np.random.default_rng(1)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, rng=rng), nn.ReLU(), nn.Conv2d(3, 2, (2, 3), stride=2, rng=rng),
                          nn.Tanh())
    traced = jitc.trace(model, rng.standard_normal((2, 2, 6, 5)).astype(np.float32), backend=backend)
    assert set(traced.graph.tensors) == set(model.state_dict()) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert "prim::Constant[value=@2.weight]()" in str(traced.graph)
    for shape in [(2, 2, 6, 5), (3, 2, 9, 4)]:
        check(traced, model, (rng.standard_normal(shape).astype(np.float32),), rtol=1e-4)


def test_the_module_is_left_as_it_was():
    rng = np.random.default_rng(2)
    model = SmallCNN(np.float64, rng)
    before = dict(vars(model))
    jitc.trace(model, rng.standard_normal((1, 3, 8, 8)), backend="interpreter")
    assert all(vars(model)[name] is value for name, value in before.items())
    assert isinstance(model.head.weight, np.ndarray)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gpt2_traced_at_one_length_runs_at_others(backend):
    from gpt2 import GPT2, TOLERANCE
    model = GPT2(n_layer=1)
    ids = np.random.default_rng(3).integers(0, 256, size=12)
    traced = jitc.trace(model, ids, backend=backend)
    assert traced.graph.params[0].type.shape == ("*",)
    for length in (12, 5, 1, 20):
        check(traced, model, (ids[:length] if length <= 12 else np.resize(ids, length),),
              rtol=TOLERANCE, atol=TOLERANCE)


def branchy(x):
    if x.sum() > 0:
        return x * 2
    return x - 1


def test_check_inputs_names_the_first_diverging_output():
    positive = np.arange(1.0, 5.0)
    negative = -positive
    with pytest.warns(jitc.TracerWarning):
        with pytest.raises(jitc.TracingCheckError) as raised:
            jitc.trace(branchy, positive, strict=False, check_inputs=[(positive,), (negative,)],
                       backend="interpreter")
    error = raised.value
    difference = np.abs(negative * 2 - branchy(negative))
    assert (error.input_index, error.output_index) == (1, 0)
    assert error.max_difference == pytest.approx(difference.max())
    assert str(error).startswith(f"branchy: output 0 of the trace differs from the eager function on "
                                 f"check_inputs[1]: max difference {difference.max():.6g} at index "
                                 f"({int(np.argmax(difference))},)")


def test_check_inputs_that_agree_pass_and_a_refused_size_is_reported():
    def pairs(x, y):
        return x + y, (x * y).sum(axis=0)
    rng = np.random.default_rng(4)
    args = [(rng.random((n, 3)), rng.random((n, 3))) for n in (2, 5)]
    traced = jitc.trace(pairs, args[0], check_inputs=args, backend="interpreter")
    check(traced, pairs, args[1])

    def unrolled(x):
        return sum(x[i] for i in range(x.shape[0]))
    with pytest.raises(jitc.TracingCheckError, match=r"unrolled: the trace refused check_inputs\[0\]: "
                                                     r"unrolled\(\): argument 'x' has size 4 in dim 0"):
        jitc.trace(unrolled, np.ones((3, 2)), check_inputs=[np.ones((4, 2))], backend="interpreter")


def test_check_inputs_catches_a_dtype_or_shape_difference():
    def by_value(x):
        return np.zeros(int(x[0])) + 1
    with pytest.warns(jitc.TracerWarning):
        with pytest.raises(jitc.TracingCheckError, match=r"output 0 .* shape \(2,\), eager \(3,\)") as raised:
            jitc.trace(by_value, np.array([2.0]), check_inputs=[np.array([3.0])], backend="interpreter")
    assert raised.value.max_difference == float("inf")
