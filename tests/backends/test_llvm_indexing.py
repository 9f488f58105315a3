"""Differential tests of indexing with arrays (gathers, boolean masks),
subscript assignment (basic, mask and int-array indexes), np.take, arange,
linspace, eye, identity, tri, triu, tril, cumsum and cumprod: each scripted
function is checked with `support.backend_checks.check` against eager NumPy
and the reference interpreter (same dtype, shape and values; inputs left
alone; results owning their memory), and errors NumPy raises for bad
indexes are raised from compiled code with the same exception type.

Functions return tuples of many cases, so that one compile covers them; a
fallback to the interpreter is an error (`CompileWarning` -> error).
"""
from __future__ import annotations

import importlib.util
import itertools
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jitc
from jitc.ir.interpreter import run_graph
from support.backend_checks import BACKEND, check, check_script, scripted

pytestmark = pytest.mark.filterwarnings("error::jitc.CompileWarning")

DTYPES = (np.float32, np.float64, np.int32, np.int64, np.bool_)
ID_DTYPES = (np.int64, np.int32, np.int8)


def _name(value) -> str:
    return np.dtype(value).name if isinstance(value, type) else str(value)


def values(rng, shape, dtype):
    """Small values of `dtype` (halves for floats, so sums are exact)."""
    if np.dtype(dtype) == np.bool_:
        return np.asarray(rng.random(shape) < 0.5)
    scale = 2 if np.dtype(dtype).kind == "f" else 1
    return np.asarray(rng.integers(-9, 10, shape) / scale).astype(dtype)


def assert_raises_like_numpy(function, args, error, match):
    """NumPy, the compiled function and the interpreter all raise `error`;
    the compiled one with a message matching `match`."""
    with pytest.raises(error):
        function(*args)
    compiled = scripted(function)
    with pytest.raises(error, match=match):
        compiled(*args)
    with pytest.raises(error):
        run_graph(compiled.graph_for(*args), *args)


# -- gathers ------------------------------------------------------------------------------------------------
def gathers(table, ids):
    """ids index the first axis, then the last, then a middle one."""
    return (table[ids], table[..., ids], np.take(table, ids, axis=0), np.take(table, ids),
            table.take(ids, axis=-1), table[ids] * 2, table[::-1][ids])


@pytest.mark.parametrize("dtype", DTYPES, ids=_name)
def test_gather_by_ids_of_any_rank(dtype):
    """Tables of rank 1 to 3 and ids of rank 0 to 3, empty ones included;
    ids of several int dtypes. Gathers move bytes: float32 and int64 share
    the code of int32 and float64, so they run fewer cases."""
    rng = np.random.default_rng(1)
    cases = [((5,), (4,)), ((5, 4), (2, 3)), ((5, 4, 3), (0,)), ((5, 4), ()), ((5, 4, 3), (2, 0, 3)),
             ((0, 3), (0, 2)), ((4, 3), (6,))]
    if dtype in (np.float32, np.int64):
        cases = cases[1:3]
    for (table_shape, ids_shape), ids_dtype in zip(cases, itertools.cycle(ID_DTYPES)):
        ids = rng.integers(-3, 3, ids_shape).astype(ids_dtype)  # every axis has at least 3 elements
        check_script(gathers, values(rng, table_shape, dtype), ids)


def mixed_gathers(x, ids, rows, cols):
    """Ids with ints and slices: next to each other the ids' dims stay in
    place, apart they come first (NumPy's rule); two arrays broadcast."""
    return (x[:, ids], x[1:, ids, 0], x[0, :, ids], x[ids, ::2, -1], x[rows, cols], x[rows, :, cols],
            x[rows[:, None], cols], x[None, ids, 1:2], x[..., ids, :], x[ids, ...], x[-1, ids, ids],
            x[np.arange(x.shape[0]), 0, cols[:1]])


@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.bool_], ids=_name)
def test_gathers_mixed_with_basic_indexes(dtype):
    rng = np.random.default_rng(7)
    x = values(rng, (4, 5, 3), dtype)
    ids = np.array([[0, -1], [2, 2]])
    rows, cols = np.array([3, 0, -4]), np.array([2, -1, 0])
    check_script(mixed_gathers, x, ids, rows, cols)
    check_script(mixed_gathers, x.transpose(1, 0, 2)[:4], ids, rows, cols)  # a strided view


