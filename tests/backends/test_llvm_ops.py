"""Differential tests of the LLVM backend, op by op: every compiled result
is compared with eager NumPy and with the reference interpreter (same
dtype, same shape, values within the dtype's tolerance).

Elementwise ops and reductions are recorded with `jitc.trace` from small
Python bodies (one traced function per op and dtype signature, reused by
every hypothesis example of that signature, so each test compiles a few
times only); shape, indexing and creation ops use `jitc.script`, as a user
would. A fallback to the interpreter is an error here
(`CompileWarning` -> error), so it cannot hide a missing lowering.

`JITC_TEST_BACKEND=interpreter` runs the same tests on the interpreter (to
debug the tests themselves).
"""
from __future__ import annotations

import inspect
import math
import threading
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jitc
from jitc.ir.interpreter import run_graph
from jitc.ir.ops import Group, all_ops
from support.backend_checks import BACKEND, assert_owned, check, check_script, scripted
from support.compare import assert_same
pytestmark = pytest.mark.filterwarnings("error::jitc.CompileWarning")

DTYPES = (np.float32, np.float64, np.int32, np.int64, np.bool_)
# Ops that only move data depend on the item size alone: 8, 4 and 1 bytes.
MOVE_DTYPES = (np.float64, np.int32, np.bool_)
FLOAT_SPECIALS = (math.nan, math.inf, -math.inf, -0.0, 0.0, 0.5, -0.5, 1.5, -2.5)
SIZES = st.sampled_from([0, 2, 3, 4])          # never 1: a size-1 dim is part of the signature
NONEMPTY = st.sampled_from([2, 3, 4])


# -- harness --------------------------------------------------------------------------------------
def _dtype_name(dtype) -> str:
    return np.dtype(dtype).name


def _positional(count: int, body, name: str):
    """`body(*args)` as a function of `count` named parameters (trace needs names)."""
    def function(*args):
        return body(*args)
    function.__signature__ = inspect.Signature(
        [inspect.Parameter(f"p{i}", inspect.Parameter.POSITIONAL_OR_KEYWORD) for i in range(count)])
    function.__name__ = function.__qualname__ = name
    return function


_TRACED: dict = {}


def traced(key, body, examples):
    """One traced function per key: later calls reuse its compiled versions."""
    function = _TRACED.get(key)
    if function is None:
        function = _positional(len(examples), body, "_".join(map(str, key)).replace(".", "_"))
        function = _TRACED[key] = jitc.trace(function, tuple(examples), backend=BACKEND)
    return function


# -- values ---------------------------------------------------------------------------------------
def elements(dtype, *, extremes: bool = False, specials: bool = True, low=-10, high=10):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        finite = st.floats(low, high, width=8 * dtype.itemsize)
        return st.one_of(finite, st.sampled_from(FLOAT_SPECIALS)) if specials else finite
    if dtype.kind == "b":
        return st.booleans()
    small = st.integers(max(low * 10, -100), min(high * 10, 100))
    if extremes:
        info = np.iinfo(dtype)
        return st.one_of(small, st.sampled_from([info.min, info.min + 1, info.max]))
    return small


def random_values(rng, dtype, shape, *, extremes: bool = False, specials: bool = True, low=-10, high=10):
    """Values of `dtype`: floats in [low, high] (some halves, and NaN, inf,
    -0.0 where `specials`), ints in [-100, 100] (and the dtype's extremes
    where `extremes`), bools."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind == "f":
        values = rng.uniform(low, high, shape)
        halves = rng.random(shape) < 0.3
        values[halves] = np.round(values[halves] * 2) / 2
        if specials:
            special = rng.random(shape) < 0.15
            values[special] = rng.choice(FLOAT_SPECIALS, int(special.sum()))
        return values.astype(dtype)
    values = rng.integers(max(-100, int(low) * 10), min(100, int(high) * 10) + 1, shape).astype(dtype)
    if extremes:
        info = np.iinfo(dtype)
        extreme = rng.random(shape) < 0.15
        values[extreme] = rng.choice([info.min, info.min + 1, info.max], int(extreme.sum()))
    return values


def draw_array(data, dtype, shape, layout=True, **domain):
    """An array of `shape` with random values (see `random_values`); 2-d
    ones may come transposed, strided or reversed."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1), label="seed"))
    kind = data.draw(st.sampled_from(["c", "t", "s", "r"]), label="layout") if layout and len(shape) >= 2 else "c"
    if kind == "t":
        return random_values(rng, dtype, shape[::-1], **domain).T
    if kind == "s":
        return random_values(rng, dtype, (shape[0] * 2,) + tuple(shape[1:]), **domain)[::2]
    array = random_values(rng, dtype, shape, **domain)
    return array[::-1] if kind == "r" else array


def numpy_accepts(function, *args) -> bool:
    try:
        with np.errstate(all="ignore"):
            function(*args)
    except TypeError:  # UFuncTypeError included
        return False
    return True


def _integral(x) -> bool:
    return np.asarray(x).dtype.kind in "biu"


# -- elementwise ops, every op at every dtype -------------------------------------------------------------
# Compiling costs about 0.1 s per op in a graph, so every op at one dtype
# signature goes into one traced function, and hypothesis then varies sizes,
# layouts and values at no compile cost. Mismatches are collected per op.
UNARY = sorted(op.short_name for op in all_ops() if op.group is Group.UNARY)
BINARY = sorted(op.short_name for op in all_ops() if op.group is Group.BINARY)
# Integer and bool inputs of ops whose result is a float take the same path
# after a cast; these few stand for them at those dtypes.
FLOAT_RESULT_SAMPLES = {"sqrt", "exp", "sin", "log1p", "rint", "arctan"}
_SCALAR_OF = {"f": 1.5, "i": 3, "b": True}


