"""Small float matrix products as register-blocked loops, for products
where calling the BLAS costs more than the work (an RNN step's 8x64 @ 64x64,
a batch-1 layer's 1x256 @ 256x256).

Bands of BAND_ROWS rows of out = x @ y are computed tile by tile: a tile
is BAND_ROWS rows by BAND_VECTORS vectors of columns, held in registers
while a loop over k broadcasts one element of x per row and multiply-adds
it into vector loads of y's row k (8 accumulators, 2 loads and 4
broadcasts per 8 multiply-adds). Columns left over go one vector, then one
element, at a time. Rows left over (a gemv for single-row products) read
y's rows in memory order instead, STREAM_ROWS at a time, adding into out's
row: a gemv loads one y vector per multiply-add, so its speed is how well
y streams from the cache (a tile's walk down y's columns was 10% slower
on the batch-1 MLP, whose weights come from L3).

y and out need unit column stride (checked by `fits`); x may have any strides.
"""
from __future__ import annotations

import contextlib

from llvmlite import ir

from ...ir.types import ANY_DIM, INT, DType, TensorType
from .emitter import FunctionEmitter, const
from .layout import NativeTensor, storage_type
from .parallel import parallel_ranges, splits_on_pool
from .runtime import declare

# One AVX register; on targets without AVX LLVM splits each vector in two.
VECTOR_BYTES = 32
BAND_ROWS, BAND_VECTORS = 4, 2
STREAM_ROWS = 8


def fits(em: FunctionEmitter, y: NativeTensor, out: NativeTensor) -> ir.Value:
    """Whether y's and out's rows are contiguous (or have one column), as the kernel reads and writes them."""
    b = em.builder
    single_column = b.icmp_signed("<=", y.shape[1], const(1))
    return b.or_(single_column, b.and_(b.icmp_signed("==", y.strides[1], const(1)),
                                       b.icmp_signed("==", out.strides[1], const(1))))


def emit_product(em: FunctionEmitter, x: NativeTensor, y: NativeTensor, out: NativeTensor, dtype: DType) -> None:
    """out = x @ y for float matrices of one dtype that `fits`."""
    b = em.builder
    lanes = VECTOR_BYTES // dtype.itemsize
    n = x.shape[0]
    bands = b.udiv(n, const(BAND_ROWS))
    with em.for_range(bands, "band") as band:
        _tiles_across(em, x, y, out, b.mul(band, const(BAND_ROWS)), BAND_ROWS,
                      ((BAND_VECTORS, lanes), (1, lanes), (1, 1)))
    first = b.mul(bands, const(BAND_ROWS))
    _rows_streaming(em, x, y, out, first, lanes)


def _rows_streaming(em, x, y, out, first: ir.Value, lanes: int) -> None:
    """out[first:] = x[first:] @ y for the rows left over from the bands, by
    `_row_streaming`, with y's columns split in vectors across the thread
    pool (parallel.py; threads per call cost more than a gemv takes): each
    thread streams its own columns of y, which can then stay in its core's
    cache from call to call (the batch-1 MLP's 768 KB of weights come from
    L3 on one core; half of them fit one core's L2)."""
    b = em.builder
    if not splits_on_pool():
        with em.for_range(b.sub(x.shape[0], first), "row") as row:
            _row_streaming(em, x, y, out, b.add(first, row), lanes, const(0), y.shape[1])
        return
    matrix = TensorType(x.dtype, (ANY_DIM, ANY_DIM))
    rows = b.sub(x.shape[0], first)
    vectors = b.udiv(b.add(y.shape[1], const(lanes - 1)), const(lanes))

    def piece(inner, values, start, end):  # columns [start * lanes, end * lanes) of every row
        x, y, out, first = values
        c = inner.builder
        columns = y.shape[1]
        left, right = (c.mul(bound, const(lanes)) for bound in (start, end))
        left, right = (c.select(c.icmp_unsigned(">", at, columns), columns, at) for at in (left, right))
        with inner.for_range(c.sub(x.shape[0], first), "row") as row:
            _row_streaming(inner, x, y, out, c.add(first, row), lanes, left, right)

    with b.if_then(b.icmp_signed(">", rows, const(0))):
        work = b.mul(rows, b.mul(x.shape[1], const(lanes)))
        parallel_ranges(em, vectors, work, [(x, matrix), (y, matrix), (out, matrix), (first, INT)], piece)


def _row_streaming(em, x, y, out, row: ir.Value, lanes: int, left: ir.Value, right: ir.Value) -> None:
    """out[row, left:right] = x[row] @ y[:, left:right] reading y's rows in
    order, STREAM_ROWS at a time (a gemv whose y comes from L3 is bound by
    how well it streams): out[row] is zeroed, then each block of rows adds
    its multiply-adds into every vector of out[row]; leftover rows go one at
    a time. `left` is a multiple of `lanes` (or `right`)."""
    b = em.builder
    k = x.shape[1]
    out_row = b.mul(row, out.strides[0])
    x_row = b.mul(row, x.strides[0])
    for width in (lanes, 1):
        kind = _kind(x.dtype, width)
        with _each_column(em, left, right, width, lanes) as column:
            b.store(ir.Constant(kind, None), _pointer(b, out.data, b.add(out_row, column), kind),
                    align=x.dtype.itemsize)
    blocks = b.udiv(k, const(STREAM_ROWS))
    with em.for_range(blocks, "block") as block:
        _add_rows(em, x, y, out, x_row, out_row, b.mul(block, const(STREAM_ROWS)), STREAM_ROWS, lanes, left, right)
    first = b.mul(blocks, const(STREAM_ROWS))
    with em.for_range(b.sub(k, first), "rest") as rest:
        _add_rows(em, x, y, out, x_row, out_row, b.add(first, rest), 1, lanes, left, right)


