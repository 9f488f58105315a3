"""np.matmul with NumPy's 1-d promotion and batch broadcasting: each pair
of float matrices goes to the register-blocked kernel of small_matmul.py
when small, else to the BLAS's gemm; mixed-dtype and integer products to
a loop nest."""
from __future__ import annotations

import numpy as np
from llvmlite import ir

from ...ir.ops.rules import ufunc_dtypes
from ...ir.types import ANY_DIM, DType, TensorType
from .. import UnsupportedOpError
from .blas import gemm_available
from .elementwise import broadcast
from .emitter import ErrorTable, FunctionEmitter, Lowering, const
from .layout import I32, I64, I64P, VOID, NativeTensor, check_dtype, flatten, storage_type, unflatten
from .registry import lowers
from .runtime import declare
from .scalar_ops import SCALAR_LOWERINGS, Scalar
from . import runtime_library, small_matmul


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
    if y.rank == 2 and x.rank > 2:
        # a stack of matrices times one matrix is one product of (batch * n) rows: one BLAS call
        rows_first = em.contiguous(x)
        rows = NativeTensor(x.dtype, rows_first.data, [em.product(x.shape[:-1]), k], [k, const(1)])
        product = _matrix_product(cg, rows, y, loop_dtype, out_dtype)
        shape = [*x.shape[:-1], m]
        out = NativeTensor(out_dtype, product.data, shape, em.contiguous_strides(shape))
        return [_result_view(node, inputs, out)]
    batch_rank = max(x.rank, y.rank) - 2
    x_batch = NativeTensor(x.dtype, x.data, x.shape[:-2], x.strides[:-2])
    y_batch = NativeTensor(y.dtype, y.data, y.shape[:-2], y.strides[:-2])
    batch, (x_strides, y_strides) = broadcast(em, [x_batch, y_batch], batch_rank)
    out = em.allocate(out_dtype, [*batch, n, m])
    use_blas = gemm_available()
    with em.loop_nest(batch, "batch") as bi:
        xs, ys, os = (NativeTensor(t.dtype, em.element_pointer(NativeTensor(t.dtype, t.data, batch, strides), bi),
                                   shape, t.strides[-2:])
                      for t, strides, shape in ((x, x_strides, [n, k]), (y, y_strides, [k, m]),
                                                (out, out.strides[:-2], [n, m])))
        _product_into(cg, xs, ys, os, loop_dtype, use_blas)
    return [_result_view(node, inputs, out)]


def _result_view(node, inputs, out: NativeTensor) -> NativeTensor:
    """The product without the dims 1-d operands were given for it."""
    keep = [a for a in range(out.rank)
            if not ((a == out.rank - 2 and inputs[0].rank == 1) or (a == out.rank - 1 and inputs[1].rank == 1))]
    shape = [out.shape[a] for a in keep]
    shape = [const(d) if isinstance(d, int) else s for d, s in zip(node.output.type.shape, shape)]
    return NativeTensor(out.dtype, out.data, shape, [out.strides[a] for a in keep])


def _matrix_product(cg, x: NativeTensor, y: NativeTensor, loop_dtype: DType, out_dtype: DType) -> NativeTensor:
    out = cg.em.allocate(out_dtype, [x.shape[0], y.shape[1]])
    _product_into(cg, x, y, out, loop_dtype, gemm_available())
    return out