def _unary_ops(dtype) -> list[str]:
    names = [n for n in UNARY if numpy_accepts(getattr(np, n), np.ones(2, dtype))]
    if np.dtype(dtype).kind in "bi":
        with np.errstate(all="ignore"):
            names = [n for n in names if getattr(np, n)(np.ones(2, dtype)).dtype.kind not in "f"
                     or n in FLOAT_RESULT_SAMPLES]
    return names


def test_every_elementwise_op_is_covered():
    assert set().union(*(_unary_ops(d) for d in DTYPES)) == set(UNARY)
    assert set().union(*(_binary_ops(p) for p in SAME_PAIRS)) == set(BINARY)


CHUNK = 6  # ops per compiled function: LLVM's time grows faster than the graph beyond a few


def check_cases(key, cases, examples, args, rtol=None):
    """`cases` are (name, function of all args): compile them in chunks of
    CHUNK traced functions of `examples`' signature and check each on `args`."""
    for start in range(0, len(cases), CHUNK):
        chunk = cases[start:start + CHUNK]
        functions = [function for _, function in chunk]

        def body(*arguments, functions=functions):
            return tuple(function(*arguments) for function in functions)

        compiled = traced(key + (start,), body, examples)
        check_each(compiled, body, [name for name, _ in chunk], args, rtol)


def check_each(compiled, body, names, args, rtol=None):
    """`check` with one failure message listing every op that differs."""
    args = tuple(args)
    with np.errstate(all="ignore"):
        expected = body(*args)
        interpreted = compiled.pack(run_graph(compiled.graph_for(*args), *args))
    actual = compiled(*args)
    assert len(actual) == len(expected) == len(names)
    failures = []
    for name, a, i, e in zip(names, actual, interpreted, expected):
        try:
            assert_same(a, e, rtol)
            assert_same(i, e, rtol, path="interpreter")
        except AssertionError as error:
            failures.append(f"{name}: {str(error).strip().splitlines()[0:8]}")
    if BACKEND != "interpreter":
        assert_owned(actual, args)
    assert not failures, "\n".join(failures) + f"\ninputs: {args!r}"


@pytest.mark.parametrize("dtype", DTYPES, ids=_dtype_name)
@settings(max_examples=30)
@given(data=st.data())
def test_unary_ops_at_each_dtype(dtype, data):
    """Every unary op on a 2-d array of any layout (transposed, strided,
    reversed, empty); NaN, inf, -0.0, halves and integer extremes included."""
    names = _unary_ops(dtype)
    a = draw_array(data, dtype, (data.draw(SIZES), data.draw(SIZES)), extremes=True)
    if np.dtype(dtype).kind in "bi" and "reciprocal" in names:  # 1 // 0 in integers: NumPy gives garbage
        a = np.where(a == 0, 1, a).astype(dtype)
    cases = [(n, lambda x, u=getattr(np, n): u(x)) for n in names]
    check_cases(("unary", _dtype_name(dtype)), cases, (np.ones((2, 3), dtype),), (a,))


SHAPE_SAMPLE_UNARY = ["negative", "sqrt", "logical_not"]


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_], ids=_dtype_name)
@settings(max_examples=15)
@given(data=st.data())
def test_unary_ops_on_0d_arrays_size_1_dims_and_python_scalars(dtype, data):
    names = [n for n in SHAPE_SAMPLE_UNARY if numpy_accepts(getattr(np, n), np.ones(2, dtype))]
    ufuncs = [getattr(np, n) for n in names]

    def body(b, c, s):
        return tuple(u(b) for u in ufuncs) + tuple(u(c) for u in ufuncs) + tuple(u(s) for u in ufuncs)

    kind = np.dtype(dtype).kind
    compiled = traced(("unary-shapes", _dtype_name(dtype)), body,
                      (np.ones((), dtype), np.ones((1, 3), dtype), _SCALAR_OF[kind]))
    b = draw_array(data, dtype, ())
    c = draw_array(data, dtype, (1, data.draw(SIZES)))
    s = data.draw({"f": elements(np.float64), "i": st.integers(-100, 100), "b": st.booleans()}[kind])
    check_each(compiled, body, [f"{n}({w})" for w in ("0-d", "(1,n)", "scalar") for n in names], (b, c, s))


SAME_PAIRS = [(d, d) for d in DTYPES]
MIXED_PAIRS = [(np.float32, np.float64), (np.int32, np.float32), (np.int32, np.int64), (np.bool_, np.int32),
               (np.int64, np.float32)]
# Mixed dtypes only change the promoted loop type: these ops stand for all there.
MIXED_SAMPLE = {"add", "divide", "floor_divide", "power", "less", "maximum", "bitwise_or"}
WRAPPING_SAFE = {"add", "subtract", "multiply", "maximum", "minimum", "less", "less_equal", "greater",
                 "greater_equal", "equal", "not_equal", "bitwise_and", "bitwise_or", "bitwise_xor",
                 "logical_and", "logical_or", "logical_xor"}
PYTHON_SCALARS = (3, 2.5, True)


def _binary_ops(pair, sample=None) -> list[str]:
    return [n for n in BINARY if (sample is None or n in sample)
            and numpy_accepts(getattr(np, n), np.ones(2, pair[0]), np.ones(2, pair[1]))]


