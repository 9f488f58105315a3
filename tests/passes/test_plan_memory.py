"""The memory plan (ir/passes/plan_memory.py) and the LLVM backend that follows it.

- cases/plan_memory.plan: FileCheck-style cases, IR in and the plan's text out
  (the format of cases/*.ir, see test_pass_cases.py; `plan_memory` ends the RUN line);
- the plan against an independent walk over random straight-line graphs: the
  bytes live at each node, computed from the arrays the interpreter makes,
  bound the planned peak from below, and no two buffers of one slot are live
  at once (other than an elementwise node writing over its dead input);
- the op classes the plan knows (which outputs are new buffers) agree with
  what the LLVM lowerings do;
- compiled code that follows the plan computes what NumPy does, in loops,
  branches and where a value written in place is broadcast;
- `f.memory_plan(*args)`, and the GPT-2 criterion: the planned peak is at most
  half the bytes of all its buffers.
"""
from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import jitc
from jitc.backends import UnsupportedOpError
from jitc.backends.llvm.codegen import GraphCodegen
from jitc.ir.graph import Block, Graph
from jitc.ir.interpreter import Interpreter, run_graph
from jitc.ir.ops import Group, create_op, get_op
from jitc.ir.parser import parse_graph
from jitc.ir.passes import optimize, run_pipeline
from jitc.ir.passes.buffer_liveness import MATERIALISING_GROUPS, materialises
from jitc.ir.passes.plan_memory import plan_memory
from jitc.ir.printer import print_graph
from jitc.ir.passes.eliminate_dead_code import eliminate_dead_code
from jitc.ir.types import DType, ScalarType, TensorType
from jitc.ir.verifier import verify
from support.backend_checks import check_script
from support.compare import assert_same
from support.graphs import GraphOptions, graphs, graphs_with_inputs
from test_pass_cases import CASES, _SEPARATOR, _parse_case, _zeros_for_tensor_constants

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
STRAIGHT = GraphOptions(max_depth=0, max_nodes=12, chains=True, scalar_params=False)
VIEWS = frozenset({Group.SHAPE, Group.INDEX})


# -- file-based cases -------------------------------------------------------------------------------------------
def _plan_cases():
    for path in sorted(CASES.glob("*.plan")):
        for index, text in enumerate(_SEPARATOR.split(path.read_text())):
            if text.strip():
                yield pytest.param(text, id=f"{path.stem}-{index}")


@pytest.mark.parametrize("text", list(_plan_cases()))
def test_plan_case(text):
    pipeline, source, expected, forbidden = _parse_case(text)
    *passes, last = [name.strip() for name in pipeline.split(",")]
    assert last == "plan_memory", "a .plan case's RUN line ends with plan_memory"
    graph = parse_graph(source)
    _zeros_for_tensor_constants(graph)
    verify(graph)
    if passes:
        run_pipeline(graph, passes, verify_each=True)
    printed = str(plan_memory(graph))
    if expected is not None:
        assert printed == expected
    for pattern in forbidden:
        assert pattern not in printed, f"{pattern!r} should not be in the plan:\n{printed}"


def test_there_are_enough_cases():
    assert len(list(_plan_cases())) >= 5


# -- an independent walk ---------------------------------------------------------------------------------------
class _Sizes(Interpreter):
    """Runs a graph and keeps the bytes of every tensor value it makes."""

    def __init__(self, graph):
        super().__init__(graph)
        self.nbytes = {}

    def bind(self, env, value, result, node):
        super().bind(env, value, result, node)
        if isinstance(result, (np.ndarray, np.generic)):
            self.nbytes[value] = max(self.nbytes.get(value, 0), np.asarray(result).nbytes)


def _liveness(graph):
    """For a straight-line graph: each new buffer's (first, last) node index,
    views and lists keeping their buffers alive; returned ones last to the end."""
    index = {node: i for i, node in enumerate(graph.block.nodes)}
    end = len(graph.block.nodes)
    bases = {}
    for node in graph.block.nodes:
        for output in node.outputs:
            if materialises(node):
                bases[output] = {output}
            elif not isinstance(output.type, ScalarType):
                bases[output] = set().union(*(bases.get(v, set()) for v in node.inputs))
    live = {node.output: [index[node], index[node]] for node in graph.block.nodes if materialises(node)}
    for value, held in bases.items():
        for user, _ in value.uses:
            point = end if isinstance(user, Block) else index[user]
            for base in held:
                live[base][1] = max(live[base][1], point)
    return live, end, bases


