"""batch_matmul_in_loops on the RNN of examples/rnn.py: the specialised,
optimised graph computes the input projection x @ W_h once, before the
loop, each step's elementwise work (the adds and tanh) is one fusion group,
and the result still matches the eager NumPy run."""
from __future__ import annotations

import pathlib
import sys

import jitc
from jitc.ir.ops import get_op
from jitc.ir.passes import get_pass
from support.compare import assert_same

sys.path.insert(0, str(pathlib.Path(__file__).parents[2] / "examples"))
from rnn import example_inputs, rnn  # noqa: E402


def test_rnn_input_projection_is_hoisted_out_of_the_loop():
    args = example_inputs(T=6, B=3, D=8)
    scripted = jitc.script(rnn, backend="interpreter")
    graph = scripted.graph_for(*args)
    [loop] = [node for node in graph.block.nodes if node.kind == "prim::Loop"]
    before_loop = graph.block.nodes[:graph.block.nodes.index(loop)]
    x, w_h = graph.params[0], graph.params[2]
    assert any(node.kind == "np::matmul" and node.inputs == (x, w_h) for node in before_loop), str(graph)
    in_loop = [node for node in loop.blocks[0].walk() if node.kind == "np::matmul"]
    assert [node.inputs[1] for node in in_loop] == [graph.params[3]], str(graph)  # only h @ U_h is left
    assert_same(scripted(*args), rnn(*args))


def test_each_step_is_one_fusion_group():
    args = example_inputs(T=5, B=2, D=4)
    scripted = jitc.script(rnn, backend="interpreter")
    graph = scripted.graph_for(*args)
    [loop] = [node for node in graph.block.nodes if node.kind == "prim::Loop"]
    body = loop.blocks[0].nodes
    [group] = [node for node in body if node.kind == "prim::FusionGroup"]
    assert [node.kind for node in group.blocks[0].nodes] == ["np::add", "np::add", "np::tanh"], str(graph)
    elementwise = [node.kind for node in body if get_op(node.kind).is_elementwise]
    assert not elementwise, f"elementwise ops left outside the group: {elementwise}\n{graph}"
    assert_same(scripted(*args), rnn(*args))


def test_the_generic_rnn_graph_is_left_alone():
    """Its tensors have no known rank, so nothing proves the rewrite valid."""
    graph = jitc.script(rnn, backend="interpreter").graph.copy()
    assert not get_pass("batch_matmul_in_loops").run(graph)
