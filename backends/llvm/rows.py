"""Row groups: a prim::FusionGroup holding last-axis reductions runs as one
loop over rows (split across threads when large); inside a row, elementwise
ops are loops over the row (kept lazy and computed where they are used,
unless used twice: then they are computed once into a row-sized scratch
buffer that stays in cache, in a loop that also computes the reductions
of it) and reductions are loops that leave one value per row. Softmax thus
makes three passes over a row (max; exp and sum; divide) and layer norm
three (mean; centred values and variance; scale).
Float32 sums add in float32 lanes per block and the blocks in float64;
division by one value per row multiplies by its reciprocal. Each value has its own length along the row, so an input that
NumPy broadcasts along the row (size 1 there at run time) is reduced over
its one element, as NumPy does."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from llvmlite import ir

from ...ir.ops import get_op
from ...ir.ops.registry import Group
from ...ir.types import ANY_DIM, INT, DType, TensorType
from .elementwise import broadcast, element_dtypes, element_function
from .emitter import Lowering, const
from .parallel import interleave, parallel_for
from .layout import F64, NativeTensor, register_type
from .prim_ops import python_constant
from .scalar_ops import Scalar


@dataclass
class RowVector:
    """A value with `length` elements in each row (the row length, or 1
    for a value broadcast along the row), element j given by `element`."""

    dtype: DType
    length: ir.Value
    element: Callable[[ir.Value], ir.Value]


def is_row_group(node) -> bool:
    return any(get_op(inner.kind).group == Group.REDUCTION for inner in node.blocks[0].nodes)


def _lengths(b: ir.IRBuilder, body, input_lengths: list) -> dict:
    """The run-time length along the row of every value of the group:
    inputs their last dim, reductions 1, elementwise ops the broadcast of
    their operands' (already checked compatible: each is 1 or the row's)."""
    lengths = dict(zip(body.params, input_lengths))
    for node in body.nodes:
        if node.kind == "prim::Constant" or get_op(node.kind).group == Group.REDUCTION:
            lengths[node.output] = const(1)
            continue
        length = const(1)
        for value in node.inputs:
            length = b.select(b.icmp_signed("==", length, const(1)), lengths[value], length)
        lengths[node.output] = length
    return lengths


def lower_row_group(cg, node, inputs: list) -> list:
    em = cg.em
    body = node.blocks[0]
    out_type: TensorType = node.output.type
    tensors = [v for v in inputs if isinstance(v, NativeTensor)]
    shape, strides = broadcast(em, tensors, out_type.rank)
    rows = shape[:-1]
    input_lengths = [(v.shape[-1] if v.rank else const(1)) if isinstance(v, NativeTensor) else const(1)
                     for v in inputs]
    out_length = const(1) if out_type.shape[-1] == 1 else _lengths(em.builder, body, input_lengths)[body.returns[0]]
    out = em.allocate(out_type.dtype, [*rows, out_length])
    views = iter([NativeTensor(t.dtype, t.data, shape, s) for t, s in zip(tensors, strides)])
    operands = [next(views) if isinstance(v, NativeTensor) else v for v in inputs]
    captures = ([(v, TensorType(v.dtype, (ANY_DIM,) * v.rank) if isinstance(v, NativeTensor) else p.type)
                 for v, p in zip(operands + [out], body.params + [None])] + [(n, INT) for n in input_lengths])
    uses = {value: len(value.uses) for inner in body.nodes for value in inner.outputs}
    buffered = [inner.output for inner in body.nodes  # vector values used more than once get a row buffer
                if _is_vector(inner.output.type) and uses[inner.output] > 1 and inner.kind != "prim::Constant"]
    count = len(inputs)

    def prologue(inner, values):
        lengths = _lengths(inner.builder, body, values[count + 1:])
        return lengths, {value: inner.allocate(value.type.dtype, [lengths[value]]) for value in buffered}

    def rows_from(inner, values, first):
        args, target, (lengths, buffers) = values[:count], values[count], values[-1]
        with inner.loop_nest(target.shape[1:-1], "row") as rest:
            row = [first, *rest] if rows else []
            env = {}
            for param, value in zip(body.params, args):
                if isinstance(value, NativeTensor):
                    start = inner.element_pointer(value, [*row, const(0)])
                    env[param] = _row_of(inner, value.dtype, start, value.strides[-1], param.type, lengths[param])
                else:
                    env[param] = value
            context, folded = Lowering(inner), {}
            for node_ in body.nodes:
                env[node_.output] = _lower_in_row(context, node_, env, lengths, buffers.get(node_.output), folded)
            _store_row(inner, env[body.returns[0]], inner.element_pointer(target, [*row, const(0)]), target.dtype)

    if rows:
        work = em.builder.mul(em.product(rows[1:]), shape[-1])
        parallel_for(em, rows[0], work, captures, rows_from, prologue)
    else:
        values = [v for v, _ in captures]
        rows_from(em, values + [prologue(em, values)], None)
    return [out]


def _store_row(em, result, target, dtype: DType) -> None:
    if isinstance(result, RowVector):
        with em.for_range(result.length, "out") as j:
            em.store(dtype, result.element(j), em.builder.gep(target, [j]))
    else:
        em.store(dtype, result, target)


def _is_vector(type) -> bool:
    return isinstance(type, TensorType) and bool(type.shape) and type.shape[-1] != 1


def _row_of(em, dtype: DType, start, stride, type, length):
    """An input's row: one element (a dim of 1, static) or a strided vector."""
    if not _is_vector(type):
        return em.load(dtype, start)
    return RowVector(dtype, length, lambda j: em.load(dtype, em.builder.gep(start, [em.builder.mul(j, stride)])))


