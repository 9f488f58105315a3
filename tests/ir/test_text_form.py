"""The text form: printing and parsing back is exact (checked on random
graphs and on hand-written golden texts), and bad text raises ParseError
naming the line and column."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given

from jitc.ir.attributes import TensorRef
from jitc.ir.errors import IRError, ParseError
from jitc.ir.graph import Graph, SourceLocation, Value
from jitc.ir.ops import create_op
from jitc.ir.parser import parse_graph
from jitc.ir.printer import print_graph
from jitc.ir.types import BOOL, INT, DType, ListType, TensorType
from jitc.ir.verifier import verify
from support.graphs import assert_graphs_equal, graphs, same_attribute

FLOAT_N3 = TensorType(DType.FLOAT32, ("N", 3))


def emit(graph: Graph, kind: str, *inputs: Value, name: str | None = None, source=None, **attributes) -> Value:
    """Add one op with a one-value result, named `name`."""
    output = create_op(graph, kind, inputs, attributes, source).output
    output.name = name
    return output


@given(graphs())
def test_print_parse_print_is_exact(graph):
    text = print_graph(graph)
    parsed = parse_graph(text, graph.tensors)
    assert print_graph(parsed) == text
    assert_graphs_equal(graph, parsed)


# -- golden texts: each is the exact text of a graph built with the API --------------------------
CONTROL_FLOW = """\
graph(%x : Float(N, 3), %n : int, %flag : bool):
  %true : bool = prim::Constant[value=True]()
  %h : Float(N, 3) = prim::Loop(%n, %true, %x)  # model.py:3:4-5:20
    block0(%i : int, %h.1 : Float(N, 3)):
      %t : Float(N, 3) = np::tanh(%h.1)  # model.py:4:12
      %two : int = prim::Constant[value=2]()
      %go : bool = np::less(%i, %two)
      -> (%go, %t)
  %y : Float(N, 3) = prim::If(%flag)
    block0():
      %e : Float(N, 3) = np::exp(%h)
      -> (%e)
    block1():
      -> (%x)
  return (%y, %h)
"""


def control_flow_graph() -> Graph:
    graph = Graph()
    x, n, flag = graph.add_param(FLOAT_N3, "x"), graph.add_param(INT, "n"), graph.add_param(BOOL, "flag")
    loop = create_op(graph, "prim::Loop", [n, graph.constant(True, name="true"), x],
                     source=SourceLocation("model.py", 3, 4, 5, 20))
    loop.output.name = "h"
    body = loop.blocks[0]
    i, h = body.add_param(INT, "i"), body.add_param(FLOAT_N3, "h")
    with graph.inserting_at_end(body):
        t = emit(graph, "np::tanh", h, name="t", source=SourceLocation("model.py", 4, 12))
        go = emit(graph, "np::less", i, graph.constant(2, name="two"), name="go")
        body.set_returns([go, t])
    branch = create_op(graph, "prim::If", [flag], output_types=[FLOAT_N3])
    branch.output.name = "y"
    then, otherwise = branch.blocks
    with graph.inserting_at_end(then):
        then.set_returns([emit(graph, "np::exp", loop.output, name="e")])
    otherwise.set_returns([x])
    graph.block.set_returns([branch.output, loop.output])
    return graph


LISTS = """\
graph(%x : Double(2, 3)):
  %shape : List[int] = np::shape(%x)
  %rows : int, %cols : int = prim::ListUnpack(%shape)
  %empty : List[Double(3)] = prim::ListConstruct()
  %zero : int = prim::Constant[value=0]()
  %row : Double(3) = np::select[axis=0](%x, %zero)
  %one_row : List[Double(3)] = prim::ListAppend(%empty, %row)
  %stacked : Double(*, 3) = np::stack[axis=-2](%one_row)
  %pair : Tuple[int, Double(*, 3)] = prim::TupleConstruct(%cols, %stacked)
  %first : int = prim::TupleIndex[index=0](%pair)
  return (%pair, %first, %rows)
