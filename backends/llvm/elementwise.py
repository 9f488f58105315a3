"""Elementwise ops: NumPy broadcasting and dtype resolution around the
per-element lowerings of scalar_ops.py, as one loop nest per op."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from llvmlite import ir

from ...ir.ops.rules import ufunc_dtypes
from ...ir.types import FLOAT, INT, DType, ScalarType, TensorType, Type
from .. import UnsupportedOpError
from .emitter import FunctionEmitter, const
from .runtime import ERROR_ARGS
from .layout import SCALAR_DTYPES, NativeTensor, check_dtype
from .scalar_ops import SCALAR_LOWERINGS, Scalar

_CLIP_UFUNC = np._core.umath.clip


def loop_dtypes(kind: str, input_types: Sequence[Type], output_type: Type) -> tuple[list[DType], DType]:
    """The dtypes the inputs are cast to and the dtype the lowering returns."""
    if isinstance(output_type, ScalarType):
        return _python_dtypes(kind, input_types, output_type)
    if kind == "np::where":
        out = check_dtype(output_type.dtype)
        return [DType.BOOL, out, out], out
    ufunc = _CLIP_UFUNC if kind == "np::clip" else getattr(np, kind.split("::")[1])
    dtypes = ufunc_dtypes(ufunc, input_types)
    if dtypes is None:
        raise UnsupportedOpError(kind, "operand dtypes are not known")
    for dtype in dtypes:
        check_dtype(dtype, kind)
    return list(dtypes[:-1]), dtypes[-1]


def _python_dtypes(kind, input_types, output_type):
    """Python's scalar rules: bool < int < float, and / always on floats."""
    if kind in ("np::maximum", "np::minimum") and len(set(input_types)) > 1:
        raise UnsupportedOpError(kind, "max/min of mixed Python scalar types")
    if FLOAT in input_types or kind == "np::divide":
        common = DType.FLOAT64
    elif INT in input_types or output_type == INT:
        common = DType.INT64
    else:
        common = DType.BOOL
    result = SCALAR_DTYPES[output_type]
    return [common] * len(input_types), (DType.BOOL if result == DType.BOOL else common)


def broadcast(em: FunctionEmitter, tensors: list[NativeTensor], rank: int) -> tuple[list, list[list]]:
    """The broadcast shape of `tensors` and each one's strides over it
    (0 where it is broadcast), raising ValueError as NumPy does on a mismatch."""
    b = em.builder
    message, args = _broadcast_message(tensors)
    shape = []
    for axis in range(rank):
        size = const(1)
        for tensor in tensors:
            k = axis - (rank - tensor.rank)
            if k < 0 or _is_one(tensor.shape[k]):
                continue
            d = tensor.shape[k]
            if _is_one(size):
                size = d
                continue
            ok = b.or_(b.or_(b.icmp_signed("==", size, const(1)), b.icmp_signed("==", d, const(1))),
                       b.icmp_signed("==", size, d))
            em.raise_if(b.not_(ok), "ValueError", message, args)
            size = b.select(b.icmp_signed("==", size, const(1)), d, size)
        shape.append(size)
    strides = []
    for tensor in tensors:
        offset = rank - tensor.rank
        strides.append([const(0) if axis < offset or _is_one(tensor.shape[axis - offset]) else
                        b.select(b.icmp_signed("==", tensor.shape[axis - offset], const(1)), const(0),
                                 tensor.strides[axis - offset])
                        for axis in range(rank)])
    return shape, strides


def _broadcast_message(tensors: list[NativeTensor]) -> tuple[str, list]:
    """NumPy's message, with the shapes filled in at run time where they fit the error slots."""
    args = [d for t in tensors for d in t.shape]
    if len(args) > ERROR_ARGS:
        return "operands could not be broadcast together", []
    numbers = iter(range(len(args)))
    shapes = ["(" + ",".join("{%d}" % next(numbers) for _ in t.shape) + ("," if t.rank == 1 else "") + ")"
              for t in tensors]
    return "operands could not be broadcast together with shapes " + " ".join(shapes), args


def _is_one(value) -> bool:
    return isinstance(value, ir.Constant) and value.constant == 1