def _plan_and_walk(graph, args, in_place=True):
    plan = plan_memory(graph, in_place=in_place)
    sizes = _Sizes(graph)
    with np.errstate(all="ignore"):
        sizes.run(*args)
    live, end, bases = _liveness(graph)
    return plan, plan.report(*args), live, end, sizes.nbytes, bases


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(graphs_with_inputs(STRAIGHT))
def test_planned_peak_against_the_bytes_live_at_each_node(case):
    graph, args = case
    note(print_graph(graph))
    plan, report, live, end, nbytes, _ = _plan_and_walk(graph, args, in_place=False)
    assert {b.value for b in plan.buffers} == set(live)
    assert report.nbytes == {value: nbytes[value] for value in live}
    most_live = max((sum(nbytes[v] for v, (first, last) in live.items() if first <= point <= last)
                     for point in range(end + 1)), default=0)
    assert most_live <= report.peak <= report.total == sum(nbytes[v] for v in live)
    # greedy colouring of intervals by start is optimal: as many slots as buffers live at once
    slotted = {v: span for v, span in live.items() if plan.slot_of(v) is not None}
    most_slotted = max((sum(first <= point <= last for first, last in slotted.values())
                        for point in range(end + 1)), default=0)
    assert plan.slot_count == most_slotted


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(graphs_with_inputs(STRAIGHT))
def test_buffers_of_one_slot_are_never_live_together(case):
    _check_slots(*case)


def _check_slots(graph, args) -> None:
    note(print_graph(graph))
    plan, report, live, end, nbytes, bases = _plan_and_walk(graph, args)
    returned = {v for v, (_, last) in live.items() if last == end}
    for buffer in plan.buffers:
        assert (buffer.slot is None) == (buffer.value in returned)
    for slot in range(plan.slot_count):
        members = plan.slot_members(slot)
        for earlier, later in zip(members, members[1:]):
            overlap = live[earlier.value][1] - live[later.value][0]
            node = later.value.producer
            read_otherwise = any(earlier.value in bases.get(other, ()) for other in node.inputs
                                 if other is not earlier.value)
            writes_over = (later.in_place_of is earlier.value and overlap == 0 and earlier.value in node.inputs
                           and earlier.value.type.dtype == later.value.type.dtype and not read_otherwise)
            assert overlap < 0 or writes_over, f"{earlier.name} and {later.name} are live together in slot {slot}"


INDEXING_KINDS = ("np::exp", "np::tanh", "np::add", "np::multiply", "np::cumsum", "np::index", "np::index_put",
                  "np::transpose", "np::matmul")


@st.composite
def _indexing_programs(draw):
    """Straight-line graphs over (4, 4) arrays mixing what allocates in ways the
    generic generator does not make (x[ids], x[ids] = v, cumsum) with views
    (transpose) and elementwise ops that may write in place."""
    graph = Graph("indexing")
    pool = [graph.add_param(TensorType(DType.FLOAT64, ("N", 4)), name) for name in ("x", "y")]
    ids = graph.add_param(TensorType(DType.INT64, ("N",)), "ids")
    for _ in range(draw(st.integers(1, 10))):
        kind = draw(st.sampled_from(INDEXING_KINDS))
        operands = [draw(st.sampled_from(pool)) for _ in range(2)]
        inputs, attributes = {
            "np::add": (operands, {}), "np::multiply": (operands, {}), "np::matmul": (operands, {}),
            "np::cumsum": (operands[:1], {"axis": draw(st.integers(0, 1))}),
            "np::index": ([operands[0], ids], {"items": ("array",)}),
            "np::index_put": ([*operands, ids], {"items": ("array",)}),
            "np::transpose": (operands[:1], {}),
        }.get(kind, (operands[:1], {}))
        pool.append(create_op(graph, kind, inputs, attributes).output)
    graph.block.set_returns(draw(st.lists(st.sampled_from(pool[2:]), min_size=1, max_size=3, unique=True)))
    eliminate_dead_code(graph)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    return verify(graph), (rng.standard_normal((4, 4)), rng.standard_normal((4, 4)), rng.permutation(4))


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(_indexing_programs())
def test_indexing_and_scans_never_share_a_live_buffer(case):
    """x[ids], x[ids] = v and cumsum get buffers of their own, and no slot
    holds two values live at once (beyond an in-place write over a dead input)."""
    graph, args = case
    _check_slots(graph, args)
    plan = plan_memory(graph)
    planned = {buffer.value for buffer in plan.buffers}
    for node in graph.walk():
        if node.kind in ("np::index", "np::index_put", "np::cumsum"):
            assert node.output in planned, f"{node.kind} has no buffer of its own in the plan"


