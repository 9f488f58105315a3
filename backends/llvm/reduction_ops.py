"""Reductions over any axes with keepdims: one pass that folds every input
element into an accumulator laid out like the kept shape (reduced axes of
size 1, stride 0 over the input), then a pass that finishes (mean, var...)
and casts into the result."""
from __future__ import annotations

from llvmlite import ir

from ...ir.ops.rules import normalize_axes
from ...ir.types import ANY_DIM, DType, TensorType
from .emitter import const
from .layout import F64, NativeTensor, register_type
from .parallel import interleave, parallel_for
from .registry import attribute, lowers
from .scalar_ops import SCALAR_LOWERINGS, Scalar

_FOLD = {"np::sum": "np::add", "np::mean": "np::add", "np::prod": "np::multiply", "np::max": "np::maximum",
         "np::min": "np::minimum", "np::any": "np::logical_or", "np::all": "np::logical_and",
         "np::var": "np::add", "np::std": "np::add"}
_NAMES = {"np::max": "maximum", "np::min": "minimum"}


def _identity(kind: str, dtype: DType):
    if kind in ("np::max", "np::min", "np::argmax", "np::argmin"):
        largest = kind in ("np::min", "np::argmin")
        if dtype.is_float:
            return ir.Constant(register_type(dtype), float("inf") if largest else float("-inf"))
        if dtype == DType.BOOL:
            return ir.Constant(register_type(dtype), int(largest))
        bits = dtype.itemsize * 8
        if dtype.is_unsigned:
            return ir.Constant(register_type(dtype), 2 ** bits - 1 if largest else 0)
        return ir.Constant(register_type(dtype), 2 ** (bits - 1) - 1 if largest else -2 ** (bits - 1))
    one = kind in ("np::prod", "np::all")
    return ir.Constant(register_type(dtype), float(one) if dtype.is_float else int(one))


def _accumulator_dtype(kind: str, x: DType, out: DType) -> DType:
    """Sums of floats accumulate in float64 (NumPy sums pairwise; this is
    at least as accurate); bool sums count in int64."""
    if kind in ("np::max", "np::min", "np::argmax", "np::argmin"):
        return x
    if kind in ("np::any", "np::all"):
        return DType.BOOL
    return DType.FLOAT64 if out.is_float else out


@lowers(*_FOLD, "np::argmax", "np::argmin")
def reduce(cg, node, inputs):
    em, b = cg.em, cg.builder
    x, kind = inputs[0], node.kind
    out_type = node.output.type
    axes = normalize_axes(attribute(node, "axis"), x.rank)
    kept = [const(1) if a in axes else x.shape[a] for a in range(x.rank)]
    count = em.product([x.shape[a] for a in axes])
    arg = kind in ("np::argmax", "np::argmin")
    if kind in ("np::max", "np::min", "np::argmax", "np::argmin"):
        message = (f"attempt to get {kind[4:]} of an empty sequence" if arg else
                   f"zero-size array to reduction operation {_NAMES[kind]} which has no identity")
        em.raise_if(b.icmp_signed("==", count, const(0)), "ValueError", message)
    acc_dtype = _accumulator_dtype(kind, x.dtype, out_type.dtype)
    acc = em.allocate(acc_dtype, kept)
    index_acc = em.allocate(DType.INT64, kept) if arg else None
    mean = _mean(cg, x, axes, kept, count) if kind in ("np::var", "np::std") else None
    tensors = [t for t in (x, acc, index_acc, mean) if t is not None]
    captures = [(t, TensorType(t.dtype, (ANY_DIM,) * t.rank)) for t in tensors]

    def passes(inner, values, _):
        x, acc, *rest = values
        index_acc = rest.pop(0) if arg else None
        mean = rest.pop(0) if rest else None
        _fold(inner, kind, axes, x, acc, index_acc, mean)
    parallel_for(em, const(1), const(0), captures, passes)  # one call: the loops live outside the cold caller
    result = index_acc if arg else _finish(cg, node, acc, kept, count)
    shape = kept if out_type.rank == x.rank else [s for a, s in enumerate(kept) if a not in axes]
    shape = [const(d) if isinstance(d, int) else s for d, s in zip(out_type.shape, shape)]
    return [NativeTensor(result.dtype, result.data, shape, em.contiguous_strides(shape))]


