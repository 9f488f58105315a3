"""Finding a BLAS for matrix products: the OpenBLAS that NumPy's wheels
bundle (64-bit integers, `scipy_` prefix), so jitc adds no dependency.
Without one, matmul runs as plain loops."""
from __future__ import annotations

import ctypes
import functools
import glob
import os

import numpy as np

from . import symbols

# symbol jitc code calls -> candidates in the library, first found wins
_GEMM = {f"jitc_{t}{op}": (f"scipy_cblas_{t}{op}64_", f"cblas_{t}{op}64_") for t in "sd" for op in ("gemm", "gemv")}


def _library_paths() -> list[str]:
    root = os.path.dirname(os.path.dirname(np.__file__))
    return sorted(glob.glob(os.path.join(root, "numpy.libs", "libscipy_openblas64_*.so*")) +
                  glob.glob(os.path.join(root, "scipy_openblas64", "lib", "libscipy_openblas64_*.so*")))


@functools.cache
def gemm_library() -> tuple[str, dict[str, str], dict[str, int]] | None:
    """The first BLAS found: its path, the library's name for each jitc_*
    symbol (for linking ahead of time, export.py) and their addresses here."""
    for path in _library_paths():
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        names, addresses = {}, {}
        for symbol, candidates in _GEMM.items():
            for name in candidates:
                if hasattr(library, name):
                    names[symbol] = name
                    addresses[symbol] = ctypes.cast(getattr(library, name), ctypes.c_void_p).value
                    break
        if len(names) == len(_GEMM):
            return path, names, addresses
    return None


@functools.cache
def gemm_available() -> bool:
    """Register jitc_sgemm/jitc_dgemm (cblas with int64 sizes) with the JIT, if a BLAS is found."""
    if os.environ.get("JITC_DISABLE_BLAS"):
        return False
    found = gemm_library()
    if found is None:
        return False
    for symbol, address in found[2].items():
        symbols.define(symbol, address)
    return True
