"""NumPy functions built from existing ops (numpy_composites.py): each is
scripted (and a few traced), run on the backend under test and the
reference interpreter, and compared with eager NumPy on several shapes and
both float dtypes. Also `x.dtype`, `math` on scalar values and NumPy
scalar constructors."""
from __future__ import annotations

import math

import numpy as np
import pytest

import jitc
from jitc.errors import ScriptError
from support.backend_checks import BACKEND, check, check_script, scripted
from support.compare import assert_same

pytestmark = pytest.mark.filterwarnings("error::jitc.CompileWarning")

FLOATS = [np.float32, np.float64]
RNG = np.random.default_rng(7)


def arrays(dtype, *shapes):
    return tuple(RNG.standard_normal(shape).astype(dtype) for shape in shapes)


# -- split ---------------------------------------------------------------------------------------------------
def split_three_indexed(x):
    parts = np.split(x, 3, axis=-1)
    return parts[0] + parts[1] * parts[2]


def split_three_unpacked(x):
    q, k, v = np.split(x, 3, axis=-1)
    return q * k - v


def split_heads(x):
    return np.concatenate([np.tanh(h) * 2 for h in np.split(x, 4, axis=-1)], axis=0)


def split_count_from_parameter(x, n: int):
    return [h.sum(axis=-1) for h in np.split(x, n, axis=-1)]


def split_returned(x):
    return np.split(x, 2)


def split_at_indices(x):
    return np.split(x, [1, -2, 10], axis=1)


def split_at_value_indices(x, i: int):
    return np.split(x, [i, i + 1], axis=0)


def array_split_three(x):
    return np.array_split(x, 3, axis=0)


def array_split_many(x):
    return np.array_split(x, 5, axis=-1)


def split_count_from_data(x):
    return np.split(x, int(x[0]))


def split_zero_sections(x):
    return np.split(x, 0)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(4, 6), (2, 3, 9), (9,)])
def test_split_into_equal_sections(dtype, shape):
    check_script(split_three_indexed, *arrays(dtype, shape))


def test_split_unpacks_into_names():
    check_script(split_three_unpacked, *arrays(np.float32, (2, 6)))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(3, 8), (2, 2, 4)])
def test_split_in_a_list_comprehension(dtype, shape):
    check_script(split_heads, *arrays(dtype, shape))


@pytest.mark.parametrize("n", [1, 2, 4])
def test_split_count_from_an_int_parameter(n):
    """An int parameter that decides the count is specialised on (one version per value)."""
    check_script(split_count_from_parameter, *arrays(np.float32, (2, 8)), n)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(4,), (6, 3), (2, 2, 2)])
def test_split_returns_a_list(dtype, shape):
    result = check_script(split_returned, *arrays(dtype, shape))
    assert isinstance(result, list)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(3, 5), (2, 12, 2), (1, 3)])
def test_split_at_indices(dtype, shape):
    """Negative and out-of-range indices slice as NumPy's do (empty pieces included)."""
    check_script(split_at_indices, *arrays(dtype, shape))


@pytest.mark.parametrize("i", [0, 2, 5, -1])
def test_split_at_indices_computed_at_run_time(i):
    check_script(split_at_value_indices, *arrays(np.float64, (4, 3)), i)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(7, 2), (6,), (2, 3), (0, 4)])
def test_array_split_uneven(dtype, shape):
    """Sizes that do not divide: the first size % 3 sections are one longer; fewer rows than sections."""
    check_script(array_split_three, *arrays(dtype, shape))


@pytest.mark.parametrize("shape", [(2, 13), (3,), (4, 5)])
def test_array_split_more_sections(shape):
    check_script(array_split_many, *arrays(np.float32, shape))


@pytest.mark.parametrize("shape", [(2, 7), (3, 1), (4,)])
def test_split_that_does_not_divide_raises(shape):
    """When it runs, as NumPy's (a size of 1 is known while compiling)."""
    x = arrays(np.float64, shape)[0]
    with pytest.raises(ValueError):
        np.split(x, 3, axis=-1)
    for backend in {BACKEND, "interpreter"}:
        with pytest.raises(ValueError, match="cannot reshape"):
            jitc.script(split_three_indexed, backend=backend)(x)


def test_split_count_must_be_known_at_compile_time():
    with pytest.raises(ScriptError, match="number of sections must be a constant known at compile time"):
        jitc.script(split_count_from_data)(np.full(6, 3.0))


