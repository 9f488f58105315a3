"""Traced functions that call compiled ones: a scripted callee's graph is
inlined specialised to the traced values, so its loops and branches stay
in the trace (and follow the data there); a traced callee is inlined too.
A callee on plain arrays runs as usual and its result is a constant."""
from __future__ import annotations

import numpy as np
import pytest

import jitc
from support.backend_checks import check

BACKENDS = ["llvm", "interpreter"]
DTYPES = [np.float32, np.float64]


@jitc.script
def damp(x, steps: int, rate: float = 0.5):
    for _ in range(steps):
        x = x * rate + 1
    if x.sum() > 0:
        x = x - x.mean()
    else:
        x = -x
    return x, x.max()


def calls_scripted(x, steps):
    y, peak = damp(x * 2, steps)
    return y / (peak + 3) + damp(x, 1, rate=-1.5)[0]


def kinds(graph) -> list[str]:
    return [node.kind for node in graph.walk()]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_a_scripted_callee_keeps_its_control_flow_in_the_trace(dtype, backend):
    rng = np.random.default_rng(0)
    traced = jitc.trace(calls_scripted, (rng.random((3, 4)).astype(dtype), 2), backend=backend)
    assert kinds(traced.graph).count("prim::Loop") == 2 and kinds(traced.graph).count("prim::If") == 2
    for x, steps in [(rng.random((3, 4)), 2), (-10 - rng.random((5, 2)), 0), (rng.standard_normal((2, 6)), 5)]:
        check(traced, calls_scripted, (x.astype(dtype), steps))


def test_an_inlined_callee_keeps_its_source_lines():
    traced = jitc.trace(calls_scripted, (np.ones((2, 2)), 1), backend="interpreter")
    loops = [node for node in traced.graph.walk() if node.kind == "prim::Loop"]
    assert loops[0].source.filename == __file__ and loops[0].source.line == damp.function.__code__.co_firstlineno + 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_traced_callee_is_inlined(backend):
    rng = np.random.default_rng(1)
    weight = rng.standard_normal((4, 4))
    inner = jitc.trace(lambda x: np.tanh(x @ weight), rng.standard_normal((2, 4)), backend=backend)

    def outer(x):
        return inner(x + 1) * inner(x)
    traced = jitc.trace(outer, rng.standard_normal((3, 4)), backend=backend)
    assert kinds(traced.graph).count("np::tanh") == 2 and len(traced.graph.tensors) == 1
    for rows in (3, 7):
        check(traced, outer, (rng.standard_normal((rows, 4)),))


def test_a_callee_on_plain_arrays_runs_and_gives_a_constant():
    constant = np.arange(4.0)

    def uses_constant(x):
        return x + damp(constant, 1)[0]
    traced = jitc.trace(uses_constant, np.ones(4), backend="interpreter")
    assert "prim::Loop" not in kinds(traced.graph)
    check(traced, uses_constant, (np.full(4, 3.0),))


def test_a_scripted_callee_that_cannot_be_compiled_raises_its_script_error():
    @jitc.script
    def uses_try(x):
        try:
            return x - 1
        except ValueError:
            return x

    def caller(x):
        return uses_try(x) * 2
    with pytest.raises(jitc.ScriptError, match="try"):
        jitc.trace(caller, np.ones(3))
