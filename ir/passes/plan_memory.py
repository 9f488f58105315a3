"""Memory planning: which buffers a specialised, optimised graph's values
may share, computed as an analysis (the graph is not changed). Backends
follow the plan; `MemoryPlan.report(*args)` states it in bytes.

    %a : Float(N) = np::exp(%x)        %a : Float(N)  4*N bytes  live 0-1  slot 0
    %b : Float(N) = np::matmul(%a, %w) %b : Float(N)  4*N bytes  live 1-2  slot 1
    %c : Float(N) = np::tanh(%b)       %c : Float(N)  4*N bytes  live 2-3  slot 1, in place of %b
    %d : Float(N) = np::sin(%c)        %d : Float(N)  4*N bytes  live 3-4  slot 0
    %e : Float(N) = np::cos(%d)        %e : Float(N)  4*N bytes  live 4-end  own buffer (returned)

Program points number the nodes in order, nested blocks included (a fusion
group is one point; `prim::If` and `prim::Loop` have one more point where
their outputs are defined). A buffer lives from its definition to the last
use of it or of any value that may alias it (views, lists, tuples, control
flow outputs); a use inside a loop body of a value defined outside the loop
lasts to the end of the loop. Buffers returned by the graph, or carried
around a loop (each trip makes a new one while the last may still be read),
get their own buffers; every other buffer takes a slot no live buffer
holds (buffers defined in the two arms of one prim::If never are live
together), the best fit first, or else a new slot. An elementwise node (or
np::index_put) may write into a dead input of its dtype: a backend does so
only when the sizes agree at run time, since the input may be broadcast.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from ..graph import Block, Graph, Node, Value
from ..ops import Group, get_op, infer_node_types
from ..printer import Namer, print_graph
from ..types import ANY_DIM, NoneType, ScalarType, TensorType
from .byte_counts import Bytes, MaxBytes

LOOP, IF, FUSION_GROUP = "prim::Loop", "prim::If", "prim::FusionGroup"
# Ops whose tensor output the backends write into a new buffer; every other op's
# output (views such as reshape, transpose and slices; lists; control flow) may
# alias its inputs. tests/passes/test_plan_memory.py checks this against the LLVM backend.
MATERIALISING_GROUPS = frozenset({Group.UNARY, Group.BINARY, Group.TERNARY, Group.REDUCTION, Group.LINALG,
                                  Group.CREATION, Group.CAST, Group.JOIN})
MATERIALISING_OPS = frozenset({"prim::NumToTensor", FUSION_GROUP, "np::index", "np::index_put"})
NOMINAL_SIZE = 1024  # what a symbol stands for when choosing between slots


def materialises(node: Node) -> bool:
    """Whether `node`'s output is a new buffer (not a view of an input)."""
    return (len(node.outputs) == 1 and isinstance(node.output.type, TensorType)
            and (node.kind in MATERIALISING_OPS or get_op(node.kind).group in MATERIALISING_GROUPS))


def overwritable_inputs(node: Node) -> tuple[Value, ...]:
    """The inputs `node` may write its output over, when they are dead and
    no other input reads them: an elementwise node reads each element at the
    index it writes (or, broadcast, reads more than it writes: backends
    check the sizes agree); np::index_put starts from a copy of its x."""
    if node.kind == "np::index_put":
        return node.inputs[:1]
    if node.kind == FUSION_GROUP:
        elementwise = all(inner.kind == "prim::Constant" or get_op(inner.kind).is_elementwise
                          for inner in node.blocks[0].nodes)
        return node.inputs if elementwise else ()
    return node.inputs if get_op(node.kind).is_elementwise else ()


@dataclass(frozen=True)
class Buffer:
    """A value the backend materialises: its bytes, its live range in
    program points, and its slot (None: a buffer of its own)."""

    value: Value
    name: str
    shape: tuple
    nbytes: Bytes
    start: int
    end: int
    slot: int | None
    in_place_of: Value | None = None
    own_reason: str = ""

    def live(self, end_point: int) -> str:
        return f"{self.start}-{'end' if self.end >= end_point else self.end}"

    def where(self, names: dict[Value, str]) -> str:
        if self.slot is None:
            return f"own buffer ({self.own_reason})"
        return f"slot {self.slot}" + (f", in place of {names[self.in_place_of]}" if self.in_place_of is not None else "")

    def line(self, names: dict[Value, str], end_point: int) -> str:
        dtype = self.value.type.dtype.type_name
        return (f"{self.name} : {dtype}({', '.join(map(str, self.shape))})  {self.nbytes} bytes  "
                f"live {self.live(end_point)}  {self.where(names)}")


