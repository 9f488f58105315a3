"""Errors from LLVM-compiled code: what NumPy or Python raises on the same
values, raised as the same exception type (with NumPy's wording where it
matters), and never a crash. Cases that could kill the process when the
backend gets them wrong (integer division by zero, wild indices) run in a
child process, so a crash fails one test instead of the whole suite.

Call-time type checks belong to the dispatcher; they are tested here too,
with the LLVM backend behind them.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import jitc
from jitc.ir.interpreter import run_graph
from support.backend_checks import BACKEND, scripted
from support.compare import assert_same

pytestmark = pytest.mark.filterwarnings("error::jitc.CompileWarning")


def raises_like_eager(function, args, error, match=None, valid=None):
    """The eager function raises `error` on `args`, and so does the
    compiled one; it still gives eager's result on `valid` afterwards."""
    compiled = scripted(function)
    if valid is not None:  # compile on good arguments first: the error must come at run time
        assert_same(compiled(*valid), function(*valid))
    with np.errstate(all="ignore"):
        with pytest.raises(error, match=match):
            function(*args)
    with pytest.raises(error, match=match) as info:
        compiled(*args)
    if valid is not None:
        assert_same(compiled(*valid), function(*valid))
        assert_same(compiled.pack(run_graph(compiled.graph_for(*valid), *valid)), function(*valid))
    return info.value


# -- broadcasting ----------------------------------------------------------------------------------------
def add(x, y):
    return x + y


def where3(c, x, y):
    return np.where(c, x, y)


def chain(x, y, z):
    return np.tanh(x) * 2 + y - z


BROADCAST = "operands could not be broadcast together"


@pytest.mark.parametrize("shapes", [((3,), (4,)), ((2, 3), (3, 2)), ((2, 3), (2,)), ((0,), (2,)),
                                    ((4, 3), (5, 3))], ids=str)
def test_broadcast_mismatch_at_call_time_raises_value_error(shapes):
    a, b = (np.ones(s) for s in shapes)
    valid = (np.ones(shapes[0]), np.ones(shapes[0]))
    raises_like_eager(add, (a, b), ValueError, BROADCAST, valid=valid)


def test_broadcast_mismatch_deeper_in_the_graph_and_in_where():
    raises_like_eager(chain, (np.ones((2, 3)), np.ones(3), np.ones(4)), ValueError, BROADCAST,
                      valid=(np.ones((2, 3)), np.ones(3), np.ones(3)))
    raises_like_eager(where3, (np.ones(3, bool), np.ones(4), 0.0), ValueError, BROADCAST,
                      valid=(np.ones(4, bool), np.ones(4), 0.0))


def broadcast_to(x, n: int):
    return np.broadcast_to(x, (2, n))


def test_broadcast_to_an_incompatible_shape():
    raises_like_eager(broadcast_to, (np.ones(3), 4), ValueError, "broadcast", valid=(np.ones(3), 3))


def joins(x, y):
    return np.concatenate([x, y]), np.stack([x, y])


def test_joining_arrays_of_mismatched_shapes():
    raises_like_eager(joins, (np.ones((2, 3)), np.ones((2, 4))), ValueError, None,
                      valid=(np.ones((2, 3)), np.ones((2, 3))))


def stack_loop(x, n: int):
    ys = []
    for i in range(n):
        ys.append(x * i)
    return np.stack(ys)


def test_stacking_an_empty_list_raises_value_error():
    raises_like_eager(stack_loop, (np.ones(3), 0), ValueError, "need at least one array",
                      valid=(np.ones(3), 2))


# -- indexing --------------------------------------------------------------------------------------------
def select(x, i: int):
    return x[i]


def select_column(x, j: int):
    return x[:, j] * 2


def list_index(x, i: int):
    parts = [x, x * 2, x * 3]
    return parts[i]


def index_in_loop(x, n: int):
    total = x[0] * 0
    for i in range(n):
        total = total + x[i]
    return total


@pytest.mark.parametrize("index", [3, -4, 7])
def test_out_of_bounds_index_raises_index_error(index):
    x = np.arange(3.0)
    raises_like_eager(select, (x, index), IndexError, "out of bounds", valid=(x, -3))
    m = np.arange(6.0).reshape(2, 3)
    raises_like_eager(select_column, (m, index), IndexError, "out of bounds", valid=(m, 2))
    raises_like_eager(list_index, (x, index), IndexError, None, valid=(x, -1))


def test_out_of_bounds_index_inside_a_loop():
    x = np.arange(8.0).reshape(4, 2)
    raises_like_eager(index_in_loop, (x, 5), IndexError, "out of bounds", valid=(x, 4))


