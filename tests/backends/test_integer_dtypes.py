"""Small and unsigned integer dtypes (int8, int16, uint8, uint16, uint32,
uint64) on the backend under test and the reference interpreter, against
eager NumPy: arithmetic (division by zero included), comparisons, casts,
reductions with NumPy's result dtypes (a uint8 sum is uint64), NumPy 2
promotion (mixed dtypes, weak Python ints), and the call-time checks,
complex arrays included, which jitc refuses by name."""
from __future__ import annotations

import numpy as np
import pytest

import jitc
from jitc.errors import ScriptError
from jitc.ir.parser import parse_graph
from jitc.ir.types import DType, TensorType
from support.backend_checks import BACKEND, check_script, scripted

pytestmark = pytest.mark.filterwarnings("error::jitc.CompileWarning")

UNSIGNED = [np.uint8, np.uint16, np.uint32, np.uint64]
SMALL = UNSIGNED + [np.int8, np.int16]
RNG = np.random.default_rng(11)


def full_range(dtype, shape, low=None):
    """Values over the whole range of `dtype` (its extremes included)."""
    info = np.iinfo(dtype)
    values = RNG.integers(info.min if low is None else low, info.max, shape, dtype=dtype, endpoint=True)
    flat = values.reshape(-1)
    flat[:2] = [info.max, info.min if low is None else low]
    return values


# -- arithmetic and comparisons ------------------------------------------------------------------------------
def arithmetic(x, y):
    return x + y, x - y, x * y, x // y, x % y, -x, x ** 3, abs(x), np.sign(x), np.square(y)


def comparisons(x, y):
    return x < y, x <= y, x > y, x >= y, x == y, x != y, np.maximum(x, y), np.minimum(x, y)


def bitwise(x, y):
    return x & y, x | y, x ^ y, ~x, np.logical_and(x, y), np.logical_not(x)


def true_division(x, y):
    return x / y, np.sqrt(x), np.reciprocal(y), np.floor(x), np.clip(x, y, x)


@pytest.mark.parametrize("dtype", SMALL)
@pytest.mark.parametrize("shape", [(7,), (3, 4)])
def test_arithmetic(dtype, shape):
    """Wrapping as NumPy wraps; // and % by zero give 0."""
    x, y = full_range(dtype, shape), full_range(dtype, shape)
    y.reshape(-1)[2] = 0
    check_script(arithmetic, x, y)


@pytest.mark.parametrize("dtype", SMALL)
def test_comparisons(dtype):
    x, y = full_range(dtype, (4, 5)), full_range(dtype, (4, 5))
    y[0] = x[0]
    check_script(comparisons, x, y)


@pytest.mark.parametrize("dtype", SMALL)
def test_bitwise(dtype):
    check_script(bitwise, full_range(dtype, (9,)), full_range(dtype, (9,)))


@pytest.mark.parametrize("dtype", SMALL)
def test_float_results(dtype):
    x, y = full_range(dtype, (8,)), full_range(dtype, (8,))
    y[3] = 0
    check_script(true_division, x, y)


def power_by(x, y):
    return x ** y


@pytest.mark.parametrize("dtype", UNSIGNED)
def test_power_with_large_exponents(dtype):
    """Exponents above the signed maximum (the loop shifts them as unsigned)."""
    x = np.array([0, 1, 2, 3, 255], dtype)
    y = np.array([np.iinfo(dtype).max, 2 ** (8 * np.dtype(dtype).itemsize - 1), 5, 0, 1], dtype)
    check_script(power_by, x, y)


# -- promotion -----------------------------------------------------------------------------------------------
def mixed(x, y):
    return x + y, x * y, x < y, np.maximum(x, y), np.where(x > 1, x, y)


@pytest.mark.parametrize("dtypes", [(np.uint8, np.int8), (np.uint8, np.uint16), (np.uint32, np.int32),
                                    (np.uint64, np.int64), (np.uint64, np.uint8), (np.uint32, np.float32),
                                    (np.uint16, np.float16), (np.uint8, np.bool_), (np.int16, np.uint64),
                                    (np.uint64, np.float64)])
