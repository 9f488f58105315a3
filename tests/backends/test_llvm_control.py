"""Differential tests of the LLVM backend on scripted control flow and
lists: if/else (also selecting arrays of different shapes), for-range loops
carrying arrays and scalars, nested loops, loops that stop early through a
flag (the scripter has no `while`/`break`), lists built in loops and
stacked, list and tuple parameters, early returns, and a small RNN.

Every compiled result is compared with the eager function and with the
reference interpreter. A fallback to the interpreter is an error
(`CompileWarning` -> error) unless a test says otherwise.
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jitc
from support.backend_checks import check_script as check
pytestmark = pytest.mark.filterwarnings("error::jitc.CompileWarning")
FLOATS = [np.float32, np.float64]

def randn(rng, dtype, *shape):
    return rng.standard_normal(shape).astype(dtype)


# -- if / else ----------------------------------------------------------------------------------------
def pick_shape(x, flag: bool):
    if flag:
        y = x
    else:
        y = x.sum(axis=0)
    return y * 2


def pick_rank_then_reduce(x, flag: bool):
    if flag:
        y = x[None] + 1
    else:
        y = x.T
    return y.sum(), y.max(), y


@pytest.mark.parametrize("dtype", FLOATS + [np.int64])
def test_if_else_selects_arrays_of_different_shapes(dtype):
    """The branches give different ranks, so the value after the if has no
    rank: the LLVM backend (which compiles for known ranks) leaves such
    functions to the interpreter with a CompileWarning, and the results
    must be right either way."""
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jitc.CompileWarning)
        for shape in ((2, 3), (4, 1), (3, 0)):
            x = (rng.standard_normal(shape) * 4).astype(dtype)
            for flag in (True, False):
                check(pick_shape, x, flag)
                if x.size:
                    check(pick_rank_then_reduce, x, flag)


def elif_chain(x, n: int):
    if n > 2:
        y = x * 2
    elif n == 2:
        y = x + 1
    else:
        y = -x
    return y * n, n


def data_dependent_if(x):
    if x.sum() > 0:
        x = x - x.min()
    else:
        x = np.abs(x) + 1
    return x


def conditional_expressions(x, i: int, n: int):
    inside = i < n and bool(x[i] > 0)  # x[i] is never evaluated when i >= n
    outside = not (0 <= i < n) or bool(x[0] > x[-1])
    y = x[i] if i < n else x[0]
    return inside, outside, y, i > 0 and n > 0 and i < n, not i


@pytest.mark.parametrize("dtype", FLOATS)
def test_if_elif_else_on_scalars_and_on_data(dtype):
    rng = np.random.default_rng(1)
    x = randn(rng, dtype, 3, 4)
    for n in (-1, 0, 2, 5):
        check(elif_chain, x, n)
    for size in (1, 4, 9):
        check(data_dependent_if, randn(rng, dtype, size))
    check(data_dependent_if, np.ones(3, dtype))
    check(data_dependent_if, -np.ones(3, dtype))


def test_short_circuit_never_evaluates_the_guarded_index():
    x = np.array([1.0, -2.0, 3.0])
    for i in (-1, 0, 1, 2, 3, 5, 100):
        check(conditional_expressions, x, i, 3)


def early_return(x, n: int):
    if n > 3:
        return x + 1
    elif n > 1:
        y = x * 2
    else:
        y = x * 3
    if n == 2:
        return -y
    return y


def tuple_returns_in_branches(x, flag: bool):
    if flag:
        return x, x.sum()
    return -x, x.max()


@pytest.mark.parametrize("dtype", FLOATS)
def test_early_returns(dtype):
    x = randn(np.random.default_rng(2), dtype, 4)
    for n in range(5):
        check(early_return, x, n)
    for flag in (True, False):
        check(tuple_returns_in_branches, x, flag)


# -- for-range loops ---------------------------------------------------------------------------------------
def accumulate(x, n: int):
    total = x * 0
    count = 0
    s = 0.0
    for i in range(n):
        total = total + x * i
        count += 1
        s = s + i / 2
    return total, count, s


def stepped_ranges(x, start: int, stop: int):
    up = x * 0
    down = x * 0
    last = -1
    for i in range(start, stop, 3):
        up = up + x * i
        last = i
    for j in range(stop, start, -2):
        down = down - x * j
    return up, down, last


@settings(max_examples=20)
@given(n=st.integers(-2, 9), start=st.integers(-5, 5), stop=st.integers(-5, 12),
       x=hnp.arrays(np.float64, st.sampled_from([0, 2, 3]), elements=st.floats(-10, 10)))
def test_range_loops_run_as_many_iterations_as_python(n, start, stop, x):
    check(accumulate, x, n)
    check(stepped_ranges, x, start, stop)


def pairwise(x):
    n = x.shape[0]
    out = x[0] * 0
    count = 0
    for i in range(n):
        for j in range(i + 1, n):
            out = out + x[i] * x[j]
            count = count + 1
    return out, count


def relu_steps(x, n: int):
    h = x
    for t in range(n):
        if t % 2 == 0:
            h = np.maximum(h, 0.0) + t
        else:
            h = h - 1
    return h


@pytest.mark.parametrize("dtype", FLOATS)
def test_nested_loops_and_branches_in_loops(dtype):
    rng = np.random.default_rng(3)
    for rows in (1, 2, 5):
        check(pairwise, randn(rng, dtype, rows, 3))
    for n in (0, 1, 4):
        check(relu_steps, randn(rng, dtype, 4), n)


def growing(x, n: int):
    acc = x[:0]
    for i in range(n):
        acc = np.concatenate([acc, x[i:i + 1] * i])
    return acc, acc.shape[0]


def test_loop_carried_array_whose_size_changes_each_iteration():
    x = np.arange(12.0).reshape(6, 2)
    for n in (0, 1, 4, 6):
        check(growing, x, n)


def grow_rank(x):
    for i in range(3):
        x = x[None]
    return x


def test_loop_carried_array_whose_rank_changes_is_still_correct():
    """The carried type has no rank: the backend may fall back here, but the
    result must be right either way."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jitc.CompileWarning)
        check(grow_rank, np.arange(3.0))