@dataclass(frozen=True)
class MemoryPlan:
    """Where each materialised value of a graph lives (see the module docstring)."""

    graph: Graph
    buffers: tuple[Buffer, ...]
    slot_count: int
    end_point: int
    names: dict[Value, str] = field(repr=False)

    @cached_property
    def by_value(self) -> dict[Value, Buffer]:
        return {buffer.value: buffer for buffer in self.buffers}

    def slot_of(self, value: Value) -> int | None:
        buffer = self.by_value.get(value)
        return None if buffer is None else buffer.slot

    def in_place_of(self, value: Value) -> Value | None:
        buffer = self.by_value.get(value)
        return None if buffer is None else buffer.in_place_of

    def slot_members(self, slot: int) -> list[Buffer]:
        return [buffer for buffer in self.buffers if buffer.slot == slot]

    def slot_bytes(self, slot: int) -> MaxBytes:
        return MaxBytes.of(buffer.nbytes for buffer in self.slot_members(slot))

    @cached_property
    def total(self) -> Bytes:
        """The bytes of every buffer: what the values take without the plan."""
        total = Bytes()
        for buffer in self.buffers:
            total = total + buffer.nbytes
        return total

    def held(self):
        """For each point a buffer is defined at: the slots in use by then
        (a slot holds its buffer from its first use to the end) and the own
        buffers live there. The peak is the most these hold at one point."""
        opened = {slot: min(b.start for b in self.slot_members(slot)) for slot in range(self.slot_count)}
        for point in sorted({buffer.start for buffer in self.buffers}):
            yield ([slot for slot, first in opened.items() if first <= point],
                   [b for b in self.buffers if b.slot is None and b.start <= point <= b.end])

    @cached_property
    def peak(self) -> MaxBytes:
        """The most bytes held at any point, as an expression of the dims."""
        peak = MaxBytes((Bytes(),))
        for slots, own in self.held():
            held = MaxBytes((Bytes(),))
            for slot in slots:
                held = held + self.slot_bytes(slot)
            for buffer in own:
                held = held + buffer.nbytes
            peak = peak.maximum(held)
        return peak

    def report(self, *args):
        """The plan in bytes for these arguments of the graph (see memory_report.py)."""
        from .memory_report import MemoryReport
        return MemoryReport.of(self, args)

    def __str__(self) -> str:
        lines = [f"memory plan: {len(self.buffers)} buffers in {self.slot_count} slots, "
                 f"peak {self.peak} bytes, {self.total} bytes without reuse"]
        lines += ["  " + buffer.line(self.names, self.end_point) for buffer in self.buffers]
        lines += [f"  slot {slot}: {self.slot_bytes(slot)} bytes" for slot in range(self.slot_count)]
        return "\n".join(lines) + "\n"


# -- program points -----------------------------------------------------------------------------------
class _Points:
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


def _buffer_roots(graph: Graph) -> dict[Value, frozenset[Value]]:
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


# -- symbolic shapes ---------------------------------------------------------------------------------------
def _symbolic_shapes(graph: Graph, names: dict[Value, str]) -> dict[Value, tuple]:
    """Every node output's shape, with the dims the graph leaves as `*` named:
    after the parameters' dims (`x[0]`) where the type rules carry those
    through a copy of the graph, else after the first value that has the dim
    (`y[1]`), so that values of one shape get one size."""
    copy = graph.copy()
    twins = dict(zip(_all_values(copy), _all_values(graph)))
    for param in copy.params:
        if isinstance(param.type, TensorType) and param.type.shape is not None:
            param.type = param.type.with_shape(_named(param.type.shape, names[twins[param]]))
    try:
        _name_dims(copy.block, twins, names)
    except Exception:  # a rule refuses a combination of names: keep the graph's own dims
        copy, twins = graph, {value: value for value in twins.values()}
    shapes = {}
    for node in copy.walk():
        for twin in node.outputs:
            value = twins[twin]
            if not isinstance(value.type, TensorType):
                continue
            if value.type.shape is None:  # of unknown rank: one symbol for its number of elements
                shapes[value] = (size_symbol(names[value]),)
            else:
                known = value.type.shape
                if isinstance(twin.type, TensorType) and twin.type.rank == len(known):
                    known = tuple(d if d != ANY_DIM else t for d, t in zip(known, twin.type.shape))
                shapes[value] = _named(known, names[value])
    return shapes


def _name_dims(block: Block, twins: dict, names: dict) -> None:
    """Retype `block`'s nodes in order, naming each `*` dim as it appears."""
    from .propagate_types import _propagate_node
    for node in block.nodes:
        if node.blocks:
            _propagate_node(node)
        else:
            for output, type in zip(node.outputs, infer_node_types(node)):
                output.type = type
        for output in node.outputs:
            if isinstance(output.type, TensorType) and output.type.rank is not None:
                output.type = output.type.with_shape(_named(output.type.shape, names[twins[output]]))


