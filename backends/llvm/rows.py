"""Row groups: a prim::FusionGroup holding last-axis reductions runs as one
loop over rows (split across threads when large); inside a row, elementwise
ops are loops over the row (kept lazy and computed where they are used,
unless used twice: then they are computed once into a row-sized scratch
buffer that stays in cache) and reductions are loops that leave one value
per row. Each value has its own length along the row, so an input that
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
from .parallel import parallel_for
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
            context = Lowering(inner)
            for node_ in body.nodes:
                env[node_.output] = _lower_in_row(context, node_, env, lengths, buffers.get(node_.output))
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


def _lower_in_row(cg, node, env, lengths, buffer):
    em, b = cg.em, cg.builder
    if node.kind == "prim::Constant":
        return python_constant(node.attributes["value"], node.output.type)
    operands = [env[v] for v in node.inputs]
    if get_op(node.kind).group == Group.REDUCTION:
        return _reduce_row(cg, node, operands[0])
    compute = element_function(em, node.kind, [v.type for v in node.inputs], node.output.type)
    dtype = element_dtypes([node.output.type])[0]
    if not any(isinstance(v, RowVector) for v in operands):
        return compute(operands)
    length = lengths[node.output]
    value = RowVector(dtype, length,
                      lambda j: compute([v.element(j) if isinstance(v, RowVector) else v for v in operands]))
    if buffer is None:
        return value
    with em.for_range(length, "fill") as j:
        em.store(dtype, value.element(j), b.gep(buffer.data, [j]))
    return RowVector(dtype, length, lambda j: em.load(dtype, b.gep(buffer.data, [j])))


_FAST = ("reassoc", "nsz")  # reductions may be reordered: that is what lets LLVM vectorise them


def _reduce_row(cg, node, vector: RowVector):
    """sum/mean (float64 accumulator for floats) and max/min (NaN-propagating) over the row."""
    em, b = cg.em, cg.builder
    kind, out_dtype = node.kind, node.output.type.dtype
    if not isinstance(vector, RowVector):  # its last axis has size 1: the reduction is the element
        return em.cast(vector, element_dtypes([node.inputs[0].type])[0], out_dtype)
    source, length = vector.dtype, vector.length
    if kind in ("np::max", "np::min"):
        em.raise_if(b.icmp_signed("==", length, const(0)), "ValueError",
                    f"zero-size array to reduction operation {'maximum' if kind == 'np::max' else 'minimum'} "
                    "which has no identity")
        accumulator = em.alloca_builder.alloca(register_type(source))
        b.store(vector.element(const(0)), accumulator)
        scalar = Scalar(em, source, source, python=False)
        with em.for_range(length, "reduce") as j:
            current, value = b.load(accumulator), vector.element(j)
            if source.is_float:
                combined = scalar.intrinsic("maximum" if kind == "np::max" else "minimum", current, value)
            else:
                combined = b.select(scalar.compare(">" if kind == "np::max" else "<", value, current), value, current)
            b.store(combined, accumulator)
        return em.cast(b.load(accumulator), source, out_dtype)
    accumulate = DType.FLOAT64 if out_dtype.is_float else out_dtype
    accumulator = em.alloca_builder.alloca(register_type(accumulate))
    b.store(ir.Constant(register_type(accumulate), 0.0 if accumulate.is_float else 0), accumulator)
    with em.for_range(length, "reduce") as j:
        value = em.cast(vector.element(j), source, accumulate)
        current = b.load(accumulator)
        b.store(b.fadd(current, value, flags=_FAST) if accumulate.is_float else b.add(current, value), accumulator)
    total = b.load(accumulator)
    if kind == "np::mean":
        total = b.fdiv(em.cast(total, accumulate, DType.FLOAT64), b.sitofp(length, F64))
        accumulate = DType.FLOAT64
    return em.cast(total, accumulate, out_dtype)
