"""Feed-forward layers, written in plain NumPy so that they run eagerly and
`jitc.script` compiles them unchanged. Parameters follow PyTorch's layouts
and initialisations, so PyTorch state dicts load into them; `rng` (a
`np.random.Generator` or a seed) makes the initialisation reproducible."""
from __future__ import annotations

import math

import numpy as np

from .module import Module


def uniform(rng: np.random.Generator, bound: float, shape: tuple[int, ...], dtype) -> np.ndarray:
    """Values drawn uniformly from [-bound, bound), PyTorch's default initialisation."""
    return rng.uniform(-bound, bound, shape).astype(dtype)


def pair(value) -> tuple[int, int]:
    """`3` -> (3, 3); `(3, 1)` stays."""
    if isinstance(value, int):
        return (value, value)
    first, second = value
    return (int(first), int(second))


class Linear(Module):
    """`y = x @ weight.T + bias`, with `weight` of shape (out_features, in_features)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=np.float32, rng=None):
        rng = np.random.default_rng(rng)
        bound = 1 / math.sqrt(in_features)
        self.in_features = in_features
        self.out_features = out_features
        self.weight = uniform(rng, bound, (out_features, in_features), dtype)
        self.bias = uniform(rng, bound, (out_features,), dtype) if bias else None

    def forward(self, x):
        y = x @ self.weight.T
        if self.bias is not None:
            y = y + self.bias
        return y

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Conv2d(Module):
    """2-D convolution (cross-correlation, as in PyTorch) of NCHW inputs
    with `weight` of shape (out_channels, in_channels, kh, kw).

    The forward pass zero-pads, then sums one matmul per kernel offset:
    the strided window of the input at that offset (channels last) times
    the weight's slice at that offset. Only slicing, concatenation,
    transposes, matmul and additions, so it compiles as written."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, bias: bool = True,
                 dtype=np.float32, rng=None):
        rng = np.random.default_rng(rng)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = pair(kernel_size)
        self.stride = pair(stride)
        self.padding = pair(padding)
        self.dtype = np.dtype(dtype)
        bound = 1 / math.sqrt(in_channels * self.kernel_size[0] * self.kernel_size[1])
        self.weight = uniform(rng, bound, (out_channels, in_channels, *self.kernel_size), dtype)
        self.bias = uniform(rng, bound, (out_channels,), dtype) if bias else None

    def forward(self, x):
        kernel_height, kernel_width = self.kernel_size
        stride_height, stride_width = self.stride
        pad_height, pad_width = self.padding
        x = x.transpose(0, 2, 3, 1)
        batch, height, width, channels = x.shape
        if pad_height > 0:
            rows = np.zeros((batch, pad_height, width, channels), dtype=self.dtype)
            x = np.concatenate([rows, x, rows], axis=1)
        if pad_width > 0:
            columns = np.zeros((batch, height + 2 * pad_height, pad_width, channels), dtype=self.dtype)
            x = np.concatenate([columns, x, columns], axis=2)
        out_height = (height + 2 * pad_height - kernel_height) // stride_height + 1
        out_width = (width + 2 * pad_width - kernel_width) // stride_width + 1
        span_height = stride_height * (out_height - 1) + 1
        span_width = stride_width * (out_width - 1) + 1
        y = np.zeros((batch, out_height, out_width, self.out_channels), dtype=self.dtype)
        for i in range(kernel_height):
            for j in range(kernel_width):
                window = x[:, i:i + span_height:stride_height, j:j + span_width:stride_width, :]
                y = y + window @ self.weight[:, :, i, j].T
        if self.bias is not None:
            y = y + self.bias
        return y.transpose(0, 3, 1, 2)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")


class LayerNorm(Module):
    """Normalises the last axis to zero mean and unit variance, then scales
    by `weight` (ones) and shifts by `bias` (zeros)."""

    def __init__(self, normalized_shape: int, eps: float = 1e-5, dtype=np.float32):
        self.eps = float(eps)
        self.weight = np.ones(normalized_shape, dtype)
        self.bias = np.zeros(normalized_shape, dtype)

    def forward(self, x):
        mean = x.mean(axis=-1, keepdims=True)
        centered = x - mean
        variance = (centered * centered).mean(axis=-1, keepdims=True)
        return centered / np.sqrt(variance + self.eps) * self.weight + self.bias

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"


class Embedding(Module):
    """Rows of `weight` (num_embeddings, embedding_dim) picked by integer ids."""

    def __init__(self, num_embeddings: int, embedding_dim: int, dtype=np.float32, rng=None):
        rng = np.random.default_rng(rng)
        self.weight = rng.standard_normal((num_embeddings, embedding_dim)).astype(dtype)

    def forward(self, ids):
        return self.weight[ids]

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, {self.weight.shape[1]}"


class ReLU(Module):
    def forward(self, x):
        return np.maximum(x, 0)


class Tanh(Module):
    def forward(self, x):
        return np.tanh(x)


class GELU(Module):
    """GELU in its tanh approximation (PyTorch's `approximate="tanh"`, GPT-2's)."""

    def forward(self, x):
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)))


__all__ = ["Linear", "Conv2d", "LayerNorm", "Embedding", "ReLU", "Tanh", "GELU"]
