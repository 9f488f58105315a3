"""The check every example makes: what jitc computes equals what NumPy
computes (same dtypes and shapes, values within a stated tolerance)."""
import numpy as np


def assert_matches(name, actual, expected, tolerance):
    """`actual` (an array or a tuple of arrays) equals `expected` within
    `tolerance`, relative and absolute; prints that it does."""
    actual = actual if isinstance(actual, tuple) else (actual,)
    expected = expected if isinstance(expected, tuple) else (expected,)
    assert len(actual) == len(expected), f"{name}: {len(actual)} results, NumPy gives {len(expected)}"
    for index, (got, want) in enumerate(zip(actual, expected)):
        where = f"{name}, result {index}"
        assert got.dtype == want.dtype and got.shape == want.shape, \
            f"{where}: {got.dtype}{got.shape}, NumPy gives {want.dtype}{want.shape}"
        np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance, err_msg=where)
    difference = max(float(np.max(np.abs(got - want), initial=0)) for got, want in zip(actual, expected))
    print(f"{name}: matches NumPy (largest difference {difference:.1e})")