def test_mixed_dtypes_promote_as_numpy(dtypes):
    """np.result_type decides: uint8 + int8 is int16, uint64 + int64 float64."""
    first, second = dtypes
    x = np.arange(6, dtype=first) * 3
    y = (np.arange(6, dtype=second) + 1) if second is not np.bool_ else np.arange(6) % 2 == 0
    check_script(mixed, x, y)
    check_script(mixed, y, x)


def with_python_ints(x, n: int):
    return x + 1, x * 3, 2 - x, x // 2, x + n, x < 300, x == -1, x >= -1, 1000 > x, np.clip(x, -5, 300)


def with_python_floats(x, a: float):
    return x + 1.5, x * a, x / 2


@pytest.mark.parametrize("dtype", SMALL)
def test_python_scalars_are_weak(dtype):
    """A Python int keeps the array's dtype; comparisons with ints outside
    its range give the exact answer; a Python float makes float64."""
    x = full_range(dtype, (6,), low=0)
    check_script(with_python_ints, x, 2)
    check_script(with_python_floats, x, 0.25)


def add_int(x, n: int):
    return x + n


def add_constant(x):
    return x + 300


@pytest.mark.parametrize("dtype, n", [(np.uint8, 256), (np.uint8, -1), (np.int8, 128), (np.uint64, -1),
                                      (np.uint32, 2 ** 32), (np.int16, -2 ** 15 - 1)])
def test_python_int_out_of_range_raises(dtype, n):
    """NumPy 2 raises OverflowError instead of wrapping the int."""
    x = np.zeros(3, dtype)
    with pytest.raises(OverflowError, match="out of bounds"):
        x + n
    for backend in {BACKEND, "interpreter"}:
        with pytest.raises(OverflowError, match=f"Python integer {n} out of bounds for {np.dtype(dtype).name}"):
            jitc.script(add_int, backend=backend)(x, n)


def test_constant_out_of_range_raises_when_it_runs():
    with pytest.raises(OverflowError, match="Python integer 300 out of bounds for uint8"):
        scripted(add_constant)(np.zeros(2, np.uint8))
    check_script(add_constant, np.zeros(2, np.uint16))


def compare_int(x, n: int):
    return x < n, n < x, x == n, x != n, x >= n, n >= x


@pytest.mark.parametrize("n", [-1, -2 ** 63, 0, 5, 2 ** 63 - 1])
def test_uint64_compares_with_any_python_int(n):
    x = np.array([0, 5, 2 ** 63, 2 ** 64 - 1], np.uint64)
    check_script(compare_int, x, n)


# -- casts ---------------------------------------------------------------------------------------------------
def cast_all(x):
    return (x.astype(np.uint8), x.astype(np.int8), x.astype(np.uint16), x.astype(np.int16),
            x.astype(np.uint32), x.astype(np.int32), x.astype(np.uint64), x.astype(np.int64),
            x.astype(np.float16), x.astype(np.float32), x.astype(np.float64), x.astype(np.bool_))


@pytest.mark.parametrize("dtype", SMALL + [np.int32, np.int64, np.bool_])
def test_casts_between_integers_and_floats(dtype):
    x = full_range(dtype, (10,)) if dtype is not np.bool_ else np.arange(10) % 3 == 0
    check_script(cast_all, x)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_casts_from_floats(dtype):
    """Values every integer dtype holds (out of range, C casts differ by machine)."""
    check_script(cast_all, np.array([0.0, 0.7, 1.5, 99.9, 127.0, 64.5], dtype))


def to_half(x):
    return x.astype(np.float16)


