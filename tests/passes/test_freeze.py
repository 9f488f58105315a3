"""jitc.freeze: a scripted module's parameter-only computations are folded
however large (the default pipeline folds only arrays of up to
MAX_FOLDED_ELEMENTS), which lets canonicalize remove what the folded values
make trivial; results match the eager module, and the frozen module is a
snapshot that later changes to the module do not reach."""
from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest

import jitc
from jitc.freeze import FrozenModule
from jitc.ir.passes.fold_constants import MAX_FOLDED_ELEMENTS
from support.compare import assert_same

VOCAB, DIM = 5000, 8


class TiedOutput(jitc.nn.Module):
    """Logits from an embedding matrix used transposed (weight tying), with a
    per-token gain that starts at one."""

    def __init__(self):
        rng = np.random.default_rng(0)
        self.embedding = rng.standard_normal((VOCAB, DIM)).astype(np.float32)
        self.gain = np.ones((VOCAB, 1), np.float32)

    def forward(self, h):
        return (h @ self.embedding.T) * self.gain.T

    @jitc.export
    def scores(self, h):
        return np.max(h @ self.embedding.T, axis=-1)


H = np.random.default_rng(1).standard_normal((3, DIM)).astype(np.float32)


def _kinds(graph) -> list[str]:
    return [node.kind for node in graph.walk() if node.kind != "prim::Constant"]


def test_the_sizes_are_beyond_what_the_default_pipeline_folds():
    assert VOCAB * DIM > MAX_FOLDED_ELEMENTS and VOCAB > MAX_FOLDED_ELEMENTS


def test_freezing_folds_parameter_computations_and_what_they_make_trivial():
    model = TiedOutput()
    scripted = jitc.script(model, backend="interpreter")
    frozen = jitc.freeze(scripted)
    assert isinstance(frozen, FrozenModule) and frozen.backend == "interpreter"
    # Not frozen: both transposes of parameters run on every call, and so does the multiply by ones.
    assert sorted(_kinds(scripted.graph_for(H))) == ["np::matmul", "np::multiply", "np::transpose",
                                                     "np::transpose"]
    assert _kinds(frozen.graph_for(H)) == ["np::matmul"]
    assert _kinds(frozen.graph) == ["np::matmul"]  # the generic graph is frozen too
    assert "embedding.transpose" in frozen.graph.tensors  # named after what it was computed from
    expected = model(H)
    assert_same(frozen(H), expected)
    assert_same(scripted(H), expected)
    assert_same(frozen.scores(H), model.scores(H))
    assert "np::transpose" not in _kinds(frozen.scores.graph_for(H))


def test_a_frozen_module_compiles_natively_and_matches_numpy():
    model = TiedOutput()
    assert_same(jitc.freeze(model)(H), model(H))


def _transposed_parameters(graph) -> int:
    return sum(node.kind == "np::transpose" and node.inputs[0].producer is not None
               and node.inputs[0].producer.kind == "prim::Constant" for node in graph.walk())


def test_freezing_gpt2_folds_its_tied_output_projection():
    """examples/gpt2.py ends with `@ self.wte.T` (16,384 elements): frozen, it is a constant."""
    sys.path.insert(0, str(pathlib.Path(__file__).parents[2] / "examples"))
    try:
        import gpt2
    finally:
        sys.path.pop(0)
    model = gpt2.GPT2(n_layer=1)
    ids = np.random.default_rng(2).integers(0, 256, size=6)
    scripted = jitc.script(model, backend="interpreter")
    frozen = jitc.freeze(scripted)
    assert _transposed_parameters(scripted.graph_for(ids)) == 1
    assert _transposed_parameters(frozen.graph_for(ids)) == 0 and "wte.transpose" in frozen.graph.tensors
    assert_same(frozen(ids), model(ids), gpt2.TOLERANCE, gpt2.TOLERANCE)


def test_a_frozen_module_is_a_snapshot():
    model = TiedOutput()
    frozen = jitc.freeze(jitc.script(model, backend="interpreter"))
    before = model(H)
    model.embedding[:] = 0.0
    model.gain[:] = 2.0
    assert_same(frozen(H), before)
    assert not np.array_equal(model(H), before)


def _double(x):
    return 2 * x


def test_freezing_what_is_not_a_module_is_a_clear_error():
    with pytest.raises(TypeError, match="jitc.freeze takes a module scripted by jitc.script.*got ScriptFunction"):
        jitc.freeze(jitc.script(_double))