# -- what the backend does ----------------------------------------------------------------------------------------
class _Recording(GraphCodegen):
    """Records, for each node with one tensor output, whether its lowering made a new buffer for it."""

    def __init__(self, graph):
        super().__init__(graph)
        self.made_buffer = {}

    def follow_plan(self, node, outputs):
        if len(node.outputs) == 1 and hasattr(outputs[0], "data"):
            self.made_buffer[node] = outputs[0].data in self.em.allocations
        super().follow_plan(node, outputs)


SEEN_KINDS: set = set()


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(GraphOptions(max_depth=0, max_nodes=14)))
def test_new_buffers_are_what_the_llvm_lowerings_make(graph):
    """The plan's one piece of knowledge about backends, checked against the LLVM one."""
    optimize(graph)
    codegen = _Recording(graph)
    try:
        codegen.generate()
    except UnsupportedOpError:
        return
    for node, made in codegen.made_buffer.items():
        SEEN_KINDS.add(node.kind)
        assert materialises(node) == made, f"{node.kind}: the plan says {materialises(node)}, the lowering {made}"
    assert codegen.plan is not None, "the backend stopped following the plan"


def _every_kind_of_output(x, y):
    z = np.zeros(x.shape)
    o = np.ones(x.shape)
    f = np.full(x.shape, 2.0)
    c = np.concatenate([x, z], axis=0)
    s = np.stack([x, o, f])
    q = np.squeeze(np.expand_dims(x, 0), 0)
    b = np.broadcast_to(x[0], x.shape)
    m = np.max(np.exp(x) - x, axis=-1, keepdims=True)
    g = np.exp(x)[[0, 2]]
    p = np.cos(x)
    p[p > 0.5] = 0.0
    return (c, s, q + b, x.reshape(-1) * np.float32(y), np.tanh(x[1:].T) * 2.0, m @ x[:1], m, g, p,
            np.clip(x, 0.0, 1.0), np.sum(x, axis=0), np.cumsum(np.sin(x), axis=1), np.cumprod(x))


def test_every_kind_of_output_is_what_the_llvm_lowerings_make():
    x = np.ones((4, 3))
    graph = jitc.script(_every_kind_of_output).graph_for(x, 2.0)
    codegen = _Recording(graph)
    codegen.generate()
    for node, made in codegen.made_buffer.items():
        SEEN_KINDS.add(node.kind)
        assert materialises(node) == made, f"{node.kind}: the plan says {materialises(node)}, the lowering {made}"
    groups = {get_op(kind).group for kind in SEEN_KINDS}
    assert MATERIALISING_GROUPS | VIEWS <= groups, sorted(g.name for g in groups)
    assert "prim::FusionGroup" in SEEN_KINDS


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(graphs_with_inputs(GraphOptions(max_nodes=12, chains=True)))
def test_code_that_follows_the_plan_computes_what_the_interpreter_does(case):
    """Random graphs with loops and branches, optimised (fused), on the LLVM backend."""
    from jitc.backends.llvm import BACKEND
    graph, args = case
    optimize(graph)
    note(print_graph(graph))
    with np.errstate(all="ignore"):
        expected = run_graph(graph, *args)
    try:
        executable = BACKEND.compile(graph)
    except UnsupportedOpError:
        return
    with np.errstate(all="ignore"):
        assert_same(tuple(executable(*args)), expected)


def _in_place_broadcast(x, y):
    a = np.exp(x)          # (N, 1), dead after the add: the add may write over it
    b = a + y              # (N, M) at run time when M > 1: not in place then
    return np.sum(np.tanh(b) * 2.0, axis=1)


def _loop_with_temporaries(x, w, n: int):
    h = np.tanh(x)
    for _ in range(n):
        a = h @ w
        b = np.exp(-a) + 1.0
        h = np.tanh(a / b) + h
    return h


def _branches(x, flag: bool):
    a = np.exp(x)
    if flag:
        b = np.sin(a) @ a
    else:
        b = np.cos(a) @ a
    return np.tanh(b + a).sum(axis=0)


@pytest.mark.parametrize("m", [1, 5])
def test_writing_in_place_over_a_broadcast_input(m):
    rng = np.random.default_rng(0)
    check_script(_in_place_broadcast, rng.standard_normal((4, 1), np.float32),
                 rng.standard_normal((4, m), np.float32))