def element_function(em: FunctionEmitter, kind: str, input_types: Sequence[Type], output_type: Type):
    """values -> result: op `kind` on one element, from the input registers
    (in their own dtypes) to a register of the output's element dtype."""
    lowering = SCALAR_LOWERINGS.get(kind)
    if lowering is None:
        raise UnsupportedOpError(kind)
    in_dtypes, result_dtype = loop_dtypes(kind, input_types, output_type)
    python = isinstance(output_type, ScalarType)
    context = Scalar(em, in_dtypes[-1] if kind == "np::where" else in_dtypes[0], result_dtype, python)
    sources, target = element_dtypes(input_types), element_dtypes([output_type])[0]

    def compute(values: list) -> ir.Value:
        cast = [em.cast(v, d, to) for v, d, to in zip(values, sources, in_dtypes)]
        result = lowering(context, *cast)
        if result_dtype == DType.FLOAT16:
            result = em.round_half(result)
        return em.cast(result, result_dtype, target)
    return compute


def elementwise_loop(em: FunctionEmitter, inputs: list, output_type: TensorType, compute) -> NativeTensor:
    """A new tensor of `output_type` holding compute(elements) for every
    element of the broadcast `inputs` (tensors, or scalars used as they are).
    When every input is contiguous and of the output's shape, one flat loop
    runs instead of the nest (it vectorises best)."""
    out_dtype = check_dtype(output_type.dtype)
    tensors = [v for v in inputs if isinstance(v, NativeTensor)]
    shape, strides = broadcast(em, tensors, output_type.rank)
    shape = [ir.Constant(ir.IntType(64), d) if isinstance(d, int) else s for d, s in zip(output_type.shape, shape)]
    out = em.allocate(out_dtype, shape)
    b = em.builder
    flat = ir.Constant(ir.IntType(1), 1)
    for tensor in tensors:
        if tensor.rank != len(shape):
            flat = ir.Constant(ir.IntType(1), 0)
            break
        for size, out_size in zip(tensor.shape, shape):
            flat = b.and_(flat, b.icmp_signed("==", size, out_size))
        flat = b.and_(flat, em.is_contiguous(tensor))

    def element(value, index, pointer_of):
        return em.load(value.dtype, pointer_of(value, index)) if isinstance(value, NativeTensor) else value

    with b.if_else(flat) as (flat_case, nested_case):
        with flat_case:
            with em.for_range(em.product(shape), "flat") as i:
                values = [element(v, i, lambda t, j: b.gep(t.data, [j])) for v in inputs]
                em.store(out_dtype, compute(values), b.gep(out.data, [i]))
        with nested_case:
            views = iter([NativeTensor(t.dtype, t.data, shape, s) for t, s in zip(tensors, strides)])
            operands = [next(views) if isinstance(v, NativeTensor) else v for v in inputs]
            with em.loop_nest(shape) as index:
                values = [element(v, index, em.element_pointer) for v in operands]
                em.store(out_dtype, compute(values), em.element_pointer(out, index))
    return out


def lower_elementwise(em: FunctionEmitter, kind: str, inputs: list, input_types: Sequence[Type],
                      output_type: Type):
    compute = element_function(em, kind, input_types, output_type)
    if isinstance(output_type, ScalarType):
        return compute(inputs)
    return elementwise_loop(em, inputs, output_type, compute)


def lower_fusion_group(cg, node, inputs: list) -> list:
    """One loop nest evaluating the group's block on each element."""
    from .prim_ops import python_constant
    em, body = cg.em, node.blocks[0]
    steps = []
    for inner in body.nodes:
        if inner.kind == "prim::Constant":
            steps.append((inner, None))
        else:
            steps.append((inner, element_function(em, inner.kind, [v.type for v in inner.inputs],
                                                  inner.output.type)))

    def compute(values: list) -> ir.Value:
        env = dict(zip(body.params, values))
        for inner, function in steps:
            env[inner.output] = (python_constant(inner.attributes["value"], inner.output.type) if function is None
                                 else function([env[v] for v in inner.inputs]))
        return env[body.returns[0]]
    return [elementwise_loop(em, inputs, node.output.type, compute)]


def element_dtypes(types: Sequence[Type]) -> list[DType]:
    return [t.dtype if isinstance(t, TensorType) else SCALAR_DTYPES[t] for t in types]
