"""Float matrix products on the LLVM backend, compared with eager NumPy and
the interpreter: the register-blocked kernel of small_matmul.py (its 4-row
bands and single rows, wide tiles, one-vector and one-column edges, k
blocks and their leftover rows), the BLAS above its thresholds, and the
fallbacks for operands it does not take (y with strided rows)."""
from __future__ import annotations

import re
import textwrap

import llvmlite.binding as llvm
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jitc.backends.llvm import linalg, small_matmul
from support.backend_checks import check_script
from support.processes import run_program

pytestmark = pytest.mark.filterwarnings("error::jitc.CompileWarning")

# float32 sums in another order than the BLAS's agree to about 1e-6 here
TOLERANCE = {np.float32: 1e-4, np.float64: 1e-12}
FLOATS = (np.float32, np.float64)


def matmul(a, b):
    return a @ b


def _operands(dtype, n, k, m, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, k)).astype(dtype), rng.standard_normal((k, m)).astype(dtype)


def _check(a, b):
    tolerance = TOLERANCE[a.dtype.type]
    check_script(matmul, a, b, rtol=tolerance, atol=tolerance)


def _edge_columns(dtype) -> list[int]:
    """Column counts around each tile width of the kernel for `dtype`: a
    band's wide tile, one vector, one column."""
    lanes = small_matmul.VECTOR_BYTES // np.dtype(dtype).itemsize
    wide = small_matmul.BAND_VECTORS * lanes
    return sorted({1, 2, lanes - 1} | {w + d for w in (wide, lanes) for d in (-1, 0, 1)} | {3 * wide + lanes + 3})


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("n", [1, 3, 4, 5, 8, 9])
def test_kernel_tile_edges(dtype, n):
    for k in (0, 1, 2, 5, 33):  # k=0: zeros; 1, 2, 5, 33: leftover y rows after STREAM_ROWS blocks
        for m in _edge_columns(dtype):
            _check(*_operands(dtype, n, k, m, seed=n * 1000 + k * 100 + m))


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
def test_kernel_strided_operands(dtype):
    a, b = _operands(dtype, 9, 13, 21)
    wide_a, wide_b = _operands(dtype, 18, 26, 42, seed=1)
    cases = [(np.asfortranarray(a), b),              # x with unit row stride: any x strides are read
             (wide_a[::2, ::2], b),                    # x with strides in both dims
             (a, wide_b[::2, :21]),                    # y rows apart (row stride > columns)
             (a, wide_b[:13, ::2]),                    # y with strided columns: copied row-major for the kernel
             (a, np.asfortranarray(b)),                # y transposed: copied row-major for the kernel
             (a[:3], np.asfortranarray(b)),            # y transposed, under a band of rows: not copied
             (a[::-1], b[::-1, ::-1])]                 # negative strides
    for x, y in cases:
        _check(x, y)


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
def test_kernel_batches_and_vectors(dtype):
    rng = np.random.default_rng(3)

    def sample(*shape):
        return rng.standard_normal(shape).astype(dtype)
    cases = [(sample(3, 5, 17), sample(17, 19)),         # a stack times one matrix: one product of 15 rows
             (sample(2, 5, 7), sample(2, 7, 11)),        # a batch of products
             (sample(2, 1, 5, 7), sample(3, 7, 11)),     # broadcast batch dims
             (sample(17), sample(17, 40)),               # a vector times a matrix (a gemv)
             (sample(6, 17), sample(17)),                # a matrix times a vector: y is one column
             (sample(17), sample(17))]
    for x, y in cases:
        _check(x, y)


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
def test_products_either_side_of_the_blas_thresholds(dtype):
    """The benchmark shapes (kernel) and products the BLAS takes: more
    multiply-adds than KERNEL_PRODUCT, or a y over KERNEL_Y_BYTES."""
    y_side = int((linalg.KERNEL_Y_BYTES / np.dtype(dtype).itemsize) ** 0.5) + 1
    for n, k, m in ((8, 64, 64), (1, 256, 256), (130, 130, 130), (1, y_side, y_side)):
        _check(*_operands(dtype, n, k, m))


@given(st.sampled_from(FLOATS), st.integers(1, 11), st.integers(0, 12), st.integers(1, 40), st.booleans(),
       st.booleans())
def test_kernel_matches_numpy_on_any_shape(dtype, n, k, m, transposed_x, transposed_y):
    """Any shape, x and y either row-major or transposed (a transposed y, as
    in q @ k.T, is copied row-major for the kernel when x has a band of rows)."""
    a, b = _operands(dtype, n, k, m, seed=n * 10000 + k * 100 + m)
    _check(np.asfortranarray(a) if transposed_x else a, np.asfortranarray(b) if transposed_y else b)


def attention_scores(q, k):
    return q @ k.T


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("t", [4, 16, 33, 80])  # 80: above COPIED_PRODUCT, the BLAS
def test_products_with_a_transposed_view(dtype, t):
    """q @ k.T, the attention scores: y is a transposed view of k."""
    q, k = _operands(dtype, t, 16, t, seed=t)
    k = np.ascontiguousarray(k.T)
    tolerance = TOLERANCE[np.dtype(dtype).type]
    check_script(attention_scores, q, k, rtol=tolerance, atol=tolerance)


def test_integer_products_keep_their_loops():
    rng = np.random.default_rng(4)
    for dtype in (np.int32, np.int64):
        check_script(matmul, rng.integers(-9, 9, (5, 17)).astype(dtype), rng.integers(-9, 9, (17, 19)).astype(dtype))
    check_script(matmul, rng.standard_normal((5, 17)).astype(np.float32), rng.standard_normal((17, 19)))


@pytest.mark.skipif("+fma" not in llvm.get_host_cpu_features().flatten().split(","), reason="the host CPU has no FMA")
def test_kernel_multiply_adds_whole_vectors():
    """The kernel lives in the runtime library: the module declares it, the library's code has the FMAs."""
    import jitc
    from jitc.backends.llvm import engine, runtime_library
    from jitc.backends.llvm.blas import gemm_available
    from jitc.ir.types import DType
    compiled = jitc.script(matmul)
    a, b = _operands(np.float32, 8, 64, 64)
    kernel = runtime_library.matmul(DType.FLOAT32, gemm_available())
    assert re.search(rf'declare i32 @"?{kernel.name}\b', compiled.llvm_ir(a, b))
    machine = engine.target_machine()
    assembly = machine.emit_assembly(engine.optimise(kernel.text, machine))
    assert re.search(r"vfmadd\d+ps\s+[^\n]*%ymm", assembly), "no FMA on ymm registers in the kernel"


def test_kernel_without_a_blas(tmp_path):
    """With JITC_DISABLE_BLAS every float product whose y rows are contiguous
    takes the kernel, however large."""
    program = textwrap.dedent("""
        import numpy as np
        import jitc

        @jitc.script
        def matmul(a, b):
            return a @ b

        rng = np.random.default_rng(0)
        for n, k, m in ((3, 600, 700), (1, 700, 600), (9, 5, 3)):
            a = rng.standard_normal((n, k))
            b = rng.standard_normal((k, m))
            np.testing.assert_allclose(matmul(a, b), a @ b, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(matmul(a, np.asfortranarray(b)), a @ b, rtol=1e-12, atol=1e-12)
        print("ok")
    """)
    assert run_program(program, tmp_path, JITC_DISABLE_BLAS="1") == "ok"