def test_indexing_an_empty_axis():
    raises_like_eager(select, (np.zeros((0, 3)), 0), IndexError, "out of bounds", valid=(np.zeros((2, 3)), 1))


def slice_step(x, step: int):
    return x[::step]


def test_zero_slice_step_raises_value_error():
    raises_like_eager(slice_step, (np.arange(4.0), 0), ValueError, "slice step cannot be zero",
                      valid=(np.arange(4.0), -2))


def unpack_two(xs: list[np.ndarray]):
    a, b = xs
    return a - b


def test_unpacking_a_list_of_the_wrong_length_raises_value_error():
    compiled = scripted(unpack_two)
    assert_same(compiled([np.ones(2), np.zeros(2)]), np.ones(2))
    for xs in ([np.ones(2)], [np.ones(2)] * 3):
        with pytest.raises(ValueError):
            unpack_two(xs)
        with pytest.raises(ValueError):
            compiled(xs)


# -- shapes ----------------------------------------------------------------------------------------------
def reshape(x, n: int):
    return x.reshape(n, -1)


def reshape_fixed(x, n: int, m: int):
    return x.reshape(n, m)


def test_reshape_to_an_impossible_size_raises_value_error():
    x = np.arange(6.0)
    raises_like_eager(reshape, (x, 4), ValueError, "cannot reshape", valid=(x, 3))
    raises_like_eager(reshape, (x, 0), ValueError, "cannot reshape", valid=(x, 2))
    raises_like_eager(reshape_fixed, (x, 4, 2), ValueError, "cannot reshape", valid=(x, 2, 3))
    raises_like_eager(reshape_fixed, (x.reshape(2, 3).T, 5, 1), ValueError, "cannot reshape",
                      valid=(x.reshape(2, 3).T, 3, 2))
    raises_like_eager(reshape_fixed, (x, -2, -3), ValueError, None, valid=(x, 6, 1))


def zeros(n: int):
    return np.zeros((n, 2))


def test_negative_dimensions_raise_value_error():
    raises_like_eager(zeros, (-1,), ValueError, "negative dimensions", valid=(3,))


def matmul(a, b):
    return a @ b


@pytest.mark.parametrize("shapes, valid", [
    (((2, 3), (4, 2)), (3, 2)), (((3,), (4,)), (3,)), (((2, 3), (2,)), (3,)), (((5, 2, 3), (4, 3, 2)), (5, 3, 2)),
    (((3, 2, 3), (2, 3, 2)), (1, 3, 2)), (((0, 3), (4, 1)), (3, 1))], ids=str)
def test_matmul_dimension_mismatch_raises_value_error(shapes, valid):
    a, b = (np.ones(s) for s in shapes)
    raises_like_eager(matmul, (a, b), ValueError, None, valid=(a, np.ones(valid)))


def reduce_max(x):
    return x.max(axis=0), np.argmin(x)


def test_reductions_with_no_identity_on_empty_arrays():
    raises_like_eager(reduce_max, (np.zeros((0, 2)),), ValueError, None, valid=(np.ones((2, 2)),))


# -- arithmetic ------------------------------------------------------------------------------------------
def int_floor_divide(a: int, b: int):
    return a // b


def int_modulo(a: int, b: int):
    return a % b


def float_divide(f: float, g: float):
    return f / g


def test_python_int_division_by_zero_raises_zero_division_error():
    raises_like_eager(int_floor_divide, (5, 0), ZeroDivisionError, None, valid=(5, -2))
    raises_like_eager(int_modulo, (5, 0), ZeroDivisionError, None, valid=(-5, 3))
    raises_like_eager(float_divide, (1.5, 0.0), ZeroDivisionError, None, valid=(1.5, 0.5))


def int_power(x, e):
    return x ** e


def scalar_power(a: int, e: int):
    return a ** e


def test_integers_to_negative_integer_powers_raise_value_error():
    x = np.arange(1, 4)
    raises_like_eager(int_power, (x, np.array([1, -1, 2])), ValueError, "negative integer powers",
                      valid=(x, np.array([1, 0, 2])))
    raises_like_eager(int_power, (x, -2), ValueError, "negative integer powers", valid=(x, 2))
    compiled = scripted(scalar_power)  # Python gives 0.5, a float where the IR types an int: an error
    assert compiled(2, 5) == 32
    with pytest.raises(ValueError):
        compiled(2, -1)


def to_int(x):
    return int(x.sum())


