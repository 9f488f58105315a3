"""The statements of `jitc.script` beyond `if` and `for ... in range`:
`while`, `break`, `continue`, `return` inside loops, `assert`, `for` over
tuples, lists, arrays, `zip` and `enumerate`, star-unpacking, and writes
into arrays with NumPy's aliasing (views, names bound to one array, and
the caller's arrays). Every function runs scripted on both backends, on
several sizes and both float dtypes, against its own eager run on copies
of the same arguments; the arguments must end up as eager leaves them."""
from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jitc
from jitc.errors import ScriptError
from jitc.frontend.script_loops import WHILE_TRIP_COUNT
from jitc.ir.parser import parse_graph
from support.backend_checks import assert_owned, scripted
from support.compare import assert_same
from support.script_checks import DTYPES, copy_arguments, kinds

pytestmark = pytest.mark.filterwarnings("error::jitc.CompileWarning")
BACKENDS = ["llvm", "interpreter"]
SIZES = (1, 3, 8)
def check_both(function, *argument_sets, rtol=None):
    """Each argument tuple through eager NumPy and the function scripted for
    each backend, each on its own copy: same results, same arguments after
    the call, and results that own their memory."""
    for args in argument_sets:
        eager_args = copy_arguments(args)
        with np.errstate(all="ignore"):
            expected = function(*eager_args)
        for backend in BACKENDS:
            compiled_args = copy_arguments(args)
            actual = scripted(function, backend)(*compiled_args)
            assert_same(actual, expected, rtol, rtol, path=f"{backend} result")
            assert_same(compiled_args, eager_args, rtol, rtol, path=f"{backend} arguments after the call")
            assert_owned(actual, compiled_args)


def normal(rng, dtype, *shape):
    return rng.standard_normal(shape).astype(dtype)


def graph_of(function, *args):
    return scripted(function, "interpreter").graph_for(*args)


# -- while -------------------------------------------------------------------------------------------
def halve_until_small(x):
    steps = 0
    while np.abs(x).max() > 1.0:
        x = x / 2
        steps += 1
    return x, steps


def count_down(x, n: int):
    total = x * 0
    while n > 0:
        total = total + x * n
        n -= 1
    return total, n


def while_true_with_break(x, limit: int):
    i = 0
    while True:
        if i >= limit:
            break
        x = np.tanh(x) + i
        i += 1
    return x, i


@pytest.mark.parametrize("dtype", DTYPES)
def test_while_loops(dtype):
    rng = np.random.default_rng(0)
    check_both(halve_until_small, *[(normal(rng, dtype, n) * 10,) for n in SIZES], (np.zeros(3, dtype),))
    check_both(count_down, *[(normal(rng, dtype, n), k) for n, k in zip(SIZES, (0, 1, 5))], (np.ones(2, dtype), -2))
    check_both(while_true_with_break, *[(normal(rng, dtype, n, 2), k) for n, k in zip(SIZES, (0, 1, 4))])


def test_a_while_loop_is_a_prim_loop_that_tests_again_at_the_end_of_its_body():
    graph = scripted(count_down, "interpreter").graph
    loop = next(node for node in graph.walk() if node.kind == "prim::Loop")
    assert loop.inputs[0].producer.attributes["value"] == WHILE_TRIP_COUNT
    condition = loop.blocks[0].returns[0]
    assert condition.producer is not None and condition.producer.block is loop.blocks[0]


def test_a_while_loop_whose_test_is_false_now_is_not_compiled():
    def never(x):
        while False:
            x = x + 1
        return x

    check_both(never, (np.ones(3),))
    assert "prim::Loop" not in kinds(scripted(never, "interpreter").graph)


# -- break and continue ---------------------------------------------------------------------------------
def first_index_above(x, threshold: float):
    found = -1
    for i in range(x.shape[0]):
        if x[i] > threshold:
            found = i
            break
    return found


def skip_odd_rows(x):
    total = x[0] * 0
    for i in range(x.shape[0]):
        if i % 2 == 1:
            continue
        total = total + x[i]
    return total


def nested_break(x):
    """The inner break leaves only the inner loop."""
    counts = []
    total = 0.0
    for i in range(x.shape[0]):
        count = 0
        for j in range(x.shape[1]):
            if x[i, j] < 0:
                break
            count += 1
            total = total + float(x[i, j])
        counts.append(count)
    return counts, total


