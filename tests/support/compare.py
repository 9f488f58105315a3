"""Comparing compiled results with NumPy's: same type, dtype, shape, and
values within a tolerance chosen by dtype."""
from __future__ import annotations

import numpy as np

# Relative tolerances by result dtype: float32 results of a few ops in a
# different order than NumPy's agree to about 1e-5; float64 to 1e-12.
RTOL = {np.dtype("float16"): 1e-2, np.dtype("float32"): 1e-5, np.dtype("float64"): 1e-12,
        np.dtype("complex64"): 1e-5, np.dtype("complex128"): 1e-12}


def assert_same(actual, expected, rtol: float | None = None, atol: float | None = None, path: str = "result"):
    """Assert `actual` equals `expected` as NumPy would compute it: the same
    container structure, Python scalar types, array dtypes and shapes, and
    values within `rtol` (default by dtype; exact for ints and bools)."""
    if isinstance(expected, (tuple, list)):
        assert type(actual) is type(expected), f"{path}: {type(actual).__name__} != {type(expected).__name__}"
        assert len(actual) == len(expected), f"{path}: length {len(actual)} != {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_same(a, e, rtol, atol, f"{path}[{i}]")
        return
    if isinstance(expected, (np.ndarray, np.generic)):
        assert isinstance(actual, (np.ndarray, np.generic)), f"{path}: got {type(actual).__name__}, expected an array"
        assert actual.dtype == expected.dtype, f"{path}: dtype {actual.dtype} != {expected.dtype}"
        assert np.shape(actual) == np.shape(expected), f"{path}: shape {np.shape(actual)} != {np.shape(expected)}"
        if expected.dtype.kind in "fc":
            tolerance = RTOL[expected.dtype] if rtol is None else rtol
            np.testing.assert_allclose(actual, expected, rtol=tolerance,
                                       atol=tolerance if atol is None else atol, equal_nan=True,
                                       err_msg=path)
        else:
            np.testing.assert_array_equal(actual, expected, err_msg=path)
        return
    assert type(actual) is type(expected), f"{path}: {type(actual).__name__} != {type(expected).__name__}"
    if isinstance(expected, float):
        np.testing.assert_allclose(actual, expected, rtol=1e-12 if rtol is None else rtol, equal_nan=True)
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"