def _product_into(cg, x: NativeTensor, y: NativeTensor, out: NativeTensor, loop_dtype: DType, use_blas: bool):
    """out = x @ y for matrices, through one helper function per module and
    dtypes (so several products do not each bring their loop nests and BLAS
    paths): see `_product_body`."""
    em, b = cg.em, cg.builder
    matrix = [TensorType(t.dtype, (ANY_DIM, ANY_DIM)) for t in (x, y, out)]
    if runtime_library.used_in(em.module) and _is_float_product(x, y, out, loop_dtype):
        _call_library(em, runtime_library.matmul(loop_dtype, use_blas), x, y, out, matrix)
        return
    name = f"jitc_matmul.{x.dtype.value}.{y.dtype.value}.{out.dtype.value}.{loop_dtype.value}.{int(use_blas)}"
    helper = em.module.globals.get(name)
    if helper is None:
        helper = ir.Function(em.module, ir.FunctionType(I32, [I64P] + [I64] * 15), name)
        helper.linkage = "internal"
        inner = FunctionEmitter(em.module, helper, em.errors)
        operands = [unflatten(inner.builder, list(helper.args[1 + 5 * i:6 + 5 * i]), t) for i, t in enumerate(matrix)]
        _product_body(Lowering(inner), *operands, loop_dtype, use_blas)
        inner.builder.ret(ir.Constant(I32, 0))
    flat = [slot for value, type in zip((x, y, out), matrix) for slot in flatten(b, value, type)]
    code = b.call(helper, [em.ctx, *flat])
    with b.if_then(b.icmp_signed("!=", code, ir.Constant(I32, 0)), likely=False):
        em.fail_with(code)


def _call_library(em, function, x: NativeTensor, y: NativeTensor, out: NativeTensor, matrix: list) -> None:
    """Call the runtime library's helper (runtime_library.py), its error codes translated to this module's."""
    b = em.builder
    helper = declare(em.module, function.name, I32, [I64P] + [I64] * 15)
    flat = [slot for value, type in zip((x, y, out), matrix) for slot in flatten(b, value, type)]
    code = b.call(helper, [em.ctx, *flat])
    with b.if_then(b.icmp_signed("!=", code, ir.Constant(I32, 0)), likely=False):
        translated = code
        for index, (exception, message) in enumerate(function.errors):
            translated = b.select(b.icmp_signed("==", code, ir.Constant(I32, index + 1)),
                                  ir.Constant(I32, em.errors.code(exception, message)), translated)
        em.fail_with(translated)


def emit_library_matmul(module: ir.Module, name: str, dtype: DType, use_blas: bool) -> list[tuple[str, str]]:
    """Define the runtime library's `name` in `module`: out = x @ y for
    matrices of float `dtype`, as `_product_body` does; its error table."""
    helper = ir.Function(module, ir.FunctionType(I32, [I64P] + [I64] * 15), name)
    errors = ErrorTable()
    inner = FunctionEmitter(module, helper, errors)
    matrix = TensorType(dtype, (ANY_DIM, ANY_DIM))
    operands = [unflatten(inner.builder, list(helper.args[1 + 5 * i:6 + 5 * i]), matrix) for i in range(3)]
    _product_body(Lowering(inner), *operands, dtype, use_blas)
    inner.builder.ret(ir.Constant(I32, 0))
    return errors.entries


def _product_body(cg, x: NativeTensor, y: NativeTensor, out: NativeTensor, loop_dtype: DType, use_blas: bool):
    """Float products of one dtype whose y rows are contiguous go to the
    register-blocked kernel (small_matmul.py) up to KERNEL_PRODUCT
    multiply-adds, and to the BLAS above; other small ones to loops."""
    em, b = cg.em, cg.builder
    if not _is_float_product(x, y, out, loop_dtype):
        _loops(em, x, y, out, loop_dtype)
        return
    work = em.product([x.shape[0], x.shape[1], y.shape[1]])
    sized = ir.Constant(ir.IntType(1), 1)
    if use_blas:
        y_bytes = b.mul(b.mul(x.shape[1], y.shape[1]), const(loop_dtype.itemsize))
        sized = b.and_(b.icmp_signed("<=", work, const(KERNEL_PRODUCT)),
                       b.icmp_signed("<=", y_bytes, const(KERNEL_Y_BYTES)))
    # a y whose rows are strided (a transposed matrix: q @ k.T) is copied row-major for the
    # kernel when x has a band of rows (the copy costs k*n, the product m*k*n), up to
    # COPIED_PRODUCT multiply-adds: above, the BLAS reads the transposed y as it is
    copied = b.and_(b.and_(b.icmp_signed("<=", work, const(COPIED_PRODUCT)),
                           b.icmp_signed("==", out.strides[1], const(1))),
                    b.icmp_signed(">=", x.shape[0], const(small_matmul.BAND_ROWS)))
    with b.if_else(b.and_(sized, small_matmul.fits(em, y, out))) as (blocked, other):
        with blocked:
            small_matmul.emit_product(em, x, y, out, loop_dtype)
        with other:
            with b.if_else(copied) as (copy, rest):
                with copy:
                    small_matmul.emit_product(em, x, em.contiguous(y), out, loop_dtype)
                with rest:
                    _other_product(cg, x, y, out, loop_dtype, use_blas, work)