def _fix_divisor(name, a, b):
    """`b` adjusted where the op is undefined in integers: no division by 0,
    no negative integer powers (NumPy raises or gives garbage there)."""
    if not (_integral(a) and _integral(b)):
        return b
    if name in ("floor_divide", "remainder"):
        if isinstance(b, np.ndarray):
            return np.where(b == 0, 1, b).astype(b.dtype)
        return b or (True if isinstance(b, bool) else 1)
    if name == "power":
        if isinstance(b, np.ndarray):
            return b if b.dtype == np.bool_ else (np.abs(b) % 5).astype(b.dtype)
        return b if isinstance(b, bool) else abs(b) % 5
    return b


@pytest.mark.parametrize("pair", SAME_PAIRS + MIXED_PAIRS, ids=lambda p: f"{_dtype_name(p[0])}-{_dtype_name(p[1])}")
@settings(max_examples=30)
@given(data=st.data())
def test_binary_ops_at_each_dtype_pair(pair, data):
    """Every binary op (a sample at mixed dtypes) on (m, 1) with (n,): one
    broadcast, layouts and values varied; integer extremes where they wrap."""
    da, db = pair
    names = _binary_ops(pair, None if da == db else MIXED_SAMPLE)
    m, n = data.draw(SIZES), data.draw(SIZES)
    a = draw_array(data, da, (m, 1), extremes=True)
    b = draw_array(data, db, (n,), extremes=True)
    a_small = draw_array(data, da, (m, 1))
    b_small = draw_array(data, db, (n,))
    b_fixed = _fix_divisor("floor_divide", a_small, b_small)
    b_power = _fix_divisor("power", a_small, b_small)
    args = (a, b, a_small, b_small, b_fixed, b_power)
    cases = []
    for name in names:
        index = {"floor_divide": 4, "remainder": 4, "power": 5}.get(name, 3)
        if name in WRAPPING_SAFE:
            cases.append((name, lambda *v, u=getattr(np, name): u(v[0], v[1])))
        else:
            cases.append((name, lambda *v, u=getattr(np, name), i=index: u(v[2], v[i])))
    examples = (np.ones((2, 1), da), np.ones(3, db), np.ones((2, 1), da), np.ones(3, db), np.ones(3, db),
                np.ones(3, db))
    check_cases(("binary", _dtype_name(da), _dtype_name(db)), cases, examples, args)


SCALAR_SAMPLE = {"add", "floor_divide", "power", "greater", "bitwise_xor"}


@pytest.mark.parametrize("dtype", DTYPES, ids=_dtype_name)
@settings(max_examples=25)
@given(data=st.data())
def test_binary_ops_with_weak_python_scalars(dtype, data):
    """NumPy 2 promotion: int32 + 3 is int32, float32 * 2.5 float32, bool + 3
    int64, int32 < 2.5 compares exactly; scalars on either side."""
    cases = []
    for name in sorted(SCALAR_SAMPLE):
        for index, s in enumerate(PYTHON_SCALARS):
            if numpy_accepts(getattr(np, name), np.ones(2, dtype), s):
                cases.append((name, index, "left"))
            if numpy_accepts(getattr(np, name), s, np.ones(2, dtype)):
                cases.append((name, index, "right"))

    a = draw_array(data, dtype, (data.draw(SIZES), data.draw(SIZES)))
    i, f, t = data.draw(st.integers(-5, 5)), data.draw(elements(np.float64)), data.draw(st.booleans())
    if _integral(a):  # no integer division by zero, no negative integer powers (a is an exponent too)
        a = (np.abs(a) % 5 + 1).astype(dtype) if dtype != np.bool_ else np.ones_like(a)
        i = abs(i) % 4 + 1
        t = True
    named = []
    for n, k, side in cases:
        label = (f"{n}({'array, ' if side == 'left' else ''}{type(PYTHON_SCALARS[k]).__name__}"
                 f"{', array' if side == 'right' else ''})")
        u = getattr(np, n)
        named.append((label, (lambda a, *s, u=u, k=k: u(a, s[k])) if side == "left"
                      else (lambda a, *s, u=u, k=k: u(s[k], a))))
    check_cases(("scalars", _dtype_name(dtype)), named, (np.ones((2, 3), dtype),) + PYTHON_SCALARS, (a, i, f, t))


@settings(max_examples=30)
@given(data=st.data())
def test_broadcasting_patterns_and_layouts(data):
    """(m,1)+(n,), (1,)+(k,), 0-d + 2-d, equal shapes in any layout, 3-d
    with 2-d, and empty dims, through an arithmetic chain and a comparison."""
    def body(a1, b1, a2, b2, a3, b3, a4, b4, a5, b5):
        return (a1 * b1 - a1, a2 + b2, a3 - b3, (a4 > b4) | (a4 < 0), np.maximum(a5, b5) + a5)

    dtype = np.float64
    examples = (np.ones((2, 1)), np.ones(3), np.ones(1), np.ones(3), np.ones(()), np.ones((2, 3)),
                np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 1, 3)), np.ones((4, 1)))
    compiled = traced(("broadcast",), body, examples)
    m, n, k = data.draw(SIZES), data.draw(SIZES), data.draw(SIZES)
    args = (draw_array(data, dtype, (m, 1)), draw_array(data, dtype, (n,)), draw_array(data, dtype, (1,)),
            draw_array(data, dtype, (k,)), draw_array(data, dtype, ()), draw_array(data, dtype, (m, n)),
            draw_array(data, dtype, (n, k)), draw_array(data, dtype, (n, k)),
            draw_array(data, dtype, (k, 1, n)), draw_array(data, dtype, (m, 1)))
    check(compiled, body, args)


