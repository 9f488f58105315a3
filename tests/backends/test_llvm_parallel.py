"""Loops split across native threads (backends/llvm/parallel.py): results
equal NumPy's whatever the thread count, also while several Python threads
call at once. Each case runs in a child process, where JITC_NUM_THREADS
takes effect before anything compiles."""
from __future__ import annotations

import textwrap

import pytest

from support.processes import run_program

PROGRAM = textwrap.dedent('''
    import threading
    import numpy as np
    import jitc

    def gelu(x, b):
        y = x + b
        return 0.5 * y * (1.0 + np.tanh(0.7978845608 * (y + 0.044715 * y ** 3)))

    def softmax(x):
        e = np.exp(x - np.max(x, axis=-1, keepdims=True))
        return e / np.sum(e, axis=-1, keepdims=True)

    rng = np.random.default_rng(0)
    x = rng.standard_normal((700, 1000)).astype(np.float32)
    b = rng.standard_normal(1000).astype(np.float32)
    cases = [(jitc.script(gelu), gelu, (x, b)), (jitc.script(gelu), gelu, (x.T, b[:700])),
             (jitc.script(softmax), softmax, (x,)), (jitc.script(softmax), softmax, (x[:, ::-2],))]
    for compiled, eager, args in cases:
        np.testing.assert_allclose(compiled(*args), eager(*args), rtol=2e-5, atol=1e-6)

    def power(x, y):
        return x ** y

    # an error in one piece of a split loop (late rows, so another thread's) is raised, and stops it
    xi, yi = rng.integers(-3, 4, (700, 1000)), rng.integers(0, 3, (700, 1000))
    np.testing.assert_array_equal(jitc.script(power)(xi, yi), power(xi, yi))
    yi[650, 3] = -1
    for function in (power, jitc.script(power)):
        try:
            function(xi, yi)
        except ValueError as error:
            assert "Integers to negative integer powers are not allowed" in str(error), error
        else:
            raise AssertionError(f"{function} raised no ValueError")
    failures = []

    def hammer(seed):
        local = np.random.default_rng(seed).standard_normal((300, 700)).astype(np.float32)
        for _ in range(5):
            if not np.allclose(cases[2][0](local), softmax(local), rtol=2e-5, atol=1e-6):
                failures.append(seed)

    threads = [threading.Thread(target=hammer, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    print("ok")
''')


@pytest.mark.parametrize("threads", ["1", "3"])
def test_split_loops_match_numpy(threads, tmp_path):
    assert run_program(PROGRAM, tmp_path, JITC_NUM_THREADS=threads).endswith("ok")
