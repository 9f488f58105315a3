"""The launch plan: a specialised, optimised graph lowered once, at compile
time, into a flat list of steps over numbered slots, replayed per call.

A step reads its input slots, runs (a kernel launch, a view, a host-side
scalar op) and writes its output slots. Every kernel is chosen, generated
and compiled while the plan is built; at run time a step only computes
sizes from its inputs' shapes, allocates its result and launches.
Control flow: a `prim::Loop` whose trip count is a constant (after
specialisation and constant folding) and whose condition stays true is
unrolled into the list; other loops and `prim::If` are steps holding
sub-plans that the executor runs: a Python loop over prepared steps, with
no user code and no graph walking per call, but still Python per launch
(see docs/cuda.md for what a native replay would need).

    the plan of examples/rnn.py (`.specializations()[0].run.plan`); the
    loop stays a loop, its trip count being x.shape[0]:
      host   prim::ListConstruct [] -> [5]
      array  np::dim          [0] -> [6]
      const  prim::Constant   [] -> [7]
      kernel np::matmul       [0, 2] -> [8]
      loop   prim::Loop       [6, 7, 1, 5] -> [9, 10]
        array  np::select       [8, 11] -> [16]
        kernel np::matmul       [12, 3] -> [17]
        kernel prim::FusionGroup [16, 17, 4] -> [14]
        host   prim::ListConstruct [14] -> [18]
        host   prim::ListAdd    [13, 18] -> [15]
      array  np::stack        [10] -> [19]
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from ...ir.attributes import TensorRef
from ...ir.graph import Block, Graph, Node, Value
from ...ir.ops import get_op
from ...ir.ops.prim import UNINITIALIZED
from ...ir.ops.registry import Group
from ...ir.passes.fuse_rows import is_row_reduction
from ...ir.types import ListType, TensorType, TupleType, Type
from .. import UnsupportedOpError
from .arrays import LOWERINGS, SCALAR_READS
from .elementwise import check_rank, group_launch, node_launch
from .expressions import supported_element_ops
from .linalg import MatmulLaunch
from .reductions import SUPPORTED as REDUCTIONS, ReductionLaunch
from .rows import RowLaunch
from .scans import SCANS, ScanLaunch
from .runtime import DeviceTensor, to_device, to_host

UNROLL_LIMIT = 64  # loops of at most this many constant iterations are unrolled into the plan
HOST_GROUPS = frozenset({Group.LIST, Group.TUPLE})


def holds_tensors(type: Type) -> bool:
    if isinstance(type, TensorType):
        return True
    if isinstance(type, ListType):
        return holds_tensors(type.element)
    if isinstance(type, TupleType):
        return any(holds_tensors(t) for t in type.elements)
    return False


class Step:
    """One step: `function(*inputs)` into the output slots."""

    __slots__ = ("function", "inputs", "outputs", "kind", "what")

    def __init__(self, function: Callable, inputs: Sequence[int], outputs: Sequence[int], kind: str, what: str):
        self.function, self.inputs, self.outputs = function, tuple(inputs), tuple(outputs)
        self.kind, self.what = kind, what

    def __call__(self, env: list) -> None:
        result = self.function(*[env[slot] for slot in self.inputs])
        if len(self.outputs) == 1:
            env[self.outputs[0]] = result
        else:
            for slot, value in zip(self.outputs, result):
                env[slot] = value

    def describe(self, indent: str = "") -> list[str]:
        return [f"{indent}{self.kind:<6} {self.what:<16} {list(self.inputs)} -> {list(self.outputs)}"]


class Move(Step):
    """Copy slots to slots at once (loop-carried values between iterations)."""

    def __init__(self, sources: Sequence[int], targets: Sequence[int]):
        super().__init__(None, sources, targets, "move", "")

    def __call__(self, env: list) -> None:
        values = [env[slot] for slot in self.inputs]
        for slot, value in zip(self.outputs, values):
            env[slot] = value


def run_steps(steps: Sequence[Step], env: list) -> None:
    for step in steps:
        step(env)


def truth(value) -> bool:
    return bool(to_host(value).item()) if isinstance(value, DeviceTensor) else bool(value)


class IfStep(Step):
    def __init__(self, condition: int, branches: tuple[list, list], returns: tuple[list, list], outputs):
        super().__init__(None, [condition], outputs, "if", "prim::If")
        self.branches, self.returns = branches, returns

    def __call__(self, env: list) -> None:
        taken = 0 if truth(env[self.inputs[0]]) else 1
        run_steps(self.branches[taken], env)
        for slot, source in zip(self.outputs, self.returns[taken]):
            env[slot] = env[source]

    def describe(self, indent: str = "") -> list[str]:
        lines = super().describe(indent)
        for steps in self.branches:
            lines += [line for step in steps for line in step.describe(indent + "  ")] + [f"{indent}  --"]
        return lines


class LoopStep(Step):
    """A loop run by the executor: (max trip count, start condition, carried...)."""

    def __init__(self, inputs, outputs, body: list, parameters: list[int], returns: list[int]):
        super().__init__(None, inputs, outputs, "loop", "prim::Loop")
        self.body, self.parameters, self.returns = body, parameters, returns

    def __call__(self, env: list) -> None:
        trips, condition, *carried = [env[slot] for slot in self.inputs]
        iteration, counter, carried_slots = 0, self.parameters[0], self.parameters[1:]
        for slot, value in zip(carried_slots, carried):
            env[slot] = value
        while iteration < trips and truth(condition):
            env[counter] = iteration
            run_steps(self.body, env)
            condition = env[self.returns[0]]
            values = [env[slot] for slot in self.returns[1:]]
            for slot, value in zip(carried_slots, values):
                env[slot] = value
            iteration += 1
        for slot, source in zip(self.outputs, carried_slots):
            env[slot] = env[source]

    def describe(self, indent: str = "") -> list[str]:
        return super().describe(indent) + [line for step in self.body for line in step.describe(indent + "  ")]


class PlanBuilder:
    """Lowers a graph into steps; `constants` holds the device copies of its tensor constants."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.slots: dict[Value, int] = {}
        self.constants: list[DeviceTensor] = []

    def slot(self, value: Value) -> int:
        if value not in self.slots:
            self.slots[value] = len(self.slots)
        return self.slots[value]

    def lower_block(self, block: Block) -> list[Step]:
        steps = []
        for node in block.nodes:
            steps += self.lower_node(node)
        return steps

    def lower_node(self, node: Node) -> list[Step]:
        inputs = [self.slot(v) for v in node.inputs]
        outputs = [self.slot(v) for v in node.outputs]
        if node.kind == "prim::If":
            branches = tuple(self.lower_block(b) for b in node.blocks)
            returns = tuple([self.slot(v) for v in b.returns] for b in node.blocks)
            return [IfStep(inputs[0], branches, returns, outputs)]
        if node.kind == "prim::Loop":
            return self.lower_loop(node, inputs, outputs)
        kind, function = self.lowering(node)
        return [Step(function, inputs, outputs, kind, node.kind)]

    def lower_loop(self, node: Node, inputs: list[int], outputs: list[int]) -> list[Step]:
        body = node.blocks[0]
        parameters = [self.slot(v) for v in body.params]
        returns = [self.slot(v) for v in body.returns]
        steps = self.lower_block(body)
        trips = _constant(node.inputs[0])
        if (isinstance(trips, int) and trips <= UNROLL_LIMIT and _constant(node.inputs[1]) is True
                and _constant(body.returns[0]) is True):
            unrolled: list[Step] = [Move(inputs[2:], parameters[1:])]
            for iteration in range(trips):
                unrolled.append(Step(lambda i=iteration: i, [], [parameters[0]], "host", "iteration"))
                unrolled += steps
                unrolled.append(Move(returns[1:], parameters[1:]))
            return unrolled + [Move(parameters[1:], outputs)]
        return [LoopStep(inputs, outputs, steps, parameters, returns)]

    def lowering(self, node: Node) -> tuple[str, Callable]:
        """(step kind, function) for a node without blocks."""
        op = get_op(node.kind)
        if node.kind == "prim::Constant":
            value = node.attributes["value"]
            if isinstance(value, TensorRef):
                tensor = to_device(self.graph.tensors[value.name])
                self.constants.append(tensor)
                return "const", lambda: tensor
            return "const", lambda: value
        if node.kind == "prim::Uninitialized":
            return "const", lambda: UNINITIALIZED
        if node.kind == "prim::FusionGroup":
            check_rank(node)
            rows = any(is_row_reduction(inner) for inner in node.blocks[0].nodes)
            return "kernel", _launcher(RowLaunch(node) if rows else group_launch(node))
        tensors = [v.type for v in (*node.inputs, *node.outputs) if holds_tensors(v.type)]
        if op.group in HOST_GROUPS or (not tensors and op.reference is not None):
            return "host", lambda *values: _host_reference(op, node.attributes, values, len(node.outputs))
        if node.kind in SCALAR_READS and holds_tensors(node.inputs[0].type):
            return "read", SCALAR_READS[node.kind](node)
        if node.kind in LOWERINGS:
            return "array", LOWERINGS[node.kind](node)
        if node.kind in supported_element_ops() and isinstance(node.output.type, TensorType):
            check_rank(node)
            return "kernel", _launcher(node_launch(node))
        if node.kind == "np::matmul":
            return "kernel", MatmulLaunch(node)
        if node.kind in REDUCTIONS:
            return "kernel", ReductionLaunch(node)
        if node.kind in SCANS:
            return "kernel", ScanLaunch(node)
        raise UnsupportedOpError(node.kind, UNSUPPORTED_REASONS.get(node.kind, "no CUDA lowering"))


def _launcher(launch) -> Callable:
    return lambda *arguments: launch(arguments)


def _constant(value: Value) -> Any:
    producer = value.producer
    if producer is not None and producer.kind == "prim::Constant":
        return producer.attributes["value"]
    return None


def _host_reference(op, attributes, values, output_count: int):
    result = op.run_reference(list(values), attributes)
    return result[0] if output_count == 1 else result


UNSUPPORTED_REASONS = {
    "prim::CopyInto": "writes into an argument; the CUDA backend copies NumPy arguments to the device, so the "
                      "caller's array would not change",
}
