"""An LSTM over a sequence, built from `jitc.nn.LSTMCell` and a Python loop
over time, scripted unchanged: the loop stays a loop in the IR and the
cell's step is compiled into its body.

Run:  python examples/lstm.py
"""
import sys

import numpy as np

import jitc
from example_checks import assert_matches

TOLERANCE = 1e-5  # float32, relative and absolute


class LSTM(jitc.nn.Module):
    """Inputs of shape (T, batch, input_size) -> the hidden state at every
    step (T, batch, hidden_size) and the final (h, c)."""

    def __init__(self, input_size, hidden_size, seed=0):
        self.cell = jitc.nn.LSTMCell(input_size, hidden_size, rng=np.random.default_rng(seed))

    def forward(self, x, h, c):
        outputs = []
        for t in range(x.shape[0]):
            h, c = self.cell(x[t], (h, c))
            outputs.append(h)
        return np.stack(outputs), h, c


def example_inputs(T=32, batch=4, input_size=16, hidden_size=32, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, batch, input_size)).astype(np.float32)
    zeros = np.zeros((batch, hidden_size), np.float32)
    return x, zeros, zeros.copy()


def main():
    model = LSTM(16, 32)
    compiled = jitc.script(model)
    for T in (32, 5):
        args = example_inputs(T=T)
        assert_matches(f"scripted LSTM, {T} steps", compiled(*args), model(*args), TOLERANCE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