def break_and_continue(x, stop_at: int):
    acc = np.zeros_like(x[0])
    for i in range(x.shape[0]):
        if i == stop_at:
            break
        if x[i].sum() < 0:
            continue
        acc = acc + x[i]
        acc = acc * 0.5
    return acc


def while_in_for_with_continue(x):
    steps = []
    for i in range(x.shape[0]):
        row = x[i]
        if row.sum() < 0:
            continue
        count = 0
        while row.max() > 1.0:
            row = row / 2
            count += 1
        steps.append(count)
    return steps


@pytest.mark.parametrize("dtype", DTYPES)
def test_break_on_the_first_middle_and_last_iteration_and_never(dtype):
    x = np.arange(6, dtype=dtype)
    check_both(first_index_above, *[(x, threshold) for threshold in (-1.0, 2.5, 4.5, 10.0)], (x[:0], 0.0))


@pytest.mark.parametrize("dtype", DTYPES)
def test_continue_and_nested_break(dtype):
    rng = np.random.default_rng(1)
    check_both(skip_odd_rows, *[(normal(rng, dtype, n, 3),) for n in SIZES])
    check_both(nested_break, *[(normal(rng, dtype, n, 4) + 0.5,) for n in SIZES], (np.ones((2, 3), dtype),))
    check_both(break_and_continue, *[(normal(rng, dtype, n, 2), k) for n, k in zip(SIZES, (0, 2, 5))])
    check_both(while_in_for_with_continue, *[(normal(rng, dtype, n, 3) * 4,) for n in SIZES])


def test_break_makes_the_loop_condition():
    graph = scripted(first_index_above, "interpreter").graph
    loop = next(node for node in graph.walk() if node.kind == "prim::Loop")
    condition = loop.blocks[0].returns[0]
    assert condition.producer is not None and condition.producer.kind != "prim::Constant"
    assert any(node.kind == "prim::If" and node.outputs for node in loop.blocks[0].nodes)  # merges the flag


# -- return inside loops ---------------------------------------------------------------------------------
def find_row(x, target: float):
    for i in range(x.shape[0]):
        if x[i].max() > target:
            return i, x[i] * 2
    return -1, x[0] * 0


def return_from_nested_loops(x):
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            if x[i, j] > 1.0:
                return x[i] * j
        x = x * 1.5
    return x[0]


def return_in_while(x):
    k = 0
    while k < 100:
        if x.sum() > 10:
            return x, k
        x = x + 1
        k += 1
    return x, -1


def return_first_iteration(x, n: int):
    for i in range(n):
        return x * i
    return -x


@pytest.mark.parametrize("dtype", DTYPES)
def test_returns_from_loops(dtype):
    rng = np.random.default_rng(2)
    check_both(find_row, *[(normal(rng, dtype, n, 3), t) for n in SIZES for t in (-5.0, 0.5, 50.0)])
    check_both(return_from_nested_loops, *[(normal(rng, dtype, n, 4),) for n in SIZES], (np.zeros((2, 2), dtype),))
    check_both(return_in_while, *[(normal(rng, dtype, n),) for n in SIZES])
    check_both(return_first_iteration, *[(normal(rng, dtype, 3), n) for n in (0, 1, 3)])


# -- assert -----------------------------------------------------------------------------------------------
def checked_mean(x):
    assert x.shape[0] > 0, "needs rows"
    assert np.isfinite(x).all()
    return x.mean(axis=0)


def assert_only_when_reached(x, check: bool):
    if check:
        assert False, "reached"
    assert True
    return x + 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_assert_passes_and_fails_naming_the_source_line(backend):
    compiled = scripted(checked_mean, backend)
    assert_same(compiled(np.ones((3, 2))), checked_mean(np.ones((3, 2))))
    line = checked_mean.__code__.co_firstlineno
    with pytest.raises(AssertionError, match=re.escape(f"needs rows (at {__file__}:{line + 1})")):
        compiled(np.ones((0, 2)))
    bad = np.ones((2, 2))
    bad[1, 1] = np.nan
    with pytest.raises(AssertionError, match=re.escape(f"assert np.isfinite(x).all() (at {__file__}:{line + 2})")):
        compiled(bad)
    assert_same(compiled(np.ones((3, 2)) * 2), checked_mean(np.ones((3, 2)) * 2))


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_assert_known_false_raises_only_when_reached(backend):
    compiled = scripted(assert_only_when_reached, backend)
    assert_same(compiled(np.ones(2), False), np.ones(2) + 1)
    with pytest.raises(AssertionError, match="reached"):
        compiled(np.ones(2), True)
    graph = compiled.graph
    assert kinds(graph).count("prim::Assert") == 1  # `assert True` emits nothing