def constant_gathers(x, i):
    ids = np.array([2, 0])
    return (x[[0, -1, 1]], x[ids], x[[True, False, True, False]], x[np.int64(i)], x[x[:, 0] > 0], x[ids][:, [1]],
            x[[i, -i]])


def test_gathers_by_lists_constants_and_0d_ids():
    x = values(np.random.default_rng(3), (4, 3), np.float64)
    check_script(constant_gathers, x, 2)


def pick(logits, labels):
    """The cross-entropy idiom: one element per row."""
    return logits[np.arange(logits.shape[0]), labels] - np.log(np.exp(logits).sum(axis=1))


def test_picking_one_element_per_row():
    rng = np.random.default_rng(11)
    for rows in (1, 6):
        check_script(pick, rng.standard_normal((rows, 5)), rng.integers(0, 5, rows))


def gather_first(table, ids):
    return table[ids]


def gather_middle(x, ids):
    return x[:, ids]


def gather_after_int(x, i, ids):
    return x[i, ids]


def take_flat(x, ids):
    return np.take(x, ids)


def gather_pairs(x, rows, cols):
    return x[rows, cols]


def test_ids_out_of_bounds_raise_index_error():
    table, rows = np.arange(10.0).reshape(5, 2), np.array([0, 1])
    assert_raises_like_numpy(gather_first, (table, np.array([1, 5])), IndexError,
                             "index 5 is out of bounds for axis 0 with size 5")
    assert_raises_like_numpy(gather_first, (table, np.array([[0], [-6]])), IndexError,
                             "index -6 is out of bounds for axis 0 with size 5")
    assert_raises_like_numpy(gather_middle, (table, np.array([2])), IndexError,
                             "index 2 is out of bounds for axis 1 with size 2")
    assert_raises_like_numpy(gather_first, (table[:0], np.array([0])), IndexError,
                             "index 0 is out of bounds for axis 0 with size 0")
    assert_raises_like_numpy(gather_after_int, (table, -6, rows), IndexError,
                             "index -6 is out of bounds for axis 0 with size 5")
    assert_raises_like_numpy(take_flat, (table, np.array([10])), IndexError,
                             "index 10 is out of bounds for axis 0 with size 10")
    assert_raises_like_numpy(gather_pairs, (table, rows, np.array([0, 1, 0])), IndexError,
                             "shape mismatch: indexing arrays could not be broadcast together")


# -- boolean masks --------------------------------------------------------------------------------------------------
def masks(x, full, rows, cols):
    """A mask over all axes, the leading ones, a later one, with ints and
    slices around it, and masks computed from data."""
    return (x[full], x[rows], x[:, cols], x[rows, 1:], x[::-1][rows], x[1, cols], x[x > 0], x[~full],
            x[rows][:, cols], x[..., cols] * 2)


@pytest.mark.parametrize("dtype", DTYPES, ids=_name)
def test_boolean_masks(dtype):
    rng = np.random.default_rng(5)
    for shape, density in (((4, 3), 0.5), ((4, 3), 0.0), ((4, 3), 1.0), ((2, 5), 0.3)):
        x = values(rng, shape, dtype)
        full = rng.random(shape) < density
        rows, cols = rng.random(shape[0]) < density, rng.random(shape[1]) < density
        check_script(masks, x, full, rows, cols)
        check_script(masks, np.asfortranarray(x), full.T.copy().T, rows, cols)


def masks_3d(x, leading):
    return x[leading], x[leading, 0], x[:, leading[0]], x[x < 0.5]


def test_masks_over_several_axes_of_a_3d_array():
    rng = np.random.default_rng(9)
    x = values(rng, (3, 4, 2), np.float32)
    check_script(masks_3d, x, rng.random((3, 4)) < 0.5)


def mask_first(x, mask):
    return x[mask]


def test_mask_of_the_wrong_size_raises_index_error():
    x = np.zeros((3, 4))
    assert_raises_like_numpy(mask_first, (x, np.ones(2, bool)), IndexError,
                             "boolean index did not match indexed array along axis 0; size of axis is 3 "
                             "but size of corresponding boolean axis is 2")
    assert_raises_like_numpy(mask_first, (x, np.ones((3, 5), bool)), IndexError, "along axis 1")


