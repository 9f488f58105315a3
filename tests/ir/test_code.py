"""The `.code` view: every op reads as the Python a user would write, and
that Python computes what the graph computes."""
from __future__ import annotations

import numpy as np
import pytest

from jitc.ir.code import graph_to_code
from jitc.ir.interpreter import run_graph
from jitc.ir.parser import parse_graph
from support.compare import assert_same

CONSTANTS = """\
  %one : int = prim::Constant[value=1]()
  %two : int = prim::Constant[value=2]()
  %five : int = prim::Constant[value=5]()
  %minus : int = prim::Constant[value=-1]()
  %none : None = prim::Constant[value=None]()
"""


def code_line(node_text: str, params: str = "%x : Float(4, 6, 8), %n : int") -> str:
    """The `.code` line of one node, whose output is %y."""
    graph = parse_graph(f"graph({params}):\n{CONSTANTS}  {node_text}\n  return (%y)\n")
    code = graph_to_code(graph).splitlines()
    [line] = [line.strip() for line in code if line.strip().startswith("y = ")]
    return line


@pytest.mark.parametrize("node, expected", [
    ("%y : Float(6, 8) = np::select(%x, %n)", "y = x[n]"),
    ("%y : Float(4, 8) = np::select[axis=1](%x, %n)", "y = x[:, n]"),
    ("%y : Float(4, 6) = np::select[axis=2](%x, %minus)", "y = x[:, :, -1]"),
    ("%y : Float(4, 6) = np::select[axis=-1](%x, %one)", "y = x[..., 1]"),
    ("%y : Float(4, 8) = np::select[axis=-2](%x, %n)", "y = x[..., n, :]"),
    ("%y : Float(4, 2, 8) = np::slice[axis=1](%x, %one, %five, %two)", "y = x[:, 1:5:2]"),
    ("%y : Float(4, 6, 8) = np::slice(%x, %none, %none, %none)", "y = x[:]"),
    ("%y : Float(4, 6, *) = np::slice[axis=-1](%x, %n, %none, %none)", "y = x[..., n:]"),
    ("%y : Float(*, 6, 8) = np::slice(%x, %none, %n, %minus)", "y = x[:n:-1]"),
    ("%y : Float(4, 3, 8) = np::slice[axis=-2](%x, %none, %none, %two)", "y = x[..., ::2, :]"),
], ids=["select", "select-axis-1", "select-axis-2", "select-last", "select-axis--2", "slice-step",
        "slice-all", "slice-last-from", "slice-stop-step", "slice-axis--2"])
def test_indexing_reads_as_python_indexing(node, expected):
    assert code_line(node) == expected


@pytest.mark.parametrize("node, expected", [
    ("%y : Float(2, 24) = np::reshape(%x, %two, %minus)", "y = np.reshape(x, (2, -1))"),
    ("%y : Float(192) = np::reshape(%x, %minus)", "y = np.reshape(x, (-1,))"),
    ("%y : Double() = np::zeros[dtype=float64]()", "y = np.zeros((), dtype=np.float64)"),
    ("%y : Float(2, 5) = np::ones[dtype=float32](%two, %five)", "y = np.ones((2, 5), dtype=np.float32)"),
    ("%y : Long(2) = np::full(%one, %two)", "y = np.full((2,), 1, dtype=None)"),
    ("%y : Float(2, 4, 6, 8) = np::broadcast_to(%x, %two, %n, %n, %n)",
     "y = np.broadcast_to(x, (2, n, n, n))"),
    ("%y : Tuple[] = prim::TupleConstruct()", "y = ()"),
    ("%y : Tuple[int] = prim::TupleConstruct(%n)", "y = (n,)"),
    ("%y : Tuple[int, int] = prim::TupleConstruct(%n, %one)", "y = (n, 1)"),
    ("%y : Double(4, 6, 8) = np::astype[dtype=float64](%x)", "y = x.astype(np.float64)"),
], ids=["reshape", "reshape-one", "zeros-0d", "ones", "full-default-dtype", "broadcast_to",
        "empty-tuple", "one-tuple", "tuple", "astype"])
def test_shapes_and_dtypes_read_as_python(node, expected):
    assert code_line(node) == expected


def test_indexing_code_computes_what_the_graph_computes():
    graph = parse_graph(f"""graph(%x : Float(4, 6, 8), %n : int):
{CONSTANTS}  %a : Float(4, 2, 8) = np::slice[axis=1](%x, %one, %five, %two)
  %b : Float(4, 8) = np::select[axis=-2](%a, %n)
  %c : Float(4, *) = np::slice[axis=-1](%b, %none, %n, %minus)
  %d : Float(*) = np::select(%c, %minus)
  return (%d)
""")
    x = np.arange(4 * 6 * 8, dtype=np.float32).reshape(4, 6, 8)
    namespace = {"np": np}
    # Types in the signature are not Python: keep them unevaluated.
    exec("from __future__ import annotations\n" + graph_to_code(graph), namespace)  # noqa: S102
    assert_same(namespace["graph"](x, 1), run_graph(graph, x, 1)[0])