# -- Python scalars that a loop turns into NumPy scalars ------------------------------------------------------
def running_total(x):
    total = 0.0
    for i in range(x.shape[0]):
        total = total + x[i]
    return total


def counts_positive_rows(x):
    count = 0
    for row in x:
        count += row.sum() > 0
    return count


def running_maximum(x):
    best = 0
    for i in range(x.shape[0]):
        best = np.maximum(best, x[i])
    return best


def zero_d_plus_one(x):
    s = x.sum()
    i = 0
    while i < 3:
        s += 1
        i += 1
    return s


def test_a_python_scalar_a_loop_turns_into_a_numpy_scalar_enters_as_one():
    """`total = 0.0; total = total + x[i]`: the loop carries a 0-d array of
    the dtype NumPy gives after one iteration (the weak scalar promotes to
    it), so float32 stays float32."""
    rng = np.random.default_rng(3)
    for dtype in DTYPES:
        check_both(running_total, *[(normal(rng, dtype, n),) for n in (1, 4)])
    check_both(counts_positive_rows, *[(normal(rng, np.float32, n, 2),) for n in (1, 4)])
    check_both(running_maximum, *[(normal(rng, np.float32, n),) for n in (1, 4)])
    check_both(zero_d_plus_one, *[(normal(rng, np.float32, n),) for n in (1, 4)])


# -- raise ------------------------------------------------------------------------------------------------
def checked_rows(x):
    if x.shape[0] == 0:
        raise ValueError("checked_rows needs at least one row")
    return x.mean(axis=0)


def positive_sum(x):
    total = 0.0
    for i in range(x.shape[0]):
        if x[i] < 0:
            raise ValueError(f"negative entry in an array of {x.ndim} dimension")
        total = total + x[i]
    return total


def matrix_rows(x):
    if x.ndim == 2:
        rows = x.sum(axis=1)
    else:
        raise TypeError(f"matrix_rows expects a matrix, got {x.ndim} dimension(s)")
    return rows


def scaled_or_raise(x, n: int):
    if n > 0:
        return x * n
    raise RuntimeError(f"n must be positive, got n = {n}")


def message_made_at_run_time(x):
    if x.shape[0] > 2:
        raise IndexError(f"{x.shape[0]} rows is too many")
    return x


@pytest.mark.parametrize("backend", BACKENDS)
def test_raise_raises_its_exception_naming_the_source_line(backend):
    rng = np.random.default_rng(7)
    for dtype in DTYPES:
        check_both(checked_rows, (normal(rng, dtype, 3, 2),))
        check_both(positive_sum, (np.abs(normal(rng, dtype, 4)),))
        check_both(matrix_rows, (normal(rng, dtype, 2, 3),))
        check_both(scaled_or_raise, (normal(rng, dtype, 3), 2))
    cases = [(checked_rows, (np.ones((0, 2)),), ValueError, "checked_rows needs at least one row", 2),
             (positive_sum, (np.array([1.0, -1.0]),), ValueError, "negative entry in an array of 1 dimension", 4),
             (matrix_rows, (np.ones(3),), TypeError, "matrix_rows expects a matrix, got 1 dimension(s)", 4),
             # values known only at run time leave the message as its source text
             (scaled_or_raise, (np.ones(2), 0), RuntimeError, "f'n must be positive, got n = {n}'", 3),
             (message_made_at_run_time, (np.ones(3),), IndexError, "f'{x.shape[0]} rows is too many'", 2)]
    for function, args, error, message, offset in cases:
        with pytest.raises(Exception) as eager:
            function(*args)
        assert type(eager.value) is error
        line = function.__code__.co_firstlineno + offset
        with pytest.raises(error, match=re.escape(f"{message} (at {__file__}:{line})")):
            scripted(function, backend)(*args)
    assert "prim::Assert" not in kinds(scripted(matrix_rows, backend).graph_for(np.ones((2, 2))))


# -- for over tuples, lists, arrays, zip and enumerate ----------------------------------------------------
LAYERS = [(np.full((3, 3), 0.5), np.ones(3)), (np.eye(3), np.arange(3.0))]