"""


def lists_graph() -> Graph:
    graph = Graph()
    x = graph.add_param(TensorType(DType.FLOAT64, (2, 3)), "x")
    shape = emit(graph, "np::shape", x, name="shape")
    rows, cols = create_op(graph, "prim::ListUnpack", [shape], num_outputs=2).outputs
    rows.name, cols.name = "rows", "cols"
    empty = create_op(graph, "prim::ListConstruct", [], output_types=[ListType(TensorType(DType.FLOAT64, (3,)))]).output
    empty.name = "empty"
    row = emit(graph, "np::select", x, graph.constant(0, name="zero"), name="row", axis=0)
    one_row = emit(graph, "prim::ListAppend", empty, row, name="one_row")
    stacked = emit(graph, "np::stack", one_row, name="stacked", axis=-2)
    pair = emit(graph, "prim::TupleConstruct", cols, stacked, name="pair")
    graph.block.set_returns([pair, emit(graph, "prim::TupleIndex", pair, name="first", index=0), rows])
    return graph


ATTRIBUTES = """\
graph():
  %w : Float(2, 2) = prim::Constant[value=@w]()
  %w.1 : Float(2, 2) = prim::Constant[value=@w.1]()
  %neg : int = prim::Constant[value=-7]()
  %big : int = prim::Constant[value=123456789012345678901234567890]()
  %tiny : float = prim::Constant[value=1e-20]()
  %inf : float = prim::Constant[value=inf]()
  %ninf : float = prim::Constant[value=-inf]()
  %nan : float = prim::Constant[value=nan]()
  %nzero : float = prim::Constant[value=-0.0]()
  %half : float = prim::Constant[value=-2.5]()
  %text : str = prim::Constant[value="say \\"hi\\" # no comment\\\\ \\n \\u00e9"]()
  %none : None = prim::Constant[value=None]()
  %empty : Tuple[] = prim::Constant[value=()]()
  %single : Tuple[int] = prim::Constant[value=(1,)]()
  %nested : Tuple[int, float, Tuple[bool], None] = prim::Constant[value=(-1, 2.5, (False,), None)]()
  %cast : Double(2, 2) = np::astype[dtype=float64](%w)
  %sum : Double(2) = np::sum[axis=(-2,), keepdims=False](%cast)
  %t : Float(2, 2) = np::transpose[axes=(-1, 0)](%w.1)
  return (%sum, %t, %neg, %big, %tiny, %inf, %ninf, %nan, %nzero, %half, %text, %none, %empty, %single, %nested)
"""
ATTRIBUTE_VALUES = [-7, 123456789012345678901234567890, 1e-20, math.inf, -math.inf, math.nan, -0.0, -2.5,
                    'say "hi" # no comment\\ \n \u00e9', None, (), (1,), (-1, 2.5, (False,), None)]
ATTRIBUTE_NAMES = ["neg", "big", "tiny", "inf", "ninf", "nan", "nzero", "half", "text", "none", "empty",
                   "single", "nested"]


def attributes_graph() -> Graph:
    graph = Graph()
    weights = [graph.tensor_constant(np.eye(2, dtype=np.float32) * k, "w") for k in (1, 2)]
    constants = [graph.constant(value, name=name) for value, name in zip(ATTRIBUTE_VALUES, ATTRIBUTE_NAMES)]
    cast = emit(graph, "np::astype", weights[0], name="cast", dtype=DType.FLOAT64)
    total = emit(graph, "np::sum", cast, name="sum", axis=(-2,), keepdims=False)
    transposed = emit(graph, "np::transpose", weights[1], name="t", axes=(-1, 0))
    graph.block.set_returns([total, transposed, *constants])
    return graph


SOURCES = """\
graph(%x : Float(3)):
  %a : Float(3) = np::exp(%x)  # model.py:1:0
  %b : Float(3) = np::exp(%a)  # /tmp/my model.py:12:4-12:30
  %c : Float(3) = np::exp(%b)  # C:\\work\\net.py:7:8
  %d : Float(3) = np::exp(%c)  # log:1:2-3:4:5:6-7:8
  %e : Float(3) = np::exp(%d)  #  leading space.py:9:0
  %f : Float(3) = np::exp(%e)
  return (%f)
"""
LOCATIONS = [SourceLocation("model.py", 1, 0), SourceLocation("/tmp/my model.py", 12, 4, 12, 30),
             SourceLocation("C:\\work\\net.py", 7, 8), SourceLocation("log:1:2-3:4", 5, 6, 7, 8),
             SourceLocation(" leading space.py", 9, 0), None]


def sources_graph() -> Graph:
    graph = Graph()
    value = graph.add_param(TensorType(DType.FLOAT32, (3,)), "x")
    for name, location in zip("abcdef", LOCATIONS):
        value = emit(graph, "np::exp", value, name=name, source=location)
    graph.block.set_returns([value])
    return graph


NAMES = """\
graph(%x : Float(3), %x.1 : Float(3)):
  %1 : Float(3) = np::add(%x, %x.1)
  %0 : Float(3) = np::exp(%1)
  %2 : Float(3) = np::exp(%0)
  %a_b : Float(3) = np::exp(%2)
  %a_b.1 : Float(3) = np::exp(%a_b)
  return (%a_b.1)
