"""The scripter's `if`, `for`, `return`, conditional expressions and
short-circuit operators: which variables leave a branch or a loop, how
their types join, and that the interpreted graph behaves as Python does."""
from __future__ import annotations

import numpy as np
import pytest

from jitc.frontend.scripter import script_graph
from jitc.ir.types import BOOL, INT, DType, ListType, TensorType
from support.script_checks import DTYPES, check_script, kinds, random_arrays

DEBUG = False


@pytest.mark.parametrize("dtype", DTYPES)
def test_if_elif_else_on_a_scalar_parameter(dtype):
    def scale(x, n: int):
        if n > 2:
            y = x * 2
        elif n == 2:
            y = x + 1
        else:
            y = -x
        return y * n

    x = random_arrays(np.random.default_rng(0), dtype, (3, 4))[0]
    graph = check_script(scale, *[(x, n) for n in (0, 2, 5)])
    assert kinds(graph).count("prim::If") == 2


@pytest.mark.parametrize("dtype", DTYPES)
def test_if_on_a_data_value_converts_a_0d_array_with_bool(dtype):
    def clip_positive(x):
        if x.sum() > 0:
            x = x - x.min()
        return x

    rng = np.random.default_rng(1)
    graph = check_script(clip_positive, *[random_arrays(rng, dtype, (n,)) for n in (1, 4, 9)],
                         (np.ones(3, dtype),), (-np.ones(3, dtype),))
    assert "prim::Bool" in kinds(graph)


def test_only_variables_read_after_the_if_become_outputs():
    def branches(x, flag: bool):
        y = x
        if flag:
            temporary = x * 2
            y = temporary + 1
            unused = x
        else:
            temporary = x * 3
            y = temporary - 1
            unused = x
        return y

    graph = check_script(branches, (np.arange(3.0), True), (np.arange(3.0), False))
    if_node = next(node for node in graph.walk() if node.kind == "prim::If")
    assert [v.name for v in if_node.outputs] == ["y"]


def test_a_variable_reassigned_before_any_read_is_not_merged():
    def reassigned(x, flag: bool):
        if flag:
            y = 1
        else:
            y = x
        y = x * 2
        return y

    graph = check_script(reassigned, (np.arange(3.0), True))
    assert [len(node.outputs) for node in graph.walk() if node.kind == "prim::If"] == [0]


def test_branch_types_join_across_shapes():
    def pick(x, flag: bool):
        if flag:
            y = x
        else:
            y = x.sum(axis=0)
        return y

    types = [TensorType(DType.FLOAT64, ("*", "*")), BOOL]
    graph = script_graph(pick, types)
    assert graph.returns[0].type == TensorType(DType.FLOAT64, None)
    check_script(pick, (np.ones((2, 3)), True), (np.ones((2, 3)), False), param_types=types)


def test_constant_conditions_compile_only_the_taken_branch():
    def debug_only(x):
        if DEBUG:
            x = np.tanh(x)
        if x is None:
            x = x + 1
        return x if not DEBUG else -x

    graph = check_script(debug_only, (np.arange(3.0),))
    assert kinds(graph) == []


@pytest.mark.parametrize("dtype", DTYPES)
def test_early_returns_in_branches(dtype):
    def early(x, n: int):
        """Several returns; the code after an if that returns joins its other branch."""
        if n > 3:
            return x + 1
        elif n > 1:
            y = x * 2
        else:
            y = x * 3
        if n == 2:
            return -y
        return y

    x = random_arrays(np.random.default_rng(2), dtype, (4,))[0]
    check_script(early, *[(x, n) for n in range(5)])


def test_returned_tuples_in_branches_become_several_outputs():
    def split(x, flag: bool):
        if flag:
            return x, x.sum()
        return -x, x.max()

    graph = check_script(split, (np.arange(3.0), True), (np.arange(3.0), False))
    assert len(graph.returns) == 2


def test_conditional_expression_and_short_circuit_operators():
    def logic(x, i: int, n: int):
        inside = i < n and bool(x[i] > 0)  # x[i] is not evaluated when i >= n
        outside = not (0 <= i < n) or bool(x[0] > x[-1])
        y = x[i] if i < n else x[0]
        return inside, outside, y, i > 0 and n > 0 and i < n, not i

    x = np.array([1.0, -2.0, 3.0])
    check_script(logic, *[(x, i, 3) for i in (-1, 0, 1, 2)], (x, 5, 3))


def test_and_or_give_python_bools():
    def positive_and_long(x, n: int):
        return x.sum() > 0 and n > 1, x.sum() > 0 or n > 1

    graph = script_graph(positive_and_long)
    assert [v.type for v in graph.returns] == [BOOL, BOOL]
    assert kinds(graph).count("prim::If") == 2


