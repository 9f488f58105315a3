"""A memory plan in bytes for concrete arguments, read like a memory
profiler's table: the planned peak against the sum of all the buffers
(what the values would take if none were reused), and one line per value.

Dims the parameters give are read from the arguments; a dim that only a
run can tell (`y[1]`, the size a broadcast gives) is read from one run of
the reference interpreter. A value in a loop body counts once, at the
largest size it takes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..graph import Value
from ..interpreter import Interpreter
from ..types import ANY_DIM, TensorType
from .byte_counts import dim_factors
from .plan_memory import Buffer, MemoryPlan
from .symbolic_shapes import dim_symbol, size_symbol


@dataclass(frozen=True)
class MemoryReport:
    plan: MemoryPlan
    sizes: dict[str, int]     # of each dim symbol
    nbytes: dict[Value, int]  # of each buffer
    peak: int                 # planned
    total: int                # without reuse

    @staticmethod
    def of(plan: MemoryPlan, args: Sequence[Any]) -> "MemoryReport":
        sizes = _dim_sizes(plan, args)
        nbytes = {buffer.value: buffer.nbytes.evaluate(sizes) for buffer in plan.buffers}
        peak = 0
        for slots, own in plan.held():
            held = sum(max(nbytes[b.value] for b in plan.slot_members(slot)) for slot in slots)
            peak = max(peak, held + sum(nbytes[b.value] for b in own))
        return MemoryReport(plan, sizes, nbytes, peak, sum(nbytes.values()))

    @property
    def saving(self) -> float:
        """How many times the planned peak the bytes without reuse are."""
        return self.total / self.peak if self.peak else 1.0

    def __str__(self) -> str:
        plan = self.plan
        rows = [("value", "type", "bytes", "live", "where")]
        rows += [self._row(buffer) for buffer in plan.buffers]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines = [f"memory plan: {len(plan.buffers)} buffers in {plan.slot_count} slots",
                 f"  planned peak   {_amount(self.peak)}",
                 f"  without reuse  {_amount(self.total)}  ({self.saving:.1f}x the planned peak)"]
        lines += ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4]
                  for row in rows]
        for slot in range(plan.slot_count):
            members = plan.slot_members(slot)
            lines.append(f"  slot {slot}: {_amount(max(self.nbytes[b.value] for b in members))}  "
                         f"({', '.join(b.name for b in members)})")
        return "\n".join(lines) + "\n"

    def _size(self, dim: int | str) -> int | str:
        """A dim for these arguments; as it is where a symbol's size is unknown."""
        factor, symbols = dim_factors(dim)
        if not all(symbol in self.sizes for symbol in symbols):
            return dim
        return factor * math.prod(self.sizes[symbol] for symbol in symbols)

    def _row(self, buffer: Buffer) -> tuple[str, ...]:
        shape = ", ".join(str(self._size(dim)) for dim in buffer.shape)
        return (buffer.name, f"{buffer.value.type.dtype.type_name}({shape})", f"{self.nbytes[buffer.value]:,}",
                buffer.live(self.plan.end_point), buffer.where(self.plan.names))


def _amount(nbytes: int) -> str:
    for unit, scale in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if nbytes >= scale:
            return f"{nbytes:,} bytes ({nbytes / scale:.1f} {unit})"
    return f"{nbytes:,} bytes"


def _dim_sizes(plan: MemoryPlan, args: Sequence[Any]) -> dict[str, int]:
    """The size of every symbol the plan's byte counts use, for these arguments."""
    graph = plan.graph
    if len(args) != len(graph.params):
        raise TypeError(f"the graph takes {len(graph.params)} arguments, got {len(args)}")
    sizes: dict[str, int] = {}
    for param, arg in zip(graph.params, args):
        if isinstance(param.type, TensorType) and param.type.shape is not None:
            for axis, (dim, size) in enumerate(zip(param.type.shape, np.shape(arg))):
                if isinstance(dim, str):
                    sizes[dim_symbol(plan.names[param], axis) if dim == ANY_DIM else dim] = size
    needed = set().union(*(buffer.nbytes.symbols for buffer in plan.buffers)) - set(sizes)
    if needed:
        recorder = _ShapeRecorder(graph, plan.names)
        with np.errstate(all="ignore"):
            recorder.run(*args)
        sizes.update(recorder.sizes)
    return sizes


class _ShapeRecorder(Interpreter):
    """Runs the graph and keeps the largest size each tensor value takes along each axis."""

    def __init__(self, graph, names: dict[Value, str]):
        super().__init__(graph)
        self.names = names
        self.sizes: dict[str, int] = {}

    def bind(self, env, value, result, node) -> None:
        super().bind(env, value, result, node)
        name = self.names.get(value)
        if name is not None and isinstance(result, (np.ndarray, np.generic)):
            keys = [dim_symbol(name, axis) for axis in range(np.ndim(result))] + [size_symbol(name)]
            for key, size in zip(keys, np.shape(result) + (np.size(result),)):
                self.sizes[key] = max(self.sizes.get(key, 0), size)