def _lower_in_row(cg, node, env, lengths, buffer, folded: dict):
    """A row value: a scalar per row, a lazy RowVector, or (used twice) a
    RowVector read from `buffer`, filled by one loop that also computes the
    reductions of it (stored in `folded` for their nodes)."""
    em, b = cg.em, cg.builder
    if node.kind == "prim::Constant":
        return python_constant(node.attributes["value"], node.output.type)
    if node.output in folded:
        return folded.pop(node.output)
    operands = [env[v] for v in node.inputs]
    if get_op(node.kind).group == Group.REDUCTION:
        return _reduce_row(cg, [node], operands[0])[0]
    dtype = element_dtypes([node.output.type])[0]
    compute = _by_reciprocal(em, node, operands, dtype) or element_function(
        em, node.kind, [v.type for v in node.inputs], node.output.type)
    if not any(isinstance(v, RowVector) for v in operands):
        return compute(operands)
    length = lengths[node.output]
    value = RowVector(dtype, length,
                      lambda j: compute([v.element(j) if isinstance(v, RowVector) else v for v in operands]))
    if buffer is None:
        return value
    reductions = [user for user in node.output.users
                  if getattr(user, "kind", None) and get_op(user.kind).group == Group.REDUCTION]
    folded.update(zip((user.output for user in reductions),
                      _reduce_row(cg, reductions, value, fill=buffer.data)))
    return RowVector(dtype, length, lambda j: em.load(dtype, b.gep(buffer.data, [j])))


