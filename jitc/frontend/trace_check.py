"""`check_inputs` of `jitc.trace`: run the eager function and the trace on
other inputs and name the first output where they differ, as
`torch.jit.trace(check_trace=True)` does. A trace that recorded a
data-dependent decision as a constant is caught here."""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from ..errors import TracingCheckError

# Relative (and absolute) tolerance by result dtype: compiled code may sum in another order.
TOLERANCE = {np.dtype("float16"): 1e-2, np.dtype("float32"): 1e-4, np.dtype("float64"): 1e-9,
             np.dtype("complex64"): 1e-4, np.dtype("complex128"): 1e-9}


def check_trace(traced, eager: Callable, check_inputs: Iterable[Any]) -> None:
    """Raise TracingCheckError at the first argument tuple of `check_inputs`
    on which `traced` and `eager` disagree."""
    for input_index, arguments in enumerate(check_inputs):
        arguments = arguments if isinstance(arguments, tuple) else (arguments,)
        where = f"check_inputs[{input_index}]"
        with np.errstate(all="ignore"):
            expected = eager(*_copies(arguments))
        try:
            actual = traced(*_copies(arguments))
        except (TypeError, ValueError) as error:
            raise TracingCheckError(f"{traced.__name__}: the trace refused {where}: {error}",
                                    input_index) from error
        expected = expected if isinstance(expected, tuple) else (expected,)
        actual = actual if isinstance(actual, tuple) else (actual,)
        for output_index, (a, e) in enumerate(zip(actual, expected)):
            problem, difference = _difference(a, e)
            if problem:
                raise TracingCheckError(
                    f"{traced.__name__}: output {output_index} of the trace differs from the eager "
                    f"function on {where}: {problem}. The trace recorded something as a constant "
                    "that depends on the inputs (see the TracerWarnings it gave)",
                    input_index, output_index, difference)


def _copies(arguments: tuple) -> tuple:
    """Fresh copies, so a function that writes into its arguments sees the same inputs twice."""
    return tuple(np.array(a) if isinstance(a, np.ndarray) else a for a in arguments)


def _difference(actual, expected) -> tuple[str, float]:
    """What differs between two outputs ('' when nothing) and the maximum
    difference (inf for a shape or dtype mismatch)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape:
        return f"shape {actual.shape}, eager {expected.shape}", float("inf")
    if actual.dtype != expected.dtype:
        return f"dtype {actual.dtype}, eager {expected.dtype}", float("inf")
    if actual.size == 0:
        return "", 0.0
    if expected.dtype.kind == "b":
        actual, expected = actual.astype(np.int8), expected.astype(np.int8)
    tolerance = TOLERANCE.get(expected.dtype, 0.0)
    close = np.isclose(actual, expected, rtol=tolerance, atol=tolerance, equal_nan=True)
    if close.all():
        return "", 0.0
    with np.errstate(all="ignore"):
        gaps = np.abs(actual.astype(np.complex128) - expected.astype(np.complex128))
    gaps = np.where(close, 0, np.nan_to_num(gaps, nan=np.inf))
    index = np.unravel_index(int(np.argmax(gaps)), gaps.shape)
    largest = float(gaps[index])
    at = f" at index {tuple(int(i) for i in index)}" if actual.ndim else ""
    return (f"max difference {largest:.6g}{at} (trace {actual[index]!r}, eager {expected[index]!r})",
            largest)


__all__ = ["check_trace", "TOLERANCE"]