def _add_rows(em, x, y, out, x_row, out_row, top: ir.Value, rows: int, lanes: int, left, right) -> None:
    """out[row, left:right] += x[row, top:top+rows] @ y[top:top+rows, left:right], a vector of columns at a time."""
    b = em.builder
    align = x.dtype.itemsize
    scalars = [b.load(b.gep(x.data, [b.add(x_row, b.mul(b.add(top, const(r)), x.strides[1]))]), align=align)
               for r in range(rows)]
    y_rows = [b.mul(b.add(top, const(r)), y.strides[0]) for r in range(rows)]
    for width in (lanes, 1):
        kind = _kind(x.dtype, width)
        multiply_add = _multiply_add(em, x.dtype, width)
        factors = [_splat(b, a, kind) for a in scalars]
        with _each_column(em, left, right, width, lanes) as column:
            target = _pointer(b, out.data, b.add(out_row, column), kind)
            total = b.load(target, align=align)
            for r in range(rows):
                value = b.load(_pointer(b, y.data, b.add(y_rows[r], column), kind), align=align)
                total = b.call(multiply_add, [factors[r], value, total])
            b.store(total, target, align=align)


@contextlib.contextmanager
def _each_column(em, left: ir.Value, right: ir.Value, width: int, lanes: int):
    """Yields the first column of each piece of `width` columns in [left, right):
    every whole vector for width `lanes`, the columns after the last whole
    vector for width 1."""
    b = em.builder
    whole = b.udiv(b.sub(right, left), const(lanes))
    if width == lanes:
        with em.for_range(whole, "vectors") as vector:
            yield b.add(left, b.mul(vector, const(lanes)))
    else:
        first = b.add(left, b.mul(whole, const(lanes)))
        with em.for_range(b.sub(right, first), "columns") as column:
            yield b.add(first, column)


def _kind(dtype: DType, lanes: int) -> ir.Type:
    """The register type of `lanes` elements."""
    element = storage_type(dtype)
    return element if lanes == 1 else ir.VectorType(element, lanes)


def _multiply_add(em, dtype: DType, lanes: int) -> ir.Function:
    """llvm.fmuladd: fused where the target has FMA, a multiply and an add elsewhere."""
    kind = _kind(dtype, lanes)
    element = "f32" if dtype == DType.FLOAT32 else "f64"
    return declare(em.module, f"llvm.fmuladd.{element if lanes == 1 else f'v{lanes}{element}'}", kind, [kind] * 3)


def _splat(b: ir.IRBuilder, scalar: ir.Value, kind: ir.Type) -> ir.Value:
    """`scalar` in every lane of `kind` (itself when `kind` is a scalar)."""
    if not isinstance(kind, ir.VectorType):
        return scalar
    undefined, i32 = ir.Constant(kind, ir.Undefined), ir.IntType(32)
    first = b.insert_element(undefined, scalar, ir.Constant(i32, 0))
    return b.shuffle_vector(first, undefined, ir.Constant(ir.VectorType(i32, kind.count), None))


def _tiles_across(em, x, y, out, top: ir.Value, rows: int, widths) -> None:
    """The tiles of rows top..top+rows across all columns: as many of each
    (vectors, lanes) width as fit, widest first; the last width is one column."""
    b = em.builder
    start = const(0)
    for vectors, lanes in widths:
        width = vectors * lanes
        count = b.udiv(b.sub(y.shape[1], start), const(width))
        with em.for_range(count, f"tile{width}") as tile:
            _tile(em, x, y, out, top, b.add(start, b.mul(tile, const(width))), rows, vectors, lanes)
        start = b.add(start, b.mul(count, const(width)))


def _tile(em, x, y, out, top, left, rows: int, vectors: int, lanes: int) -> None:
    """out[top:top+rows, left:left+vectors*lanes] = x[top:top+rows] @ y[:, same columns],
    its rows * vectors accumulators in registers (stack slots that LLVM promotes)."""
    b = em.builder
    kind = _kind(x.dtype, lanes)
    multiply_add = _multiply_add(em, x.dtype, lanes)
    align = x.dtype.itemsize
    sums = [[em.alloca_builder.alloca(kind, name="sum") for _ in range(vectors)] for _ in range(rows)]
    for row in sums:
        for slot in row:
            b.store(ir.Constant(kind, None), slot)
    x_rows = [b.mul(b.add(top, const(r)), x.strides[0]) for r in range(rows)]
    with em.for_range(x.shape[1], "k") as p:
        y_row = b.add(b.mul(p, y.strides[0]), left)
        loaded = [b.load(_pointer(b, y.data, b.add(y_row, const(v * lanes)), kind), align=align)
                  for v in range(vectors)]
        x_column = b.mul(p, x.strides[1])
        for r in range(rows):
            a = _splat(b, b.load(b.gep(x.data, [b.add(x_rows[r], x_column)]), align=align), kind)
            for v in range(vectors):
                b.store(b.call(multiply_add, [a, loaded[v], b.load(sums[r][v])]), sums[r][v])
    for r in range(rows):
        out_row = b.add(b.mul(b.add(top, const(r)), out.strides[0]), left)
        for v in range(vectors):
            b.store(b.load(sums[r][v]), _pointer(b, out.data, b.add(out_row, const(v * lanes)), kind), align=align)


def _pointer(b: ir.IRBuilder, data: ir.Value, offset: ir.Value, kind: ir.Type) -> ir.Value:
    pointer = b.gep(data, [offset])
    return pointer if pointer.type.pointee == kind else b.bitcast(pointer, kind.as_pointer())
