"""Checking the CUDA backend's results (device arrays) against eager NumPy
and the reference interpreter, as backend_checks.check does for NumPy results."""
from __future__ import annotations

import warnings

import numpy as np

import jitc
from jitc.errors import CompileWarning
from jitc.ir.interpreter import run_graph

from support.compare import assert_same


def on_host(value):
    """A result of the CUDA backend as NumPy returns it: 0-d arrays as NumPy scalars."""
    value = jitc.to_host(value)
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value[()]
    if isinstance(value, (list, tuple)):
        return type(value)(on_host(item) for item in value)
    return value


def check_cuda(compiled, eager, args, rtol=None, atol=None):
    """Run `compiled` (a backend="cuda" function) on `args`: it must compile
    for CUDA (no fallback), and agree with eager NumPy and the interpreter."""
    args = tuple(args)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        actual = compiled(*args)
    with np.errstate(all="ignore"):
        expected = eager(*args)
        interpreted = compiled.pack(run_graph(compiled.graph_for(*args), *args))
    assert compiled.specialization_for(compiled.bind(args, {})).backend == "cuda"
    assert_same(on_host(actual), expected, rtol, atol)
    assert_same(interpreted, expected, rtol, atol, path="interpreter")
    return actual
