"""Whole programs on the CUDA backend in numba's simulator: the RNN and
GPT-2 examples at tiny sizes, and the scripting corpus (tests/frontend/corpus/)
at one size in float32, scripted and (where tracing differs most) traced,
each against its own eager run and the interpreter.
Corpus functions using an op the backend does not lower are skipped with
the op named (the frontend would run them in the interpreter)."""
from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest

import jitc
from cuda_checks import check_cuda
from jitc.backends import UnsupportedOpError
from jitc.backends.cuda import BACKEND

TESTS = pathlib.Path(__file__).resolve().parents[2]  # resolved: other tests compare file names in messages
sys.path[:0] = [str(TESTS / "frontend"), str(TESTS.parent / "examples")]
from corpus import CASES  # noqa: E402  (tests/frontend/corpus, as test_corpus.py imports it)
from gpt2 import GPT2  # noqa: E402
from rnn import example_inputs, rnn  # noqa: E402

FLOAT32_TOLERANCE = 1e-5


def test_rnn_example():
    compiled = jitc.script(rnn, backend="cuda")
    for steps in (3, 1):
        check_cuda(compiled, rnn, example_inputs(T=steps, B=2, D=4), FLOAT32_TOLERANCE, FLOAT32_TOLERANCE)
    plan = compiled.specializations()[0].run.plan
    assert "loop" in plan, plan


def test_gpt2_example():
    model = GPT2(vocab=16, n_ctx=8, n_embd=8, n_head=2, n_layer=1)
    compiled = jitc.script(model, backend="cuda")
    check_cuda(compiled, model, (np.arange(5) % 16,), 1e-4, 1e-5)


def _smallest_size_above_one(case) -> int:
    return next((n for n in case.sizes if n > 1), case.sizes[-1])


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_corpus_on_cuda(case):
    args = case.arguments(_smallest_size_above_one(case), np.float32)
    graph = jitc.script(case.function, backend="interpreter").graph_for(*args)
    try:
        BACKEND.compile(graph)
    except UnsupportedOpError as error:
        pytest.skip(f"no CUDA lowering: {error}")
    rtol = case.rtol(np.float32)
    check_cuda(jitc.script(case.function, backend="cuda"), case.function, args, rtol, rtol)


# Tracing unrolls loops and inlines calls: the graphs differ most from the scripted ones
# in these modules (an elementwise function traces to the graph scripting gives).
# Only functions of arrays alone: jitc.trace takes arrays (other arguments would be constants).
TRACEABLE = [case for case in CASES if not case.data_dependent
             and case.name.split(".")[0] in ("control_flow", "lists_calls_and_models")
             and all(isinstance(argument, np.ndarray)
                     for argument in case.arguments(_smallest_size_above_one(case), np.float32))]


@pytest.mark.parametrize("case", TRACEABLE, ids=lambda case: case.name)
def test_traced_corpus_on_cuda(case):
    args = case.arguments(_smallest_size_above_one(case), np.float32)
    traced = jitc.trace(case.function, args, backend="interpreter")
    try:
        BACKEND.compile(traced.graph_for(*args))
    except UnsupportedOpError as error:
        pytest.skip(f"no CUDA lowering: {error}")
    rtol = case.rtol(np.float32)
    check_cuda(jitc.trace(case.function, args, backend="cuda"), case.function, args, rtol, rtol)