# -- loops that stop early (no while/break in the scripter: a flag) ----------------------------------------
def first_crossing(x, limit: float):
    total = 0.0
    steps = 0
    done = False
    for i in range(x.shape[0]):
        if not done:
            total = total + float(x[i])
            steps = i + 1
            if total > limit:
                done = True
    return total, steps, done


def newton_sqrt(a, iterations: int, tolerance: float):
    x = a * 0 + 1.0
    converged = False
    used = 0
    for _ in range(iterations):
        if not converged:
            nxt = 0.5 * (x + a / x)
            converged = bool(np.abs(nxt - x).max() < tolerance)
            x = nxt
            used += 1
    return x, used, converged


@settings(max_examples=15)
@given(x=hnp.arrays(np.float64, st.integers(0, 8), elements=st.floats(-5, 5)), limit=st.floats(-5, 10))
def test_loop_with_a_stop_flag(x, limit):
    check(first_crossing, x, limit)


@pytest.mark.parametrize("dtype", FLOATS)
def test_iterate_until_converged(dtype):
    a = np.array([0.25, 2.0, 9.0, 1e4], dtype)
    for iterations, tolerance in ((0, 1e-3), (3, 1e-3), (50, 1e-5)):
        check(newton_sqrt, a, iterations, tolerance)


# -- lists --------------------------------------------------------------------------------------------------
def collect(x, steps: int):
    rows = []
    pairs = []
    for t in range(steps):
        rows.append(x * t)
        pairs.extend([x, -x])
    last = rows[-1] if len(rows) > 0 else x
    return np.stack(rows), np.concatenate(pairs), last, len(pairs), rows[0], np.stack(rows, axis=1)