def _by_reciprocal(em, node, operands, dtype: DType):
    """x / d for a float row x and a divisor d that is one value per row:
    x * (1/(d 2^k)) * 2^k, two multiplies instead of a division per element
    (a vector division costs several multiplies' time). k = 0 unless |d| is
    outside [2^-(bias-1), 2^(bias-1)], where 1/d would overflow or lose bits
    to subnormals; the scaling by 2^k is exact. Within 2 ulp of the
    division; 0, inf and NaN divisors give what the division gives."""
    if node.kind != "np::divide" or dtype not in (DType.FLOAT32, DType.FLOAT64) or isinstance(operands[1], RowVector):
        return None
    if element_dtypes([v.type for v in node.inputs]) != [dtype, dtype]:
        return None
    b = em.builder
    divisor = operands[1]
    scale = 64 if dtype == DType.FLOAT32 else 128
    edge = 2.0 ** (126 if dtype == DType.FLOAT32 else 1022)
    magnitude = Scalar(em, dtype, dtype, python=False).intrinsic("fabs", divisor)
    tiny = b.fcmp_ordered("<", magnitude, ir.Constant(divisor.type, 1 / edge))
    huge = b.fcmp_ordered(">", magnitude, ir.Constant(divisor.type, edge))
    power = b.select(tiny, ir.Constant(divisor.type, 2.0 ** scale),
                     b.select(huge, ir.Constant(divisor.type, 2.0 ** -scale), ir.Constant(divisor.type, 1.0)))
    reciprocal = b.fdiv(ir.Constant(divisor.type, 1.0), b.fmul(divisor, power))
    return lambda values: b.fmul(b.fmul(values[0], reciprocal), power)


_FAST = ("reassoc", "nsz")  # reductions may be reordered: that is what lets LLVM vectorise them
# A float32 sum adds its row in blocks of this many elements in float32 (LLVM keeps 16 or 32
# partial sums in two or four <8 x float> registers: parallel.interleave), each block's sum
# then in float64: error like NumPy's pairwise sum, a quarter of the instructions of float64 lanes
BLOCK = 512


def _reduce_row(cg, nodes, vector, fill=None) -> list:
    """The reductions `nodes` (sum, mean with a float64 total; max, min
    NaN-propagating) of one row value in one loop, which also stores the
    value's elements into `fill` when given."""
    em, b = cg.em, cg.builder
    if not isinstance(vector, RowVector):  # its last axis has size 1: the reduction is the element
        return [em.cast(vector, element_dtypes([node.inputs[0].type])[0], node.output.type.dtype) for node in nodes]
    source, length = vector.dtype, vector.length
    states = []
    for node in nodes:
        kind, out_dtype = node.kind, node.output.type.dtype
        if kind in ("np::max", "np::min"):
            em.raise_if(b.icmp_signed("==", length, const(0)), "ValueError",
                        f"zero-size array to reduction operation {'maximum' if kind == 'np::max' else 'minimum'} "
                        "which has no identity")
            states.append(_Extremum(em, kind, source, vector.element(const(0))))
        else:
            states.append(_Sum(em, source, out_dtype, mean=kind == "np::mean"))
    with em.for_range(b.sdiv(b.add(length, const(BLOCK - 1)), const(BLOCK)), "block") as block:
        start = b.mul(block, const(BLOCK))
        for state in states:
            state.begin_block()
        first_block = len(b.function.blocks)
        with em.for_range(b.select(b.icmp_signed("<", b.sub(length, start), const(BLOCK)),
                                   b.sub(length, start), const(BLOCK)), "reduce") as j:
            index = b.add(start, j)
            value = vector.element(index)
            if fill is not None:
                em.store(source, value, b.gep(fill, [index]))
            for state in states:
                state.add(value)
        if fill is not None:
            _apart_from_reads(em, b.function.blocks[first_block:], fill)
        interleave(em.module, j, 2 if fill is not None else 4)
        for state in states:
            state.end_block()
    return [state.result(length, node.output.type.dtype) for state, node in zip(states, nodes)]


