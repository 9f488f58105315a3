"""Recurrent cells: one time step each, so a model loops over time in
Python and `jitc.script` keeps that loop as a loop. Layouts, gate order
and initialisation are PyTorch's: `weight_ih` (gates * hidden, input),
`weight_hh` (gates * hidden, hidden), all drawn from U(-1/sqrt(hidden), 1/sqrt(hidden))."""
from __future__ import annotations

import math

import numpy as np

from .layers import uniform
from .module import Module


def sigmoid(x):
    """The logistic function, through tanh so that no exp overflows."""
    return 0.5 * (np.tanh(0.5 * x) + 1)


class RecurrentCell(Module):
    """The parameters of a cell with `gates` blocks of `hidden_size` rows."""

    def __init__(self, input_size: int, hidden_size: int, gates: int, bias: bool, dtype, rng):
        rng = np.random.default_rng(rng)
        bound = 1 / math.sqrt(hidden_size)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.dtype = np.dtype(dtype)
        self.weight_ih = uniform(rng, bound, (gates * hidden_size, input_size), dtype)
        self.weight_hh = uniform(rng, bound, (gates * hidden_size, hidden_size), dtype)
        self.bias_ih = uniform(rng, bound, (gates * hidden_size,), dtype) if bias else None
        self.bias_hh = uniform(rng, bound, (gates * hidden_size,), dtype) if bias else None

    def pre_activation(self, x, h):
        """`x @ weight_ih.T + h @ weight_hh.T` plus both biases."""
        y = x @ self.weight_ih.T + h @ self.weight_hh.T
        if self.bias_ih is not None:
            y = y + self.bias_ih + self.bias_hh
        return y

    def zeros(self, x):
        """The initial state for a batch `x`: zeros of shape (batch, hidden_size)."""
        return np.zeros((x.shape[0], self.hidden_size), dtype=self.dtype)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias_ih is not None}"


class RNNCell(RecurrentCell):
    """`h' = tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)` (or relu) on a batch
    `x` of shape (batch, input_size); `h` defaults to zeros."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 dtype=np.float32, rng=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, 1, bias, dtype, rng)
        self.nonlinearity = nonlinearity

    def forward(self, x, h=None):
        if h is None:
            h = self.zeros(x)
        y = self.pre_activation(x, h)
        if self.nonlinearity == "tanh":
            return np.tanh(y)
        return np.maximum(y, 0)


class LSTMCell(RecurrentCell):
    """One LSTM step on a batch `x` of shape (batch, input_size) with state
    `(h, c)` (zeros by default); returns the new `(h, c)`. Gates in
    PyTorch's order: input, forget, cell, output."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype=np.float32, rng=None):
        super().__init__(input_size, hidden_size, 4, bias, dtype, rng)

    def forward(self, x, state=None):
        if state is None:
            h = self.zeros(x)
            c = h
        else:
            h, c = state
        gates = self.pre_activation(x, h)
        size = self.hidden_size
        input_gate = sigmoid(gates[:, :size])
        forget_gate = sigmoid(gates[:, size:2 * size])
        cell_gate = np.tanh(gates[:, 2 * size:3 * size])
        output_gate = sigmoid(gates[:, 3 * size:])
        c = forget_gate * c + input_gate * cell_gate
        h = output_gate * np.tanh(c)
        return h, c


__all__ = ["RNNCell", "LSTMCell", "sigmoid"]
