"""The issue's fusion criterion on examples/gpt2.py: in the specialised,
optimised graph, every layer norm, every softmax and every GELU is one
prim::FusionGroup (the ops written in those functions all sit inside
groups, and there are as many groups holding each function's ops as the
model calls it); the optimised graph still computes what NumPy does."""
from __future__ import annotations

import inspect
import pathlib
import sys
from collections import Counter

import numpy as np
import pytest

import jitc
from jitc.ir.passes.fuse_elementwise import FUSION_GROUP
from support.compare import assert_same

sys.path.insert(0, str(pathlib.Path(__file__).parents[2] / "examples"))
import gpt2  # noqa: E402

N_LAYER, N_HEAD = 2, 4
# How often forward calls each function: two layer norms per block and a final one,
# a softmax per head in each block, a GELU per block.
CALLS = {"layer_norm": 2 * N_LAYER + 1, "softmax": N_LAYER * N_HEAD, "gelu": N_LAYER}


def _lines(function) -> range:
    source, first = inspect.getsourcelines(function)
    return range(first, first + len(source))


def _written_in(node, lines: range) -> bool:
    source = node.source
    return (node.kind != "prim::Constant" and source is not None and source.filename == gpt2.__file__
            and source.line in lines)


@pytest.fixture(scope="module")
def optimised():
    model = gpt2.GPT2(n_layer=N_LAYER, n_head=N_HEAD)
    ids = np.random.default_rng(1).integers(0, 256, size=12)
    compiled = jitc.script(model, backend="interpreter")
    assert_same(compiled(ids), model(ids), gpt2.TOLERANCE, gpt2.TOLERANCE)
    return compiled.graph_for(ids)


def _groups_holding(graph, lines: range) -> tuple[Counter, list]:
    """(fusion group -> how many of the function's ops it holds, the function's ops outside groups)."""
    inside: Counter = Counter()
    outside = []

    def visit(block, group):
        for node in block.nodes:
            if node.kind == FUSION_GROUP:
                visit(node.blocks[0], node)
                continue
            if _written_in(node, lines):
                if group is None:
                    outside.append(node)
                else:
                    inside[group] += 1
            for inner in node.blocks:
                visit(inner, group)

    visit(graph.block, None)
    return inside, outside


@pytest.mark.parametrize("function", sorted(CALLS))
def test_each_call_is_one_fusion_group(optimised, function):
    inside, outside = _groups_holding(optimised, _lines(getattr(gpt2, function)))
    assert not outside, f"{function} ops outside fusion groups: {[n.kind for n in outside]}\n{optimised}"
    assert len(inside) == CALLS[function], f"{len(inside)} groups hold {function} ops:\n{optimised}"
    assert len(set(inside.values())) == 1, f"the {function} groups differ in size: {list(inside.values())}"
