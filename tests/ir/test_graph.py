"""The editing API keeps use lists right by itself, inserts where the
context managers say, and copies graphs without sharing anything mutable."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given

from jitc.ir.attributes import TensorRef
from jitc.ir.errors import VerificationError
from jitc.ir.graph import Block, Graph, Node, SourceLocation, Use, Value
from jitc.ir.interpreter import run_graph
from jitc.ir.ops import create_op
from jitc.ir.parser import parse_graph
from jitc.ir.printer import print_graph
from jitc.ir.types import BOOL, FLOAT, INT, DType, TensorType
from jitc.ir.verifier import verify
from support.graphs import assert_graphs_equal, graphs

FLOAT3 = TensorType(DType.FLOAT32, (3,))


def actual_uses(graph: Graph) -> Counter:
    """Every (value, use) the graph's nodes and blocks really make, counted
    from the inputs and returns themselves."""
    uses: Counter = Counter()

    def visit(block: Block) -> None:
        for index, value in enumerate(block.returns):
            uses[value, Use(block, index)] += 1
        for node in block.nodes:
            for index, value in enumerate(node.inputs):
                uses[value, Use(node, index)] += 1
            for inner in node.blocks:
                visit(inner)
    visit(graph.block)
    return uses


def all_values(graph: Graph) -> list[Value]:
    values = list(graph.params)
    for node in graph.walk():
        values += node.outputs + [p for block in node.blocks for p in block.params]
    return values


def assert_use_lists_right(graph: Graph) -> None:
    recorded = Counter((value, use) for value in all_values(graph) for use in value.uses)
    assert recorded == actual_uses(graph)


def parse(text: str) -> Graph:
    return verify(parse_graph(text))


def nodes_by_name(graph: Graph) -> dict[str, Node]:
    return {value.name: node for node in graph.walk() for value in node.outputs}


def kinds(block: Block) -> list[str]:
    return [node.kind for node in block.nodes]


CHAIN = """\
graph(%x : Float(3), %w : Float(3), %c : bool):
  %a : Float(3) = np::add(%x, %x)
  %b : Float(3) = np::multiply(%a, %w)
  %m : Float(3) = np::maximum(%x, %b)
  %y : Float(3) = prim::If(%c)
    block0():
      %e : Float(3) = np::exp(%a)
      -> (%e)
    block1():
      -> (%a)
  return (%y, %a)
