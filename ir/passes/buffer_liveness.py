"""Where buffers live in a graph: which node outputs are new buffers, which
values may alias which buffers (views, lists, tuples, control flow
outputs), and program points to measure live ranges in.

Program points number the nodes in order, nested blocks included (a
fusion group is one point; `prim::If` and `prim::Loop` have one more point
where their outputs are defined). A use inside a loop body of a value
defined outside the loop counts as a use at the end of the loop, since the
body runs again.
"""
from __future__ import annotations

from ..graph import Block, Graph, Node, Value
from ..ops import Group, get_op
from ..types import NoneType, ScalarType, TensorType
from .fuse_elementwise import FUSION_GROUP

LOOP, IF = "prim::Loop", "prim::If"
# Ops whose tensor output the backends write into a new buffer; every other op's
# output (views such as reshape, transpose and slices; lists; control flow) may
# alias its inputs. tests/passes/test_plan_memory.py checks this against the LLVM backend.
MATERIALISING_GROUPS = frozenset({Group.UNARY, Group.BINARY, Group.TERNARY, Group.REDUCTION, Group.LINALG,
                                  Group.CREATION, Group.CAST, Group.JOIN})
# Scans (cumsum, cumprod) sit in the table's QUERY group but write a new buffer too.
MATERIALISING_OPS = frozenset({"prim::NumToTensor", FUSION_GROUP, "np::index", "np::index_put", "np::cumsum",
                               "np::cumprod"})


def materialises(node: Node) -> bool:
    """Whether `node`'s output is a new buffer (not a view of an input)."""
    return (len(node.outputs) == 1 and isinstance(node.output.type, TensorType)
            and (node.kind in MATERIALISING_OPS or get_op(node.kind).group in MATERIALISING_GROUPS))


class ProgramPoints:
    """Program points of nodes and of definitions and uses of values."""

    def __init__(self, graph: Graph):
        self.span: dict[Node, tuple[int, int]] = {}
        self.nodes: list[Node] = []
        self.count = 0
        self._number(graph.block)
        self.end = self.count  # where the graph returns

    def _number(self, block: Block) -> None:
        for node in block.nodes:
            start = self.count
            self.count += 1
            self.nodes.append(node)
            if node.kind in (LOOP, IF):
                for inner in node.blocks:
                    self._number(inner)
                self.count += 1
            self.span[node] = (start, self.count - 1)

    def definition(self, value: Value) -> int:
        node = value.producer
        if node is None:
            owner = value.owner.owner
            return -1 if owner is None else self.span[owner][0]
        return self.span[node][1]

    def last_use(self, value: Value) -> int:
        """The last point `value` is used, a use in a loop that does not
        define it counting as a use at the end of that loop."""
        last = self.definition(value)
        for user, _ in value.uses:
            if isinstance(user, Block):
                point = self.end if user.owner is None else self.span[user.owner][1]
                block = user
            else:
                if user not in self.span:  # inside a fusion group: not a point of its own
                    continue
                point, block = self.span[user][0], user.block
            while block is not value.defining_block and block.owner is not None:
                if block.owner.kind == LOOP:
                    point = max(point, self.span[block.owner][1])
                block = block.owner.block
            last = max(last, point)
        return last


def _may_hold_buffers(value: Value) -> bool:
    return not isinstance(value.type, (ScalarType, NoneType))


def buffer_roots(graph: Graph) -> dict[Value, frozenset[Value]]:
    """For every value, the materialised values whose buffers it may be (or view)."""
    roots: dict[Value, frozenset[Value]] = {}

    def of(value: Value) -> frozenset[Value]:
        return roots.get(value, frozenset())

    def visit(block: Block) -> None:
        for node in block.nodes:
            if materialises(node):
                roots[node.output] = frozenset({node.output})
            elif node.kind == LOOP:
                body = node.blocks[0]
                carried = [of(v) for v in node.inputs[2:]]
                while True:
                    roots.update(zip(body.params[1:], carried))
                    visit(body)
                    grown = [c | of(r) for c, r in zip(carried, body.returns[1:])]
                    if grown == carried:
                        break
                    carried = grown
                roots.update(zip(node.outputs, carried))
            elif node.kind == IF:
                for inner in node.blocks:
                    visit(inner)
                for index, output in enumerate(node.outputs):
                    roots[output] = of(node.blocks[0].returns[index]) | of(node.blocks[1].returns[index])
            else:
                held = frozenset().union(*(of(v) for v in node.inputs))
                for output in node.outputs:
                    if _may_hold_buffers(output):
                        roots[output] = held
    visit(graph.block)
    return roots
