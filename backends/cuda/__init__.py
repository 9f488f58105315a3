"""The CUDA backend: `jitc.script(fn, backend="cuda")`.

Each specialised, optimised graph becomes a launch plan (plan.py): fusion
groups become one generated numba.cuda kernel each (elementwise.py,
rows.py), matmuls a tiled kernel (linalg.py), reductions a block per output
(reductions.py), scans a thread per line (scans.py), views new strides
(arrays.py), indexing a view and a gather or scatter (indexing.py). Kernel source is generated
per group, dtype and rank, compiled with `cuda.jit` and cached by its text.

Arguments: NumPy arrays are copied to the device; objects with
`__cuda_array_interface__` (C-contiguous) are used in place. Results are
numba device arrays (`copy_to_host()`, `__cuda_array_interface__` on a GPU);
`jitc.to_host` turns them into NumPy arrays. Under NUMBA_ENABLE_CUDASIM=1
the same kernels run in numba's simulator; without a GPU or the simulator,
compiling raises CudaUnavailableError saying so.
"""
from __future__ import annotations

from ...ir.graph import Graph
from ...ir.ops.registry import all_ops
from .arrays import LOWERINGS, SCALAR_READS
from .elementwise import copy_into
from .expressions import supported_element_ops
from .plan import HOST_GROUPS, UNSUPPORTED_REASONS, PlanBuilder, Step, run_steps
from .reductions import SUPPORTED as REDUCTIONS
from .scans import SCANS
from .runtime import (CudaUnavailableError, DeviceTensor, allocate, as_device_array, cuda_module, to_device,
                      to_host)


class CudaExecutable:
    """Runs a launch plan: arguments to the device, the steps, results out as device arrays."""

    def __init__(self, graph: Graph):
        builder = PlanBuilder(graph)
        self.parameters = [builder.slot(p) for p in graph.params]
        self.steps: list[Step] = builder.lower_block(graph.block)
        self.returns = [builder.slot(v) for v in graph.returns]
        self.slot_count = len(builder.slots)
        self._borrowed = {id(tensor.buffer) for tensor in builder.constants}
        self.origin = "compiled"

    def __call__(self, *args) -> tuple:
        env: list = [None] * self.slot_count
        arguments = [to_device(arg) for arg in args]
        for slot, value in zip(self.parameters, arguments):
            env[slot] = value
        run_steps(self.steps, env)
        borrowed = self._borrowed | {id(t.buffer) for t in _tensors(arguments)}
        return tuple(_result(env[slot], borrowed) for slot in self.returns)

    @property
    def plan(self) -> str:
        """The launch plan, one step a line (kind, op, input slots -> output slots)."""
        return "\n".join(line for step in self.steps for line in step.describe())


def _tensors(value):
    if isinstance(value, DeviceTensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item)


def _result(value, borrowed: set):
    """A result as the caller gets it: device arrays that own their memory
    (views of arguments, constants or another result are copied)."""
    if isinstance(value, DeviceTensor):
        if id(value.buffer) in borrowed or not value.is_contiguous or value.offset:
            value = copy_into(allocate(value.shape, value.dtype), value)
        borrowed.add(id(value.buffer))
        return as_device_array(value)
    if isinstance(value, list):
        return [_result(item, borrowed) for item in value]
    if isinstance(value, tuple):
        return tuple(_result(item, borrowed) for item in value)
    return value


class CudaBackend:
    name = "cuda"

    def compile(self, graph: Graph) -> CudaExecutable:
        cuda_module()  # CudaUnavailableError without a GPU or the simulator
        return CudaExecutable(graph)


def _unsupported_ops() -> dict[str, str]:
    lowered = (set(LOWERINGS) | set(SCALAR_READS) | supported_element_ops() | REDUCTIONS | SCANS
               | {"np::matmul", "np::astype", "prim::If", "prim::Loop", "prim::FusionGroup", "prim::Constant",
                  "prim::Uninitialized"})
    unsupported = {}
    for op in all_ops():
        if op.name in UNSUPPORTED_REASONS:
            unsupported[op.name] = UNSUPPORTED_REASONS[op.name]
        elif op.name not in lowered and op.group not in HOST_GROUPS and op.reference is None:
            unsupported[op.name] = "no CUDA lowering"
    return unsupported


BACKEND = CudaBackend()
UNSUPPORTED_OPS: dict[str, str] = _unsupported_ops()

__all__ = ["BACKEND", "CudaBackend", "CudaExecutable", "CudaUnavailableError", "UNSUPPORTED_OPS", "to_host"]
