"""The vectorisable exp/expm1/tanh/log of the LLVM backend against NumPy,
over the whole float range, special values included. Bounds in ulp as
documented in backends/llvm/vector_math.py."""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import jitc

ULP_BOUNDS = {np.float32: {"exp": 3, "expm1": 2, "tanh": 5, "log": 4},
              np.float64: {"exp": 2, "expm1": 2, "tanh": 3, "log": 3}}


def transcendentals(x):
    return np.exp(x), np.expm1(x), np.tanh(x), np.log(np.abs(x))


def _inputs(dtype):
    rng = np.random.default_rng(7)
    info = np.finfo(dtype)
    spread = [rng.standard_normal(20000) * scale for scale in (1e-30, 1e-5, 0.1, 1, 10, 100, 700)]
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, info.tiny, info.tiny / 8, info.max, -info.max,
               88.7, 88.8, -103.9, -104.5, 709.7, 709.8, -745.0, -746.0, 1.0, -1.0]
    with np.errstate(all="ignore"):
        return np.concatenate(spread + [np.array(special)]).astype(dtype)


def _float32_sweep():
    """Every 997th float32 bit pattern (4.3 million values, all signs and exponents)."""
    return np.arange(0, 2 ** 32, 997, dtype=np.uint64).astype(np.uint32).view(np.float32)


def _ulp_error(actual, expected, dtype):
    same = (actual == expected) | (np.isnan(actual) & np.isnan(expected))
    with np.errstate(all="ignore"):
        error = np.abs(actual.astype(np.float64) - expected.astype(np.float64)) / np.spacing(
            np.abs(expected).astype(dtype)).astype(np.float64)
    return np.where(same, 0.0, np.where(np.isnan(error), np.inf, error))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transcendentals_within_documented_ulps(dtype):
    x = _inputs(dtype)
    compiled = jitc.script(transcendentals)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("error", jitc.CompileWarning)
        actual = compiled(x)
        expected = transcendentals(x)
    for name, a, e in zip(("exp", "expm1", "tanh", "log"), actual, expected):
        assert a.dtype == e.dtype and a.shape == e.shape
        errors = _ulp_error(a, e, dtype)
        worst = int(np.argmax(errors))
        assert errors[worst] <= ULP_BOUNDS[dtype][name], (
            f"{name}({x[worst]!r}) = {a[worst]!r}, NumPy {e[worst]!r}: {errors[worst]} ulp")


def test_fused_loops_use_vector_instructions():
    def gelu(x):
        return 0.5 * x * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x ** 3)))
    x = np.linspace(-5, 5, 1000, dtype=np.float32)
    compiled = jitc.script(gelu)
    np.testing.assert_allclose(compiled(x), gelu(x), rtol=1e-5, atol=1e-6)
    graph = str(compiled.graph_for(x))
    assert graph.count("prim::FusionGroup") == 1 and "np::tanh" in graph
    assert re.search(r"\bv?mulps\b", compiled.asm(x)), "no packed float multiply: the loop is not vectorised"


# float32 against the exact function (NumPy in float64): the bounds measured over every 13th
# float32 with `jitc.script` and quoted in backends/llvm/vector_math.py
EXACT_BOUNDS_FLOAT32 = {"exp": 0.9, "expm1": 1.8, "tanh": 5.1, "log": 2.9}


def test_float32_transcendentals_within_measured_ulps_of_exact():
    x = _float32_sweep()
    compiled = jitc.script(transcendentals)
    with np.errstate(all="ignore"):
        actual = compiled(x)
        exact = transcendentals(x.astype(np.float64))
    for name, a, e in zip(("exp", "expm1", "tanh", "log"), actual, exact):
        rounded = e.astype(np.float32)
        same = (a == rounded) | (np.isnan(a) & np.isnan(rounded))
        with np.errstate(all="ignore"):
            errors = np.abs(a.astype(np.float64) - e) / np.spacing(np.abs(rounded)).astype(np.float64)
        errors = np.where(same, 0.0, np.where(np.isnan(errors), np.inf, errors))
        worst = int(np.argmax(errors))
        assert errors[worst] <= EXACT_BOUNDS_FLOAT32[name], (
            f"{name}({x[worst]!r}) = {a[worst]!r}, exact {e[worst]!r}: {errors[worst]} ulp")


def test_float32_tanh_stays_within_one_as_numpy():
    x = np.concatenate([_float32_sweep(), np.linspace(-10, 10, 100001, dtype=np.float32)])
    with np.errstate(all="ignore"):
        actual, expected = jitc.script(transcendentals)(x)[2], np.tanh(x)
    finite = ~np.isnan(x)
    assert np.array_equal(np.abs(actual[finite]) <= 1, np.abs(expected[finite]) <= 1)
    assert np.array_equal(np.signbit(actual[finite]), np.signbit(expected[finite]))


def test_float32_exp_at_its_edges_as_numpy():
    """Around the ends of the clamp and of the scaling steps: overflow to inf, the largest finite
    results, subnormal results (those scale by 2^-64 last), underflow to 0, and the sign of x."""
    info = np.finfo(np.float32)
    edges = np.array([88.72, 88.7228, 88.73, 89.0, 100.0, -87.3, -87.4, -100.0, -103.27, -103.28, -103.9,
                      -104.0, -104.5, -200.0, 44.0, -44.0, 0.0, -0.0, info.tiny, -info.tiny, np.inf, -np.inf, np.nan],
                     dtype=np.float32)
    x = np.concatenate([edges, np.nextafter(edges, np.float32(np.inf)), np.nextafter(edges, np.float32(-np.inf)),
                        np.linspace(-104, 89, 200001, dtype=np.float32)])
    with np.errstate(all="ignore"):
        actual = jitc.script(transcendentals)(x)[0]
        expected = np.exp(x)
    errors = _ulp_error(actual, expected, np.float32)
    assert errors.max() <= ULP_BOUNDS[np.float32]["exp"], x[np.argmax(errors)]
    assert np.array_equal(np.isinf(actual), np.isinf(expected)) and np.array_equal(actual == 0, expected == 0)
    assert np.array_equal(np.isnan(actual), np.isnan(expected))