def test_split_count_must_be_positive():
    with pytest.raises(ScriptError, match="larger than 0"):
        jitc.script(split_zero_sections)(np.zeros(6))


def split_traced(x):
    first, second = np.split(x, 2, axis=1)
    return first - second


@pytest.mark.parametrize("dtype", FLOATS)
def test_split_traced(dtype):
    x = arrays(dtype, (3, 4))[0]
    traced = jitc.trace(split_traced, (x,), backend=BACKEND)
    check(traced, split_traced, (x,))


# -- axes ----------------------------------------------------------------------------------------------------
def swap_function(x):
    return np.swapaxes(x, 0, -1)


def swap_method(x):
    return x.swapaxes(1, 0) * 2


def move_one(x):
    return np.moveaxis(x, 0, -1)


def move_many(x):
    return np.moveaxis(x, [0, -1], [-1, 1])


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 4), (3, 1, 2, 2)])
def test_swapaxes(dtype, shape):
    x = arrays(dtype, shape)[0]
    check_script(swap_function, x)
    check_script(swap_method, x)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(2, 3, 4), (4, 2, 3, 2)])
def test_moveaxis(dtype, shape):
    x = arrays(dtype, shape)[0]
    check_script(move_one, x)
    check_script(move_many, x)


def swap_out_of_range(x):
    return np.swapaxes(x, 0, 2)


def move_repeated(x):
    return np.moveaxis(x, [0, 0], [1, 2])


@pytest.mark.parametrize("function, message", [(swap_out_of_range, "axis2 2 is out of bounds"),
                                               (move_repeated, "repeated axis")])
def test_bad_axes_raise(function, message):
    with pytest.raises(ScriptError, match=message):
        jitc.script(function)(np.zeros((2, 3)))


# -- stacking ------------------------------------------------------------------------------------------------
def hstack_pair(x, y):
    return np.hstack([x, y])


def vstack_pair(x, y):
    return np.vstack((x, y))


def hstack_with_scalar(x, s: float):
    return np.hstack((x[0], s, 2.0))


def vstack_with_scalar(x, s: float):
    return np.vstack([x[0], x[0] * s])


def atleast(x):
    return np.atleast_1d(x), np.atleast_2d(x), np.atleast_3d(x)


def atleast_several(x, y):
    return np.atleast_2d(x, y)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shapes", [((3,), (2,)), ((2, 3), (2, 1)), ((2, 2, 3), (2, 4, 3))])
def test_hstack(dtype, shapes):
    check_script(hstack_pair, *arrays(dtype, *shapes))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shapes", [((3,), (3,)), ((2, 3), (1, 3)), ((1, 2, 3), (2, 2, 3)), ((2, 3), (3,))])
def test_vstack(dtype, shapes):
    check_script(vstack_pair, *arrays(dtype, *shapes))


def test_stacking_promotes_mixed_dtypes():
    x, = arrays(np.float32, (2, 3))
    y, = arrays(np.float64, (2, 3))
    check_script(hstack_pair, x, y)
    check_script(vstack_pair, y.astype(np.int32), x)


@pytest.mark.parametrize("dtype", FLOATS)
def test_stacking_scalars(dtype):
    x, = arrays(dtype, (2, 3))
    check_script(hstack_with_scalar, x, 1.5)
    check_script(vstack_with_scalar, x, 1.5)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 3, 4), (1, 2, 3, 2)])
def test_atleast(dtype, shape):
    check_script(atleast, np.asarray(arrays(dtype, shape)[0]))


def test_atleast_of_several_arrays_is_a_tuple():
    check_script(atleast_several, *arrays(np.float32, (3,), (2, 2)))


# -- creation from an array ----------------------------------------------------------------------------------
def like(x):
    return np.zeros_like(x), np.ones_like(x), np.full_like(x, 2.5), np.full_like(x, 7.9, dtype=np.int32)


def like_with_dtype(x):
    return np.zeros_like(x, dtype=np.float32) + np.ones_like(x, dtype=np.int64)


def like_with_shape(x):
    return np.ones_like(x, shape=(2, x.shape[0]))


def like_of_scalar(s: float, n: int):
    return np.zeros_like(s), np.ones_like(n), np.full_like(n, 3)


def empty_shapes(x):
    return np.empty_like(x).shape, np.empty((3, x.shape[-1]), dtype=np.int32).shape


def empty_dtypes(x):
    return np.empty_like(x, dtype=np.int32) * 0, np.empty(x.shape[0], dtype=x.dtype) * 0


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(), (4,), (2, 3), (2, 1, 3)])
def test_like(dtype, shape):
    x = np.asarray(arrays(dtype, shape)[0])
    check_script(like, x)
    check_script(like_with_dtype, x)


