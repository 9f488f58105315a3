"""The reference interpreter: TorchScript's If/Loop semantics, values seen
from nested blocks, tensor constants and lists as values, and run-time type
checks. Every generated graph runs with check_types=True, which holds each
type rule in the op table to what NumPy really returns."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

from jitc.ir.errors import InterpreterError
from jitc.ir.interpreter import run_graph
from jitc.ir.parser import parse_graph
from jitc.ir.verifier import verify
from support.compare import assert_same
from support.graphs import graphs_with_inputs


def run(text: str, *args, tensors=None):
    return run_graph(verify(parse_graph(text, tensors)), *args, check_types=True)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # var of one element, log of a negative...
@given(graphs_with_inputs())
def test_generated_graphs_produce_their_declared_types(case):
    graph, args = case
    outputs = run_graph(graph, *args, check_types=True)
    assert len(outputs) == len(graph.returns)


# -- prim::If ------------------------------------------------------------------------------
BRANCH = """\
graph(%c : bool, %x : Double(*, 3)):
  %y : Double(*, 3) = prim::If(%c)
    block0():
      %e : Double(*, 3) = np::exp(%x)
      -> (%e)
    block1():
      %n : Double(*, 3) = np::negative(%x)
      -> (%n)
  return (%y)
"""


@pytest.mark.parametrize("condition", [True, False])
def test_if_runs_one_branch(condition):
    x = np.linspace(-1, 1, 6).reshape(2, 3)
    [y] = run(BRANCH, condition, x)
    assert_same(y, np.exp(x) if condition else -x)


# -- prim::Loop ------------------------------------------------------------------------------
COUNTING = """\
graph(%n : int, %start : bool, %stop_after : int):
  %zero : int = prim::Constant[value=0]()
  %one : int = prim::Constant[value=1]()
  %trips : int, %total : int = prim::Loop(%n, %start, %zero, %zero)
    block0(%i : int, %t : int, %s : int):
      %t.1 : int = np::add(%t, %one)
      %s.1 : int = np::add(%s, %i)
      %go : bool = np::less(%i, %stop_after)
      -> (%go, %t.1, %s.1)
  return (%trips, %total)
"""


@pytest.mark.parametrize("n, start, stop_after, expected", [
    (5, True, 99, (5, 10)),  # runs max_trip_count times, i = 0 .. 4
    (0, True, 99, (0, 0)),   # zero trips: outputs are the initial carried values
    (-3, True, 99, (0, 0)),  # a negative trip count runs nothing either
    (5, False, 99, (0, 0)),  # a false start condition runs nothing
    (5, True, 2, (3, 3)),    # the body's condition, checked after each trip, stops it after i = 2
])
def test_loop_semantics(n, start, stop_after, expected):
    """Outputs: how many trips ran, and the sum of the counter i over them."""
    assert run(COUNTING, n, start, stop_after) == expected


RECURRENCE = """\
graph(%h0 : Float(B, 4), %w : Float(4, 4), %n : int):
  %true : bool = prim::Constant[value=True]()
  %h : Float(B, 4) = prim::Loop(%n, %true, %h0)
    block0(%i : int, %h.1 : Float(B, 4)):
      %z : Float(B, 4) = np::matmul(%h.1, %w)
      %h.2 : Float(B, 4) = np::tanh(%z)
      -> (%true, %h.2)
  return (%h)
"""


def test_loop_carries_tensors():
    rng = np.random.default_rng(0)
    h0, w = rng.standard_normal((2, 4)).astype(np.float32), rng.standard_normal((4, 4)).astype(np.float32)
    expected = h0
    for _ in range(3):
        expected = np.tanh(expected @ w)
    [h] = run(RECURRENCE, h0, w, 3)
    assert_same(h, expected)


NESTED = """\
graph(%x : Double(3), %n : int, %limit : float):
  %true : bool = prim::Constant[value=True]()
  %acc : Double(3) = prim::Loop(%n, %true, %x)
    block0(%i : int, %a : Double(3)):
      %i_float : float = prim::Float(%i)
      %big : bool = np::greater(%i_float, %limit)
      %next : Double(3) = prim::If(%big)
        block0():
          %p : Double(3) = np::add(%a, %x)
          -> (%p)
        block1():
          %q : Double(3) = np::multiply(%a, %i_float)
          -> (%q)
      -> (%true, %next)
  return (%acc)
"""


def test_nested_blocks_see_outer_values():
    """The If's blocks use %x from the graph, %a and %i_float from the loop body."""
    x = np.array([1.0, -2.0, 0.5])
    expected = x
    for i in range(4):
        expected = expected + x if float(i) > 1.5 else expected * float(i)
    [acc] = run(NESTED, x, 4, 1.5)
    assert_same(acc, expected)


def test_lists_are_values():
    """Appending in a loop makes new lists: the initial list is not changed."""
    text = """\
graph(%n : int):
  %true : bool = prim::Constant[value=True]()
  %empty : List[int] = prim::ListConstruct()
  %items : List[int] = prim::Loop(%n, %true, %empty)
    block0(%i : int, %l : List[int]):
      %l.1 : List[int] = prim::ListAppend(%l, %i)
      -> (%true, %l.1)
  %size : int = prim::ListLen(%items)
  return (%items, %size, %empty)
"""
    assert run(text, 3) == ([0, 1, 2], 3, [])


def test_tensor_constants_come_from_the_table():
    text = """\
graph(%x : Float(2)):
  %w : Float(2, 2) = prim::Constant[value=@w]()
  %y : Float(2) = np::matmul(%w, %x)
  return (%y)
"""
    w = np.array([[1, 2], [3, 4]], np.float32)
    x = np.array([1, -1], np.float32)
    [y] = run(text, x, tensors={"w": w})
    assert_same(y, w @ x)


# -- check_types -------------------------------------------------------------------------------
@pytest.mark.parametrize("text, args, message", [
    ("graph(%x : Float(3)):\n  %y : Double(3) = np::exp(%x)\n  return (%y)\n",
     (np.zeros(3, np.float32),), "np::exp produced ndarray float32(3,) for %y declared Double(3)"),
    ("graph(%x : Float(3)):\n  %y : Float(4) = np::exp(%x)\n  return (%y)\n",
     (np.zeros(3, np.float32),), "np::exp produced ndarray float32(3,) for %y declared Float(4)"),
    ("graph(%x : Double(3)):\n  %s : float = np::sum(%x)\n  return (%s)\n",  # np.float64 is a 0-d tensor
     (np.zeros(3),), "np::sum produced float64 float64() for %s declared float"),
    ("graph(%x : Float(3)):\n  return (%x)\n",
     (np.zeros(3),), "block parameter produced ndarray float64(3,) for %x declared Float(3)"),
    ("graph(%n : int):\n  return (%n)\n", (2.0,), "block parameter produced 2.0 for %n declared int"),
    ("graph(%n : int):\n  return (%n)\n", (True,), "block parameter produced True for %n declared int"),
])
def test_check_types_catches_values_that_contradict_declared_types(text, args, message):
    graph = parse_graph(text)  # not verified: the declared types are wrong on purpose
    with pytest.raises(InterpreterError) as raised:
        run_graph(graph, *args, check_types=True)
    assert str(raised.value) == message
    run_graph(graph, *args)  # without the checks the same graph runs


def test_wrong_number_of_arguments():
    with pytest.raises(TypeError, match="graph takes 3 argument"):
        run(COUNTING, 1, True)