@pytest.mark.parametrize("dtype", FLOATS + [np.int32])
def test_list_append_in_a_loop_then_stack(dtype):
    x = np.arange(3).astype(dtype)
    for steps in (1, 2, 5):
        check(collect, x, steps)


def list_parameter(xs: list[np.ndarray], i: int):
    acc = xs[0]
    for k in range(1, len(xs)):
        acc = acc + xs[k]
    more = xs + [acc]
    return acc, xs[i], xs[-1], len(more), np.stack(more), more[i]


def test_list_parameters_indexed_in_a_loop():
    rng = np.random.default_rng(4)
    xs = [rng.standard_normal(3) for _ in range(4)]
    for i in (-4, -1, 0, 3):
        check(list_parameter, xs, i)
    check(list_parameter, [rng.standard_normal(2)], 0)
    check(list_parameter, [rng.standard_normal((2, 3)).T for _ in range(3)], 1)  # non-contiguous elements


def scalar_lists(a: int, b: int, f: float, i: int):
    values = [a, b, a + b]
    values.append(7)
    floats = [f, f * 2]
    floats += [0.5]
    total = 0
    for k in range(len(values)):
        total = total + values[k]
    return values[i], len(values), values, floats, total, floats[-1], floats[0] + floats[1] + floats[2]


def test_lists_of_python_scalars():
    for i in (-4, -1, 0, 3):
        check(scalar_lists, 1, -2, 2.5, i)


def unpacking(p: tuple[np.ndarray, np.ndarray], xs: list[np.ndarray], n: int):
    a, b = p
    c = p[1]
    u, v = xs
    pair = (n, a)
    m, arr = pair
    return a + b * c, u - v, (a, (b, c)), m, arr


def test_tuple_and_list_unpacking_and_nested_tuple_results():
    rng = np.random.default_rng(5)
    p = (rng.standard_normal(2), rng.standard_normal(2))
    check(unpacking, p, [rng.standard_normal(3), rng.standard_normal(3)], 4)


def list_of_results(x, n: int):
    out = []
    for i in range(n):
        out.append(x[i] * 2)
    return out


def test_returning_a_list_of_arrays():
    x = np.arange(12.0).reshape(4, 3)
    for n in (0, 1, 4):
        check(list_of_results, x, n)


# -- models -------------------------------------------------------------------------------------------------
def rnn(x, h, W, U, b):
    ys = []
    for t in range(x.shape[0]):
        h = np.tanh(x[t] @ W + h @ U + b)
        ys.append(h)
    return np.stack(ys), h


@pytest.mark.parametrize("dtype", FLOATS)
def test_small_rnn(dtype):
    rng = np.random.default_rng(6)
    rtol = 1e-4 if dtype == np.float32 else 1e-12
    for steps in (1, 2, 7):
        args = (randn(rng, dtype, steps, 3), randn(rng, dtype, 4), randn(rng, dtype, 3, 4),
                randn(rng, dtype, 4, 4) * 0.5, randn(rng, dtype, 4))
        check(rnn, *args, rtol=rtol, atol=rtol)


def batched_rnn(x, h, W, U, b):
    ys = []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ W + h @ U + b)
        ys.append(h)
    return np.stack(ys, axis=1), h


@pytest.mark.parametrize("dtype", FLOATS)
def test_batched_rnn_over_a_time_axis_that_is_not_first(dtype):
    rng = np.random.default_rng(7)
    rtol = 1e-4 if dtype == np.float32 else 1e-12
    args = (randn(rng, dtype, 5, 6, 3), randn(rng, dtype, 5, 8), randn(rng, dtype, 3, 8),
            randn(rng, dtype, 8, 8) * 0.3, randn(rng, dtype, 8))
    check(batched_rnn, *args, rtol=rtol, atol=rtol)


def softmax_loop(x, temperature: float, rounds: int):
    for _ in range(rounds):
        e = np.exp((x - x.max(axis=-1, keepdims=True)) / temperature)
        x = e / e.sum(axis=-1, keepdims=True)
    return x