@settings(max_examples=25)
@given(a=st.integers(-50, 50), b=st.integers(-6, 6).filter(bool), e=st.integers(0, 4),
       f=st.floats(-20, 20), g=st.floats(-5, 5).filter(lambda v: abs(v) > 1e-3),
       t=st.booleans(), u=st.booleans())
def test_pure_python_scalars_follow_python(a, b, e, f, g, t, u):
    check_script(python_scalar_ops, a, b, e, f, g, t, u)


def python_scalar_ops(a: int, b: int, e: int, f: float, g: float, t: bool, u: bool):
    return (a + b, a - b, a * b, a / b, a // b, a % b, a ** e, (-a) ** 3, b ** e,
            f + a, f - g, f * g, f / g, f // g, f % g, a // g, a % g, (-f) ** 2.0, abs(f) ** 0.5, f ** e,
            t + 1, t + t, t * 2.5, -t, t & u, t | u, t ^ u, a & b, a | b, a ^ b, ~a, -a, +a, abs(a), abs(f),
            a < f, a <= b, f > g, a == b, t != u, a == f, max(a, b), min(f, g), max(t, u),
            a > 0 and b > 0, t or u, not t)


def int_floor_divide_by_zero(a: int, b: int):
    return a // b


def int_remainder_by_zero(a: int, b: int):
    return a % b


def int_true_divide_by_zero(a: int, b: int):
    return a / b


def float_divide_by_zero(f: float, g: float):
    return f / g


def float_floor_divide_by_zero(f: float, g: float):
    return f // g


def float_remainder_by_zero(f: float, g: float):
    return f % g


@pytest.mark.parametrize("function, args", [
    (int_floor_divide_by_zero, (3, 0)), (int_floor_divide_by_zero, (0, 0)), (int_remainder_by_zero, (-3, 0)),
    (int_true_divide_by_zero, (3, 0)), (float_divide_by_zero, (2.0, 0.0)), (float_divide_by_zero, (0.0, -0.0)),
    (float_floor_divide_by_zero, (2.0, 0.0)), (float_remainder_by_zero, (2.0, 0.0))],
    ids=lambda v: getattr(v, "__name__", str(v)))
def test_python_scalar_division_by_zero_raises_zero_division_error(function, args):
    nonzero = tuple(type(a)(2) for a in args)
    check_script(function, *nonzero)  # compiled first with a valid divisor
    with pytest.raises(ZeroDivisionError):
        function(*args)
    with pytest.raises(ZeroDivisionError):
        scripted(function)(*args)
    check_script(function, *nonzero)  # and still usable afterwards


def numpy_calls_on_scalars(a: int, f: float, t: bool):
    return np.add(a, 2), np.multiply(f, a), np.sqrt(f), np.logical_and(t, a), np.power(a, 2), np.maximum(f, a)


@settings(max_examples=10)
@given(a=st.integers(-5, 5), f=st.floats(-5, 5), t=st.booleans())
def test_numpy_functions_on_python_scalars_give_numpy_scalars(a, f, t):
    check_script(numpy_calls_on_scalars, a, f, t)


# -- ternary: where and clip --------------------------------------------------------------------------
WHERE_PAIRS = [(np.float32, np.float32), (np.float64, np.int32), (np.int64, np.int64), (np.bool_, np.bool_),
               (np.int32, np.float32)]


@pytest.mark.parametrize("pair", WHERE_PAIRS, ids=lambda p: f"{_dtype_name(p[0])}-{_dtype_name(p[1])}")
@settings(max_examples=8)
@given(data=st.data())
def test_where(pair, data):
    dx, dy = pair

    def body(c1, x1, y1, c2, x2, i, f, t):
        return (np.where(c1, x1, y1), np.where(c2, x2, i), np.where(c2, f, x2), np.where(c1 > 0, t, x1),
                np.where(t, x2, y1))

    examples = (np.ones((2, 1), bool), np.ones(3, dx), np.ones((), dy), np.ones((2, 3), bool),
                np.ones((2, 3), dx), 3, 2.5, True)
    compiled = traced(("where", _dtype_name(dx), _dtype_name(dy)), body, examples)
    m, n = data.draw(SIZES), data.draw(SIZES)
    args = (draw_array(data, bool, (m, 1)), draw_array(data, dx, (n,)), draw_array(data, dy, ()),
            draw_array(data, bool, (m, n)), draw_array(data, dx, (m, n)), data.draw(st.integers(-5, 5)),
            data.draw(elements(np.float64)), data.draw(st.booleans()))
    check(compiled, body, args)


CLIP_DTYPES = [np.float32, np.float64, np.int32, np.int64]


@pytest.mark.parametrize("dtype", CLIP_DTYPES, ids=_dtype_name)
@settings(max_examples=8)
@given(data=st.data())
def test_clip(dtype, data):
    def body(x, lo, hi, i, f):
        return np.clip(x, lo, hi), np.clip(x, i, 5), np.clip(x, -1.5, f), x.clip(lo, i), np.clip(x, hi, lo)

    examples = (np.ones((2, 3), dtype), np.ones((2, 1), dtype), np.ones((), dtype), 3, 2.5)
    compiled = traced(("clip", _dtype_name(dtype)), body, examples)
    m, n = data.draw(SIZES), data.draw(SIZES)
    args = (draw_array(data, dtype, (m, n)), draw_array(data, dtype, (m, 1)), draw_array(data, dtype, ()),
            data.draw(st.integers(-5, 5)), data.draw(elements(np.float64)))
    check(compiled, body, args)


# -- reductions ---------------------------------------------------------------------------------------------
REDUCTIONS = ["sum", "prod", "mean", "max", "min", "argmax", "argmin", "any", "all", "var", "std"]