def test_loop_and_branch_temporaries_share_buffers_correctly():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((3, 6)), rng.standard_normal((6, 6)) * 0.3
    for n in (0, 1, 4):
        check_script(_loop_with_temporaries, x, w, n)
    square = rng.standard_normal((5, 5))
    for flag in (True, False):
        check_script(_branches, square, flag)


def _scans_and_indexing(x, ids):
    a = np.exp(x)
    c = np.cumsum(a, axis=1)   # a new buffer while a is read: never a's slot
    e = np.sin(c)
    p = np.cumprod(e, axis=0)  # e's slot is free again after it
    g = p[ids]
    g[ids] = c                 # written in place of g
    return np.cumsum(g), np.tanh(p) * 2.0


def test_scans_and_indexing_in_slots_compute_what_numpy_does():
    rng = np.random.default_rng(4)
    x, ids = rng.standard_normal((4, 5)), rng.permutation(4)
    for columns in (5, 3):
        check_script(_scans_and_indexing, x[:, :columns], ids)
    plan = jitc.script(_scans_and_indexing).memory_plan(x, ids)
    assert plan.peak < plan.total, str(plan)


# -- f.memory_plan ---------------------------------------------------------------------------------------------
def _mlp(x, w1, b1, w2, b2):
    h = np.maximum(x @ w1 + b1, 0.0)
    return np.tanh(h @ w2 + b2) @ w2.T


def test_memory_plan_of_a_compiled_function():
    rng = np.random.default_rng(2)
    args = (rng.standard_normal((8, 16), np.float32), rng.standard_normal((16, 32), np.float32),
            rng.standard_normal(32, np.float32), rng.standard_normal((32, 16), np.float32),
            rng.standard_normal(16, np.float32))
    f = jitc.script(_mlp)
    report = f.memory_plan(*args)
    text = str(report)
    # matmul, bias+relu, matmul, bias+tanh, matmul: five float32 buffers of 8 rows, the last returned
    assert sorted(report.nbytes.values()) == sorted(8 * 4 * n for n in (32, 32, 16, 16, 32))
    assert report.total == sum(report.nbytes.values())
    assert report.peak < report.total
    assert "planned peak" in text and "own buffer (returned)" in text and "Float(8, 32)" in text
    small = f.memory_plan(*(a[:2] if i == 0 else a for i, a in enumerate(args)))
    assert small.peak == report.peak // 4  # the same plan, for 2 rows instead of 8


def _attention_mlp(x, wq, wk, wv, w1, w2):
    q, k, v = x @ wq, x @ wk, x @ wv
    s = q @ k.T / q.shape[-1] ** 0.5
    e = np.exp(s - np.max(s, axis=-1, keepdims=True))
    x = x + (e / np.sum(e, axis=-1, keepdims=True)) @ v
    h = x @ w1
    h = 0.5 * h * (1.0 + np.tanh(0.7978845608 * (h + 0.044715 * h ** 3)))
    return x + h @ w2


def test_planned_peak_of_an_attention_block_is_under_half_its_buffers():
    rng = np.random.default_rng(3)
    d = 32
    args = (rng.standard_normal((16, d), np.float32), *(rng.standard_normal((d, d), np.float32) * 0.1
                                                        for _ in range(3)),
            rng.standard_normal((d, 4 * d), np.float32) * 0.1, rng.standard_normal((4 * d, d), np.float32) * 0.1)
    check_script(_attention_mlp, *args, rtol=1e-4, atol=1e-5)
    report = jitc.script(_attention_mlp).memory_plan(*args)
    assert report.total >= 2 * report.peak, str(report)


EXAMPLES = pathlib.Path(__file__).parents[2] / "examples"


def test_planned_peak_of_gpt2_is_under_half_its_buffers():
    """The issue's criterion, on examples/gpt2.py."""
    if not (EXAMPLES / "gpt2.py").exists():
        pytest.skip("examples/gpt2.py is not there")
    sys.path.insert(0, str(EXAMPLES))
    try:
        import gpt2
    finally:
        sys.path.remove(str(EXAMPLES))
    model = gpt2.GPT2()
    ids = np.random.default_rng(1).integers(0, 256, size=16)
    compiled = jitc.script(model)
    assert_same(compiled(ids), model(ids), gpt2.TOLERANCE, gpt2.TOLERANCE)
    report = compiled.memory_plan(ids)
    assert report.total >= 2 * report.peak, str(report)
