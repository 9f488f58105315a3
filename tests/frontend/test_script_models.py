"""The scripter on whole model functions: each is scripted to a generic
graph, run by the interpreter on float32 and float64 inputs of several
sizes, and compared with the eager function."""
from __future__ import annotations

import math

import numpy as np
import pytest

from jitc.frontend.scripter import script_graph
from jitc.ir.interpreter import run_graph
from jitc.ir.types import DType, TensorType
from support.compare import assert_same
from support.script_checks import DTYPES, check_script, kinds, random_arrays


def RNN(x, h, W_h, U_h, b_h):
    y = []
    for t in range(x.shape[0]):
        h = np.tanh(x[t] @ W_h + h @ U_h + b_h)
        y += [h]
    return np.stack(y), h


def mlp(x, w1, b1, w2, b2, w3, b3):
    h = np.maximum(x @ w1 + b1, 0)
    h = np.maximum(h @ w2 + b2, 0.0)
    return h @ w3 + b3


def gelu(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def layer_norm(x, gamma, beta, eps: float):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


@pytest.mark.parametrize("dtype", DTYPES)
def test_rnn_loop_carries_the_state_and_a_growing_list(dtype):
    rng = np.random.default_rng(0)
    inputs = [random_arrays(rng, dtype, (steps, 3), (4,), (3, 4), (4, 4), (4,)) for steps in (1, 2, 7)]
    graph = check_script(RNN, *inputs)
    loop = next(node for node in graph.walk() if node.kind == "prim::Loop")
    assert [str(v.type) for v in loop.outputs] == ["Tensor", "List[Tensor]"]
    assert [p.name for p in loop.blocks[0].params] == ["t", "h", "y"]


def test_rnn_with_specialised_types_joins_the_loop_carried_list_type():
    float32 = DType.FLOAT32
    matrix, vector = TensorType(float32, ("*", "*")), TensorType(float32, ("*",))
    graph = script_graph(RNN, [matrix, vector, matrix, matrix, vector])
    loop = next(node for node in graph.walk() if node.kind == "prim::Loop")
    assert [str(v.type) for v in loop.outputs] == ["Float(*)", "List[Float(*)]"]
    assert str(graph.returns[0].type) == "Float(*, *)"
    rng = np.random.default_rng(2)
    args = random_arrays(rng, np.float32, (5, 3), (4,), (3, 4), (4, 4), (4,))
    assert_same(run_graph(graph, *args, check_types=True), RNN(*args))


@pytest.mark.parametrize("dtype", DTYPES)
def test_three_layer_mlp(dtype):
    rng = np.random.default_rng(3)
    check_script(mlp, *[random_arrays(rng, dtype, (batch, 8), (8, 16), (16,), (16, 16), (16,), (16, 3), (3,))
                        for batch in (1, 4, 9)])


@pytest.mark.parametrize("dtype", DTYPES)
def test_gelu_folds_python_math_on_constants(dtype):
    rng = np.random.default_rng(4)
    graph = check_script(gelu, *[random_arrays(rng, dtype, shape) for shape in ((5,), (3, 4), ())])
    assert "np::sqrt" not in kinds(graph)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax(dtype):
    rng = np.random.default_rng(5)
    check_script(softmax, *[random_arrays(rng, dtype, shape) for shape in ((6,), (2, 5), (2, 3, 4))])


@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_norm(dtype):
    rng = np.random.default_rng(6)
    check_script(layer_norm, *[random_arrays(rng, dtype, (batch, 8), (8,), (8,)) + (1e-5,)
                               for batch in (1, 3)])