def test_like_with_shape_and_of_scalars():
    check_script(like_with_shape, *arrays(np.float32, (3,)))
    check_script(like_of_scalar, 1.5, 2)


@pytest.mark.parametrize("dtype", FLOATS)
def test_empty(dtype):
    """Values of np.empty are unspecified: only shapes and dtypes compare (ints times 0 are 0)."""
    x, = arrays(dtype, (2, 5))
    check_script(empty_shapes, x)
    result = scripted(empty_dtypes)(x)
    assert [r.dtype for r in result] == [np.dtype(np.int32), np.dtype(dtype)]
    assert [r.shape for r in result] == [(2, 5), (2,)]
    assert not result[0].any()


# -- outer ---------------------------------------------------------------------------------------------------
def outer(x, y):
    return np.outer(x, y)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shapes", [((3,), (4,)), ((2, 2), (3,)), ((1,), (5,))])
def test_outer(dtype, shapes):
    check_script(outer, *arrays(dtype, *shapes))


def test_outer_promotes():
    check_script(outer, *arrays(np.float32, (3,)), np.arange(4, dtype=np.int64))


# -- dtype ---------------------------------------------------------------------------------------------------
def cast_like(x, y):
    return x.astype(y.dtype), np.zeros(3, dtype=x.dtype), np.ones((2, 2), y.dtype)


def dtype_kind(x):
    if x.dtype.kind == "f":
        return x * 2
    return x


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("other", [np.float32, np.float64, np.int32, np.bool_])
def test_dtype_attribute(dtype, other):
    x, = arrays(dtype, (2, 3))
    check_script(cast_like, x, np.ones(4, other))


def test_dtype_attribute_decides_at_compile_time():
    check_script(dtype_kind, *arrays(np.float32, (3,)))
    check_script(dtype_kind, np.arange(3))


# -- math on scalar values -----------------------------------------------------------------------------------
def math_float(a: float):
    return (math.sqrt(a) + math.exp(a) + math.log(a) + math.log(a, 2) + math.pow(a, 1.5) + math.fabs(-a),
            math.floor(a), math.ceil(a), math.isnan(a), math.isinf(a), math.isfinite(a),
            math.atan2(a, 2.0), math.degrees(a), math.radians(a), math.pi * a + math.e + math.tau)


def math_int(n: int):
    return (math.sqrt(n), math.exp(n), math.log(n), math.pow(n, 2), math.fabs(n), math.floor(n),
            math.ceil(n), math.isnan(n), math.isfinite(n), math.log10(n), math.degrees(n))


def math_specials(a: float):
    return math.isnan(a), math.isinf(a), math.isfinite(a), math.fabs(a), a < math.inf


def math_on_array_element(x):
    return math.sqrt(x[0]) + math.log(x[1], 10)


@pytest.mark.parametrize("a", [0.25, 1.0, 2.5, 30.0])
def test_math_on_floats(a):
    check_script(math_float, a)


@pytest.mark.parametrize("n", [1, 2, 7, 100])
def test_math_on_ints(n):
    check_script(math_int, n)


@pytest.mark.parametrize("a", [math.nan, math.inf, -math.inf, -2.0])
def test_math_predicates_on_special_floats(a):
    check_script(math_specials, a)


@pytest.mark.parametrize("dtype", FLOATS)
def test_math_on_array_elements(dtype):
    check_script(math_on_array_element, np.array([4.0, 100.0], dtype))


# -- NumPy scalar constructors -------------------------------------------------------------------------------
def scalar_constructors(a: float, n: int):
    return np.float32(a), np.float64(n), np.int64(a), np.int32(n), np.float32(a) * 2


def array_constructors(x):
    return np.float32(x), np.int64(x)


@pytest.mark.parametrize("a, n", [(2.75, 3), (-1.5, -7)])
def test_scalar_constructors(a, n):
    check_script(scalar_constructors, a, n)


@pytest.mark.parametrize("dtype", FLOATS)
def test_scalar_constructors_on_arrays(dtype):
    check_script(array_constructors, *arrays(dtype, (2, 3)))


def test_results_match_eager_numpy_types():
    """A NumPy scalar stays one, and list results stay lists of arrays."""
    result = scripted(scalar_constructors)(2.75, 3)
    assert_same(result, scalar_constructors(2.75, 3))
    assert type(result[0]) is np.float32
