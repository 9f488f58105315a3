"""decompose_variance claims bit-for-bit equality with NumPy's np.var and
np.std (float32, float64, ddof=0, last axis, keepdims): the interpreter runs
the op table's NumPy references, so the graph before and after the pass
must give identical bits on any input, inf and NaN included."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from jitc.ir.interpreter import run_graph
from jitc.ir.parser import parse_graph
from jitc.ir.passes import get_pass

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # inf - inf in the deviations
TYPES = {np.float32: "Float", np.float64: "Double"}


@given(st.sampled_from(sorted(TYPES, key=str)), st.sampled_from(["var", "std"]), st.data())
def test_decomposed_variance_is_bit_for_bit_numpys(dtype, kind, data):
    array = data.draw(hnp.arrays(dtype, hnp.array_shapes(min_dims=1, max_dims=3, max_side=9),
                                 elements=st.floats(width=np.finfo(dtype).bits, allow_subnormal=True)))
    rank, name = array.ndim, TYPES[dtype]
    source = (f"graph(%x : {name}({', '.join(['*'] * rank)})):\n"
              f"  %v : {name}({', '.join(['*'] * (rank - 1) + ['1'])}) = "
              f"np::{kind}[axis=-1, keepdims=True, ddof=0](%x)\n  return (%v)\n")
    graph = parse_graph(source)
    assert get_pass("decompose_variance").run(graph)
    assert f"np::{kind}" not in str(graph)
    [decomposed] = run_graph(graph, array)
    expected = getattr(np, kind)(array, axis=-1, keepdims=True)
    assert decomposed.dtype == expected.dtype
    np.testing.assert_array_equal(decomposed.view(np.uint8), expected.view(np.uint8))
