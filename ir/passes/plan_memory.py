"""Memory planning: which buffers a specialised, optimised graph's values
may share, computed as an analysis (the graph is not changed). Backends
follow the plan; `MemoryPlan.report(*args)` states it in bytes.

    %a : Float(N) = np::exp(%x)         %a : Float(N)  4*N bytes  live 0-1  slot 0
    %b : Float(N) = np::matmul(%w, %a)  %b : Float(N)  4*N bytes  live 1-2  slot 1
    %c : Float(N) = np::tanh(%b)        %c : Float(N)  4*N bytes  live 2-3  slot 1, in place of %b
    %d : Float(N) = np::matmul(%w, %c)  %d : Float(N)  4*N bytes  live 3-4  slot 0
    %e : Float(N) = np::cos(%d)         %e : Float(N)  4*N bytes  live 4-end  own buffer (returned)

A buffer lives from its definition to the last use of it or of any value
that may alias it, in the program points of buffer_liveness.py (a use in a
loop of a value from outside lasts to the end of the loop). Buffers the
graph returns, or carried around a loop (each trip makes a new one while
the last may still be read), get buffers of their own; every other buffer
takes a slot no live buffer holds (buffers defined in the two arms of one
prim::If never are live together), the best fit first, or else a new slot.
An elementwise node (or np::index_put) may write into a dead input of its
dtype: a backend does so only when the sizes agree at run time, since the
input may be broadcast.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from ..graph import Graph, Node, Value
from ..ops import get_op
from ..printer import Namer, print_graph
from .buffer_liveness import IF, LOOP, ProgramPoints, buffer_roots, materialises
from .byte_counts import Bytes, MaxBytes
from .fuse_elementwise import FUSION_GROUP
from .symbolic_shapes import all_values, symbolic_shapes

NOMINAL_SIZE = 1024  # what a symbol stands for when choosing between slots


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
        in_place = "" if self.in_place_of is None else f", in place of {names[self.in_place_of]}"
        return f"slot {self.slot}{in_place}"

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
        lines = [f"memory plan: {len(self.buffers)} buffers in {self.slot_count} slots",
                 f"  peak: {self.peak} bytes", f"  without reuse: {self.total} bytes"]
        lines += ["  " + buffer.line(self.names, self.end_point) for buffer in self.buffers]
        lines += [f"  slot {slot}: {self.slot_bytes(slot)} bytes" for slot in range(self.slot_count)]
        return "\n".join(lines) + "\n"


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
    names = {value: namer(value) for value in all_values(graph)}
    points = ProgramPoints(graph)
    roots = buffer_roots(graph)
    shapes = symbolic_shapes(graph, names)
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
