"""The RNN from the PyTorch 1.0 announcement, in plain NumPy.

`rnn` runs eagerly as written; `jitc.script(rnn)` compiles it with the loop
kept as a loop in the IR.

Run:  python examples/rnn.py   (checks the compiled RNN against NumPy)
"""
import sys

import numpy as np

import jitc
from example_checks import assert_matches

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
        assert_matches(f"scripted RNN, {T} steps", compiled(*args), rnn(*args), TOLERANCE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
