"""Elementwise loops that write their output over a dead input (the memory
plan's in-place case) while their loads and stores carry alias-scope
metadata saying inputs and output do not overlap (elementwise.py says why
that claim holds for the in-place pair). The plan must really write in
place here, the loop must really carry the claim and be vectorised, and the
results must equal NumPy's on the flat and the broadcast (nested) loop, with
a remainder after the vector width and with the loop split across threads."""
from __future__ import annotations

import numpy as np
import pytest

from support.backend_checks import check_script, scripted


def _bias_tanh(x, w, b):
    return np.tanh(x @ w + b) @ w      # nested loop: b is broadcast over the rows


def _scaled_tanh(x, w):
    return (np.tanh(x @ w) * 2.0) @ w  # flat loop: the one input is contiguous, of the output's shape


def _arguments(function, rows: int):
    rng = np.random.default_rng(rows)
    x = rng.standard_normal((rows, 67), np.float32)
    w = rng.standard_normal((67, 67), np.float32) * 0.2
    return (x, w, rng.standard_normal(67).astype(np.float32)) if function is _bias_tanh else (x, w)


@pytest.mark.parametrize("function", [_bias_tanh, _scaled_tanh])
@pytest.mark.parametrize("rows", [1, 13, 2003])  # 2003 * 67 elements: split across two threads
def test_in_place_elementwise_loop_with_alias_scopes(function, rows):
    args = _arguments(function, rows)
    compiled = scripted(function)
    assert "in place of" in str(compiled.memory_plan(*args))
    if rows == 13:
        listing = compiled.llvm_ir(*args)
        assert "!alias.scope" in listing and "!noalias" in listing
        assert "<8 x float>" in listing
    check_script(function, *args, rtol=1e-5, atol=1e-5)