def _named(shape: tuple, name: str) -> tuple:
    return tuple(dim_symbol(name, axis) if dim == ANY_DIM else dim for axis, dim in enumerate(shape))


def dim_symbol(name: str, axis: int) -> str:
    """The symbol for the size along `axis` of the value printed as `name` (`%x[0]`)."""
    return f"{name}[{axis}]"


def size_symbol(name: str) -> str:
    """The symbol for the number of elements of a value of unknown rank."""
    return f"{name}.size"


# -- the plan ---------------------------------------------------------------------------------------------------
@dataclass
class _Slot:
    members: list[Buffer]

    def free_for(self, start: int, arms: dict[Node, int]) -> bool:
        """No member is live at `start`, or else it is in another arm of a prim::If."""
        return all(member.end < start or _exclusive(_arms(member.value), arms) for member in self.members)

    def fits(self, nbytes: Bytes) -> bool:
        return any(member.nbytes.covers(nbytes) for member in self.members)

    def nominal(self) -> int:
        return max(_nominal(member.nbytes) for member in self.members)


def _arms(value: Value) -> dict[Node, int]:
    """The prim::If nodes whose arms hold `value`'s definition, and which arm."""
    arms, block = {}, value.defining_block
    while block.owner is not None:
        if block.owner.kind == IF:
            arms[block.owner] = block.owner.blocks.index(block)
        block = block.owner.block
    return arms


def _exclusive(arms: dict[Node, int], others: dict[Node, int]) -> bool:
    """Whether two definitions lie in different arms of one prim::If: one never runs with the other."""
    return any(node in others and others[node] != arm for node, arm in arms.items())


def _nominal(nbytes: Bytes) -> int:
    return nbytes.evaluate(_Everything(NOMINAL_SIZE))


class _Everything(dict):
    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def __missing__(self, key):
        return self.size


def plan_memory(graph: Graph, in_place: bool = True) -> MemoryPlan:
    """The memory plan of a specialised graph (see the module docstring)."""
    namer = Namer()
    print_graph(graph, with_source=False, namer=namer)
    names = {value: namer(value) for value in _all_values(graph)}
    points = _Points(graph)
    roots = _buffer_roots(graph)
    shapes = _symbolic_shapes(graph, names)
    aliases: dict[Value, list[Value]] = {}
    for value, held in roots.items():
        for root in held:
            aliases.setdefault(root, []).append(value)
    own = {root: "returned" for value in graph.returns for root in roots.get(value, ())}
    for node in points.nodes:
        if node.kind == LOOP:
            for value in node.blocks[0].returns[1:]:
                for root in roots.get(value, ()):
                    own.setdefault(root, "loop-carried")

    buffers: list[Buffer] = []
    slots: list[_Slot] = []
    slot_of: dict[Value, int] = {}
    for node in points.nodes:
        if not materialises(node):
            continue
        value = node.output
        start = points.definition(value)
        end = max([start] + [points.last_use(alias) for alias in aliases.get(value, [])])
        nbytes = Bytes.of_shape(shapes[value], value.type.dtype.itemsize)
        if value in own:
            buffers.append(Buffer(value, names[value], shapes[value], nbytes, start, end, None,
                                  own_reason=own[value]))
            continue
        donor = _dead_input(node, start, roots, slot_of, slots) if in_place else None
        if donor is not None:
            index = slot_of[donor]
        else:
            arms = _arms(value)
            free = [i for i, slot in enumerate(slots) if slot.free_for(start, arms)]
            fitting = [i for i in free if slots[i].fits(nbytes)]
            if fitting:
                index = min(fitting, key=lambda i: slots[i].nominal())
            elif free:
                index = max(free, key=lambda i: slots[i].nominal())
            else:
                index = len(slots)
                slots.append(_Slot([]))
        buffer = Buffer(value, names[value], shapes[value], nbytes, start, end, index, donor)
        slots[index].members.append(buffer)
        slot_of[value] = index
        buffers.append(buffer)
    return MemoryPlan(graph, tuple(buffers), len(slots), points.end, names)


def _dead_input(node: Node, point: int, roots, slot_of: dict, slots: list[_Slot]):
    """An input of `node` it may write its output into: a slotted buffer of
    the output's dtype whose last use is this node, read only through itself."""
    for value in dict.fromkeys(overwritable_inputs(node)):
        last = slots[slot_of[value]].members[-1] if value in slot_of else None
        if (last is not None and last.value is value and last.end == point
                and value.type.dtype == node.output.type.dtype
                and not any(value in roots.get(other, ()) for other in node.inputs if other is not value)):
            return value
    return None


def _all_values(graph: Graph) -> list[Value]:
    values = list(graph.params)
    for node in graph.walk():
        values += node.outputs
        for block in node.blocks:
            values += block.params
    return values