def _apart_from_reads(em, blocks, fill) -> None:
    """Tell LLVM that the loop in `blocks` stores into `fill` (a buffer the
    row lowering made for this loop alone) apart from everything it loads.
    Its float sums may be reordered, and without this the vectoriser guards
    the reordered vector loop with a run-time overlap check that falls back
    to the scalar loop: the sum's rounding then depended on where the
    buffers lay (the `jitc export` library of the GPT-2 example differed
    from the JIT by an ulp)."""
    reads, writes = em.separate_scopes()
    for block in blocks:
        for instruction in block.instructions:
            stores_fill = isinstance(instruction, ir.StoreInstr) and _based_on(instruction.operands[1], fill)
            if stores_fill or isinstance(instruction, ir.LoadInstr):
                scope, other = writes if stores_fill else reads
                _add_scope(em.module, instruction, "alias.scope", scope)
                _add_scope(em.module, instruction, "noalias", other)


def _based_on(pointer, base) -> bool:
    while isinstance(pointer, ir.GEPInstr):
        pointer = pointer.pointer
    return pointer is base


def _add_scope(module, instruction, kind: str, scopes) -> None:
    existing = instruction.metadata.get(kind)
    merged = scopes if existing is None else module.add_metadata([*existing.operands, *scopes.operands])
    instruction.set_metadata(kind, merged)


class _Extremum:
    """max/min accumulator (NaN-propagating for floats)."""

    def __init__(self, em, kind: str, source: DType, first):
        self.em, self.kind, self.source = em, kind, source
        self.slot = em.alloca_builder.alloca(register_type(source))
        em.builder.store(first, self.slot)

    def begin_block(self):
        pass

    def add(self, value):
        b, greater = self.em.builder, self.kind == "np::max"
        current = b.load(self.slot)
        if self.source.is_float:
            combined = Scalar(self.em, self.source, self.source, python=False).intrinsic(
                "maximum" if greater else "minimum", current, value)
        else:
            scalar = Scalar(self.em, self.source, self.source, python=False)
            combined = b.select(scalar.compare(">" if greater else "<", value, current), value, current)
        b.store(combined, self.slot)

    def end_block(self):
        pass

    def result(self, length, out_dtype: DType):
        return self.em.cast(self.em.builder.load(self.slot), self.source, out_dtype)


class _Sum:
    """sum/mean accumulator: floats add each block in the source's float
    type (float32 stays float32) and the blocks' sums in float64."""

    def __init__(self, em, source: DType, out_dtype: DType, mean: bool):
        self.em, self.source, self.mean = em, source, mean
        self.total_dtype = DType.FLOAT64 if out_dtype.is_float else out_dtype
        self.block_dtype = (DType.FLOAT32 if out_dtype.is_float and source in (DType.FLOAT32, DType.FLOAT16)
                            else self.total_dtype)
        self.total = self._slot(self.total_dtype)
        self.partial = self._slot(self.block_dtype)

    def _slot(self, dtype: DType):
        slot = self.em.alloca_builder.alloca(register_type(dtype))
        self.em.builder.store(ir.Constant(register_type(dtype), 0.0 if dtype.is_float else 0), slot)
        return slot

    def begin_block(self):
        self.em.builder.store(ir.Constant(register_type(self.block_dtype), 0.0 if self.block_dtype.is_float else 0),
                              self.partial)

    def add(self, value):
        self._accumulate(self.partial, self.em.cast(value, self.source, self.block_dtype), self.block_dtype)

    def end_block(self):
        b = self.em.builder
        self._accumulate(self.total, self.em.cast(b.load(self.partial), self.block_dtype, self.total_dtype),
                         self.total_dtype)

    def _accumulate(self, slot, value, dtype: DType):
        b = self.em.builder
        current = b.load(slot)
        b.store(b.fadd(current, value, flags=_FAST) if dtype.is_float else b.add(current, value), slot)

    def result(self, length, out_dtype: DType):
        b = self.em.builder
        total, dtype = b.load(self.total), self.total_dtype
        if self.mean:
            total, dtype = b.fdiv(self.em.cast(total, dtype, DType.FLOAT64), b.sitofp(length, F64)), DType.FLOAT64
        return self.em.cast(total, dtype, out_dtype)
