"""The verifier accepts every generated graph and rejects each kind of
broken graph with a message that says what is wrong and where."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

from jitc.ir.errors import VerificationError
from jitc.ir.graph import Block, Graph, Node, Use
from jitc.ir.ops import create_op
from jitc.ir.parser import parse_graph
from jitc.ir.types import DType, TensorType
from jitc.ir.verifier import verify
from support.graphs import graphs

FLOAT3 = TensorType(DType.FLOAT32, (3,))


@given(graphs())
def test_generated_graphs_verify(graph):
    assert verify(graph) is graph


def assert_rejected(graph: Graph, message: str) -> None:
    with pytest.raises(VerificationError) as raised:
        verify(graph)
    assert str(raised.value) == message


# Broken graphs the parser reads (it checks syntax and names, not meaning).
IF_HEAD = "graph(%c : bool, %x : Float(3)):\n  %y : Float(3) = prim::If(%c)\n"


@pytest.mark.parametrize("text, message", [
    (IF_HEAD + "    block0():\n      %e : Float(3) = np::exp(%x)\n      -> (%e)\n"
               "    block1():\n      -> (%x)\n  %z : Float(3) = np::tanh(%e)\n  return (%z)\n",
     "value %e is used outside block0 of prim::If, the block that defines it in np::tanh"),
    (IF_HEAD + "    block0():\n      %e : Float(3) = np::exp(%x)\n      -> (%e)\n"
               "    block1():\n      -> (%e)\n  return (%y)\n",
     "value %e is used outside block0 of prim::If, the block that defines it in prim::If"),
    ("graph(%x : Float(3)):\n  %n : int = prim::Constant[value=2]()\n  %t : bool = prim::Constant[value=True]()\n"
     "  %h : Float(3) = prim::Loop(%n, %t, %x)\n    block0(%i : int, %a : Float(3)):\n"
     "      %b : Float(3) = np::exp(%a)\n      -> (%t, %b)\n  return (%b)\n",
     "value %b is used outside block0 of prim::Loop, the block that defines it"),
    (IF_HEAD + "    block0():\n      -> (%x, %x)\n    block1():\n      -> (%x)\n  return (%y)\n",
     "block takes 0 and returns 2 values; expected 0 and 1 in prim::If"),
    (IF_HEAD + "    block0():\n      %n : int = prim::Constant[value=1]()\n      -> (%n)\n"
               "    block1():\n      -> (%x)\n  return (%y)\n",
     "block returns %n of type int, expected Float(3) in prim::If"),
    ("graph(%x : Float(3)):\n  %y : Float(3) = prim::If(%x)\n    block0():\n      -> (%x)\n"
     "    block1():\n      -> (%x)\n  return (%y)\n",
     "type rule failed: prim::If: condition must be bool, got Float(3) in prim::If"),
    ("graph(%x : Float(3), %n : int, %t : bool):\n  %h : Float(3) = prim::Loop(%n, %t, %x)\n"
     "    block0(%i : int):\n      -> (%t, %x)\n  return (%h)\n",
     "block takes 1 and returns 2 values; expected 2 and 2 in prim::Loop"),
    ("graph(%x : Float(3), %n : int, %t : bool):\n  %h : Float(3) = prim::Loop(%n, %t, %x)\n"
     "    block0(%i : float, %a : Float(3)):\n      -> (%t, %a)\n  return (%h)\n",
     "block parameter %i is float, expected int in prim::Loop"),
    ("graph(%x : Float(3), %n : int, %t : bool):\n  %h : Float(3) = prim::Loop(%n, %t, %x)\n"
     "    block0(%i : int, %a : Float(3)):\n      -> (%i, %a)\n  return (%h)\n",
     "block returns %i of type int, expected bool in prim::Loop"),
    ("graph(%x : Float(3), %n : int, %t : bool):\n  %h : Double(3) = prim::Loop(%n, %t, %x)\n"
     "    block0(%i : int, %a : Double(3)):\n      -> (%t, %a)\n  return (%h)\n",
     "carried value %x enters as Float(3) but the loop declares %h : Double(3) in prim::Loop"),
    ("graph(%x : Float(3)):\n  %y : Double(3) = np::exp(%x)  # model.py:7:4\n  return (%y)\n",
     "output %y is declared Double(3) but the type rule gives Float(3) in np::exp at model.py:7:4"),
    ("graph(%x : Float(3)):\n  %y : Float(4) = np::exp(%x)\n  return (%y)\n",
     "output %y is declared Float(4) but the type rule gives Float(3) in np::exp"),
    ("graph(%x : Float(3)):\n  %y : Float(3) = np::frobnicate(%x)\n  return (%y)\n",
     "unknown op 'np::frobnicate' in np::frobnicate"),
    ("graph(%x : Float(3)):\n  %y : Float(3) = np::exp(%x, %x)\n  return (%y)\n",
     "np::exp takes 1 input(s), got 2 in np::exp"),
    ("graph(%x : Float(3)):\n  %y : Float(3) = np::exp[axis=0](%x)\n  return (%y)\n",
     "np::exp has no attribute(s) axis in np::exp"),
    ("graph(%x : Float(3)):\n  %y : Float(3) = np::astype(%x)\n  return (%y)\n",
     "np::astype requires attribute 'dtype' in np::astype"),
    ("graph():\n  %c : int = prim::Constant[value=float32]()\n  return (%c)\n",
     "type rule failed: jitc has no IR type for a value of type DType in prim::Constant"),
    ("graph(%c : bool, %x : Float(3)):\n  %y : Float(3) = prim::If(%c)\n    block0():\n      -> (%x)\n"
     "  return (%y)\n",
     "prim::If must have 2 block(s), has 1 in prim::If"),
], ids=["value-of-inner-block", "value-of-sibling-branch", "value-of-loop-body", "if-block-arity",
        "if-block-type", "if-condition-type", "loop-block-arity", "loop-counter-type", "loop-condition-type",
        "loop-output-type", "output-dtype", "output-shape", "unknown-op", "arity", "unknown-attribute",
        "missing-attribute", "malformed-attribute", "block-count"])
def test_broken_text_is_rejected(text, message):
    assert_rejected(parse_graph(text), message)


# Broken graphs only the editing API can make.
def exp_graph() -> tuple[Graph, Node]:
    """graph(%x : Float(3)): %y = np::exp(%x); return (%y)"""
    graph = Graph()
    x = graph.add_param(FLOAT3, "x")
    node = create_op(graph, "np::exp", [x])
    node.output.name = "y"
    graph.block.set_returns([node.output])
    return graph, node


def test_use_before_definition():
    graph, node = exp_graph()
    with graph.inserting_before(node):
        create_op(graph, "np::tanh", [node.output])
    assert_rejected(graph, "value %y is used before it is defined in np::tanh")


def test_value_of_another_graph():
    graph, node = exp_graph()
    other, _ = exp_graph()
    node.set_input(0, other.params[0])
    assert_rejected(graph, "value %x does not belong to this graph in np::exp")


def test_value_defined_twice():
    graph, node = exp_graph()
    copy = create_op(graph, "np::exp", [graph.params[0]])
    copy.outputs[0] = node.output
    assert_rejected(graph, "value %y is defined twice in np::exp")


def test_missing_use():
    graph, node = exp_graph()
    graph.params[0].uses.clear()
    assert_rejected(graph, "the use list of %x misses one of its uses in np::exp")


def test_use_that_is_gone():
    graph, node = exp_graph()
    graph.params[0].uses.append(Use(node, 1))
    assert_rejected(graph, "the use list of %x names a use that is gone")


def test_use_listed_twice():
    graph, node = exp_graph()
    graph.params[0].uses.append(Use(node, 0))
    assert_rejected(graph, "the use list of %x names a use twice")


def test_use_by_a_node_outside_the_graph():
    graph, _ = exp_graph()
    Node("np::tanh", [graph.params[0]], [FLOAT3])
    assert_rejected(graph, "%x is used by a node outside the graph")


def test_use_by_a_removed_block():
    graph, _ = exp_graph()
    Block(graph).add_return(graph.params[0])
    assert_rejected(graph, "%x is used by a block outside the graph")


def test_use_by_a_node_taken_out_of_its_block_by_hand():
    graph, node = exp_graph()
    graph.block.set_returns([graph.params[0]])
    graph.block.nodes.remove(node)
    assert_rejected(graph, "%x is used by a node outside the graph")


def test_tensor_constant_whose_array_contradicts_its_type():
    graph = Graph()
    weight = graph.tensor_constant(np.zeros(3, np.float32), "w")
    graph.block.set_returns([weight])
    verify(graph)
    graph.tensors["w"] = np.zeros((2, 3), np.float32)
    assert_rejected(graph, "output %w is declared Float(3) but @w is Float(2, 3) in prim::Constant")


def tensor_constant_graph(array=np.zeros(3, np.float32)) -> tuple[Graph, Node]:
    """graph(): %w = prim::Constant[value=@w](); return (%w)"""
    graph = Graph()
    weight = graph.tensor_constant(array, "w")
    graph.block.set_returns([weight])
    return verify(graph), weight.producer


def test_tensor_constant_that_names_no_tensor():
    graph, _ = tensor_constant_graph()
    del graph.tensors["w"]
    assert_rejected(graph, "tensor constant @w is not in the graph's tensors in prim::Constant")


def test_tensor_constant_that_is_not_an_array():
    graph, _ = tensor_constant_graph()
    graph.tensors["w"] = [0.0, 0.0, 0.0]
    assert_rejected(graph, "tensor constant @w is a list, not a NumPy array in prim::Constant")


def test_tensor_constant_of_an_unsupported_dtype():
    graph, _ = tensor_constant_graph()
    graph.tensors["w"] = np.array(["a", "b", "c"])
    with pytest.raises(VerificationError, match=r"^tensor constant @w: .* in prim::Constant$"):
        verify(graph)


@pytest.mark.parametrize("declared, message", [
    (TensorType(DType.FLOAT64, (3,)), "output %w is declared Double(3) but @w is Float(3) in prim::Constant"),
    (TensorType(DType.FLOAT32, (4,)), "output %w is declared Float(4) but @w is Float(3) in prim::Constant"),
    (TensorType(DType.FLOAT32, (3, 1)), "output %w is declared Float(3, 1) but @w is Float(3) in prim::Constant"),
    # A constant's array is known: a symbol or an unknown dtype in its type is an error too.
    (TensorType(DType.FLOAT32, ("*",)), "output %w is declared Float(*) but @w is Float(3) in prim::Constant"),
    (TensorType(None, (3,)), "output %w is declared Tensor(3) but @w is Float(3) in prim::Constant"),
], ids=["dtype", "size", "rank", "symbol", "unknown-dtype"])
def test_tensor_constant_declared_other_than_its_array(declared, message):
    graph, node = tensor_constant_graph()
    node.output.type = declared
    assert_rejected(graph, message)


def test_tensor_constant_in_text_without_its_array():
    graph = parse_graph("graph():\n  %w : Float(3) = prim::Constant[value=@w]()  # model.py:3:0\n"
                        "  return (%w)\n")
    assert_rejected(graph, "tensor constant @w is not in the graph's tensors in prim::Constant at model.py:3:0")
    graph.tensors["w"] = np.ones(3, np.float32)
    verify(graph)


def test_loop_that_declares_a_narrower_type_than_it_carries_in():
    graph = parse_graph("graph(%x : Float(4), %n : int, %t : bool):\n  %h : Float(3) = prim::Loop(%n, %t, %x)\n"
                        "    block0(%i : int, %a : Float(3)):\n      -> (%t, %a)\n  return (%h)\n")
    assert_rejected(graph, "carried value %x enters as Float(4) but the loop declares %h : Float(3) in prim::Loop")


CALL_HEAD = "graph(%x : Float(3), %w : Float(3)):\n  %y : Float(3) = prim::CallFunction[name=\"f\"](%x)\n"


@pytest.mark.parametrize("text, message", [
    (CALL_HEAD + "    block0(%p : Float(3)):\n      %q : Float(3) = np::multiply(%p, %w)\n      -> (%q)\n"
     "  return (%y)\n",
     "%w is used inside the prim::CallFunction block but defined outside it in prim::CallFunction"),
    (CALL_HEAD + "    block0(%p : Double(3)):\n      -> (%p)\n  return (%y)\n",
     "block parameter %p is Double(3), expected Float(3) in prim::CallFunction"),
    (CALL_HEAD + "    block0(%p : Float(3), %r : Float(3)):\n      -> (%p)\n  return (%y)\n",
     "block takes 2 and returns 1 values; expected 1 and 1 in prim::CallFunction"),
], ids=["call-not-closed", "call-parameter-type", "call-arity"])
def test_broken_calls_are_rejected(text, message):
    assert_rejected(parse_graph(text), message)


def test_a_call_whose_body_has_its_own_blocks_verifies():
    """Parameters of blocks nested in a call's body are inside the call."""
    verify(parse_graph(CALL_HEAD + "    block0(%p : Float(3)):\n      %n : int = prim::Constant[value=2]()\n"
                       "      %t : bool = prim::Constant[value=True]()\n"
                       "      %h : Float(3) = prim::Loop(%n, %t, %p)\n"
                       "        block0(%i : int, %a : Float(3)):\n          %b : Float(3) = np::exp(%a)\n"
                       "          -> (%t, %b)\n      -> (%h)\n  return (%y)\n"))
