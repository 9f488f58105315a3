"""The RNN from the PyTorch 1.0 announcement, in plain NumPy.

`rnn` runs eagerly as written; `jitc.script(rnn)` compiles it with the loop
kept as a loop in the IR.

Run:  python examples/rnn.py   (checks the compiled RNN against NumPy)
"""
import sys
import time

import numpy as np

import jitc

TOLERANCE = 1e-5  # float32, relative and absolute


def rnn(x, h, W_h, U_h, b_h):
    y = []
    for t in range(x.shape[0]):
        h = np.tanh(x[t] @ W_h + h @ U_h + b_h)
        y += [h]
    return np.stack(y), h


def example_inputs(T=64, B=8, D=64, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    scale = 1 / np.sqrt(D)
    return (rng.standard_normal((T, B, D)).astype(dtype), np.zeros((B, D), dtype),
            (rng.standard_normal((D, D)) * scale).astype(dtype),
            (rng.standard_normal((D, D)) * scale).astype(dtype), np.zeros(D, dtype))


def main():
    compiled = jitc.script(rnn)
    for T in (64, 3):
        args = example_inputs(T=T)
        start = time.perf_counter()
        results = compiled(*args)
        seconds = time.perf_counter() - start
        for name, actual, expected in zip(("outputs", "h"), results, rnn(*args)):
            assert actual.dtype == expected.dtype and actual.shape == expected.shape, name
            np.testing.assert_allclose(actual, expected, rtol=TOLERANCE, atol=TOLERANCE, err_msg=name)
        print(f"scripted RNN, {T} steps: matches NumPy ({seconds * 1e3:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
