"""Calls between compiled functions: a scripted function calling a traced
(or loaded) one holds a prim::CallFunction in its generic graph (`.graph`,
`.code`, saved files), which inline_calls removes in the specialised graph
(`graph_for`) at every optimisation level; results match NumPy."""
from __future__ import annotations

import numpy as np
import pytest

import jitc
from jitc.ir.parser import parse_graph
from jitc.ir.passes import get_pass
from support.compare import assert_same


def softsign(x):
    return x / (1.0 + np.abs(x))


X = np.random.default_rng(0).standard_normal((4, 3))
SOFTSIGN = jitc.trace(softsign, (X,), backend="interpreter")


def scaled_softsign(x):
    return SOFTSIGN(x * 2.0) + SOFTSIGN(x)


def _calls(graph) -> list[str]:
    return [node.attributes["name"] for node in graph.walk() if node.kind == "prim::CallFunction"]


@pytest.mark.parametrize("level", [0, 2])
def test_the_generic_graph_shows_the_calls_and_the_specialised_one_inlines_them(level):
    compiled = jitc.script(scaled_softsign, backend="interpreter", optimize=level)
    assert_same(compiled(X), scaled_softsign(X))
    assert _calls(compiled.graph) == ["softsign", "softsign"]
    assert "# call of softsign, inlined" in compiled.code
    specialised = compiled.graph_for(X)
    assert _calls(specialised) == []
    assert sum(node.kind == "np::divide" for node in specialised.walk()) == 2


def test_the_generic_graph_with_calls_prints_and_parses_back():
    compiled = jitc.script(scaled_softsign, backend="interpreter")
    compiled(X)
    graph = compiled.graph
    assert _calls(graph) and str(parse_graph(str(graph))) == str(graph)


def test_a_saved_function_that_calls_keeps_its_calls_and_runs(tmp_path):
    compiled = jitc.script(scaled_softsign, backend="interpreter")
    compiled(X)
    jitc.save(compiled, tmp_path / "calls.jitc")
    loaded = jitc.load(tmp_path / "calls.jitc")
    assert _calls(loaded.graph) == ["softsign", "softsign"]
    assert_same(loaded(X), scaled_softsign(X))  # the native backend, after inlining


def test_calling_a_loaded_function(tmp_path):
    jitc.save(SOFTSIGN, tmp_path / "softsign.jitc")
    loaded = jitc.load(tmp_path / "softsign.jitc", backend="interpreter")

    def twice(x):
        return loaded(loaded(x))

    compiled = jitc.script(twice, backend="interpreter")
    assert_same(compiled(X), softsign(softsign(X)))
    assert _calls(compiled.graph) == ["softsign", "softsign"]
    assert not _calls(compiled.graph_for(X))


def test_inlining_a_graph_without_calls_changes_nothing():
    graph = jitc.script(softsign, backend="interpreter").graph.copy()
    assert not get_pass("inline_calls").run(graph)
