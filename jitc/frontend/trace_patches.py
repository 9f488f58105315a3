"""NumPy and `math` functions that never reach a proxy's protocols.

`np.zeros(x.shape)`, `np.arange(n)`, `np.array([a, b])` and `math.sqrt(n)`
turn their arguments into Python values (or NumPy arrays) before anything
else, so a proxy only sees `__index__` or `__float__`: the trace would
hold a constant and fix the dims behind it. While a trace records, the
functions of the mapping table that NumPy does not dispatch through
`__array_function__` are replaced in the `numpy` and `math` modules by
wrappers (as torch.fx wraps `math` functions): called with traced values,
a wrapper records the call through the table; called without, it runs the
original. NumPy's creation functions called from the user's code are
recorded even without traced arguments; calls from other threads never
are. The originals are put back when the last trace ends. Code that
imported such a function by name (`from numpy import zeros`) keeps the
original, and its calls fix dims instead.
"""
from __future__ import annotations

import contextlib
import functools
import math
import sys
import threading

import numpy as np

from . import trace_inline
from .numpy_api import NUMPY_API


def _has_proxy(x) -> bool:
    from .trace_proxy import Proxy
    if isinstance(x, Proxy):
        return True
    if isinstance(x, (tuple, list)):
        return any(_has_proxy(item) for item in x)
    if isinstance(x, dict):
        return any(_has_proxy(item) for item in x.values())
    return False


def _wrapper(function, always: bool):
    """`always`: record calls from the user's code even without traced
    arguments (NumPy's creation functions: their arrays become traced
    constants, so that writing into them or indexing them with traced
    values is recorded, as torch.jit.trace records torch.zeros)."""
    from .tracer import is_library_code

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        tracer = trace_inline.current()
        if tracer is not None and (_has_proxy((args, kwargs)) or (
                always and not is_library_code(sys._getframe(1).f_code))):
            return tracer.call(function, *args, **kwargs)
        return function(*args, **kwargs)
    return wrapper


def _undispatched() -> list[tuple[object, str, object]]:
    """(module, name, function) of the table's functions in numpy and math
    that NumPy does not dispatch to a proxy."""
    found = []
    for module in (np, math):
        for name, function in list(vars(module).items()):
            if (callable(function) and not isinstance(function, (type, np.ufunc))
                    and not hasattr(function, "_implementation")  # an __array_function__ dispatcher
                    and NUMPY_API.lookup(function) is not None):
                found.append((module, name, function))
    return found


_LOCK = threading.Lock()
_installed: list[tuple[object, str, object]] = []  # (module, name, original) while any trace records
_depth = 0


@contextlib.contextmanager
def patched():
    """Wrappers in place while the block runs; the outermost of nested or
    concurrent traces installs and removes them."""
    global _depth
    with _LOCK:
        if _depth == 0:
            _installed[:] = _undispatched()
            for module, name, function in _installed:
                setattr(module, name, _wrapper(function, always=module is np))
        _depth += 1
    try:
        yield
    finally:
        with _LOCK:
            _depth -= 1
            if _depth == 0:
                for module, name, function in _installed:
                    setattr(module, name, function)
                _installed.clear()


__all__ = ["patched"]