def test_reductions_in_the_table_are_tested():
    assert set(REDUCTIONS) == {op.short_name for op in all_ops() if op.group is Group.REDUCTION}


FULL_AXES = [(None, False), (0, True), (-1, False), ((0, 2), True)]
SHORT_AXES = [(1, True)]


@pytest.mark.parametrize("dtype", DTYPES, ids=_dtype_name)
@settings(max_examples=25)
@given(data=st.data())
def test_reductions(dtype, data):
    """Every reduction; at float64 over None, each axis, negative axes, tuples
    and (), with and without keepdims; at the other dtypes over all axes and
    over one axis with keepdims. Inputs are 3-d in any layout."""
    axes = FULL_AXES if dtype == np.float64 else SHORT_AXES
    cases = [(name, axis, keepdims) for name in REDUCTIONS for axis, keepdims in axes
             if not (name.startswith("arg") and isinstance(axis, tuple))]
    cases += [("var", 1, False, 1), ("std", None, True, 1), ("sum", (), False), ("max", (1, -1), False),
              ("mean", -3, True)] if dtype == np.float64 else []

    shape = tuple(data.draw(st.sampled_from([2, 3])) for _ in range(3))
    layout = data.draw(st.sampled_from(["c", "t", "s"]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1)))
    # Halves (and NaN): sums are exact in any order, so float32 agrees exactly.
    base_shape = {"c": shape, "t": shape[::-1], "s": (shape[0] * 2,) + shape[1:]}[layout]
    if np.dtype(dtype).kind == "f":
        base = rng.integers(-8, 9, base_shape) / 2
        base[rng.random(base_shape) < 0.05] = np.nan
    else:
        base = rng.integers(-4, 5, base_shape) if dtype != np.bool_ else rng.random(base_shape) < 0.5
    base = base.astype(dtype)
    x = {"c": base, "t": base.T, "s": base[::2]}[layout]
    named = [(str(c), lambda x, c=c: getattr(np, c[0])(x, axis=c[1], keepdims=c[2],
                                                       **({"ddof": c[3]} if len(c) > 3 else {})))
             for c in cases]
    check_cases(("reduce", _dtype_name(dtype)), named, (np.ones((2, 3, 2), dtype),), (x,))


@pytest.mark.parametrize("dtype", MOVE_DTYPES, ids=_dtype_name)
def test_reductions_of_empty_arrays(dtype):
    """sum/prod/mean/any/all of nothing are 0/1/nan/False/True; max, min,
    argmax, argmin of nothing raise ValueError as in NumPy; reducing a
    non-empty axis of an empty array gives an empty result."""
    def body(x):
        return (x.sum(), x.prod(), x.mean(), x.any(), x.all(), x.var(), x.sum(axis=0), x.max(axis=1),
                x.argmin(axis=1), x.mean(axis=0, keepdims=True))

    compiled = traced(("empty-reduce", _dtype_name(dtype)), body, (np.ones((2, 3), dtype),))
    check(compiled, body, (np.zeros((0, 3), dtype),))
    for name in ("max", "min", "argmax", "argmin"):
        function = getattr(np, name)

        def whole(x, function=function):
            return function(x)

        empty = np.zeros((0, 3), dtype)
        compiled = traced(("empty-reduce-raises", name, _dtype_name(dtype)), whole, (np.ones((2, 3), dtype),))
        with pytest.raises(ValueError):
            whole(empty)
        with pytest.raises(ValueError):
            compiled(empty)
        assert_same(compiled(np.ones((2, 3), dtype)), whole(np.ones((2, 3), dtype)))


def test_max_of_empty_array_raises_value_error():
    def largest(x):
        return np.max(x)
    with pytest.raises(ValueError, match="zero-size array"):
        largest(np.zeros(0))
    with pytest.raises(ValueError, match="zero-size array"):
        scripted(largest)(np.zeros(0))
    with pytest.raises(ValueError, match="zero-size array"):
        scripted(largest)(np.zeros((3, 0)))
    assert_same(scripted(largest)(np.arange(4.0)), np.float64(3.0))


# -- shape ops ---------------------------------------------------------------------------------------------
def reshapes(x, n: int):
    return (x.reshape(-1), x.reshape(n, -1), x.reshape(-1, n), np.reshape(x, (2, -1, n)), x.T.reshape(-1),
            x.T.reshape(n, -1), x[::2].reshape(-1), x.ravel(), x.flatten(), np.reshape(x, x.size))


@pytest.mark.parametrize("dtype", MOVE_DTYPES, ids=_dtype_name)
def test_reshape(dtype):
    rng = np.random.default_rng(0)
    for shape, n in (((4, 6), 3), ((4, 6), 2), ((8, 3), 4), ((4, 0), 2)):
        x = (rng.standard_normal(shape) * 5).astype(dtype)
        check_script(reshapes, x, n)


def transposes(x, y):
    return (x.T, np.transpose(x), np.transpose(x, (1, 0, 2)), x.transpose(2, 0, 1), x.transpose((-1, 0, 1)),
            np.transpose(x, axes=(0, 2, 1)) + 0, y.T, y.T.T, x[::-1].transpose(1, 2, 0))


@pytest.mark.parametrize("dtype", MOVE_DTYPES, ids=_dtype_name)
def test_transpose(dtype):
    rng = np.random.default_rng(1)
    for shape in ((2, 3, 4), (3, 2, 0)):
        x = (rng.standard_normal(shape) * 5).astype(dtype)
        check_script(transposes, x, (rng.standard_normal((3, 5)) * 5).astype(dtype))