def _fold(em, kind: str, axes: list, x: NativeTensor, acc: NativeTensor, index_acc, mean) -> None:
    """Fold every element of x into the accumulators (acc, and index_acc for
    argmax/argmin; mean: the mean to centre on, for var/std)."""
    b, acc_dtype, arg = em.builder, acc.dtype, index_acc is not None
    kept = [const(1) if a in axes else x.shape[a] for a in range(x.rank)]
    over_input = [const(0) if a in axes else s for a, s in enumerate(acc.strides)]
    with em.loop_nest(kept, "init") as index:
        em.store(acc_dtype, _identity(kind, acc_dtype), em.element_pointer(acc, index))
        if arg:
            em.store(DType.INT64, const(0), em.element_pointer(index_acc, index))
    scalar = Scalar(em, acc_dtype, acc_dtype, python=False)
    reads, writes = em.separate_scopes()  # the accumulators are fresh: no input aliases them
    with em.loop_nest(x.shape, "reduce") as index:
        value = em.cast(em.load(x.dtype, em.element_pointer(x, index), reads), x.dtype, acc_dtype)
        target = em.element_pointer(NativeTensor(acc_dtype, acc.data, x.shape, over_input), index)
        current = em.load(acc_dtype, target, writes)
        if arg:
            position = index[axes[0]] if len(axes) == 1 else _flat_index(b, x.shape, index)
            better = _better(scalar, value, current, kind == "np::argmax")
            em.store(acc_dtype, b.select(better, value, current), target, writes)
            index_target = em.element_pointer(NativeTensor(DType.INT64, index_acc.data, x.shape, over_input), index)
            em.store(DType.INT64, b.select(better, position, em.load(DType.INT64, index_target, writes)),
                     index_target, writes)
        elif mean is not None or _FOLD[kind] == "np::add" and acc_dtype.is_float:
            if mean is not None:
                centred = b.fsub(value, em.load(DType.FLOAT64, em.element_pointer(
                    NativeTensor(DType.FLOAT64, mean.data, x.shape, over_input), index), writes))
                value = b.fmul(centred, centred)
            # sums may be reordered (NumPy's are pairwise, not sequential): that lets LLVM vectorise them
            em.store(acc_dtype, b.fadd(current, value, flags=("reassoc", "nsz")), target, writes)
        elif kind in ("np::max", "np::min") and acc_dtype.is_float:  # NaN-propagating and vectorisable
            combined = scalar.intrinsic("maximum" if kind == "np::max" else "minimum", current, value)
            em.store(acc_dtype, combined, target, writes)
        else:
            em.store(acc_dtype, SCALAR_LOWERINGS[_FOLD[kind]](scalar, current, value), target, writes)
    if not arg and x.rank:
        interleave(em.module, index[-1], 4)


def _better(scalar: Scalar, value, best, greater: bool):
    """argmax/argmin: a strictly better value, or the first NaN (NumPy's rule)."""
    b = scalar.b
    if scalar.dtype.is_float:
        strictly = b.fcmp_ordered(">" if greater else "<", value, best)
        return b.or_(strictly, b.and_(scalar.is_nan(value), b.not_(scalar.is_nan(best))))
    return scalar.compare(">" if greater else "<", value, best)


def _flat_index(b, shape, index):
    flat = const(0)
    for size, i in zip(shape, index):
        flat = b.add(b.mul(flat, size), i)
    return flat


def _mean(cg, x, axes, kept, count) -> NativeTensor:
    """The float64 mean over `axes`, laid out like the kept shape."""
    em, b = cg.em, cg.builder
    total = em.allocate(DType.FLOAT64, kept)
    over_input = [const(0) if a in axes else s for a, s in enumerate(total.strides)]
    with em.loop_nest(kept, "mean.init") as index:
        b.store(ir.Constant(F64, 0.0), em.element_pointer(total, index))
    with em.loop_nest(x.shape, "mean") as index:
        target = em.element_pointer(NativeTensor(DType.FLOAT64, total.data, x.shape, over_input), index)
        value = em.cast(em.load(x.dtype, em.element_pointer(x, index)), x.dtype, DType.FLOAT64)
        b.store(b.fadd(b.load(target), value), target)
    divisor = b.sitofp(count, F64)
    with em.loop_nest(kept, "mean.div") as index:
        target = em.element_pointer(total, index)
        b.store(b.fdiv(b.load(target), divisor), target)
    return total


def _finish(cg, node, acc: NativeTensor, kept, count) -> NativeTensor:
    """Divide for mean/var/std, take the root for std, cast to the result dtype."""
    em, b = cg.em, cg.builder
    kind, out_dtype = node.kind, node.output.type.dtype
    if kind in ("np::mean", "np::var", "np::std"):
        divisor = count if kind == "np::mean" else b.sub(count, const(attribute(node, "ddof")))
        divisor = b.sitofp(b.select(b.icmp_signed("<", divisor, const(0)), const(0), divisor), F64)
    elif out_dtype == acc.dtype:
        return acc
    out = em.allocate(out_dtype, kept)
    scalar = Scalar(em, DType.FLOAT64, DType.FLOAT64, python=False)
    with em.loop_nest(kept, "finish") as index:
        value = em.load(acc.dtype, em.element_pointer(acc, index))
        if kind in ("np::mean", "np::var", "np::std"):
            value = b.fdiv(em.cast(value, acc.dtype, DType.FLOAT64), divisor)
            if kind == "np::std":
                value = scalar.intrinsic("sqrt", value)
            value = em.cast(value, DType.FLOAT64, out_dtype)
        else:
            value = em.cast(value, acc.dtype, out_dtype)
        em.store(out_dtype, value, em.element_pointer(out, index))
    return out
