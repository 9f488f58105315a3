"""The type rule of `prim::Loop` and the loop fixed point of
`propagate_types` agree: a loop's outputs cover both the values that enter
it and the types its body settles on, so a body that widens a shape keeps a
sound type whether the node is built, re-inferred or propagated."""
from __future__ import annotations

import numpy as np
import pytest

from jitc.ir.errors import IRTypeError
from jitc.ir.graph import Graph
from jitc.ir.interpreter import run_graph
from jitc.ir.ops import create_op, infer_node_types
from jitc.ir.passes import get_pass, specialize
from jitc.ir.types import BOOL, INT, DType, ListType, TensorType
from jitc.ir.verifier import verify

FLOAT1 = TensorType(DType.FLOAT32, (1,))
FLOAT3 = TensorType(DType.FLOAT32, (3,))
FLOAT_ANY = TensorType(DType.FLOAT32, ("*",))
TENSOR = TensorType(None, None)


def loop_types(entering, declared=None):
    graph = Graph()
    values = [graph.add_param(INT), graph.add_param(BOOL)] + [graph.add_param(t) for t in entering]
    return [v.type for v in create_op(graph, "prim::Loop", values, output_types=declared).outputs]


def test_rule_gives_the_entering_types_when_the_node_declares_none():
    assert loop_types([FLOAT1, INT]) == [FLOAT1, INT]


def test_rule_joins_entering_and_declared_types():
    assert loop_types([FLOAT1], [FLOAT_ANY]) == [FLOAT_ANY]
    assert loop_types([FLOAT1], [FLOAT3]) == [FLOAT_ANY]  # Float(1) or Float(3)
    assert loop_types([FLOAT1], [TensorType(DType.FLOAT64, (1,))]) == [TensorType(None, (1,))]
    assert loop_types([ListType(FLOAT1)], [ListType(FLOAT_ANY)]) == [ListType(FLOAT_ANY)]


@pytest.mark.parametrize("entering, declared, message", [
    ([FLOAT1], [INT], "prim::Loop: carried value 0: cannot merge values of types Float(1) and int"),
    ([FLOAT1], [FLOAT1, FLOAT1], "prim::Loop: declares 2 outputs but carries 1 values"),
])
def test_rule_rejects_declared_types_it_cannot_join(entering, declared, message):
    with pytest.raises(IRTypeError) as raised:
        loop_types(entering, declared)
    assert str(raised.value) == message


def doubling_loop(carried_type=FLOAT1) -> Graph:
    """h = x; for i in range(n): h = np.concatenate([h, h]); return h

    Built as a naive builder would: every type is what enters the loop."""
    graph = Graph()
    x, n = graph.add_param(carried_type, "x"), graph.add_param(INT, "n")
    loop = create_op(graph, "prim::Loop", [n, graph.constant(True), x])
    body = loop.blocks[0]
    body.add_param(INT, "i")
    h = body.add_param(carried_type, "h")
    with graph.inserting_at_end(body):
        pair = create_op(graph, "prim::ListConstruct", [h, h]).output
        doubled = create_op(graph, "np::concatenate", [pair], {"axis": 0}).output
        body.set_returns([graph.constant(True), doubled])
    graph.block.set_returns([loop.output])
    return graph


def the_loop(graph: Graph):
    return next(node for node in graph.walk() if node.kind == "prim::Loop")


def test_propagation_widens_the_outputs_and_the_rule_agrees():
    graph = doubling_loop()
    get_pass("propagate_types").run(graph)
    loop = the_loop(graph)
    assert [v.type for v in loop.outputs] == [FLOAT_ANY]
    assert [v.type for v in loop.blocks[0].params] == [INT, FLOAT_ANY]
    # Re-inferring the node (as create_op, the verifier or a later pass does) keeps the wide type.
    assert infer_node_types(loop) == (FLOAT_ANY,)
    verify(graph)
    assert get_pass("propagate_types").run(graph) is False  # a fixed point
    [result] = run_graph(graph, np.ones(1, np.float32), 3, check_types=True)
    assert result.shape == (8,)


def test_rebuilding_the_loop_from_its_declared_types_keeps_them():
    graph = doubling_loop()
    get_pass("propagate_types").run(graph)
    loop = the_loop(graph)
    rebuilt = create_op(graph, "prim::Loop", list(loop.inputs), output_types=[v.type for v in loop.outputs])
    assert [v.type for v in rebuilt.outputs] == [FLOAT_ANY]


def test_specialising_still_narrows_a_generic_loop():
    """The fixed point starts from the entering types, not from the (generic)
    types the node declares, so specialisation can narrow them."""
    graph = Graph()
    x, n = graph.add_param(TENSOR, "x"), graph.add_param(INT, "n")
    loop = create_op(graph, "prim::Loop", [n, graph.constant(True), x])
    body = loop.blocks[0]
    body.add_param(INT, "i")
    h = body.add_param(TENSOR, "h")
    with graph.inserting_at_end(body):
        body.set_returns([graph.constant(True), create_op(graph, "np::tanh", [h]).output])
    graph.block.set_returns([loop.output])
    specialised = specialize(graph, [FLOAT3, INT])
    assert [v.type for v in the_loop(specialised).outputs] == [FLOAT3]
    verify(specialised)