# -- subscript assignment ----------------------------------------------------------------------------------------
def basic_writes(x, i, v, row):
    """x is left alone: each write goes to a copy."""
    a = x.copy()
    a[1:-1, 2:] = v
    b = x.copy()
    b[i] = row
    c = x.copy()
    c[:, 0] = 0
    d = x.copy()
    d[::-2, None, ..., 1] = v
    e = x.copy()
    e[-1, 1:4:2] = row[:2]
    e[i, -1] = e[0, 0] * 2
    f = x.copy()
    f[...] = row[::-1]
    return a, b, c, d, e, f


@pytest.mark.parametrize("dtype", DTYPES, ids=_name)
def test_basic_subscript_assignment_broadcasts_and_casts(dtype):
    rng = np.random.default_rng(2)
    x = values(rng, (4, 5), dtype)
    check_script(basic_writes, x, 1, 7.5, values(rng, (5,), np.float64))
    check_script(basic_writes, x.T.copy().T, -1, 2.0, values(rng, (5,), np.float64))
    if dtype in (np.float64, np.int32):  # values of other kinds
        for i, v in ((-1, -2), (0, True), (2, np.float32(3.5))):
            check_script(basic_writes, x, i, v, values(rng, (5,), np.int32))


def fill_rows(n: int):
    """out[i] = ... in a loop, the way NumPy code fills arrays."""
    out = np.zeros((n, 3))
    for i in range(n):
        out[i] = i * 2.0
        out[i, i % 3] = -1.0
    return out


def test_assignment_in_a_loop():
    for n in (0, 1, 5):
        check_script(fill_rows, n)


def mask_writes(x, mask, v, rows):
    a = x.copy()
    a[mask] = v
    b = x.copy()
    b[x > 0] = -b[x > 0]
    c = x.copy()
    c[rows] = x[0]
    d = x.copy()
    d[:, rows[:x.shape[1]]] = 1
    return a, b, c, d


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64], ids=_name)
def test_mask_assignment(dtype):
    rng = np.random.default_rng(6)
    x = values(rng, (4, 4), dtype)
    mask = rng.random((4, 4)) < 0.5
    rows = np.array([True, False, True, True])
    for v in (-1.5, np.arange(mask.sum()).astype(dtype), np.ones(1, dtype)):
        check_script(mask_writes, x, mask, v, rows)
    check_script(mask_writes, x, np.zeros((4, 4), bool), np.zeros(0, dtype), rows)


def id_writes(x, ids, v):
    """Repeated ids: the last write wins, as in NumPy."""
    a = x.copy()
    a[ids] = v
    b = x.copy()
    b[:, ids] = 0
    c = x.copy()
    c[ids, ids] = c[ids, 0] + 1
    return a, b, c


@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.bool_], ids=_name)
def test_int_array_assignment_last_write_wins(dtype):
    rng = np.random.default_rng(8)
    x = values(rng, (4, 4), dtype)
    ids = np.array([0, 2, 0, -1, 2])
    for v in (3, values(rng, (5, 4), np.float64), values(rng, (4,), dtype)):
        check_script(id_writes, x, ids, v)


def write_row(x, i, v):
    y = x.copy()
    y[i] = v
    return y


def write_mask(x, mask, v):
    y = x.copy()
    y[mask] = v
    return y


def test_bad_assignments_raise_like_numpy():
    x = np.zeros((3, 4))
    assert_raises_like_numpy(write_row, (x, 3, 1.0), IndexError, "index 3 is out of bounds for axis 0 with size 3")
    assert_raises_like_numpy(write_row, (x, 0, np.ones(3)), ValueError, "could not broadcast input array")
    assert_raises_like_numpy(write_row, (x, 0, np.ones((2, 4))), ValueError, "could not broadcast input array")
    assert_raises_like_numpy(write_mask, (x, x == 0, np.ones(5)), ValueError,
                             "cannot assign 5 input values to the 12 output values where the mask is true")
    assert_raises_like_numpy(write_row, (np.zeros(3, np.int8), 0, 300), OverflowError,
                             "Python integer 300 out of bounds for int8")
    assert_raises_like_numpy(write_row, (np.zeros(3, np.int32), 1, float("nan")), ValueError,
                             "cannot convert float NaN to integer")
    assert_raises_like_numpy(write_row, (np.zeros(3, np.int64), 1, float("-inf")), OverflowError,
                             "cannot convert float infinity to integer")


# -- the property: random basic indexes ----------------------------------------------------------------------------
_SOURCES = Path(tempfile.mkdtemp(prefix="jitc-index-tests-"))
_GENERATED: dict = {}


