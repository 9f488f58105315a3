"""Every registered pass preserves what a graph computes.

For random valid graphs (tests/support/graphs.py) with random inputs, the
reference interpreter runs the graph before and after each pass, on a copy;
the results must agree (same types, dtypes, shapes and values), the graph
after the pass must verify, and its declared types must hold at run time
(`check_types=True`). The default pipeline is held to the same property.

`propagate_types` has little to do on generated graphs, whose types already
come from the op rules; it also runs on copies whose tensor types were
loosened (`Tensor`, `Float(*, *)`), where it must find the original types
again. Half the graphs have a run of their nodes wrapped in a
prim::CallFunction (tests/passes/outline.py), so every pass meets calls
and inline_calls has work. A separate test checks that the passes do
change many of the generated graphs, so that the property is not vacuous.
"""
from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, Phase, find, given, note, seed, settings
from hypothesis.errors import NoSuchExample
from hypothesis import strategies as st

from jitc.ir.interpreter import run_graph
from jitc.ir.passes import DEFAULT_ORDER, all_passes, optimize
from jitc.ir.printer import print_graph
from jitc.ir.verifier import verify
from support.compare import assert_same
from outline import outline
from support.graphs import ELEMENTWISE_FAMILIES, PASS_FAMILIES, GraphOptions, graph_inputs, graphs, loosened_types

PASSES = {pass_.name: pass_ for pass_ in all_passes()}
# Graphs with room for constants, folding chances, chains of ops and dead code, yet quick to generate.
FOLDABLE = GraphOptions(max_nodes=12, foldable=True, chains=True)
# Chains of elementwise ops with control flow around them, for passes that rewrite chains.
CHAINS = GraphOptions(max_nodes=12, chains=True,
                      families=ELEMENTWISE_FAMILIES | PASS_FAMILIES | {"if", "loop", "reduction", "row", "matmul", "constant"})
# Mostly the patterns particular passes rewrite (peepholes, loops over rows, row reductions),
# so that each pass meets its own rewrites often.
PATTERNS = GraphOptions(max_nodes=12, max_params=6,
                        families=PASS_FAMILIES | {"row", "matmul", "unary", "binary", "constant", "loop"})
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # log of a negative, var of one


def run(graph, args) -> tuple:
    return run_graph(graph, *args, check_types=True)


def apply(pass_name: str, graph, args, expected) -> bool:
    """Run one pass on `graph` (in place) and check the property; returns
    whether the pass changed the graph."""
    before = print_graph(graph), set(graph.tensors)
    changed = PASSES[pass_name].run(graph)
    after = print_graph(verify(graph)), set(graph.tensors)
    assert changed == (after != before), \
        f"{pass_name} returned {changed}, but the graph {'did not change' if changed else 'changed'}"
    assert_same(run(graph, args), expected, path=f"after {pass_name}")
    return changed


@st.composite
def cases(draw, calls: bool = True):
    graph = draw(graphs(draw(st.sampled_from([FOLDABLE, CHAINS, PATTERNS]))))
    count = len(graph.block.nodes)
    if calls and count and draw(st.booleans()):  # a run of its nodes becomes a call, for inline_calls
        start = draw(st.integers(0, count - 1))
        outline(graph, start, draw(st.integers(start + 1, count)))
    note(print_graph(graph))  # shown with a falsifying example
    return graph, draw(graph_inputs(graph))


def chain(graph) -> list[str]:
    """The registered passes in pipeline order (those the pipeline leaves out
    last), as a pipeline would meet them: each runs on the previous one's output."""
    return [name for name in DEFAULT_ORDER if name in PASSES] + [
        name for name in PASSES if name not in DEFAULT_ORDER]


@given(cases())
def test_every_pass_preserves_results(case):
    graph, args = case
    expected = run(graph, args)
    for name in PASSES:  # on the graph as generated
        apply(name, graph.copy(), args, expected)
    chained = graph.copy()
    for name in chain(chained):  # on what the passes before it leave
        apply(name, chained, args, expected)


@given(cases())
def test_the_default_pipeline_preserves_results(case):
    graph, args = case
    expected = run(graph, args)
    optimized = graph.copy()
    optimize(optimized, level=2, verify_each=True)
    assert_same(run(optimized, args), expected, path="after the pipeline")


@given(st.data())
def test_propagate_types_recovers_loosened_types(data):
    graph, args = data.draw(cases())
    loose = data.draw(loosened_types(graph))
    PASSES["propagate_types"].run(loose)
    assert print_graph(verify(loose)) == print_graph(graph)
    assert_same(run(loose, args), run(graph, args))


def _control_flow(graph) -> int:
    return sum(node.kind in ("prim::If", "prim::Loop") for node in graph.walk())


def test_passes_change_many_generated_graphs():
    """Over a sample of generated examples, the pipeline changes many graphs,
    some have control flow and folding removes some of it; every pass
    changes some graph, as generated or as the passes before it leave them
    (propagate_types those with loosened types): the properties above are
    not vacuous. Which examples a seed draws depends on Hypothesis's version
    and on what ran before in the process, so the shares asked for are loose,
    and a pass the sample happens to leave idle gets a search of its own."""
    examples = 40
    changed: Counter = Counter()

    @seed(2)
    @settings(max_examples=examples, derandomize=False, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def sample(data):
        graph, args = data.draw(cases(calls=False))
        expected = run(graph, args)
        changed["examples"] += 1
        if graph.block.nodes:  # the whole graph as one call
            outlined = graph.copy()
            outline(outlined, 0, len(outlined.block.nodes))
            changed["inline_calls"] += apply("inline_calls", outlined, args, expected)
        changed["control flow"] += _control_flow(graph) > 0
        loose = data.draw(loosened_types(graph))
        changed["propagate_types (loosened)"] += apply("propagate_types", loose, args, expected)
        chained = graph.copy()
        for name in chain(chained):
            before = _control_flow(chained)
            changed_in_chain = apply(name, chained, args, expected)
            if name == "fold_constants":
                changed["control flow folded"] += _control_flow(chained) < before
            # Passes before it may take a pass's work away (CSE and unrolling reshape the
            # chains fusion looks for): the graph as generated counts too.
            changed[name] += changed_in_chain or apply(name, graph.copy(), args, expected)
        changed["pipeline"] += optimize(graph.copy(), level=2, verify_each=True)

    sample()
    counts = f"changes over {changed['examples']} graphs: {dict(changed)}"
    assert changed["examples"] >= examples // 2, counts
    assert changed["control flow"] >= changed["examples"] // 8, counts
    assert changed["control flow folded"] >= 1, counts
    assert changed["pipeline"] >= changed["examples"] // 2, counts
    assert changed["propagate_types (loosened)"] >= 1, counts
    for name in PASSES:
        if name != "propagate_types" and not changed[name]:  # generated types are exact
            assert _some_graph_changed_by(name), f"{name} changed no graph; {counts}"


def _some_graph_changed_by(name: str, tries: int = 300) -> bool:
    """Whether `name` changes one of up to `tries` more generated graphs
    (results still checked), stopping at the first."""
    def changes(case) -> bool:
        graph, args = case
        return apply(name, graph.copy(), args, run(graph, args))
    try:
        find(cases(), changes, settings=settings(max_examples=tries, database=None, phases=[Phase.generate],
                                                  suppress_health_check=list(HealthCheck)))
    except NoSuchExample:
        return False
    return True
