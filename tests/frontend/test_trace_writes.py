"""In-place updates under jitc.trace: `x += y`, `x[i] = v` and `out=`
record the new value and later reads see it, writes through indexing
views reach their base, NumPy's casting and shape rules hold, and what a
trace cannot follow (writing into an input, reading a view that a write
made stale) is a TraceError naming the line."""
from __future__ import annotations

import numpy as np
import pytest

import jitc
from support.backend_checks import check

BACKENDS = ["llvm", "interpreter"]
DTYPES = [np.float32, np.float64]


def augmented_assignments(x, y):
    z = x * 1
    alias = z
    z += y
    z *= 2
    z -= x
    z /= 3
    z **= 2
    return z, alias


def rows_filled_in_a_loop(x):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        out[i] = x[i] * i
    out[0, 1:] = -1
    out[:, 0] += 5
    return out


def writes_through_views(x):
    y = x * 1
    row = y[1]
    row += 10
    y[0][1] = -5
    column = y[:, 2]
    column[1:] = 0
    return y, row, column


def ufunc_out(x):
    y = np.empty_like(x)
    np.exp(np.clip(x, -3, 3), out=y)
    np.add(y, x, out=y)
    return y


def cast_on_write(x):
    y = np.zeros(x.shape, dtype=np.float32)
    y += x
    counts = np.zeros(x.shape[1], dtype=np.int64)
    counts += 2
    return y, counts


def writes_into_copies(x):
    y = x.copy()
    y += 1
    z = np.copy(x[1:])
    z[0] = y[0]
    return y, z, x


def scalars_rebind(x):
    total = x.sum()
    before = total
    total += 1
    n = x.shape[0]
    n += 1
    return total, before, x * n


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("function", [rows_filled_in_a_loop, writes_through_views, ufunc_out, cast_on_write,
                                      writes_into_copies, scalars_rebind], ids=lambda f: f.__name__)
def test_in_place_updates_match_numpy(function, dtype, backend):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4)).astype(dtype)
    traced = jitc.trace(function, x, backend=backend)
    check(traced, function, (x,))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_augmented_assignment_broadcasts_and_keeps_aliases(dtype, backend):
    rng = np.random.default_rng(1)
    traced = jitc.trace(augmented_assignments, (rng.random((3, 4)).astype(dtype), rng.random(4).astype(dtype)),
                        backend=backend)
    for rows in (3, 6):
        check(traced, augmented_assignments, (rng.random((rows, 4)).astype(dtype), rng.random(4).astype(dtype)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_update_that_would_grow_its_target_is_refused_at_call_time(backend):
    def grow(x, y):
        z = x * 1
        z += y
        return z
    traced = jitc.trace(grow, (np.ones((3, 4)), np.ones((3, 4))), backend=backend)
    with pytest.raises(ValueError):
        grow(np.ones((1, 4)), np.ones((3, 4)))
    with pytest.raises(ValueError):
        traced(np.ones((2, 4)), np.ones((3, 4)))


def test_an_update_that_does_not_fit_while_tracing_says_so():
    def grow(x, y):
        z = x * 1
        z += y
        return z
    with pytest.raises(jitc.TraceError, match=r"the \+= operator: non-broadcastable output operand with shape "
                                              r"\(1, 4\) does not match the broadcast shape \(3, 4\)"):
        jitc.trace(grow, (np.ones((1, 4)), np.ones((3, 4))))


def test_a_float_result_is_not_written_into_an_int_array():
    def into_ints(x):
        counts = np.zeros(x.shape, dtype=np.int64)
        counts += x
        return counts
    with pytest.raises(jitc.TraceError, match="cannot cast the result from float64 to int64 with casting rule "
                                              "'same_kind'"):
        jitc.trace(into_ints, np.ones(3))


@pytest.mark.parametrize("write", [
    lambda x: x.__iadd__(1),
    lambda x: x.__setitem__(0, 1.0),
    lambda x: x[1:].__imul__(2),
    lambda x: np.exp(x, out=x),
    lambda x: x.reshape(-1).__isub__(1),
])
def test_writing_into_an_input_is_refused(write):
    def writes(x):
        write(x)
        return x
    with pytest.raises(jitc.TraceError, match="an in-place update of the input 'x' is not supported by jitc.trace"):
        jitc.trace(writes, np.ones((2, 3)))


def writes_through_shape_views(x):
    y = x * 1
    transposed = y.T
    y[0] = 0
    y.T[1:, 1] = -2
    column = y[:, None][1]
    column += 3
    return y, transposed, column


@pytest.mark.parametrize("backend", BACKENDS)
def test_writes_through_transposes_and_new_axes_reach_their_base(backend):
    x = np.random.default_rng(2).standard_normal((3, 4))
    check(jitc.trace(writes_through_shape_views, x, backend=backend), writes_through_shape_views, (x,))


def test_reading_an_alias_made_stale_by_a_write_is_refused():
    def stale(x):
        y = x * 1
        alias = np.asarray(y)
        y[0] = 0
        return alias
    with pytest.raises(jitc.TraceError, match="an array the function returns may share memory with an array "
                                              "written in place at line"):
        jitc.trace(stale, np.ones((2, 3)))

    def stale_read(x):
        y = x * 1
        flat = y.reshape(-1)
        y[0] = 0
        return flat + 1
    with pytest.raises(jitc.TraceError, match="this array may share memory") as raised:
        jitc.trace(stale_read, np.ones((2, 3)))
    assert str(raised.value).splitlines()[-2] == "    return flat + 1"


def test_writing_through_a_reshape_makes_the_base_stale():
    def through_reshape(x):
        y = x * 1
        y.reshape(-1)[0] = 5
        return y
    with pytest.raises(jitc.TraceError, match="may share memory"):
        jitc.trace(through_reshape, np.ones((2, 3)))


def test_writing_into_a_broadcast_view_is_refused_as_in_numpy():
    def into_broadcast(x):
        y = np.broadcast_to(x * 1, (3, 2))
        y += 1
        return y
    with pytest.raises(ValueError):
        into_broadcast(np.ones(2))
    with pytest.raises(jitc.TraceError, match="assignment destination is read-only"):
        jitc.trace(into_broadcast, np.ones(2))


def test_out_must_be_a_traced_array():
    buffer = np.zeros(3)

    def into_constant(x):
        return np.add(x, 1, out=buffer)
    with pytest.raises(jitc.TraceError, match="can only write into one traced array"):
        jitc.trace(into_constant, np.ones(3))