def _other_product(cg, x, y, out, loop_dtype: DType, use_blas: bool, work: ir.Value) -> None:
    """A float product the kernel does not take: loops below SMALL_PRODUCT (or without a BLAS), else the BLAS."""
    em, b = cg.em, cg.builder
    if not use_blas:
        _loops(em, x, y, out, loop_dtype)
        return
    with b.if_else(b.icmp_signed("<=", work, const(SMALL_PRODUCT))) as (loops, gemm):
        with loops:
            _loops(em, x, y, out, loop_dtype)
        with gemm:
            _gemm(cg, x, y, out)


def _is_float_product(x: NativeTensor, y: NativeTensor, out: NativeTensor, loop_dtype: DType) -> bool:
    return loop_dtype in (DType.FLOAT32, DType.FLOAT64) and x.dtype == y.dtype == out.dtype == loop_dtype


# Below this many multiply-adds a loop nest beats the cost of calling the BLAS
# (for operands the kernel does not take: y with strided rows).
SMALL_PRODUCT = 4096
# Up to this many multiply-adds, with y up to this many bytes, the register-blocked kernel
# beats the BLAS; float32, one thread, CPU us kernel / BLAS (this call's overhead included):
# 8x64x64 1.5/2.2, 32x256x256 50/62, 4x512x512 33/74, 512x64x64 51/54, 128x128x128 55/53;
# above, BLAS's packing wins: 256x256x256 459/402, 64x512x512 655/438, 4x2048x2048 3409/1299.
KERNEL_PRODUCT = 1 << 21
KERNEL_Y_BYTES = 1 << 20
# Up to this many multiply-adds a y with strided rows is copied for the kernel; float32 q @ k.T,
# q (t, 16), two threads, us a call copied / loops or BLAS: t=16 1.60/4.74, 32 2.35/2.72,
# 64 2.90/4.71; the attention workload's 128x64x128 (4 heads) 363-442 / 316-333 per call.
COPIED_PRODUCT = 1 << 16


def _loops(em, x: NativeTensor, y: NativeTensor, out: NativeTensor, loop_dtype: DType) -> None:
    """out = x @ y for one pair of matrices, as an i-p-j loop nest."""
    scalar = Scalar(em, loop_dtype, loop_dtype, python=False)
    multiply, add = SCALAR_LOWERINGS["np::multiply"], SCALAR_LOWERINGS["np::add"]
    n, k, m = x.shape[0], x.shape[1], y.shape[1]
    reads, writes = em.separate_scopes()
    zero = em.cast(const(0), DType.INT64, out.dtype)
    with em.loop_nest([n, m], "zero") as index:
        em.store(out.dtype, zero, em.element_pointer(out, index), writes)
    with em.for_range(n, "row") as i, em.for_range(k, "inner") as p:
        a = em.cast(em.load(x.dtype, em.element_pointer(x, [i, p]), reads), x.dtype, loop_dtype)
        with em.for_range(m, "column") as j:
            target = em.element_pointer(out, [i, j])
            b_value = em.cast(em.load(y.dtype, em.element_pointer(y, [p, j]), reads), y.dtype, loop_dtype)
            total = add(scalar, em.cast(em.load(out.dtype, target, writes), out.dtype, loop_dtype),
                        multiply(scalar, a, b_value))
            em.store(out.dtype, em.cast(total, loop_dtype, out.dtype), target, writes)


_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112