def test_float64_to_float16_rounds_once():
    """Bit for bit as NumPy: halfway cases of float16 that float32 cannot
    hold (rounding through float32 would round twice), overflow, tiny values."""
    halves = np.float16(RNG.standard_normal(4000)).astype(np.float64)
    ulp = np.spacing(np.float16(halves)).astype(np.float64)
    specials = [np.nan, np.inf, -np.inf, 0.0, -0.0, 65504.0, 65519.99, 65520.0, 1e300, -1e-300, 2.0 ** -25,
                2.0 ** -25 + 2.0 ** -60, 1.5 * 2.0 ** -24]
    x = np.concatenate([halves + ulp / 2 * (1 + 2.0 ** -40), halves + ulp / 2, RNG.standard_normal(4000) * 1e3,
                        specials])
    with np.errstate(over="ignore"):
        expected = x.astype(np.float16)
    assert np.array_equal(scripted(to_half)(x).view(np.uint16), expected.view(np.uint16))


def to_uint32(x):
    return x.astype(np.uint32)


def to_uint64(x):
    return x.astype(np.uint64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_floats_into_wide_unsigned(dtype):
    """Above the signed maximum of the same width (uint64 converts as unsigned from 2**63)."""
    check_script(to_uint32, np.array([2.0 ** 31, 3e9, 2.0 ** 32 - 256, 1.0], dtype))
    check_script(to_uint64, np.array([2.0 ** 63, 1.5e19, 2.0 ** 64 - 2 ** 40, 2.0 ** 62, 3.0], dtype))


# -- reductions ----------------------------------------------------------------------------------------------
def reductions(x):
    return (x.sum(), x.sum(axis=0), np.prod(x, axis=-1), x.max(), x.min(axis=1), x.argmax(), x.argmin(axis=0),
            x.mean(), x.mean(axis=1), np.any(x, axis=0), np.all(x), x.var(axis=0), x.std())


@pytest.mark.parametrize("dtype", SMALL)
@pytest.mark.parametrize("shape", [(3, 4), (1, 5), (4, 1)])
def test_reductions_take_numpys_result_dtypes(dtype, shape):
    """sum and prod of unsigned ints are uint64, of small signed ints int64."""
    check_script(reductions, full_range(dtype, shape), rtol=1e-12)


def test_sum_of_uint8_is_uint64():
    result = scripted(reductions)(np.full((3, 4), 255, np.uint8))
    assert result[0].dtype == np.uint64 and result[0] == 255 * 12


# -- call-time checks ----------------------------------------------------------------------------------------
def double(x):
    return x * 2


def test_each_dtype_gets_its_own_version():
    """The native entry of one dtype declines the others: each call runs the right one."""
    compiled = jitc.script(double, backend=BACKEND)
    arrays = [np.arange(5, dtype=d) for d in (np.uint8, np.int8, np.uint64, np.int64, np.uint8, np.uint32)]
    for x in arrays:
        result = compiled(x)
        assert result.dtype == x.dtype and np.array_equal(result, x * 2)
    assert compiled(np.array([200], np.uint8))[0] == 144


def add(x, y):
    return x + y


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_complex_arrays_are_refused_by_name(dtype):
    compiled = jitc.script(add, backend=BACKEND)
    compiled(np.ones(2), np.ones(2))
    with pytest.raises(TypeError, match="argument 'y': complex numbers are not supported"):
        compiled(np.ones(2), np.ones(2, dtype))
    with pytest.raises(TypeError, match="complex numbers are not supported"):
        jitc.trace(add, (np.ones(2, dtype), np.ones(2)), backend=BACKEND)


def complex_constructor(x):
    return np.complex64(x)


def complex_cast(x):
    return x.astype(np.complex128)


@pytest.mark.parametrize("function", [complex_constructor, complex_cast])
def test_complex_dtypes_in_code_are_script_errors(function):
    with pytest.raises(ScriptError, match="complex"):
        jitc.script(function, backend=BACKEND)(np.ones(2))


# -- the text form -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [DType.UINT8, DType.UINT16, DType.UINT32, DType.UINT64])
def test_unsigned_types_print_and_parse(dtype):
    text = (f"graph(%x : {TensorType(dtype, ('*', 3))}):\n"
            f"  %y : {TensorType(dtype, ('*', 3))} = np::add(%x, %x)\n"
            f"  return (%y)\n")
    graph = parse_graph(text)
    assert graph.params[0].type == TensorType(dtype, ("*", 3))
    assert str(graph) == text