def generated(index: str, count: int):
    """`f(x, v, p0, ..., p<count-1>)` returning (x[index], a copy of x with
    x[index] = v), from a file of its own: jitc.script reads the source."""
    if index not in _GENERATED:
        name = f"index_{len(_GENERATED)}"
        params = "".join(f", p{i}" for i in range(count))
        path = _SOURCES / f"{name}.py"
        path.write_text(textwrap.dedent(f"""
            def {name}(x, v{params}):
                y = x.copy()
                y[{index}] = v
                return x[{index}], y
        """))
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        function = getattr(module, name)
        _GENERATED[index] = (function, scripted(function))
    return _GENERATED[index]


@st.composite
def basic_indexes(draw, rank: int):
    """(index source with parameters p0..., their values): ints, slices with
    any bounds (missing ones written out as missing), None and `...`."""
    texts, arguments = [], []

    def parameter(value):
        arguments.append(value)
        return f"p{len(arguments) - 1}"

    used = 0
    for _ in range(draw(st.integers(0, rank + 1))):
        kind = draw(st.sampled_from(["int", "slice", "none", "..."] if used < rank else ["none", "..."]))
        if kind == "..." and "..." in texts:
            continue
        if kind == "int":
            texts.append(parameter(draw(st.integers(-4, 3))))
        elif kind == "slice":
            bounds = [draw(st.none() | st.integers(-5, 5)) for _ in range(2)]
            step = draw(st.none() | st.sampled_from([-3, -2, -1, 1, 2]))
            parts = ["" if b is None else parameter(b) for b in bounds]
            texts.append(":".join(parts) + ("" if step is None else ":" + parameter(step)))
        else:
            texts.append("None" if kind == "none" else "...")
        used += kind in ("int", "slice")
    return (", ".join(texts) + ("," if len(texts) == 1 else "") or "..."), arguments