def apply_layers(x):
    for w, b in LAYERS:
        x = np.tanh(x @ w + b)
    return x


def over_a_tuple_of_different_shapes(x):
    total = 0.0
    for part in (x, x[1:], x[:, None]):
        total = total + part.sum()
    return total


def over_a_list_parameter(xs: list[np.ndarray]):
    total = xs[0] * 0
    for item in xs:
        total = total + item
    return total


def over_rows(x):
    norms = []
    for row in x:
        norms.append(np.sqrt((row ** 2).sum()))
    return np.stack(norms) if len(norms) > 0 else x.sum(axis=1)


def enumerate_and_zip(x, y):
    total = x[0] * 0
    for i, (a, b) in enumerate(zip(x, y)):
        total = total + a * b * i
    return total


def zip_of_split_lists(x):
    parts = np.split(x, 2, axis=1)
    heads = [p * 2 for p in parts]
    out = []
    for a, b in zip(*[parts, heads]):
        out.append(a + b)
    return np.concatenate(out, axis=1)


def star_unpacking(x):
    first, *middle, last = np.split(x, 4, axis=0)
    head, *rest = (x, x * 2, x * 3)
    return first + last, len(middle), np.stack(rest), head


def nested_helper(x, scale: float):
    def step(v, k=2.0):
        """A one-return helper: inlined where it is called."""
        return np.tanh(v * scale) * k

    for i in range(3):
        x = step(x) + i
    return step(x, 1.0)


def break_in_unrolled_loop(x, limit: float):
    total = x * 0
    for scale in (1.0, 2.0, 3.0, 4.0):
        if total.sum() > limit:
            break
        total = total + x * scale
    return total


@pytest.mark.parametrize("dtype", DTYPES)
def test_for_over_sequences(dtype):
    rng = np.random.default_rng(3)
    check_both(apply_layers, *[(normal(rng, np.float64, n, 3),) for n in SIZES])
    check_both(over_a_tuple_of_different_shapes, *[(normal(rng, dtype, n, 2),) for n in SIZES])
    check_both(over_a_list_parameter, *[([normal(rng, dtype, 3) for _ in range(n)],) for n in SIZES])
    check_both(over_rows, *[(normal(rng, dtype, n, 4),) for n in SIZES], (np.ones((0, 4), dtype),))
    check_both(enumerate_and_zip, *[(normal(rng, dtype, n, 2), normal(rng, dtype, n + 1, 2)) for n in SIZES])
    check_both(zip_of_split_lists, *[(normal(rng, dtype, n, 4),) for n in SIZES])
    check_both(star_unpacking, *[(normal(rng, dtype, 4 * n, 2),) for n in SIZES])
    check_both(nested_helper, *[(normal(rng, dtype, n), 0.5) for n in SIZES])
    check_both(break_in_unrolled_loop, *[(normal(rng, dtype, n) + 1, limit) for n in SIZES for limit in (-1.0, 2.0)])


def test_graphs_with_loop_exits_asserts_and_writes_print_and_parse_back():
    for function, args in ((find_row, (np.ones((3, 2)), 0.5)), (checked_mean, (np.ones((3, 2)),)),
                           (write_parameter, (np.ones(3), np.ones(3))), (nested_break, (np.ones((2, 3)),))):
        for graph in (scripted(function, "interpreter").graph, graph_of(function, *args)):
            text = str(graph)
            assert str(parse_graph(text, graph.tensors)) == text
    assert "prim::Uninitialized" in str(scripted(find_row, "interpreter").graph)


def test_tuples_and_known_lists_are_unrolled_and_list_values_looped():
    assert "prim::Loop" not in kinds(scripted(apply_layers, "interpreter").graph)
    assert "prim::Loop" not in kinds(scripted(over_a_tuple_of_different_shapes, "interpreter").graph)
    graph = scripted(over_a_list_parameter, "interpreter").graph
    loop = next(node for node in graph.walk() if node.kind == "prim::Loop")
    assert loop.inputs[0].producer.kind == "prim::ListLen"
    assert "prim::ListIndex" in [node.kind for node in loop.blocks[0].nodes]


# -- writes into arrays -----------------------------------------------------------------------------------
def fill_rows(x):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        out[i] = x[i] * i
        out[i, 0] += 1.0
    return out