def expand_and_squeeze(x, y):
    return (np.expand_dims(x, 0), np.expand_dims(x, -1), np.expand_dims(x, (0, 2)), x[None], x[:, None],
            x[..., None], y.squeeze(0), np.squeeze(y, axis=-1), np.squeeze(y, (0, 2)),
            np.expand_dims(x.T, 1))


@pytest.mark.parametrize("dtype", MOVE_DTYPES, ids=_dtype_name)
def test_expand_dims_and_squeeze(dtype):
    rng = np.random.default_rng(2)
    for n in (3, 0, 5):
        x = (rng.standard_normal((n, 4)) * 5).astype(dtype)
        y = (rng.standard_normal((1, n, 1)) * 5).astype(dtype)
        check_script(expand_and_squeeze, x, y)


def broadcasts(x, y, n: int):
    return np.broadcast_to(x, (n, x.shape[0])), np.broadcast_to(y, (2, n, 3)), np.broadcast_to(x.T, (n, 2, x.shape[0]))


@pytest.mark.parametrize("dtype", MOVE_DTYPES, ids=_dtype_name)
def test_broadcast_to_copies_into_owned_arrays(dtype):
    rng = np.random.default_rng(3)
    for size, n in ((3, 4), (4, 0), (2, 2)):
        x = (rng.standard_normal(size) * 5).astype(dtype)
        y = (rng.standard_normal((1, 3)) * 5).astype(dtype)
        out = check_script(broadcasts, x, y, n)
        for array in out:
            assert array.flags.writeable and array.flags.c_contiguous or array.size == 0


# -- indexing ---------------------------------------------------------------------------------------------------
def selects(x, i: int, j: int):
    return x[i], x[-1], x[:, j], x[i, j], x[-2, -1], x.T[j], x[i][j], x[..., j], x[::-1][i]


@pytest.mark.parametrize("dtype", MOVE_DTYPES, ids=_dtype_name)
@settings(max_examples=10)
@given(data=st.data())
def test_select_with_positive_and_negative_indices(dtype, data):
    rows, cols = data.draw(NONEMPTY), data.draw(NONEMPTY)
    x = draw_array(data, dtype, (rows, cols))
    i = data.draw(st.integers(-rows, rows - 1))
    j = data.draw(st.integers(-cols, cols - 1))
    check_script(selects, x, i, j)


def dynamic_slices(x, start: int, stop: int, step: int):
    return x[start:stop:step], x[start:], x[:stop], x[::step], x[:, start:stop], x.T[start:stop:step]


def constant_slices(x):
    return (x[1:-1], x[::2], x[::-1], x[-2:], x[5:2], x[:, ::-2], x[1:100], x[-100:2], x[3:0:-1], x[1:-1, 1::2],
            x[::-1][::2], x[0:0])


@pytest.mark.parametrize("dtype", [np.float32, np.bool_], ids=_dtype_name)
@settings(max_examples=25)
@given(data=st.data())
def test_slices_with_steps_negative_bounds_and_empty_results(dtype, data):
    rows, cols = data.draw(st.sampled_from([0, 2, 3, 5, 7])), data.draw(NONEMPTY)
    x = draw_array(data, dtype, (rows, cols))
    bound = st.integers(-9, 9)
    step = data.draw(st.integers(-3, 3).filter(bool))
    check_script(dynamic_slices, x, data.draw(bound), data.draw(bound), step)
    check_script(constant_slices, x)


# -- joins ----------------------------------------------------------------------------------------------------
def joins(x, y):
    return (np.stack([x, y, x[::-1]]), np.stack([x, y], axis=1), np.stack([x, y], axis=-1),
            np.concatenate([x, y, x]), np.concatenate([x, y.T.T], axis=1), np.concatenate([x.T, y.T], axis=-1),
            np.stack((x, x[::-1])))


def list_joins(xs: list):
    return np.stack(xs), np.concatenate(xs, axis=0), np.stack(xs, axis=2), np.concatenate(xs, axis=-1)


@pytest.mark.parametrize("dtype", MOVE_DTYPES, ids=_dtype_name)
def test_stack_and_concatenate(dtype):
    rng = np.random.default_rng(4)
    for shape in ((2, 3), (0, 4), (3, 1)):
        x, y = ((rng.standard_normal(shape) * 5).astype(dtype) for _ in range(2))
        check_script(joins, x, y)
    for count in (1, 3):
        xs = [(rng.standard_normal((2, 4)) * 5).astype(dtype) for _ in range(count)]
        check_script(list_joins, xs)
    xs = [(rng.standard_normal((2, 4)) * 5).astype(dtype).T for _ in range(3)]  # non-contiguous elements
    check_script(list_joins, xs)


def test_concatenate_elements_of_different_lengths():
    def concat(x, y):
        return np.concatenate([x, y, x]), np.concatenate([x.T, y.T], axis=1)
    rng = np.random.default_rng(5)
    check_script(concat, rng.standard_normal((2, 3)), rng.standard_normal((5, 3)))


# -- matmul -----------------------------------------------------------------------------------------------------
def matmul(a, b):
    return a @ b


