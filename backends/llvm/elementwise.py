"""Elementwise ops: NumPy broadcasting and dtype resolution around the
per-element lowerings of scalar_ops.py, as one loop nest per op."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from llvmlite import ir

from ...ir.ops.rules import ufunc_dtypes
from ...ir.types import ANY_DIM, FLOAT, INT, DType, ScalarType, TensorType, Type
from .. import UnsupportedOpError
from .emitter import FunctionEmitter, const
from .parallel import parallel_for
from .runtime import ERROR_ARGS
from .layout import SCALAR_DTYPES, NativeTensor, check_dtype
from .python_ints import check_values, comparison_dtypes, decide_by_sign
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
    return comparison_dtypes(kind, input_types, list(dtypes[:-1])), dtypes[-1]


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
    uniform = tuple(not isinstance(t, TensorType) or t.rank == 0 for t in input_types)
    context = Scalar(em, in_dtypes[-1] if kind == "np::where" else in_dtypes[0], result_dtype, python, uniform)
    sources, target = element_dtypes(input_types), element_dtypes([output_type])[0]

    def compute(values: list) -> ir.Value:
        values = check_values(em, kind, values, input_types, in_dtypes)
        cast = [em.cast(v, d, to) for v, d, to in zip(values, sources, in_dtypes)]
        result = decide_by_sign(em, kind, lowering(context, *cast), values, input_types, in_dtypes)
        if result_dtype == DType.FLOAT16:
            result = em.round_half(result)
        return em.cast(result, result_dtype, target)
    return compute


def elementwise_loop(em: FunctionEmitter, inputs: list, input_types: Sequence[Type], output_type: TensorType,
                     make_compute) -> NativeTensor:
    """A new tensor of `output_type` holding compute(elements) for every
    element of the broadcast `inputs` (tensors, or scalars used as they are),
    where compute = make_compute(emitter) for the function the loop lands in.
    When every input is contiguous and of the output's shape, one flat loop
    runs instead of the nest (it vectorises best). Large loops are split
    across threads (parallel.py).

    Loads and stores carry alias scopes saying they never touch the same
    memory, so LLVM vectorises without run-time overlap checks. The memory
    plan may give the output a dead input's buffer (in place); the claim
    then still cannot change what the loop computes: that input is a
    buffer a lowering allocated (C-contiguous), of the output's dtype, and
    jitc_alloc reuses it only when its byte count equals the output's, so
    its shape broadcasts to the output's with as many elements: the same
    shape, read at the index the loop writes. Each element's store then
    follows, and depends on, the only load of that address, and every other
    load and store is of another address (tests/backends/test_llvm_in_place.py)."""
    out_dtype = check_dtype(output_type.dtype)
    tensors = [v for v in inputs if isinstance(v, NativeTensor)]
    shape, strides = broadcast(em, tensors, output_type.rank)
    shape = [ir.Constant(ir.IntType(64), d) if isinstance(d, int) else s for d, s in zip(output_type.shape, shape)]
    out = em.allocate(out_dtype, shape)
    b = em.builder
    flat = ir.Constant(ir.IntType(1), 1)
    for tensor in tensors:
        if tensor.rank == 0:
            continue
        if tensor.rank != len(shape):
            flat = ir.Constant(ir.IntType(1), 0)
            break
        for size, out_size in zip(tensor.shape, shape):
            flat = b.and_(flat, b.icmp_signed("==", size, out_size))
        flat = b.and_(flat, em.is_contiguous(tensor))
    # a 0-d input stays 0-d: read at its one address (a stride-0 view would keep the loop scalar)
    views = iter([t if t.rank == 0 else NativeTensor(t.dtype, t.data, shape, s) for t, s in zip(tensors, strides)])
    operands = [next(views) if isinstance(v, NativeTensor) else v for v in inputs]
    captures = [(v, TensorType(v.dtype, (ANY_DIM,) * v.rank) if isinstance(v, NativeTensor) else t)
                for v, t in zip(operands + [out], list(input_types) + [None])]

    reads, writes = em.separate_scopes()

    def element(inner, value, pointer):
        if not isinstance(value, NativeTensor):
            return value
        return inner.load(value.dtype, pointer() if value.rank else value.data, reads)

    def flat_body(inner, values, i):
        *args, target = values
        loaded = [element(inner, v, lambda v=v: inner.builder.gep(v.data, [i])) for v in args]
        inner.store(out_dtype, make_compute(inner)(loaded), inner.builder.gep(target.data, [i]), writes)

    def nested_body(inner, values, i):
        *args, target = values
        with inner.loop_nest(target.shape[1:]) as rest:
            index = [i, *rest]
            loaded = [element(inner, v, lambda v=v: inner.element_pointer(v, index)) for v in args]
            inner.store(out_dtype, make_compute(inner)(loaded), inner.element_pointer(target, index), writes)

    with b.if_else(flat) as (flat_case, nested_case):
        with flat_case:
            parallel_for(em, em.product(shape), const(1), captures, flat_body)
        with nested_case:
            if not shape:
                em.store(out_dtype, make_compute(em)([element(em, v, lambda v=v: v.data) for v in operands]), out.data)
            else:
                parallel_for(em, shape[0], em.product(shape[1:]), captures, nested_body)
    return out


def lower_elementwise(em: FunctionEmitter, kind: str, inputs: list, input_types: Sequence[Type],
                      output_type: Type):
    if isinstance(output_type, ScalarType):
        return element_function(em, kind, input_types, output_type)(inputs)
    return elementwise_loop(em, inputs, input_types, output_type,
                            lambda inner: element_function(inner, kind, input_types, output_type))


def block_function(em: FunctionEmitter, body):
    """values -> result: a fusion group's block evaluated on one element."""
    from .prim_ops import python_constant
    steps = [(node, None if node.kind == "prim::Constant" else
              element_function(em, node.kind, [v.type for v in node.inputs], node.output.type))
             for node in body.nodes]

    def compute(values: list) -> ir.Value:
        env = dict(zip(body.params, values))
        for node, function in steps:
            env[node.output] = (python_constant(node.attributes["value"], node.output.type) if function is None
                                else function([env[v] for v in node.inputs]))
        return env[body.returns[0]]
    return compute


def lower_fusion_group(cg, node, inputs: list) -> list:
    """One loop nest evaluating the group's block on each element."""
    body = node.blocks[0]
    return [elementwise_loop(cg.em, inputs, [v.type for v in node.inputs], node.output.type,
                             lambda inner: block_function(inner, body))]


def element_dtypes(types: Sequence[Type]) -> list[DType]:
    return [t.dtype if isinstance(t, TensorType) else SCALAR_DTYPES[t] for t in types]