def _blas_operand(em, t: NativeTensor):
    """(transpose flag, leading dimension, data) describing matrix `t` to
    cblas, copying it when neither it nor its transpose has unit stride."""
    b = em.builder
    rows, cols = t.shape
    row_stride, col_stride = t.strides

    def at_most_one(size):
        return b.icmp_signed("<=", size, const(1))

    def at_least_one(size):
        return b.select(at_most_one(size), const(1), size)

    straight = b.and_(b.or_(at_most_one(cols), b.icmp_signed("==", col_stride, const(1))),
                      b.or_(at_most_one(rows), b.icmp_signed(">=", row_stride, at_least_one(cols))))
    transposed = b.and_(b.or_(at_most_one(rows), b.icmp_signed("==", row_stride, const(1))),
                        b.or_(at_most_one(cols), b.icmp_signed(">=", col_stride, at_least_one(rows))))
    straight_ld = b.select(at_most_one(rows), at_least_one(cols), row_stride)
    transposed_ld = b.select(at_most_one(cols), at_least_one(rows), col_stride)
    data = em.alloca_builder.alloca(t.data.type)
    b.store(t.data, data)
    ld = em.alloca_builder.alloca(I64)
    b.store(b.select(straight, straight_ld, transposed_ld), ld)
    with b.if_then(b.not_(b.or_(straight, transposed)), likely=False):
        copy = em.allocate(t.dtype, t.shape)
        em.copy_into(t, copy)
        b.store(copy.data, data)
        b.store(at_least_one(cols), ld)
    flag = b.select(b.and_(b.not_(straight), transposed), ir.Constant(I32, _TRANS), ir.Constant(I32, _NO_TRANS))
    return flag, b.load(ld), b.load(data)


def _blas_function(cg, kind: str, dtype: DType, arguments: list) -> ir.Function:
    """jitc_sgemm/jitc_dgemm/jitc_sgemv/jitc_dgemv, declared once per module."""
    name = f"jitc_{'s' if dtype == DType.FLOAT32 else 'd'}{kind}"
    return declare(cg.module, name, VOID, arguments)


def _gemm(cg, x: NativeTensor, y: NativeTensor, out: NativeTensor) -> None:
    """out = x @ y through cblas (out is a fresh C-contiguous matrix): gemv
    when x is a single row (as NumPy does; gemm is several times slower
    there), gemm otherwise."""
    em, b = cg.em, cg.builder
    element = storage_type(out.dtype)
    pointer = element.as_pointer()
    one, zero = ir.Constant(element, 1.0), ir.Constant(element, 0.0)
    n, k, m = x.shape[0], x.shape[1], y.shape[1]
    x_flag, x_ld, x_data = _blas_operand(em, x)
    y_flag, y_ld, y_data = _blas_operand(em, y)
    row = b.and_(b.icmp_signed("==", n, const(1)), b.icmp_signed(">", k, const(0)))
    with b.if_else(row) as (vector, matrix):
        with vector:  # out[0] = y^T x[0]
            gemv = _blas_function(cg, "gemv", out.dtype, [I32, I32, I64, I64, element, pointer, I64, pointer, I64,
                                                           element, pointer, I64])
            straight = b.icmp_signed("==", y_flag, ir.Constant(I32, _NO_TRANS))
            flag = b.select(straight, ir.Constant(I32, _TRANS), ir.Constant(I32, _NO_TRANS))
            x_step = b.select(b.icmp_signed("==", x_flag, ir.Constant(I32, _NO_TRANS)), const(1), x_ld)
            b.call(gemv, [ir.Constant(I32, _ROW_MAJOR), flag, b.select(straight, k, m), b.select(straight, m, k), one,
                          y_data, y_ld, x_data, x_step, zero, out.data, const(1)])
        with matrix:
            gemm = _blas_function(cg, "gemm", out.dtype, [I32, I32, I32, I64, I64, I64, element, pointer, I64,
                                                           pointer, I64, element, pointer, I64])
            out_ld = b.select(b.icmp_signed("<=", m, const(1)), const(1), m)
            b.call(gemm, [ir.Constant(I32, _ROW_MAJOR), x_flag, y_flag, n, m, k, one, x_data, x_ld, y_data, y_ld,
                          zero, out.data, out_ld])
