"""The CUDA backend's kernels, op family by op family, in numba's simulator
(tiny sizes: a simulated thread is a Python thread). Every result is
checked against eager NumPy and the interpreter (cuda_checks.check_cuda);
float32 to 1e-5 and float64 to 1e-12 relative unless a test says otherwise."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import jitc
from cuda_checks import check_cuda, on_host
from jitc.backends import UnsupportedOpError
from jitc.errors import CompileWarning
from support.row_models import layer_norm, logsumexp, softmax

FLOATS = [np.float32, np.float64]
RNG = np.random.default_rng(0)


def normal(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def cuda(function):
    return jitc.script(function, backend="cuda")


# -- elementwise groups -------------------------------------------------------------------------------------------
def gelu(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def chain_with_broadcast(x, row, column, scale: float):
    return np.maximum(x * row - column, 0.0) * scale + np.exp(-np.abs(x)) / (1 + row ** 2)


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
def test_elementwise_chain_with_broadcasting_is_one_kernel(dtype):
    compiled = cuda(chain_with_broadcast)
    args = (normal(3, 5, dtype=dtype), normal(5, dtype=dtype), normal(3, 1, dtype=dtype), 0.5)
    check_cuda(compiled, chain_with_broadcast, args)
    plan = compiled.specializations()[0].run.plan
    assert plan.count("kernel") == 1, plan


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
def test_gelu(dtype):
    check_cuda(cuda(gelu), gelu, (normal(4, 7, dtype=dtype),))


def comparisons_and_where(x, y):
    return np.where(x > y, x - y, np.sqrt(np.abs(y))), (x <= 0) | (y > 1), np.clip(x, -0.5, 0.5)


def test_comparisons_where_and_clip():
    check_cuda(cuda(comparisons_and_where), comparisons_and_where, (normal(2, 3), normal(3)))


def integer_arithmetic(a, b):
    return a // b + a % b * 3, (a & 6) ^ b, -a, a.astype(np.float32) / 2


def test_integer_arithmetic_follows_python_floor_rules():
    a = np.array([[-7, 7, 5], [0, -3, 9]], np.int64)
    b = np.array([2, -3, 4], np.int64)
    check_cuda(cuda(integer_arithmetic), integer_arithmetic, (a, b))


def math_outside_domain(x):
    return np.log(x), np.sqrt(x), np.exp(x * 1000.0), np.floor(x * 3), np.rint(x * 2)


def test_math_outside_its_domain_gives_nan_and_inf_as_numpy_does():
    x = np.array([-1.0, 0.0, 0.25, 2.5, np.nan, np.inf], np.float64)
    check_cuda(cuda(math_outside_domain), math_outside_domain, (x,))


@settings(max_examples=12)
@given(shapes=st.sampled_from([((3, 1), (1, 4)), ((2, 3, 4), (4,)), ((1,), (5, 1)), ((2, 1, 3), (1, 4, 1)),
                               ((4,), ()), ((0, 3), (3,))]),
       dtype=st.sampled_from(FLOATS), swap=st.booleans())
def test_broadcasting_of_any_shapes_matches_numpy(shapes, dtype, swap):
    first, second = shapes[::-1] if swap else shapes
    check_cuda(cuda(chain_with_broadcast), chain_with_broadcast,
               (normal(*first, dtype=dtype), normal(*second, dtype=dtype), np.asarray(normal(dtype=dtype)), 2.0))


# -- rows: softmax, layer norm --------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
def test_softmax_rows_are_one_kernel(dtype):
    compiled = cuda(softmax)
    check_cuda(compiled, softmax, (normal(3, 2, 11, dtype=dtype) * 4,))
    plan = compiled.specializations()[0].run.plan
    assert plan.count("kernel") == 1, plan


def test_layer_norm_and_logsumexp_rows():
    x = normal(5, 9)
    check_cuda(cuda(layer_norm), layer_norm, (x, normal(9), normal(9)), rtol=1e-4, atol=1e-5)
    check_cuda(cuda(logsumexp), logsumexp, (x,))


def float16_model(x, w):
    return softmax(gelu(x) @ w), np.sum(x, axis=0), np.cumsum(x, axis=1), np.argmax(x, axis=1)


def test_float16_is_stored_as_float16_and_computed_in_float32():
    x, w = normal(3, 5, dtype=np.float16), normal(5, 4, dtype=np.float16)
    check_cuda(cuda(float16_model), float16_model, (x, w), rtol=1e-2, atol=1e-2)


# -- matmul -----------------------------------------------------------------------------------------------------------
def matmul(a, b):
    return a @ b


@pytest.mark.parametrize("shapes", [((5, 7), (7, 6)), ((2, 3, 9), (9, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((7,), (7, 3)),
                                    ((4, 7), (7,)), ((6,), (6,))], ids=str)
def test_matmul_shapes(shapes):
    a, b = normal(*shapes[0], dtype=np.float64), normal(*shapes[1], dtype=np.float64)
    check_cuda(cuda(matmul), matmul, (a, b))


def attention_scores(q, k):
    return q @ k.T / math.sqrt(q.shape[-1])


def test_matmul_of_a_transposed_view():
    check_cuda(cuda(attention_scores), attention_scores, (normal(5, 4), normal(6, 4)))


# -- reductions -------------------------------------------------------------------------------------------------------
def reductions(x):
    return (np.sum(x, axis=0), np.mean(x, axis=(0, 2), keepdims=True), np.max(x), np.var(x, axis=-1),
            np.std(x, axis=1, ddof=1), np.any(x > 1.5, axis=2), np.prod(x[0], axis=0))


def test_reductions_over_axes():
    check_cuda(cuda(reductions), reductions, (normal(3, 4, 5),), rtol=1e-5, atol=1e-6)


def arg_reductions(x):
    return np.argmax(x, axis=1), np.argmin(x), np.argmax(x, axis=0, keepdims=True)


def test_argmax_and_argmin_take_the_first_of_ties_and_of_nans():
    x = np.array([[1.0, 3.0, 3.0, -2.0, 0.5], [np.nan, 2.0, np.nan, 7.0, 7.0], [0.0, 0.0, -1.0, -1.0, 9.0]])
    check_cuda(cuda(arg_reductions), arg_reductions, (x,))
    check_cuda(cuda(arg_reductions), arg_reductions, (normal(4, 9),))


# -- views, joins, gathers, creation ----------------------------------------------------------------------------------
def shapes_and_views(x, ids):
    y = x.T[1:, ::-1]
    parts = np.concatenate([x[:, :2], y.T], axis=1)
    stacked = np.stack([x[0], x[-1]], axis=1)
    return (parts.reshape(-1), stacked, np.expand_dims(x, 0)[:, 1], x[ids], np.zeros((2, 3)) + np.arange(3),
            np.broadcast_to(x[:, :1], (3, 4)), np.linspace(0.0, 1.0, 5))


def test_views_joins_gather_and_creation():
    ids = np.array([2, 0, -1, 2])
    check_cuda(cuda(shapes_and_views), shapes_and_views, (normal(3, 4), ids))


def gather(table, ids):
    return table[ids]


def advanced_indexing(x, rows, columns):
    y = x.copy()
    y[1:, 0] = -1.0
    y[rows, 2] = x[rows, 1] * 2
    return x[rows, columns], x[:, columns], x[rows[:, None], columns], x[None, 1, ..., columns], y


def test_advanced_indexing_gathers_and_scatters():
    rows, columns = np.array([2, 0, -1]), np.array([1, 3, 0])
    check_cuda(cuda(advanced_indexing), advanced_indexing, (normal(3, 4), rows, columns))


def test_gather_out_of_bounds_raises_index_error():
    compiled = cuda(gather)
    with pytest.raises(IndexError, match="out of bounds"):
        compiled(normal(3, 2), np.array([0, 3]))


# -- control flow -----------------------------------------------------------------------------------------------------
def loops_and_branches(x, n: int):
    total = x
    for i in range(3):  # a constant trip count: unrolled into the plan
        total = total * 0.5 + i
    for _ in range(n):  # n is data: the plan's executor runs the loop
        total = np.tanh(total)
    if np.sum(total) > 0:  # decided on the device's value
        total = total - 1
    return total


def test_loops_are_unrolled_or_run_by_the_plan_and_branches_read_the_device():
    compiled = cuda(loops_and_branches)
    for n in (0, 2):
        for x in (normal(2, 3), normal(2, 3) + 3):
            check_cuda(compiled, loops_and_branches, (x, n))
    plan = compiled.specializations()[0].run.plan
    assert "loop" in plan and "if" in plan, plan


# -- inputs, outputs, errors ------------------------------------------------------------------------------------------
def device_pointer(array) -> int:
    interface = getattr(array, "__cuda_array_interface__", None)
    return interface["data"][0] if interface else array._ary.__array_interface__["data"][0]


def identity(x):
    return x


def test_device_arrays_come_back_go_in_without_a_copy_and_results_own_their_memory():
    from jitc.backends.cuda.runtime import to_device
    first = cuda(gelu)(normal(4, 3))
    assert hasattr(first, "copy_to_host") and first.shape == (4, 3)
    assert device_pointer(to_device(first).buffer) == device_pointer(first)
    again = cuda(gelu)(first)
    np.testing.assert_allclose(jitc.to_host(again), gelu(jitc.to_host(first)), rtol=1e-5)
    returned = cuda(identity)(first)
    assert device_pointer(returned) != device_pointer(first)
    np.testing.assert_array_equal(jitc.to_host(returned), jitc.to_host(first))


def test_to_host_takes_device_arrays_numpy_arrays_and_containers():
    x = normal(2)
    device = cuda(identity)(x)
    assert isinstance(jitc.to_host(device), np.ndarray)
    assert jitc.to_host(x) is x
    host = jitc.to_host((device, [device, 3]))
    assert isinstance(host[0], np.ndarray) and host[1][1] == 3


def cumulative(x):
    return np.cumsum(x, axis=0) * 2, np.cumprod(x[0] + 1), np.cumsum(x)


def test_scans():
    check_cuda(cuda(cumulative), cumulative, (normal(3, 4),))


def masked(x, mask):
    y = x.copy()
    y[x < -0.5] = 0.0
    y[mask] = x[mask] * 2
    return x[x > 0], y, x[1][mask[0]]


def test_boolean_masks_select_and_assign():
    x = normal(3, 4)
    check_cuda(cuda(masked), masked, (x, x > 0.3))
    with pytest.raises(IndexError, match="boolean index did not match"):
        cuda(masked)(x, np.ones((2, 4), bool))


def write_into_argument(x):
    x[0] = 1.0
    return x * 2


def test_an_op_without_a_cuda_lowering_falls_back_naming_the_op():
    compiled = cuda(write_into_argument)
    x = normal(3, 2)
    expected = write_into_argument(x.copy())
    with pytest.warns(CompileWarning, match="prim::CopyInto"):
        result = compiled(x)
    assert compiled.specializations()[0].backend == "interpreter"
    np.testing.assert_allclose(on_host(result), expected, rtol=1e-6)


def test_without_a_gpu_or_the_simulator_the_backend_says_so(monkeypatch):
    from jitc.backends.cuda import runtime
    from numba import cuda as numba_cuda
    monkeypatch.setattr(runtime, "_CUDA", None)
    monkeypatch.setattr(numba_cuda, "is_available", lambda: False)
    with pytest.raises(runtime.CudaUnavailableError, match="no usable NVIDIA GPU.*NUMBA_ENABLE_CUDASIM=1"):
        cuda(gelu)(normal(2))


def test_unsupported_ops_raise_unsupported_op_error_from_the_plan_builder():
    from jitc.backends.cuda import BACKEND
    graph = jitc.script(write_into_argument, backend="interpreter").graph_for(normal(3, 2))
    with pytest.raises(UnsupportedOpError, match="prim::CopyInto"):
        BACKEND.compile(graph)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        BACKEND.compile(jitc.script(gelu, backend="interpreter").graph_for(normal(3)))


def test_a_saved_model_loads_onto_the_cuda_backend(tmp_path):
    saved = jitc.script(softmax, backend="interpreter")
    x = normal(2, 5)
    saved(x)
    jitc.save(saved, tmp_path / "softmax.jitc")
    check_cuda(jitc.load(tmp_path / "softmax.jitc", backend="cuda"), softmax, (x,))