MATMUL_SHAPES = [((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((5, 2, 3), (5, 3, 4)),
                 ((1, 2, 3), (5, 3, 4)), ((5, 2, 3), (3, 4)), ((3,), (5, 3, 4)), ((2, 1, 2, 3), (4, 3, 2)),
                 ((2, 0), (0, 3)), ((0, 3), (3, 2)), ((4, 3), (3, 0)), ((1, 1), (1, 1))]
MATMUL_PAIRS = [(np.float32, np.float32), (np.float64, np.float64), (np.int32, np.int32), (np.int64, np.int64),
                (np.float32, np.float64), (np.int32, np.float32), (np.int32, np.int64), (np.bool_, np.bool_)]


@pytest.mark.parametrize("pair", MATMUL_PAIRS, ids=lambda p: f"{_dtype_name(p[0])}-{_dtype_name(p[1])}")
def test_matmul_shapes_and_dtypes(pair):
    rng = np.random.default_rng(6)
    shapes = MATMUL_SHAPES if pair == (np.float64, np.float64) else MATMUL_SHAPES[2:6]
    for sa, sb in shapes:
        a = rng.integers(-4, 5, sa).astype(pair[0])
        b = rng.integers(-4, 5, sb).astype(pair[1])
        check_script(matmul, a, b)
        if a.ndim == 2 and b.ndim == 2:
            check_script(matmul, np.asfortranarray(a), b[::-1].T.T)
            check_script(matmul, a.T.copy().T, b.T.copy().T)


def test_matmul_random_floats_and_transposed_operands():
    def mm(a, b):
        return a @ b, a.T @ a, np.matmul(b.T, a.T), np.dot(a, b)
    rng = np.random.default_rng(7)
    for dtype, rtol in ((np.float32, 1e-4), (np.float64, 1e-12)):
        for n, k, m in ((3, 4, 5), (17, 33, 9), (1, 64, 2)):
            a = rng.standard_normal((n, k)).astype(dtype)
            b = rng.standard_normal((k, m)).astype(dtype)
            check_script(mm, a, b, rtol=rtol, atol=rtol)


# -- creation ----------------------------------------------------------------------------------------------------
def creations(n: int, m: int, f: float, i: int, t: bool):
    return (np.zeros((n, 3)), np.ones(n, dtype=np.int32), np.zeros((n, m), dtype=np.bool_), np.ones((2, n), np.float32),
            np.full((n, m), f), np.full(n, i), np.full((m,), t), np.full((n, 2), 7, dtype=np.float32),
            np.full((2, m), f, dtype=np.int64), np.zeros(n, dtype=np.int64), np.ones((n, m, 2), dtype=np.bool_),
            np.full((), i))  # np.zeros(()) here crashed the process: see test_llvm_errors.py (child cases)


@settings(max_examples=10)
@given(n=st.sampled_from([0, 2, 3, 5]), m=st.sampled_from([0, 2, 4]), f=st.floats(-1e3, 1e3),
       i=st.integers(-100, 100), t=st.booleans())
def test_zeros_ones_full(n, m, f, i, t):
    check_script(creations, n, m, f, i, t)


def test_creation_from_array_values():
    def filled(x):
        n, m = x.shape
        return np.full((n, m), x.sum()), np.zeros((n, m), np.float64) + x, np.ones(m) * x[0], np.full(n, x[0, 0])
    check_script(filled, np.arange(6.0).reshape(2, 3))


# -- casts --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=_dtype_name)
@settings(max_examples=8)
@given(data=st.data())
def test_astype_between_all_dtypes(dtype, data):
    def body(x, s):
        return tuple(x.astype(target) for target in DTYPES) + tuple(s.astype(target) for target in DTYPES)

    compiled = traced(("astype", _dtype_name(dtype)), body, (np.ones((2, 3), dtype), np.ones((), dtype)))
    kind = np.dtype(dtype).kind
    # Floats stay where every integer target holds them (NaN to int is undefined in NumPy too).
    domain = ({"specials": False, "low": -1e5, "high": 1e5} if kind == "f" else {"extremes": True})
    x = draw_array(data, dtype, (data.draw(SIZES), data.draw(SIZES)), **domain)
    s = draw_array(data, dtype, (), **domain)
    check(compiled, body, (x, s))


def test_float_to_bool_and_float64_to_float32_rounding():
    def casts(x):
        return x.astype(np.bool_), x.astype(np.float32), x.astype(np.float32).astype(np.float64)
    x = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1e-300, 1e300, 0.1, 1 / 3, 3.4028235677973366e38, 2.0 ** -149])
    check_script(casts, x)


def int_casts(x):
    return x.astype(np.int32), x.astype(np.float32), x.astype(np.bool_), x.astype(np.float64)


def test_int64_to_int32_wraps_and_large_ints_round_to_float():
    x = np.array([2 ** 31, -2 ** 31 - 1, 2 ** 40 + 5, 2 ** 53 + 1, -(2 ** 63), 2 ** 63 - 1, 0, 1], np.int64)
    check_script(int_casts, x)


# -- queries -------------------------------------------------------------------------------------------------------
def queries(x, xs: list):
    n, m = x.shape
    return x.shape, x.ndim, x.size, len(x), x.shape[-1], np.shape(x), np.size(x, 1), n * m, len(xs), x.T.shape


@pytest.mark.parametrize("dtype", MOVE_DTYPES, ids=_dtype_name)
def test_shape_ndim_size_len(dtype):
    for shape in ((2, 3), (0, 4), (5, 1)):
        x = np.ones(shape, dtype)
        check_script(queries, x, [x, x])


def unknown_rank_shape(x, flag: bool):
    if flag:
        y = x
    else:
        y = x.sum(axis=0)
    return y.shape, y.ndim, y.size, len(y.shape), y * 2


