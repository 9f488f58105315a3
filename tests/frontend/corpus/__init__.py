"""The scripting corpus: plain NumPy functions, grouped by theme, each
registered with how to build its inputs (support/corpus.py). The runner
is tests/frontend/test_corpus.py."""
from __future__ import annotations

from . import control_flow, elementwise_and_math, indexing, lists_calls_and_models, reductions_and_shapes

CASES = [case for module in (elementwise_and_math, reductions_and_shapes, indexing, control_flow,
                             lists_calls_and_models) for case in module.CASES]