@settings(max_examples=30)
@given(data=st.data())
def test_random_basic_indexes_read_and_write_as_in_numpy(data):
    rank = data.draw(st.integers(0, 3), label="rank")
    shape = tuple(data.draw(st.lists(st.sampled_from([0, 2, 3, 4]), min_size=rank, max_size=rank)))
    dtype = data.draw(st.sampled_from([np.float64, np.int32, np.bool_]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    x = values(rng, shape, dtype)
    index, arguments = data.draw(basic_indexes(rank), label="index")
    eager, compiled = generated(index, len(arguments))
    try:
        region = np.shape(eval(f"x[{index}]", {"x": x, **{f"p{i}": a for i, a in enumerate(arguments)}}))
    except IndexError:
        assert_raises_like_numpy(eager, (x, 1, *arguments), IndexError, "out of bounds")
        return
    kept = [d if data.draw(st.booleans()) else 1 for d in region]
    value = data.draw(st.sampled_from([2.5, -1, values(rng, tuple(kept[len(kept) // 2:]), np.float32)]))
    check(compiled, eager, (x, value, *arguments))


# -- np.take ---------------------------------------------------------------------------------------------------------
def takes(x, ids, flags):
    return np.take(x, ids, axis=1), np.take(x, 2, axis=-1), np.take(x, -1), x.take(flags, axis=0)


def test_take_reads_bools_as_ids():
    rng = np.random.default_rng(1)
    check_script(takes, values(rng, (3, 4), np.int64), np.array([[3, -4], [0, 1]]), np.array([True, False]))


# -- creation ---------------------------------------------------------------------------------------------------------
def aranges(n: int, start: int, step: int, f: float):
    return (np.arange(n), np.arange(start, n), np.arange(start, n, step), np.arange(n, start, -step),
            np.arange(f), np.arange(start, f, 0.1), np.arange(f, start, -0.3), np.arange(n, dtype=np.float32),
            np.arange(start, n, step, dtype=np.int8), np.arange(-f, f, f / 7, dtype=np.float32),
            np.arange(0.5, n, dtype=np.int32), np.arange(n, step=2), np.arange(0, 2, dtype=bool))


@pytest.mark.parametrize("n, start, step, f", [(5, 1, 2, 2.5), (0, 3, 1, 0.5), (-4, -10, 3, 3.05),
                                                (17, 16, 7, 1e-3)])
def test_arange(n, start, step, f):
    result = check_script(aranges, n, start, step, f)
    expected = aranges(n, start, step, f)
    assert all(np.array_equal(r, e) for r, e in zip(result, expected)), "arange is exact"


def arange_step(step):
    return np.arange(0, 3, step)


def test_arange_with_zero_step_raises_zero_division_error():
    assert_raises_like_numpy(arange_step, (0,), ZeroDivisionError, "division by zero")
    assert_raises_like_numpy(arange_step, (0.0,), ZeroDivisionError, "float division by zero")


def linspaces(start: float, stop: float, num: int, bound):
    return (np.linspace(start, stop, num), np.linspace(start, stop, num, endpoint=False),
            np.linspace(stop, start, 7), np.linspace(start, stop, num, dtype=np.int32),
            np.linspace(bound, stop, num), np.linspace(-bound, bound, 5, dtype=np.float64),
            np.linspace(0, 1), np.linspace(start, start, num), np.linspace(0.0, 5e-324, 3))


@pytest.mark.parametrize("start, stop, num", [(0.0, 1.0, 11), (-2.5, 7.25, 0), (3.0, -1.0, 1), (0.1, 0.7, 2),
                                              (1.0, 1e6, 33)])
def test_linspace_matches_numpy_and_ends_at_stop(start, stop, num):
    result = check_script(linspaces, start, stop, num, np.float32(0.3))
    expected = linspaces(start, stop, num, np.float32(0.3))
    for r, e in zip(result, expected):
        if e.dtype.kind == "f":
            np.testing.assert_array_max_ulp(r, e, maxulp=1)
    if num > 1:
        assert result[0][-1] == stop


def eyes(n: int, m: int, k: int):
    return (np.eye(n), np.eye(n, m), np.eye(n, m, k), np.eye(n, k=-k, dtype=np.int32), np.eye(m, n, k, dtype=bool),
            np.identity(n), np.tri(n), np.tri(n, m, k), np.tri(m, n, -k, dtype=np.float32))


@pytest.mark.parametrize("n, m, k", [(3, 4, 1), (0, 2, 0), (4, 2, -1), (5, 5, 7)])
def test_eye_identity_tri(n, m, k):
    check_script(eyes, n, m, k)


def triangles(m, k: int):
    return np.triu(m), np.tril(m), np.triu(m, k), np.tril(m, -k), np.triu(m, -k), np.tril(m.T, k)


@pytest.mark.parametrize("dtype", DTYPES, ids=_name)
def test_triu_tril(dtype):
    rng = np.random.default_rng(4)
    for shape, k in (((4, 5), 1), ((5, 2), 0)):
        check_script(triangles, values(rng, shape, dtype), k)
    if dtype == np.float64:
        check_script(triangles, values(rng, (2, 3, 4), dtype), 2)
        check_script(triangles, values(rng, (4,), dtype), 1)  # a 1-d m stands for its rows


# -- scans -------------------------------------------------------------------------------------------------------------
def scans(x):
    return (np.cumsum(x), np.cumsum(x, axis=0), x.cumsum(axis=-1), np.cumprod(x, axis=0), x.cumprod(),
            np.cumsum(x, axis=1, dtype=np.float32), np.cumsum(x[::-1, ::2], axis=0))


@pytest.mark.parametrize("dtype", (np.float32, np.float64, np.int8, np.int32, np.int64, np.bool_), ids=_name)
def test_cumsum_and_cumprod(dtype):
    """Sums in the result dtype in NumPy's order: ints and bools in int64,
    float32 in float32 (exact here: the values are halves)."""
    rng = np.random.default_rng(12)
    for shape in ((3, 4), (4, 3, 2), (0, 3)):
        x = values(rng, shape, dtype)
        check_script(scans, x)
        check_script(scans, x.T.copy().T[::1])


def scalar_scans(x, s: float):
    return np.cumsum(s), np.cumprod(x), np.cumsum(x, axis=0)


def test_scans_of_0d_arrays_and_scalars():
    check_script(scalar_scans, np.float32(2.5), 1.5)


# -- the tracer uses the same binders ----------------------------------------------------------------------------------
def traced_indexing(x, ids, mask):
    return x[ids], x[mask], x[:, ids[0]], np.cumsum(x[mask])


def test_tracing_gathers_and_masks():
    rng = np.random.default_rng(13)
    args = (values(rng, (5, 3), np.float64), np.array([[2, -3], [0, 1]]), np.array([True, False, True, True, False]))
    traced = jitc.trace(traced_indexing, args, backend=BACKEND)
    check(traced, traced_indexing, args)
    other = (values(rng, (6, 3), np.float64), np.array([[0, 2], [1, 1]]), np.ones(6, bool))
    check(traced, traced_indexing, other)
