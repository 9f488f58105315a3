"""The scripting corpus (tests/frontend/corpus/): every function scripted
on both backends and compared with its own eager run at each declared size
and both float dtypes; then traced, where tracing can follow it, or shown
to warn and (under strict) fail where it decides control flow on data.
Traced graphs run on the interpreter backend: the tracer is what that test
checks, and an LLVM compile per function and dtype would double the time
of a module the script test already makes the slowest of the suite."""
from __future__ import annotations

import inspect
import os
import re

import numpy as np
import pytest

import jitc
from corpus import CASES
from support.backend_checks import check, scripted
from support.corpus import FLOAT_DTYPES

BACKENDS = ["llvm", "interpreter"]
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_scripted_matches_eager(case, backend, dtype):
    compiled = scripted(case.function, backend)
    rtol = case.rtol(dtype)
    for n in case.sizes:
        try:
            check(compiled, case.function, case.arguments(n, dtype), rtol, rtol)
        except AssertionError as error:
            raise AssertionError(f"at size {n}: {error}") from None


class Traceable:
    """`case.function` with its arguments split for jitc.trace: arrays (and
    the arrays inside list arguments) become the traced inputs; Python
    scalars, lists of scalars and None are bound as constants, as
    torch.jit.trace takes only tensors."""

    def __init__(self, case, args):
        self.case = case
        self.layout = []  # per argument: "array", a list length, or ("constant", value)
        self.arrays = []
        for argument in args:
            if isinstance(argument, np.ndarray):
                self.layout.append("array")
                self.arrays.append(argument)
            elif isinstance(argument, list) and argument and all(isinstance(a, np.ndarray) for a in argument):
                self.layout.append(len(argument))
                self.arrays.extend(argument)
            else:
                self.layout.append(("constant", argument))

    def function(self):
        """A function of the traced inputs alone, with a plain signature."""
        def bound(*inputs):
            pending = iter(inputs)
            args = [next(pending) if kind == "array"
                    else [next(pending) for _ in range(kind)] if isinstance(kind, int)
                    else kind[1] for kind in self.layout]
            return self.case.function(*args)
        parameter = inspect.Parameter.POSITIONAL_OR_KEYWORD
        bound.__signature__ = inspect.Signature(
            [inspect.Parameter(f"input{i}", parameter) for i in range(len(self.arrays))])
        bound.__name__ = self.case.function.__name__
        return bound

    def same_structure(self, other: "Traceable") -> bool:
        """Whether `other`'s inputs can go to a trace made on these: the same
        constants and list lengths."""
        return self.layout == other.layout


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_traced_matches_eager_or_refuses_data_dependent_control(case, dtype):
    traced_size, other_size = case.sizes[-1], case.sizes[0]
    inputs = Traceable(case, case.arguments(traced_size, dtype))
    function = inputs.function()
    rtol = case.rtol(dtype)
    if case.data_dependent:
        where = re.escape(os.path.basename(inspect.getfile(case.function))) + r'(:|", line )\d+'
        with pytest.raises(jitc.TraceError, match=where):
            jitc.trace(function, tuple(inputs.arrays))
        with pytest.warns(jitc.TracerWarning, match=where):
            traced = jitc.trace(function, tuple(inputs.arrays), strict=False, backend="interpreter")
        check(traced, function, inputs.arrays, rtol, rtol)
        return
    traced = jitc.trace(function, tuple(inputs.arrays), backend="interpreter")
    check(traced, function, inputs.arrays, rtol, rtol)
    other = Traceable(case, case.arguments(other_size, dtype))
    if other_size == traced_size or not inputs.same_structure(other):
        return
    if case.fixes_sizes:
        with pytest.raises((TypeError, ValueError), match="dim|shape"):
            traced(*other.arrays)
    else:
        try:
            check(traced, function, other.arrays, rtol, rtol)
        except AssertionError as error:
            raise AssertionError(f"traced at size {traced_size}, run at size {other_size}: {error}") from None
