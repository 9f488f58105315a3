"""Running a scripted function on the backend under test and checking it
against eager NumPy and the reference interpreter (tests/backends/).
JITC_TEST_BACKEND=interpreter runs the same tests on the interpreter, for
debugging the tests themselves."""
from __future__ import annotations

import os

import numpy as np

import jitc
from jitc.ir.interpreter import run_graph
from jitc.ir.ops.prim import arrays_in

from .compare import assert_same

BACKEND = os.environ.get("JITC_TEST_BACKEND", "llvm")
_SCRIPTED: dict = {}


def scripted(function, backend: str = BACKEND):
    """`function` scripted for `backend`, once per test session."""
    key = (function, backend)
    compiled = _SCRIPTED.get(key)
    if compiled is None:
        compiled = _SCRIPTED[key] = jitc.script(function, backend=backend)
    return compiled


def _copy(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def assert_owned(results, args):
    """Every array result is writeable and shares no memory with an input."""
    inputs = list(arrays_in(list(args)))
    for result in arrays_in(results if isinstance(results, tuple) else (results,)):
        assert result.flags.writeable, "a result array is read-only"
        for array in inputs:
            assert not np.shares_memory(result, array), "a result shares memory with an input"


def check(compiled, eager, args, rtol=None, atol=None):
    """Run `compiled`, eager NumPy and the interpreter on `args`; all agree,
    the compiled run leaves its inputs alone and its results own their memory."""
    args = tuple(args)
    before = _copy(list(args))
    with np.errstate(all="ignore"):
        expected = eager(*args)
        interpreted = compiled.pack(run_graph(compiled.graph_for(*args), *args))
    actual = compiled(*args)
    assert_same(actual, expected, rtol, atol)
    assert_same(interpreted, expected, rtol, atol, path="interpreter")
    for old, new in zip(before, args):
        assert_same(new, old, path="input after the call")
    assert_owned(actual, args)
    return actual


def check_script(function, *args, rtol=None, atol=None):
    """`check` of `function` scripted for BACKEND."""
    return check(scripted(function), function, args, rtol, atol)
