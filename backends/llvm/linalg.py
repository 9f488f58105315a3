"""np.matmul with NumPy's 1-d promotion and batch broadcasting (plain loops;
the BLAS path belongs to the performance issue)."""
from __future__ import annotations

import numpy as np

from ...ir.ops.rules import ufunc_dtypes
from ...ir.types import DType
from .. import UnsupportedOpError
from .elementwise import broadcast
from .emitter import const
from .layout import NativeTensor, check_dtype
from .registry import lowers
from .scalar_ops import SCALAR_LOWERINGS, Scalar


def _as_matrix(x: NativeTensor, vector_axis: int) -> NativeTensor:
    """A 1-d operand as a 1 x k row (vector_axis 0) or k x 1 column (1)."""
    if x.rank >= 2:
        return x
    shape, strides = list(x.shape), list(x.strides)
    shape.insert(vector_axis, const(1))
    strides.insert(vector_axis, const(0))
    return NativeTensor(x.dtype, x.data, shape, strides)


@lowers("np::matmul")
def matmul(cg, node, inputs):
    em, b = cg.em, cg.builder
    x_type, y_type = (v.type for v in node.inputs)
    dtypes = ufunc_dtypes(np.matmul, [x_type, y_type])
    if dtypes is None:
        raise UnsupportedOpError("np::matmul", "operand dtypes are not known")
    loop_dtype, out_dtype = check_dtype(dtypes[0]), check_dtype(dtypes[-1])
    x, y = _as_matrix(inputs[0], 0), _as_matrix(inputs[1], 1)
    n, k, k2, m = x.shape[-2], x.shape[-1], y.shape[-2], y.shape[-1]
    em.raise_if(b.icmp_signed("!=", k, k2), "ValueError",
                "matmul: Input operand 1 has a mismatch in its core dimension 0, with gufunc signature "
                "(n?,k),(k,m?)->(n?,m?) (size {0} is different from {1})", [k2, k])
    batch_rank = max(x.rank, y.rank) - 2
    x_batch = NativeTensor(x.dtype, x.data, x.shape[:-2], x.strides[:-2])
    y_batch = NativeTensor(y.dtype, y.data, y.shape[:-2], y.strides[:-2])
    batch, (x_strides, y_strides) = broadcast(em, [x_batch, y_batch], batch_rank)
    out = em.allocate(out_dtype, [*batch, n, m])
    zero = em.cast(const(0), DType.INT64, out_dtype)
    with em.loop_nest(out.shape, "zero") as index:
        em.store(out_dtype, zero, em.element_pointer(out, index))
    multiply = SCALAR_LOWERINGS["np::multiply"]
    add = SCALAR_LOWERINGS["np::add"]
    scalar = Scalar(em, loop_dtype, loop_dtype, python=False)
    with em.loop_nest(batch, "batch") as bi:
        xs = NativeTensor(x.dtype, em.element_pointer(NativeTensor(x.dtype, x.data, batch, x_strides), bi),
                          [n, k], x.strides[-2:])
        ys = NativeTensor(y.dtype, em.element_pointer(NativeTensor(y.dtype, y.data, batch, y_strides), bi),
                          [k, m], y.strides[-2:])
        os = NativeTensor(out.dtype, em.element_pointer(NativeTensor(out.dtype, out.data, batch, out.strides[:-2]),
                                                        bi), [n, m], out.strides[-2:])
        with em.for_range(n, "row") as i, em.for_range(k, "inner") as p:
            a = em.cast(em.load(x.dtype, em.element_pointer(xs, [i, p])), x.dtype, loop_dtype)
            with em.for_range(m, "column") as j:
                target = em.element_pointer(os, [i, j])
                product = multiply(scalar, a, em.cast(em.load(y.dtype, em.element_pointer(ys, [p, j])), y.dtype,
                                                      loop_dtype))
                total = add(scalar, em.cast(em.load(out_dtype, target), out_dtype, loop_dtype), product)
                em.store(out_dtype, em.cast(total, loop_dtype, out_dtype), target)
    keep = [a for a in range(out.rank)
            if not ((a == out.rank - 2 and inputs[0].rank == 1) or (a == out.rank - 1 and inputs[1].rank == 1))]
    shape = [out.shape[a] for a in keep]
    out_type = node.output.type
    shape = [const(d) if isinstance(d, int) else s for d, s in zip(out_type.shape, shape)]
    return [NativeTensor(out.dtype, out.data, shape, [out.strides[a] for a in keep])]