"""


def names_graph() -> Graph:
    """Clashing hints, hints the parser could not read, a hint that looks
    like a number the printer would give, and no hints."""
    graph = Graph()
    x1, x2 = (graph.add_param(TensorType(DType.FLOAT32, (3,)), "x") for _ in range(2))
    value = emit(graph, "np::add", x1, x2, name="1")
    for name in (None, None, "a-b", "a b"):
        value = emit(graph, "np::exp", value, name=name)
    graph.block.set_returns([value])
    return graph


GOLDEN = [(CONTROL_FLOW, control_flow_graph), (LISTS, lists_graph), (ATTRIBUTES, attributes_graph),
          (SOURCES, sources_graph), (NAMES, names_graph)]


@pytest.mark.parametrize("text, build", GOLDEN, ids=["control_flow", "lists", "attributes", "sources", "names"])
def test_golden_text(text, build):
    graph = verify(build())
    assert print_graph(graph) == text
    parsed = verify(parse_graph(text, graph.tensors))
    assert_graphs_equal(graph, parsed)
    assert print_graph(parsed) == text


def test_parsed_attribute_values_keep_their_python_types():
    """1, 1.0 and True are different constants; NaN stays NaN, -0.0 stays negative."""
    nodes = list(parse_graph(ATTRIBUTES).walk())
    values = {node.output.name: node.attributes["value"] for node in nodes if node.kind == "prim::Constant"}
    for name, expected in zip(ATTRIBUTE_NAMES, ATTRIBUTE_VALUES):
        assert same_attribute(values[name], expected), f"%{name}: {values[name]!r} != {expected!r}"
    assert values["w.1"] == TensorRef("w.1")
    assert nodes[-3].attributes == {"dtype": DType.FLOAT64}


def test_printing_without_sources_drops_only_the_comments():
    assert print_graph(sources_graph(), with_source=False) == "\n".join(
        line.split("  #")[0] for line in SOURCES.splitlines()) + "\n"


def test_tensor_constant_names_are_made_printable():
    graph = Graph()
    graph.block.set_returns([graph.tensor_constant(np.zeros(2), "layer-1/bias")])
    assert list(graph.tensors) == ["layer_1_bias"]
    assert "prim::Constant[value=@layer_1_bias]()" in print_graph(graph)
    assert_graphs_equal(graph, parse_graph(print_graph(graph), graph.tensors))


# -- parse errors ----------------------------------------------------------------------------
@pytest.mark.parametrize("text, message", [
    ("graph(%x : Float(3)):\n  return (%x) junk\n",
     "line 2, column 15: unexpected text after the graph's return (found 'junk')"),
    ("graph(%x : Float(3)):\n  %y : Float(3) = np::exp(%x) $\n",
     "line 2, column 31: unexpected character '$'"),
    ("graph(%x : Float(3)):\n  %y : Float(3) = np::exp(%z)\n  return (%y)\n",
     "line 2, column 27: value %z is used before it is defined (found '%z')"),
    ("graph(%x : Float(3)):\n  %x : Float(3) = np::exp(%x)\n  return (%x)\n",
     "line 2, column 3: value %x is defined twice (found '%x')"),
    ("graph(%x : Floot(3)):\n  return (%x)\n",
     "line 1, column 12: unknown type (found 'Floot')"),
    ("graph(%c : bool):\n  %y : int = prim::If(%c)\n    block0():\n      %a : int = prim::Constant[value=1]()\n",
     "line 5, column 1: expected '->' before the end of the text (found 'end of text')"),
    ("graph(%x : Float(3)):\n  %y : Float(3) = exp(%x)\n  return (%y)\n",
     "line 2, column 19: expected an op name namespace::name (found 'exp')"),
    ("graph(%x : Float(3)):\n  %y : Float(3) = np::exp(%x)  # no location here\n  return (%y)\n",
     "line 2, column 32: a comment after a node must be a source location file:line:col"),
    ("graph(%x : List[int, int]):\n  return (%x)\n",
     "line 1, column 12: List takes exactly one element type"),
    ("", "line 1, column 1: expected 'graph' (found 'end of text')"),
])
def test_parse_errors_name_line_and_column(text, message):
    with pytest.raises(ParseError) as raised:
        parse_graph(text)
    assert str(raised.value).startswith(message)
    assert isinstance(raised.value, IRError)
