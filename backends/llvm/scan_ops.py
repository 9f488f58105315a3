"""Scans (np.cumsum, np.cumprod): one pass over x in C order, where each
element of the result is the one before it along the axis combined with x's
element, in the result dtype, as NumPy's `add.accumulate` does. When the
axis is not the last one, the inner loop runs along rows that do not depend
on each other, so it vectorises."""
from __future__ import annotations

from ...ir.ops.rules import normalize_axis
from .emitter import const
from .layout import NativeTensor
from .registry import attribute, lowers
from .scalar_ops import SCALAR_LOWERINGS, Scalar

_COMBINE = {"np::cumsum": "np::add", "np::cumprod": "np::multiply"}


@lowers(*_COMBINE)
def scan(cg, node, inputs):
    em, b = cg.em, cg.builder
    x, dtype = inputs[0], node.output.type.dtype
    axis = attribute(node, "axis")
    if axis is None or x.rank == 0:  # C order of the elements: a contiguous 1-d view
        x = em.contiguous(x)
        size = em.product(x.shape)
        x, axis = NativeTensor(x.dtype, x.data, [size], [const(1)]), 0
    axis = normalize_axis(axis, x.rank)
    shape = [const(d) if isinstance(d, int) else s for d, s in zip(node.output.type.shape, x.shape)]
    out = em.allocate(dtype, shape)
    combine = SCALAR_LOWERINGS[_COMBINE[node.kind]]
    scalar = Scalar(em, dtype, dtype, python=False)
    reads, writes = em.separate_scopes()
    with em.loop_nest(shape, "scan") as index:
        value = em.cast(em.load(x.dtype, em.element_pointer(x, index), reads), x.dtype, dtype)
        previous = list(index)
        previous[axis] = b.sub(index[axis], const(1))
        first = b.icmp_signed("==", index[axis], const(0))
        with b.if_else(first) as (then, otherwise):
            with then:
                em.store(dtype, value, em.element_pointer(out, index), writes)
            with otherwise:
                running = em.load(dtype, em.element_pointer(out, previous), writes)
                em.store(dtype, combine(scalar, running, value), em.element_pointer(out, index), writes)
    return [out]