def test_shape_of_an_array_of_unknown_rank_is_a_list():
    """y has no rank after the if: the function runs in the interpreter."""
    x = np.arange(6.0).reshape(2, 3)
    compiled = scripted(unknown_rank_shape)
    for flag in (True, False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", jitc.CompileWarning)
            actual = compiled(x, flag)
        expected = unknown_rank_shape(x, flag)
        assert tuple(actual[0]) == expected[0]
        assert_same(actual[1:], expected[1:])


# -- scalar conversions ---------------------------------------------------------------------------------------------
def conversions(x, i: int, f: float):
    return (int(x.sum()), float(x[0]), bool(x.any()), float(i), int(f), bool(f), int(x[0] > 0), np.float32(f) * x,
            np.int32(i), np.float64(i) + 1, float(x.max()) + f, int(x.argmax()) + i)


@pytest.mark.parametrize("x, i, f", [(np.array([1.0, -2.0, 3.0]), 2, 1.5), (np.array([-0.5, 0.0]), -7, -2.75),
                                     (np.array([1e6, -1e6, 0.25, 3.0, -3.5]), 0, 0.0)])
def test_scalar_conversions(x, i, f):
    check_script(conversions, x, i, f)


# -- outputs own their memory; threads --------------------------------------------------------------------------------
def identity(x):
    return x


def views(x):
    n, m = x.shape
    return x.T, x[1:], x.reshape(-1), x[None], x[0], x[:1].squeeze(0), x[::-1], np.broadcast_to(x, (2, n, m)), x


def passthrough_pair(x, y):
    return y, x


@pytest.mark.parametrize("dtype", MOVE_DTYPES, ids=_dtype_name)
def test_returned_inputs_and_views_of_inputs_are_copies(dtype):
    x = np.arange(12).reshape(3, 4).astype(dtype)
    keep = x.copy()
    result = scripted(identity)(x)
    assert result is not x
    assert_same(result, keep)
    assert_owned(result, (x,))
    result[...] = 0 if dtype is not np.bool_ else False
    assert_same(x, keep)
    outputs = check_script(views, x)
    for output in outputs:
        if isinstance(output, np.ndarray):
            output[...] = 1
    assert_same(x, keep)
    a, b = scripted(passthrough_pair)(x, x.T)
    assert_owned((a, b), (x,))


def test_results_are_writeable_and_own_or_hold_fresh_memory():
    def compute(x, y):
        return x + y, (x * y).sum(axis=0), x @ y.T, np.stack([x, y]), x[1:] * 2
    rng = np.random.default_rng(8)
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    outputs = check_script(compute, x, y)
    for output in outputs:
        assert isinstance(output, (np.ndarray, np.generic))
        if isinstance(output, np.ndarray):
            assert output.flags.writeable
            assert output.flags.owndata or (output.base is not x and output.base is not y)
    again = scripted(compute)(x, y)
    for first, second in zip(outputs, again):  # a second call does not overwrite the first's results
        if isinstance(first, np.ndarray):
            assert not np.shares_memory(first, second)
    assert_same(outputs, compute(x, y))


def mlp(x, w, b):
    h = np.tanh(x @ w + b)
    return (h * h).sum(axis=1), h.max(), x[::2].T @ x[::2]


def test_concurrent_calls_from_four_threads():
    compiled = scripted(mlp)
    rng = np.random.default_rng(9)
    inputs = [(rng.standard_normal((64, 32)), rng.standard_normal((32, 48)), rng.standard_normal(48))
              for _ in range(4)]
    compiled(*inputs[0])  # compile once before the threads start
    expected = [mlp(*args) for args in inputs]
    failures = []
    barrier = threading.Barrier(4)

    def worker(index):
        try:
            barrier.wait()
            for repeat in range(40):
                args = inputs[(index + repeat) % 4]
                assert_same(compiled(*args), expected[(index + repeat) % 4])
        except BaseException as error:  # noqa: BLE001 (reported below)
            failures.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures[0]


# -- the table walk -------------------------------------------------------------------------------------------------
def test_every_op_is_lowered_or_listed_as_unsupported_with_a_reason():
    if BACKEND != "llvm":
        pytest.skip("the table of the llvm backend")
    from jitc.backends import get_backend
    from jitc.backends.llvm import UNSUPPORTED_OPS
    assert get_backend("llvm").name == "llvm"
    names = {op.name for op in all_ops()}
    assert isinstance(UNSUPPORTED_OPS, dict)
    unknown = set(UNSUPPORTED_OPS) - names
    assert not unknown, f"UNSUPPORTED_OPS names ops that are not in the table: {sorted(unknown)}"
    for name, reason in UNSUPPORTED_OPS.items():
        assert isinstance(reason, str) and reason.strip(), f"{name} is unsupported without a reason"


def test_only_calls_of_ignored_python_functions_fall_back():
    """Issue 6: every op of the table has a lowering; @jitc.ignore calls alone run in the interpreter."""
    if BACKEND != "llvm":
        pytest.skip("the table of the llvm backend")
    from jitc.backends.llvm import UNSUPPORTED_OPS
    assert set(UNSUPPORTED_OPS) == {"prim::PythonCall"}


def test_ops_listed_as_unsupported_raise_unsupported_op_error():
    """An op the backend lists cannot compile; one it does not list must."""
    if BACKEND != "llvm":
        pytest.skip("the table of the llvm backend")
    from jitc.backends import UnsupportedOpError, get_backend
    from jitc.backends.llvm import UNSUPPORTED_OPS
    backend = get_backend("llvm")
    for name in UNSUPPORTED_OPS:
        short = name.split("::", 1)[1]
        ufunc = getattr(np, short, None)
        if isinstance(ufunc, np.ufunc) and ufunc.nin == 1:
            function = jitc.trace(lambda x, u=ufunc: u(x), (np.ones(3),), backend="interpreter")
            graph = function.graph_for(np.ones(3))
            with pytest.raises(UnsupportedOpError, match=short):
                backend.compile(graph)
