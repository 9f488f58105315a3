"""Pipeline control, as users reach it (docs/optimizer.md): optimisation
levels through `jitc.script(optimize=...)`, passes disabled by name and the
IR printed after passes through environment variables, pipelines written as
text that parse and print back, and the verifier after every pass."""
from __future__ import annotations

import io
import pathlib

import numpy as np
import pytest

import jitc
from jitc.ir.errors import VerificationError
from jitc.ir.parser import parse_graph
from jitc.ir.passes import DEFAULT_ORDER, PassManager, all_passes, get_pass, parse_pipeline, pipeline_for_level
from jitc.ir.passes.manager import _PASSES, format_pipeline, register_pass
from support.compare import assert_same


def _layer(x, w, b):
    h = np.tanh((x @ w) * 1.0 + b)  # canonicalize (level 1) removes the * 1.0
    return h - np.max(h, axis=-1, keepdims=True)


ARGS = (np.random.default_rng(0).standard_normal((3, 4)), np.random.default_rng(1).standard_normal((4, 5)),
        np.zeros(5))


def _kinds(graph) -> set[str]:
    return {node.kind for node in graph.walk()}


def test_levels_through_jitc_script():
    expected = _layer(*ARGS)
    graphs = {}
    for level in (0, 1, 2):
        compiled = jitc.script(_layer, backend="interpreter", optimize=level)
        assert_same(compiled(*ARGS), expected)
        graphs[level] = _kinds(compiled.graph_for(*ARGS))
    assert "np::multiply" in graphs[0] and "prim::FusionGroup" not in graphs[0]
    assert "np::multiply" not in graphs[1] and "prim::FusionGroup" not in graphs[1]  # simplified, not fused
    assert "np::multiply" not in graphs[2] and "prim::FusionGroup" in graphs[2]


def test_levels_select_passes_by_their_own_level():
    assert pipeline_for_level(0) == ["inline_calls"]  # lowering every backend needs, not optimisation
    one, two = pipeline_for_level(1), pipeline_for_level(2)
    assert set(one) < set(two) and list(two) == [name for name in DEFAULT_ORDER if name in two]
    assert all(get_pass(name).level <= 1 for name in one)
    assert {"fuse_elementwise", "fuse_rows"} <= set(two) - set(one)
    with pytest.raises(ValueError, match="optimisation level must be 0, 1 or 2, got 3"):
        pipeline_for_level(3)


def test_an_unknown_level_at_the_first_call_is_a_clear_error():
    compiled = jitc.script(_layer, backend="interpreter", optimize=5)
    with pytest.raises(ValueError, match="optimisation level must be 0, 1 or 2, got 5"):
        compiled(*ARGS)


def test_disabling_a_pass_by_name(monkeypatch):
    monkeypatch.setenv("JITC_DISABLE_PASSES", "fuse_elementwise, fuse_rows")
    compiled = jitc.script(_layer, backend="interpreter")
    assert "prim::FusionGroup" not in _kinds(compiled.graph_for(*ARGS))
    assert_same(compiled(*ARGS), _layer(*ARGS))
    manager = PassManager(pipeline_for_level(2), disabled=["canonicalize"])
    names = [pass_.name for pass_ in manager.passes]
    assert "canonicalize" not in names and "fuse_rows" not in names and "fold_constants" in names


def test_printing_the_ir_after_passes(monkeypatch, capsys):
    monkeypatch.setenv("JITC_PRINT_AFTER", "fold_constants,fuse_rows")
    jitc.script(_layer, backend="interpreter").graph_for(*ARGS)
    printed = capsys.readouterr().err
    assert printed.count("// after fold_constants") >= 1 and "// after fuse_rows" in printed
    assert "// after canonicalize" not in printed
    after_fold = printed.split("// after fold_constants", 1)[1].split("// after", 1)[0]
    assert "graph(" in after_fold and "prim::FusionGroup" not in after_fold  # the IR as the pass left it
    assert "prim::FusionGroup" in printed.split("// after fuse_rows", 1)[1]


def test_printing_after_every_pass_to_a_stream():
    graph = parse_graph("graph(%x : Float(*)):\n  %a : Float(*) = np::exp(%x)\n  %b : Float(*) = np::tanh(%a)\n"
                        "  return (%b)\n")
    stream = io.StringIO()
    PassManager("canonicalize,fuse_elementwise", print_after="all", stream=stream, max_rounds=1).run(graph)
    text = stream.getvalue()
    assert "// after canonicalize (unchanged)" in text
    assert "// after fuse_elementwise\n" in text and "prim::FusionGroup" in text.split("fuse_elementwise")[1]


@pytest.mark.parametrize("text", [",".join(DEFAULT_ORDER), "canonicalize", " fold_constants , eliminate_dead_code ",
                                  ",".join(sorted(p.name for p in all_passes()))])
def test_pipelines_as_text_parse_and_print_back(text):
    names = parse_pipeline(text)
    assert format_pipeline(names) == ",".join(part.strip() for part in text.split(","))
    assert parse_pipeline(format_pipeline(names)) == names
    assert repr(PassManager(text)) == f"PassManager({format_pipeline(names)!r})"


def test_an_unknown_pass_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown pass 'fold_constant'; known passes: .*fold_constants"):
        parse_pipeline("canonicalize,fold_constant")


@pytest.fixture
def breaking_pass():
    @register_pass(level=2, name="test_breaking_pass")
    def breaking(graph):
        """Makes a node's declared type wrong, as a buggy pass could."""
        node = next(node for node in graph.walk() if node.kind == "np::exp")
        node.output.type = parse_graph("graph(%y : Long(*)):\n  return (%y)\n").params[0].type
        return True
    yield "test_breaking_pass"
    del _PASSES["test_breaking_pass"]


def test_the_verifier_runs_after_every_pass_when_asked(breaking_pass):
    text = "graph(%x : Float(*)):\n  %a : Float(*) = np::exp(%x)\n  return (%a)\n"
    PassManager(breaking_pass, verify_each=False).run(parse_graph(text))  # not checked: no error
    with pytest.raises(VerificationError):
        PassManager(breaking_pass, verify_each=True).run(parse_graph(text))
    with pytest.raises(VerificationError):  # the tests' default (conftest sets JITC_VERIFY=1)
        PassManager(breaking_pass).run(parse_graph(text))


DOCS = pathlib.Path(__file__).parents[2] / "docs" / "optimizer.md"


def test_the_documentation_names_every_pass_and_each_level_s_pipeline():
    text = DOCS.read_text()
    for pass_ in all_passes():
        assert f"| `{pass_.name}` |" in text, f"docs/optimizer.md does not describe {pass_.name}"
    for level in (1, 2):
        assert f"`{', '.join(pipeline_for_level(level))}`" in text, f"level {level}'s pipeline in docs/optimizer.md"