"""


# -- use lists ---------------------------------------------------------------------------------
def test_set_input_moves_the_use():
    graph = parse(CHAIN)
    x, w, _ = graph.params
    multiply = nodes_by_name(graph)["b"]
    multiply.set_input(1, x)
    assert multiply.inputs[1] is x
    assert Use(multiply, 1) in x.uses and w.uses == []
    assert_use_lists_right(verify(graph))


def test_replace_all_uses_reaches_nested_blocks_and_returns():
    graph = parse(CHAIN)
    x = graph.params[0]
    a = nodes_by_name(graph)["a"].output
    a.replace_all_uses_with(x)
    assert a.uses == []
    assert graph.returns[1] is x
    assert nodes_by_name(graph)["e"].inputs == (x,)
    assert_use_lists_right(verify(graph))


def test_replace_input_with_replaces_every_occurrence():
    graph = parse(CHAIN)
    x, w, _ = graph.params
    add = nodes_by_name(graph)["a"]
    add.replace_input_with(x, w)
    assert add.inputs == (w, w)
    assert_use_lists_right(verify(graph))


@pytest.mark.parametrize("index", [0, 1, 2])
def test_remove_input_renumbers_later_uses(index):
    graph = Graph()
    x, w = graph.add_param(FLOAT3, "x"), graph.add_param(FLOAT3, "w")
    node = graph.create("prim::ListConstruct", [x, w, x], [])
    node.remove_input(index)
    assert node.inputs == tuple(v for i, v in enumerate((x, w, x)) if i != index)
    assert_use_lists_right(graph)


def test_drop_all_inputs():
    graph = parse(CHAIN)
    maximum = nodes_by_name(graph)["m"]
    maximum.drop_all_inputs()
    assert maximum.inputs == ()
    assert all(use.user is not maximum for value in all_values(graph) for use in value.uses)


def test_block_returns_keep_use_lists():
    graph = parse(CHAIN)
    x, w, _ = graph.params
    graph.block.set_return(0, w)
    graph.block.remove_return(1)
    assert graph.returns == (w,)
    assert_use_lists_right(graph)


# -- destroying -------------------------------------------------------------------------------
def test_destroy_refuses_while_outputs_are_used():
    graph = parse(CHAIN)
    add = nodes_by_name(graph)["a"]
    with pytest.raises(ValueError, match="cannot destroy np::add: output %a is still used by 4 user"):
        add.destroy()
    assert add.block is graph.block and add in graph.block.nodes
    assert_use_lists_right(verify(graph))


def test_destroy_drops_inputs_and_nested_uses():
    graph = parse(CHAIN)
    named = nodes_by_name(graph)
    branch = named["y"]
    branch.output.replace_all_uses_with(named["m"].output)
    branch.destroy()
    assert branch.block is None and "prim::If" not in kinds(graph.block)
    assert [use.user for use in named["a"].output.uses] == [named["b"], graph.block]
    assert_use_lists_right(verify(graph))


def test_remove_output_refuses_while_used():
    graph = parse(CHAIN)
    with pytest.raises(ValueError, match="still used"):
        nodes_by_name(graph)["a"].remove_output(0)


def test_block_clear_destroys_everything_and_drops_returns():
    graph = parse(CHAIN)
    then = nodes_by_name(graph)["y"].blocks[0]
    then.clear()
    assert then.nodes == [] and then.returns == ()
    assert len(nodes_by_name(graph)["a"].output.uses) == 3  # %b, block1's return, the graph's return
    graph.block.clear()
    assert graph.block.nodes == [] and graph.returns == ()
    assert all(value.uses == [] for value in graph.params)


# -- insertion points --------------------------------------------------------------------------
def exp(graph: Graph, value: Value, name: str) -> Node:
    node = create_op(graph, "np::exp", [value])
    node.output.name = name
    return node


def names(block: Block) -> list[str]:
    return [node.outputs[0].name for node in block.nodes]


def test_inserting_before_keeps_creation_order():
    graph = parse(CHAIN)
    x = graph.params[0]
    with graph.inserting_before(nodes_by_name(graph)["b"]):
        exp(graph, x, "p")
        exp(graph, x, "q")
    assert names(graph.block) == ["a", "p", "q", "b", "m", "y"]


def test_inserting_after_keeps_creation_order():
    graph = parse(CHAIN)
    x = graph.params[0]
    with graph.inserting_after(nodes_by_name(graph)["b"]):
        exp(graph, x, "p")
        exp(graph, x, "q")
    assert names(graph.block) == ["a", "b", "p", "q", "m", "y"]


def test_inserting_into_a_nested_block_then_back_at_the_end():
    graph = parse(CHAIN)
    x = graph.params[0]
    then = nodes_by_name(graph)["y"].blocks[0]
    with graph.inserting_before(then.nodes[0]):
        exp(graph, x, "inner")
    exp(graph, x, "last")
    assert names(then) == ["inner", "e"]
    assert names(graph.block) == ["a", "b", "m", "y", "last"]
    assert then.nodes[0].graph is graph
    verify(graph)


def test_insertion_point_is_restored_after_an_error():
    graph = parse(CHAIN)
    with pytest.raises(RuntimeError):
        with graph.inserting_before(graph.block.nodes[0]):
            raise RuntimeError("a pass failed")
    exp(graph, graph.params[0], "last")
    assert names(graph.block)[-1] == "last"


def test_insertion_point_survives_edits_before_it():
    """Nodes inserted or destroyed before the insertion point do not move it."""
    graph = parse(CHAIN)
    x = graph.params[0]
    named = nodes_by_name(graph)
    with graph.inserting_after(named["b"]):
        exp(graph, x, "p")
        with graph.inserting_before(named["a"]):
            exp(graph, x, "first")
        exp(graph, x, "q")
    assert names(graph.block) == ["first", "a", "b", "p", "q", "m", "y"]
    with graph.inserting_before(named["m"]):
        graph.block.nodes[0].destroy()
        exp(graph, x, "r")
    assert names(graph.block) == ["a", "b", "p", "q", "r", "m", "y"]


def test_move_before():
    graph = parse(CHAIN)
    named = nodes_by_name(graph)
    named["m"].move_before(named["a"])
    assert names(graph.block) == ["m", "a", "b", "y"]
    with pytest.raises(VerificationError, match="used before it is defined"):
        verify(graph)


def test_a_node_cannot_be_in_two_blocks():
    graph = parse(CHAIN)
    with pytest.raises(ValueError, match="already belongs to a block"):
        graph.block.append(graph.block.nodes[0])


# -- copies --------------------------------------------------------------------------------
def mutable_parts(graph: Graph) -> list:
    """Every object a pass may mutate: values, nodes, blocks, attribute dicts, the tensor table."""
    parts = [graph.block, graph.tensors, *all_values(graph)]
    for node in graph.walk():
        parts += [node, node.attributes, *node.blocks]
    return parts


@given(graphs())
def test_copy_is_equal_and_shares_nothing_mutable(graph):
    copy = graph.copy()
    assert_graphs_equal(graph, copy)
    assert print_graph(copy) == print_graph(graph)
    shared = {id(part) for part in mutable_parts(graph)} & {id(part) for part in mutable_parts(copy)}
    assert not shared
    assert all(node.graph is copy for node in copy.walk())
    verify(copy)


def test_editing_a_copy_leaves_the_original_alone():
    graph = parse(CHAIN)
    text = print_graph(graph)
    copy = graph.copy()
    copy.params[0].replace_all_uses_with(copy.params[1])
    copy.block.clear()
    copy.tensors["new"] = np.zeros(1)
    assert print_graph(graph) == text and graph.tensors == {}
    assert_use_lists_right(verify(graph))


# -- constants --------------------------------------------------------------------------------
def test_tensor_constants_are_named_uniquely_and_typed_by_their_array():
    graph = Graph()
    first = graph.tensor_constant(np.ones((2, 3), np.float32), "w")
    second = graph.tensor_constant([[1, 2]], "w")
    assert list(graph.tensors) == ["w", "w.1"]
    assert first.type == TensorType(DType.FLOAT32, (2, 3))
    assert second.type == TensorType(DType.INT64, (1, 2))
    assert second.producer.attributes == {"value": TensorRef("w.1")}
    graph.block.set_returns([first, second])
    outputs = run_graph(verify(graph))
    assert outputs[1] is graph.tensors["w.1"]
    np.testing.assert_array_equal(outputs[1], [[1, 2]])


@pytest.mark.parametrize("value, type", [(3, INT), (2.5, FLOAT), (True, BOOL)])
def test_scalar_constants_take_the_type_of_their_value(value, type):
    graph = Graph()
    constant = graph.constant(value, name="k")
    assert constant.type == type and constant.name == "k"
    assert constant.producer.attributes == {"value": value}


def test_constants_take_a_source_location():
    graph = Graph()
    here = SourceLocation("model.py", 12, 4)
    weight = graph.tensor_constant(np.ones(2, np.float32), "w", source=here)
    scale = graph.constant(0.5, name="scale", source=SourceLocation("model.py", 13, 8, 13, 11))
    plain = graph.tensor_constant(np.ones(2, np.float32), "v")
    graph.block.set_returns([weight, scale, plain])
    assert weight.producer.source == here and plain.producer.source is None
    assert print_graph(verify(graph)) == (
        "graph():\n"
        "  %w : Float(2) = prim::Constant[value=@w]()  # model.py:12:4\n"
        "  %scale : float = prim::Constant[value=0.5]()  # model.py:13:8-13:11\n"
        "  %v : Float(2) = prim::Constant[value=@v]()\n"
        "  return (%w, %scale, %v)\n")