def border(x):
    out = x * 0
    out[1:-1, 1:] = x[1:-1, :-1] * 2
    out[0] = -1.0
    return out


def nested_subscript_writes(a):
    a[1:][0] = 5.0  # a[1:] is a view: writes a[1]
    a[-1][...] = -1.0
    return a * 1


def set_list_items(x):
    items = [x, x * 2, x * 3]
    items[1] = x * 10
    items[-1] = items[-1] + x
    counts = [0, 1]
    counts[0] += 5
    return np.stack(items) * counts[0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_element_and_slice_assignment(dtype):
    rng = np.random.default_rng(4)
    check_both(fill_rows, *[(normal(rng, dtype, n, 3),) for n in SIZES])
    check_both(border, *[(normal(rng, dtype, n, 4),) for n in SIZES])
    check_both(set_list_items, *[(normal(rng, dtype, n),) for n in SIZES])
    check_both(nested_subscript_writes, *[(normal(rng, dtype, n, 2),) for n in (2, 3, 8)])


def write_parameter(a, b):
    a[:] = b * 2
    return a.sum()


def write_parameter_in_a_loop(a, n: int):
    for i in range(n):
        a[i % a.shape[0]] += i
    return None


def add_in_place(a, b):
    a += b
    b = b * 2  # rebinding a parameter does not touch the caller's array
    return b


def write_rows_of_parameter(a):
    for row in a:
        row *= 2
    return a.sum()


def write_in_one_branch(a, flag: bool):
    if flag:
        a[0] = -1.0
    return a * 1


def return_before_write(a, n: int):
    for i in range(a.shape[0]):
        if i == n:
            return a.sum()
        a[i] = 0
    return a.sum() - 100.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_writes_into_parameters_change_the_callers_arrays(dtype):
    rng = np.random.default_rng(5)
    check_both(write_parameter, *[(normal(rng, dtype, n), normal(rng, dtype, n)) for n in SIZES])
    check_both(write_parameter_in_a_loop, *[(normal(rng, dtype, n), k) for n, k in zip(SIZES, (0, 2, 20))])
    check_both(add_in_place, *[(normal(rng, dtype, n, 2), normal(rng, dtype, 2)) for n in SIZES])
    check_both(write_rows_of_parameter, *[(normal(rng, dtype, n, 3),) for n in SIZES])
    check_both(write_in_one_branch, *[(normal(rng, dtype, n), flag) for n in SIZES for flag in (True, False)])
    check_both(return_before_write, *[(normal(rng, dtype, 4), n) for n in (0, 2, 7)])


def test_a_parameter_written_into_is_copied_into_once_at_the_end():
    graph = graph_of(write_parameter, np.ones(3), np.ones(3))
    assert kinds(graph).count("prim::CopyInto") == 1
    assert graph.block.nodes[-1].kind == "prim::CopyInto"
    assert "prim::CopyInto" not in kinds(graph_of(halve_until_small, np.ones(2)))  # it rebinds x


def view_write(x):
    y = x.copy()
    tail = y[1:]
    tail[0] = 5.0
    column = y.T[0]
    column += 1.0
    return y, tail


def alias_add(x):
    a = x * 1
    b = a
    b += 1.0
    c = a[None]
    c *= 2.0
    return a, b, c


def view_written_in_a_loop(x):
    out = np.zeros((x.shape[0] + 2, x.shape[1]), dtype=x.dtype)
    inner = out[1:-1]
    for i in range(x.shape[0]):
        inner[i] = x[i] + i
    return out, inner


def view_written_in_a_branch(x, flag: bool):
    out = np.zeros_like(x)
    inner = out[1:]
    if flag:
        inner[0] = 1.0
    out[0] = 5.0  # inner is still a view of out after the if
    inner[-1] += 2.0
    return inner, out


def view_of_a_parameter(a):
    head = a[:2]
    head += 10.0
    return a.sum()


def copies_are_not_views(x):
    kept, asarray_view = np.array(x), np.asarray(x)
    kept[0] = 100.0
    asarray_view[-1] = -1.0  # np.asarray of an array is the array itself: the caller sees this
    return kept, np.array(x, dtype=np.float64), np.array(x, copy=False)


@pytest.mark.parametrize("dtype", DTYPES)
def test_np_array_copies_and_np_asarray_does_not(dtype):
    rng = np.random.default_rng(7)
    check_both(copies_are_not_views, *[(normal(rng, dtype, n),) for n in SIZES])


@pytest.mark.parametrize("dtype", DTYPES)
def test_views_and_names_of_one_array_see_writes(dtype):
    rng = np.random.default_rng(6)
    check_both(view_write, *[(normal(rng, dtype, n, 3),) for n in (2, 3, 8)])
    check_both(alias_add, *[(normal(rng, dtype, n),) for n in SIZES])
    check_both(view_written_in_a_loop, *[(normal(rng, dtype, n, 2),) for n in SIZES])
    check_both(view_of_a_parameter, *[(normal(rng, dtype, n),) for n in SIZES])
    check_both(view_written_in_a_branch, *[(normal(rng, dtype, n), flag) for n in (2, 5) for flag in (True, False)])


def swap_rows(a):
    a[0], a[1] = a[1].copy(), a[0].copy()
    return a[0] - a[1]


def test_a_result_is_computed_before_the_parameter_is_written():
    def keep_old(a):
        old = a * 1.0
        a[0] = 100.0
        return old, a[0] * 1

    check_both(keep_old, (np.arange(3.0),), (np.arange(5.0),))
    check_both(swap_rows, (np.arange(6.0).reshape(3, 2),))


def test_scripted_code_refuses_a_read_only_argument_it_writes_into():
    for backend in BACKENDS:
        array = np.ones(3)
        array.setflags(write=False)
        with pytest.raises(ValueError, match="read-only"):
            scripted(write_parameter, backend)(array, np.ones(3))


def write_from_other(a, b):
    a[:] = b * 2
    return b.sum()


def add_into(a, b):
    a += b
    return a


def test_arguments_that_overlap_one_written_into_are_refused():
    """f(x, x) or f(x, x[1:]) where f writes into one of them: NumPy's
    result depends on the order of reads and writes, which compiled code
    does not keep, so the call is a ValueError naming both parameters;
    arrays that only look close (interleaved halves) are fine."""
    message = ("write_from_other(): arguments 'a' and 'b' share memory, and write_from_other writes into 'a'; "
               "compiled code reads every argument as it was at the call, where NumPy's result could differ: "
               "pass a copy as 'b'")
    for backend in BACKENDS:
        x = np.arange(4.0)
        fresh = jitc.script(write_from_other, backend=backend)
        with pytest.raises(ValueError, match=re.escape(message)):
            fresh(x, x)  # the first call: checked once the version that writes is compiled
        assert_same(x, np.arange(4.0))
        with pytest.raises(ValueError, match="arguments 'a' and 'b' share memory"):
            fresh(x[:3], x[1:])
        with pytest.raises(ValueError, match="arguments 'a' and 'b' share memory"):
            fresh(a=x[1:], b=x[:3])
        with pytest.raises(ValueError, match="add_into writes into 'a'"):
            scripted(add_into, backend)(x, x[::-1])
        eager = np.arange(6.0)
        expected = add_into(eager[::2], eager[1::2])
        compiled = np.arange(6.0)
        assert_same(scripted(add_into, backend)(compiled[::2], compiled[1::2]), expected)
        assert_same(compiled, eager)


@settings(max_examples=40)
@given(st.tuples(*[st.integers(0, 6)] * 2), st.integers(1, 3), st.sampled_from([1, -1]), st.sampled_from(BACKENDS))
def test_views_of_one_array_match_numpy_or_are_refused(starts, length, step, backend):
    """Two views of one base array passed to a function that writes into
    the first: NumPy's result when they share no memory, else the ValueError."""
    def views(base):
        return tuple(base[start:start + length][::step] for start in starts)

    eager_base, compiled_base = np.arange(10.0), np.arange(10.0)
    a, b = views(compiled_base)
    if np.shares_memory(a, b):
        with pytest.raises(ValueError, match="arguments 'a' and 'b' share memory"):
            scripted(add_into, backend)(a, b)
        assert_same(compiled_base, eager_base)
    else:
        assert_same(scripted(add_into, backend)(a, b), add_into(*views(eager_base)))
        assert_same(compiled_base, eager_base)


def test_unsupported_writes_say_why():
    def ambiguous(a, b, flag: bool):
        y = a if flag else b
        y[0] = 1.0
        return a

    with pytest.raises(ScriptError, match="may or may not be the same array"):
        jitc.script(ambiguous, backend="interpreter")(np.ones(2), np.ones(2), True)