@pytest.mark.parametrize("dtype", FLOATS)
def test_repeated_softmax(dtype):
    rng = np.random.default_rng(8)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for rounds in (0, 1, 3):
        check(softmax_loop, randn(rng, dtype, 3, 5), 0.7, rounds, rtol=rtol, atol=rtol)


# -- prim::CallFunction (the optimiser inlines it; a graph compiled as it is keeps it) ---------------
CALLS = """
graph(%x : Double(*, 4), %w : Double(4, 4), %n : int):
  %true : bool = prim::Constant[value=True]()
  %h : Double(*, 4) = prim::Loop(%n, %true, %x)
    block0(%i : int, %h.1 : Double(*, 4)):
      %y : Double(*, 4), %v : Double(4, *) = prim::CallFunction[name="layer"](%h.1, %w)
        block0(%a : Double(*, 4), %b : Double(4, 4)):
          %m : Double(*, 4) = np::matmul(%a, %b)
          %t : Double(*, 4) = np::tanh(%m)
          %s : Double(*, 4) = prim::CallFunction[name="inner"](%t)
            block0(%p : Double(*, 4)):
              %q : Double(*, 4) = np::sin(%p)
              -> (%q)
          %u : Double(4, *) = np::transpose[axes=(1, 0)](%a)
          -> (%s, %u)
      %z : Double(*, 4) = np::add(%y, %h.1)
      -> (%true, %z)
  return (%h)
"""


@pytest.mark.parametrize("n", [0, 3])
def test_call_function_nodes_run_their_bodies(n):
    from jitc.backends.llvm import BACKEND
    from jitc.ir.interpreter import run_graph
    from jitc.ir.parser import parse_graph
    from support.compare import assert_same
    graph = parse_graph(CALLS)
    assert sum(node.kind == "prim::CallFunction" for node in graph.walk()) == 2
    rng = np.random.default_rng(n)
    x, w = rng.standard_normal((5, 4)), rng.standard_normal((4, 4)) * 0.5
    h = x
    for _ in range(n):
        h = np.sin(np.tanh(h @ w)) + h
    assert_same(tuple(BACKEND.compile(graph)(x, w, n)), (h,))
    assert_same(tuple(run_graph(graph, x, w, n)), (h,))


def two_layers(x, w1, w2):
    h = np.maximum(x @ w1, 0.0)
    return np.tanh(h @ w2).sum(axis=0)


def two_scaled_layers(x, w1, w2):  # another graph: compiled code is cached per graph
    h = np.maximum(x @ w1, 0.0)
    return np.tanh(h @ w2).sum(axis=0) * 1.5


def _entry_attributes(compiled, *args) -> str:
    """The attribute group of the compiled version's entry function, from its LLVM IR."""
    text = compiled.llvm_ir(*args)
    entry = re.search(r"^define .*@(jitc_\w+)\(.*\) .*#(\d+)", text, re.MULTILINE)
    return re.search(rf"^attributes #{entry.group(2)} = {{(.*)}}", text, re.MULTILINE).group(1)


def test_a_large_entry_is_compiled_without_optimisation(monkeypatch):
    """An entry function above LARGE_ENTRY instructions (a model's) is marked
    optnone, which cuts its compile time; a small one stays optimised. Both
    compute what NumPy does."""
    from jitc.backends.llvm import codegen
    rng = np.random.default_rng(3)
    args = (rng.standard_normal((4, 8)), rng.standard_normal((8, 8)), rng.standard_normal((8, 3)))
    small = jitc.script(two_layers)
    np.testing.assert_allclose(small(*args), two_layers(*args), rtol=1e-12)
    assert "optnone" not in _entry_attributes(small, *args)
    monkeypatch.setattr(codegen, "LARGE_ENTRY", 10)
    monkeypatch.setenv("JITC_DISABLE_CACHE", "1")
    large = jitc.script(two_scaled_layers)
    np.testing.assert_allclose(large(*args), two_scaled_layers(*args), rtol=1e-12)
    assert "optnone" in _entry_attributes(large, *args)