def test_int_of_nan_and_inf():
    raises_like_eager(to_int, (np.array([np.nan, 1.0]),), ValueError, "NaN", valid=(np.array([2.5, 1.0]),))
    raises_like_eager(to_int, (np.array([np.inf, 1.0]),), OverflowError, None, valid=(np.array([-2.5, 1.0]),))


def to_bool(x):
    if x:
        return 1
    return 0


def test_truth_value_of_an_array_with_several_elements_raises_value_error():
    raises_like_eager(to_bool, (np.ones(3),), ValueError, "truth value", valid=(np.ones(1),))


# -- call-time types (the dispatcher) ----------------------------------------------------------------------
def scale(x, n):
    return x * n


@pytest.fixture(scope="module")
def traced_scale():
    return jitc.trace(scale, (np.ones((2, 3), np.float32), 2), backend=BACKEND)


@pytest.mark.parametrize("args, match", [
    ((np.ones((2, 3), np.float64), 2), r"argument 'x' must be a 2-d float32 array, got a 2-d float64 array"),
    ((np.ones(3, np.float32), 2), r"argument 'x' must be a 2-d float32 array, got a 1-d float32 array"),
    ((np.ones((2, 3, 1), np.float32), 2), r"argument 'x'"),
    ((np.ones((2, 3), np.int32), 2), r"argument 'x'"),
    ((np.ones((2, 3), np.float32), 2.5), r"argument 'n' must be an int, got a float"),
    ((np.ones((2, 3), np.float32), np.ones(2)), r"argument 'n'"),
    (("x", 2), r"argument 'x'.*str"),
    ((np.ones((2, 3), np.float32), [1, 2.0j]), r"argument 'n'"),
    ((np.ones((2, 3), np.float32), None), r"argument 'n'"),
], ids=["dtype", "rank", "rank3", "int-dtype", "scalar-kind", "array-for-int", "str", "list", "none"])
def test_wrong_argument_types_raise_type_error_naming_the_parameter(traced_scale, args, match):
    assert_same(traced_scale(np.ones((2, 3), np.float32), 3), np.full((2, 3), 3, np.float32))
    with pytest.raises(TypeError, match=match):
        traced_scale(*args)
    assert_same(traced_scale(np.ones((5, 3), np.float32), -1), np.full((5, 3), -1, np.float32))


def test_wrong_argument_count_raises_type_error():
    compiled = scripted(scale)
    with pytest.raises(TypeError):
        compiled(np.ones(2))
    with pytest.raises(TypeError):
        compiled(np.ones(2), 1, 2)
    with pytest.raises(TypeError, match="argument 'x'"):
        compiled(object(), 1)
    with pytest.raises(TypeError, match="list elements"):
        compiled(np.ones(2), [np.ones(2), 1.5])
    assert_same(compiled(np.ones(2), 3), np.full(2, 3.0))


def test_calling_the_backend_directly_checks_argument_count():
    """The backend's own callable, given a wrong number of arguments, raises
    a Python exception rather than reading past its argument list."""
    if BACKEND != "llvm":
        pytest.skip("the llvm backend's executable")
    from jitc.backends import get_backend
    compiled = scripted(add)
    graph = compiled.graph_for(np.ones(3), np.ones(3))
    executable = get_backend("llvm").compile(graph)
    assert_same(executable(np.ones(3), np.ones(3)), (np.full(3, 2.0),))
    with pytest.raises(TypeError):
        executable(np.ones(3))


