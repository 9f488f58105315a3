"""The benchmark workloads: plain NumPy functions (what a jitc user writes)
and the inputs to time them on.

Each workload's `function` is the NumPy source every peer runs: NumPy
eagerly, `jitc.script`, `numba.njit` and `jax.jit` (JAX runs the same code
with `np` bound to `jax.numpy`). PyTorch cannot run NumPy calls on tensors,
so each workload also names a PyTorch transcription (`torch_function`),
kept as close to the NumPy text as PyTorch allows.

`make_inputs(quick)` returns the arguments: full sizes for timing, tiny
ones (`quick=True`) for the smoke test. Inputs are float32 unless the
workload says otherwise, scaled so that activations stay of order one.
"""
from __future__ import annotations

import functools
import importlib.util
import pathlib
import sys
from dataclasses import dataclass
from typing import Callable

import numpy as np

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    function: Callable
    torch_function: Callable | None  # None: no PyTorch transcription
    make_inputs: Callable[[bool], tuple]
    rtol: float = 1e-4   # np.allclose tolerances for a peer's result against NumPy's
    atol: float = 1e-5
    module: bool = False  # `function` is a jitc.nn.Module: numba and JAX cannot take it


def _random(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _normal(rng, shape, scale: float = 1.0, dtype=np.float32) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(dtype)


# -- gelu(x * a + b) -------------------------------------------------------------------------
def gelu_affine(x, a, b):
    y = x * a + b
    return 0.5 * y * (1.0 + np.tanh(0.7978845608028654 * (y + 0.044715 * y * y * y)))


def torch_gelu_affine(x, a, b):
    import torch
    y = x * a + b
    return 0.5 * y * (1.0 + torch.tanh(0.7978845608028654 * (y + 0.044715 * y * y * y)))


def gelu_inputs(quick: bool) -> tuple:
    rows, columns = (8, 16) if quick else (4096, 1024)  # 4M float32 elements
    rng = _random(1)
    return (_normal(rng, (rows, columns)), _normal(rng, (columns,), 0.5), _normal(rng, (columns,), 0.1))


# -- an RNN over time steps ------------------------------------------------------------------
def rnn(x, h, wx, wh, b):
    for t in range(x.shape[0]):
        h = np.tanh(x[t] @ wx + h @ wh + b)
    return h


def torch_rnn(x, h, wx, wh, b):
    import torch
    for t in range(x.shape[0]):
        h = torch.tanh(x[t] @ wx + h @ wh + b)
    return h


def rnn_inputs(quick: bool) -> tuple:
    steps, batch, width = (4, 2, 8) if quick else (64, 8, 64)
    rng = _random(2)
    return (_normal(rng, (steps, batch, width)), np.zeros((batch, width), np.float32),
            _normal(rng, (width, width), width ** -0.5), _normal(rng, (width, width), width ** -0.5),
            _normal(rng, (width,), 0.1))


# -- a 3-layer MLP ------------------------------------------------------------------------------
def mlp(x, w1, b1, w2, b2, w3, b3):
    h = np.maximum(x @ w1 + b1, 0.0)
    h = np.maximum(h @ w2 + b2, 0.0)
    return h @ w3 + b3


def torch_mlp(x, w1, b1, w2, b2, w3, b3):
    import torch
    h = torch.clamp_min(x @ w1 + b1, 0.0)
    h = torch.clamp_min(h @ w2 + b2, 0.0)
    return h @ w3 + b3


def _mlp_inputs(batch: int, width: int) -> tuple:
    rng = _random(3)
    layers = []
    for _ in range(3):
        layers += [_normal(rng, (width, width), (2.0 / width) ** 0.5), _normal(rng, (width,), 0.1)]
    return (_normal(rng, (batch, width)), *layers)


def mlp_batch1_inputs(quick: bool) -> tuple:
    return _mlp_inputs(1, 8 if quick else 256)


def mlp_batch256_inputs(quick: bool) -> tuple:
    return _mlp_inputs(4, 16) if quick else _mlp_inputs(256, 1024)


# -- layer norm then softmax over the last axis ------------------------------------------------
def layernorm_softmax(x, gamma, beta):
    mean = np.mean(x, axis=-1, keepdims=True)
    centered = x - mean
    variance = np.mean(centered * centered, axis=-1, keepdims=True)
    y = centered / np.sqrt(variance + 1e-5) * gamma + beta
    e = np.exp(y - np.max(y, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def torch_layernorm_softmax(x, gamma, beta):
    import torch
    mean = torch.mean(x, dim=-1, keepdim=True)
    centered = x - mean
    variance = torch.mean(centered * centered, dim=-1, keepdim=True)
    y = centered / torch.sqrt(variance + 1e-5) * gamma + beta
    e = torch.exp(y - torch.amax(y, dim=-1, keepdim=True))
    return e / torch.sum(e, dim=-1, keepdim=True)


def layernorm_softmax_inputs(quick: bool) -> tuple:
    rows, columns = (4, 16) if quick else (4096, 1024)
    rng = _random(4)
    return (_normal(rng, (rows, columns)), 1.0 + _normal(rng, (columns,), 0.1), _normal(rng, (columns,), 0.1))


# -- call overhead: tiny arrays, so the time is the cost of getting in and out ------------------
def small_arithmetic(a, b, c, d):
    return a * b + c - d


def torch_small_arithmetic(a, b, c, d):
    return a * b + c - d


def small_inputs(quick: bool) -> tuple:
    rng = _random(5)
    return tuple(rng.standard_normal(4) for _ in range(4))  # float64, as np.array([...]) gives


# -- causal multi-head attention, T=128 C=256 H=4 ---------------------------------------------
HEADS = 4


def causal_attention(q, k, v):
    steps, width = q.shape
    size = width // HEADS
    q = q.reshape(steps, HEADS, size).transpose(1, 0, 2)
    k = k.reshape(steps, HEADS, size).transpose(1, 0, 2)
    v = v.reshape(steps, HEADS, size).transpose(1, 0, 2)
    scores = q @ k.transpose(0, 2, 1) * size ** -0.5
    scores = np.where(np.tri(steps, dtype=bool), scores, -np.inf)
    e = np.exp(scores - np.max(scores, axis=-1, keepdims=True))
    weights = e / np.sum(e, axis=-1, keepdims=True)
    return (weights @ v).transpose(1, 0, 2).reshape(steps, width)


def torch_causal_attention(q, k, v):
    import torch
    steps, width = q.shape
    size = width // HEADS
    q, k, v = (t.reshape(steps, HEADS, size).transpose(0, 1) for t in (q, k, v))
    scores = q @ k.transpose(1, 2) * size ** -0.5
    scores = torch.where(torch.ones(steps, steps, dtype=torch.bool).tril(), scores, -torch.inf)
    return torch.softmax(scores, dim=-1).matmul(v).transpose(0, 1).reshape(steps, width)


def attention_inputs(quick: bool) -> tuple:
    steps, width = (8, 16) if quick else (128, 256)
    rng = _random(6)
    return tuple(_normal(rng, (steps, width)) for _ in range(3))


# -- a small CNN: two jitc.nn.Conv2d layers, ReLU, global average pool, a linear head ---------
@functools.cache
def small_cnn():
    import jitc.nn as nn

    class SmallCNN(nn.Module):
        def __init__(self):
            self.conv1 = nn.Conv2d(3, 16, 3, padding=1, rng=7)
            self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1, rng=8)
            self.head = nn.Linear(32, 10, rng=9)

        def forward(self, x):
            h = np.maximum(self.conv1(x), 0.0)
            h = np.maximum(self.conv2(h), 0.0)
            return self.head(np.mean(h, axis=(2, 3)))
    return SmallCNN()


def torch_cnn(x):
    import torch
    import torch.nn.functional as F
    model = small_cnn()
    h = torch.relu(F.conv2d(x, torch.from_numpy(model.conv1.weight), torch.from_numpy(model.conv1.bias), padding=1))
    h = torch.relu(F.conv2d(h, torch.from_numpy(model.conv2.weight), torch.from_numpy(model.conv2.bias),
                            stride=2, padding=1))
    return h.mean(dim=(2, 3)) @ torch.from_numpy(model.head.weight).T + torch.from_numpy(model.head.bias)


def cnn_inputs(quick: bool) -> tuple:
    batch, size = (2, 8) if quick else (8, 32)
    return (_normal(_random(10), (batch, 3, size, size)),)


# -- the GPT-2 example (examples/gpt2.py) ----------------------------------------------------
def gpt2_example():
    """examples/gpt2.py as a module (it imports example_checks from its folder)."""
    name = "jitc_example_gpt2"
    if name not in sys.modules:
        sys.path.insert(0, str(EXAMPLES))
        try:
            spec = importlib.util.spec_from_file_location(name, EXAMPLES / "gpt2.py")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        finally:
            sys.path.remove(str(EXAMPLES))
    return sys.modules[name]


@functools.cache
def gpt2_model():
    return gpt2_example().GPT2()


def gpt2_inputs(quick: bool) -> tuple:
    return (np.random.default_rng(1).integers(0, 256, size=4 if quick else 16),)


WORKLOADS = (
    Workload("gelu_affine", "gelu(x*a+b), tanh approximation, 4096x1024 float32",
             gelu_affine, torch_gelu_affine, gelu_inputs),
    Workload("rnn", "h = tanh(x[t] @ Wx + h @ Wh + b) for t in range(64), B=8, D=64",
             rnn, torch_rnn, rnn_inputs, rtol=1e-3, atol=1e-4),
    Workload("mlp_batch1", "3-layer ReLU MLP, batch 1, width 256",
             mlp, torch_mlp, mlp_batch1_inputs, rtol=1e-3, atol=1e-4),
    Workload("mlp_batch256", "3-layer ReLU MLP, batch 256, width 1024",
             mlp, torch_mlp, mlp_batch256_inputs, rtol=1e-3, atol=1e-3),
    Workload("layernorm_softmax", "layer norm then softmax over rows, 4096x1024 float32",
             layernorm_softmax, torch_layernorm_softmax, layernorm_softmax_inputs, rtol=1e-4, atol=1e-6),
    Workload("call_overhead", "a*b+c-d on 4-element float64 arrays",
             small_arithmetic, torch_small_arithmetic, small_inputs, rtol=1e-12, atol=1e-12),
    Workload("attention", "causal self-attention over q, k, v, T=128 C=256 H=4 float32",
             causal_attention, torch_causal_attention, attention_inputs, rtol=1e-4, atol=1e-5),
    Workload("cnn", "jitc.nn.Conv2d 3->16->32 (3x3, ReLU), mean pool, linear; 8x3x32x32 float32",
             small_cnn(), torch_cnn, cnn_inputs, rtol=1e-4, atol=1e-5, module=True),
    Workload("gpt2", "examples/gpt2.py: 2 layers, 64 wide, 4 heads, 16 tokens",
             gpt2_model(), None, gpt2_inputs, rtol=1e-4, atol=1e-4, module=True),
)


def get_workloads(filter_text: str | None = None) -> list[Workload]:
    """The workloads whose name contains `filter_text` (all when None)."""
    return [w for w in WORKLOADS if not filter_text or filter_text in w.name]