@pytest.mark.parametrize("start, stop, step", [(0, 5, 1), (2, 9, 3), (9, 2, -3), (5, 0, -1), (3, 3, 1),
                                               (5, 1, 2), (-4, 4, 3), (1, 5, -2)])
def test_range_loops_run_as_many_iterations_as_python(start, stop, step):
    def accumulate(x, start: int, stop: int):
        total = x * 0
        count = 0
        for i in range(start, stop, step):  # the step is a closure variable: a constant
            total = total + x * i
            count += 1
        return total, count

    check_script(accumulate, (np.arange(3.0), start, stop))


def test_range_with_one_and_two_arguments_and_constant_bounds():
    def sums(x, n: int):
        a = 0
        for i in range(n):
            a = a + i
        b = 0
        for j in range(2, n):
            b += j
        c = x
        for k in range(3):
            c = c * 2
        return a, b, c

    graph = check_script(sums, *[(np.ones(2), n) for n in (-1, 0, 1, 5)])
    loops = [node for node in graph.walk() if node.kind == "prim::Loop"]
    assert loops[0].inputs[0] is graph.params[1]  # range(n) needs no arithmetic


def test_range_of_an_integer_array_converts_it_with_int():
    def repeat(x, times):
        for i in range(times):
            x = x * 2
        return x

    graph = check_script(repeat, (np.ones(2), np.array(3)), (np.ones(2), np.int64(0)))
    assert "prim::Int" in kinds(graph)


@pytest.mark.parametrize("dtype", DTYPES)
def test_nested_loops_over_rows_and_columns(dtype):
    def pairwise(x):
        n = x.shape[0]
        out = x[0] * 0
        for i in range(n):
            for j in range(i + 1, n):
                out = out + x[i] * x[j]
        return out

    rng = np.random.default_rng(3)
    check_script(pairwise, *[random_arrays(rng, dtype, (n, 3)) for n in (1, 2, 5)])


def test_loops_with_lists_append_extend_and_index():
    def collect(x, steps: int):
        rows = []
        pairs = []
        for t in range(steps):
            rows.append(x * t)
            pairs.extend([x, -x])
        last = rows[-1] if len(rows) > 0 else x
        return np.stack(rows), np.concatenate(pairs), last, len(pairs)

    graph = check_script(collect, *[(np.arange(3.0), steps) for steps in (1, 4)])
    loop = next(node for node in graph.walk() if node.kind == "prim::Loop")
    assert [v.type for v in loop.outputs] == [ListType(TensorType()), ListType(TensorType())]


def test_list_parameter_indexed_in_a_loop():
    def total(xs: list[np.ndarray]):
        acc = xs[0]
        for i in range(1, len(xs)):
            acc = acc + xs[i]
        return acc

    rng = np.random.default_rng(4)
    check_script(total, ([rng.random(3) for _ in range(4)],), ([rng.random(2)],))


def test_a_variable_first_assigned_in_the_body_and_not_read_after_is_fine():
    def body_local(x, n: int):
        for i in range(n):
            step = x * i
            x = x + step
        return x

    graph = check_script(body_local, (np.ones(2), 3), (np.ones(2), 0))
    loop = next(node for node in graph.walk() if node.kind == "prim::Loop")
    assert [v.name for v in loop.outputs] == ["x"]


def test_loop_variable_defined_before_the_loop_keeps_its_last_value():
    def last_index(x, n: int):
        i = -1
        for i in range(n):
            x = x + 1
        return x, i

    check_script(last_index, (np.ones(2), 0), (np.ones(2), 4))


def test_if_inside_a_loop_carries_the_variables_it_assigns():
    def relu_steps(x, n: int):
        h = x
        for t in range(n):
            if t % 2 == 0:
                h = np.maximum(h, 0.0) + t
            else:
                h = h - 1
        return h

    rng = np.random.default_rng(5)
    check_script(relu_steps, *[(rng.standard_normal(4), n) for n in (0, 1, 4)])


def test_loop_widens_carried_tensor_types_to_a_fixed_point():
    def grow(x):
        for i in range(3):
            x = x[None]
        return x

    graph = script_graph(grow, [TensorType(DType.FLOAT64, (2,))])
    loop = next(node for node in graph.walk() if node.kind == "prim::Loop")
    assert loop.outputs[0].type == TensorType(DType.FLOAT64, None)
    assert loop.blocks[0].params[0].type == INT
    check_script(grow, (np.ones(2),), param_types=[TensorType(DType.FLOAT64, (2,))])