# -- things that could crash: in a child process --------------------------------------------------------------
CHILD = r'''
import sys, traceback, warnings
import numpy as np
import jitc
from support.compare import assert_same

warnings.simplefilter("error", jitc.CompileWarning)
BACKEND = sys.argv[1]

def floor_div(a, b):
    return a // b, a % b

def select(x, i: int):
    return x[i]

def select2(x, i: int, j: int):
    return x[i, j]

def list_index(xs: list[np.ndarray], i: int):
    return xs[i]

def reshape(x, n: int, m: int):
    return x.reshape(n, m)

def zeros(n: int):
    return np.zeros(n)

def constant_0d_and_int(n: int):
    return np.zeros(()), n

def creations(n: int, m: int, f: float, i: int, t: bool):
    return (np.zeros((n, 3)), np.ones(n, dtype=np.int32), np.full((n, m), f), np.full(n, i), np.full((m,), t),
            np.zeros(()), np.full((), i))

CASES = {}

def case(function):
    CASES[function.__name__] = function
    return function

def compiled(function):
    return jitc.script(function, backend=BACKEND)

@case
def int_division_by_zero():
    for dtype in (np.int32, np.int64):
        info = np.iinfo(dtype)
        a = np.array([7, -7, 0, info.min, info.min, info.max, 5], dtype)
        b = np.array([0, 0, 0, 0, -1, -1, 3], dtype)
        with np.errstate(all="ignore"):
            expected = floor_div(a, b)
        assert_same(compiled(floor_div)(a, b), expected)

@case
def int_scalar_array_division_by_zero():
    for dtype in (np.int32, np.int64):
        a = np.arange(-3, 4).astype(dtype)
        with np.errstate(all="ignore"):
            expected = floor_div(a, 0)
        assert_same(compiled(floor_div)(a, 0), expected)

@case
def constant_0d_array_returned_with_other_outputs():
    f = compiled(constant_0d_and_int)
    for n in (0, 5, -7):
        assert_same(f(n), constant_0d_and_int(n))
    g = compiled(creations)
    for n, m in ((0, 0), (2, 3), (5, 0)):
        assert_same(g(n, m, 1.5, 3, True), creations(n, m, 1.5, 3, True))

@case
def huge_index():
    f = compiled(select)
    f(np.arange(3.0), 1)
    f(np.arange(3.0), 2 ** 62)

@case
def huge_negative_index():
    f = compiled(select2)
    f(np.ones((2, 2)), 0, 0)
    f(np.ones((2, 2)), 0, -2 ** 62)

@case
def huge_list_index():
    f = compiled(list_index)
    f([np.ones(2)], 0)
    f([np.ones(2)], 10 ** 12)

@case
def huge_reshape():
    f = compiled(reshape)
    f(np.ones(6), 2, 3)
    f(np.ones(6), 2 ** 62, 2 ** 62)

@case
def huge_allocation():
    f = compiled(zeros)
    f(3)
    f(2 ** 62)

for name in sys.argv[2:]:
    print("start", name, flush=True)
    try:
        CASES[name]()
        print("result", name, "ok", flush=True)
    except BaseException as error:
        print("result", name, type(error).__name__, str(error).splitlines()[0] if str(error) else "", flush=True)
'''

CHILD_CASES = {
    "constant_0d_array_returned_with_other_outputs": ("ok",),
    "int_division_by_zero": ("ok",),
    "int_scalar_array_division_by_zero": ("ok",),
    "huge_index": ("IndexError",),
    "huge_negative_index": ("IndexError",),
    "huge_list_index": ("IndexError",),
    "huge_reshape": ("ValueError",),
    "huge_allocation": ("MemoryError", "ValueError"),
}


@pytest.fixture(scope="module")
def child_results(tmp_path_factory):
    """Run every child case in one process (one start-up), starting again
    after the case that crashed it if one does."""
    script = tmp_path_factory.mktemp("child") / "child_cases.py"
    script.write_text(textwrap.dedent(CHILD))
    support = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([support, os.environ.get("PYTHONPATH", "")]))
    results: dict[str, str] = {}
    pending = list(CHILD_CASES)
    while pending:
        process = subprocess.run([sys.executable, str(script), BACKEND, *pending], capture_output=True, text=True,
                                 env=env, timeout=300)
        started = None
        for line in process.stdout.splitlines():
            words = line.split(" ", 2)
            if words[0] == "start":
                started = words[1]
            elif words[0] == "result":
                results[words[1]] = words[2]
                started = None
        if started is not None:  # the process died inside this case
            results[started] = (f"CRASH (exit status {process.returncode}); stderr tail: "
                                f"{process.stderr[-800:]}")
        elif process.returncode != 0 and not all(name in results for name in pending):
            raise AssertionError(f"child failed to start: {process.stderr[-2000:]}")
        pending = [name for name in pending if name not in results]
    return results


@pytest.mark.parametrize("name", list(CHILD_CASES))
def test_never_a_crash(child_results, name):
    result = child_results[name]
    assert result.split(" ", 1)[0] in CHILD_CASES[name], f"{name}: {result}"


def _misaligned(x, y):
    z = x * 2.0
    return z + y


def test_errors_from_compiled_code_name_the_source_line():
    compiled = jitc.script(_misaligned, backend="llvm")
    compiled(np.ones((2, 3)), np.ones(3))
    with pytest.raises(ValueError, match="operands could not be broadcast together") as raised:
        compiled(np.ones((2, 3)), np.ones(4))
    line = _misaligned.__code__.co_firstlineno + 2
    assert f"test_llvm_errors.py:{line}:" in str(raised.value)
